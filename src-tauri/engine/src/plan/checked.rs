//! The checked plan: a [`PlanFile`] that passed validation against a registry,
//! with what running it needs worked out once (each step's provider, retry
//! policy and timeout, its `for_each` source, the parsed schedule).

use super::issue::{PlanError, PlanIssue};
use super::model::{ForEachOptions, PlanFile, PlanStatus, StepSpec};
use super::trigger::Trigger;
use super::{parse, validate};
use crate::references::{self, Reference};
use crate::registry::{Provider, Registry};
use crate::retry::RetryPolicy;
use crate::schedule::Schedule;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What a step needs at run time, beside its spec.
#[derive(Clone)]
pub struct CheckedStep {
    pub provider: Arc<dyn Provider>,
    pub retry: RetryPolicy,
    /// The time one attempt may take (the plan's, else the provider's default).
    pub timeout: Duration,
    pub for_each: Option<ForEach>,
}

impl std::fmt::Debug for CheckedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedStep")
            .field("provider", &self.provider.name())
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("for_each", &self.for_each)
            .finish()
    }
}

/// A `for_each` step's list and options.
#[derive(Debug, Clone, PartialEq)]
pub struct ForEach {
    pub source: Reference,
    pub options: ForEachOptions,
}

/// A plan that passed validation against a registry.
#[derive(Debug, Clone)]
pub struct Plan {
    file: PlanFile,
    steps: Vec<CheckedStep>,
    schedule: Option<Schedule>,
}

impl PartialEq for Plan {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file
    }
}

impl Plan {
    /// Parse and validate plan JSON text.
    pub fn from_json(text: &str, registry: &Registry) -> Result<Plan, PlanError> {
        Self::from_value(parse::parse_text(text)?, registry)
    }

    /// Validate an already parsed JSON value; every problem, located.
    pub fn from_value(value: Value, registry: &Registry) -> Result<Plan, PlanError> {
        match parse::parse_value(value) {
            Ok(file) => Self::from_file(file, registry),
            Err((mut issues, partial)) => {
                let steps: Vec<Option<&StepSpec>> = partial.steps.iter().map(Option::as_ref).collect();
                issues.extend(validate::validate_parts(partial.trigger.as_deref(), &steps, registry));
                Err(PlanError::Invalid(issues))
            }
        }
    }

    /// Validate a typed plan document (from the UI, the store or an import).
    pub fn from_file(file: PlanFile, registry: &Registry) -> Result<Plan, PlanError> {
        let (steps, schedule) = validate::validate(&file, registry).map_err(PlanError::Invalid)?;
        Ok(Plan { file, steps, schedule })
    }

    pub fn name(&self) -> &str {
        &self.file.name
    }
    pub fn steps(&self) -> &[StepSpec] {
        &self.file.steps
    }
    /// Each step's spec with what running it needs.
    pub fn each_step(&self) -> impl ExactSizeIterator<Item = (&StepSpec, &CheckedStep)> {
        self.file.steps.iter().zip(self.steps.iter())
    }
    pub fn checked_step(&self, index: usize) -> Option<&CheckedStep> {
        self.steps.get(index)
    }
    pub fn trigger(&self) -> &Trigger {
        &self.file.trigger
    }
    /// The parsed schedule of a cron trigger (in the system's zone when the plan names none).
    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }
    pub fn status(&self) -> PlanStatus {
        self.file.status
    }
    pub fn file(&self) -> &PlanFile {
        &self.file
    }
    pub fn into_file(self) -> PlanFile {
        self.file
    }

    /// Problems that do not stop the plan but are worth saying (a schedule that never fires).
    pub fn warnings(&self) -> Vec<PlanIssue> {
        let mut out = Vec::new();
        if let Some(schedule) = &self.schedule {
            out.extend(schedule.warnings("trigger"));
        }
        out
    }

    /// The distinct providers the plan uses, canonical names, in order of first use.
    pub fn required_providers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for step in &self.steps {
            let name = step.provider.name().to_string();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Every `(provider, credential)` the plan cannot run without: its trigger's
    /// (an IMAP password, a bot token, a signing secret), then its steps', in
    /// order of first use.
    pub fn credentials_needed(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        if let Some((provider, name)) = self.file.trigger.credential() {
            out.push((provider.to_string(), name.to_string()));
        }
        for (spec, step) in self.each_step() {
            for field in step.provider.credentials_needed(&spec.action, &spec.params) {
                let need = (step.provider.name().to_string(), field);
                if !out.contains(&need) {
                    out.push(need);
                }
            }
        }
        out
    }

    /// One line per step, in words.
    pub fn plain_english_steps(&self) -> Vec<String> {
        self.each_step()
            .enumerate()
            .map(|(i, (spec, step))| {
                let what = step
                    .provider
                    .actions()
                    .iter()
                    .find(|a| a.name == spec.action)
                    .map(|a| a.description.trim_end_matches('.').to_string())
                    .unwrap_or_else(|| format!("{}.{}", spec.provider, spec.action));
                let detail = ["url", "prompt", "path", "template", "seconds", "input"]
                    .iter()
                    .find_map(|k| spec.params.get(*k))
                    .map(|v| format!(": {}", shorten(&references::to_text(v), 60)))
                    .unwrap_or_default();
                // "GET https://…" says more than the address alone.
                let detail = match spec.params.get("method").and_then(Value::as_str) {
                    Some(method) if detail.starts_with(": ") && method.chars().all(|c| c.is_ascii_alphabetic()) => {
                        format!(": {} {}", method.to_ascii_uppercase(), &detail[2..])
                    }
                    _ => detail,
                };
                let each = spec
                    .for_each
                    .as_ref()
                    .map(|s| format!(", for each item of {s}"))
                    .unwrap_or_default();
                let only_if = if spec.when.is_some() {
                    ", only if its condition holds"
                } else {
                    ""
                };
                format!(
                    "{}. {what} ({}.{}){detail}{each}{only_if}",
                    i + 1,
                    spec.provider,
                    spec.action
                )
            })
            .collect()
    }

    /// The plan as a file, with the derived fields filled in: what export writes.
    pub fn to_export_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.file).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("required_providers".into(), self.required_providers().into());
            map.insert("plain_english_steps".into(), self.plain_english_steps().into());
        }
        value
    }
}

fn shorten(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    }
}
