//! A plan started by a feed, built in the real window: the editor gets "When a
//! feed has a new item" with a feed served on 127.0.0.1, "Fetch a sample" shows
//! the feed's current item, and the reference picker offers its title with that
//! value; the plan posts `${trigger.item.title}` to a recording peer. Turned on,
//! it records what the feed holds and starts nothing (no flood); a new item and
//! "Check now" start exactly one run, which posts the new item's title and
//! shows the item in the run detail as what started it.

use crate::editor::field_errors;
use crate::flow::click_centered;
use crate::harness::{App, WAIT, plan_row, runtime, step, tid};
use flowpilot_tests::feeds::{FeedItem, FeedServer};
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::time::Duration;

const PLAN: &str = "E2E feed to echo";

/// The plan's runs, as the CLI reads them from the app's SQLite file.
fn runs(app: &App) -> Value {
    app.cli_json(&["runs", "list", "--plan", PLAN, "--json"])
}

#[test]
fn a_feed_plan_built_in_the_editor_runs_once_for_a_new_item_and_never_for_the_old_ones() {
    let Some(app) = App::launch("feed_trigger") else { return };
    let rt = runtime();
    let target = rt.block_on(Target::start());
    let feed = rt.block_on(FeedServer::start());
    feed.add_item(FeedItem::new("first").title("Already there"));

    app.nav("plans");
    app.click(&tid("new-plan"));
    app.fill(&tid("plan-name"), PLAN);

    // "When a feed has a new item", at the local feed's address.
    click_centered(&app, &tid("trigger-kind-feed"));
    app.el(&tid("trigger-form-feed"));
    app.fill(&tid("trigger-url"), &feed.rss_url());

    // "Fetch a sample": the feed's current item, fetched without starting anything.
    click_centered(&app, &tid("trigger-fetch-sample"));
    app.wait_text(
        &tid("trigger-sample-value"),
        "the sample to show the feed's item",
        |t| t.contains("Already there"),
    );
    app.screenshot_at(&tid("trigger-section"), "feed-trigger-sample");

    // A step that posts the item's title, picked with the sample's value beside it.
    // (Scrolled to the middle first: the editor's sticky header covers the top of the window.)
    click_centered(&app, &tid("add-step"));
    app.el(&step(0, ""));
    app.select(&step(0, "step-provider"), "webhook");
    app.select(&step(0, "step-action"), "post_request");
    app.fill(&step(0, "param-url"), &target.url("/echo"));
    let scope = format!("{} [data-field=\"payload\"]", step(0, ""));
    click_centered(&app, &format!("{scope} {}", tid("ref-picker")));
    let option = format!("{scope} {}[data-ref=\"${{trigger.item.title}}\"]", tid("ref-option"));
    // (The option may sit below the list's fold: its text, not what is in view.)
    let preview = format!("{option} {}", tid("ref-preview"));
    app.wait_for("the picker to preview the item's title", WAIT, || {
        let el = app.wd.find_all(&preview).ok()?.into_iter().next()?;
        let text = app.wd.property(&el, "textContent").ok()?;
        text.as_str()?.contains("Already there").then_some(())
    });
    click_centered(&app, &option);
    app.wait_for("the payload to hold the reference", WAIT, || {
        let el = app.el(&step(0, "param-payload"));
        let value = app.wd.property(&el, "value").ok()?;
        (value.as_str()? == "${trigger.item.title}").then_some(())
    });
    app.wait_for("no field errors in the editor", WAIT, || {
        field_errors(&app).is_empty().then_some(())
    });

    // Saved (off), then turned on: the trigger records what the feed holds.
    app.click(&tid("save-plan"));
    let stored = app.wait_for("the plan to be saved", WAIT, || app.stored_plan(PLAN));
    assert_eq!(stored["trigger"]["type"], "feed", "{stored:#}");
    click_centered(&app, &tid("trigger-turn-on"));
    app.wait_for("the plan to be on", WAIT, || {
        app.stored_plan(PLAN).filter(|p| p["status"] == "active")
    });
    app.wait_text(&tid("trigger-health"), "the trigger to be watched", |t| {
        t.starts_with("Watching")
    });
    // The first check (the baseline) is done once the trigger has a last check.
    app.wait_for("the trigger's first check", WAIT, || {
        let listed = app.cli_json(&["triggers", "list", "--json"]);
        let mine = listed.as_array()?.iter().find(|t| t["plan_name"] == PLAN)?.clone();
        mine["last_check_at"].is_string().then_some(())
    });
    app.el(&tid("trigger-last-check"));
    assert_eq!(runs(&app)["total"], 0, "the item already in the feed started a run");
    assert!(target.requests_to("/echo").is_empty());

    // A new item, and "Check now": exactly one run, for it.
    feed.add_item(FeedItem::new("second").title("Fresh off the press").published_at(10));
    click_centered(&app, &tid("trigger-check-now"));
    app.wait_text(&tid("trigger-check-report"), "the check to find one new item", |t| {
        t.starts_with("1 new item")
    });
    let posted = app.wait_for("the run to post the new item's title", Duration::from_secs(30), || {
        target.requests_to("/echo").into_iter().next()
    });
    assert_eq!(posted.json(), json!("Fresh off the press"));
    let listed = app.wait_for("the run to be listed as a success", WAIT, || {
        let listed = runs(&app);
        let done = listed["runs"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["status"] == "success"));
        (done && listed["total"] == 1).then_some(listed)
    });
    let run = &listed["runs"][0];
    assert_eq!(run["trigger_kind"], "feed", "{listed:#}");
    assert_eq!(target.requests_to("/echo").len(), 1, "more than one post");

    // The plan list says the trigger in words, and where it stands.
    app.nav("plans");
    let row = plan_row(PLAN);
    app.wait_text(
        &format!("{row} {}", tid("plan-schedule")),
        "the trigger in words",
        |t| t.starts_with("When the feed ") && t.ends_with("has a new item"),
    );
    app.wait_text(
        &format!("{row} {}", tid("plan-trigger-status")),
        "the next check",
        |t| t.starts_with("Next check"),
    );
    app.screenshot("feed-trigger-plans");

    // The run's page shows the item as what started it.
    let run_id = run["id"].as_str().unwrap_or_default().to_string();
    app.open_run(&run_id);
    app.run_trigger_event_shows("Fresh off the press");
    app.screenshot("feed-trigger-run");
    assert_eq!(runs(&app)["total"], 1, "a second run started");
    assert_eq!(app.shown_error(), None);
}
