//! Event triggers' durable state: each plan's cursor and status, a bounded set
//! of recently seen ids, the events waiting for their run, webhook URL tokens.
//!
//! The rule that makes a crash lose and repeat nothing: a check's new cursor,
//! the ids it saw and the events it found are written in ONE transaction
//! ([`Store::commit_check`]); an event becomes its run in another one that
//! deletes it from the queue and inserts the run ([`Store::start_event_run`]).
//! Killed before the first, the next check finds the same items again; between
//! the two, the events wait in the queue; after the second, the run exists (and
//! is marked interrupted if the process died while it ran).

use super::runs::insert_run;
use super::{NewRun, Result, Store, StoreError, get_opt_ts, get_ts, get_u64, sql_int, to_json, ts};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde_json::Value;

/// How many seen ids a plan keeps (the oldest are forgotten first). A feed or
/// list longer than this would see its oldest entries as new again.
pub const SEEN_LIMIT: usize = 5_000;

/// A plan's trigger state as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerState {
    pub plan_id: String,
    /// What the state was made for (kind and where it reads); another source starts over.
    pub source: String,
    /// The trigger's own position (UIDVALIDITY and last UID, an update offset, validators).
    pub cursor: Option<Value>,
    pub last_check_at: Option<DateTime<Utc>>,
    pub last_item_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Checks that failed in a row.
    pub failures: u32,
    pub next_check_at: Option<DateTime<Utc>>,
    /// Something worth saying (a baseline, a mailbox reset by the server).
    pub note: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl TriggerState {
    /// A state for `source` that has seen nothing yet (no baseline).
    pub fn new(plan_id: &str, source: &str, now: DateTime<Utc>) -> Self {
        Self {
            plan_id: plan_id.to_string(),
            source: source.to_string(),
            cursor: None,
            last_check_at: None,
            last_item_at: None,
            last_error: None,
            last_error_at: None,
            failures: 0,
            next_check_at: None,
            note: None,
            updated_at: now,
        }
    }
}

/// An event found by a check or received by the webhook server, to run once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The id its run will have (given out before the run exists: a webhook answers with it).
    pub run_id: String,
    /// The trigger's kind (`email`, `webhook`...): the run's `trigger_kind`.
    pub kind: String,
    /// What the run sees under `${trigger}` besides its type.
    pub event: Value,
    pub received_at: DateTime<Utc>,
}

/// An event waiting for its run: what the queue is ordered and dispatched by.
/// Its payload (up to a webhook body's 16 MiB) stays in the store until the
/// event becomes its run ([`Store::start_event_run`]), so looking over a long
/// queue again and again never reads the payloads.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    pub plan_id: String,
    pub run_id: String,
    pub kind: String,
    pub received_at: DateTime<Utc>,
}

/// What one check writes, all at once.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckCommit {
    pub state: TriggerState,
    /// Ids seen (new items and, at a baseline, everything there).
    pub seen: Vec<String>,
    /// Start over: forget the ids seen before.
    pub forget_seen: bool,
    pub events: Vec<NewEvent>,
}

/// How a webhook call was queued.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    /// Its run will have this id.
    New(String),
    /// The same delivery came before; its run's id.
    Duplicate(Option<String>),
}

const STATE_COLUMNS: &str = "plan_id, source, cursor, last_check_at, last_item_at, last_error, last_error_at, failures, next_check_at, note, updated_at";

fn state_row(row: &Row<'_>) -> rusqlite::Result<TriggerState> {
    let cursor: Option<String> = row.get(2)?;
    Ok(TriggerState {
        plan_id: row.get(0)?,
        source: row.get(1)?,
        cursor: cursor.and_then(|c| serde_json::from_str(&c).ok()),
        last_check_at: get_opt_ts(row, 3)?,
        last_item_at: get_opt_ts(row, 4)?,
        last_error: row.get(5)?,
        last_error_at: get_opt_ts(row, 6)?,
        failures: u32::try_from(get_u64(row, 7)?).unwrap_or(u32::MAX),
        next_check_at: get_opt_ts(row, 8)?,
        note: row.get(9)?,
        updated_at: get_ts(row, 10)?,
    })
}

fn save_state(tx: &Transaction<'_>, s: &TriggerState) -> Result<()> {
    let cursor = s.cursor.as_ref().map(|c| to_json("a trigger cursor", c)).transpose()?;
    tx.execute(
        &format!(
            "INSERT INTO trigger_state ({STATE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (plan_id) DO UPDATE SET source = excluded.source, cursor = excluded.cursor,
               last_check_at = excluded.last_check_at, last_item_at = excluded.last_item_at,
               last_error = excluded.last_error, last_error_at = excluded.last_error_at,
               failures = excluded.failures, next_check_at = excluded.next_check_at,
               note = excluded.note, updated_at = excluded.updated_at"
        ),
        params![
            s.plan_id,
            s.source,
            cursor,
            s.last_check_at.as_ref().map(ts),
            s.last_item_at.as_ref().map(ts),
            s.last_error,
            s.last_error_at.as_ref().map(ts),
            sql_int(s.failures),
            s.next_check_at.as_ref().map(ts),
            s.note,
            ts(&s.updated_at),
        ],
    )?;
    Ok(())
}

fn insert_event(tx: &Transaction<'_>, plan_id: &str, e: &NewEvent) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO trigger_events (run_id, plan_id, kind, event, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        e.run_id,
        plan_id,
        e.kind,
        to_json("a trigger event", &e.event)?,
        ts(&e.received_at)
    ])?;
    Ok(())
}

/// Forget all but the newest [`SEEN_LIMIT`] seen ids of a plan.
fn trim_seen(tx: &Transaction<'_>, plan_id: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM trigger_seen WHERE plan_id = ?1 AND rowid NOT IN
           (SELECT rowid FROM trigger_seen WHERE plan_id = ?1 ORDER BY seen_at DESC, rowid DESC LIMIT ?2)",
        params![plan_id, sql_int(SEEN_LIMIT)],
    )?;
    Ok(())
}

fn queued_row(row: &Row<'_>) -> rusqlite::Result<QueuedEvent> {
    Ok(QueuedEvent {
        plan_id: row.get(0)?,
        run_id: row.get(1)?,
        kind: row.get(2)?,
        received_at: get_ts(row, 3)?,
    })
}

impl Store {
    pub fn trigger_state(&self, plan_id: &str) -> Result<Option<TriggerState>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {STATE_COLUMNS} FROM trigger_state WHERE plan_id = ?1"),
                    [plan_id],
                    state_row,
                )
                .optional()?)
        })
    }

    pub fn trigger_states(&self) -> Result<Vec<TriggerState>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!("SELECT {STATE_COLUMNS} FROM trigger_state ORDER BY plan_id"))?;
            let rows = stmt.query_map([], state_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Write a state alone (a failed check, a status change): no items, no cursor move.
    pub fn save_trigger_state(&self, state: &TriggerState) -> Result<()> {
        self.write(|tx| save_state(tx, state))
    }

    /// Forget a plan's trigger state and seen ids: its next check is a baseline.
    pub fn reset_trigger(&self, plan_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM trigger_state WHERE plan_id = ?1", [plan_id])?;
            tx.execute("DELETE FROM trigger_seen WHERE plan_id = ?1", [plan_id])?;
            Ok(())
        })
    }

    /// Which of `keys` the plan has seen.
    pub fn seen_keys(&self, plan_id: &str, keys: &[String]) -> Result<Vec<bool>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached("SELECT 1 FROM trigger_seen WHERE plan_id = ?1 AND key = ?2")?;
            keys.iter().map(|k| Ok(stmt.exists(params![plan_id, k])?)).collect()
        })
    }

    /// One check's outcome in one transaction: the new state (cursor), the ids
    /// seen, and the events to run. See the module docs for why together.
    pub fn commit_check(&self, commit: &CheckCommit) -> Result<()> {
        let plan_id = commit.state.plan_id.as_str();
        self.write(|tx| {
            save_state(tx, &commit.state)?;
            if commit.forget_seen {
                tx.execute("DELETE FROM trigger_seen WHERE plan_id = ?1", [plan_id])?;
            }
            let now = ts(&commit.state.updated_at);
            let mut seen = tx.prepare_cached(
                "INSERT INTO trigger_seen (plan_id, key, run_id, seen_at) VALUES (?1, ?2, NULL, ?3)
                 ON CONFLICT (plan_id, key) DO UPDATE SET seen_at = excluded.seen_at",
            )?;
            for key in &commit.seen {
                seen.execute(params![plan_id, key, now])?;
            }
            for e in &commit.events {
                insert_event(tx, plan_id, e)?;
            }
            trim_seen(tx, plan_id)
        })
    }

    /// Queue a webhook call, unless a delivery with the same `delivery_key` came before.
    pub fn queue_delivery(&self, plan_id: &str, delivery_key: Option<&str>, event: &NewEvent) -> Result<Queued> {
        self.write(|tx| {
            if let Some(key) = delivery_key {
                let earlier: Option<Option<String>> = tx
                    .query_row(
                        "SELECT run_id FROM trigger_seen WHERE plan_id = ?1 AND key = ?2",
                        params![plan_id, key],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(run_id) = earlier {
                    return Ok(Queued::Duplicate(run_id));
                }
                tx.execute(
                    "INSERT INTO trigger_seen (plan_id, key, run_id, seen_at) VALUES (?1, ?2, ?3, ?4)",
                    params![plan_id, key, event.run_id, ts(&event.received_at)],
                )?;
                trim_seen(tx, plan_id)?;
            }
            insert_event(tx, plan_id, event)?;
            Ok(Queued::New(event.run_id.clone()))
        })
    }

    /// Events waiting for their run, oldest first.
    pub fn queued_events(&self, limit: usize) -> Result<Vec<QueuedEvent>> {
        self.read(|tx| {
            let mut stmt = tx
                .prepare_cached("SELECT plan_id, run_id, kind, received_at FROM trigger_events ORDER BY id LIMIT ?1")?;
            let rows = stmt.query_map([sql_int(limit)], queued_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// How many events of a plan wait for their run.
    pub fn queued_count(&self, plan_id: &str) -> Result<u64> {
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT COUNT(*) FROM trigger_events WHERE plan_id = ?1",
                [plan_id],
                |row| get_u64(row, 0),
            )?)
        })
    }

    /// Turn a queued event into its run (status `running`, the event stored with
    /// it), in one transaction. [`StoreError::NotFound`] when the event is no
    /// longer queued (its run was already made).
    pub fn start_event_run(&self, run: &NewRun) -> Result<Value> {
        self.write(|tx| {
            let event: Option<String> = tx
                .prepare_cached("SELECT event FROM trigger_events WHERE run_id = ?1")?
                .query_row([&run.id], |row| row.get(0))
                .optional()?;
            let Some(event) = event else {
                return Err(StoreError::NotFound {
                    what: "queued event",
                    id: run.id.clone(),
                });
            };
            tx.prepare_cached("DELETE FROM trigger_events WHERE run_id = ?1")?
                .execute([&run.id])?;
            insert_run(tx, run, self.owner.id(), Some(&event))?;
            serde_json::from_str(&event).map_err(|source| StoreError::Json {
                what: "a trigger event",
                source,
            })
        })
    }

    /// Take an event out of the queue without a run (an overlap policy dropped it).
    pub fn drop_event(&self, run_id: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM trigger_events WHERE run_id = ?1", [run_id])? > 0))
    }

    /// What started a run: the event stored with it (none for a run by hand or on a schedule).
    pub fn run_trigger_event(&self, run_id: &str) -> Result<Option<Value>> {
        self.read(|tx| {
            let text: Option<Option<String>> = tx
                .query_row(
                    "SELECT e.event FROM runs r LEFT JOIN run_events e ON e.run = r.seq WHERE r.id = ?1",
                    [run_id],
                    |row| row.get(0),
                )
                .optional()?;
            match text {
                None => Err(super::runs::run_not_found(run_id)),
                Some(None) => Ok(None),
                Some(Some(t)) => Ok(serde_json::from_str(&t).ok()),
            }
        })
    }

    /// The plan's webhook URL token, made by `make` the first time.
    pub fn webhook_token(&self, plan_id: &str, make: impl Fn() -> String, now: DateTime<Utc>) -> Result<String> {
        self.write(|tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT token FROM webhook_tokens WHERE plan_id = ?1",
                    [plan_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(token) = existing {
                return Ok(token);
            }
            let token = make();
            tx.execute(
                "INSERT INTO webhook_tokens (plan_id, token, created_at) VALUES (?1, ?2, ?3)",
                params![plan_id, token, ts(&now)],
            )?;
            Ok(token)
        })
    }

    /// Give the plan a new token; the old one stops working at once.
    pub fn replace_webhook_token(&self, plan_id: &str, token: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO webhook_tokens (plan_id, token, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (plan_id) DO UPDATE SET token = excluded.token, created_at = excluded.created_at",
                params![plan_id, token, ts(&now)],
            )?;
            Ok(())
        })
    }

    /// The plan a webhook token belongs to.
    pub fn plan_for_webhook_token(&self, token: &str) -> Result<Option<String>> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached("SELECT plan_id FROM webhook_tokens WHERE token = ?1")?
                .query_row([token], |row| row.get(0))
                .optional()?)
        })
    }
}

/// The migration of event triggers (appended at the end of the list).
pub(crate) const MIGRATION_SQL: &str = r#"
CREATE TABLE trigger_state (
    plan_id       TEXT PRIMARY KEY NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    source        TEXT NOT NULL,
    cursor        TEXT CHECK (cursor IS NULL OR json_valid(cursor)),
    last_check_at TEXT,
    last_item_at  TEXT,
    last_error    TEXT,
    last_error_at TEXT,
    failures      INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    next_check_at TEXT,
    note          TEXT,
    updated_at    TEXT NOT NULL
) STRICT;

-- Recently seen item ids and webhook delivery ids (bounded per plan).
CREATE TABLE trigger_seen (
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    run_id  TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, key)
) STRICT;
CREATE INDEX trigger_seen_age ON trigger_seen (plan_id, seen_at);

-- Events waiting for their run; the run's id is given out when the event comes.
CREATE TABLE trigger_events (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT NOT NULL UNIQUE,
    plan_id     TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    event       TEXT NOT NULL CHECK (json_valid(event)),
    received_at TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_tokens (
    plan_id    TEXT PRIMARY KEY NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    token      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
) STRICT;

-- What started a run (a webhook call, a new item), capped like outputs
-- (since moved to a table of its own, `run_events`).
ALTER TABLE runs ADD COLUMN trigger_event TEXT;
"#;

#[cfg(test)]
mod tests;
