//! Running a checked plan: steps in order, references resolved from earlier
//! results, retries with backoff, per-step timeouts, a run deadline,
//! cancellation, output caps and redaction. Progress goes out as [`RunEvent`]s;
//! the executor itself stores nothing.

use crate::clock::Clock;
use crate::plan::{Plan, RetryPolicy, StepSpec};
use crate::redact::Redactor;
use crate::registry::{CredentialSource, Credentials, ProviderResult, Registry, StepContext, StepError};
use crate::template::{self, Scope};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Output kept per step; larger outputs are cut with a marker.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;
/// Characters of output kept in the log's preview.
pub const PREVIEW_CHARS: usize = 500;
/// The longest a `Retry-After` may make us wait.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The message of a step a dry run answered from its stub.
pub const DRY_RUN_MESSAGE: &str = "dry run: not sent";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Success,
    Failed,
    Cancelled,
    /// Left `running` by a crash; set when the store is reopened.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "success" => Self::Success,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            "interrupted" => Self::Interrupted,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }
}

/// A step log row's status, as in the seeds (`success`, `error`, `retrying`, `timeout`) plus `skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Success,
    Error,
    Retrying,
    Timeout,
    Skipped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Retrying => "retrying",
            Self::Timeout => "timeout",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => Self::Success,
            "error" => Self::Error,
            "retrying" => Self::Retrying,
            "timeout" => Self::Timeout,
            "skipped" => Self::Skipped,
            _ => return None,
        })
    }
}

/// One step log row (the seeds' fields), already redacted and capped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub run_id: String,
    pub step_number: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    pub provider: String,
    pub action: String,
    pub status: StepStatus,
    pub attempt: u32,
    pub message: String,
    pub latency_ms: u64,
    pub output_preview: String,
    /// The output, capped at [`MAX_OUTPUT_BYTES`]; null for failed or skipped steps.
    pub output: Value,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub run_id: String,
    pub plan_name: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The final record of each step (retry rows left out).
    pub steps: Vec<StepRecord>,
}

/// Live progress of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        plan_name: String,
        step_count: usize,
        started_at: DateTime<Utc>,
    },
    StepStarted {
        run_id: String,
        step_number: usize,
        provider: String,
        action: String,
        attempt: u32,
    },
    /// An attempt failed and will be retried after `retry_in_ms`; `record` has status `retrying`.
    StepRetrying { record: StepRecord, retry_in_ms: u64 },
    /// A step's final record. `last` marks the run's final row, which is repeated
    /// in `RunFinished` so a store can write it with the run's status atomically.
    StepFinished { record: StepRecord, last: bool },
    RunFinished {
        outcome: RunOutcome,
        last_step: Option<StepRecord>,
    },
}

/// Receives run events; the store writes them, the app forwards them to the UI.
pub trait RunObserver: Send + Sync {
    fn on_event(&self, event: &RunEvent);
}

/// Ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;
impl RunObserver for NoObserver {
    fn on_event(&self, _: &RunEvent) {}
}

impl<F: Fn(&RunEvent) + Send + Sync> RunObserver for F {
    fn on_event(&self, event: &RunEvent) {
        self(event)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run_id: String,
    pub plan: Plan,
    /// What started it: `{"type": "manual"}`, `{"type": "cron", "scheduled_for": ...}`.
    pub trigger: Value,
    /// The whole run must finish within this.
    pub deadline: Option<Duration>,
    /// A rehearsal: steps whose action has side effects
    /// ([`Provider::has_side_effects`](crate::registry::Provider::has_side_effects))
    /// are not run but answered with `{"dry_run": true, "would_send": <resolved params>}`,
    /// without reading credentials; side-effect-free steps (GET requests, logic,
    /// LLM calls) run for real, so later steps see real data where it is safe.
    pub dry_run: bool,
}

/// Runs plans. Cheap to clone; one per app.
#[derive(Clone)]
pub struct Executor {
    registry: Registry,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    credentials: Arc<dyn CredentialSource>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// The HTTP client every step shares: bounded connect and read time (reqwest has
/// no default timeout; the whole request is bounded by the step's timeout, up to
/// 300 s for LLM calls, so reads may be as slow). Redirects are followed only
/// within the same origin: reqwest strips `Authorization` on a cross-host
/// redirect but not custom auth headers (`x-api-key`), so a credential could
/// otherwise follow the redirect to another host. A cross-origin redirect is
/// returned as the 3xx response it is.
pub fn default_http_client() -> reqwest::Client {
    let same_origin_only = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        let same_origin = first.is_some_and(|f| f.origin() == attempt.url().origin());
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(330))
        .redirect(same_origin_only)
        .user_agent(concat!("Flowpilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

struct Attempted {
    result: Result<ProviderResult, StepError>,
    attempts: u32,
    latency_ms: u64,
}

impl Executor {
    pub fn new(registry: Registry, clock: Arc<dyn Clock>, credentials: Arc<dyn CredentialSource>) -> Self {
        Self {
            registry,
            http: default_http_client(),
            clock,
            credentials,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Run a plan to the end, or until it fails, is cancelled or passes its deadline.
    pub async fn run(&self, req: RunRequest, observer: &dyn RunObserver, cancel: CancellationToken) -> RunOutcome {
        let started_at = self.clock.now();
        let plan_name = req.plan.name().to_string();
        let steps = req.plan.steps();
        let deadline = req.deadline.map(|d| Instant::now() + d);
        observer.on_event(&RunEvent::RunStarted {
            run_id: req.run_id.clone(),
            plan_name: plan_name.clone(),
            step_count: steps.len(),
            started_at,
        });

        let mut scope = Scope {
            steps: Vec::with_capacity(steps.len()),
            plan: json!({"name": plan_name, "step_count": steps.len()}),
            run: json!({"id": req.run_id, "started_at": started_at}),
            trigger: req.trigger.clone(),
        };
        let mut redactor = Redactor::default();
        let mut records: Vec<StepRecord> = Vec::with_capacity(steps.len());
        let mut status = RunStatus::Success;
        let mut run_error: Option<String> = None;

        let count = steps.len();
        // Each final row goes out as soon as it exists; the run's last row is
        // flagged so a store can write it together with the run's status.
        let finish = |record: StepRecord, records: &mut Vec<StepRecord>| {
            let last = record.step_number + 1 == count;
            observer.on_event(&RunEvent::StepFinished {
                record: record.clone(),
                last,
            });
            records.push(record);
        };
        for (index, step) in steps.iter().enumerate() {
            if status != RunStatus::Success {
                finish(self.skipped(&req.run_id, index, step), &mut records);
                continue;
            }
            if cancel.is_cancelled() {
                status = RunStatus::Cancelled;
                run_error = Some("the run was cancelled".into());
                finish(self.skipped(&req.run_id, index, step), &mut records);
                continue;
            }
            let mut timeout = req.plan.step_timeout(index, &self.registry);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    status = RunStatus::Failed;
                    run_error = Some("the run passed its deadline".into());
                    finish(self.skipped(&req.run_id, index, step), &mut records);
                    continue;
                }
                timeout = timeout.min(left);
            }
            let ctx = StepContext {
                run_id: req.run_id.clone(),
                plan_name: plan_name.clone(),
                step_index: index,
                attempt: 1,
                http: self.http.clone(),
            };
            let attempted = self
                .run_step_with_retries(
                    step,
                    &scope,
                    &ctx,
                    timeout,
                    req.dry_run,
                    &mut redactor,
                    observer,
                    &cancel,
                )
                .await;
            let record = self.record(&req.run_id, index, step, &attempted, &redactor);
            let result_value = match &attempted.result {
                Ok(r) => {
                    json!({"success": r.success, "output": record.output, "message": record.message, "metadata": record.metadata})
                }
                Err(_) => {
                    json!({"success": false, "output": Value::Null, "message": record.message, "metadata": {}, "error": record.error})
                }
            };
            scope.steps.push((step.id.clone(), result_value));
            if let Err(e) = &attempted.result {
                if matches!(e, StepError::Cancelled) {
                    status = RunStatus::Cancelled;
                    run_error = Some("the run was cancelled".into());
                } else if !step.continue_on_error {
                    status = RunStatus::Failed;
                    // Said to people: steps count from 1, as in the notices and the UI.
                    run_error = Some(format!(
                        "step {} of {count} ({}.{}) failed: {}",
                        index + 1,
                        step.provider,
                        step.action,
                        record.message
                    ));
                }
            }
            finish(record, &mut records);
        }

        let last_step = records.last().cloned();
        let outcome = RunOutcome {
            run_id: req.run_id.clone(),
            plan_name,
            status,
            started_at,
            finished_at: self.clock.now(),
            error: run_error.map(|e| redactor.redact_str(&e)),
            steps: records,
        };
        observer.on_event(&RunEvent::RunFinished {
            outcome: outcome.clone(),
            last_step,
        });
        outcome
    }

    /// Run one step on its own with given inputs (the seeds' `execute-step`, for
    /// "test this step"): `scope` holds the earlier results it may refer to.
    pub async fn run_single_step(
        &self,
        run_id: &str,
        step: &StepSpec,
        scope: &Scope,
        cancel: CancellationToken,
    ) -> StepRecord {
        let timeout = step
            .timeout_s
            .map(Duration::from_secs_f64)
            .or_else(|| self.registry.get(&step.provider).map(|p| p.default_timeout()))
            .unwrap_or(Duration::from_secs(60));
        let ctx = StepContext {
            run_id: run_id.to_string(),
            plan_name: template::to_text(&scope.plan["name"]),
            step_index: scope.steps.len(),
            attempt: 1,
            http: self.http.clone(),
        };
        let mut redactor = Redactor::default();
        let attempted = self
            .run_step_with_retries(step, scope, &ctx, timeout, false, &mut redactor, &NoObserver, &cancel)
            .await;
        self.record(run_id, scope.steps.len(), step, &attempted, &redactor)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_step_with_retries(
        &self,
        step: &StepSpec,
        scope: &Scope,
        ctx: &StepContext,
        timeout: Duration,
        dry_run: bool,
        redactor: &mut Redactor,
        observer: &dyn RunObserver,
        cancel: &CancellationToken,
    ) -> Attempted {
        let started = Instant::now();
        let policy = step.retry_policy();
        let mut attempt = 0;
        loop {
            attempt += 1;
            observer.on_event(&RunEvent::StepStarted {
                run_id: ctx.run_id.clone(),
                step_number: ctx.step_index,
                provider: step.provider.clone(),
                action: step.action.clone(),
                attempt,
            });
            let attempt_started = Instant::now();
            let ctx = StepContext { attempt, ..ctx.clone() };
            let result = self
                .attempt(step, scope, &ctx, timeout, dry_run, redactor, cancel)
                .await;
            let retry_in = match &result {
                Err(e) if e.is_retryable() && attempt < policy.max_attempts => Some(backoff(&policy, attempt, e)),
                _ => None,
            };
            let Some(retry_in) = retry_in else {
                return Attempted {
                    result,
                    attempts: attempt,
                    latency_ms: millis(started.elapsed()),
                };
            };
            let failed = Attempted {
                result,
                attempts: attempt,
                latency_ms: millis(attempt_started.elapsed()),
            };
            let mut record = self.record(&ctx.run_id, ctx.step_index, step, &failed, redactor);
            record.status = crate::executor::StepStatus::Retrying;
            observer.on_event(&RunEvent::StepRetrying {
                record,
                retry_in_ms: millis(retry_in),
            });
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = cancel.cancelled() => {
                    return Attempted { result: Err(StepError::Cancelled), attempts: attempt, latency_ms: millis(started.elapsed()) };
                }
            }
        }
    }

    /// One attempt: resolve references, read credentials, run with timeout and cancellation.
    /// In a dry run, a step with side effects stops after resolving its params.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        step: &StepSpec,
        scope: &Scope,
        ctx: &StepContext,
        timeout: Duration,
        dry_run: bool,
        redactor: &mut Redactor,
        cancel: &CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        let provider = self
            .registry
            .get(&step.provider)
            .ok_or_else(|| StepError::fatal("UNKNOWN_PROVIDER", format!("unknown provider `{}`", step.provider)))?;
        let params = template::resolve(&step.params, scope)
            .map_err(|(path, e)| StepError::fatal("REFERENCE", format!("params.{path}: {e}")))?;
        // Decided on the resolved params: an HTTP method may come from a reference.
        // The stub returns before any credential is read, so a dry run needs none
        // and no secret can reach `would_send` (params only ever name credentials).
        if dry_run && provider.has_side_effects(&step.action, &params) {
            return Ok(
                ProviderResult::ok(json!({"dry_run": true, "would_send": params}), DRY_RUN_MESSAGE)
                    .with_metadata(template::DRY_RUN_METADATA, true),
            );
        }
        let credentials = Credentials::new(self.credentials.clone(), provider.name());
        let child = cancel.child_token();
        let run = provider.run(&step.action, params, &credentials, ctx, child.clone());
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, run) => r.unwrap_or(Err(StepError::Timeout(timeout))),
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        };
        // Stop anything the provider left running (it was dropped, but be explicit).
        child.cancel();
        for v in credentials.used_values() {
            redactor.add(&v);
        }
        result
    }

    fn skipped(&self, run_id: &str, index: usize, step: &StepSpec) -> StepRecord {
        StepRecord {
            run_id: run_id.to_string(),
            step_number: index,
            step_id: step.id.clone(),
            provider: step.provider.clone(),
            action: step.action.clone(),
            status: StepStatus::Skipped,
            attempt: 0,
            message: "skipped: an earlier step failed or the run was cancelled".into(),
            latency_ms: 0,
            output_preview: String::new(),
            output: Value::Null,
            metadata: Map::new(),
            error: None,
            timestamp: self.clock.now(),
        }
    }

    fn record(
        &self,
        run_id: &str,
        index: usize,
        step: &StepSpec,
        attempted: &Attempted,
        redactor: &Redactor,
    ) -> StepRecord {
        let (status, message, mut output, mut metadata, error) = match &attempted.result {
            Ok(r) if r.success => (
                StepStatus::Success,
                r.message.clone(),
                r.output.clone(),
                r.metadata.clone(),
                None,
            ),
            Ok(r) => (
                StepStatus::Error,
                r.message.clone(),
                r.output.clone(),
                r.metadata.clone(),
                Some(r.error.clone().unwrap_or_else(|| "ERROR".into())),
            ),
            Err(e @ StepError::Timeout(_)) => (
                StepStatus::Timeout,
                e.to_string(),
                Value::Null,
                Map::new(),
                Some(e.code().to_string()),
            ),
            Err(e) => (
                StepStatus::Error,
                e.to_string(),
                Value::Null,
                Map::new(),
                Some(e.code().to_string()),
            ),
        };
        redactor.redact_value(&mut output);
        let mut meta_value = Value::Object(std::mem::take(&mut metadata));
        redactor.redact_value(&mut meta_value);
        let metadata = match meta_value {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let output = cap_output(output);
        StepRecord {
            run_id: run_id.to_string(),
            step_number: index,
            step_id: step.id.clone(),
            provider: step.provider.clone(),
            action: step.action.clone(),
            status,
            attempt: attempted.attempts,
            message: redactor.redact_str(&message),
            latency_ms: attempted.latency_ms,
            output_preview: preview(&output),
            output,
            metadata,
            error: error.map(|e| redactor.redact_str(&e)),
            timestamp: self.clock.now(),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Exponential backoff with full jitter; a server's `Retry-After` wins (capped).
pub fn backoff(policy: &RetryPolicy, attempt: u32, error: &StepError) -> Duration {
    if let StepError::Retryable { after: Some(after), .. } = error {
        return (*after).min(MAX_RETRY_AFTER);
    }
    let exp = policy
        .backoff_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
    let ceiling = exp.min(policy.max_backoff_ms);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

/// Cut an output larger than [`MAX_OUTPUT_BYTES`] down to a string with a marker.
pub fn cap_output(output: Value) -> Value {
    let size = match &output {
        Value::String(s) => s.len(),
        Value::Null | Value::Bool(_) | Value::Number(_) => return output,
        other => serde_json::to_string(other).map(|s| s.len()).unwrap_or(0),
    };
    if size <= MAX_OUTPUT_BYTES {
        return output;
    }
    let text = match output {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let mut cut = MAX_OUTPUT_BYTES - 100;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Value::String(format!("{}…[truncated: output was {size} bytes]", &text[..cut]))
}

/// The first [`PREVIEW_CHARS`] characters of an output, as text.
pub fn preview(output: &Value) -> String {
    let text = template::to_text(output);
    match text.char_indices().nth(PREVIEW_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::registry::{ActionSpec, Provider, StaticCredentials};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A provider whose behaviour each test scripts: `echo` returns its params,
    /// `flaky` fails `fail_times` times (retryable) then succeeds, `fatal` fails,
    /// `hang` waits for cancellation, `secret` returns its credential, `send`
    /// (the only action with side effects) reads its credential and "sends".
    struct Scripted {
        calls: AtomicU32,
    }

    #[async_trait]
    impl Provider for Scripted {
        fn name(&self) -> &'static str {
            "test"
        }
        fn description(&self) -> &'static str {
            "scripted"
        }
        fn credential_fields(&self) -> &'static [&'static str] {
            &["token"]
        }
        fn actions(&self) -> Vec<ActionSpec> {
            ["echo", "flaky", "fatal", "hang", "secret", "big", "send"]
                .into_iter()
                .map(|name| ActionSpec {
                    name,
                    description: "scripted",
                    params_schema: json!({"type": "object"}),
                    side_effects: name == "send",
                })
                .collect()
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
                            code: "HTTP_503".into(),
                            message: format!("attempt {n} failed"),
                            after: None,
                        })
                    } else {
                        Ok(ProviderResult::ok(json!(n), "finally"))
                    }
                }
                "fatal" => Err(StepError::fatal("HTTP_404", "not found")),
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
                _ => Err(StepError::fatal("UNKNOWN_ACTION", action)),
            }
        }
    }

    fn executor() -> Executor {
        let registry = Registry::from_providers(vec![Arc::new(Scripted {
            calls: AtomicU32::new(0),
        })]);
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
        let registry = Registry::from_providers(vec![Arc::new(Scripted {
            calls: AtomicU32::new(0),
        })]);
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
        let req = RunRequest {
            run_id: "r1".into(),
            plan: plan(steps),
            trigger: json!({"type": "manual"}),
            deadline: None,
            dry_run: false,
        };
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
        assert!(matches!(events.last(), Some(RunEvent::RunFinished { last_step: Some(s), .. }) if s.step_number == 1));
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
                .all(|r| r.status == StepStatus::Retrying && r.error.as_deref() == Some("HTTP_503"))
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
        assert!(outcome.error.unwrap().contains("step 1 of 2 (test.flaky) failed"));
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
        assert_eq!(outcome.steps[0].error.as_deref(), Some("HTTP_404"));
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
        assert_eq!(outcome.steps[1].error.as_deref(), Some("REFERENCE"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_that_overruns_its_timeout_is_logged_as_timeout() {
        let (outcome, _) =
            run(json!([{"provider": "test", "action": "hang", "params": {}, "timeout_s": 2, "retry": 1}])).await;
        assert_eq!(outcome.status, RunStatus::Failed);
        assert_eq!(outcome.steps[0].status, StepStatus::Timeout);
        assert_eq!(outcome.steps[0].error.as_deref(), Some("TIMEOUT"));
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
        let req = RunRequest {
            run_id: "r".into(),
            plan: plan(
                json!([{"provider": "test", "action": "hang", "params": {}}, {"provider": "test", "action": "echo", "params": {}}]),
            ),
            trigger: json!({}),
            deadline: None,
            dry_run: false,
        };
        let outcome = executor().run(req, &observer, cancel).await;
        assert_eq!(outcome.status, RunStatus::Cancelled);
        assert_eq!(outcome.steps[1].status, StepStatus::Skipped);
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

    #[test]
    fn backoff_honours_retry_after_with_a_cap_and_jitters_otherwise() {
        let policy = RetryPolicy {
            max_attempts: 5,
            backoff_ms: 100,
            max_backoff_ms: 1_000,
        };
        let after = |s| StepError::Retryable {
            code: "HTTP_429".into(),
            message: String::new(),
            after: Some(Duration::from_secs(s)),
        };
        assert_eq!(backoff(&policy, 1, &after(7)), Duration::from_secs(7));
        assert_eq!(backoff(&policy, 1, &after(100_000)), MAX_RETRY_AFTER);
        let plain = StepError::retryable("CONNECT", "refused");
        for attempt in 1..10 {
            let ceiling = (100u64 << (attempt - 1)).min(1_000);
            assert!(backoff(&policy, attempt, &plain) <= Duration::from_millis(ceiling));
        }
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
        let registry = Registry::from_providers(vec![Arc::new(Scripted {
            calls: AtomicU32::new(0),
        })]);
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
            run_id: "dry".into(),
            plan: plan(steps),
            trigger: json!({"type": "manual"}),
            deadline: None,
            dry_run: true,
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
        assert_eq!(outcome.steps[2].error.as_deref(), Some("REFERENCE"));
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
            run_id: "dry".into(),
            plan: plan(steps.clone()),
            trigger: json!({"type": "manual"}),
            deadline: None,
            dry_run,
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
        assert_eq!(outcome.steps[1].error.as_deref(), Some("KEYCHAIN_UNAVAILABLE"));
    }
}
