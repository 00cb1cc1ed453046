//! Drafting a plan from a sentence against a fake OpenAI-compatible server on
//! 127.0.0.1 with canned completions; dry runs against a real HTTP target; the
//! CLI's `draft` as a person uses it.

use crate::cli::cli;
use flowpilot_core::api::{ErrorCode, Flowpilot, Options};
use flowpilot_core::draft::{DraftRequest, StepLink, plan_schema};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::run::DRY_RUN_MESSAGE;
use flowpilot_engine::{Registry, RunStatus, Sensitive, StepStatus};
use flowpilot_tests::target::{Target, sample_json};
use flowpilot_tests::{CannedReply, FakeOpenAi, Recorded};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

const KEY: &str = "sk-draft-test-7c1e9a";
const PROMPT: &str = "Fetch the latest Tauri releases, summarise them and post the summary to our webhook";

/// A facade on a temp folder with a keychain of its own (keyring's mock store)
/// that holds an OpenAI key and nothing else.
fn app(dir: &Path) -> Flowpilot {
    let store = keyring_core::mock::Store::new().expect("a mock credential store");
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.to_path_buf()),
        keychain: Some(Keychain::with_store(store)),
        clock: None,
    })
    .expect("open Flowpilot on a temp folder");
    app.set_credential("openai", "api_key", Sensitive::new(KEY.to_string()))
        .expect("store the OpenAI key in the mock keychain");
    app
}

fn request(provider: &str, base_url: &str) -> DraftRequest {
    DraftRequest {
        prompt: PROMPT.into(),
        provider: provider.into(),
        base_url: Some(base_url.into()),
        model: None,
    }
}

/// A plan the registry accepts: fetch → summarise with groq → webhook.
fn valid_plan() -> Value {
    json!({
        "name": "Release summary",
        "description": "Summarise the newest Tauri releases and post the summary.",
        "steps": [
            {"id": "fetch", "provider": "http", "action": "request",
             "params": {"method": "GET", "url": "https://api.github.com/repos/tauri-apps/tauri/releases"}},
            {"id": "summary", "provider": "groq", "action": "chat_completion",
             "params": {"prompt": "Summarise these releases: ${steps.fetch.output}"}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": "https://hooks.example.com/flowpilot", "payload": {"text": "${steps.summary.output}"}}}
        ]
    })
}

/// The same plan with the webhook's `url` missing.
fn plan_without_webhook_url() -> Value {
    let mut plan = valid_plan();
    if let Some(params) = plan["steps"][2]["params"].as_object_mut() {
        params.remove("url");
    }
    plan
}

fn reply(plan: &Value) -> CannedReply {
    CannedReply::text(&serde_json::to_string_pretty(plan).expect("a plan serialises"))
}

fn messages(sent: &Recorded) -> Vec<Value> {
    sent.json()["messages"].as_array().cloned().unwrap_or_default()
}

fn system_prompt(sent: &Recorded) -> String {
    let messages = messages(sent);
    assert_eq!(messages[0]["role"], "system");
    messages[0]["content"].as_str().unwrap_or_default().to_string()
}

/// The key may travel in the Authorization header of the provider it belongs
/// to, and nowhere else: never in a body, never to another provider.
fn assert_key_only_in_authorization(requests: &[Recorded], expect_header: bool) {
    for sent in requests {
        assert!(
            !sent.text().contains(KEY),
            "the API key is in the request body: {}",
            sent.text()
        );
        for (name, value) in &sent.headers {
            if name != "authorization" {
                assert!(!value.contains(KEY), "the API key is in the {name} header");
            }
        }
        let expected = expect_header.then(|| format!("Bearer {KEY}"));
        assert_eq!(sent.header("authorization"), expected.as_deref());
    }
}

#[tokio::test]
async fn a_valid_plan_is_drafted_from_the_catalogue_and_the_schema() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert!(draft.issues.is_empty());
    assert_eq!(draft.attempts, 1);
    assert_eq!(draft.plan["original_prompt"], PROMPT);
    assert_eq!(draft.plan["name"], "Release summary");
    assert_eq!(draft.required_providers, ["http", "groq", "webhook"]);
    assert_eq!(draft.plain_english_steps.len(), 3);
    assert!(
        draft.plain_english_steps[2].starts_with("3. "),
        "{:?}",
        draft.plain_english_steps
    );
    assert!(draft.plain_english_steps[2].contains("(webhook.post_request)"));
    assert_eq!(
        draft.references,
        [StepLink { from: 1, to: 0 }, StepLink { from: 2, to: 1 }]
    );
    // The plan needs groq's key, which is not set; openai's is.
    let missing: Vec<(String, String)> = draft
        .missing_credentials
        .iter()
        .map(|c| (c.provider.clone(), c.field.clone()))
        .collect();
    assert_eq!(missing, [("groq".to_string(), "api_key".to_string())]);
    assert!(draft.notes.is_empty(), "{:?}", draft.notes);
    // A draft is not saved until the person saves it.
    assert!(app.list_plans().unwrap().is_empty());

    let sent = fake.only_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    // Structured output: the plan's JSON Schema as response_format, not strict
    // (a step's params are free-form, which strict mode cannot express).
    let format = &body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["strict"], false);
    let registry = Registry::builtin();
    assert_eq!(format["json_schema"]["schema"], plan_schema(&registry));
    let names: Vec<&str> = registry.providers().iter().map(|p| p.name()).collect();
    // The schema is the plan file's own, generated from the one plan type, with
    // the catalogue's providers named and `when` / `for_each` described.
    let step = &format["json_schema"]["schema"]["$defs"]["StepSpec"];
    assert_eq!(step["properties"]["provider"]["enum"], json!(names));
    for required in ["provider", "action"] {
        assert!(
            step["required"].as_array().unwrap().contains(&json!(required)),
            "{step}"
        );
    }
    for feature in ["when", "for_each", "for_each_options"] {
        assert!(step["properties"][feature].is_object(), "{feature} missing from {step}");
    }
    // The catalogue: every provider, action, description and params schema, and the
    // reference syntax written literally (not resolved away by the executor).
    let system = system_prompt(&sent);
    for provider in registry.catalogue() {
        assert!(
            system.contains(&format!("\"name\":\"{}\"", provider.name)),
            "{}",
            provider.name
        );
        assert!(system.contains(&provider.description));
        for action in &provider.actions {
            assert!(system.contains(&format!("\"name\":\"{}\"", action.name)));
            assert!(system.contains(&action.description));
            assert!(system.contains(&serde_json::to_string(&action.params_schema).unwrap()));
        }
    }
    assert!(system.contains("${steps.0.output}"), "{system}");
    assert!(system.contains("${steps.<id>.output}"), "{system}");
    assert!(!system.contains("$${steps"), "{system}");
    // The schema rides in response_format here, not in the prompt.
    assert!(!system.contains("# JSON Schema of the answer"));
    assert_eq!(messages(&sent)[1], json!({"role": "user", "content": PROMPT}));
    assert_key_only_in_authorization(&fake.requests(), true);
}

#[tokio::test]
async fn a_draft_that_decides_and_repeats_validates_and_the_prompt_describes_how() {
    let fake = FakeOpenAi::start().await;
    let plan = json!({
        "name": "Post each outage",
        "steps": [
            {"id": "fetch", "provider": "http", "action": "request",
             "params": {"method": "GET", "url": "https://status.example.com/incidents.json"}},
            {"provider": "webhook", "action": "post_request",
             "for_each": "${steps.fetch.output.incidents}",
             "for_each_options": {"concurrency": 2, "on_error": "continue"},
             "when": {"all": [{"left": "${item.title}", "op": "contains", "right": "outage"},
                              {"not": {"left": "${item.resolved}", "op": "eq", "right": true}}]},
             "params": {"url": "https://hooks.example.com/flowpilot", "payload": {"text": "${item.title} (#${item_index})"}}}
        ]
    });
    fake.push_reply(reply(&plan));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert!(draft.plain_english_steps[1].contains("for each item of ${steps.fetch.output.incidents}"));
    assert!(draft.plain_english_steps[1].contains("only if its condition holds"));
    let system = system_prompt(&fake.only_request());
    for words in ["\"when\"", "\"for_each\"", "${item_index}", "not_contains"] {
        assert!(system.contains(words), "the prompt does not describe {words}");
    }
}

#[tokio::test]
async fn an_invalid_draft_is_repaired_with_its_located_errors() {
    let fake = FakeOpenAi::start().await;
    let broken = plan_without_webhook_url();
    fake.push_reply(reply(&broken));
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert_eq!(draft.attempts, 2);
    assert_eq!(
        draft.plan["steps"][2]["params"]["url"],
        "https://hooks.example.com/flowpilot"
    );
    assert_eq!(draft.plan["original_prompt"], PROMPT);

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    // The repair carries the whole conversation: the prompt, the model's own
    // answer, and every problem with its location.
    let repair = messages(&requests[1]);
    assert_eq!(repair.len(), 4, "{repair:#?}");
    assert_eq!(repair[0]["content"], messages(&requests[0])[0]["content"]);
    assert_eq!(repair[1], json!({"role": "user", "content": PROMPT}));
    assert_eq!(repair[2]["role"], "assistant");
    assert_eq!(
        serde_json::from_str::<Value>(repair[2]["content"].as_str().unwrap()).unwrap(),
        broken
    );
    assert_eq!(repair[3]["role"], "user");
    let errors = repair[3]["content"].as_str().unwrap();
    assert!(errors.contains("steps[2].params.url: is required"), "{errors}");
    // The repair asks for the same structured output.
    assert_eq!(requests[1].json()["response_format"]["type"], "json_schema");
    assert_key_only_in_authorization(&requests, true);
}

#[tokio::test]
async fn a_draft_that_stays_invalid_is_returned_with_its_issues() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&plan_without_webhook_url()));
    let mut still_wrong = valid_plan();
    still_wrong["steps"][2]["provider"] = json!("fax");
    fake.push_reply(reply(&still_wrong));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(!draft.valid);
    assert_eq!(draft.attempts, 2);
    // The second answer, as the model wrote it (not silently fixed), with the prompt.
    assert_eq!(draft.plan["steps"][2]["provider"], "fax");
    assert_eq!(draft.plan["original_prompt"], PROMPT);
    let issues: Vec<String> = draft.issues.iter().map(ToString::to_string).collect();
    assert!(
        issues
            .iter()
            .any(|i| i.starts_with("steps[2].provider: unknown provider `fax`")),
        "{issues:#?}"
    );
    // What can be read of it is still shown.
    assert_eq!(draft.required_providers, ["http", "groq"]);
    assert_eq!(
        draft.plain_english_steps[2],
        "3. not in the catalogue (fax.post_request)"
    );
    assert_eq!(draft.references.len(), 2);
    assert_eq!(fake.requests().len(), 2);
    assert!(app.list_plans().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_json_is_sent_back_and_fenced_json_is_accepted() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text(
        "```json\n{\"name\": \"Release summary\", \"steps\": [\n```",
    ));
    fake.push_reply(CannedReply::text(&format!(
        "Here is the corrected plan:\n```json\n{}\n```",
        serde_json::to_string_pretty(&valid_plan()).unwrap()
    )));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert_eq!(draft.attempts, 2);
    let requests = fake.requests();
    let repair = messages(&requests[1]);
    let errors = repair[3]["content"].as_str().unwrap();
    assert!(errors.contains("the reply is not valid JSON (line"), "{errors}");
}

#[tokio::test]
async fn a_reply_that_never_is_json_is_returned_verbatim_with_the_error() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(CannedReply::text("I would fetch the releases and then post them."));
    fake.push_reply(CannedReply::text("Sorry, here: {\"name\": \"x\", \"steps\": [}"));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app.draft_plan(request("openai", fake.base_url())).await.unwrap();

    assert!(!draft.valid);
    assert_eq!(draft.attempts, 2);
    assert_eq!(draft.plan, Value::Null);
    assert_eq!(draft.reply, "Sorry, here: {\"name\": \"x\", \"steps\": [}");
    assert_eq!(draft.issues.len(), 1);
    assert_eq!(draft.issues[0].path, "");
    assert!(
        draft.issues[0].message.starts_with("the reply is not valid JSON"),
        "{:?}",
        draft.issues
    );
    assert!(draft.plain_english_steps.is_empty() && draft.references.is_empty());
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_and_is_not_an_attempt() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app
        .draft_plan(request("openai", &fake.rate_limited_base_url()))
        .await
        .unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert_eq!(draft.attempts, 1);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "a 429, then the same request again");
    // The server said `Retry-After: 1`.
    assert!(requests[1].at - requests[0].at >= std::time::Duration::from_millis(900));
    assert_eq!(requests[0].json(), requests[1].json());
    assert_key_only_in_authorization(&requests, true);
}

#[tokio::test]
async fn a_self_hosted_server_gets_json_mode_with_the_schema_in_the_prompt_and_no_key() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let mut ask = request("openai_compatible", fake.base_url());
    ask.model = Some("llama3.1".into());
    let draft = app.draft_plan(ask).await.unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    let sent = fake.only_request();
    let body = sent.json();
    assert_eq!(body["model"], "llama3.1");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let system = system_prompt(&sent);
    let schema = serde_json::to_string(&plan_schema(&Registry::builtin())).unwrap();
    assert!(system.contains("# JSON Schema of the answer"));
    assert!(system.contains(&schema), "the schema is in the prompt");
    assert!(
        system.contains("\"name\":\"openai_compatible\""),
        "the catalogue is in the prompt"
    );
    // No key is set for openai_compatible; openai's is never sent to it.
    assert_key_only_in_authorization(&fake.requests(), false);
}

#[tokio::test]
async fn a_server_without_structured_output_is_asked_again_in_json_mode() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let draft = app
        .draft_plan(request("groq", &fake.json_mode_only_base_url()))
        .await
        .unwrap();

    assert!(draft.valid, "{:#?}", draft.issues);
    assert_eq!(draft.attempts, 1);
    assert!(
        draft
            .notes
            .iter()
            .any(|n| n.contains("refused a JSON Schema response_format")),
        "{:?}",
        draft.notes
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].json()["response_format"]["type"], "json_schema");
    assert_eq!(requests[0].json()["model"], "llama-3.1-8b-instant");
    assert_eq!(requests[1].json()["response_format"], json!({"type": "json_object"}));
    assert!(system_prompt(&requests[1]).contains("# JSON Schema of the answer"));
}

#[tokio::test]
async fn requests_that_cannot_be_made_are_errors_naming_the_fix() {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    // The fake stands in for OpenAI on another origin: the key may go there.
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();

    let e = app.draft_plan(request("webhook", fake.base_url())).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadInput);
    assert!(
        e.to_string().contains("choose one of openai, groq, openai_compatible"),
        "{e}"
    );

    let mut empty = request("openai", fake.base_url());
    empty.prompt = "  ".into();
    assert_eq!(app.draft_plan(empty).await.unwrap_err().code(), ErrorCode::BadInput);

    let unaddressed = DraftRequest {
        prompt: PROMPT.into(),
        provider: "openai_compatible".into(),
        base_url: None,
        model: None,
    };
    let e = app.draft_plan(unaddressed).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadInput);
    let text = e.to_string();
    assert!(
        text.contains("base_url: is required") && text.contains("model: is required"),
        "{text}"
    );
    assert!(
        fake.requests().is_empty(),
        "nothing is sent for a request that cannot work"
    );

    // A rejected key fails at once, says what to fix, and never shows the key.
    let e = app
        .draft_plan(request("openai", &fake.unauthorized_base_url()))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("401") && text.contains("credentials set openai api_key"),
        "{text}"
    );
    assert!(!text.contains(KEY), "{text}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn without_a_keychain_a_local_server_still_drafts_and_a_public_one_says_why_not() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Keychain::unavailable("no D-Bus session bus")),
        clock: None,
    })
    .unwrap();

    let mut local = request("openai_compatible", fake.base_url());
    local.model = Some("llama3.1".into());
    let draft = app.draft_plan(local).await.unwrap();
    assert!(draft.valid, "{:#?}", draft.issues);
    assert_eq!(fake.only_request().header("authorization"), None);

    // OpenAI's own service always needs the key: the keychain's absence is the
    // error, before anything is sent.
    let public = DraftRequest {
        base_url: None,
        ..request("openai", fake.base_url())
    };
    let e = app.draft_plan(public).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeychainUnavailable, "{e}");
    assert!(e.to_string().contains("gnome-keyring"), "{e}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_dry_run_sends_nothing_with_side_effects_and_runs_the_rest() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let plan = json!({
        "name": "Rehearsal",
        "steps": [
            {"id": "fetch", "provider": "http", "action": "request", "params": {"url": target.url("/json")}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": target.url("/echo"), "payload": {"message": "${steps.fetch.output.message}"}}},
            {"provider": "http", "action": "request",
             "params": {"method": "POST", "url": target.url("/echo"), "body": {"n": "${steps.fetch.output.items[2]}"},
                        "auth": {"type": "bearer", "credential": "not_set"}}},
            {"provider": "logic", "action": "template", "params": {"template": "sent ${steps.1.output.would_send.payload.message}"}}
        ]
    });

    let outcome = app.dry_run(serde_json::from_value(plan).unwrap()).await.unwrap();

    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    assert!(outcome.steps.iter().all(|s| s.status == StepStatus::Success));
    // The GET really ran.
    assert_eq!(outcome.steps[0].output, sample_json());
    assert_eq!(target.requests_to("/json").len(), 1);
    // The webhook and the POST did not: they show what they would have sent,
    // references resolved, and needed no credential.
    assert_eq!(
        outcome.steps[1].output,
        json!({"dry_run": true, "would_send": {"url": target.url("/echo"), "payload": {"message": "hello"}}})
    );
    assert_eq!(outcome.steps[1].message, DRY_RUN_MESSAGE);
    assert_eq!(outcome.steps[2].output["would_send"]["body"], json!({"n": 3}));
    assert_eq!(outcome.steps[2].message, DRY_RUN_MESSAGE);
    assert!(target.requests_to("/echo").is_empty(), "the peer got no request");
    assert_eq!(outcome.steps[3].output, json!("sent hello"));
    // Nothing is stored.
    let (runs, total) = app
        .list_runs(
            &Default::default(),
            flowpilot_core::store::Page { limit: 10, offset: 0 },
        )
        .unwrap();
    assert!(runs.is_empty() && total == 0);

    // An invalid plan is refused with its located problems, as everywhere.
    let e = app
        .dry_run(
            serde_json::from_value(
                json!({"name": "x", "steps": [{"provider": "webhook", "action": "post_request", "params": {}}]}),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidPlan);
}

fn draft_with_cli(dir: &Path, base_url: &str, out: &Path) -> Output {
    cli(
        dir,
        &[
            "draft",
            PROMPT,
            "--provider",
            "openai_compatible",
            "--base-url",
            base_url,
            "--model",
            "llama3.1",
            "--out",
            out.to_str().expect("a UTF-8 temp path"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_writes_a_draft_only_when_it_is_valid() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&valid_plan()));
    let data = tempfile::tempdir().unwrap();
    let out = data.path().join("plan.json");

    let output = tokio::task::spawn_blocking({
        let (dir, base, out) = (data.path().to_path_buf(), fake.base_url().to_string(), out.clone());
        move || draft_with_cli(&dir, &base, &out)
    })
    .await
    .unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(written["original_prompt"], PROMPT);
    assert_eq!(written["required_providers"], json!(["http", "groq", "webhook"]));
    assert_eq!(written["plain_english_steps"].as_array().map(Vec::len), Some(3));
    // Steps in words, references and missing credentials on stderr.
    assert!(
        stderr.contains("  1. ") && stderr.contains("(webhook.post_request)"),
        "{stderr}"
    );
    assert!(stderr.contains("step 3 uses the result of step 2"), "{stderr}");
    assert!(
        stderr.contains("groq/api_key — set it with `flowpilot-cli credentials set groq api_key`"),
        "{stderr}"
    );
    assert!(stderr.contains("✔ wrote"), "{stderr}");

    // An answer that stays invalid: errors on stderr, exit 1, no file.
    fake.push_reply(reply(&plan_without_webhook_url()));
    fake.push_reply(reply(&plan_without_webhook_url()));
    let out = data.path().join("invalid.json");
    let output = tokio::task::spawn_blocking({
        let (dir, base, out) = (data.path().to_path_buf(), fake.base_url().to_string(), out.clone());
        move || draft_with_cli(&dir, &base, &out)
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!out.exists(), "an invalid draft is not written");
    assert!(stderr.contains("steps[2].params.url: is required"), "{stderr}");
    assert!(stderr.contains("after 2 attempts; nothing was written"), "{stderr}");
    assert_eq!(fake.requests().len(), 3);
}

/// "When X, post it to my Telegram": the catalogue the model gets has the
/// integrations' actions with their params schemas, and a drafted
/// `telegram.send_message` step lists the bot token it still needs.
#[tokio::test]
async fn a_drafted_telegram_step_comes_from_the_catalogue_and_lists_its_missing_token() {
    let fake = FakeOpenAi::start().await;
    fake.push_reply(reply(&json!({
        "name": "Summary to Telegram",
        "steps": [
            {"id": "summary", "provider": "groq", "action": "chat_completion", "params": {"prompt": "Summarise the week"}},
            {"provider": "telegram", "action": "send_message",
             "params": {"chat_id": 424242, "text": "${steps.summary.output}"}}
        ]
    })));
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.allow_credential_origin("openai", "api_key", fake.base_url())
        .unwrap();
    let draft = app
        .draft_plan(DraftRequest {
            prompt: "Summarise the week and post it to my Telegram".into(),
            ..request("openai", fake.base_url())
        })
        .await
        .unwrap();
    assert!(draft.valid, "{:#?}", draft.issues);
    let missing: Vec<(String, String)> = draft
        .missing_credentials
        .iter()
        .map(|c| (c.provider.clone(), c.field.clone()))
        .collect();
    assert!(
        missing.contains(&("telegram".to_string(), "bot_token".to_string())),
        "{missing:?}"
    );
    let prompt = system_prompt(&fake.only_request());
    assert!(
        prompt.contains("\"send_message\""),
        "the catalogue lists Telegram's actions"
    );
    assert!(prompt.contains("4096"), "with their params schemas");
    assert!(prompt.contains("\"create_page\""), "and Notion's");
}
