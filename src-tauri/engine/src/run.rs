//! What a run produces: its status, one record per step (the seeds' log fields),
//! live events, and what a caller asks the executor to run. The executor fills
//! these in; the store writes them; the app forwards the events to the UI.

use crate::plan::Plan;
use crate::references;
use crate::step_error::ErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// Output kept per step; larger outputs are cut with a marker.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;
/// Characters of output kept in the log's preview.
pub const PREVIEW_CHARS: usize = 500;
/// Bytes of a step's resolved input (its params after references) kept in the log.
pub const MAX_INPUT_BYTES: usize = 64 * 1024;
/// The message of a step a dry run answered from its stub.
pub const DRY_RUN_MESSAGE: &str = "dry run: not sent";
/// The marker that ends an output cut at [`MAX_OUTPUT_BYTES`].
pub const TRUNCATED_MARKER: &str = "…[truncated: output was ";
/// The metadata key of a record a replay took over from the run it replays.
pub const REUSED_FROM_RUN: &str = "reused_from_run";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Failed,
    Cancelled,
    /// Left `running` by a crash; set when the store is reopened.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "success" => Self::Success,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }
}

/// A step log row's status, as in the seeds (`success`, `error`, `retrying`,
/// `timeout`) plus `skipped` (its condition was false, or an earlier step ended
/// the run) and `unknown` (a request with side effects failed in a way that does
/// not say whether the server acted on it: it is not sent again automatically).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Success,
    Error,
    Retrying,
    Timeout,
    Skipped,
    Unknown,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Retrying => "retrying",
            Self::Timeout => "timeout",
            Self::Skipped => "skipped",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Self::Success,
            "error" => Self::Error,
            "retrying" => Self::Retrying,
            "timeout" => Self::Timeout,
            "skipped" => Self::Skipped,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

/// One item of a `for_each` step, as the log keeps it (its output is in the
/// step's output list, at the same index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ItemRecord {
    pub index: u32,
    pub status: StepStatus,
    pub attempt: u32,
    pub latency_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
    /// Why it failed or was skipped; empty for a success.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One step log row (the seeds' fields), already redacted and capped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepRecord {
    pub run_id: String,
    /// The step's position, from 0 (people are told positions from 1).
    pub step_number: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    pub provider: String,
    pub action: String,
    pub status: StepStatus,
    pub attempt: u32,
    pub message: String,
    pub latency_ms: u64,
    pub output_preview: String,
    /// The output, capped at [`MAX_OUTPUT_BYTES`]; null for failed or skipped steps.
    pub output: Value,
    /// What the step was given: its params with references resolved (credentials
    /// masked, capped at [`MAX_INPUT_BYTES`]); for a `for_each` step, its params as
    /// written. Null when the step did not get that far.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
    /// A `for_each` step's items, in item order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemRecord>>,
    pub timestamp: DateTime<Utc>,
}

impl StepRecord {
    /// Whether the whole output is here (not cut at the cap).
    pub fn output_is_whole(&self) -> bool {
        !matches!(&self.output, Value::String(s) if s.contains(TRUNCATED_MARKER) && s.ends_with(" bytes]"))
    }

    /// The step as later references see it: `{success, output, message, metadata, error, status}`.
    pub fn as_result(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "success".into(),
            Value::Bool(matches!(self.status, StepStatus::Success | StepStatus::Skipped)),
        );
        out.insert("output".into(), self.output.clone());
        out.insert("message".into(), Value::String(self.message.clone()));
        out.insert("metadata".into(), Value::Object(self.metadata.clone()));
        out.insert("status".into(), Value::String(self.status.as_str().into()));
        if let Some(e) = self.error {
            out.insert("error".into(), Value::String(e.as_string()));
        }
        Value::Object(out)
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunOutcome {
    pub run_id: String,
    pub plan_name: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The final record of each step (retry rows left out).
    pub steps: Vec<StepRecord>,
}

/// Live progress of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        plan_name: String,
        step_count: usize,
        started_at: DateTime<Utc>,
    },
    StepStarted {
        run_id: String,
        step_number: usize,
        provider: String,
        action: String,
        attempt: u32,
    },
    /// An attempt failed and will be retried after `retry_in_ms`; `record` has status `retrying`.
    StepRetrying { record: StepRecord, retry_in_ms: u64 },
    /// An item of a `for_each` step finished (`done` of `total`).
    ItemFinished {
        run_id: String,
        step_number: usize,
        item: ItemRecord,
        done: usize,
        total: usize,
    },
    /// A step's final record. `last` marks the run's final row, which comes again
    /// as the last of `RunFinished`'s steps, so a store can write it with the
    /// run's status atomically.
    StepFinished { record: StepRecord, last: bool },
    /// The run ended. `outcome.steps.last()` is its final row (see `StepFinished`).
    /// (It is not repeated in a field of its own: an output may be 10 MB.)
    RunFinished { outcome: RunOutcome },
}

/// What [`RunObserver::record`] returns: done once the observer has dealt with the event.
pub type Recorded<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;

/// Receives run events; the store writes them, the app forwards them to the UI.
pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &RunEvent);

    /// The event, for an observer that waits for something (a durable write)
    /// without holding a thread while it waits: the executor awaits it before
    /// the run goes on. By default [`RunObserver::on_event`], at once.
    fn record<'a>(&'a self, event: &'a RunEvent) -> Recorded<'a> {
        self.on_event(event);
        Box::pin(std::future::ready(()))
    }
}

/// Ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;
impl RunObserver for NoObserver {
    fn on_event(&self, _: &RunEvent) {}
}

impl<F: Fn(&RunEvent) + Send + Sync> RunObserver for F {
    fn on_event(&self, event: &RunEvent) {
        self(event)
    }
}

/// A replay: steps before `from_step` take their stored records instead of running.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The run replayed.
    pub of_run: String,
    /// The first step that runs again (from 0).
    pub from_step: usize,
    /// For each step before `from_step`: the record to take over, or `None` to
    /// run it again (a step that changed since, replayed with `--force`).
    pub reuse: Vec<Option<StepRecord>>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run_id: String,
    pub plan: Plan,
    /// What started it: `{"type": "manual"}`, `{"type": "cron", "scheduled_for": ...}`.
    pub trigger: Value,
    /// The whole run must finish within this.
    pub deadline: Option<Duration>,
    /// A rehearsal: steps whose action has side effects
    /// ([`Provider::has_side_effects`](crate::registry::Provider::has_side_effects))
    /// are not run but answered with `{"dry_run": true, "would_send": <resolved params>}`,
    /// without reading credentials; side-effect-free steps (GET requests, logic,
    /// LLM calls) run for real, so later steps see real data where it is safe.
    pub dry_run: bool,
    pub replay: Option<Replay>,
}

impl RunRequest {
    pub fn new(run_id: impl Into<String>, plan: Plan, trigger: Value) -> Self {
        Self {
            run_id: run_id.into(),
            plan,
            trigger,
            deadline: None,
            dry_run: false,
            replay: None,
        }
    }
}

/// Cut an output larger than [`MAX_OUTPUT_BYTES`] down to a string with a marker.
pub fn cap_output(output: Value) -> Value {
    cap(output, MAX_OUTPUT_BYTES)
}

/// Cut a value larger than `limit` bytes (as JSON) down to a string with a marker.
pub fn cap(output: Value, limit: usize) -> Value {
    let size = match &output {
        Value::String(s) => s.len(),
        Value::Null | Value::Bool(_) | Value::Number(_) => return output,
        other => serde_json::to_string(other).map(|s| s.len()).unwrap_or(0),
    };
    if size <= limit {
        return output;
    }
    let text = match output {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let mut cut = limit.saturating_sub(100).min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!("{}{TRUNCATED_MARKER}{size} bytes]", &text[..cut]))
}

/// The first [`PREVIEW_CHARS`] characters of an output, as text.
pub fn preview(output: &Value) -> String {
    // A string output is cut where it is, not copied whole first (it may be 10 MB).
    let owned;
    let text = match output {
        Value::String(s) => s.as_str(),
        other => {
            owned = references::to_text(other);
            owned.as_str()
        }
    };
    preview_text(text)
}

/// The first [`PREVIEW_CHARS`] characters of a text: the preview of an output
/// that is this string, or whose compact JSON is this text.
pub fn preview_text(text: &str) -> String {
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Milliseconds, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
