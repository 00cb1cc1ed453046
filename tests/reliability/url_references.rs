//! Data from a response cannot re-target a request: a reference inside a URL
//! path segment or query value is percent-encoded as that component, a whole-URL
//! reference stays as it is, and a line break from a reference in a URL or a
//! header is an error naming the step — nothing is sent.

use flowpilot_engine::registry::StaticCredentials;
use flowpilot_engine::{ErrorCode, RunStatus, StepStatus};
use flowpilot_tests::{Target, executor, plan, run};
use serde_json::{Value, json};

const HOSTILE: &str = "x&admin=1/../../secret?y=2#frag";

fn set(value: &str) -> Value {
    json!({"id": "v", "provider": "logic", "action": "set", "params": {"value": value}})
}

fn get(url: String) -> Value {
    json!({"provider": "http", "action": "request", "params": {"url": url, "accept_status": ["2xx", "4xx"]}, "retry": 1})
}

async fn two_steps(first: Value, second: Value) -> flowpilot_tests::Run {
    run(
        &executor(StaticCredentials::default()),
        plan(&json!({"name": "urls", "steps": [first, second]})),
    )
    .await
}

#[tokio::test]
async fn a_value_in_a_path_segment_stays_in_that_segment() {
    let target = Target::start().await;
    let run = two_steps(set(HOSTILE), get(target.url("/api/items/${steps.v.output}"))).await;
    run.assert_step(1, StepStatus::Success);
    let sent = target.only_request();
    assert_eq!(sent.path, "/api/items/x%26admin%3D1%2F..%2F..%2Fsecret%3Fy%3D2%23frag");
    assert!(sent.query.is_empty(), "{:?}", sent.query);
}

#[tokio::test]
async fn a_value_in_the_query_stays_one_value() {
    let target = Target::start().await;
    let run = two_steps(set(HOSTILE), get(target.url("/echo?q=${steps.v.output}&page=2"))).await;
    run.assert_step(1, StepStatus::Success);
    let sent = target.only_request();
    assert_eq!(sent.path, "/echo");
    assert_eq!(
        sent.query,
        vec![("q".to_string(), HOSTILE.to_string()), ("page".into(), "2".into())]
    );
}

#[tokio::test]
async fn a_whole_url_from_an_earlier_step_is_used_as_it_is() {
    let target = Target::start().await;
    let next = target.url("/echo?cursor=a%2Fb&x=1");
    let run = two_steps(set(&next), get("${steps.v.output}".into())).await;
    run.assert_step(1, StepStatus::Success);
    let sent = target.only_request();
    assert_eq!(sent.path, "/echo");
    assert_eq!(sent.query_param("cursor"), Some("a/b"));
}

#[tokio::test]
async fn a_line_break_from_a_reference_is_an_error_naming_the_step_and_nothing_is_sent() {
    let target = Target::start().await;
    let smuggled = "ok\r\nX-Injected: 1";
    let in_url = get(target.url("/echo/${steps.v.output}"));
    let mut in_header = get(target.url("/echo"));
    in_header["params"]["headers"] = json!({"X-Trace": "t-${steps.v.output}"});
    let whole = get("${steps.v.output}".into());
    for (second, param) in [
        (in_url, "params.url"),
        (in_header, "params.headers.X-Trace"),
        (whole, "params.url"),
    ] {
        let value = if param == "params.url" && second["params"]["url"] == "${steps.v.output}" {
            format!("{}\n", target.url("/echo"))
        } else {
            smuggled.to_string()
        };
        let run = two_steps(set(&value), second).await;
        let record = run.assert_step(1, StepStatus::Error);
        assert_eq!(record.error, Some(ErrorCode::Reference), "{record:#?}");
        assert!(record.message.starts_with(param), "{}", record.message);
        assert!(record.message.contains("line break"), "{}", record.message);
        assert_eq!(run.outcome.status, RunStatus::Failed);
        let said = run.outcome.error.clone().unwrap_or_default();
        assert!(said.contains("(step 2 of 2, http.request)"), "{said}");
    }
    assert!(target.requests().is_empty(), "{:#?}", target.requests());
}

#[tokio::test]
async fn dot_segments_and_host_changes_from_a_reference_are_refused() {
    let target = Target::start().await;
    for (value, url) in [
        ("..", target.url("/api/items/${steps.v.output}/delete")),
        ("127.0.0.1:1/steal?", "http://${steps.v.output}/x".to_string()),
    ] {
        let run = two_steps(set(value), get(url)).await;
        let record = run.assert_step(1, StepStatus::Error);
        assert_eq!(record.error, Some(ErrorCode::Reference), "{record:#?}");
    }
    assert!(target.requests().is_empty());
}
