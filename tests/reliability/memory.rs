//! Memory over many runs: the facade (the app's core, without its window) runs
//! thousands of scheduled-style runs in a process of its own, and its memory
//! must level off rather than rise with every run (SQLite's page cache used to
//! grow with the file up to 2 MiB: about 1.5 kB a run for the first 1,500 runs).
//! `FLOWPILOT_MEMORY_RUNS` (default 2,000) sets how many; with 10,000 the
//! growth from run 1,000 on is printed as a percentage too.

use flowpilot_core::api::{Activation, Flowpilot, Options};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::run::NoObserver;
use std::process::Command;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Set in the child process that does the runs.
const CHILD: &str = "FLOWPILOT_MEMORY_CHILD";

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The runs themselves, in a process of their own (the test binary again), so
/// other tests running meanwhile do not move its memory.
#[test]
#[ignore = "run by memory_levels_off_over_many_runs in a process of its own"]
fn memory_child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let runs: usize = std::env::var("FLOWPILOT_MEMORY_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let data = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = Arc::new(
            Flowpilot::open(Options {
                data_dir: Some(data.path().to_path_buf()),
                keychain: Some(Keychain::unavailable("not needed")),
                clock: None,
            })
            .unwrap(),
        );
        let plan = r#"{"name": "Tick", "steps": [
            {"provider": "logic", "action": "set", "params": {"value": "${run.id}"}},
            {"provider": "logic", "action": "template", "params": {"template": "run ${steps.0.output} of ${plan.name}"}}]}"#;
        let id = app.import_plan(plan, Activation::Activate).unwrap().id;
        for n in 1..=runs {
            let target = app.resolve_stored(&id).unwrap();
            app.run_plan(target, "cron", Arc::new(NoObserver), None, CancellationToken::new())
                .await
                .unwrap();
            // The app lists the last run after each one (the tray's status line).
            app.list_runs(&Default::default(), Default::default()).unwrap();
            if n % 250 == 0 {
                println!("MEMORY {n} {}", rss_kib());
            }
        }
    });
}

#[test]
fn memory_levels_off_over_many_runs() {
    let _t = crate::util::Timed::start("memory over many runs");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "memory::memory_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let samples: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| l.split("MEMORY ").nth(1))
        .filter_map(|l| {
            let mut parts = l.split_whitespace().map(|p| p.parse::<u64>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .collect();
    eprintln!("memory (runs, RSS KiB): {samples:?}");
    assert!(samples.len() >= 3, "{text}");
    // From run 500 on (before that: start-up, and the caches filling), per run.
    let (first_runs, first_rss) = samples[1];
    let (last_runs, last_rss) = samples[samples.len() - 1];
    let per_run = (last_rss.saturating_sub(first_rss) * 1024) / (last_runs - first_runs);
    let percent = (last_rss as f64 - first_rss as f64) * 100.0 / first_rss as f64;
    eprintln!("memory: {per_run} bytes per run from run {first_runs} to run {last_runs} ({percent:+.2} %)");
    assert!(per_run < 200, "memory rises by {per_run} bytes per run: {samples:?}");
}
