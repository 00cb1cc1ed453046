//! Runs: starting and recording them, cancelling, listing, "test this step",
//! monitoring figures, pruning, and replays from a failed step.

use super::plans::{ResolvedPlan, check_step_after};
use super::{ApiError, Flowpilot, Result};
use crate::store::{
    NewRun, Page, ProviderStats, PruneReport, RunCounts, RunFilter, RunLog, RunRow, SlowStep, StoreError,
    fail_for_storage,
};
use chrono::{DateTime, Utc};
use flowpilot_engine::plan::StepSpec;
use flowpilot_engine::references::Scope;
use flowpilot_engine::run::{Replay, RunRequest};
use flowpilot_engine::{RunObserver, RunOutcome, RunStatus, StepRecord, StepStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The monitoring figures of a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Stats {
    pub since: DateTime<Utc>,
    /// Runs started in the window, by status.
    pub runs: RunCounts,
    pub providers: Vec<ProviderStats>,
    pub slowest_steps: Vec<SlowStep>,
}

/// A run with its step logs (retry rows included, in order) and the runs that replayed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunDetail {
    pub run: RunRow,
    pub steps: Vec<StepRecord>,
    /// Runs started as replays of this one, newest first.
    pub replays: Vec<RunRow>,
    /// What started this run, as the run saw it under `${trigger}` besides its
    /// type: a webhook call's `payload`, `headers` and `query`, or the new `item`
    /// (an email, a feed item, a Telegram message, an API's item). None for a run
    /// by hand or on a schedule.
    pub trigger: Option<Value>,
}

/// What to run, and why.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub target: ResolvedPlan,
    /// `manual`, `cli`, `cron`, `catch_up`, `replay`...
    pub trigger_kind: String,
    /// The fire this run is for (scheduled runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Steps taken over from the run this one replays.
    pub replay: Option<Replay>,
    /// What the event that started it carries (`payload`, `headers`, `query`,
    /// `item`...): merged into `${trigger}`.
    pub event: Option<Value>,
}

impl RunSpec {
    pub fn new(target: ResolvedPlan, trigger_kind: &str) -> Self {
        Self {
            target,
            trigger_kind: trigger_kind.to_string(),
            scheduled_for: None,
            replay: None,
            event: None,
        }
    }
}

pub(super) struct ActiveRun {
    plan_id: Option<String>,
    cancel: CancellationToken,
}

/// The runs in progress in this process, and their count to wait on.
#[derive(Clone)]
pub(super) struct ActiveRuns(Arc<ActiveInner>);

struct ActiveInner {
    runs: Mutex<HashMap<String, ActiveRun>>,
    count: tokio::sync::watch::Sender<usize>,
}

impl Default for ActiveRuns {
    fn default() -> Self {
        Self(Arc::new(ActiveInner {
            runs: Mutex::default(),
            count: tokio::sync::watch::Sender::new(0),
        }))
    }
}

impl ActiveRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ActiveRun>> {
        self.0.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, run_id: String, run: ActiveRun) {
        let mut runs = self.lock();
        runs.insert(run_id, run);
        self.0.count.send_replace(runs.len());
    }

    fn remove(&self, run_id: &str) {
        let mut runs = self.lock();
        runs.remove(run_id);
        self.0.count.send_replace(runs.len());
    }
}

/// A run whose row exists; dropping it without executing leaves the registry clean
/// (the row stays `running` and becomes `interrupted` at the next start).
pub struct PreparedRun {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub spec: RunSpec,
    cancel: CancellationToken,
    active: ActiveRuns,
}

impl Drop for PreparedRun {
    fn drop(&mut self) {
        self.active.remove(&self.run_id);
    }
}

/// Why a run cannot be replayed as asked. Steps count from 1, as people are told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayRefusal {
    #[error("run {run} {status}: only a failed, interrupted or cancelled run is replayed")]
    NotFinishedBadly { run: String, status: &'static str },
    #[error("run {0} was of a plan file, not a stored plan; run the file again instead")]
    NotOfStoredPlan(String),
    #[error("run {0} has no failed or interrupted step to replay from; name one with --from-step")]
    NoFailedStep(String),
    #[error("the plan has {steps} steps; there is no step {step}")]
    NoSuchStep { step: usize, steps: usize },
    #[error(
        "step {step}'s full output is not stored ({why}), so it cannot be taken over; replay from step {step} or earlier"
    )]
    OutputNotStored { step: usize, why: &'static str },
    #[error(
        "the plan changed before step {from}: step {step} {what}; replay with --force to run the changed steps again"
    )]
    PlanChanged { from: usize, step: usize, what: String },
    #[error(
        "run {0} does not record which version of its plan it ran; replay with --force to run every earlier step again"
    )]
    VersionUnknown(String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Flowpilot {
    /// Record a run about to start (its row says `running`). A scheduled fire that
    /// already has a run is refused with a `Conflict`, which makes double fires impossible.
    pub fn prepare_run(&self, spec: RunSpec) -> Result<PreparedRun> {
        let run_id = uuid::Uuid::now_v7().to_string();
        let started_at = self.clock.now();
        self.store.create_run_with_event(
            &NewRun {
                id: run_id.clone(),
                plan_id: spec.target.plan_id.clone(),
                plan_name: spec.target.plan.name().to_string(),
                plan_version: spec.target.version,
                trigger_kind: spec.trigger_kind.clone(),
                scheduled_for: spec.scheduled_for,
                replay_of: spec.replay.as_ref().map(|r| r.of_run.clone()),
                started_at,
            },
            spec.event.as_ref(),
        )?;
        Ok(self.register(run_id, started_at, spec))
    }

    /// Turn an event waiting in the queue into its run: the row (with the event
    /// stored beside it) is written as the event leaves the queue, in one
    /// transaction, so an event has exactly one run. `NotFound` when its run was
    /// made already.
    pub fn prepare_event_run(&self, queued: &crate::store::QueuedEvent, target: ResolvedPlan) -> Result<PreparedRun> {
        let started_at = self.clock.now();
        let event = self.store.start_event_run(&NewRun {
            id: queued.run_id.clone(),
            plan_id: target.plan_id.clone(),
            plan_name: target.plan.name().to_string(),
            plan_version: target.version,
            trigger_kind: queued.kind.clone(),
            scheduled_for: None,
            replay_of: None,
            started_at,
        })?;
        let spec = RunSpec {
            event: Some(event),
            ..RunSpec::new(target, &queued.kind)
        };
        Ok(self.register(queued.run_id.clone(), started_at, spec))
    }

    /// Make a run whose row exists cancellable and countable in this process.
    fn register(&self, run_id: String, started_at: DateTime<Utc>, spec: RunSpec) -> PreparedRun {
        let cancel = CancellationToken::new();
        self.active.insert(
            run_id.clone(),
            ActiveRun {
                plan_id: spec.target.plan_id.clone(),
                cancel: cancel.clone(),
            },
        );
        PreparedRun {
            run_id,
            started_at,
            spec,
            cancel,
            active: self.active.clone(),
        }
    }

    /// Run a prepared run to its end, logging every step durably. `observer` sees
    /// every event after the store has written it. `cancel` (or [`Flowpilot::cancel_run`])
    /// stops it.
    pub async fn execute(
        &self,
        prepared: PreparedRun,
        observer: Arc<dyn RunObserver>,
        deadline: Option<Duration>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let stop = prepared.cancel.clone();
        let linked = tokio::spawn(async move {
            cancel.cancelled().await;
            stop.cancel();
        });
        let log = RunLog::new(self.store.clone())
            .with_clock(self.clock.clone())
            .cancel_on_failure(prepared.cancel.clone())
            .forward_to(observer);
        let mut trigger = serde_json::json!({
            "type": prepared.spec.trigger_kind,
            "scheduled_for": prepared.spec.scheduled_for,
            "at": prepared.started_at,
            "replay_of": prepared.spec.replay.as_ref().map(|r| r.of_run.clone()),
        });
        if let (Value::Object(scope), Some(Value::Object(event))) = (&mut trigger, &prepared.spec.event) {
            for (key, value) in event {
                scope.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        let request = RunRequest {
            deadline,
            replay: prepared.spec.replay.clone(),
            ..RunRequest::new(prepared.run_id.clone(), prepared.spec.target.plan.clone(), trigger)
        };
        let mut outcome = self.executor.run(request, &log, prepared.cancel.clone()).await;
        linked.abort();
        // A run is a success only if every one of its rows was stored.
        if let Some(error) = log.storage_error() {
            fail_for_storage(&mut outcome, &error);
        }
        if let Some(unrecorded) = log.unrecorded() {
            lock(&self.unrecorded).push(unrecorded);
        }
        drop(prepared);
        Ok(outcome)
    }

    /// Write the final status of runs whose end could not be written when they
    /// ended (a full disk, a database locked too long); the ones still left.
    /// Runs that another start settled meanwhile (marked interrupted) are dropped.
    pub fn record_unrecorded_runs(&self) -> usize {
        let pending = std::mem::take(&mut *lock(&self.unrecorded));
        let mut left = Vec::new();
        for outcome in pending {
            match self.store.finish_run(&outcome, None) {
                Ok(()) => tracing::info!(run = %outcome.run_id, "the run's final status is recorded now"),
                Err(StoreError::RunFinished { .. } | StoreError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(run = %outcome.run_id, error = %e, "the run's final status still cannot be written");
                    left.push(outcome);
                }
            }
        }
        let n = left.len();
        lock(&self.unrecorded).extend(left);
        n
    }

    /// Prepare and execute in one go (the CLI's `run`).
    pub async fn run_plan(
        &self,
        target: ResolvedPlan,
        trigger_kind: &str,
        observer: Arc<dyn RunObserver>,
        deadline: Option<Duration>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let prepared = self.prepare_run(RunSpec::new(target, trigger_kind))?;
        self.execute(prepared, observer, deadline, cancel).await
    }

    /// Start a run of a stored plan in the background and return its id at once;
    /// progress reaches `observer`.
    pub fn start_run(self: &Arc<Self>, plan_id: &str, observer: Arc<dyn RunObserver>) -> Result<String> {
        let prepared = self.prepare_run(RunSpec::new(self.resolve_stored(plan_id)?, "manual"))?;
        Ok(self.spawn(prepared, observer))
    }

    /// Execute a prepared run in the background; its id.
    pub fn spawn(self: &Arc<Self>, prepared: PreparedRun, observer: Arc<dyn RunObserver>) -> String {
        let run_id = prepared.run_id.clone();
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.execute(prepared, observer, None, CancellationToken::new()).await {
                tracing::error!("run could not be recorded: {e}");
            }
        });
        run_id
    }

    /// Cancel a run in progress; `false` if it is not running in this process.
    pub fn cancel_run(&self, run_id: &str) -> bool {
        match self.active.lock().get(run_id) {
            Some(run) => {
                run.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// How many runs are in progress in this process.
    pub fn active_run_count(&self) -> usize {
        self.active.lock().len()
    }

    /// Wait until no run is in progress in this process, at most `limit`; whether none is.
    pub async fn wait_for_runs(&self, limit: Duration) -> bool {
        let mut count = self.active.0.count.subscribe();
        tokio::time::timeout(limit, count.wait_for(|n| *n == 0)).await.is_ok()
    }

    /// Cancel every run in progress in this process (a shutdown that could not
    /// wait longer); how many. Each is recorded as cancelled when it stops.
    pub fn cancel_all_runs(&self) -> usize {
        let active = self.active.lock();
        for run in active.values() {
            run.cancel.cancel();
        }
        active.len()
    }

    /// How many runs of a plan are in progress in this process.
    pub fn running_count(&self, plan_id: &str) -> usize {
        self.active
            .lock()
            .values()
            .filter(|r| r.plan_id.as_deref() == Some(plan_id))
            .count()
    }

    pub fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRow>, u64)> {
        Ok(self.store.list_runs(filter, page)?)
    }

    /// A run with its step logs (retry rows included, in order) and its replays.
    pub fn run_detail(&self, run_id: &str) -> Result<RunDetail> {
        Ok(RunDetail {
            run: self.store.get_run(run_id)?,
            steps: self.store.step_logs(run_id)?,
            replays: self.store.replays_of(run_id)?,
            trigger: self.store.run_trigger_event(run_id)?,
        })
    }

    pub fn stats(&self, window: chrono::Duration) -> Result<Stats> {
        let since = self.clock.now() - window;
        Ok(Stats {
            since,
            runs: self.store.runs_since(since)?,
            providers: self.store.provider_stats(since)?,
            slowest_steps: self.store.slowest_steps(since, 10)?,
        })
    }

    /// Mark as interrupted the runs of Flowpilots that are gone (another process
    /// that crashed while this one runs) and delete their lock files; how many
    /// runs were marked. Opening does this too.
    pub fn recover_interrupted_runs(&self) -> Result<usize> {
        let marked = self.store.recover_orphaned_runs()?;
        self.store.sweep_stale_owners();
        Ok(marked)
    }

    /// Delete the runs the retention settings no longer keep and give the space
    /// back: never a running run, never a plan's latest failed or interrupted
    /// run (its outputs are what a replay takes over). The CLI's `prune` and the
    /// background maintenance (the app, `serve`) call this.
    pub fn prune_by_settings(&self) -> Result<PruneReport> {
        let policy = self.settings()?.retention();
        Ok(self.store.prune(&policy, self.clock.now())?)
    }

    /// Run one step with given inputs, without storing anything ("test this step").
    /// `previous` are the results of the steps before it, as `{output, ...}` objects
    /// or bare outputs.
    pub async fn execute_step(&self, step: StepSpec, previous: Vec<(Option<String>, Value)>) -> Result<StepRecord> {
        let earlier: Vec<Option<String>> = previous.iter().map(|(id, _)| id.clone()).collect();
        let plan = check_step_after(&step, &earlier, &self.registry())?;
        let mut scope = Scope::new(
            serde_json::json!({"name": "step test"}),
            serde_json::json!({"id": "test"}),
            serde_json::json!({"type": "test"}),
        );
        for (id, v) in previous {
            let result = match v {
                Value::Object(ref m) if m.contains_key("output") => v,
                other => serde_json::json!({"success": true, "output": other, "message": "", "metadata": {}}),
            };
            scope.push_step(id, result);
        }
        let index = earlier.len();
        let checked = plan
            .checked_step(index)
            .ok_or_else(|| ApiError::Internal("the tested step was not checked".into()))?;
        Ok(self
            .executor
            .run_single_step("test", &step, checked, &scope, CancellationToken::new())
            .await)
    }

    /// Prepare a replay of `run_id` from step `from_step` (counted from 1; default:
    /// the first failed or interrupted step): a new run of the plan as it is now
    /// that takes over the stored results of the steps before it without running
    /// them. Refused when a step before it changed since (unless `force`, which
    /// runs the changed steps again) or its full output is not stored.
    pub fn prepare_replay(&self, run_id: &str, from_step: Option<usize>, force: bool) -> Result<PreparedRun> {
        let original = self.store.get_run(run_id)?;
        if !matches!(
            original.status,
            RunStatus::Failed | RunStatus::Interrupted | RunStatus::Cancelled
        ) {
            return Err(ReplayRefusal::NotFinishedBadly {
                run: run_id.into(),
                status: original.status.as_str(),
            }
            .into());
        }
        let Some(plan_id) = original.plan_id.clone() else {
            return Err(ReplayRefusal::NotOfStoredPlan(run_id.into()).into());
        };
        let target = self.resolve_stored(&plan_id)?;
        let finals = final_records(self.store.step_logs(run_id)?);
        let steps = target.plan.steps().len();
        let from = match from_step {
            Some(0) => return Err(ReplayRefusal::NoSuchStep { step: 0, steps }.into()),
            Some(n) => n - 1,
            None => first_unfinished(&finals, target.plan.steps())
                .ok_or_else(|| ReplayRefusal::NoFailedStep(run_id.into()))?,
        };
        if from >= steps {
            return Err(ReplayRefusal::NoSuchStep { step: from + 1, steps }.into());
        }
        let old_steps = match original.plan_version {
            Some(v) => Some(self.plan_version(&plan_id, v)?.plan.steps),
            None if force => None,
            None => return Err(ReplayRefusal::VersionUnknown(run_id.into()).into()),
        };
        let mut reuse = Vec::with_capacity(from);
        for (i, now) in target.plan.steps().iter().take(from).enumerate() {
            let then = old_steps.as_ref().and_then(|s| s.get(i));
            if then != Some(now) {
                if force {
                    reuse.push(None);
                    continue;
                }
                return Err(ReplayRefusal::PlanChanged {
                    from: from + 1,
                    step: i + 1,
                    what: describe_change(then, now),
                }
                .into());
            }
            let Some(record) = finals.get(&i) else {
                return Err(ReplayRefusal::OutputNotStored {
                    step: i + 1,
                    why: "its log was pruned or never written",
                }
                .into());
            };
            if !record.output_is_whole() {
                return Err(ReplayRefusal::OutputNotStored {
                    step: i + 1,
                    why: "it was cut at the 10 MB cap",
                }
                .into());
            }
            reuse.push(Some(record.clone()));
        }
        // A replay sees what started the run it replays.
        let event = self.store.run_trigger_event(run_id)?;
        self.prepare_run(RunSpec {
            event,
            replay: Some(Replay {
                of_run: run_id.to_string(),
                from_step: from,
                reuse,
            }),
            ..RunSpec::new(target, "replay")
        })
    }
}

/// The final record of each step of a run (retry rows left out).
fn final_records(logs: Vec<StepRecord>) -> HashMap<usize, StepRecord> {
    let mut out = HashMap::new();
    for record in logs {
        if record.status != StepStatus::Retrying {
            out.insert(record.step_number, record);
        }
    }
    out
}

/// The step that ended the run: the first that failed or timed out (and may not
/// fail, `continue_on_error`), or that has no final record (it was in flight when
/// the run was interrupted).
fn first_unfinished(finals: &HashMap<usize, StepRecord>, steps: &[StepSpec]) -> Option<usize> {
    steps.iter().enumerate().position(|(i, spec)| match finals.get(&i) {
        None => true,
        Some(r) => {
            matches!(r.status, StepStatus::Error | StepStatus::Timeout | StepStatus::Unknown) && !spec.continue_on_error
        }
    })
}

/// What changed in a step, in words.
fn describe_change(then: Option<&StepSpec>, now: &StepSpec) -> String {
    let Some(then) = then else {
        return "is new".into();
    };
    let mut what = Vec::new();
    if then.provider != now.provider || then.action != now.action {
        what.push(format!(
            "is now {}.{} (was {}.{})",
            now.provider, now.action, then.provider, then.action
        ));
    }
    if then.id != now.id {
        what.push("has another id".into());
    }
    if then.params != now.params {
        what.push("has other params".into());
    }
    if then.when != now.when {
        what.push("has another condition".into());
    }
    if then.for_each != now.for_each || then.for_each_options != now.for_each_options {
        what.push("loops differently".into());
    }
    if what.is_empty() {
        what.push("has other options (retry, timeout or continue_on_error)".into());
    }
    what.join(", ")
}
