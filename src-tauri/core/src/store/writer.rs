//! Group commit: the writes of running runs (a step starting, a step's row, a
//! run's end) queue up for the store's one connection. The first writer to
//! find no one committing becomes the leader: it takes every write waiting,
//! does them all in ONE transaction (each in a savepoint of its own, so one
//! that fails leaves the others), commits once, tells each writer how its
//! write went, and goes on until the queue is empty. A writer goes on only
//! after its write is committed, as before; concurrent runs share commits
//! instead of queueing for one each.
//!
//! The leader is a caller, not a thread of the store's own: on this 2-core
//! virtual machine, handing each write to a writer thread and back cost two
//! thread wake-ups, about 300 µs a write (`cargo bench --bench overhead`, the
//! same hour: 650–770 µs of engine overhead a step with a writer thread,
//! 251–258 µs with the writers leading; a one-row commit is 37 µs).

use super::{Result, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A write: done in a transaction, possibly tried again (a database locked elsewhere).
pub(super) type Job = Box<dyn FnMut(&Transaction<'_>) -> Result<()> + Send>;

/// Writes done in order as one: in the same savepoint, so all of them are
/// committed or, if one fails, none.
pub(super) fn together(mut jobs: Vec<Job>) -> Job {
    Box::new(move |tx| jobs.iter_mut().try_for_each(|job| job(tx)))
}

enum Reply {
    Blocking(mpsc::SyncSender<Result<()>>),
    Async(tokio::sync::oneshot::Sender<Result<()>>),
}

impl Reply {
    fn send(self, result: Result<()>) {
        // A caller that stopped waiting (its run was dropped) no longer needs to know.
        let _ = match self {
            Self::Blocking(tx) => tx.send(result).map_err(|_| ()),
            Self::Async(tx) => tx.send(result).map_err(|_| ()),
        };
    }
}

struct Pending {
    job: Job,
    reply: Reply,
}

/// What the writers share: the connection, the file, how often a locked write is tried.
#[derive(Debug)]
pub(super) struct Shared {
    pub conn: Mutex<Connection>,
    /// A second, read-only connection for reads, opened on the first one. In
    /// WAL mode a read sees the last commit without waiting for the one being
    /// written, so a webhook call, the Dashboard or the next queued event is
    /// not held up behind a run's writes (nor holds them up).
    pub reader: Mutex<Option<Connection>>,
    pub write_attempts: AtomicU32,
    /// How long a statement waits for a lock another program holds.
    pub lock_wait: Mutex<Duration>,
    pub path: PathBuf,
}

impl Shared {
    pub fn new(conn: Connection, path: PathBuf, attempts: u32, lock_wait: Duration) -> Self {
        Self {
            conn: Mutex::new(conn),
            reader: Mutex::new(None),
            write_attempts: attempts.into(),
            lock_wait: Mutex::new(lock_wait),
            path,
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock dropped any open transaction, which
        // rolled it back: the connection is still consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The read connection (`None` until the first read opens it).
    pub fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_wait(&self) -> Duration {
        *self.lock_wait.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn attempts(&self) -> u32 {
        self.write_attempts.load(Ordering::Relaxed).max(1)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The reader first, so the checkpoint finds no reader but this process's own.
        drop(self.lock_reader().take());
        super::connection::truncate_big_wal(&self.lock(), &self.path);
    }
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    /// Someone is committing, and will take what waits before it stops.
    leading: bool,
}

/// The queue of writes waiting for a commit.
#[derive(Default)]
pub(super) struct Writer {
    queue: Mutex<Queue>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn writer_gone(shared: &Shared) -> StoreError {
    StoreError::Io {
        path: shared.path.clone(),
        source: std::io::Error::other("the write was dropped unanswered (a writer panicked)"),
    }
}

/// Lets the next writer lead if a leader unwinds (a panic), so no write waits forever.
struct Leading<'a>(&'a Writer);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().leading = false;
        }
    }
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a write; lead (commit what waits, here and now) unless someone does.
    fn submit(&self, shared: &Shared, job: Job, reply: Reply) {
        let lead = {
            let mut queue = self.lock();
            queue.waiting.push(Pending { job, reply });
            !std::mem::replace(&mut queue.leading, true)
        };
        if lead {
            let _leading = Leading(self);
            loop {
                let mut batch = {
                    let mut queue = self.lock();
                    if queue.waiting.is_empty() {
                        queue.leading = false;
                        break;
                    }
                    std::mem::take(&mut queue.waiting)
                };
                let results = commit(shared, &mut shared.lock(), &mut batch);
                for (pending, result) in batch.into_iter().zip(results) {
                    pending.reply.send(result);
                }
            }
        }
    }

    /// Write and wait (blocking this thread) until it is committed.
    pub fn write_blocking(&self, shared: &Shared, job: Job) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(shared, job, Reply::Blocking(tx));
        rx.recv().map_err(|_| writer_gone(shared))?
    }

    /// Write; the future is done once the write is committed (or failed). The
    /// write is queued at once, and committed at once if no one else is committing.
    pub fn write(&self, shared: &Arc<Shared>, job: Job) -> impl Future<Output = Result<()>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(shared, job, Reply::Async(tx));
        let shared = shared.clone();
        async move { rx.await.map_err(|_| writer_gone(&shared))? }
    }
}

/// Do `batch` in one transaction; each write's result. A database locked by
/// another program is waited for and the whole batch tried again, as
/// [`super::Store`]'s own writes are.
fn commit(shared: &Shared, conn: &mut Connection, batch: &mut [Pending]) -> Vec<Result<()>> {
    let attempts = shared.attempts();
    let mut attempt = 1;
    loop {
        match try_commit(conn, batch) {
            Err(StoreError::Busy { .. }) if attempt < attempts => {
                tracing::warn!(
                    attempt,
                    "the database is locked by another program; trying the writes again"
                );
                std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                attempt += 1;
            }
            Ok(results) => return results.into_iter().map(|r| r.map_err(|e| e.at(&shared.path))).collect(),
            Err(e) => {
                // Nothing of the batch was committed: every write gets the error.
                let mut results = Vec::with_capacity(batch.len());
                results.push(Err(e.at(&shared.path)));
                while results.len() < batch.len() {
                    results.push(Err(same_failure(&results[0])));
                }
                return results;
            }
        }
    }
}

/// Each write's own result inside the transaction; `Err` when the transaction
/// itself (its start or its commit) failed.
fn try_commit(conn: &mut Connection, batch: &mut [Pending]) -> Result<Vec<Result<()>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    if let [only] = batch {
        // Alone, a write that fails rolls the whole transaction back.
        (only.job)(&tx)?;
        results.push(Ok(()));
    } else {
        for pending in batch.iter_mut() {
            tx.execute_batch("SAVEPOINT job")?;
            let done = (pending.job)(&tx);
            if let Err(e) = done {
                // A full disk or an I/O error may have rolled the whole
                // transaction back already: then nothing of the batch stands.
                if tx.is_autocommit()
                    || matches!(
                        e,
                        StoreError::Busy { .. } | StoreError::DiskFull { .. } | StoreError::Corrupt { .. }
                    )
                {
                    return Err(e);
                }
                tx.execute_batch("ROLLBACK TO job")?;
                tx.execute_batch("RELEASE job")?;
                results.push(Err(e));
                continue;
            }
            tx.execute_batch("RELEASE job")?;
            results.push(done);
        }
    }
    tx.commit()?;
    Ok(results)
}

/// The error a whole batch failed with, again for another of its writes (the
/// errors are not `Clone`): the same SQLite code and message.
fn same_failure(first: &Result<()>) -> StoreError {
    let Err(e) = first else {
        return StoreError::Sqlite(rusqlite::Error::InvalidQuery);
    };
    let source = |e: &rusqlite::Error| match e.sqlite_error() {
        Some(code) => rusqlite::Error::SqliteFailure(*code, Some(e.to_string())),
        None => other_failure(e.to_string()),
    };
    match e {
        StoreError::Busy { source: s } => StoreError::Busy { source: source(s) },
        StoreError::DiskFull { source: s } => StoreError::DiskFull { source: source(s) },
        StoreError::Corrupt { path, source: s } => StoreError::Corrupt {
            path: path.clone(),
            source: source(s),
        },
        StoreError::Sqlite(s) => StoreError::Sqlite(source(s)),
        StoreError::Io { path, source: s } => StoreError::Io {
            path: path.clone(),
            source: std::io::Error::new(s.kind(), s.to_string()),
        },
        other => StoreError::Sqlite(other_failure(other.to_string())),
    }
}

fn other_failure(message: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR), Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use flowpilot_engine::StepStatus;

    fn pending(job: Job) -> (Pending, mpsc::Receiver<Result<()>>) {
        let (tx, rx) = mpsc::sync_channel(1);
        (
            Pending {
                job,
                reply: Reply::Blocking(tx),
            },
            rx,
        )
    }

    #[test]
    fn a_write_that_fails_in_a_batch_leaves_the_others_committed() {
        let (_dir, store) = temp_store();
        store.create_run(&new_run("r1", None, t(0))).unwrap();
        let row = |run: &str, n| {
            super::super::step_logs::StepRow::new(&step(run, n, "http", StepStatus::Success, 1, t(1))).unwrap()
        };
        let insert = |mut row: super::super::step_logs::StepRow| -> Job {
            Box::new(move |tx| {
                if !super::super::step_logs::insert_step(tx, &mut row, false)? {
                    return Err(super::super::runs::not_running(tx, &row.run_id));
                }
                Ok(())
            })
        };
        let (first, _) = pending(insert(row("r1", 0)));
        let (ghost, _) = pending(insert(row("ghost", 0)));
        let (last, _) = pending(insert(row("r1", 1)));
        let mut batch = vec![first, ghost, last];
        let results = commit(&store.shared, &mut store.lock(), &mut batch);
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert!(
            matches!(&results[1], Err(StoreError::NotFound { what: "run", id }) if id == "ghost"),
            "{results:?}"
        );
        let steps = store.step_logs("r1").unwrap();
        assert_eq!(steps.iter().map(|s| s.step_number).collect::<Vec<_>>(), vec![0, 1]);
    }

    #[test]
    fn concurrent_runs_rows_all_land_and_each_caller_hears_of_its_own() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        for r in 0..4 {
            store.create_run(&new_run(&format!("r{r}"), None, t(0))).unwrap();
        }
        let threads: Vec<_> = (0..4)
            .map(|r| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for n in 0..25 {
                        store
                            .append_step(&step(&format!("r{r}"), n, "http", StepStatus::Success, 1, t(1)))
                            .unwrap();
                    }
                    // A finished run refuses more rows, to this caller only.
                    store
                        .finish_run(
                            &outcome(&format!("r{r}"), flowpilot_engine::RunStatus::Success, t(0), t(2)),
                            None,
                        )
                        .unwrap();
                    store
                        .append_step(&step(&format!("r{r}"), 25, "http", StepStatus::Success, 1, t(3)))
                        .unwrap_err()
                })
            })
            .collect();
        for thread in threads {
            let err = thread.join().unwrap();
            assert!(matches!(err, StoreError::RunFinished { .. }), "{err:?}");
        }
        for r in 0..4 {
            assert_eq!(store.step_logs(&format!("r{r}")).unwrap().len(), 25);
        }
    }
}
