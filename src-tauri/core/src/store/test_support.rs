//! Shared helpers for the store's tests.

use super::{NewRun, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};
use flowpilot_engine::plan::{PlanFile, PlanStatus, StepSpec, Trigger};
use flowpilot_engine::{RunOutcome, RunStatus, StepRecord, StepStatus};
use serde_json::{Map, Value, json};

/// A store in a fresh temporary directory (keep the dir alive as long as the store).
pub fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("flowpilot.db")).unwrap();
    (dir, store)
}

/// A fixed instant plus `secs` seconds.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::seconds(secs)
}

pub fn plan_file(name: &str) -> PlanFile {
    PlanFile {
        name: name.to_string(),
        original_prompt: Some(format!("please do {name}")),
        description: Some(format!("{name}, described")),
        tags: vec!["test".into()],
        steps: vec![StepSpec {
            id: Some("fetch".into()),
            ..StepSpec::new("http", "get", json!({"url": "https://example.invalid/"}))
        }],
        trigger: Trigger::Manual,
        status: PlanStatus::Draft,
    }
}

pub fn new_run(id: &str, plan_id: Option<&str>, started_at: DateTime<Utc>) -> NewRun {
    NewRun {
        id: id.to_string(),
        plan_id: plan_id.map(str::to_string),
        plan_name: "Test plan".into(),
        plan_version: None,
        trigger_kind: "manual".into(),
        scheduled_for: None,
        replay_of: None,
        started_at,
    }
}

pub fn step(
    run_id: &str,
    n: usize,
    provider: &str,
    status: StepStatus,
    latency_ms: u64,
    at: DateTime<Utc>,
) -> StepRecord {
    StepRecord {
        run_id: run_id.to_string(),
        step_number: n,
        step_id: Some(format!("s{n}")),
        provider: provider.to_string(),
        action: "act".into(),
        status,
        attempt: 1,
        message: format!("step {n} {}", status.as_str()),
        latency_ms,
        output_preview: "ok".into(),
        output: json!({"n": n}),
        metadata: Map::from_iter([("k".to_string(), Value::from("v"))]),
        error: (status != StepStatus::Success).then_some(flowpilot_engine::ErrorCode::Error),
        items: None,
        input: Value::Null,
        timestamp: at,
    }
}

pub fn outcome(run_id: &str, status: RunStatus, started_at: DateTime<Utc>, finished_at: DateTime<Utc>) -> RunOutcome {
    RunOutcome {
        run_id: run_id.to_string(),
        plan_name: "Test plan".into(),
        status,
        started_at,
        finished_at,
        error: (status != RunStatus::Success).then(|| format!("it went {}", status.as_str())),
        steps: Vec::new(),
    }
}
