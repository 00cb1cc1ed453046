//! The plan document: the one definition of what a plan file holds. Its JSON
//! Schema (schemars) checks files and is given to models; its TypeScript type
//! (specta) is what the UI edits. Nothing else spells the format out.
//!
//! The shape is the seeds' (`name`, `steps[]` of `provider` + `action` +
//! `params`), with the optional fields Flowpilot adds.

use super::trigger::Trigger;
use crate::retry::RetrySpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A plan as written in a file, sent over IPC and stored. `required_providers`
/// and `plain_english_steps` are derived: accepted on input (and dropped),
/// recomputed on export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Flowpilot plan")]
pub struct PlanFile {
    /// What the plan is called; unique among stored plans.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The sentence the plan was drafted from, if it was drafted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Words to find the plan by in the list ("reports", "work").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 40)))]
    pub tags: Vec<String>,
    /// The steps, run in order. A step may use what earlier steps produced.
    #[schemars(length(min = 1))]
    pub steps: Vec<StepSpec>,
    /// What starts the plan besides a person: nothing (`manual`), a schedule
    /// (`cron`), or an event (`webhook`, `email`, `feed`, `telegram`, `poll`).
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default)]
    pub status: PlanStatus,
}

/// One step: an action of a provider with its params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// A name to refer to the step by (`${steps.<id>.output}`): letters, digits,
    /// `_` and `-`, not only digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub id: Option<String>,
    /// A provider from the catalogue (`http`, `logic`, `openai`...).
    #[schemars(length(min = 1))]
    pub provider: String,
    /// One of the provider's actions.
    #[schemars(length(min = 1))]
    pub action: String,
    /// The action's params. Any string may hold references to earlier results
    /// (`${steps.0.output}`, `${steps.fetch.output.items[0].title}`), to the plan,
    /// the run and the trigger (`${plan.name}`, `${run.id}`, `${trigger.type}`),
    /// and in a `for_each` step to the item (`${item}`, `${item.title}`, `${item_index}`).
    #[serde(default)]
    #[specta(type = Map<String, Value>)]
    #[schemars(with = "Map<String, Value>")]
    pub params: Value,
    /// Attempts in all (`3`), or a policy; failures that may pass (connection
    /// errors, timeouts, 429, 5xx) are retried with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Seconds one attempt may take (default 60; 300 for language models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.001, max = 86400.0))]
    pub timeout_s: Option<f64>,
    /// Go on with the next step when this one fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    /// Run the step only if this holds; otherwise it is logged as skipped and its
    /// output is null. In a `for_each` step it is checked for each item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// Run the step once per item of this list (a reference such as
    /// `${steps.fetch.output.items}`); its output is the list of the items' outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub for_each: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each_options: Option<ForEachOptions>,
}

impl StepSpec {
    /// A step with no options set.
    pub fn new(provider: impl Into<String>, action: impl Into<String>, params: Value) -> Self {
        Self {
            id: None,
            provider: provider.into(),
            action: action.into(),
            params,
            retry: None,
            timeout_s: None,
            continue_on_error: false,
            when: None,
            for_each: None,
            for_each_options: None,
        }
    }
}

/// How a `for_each` step goes through its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ForEachOptions {
    /// Items run at the same time (1-8).
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 8))]
    pub concurrency: u8,
    /// `stop` at the first failed item (default), or `continue` with the rest: the
    /// step then fails only if every item failed.
    #[serde(default)]
    pub on_error: OnItemError,
}

fn one() -> u8 {
    1
}

impl Default for ForEachOptions {
    fn default() -> Self {
        Self {
            concurrency: 1,
            on_error: OnItemError::Stop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnItemError {
    #[default]
    Stop,
    Continue,
}

/// A condition: a comparison, or `all` / `any` / `not` of conditions. Values are
/// compared as written after references are resolved; nothing is evaluated as code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(untagged)]
pub enum Condition {
    All(AllOf),
    Any(AnyOf),
    Not(NotOf),
    Compare(Comparison),
}

/// Holds when every condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct AllOf {
    pub all: Vec<Condition>,
}

/// Holds when at least one condition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct AnyOf {
    pub any: Vec<Condition>,
}

/// Holds when the condition does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct NotOf {
    pub not: Box<Condition>,
}

/// `left op right`, e.g. `{"left": "${steps.summary.output}", "op": "contains", "right": "outage"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    pub left: Value,
    pub op: CompareOp,
    /// Not needed for `exists`, `empty` and `not_empty`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<Value>,
}

/// How two values compare. Numbers (and numeric strings) compare as numbers,
/// everything else as text; `contains` also looks into lists (an equal item) and
/// objects (a key); `matches` is a regular expression (at most 1,000 characters);
/// `exists` is "not null"; `empty` is null, `""`, `[]` or `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    Eq,
    Ne,
    Gt,
    #[serde(alias = "gte")]
    Ge,
    Lt,
    #[serde(alias = "lte")]
    Le,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Matches,
    Exists,
    Empty,
    NotEmpty,
}

impl CompareOp {
    pub const ALL: [CompareOp; 14] = [
        Self::Eq,
        Self::Ne,
        Self::Gt,
        Self::Ge,
        Self::Lt,
        Self::Le,
        Self::Contains,
        Self::NotContains,
        Self::StartsWith,
        Self::EndsWith,
        Self::Matches,
        Self::Exists,
        Self::Empty,
        Self::NotEmpty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Contains => "contains",
            Self::NotContains => "not_contains",
            Self::StartsWith => "starts_with",
            Self::EndsWith => "ends_with",
            Self::Matches => "matches",
            Self::Exists => "exists",
            Self::Empty => "empty",
            Self::NotEmpty => "not_empty",
        }
    }

    /// Older names still read: `gte` and `lte`.
    pub const ALIASES: [(&'static str, CompareOp); 2] = [("gte", Self::Ge), ("lte", Self::Le)];

    /// Whether the operator compares with a `right` value.
    pub fn takes_right(self) -> bool {
        !matches!(self, Self::Exists | Self::Empty | Self::NotEmpty)
    }
}

/// Written by hand so the schema also takes the older names `gte` and `lte`.
impl JsonSchema for CompareOp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CompareOp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Self::ALL
            .iter()
            .map(|op| op.as_str())
            .chain(Self::ALIASES.iter().map(|(name, _)| *name))
            .collect();
        schemars::json_schema!({
            "type": "string",
            "enum": names,
            "description": "eq, ne, gt, ge, lt, le, contains, not_contains, starts_with, ends_with, matches (a regular expression), exists (not null), empty (null, \"\", [] or {}), not_empty"
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Saved, not started by its trigger.
    #[default]
    Draft,
    /// Its trigger (schedule) starts it.
    Active,
    /// Put away: kept, never started by its trigger.
    Archived,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

/// The JSON Schema of plan files (draft 2020-12), as given to models and used to
/// check files.
pub fn plan_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(PlanFile)).unwrap_or(Value::Bool(true))
}
