//! The main window. It is created on first Open (not at a `--hidden` start, so a
//! tray-only Flowpilot runs no webview at all) and destroyed when the person
//! closes it, so the tray process gives the webview's memory back.

use crate::events::{self, CloseAsked};
use crate::notify;
use crate::readiness::{self, Milestone};
use crate::state::Backend;
use crate::tray_host::{self, CloseAnswer, TrayHost};
use flowpilot_core::notices::{Notice, NoticeKind};
use std::sync::Mutex;
use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, CloseRequestApi, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, Window};

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

/// Whether the person chose to keep Flowpilot running when the window closes
/// (on unless they turned it off; on when there is no data to read it from,
/// and the tray says why).
fn keeps_running_when_closed<R: Runtime>(app: &AppHandle<R>) -> bool {
    let Some(Ok(state)) = app.try_state::<Backend>().map(|b| b.get()) else {
        return true;
    };
    state
        .flow
        .settings()
        .map(|s| s.keep_running_when_closed)
        .unwrap_or(true)
}

/// The last window was closed: whether Flowpilot keeps running. The first time
/// it does, a notification says so and how to quit.
pub fn keep_running_after_close<R: Runtime>(app: &AppHandle<R>) -> bool {
    let keep = keeps_running_when_closed(app);
    let first = app
        .try_state::<Backend>()
        .and_then(|b| b.get().ok())
        .is_some_and(|state| state.flow.first_window_close().unwrap_or(false));
    if keep && first {
        tracing::info!("the window was closed for the first time: saying Flowpilot keeps running");
        notify::show(app, &keeps_running(tray_host::detect()));
    }
    keep
}

/// What the first close says: how to come back and how to quit depend on
/// whether the desktop shows the tray icon.
fn keeps_running(tray: TrayHost) -> Notice {
    let body = match tray {
        TrayHost::Shown => {
            "Schedules and triggers keep running while the window is closed. To quit, choose Quit Flowpilot in the \
             tray menu or in Settings, where you can also choose to quit when the window closes."
        }
        TrayHost::Missing => {
            "Schedules and triggers keep running while the window is closed. This desktop shows no tray icon: start \
             Flowpilot again from your applications to open the window, and quit it in Settings."
        }
    };
    Notice {
        kind: NoticeKind::KeepsRunning,
        title: "Flowpilot keeps running".into(),
        body: body.into(),
        plan_id: None,
        run_id: None,
    }
}

/// Where the question "keep running without a tray icon?" stands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Asking {
    #[default]
    No,
    /// Asked in the window, not answered yet.
    Asked,
    /// Answered "keep running": the next close goes through.
    KeepRunning,
}

/// The close question's state, one per app.
#[derive(Debug, Default)]
pub struct CloseQuestion(Mutex<Asking>);

impl CloseQuestion {
    fn replace(&self, next: Asking) -> Asking {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *now, next)
    }
}

/// The window's close button was pressed. Where no tray host shows Flowpilot's
/// icon, a closed window would leave a process nobody can see or quit, so the
/// window asks first (the `close-asked` event) unless closing quits anyway. A
/// second close while the question is open goes through, so a page that cannot
/// answer never traps the person.
pub fn close_requested<R: Runtime>(window: &Window<R>, api: &CloseRequestApi) {
    if window.label() != MAIN {
        return;
    }
    let app = window.app_handle();
    // Without its data the app cannot hear an answer: the tray says what is wrong.
    let (Some(question), Some(Ok(_))) = (
        app.try_state::<CloseQuestion>(),
        app.try_state::<Backend>().map(|b| b.get()),
    ) else {
        return;
    };
    if question.replace(Asking::No) != Asking::No || !keeps_running_when_closed(app) {
        return;
    }
    let tray = tray_host::detect();
    if tray.is_shown() {
        return;
    }
    tracing::info!("the window is closing and no tray host shows Flowpilot's icon: asking first");
    api.prevent_close();
    question.replace(Asking::Asked);
    events::emit(app, CloseAsked { tray });
}

/// Act on the answer to the close question.
pub fn answer_close<R: Runtime>(app: &AppHandle<R>, answer: CloseAnswer) {
    let Some(question) = app.try_state::<CloseQuestion>() else {
        return;
    };
    match answer {
        CloseAnswer::Stay => {
            question.replace(Asking::No);
        }
        CloseAnswer::KeepRunning => {
            question.replace(Asking::KeepRunning);
            if let Some(window) = app.get_webview_window(MAIN)
                && let Err(e) = window.close()
            {
                tracing::warn!("cannot close the window: {e}");
            }
        }
        CloseAnswer::Quit => {
            tracing::info!("Quit chosen when closing the window");
            app.exit(0);
        }
    }
}
