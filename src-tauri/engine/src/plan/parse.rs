//! From text to a well-formed [`PlanFile`]: size and depth limits, JSON syntax,
//! then the plan schema (generated from the model) with every problem located.

use super::issue::{IssueKind, PlanError, PlanIssue};
use super::limits;
use super::model::{PlanFile, StepSpec};
use super::trigger::Trigger;
use crate::schema::{self, Members};
use serde_json::Value;
use std::sync::OnceLock;

/// Fields the seeds' database rows and Flowpilot's exports carry beside the plan:
/// accepted on input and dropped (the derived ones are recomputed on export).
const IGNORED_TOP_LEVEL: &[&str] = &[
    "required_providers",
    "plain_english_steps",
    "id",
    "user_id",
    "created_at",
    "updated_at",
];

/// Parse plan text: at most [`limits::MAX_FILE_BYTES`], a leading UTF-8 BOM allowed.
pub fn parse_text(text: &str) -> Result<Value, PlanError> {
    if text.len() > limits::MAX_FILE_BYTES {
        return Err(PlanError::TooLarge {
            size: text.len(),
            limit: limits::MAX_FILE_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| PlanError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line").next().unwrap_or_default().to_string(),
    })
}

fn validator() -> Result<&'static jsonschema::Validator, String> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| schema::compile(&super::model::plan_schema()))
        .as_ref()
        .map_err(Clone::clone)
}

/// What could be read of a plan with structural problems: the steps (and trigger)
/// that are well-formed on their own, so their deeper problems are found too.
#[derive(Debug, Default)]
pub struct Partial {
    pub steps: Vec<Option<StepSpec>>,
    /// Boxed: a trigger is large, and this travels in an error.
    pub trigger: Option<Box<Trigger>>,
}

/// Check the structure of a plan value against the plan schema and read it.
/// Every problem found is returned, located; the file only when there are none.
pub fn parse_value(value: Value) -> Result<PlanFile, (Vec<PlanIssue>, Partial)> {
    match parse_checked(value) {
        Ok(file) => Ok(file),
        Err((issues, Some(value))) => {
            let partial = partial(&value, &issues);
            Err((issues, partial))
        }
        Err((issues, None)) => Err((issues, Partial::default())),
    }
}

/// The parts of a structurally broken plan that have no problem of their own.
fn partial(value: &Value, issues: &[PlanIssue]) -> Partial {
    let clean = |prefix: &str| {
        !issues.iter().any(|i| {
            i.path == prefix
                || i.path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    };
    let steps = value
        .get("steps")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    clean(&format!("steps[{i}]"))
                        .then(|| serde_json::from_value::<StepSpec>(s.clone()).ok())
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    let trigger = match value.get("trigger") {
        None => Some(Box::new(Trigger::Manual)),
        Some(t) if clean("trigger") => serde_json::from_value(t.clone()).ok().map(Box::new),
        Some(_) => None,
    };
    Partial { steps, trigger }
}

type Checked = Result<PlanFile, (Vec<PlanIssue>, Option<Value>)>;

fn parse_checked(mut value: Value) -> Checked {
    let mut issues = Vec::new();
    check_shape_limits(&value, &mut issues);
    if !issues.is_empty() {
        return Err((issues, None));
    }
    let Value::Object(map) = &mut value else {
        return Err((
            vec![PlanIssue::error(
                "",
                IssueKind::WrongType,
                "a plan is a JSON object with `name` and `steps`",
            )],
            None,
        ));
    };
    for key in IGNORED_TOP_LEVEL {
        map.remove(*key);
    }
    // An absent optional field may be written as null.
    map.retain(|_, v| !v.is_null());
    if let Some(Value::Array(steps)) = map.get_mut("steps") {
        if steps.len() > limits::MAX_STEPS {
            return Err((
                vec![PlanIssue::error(
                    "steps",
                    IssueKind::TooLarge,
                    format!("{} steps; the limit is {}", steps.len(), limits::MAX_STEPS),
                )],
                None,
            ));
        }
        for step in steps.iter_mut() {
            if let Value::Object(fields) = step {
                fields.retain(|_, v| !v.is_null());
            }
        }
    }
    let validator = validator().map_err(|e| (vec![PlanIssue::error("", IssueKind::Syntax, e)], None))?;
    for p in schema::problems(validator, &value, Members::Fields, false) {
        let message = match (p.path.as_str(), p.kind) {
            ("steps", IssueKind::Empty) => "a plan needs at least one step".to_string(),
            (_, IssueKind::Required) if p.path.starts_with("steps[") && !p.path.contains(".params") => {
                "is missing".into()
            }
            _ => p.message,
        };
        issues.push(PlanIssue::error(p.path, p.kind, message));
    }
    if !issues.is_empty() {
        return Err((issues, Some(value)));
    }
    serde_json::from_value::<PlanFile>(value)
        .map_err(|e| (vec![PlanIssue::error("", IssueKind::WrongType, e.to_string())], None))
}

/// Depth and string-size limits, before anything else looks at the value.
fn check_shape_limits(value: &Value, issues: &mut Vec<PlanIssue>) {
    let mut stack: Vec<(&Value, usize, String)> = vec![(value, 1, String::new())];
    let mut deep_reported = false;
    while let Some((v, depth, path)) = stack.pop() {
        if depth > limits::MAX_DEPTH {
            if !deep_reported {
                issues.push(PlanIssue::error(
                    path,
                    IssueKind::TooLarge,
                    format!("nested deeper than {} levels", limits::MAX_DEPTH),
                ));
                deep_reported = true;
            }
            continue;
        }
        match v {
            Value::String(s) if s.len() > limits::MAX_STRING_BYTES => issues.push(PlanIssue::error(
                path,
                IssueKind::TooLarge,
                format!(
                    "a string of {} bytes; the limit is {}",
                    s.len(),
                    limits::MAX_STRING_BYTES
                ),
            )),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((item, depth + 1, format!("{path}[{i}]")));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let mut p = path.clone();
                    crate::references::push_key(&mut p, k);
                    stack.push((item, depth + 1, p));
                }
            }
            _ => {}
        }
    }
}
