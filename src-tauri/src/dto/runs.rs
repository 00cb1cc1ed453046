//! Runs, their step logs, and the monitoring figures.

use chrono::{DateTime, Utc};
use flowpilot_core::api::Stats as DomainStats;
use flowpilot_core::store::{
    Page as DomainPage, ProviderStats as DomainProviderStats, RunCounts as DomainRunCounts,
    RunFilter as DomainRunFilter, RunRow, SlowStep as DomainSlowStep,
};
use flowpilot_engine::executor::{
    RunStatus as DomainRunStatus, StepRecord as DomainStepRecord, StepStatus as DomainStepStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Failed,
    Cancelled,
    /// Left running by a crash or a forced quit.
    Interrupted,
}

impl From<DomainRunStatus> for RunStatus {
    fn from(s: DomainRunStatus) -> Self {
        match s {
            DomainRunStatus::Running => Self::Running,
            DomainRunStatus::Success => Self::Success,
            DomainRunStatus::Failed => Self::Failed,
            DomainRunStatus::Cancelled => Self::Cancelled,
            DomainRunStatus::Interrupted => Self::Interrupted,
        }
    }
}

impl From<RunStatus> for DomainRunStatus {
    fn from(s: RunStatus) -> Self {
        match s {
            RunStatus::Running => Self::Running,
            RunStatus::Success => Self::Success,
            RunStatus::Failed => Self::Failed,
            RunStatus::Cancelled => Self::Cancelled,
            RunStatus::Interrupted => Self::Interrupted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Success,
    Error,
    /// An attempt failed and the step will be tried again.
    Retrying,
    Timeout,
    Skipped,
}

impl From<DomainStepStatus> for StepStatus {
    fn from(s: DomainStepStatus) -> Self {
        match s {
            DomainStepStatus::Success => Self::Success,
            DomainStepStatus::Error => Self::Error,
            DomainStepStatus::Retrying => Self::Retrying,
            DomainStepStatus::Timeout => Self::Timeout,
            DomainStepStatus::Skipped => Self::Skipped,
        }
    }
}

/// A run as the run list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: String,
    /// None if the run was not of a stored plan, or the plan was deleted.
    pub plan_id: Option<String>,
    pub plan_name: String,
    /// What started it: `manual`, `cli`, `cron`, `catch_up`...
    pub trigger_kind: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl From<RunRow> for Run {
    fn from(r: RunRow) -> Self {
        Self {
            id: r.id,
            plan_id: r.plan_id,
            plan_name: r.plan_name,
            trigger_kind: r.trigger_kind,
            scheduled_for: r.scheduled_for,
            status: r.status.into(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        }
    }
}

/// One step log row, already redacted (credential values are `***`) and capped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub run_id: String,
    /// 0 for the first step.
    pub step_number: usize,
    pub step_id: Option<String>,
    pub provider: String,
    pub action: String,
    pub status: StepStatus,
    pub attempt: u32,
    pub message: String,
    pub latency_ms: u64,
    pub output_preview: String,
    pub output: Value,
    pub metadata: Value,
    /// A short code (`HTTP_404`, `TIMEOUT`...) for a failed step.
    pub error: Option<String>,
    pub timestamp: DateTime<Utc>,
}

impl From<DomainStepRecord> for StepRecord {
    fn from(s: DomainStepRecord) -> Self {
        Self {
            run_id: s.run_id,
            step_number: s.step_number,
            step_id: s.step_id,
            provider: s.provider,
            action: s.action,
            status: s.status.into(),
            attempt: s.attempt,
            message: s.message,
            latency_ms: s.latency_ms,
            output_preview: s.output_preview,
            output: s.output,
            metadata: Value::Object(s.metadata),
            error: s.error,
            timestamp: s.timestamp,
        }
    }
}

/// A run with its step logs, retry rows included, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    pub run: Run,
    pub steps: Vec<StepRecord>,
}

impl From<(RunRow, Vec<DomainStepRecord>)> for RunDetail {
    fn from((run, steps): (RunRow, Vec<DomainStepRecord>)) -> Self {
        Self {
            run: run.into(),
            steps: steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// Which runs to list; every field set narrows the list. Times apply to the start:
/// `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunFilter {
    pub plan_id: Option<String>,
    pub status: Option<RunStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl From<RunFilter> for DomainRunFilter {
    fn from(f: RunFilter) -> Self {
        Self {
            plan_id: f.plan_id,
            status: f.status.map(Into::into),
            since: f.since,
            until: f.until,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl From<Page> for DomainPage {
    fn from(p: Page) -> Self {
        Self {
            limit: p.limit.clamp(1, 500),
            offset: p.offset,
        }
    }
}

/// A page of runs, and how many match the filter in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunPage {
    pub runs: Vec<Run>,
    pub total: u64,
}

impl From<(Vec<RunRow>, u64)> for RunPage {
    fn from((runs, total): (Vec<RunRow>, u64)) -> Self {
        Self {
            runs: runs.into_iter().map(Into::into).collect(),
            total,
        }
    }
}

/// The result of a step that ran before the one being tested: its `output` (and
/// optionally `message`, `metadata`), or a bare output value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PreviousStep {
    /// The step's `id`, for references like `${steps.draft.output}`.
    pub id: Option<String>,
    pub result: Value,
}

/// Runs by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunCounts {
    pub total: u64,
    pub running: u64,
    pub success: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub interrupted: u64,
}

impl From<DomainRunCounts> for RunCounts {
    fn from(c: DomainRunCounts) -> Self {
        Self {
            total: c.total,
            running: c.running,
            success: c.success,
            failed: c.failed,
            cancelled: c.cancelled,
            interrupted: c.interrupted,
        }
    }
}

/// How one provider's steps went (final step rows only, not retry attempts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStats {
    pub provider: String,
    pub total: u64,
    pub successes: u64,
    /// From 0.0 to 1.0.
    pub success_rate: f64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: u64,
}

impl From<DomainProviderStats> for ProviderStats {
    fn from(p: DomainProviderStats) -> Self {
        Self {
            provider: p.provider,
            total: p.total,
            successes: p.successes,
            success_rate: p.success_rate,
            avg_latency_ms: p.avg_latency_ms,
            max_latency_ms: p.max_latency_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SlowStep {
    pub run_id: String,
    pub plan_name: String,
    pub step_number: usize,
    pub provider: String,
    pub action: String,
    pub latency_ms: u64,
}

impl From<DomainSlowStep> for SlowStep {
    fn from(s: DomainSlowStep) -> Self {
        Self {
            run_id: s.run_id,
            plan_name: s.plan_name,
            step_number: s.step_number,
            provider: s.provider,
            action: s.action,
            latency_ms: s.latency_ms,
        }
    }
}

/// The monitoring figures of a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub since: DateTime<Utc>,
    /// Runs started in the window, by status.
    pub runs: RunCounts,
    pub providers: Vec<ProviderStats>,
    pub slowest_steps: Vec<SlowStep>,
}

impl From<DomainStats> for Stats {
    fn from(s: DomainStats) -> Self {
        Self {
            since: s.since,
            runs: s.runs.into(),
            providers: s.providers.into_iter().map(Into::into).collect(),
            slowest_steps: s.slowest_steps.into_iter().map(Into::into).collect(),
        }
    }
}
