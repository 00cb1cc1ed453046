//! Every wait — backoff, a server's Retry-After — ends at the run's deadline
//! and at cancellation: a 429 asking for 100,000 s does not hold a run whose
//! deadline is 3 s.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::run::RunRequest;
use flowpilot_engine::{ErrorCode, RunEvent, RunStatus, StepStatus};
use flowpilot_tests::cli::Cli;
use flowpilot_tests::hostile::Hostile;
use flowpilot_tests::{executor, plan};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Bounds every case: a wait that ignores the deadline fails here, not in CI's timeout.
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_retry_after_longer_than_the_deadline_ends_the_run_at_once() {
    let hostile = Hostile::start().await;
    let plan = plan(&json!({"name": "throttled", "steps": [
        {"provider": "http", "action": "request", "params": {"url": hostile.url("/throttle?retry_after=100000")}, "retry": 5}
    ]}));
    let mut request = RunRequest::new("deadline-run", plan, json!({"type": "manual"}));
    request.deadline = Some(Duration::from_secs(3));
    let events = Mutex::new(Vec::new());
    let observer = |e: &RunEvent| events.lock().unwrap().push(e.clone());
    let started = Instant::now();
    let executor = executor(StaticCredentials::default());
    let outcome = tokio::time::timeout(LIMIT, executor.run(request, &observer, CancellationToken::new()))
        .await
        .expect("the run ends at its deadline, not after the Retry-After");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(outcome.status, RunStatus::Failed);
    let step = &outcome.steps[0];
    assert_eq!(step.status, StepStatus::Error);
    assert_eq!(step.error, Some(ErrorCode::Http(429)));
    assert!(step.message.contains("deadline"), "{}", step.message);
    // No retry was announced that could never happen.
    let announced = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, RunEvent::StepRetrying { .. }))
        .count();
    assert_eq!(announced, 0);
}

#[tokio::test]
async fn backoff_and_attempts_stop_at_the_deadline() {
    let hostile = Hostile::start().await;
    // Retry-After: 1 fits the deadline once or twice, then the deadline comes first.
    let plan = plan(&json!({"name": "throttled", "steps": [
        {"provider": "http", "action": "request", "params": {"url": hostile.url("/throttle?retry_after=1")}, "retry": 20}
    ]}));
    let mut request = RunRequest::new("deadline-run-2", plan, json!({"type": "manual"}));
    request.deadline = Some(Duration::from_millis(2500));
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        LIMIT,
        executor(StaticCredentials::default()).run(
            request,
            &flowpilot_engine::run::NoObserver,
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the run ends at its deadline");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(outcome.steps[0].status, StepStatus::Error);
    assert!((2..=3).contains(&outcome.steps[0].attempt), "{:#?}", outcome.steps[0]);
}

#[tokio::test]
async fn cancelling_ends_a_retry_after_wait() {
    let hostile = Hostile::start().await;
    let plan = plan(&json!({"name": "throttled", "steps": [
        {"provider": "http", "action": "request", "params": {"url": hostile.url("/throttle?retry_after=250")}, "retry": 3}
    ]}));
    let request = RunRequest::new("cancel-run", plan, json!({"type": "manual"}));
    let cancel = CancellationToken::new();
    let cancel_on_wait = {
        let cancel = cancel.clone();
        move |e: &RunEvent| {
            if matches!(e, RunEvent::StepRetrying { .. }) {
                cancel.cancel();
            }
        }
    };
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        LIMIT,
        executor(StaticCredentials::default()).run(request, &cancel_on_wait, cancel.clone()),
    )
    .await
    .expect("cancelling ends the wait");
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_timeout_caps_a_throttled_run() {
    let hostile = Hostile::start().await;
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("plan.json");
    let plan = json!({"name": "throttled", "steps": [
        {"provider": "http", "action": "request", "params": {"url": hostile.url("/throttle?retry_after=100000")}}
    ]});
    std::fs::write(&file, plan.to_string()).unwrap();
    let cli = Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), data.path());
    let started = Instant::now();
    let out = tokio::time::timeout(
        LIMIT,
        tokio::task::spawn_blocking(move || cli.run(&["run", &file.to_string_lossy(), "--timeout", "3"])),
    )
    .await
    .expect("the CLI stops at --timeout")
    .unwrap();
    assert_eq!(out.code, Some(1), "{}", out.all());
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(!out.stderr.contains("retrying in 300000 ms"), "{}", out.stderr);
}
