//! Describe it, get a plan: drafting a plan from a sentence with the LLM provider
//! the person chose, checked against the real registry before anyone sees it.
//!
//! The request carries the registry's catalogue (providers, actions, their params
//! schemas), the reference syntax and the plan's shape, and asks for structured
//! output: a JSON Schema `response_format` where the provider has one (OpenAI,
//! Groq), JSON mode plus the schema in the prompt elsewhere. The reply is parsed and
//! validated exactly like a plan file; if it fails, the located problems go back to
//! the model once for a repair. A draft that still fails is returned with its
//! problems, never "fixed" behind the person's back.
//!
//! The call is an ordinary step run through the executor (`chat_completion` on the
//! chosen provider), so the API key comes from the keychain inside the provider, the
//! step is retried like any other (a 429 waits out its `Retry-After`), and every
//! credential value is redacted from what comes back. Nothing in the request holds
//! a credential value: the catalogue names credential fields, never their values.

use flowpilot_engine::plan::{IssueKind, StepSpec, limits};
use flowpilot_engine::references::{self as template, Root, Scope, StepRef};
use flowpilot_engine::registry::Registry;
use flowpilot_engine::retry::{RetryOn, RetryPolicy, RetrySpec};
use flowpilot_engine::run::{StepRecord, StepStatus};
use flowpilot_engine::{ErrorCode, Executor};
use flowpilot_engine::{Plan, PlanIssue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

use crate::api::CredentialField;

/// The action a provider must have to draft plans.
pub const CHAT_ACTION: &str = "chat_completion";

/// How the drafting call is retried: a rate limit or a passing server error
/// should not cost the person their draft, but an interactive wait stays short
/// (a server's `Retry-After` still wins, up to the executor's cap).
const DRAFT_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    backoff_ms: 1_000,
    max_backoff_ms: 10_000,
    on: RetryOn::Safe,
};

/// What to draft, and whom to ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DraftRequest {
    /// What the plan should do, in the person's words; kept as `original_prompt`.
    pub prompt: String,
    /// The LLM provider to ask: `openai`, `groq` or `openai_compatible`.
    pub provider: String,
    /// Another server than the provider's own (required for `openai_compatible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The model; the provider's default when left out (required for `openai_compatible`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Step `from` refers to the result of step `to` (indexes into `steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct StepLink {
    pub from: usize,
    pub to: usize,
}

/// A drafted plan with what the person needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Draft {
    /// The plan as the model wrote it, with `original_prompt` set to the request's
    /// prompt; `null` when the model never answered with JSON (see `reply`).
    pub plan: Value,
    /// Whether `plan` passed validation; `issues` is empty exactly then.
    pub valid: bool,
    /// Every problem validation found, located (`steps[1].params.url: ...`).
    pub issues: Vec<PlanIssue>,
    /// The distinct providers the plan uses, in order of first use.
    pub required_providers: Vec<String>,
    /// One line per step, in words.
    pub plain_english_steps: Vec<String>,
    /// Credential fields of `required_providers` that are not set.
    pub missing_credentials: Vec<CredentialField>,
    /// Which step uses which earlier step's result.
    pub references: Vec<StepLink>,
    /// How many times the model was asked for the plan: 1, or 2 after a repair.
    /// Retries of one request (a 429, a 5xx) do not count.
    pub attempts: u32,
    /// The model's last reply as it came, for showing when it was not a plan.
    pub reply: String,
    /// Things worth knowing about how the draft came about (a repair that failed,
    /// a reply cut off at the token limit, a server without structured output).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DraftError {
    #[error("describe what the plan should do: the prompt is empty")]
    EmptyPrompt,
    #[error("`{provider}` cannot draft plans: choose one of {}", .choices.join(", "))]
    NotAnLlm { provider: String, choices: Vec<String> },
    /// The drafting request itself is incomplete (no `base_url` or `model` for a
    /// self-hosted server, a malformed address): problems located by param name.
    #[error("cannot ask {provider}: {}", issue_list(.issues))]
    BadRequest { provider: String, issues: Vec<PlanIssue> },
    /// The provider could not answer (no API key, a rejected key, a server error
    /// after retries, a timeout). `code` is the step error's code (`HTTP_401`,
    /// `MISSING_CREDENTIALS`, `KEYCHAIN_UNAVAILABLE`...).
    #[error("{provider} could not draft the plan: {message}")]
    Provider {
        provider: String,
        code: ErrorCode,
        message: String,
    },
    #[error("drafting was cancelled")]
    Cancelled,
}

fn issue_list(issues: &[PlanIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// How the reply is asked to be JSON. Servers differ: OpenAI and Groq take a JSON
/// Schema `response_format`, most self-hosted servers only JSON mode, and some
/// models neither; a server that refuses one format is asked with the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyFormat {
    /// `response_format: json_schema` (not strict: see [`plan_schema`]).
    Schema,
    /// `response_format: json_object`, with the schema in the prompt.
    JsonMode,
    /// No `response_format`; the schema in the prompt is all there is.
    Plain,
}

impl ReplyFormat {
    fn first_for(provider: &str) -> Self {
        match provider {
            "openai" | "groq" => Self::Schema,
            _ => Self::JsonMode,
        }
    }

    fn fallback(self) -> Option<Self> {
        match self {
            Self::Schema => Some(Self::JsonMode),
            Self::JsonMode => Some(Self::Plain),
            Self::Plain => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Schema => "a JSON Schema response_format",
            Self::JsonMode => "JSON mode",
            Self::Plain => "a plain request",
        }
    }
}

/// Draft a plan. `missing_credentials` is left empty: it needs the store, so the
/// facade ([`crate::api::Flowpilot::draft_plan`]) fills it in.
pub async fn draft(
    executor: &Executor,
    request: &DraftRequest,
    cancel: CancellationToken,
) -> Result<Draft, DraftError> {
    let registry = executor.registry();
    let prompt = request.prompt.trim();
    if prompt.is_empty() {
        return Err(DraftError::EmptyPrompt);
    }
    let provider = registry
        .get(&request.provider)
        .filter(|p| p.actions().iter().any(|a| a.name == CHAT_ACTION))
        .ok_or_else(|| DraftError::NotAnLlm {
            provider: request.provider.clone(),
            choices: llm_providers(&registry),
        })?;

    let mut session = Session {
        executor,
        provider: provider.name().to_string(),
        request,
        format: ReplyFormat::first_for(provider.name()),
        schema: plan_schema(&registry),
        notes: Vec::new(),
        cancel,
    };
    let mut turns = vec![json!({"role": "user", "content": prompt})];
    let first = session.ask(&turns).await?;
    let mut checked = check_reply(&first, prompt, &registry);
    let mut attempts = 1;
    if !checked.issues.is_empty() {
        // One repair: the model sees its own answer and every located problem.
        // More rounds rarely converge and cost the person time and tokens.
        turns.push(json!({"role": "assistant", "content": first}));
        turns.push(json!({"role": "user", "content": repair_message(&checked.issues)}));
        attempts = 2;
        match session.ask(&turns).await {
            Ok(second) => checked = check_reply(&second, prompt, &registry),
            Err(DraftError::Cancelled) => return Err(DraftError::Cancelled),
            // The first draft and its problems are still worth showing.
            Err(e) => session
                .notes
                .push(format!("the repair request failed, so this is the first draft: {e}")),
        }
    }
    Ok(assemble(checked, attempts, session.notes, &registry))
}

/// The providers that can draft plans (those with a chat action).
pub fn llm_providers(registry: &Registry) -> Vec<String> {
    registry
        .providers()
        .iter()
        .filter(|p| p.actions().iter().any(|a| a.name == CHAT_ACTION))
        .map(|p| p.name().to_string())
        .collect()
}

/// One drafting conversation with one provider.
struct Session<'a> {
    executor: &'a Executor,
    provider: String,
    request: &'a DraftRequest,
    format: ReplyFormat,
    schema: Value,
    notes: Vec<String>,
    cancel: CancellationToken,
}

impl Session<'_> {
    /// Ask the model with the conversation so far; its reply text.
    async fn ask(&mut self, turns: &[Value]) -> Result<String, DraftError> {
        loop {
            let (step, plan) = self.step(turns)?;
            let scope = Scope::new(
                json!({"name": "Draft a plan"}),
                json!({"id": "draft"}),
                json!({"type": "draft"}),
            );
            let Some(checked) = plan.checked_step(0) else {
                return Err(DraftError::Cancelled);
            };
            let record = self
                .executor
                .run_single_step("draft", &step, checked, &scope, self.cancel.clone())
                .await;
            if record.status == StepStatus::Success {
                return Ok(self.reply_text(record));
            }
            let code = record.error.unwrap_or(ErrorCode::Error);
            if code == ErrorCode::Cancelled {
                return Err(DraftError::Cancelled);
            }
            if may_refuse_format(code)
                && let Some(next) = self.format.fallback()
            {
                self.notes.push(format!(
                    "{} refused {} ({}); asked again with {}",
                    self.provider,
                    self.format.describe(),
                    record.message,
                    next.describe()
                ));
                self.format = next;
                continue;
            }
            return Err(DraftError::Provider {
                provider: self.provider.to_string(),
                code,
                message: record.message,
            });
        }
    }

    fn reply_text(&mut self, record: StepRecord) -> String {
        if record.metadata.get("finish_reason").and_then(Value::as_str) == Some("length") {
            self.notes
                .push("the reply was cut off at the model's token limit".into());
        }
        match record.output {
            Value::String(text) => text,
            other => template::to_text(&other),
        }
    }

    /// The `chat_completion` step that asks for the plan, checked like any step
    /// so a missing `base_url` or `model` is reported by name before anything is sent.
    fn step(&self, turns: &[Value]) -> Result<(StepSpec, Plan), DraftError> {
        let include_schema = self.format != ReplyFormat::Schema;
        let mut messages = vec![json!({
            "role": "system",
            "content": system_prompt(&self.executor.registry(), &self.provider, self.request, include_schema.then_some(&self.schema)),
        })];
        messages.extend(turns.iter().cloned());
        let mut params = json!({"messages": messages});
        if let Some(model) = self.request.model.as_deref().filter(|m| !m.trim().is_empty()) {
            params["model"] = json!(model);
        }
        if let Some(base) = self.request.base_url.as_deref().filter(|b| !b.trim().is_empty()) {
            params["base_url"] = json!(base);
        }
        match self.format {
            // Not strict: strict structured output needs every object closed and every
            // property required, and a step's `params` is free-form by nature. The
            // schema still steers the model, and validation checks the result.
            ReplyFormat::Schema => {
                params["json_schema"] = self.schema.clone();
                params["json_schema_strict"] = json!(false);
            }
            ReplyFormat::JsonMode => params["json"] = json!(true),
            ReplyFormat::Plain => {}
        }
        // The executor resolves `${...}` in params; the prompt, the conversation and
        // the schema are text for the model, so every `${` in them goes out literally.
        escape_references(&mut params);
        let step = StepSpec {
            retry: Some(RetrySpec::Policy(DRAFT_RETRY)),
            ..StepSpec::new(self.provider.clone(), CHAT_ACTION, params)
        };
        let check = json!({"name": "Draft a plan", "steps": [&step]});
        match Plan::from_value(check, &self.executor.registry()) {
            Ok(plan) => Ok((step, plan)),
            Err(e) => {
                let issues = e
                    .issues()
                    .into_iter()
                    .map(|i| PlanIssue {
                        path: i
                            .path
                            .strip_prefix("steps[0].params")
                            .map(|p| p.trim_start_matches('.').to_string())
                            .unwrap_or(i.path),
                        ..i
                    })
                    .collect();
                Err(DraftError::BadRequest {
                    provider: self.provider.to_string(),
                    issues,
                })
            }
        }
    }
}

/// Whether a failed request may be the server refusing the `response_format` (a
/// model without structured output, a server that knows only some formats), which
/// asking differently can fix: a 400 or 422. Each format is tried once, so a request
/// that is bad for another reason costs at most two more tries.
fn may_refuse_format(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::Http(400 | 422))
}

/// Write every `${` in every string as `$${`, which the executor turns back into `${`.
fn escape_references(value: &mut Value) {
    match value {
        Value::String(s) if s.contains("${") => *s = s.replace("${", "$${"),
        Value::Array(items) => items.iter_mut().for_each(escape_references),
        Value::Object(map) => map.values_mut().for_each(escape_references),
        _ => {}
    }
}

/// The JSON Schema of the answer: the plan file's own schema (generated from the
/// one plan type), with the providers the catalogue has named, and without the
/// fields Flowpilot sets itself (`original_prompt`, `status`). `params` stays an
/// open object: each action's own schema is in the catalogue, and validation holds
/// the params to it.
pub fn plan_schema(registry: &Registry) -> Value {
    let mut schema = flowpilot_engine::plan::plan_schema();
    if let Value::Object(root) = &mut schema {
        root.remove("$schema");
        if let Some(Value::Object(props)) = root.get_mut("properties") {
            props.remove("original_prompt");
            props.remove("status");
        }
    }
    let providers: Vec<&str> = registry.providers().iter().map(|p| p.name()).collect();
    if let Some(provider) = schema.pointer_mut("/$defs/StepSpec/properties/provider")
        && let Value::Object(p) = provider
    {
        p.insert("enum".into(), json!(providers));
    }
    schema
}

/// The catalogue as the model reads it: providers, their credential field names (no
/// values exist here to leak), and every action with its description, whether it
/// has side effects, and its params schema. Aliases are left out so that drafts use
/// the canonical names.
fn catalogue_json(registry: &Registry) -> String {
    let providers: Vec<Value> = registry
        .catalogue()
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "credential_fields": p.credential_fields,
                "actions": p.actions.into_iter().map(|a| json!({
                    "name": a.name,
                    "description": a.description,
                    "side_effects": a.side_effects,
                    "params_schema": a.params_schema,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string(&providers).unwrap_or_else(|_| "[]".into())
}

/// The instructions: the plan's shape, the reference syntax, the rules, the
/// catalogue, and the answer's schema where no `response_format` carries it.
fn system_prompt(registry: &Registry, provider: &str, request: &DraftRequest, schema: Option<&Value>) -> String {
    let llm_hint = match provider {
        "openai_compatible" => format!(
            "For steps that need a language model, use provider `openai_compatible` with base_url {} and model {}, unless the person names another.",
            request
                .base_url
                .as_deref()
                .map_or_else(|| "(the person's server)".to_string(), shareable_url),
            request.model.as_deref().unwrap_or("(the person's model)")
        ),
        other => {
            format!("For steps that need a language model, use provider `{other}` unless the person names another.")
        }
    };
    let mut text = format!(
        r#"You write plans for Flowpilot, a local automation app. A plan is a list of steps run in order; each step is a provider, one of its actions, and params. Turn the person's request into one plan.

# The answer
One JSON object and nothing else (no prose, no Markdown):
{{"name": "Latest release to a webhook", "description": "Post the newest release name to a webhook.", "steps": [
  {{"id": "fetch", "provider": "http", "action": "request", "params": {{"method": "GET", "url": "https://api.github.com/repos/tauri-apps/tauri/releases"}}}},
  {{"id": "latest", "provider": "logic", "action": "extract", "params": {{"input": "${{steps.fetch.output}}", "path": "$[0].name"}}}},
  {{"provider": "webhook", "action": "post_request", "params": {{"url": "https://hooks.example.com/flowpilot", "payload": {{"text": "Newest release: ${{steps.latest.output}}"}}}}}}
]}}
- `provider` and `action` must come from the catalogue below, and `params` must follow that action's `params_schema`: every required param, no others.
- `id` is optional (letters, digits, `_`, `-`; not only digits; unique). Give one to each step a later step uses.
- A step may also set `timeout_s` (seconds per attempt; default 60, 300 for language models), `retry` (attempts in all; default 3) and `continue_on_error`; leave them out unless the request calls for them.
- Add `"trigger": {{"type": "cron", "cron_expression": "0 9 * * 1-5", "timezone": "Europe/Berlin"}}` only when the person asks for a schedule (5 cron fields: minute hour day month weekday; an IANA time zone).
- "Only if": a step may have `"when": {{"left": "${{steps.summary.output}}", "op": "contains", "right": "outage"}}` (operators: eq, ne, gt, ge, lt, le, contains, not_contains, starts_with, ends_with, matches, exists, empty, not_empty; combine with {{"all": [...]}}, {{"any": [...]}}, {{"not": {{...}}}}). A step whose condition is false is skipped and its output is null.
- "For each": a step may have `"for_each": "${{steps.fetch.output.items}}"` (one reference to a list) to run once per item; its params use `${{item}}`, `${{item.title}}` and `${{item_index}}`, and its output is the list of the items' outputs. Optional `"for_each_options": {{"concurrency": 1-8, "on_error": "stop" or "continue"}}`. A list held in text (a model's JSON reply) must first go through a `logic.json_parse` step.

# References between steps
A string in params can use what an earlier step produced:
- `${{steps.0.output}}`: the output of the first step (steps count from 0)
- `${{steps.<id>.output}}`: the output of the step with that id, e.g. `${{steps.fetch.output}}`
- `${{steps.fetch.output.items[0].title}}`: a path into an output; `["key with spaces"]` for odd keys
- `${{steps.0.metadata.usage.total_tokens}}`: a step's `metadata`; also its `message`, `success` and `error`
- `${{plan.name}}`, `${{run.id}}`, `${{trigger.type}}`
- in a `for_each` step: `${{item}}`, `${{item.<path>}}`, `${{item_index}}`
A step may only refer to steps before it. A string that is exactly one reference keeps the value's JSON type; inside longer text the value is written as text. References are looked up, never evaluated: no expressions, no functions. `$${{` writes a literal `${{`.

# Rules
- Never write an API key, token or password into a plan. Providers read their credentials from the OS keychain by field name (`credential_fields` in the catalogue); the http provider's `auth` names a stored credential.
- Use the fewest steps that do the job; `logic` steps extract, reshape, filter and check data between steps.
- When the person does not give an address or value a step needs, write an obvious placeholder (such as https://example.com/...) that they can edit.
- {llm_hint}

# Catalogue
{catalogue}
"#,
        catalogue = catalogue_json(registry),
    );
    if let Some(schema) = schema {
        text.push_str("\n# JSON Schema of the answer\n");
        text.push_str(&serde_json::to_string(schema).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// A server address as it may appear in the prompt: without user info
/// (`user:password@`), query or fragment, where a secret could hide.
fn shareable_url(url: &str) -> String {
    let url = url.trim();
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The second request: every located problem, and what to send back.
fn repair_message(issues: &[PlanIssue]) -> String {
    let mut text = format!(
        "Flowpilot checked that plan and found {} problem{}:\n",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        text.push_str("- ");
        text.push_str(&issue.to_string());
        text.push('\n');
    }
    text.push_str(
        "Fix every one and answer with the whole corrected plan as one JSON object and nothing else. \
         Keep what was right.",
    );
    text
}

/// A reply, parsed and validated.
struct Checked {
    plan: Value,
    issues: Vec<PlanIssue>,
    valid: Option<Plan>,
    reply: String,
}

/// Parse a reply and validate it like a plan file, with `original_prompt` set.
fn check_reply(reply: &str, prompt: &str, registry: &Registry) -> Checked {
    let root_issue = |message: String| PlanIssue::error("", IssueKind::Syntax, message);
    let text = extract_json(reply);
    if text.len() > limits::MAX_FILE_BYTES {
        return Checked {
            plan: Value::Null,
            issues: vec![root_issue(format!(
                "the reply is {} bytes; a plan may have {}",
                text.len(),
                limits::MAX_FILE_BYTES
            ))],
            valid: None,
            reply: reply.to_string(),
        };
    }
    let mut plan = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            let message = e.to_string();
            let message = message.split(" at line").next().unwrap_or_default();
            return Checked {
                plan: Value::Null,
                issues: vec![root_issue(format!(
                    "the reply is not valid JSON (line {}, column {}): {message}",
                    e.line(),
                    e.column()
                ))],
                valid: None,
                reply: reply.to_string(),
            };
        }
    };
    if let Value::Object(map) = &mut plan {
        map.insert("original_prompt".into(), json!(prompt));
    }
    let (issues, valid) = match Plan::from_value(plan.clone(), registry) {
        Ok(p) => (Vec::new(), Some(p)),
        Err(e) => (e.issues(), None),
    };
    Checked {
        plan,
        issues,
        valid,
        reply: reply.to_string(),
    }
}

/// The JSON in a reply: models wrap it in Markdown fences, reasoning models put
/// their thinking before it, chatty ones a sentence around it. This only finds
/// the object; it never changes it.
fn extract_json(reply: &str) -> &str {
    let mut text = reply.trim();
    if let Some(end) = text.find("</think>") {
        text = text[end + "</think>".len()..].trim();
    }
    if let Some(start) = text.find("```") {
        let after = &text[start + 3..];
        // The fence's info string (`json`) runs to the end of its line.
        let body = after.find('\n').map_or("", |nl| &after[nl + 1..]);
        let body = body.find("```").map_or(body, |end| &body[..end]);
        return body.trim();
    }
    if !text.starts_with('{')
        && let (Some(open), Some(close)) = (text.find('{'), text.rfind('}'))
        && open < close
    {
        return &text[open..=close];
    }
    text
}

fn assemble(checked: Checked, attempts: u32, notes: Vec<String>, registry: &Registry) -> Draft {
    let (required_providers, plain_english_steps) = match &checked.valid {
        Some(plan) => (plan.required_providers(), plan.plain_english_steps()),
        None => rough_summary(&checked.plan, registry),
    };
    Draft {
        references: step_links(&checked.plan),
        valid: checked.valid.is_some(),
        plan: checked.plan,
        issues: checked.issues,
        required_providers,
        plain_english_steps,
        missing_credentials: Vec::new(),
        attempts,
        reply: checked.reply,
        notes,
    }
}

/// Providers and step lines of a draft that did not validate, as far as they can
/// be read: the person still sees what the model meant while fixing it.
fn rough_summary(plan: &Value, registry: &Registry) -> (Vec<String>, Vec<String>) {
    let mut providers: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    let steps = plan
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let provider = step.get("provider").and_then(Value::as_str).unwrap_or("?");
        let action = step.get("action").and_then(Value::as_str).unwrap_or("?");
        if let Some(p) = registry.get(provider)
            && !providers.iter().any(|known| known == p.name())
        {
            providers.push(p.name().to_string());
        }
        let what = registry
            .action(provider, action)
            .map(|a| a.description.trim_end_matches('.').to_string())
            .unwrap_or_else(|| "not in the catalogue".to_string());
        lines.push(format!("{}. {what} ({provider}.{action})", i + 1));
    }
    (providers, lines)
}

/// Every reference from a step to an earlier one, in step order, without repeats.
/// References that do not resolve (later steps, unknown ids) are left out: they
/// are among the draft's issues.
fn step_links(plan: &Value) -> Vec<StepLink> {
    let steps = plan
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ids: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.get("id").and_then(Value::as_str).map(|id| (id, i)))
        .collect();
    let mut links = Vec::new();
    for (from, step) in steps.iter().enumerate() {
        let Some(params) = step.get("params") else { continue };
        for (_, parsed) in template::find_templates(params) {
            let Ok(parsed) = parsed else { continue };
            for reference in parsed.references() {
                let to = match &reference.root {
                    Root::Step(StepRef::Index(n)) => Some(*n),
                    Root::Step(StepRef::Id(id)) => ids.get(id.as_str()).copied(),
                    _ => None,
                };
                if let Some(to) = to.filter(|to| *to < from) {
                    let link = StepLink { from, to };
                    if !links.contains(&link) {
                        links.push(link);
                    }
                }
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_found_inside_fences_thinking_and_prose() {
        assert_eq!(extract_json(" {\"a\": 1} "), "{\"a\": 1}");
        assert_eq!(extract_json("```json\n{\"a\": 1}\n```"), "{\"a\": 1}");
        assert_eq!(extract_json("Here it is:\n```\n{\"a\": 1}\n```\nEnjoy."), "{\"a\": 1}");
        assert_eq!(extract_json("```json\n{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(extract_json("<think>plan {x}</think>\n{\"a\": 1}"), "{\"a\": 1}");
        assert_eq!(
            extract_json("Sure! {\"a\": {\"b\": 2}} Hope it helps."),
            "{\"a\": {\"b\": 2}}"
        );
        assert_eq!(extract_json("no json here"), "no json here");
    }

    #[test]
    fn escaping_survives_the_executor_round_trip() {
        let original = json!({"content": "use ${steps.0.output}, or $${ for a literal", "n": 1, "list": ["${run.id}"]});
        let mut escaped = original.clone();
        escape_references(&mut escaped);
        assert_eq!(escaped["content"], "use $${steps.0.output}, or $$${ for a literal");
        let resolved = template::resolve(&escaped, &Scope::default()).unwrap();
        assert_eq!(resolved, original);
    }

    #[test]
    fn the_plan_schema_accepts_the_example_plans() {
        let registry = Registry::builtin();
        let schema = plan_schema(&registry);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plans");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let mut plan: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            // What Flowpilot sets or derives itself is not part of the model's answer.
            let map = plan.as_object_mut().unwrap();
            for derived in ["original_prompt", "required_providers", "plain_english_steps", "status"] {
                map.remove(derived);
            }
            let problems = flowpilot_engine::schema::problems_under(
                &schema,
                &plan,
                flowpilot_engine::schema::Members::Fields,
                false,
            );
            assert!(problems.is_empty(), "{}: {problems:?}", path.display());
            checked += 1;
        }
        assert!(checked >= 3);
        let bad = json!({"name": "x", "steps": [{"provider": "fax", "action": "send", "params": {}, "extra": 1}]});
        assert!(
            !flowpilot_engine::schema::problems_under(&schema, &bad, flowpilot_engine::schema::Members::Fields, false)
                .is_empty()
        );
    }

    #[test]
    fn links_follow_indexes_and_ids_to_earlier_steps_only() {
        let plan = json!({"steps": [
            {"id": "a", "params": {"x": 1}},
            {"params": {"x": "${steps.a.output} and ${steps.0.message}", "y": ["${steps.2.output}"]}},
            {"id": "c", "params": {"x": {"deep": "${steps.1.output.k}"}, "z": "${steps.ghost.output}"}},
            {"params": {"x": "${steps.c.output}", "y": "$${steps.0.output}"}}
        ]});
        assert_eq!(
            step_links(&plan),
            vec![
                StepLink { from: 1, to: 0 },
                StepLink { from: 2, to: 1 },
                StepLink { from: 3, to: 2 }
            ]
        );
        assert!(step_links(&Value::Null).is_empty());
    }

    #[test]
    fn replies_are_checked_like_plan_files_with_the_prompt_kept() {
        let registry = Registry::builtin();
        let ok = check_reply(
            r#"{"name": "t", "original_prompt": "not this", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}"#,
            "set one",
            &registry,
        );
        assert!(ok.valid.is_some() && ok.issues.is_empty());
        assert_eq!(ok.plan["original_prompt"], "set one");

        let bad = check_reply(
            r#"{"name": "t", "steps": [{"provider": "fax", "action": "send"}]}"#,
            "p",
            &registry,
        );
        assert!(bad.valid.is_none());
        assert_eq!(bad.issues[0].path, "steps[0].provider");
        let (providers, lines) = rough_summary(&bad.plan, &registry);
        assert!(providers.is_empty());
        assert_eq!(lines, vec!["1. not in the catalogue (fax.send)"]);

        let broken = check_reply("{\"name\": ", "p", &registry);
        assert_eq!(broken.plan, Value::Null);
        assert!(
            broken.issues[0]
                .message
                .starts_with("the reply is not valid JSON (line 1"),
            "{:?}",
            broken.issues
        );
    }

    #[test]
    fn server_addresses_lose_their_secrets_before_they_reach_the_prompt() {
        assert_eq!(shareable_url("http://localhost:11434"), "http://localhost:11434");
        assert_eq!(
            shareable_url(" https://bob:pw@proxy.test:8443/v1?key=s3cret#x"),
            "https://proxy.test:8443/v1"
        );
        assert_eq!(shareable_url("http://token@h/a@b"), "http://h/a@b");
        assert_eq!(shareable_url("localhost:1234"), "localhost:1234");
    }

    #[test]
    fn only_a_bad_request_may_be_a_refused_format() {
        assert!(may_refuse_format(ErrorCode::Http(400)));
        assert!(may_refuse_format(ErrorCode::Http(422)));
        assert!(!may_refuse_format(ErrorCode::Http(401)));
        assert!(!may_refuse_format(ErrorCode::Http(500)));
        assert!(!may_refuse_format(ErrorCode::Timeout));
    }

    #[test]
    fn the_prompt_carries_the_catalogue_and_names_no_credential_values() {
        let registry = Registry::builtin();
        let request = DraftRequest {
            prompt: "p".into(),
            provider: "openai_compatible".into(),
            base_url: Some("http://localhost:11434".into()),
            model: Some("llama3.1".into()),
        };
        let schema = plan_schema(&registry);
        let text = system_prompt(&registry, "openai_compatible", &request, Some(&schema));
        for p in registry.providers() {
            assert!(text.contains(&format!("\"name\":\"{}\"", p.name())), "{}", p.name());
            for a in p.actions() {
                assert!(text.contains(&a.description), "{}", a.description);
            }
        }
        assert!(text.contains("${steps.0.output}") && text.contains("${steps.<id>.output}"));
        assert!(text.contains("# JSON Schema of the answer"));
        assert!(text.contains("base_url http://localhost:11434 and model llama3.1"));
        let without = system_prompt(&registry, "openai", &request, None);
        assert!(!without.contains("# JSON Schema of the answer"));
    }
}
