use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::{PlanCheck, PlanDetail, PlanReview};
use flowpilot_core::store::{PlanRow, PlanSummary, PlanVersion};
use flowpilot_engine::PlanIssue;
use flowpilot_engine::plan::PlanFile;
use tauri::State;

#[tauri::command]
#[specta::specta]
pub async fn list_plans(backend: State<'_, Backend>) -> Result<Vec<PlanSummary>, IpcError> {
    Ok(backend.get()?.flow.list_plans()?)
}

#[tauri::command]
#[specta::specta]
pub async fn get_plan(backend: State<'_, Backend>, id: String) -> Result<PlanDetail, IpcError> {
    Ok(backend.get()?.flow.get_plan(&id)?)
}

/// Validate and store a new plan (the plan file format); `invalid_plan` lists every problem.
#[tauri::command]
#[specta::specta]
pub async fn create_plan(backend: State<'_, Backend>, plan: PlanFile) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let row = state.flow.create_plan(plan)?;
    state.plan_changed(&row.id);
    Ok(row)
}

/// Validate and save a plan as its next version.
#[tauri::command]
#[specta::specta]
pub async fn update_plan(backend: State<'_, Backend>, id: String, plan: PlanFile) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let row = state.flow.save_plan(&id, plan)?;
    state.plan_changed(&id);
    Ok(row)
}

/// Delete a plan and its history; its runs stay in the log.
#[tauri::command]
#[specta::specta]
pub async fn delete_plan(backend: State<'_, Backend>, id: String) -> Result<(), IpcError> {
    let state = backend.get()?;
    state.flow.delete_plan(&id)?;
    state.plan_changed(&id);
    Ok(())
}

/// Copy a plan as a draft named "Name (copy)".
#[tauri::command]
#[specta::specta]
pub async fn duplicate_plan(backend: State<'_, Backend>, id: String) -> Result<PlanRow, IpcError> {
    Ok(backend.get()?.flow.duplicate_plan(&id)?)
}

/// Every saved version of a plan, the current one included.
#[tauri::command]
#[specta::specta]
pub async fn plan_versions(backend: State<'_, Backend>, id: String) -> Result<Vec<PlanVersion>, IpcError> {
    Ok(backend.get()?.flow.plan_versions(&id)?)
}

/// Save an earlier version again as the newest one.
#[tauri::command]
#[specta::specta]
pub async fn restore_plan_version(backend: State<'_, Backend>, id: String, version: u32) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let row = state.flow.restore_plan_version(&id, version)?;
    state.plan_changed(&id);
    Ok(row)
}

/// Turn a plan on (its trigger starts it) or off; on also lifts a paused schedule.
/// Not an edit: no new version. Fires missed while it was off are never caught up.
#[tauri::command]
#[specta::specta]
pub async fn set_plan_on(backend: State<'_, Backend>, id: String, on: bool) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let row = state.flow.set_plan_on(&id, on)?;
    state.plan_changed(&id);
    Ok(row)
}

/// Import plan text beside the plan of the same name, as "Name (copy)", off.
#[tauri::command]
#[specta::specta]
pub async fn import_plan_copy(backend: State<'_, Backend>, text: String) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let row = state.flow.import_plan_copy(&text)?;
    state.plan_changed(&row.id);
    Ok(row)
}

/// Every problem of a plan document, located, and the warnings of a valid one
/// (empty: valid, nothing to say). Nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn validate_plan(backend: State<'_, Backend>, plan: PlanFile) -> Result<Vec<PlanIssue>, IpcError> {
    Ok(backend.get()?.flow.validate_plan(plan))
}

/// Read plan JSON text (the editor's raw JSON): the document as far as its
/// structure is sound, and every problem, located. Nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn check_plan_text(backend: State<'_, Backend>, text: String) -> Result<PlanCheck, IpcError> {
    Ok(backend.get()?.flow.check_plan_text(&text))
}

/// Pick a plan file in a native dialog and import it (a plan of the same name gets
/// a new version), not active whatever the file says: review it
/// (`review_stored_plan`), then `activate_plan`. None if the dialog was cancelled.
#[tauri::command]
#[specta::specta]
pub async fn import_plan(backend: State<'_, Backend>) -> Result<Option<PlanRow>, IpcError> {
    backend.get()?.import_plan().await
}

/// Pick where to save a plan in a native dialog and write it there (never with a
/// secret: plans only name credentials). The path written, or None if cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_plan(backend: State<'_, Backend>, id: String) -> Result<Option<String>, IpcError> {
    Ok(backend.get()?.export_plan(&id).await?.map(|p| p.display().to_string()))
}

/// Store plan text read in the page (a plan of the same name gets a new
/// version), not active whatever it says: review it, then `activate_plan`.
#[tauri::command]
#[specta::specta]
pub async fn import_plan_text(backend: State<'_, Backend>, text: String) -> Result<PlanRow, IpcError> {
    backend.get()?.import_plan_text(&text)
}

/// What a plan document would do once active: every host it contacts, which
/// credential goes to which host, which steps write, and its warnings.
#[tauri::command]
#[specta::specta]
pub async fn review_plan(backend: State<'_, Backend>, plan: PlanFile) -> Result<PlanReview, IpcError> {
    Ok(backend.get()?.flow.review_plan(plan)?)
}

/// [`review_plan`] of a stored plan (an imported one, before it is activated).
#[tauri::command]
#[specta::specta]
pub async fn review_stored_plan(backend: State<'_, Backend>, id: String) -> Result<PlanReview, IpcError> {
    Ok(backend.get()?.flow.review_stored_plan(&id)?)
}

/// Activate a plan, as a deliberate act after its review: it runs on its schedule from now on.
#[tauri::command]
#[specta::specta]
pub async fn activate_plan(backend: State<'_, Backend>, id: String) -> Result<PlanRow, IpcError> {
    backend.get()?.activate_plan(&id)
}
