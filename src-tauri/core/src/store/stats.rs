//! Monitoring queries: per-provider reliability and latency, the slowest
//! steps, run counts by status.
//!
//! Step statistics count final rows only (`success`, `error`, `timeout`,
//! `unknown`): a `retrying` row is an attempt, not an outcome, and a `skipped`
//! step never ran.
//!
//! Whole hours come from the summary kept by the hour ([`super::stats_hours`]),
//! the rest from the raw rows: the same figures as the raw rows alone (the
//! `raw_*` queries, kept for the comparison in the tests and for more than
//! [`SLOWEST_KEPT`] slowest rows).

use super::stats_hours::{RAW_RUNS, SLOWEST_KEPT, SUMMARY_HOURS, Window};
use super::{Result, Store, get_run_status, get_u64, sql_int};
use chrono::{DateTime, Utc};
use rusqlite::Transaction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// One provider's figures, added up from parts of the window.
#[derive(Debug, Default, Clone, Copy)]
struct ProviderSum {
    total: u64,
    successes: u64,
    latency_sum: u64,
    latency_max: u64,
}

impl ProviderSum {
    /// Add the row `(provider, total, successes, latency sum, latency max)` of `row` into `sums`.
    fn add(sums: &mut BTreeMap<String, ProviderSum>, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let sum = sums.entry(row.get(0)?).or_default();
        sum.total += get_u64(row, 1)?;
        sum.successes += get_u64(row, 2)?;
        sum.latency_sum += get_u64(row, 3)?;
        sum.latency_max = sum.latency_max.max(get_u64(row, 4)?);
        Ok(())
    }

    fn stats(provider: String, sum: ProviderSum) -> ProviderStats {
        let ratio = |a: u64| {
            if sum.total == 0 {
                0.0
            } else {
                a as f64 / sum.total as f64
            }
        };
        ProviderStats {
            provider,
            total: sum.total,
            successes: sum.successes,
            success_rate: ratio(sum.successes),
            avg_latency_ms: ratio(sum.latency_sum),
            max_latency_ms: sum.latency_max,
        }
    }
}

fn slow_step(row: &rusqlite::Row<'_>) -> rusqlite::Result<SlowStep> {
    Ok(SlowStep {
        run_id: row.get(0)?,
        plan_name: row.get(1)?,
        step_number: super::get_usize(row, 2)?,
        provider: row.get(3)?,
        action: row.get(4)?,
        latency_ms: get_u64(row, 5)?,
    })
}

fn add_counts(counts: &mut RunCounts, status: flowpilot_engine::RunStatus, n: u64) {
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

#[cfg(test)]
/// Per provider, from every row of the window: the query before the summary,
/// what the summary must equal.
fn raw_provider_stats(tx: &Transaction<'_>, since: &str) -> Result<Vec<ProviderStats>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT s.provider, COUNT(*), SUM(s.status = 'success'), AVG(s.latency_ms), MAX(s.latency_ms)
         FROM runs r JOIN step_logs s ON s.run = r.seq
         WHERE r.started_at >= ?1 AND s.{FINAL_ROWS}
         GROUP BY s.provider
         ORDER BY s.provider"
    ))?;
    let rows = stmt.query_map([since], |row| {
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
}

/// The slowest rows, from every row of the window.
fn raw_slowest_steps(tx: &Transaction<'_>, since: &str, limit: u32) -> Result<Vec<SlowStep>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT r.id, r.plan_name, s.step_number, s.provider, s.action, s.latency_ms
         FROM runs r JOIN step_logs s ON s.run = r.seq
         WHERE r.started_at >= ?1 AND s.{FINAL_ROWS}
         ORDER BY s.latency_ms DESC, s.id
         LIMIT ?2"
    ))?;
    let rows = stmt.query_map(rusqlite::params![since, sql_int(limit)], slow_step)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

#[cfg(test)]
/// Runs by status, from every run of the window.
fn raw_runs_since(tx: &Transaction<'_>, since: &str) -> Result<RunCounts> {
    let mut stmt = tx.prepare("SELECT status, COUNT(*) FROM runs WHERE started_at >= ?1 GROUP BY status")?;
    let rows = stmt.query_map([since], |row| Ok((get_run_status(row, 0)?, get_u64(row, 1)?)))?;
    let mut counts = RunCounts::default();
    for row in rows {
        let (status, n) = row?;
        add_counts(&mut counts, status, n);
    }
    Ok(counts)
}

#[cfg(test)]
impl Store {
    /// The Dashboard's figures from every raw row of the window (what the summary must equal):
    /// providers, the `limit` slowest rows, runs by status.
    pub(super) fn raw_stats(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<(Vec<ProviderStats>, Vec<SlowStep>, RunCounts)> {
        let since = super::ts(&since);
        self.read(|tx| {
            Ok((
                raw_provider_stats(tx, &since)?,
                raw_slowest_steps(tx, &since, limit)?,
                raw_runs_since(tx, &since)?,
            ))
        })
    }
}

impl Store {
    /// Per provider, the final step rows of the runs started at or after
    /// `since` (as [`Store::runs_since`] counts runs), by provider name.
    pub fn provider_stats(&self, since: DateTime<Utc>) -> Result<Vec<ProviderStats>> {
        let w = Window::new(since);
        self.read(|tx| {
            let mut sums = BTreeMap::new();
            let summary = format!(
                "SELECT provider, SUM(total), SUM(successes), SUM(latency_sum), MAX(latency_max)
                 FROM stats_hours WHERE {SUMMARY_HOURS} GROUP BY provider"
            );
            let raw = format!(
                "WITH {RAW_RUNS}
                 SELECT s.provider, COUNT(*), SUM(s.status = 'success'), SUM(s.latency_ms), MAX(s.latency_ms)
                 FROM raw_runs r CROSS JOIN step_logs s INDEXED BY step_logs_run ON s.run = r.seq
                 WHERE s.{FINAL_ROWS}
                 GROUP BY s.provider"
            );
            for sql in [summary, raw] {
                let mut stmt = tx.prepare_cached(&sql)?;
                let mut rows = stmt.query(rusqlite::params![w.since, w.edge, w.hour])?;
                while let Some(row) = rows.next()? {
                    ProviderSum::add(&mut sums, row)?;
                }
            }
            Ok(sums.into_iter().map(|(p, s)| ProviderSum::stats(p, s)).collect())
        })
    }

    /// The `limit` slowest final step rows of the runs started at or after `since`, slowest first.
    pub fn slowest_steps(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<SlowStep>> {
        let w = Window::new(since);
        self.read(|tx| {
            if limit > SLOWEST_KEPT {
                return raw_slowest_steps(tx, &w.since, limit);
            }
            // The slowest rows of each whole hour and every raw row; then their details.
            let mut stmt = tx.prepare_cached(&format!(
                "WITH {RAW_RUNS},
                 candidates (step, latency_ms) AS (
                     SELECT step, latency_ms FROM stats_slowest WHERE {SUMMARY_HOURS}
                     UNION ALL
                     SELECT s.id, s.latency_ms FROM raw_runs r CROSS JOIN step_logs s INDEXED BY step_logs_run ON s.run = r.seq
                     WHERE s.{FINAL_ROWS}
                     ORDER BY latency_ms DESC, step
                     LIMIT ?4)
                 SELECT r.id, r.plan_name, s.step_number, s.provider, s.action, s.latency_ms
                 FROM candidates c CROSS JOIN step_logs s ON s.id = c.step CROSS JOIN runs r ON r.seq = s.run
                 ORDER BY c.latency_ms DESC, c.step"
            ))?;
            let rows = stmt.query_map(rusqlite::params![w.since, w.edge, w.hour, sql_int(limit)], slow_step)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Runs started at or after `since`, counted by status.
    pub fn runs_since(&self, since: DateTime<Utc>) -> Result<RunCounts> {
        let w = Window::new(since);
        self.read(|tx| {
            let mut counts = RunCounts::default();
            for sql in [
                "SELECT status, SUM(n) FROM stats_runs WHERE hour >= ?3 GROUP BY status",
                "SELECT status, COUNT(*) FROM runs WHERE started_at >= ?1 AND started_at < ?2 GROUP BY status",
            ] {
                let mut stmt = tx.prepare_cached(sql)?;
                // The summary's query takes the first whole hour (?3), the raw one the partial hour (?1, ?2).
                let params = [&w.since, &w.edge, &w.hour];
                let params = rusqlite::params_from_iter(params.into_iter().take(stmt.parameter_count()));
                let rows = stmt.query_map(params, |row| Ok((get_run_status(row, 0)?, get_u64(row, 1)?)))?;
                for row in rows {
                    let (status, n) = row?;
                    add_counts(&mut counts, status, n);
                }
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
