//! Plans that decide and repeat, and replays, through the real CLI on a real data
//! folder, against an HTTP peer on 127.0.0.1 that records every call.

use crate::cli::cli;
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

fn write(dir: &Path, name: &str, plan: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(plan).expect("a plan serialises")).expect("write the plan");
    path.to_string_lossy().to_string()
}

async fn run_cli(dir: &Path, args: &[&str]) -> Output {
    let dir: PathBuf = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&dir, &args)
    })
    .await
    .expect("the CLI thread")
}

fn json_out(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_false_condition_sends_nothing() {
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let plan = json!({"name": "Only on outage", "steps": [
        {"id": "summary", "provider": "logic", "action": "set", "params": {"value": "all systems operational"}},
        {"provider": "webhook", "action": "post_request",
         "when": {"left": "${steps.summary.output}", "op": "contains", "right": "outage"},
         "params": {"url": target.url("/echo"), "payload": {"text": "${steps.summary.output}"}}}
    ]});
    let file = write(data.path(), "plan.json", &plan);
    let out = run_cli(data.path(), &["run", &file, "--json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record = json_out(&out);
    assert_eq!(record["steps"][1]["status"], "skipped");
    assert_eq!(
        record["steps"][1]["metadata"]["condition"][0],
        json!({"left": "all systems operational", "op": "contains", "right": "outage", "holds": false})
    );
    assert!(target.requests().is_empty(), "the webhook must not be called");
}

#[tokio::test(flavor = "multi_thread")]
async fn for_each_over_three_items_sends_three_requests_with_their_bodies() {
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let plan = json!({"name": "Each item", "steps": [
        {"id": "fetch", "provider": "http", "action": "request", "params": {"url": target.url("/json")}},
        {"id": "post", "provider": "http", "action": "request",
         "for_each": "${steps.fetch.output.items}",
         "params": {"method": "POST", "url": target.url("/echo"), "body": {"n": "${item}", "i": "${item_index}"}}}
    ]});
    let file = write(data.path(), "plan.json", &plan);
    let out = run_cli(data.path(), &["run", &file, "--json"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let posts = target.requests_to("/echo");
    let mut bodies: Vec<Value> = posts.iter().map(|r| r.json()).collect();
    bodies.sort_by_key(|b| b["i"].as_u64());
    assert_eq!(
        bodies,
        vec![
            json!({"n": 1, "i": 0}),
            json!({"n": 2, "i": 1}),
            json!({"n": 3, "i": 2})
        ]
    );
    let record = json_out(&out);
    let step = &record["steps"][1];
    assert_eq!(step["output"].as_array().unwrap().len(), 3);
    assert_eq!(step["metadata"]["succeeded"], 3);
    assert_eq!(step["items"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_from_step_three_calls_neither_step_one_nor_two_again() {
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let plan = json!({"name": "Flaky third", "steps": [
        {"id": "fetch", "provider": "http", "action": "request", "params": {"url": target.url("/json")}},
        {"id": "notify", "provider": "http", "action": "request",
         "params": {"method": "POST", "url": target.url("/echo"), "body": {"m": "${steps.fetch.output.message}"}}},
        {"id": "flaky", "provider": "http", "action": "request", "retry": 1,
         "params": {"method": "POST", "url": target.url("/flaky/third?fail=1"), "body": {"m": "${steps.fetch.output.message}"}}},
        {"provider": "logic", "action": "set", "params": {"value": "${steps.flaky.output.attempt}"}}
    ]});
    let file = write(data.path(), "plan.json", &plan);
    let imported = run_cli(data.path(), &["plans", "import", &file, "--json"]).await;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );

    let first = run_cli(data.path(), &["run", "Flaky third", "--json"]).await;
    assert!(!first.status.success(), "the third step fails the first time");
    let first = json_out(&first);
    assert_eq!(first["status"], "failed");
    let run_id = first["run_id"].as_str().unwrap().to_string();

    let replay = run_cli(data.path(), &["runs", "replay", &run_id, "--from-step", "3", "--json"]).await;
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replayed = json_out(&replay);
    assert_eq!(replayed["status"], "success");
    assert_eq!(replayed["steps"][3]["output"], 2, "the peer answered its second call");
    assert_eq!(replayed["steps"][0]["metadata"]["reused_from_run"], json!(run_id));

    // Steps 1 and 2 were taken over, not sent again.
    assert_eq!(target.requests_to("/json").len(), 1);
    assert_eq!(target.requests_to("/echo").len(), 1);
    assert_eq!(target.requests_to("/flaky/third").len(), 2);

    // The new run names the one it replays, in the run list too.
    let list = json_out(&run_cli(data.path(), &["runs", "list", "--json"]).await);
    let new_run = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == replayed["run_id"])
        .unwrap()
        .clone();
    assert_eq!(new_run["replay_of"], json!(run_id));
    assert_eq!(new_run["trigger_kind"], "replay");

    // A run that succeeded is not replayed; the refusal says why.
    let again = run_cli(data.path(), &["runs", "replay", replayed["run_id"].as_str().unwrap()]).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("only a failed, interrupted or cancelled run is replayed"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
