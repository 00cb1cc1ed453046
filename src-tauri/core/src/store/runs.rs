//! Runs and their step logs.
//!
//! A run is created `running`, collects step rows while it runs, and is
//! finished exactly once: every write that changes a run's status is guarded by
//! `WHERE status = 'running'`, so a finished run (or one marked `interrupted`
//! after a crash) is never overwritten.
//!
//! Each run records which store created it (`owner`, see `owners.rs`); only
//! runs whose owner is gone are marked `interrupted` by crash recovery.

use super::in_flight::{InFlightStep, interrupted_error};
use super::owners::Probe;
use super::step_logs::{StepRow, insert_step};
use super::{
    Result, Store, StoreError, extended_code, get_opt_json, get_opt_ts, get_run_status, get_ts, get_u64, sql_int, ts,
};
use chrono::{DateTime, Utc};
use flowpilot_engine::{RunOutcome, RunStatus, StepRecord};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, Transaction, params, params_from_iter};
use serde::{Deserialize, Serialize};

/// The error recorded on runs found `running` after the store running them was
/// gone (the start of it, when a step was in flight: see
/// [`interrupted_error`](super::interrupted_error)).
pub const INTERRUPTED_ERROR: &str =
    "interrupted: Flowpilot stopped before this run finished (crash, forced quit or power loss)";

/// A run about to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    pub id: String,
    /// `None` for a plan that is not stored (e.g. `flowpilot-cli run plan.json`).
    pub plan_id: Option<String>,
    pub plan_name: String,
    /// What started it: `manual`, `cli`, `cron`, `catch_up`, ...
    pub trigger_kind: String,
    /// The fire this run is for; `(plan_id, scheduled_for)` is unique.
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The version of the stored plan it runs.
    pub plan_version: Option<u32>,
    /// The run it replays (trigger kind `replay`).
    pub replay_of: Option<String>,
    pub started_at: DateTime<Utc>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunRow {
    pub id: String,
    /// `None` if the run was not of a stored plan, or the plan was deleted.
    pub plan_id: Option<String>,
    pub plan_name: String,
    /// The version of the stored plan it ran (none for a plan file, or runs from before versions were recorded).
    pub plan_version: Option<u32>,
    /// What started it: `manual`, `cli`, `cron`, `catch_up`, `replay`...
    pub trigger_kind: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// The run this one replays.
    pub replay_of: Option<String>,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The step it is running now; on an interrupted run, the step that was in
    /// flight when Flowpilot stopped (its outcome is unknown).
    pub in_flight: Option<InFlightStep>,
}

/// Which runs to list; every field narrows the list. Times apply to `started_at`:
/// `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunFilter {
    pub plan_id: Option<String>,
    pub status: Option<RunStatus>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Default for Page {
    fn default() -> Self {
        Self { limit: 50, offset: 0 }
    }
}

const RUN_COLUMNS: &str = "id, plan_id, plan_name, trigger_kind, scheduled_for, status, started_at, finished_at, error, plan_version, replay_of, in_flight";

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: row.get(0)?,
        plan_id: row.get(1)?,
        plan_name: row.get(2)?,
        trigger_kind: row.get(3)?,
        scheduled_for: get_opt_ts(row, 4)?,
        status: get_run_status(row, 5)?,
        started_at: get_ts(row, 6)?,
        finished_at: get_opt_ts(row, 7)?,
        error: row.get(8)?,
        plan_version: row.get(9)?,
        replay_of: row.get(10)?,
        in_flight: get_opt_json(row, 11)?,
    })
}

pub(super) fn run_not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "run",
        id: id.to_string(),
    }
}

pub(super) fn run_status(tx: &Transaction<'_>, id: &str) -> Result<Option<RunStatus>> {
    Ok(tx
        .query_row("SELECT status FROM runs WHERE id = ?1", [id], |row| {
            get_run_status(row, 0)
        })
        .optional()?)
}

/// Why a guarded write to run `id` changed nothing: it is missing, or finished.
pub(super) fn not_running(tx: &Transaction<'_>, id: &str) -> StoreError {
    match run_status(tx, id) {
        Ok(None) => run_not_found(id),
        Ok(Some(status)) => StoreError::RunFinished {
            id: id.to_string(),
            status,
        },
        Err(e) => e,
    }
}

/// Mark the `running` runs of `owner` (`None`: runs with no owner recorded) as
/// `interrupted`, saying which step was in flight. Their `finished_at` is the
/// last sign of life: the latest step row, the start of the step in flight, or
/// the start of the run.
fn mark_interrupted(tx: &Transaction<'_>, owner: Option<&str>) -> Result<usize> {
    let runs: Vec<(String, Option<InFlightStep>)> = {
        let mut stmt = tx.prepare("SELECT id, in_flight FROM runs WHERE status = 'running' AND owner IS ?1")?;
        let rows = stmt.query_map([owner], |row| Ok((row.get(0)?, get_opt_json(row, 1)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let mut marked = 0;
    for (id, in_flight) in runs {
        marked += tx.execute(
            "UPDATE runs
             SET status = 'interrupted', owner = NULL,
                 finished_at = MAX(started_at,
                                   COALESCE((SELECT strftime('%Y-%m-%dT%H:%M:%fZ', MAX(s.at_ms) / 1000.0, 'unixepoch')
                                             FROM step_logs s WHERE s.run = runs.seq), started_at),
                                   COALESCE(?3, started_at)),
                 error = ?2
             WHERE id = ?1 AND status = 'running'",
            params![
                id,
                interrupted_error(in_flight.as_ref()),
                in_flight.as_ref().map(|s| ts(&s.started_at))
            ],
        )?;
    }
    Ok(marked)
}

/// Insert a run row (`running`, owned by `owner`), with the event that started
/// it if any; the errors of [`Store::create_run`].
pub(super) fn insert_run(tx: &Transaction<'_>, run: &NewRun, owner: &str, trigger_event: Option<&str>) -> Result<()> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO runs (id, plan_id, plan_name, trigger_kind, scheduled_for, status, started_at, owner,
                               plan_version, replay_of, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runs))",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                run.id,
                run.plan_id,
                run.plan_name,
                run.trigger_kind,
                run.scheduled_for.as_ref().map(ts),
                ts(&run.started_at),
                owner,
                run.plan_version,
                run.replay_of,
            ])
        });
    match inserted {
        Ok(_) => {
            // Beside the row, not in it: a step's write changes the row (see
            // the migration that made `run_events`).
            if let Some(event) = trigger_event {
                tx.prepare_cached("INSERT INTO run_events (run, event) SELECT seq, ?2 FROM runs WHERE id = ?1")?
                    .execute(params![run.id, event])?;
            }
            Ok(())
        }
        Err(e) => Err(match (extended_code(&e), &run.plan_id, run.scheduled_for) {
            (Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE), Some(plan_id), Some(scheduled_for)) => {
                StoreError::DuplicateFire {
                    plan_id: plan_id.clone(),
                    scheduled_for,
                }
            }
            (Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY), _, _) => StoreError::RunExists { id: run.id.clone() },
            (Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY), Some(plan_id), _) => StoreError::NotFound {
                what: "plan",
                id: plan_id.clone(),
            },
            _ => e.into(),
        }),
    }
}

/// The write of [`Store::finish_run`].
pub(super) fn finish_job(outcome: &RunOutcome, last_step: Option<&StepRecord>) -> Result<super::writer::Job> {
    if !outcome.status.is_finished() {
        return Err(StoreError::NotAFinalStatus {
            id: outcome.run_id.clone(),
        });
    }
    if let Some(step) = last_step
        && step.run_id != outcome.run_id
    {
        return Err(StoreError::WrongRun {
            expected: outcome.run_id.clone(),
            found: step.run_id.clone(),
        });
    }
    let mut last = last_step.map(StepRow::new).transpose()?;
    let run_id = outcome.run_id.clone();
    let status = outcome.status.as_str();
    let finished_at = ts(&outcome.finished_at);
    let error = outcome.error.clone();
    Ok(Box::new(move |tx| {
        let updated = tx
            .prepare_cached(
                "UPDATE runs SET status = ?2, finished_at = ?3, error = ?4, in_flight = NULL, owner = NULL
                 WHERE id = ?1 AND status = 'running'",
            )?
            .execute(params![run_id, status, finished_at, error])?;
        if updated == 0 {
            return Err(not_running(tx, &run_id));
        }
        if let Some(row) = last.as_mut() {
            insert_step(tx, row, false)?;
        }
        Ok(())
    }))
}

impl Store {
    /// Mark as `interrupted` the runs left `running` by a store that is gone
    /// (its process crashed, was killed, or lost power; or it was dropped
    /// mid-run), and return how many. [`Store::open`] calls it; a long-running
    /// process may call it again at any time.
    ///
    /// Runs of stores that are still open, here or in another process, are
    /// left alone, and so are this store's own. Runs with no owner recorded
    /// are orphans. A gone owner's lock file is deleted once its runs are marked.
    pub fn recover_orphaned_runs(&self) -> Result<usize> {
        let owners: Vec<Option<String>> = self.read(|tx| {
            let mut stmt = tx.prepare("SELECT DISTINCT owner FROM runs WHERE status = 'running'")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        let mut orphaned: Vec<Option<String>> = Vec::new();
        let mut stale_locks = Vec::new();
        for owner in owners {
            let Some(id) = owner else {
                orphaned.push(None);
                continue;
            };
            if id == self.owner.id() {
                continue;
            }
            match self.owner.probe(&id) {
                Probe::Alive => {}
                Probe::Gone(stale) => {
                    orphaned.push(Some(id));
                    stale_locks.extend(stale);
                }
                Probe::Unknown(e) => {
                    tracing::warn!(owner = %id, error = %e, "cannot tell whether a run's owner is alive; its runs stay running");
                }
            }
        }
        if orphaned.is_empty() {
            return Ok(0);
        }
        // The stale locks are still held here, so no one else acts on them meanwhile.
        let interrupted = self.write(|tx| {
            let mut n = 0;
            for owner in &orphaned {
                n += mark_interrupted(tx, owner.as_deref())?;
            }
            Ok(n)
        })?;
        for stale in stale_locks {
            stale.remove();
        }
        if interrupted > 0 {
            tracing::warn!(
                count = interrupted,
                "runs left running by a Flowpilot that is gone are marked interrupted"
            );
        }
        Ok(interrupted)
    }

    /// Record a run as started (`running`), owned by this store.
    ///
    /// Errors: [`StoreError::DuplicateFire`] if the plan already has a run for
    /// this `scheduled_for` (a double fire), [`StoreError::RunExists`] if the id
    /// is taken, [`StoreError::NotFound`] if `plan_id` names no plan.
    pub fn create_run(&self, run: &NewRun) -> Result<RunRow> {
        self.create_run_with_event(run, None)
    }

    /// [`Store::create_run`], with the event that started it stored beside it.
    pub fn create_run_with_event(&self, run: &NewRun, trigger_event: Option<&serde_json::Value>) -> Result<RunRow> {
        let event = trigger_event
            .map(|e| super::to_json("a trigger event", e))
            .transpose()?;
        self.write(|tx| insert_run(tx, run, self.owner.id(), event.as_deref()))?;
        Ok(RunRow {
            id: run.id.clone(),
            plan_id: run.plan_id.clone(),
            plan_name: run.plan_name.clone(),
            plan_version: run.plan_version,
            trigger_kind: run.trigger_kind.clone(),
            scheduled_for: run.scheduled_for,
            replay_of: run.replay_of.clone(),
            status: RunStatus::Running,
            started_at: run.started_at,
            finished_at: None,
            error: None,
            in_flight: None,
        })
    }

    /// Finish a run: its status, end time and error, and its last step row,
    /// in one transaction (both are written, or neither).
    ///
    /// A run that is no longer `running` is left exactly as it is and
    /// [`StoreError::RunFinished`] is returned (with the status it keeps);
    /// [`StoreError::NotAFinalStatus`] if `outcome.status` is `running`.
    pub fn finish_run(&self, outcome: &RunOutcome, last_step: Option<&StepRecord>) -> Result<()> {
        self.write_grouped(finish_job(outcome, last_step)?)
    }

    /// [`Store::finish_run`] as a future: committed at once when no other
    /// write is, else awaited (not blocking) with the next group.
    pub fn finish_run_async(
        &self,
        outcome: &RunOutcome,
        last_step: Option<&StepRecord>,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let written = finish_job(outcome, last_step).map(|job| self.write_grouped_async(job));
        async move { written?.await }
    }

    pub fn get_run(&self, id: &str) -> Result<RunRow> {
        self.read(|tx| {
            tx.query_row(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"), [id], run_row)
                .optional()?
                .ok_or_else(|| run_not_found(id))
        })
    }

    /// Runs matching `filter`, newest first, one page of them, and how many match in all.
    pub fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRow>, u64)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        let mut add = |clause: &str, value: String| {
            args.push(SqlValue::Text(value));
            clauses.push(format!("{clause} ?{}", args.len()));
        };
        if let Some(plan_id) = &filter.plan_id {
            add("plan_id =", plan_id.clone());
        }
        if let Some(status) = filter.status {
            add("status =", status.as_str().to_string());
        }
        if let Some(since) = filter.since {
            add("started_at >=", ts(&since));
        }
        if let Some(until) = filter.until {
            add("started_at <", ts(&until));
        }
        let condition = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        self.read(|tx| {
            let total = tx.query_row(
                &format!("SELECT COUNT(*) FROM runs {condition}"),
                params_from_iter(args.iter()),
                |row| get_u64(row, 0),
            )?;
            let n = args.len();
            let mut stmt = tx.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs {condition}
                 ORDER BY started_at DESC, id DESC LIMIT ?{} OFFSET ?{}",
                n + 1,
                n + 2
            ))?;
            let mut all = args.clone();
            all.push(SqlValue::Integer(i64::from(page.limit)));
            all.push(SqlValue::Integer(sql_int(page.offset)));
            let rows = stmt.query_map(params_from_iter(all.iter()), run_row)?;
            Ok((rows.collect::<rusqlite::Result<Vec<_>>>()?, total))
        })
    }

    /// The runs that replay `run_id`, newest first.
    pub fn replays_of(&self, run_id: &str) -> Result<Vec<RunRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE replay_of = ?1 ORDER BY started_at DESC, id DESC"
            ))?;
            let rows = stmt.query_map([run_id], run_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

#[cfg(test)]
mod tests;
