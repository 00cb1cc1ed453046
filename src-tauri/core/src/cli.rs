//! The headless CLI: the same engine, store and keychain as the desktop app.

use crate::api::{ApiError, Flowpilot, Options};
use crate::draft::{Draft, DraftRequest};
use crate::store::{Page, RunFilter};
use clap::{Parser, Subcommand};
use flowpilot_engine::executor::{RunEvent, RunObserver, RunOutcome, RunStatus, StepRecord, StepStatus};
use flowpilot_engine::{Plan, Sensitive};
use serde::Serialize;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "flowpilot-cli",
    version,
    about = "Run and manage Flowpilot plans without the desktop app"
)]
pub struct Cli {
    /// The data folder (plans, runs, logs). Default: the platform data dir.
    #[arg(long, global = true, env = "FLOWPILOT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a plan: a plan file, or the id or name of a stored plan.
    Run {
        plan: String,
        /// Print the run record (every step's status, latency, preview, error) as JSON.
        #[arg(long)]
        json: bool,
        /// Give up on the whole run after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Validate plan files and print every problem with its location.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Stored plans.
    #[command(subcommand)]
    Plans(PlansCommand),
    /// Run history.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The step logs of a run.
    Logs {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Credentials in the OS keychain (values are write-only).
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Providers with their actions and params schemas.
    Providers {
        #[arg(long)]
        json: bool,
    },
    /// Success rate and latency per provider, slowest steps.
    Stats {
        /// The window, in hours.
        #[arg(long, default_value_t = 24)]
        hours: i64,
        #[arg(long)]
        json: bool,
    },
    /// Delete old runs (30 days / 10,000 runs; failures kept 90 days) and reclaim the space.
    Prune {
        #[arg(long)]
        json: bool,
    },
    /// Draft a plan from a sentence with an LLM. The draft is checked like a plan
    /// file and written only if it is valid; otherwise its problems are printed.
    Draft {
        /// What the plan should do, in your words.
        prompt: String,
        /// The LLM provider to ask.
        #[arg(long, value_parser = ["openai", "groq", "openai_compatible"])]
        provider: String,
        /// The server to ask instead of the provider's own (required for openai_compatible).
        #[arg(long)]
        base_url: Option<String>,
        /// The model to ask (required for openai_compatible).
        #[arg(long)]
        model: Option<String>,
        /// Where to write the plan file; stdout when left out.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the whole draft (plan, problems, steps, credentials) as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PlansCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Import plan files (a plan whose name exists gets a new version).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Export a stored plan as a plan file (never contains secrets).
    Export {
        plan: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RunsCommand {
    List {
        /// A plan id or name.
        #[arg(long)]
        plan: Option<String>,
        /// running, success, failed, cancelled or interrupted.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Store a value, read from stdin (not echoed).
    Set {
        provider: String,
        field: String,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Delete {
        provider: String,
        field: String,
    },
}

/// Entry point of the `flowpilot-cli` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing() {
    // Quiet by default: stderr carries the run's progress. RUST_LOG=debug for more.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ignored = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn print_json<T: Serialize>(value: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

async fn dispatch(cli: Cli) -> Result<ExitCode, ApiError> {
    let app = Flowpilot::open(Options {
        data_dir: cli.data_dir,
        ..Options::default()
    })?;
    match cli.command {
        Command::Run { plan, json, timeout } => run(&app, &plan, json, timeout).await,
        Command::Check { files, json } => Ok(check(&app, &files, json)),
        Command::Plans(cmd) => plans(&app, cmd).map(|()| ExitCode::SUCCESS),
        Command::Runs(RunsCommand::List {
            plan,
            status,
            limit,
            offset,
            json,
        }) => {
            let plan_id = match plan {
                Some(key) => Some(app.find_stored_plan(&key)?.id),
                None => None,
            };
            let status = match status {
                Some(s) => Some(RunStatus::parse(&s).ok_or_else(|| {
                    ApiError::BadInput(format!(
                        "unknown status `{s}`: running, success, failed, cancelled, interrupted"
                    ))
                })?),
                None => None,
            };
            let filter = RunFilter {
                plan_id,
                status,
                ..RunFilter::default()
            };
            let (runs, total) = app.list_runs(&filter, Page { limit, offset })?;
            if json {
                print_json(&serde_json::json!({"runs": runs, "total": total}))?;
            } else {
                println!("{:<38} {:<28} {:<11} {:<9} STARTED", "RUN", "PLAN", "STATUS", "TRIGGER");
                for r in &runs {
                    println!(
                        "{:<38} {:<28} {:<11} {:<9} {}",
                        r.id,
                        clip(&r.plan_name, 28),
                        r.status.as_str(),
                        r.trigger_kind,
                        r.started_at.format("%Y-%m-%d %H:%M:%S")
                    );
                }
                println!("{} of {total} runs", runs.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Logs { run_id, json } => {
            let (run, steps) = app.run_logs(&run_id)?;
            if json {
                print_json(&serde_json::json!({"run": run, "logs": steps}))?;
            } else {
                println!(
                    "{} — {} ({}){}",
                    run.plan_name,
                    run.status.as_str(),
                    run.id,
                    run.error.map(|e| format!(": {e}")).unwrap_or_default()
                );
                for s in &steps {
                    print_step_line(s);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Credentials(cmd) => credentials(&app, cmd).map(|()| ExitCode::SUCCESS),
        Command::Providers { json } => {
            let providers = app.providers();
            if json {
                print_json(&providers)?;
            } else {
                for p in &providers {
                    let aliases = if p.aliases.is_empty() {
                        String::new()
                    } else {
                        format!(" (alias {})", p.aliases.join(", "))
                    };
                    let creds = if p.credential_fields.is_empty() {
                        String::new()
                    } else {
                        format!(" [credentials: {}]", p.credential_fields.join(", "))
                    };
                    println!("{}{aliases} — {}{creds}", p.name, p.description);
                    for a in &p.actions {
                        let params = param_names(&a.params_schema);
                        println!("  {}.{} {{{params}}} — {}", p.name, a.name, a.description);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { hours, json } => {
            let stats = app.stats(chrono::Duration::hours(hours.max(1)))?;
            if json {
                print_json(&stats)?;
            } else {
                let r = &stats.runs;
                println!(
                    "Last {hours} h: {} runs ({} success, {} failed, {} cancelled, {} interrupted, {} running)",
                    r.total, r.success, r.failed, r.cancelled, r.interrupted, r.running
                );
                println!(
                    "{:<20} {:>7} {:>9} {:>9} {:>9}",
                    "PROVIDER", "STEPS", "SUCCESS", "AVG ms", "MAX ms"
                );
                for p in &stats.providers {
                    println!(
                        "{:<20} {:>7} {:>8.1}% {:>9.0} {:>9}",
                        p.provider,
                        p.total,
                        p.success_rate * 100.0,
                        p.avg_latency_ms,
                        p.max_latency_ms
                    );
                }
                if !stats.slowest_steps.is_empty() {
                    println!("Slowest steps:");
                    for s in &stats.slowest_steps {
                        println!(
                            "  {:>7} ms  {} step {} {}.{}",
                            s.latency_ms, s.plan_name, s.step_number, s.provider, s.action
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Draft {
            prompt,
            provider,
            base_url,
            model,
            out,
            json,
        } => {
            draft(
                &app,
                DraftRequest {
                    prompt,
                    provider,
                    base_url,
                    model,
                },
                out,
                json,
            )
            .await
        }
        Command::Prune { json } => {
            let report = app.prune()?;
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "deleted {} runs, freed {} bytes",
                    report.runs_deleted, report.bytes_freed
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn param_names(schema: &serde_json::Value) -> String {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .keys()
                .map(|k| {
                    if required.contains(&k.as_str()) {
                        k.clone()
                    } else {
                        format!("{k}?")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

fn print_step_line(s: &StepRecord) {
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

async fn run(app: &Flowpilot, key: &str, json: bool, timeout: Option<f64>) -> Result<ExitCode, ApiError> {
    let target = app.resolve_plan(key)?;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    // Ctrl-C cancels the run; the run is still recorded, as cancelled.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let deadline = timeout.filter(|t| *t > 0.0).map(std::time::Duration::from_secs_f64);
    let outcome: RunOutcome = app
        .run_plan(
            target,
            "cli",
            Arc::new(Progress {
                total: Default::default(),
            }),
            deadline,
            cancel,
        )
        .await?;
    if json {
        print_json(&outcome)?;
    } else if outcome.status == RunStatus::Success
        && let Some(last) = outcome.steps.last()
    {
        println!("{}", flowpilot_engine::template::to_text(&last.output));
    }
    Ok(if outcome.status == RunStatus::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn check(app: &Flowpilot, files: &[PathBuf], json: bool) -> ExitCode {
    let mut report = Vec::new();
    let mut failed = false;
    for file in files {
        let result = std::fs::read_to_string(file)
            .map_err(|e| {
                vec![flowpilot_engine::PlanIssue {
                    path: String::new(),
                    message: format!("cannot read the file: {e}"),
                }]
            })
            .and_then(|text| Plan::from_json(&text, app.registry()).map_err(|e| e.issues()));
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

fn plans(app: &Flowpilot, cmd: PlansCommand) -> Result<(), ApiError> {
    match cmd {
        PlansCommand::List { json } => {
            let plans = app.list_plans()?;
            if json {
                return print_json(&plans);
            }
            println!("{:<38} {:<30} {:<9} {:<8} LAST RUN", "ID", "NAME", "STATUS", "VERSION");
            for p in &plans {
                let last = match (&p.last_run_status, &p.last_run_at) {
                    (Some(s), Some(at)) => format!("{} {}", s.as_str(), at.format("%Y-%m-%d %H:%M")),
                    _ => "never".into(),
                };
                println!(
                    "{:<38} {:<30} {:<9} {:<8} {last}",
                    p.id,
                    clip(&p.name, 30),
                    p.status.as_str(),
                    p.version
                );
            }
            Ok(())
        }
        PlansCommand::Import { files, json } => {
            let mut imported = Vec::new();
            for file in &files {
                let row = app.import_plan_file(file)?;
                if !json {
                    println!("imported {} as {} (version {})", file.display(), row.id, row.version);
                }
                imported.push(row);
            }
            if json { print_json(&imported) } else { Ok(()) }
        }
        PlansCommand::Export { plan, out } => {
            let value = app.export_plan(&app.find_stored_plan(&plan)?.id)?;
            let text = serde_json::to_string_pretty(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
            match out {
                Some(path) => std::fs::write(&path, text + "\n").map_err(|e| ApiError::Io {
                    path,
                    message: e.to_string(),
                }),
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
    }
}

fn credentials(app: &Flowpilot, cmd: CredentialsCommand) -> Result<(), ApiError> {
    match cmd {
        CredentialsCommand::Set { provider, field } => {
            let value = read_secret(&provider, &field)?;
            app.set_credential(&provider, &field, value)?;
            println!("stored {provider}/{field} in the OS keychain");
            Ok(())
        }
        CredentialsCommand::List { json } => {
            let list = app.list_credentials()?;
            if json {
                return print_json(&list);
            }
            for c in &list {
                println!(
                    "{}/{}  set {}",
                    c.provider,
                    c.field,
                    c.updated_at.format("%Y-%m-%d %H:%M")
                );
            }
            if list.is_empty() {
                println!("no credentials set");
            }
            Ok(())
        }
        CredentialsCommand::Delete { provider, field } => {
            if app.delete_credential(&provider, &field)? {
                println!("deleted {provider}/{field}");
            } else {
                println!("{provider}/{field} was not set");
            }
            Ok(())
        }
    }
}

/// Read a secret from stdin: without echo on a terminal, as-is from a pipe.
fn read_secret(provider: &str, field: &str) -> Result<Sensitive<String>, ApiError> {
    let stdin = std::io::stdin();
    let mut value = String::new();
    if stdin.is_terminal() {
        value = rpassword::prompt_password(format!("{provider}/{field}: "))
            .map_err(|e| ApiError::BadInput(format!("cannot read the value: {e}")))?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut value)
            .map_err(|e| ApiError::BadInput(format!("cannot read the value from stdin: {e}")))?;
    }
    let value = value.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(ApiError::BadInput("no value given on stdin".into()));
    }
    Ok(Sensitive::new(value))
}

/// `draft`: ask, show the draft on stderr, write it only when it validates.
async fn draft(app: &Flowpilot, request: DraftRequest, out: Option<PathBuf>, json: bool) -> Result<ExitCode, ApiError> {
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    eprintln!("Asking {} for a plan …", request.provider);
    let draft = app.draft_plan_with_cancel(request, cancel).await?;
    print_draft_summary(&draft);
    if !draft.valid {
        let mut err = std::io::stderr().lock();
        let n = draft.issues.len();
        let _ignored = writeln!(
            err,
            "✘ the draft has {n} problem{} after {} attempt{}; nothing was written:",
            if n == 1 { "" } else { "s" },
            draft.attempts,
            if draft.attempts == 1 { "" } else { "s" }
        );
        for issue in &draft.issues {
            let _ignored = writeln!(err, "  {issue}");
        }
        if draft.plan.is_null() {
            let _ignored = writeln!(err, "The model answered:\n{}", clip(draft.reply.trim(), 2_000));
        }
        if json {
            print_json(&draft)?;
        }
        return Ok(ExitCode::from(1));
    }
    // Validated again here, so the file is exactly what `plans export` would write.
    let plan = Plan::from_value(draft.plan.clone(), app.registry())?;
    let text = serde_json::to_string_pretty(&plan.to_export_json(app.registry()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match &out {
        Some(path) => {
            std::fs::write(path, text + "\n").map_err(|e| ApiError::Io {
                path: path.clone(),
                message: e.to_string(),
            })?;
            eprintln!(
                "✔ wrote \"{}\" ({} steps) to {}",
                plan.name(),
                plan.steps().len(),
                path.display()
            );
        }
        None if !json => println!("{text}"),
        None => {}
    }
    if json {
        print_json(&draft)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The steps in words, the references and the missing credentials, on stderr.
fn print_draft_summary(draft: &Draft) {
    let mut err = std::io::stderr().lock();
    for note in &draft.notes {
        let _ignored = writeln!(err, "note: {note}");
    }
    if let Some(name) = draft.plan.get("name").and_then(|n| n.as_str()) {
        let _ignored = writeln!(err, "{name}");
    }
    for line in &draft.plain_english_steps {
        let _ignored = writeln!(err, "  {line}");
    }
    for link in &draft.references {
        let _ignored = writeln!(err, "  step {} uses the result of step {}", link.from + 1, link.to + 1);
    }
    if !draft.required_providers.is_empty() {
        let _ignored = writeln!(err, "Needs: {}", draft.required_providers.join(", "));
    }
    if !draft.missing_credentials.is_empty() {
        let _ignored = writeln!(err, "Missing credentials:");
        for c in &draft.missing_credentials {
            let _ignored = writeln!(
                err,
                "  {p}/{f} — set it with `flowpilot-cli credentials set {p} {f}`",
                p = c.provider,
                f = c.field
            );
        }
    }
}
