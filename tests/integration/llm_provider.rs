//! The `openai`, `groq` and `openai_compatible` providers against a fake
//! OpenAI-compatible server.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::{RunStatus, StepStatus};
use flowpilot_tests::{CannedReply, FakeOpenAi, Target, executor, plan, plan_issues, run};
use serde_json::{Value, json};

const KEY: &str = "sk-test-4f9a2c";

/// A one-step chat plan that retries quickly.
fn chat(provider: &str, params: Value) -> Value {
    json!({
        "name": "chat",
        "steps": [{
            "provider": provider,
            "action": "chat_completion",
            "params": params,
            "retry": {"max_attempts": 3, "backoff_ms": 10}
        }]
    })
}

/// The provider's key, allowed to go to the fake at `base_url` (another origin
/// than the provider's own, where it would not be sent otherwise).
fn with_key(provider: &str, base_url: &str) -> flowpilot_engine::Executor {
    let origin = reqwest::Url::parse(base_url)
        .expect("a URL")
        .origin()
        .ascii_serialization();
    executor(
        StaticCredentials::default()
            .with(provider, "api_key", KEY)
            .allow(provider, "api_key", &origin),
    )
}

#[tokio::test]
async fn openai_returns_the_reply_text_with_usage() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text("Three short lines.").usage(21, 4));
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&chat(
            "openai",
            json!({"prompt": "Write a haiku", "system": "Be brief.", "temperature": 0.2, "max_tokens": 50,
                   "base_url": fake.base_url()}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.output, json!("Three short lines."));
    assert_eq!(step.metadata["model"], "gpt-4o-mini");
    assert_eq!(
        step.metadata["usage"],
        json!({"prompt_tokens": 21, "completion_tokens": 4, "total_tokens": 25})
    );
    assert_eq!(step.metadata["finish_reason"], "stop");
    assert_eq!(step.message, "Reply from gpt-4o-mini (25 tokens)");

    let sent = fake.only_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Write a haiku"}])
    );
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["max_completion_tokens"], 50);
    assert!(body.get("response_format").is_none());
    run.assert_never_shows(KEY);
}

#[tokio::test]
async fn a_base_url_with_v1_and_a_conversation_work_too() {
    let fake = FakeOpenAi::start().await;
    let run = run(
        &with_key("groq", fake.base_url()),
        plan(&chat(
            "groq",
            json!({"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
                                {"role": "user", "content": "and 3+3?"}],
                   "json": true, "base_url": format!("{}/v1/", fake.base_url())}),
        )),
    )
    .await;

    run.assert_step(0, StepStatus::Success);
    let body = fake.only_request().json();
    assert_eq!(body["model"], "llama-3.1-8b-instant");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(3));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
}

#[tokio::test]
async fn a_json_schema_asks_for_structured_output() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text(r#"{"steps": []}"#));
    let schema = json!({"type": "object", "properties": {"steps": {"type": "array"}}, "required": ["steps"],
                        "additionalProperties": false});
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&chat(
            "openai",
            json!({"prompt": "Draft a plan", "json_schema": schema, "base_url": fake.base_url()}),
        )),
    )
    .await;

    assert_eq!(
        run.assert_step(0, StepStatus::Success).output,
        json!(r#"{"steps": []}"#)
    );
    assert_eq!(
        fake.only_request().json()["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "plan", "schema": schema, "strict": true}})
    );
}

#[tokio::test]
async fn a_local_server_needs_no_key_and_gets_no_authorization_header() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text("local answer").finish_reason("length"));
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&chat(
            "openai_compatible",
            json!({"prompt": "hi", "model": "llama3.1", "max_tokens": 5, "base_url": fake.base_url()}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.output, json!("local answer"));
    assert!(step.message.ends_with("cut off at max_tokens"), "{}", step.message);
    let sent = fake.only_request();
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.json()["model"], "llama3.1");
    assert_eq!(sent.json()["max_tokens"], 5);
}

#[tokio::test]
async fn the_public_service_without_a_key_fails_before_sending() {
    let run = run(
        &executor(StaticCredentials::default()),
        plan(&chat("openai", json!({"prompt": "hi"}))),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(
        step.error.map(|e| e.as_string()).as_deref(),
        Some("MISSING_CREDENTIALS")
    );
    assert_eq!(step.attempt, 1);
    assert!(
        step.message.contains("credentials set openai api_key"),
        "{}",
        step.message
    );
}

#[tokio::test]
async fn a_rejected_key_is_fatal_and_says_what_to_fix() {
    let fake = FakeOpenAi::start().await;
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&chat(
            "openai",
            json!({"prompt": "hi", "base_url": fake.unauthorized_base_url()}),
        )),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Failed);
    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("HTTP_401"));
    assert_eq!(step.attempt, 1);
    assert!(step.message.contains("Incorrect API key provided"), "{}", step.message);
    assert!(
        step.message.contains("credentials set openai api_key"),
        "{}",
        step.message
    );
    assert_eq!(fake.requests().len(), 1);
    run.assert_never_shows(KEY);
}

#[tokio::test]
async fn a_server_error_is_retried_up_to_the_limit() {
    let fake = FakeOpenAi::start().await;
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&chat(
            "openai",
            json!({"prompt": "hi", "base_url": fake.broken_base_url()}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("HTTP_500"));
    assert_eq!(step.attempt, 3);
    assert_eq!(run.retries().len(), 2);
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text("after the wait"));
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&chat(
            "openai",
            json!({"prompt": "hi", "base_url": fake.rate_limited_base_url()}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.output, json!("after the wait"));
    assert_eq!(step.attempt, 2);
    let retries = run.retries();
    assert_eq!(retries[0].0.error.map(|e| e.as_string()).as_deref(), Some("HTTP_429"));
    assert_eq!(retries[0].1, 1_000);
}

#[tokio::test]
async fn a_reply_feeds_a_webhook() {
    let fake = FakeOpenAi::start().await;
    let target = Target::start().await;
    fake.push_reply(CannedReply::text("Good morning!"));
    let run = run(
        &with_key("openai", fake.base_url()),
        plan(&json!({
            "name": "daily greeting",
            "steps": [
                {"id": "draft", "provider": "openai", "action": "chat_completion",
                 "params": {"prompt": "Greet the team", "base_url": fake.base_url()}},
                {"provider": "webhook", "action": "post_request",
                 "params": {"url": target.url("/echo"), "payload": {"text": "${steps.0.output}",
                            "tokens": "${steps.draft.metadata.usage.total_tokens}"}}}
            ]
        })),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Success, "{:#?}", run.outcome);
    assert_eq!(
        target.only_request().json(),
        json!({"text": "Good morning!", "tokens": 15})
    );
}

#[test]
fn compatible_servers_need_an_address_and_a_model() {
    let issues = plan_issues(&chat("openai_compatible", json!({"prompt": "hi"})));
    assert!(
        issues
            .iter()
            .any(|i| i.starts_with("steps[0].params.base_url: is required")),
        "{issues:#?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.starts_with("steps[0].params.model: is required")),
        "{issues:#?}"
    );

    let issues = plan_issues(&chat("openai", json!({"prompt": "hi", "messages": []})));
    assert!(issues.iter().any(|i| i.contains("not both")), "{issues:#?}");
    let issues = plan_issues(&chat("openai", json!({"temperature": 3})));
    assert!(
        issues.iter().any(|i| i.starts_with("steps[0].params: needs `prompt`")),
        "{issues:#?}"
    );
    assert!(
        issues.iter().any(|i| i.starts_with("steps[0].params.temperature")),
        "{issues:#?}"
    );
}
