//! The store's connections to its SQLite file: the writing one (opened with
//! the file's settings and migrated), the read-only one beside it, and what
//! happens to the WAL when a store closes.

use super::{Result, SCHEMA_VERSION, StoreError, migrations, sql_int};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
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

/// The writing connection of a store at `path`: the file's schema checked
/// read-only first, its settings (WAL, `synchronous = NORMAL`, a small page
/// cache, `IMMEDIATE` transactions) applied and its schema migrated.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
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
    Ok(conn)
}

/// The most WAL a store leaves when it closes, if it is the file's last user:
/// the next process that opens the file alone rebuilds the WAL's index by
/// reading all of it (about a millisecond a MiB here), so a bigger one is
/// checkpointed into the file and truncated on close.
pub const WAL_KEPT_ON_CLOSE: u64 = 1 << 20;

/// On close: checkpoint and truncate the WAL if it is over [`WAL_KEPT_ON_CLOSE`]
/// and nobody else uses the file (no wait: another user leaves it for later).
pub(super) fn truncate_big_wal(conn: &Connection, path: &Path) {
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
pub(super) fn open_reader(path: &Path, lock_wait: Duration) -> Result<Connection> {
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

pub(super) fn checkpoint(conn: &Connection) -> Result<()> {
    // Returns (busy, log frames, checkpointed frames).
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    if busy != 0 {
        tracing::debug!("WAL checkpoint could not complete: another connection is reading");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::test_support::*;
    use std::sync::Arc;

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
