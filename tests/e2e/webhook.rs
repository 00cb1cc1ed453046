//! A plan started by a webhook, built in the real window: the editor's "When it
//! runs" gets "When a URL is called", the saved plan shows its URL, and a call
//! to that URL (over HTTP, from outside the app) starts a run whose step sees
//! the call's body, shown in the run detail as what started it. Before that,
//! "Listen for a test event" shows a call without starting a run.

use crate::harness::{App, WAIT, runtime, tid};
use flowpilot_tests::target::Target;
use serde_json::json;
use std::time::Duration;

const PLAN: &str = "E2E webhook to echo";

#[test]
fn a_webhook_plan_built_in_the_editor_runs_when_its_url_is_called() {
    let Some(app) = App::launch("webhook") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());

    // A one-step plan that posts what the call said to the peer; turned on from its review.
    let file = app.write_plan(
        "webhook-to-echo.json",
        &json!({
            "name": PLAN,
            "status": "active",
            "steps": [{"id": "tell", "provider": "webhook", "action": "post_request",
                       "params": {"url": target.url("/echo"), "payload": {"text": "${trigger.payload.message}"}}}],
        }),
    );
    app.import_file(&file);
    app.imported(PLAN);
    app.el(&tid("import-review"));
    app.click(&tid("import-review-activate"));
    app.wait_for("the imported plan to be turned on", WAIT, || {
        app.stored_plan(PLAN).filter(|p| p["status"] == "active")
    });
    app.edit_plan(PLAN);

    // "When a URL is called", answered at once; saved with the page's Save.
    crate::flow::click_centered(&app, &tid("trigger-kind-webhook"));
    app.el(&tid("trigger-form-webhook"));
    app.click(&tid("save-plan"));
    app.wait_for("the webhook trigger to be stored", WAIT, || {
        app.stored_plan(PLAN).filter(|p| p["trigger"]["type"] == "webhook")
    });

    // The section shows the plan's URL once the app's webhook server has it.
    let url = app.wait_for("the webhook URL", WAIT, || {
        app.exists(&tid("trigger-webhook-url"))
            .then(|| app.wd.text(&app.el(&tid("trigger-webhook-url"))).unwrap_or_default())
            .filter(|u| u.starts_with("http://127.0.0.1:") && u.contains("/hooks/"))
    });
    app.screenshot_at(&tid("trigger-section"), "webhook-trigger");

    // "Listen for a test event": the next call is shown and starts no run.
    crate::flow::click_centered(&app, &tid("trigger-listen"));
    app.wait_text(&tid("trigger-listening"), "the editor to wait for a call", |t| {
        t.contains(&url)
    });
    let test_call = rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .json(&json!({"message": "just a test"}))
            .send()
            .await
    });
    let test_call = test_call.unwrap_or_else(|e| app.fail(&format!("call the webhook URL {url}: {e}")));
    assert_eq!(test_call.status().as_u16(), 200);
    app.wait_text(&tid("trigger-sample-value"), "the test call to be shown", |t| {
        t.contains("just a test")
    });
    assert!(!app.exists(&tid("trigger-listening")));
    let listed = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"]);
    assert_eq!(listed["total"], 0, "the test call started a run: {listed:#}");
    assert!(target.requests_to("/echo").is_empty());

    // Called from outside, as a sender would: 202 with the run's id, then the run posts.
    let answer = rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .json(&json!({"message": "deploy finished"}))
            .send()
            .await
    });
    let answer = answer.unwrap_or_else(|e| app.fail(&format!("call the webhook URL {url}: {e}")));
    assert_eq!(answer.status().as_u16(), 202);
    let posted = app.wait_for("the run to post what the call said", Duration::from_secs(30), || {
        target.requests_to("/echo").into_iter().next()
    });
    assert_eq!(posted.json(), json!({"text": "deploy finished"}));

    // The run is in the log, started by the webhook, with the call it saw.
    let runs = app.wait_for("the webhook run to be listed as a success", WAIT, || {
        let listed = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"]);
        let done = listed["runs"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["status"] == "success"));
        done.then_some(listed)
    });
    let run = &runs["runs"][0];
    assert_eq!(run["trigger_kind"], "webhook", "{runs:#}");
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    app.open_run(&run_id);
    app.run_trigger_event_shows("deploy finished");
    app.screenshot("webhook-run");
    assert_eq!(app.shown_error(), None);
}
