//! Transport types: only where what crosses IPC must differ from a domain type.
//! Everything else (the plan document, runs, step records, schedules, settings,
//! drafts) crosses as the engine's and core's own types, in their snake_case, and
//! the TypeScript bindings are generated from those.
//!
//! Counts, sizes and milliseconds are `u64`/`usize` in Rust and `number` in
//! TypeScript (see `bindings.rs`): none of them comes near 2^53.

use flowpilot_core::api::{Health as CoreHealth, KeychainState};
use flowpilot_core::store::RunRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use specta::Type;

/// A page of runs, and how many match the filter in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct RunPage {
    pub runs: Vec<RunRow>,
    pub total: u64,
}

impl From<(Vec<RunRow>, u64)> for RunPage {
    fn from((runs, total): (Vec<RunRow>, u64)) -> Self {
        Self { runs, total }
    }
}

/// The result of a step before the one being tested, for its references: a
/// `{output, message, metadata, ...}` object, or a bare output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct PreviousStep {
    pub id: Option<String>,
    pub result: Value,
}

/// Whether the scheduler runs, and how many plans it schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct SchedulerState {
    /// "Pause all schedules" is on.
    pub paused: bool,
    /// Plans with a cron trigger (active or not).
    pub scheduled_plans: u32,
    /// Of those, active and not paused.
    pub running_schedules: u32,
    /// When another process runs the schedules and triggers of this data folder
    /// (`flowpilot-cli serve`): which one. This app then shows plans and runs only.
    pub runs_elsewhere: Option<String>,
}

/// Versions, where the data lives, and whether the keychain and scheduler work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
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
    pub fn new(h: CoreHealth, scheduler: SchedulerState) -> Self {
        Self {
            version: h.version,
            tauri_version: tauri::VERSION.to_string(),
            webview_version: tauri::webview_version().ok(),
            data_dir: h.data_dir.display().to_string(),
            database: h.database.display().to_string(),
            schema_version: u32::try_from(h.schema_version).unwrap_or(u32::MAX),
            keychain: h.keychain,
            scheduler,
        }
    }
}
