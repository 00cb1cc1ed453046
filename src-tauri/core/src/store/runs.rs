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
             SET status = 'interrupted',
                 finished_at = MAX(started_at,
                                   COALESCE((SELECT MAX(s.timestamp) FROM step_logs s WHERE s.run_id = runs.id), started_at),
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
    let inserted = tx.execute(
        "INSERT INTO runs (id, plan_id, plan_name, trigger_kind, scheduled_for, status, started_at, owner,
                           plan_version, replay_of, trigger_event)
         VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7, ?8, ?9, ?10)",
        params![
            run.id,
            run.plan_id,
            run.plan_name,
            run.trigger_kind,
            run.scheduled_for.as_ref().map(ts),
            ts(&run.started_at),
            owner,
            run.plan_version,
            run.replay_of,
            trigger_event,
        ],
    );
    match inserted {
        Ok(_) => Ok(()),
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
        self.write(|tx| {
            let updated = tx.execute(
                "UPDATE runs SET status = ?2, finished_at = ?3, error = ?4, in_flight = NULL
                 WHERE id = ?1 AND status = 'running'",
                params![
                    outcome.run_id,
                    outcome.status.as_str(),
                    ts(&outcome.finished_at),
                    outcome.error
                ],
            )?;
            if updated == 0 {
                return Err(not_running(tx, &outcome.run_id));
            }
            if let Some(step) = last_step {
                super::step_logs::insert_step(tx, step, false)?;
            }
            Ok(())
        })
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
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use chrono::Duration;
    use flowpilot_engine::StepStatus;
    use serde_json::{Value, json};

    #[test]
    fn a_run_and_its_steps_round_trip() {
        let (_dir, store) = temp_store();
        let plan = store.create_plan(&plan_file("P"), t(0)).unwrap();
        let created = store.create_run(&new_run("r1", Some(&plan.id), t(10))).unwrap();
        assert_eq!(created.status, RunStatus::Running);
        assert_eq!(store.get_run("r1").unwrap(), created);

        let mut retry = step("r1", 0, "http", StepStatus::Retrying, 40, t(11));
        retry.output = Value::Null;
        let mut first = step("r1", 0, "http", StepStatus::Success, 90, t(12));
        first.attempt = 2;
        first.output = json!({"body": "x".repeat(1000), "list": [1, 2, {"deep": null}]});
        let last = step("r1", 1, "llm", StepStatus::Error, 5, t(13));
        store.append_step(&retry).unwrap();
        store.append_step(&first).unwrap();
        store
            .finish_run(&outcome("r1", RunStatus::Failed, t(10), t(14)), Some(&last))
            .unwrap();

        assert_eq!(store.step_logs("r1").unwrap(), vec![retry, first, last]);
        let run = store.get_run("r1").unwrap();
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.finished_at, Some(t(14)));
        assert_eq!(run.error.as_deref(), Some("it went failed"));
        assert!(matches!(
            store.step_logs("nope"),
            Err(StoreError::NotFound { what: "run", .. })
        ));
        assert!(matches!(
            store.get_run("nope"),
            Err(StoreError::NotFound { what: "run", .. })
        ));
    }

    #[test]
    fn finish_is_atomic_and_never_overwrites() {
        let (_dir, store) = temp_store();
        store.create_run(&new_run("r1", None, t(0))).unwrap();
        // Make the last step's insert fail, after the run's update has run.
        store
            .lock()
            .execute_batch(
                "CREATE TEMP TRIGGER refuse_step BEFORE INSERT ON step_logs WHEN NEW.step_number = 99
                 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
            )
            .unwrap();
        let doomed = step("r1", 99, "http", StepStatus::Success, 1, t(1));
        let err = store
            .finish_run(&outcome("r1", RunStatus::Success, t(0), t(2)), Some(&doomed))
            .unwrap_err();
        assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
        let run = store.get_run("r1").unwrap();
        assert_eq!(
            run.status,
            RunStatus::Running,
            "the status must roll back with the step"
        );
        assert_eq!(run.finished_at, None);
        assert!(store.step_logs("r1").unwrap().is_empty());

        let last = step("r1", 0, "http", StepStatus::Success, 1, t(1));
        store
            .finish_run(&outcome("r1", RunStatus::Success, t(0), t(2)), Some(&last))
            .unwrap();
        assert_eq!(store.get_run("r1").unwrap().status, RunStatus::Success);

        // A second finish, and a late step, change nothing.
        let again = step("r1", 1, "http", StepStatus::Error, 1, t(3));
        let err = store
            .finish_run(&outcome("r1", RunStatus::Failed, t(0), t(4)), Some(&again))
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::RunFinished { id, status: RunStatus::Success } if id == "r1"),
            "{err:?}"
        );
        assert!(matches!(
            store.append_step(&again),
            Err(StoreError::RunFinished {
                status: RunStatus::Success,
                ..
            })
        ));
        let run = store.get_run("r1").unwrap();
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(run.finished_at, Some(t(2)));
        assert_eq!(run.error.as_deref(), None);
        assert_eq!(store.step_logs("r1").unwrap(), vec![last]);

        assert!(matches!(
            store.finish_run(&outcome("r1", RunStatus::Running, t(0), t(4)), None),
            Err(StoreError::NotAFinalStatus { .. })
        ));
        assert!(matches!(
            store.finish_run(&outcome("ghost", RunStatus::Success, t(0), t(4)), None),
            Err(StoreError::NotFound { what: "run", .. })
        ));
        assert!(matches!(
            store.append_step(&step("ghost", 0, "http", StepStatus::Success, 1, t(1))),
            Err(StoreError::NotFound { what: "run", .. })
        ));
        assert!(matches!(
            store.finish_run(
                &outcome("r1", RunStatus::Success, t(0), t(4)),
                Some(&step("other", 0, "http", StepStatus::Success, 1, t(1)))
            ),
            Err(StoreError::WrongRun { .. })
        ));
    }

    #[test]
    fn a_double_fire_is_refused() {
        let (_dir, store) = temp_store();
        let plan = store.create_plan(&plan_file("Cron"), t(0)).unwrap();
        let fire = t(3600);
        let scheduled = |id: &str| NewRun {
            scheduled_for: Some(fire),
            trigger_kind: "cron".into(),
            ..new_run(id, Some(&plan.id), fire)
        };
        store.create_run(&scheduled("a")).unwrap();
        let err = store.create_run(&scheduled("b")).unwrap_err();
        assert!(
            matches!(&err, StoreError::DuplicateFire { plan_id, scheduled_for } if *plan_id == plan.id && *scheduled_for == fire),
            "{err:?}"
        );
        assert!(matches!(store.get_run("b"), Err(StoreError::NotFound { .. })));
        // Another fire time, or runs without a fire time, are fine.
        store
            .create_run(&NewRun {
                scheduled_for: Some(fire + Duration::hours(1)),
                ..scheduled("c")
            })
            .unwrap();
        store.create_run(&new_run("d", Some(&plan.id), fire)).unwrap();
        store.create_run(&new_run("e", Some(&plan.id), fire)).unwrap();

        assert!(matches!(
            store.create_run(&new_run("a", None, fire)),
            Err(StoreError::RunExists { id }) if id == "a"
        ));
        assert!(matches!(
            store.create_run(&new_run("f", Some("no-such-plan"), fire)),
            Err(StoreError::NotFound { what: "plan", .. })
        ));
    }

    #[test]
    fn a_crash_leaves_runs_interrupted_and_finished_runs_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let store = Store::open(&path).unwrap();
        store.create_run(&new_run("crashed", None, t(0))).unwrap();
        store
            .append_step(&step("crashed", 0, "http", StepStatus::Success, 5, t(7)))
            .unwrap();
        store.create_run(&new_run("silent", None, t(20))).unwrap();
        store.create_run(&new_run("done", None, t(0))).unwrap();
        store
            .finish_run(&outcome("done", RunStatus::Cancelled, t(0), t(3)), None)
            .unwrap();
        // Crash: the connection is never closed, the WAL never checkpointed,
        // the owner's lock is released but its file left behind.
        store.simulate_crash();

        let store = Store::open(&path).unwrap();
        let crashed = store.get_run("crashed").unwrap();
        assert_eq!(crashed.status, RunStatus::Interrupted);
        assert_eq!(crashed.finished_at, Some(t(7)), "ends at its last step");
        assert_eq!(crashed.error.as_deref(), Some(INTERRUPTED_ERROR));
        let silent = store.get_run("silent").unwrap();
        assert_eq!(silent.status, RunStatus::Interrupted);
        assert_eq!(silent.finished_at, Some(t(20)), "no steps: ends at its start");
        let done = store.get_run("done").unwrap();
        assert_eq!(done.status, RunStatus::Cancelled);
        assert_eq!(done.finished_at, Some(t(3)));
        assert_eq!(done.error.as_deref(), Some("it went cancelled"));

        // The crashed process's late writes are refused.
        assert!(matches!(
            store.finish_run(&outcome("crashed", RunStatus::Success, t(0), t(30)), None),
            Err(StoreError::RunFinished {
                status: RunStatus::Interrupted,
                ..
            })
        ));
        assert_eq!(store.get_run("crashed").unwrap().status, RunStatus::Interrupted);
    }

    fn owner_of(store: &Store, run_id: &str) -> Option<String> {
        store
            .lock()
            .query_row("SELECT owner FROM runs WHERE id = ?1", [run_id], |r| r.get(0))
            .unwrap()
    }

    fn lock_file(store: &Store) -> std::path::PathBuf {
        store.owner.path().to_path_buf()
    }

    #[test]
    fn runs_of_a_store_still_open_are_left_alone_until_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let a = Store::open(&path).unwrap();
        a.create_run(&new_run("a1", None, t(0))).unwrap();
        a.append_step(&step("a1", 0, "http", StepStatus::Success, 5, t(4)))
            .unwrap();
        assert_eq!(owner_of(&a, "a1").as_deref(), Some(a.owner.id()));
        let a_lock = lock_file(&a);
        assert_eq!(a_lock.parent(), Some(dir.path().join("owners").as_path()));
        // Locks conflict per open file, so another handle in this very process
        // cannot take A's lock: that is what lets B below see A as alive.
        let probe = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&a_lock)
            .unwrap();
        assert!(matches!(probe.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(probe);

        // B opens the same file (the CLI starting while the app runs a1).
        let b = Store::open(&path).unwrap();
        assert_ne!(a.owner.id(), b.owner.id());
        assert_eq!(b.get_run("a1").unwrap().status, RunStatus::Running);
        assert_eq!(b.recover_orphaned_runs().unwrap(), 0);
        assert_eq!(
            a.recover_orphaned_runs().unwrap(),
            0,
            "a store never recovers its own runs"
        );
        // A carries on writing a1.
        a.append_step(&step("a1", 1, "http", StepStatus::Success, 5, t(6)))
            .unwrap();
        b.create_run(&new_run("b1", None, t(5))).unwrap();

        // A goes away mid-run, its lock file with it.
        drop(a);
        assert!(!a_lock.exists());
        let c = Store::open(&path).unwrap();
        let a1 = c.get_run("a1").unwrap();
        assert_eq!(a1.status, RunStatus::Interrupted);
        assert_eq!(a1.finished_at, Some(t(6)), "ends at its last step");
        assert_eq!(a1.error.as_deref(), Some(INTERRUPTED_ERROR));
        assert_eq!(c.get_run("b1").unwrap().status, RunStatus::Running, "B is still open");

        // A long-running store can recover later too: C goes away mid-run.
        c.create_run(&new_run("c1", None, t(8))).unwrap();
        drop(c);
        assert_eq!(b.recover_orphaned_runs().unwrap(), 1);
        let c1 = b.get_run("c1").unwrap();
        assert_eq!((c1.status, c1.finished_at), (RunStatus::Interrupted, Some(t(8))));
        assert_eq!(b.recover_orphaned_runs().unwrap(), 0);

        // B's run was never touched: it finishes normally.
        b.finish_run(&outcome("b1", RunStatus::Success, t(5), t(9)), None)
            .unwrap();
        assert_eq!(b.get_run("b1").unwrap().status, RunStatus::Success);
        let lock_files: Vec<_> = std::fs::read_dir(dir.path().join("owners"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(lock_files, vec![lock_file(&b)], "only the open store has a lock file");
    }

    #[test]
    fn a_run_with_no_owner_is_interrupted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let a = Store::open(&path).unwrap();
        a.create_run(&new_run("legacy", None, t(0))).unwrap();
        a.create_run(&new_run("owned", None, t(1))).unwrap();
        // As written before runs had owners.
        a.lock()
            .execute("UPDATE runs SET owner = NULL WHERE id = 'legacy'", [])
            .unwrap();

        let b = Store::open(&path).unwrap();
        let legacy = b.get_run("legacy").unwrap();
        assert_eq!(legacy.status, RunStatus::Interrupted);
        assert_eq!(legacy.finished_at, Some(t(0)));
        assert_eq!(legacy.error.as_deref(), Some(INTERRUPTED_ERROR));
        assert_eq!(b.get_run("owned").unwrap().status, RunStatus::Running);
    }

    #[test]
    fn a_stale_lock_file_means_its_owner_is_gone_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let a = Store::open(&path).unwrap();
        a.create_run(&new_run("crashed", None, t(0))).unwrap();
        let a_lock = lock_file(&a);
        a.simulate_crash();
        assert!(a_lock.exists(), "a crash leaves the lock file behind, unlocked");

        let b = Store::open(&path).unwrap();
        assert_eq!(b.get_run("crashed").unwrap().status, RunStatus::Interrupted);
        assert!(!a_lock.exists(), "the stale lock file is removed");

        // An owner whose lock file is missing altogether is gone too; an owner
        // that is not a UUID never becomes a path (and is not a live store).
        let victim = dir.path().join("victim.lock");
        std::fs::write(&victim, b"keep me").unwrap();
        let missing = uuid::Uuid::now_v7().to_string();
        for (id, owner) in [("no-file", missing.as_str()), ("odd", "../victim")] {
            b.create_run(&new_run(id, None, t(10))).unwrap();
            b.lock()
                .execute("UPDATE runs SET owner = ?2 WHERE id = ?1", [id, owner])
                .unwrap();
        }
        let c = Store::open(&path).unwrap();
        for id in ["no-file", "odd"] {
            assert_eq!(c.get_run(id).unwrap().status, RunStatus::Interrupted, "{id}");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(!dir.path().join("owners").join(format!("{missing}.lock")).exists());
    }

    #[test]
    fn list_runs_filters_and_pages_newest_first() {
        let (_dir, store) = temp_store();
        let a = store.create_plan(&plan_file("A"), t(0)).unwrap();
        let b = store.create_plan(&plan_file("B"), t(0)).unwrap();
        for i in 0..10 {
            let plan = if i % 2 == 0 { &a.id } else { &b.id };
            let id = format!("r{i}");
            store.create_run(&new_run(&id, Some(plan), t(i * 60))).unwrap();
            if i != 9 {
                let status = if i % 3 == 0 {
                    RunStatus::Failed
                } else {
                    RunStatus::Success
                };
                store
                    .finish_run(&outcome(&id, status, t(i * 60), t(i * 60 + 1)), None)
                    .unwrap();
            }
        }
        let ids = |rows: &[RunRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();

        let (rows, total) = store
            .list_runs(&RunFilter::default(), Page { limit: 3, offset: 0 })
            .unwrap();
        assert_eq!(total, 10);
        assert_eq!(ids(&rows), ["r9", "r8", "r7"]);
        let (rows, _) = store
            .list_runs(&RunFilter::default(), Page { limit: 3, offset: 8 })
            .unwrap();
        assert_eq!(ids(&rows), ["r1", "r0"]);

        let (rows, total) = store
            .list_runs(
                &RunFilter {
                    plan_id: Some(a.id.clone()),
                    ..Default::default()
                },
                Page::default(),
            )
            .unwrap();
        assert_eq!(total, 5);
        assert_eq!(ids(&rows), ["r8", "r6", "r4", "r2", "r0"]);

        let (rows, total) = store
            .list_runs(
                &RunFilter {
                    status: Some(RunStatus::Failed),
                    since: Some(t(60)),
                    until: Some(t(6 * 60)),
                    ..Default::default()
                },
                Page::default(),
            )
            .unwrap();
        assert_eq!(total, 1);
        assert_eq!(ids(&rows), ["r3"]);

        let (rows, total) = store
            .list_runs(
                &RunFilter {
                    status: Some(RunStatus::Running),
                    ..Default::default()
                },
                Page::default(),
            )
            .unwrap();
        assert_eq!((ids(&rows), total), (vec!["r9".to_string()], 1));
    }
}
