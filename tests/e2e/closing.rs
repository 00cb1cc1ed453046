//! Closing and quitting (issue 14, item 5): the first close says Flowpilot keeps
//! running and how to quit (asserted in `schedule`, which closes the window);
//! Settings has "Quit Flowpilot", and the choice to quit when the window closes.

use crate::harness::{App, WAIT, tid};
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
