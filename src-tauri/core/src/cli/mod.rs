//! The headless CLI: the same engine, store and keychain as the desktop app.

mod draft;
mod integrations;
mod manage;
mod run;
mod serve;

use crate::api::{ApiError, Flowpilot, Options};
use crate::draft::DraftRequest;
use crate::store::{Page, RunFilter};
use clap::{Parser, Subcommand};
use flowpilot_engine::RunStatus;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Integrations: the built-in ones and your own, as definition files.
    #[command(subcommand)]
    Integrations(IntegrationsCommand),
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
    /// Delete the runs the retention settings no longer keep (by default 30 days
    /// and 10,000 runs; failures 90 days; each plan's latest failure always) and
    /// reclaim the space.
    Prune {
        #[arg(long)]
        json: bool,
    },
    /// Run the schedules and every trigger of the data folder without the app
    /// (webhooks, new email, feed items, Telegram messages, new items at a URL),
    /// until SIGTERM or Ctrl-C: then no new events are taken, runs in progress get
    /// 30 s to finish (then are cancelled), and it exits 0. Logs go to stderr.
    Serve {
        /// The webhook server's port (default: the setting, 8737; 0 picks a free one).
        #[arg(long)]
        port: Option<u16>,
        /// Seconds runs in progress may go on after SIGTERM before they are cancelled.
        #[arg(long, default_value_t = 30)]
        grace_s: u64,
    },
    /// Every plan's trigger with its state, and webhook URLs.
    #[command(subcommand)]
    Triggers(TriggersCommand),
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
enum TriggersCommand {
    /// Each trigger: watching or not, last and next check, last error, webhook URL.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The newest items of a plan's trigger as its runs would see them (nothing moves).
    Sample {
        /// A plan file, or the id or name of a stored plan.
        plan: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a webhook plan a new URL; the old one stops working.
    RegenerateUrl { plan: String },
}

#[derive(Debug, Subcommand)]
enum PlansCommand {
    List {
        #[arg(long)]
        json: bool,
    },
    /// Import plan files (a plan whose name exists gets a new version). An
    /// imported plan is not active (nor scheduled), whatever its file says,
    /// until it is activated; `plans review` says what it would do.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Activate the plans as imported (for your own files): they run on their schedules.
        #[arg(long)]
        activate: bool,
        #[arg(long)]
        json: bool,
    },
    /// What a plan (a file, or a stored plan's id or name) would do once active:
    /// every host it contacts, which credential goes where, which steps write, warnings.
    Review {
        plan: String,
        #[arg(long)]
        json: bool,
    },
    /// Activate a stored plan (by id or name): it runs on its schedule from now on.
    Activate { plan: String },
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
    /// Run a failed, interrupted or cancelled run again from a step, with the plan
    /// as it is now: the steps before it are not run again, their stored results
    /// are taken over.
    Replay {
        run_id: String,
        /// The step to run again from, counted from 1 (default: the first failed or interrupted one).
        #[arg(long)]
        from_step: Option<usize>,
        /// Run the steps before it again where the plan changed since, instead of refusing.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum IntegrationsCommand {
    /// Every integration with its actions and whether its secrets are set.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print an integration's definition.
    Show { name: String },
    /// Add your own integrations from definition files.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Replace an integration of the same name (its secrets then go to the new definition's address).
        #[arg(long)]
        replace: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write an integration's definition to a file (it never holds a secret).
    Export {
        name: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Remove one of your integrations.
    Remove { name: String },
    /// Connect an OAuth 2.0 integration: prints the address to open in a browser, then waits.
    Connect { name: String },
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
    /// Let a credential also be sent to another origin (a proxy, a self-hosted
    /// copy of the service). A provider's own host never needs this; a credential
    /// whose host you choose (`http` auth, `openai_compatible`) goes only to the
    /// origins listed, once any is.
    Allow {
        provider: String,
        field: String,
        /// Like https://proxy.example.com or http://127.0.0.1:8080.
        origin: String,
    },
    /// Take an allowed origin back.
    Disallow {
        provider: String,
        field: String,
        origin: String,
    },
}

/// Entry point of the `flowpilot-cli` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // `serve` logs what it does; the other commands only warnings (stderr carries a run's progress).
    init_tracing(if matches!(cli.command, Command::Serve { .. }) {
        tracing_subscriber::filter::LevelFilter::INFO
    } else {
        tracing_subscriber::filter::LevelFilter::WARN
    });
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

fn init_tracing(default: tracing_subscriber::filter::LevelFilter) {
    // RUST_LOG=debug for more. Without it, a plain level: parsing a filter
    // compiles regular expressions, start-up work a run does not need.
    if std::env::var_os(tracing_subscriber::EnvFilter::DEFAULT_ENV).is_some() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::default().add_directive(default.into()));
        let _ignored = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        let _ignored = tracing_subscriber::fmt()
            .with_max_level(default)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// `value` as pretty JSON on stdout, written as it is serialised (a run's
/// record may hold a 10 MiB output: no second copy of it as one string). A
/// closed stdout (`| head`) is an error, not a panic.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), ApiError> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("printing the result: {e}"));
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| failed(&e))?;
    writeln!(out).and_then(|()| out.flush()).map_err(|e| failed(&e))
}

async fn dispatch(cli: Cli) -> Result<ExitCode, ApiError> {
    let app = Flowpilot::open(Options {
        data_dir: cli.data_dir,
        ..Options::default()
    })?;
    match cli.command {
        Command::Run { plan, json, timeout } => run::run(&app, &plan, json, timeout).await,
        Command::Serve { port, grace_s } => serve::serve(app, port, std::time::Duration::from_secs(grace_s)).await,
        Command::Triggers(cmd) => serve::triggers(&app, cmd).await,
        Command::Check { files, json } => Ok(run::check(&app, &files, json)),
        Command::Plans(cmd) => manage::plans(&app, cmd).map(|()| ExitCode::SUCCESS),
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
        Command::Runs(RunsCommand::Replay {
            run_id,
            from_step,
            force,
            json,
        }) => run::replay(&app, &run_id, from_step, force, json).await,
        Command::Logs { run_id, json } => {
            let crate::api::RunDetail {
                run, steps, trigger, ..
            } = app.run_detail(&run_id)?;
            if json {
                print_json(&serde_json::json!({"run": run, "logs": steps, "trigger": trigger}))?;
            } else {
                println!(
                    "{} — {} ({}){}",
                    run.plan_name,
                    run.status.as_str(),
                    run.id,
                    run.error.map(|e| format!(": {e}")).unwrap_or_default()
                );
                if let Some(event) = &trigger {
                    let what = event.get("item").or_else(|| event.get("payload")).unwrap_or(event);
                    println!("  started by {}: {}", run.trigger_kind, clip(&what.to_string(), 200));
                }
                for s in &steps {
                    run::print_step_line(s);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Credentials(cmd) => manage::credentials(&app, cmd).map(|()| ExitCode::SUCCESS),
        Command::Integrations(cmd) => integrations::integrations(&app, cmd).await.map(|()| ExitCode::SUCCESS),
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
            draft::draft(
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
            let report = app.prune_by_settings()?;
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

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}
