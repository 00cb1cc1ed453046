//! Flowpilot's store: one SQLite file holding plans (with their version
//! history), runs and their step logs, credential bookkeeping (names only,
//! never values) and settings. Plain `rusqlite`, versioned migrations.
//!
//! Conventions:
//! - Timestamps are UTC, stored as RFC 3339 text with millisecond precision
//!   (`2026-03-29T00:30:00.000Z`), so text order is time order.
//! - JSON columns hold `serde_json` text.
//! - Every write runs in an `IMMEDIATE` transaction; the connection sits behind
//!   a mutex, so a [`Store`] is `Send + Sync` and can be shared in an `Arc`.

mod credentials;
mod integrations;
mod migrations;
mod owners;
mod plans;
mod retention;
mod run_log;
mod runs;
mod schedules;
mod settings;
mod stats;
mod step_logs;
#[cfg(test)]
mod test_support;

pub use integrations::{ConnectionState, StoredIntegration};
pub use migrations::SCHEMA_VERSION;
pub use plans::{PlanRow, PlanSummary, PlanVersion};
pub use retention::{PruneReport, RetentionPolicy};
pub use run_log::RunLog;
pub use runs::{INTERRUPTED_ERROR, NewRun, Page, RunFilter, RunRow};
pub use schedules::{MissReason, MissedFire, ScheduleState};
pub use stats::{ProviderStats, RunCounts, SlowStep};

use chrono::{DateTime, SecondsFormat, Utc};
use flowpilot_engine::RunStatus;
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, Row, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a statement waits for another connection's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not bring the database schema up to date: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("this database was written by a newer Flowpilot (schema {found}, this version knows {known})")]
    NewerSchema { found: i64, known: usize },
    #[error("no {what} with id `{id}`")]
    NotFound { what: &'static str, id: String },
    /// The `(plan_id, scheduled_for)` key is taken: this fire already has a run.
    #[error("plan `{plan_id}` already has a run for the fire scheduled at {scheduled_for}")]
    DuplicateFire {
        plan_id: String,
        scheduled_for: DateTime<Utc>,
    },
    #[error("a run with id `{id}` already exists")]
    RunExists { id: String },
    /// Plan names are unique (ASCII case-insensitively).
    #[error("a plan named `{name}` already exists")]
    NameTaken { name: String },
    /// The run is no longer `running` (it finished, or was marked interrupted
    /// because the store running it was gone); its status and log are left as they are.
    #[error("run `{id}` is already finished ({})", .status.as_str())]
    RunFinished { id: String, status: RunStatus },
    #[error("run `{id}` cannot be finished with status `running`")]
    NotAFinalStatus { id: String },
    #[error("the step record belongs to run `{found}`, not to run `{expected}`")]
    WrongRun { expected: String, found: String },
    #[error("JSON for {what}: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store. Cheap to share: wrap it in an `Arc`.
///
/// Several stores (in one process or several, e.g. the app and the CLI) may
/// have the same file open. Each is an *owner*: the runs it creates are marked
/// as its own, and it holds a lock file (`owners/<id>.lock`, next to the
/// database) until it is dropped, so the others can tell its live runs from a
/// crash's (see [`Store::recover_orphaned_runs`]).
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// Declared after `conn`, so dropped after it: the lock outlives the connection.
    owner: owners::OwnerLock,
}

impl Store {
    /// Open (or create) the database at `path` and bring its schema up to date.
    ///
    /// A database written by a newer Flowpilot is refused with
    /// [`StoreError::NewerSchema`] before anything is written to it. Runs left
    /// `running` by a store that is gone (a crash) are marked `interrupted`
    /// ([`Store::recover_orphaned_runs`]); runs of stores still open elsewhere
    /// are left alone.
    ///
    /// Also creates `owners/` next to the file and this store's lock file in
    /// it; fails with [`StoreError::Io`] if that file cannot be locked.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        // Look at an existing file read-only first: a read-write connection may
        // checkpoint the WAL into the main file when it closes, and a newer
        // Flowpilot's database must not be touched at all.
        if std::fs::metadata(path).map(|m| m.len() > 0).unwrap_or(false) {
            let probe =
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
            probe.busy_timeout(BUSY_TIMEOUT)?;
            check_schema(&probe)?;
            probe.close().map_err(|(_, e)| e)?;
        }

        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let version = check_schema(&conn)?;
        if version == 0 {
            // Only takes effect before the first table exists, and before the
            // switch to WAL writes the header.
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode; continuing with this journal mode");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Migrations (and any `conn.transaction()`) take the write lock up front.
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        migrations::MIGRATIONS.to_latest(&mut conn)?;

        let owner = owners::OwnerLock::acquire(&owners::owners_dir(path))?;
        let store = Store {
            conn: Mutex::new(conn),
            owner,
        };
        store.recover_orphaned_runs()?;
        Ok(store)
    }

    /// Copy the WAL into the main file and truncate it (e.g. before a backup).
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.lock();
        checkpoint(&conn)
    }

    /// Test support: behave like a crashed process. The connection is never
    /// closed (nor the WAL checkpointed); the lock is released, but its file stays.
    #[cfg(test)]
    pub(crate) fn simulate_crash(self) {
        let Store { conn, owner } = self;
        std::mem::forget(conn);
        owner.abandon();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped any open transaction, which
        // rolled it back: the connection is still consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` in an IMMEDIATE transaction; commit if it returns `Ok`.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Run `f` in a read transaction (one consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// The schema version in the file; refuses one newer than this code knows.
fn check_schema(conn: &Connection) -> Result<i64> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = SCHEMA_VERSION;
    if found > sql_int(known) {
        return Err(StoreError::NewerSchema { found, known });
    }
    Ok(found)
}

fn checkpoint(conn: &Connection) -> Result<()> {
    // Returns (busy, log frames, checkpointed frames).
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    if busy != 0 {
        tracing::debug!("WAL checkpoint could not complete: another connection is reading");
    }
    Ok(())
}

/// A timestamp as stored: RFC 3339, milliseconds, `Z`.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn conversion_error(idx: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("unexpected value `{0}`")]
struct BadValue(String);

fn parse_ts(idx: usize, s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| conversion_error(idx, e))
}

pub(crate) fn get_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = row.get(idx)?;
    parse_ts(idx, &s)
}

pub(crate) fn get_opt_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| parse_ts(idx, &s)).transpose()
}

pub(crate) fn get_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| conversion_error(idx, e))
}

pub(crate) fn get_run_status(row: &Row<'_>, idx: usize) -> rusqlite::Result<RunStatus> {
    let s: String = row.get(idx)?;
    RunStatus::parse(&s).ok_or_else(|| conversion_error(idx, BadValue(s)))
}

pub(crate) fn get_opt_run_status(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<RunStatus>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| RunStatus::parse(&s).ok_or_else(|| conversion_error(idx, BadValue(s))))
        .transpose()
}

/// An unsigned count or size from SQLite's signed integers.
pub(crate) fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// A count or index from SQLite's signed integers.
pub(crate) fn get_usize(row: &Row<'_>, idx: usize) -> rusqlite::Result<usize> {
    let v: i64 = row.get(idx)?;
    usize::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

pub(crate) fn to_json(what: &'static str, value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|source| StoreError::Json { what, source })
}

/// An unsigned number for SQLite (saturating at `i64::MAX`).
pub(crate) fn sql_int(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

/// The extended result code of a failed statement, if it was a SQLite failure.
pub(crate) fn extended_code(e: &rusqlite::Error) -> Option<i32> {
    e.sqlite_error().map(|e| e.extended_code)
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<RunLog>();
    }

    #[test]
    fn a_new_file_gets_the_pragmas() {
        let (_dir, store) = temp_store();
        let conn = store.lock();
        let av: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0)).unwrap();
        assert_eq!(av, 2, "auto_vacuum must be INCREMENTAL");
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
        assert_eq!(fk, 1);
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "synchronous must be NORMAL");
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION as i64);
    }

    #[test]
    fn reopening_keeps_data_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join("flowpilot.db");
        {
            let store = Store::open(&path).unwrap();
            store.create_plan(&plan_file("Keep me"), t(0)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert!(store.find_plan_by_name("Keep me").unwrap().is_some());
        let av: i64 = store
            .lock()
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(av, 2);
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = ts(&t(0));
        let b = ts(&(t(0) + chrono::Duration::milliseconds(5)));
        let c = ts(&(t(0) + chrono::Duration::seconds(10)));
        assert_eq!(a, "2026-03-01T12:00:00.000Z");
        assert!(a < b && b < c);
        assert_eq!(a.len(), c.len());
    }
}
