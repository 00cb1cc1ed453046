use super::*;
use crate::clock::ManualClock;
use crate::plan::Plan;
use crate::registry::{ActionSpec, Credentials, Provider, ProviderResult, StaticCredentials};

use crate::run::{DRY_RUN_MESSAGE, MAX_OUTPUT_BYTES, NoObserver, PREVIEW_CHARS, RunOutcome};
use async_trait::async_trait;
use chrono::DateTime;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// `when` and `for_each`.
mod control_flow;

/// A provider whose behaviour each test scripts: `echo` returns its params,
/// `flaky` fails `fail_times` times (retryable) then succeeds, `fatal` fails,
/// `hang` waits for cancellation, `secret` returns its credential, `send`
/// (the only action with side effects) reads its credential and "sends".
struct Scripted {
    calls: AtomicU32,
    /// Attempts per `key` (the `by_mode` action's `flaky` mode).
    per_key: Mutex<std::collections::HashMap<String, u32>>,
    /// Items in flight now, and the most there ever were.
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl Scripted {
    fn new() -> Self {
        Self {
            calls: AtomicU32::new(0),
            per_key: Default::default(),
            in_flight: Default::default(),
            most_in_flight: Default::default(),
        }
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        "test"
    }
    fn description(&self) -> String {
        "scripted".into()
    }
    fn credential_fields(&self) -> Vec<String> {
        vec!["token".into()]
    }
    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            ["echo", "flaky", "fatal", "hang", "secret", "big", "send", "by_mode"]
                .into_iter()
                .map(|name| ActionSpec::new(name, "scripted", json!({"type": "object"}), name == "send"))
                .collect()
        });
        &ACTIONS
    }
    async fn run(
        &self,
        action: &str,
        params: Value,
        credentials: &Credentials,
        _ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        match action {
            "echo" => Ok(ProviderResult::ok(params, "echoed")),
            "flaky" => {
                let fail_times = params["fail_times"].as_u64().unwrap_or(1) as u32;
                if n <= fail_times {
                    Err(StepError::Retryable {
                        code: ErrorCode::Http(503),
                        message: format!("attempt {n} failed"),
                        after: None,
                    })
                } else {
                    Ok(ProviderResult::ok(json!(n), "finally"))
                }
            }
            "fatal" => Err(StepError::fatal(ErrorCode::Http(404), "not found")),
            "hang" => {
                cancel.cancelled().await;
                Err(StepError::Cancelled)
            }
            "secret" => {
                let token = credentials.require("token").await?;
                Ok(ProviderResult::ok(
                    json!({"echo": format!("token={}", token.expose())}),
                    format!("used {}", token.expose()),
                )
                .with_metadata("auth", format!("Bearer {}", token.expose())))
            }
            "big" => Ok(ProviderResult::ok(
                Value::String("x".repeat(MAX_OUTPUT_BYTES + 10)),
                "big",
            )),
            "send" => {
                credentials.require("token").await?;
                Ok(ProviderResult::ok(json!({"sent": params}), "sent"))
            }
            // One action whose behaviour an item chooses: `{"mode": "echo"|"hang"|"fail"|"flaky"|"slow", ...}`.
            "by_mode" => {
                use std::sync::atomic::Ordering::SeqCst;
                let now = self.in_flight.fetch_add(1, SeqCst) + 1;
                self.most_in_flight.fetch_max(now, SeqCst);
                let result = match params["mode"].as_str().unwrap_or("echo") {
                    "hang" => {
                        cancel.cancelled().await;
                        Err(StepError::Cancelled)
                    }
                    "fail" => Err(StepError::fatal(
                        ErrorCode::Http(500),
                        format!("item {} failed", params["n"]),
                    )),
                    "flaky" => {
                        let key = params["n"].to_string();
                        let mut map = self.per_key.lock().unwrap();
                        let tries = map.entry(key).or_insert(0);
                        *tries += 1;
                        if *tries < 2 {
                            Err(StepError::retryable(ErrorCode::Http(503), "try again"))
                        } else {
                            Ok(ProviderResult::ok(params["n"].clone(), "ok"))
                        }
                    }
                    "slow" => {
                        let ms = params["ms"].as_u64().unwrap_or(0);
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        Ok(ProviderResult::ok(params["n"].clone(), "slept"))
                    }
                    _ => Ok(ProviderResult::ok(params["n"].clone(), "echoed")),
                };
                self.in_flight.fetch_sub(1, SeqCst);
                result
            }
            _ => Err(StepError::fatal(ErrorCode::UnknownAction, action)),
        }
    }
}

fn executor() -> Executor {
    let registry = Registry::from_providers(vec![Arc::new(Scripted::new())]);
    let clock = Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc(),
    ));
    Executor::new(
        registry,
        clock,
        Arc::new(StaticCredentials::default().with("test", "token", "s3cr3t-token")),
    )
}

fn plan(steps: Value) -> Plan {
    plan_with(Arc::new(Scripted::new()), steps)
}

/// A plan whose steps run on this provider instance (a checked plan carries its providers).
fn plan_with(provider: Arc<Scripted>, steps: Value) -> Plan {
    let registry = Registry::from_providers(vec![provider]);
    Plan::from_value(json!({"name": "t", "steps": steps}), &registry).unwrap()
}

#[derive(Default)]
struct Events(Mutex<Vec<RunEvent>>);
impl RunObserver for Events {
    fn on_event(&self, e: &RunEvent) {
        self.0.lock().unwrap().push(e.clone());
    }
}

async fn run(steps: Value) -> (RunOutcome, Vec<RunEvent>) {
    run_with(steps, CancellationToken::new()).await
}

async fn run_with(steps: Value, cancel: CancellationToken) -> (RunOutcome, Vec<RunEvent>) {
    let events = Events::default();
    let req = RunRequest::new("r1", plan(steps), json!({"type": "manual"}));
    let outcome = executor().run(req, &events, cancel).await;
    (outcome, events.0.into_inner().unwrap())
}

#[tokio::test]
async fn later_steps_see_earlier_outputs_with_their_types() {
    let (outcome, events) = run(json!([
        {"id": "a", "provider": "test", "action": "echo", "params": {"items": [{"n": 7}]}},
        {"provider": "test", "action": "echo", "params": {"n": "${steps.a.output.items[0].n}", "text": "n=${steps.0.output.items[0].n} in ${plan.name}/${run.id}"}}
    ]))
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps[1].output, json!({"n": 7, "text": "n=7 in t/r1"}));
    // The run's last row is flagged and repeated in RunFinished.
    let finished: Vec<bool> = events
        .iter()
        .filter_map(|e| {
            if let RunEvent::StepFinished { last, .. } = e {
                Some(*last)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(finished, vec![false, true]);
    assert!(
        matches!(events.last(), Some(RunEvent::RunFinished { outcome }) if outcome.steps.last().is_some_and(|s| s.step_number == 1))
    );
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_retry_with_backoff_and_are_logged() {
    let (outcome, events) = run(json!([
        {"provider": "test", "action": "flaky", "params": {"fail_times": 2}, "retry": {"max_attempts": 3, "backoff_ms": 100}}
    ]))
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps[0].attempt, 3);
    let retries: Vec<&StepRecord> = events
        .iter()
        .filter_map(|e| {
            if let RunEvent::StepRetrying { record, .. } = e {
                Some(record)
            } else {
                None
            }
        })
        .collect();
    assert_eq!(retries.len(), 2);
    assert!(
        retries
            .iter()
            .all(|r| r.status == StepStatus::Retrying && r.error == Some(ErrorCode::Http(503)))
    );
    assert_eq!(retries.iter().map(|r| r.attempt).collect::<Vec<_>>(), vec![1, 2]);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_attempts() {
    let (outcome, _) = run(json!([
        {"provider": "test", "action": "flaky", "params": {"fail_times": 9}, "retry": 2},
        {"provider": "test", "action": "echo", "params": {}}
    ]))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.steps[0].attempt, 2);
    assert_eq!(outcome.steps[0].status, StepStatus::Error);
    assert_eq!(outcome.steps[1].status, StepStatus::Skipped);
    assert!(outcome.error.unwrap().ends_with("(step 1 of 2, test.flaky)"));
}

#[tokio::test]
async fn fatal_errors_do_not_retry_and_continue_on_error_goes_on() {
    let (outcome, events) = run(json!([
        {"provider": "test", "action": "fatal", "params": {}, "continue_on_error": true},
        {"provider": "test", "action": "echo", "params": {"prev_ok": "${steps.0.success}", "err": "${steps.0.error}"}}
    ]))
    .await;
    assert_eq!(outcome.status, RunStatus::Success);
    assert_eq!(outcome.steps[0].attempt, 1);
    assert_eq!(outcome.steps[0].error, Some(ErrorCode::Http(404)));
    assert_eq!(outcome.steps[1].output, json!({"prev_ok": false, "err": "HTTP_404"}));
    assert!(!events.iter().any(|e| matches!(e, RunEvent::StepRetrying { .. })));
}

#[tokio::test]
async fn a_missing_reference_path_fails_the_step_naming_it() {
    let (outcome, _) = run(json!([
        {"provider": "test", "action": "echo", "params": {"a": []}},
        {"provider": "test", "action": "echo", "params": {"x": {"y": "${steps.0.output.a[2]}"}}}
    ]))
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let msg = &outcome.steps[1].message;
    assert!(msg.contains("params.x.y") && msg.contains("a[2]"), "{msg}");
    assert_eq!(outcome.steps[1].error, Some(ErrorCode::Reference));
}

#[tokio::test(start_paused = true)]
async fn a_step_that_overruns_its_timeout_is_logged_as_timeout() {
    let (outcome, _) =
        run(json!([{"provider": "test", "action": "hang", "params": {}, "timeout_s": 2, "retry": 1}])).await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.steps[0].status, StepStatus::Timeout);
    assert_eq!(outcome.steps[0].error, Some(ErrorCode::Timeout));
}

#[tokio::test]
async fn cancelling_stops_the_running_step_and_skips_the_rest() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    let events = Arc::new(Events::default());
    let observer = {
        let events = events.clone();
        move |e: &RunEvent| {
            // Cancel once the hanging step has started: deterministic, no sleeps.
            if matches!(e, RunEvent::StepStarted { step_number: 0, .. }) {
                canceller.cancel();
            }
            events.on_event(e);
        }
    };
    let req = RunRequest::new(
        "r",
        plan(
            json!([{"provider": "test", "action": "hang", "params": {}}, {"provider": "test", "action": "echo", "params": {}}]),
        ),
        json!({}),
    );
    let outcome = executor().run(req, &observer, cancel).await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.steps[1].status, StepStatus::Skipped);
}

/// A run cancelled while its step's start is recorded (a store that could
/// not write it cancels the run) never calls the step's provider.
#[tokio::test]
async fn a_step_cancelled_as_it_starts_is_not_called() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    let observer = move |e: &RunEvent| {
        if matches!(e, RunEvent::StepStarted { step_number: 1, .. }) {
            canceller.cancel();
        }
    };
    let provider = Arc::new(Scripted::new());
    let steps = json!([{"provider": "test", "action": "echo", "params": {}}, {"provider": "test", "action": "echo", "params": {}}]);
    let req = RunRequest::new("r", plan_with(provider.clone(), steps), json!({}));
    let outcome = executor().run(req, &observer, cancel).await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    assert_eq!(outcome.steps[1].error, Some(ErrorCode::Cancelled));
    assert_eq!(outcome.steps[1].input, Value::Null, "it was given nothing");
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1, "only step 1 was called");
}

#[tokio::test]
async fn credential_values_are_redacted_everywhere() {
    let (outcome, events) = run(json!([{"provider": "test", "action": "secret", "params": {}}])).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let everything = serde_json::to_string(&events).unwrap() + &serde_json::to_string(&outcome).unwrap();
    assert!(!everything.contains("s3cr3t-token"), "{everything}");
    assert_eq!(outcome.steps[0].output, json!({"echo": "token=***"}));
    assert_eq!(outcome.steps[0].metadata["auth"], json!("Bearer ***"));
    assert_eq!(outcome.steps[0].message, "used ***");
}

#[tokio::test]
async fn huge_outputs_are_capped_with_a_marker() {
    let (outcome, _) = run(json!([{"provider": "test", "action": "big", "params": {}}])).await;
    let out = outcome.steps[0].output.as_str().unwrap();
    assert!(out.len() <= MAX_OUTPUT_BYTES);
    assert!(out.ends_with(&format!("[truncated: output was {} bytes]", MAX_OUTPUT_BYTES + 10)));
    assert_eq!(outcome.steps[0].output_preview.chars().count(), PREVIEW_CHARS + 1);
}

/// A keychain that cannot be reached: any credential read fails the step.
struct Unreachable;

#[async_trait]
impl crate::registry::CredentialSource for Unreachable {
    async fn get(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<crate::Sensitive<String>>, crate::registry::CredentialError> {
        Err(crate::registry::CredentialError::Unavailable(
            "no keychain in this test".into(),
        ))
    }
}

/// The scripted test provider, with a keychain that cannot be reached.
fn scripted_without_keychain() -> Executor {
    let registry = Registry::from_providers(vec![Arc::new(Scripted::new())]);
    let clock = Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc(),
    ));
    Executor::new(registry, clock, Arc::new(Unreachable))
}

#[tokio::test]
async fn in_a_dry_run_what_a_stub_would_have_returned_is_a_stand_in() {
    let executor = scripted_without_keychain();
    let steps = json!([
        {"id": "create", "provider": "test", "action": "send", "params": {"to": 1, "text": "new issue"}},
        {"provider": "test", "action": "echo", "params": {
            "id": "${steps.create.output.id}",
            "line": "created #${steps.0.output.id} (${steps.0.metadata.status})",
            "sent": "${steps.0.output.would_send.text}"
        }},
        {"provider": "test", "action": "echo", "params": {"missing": "${steps.1.output.nope}"}}
    ]);
    let request = RunRequest {
        dry_run: true,
        ..RunRequest::new("dry", plan(steps), json!({"type": "manual"}))
    };
    let outcome = executor.run(request, &NoObserver, CancellationToken::new()).await;
    // The step after the stub ran, with stand-ins where the response's values go;
    // what the stub does have (what it would have sent) resolves as usual.
    assert_eq!(
        outcome.steps[1].output,
        json!({
            "id": "⟨${steps.create.output.id}: not sent in this dry run⟩",
            "line": "created #⟨${steps.0.output.id}: not sent in this dry run⟩ (⟨${steps.0.metadata.status}: not sent in this dry run⟩)",
            "sent": "new issue"
        })
    );
    // A step that really ran gets no stand-in: a wrong path is still an error.
    assert_eq!(outcome.status, RunStatus::Failed, "{outcome:#?}");
    assert_eq!(outcome.steps[2].error, Some(ErrorCode::Reference));
}

#[tokio::test]
async fn a_dry_run_stubs_side_effects_without_reading_credentials() {
    let executor = scripted_without_keychain();
    let steps = json!([
        {"id": "a", "provider": "test", "action": "echo", "params": {"n": 7}},
        {"provider": "test", "action": "send", "params": {"to": "${steps.a.output.n}", "text": "n=${steps.0.output.n}"}},
        {"provider": "test", "action": "echo", "params": {"saw": "${steps.1.output.would_send.to}"}}
    ]);
    let request = |dry_run| RunRequest {
        dry_run,
        ..RunRequest::new("dry", plan(steps.clone()), json!({"type": "manual"}))
    };

    let outcome = executor.run(request(true), &NoObserver, CancellationToken::new()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    let stub = &outcome.steps[1];
    assert_eq!(
        stub.output,
        json!({"dry_run": true, "would_send": {"to": 7, "text": "n=7"}})
    );
    assert_eq!(stub.message, DRY_RUN_MESSAGE);
    assert_eq!(stub.metadata["dry_run"], json!(true));
    // Side-effect-free steps ran for real, before and after the stub.
    assert_eq!(outcome.steps[0].message, "echoed");
    assert_eq!(outcome.steps[2].output, json!({"saw": 7}));

    // The same plan for real reads the credential (and fails here without a keychain).
    let outcome = executor
        .run(request(false), &NoObserver, CancellationToken::new())
        .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    assert_eq!(outcome.steps[1].error, Some(ErrorCode::KeychainUnavailable));
}

// ---- replay ----

#[tokio::test]
async fn a_replay_takes_over_earlier_steps_without_running_them() {
    let provider = Arc::new(Scripted::new());
    let steps = json!([
        {"id": "a", "provider": "test", "action": "echo", "params": {"v": 1}},
        {"provider": "test", "action": "by_mode", "params": {"n": "${steps.a.output.v}", "mode": "fail"}}
    ]);
    let first = executor()
        .run(
            RunRequest::new("first", plan_with(provider.clone(), steps), json!({})),
            &NoObserver,
            CancellationToken::new(),
        )
        .await;
    assert_eq!(first.status, RunStatus::Failed);

    // Step 2 fixed, replayed from step 2: step 1's record is taken over, not run.
    let fixed = json!([
        {"id": "a", "provider": "test", "action": "echo", "params": {"v": 1}},
        {"provider": "test", "action": "by_mode", "params": {"n": "${steps.a.output.v}"}}
    ]);
    let calls_before = provider.calls.load(Ordering::SeqCst);
    let request = RunRequest {
        replay: Some(crate::run::Replay {
            of_run: "first".into(),
            from_step: 1,
            reuse: vec![Some(first.steps[0].clone())],
        }),
        ..RunRequest::new("second", plan_with(provider.clone(), fixed), json!({"type": "replay"}))
    };
    let second = executor().run(request, &NoObserver, CancellationToken::new()).await;
    assert_eq!(second.status, RunStatus::Success, "{second:#?}");
    assert_eq!(second.steps[1].output, json!(1));
    assert_eq!(second.steps[0].run_id, "second");
    assert_eq!(second.steps[0].metadata[crate::run::REUSED_FROM_RUN], json!("first"));
    // Only step 2 ran.
    assert_eq!(provider.calls.load(Ordering::SeqCst), calls_before + 1);
}

#[tokio::test]
async fn each_step_keeps_what_it_was_given_resolved_and_redacted() {
    let (outcome, _) = run(json!([
        {"provider": "test", "action": "secret", "params": {}},
        {"provider": "test", "action": "echo", "params": {"n": "${steps.0.output.echo}", "plan": "${plan.name}"}}
    ]))
    .await;
    assert_eq!(outcome.steps[1].input, json!({"n": "token=***", "plan": "t"}));
    let everything = serde_json::to_string(&outcome).unwrap();
    assert!(!everything.contains("s3cr3t-token"), "{everything}");
}
