//! The app binary itself. Without a display it only proves it links and runs;
//! under a display (e.g. `xvfb-run`) it starts hidden in the tray, opens its
//! database in `FLOWPILOT_DATA_DIR`, starts the scheduler and writes its log.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const APP: &str = env!("CARGO_BIN_EXE_flowpilot");

#[test]
fn prints_its_version() {
    let out = Command::new(APP).arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("flowpilot {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Kills the app when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log_text(logs: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(logs) else {
        return String::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

#[test]
fn starts_hidden_with_the_scheduler_running() {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("skipped: no display (run the tests under xvfb-run to start the app)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let mut app = Running(
        Command::new(APP)
            .arg("--hidden")
            .env("FLOWPILOT_DATA_DIR", data.path())
            // Logs (and anything else the app keeps per user) go to a throwaway home.
            .env("XDG_DATA_HOME", xdg.path().join("data"))
            .env("XDG_CONFIG_HOME", xdg.path().join("config"))
            .env("XDG_CACHE_HOME", xdg.path().join("cache"))
            .env_remove("FLOWPILOT_LOG")
            .spawn()
            .unwrap(),
    );
    let logs = xdg.path().join("data/dev.flowpilot.app/logs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log_text(&logs).contains("scheduler started") {
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("the app exited ({status}); log:\n{}", log_text(&logs));
        }
        assert!(
            Instant::now() < deadline,
            "no 'scheduler started' in the log within 60 s:\n{}",
            log_text(&logs)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(data.path().join("flowpilot.db").is_file());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the app should keep running in the tray"
    );
}

/// A display to start the app on, or `None` after a skip line; CI (which runs
/// the tests under xvfb-run and sets FLOWPILOT_REQUIRE_SERVERS) must have one.
fn display_or_skip(what: &str) -> Option<()> {
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        return Some(());
    }
    assert!(
        std::env::var_os("FLOWPILOT_REQUIRE_SERVERS").is_none(),
        "no display for {what}, and FLOWPILOT_REQUIRE_SERVERS is set: run under xvfb-run"
    );
    eprintln!("skipped {what}: no display (run the tests under xvfb-run to start the app)");
    None
}

/// The status of every run in the database, read the way another program would.
fn run_statuses(db: &Path) -> Vec<String> {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT status FROM runs ORDER BY started_at") else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get(0))
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default()
}

#[test]
fn sigterm_quits_and_records_the_run_in_progress_as_cancelled() {
    if display_or_skip("the SIGTERM case").is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    {
        // An active plan that fires every second and then waits ten minutes.
        let flow = flowpilot_core::api::Flowpilot::open(flowpilot_core::api::Options {
            data_dir: Some(data.path().to_path_buf()),
            keychain: Some(flowpilot_core::secrets::Keychain::unavailable("not needed")),
            clock: None,
        })
        .unwrap();
        let plan = r#"{"name": "Slow", "status": "active",
            "trigger": {"type": "cron", "cron_expression": "* * * * * *", "timezone": "UTC"},
            "steps": [{"provider": "delay", "action": "wait", "params": {"seconds": 600}}]}"#;
        flow.import_plan(plan, flowpilot_core::api::Activation::Activate)
            .unwrap();
    }
    let mut app = Running(
        Command::new(APP)
            .arg("--hidden")
            .env("FLOWPILOT_DATA_DIR", data.path())
            .env("XDG_DATA_HOME", xdg.path().join("data"))
            .env("XDG_CONFIG_HOME", xdg.path().join("config"))
            .env("XDG_CACHE_HOME", xdg.path().join("cache"))
            .spawn()
            .unwrap(),
    );
    let db = data.path().join("flowpilot.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Polling another process's database: there is no event to wait on.
    while !run_statuses(&db).iter().any(|s| s == "running") {
        assert!(app.0.try_wait().unwrap().is_none(), "the app exited early");
        assert!(Instant::now() < deadline, "no scheduled run started within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = app.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the app did not quit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let statuses = run_statuses(&db);
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| s == "cancelled"),
        "every run in progress is recorded cancelled: {statuses:?}"
    );
}
