//! The store's figures, each beside its floor. Prints figures; asserts nothing.
//!
//! 1. Floor: one SQLite commit of one small row, on a file with the store's
//!    pragmas (WAL, `synchronous = NORMAL`).
//! 2. The store's part of a step alone: the step in flight and the step's row,
//!    each committed, one run after another; then the same events through the
//!    run log, which commits a step's row with the next step's start.
//! 3. Storage per 10-step run with small outputs: the file's used bytes
//!    (pages in use × page size, after a checkpoint) grown by 1,000 runs of a
//!    10-step plan through the facade, per run.
//! 4. A database with 1,000,000 step-log rows (100,000 runs of 10 steps, seeded
//!    straight into a real file over the last 30 days, each run written running,
//!    then its rows, then its end, as the app writes them): opening the facade on
//!    it (the app's start, as far as the store goes), the first page of Runs,
//!    and the Dashboard's figures for the last 24 hours and the last 30 days.
//!
//! `cargo bench --workspace --bench store`

use chrono::{Duration as Days, SecondsFormat, Utc};
use flowpilot_core::api::{DB_FILE, Flowpilot, Options, ResolvedPlan};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::store::{InFlightStep, NewRun, Page, RunFilter, RunLog, Store};
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{Plan, RunEvent, RunObserver, RunOutcome, RunStatus, StepRecord, StepStatus};
use rusqlite::{Connection, params};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const STORAGE_RUNS: usize = 1_000;
const SEEDED_RUNS: usize = 100_000;
const STEPS: usize = 10;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn open(dir: &Path) -> Flowpilot {
    Flowpilot::open(Options {
        data_dir: Some(dir.into()),
        keychain: Some(Keychain::unavailable("not used")),
        ..Options::default()
    })
    .expect("open")
}

/// Bytes of the file in use (free pages not counted), after a checkpoint.
fn used_bytes(app: &Flowpilot) -> i64 {
    app.checkpoint().expect("checkpoint");
    let conn = Connection::open(app.data_dir().join(DB_FILE)).expect("sqlite");
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).expect("page_size");
    let count: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .expect("page_count");
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .expect("freelist");
    (count - free) * page
}

fn commit_floor(dir: &Path) -> f64 {
    let conn = Connection::open(dir.join("floor.db")).expect("sqlite");
    conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
    conn.pragma_update(None, "synchronous", "NORMAL").expect("sync");
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .expect("table");
    let n = 5_000;
    let t = Instant::now();
    for i in 0..n {
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        conn.prepare_cached("INSERT INTO t (v) VALUES (?1)")
            .expect("prepare")
            .execute([i.to_string()])
            .expect("insert");
        conn.execute_batch("COMMIT").expect("commit");
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// A finished `logic.set` step with a small output.
fn small_step(run_id: &str, n: usize, now: chrono::DateTime<Utc>) -> StepRecord {
    StepRecord {
        run_id: run_id.to_string(),
        step_number: n,
        step_id: Some(format!("s{n}")),
        provider: "logic".into(),
        action: "set".into(),
        status: StepStatus::Success,
        attempt: 1,
        message: "value set".into(),
        latency_ms: 0,
        output_preview: format!("{{\"n\":{n}}}"),
        output: json!({"n": n}),
        input: json!({"value": {"n": n}}),
        metadata: serde_json::Map::new(),
        error: None,
        items: None,
        timestamp: now,
    }
}

/// A bench run, `running`, started `now`.
fn start_run(store: &Store, id: &str, now: chrono::DateTime<Utc>) {
    store
        .create_run(&NewRun {
            id: id.to_string(),
            plan_id: None,
            plan_name: "writes".into(),
            trigger_kind: "bench".into(),
            scheduled_for: None,
            plan_version: None,
            replay_of: None,
            started_at: now,
        })
        .expect("run");
}

/// The store's part of a step, alone: the step in flight, then its row, each
/// committed, one run after another (as the engine writes them), in µs a step.
fn log_writes_per_step(dir: &Path) -> f64 {
    let store = Store::open(dir.join("writes.db")).expect("store");
    let runs = 200;
    let t = Instant::now();
    for r in 0..runs {
        let id = format!("run-{r}");
        let now = Utc::now();
        start_run(&store, &id, now);
        for n in 0..STEPS {
            let step = InFlightStep {
                step_number: n,
                provider: "logic".into(),
                action: "set".into(),
                attempt: 1,
                started_at: now,
            };
            store.mark_step_started(&id, &step).expect("in flight");
            let record = small_step(&id, n, now);
            if n + 1 < STEPS {
                store.append_step(&record).expect("row");
            } else {
                let outcome = RunOutcome {
                    run_id: id.clone(),
                    plan_name: "writes".into(),
                    status: RunStatus::Success,
                    started_at: now,
                    finished_at: now,
                    error: None,
                    steps: Vec::new(),
                };
                store.finish_run(&outcome, Some(&record)).expect("finish");
            }
        }
    }
    t.elapsed().as_secs_f64() * 1e6 / (runs * STEPS) as f64
}

/// The same writes as the run log makes them (`RunLog`): a finished step's
/// row is committed with the next step's start, the last with the run's end:
/// one commit a step. In µs a step.
fn run_log_writes_per_step(dir: &Path) -> f64 {
    let store = Arc::new(Store::open(dir.join("run-log.db")).expect("store"));
    let runs = 200;
    let t = Instant::now();
    for r in 0..runs {
        let id = format!("run-{r}");
        let now = Utc::now();
        start_run(&store, &id, now);
        let log = RunLog::new(store.clone());
        let mut steps = Vec::with_capacity(STEPS);
        for n in 0..STEPS {
            log.on_event(&RunEvent::StepStarted {
                run_id: id.clone(),
                step_number: n,
                provider: "logic".into(),
                action: "set".into(),
                attempt: 1,
            });
            let record = small_step(&id, n, now);
            log.on_event(&RunEvent::StepFinished {
                record: record.clone(),
                last: n + 1 == STEPS,
            });
            steps.push(record);
        }
        log.on_event(&RunEvent::RunFinished {
            outcome: RunOutcome {
                run_id: id.clone(),
                plan_name: "writes".into(),
                status: RunStatus::Success,
                started_at: now,
                finished_at: now,
                error: None,
                steps,
            },
        });
        assert!(log.take_error().is_none());
    }
    t.elapsed().as_secs_f64() * 1e6 / (runs * STEPS) as f64
}

async fn storage_per_run(dir: &Path) -> f64 {
    let app = Arc::new(open(dir));
    let steps: Vec<_> = (0..STEPS)
        .map(|i| json!({"id": format!("s{i}"), "provider": "logic", "action": "set", "params": {"value": {"n": i, "ok": true}}}))
        .collect();
    let plan = Plan::from_value(json!({"name": "storage", "steps": steps}), &app.registry()).expect("plan");
    let run = || {
        let app = app.clone();
        let plan = plan.clone();
        async move {
            let target = ResolvedPlan {
                plan_id: None,
                version: None,
                plan,
            };
            let outcome = app
                .run_plan(target, "bench", Arc::new(NoObserver), None, CancellationToken::new())
                .await
                .expect("run");
            assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
        }
    };
    for _ in 0..10 {
        run().await;
    }
    let before = used_bytes(&app);
    for _ in 0..STORAGE_RUNS {
        run().await;
    }
    (used_bytes(&app) - before) as f64 / STORAGE_RUNS as f64
}

/// 100,000 finished runs of 10 steps each, spread over the last 30 days.
fn seed(path: &Path) {
    let mut conn = Connection::open(path).expect("sqlite");
    let tx = conn.transaction().expect("tx");
    {
        let mut run = tx
            .prepare(
                "INSERT INTO runs (seq, id, plan_id, plan_name, trigger_kind, status, started_at)
                 VALUES (?3, ?1, NULL, ?2, 'cron', 'running', ?4)",
            )
            .expect("prepare");
        // A run ends after its steps, as in the app (the Dashboard's summary takes its rows then).
        let mut end = tx
            .prepare("UPDATE runs SET status = ?2, finished_at = ?3, error = ?4 WHERE seq = ?1")
            .expect("prepare");
        let mut step = tx
            .prepare(
                "INSERT INTO step_logs (run, step_number, step_id, provider, action, status, attempt, message,
                                        latency_ms, output, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, '', ?7, ?8, ?9)",
            )
            .expect("prepare");
        let now = Utc::now();
        let span = Days::days(30).num_milliseconds();
        let providers = [
            ("http", "request"),
            ("logic", "set"),
            ("email", "send"),
            ("llm", "chat"),
        ];
        for r in 0..SEEDED_RUNS {
            // The shape of the ids Flowpilot makes (UUID v7 text).
            let id = format!("019a0000-0000-7000-8000-{r:012x}");
            let started = now - Days::milliseconds(span - (r as i64) * span / SEEDED_RUNS as i64);
            let failed = r % 20 == 0;
            let at = |ms: i64| (started + Days::milliseconds(ms)).to_rfc3339_opts(SecondsFormat::Millis, true);
            run.execute(params![id, format!("plan {}", r % 50), r as i64 + 1, at(0)])
                .expect("run");
            for s in 0..STEPS {
                let (provider, action) = providers[(r + s) % providers.len()];
                let status = if failed && s == STEPS - 1 { "error" } else { "success" };
                let output = format!("{{\"n\":{s},\"ok\":true}}");
                step.execute(params![
                    r as i64 + 1,
                    s as i64,
                    format!("s{s}"),
                    provider,
                    action,
                    status,
                    ((r * 7 + s * 13) % 900) as i64,
                    output,
                    (started + Days::milliseconds(s as i64 * 10)).timestamp_millis()
                ])
                .expect("step");
            }
            end.execute(params![
                r as i64 + 1,
                if failed { "failed" } else { "success" },
                at(100),
                failed.then_some("step 10 of 10 failed")
            ])
            .expect("end");
        }
    }
    tx.commit().expect("commit");
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, ms(t.elapsed()))
}

/// The median of `n` timings of `f`, in ms.
fn median_ms(n: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..n).map(|_| timed(&mut f).1).collect();
    samples.sort_by(f64::total_cmp);
    samples[n / 2]
}

fn million_rows(dir: &Path) {
    drop(open(dir)); // the schema
    let path = dir.join(DB_FILE);
    let ((), seeding) = timed(|| seed(&path));
    let rows: i64 = Connection::open(&path)
        .expect("sqlite")
        .query_row("SELECT COUNT(*) FROM step_logs", [], |r| r.get(0))
        .expect("count");
    println!(
        "seeded {rows} step-log rows in {SEEDED_RUNS} runs in {:.1} s ({:.0} MB)",
        seeding / 1000.0,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    // The first open after seeding may do one-off work (migrations, indexes); time the next ones.
    drop(open(dir));
    let open_ms = median_ms(5, || drop(open(dir)));
    let app = open(dir);
    let runs_ms = median_ms(5, || {
        let (page, total) = app.list_runs(&RunFilter::default(), Page::default()).expect("runs");
        assert_eq!((page.len(), total), (50, SEEDED_RUNS as u64));
    });
    let day_ms = median_ms(5, || {
        app.stats(Days::hours(24)).expect("stats");
    });
    let month_ms = median_ms(3, || {
        let stats = app.stats(Days::days(31)).expect("stats");
        assert_eq!(stats.runs.total, SEEDED_RUNS as u64);
    });
    println!("1M step-log rows, first page of Runs:          {runs_ms:8.1} ms");
    println!("1M step-log rows, Dashboard stats, 24 h:       {day_ms:8.1} ms");
    println!("1M step-log rows, Dashboard stats, 30 days:    {month_ms:8.1} ms");
    println!("1M step-log rows, facade open (app start):     {open_ms:8.1} ms");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let floor = commit_floor(dir.path());
    println!("one-row SQLite commit (WAL, synchronous=NORMAL, the floor): {floor:8.1} µs");
    let writes = log_writes_per_step(dir.path());
    println!("durable log writes per step (in flight + row), one run at a time: {writes:8.1} µs");
    let folded = run_log_writes_per_step(dir.path());
    println!("the same as the run log writes them (a row with the next start): {folded:8.1} µs");
    let storage_dir = dir.path().join("storage");
    let bytes = storage_per_run(&storage_dir).await;
    println!("storage per 10-step run, small outputs:         {bytes:8.0} bytes");
    let million_dir = dir.path().join("million");
    tokio::task::block_in_place(|| million_rows(&million_dir));
}
