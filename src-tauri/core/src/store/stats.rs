//! Monitoring queries: per-provider reliability and latency, the slowest
//! steps, run counts by status.
//!
//! Step statistics count final rows only (`success`, `error`, `timeout`): a
//! `retrying` row is an attempt, not an outcome, and a `skipped` step never ran.

use super::{Result, Store, get_u64, sql_int, ts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How one provider's steps went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderStats {
    pub provider: String,
    /// Final step rows (success, error, timeout).
    pub total: u64,
    pub successes: u64,
    /// `successes / total`, from 0.0 to 1.0.
    pub success_rate: f64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: u64,
}

/// A slow step, for the "slowest steps" table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SlowStep {
    pub run_id: String,
    pub plan_name: String,
    pub step_number: usize,
    pub provider: String,
    pub action: String,
    pub latency_ms: u64,
}

/// Runs by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RunCounts {
    pub total: u64,
    pub running: u64,
    pub success: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub interrupted: u64,
}

const FINAL_ROWS: &str = "status IN ('success', 'error', 'timeout', 'unknown')";

impl Store {
    /// Per provider, the final step rows of the runs started at or after
    /// `since` (as [`Store::runs_since`] counts runs), by provider name.
    pub fn provider_stats(&self, since: DateTime<Utc>) -> Result<Vec<ProviderStats>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT s.provider, COUNT(*), SUM(s.status = 'success'), AVG(s.latency_ms), MAX(s.latency_ms)
                 FROM runs r JOIN step_logs s ON s.run = r.seq
                 WHERE r.started_at >= ?1 AND s.{FINAL_ROWS}
                 GROUP BY s.provider
                 ORDER BY s.provider"
            ))?;
            let rows = stmt.query_map([ts(&since)], |row| {
                let total = get_u64(row, 1)?;
                let successes = get_u64(row, 2)?;
                Ok(ProviderStats {
                    provider: row.get(0)?,
                    total,
                    successes,
                    success_rate: if total == 0 {
                        0.0
                    } else {
                        successes as f64 / total as f64
                    },
                    avg_latency_ms: row.get(3)?,
                    max_latency_ms: get_u64(row, 4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The `limit` slowest final step rows of the runs started at or after `since`, slowest first.
    pub fn slowest_steps(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<SlowStep>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!(
                "SELECT r.id, r.plan_name, s.step_number, s.provider, s.action, s.latency_ms
                 FROM runs r JOIN step_logs s ON s.run = r.seq
                 WHERE r.started_at >= ?1 AND s.{FINAL_ROWS}
                 ORDER BY s.latency_ms DESC, s.id
                 LIMIT ?2"
            ))?;
            let rows = stmt.query_map(rusqlite::params![ts(&since), sql_int(limit)], |row| {
                Ok(SlowStep {
                    run_id: row.get(0)?,
                    plan_name: row.get(1)?,
                    step_number: super::get_usize(row, 2)?,
                    provider: row.get(3)?,
                    action: row.get(4)?,
                    latency_ms: get_u64(row, 5)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Runs started at or after `since`, counted by status.
    pub fn runs_since(&self, since: DateTime<Utc>) -> Result<RunCounts> {
        self.read(|tx| {
            let mut stmt = tx.prepare("SELECT status, COUNT(*) FROM runs WHERE started_at >= ?1 GROUP BY status")?;
            let rows = stmt.query_map([ts(&since)], |row| {
                Ok((super::get_run_status(row, 0)?, get_u64(row, 1)?))
            })?;
            let mut counts = RunCounts::default();
            for row in rows {
                let (status, n) = row?;
                use flowpilot_engine::RunStatus::*;
                let slot = match status {
                    Running => &mut counts.running,
                    Success => &mut counts.success,
                    Failed => &mut counts.failed,
                    Cancelled => &mut counts.cancelled,
                    Interrupted => &mut counts.interrupted,
                };
                *slot += n;
                counts.total += n;
            }
            Ok(counts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use flowpilot_engine::{RunStatus, StepStatus};

    /// Known data: an old run before `since`, and two recent runs.
    fn seeded() -> (tempfile::TempDir, Store) {
        let (dir, store) = temp_store();
        // Before the window: must not count.
        store.create_run(&new_run("old", None, t(0))).unwrap();
        store
            .append_step(&step("old", 0, "http", StepStatus::Success, 99_999, t(1)))
            .unwrap();
        store
            .finish_run(&outcome("old", RunStatus::Failed, t(0), t(2)), None)
            .unwrap();

        store.create_run(&new_run("r1", None, t(100))).unwrap();
        for (n, provider, status, latency) in [
            (0, "http", StepStatus::Retrying, 50_000),
            (0, "http", StepStatus::Success, 100),
            (1, "http", StepStatus::Error, 300),
            (2, "http", StepStatus::Timeout, 500),
            (3, "llm", StepStatus::Success, 1000),
        ] {
            store
                .append_step(&step("r1", n, provider, status, latency, t(101)))
                .unwrap();
        }
        store
            .finish_run(
                &outcome("r1", RunStatus::Failed, t(100), t(110)),
                Some(&step("r1", 4, "llm", StepStatus::Success, 2000, t(109))),
            )
            .unwrap();

        let mut r2 = new_run("r2", None, t(200));
        r2.plan_name = "Second".into();
        store.create_run(&r2).unwrap();
        store
            .append_step(&step("r2", 0, "llm", StepStatus::Skipped, 70_000, t(201)))
            .unwrap();
        store
            .append_step(&step("r2", 1, "file", StepStatus::Success, 1500, t(202)))
            .unwrap();
        store.create_run(&new_run("r3", None, t(300))).unwrap();
        store
            .finish_run(&outcome("r3", RunStatus::Cancelled, t(300), t(301)), None)
            .unwrap();
        (dir, store)
    }

    #[test]
    fn provider_stats_count_final_rows_only() {
        let (_dir, store) = seeded();
        let stats = store.provider_stats(t(50)).unwrap();
        assert_eq!(stats.len(), 3);
        let file = &stats[0];
        assert_eq!(file.provider, "file");
        assert_eq!((file.total, file.successes, file.max_latency_ms), (1, 1, 1500));

        let http = &stats[1];
        assert_eq!(http.provider, "http");
        assert_eq!(http.total, 3);
        assert_eq!(http.successes, 1);
        assert!((http.success_rate - 1.0 / 3.0).abs() < 1e-9);
        assert!((http.avg_latency_ms - 300.0).abs() < 1e-9);
        assert_eq!(http.max_latency_ms, 500);

        let llm = &stats[2];
        assert_eq!(llm.provider, "llm");
        assert_eq!((llm.total, llm.successes), (2, 2));
        assert!((llm.success_rate - 1.0).abs() < 1e-9);
        assert!((llm.avg_latency_ms - 1500.0).abs() < 1e-9);
        assert_eq!(llm.max_latency_ms, 2000);

        // With the old run in the window, http gains its 99,999 ms success.
        let all = store.provider_stats(t(0)).unwrap();
        let http = all.iter().find(|s| s.provider == "http").unwrap();
        assert_eq!((http.total, http.successes, http.max_latency_ms), (4, 2, 99_999));
        assert!(store.provider_stats(t(1000)).unwrap().is_empty());
    }

    #[test]
    fn slowest_steps_are_final_rows_in_the_window() {
        let (_dir, store) = seeded();
        let slow = store.slowest_steps(t(50), 3).unwrap();
        assert_eq!(
            slow,
            vec![
                SlowStep {
                    run_id: "r1".into(),
                    plan_name: "Test plan".into(),
                    step_number: 4,
                    provider: "llm".into(),
                    action: "act".into(),
                    latency_ms: 2000,
                },
                SlowStep {
                    run_id: "r2".into(),
                    plan_name: "Second".into(),
                    step_number: 1,
                    provider: "file".into(),
                    action: "act".into(),
                    latency_ms: 1500,
                },
                SlowStep {
                    run_id: "r1".into(),
                    plan_name: "Test plan".into(),
                    step_number: 3,
                    provider: "llm".into(),
                    action: "act".into(),
                    latency_ms: 1000,
                },
            ]
        );
        assert_eq!(store.slowest_steps(t(0), 1).unwrap()[0].latency_ms, 99_999);
    }

    #[test]
    fn runs_since_counts_by_status() {
        let (_dir, store) = seeded();
        assert_eq!(
            store.runs_since(t(50)).unwrap(),
            RunCounts {
                total: 3,
                running: 1,
                success: 0,
                failed: 1,
                cancelled: 1,
                interrupted: 0,
            }
        );
        assert_eq!(store.runs_since(t(0)).unwrap().failed, 2);
        assert_eq!(store.runs_since(t(1000)).unwrap(), RunCounts::default());
    }
}
