//! Figures for event triggers, each printed beside its floor (what the same
//! work costs without Flowpilot). Asserts nothing.
//!
//! 1. Through the webhook in `sync` mode, from a load generator on this machine
//!    (a reqwest client on its own runtime): median and p95 latency of a trivial
//!    plan (one `logic.set`: a plan has at least one step) and of a 10-step plan
//!    (10 GETs to a local HTTP server), and runs/s with 4 concurrent clients.
//!    Floors: a bare HTTP round trip to a local server, and 10 of them.
//!    Then a backlog: 300 calls in `async` mode to a plan that runs one event at
//!    a time (`overlap: queue`), with small and with 256 KiB bodies, drained: the
//!    queue is looked over at every run's end, so its cost must not grow with
//!    the bodies waiting in it. Floor: the same calls with small bodies.
//! 2. `flowpilot-cli serve` with 50 polling triggers (a local JSON API, the
//!    default 120 s interval) and 50 schedules, once its start-up checks are
//!    done: CPU time and wake-ups (context switches of all its threads) per minute.
//!
//! `cargo bench -p flowpilot-tests --bench triggers`

use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::scheduler::{NoSink, Scheduler};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::triggers::TriggerRunner;
use flowpilot_tests::ItemsApi;
use flowpilot_tests::target::Target;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEQUENTIAL: usize = 300;
const CONCURRENT_FOR: Duration = Duration::from_secs(10);
const CLIENTS: usize = 4;
const IDLE_FOR: Duration = Duration::from_secs(60);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and 95th percentile.
fn quantiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| ms(samples[((samples.len() as f64 - 1.0) * q).round() as usize]);
    (at(0.5), at(0.95))
}

fn trivial_plan() -> Value {
    json!({"name": "bench trivial", "status": "active", "trigger": {"type": "webhook", "respond": "sync"},
           "steps": [{"provider": "logic", "action": "set", "params": {"value": "${trigger.payload.n}"}}]})
}

fn backlog_plan(name: &str) -> Value {
    json!({"name": name, "status": "active", "trigger": {"type": "webhook", "overlap": "queue"},
           "steps": [{"provider": "logic", "action": "set", "params": {"value": "${trigger.payload.n}"}}]})
}

/// Calls in a row to an `async` webhook (each answered at once), then the time
/// until every run they started has ended: runs/s.
fn backlog(rt: &tokio::runtime::Runtime, app: &Flowpilot, plan_id: &str, url: &str, body_bytes: usize) -> f64 {
    const CALLS: usize = 300;
    let padding = "x".repeat(body_bytes);
    let start = Instant::now();
    rt.block_on(async {
        let client = reqwest::Client::new();
        for n in 0..CALLS {
            let answer = client
                .post(url)
                .json(&json!({"n": n, "padding": padding}))
                .send()
                .await
                .expect("call");
            assert_eq!(answer.status().as_u16(), 202, "{:?}", answer.text().await);
        }
    });
    let filter = flowpilot_core::store::RunFilter {
        plan_id: Some(plan_id.to_string()),
        status: Some(flowpilot_engine::RunStatus::Success),
        ..Default::default()
    };
    let page = flowpilot_core::store::Page { limit: 1, offset: 0 };
    // Polling the store: a measurement, not a test's synchronisation.
    loop {
        let succeeded = app.list_runs(&filter, page).map(|(_, total)| total).unwrap_or(0);
        if succeeded >= CALLS as u64 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "the backlog did not drain");
        std::thread::sleep(Duration::from_millis(5));
    }
    CALLS as f64 / start.elapsed().as_secs_f64()
}

fn ten_gets_plan(target: &Target) -> Value {
    let steps: Vec<Value> = (0..10)
        .map(|_| json!({"provider": "http", "action": "request", "params": {"url": target.url("/json")}}))
        .collect();
    json!({"name": "bench ten GETs", "status": "active", "trigger": {"type": "webhook", "respond": "sync"}, "steps": steps})
}

/// A client on a runtime of its own, so the load generator does not share the server's threads.
fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime")
}

fn latencies(rt: &tokio::runtime::Runtime, url: &str, n: usize) -> Vec<Duration> {
    let url = url.to_string();
    rt.block_on(async move {
        let client = reqwest::Client::new();
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 20 {
            let t = Instant::now();
            let r = client.post(&url).json(&json!({"n": i})).send().await.expect("call");
            assert!(r.status().is_success(), "{}", r.status());
            let _ = r.bytes().await;
            if i >= 20 {
                out.push(t.elapsed());
            }
        }
        out
    })
}

fn bare_latencies(rt: &tokio::runtime::Runtime, url: &str, n: usize, per_call: usize) -> Vec<Duration> {
    let url = url.to_string();
    rt.block_on(async move {
        let client = reqwest::Client::new();
        let mut out = Vec::with_capacity(n);
        for i in 0..n + 20 {
            let t = Instant::now();
            for _ in 0..per_call {
                let _ = client.get(&url).send().await.expect("get").bytes().await;
            }
            if i >= 20 {
                out.push(t.elapsed());
            }
        }
        out
    })
}

/// Calls per second from `CLIENTS` clients calling in a loop for `CONCURRENT_FOR`;
/// a bare call (not `post`) is `per_call` GETs in a row.
fn throughput(rt: &tokio::runtime::Runtime, url: &str, post: bool, per_call: usize) -> f64 {
    let url = url.to_string();
    rt.block_on(async move {
        let client = reqwest::Client::new();
        let start = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while start.elapsed() < CONCURRENT_FOR {
                        for _ in 0..if post { 1 } else { per_call } {
                            let request = if post {
                                client.post(&url).json(&json!({"n": n}))
                            } else {
                                client.get(&url)
                            };
                            let r = request.send().await.expect("call");
                            assert!(r.status().is_success(), "{}", r.status());
                            let _ = r.bytes().await;
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("client");
        }
        total as f64 / start.elapsed().as_secs_f64()
    })
}

fn webhook_figures() {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (target, app, urls) = server_rt.block_on(async {
        let target = Target::start().await;
        let app = Arc::new(
            Flowpilot::open(Options {
                data_dir: Some(dir.path().into()),
                keychain: Some(Keychain::unavailable("not used")),
                ..Options::default()
            })
            .expect("open"),
        );
        let scheduler = Scheduler::new(app.clone(), Arc::new(NoSink));
        let runner = TriggerRunner::new(app.clone(), scheduler, "bench", Some(0));
        runner.start().await;
        let trivial = app
            .import_plan(&trivial_plan().to_string(), flowpilot_core::api::Activation::Activate)
            .expect("plan");
        let ten = app
            .import_plan(
                &ten_gets_plan(&target).to_string(),
                flowpilot_core::api::Activation::Activate,
            )
            .expect("plan");
        let small = app
            .import_plan(
                &backlog_plan("bench backlog").to_string(),
                flowpilot_core::api::Activation::Activate,
            )
            .expect("plan");
        let big = app
            .import_plan(
                &backlog_plan("bench big backlog").to_string(),
                flowpilot_core::api::Activation::Activate,
            )
            .expect("plan");
        let urls = (
            runner.webhook_url(&trivial.id).expect("url"),
            runner.webhook_url(&ten.id).expect("url"),
            (small.id.clone(), runner.webhook_url(&small.id).expect("url")),
            (big.id.clone(), runner.webhook_url(&big.id).expect("url")),
        );
        std::mem::forget(runner); // keep serving until the process ends
        (target, app, urls)
    });
    let (trivial_url, ten_url, (small_id, small_url), (big_id, big_url)) = urls;
    let rt = client_runtime();
    let bare = target.url("/json");

    let (p50, p95) = quantiles(latencies(&rt, &trivial_url, SEQUENTIAL));
    let (f50, f95) = quantiles(bare_latencies(&rt, &bare, SEQUENTIAL, 1));
    println!(
        "webhook sync, trivial plan:   median {p50:6.2} ms, p95 {p95:6.2} ms   (floor, one bare HTTP round trip: median {f50:5.2} ms, p95 {f95:5.2} ms)"
    );
    let (p50, p95) = quantiles(latencies(&rt, &ten_url, SEQUENTIAL));
    let (f50, f95) = quantiles(bare_latencies(&rt, &bare, SEQUENTIAL, 11));
    println!(
        "webhook sync, 10 GETs plan:   median {p50:6.2} ms, p95 {p95:6.2} ms   (floor, 11 bare round trips: median {f50:5.2} ms, p95 {f95:5.2} ms)"
    );
    let runs = throughput(&rt, &trivial_url, true, 1);
    let floor = throughput(&rt, &bare, false, 1);
    println!(
        "webhook sync, {CLIENTS} clients:        {runs:7.1} runs/s            (floor, bare requests: {floor:7.1} /s)"
    );
    let runs = throughput(&rt, &ten_url, true, 1);
    let floor = throughput(&rt, &bare, false, 11);
    println!(
        "webhook sync, {CLIENTS} clients, 10 GETs: {runs:5.1} runs/s   (floor, 11 bare round trips each: {floor:.1} /s)"
    );
    let floor = backlog(&rt, &app, &small_id, &small_url, 16);
    let runs = backlog(&rt, &app, &big_id, &big_url, 256 * 1024);
    println!(
        "webhook backlog, overlap queue, 300 calls of 256 KiB: {runs:7.1} runs/s   (floor, the same with small bodies: {floor:7.1} /s)"
    );
    drop(server_rt);
}

/// Total CPU time (user + system) and context switches of a process's threads.
fn usage(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    let hz = 100.0; // USER_HZ on Linux
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches:") || line.starts_with("nonvoluntary_ctxt_switches:") {
                    switches += line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
    (Duration::from_secs_f64(ticks as f64 / hz), switches)
}

fn serve_figures() {
    let rt = client_runtime();
    let api = rt.block_on(ItemsApi::start());
    api.set_items(
        (0..20)
            .map(|i| json!({"id": i, "title": format!("item {i}")}))
            .collect(),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let app = Flowpilot::open(Options {
            data_dir: Some(dir.path().into()),
            keychain: Some(Keychain::unavailable("not used")),
            ..Options::default()
        })
        .expect("open");
        for i in 0..50 {
            let poll = json!({"name": format!("poll {i}"), "status": "active",
                "trigger": {"type": "poll", "url": api.items_url(), "items": "$.items"},
                "steps": [{"provider": "logic", "action": "set", "params": {"value": "${trigger.item.id}"}}]});
            app.import_plan(&poll.to_string(), flowpilot_core::api::Activation::Activate)
                .expect("plan");
            // Schedules that do not fire while this measures.
            let cron = json!({"name": format!("cron {i}"), "status": "active",
                "trigger": {"type": "cron", "cron_expression": format!("{} 3 * * *", i % 60), "timezone": "UTC"},
                "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]});
            app.import_plan(&cron.to_string(), flowpilot_core::api::Activation::Activate)
                .expect("plan");
        }
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["serve", "--port", "0"])
        .env("FLOWPILOT_DATA_DIR", dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let pid = child.id();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut baselines = 0;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("trigger baseline recorded") {
                baselines += 1;
                if baselines == 50 {
                    let _ = tx.send(());
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120)).expect("50 baselines");
    let (cpu0, sw0) = usage(pid);
    let t = Instant::now();
    std::thread::sleep(IDLE_FOR); // the measurement window itself, not a synchronisation
    let (cpu1, sw1) = usage(pid);
    let minutes = t.elapsed().as_secs_f64() / 60.0;
    let cpu = (cpu1 - cpu0).as_secs_f64();
    println!(
        "serve, 50 polling triggers (120 s) + 50 schedules: CPU {:.2} s/min ({:.2} % of one core), {:.0} wake-ups/min   (floor: the ~25 checks/min the triggers ask for)",
        cpu / minutes,
        cpu / minutes / 60.0 * 100.0,
        (sw1 - sw0) as f64 / minutes
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
}

fn main() {
    webhook_figures();
    serve_figures();
}
