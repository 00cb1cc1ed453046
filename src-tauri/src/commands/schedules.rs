use crate::error::IpcError;
use crate::state::Backend;
use flowpilot_core::api::SchedulePreview;
use flowpilot_core::scheduler::ScheduledJob;
use flowpilot_core::store::PlanRow;
use flowpilot_engine::plan::CronTrigger;
use tauri::State;

/// How many fire times a preview shows.
const PREVIEW_COUNT: usize = 5;

/// Every plan with a cron trigger: next run, last result, paused or not.
#[tauri::command]
#[specta::specta]
pub async fn list_schedules(backend: State<'_, Backend>) -> Result<Vec<ScheduledJob>, IpcError> {
    Ok(backend.get()?.scheduler.jobs()?)
}

/// A plan's schedule; None if it has no cron trigger.
#[tauri::command]
#[specta::specta]
pub async fn get_schedule(backend: State<'_, Backend>, plan_id: String) -> Result<Option<ScheduledJob>, IpcError> {
    Ok(backend
        .get()?
        .scheduler
        .jobs()?
        .into_iter()
        .find(|j| j.plan_id == plan_id))
}

/// Set a plan's cron trigger, or make it manual with None (a new plan version).
/// A bad expression or zone is `invalid_plan` at `trigger.cron_expression` / `trigger.timezone`.
#[tauri::command]
#[specta::specta]
pub async fn set_schedule(
    backend: State<'_, Backend>,
    plan_id: String,
    trigger: Option<CronTrigger>,
) -> Result<PlanRow, IpcError> {
    let state = backend.get()?;
    let trigger = trigger.map(|t| CronTrigger {
        timezone: t.timezone.filter(|z| !z.trim().is_empty()),
        ..t
    });
    let row = state.flow.set_schedule(&plan_id, trigger)?;
    state.plan_changed(&plan_id);
    Ok(row)
}

/// Pause one plan's schedule.
#[tauri::command]
#[specta::specta]
pub async fn pause_schedule(backend: State<'_, Backend>, plan_id: String) -> Result<(), IpcError> {
    Ok(backend.get()?.scheduler.set_plan_paused(&plan_id, true)?)
}

/// Resume one plan's schedule from now on (fires missed while paused are not run).
#[tauri::command]
#[specta::specta]
pub async fn resume_schedule(backend: State<'_, Backend>, plan_id: String) -> Result<(), IpcError> {
    Ok(backend.get()?.scheduler.set_plan_paused(&plan_id, false)?)
}

/// Pause every schedule (until resumed or the app restarts).
#[tauri::command]
#[specta::specta]
pub async fn pause_all_schedules(backend: State<'_, Backend>) -> Result<(), IpcError> {
    backend.get()?.set_all_paused(true);
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn resume_all_schedules(backend: State<'_, Backend>) -> Result<(), IpcError> {
    backend.get()?.set_all_paused(false);
    Ok(())
}

/// A cron expression in words and its next 5 fire times, without saving anything.
#[tauri::command]
#[specta::specta]
pub async fn preview_schedule(
    backend: State<'_, Backend>,
    cron_expression: String,
    timezone: Option<String>,
) -> Result<SchedulePreview, IpcError> {
    let timezone = timezone.filter(|z| !z.trim().is_empty());
    Ok(backend
        .get()?
        .flow
        .preview_schedule(&cron_expression, timezone.as_deref(), PREVIEW_COUNT)?)
}
