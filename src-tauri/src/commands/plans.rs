use crate::dto::{Issue, Plan, PlanDetail, PlanSummary, PlanVersion};
use crate::error::IpcError;
use crate::state::Backend;
use serde_json::Value;
use tauri::State;

#[tauri::command]
#[specta::specta]
pub async fn list_plans(backend: State<'_, Backend>) -> Result<Vec<PlanSummary>, IpcError> {
    Ok(backend.get()?.flow.list_plans()?.into_iter().map(Into::into).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn get_plan(backend: State<'_, Backend>, id: String) -> Result<PlanDetail, IpcError> {
    Ok(backend.get()?.flow.get_plan(&id)?.into())
}

/// Validate and store a new plan (the plan file format); `invalid_plan` lists every problem.
#[tauri::command]
#[specta::specta]
pub async fn create_plan(backend: State<'_, Backend>, plan: Value) -> Result<Plan, IpcError> {
    let state = backend.get()?;
    let row = state.flow.create_plan(plan)?;
    state.plan_changed(&row.id);
    Ok(row.into())
}

/// Validate and save a plan as its next version.
#[tauri::command]
#[specta::specta]
pub async fn update_plan(backend: State<'_, Backend>, id: String, plan: Value) -> Result<Plan, IpcError> {
    let state = backend.get()?;
    let row = state.flow.save_plan(&id, plan)?;
    state.plan_changed(&id);
    Ok(row.into())
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
pub async fn duplicate_plan(backend: State<'_, Backend>, id: String) -> Result<Plan, IpcError> {
    Ok(backend.get()?.flow.duplicate_plan(&id)?.into())
}

/// Every saved version of a plan, the current one included.
#[tauri::command]
#[specta::specta]
pub async fn plan_versions(backend: State<'_, Backend>, id: String) -> Result<Vec<PlanVersion>, IpcError> {
    Ok(backend
        .get()?
        .flow
        .plan_versions(&id)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Save an earlier version again as the newest one.
#[tauri::command]
#[specta::specta]
pub async fn restore_plan_version(backend: State<'_, Backend>, id: String, version: u32) -> Result<Plan, IpcError> {
    let state = backend.get()?;
    let row = state.flow.restore_plan_version(&id, version)?;
    state.plan_changed(&id);
    Ok(row.into())
}

/// Every problem of a draft plan, located (empty: valid). Nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn validate_plan(backend: State<'_, Backend>, plan: Value) -> Result<Vec<Issue>, IpcError> {
    Ok(backend
        .get()?
        .flow
        .validate_plan(plan)
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Pick a plan file in a native dialog and import it (a plan of the same name gets
/// a new version). None if the dialog was cancelled.
#[tauri::command]
#[specta::specta]
pub async fn import_plan(backend: State<'_, Backend>) -> Result<Option<Plan>, IpcError> {
    Ok(backend.get()?.import_plan().await?.map(Into::into))
}

/// Pick where to save a plan in a native dialog and write it there (never with a
/// secret: plans only name credentials). The path written, or None if cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_plan(backend: State<'_, Backend>, id: String) -> Result<Option<String>, IpcError> {
    Ok(backend.get()?.export_plan(&id).await?.map(|p| p.display().to_string()))
}
