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

use flowpilot_engine::plan::StepSpec;
use flowpilot_engine::references::{self as template, Scope};
use flowpilot_engine::registry::Registry;
use flowpilot_engine::retry::{RetryOn, RetryPolicy, RetrySpec};
use flowpilot_engine::run::{StepRecord, StepStatus};
use flowpilot_engine::{ErrorCode, Executor};
use flowpilot_engine::{Plan, PlanIssue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::api::CredentialField;

mod prompt;
mod reply;
mod timing;
pub use prompt::plan_schema;
use prompt::{repair_message, system_prompt};
use reply::{assemble, check_reply};

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
    let mut notes = session.notes;
    notes.extend(timing::missing_trigger_note(prompt, &checked.plan));
    Ok(assemble(checked, attempts, notes, &registry))
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

#[cfg(test)]
mod tests;
