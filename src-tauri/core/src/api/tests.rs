//! The facade on a real SQLite file: replays and their refusals.

use super::*;
use flowpilot_engine::RunStatus;
use flowpilot_engine::plan::PlanFile;
use flowpilot_engine::run::{NoObserver, REUSED_FROM_RUN};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn app() -> (tempfile::TempDir, Flowpilot) {
    let dir = tempfile::tempdir().unwrap();
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Keychain::unavailable("not needed")),
        clock: None,
    })
    .unwrap();
    (dir, app)
}

/// Step 1 sets a value, step 2 asserts it is `want`, step 3 uses step 1.
fn plan(want: i64) -> PlanFile {
    serde_json::from_value(json!({"name": "Replayable", "steps": [
        {"id": "first", "provider": "logic", "action": "set", "params": {"value": 41}},
        {"provider": "logic", "action": "assert", "params": {"left": "${steps.first.output}", "op": "eq", "right": want}},
        {"provider": "logic", "action": "set", "params": {"value": "${steps.first.output}"}}
    ]}))
    .unwrap()
}

async fn run(app: &Flowpilot, plan_id: &str) -> RunOutcome {
    let target = app.resolve_stored(plan_id).unwrap();
    app.run_plan(target, "manual", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap()
}

use flowpilot_engine::RunOutcome;

#[tokio::test]
async fn a_replay_takes_over_earlier_steps_and_runs_the_fixed_one() {
    let (_dir, app) = app();
    let row = app.create_plan(plan(42)).unwrap();
    let failed = run(&app, &row.id).await;
    assert_eq!(failed.status, RunStatus::Failed);

    // Nothing changed before step 2: step 2 is fixed and replayed.
    app.save_plan(&row.id, plan(41)).unwrap();
    let prepared = app.prepare_replay(&failed.run_id, None, false).unwrap();
    assert_eq!(prepared.spec.replay.as_ref().unwrap().from_step, 1);
    let replayed = app
        .execute(prepared, Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(replayed.status, RunStatus::Success, "{replayed:#?}");
    assert_eq!(replayed.steps[0].metadata[REUSED_FROM_RUN], json!(failed.run_id));
    assert_eq!(replayed.steps[2].output, json!(41));

    // Linked both ways.
    let detail = app.run_detail(&replayed.run_id).unwrap();
    assert_eq!(detail.run.replay_of.as_deref(), Some(failed.run_id.as_str()));
    assert_eq!(detail.run.trigger_kind, "replay");
    let original = app.run_detail(&failed.run_id).unwrap();
    assert_eq!(original.replays.len(), 1);
    assert_eq!(original.replays[0].id, replayed.run_id);
}

#[tokio::test]
async fn replays_are_refused_with_a_reason() {
    let (_dir, app) = app();
    let row = app.create_plan(plan(42)).unwrap();
    let failed = run(&app, &row.id).await;

    // A run that succeeded is not replayed.
    app.save_plan(&row.id, plan(41)).unwrap();
    let ok = run(&app, &row.id).await;
    assert!(matches!(
        app.prepare_replay(&ok.run_id, None, false),
        Err(ApiError::Replay(ReplayRefusal::NotFinishedBadly { .. }))
    ));
    // No step 9.
    assert!(matches!(
        app.prepare_replay(&failed.run_id, Some(9), false),
        Err(ApiError::Replay(ReplayRefusal::NoSuchStep { step: 9, steps: 3 }))
    ));

    // Step 1 changed since: refused, naming it, unless forced.
    let mut changed = plan(41);
    changed.steps[0].params = json!({"value": 7});
    app.save_plan(&row.id, changed).unwrap();
    match app.prepare_replay(&failed.run_id, Some(2), false) {
        Err(ApiError::Replay(ReplayRefusal::PlanChanged { from: 2, step: 1, what })) => {
            assert_eq!(what, "has other params")
        }
        other => panic!("expected PlanChanged, got {:?}", other.map(|p| p.run_id.clone())),
    }
    let forced = app.prepare_replay(&failed.run_id, Some(2), true).unwrap();
    assert_eq!(forced.spec.replay.as_ref().unwrap().reuse, vec![None]);
    drop(forced);

    // A plan file run has no stored plan to replay.
    let file = app.check_plan(&serde_json::to_string(&plan(42)).unwrap()).unwrap();
    let from_file = app
        .run_plan(
            ResolvedPlan {
                plan_id: None,
                version: None,
                plan: file,
            },
            "cli",
            Arc::new(NoObserver),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(matches!(
        app.prepare_replay(&from_file.run_id, None, false),
        Err(ApiError::Replay(ReplayRefusal::NotOfStoredPlan(_)))
    ));
    assert_eq!(
        ApiError::from(ReplayRefusal::NotOfStoredPlan("x".into())).code(),
        ErrorCode::Refused
    );
}

#[tokio::test]
async fn an_output_cut_at_the_cap_cannot_be_taken_over() {
    let (_dir, app) = app();
    let row = app.create_plan(plan(42)).unwrap();
    let failed = run(&app, &row.id).await;
    // Cut step 1's stored output as the cap does.
    {
        let conn = app.store.lock();
        conn.execute(
            "UPDATE step_logs SET output = ?1
             WHERE run = (SELECT seq FROM runs WHERE id = ?2) AND step_number = 0",
            rusqlite::params![
                serde_json::to_string(&json!("xxxx…[truncated: output was 20000000 bytes]")).unwrap(),
                failed.run_id
            ],
        )
        .unwrap();
    }
    assert!(matches!(
        app.prepare_replay(&failed.run_id, None, false),
        Err(ApiError::Replay(ReplayRefusal::OutputNotStored { step: 1, .. }))
    ));
    // From step 1 itself, nothing needs taking over.
    assert!(app.prepare_replay(&failed.run_id, Some(1), false).is_ok());
}

#[test]
fn a_file_imported_as_a_copy_sits_beside_the_plan_of_its_name_and_is_off() {
    let (_dir, app) = app();
    let mut file = plan(41);
    file.status = flowpilot_engine::plan::PlanStatus::Active;
    let original = app.create_plan(file.clone()).unwrap();
    let text = serde_json::to_string(&file).unwrap();

    let copy = app.import_plan_copy(&text).unwrap();
    assert_eq!(copy.plan.name, "Replayable (copy)");
    assert_eq!(copy.plan.status, flowpilot_engine::plan::PlanStatus::Draft);
    assert_eq!(copy.plan.steps, file.steps);
    let second = app.import_plan_copy(&text).unwrap();
    assert_eq!(second.plan.name, "Replayable (copy 2)");
    // The original is untouched: no new version.
    assert_eq!(app.stored_plan(&original.id).unwrap(), original);
    // A name no plan has is kept as it is.
    let mut fresh = file.clone();
    fresh.name = "Brand new".into();
    let row = app.import_plan_copy(&serde_json::to_string(&fresh).unwrap()).unwrap();
    assert_eq!(row.plan.name, "Brand new");
    // An invalid file is refused with its problems.
    assert!(matches!(
        app.import_plan_copy("{\"name\": \"x\"}"),
        Err(ApiError::InvalidPlan(_))
    ));
}

#[test]
fn the_first_window_close_is_told_once_across_restarts_and_keep_running_defaults_on() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Flowpilot::open(Options {
            data_dir: Some(dir.path().to_path_buf()),
            keychain: Some(Keychain::unavailable("not needed")),
            clock: None,
        })
        .unwrap()
    };
    let app = open();
    assert!(app.settings().unwrap().keep_running_when_closed);
    // Settings written before the choice existed keep running too.
    app.store
        .set_setting(crate::settings::SETTINGS_KEY, &json!({"notifications": false}))
        .unwrap();
    let old = app.settings().unwrap();
    assert!(old.keep_running_when_closed && !old.notifications);
    let mut off = old.clone();
    off.keep_running_when_closed = false;
    app.set_settings(&off).unwrap();
    assert!(!app.settings().unwrap().keep_running_when_closed);

    assert!(app.first_window_close().unwrap());
    assert!(!app.first_window_close().unwrap());
    drop(app);
    assert!(!open().first_window_close().unwrap(), "told again after a restart");
}
