//! The desktop shell on a Tauri runtime: what the scheduler reports becomes
//! webview events, desktop notifications and a fresh tray menu.

use crate::events::{self, ScheduleChanged, TriggerChanged, WebhookServerChanged};
use crate::state::Shell;
use crate::{notify, tray};
use flowpilot_core::notices::Notice;
use flowpilot_core::scheduler::SchedulerSink;
use flowpilot_core::triggers::{TriggerStatus, WebhookServerStatus};
use flowpilot_engine::run::RunEvent;
use std::path::PathBuf;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_dialog::{DialogExt, FilePath};
use tokio::sync::oneshot;

pub struct Desktop<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Desktop<R> {
    pub fn new(app: AppHandle<R>) -> Self {
        Self { app }
    }
}

fn into_path(picked: Option<FilePath>) -> Option<PathBuf> {
    picked.and_then(|p| p.into_path().ok())
}

impl<R: Runtime> SchedulerSink for Desktop<R> {
    fn run_event(&self, event: &RunEvent) {
        events::emit_run_event(&self.app, event);
        if matches!(event, RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. }) {
            tray::refresh_status(&self.app);
        }
    }

    fn notice(&self, notice: Notice) {
        tracing::info!(kind = ?notice.kind, plan = ?notice.plan_id, run = ?notice.run_id, "notice: {}", notice.title);
        notify::show(&self.app, &notice);
        events::emit(&self.app, events::Notice::from(notice));
    }

    fn schedule_changed(&self, plan_id: &str) {
        events::emit(
            &self.app,
            ScheduleChanged {
                plan_id: Some(plan_id.to_string()),
            },
        );
        tray::refresh(&self.app);
    }

    fn trigger_changed(&self, status: &TriggerStatus) {
        events::emit(
            &self.app,
            TriggerChanged {
                plan_id: status.plan_id.clone(),
                status: status.clone(),
            },
        );
    }

    fn webhook_server_changed(&self, status: &WebhookServerStatus) {
        events::emit(&self.app, WebhookServerChanged { status: status.clone() });
    }
}

impl<R: Runtime> Shell for Desktop<R> {
    fn all_schedules_changed(&self) {
        events::emit(&self.app, ScheduleChanged { plan_id: None });
        tray::refresh(&self.app);
    }

    fn set_autostart(&self, enabled: bool) -> Result<(), String> {
        let Some(autostart) = self.app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
            return Err("start at login is not available in this build".into());
        };
        let done = if enabled {
            autostart.enable()
        } else {
            autostart.disable()
        };
        done.map_err(|e| format!("cannot change start at login: {e}"))
    }

    fn pick_plan_file(&self) -> oneshot::Receiver<Option<PathBuf>> {
        let (tx, rx) = oneshot::channel();
        self.app
            .dialog()
            .file()
            .set_title("Import a plan")
            .add_filter("Flowpilot plan", &["json"])
            .pick_file(move |picked| {
                let _receiver_gone = tx.send(into_path(picked));
            });
        rx
    }

    fn quit(&self) {
        self.app.exit(0);
    }

    fn answer_close(&self, answer: crate::tray_host::CloseAnswer) {
        crate::window::answer_close(&self.app, answer);
    }

    fn pick_integration_file(&self) -> oneshot::Receiver<Option<PathBuf>> {
        let (tx, rx) = oneshot::channel();
        self.app
            .dialog()
            .file()
            .set_title("Import an integration")
            .add_filter("Integration definition", &["json"])
            .pick_file(move |picked| {
                let _receiver_gone = tx.send(into_path(picked));
            });
        rx
    }

    fn pick_integration_export_path(&self, suggested_name: String) -> oneshot::Receiver<Option<PathBuf>> {
        let (tx, rx) = oneshot::channel();
        self.app
            .dialog()
            .file()
            .set_title("Export the integration")
            .add_filter("Integration definition", &["json"])
            .set_file_name(suggested_name)
            .save_file(move |picked| {
                let _receiver_gone = tx.send(into_path(picked));
            });
        rx
    }

    /// The platform's own opener: the URL goes as one argument, never through a shell.
    fn open_url(&self, url: &str) -> Result<(), String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("not a web address: {url}"));
        }
        let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
            ("open", vec![url])
        } else if cfg!(target_os = "windows") {
            ("explorer", vec![url])
        } else {
            ("xdg-open", vec![url])
        };
        std::process::Command::new(program)
            .args(args)
            .spawn()
            .map(|_child| ())
            .map_err(|e| format!("cannot start {program}: {e}"))
    }

    fn pick_export_path(&self, suggested_name: String) -> oneshot::Receiver<Option<PathBuf>> {
        let (tx, rx) = oneshot::channel();
        self.app
            .dialog()
            .file()
            .set_title("Export the plan")
            .add_filter("Flowpilot plan", &["json"])
            .set_file_name(suggested_name)
            .save_file(move |picked| {
                let _receiver_gone = tx.send(into_path(picked));
            });
        rx
    }
}
