//! Drafting a plan from a sentence with the LLM provider the person picked, and
//! dry runs. Nothing here stores a plan: the draft goes to the editor, which saves it.

use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::CredentialField;
use flowpilot_core::draft::{Draft, DraftRequest};
use flowpilot_engine::RunOutcome;
use flowpilot_engine::plan::PlanFile;
use tauri::State;

/// Ask the chosen provider for a plan and check it against the registry. A draft
/// that does not validate comes back with its issues (`valid: false`); an error
/// means the provider could not be asked (`bad_input` says what to change).
#[tauri::command]
#[specta::specta]
pub async fn draft_plan(backend: State<'_, Backend>, request: DraftRequest) -> Result<Draft, IpcError> {
    Ok(backend.get()?.draft_plan(request).await?)
}

/// Stop the draft being asked for; false if there was none.
#[tauri::command]
#[specta::specta]
pub async fn cancel_draft(backend: State<'_, Backend>) -> Result<bool, IpcError> {
    Ok(backend.get()?.cancel_draft())
}

/// Rehearse a plan (saved or not): HTTP writes and webhooks answer from a stub
/// recording what they would have sent; the other steps run. Nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn dry_run_plan(backend: State<'_, Backend>, plan: PlanFile) -> Result<RunOutcome, IpcError> {
    Ok(backend.get()?.dry_run(plan).await?)
}

/// Stop the dry run going on; false if there was none.
#[tauri::command]
#[specta::specta]
pub async fn cancel_dry_run(backend: State<'_, Backend>) -> Result<bool, IpcError> {
    Ok(backend.get()?.cancel_dry_run())
}

/// The credentials a plan (saved or not) cannot run without that are not set.
#[tauri::command]
#[specta::specta]
pub async fn missing_credentials(
    backend: State<'_, Backend>,
    plan: PlanFile,
) -> Result<Vec<CredentialField>, IpcError> {
    Ok(backend.get()?.flow.missing_credentials_for(plan)?)
}
