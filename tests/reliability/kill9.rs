//! kill -9 during runs of the real `flowpilot-cli`, at random moments, from two
//! processes at once on one data folder: afterwards no run is lost, none is
//! left `running`, an interrupted run names the step that was in flight, and no
//! stale owner lock file is left behind.
//!
//! 50 kills by default; `FLOWPILOT_KILL9_COUNT=1000` for the long version,
//! `FLOWPILOT_KILL9_SEED=<n>` to replay the moments of a failed pass.

use crate::util::{Timed, arg, cli, command, json_out, write_plan};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;

/// What one killed process had said before it died.
#[derive(Debug, Default, Clone)]
struct Seen {
    run_id: Option<String>,
    /// The last progress line, e.g. `[2/5] delay.wait …`.
    last_line: Option<String>,
}

/// A small deterministic generator for the kill moments (seeded, printed).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn kill_plan() -> Value {
    json!({
        "name": "Killed mid-run",
        "steps": [
            {"provider": "logic", "action": "set", "params": {"value": "start"}},
            {"provider": "delay", "action": "wait", "params": {"seconds": 0.12}},
            {"provider": "logic", "action": "template", "params": {"template": "after ${steps.0.output}"}},
            {"provider": "delay", "action": "wait", "params": {"seconds": 0.12}},
            {"provider": "logic", "action": "set", "params": {"value": "done"}}
        ]
    })
}

/// Start a run, kill -9 it after `after`, and return what it said.
fn run_and_kill(data: &Path, plan: &Path, after: Duration) -> Seen {
    let mut child = command(data, &["run", arg(plan)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flowpilot-cli");
    let stderr = child.stderr.take().expect("piped stderr");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let reader = std::thread::spawn({
        let seen = seen.clone();
        move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(rest) = line.split("(run ").nth(1) {
                    seen.run_id = rest.split(',').next().map(str::to_string);
                }
                let trimmed = line.trim();
                if trimmed.starts_with('[') || trimmed.starts_with("ok in") {
                    seen.last_line = Some(trimmed.to_string());
                }
            }
        }
    });
    // The fault being injected: the moment of the kill, not a synchronisation.
    std::thread::sleep(after);
    let _ = child.kill(); // SIGKILL; it may have finished already
    let _ = child.wait();
    let _ = reader.join();
    seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The step (from 0) a progress line says started, e.g. `[2/5] delay.wait …` -> 1.
fn started_step(line: &str) -> Option<usize> {
    let n: usize = line.strip_prefix('[')?.split('/').next()?.parse().ok()?;
    line.ends_with('…').then(|| n - 1)
}

#[test]
fn kill_9_during_runs_loses_nothing_and_names_the_step_in_flight() {
    let _t = Timed::start("kill -9");
    let kills: usize = std::env::var("FLOWPILOT_KILL9_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("FLOWPILOT_KILL9_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(0x9E37_79B9_7F4A_7C15)
        });
    eprintln!("kill -9: {kills} kills, FLOWPILOT_KILL9_SEED={seed}");
    let data = tempfile::tempdir().unwrap();
    let plan = write_plan(data.path(), "killed.json", &kill_plan());
    // Create the database first, and time one whole run: the kills land anywhere
    // from before the database is open to just after the run ends, however
    // loaded the machine is.
    assert!(cli(data.path(), &["runs", "list"]).status.success());
    let timing = Instant::now();
    assert!(cli(data.path(), &["run", arg(&plan)]).status.success());
    let window_ms = (timing.elapsed().as_millis() as u64 * 13 / 10).max(650);

    let started = Instant::now();
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (data, plan) = (data.path(), plan.as_path());
                s.spawn(move || {
                    let mut rng = XorShift(seed.wrapping_add(w as u64 * 0x9E37_79B9));
                    (w..kills)
                        .step_by(WORKERS)
                        .map(|_| {
                            let after = Duration::from_millis(rng.next() % window_ms);
                            run_and_kill(data, plan, after)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a kill worker"))
            .collect()
    });
    let killing = started.elapsed();

    // The next start recovers; then nothing is running and nothing is lost.
    let listed = json_out(&cli(data.path(), &["runs", "list", "--json", "--limit", "1000000"]));
    let runs = listed["runs"].as_array().unwrap();
    let by_id = |id: &str| runs.iter().find(|r| r["id"] == id);
    let expected: Vec<&Seen> = seen.iter().filter(|s| s.run_id.is_some()).collect();
    let lost: Vec<&str> = expected
        .iter()
        .filter_map(|s| s.run_id.as_deref())
        .filter(|id| by_id(id).is_none())
        .collect();
    let running: Vec<&Value> = runs.iter().filter(|r| r["status"] == "running").collect();
    let mut named = 0;
    let mut interrupted = 0;
    for s in &expected {
        let run = by_id(s.run_id.as_deref().unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        if run["status"] != "interrupted" {
            continue;
        }
        interrupted += 1;
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("interrupted:"), "{run:#}");
        if let Some(step) = s.last_line.as_deref().and_then(started_step) {
            // That step was in flight when it died, unless its row made it just before.
            if run["in_flight"]["step_number"] == step {
                assert!(error.contains(&format!("step {} (", step + 1)), "{run:#}");
                assert!(error.contains("its outcome is unknown"), "{run:#}");
                named += 1;
            } else {
                let logs = json_out(&cli(data.path(), &["logs", run["id"].as_str().unwrap(), "--json"]));
                let rows = logs["logs"].as_array().unwrap();
                assert!(
                    rows.iter().any(|r| r["step_number"] == step),
                    "step {step} started, has no row, and is not named in flight: {run:#}\n{logs:#}"
                );
            }
        }
    }
    let owners: Vec<_> = std::fs::read_dir(data.path().join("owners"))
        .unwrap()
        .flatten()
        .collect();
    eprintln!(
        "kill -9: {kills} kills in {:.1} s, {} runs started, {} lost, {} left running, {interrupted} interrupted, \
         {named} of them named the step in flight, {} stale lock files",
        killing.as_secs_f64(),
        expected.len(),
        lost.len(),
        running.len(),
        owners.len()
    );
    assert!(lost.is_empty(), "runs lost: {lost:?}");
    assert!(running.is_empty(), "runs left running: {running:#?}");
    assert!(owners.is_empty(), "stale owner lock files: {owners:?}");
    assert!(interrupted > 0 && named > 0, "no kill landed mid-run: widen the window");
}
