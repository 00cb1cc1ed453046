use super::*;
use crate::api::Options;
use crate::secrets::Keychain;
use crate::store::{Page, RunFilter};
use flowpilot_engine::ManualClock;
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[derive(Default)]
struct Recorder {
    notices: Mutex<Vec<Notice>>,
    /// Told of every event and notice, for tests to wait on instead of polling.
    changed: Notify,
}
impl SchedulerSink for Recorder {
    fn run_event(&self, _: &RunEvent) {
        self.changed.notify_waiters();
    }
    fn notice(&self, n: Notice) {
        lock(&self.notices).push(n);
        self.changed.notify_waiters();
    }
    fn schedule_changed(&self, _: &str) {}
}

impl Recorder {
    /// Wait until `done` holds, checking it again at each event or notice.
    async fn until(&self, what: &str, done: impl Fn() -> bool) {
        let wait = async {
            loop {
                let next = self.changed.notified();
                tokio::pin!(next);
                // Registered before the check, so a change in between is not missed.
                next.as_mut().enable();
                if done() {
                    return;
                }
                next.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(30), wait).await.is_err() {
            panic!("waited 30 s for {what}");
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    app: Arc<Flowpilot>,
    sink: Arc<Recorder>,
    scheduler: Arc<Scheduler>,
}

fn fixture(start: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at(start)));
    let app = Arc::new(
        Flowpilot::open(Options {
            data_dir: Some(dir.path().into()),
            keychain: Some(Keychain::unavailable("not needed")),
            clock: Some(clock.clone()),
        })
        .unwrap(),
    );
    let sink = Arc::new(Recorder::default());
    let scheduler = Scheduler::new(app.clone(), sink.clone());
    Fixture {
        _dir: dir,
        clock,
        app,
        sink,
        scheduler,
    }
}

/// A plan on `cron` in `tz`; `slow` makes its run last until cancelled.
fn plan(f: &Fixture, name: &str, cron: &str, tz: &str, catch_up: &str, overlap: &str, slow: bool) -> String {
    let step = if slow {
        json!({"provider": "delay", "action": "wait", "params": {"seconds": 3600}})
    } else {
        json!({"provider": "logic", "action": "set", "params": {"value": "${trigger.scheduled_for}"}})
    };
    let text = json!({
        "name": name, "status": "active", "steps": [step],
        "trigger": {"type": "cron", "cron_expression": cron, "timezone": tz, "catch_up": catch_up, "overlap": overlap}
    })
    .to_string();
    f.app.import_plan(&text, crate::api::Activation::Activate).unwrap().id
}

async fn tick(f: &Fixture) -> Tick {
    let mut t = f.scheduler.tick().unwrap();
    for h in std::mem::take(&mut t.runs) {
        h.await.unwrap();
    }
    t
}

fn runs(f: &Fixture, plan_id: &str) -> Vec<crate::store::RunRow> {
    let filter = RunFilter {
        plan_id: Some(plan_id.into()),
        ..RunFilter::default()
    };
    let (mut rows, _) = f.app.list_runs(&filter, Page { limit: 100, offset: 0 }).unwrap();
    rows.reverse();
    rows
}

#[tokio::test]
async fn a_new_schedule_starts_from_now_and_fires_on_time() {
    let f = fixture("2026-06-01T08:59:30Z");
    let id = plan(&f, "Morning", "0 9 * * *", "UTC", "run_once", "skip", false);
    assert!(tick(&f).await.started.is_empty());
    let state = f.app.schedule_state(&id).unwrap().unwrap();
    assert_eq!(state.next_run_at, Some(at("2026-06-01T09:00:00Z")));

    f.clock.set(at("2026-06-01T09:00:02Z"));
    let t = tick(&f).await;
    assert_eq!(t.started.len(), 1);
    let rows = runs(&f, &id);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].trigger_kind.as_str(), rows[0].scheduled_for),
        ("cron", Some(at("2026-06-01T09:00:00Z")))
    );
    assert_eq!(rows[0].status, RunStatus::Success);
    // The same instant again: nothing new.
    assert!(tick(&f).await.started.is_empty());
    assert_eq!(
        f.app.schedule_state(&id).unwrap().unwrap().next_run_at,
        Some(at("2026-06-02T09:00:00Z"))
    );
}

#[tokio::test]
async fn dst_gap_and_repeat_fire_once_through_the_scheduler() {
    // Paris: 02:30 does not exist on 2026-03-29 and happens twice on 2026-10-25.
    let f = fixture("2026-03-28T23:00:00Z");
    let id = plan(&f, "Night", "30 2 * * *", "Europe/Paris", "skip", "skip", false);
    tick(&f).await;
    for minutes in (0..=240).step_by(10) {
        f.clock
            .set(at("2026-03-28T23:00:00Z") + chrono::Duration::minutes(minutes));
        tick(&f).await;
    }
    assert_eq!(runs(&f, &id).len(), 1, "one run in the spring-forward night");

    let g = fixture("2026-10-24T23:00:00Z");
    let id = plan(&g, "Night", "30 2 * * *", "Europe/Paris", "skip", "skip", false);
    tick(&g).await;
    for minutes in (0..=240).step_by(10) {
        g.clock
            .set(at("2026-10-24T23:00:00Z") + chrono::Duration::minutes(minutes));
        tick(&g).await;
    }
    let rows = runs(&g, &id);
    assert_eq!(rows.len(), 1, "one run in the fall-back night");
    assert_eq!(rows[0].scheduled_for, Some(at("2026-10-25T00:30:00Z")));
}

async fn after_suspend(catch_up: &str) -> (Fixture, String, Tick) {
    let f = fixture("2026-06-01T10:00:00Z");
    let id = plan(&f, "Quarterly hour", "*/15 * * * *", "UTC", catch_up, "skip", false);
    tick(&f).await;
    // The laptop sleeps for two hours: 8 fires pass, the last at 12:00.
    f.clock
        .advance(chrono::Duration::hours(2) + chrono::Duration::minutes(5));
    let t = tick(&f).await;
    (f, id, t)
}

#[tokio::test]
async fn suspend_then_catch_up_skip_records_the_misses() {
    let (f, id, t) = after_suspend("skip").await;
    assert_eq!((t.started.len(), t.missed), (0, 8));
    assert!(runs(&f, &id).is_empty());
    assert_eq!(f.app.schedule_state(&id).unwrap().unwrap().missed_total, 8);
    let notices = lock(&f.sink.notices);
    assert_eq!(notices.len(), 1, "one summary, not eight");
    assert!(notices[0].body.contains("skipped 8 older fires"), "{}", notices[0].body);
}

#[tokio::test]
async fn suspend_then_catch_up_run_once_runs_the_latest() {
    let (f, id, t) = after_suspend("run_once").await;
    assert_eq!((t.started.len(), t.missed), (1, 7));
    let rows = runs(&f, &id);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].trigger_kind.as_str(), rows[0].scheduled_for),
        ("catch_up", Some(at("2026-06-01T12:00:00Z")))
    );
}

#[tokio::test]
async fn suspend_then_catch_up_run_all_runs_every_miss_in_order() {
    let (f, id, t) = after_suspend("run_all").await;
    assert_eq!((t.started.len(), t.missed), (8, 0));
    let fires: Vec<_> = runs(&f, &id).iter().map(|r| r.scheduled_for.unwrap()).collect();
    assert_eq!(fires.first(), Some(&at("2026-06-01T10:15:00Z")));
    assert_eq!(fires.last(), Some(&at("2026-06-01T12:00:00Z")));
    assert!(runs(&f, &id).iter().all(|r| r.status == RunStatus::Success));
}

#[tokio::test]
async fn run_all_is_capped_and_older_misses_are_counted() {
    let f = fixture("2026-06-01T00:00:00Z");
    let id = plan(&f, "Hourly", "0 * * * *", "UTC", "run_all", "skip", false);
    tick(&f).await;
    // 72 fires, 48 of them outside the 24 h window; none of them on time.
    f.clock
        .advance(chrono::Duration::days(3) + chrono::Duration::minutes(30));
    let t = tick(&f).await;
    assert_eq!(t.started.len(), flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
    assert_eq!(t.missed, 72 - flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
    assert_eq!(runs(&f, &id).len(), flowpilot_engine::schedule::MAX_CATCH_UP_RUNS);
}

/// Start a slow plan's first fire, then fire again while it still runs.
async fn overlapping(overlap: &str) -> (Fixture, String, Tick) {
    let f = fixture("2026-06-01T10:00:00Z");
    let id = plan(&f, "Slow", "* * * * *", "UTC", "skip", overlap, true);
    f.scheduler.tick().unwrap();
    f.clock.set(at("2026-06-01T10:01:00Z"));
    let first = f.scheduler.tick().unwrap();
    assert_eq!(first.started.len(), 1);
    assert_eq!(f.app.running_count(&id), 1);
    f.clock.set(at("2026-06-01T10:02:00Z"));
    let second = f.scheduler.tick().unwrap();
    (f, id, second)
}

fn cancel_all(f: &Fixture, id: &str) {
    for r in runs(f, id) {
        f.app.cancel_run(&r.id);
    }
}

#[tokio::test]
async fn overlap_skip_records_the_skipped_fire() {
    let (f, id, t) = overlapping("skip").await;
    assert_eq!((t.started.len(), t.skipped_overlap), (0, 1));
    let missed = f.app.missed_fires(&id, 10).unwrap();
    assert_eq!(missed[0].reason, MissReason::Overlap);
    assert_eq!(missed[0].scheduled_for, at("2026-06-01T10:02:00Z"));
    cancel_all(&f, &id);
}

#[tokio::test]
async fn overlap_queue_one_runs_the_newest_waiting_fire_afterwards() {
    let (f, id, t) = overlapping("queue_one").await;
    assert_eq!((t.started.len(), t.queued), (0, 1));
    f.clock.set(at("2026-06-01T10:03:00Z"));
    let t = f.scheduler.tick().unwrap();
    assert_eq!(
        (t.queued, t.skipped_overlap),
        (1, 1),
        "the 10:02 fire is replaced by 10:03"
    );
    // Ending the first run starts the queued one.
    let first = runs(&f, &id)[0].id.clone();
    f.app.cancel_run(&first);
    f.sink
        .until("the queued run to start", || runs(&f, &id).len() >= 2)
        .await;
    assert_eq!(runs(&f, &id)[1].scheduled_for, Some(at("2026-06-01T10:03:00Z")));
    cancel_all(&f, &id);
}

#[tokio::test]
async fn overlap_allow_runs_side_by_side() {
    let (f, id, t) = overlapping("allow").await;
    assert_eq!(t.started.len(), 1);
    assert_eq!(f.app.running_count(&id), 2);
    cancel_all(&f, &id);
}

#[tokio::test]
async fn a_double_dispatch_makes_one_run() {
    let f = fixture("2026-06-01T08:59:00Z");
    let id = plan(&f, "Once", "0 9 * * *", "UTC", "run_once", "allow", false);
    tick(&f).await;
    let before = f.app.schedule_state(&id).unwrap().unwrap();
    f.clock.set(at("2026-06-01T09:00:01Z"));
    assert_eq!(tick(&f).await.started.len(), 1);
    // A second dispatcher that read the old state fires the same instant again.
    f.app.save_schedule_state(&before).unwrap();
    assert!(tick(&f).await.started.is_empty());
    assert_eq!(runs(&f, &id).len(), 1);
}

#[tokio::test]
async fn pause_and_resume_never_backfill() {
    let f = fixture("2026-06-01T10:00:00Z");
    let id = plan(&f, "Often", "*/10 * * * *", "UTC", "run_all", "skip", false);
    tick(&f).await;
    f.scheduler.set_plan_paused(&id, true).unwrap();
    f.clock.advance(chrono::Duration::hours(1));
    assert!(tick(&f).await.started.is_empty());
    f.scheduler.set_plan_paused(&id, false).unwrap();
    assert!(tick(&f).await.started.is_empty(), "no backfill of the paused hour");
    // Global pause behaves the same.
    f.scheduler.pause_all();
    f.clock.advance(chrono::Duration::hours(1));
    assert!(tick(&f).await.started.is_empty());
    f.scheduler.resume_all();
    assert!(tick(&f).await.started.is_empty());
    f.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(tick(&f).await.started.len(), 1);
    assert_eq!(runs(&f, &id).len(), 1);
}

#[tokio::test]
async fn failures_notify_once_and_auto_pause_after_n() {
    let f = fixture("2026-06-01T10:00:00Z");
    let mut settings = f.app.settings().unwrap();
    settings.auto_pause_after = 3;
    f.app.set_settings(&settings).unwrap();
    let text = json!({
        "name": "Broken", "status": "active",
        "steps": [{"provider": "logic", "action": "assert", "params": {"left": 1, "op": "eq", "right": 2, "message": "one is not two"}}],
        "trigger": {"type": "cron", "cron_expression": "* * * * *", "timezone": "UTC"}
    })
    .to_string();
    let id = f.app.import_plan(&text, crate::api::Activation::Activate).unwrap().id;
    tick(&f).await;
    for _ in 0..4 {
        f.clock.advance(chrono::Duration::minutes(1));
        tick(&f).await;
    }
    assert_eq!(runs(&f, &id).len(), 3, "paused after the third failure");
    assert!(f.app.schedule_state(&id).unwrap().unwrap().paused);
    let notices = lock(&f.sink.notices);
    let kinds: Vec<_> = notices.iter().map(|n| n.kind).collect();
    use crate::notices::NoticeKind;
    assert_eq!(kinds, vec![NoticeKind::Failure, NoticeKind::AutoPaused]);
    assert_eq!(notices[0].body, "Step 1 (logic.assert) failed: one is not two");
}

#[tokio::test]
async fn a_failed_manual_run_notifies_and_pause_all_survives_a_restart() {
    let f = fixture("2026-06-01T10:00:00Z");
    let text = json!({
        "name": "By hand", "steps": [{"provider": "logic", "action": "assert", "params": {"left": 1, "op": "eq", "right": 2}}]
    })
    .to_string();
    let id = f.app.import_plan(&text, crate::api::Activation::Activate).unwrap().id;
    let run_id = f.scheduler.start_manual_run(&id).unwrap();
    f.sink
        .until("a notice for the failed manual run", || {
            !lock(&f.sink.notices).is_empty()
        })
        .await;
    let notice = lock(&f.sink.notices)[0].clone();
    assert_eq!(
        (notice.title.as_str(), notice.run_id.as_deref()),
        ("By hand failed", Some(run_id.as_str()))
    );

    f.scheduler.pause_all();
    let again = Scheduler::new(f.app.clone(), f.sink.clone());
    assert!(again.is_paused());
    again.resume_all();
    assert!(!Scheduler::new(f.app.clone(), f.sink.clone()).is_paused());
}

#[tokio::test]
async fn jobs_list_describes_schedules_in_words() {
    let f = fixture("2026-06-01T06:00:00Z"); // a Monday, 08:00 in Berlin
    plan(
        &f,
        "Weekdays",
        "0 9 * * 1-5",
        "Europe/Berlin",
        "run_once",
        "skip",
        false,
    );
    let jobs = f.scheduler.jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].description, "At 09:00, on weekdays");
    assert_eq!(jobs[0].next_run_at, Some(at("2026-06-01T07:00:00Z")));
}

#[tokio::test]
async fn the_concurrency_limit_changes_without_a_restart() {
    let f = fixture("2026-03-01T09:00:00Z");
    let s = &f.scheduler;
    assert_eq!(s.permits.available_permits(), 4);

    // Raised: the new permits are there at once.
    s.set_concurrency(6);
    assert_eq!(s.permits.available_permits(), 6);

    // Lowered while three runs hold permits: no new run may start until
    // enough of them end, and then only one at a time.
    let held: Vec<_> = (0..3).map(|_| s.permits.clone().try_acquire_owned().unwrap()).collect();
    let owed = s.resize(1).expect("two permits are in use beyond the new limit");
    assert_eq!(s.permits.available_permits(), 0);
    drop(held);
    owed.await;
    assert_eq!(s.permits.available_permits(), 1);
    let one = s.permits.clone().try_acquire_owned().unwrap();
    assert!(
        s.permits.clone().try_acquire_owned().is_err(),
        "a second run went past a limit of 1"
    );
    drop(one);

    // Zero means one: scheduled runs never stop for good.
    assert!(s.resize(0).is_none());
    assert_eq!(s.permits.available_permits(), 1);
}

#[tokio::test]
async fn turning_a_plan_off_and_on_never_catches_up_the_fires_it_skipped_while_off() {
    let f = fixture("2026-06-01T10:00:30Z");
    let id = plan(&f, "Hourly", "0 * * * *", "UTC", "run_all", "skip", false);
    tick(&f).await;
    let mut file = f.app.stored_plan(&id).unwrap().plan;
    file.status = PlanStatus::Draft;
    f.app.save_plan(&id, file.clone()).unwrap();
    // Five hours pass with the plan off, the app open and ticking.
    f.clock.set(at("2026-06-01T13:00:10Z"));
    assert!(tick(&f).await.started.is_empty());
    f.clock.set(at("2026-06-01T15:10:00Z"));
    file.status = PlanStatus::Active;
    f.app.save_plan(&id, file).unwrap();
    let t = tick(&f).await;
    assert!(t.started.is_empty() && t.missed == 0, "{t:?}");
    assert!(runs(&f, &id).is_empty());
    assert!(lock(&f.sink.notices).is_empty(), "nothing was missed");
    // From now on it fires as usual.
    f.clock.set(at("2026-06-01T16:00:05Z"));
    assert_eq!(tick(&f).await.started.len(), 1);
}

#[tokio::test]
async fn a_catch_up_says_whether_flowpilot_was_not_running_or_the_computer_slept() {
    let f = fixture("2026-06-01T10:00:30Z");
    plan(&f, "Hourly", "0 * * * *", "UTC", "run_once", "skip", false);
    tick(&f).await;
    // The same scheduler, three hours later: the machine slept.
    f.clock.set(at("2026-06-01T13:30:00Z"));
    tick(&f).await;
    let body = lock(&f.sink.notices).last().unwrap().body.clone();
    assert!(body.starts_with("While the computer was asleep"), "{body}");

    // Three more hours with Flowpilot closed, then a new scheduler (the app started again).
    f.clock.set(at("2026-06-01T16:30:00Z"));
    let scheduler = Scheduler::new(f.app.clone(), f.sink.clone());
    let mut t = scheduler.tick().unwrap();
    for h in std::mem::take(&mut t.runs) {
        h.await.unwrap();
    }
    let body = lock(&f.sink.notices).last().unwrap().body.clone();
    assert!(body.starts_with("While Flowpilot was not running"), "{body}");
}

#[tokio::test]
async fn an_imported_plan_is_not_scheduled_until_it_is_activated() {
    let f = fixture("2026-06-01T08:59:30Z");
    // A shared file that asks to be active and to run every minute.
    let text = json!({
        "name": "Shared", "status": "active",
        "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}],
        "trigger": {"type": "cron", "cron_expression": "* * * * *", "timezone": "UTC"}
    })
    .to_string();
    let row = f.app.import_plan(&text, crate::api::Activation::Review).unwrap();
    assert_eq!(row.plan.status, PlanStatus::Draft);
    tick(&f).await;
    f.clock.set(at("2026-06-01T09:03:01Z"));
    assert!(tick(&f).await.started.is_empty(), "an imported plan ran unreviewed");
    assert!(runs(&f, &row.id).is_empty());
    let jobs = f.app.scheduled_jobs().unwrap();
    assert_eq!((jobs[0].active, jobs[0].next_run_at), (false, None));

    // Activated as a deliberate act: from now on, without backfilling.
    let activated = f.app.activate_plan(&row.id).unwrap();
    assert_eq!((activated.plan.status, activated.version), (PlanStatus::Active, 2));
    assert!(
        tick(&f).await.started.is_empty(),
        "no backfill of the fires before activation"
    );
    f.clock.set(at("2026-06-01T09:04:01Z"));
    assert_eq!(tick(&f).await.started.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wake_after_sleep_looks_at_missed_fires_at_once() {
    let f = fixture("2026-06-01T10:00:00Z");
    let id = plan(&f, "Quarterly hour", "*/15 * * * *", "UTC", "run_once", "skip", false);
    tick(&f).await; // the schedule starts from now
    let cancel = CancellationToken::new();
    let looping = tokio::spawn(f.scheduler.clone().run(cancel.clone()));
    // The laptop sleeps two hours: the loop's timer (monotonic) knows nothing of it.
    f.clock
        .advance(chrono::Duration::hours(2) + chrono::Duration::minutes(5));
    let woke = std::time::Instant::now();
    f.scheduler.wake(); // what logind's PrepareForSleep(false) does in the app
    f.sink
        .until("the catch-up run after the wake-up", || {
            runs(&f, &id).iter().any(|r| r.status == RunStatus::Success)
        })
        .await;
    assert!(woke.elapsed() < Duration::from_secs(5), "{:?}", woke.elapsed());
    let rows = runs(&f, &id);
    let fires: Vec<_> = rows.iter().map(|r| (r.trigger_kind.clone(), r.scheduled_for)).collect();
    assert_eq!(rows.len(), 1, "{fires:?}");
    assert_eq!(rows[0].scheduled_for, Some(at("2026-06-01T12:00:00Z")));
    cancel.cancel();
    looping.await.unwrap();
}

#[tokio::test]
async fn auto_pause_is_on_by_default_after_ten_failures_with_its_notice() {
    let f = fixture("2026-06-01T10:00:00Z");
    assert_eq!(crate::settings::Settings::default().auto_pause_after, 10);
    let text = json!({
        "name": "Always broken", "status": "active",
        "steps": [{"provider": "logic", "action": "assert", "params": {"left": 1, "op": "eq", "right": 2}}],
        "trigger": {"type": "cron", "cron_expression": "* * * * *", "timezone": "UTC"}
    })
    .to_string();
    let id = f.app.import_plan(&text, crate::api::Activation::Activate).unwrap().id;
    tick(&f).await;
    for _ in 0..12 {
        f.clock.advance(chrono::Duration::minutes(1));
        tick(&f).await;
    }
    assert_eq!(runs(&f, &id).len(), 10, "paused after the tenth failure in a row");
    let state = f.app.schedule_state(&id).unwrap().unwrap();
    assert!(state.paused);
    let notices = lock(&f.sink.notices);
    let paused: Vec<_> = notices
        .iter()
        .filter(|n| n.kind == crate::notices::NoticeKind::AutoPaused)
        .collect();
    assert_eq!(paused.len(), 1, "{notices:#?}");
    assert!(paused[0].body.contains("10"), "{}", paused[0].body);
}

#[tokio::test]
async fn the_on_off_switch_makes_no_version_never_catches_up_and_lifts_a_pause() {
    let f = fixture("2026-06-01T10:00:30Z");
    let id = plan(&f, "Hourly", "0 * * * *", "UTC", "run_all", "skip", false);
    tick(&f).await;
    let version = f.app.stored_plan(&id).unwrap().version;
    let off = f.app.set_plan_on(&id, false).unwrap();
    assert_eq!((off.version, off.plan.status), (version, PlanStatus::Draft));
    f.clock.set(at("2026-06-01T13:00:10Z"));
    assert!(tick(&f).await.started.is_empty());

    // On again, hours later: nothing that came while it was off is caught up.
    f.clock.set(at("2026-06-01T15:10:00Z"));
    let on = f.app.set_plan_on(&id, true).unwrap();
    assert_eq!((on.version, on.plan.status), (version, PlanStatus::Active));
    let t = tick(&f).await;
    assert!(t.started.is_empty() && t.missed == 0, "{t:?}");
    assert!(runs(&f, &id).is_empty());

    // A paused schedule (by hand or after failures) is off to the person: "on" lifts the pause, from now.
    f.app.set_schedule_paused(&id, true).unwrap();
    f.clock.set(at("2026-06-01T18:10:00Z"));
    assert!(tick(&f).await.started.is_empty());
    f.app.set_plan_on(&id, true).unwrap();
    assert!(!f.app.schedule_state(&id).unwrap().unwrap().paused);
    let t = tick(&f).await;
    assert!(t.started.is_empty() && t.missed == 0, "{t:?}");
    f.clock.set(at("2026-06-01T19:00:05Z"));
    assert_eq!(tick(&f).await.started.len(), 1);
    assert_eq!(f.app.plan_versions(&id).unwrap().len(), version as usize);
}
