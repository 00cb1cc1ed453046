//! Start-up milestones: the app is armed (its data open, the scheduler loop
//! running, the tray in place) and a window has loaded. Each is logged with the
//! time since `main`; with `FLOWPILOT_PRINT_READY=1` each is also one line on
//! stdout, which scripts (the package test, the memory and start-up figures)
//! wait on instead of sleeping:
//!
//! ```text
//! flowpilot-ready armed unix_ms=1764000000123 since_main_ms=41
//! ```
//!
//! `unix_ms` is the wall clock, so a script that noted the time before it
//! started the process gets the whole start, dynamic linking included.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Set to `1` to have the milestones printed on stdout.
pub const PRINT_ENV: &str = "FLOWPILOT_PRINT_READY";

static MAIN_STARTED: OnceLock<Instant> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// Data open, scheduler loop spawned, tray installed: schedules will fire.
    Armed,
    /// A window's page finished loading (the UI is mounted; its first frame
    /// is painted in the same turn of WebKit's rendering loop).
    WindowLoaded,
}

impl Milestone {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Armed => "armed",
            Self::WindowLoaded => "window-loaded",
        }
    }
}

/// Note when `main` started; call it first.
pub fn main_started() {
    MAIN_STARTED.get_or_init(Instant::now);
}

/// The line a milestone prints, for the scripts that wait on it.
pub fn line(milestone: Milestone, unix_ms: u128, since_main_ms: u128) -> String {
    format!(
        "flowpilot-ready {} unix_ms={unix_ms} since_main_ms={since_main_ms}",
        milestone.as_str()
    )
}

pub fn reached(milestone: Milestone) {
    let since_main_ms = MAIN_STARTED.get().map_or(0, |t| t.elapsed().as_millis());
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    tracing::info!(milestone = milestone.as_str(), since_main_ms, "start-up milestone");
    if std::env::var_os(PRINT_ENV).is_some_and(|v| v == "1") {
        let mut out = std::io::stdout().lock();
        let printed = writeln!(out, "{}", line(milestone, unix_ms, since_main_ms)).and_then(|()| out.flush());
        if let Err(e) = printed {
            tracing::warn!("cannot print the start-up milestone: {e}");
        }
    }
}
