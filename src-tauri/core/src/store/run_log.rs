//! [`RunLog`]: the run observer that writes a run's events to the store as
//! they happen.

use super::{Store, StoreError};
use flowpilot_engine::{RunEvent, RunObserver};
use std::sync::{Arc, Mutex};

/// Writes a run's progress durably, as the executor reports it:
///
/// - `StepRetrying` -> a `retrying` step row;
/// - `StepFinished { last: false }` -> the step's row;
/// - `StepFinished { last: true }` -> nothing yet: the row comes again as the
///   last of `RunFinished`'s steps, and is written with the run's final status
///   in one transaction;
/// - `RunFinished` -> [`Store::finish_run`].
///
/// The run itself must already exist ([`Store::create_run`], before the
/// executor starts). A store error never panics and never stops the run: it is
/// logged, and the first one is kept for [`RunLog::take_error`]. Every event is
/// then passed on to the optional observer (for live progress in the UI), after
/// it has been written.
pub struct RunLog {
    store: Arc<Store>,
    forward: Option<Arc<dyn RunObserver>>,
    first_error: Mutex<Option<StoreError>>,
}

impl std::fmt::Debug for RunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLog")
            .field("forward", &self.forward.is_some())
            .field("first_error", &self.first_error)
            .finish_non_exhaustive()
    }
}

impl RunLog {
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            forward: None,
            first_error: Mutex::new(None),
        }
    }

    /// Also pass every event to `observer` (a closure will do), after it has been written.
    pub fn forward_to(mut self, observer: Arc<dyn RunObserver>) -> Self {
        self.forward = Some(observer);
        self
    }

    /// The first store error since the last call, if any.
    pub fn take_error(&self) -> Option<StoreError> {
        self.first_error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn write(&self, event: &RunEvent) -> Result<(), StoreError> {
        match event {
            RunEvent::StepRetrying { record, .. } | RunEvent::StepFinished { record, last: false } => {
                self.store.append_step(record)
            }
            RunEvent::RunFinished { outcome } => self.store.finish_run(outcome, outcome.steps.last()),
            // Items are written with their step's row; the last row with the run's status.
            RunEvent::RunStarted { .. }
            | RunEvent::StepStarted { .. }
            | RunEvent::ItemFinished { .. }
            | RunEvent::StepFinished { last: true, .. } => Ok(()),
        }
    }
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

impl RunObserver for RunLog {
    fn on_event(&self, event: &RunEvent) {
        if let Err(e) = self.write(event) {
            tracing::error!(run_id = run_id(event), error = %e, "could not write the run's log");
            let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                *first = Some(e);
            }
        }
        if let Some(forward) = &self.forward {
            forward.on_event(event);
        }
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
            RunEvent::StepFinished {
                record: first.clone(),
                last: false,
            },
            RunEvent::StepFinished {
                record: last.clone(),
                last: true,
            },
        ];
        for e in &events {
            log.on_event(e);
        }
        // The last step is held back until the run finishes.
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
        assert_eq!(seen.load(Ordering::SeqCst), 6, "every event is forwarded");
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
}
