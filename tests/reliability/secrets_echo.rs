//! A server that quotes back every credential it gets, in every encoding
//! (Basic's base64 of `user:password`, the query string percent-encoded in both
//! styles, JSON-escaped...), cannot put a secret into what Flowpilot keeps or
//! shows: the database file, the run outcome (`run --json`), `logs --json`.

use base64::Engine as _;
use flowpilot_core::api::{Flowpilot, Options, ResolvedPlan};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{Plan, Sensitive};
use flowpilot_tests::cli::Cli;
use flowpilot_tests::hostile::Hostile;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Has every character the encodings treat differently: `+/=&`, a space, `~`, a non-ASCII letter.
const SECRET: &str = "s3cr+t/v=l&ue ~é-9Zq";
const TOKEN: &str = "tok/en+with=signs&more";

/// Each form of `value` a server could echo, computed here (not by the code under test).
pub(super) fn echoed_forms(value: &str) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let strict: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let json = serde_json::to_string(value).expect("JSON");
    vec![
        value.to_string(),
        b64.encode(value),
        b64.encode(format!("ada:{value}")),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value),
        strict.clone(),
        lower_hex(&strict),
        form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        json.trim_matches('"').to_string(),
        json.trim_matches('"').replace('/', "\\/"),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for secret in [SECRET, TOKEN] {
        for form in echoed_forms(secret) {
            assert!(!text.contains(&form), "{what} holds the secret as `{form}`");
        }
    }
}

fn database_text(dir: &Path) -> String {
    let mut all = Vec::new();
    for name in ["flowpilot.db", "flowpilot.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_echoed_in_every_encoding_are_never_kept_or_shown() {
    let hostile = Hostile::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
        clock: None,
    })
    .unwrap();
    app.set_credential("http", "password", Sensitive::new(SECRET.into()))
        .unwrap();
    app.set_credential("http", "token", Sensitive::new(TOKEN.into()))
        .unwrap();
    let echo = |status: u16| hostile.url(&format!("/echo-secrets?status={status}"));
    let plan = json!({"name": "echoes", "steps": [
        {"provider": "http", "action": "request", "continue_on_error": true, "retry": 1,
         "params": {"url": echo(200), "auth": {"type": "basic", "credential": "password", "username": "ada"}}},
        {"provider": "http", "action": "request", "continue_on_error": true, "retry": 1,
         "params": {"url": echo(401), "auth": {"type": "query", "credential": "password", "name": "key"}}},
        {"provider": "http", "action": "request", "continue_on_error": true, "retry": 1,
         "params": {"method": "POST", "url": echo(500), "auth": {"type": "bearer", "credential": "token"}}},
        {"provider": "http", "action": "request", "retry": 1,
         "params": {"url": echo(200), "auth": {"type": "header", "credential": "token", "name": "X-Api-Key"}}}
    ]});
    let plan = Plan::from_value(plan, &app.registry()).unwrap();
    let target = ResolvedPlan {
        plan_id: None,
        version: None,
        plan,
    };
    let outcome = app
        .run_plan(target, "cli", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    // The server did get (and quote) the secrets: the test would prove nothing otherwise.
    let received: String = hostile.requests().iter().map(|r| format!("{r:?}")).collect();
    assert!(received.contains(&base64::engine::general_purpose::STANDARD.encode(format!("ada:{SECRET}"))));
    assert_eq!(outcome.steps[0].status, flowpilot_engine::StepStatus::Success);
    assert!(
        outcome.steps[0].output.to_string().contains("***"),
        "{}",
        outcome.steps[0].output
    );

    assert_clean(
        "the run outcome (run --json)",
        &serde_json::to_string(&outcome).unwrap(),
    );
    app.checkpoint().unwrap();
    assert_clean("the database file", &database_text(dir.path()));

    let cli = Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), dir.path());
    let run_id = outcome.run_id.clone();
    let (logs, runs) = tokio::task::spawn_blocking(move || {
        (
            cli.run(&["logs", &run_id, "--json"]),
            cli.run(&["runs", "list", "--json"]),
        )
    })
    .await
    .unwrap();
    assert!(logs.success(), "{}", logs.all());
    assert!(logs.stdout.contains("***"));
    assert_clean("logs --json", &logs.all());
    assert_clean("runs list --json", &runs.all());
}

/// Percent-escapes with lowercase hex digits (`%2b`), the text itself unchanged.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}
