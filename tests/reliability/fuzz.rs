//! A fuzz pass, bounded for stable Rust (proptest): plan files (random text, and
//! random plan-shaped documents), cron strings, `${...}` references and
//! addresses. Nothing may panic; what is accepted must hold up (a valid plan
//! checks again the same, a schedule's fires are in order, a resolved reference
//! is never expanded again), and integration definitions (the built-ins with
//! parts replaced by random values, and random text). `FLOWPILOT_FUZZ_CASES` sets
//! the count per property (default 300).

use flowpilot_engine::address::classify;
use flowpilot_engine::integration::{self, IntegrationProvider};
use flowpilot_engine::plan::CronTrigger;
use flowpilot_engine::references::{self, Scope};
use flowpilot_engine::registry::{Provider, ProviderKind};
use flowpilot_engine::schedule::Schedule;
use flowpilot_engine::{Plan, Registry};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("FLOWPILOT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        // Shrinking a failure is worth it; looping on it for minutes is not.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

/// Text that looks like bits of plans and references.
fn plan_ish_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just(",".to_string()),
            Just(":".to_string()),
            Just("\"name\"".to_string()),
            Just("\"steps\"".to_string()),
            Just("\"provider\"".to_string()),
            Just("\"params\"".to_string()),
            Just("\"${steps.0.output}\"".to_string()),
            Just("\"$${\"".to_string()),
            Just("\u{feff}".to_string()),
            Just("null".to_string()),
            Just("1e999".to_string()),
            any::<String>(),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// Put `value` at `path` (object keys, or an index into a list), making the keys
/// that are missing; a path through a scalar stops there and replaces it.
fn set_at(doc: &mut Value, path: &[String], value: Value) {
    let Some((key, rest)) = path.split_first() else {
        *doc = value;
        return;
    };
    match doc {
        Value::Object(map) => set_at(map.entry(key.clone()).or_insert(Value::Null), rest, value),
        Value::Array(items) if !items.is_empty() => {
            let n = key.parse::<usize>().unwrap_or(0) % items.len();
            set_at(&mut items[n], rest, value);
        }
        other => *other = value,
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        "\\$\\{[a-z0-9_.\\[\\]\"]{0,20}\\}?".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const PROVIDERS: [(&str, &str); 8] = [
    ("http", "request"),
    ("webhook", "post_request"),
    ("logic", "set"),
    ("logic", "template"),
    ("logic", "extract"),
    ("openai", "chat_completion"),
    ("delay", "wait"),
    ("nope", "x"),
];

/// Documents shaped like plans, with random params, ids, conditions and triggers.
fn plan_document() -> impl Strategy<Value = Value> {
    let step = (
        0..PROVIDERS.len(),
        json_value(),
        prop::option::of("[a-z_]{1,8}"),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(p, params, id, when, retry)| {
            let (provider, action) = PROVIDERS[p];
            let mut step = json!({"provider": provider, "action": action, "params": params});
            if let Some(id) = id {
                step["id"] = json!(id);
            }
            if let Some(when) = when {
                step["when"] = when;
            }
            if let Some(retry) = retry {
                step["retry"] = retry;
            }
            step
        });
    (
        ".{0,30}",
        prop::collection::vec(step, 0..6),
        prop::option::of(("[0-9*/,\\- ]{0,20}", prop::option::of("[A-Za-z_/]{0,20}"))),
    )
        .prop_map(|(name, steps, cron)| {
            let mut plan = json!({"name": name, "steps": steps});
            if let Some((expr, tz)) = cron {
                plan["trigger"] = json!({"type": "cron", "cron_expression": expr, "timezone": tz});
            }
            plan
        })
}

/// Cron-looking strings: fields of digits, ranges, steps, names and junk.
fn cron_string() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("*".to_string()),
        Just("?".to_string()),
        Just("L".to_string()),
        Just("MON-FRI".to_string()),
        "[0-9]{1,3}",
        "[0-9]{1,2}-[0-9]{1,2}",
        "\\*/[0-9]{1,3}",
        "[0-9]{1,2}(,[0-9]{1,2}){0,3}",
        "[0-9]{1,2}-[0-9]{1,2}/[0-9]{1,2}",
        ".{0,4}",
    ];
    prop::collection::vec(field, 0..8).prop_map(|f| f.join(" "))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_as_a_plan_file_never_panics(text in plan_ish_text()) {
        let registry = Registry::builtin();
        if let Ok(plan) = Plan::from_json(&text, &registry) {
            // What is accepted checks again the same, and says where it goes.
            let again = Plan::from_file(plan.file().clone(), &registry);
            prop_assert!(again.is_ok());
            let _ = plan.destinations();
            let _ = plan.target_warnings();
        }
    }

    #[test]
    fn any_plan_document_checks_without_panicking(doc in plan_document()) {
        let registry = Registry::builtin();
        match Plan::from_json(&doc.to_string(), &registry) {
            Ok(plan) => {
                let again = Plan::from_file(plan.file().clone(), &registry).map(|p| p.file().clone()).ok();
                prop_assert_eq!(again.as_ref(), Some(plan.file()));
                let _ = plan.warnings();
                let _ = plan.target_warnings();
                let _ = plan.plain_english_steps();
                let _ = plan.to_export_json();
            }
            Err(e) => {
                // Every problem is located and worded.
                for issue in e.issues() {
                    prop_assert!(!issue.message.is_empty());
                }
            }
        }
    }

    #[test]
    fn any_cron_string_parses_or_is_refused_and_fires_in_order(expr in cron_string(), tz in prop::option::of("[A-Za-z_/+\\-0-9]{0,24}")) {
        let trigger = CronTrigger {
            cron_expression: expr,
            timezone: tz,
            catch_up: Default::default(),
            overlap: Default::default(),
        };
        if let Ok(schedule) = Schedule::new(&trigger, flowpilot_engine::schedule::system_timezone()) {
            let start = chrono::DateTime::parse_from_rfc3339("2026-03-29T00:00:00Z").unwrap().to_utc();
            let fires = schedule.upcoming(start, 5);
            prop_assert!(fires.windows(2).all(|w| w[0] < w[1]), "{:?}", fires);
            prop_assert!(fires.iter().all(|f| *f > start));
            let _ = schedule.describe();
            let _ = schedule.warnings("trigger");
        }
    }

    #[test]
    fn any_reference_text_parses_or_is_refused_and_resolves_once(text in ".{0,40}", inner in "[a-z0-9_.\\[\\]\"' ]{0,24}", value in json_value()) {
        let mut scope = Scope::new(json!({"name": "fuzz"}), json!({"id": "r"}), json!({"type": "manual"}));
        // An earlier step whose output holds reference-looking text: never expanded again.
        scope.push_step(Some("s".into()), json!({"success": true, "output": "${plan.name}", "message": "", "metadata": {}}));
        for input in [text.clone(), format!("${{{inner}}}"), format!("a ${{steps.s.output}} {text}")] {
            let _ = references::parse(&input);
            let _ = references::resolve_str(&input, &scope);
        }
        let _ = references::resolve(&value, &scope);
        prop_assert_eq!(
            references::resolve_str("${steps.s.output}", &scope).ok(),
            Some(json!("${plan.name}")),
            "a value from a reference is never expanded again"
        );
    }

    #[test]
    fn any_address_is_classified_without_panicking(host in ".{0,60}", a in any::<u8>(), b in any::<u8>()) {
        let _ = classify(&host);
        let _ = classify(&format!("http://{host}/"));
        let _ = classify(&format!("http://[::ffff:{a}.{b}.1.1]/"));
        let class = classify(&format!("http://169.254.{a}.{b}/"));
        prop_assert!(class.is_sensitive());
    }

    #[test]
    fn any_integration_definition_loads_or_is_refused_with_located_problems(
        which in 0usize..5,
        paths in prop::collection::vec(prop::collection::vec("[a-z_]{1,12}|[0-9]", 1..4), 1..4),
        values in prop::collection::vec(json_value(), 1..4),
        text in plan_ish_text(),
    ) {
        // Random text: refused or loaded, never a panic.
        let _ = integration::load(&text);
        // A built-in with parts replaced (or added) at random places.
        let defs = integration::builtin_definitions();
        let mut doc = serde_json::to_value(&defs[which % defs.len()]).expect("a built-in serialises");
        for (path, value) in paths.iter().zip(values.iter().cycle()) {
            set_at(&mut doc, path, value.clone());
        }
        match integration::load(&doc.to_string()) {
            Ok(def) => {
                // What loads becomes a provider whose actions have schemas, and loads again the same.
                let again = integration::load(&serde_json::to_string(&def).expect("serialises"));
                prop_assert!(again.is_ok(), "{again:?}");
                let provider = IntegrationProvider::new(def, ProviderKind::UserIntegration);
                for action in provider.actions() {
                    prop_assert!(action.params_schema.is_object());
                }
            }
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }
}
