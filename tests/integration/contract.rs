//! The contract every provider in the registry keeps: an object schema for each
//! action's params, bad params rejected when the plan is loaded, cancellation
//! honoured while it waits, and failures classified (retry or not). A code
//! provider added without an entry in `example` fails here, so none slips past;
//! integrations bring their examples in their definitions, and their requests
//! are checked against the services' imitations in `integrations`.

use flowpilot_engine::registry::{
    ActionSpec, Credentials, Provider, ProviderKind, StaticCredentials, StepContext, StepError,
};
use flowpilot_engine::{Plan, Registry};
use flowpilot_tests::openai::FakeOpenAi;
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Valid params for each action of a code provider, aimed at `base` (a URL
/// prefix); an integration's action brings its own.
fn example_of(p: &dyn Provider, a: &ActionSpec, base: &str) -> Value {
    match &a.example {
        Some(example) if p.kind() != ProviderKind::Builtin => example.clone(),
        _ => example(p.name(), &a.name, base),
    }
}

fn example(provider: &str, action: &str, base: &str) -> Value {
    match (provider, action) {
        ("http", "request") => json!({"method": "GET", "url": base}),
        ("webhook", "post_request") => json!({"url": base, "payload": {"x": 1}}),
        ("openai" | "groq" | "openai_compatible", "chat_completion") => {
            json!({"prompt": "hi", "model": "m", "base_url": base})
        }
        ("logic", "extract") => json!({"input": {"a": 1}, "path": "$.a"}),
        ("logic", "template") => json!({"template": "t"}),
        ("logic", "json_parse") => json!({"input": "{}"}),
        ("logic", "filter") => json!({"input": [], "where": []}),
        ("logic", "assert") => json!({"left": 1, "op": "eq", "right": 1}),
        ("logic", "set") => json!({"value": 1}),
        ("delay", "wait") => json!({"seconds": 3600}),
        ("email", "send") => {
            // SMTP to the same host and port: a mail server there, or none.
            let port: u16 = base
                .trim_end_matches('/')
                .rsplit(':')
                .next()
                .and_then(|p| p.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(9);
            json!({"to": "ada@example.test", "subject": "s", "text": "t",
                   "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "username": "me@example.test", "credential": "c"}})
        }
        other => panic!("no contract example for {other:?}: add one"),
    }
}

fn ctx() -> StepContext {
    StepContext {
        run_id: "contract".into(),
        plan_name: "contract".into(),
        step_index: 0,
        attempt: 1,
        ..Default::default()
    }
}

/// Whether the provider talks to the network (then it must classify a refused connection).
fn networked(provider: &str) -> bool {
    !matches!(provider, "logic" | "delay")
}

/// Whether it talks HTTP (then it must also classify HTTP errors).
fn over_http(provider: &str) -> bool {
    networked(provider) && provider != "email"
}

/// The credentials a provider's example names (others have none to read).
fn credentials() -> Arc<StaticCredentials> {
    Arc::new(StaticCredentials::default().with("email", "c", "password"))
}

#[test]
fn every_action_has_an_object_schema_and_rejects_bad_params_at_load() {
    let registry = Registry::builtin();
    for p in registry.providers() {
        for a in p.actions() {
            let schema = &a.params_schema;
            assert_eq!(schema["type"], "object", "{}.{} schema: {schema}", p.name(), a.name);
            assert!(
                schema["properties"].is_object(),
                "{}.{} lists its params",
                p.name(),
                a.name
            );
            assert!(!a.description.is_empty());

            let good = json!({"name": "c", "steps": [{"provider": p.name(), "action": a.name, "params": example_of(p.as_ref(), a, "http://127.0.0.1:9/")}]});
            if let Err(e) = Plan::from_value(good, &registry) {
                panic!("{}.{}: the example should validate: {e}", p.name(), a.name);
            }
            let bad = json!({"name": "c", "steps": [{"provider": p.name(), "action": a.name, "params": {"not_a_param": [1]}}]});
            let issues = Plan::from_value(bad, &registry).unwrap_err().issues();
            assert!(
                issues.iter().all(|i| i.path.starts_with("steps[0].params")),
                "{}.{}: {issues:?}",
                p.name(),
                a.name
            );
            assert!(
                issues.iter().any(|i| i.path == "steps[0].params.not_a_param"),
                "{}.{} must reject unknown params: {issues:?}",
                p.name(),
                a.name
            );
        }
    }
}

#[tokio::test]
async fn every_provider_honours_cancellation_while_it_waits() {
    // A peer that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
            let _sent = conn_tx.send(());
        }
    });
    let registry = Registry::builtin();
    // Integrations send to their definitions' addresses: their cancellation is
    // checked against the imitations (integrations::*).
    for p in registry
        .providers()
        .iter()
        .filter(|p| p.kind() == ProviderKind::Builtin)
    {
        for a in p.actions() {
            if p.name() == "logic" {
                continue; // never waits on anything: nothing to cancel
            }
            let cancel = CancellationToken::new();
            let creds = Credentials::new(credentials(), p.name());
            let params = example(p.name(), &a.name, &base);
            let provider = p.clone();
            let action = a.name.clone();
            let token = cancel.clone();
            let running = tokio::spawn(async move { provider.run(&action, params, &creds, &ctx(), token).await });
            if networked(p.name()) {
                // Cancel once the request has reached the peer: it is really waiting.
                conn_rx.recv().await.unwrap();
            }
            cancel.cancel();
            let result = tokio::time::timeout(Duration::from_secs(5), running)
                .await
                .unwrap_or_else(|_| panic!("{}.{} ignored cancellation", p.name(), a.name))
                .unwrap();
            assert_eq!(result.unwrap_err(), StepError::Cancelled, "{}.{}", p.name(), a.name);
        }
    }
    held.abort();
}

#[tokio::test]
async fn every_networked_provider_classifies_failures() {
    let target = Target::start().await;
    let llm = FakeOpenAi::start().await;
    let registry = Registry::builtin();
    for p in registry
        .providers()
        .iter()
        .filter(|p| networked(p.name()) && p.kind() == ProviderKind::Builtin)
    {
        for a in p.actions() {
            let is_llm = a.name == "chat_completion";
            let (not_found, broken) = if is_llm {
                (target.url("/status/404"), llm.broken_base_url())
            } else {
                (target.url("/status/404"), target.url("/status/503"))
            };
            let run = |base: String| {
                let provider = p.clone();
                let params = example(p.name(), &a.name, &base);
                let action = a.name.clone();
                async move {
                    let creds = Credentials::new(credentials(), provider.name());
                    provider
                        .run(&action, params, &creds, &ctx(), CancellationToken::new())
                        .await
                }
            };
            // Against an unused port: a connection error, retryable.
            let refused = run("http://127.0.0.1:9/".into()).await.unwrap_err();
            assert!(
                refused.is_retryable(),
                "{}.{}: refused must be retryable, got {refused:?}",
                p.name(),
                a.name
            );
            if !over_http(p.name()) {
                continue;
            }
            let fatal = run(not_found).await.unwrap_err();
            assert!(
                matches!(&fatal, StepError::Fatal { code, .. } if *code == flowpilot_engine::ErrorCode::Http(404)),
                "{}.{}: 404 must be fatal, got {fatal:?}",
                p.name(),
                a.name
            );
            // A write (the webhook) may have been done by a server that failed: its
            // outcome is unknown, and only a 503 with Retry-After says to try again.
            let writes = p.has_side_effects(&a.name, &example(p.name(), &a.name, "http://127.0.0.1:9/"));
            let broken = if writes {
                format!("{broken}?retry_after=1")
            } else {
                broken
            };
            let retry = run(broken).await.unwrap_err();
            assert!(
                retry.is_retryable(),
                "{}.{}: 5xx must be retryable, got {retry:?}",
                p.name(),
                a.name
            );
            if writes {
                let unknown = run(target.url("/status/500")).await.unwrap_err();
                assert!(
                    unknown.is_unknown(),
                    "{}.{}: a 500 after a write leaves its outcome unknown, got {unknown:?}",
                    p.name(),
                    a.name
                );
            }
            // Against an unused port: a connection error, retryable.
            let refused = run("http://127.0.0.1:9/".into()).await.unwrap_err();
            assert!(
                refused.is_retryable(),
                "{}.{}: refused must be retryable, got {refused:?}",
                p.name(),
                a.name
            );
        }
    }
}
