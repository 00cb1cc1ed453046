//! A screenshot of every screen, for a person to look at: Plans (empty, then
//! with plans), the plan editor, Runs, a run's detail, Dashboard, Credentials, Integrations,
//! Settings. On the way: the empty state's one-click example, a file import,
//! and "run now" from the plan list.

use crate::harness::{App, WAIT, import_and_edit, plan_row, runtime, tid};
use flowpilot_tests::target::Target;
use serde_json::json;
use std::time::Duration;

const PLAN: &str = "E2E fetch and extract";
/// The name in plans/newsletter.json.
const EXAMPLE: &str = "Email Newsletter";

#[test]
fn every_screen_has_a_screenshot() {
    let Some(app) = App::launch("screens") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());

    // First start: an empty state that teaches, with the examples one click away.
    app.nav("plans");
    app.el(&tid("empty-state"));
    app.screenshot("plans-empty");
    app.click(&tid("example-newsletter"));
    app.imported(EXAMPLE);

    // A plan of our own, from a file, in the editor.
    let file = app.write_plan(
        "fetch-and-extract.json",
        &json!({
            "name": PLAN,
            "description": "Fetch JSON from a local peer and pick one value.",
            "steps": [
                {"id": "fetch", "provider": "http", "action": "request",
                 "params": {"method": "GET", "url": target.url("/json")}},
                {"id": "message", "provider": "logic", "action": "extract",
                 "params": {"input": "${steps.fetch.output}", "path": "$.message"}},
            ],
        }),
    );
    import_and_edit(&app, &file, PLAN);
    app.el(&crate::harness::step(1, ""));
    app.screenshot("plan-editor");

    // The list, and "run now" from it.
    app.nav("plans");
    app.el(&plan_row(EXAMPLE));
    app.el(&plan_row(PLAN));
    app.screenshot("plans");
    app.click(&format!("{} {}", plan_row(PLAN), tid("plan-run")));
    app.wait_for("the run to call the peer", Duration::from_secs(30), || {
        (!target.requests_to("/json").is_empty()).then_some(())
    });
    // "Run" in the list opens the run's page.
    crate::editor::check_run_view(&app, "", 2);
    app.screenshot("run-detail");

    app.nav("runs");
    app.el(&format!("{}[data-status=\"success\"]", tid("run-row")));
    app.screenshot("runs");

    // The dashboard's figures (its own test ids, beyond the shared contract).
    app.nav("dashboard");
    app.wait_text(&tid("dash-total"), "1 run", |t| t.starts_with('1'));
    app.el(&tid("chart-latency"));
    app.screenshot("dashboard");

    app.nav("credentials");
    app.el(&tid("credential-provider"));
    app.screenshot("credentials");

    // The integrations the app ships, from the real registry.
    app.nav("integrations");
    app.el(&format!("{}[data-name=\"notion\"]", tid("integration-row")));
    app.el(&format!("{}[data-name=\"telegram\"]", tid("integration-row")));
    app.screenshot("integrations");

    app.nav("settings");
    let version = env!("CARGO_PKG_VERSION");
    app.wait_for("Settings to show the version", WAIT, || {
        app.page_text().contains(version).then_some(())
    });
    app.screenshot("settings");
    assert_eq!(app.shown_error(), None);
}
