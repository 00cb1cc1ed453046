//! A trigger runner in this process on a fresh data folder, with the keychain
//! replaced by keyring-core's in-memory store, reporting to a [`Recorder`]
//! that tests wait on.

use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::notices::{Notice, NoticeKind};
use flowpilot_core::scheduler::{Scheduler, SchedulerSink};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::store::{Page, RunFilter, RunRow};
use flowpilot_core::triggers::{CheckReport, TriggerRunner, TriggerStatus, WebhookServerStatus};
use flowpilot_engine::Sensitive;
use flowpilot_engine::run::{RunEvent, RunOutcome};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The longest a test waits for something the runner should do.
pub const LIMIT: Duration = Duration::from_secs(30);

/// Everything the runner reported, and a signal on each report.
#[derive(Default)]
pub struct Recorder {
    finished: Mutex<Vec<RunOutcome>>,
    notices: Mutex<Vec<Notice>>,
    statuses: Mutex<Vec<TriggerStatus>>,
    changed: watch::Sender<u64>,
}

impl SchedulerSink for Recorder {
    fn run_event(&self, event: &RunEvent) {
        match event {
            RunEvent::RunFinished { outcome, .. } => {
                self.finished.lock().expect("test setup").push(outcome.clone());
                self.changed.send_modify(|n| *n += 1);
            }
            RunEvent::RunStarted { .. } => self.changed.send_modify(|n| *n += 1),
            _ => {}
        }
    }

    fn notice(&self, notice: Notice) {
        self.notices.lock().expect("test setup").push(notice);
        self.changed.send_modify(|n| *n += 1);
    }

    fn schedule_changed(&self, _: &str) {}

    fn trigger_changed(&self, status: &TriggerStatus) {
        self.statuses.lock().expect("test setup").push(status.clone());
        self.changed.send_modify(|n| *n += 1);
    }

    fn webhook_server_changed(&self, _: &WebhookServerStatus) {}
}

impl Recorder {
    pub fn finished(&self) -> Vec<RunOutcome> {
        self.finished.lock().expect("test setup").clone()
    }

    pub fn notices(&self) -> Vec<Notice> {
        self.notices.lock().expect("test setup").clone()
    }

    pub fn notices_of(&self, kind: NoticeKind) -> Vec<Notice> {
        self.notices().into_iter().filter(|n| n.kind == kind).collect()
    }

    /// Wait until `done` holds, failing the test after [`LIMIT`].
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Recorder) -> bool) {
        let mut changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed.changed()).await.is_err() {
                panic!(
                    "waited {} s for {what}; runs finished: {:?}; notices: {:?}",
                    LIMIT.as_secs(),
                    self.finished()
                        .iter()
                        .map(|o| (&o.plan_name, o.status))
                        .collect::<Vec<_>>(),
                    self.notices().iter().map(|n| &n.title).collect::<Vec<_>>()
                );
            }
        }
    }

    /// Wait until `n` runs have finished in all; them, in the order they finished.
    pub async fn wait_for_runs(&self, n: usize) -> Vec<RunOutcome> {
        self.wait_until(&format!("{n} finished runs"), |r| r.finished().len() >= n)
            .await;
        self.finished()
    }
}

pub struct Harness {
    /// The data folder (kept for as long as the harness).
    _dir: tempfile::TempDir,
    pub app: Arc<Flowpilot>,
    pub runner: Arc<TriggerRunner>,
    pub rec: Arc<Recorder>,
}

impl Harness {
    /// A runner with its webhook server on a free port.
    pub async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("test setup");
        let app = Arc::new(
            Flowpilot::open(Options {
                data_dir: Some(dir.path().to_path_buf()),
                keychain: Some(Keychain::with_store(
                    keyring_core::mock::Store::new().expect("test setup"),
                )),
                clock: None,
            })
            .expect("test setup"),
        );
        let rec = Arc::new(Recorder::default());
        let sink: Arc<dyn SchedulerSink> = rec.clone();
        let scheduler = Scheduler::new(app.clone(), sink);
        let runner = TriggerRunner::new(app.clone(), scheduler, "the test's runner", Some(0));
        let server = runner.start().await;
        assert!(server.listening, "the webhook server did not start: {:?}", server.error);
        Harness {
            _dir: dir,
            app,
            runner,
            rec,
        }
    }

    pub fn credential(&self, provider: &str, name: &str, value: &str) {
        self.app
            .set_credential(provider, name, Sensitive::new(value.to_string()))
            .expect("test setup");
    }

    /// Store a plan (its status decides whether its trigger is watched); its id.
    pub fn add_plan(&self, plan: &Value) -> String {
        let activation = if plan["status"] == "active" {
            flowpilot_core::api::Activation::Activate
        } else {
            flowpilot_core::api::Activation::Review
        };
        let row = self.app.import_plan(&plan.to_string(), activation).expect("test setup");
        self.runner.wake();
        row.id
    }

    pub async fn check(&self, plan_id: &str) -> CheckReport {
        self.runner.check_now(plan_id).await.expect("test setup")
    }

    pub fn status(&self, plan_id: &str) -> TriggerStatus {
        self.runner.status(plan_id).expect("test setup")
    }

    /// The plan's runs, oldest first.
    pub fn runs_of(&self, plan_id: &str) -> Vec<RunRow> {
        let filter = RunFilter {
            plan_id: Some(plan_id.to_string()),
            ..RunFilter::default()
        };
        let (mut runs, _) = self
            .app
            .list_runs(&filter, Page { limit: 500, offset: 0 })
            .expect("test setup");
        runs.reverse();
        runs
    }

    /// The last outputs of the plan's finished runs, in the order the runs started.
    pub fn started_outputs(&self, plan_id: &str) -> Vec<Value> {
        let finished = self.rec.finished();
        self.runs_of(plan_id)
            .iter()
            .filter_map(|r| finished.iter().find(|o| o.run_id == r.id))
            .map(Harness::output)
            .collect()
    }

    /// What a finished run's last step put out.
    pub fn output(outcome: &RunOutcome) -> Value {
        outcome.steps.last().map(|s| s.output.clone()).unwrap_or(Value::Null)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.runner.stop_accepting();
    }
}

/// A plan started by `trigger` whose one step puts out `output` (references resolved).
pub fn plan(name: &str, trigger: Value, output: Value) -> Value {
    serde_json::json!({
        "name": name,
        "status": "active",
        "trigger": trigger,
        "steps": [{"provider": "logic", "action": "set", "params": {"value": output}}]
    })
}
