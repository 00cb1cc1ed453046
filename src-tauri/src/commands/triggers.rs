//! Event triggers: statuses, webhook URLs, samples, "check now", "listen for a
//! test event", a trigger in words, and "test this step" with a sample.
//! Status changes arrive as `trigger-changed` events, the webhook server's as
//! `webhook-server-changed`.

use crate::dto::PreviousStep;
use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::triggers::{CheckReport, TriggerSample, TriggerStatus, WebhookServerStatus};
use flowpilot_engine::StepRecord;
use flowpilot_engine::plan::{StepSpec, Trigger};
use serde_json::Value;
use std::time::Duration;
use tauri::State;

/// How long "Listen for a test event" waits for a call.
const LISTEN_LIMIT: Duration = Duration::from_secs(120);

/// Every plan with a schedule or an event trigger, and how its trigger is doing.
#[tauri::command]
#[specta::specta]
pub async fn list_triggers(backend: State<'_, Backend>) -> Result<Vec<TriggerStatus>, IpcError> {
    Ok(backend.get()?.trigger_statuses()?)
}

/// One plan's trigger status (with its webhook URL for a webhook plan).
#[tauri::command]
#[specta::specta]
pub async fn get_trigger(backend: State<'_, Backend>, plan_id: String) -> Result<TriggerStatus, IpcError> {
    Ok(backend.get()?.trigger_status(&plan_id)?)
}

/// A trigger in words ("When an email with “invoice” arrives in INBOX of me@example.com"), for one being edited.
#[tauri::command]
#[specta::specta]
pub async fn describe_trigger(trigger: Trigger) -> Result<String, IpcError> {
    Ok(trigger.describe())
}

/// Check an active plan's trigger now; what it found (`bad_input` when the plan
/// is not active, has no polling trigger, or another process runs the triggers).
#[tauri::command]
#[specta::specta]
pub async fn check_trigger(backend: State<'_, Backend>, plan_id: String) -> Result<CheckReport, IpcError> {
    Ok(backend.get()?.require_triggers()?.check_now(&plan_id).await?)
}

/// The newest items of a trigger's source as runs would see them (`${trigger}`),
/// fetched without moving any cursor: nothing is marked read or confirmed.
#[tauri::command]
#[specta::specta]
pub async fn fetch_trigger_sample(backend: State<'_, Backend>, trigger: Trigger) -> Result<TriggerSample, IpcError> {
    Ok(backend.get()?.flow.fetch_trigger_sample(&trigger).await?)
}

/// Wait up to 2 minutes for the next call to a webhook plan's URL (even a
/// draft's) and return what its run would see, starting no run; null when no
/// call came or `stop_listening` was called.
#[tauri::command]
#[specta::specta]
pub async fn listen_for_test_event(backend: State<'_, Backend>, plan_id: String) -> Result<Option<Value>, IpcError> {
    let runner = backend.get()?.require_triggers()?;
    Ok(runner.listen_for_test_event(&plan_id, LISTEN_LIMIT).await?)
}

/// Stop waiting for a test event.
#[tauri::command]
#[specta::specta]
pub async fn stop_listening(backend: State<'_, Backend>, plan_id: String) -> Result<(), IpcError> {
    if let Some(runner) = backend.get()?.triggers() {
        runner.stop_listening(&plan_id);
    }
    Ok(())
}

/// Give a webhook plan a new URL; the old one answers 404 from now on.
#[tauri::command]
#[specta::specta]
pub async fn regenerate_webhook_url(backend: State<'_, Backend>, plan_id: String) -> Result<String, IpcError> {
    Ok(backend.get()?.regenerate_webhook_url(&plan_id)?)
}

/// Whether the webhook server listens, where, and why not (a port in use).
#[tauri::command]
#[specta::specta]
pub async fn webhook_server(backend: State<'_, Backend>) -> Result<WebhookServerStatus, IpcError> {
    Ok(backend.get()?.webhook_server())
}

/// "Test this step" with `${trigger}` set to a sample (from `fetch_trigger_sample`
/// or a test event); `previous` as in `execute_step`.
#[tauri::command]
#[specta::specta]
pub async fn execute_step_with_trigger(
    backend: State<'_, Backend>,
    step: StepSpec,
    previous: Vec<PreviousStep>,
    trigger: Option<Value>,
) -> Result<StepRecord, IpcError> {
    let previous = previous.into_iter().map(|p| (p.id, p.result)).collect();
    Ok(backend
        .get()?
        .flow
        .execute_step_with_trigger(step, previous, trigger)
        .await?)
}
