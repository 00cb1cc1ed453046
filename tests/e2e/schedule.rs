//! Schedule a failing plan every 3 seconds (6-field cron) in the editor's "When it
//! runs" section, save it with the page's Save, close the window (the app hides
//! in the tray, and says so the first time), and see a scheduled run happen and a
//! failure notification go out on the session bus.

use crate::harness::{App, WAIT, runtime, tid};
use flowpilot_tests::target::Target;
use serde_json::json;
use std::time::Duration;

const PLAN: &str = "E2E scheduled failure";
const CRON: &str = "*/3 * * * * *";

/// How many upcoming fire times the schedule panel lists.
fn next_fire_count(app: &App) -> usize {
    let n = app
        .wd
        .execute(
            r#"const els = document.querySelectorAll('[data-testid="schedule-next"]');
               return els.length === 1 && els[0].children.length > 0 ? els[0].children.length : els.length;"#,
            vec![],
        )
        .unwrap_or_default();
    n.as_u64().unwrap_or(0) as usize
}

#[test]
fn a_plan_scheduled_every_3_seconds_runs_with_the_window_closed_and_its_failure_is_notified() {
    let Some(app) = App::launch("schedule") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());

    // A plan whose one step fails (HTTP 500 from the peer); its file says active.
    let file = app.write_plan(
        "scheduled-failure.json",
        &json!({
            "name": PLAN,
            "description": "Fails on purpose, every 3 seconds.",
            "status": "active",
            "steps": [{"id": "fetch", "provider": "http", "action": "request",
                       "params": {"url": target.url("/status/500")}}],
        }),
    );
    app.import_file(&file);
    app.imported(PLAN);
    // An import arrives off whatever the file says; its review's "Turn on" is the deliberate act.
    app.el(&tid("import-review"));
    app.click(&tid("import-review-activate"));
    app.wait_for("the imported plan to be turned on", WAIT, || {
        app.stored_plan(PLAN).filter(|p| p["status"] == "active")
    });
    app.edit_plan(PLAN);

    // "When it runs": on a schedule, the expression in words and the next 5 fire times.
    crate::flow::click_centered(&app, &tid("trigger-kind-cron"));
    app.fill(&tid("schedule-cron"), CRON);
    app.wait_text(&tid("schedule-description"), "the expression in words", |t| {
        !t.is_empty()
    });
    app.wait_for("5 next fire times", WAIT, || (next_fire_count(&app) == 5).then_some(()));
    app.click(&tid("save-plan"));
    let stored = app.wait_for("the cron trigger to be stored", WAIT, || {
        app.stored_plan(PLAN)
            .filter(|p| p["trigger"]["cron_expression"] == CRON)
    });
    assert_eq!(stored["status"], "active", "{stored:#}");
    // The plan was turned on from its review: the section says when it runs next.
    app.wait_text(&tid("trigger-status"), "the next run", |t| t.contains("next run"));
    app.screenshot_at(&tid("trigger-section"), "schedule-panel");

    // Close the window as a person does: the window goes (the app destroys it,
    // webview and all) and the app keeps running in the tray.
    let runs_before = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"])["total"]
        .as_u64()
        .unwrap_or(0);
    let seen = app.notifications_log().len();
    // The desktop shows tray icons and Flowpilot's is there, so closing asks nothing.
    app.wait_for("the tray icon registered with the desktop's tray host", WAIT, || {
        (!app.tray_items().is_empty()).then_some(())
    });
    app.close_window();
    assert!(
        app.is_running(),
        "closing the window must leave the app running in the tray"
    );
    // The first close says so, and how to quit.
    app.wait_for("the first-close notification on the session bus", WAIT, || {
        app.notifications_log()[seen..]
            .contains("string \"Flowpilot keeps running\"")
            .then_some(())
    });
    // And no web engine stays behind in the tray: WebKit's web process ends with
    // the page, its network process a few seconds after the last window.
    app.wait_for("WebKit's processes to end after the window closed", WAIT, || {
        app.webkit_processes().is_empty().then_some(())
    });

    // A scheduled run happens (and fails) with no window.
    let runs = app.wait_for("a scheduled, failed run", Duration::from_secs(45), || {
        let runs = app.cli_json(&["runs", "list", "--plan", PLAN, "--status", "failed", "--json"]);
        let scheduled = runs["runs"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["trigger_kind"] == "cron"));
        (scheduled && runs["total"].as_u64().unwrap_or(0) > runs_before).then_some(runs)
    });
    assert!(!target.requests_to("/status/500").is_empty(), "{runs:#}");

    // The failure notification went out on the session bus.
    let title = format!("string \"{PLAN} failed\"");
    app.wait_for(
        "a Notify call titled \"<plan> failed\" on the session bus",
        WAIT,
        || app.notifications_log().contains(&title).then_some(()),
    );
    let log = app.notifications_log();
    let call = log
        .split("method call")
        .find(|c| c.contains("member=Notify") && c.contains(&title))
        .unwrap_or_default();
    assert!(call.contains("500"), "the notification says why: {call}");

    assert!(app.is_running(), "the app keeps running in the tray");
    assert!(app.windows().is_empty(), "no window came back");
}
