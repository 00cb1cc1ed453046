//! The commands the UI calls. Each is a thin delegate to the facade, the
//! scheduler or [`AppState`]; errors cross as [`IpcError`]. They are `async` so
//! they run on the async runtime, not on the GUI thread; the few that wait on the
//! keychain (a D-Bus round trip) go through [`blocking`].

pub mod credentials;
pub mod drafts;
pub mod integrations;
pub mod plans;
pub mod runs;
pub mod schedules;
pub mod settings;
pub mod system;
pub mod triggers;

use crate::error::IpcError;
use crate::state::{AppState, Backend};

/// Run `f` on a thread that may block.
async fn blocking<T, F>(backend: &Backend, f: F) -> Result<T, IpcError>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, IpcError> + Send + 'static,
{
    let state = backend.get()?;
    tauri::async_runtime::spawn_blocking(move || f(&state)).await?
}
