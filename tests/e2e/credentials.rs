//! Store an API key through the Credentials screen: it is reported as set, never
//! displayed (not in the DOM, not in any field), and it is in the Secret Service.

use crate::harness::{App, tid};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether the Secret Service holds `secret` under Flowpilot's service for
/// `<provider>/<field>` in some data folder's scope (`<scope>/openai/api_key`),
/// asked with libsecret's CLI. Secrets are unique per test run, so another
/// scenario's entries (other scopes) never match.
fn secret_service_holds(entry: &str, secret: &str) -> bool {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", "flowpilot"])
        .output()
        .expect("run secret-tool (libsecret-tools)");
    // Blocks of `key = value` lines, one per item; the secret and attributes are in both streams' text.
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.split("\n[").any(|item| {
        let value = |key: &str| {
            item.lines().find_map(|l| {
                l.strip_prefix(key)
                    .map(|v| v.trim_start_matches(" = ").trim().to_string())
            })
        };
        let user = value("attribute.username").unwrap_or_default();
        (user == entry || user.ends_with(&format!("/{entry}"))) && value("secret").as_deref() == Some(secret)
    })
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

    // In the Secret Service, under Flowpilot's service and `<data folder scope>/provider/field`.
    assert!(
        secret_service_holds("openai/api_key", &secret),
        "not in the Secret Service"
    );

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
    assert!(
        !secret_service_holds("openai/api_key", &secret),
        "still in the Secret Service"
    );
}
