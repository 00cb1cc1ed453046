//! Build a 3-step plan in the editor (HTTP fetch → logic extract → webhook post)
//! against a peer on 127.0.0.1, save it, run it, see every step succeed with its
//! latency in the run view, and the webhook peer receive the right body.

use crate::harness::{App, WAIT, runtime, step, tid};
use flowpilot_tests::target::{Target, sample_json};
use serde_json::{Value, json};
use std::time::Duration;

const PLAN: &str = "E2E fetch, extract, post";

/// Add step `index` with its provider, action and (unless empty) id.
pub fn add_step(app: &App, index: usize, provider: &str, action: &str, id: &str) {
    app.click(&tid("add-step"));
    app.el(&step(index, ""));
    app.select(&step(index, "step-provider"), provider);
    app.select(&step(index, "step-action"), action);
    if !id.is_empty() {
        app.fill(&step(index, "step-id"), id);
    }
}

/// The field errors the editor shows now, as (data-path, text).
pub fn field_errors(app: &App) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for el in app.all(&tid("field-error")) {
        if app.wd.displayed(&el).unwrap_or(false) {
            let path = app.wd.attribute(&el, "data-path").ok().flatten().unwrap_or_default();
            let text = app.wd.text(&el).unwrap_or_default();
            if !text.trim().is_empty() {
                out.push((path, text));
            }
        }
    }
    out
}

/// A param of any JSON type (like `logic.extract`'s `input`) holding a reference:
/// typed as is in a text input, as a JSON string in a JSON field (a textarea).
fn fill_any_param(app: &App, index: usize, name: &str, text: &str, as_json: bool) {
    let value = if as_json {
        json!(text).to_string()
    } else {
        text.to_string()
    };
    app.fill(&step(index, &format!("param-{name}")), &value);
}

fn is_textarea(app: &App, css: &str) -> bool {
    let el = app.el(css);
    app.wd
        .property(&el, "tagName")
        .ok()
        .and_then(|t| t.as_str().map(|t| t.eq_ignore_ascii_case("textarea")))
        .unwrap_or(false)
}

#[test]
fn a_three_step_plan_built_in_the_editor_runs_and_the_webhook_gets_the_right_body() {
    let Some(app) = App::launch("editor") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());

    app.nav("plans");
    app.click(&tid("new-plan"));
    app.fill(&tid("plan-name"), PLAN);
    app.fill(&tid("plan-description"), "Built step by step by the end-to-end test.");

    // 1. Fetch JSON from the peer.
    add_step(&app, 0, "http", "request", "fetch");
    app.set_field(&step(0, "param-method"), "GET");
    app.fill(&step(0, "param-url"), &target.url("/json"));

    // 2. Extract one value from it.
    add_step(&app, 1, "logic", "extract", "latest");
    let input_css = step(1, "param-input");
    let mut input_as_json = is_textarea(&app, &input_css);
    fill_any_param(&app, 1, "input", "${steps.fetch.output}", input_as_json);
    app.fill(&step(1, "param-path"), "$.message");

    // 3. Post it to the webhook peer.
    add_step(&app, 2, "webhook", "post_request", "");
    app.fill(&step(2, "param-url"), &target.url("/echo"));
    let payload = json!({
        "text": "Newest release: ${steps.latest.output}",
        "release": "${steps.latest.output}",
        "plan": "${plan.name}",
    });
    app.fill(&step(2, "param-payload"), &payload.to_string());

    // Validation runs as one types: once it settles there is nothing to fix.
    // (Should the editor read the reference the other way, type it the other way.)
    if field_errors(&app).iter().any(|(p, _)| p == "steps[1].params.input") {
        input_as_json = !input_as_json;
        fill_any_param(&app, 1, "input", "${steps.fetch.output}", input_as_json);
    }
    app.wait_for("no field errors in the editor", WAIT, || {
        field_errors(&app).is_empty().then_some(())
    });
    app.screenshot("editor-three-steps");

    app.click(&tid("save-plan"));
    let stored = app.wait_for("the plan to be saved", WAIT, || app.stored_plan(PLAN));
    assert_eq!(stored["step_count"], 3, "{stored:#}");
    assert_eq!(app.shown_error(), None);

    app.click(&tid("run-now"));

    // The webhook peer receives the extracted value, resolved in the payload.
    let posted = app.wait_for("the webhook peer to receive the post", Duration::from_secs(30), || {
        target.requests_to("/echo").into_iter().next()
    });
    assert_eq!(posted.method, "POST");
    let body: Value = posted.json();
    let message = sample_json()["message"].clone();
    assert_eq!(
        body,
        json!({
            "text": format!("Newest release: {}", message.as_str().unwrap_or_default()),
            "release": message,
            "plan": PLAN,
        })
    );
    assert_eq!(target.requests_to("/json").len(), 1);

    // The editor shows the run as it goes: it succeeded, each step with its latency.
    check_run_view(&app, &format!("{} ", tid("editor-run")), 3);
    app.screenshot_at(&tid("editor-run"), "editor-run-inline");

    // And so does the run's page, from the Runs screen.
    app.nav("runs");
    app.open_run_row("success");
    check_run_view(&app, "", 3);
    app.screenshot("editor-run-detail");

    // The same run, as the CLI reads it from the app's SQLite file.
    let runs = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"]);
    assert_eq!(runs["total"], 1, "{runs:#}");
    assert_eq!(runs["runs"][0]["status"], "success", "{runs:#}");
}

/// The run view inside `scope` (a CSS prefix ending in a space, or empty): status
/// success, `steps` steps, each successful with its latency and output.
pub fn check_run_view(app: &App, scope: &str, steps: usize) {
    app.wait_text(&format!("{scope}{}", tid("run-status")), "success", |t| {
        t.eq_ignore_ascii_case("success")
    });
    let found = app.wait_wd(&format!("{steps} successful steps in the run view"), WAIT, || {
        let found = app.wd.find_all(&format!("{scope}{}", tid("run-step")))?;
        let mut statuses = Vec::new();
        for s in &found {
            statuses.push(app.wd.attribute(s, "data-status")?.unwrap_or_default());
        }
        Ok((statuses.len() == steps && statuses.iter().all(|s| s == "success")).then_some(found))
    });
    for (i, s) in found.iter().enumerate() {
        let seen = app
            .wd
            .execute(
                r#"const q = id => arguments[0].querySelector(`[data-testid="${id}"]`);
                   return {latency: q('step-latency')?.textContent ?? null,
                           output: q('step-output') !== null,
                           number: arguments[0].getAttribute('data-step-number')};"#,
                vec![s.to_arg()],
            )
            .unwrap_or_else(|e| app.fail(&format!("read run step {i}: {e}")));
        let latency = seen["latency"].as_str().unwrap_or_default();
        assert!(
            latency.chars().any(|c| c.is_ascii_digit()) && latency.trim().ends_with('s'),
            "step {i} shows no latency: {seen}"
        );
        assert_eq!(seen["output"], true, "step {i} shows no output: {seen}");
        assert!(seen["number"].is_string(), "step {i} has no data-step-number: {seen}");
    }
}
