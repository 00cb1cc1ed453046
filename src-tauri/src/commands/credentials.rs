//! Credential values are write-only: they go into the OS keychain and no command
//! returns one. Listing says which fields are set.

use super::blocking;
use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::CredentialInfo;
use flowpilot_engine::Sensitive;
use tauri::State;

/// Which credential fields are set, per provider (never their values).
#[tauri::command]
#[specta::specta]
pub async fn list_credentials(backend: State<'_, Backend>) -> Result<Vec<CredentialInfo>, IpcError> {
    Ok(backend.get()?.flow.list_credentials()?)
}

/// Store a credential in the keychain (`keychain_unavailable` without one).
#[tauri::command]
#[specta::specta]
pub async fn set_credential(
    backend: State<'_, Backend>,
    provider: String,
    field: String,
    value: String,
) -> Result<(), IpcError> {
    let value = Sensitive::new(value);
    blocking(&backend, move |s| {
        Ok(s.flow.set_credential(&provider, &field, value)?)
    })
    .await
}

/// Delete a credential; false if it was not set.
#[tauri::command]
#[specta::specta]
pub async fn delete_credential(backend: State<'_, Backend>, provider: String, field: String) -> Result<bool, IpcError> {
    blocking(&backend, move |s| Ok(s.flow.delete_credential(&provider, &field)?)).await
}

/// Let a credential also be sent to `origin`; the origin as stored (`https://host:port`).
#[tauri::command]
#[specta::specta]
pub async fn allow_credential_origin(
    backend: State<'_, Backend>,
    provider: String,
    field: String,
    origin: String,
) -> Result<String, IpcError> {
    Ok(backend
        .get()?
        .flow
        .allow_credential_origin(&provider, &field, &origin)?)
}

/// Take an allowed origin back; false if it was not allowed.
#[tauri::command]
#[specta::specta]
pub async fn disallow_credential_origin(
    backend: State<'_, Backend>,
    provider: String,
    field: String,
    origin: String,
) -> Result<bool, IpcError> {
    Ok(backend
        .get()?
        .flow
        .disallow_credential_origin(&provider, &field, &origin)?)
}
