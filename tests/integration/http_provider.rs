//! The `http` provider against a real server: bodies, auth and redaction,
//! status handling, retries, timeouts, caps and cancellation.

use flowpilot_engine::providers::http::Http;
use flowpilot_engine::registry::{Credentials, NoCredentials, Provider, StaticCredentials, StepContext};
use flowpilot_engine::request::Request;
use flowpilot_engine::{ProviderResult, RunStatus, StepError, StepStatus};
use flowpilot_tests::run::is_truncated_output;
use flowpilot_tests::target::{HUGE_BYTES, sample_json};
use flowpilot_tests::{Target, executor, plan, plan_issues, run, run_with_cancel};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Has characters that URL encoding changes, so a leak of the encoded form would show.
const SECRET: &str = "sk-test+s3cr3t/value=";

/// A one-step `http.request` plan that retries quickly.
fn request(params: Value) -> Value {
    json!({
        "name": "http test",
        "steps": [{
            "provider": "http",
            "action": "request",
            "params": params,
            "retry": {"max_attempts": 3, "backoff_ms": 10}
        }]
    })
}

fn no_credentials() -> flowpilot_engine::Executor {
    executor(StaticCredentials::default())
}

#[tokio::test]
async fn a_json_response_is_parsed_and_described() {
    let target = Target::start().await;
    let url = target.url("/json");
    let run = run(&no_credentials(), plan(&request(json!({"method": "GET", "url": url})))).await;

    assert_eq!(run.outcome.status, RunStatus::Success);
    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.output, sample_json());
    assert_eq!(step.message, format!("GET {url} -> 200 OK"));
    assert_eq!(step.metadata["status"], 200);
    assert_eq!(step.metadata["url"], url);
    assert_eq!(step.metadata["headers"]["content-type"], "application/json");
    assert_eq!(step.attempt, 1);
    assert_eq!(target.only_request().method, "GET");
}

#[tokio::test]
async fn unlabelled_json_is_parsed_and_text_stays_text() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&json!({
            "name": "bodies",
            "steps": [
                {"provider": "http", "action": "request", "params": {"url": target.url("/json?content_type=text/plain")}},
                {"provider": "custom_api", "action": "request", "params": {"url": target.url("/text")}}
            ]
        })),
    )
    .await;

    assert_eq!(run.assert_step(0, StepStatus::Success).output, sample_json());
    assert_eq!(run.assert_step(1, StepStatus::Success).output, json!("hello, world"));
}

#[tokio::test]
async fn text_in_a_declared_charset_is_decoded() {
    let target = Target::start().await;
    let run = run(&no_credentials(), plan(&request(json!({"url": target.url("/latin1")})))).await;
    assert_eq!(run.assert_step(0, StepStatus::Success).output, json!("Café crème"));
}

#[tokio::test]
async fn a_json_body_query_and_headers_arrive_as_written() {
    let target = Target::start().await;
    let body = json!({"name": "Ada", "tags": ["math", "engines"], "age": 36});
    let run = run(
        &no_credentials(),
        plan(&request(json!({
            "method": "POST",
            "url": target.url("/echo"),
            "headers": {"X-Trace": "abc-1", "X-Count": 3},
            "query": {"page": 2, "q": "a b&c"},
            "body": body,
        }))),
    )
    .await;

    run.assert_step(0, StepStatus::Success);
    let got = target.only_request();
    assert_eq!(got.method, "POST");
    assert_eq!(got.json(), body);
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-trace"), Some("abc-1"));
    assert_eq!(got.header("x-count"), Some("3"));
    assert_eq!(got.query_param("page"), Some("2"));
    assert_eq!(got.query_param("q"), Some("a b&c"));
    assert_eq!(run.step(0).output["json"], body, "the echo is the parsed output");
}

#[tokio::test]
async fn text_and_form_bodies_are_encoded_for_their_type() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&json!({
            "name": "bodies",
            "steps": [
                {"provider": "http", "action": "request", "params": {
                    "method": "PUT", "url": target.url("/echo"), "body": "plain words"}},
                {"provider": "http", "action": "request", "params": {
                    "method": "POST", "url": target.url("/echo"), "body_type": "form",
                    "body": {"name": "Ada Lovelace", "tag": ["a", "b"], "n": 1}}},
                {"provider": "http", "action": "request", "params": {
                    "method": "POST", "url": target.url("/echo"), "body": "<x/>",
                    "headers": {"Content-Type": "application/xml"}}}
            ]
        })),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Success, "{:#?}", run.outcome);
    let got = target.requests();
    assert_eq!(got[0].text(), "plain words");
    assert_eq!(got[0].header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(got[1].text(), "n=1&name=Ada+Lovelace&tag=a&tag=b");
    assert_eq!(got[1].header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(got[2].text(), "<x/>");
    assert_eq!(got[2].header("content-type"), Some("application/xml"));
}

/// Run a GET of `/echo` with `auth`, the secret stored as `http.token`.
async fn with_auth(auth: Value) -> (flowpilot_tests::Run, flowpilot_tests::Recorded) {
    let target = Target::start().await;
    let credentials = StaticCredentials::default().with("http", "token", SECRET);
    let run = run(
        &executor(credentials),
        plan(&request(json!({"url": target.url("/echo?page=1"), "auth": auth}))),
    )
    .await;
    run.assert_step(0, StepStatus::Success);
    // Neither the secret nor its URL-encoded form may show anywhere.
    run.assert_never_shows(SECRET);
    run.assert_never_shows("sk-test%2Bs3cr3t");
    (run, target.only_request())
}

#[tokio::test]
async fn bearer_auth_is_sent_and_masked_in_everything_recorded() {
    let (run, got) = with_auth(json!({"type": "bearer", "credential": "token"})).await;
    assert_eq!(got.header("authorization"), Some(format!("Bearer {SECRET}").as_str()));
    assert_eq!(run.step(0).output["headers"]["authorization"], "Bearer ***");
}

#[tokio::test]
async fn basic_auth_is_sent_with_the_username() {
    let (_, got) = with_auth(json!({"type": "basic", "credential": "token", "username": "ada"})).await;
    // base64("ada:sk-test+s3cr3t/value=")
    assert_eq!(
        got.header("authorization"),
        Some("Basic YWRhOnNrLXRlc3QrczNjcjN0L3ZhbHVlPQ==")
    );
}

#[tokio::test]
async fn header_auth_is_sent_and_masked() {
    let (run, got) = with_auth(json!({"type": "header", "credential": "token", "name": "X-Api-Key"})).await;
    assert_eq!(got.header("x-api-key"), Some(SECRET));
    assert_eq!(run.step(0).output["headers"]["x-api-key"], "***");
}

#[tokio::test]
async fn query_auth_is_sent_and_masked_even_in_the_url() {
    let (run, got) = with_auth(json!({"type": "query", "credential": "token", "name": "api_key"})).await;
    assert_eq!(got.query_param("api_key"), Some(SECRET));
    assert_eq!(got.query_param("page"), Some("1"));
    let step = run.step(0);
    assert_eq!(step.output["query"]["api_key"], "***");
    let url = step.metadata["url"].as_str().unwrap();
    assert!(url.ends_with("/echo?page=1&api_key=***"), "{url}");
    assert!(step.message.contains("api_key=***"), "{}", step.message);
}

#[tokio::test]
async fn a_missing_credential_fails_before_sending_and_says_how_to_set_it() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&request(
            json!({"url": target.url("/echo"), "auth": {"type": "bearer", "credential": "token"}}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(
        step.error.map(|e| e.as_string()).as_deref(),
        Some("MISSING_CREDENTIALS")
    );
    assert_eq!(step.attempt, 1);
    assert!(step.message.contains("credentials set http token"), "{}", step.message);
    assert!(target.requests().is_empty());
}

#[tokio::test]
async fn not_found_is_fatal_on_the_first_attempt() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&request(json!({"url": target.url("/status/404")}))),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Failed);
    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(step.attempt, 1);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("HTTP_404"));
    assert!(step.message.contains("-> 404 Not Found"), "{}", step.message);
    assert!(
        step.message.contains(r#"{"status":404}"#),
        "the body excerpt: {}",
        step.message
    );
    assert!(run.retries().is_empty());
    assert_eq!(target.requests().len(), 1);
}

#[tokio::test]
async fn accept_status_turns_a_listed_status_into_success() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&request(
            json!({"url": target.url("/status/404"), "accept_status": [200, 404]}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.output, json!({"status": 404}));
    assert_eq!(step.metadata["status"], 404);
}

#[tokio::test]
async fn a_service_unavailable_is_retried_until_it_succeeds() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&request(json!({"url": target.url("/flaky/svc?fail=2")}))),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.attempt, 3);
    assert_eq!(step.output, json!({"attempt": 3}));
    let retries = run.retries();
    assert_eq!(retries.len(), 2);
    for (record, _) in retries {
        assert_eq!(record.status, StepStatus::Retrying);
        assert_eq!(record.error.map(|e| e.as_string()).as_deref(), Some("HTTP_503"));
        assert!(
            record.message.contains("failure"),
            "the body excerpt: {}",
            record.message
        );
    }
    assert_eq!(target.requests().len(), 3);
}

#[tokio::test]
async fn too_many_requests_waits_as_long_as_retry_after_says() {
    let target = Target::start().await;
    let run = run(
        &no_credentials(),
        plan(&request(
            json!({"url": target.url("/flaky/rl?fail=1&status=429&retry_after=1")}),
        )),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Success);
    assert_eq!(step.attempt, 2);
    let retries = run.retries();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0.error.map(|e| e.as_string()).as_deref(), Some("HTTP_429"));
    assert_eq!(retries[0].1, 1_000, "Retry-After wins over the 10 ms backoff");
    let got = target.requests();
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(990), "the retry came after {gap:?}");
}

#[tokio::test]
async fn a_stalled_response_hits_the_step_timeout() {
    let target = Target::start().await;
    let started = Instant::now();
    let run = run(
        &no_credentials(),
        plan(&json!({
            "name": "stall",
            "steps": [{"provider": "http", "action": "request", "params": {"url": target.url("/stall")},
                       "timeout_s": 0.5, "retry": 1}]
        })),
    )
    .await;

    assert_eq!(run.outcome.status, RunStatus::Failed);
    let step = run.assert_step(0, StepStatus::Timeout);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("TIMEOUT"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_huge_body_is_capped_with_a_marker() {
    let target = Target::start().await;
    let run = run(&no_credentials(), plan(&request(json!({"url": target.url("/huge")})))).await;

    let step = run.assert_step(0, StepStatus::Success);
    assert!(is_truncated_output(&step.output), "not capped with a marker");
    let text = step.output.as_str().unwrap();
    assert!(text.starts_with("xxxx"));
    assert!(
        text.contains(&format!("[truncated: the response was {HUGE_BYTES} bytes")),
        "{}",
        &text[text.len() - 120..]
    );
    assert_eq!(step.metadata["truncated"], true);
}

#[tokio::test]
async fn cancelling_a_slow_request_ends_the_run_promptly() {
    let target = Target::start().await;
    let exec = no_credentials();
    let cancel = CancellationToken::new();
    let slow = plan(&request(json!({"url": target.url("/slow?ms=60000")})));

    let cancel_when_sent = async {
        target.wait_for_requests(1).await;
        cancel.cancel();
        Instant::now()
    };
    let (run, cancelled_at) = tokio::join!(run_with_cancel(&exec, slow, cancel.clone()), cancel_when_sent);

    assert_eq!(run.outcome.status, RunStatus::Cancelled);
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "ended {:?} after the cancel",
        cancelled_at.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_as_a_connect_error() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = run(
        &no_credentials(),
        plan(&json!({
            "name": "refused",
            "steps": [{"provider": "http", "action": "request",
                       "params": {"url": format!("http://127.0.0.1:{port}/x")},
                       "retry": {"max_attempts": 2, "backoff_ms": 10}}]
        })),
    )
    .await;

    let step = run.assert_step(0, StepStatus::Error);
    assert_eq!(step.error.map(|e| e.as_string()).as_deref(), Some("CONNECT"));
    assert_eq!(step.attempt, 2);
    assert!(step.message.contains("could not connect"), "{}", step.message);
}

#[test]
fn bad_params_are_reported_where_they_are_when_the_plan_loads() {
    let issues = plan_issues(&json!({
        "name": "bad",
        "steps": [{"provider": "http", "action": "request", "params": {
            "url": "example.com/x",
            "method": "FETCH",
            "accept_status": ["4xxx"],
            "auth": {"type": "header", "credential": "token"},
        }}]
    }));
    let at = |path: &str| issues.iter().any(|i| i.starts_with(path));
    assert!(
        at("steps[0].params.url: `example.com/x` is not a web address"),
        "{issues:#?}"
    );
    assert!(at("steps[0].params.method"), "{issues:#?}");
    assert!(at("steps[0].params.accept_status[0]"), "{issues:#?}");
    assert!(at("steps[0].params.auth"), "{issues:#?}");
}

/// Call the provider directly, to see its own cancellation handling (through
/// the executor, the executor's cancellation would win the race).
async fn call(params: Value, cancel: CancellationToken) -> Result<ProviderResult, StepError> {
    let credentials = Credentials::new(Arc::new(NoCredentials), "http");
    let ctx = StepContext {
        run_id: "run-test".into(),
        plan_name: "direct".into(),
        step_index: 0,
        attempt: 1,
        ..Default::default()
    };
    Http.run("request", params, &credentials, &ctx, cancel).await
}

#[tokio::test]
async fn the_provider_stops_waiting_for_an_answer_when_cancelled() {
    let target = Target::start().await;
    let cancel = CancellationToken::new();
    let cancel_when_sent = async {
        target.wait_for_requests(1).await;
        cancel.cancel();
        Instant::now()
    };
    let (result, cancelled_at) = tokio::join!(
        call(json!({"url": target.url("/slow?ms=60000")}), cancel.clone()),
        cancel_when_sent
    );
    assert_eq!(result, Err(StepError::Cancelled));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
}

/// Headers come, the body never does: the cancel lands while the provider waits
/// for the headers or reads the body, and either way it must stop.
#[tokio::test]
async fn the_provider_stops_when_cancelled_during_a_stalled_response() {
    let target = Target::start().await;
    let cancel = CancellationToken::new();
    let cancel_when_sent = async {
        target.wait_for_requests(1).await;
        cancel.cancel();
        Instant::now()
    };
    let (result, cancelled_at) = tokio::join!(
        call(json!({"url": target.url("/stall")}), cancel.clone()),
        cancel_when_sent
    );
    assert_eq!(result, Err(StepError::Cancelled));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
}

/// Once the head is in, only the body read is left to cancel: this pins the
/// cancellation of that phase, which the tests above may not reach.
#[tokio::test]
async fn reading_a_stalled_body_stops_when_cancelled() {
    let target = Target::start().await;
    let never = CancellationToken::new();
    let client = flowpilot_engine::http_client::default_http_client();
    let request = Request::get(target.url("/stall").parse().unwrap());
    let mut incoming = request.open(&client, &never).await.expect("the head arrives");
    assert_eq!(incoming.response.status(), 200);

    let cancel = CancellationToken::new();
    // Bounded, so that a read that ignores the cancel fails here instead of hanging.
    let read = tokio::time::timeout(Duration::from_secs(5), incoming.read_body(1024, &cancel));
    let cancel_soon = async {
        tokio::task::yield_now().await;
        cancel.cancel();
        Instant::now()
    };
    let (result, cancelled_at) = tokio::join!(read, cancel_soon);
    assert_eq!(result, Ok(Err(StepError::Cancelled)));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn bodies_are_read_up_to_the_cap_and_no_further() {
    let target = Target::start().await;
    let cancel = CancellationToken::new();
    for (bytes, cap, kept, truncated) in [(100, 10, 10, true), (10, 10, 10, false), (0, 10, 0, false)] {
        let client = flowpilot_engine::http_client::default_http_client();
        let request = Request::get(target.url(&format!("/huge?bytes={bytes}")).parse().unwrap());
        let mut incoming = request.open(&client, &cancel).await.unwrap();
        let (body, was_truncated) = incoming.read_body(cap, &cancel).await.unwrap();
        assert_eq!(
            (body.len(), was_truncated),
            (kept, truncated),
            "{bytes} bytes, cap {cap}"
        );
    }
}
