//! A database under stress: a write lock another program holds (longer than
//! the busy timeout, and longer than every wait), and a full disk. A run is
//! `success` only if every one of its rows is stored; otherwise it fails with a
//! `storage` error (or, if not even that can be written, is marked interrupted
//! at the next start), and the process stays up.

use crate::util::{Timed, arg, cli, command, json_out, stderr, write_plan};
use flowpilot_core::api::{Flowpilot, Options, ResolvedPlan, RunSpec};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::store::{LockWait, Page, RunFilter};
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{Plan, Registry, RunStatus};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A plan whose second step waits, so the fault can land while it runs.
fn plan_with_a_pause(steps_after: usize, value: &str) -> Value {
    let mut steps = vec![
        json!({"provider": "logic", "action": "set", "params": {"value": "first"}}),
        json!({"provider": "delay", "action": "wait", "params": {"seconds": 0.2}}),
    ];
    steps.extend((0..steps_after).map(|_| json!({"provider": "logic", "action": "set", "params": {"value": value}})));
    json!({"name": "Under stress", "steps": steps})
}

/// Run `plan` with the real CLI and call `fault` once step 2 has started; the
/// CLI's output when it ends.
fn run_with_fault_at_step_2(data: &Path, plan: &Path, fault: impl FnOnce()) -> std::process::Output {
    let mut child = command(data, &["run", arg(plan), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flowpilot-cli");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut said = String::new();
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        said.push_str(&line);
        said.push('\n');
        if line.contains("[2/") {
            break;
        }
    }
    assert!(said.contains("[2/"), "the run did not reach step 2:\n{said}");
    fault();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut out = child.wait_with_output().expect("wait for flowpilot-cli");
    out.stderr = format!("{said}{}", rest.join("\n")).into_bytes();
    out
}

#[test]
fn a_write_lock_held_past_the_old_busy_timeout_loses_no_row() {
    let _t = Timed::start("held write lock (6 s)");
    let data = tempfile::tempdir().unwrap();
    let plan = write_plan(data.path(), "plan.json", &plan_with_a_pause(3, "x"));
    assert!(cli(data.path(), &["runs", "list"]).status.success());
    let db = data.path().join("flowpilot.db");
    let holder = std::thread::scope(|s| {
        run_with_fault_at_step_2(data.path(), &plan, || {
            // Another program takes the write lock for 6 s (the old busy timeout was 5 s).
            s.spawn(move || {
                let conn = rusqlite::Connection::open(&db).expect("a second connection");
                conn.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
                std::thread::sleep(Duration::from_secs(6));
                conn.execute_batch("COMMIT").expect("release it");
            });
        })
    });
    assert!(holder.status.success(), "{}", stderr(&holder));
    let record = json_out(&holder);
    assert_eq!(record["status"], "success");
    let logs = json_out(&cli(
        data.path(),
        &["logs", record["run_id"].as_str().unwrap(), "--json"],
    ));
    assert_eq!(logs["logs"].as_array().unwrap().len(), 5, "every row stored: {logs:#}");
    assert_eq!(logs["run"]["status"], "success");
    assert_eq!(logs["run"]["in_flight"], Value::Null);
}

fn open(dir: &Path) -> Arc<Flowpilot> {
    Arc::new(
        Flowpilot::open(Options {
            data_dir: Some(dir.to_path_buf()),
            keychain: Some(Keychain::unavailable("not needed")),
            clock: None,
        })
        .expect("open the data folder"),
    )
}

fn target(plan: &Value) -> ResolvedPlan {
    ResolvedPlan {
        plan_id: None,
        version: None,
        plan: Plan::from_json(&plan.to_string(), &Registry::builtin()).expect("a valid plan"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_held_past_every_wait_fails_the_run_as_storage_and_the_process_stays_up() {
    let _t = Timed::start("write lock held past every wait");
    let data = tempfile::tempdir().unwrap();
    let app = open(data.path());
    app.set_lock_wait(LockWait {
        timeout: Duration::from_millis(100),
        attempts: 2,
    })
    .unwrap();
    let plan = plan_with_a_pause(2, "x");
    let db = data.path().join("flowpilot.db");

    // Run A: the lock is held from its first step to its end, then released.
    let a = app.prepare_run(RunSpec::new(target(&plan), "cli")).unwrap();
    let a_id = a.run_id.clone();
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let outcome = app
        .execute(a, Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.clone().unwrap();
    assert!(error.starts_with("storage: the database stayed locked"), "{error}");
    other.execute_batch("ROLLBACK").unwrap();
    // The process is fine: it reads, and records what it could not write before.
    assert_eq!(app.record_unrecorded_runs(), 0);
    let run = app.run_detail(&a_id).unwrap().run;
    assert_eq!(
        (run.status, run.error.as_deref()),
        (RunStatus::Failed, Some(error.as_str()))
    );
    let ok = app
        .run_plan(
            target(&plan),
            "cli",
            Arc::new(NoObserver),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, RunStatus::Success);

    // Run B: the lock outlives the process; the next start marks B interrupted.
    let b = app.prepare_run(RunSpec::new(target(&plan), "cli")).unwrap();
    let b_id = b.run_id.clone();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let outcome = app
        .execute(b, Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    drop(app);
    other.execute_batch("ROLLBACK").unwrap();
    let again = open(data.path());
    let b = again.run_detail(&b_id).unwrap().run;
    assert_eq!(b.status, RunStatus::Interrupted, "{b:#?}");
    let (running, _) = again
        .list_runs(
            &RunFilter {
                status: Some(RunStatus::Running),
                ..RunFilter::default()
            },
            Page::default(),
        )
        .unwrap();
    assert!(running.is_empty());
}

/// Whether this process may mount file systems (root); says why not otherwise.
fn can_mount() -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(m) if m.uid() == 0 => Ok(()),
        Ok(m) => Err(format!("not root (uid {}): a small tmpfs cannot be mounted", m.uid())),
        Err(e) => Err(format!("cannot tell the user: {e}")),
    }
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Result<Self, String> {
        can_mount()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Self(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Fill what is left of it with one file.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.write_all(&[0u8; 1]);
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_fails_the_run_as_storage_never_success() {
    let _t = Timed::start("full disk");
    let disk = match SmallDisk::mount("4m") {
        Ok(disk) => disk,
        Err(why) if std::env::var_os("FLOWPILOT_REQUIRE_SERVERS").is_none() => {
            eprintln!(
                "skipping the full-disk case: {why}; run it as root, or set FLOWPILOT_REQUIRE_SERVERS=1 to fail instead"
            );
            return;
        }
        Err(why) => panic!("the full-disk case cannot run: {why} (FLOWPILOT_REQUIRE_SERVERS is set)"),
    };
    let files = tempfile::tempdir().unwrap();
    // Each later step's output is 300 kB: it needs room the full disk does not have.
    let plan = write_plan(files.path(), "plan.json", &plan_with_a_pause(2, &"x".repeat(300_000)));
    let data = disk.path().join("data");
    assert!(cli(&data, &["runs", "list"]).status.success());

    let mut filler = None;
    let out = run_with_fault_at_step_2(&data, &plan, || filler = Some(disk.fill()));
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("disk is full"), "the full disk is named: {said}");
    assert!(!said.contains("✔ success") && !said.contains("panicked"), "{said}");

    // With space again, the run is failed (as storage) or, if not even its end
    // could be written, interrupted at this next start; never a success.
    std::fs::remove_file(filler.expect("the disk was filled")).unwrap();
    let runs = json_out(&cli(&data, &["runs", "list", "--json"]));
    let run = &runs["runs"][0];
    eprintln!("full disk: the run ended {}: {}", run["status"], run["error"]);
    match run["status"].as_str() {
        Some("failed") => assert!(
            run["error"].as_str().unwrap_or_default().contains("disk is full"),
            "{run:#}"
        ),
        Some("interrupted") => {}
        other => panic!("a run on a full disk ended {other:?}: {run:#}"),
    }
    let logs = json_out(&cli(&data, &["logs", run["id"].as_str().unwrap(), "--json"]));
    assert!(logs["logs"].as_array().unwrap().len() < 4, "{logs:#}");
}

#[test]
fn a_damaged_database_is_reported_as_damaged_with_the_backup_advice() {
    let data = tempfile::tempdir().unwrap();
    let plan = write_plan(data.path(), "plan.json", &plan_with_a_pause(1, "x"));
    for _ in 0..3 {
        assert!(cli(data.path(), &["run", arg(&plan)]).status.success());
    }
    // Every page after the first (the schema) overwritten, as a failing disk
    // might; first every page is put in the file (closing leaves the WAL, whose
    // copies of the pages would be read instead).
    let db = data.path().join("flowpilot.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0x5A;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = cli(data.path(), &["runs", "list"]);
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("is damaged") && said.contains("backup"), "{said}");
    assert!(
        !said.contains("malformed"),
        "said as such, not as SQLite's words: {said}"
    );
    assert_eq!(said.lines().count(), 1, "one clear line: {said}");
}
