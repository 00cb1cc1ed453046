//! Checking a JSON value against a JSON Schema, with every problem located and
//! said in plain words: what users read never quotes schema keywords
//! ("not valid under any of the schemas listed in the 'anyOf' keyword").
//! Plans, action params and integration definitions are all checked this way.

use crate::plan::IssueKind;
use crate::references;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ValidationError, Validator};
use serde_json::Value;

/// One problem: where (`steps[0].retry`), what kind, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    pub path: String,
    pub kind: IssueKind,
    pub message: String,
}

/// What the checked document calls its members: a plan has fields, an action params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    Fields,
    Params,
}

impl Members {
    fn unknown(self) -> &'static str {
        match self {
            Self::Fields => "unknown field",
            Self::Params => "unknown parameter",
        }
    }
}

/// Compile a schema; a broken one is a message (schemas come from code or definitions).
pub fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::validator_for(schema).map_err(|e| e.to_string())
}

/// Every problem of `value` under `validator`. A string that is a whole reference
/// (`${steps.0.output}`) stands for a value of unknown type, so it is not held to
/// the schema when `references_stand_in` is set.
pub fn problems(
    validator: &Validator,
    value: &Value,
    members: Members,
    references_stand_in: bool,
) -> Vec<SchemaProblem> {
    let mut out = Vec::new();
    for err in validator.iter_errors(value) {
        describe(&err, members, references_stand_in, &mut out);
    }
    out.dedup();
    out
}

/// [`problems`] for a schema given as JSON.
pub fn problems_under(
    schema: &Value,
    value: &Value,
    members: Members,
    references_stand_in: bool,
) -> Vec<SchemaProblem> {
    match compile(schema) {
        Ok(v) => problems(&v, value, members, references_stand_in),
        Err(e) => vec![broken(&e)],
    }
}

/// The one problem of params checked against a schema that does not compile.
pub fn broken(error: &str) -> SchemaProblem {
    SchemaProblem {
        path: String::new(),
        kind: IssueKind::InvalidParam,
        message: format!("the action's schema is broken: {error}"),
    }
}

fn is_reference(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.contains("${") && references::parse(s).is_ok_and(|t| t.as_single_reference().is_some()))
}

fn describe(err: &ValidationError<'_>, members: Members, refs: bool, out: &mut Vec<SchemaProblem>) {
    if refs && is_reference(err.instance()) {
        return;
    }
    let path = pointer_to_path(err.instance_path().as_str());
    let mut push = |path: String, kind: IssueKind, message: String| out.push(SchemaProblem { path, kind, message });
    match err.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            push(child(&path, name), IssueKind::Required, "is required".into());
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for name in unexpected {
                push(child(&path, name), IssueKind::UnknownField, members.unknown().into());
            }
        }
        ValidationErrorKind::FalseSchema => push(path, IssueKind::UnknownField, members.unknown().into()),
        ValidationErrorKind::Type { kind } => push(path, IssueKind::WrongType, format!("must be {}", type_words(kind))),
        ValidationErrorKind::Enum { options } => push(path, IssueKind::NotAllowed, one_of(options)),
        ValidationErrorKind::Constant { expected_value } => {
            push(path, IssueKind::NotAllowed, format!("must be {}", show(expected_value)))
        }
        ValidationErrorKind::MinLength { limit: 1 } => push(path, IssueKind::Empty, "must not be empty".into()),
        ValidationErrorKind::MinLength { limit } => push(
            path,
            IssueKind::OutOfRange,
            format!("must be at least {limit} characters long"),
        ),
        ValidationErrorKind::MaxLength { limit } => push(
            path,
            IssueKind::TooLarge,
            format!("must be at most {limit} characters long"),
        ),
        ValidationErrorKind::MinItems { limit: 1 } => push(path, IssueKind::Empty, "needs at least one item".into()),
        ValidationErrorKind::MinItems { limit } => {
            push(path, IssueKind::OutOfRange, format!("needs at least {limit} items"))
        }
        ValidationErrorKind::MaxItems { limit } => {
            push(path, IssueKind::TooLarge, format!("holds at most {limit} items"))
        }
        ValidationErrorKind::MinProperties { limit } => {
            push(path, IssueKind::Empty, format!("needs at least {limit} entries"))
        }
        ValidationErrorKind::MaxProperties { limit } => {
            push(path, IssueKind::TooLarge, format!("holds at most {limit} entries"))
        }
        ValidationErrorKind::Minimum { limit } => {
            push(path, IssueKind::OutOfRange, format!("must be at least {limit}"))
        }
        ValidationErrorKind::Maximum { limit } => push(path, IssueKind::OutOfRange, format!("must be at most {limit}")),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            push(path, IssueKind::OutOfRange, format!("must be more than {limit}"))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            push(path, IssueKind::OutOfRange, format!("must be less than {limit}"))
        }
        ValidationErrorKind::MultipleOf { multiple_of } => push(
            path,
            IssueKind::OutOfRange,
            format!("must be a multiple of {multiple_of}"),
        ),
        ValidationErrorKind::Pattern { .. } => push(path, IssueKind::BadFormat, "is not in the expected form".into()),
        ValidationErrorKind::Format { format } => push(
            path,
            IssueKind::BadFormat,
            format!("must be a valid {}", format_words(format)),
        ),
        ValidationErrorKind::UniqueItems => push(path, IssueKind::NotAllowed, "must not repeat an item".into()),
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let depth = err.instance_path().as_str().matches('/').count();
            match pick_branch(context, depth) {
                Branch::One(errors) => {
                    for e in errors {
                        describe(e, members, refs, out);
                    }
                }
                Branch::NotAValue(values) => push(
                    path,
                    IssueKind::NotAllowed,
                    format!("must be one of {}", values.join(", ")),
                ),
                Branch::NoTagMatches(tags) => out.push(SchemaProblem {
                    path: child(&path, "type"),
                    kind: IssueKind::NotAllowed,
                    message: format!("must be one of {}", tags.join(", ")),
                }),
                Branch::None => push(path, IssueKind::NotAllowed, "is not a value this accepts".into()),
            }
        }
        _ => push(path, IssueKind::NotAllowed, "is not a value this accepts".into()),
    }
}

enum Branch<'e> {
    One(&'e [ValidationError<'static>]),
    /// Every alternative is one constant (an enum with documented values).
    NotAValue(Vec<String>),
    /// A tagged union whose `type` matched no branch: the tags it takes.
    NoTagMatches(Vec<String>),
    None,
}

/// Which alternative of an `anyOf`/`oneOf` the value was meant to be: the one
/// whose tag (`type`) matched, then the one whose shape fits, then the one with
/// the fewest problems. Its problems are the ones worth telling.
fn pick_branch<'e>(context: &'e [Vec<ValidationError<'static>>], depth: usize) -> Branch<'e> {
    let constants: Vec<String> = context
        .iter()
        .filter_map(|errors| match errors.as_slice() {
            [e] if e.instance_path().as_str().matches('/').count() == depth => match e.kind() {
                ValidationErrorKind::Constant { expected_value } => Some(show(expected_value)),
                ValidationErrorKind::Enum { options } => Some(match options.as_ref() {
                    Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
                    other => show(other),
                }),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if !context.is_empty() && constants.len() == context.len() {
        return Branch::NotAValue(constants);
    }
    let mut tags = Vec::new();
    // (its tag differs, its shape differs, problems at this level, problems in all)
    type Score = (bool, bool, usize, usize);
    let mut best: Option<(Score, &[ValidationError<'static>])> = None;
    for errors in context {
        let mut tag_mismatch = false;
        let mut shape_mismatch = false;
        let mut shallow = 0;
        for e in errors {
            let d = e.instance_path().as_str().matches('/').count();
            let last = e.instance_path().as_str().rsplit('/').next().unwrap_or_default();
            match e.kind() {
                ValidationErrorKind::Constant { expected_value } if d == depth + 1 && last == "type" => {
                    tag_mismatch = true;
                    tags.push(show(expected_value));
                }
                ValidationErrorKind::Type { .. } if d == depth => shape_mismatch = true,
                _ if d == depth => shallow += 1,
                _ => {}
            }
        }
        let score = (tag_mismatch, shape_mismatch, shallow, errors.len());
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, errors.as_slice()));
        }
    }
    match best {
        Some(((true, ..), _)) if !tags.is_empty() => Branch::NoTagMatches(tags),
        Some((_, errors)) => Branch::One(errors),
        None => Branch::None,
    }
}

fn type_words(kind: &TypeKind) -> String {
    let word = |t: JsonType| match t {
        JsonType::Null => "null",
        JsonType::Boolean => "true or false",
        JsonType::Integer => "a whole number",
        JsonType::Number => "a number",
        JsonType::String => "text",
        JsonType::Array => "a list",
        JsonType::Object => "an object",
    };
    match kind {
        TypeKind::Single(t) => word(*t).to_string(),
        TypeKind::Multiple(set) => {
            let words: Vec<&str> = set.iter().map(word).collect();
            words.join(" or ")
        }
    }
}

fn format_words(format: &str) -> &str {
    match format {
        "uri" | "url" | "iri" => "URL",
        "email" => "email address",
        "date-time" => "date and time (2026-11-28T09:00:00Z)",
        "date" => "date (2026-11-28)",
        other => other,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn one_of(options: &Value) -> String {
    match options {
        Value::Array(items) => format!(
            "must be one of {}",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => format!("must be {}", show(other)),
    }
}

fn child(path: &str, name: &str) -> String {
    let mut p = path.to_string();
    references::push_key(&mut p, name);
    p
}

/// `/payload/items/0` into `payload.items[0]`.
pub fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            references::push_key(&mut out, &seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn said(schema: Value, value: Value) -> Vec<String> {
        problems_under(&schema, &value, Members::Params, true)
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn problems_are_located_and_in_words() {
        let schema = json!({"type": "object", "required": ["url"], "additionalProperties": false, "properties": {
            "url": {"type": "string", "minLength": 1},
            "method": {"enum": ["GET", "POST"]},
            "n": {"type": "integer", "minimum": 1},
            "auth": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["type"], "properties": {"type": {"const": "bearer"}}}]}
        }});
        let found = said(
            schema.clone(),
            json!({"method": "PUT", "n": 0, "colour": 1, "auth": {}}),
        );
        assert!(found.contains(&"url: is required".to_string()), "{found:?}");
        assert!(
            found.contains(&"method: must be one of GET, POST".to_string()),
            "{found:?}"
        );
        assert!(found.contains(&"n: must be at least 1".to_string()), "{found:?}");
        assert!(found.contains(&"colour: unknown parameter".to_string()), "{found:?}");
        assert!(found.contains(&"auth.type: is required".to_string()), "{found:?}");
        assert!(
            found.iter().all(|f| !f.contains("anyOf") && !f.contains("schema")),
            "{found:?}"
        );
        // A whole reference stands in for any type.
        assert!(said(schema, json!({"url": "x", "n": "${steps.0.output}"})).is_empty());
    }

    #[test]
    fn a_tagged_union_reports_the_branch_its_tag_names() {
        let schema = json!({"oneOf": [
            {"type": "object", "properties": {"type": {"const": "manual"}}, "required": ["type"]},
            {"type": "object", "properties": {"type": {"const": "cron"}, "cron_expression": {"type": "string"}}, "required": ["type", "cron_expression"]}
        ]});
        assert_eq!(
            said(schema.clone(), json!({"type": "cron"})),
            vec!["cron_expression: is required"]
        );
        assert_eq!(
            said(schema, json!({"type": "crn"})),
            vec!["type: must be one of manual, cron"]
        );
    }
}
