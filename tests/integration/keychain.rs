//! The keychain against the real Secret Service: gnome-keyring on a private D-Bus
//! session, started by scripts/test.sh. With FLOWPILOT_REQUIRE_KEYCHAIN=1 (as CI
//! sets it) a missing Secret Service fails these tests instead of skipping them.

use flowpilot_core::api::{ErrorCode, Flowpilot, Options};
use flowpilot_core::secrets::{Keychain, SecretsError};
use flowpilot_engine::Sensitive;
use std::process::Command;

/// The real keychain, or `None` (test skipped) when none runs and none is required.
fn real_keychain() -> Option<Keychain> {
    let keychain = Keychain::os();
    match keychain.status() {
        Ok(()) => Some(keychain),
        Err(e) if std::env::var_os("FLOWPILOT_REQUIRE_KEYCHAIN").is_some() => {
            panic!("FLOWPILOT_REQUIRE_KEYCHAIN is set but the keychain is unavailable: {e}")
        }
        Err(e) => {
            eprintln!("skipping: no Secret Service ({e}); run scripts/test.sh");
            None
        }
    }
}

/// What the Secret Service itself holds for an entry, asked with libsecret's CLI.
fn secret_tool_lookup(user: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "flowpilot", "username", user])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn credentials_go_to_the_secret_service_and_only_their_names_to_sqlite() {
    let Some(keychain) = real_keychain() else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().into()),
        keychain: Some(keychain),
        ..Options::default()
    })
    .unwrap();
    let field = format!("api_key_{}", std::process::id());
    let secret = "sk-real-keychain-value-0123456789";

    app.set_credential("openai", &field, Sensitive::new(secret.into()))
        .unwrap();
    let entry = app.keychain_entry_name("openai", &field);
    assert!(entry.ends_with(&format!("/openai/{field}")), "{entry}");
    assert_eq!(secret_tool_lookup(&entry).as_deref(), Some(secret));
    let listed = app.list_credentials().unwrap();
    assert!(listed.iter().any(|c| c.provider == "openai" && c.field == field));

    // The database file never holds the value.
    app.checkpoint().unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(files.iter().any(|p| p.ends_with("flowpilot.db")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the secret",
            file.display()
        );
    }

    assert!(app.delete_credential("openai", &field).unwrap());
    assert_eq!(secret_tool_lookup(&entry), None);
    assert!(!app.list_credentials().unwrap().iter().any(|c| c.field == field));
}

/// Two data folders on one keychain: what one sets, the other neither lists nor sends.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_of_another_data_folder_is_never_listed_or_sent() {
    let Some(keychain) = real_keychain() else { return };
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let open = |dir: &std::path::Path| {
        Flowpilot::open(Options {
            data_dir: Some(dir.into()),
            keychain: Some(keychain.clone()),
            ..Options::default()
        })
        .unwrap()
    };
    let (a, b) = (open(a_dir.path()), open(b_dir.path()));
    let field = format!("api_key_{}", std::process::id());
    a.set_credential("http", &field, Sensitive::new("sk-folder-a-only".into()))
        .unwrap();
    assert!(b.list_credentials().unwrap().is_empty());

    // B's step names the same credential: it runs without it, and the server sees no key.
    let fake = flowpilot_tests::FakeOpenAi::start().await;
    fake.push_reply(flowpilot_tests::CannedReply::text("hi"));
    let plan = serde_json::json!({"name": "Other folder", "steps": [{
        "provider": "http", "action": "request",
        "params": {"method": "POST", "url": format!("{}/chat/completions", fake.base_url()),
                   "body": {"x": 1}, "auth": {"type": "bearer", "credential": field}}
    }]});
    let plan = b.check_plan(&plan.to_string()).unwrap();
    let outcome = b
        .run_plan(
            flowpilot_core::api::ResolvedPlan {
                plan_id: None,
                version: None,
                plan,
            },
            "test",
            std::sync::Arc::new(flowpilot_engine::run::NoObserver),
            None,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.steps[0].error.map(|e| e.as_string()).as_deref(),
        Some("MISSING_CREDENTIALS"),
        "{outcome:#?}"
    );
    assert!(fake.requests().is_empty(), "nothing was sent");
    assert!(a.delete_credential("http", &field).unwrap());
}

#[test]
fn a_missing_keychain_is_a_clear_error_and_never_a_plaintext_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().into()),
        keychain: Some(Keychain::unavailable("no D-Bus session bus")),
        ..Options::default()
    })
    .unwrap();
    let err = app
        .set_credential("openai", "api_key", Sensitive::new("sk-x".into()))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
    assert!(err.to_string().contains("Secret Service"));
    assert!(
        app.list_credentials().unwrap().is_empty(),
        "nothing recorded when the keychain refused"
    );
    assert!(matches!(app.keychain_status(), Err(SecretsError::Unavailable { .. })));
}
