//! `draft`: ask a model for a plan, show it, write it only when it validates.

use super::{clip, print_json};
use crate::api::{ApiError, Flowpilot};
use crate::draft::{Draft, DraftRequest};
use flowpilot_engine::Plan;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// `draft`: ask, show the draft on stderr, write it only when it validates.
pub(super) async fn draft(
    app: &Flowpilot,
    request: DraftRequest,
    out: Option<PathBuf>,
    json: bool,
) -> Result<ExitCode, ApiError> {
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
    let plan = Plan::from_value(draft.plan.clone(), &app.registry())?;
    let text = serde_json::to_string_pretty(&plan.to_export_json()).map_err(|e| ApiError::Internal(e.to_string()))?;
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
