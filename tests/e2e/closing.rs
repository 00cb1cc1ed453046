//! Closing and quitting (issue 14, item 5): the first close says Flowpilot keeps
//! running and how to quit (asserted in `schedule`, which closes the window);
//! Settings has "Quit Flowpilot", and the choice to quit when the window closes;
//! on a desktop that shows no tray icons, closing the window asks first.

use crate::harness::{App, Desktop, WAIT, tid};
use std::time::Duration;

fn wait_gone(app: &App, what: &str) {
    app.wait_for(what, Duration::from_secs(15), || (!app.is_running()).then_some(()));
}

#[test]
fn quit_flowpilot_in_settings_ends_the_app() {
    let Some(app) = App::launch("quit") else { return };
    app.nav("settings");
    app.click(&tid("quit-app"));
    app.wait_text(&tid("confirm-dialog"), "the question", |t| {
        t.contains("Quit Flowpilot?")
    });
    app.screenshot("settings-quit");
    // The app may be gone before WebDriver answers the click: its answer does not count.
    let ok = app.el(&tid("confirm-ok"));
    let _answer = app.wd.click(&ok);
    wait_gone(&app, "the app to quit");
}

#[test]
fn with_keep_running_off_closing_the_window_quits() {
    let Some(app) = App::launch("quit-on-close") else {
        return;
    };
    app.nav("settings");
    let keep = app.el(&tid("settings-keep-running"));
    assert_eq!(
        app.wd.property(&keep, "checked").ok().and_then(|v| v.as_bool()),
        Some(true)
    );
    app.click(&tid("settings-keep-running"));
    app.click(&tid("settings-save"));
    app.wait_for("the choice to be stored", WAIT, || {
        let settings = app.invoke("get_settings", serde_json::json!({}));
        (settings["keep_running_when_closed"] == false).then_some(())
    });
    app.screenshot_at(&tid("settings-keep-running"), "settings-keep-running-off");
    // Other scenarios share the session bus's log: only what comes from now on counts.
    let seen = app.notifications_log().len();
    app.close_window();
    wait_gone(&app, "the app to quit when its window closed");
    assert!(
        !app.notifications_log()[seen..].contains("Flowpilot keeps running"),
        "told it keeps running, yet it quit"
    );
}

#[test]
fn without_a_tray_host_closing_the_window_asks() {
    let Some(app) = App::launch_on("no-tray", Desktop::NoTray) else {
        return;
    };
    app.nav("settings");
    app.wait_text(&tid("settings-no-tray"), "Settings saying no tray icons show", |t| {
        t.contains("no tray icons")
    });

    // Closed with no icon to come back to: the window stays and asks.
    app.press_close();
    app.wait_text(&tid("confirm-dialog"), "the close question", |t| {
        t.contains("without a tray icon")
    });
    assert!(!app.windows().is_empty(), "the window stays while it asks");
    app.screenshot("close-without-tray");
    app.click(&tid("confirm-cancel"));
    app.wait_for("the question to go", WAIT, || {
        (!app.exists(&tid("confirm-dialog"))).then_some(())
    });
    assert!(!app.windows().is_empty(), "\"Keep the window open\" keeps it open");
    app.nav("plans");

    // Asked again, "Keep running in the background": the window goes, the app stays.
    let seen = app.notifications_log().len();
    app.press_close();
    app.wait_text(&tid("confirm-dialog"), "the close question again", |t| {
        t.contains("without a tray icon")
    });
    // The window may be gone before WebDriver answers the click: its answer does not count.
    let keep = app.el(&tid("confirm-keep-running"));
    let _answer = app.wd.click(&keep);
    app.wait_for("the window to go after \"Keep running\"", WAIT, || {
        app.windows().is_empty().then_some(())
    });
    assert!(app.is_running(), "the app keeps running without its window");
    // The first close says how to come back without a tray icon.
    app.wait_for("the first-close notification", WAIT, || {
        let log = app.notifications_log();
        (log[seen..].contains("Flowpilot keeps running") && log[seen..].contains("no tray icon")).then_some(())
    });
    assert!(app.tray_items().is_empty(), "no tray host, no icon registered");
}
