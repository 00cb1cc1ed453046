//! Which [`Store`](super::Store) a `running` run belongs to, and whether that
//! store is still alive.
//!
//! The desktop app and `flowpilot-cli` may have the same database open at the
//! same time, so "this run is `running`" does not mean "a crash left it
//! behind". Each store instance gets an owner id (a UUID v7), stamps it on the
//! runs it creates (`runs.owner`) and, for its whole lifetime, holds an
//! exclusive advisory lock (`flock` on Unix, `LockFileEx` on Windows) on
//! `<db dir>/owners/<owner id>.lock`. The operating system drops the lock when
//! the process ends, however it ends, so:
//!
//! - lock file missing, or its lock free: the owner is gone and its runs are orphans;
//! - lock held by another handle: the owner is alive; leave its runs alone.
//!
//! Locks conflict per open file (description), not per process, so two stores
//! in one process see each other correctly too.
//!
//! A lock file is only ever deleted by its owner (when the store is dropped) or
//! by whoever holds its lock after the owner is gone. A store is born locked:
//! its file is created as `<id>.new`, locked, and only then renamed to
//! `<id>.lock` (the lock goes with the file), so an unlocked `.lock` file
//! always belongs to an owner that is gone. [`sweep_stale`] deletes those
//! (a crash with no run `running` leaves one), and `.new` files left by a crash
//! in the middle of being born once they are a minute old.

use super::{Result, StoreError};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder, next to the database file, that holds the owners' lock files.
pub(crate) fn owners_dir(db_path: &Path) -> PathBuf {
    match db_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join("owners"),
        _ => PathBuf::from("owners"),
    }
}

/// The lock file of owner `id`, if `id` is an owner id this code could have
/// written (a canonical hyphenated UUID). Anything else from the database is
/// never turned into a path.
fn lock_path(dir: &Path, id: &str) -> Option<PathBuf> {
    let uuid = uuid::Uuid::try_parse(id).ok()?;
    let canonical = uuid.hyphenated().to_string();
    (canonical == id).then(|| dir.join(format!("{canonical}.lock")))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// This store's identity and the lock that proves it is alive. Dropping it
/// releases the lock and deletes the file.
#[derive(Debug)]
pub(crate) struct OwnerLock {
    id: String,
    dir: PathBuf,
    path: PathBuf,
    /// Holds the lock: it is released when this file is closed.
    file: File,
    /// `false` only for tests that simulate a crash (the file stays behind).
    remove_on_drop: bool,
}

impl OwnerLock {
    /// Create `dir` if needed, and a new owner with its lock file, locked.
    ///
    /// Fails if the lock cannot be taken (e.g. a file system without locks):
    /// without it, other processes could not tell this store's runs from a
    /// crash's, and would mark them interrupted while they run.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let newborn = dir.join(format!("{id}.{NEWBORN}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&newborn)
            .map_err(io_error(&newborn))?;
        // From here on, dropping `this` deletes the file, whatever fails next.
        let mut this = Self {
            id,
            dir: dir.to_path_buf(),
            path: newborn,
            file,
            remove_on_drop: true,
        };
        match this.file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Io {
                    path: this.path.clone(),
                    source: std::io::ErrorKind::WouldBlock.into(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    path: this.path.clone(),
                    source,
                });
            }
        }
        // Only a hint for people looking at the folder; the lock is what counts.
        let _ = writeln!(this.file, "{}", std::process::id());
        // Locked before it gets the name others probe: an unlocked `.lock` file is stale.
        let path = dir.join(format!("{}.lock", this.id));
        std::fs::rename(&this.path, &path).map_err(io_error(&this.path))?;
        this.path = path;
        Ok(this)
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Whether owner `id` (another store) is gone, judged by its lock file.
    pub(crate) fn probe(&self, id: &str) -> Probe {
        probe(&self.dir, id)
    }

    /// Test support: behave like a crashed process, which loses its lock but
    /// leaves the file behind.
    #[cfg(test)]
    pub(crate) fn abandon(mut self) {
        self.remove_on_drop = false;
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Delete while still holding the lock; `self.file` (and the lock) goes after.
        if self.remove_on_drop
            && let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %self.path.display(), error = %e, "could not delete the owner lock file");
        }
    }
}

/// Whether the owner of some runs is still alive.
#[derive(Debug)]
pub(crate) enum Probe {
    /// Its lock is held: leave its runs alone.
    Alive,
    /// Gone: its runs are orphans. If its lock file was still there, it is
    /// returned locked (so nobody else acts on it meanwhile); delete it with
    /// [`StaleLock::remove`] once the runs are marked.
    Gone(Option<StaleLock>),
    /// The lock could not be tested (an I/O error other than "not found"):
    /// treated as alive, so a live run is never marked interrupted.
    Unknown(StoreError),
}

fn probe(dir: &Path, id: &str) -> Probe {
    let Some(path) = lock_path(dir, id) else {
        // Not an id a store of this code writes, so no live store has it.
        return Probe::Gone(None);
    };
    // Never create it: a missing file means its owner is gone. Read-only is
    // enough to lock on Unix, should the file belong to another user.
    let opened = match OpenOptions::new().read(true).write(true).open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => OpenOptions::new().read(true).open(&path),
        other => other,
    };
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Probe::Gone(None),
        Err(e) => return Probe::Unknown(io_error(&path)(e)),
    };
    match file.try_lock() {
        Ok(()) => Probe::Gone(Some(StaleLock { path, _file: file })),
        Err(TryLockError::WouldBlock) => Probe::Alive,
        Err(TryLockError::Error(e)) => Probe::Unknown(io_error(&path)(e)),
    }
}

/// The suffix of a lock file that is being born (created, not yet locked and renamed).
const NEWBORN: &str = "new";
/// A newborn file this old was left by a crash in the middle of being born.
const NEWBORN_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Delete the lock files of owners that are gone (their lock is free); those
/// still running keep theirs. Returns how many were deleted.
///
/// Call it after the gone owners' runs are marked interrupted (a missing lock
/// file means "gone" as well, so the order only matters for tidiness).
pub(crate) fn sweep_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(id) = name.strip_suffix(".lock") {
            if let Probe::Gone(Some(stale)) = probe(dir, id) {
                stale.remove();
                removed += 1;
            }
        } else if name.ends_with(&format!(".{NEWBORN}")) {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > NEWBORN_STALE_AFTER);
            if old
                && let Ok(file) = OpenOptions::new().read(true).write(true).open(&path)
                && file.try_lock().is_ok()
            {
                (StaleLock { path, _file: file }).remove();
                removed += 1;
            }
        }
    }
    removed
}

/// A gone owner's lock file, locked by us.
#[derive(Debug)]
pub(crate) struct StaleLock {
    path: PathBuf,
    _file: File,
}

impl StaleLock {
    /// Delete the file (while still holding its lock), then release it.
    pub(crate) fn remove(self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(path = %self.path.display(), error = %e, "could not delete a stale owner lock file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_blocks_a_second_handle_in_the_same_process() {
        let dir = tempfile::tempdir().unwrap();
        let owner = OwnerLock::acquire(dir.path()).unwrap();
        assert!(owner.path().exists());
        // flock-style locks belong to the open file, not the process: check it.
        let other = OpenOptions::new().read(true).write(true).open(owner.path()).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        drop(other);

        let second = OwnerLock::acquire(dir.path()).unwrap();
        assert_ne!(second.id(), owner.id());
        assert!(matches!(second.probe(owner.id()), Probe::Alive));

        let path = owner.path().to_path_buf();
        let id = owner.id().to_string();
        drop(owner);
        assert!(!path.exists(), "the lock file goes with its owner");
        assert!(matches!(second.probe(&id), Probe::Gone(None)));
    }

    #[test]
    fn an_abandoned_lock_is_free_and_ids_are_never_paths() {
        let dir = tempfile::tempdir().unwrap();
        let owner = OwnerLock::acquire(dir.path()).unwrap();
        let (id, path) = (owner.id().to_string(), owner.path().to_path_buf());
        owner.abandon();
        assert!(path.exists(), "a crash leaves the file behind");
        match probe(dir.path(), &id) {
            Probe::Gone(Some(stale)) => {
                // While we hold it, others see it as held.
                assert!(matches!(probe(dir.path(), &id), Probe::Alive));
                stale.remove();
            }
            other => panic!("expected a stale lock, got {other:?}"),
        }
        assert!(!path.exists());

        for bad in [
            "../owners/x",
            "",
            "not-a-uuid",
            &id.to_uppercase(),
            &format!("urn:uuid:{id}"),
        ] {
            assert_eq!(lock_path(dir.path(), bad), None, "{bad}");
        }
        assert_eq!(owners_dir(Path::new("flowpilot.db")), PathBuf::from("owners"));
        assert_eq!(owners_dir(Path::new("/a/b/flowpilot.db")), PathBuf::from("/a/b/owners"));
    }

    #[test]
    fn stale_lock_files_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = OwnerLock::acquire(dir.path()).unwrap();
        assert!(live.path().extension().is_some_and(|e| e == "lock"), "born, then named");
        let mut crashed = Vec::new();
        for _ in 0..3 {
            let gone = OwnerLock::acquire(dir.path()).unwrap();
            crashed.push(gone.path().to_path_buf());
            gone.abandon();
        }
        // A crash in the middle of being born, long ago, and one just now.
        let old_newborn = dir.path().join(format!("{}.{NEWBORN}", uuid::Uuid::now_v7()));
        let young_newborn = dir.path().join(format!("{}.{NEWBORN}", uuid::Uuid::now_v7()));
        std::fs::write(&old_newborn, b"").unwrap();
        std::fs::write(&young_newborn, b"").unwrap();
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&old_newborn)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();

        assert_eq!(sweep_stale(dir.path()), 4);
        assert!(crashed.iter().all(|p| !p.exists()));
        assert!(!old_newborn.exists());
        assert!(young_newborn.exists(), "a file being born right now is left alone");
        assert!(live.path().exists(), "a live owner keeps its file");
        assert!(matches!(probe(dir.path(), live.id()), Probe::Alive));
    }
}
