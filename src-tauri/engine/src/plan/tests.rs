use super::*;
use crate::registry::Registry;
use serde_json::{Value, json};

fn issues(value: Value) -> Vec<String> {
    match Plan::from_value(value, &Registry::builtin()) {
        Ok(_) => vec![],
        Err(e) => e.issues().into_iter().map(|i| i.to_string()).collect(),
    }
}

fn kinds(value: Value) -> Vec<(String, IssueKind)> {
    match Plan::from_value(value, &Registry::builtin()) {
        Ok(_) => vec![],
        Err(e) => e.issues().into_iter().map(|i| (i.path, i.kind)).collect(),
    }
}

fn has(issues: &[String], prefix: &str) -> bool {
    issues.iter().any(|i| i.starts_with(prefix))
}

#[test]
fn plain_english_steps_are_numbered_and_name_the_method_of_a_request() {
    let plan = Plan::from_value(
        json!({"name": "Words", "steps": [
            {"provider": "http", "action": "request", "params": {"method": "POST", "url": "http://127.0.0.1:9/x"}},
            {"provider": "delay", "action": "wait", "params": {"seconds": 1}}
        ]}),
        &Registry::builtin(),
    )
    .unwrap();
    let words = plan.plain_english_steps();
    assert_eq!(
        words[0],
        "1. Send an HTTP request and return the response body (http.request): POST http://127.0.0.1:9/x"
    );
    assert!(
        words[1].starts_with("2. ") && words[1].ends_with("(delay.wait): 1"),
        "{}",
        words[1]
    );
}

#[test]
fn every_problem_is_collected_with_its_location_and_kind() {
    let found = kinds(json!({
        "name": "broken",
        "steps": [
            {"provider": "nope", "action": "x", "params": {}},
            {"provider": "logic", "action": "fly", "params": {}},
            {"provider": "delay", "action": "wait", "params": {"seconds": "soon"}},
            {"provider": "logic", "action": "set", "params": {"value": "${steps.3.output}"}},
            {"provider": "logic", "action": "set", "params": {"value": "${steps.9.output} ${steps.ghost.output}"}},
            {"provider": "logic", "action": "extract", "params": {"input": 1}}
        ],
        "trigger": {"type": "cron", "cron_expression": "61 * * * *", "timezone": "Mars/Base"}
    }));
    for (path, kind) in [
        ("steps[0].provider", IssueKind::UnknownProvider),
        ("steps[1].action", IssueKind::UnknownAction),
        ("steps[2].params.seconds", IssueKind::InvalidParam),
        ("steps[3].params.value", IssueKind::SelfReference),
        ("steps[4].params.value", IssueKind::ForwardReference),
        ("steps[4].params.value", IssueKind::UnknownStep),
        ("steps[5].params.path", IssueKind::Required),
        ("trigger.cron_expression", IssueKind::BadCron),
    ] {
        assert!(
            found.contains(&(path.to_string(), kind)),
            "missing {path} {kind:?} in {found:#?}"
        );
    }
    let text = issues(
        json!({"name": "tz", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}],
        "trigger": {"type": "cron", "cron_expression": "0 9 * * *", "timezone": "Mars/Base"}}),
    );
    assert!(
        has(&text, "trigger.timezone: unknown time zone `Mars/Base`"),
        "{text:?}"
    );
}

#[test]
fn structural_problems_are_located_per_field_in_words() {
    let found = issues(json!({
        "name": "",
        "steps": [{"action": 3, "params": [], "retry": 0, "timeout_s": -1, "colour": "red"}],
        "status": "live",
        "extra": true
    }));
    for prefix in [
        "name: must not be empty",
        "steps[0].provider: is missing",
        "steps[0].action: must be text",
        "steps[0].params: must be an object",
        "steps[0].retry: must be at least 1",
        "steps[0].timeout_s: must be at least",
        "steps[0].colour: unknown field",
        "status: must be one of draft, active, archived",
        "extra: unknown field",
    ] {
        assert!(has(&found, prefix), "missing `{prefix}` in {found:#?}");
    }
    for i in &found {
        for word in ["anyOf", "oneOf", "schema", "is not valid under"] {
            assert!(!i.contains(word), "schema wording reached a user: {i}");
        }
    }
    let trigger = issues(
        json!({"name": "t", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}],
        "trigger": {"type": "cron"}}),
    );
    assert!(has(&trigger, "trigger.cron_expression: is required"), "{trigger:?}");
    let trigger = issues(
        json!({"name": "t", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}],
        "trigger": {"type": "crn"}}),
    );
    assert!(
        has(&trigger, "trigger.type: must be one of manual, cron"),
        "{trigger:?}"
    );
}

#[test]
fn the_seeds_fields_and_nulls_are_accepted() {
    let found = issues(json!({
        "id": 7, "user_id": 1, "created_at": "x", "updated_at": "y",
        "name": "seed", "trigger": null, "status": null,
        "required_providers": ["logic"], "plain_english_steps": ["1. set"],
        "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}, "retry": null, "continue_on_error": null}]
    }));
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn a_whole_reference_may_stand_for_any_type() {
    let found = issues(json!({"name": "ok", "steps": [
        {"id": "n", "provider": "logic", "action": "set", "params": {"value": 2}},
        {"provider": "delay", "action": "wait", "params": {"seconds": "${steps.n.output}"}}
    ]}));
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn ids_must_be_unique_and_not_numeric() {
    let found = issues(json!({"name": "ids", "steps": [
        {"id": "a", "provider": "logic", "action": "set", "params": {"value": 1}},
        {"id": "a", "provider": "logic", "action": "set", "params": {"value": 1}},
        {"id": "7", "provider": "logic", "action": "set", "params": {"value": 1}}
    ]}));
    assert!(
        has(&found, "steps[1].id: `a` is already the id of steps[0]"),
        "{found:?}"
    );
    assert!(has(&found, "steps[2].id:"), "{found:?}");
}

#[test]
fn limits_are_errors_not_panics() {
    let registry = Registry::builtin();
    let big = "x".repeat(limits::MAX_FILE_BYTES + 1);
    assert!(matches!(
        Plan::from_json(&big, &registry),
        Err(PlanError::TooLarge { .. })
    ));

    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!({"a": deep});
    }
    let found =
        issues(json!({"name": "deep", "steps": [{"provider": "logic", "action": "set", "params": {"value": deep}}]}));
    assert!(found.iter().any(|i| i.contains("nested deeper than 64")), "{found:?}");

    let long = "y".repeat(limits::MAX_STRING_BYTES + 1);
    let found =
        issues(json!({"name": "long", "steps": [{"provider": "logic", "action": "set", "params": {"value": long}}]}));
    assert!(has(&found, "steps[0].params.value: a string of"), "{found:?}");

    let steps: Vec<Value> = (0..=limits::MAX_STEPS)
        .map(|_| json!({"provider": "logic", "action": "set", "params": {"value": 1}}))
        .collect();
    assert!(has(
        &issues(json!({"name": "many", "steps": steps})),
        "steps: 501 steps; the limit is 500"
    ));

    assert!(matches!(
        Plan::from_json("{\"name\": ", &registry),
        Err(PlanError::Syntax { line: 1, .. })
    ));
    assert!(matches!(Plan::from_json("[]", &registry), Err(PlanError::Invalid(_))));
}

#[test]
fn a_leading_byte_order_mark_is_accepted() {
    let text = "\u{feff}{\"name\": \"bom\", \"steps\": [{\"provider\": \"logic\", \"action\": \"set\", \"params\": {\"value\": 1}}]}";
    assert!(Plan::from_json(text, &Registry::builtin()).is_ok());
}

#[test]
fn conditions_are_checked_like_everything_else() {
    let found = kinds(json!({"name": "when", "steps": [
        {"id": "s", "provider": "logic", "action": "set", "params": {"value": "text"}},
        {"provider": "logic", "action": "set", "params": {"value": 1},
         "when": {"left": "${steps.s.output}", "op": "contains"}},
        {"provider": "logic", "action": "set", "params": {"value": 1},
         "when": {"all": [{"left": "${steps.later.output}", "op": "eq", "right": 1}, {"not": {"left": "x", "op": "matches", "right": "("}}]}},
        {"provider": "logic", "action": "set", "params": {"value": 1},
         "when": {"left": "x", "op": "bogus", "right": 1}},
        {"id": "later", "provider": "logic", "action": "set", "params": {"value": "${item}"}}
    ]}));
    for (path, kind) in [
        ("steps[1].when.right", IssueKind::Required),
        ("steps[2].when.all[0].left", IssueKind::ForwardReference),
        ("steps[2].when.all[1].not.right", IssueKind::BadCondition),
        ("steps[3].when.op", IssueKind::NotAllowed),
        ("steps[4].params.value", IssueKind::ReferenceNotAllowed),
    ] {
        assert!(
            found.contains(&(path.to_string(), kind)),
            "missing {path} {kind:?} in {found:#?}"
        );
    }
}

#[test]
fn for_each_takes_one_reference_and_its_items() {
    let ok = issues(json!({"name": "each", "steps": [
        {"id": "list", "provider": "logic", "action": "set", "params": {"value": [1, 2]}},
        {"provider": "logic", "action": "set", "params": {"value": "${item} of ${item_index}"},
         "for_each": "${steps.list.output}", "for_each_options": {"concurrency": 4, "on_error": "continue"},
         "when": {"left": "${item}", "op": "gt", "right": 1}}
    ]}));
    assert!(ok.is_empty(), "{ok:?}");
    let found = kinds(json!({"name": "each", "steps": [
        {"id": "list", "provider": "logic", "action": "set", "params": {"value": [1, 2]}},
        {"provider": "logic", "action": "set", "params": {"value": 1}, "for_each": "items: ${steps.list.output}"},
        {"provider": "logic", "action": "set", "params": {"value": 1}, "for_each": "${item}"},
        {"provider": "logic", "action": "set", "params": {"value": 1}, "for_each": "${steps.list.output}", "for_each_options": {"concurrency": 9}},
        {"provider": "logic", "action": "set", "params": {"value": 1}, "for_each_options": {"concurrency": 2}}
    ]}));
    for (path, kind) in [
        ("steps[1].for_each", IssueKind::BadReference),
        ("steps[2].for_each", IssueKind::BadReference),
        ("steps[3].for_each_options.concurrency", IssueKind::OutOfRange),
        ("steps[4].for_each_options", IssueKind::NotAllowed),
    ] {
        assert!(
            found.contains(&(path.to_string(), kind)),
            "missing {path} {kind:?} in {found:#?}"
        );
    }
}

#[test]
fn the_checked_plan_carries_retry_timeout_and_schedule() {
    let plan = Plan::from_value(
        json!({"name": "c", "steps": [
            {"provider": "logic", "action": "set", "params": {"value": 1}, "retry": 5, "timeout_s": 2.5},
            {"provider": "openai", "action": "chat_completion", "params": {"prompt": "hi", "model": "m"}}
        ], "trigger": {"type": "cron", "cron_expression": "0 9 * * *", "timezone": "UTC"}}),
        &Registry::builtin(),
    )
    .unwrap();
    let steps: Vec<_> = plan.each_step().map(|(_, c)| c.clone()).collect();
    assert_eq!(steps[0].retry.max_attempts, 5);
    assert_eq!(steps[0].timeout, std::time::Duration::from_millis(2500));
    assert_eq!(steps[1].timeout, std::time::Duration::from_secs(300));
    assert_eq!(plan.schedule().map(|s| s.expression()), Some("0 9 * * *"));
}

#[test]
fn the_schema_is_generated_from_the_model() {
    let schema = plan_schema();
    let text = schema.to_string();
    for word in [
        "for_each",
        "when",
        "cron_expression",
        "continue_on_error",
        "not_contains",
        "catch_up",
    ] {
        assert!(text.contains(word), "{word} missing from the plan schema");
    }
}

#[test]
fn an_unquoted_reference_in_json_text_is_an_error_with_its_fix() {
    let plan = json!({"name": "json", "steps": [
        {"id": "s", "provider": "logic", "action": "set", "params": {"value": "x"}},
        {"provider": "webhook", "action": "post_request",
         "params": {"url": "https://hooks.example.com/x", "payload": "{\"text\": ${steps.s.output}, \"n\": [${steps.0.output}]}"}}
    ]});
    let err = Plan::from_value(plan, &Registry::builtin()).unwrap_err();
    let issue = err
        .issues()
        .into_iter()
        .find(|i| i.kind == IssueKind::UnquotedReference)
        .unwrap();
    assert_eq!(issue.path, "steps[1].params.payload");
    assert_eq!(
        issue.fix,
        Some(json!({"text": "${steps.s.output}", "n": ["${steps.0.output}"]}))
    );
    // Quoted already, plain text with a reference, or not JSON at all: no issue.
    for ok in [
        "{\"text\": \"${steps.s.output}\"}",
        "Hello ${steps.s.output}",
        "{ not json ${steps.s.output}",
    ] {
        assert_eq!(validate::quote_bare_references(ok), None, "{ok}");
    }
}

fn with_trigger(trigger: Value) -> Value {
    json!({"name": "Event", "trigger": trigger, "steps": [
        {"provider": "logic", "action": "set", "params": {"value": "${trigger.type}"}}
    ]})
}

#[test]
fn event_triggers_are_checked_and_every_problem_located() {
    let k = kinds(with_trigger(json!({
        "type": "email", "host": "imap.example.com", "security": "none", "username": "me",
        "credential": "work mail", "interval_s": 5
    })));
    // A problem of shape stops the deeper checks of the trigger; a well-formed one gets them.
    assert_eq!(k, vec![("trigger.interval_s".to_string(), IssueKind::OutOfRange)]);
    let k = kinds(with_trigger(json!({
        "type": "email", "host": "imap.example.com", "security": "none", "username": "me", "credential": "work mail"
    })));
    assert_eq!(
        k,
        vec![
            ("trigger.security".to_string(), IssueKind::Insecure),
            ("trigger.credential".to_string(), IssueKind::BadFormat)
        ]
    );
    assert!(issues(with_trigger(json!({
        "type": "email", "host": "127.0.0.1", "port": 10143, "security": "none", "username": "me", "credential": "mail"
    })))
    .is_empty());

    let k = kinds(with_trigger(
        json!({"type": "poll", "url": "api.example.com/items", "items": "$.items[", "id": "id"}),
    ));
    assert_eq!(
        k,
        vec![
            ("trigger.url".to_string(), IssueKind::BadFormat),
            ("trigger.items".to_string(), IssueKind::BadFormat),
            ("trigger.id".to_string(), IssueKind::BadFormat)
        ]
    );
    let k = kinds(with_trigger(
        json!({"type": "webhook", "signature": {"scheme": "hmac_sha256", "credential": "s"}}),
    ));
    assert_eq!(k, vec![("trigger.signature.header".to_string(), IssueKind::Required)]);
    let k = kinds(with_trigger(
        json!({"type": "webhook", "signature": {"scheme": "gitlab", "credential": "s"}}),
    ));
    assert_eq!(k, vec![("trigger.signature.scheme".to_string(), IssueKind::NotAllowed)]);
    let k = kinds(with_trigger(
        json!({"type": "telegram", "credential": "bot", "command": "summarize"}),
    ));
    assert_eq!(k, vec![("trigger.command".to_string(), IssueKind::BadFormat)]);
    let k = kinds(with_trigger(
        json!({"type": "feed", "url": "https://blog.example.com/feed.xml", "every": 3}),
    ));
    assert_eq!(k, vec![("trigger.every".to_string(), IssueKind::UnknownField)]);
}

#[test]
fn a_triggers_credential_is_one_the_plan_needs() {
    let plan = Plan::from_value(
        with_trigger(json!({"type": "telegram", "credential": "team-bot"})),
        &Registry::builtin(),
    )
    .unwrap();
    assert_eq!(
        plan.credentials_needed(),
        vec![("telegram".to_string(), "team-bot".to_string())]
    );
    let plan = Plan::from_value(
        with_trigger(
            json!({"type": "poll", "url": "https://x.test/items", "auth": {"type": "bearer", "credential": "api"}}),
        ),
        &Registry::builtin(),
    )
    .unwrap();
    assert_eq!(plan.credentials_needed(), vec![("http".to_string(), "api".to_string())]);
}

#[test]
fn an_event_trigger_round_trips_through_the_file() {
    let value = with_trigger(json!({
        "type": "email", "host": "imap.example.com", "username": "me@example.com", "credential": "mail",
        "match": {"keywords": ["invoice", "receipt"], "keywords_mode": "all", "unread_only": true},
        "mark_read": true, "interval_s": 60
    }));
    let plan = Plan::from_value(value, &Registry::builtin()).unwrap();
    let again = Plan::from_value(serde_json::to_value(plan.file()).unwrap(), &Registry::builtin()).unwrap();
    assert_eq!(plan, again);
}
