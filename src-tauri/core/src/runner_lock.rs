//! Only one process at a time runs a data folder's schedules and triggers: the
//! tray app or `flowpilot-cli serve`. The one that does holds an exclusive lock
//! on `<data folder>/runner.lock` (released by the operating system however the
//! process ends) and writes who it is into that file; another one reads it to
//! say which process holds them, and keeps its other functions.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file in the data folder.
pub const LOCK_FILE: &str = "runner.lock";

/// Why this process does not run the schedules and triggers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// Another process does.
    #[error(
        "the schedules and triggers of {data_dir} already run in {holder}; stop it first (only one process may run them)"
    )]
    Held { holder: String, data_dir: String },
    #[error("cannot lock {}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
}

/// Held while this process runs the schedules and triggers; dropping it lets another take over.
#[derive(Debug)]
pub struct RunnerLock {
    _file: File,
    holder: String,
}

impl RunnerLock {
    /// Who holds it, as written in the file: `flowpilot-cli serve (pid 4242) since …`.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Take the lock for `who` (`the Flowpilot app`, `flowpilot-cli serve`), or say who has it.
pub fn claim(data_dir: &Path, who: &str) -> Result<RunnerLock, ClaimError> {
    let path = data_dir.join(LOCK_FILE);
    let io = |e: std::io::Error| ClaimError::Io {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut file = open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(ClaimError::Held {
                holder: read_holder(&mut file),
                data_dir: data_dir.display().to_string(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    let holder = format!(
        "{who} (pid {}) since {}",
        std::process::id(),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(holder.as_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(RunnerLock { _file: file, holder })
}

/// Who runs the schedules and triggers of `data_dir` now, if a process does
/// (this one included).
pub fn holder(data_dir: &Path) -> Option<String> {
    let mut file = File::open(data_dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it exclusively; ours is released when `file` closes.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_holder(&mut file)),
        Err(TryLockError::Error(_)) => None,
    }
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(512).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another Flowpilot process".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_second_hears_who() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let first = claim(dir.path(), "flowpilot-cli serve").unwrap();
        assert!(
            first.holder().starts_with("flowpilot-cli serve (pid "),
            "{}",
            first.holder()
        );
        let err = claim(dir.path(), "the Flowpilot app").unwrap_err();
        let ClaimError::Held { holder: who, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(who, first.holder());
        assert!(
            err.to_string().contains("already run in flowpilot-cli serve (pid "),
            "{err}"
        );
        assert_eq!(holder(dir.path()).as_deref(), Some(first.holder()));
        drop(first);
        assert_eq!(holder(dir.path()), None);
        let second = claim(dir.path(), "the Flowpilot app").unwrap();
        assert!(second.holder().starts_with("the Flowpilot app"));
    }
}
