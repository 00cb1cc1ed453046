//! Importing plan files. One whose name is taken asks first: import as a copy
//! (beside it) or replace it (its next version). A file that is not JSON says
//! where (line and column), and that error stays on the Plans screen. A file with
//! an error in a field opens in the editor with the error on that field, and
//! nothing invalid is stored.

use crate::editor::field_errors;
use crate::harness::{App, WAIT, plan_row, tid};
use serde_json::json;

const PLAN: &str = "E2E import with a bad URL";
const TWICE: &str = "E2E imported twice";

#[test]
fn importing_a_plan_file_with_an_error_shows_it_on_its_field() {
    let Some(app) = App::launch("import") else { return };

    // A plan, then the same file again: asked, imported as a copy beside it.
    let same = app.write_plan(
        "twice.json",
        &json!({"name": TWICE, "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}),
    );
    app.import_file(&same);
    app.imported(TWICE);
    app.import_file(&same);
    let dialog = app.wait_text(&tid("confirm-dialog"), "the replace-or-copy question", |t| {
        t.contains("exists")
    });
    assert!(dialog.contains(TWICE), "{dialog}");
    app.screenshot("import-name-taken");
    app.click(&tid("confirm-import-copy"));
    let copy = format!("{TWICE} (copy)");
    app.el(&plan_row(&copy));
    assert_eq!(app.stored_plan(TWICE).map(|p| p["version"].clone()), Some(json!(1)));
    // A changed file of that name: replace it, a new version of the plan of that name.
    let changed = app.write_plan(
        "twice.json",
        &json!({"name": TWICE, "steps": [{"provider": "logic", "action": "set", "params": {"value": 2}}]}),
    );
    app.import_file(&changed);
    app.click(&tid("confirm-import-replace"));
    app.wait_for("version 2 of the plan", WAIT, || {
        app.stored_plan(TWICE).filter(|p| p["version"] == 2)
    });
    assert_eq!(
        app.cli_json(&["plans", "list", "--json"]).as_array().map(Vec::len),
        Some(2)
    );

    // Not JSON: where, and the error stays on its screen.
    let broken = app.dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"name\": \"x\",\n  \"steps\": [,]\n}\n").expect("write broken.json");
    app.import_file(&broken);
    let error = app.wait_for("the syntax error", WAIT, || app.shown_error());
    assert!(error.contains("line 3") && error.contains("column"), "{error}");
    app.nav("runs");
    assert_eq!(app.shown_error(), None, "the Plans screen's error followed to Runs");
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
