//! `http` (alias `custom_api`): one request to any web API, with JSON, text or
//! form bodies and authentication from the keychain.

use super::net::{self, Scalar};
use crate::references;
use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::request::{Credential, Request, split_user_password};
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use reqwest::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

pub struct Http;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl From<Method> for reqwest::Method {
    fn from(m: Method) -> Self {
        match m {
            Method::Get => Self::GET,
            Method::Post => Self::POST,
            Method::Put => Self::PUT,
            Method::Patch => Self::PATCH,
            Method::Delete => Self::DELETE,
            Method::Head => Self::HEAD,
            Method::Options => Self::OPTIONS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum BodyType {
    Json,
    Text,
    Form,
}

/// How the request proves who it is. The secret is a credential stored for the
/// `http` provider (`flowpilot-cli credentials set http <credential>`), never
/// written in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// Sends `Authorization: Bearer <secret>`.
    Bearer {
        /// The name of the stored credential that holds the token.
        credential: String,
    },
    /// HTTP Basic authentication.
    Basic {
        /// The name of the stored credential that holds the password, or
        /// `user:password` when `username` is left out.
        credential: String,
        /// The user name; when left out, the credential holds `user:password`.
        #[serde(default)]
        username: Option<String>,
    },
    /// Sends the secret as the value of a header, such as `X-API-Key`.
    Header {
        /// The name of the stored credential that holds the secret.
        credential: String,
        /// The header to send it in.
        name: String,
    },
    /// Sends the secret as a query-string parameter, such as `?api_key=`.
    Query {
        /// The name of the stored credential that holds the secret.
        credential: String,
        /// The query parameter to send it in.
        name: String,
    },
}

impl Auth {
    /// The name of the stored credential it sends.
    pub fn credential(&self) -> &str {
        match self {
            Self::Bearer { credential }
            | Self::Basic { credential, .. }
            | Self::Header { credential, .. }
            | Self::Query { credential, .. } => credential,
        }
    }
}

/// A status code such as `404`, or a class such as `"4xx"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
enum StatusPattern {
    Code(#[schemars(range(min = 100, max = 599))] u16),
    Class(#[schemars(regex(pattern = r"^[1-5][xX][xX]$"))] String),
}

impl StatusPattern {
    /// Whether `status` matches. A class is its first digit followed by `xx`;
    /// a digits-only string (from a reference) is taken as a code.
    fn matches(&self, status: u16) -> bool {
        match self {
            Self::Code(code) => *code == status,
            Self::Class(text) => match class_digit(text) {
                Some(digit) => status / 100 == u16::from(digit),
                None => text.trim().parse::<u16>().is_ok_and(|code| code == status),
            },
        }
    }
}

fn class_digit(text: &str) -> Option<u8> {
    match text.trim().as_bytes() {
        [d @ b'1'..=b'5', x, y] if x.eq_ignore_ascii_case(&b'x') && y.eq_ignore_ascii_case(&b'x') => Some(d - b'0'),
        _ => None,
    }
}

/// Whether `status` counts as success: any 2xx, or exactly the listed statuses.
fn accepted(patterns: Option<&[StatusPattern]>, status: StatusCode) -> bool {
    match patterns {
        None => status.is_success(),
        Some(list) => list.iter().any(|p| p.matches(status.as_u16())),
    }
}

/// Send one HTTP request and return the response body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RequestParams {
    /// The HTTP method; GET when left out.
    #[serde(default)]
    #[schemars(extend("default" = "GET"))]
    method: Method,
    /// The address to call, in full: `https://api.example.com/items`.
    url: String,
    /// Extra request headers, as name → value, e.g. `{"Accept": "application/json"}`.
    /// Put secrets in `auth`, not here.
    #[serde(default)]
    headers: BTreeMap<String, Scalar>,
    /// Query-string parameters added to the URL, as name → value, e.g. `{"page": 2}`.
    #[serde(default)]
    query: BTreeMap<String, Scalar>,
    /// The request body. Objects and arrays are sent as JSON and strings as
    /// text, unless `body_type` says otherwise.
    #[serde(default)]
    body: Option<Value>,
    /// How to send `body`: `json`, `text`, or `form` (URL-encoded fields from an
    /// object, like an HTML form).
    #[serde(default)]
    body_type: Option<BodyType>,
    /// Authentication with a stored credential.
    #[serde(default)]
    auth: Option<Auth>,
    /// The statuses that count as success, instead of the default (any 2xx):
    /// codes like `404` or classes like `"4xx"`. `[200, 404]` treats "not found"
    /// as an answer rather than a failure. Any other status fails the step.
    #[serde(default)]
    accept_status: Option<Vec<StatusPattern>>,
}

/// The body as the server will see it.
enum Payload {
    Json(Value),
    Text(String),
    Form(Vec<(String, String)>),
}

fn payload(body: Option<Value>, body_type: Option<BodyType>) -> Result<Option<Payload>, StepError> {
    let Some(body) = body.filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let kind = body_type.unwrap_or(if body.is_string() {
        BodyType::Text
    } else {
        BodyType::Json
    });
    Ok(Some(match kind {
        BodyType::Json => Payload::Json(body),
        BodyType::Text => Payload::Text(references::to_text(&body)),
        BodyType::Form => Payload::Form(
            form_fields(&body)
                .map_err(|(path, problem)| StepError::fatal(ErrorCode::InvalidParams, format!("{path}: {problem}")))?,
        ),
    }))
}

/// An object as URL-encoded form fields; a list repeats its field (`tag=a&tag=b`).
fn form_fields(body: &Value) -> Result<Vec<(String, String)>, (String, String)> {
    let Value::Object(map) = body else {
        return Err((
            "body".into(),
            "a form body is an object of field names and values, like {\"name\": \"Ada\"}".into(),
        ));
    };
    let mut fields = Vec::with_capacity(map.len());
    for (key, value) in map {
        let values = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            if v.is_object() || v.is_array() {
                let mut path = "body".to_string();
                references::push_key(&mut path, key);
                return Err((
                    path,
                    "a form field holds text, a number, a boolean or a list of those".into(),
                ));
            }
            fields.push((key.clone(), references::to_text(v)));
        }
    }
    Ok(fields)
}

impl Auth {
    /// The stored credential's name.
    fn field(&self) -> &str {
        match self {
            Auth::Bearer { credential }
            | Auth::Basic { credential, .. }
            | Auth::Header { credential, .. }
            | Auth::Query { credential, .. } => credential,
        }
    }

    /// Read the credential (for a request to `target`) and put it where `auth` says.
    async fn apply(&self, request: Request, credentials: &Credentials) -> Result<Request, StepError> {
        let field = self.field();
        let secret = credentials.require_for(field, request.url(), None).await?;
        let credential = match self {
            Auth::Bearer { .. } => Credential::Bearer(secret),
            Auth::Basic {
                username: Some(user), ..
            } => Credential::Basic {
                user: user.clone(),
                password: secret,
            },
            Auth::Basic { username: None, .. } => {
                let (user, password) = split_user_password(&secret, field)?;
                Credential::Basic {
                    user: user.to_string(),
                    password: password.to_string().into(),
                }
            }
            Auth::Header { name, .. } => Credential::Header {
                name: name.clone(),
                prefix: String::new(),
                value: secret,
            },
            Auth::Query { name, .. } => Credential::Query {
                name: name.clone(),
                value: secret,
            },
        };
        request.credential(credential, field, credentials)
    }
}

fn check_request(params: &Value) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    net::check_url_param(params, "url", &mut issues);
    net::check_headers_param(params, &mut issues);
    let is_form = params.get("body_type").and_then(Value::as_str) == Some("form");
    if is_form
        && let Some(body) = params.get("body").filter(|b| !net::is_reference(b) && !b.is_null())
        && let Err(issue) = form_fields(body)
    {
        issues.push(issue);
    }
    if let Some(auth) = params.get("auth")
        && auth.get("type").and_then(Value::as_str) == Some("header")
        && let Some(name) = auth.get("name").and_then(Value::as_str)
        && let Some(problem) = net::header_problem(name, None)
    {
        issues.push(("auth.name".into(), problem));
    }
    issues
}

#[async_trait]
impl Provider for Http {
    fn name(&self) -> &str {
        "http"
    }

    fn title(&self) -> String {
        "HTTP request".into()
    }

    /// The credential an `auth` names (unless a reference picks it at run time).
    fn credentials_needed(&self, _action: &str, params: &Value) -> Vec<String> {
        match params.get("auth").and_then(|a| a.get("credential")) {
            Some(Value::String(name)) if !net::is_reference(&params["auth"]["credential"]) => vec![name.clone()],
            _ => Vec::new(),
        }
    }

    fn aliases(&self) -> Vec<String> {
        vec!["custom_api".into()]
    }

    fn description(&self) -> String {
        "Call any web API over HTTP".into()
    }

    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            vec![ActionSpec::new(
                "request",
                "Send an HTTP request and return the response body",
                schema_of::<RequestParams>(),
                true,
            )]
        });
        &ACTIONS
    }

    fn text_kind(&self, _action: &str, path: &str) -> crate::references::TextKind {
        net::url_and_headers(path, "url")
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        match action {
            "request" => check_request(params),
            _ => Vec::new(),
        }
    }

    /// Only the methods HTTP defines as safe (RFC 9110 §9.2.1: GET, HEAD, OPTIONS)
    /// leave the server as it was; everything else, and a method that is not one
    /// of ours, counts as a write. The spelling matches what `run` accepts.
    fn has_side_effects(&self, action: &str, params: &Value) -> bool {
        if action != "request" {
            return true;
        }
        match params.get("method") {
            None | Some(Value::Null) => false, // GET when left out
            Some(Value::String(m)) => !matches!(m.as_str(), "GET" | "HEAD" | "OPTIONS"),
            Some(_) => true,
        }
    }

    async fn run(
        &self,
        action: &str,
        params: Value,
        credentials: &Credentials,
        ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        if action != "request" {
            return Err(StepError::fatal(
                ErrorCode::UnknownAction,
                format!("http has no action `{action}`"),
            ));
        }
        let p: RequestParams = parse_params(params)?;
        let url = net::parse_url("url", &p.url)?;
        let method: reqwest::Method = p.method.into();
        let side_effects = !method.is_safe();
        let mut request = Request::new(method, url)
            .headers(net::header_map(&p.headers)?)
            .query(p.query.into_iter().map(|(k, Scalar(v))| (k, v)))
            .side_effects(side_effects)
            .idempotency_key(ctx.idempotency_key());
        if let Some(auth) = &p.auth {
            request = auth.apply(request, credentials).await?;
        }
        request = match payload(p.body, p.body_type)? {
            None => request,
            Some(Payload::Json(v)) => request.json(&v),
            Some(Payload::Form(fields)) => request.form(&fields),
            Some(Payload::Text(text)) => request.text(text),
        };
        let patterns = p.accept_status;
        let request = request.accept(move |status: StatusCode| accepted(patterns.as_deref(), status));
        Ok(request.send(&ctx.http, &cancel).await?.into_result())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn code(status: u16) -> StatusCode {
        StatusCode::from_u16(status).unwrap()
    }

    #[test]
    fn accept_status_matches_codes_and_classes() {
        assert!(accepted(None, code(200)));
        assert!(accepted(None, code(204)));
        assert!(!accepted(None, code(404)));
        assert!(!accepted(None, code(302)));

        let list: Vec<StatusPattern> = serde_json::from_value(json!([200, 404])).unwrap();
        assert!(accepted(Some(&list), code(200)));
        assert!(accepted(Some(&list), code(404)));
        assert!(
            !accepted(Some(&list), code(201)),
            "an explicit list replaces the 2xx default"
        );

        let list: Vec<StatusPattern> = serde_json::from_value(json!(["2xx", "4XX"])).unwrap();
        assert!(accepted(Some(&list), code(201)));
        assert!(accepted(Some(&list), code(418)));
        assert!(!accepted(Some(&list), code(500)));

        let list: Vec<StatusPattern> = serde_json::from_value(json!(["409"])).unwrap();
        assert!(accepted(Some(&list), code(409)));
    }

    #[test]
    fn accept_status_schema_allows_codes_and_classes_only() {
        let schema = schema_of::<RequestParams>();
        let ok = json!({"url": "https://x.test", "accept_status": [200, "4xx"]});
        assert!(crate::schema::problems_under(&schema, &ok, crate::schema::Members::Params, true).is_empty());
        for bad in [json!([99]), json!([600]), json!(["4xxx"]), json!(["oops"])] {
            let params = json!({"url": "https://x.test", "accept_status": bad});
            assert!(
                !crate::schema::problems_under(&schema, &params, crate::schema::Members::Params, true).is_empty(),
                "{params}"
            );
        }
    }

    #[test]
    fn schema_documents_every_param() {
        let schema = schema_of::<RequestParams>();
        for key in [
            "method",
            "url",
            "headers",
            "query",
            "body",
            "body_type",
            "auth",
            "accept_status",
        ] {
            assert!(
                schema["properties"][key].get("description").is_some(),
                "{key} has no description"
            );
        }
        assert_eq!(schema["required"], json!(["url"]));
    }

    #[test]
    fn bodies_default_to_json_for_structures_and_text_for_strings() {
        assert!(matches!(
            payload(Some(json!({"a": 1})), None),
            Ok(Some(Payload::Json(_)))
        ));
        assert!(matches!(payload(Some(json!([1])), None), Ok(Some(Payload::Json(_)))));
        assert!(matches!(payload(Some(json!("hi")), None), Ok(Some(Payload::Text(t))) if t == "hi"));
        assert!(matches!(
            payload(Some(json!("{}")), Some(BodyType::Json)),
            Ok(Some(Payload::Json(_)))
        ));
        assert!(matches!(payload(None, None), Ok(None)));
        assert!(matches!(payload(Some(Value::Null), Some(BodyType::Json)), Ok(None)));
    }

    #[test]
    fn form_bodies_are_flat_fields() {
        let fields = form_fields(&json!({"name": "Ada", "age": 36, "tag": ["a", "b"]})).unwrap();
        assert_eq!(
            fields,
            vec![
                ("age".to_string(), "36".to_string()),
                ("name".into(), "Ada".into()),
                ("tag".into(), "a".into()),
                ("tag".into(), "b".into()),
            ]
        );
        assert_eq!(form_fields(&json!({"a": {"b": 1}})).unwrap_err().0, "body.a");
        assert_eq!(form_fields(&json!("a=1")).unwrap_err().0, "body");
    }

    #[test]
    fn prepare_reports_located_problems() {
        let issues = Http.prepare(
            "request",
            &json!({
                "url": "example.com/x",
                "headers": {"Bad Header": "x", "X-Ok": "${steps.0.output}"},
                "body_type": "form",
                "body": {"nested": {"a": 1}},
                "auth": {"type": "header", "credential": "key", "name": "X Key"}
            }),
        );
        let paths: Vec<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["url", "headers[\"Bad Header\"]", "body.nested", "auth.name"],
            "{issues:?}"
        );
    }

    #[test]
    fn prepare_skips_references() {
        let issues = Http.prepare(
            "request",
            &json!({
                "url": "${steps.0.output.next}",
                "body_type": "form",
                "body": "${steps.0.output}",
            }),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let issues = Http.prepare(
            "request",
            &json!({"url": "https://api.test/items/${steps.0.output.id}"}),
        );
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn only_safe_methods_are_free_of_side_effects() {
        for (params, writes) in [
            (json!({"url": "https://x.test"}), false),
            (json!({"url": "https://x.test", "method": "GET"}), false),
            (json!({"url": "https://x.test", "method": "HEAD"}), false),
            (json!({"url": "https://x.test", "method": "OPTIONS"}), false),
            (json!({"url": "https://x.test", "method": "POST"}), true),
            (json!({"url": "https://x.test", "method": "DELETE"}), true),
            (json!({"url": "https://x.test", "method": "get"}), true),
            (json!({"url": "https://x.test", "method": 1}), true),
        ] {
            assert_eq!(Http.has_side_effects("request", &params), writes, "{params}");
        }
        assert!(Http.has_side_effects("unknown", &json!({})));
    }
}
