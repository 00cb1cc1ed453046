//! App settings, stored as one JSON value in the settings table. Unknown or
//! missing fields take their defaults, so old and new versions read each other.

use serde::{Deserialize, Serialize};

pub const SETTINGS_KEY: &str = "app";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct Settings {
    /// Raise desktop notifications (failures, recoveries, catch-ups).
    pub notifications: bool,
    /// Plans (by id) that also notify on success.
    pub notify_success_plans: Vec<String>,
    /// Start Flowpilot, hidden in the tray, when the user logs in.
    pub start_at_login: bool,
    /// Runs older than this many days are pruned (failures: `retention_failed_days`).
    pub retention_days: u32,
    pub retention_failed_days: u32,
    pub retention_max_runs: u64,
    /// Scheduled runs that may run at the same time, all plans together.
    pub concurrency: u32,
    /// Pause a plan's schedule after this many failed runs in a row (0: never).
    pub auto_pause_after: u32,
    /// Missed fires older than this are counted, not run.
    pub catch_up_window_hours: u32,
    /// Closing the window leaves Flowpilot running (in the tray, schedules and
    /// triggers going); off, closing the window quits it.
    pub keep_running_when_closed: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications: true,
            notify_success_plans: Vec::new(),
            start_at_login: false,
            retention_days: 30,
            retention_failed_days: 90,
            retention_max_runs: 10_000,
            concurrency: 4,
            auto_pause_after: 0,
            catch_up_window_hours: 24,
            keep_running_when_closed: true,
        }
    }
}

impl Settings {
    /// Values a person could not have meant, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=64).contains(&self.concurrency) {
            out.push(("concurrency", "between 1 and 64".to_string()));
        }
        if self.retention_days == 0 || self.retention_failed_days == 0 {
            out.push(("retention_days", "at least one day".to_string()));
        }
        if self.retention_max_runs < 10 {
            out.push(("retention_max_runs", "at least 10 runs".to_string()));
        }
        if !(1..=24 * 30).contains(&self.catch_up_window_hours) {
            out.push(("catch_up_window_hours", "between 1 hour and 30 days".to_string()));
        }
        out
    }
}
