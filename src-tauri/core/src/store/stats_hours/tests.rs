//! The summary gives the same figures as the raw rows, on a real SQLite file.

use super::*;
use crate::store::migrations::MIGRATIONS;
use crate::store::test_support::*;
use crate::store::{RetentionPolicy, Store};
use chrono::TimeZone;
use flowpilot_engine::{RunStatus, StepStatus};

/// A small deterministic generator (no dependency for test data).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Two hours before a day's end (UTC): the runs span the day boundary.
fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 22, 0, 0).unwrap()
}

const PROVIDERS: [&str; 4] = ["http", "llm", "file", "email"];
const STEP_STATUSES: [StepStatus; 6] = [
    StepStatus::Success,
    StepStatus::Error,
    StepStatus::Timeout,
    StepStatus::Retrying,
    StepStatus::Skipped,
    StepStatus::Unknown,
];

/// `n` runs started over 30 hours from two hours before midnight, each with
/// 0–5 rows of every status and provider (latencies with ties), ending every
/// way: success with its last row written with the end, failed, cancelled,
/// interrupted, or still running.
fn fill(store: &Store, rng: &mut Lcg, first: usize, n: usize) {
    for i in first..first + n {
        let id = format!("run-{i:04}");
        let started = base() + Duration::milliseconds(rng.next(30 * 3_600_000) as i64);
        let mut run = new_run(&id, None, started);
        run.plan_name = format!("plan {}", rng.next(5));
        store.create_run(&run).unwrap();
        let rows = rng.next(6) as usize;
        for n in 0..rows {
            let provider = PROVIDERS[rng.next(4) as usize];
            let status = STEP_STATUSES[rng.next(6) as usize];
            let latency = if rng.next(3) == 0 { 700 } else { rng.next(5_000) };
            let at = started + Duration::seconds(n as i64);
            store.append_step(&step(&id, n, provider, status, latency, at)).unwrap();
        }
        let end = started + Duration::seconds(30);
        let last = step(
            &id,
            rows,
            PROVIDERS[rng.next(4) as usize],
            StepStatus::Success,
            rng.next(6_000),
            end,
        );
        match rng.next(6) {
            0 => {} // still running
            1 | 5 => store
                .finish_run(&outcome(&id, RunStatus::Success, started, end), Some(&last))
                .unwrap(),
            2 => store
                .finish_run(&outcome(&id, RunStatus::Failed, started, end), None)
                .unwrap(),
            3 => store
                .finish_run(&outcome(&id, RunStatus::Cancelled, started, end), Some(&last))
                .unwrap(),
            _ => store
                .finish_run(&outcome(&id, RunStatus::Interrupted, started, end), None)
                .unwrap(),
        }
    }
}

/// Windows starting on every hour boundary around the runs, just before and
/// after one, mid-hour, far back, after them all.
fn windows() -> Vec<DateTime<Utc>> {
    let mut out = vec![base() - Duration::days(400), base() + Duration::days(2)];
    for h in -2..33 {
        let hour = base() + Duration::hours(h);
        for offset in [0, 1, -1, 17 * 60_000 + 123, 59 * 60_000 + 59_999] {
            out.push(hour + Duration::milliseconds(offset));
        }
    }
    out.push(base() + Duration::microseconds(5 * 3_600_000_000 + 1_500)); // sub-millisecond
    out
}

/// Every window's figures from the summary equal those from the raw rows.
fn assert_same(store: &Store, when: &str) {
    for since in windows() {
        let (providers, slowest, runs) = store.raw_stats(since, 10).unwrap();
        assert_eq!(
            store.provider_stats(since).unwrap(),
            providers,
            "{when}: providers since {since}"
        );
        assert_eq!(
            store.slowest_steps(since, 10).unwrap(),
            slowest,
            "{when}: slowest since {since}"
        );
        assert_eq!(store.runs_since(since).unwrap(), runs, "{when}: runs since {since}");
        let three = store.raw_stats(since, 3).unwrap().1;
        assert_eq!(
            store.slowest_steps(since, 3).unwrap(),
            three,
            "{when}: 3 slowest since {since}"
        );
        let many = store.raw_stats(since, 25).unwrap().1;
        assert_eq!(
            store.slowest_steps(since, 25).unwrap(),
            many,
            "{when}: 25 slowest since {since}"
        );
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.lock().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn the_summary_gives_the_raw_figures_through_writes_deletes_and_repairs() {
    let (_dir, store) = temp_store();
    let mut rng = Lcg(12);
    fill(&store, &mut rng, 0, 300);
    assert!(count(&store, "SELECT COUNT(*) FROM stats_hours") > 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stats_stale"), 0);
    assert!(count(&store, "SELECT COUNT(*) FROM runs WHERE status = 'running'") > 10);
    assert_same(&store, "written");

    // Runs left running by a Flowpilot that is gone, marked interrupted.
    store
        .lock()
        .execute(
            "UPDATE runs SET owner = NULL WHERE status = 'running' AND id < 'run-0150'",
            [],
        )
        .unwrap();
    assert!(store.recover_orphaned_runs().unwrap() > 0);
    assert_same(&store, "recovered");

    // Pruning keeps the newest 200 finished runs and rebuilds the hours it touched.
    let policy = RetentionPolicy {
        max_age_days: 1000,
        max_runs: 200,
        failed_max_age_days: 1000,
    };
    assert!(store.prune(&policy, base()).unwrap().runs_deleted > 0);
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stats_stale"), 0);
    assert_same(&store, "pruned");

    // Deletes and changes nothing rebuilds: those hours are read raw.
    {
        let conn = store.lock();
        conn.execute("DELETE FROM runs WHERE rowid % 7 = 0", []).unwrap();
        conn.execute(
            "DELETE FROM step_logs WHERE id = (SELECT MIN(s.id) FROM step_logs s JOIN runs r ON r.seq = s.run
                                               WHERE r.status = 'success' AND s.status = 'success')",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE step_logs SET latency_ms = 99999 WHERE id = (SELECT MAX(s.id) FROM step_logs s JOIN runs r ON r.seq = s.run
                                                                 WHERE r.status = 'failed' AND s.status = 'error')",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE runs SET started_at = '2026-03-02T03:30:00.000Z' WHERE id = (SELECT MAX(id) FROM runs WHERE status = 'success')",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = (SELECT MIN(id) FROM runs WHERE status = 'cancelled')",
            [],
        )
        .unwrap();
    }
    assert!(count(&store, "SELECT COUNT(*) FROM stats_stale") > 0);
    assert_same(&store, "deleted and changed");

    // Rebuilt: the same again, from the summary.
    {
        let mut conn = store.lock();
        let tx = conn.transaction().unwrap();
        assert!(refresh_stale(&tx).unwrap() > 0);
        tx.commit().unwrap();
    }
    assert_eq!(count(&store, "SELECT COUNT(*) FROM stats_stale"), 0);
    assert_same(&store, "rebuilt");

    // More runs on top, then the running ones end.
    fill(&store, &mut rng, 300, 100);
    let running: Vec<String> = {
        let conn = store.lock();
        let mut stmt = conn.prepare("SELECT id FROM runs WHERE status = 'running'").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    for id in &running {
        store
            .finish_run(&outcome(id, RunStatus::Failed, base(), base()), None)
            .unwrap();
    }
    assert_same(&store, "all ended");
}

#[test]
fn whole_hours_are_read_from_the_summary() {
    let (_dir, store) = temp_store();
    fill(&store, &mut Lcg(7), 0, 60);
    let since = base() - Duration::hours(1);
    let before = store.provider_stats(since).unwrap();
    let runs = store.runs_since(since).unwrap();
    {
        let conn = store.lock();
        conn.execute("UPDATE stats_hours SET total = total + 1000", []).unwrap();
        conn.execute("UPDATE stats_runs SET n = n + 1 WHERE status = 'success'", [])
            .unwrap();
    }
    let after = store.provider_stats(since).unwrap();
    assert_eq!(
        after.iter().map(|p| p.total).sum::<u64>(),
        before.iter().map(|p| p.total).sum::<u64>() + 1000 * count(&store, "SELECT COUNT(*) FROM stats_hours") as u64
    );
    assert!(store.runs_since(since).unwrap().success > runs.success);
}

#[test]
fn the_migration_sums_the_rows_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowpilot.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        MIGRATIONS.to_version(&mut conn, 10).unwrap();
        let mut rng = Lcg(3);
        for r in 1..=120_i64 {
            let started = base() + Duration::milliseconds(rng.next(30 * 3_600_000) as i64);
            let status = ["success", "failed", "cancelled", "interrupted", "running"][rng.next(5) as usize];
            let finished = (status != "running").then(|| ts(&(started + Duration::seconds(40))));
            conn.execute(
                "INSERT INTO runs (seq, id, plan_name, trigger_kind, status, started_at, finished_at)
                 VALUES (?1, ?2, 'old plan', 'cron', ?3, ?4, ?5)",
                rusqlite::params![r, format!("old-{r:03}"), status, ts(&started), finished],
            )
            .unwrap();
            for n in 0..rng.next(5) {
                let provider = PROVIDERS[rng.next(4) as usize];
                let step_status = STEP_STATUSES[rng.next(6) as usize].as_str();
                conn.execute(
                    "INSERT INTO step_logs (run, step_number, provider, action, status, attempt, message, latency_ms, timestamp)
                     VALUES (?1, ?2, ?3, 'act', ?4, 1, '', ?5, ?6)",
                    rusqlite::params![r, n as i64, provider, step_status, rng.next(3_000) as i64, ts(&started)],
                )
                .unwrap();
            }
        }
    }
    let store = Store::open(&path).unwrap();
    assert!(count(&store, "SELECT COUNT(*) FROM stats_hours") > 0);
    assert!(count(&store, "SELECT COUNT(*) FROM stats_slowest") > 0);
    assert_same(&store, "migrated");
    // New runs on top of the migrated ones.
    fill(&store, &mut Lcg(4), 0, 50);
    assert_same(&store, "migrated, then written");
}
