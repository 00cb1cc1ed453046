//! Import a plan file with an error: the error shows on the field it belongs to,
//! and nothing invalid is stored.

use crate::editor::field_errors;
use crate::harness::{App, tid};
use serde_json::json;

const PLAN: &str = "E2E import with a bad URL";

#[test]
fn importing_a_plan_file_with_an_error_shows_it_on_its_field() {
    let Some(app) = App::launch("import") else { return };
    let file = app.write_plan(
        "bad-url.json",
        &json!({
            "name": PLAN,
            "steps": [
                {"id": "text", "provider": "logic", "action": "set", "params": {"value": "hello"}},
                {"provider": "http", "action": "request", "params": {"url": "not a url"}},
            ],
        }),
    );

    app.import_file(&file);

    let css = format!("{}[data-path=\"steps[1].params.url\"]", tid("field-error"));
    let message = app.wait_text(&css, "the URL error", |t| !t.is_empty());
    assert!(
        message.contains("not a url") || message.to_lowercase().contains("address"),
        "{message}"
    );
    // On that field only.
    let errors = field_errors(&app);
    assert!(
        errors.iter().all(|(path, _)| path == "steps[1].params.url"),
        "errors elsewhere too: {errors:?}"
    );
    // It sits with the url field of step 2.
    let beside_the_field = app
        .wd
        .execute(
            r#"return Array.from(document.querySelectorAll(arguments[0]))
                 .map(err => err.closest('[data-testid="step"]'))
                 .some(step => step && step.getAttribute('data-index') === '1');"#,
            vec![json!(css)],
        )
        .unwrap_or_default();
    assert_eq!(beside_the_field, json!(true), "the error is not shown inside step 2");
    app.screenshot_at(&css, "import-error");

    // Nothing invalid was stored.
    assert!(app.stored_plan(PLAN).is_none(), "an invalid plan was stored");
}
