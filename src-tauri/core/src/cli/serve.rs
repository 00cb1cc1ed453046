//! `flowpilot-cli serve`: the schedules and every trigger of a data folder,
//! without a GUI (a home server, a VPS under systemd). Logs go to stderr.
//! SIGTERM or SIGINT stops accepting events (webhook calls, new items, fires),
//! lets the runs in progress finish for up to 30 s, then cancels them (they are
//! recorded as cancelled) and exits 0. Only one process runs a data folder's
//! schedules and triggers: a second `serve` (or the tray app) says who does.
//! Also `triggers list` and `triggers sample`.

use super::{TriggersCommand, clip, print_json};
use crate::api::{ApiError, Flowpilot};
use crate::notices::Notice;
use crate::scheduler::{Scheduler, SchedulerSink};
use crate::triggers::{TriggerHealth, TriggerRunner, TriggerStatus, WebhookServerStatus, webhook};
use flowpilot_engine::run::RunEvent;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long cancelled runs get to record that they were cancelled.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Reports to the log (stderr).
struct LogSink;

impl SchedulerSink for LogSink {
    fn run_event(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run_id, plan_name, .. } => {
                tracing::info!(run = %run_id, "run of `{plan_name}` started");
            }
            RunEvent::RunFinished { outcome, .. } => tracing::info!(
                run = %outcome.run_id,
                status = outcome.status.as_str(),
                "run of `{}` finished{}",
                outcome.plan_name,
                outcome.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            ),
            _ => {}
        }
    }

    fn notice(&self, notice: Notice) {
        tracing::warn!(kind = ?notice.kind, "{}: {}", notice.title, notice.body);
    }

    fn schedule_changed(&self, _plan_id: &str) {}

    fn trigger_changed(&self, status: &TriggerStatus) {
        if let Some(error) = status.last_error.as_deref().filter(|_| status.failures > 0) {
            tracing::warn!(plan = %status.plan_id, failures = status.failures, "trigger of `{}`: {error}", status.plan_name);
        }
    }

    fn webhook_server_changed(&self, status: &WebhookServerStatus) {
        match &status.error {
            None => tracing::info!("webhooks: {}/hooks/<token>", status.base_url),
            Some(e) => tracing::error!("webhooks: {e}"),
        }
    }
}

async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

pub(super) async fn serve(app: Flowpilot, port: Option<u16>, grace: Duration) -> Result<ExitCode, ApiError> {
    let app = Arc::new(app);
    let lock = match app.claim_runner("flowpilot-cli serve") {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let sink: Arc<dyn SchedulerSink> = Arc::new(LogSink);
    let scheduler = Scheduler::new(app.clone(), sink);
    let stop_schedules = CancellationToken::new();
    tokio::spawn(scheduler.clone().run(stop_schedules.clone()));
    let runner = TriggerRunner::new(app.clone(), scheduler, lock.holder(), port);
    runner.start().await;
    let triggers = runner.statuses().unwrap_or_default();
    let active = triggers.iter().filter(|t| t.health != TriggerHealth::Inactive).count();
    tracing::info!(
        data_dir = %app.data_dir().display(),
        "serving: {active} active schedule{s} and trigger{s}; stop with SIGTERM or Ctrl-C",
        s = if active == 1 { "" } else { "s" }
    );
    let signal = stop_signal().await;
    runner.stop_accepting();
    stop_schedules.cancel();
    let running = app.active_run_count();
    tracing::info!(
        "{signal}: no new events are taken; waiting up to {} s for {running} run(s) in progress",
        grace.as_secs()
    );
    if !app.wait_for_runs(grace).await {
        let cancelled = app.cancel_all_runs();
        tracing::warn!("cancelling {cancelled} run(s) still going after {} s", grace.as_secs());
        if !app.wait_for_runs(CANCEL_GRACE).await {
            tracing::error!("runs did not stop; they will be marked interrupted at the next start");
        }
    }
    drop(lock);
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The URLs webhooks have: the running server's, else the settings'.
fn base_url(app: &Flowpilot) -> String {
    if app.runner_holder().is_some()
        && let Ok(Some(live)) = app.runtime_value(crate::triggers::LIVE_BASE_URL)
    {
        return live;
    }
    let settings = app.settings().unwrap_or_default().webhooks;
    webhook::base_url(&settings, settings.port)
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

fn health_word(h: TriggerHealth) -> &'static str {
    match h {
        TriggerHealth::Watching => "watching",
        TriggerHealth::Failing => "failing",
        TriggerHealth::Inactive => "inactive",
        TriggerHealth::NotRunning => "not running",
    }
}

pub(super) async fn triggers(app: &Flowpilot, cmd: TriggersCommand) -> Result<ExitCode, ApiError> {
    match cmd {
        TriggersCommand::List { json } => {
            let statuses = app.trigger_statuses(None, &base_url(app))?;
            if json {
                print_json(&statuses)?;
                return Ok(ExitCode::SUCCESS);
            }
            match app.runner_holder() {
                Some(holder) => println!("Triggers run in {holder}."),
                None => println!("No Flowpilot process runs the triggers now: start the app or `flowpilot-cli serve`."),
            }
            println!(
                "{:<28} {:<9} {:<12} {:<19} {:<19} QUEUED",
                "PLAN", "TRIGGER", "STATE", "LAST CHECK", "NEXT CHECK"
            );
            for s in &statuses {
                println!(
                    "{:<28} {:<9} {:<12} {:<19} {:<19} {}",
                    clip(&s.plan_name, 28),
                    s.kind,
                    health_word(s.health),
                    when(s.last_check_at),
                    when(s.next_check_at),
                    s.queued
                );
                println!("  {}", s.description);
                if let Some(url) = &s.webhook_url {
                    println!("  URL: {url}");
                }
                if let Some(at) = s.last_item_at {
                    println!("  last new item: {}", when(Some(at)));
                }
                if let Some(error) = s.last_error.as_deref().filter(|_| s.failures > 0) {
                    println!("  error ({} in a row): {error}", s.failures);
                }
                if let Some(note) = &s.note {
                    println!("  note: {note}");
                }
            }
            if statuses.is_empty() {
                println!("no plan has a schedule or an event trigger");
            }
            Ok(ExitCode::SUCCESS)
        }
        TriggersCommand::Sample { plan, json } => {
            let target = app.resolve_plan(&plan)?;
            let sample = app.fetch_trigger_sample(target.plan.trigger()).await?;
            if json {
                print_json(&sample)?;
            } else {
                if let Some(note) = &sample.note {
                    eprintln!("{note}");
                }
                for event in &sample.events {
                    let text = serde_json::to_string_pretty(event).map_err(|e| ApiError::Internal(e.to_string()))?;
                    println!("{text}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TriggersCommand::RegenerateUrl { plan } => {
            let row = app.find_stored_plan(&plan)?;
            let url = app.regenerate_webhook_url(&row.id, &base_url(app))?;
            println!("{url}");
            eprintln!("the old URL of `{}` no longer works", row.plan.name);
            Ok(ExitCode::SUCCESS)
        }
    }
}
