//! Drafting a plan from a sentence, and rehearsing a plan without its side effects.

use super::{CredentialRef, Issue, RunStatus, StepRecord};
use flowpilot_core::draft::{Draft as DomainDraft, DraftRequest as DomainDraftRequest, StepLink as DomainStepLink};
use flowpilot_engine::executor::RunOutcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;

/// What to draft, and which LLM provider to ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DraftRequest {
    /// What the plan should do, in the person's words; kept as `original_prompt`.
    pub prompt: String,
    /// `openai`, `groq` or `openai_compatible`.
    pub provider: String,
    /// Another server than the provider's own (required for `openai_compatible`).
    pub base_url: Option<String>,
    /// The provider's default model when null (required for `openai_compatible`).
    pub model: Option<String>,
}

impl From<DraftRequest> for DomainDraftRequest {
    fn from(r: DraftRequest) -> Self {
        let blank_to_none = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Self {
            prompt: r.prompt,
            provider: r.provider,
            base_url: blank_to_none(r.base_url),
            model: blank_to_none(r.model),
        }
    }
}

/// Step `from` uses the result of step `to` (indexes from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepLink {
    pub from: usize,
    pub to: usize,
}

impl From<DomainStepLink> for StepLink {
    fn from(l: DomainStepLink) -> Self {
        Self { from: l.from, to: l.to }
    }
}

/// A drafted plan, checked against the registry, with what a person needs to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    /// The plan in the plan file format, `original_prompt` set; null when the
    /// model never answered with JSON (see `reply`).
    pub plan: Value,
    /// Whether `plan` validates; `issues` is empty exactly then.
    pub valid: bool,
    pub issues: Vec<Issue>,
    pub required_providers: Vec<String>,
    pub plain_english_steps: Vec<String>,
    /// Credential fields of the required providers that are not set.
    pub missing_credentials: Vec<CredentialRef>,
    pub references: Vec<StepLink>,
    /// 1, or 2 when the first answer was sent back for a repair.
    pub attempts: u32,
    /// The model's last reply as it came.
    pub reply: String,
    /// How the draft came about (a failed repair, a truncated reply...).
    pub notes: Vec<String>,
}

impl From<DomainDraft> for Draft {
    fn from(d: DomainDraft) -> Self {
        Self {
            plan: d.plan,
            valid: d.valid,
            issues: d.issues.into_iter().map(Into::into).collect(),
            required_providers: d.required_providers,
            plain_english_steps: d.plain_english_steps,
            missing_credentials: d.missing_credentials.into_iter().map(Into::into).collect(),
            references: d.references.into_iter().map(Into::into).collect(),
            attempts: d.attempts,
            reply: d.reply,
            notes: d.notes,
        }
    }
}

/// A rehearsal of a plan: steps with side effects answered from a stub (their
/// `metadata.dry_run` is true and their output holds `would_send`), the others ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    pub status: RunStatus,
    pub error: Option<String>,
    /// The final record of each step that ran, in order.
    pub steps: Vec<StepRecord>,
}

impl From<RunOutcome> for DryRun {
    fn from(o: RunOutcome) -> Self {
        Self {
            status: o.status.into(),
            error: o.error,
            steps: o.steps.into_iter().map(Into::into).collect(),
        }
    }
}
