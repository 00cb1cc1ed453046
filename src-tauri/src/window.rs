//! The main window. It is created on first Open (not at a `--hidden` start, so a
//! tray-only Flowpilot runs no webview at all) and destroyed when the person
//! closes it, so the tray process gives the webview's memory back.

use crate::notify;
use crate::readiness::{self, Milestone};
use crate::state::Backend;
use flowpilot_core::notices::{Notice, NoticeKind};
use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

/// The label the capabilities grant permissions to.
pub const MAIN: &str = "main";

/// Show, unminimise and focus the main window, creating it if needed.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        let shown = window
            .unminimize()
            .and_then(|()| window.show())
            .and_then(|()| window.set_focus());
        if let Err(e) = shown {
            tracing::warn!("cannot show the window: {e}");
        }
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Flowpilot")
        .inner_size(1000.0, 720.0)
        .min_inner_size(640.0, 480.0)
        .on_page_load(|_, payload| {
            if payload.event() == PageLoadEvent::Finished {
                readiness::reached(Milestone::WindowLoaded);
            }
        })
        .build();
    if let Err(e) = built {
        tracing::error!("cannot open the window: {e}");
    }
}

/// The last window was closed: whether Flowpilot keeps running (the setting,
/// on unless the person turned it off). The first time it does, a notification
/// says so and how to quit.
pub fn keep_running_after_close<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(Ok(state)) = app.try_state::<Backend>().map(|b| b.get()) else {
        return true; // no data to read a choice from: the tray says why
    };
    let keep = state
        .flow
        .settings()
        .map(|s| s.keep_running_when_closed)
        .unwrap_or(true);
    if keep && state.flow.first_window_close().unwrap_or(false) {
        tracing::info!("the window was closed for the first time: saying Flowpilot keeps running");
        notify::show(app, &keeps_running());
    }
    keep
}

/// What the first close says.
fn keeps_running() -> Notice {
    Notice {
        kind: NoticeKind::KeepsRunning,
        title: "Flowpilot keeps running".into(),
        body: "Schedules keep running while the window is closed. To quit, choose Quit Flowpilot in the tray menu or \
               in Settings, where you can also choose to quit when the window closes."
            .into(),
        plan_id: None,
        run_id: None,
    }
}
