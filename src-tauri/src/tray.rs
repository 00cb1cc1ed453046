//! The tray icon and its menu. The Linux tray (libappindicator) reports no
//! clicks on the icon, so everything is in the menu: Open, Run plan ▸, pause or
//! resume all schedules, the last run's status, Quit. The menu is rebuilt when
//! plans or schedules change; a run only changes the text of its status line
//! (rebuilding a GTK menu and its D-Bus export twice a run was wasted work on
//! the GUI thread).

use crate::state::{AppState, Backend};
use crate::window;
use chrono::Local;
use flowpilot_core::store::{Page, RunFilter};
use flowpilot_engine::RunStatus;
use std::sync::{Arc, Mutex};
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

pub const TRAY: &str = "main";
const OPEN: &str = "open";
const QUIT: &str = "quit";
const PAUSE_ALL: &str = "pause-all";
const RESUME_ALL: &str = "resume-all";
const STATUS: &str = "status";
/// Menu ids of "Run plan" entries: this prefix and the plan id.
const RUN_PREFIX: &str = "run:";

/// The status line of the current menu, to change its text in place.
struct StatusLine<R: Runtime>(Mutex<Option<MenuItem<R>>>);

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    app.manage(StatusLine::<R>(Mutex::new(None)));
    TrayIconBuilder::with_id(TRAY)
        .icon(tauri::include_image!("icons/tray.png"))
        .tooltip("Flowpilot")
        .menu(&build_menu(app)?)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

/// Rebuild the menu from the current plans, pause state and last run.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY) else { return };
    if let Err(e) = build_menu(app).and_then(|menu| tray.set_menu(Some(menu))) {
        tracing::warn!("cannot update the tray menu: {e}");
    }
}

/// A run started or finished: say so in the status line.
pub fn refresh_status<R: Runtime>(app: &AppHandle<R>) {
    let (Some(line), Some(Ok(state))) = (
        app.try_state::<StatusLine<R>>(),
        app.try_state::<Backend>().map(|b| b.get()),
    ) else {
        return;
    };
    let item = line.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match item {
        Some(item) => {
            if let Err(e) = item.set_text(label(&status_line(&state))) {
                tracing::warn!("cannot update the tray's status line: {e}");
            }
        }
        None => refresh(app),
    }
}

/// Menu labels treat `&` as a mnemonic marker; a plan name means it literally.
fn label(text: &str) -> String {
    text.replace('&', "&&")
}

fn build_menu<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    menu.append(&MenuItem::with_id(app, OPEN, "Open Flowpilot", true, None::<&str>)?)?;
    let state = app.try_state::<Backend>().map(|b| b.get());
    match state {
        Some(Ok(state)) => {
            menu.append(&run_plan_menu(app, &state)?)?;
            let (id, text) = if state.scheduler.is_paused() {
                (RESUME_ALL, "Resume all schedules")
            } else {
                (PAUSE_ALL, "Pause all schedules")
            };
            menu.append(&MenuItem::with_id(app, id, text, true, None::<&str>)?)?;
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            let status = MenuItem::with_id(app, STATUS, label(&status_line(&state)), false, None::<&str>)?;
            menu.append(&status)?;
            if let Some(line) = app.try_state::<StatusLine<R>>() {
                *line.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
            }
        }
        Some(Err(e)) => {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
            let text = format!(
                "Flowpilot could not start: {}",
                e.message.lines().next().unwrap_or_default()
            );
            menu.append(&MenuItem::with_id(app, STATUS, label(&text), false, None::<&str>)?)?;
        }
        None => {}
    }
    menu.append(&PredefinedMenuItem::separator(app)?)?;
    menu.append(&MenuItem::with_id(app, QUIT, "Quit Flowpilot", true, None::<&str>)?)?;
    Ok(menu)
}

fn run_plan_menu<R: Runtime>(app: &AppHandle<R>, state: &AppState) -> tauri::Result<Submenu<R>> {
    let submenu = Submenu::with_id(app, "run-plan", "Run plan", true)?;
    match state.runnable_plans() {
        Ok(plans) if !plans.is_empty() => {
            for (id, name) in plans {
                submenu.append(&MenuItem::with_id(
                    app,
                    format!("{RUN_PREFIX}{id}"),
                    label(&name),
                    true,
                    None::<&str>,
                )?)?;
            }
        }
        Ok(_) => submenu.append(&MenuItem::new(app, "No active plans", false, None::<&str>)?)?,
        Err(e) => {
            tracing::warn!("cannot list plans for the tray: {e}");
            submenu.append(&MenuItem::new(app, "Plans unavailable", false, None::<&str>)?)?;
        }
    }
    Ok(submenu)
}

/// "Last run: Digest — failed, 2026-11-22 09:00" (local time).
fn status_line(state: &AppState) -> String {
    let last = state
        .flow
        .list_runs(&RunFilter::default(), Page { limit: 1, offset: 0 });
    match last.map(|(runs, _)| runs.into_iter().next()) {
        Ok(Some(run)) if run.status == RunStatus::Running => format!("Running: {}", run.plan_name),
        Ok(Some(run)) => {
            let at = run
                .finished_at
                .unwrap_or(run.started_at)
                .with_timezone(&Local)
                .format("%Y-%m-%d %H:%M");
            format!("Last run: {} — {}, {at}", run.plan_name, run.status.as_str())
        }
        Ok(None) => "No runs yet".into(),
        Err(e) => {
            tracing::warn!("cannot read the last run for the tray: {e}");
            "Last run: unknown".into()
        }
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let state = app.try_state::<Backend>().and_then(|b| b.get().ok());
    match (id, state) {
        (OPEN, _) => window::show_main(app),
        (QUIT, _) => app.exit(0),
        (PAUSE_ALL, Some(state)) => state.set_all_paused(true),
        (RESUME_ALL, Some(state)) => state.set_all_paused(false),
        (id, Some(state)) => {
            if let Some(plan_id) = id.strip_prefix(RUN_PREFIX) {
                run_plan(state, plan_id.to_string());
            }
        }
        _ => {}
    }
}

/// Menu events arrive on the GUI thread; runs are spawned on the async runtime.
fn run_plan(state: Arc<AppState>, plan_id: String) {
    tauri::async_runtime::spawn(async move {
        if let Err(e) = state.start_run(&plan_id) {
            tracing::warn!(plan = %plan_id, "cannot start the run from the tray: {e}");
        }
    });
}
