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
