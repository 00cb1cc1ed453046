//! `flowpilot-cli integrations`: the built-in integrations and one's own, as
//! definition files.

use super::{IntegrationsCommand, print_json};
use crate::api::{ApiError, Flowpilot};
use std::time::Duration;

/// How long `connect` waits for the browser to come back.
const CONNECT_WAIT: Duration = Duration::from_secs(300);

pub(super) async fn integrations(app: &Flowpilot, cmd: IntegrationsCommand) -> Result<(), ApiError> {
    match cmd {
        IntegrationsCommand::List { json } => {
            let list = app.list_integrations()?;
            if json {
                return print_json(&list);
            }
            for i in &list {
                let kind = if i.builtin { "built-in" } else { "yours" };
                let secrets: Vec<String> = i
                    .secrets
                    .iter()
                    .map(|s| format!("{}{}", s.name, if s.set { " ✔" } else { "" }))
                    .collect();
                println!("{} — {} ({kind})", i.name, i.title);
                if !i.problems.is_empty() {
                    println!("  does not load:");
                    for p in &i.problems {
                        println!("    {p}");
                    }
                    continue;
                }
                println!("  actions: {}", i.actions.join(", "));
                if !secrets.is_empty() {
                    println!("  secrets: {}", secrets.join(", "));
                }
                if let Some(c) = &i.connection {
                    let state = match (&c.state, c.connected) {
                        (Some(crate::store::ConnectionState::NeedsReconnecting), _) => "needs reconnecting",
                        (_, true) => "connected",
                        (_, false) => "not connected",
                    };
                    println!("  OAuth: {state}");
                }
            }
            Ok(())
        }
        IntegrationsCommand::Show { name } => {
            print!("{}", app.export_integration(&name)?);
            Ok(())
        }
        IntegrationsCommand::Import { files, replace, json } => {
            let mut imported = Vec::new();
            for file in &files {
                let def = app.import_integration_file(file, replace)?;
                if !json {
                    println!(
                        "imported {} as `{}` ({} actions); set its secrets with `flowpilot-cli credentials set {} <secret>`",
                        file.display(),
                        def.name,
                        def.actions.len(),
                        def.name
                    );
                }
                imported.push(def);
            }
            if json { print_json(&imported) } else { Ok(()) }
        }
        IntegrationsCommand::Export { name, out } => match out {
            Some(path) => app.export_integration_to(&name, &path),
            None => {
                print!("{}", app.export_integration(&name)?);
                Ok(())
            }
        },
        IntegrationsCommand::Remove { name } => {
            if app.remove_integration(&name)? {
                println!(
                    "removed {name} (its secrets stay in the keychain: `flowpilot-cli credentials delete {name} <secret>`)"
                );
            } else {
                println!("there is no integration `{name}` of yours");
            }
            Ok(())
        }
        IntegrationsCommand::Connect { name } => {
            let start = app.start_oauth_connect(&name).await?;
            eprintln!(
                "Open this address in your browser and allow Flowpilot:\n\n  {}\n",
                start.authorize_url
            );
            eprintln!("Waiting for the browser to come back to {} …", start.redirect_uri);
            app.finish_oauth_connect(&name, CONNECT_WAIT).await?;
            println!("connected {name}");
            Ok(())
        }
    }
}
