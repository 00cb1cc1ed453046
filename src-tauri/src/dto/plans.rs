//! Plans, providers and credentials as the UI sees them.

use chrono::{DateTime, Utc};
use flowpilot_core::api::{CredentialField, CredentialInfo, PlanDetail as DomainPlanDetail};
use flowpilot_core::store::{PlanRow, PlanSummary as DomainPlanSummary, PlanVersion as DomainPlanVersion};
use flowpilot_engine::plan::{PlanFile, PlanStatus as DomainPlanStatus};
use flowpilot_engine::registry::{ActionInfo, ProviderInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;

use super::{RunStatus, Trigger};

/// The plan file as JSON (never fails for a plan that came out of the store).
fn plan_json(file: &PlanFile) -> Value {
    serde_json::to_value(file).unwrap_or(Value::Null)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Draft,
    Active,
    Archived,
}

impl From<DomainPlanStatus> for PlanStatus {
    fn from(s: DomainPlanStatus) -> Self {
        match s {
            DomainPlanStatus::Draft => Self::Draft,
            DomainPlanStatus::Active => Self::Active,
            DomainPlanStatus::Archived => Self::Archived,
        }
    }
}

/// A row of the plan list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: PlanStatus,
    pub trigger: Trigger,
    pub version: u32,
    pub step_count: usize,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_run_status: Option<RunStatus>,
    pub last_run_at: Option<DateTime<Utc>>,
}

impl From<DomainPlanSummary> for PlanSummary {
    fn from(p: DomainPlanSummary) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            status: p.status.into(),
            trigger: p.trigger.into(),
            version: p.version,
            step_count: p.step_count,
            created_at: p.created_at,
            updated_at: p.updated_at,
            last_run_status: p.last_run_status.map(Into::into),
            last_run_at: p.last_run_at,
        }
    }
}

/// A stored plan: its current version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: String,
    pub version: u32,
    /// The plan document, in the plan file format.
    pub plan: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PlanRow> for Plan {
    fn from(r: PlanRow) -> Self {
        Self {
            id: r.id,
            version: r.version,
            plan: plan_json(&r.plan),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A credential field a provider needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CredentialRef {
    pub provider: String,
    pub field: String,
}

impl From<CredentialField> for CredentialRef {
    fn from(c: CredentialField) -> Self {
        Self {
            provider: c.provider,
            field: c.field,
        }
    }
}

/// A plan with what the editor shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanDetail {
    pub plan: Plan,
    pub required_providers: Vec<String>,
    pub plain_english_steps: Vec<String>,
    /// Credential fields the plan's providers need that are not set yet.
    pub missing_credentials: Vec<CredentialRef>,
}

impl From<DomainPlanDetail> for PlanDetail {
    fn from(d: DomainPlanDetail) -> Self {
        Self {
            plan: d.row.into(),
            required_providers: d.required_providers,
            plain_english_steps: d.plain_english_steps,
            missing_credentials: d.missing_credentials.into_iter().map(Into::into).collect(),
        }
    }
}

/// One saved version of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanVersion {
    pub plan_id: String,
    pub version: u32,
    pub plan: Value,
    pub saved_at: DateTime<Utc>,
}

impl From<DomainPlanVersion> for PlanVersion {
    fn from(v: DomainPlanVersion) -> Self {
        Self {
            plan_id: v.plan_id,
            version: v.version,
            plan: plan_json(&v.plan),
            saved_at: v.saved_at,
        }
    }
}

/// A provider with its actions and their params' JSON Schemas (for the UI's forms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub name: String,
    pub aliases: Vec<String>,
    pub description: String,
    /// The keychain fields it reads (`api_key`...).
    pub credential_fields: Vec<String>,
    /// Those of `credentialFields` it runs without when unset.
    pub optional_credentials: Vec<String>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub name: String,
    pub description: String,
    /// JSON Schema (draft 2020-12) of the action's params.
    pub params_schema: Value,
    /// Whether running it changes something outside Flowpilot (a POST, an email).
    pub side_effects: bool,
}

impl From<ProviderInfo> for Provider {
    fn from(p: ProviderInfo) -> Self {
        Self {
            name: p.name,
            aliases: p.aliases,
            description: p.description,
            credential_fields: p.credential_fields,
            optional_credentials: p.optional_credentials,
            actions: p.actions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ActionInfo> for Action {
    fn from(a: ActionInfo) -> Self {
        Self {
            name: a.name,
            description: a.description,
            params_schema: a.params_schema,
            side_effects: a.side_effects,
        }
    }
}

/// A credential field that is set. The value never leaves the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub provider: String,
    pub field: String,
    pub updated_at: DateTime<Utc>,
}

impl From<CredentialInfo> for Credential {
    fn from(c: CredentialInfo) -> Self {
        Self {
            provider: c.provider,
            field: c.field,
            updated_at: c.updated_at,
        }
    }
}
