//! The secret canary: an integration whose secrets sit in its base URL, its
//! path, a header and the query string (as its auth) is run against a server
//! that quotes every request back — in a success and in an error — and no form
//! of any secret appears in the database files, the CLI's output (its logs
//! included), the run detail, or the exports of the plan and the integration.
//! Through the facade always; through the CLI end to end when a real Secret
//! Service runs (FLOWPILOT_REQUIRE_KEYCHAIN makes its absence a failure).

use super::secrets_echo::echoed_forms;
use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::Sensitive;
use flowpilot_tests::Peer;
use flowpilot_tests::cli::Cli;
use serde_json::{Value, json};
use std::path::Path;

const SECRETS: [(&str, &str); 4] = [
    ("tenant", "acme+tenant=7Kq"),
    ("path_token", "pt-S3cr3t+x=y9Z"),
    ("header_token", "ht/S3cr3t+z==Q4"),
    ("query_key", "qk S3cr3t&+/=W1"),
];

/// Quotes the request back: 200 for `…/ok`, 401 (as an error message) otherwise.
async fn quote(request: Request) -> axum::response::Response {
    let (parts, _) = request.into_parts();
    let headers: Vec<String> = parts
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let echo = json!({"uri": parts.uri.to_string(), "headers": headers});
    if parts.uri.path().ends_with("/ok") {
        axum::Json(json!({"echo": echo})).into_response()
    } else {
        let message = format!("denied for {echo}");
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": message}})),
        )
            .into_response()
    }
}

fn definition(name: &str, server: &Peer) -> Value {
    let secrets: serde_json::Map<String, Value> = SECRETS
        .iter()
        .map(|(k, _)| (k.to_string(), json!({"label": k})))
        .collect();
    json!({
        "name": name, "title": "Canary", "format_version": 1,
        "base_url": format!("{}/t/${{secret.tenant}}", server.base_url()),
        "auth": {"type": "api_key", "in": "query", "name": "key", "secret": "query_key"},
        "secrets": secrets,
        "headers": {"X-Token": "Token ${secret.header_token}"},
        "actions": {
            "ok": {"title": "Ok", "method": "POST", "path": "/p/${secret.path_token}/ok",
                   "params": {"type": "object", "properties": {"n": {"type": "integer"}}}, "body": {"n": "${params.n}"}, "example": {"n": 1}},
            "refused": {"title": "Refused", "method": "GET", "path": "/p/${secret.path_token}/refused",
                        "params": {"type": "object", "properties": {}}, "example": {}}
        }
    })
}

fn plan(name: &str) -> Value {
    json!({"name": "Canary run", "steps": [
        {"provider": name, "action": "ok", "params": {"n": 1}},
        {"provider": name, "action": "refused", "params": {}, "retry": 1}
    ]})
}

fn assert_clean(what: &str, text: &str) {
    for (name, secret) in SECRETS {
        for form in echoed_forms(secret) {
            assert!(!text.contains(&form), "{what} holds the secret `{name}` as `{form}`");
        }
    }
}

fn database_text(dir: &Path) -> String {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the data folder").flatten() {
        if entry.file_name().to_string_lossy().starts_with("flowpilot.db") {
            all.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// What the CLI shows of a finished run and what it exports.
fn cli_views(cli: &Cli, run_id: &str, integration: &str) -> Vec<(String, String)> {
    let dir = cli.data_dir().to_path_buf();
    let out = |args: &[&str]| cli.run(args).all();
    let plan_file = dir.join("exported-plan.json");
    let int_file = dir.join("exported-integration.json");
    let _ = cli.run(&["plans", "export", "Canary run", "--out", &plan_file.to_string_lossy()]);
    let _ = cli.run(&[
        "integrations",
        "export",
        integration,
        "--out",
        &int_file.to_string_lossy(),
    ]);
    vec![
        ("logs --json".into(), out(&["logs", run_id, "--json"])),
        ("logs".into(), out(&["logs", run_id])),
        ("runs list".into(), out(&["runs", "list", "--json"])),
        ("integrations show".into(), out(&["integrations", "show", integration])),
        ("integrations list".into(), out(&["integrations", "list", "--json"])),
        (
            "the exported plan".into(),
            std::fs::read_to_string(plan_file).unwrap_or_default(),
        ),
        (
            "the exported integration".into(),
            std::fs::read_to_string(int_file).unwrap_or_default(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_of_an_integration_is_kept_printed_or_exported() {
    let server = Peer::start(|_| Router::new().fallback(quote)).await;
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
        clock: None,
    })
    .unwrap();
    app.save_integration(definition("canary", &server)).unwrap();
    for (field, value) in SECRETS {
        app.set_credential("canary", field, Sensitive::new(value.into()))
            .unwrap();
    }
    let row = app
        .import_plan(&plan("canary").to_string(), flowpilot_core::api::Activation::Activate)
        .unwrap();
    let target = app.resolve_stored(&row.id).unwrap();
    let outcome = app
        .run_plan(
            target,
            "cli",
            std::sync::Arc::new(flowpilot_engine::run::NoObserver),
            None,
            Default::default(),
        )
        .await
        .unwrap();
    // The server did see every secret (or the test would prove nothing).
    let seen = format!("{:?}", server.requests());
    assert!(seen.contains("pt-S3cr3t") && seen.contains("ht/S3cr3t"), "{seen}");
    assert_eq!(
        outcome.steps[0].status,
        flowpilot_engine::StepStatus::Success,
        "{:#?}",
        outcome.steps[0]
    );
    assert_eq!(outcome.steps[1].error, Some(flowpilot_engine::ErrorCode::Http(401)));
    assert_clean("the run outcome", &serde_json::to_string(&outcome).unwrap());
    assert_clean(
        "the run detail",
        &serde_json::to_string(&app.run_detail(&outcome.run_id).unwrap()).unwrap(),
    );
    app.checkpoint().unwrap();
    assert_clean("the database files", &database_text(dir.path()));
    let cli = Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), dir.path());
    let run_id = outcome.run_id.clone();
    let views = tokio::task::spawn_blocking(move || cli_views(&cli, &run_id, "canary"))
        .await
        .unwrap();
    for (what, text) in views {
        assert!(!text.is_empty(), "{what} printed nothing");
        assert_clean(&what, &text);
    }
}

/// The same through the CLI alone, with the secrets in the real Secret Service.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_leaks_through_the_cli_with_the_real_keychain() {
    if let Err(e) = Keychain::os().status() {
        assert!(
            std::env::var_os("FLOWPILOT_REQUIRE_KEYCHAIN").is_none(),
            "FLOWPILOT_REQUIRE_KEYCHAIN is set but the keychain is unavailable: {e}"
        );
        eprintln!("skipping: no Secret Service ({e}); run scripts/test.sh");
        return;
    }
    let server = Peer::start(|_| Router::new().fallback(quote)).await;
    let name = format!("canary_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let def_file = dir.path().join("canary.json");
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&def_file, definition(&name, &server).to_string()).unwrap();
    std::fs::write(&plan_file, plan(&name).to_string()).unwrap();
    let cli = Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), &dir.path().join("data"));
    let name2 = name.clone();
    let (printed, run_id) = tokio::task::spawn_blocking(move || {
        let mut printed = Vec::new();
        let mut keep = |what: &str, out: flowpilot_tests::cli::Printed| {
            printed.push((what.to_string(), out.all()));
            out
        };
        assert!(
            keep(
                "import",
                cli.run(&["integrations", "import", &def_file.to_string_lossy()])
            )
            .success()
        );
        for (field, value) in SECRETS {
            let set = keep(
                "credentials set",
                cli.run_with_stdin(&["credentials", "set", &name2, field], value),
            );
            assert!(set.success(), "{}", set.all());
        }
        assert!(
            keep(
                "plans import",
                cli.run(&["plans", "import", &plan_file.to_string_lossy()])
            )
            .success()
        );
        let run = keep("run --json", cli.run(&["run", "Canary run", "--json"]));
        let run_id = run.json()["run_id"].as_str().unwrap().to_string();
        printed.extend(cli_views(&cli, &run_id, &name2));
        for (field, _) in SECRETS {
            let _ = cli.run(&["credentials", "delete", &name2, field]);
        }
        (printed, run_id)
    })
    .await
    .unwrap();
    assert!(!run_id.is_empty());
    for (what, text) in printed {
        assert_clean(&what, &text);
    }
    assert_clean("the database files", &database_text(&dir.path().join("data")));
}
