use crate::dto::{Page, PreviousStep, RunDetail, RunFilter, RunPage, Stats, StepRecord};
use crate::error::IpcError;
use crate::state::Backend;
use serde_json::Value;
use tauri::State;

/// Start a stored plan now. Returns the run id at once; progress arrives as
/// `run-started`, `step-progress` and `run-finished` events.
#[tauri::command]
#[specta::specta]
pub async fn execute_plan(backend: State<'_, Backend>, plan_id: String) -> Result<String, IpcError> {
    Ok(backend.get()?.start_run(&plan_id)?)
}

/// Run one step with given inputs, storing nothing ("test this step"). `previous`
/// are the results of the steps before it, for its references.
#[tauri::command]
#[specta::specta]
pub async fn execute_step(
    backend: State<'_, Backend>,
    step: Value,
    previous: Vec<PreviousStep>,
) -> Result<StepRecord, IpcError> {
    let step = serde_json::from_value(step).map_err(|e| IpcError::bad_input(format!("step: {e}")))?;
    let previous = previous.into_iter().map(|p| (p.id, p.result)).collect();
    Ok(backend.get()?.flow.execute_step(step, previous).await?.into())
}

/// Cancel a run in progress; false if it is not running in this app.
#[tauri::command]
#[specta::specta]
pub async fn cancel_run(backend: State<'_, Backend>, run_id: String) -> Result<bool, IpcError> {
    Ok(backend.get()?.flow.cancel_run(&run_id))
}

/// Runs, newest first, filtered and paged (`limit` 1-500).
#[tauri::command]
#[specta::specta]
pub async fn list_runs(backend: State<'_, Backend>, filter: RunFilter, page: Page) -> Result<RunPage, IpcError> {
    Ok(backend.get()?.flow.list_runs(&filter.into(), page.into())?.into())
}

/// A run with its step logs.
#[tauri::command]
#[specta::specta]
pub async fn get_run(backend: State<'_, Backend>, run_id: String) -> Result<RunDetail, IpcError> {
    Ok(backend.get()?.flow.run_logs(&run_id)?.into())
}

/// Success rates and latencies per provider, the slowest steps, and runs by
/// status, over the last `hours` (1 hour to a year).
#[tauri::command]
#[specta::specta]
pub async fn stats(backend: State<'_, Backend>, hours: u32) -> Result<Stats, IpcError> {
    let window = chrono::Duration::hours(i64::from(hours.clamp(1, 24 * 366)));
    Ok(backend.get()?.flow.stats(window)?.into())
}
