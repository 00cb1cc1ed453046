//! Nothing sent twice: a request that may have changed something is retried
//! only when the failure proves it was not acted on; otherwise the step ends
//! `unknown`. Every attempt of it carries the same `Idempotency-Key`, and a
//! step may opt in to retrying anyway (`"retry": {"on": "any"}`).

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::{ErrorCode, RunStatus, StepStatus};
use flowpilot_tests::hostile::{DropServer, Hostile};
use flowpilot_tests::{Target, executor, plan, run};
use serde_json::{Value, json};

fn fast_retries() -> Value {
    json!({"max_attempts": 3, "backoff_ms": 10})
}

fn post(url: &str) -> Value {
    json!({"provider": "http", "action": "request", "params": {"method": "POST", "url": url, "body": {"n": 1}}, "retry": fast_retries()})
}

fn hook(url: &str) -> Value {
    json!({"provider": "webhook", "action": "post_request", "params": {"url": url, "payload": {"n": 1}}, "retry": fast_retries()})
}

async fn run_steps(steps: Value) -> flowpilot_tests::Run {
    let plan = plan(&json!({"name": "writes", "steps": steps}));
    run(&executor(StaticCredentials::default()), plan).await
}

#[tokio::test]
async fn a_write_whose_connection_drops_after_sending_is_sent_once_and_ends_unknown() {
    for step in [post as fn(&str) -> Value, hook] {
        let server = DropServer::start().await;
        let run = run_steps(json!([step(&server.url("/orders"))])).await;
        let record = run.assert_step(0, StepStatus::Unknown);
        assert_eq!(record.attempt, 1, "{record:#?}");
        assert!(record.message.contains("may have received"), "{}", record.message);
        assert_eq!(run.outcome.status, RunStatus::Failed);
        assert!(run.retries().is_empty());
        assert_eq!(server.received(), 1, "sent once: {:#?}", server.requests());
    }
}

#[tokio::test]
async fn a_read_whose_connection_drops_is_retried() {
    let server = DropServer::start().await;
    let get = json!({"provider": "http", "action": "request", "params": {"url": server.url("/items")}, "retry": fast_retries()});
    let run = run_steps(json!([get])).await;
    let record = run.assert_step(0, StepStatus::Error);
    assert_eq!(record.attempt, 3);
    assert_eq!(server.received(), 3);
}

#[tokio::test]
async fn a_write_slower_than_its_timeout_is_sent_once() {
    let hostile = Hostile::start().await;
    let mut step = post(&hostile.url("/hold"));
    step["timeout_s"] = json!(0.5);
    let run = run_steps(json!([step])).await;
    let record = run.assert_step(0, StepStatus::Unknown);
    assert_eq!(record.error, Some(ErrorCode::Timeout));
    assert_eq!(hostile.requests_to("/hold").len(), 1);
}

#[tokio::test]
async fn a_write_is_retried_when_the_server_proves_it_did_nothing() {
    let target = Target::start().await;
    let run = run_steps(json!([
        post(&target.url("/flaky/busy?fail=2&status=503&retry_after=0")),
        post(&target.url("/flaky/limited?fail=1&status=429")),
        post(&target.url("/flaky/late?fail=1&status=408")),
        post("http://127.0.0.1:9/refused"),
    ]))
    .await;
    // 503 with Retry-After, 429 and 408 say "not done": tried again.
    assert_eq!(run.step(0).attempt, 3);
    assert_eq!(run.step(0).status, StepStatus::Success);
    assert_eq!(run.step(1).status, StepStatus::Success);
    assert_eq!(run.step(2).status, StepStatus::Success);
    // The run stopped at the refused connection after its attempts: never sent, so retried.
    let refused = run.assert_step(3, StepStatus::Error);
    assert_eq!(refused.attempt, 3);
    assert_eq!(refused.error, Some(ErrorCode::Connect));
}

#[tokio::test]
async fn a_server_error_after_a_write_is_unknown_and_not_repeated() {
    let target = Target::start().await;
    for status in [500, 502, 503, 504] {
        let run = run_steps(json!([post(
            &target.url(&format!("/flaky/e{status}?fail=5&status={status}"))
        )]))
        .await;
        let record = run.assert_step(0, StepStatus::Unknown);
        assert_eq!(record.error, Some(ErrorCode::Http(status)));
        assert_eq!(target.requests_to(&format!("/flaky/e{status}")).len(), 1, "{status}");
    }
}

#[tokio::test]
async fn every_attempt_repeats_one_idempotency_key_and_retry_on_any_opts_in() {
    let server = DropServer::start().await;
    let mut first = post(&server.url("/a"));
    first["retry"]["on"] = json!("any");
    first["continue_on_error"] = json!(true);
    let mut second = hook(&server.url("/b"));
    second["retry"]["on"] = json!("any");
    let run = run_steps(json!([first, second])).await;
    assert_eq!(run.assert_step(0, StepStatus::Unknown).attempt, 3);
    assert_eq!(run.assert_step(1, StepStatus::Unknown).attempt, 3);
    let keys = server.header_values("idempotency-key");
    assert_eq!(keys.len(), 6);
    let keys: Vec<String> = keys
        .into_iter()
        .map(|k| k.expect("every write carries a key"))
        .collect();
    assert!(keys[..3].iter().all(|k| *k == keys[0]), "{keys:?}");
    assert!(keys[3..].iter().all(|k| *k == keys[3]), "{keys:?}");
    assert_ne!(keys[0], keys[3], "each step has its own key");
    assert!(keys[0].contains("run-test"), "derived from the run: {keys:?}");
}

#[tokio::test]
async fn a_read_carries_no_idempotency_key() {
    let target = Target::start().await;
    let get = json!({"provider": "http", "action": "request", "params": {"url": target.url("/echo")}});
    let run = run_steps(json!([get, post(&target.url("/echo"))])).await;
    assert_eq!(run.outcome.status, RunStatus::Success);
    let requests = target.requests_to("/echo");
    assert_eq!(requests[0].header("idempotency-key"), None);
    assert!(requests[1].header("idempotency-key").is_some());
}
