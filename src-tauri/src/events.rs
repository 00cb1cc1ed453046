//! The events the app sends the webview: a run's progress (forwarded from the
//! engine's `RunEvent`s), schedule changes, notices, and "open this run" when a
//! notification is clicked. Names are fixed here, so the bindings and the UI
//! agree on them. Screens learn of runs only through these (none polls).

use crate::tray_host::TrayHost;
use chrono::{DateTime, Utc};
use flowpilot_core::notices::{Notice as CoreNotice, NoticeKind};
use flowpilot_core::triggers::{TriggerStatus, WebhookServerStatus};
use flowpilot_engine::run::{ItemRecord, RunEvent};
use flowpilot_engine::{RunStatus, StepRecord, StepStatus};
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, Runtime};
use tauri_specta::Event;

/// The window's close button was pressed where no tray host shows Flowpilot's
/// icon: ask whether to keep running (`answer_close` carries the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct CloseAsked {
    pub tray: TrayHost,
}

impl Event for CloseAsked {
    const NAME: &'static str = "close-asked";
}

/// A run began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct RunStarted {
    pub run_id: String,
    pub plan_name: String,
    pub step_count: u32,
    pub started_at: DateTime<Utc>,
}

impl Event for RunStarted {
    const NAME: &'static str = "run-started";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    /// An attempt began.
    Started,
    /// An attempt failed; the step runs again after `retry_in_ms`.
    Retrying,
    /// The step's final record.
    Finished,
}

/// A step of a run moved on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct StepProgress {
    pub run_id: String,
    pub phase: StepPhase,
    pub step_number: u32,
    pub provider: String,
    pub action: String,
    pub attempt: u32,
    /// Its status once it has one (`retrying`, or the final status).
    pub status: Option<StepStatus>,
    /// The log row, for `retrying` and `finished`.
    pub record: Option<StepRecord>,
    pub retry_in_ms: Option<u32>,
}

impl Event for StepProgress {
    const NAME: &'static str = "step-progress";
}

/// An item of a `for_each` step finished (`done` of `total`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct ItemProgress {
    pub run_id: String,
    pub step_number: u32,
    pub item: ItemRecord,
    pub done: u32,
    pub total: u32,
}

impl Event for ItemProgress {
    const NAME: &'static str = "item-progress";
}

/// A run ended (its row and every step log are stored by now).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct RunFinished {
    pub run_id: String,
    pub plan_name: String,
    pub status: RunStatus,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl Event for RunFinished {
    const NAME: &'static str = "run-finished";
}

/// A plan's schedule or the global pause changed: reload the schedules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ScheduleChanged {
    /// None when every schedule changed (pause or resume all).
    pub plan_id: Option<String>,
}

impl Event for ScheduleChanged {
    const NAME: &'static str = "schedule-changed";
}

/// A plan's trigger status changed: a check ran (new items, an error, a
/// recovery), its URL was regenerated. Carries the whole new status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct TriggerChanged {
    pub plan_id: String,
    pub status: TriggerStatus,
}

impl Event for TriggerChanged {
    const NAME: &'static str = "trigger-changed";
}

/// The webhook server started, stopped, or could not start (its port is in use).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
pub struct WebhookServerChanged {
    pub status: WebhookServerStatus,
}

impl Event for WebhookServerChanged {
    const NAME: &'static str = "webhook-server-changed";
}

/// What a desktop notification said (also shown in the window). Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    pub plan_id: Option<String>,
    pub run_id: Option<String>,
}

impl Event for Notice {
    const NAME: &'static str = "notice";
}

/// Show this run (a notification or its "Open run" action was clicked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct OpenRun {
    pub run_id: String,
}

impl Event for OpenRun {
    const NAME: &'static str = "open-run";
}

impl From<CoreNotice> for Notice {
    fn from(n: CoreNotice) -> Self {
        Self {
            kind: n.kind,
            title: n.title,
            body: n.body,
            plan_id: n.plan_id,
            run_id: n.run_id,
        }
    }
}

fn small(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

fn step_progress(phase: StepPhase, record: &StepRecord, retry_in_ms: Option<u64>) -> StepProgress {
    StepProgress {
        run_id: record.run_id.clone(),
        phase,
        step_number: small(record.step_number),
        provider: record.provider.clone(),
        action: record.action.clone(),
        attempt: record.attempt,
        status: Some(record.status),
        record: Some(record.clone()),
        retry_in_ms: retry_in_ms.map(small),
    }
}

/// Send one of these events to every webview. An app without a window yet
/// simply has no listener; a failure is logged, never fatal.
pub fn emit<R: Runtime, E: Event + Serialize + Clone>(app: &AppHandle<R>, event: E) {
    if let Err(e) = event.emit(app) {
        tracing::warn!(event = E::NAME, "cannot send event to the window: {e}");
    }
}

/// Forward an engine event as the matching app event.
pub fn emit_run_event<R: Runtime>(app: &AppHandle<R>, event: &RunEvent) {
    match event {
        RunEvent::RunStarted {
            run_id,
            plan_name,
            step_count,
            started_at,
        } => emit(
            app,
            RunStarted {
                run_id: run_id.clone(),
                plan_name: plan_name.clone(),
                step_count: small(*step_count),
                started_at: *started_at,
            },
        ),
        RunEvent::StepStarted {
            run_id,
            step_number,
            provider,
            action,
            attempt,
        } => emit(
            app,
            StepProgress {
                run_id: run_id.clone(),
                phase: StepPhase::Started,
                step_number: small(*step_number),
                provider: provider.clone(),
                action: action.clone(),
                attempt: *attempt,
                status: None,
                record: None,
                retry_in_ms: None,
            },
        ),
        RunEvent::StepRetrying { record, retry_in_ms } => {
            emit(app, step_progress(StepPhase::Retrying, record, Some(*retry_in_ms)));
        }
        RunEvent::ItemFinished {
            run_id,
            step_number,
            item,
            done,
            total,
        } => emit(
            app,
            ItemProgress {
                run_id: run_id.clone(),
                step_number: small(*step_number),
                item: item.clone(),
                done: small(*done),
                total: small(*total),
            },
        ),
        RunEvent::StepFinished { record, .. } => emit(app, step_progress(StepPhase::Finished, record, None)),
        RunEvent::RunFinished { outcome, .. } => emit(
            app,
            RunFinished {
                run_id: outcome.run_id.clone(),
                plan_name: outcome.plan_name.clone(),
                status: outcome.status,
                error: outcome.error.clone(),
                started_at: outcome.started_at,
                finished_at: outcome.finished_at,
            },
        ),
    }
}
