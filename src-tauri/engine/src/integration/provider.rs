//! An integration definition as a provider: its actions (and `raw_request`),
//! each rendered into one request through the shared request builder, with its
//! auth (put on the request in `super::auth`), its rate limit (shared by every
//! run), and its answer read as the definition says (success, error message,
//! output).

pub use super::auth::store_tokens;
use super::definition::{ActionDefinition, Auth, BodyType, IntegrationDefinition, Output};
use super::oauth::ACCESS_TOKEN;
use super::rate_limit::RateLimiter;
use super::template::{Rendering, secrets_used};
use super::validate::RAW_REQUEST;
use crate::providers::net;
use crate::references::TextKind;
use crate::registry::{
    ActionSpec, CredentialDoc, Credentials, Provider, ProviderKind, ProviderResult, StepContext, StepError, origin_of,
};
use crate::request::{ErrorReading, Reply, Request, error_detail, excerpt};
use crate::sensitive::Sensitive;
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// An integration, ready to run.
pub struct IntegrationProvider {
    pub(super) def: Arc<IntegrationDefinition>,
    kind: ProviderKind,
    limiter: Option<Arc<RateLimiter>>,
    /// One refresh at a time: two runs that find the token expired must not
    /// both spend the (rotating) refresh token.
    pub(super) refreshing: Arc<tokio::sync::Mutex<()>>,
    /// Its actions (the definition's, then the raw request), made on first need.
    actions: std::sync::OnceLock<Vec<ActionSpec>>,
}

impl std::fmt::Debug for IntegrationProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationProvider")
            .field("name", &self.def.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl IntegrationProvider {
    pub fn new(def: IntegrationDefinition, kind: ProviderKind) -> Self {
        let limiter = def
            .rate_limit
            .map(|r| Arc::new(RateLimiter::new(r.requests, Duration::from_secs_f64(r.per_seconds))));
        Self {
            def: Arc::new(def),
            kind,
            limiter,
            refreshing: Arc::default(),
            actions: std::sync::OnceLock::new(),
        }
    }

    /// Keep `previous`'s rate-limit window and refresh lock (the same integration
    /// in a registry built before this one), so a rebuild does not reset them.
    pub fn sharing_state_with(mut self, previous: &IntegrationProvider) -> Self {
        if self.def.rate_limit == previous.def.rate_limit {
            self.limiter = previous.limiter.clone();
        }
        self.refreshing = previous.refreshing.clone();
        self
    }

    pub fn definition(&self) -> &IntegrationDefinition {
        &self.def
    }

    fn action_def(&self, action: &str) -> Result<&ActionDefinition, StepError> {
        self.def.actions.get(action).ok_or_else(|| {
            StepError::fatal(
                ErrorCode::UnknownAction,
                format!("{} has no action `{action}`", self.def.name),
            )
        })
    }

    pub(super) fn auth_of<'a>(&'a self, action: Option<&'a ActionDefinition>) -> &'a Auth {
        action.and_then(|a| a.auth.as_ref()).unwrap_or(&self.def.auth)
    }

    /// The secrets an action reads: its templates' and its auth's.
    fn secrets_of(&self, action: Option<&ActionDefinition>) -> BTreeSet<String> {
        let mut used = secrets_used(&Value::String(self.def.base_url.clone()));
        used.extend(secrets_used(&json!(self.def.headers)));
        if let Some(a) = action {
            used.extend(secrets_used(&json!([a.path, a.url, a.headers])));
        }
        match self.auth_of(action) {
            Auth::None => {}
            Auth::Bearer { secret } | Auth::ApiKey { secret, .. } => {
                used.insert(secret.clone());
            }
            Auth::Basic {
                username_secret,
                password_secret,
            } => {
                used.insert(username_secret.clone());
                used.insert(password_secret.clone());
            }
            Auth::Oauth2(o) => {
                used.insert(o.client_id_secret.clone());
                used.extend(o.client_secret_secret.clone());
                used.insert(ACCESS_TOKEN.into());
            }
        }
        used
    }

    fn is_optional(&self, secret: &str) -> bool {
        self.def.secrets.get(secret).is_some_and(|s| s.optional)
    }
}

/// The params of `raw_request`.
fn raw_request_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["method", "path"],
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"], "description": "The HTTP method."},
            "path": {"type": "string", "description": "Added to the integration's address, starting with /: /v1/users/me"},
            "query": {"type": "object", "description": "Query parameters, as name → value."},
            "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}, "description": "Extra headers."},
            "body": {"description": "The body: objects and lists are sent as JSON, text as text."}
        }
    })
}

#[async_trait]
impl Provider for IntegrationProvider {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn title(&self) -> String {
        self.def.title.clone()
    }

    fn description(&self) -> String {
        if self.def.description.is_empty() {
            format!("The {} API", self.def.title)
        } else {
            self.def.description.clone()
        }
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn as_integration(&self) -> Option<&IntegrationProvider> {
        Some(self)
    }

    fn actions(&self) -> &[ActionSpec] {
        self.actions.get_or_init(|| {
            let mut actions: Vec<ActionSpec> = self
                .def
                .actions
                .iter()
                .map(|(name, a)| {
                    let description = if a.description.is_empty() {
                        &a.title
                    } else {
                        &a.description
                    };
                    ActionSpec::new(name, description, a.params.clone(), a.side_effects())
                        .titled(a.title.clone())
                        .with_example(a.example.clone())
                })
                .collect();
            actions.push(
                ActionSpec::new(
                    RAW_REQUEST,
                    &format!(
                        "Send a request to any endpoint of the {} API, with its authentication",
                        self.def.title
                    ),
                    raw_request_schema(),
                    true,
                )
                .titled(format!("Call any {} endpoint", self.def.title))
                .with_example(Some(json!({"method": "GET", "path": "/"}))),
            );
            actions
        })
    }

    fn credential_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.def.secrets.keys().cloned().collect();
        if matches!(self.def.auth, Auth::Oauth2(_)) {
            fields.push(ACCESS_TOKEN.into());
        }
        fields
    }

    fn optional_credentials(&self) -> Vec<String> {
        self.def
            .secrets
            .iter()
            .filter(|(_, s)| s.optional)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn credential_docs(&self) -> Vec<CredentialDoc> {
        let mut docs: Vec<CredentialDoc> = self
            .def
            .secrets
            .iter()
            .map(|(field, s)| CredentialDoc {
                field: field.clone(),
                label: s.label.clone(),
                help: s.help.clone(),
                optional: s.optional,
            })
            .collect();
        if matches!(self.def.auth, Auth::Oauth2(_)) {
            docs.push(CredentialDoc {
                field: ACCESS_TOKEN.into(),
                label: "Connection (Connect…)".into(),
                help: Some("Set by connecting the account in the browser, not by hand".into()),
                optional: false,
            });
        }
        docs
    }

    fn credentials_needed(&self, action: &str, _params: &Value) -> Vec<String> {
        let def = self.def.actions.get(action);
        self.secrets_of(def)
            .into_iter()
            .filter(|s| !self.is_optional(s))
            .collect()
    }

    fn text_kind(&self, action: &str, path: &str) -> TextKind {
        match action {
            RAW_REQUEST if path == "path" => TextKind::Url,
            RAW_REQUEST if path.starts_with("headers.") || path.starts_with("headers[") => TextKind::Header,
            _ => TextKind::Plain,
        }
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        let mut issues = Vec::new();
        if action == RAW_REQUEST {
            if let Some(path) = params.get("path").and_then(Value::as_str)
                && !net::is_reference(&params["path"])
                && !path.starts_with('/')
                && !path.starts_with("${")
            {
                issues.push((
                    "path".into(),
                    format!("a path starts with `/` and is added to {}", self.def.base_url),
                ));
            }
            net::check_headers_param(params, &mut issues);
        }
        issues
    }

    fn has_side_effects(&self, action: &str, params: &Value) -> bool {
        match action {
            RAW_REQUEST => !matches!(params.get("method").and_then(Value::as_str), Some("GET" | "HEAD")),
            _ => self.def.actions.get(action).is_none_or(ActionDefinition::side_effects),
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
        let def = if action == RAW_REQUEST {
            None
        } else {
            Some(self.action_def(action)?)
        };
        let spec = self.actions().iter().find(|a| a.name == action).ok_or_else(|| {
            StepError::fatal(
                ErrorCode::UnknownAction,
                format!("{} has no action `{action}`", self.def.name),
            )
        })?;
        let schema = &spec.params_schema;
        // References resolved only now: hold the params to the schema again.
        let problems = spec.params_problems(&params, false);
        if !problems.is_empty() {
            let said: Vec<String> = problems
                .iter()
                .map(|p| format!("params.{}: {}", p.path, p.message).replace("params.: ", "params: "))
                .collect();
            return Err(StepError::fatal(ErrorCode::InvalidParams, said.join("; ")));
        }
        let params = match params {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        // Secrets the templates need (auth secrets are read where they are applied).
        let mut secrets = Map::new();
        let templated: BTreeSet<String> = {
            let mut t = secrets_used(&Value::String(self.def.base_url.clone()));
            t.extend(secrets_used(&json!(self.def.headers)));
            if let Some(a) = def {
                t.extend(secrets_used(&json!([a.path, a.url, a.headers])));
            }
            t
        };
        for name in &templated {
            let value = if self.is_optional(name) {
                credentials.get(name).await?
            } else {
                Some(credentials.require(name).await?)
            };
            if let Some(v) = value {
                secrets.insert(name.clone(), Value::String(v.into_inner()));
            }
        }
        let rendering = Rendering::new(params.clone(), schema, secrets);
        let side_effects = self.has_side_effects(action, &Value::Object(params.clone()));
        let auth = self.auth_of(def).clone();
        let read = |body: &[u8]| self.read_error(def, body);
        let token = match &auth {
            Auth::Oauth2(o) => Some(self.access_token(o, credentials, ctx, None).await?),
            _ => None,
        };
        if let Some(limiter) = &self.limiter {
            limiter.acquire(&self.def.title, ctx.deadline, &cancel).await?;
        }
        let mut reply = self
            .build(def, &params, &rendering, credentials, ctx, side_effects, token.as_ref())
            .await?
            .send_with(&ctx.http, &cancel, &read)
            .await;
        // An access token refused before it was due: refresh once and send again
        // (a 401 means the request was not acted on).
        if let (Auth::Oauth2(o), Err(e)) = (&auth, &reply)
            && e.code() == ErrorCode::Http(401)
        {
            let fresh = self.access_token(o, credentials, ctx, token.as_ref()).await?;
            if let Some(limiter) = &self.limiter {
                limiter.acquire(&self.def.title, ctx.deadline, &cancel).await?;
            }
            reply = self
                .build(def, &params, &rendering, credentials, ctx, side_effects, Some(&fresh))
                .await?
                .send_with(&ctx.http, &cancel, &read)
                .await;
        }
        self.result(def, reply?)
    }
}

impl IntegrationProvider {
    /// The request an action (or `raw_request`) makes with these params.
    #[allow(clippy::too_many_arguments)]
    async fn build(
        &self,
        def: Option<&ActionDefinition>,
        params: &Map<String, Value>,
        rendering: &Rendering,
        credentials: &Credentials,
        ctx: &StepContext,
        side_effects: bool,
        token: Option<&Sensitive<String>>,
    ) -> Result<Request, StepError> {
        let render_error = |at: &str, e: crate::references::ResolveError| {
            StepError::fatal(ErrorCode::Reference, format!("{} {at}: {e}", self.def.name))
        };
        let base = rendering
            .url(&self.def.base_url)
            .map_err(|e| render_error("base_url", e))?;
        let base = base.trim_end_matches('/').to_string();
        let base_url = net::parse_url("base_url", &base)?;
        let (method, address, bound_to_base) = match def {
            Some(a) => match &a.url {
                Some(url) => (
                    a.method.to_reqwest(),
                    rendering.url(url).map_err(|e| render_error("url", e))?,
                    false,
                ),
                None => {
                    let path = a.path.as_deref().unwrap_or("");
                    let path = rendering.url(path).map_err(|e| render_error("path", e))?;
                    (a.method.to_reqwest(), format!("{base}{path}"), true)
                }
            },
            None => {
                let method = params.get("method").and_then(Value::as_str).unwrap_or("GET");
                let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| {
                    StepError::fatal(
                        ErrorCode::InvalidParams,
                        format!("method: `{method}` is not an HTTP method"),
                    )
                })?;
                let path = params.get("path").and_then(Value::as_str).unwrap_or("/");
                if !path.starts_with('/') {
                    return Err(StepError::fatal(
                        ErrorCode::InvalidParams,
                        format!("path: `{path}` does not start with `/`"),
                    ));
                }
                (method, format!("{base}{path}"), true)
            }
        };
        let url = net::parse_url("url", &address)?;
        // A path never takes the request (and the credentials) to another origin.
        if bound_to_base && origin_of(&url) != origin_of(&base_url) {
            return Err(StepError::fatal(
                ErrorCode::InvalidParams,
                format!("the path would leave {}", origin_of(&base_url)),
            ));
        }
        let mut request = Request::new(method, url)
            .side_effects(side_effects)
            .idempotency_key(ctx.idempotency_key());
        let action_headers = def.map(|a| a.headers.clone()).unwrap_or_default();
        for (name, template) in self.def.headers.iter().chain(action_headers.iter()) {
            let Some(value) = rendering
                .text(template, TextKind::Header)
                .map_err(|e| render_error(&format!("headers.{name}"), e))?
            else {
                continue;
            };
            let (name, value) = header(name, &crate::references::to_text(&value))?;
            request = if secrets_used(&Value::String(template.clone())).is_empty() {
                request.header(name, value)
            } else {
                request.secret_header(name, value)
            };
        }
        let (query, body, body_type) = match def {
            Some(a) => {
                let query = rendering
                    .value(&Value::Object(a.query.clone()))
                    .map_err(|(p, e)| render_error(&format!("query.{p}"), e))?;
                let body = match &a.body {
                    Some(b) => rendering
                        .value(b)
                        .map_err(|(p, e)| render_error(&format!("body.{p}"), e))?,
                    None => None,
                };
                (query, body, a.body_type.unwrap_or_default())
            }
            None => {
                if let Some(Value::Object(headers)) = params.get("headers") {
                    for (name, value) in headers {
                        let (name, value) = header(name, &crate::references::to_text(value))?;
                        request = request.header(name, value);
                    }
                }
                let body = params.get("body").cloned().filter(|b| !b.is_null());
                let kind = if body.as_ref().is_some_and(Value::is_string) {
                    BodyType::Text
                } else {
                    BodyType::Json
                };
                (params.get("query").cloned(), body, kind)
            }
        };
        if let Some(Value::Object(query)) = query {
            request = request.query(query_pairs(&query));
        }
        request = match (body, body_type) {
            (None, _) => request,
            (Some(b), BodyType::Json) => request.json(&b),
            (Some(b), BodyType::Text) => request.text(crate::references::to_text(&b)),
            (Some(Value::Object(fields)), BodyType::Form) => request.form(&query_pairs(&fields)),
            (Some(_), BodyType::Form) => {
                return Err(StepError::fatal(
                    ErrorCode::InvalidParams,
                    "a form body is an object of fields",
                ));
            }
        };
        self.authorize(request, def, credentials, token).await
    }

    /// A refused answer's message (the definition's pointer, else the usual
    /// places) and a wait its body names.
    fn read_error(&self, def: Option<&ActionDefinition>, body: &[u8]) -> ErrorReading {
        let json = serde_json::from_slice::<Value>(body).ok();
        let at = |pointer: Option<&String>| Some(json.as_ref()?.pointer(pointer?)?.clone());
        ErrorReading {
            detail: at(def.and_then(|d| d.error_message.as_ref()))
                .map(|v| crate::references::to_text(&v))
                .and_then(|t| excerpt(&t))
                .or_else(|| error_detail(body)),
            retry_after: at(def.and_then(|d| d.retry_after.as_ref()))
                .and_then(|v| v.as_f64())
                .filter(|s| *s >= 0.0)
                .map(Duration::from_secs_f64),
            lasting: false,
        }
    }

    /// The step result of an accepted answer, held to the definition's success rule.
    fn result(&self, def: Option<&ActionDefinition>, reply: Reply) -> Result<ProviderResult, StepError> {
        let status = reply.status;
        let mut result = reply.into_result();
        let Some(def) = def else {
            return Ok(result);
        };
        if let Some(success) = &def.success {
            let failed = match (&success.json, &success.text_equals) {
                (Some(pointer), _) => {
                    let expected = success.equals.clone().unwrap_or(Value::Bool(true));
                    result.output.pointer(pointer) != Some(&expected)
                }
                (None, Some(text)) => crate::references::to_text(&result.output).trim() != text,
                (None, None) => false,
            };
            if failed {
                let said = def
                    .error_message
                    .as_ref()
                    .and_then(|p| result.output.pointer(p))
                    .map(crate::references::to_text)
                    .or_else(|| excerpt(&crate::references::to_text(&result.output)))
                    .unwrap_or_default();
                return Err(StepError::fatal(
                    ErrorCode::ApiError,
                    format!(
                        "{} -> {} but {} says it failed: {said}",
                        result.message,
                        crate::request::status_line(status),
                        self.def.title
                    ),
                ));
            }
        }
        match &def.output {
            None => {}
            Some(Output::Pointer(p)) => {
                result.output = result.output.pointer(p).cloned().unwrap_or(Value::Null);
            }
            Some(Output::Fields(fields)) => {
                let picked: Map<String, Value> = fields
                    .iter()
                    .map(|(k, p)| (k.clone(), result.output.pointer(p).cloned().unwrap_or(Value::Null)))
                    .collect();
                result.output = Value::Object(picked);
            }
        }
        Ok(result)
    }
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), StepError> {
    let bad = || {
        StepError::fatal(
            ErrorCode::InvalidParams,
            format!(
                "headers: {}",
                net::header_problem(name, Some(value)).unwrap_or_else(|| format!("`{name}` cannot be sent"))
            ),
        )
    };
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?,
        HeaderValue::from_str(value).map_err(|_| bad())?,
    ))
}

/// Query or form fields from an object: a list repeats its field, null leaves
/// it out, anything else is its text.
fn query_pairs(map: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (k, v) in map {
        match v {
            Value::Null => {}
            Value::Array(items) => pairs.extend(items.iter().map(|i| (k.clone(), crate::references::to_text(i)))),
            other => pairs.push((k.clone(), crate::references::to_text(other))),
        }
    }
    pairs
}
