//! Scheduler state per plan: when it fires next, the last fire it handled, pause
//! and failure streaks, and a record of fires that did not run (and why).

use super::{Result, Store, get_opt_ts, get_ts, get_u64, sql_int, ts};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

/// One plan's schedule state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleState {
    pub plan_id: String,
    /// The cron expression and zone this state was computed for; a change resets it.
    pub expression: String,
    pub timezone: String,
    pub next_run_at: Option<DateTime<Utc>>,
    /// The newest fire that has been handled (run, skipped or counted as missed).
    pub last_fired_for: Option<DateTime<Utc>>,
    pub paused: bool,
    pub consecutive_failures: u32,
    pub missed_total: u64,
    pub updated_at: DateTime<Utc>,
}

impl ScheduleState {
    /// A schedule that starts at `now`: nothing before it is due (no backfill).
    pub fn starting_at(plan_id: &str, expression: &str, timezone: &str, now: DateTime<Utc>) -> Self {
        Self {
            plan_id: plan_id.to_string(),
            expression: expression.to_string(),
            timezone: timezone.to_string(),
            next_run_at: None,
            last_fired_for: Some(now),
            paused: false,
            consecutive_failures: 0,
            missed_total: 0,
            updated_at: now,
        }
    }
}

/// Why a fire did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// The previous run was still running (overlap policy `skip`, or replaced in `queue_one`).
    Overlap,
    /// Missed while the app was closed or the machine slept, and not caught up
    /// (catch-up policy, window or cap).
    Missed,
}

impl MissReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Overlap => "overlap",
            Self::Missed => "missed",
        }
    }
}

/// A record of fires that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct MissedFire {
    pub plan_id: String,
    /// The newest of the fires this record counts.
    pub scheduled_for: DateTime<Utc>,
    pub reason: MissReason,
    pub count: u64,
    pub recorded_at: DateTime<Utc>,
}

const COLUMNS: &str = "plan_id, expression, timezone, next_run_at, last_fired_for, paused, consecutive_failures, missed_total, updated_at";

fn state_row(row: &Row<'_>) -> rusqlite::Result<ScheduleState> {
    Ok(ScheduleState {
        plan_id: row.get(0)?,
        expression: row.get(1)?,
        timezone: row.get(2)?,
        next_run_at: get_opt_ts(row, 3)?,
        last_fired_for: get_opt_ts(row, 4)?,
        paused: row.get::<_, i64>(5)? != 0,
        consecutive_failures: u32::try_from(get_u64(row, 6)?).unwrap_or(u32::MAX),
        missed_total: get_u64(row, 7)?,
        updated_at: get_ts(row, 8)?,
    })
}

impl Store {
    pub fn schedule_state(&self, plan_id: &str) -> Result<Option<ScheduleState>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM schedules WHERE plan_id = ?1"),
                    [plan_id],
                    state_row,
                )
                .optional()?)
        })
    }

    pub fn schedule_states(&self) -> Result<Vec<ScheduleState>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!("SELECT {COLUMNS} FROM schedules ORDER BY plan_id"))?;
            let rows = stmt.query_map([], state_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Insert or replace a plan's schedule state.
    pub fn save_schedule_state(&self, s: &ScheduleState) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO schedules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (plan_id) DO UPDATE SET expression = excluded.expression,
                       timezone = excluded.timezone, next_run_at = excluded.next_run_at,
                       last_fired_for = excluded.last_fired_for, paused = excluded.paused,
                       consecutive_failures = excluded.consecutive_failures,
                       missed_total = excluded.missed_total, updated_at = excluded.updated_at"
                ),
                params![
                    s.plan_id,
                    s.expression,
                    s.timezone,
                    s.next_run_at.as_ref().map(ts),
                    s.last_fired_for.as_ref().map(ts),
                    i64::from(s.paused),
                    sql_int(s.consecutive_failures),
                    sql_int(s.missed_total),
                    ts(&s.updated_at),
                ],
            )?;
            Ok(())
        })
    }

    /// Record `count` fires that did not run, and add them to the plan's total.
    pub fn record_missed_fires(
        &self,
        plan_id: &str,
        scheduled_for: DateTime<Utc>,
        reason: MissReason,
        count: u64,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO missed_fires (plan_id, scheduled_for, reason, count, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![plan_id, ts(&scheduled_for), reason.as_str(), sql_int(count), ts(&now)],
            )?;
            tx.execute(
                "UPDATE schedules SET missed_total = missed_total + ?2 WHERE plan_id = ?1",
                params![plan_id, sql_int(count)],
            )?;
            Ok(())
        })
    }

    /// The newest records of fires that did not run, newest first.
    pub fn missed_fires(&self, plan_id: &str, limit: u32) -> Result<Vec<MissedFire>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT plan_id, scheduled_for, reason, count, recorded_at FROM missed_fires
                 WHERE plan_id = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![plan_id, limit], |row| {
                let reason: String = row.get(2)?;
                Ok(MissedFire {
                    plan_id: row.get(0)?,
                    scheduled_for: get_ts(row, 1)?,
                    reason: if reason == "overlap" {
                        MissReason::Overlap
                    } else {
                        MissReason::Missed
                    },
                    count: get_u64(row, 3)?,
                    recorded_at: get_ts(row, 4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// Migration 2 (not released yet, so still open to additions): scheduler
/// state, and which store owns a run (see `owners.rs`).
pub(crate) const MIGRATION_SQL: &str = r#"
CREATE TABLE schedules (
    plan_id              TEXT PRIMARY KEY NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    expression           TEXT NOT NULL,
    timezone             TEXT NOT NULL,
    next_run_at          TEXT,
    last_fired_for       TEXT,
    paused               INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    consecutive_failures INTEGER NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    missed_total         INTEGER NOT NULL DEFAULT 0 CHECK (missed_total >= 0),
    updated_at           TEXT NOT NULL
) STRICT;

CREATE TABLE missed_fires (
    id            INTEGER PRIMARY KEY,
    plan_id       TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    scheduled_for TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('overlap', 'missed')),
    count         INTEGER NOT NULL CHECK (count >= 1),
    recorded_at   TEXT NOT NULL
) STRICT;
CREATE INDEX missed_fires_plan ON missed_fires (plan_id, id);

-- The owner id of the store that created the run; NULL for runs from before.
ALTER TABLE runs ADD COLUMN owner TEXT;
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;

    #[test]
    fn state_round_trips_and_missed_fires_add_up() {
        let (_dir, store) = temp_store();
        let plan = store.create_plan(&plan_file("Hourly"), t(0)).unwrap();
        assert_eq!(store.schedule_state(&plan.id).unwrap(), None);
        let mut s = ScheduleState {
            plan_id: plan.id.clone(),
            expression: "0 * * * *".into(),
            timezone: "UTC".into(),
            next_run_at: Some(t(3600)),
            last_fired_for: Some(t(0)),
            paused: false,
            consecutive_failures: 0,
            missed_total: 0,
            updated_at: t(1),
        };
        store.save_schedule_state(&s).unwrap();
        store
            .record_missed_fires(&plan.id, t(7200), MissReason::Missed, 4, t(7300))
            .unwrap();
        store
            .record_missed_fires(&plan.id, t(10800), MissReason::Overlap, 1, t(10801))
            .unwrap();
        s.missed_total = 5;
        assert_eq!(store.schedule_state(&plan.id).unwrap(), Some(s));
        let fires = store.missed_fires(&plan.id, 10).unwrap();
        assert_eq!(
            fires.iter().map(|f| (f.reason, f.count)).collect::<Vec<_>>(),
            vec![(MissReason::Overlap, 1), (MissReason::Missed, 4)]
        );
        store.delete_plan(&plan.id).unwrap();
        assert!(store.schedule_states().unwrap().is_empty());
    }
}
