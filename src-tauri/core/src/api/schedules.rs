//! Schedules and settings: a plan's cron trigger, previews in words, pausing,
//! the scheduled-jobs list, and what the scheduler keeps between passes (each
//! plan's schedule state, missed fires, "pause all").

use super::{ApiError, Flowpilot, Result};
use crate::scheduler::ScheduledJob;
use crate::settings::Settings;
use crate::store::{MissReason, PlanRow, ScheduleState};
use chrono::{DateTime, Utc};
use flowpilot_engine::Plan;
use flowpilot_engine::plan::{CronTrigger, PlanError, PlanStatus, Trigger};
use flowpilot_engine::schedule::{Schedule, system_timezone};
use serde::{Deserialize, Serialize};

/// A cron expression in words and its next fire times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SchedulePreview {
    pub description: String,
    pub timezone: String,
    pub next: Vec<DateTime<Utc>>,
    /// Valid but worth saying (`0 0 30 2 *` never fires).
    pub warnings: Vec<flowpilot_engine::PlanIssue>,
}

/// Where "pause all" is remembered in the settings table.
const PAUSED_KEY: &str = "scheduler.paused";
/// Where it is remembered that the person was told closing the window leaves Flowpilot running.
const CLOSE_EXPLAINED_KEY: &str = "window.close_explained";

impl Flowpilot {
    pub fn settings(&self) -> Result<Settings> {
        Ok(match self.store.get_setting(crate::settings::SETTINGS_KEY)? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => Settings::default(),
        })
    }

    pub fn set_settings(&self, settings: &Settings) -> Result<()> {
        if let Some((field, message)) = settings.problems().into_iter().next() {
            return Err(ApiError::BadInput(format!("{field}: {message}")));
        }
        let value = serde_json::to_value(settings).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(self.store.set_setting(crate::settings::SETTINGS_KEY, &value)?)
    }

    /// True the first time it is asked (the window was closed and Flowpilot keeps
    /// running: time to say so, once), false ever after, across restarts.
    pub fn first_window_close(&self) -> Result<bool> {
        if matches!(
            self.store.get_setting(CLOSE_EXPLAINED_KEY)?,
            Some(serde_json::Value::Bool(true))
        ) {
            return Ok(false);
        }
        self.store
            .set_setting(CLOSE_EXPLAINED_KEY, &serde_json::Value::Bool(true))?;
        Ok(true)
    }

    /// Whether every schedule is paused ("pause all", kept across restarts).
    pub fn all_schedules_paused(&self) -> Result<bool> {
        Ok(matches!(
            self.store.get_setting(PAUSED_KEY)?,
            Some(serde_json::Value::Bool(true))
        ))
    }

    pub fn set_all_schedules_paused(&self, paused: bool) -> Result<()> {
        Ok(self.store.set_setting(PAUSED_KEY, &serde_json::Value::Bool(paused))?)
    }

    /// Set or clear a plan's cron trigger (a new plan version). `None` makes it manual.
    pub fn set_schedule(&self, plan_id: &str, trigger: Option<CronTrigger>) -> Result<PlanRow> {
        let mut file = self.store.get_plan(plan_id)?.plan;
        file.trigger = match trigger {
            Some(t) => Trigger::Cron(t),
            None => Trigger::Manual,
        };
        let plan = Plan::from_file(file, &self.registry())?;
        self.store_version(plan_id, plan.file())
    }

    /// A plan was turned on: its schedule starts from now, as after a pause, so
    /// fires that came while it was off are not caught up.
    pub(crate) fn schedule_from_now(&self, plan_id: &str) -> Result<()> {
        let Some(mut state) = self.store.schedule_state(plan_id)? else {
            return Ok(()); // never scheduled: the scheduler starts it from now anyway
        };
        let now = self.clock.now();
        state.last_fired_for = Some(now);
        state.consecutive_failures = 0;
        state.updated_at = now;
        Ok(self.store.save_schedule_state(&state)?)
    }

    /// A cron expression in words and its next fire times; a bad expression or zone
    /// is a located plan error.
    pub fn preview_schedule(
        &self,
        cron_expression: &str,
        timezone: Option<&str>,
        count: usize,
    ) -> Result<SchedulePreview> {
        let trigger = CronTrigger {
            cron_expression: cron_expression.to_string(),
            timezone: timezone.map(str::to_string),
            catch_up: Default::default(),
            overlap: Default::default(),
        };
        let schedule = Schedule::new(&trigger, system_timezone())
            .map_err(|e| PlanError::Invalid(vec![e.into_issue("trigger")]))?;
        Ok(SchedulePreview {
            description: schedule.describe(),
            timezone: schedule.timezone().name().to_string(),
            next: schedule.upcoming(self.clock.now(), count.clamp(1, 50)),
            warnings: schedule.warnings("trigger"),
        })
    }

    /// Pause or resume a plan's schedule. Resuming starts from now: no backfill.
    pub fn set_schedule_paused(&self, plan_id: &str, paused: bool) -> Result<()> {
        let row = self.store.get_plan(plan_id)?;
        let Trigger::Cron(cron) = &row.plan.trigger else {
            return Err(ApiError::BadInput(format!("plan `{}` has no schedule", row.plan.name)));
        };
        let now = self.clock.now();
        let schedule =
            Schedule::new(cron, system_timezone()).map_err(|e| PlanError::Invalid(vec![e.into_issue("trigger")]))?;
        let mut state = self.store.schedule_state(plan_id)?.unwrap_or_else(|| ScheduleState {
            paused,
            ..ScheduleState::starting_at(plan_id, &cron.cron_expression, schedule.timezone().name(), now)
        });
        if state.paused && !paused {
            state.last_fired_for = Some(now);
            state.consecutive_failures = 0;
        }
        state.paused = paused;
        state.next_run_at = schedule.next_after(now);
        state.updated_at = now;
        Ok(self.store.save_schedule_state(&state)?)
    }

    /// Every cron plan with its next run and last result (the seeds' "scheduled jobs").
    pub fn scheduled_jobs(&self) -> Result<Vec<ScheduledJob>> {
        let now = self.clock.now();
        let mut jobs = Vec::new();
        for summary in self.list_plans()? {
            let Trigger::Cron(cron) = &summary.trigger else {
                continue;
            };
            let Ok(schedule) = Schedule::new(cron, system_timezone()) else {
                continue;
            };
            let state = self.store.schedule_state(&summary.id)?;
            let paused = state.as_ref().is_some_and(|s| s.paused);
            let active = summary.status == PlanStatus::Active;
            jobs.push(ScheduledJob {
                plan_id: summary.id.clone(),
                plan_name: summary.name.clone(),
                cron_expression: cron.cron_expression.clone(),
                timezone: schedule.timezone().name().to_string(),
                description: schedule.describe(),
                next_run_at: if active && !paused {
                    schedule.next_after(now)
                } else {
                    None
                },
                last_run_status: summary.last_run_status,
                last_run_at: summary.last_run_at,
                paused,
                active,
                missed_total: state.map_or(0, |s| s.missed_total),
            });
        }
        Ok(jobs)
    }

    // ---- what the scheduler keeps between passes ----

    pub(crate) fn schedule_state(&self, plan_id: &str) -> Result<Option<ScheduleState>> {
        Ok(self.store.schedule_state(plan_id)?)
    }

    pub(crate) fn schedule_states(&self) -> Result<Vec<ScheduleState>> {
        Ok(self.store.schedule_states()?)
    }

    pub(crate) fn save_schedule_state(&self, state: &ScheduleState) -> Result<()> {
        Ok(self.store.save_schedule_state(state)?)
    }

    pub(crate) fn record_missed_fires(
        &self,
        plan_id: &str,
        scheduled_for: DateTime<Utc>,
        reason: MissReason,
        count: u64,
    ) -> Result<()> {
        Ok(self
            .store
            .record_missed_fires(plan_id, scheduled_for, reason, count, self.clock.now())?)
    }

    #[cfg(test)]
    pub(crate) fn missed_fires(&self, plan_id: &str, limit: u32) -> Result<Vec<crate::store::MissedFire>> {
        Ok(self.store.missed_fires(plan_id, limit)?)
    }
}
