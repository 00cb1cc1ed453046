//! `openai`, `groq`, `openai_compatible`: one chat completion from any server
//! that speaks OpenAI's `/v1/chat/completions` (OpenAI, Groq, Ollama, LM Studio,
//! vLLM, llama.cpp...). The three differ only in their defaults.

use super::net::{self, Text};
use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::request::{self, Credential, Request};
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CHAT: &str = "chat_completion";
const API_KEY: &str = "api_key";
/// A model may think for minutes before its first byte (and between chunks of a
/// long answer), so it gets longer than the default idle timeout.
const LLM_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Llm {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    /// The public endpoint; `None` when the user must name their own server.
    default_base_url: Option<&'static str>,
    default_model: Option<&'static str>,
    /// OpenAI and Groq deprecated `max_tokens` (OpenAI's reasoning models
    /// reject it); self-hosted servers mostly know only `max_tokens`.
    max_tokens_field: &'static str,
    /// Its one action, made on first need (the schema's docs name this provider).
    actions: std::sync::OnceLock<Vec<ActionSpec>>,
}

impl Llm {
    pub fn openai() -> Self {
        Self {
            name: "openai",
            title: "OpenAI",
            description: "OpenAI's chat models (GPT)",
            default_base_url: Some("https://api.openai.com"),
            default_model: Some("gpt-4o-mini"),
            max_tokens_field: "max_completion_tokens",
            actions: std::sync::OnceLock::new(),
        }
    }

    pub fn groq() -> Self {
        Self {
            name: "groq",
            title: "Groq",
            description: "Groq's fast hosted open models (Llama and others)",
            default_base_url: Some("https://api.groq.com/openai"),
            default_model: Some("llama-3.1-8b-instant"),
            max_tokens_field: "max_completion_tokens",
            actions: std::sync::OnceLock::new(),
        }
    }

    pub fn openai_compatible() -> Self {
        Self {
            name: "openai_compatible",
            title: "OpenAI-compatible server",
            description: "Any server with an OpenAI-compatible API (Ollama, LM Studio, vLLM, llama.cpp)",
            default_base_url: None,
            default_model: None,
            max_tokens_field: "max_tokens",
            actions: std::sync::OnceLock::new(),
        }
    }

    fn model_doc(&self) -> String {
        match self.default_model {
            Some(model) => format!("The model to use; {model} when left out."),
            None => "The model to use, as the server names it (e.g. `llama3.1`). Required.".into(),
        }
    }

    fn base_url_doc(&self) -> String {
        match self.default_base_url {
            Some(base) => {
                format!("Another server to send the request to instead of {base}, with or without a trailing /v1.")
            }
            None => "The server's address, e.g. http://localhost:11434 (Ollama) or http://localhost:1234 \
                     (LM Studio), with or without a trailing /v1. Required."
                .into(),
        }
    }

    /// The origin of the public service, where its key may always go; `None` for a
    /// server the person chooses.
    fn home(&self) -> Option<String> {
        self.default_base_url
            .and_then(|base| reqwest::Url::parse(base).ok())
            .map(|url| crate::registry::origin_of(&url))
    }

    /// Whether `endpoint` is this provider's public service, which always needs a key.
    fn is_public_endpoint(&self, endpoint: &str) -> bool {
        self.default_base_url.is_some_and(|base| chat_url(base) == endpoint)
    }

    fn check_chat(&self, params: &Value) -> Vec<(String, String)> {
        let mut issues = Vec::new();
        let given = |key: &str| params.get(key).is_some_and(|v| !v.is_null());
        match (given("prompt"), given("messages")) {
            (true, true) => issues.push((
                "messages".into(),
                "give either `prompt` (one message) or `messages` (a conversation), not both".into(),
            )),
            (false, false) => issues.push((
                String::new(),
                "needs `prompt` (one message) or `messages` (a conversation)".into(),
            )),
            _ => {}
        }
        if params
            .get("prompt")
            .and_then(Value::as_str)
            .is_some_and(|p| p.trim().is_empty())
        {
            issues.push(("prompt".into(), "is empty".into()));
        }
        if params
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            issues.push(("messages".into(), "needs at least one message".into()));
        }
        net::check_url_param(params, "base_url", &mut issues);
        if self.default_base_url.is_none() && !given("base_url") {
            issues.push((
                "base_url".into(),
                format!(
                    "is required: {} needs the address of your server, e.g. http://localhost:11434 for Ollama",
                    self.name
                ),
            ));
        }
        if self.default_model.is_none() && !given("model") {
            issues.push((
                "model".into(),
                format!(
                    "is required: {} needs the name of a model your server runs, e.g. llama3.1",
                    self.name
                ),
            ));
        }
        issues
    }

    /// Failures that have a likelier cause than the status alone says.
    fn explain(&self, error: StepError) -> StepError {
        match error {
            StepError::Fatal { code, message } if code == ErrorCode::Http(401) || code == ErrorCode::Http(403) => {
                StepError::Fatal {
                    message: format!(
                        "{message}; check the API key: set it with `flowpilot-cli credentials set {} {API_KEY}` or in Credentials",
                        self.name
                    ),
                    code,
                }
            }
            other => other,
        }
    }
}

/// What an OpenAI-style error body says (`{"error": {"message", "type", "code"}}`,
/// which Groq and compatible servers share). A used-up quota
/// (`insufficient_quota`, sent with a 429) will not clear by waiting.
fn read_error(body: &[u8]) -> request::ErrorReading {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = &value["error"];
    let quota = ["code", "type"]
        .iter()
        .any(|k| error[*k].as_str() == Some("insufficient_quota"));
    let detail = error["message"]
        .as_str()
        .and_then(request::excerpt)
        .or_else(|| request::error_detail(body))
        .map(|d| {
            if quota {
                format!("{d}; the account's quota is used up: check its plan and billing")
            } else {
                d
            }
        });
    request::ErrorReading {
        detail,
        retry_after: None,
        lasting: quota,
    }
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Message {
    /// Who says it: `system` (instructions), `user` or `assistant` (the model's earlier replies).
    role: Role,
    /// What is said.
    content: Text,
}

/// Ask a chat model for a reply.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ChatParams {
    /// The question or instruction, sent as one user message. Give this or `messages`.
    #[serde(default)]
    prompt: Option<Text>,
    /// A whole conversation, oldest first, instead of `prompt`.
    #[serde(default)]
    messages: Option<Vec<Message>>,
    /// Instructions on how to answer (tone, format, role), sent before everything else.
    #[serde(default)]
    system: Option<Text>,
    /// The model to use.
    #[serde(default)]
    model: Option<String>,
    /// Randomness from 0 to 2: lower gives more focused, repeatable answers.
    #[serde(default)]
    #[schemars(range(min = 0, max = 2))]
    temperature: Option<f64>,
    /// The longest reply, in tokens (about ¾ of a word each).
    #[serde(default)]
    #[schemars(range(min = 1))]
    max_tokens: Option<u32>,
    /// Ask for a reply that is a single JSON object. Say "JSON" in the prompt
    /// too: OpenAI refuses JSON mode otherwise.
    #[serde(default)]
    json: bool,
    /// Ask for a reply that follows this JSON Schema exactly (structured outputs).
    /// Takes precedence over `json`.
    #[serde(default)]
    json_schema: Option<Map<String, Value>>,
    /// Whether the server must hold the reply to `json_schema` exactly (default
    /// true). Strict schemas must list every property as required and forbid
    /// others; set false for a schema with free-form parts, which the model then
    /// follows as closely as it can.
    #[serde(default)]
    json_schema_strict: Option<bool>,
    /// The server to send the request to.
    #[serde(default)]
    base_url: Option<String>,
}

/// The endpoint for a base URL given with or without `/v1`, or already in full.
fn chat_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn invalid(message: impl Into<String>) -> StepError {
    StepError::fatal(ErrorCode::InvalidParams, message)
}

/// The request's `messages`: the system message first, then the prompt or conversation.
fn build_messages(
    system: Option<Text>,
    prompt: Option<Text>,
    messages: Option<Vec<Message>>,
) -> Result<Vec<Value>, StepError> {
    let mut out = Vec::new();
    if let Some(Text(system)) = system.filter(|s| !s.0.trim().is_empty()) {
        out.push(json!({"role": "system", "content": system}));
    }
    match (prompt, messages) {
        (Some(_), Some(_)) => return Err(invalid("give either `prompt` or `messages`, not both")),
        (None, None) => return Err(invalid("needs `prompt` (one message) or `messages` (a conversation)")),
        (Some(Text(prompt)), None) => out.push(json!({"role": "user", "content": prompt})),
        (None, Some(messages)) if messages.is_empty() => {
            return Err(invalid("messages: needs at least one message"));
        }
        (None, Some(messages)) => out.extend(
            messages
                .into_iter()
                .map(|m| json!({"role": m.role.as_str(), "content": m.content.0})),
        ),
    }
    Ok(out)
}

fn response_format(json_mode: bool, schema: Option<Map<String, Value>>, strict: bool) -> Option<Value> {
    match schema {
        Some(schema) => Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "plan", "schema": schema, "strict": strict},
        })),
        None if json_mode => Some(json!({"type": "json_object"})),
        None => None,
    }
}

/// The reply text and metadata from a chat completion response.
fn read_completion(body: &Value, requested_model: &str, url: &str) -> Result<(String, Map<String, Value>), StepError> {
    let bad = |what: &str| {
        let excerpt = request::error_detail(body.to_string().as_bytes()).unwrap_or_default();
        StepError::fatal(
            ErrorCode::BadResponse,
            format!("{url} answered, but not like an OpenAI-compatible chat API ({what}): {excerpt}"),
        )
    };
    let choice = body.pointer("/choices/0").ok_or_else(|| bad("no `choices`"))?;
    let finish_reason = choice.get("finish_reason").cloned().unwrap_or(Value::Null);
    let text = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        // Some servers return content parts; their text is the reply.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => {
            if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
                return Err(StepError::fatal(
                    ErrorCode::Refused,
                    format!("the model declined: {refusal}"),
                ));
            }
            return Err(StepError::fatal(
                ErrorCode::EmptyReply,
                format!("the model returned no text (finish_reason: {finish_reason})"),
            ));
        }
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or(requested_model)
        .to_string();
    let usage = body.get("usage").cloned().unwrap_or(Value::Null);
    let usage = json!({
        "prompt_tokens": usage.get("prompt_tokens").cloned().unwrap_or(Value::Null),
        "completion_tokens": usage.get("completion_tokens").cloned().unwrap_or(Value::Null),
        "total_tokens": usage.get("total_tokens").cloned().unwrap_or(Value::Null),
    });
    let mut meta = Map::new();
    meta.insert("model".into(), json!(model));
    meta.insert("usage".into(), usage);
    meta.insert("finish_reason".into(), finish_reason);
    Ok((text, meta))
}

/// `Reply from gpt-4o-mini (57 tokens)`, and why it stopped if it did not finish.
fn summary(meta: &Map<String, Value>) -> String {
    let model = meta.get("model").and_then(Value::as_str).unwrap_or("the model");
    let mut message = format!("Reply from {model}");
    if let Some(total) = meta
        .get("usage")
        .and_then(|u| u.get("total_tokens"))
        .and_then(Value::as_u64)
    {
        message.push_str(&format!(" ({total} tokens)"));
    }
    match meta.get("finish_reason").and_then(Value::as_str) {
        Some("length") => message.push_str("; cut off at max_tokens"),
        Some("content_filter") => message.push_str("; cut off by the content filter"),
        _ => {}
    }
    message
}

#[async_trait]
impl Provider for Llm {
    fn name(&self) -> &str {
        self.name
    }

    fn title(&self) -> String {
        self.title.into()
    }

    fn description(&self) -> String {
        self.description.into()
    }

    fn actions(&self) -> &[ActionSpec] {
        self.actions.get_or_init(|| {
            let mut schema = schema_of::<ChatParams>();
            // One params type serves three providers; only these two docs differ.
            if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
                if let Some(model) = props.get_mut("model").and_then(Value::as_object_mut) {
                    model.insert("description".into(), self.model_doc().into());
                }
                if let Some(base) = props.get_mut("base_url").and_then(Value::as_object_mut) {
                    base.insert("description".into(), self.base_url_doc().into());
                }
            }
            vec![ActionSpec::new(
                CHAT,
                "Ask a chat model and return its reply as text",
                schema,
                false,
            )]
        })
    }

    fn credential_fields(&self) -> Vec<String> {
        vec![API_KEY.into()]
    }

    /// A server of the person's own (no public endpoint) mostly needs no key;
    /// the public services always do.
    fn optional_credentials(&self) -> Vec<String> {
        if self.default_base_url.is_none() {
            vec![API_KEY.into()]
        } else {
            Vec::new()
        }
    }

    /// The server the plan names, else the provider's public endpoint.
    fn destinations(&self, _action: &str, params: &Value) -> Vec<(String, String)> {
        match params
            .get("base_url")
            .and_then(Value::as_str)
            .filter(|b| !b.trim().is_empty())
        {
            Some(base) => vec![("base_url".into(), base.to_string())],
            None => self
                .default_base_url
                .map(|b| (String::new(), chat_url(b)))
                .into_iter()
                .collect(),
        }
    }

    fn default_timeout(&self) -> Duration {
        // Long answers from large models take minutes.
        Duration::from_secs(300)
    }

    fn text_kind(&self, _action: &str, path: &str) -> crate::references::TextKind {
        net::url_and_headers(path, "base_url")
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        match action {
            CHAT => self.check_chat(params),
            _ => Vec::new(),
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
        if action != CHAT {
            return Err(StepError::fatal(
                ErrorCode::UnknownAction,
                format!("{} has no action `{action}`", self.name),
            ));
        }
        let p: ChatParams = parse_params(params)?;
        let messages = build_messages(p.system, p.prompt, p.messages)?;
        let model = non_empty(p.model)
            .or(self.default_model.map(String::from))
            .ok_or_else(|| invalid(format!("model: {} needs the name of a model", self.name)))?;
        let base = non_empty(p.base_url)
            .or(self.default_base_url.map(String::from))
            .ok_or_else(|| invalid(format!("base_url: {} needs the address of your server", self.name)))?;
        let endpoint = chat_url(&base);
        let url = net::parse_url("base_url", &endpoint)?;

        // The key goes to the provider's own service, or where the person allowed it.
        let key = match credentials.get_for(API_KEY, &url, self.home().as_deref()).await {
            Ok(key) => key.filter(|k| !k.expose().trim().is_empty()),
            // A self-hosted server usually needs no key, so a keychain that cannot be
            // reached (a headless machine without a Secret Service) must not stop a
            // local model; the public services always need a key and fail here.
            Err(e) if e.code() == ErrorCode::KeychainUnavailable && !self.is_public_endpoint(&endpoint) => None,
            Err(e) => return Err(e),
        };
        if key.is_none() && self.is_public_endpoint(&endpoint) {
            // `require` words the error (and the fix) like every other provider.
            credentials.require(API_KEY).await?;
            return Err(StepError::fatal(
                ErrorCode::MissingCredentials,
                format!(
                    "the `{API_KEY}` for {} is empty; set it with `flowpilot-cli credentials set {} {API_KEY}`",
                    self.name, self.name
                ),
            ));
        }

        let mut body = json!({"model": model, "messages": messages});
        if let Some(t) = p.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = p.max_tokens {
            body[self.max_tokens_field] = json!(n);
        }
        if let Some(format) = response_format(p.json, p.json_schema, p.json_schema_strict.unwrap_or(true)) {
            body["response_format"] = format;
        }

        let mut request = Request::post(url).json(&body).idle_timeout(LLM_IDLE_TIMEOUT);
        if let Some(key) = key {
            request = request.credential(Credential::Bearer(key), API_KEY, credentials)?;
        }
        let reply = request
            .send_with(&ctx.http, &cancel, &read_error)
            .await
            .map_err(|e| self.explain(e))?;
        if reply.truncated {
            return Err(StepError::fatal(
                ErrorCode::BadResponse,
                format!("{} sent a reply larger than Flowpilot keeps", reply.url),
            ));
        }
        let body = request::body_value(&reply.body, true, request::declared_encoding(&reply.headers));
        let (text, metadata) = read_completion(&body, &model, &reply.url)?;
        let mut result = ProviderResult::ok(Value::String(text), summary(&metadata));
        result.metadata = metadata;
        Ok(result)
    }
}

#[cfg(test)]
mod tests;
