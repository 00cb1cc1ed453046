//! The main window. It is created on first Open (not at a `--hidden` start, so a
//! tray-only Flowpilot runs no webview at all) and destroyed when the person
//! closes it, so the tray process gives the webview's memory back.

use crate::readiness::{self, Milestone};
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
