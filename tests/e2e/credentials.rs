//! Store an API key through the Credentials screen: it is reported as set, never
//! displayed (not in the DOM, not in any field), and it is in the Secret Service.

use crate::harness::{App, tid};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the Secret Service holds under an entry name, asked with libsecret's CLI.
fn secret_tool_lookup(user: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "flowpilot", "username", user])
        .output()
        .expect("run secret-tool (libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).to_string())
}

/// Every value the page holds in its form fields, and its HTML.
fn page_holds(app: &App, secret: &str) -> bool {
    let values = app
        .wd
        .execute(
            "return Array.from(document.querySelectorAll('input, textarea, select')).map(e => e.value)",
            vec![],
        )
        .unwrap_or_else(|e| app.fail(&format!("read the form fields: {e}")));
    let in_fields = values
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v.as_str() == Some(secret));
    let in_source = app.wd.source().unwrap_or_default().contains(secret);
    in_fields || in_source || app.page_text().contains(secret)
}

#[test]
fn an_api_key_stored_through_the_credentials_screen_is_set_never_shown_and_in_the_secret_service() {
    let Some(app) = App::launch("credentials") else { return };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let secret = format!("sk-e2e-{nanos}");

    let field = format!(
        "{}[data-provider=\"openai\"][data-field=\"api_key\"]",
        tid("credential-field")
    );
    let part = |inner: &str| format!("{field} {}", tid(inner));

    app.nav("credentials");
    app.el(&format!("{}[data-provider=\"openai\"]", tid("credential-provider")));
    app.wait_text(&part("credential-state"), "Not set", |t| t == "Not set");
    let input = app.el(&part("credential-input"));
    assert_eq!(
        app.wd.attribute(&input, "type").ok().flatten().as_deref(),
        Some("password")
    );

    app.fill(&part("credential-input"), &secret);
    app.click(&part("credential-save"));
    app.wait_text(&part("credential-state"), "Set", |t| t == "Set");
    assert_eq!(app.shown_error(), None);

    // Never displayed: not in the DOM, not left in the field.
    assert!(!page_holds(&app, &secret), "the page still holds the saved key");
    app.screenshot_at(&field, "credentials-set");

    // In the Secret Service, under Flowpilot's service and `<data folder's scope>/provider/field`.
    let entry = flowpilot_core::api::Flowpilot::open(flowpilot_core::api::Options {
        data_dir: Some(app.data_dir.clone()),
        ..Default::default()
    })
    .unwrap_or_else(|e| app.fail(&format!("open the app's data folder: {e}")))
    .keychain_entry_name("openai", "api_key");
    assert!(entry.ends_with("/openai/api_key"), "{entry}");
    assert_eq!(secret_tool_lookup(&entry).as_deref(), Some(secret.as_str()));

    // Coming back to the screen: still set, still not shown.
    app.nav("settings");
    app.nav("credentials");
    app.wait_text(&part("credential-state"), "Set", |t| t == "Set");
    assert!(
        !page_holds(&app, &secret),
        "the page shows the saved key after a visit elsewhere"
    );

    // Delete: gone from the screen and from the Secret Service.
    app.click(&part("credential-delete"));
    app.wait_text(&part("credential-state"), "Not set", |t| t == "Not set");
    assert_eq!(secret_tool_lookup("openai/api_key"), None);
}
