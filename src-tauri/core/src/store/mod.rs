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
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

/// How long a write waits for another connection's lock, per attempt.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a write that found the database locked is tried in all.
pub const WRITE_ATTEMPTS: u32 = 3;

/// How patient writes are with a database another program holds locked: each
/// attempt waits up to `timeout` for the lock, and a write is tried `attempts`
/// times before it fails with [`StoreError::Busy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockWait {
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for LockWait {
    fn default() -> Self {
        Self {
            timeout: BUSY_TIMEOUT,
            attempts: WRITE_ATTEMPTS,
        }
    }
}

/// The most memory SQLite's page cache may use, per open store.
pub const PAGE_CACHE_KIB: i64 = 512;

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
        // Closing leaves the WAL as it is instead of copying it into the file
        // and deleting it: every commit in it is as durable either way, and a
        // short-lived process (`flowpilot-cli run`) saves the checkpoint's two
        // fsyncs and the WAL's re-creation (another) each time. SQLite still
        // checkpoints as the WAL grows (every 1,000 pages), and maintenance
        // checkpoints explicitly. A WAL bigger than [`WAL_KEPT_ON_CLOSE`] is
        // checkpointed on close after all (see `writer::Shared`'s drop).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        // SQLite's page cache grows with the file up to its cap (2 MiB by
        // default), so a long-running app's memory rose with every run until
        // then. What Flowpilot reads and writes is mostly the newest pages; the
        // operating system caches the file anyway.
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
        // Migrations (and any `conn.transaction()`) take the write lock up front.
        conn.set_transaction_behavior(TransactionBehavior::Immediate);
        migrations::MIGRATIONS.to_latest(&mut conn)?;

        // Room for the statements of every kind of write, prepared once.
        conn.set_prepared_statement_cache_capacity(64);

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
        checkpoint(&conn).map_err(|e| e.at(&self.shared.path))
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
                None => reader.insert(open_reader(&self.shared.path, self.shared.lock_wait())?),
            };
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })();
        read.map_err(|e| e.at(&self.shared.path))
    }
}

/// The most WAL a store leaves when it closes, if it is the file's last user:
/// the next process that opens the file alone rebuilds the WAL's index by
/// reading all of it (about a millisecond a MiB here), so a bigger one is
/// checkpointed into the file and truncated on close.
pub const WAL_KEPT_ON_CLOSE: u64 = 1 << 20;

/// On close: checkpoint and truncate the WAL if it is over [`WAL_KEPT_ON_CLOSE`]
/// and nobody else uses the file (no wait: another user leaves it for later).
fn truncate_big_wal(conn: &Connection, path: &Path) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_KEPT_ON_CLOSE);
    if !big {
        return;
    }
    let done = conn
        .busy_timeout(Duration::ZERO)
        .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get::<_, i64>(0)));
    match done {
        Ok(0) => {}
        Ok(_) => tracing::debug!("the WAL is in use elsewhere; left for a later checkpoint"),
        Err(e) => tracing::debug!(error = %e, "the WAL could not be checkpointed on close"),
    }
}

/// The read-only connection of [`Store::read`]: it sees every commit of the
/// writing one (WAL), never waits for it, and keeps its own small page cache.
fn open_reader(path: &Path, lock_wait: Duration) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(lock_wait)?;
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
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

    #[test]
    fn closing_leaves_a_small_wal_and_checkpoints_a_big_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let wal = dir.path().join("flowpilot.db-wal");
        {
            let store = Store::open(&path).unwrap();
            store.set_setting("small", &serde_json::json!("x")).unwrap();
            assert_eq!(store.get_setting("small").unwrap(), Some(serde_json::json!("x")));
        }
        let small = std::fs::metadata(&wal).unwrap().len();
        assert!(small > 0 && small <= WAL_KEPT_ON_CLOSE, "left as it is: {small} bytes");
        {
            let store = Store::open(&path).unwrap();
            let big = "y".repeat(usize::try_from(WAL_KEPT_ON_CLOSE).unwrap() + 4096);
            store.set_setting("big", &serde_json::json!(big)).unwrap();
            assert!(std::fs::metadata(&wal).unwrap().len() > WAL_KEPT_ON_CLOSE);
        }
        assert_eq!(
            std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
            0,
            "checkpointed and truncated"
        );
        let store = Store::open(&path).unwrap();
        assert_eq!(store.get_setting("small").unwrap(), Some(serde_json::json!("x")));
        let big = store.get_setting("big").unwrap().unwrap();
        assert_eq!(
            big.as_str().map(str::len),
            Some(usize::try_from(WAL_KEPT_ON_CLOSE).unwrap() + 4096)
        );
    }

    #[test]
    fn a_read_does_not_wait_for_a_write_in_progress() {
        let (_dir, store) = temp_store();
        store.create_plan(&plan_file("Committed"), t(0)).unwrap();
        let store = Arc::new(store);
        // The writing connection is busy in a transaction not yet committed.
        let writing = store.lock();
        writing.execute_batch("BEGIN IMMEDIATE").unwrap();
        writing
            .execute("UPDATE plans SET name = 'Not yet' WHERE name = 'Committed'", [])
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = store.clone();
        std::thread::spawn(move || {
            let names: Vec<String> = reader.list_plans().unwrap().into_iter().map(|p| p.name).collect();
            tx.send(names).unwrap();
        });
        // Held behind the writer, the read would never come back while the lock is held.
        let names = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the read waited for the write");
        assert_eq!(names, ["Committed"], "a read sees only what is committed");
        writing.execute_batch("COMMIT").unwrap();
        drop(writing);
        let names: Vec<String> = store.list_plans().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Not yet"], "and everything once it is");
    }

    #[test]
    fn a_lock_held_elsewhere_is_waited_for_and_then_reported_as_busy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let store = Store::open(&path).unwrap();
        store
            .set_lock_wait(LockWait {
                timeout: Duration::from_millis(100),
                attempts: 3,
            })
            .unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = std::time::Instant::now();
        let err = store.create_plan(&plan_file("Locked out"), t(0)).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(300), "three waits of 100 ms");
        assert!(err.to_string().contains("locked by another program"), "{err}");
        other.execute_batch("ROLLBACK").unwrap();
        store.create_plan(&plan_file("Locked out"), t(0)).unwrap();
    }
}
