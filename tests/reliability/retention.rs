//! Retention by the settings: `flowpilot-cli prune` deletes what the settings no
//! longer keep (not built-in defaults), never a running run, keeps each plan's
//! latest failed run whole so it can still be replayed, and gives the space back.

use crate::util::{Timed, cli, json_out, stderr};
use chrono::{Duration, Utc};
use flowpilot_core::api::{Activation, Flowpilot, Options, RunSpec};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::settings::Settings;
use flowpilot_core::store::{Page, RunFilter};
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{Clock, ManualClock, RunStatus};
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread")]
async fn prune_keeps_what_the_settings_say_and_the_latest_failure_for_its_replay() {
    let _t = Timed::start("retention by the settings");
    let data = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now() - Duration::days(50)));
    let app = Flowpilot::open(Options {
        data_dir: Some(data.path().to_path_buf()),
        keychain: Some(Keychain::unavailable("not needed")),
        clock: Some(clock.clone()),
    })
    .unwrap();
    // A year, but at most 10 runs (the audit's settings).
    app.set_settings(&Settings {
        retention_days: 365,
        retention_max_runs: 10,
        ..Settings::default()
    })
    .unwrap();
    // Succeeds when run by hand, fails at its second step from the command line.
    let plan = json!({"name": "Picky", "steps": [
        {"provider": "logic", "action": "set", "params": {"value": "x".repeat(20_000)}},
        {"provider": "logic", "action": "assert", "params": {"left": "${trigger.type}", "op": "eq", "right": "manual"}}
    ]});
    let id = app.import_plan(&plan.to_string(), Activation::Review).unwrap().id;
    let run = |kind: &'static str| {
        let target = app.resolve_stored(&id).unwrap();
        app.run_plan(target, kind, Arc::new(NoObserver), None, CancellationToken::new())
    };
    // 50 days ago: the failure; 40 days ago: 30 successes; then one still running.
    let failed = run("cli").await.unwrap();
    assert_eq!(failed.status, RunStatus::Failed);
    clock.advance(Duration::days(10));
    for _ in 0..30 {
        assert_eq!(run("manual").await.unwrap().status, RunStatus::Success);
        clock.advance(Duration::minutes(1));
    }
    let running = app
        .prepare_run(RunSpec::new(app.resolve_stored(&id).unwrap(), "manual"))
        .unwrap();
    app.checkpoint().unwrap();
    let size_before = std::fs::metadata(data.path().join("flowpilot.db")).unwrap().len();

    let out = tokio::task::spawn_blocking({
        let dir = data.path().to_path_buf();
        move || cli(&dir, &["prune", "--json"])
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json_out(&out);
    assert_eq!(report["runs_deleted"], 20, "{report}");
    assert!(report["bytes_freed"].as_u64().unwrap() > 0, "{report}");
    let size_after = std::fs::metadata(data.path().join("flowpilot.db")).unwrap().len();
    assert!(size_after < size_before, "{size_before} -> {size_after} bytes");

    let (rows, total) = app
        .list_runs(&RunFilter::default(), Page { limit: 100, offset: 0 })
        .unwrap();
    assert_eq!(total, 12, "the newest 10, the latest failure, the running run");
    assert!(rows.iter().any(|r| r.id == failed.run_id));
    assert!(
        rows.iter()
            .any(|r| r.id == running.run_id && r.status == RunStatus::Running)
    );
    assert!(
        rows.iter()
            .all(|r| r.started_at > clock.now() - Duration::days(45) || r.id == failed.run_id),
        "40-day-old runs are within a year: the newest ten of them are kept"
    );
    // The failure can still be replayed from its failed step: step 1's output is whole.
    let replay = app.prepare_replay(&failed.run_id, None, false).unwrap();
    assert_eq!(replay.spec.replay.as_ref().map(|r| r.from_step), Some(1));
    drop(running);
}
