//! Rendering a definition's templates with an action's params and the
//! integration's secrets. The reference rules are the plan's (nothing is
//! evaluated; a string that is one reference keeps its JSON type; a value is
//! never expanded again), with three additions for definitions:
//!
//! - a part of a template that refers only to optional params that were not
//!   given is left out — a key, a list item, the whole body — instead of sending
//!   `""` or `null` (when it also refers to given params, the absent ones read as empty);
//! - object keys may be templates (`{"${params.title_property}": …}`);
//! - `"$merge": "${params.properties}"` merges an object param into the object
//!   it sits in (the template's own keys win).
//!
//! In URLs a param's value is encoded as the component it lands in, and a line
//! break in a URL or header is refused ([`crate::references::TextKind`]).

use crate::references::{self, PathSeg, ResolveError, Root, Scope, TextKind};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The key that merges an object into the object it sits in.
pub const MERGE_KEY: &str = "$merge";

/// An action's params and secrets, ready for its templates.
#[derive(Debug, Clone)]
pub struct Rendering {
    scope: Scope,
    /// The params that were given (or have a default).
    present: BTreeSet<String>,
}

/// Where a template failed (`body.parent.database_id`) and why.
pub type RenderError = (String, ResolveError);

impl Rendering {
    /// `params` as given, completed with the defaults of `schema`'s top-level
    /// properties; params the schema declares but nobody gave read as null.
    /// `secrets` maps secret names to their values.
    pub fn new(mut params: Map<String, Value>, schema: &Value, secrets: Map<String, Value>) -> Self {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                if !params.contains_key(name)
                    && let Some(default) = prop.get("default")
                {
                    params.insert(name.clone(), default.clone());
                }
            }
        }
        let present = params
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for name in props.keys() {
                params.entry(name.clone()).or_insert(Value::Null);
            }
        }
        Self {
            scope: Scope::for_definition(Value::Object(params), Value::Object(secrets)),
            present,
        }
    }

    /// Whether every param `value` refers to is absent (and it refers to one):
    /// then it is left out.
    fn only_absent(&self, value: &Value) -> bool {
        let used = params_used(value);
        !used.is_empty() && used.iter().all(|p| !self.present.contains(p))
    }

    /// One string: `None` when it refers only to absent params.
    pub fn text(&self, template: &str, kind: TextKind) -> Result<Option<Value>, ResolveError> {
        if self.only_absent(&Value::String(template.to_string())) {
            return Ok(None);
        }
        references::resolve_str_as(template, &self.scope, kind).map(Some)
    }

    /// A URL template, rendered.
    pub fn url(&self, template: &str) -> Result<String, ResolveError> {
        Ok(self
            .text(template, TextKind::Url)?
            .map(|v| references::to_text(&v))
            .unwrap_or_default())
    }

    /// A JSON template (a body, a query): `None` when it refers only to absent params.
    pub fn value(&self, template: &Value) -> Result<Option<Value>, RenderError> {
        self.walk(template, &mut String::new())
    }

    fn walk(&self, template: &Value, path: &mut String) -> Result<Option<Value>, RenderError> {
        if self.only_absent(template) {
            return Ok(None);
        }
        match template {
            Value::String(s) => references::resolve_str_as(s, &self.scope, TextKind::Plain)
                .map(Some)
                .map_err(|e| (path.clone(), e)),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let rendered = self.walk(item, path);
                    path.truncate(len);
                    out.extend(rendered?);
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                if let Some(merge) = map.get(MERGE_KEY) {
                    let len = path.len();
                    references::push_key(path, MERGE_KEY);
                    match self.walk(merge, path)? {
                        None | Some(Value::Null) => {}
                        Some(Value::Object(extra)) => out.extend(extra),
                        Some(_) => {
                            return Err((
                                path.clone(),
                                ResolveError::Unsafe {
                                    reference: references::to_text(merge),
                                    reason: "`$merge` takes an object".into(),
                                },
                            ));
                        }
                    }
                    path.truncate(len);
                }
                for (key, value) in map.iter().filter(|(k, _)| *k != MERGE_KEY) {
                    let len = path.len();
                    references::push_key(path, key);
                    let rendered_key = match self.text(key, TextKind::Plain) {
                        Ok(Some(k)) => references::to_text(&k),
                        Ok(None) => {
                            path.truncate(len);
                            continue;
                        }
                        Err(e) => return Err((path.clone(), e)),
                    };
                    let rendered = self.walk(value, path);
                    path.truncate(len);
                    if let Some(v) = rendered? {
                        out.insert(rendered_key, v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }
}

/// The params (top-level names) a template refers to, keys included.
pub fn params_used(template: &Value) -> BTreeSet<String> {
    refs_under(template, &Root::Params)
}

/// The secrets a template refers to, keys included.
pub fn secrets_used(template: &Value) -> BTreeSet<String> {
    refs_under(template, &Root::Secret)
}

fn refs_under(template: &Value, root: &Root) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut visit = |text: &str| {
        if let Ok(t) = references::parse(text) {
            for r in t.references().filter(|r| r.root == *root) {
                if let Some(PathSeg::Key(name)) = r.path.first() {
                    out.insert(name.clone());
                }
            }
        }
    };
    fn walk(v: &Value, visit: &mut impl FnMut(&str)) {
        match v {
            Value::String(s) if s.contains("${") => visit(s),
            Value::Array(items) => items.iter().for_each(|i| walk(i, visit)),
            Value::Object(map) => {
                for (k, v) in map {
                    if k.contains("${") {
                        visit(k);
                    }
                    walk(v, visit);
                }
            }
            _ => {}
        }
    }
    walk(template, &mut visit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notion_body() -> Value {
        json!({"parent": {"database_id": "${params.database_id}"},
               "properties": {"$merge": "${params.properties}",
                              "${params.title_property}": {"title": [{"text": {"content": "${params.title}"}}]}},
               "children": [{"object": "block", "type": "paragraph",
                             "paragraph": {"rich_text": [{"type": "text", "text": {"content": "${params.content}"}}]}}]})
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "database_id": {"type": "string"}, "title": {"type": "string"},
            "title_property": {"type": "string", "default": "Name"},
            "content": {"type": "string"}, "properties": {"type": "object"}}})
    }

    fn render(params: Value) -> Value {
        let Value::Object(params) = params else { panic!() };
        Rendering::new(params, &schema(), Map::new())
            .value(&notion_body())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn absent_optional_params_leave_out_what_depends_on_them_alone() {
        let body = render(json!({"database_id": "db1", "title": "Hello"}));
        assert_eq!(
            body,
            json!({"parent": {"database_id": "db1"},
                   "properties": {"Name": {"title": [{"text": {"content": "Hello"}}]}}})
        );
    }

    #[test]
    fn keys_are_templates_defaults_apply_and_objects_merge() {
        let body = render(json!({"database_id": "db1", "title": "Hi", "title_property": "Task",
                                 "content": "Body text", "properties": {"Tags": {"multi_select": []}, "Task": "overridden"}}));
        assert_eq!(
            body["properties"]["Task"],
            json!({"title": [{"text": {"content": "Hi"}}]})
        );
        assert_eq!(body["properties"]["Tags"], json!({"multi_select": []}));
        assert_eq!(
            body["children"][0]["paragraph"]["rich_text"][0]["text"]["content"],
            "Body text"
        );
    }

    #[test]
    fn a_value_keeps_its_type_and_mixed_text_reads_absent_as_empty() {
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}, "a": {"type": "string"}, "b": {"type": "string"}}});
        let Value::Object(params) = json!({"n": 5, "a": "x"}) else {
            panic!()
        };
        let r = Rendering::new(params, &schema, Map::new());
        let body = r
            .value(&json!({"n": "${params.n}", "both": "${params.a}-${params.b}", "only_b": "b=${params.b}"}))
            .unwrap()
            .unwrap();
        assert_eq!(body, json!({"n": 5, "both": "x-"}));
    }

    #[test]
    fn secrets_and_params_go_into_urls_encoded_where_they_land() {
        let schema = json!({"type": "object", "properties": {"owner": {"type": "string"}}});
        let Value::Object(params) = json!({"owner": "a/b?c"}) else {
            panic!()
        };
        let Value::Object(secrets) = json!({"bot_token": "123:ABC"}) else {
            panic!()
        };
        let r = Rendering::new(params, &schema, secrets);
        assert_eq!(
            r.url("https://api.test/bot${secret.bot_token}/repos/${params.owner}")
                .unwrap(),
            "https://api.test/bot123:ABC/repos/a%2Fb%3Fc"
        );
        assert_eq!(
            secrets_used(&json!({"Authorization": "Bearer ${secret.t}", "${secret.k}": 1})),
            BTreeSet::from(["k".to_string(), "t".to_string()])
        );
    }
}
