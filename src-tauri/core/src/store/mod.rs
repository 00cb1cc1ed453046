//! Flowpilot's store: one SQLite file holding plans (with their version
//! history), runs and their step logs, credential bookkeeping (names only,
//! never values) and settings. Plain `rusqlite`, versioned migrations.
//!
//! Conventions:
//! - Timestamps are UTC, stored as RFC 3339 text with millisecond precision
//!   (`2026-03-29T00:30:00.000Z`), so text order is time order.
//! - JSON columns hold `serde_json` text.
//! - Every write runs in an `IMMEDIATE` transaction on the one writing
//!   connection; reads run on a read-only connection of their own (opened on
//!   the first read), so a read never waits for a commit. Each sits behind a
//!   mutex, so a [`Store`] is `Send + Sync` and can be shared in an `Arc`.
//! - The writes of running runs (a step starting, a step's row, a run's end)
//!   are group-committed (`writer.rs`): concurrent runs share one commit, and
//!   each caller goes on only once its own write is committed.
//! - Durable means committed with `journal_mode = WAL` and `synchronous = NORMAL`:
//!   a committed write survives the process crashing or being killed; a power
//!   loss or OS crash may lose the last commits before a checkpoint (never
//!   corrupts the file).

mod columns;
mod connection;
mod credentials;
mod in_flight;
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
mod stats_hours;
mod step_logs;
#[cfg(test)]
pub(crate) mod test_support;
mod triggers;
mod writer;

use columns::conversion_error;
pub(crate) use columns::{
    get_json, get_ms, get_opt_json, get_opt_run_status, get_opt_ts, get_run_status, get_ts, get_u64, get_usize, ms,
    sql_int, ts,
};
pub use connection::{BUSY_TIMEOUT, LockWait, PAGE_CACHE_KIB, WAL_KEPT_ON_CLOSE, WRITE_ATTEMPTS};
pub use in_flight::{InFlightStep, interrupted_error};
pub use integrations::{ConnectionState, StoredIntegration};
pub use migrations::SCHEMA_VERSION;
pub use plans::{PlanRow, PlanSummary, PlanVersion};
pub use retention::{PruneReport, RetentionPolicy};
pub use run_log::{RunLog, fail_for_storage};
pub use runs::{INTERRUPTED_ERROR, NewRun, Page, RunFilter, RunRow};
pub use schedules::{MissReason, MissedFire, ScheduleState};
pub use stats::{ProviderStats, RunCounts, SlowStep};
pub use triggers::{CheckCommit, NewEvent, Queued, QueuedEvent, SEEN_LIMIT, TriggerState};

use chrono::{DateTime, Utc};
use flowpilot_engine::RunStatus;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// Another program held the database's write lock longer than writes wait.
    #[error("the database stayed locked by another program longer than Flowpilot waits for it ({source})")]
    Busy {
        #[source]
        source: rusqlite::Error,
    },
    /// The file system is full: nothing more can be written.
    #[error("the disk is full: the database cannot be written until some space is freed ({source})")]
    DiskFull {
        #[source]
        source: rusqlite::Error,
    },
    /// A page of the database file is damaged (or the file is not a database).
    #[error(
        "the database file {} is damaged (a corrupt page): restore it from a backup, or move it aside to start \
         with an empty one (`sqlite3 <file> .recover` saves what is still readable)",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("could not bring the database schema up to date: {0}")]
    Migration(rusqlite_migration::Error),
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

/// SQLite's failures by what they mean for a person: a full disk, a lock held
/// elsewhere, a damaged file; the rest as they are.
impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as Code;
        match source.sqlite_error_code() {
            Some(Code::DiskFull) => Self::DiskFull { source },
            Some(Code::DatabaseBusy | Code::DatabaseLocked) => Self::Busy { source },
            Some(Code::DatabaseCorrupt | Code::NotADatabase) => Self::Corrupt {
                path: PathBuf::new(),
                source,
            },
            _ => Self::Sqlite(source),
        }
    }
}

impl From<rusqlite_migration::Error> for StoreError {
    fn from(e: rusqlite_migration::Error) -> Self {
        match e {
            rusqlite_migration::Error::RusqliteError { err, query } => match Self::from(err) {
                Self::Sqlite(err) => Self::Migration(rusqlite_migration::Error::RusqliteError { err, query }),
                classified => classified,
            },
            other => Self::Migration(other),
        }
    }
}

impl StoreError {
    /// Name the database file in a damaged-file error.
    fn at(self, file: &Path) -> Self {
        match self {
            Self::Corrupt { source, .. } => Self::Corrupt {
                path: file.to_path_buf(),
                source,
            },
            other => other,
        }
    }

    /// Whether the database itself failed (full, locked, damaged, unwritable),
    /// rather than a request to it being wrong.
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            Self::Sqlite(_) | Self::Busy { .. } | Self::DiskFull { .. } | Self::Corrupt { .. } | Self::Io { .. }
        )
    }
}

/// The store. Cheap to share: wrap it in an `Arc`.
///
/// Several stores (in one process or several, e.g. the app and the CLI) may
/// have the same file open. Each is an *owner*: the runs it creates are marked
/// as its own, and it holds a lock file (`owners/<id>.lock`, next to the
/// database) until it is dropped, so the others can tell its live runs from a
/// crash's (see [`Store::recover_orphaned_runs`]).
#[derive(Debug)]
pub struct Store {
    /// The writes of running runs waiting to be committed together.
    writer: writer::Writer,
    /// The connection, the file, how often a locked write is tried.
    shared: Arc<writer::Shared>,
    /// Declared after the connection, so dropped after it: the lock outlives it.
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
        Self::open_at(path).map_err(|e| e.at(path))
    }

    fn open_at(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = connection::open_writer(path)?;
        let owner = owners::OwnerLock::acquire(&owners::owners_dir(path))?;
        let shared = Arc::new(writer::Shared::new(
            conn,
            path.to_path_buf(),
            WRITE_ATTEMPTS,
            BUSY_TIMEOUT,
        ));
        let store = Store {
            writer: writer::Writer::default(),
            shared,
            owner,
        };
        store.recover_orphaned_runs()?;
        store.sweep_stale_owners();
        Ok(store)
    }

    /// Copy the WAL into the main file and truncate it (e.g. before a backup).
    pub fn checkpoint(&self) -> Result<()> {
        let conn = self.lock();
        connection::checkpoint(&conn).map_err(|e| e.at(&self.shared.path))
    }

    /// Delete the lock files of stores that are gone (a crash leaves them
    /// behind); how many.
    pub fn sweep_stale_owners(&self) -> usize {
        let swept = owners::sweep_stale(&owners::owners_dir(&self.shared.path));
        if swept > 0 {
            tracing::info!(count = swept, "deleted the lock files of Flowpilots that are gone");
        }
        swept
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How long and how often writes wait for a lock another program holds.
    pub fn set_lock_wait(&self, wait: LockWait) -> Result<()> {
        self.lock().busy_timeout(wait.timeout)?;
        if let Some(reader) = self.shared.lock_reader().as_ref() {
            reader.busy_timeout(wait.timeout)?;
        }
        *self.shared.lock_wait.lock().unwrap_or_else(|e| e.into_inner()) = wait.timeout;
        self.shared
            .write_attempts
            .store(wait.attempts.max(1), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Test support: behave like a crashed process. The connection is never
    /// closed (nor the WAL checkpointed); the lock is released, but its file stays.
    #[cfg(test)]
    pub(crate) fn simulate_crash(self) {
        let Store { writer, shared, owner } = self;
        drop(writer);
        std::mem::forget(shared);
        owner.abandon();
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.shared.lock()
    }

    /// A write of a running run, group-committed with the others waiting
    /// (see `writer.rs`); returns once it is committed.
    fn write_grouped(&self, job: writer::Job) -> Result<()> {
        self.writer.write_blocking(&self.shared, job)
    }

    /// [`Store::write_grouped`] as a future that awaits another's commit without blocking.
    fn write_grouped_async(&self, job: writer::Job) -> impl Future<Output = Result<()>> + Send + 'static {
        self.writer.write(&self.shared, job)
    }

    /// Run `f` in an IMMEDIATE transaction; commit if it returns `Ok`. A
    /// database locked by another program is waited for (the busy timeout), and
    /// the whole transaction tried again a few times, before the write fails
    /// with [`StoreError::Busy`]: a write is never dropped silently.
    fn write<T>(&self, mut f: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let attempts = self.shared.attempts();
        let mut conn = self.lock();
        let mut attempt = 1;
        loop {
            let written = (|| -> Result<T> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.commit()?;
                Ok(out)
            })();
            match written {
                Err(StoreError::Busy { .. }) if attempt < attempts => {
                    tracing::warn!(
                        attempt,
                        "the database is locked by another program; trying the write again"
                    );
                    // The busy timeout did the long wait; this only spaces the tries.
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                    attempt += 1;
                }
                other => return other.map_err(|e| e.at(&self.shared.path)),
            }
        }
    }

    /// Run `f` in a read transaction (one consistent snapshot).
    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut reader = self.shared.lock_reader();
        let read = (|| -> Result<T> {
            let conn = match reader.as_mut() {
                Some(conn) => conn,
                None => reader.insert(connection::open_reader(&self.shared.path, self.shared.lock_wait())?),
            };
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        read.map_err(|e| e.at(&self.shared.path))
    }
}

pub(crate) fn to_json(what: &'static str, value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|source| StoreError::Json { what, source })
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

    #[test]
    fn a_damaged_file_is_reported_as_such_with_the_backup_advice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        {
            let store = Store::open(&path).unwrap();
            store.create_plan(&plan_file("Soon damaged"), t(0)).unwrap();
            store.checkpoint().unwrap();
        }
        // Every page after the first (the schema) is overwritten with garbage.
        let mut bytes = std::fs::read(&path).unwrap();
        let page = 4096;
        for b in bytes.iter_mut().skip(page) {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = Store::open(&path).and_then(|s| s.list_plans().map(|_| ())).unwrap_err();
        match &err {
            StoreError::Corrupt { path: at, .. } => assert_eq!(at, &path),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("is damaged") && message.contains("backup"),
            "{message}"
        );
        assert!(!message.contains("malformed"), "{message}");

        // A file that is not a database at all says the same.
        std::fs::write(&path, b"this is not a database, it only has the name of one").unwrap();
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}
