//! [`RunLog`]: the run observer that writes a run's events to the store as
//! they happen, and fails the run when they cannot be written.

use super::in_flight::started_job;
use super::runs::finish_job;
use super::step_logs::append_job;
use super::writer::{Job, together};
use super::{InFlightStep, Store, StoreError};
use flowpilot_engine::run::Recorded;
use flowpilot_engine::{Clock, RunEvent, RunObserver, RunOutcome, RunStatus, SystemClock};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Writes a run's progress durably, as the executor reports it:
///
/// - `StepStarted` -> the run's step in flight ([`Store::mark_step_started`]),
///   before the step runs, so a crash leaves which step it was;
/// - `StepRetrying` -> a `retrying` step row, at once (a wait may follow);
/// - `StepFinished { last: false }` -> the step's row, held and committed with
///   the run's next write: the next step's start (or a retry row, or the
///   run's end), always before anything else runs. Between a step's end and
///   the next step's start the executor only decides (conditions,
///   references), so one commit a step instead of two loses nothing: until
///   it lands, the run's step in flight is still the step that just ended,
///   and a crash in that moment says its outcome is unknown;
/// - `StepFinished { last: true }` -> nothing yet: the row comes again as the
///   last of `RunFinished`'s steps, and is written with the run's final status
///   in one transaction;
/// - `RunFinished` -> [`Store::finish_run`].
///
/// The run itself must already exist ([`Store::create_run`], before the
/// executor starts). A write that fails (after the store's waits and retries)
/// never panics: it is logged, the first error is kept for
/// [`RunLog::take_error`], the run is cancelled (nothing more should happen
/// that cannot be recorded), and it ends `failed` with a `storage: ...` error,
/// never `success`. If even the final status cannot be written, the outcome is
/// kept for [`RunLog::unrecorded`] (a later try, or the next start's crash
/// recovery, settles it). Every event is then passed on to the optional
/// observer (for live progress in the UI), after it has been written.
pub struct RunLog {
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    forward: Option<Arc<dyn RunObserver>>,
    cancel: Option<CancellationToken>,
    first_error: Mutex<Option<StoreError>>,
    /// The `storage: ...` error the run ended with, once a write failed.
    storage_error: Mutex<Option<String>>,
    unrecorded: Mutex<Option<RunOutcome>>,
    /// Rows of finished steps that go with the run's next write.
    held: Mutex<Vec<Job>>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLog")
            .field("forward", &self.forward.is_some())
            .field("first_error", &self.first_error)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RunLog {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            clock: Arc::new(SystemClock),
            forward: None,
            cancel: None,
            first_error: Mutex::new(None),
            storage_error: Mutex::new(None),
            unrecorded: Mutex::new(None),
            held: Mutex::new(Vec::new()),
        }
    }

    /// Also pass every event to `observer` (a closure will do), after it has been written.
    pub fn forward_to(mut self, observer: Arc<dyn RunObserver>) -> Self {
        self.forward = Some(observer);
        self
    }

    /// Cancel the run with `cancel` when a write fails.
    pub fn cancel_on_failure(mut self, cancel: CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The clock that dates the step in flight (the system's by default).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The first store error since the last call, if any.
    pub fn take_error(&self) -> Option<StoreError> {
        lock(&self.first_error).take()
    }

    /// The `storage: ...` error the run ended with because a write failed.
    pub fn storage_error(&self) -> Option<String> {
        lock(&self.storage_error).clone()
    }

    /// The run's outcome, when even its final status could not be written.
    pub fn unrecorded(&self) -> Option<RunOutcome> {
        lock(&self.unrecorded).take()
    }

    /// The write `event` makes now, with the rows held for it, if any.
    fn job(&self, event: &RunEvent) -> Result<Option<Job>, StoreError> {
        let job = match event {
            RunEvent::StepStarted { run_id, .. } => match self.in_flight(event) {
                Some(step) => started_job(run_id, &step)?,
                None => return Ok(None),
            },
            RunEvent::StepFinished { record, last: false } => {
                lock(&self.held).push(append_job(record)?);
                return Ok(None);
            }
            RunEvent::StepRetrying { record, .. } => append_job(record)?,
            RunEvent::RunFinished { outcome } => finish_job(outcome, outcome.steps.last())?,
            // Items are written with their step's row; the last row with the run's status.
            RunEvent::RunStarted { .. } | RunEvent::ItemFinished { .. } | RunEvent::StepFinished { last: true, .. } => {
                return Ok(None);
            }
        };
        let mut jobs = std::mem::take(&mut *lock(&self.held));
        Ok(Some(if jobs.is_empty() {
            job
        } else {
            jobs.push(job);
            together(jobs)
        }))
    }

    fn write(&self, event: &RunEvent) -> Result<(), StoreError> {
        match self.job(event)? {
            Some(job) => self.store.write_grouped(job),
            None => Ok(()),
        }
    }

    fn failed(&self, event: &RunEvent, e: StoreError) {
        tracing::error!(run_id = run_id(event), error = %e, "could not write the run's log");
        let mut storage = lock(&self.storage_error);
        if storage.is_none() {
            *storage = Some(format!("storage: {e}"));
        }
        drop(storage);
        let mut first = lock(&self.first_error);
        if first.is_none() {
            *first = Some(e);
        }
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
        }
    }
}

/// A run that could not be fully recorded did not succeed, whatever its steps did.
pub fn fail_for_storage(outcome: &mut RunOutcome, error: &str) {
    outcome.status = RunStatus::Failed;
    outcome.error = Some(error.to_string());
}

fn run_id(event: &RunEvent) -> &str {
    match event {
        RunEvent::RunStarted { run_id, .. }
        | RunEvent::StepStarted { run_id, .. }
        | RunEvent::ItemFinished { run_id, .. } => run_id,
        RunEvent::StepRetrying { record, .. } | RunEvent::StepFinished { record, .. } => &record.run_id,
        RunEvent::RunFinished { outcome, .. } => &outcome.run_id,
    }
}

impl RunLog {
    /// The step a `StepStarted` event puts in flight, started now.
    fn in_flight(&self, event: &RunEvent) -> Option<InFlightStep> {
        match event {
            RunEvent::StepStarted {
                step_number,
                provider,
                action,
                attempt,
                ..
            } => Some(InFlightStep {
                step_number: *step_number,
                provider: provider.clone(),
                action: action.clone(),
                attempt: *attempt,
                started_at: self.clock.now(),
            }),
            _ => None,
        }
    }

    /// [`RunLog::write`], awaiting a commit under way without blocking.
    async fn write_async(&self, event: &RunEvent) -> Result<(), StoreError> {
        match self.job(event)? {
            Some(job) => self.store.write_grouped_async(job).await,
            None => Ok(()),
        }
    }

    /// A run whose rows could not all be written ends failed, with the reason:
    /// the event to write instead of `event`, if it must change.
    fn failed_run(&self, event: &RunEvent) -> Option<RunEvent> {
        match (event, self.storage_error()) {
            (RunEvent::RunFinished { outcome }, Some(error)) => {
                let mut outcome = outcome.clone();
                fail_for_storage(&mut outcome, &error);
                Some(RunEvent::RunFinished { outcome })
            }
            _ => None,
        }
    }

    /// After `event` was written (or not): keep the error, pass the event on.
    fn written(&self, event: &RunEvent, written: Result<(), StoreError>) {
        if let Err(e) = written {
            if let RunEvent::RunFinished { outcome, .. } = event {
                let mut outcome = outcome.clone();
                fail_for_storage(&mut outcome, &format!("storage: {e}"));
                *lock(&self.unrecorded) = Some(outcome);
            }
            self.failed(event, e);
        }
        if let Some(forward) = &self.forward {
            match (event, self.storage_error()) {
                // The final write itself failed: say so, not what the steps did.
                (RunEvent::RunFinished { outcome }, Some(error)) if outcome.status == RunStatus::Success => {
                    let mut outcome = outcome.clone();
                    fail_for_storage(&mut outcome, &error);
                    forward.on_event(&RunEvent::RunFinished { outcome });
                }
                _ => forward.on_event(event),
            }
        }
    }
}

impl RunObserver for RunLog {
    fn on_event(&self, event: &RunEvent) {
        let failed_run = self.failed_run(event);
        let event = failed_run.as_ref().unwrap_or(event);
        let written = self.write(event);
        self.written(event, written);
    }

    /// The executor's way in: a run whose write comes while another run's
    /// commit is under way awaits it without blocking its thread, and the
    /// writes that gathered meanwhile are committed together.
    fn record<'a>(&'a self, event: &'a RunEvent) -> Recorded<'a> {
        Box::pin(async move {
            let failed_run = self.failed_run(event);
            let event = failed_run.as_ref().unwrap_or(event);
            let written = self.write_async(event).await;
            self.written(event, written);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use flowpilot_engine::{RunStatus, StepStatus};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn events_become_rows_and_the_last_step_lands_with_the_status() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        store.create_run(&new_run("r1", None, t(0))).unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let seen_by_callback = seen.clone();
        let log = RunLog::new(store.clone()).forward_to(Arc::new(move |_: &RunEvent| {
            seen_by_callback.fetch_add(1, Ordering::SeqCst);
        }));

        let retry = step("r1", 0, "http", StepStatus::Retrying, 3, t(1));
        let first = step("r1", 0, "http", StepStatus::Success, 9, t(2));
        let last = step("r1", 1, "llm", StepStatus::Success, 20, t(3));
        let events = [
            RunEvent::RunStarted {
                run_id: "r1".into(),
                plan_name: "Test plan".into(),
                step_count: 2,
                started_at: t(0),
            },
            RunEvent::StepStarted {
                run_id: "r1".into(),
                step_number: 0,
                provider: "http".into(),
                action: "act".into(),
                attempt: 1,
            },
            RunEvent::StepRetrying {
                record: retry.clone(),
                retry_in_ms: 500,
            },
            RunEvent::StepStarted {
                run_id: "r1".into(),
                step_number: 0,
                provider: "http".into(),
                action: "act".into(),
                attempt: 2,
            },
            RunEvent::StepFinished {
                record: first.clone(),
                last: false,
            },
        ];
        for e in &events {
            log.on_event(e);
        }
        // A finished step's row waits for the run's next write; until then the
        // step is still the one in flight.
        assert_eq!(store.step_logs("r1").unwrap(), vec![retry.clone()]);
        assert_eq!(store.get_run("r1").unwrap().in_flight.map(|s| s.step_number), Some(0));

        // The next step's start: the row and the new step in flight, one commit.
        log.on_event(&RunEvent::StepStarted {
            run_id: "r1".into(),
            step_number: 1,
            provider: "llm".into(),
            action: "chat".into(),
            attempt: 1,
        });
        assert_eq!(store.step_logs("r1").unwrap(), vec![retry.clone(), first.clone()]);
        assert_eq!(store.get_run("r1").unwrap().in_flight.map(|s| s.step_number), Some(1));

        // The last step is held back until the run finishes.
        log.on_event(&RunEvent::StepFinished {
            record: last.clone(),
            last: true,
        });
        assert_eq!(store.step_logs("r1").unwrap(), vec![retry.clone(), first.clone()]);
        assert_eq!(store.get_run("r1").unwrap().status, RunStatus::Running);

        let mut done = outcome("r1", RunStatus::Success, t(0), t(4));
        done.steps = vec![first.clone(), last.clone()];
        log.on_event(&RunEvent::RunFinished { outcome: done });
        assert_eq!(store.step_logs("r1").unwrap(), vec![retry, first, last]);
        let run = store.get_run("r1").unwrap();
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(run.finished_at, Some(t(4)));
        assert!(log.take_error().is_none());
        assert_eq!(seen.load(Ordering::SeqCst), 8, "every event is forwarded");
    }

    #[test]
    fn a_store_error_is_kept_not_panicked_on() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let forwarded = Arc::new(AtomicUsize::new(0));
        let counter = forwarded.clone();
        let log = RunLog::new(store.clone()).forward_to(Arc::new(move |_: &RunEvent| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        // No run was created: every write fails.
        log.on_event(&RunEvent::StepFinished {
            record: step("ghost", 0, "http", StepStatus::Success, 1, t(1)),
            last: false,
        });
        log.on_event(&RunEvent::RunFinished {
            outcome: outcome("other-ghost", RunStatus::Success, t(0), t(2)),
        });
        assert_eq!(
            forwarded.load(Ordering::SeqCst),
            2,
            "events are forwarded even when the write fails"
        );
        let err = log.take_error().unwrap();
        assert!(
            matches!(&err, StoreError::NotFound { what: "run", id } if id == "ghost"),
            "the first error is kept: {err:?}"
        );
        assert!(log.take_error().is_none());
    }

    #[test]
    fn a_write_that_cannot_be_stored_cancels_and_fails_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let store = Arc::new(Store::open(&path).unwrap());
        store.create_run(&new_run("r1", None, t(0))).unwrap();
        store
            .set_lock_wait(super::super::LockWait {
                timeout: std::time::Duration::from_millis(50),
                attempts: 2,
            })
            .unwrap();
        let cancel = CancellationToken::new();
        let finished = Arc::new(Mutex::new(None));
        let seen = finished.clone();
        let log = RunLog::new(store.clone())
            .cancel_on_failure(cancel.clone())
            .forward_to(Arc::new(move |e: &RunEvent| {
                if let RunEvent::RunFinished { outcome, .. } = e {
                    *lock(&seen) = Some(outcome.clone());
                }
            }));

        // Another program holds the write lock while a step starts.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        log.on_event(&RunEvent::StepStarted {
            run_id: "r1".into(),
            step_number: 0,
            provider: "http".into(),
            action: "request".into(),
            attempt: 1,
        });
        assert!(cancel.is_cancelled(), "the run stops once it cannot be recorded");
        other.execute_batch("ROLLBACK").unwrap();

        // The steps said success; the run did not succeed.
        log.on_event(&RunEvent::RunFinished {
            outcome: outcome("r1", RunStatus::Success, t(0), t(1)),
        });
        let run = store.get_run("r1").unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        let error = run.error.unwrap();
        assert!(error.starts_with("storage: the database stayed locked"), "{error}");
        let told = lock(&finished).clone().unwrap();
        assert_eq!(
            (told.status, told.error.as_deref()),
            (RunStatus::Failed, Some(error.as_str()))
        );
        assert!(matches!(log.take_error(), Some(StoreError::Busy { .. })));
        assert!(log.unrecorded().is_none(), "the final status was written");
    }
}
