//! The app binary starts under Xvfb, shows a real window and answers a command.

use crate::harness::{App, WAIT, tid};

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn the_app_starts_in_a_real_window_and_answers_a_command() {
    let Some(app) = App::launch("smoke") else { return };

    // A real, mapped X11 window of this process.
    let windows = app.wait_for("the app's window on the display", WAIT, || {
        Some(app.windows()).filter(|w| !w.is_empty())
    });
    assert!(windows.iter().any(|w| w.title == "Flowpilot"), "{windows:?}");

    // The page shows the version it got from the backend, under Settings (waiting
    // for the navigation to render first).
    app.el(&tid("nav-settings"));
    app.nav("settings");
    app.wait_for(&format!("the page to show version {VERSION}"), WAIT, || {
        app.page_text().contains(VERSION).then_some(())
    });

    // A command, called from the page like the UI calls it.
    let health = app.invoke("health", serde_json::json!({}));
    assert_eq!(health["version"], VERSION, "{health}");
    assert_eq!(
        health["data_dir"].as_str(),
        Some(app.data_dir.to_str().expect("a UTF-8 path")),
        "the app uses the scenario's own data folder: {health}"
    );
    assert_eq!(
        health["keychain"]["available"], true,
        "the Secret Service is up: {health}"
    );
    assert!(app.data_dir.join("flowpilot.db").is_file());
    assert_eq!(app.shown_error(), None);

    app.screenshot("smoke");
}
