use super::blocking;
use crate::dto::Health;
use crate::error::IpcError;
use crate::state::Backend;
use crate::tray_host::{self, CloseAnswer, TrayHost};
use flowpilot_engine::registry::ProviderInfo;
use tauri::State;

/// Versions, the data folder, and whether the keychain and the scheduler work.
#[tauri::command]
#[specta::specta]
pub async fn health(backend: State<'_, Backend>) -> Result<Health, IpcError> {
    blocking(&backend, |s| Ok(s.health()?)).await
}

/// Every provider with its actions and their params' JSON Schemas.
#[tauri::command]
#[specta::specta]
pub async fn providers(backend: State<'_, Backend>) -> Result<Vec<ProviderInfo>, IpcError> {
    Ok(backend.get()?.flow.providers())
}

/// The run a clicked notification asked to show, if the window opened too late
/// to hear its `open-run` event. Taken once.
#[tauri::command]
#[specta::specta]
pub async fn take_open_run(backend: State<'_, Backend>) -> Result<Option<String>, IpcError> {
    Ok(backend.get()?.take_open_run())
}

/// Quit Flowpilot: schedules and triggers stop until it is started again.
#[tauri::command]
#[specta::specta]
pub async fn quit_app(backend: State<'_, Backend>) -> Result<(), IpcError> {
    tracing::info!("Quit chosen in the window");
    backend.get()?.shell.quit();
    Ok(())
}

/// Whether this desktop shows Flowpilot's tray icon (asked now: a panel may start later).
#[tauri::command]
#[specta::specta]
pub async fn tray_host() -> Result<TrayHost, IpcError> {
    Ok(tauri::async_runtime::spawn_blocking(tray_host::detect).await?)
}

/// The answer to the `close-asked` question: stay, close and keep running, or quit.
#[tauri::command]
#[specta::specta]
pub async fn answer_close(backend: State<'_, Backend>, answer: CloseAnswer) -> Result<(), IpcError> {
    backend.get()?.shell.answer_close(answer);
    Ok(())
}
