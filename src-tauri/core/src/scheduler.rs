//! The background scheduler: fires cron plans on time, catches up on fires missed
//! while the app was closed or the machine slept, applies each plan's overlap
//! policy, and raises notices. Time comes from the facade's injected clock, and
//! [`Scheduler::tick`] is one deterministic pass, so every rule is tested with a
//! manual clock; [`Scheduler::run`] only loops over it.

use crate::api::{ApiError, Flowpilot, ResolvedPlan, RunSpec};
use crate::notices::{Notice, NoticePolicy};
use crate::settings::Settings;
use crate::store::{MissReason, ScheduleState, StoreError};
use chrono::{DateTime, Utc};
use flowpilot_engine::Plan;
use flowpilot_engine::executor::{RunEvent, RunObserver, RunOutcome, RunStatus};
use flowpilot_engine::plan::{Overlap, PlanStatus, Trigger};
use flowpilot_engine::schedule::{Schedule, catch_up, system_timezone};
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("paused", &self.paused)
            .finish_non_exhaustive()
    }
}

/// Where "pause all" is remembered in the settings table.
const PAUSED_KEY: &str = "scheduler.paused";

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
        let paused = matches!(
            app.store().get_setting(PAUSED_KEY),
            Ok(Some(serde_json::Value::Bool(true)))
        );
        Arc::new(Self {
            app,
            sink,
            wake: Notify::new(),
            paused: AtomicBool::new(paused),
            queued: Mutex::default(),
            limit: Mutex::new(concurrency),
            permits: Arc::new(Semaphore::new(concurrency)),
            notices: Mutex::default(),
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
        if let Err(e) = self
            .app
            .store()
            .set_setting(PAUSED_KEY, &serde_json::Value::Bool(paused))
        {
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
            .store()
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
            let schedule = match Schedule::new(cron, system_timezone()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(plan = %summary.id, "unschedulable plan: {e}");
                    continue;
                }
            };
            let tz = schedule.timezone().name().to_string();
            let stored = self.app.store().schedule_state(&summary.id)?;
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
                        let decision = catch_up(&schedule, cron.catch_up, last, before, window);
                        let mut fires: Vec<_> = decision.run.iter().map(|t| (*t, "catch_up")).collect();
                        fires.push((latest, "cron"));
                        (fires, decision.missed)
                    } else {
                        let decision = catch_up(&schedule, cron.catch_up, last, now, window);
                        (decision.run.iter().map(|t| (*t, "catch_up")).collect(), decision.missed)
                    };
                    if missed > 0 {
                        self.app.store().record_missed_fires(
                            &summary.id,
                            latest,
                            MissReason::Missed,
                            missed as u64,
                            now,
                        )?;
                        state.missed_total += missed as u64;
                        tick.missed += missed;
                    }
                    let caught_up = batch.iter().filter(|(_, k)| *k == "catch_up").count();
                    if (caught_up > 0 || missed > 0)
                        && settings.notifications
                        && let Some(n) = NoticePolicy::catch_up_summary(&summary.id, &summary.name, caught_up, missed)
                    {
                        self.sink.notice(n);
                    }
                    self.dispatch(&summary.id, cron.overlap, Batch { fires: batch }, now, &mut tick)?;
                    state.last_fired_for = Some(latest);
                }
            }
            state.next_run_at = schedule.next_after(now);
            state.updated_at = now;
            // Re-read what a finished run may have changed meanwhile (failure streak, pause).
            if let Some(fresh) = self.app.store().schedule_state(&summary.id)? {
                state.consecutive_failures = fresh.consecutive_failures;
                state.paused = state.paused || fresh.paused;
                state.missed_total = state.missed_total.max(fresh.missed_total);
            }
            self.app.store().save_schedule_state(&state)?;
        }
        Ok(tick)
    }

    /// Start a batch of fires for a plan, unless its overlap policy says otherwise.
    fn dispatch(
        self: &Arc<Self>,
        plan_id: &str,
        overlap: Overlap,
        batch: Batch,
        now: DateTime<Utc>,
        tick: &mut Tick,
    ) -> Result<(), ApiError> {
        let Some(&(newest, _)) = batch.fires.last() else {
            return Ok(());
        };
        if self.app.running_count(plan_id) > 0 {
            match overlap {
                Overlap::Skip => {
                    let n = batch.fires.len() as u64;
                    self.app
                        .store()
                        .record_missed_fires(plan_id, newest, MissReason::Overlap, n, now)?;
                    tick.skipped_overlap += batch.fires.len();
                    return Ok(());
                }
                Overlap::QueueOne => {
                    // Only the newest fire waits; an older waiting fire is replaced.
                    let replaced = lock(&self.queued).insert(plan_id.to_string(), newest);
                    let dropped = batch.fires.len() - 1 + usize::from(replaced.is_some());
                    if dropped > 0 {
                        self.app.store().record_missed_fires(
                            plan_id,
                            newest,
                            MissReason::Overlap,
                            dropped as u64,
                            now,
                        )?;
                        tick.skipped_overlap += dropped;
                    }
                    tick.queued += 1;
                    return Ok(());
                }
                Overlap::Allow => {}
            }
        }
        self.start(plan_id, batch, tick)
    }

    /// Record the runs (a fire that already has a run is dropped: no double runs)
    /// and run them one after another in the background.
    fn start(self: &Arc<Self>, plan_id: &str, batch: Batch, tick: &mut Tick) -> Result<(), ApiError> {
        let row = self.app.store().get_plan(plan_id)?;
        let plan = match Plan::from_file(row.plan, self.app.registry()) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(plan = plan_id, "stored plan no longer validates: {e}");
                return Ok(());
            }
        };
        let mut prepared = Vec::new();
        for (fire, kind) in batch.fires {
            let spec = RunSpec {
                target: ResolvedPlan {
                    plan_id: Some(plan_id.to_string()),
                    plan: plan.clone(),
                },
                trigger_kind: kind.to_string(),
                scheduled_for: Some(fire),
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
        if let Err(e) = self.start(
            plan_id,
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
        let store = self.app.store();
        let mut auto_paused = None;
        if let Ok(Some(mut state)) = store.schedule_state(plan_id) {
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
            if let Err(e) = store.save_schedule_state(&state) {
                tracing::error!("cannot save schedule state: {e}");
            }
        }
        self.notify_finished(plan_id, outcome, auto_paused);
        if auto_paused.is_some() {
            self.sink.schedule_changed(plan_id);
        }
    }

    /// The notices for a finished run (scheduled or manual).
    fn notify_finished(&self, plan_id: &str, outcome: &RunOutcome, auto_paused: Option<u32>) {
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

impl Flowpilot {
    pub fn settings(&self) -> Result<Settings, ApiError> {
        Ok(match self.store().get_setting(crate::settings::SETTINGS_KEY)? {
            Some(v) => serde_json::from_value(v).unwrap_or_default(),
            None => Settings::default(),
        })
    }

    pub fn set_settings(&self, settings: &Settings) -> Result<(), ApiError> {
        if let Some((field, message)) = settings.problems().into_iter().next() {
            return Err(ApiError::BadInput(format!("{field}: {message}")));
        }
        let value = serde_json::to_value(settings).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(self.store().set_setting(crate::settings::SETTINGS_KEY, &value)?)
    }

    /// Pause or resume a plan's schedule. Resuming starts from now: no backfill.
    pub fn set_schedule_paused(&self, plan_id: &str, paused: bool) -> Result<(), ApiError> {
        let row = self.store().get_plan(plan_id)?;
        let Trigger::Cron(cron) = &row.plan.trigger else {
            return Err(ApiError::BadInput(format!("plan `{}` has no schedule", row.plan.name)));
        };
        let now = self.clock().now();
        let schedule = Schedule::new(cron, system_timezone()).map_err(ApiError::BadInput)?;
        let mut state = self.store().schedule_state(plan_id)?.unwrap_or_else(|| ScheduleState {
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
        Ok(self.store().save_schedule_state(&state)?)
    }

    pub fn scheduled_jobs(&self) -> Result<Vec<ScheduledJob>, ApiError> {
        let now = self.clock().now();
        let mut jobs = Vec::new();
        for summary in self.list_plans()? {
            let Trigger::Cron(cron) = &summary.trigger else {
                continue;
            };
            let Ok(schedule) = Schedule::new(cron, system_timezone()) else {
                continue;
            };
            let state = self.store().schedule_state(&summary.id)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Options;
    use crate::secrets::Keychain;
    use crate::store::{Page, RunFilter};
    use flowpilot_engine::ManualClock;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[derive(Default)]
    struct Recorder {
        notices: Mutex<Vec<Notice>>,
        /// Told of every event and notice, for tests to wait on instead of polling.
        changed: Notify,
    }
    impl SchedulerSink for Recorder {
        fn run_event(&self, _: &RunEvent) {
            self.changed.notify_waiters();
        }
        fn notice(&self, n: Notice) {
            lock(&self.notices).push(n);
            self.changed.notify_waiters();
        }
        fn schedule_changed(&self, _: &str) {}
    }

    impl Recorder {
        /// Wait until `done` holds, checking it again at each event or notice.
        async fn until(&self, what: &str, done: impl Fn() -> bool) {
            let wait = async {
                loop {
                    let next = self.changed.notified();
                    tokio::pin!(next);
                    // Registered before the check, so a change in between is not missed.
                    next.as_mut().enable();
                    if done() {
                        return;
                    }
                    next.await;
                }
            };
            if tokio::time::timeout(Duration::from_secs(30), wait).await.is_err() {
                panic!("waited 30 s for {what}");
            }
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        app: Arc<Flowpilot>,
        sink: Arc<Recorder>,
        scheduler: Arc<Scheduler>,
    }

    fn fixture(start: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(at(start)));
        let app = Arc::new(
            Flowpilot::open(Options {
                data_dir: Some(dir.path().into()),
                keychain: Some(Keychain::unavailable("not needed")),
                clock: Some(clock.clone()),
            })
            .unwrap(),
        );
        let sink = Arc::new(Recorder::default());
        let scheduler = Scheduler::new(app.clone(), sink.clone());
        Fixture {
            _dir: dir,
            clock,
            app,
            sink,
            scheduler,
        }
    }

    /// A plan on `cron` in `tz`; `slow` makes its run last until cancelled.
    fn plan(f: &Fixture, name: &str, cron: &str, tz: &str, catch_up: &str, overlap: &str, slow: bool) -> String {
        let step = if slow {
            json!({"provider": "delay", "action": "wait", "params": {"seconds": 3600}})
        } else {
            json!({"provider": "logic", "action": "set", "params": {"value": "${trigger.scheduled_for}"}})
        };
        let text = json!({
            "name": name, "status": "active", "steps": [step],
            "trigger": {"type": "cron", "cron_expression": cron, "timezone": tz, "catch_up": catch_up, "overlap": overlap}
        })
        .to_string();
        f.app.import_plan(&text).unwrap().id
    }

    async fn tick(f: &Fixture) -> Tick {
        let mut t = f.scheduler.tick().unwrap();
        for h in std::mem::take(&mut t.runs) {
            h.await.unwrap();
        }
        t
    }

    fn runs(f: &Fixture, plan_id: &str) -> Vec<crate::store::RunRow> {
        let filter = RunFilter {
            plan_id: Some(plan_id.into()),
            ..RunFilter::default()
        };
        let (mut rows, _) = f.app.list_runs(&filter, Page { limit: 100, offset: 0 }).unwrap();
        rows.reverse();
        rows
    }

    #[tokio::test]
    async fn a_new_schedule_starts_from_now_and_fires_on_time() {
        let f = fixture("2026-06-01T08:59:30Z");
        let id = plan(&f, "Morning", "0 9 * * *", "UTC", "run_once", "skip", false);
        assert!(tick(&f).await.started.is_empty());
        let state = f.app.store().schedule_state(&id).unwrap().unwrap();
        assert_eq!(state.next_run_at, Some(at("2026-06-01T09:00:00Z")));

        f.clock.set(at("2026-06-01T09:00:02Z"));
        let t = tick(&f).await;
        assert_eq!(t.started.len(), 1);
        let rows = runs(&f, &id);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].trigger_kind.as_str(), rows[0].scheduled_for),
            ("cron", Some(at("2026-06-01T09:00:00Z")))
        );
        assert_eq!(rows[0].status, RunStatus::Success);
        // The same instant again: nothing new.
        assert!(tick(&f).await.started.is_empty());
        assert_eq!(
            f.app.store().schedule_state(&id).unwrap().unwrap().next_run_at,
            Some(at("2026-06-02T09:00:00Z"))
        );
    }

    #[tokio::test]
    async fn dst_gap_and_repeat_fire_once_through_the_scheduler() {
        // Paris: 02:30 does not exist on 2026-03-29 and happens twice on 2026-10-25.
        let f = fixture("2026-03-28T23:00:00Z");
        let id = plan(&f, "Night", "30 2 * * *", "Europe/Paris", "skip", "skip", false);
        tick(&f).await;
        for minutes in (0..=240).step_by(10) {
            f.clock
                .set(at("2026-03-28T23:00:00Z") + chrono::Duration::minutes(minutes));
            tick(&f).await;
        }
        assert_eq!(runs(&f, &id).len(), 1, "one run in the spring-forward night");

        let g = fixture("2026-10-24T23:00:00Z");
        let id = plan(&g, "Night", "30 2 * * *", "Europe/Paris", "skip", "skip", false);
        tick(&g).await;
        for minutes in (0..=240).step_by(10) {
            g.clock
                .set(at("2026-10-24T23:00:00Z") + chrono::Duration::minutes(minutes));
            tick(&g).await;
        }
        let rows = runs(&g, &id);
        assert_eq!(rows.len(), 1, "one run in the fall-back night");
        assert_eq!(rows[0].scheduled_for, Some(at("2026-10-25T00:30:00Z")));
    }

    async fn after_suspend(catch_up: &str) -> (Fixture, String, Tick) {
        let f = fixture("2026-06-01T10:00:00Z");
        let id = plan(&f, "Quarterly hour", "*/15 * * * *", "UTC", catch_up, "skip", false);
        tick(&f).await;
        // The laptop sleeps for two hours: 8 fires pass, the last at 12:00.
        f.clock
            .advance(chrono::Duration::hours(2) + chrono::Duration::minutes(5));
        let t = tick(&f).await;
        (f, id, t)
    }

    #[tokio::test]
    async fn suspend_then_catch_up_skip_records_the_misses() {
        let (f, id, t) = after_suspend("skip").await;
        assert_eq!((t.started.len(), t.missed), (0, 8));
        assert!(runs(&f, &id).is_empty());
        assert_eq!(f.app.store().schedule_state(&id).unwrap().unwrap().missed_total, 8);
        let notices = lock(&f.sink.notices);
        assert_eq!(notices.len(), 1, "one summary, not eight");
        assert!(notices[0].body.contains("skipped 8 older fires"), "{}", notices[0].body);
    }

    #[tokio::test]
    async fn suspend_then_catch_up_run_once_runs_the_latest() {
        let (f, id, t) = after_suspend("run_once").await;
        assert_eq!((t.started.len(), t.missed), (1, 7));
        let rows = runs(&f, &id);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].trigger_kind.as_str(), rows[0].scheduled_for),
            ("catch_up", Some(at("2026-06-01T12:00:00Z")))
        );
    }

    #[tokio::test]
    async fn suspend_then_catch_up_run_all_runs_every_miss_in_order() {
        let (f, id, t) = after_suspend("run_all").await;
        assert_eq!((t.started.len(), t.missed), (8, 0));
        let fires: Vec<_> = runs(&f, &id).iter().map(|r| r.scheduled_for.unwrap()).collect();
        assert_eq!(fires.first(), Some(&at("2026-06-01T10:15:00Z")));
        assert_eq!(fires.last(), Some(&at("2026-06-01T12:00:00Z")));
        assert!(runs(&f, &id).iter().all(|r| r.status == RunStatus::Success));
    }

    #[tokio::test]
    async fn run_all_is_capped_and_older_misses_are_counted() {
        let f = fixture("2026-06-01T00:00:00Z");
        let id = plan(&f, "Hourly", "0 * * * *", "UTC", "run_all", "skip", false);
        tick(&f).await;
        // 72 fires, 48 of them outside the 24 h window; none of them on time.
        f.clock
            .advance(chrono::Duration::days(3) + chrono::Duration::minutes(30));
        let t = tick(&f).await;
        assert_eq!(t.started.len(), flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
        assert_eq!(t.missed, 72 - flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
        assert_eq!(runs(&f, &id).len(), flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
    }

    /// Start a slow plan's first fire, then fire again while it still runs.
    async fn overlapping(overlap: &str) -> (Fixture, String, Tick) {
        let f = fixture("2026-06-01T10:00:00Z");
        let id = plan(&f, "Slow", "* * * * *", "UTC", "skip", overlap, true);
        f.scheduler.tick().unwrap();
        f.clock.set(at("2026-06-01T10:01:00Z"));
        let first = f.scheduler.tick().unwrap();
        assert_eq!(first.started.len(), 1);
        assert_eq!(f.app.running_count(&id), 1);
        f.clock.set(at("2026-06-01T10:02:00Z"));
        let second = f.scheduler.tick().unwrap();
        (f, id, second)
    }

    fn cancel_all(f: &Fixture, id: &str) {
        for r in runs(f, id) {
            f.app.cancel_run(&r.id);
        }
    }

    #[tokio::test]
    async fn overlap_skip_records_the_skipped_fire() {
        let (f, id, t) = overlapping("skip").await;
        assert_eq!((t.started.len(), t.skipped_overlap), (0, 1));
        let missed = f.app.store().missed_fires(&id, 10).unwrap();
        assert_eq!(missed[0].reason, MissReason::Overlap);
        assert_eq!(missed[0].scheduled_for, at("2026-06-01T10:02:00Z"));
        cancel_all(&f, &id);
    }

    #[tokio::test]
    async fn overlap_queue_one_runs_the_newest_waiting_fire_afterwards() {
        let (f, id, t) = overlapping("queue_one").await;
        assert_eq!((t.started.len(), t.queued), (0, 1));
        f.clock.set(at("2026-06-01T10:03:00Z"));
        let t = f.scheduler.tick().unwrap();
        assert_eq!(
            (t.queued, t.skipped_overlap),
            (1, 1),
            "the 10:02 fire is replaced by 10:03"
        );
        // Ending the first run starts the queued one.
        let first = runs(&f, &id)[0].id.clone();
        f.app.cancel_run(&first);
        f.sink
            .until("the queued run to start", || runs(&f, &id).len() >= 2)
            .await;
        assert_eq!(runs(&f, &id)[1].scheduled_for, Some(at("2026-06-01T10:03:00Z")));
        cancel_all(&f, &id);
    }

    #[tokio::test]
    async fn overlap_allow_runs_side_by_side() {
        let (f, id, t) = overlapping("allow").await;
        assert_eq!(t.started.len(), 1);
        assert_eq!(f.app.running_count(&id), 2);
        cancel_all(&f, &id);
    }

    #[tokio::test]
    async fn a_double_dispatch_makes_one_run() {
        let f = fixture("2026-06-01T08:59:00Z");
        let id = plan(&f, "Once", "0 9 * * *", "UTC", "run_once", "allow", false);
        tick(&f).await;
        let before = f.app.store().schedule_state(&id).unwrap().unwrap();
        f.clock.set(at("2026-06-01T09:00:01Z"));
        assert_eq!(tick(&f).await.started.len(), 1);
        // A second dispatcher that read the old state fires the same instant again.
        f.app.store().save_schedule_state(&before).unwrap();
        assert!(tick(&f).await.started.is_empty());
        assert_eq!(runs(&f, &id).len(), 1);
    }

    #[tokio::test]
    async fn pause_and_resume_never_backfill() {
        let f = fixture("2026-06-01T10:00:00Z");
        let id = plan(&f, "Often", "*/10 * * * *", "UTC", "run_all", "skip", false);
        tick(&f).await;
        f.scheduler.set_plan_paused(&id, true).unwrap();
        f.clock.advance(chrono::Duration::hours(1));
        assert!(tick(&f).await.started.is_empty());
        f.scheduler.set_plan_paused(&id, false).unwrap();
        assert!(tick(&f).await.started.is_empty(), "no backfill of the paused hour");
        // Global pause behaves the same.
        f.scheduler.pause_all();
        f.clock.advance(chrono::Duration::hours(1));
        assert!(tick(&f).await.started.is_empty());
        f.scheduler.resume_all();
        assert!(tick(&f).await.started.is_empty());
        f.clock.advance(chrono::Duration::minutes(10));
        assert_eq!(tick(&f).await.started.len(), 1);
        assert_eq!(runs(&f, &id).len(), 1);
    }

    #[tokio::test]
    async fn failures_notify_once_and_auto_pause_after_n() {
        let f = fixture("2026-06-01T10:00:00Z");
        let mut settings = f.app.settings().unwrap();
        settings.auto_pause_after = 3;
        f.app.set_settings(&settings).unwrap();
        let text = json!({
            "name": "Broken", "status": "active",
            "steps": [{"provider": "logic", "action": "assert", "params": {"left": 1, "op": "eq", "right": 2, "message": "one is not two"}}],
            "trigger": {"type": "cron", "cron_expression": "* * * * *", "timezone": "UTC"}
        })
        .to_string();
        let id = f.app.import_plan(&text).unwrap().id;
        tick(&f).await;
        for _ in 0..4 {
            f.clock.advance(chrono::Duration::minutes(1));
            tick(&f).await;
        }
        assert_eq!(runs(&f, &id).len(), 3, "paused after the third failure");
        assert!(f.app.store().schedule_state(&id).unwrap().unwrap().paused);
        let notices = lock(&f.sink.notices);
        let kinds: Vec<_> = notices.iter().map(|n| n.kind).collect();
        use crate::notices::NoticeKind;
        assert_eq!(kinds, vec![NoticeKind::Failure, NoticeKind::AutoPaused]);
        assert_eq!(notices[0].body, "Step 1 (logic.assert) failed: one is not two");
    }

    #[tokio::test]
    async fn a_failed_manual_run_notifies_and_pause_all_survives_a_restart() {
        let f = fixture("2026-06-01T10:00:00Z");
        let text = json!({
            "name": "By hand", "steps": [{"provider": "logic", "action": "assert", "params": {"left": 1, "op": "eq", "right": 2}}]
        })
        .to_string();
        let id = f.app.import_plan(&text).unwrap().id;
        let run_id = f.scheduler.start_manual_run(&id).unwrap();
        f.sink
            .until("a notice for the failed manual run", || {
                !lock(&f.sink.notices).is_empty()
            })
            .await;
        let notice = lock(&f.sink.notices)[0].clone();
        assert_eq!(
            (notice.title.as_str(), notice.run_id.as_deref()),
            ("By hand failed", Some(run_id.as_str()))
        );

        f.scheduler.pause_all();
        let again = Scheduler::new(f.app.clone(), f.sink.clone());
        assert!(again.is_paused());
        again.resume_all();
        assert!(!Scheduler::new(f.app.clone(), f.sink.clone()).is_paused());
    }

    #[tokio::test]
    async fn jobs_list_describes_schedules_in_words() {
        let f = fixture("2026-06-01T06:00:00Z"); // a Monday, 08:00 in Berlin
        plan(
            &f,
            "Weekdays",
            "0 9 * * 1-5",
            "Europe/Berlin",
            "run_once",
            "skip",
            false,
        );
        let jobs = f.scheduler.jobs().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].description, "At 09:00, on weekdays");
        assert_eq!(jobs[0].next_run_at, Some(at("2026-06-01T07:00:00Z")));
    }

    #[tokio::test]
    async fn the_concurrency_limit_changes_without_a_restart() {
        let f = fixture("2026-03-01T09:00:00Z");
        let s = &f.scheduler;
        assert_eq!(s.permits.available_permits(), 4);

        // Raised: the new permits are there at once.
        s.set_concurrency(6);
        assert_eq!(s.permits.available_permits(), 6);

        // Lowered while three runs hold permits: no new run may start until
        // enough of them end, and then only one at a time.
        let held: Vec<_> = (0..3).map(|_| s.permits.clone().try_acquire_owned().unwrap()).collect();
        let owed = s.resize(1).expect("two permits are in use beyond the new limit");
        assert_eq!(s.permits.available_permits(), 0);
        drop(held);
        owed.await;
        assert_eq!(s.permits.available_permits(), 1);
        let one = s.permits.clone().try_acquire_owned().unwrap();
        assert!(
            s.permits.clone().try_acquire_owned().is_err(),
            "a second run went past a limit of 1"
        );
        drop(one);

        // Zero means one: scheduled runs never stop for good.
        assert!(s.resize(0).is_none());
        assert_eq!(s.permits.available_permits(), 1);
    }
}
