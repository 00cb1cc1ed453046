//! The engine's own overhead per step: reference resolution plus the durable log
//! write, with the provider answering from 127.0.0.1. Prints figures; asserts
//! nothing (targets belong here, not in timed tests).
//!
//! `cargo bench -p flowpilot-tests --bench overhead`

use flowpilot_core::api::{Flowpilot, Options, ResolvedPlan};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::references::{self, Scope};
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{Plan, RunStatus};
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 200;

fn chained_plan(target: &Target, steps: usize) -> Value {
    let mut list =
        vec![json!({"id": "s0", "provider": "http", "action": "request", "params": {"url": target.url("/json")}})];
    for i in 1..steps {
        list.push(json!({
            "id": format!("s{i}"), "provider": "http", "action": "request",
            "params": {"url": target.url("/json"), "query": {"previous": format!("${{steps.{}.output.message}}", i - 1), "n": "${run.id}"}}
        }));
    }
    json!({"name": format!("bench {steps}"), "steps": list})
}

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = Arc::new(
        Flowpilot::open(Options {
            data_dir: Some(dir.path().into()),
            keychain: Some(Keychain::unavailable("not used")),
            ..Options::default()
        })
        .expect("open"),
    );

    // Baseline: the bare HTTP round trip the provider makes, same client settings.
    let client = flowpilot_engine::http_client::default_http_client();
    let url = target.url("/json");
    for _ in 0..50 {
        let _warm = client.get(&url).send().await.expect("get").bytes().await;
    }
    let t = Instant::now();
    for _ in 0..RUNS * 5 {
        let _body = client.get(&url).send().await.expect("get").bytes().await;
    }
    let http_us = per(t.elapsed(), RUNS * 5);

    // Reference resolution alone.
    let mut scope = Scope::new(json!({"name": "bench"}), json!({"id": "r"}), json!({}));
    scope.push_step(
        Some("s0".into()),
        json!({"success": true, "output": {"message": "hello", "items": [1, 2, 3]}, "message": "", "metadata": {}}),
    );
    let params = json!({"url": "http://x/${steps.s0.output.message}", "query": {"a": "${steps.0.output.items[1]}", "b": "${run.id}"}});
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(references::resolve(&params, &scope).expect("resolve"));
    }
    let resolve_us = per(t.elapsed(), n);

    println!("HTTP round trip to 127.0.0.1 (baseline): {http_us:8.1} µs");
    println!("reference resolution, 3 references:       {resolve_us:8.2} µs");

    for steps in [1usize, 10] {
        let plan = Plan::from_value(chained_plan(&target, steps), &app.registry()).expect("plan");
        for _ in 0..10 {
            run(&app, &plan).await;
        }
        let t = Instant::now();
        for _ in 0..RUNS {
            run(&app, &plan).await;
        }
        let per_run = per(t.elapsed(), RUNS);
        let overhead_per_step = (per_run - steps as f64 * http_us) / steps as f64;
        println!(
            "{steps:2}-step plan through the facade (durable logging): {per_run:8.1} µs/run, engine overhead {overhead_per_step:7.1} µs/step"
        );
    }

    // The same 10-step run through the CLI: process start, DB open, run, exit.
    let exe = env!("CARGO_BIN_EXE_flowpilot-cli-under-test");
    let file = dir.path().join("bench10.json");
    std::fs::write(&file, chained_plan(&target, 10).to_string()).expect("write plan");
    let cli_runs = 20;
    let t = Instant::now();
    for _ in 0..cli_runs {
        let out = tokio::process::Command::new(exe)
            .args(["run", file.to_str().unwrap_or_default()])
            .env("FLOWPILOT_DATA_DIR", dir.path())
            .output()
            .await
            .expect("cli");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    println!(
        "10-step plan through the CLI:               {:8.1} ms/run (process start included)",
        per(t.elapsed(), cli_runs) / 1000.0
    );
}

async fn run(app: &Arc<Flowpilot>, plan: &Plan) {
    let target = ResolvedPlan {
        plan_id: None,
        version: None,
        plan: plan.clone(),
    };
    let outcome = app
        .run_plan(target, "bench", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .expect("run");
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
}
