//! The HTTP layer against hostile and broken servers: silences end at the idle
//! timeout, redirects are followed (at most five) and never carry a credential
//! to another origin, a bad certificate is named and not retried, and an endless
//! body is read to the cap and no further, in bounded memory.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::request::Request;
use flowpilot_engine::{ErrorCode, StepError, StepStatus};
use flowpilot_tests::cli::Cli;
use flowpilot_tests::hostile::{Hostile, TestCerts, TlsServer};
use flowpilot_tests::servers::or_skip;
use flowpilot_tests::{executor, plan, run};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const KEY: &str = "hostile-test-key-0123456789";

fn cli(dir: &Path) -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"), dir)
}

fn client() -> reqwest::Client {
    flowpilot_engine::http_client::default_http_client()
}

#[tokio::test]
async fn a_silent_server_ends_the_attempt_at_the_idle_timeout() {
    let hostile = Hostile::start().await;
    let never = CancellationToken::new();
    for path in ["/hold", "/trickle"] {
        let started = Instant::now();
        let request = Request::get(hostile.url(path).parse().unwrap()).idle_timeout(Duration::from_millis(300));
        let error = request.send(&client(), &never).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::Timeout, "{path}: {error}");
        assert!(error.is_retryable(), "{path}: a GET may be tried again: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
        // A write that went silent may have been done: not retried.
        let request = Request::post(hostile.url(path).parse().unwrap())
            .side_effects(true)
            .idle_timeout(Duration::from_millis(300));
        let error = request.send(&client(), &never).await.unwrap_err();
        assert!(matches!(error, StepError::Unknown { .. }), "{path}: {error:?}");
    }
}

fn step(url: &str, auth: bool) -> Value {
    let mut params = json!({"url": url});
    if auth {
        params["auth"] = json!({"type": "header", "credential": "key", "name": "X-Api-Key"});
    }
    json!({"provider": "http", "action": "request", "params": params, "retry": 1, "continue_on_error": true})
}

#[tokio::test]
async fn redirects_leave_credentials_behind_at_the_origin_and_stop_after_five() {
    let home = Hostile::start().await;
    let elsewhere = Hostile::start().await;
    let away = format!(
        "{}?to={}",
        home.url("/redirect"),
        elsewhere.url("/echo-secrets?status=200")
    );
    let same = format!("{}?to=/echo-secrets%3Fstatus%3D200&status=307", home.url("/redirect"));
    let plan = plan(&json!({"name": "redirects", "steps": [
        step(&away, true),
        step(&same, true),
        step(&home.url("/chain/5"), false),
        step(&home.url("/chain/6"), false),
    ]}));
    let credentials = StaticCredentials::default().with("http", "key", KEY);
    let run = run(&executor(credentials), plan).await;

    // Across origins: followed, and the key stayed at home.
    let record = run.assert_step(0, StepStatus::Success);
    assert_eq!(record.metadata["redirects"], 1, "{record:#?}");
    let there = elsewhere.only_request();
    assert_eq!(there.header("x-api-key"), None, "{there:#?}");
    assert!(!there.text().contains(KEY));
    // Within the origin: followed with the key.
    run.assert_step(1, StepStatus::Success);
    let echoed: Vec<_> = home.requests_to("/echo-secrets");
    assert_eq!(echoed.len(), 1);
    assert_eq!(echoed[0].header("x-api-key"), Some(KEY));
    // Five redirects are followed; the sixth is refused, and said so.
    assert_eq!(run.assert_step(2, StepStatus::Success).output, json!("arrived"));
    let refused = run.assert_step(3, StepStatus::Error);
    assert_eq!(refused.error, Some(ErrorCode::Redirect), "{refused:#?}");
    assert!(refused.message.contains("more than 5 redirects"), "{}", refused.message);
    run.assert_never_shows(KEY);
}

/// The certificates need the openssl CLI; the client must trust the test CA,
/// which the OS verifier reads from `SSL_CERT_FILE` — so this runs the CLI.
#[tokio::test(flavor = "multi_thread")]
async fn bad_certificates_are_named_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let Some(certs) = or_skip(TestCerts::generate(dir.path())) else {
        return;
    };
    let good = TlsServer::start(certs.cert("good")).await;
    let expired = TlsServer::start(certs.cert("expired")).await;
    let wrong_name = TlsServer::start(certs.cert("wrong-name")).await;
    let self_signed = TlsServer::start(certs.cert("self-signed")).await;
    let hostile = Hostile::start().await;
    let upgrade = format!("{}?to={}", hostile.url("/redirect"), good.url("/after-upgrade"));
    let retried = |url: String| json!({"provider": "http", "action": "request", "params": {"url": url}, "retry": {"max_attempts": 3, "backoff_ms": 10}, "continue_on_error": true});
    let upgrade_step = step(&upgrade, false);
    let plan = json!({"name": "certificates", "steps": [
        retried(good.url("/")),
        retried(expired.url("/")),
        retried(wrong_name.url("/")),
        retried(self_signed.url("/")),
        upgrade_step,
    ]});
    let file = dir.path().join("plan.json");
    std::fs::write(&file, plan.to_string()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let cli = cli(data.path()).env("SSL_CERT_FILE", &certs.ca_pem);
    let out = {
        let cli = cli.clone();
        let file = file.to_string_lossy().into_owned();
        tokio::task::spawn_blocking(move || cli.run(&["run", &file, "--json"]))
            .await
            .unwrap()
    };
    let record = out.json();
    let steps = record["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "success", "{record:#}");
    assert_eq!(steps[0]["output"], "ok");
    for (index, words) in [(1, "has expired"), (2, "another host name"), (3, "self-signed")] {
        let s = &steps[index];
        assert_eq!(s["status"], "error", "{s:#}");
        assert_eq!(s["error"], "TLS", "{s:#}");
        assert_eq!(s["attempt"], 1, "a certificate problem is not retried: {s:#}");
        let message = s["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
        assert!(!message.contains("server is up"), "{message}");
    }
    assert_eq!((expired.served(), wrong_name.served(), self_signed.served()), (0, 0, 0));
    // An http → https upgrade is followed (as another origin: what leaves a
    // credential behind is pinned by the redirect test above).
    assert_eq!(steps[4]["status"], "success", "{:#}", steps[4]);
    assert!(
        good.requests().iter().any(|r| r.starts_with("GET /after-upgrade ")),
        "{:?}",
        good.requests()
    );
}

/// Peak memory of the CLI over a whole run (`/usr/bin/time -f %M`, in KiB).
fn peak_rss_kib(cli: &Cli, plan: &Value, dir: &Path) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        return None;
    }
    let file = dir.join(format!("plan-{}.json", plan["name"].as_str().unwrap_or("x")));
    std::fs::write(&file, plan.to_string()).expect("write the plan file");
    let out = std::process::Command::new(time)
        .args(["-f", "peak %M"])
        .arg(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(["run", &file.to_string_lossy(), "--json"])
        .env("FLOWPILOT_DATA_DIR", cli.data_dir())
        .output()
        .expect("run the CLI under /usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak "))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_body_is_cut_at_the_cap_in_bounded_memory() {
    let hostile = Hostile::start().await;
    let data = tempfile::tempdir().unwrap();
    let cli = cli(data.path());
    let small = json!({"name": "small", "steps": [{"provider": "http", "action": "request", "params": {"url": hostile.url("/ok")}}]});
    let endless = json!({"name": "endless", "steps": [{"provider": "http", "action": "request", "params": {"url": hostile.url("/endless")}}]});
    let measured = tokio::task::spawn_blocking(move || {
        let dir = cli.data_dir().to_path_buf();
        // Warm the database up first, so both runs find it the same.
        let _ = peak_rss_kib(&cli, &small, &dir);
        Some((peak_rss_kib(&cli, &small, &dir)?, peak_rss_kib(&cli, &endless, &dir)?))
    })
    .await
    .unwrap();
    let Some((small, endless)) = measured else {
        assert!(
            std::env::var_os("FLOWPILOT_REQUIRE_SERVERS").is_none(),
            "/usr/bin/time is needed to measure the CLI's memory (package `time`)"
        );
        eprintln!("skipped: /usr/bin/time is not installed");
        return;
    };
    let growth_mib = endless.saturating_sub(small) as f64 / 1024.0;
    eprintln!("CLI peak memory: {small} KiB for a small body, {endless} KiB for an endless one (+{growth_mib:.1} MiB)");
    // The cap is 10 MiB; everything beyond it stays within 30 MiB.
    assert!(growth_mib <= 40.0, "memory grew by {growth_mib:.1} MiB");
}
