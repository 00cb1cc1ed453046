//! Stored plans and credentials from the command line.

use super::{CredentialsCommand, PlansCommand, clip, print_json};
use crate::api::review::PlanReview;
use crate::api::{Activation, ApiError, Flowpilot};
use flowpilot_engine::Sensitive;
use flowpilot_engine::plan::PlanStatus;
use std::io::{IsTerminal, Read};

pub(super) fn plans(app: &Flowpilot, cmd: PlansCommand) -> Result<(), ApiError> {
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
        PlansCommand::Import { files, activate, json } => {
            let activation = if activate {
                Activation::Activate
            } else {
                Activation::Review
            };
            let mut imported = Vec::new();
            for file in &files {
                let row = app.import_plan_file(file, activation)?;
                if !json {
                    println!("imported {} as {} (version {})", file.display(), row.id, row.version);
                    if row.plan.status != PlanStatus::Active {
                        print_review(&app.review_stored_plan(&row.id)?);
                        println!(
                            "  not active: activate it with `flowpilot-cli plans activate {}` once you have read the above",
                            row.id
                        );
                    }
                }
                imported.push(row);
            }
            if json { print_json(&imported) } else { Ok(()) }
        }
        PlansCommand::Review { plan, json } => {
            let path = std::path::Path::new(&plan);
            let review = if path.is_file() {
                app.review_plan_file(path)?
            } else {
                app.review_stored_plan(&app.find_stored_plan(&plan)?.id)?
            };
            if json {
                return print_json(&review);
            }
            println!("{}", review.name);
            print_review(&review);
            Ok(())
        }
        PlansCommand::Activate { plan } => {
            let row = app.activate_plan(&app.find_stored_plan(&plan)?.id)?;
            println!("activated {} ({}, version {})", row.plan.name, row.id, row.version);
            Ok(())
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

pub(super) fn credentials(app: &Flowpilot, cmd: CredentialsCommand) -> Result<(), ApiError> {
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
                let also = if c.allowed_origins.is_empty() {
                    String::new()
                } else {
                    format!("  also to {}", c.allowed_origins.join(", "))
                };
                println!(
                    "{}/{}  set {}{also}",
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
        CredentialsCommand::Allow {
            provider,
            field,
            origin,
        } => {
            let origin = app.allow_credential_origin(&provider, &field, &origin)?;
            println!("{provider}/{field} may now also be sent to {origin}");
            Ok(())
        }
        CredentialsCommand::Disallow {
            provider,
            field,
            origin,
        } => {
            if app.disallow_credential_origin(&provider, &field, &origin)? {
                println!("{provider}/{field} is no longer sent to {origin}");
            } else {
                println!("{origin} was not allowed for {provider}/{field}");
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

/// A plan's review, indented under its import line.
fn print_review(review: &PlanReview) {
    if let Some(schedule) = &review.schedule {
        println!("  schedule: {schedule}");
    }
    if review.hosts.is_empty() && review.dynamic_targets.is_empty() {
        println!("  contacts no host");
    }
    for h in &review.hosts {
        let steps: Vec<String> = h.steps.iter().map(|s| (s + 1).to_string()).collect();
        let creds = if h.credentials.is_empty() {
            String::new()
        } else {
            format!(", sends {}", h.credentials.join(", "))
        };
        let writes = if h.writes { ", writes" } else { "" };
        println!("  contacts {} (step {}{creds}{writes})", h.origin, steps.join(", "));
    }
    for d in &review.dynamic_targets {
        let creds = if d.credentials.is_empty() {
            String::new()
        } else {
            format!(", sends {}", d.credentials.join(", "))
        };
        println!(
            "  step {} contacts an address decided at run time: {}{creds}",
            d.step + 1,
            d.url
        );
    }
    for c in &review.credentials {
        let set = if c.is_set { "set" } else { "not set" };
        println!(
            "  credential {}/{} ({set}) goes to {}",
            c.provider,
            c.field,
            c.sent_to.join(", ")
        );
    }
    for w in &review.writes {
        println!("  writes: {}", w.summary);
    }
    for w in &review.warnings {
        println!("  warning: {w}");
    }
}
