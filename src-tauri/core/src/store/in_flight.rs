//! The step a run is in the middle of, written durably before the step runs
//! and cleared when its row is written ([`Store::append_step`],
//! [`Store::finish_run`]): after a crash, the interrupted run says which step was
//! in flight and that its outcome is unknown.

use super::runs::{INTERRUPTED_ERROR, not_running};
use super::{Result, Store, to_json};
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// The step a run was in the middle of: recorded durably before the step runs,
/// cleared when its row is written. On a run that was interrupted, it is the
/// step whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct InFlightStep {
    /// From 0 (people are told positions from 1).
    pub step_number: usize,
    pub provider: String,
    pub action: String,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
}

/// The error of an interrupted run: what happened, and the step in flight if any.
pub fn interrupted_error(in_flight: Option<&InFlightStep>) -> String {
    match in_flight {
        None => INTERRUPTED_ERROR.to_string(),
        Some(s) => format!(
            "{INTERRUPTED_ERROR}; step {} ({}.{}, attempt {}) was in flight: its outcome is unknown, it may or may not have taken effect",
            s.step_number + 1,
            s.provider,
            s.action,
            s.attempt
        ),
    }
}

impl Store {
    /// Record, durably, that a step of a running run is starting (attempt by
    /// attempt), before it runs: after a crash the run says which step was in
    /// flight. Cleared when the step's row is written.
    pub fn mark_step_started(&self, run_id: &str, step: &InFlightStep) -> Result<()> {
        self.write_grouped(started_job(run_id, step)?)
    }

    /// [`Store::mark_step_started`] as a future: committed at once when no
    /// other write is, else awaited (not blocking) with the next group.
    pub fn mark_step_started_async(
        &self,
        run_id: &str,
        step: &InFlightStep,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let written = started_job(run_id, step).map(|job| self.write_grouped_async(job));
        async move { written?.await }
    }
}

/// The write of [`Store::mark_step_started`].
pub(super) fn started_job(run_id: &str, step: &InFlightStep) -> Result<super::writer::Job> {
    let json = to_json("the step in flight", step)?;
    let run_id = run_id.to_string();
    Ok(Box::new(move |tx| {
        let updated = tx
            .prepare_cached("UPDATE runs SET in_flight = ?2 WHERE id = ?1 AND status = 'running'")?
            .execute(params![run_id, json])?;
        if updated == 0 {
            return Err(not_running(tx, &run_id));
        }
        Ok(())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use crate::store::test_support::*;
    use flowpilot_engine::{RunStatus, StepStatus};

    #[test]
    fn a_crash_mid_step_leaves_which_step_was_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let a = Store::open(&path).unwrap();
        a.create_run(&new_run("r1", None, t(0))).unwrap();
        let first = InFlightStep {
            step_number: 0,
            provider: "http".into(),
            action: "request".into(),
            attempt: 1,
            started_at: t(1),
        };
        a.mark_step_started("r1", &first).unwrap();
        assert_eq!(a.get_run("r1").unwrap().in_flight.as_ref(), Some(&first));
        a.append_step(&step("r1", 0, "http", StepStatus::Success, 5, t(2)))
            .unwrap();
        assert_eq!(a.get_run("r1").unwrap().in_flight, None, "its row clears it");
        let second = InFlightStep {
            step_number: 1,
            provider: "webhook".into(),
            action: "post_request".into(),
            attempt: 2,
            started_at: t(3),
        };
        a.mark_step_started("r1", &second).unwrap();
        a.simulate_crash();

        let b = Store::open(&path).unwrap();
        let run = b.get_run("r1").unwrap();
        assert_eq!(run.status, RunStatus::Interrupted);
        assert_eq!(run.in_flight.as_ref(), Some(&second), "the run detail keeps it");
        assert_eq!(run.finished_at, Some(t(3)), "its last sign of life is the step's start");
        let error = run.error.unwrap();
        assert!(error.starts_with(INTERRUPTED_ERROR), "{error}");
        assert!(
            error.contains("step 2 (webhook.post_request, attempt 2) was in flight: its outcome is unknown"),
            "{error}"
        );
        // A finished run cannot be marked.
        assert!(matches!(
            b.mark_step_started("r1", &first),
            Err(StoreError::RunFinished { .. })
        ));
    }
}
