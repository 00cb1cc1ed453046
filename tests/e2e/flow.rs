//! Conditions, loops and replays in the real window. In the editor: fetch a list
//! from a peer on 127.0.0.1, test that step, then with the reference picker give
//! a step an "Only if…" that is false and another a "For each item of…" over the
//! list; run it and see the skipped step with its compared values and the item
//! rows. Then add a step against an endpoint that fails once, run again (it
//! fails), and replay from the failed step on the run page: the new run succeeds,
//! links back to the original (which lists it), and the peer's request log shows
//! that the earlier steps' endpoint was not called again.

use crate::editor::{add_step, field_errors};
use crate::harness::{App, WAIT, runtime, step, tid};
use flowpilot_tests::target::Target;
use serde_json::json;

const PLAN: &str = "E2E only if, for each, replay";

/// The picker of the field `field` (a `data-field`) in step `index`: open it and pick `reference`.
pub fn pick(app: &App, index: usize, field: &str, reference: &str) {
    let scope = format!("{} [data-field=\"{field}\"]", step(index, ""));
    click_centered(app, &format!("{scope} {}", tid("ref-picker")));
    app.click(&format!("{scope} {}[data-ref=\"{reference}\"]", tid("ref-option")));
}

/// The run page's step `n` (from 0), or something inside it.
pub fn run_step(n: usize, inner: &str) -> String {
    let row = format!("{}[data-step-number=\"{n}\"]", tid("run-step"));
    if inner.is_empty() {
        row
    } else {
        format!("{row} {}", tid(inner))
    }
}

/// Click `css` in the middle of the window: the editor's sticky header would take
/// a click on an element scrolled just under it.
pub fn click_centered(app: &App, css: &str) {
    let el = app.el(css);
    if let Err(e) = app.wd.execute(
        "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})",
        vec![el.to_arg()],
    ) {
        app.fail(&format!("scroll to {css}: {e}"));
    }
    app.click(css);
}

pub fn wait_status(app: &App, scope: &str, status: &str) {
    app.wait_text(&format!("{scope}{}", tid("run-status")), status, |t| {
        t.eq_ignore_ascii_case(status)
    });
}

#[test]
fn a_condition_and_a_loop_built_with_the_picker_run_and_a_failed_run_replays_from_its_failed_step() {
    let Some(app) = App::launch("flow") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());

    app.nav("plans");
    app.click(&tid("new-plan"));
    app.fill(&tid("plan-name"), PLAN);

    // 1. Fetch the peer's JSON ({"message": "hello", "items": [1, 2, 3], ...}); test it, so the
    //    picker knows its fields.
    add_step(&app, 0, "http", "request", "fetch");
    app.set_field(&step(0, "param-method"), "GET");
    app.fill(&step(0, "param-url"), &target.url("/json"));
    click_centered(&app, &step(0, "step-test"));
    app.wait_wd("the tested step's result", WAIT, || {
        let el = app.wd.find(&step(0, "step-result"))?;
        Ok((app.wd.attribute(&el, "data-status")?.as_deref() == Some("success")).then_some(()))
    });

    // 2. Only if the message is "goodbye" (it is "hello": skipped).
    add_step(&app, 1, "logic", "set", "farewell");
    app.fill(&step(1, "param-value"), "\"bye\"");
    click_centered(&app, &step(1, "step-when-add"));
    pick(&app, 1, "when-left", "${steps.fetch.output.message}");
    app.select(&step(1, "when-op"), "eq");
    app.fill(&step(1, "when-right"), "goodbye");

    // 3. For each item of the list: the item itself.
    add_step(&app, 2, "logic", "set", "each");
    click_centered(&app, &step(2, "step-for-each-add"));
    pick(&app, 2, "for-each-list", "${steps.fetch.output.items}");
    pick(&app, 2, "value", "${item}");

    app.wait_for("no field errors in the editor", WAIT, || {
        field_errors(&app).is_empty().then_some(())
    });
    app.screenshot_at(&step(1, "step-when"), "flow-editor-when-for-each");

    app.click(&tid("save-plan"));
    let stored = app.wait_for("the plan to be saved", WAIT, || app.stored_plan(PLAN));
    assert_eq!(stored["step_count"], 3, "{stored:#}");
    let file = app.cli_json(&["plans", "export", PLAN]);
    let steps = &file["steps"];
    assert_eq!(
        steps[1]["when"],
        json!({"left": "${steps.fetch.output.message}", "op": "eq", "right": "goodbye"}),
        "{file:#}"
    );
    assert_eq!(steps[2]["for_each"], "${steps.fetch.output.items}", "{file:#}");
    assert_eq!(steps[2]["params"]["value"], "${item}", "{file:#}");

    // Run it: step 2 is skipped with the values it compared, step 3 ran three items.
    app.click(&tid("run-now"));
    let inline = format!("{} ", tid("editor-run"));
    wait_status(&app, &inline, "success");
    click_centered(&app, &tid("open-run"));
    wait_status(&app, "", "success");
    let skipped = app.el(&run_step(1, ""));
    assert_eq!(
        app.wd.attribute(&skipped, "data-status").ok().flatten().as_deref(),
        Some("skipped")
    );
    let compared = app.wait_text(&run_step(1, "condition-compared"), "the compared values", |t| {
        t.contains("hello") && t.contains("goodbye")
    });
    assert!(compared.contains("is equal to"), "{compared}");
    let counts = app.wait_text(&run_step(2, "step-item-counts"), "the item counts", |t| {
        t.contains("3 items")
    });
    assert!(counts.contains("3 succeeded"), "{counts}");
    let items = app.all(&run_step(2, "step-item"));
    assert_eq!(items.len(), 3);
    for item in &items {
        assert_eq!(
            app.wd.attribute(item, "data-status").ok().flatten().as_deref(),
            Some("success")
        );
    }
    app.screenshot_at(&run_step(1, ""), "flow-run-skipped-and-items");

    // A fourth step against an endpoint that fails once (400: not retried).
    app.edit_plan(PLAN);
    add_step(&app, 3, "http", "request", "flaky");
    app.set_field(&step(3, "param-method"), "GET");
    app.fill(&step(3, "param-url"), &target.url("/flaky/replay?fail=1&status=400"));
    app.wait_for("no field errors in the editor", WAIT, || {
        field_errors(&app).is_empty().then_some(())
    });
    app.click(&tid("save-plan"));
    app.wait_for("version 2 to be saved", WAIT, || {
        app.stored_plan(PLAN).filter(|p| p["step_count"] == 4)
    });
    app.click(&tid("run-now"));
    wait_status(&app, &inline, "failed");
    click_centered(&app, &tid("open-run"));
    wait_status(&app, "", "failed");
    let failed_step = app.el(&run_step(3, ""));
    assert_eq!(
        app.wd.attribute(&failed_step, "data-status").ok().flatten().as_deref(),
        Some("error")
    );
    let original = app
        .wd
        .execute("return location.hash.replace('#/runs/', '')", vec![])
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(!original.is_empty(), "no run id in the address");
    app.screenshot_at(&run_step(3, ""), "flow-run-failed");

    // Replay from the failed step: the earlier steps are taken over, not run again.
    let fetched = target.requests_to("/json").len();
    assert_eq!(target.requests_to("/flaky/replay").len(), 1);
    click_centered(&app, &run_step(3, "step-replay"));
    app.wait_for("the replay's page", WAIT, || {
        let hash = app.wd.execute("return location.hash", vec![]).ok()?;
        let hash = hash.as_str()?.to_string();
        (hash.starts_with("#/runs/") && !hash.ends_with(&original)).then_some(())
    });
    wait_status(&app, "", "success");
    let back = app.el(&tid("run-replay-of-link"));
    let href = app.wd.attribute(&back, "href").ok().flatten().unwrap_or_default();
    assert!(href.ends_with(&format!("#/runs/{original}")), "{href}");
    for n in 0..3 {
        app.el(&run_step(n, "step-reused"));
    }
    let replayed = app.el(&run_step(3, ""));
    assert_eq!(
        app.wd.attribute(&replayed, "data-status").ok().flatten().as_deref(),
        Some("success")
    );
    assert_eq!(
        target.requests_to("/json").len(),
        fetched,
        "the replay fetched /json again"
    );
    assert_eq!(target.requests_to("/flaky/replay").len(), 2);
    app.screenshot("flow-replay");

    // The original lists its replay.
    app.click(&tid("run-replay-of-link"));
    wait_status(&app, "", "failed");
    app.el(&tid("run-replay-link"));
    app.screenshot_at(&tid("run-replays"), "flow-original-with-replay");

    // The CLI sees the link too.
    let runs = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"]);
    let replay_of: Vec<_> = runs["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["replay_of"].clone())
        .collect();
    assert!(replay_of.contains(&json!(original)), "{runs:#}");
}
