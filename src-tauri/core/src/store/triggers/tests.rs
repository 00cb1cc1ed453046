use super::*;
use crate::store::test_support::*;
use serde_json::json;

fn event(run_id: &str, n: i64) -> NewEvent {
    NewEvent {
        run_id: run_id.into(),
        kind: "feed".into(),
        event: json!({"item": {"n": n}}),
        received_at: t(n),
    }
}

#[test]
fn a_check_moves_its_cursor_with_its_events_and_an_event_becomes_one_run() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("Feed"), t(0)).unwrap();
    let mut state = TriggerState::new(&plan.id, "feed https://x", t(1));
    state.cursor = Some(json!({"etag": "\"a\""}));
    store
        .commit_check(&CheckCommit {
            state: state.clone(),
            seen: vec!["a".into(), "b".into()],
            forget_seen: false,
            events: vec![event("r1", 1), event("r2", 2)],
        })
        .unwrap();
    assert_eq!(store.trigger_state(&plan.id).unwrap(), Some(state));
    assert_eq!(
        store.seen_keys(&plan.id, &["a".into(), "c".into()]).unwrap(),
        vec![true, false]
    );
    let queued = store.queued_events(10).unwrap();
    assert_eq!(
        queued.iter().map(|e| e.run_id.as_str()).collect::<Vec<_>>(),
        ["r1", "r2"]
    );

    let run = NewRun {
        trigger_kind: "feed".into(),
        ..new_run("r1", Some(&plan.id), t(3))
    };
    assert_eq!(store.start_event_run(&run).unwrap(), json!({"item": {"n": 1}}));
    assert_eq!(store.run_trigger_event("r1").unwrap(), Some(json!({"item": {"n": 1}})));
    assert!(matches!(
        store.start_event_run(&run),
        Err(StoreError::NotFound {
            what: "queued event",
            ..
        })
    ));
    assert_eq!(store.queued_count(&plan.id).unwrap(), 1);
    assert!(store.drop_event("r2").unwrap());
    assert!(store.queued_events(10).unwrap().is_empty());
}

/// SQLite writes a row whole when it changes size, and every step changes
/// its run's row (the step in flight): the event must not be in it.
#[test]
fn a_steps_writes_do_not_write_its_runs_event_again() {
    let (dir, store) = temp_store();
    let big = json!({"body": "x".repeat(256 * 1024)});
    store
        .create_run_with_event(&new_run("r1", None, t(0)), Some(&big))
        .unwrap();
    let wal = dir.path().join("flowpilot.db-wal");
    let before = std::fs::metadata(&wal).unwrap().len();
    for n in 0..10 {
        let started = crate::store::InFlightStep {
            step_number: n,
            provider: "logic".into(),
            action: "set".into(),
            attempt: 1,
            started_at: t(1),
        };
        store.mark_step_started("r1", &started).unwrap();
        store
            .append_step(&step("r1", n, "logic", flowpilot_engine::StepStatus::Success, 1, t(2)))
            .unwrap();
    }
    let grown = std::fs::metadata(&wal).unwrap().len().saturating_sub(before);
    // 20 commits of a few pages each; the event's 256 KiB once would be more.
    assert!(grown < 256 * 1024, "the WAL grew by {grown} bytes for 10 small steps");
    assert_eq!(store.run_trigger_event("r1").unwrap(), Some(big));
}

#[test]
fn a_failed_check_commit_leaves_nothing_behind() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("Feed"), t(0)).unwrap();
    store
        .lock()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse_event BEFORE INSERT ON trigger_events WHEN NEW.run_id = 'doomed'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let err = store
        .commit_check(&CheckCommit {
            state: TriggerState::new(&plan.id, "s", t(1)),
            seen: vec!["a".into()],
            forget_seen: false,
            events: vec![event("ok", 1), event("doomed", 2)],
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert_eq!(store.trigger_state(&plan.id).unwrap(), None, "the cursor did not move");
    assert_eq!(store.seen_keys(&plan.id, &["a".into()]).unwrap(), vec![false]);
    assert!(store.queued_events(10).unwrap().is_empty());
}

#[test]
fn a_delivery_seen_before_is_a_duplicate_and_tokens_are_per_plan() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("Hook"), t(0)).unwrap();
    let first = NewEvent {
        kind: "webhook".into(),
        ..event("r1", 1)
    };
    assert_eq!(
        store.queue_delivery(&plan.id, Some("gh-1"), &first).unwrap(),
        Queued::New("r1".into())
    );
    let again = NewEvent {
        kind: "webhook".into(),
        ..event("r2", 2)
    };
    assert_eq!(
        store.queue_delivery(&plan.id, Some("gh-1"), &again).unwrap(),
        Queued::Duplicate(Some("r1".into()))
    );
    assert_eq!(store.queued_count(&plan.id).unwrap(), 1);
    assert_eq!(
        store.queue_delivery(&plan.id, None, &again).unwrap(),
        Queued::New("r2".into())
    );

    let token = store.webhook_token(&plan.id, || "tok-1".into(), t(3)).unwrap();
    assert_eq!(token, "tok-1");
    assert_eq!(store.webhook_token(&plan.id, || "other".into(), t(4)).unwrap(), "tok-1");
    assert_eq!(store.plan_for_webhook_token("tok-1").unwrap(), Some(plan.id.clone()));
    store.replace_webhook_token(&plan.id, "tok-2", t(5)).unwrap();
    assert_eq!(store.plan_for_webhook_token("tok-1").unwrap(), None);
    assert_eq!(store.plan_for_webhook_token("tok-2").unwrap(), Some(plan.id.clone()));
    store.delete_plan(&plan.id).unwrap();
    assert_eq!(store.plan_for_webhook_token("tok-2").unwrap(), None);
    assert!(store.queued_events(10).unwrap().is_empty());
}

#[test]
fn seen_ids_are_bounded() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("Many"), t(0)).unwrap();
    let keys: Vec<String> = (0..SEEN_LIMIT + 10).map(|i| format!("k{i}")).collect();
    let mut state = TriggerState::new(&plan.id, "s", t(1));
    store
        .commit_check(&CheckCommit {
            state: state.clone(),
            seen: keys[..10].to_vec(),
            forget_seen: false,
            events: vec![],
        })
        .unwrap();
    state.updated_at = t(2);
    store
        .commit_check(&CheckCommit {
            state,
            seen: keys[10..].to_vec(),
            forget_seen: false,
            events: vec![],
        })
        .unwrap();
    let seen = store
        .seen_keys(&plan.id, &[keys[0].clone(), keys[SEEN_LIMIT + 9].clone()])
        .unwrap();
    assert_eq!(seen, vec![false, true], "the oldest are forgotten first");
}
