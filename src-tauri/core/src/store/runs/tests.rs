use super::*;
use crate::store::test_support::*;
use chrono::Duration;
use flowpilot_engine::StepStatus;
use serde_json::{Value, json};

#[test]
fn a_run_and_its_steps_round_trip() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("P"), t(0)).unwrap();
    let created = store.create_run(&new_run("r1", Some(&plan.id), t(10))).unwrap();
    assert_eq!(created.status, RunStatus::Running);
    assert_eq!(store.get_run("r1").unwrap(), created);

    let mut retry = step("r1", 0, "http", StepStatus::Retrying, 40, t(11));
    retry.output = Value::Null;
    let mut first = step("r1", 0, "http", StepStatus::Success, 90, t(12));
    first.attempt = 2;
    first.output = json!({"body": "x".repeat(1000), "list": [1, 2, {"deep": null}]});
    let last = step("r1", 1, "llm", StepStatus::Error, 5, t(13));
    store.append_step(&retry).unwrap();
    store.append_step(&first).unwrap();
    store
        .finish_run(&outcome("r1", RunStatus::Failed, t(10), t(14)), Some(&last))
        .unwrap();

    assert_eq!(store.step_logs("r1").unwrap(), vec![retry, first, last]);
    let run = store.get_run("r1").unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.finished_at, Some(t(14)));
    assert_eq!(run.error.as_deref(), Some("it went failed"));
    assert!(matches!(
        store.step_logs("nope"),
        Err(StoreError::NotFound { what: "run", .. })
    ));
    assert!(matches!(
        store.get_run("nope"),
        Err(StoreError::NotFound { what: "run", .. })
    ));
}

#[test]
fn finish_is_atomic_and_never_overwrites() {
    let (_dir, store) = temp_store();
    store.create_run(&new_run("r1", None, t(0))).unwrap();
    // Make the last step's insert fail, after the run's update has run.
    store
        .lock()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse_step BEFORE INSERT ON step_logs WHEN NEW.step_number = 99
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let doomed = step("r1", 99, "http", StepStatus::Success, 1, t(1));
    let err = store
        .finish_run(&outcome("r1", RunStatus::Success, t(0), t(2)), Some(&doomed))
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    let run = store.get_run("r1").unwrap();
    assert_eq!(
        run.status,
        RunStatus::Running,
        "the status must roll back with the step"
    );
    assert_eq!(run.finished_at, None);
    assert!(store.step_logs("r1").unwrap().is_empty());

    let last = step("r1", 0, "http", StepStatus::Success, 1, t(1));
    store
        .finish_run(&outcome("r1", RunStatus::Success, t(0), t(2)), Some(&last))
        .unwrap();
    assert_eq!(store.get_run("r1").unwrap().status, RunStatus::Success);

    // A second finish, and a late step, change nothing.
    let again = step("r1", 1, "http", StepStatus::Error, 1, t(3));
    let err = store
        .finish_run(&outcome("r1", RunStatus::Failed, t(0), t(4)), Some(&again))
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::RunFinished { id, status: RunStatus::Success } if id == "r1"),
        "{err:?}"
    );
    assert!(matches!(
        store.append_step(&again),
        Err(StoreError::RunFinished {
            status: RunStatus::Success,
            ..
        })
    ));
    let run = store.get_run("r1").unwrap();
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.finished_at, Some(t(2)));
    assert_eq!(run.error.as_deref(), None);
    assert_eq!(store.step_logs("r1").unwrap(), vec![last]);

    assert!(matches!(
        store.finish_run(&outcome("r1", RunStatus::Running, t(0), t(4)), None),
        Err(StoreError::NotAFinalStatus { .. })
    ));
    assert!(matches!(
        store.finish_run(&outcome("ghost", RunStatus::Success, t(0), t(4)), None),
        Err(StoreError::NotFound { what: "run", .. })
    ));
    assert!(matches!(
        store.append_step(&step("ghost", 0, "http", StepStatus::Success, 1, t(1))),
        Err(StoreError::NotFound { what: "run", .. })
    ));
    assert!(matches!(
        store.finish_run(
            &outcome("r1", RunStatus::Success, t(0), t(4)),
            Some(&step("other", 0, "http", StepStatus::Success, 1, t(1)))
        ),
        Err(StoreError::WrongRun { .. })
    ));
}

#[test]
fn a_double_fire_is_refused() {
    let (_dir, store) = temp_store();
    let plan = store.create_plan(&plan_file("Cron"), t(0)).unwrap();
    let fire = t(3600);
    let scheduled = |id: &str| NewRun {
        scheduled_for: Some(fire),
        trigger_kind: "cron".into(),
        ..new_run(id, Some(&plan.id), fire)
    };
    store.create_run(&scheduled("a")).unwrap();
    let err = store.create_run(&scheduled("b")).unwrap_err();
    assert!(
        matches!(&err, StoreError::DuplicateFire { plan_id, scheduled_for } if *plan_id == plan.id && *scheduled_for == fire),
        "{err:?}"
    );
    assert!(matches!(store.get_run("b"), Err(StoreError::NotFound { .. })));
    // Another fire time, or runs without a fire time, are fine.
    store
        .create_run(&NewRun {
            scheduled_for: Some(fire + Duration::hours(1)),
            ..scheduled("c")
        })
        .unwrap();
    store.create_run(&new_run("d", Some(&plan.id), fire)).unwrap();
    store.create_run(&new_run("e", Some(&plan.id), fire)).unwrap();

    assert!(matches!(
        store.create_run(&new_run("a", None, fire)),
        Err(StoreError::RunExists { id }) if id == "a"
    ));
    assert!(matches!(
        store.create_run(&new_run("f", Some("no-such-plan"), fire)),
        Err(StoreError::NotFound { what: "plan", .. })
    ));
}

#[test]
fn a_crash_leaves_runs_interrupted_and_finished_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowpilot.db");
    let store = Store::open(&path).unwrap();
    store.create_run(&new_run("crashed", None, t(0))).unwrap();
    store
        .append_step(&step("crashed", 0, "http", StepStatus::Success, 5, t(7)))
        .unwrap();
    store.create_run(&new_run("silent", None, t(20))).unwrap();
    store.create_run(&new_run("done", None, t(0))).unwrap();
    store
        .finish_run(&outcome("done", RunStatus::Cancelled, t(0), t(3)), None)
        .unwrap();
    // Crash: the connection is never closed, the WAL never checkpointed,
    // the owner's lock is released but its file left behind.
    store.simulate_crash();

    let store = Store::open(&path).unwrap();
    let crashed = store.get_run("crashed").unwrap();
    assert_eq!(crashed.status, RunStatus::Interrupted);
    assert_eq!(crashed.finished_at, Some(t(7)), "ends at its last step");
    assert_eq!(crashed.error.as_deref(), Some(INTERRUPTED_ERROR));
    let silent = store.get_run("silent").unwrap();
    assert_eq!(silent.status, RunStatus::Interrupted);
    assert_eq!(silent.finished_at, Some(t(20)), "no steps: ends at its start");
    let done = store.get_run("done").unwrap();
    assert_eq!(done.status, RunStatus::Cancelled);
    assert_eq!(done.finished_at, Some(t(3)));
    assert_eq!(done.error.as_deref(), Some("it went cancelled"));

    // The crashed process's late writes are refused.
    assert!(matches!(
        store.finish_run(&outcome("crashed", RunStatus::Success, t(0), t(30)), None),
        Err(StoreError::RunFinished {
            status: RunStatus::Interrupted,
            ..
        })
    ));
    assert_eq!(store.get_run("crashed").unwrap().status, RunStatus::Interrupted);
}

fn owner_of(store: &Store, run_id: &str) -> Option<String> {
    store
        .lock()
        .query_row("SELECT owner FROM runs WHERE id = ?1", [run_id], |r| r.get(0))
        .unwrap()
}

fn lock_file(store: &Store) -> std::path::PathBuf {
    store.owner.path().to_path_buf()
}

#[test]
fn runs_of_a_store_still_open_are_left_alone_until_it_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowpilot.db");
    let a = Store::open(&path).unwrap();
    a.create_run(&new_run("a1", None, t(0))).unwrap();
    a.append_step(&step("a1", 0, "http", StepStatus::Success, 5, t(4)))
        .unwrap();
    assert_eq!(owner_of(&a, "a1").as_deref(), Some(a.owner.id()));
    let a_lock = lock_file(&a);
    assert_eq!(a_lock.parent(), Some(dir.path().join("owners").as_path()));
    // Locks conflict per open file, so another handle in this very process
    // cannot take A's lock: that is what lets B below see A as alive.
    let probe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&a_lock)
        .unwrap();
    assert!(matches!(probe.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
    drop(probe);

    // B opens the same file (the CLI starting while the app runs a1).
    let b = Store::open(&path).unwrap();
    assert_ne!(a.owner.id(), b.owner.id());
    assert_eq!(b.get_run("a1").unwrap().status, RunStatus::Running);
    assert_eq!(b.recover_orphaned_runs().unwrap(), 0);
    assert_eq!(
        a.recover_orphaned_runs().unwrap(),
        0,
        "a store never recovers its own runs"
    );
    // A carries on writing a1.
    a.append_step(&step("a1", 1, "http", StepStatus::Success, 5, t(6)))
        .unwrap();
    b.create_run(&new_run("b1", None, t(5))).unwrap();

    // A goes away mid-run, its lock file with it.
    drop(a);
    assert!(!a_lock.exists());
    let c = Store::open(&path).unwrap();
    let a1 = c.get_run("a1").unwrap();
    assert_eq!(a1.status, RunStatus::Interrupted);
    assert_eq!(a1.finished_at, Some(t(6)), "ends at its last step");
    assert_eq!(a1.error.as_deref(), Some(INTERRUPTED_ERROR));
    assert_eq!(c.get_run("b1").unwrap().status, RunStatus::Running, "B is still open");

    // A long-running store can recover later too: C goes away mid-run.
    c.create_run(&new_run("c1", None, t(8))).unwrap();
    drop(c);
    assert_eq!(b.recover_orphaned_runs().unwrap(), 1);
    let c1 = b.get_run("c1").unwrap();
    assert_eq!((c1.status, c1.finished_at), (RunStatus::Interrupted, Some(t(8))));
    assert_eq!(b.recover_orphaned_runs().unwrap(), 0);

    // B's run was never touched: it finishes normally.
    b.finish_run(&outcome("b1", RunStatus::Success, t(5), t(9)), None)
        .unwrap();
    assert_eq!(b.get_run("b1").unwrap().status, RunStatus::Success);
    let lock_files: Vec<_> = std::fs::read_dir(dir.path().join("owners"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(lock_files, vec![lock_file(&b)], "only the open store has a lock file");
}

#[test]
fn a_run_with_no_owner_is_interrupted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowpilot.db");
    let a = Store::open(&path).unwrap();
    a.create_run(&new_run("legacy", None, t(0))).unwrap();
    a.create_run(&new_run("owned", None, t(1))).unwrap();
    // As written before runs had owners.
    a.lock()
        .execute("UPDATE runs SET owner = NULL WHERE id = 'legacy'", [])
        .unwrap();

    let b = Store::open(&path).unwrap();
    let legacy = b.get_run("legacy").unwrap();
    assert_eq!(legacy.status, RunStatus::Interrupted);
    assert_eq!(legacy.finished_at, Some(t(0)));
    assert_eq!(legacy.error.as_deref(), Some(INTERRUPTED_ERROR));
    assert_eq!(b.get_run("owned").unwrap().status, RunStatus::Running);
}

#[test]
fn a_stale_lock_file_means_its_owner_is_gone_and_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowpilot.db");
    let a = Store::open(&path).unwrap();
    a.create_run(&new_run("crashed", None, t(0))).unwrap();
    let a_lock = lock_file(&a);
    a.simulate_crash();
    assert!(a_lock.exists(), "a crash leaves the lock file behind, unlocked");

    let b = Store::open(&path).unwrap();
    assert_eq!(b.get_run("crashed").unwrap().status, RunStatus::Interrupted);
    assert!(!a_lock.exists(), "the stale lock file is removed");

    // An owner whose lock file is missing altogether is gone too; an owner
    // that is not a UUID never becomes a path (and is not a live store).
    let victim = dir.path().join("victim.lock");
    std::fs::write(&victim, b"keep me").unwrap();
    let missing = uuid::Uuid::now_v7().to_string();
    for (id, owner) in [("no-file", missing.as_str()), ("odd", "../victim")] {
        b.create_run(&new_run(id, None, t(10))).unwrap();
        b.lock()
            .execute("UPDATE runs SET owner = ?2 WHERE id = ?1", [id, owner])
            .unwrap();
    }
    let c = Store::open(&path).unwrap();
    for id in ["no-file", "odd"] {
        assert_eq!(c.get_run(id).unwrap().status, RunStatus::Interrupted, "{id}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!dir.path().join("owners").join(format!("{missing}.lock")).exists());
}

#[test]
fn list_runs_filters_and_pages_newest_first() {
    let (_dir, store) = temp_store();
    let a = store.create_plan(&plan_file("A"), t(0)).unwrap();
    let b = store.create_plan(&plan_file("B"), t(0)).unwrap();
    for i in 0..10 {
        let plan = if i % 2 == 0 { &a.id } else { &b.id };
        let id = format!("r{i}");
        store.create_run(&new_run(&id, Some(plan), t(i * 60))).unwrap();
        if i != 9 {
            let status = if i % 3 == 0 {
                RunStatus::Failed
            } else {
                RunStatus::Success
            };
            store
                .finish_run(&outcome(&id, status, t(i * 60), t(i * 60 + 1)), None)
                .unwrap();
        }
    }
    let ids = |rows: &[RunRow]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();

    let (rows, total) = store
        .list_runs(&RunFilter::default(), Page { limit: 3, offset: 0 })
        .unwrap();
    assert_eq!(total, 10);
    assert_eq!(ids(&rows), ["r9", "r8", "r7"]);
    let (rows, _) = store
        .list_runs(&RunFilter::default(), Page { limit: 3, offset: 8 })
        .unwrap();
    assert_eq!(ids(&rows), ["r1", "r0"]);

    let (rows, total) = store
        .list_runs(
            &RunFilter {
                plan_id: Some(a.id.clone()),
                ..Default::default()
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(total, 5);
    assert_eq!(ids(&rows), ["r8", "r6", "r4", "r2", "r0"]);

    let (rows, total) = store
        .list_runs(
            &RunFilter {
                status: Some(RunStatus::Failed),
                since: Some(t(60)),
                until: Some(t(6 * 60)),
                ..Default::default()
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(ids(&rows), ["r3"]);

    let (rows, total) = store
        .list_runs(
            &RunFilter {
                status: Some(RunStatus::Running),
                ..Default::default()
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!((ids(&rows), total), (vec!["r9".to_string()], 1));
}
