//! Health and settings.

use flowpilot_core::api::Health as DomainHealth;
use flowpilot_core::settings::Settings as DomainSettings;
use serde::{Deserialize, Serialize};
use specta::Type;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeychainState {
    pub available: bool,
    /// Why not, and how to fix it.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerState {
    /// "Pause all schedules" is on.
    pub paused: bool,
    /// Plans with a cron trigger (active or not).
    pub scheduled_plans: u32,
    /// Of those, active and not paused.
    pub running_schedules: u32,
}

/// Versions, where the data lives, and whether the keychain and scheduler work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Flowpilot's version.
    pub version: String,
    pub tauri_version: String,
    /// The system webview's version, if it could be read.
    pub webview_version: Option<String>,
    pub data_dir: String,
    pub database: String,
    pub schema_version: u32,
    pub keychain: KeychainState,
    pub scheduler: SchedulerState,
}

impl Health {
    pub fn new(h: DomainHealth, scheduler: SchedulerState) -> Self {
        Self {
            version: h.version,
            tauri_version: tauri::VERSION.to_string(),
            webview_version: tauri::webview_version().ok(),
            data_dir: h.data_dir.display().to_string(),
            database: h.database.display().to_string(),
            schema_version: u32::try_from(h.schema_version).unwrap_or(u32::MAX),
            keychain: KeychainState {
                available: h.keychain.available,
                message: h.keychain.message,
            },
            scheduler,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Raise desktop notifications (failures, recoveries, catch-ups).
    pub notifications: bool,
    /// Plans (by id) that also notify on success.
    pub notify_success_plans: Vec<String>,
    /// Start Flowpilot hidden in the tray at login.
    pub start_at_login: bool,
    /// Runs older than this are pruned; failures after `retentionFailedDays`.
    pub retention_days: u32,
    pub retention_failed_days: u32,
    pub retention_max_runs: u64,
    /// Scheduled runs at the same time, all plans together (applies after a restart).
    pub concurrency: u32,
    /// Pause a plan's schedule after this many failed runs in a row (0: never).
    pub auto_pause_after: u32,
    /// Missed fires older than this are counted, not run.
    pub catch_up_window_hours: u32,
}

impl From<DomainSettings> for Settings {
    fn from(s: DomainSettings) -> Self {
        Self {
            notifications: s.notifications,
            notify_success_plans: s.notify_success_plans,
            start_at_login: s.start_at_login,
            retention_days: s.retention_days,
            retention_failed_days: s.retention_failed_days,
            retention_max_runs: s.retention_max_runs,
            concurrency: s.concurrency,
            auto_pause_after: s.auto_pause_after,
            catch_up_window_hours: s.catch_up_window_hours,
        }
    }
}

impl From<Settings> for DomainSettings {
    fn from(s: Settings) -> Self {
        Self {
            notifications: s.notifications,
            notify_success_plans: s.notify_success_plans,
            start_at_login: s.start_at_login,
            retention_days: s.retention_days,
            retention_failed_days: s.retention_failed_days,
            retention_max_runs: s.retention_max_runs,
            concurrency: s.concurrency,
            auto_pause_after: s.auto_pause_after,
            catch_up_window_hours: s.catch_up_window_hours,
        }
    }
}
