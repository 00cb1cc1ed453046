use super::*;
use proptest::prelude::*;
use serde_json::json;

fn scope() -> Scope {
    let mut s = Scope::new(
        json!({"name": "Newsletter"}),
        json!({"id": "run-1"}),
        json!({"type": "manual"}),
    );
    s.push_step(
        None,
        json!({"success": true, "output": "Dear readers", "message": "ok", "metadata": {"usage": {"total_tokens": 42}}}),
    );
    s.push_step(
        Some("draft".into()),
        json!({"success": true, "output": {"items": [{"title": "First", "n": 1}], "weird key": true}, "message": "", "metadata": {}}),
    );
    s
}

#[test]
fn lone_reference_keeps_json_type() {
    let s = scope();
    assert_eq!(resolve_str("${steps.draft.output.items[0].n}", &s).unwrap(), json!(1));
    assert_eq!(
        resolve_str("${steps.draft.output.items}", &s).unwrap(),
        json!([{"title": "First", "n": 1}])
    );
    assert_eq!(
        resolve_str("${steps.0.metadata.usage.total_tokens}", &s).unwrap(),
        json!(42)
    );
    assert_eq!(
        resolve_str("${ steps.1.output[\"weird key\"] }", &s).unwrap(),
        json!(true)
    );
}

#[test]
fn references_inside_text_render_as_text() {
    let s = scope();
    assert_eq!(
        resolve_str("Hi ${plan.name} #${run.id}: ${steps.draft.output.items[0]}", &s).unwrap(),
        json!("Hi Newsletter #run-1: {\"n\":1,\"title\":\"First\"}")
    );
}

#[test]
fn escape_writes_a_literal() {
    assert_eq!(
        resolve_str("cost: $${steps.0.output} and $5", &scope()).unwrap(),
        json!("cost: ${steps.0.output} and $5")
    );
}

#[test]
fn resolved_values_are_never_expanded_again() {
    let mut s = scope();
    Arc::make_mut(&mut s.steps)[0].1["output"] = json!("${plan.name} $${x}");
    assert_eq!(
        resolve_str("${steps.0.output}", &s).unwrap(),
        json!("${plan.name} $${x}")
    );
    assert_eq!(
        resolve_str("say ${steps.0.output}", &s).unwrap(),
        json!("say ${plan.name} $${x}")
    );
}

#[test]
fn a_missing_path_names_the_path() {
    let err = resolve_str("${steps.draft.output.items[3].title}", &scope()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("items[3]"), "{msg}");
    assert!(msg.contains("array of 1 items"), "{msg}");
}

#[test]
fn resolve_reports_the_param_path() {
    let params = json!({"payload": {"to": "a@b", "body": "${steps.5.output}"}});
    let (path, _) = resolve(&params, &scope()).unwrap_err();
    assert_eq!(path, "payload.body");
}

#[test]
fn items_resolve_inside_a_for_each_step_only() {
    let mut s = scope();
    assert!(resolve_str("${item.title}", &s).is_err());
    s.item = Some((json!({"title": "A"}), 3));
    assert_eq!(resolve_str("${item.title} #${item_index}", &s).unwrap(), json!("A #3"));
    assert_eq!(resolve_str("${item_index}", &s).unwrap(), json!(3));
    assert!(parse("${item_index.x}").is_err());
}

#[test]
fn a_skipped_step_is_null_and_a_path_into_it_names_it() {
    let mut s = scope();
    Arc::make_mut(&mut s.steps)[1].1 =
        json!({"success": true, "output": null, "message": "skipped", "metadata": {}, "status": "skipped"});
    assert_eq!(resolve_str("${steps.draft.output}", &s).unwrap(), Value::Null);
    let err = resolve_str("${steps.draft.output.items}", &s).unwrap_err().to_string();
    assert!(err.contains("step `draft` was skipped"), "{err}");
}

#[test]
fn bad_references_are_errors() {
    assert!(matches!(parse("${steps.0.output"), Err(TemplateError::Unclosed(0))));
    assert!(parse("${steps.0}").is_err());
    assert!(parse("${steps.0.outptu}").is_err());
    assert!(parse("${env.HOME}").is_err());
    assert!(parse("${steps.0.output..x}").is_err());
    assert!(parse("${}").is_err());
}

#[test]
fn display_round_trips() {
    for s in [
        "${steps.0.output}",
        "a ${steps.draft.output.items[0][\"x y\"]} b",
        "$${literal}",
        "${trigger.scheduled_for}",
    ] {
        let t = parse(s).unwrap();
        assert_eq!(parse(&t.to_string()).unwrap(), t, "{s}");
    }
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC*") {
        let _ = parse(&s);
        let _ = resolve_str(&s, &scope());
    }

    #[test]
    fn parse_never_panics_on_reference_like_input(s in "[$a-z0-9{}.\\[\\]\"' _-]{0,40}") {
        if let Ok(t) = parse(&s) {
            prop_assert_eq!(parse(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn text_without_dollar_is_unchanged(s in "[^$]*") {
        prop_assert_eq!(resolve_str(&s, &scope()).unwrap(), Value::String(s.clone()));
    }

    #[test]
    fn built_references_round_trip(idx in 0usize..50, keys in proptest::collection::vec("[a-z_][a-z0-9_]{0,6}", 0..4), n in proptest::option::of(0usize..9)) {
        let mut path = vec![PathSeg::Key("output".into())];
        path.extend(keys.into_iter().map(PathSeg::Key));
        if let Some(n) = n { path.push(PathSeg::Index(n)); }
        let r = Reference { root: Root::Step(StepRef::Index(idx)), path };
        let t = parse(&r.to_string()).unwrap();
        prop_assert_eq!(t.as_single_reference(), Some(&r));
    }
}
