//! `flowpilot-cli integrations` as a person uses it: one's own definition
//! imported from a file, listed, shown, exported, used by a plan (also by the
//! seeds' `custom_<id>` name), replaced only when asked, removed; built-in
//! names and broken files refused with located problems.

use flowpilot_tests::cli::Cli;
use serde_json::{Value, json};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/integration/fixtures/items_api.json");

fn cli(dir: &Path) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), dir)
}

#[test]
fn ones_own_integration_is_imported_listed_used_exported_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let cli = cli(data.path());
    let out = cli.run(&["integrations", "import", FIXTURE]);
    assert!(out.success(), "{}", out.all());
    assert!(out.stdout.contains("as `items_api`"), "{}", out.stdout);

    let list = cli.run(&["integrations", "list", "--json"]).json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for builtin in ["notion", "telegram", "slack", "discord", "github"] {
        assert!(names.contains(&builtin), "{names:?}");
    }
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "items_api")
        .unwrap();
    assert_eq!(mine["builtin"], false);
    assert_eq!(mine["actions"], json!(["add_item", "get_item", "raw_request"]));
    assert_eq!(
        mine["secrets"][0],
        json!({"name": "api_key", "label": "API key", "optional": false, "set": false})
    );

    // A plan may use it by name, or as the seeds did, custom_<id>.
    let plan = json!({"name": "uses it", "steps": [
        {"provider": "items_api", "action": "get_item", "params": {"id": "1"}},
        {"provider": "custom_items_api", "action": "add_item", "params": {"name": "x"}},
        {"provider": "items_api", "action": "get_item", "params": {"idd": "1"}}
    ]});
    let file = data.path().join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    let checked = cli.run(&["check", &file.to_string_lossy(), "--json"]);
    let report = checked.json().to_string();
    assert!(report.contains("steps[2].params.id"), "{report}");
    assert!(report.contains("steps[2].params.idd"), "{report}");
    assert!(!report.contains("steps[1]"), "custom_items_api resolves: {report}");

    let shown: Value = serde_json::from_str(&cli.run(&["integrations", "show", "items_api"]).stdout).unwrap();
    assert_eq!(shown["name"], "items_api");
    let exported = data.path().join("out.json");
    assert!(
        cli.run(&[
            "integrations",
            "export",
            "items_api",
            "--out",
            &exported.to_string_lossy()
        ])
        .success()
    );
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    let original: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    assert_eq!(exported, original);

    // Importing it again replaces it only when asked.
    let again = cli.run(&["integrations", "import", FIXTURE]);
    assert_eq!(again.code, Some(2), "{}", again.all());
    assert!(again.stderr.contains("--replace"), "{}", again.stderr);
    assert!(cli.run(&["integrations", "import", "--replace", FIXTURE]).success());

    let removed = cli.run(&["integrations", "remove", "items_api"]);
    assert!(removed.success(), "{}", removed.all());
    let list = cli.run(&["integrations", "list", "--json"]).json();
    assert!(!list.to_string().contains("items_api"));
    assert!(
        !cli.run(&["integrations", "remove", "notion"]).success(),
        "a built-in stays"
    );
}

#[test]
fn built_in_names_and_broken_definitions_are_refused_with_located_problems() {
    let data = tempfile::tempdir().unwrap();
    let cli = cli(data.path());
    let mut taken: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    taken["name"] = json!("notion");
    let file = data.path().join("notion.json");
    std::fs::write(&file, taken.to_string()).unwrap();
    let out = cli.run(&["integrations", "import", &file.to_string_lossy()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("name: `notion` is the name of a provider that comes with Flowpilot"),
        "{}",
        out.stderr
    );

    let mut broken: Value = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    broken["actions"]["add_item"]["body"]["name"] = json!("${params.nmae}");
    let file = data.path().join("broken.json");
    std::fs::write(&file, broken.to_string()).unwrap();
    let out = cli.run(&["integrations", "import", &file.to_string_lossy()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("actions.add_item.body.name: ${params.nmae} names no param"),
        "{}",
        out.stderr
    );
}
