//! Loading a definition: text to the checked document, with every problem
//! located like a plan's (`actions.create_page.body.parent.database_id:
//! ${params.databse_id} names no param`).

use super::definition::{ActionDefinition, Auth, IntegrationDefinition, Output, definition_schema};
use super::template::MERGE_KEY;
use crate::plan::{IssueKind, PlanIssue, join_path, limits};
use crate::references::{self, PathSeg, Root};
use crate::schema::{self, Members};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The action every integration has besides its own.
pub const RAW_REQUEST: &str = "raw_request";

/// Parse and check definition text.
pub fn load(text: &str) -> Result<IntegrationDefinition, Vec<PlanIssue>> {
    if text.len() > limits::MAX_FILE_BYTES {
        return Err(vec![PlanIssue::error(
            "",
            IssueKind::TooLarge,
            format!(
                "the definition is {} bytes; the limit is {}",
                text.len(),
                limits::MAX_FILE_BYTES
            ),
        )]);
    }
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        vec![PlanIssue::error(
            "",
            IssueKind::Syntax,
            format!(
                "the definition is not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ),
        )]
    })?;
    check_value(value)
}

/// Check a definition given as JSON.
pub fn check_value(value: Value) -> Result<IntegrationDefinition, Vec<PlanIssue>> {
    let problems = schema::problems(schema_validator()?, &value, Members::Fields, false);
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|p| PlanIssue::error(p.path, p.kind, p.message))
            .collect());
    }
    let definition: IntegrationDefinition =
        serde_json::from_value(value).map_err(|e| vec![PlanIssue::error("", IssueKind::WrongType, e.to_string())])?;
    check(&definition)?;
    Ok(definition)
}

fn schema_validator() -> Result<&'static jsonschema::Validator, Vec<PlanIssue>> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| schema::compile(&definition_schema()))
        .as_ref()
        .map_err(|e| {
            vec![PlanIssue::error(
                "",
                IssueKind::Syntax,
                format!("the definition schema is broken: {e}"),
            )]
        })
}

/// Where a template sits, which decides what it may refer to.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// `base_url`: secrets only.
    Base,
    /// `path`, `url`, headers: params and secrets.
    Address,
    /// `query`, `body`: params only (a secret goes in `auth`, the path or a header).
    Data,
}

/// Every deeper problem of a well-formed definition.
pub fn check(def: &IntegrationDefinition) -> Result<(), Vec<PlanIssue>> {
    let mut issues = Vec::new();
    let secrets = &def.secrets;
    for name in secrets.keys() {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !valid {
            issues.push(PlanIssue::error(
                format!("secrets.{name}"),
                IssueKind::BadFormat,
                "a secret's name is letters, digits, `_`, `-` or `.`, at most 64 long",
            ));
        } else if name.starts_with("oauth_") {
            issues.push(PlanIssue::error(
                format!("secrets.{name}"),
                IssueKind::NotAllowed,
                "names starting with `oauth_` hold an OAuth connection's tokens",
            ));
        }
    }
    let no_params = BTreeMap::new();
    templates(
        &Value::String(def.base_url.clone()),
        "base_url",
        Place::Base,
        &no_params,
        secrets,
        &mut issues,
    );
    if !def.base_url.contains("${")
        && let Some(problem) = crate::providers::net::url_problem(&def.base_url)
    {
        issues.push(PlanIssue::error("base_url", IssueKind::BadFormat, problem));
    }
    check_auth(&def.auth, "auth", secrets, &mut issues);
    check_headers(
        &def.headers,
        "headers",
        &no_params,
        secrets,
        Place::Address,
        &mut issues,
    );
    for (name, action) in &def.actions {
        let at = format!("actions.{name}");
        if name == RAW_REQUEST {
            issues.push(PlanIssue::error(
                at.clone(),
                IssueKind::NotAllowed,
                "every integration has `raw_request` already; name this action otherwise",
            ));
        } else if !name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            issues.push(PlanIssue::error(
                at.clone(),
                IssueKind::BadFormat,
                "an action's name is lowercase letters, digits and `_`, starting with a letter",
            ));
        }
        check_action(action, &at, secrets, &mut issues);
    }
    if issues.is_empty() { Ok(()) } else { Err(issues) }
}

fn check_action(
    action: &ActionDefinition,
    at: &str,
    secrets: &BTreeMap<String, super::definition::SecretSpec>,
    issues: &mut Vec<PlanIssue>,
) {
    let path = |rest: &str| join_path(at, rest);
    // The params schema: an object schema that compiles.
    let params: BTreeMap<String, Value> = action
        .params
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if action.params.get("type").and_then(Value::as_str) != Some("object") {
        issues.push(PlanIssue::error(
            path("params.type"),
            IssueKind::NotAllowed,
            "an action's params schema is an object: {\"type\": \"object\", \"properties\": {...}}",
        ));
    }
    if let Err(e) = schema::compile(&action.params) {
        issues.push(PlanIssue::error(
            path("params"),
            IssueKind::InvalidParam,
            format!("not a valid JSON Schema: {e}"),
        ));
    } else if let Some(example) = &action.example {
        for p in schema::problems_under(&action.params, example, Members::Params, false) {
            issues.push(PlanIssue::error(
                join_path(&path("example"), &p.path),
                p.kind,
                p.message,
            ));
        }
    }
    match (&action.path, &action.url) {
        (Some(_), Some(_)) => issues.push(PlanIssue::error(
            path("url"),
            IssueKind::NotAllowed,
            "give `path` (added to base_url) or `url` (the whole address), not both",
        )),
        (Some(p), None) if !p.is_empty() && !p.starts_with('/') && !p.starts_with("${") => issues.push(
            PlanIssue::error(path("path"), IssueKind::BadFormat, "a path starts with `/`"),
        ),
        _ => {}
    }
    for (field, text) in [("path", &action.path), ("url", &action.url)] {
        if let Some(text) = text {
            templates(
                &Value::String(text.clone()),
                &path(field),
                Place::Address,
                &params,
                secrets,
                issues,
            );
        }
    }
    templates(
        &Value::Object(action.query.clone()),
        &path("query"),
        Place::Data,
        &params,
        secrets,
        issues,
    );
    if let Some(body) = &action.body {
        templates(body, &path("body"), Place::Data, &params, secrets, issues);
    }
    check_headers(
        &action.headers,
        &path("headers"),
        &params,
        secrets,
        Place::Address,
        issues,
    );
    if let Some(auth) = &action.auth {
        check_auth(auth, &path("auth"), secrets, issues);
    }
    if let Some(success) = &action.success {
        for code in success.status.iter().flatten() {
            if !(100..=599).contains(code) {
                issues.push(PlanIssue::error(
                    path("success.status"),
                    IssueKind::OutOfRange,
                    format!("{code} is not an HTTP status"),
                ));
            }
        }
        if success.equals.is_some() && success.json.is_none() {
            issues.push(PlanIssue::error(
                path("success.json"),
                IssueKind::Required,
                "is required with `equals`: the pointer whose value must equal it",
            ));
        }
        check_pointer(success.json.as_deref(), &path("success.json"), issues);
    }
    check_pointer(action.error_message.as_deref(), &path("error_message"), issues);
    check_pointer(action.retry_after.as_deref(), &path("retry_after"), issues);
    match &action.output {
        Some(Output::Pointer(p)) => check_pointer(Some(p), &path("output"), issues),
        Some(Output::Fields(fields)) => {
            for (name, p) in fields {
                check_pointer(Some(p), &path(&format!("output.{name}")), issues);
            }
        }
        None => {}
    }
}

fn check_pointer(pointer: Option<&str>, at: &str, issues: &mut Vec<PlanIssue>) {
    if let Some(p) = pointer
        && !p.is_empty()
        && !p.starts_with('/')
    {
        issues.push(PlanIssue::error(
            at,
            IssueKind::BadFormat,
            format!("`{p}` is not a JSON pointer: it starts with `/`, like /data/id"),
        ));
    }
}

fn check_headers(
    headers: &BTreeMap<String, String>,
    at: &str,
    params: &BTreeMap<String, Value>,
    secrets: &BTreeMap<String, super::definition::SecretSpec>,
    place: Place,
    issues: &mut Vec<PlanIssue>,
) {
    for (name, value) in headers {
        let mut loc = at.to_string();
        references::push_key(&mut loc, name);
        if let Some(problem) = crate::providers::net::header_problem(name, (!value.contains("${")).then_some(value)) {
            issues.push(PlanIssue::error(loc.clone(), IssueKind::BadFormat, problem));
        }
        templates(&Value::String(value.clone()), &loc, place, params, secrets, issues);
    }
}

fn check_auth(
    auth: &Auth,
    at: &str,
    secrets: &BTreeMap<String, super::definition::SecretSpec>,
    issues: &mut Vec<PlanIssue>,
) {
    let mut need = |field: &str, secret: &str| {
        if !secrets.contains_key(secret) {
            issues.push(PlanIssue::error(
                join_path(at, field),
                IssueKind::BadReference,
                format!("`{secret}` is not one of the `secrets`"),
            ));
        }
    };
    match auth {
        Auth::None => {}
        Auth::Bearer { secret } => need("secret", secret),
        Auth::Basic {
            username_secret,
            password_secret,
        } => {
            need("username_secret", username_secret);
            need("password_secret", password_secret);
        }
        Auth::ApiKey { secret, name, .. } => {
            need("secret", secret);
            if name.trim().is_empty() {
                issues.push(PlanIssue::error(
                    join_path(at, "name"),
                    IssueKind::Empty,
                    "must not be empty",
                ));
            }
        }
        Auth::Oauth2(o) => {
            need("client_id_secret", &o.client_id_secret);
            if let Some(s) = &o.client_secret_secret {
                need("client_secret_secret", s);
            }
            for (field, url) in [("authorize_url", &o.authorize_url), ("token_url", &o.token_url)] {
                if let Some(problem) = crate::providers::net::url_problem(url) {
                    issues.push(PlanIssue::error(join_path(at, field), IssueKind::BadFormat, problem));
                }
            }
        }
    }
}

/// Every reference in `value` (strings and keys): it parses, names a declared
/// param or secret, and sits where that may go.
fn templates(
    value: &Value,
    at: &str,
    place: Place,
    params: &BTreeMap<String, Value>,
    secrets: &BTreeMap<String, super::definition::SecretSpec>,
    issues: &mut Vec<PlanIssue>,
) {
    let mut found = references::find_templates(value);
    collect_key_templates(value, &mut String::new(), &mut found);
    for (path, parsed) in found {
        let loc = join_path(at, &path);
        let template = match parsed {
            Ok(t) => t,
            Err(e) => {
                issues.push(PlanIssue::error(loc, IssueKind::BadReference, e.to_string()));
                continue;
            }
        };
        for r in template.references() {
            let name = match r.path.first() {
                Some(PathSeg::Key(name)) => name.clone(),
                _ => String::new(),
            };
            let problem = match (&r.root, place) {
                (Root::Params, Place::Base) => Some("base_url takes secrets only, no params".to_string()),
                (Root::Params, _) if !params.contains_key(&name) => Some(format!(
                    "names no param (params: {})",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
                (Root::Secret, Place::Data) => {
                    Some("a secret goes in `auth`, base_url, the path or a header, not in the query or body".into())
                }
                (Root::Secret, _) if !secrets.contains_key(&name) => Some("names none of the `secrets`".into()),
                (Root::Params | Root::Secret, _) => None,
                _ => Some("a definition refers to `params.<name>` and `secret.<name>` only".into()),
            };
            if let Some(problem) = problem {
                issues.push(PlanIssue::error(
                    loc.clone(),
                    IssueKind::BadReference,
                    format!("{r} {problem}"),
                ));
            }
        }
    }
}

/// Templated object keys (and `$merge`), which `find_templates` does not look at.
fn collect_key_templates(
    value: &Value,
    path: &mut String,
    out: &mut Vec<(String, Result<references::Template, references::TemplateError>)>,
) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let len = path.len();
                references::push_key(path, k);
                if k.contains("${") && k != MERGE_KEY {
                    out.push((path.clone(), references::parse(k)));
                }
                collect_key_templates(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                collect_key_templates(v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn notion() -> Value {
        serde_json::from_str(include_str!("../../integrations/notion.json")).unwrap()
    }

    fn said(value: Value) -> Vec<String> {
        match check_value(value) {
            Ok(_) => Vec::new(),
            Err(issues) => issues.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_misspelt_param_is_located() {
        let mut def = notion();
        def["actions"]["create_page"]["body"]["parent"]["database_id"] = json!("${params.databse_id}");
        let found = said(def);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("actions.create_page.body.parent.database_id: ${params.databse_id} names no param"),
            "{found:?}"
        );
    }

    #[test]
    fn structure_secrets_and_places_are_checked() {
        let mut def = notion();
        def["colour"] = json!("blue");
        assert_eq!(said(def), vec!["colour: unknown field"]);

        let mut def = notion();
        def["auth"] = json!({"type": "bearer", "secret": "tokn"});
        def["actions"]["create_page"]["query"] = json!({"key": "${secret.token}"});
        def["actions"]["create_page"]["headers"] = json!({"X-Trace": "${steps.0.output}"});
        let found = said(def);
        assert!(found.iter().any(|f| f.starts_with("auth.secret: `tokn`")), "{found:?}");
        assert!(
            found.iter().any(|f| f.starts_with("actions.create_page.query.key:")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("X-Trace") && f.contains("params.<name>")),
            "{found:?}"
        );

        let mut def = notion();
        def["actions"]["raw_request"] = def["actions"]["create_page"].clone();
        def["actions"]["create_page"]["params"] = json!({"type": "string"});
        def["actions"]["create_page"]["error_message"] = json!("message");
        let found = said(def);
        assert!(found.iter().any(|f| f.starts_with("actions.raw_request:")), "{found:?}");
        assert!(
            found.iter().any(|f| f.starts_with("actions.create_page.params.type")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|f| f.starts_with("actions.create_page.error_message")),
            "{found:?}"
        );
    }

    #[test]
    fn a_templated_key_is_checked_too() {
        let mut def = notion();
        def["actions"]["create_page"]["body"]["properties"] = json!({"${params.titel_property}": 1});
        let found = said(def);
        assert!(
            found
                .iter()
                .any(|f| f.contains("${params.titel_property} names no param")),
            "{found:?}"
        );
    }

    #[test]
    fn not_json_is_a_syntax_issue() {
        let issues = load("{\"name\": ").unwrap_err();
        assert_eq!(issues[0].kind, IssueKind::Syntax);
        assert!(load(&format!("\u{feff}{}", notion())).is_ok(), "a BOM is accepted");
    }
}
