//! Describe it, get a plan, in the real window: a prompt goes to an OpenAI-compatible
//! server on 127.0.0.1 (canned replies), the checked draft lists the credential it
//! still needs, the key is set in Credentials, the draft is dry-run in the editor
//! (the webhook is not called), saved with its prompt, and run for real.

use crate::editor::check_run_view;
use crate::harness::{App, WAIT, runtime, tid};
use flowpilot_tests::openai::{CannedReply, FakeOpenAi};
use flowpilot_tests::target::{Target, sample_json};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PROMPT: &str = "Fetch the latest release, summarise it in one sentence and post the summary to my webhook";

/// What the fake model drafts: the peer's JSON → a summary by `openai` (pointed at
/// the fake) → a webhook post to the peer.
fn drafted_plan(target: &Target, fake: &FakeOpenAi) -> Value {
    json!({
        "name": "Release summary",
        "description": "Summarise the newest release and post it.",
        "steps": [
            {"id": "fetch", "provider": "http", "action": "request",
             "params": {"method": "GET", "url": target.url("/json")}},
            {"id": "summary", "provider": "openai", "action": "chat_completion",
             "params": {"base_url": fake.base_url(), "model": "gpt-4o-mini",
                        "prompt": "Summarise in one sentence: ${steps.fetch.output.message}"}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": target.url("/echo"), "payload": {"text": "${steps.summary.output}"}}}
        ]
    })
}

fn attribute(app: &App, css: &str, name: &str) -> Option<String> {
    let el = app.el(css);
    app.wd.attribute(&el, name).ok().flatten()
}

/// (provider, field) of every credential the draft lists as missing.
fn missing_listed(app: &App) -> Vec<(String, String)> {
    app.all(&tid("draft-missing"))
        .iter()
        .map(|m| {
            let a = |n| app.wd.attribute(m, n).ok().flatten().unwrap_or_default();
            (a("data-provider"), a("data-field"))
        })
        .collect()
}

#[test]
fn a_prompt_becomes_a_checked_draft_that_is_dry_run_saved_and_run() {
    let Some(app) = App::launch("draft") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());
    let fake = rt.block_on(FakeOpenAi::start());
    let plan = drafted_plan(&target, &fake);
    fake.push_reply(CannedReply::text(&plan.to_string()));
    fake.push_reply(CannedReply::text("Dry-run summary."));
    fake.push_reply(CannedReply::text("Version 2 is out, with faster runs."));

    // 1. Describe it and ask the local server.
    app.nav("plans");
    app.click(&tid("draft-plan"));
    app.fill(&tid("draft-prompt"), PROMPT);
    app.select(&tid("draft-provider"), "openai_compatible");
    app.fill(&tid("draft-base-url"), fake.base_url());
    app.fill(&tid("draft-model"), "local-model");
    app.click(&tid("draft-submit"));

    // 2. The draft is checked and shown: steps in words, references, and the
    //    credential it still needs.
    let result = format!("{}[data-valid=\"true\"]", tid("draft-result"));
    app.el(&result);
    assert_eq!(app.shown_error(), None);
    let steps = app.all(&tid("draft-step"));
    assert_eq!(steps.len(), 3);
    let step_text = |i: usize| app.wd.text(&steps[i]).unwrap_or_default();
    assert!(step_text(0).contains("GET"), "{}", step_text(0));
    assert!(step_text(1).contains("uses the result of step 1"), "{}", step_text(1));
    assert!(step_text(2).contains("uses the result of step 2"), "{}", step_text(2));
    assert_eq!(missing_listed(&app), [("openai".to_string(), "api_key".to_string())]);
    app.screenshot("draft-missing-credentials");

    // The model was asked once, in JSON mode, with the catalogue and the plan's
    // schema, and no credential (none is set; a local server needs none).
    let asked = fake.only_request();
    let body = asked.json();
    assert_eq!(body["model"], "local-model");
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(
        system.contains("\"name\":\"webhook\"") && system.contains("post_request"),
        "no catalogue"
    );
    assert!(system.contains("JSON Schema"), "no schema in the prompt");
    assert_eq!(asked.header("authorization"), None);
    assert!(body.to_string().contains(PROMPT));

    // 3. Set the missing key in Credentials; the draft waits on its screen.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let key = format!("sk-draft-e2e-{nanos}");
    app.click(&tid("draft-set-credentials"));
    let field = format!(
        "{}[data-provider=\"openai\"][data-field=\"api_key\"]",
        tid("credential-field")
    );
    app.fill(&format!("{field} {}", tid("credential-input")), &key);
    app.click(&format!("{field} {}", tid("credential-save")));
    app.wait_text(&format!("{field} {}", tid("credential-state")), "Set", |t| t == "Set");
    // The model answers on 127.0.0.1, not at api.openai.com: the key goes there
    // only once that origin is allowed for it.
    let allowed = crate::harness::cli(
        &app.data_dir,
        &["credentials", "allow", "openai", "api_key", fake.base_url()],
    );
    assert!(allowed.status.success(), "{allowed:?}");
    app.nav("plans");
    app.click(&tid("draft-plan"));
    app.el(&result);
    app.wait_for("the draft to need no credential", WAIT, || {
        (!app.exists(&tid("draft-missing-credentials"))).then_some(())
    });

    // 4. Open it in the editor and dry-run it: the GET and the model run, the
    //    webhook only says what it would have sent.
    app.click(&tid("draft-open-editor"));
    app.el(&tid("draft-notice"));
    app.click(&tid("dry-run"));
    let rehearsal = format!("{}[data-status=\"success\"]", tid("dry-run-result"));
    app.el(&rehearsal);
    let stubs: Vec<String> = app
        .all(&tid("dry-run-step"))
        .iter()
        .map(|s| app.wd.attribute(s, "data-stub").ok().flatten().unwrap_or_default())
        .collect();
    assert_eq!(stubs, ["false", "false", "true"]);
    let panel_text = app.wd.text(&app.el(&rehearsal)).unwrap_or_default();
    assert!(panel_text.contains("not sent"), "{panel_text}");
    assert!(target.requests_to("/echo").is_empty(), "the dry run called the webhook");
    assert_eq!(target.requests_to("/json").len(), 1);
    app.screenshot("draft-dry-run");

    // 5. Create the plan: stored with the prompt it came from.
    app.click(&tid("save-plan"));
    let stored = app.wait_for("the drafted plan to be saved", WAIT, || {
        app.stored_plan("Release summary")
    });
    assert_eq!(stored["step_count"], 3, "{stored:#}");
    let exported = app.cli_json(&["plans", "export", "Release summary"]);
    assert_eq!(exported["original_prompt"], PROMPT, "{exported:#}");
    assert!(!exported.to_string().contains(&key), "the export holds the key");

    // 6. Run it: the summary reaches the webhook.
    app.click(&tid("run-now"));
    let posted = app.wait_for(
        "the webhook peer to receive the summary",
        Duration::from_secs(30),
        || target.requests_to("/echo").into_iter().next(),
    );
    assert_eq!(posted.json(), json!({"text": "Version 2 is out, with faster runs."}));
    check_run_view(&app, &format!("{} ", tid("editor-run")), 3);

    // The model's step got the key in its Authorization header, and the release it summarised.
    let chats: Vec<_> = fake.requests().into_iter().skip(1).collect();
    assert_eq!(chats.len(), 2, "one call in the dry run, one in the run");
    let message = sample_json()["message"].as_str().unwrap_or_default().to_string();
    for chat in &chats {
        assert_eq!(chat.header("authorization"), Some(format!("Bearer {key}").as_str()));
        assert!(chat.text().contains(&message), "{}", chat.text());
    }
    assert_eq!(
        attribute(&app, &tid("editor-run"), "data-status").as_deref(),
        Some("success")
    );

    // Leave the shared Secret Service as it was.
    app.invoke("delete_credential", json!({"provider": "openai", "field": "api_key"}));
}
