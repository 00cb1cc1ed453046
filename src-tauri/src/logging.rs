//! Logs: a daily file in the app's log folder (and stderr). Nothing logged here
//! carries a credential value: the engine redacts step outputs and errors, and
//! commands never log their arguments.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Set `FLOWPILOT_LOG` (e.g. `debug`, `flowpilot_core=trace`) to change what is logged.
pub const FILTER_ENV: &str = "FLOWPILOT_LOG";
/// Daily files kept.
const KEEP_FILES: usize = 14;

/// Flushes the file on drop: keep it for the life of the app.
pub struct LogGuard {
    _flush_on_drop: Option<WorkerGuard>,
}

/// Start logging to `dir`. If the folder cannot be used, log to stderr only.
pub fn init(dir: &Path) -> LogGuard {
    let filter = || EnvFilter::try_from_env(FILTER_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // The appender prunes old files from the folder at start, so it must exist.
    let file = std::fs::create_dir_all(dir).map_err(|e| e.to_string()).and_then(|()| {
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("flowpilot")
            .filename_suffix("log")
            .max_log_files(KEEP_FILES)
            .build(dir)
            .map_err(|e| e.to_string())
    });
    match file {
        Ok(file) => {
            let (writer, guard) = tracing_appender::non_blocking(file);
            let file = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(false);
            let _already_set = tracing_subscriber::registry()
                .with(filter())
                .with(stderr)
                .with(file)
                .try_init();
            LogGuard {
                _flush_on_drop: Some(guard),
            }
        }
        Err(e) => {
            let _already_set = tracing_subscriber::registry().with(filter()).with(stderr).try_init();
            tracing::warn!(dir = %dir.display(), "cannot write log files: {e}");
            LogGuard { _flush_on_drop: None }
        }
    }
}
