//! Stored plans and credentials from the command line.

use super::{CredentialsCommand, PlansCommand, clip, print_json};
use crate::api::{ApiError, Flowpilot};
use flowpilot_engine::Sensitive;
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
