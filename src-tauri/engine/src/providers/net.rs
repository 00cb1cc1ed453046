//! What the providers that talk to web servers (`http`, `webhook`, the LLMs)
//! share besides the request itself ([`crate::request`]): param types that take
//! any JSON as text, and the load-time checks of URLs and headers.

use crate::references;
use crate::registry::StepError;
use crate::step_error::ErrorCode;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A string param. A reference that resolves to a number, boolean, object or
/// array is taken as its text, the way it would read inside a longer string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Text(references::to_text(&v)))
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string"})
    }
}

/// A header or query value: a string, number or boolean, sent as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Scalar(references::to_text(&v)))
    }
}

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": ["string", "number", "boolean"]})
    }
}

/// Whether a param value is a string holding `${...}`, which `prepare` cannot
/// check yet because it is only known when the step runs.
pub fn is_reference(value: &Value) -> bool {
    match value {
        Value::String(s) => references::parse(s).map(|t| t.has_references()).unwrap_or(false),
        _ => false,
    }
}

/// How the `url` and `headers` params of `http` and `webhook` take references.
pub fn url_and_headers(path: &str, url_param: &str) -> references::TextKind {
    if path == url_param {
        references::TextKind::Url
    } else if path.starts_with("headers.") || path.starts_with("headers[") {
        references::TextKind::Header
    } else {
        references::TextKind::Plain
    }
}

/// `url` as an address we can call, or why it is not one, in words.
fn http_url(url: &str) -> Result<Url, String> {
    // The URL parser drops tabs and line breaks without a word; a URL that holds
    // one is not what it looks like.
    if url.trim().contains(['\r', '\n', '\t']) {
        return Err(format!(
            "`{}` holds a line break or a tab, which an address cannot have",
            url.escape_debug()
        ));
    }
    let parsed = Url::parse(url.trim())
        .map_err(|e| format!("`{url}` is not a web address ({e}); write it in full, like https://example.com/path"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}` uses `{}:`; only http:// and https:// addresses can be called",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host name"));
    }
    Ok(parsed)
}

/// Why `url` cannot be called, in words; `None` when it is a usable http(s) URL.
pub fn url_problem(url: &str) -> Option<String> {
    http_url(url).err()
}

/// Parse a URL param at run time, or fail the step with a message that names the param.
pub fn parse_url(param: &str, url: &str) -> Result<Url, StepError> {
    http_url(url).map_err(|problem| StepError::fatal(ErrorCode::InvalidParams, format!("{param}: {problem}")))
}

/// Why a header name or (literal) value cannot be sent; `None` when both are fine.
pub fn header_problem(name: &str, value: Option<&str>) -> Option<String> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(format!(
            "`{name}` is not a valid header name (letters, digits and `-`, no spaces or `:`)"
        ));
    }
    match value {
        Some(v) if HeaderValue::from_str(v).is_err() => Some(format!(
            "the value of `{name}` holds a line break or another character headers cannot carry"
        )),
        _ => None,
    }
}

/// Build a header map from `name -> value` params.
pub fn header_map(headers: &BTreeMap<String, Scalar>) -> Result<HeaderMap, StepError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, Scalar(value)) in headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            let problem = header_problem(name, Some(value)).unwrap_or_default();
            return Err(StepError::fatal(
                ErrorCode::InvalidParams,
                format!("headers: {problem}"),
            ));
        };
        map.append(n, v);
    }
    Ok(map)
}

/// `prepare`: the problem with the URL param `key`, when it is a literal.
pub fn check_url_param(params: &Value, key: &str, issues: &mut Vec<(String, String)>) {
    if let Some(value) = params.get(key)
        && let Some(url) = value.as_str()
        && !is_reference(value)
        && let Some(problem) = url_problem(url)
    {
        issues.push((key.to_string(), problem));
    }
}

/// `prepare`: problems with the names, and literal values, of the `headers` param.
pub fn check_headers_param(params: &Value, issues: &mut Vec<(String, String)>) {
    let Some(Value::Object(headers)) = params.get("headers") else {
        return;
    };
    for (name, value) in headers {
        let literal = value.as_str().filter(|_| !is_reference(value));
        if let Some(problem) = header_problem(name, literal) {
            let mut path = "headers".to_string();
            references::push_key(&mut path, name);
            issues.push((path, problem));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_problems_are_explained() {
        assert_eq!(url_problem("https://example.com/x"), None);
        assert_eq!(url_problem("http://127.0.0.1:8080"), None);
        assert!(url_problem("example.com").unwrap().contains("write it in full"));
        assert!(url_problem("ftp://example.com").unwrap().contains("only http://"));
        assert!(url_problem("file:///etc/passwd").unwrap().contains("only http://"));
        assert!(url_problem("https://example.com/a\nb").unwrap().contains("line break"));
    }

    #[test]
    fn header_problems_are_explained() {
        assert_eq!(header_problem("X-Api-Key", Some("abc")), None);
        assert!(
            header_problem("Bad Name", None)
                .unwrap()
                .contains("not a valid header name")
        );
        assert!(header_problem("X-A", Some("a\nb")).unwrap().contains("line break"));
    }

    #[test]
    fn text_params_take_any_json_as_text() {
        let t: Text = serde_json::from_value(json!({"a": 1})).unwrap();
        assert_eq!(t.0, r#"{"a":1}"#);
        let s: Scalar = serde_json::from_value(json!(2)).unwrap();
        assert_eq!(s.0, "2");
        let s: Scalar = serde_json::from_value(json!("x")).unwrap();
        assert_eq!(s.0, "x");
    }
}
