//! The headless CLI as a person uses it: the real binary, a real data folder,
//! real HTTP peers on 127.0.0.1.

use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `flowpilot-cli` (built by this package) on a data folder.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(args)
        .env("FLOWPILOT_DATA_DIR", data_dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run flowpilot-cli")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn write_plan(dir: &Path, name: &str, plan: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(plan).expect("a plan serialises")).expect("write the plan file");
    path.to_string_lossy().to_string()
}

/// The example plan fetch → extract → webhook, pointed at the local target.
fn fetch_extract_post(target: &Target) -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/fetch-extract-post.json"))
        .expect("read the example plan");
    let mut plan: Value = serde_json::from_str(&text).expect("the example plan is JSON");
    plan["steps"][0]["params"]["url"] = json!(target.url("/json"));
    plan["steps"][1]["params"]["path"] = json!("$.message");
    plan["steps"][2]["params"]["url"] = json!(target.url("/echo"));
    plan
}

#[tokio::test(flavor = "multi_thread")]
async fn run_a_plan_file_with_progress_and_a_json_record() {
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let file = write_plan(data.path(), "plan.json", &fetch_extract_post(&target));

    let out = tokio::task::spawn_blocking({
        let dir = data.path().to_path_buf();
        move || cli(&dir, &["run", &file, "--json"])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    // Live progress went to stderr, the record to stdout.
    let progress = stderr(&out);
    assert!(
        progress.contains("[1/3] http.request") && progress.contains("✔ success"),
        "{progress}"
    );
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(record["status"], "success");
    let steps = record["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    assert!(
        steps
            .iter()
            .all(|s| s["status"] == "success" && s["latency_ms"].is_u64())
    );

    // The webhook got the extracted value, resolved in its payload.
    let posted = target.requests_to("/echo");
    assert_eq!(posted.len(), 1);
    let body = posted[0].json();
    assert_eq!(body["release"], flowpilot_tests::target::sample_json()["message"]);
    assert_eq!(body["text"], "Newest release: hello");
    assert_eq!(body["plan"], "Latest release to a webhook");

    // The run and its logs are in the database, for `runs list` and `logs`.
    let dir = data.path().to_path_buf();
    let run_id = record["run_id"].as_str().unwrap().to_string();
    let (runs, logs) = tokio::task::spawn_blocking(move || {
        (
            cli(&dir, &["runs", "list", "--json"]),
            cli(&dir, &["logs", &run_id, "--json"]),
        )
    })
    .await
    .unwrap();
    let runs: Value = serde_json::from_str(&stdout(&runs)).unwrap();
    assert_eq!(runs["total"], 1);
    assert_eq!(runs["runs"][0]["trigger_kind"], "cli");
    let logs: Value = serde_json::from_str(&stdout(&logs)).unwrap();
    assert_eq!(logs["logs"].as_array().unwrap().len(), 3);
    assert_eq!(logs["logs"][2]["provider"], "webhook");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_run_exits_non_zero_and_says_why() {
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let plan = json!({"name": "Broken fetch", "steps": [
        {"provider": "http", "action": "request", "params": {"url": target.url("/status/404")}}
    ]});
    let file = write_plan(data.path(), "broken.json", &plan);
    let dir = data.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || cli(&dir, &["run", &file]))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("✘ failed"), "{}", stderr(&out));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

/// `flowpilot-cli run --json | head`: the record is more than a pipe holds
/// (64 KiB), so whether the reader has gone before the first write or goes
/// while the CLI waits on a full pipe, its write fails: said, not a panic, and
/// the run is still recorded.
#[test]
fn a_closed_stdout_is_an_error_not_a_panic() {
    let data = tempfile::tempdir().unwrap();
    let big = "x".repeat(200 * 1024);
    let plan = json!({"name": "Big record", "steps": [
        {"provider": "logic", "action": "set", "params": {"value": big}}
    ]});
    let file = write_plan(data.path(), "big.json", &plan);
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["run", &file, "--json"])
        .env("FLOWPILOT_DATA_DIR", data.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flowpilot-cli");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for flowpilot-cli");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("printing the result: Broken pipe"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let runs: Value = serde_json::from_str(&stdout(&cli(data.path(), &["runs", "list", "--json"]))).unwrap();
    assert_eq!(runs["runs"][0]["status"], "success", "{runs:#}");
}

#[test]
fn check_lists_every_problem_with_its_location() {
    let data = tempfile::tempdir().unwrap();
    let bad = write_plan(
        data.path(),
        "bad.json",
        &json!({"name": "Bad", "steps": [
            {"provider": "http", "action": "request", "params": {"url": "${steps.1.output}"}},
            {"provider": "nope", "action": "x"}
        ]}),
    );
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/newsletter.json");
    let out = cli(data.path(), &["check", good, &bad]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("✔") && text.contains("Email Newsletter"), "{text}");
    assert!(
        text.contains("steps[0].params.url: ${steps.1.output}: steps[1] runs after this step"),
        "{text}"
    );
    assert!(text.contains("steps[1].provider: unknown provider `nope`"), "{text}");

    let out = cli(data.path(), &["check", &bad, "--json"]);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["issues"][0]["path"], "steps[0].params.url");

    let out = cli(data.path(), &["check", "/nonexistent/plan.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("cannot read the file"));
}

#[test]
fn import_list_export_and_run_by_name() {
    let data = tempfile::tempdir().unwrap();
    let summary = concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/local-summary.json");
    let newsletter = concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/newsletter.json");
    let out = cli(data.path(), &["plans", "import", summary, newsletter, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The same file again changes nothing; an edited one becomes version 2.
    let again: Value =
        serde_json::from_str(&stdout(&cli(data.path(), &["plans", "import", newsletter, "--json"]))).unwrap();
    assert_eq!(again[0]["version"], 1);
    let mut edited: Value = serde_json::from_str(&std::fs::read_to_string(newsletter).unwrap()).unwrap();
    edited["description"] = json!("Weekly, to subscribers");
    let edited = write_plan(data.path(), "edited.json", &edited);
    let again: Value =
        serde_json::from_str(&stdout(&cli(data.path(), &["plans", "import", &edited, "--json"]))).unwrap();
    assert_eq!(again[0]["version"], 2);

    let list: Value = serde_json::from_str(&stdout(&cli(data.path(), &["plans", "list", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let out_file = data.path().join("exported.json");
    let out = cli(
        data.path(),
        &[
            "plans",
            "export",
            "Email Newsletter",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(exported["required_providers"], json!(["openai", "webhook"]));
    assert_eq!(exported["steps"][1]["params"]["payload"]["body"], "${steps.0.output}");

    // A stored plan runs by name; this one needs an API key that is not set.
    let out = cli(data.path(), &["run", "Email Newsletter"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("flowpilot-cli credentials set openai api_key") || err.contains("keychain"),
        "{err}"
    );
}

#[test]
fn providers_and_unknown_things_are_clear() {
    let data = tempfile::tempdir().unwrap();
    let list: Value = serde_json::from_str(&stdout(&cli(data.path(), &["providers", "--json"]))).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "http",
        "webhook",
        "logic",
        "openai",
        "groq",
        "openai_compatible",
        "delay",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let out = cli(data.path(), &["run", "no such plan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no plan `no such plan`"), "{}", stderr(&out));
    let out = cli(data.path(), &["logs", "missing-run"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn credentials_are_read_from_stdin_and_never_printed() {
    if flowpilot_core::secrets::Keychain::os().status().is_err() {
        assert!(
            std::env::var_os("FLOWPILOT_REQUIRE_KEYCHAIN").is_none(),
            "keychain required but unavailable"
        );
        eprintln!("skipping: no Secret Service; run scripts/test.sh");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let field = format!("cli_key_{}", std::process::id());
    let secret = "sk-from-stdin-9f8e7d";
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["credentials", "set", "groq", &field])
        .env("FLOWPILOT_DATA_DIR", data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = cli(data.path(), &["credentials", "list", "--json"]);
    let all = stdout(&out) + &stderr(&out) + &stdout(&listed) + &stderr(&listed);
    assert!(all.contains(&field));
    assert!(!all.contains(secret), "{all}");
    let out = cli(data.path(), &["credentials", "delete", "groq", &field]);
    assert!(stdout(&out).contains("deleted"));
}
