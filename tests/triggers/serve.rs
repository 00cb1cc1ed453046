//! `flowpilot-cli serve` as a child process: SIGTERM with a run in progress,
//! one process per data folder, `triggers list`, and kill -9 at the two
//! points of a check that matter, proving no new item is lost or run twice.
//!
//! The kill -9 test stops the child exactly where it must: started with
//! `FLOWPILOT_TEST_PAUSE_AT=after_fetch` (or `after_commit`), the child says
//! "paused at …" on stderr and waits there for good; the test then sends it a
//! real SIGKILL. The child's lines are read as they come: every wait here is
//! on a line, an exit or an HTTP answer, never on a timer.

use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::store::{Page, RunFilter, RunRow};
use flowpilot_engine::RunStatus;
use flowpilot_tests::ItemsApi;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const LIMIT: Duration = Duration::from_secs(60);

/// A `flowpilot-cli serve` child with its stderr read line by line.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    count: watch::Receiver<usize>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    fn start(data: &Path, extra_env: &[(&str, &str)], args: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"));
        command
            .args(["serve", "--port", "0"])
            .args(args)
            .env("FLOWPILOT_DATA_DIR", data)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start flowpilot-cli serve");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, count) = watch::channel(0);
        let stderr = child.stderr.take().expect("test setup");
        let seen = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut seen = seen.lock().expect("test setup");
                seen.push(line);
                tx.send_replace(seen.len());
            }
        });
        Serve {
            child,
            lines,
            count,
            reader: Some(reader),
        }
    }

    fn log(&self) -> String {
        self.lines.lock().expect("test setup").join("\n")
    }

    /// Wait for a line holding `text`; that line.
    async fn line(&mut self, text: &str) -> String {
        let found = tokio::time::timeout(LIMIT, async {
            loop {
                if let Some(l) = self.lines.lock().expect("test setup").iter().find(|l| l.contains(text)) {
                    return Some(l.clone());
                }
                if self.count.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await;
        match found {
            Ok(Some(l)) => l,
            _ => panic!("serve never said `{text}`; its log:\n{}", self.log()),
        }
    }

    /// How many lines hold `text`, once at least `n` do.
    async fn lines_with(&mut self, text: &str, n: usize) {
        let done = tokio::time::timeout(LIMIT, async {
            loop {
                if self
                    .lines
                    .lock()
                    .expect("test setup")
                    .iter()
                    .filter(|l| l.contains(text))
                    .count()
                    >= n
                {
                    return true;
                }
                if self.count.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await;
        assert_eq!(
            done,
            Ok(true),
            "serve never said `{text}` {n} times; its log:\n{}",
            self.log()
        );
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("test setup");
    }

    async fn exit(mut self) -> (ExitStatus, String) {
        let lines = self.lines.clone();
        let status = tokio::task::spawn_blocking(move || {
            let status = self.child.wait();
            // Its stderr is closed now: every line is read once the reader ends.
            if let Some(reader) = self.reader.take() {
                let _ = reader.join();
            }
            (status, self)
        });
        let (status, me) = tokio::time::timeout(LIMIT, status)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "serve did not exit; its log:\n{}",
                    lines.lock().expect("test setup").join("\n")
                )
            })
            .expect("test setup");
        (status.expect("test setup"), me.log())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The data folder as this test process sees it (a second store on the same file).
fn open(data: &Path) -> Flowpilot {
    Flowpilot::open(Options {
        data_dir: Some(data.to_path_buf()),
        keychain: Some(Keychain::with_store(
            keyring_core::mock::Store::new().expect("test setup"),
        )),
        clock: None,
    })
    .expect("test setup")
}

fn runs(app: &Flowpilot, plan_id: &str) -> Vec<RunRow> {
    let filter = RunFilter {
        plan_id: Some(plan_id.to_string()),
        ..RunFilter::default()
    };
    let (mut runs, _) = app
        .list_runs(&filter, Page { limit: 500, offset: 0 })
        .expect("test setup");
    runs.reverse();
    runs
}

fn webhook_plan(name: &str, seconds: u32) -> Value {
    json!({
        "name": name, "status": "active", "trigger": {"type": "webhook"},
        "steps": [
            {"provider": "delay", "action": "wait", "params": {"seconds": seconds}},
            {"provider": "logic", "action": "set", "params": {"value": "done"}}
        ]
    })
}

/// The plan's URL on the running server (its port was picked at start).
fn url(app: &Flowpilot, plan_id: &str) -> String {
    let base = app
        .runtime_value(flowpilot_core::triggers::LIVE_BASE_URL)
        .expect("test setup")
        .expect("serve publishes its webhook address");
    app.webhook_url(plan_id, &base).expect("test setup")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_running_run_finish_then_exits_0() {
    let data = tempfile::tempdir().unwrap();
    let app = open(data.path());
    let plan = app
        .import_plan(
            &webhook_plan("Slow hook", 2).to_string(),
            flowpilot_core::api::Activation::Activate,
        )
        .unwrap();
    let mut serve = Serve::start(data.path(), &[], &[]);
    serve.line("serving:").await;
    let answer = reqwest::Client::new()
        .post(url(&app, &plan.id))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    serve.line("run of `Slow hook` started").await;
    serve.signal(Signal::SIGTERM);
    let (status, log) = serve.exit().await;
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        log.contains("SIGTERM: no new events are taken; waiting up to 30 s for 1 run(s)"),
        "{log}"
    );
    let done = runs(&app, &plan.id);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].status, RunStatus::Success, "{:?}", done[0].error);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_longer_than_the_grace_is_cancelled_and_recorded_cancelled() {
    let data = tempfile::tempdir().unwrap();
    let app = open(data.path());
    let plan = app
        .import_plan(
            &webhook_plan("Endless hook", 600).to_string(),
            flowpilot_core::api::Activation::Activate,
        )
        .unwrap();
    let mut serve = Serve::start(data.path(), &[], &["--grace-s", "1"]);
    serve.line("serving:").await;
    reqwest::Client::new()
        .post(url(&app, &plan.id))
        .body("{}")
        .send()
        .await
        .unwrap();
    serve.line("run of `Endless hook` started").await;
    serve.signal(Signal::SIGINT);
    let (status, log) = serve.exit().await;
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("cancelling 1 run(s) still going after 1 s"), "{log}");
    let done = runs(&app, &plan.id);
    assert_eq!(done[0].status, RunStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_one_process_runs_a_data_folders_triggers_and_triggers_list_names_it() {
    let data = tempfile::tempdir().unwrap();
    let app = open(data.path());
    let plan = app
        .import_plan(
            &webhook_plan("Listed hook", 0).to_string(),
            flowpilot_core::api::Activation::Activate,
        )
        .unwrap();
    let mut first = Serve::start(data.path(), &[], &[]);
    first.line("serving:").await;
    let pid = first.child.id();

    let second = Serve::start(data.path(), &[], &[]);
    let (status, log) = second.exit().await;
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!("already run in flowpilot-cli serve (pid {pid})")),
        "{log}"
    );

    let list = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["triggers", "list"])
        .env("FLOWPILOT_DATA_DIR", data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains(&format!("Triggers run in flowpilot-cli serve (pid {pid})")),
        "{text}"
    );
    assert!(text.contains(&format!("URL: {}", url(&app, &plan.id))), "{text}");
    assert!(text.contains("When this URL is called"), "{text}");
    let json_list = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["triggers", "list", "--json"])
        .env("FLOWPILOT_DATA_DIR", data.path())
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&json_list.stdout).unwrap();
    assert_eq!(listed[0]["health"], "watching");
    assert_eq!(listed[0]["kind"], "webhook");
    first.signal(Signal::SIGTERM);
    assert!(first.exit().await.0.success());
}

fn poll_plan(api: &ItemsApi) -> Value {
    json!({
        "name": "Crash-proof", "status": "active",
        "trigger": {"type": "poll", "url": api.items_url(), "items": "$.items", "interval_s": 3600},
        "steps": [{"provider": "logic", "action": "set", "params": {"value": "${trigger.item.id}"}}]
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_between_fetching_and_creating_runs_loses_and_repeats_nothing() {
    let api = ItemsApi::start().await;
    api.set_items((1..=3).map(|i| json!({"id": i})).collect());
    let data = tempfile::tempdir().unwrap();
    let app = open(data.path());
    let plan = app
        .import_plan(&poll_plan(&api).to_string(), flowpilot_core::api::Activation::Activate)
        .unwrap();

    // The first start records the baseline (items 1-3 start nothing).
    let mut serve = Serve::start(data.path(), &[], &[]);
    serve.line("trigger baseline recorded").await;
    serve.signal(Signal::SIGTERM);
    assert!(serve.exit().await.0.success());
    api.push(json!({"id": 4}));
    api.push(json!({"id": 5}));

    // Killed after fetching 4 and 5, before anything is written.
    let mut serve = Serve::start(data.path(), &[("FLOWPILOT_TEST_PAUSE_AT", "after_fetch")], &[]);
    serve.line("paused at after_fetch").await;
    serve.signal(Signal::SIGKILL);
    let (status, _) = serve.exit().await;
    assert_eq!(status.code(), None, "killed by a signal");
    assert!(runs(&app, &plan.id).is_empty());

    // Killed after the check is committed (cursor moved, events queued), before any run starts.
    let mut serve = Serve::start(data.path(), &[("FLOWPILOT_TEST_PAUSE_AT", "after_commit")], &[]);
    serve.line("paused at after_commit").await;
    serve.signal(Signal::SIGKILL);
    serve.exit().await;
    assert!(runs(&app, &plan.id).is_empty(), "nothing ran yet");

    // A normal start: the queued events run, the items are not found new again.
    let mut serve = Serve::start(data.path(), &[], &[]);
    serve.lines_with("run of `Crash-proof` finished", 2).await;
    serve.signal(Signal::SIGTERM);
    let (status, log) = serve.exit().await;
    assert!(status.success(), "{log}");
    assert_eq!(log.matches("run of `Crash-proof` finished").count(), 2, "{log}");

    let done = runs(&app, &plan.id);
    let items: Vec<Value> = done
        .iter()
        .map(|r| app.run_detail(&r.id).unwrap().trigger.unwrap()["item"]["id"].clone())
        .collect();
    assert_eq!(items, [json!(4), json!(5)], "each new item exactly once, in order");
    assert!(done.iter().all(|r| r.status == RunStatus::Success));
}
