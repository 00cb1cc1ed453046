//! The Integrations screen: the built-in integrations and the person's own
//! (definitions checked as they are edited, saved, imported and exported as
//! files), a "Test" per action, and connecting OAuth 2.0 ones in the browser.

use super::blocking;
use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::{IntegrationCheck, IntegrationSummary, OAuthStart};
use flowpilot_engine::integration::IntegrationDefinition;
use flowpilot_engine::{PlanIssue, StepRecord};
use serde_json::{Map, Value};
use std::time::Duration;
use tauri::State;

/// How long finishing a connection waits for the browser.
const CONNECT_WAIT: Duration = Duration::from_secs(300);

/// Every integration, built-in first, with its actions and whether its secrets are set.
#[tauri::command]
#[specta::specta]
pub async fn list_integrations(backend: State<'_, Backend>) -> Result<Vec<IntegrationSummary>, IpcError> {
    blocking(&backend, |s| Ok(s.flow.list_integrations()?)).await
}

/// One integration's definition (with the problems of a stored one that no longer loads).
#[tauri::command]
#[specta::specta]
pub async fn get_integration(backend: State<'_, Backend>, name: String) -> Result<IntegrationCheck, IpcError> {
    let state = backend.get()?;
    Ok(state.flow.validate_integration(state.flow.get_integration(&name)?))
}

/// Every problem of a definition, located (empty: it is valid). Nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn validate_integration(
    backend: State<'_, Backend>,
    definition: IntegrationDefinition,
) -> Result<Vec<PlanIssue>, IpcError> {
    let value = serde_json::to_value(definition).map_err(|e| IpcError::internal(e.to_string()))?;
    Ok(backend.get()?.flow.validate_integration(value).issues)
}

/// Definition text (the raw JSON editor) read as far as it goes, with every problem.
#[tauri::command]
#[specta::specta]
pub async fn check_integration_text(backend: State<'_, Backend>, text: String) -> Result<IntegrationCheck, IpcError> {
    Ok(backend.get()?.flow.check_integration_text(&text))
}

/// Save one's own integration (new, or a new text of it); plans can use it at once.
#[tauri::command]
#[specta::specta]
pub async fn save_integration(
    backend: State<'_, Backend>,
    definition: IntegrationDefinition,
) -> Result<IntegrationDefinition, IpcError> {
    let value = serde_json::to_value(definition).map_err(|e| IpcError::internal(e.to_string()))?;
    blocking(&backend, move |s| Ok(s.flow.save_integration(value)?)).await
}

/// Pick a definition file and import it; None if the dialog was cancelled.
#[tauri::command]
#[specta::specta]
pub async fn import_integration(
    backend: State<'_, Backend>,
    replace: bool,
) -> Result<Option<IntegrationDefinition>, IpcError> {
    backend.get()?.import_integration(replace).await
}

/// Pick where to save a definition and write it there; the path, or None if cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_integration(backend: State<'_, Backend>, name: String) -> Result<Option<String>, IpcError> {
    Ok(backend
        .get()?
        .export_integration(&name)
        .await?
        .map(|p| p.display().to_string()))
}

/// Remove one's own integration; false if there was none.
#[tauri::command]
#[specta::specta]
pub async fn remove_integration(backend: State<'_, Backend>, name: String) -> Result<bool, IpcError> {
    blocking(&backend, move |s| Ok(s.flow.remove_integration(&name)?)).await
}

/// Run one action now with these params ("Test"); nothing is stored.
#[tauri::command]
#[specta::specta]
pub async fn test_integration_action(
    backend: State<'_, Backend>,
    name: String,
    action: String,
    params: Map<String, Value>,
) -> Result<StepRecord, IpcError> {
    let flow = backend.get()?.flow.clone();
    Ok(flow
        .test_integration_action(&name, &action, Value::Object(params))
        .await?)
}

/// Begin connecting an OAuth 2.0 integration: its authorization page opens in
/// the browser; then call `finish_oauth_connect`.
#[tauri::command]
#[specta::specta]
pub async fn start_oauth_connect(backend: State<'_, Backend>, name: String) -> Result<OAuthStart, IpcError> {
    backend.get()?.start_oauth_connect(&name).await
}

/// Wait (up to 5 minutes) for the browser to come back, and store the tokens.
#[tauri::command]
#[specta::specta]
pub async fn finish_oauth_connect(backend: State<'_, Backend>, name: String) -> Result<(), IpcError> {
    let flow = backend.get()?.flow.clone();
    Ok(flow.finish_oauth_connect(&name, CONNECT_WAIT).await?)
}

/// Stop connecting: the waiting `finish_oauth_connect` ends as cancelled and its
/// port is freed. Whether a connection was under way.
#[tauri::command]
#[specta::specta]
pub async fn cancel_oauth_connect(backend: State<'_, Backend>, name: String) -> Result<bool, IpcError> {
    Ok(backend.get()?.flow.cancel_oauth_connect(&name))
}
