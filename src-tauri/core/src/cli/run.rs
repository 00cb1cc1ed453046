//! Running plans from the command line: live progress on stderr, the result on
//! stdout; checking plan files; replaying a failed run from a step.

use super::{clip, print_json};
use crate::api::{ApiError, Flowpilot};
use flowpilot_engine::Plan;
use flowpilot_engine::run::{RunEvent, RunObserver, RunOutcome, RunStatus, StepRecord, StepStatus};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub(super) fn print_step_line(s: &StepRecord) {
    let status = s.status.as_str();
    let detail = match s.status {
        StepStatus::Success => clip(&s.output_preview.replace('\n', " "), 80),
        _ => s.message.clone(),
    };
    println!(
        "  [{}] {}.{} {status} (attempt {}, {} ms) {detail}",
        s.step_number, s.provider, s.action, s.attempt, s.latency_ms
    );
}

/// Prints live progress on stderr.
struct Progress {
    total: std::sync::atomic::AtomicUsize,
}

impl RunObserver for Progress {
    fn on_event(&self, event: &RunEvent) {
        let total = &self.total;
        let mut err = std::io::stderr().lock();
        let _ignored = match event {
            RunEvent::RunStarted {
                run_id,
                plan_name,
                step_count,
                ..
            } => {
                total.store(*step_count, std::sync::atomic::Ordering::Relaxed);
                writeln!(err, "▶ {plan_name} (run {run_id}, {step_count} steps)")
            }
            RunEvent::StepStarted {
                step_number,
                provider,
                action,
                attempt,
                ..
            } => {
                let n = total.load(std::sync::atomic::Ordering::Relaxed);
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                writeln!(err, "  [{}/{n}] {provider}.{action}{again} …", step_number + 1)
            }
            RunEvent::ItemFinished { item, total, .. } if item.status != StepStatus::Success => {
                writeln!(
                    err,
                    "        item {}/{total} {}: {}",
                    item.index + 1,
                    item.status.as_str(),
                    item.message
                )
            }
            RunEvent::ItemFinished { .. } => Ok(()),
            RunEvent::StepRetrying { record, retry_in_ms } => {
                writeln!(err, "        failed: {} — retrying in {retry_in_ms} ms", record.message)
            }
            RunEvent::StepFinished { record, .. } => match record.status {
                StepStatus::Success => writeln!(err, "        ok in {} ms", record.latency_ms),
                StepStatus::Skipped => {
                    let n = total.load(std::sync::atomic::Ordering::Relaxed);
                    writeln!(
                        err,
                        "  [{}/{n}] {}.{} skipped",
                        record.step_number + 1,
                        record.provider,
                        record.action
                    )
                }
                other => writeln!(
                    err,
                    "        {} after {} ms: {}",
                    other.as_str(),
                    record.latency_ms,
                    record.message
                ),
            },
            RunEvent::RunFinished { outcome, .. } => {
                let secs = (outcome.finished_at - outcome.started_at).num_milliseconds() as f64 / 1000.0;
                match outcome.status {
                    RunStatus::Success => writeln!(err, "✔ success in {secs:.2} s"),
                    other => writeln!(
                        err,
                        "✘ {} in {secs:.2} s: {}",
                        other.as_str(),
                        outcome.error.clone().unwrap_or_default()
                    ),
                }
            }
        };
    }
}

pub(super) async fn run(app: &Flowpilot, key: &str, json: bool, timeout: Option<f64>) -> Result<ExitCode, ApiError> {
    let target = app.resolve_plan(key)?;
    let deadline = timeout.filter(|t| *t > 0.0).map(std::time::Duration::from_secs_f64);
    let outcome: RunOutcome = app
        .run_plan(target, "cli", progress(), deadline, cancel_on_ctrl_c())
        .await?;
    report(outcome, json)
}

/// `runs replay`: a new run that takes over the steps before `from_step`.
pub(super) async fn replay(
    app: &Flowpilot,
    run_id: &str,
    from_step: Option<usize>,
    force: bool,
    json: bool,
) -> Result<ExitCode, ApiError> {
    let prepared = app.prepare_replay(run_id, from_step, force)?;
    if let Some(replay) = &prepared.spec.replay {
        let reused = replay.reuse.iter().filter(|r| r.is_some()).count();
        eprintln!(
            "↻ replaying run {run_id} from step {} ({reused} earlier step{} taken over)",
            replay.from_step + 1,
            if reused == 1 { "" } else { "s" }
        );
    }
    let outcome = app.execute(prepared, progress(), None, cancel_on_ctrl_c()).await?;
    report(outcome, json)
}

fn progress() -> Arc<Progress> {
    Arc::new(Progress {
        total: Default::default(),
    })
}

/// Ctrl-C cancels the run; the run is still recorded, as cancelled.
fn cancel_on_ctrl_c() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    cancel
}

/// The run on stdout (its last output, or the whole record as JSON); exit 0 only on success.
fn report(outcome: RunOutcome, json: bool) -> Result<ExitCode, ApiError> {
    if json {
        print_json(&outcome)?;
    } else if outcome.status == RunStatus::Success
        && let Some(last) = outcome.steps.last()
    {
        println!("{}", flowpilot_engine::references::to_text(&last.output));
    }
    Ok(if outcome.status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(super) fn check(app: &Flowpilot, files: &[PathBuf], json: bool) -> ExitCode {
    let mut report = Vec::new();
    let mut failed = false;
    for file in files {
        let result = std::fs::read_to_string(file)
            .map_err(|e| {
                vec![flowpilot_engine::PlanIssue::error(
                    "",
                    flowpilot_engine::plan::IssueKind::Syntax,
                    format!("cannot read the file: {e}"),
                )]
            })
            .and_then(|text| Plan::from_json(&text, &app.registry()).map_err(|e| e.issues()));
        match result {
            Ok(plan) => {
                if !json {
                    println!("✔ {}: {} ({} steps)", file.display(), plan.name(), plan.steps().len());
                }
                report.push(serde_json::json!({"file": file, "valid": true, "issues": []}));
            }
            Err(issues) => {
                failed = true;
                if !json {
                    println!(
                        "✘ {}: {} problem{}",
                        file.display(),
                        issues.len(),
                        if issues.len() == 1 { "" } else { "s" }
                    );
                    for i in &issues {
                        println!("  {i}");
                    }
                }
                report.push(serde_json::json!({"file": file, "valid": false, "issues": issues}));
            }
        }
    }
    if json && print_json(&report).is_err() {
        return ExitCode::from(2);
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
