//! Triggers and schedules.

use chrono::{DateTime, Utc};
use flowpilot_core::api::SchedulePreview as DomainSchedulePreview;
use flowpilot_core::scheduler::ScheduledJob;
use flowpilot_engine::plan::{
    CatchUp as DomainCatchUp, CronTrigger as DomainCronTrigger, Overlap as DomainOverlap, Trigger as DomainTrigger,
};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::RunStatus;

/// What to do about fires missed while the app was closed or the machine slept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Record how many were missed; run none.
    Skip,
    /// One run for the latest missed fire (the default).
    RunOnce,
    /// A run for each missed fire in the catch-up window, at most 10.
    RunAll,
}

/// What to do when a fire comes while the previous run still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Drop the fire and record it (the default).
    Skip,
    /// Run the newest waiting fire once the current run ends.
    QueueOne,
    /// Run at once, within the global concurrency limit.
    Allow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CronTrigger {
    /// 5 fields, or 6 with seconds first.
    pub cron_expression: String,
    /// An IANA zone (`Europe/Berlin`); None: the system's.
    pub timezone: Option<String>,
    pub catch_up: CatchUp,
    pub overlap: Overlap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    Manual,
    Cron(CronTrigger),
}

impl From<DomainCatchUp> for CatchUp {
    fn from(c: DomainCatchUp) -> Self {
        match c {
            DomainCatchUp::Skip => Self::Skip,
            DomainCatchUp::RunOnce => Self::RunOnce,
            DomainCatchUp::RunAll => Self::RunAll,
        }
    }
}

impl From<CatchUp> for DomainCatchUp {
    fn from(c: CatchUp) -> Self {
        match c {
            CatchUp::Skip => Self::Skip,
            CatchUp::RunOnce => Self::RunOnce,
            CatchUp::RunAll => Self::RunAll,
        }
    }
}

impl From<DomainOverlap> for Overlap {
    fn from(o: DomainOverlap) -> Self {
        match o {
            DomainOverlap::Skip => Self::Skip,
            DomainOverlap::QueueOne => Self::QueueOne,
            DomainOverlap::Allow => Self::Allow,
        }
    }
}

impl From<Overlap> for DomainOverlap {
    fn from(o: Overlap) -> Self {
        match o {
            Overlap::Skip => Self::Skip,
            Overlap::QueueOne => Self::QueueOne,
            Overlap::Allow => Self::Allow,
        }
    }
}

impl From<DomainCronTrigger> for CronTrigger {
    fn from(t: DomainCronTrigger) -> Self {
        Self {
            cron_expression: t.cron_expression,
            timezone: t.timezone,
            catch_up: t.catch_up.into(),
            overlap: t.overlap.into(),
        }
    }
}

impl From<CronTrigger> for DomainCronTrigger {
    fn from(t: CronTrigger) -> Self {
        Self {
            cron_expression: t.cron_expression,
            timezone: t.timezone.filter(|z| !z.trim().is_empty()),
            catch_up: t.catch_up.into(),
            overlap: t.overlap.into(),
        }
    }
}

impl From<DomainTrigger> for Trigger {
    fn from(t: DomainTrigger) -> Self {
        match t {
            DomainTrigger::Manual => Self::Manual,
            DomainTrigger::Cron(c) => Self::Cron(c.into()),
        }
    }
}

/// A scheduled plan (the seeds' "scheduled jobs").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub plan_id: String,
    pub plan_name: String,
    pub cron_expression: String,
    pub timezone: String,
    /// The expression in words.
    pub description: String,
    /// None while the plan is paused or not active.
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_status: Option<RunStatus>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub paused: bool,
    /// Whether the plan is `active` (only active plans are scheduled).
    pub active: bool,
    /// Fires that did not run (missed while closed or asleep, or skipped for overlap).
    pub missed_total: u64,
}

impl From<ScheduledJob> for Schedule {
    fn from(j: ScheduledJob) -> Self {
        Self {
            plan_id: j.plan_id,
            plan_name: j.plan_name,
            cron_expression: j.cron_expression,
            timezone: j.timezone,
            description: j.description,
            next_run_at: j.next_run_at,
            last_run_status: j.last_run_status.map(Into::into),
            last_run_at: j.last_run_at,
            paused: j.paused,
            active: j.active,
            missed_total: j.missed_total,
        }
    }
}

/// A cron expression in words and its next fire times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePreview {
    pub description: String,
    pub timezone: String,
    pub next: Vec<DateTime<Utc>>,
}

impl From<DomainSchedulePreview> for SchedulePreview {
    fn from(p: DomainSchedulePreview) -> Self {
        Self {
            description: p.description,
            timezone: p.timezone,
            next: p.next,
        }
    }
}
