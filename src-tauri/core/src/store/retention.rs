//! Retention: delete old runs (their step logs go with them) and give the space
//! back to the file system.

use super::connection::checkpoint;
use super::{Result, Store, get_u64, sql_int, ts};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

/// Which finished runs to keep. A run is deleted if any rule says so; a
/// `running` run is never deleted, and neither is each stored plan's most
/// recent `failed` or `interrupted` run (with its step outputs, so it can always
/// be replayed). Ages are measured from `started_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RetentionPolicy {
    /// Runs older than this are deleted (failures excepted, see below).
    pub max_age_days: u32,
    /// Only the newest this many finished runs are kept, whatever their status.
    pub max_runs: u64,
    /// Failures (`failed`, `interrupted`) are kept this long instead.
    pub failed_max_age_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            max_age_days: 30,
            max_runs: 10_000,
            failed_max_age_days: 90,
        }
    }
}

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PruneReport {
    pub runs_deleted: u64,
    /// How much smaller the database got (pages given back to the file system).
    pub bytes_freed: u64,
}

/// The database's size in pages times the page size (what the main file
/// holds once the WAL is checkpointed).
fn db_bytes(conn: &Connection) -> Result<u64> {
    Ok(conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |row| get_u64(row, 0),
    )?)
}

/// `now - days` as stored text; if that is before year 0, an empty string
/// (which nothing sorts before, so nothing is too old).
fn cutoff(now: DateTime<Utc>, days: u32) -> String {
    now.checked_sub_signed(Duration::days(i64::from(days)))
        .filter(|t| t.format("%Y").to_string().len() == 4)
        .map(|t| ts(&t))
        .unwrap_or_default()
}

impl Store {
    /// Delete the runs `policy` no longer keeps, then shrink the file:
    /// `PRAGMA incremental_vacuum` and a `wal_checkpoint(TRUNCATE)`.
    pub fn prune(&self, policy: &RetentionPolicy, now: DateTime<Utc>) -> Result<PruneReport> {
        let mut conn = self.lock();
        let before = db_bytes(&conn)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = tx.execute(
            "DELETE FROM runs
             WHERE status != 'running'
               AND id NOT IN (SELECT id FROM (
                     SELECT id, ROW_NUMBER() OVER (PARTITION BY plan_id ORDER BY started_at DESC, id DESC) AS newest
                     FROM runs WHERE plan_id IS NOT NULL AND status IN ('failed', 'interrupted'))
                   WHERE newest = 1)
               AND (   (status IN ('failed', 'interrupted') AND started_at < ?2)
                    OR (status NOT IN ('failed', 'interrupted') AND started_at < ?1)
                    OR id IN (SELECT id FROM runs WHERE status != 'running'
                              ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?3))",
            params![
                cutoff(now, policy.max_age_days),
                cutoff(now, policy.failed_max_age_days),
                sql_int(policy.max_runs)
            ],
        )?;
        // The hours of the deleted runs, summed again for the Dashboard.
        super::stats_hours::refresh_stale(&tx)?;
        tx.commit()?;

        // Each row of `incremental_vacuum` is one page given back: step through them all.
        {
            let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        checkpoint(&conn)?;
        let after = db_bytes(&conn)?;
        let report = PruneReport {
            runs_deleted: u64::try_from(deleted).unwrap_or(u64::MAX),
            bytes_freed: before.saturating_sub(after),
        };
        tracing::info!(
            runs_deleted = report.runs_deleted,
            bytes_freed = report.bytes_freed,
            "pruned old runs"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use crate::store::{NewRun, RunFilter};
    use flowpilot_engine::{RunStatus, StepStatus};
    use std::collections::BTreeSet;

    fn kept_ids(store: &Store) -> BTreeSet<String> {
        let (rows, total) = store
            .list_runs(
                &RunFilter::default(),
                crate::store::Page {
                    limit: u32::MAX,
                    offset: 0,
                },
            )
            .unwrap();
        assert_eq!(rows.len() as u64, total);
        rows.into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn prune_by_age_keeps_failures_longer_and_really_shrinks_the_file() {
        let (dir, store) = temp_store();
        let path = dir.path().join("flowpilot.db");
        let now = t(0);
        let big = "x".repeat(12 * 1024);
        // Run i started i hours ago; every tenth failed.
        for i in 0..2000i64 {
            let id = format!("run-{i:04}");
            let started = now - Duration::hours(i);
            store.create_run(&new_run(&id, None, started)).unwrap();
            let mut last = step(&id, 0, "http", StepStatus::Success, 10, started);
            last.output = serde_json::Value::String(format!("{i}{big}"));
            let status = if i % 10 == 0 {
                RunStatus::Failed
            } else {
                RunStatus::Success
            };
            store
                .finish_run(&outcome(&id, status, started, started), Some(&last))
                .unwrap();
        }
        // Very old, but still running: never deleted.
        store
            .create_run(&NewRun {
                id: "still-running".into(),
                ..new_run("", None, now - Duration::days(100))
            })
            .unwrap();
        store.checkpoint().unwrap();
        let size_before = std::fs::metadata(&path).unwrap().len();

        let policy = RetentionPolicy {
            max_age_days: 30,
            max_runs: 10_000,
            failed_max_age_days: 60,
        };
        let report = store.prune(&policy, now).unwrap();

        let mut expected: BTreeSet<String> = (0..2000i64)
            // Exactly at the limit is not older than it: kept.
            .filter(|i| if i % 10 == 0 { *i <= 60 * 24 } else { *i <= 30 * 24 })
            .map(|i| format!("run-{i:04}"))
            .collect();
        expected.insert("still-running".into());
        let kept = kept_ids(&store);
        assert_eq!(kept.len(), 648 + 145 + 1);
        assert_eq!(kept, expected);
        assert_eq!(report.runs_deleted, 2001 - 794);

        // Step logs went with their runs.
        let step_rows: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM step_logs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(step_rows, 793);
        assert_eq!(store.step_logs("run-0719").unwrap().len(), 1);
        assert_eq!(store.step_logs("run-1440").unwrap().len(), 1);
        assert!(store.get_run("run-0721").is_err() && store.get_run("run-1450").is_err());

        // The main file really shrank, by what the report says.
        let size_after = std::fs::metadata(&path).unwrap().len();
        assert!(
            size_after * 2 < size_before,
            "file went from {size_before} to {size_after} bytes"
        );
        assert_eq!(report.bytes_freed, size_before - size_after);
        let free_pages: i64 = store
            .lock()
            .pragma_query_value(None, "freelist_count", |r| r.get(0))
            .unwrap();
        assert_eq!(free_pages, 0);

        // Nothing more to do the second time.
        let again = store.prune(&policy, now).unwrap();
        assert_eq!(again.runs_deleted, 0);
        assert_eq!(kept_ids(&store), expected);
    }

    #[test]
    fn prune_by_count_keeps_the_newest() {
        let (_dir, store) = temp_store();
        let now = t(0);
        for i in 0..50i64 {
            let id = format!("run-{i:02}");
            let started = now - Duration::minutes(i);
            store.create_run(&new_run(&id, None, started)).unwrap();
            let status = if i % 4 == 0 {
                RunStatus::Failed
            } else {
                RunStatus::Success
            };
            store.finish_run(&outcome(&id, status, started, started), None).unwrap();
        }
        // Older than all of them and running: neither counted nor deleted.
        store
            .create_run(&NewRun {
                id: "running".into(),
                ..new_run("", None, now - Duration::hours(5))
            })
            .unwrap();

        let report = store
            .prune(
                &RetentionPolicy {
                    max_runs: 20,
                    ..RetentionPolicy::default()
                },
                now,
            )
            .unwrap();
        assert_eq!(report.runs_deleted, 30);
        let mut expected: BTreeSet<String> = (0..20).map(|i| format!("run-{i:02}")).collect();
        expected.insert("running".into());
        assert_eq!(kept_ids(&store), expected);
    }

    #[test]
    fn each_plans_latest_failure_is_kept_for_its_replay() {
        let (_dir, store) = temp_store();
        let now = t(0);
        let a = store.create_plan(&plan_file("A"), now).unwrap();
        let b = store.create_plan(&plan_file("B"), now).unwrap();
        let finish = |id: &str, plan: Option<&str>, days_ago: i64, status: RunStatus| {
            let started = now - Duration::days(days_ago);
            store.create_run(&new_run(id, plan, started)).unwrap();
            let last = step(id, 0, "http", StepStatus::Success, 1, started);
            store
                .finish_run(&outcome(id, status, started, started), Some(&last))
                .unwrap();
        };
        finish("a-old-failure", Some(&a.id), 400, RunStatus::Failed);
        finish("a-latest-failure", Some(&a.id), 300, RunStatus::Interrupted);
        finish("b-latest-failure", Some(&b.id), 200, RunStatus::Failed);
        finish("file-failure", None, 200, RunStatus::Failed);
        for i in 0..12 {
            finish(&format!("a-success-{i:02}"), Some(&a.id), i, RunStatus::Success);
        }
        let report = store
            .prune(
                &RetentionPolicy {
                    max_age_days: 30,
                    max_runs: 10,
                    failed_max_age_days: 90,
                },
                now,
            )
            .unwrap();
        let mut expected: BTreeSet<String> = (0..10).map(|i| format!("a-success-{i:02}")).collect();
        expected.extend(["a-latest-failure".to_string(), "b-latest-failure".to_string()]);
        assert_eq!(kept_ids(&store), expected);
        assert_eq!(report.runs_deleted, 4);
        assert_eq!(
            store.step_logs("a-latest-failure").unwrap().len(),
            1,
            "its outputs stay"
        );
    }

    #[test]
    fn a_huge_age_deletes_nothing() {
        assert_eq!(cutoff(t(0), u32::MAX), "");
        assert_eq!(cutoff(t(0), 1), "2026-02-28T12:00:00.000Z");
    }
}
