use super::prompt::shareable_url;
use super::reply::{extract_json, rough_summary, step_links};
use super::*;

#[test]
fn replies_are_found_inside_fences_thinking_and_prose() {
    assert_eq!(extract_json(" {\"a\": 1} "), "{\"a\": 1}");
    assert_eq!(extract_json("```json\n{\"a\": 1}\n```"), "{\"a\": 1}");
    assert_eq!(extract_json("Here it is:\n```\n{\"a\": 1}\n```\nEnjoy."), "{\"a\": 1}");
    assert_eq!(extract_json("```json\n{\"a\": 1}"), "{\"a\": 1}");
    assert_eq!(extract_json("<think>plan {x}</think>\n{\"a\": 1}"), "{\"a\": 1}");
    assert_eq!(
        extract_json("Sure! {\"a\": {\"b\": 2}} Hope it helps."),
        "{\"a\": {\"b\": 2}}"
    );
    assert_eq!(extract_json("no json here"), "no json here");
}

#[test]
fn escaping_survives_the_executor_round_trip() {
    let original = json!({"content": "use ${steps.0.output}, or $${ for a literal", "n": 1, "list": ["${run.id}"]});
    let mut escaped = original.clone();
    escape_references(&mut escaped);
    assert_eq!(escaped["content"], "use $${steps.0.output}, or $$${ for a literal");
    let resolved = template::resolve(&escaped, &Scope::default()).unwrap();
    assert_eq!(resolved, original);
}

#[test]
fn the_plan_schema_accepts_the_example_plans() {
    let registry = Registry::builtin();
    let schema = plan_schema(&registry);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // What Flowpilot sets or derives itself is not part of the model's answer.
        let map = plan.as_object_mut().unwrap();
        for derived in ["original_prompt", "required_providers", "plain_english_steps", "status"] {
            map.remove(derived);
        }
        let problems =
            flowpilot_engine::schema::problems_under(&schema, &plan, flowpilot_engine::schema::Members::Fields, false);
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
        checked += 1;
    }
    assert!(checked >= 3);
    let bad = json!({"name": "x", "steps": [{"provider": "fax", "action": "send", "params": {}, "extra": 1}]});
    assert!(
        !flowpilot_engine::schema::problems_under(&schema, &bad, flowpilot_engine::schema::Members::Fields, false)
            .is_empty()
    );
}

#[test]
fn links_follow_indexes_and_ids_to_earlier_steps_only() {
    let plan = json!({"steps": [
        {"id": "a", "params": {"x": 1}},
        {"params": {"x": "${steps.a.output} and ${steps.0.message}", "y": ["${steps.2.output}"]}},
        {"id": "c", "params": {"x": {"deep": "${steps.1.output.k}"}, "z": "${steps.ghost.output}"}},
        {"params": {"x": "${steps.c.output}", "y": "$${steps.0.output}"}}
    ]});
    assert_eq!(
        step_links(&plan),
        vec![
            StepLink { from: 1, to: 0 },
            StepLink { from: 2, to: 1 },
            StepLink { from: 3, to: 2 }
        ]
    );
    assert!(step_links(&Value::Null).is_empty());
}

#[test]
fn replies_are_checked_like_plan_files_with_the_prompt_kept() {
    let registry = Registry::builtin();
    let ok = check_reply(
        r#"{"name": "t", "original_prompt": "not this", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}"#,
        "set one",
        &registry,
    );
    assert!(ok.valid.is_some() && ok.issues.is_empty());
    assert_eq!(ok.plan["original_prompt"], "set one");

    let bad = check_reply(
        r#"{"name": "t", "steps": [{"provider": "fax", "action": "send"}]}"#,
        "p",
        &registry,
    );
    assert!(bad.valid.is_none());
    assert_eq!(bad.issues[0].path, "steps[0].provider");
    let (providers, lines) = rough_summary(&bad.plan, &registry);
    assert!(providers.is_empty());
    assert_eq!(lines, vec!["1. not in the catalogue (fax.send)"]);

    let broken = check_reply("{\"name\": ", "p", &registry);
    assert_eq!(broken.plan, Value::Null);
    assert!(
        broken.issues[0]
            .message
            .starts_with("the reply is not valid JSON (line 1"),
        "{:?}",
        broken.issues
    );
}

#[test]
fn server_addresses_lose_their_secrets_before_they_reach_the_prompt() {
    assert_eq!(shareable_url("http://localhost:11434"), "http://localhost:11434");
    assert_eq!(
        shareable_url(" https://bob:pw@proxy.test:8443/v1?key=s3cret#x"),
        "https://proxy.test:8443/v1"
    );
    assert_eq!(shareable_url("http://token@h/a@b"), "http://h/a@b");
    assert_eq!(shareable_url("localhost:1234"), "localhost:1234");
}

#[test]
fn only_a_bad_request_may_be_a_refused_format() {
    assert!(may_refuse_format(ErrorCode::Http(400)));
    assert!(may_refuse_format(ErrorCode::Http(422)));
    assert!(!may_refuse_format(ErrorCode::Http(401)));
    assert!(!may_refuse_format(ErrorCode::Http(500)));
    assert!(!may_refuse_format(ErrorCode::Timeout));
}

#[test]
fn the_prompt_carries_the_catalogue_and_names_no_credential_values() {
    let registry = Registry::builtin();
    let request = DraftRequest {
        prompt: "p".into(),
        provider: "openai_compatible".into(),
        base_url: Some("http://localhost:11434".into()),
        model: Some("llama3.1".into()),
    };
    let schema = plan_schema(&registry);
    let text = system_prompt(&registry, "openai_compatible", &request, Some(&schema));
    for p in registry.providers() {
        assert!(text.contains(&format!("\"name\":\"{}\"", p.name())), "{}", p.name());
        for a in p.actions() {
            assert!(text.contains(&a.description), "{}", a.description);
        }
    }
    assert!(text.contains("${steps.0.output}") && text.contains("${steps.<id>.output}"));
    assert!(text.contains("# JSON Schema of the answer"));
    assert!(text.contains("base_url http://localhost:11434 and model llama3.1"));
    let without = system_prompt(&registry, "openai", &request, None);
    assert!(!without.contains("# JSON Schema of the answer"));
}
