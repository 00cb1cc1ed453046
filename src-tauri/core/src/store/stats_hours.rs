//! The Dashboard's figures by the hour (issue 12: the last 30 days at
//! 1,000,000 step rows read every row of the window, about a second).
//!
//! Keyed by the hour a run *started* in (the first 13 characters of its
//! `started_at`, `2026-03-01T12`), as the Dashboard's window counts runs:
//! - `stats_runs`: runs by status, every run;
//! - `stats_hours`: per provider, the final step rows (see [`super::stats`])
//!   of the *finished* runs: how many, successes, latency sum and maximum;
//! - `stats_slowest`: the [`SLOWEST_KEPT`] slowest of those rows (by
//!   latency, then row id), which hold the slowest of any window of whole hours.
//!
//! SQLite triggers keep them in step with every write, in the write's own
//! transaction: a run's rows join when it finishes, a row written to a
//! finished run (the last step, written with the run's end) on its own.
//! Counts of runs are kept exactly. What cannot be taken back from a maximum
//! or a top ten (a finished run or its rows deleted or changed) marks the
//! hour *stale* (`stats_stale`): the figures read a stale hour's raw rows
//! until [`refresh_stale`] rebuilds it (pruning does, in its transaction).
//!
//! A window `since..` is then: the partial hour `since` falls in, read from
//! the raw rows; the whole hours after it from the summary, plus the raw
//! rows of runs still running and of stale hours. The same numbers as the
//! raw rows give, for timestamps as the store writes them (`ts`: RFC 3339,
//! four-digit year, milliseconds, `Z`).

use super::{Result, ts};
use chrono::{DateTime, Duration, DurationRound, Utc};
use rusqlite::Transaction;

/// How many slow rows each hour keeps: the Dashboard shows ten.
pub(super) const SLOWEST_KEPT: u32 = 10;

/// The summary tables, their triggers, and the summary of the rows already there.
pub(super) const MIGRATION_SQL: &str = r#"
CREATE TABLE stats_runs (
    hour   TEXT NOT NULL,
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (hour, status)
) STRICT, WITHOUT ROWID;
CREATE TABLE stats_hours (
    hour        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    total       INTEGER NOT NULL,
    successes   INTEGER NOT NULL,
    latency_sum INTEGER NOT NULL,
    latency_max INTEGER NOT NULL,
    PRIMARY KEY (hour, provider)
) STRICT, WITHOUT ROWID;
CREATE TABLE stats_slowest (
    hour       TEXT NOT NULL,
    step       INTEGER NOT NULL,
    latency_ms INTEGER NOT NULL,
    PRIMARY KEY (hour, step)
) STRICT, WITHOUT ROWID;
CREATE TABLE stats_stale (
    hour TEXT PRIMARY KEY NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO stats_runs (hour, status, n)
SELECT substr(started_at, 1, 13), status, COUNT(*) FROM runs GROUP BY 1, 2;
INSERT INTO stats_hours (hour, provider, total, successes, latency_sum, latency_max)
SELECT substr(r.started_at, 1, 13), s.provider, COUNT(*), SUM(s.status = 'success'), SUM(s.latency_ms), MAX(s.latency_ms)
FROM runs r JOIN step_logs s ON s.run = r.seq
WHERE r.status <> 'running' AND s.status IN ('success', 'error', 'timeout', 'unknown')
GROUP BY 1, 2;
INSERT INTO stats_slowest (hour, step, latency_ms)
SELECT hour, id, latency_ms FROM (
    SELECT substr(r.started_at, 1, 13) AS hour, s.id, s.latency_ms,
           ROW_NUMBER() OVER (PARTITION BY substr(r.started_at, 1, 13) ORDER BY s.latency_ms DESC, s.id) AS n
    FROM runs r JOIN step_logs s ON s.run = r.seq
    WHERE r.status <> 'running' AND s.status IN ('success', 'error', 'timeout', 'unknown'))
WHERE n <= 10;

-- Runs by status: exact on every insert, status or start change, delete.
CREATE TRIGGER stats_run_added AFTER INSERT ON runs
BEGIN
    INSERT INTO stats_runs (hour, status, n) VALUES (substr(NEW.started_at, 1, 13), NEW.status, 1)
    ON CONFLICT (hour, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stats_run_moved AFTER UPDATE OF status, started_at ON runs
WHEN OLD.status IS NOT NEW.status OR OLD.started_at IS NOT NEW.started_at
BEGIN
    UPDATE stats_runs SET n = n - 1 WHERE hour = substr(OLD.started_at, 1, 13) AND status = OLD.status;
    INSERT INTO stats_runs (hour, status, n) VALUES (substr(NEW.started_at, 1, 13), NEW.status, 1)
    ON CONFLICT (hour, status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER stats_run_deleted AFTER DELETE ON runs
BEGIN
    UPDATE stats_runs SET n = n - 1 WHERE hour = substr(OLD.started_at, 1, 13) AND status = OLD.status;
    INSERT OR IGNORE INTO stats_stale (hour) SELECT substr(OLD.started_at, 1, 13) WHERE OLD.status <> 'running';
END;

-- A run that finishes: its final rows join its hour.
CREATE TRIGGER stats_run_finished AFTER UPDATE OF status ON runs
WHEN OLD.status = 'running' AND NEW.status <> 'running'
BEGIN
    INSERT INTO stats_hours (hour, provider, total, successes, latency_sum, latency_max)
    SELECT substr(NEW.started_at, 1, 13), provider, COUNT(*), SUM(status = 'success'), SUM(latency_ms), MAX(latency_ms)
    FROM step_logs WHERE run = NEW.seq AND status IN ('success', 'error', 'timeout', 'unknown')
    GROUP BY provider
    ON CONFLICT (hour, provider) DO UPDATE SET
        total = total + excluded.total,
        successes = successes + excluded.successes,
        latency_sum = latency_sum + excluded.latency_sum,
        latency_max = MAX(latency_max, excluded.latency_max);
    INSERT OR IGNORE INTO stats_slowest (hour, step, latency_ms)
    SELECT substr(NEW.started_at, 1, 13), id, latency_ms
    FROM step_logs WHERE run = NEW.seq AND status IN ('success', 'error', 'timeout', 'unknown')
    ORDER BY latency_ms DESC, id LIMIT 10;
    DELETE FROM stats_slowest WHERE hour = substr(NEW.started_at, 1, 13) AND step NOT IN (
        SELECT step FROM stats_slowest WHERE hour = substr(NEW.started_at, 1, 13)
        ORDER BY latency_ms DESC, step LIMIT 10);
END;
-- A finished run that runs again, or moves: its hours are read raw until rebuilt.
CREATE TRIGGER stats_run_reopened AFTER UPDATE OF status, started_at, seq ON runs
WHEN OLD.status <> 'running'
     AND (NEW.status = 'running' OR OLD.started_at IS NOT NEW.started_at OR OLD.seq IS NOT NEW.seq)
BEGIN
    INSERT OR IGNORE INTO stats_stale (hour) VALUES (substr(OLD.started_at, 1, 13));
    INSERT OR IGNORE INTO stats_stale (hour) VALUES (substr(NEW.started_at, 1, 13));
END;

-- A final row written to a finished run (the last step, with the run's end).
CREATE TRIGGER stats_step_added AFTER INSERT ON step_logs
WHEN NEW.status IN ('success', 'error', 'timeout', 'unknown')
     AND (SELECT status FROM runs WHERE seq = NEW.run) <> 'running'
BEGIN
    INSERT INTO stats_hours (hour, provider, total, successes, latency_sum, latency_max)
    SELECT substr(started_at, 1, 13), NEW.provider, 1, NEW.status = 'success', NEW.latency_ms, NEW.latency_ms
    FROM runs WHERE seq = NEW.run
    ON CONFLICT (hour, provider) DO UPDATE SET
        total = total + 1,
        successes = successes + excluded.successes,
        latency_sum = latency_sum + excluded.latency_sum,
        latency_max = MAX(latency_max, excluded.latency_max);
    INSERT OR IGNORE INTO stats_slowest (hour, step, latency_ms)
    SELECT substr(started_at, 1, 13), NEW.id, NEW.latency_ms FROM runs WHERE seq = NEW.run;
    DELETE FROM stats_slowest WHERE hour = (SELECT substr(started_at, 1, 13) FROM runs WHERE seq = NEW.run)
        AND step NOT IN (
            SELECT step FROM stats_slowest WHERE hour = (SELECT substr(started_at, 1, 13) FROM runs WHERE seq = NEW.run)
            ORDER BY latency_ms DESC, step LIMIT 10);
END;
-- A finished run's row deleted on its own, or changed: its hour is read raw until rebuilt.
-- (Deleted with its run, the run is gone already: the run's trigger marks the hour.)
CREATE TRIGGER stats_step_deleted AFTER DELETE ON step_logs
WHEN OLD.status IN ('success', 'error', 'timeout', 'unknown')
     AND (SELECT status FROM runs WHERE seq = OLD.run) <> 'running'
BEGIN
    INSERT OR IGNORE INTO stats_stale (hour) SELECT substr(started_at, 1, 13) FROM runs WHERE seq = OLD.run;
END;
CREATE TRIGGER stats_step_changed AFTER UPDATE OF run, status, provider, latency_ms ON step_logs
BEGIN
    INSERT OR IGNORE INTO stats_stale (hour)
    SELECT substr(started_at, 1, 13) FROM runs WHERE seq IN (OLD.run, NEW.run) AND status <> 'running';
END;
"#;

/// A window `since..` cut at the first whole hour.
#[derive(Debug, Clone)]
pub(super) struct Window {
    /// `since`, as stored text.
    pub since: String,
    /// The first whole hour's start, as stored text.
    pub edge: String,
    /// The first whole hour's key.
    pub hour: String,
}

impl Window {
    pub fn new(since: DateTime<Utc>) -> Self {
        let since = since.duration_trunc(Duration::milliseconds(1)).unwrap_or(since);
        let floor = since.duration_trunc(Duration::hours(1)).unwrap_or(since);
        let edge = if floor == since {
            since
        } else {
            floor.checked_add_signed(Duration::hours(1)).unwrap_or(floor)
        };
        let edge = ts(&edge);
        let hour = edge.chars().take(13).collect();
        Self {
            since: ts(&since),
            edge,
            hour,
        }
    }
}

/// The runs whose rows are read raw, as a common table `raw_runs (seq)`: the
/// partial first hour (?1 since, ?2 edge), the stale whole hours (?3 first
/// whole hour), the runs still running in the other whole hours.
///
/// Materialized, joined to the step rows with `CROSS JOIN` (SQLite keeps that
/// order) `INDEXED BY step_logs_run`: the few runs are the outer loop, never a
/// scan of every step row (without statistics, SQLite chose one, or built an
/// automatic index over them all: 0.7 s at 1,000,000 rows).
pub(super) const RAW_RUNS: &str = "raw_runs (seq) AS MATERIALIZED (
    SELECT seq FROM runs WHERE started_at >= ?1 AND started_at < ?2
    UNION ALL
    SELECT r.seq FROM stats_stale h CROSS JOIN runs r ON r.started_at >= h.hour AND r.started_at < h.hour || char(1114111)
    WHERE h.hour >= ?3
    UNION ALL
    SELECT seq FROM runs INDEXED BY runs_status_started WHERE status = 'running' AND started_at >= ?2
        AND substr(started_at, 1, 13) NOT IN (SELECT hour FROM stats_stale))";

/// The whole hours the summary answers for (?3 first whole hour).
pub(super) const SUMMARY_HOURS: &str = "hour >= ?3 AND hour NOT IN (SELECT hour FROM stats_stale)";

/// Rebuild the stale hours' summary from their rows; how many hours.
pub(super) fn refresh_stale(tx: &Transaction<'_>) -> Result<usize> {
    let hours: Vec<String> = {
        let mut stmt = tx.prepare("SELECT hour FROM stats_stale")?;
        let rows = stmt.query_map([], |row| row.get(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for hour in &hours {
        tx.execute("DELETE FROM stats_hours WHERE hour = ?1", [hour])?;
        tx.execute("DELETE FROM stats_slowest WHERE hour = ?1", [hour])?;
        let rows = "FROM runs r CROSS JOIN step_logs s INDEXED BY step_logs_run ON s.run = r.seq
                    WHERE r.started_at >= ?1 AND r.started_at < ?1 || char(1114111) AND r.status <> 'running'
                      AND s.status IN ('success', 'error', 'timeout', 'unknown')";
        tx.execute(
            &format!(
                "INSERT INTO stats_hours (hour, provider, total, successes, latency_sum, latency_max)
                 SELECT ?1, s.provider, COUNT(*), SUM(s.status = 'success'), SUM(s.latency_ms), MAX(s.latency_ms)
                 {rows} GROUP BY s.provider"
            ),
            [hour],
        )?;
        tx.execute(
            &format!(
                "INSERT INTO stats_slowest (hour, step, latency_ms)
                 SELECT ?1, s.id, s.latency_ms {rows} ORDER BY s.latency_ms DESC, s.id LIMIT {SLOWEST_KEPT}"
            ),
            [hour],
        )?;
        tx.execute("DELETE FROM stats_stale WHERE hour = ?1", [hour])?;
    }
    Ok(hours.len())
}

#[cfg(test)]
mod tests;
