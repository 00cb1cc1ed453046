//! Running plans from the command line: live progress on stderr, the result on
//! stdout; checking plan files; replaying a failed run from a step.

use super::{clip, print_json};
use crate::api::{ApiError, Flowpilot};
use flowpilot_engine::plan::Severity;
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
        .run_plan(target, "cli", progress(), deadline, cancel_on_signal())
        .await?;
    // A final status that could not be written (a lock held elsewhere) gets one
    // more try; what is still left is marked interrupted at the next start.
    app.record_unrecorded_runs();
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
    let outcome = app.execute(prepared, progress(), None, cancel_on_signal()).await?;
    app.record_unrecorded_runs();
    report(outcome, json)
}

fn progress() -> Arc<Progress> {
    Arc::new(Progress {
        total: Default::default(),
    })
}

/// Ctrl-C or SIGTERM cancels the run; the run is still recorded, as cancelled.
fn cancel_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        let signal = crate::shutdown::requested().await;
        eprintln!("{signal}: cancelling the run");
        on_signal.cancel();
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
        let checked = app.check_plan_file(file);
        failed |= !checked.valid;
        if !json {
            print_check(file, &checked);
        }
        report.push(serde_json::json!({
            "file": file,
            "valid": checked.valid,
            "name": checked.name,
            "issues": checked.issues,
        }));
    }
    if json && print_json(&report).is_err() {
        return ExitCode::from(2);
    }
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

/// One file's verdict: ✔ or ✘, then every problem (errors) and every warning.
fn print_check(file: &std::path::Path, checked: &crate::api::FileCheck) {
    let (errors, warnings): (Vec<_>, Vec<_>) = checked.issues.iter().partition(|i| i.severity == Severity::Error);
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if checked.valid {
        let name = checked.name.as_deref().unwrap_or_default();
        let extra = if warnings.is_empty() {
            String::new()
        } else {
            format!(", {}", plural(warnings.len(), "warning"))
        };
        println!(
            "✔ {}: {name} ({}){extra}",
            file.display(),
            plural(checked.steps, "step")
        );
    } else {
        println!("✘ {}: {}", file.display(), plural(errors.len(), "problem"));
    }
    for i in &errors {
        println!("  {i}");
        if let Some(fix) = &i.fix {
            println!("    fix: {fix}");
        }
    }
    for w in &warnings {
        println!("  warning: {w}");
    }
}
