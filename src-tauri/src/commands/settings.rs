use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::settings::Settings;
use tauri::State;

#[tauri::command]
#[specta::specta]
pub async fn get_settings(backend: State<'_, Backend>) -> Result<Settings, IpcError> {
    Ok(backend.get()?.flow.settings()?)
}

/// Check and store the settings; turning "start at login" on or off registers or
/// removes the autostart entry. `bad_input` names the first bad field.
#[tauri::command]
#[specta::specta]
pub async fn set_settings(backend: State<'_, Backend>, settings: Settings) -> Result<Settings, IpcError> {
    backend.get()?.set_settings(settings)
}
