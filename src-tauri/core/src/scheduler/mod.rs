//! The background scheduler: fires cron plans on time, catches up on fires missed
//! while the app was closed or the machine slept, applies each plan's overlap
//! policy, and raises notices. Time comes from the facade's injected clock, and
//! [`Scheduler::tick`] is one deterministic pass, so every rule is tested with a
//! manual clock; [`Scheduler::run`] only loops over it.

use crate::api::{ApiError, Flowpilot, ResolvedPlan, RunSpec};
use crate::notices::{MissedBecause, Notice, NoticePolicy};
use crate::store::{MissReason, ScheduleState, StoreError};
use chrono::{DateTime, Utc};
use flowpilot_engine::Plan;
use flowpilot_engine::plan::{Overlap, PlanStatus, Trigger};
use flowpilot_engine::run::{RunEvent, RunObserver, RunOutcome, RunStatus};
use flowpilot_engine::schedule::catch_up;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest the loop sleeps before looking at the wall clock again. Timers run
/// on the monotonic clock, which stops while a laptop sleeps: short slices make a
/// machine that wakes up notice due and missed fires within seconds.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// A fire noticed up to this late still counts as on time, not as missed.
pub const ON_TIME_GRACE: chrono::Duration = chrono::Duration::seconds(90);

/// Where the scheduler reports to: the desktop app forwards these to the UI and
/// to desktop notifications.
pub trait SchedulerSink: Send + Sync {
    fn run_event(&self, event: &RunEvent);
    fn notice(&self, notice: Notice);
    fn schedule_changed(&self, plan_id: &str);
    /// A plan's trigger status changed (a check, an error, a new item, a new URL).
    fn trigger_changed(&self, _status: &crate::triggers::TriggerStatus) {}
    /// The webhook server started, stopped or could not start.
    fn webhook_server_changed(&self, _status: &crate::triggers::WebhookServerStatus) {}
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct NoSink;
impl SchedulerSink for NoSink {
    fn run_event(&self, _: &RunEvent) {}
    fn notice(&self, _: Notice) {}
    fn schedule_changed(&self, _: &str) {}
}

/// What one pass did; tests await `runs` to see them finish.
#[derive(Debug, Default)]
pub struct Tick {
    pub started: Vec<String>,
    pub missed: usize,
    pub skipped_overlap: usize,
    pub queued: usize,
    pub runs: Vec<JoinHandle<()>>,
}

/// A scheduled plan as the UI lists it (the seeds' "scheduled jobs").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduledJob {
    pub plan_id: String,
    pub plan_name: String,
    pub cron_expression: String,
    pub timezone: String,
    pub description: String,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_status: Option<RunStatus>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub active: bool,
    pub missed_total: u64,
}

struct Batch {
    fires: Vec<(DateTime<Utc>, &'static str)>,
}

pub struct Scheduler {
    app: Arc<Flowpilot>,
    sink: Arc<dyn SchedulerSink>,
    wake: Notify,
    paused: AtomicBool,
    /// `queue_one`: the fire waiting for the plan's current run to end.
    queued: Mutex<HashMap<String, DateTime<Utc>>>,
    /// How many scheduled runs may go at once (the `concurrency` setting), and
    /// the permits that enforce it.
    limit: Mutex<usize>,
    permits: Arc<Semaphore>,
    notices: Mutex<NoticePolicy>,
    /// Each active cron plan, checked once per stored version (its schedule parsed).
    plans: Mutex<HashMap<String, (u32, Arc<Plan>)>>,
    /// When this scheduler started: fires missed before it were missed because
    /// Flowpilot was not running, later ones because the machine slept.
    started_at: DateTime<Utc>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

struct ManualRun {
    scheduler: Arc<Scheduler>,
    plan_id: String,
}

impl RunObserver for ManualRun {
    fn on_event(&self, event: &RunEvent) {
        self.scheduler.sink.run_event(event);
        if let RunEvent::RunFinished { outcome, .. } = event {
            self.scheduler.notify_finished(&self.plan_id, outcome, None);
        }
    }
}

struct Forward(Arc<dyn SchedulerSink>);
impl RunObserver for Forward {
    fn on_event(&self, event: &RunEvent) {
        self.0.run_event(event);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scheduler {
    pub fn new(app: Arc<Flowpilot>, sink: Arc<dyn SchedulerSink>) -> Arc<Self> {
        let concurrency = app.settings().map(|s| s.concurrency).unwrap_or(4).max(1) as usize;
        let paused = app.all_schedules_paused().unwrap_or(false);
        Arc::new(Self {
            sink,
            wake: Notify::new(),
            paused: AtomicBool::new(paused),
            queued: Mutex::default(),
            limit: Mutex::new(concurrency),
            permits: Arc::new(Semaphore::new(concurrency)),
            notices: Mutex::default(),
            plans: Mutex::default(),
            started_at: app.clock().now(),
            app,
        })
    }

    pub fn app(&self) -> &Arc<Flowpilot> {
        &self.app
    }

    /// Look again now (a plan or schedule changed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Pause every schedule, across restarts too. Fires while paused are not
    /// backfilled on resume.
    pub fn pause_all(&self) {
        self.set_all_paused(true);
    }

    pub fn resume_all(&self) {
        self.set_all_paused(false);
    }

    fn set_all_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
        if let Err(e) = self.app.set_all_schedules_paused(paused) {
            tracing::error!(
                "cannot remember that schedules are {}: {e}",
                if paused { "paused" } else { "running" }
            );
        }
        self.wake();
    }

    /// How many scheduled runs may go at once.
    pub fn concurrency(&self) -> usize {
        *lock(&self.limit)
    }

    /// Let `n` scheduled runs go at once from now on (at least 1). Runs in
    /// progress keep going; when the limit shrinks below what is running, new runs
    /// wait until enough of them end. Call it on the async runtime.
    pub fn set_concurrency(&self, n: u32) {
        if let Some(shrink) = self.resize(n) {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(shrink);
                }
                Err(_) => tracing::warn!("concurrency lowered outside the runtime: takes effect at the next start"),
            }
        }
    }

    /// Change the limit; the part of a shrink that must wait for running runs
    /// to end comes back as a future that takes those permits out of use.
    fn resize(&self, n: u32) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
        let n = n.max(1) as usize;
        let mut limit = lock(&self.limit);
        let before = std::mem::replace(&mut *limit, n);
        if n >= before {
            self.permits.add_permits(n - before);
            return None;
        }
        let owed = (before - n) - self.permits.forget_permits(before - n);
        let permits = self.permits.clone();
        let owed = u32::try_from(owed).ok().filter(|o| *o > 0)?;
        tracing::info!(
            limit = n,
            waiting_for = owed,
            "concurrency lowered; waiting for running runs to end"
        );
        Some(async move {
            if let Ok(taken) = permits.acquire_many_owned(owed).await {
                taken.forget();
            }
        })
    }

    /// Run a stored plan now, outside its schedule. Its progress reaches the sink
    /// and its end raises the same notices as a scheduled run (a failure, a
    /// recovery), without counting toward the schedule's failure streak.
    pub fn start_manual_run(self: &Arc<Self>, plan_id: &str) -> Result<String, ApiError> {
        let observer = Arc::new(ManualRun {
            scheduler: self.clone(),
            plan_id: plan_id.to_string(),
        });
        self.app.start_run(plan_id, observer)
    }

    /// Replay a run from a step (see [`Flowpilot::prepare_replay`]) in the
    /// background, with the same notices as a manual run; the new run's id.
    pub fn start_replay(self: &Arc<Self>, run_id: &str, from_step: Option<usize>) -> Result<String, ApiError> {
        let prepared = self.app.prepare_replay(run_id, from_step, false)?;
        let observer = Arc::new(ManualRun {
            scheduler: self.clone(),
            plan_id: prepared.spec.target.plan_id.clone().unwrap_or_default(),
        });
        Ok(self.app.spawn(prepared, observer))
    }

    /// Loop until cancelled: a pass, then sleep until the next fire, at most [`MAX_SLEEP`].
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let wait = match self.tick() {
                Ok(_) => self.until_next_fire(),
                Err(e) => {
                    tracing::error!("scheduler pass failed: {e}");
                    MAX_SLEEP
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = cancel.cancelled() => break,
            }
        }
    }

    fn until_next_fire(&self) -> Duration {
        let now = self.app.clock().now();
        let next = self
            .app
            .schedule_states()
            .ok()
            .and_then(|states| states.iter().filter(|s| !s.paused).filter_map(|s| s.next_run_at).min());
        match next {
            Some(at) if at > now => (at - now).to_std().unwrap_or(MAX_SLEEP).min(MAX_SLEEP),
            Some(_) => Duration::from_millis(200),
            None => MAX_SLEEP,
        }
    }

    /// One pass over every active cron plan at the clock's current time.
    pub fn tick(self: &Arc<Self>) -> Result<Tick, ApiError> {
        let now = self.app.clock().now();
        let settings = self.app.settings()?;
        let window = chrono::Duration::hours(i64::from(settings.catch_up_window_hours.max(1)));
        let mut tick = Tick::default();
        for summary in self.app.list_plans()? {
            let Trigger::Cron(cron) = &summary.trigger else {
                continue;
            };
            if summary.status != PlanStatus::Active {
                continue;
            }
            let Some(plan) = self.checked(&summary.id, summary.version) else {
                continue;
            };
            let Some(schedule) = plan.schedule() else { continue };
            let tz = schedule.timezone().name().to_string();
            let stored = self.app.schedule_state(&summary.id)?;
            let mut state = match stored {
                Some(s) if s.expression == cron.cron_expression && s.timezone == tz => s,
                // New, or the trigger changed: start from now, no backfill.
                other => ScheduleState {
                    paused: other.as_ref().is_some_and(|s| s.paused),
                    missed_total: other.as_ref().map_or(0, |s| s.missed_total),
                    ..ScheduleState::starting_at(&summary.id, &cron.cron_expression, &tz, now)
                },
            };
            let last = state.last_fired_for.unwrap_or(now);
            if state.paused || self.is_paused() {
                // Paused: time passes without fires, so resuming never backfills.
                state.last_fired_for = Some(now.max(last));
            } else {
                if let Some(latest) = schedule.latest_at_or_before(now).filter(|t| *t > last) {
                    let (batch, missed) = if now - latest <= ON_TIME_GRACE {
                        // On time; anything before it was missed.
                        let before = latest - chrono::Duration::nanoseconds(1);
                        let decision = catch_up(schedule, cron.catch_up, last, before, window);
                        let mut fires: Vec<_> = decision.run.iter().map(|t| (*t, "catch_up")).collect();
                        fires.push((latest, "cron"));
                        (fires, decision.missed)
                    } else {
                        let decision = catch_up(schedule, cron.catch_up, last, now, window);
                        (decision.run.iter().map(|t| (*t, "catch_up")).collect(), decision.missed)
                    };
                    if missed > 0 {
                        self.app
                            .record_missed_fires(&summary.id, latest, MissReason::Missed, missed as u64)?;
                        state.missed_total += missed as u64;
                        tick.missed += missed;
                    }
                    let caught_up = batch.iter().filter(|(_, k)| *k == "catch_up").count();
                    if (caught_up > 0 || missed > 0)
                        && settings.notifications
                        && let Some(n) = NoticePolicy::catch_up_summary(
                            &summary.id,
                            &summary.name,
                            caught_up,
                            missed,
                            if last < self.started_at {
                                MissedBecause::NotRunning
                            } else {
                                MissedBecause::Asleep
                            },
                        )
                    {
                        self.sink.notice(n);
                    }
                    self.dispatch(&summary.id, &plan, cron.overlap, Batch { fires: batch }, &mut tick)?;
                    state.last_fired_for = Some(latest);
                }
            }
            state.next_run_at = schedule.next_after(now);
            state.updated_at = now;
            // Re-read what a finished run may have changed meanwhile (failure streak, pause).
            if let Some(fresh) = self.app.schedule_state(&summary.id)? {
                state.consecutive_failures = fresh.consecutive_failures;
                state.paused = state.paused || fresh.paused;
                state.missed_total = state.missed_total.max(fresh.missed_total);
            }
            self.app.save_schedule_state(&state)?;
        }
        Ok(tick)
    }

    /// The stored plan, checked once per version; `None` (logged) when it no
    /// longer validates.
    fn checked(&self, plan_id: &str, version: u32) -> Option<Arc<Plan>> {
        if let Some((v, plan)) = lock(&self.plans).get(plan_id)
            && *v == version
        {
            return Some(plan.clone());
        }
        match self.app.resolve_stored(plan_id) {
            Ok(resolved) => {
                let plan = Arc::new(resolved.plan);
                let version = resolved.version.unwrap_or(version);
                lock(&self.plans).insert(plan_id.to_string(), (version, plan.clone()));
                Some(plan)
            }
            Err(e) => {
                tracing::warn!(plan = plan_id, "stored plan cannot be scheduled: {e}");
                None
            }
        }
    }

    /// Start a batch of fires for a plan, unless its overlap policy says otherwise.
    fn dispatch(
        self: &Arc<Self>,
        plan_id: &str,
        plan: &Arc<Plan>,
        overlap: Overlap,
        batch: Batch,
        tick: &mut Tick,
    ) -> Result<(), ApiError> {
        let Some(&(newest, _)) = batch.fires.last() else {
            return Ok(());
        };
        if self.app.running_count(plan_id) > 0 {
            match overlap {
                Overlap::Skip => {
                    let n = batch.fires.len() as u64;
                    self.app.record_missed_fires(plan_id, newest, MissReason::Overlap, n)?;
                    tick.skipped_overlap += batch.fires.len();
                    return Ok(());
                }
                Overlap::QueueOne => {
                    // Only the newest fire waits; an older waiting fire is replaced.
                    let replaced = lock(&self.queued).insert(plan_id.to_string(), newest);
                    let dropped = batch.fires.len() - 1 + usize::from(replaced.is_some());
                    if dropped > 0 {
                        self.app
                            .record_missed_fires(plan_id, newest, MissReason::Overlap, dropped as u64)?;
                        tick.skipped_overlap += dropped;
                    }
                    tick.queued += 1;
                    return Ok(());
                }
                Overlap::Allow => {}
            }
        }
        self.start(plan_id, plan, batch, tick)
    }

    /// Record the runs (a fire that already has a run is dropped: no double runs)
    /// and run them one after another in the background.
    fn start(self: &Arc<Self>, plan_id: &str, plan: &Arc<Plan>, batch: Batch, tick: &mut Tick) -> Result<(), ApiError> {
        let version = lock(&self.plans).get(plan_id).map(|(v, _)| *v);
        let mut prepared = Vec::new();
        for (fire, kind) in batch.fires {
            let spec = RunSpec {
                scheduled_for: Some(fire),
                ..RunSpec::new(
                    ResolvedPlan {
                        plan_id: Some(plan_id.to_string()),
                        version,
                        plan: plan.as_ref().clone(),
                    },
                    kind,
                )
            };
            match self.app.prepare_run(spec) {
                Ok(p) => {
                    tick.started.push(p.run_id.clone());
                    prepared.push(p);
                }
                Err(ApiError::Store(StoreError::DuplicateFire { .. })) => {
                    tracing::info!(plan = plan_id, %fire, "fire already has a run; not running it twice");
                }
                Err(e) => return Err(e),
            }
        }
        if prepared.is_empty() {
            return Ok(());
        }
        let me = self.clone();
        let plan_id = plan_id.to_string();
        tick.runs.push(tokio::spawn(async move {
            // Bounded across all plans; waiting here keeps the fire's row `running`.
            let _permit = me.permits.clone().acquire_owned().await;
            for run in prepared {
                let observer: Arc<dyn RunObserver> = Arc::new(Forward(me.sink.clone()));
                match me.app.execute(run, observer, None, CancellationToken::new()).await {
                    Ok(outcome) => me.finished(&plan_id, &outcome),
                    Err(e) => tracing::error!(plan = %plan_id, "scheduled run could not be recorded: {e}"),
                }
            }
            drop(_permit);
            me.start_queued(&plan_id);
        }));
        Ok(())
    }

    fn start_queued(self: &Arc<Self>, plan_id: &str) {
        let Some(fire) = lock(&self.queued).remove(plan_id) else {
            return;
        };
        let mut tick = Tick::default();
        let plan = lock(&self.plans).get(plan_id).map(|(_, p)| p.clone());
        let Some(plan) = plan else { return };
        if let Err(e) = self.start(
            plan_id,
            &plan,
            Batch {
                fires: vec![(fire, "cron")],
            },
            &mut tick,
        ) {
            tracing::error!(plan = plan_id, "queued run could not start: {e}");
        }
        // The queued run's task is detached; its progress reaches the sink.
    }

    /// After a scheduled run: failure streaks, auto-pause, notices.
    fn finished(&self, plan_id: &str, outcome: &RunOutcome) {
        let now = self.app.clock().now();
        let settings = self.app.settings().unwrap_or_default();
        let mut auto_paused = None;
        if let Ok(Some(mut state)) = self.app.schedule_state(plan_id) {
            match outcome.status {
                RunStatus::Success => state.consecutive_failures = 0,
                RunStatus::Failed | RunStatus::Interrupted => state.consecutive_failures += 1,
                RunStatus::Cancelled | RunStatus::Running => {}
            }
            if settings.auto_pause_after > 0 && state.consecutive_failures >= settings.auto_pause_after && !state.paused
            {
                state.paused = true;
                auto_paused = Some(state.consecutive_failures);
            }
            state.updated_at = now;
            if let Err(e) = self.app.save_schedule_state(&state) {
                tracing::error!("cannot save schedule state: {e}");
            }
        }
        self.notify_finished(plan_id, outcome, auto_paused);
        if auto_paused.is_some() {
            self.sink.schedule_changed(plan_id);
        }
    }

    /// A permit to start a run within the global concurrency limit (scheduled
    /// and event runs share it); `None` only if the limit was closed.
    pub(crate) async fn run_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    pub(crate) fn sink(&self) -> &Arc<dyn SchedulerSink> {
        &self.sink
    }

    /// Tell a notice about a plan's trigger (failing, recovered) through the
    /// same throttled policy as runs' notices.
    pub(crate) fn notify_trigger_checked(&self, plan_id: &str, plan_name: &str, failures: u32, error: Option<&str>) {
        if !self.app.settings().map(|s| s.notifications).unwrap_or(true) {
            return;
        }
        let now = self.app.clock().now();
        let notice = lock(&self.notices).on_trigger_checked(plan_id, plan_name, failures, error, now);
        if let Some(n) = notice {
            self.sink.notice(n);
        }
    }

    /// The notices for a finished run (scheduled, manual or started by an event).
    pub(crate) fn notify_finished(&self, plan_id: &str, outcome: &RunOutcome, auto_paused: Option<u32>) {
        let settings = self.app.settings().unwrap_or_default();
        if !settings.notifications {
            return;
        }
        let now = self.app.clock().now();
        let notify_success = settings.notify_success_plans.iter().any(|p| p == plan_id);
        if let Some(n) = lock(&self.notices).on_run_finished(plan_id, outcome, notify_success, now) {
            self.sink.notice(n);
        }
        if let Some(failures) = auto_paused {
            self.sink
                .notice(NoticePolicy::auto_paused(plan_id, &outcome.plan_name, failures));
        }
    }

    /// Pause or resume one plan's schedule. Resuming never backfills.
    pub fn set_plan_paused(&self, plan_id: &str, paused: bool) -> Result<(), ApiError> {
        self.app.set_schedule_paused(plan_id, paused)?;
        self.sink.schedule_changed(plan_id);
        self.wake();
        Ok(())
    }

    /// Every cron plan with its next run and last result.
    pub fn jobs(&self) -> Result<Vec<ScheduledJob>, ApiError> {
        self.app.scheduled_jobs()
    }
}

#[cfg(test)]
mod tests;
