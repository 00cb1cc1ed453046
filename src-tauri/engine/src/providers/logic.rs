//! `logic`: data steps that need no network. Their params are resolved like any
//! other step's, so `template` is simply the resolved string.

use crate::condition;
use crate::plan::CompareOp;
use crate::references;
use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use serde_json_path::JsonPath;
use tokio_util::sync::CancellationToken;

pub struct Logic;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExtractParams {
    /// The value to search: usually a reference such as `${steps.0.output}`. A string
    /// holding JSON is parsed first.
    input: Value,
    /// A JSONPath (RFC 9535), e.g. `$.items[0].title` or `$.items[*].id`.
    path: String,
    /// Return every match as a list instead of the first match.
    #[serde(default)]
    all: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TemplateParams {
    /// Text with references, e.g. `Hello ${steps.0.output.name}`.
    template: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct JsonParseParams {
    /// A string holding JSON.
    input: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Condition {
    /// A field of each item, dotted (`price` or `author.name`); empty means the item itself.
    #[serde(default)]
    field: String,
    op: CompareOp,
    /// What to compare with (not needed for `exists`).
    #[serde(default)]
    value: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FilterParams {
    /// A list (or a string holding a JSON list).
    input: Value,
    /// Conditions that every kept item must meet.
    #[serde(rename = "where")]
    conditions: Vec<Condition>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct AssertParams {
    left: Value,
    op: CompareOp,
    #[serde(default)]
    right: Value,
    /// Shown when the assertion fails.
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetParams {
    /// Any JSON value; references inside it are resolved.
    value: Value,
}

/// A string holding a JSON object or array becomes that value; anything else stays.
fn parsed(input: Value) -> Value {
    match &input {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => serde_json::from_str(s).unwrap_or(input),
        _ => input,
    }
}

fn field<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(item);
    }
    path.split('.').try_fold(item, |v, key| match v {
        Value::Object(m) => m.get(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// `left op right` by the shared rules (see [`crate::condition`]).
fn compare(left: Option<&Value>, op: CompareOp, right: &Value) -> Result<bool, StepError> {
    condition::compare(left.unwrap_or(&Value::Null), op, right)
        .map_err(|e| StepError::fatal(ErrorCode::InvalidParams, e.to_string()))
}

fn is_reference(v: &Value) -> bool {
    matches!(v, Value::String(s) if references::parse(s).map(|t| t.has_references()).unwrap_or(false))
}

fn run_action(action: &str, params: Value) -> Result<ProviderResult, StepError> {
    match action {
        "extract" => {
            let p: ExtractParams = parse_params(params)?;
            let path = JsonPath::parse(&p.path).map_err(|e| {
                StepError::fatal(
                    ErrorCode::InvalidParams,
                    format!("path `{}` is not valid JSONPath: {e}", p.path),
                )
            })?;
            let input = parsed(p.input);
            let found = path.query(&input).all();
            if p.all {
                let n = found.len();
                Ok(ProviderResult::ok(
                    Value::Array(found.into_iter().cloned().collect()),
                    format!("{n} matches"),
                ))
            } else {
                let first = found.first().ok_or_else(|| {
                    StepError::fatal(ErrorCode::NoMatch, format!("`{}` matched nothing in the input", p.path))
                })?;
                Ok(ProviderResult::ok(
                    (*first).clone(),
                    format!("{} matches, first taken", found.len()),
                ))
            }
        }
        "template" => {
            let p: TemplateParams = parse_params(params)?;
            let len = p.template.chars().count();
            Ok(ProviderResult::ok(
                Value::String(p.template),
                format!("{len} characters"),
            ))
        }
        "json_parse" => {
            let p: JsonParseParams = parse_params(params)?;
            let value = match p.input {
                Value::String(s) => serde_json::from_str::<Value>(&s)
                    .map_err(|e| StepError::fatal(ErrorCode::InvalidJson, format!("the input is not JSON: {e}")))?,
                other => other,
            };
            Ok(ProviderResult::ok(value, "parsed"))
        }
        "filter" => {
            let p: FilterParams = parse_params(params)?;
            let Value::Array(items) = parsed(p.input) else {
                return Err(StepError::fatal(
                    ErrorCode::InvalidParams,
                    "filter needs a list as input",
                ));
            };
            let total = items.len();
            let mut kept = Vec::new();
            for item in items {
                let mut keep = true;
                for c in &p.conditions {
                    if !compare(field(&item, &c.field), c.op, &c.value)? {
                        keep = false;
                        break;
                    }
                }
                if keep {
                    kept.push(item);
                }
            }
            let n = kept.len();
            Ok(ProviderResult::ok(Value::Array(kept), format!("kept {n} of {total}")).with_metadata("total", total))
        }
        "assert" => {
            let p: AssertParams = parse_params(params)?;
            if compare(Some(&p.left), p.op, &p.right)? {
                Ok(ProviderResult::ok(Value::Bool(true), "assertion held"))
            } else {
                let op = p.op.as_str();
                let message = p.message.unwrap_or_else(|| {
                    format!(
                        "assertion failed: {} {op} {}",
                        crate::run::preview(&p.left),
                        crate::run::preview(&p.right)
                    )
                });
                Err(StepError::fatal(ErrorCode::AssertionFailed, message))
            }
        }
        "set" => {
            let p: SetParams = parse_params(params)?;
            Ok(ProviderResult::ok(p.value, "value set"))
        }
        other => Err(StepError::fatal(
            ErrorCode::UnknownAction,
            format!("logic has no action `{other}`"),
        )),
    }
}

#[async_trait]
impl Provider for Logic {
    fn name(&self) -> &str {
        "logic"
    }

    fn title(&self) -> String {
        "Logic".into()
    }

    fn description(&self) -> String {
        "Work with data between steps, without network".into()
    }

    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            let action =
                |name: &str, description: &str, params_schema| ActionSpec::new(name, description, params_schema, false);
            vec![
                action(
                    "extract",
                    "Pick values out of JSON with a JSONPath",
                    schema_of::<ExtractParams>(),
                ),
                action(
                    "template",
                    "Build text from earlier outputs",
                    schema_of::<TemplateParams>(),
                ),
                action("json_parse", "Parse text as JSON", schema_of::<JsonParseParams>()),
                action(
                    "filter",
                    "Keep the list items that match conditions",
                    schema_of::<FilterParams>(),
                ),
                action(
                    "assert",
                    "Stop the run unless a condition holds",
                    schema_of::<AssertParams>(),
                ),
                action("set", "Build a JSON value", schema_of::<SetParams>()),
            ]
        });
        &ACTIONS
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        let mut issues = Vec::new();
        if action == "extract"
            && let Some(path) = params.get("path")
            && let Value::String(p) = path
            && !is_reference(path)
            && let Err(e) = JsonPath::parse(p)
        {
            issues.push(("path".to_string(), format!("not valid JSONPath: {e}")));
        }
        issues
    }

    async fn run(
        &self,
        action: &str,
        params: Value,
        _credentials: &Credentials,
        _ctx: &StepContext,
        _cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        run_action(action, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(action: &str, params: Value) -> Value {
        run_action(action, params).unwrap().output
    }

    #[test]
    fn extract_takes_first_or_all_matches() {
        let input = json!({"items": [{"title": "a", "id": 1}, {"title": "b", "id": 2}]});
        assert_eq!(
            ok("extract", json!({"input": input, "path": "$.items[*].title"})),
            json!("a")
        );
        assert_eq!(
            ok("extract", json!({"input": input, "path": "$.items[*].id", "all": true})),
            json!([1, 2])
        );
        let text = input.to_string();
        assert_eq!(
            ok("extract", json!({"input": text, "path": "$.items[1].title"})),
            json!("b")
        );
        let err = run_action("extract", json!({"input": input, "path": "$.nope"})).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NoMatch);
    }

    #[test]
    fn filter_keeps_matching_items() {
        let input = json!([{"n": 1, "tag": "ai news"}, {"n": 5, "tag": "rust"}, {"n": "7", "tag": "ai"}]);
        let out = ok(
            "filter",
            json!({"input": input, "where": [{"field": "n", "op": "gte", "value": 2}]}),
        );
        assert_eq!(out, json!([{"n": 5, "tag": "rust"}, {"n": "7", "tag": "ai"}]));
        let out = ok(
            "filter",
            json!({"input": input, "where": [{"field": "tag", "op": "starts_with", "value": "ai"}, {"field": "n", "op": "lt", "value": 5}]}),
        );
        assert_eq!(out, json!([{"n": 1, "tag": "ai news"}]));
    }

    #[test]
    fn assert_fails_the_step_with_its_message() {
        assert_eq!(ok("assert", json!({"left": 3, "op": "eq", "right": "3"})), json!(true));
        let err = run_action(
            "assert",
            json!({"left": "", "op": "ne", "right": "", "message": "empty draft"}),
        )
        .unwrap_err();
        assert_eq!(err, StepError::fatal(ErrorCode::AssertionFailed, "empty draft"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn json_parse_set_and_template() {
        assert_eq!(ok("json_parse", json!({"input": "{\"a\": [1]}"})), json!({"a": [1]}));
        assert_eq!(
            run_action("json_parse", json!({"input": "{oops"})).unwrap_err().code(),
            ErrorCode::InvalidJson
        );
        assert_eq!(ok("set", json!({"value": {"x": [true]}})), json!({"x": [true]}));
        assert_eq!(ok("template", json!({"template": "hi"})), json!("hi"));
    }

    #[test]
    fn prepare_checks_jsonpath_unless_it_is_a_reference() {
        assert_eq!(Logic.prepare("extract", &json!({"input": 1, "path": "$.a[?"})).len(), 1);
        assert!(
            Logic
                .prepare("extract", &json!({"input": 1, "path": "${steps.0.output}"}))
                .is_empty()
        );
    }
}
