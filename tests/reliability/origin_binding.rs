//! A stored credential goes to its provider's origin only: an `openai` step
//! whose `base_url` is another server runs without the key (the audit's shared
//! plan sent the user's OpenAI key to a stranger), unless the person allowed
//! that origin. A credential whose host the person chooses goes anywhere until
//! it has a list of allowed origins, then only there.

use flowpilot_core::api::{Flowpilot, Options, ResolvedPlan};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{ErrorCode, Plan, Sensitive, StepStatus};
use flowpilot_tests::cli::Cli;
use flowpilot_tests::{FakeOpenAi, Target, executor, plan, run};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-origin-test-9f3b27c1";

fn chat(provider: &str, base_url: &str) -> Value {
    json!({"name": "ask", "steps": [{"provider": provider, "action": "chat_completion",
        "params": {"prompt": "hi", "model": "m", "base_url": base_url}, "retry": 1}]})
}

fn origin(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("a URL");
    url.origin().ascii_serialization()
}

#[tokio::test]
async fn a_providers_key_is_not_sent_to_another_base_url() {
    for provider in ["openai", "groq"] {
        let fake = FakeOpenAi::start().await;
        let credentials = StaticCredentials::default().with(provider, "api_key", KEY);
        let run = run(&executor(credentials), plan(&chat(provider, fake.base_url()))).await;
        let record = run.assert_step(0, StepStatus::Success);
        assert_eq!(fake.only_request().header("authorization"), None, "{provider}");
        let note = record.metadata["credentials_withheld"].as_str().unwrap_or_default();
        assert!(
            note.contains(&format!(
                "credentials allow {provider} api_key {}",
                origin(fake.base_url())
            )),
            "{note}"
        );
        run.assert_never_shows(KEY);
    }
}

#[tokio::test]
async fn an_allowed_origin_gets_the_key() {
    let fake = FakeOpenAi::start().await;
    let credentials = StaticCredentials::default().with("openai", "api_key", KEY).allow(
        "openai",
        "api_key",
        &origin(fake.base_url()),
    );
    let run = run(&executor(credentials), plan(&chat("openai", fake.base_url()))).await;
    let record = run.assert_step(0, StepStatus::Success);
    assert_eq!(
        fake.only_request().header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(record.metadata.get("credentials_withheld").is_none());
}

#[tokio::test]
async fn a_401_from_a_server_without_the_key_says_how_to_allow_it() {
    let fake = FakeOpenAi::start().await;
    let credentials = StaticCredentials::default().with("openai", "api_key", KEY);
    let run = run(
        &executor(credentials),
        plan(&chat("openai", &fake.unauthorized_base_url())),
    )
    .await;
    let record = run.assert_step(0, StepStatus::Error);
    assert_eq!(record.error, Some(ErrorCode::Http(401)));
    assert!(
        record.message.contains("credentials allow openai api_key"),
        "{}",
        record.message
    );
}

#[tokio::test]
async fn a_chosen_host_gets_its_key_until_a_list_says_otherwise() {
    let fake = FakeOpenAi::start().await;
    let free = StaticCredentials::default().with("openai_compatible", "api_key", KEY);
    run(&executor(free), plan(&chat("openai_compatible", fake.base_url()))).await;
    assert_eq!(
        fake.only_request().header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );

    let other = FakeOpenAi::start().await;
    let listed = StaticCredentials::default()
        .with("openai_compatible", "api_key", KEY)
        .allow("openai_compatible", "api_key", "https://models.example");
    run(&executor(listed), plan(&chat("openai_compatible", other.base_url()))).await;
    assert_eq!(other.only_request().header("authorization"), None);

    // An http step's named credential is required, so an origin off its list is an error.
    let target = Target::start().await;
    let step = json!({"name": "call", "steps": [{"provider": "http", "action": "request", "params": {
        "url": target.url("/echo"), "auth": {"type": "bearer", "credential": "token"}}}]});
    let listed = StaticCredentials::default()
        .with("http", "token", KEY)
        .allow("http", "token", "https://api.example");
    let run = run(&executor(listed), plan(&step)).await;
    let record = run.assert_step(0, StepStatus::Error);
    assert_eq!(record.error, Some(ErrorCode::CredentialNotAllowed));
    assert!(target.requests().is_empty());
}

/// The audit's case through the facade and the OS-keychain path: a key set with
/// `credentials set`, a plan that points `openai` elsewhere, then an allowance
/// made with `flowpilot-cli credentials allow`.
#[tokio::test(flavor = "multi_thread")]
async fn the_facade_reads_allowances_made_with_the_cli() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Flowpilot::open(Options {
            data_dir: Some(dir.path().to_path_buf()),
            keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
            clock: None,
        })
        .unwrap()
    };
    let app = open();
    app.set_credential("openai", "api_key", Sensitive::new(KEY.into()))
        .unwrap();
    let target = || ResolvedPlan {
        plan_id: None,
        version: None,
        plan: Plan::from_value(chat("openai", fake.base_url()), &app.registry()).unwrap(),
    };
    let outcome = app
        .run_plan(target(), "cli", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.steps[0].status, StepStatus::Success);
    assert_eq!(fake.requests()[0].header("authorization"), None);

    let cli = Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), dir.path());
    let with_path = format!("{}/v1", fake.base_url());
    let out = tokio::task::spawn_blocking(move || cli.run(&["credentials", "allow", "openai", "api_key", &with_path]))
        .await
        .unwrap();
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.contains(&origin(fake.base_url())), "{}", out.stdout);
    assert_eq!(
        app.credential_origins("openai", "api_key").unwrap(),
        vec![origin(fake.base_url())]
    );

    app.run_plan(target(), "cli", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        fake.requests()[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(
        app.disallow_credential_origin("openai", "api_key", fake.base_url())
            .unwrap()
    );
    assert!(app.allow_credential_origin("openai", "api_key", "ftp://x").is_err());
}
