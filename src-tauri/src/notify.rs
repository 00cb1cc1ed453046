//! Desktop notifications, from Rust (the webview needs no notification
//! permission). A notice about a run carries an "Open run" action; clicking the
//! notification or the action opens the window on that run. On Linux this rests
//! on the notification server reporting `ActionInvoked` (GNOME, KDE and dunst do).

use crate::events::{self, OpenRun};
use crate::state::Backend;
use crate::window;
use flowpilot_core::notices::Notice;
use serde_json::Value;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::{Action, ActionPerformed, ActionType, Notification, NotificationExt};

/// The action type of notices about a run.
const RUN_NOTICE: &str = "run-notice";
/// Its one action.
const OPEN_RUN: &str = "open_run";
/// What a click on the notification itself is reported as.
const TAP: &str = "tap";
/// Where a notice keeps its run id.
const RUN_ID: &str = "runId";

/// Register the "Open run" action and what a click does. Call once at start.
pub fn init<R: Runtime>(app: &AppHandle<R>) {
    if app.try_state::<Notification<R>>().is_none() {
        return;
    }
    let open_run = ActionType::builder(RUN_NOTICE)
        .actions(vec![Action::builder(OPEN_RUN, "Open run").build()])
        .build();
    if let Err(e) = app.notification().register_action_types(vec![open_run]) {
        tracing::warn!("notification actions unavailable: {e}");
    }
    let handle = app.clone();
    if let Err(e) = app
        .notification()
        .on_action(move |performed| on_action(&handle, performed))
    {
        tracing::warn!("notification clicks unavailable: {e}");
    }
}

fn on_action<R: Runtime>(app: &AppHandle<R>, performed: &ActionPerformed) {
    if !matches!(performed.action_id(), TAP | OPEN_RUN) {
        return;
    }
    window::show_main(app);
    let run_id = performed
        .notification()
        .and_then(|n| n.extra().get(RUN_ID))
        .and_then(Value::as_str);
    if let Some(run_id) = run_id {
        if let Ok(state) = app.state::<Backend>().get() {
            state.request_open_run(run_id);
        }
        events::emit(
            app,
            OpenRun {
                run_id: run_id.to_string(),
            },
        );
    }
}

/// Show a notice as a desktop notification. A failure (no notification server) is logged.
pub fn show<R: Runtime>(app: &AppHandle<R>, notice: &Notice) {
    if app.try_state::<Notification<R>>().is_none() {
        return;
    }
    let mut builder = app.notification().builder().title(&notice.title).body(&notice.body);
    if let Some(run_id) = &notice.run_id {
        builder = builder.action_type_id(RUN_NOTICE).extra(RUN_ID, run_id);
    }
    if let Err(e) = builder.show() {
        tracing::warn!("cannot show a notification: {e}");
    }
}
