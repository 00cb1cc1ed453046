//! Every file in plans/ is a valid plan; the seeds' newsletter loads unchanged.

use flowpilot_engine::{Plan, Registry};
use std::path::PathBuf;

fn plans_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plans")
}

#[test]
fn every_example_plan_validates() {
    let registry = Registry::builtin();
    let mut count = 0;
    for entry in std::fs::read_dir(plans_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = Plan::from_json(&text, &registry) {
            panic!("{} does not validate:\n{e}", path.display());
        }
        count += 1;
    }
    assert!(count >= 3, "expected the example plans, found {count}");
}

#[test]
fn the_seed_newsletter_loads_unchanged_with_derived_fields() {
    let registry = Registry::builtin();
    let text = std::fs::read_to_string(plans_dir().join("newsletter.json")).unwrap();
    let plan = Plan::from_json(&text, &registry).unwrap();
    assert_eq!(plan.name(), "Email Newsletter");
    assert_eq!(plan.steps()[1].params["payload"]["body"], "${steps.0.output}");
    assert_eq!(plan.required_providers(), vec!["openai", "webhook"]);
    let english = plan.plain_english_steps();
    assert_eq!(english.len(), 2);
    assert!(
        english[0].starts_with("1. ") && english[0].contains("openai.chat_completion"),
        "{english:?}"
    );
    // Exported files carry the derived fields and load again.
    let exported = plan.to_export_json();
    assert_eq!(exported["required_providers"], serde_json::json!(["openai", "webhook"]));
    let again = Plan::from_value(exported, &registry).unwrap();
    assert_eq!(again.file(), plan.file());
}
