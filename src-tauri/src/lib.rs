//! Flowpilot's desktop app: a Tauri shell around the facade that `flowpilot-cli`
//! uses too. It runs the scheduler in the background, lives in the tray, raises
//! desktop notifications, and serves the UI's commands and events.
//!
//! - [`commands`]: what the UI calls (thin delegates), with [`dto`] transport types
//!   and [`error::IpcError`];
//! - [`events`]: what the UI hears;
//! - [`state`]: the opened facade and scheduler, shared by commands and tray;
//! - `shell`, `tray`, `notify`, `window`, `logging`: the desktop around it;
//! - `readiness`: start-up milestones; `webkit` (Linux): what keeps the tray light.

pub mod bindings;
pub mod commands;
pub mod dto;
pub mod error;
pub mod events;
mod logging;
mod notify;
pub mod readiness;
pub mod shell;
pub mod state;
mod tray;
pub mod tray_host;
#[cfg(target_os = "linux")]
mod webkit;
pub mod window;

#[cfg(test)]
mod tests;

use flowpilot_core::api::Options;
use state::{AppState, Backend};
use std::sync::Arc;
use tauri::{AppHandle, Manager, RunEvent, Runtime};
use tauri_plugin_autostart::MacosLauncher;
use tauri_plugin_dialog::{DialogExt, MessageDialogKind};

/// What autostart passes: start in the tray with no window (schedules run all the same).
pub const HIDDEN_ARG: &str = "--hidden";

/// How long quitting waits for cancelled runs to be recorded.
const QUIT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Start the app; returns when it quits.
pub fn run() {
    readiness::main_started();
    if std::env::args().skip(1).any(|a| a == "--version" || a == "-V") {
        println!("flowpilot {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // Before GTK starts (in `build` below), while this is the only thread.
    #[cfg(target_os = "linux")]
    webkit::no_gl_until_asked();
    let hidden = std::env::args().skip(1).any(|a| a == HIDDEN_ARG);
    let bindings = bindings::builder::<tauri::Wry>();
    let app = tauri::Builder::default()
        // First, so a second launch stops before anything else starts, and shows this one.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            window::show_main(app)
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_ARG]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(bindings.invoke_handler())
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                window::close_requested(window, api);
            }
        })
        .setup(move |app| {
            app.manage(window::CloseQuestion::default());
            bindings.mount_events(app.handle());
            start(app.handle(), hidden);
            Ok(())
        })
        // Closing the window destroys it, webview and all: measured on Linux, a
        // hidden window keeps WebKit's processes and ~360 MiB alive, a destroyed
        // one gives them back. The app stays in the tray (ExitRequested below)
        // and Open builds the window again.
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Flowpilot cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        // No window left (an exit code means Quit or a signal: let those through).
        // Flowpilot stays in the tray unless the person chose to quit on close.
        RunEvent::ExitRequested { code: None, api, .. } if has_tray(app) => {
            if window::keep_running_after_close(app) {
                api.prevent_exit();
            } else {
                tracing::info!("the window was closed and Flowpilot quits on close");
            }
        }
        #[cfg(target_os = "linux")]
        RunEvent::WindowEvent {
            event: tauri::WindowEvent::Destroyed,
            ..
        } => webkit::window_destroyed(app),
        RunEvent::Exit => {
            if let Some(Ok(state)) = app.try_state::<Backend>().map(|b| b.get()) {
                // Runs in progress end `cancelled`, not `interrupted` at the next start.
                tauri::async_runtime::block_on(state.stop_runs(QUIT_WAIT));
            }
            tracing::info!("Flowpilot quits");
        }
        _ => {}
    });
}

fn has_tray<R: Runtime>(app: &AppHandle<R>) -> bool {
    app.tray_by_id(tray::TRAY).is_some()
}

/// Logging, the facade and scheduler, notifications, the tray, and the window
/// unless started hidden. A facade that cannot open is shown, not fatal.
fn start(app: &AppHandle, hidden: bool) {
    let log_guard = match app.path().app_log_dir() {
        Ok(dir) => logging::init(&dir),
        Err(_) => logging::init(&std::env::temp_dir().join("flowpilot-logs")),
    };
    app.manage(log_guard);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), hidden, "Flowpilot starts");

    let opened = AppState::open(Options::default(), Arc::new(shell::Desktop::new(app.clone())));
    let failure = opened.as_ref().err().map(ToString::to_string);
    if let Ok(state) = &opened {
        sync_autostart(state);
    }
    app.manage(Backend::new(opened));
    quit_on_signal(app);
    notify::init(app);
    if let Err(e) = tray::install(app) {
        tracing::error!("no tray icon: {e}");
    }
    if let Some(message) = &failure {
        tracing::error!("cannot open Flowpilot's data: {message}");
        app.dialog()
            .message(message)
            .title("Flowpilot cannot open its data")
            .kind(MessageDialogKind::Error)
            .show(|_| {});
    }
    // Without a tray there is no other way in; after a failure the window says why.
    if !hidden || failure.is_some() || !has_tray(app) {
        window::show_main(app);
    }
    if failure.is_none() {
        readiness::reached(readiness::Milestone::Armed);
    }
}

/// Keep the login entry in step with the setting (it names this binary's path).
fn sync_autostart(state: &AppState) {
    let wanted = state.flow.settings().map(|s| s.start_at_login).unwrap_or(false);
    if wanted && let Err(e) = state.shell.set_autostart(true) {
        tracing::warn!("{e}");
    }
}

/// SIGTERM or Ctrl-C quits like Quit does: runs in progress are cancelled and
/// recorded `cancelled` (see `RunEvent::Exit` above).
fn quit_on_signal(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let signal = flowpilot_core::shutdown::requested().await;
        tracing::info!("{signal}: quitting");
        app.exit(0);
    });
}
