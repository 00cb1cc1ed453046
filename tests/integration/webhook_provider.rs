//! The `webhook` provider against a real server, in the seeds' shape.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::{RunStatus, StepStatus};
use flowpilot_tests::target::sample_json;
use flowpilot_tests::{Target, executor, plan, run};
use serde_json::json;

#[tokio::test]
async fn posts_the_payload_with_references_resolved() {
    let target = Target::start().await;
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&json!({
            "name": "fetch and forward",
            "steps": [
                {"provider": "custom_api", "action": "request", "params": {"url": target.url("/json")}},
                {"provider": "webhook", "action": "post_request", "params": {
                    "url": target.url("/echo"),
                    "payload": {"text": "Got: ${steps.0.output.message}", "data": "${steps.0.output}"},
                    "headers": {"X-Source": "flowpilot"}
                }}
            ]
        })),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Success, "{:#?}", run.outcome);
    let step = run.assert_step(1, StepStatus::Success);
    assert_eq!(step.message, "Status 200");
    assert_eq!(step.metadata["status"], 200);

    let posted = &target.requests_to("/echo")[0];
    assert_eq!(posted.method, "POST");
    assert_eq!(posted.header("content-type"), Some("application/json"));
    assert_eq!(posted.header("x-source"), Some("flowpilot"));
    assert_eq!(posted.json(), json!({"text": "Got: hello", "data": sample_json()}));
    assert_eq!(
        step.output["json"],
        posted.json(),
        "the JSON answer is the parsed output"
    );
}

#[tokio::test]
async fn a_text_answer_is_the_output_as_text() {
    let target = Target::start().await;
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&json!({
            "name": "hook",
            "steps": [{"provider": "webhook", "action": "post_request",
                       "params": {"url": target.url("/slow?ms=0"), "payload": {"ok": true}}}]
        })),
    )
    .await;

    assert_eq!(run.assert_step(0, StepStatus::Success).output, json!("done"));
}

#[tokio::test]
async fn a_rejected_payload_is_fatal_and_quotes_the_answer() {
    let target = Target::start().await;
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&json!({
            "name": "hook",
            "steps": [{"provider": "webhook", "action": "post_request",
                       "params": {"url": target.url("/status/400"), "payload": {}},
                       "retry": {"max_attempts": 3, "backoff_ms": 10}}]
        })),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("HTTP_400"));
    assert_eq!(step.attempt, 1);
    assert!(step.message.contains("400 Bad Request"), "{}", step.message);
    assert!(step.message.contains(r#"{"status":400}"#), "{}", step.message);
}

#[tokio::test]
async fn a_receiver_that_says_it_did_nothing_is_retried() {
    let target = Target::start().await;
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&json!({
            "name": "hook",
            "steps": [{"provider": "webhook", "action": "post_request",
                       "params": {"url": target.url("/flaky/hook?fail=1&status=503&retry_after=0"), "payload": {"n": 1}},
                       "retry": {"max_attempts": 3, "backoff_ms": 10}}]
        })),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.attempt, 2);
    assert_eq!(
        run.retries()[0].0.error.map(|e| e.as_string()).as_deref(),
        Some("HTTP_503")
    );
    let posted = target.requests();
    assert_eq!(posted.len(), 2);
    assert!(
        posted.iter().all(|r| r.json() == json!({"n": 1})),
        "every attempt sends the payload"
    );
}
