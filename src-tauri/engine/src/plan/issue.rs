//! Problems found in a plan, each with where it is (`steps[2].params.url`) and a
//! kind from a closed set that code branches on (never the message text).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of problem an issue is. Serialised in snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// The text is not JSON.
    Syntax,
    /// The file, a string, the nesting or the number of steps is over its limit.
    TooLarge,
    /// A required field is missing.
    Required,
    /// A field the format does not have (often a typo).
    UnknownField,
    /// A value of the wrong type.
    WrongType,
    /// A value that is not one of the allowed ones.
    NotAllowed,
    /// An empty value where one is needed.
    Empty,
    /// A number or count out of its range.
    OutOfRange,
    /// A string not in the expected form.
    BadFormat,
    /// A step id used twice.
    DuplicateId,
    UnknownProvider,
    UnknownAction,
    /// A `${...}` that cannot be read.
    BadReference,
    /// A reference to a step that runs later.
    ForwardReference,
    /// A step that refers to its own result.
    SelfReference,
    /// A reference to a step id no step has.
    UnknownStep,
    /// A reference where it cannot be resolved (`${item}` outside a `for_each` step).
    ReferenceNotAllowed,
    BadCron,
    BadTimezone,
    /// A `when` condition that cannot be checked.
    BadCondition,
    /// A param the action does not accept (its schema or its own checks).
    InvalidParam,
    /// A JSON-looking param whose `${...}` is not quoted (`{"text": ${steps.0.output}}`).
    UnquotedReference,
    /// Valid, but probably not what was meant (a schedule that never fires).
    Suspicious,
    /// A target a shared plan should not reach silently (a private or metadata address).
    PrivateTarget,
    /// A setting that would send a secret unencrypted to another machine (`security: "none"`).
    Insecure,
}

/// Whether an issue stops the plan from being saved and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

/// One problem in a plan, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PlanIssue {
    /// Where: `steps[2].params.url`, `trigger.cron_expression`, `` for the whole plan.
    pub path: String,
    pub kind: IssueKind,
    pub message: String,
    #[serde(default)]
    pub severity: Severity,
    /// A value to put at `path` that fixes the problem, when there is an obvious one
    /// (the UI offers it as a one-click fix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<serde_json::Value>,
}

impl PlanIssue {
    pub fn error(path: impl Into<String>, kind: IssueKind, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            kind,
            message: message.into(),
            severity: Severity::Error,
            fix: None,
        }
    }

    /// The same issue with a value that fixes it.
    pub fn with_fix(mut self, fix: serde_json::Value) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn warning(path: impl Into<String>, kind: IssueKind, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(path, kind, message)
        }
    }

    /// The same problem found inside a part of the plan (`steps[0]` + `.params.url`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

/// `a` + `b` as one dotted path: `steps[0]` + `params.url` → `steps[0].params.url`.
pub fn join_path(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a.to_string(),
        (true, false) => b.trim_start_matches('.').to_string(),
        (false, false) if b.starts_with('[') || b.starts_with('.') => format!("{a}{b}"),
        (false, false) => format!("{a}.{b}"),
    }
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

/// Why a plan could not be read or checked.
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
            Self::TooLarge { .. } => vec![PlanIssue::error("", IssueKind::TooLarge, self.to_string())],
            Self::Syntax { .. } => vec![PlanIssue::error("", IssueKind::Syntax, self.to_string())],
        }
    }
}
