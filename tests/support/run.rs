//! Running plans through the real executor and looking at what it produced.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::run::{MAX_OUTPUT_BYTES, RunRequest};
use flowpilot_engine::{Executor, Plan, Registry, RunEvent, RunOutcome, StepRecord, StepStatus, SystemClock};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Parse and validate plan JSON against the built-in registry; a plan that
/// does not validate fails the test with every issue listed.
pub fn plan(plan: &Value) -> Plan {
    Plan::from_json(&plan.to_string(), &Registry::builtin()).unwrap_or_else(|e| panic!("{e}\n{plan:#}"))
}

/// The problems validation finds in plan JSON, as `"path: message"` lines.
pub fn plan_issues(plan: &Value) -> Vec<String> {
    match Plan::from_json(&plan.to_string(), &Registry::builtin()) {
        Ok(_) => Vec::new(),
        Err(e) => e.issues().iter().map(ToString::to_string).collect(),
    }
}

/// An executor with the built-in providers, the system clock and these credentials.
pub fn executor(credentials: StaticCredentials) -> Executor {
    Executor::new(Registry::builtin(), Arc::new(SystemClock), Arc::new(credentials))
}

/// A finished run and every event it sent.
#[derive(Debug)]
pub struct Run {
    pub outcome: RunOutcome,
    pub events: Vec<RunEvent>,
}

/// Run `plan` to the end.
pub async fn run(executor: &Executor, plan: Plan) -> Run {
    run_with_cancel(executor, plan, CancellationToken::new()).await
}

/// Run `plan` until it ends or `cancel` fires.
pub async fn run_with_cancel(executor: &Executor, plan: Plan, cancel: CancellationToken) -> Run {
    let events = Mutex::new(Vec::new());
    let observer = |e: &RunEvent| events.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone());
    let request = RunRequest::new("run-test", plan, json!({"type": "manual"}));
    let outcome = executor.run(request, &observer, cancel).await;
    let events = events.into_inner().unwrap_or_else(|p| p.into_inner());
    Run { outcome, events }
}

impl Run {
    /// The final record of step `index`.
    pub fn step(&self, index: usize) -> &StepRecord {
        self.outcome
            .steps
            .get(index)
            .unwrap_or_else(|| panic!("no step {index} in {:#?}", self.outcome))
    }

    /// The records of the attempts that were retried, in order.
    pub fn retries(&self) -> Vec<(&StepRecord, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::StepRetrying { record, retry_in_ms } => Some((record, *retry_in_ms)),
                _ => None,
            })
            .collect()
    }

    /// Fails the test unless step `index` ended with `status`; shows the record if not.
    pub fn assert_step(&self, index: usize, status: StepStatus) -> &StepRecord {
        let record = self.step(index);
        assert_eq!(record.status, status, "step {index}: {record:#?}");
        record
    }

    /// Fails the test if `secret` appears anywhere in the outcome or the events.
    pub fn assert_never_shows(&self, secret: &str) {
        let outcome = serde_json::to_string(&self.outcome).expect("serialise the outcome");
        assert!(
            !outcome.contains(secret),
            "the secret leaked into the outcome: {outcome}"
        );
        for event in &self.events {
            let text = serde_json::to_string(event).expect("serialise an event");
            assert!(!text.contains(secret), "the secret leaked into an event: {text}");
        }
    }
}

/// Whether an output string is the start of a larger body with the engine's marker.
pub fn is_truncated_output(output: &Value) -> bool {
    output
        .as_str()
        .is_some_and(|s| s.len() <= MAX_OUTPUT_BYTES && s.contains("…[truncated:") && s.ends_with(']'))
}
