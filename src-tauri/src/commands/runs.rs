use crate::dto::{PreviousStep, RunPage};
use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::{RunDetail, Stats};
use flowpilot_core::store::{Page, RunFilter};
use flowpilot_engine::StepRecord;
use flowpilot_engine::plan::StepSpec;
use tauri::State;

/// Start a stored plan now. Returns the run id at once; progress arrives as
/// `run-started`, `step-progress`, `item-progress` and `run-finished` events.
#[tauri::command]
#[specta::specta]
pub async fn execute_plan(backend: State<'_, Backend>, plan_id: String) -> Result<String, IpcError> {
    Ok(backend.get()?.start_run(&plan_id)?)
}

/// Run a failed, interrupted or cancelled run again from step `from_step` (from 1;
/// the first failed step when null), with the plan as it is now: earlier steps'
/// stored results are taken over. The new run's id; `refused` says why not.
#[tauri::command]
#[specta::specta]
pub async fn replay_run(
    backend: State<'_, Backend>,
    run_id: String,
    from_step: Option<u32>,
) -> Result<String, IpcError> {
    Ok(backend.get()?.start_replay(&run_id, from_step.map(|n| n as usize))?)
}

/// Run one step with given inputs, storing nothing ("test this step"). `previous`
/// are the results of the steps before it, for its references.
#[tauri::command]
#[specta::specta]
pub async fn execute_step(
    backend: State<'_, Backend>,
    step: StepSpec,
    previous: Vec<PreviousStep>,
) -> Result<StepRecord, IpcError> {
    let previous = previous.into_iter().map(|p| (p.id, p.result)).collect();
    Ok(backend.get()?.flow.execute_step(step, previous).await?)
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
    let page = Page {
        limit: page.limit.clamp(1, 500),
        ..page
    };
    Ok(backend.get()?.flow.list_runs(&filter, page)?.into())
}

/// A run with its step logs and the runs that replayed it.
#[tauri::command]
#[specta::specta]
pub async fn get_run(backend: State<'_, Backend>, run_id: String) -> Result<RunDetail, IpcError> {
    Ok(backend.get()?.flow.run_detail(&run_id)?)
}

/// Success rates and latencies per provider, the slowest steps, and runs by
/// status, over the last `hours` (1 hour to a year).
#[tauri::command]
#[specta::specta]
pub async fn stats(backend: State<'_, Backend>, hours: u32) -> Result<Stats, IpcError> {
    let window = chrono::Duration::hours(i64::from(hours.clamp(1, 24 * 366)));
    Ok(backend.get()?.flow.stats(window)?)
}
