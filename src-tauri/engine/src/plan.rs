//! Plans: the file shape (`PlanFile`, compatible with the seeds), and the checked
//! `Plan` that validation turns it into, collecting every problem with its location.

use crate::registry::Registry;
use crate::template::{self, Root, StepRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Limits on what a plan file may hold.
pub mod limits {
    pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
    pub const MAX_STEPS: usize = 500;
    pub const MAX_DEPTH: usize = 64;
    pub const MAX_STRING_BYTES: usize = 1024 * 1024;
}

/// Default attempts for a step (the first try included).
pub const DEFAULT_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    #[default]
    Draft,
    Active,
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

/// What to do about fires missed while the app was closed or the machine slept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    Skip,
    #[default]
    RunOnce,
    RunAll,
}

/// What to do when a fire comes while the previous run still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    #[default]
    Skip,
    QueueOne,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronTrigger {
    pub cron_expression: String,
    /// IANA zone; the system's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub catch_up: CatchUp,
    #[serde(default)]
    pub overlap: Overlap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    #[default]
    Manual,
    Cron(CronTrigger),
}

/// Parse a cron expression the way Flowpilot schedules it: 5 fields, or 6 with seconds first.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has {fields}"
        ));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| e.to_string())
}

/// Parse an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("unknown time zone `{name}` (use an IANA name such as Europe/Berlin)"))
}

/// How often and how patiently a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The backoff before the first retry; it doubles each time (with full jitter).
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

fn default_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_ATTEMPTS,
            backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

/// `"retry": 5` or `"retry": {"max_attempts": 5, "backoff_ms": 200}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RetrySpec {
    Attempts(u32),
    Policy(RetryPolicy),
}

impl RetrySpec {
    pub fn policy(self) -> RetryPolicy {
        match self {
            Self::Attempts(n) => RetryPolicy {
                max_attempts: n,
                ..RetryPolicy::default()
            },
            Self::Policy(p) => p,
        }
    }
}

/// One step as written in a plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub provider: String,
    pub action: String,
    #[serde(default)]
    pub params: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
}

impl StepSpec {
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry.map(RetrySpec::policy).unwrap_or_default()
    }
}

/// A plan as written in a file, in the seeds' shape. `required_providers` and
/// `plain_english_steps` are derived: accepted on input, recomputed on output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub steps: Vec<StepSpec>,
    #[serde(default)]
    pub trigger: Trigger,
    #[serde(default)]
    pub status: PlanStatus,
}

/// One problem in a plan, with where it is (`steps[2].params.url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanIssue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for PlanIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("the plan file is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the plan is not valid JSON (line {line}, column {column}): {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}", issues_text(.0))]
    Invalid(Vec<PlanIssue>),
}

fn issues_text(issues: &[PlanIssue]) -> String {
    let mut s = format!(
        "the plan has {} problem{}:",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for i in issues {
        s.push_str("\n  ");
        s.push_str(&i.to_string());
    }
    s
}

impl PlanError {
    /// Every problem, located; syntax and size errors become one issue at the root.
    pub fn issues(&self) -> Vec<PlanIssue> {
        match self {
            Self::Invalid(issues) => issues.clone(),
            other => vec![PlanIssue {
                path: String::new(),
                message: other.to_string(),
            }],
        }
    }
}

/// A plan that passed validation against a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    file: PlanFile,
}

impl Plan {
    pub fn name(&self) -> &str {
        &self.file.name
    }
    pub fn steps(&self) -> &[StepSpec] {
        &self.file.steps
    }
    pub fn trigger(&self) -> &Trigger {
        &self.file.trigger
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

    /// Parse and validate plan JSON text.
    pub fn from_json(text: &str, registry: &Registry) -> Result<Plan, PlanError> {
        if text.len() > limits::MAX_FILE_BYTES {
            return Err(PlanError::TooLarge {
                size: text.len(),
                limit: limits::MAX_FILE_BYTES,
            });
        }
        let value: Value = serde_json::from_str(text).map_err(|e| PlanError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string().split(" at line").next().unwrap_or_default().to_string(),
        })?;
        Self::from_value(value, registry)
    }

    /// Validate an already parsed JSON value.
    pub fn from_value(value: Value, registry: &Registry) -> Result<Plan, PlanError> {
        let mut issues = Vec::new();
        check_shape_limits(&value, &mut issues);
        if !issues.is_empty() {
            return Err(PlanError::Invalid(issues));
        }
        let file = parse_file(value, &mut issues);
        if let Some(file) = &file {
            validate(file, registry, &mut issues);
        }
        match file {
            Some(file) if issues.is_empty() => Ok(Plan { file }),
            _ => Err(PlanError::Invalid(issues)),
        }
    }

    /// Validate a typed plan file (from the UI or an import).
    pub fn from_file(file: PlanFile, registry: &Registry) -> Result<Plan, PlanError> {
        let value = serde_json::to_value(&file).map_err(|e| {
            PlanError::Invalid(vec![PlanIssue {
                path: String::new(),
                message: e.to_string(),
            }])
        })?;
        Self::from_value(value, registry)
    }

    /// The distinct providers the plan uses, canonical names, in order of first use.
    pub fn required_providers(&self, registry: &Registry) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for step in &self.file.steps {
            let name = registry
                .get(&step.provider)
                .map(|p| p.name().to_string())
                .unwrap_or_else(|| step.provider.clone());
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Every `(provider, credential)` the plan's steps cannot run without, in
    /// order of first use.
    pub fn credentials_needed(&self, registry: &Registry) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for step in &self.file.steps {
            let Some(provider) = registry.get(&step.provider) else {
                continue;
            };
            for field in provider.credentials_needed(&step.action, &step.params) {
                let need = (provider.name().to_string(), field);
                if !out.contains(&need) {
                    out.push(need);
                }
            }
        }
        out
    }

    /// One line per step, in words.
    pub fn plain_english_steps(&self, registry: &Registry) -> Vec<String> {
        self.file
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let what = registry
                    .action(&step.provider, &step.action)
                    .map(|a| a.description.trim_end_matches('.').to_string())
                    .unwrap_or_else(|| format!("{}.{}", step.provider, step.action));
                let detail = ["url", "prompt", "path", "template", "seconds", "input"]
                    .iter()
                    .find_map(|k| step.params.get(*k))
                    .map(|v| format!(": {}", shorten(&template::to_text(v), 60)))
                    .unwrap_or_default();
                // "GET https://…" says more than the address alone.
                let detail = match step.params.get("method").and_then(Value::as_str) {
                    Some(method) if detail.starts_with(": ") && method.chars().all(|c| c.is_ascii_alphabetic()) => {
                        format!(": {} {}", method.to_ascii_uppercase(), &detail[2..])
                    }
                    _ => detail,
                };
                format!("{}. {what} ({}.{}){detail}", i + 1, step.provider, step.action)
            })
            .collect()
    }

    /// The plan as a file, with the derived fields filled in: what export writes.
    pub fn to_export_json(&self, registry: &Registry) -> Value {
        let mut value = serde_json::to_value(&self.file).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("required_providers".into(), self.required_providers(registry).into());
            map.insert("plain_english_steps".into(), self.plain_english_steps(registry).into());
        }
        value
    }

    /// The step's timeout, from the plan or the provider's default.
    pub fn step_timeout(&self, index: usize, registry: &Registry) -> Duration {
        let step = &self.file.steps[index];
        step.timeout_s
            .map(Duration::from_secs_f64)
            .or_else(|| registry.get(&step.provider).map(|p| p.default_timeout()))
            .unwrap_or(Duration::from_secs(60))
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

/// Depth and string-size limits, before anything else looks at the value.
fn check_shape_limits(value: &Value, issues: &mut Vec<PlanIssue>) {
    let mut stack: Vec<(&Value, usize, String)> = vec![(value, 1, String::new())];
    let mut deep_reported = false;
    while let Some((v, depth, path)) = stack.pop() {
        if depth > limits::MAX_DEPTH {
            if !deep_reported {
                issues.push(PlanIssue {
                    path,
                    message: format!("nested deeper than {} levels", limits::MAX_DEPTH),
                });
                deep_reported = true;
            }
            continue;
        }
        match v {
            Value::String(s) if s.len() > limits::MAX_STRING_BYTES => issues.push(PlanIssue {
                path,
                message: format!(
                    "a string of {} bytes; the limit is {}",
                    s.len(),
                    limits::MAX_STRING_BYTES
                ),
            }),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((item, depth + 1, format!("{path}[{i}]")));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let mut p = path.clone();
                    template::push_key(&mut p, k);
                    stack.push((item, depth + 1, p));
                }
            }
            _ => {}
        }
    }
    issues.sort_by(|a, b| a.path.cmp(&b.path));
}

fn issue(path: impl Into<String>, message: impl Into<String>) -> PlanIssue {
    PlanIssue {
        path: path.into(),
        message: message.into(),
    }
}

fn serde_message(e: &serde_json::Error) -> String {
    e.to_string().split(" at line").next().unwrap_or_default().to_string()
}

/// Turn the JSON into a `PlanFile`, field by field, so that every problem is reported.
fn parse_file(value: Value, issues: &mut Vec<PlanIssue>) -> Option<PlanFile> {
    let Value::Object(mut map) = value else {
        issues.push(issue("", "a plan is a JSON object with `name` and `steps`"));
        return None;
    };
    let start = issues.len();
    let name = match map.remove("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(Value::String(_)) => {
            issues.push(issue("name", "must not be empty"));
            None
        }
        Some(_) => {
            issues.push(issue("name", "must be a string"));
            None
        }
        None => {
            issues.push(issue("name", "is missing"));
            None
        }
    };
    let mut text_field = |key: &str, map: &mut serde_json::Map<String, Value>| match map.remove(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            issues.push(issue(key, "must be a string"));
            None
        }
    };
    let original_prompt = text_field("original_prompt", &mut map);
    let description = text_field("description", &mut map);
    let trigger = match map.remove("trigger") {
        None | Some(Value::Null) => Trigger::Manual,
        Some(v) => serde_json::from_value::<Trigger>(v).unwrap_or_else(|e| {
            issues.push(issue("trigger", serde_message(&e)));
            Trigger::Manual
        }),
    };
    let status = match map.remove("status") {
        None | Some(Value::Null) => PlanStatus::Draft,
        Some(v) => serde_json::from_value::<PlanStatus>(v).unwrap_or_else(|_| {
            issues.push(issue("status", "must be one of draft, active, archived"));
            PlanStatus::Draft
        }),
    };
    let mut steps = Vec::new();
    match map.remove("steps") {
        Some(Value::Array(items)) => {
            if items.is_empty() {
                issues.push(issue("steps", "a plan needs at least one step"));
            }
            if items.len() > limits::MAX_STEPS {
                issues.push(issue(
                    "steps",
                    format!("{} steps; the limit is {}", items.len(), limits::MAX_STEPS),
                ));
            }
            for (i, item) in items.into_iter().enumerate() {
                if let Some(step) = parse_step(i, item, issues) {
                    steps.push(step);
                }
            }
        }
        Some(_) => issues.push(issue("steps", "must be an array of steps")),
        None => issues.push(issue("steps", "is missing")),
    }
    // Derived and legacy fields the seeds wrote; everything else is a typo worth reporting.
    for (key, _) in map {
        if ![
            "required_providers",
            "plain_english_steps",
            "id",
            "user_id",
            "created_at",
            "updated_at",
        ]
        .contains(&key.as_str())
        {
            issues.push(issue(key.clone(), "unknown field"));
        }
    }
    if issues.len() > start {
        return None;
    }
    Some(PlanFile {
        name: name?,
        original_prompt,
        description,
        steps,
        trigger,
        status,
    })
}

fn parse_step(i: usize, item: Value, issues: &mut Vec<PlanIssue>) -> Option<StepSpec> {
    let at = |field: &str| {
        if field.is_empty() {
            format!("steps[{i}]")
        } else {
            format!("steps[{i}].{field}")
        }
    };
    let Value::Object(mut map) = item else {
        issues.push(issue(at(""), "a step is an object with provider, action and params"));
        return None;
    };
    let start = issues.len();
    let mut string = |key: &str, required: bool, map: &mut serde_json::Map<String, Value>| match map.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        None | Some(Value::Null) if !required => None,
        None => {
            issues.push(issue(at(key), "is missing"));
            None
        }
        Some(_) => {
            issues.push(issue(at(key), "must be a non-empty string"));
            None
        }
    };
    let id = string("id", false, &mut map);
    let provider = string("provider", true, &mut map);
    let action = string("action", true, &mut map);
    let params = match map.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            issues.push(issue(at("params"), "must be an object"));
            Value::Null
        }
    };
    let retry = match map.remove("retry") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_json::from_value::<RetrySpec>(v) {
            Ok(r) if r.policy().max_attempts >= 1 && r.policy().max_attempts <= 20 => Some(r),
            Ok(_) => {
                issues.push(issue(at("retry"), "attempts must be between 1 and 20"));
                None
            }
            Err(_) => {
                issues.push(issue(
                    at("retry"),
                    "a number of attempts, or {\"max_attempts\", \"backoff_ms\"?, \"max_backoff_ms\"?}",
                ));
                None
            }
        },
    };
    let timeout_s = match map.remove("timeout_s") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(s) if s > 0.0 && s <= 86_400.0 => Some(s),
            _ => {
                issues.push(issue(at("timeout_s"), "must be between 0 and 86400 seconds"));
                None
            }
        },
        Some(_) => {
            issues.push(issue(at("timeout_s"), "must be a number of seconds"));
            None
        }
    };
    let continue_on_error = match map.remove("continue_on_error") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            issues.push(issue(at("continue_on_error"), "must be true or false"));
            false
        }
    };
    for (key, _) in map {
        issues.push(issue(at(&key), "unknown field"));
    }
    if issues.len() > start {
        return None;
    }
    Some(StepSpec {
        id,
        provider: provider?,
        action: action?,
        params,
        retry,
        timeout_s,
        continue_on_error,
    })
}

/// Registry, schema, reference and trigger checks on a well-formed file.
fn validate(file: &PlanFile, registry: &Registry, issues: &mut Vec<PlanIssue>) {
    if let Trigger::Cron(cron) = &file.trigger {
        if let Err(e) = parse_cron(&cron.cron_expression) {
            issues.push(issue("trigger.cron_expression", e));
        }
        if let Some(tz) = &cron.timezone
            && let Err(e) = parse_timezone(tz)
        {
            issues.push(issue("trigger.timezone", e));
        }
    }

    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, step) in file.steps.iter().enumerate() {
        if let Some(id) = &step.id {
            if !template::is_valid_step_id(id) {
                issues.push(issue(
                    format!("steps[{i}].id"),
                    "letters, digits, `_` and `-`, not only digits",
                ));
            } else if let Some(first) = ids.insert(id, i) {
                issues.push(issue(
                    format!("steps[{i}].id"),
                    format!("`{id}` is already the id of steps[{first}]"),
                ));
                ids.insert(id, first);
            }
        }
    }

    for (i, step) in file.steps.iter().enumerate() {
        let at = |rest: &str| format!("steps[{i}]{rest}");
        let Some(provider) = registry.get(&step.provider) else {
            let known: Vec<&str> = registry.providers().iter().map(|p| p.name()).collect();
            issues.push(issue(
                at(".provider"),
                format!("unknown provider `{}` (known: {})", step.provider, known.join(", ")),
            ));
            continue;
        };
        let actions = provider.actions();
        let Some(action) = actions.iter().find(|a| a.name == step.action) else {
            let known: Vec<&str> = actions.iter().map(|a| a.name).collect();
            issues.push(issue(
                at(".action"),
                format!(
                    "`{}` has no action `{}` (known: {})",
                    provider.name(),
                    step.action,
                    known.join(", ")
                ),
            ));
            continue;
        };

        // References: syntax, and that they point at earlier steps.
        for (path, parsed) in template::find_templates(&step.params) {
            let loc = format!(
                "steps[{i}].params{}",
                if path.starts_with('[') {
                    path.clone()
                } else {
                    format!(".{path}")
                }
            );
            match parsed {
                Err(e) => issues.push(issue(loc, e.to_string())),
                Ok(t) => {
                    for r in t.references() {
                        if let Root::Step(target) = &r.root {
                            let problem = match target {
                                StepRef::Index(n) if *n == i => {
                                    Some("a step cannot refer to its own output".to_string())
                                }
                                StepRef::Index(n) if *n > i => Some(format!("steps[{n}] runs after this step")),
                                StepRef::Id(id) => match ids.get(id.as_str()) {
                                    None => Some(format!("no step has the id `{id}`")),
                                    Some(&n) if n == i => Some("a step cannot refer to its own output".to_string()),
                                    Some(&n) if n > i => Some(format!("step `{id}` (steps[{n}]) runs after this step")),
                                    Some(_) => None,
                                },
                                StepRef::Index(_) => None,
                            };
                            if let Some(p) = problem {
                                issues.push(issue(loc.clone(), format!("{r}: {p}")));
                            }
                        }
                    }
                }
            }
        }

        for (path, message) in schema_issues(&action.params_schema, &step.params) {
            issues.push(issue(at(&format!(".params{path}")), message));
        }
        for (path, message) in provider.prepare(&step.action, &step.params) {
            let sep = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            issues.push(issue(at(&format!(".params{sep}{path}")), message));
        }
    }
}

/// JSON Schema problems in `params`, as `(".a.b", message)`. A string that is a
/// whole reference stands for a value of unknown type, so it is not held to the schema.
pub fn schema_issues(schema: &Value, params: &Value) -> Vec<(String, String)> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(v) => v,
        Err(e) => return vec![(String::new(), format!("the action's schema is broken: {e}"))],
    };
    let mut out = Vec::new();
    for err in validator.iter_errors(params) {
        let pointer = err.instance_path().as_str().to_string();
        if let Value::String(s) = err.instance().as_ref()
            && template::parse(s).map(|t| t.has_references()).unwrap_or(false)
        {
            continue;
        }
        let mut path = pointer_to_path(&pointer);
        // Put "missing" and "unknown" problems on the field they are about, so the
        // UI can show them there.
        match err.kind() {
            jsonschema::error::ValidationErrorKind::Required {
                property: Value::String(name),
            } => {
                path.push_str(&pointer_to_path(&format!("/{name}")));
                out.push((path, "is required".to_string()));
            }
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    out.push((
                        format!("{path}{}", pointer_to_path(&format!("/{name}"))),
                        "unknown parameter".to_string(),
                    ));
                }
            }
            _ => out.push((path, err.to_string())),
        }
    }
    out
}

/// `/payload/items/0` into `.payload.items[0]`.
fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            let mut p = String::from("x");
            template::push_key(&mut p, &seg);
            out.push_str(&p[1..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(value: Value) -> Vec<String> {
        match Plan::from_value(value, &Registry::builtin()) {
            Ok(_) => vec![],
            Err(e) => e.issues().into_iter().map(|i| i.to_string()).collect(),
        }
    }

    fn has(issues: &[String], prefix: &str) -> bool {
        issues.iter().any(|i| i.starts_with(prefix))
    }

    #[test]
    fn plain_english_steps_are_numbered_and_name_the_method_of_a_request() {
        let plan = Plan::from_value(
            json!({"name": "Words", "steps": [
                {"provider": "http", "action": "request", "params": {"method": "POST", "url": "http://127.0.0.1:9/x"}},
                {"provider": "delay", "action": "wait", "params": {"seconds": 1}}
            ]}),
            &Registry::builtin(),
        )
        .unwrap();
        let words = plan.plain_english_steps(&Registry::builtin());
        assert_eq!(
            words[0],
            "1. Send an HTTP request and return the response body (http.request): POST http://127.0.0.1:9/x"
        );
        assert!(
            words[1].starts_with("2. ") && words[1].ends_with("(delay.wait): 1"),
            "{}",
            words[1]
        );
    }

    #[test]
    fn every_problem_is_collected_with_its_location() {
        let found = issues(json!({
            "name": "broken",
            "steps": [
                {"provider": "nope", "action": "x", "params": {}},
                {"provider": "logic", "action": "fly", "params": {}},
                {"provider": "delay", "action": "wait", "params": {"seconds": "soon"}},
                {"provider": "logic", "action": "set", "params": {"value": "${steps.3.output}"}},
                {"provider": "logic", "action": "set", "params": {"value": "${steps.9.output} ${steps.ghost.output}"}},
                {"provider": "logic", "action": "extract", "params": {"input": 1}}
            ],
            "trigger": {"type": "cron", "cron_expression": "61 * * * *", "timezone": "Mars/Base"}
        }));
        for prefix in [
            "steps[0].provider: unknown provider `nope`",
            "steps[1].action: `logic` has no action `fly`",
            "steps[2].params.seconds:",
            "steps[3].params.value: ${steps.3.output}: a step cannot refer to its own output",
            "steps[4].params.value: ${steps.9.output}: steps[9] runs after this step",
            "steps[4].params.value: ${steps.ghost.output}: no step has the id `ghost`",
            "steps[5].params.path: is required",
            "trigger.cron_expression:",
            "trigger.timezone: unknown time zone `Mars/Base`",
        ] {
            assert!(has(&found, prefix), "missing `{prefix}` in {found:#?}");
        }
    }

    #[test]
    fn structural_problems_are_located_per_field() {
        let found = issues(json!({
            "name": "",
            "steps": [{"action": 3, "params": [], "retry": 0, "timeout_s": -1, "colour": "red"}],
            "status": "live",
            "extra": true
        }));
        for prefix in [
            "name: must not be empty",
            "steps[0].provider: is missing",
            "steps[0].action: must be a non-empty string",
            "steps[0].params: must be an object",
            "steps[0].retry: attempts must be between 1 and 20",
            "steps[0].timeout_s:",
            "steps[0].colour: unknown field",
            "status: must be one of draft, active, archived",
            "extra: unknown field",
        ] {
            assert!(has(&found, prefix), "missing `{prefix}` in {found:#?}");
        }
    }

    #[test]
    fn a_whole_reference_may_stand_for_any_type() {
        let found = issues(json!({"name": "ok", "steps": [
            {"id": "n", "provider": "logic", "action": "set", "params": {"value": 2}},
            {"provider": "delay", "action": "wait", "params": {"seconds": "${steps.n.output}"}}
        ]}));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn ids_must_be_unique_and_not_numeric() {
        let found = issues(json!({"name": "ids", "steps": [
            {"id": "a", "provider": "logic", "action": "set", "params": {"value": 1}},
            {"id": "a", "provider": "logic", "action": "set", "params": {"value": 1}},
            {"id": "7", "provider": "logic", "action": "set", "params": {"value": 1}}
        ]}));
        assert!(
            has(&found, "steps[1].id: `a` is already the id of steps[0]"),
            "{found:?}"
        );
        assert!(has(&found, "steps[2].id:"), "{found:?}");
    }

    #[test]
    fn limits_are_errors_not_panics() {
        let registry = Registry::builtin();
        let big = "x".repeat(limits::MAX_FILE_BYTES + 1);
        assert!(matches!(
            Plan::from_json(&big, &registry),
            Err(PlanError::TooLarge { .. })
        ));

        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({"a": deep});
        }
        let found = issues(
            json!({"name": "deep", "steps": [{"provider": "logic", "action": "set", "params": {"value": deep}}]}),
        );
        assert!(found.iter().any(|i| i.contains("nested deeper than 64")), "{found:?}");

        let long = "y".repeat(limits::MAX_STRING_BYTES + 1);
        let found = issues(
            json!({"name": "long", "steps": [{"provider": "logic", "action": "set", "params": {"value": long}}]}),
        );
        assert!(has(&found, "steps[0].params.value: a string of"), "{found:?}");

        let steps: Vec<Value> = (0..=limits::MAX_STEPS)
            .map(|_| json!({"provider": "logic", "action": "set", "params": {"value": 1}}))
            .collect();
        assert!(has(
            &issues(json!({"name": "many", "steps": steps})),
            "steps: 501 steps; the limit is 500"
        ));

        assert!(matches!(
            Plan::from_json("{\"name\": ", &registry),
            Err(PlanError::Syntax { line: 1, .. })
        ));
        assert!(matches!(Plan::from_json("[]", &registry), Err(PlanError::Invalid(_))));
    }

    #[test]
    fn cron_accepts_five_or_six_fields_only() {
        assert!(parse_cron("0 9 * * *").is_ok());
        assert!(parse_cron("*/5 * * * * *").is_ok());
        assert!(parse_cron("0 9 * *").is_err());
        assert!(parse_cron("0 0 9 * * * 2027").is_err());
        assert!(parse_timezone("America/New_York").is_ok());
    }
}
