//! Running a checked plan: steps in order, references resolved from earlier
//! results, `when` conditions, `for_each` loops, retries with backoff, per-step
//! timeouts, a run deadline, cancellation, output caps, redaction, and replays
//! that take over earlier steps' stored results. Progress goes out as
//! [`RunEvent`]s; the executor itself stores nothing.
//!
//! - this module: the run loop;
//! - `step`: one step, attempt by attempt, and its log record;
//! - `each`: a `for_each` step, item by item.

mod each;
mod step;
#[cfg(test)]
mod tests;

use crate::clock::Clock;
use crate::condition;
use crate::http_client::HttpClient;
use crate::plan::{CheckedStep, StepSpec};
use crate::redact::SharedRedactor;
use crate::references::Scope;
use crate::registry::{CredentialSource, Registry, StepContext};
use crate::run::{REUSED_FROM_RUN, RunEvent, RunObserver, RunOutcome, RunRequest, RunStatus, StepRecord, StepStatus};
use crate::step_error::{ErrorCode, StepError};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub use step::Attempted;

/// Runs plans. Cheap to clone; one per app (clones share the registry).
#[derive(Clone)]
pub struct Executor {
    registry: Arc<std::sync::RwLock<Registry>>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    credentials: Arc<dyn CredentialSource>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("registry", &self.registry())
            .finish_non_exhaustive()
    }
}

/// What one run shares between its steps.
struct RunContext<'a> {
    run_id: &'a str,
    plan_name: &'a str,
    dry_run: bool,
    deadline: Option<Instant>,
    redactor: SharedRedactor,
    observer: &'a dyn RunObserver,
    cancel: &'a CancellationToken,
}

impl Executor {
    pub fn new(registry: Registry, clock: Arc<dyn Clock>, credentials: Arc<dyn CredentialSource>) -> Self {
        Self {
            registry: Arc::new(std::sync::RwLock::new(registry)),
            http: HttpClient::default(),
            clock,
            credentials,
        }
    }

    /// The providers plans are checked against now (a cheap copy: the person's
    /// integrations change it while the app runs). A checked plan keeps the
    /// providers it was checked with, so a run is never changed under it.
    pub fn registry(&self) -> Registry {
        self.registry.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replace the providers (an integration was added, changed or removed).
    pub fn set_registry(&self, registry: Registry) {
        *self.registry.write().unwrap_or_else(|e| e.into_inner()) = registry;
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Run a plan to the end, or until it fails, is cancelled or passes its deadline.
    pub async fn run(&self, req: RunRequest, observer: &dyn RunObserver, cancel: CancellationToken) -> RunOutcome {
        let started_at = self.clock.now();
        let plan_name = req.plan.name().to_string();
        let count = req.plan.steps().len();
        observer
            .record(&RunEvent::RunStarted {
                run_id: req.run_id.clone(),
                plan_name: plan_name.clone(),
                step_count: count,
                started_at,
            })
            .await;
        let mut scope = Scope::new(
            json!({"name": plan_name, "step_count": count}),
            json!({"id": req.run_id, "started_at": started_at}),
            req.trigger.clone(),
        );
        let ctx = RunContext {
            run_id: &req.run_id,
            plan_name: &plan_name,
            dry_run: req.dry_run,
            deadline: req.deadline.map(|d| Instant::now() + d),
            redactor: SharedRedactor::default(),
            observer,
            cancel: &cancel,
        };
        let mut records: Vec<StepRecord> = Vec::with_capacity(count);
        let mut status = RunStatus::Success;
        let mut run_error: Option<String> = None;

        // Each final row goes out as soon as it exists; the run's last row is
        // flagged so a store can write it together with the run's status.
        // The record goes out in the event and is taken back, not copied: an
        // output may be 10 MB.
        let finish = async |record: StepRecord, records: &mut Vec<StepRecord>| {
            let last = record.step_number + 1 == count;
            let event = RunEvent::StepFinished { record, last };
            observer.record(&event).await;
            if let RunEvent::StepFinished { record, .. } = event {
                records.push(record);
            }
        };
        for (index, (spec, checked)) in req.plan.each_step().enumerate() {
            if status != RunStatus::Success {
                finish(self.skipped(ctx.run_id, index, spec, EARLIER_FAILED), &mut records).await;
                continue;
            }
            if let Some(replay) = &req.replay
                && let Some(reused) = reused(replay, index)
            {
                let mut record = reused.clone();
                record.run_id = req.run_id.clone();
                record.timestamp = self.clock.now();
                record
                    .metadata
                    .insert(REUSED_FROM_RUN.into(), Value::String(replay.of_run.clone()));
                scope.push_step(spec.id.clone(), record.as_result());
                finish(record, &mut records).await;
                continue;
            }
            if cancel.is_cancelled() {
                status = RunStatus::Cancelled;
                run_error = Some("the run was cancelled".into());
                finish(self.skipped(ctx.run_id, index, spec, EARLIER_FAILED), &mut records).await;
                continue;
            }
            let Some(timeout) = ctx.timeout(checked.timeout) else {
                status = RunStatus::Failed;
                run_error = Some("the run passed its deadline".into());
                finish(self.skipped(ctx.run_id, index, spec, EARLIER_FAILED), &mut records).await;
                continue;
            };
            let record = if checked.for_each.is_some() {
                self.run_for_each(index, spec, checked, &scope, timeout, &ctx).await
            } else {
                self.run_step(index, spec, checked, &scope, timeout, &ctx).await
            };
            // No step comes after the last one to refer to its result.
            if index + 1 < count {
                scope.push_step(spec.id.clone(), record.as_result());
            }
            match (record.status, record.error) {
                (StepStatus::Success | StepStatus::Skipped, _) => {}
                (_, Some(ErrorCode::Cancelled)) => {
                    status = RunStatus::Cancelled;
                    run_error = Some("the run was cancelled".into());
                }
                _ if spec.continue_on_error => {}
                _ => {
                    status = RunStatus::Failed;
                    // Said to people, the cause first (lists cut long lines at the
                    // end); steps count from 1, as in the notices and the UI.
                    run_error = Some(format!(
                        "{} (step {} of {count}, {}.{})",
                        record.message,
                        index + 1,
                        spec.provider,
                        spec.action
                    ));
                }
            }
            finish(record, &mut records).await;
        }

        let error = run_error.map(|e| ctx.redactor.redact_str(&e));
        drop(ctx);
        let outcome = RunOutcome {
            run_id: req.run_id.clone(),
            plan_name,
            status,
            started_at,
            finished_at: self.clock.now(),
            error,
            steps: records,
        };
        drop(scope);
        // The outcome goes out in the event and is taken back, not copied.
        let event = RunEvent::RunFinished { outcome };
        observer.record(&event).await;
        match event {
            RunEvent::RunFinished { outcome, .. } => outcome,
            _ => unreachable_outcome(),
        }
    }

    /// One step that is not a loop: its condition, then its attempts.
    async fn run_step(
        &self,
        index: usize,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: &Scope,
        timeout: Duration,
        ctx: &RunContext<'_>,
    ) -> StepRecord {
        if let Some(when) = &spec.when {
            match condition::evaluate(when, scope) {
                Ok(verdict) if !verdict.holds => {
                    let mut record = self.skipped(ctx.run_id, index, spec, "skipped: its condition was false");
                    let mut compared = serde_json::to_value(&verdict.compared).unwrap_or(Value::Null);
                    ctx.redactor.redact_value(&mut compared);
                    record.metadata.insert("condition".into(), compared);
                    return record;
                }
                Ok(_) => {}
                Err(e) => {
                    let failed = Attempted::failed(StepError::fatal(ErrorCode::Condition, format!("when: {e}")));
                    return self.record(ctx.run_id, index, spec, failed, &ctx.redactor);
                }
            }
        }
        let step_ctx = self.step_context(ctx, index);
        let attempted = self
            .run_step_with_retries(spec, checked, scope, &step_ctx, timeout, ctx, true)
            .await;
        self.record(ctx.run_id, index, spec, attempted, &ctx.redactor)
    }

    /// Run one step on its own with given inputs (the seeds' `execute-step`, for
    /// "test this step"): `scope` holds the earlier results it may refer to.
    pub async fn run_single_step(
        &self,
        run_id: &str,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: &Scope,
        cancel: CancellationToken,
    ) -> StepRecord {
        let plan_name = crate::references::to_text(&scope.plan["name"]);
        let ctx = RunContext {
            run_id,
            plan_name: &plan_name,
            dry_run: false,
            deadline: None,
            redactor: SharedRedactor::default(),
            observer: &crate::run::NoObserver,
            cancel: &cancel,
        };
        let index = scope.steps.len();
        if checked.for_each.is_some() {
            self.run_for_each(index, spec, checked, scope, checked.timeout, &ctx)
                .await
        } else {
            self.run_step(index, spec, checked, scope, checked.timeout, &ctx).await
        }
    }

    fn step_context(&self, ctx: &RunContext<'_>, index: usize) -> StepContext {
        StepContext {
            run_id: ctx.run_id.to_string(),
            plan_name: ctx.plan_name.to_string(),
            step_index: index,
            item: None,
            attempt: 1,
            deadline: None,
            http: self.http.clone(),
        }
    }
}

/// Never reached: the event just built is a `RunFinished`.
#[cold]
fn unreachable_outcome() -> RunOutcome {
    RunOutcome {
        run_id: String::new(),
        plan_name: String::new(),
        status: RunStatus::Failed,
        started_at: chrono::DateTime::UNIX_EPOCH,
        finished_at: chrono::DateTime::UNIX_EPOCH,
        error: None,
        steps: Vec::new(),
    }
}

/// The message of a step that did not run because the run had already ended.
const EARLIER_FAILED: &str = "skipped: an earlier step failed or the run was cancelled";

fn reused(replay: &crate::run::Replay, index: usize) -> Option<&StepRecord> {
    if index >= replay.from_step {
        return None;
    }
    replay.reuse.get(index)?.as_ref()
}

impl RunContext<'_> {
    /// The time a step may take: its own timeout, cut to what is left of the run's
    /// deadline; `None` once the deadline has passed.
    fn timeout(&self, step: Duration) -> Option<Duration> {
        match self.deadline {
            None => Some(step),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                (!left.is_zero()).then(|| step.min(left))
            }
        }
    }
}
