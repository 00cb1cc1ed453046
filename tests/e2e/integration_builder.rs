//! One's own API added with the "New integration" form in the real window (no
//! JSON written): a recording peer on 127.0.0.1 with an API key in a header,
//! its secret set on the Integrations screen, a plan built in the editor with
//! the integration's action (the provider picker lists it), run; the peer gets
//! the key in its header and the templated body, and the run detail never
//! shows the key.

use crate::editor::{add_step, field_errors};
use crate::harness::{App, WAIT, runtime, step, tid};
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NAME: &str = "e2e_crm";
const PLAN: &str = "E2E own integration";

/// Type into a field whose value is taken when it is left (a name), then leave it.
fn fill_and_leave(app: &App, css: &str, text: &str, then_click: &str) {
    app.fill(css, text);
    app.click(then_click);
}

#[test]
fn an_integration_built_with_the_form_is_used_by_a_plan_and_sends_its_key_and_body() {
    let Some(app) = App::launch("integration_builder") else {
        return;
    };
    let rt = runtime();
    let target = rt.block_on(Target::start());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let secret = format!("crm-key-e2e-{nanos}");

    // ---- the form ----
    app.nav("integrations");
    app.click(&tid("integration-new"));
    let form = tid("integration-form");
    app.el(&form);
    app.fill(&tid("integration-name"), NAME);
    app.fill(&tid("integration-title"), "E2E CRM");
    app.fill(&tid("integration-description"), "Contacts in the test CRM");
    app.fill(&tid("integration-base-url"), target.base_url());
    // An API key in a header: choosing the kind adds the secret it needs.
    app.select(&tid("integration-auth-type"), "api_key");
    app.fill(&tid("integration-auth-name"), "X-Api-Key");
    app.fill(&tid("integration-auth-prefix"), "Key ");
    app.wait_for("the auth's secret to be added", WAIT, || {
        app.exists(&format!("{}[data-secret=\"api_key\"]", tid("integration-secret-row")))
            .then_some(())
    });
    app.fill(&tid("integration-secret-label"), "CRM API key");

    // The action: named when its field is left.
    let action = tid("integration-action-form");
    fill_and_leave(
        &app,
        &format!("{action} {}", tid("integration-action-name")),
        "add_contact",
        &format!("{action} {}", tid("integration-action-title")),
    );
    let action = format!("{action}[data-action=\"add_contact\"]");
    let part = |inner: &str| format!("{action} {}", tid(inner));
    app.fill(&part("integration-action-title"), "Add a contact");
    app.fill(&part("integration-action-path"), "/echo");
    app.click(&part("integration-param-add"));
    fill_and_leave(
        &app,
        &part("integration-param-name"),
        "email",
        &part("integration-param-description"),
    );
    app.el(&format!("{action} {}[data-name=\"email\"]", tid("integration-param")));
    app.click(&part("integration-param-required"));
    app.fill(&part("integration-param-description"), "The contact's address");
    app.fill(
        &part("integration-action-body"),
        r#"{"email": "${params.email}", "source": "flowpilot"}"#,
    );
    app.fill(&part("integration-action-success"), "200");
    app.click(&part("integration-action-output-add"));
    fill_and_leave(
        &app,
        &part("integration-action-output-key"),
        "email",
        &part("integration-action-output-value"),
    );
    app.el(&format!(
        "{action} {}[data-key=\"email\"]",
        tid("integration-action-output-row")
    ));
    app.fill(&part("integration-action-output-value"), "/json/email");

    // Checked by the backend as it was typed: nothing left to fix.
    app.wait_text(&tid("integration-form-state"), "no problems", |t| {
        t == "No problems found."
    });
    app.screenshot_at(&form, "integration-builder-form");
    app.click(&tid("integration-form-save"));
    let row = format!("{}[data-name=\"{NAME}\"]", tid("integration-row"));
    app.el(&row);
    assert!(!app.exists(&form), "the form closes once saved");
    let listed = app.cli_json(&["integrations", "list", "--json"]);
    assert!(
        listed.to_string().contains(NAME),
        "the CLI lists the new integration: {listed:#}"
    );

    // ---- its secret, set on the screen ----
    let secret_row = format!("{row} {}[data-secret=\"api_key\"]", tid("integration-secret"));
    app.wait_text(
        &format!("{secret_row} {}", tid("integration-secret-state")),
        "Not set",
        |t| t == "Not set",
    );
    app.fill(&format!("{secret_row} {}", tid("integration-secret-input")), &secret);
    app.click(&format!("{secret_row} {}", tid("integration-secret-save")));
    app.wait_text(
        &format!("{secret_row} {}", tid("integration-secret-state")),
        "Set",
        |t| t == "Set",
    );
    assert_eq!(app.shown_error(), None);

    // ---- a plan with its action, built in the editor ----
    app.nav("plans");
    app.click(&tid("new-plan"));
    app.fill(&tid("plan-name"), PLAN);
    add_step(&app, 0, NAME, "add_contact", "add");
    app.fill(&step(0, "param-email"), "ada@example.com");
    app.wait_for("no field errors in the editor", WAIT, || {
        field_errors(&app).is_empty().then_some(())
    });
    app.click(&tid("save-plan"));
    let stored = app.wait_for("the plan to be saved", WAIT, || app.stored_plan(PLAN));
    assert_eq!(stored["step_count"], 1, "{stored:#}");
    app.click(&tid("run-now"));

    // The peer gets the key in its header and the templated body.
    let got = app.wait_for(
        "the peer to receive the action's request",
        Duration::from_secs(30),
        || target.requests_to("/echo").into_iter().next(),
    );
    assert_eq!(got.method, "POST");
    assert_eq!(got.header("x-api-key"), Some(format!("Key {secret}").as_str()));
    assert_eq!(got.json(), json!({"email": "ada@example.com", "source": "flowpilot"}));

    // The run succeeded with the picked output, and its detail never shows the key.
    let runs = app.wait_for("the run to be listed as a success", WAIT, || {
        let listed = app.cli_json(&["runs", "list", "--plan", PLAN, "--json"]);
        let done = listed["runs"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["status"] == "success"));
        done.then_some(listed)
    });
    let run_id = runs["runs"][0]["id"].as_str().unwrap_or_default().to_string();
    app.open_run(&run_id);
    app.wait_for("the run detail to show the step's output", WAIT, || {
        app.page_text().contains("ada@example.com").then_some(())
    });
    // Open every details element, so nothing the page holds stays folded away.
    let opened: Value = app
        .wd
        .execute(
            "document.querySelectorAll('details').forEach(d => d.open = true); return true",
            vec![],
        )
        .unwrap_or_else(|e| app.fail(&format!("open the details: {e}")));
    assert_eq!(opened, json!(true));
    app.screenshot("integration-builder-run");
    let source = app.wd.source().unwrap_or_default();
    assert!(!source.contains(&secret), "the run detail's page holds the key");
    assert!(!app.page_text().contains(&secret), "the run detail shows the key");
    let detail = app.cli_json(&["logs", &run_id, "--json"]);
    assert!(!detail.to_string().contains(&secret), "the stored run holds the key");
    assert_eq!(app.shown_error(), None);
}
