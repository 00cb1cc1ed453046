//! One step, attempt by attempt: references resolved, credentials read (and
//! remembered for redaction), the provider run under its timeout and the run's
//! cancellation, retried with backoff while the failure may pass; then its log
//! record, redacted and capped.

use super::{Executor, RunContext};
use crate::plan::{CheckedStep, StepSpec};
use crate::redact::SharedRedactor;
use crate::references::{self, Scope};
use crate::registry::{Credentials, ProviderResult, StepContext};
use crate::retry::{RetryOn, backoff};
use crate::run::{
    DRY_RUN_MESSAGE, MAX_INPUT_BYTES, RunEvent, StepRecord, StepStatus, cap, cap_output, millis, preview,
};
use crate::step_error::{ErrorCode, StepError};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// A step's final result after its attempts.
pub struct Attempted {
    pub result: Result<ProviderResult, StepError>,
    pub attempts: u32,
    pub latency_ms: u64,
    /// The params of the last attempt, references resolved (null if they never were).
    pub input: Value,
}

impl Attempted {
    /// A step that failed before any attempt (a condition that could not be checked).
    pub fn failed(error: StepError) -> Self {
        Self {
            result: Err(error),
            attempts: 0,
            latency_ms: 0,
            input: Value::Null,
        }
    }
}

impl Executor {
    /// Attempts until one succeeds, the failure cannot pass, or attempts run out.
    /// `timeout` is one attempt's; each is also cut to what is left of the run's
    /// deadline, and a wait before the next attempt that the deadline would cut
    /// short is not begun. `announce` sends the step-level events (off for the
    /// items of a loop, which report as items).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_step_with_retries(
        &self,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: &Scope,
        step_ctx: &StepContext,
        timeout: Duration,
        ctx: &RunContext<'_>,
        announce: bool,
    ) -> Attempted {
        let started = Instant::now();
        let policy = checked.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Some(timeout) = ctx.timeout(timeout) else {
                return Attempted {
                    result: Err(StepError::fatal(ErrorCode::Timeout, "the run passed its deadline")),
                    attempts: attempt - 1,
                    latency_ms: millis(started.elapsed()),
                    input: Value::Null,
                };
            };
            if announce {
                ctx.observer
                    .record(&RunEvent::StepStarted {
                        run_id: ctx.run_id.to_string(),
                        step_number: step_ctx.step_index,
                        provider: spec.provider.clone(),
                        action: spec.action.clone(),
                        attempt,
                    })
                    .await;
            }
            let attempt_started = Instant::now();
            let step_ctx = StepContext {
                attempt,
                deadline: Some(attempt_started + timeout),
                ..step_ctx.clone()
            };
            let (result, input) = self.attempt(spec, checked, scope, &step_ctx, timeout, ctx).await;
            let may_retry = |e: &StepError| e.is_retryable() || (policy.on == RetryOn::Any && e.is_unknown());
            let retry_in = match &result {
                Err(e) if may_retry(e) && attempt < policy.max_attempts => Some(backoff(&policy, attempt, e)),
                _ => None,
            };
            let Some(retry_in) = retry_in else {
                return Attempted {
                    result,
                    attempts: attempt,
                    latency_ms: millis(started.elapsed()),
                    input,
                };
            };
            // Every wait ends at the run's deadline: one that would outlast it is not begun.
            if let Some(deadline) = ctx.deadline
                && Instant::now() + retry_in >= deadline
            {
                let note = format!(
                    "not tried again: the run's deadline comes before the next attempt (in {:.1} s)",
                    retry_in.as_secs_f64()
                );
                return Attempted {
                    result: result.map_err(|e| e.noting(&note)),
                    attempts: attempt,
                    latency_ms: millis(started.elapsed()),
                    input,
                };
            }
            if announce {
                let failed = Attempted {
                    result,
                    attempts: attempt,
                    latency_ms: millis(attempt_started.elapsed()),
                    input,
                };
                let mut record = self.record(ctx.run_id, step_ctx.step_index, spec, failed, &ctx.redactor);
                record.status = StepStatus::Retrying;
                ctx.observer
                    .record(&RunEvent::StepRetrying {
                        record,
                        retry_in_ms: millis(retry_in),
                    })
                    .await;
            }
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = ctx.cancel.cancelled() => {
                    return Attempted {
                        result: Err(StepError::Cancelled),
                        attempts: attempt,
                        latency_ms: millis(started.elapsed()),
                        input: Value::Null,
                    };
                }
            }
        }
    }

    /// One attempt: resolve references, read credentials, run with timeout and
    /// cancellation; the result and the resolved params. In a dry run, a step with
    /// side effects stops after resolving its params.
    async fn attempt(
        &self,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: &Scope,
        step_ctx: &StepContext,
        timeout: Duration,
        ctx: &RunContext<'_>,
    ) -> (Result<ProviderResult, StepError>, Value) {
        let provider = &checked.provider;
        let kind_of = |path: &str| provider.text_kind(&spec.action, path);
        let params = match references::resolve_with(&spec.params, scope, &kind_of) {
            Ok(p) => p,
            Err((path, e)) => {
                let at = if path.is_empty() {
                    "params".to_string()
                } else {
                    format!("params.{path}")
                };
                return (
                    Err(StepError::fatal(ErrorCode::Reference, format!("{at}: {e}"))),
                    Value::Null,
                );
            }
        };
        // Decided on the resolved params: an HTTP method may come from a reference.
        // The stub returns before any credential is read, so a dry run needs none
        // and no secret can reach `would_send` (params only ever name credentials).
        let side_effects = provider.has_side_effects(&spec.action, &params);
        if ctx.dry_run && side_effects {
            let stub = ProviderResult::ok(json!({"dry_run": true, "would_send": params}), DRY_RUN_MESSAGE)
                .with_metadata(references::DRY_RUN_METADATA, true);
            return (Ok(stub), params);
        }
        // Cancelled before it starts (a stop, or its start could not be
        // recorded, so nothing would say it was in flight): it does not start.
        if ctx.cancel.is_cancelled() {
            return (Err(StepError::Cancelled), Value::Null);
        }
        let input = params.clone();
        let credentials = Credentials::new(self.credentials.clone(), provider.name());
        let child = ctx.cancel.child_token();
        let run = provider.run(&spec.action, params, &credentials, step_ctx, child.clone());
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, run) => r.unwrap_or(Err(StepError::Timeout(timeout))),
            _ = ctx.cancel.cancelled() => Err(StepError::Cancelled),
        };
        // A step that changes something and ran out of time may have done it.
        let result = match result {
            Err(StepError::Timeout(after)) if side_effects => Err(StepError::Unknown {
                code: ErrorCode::Timeout,
                message: format!(
                    "timed out after {after:?}; the server may have received the request, so it is not sent again: check whether it took effect before running the step again"
                ),
            }),
            other => other,
        };
        // Stop anything the provider left running (it was dropped, but be explicit).
        child.cancel();
        // A credential held back from where the step sent its request: say so.
        let result = match (result, credentials.withheld()) {
            (Ok(mut r), Some(note)) => {
                r.metadata.insert("credentials_withheld".into(), Value::String(note));
                Ok(r)
            }
            (Err(e), Some(note)) if matches!(e.code(), ErrorCode::Http(401 | 403)) => Err(e.noting(&note)),
            (result, _) => result,
        };
        for v in credentials.used_values() {
            ctx.redactor.add(&v);
        }
        (result, input)
    }

    /// The record of a step that did not run.
    pub(super) fn skipped(&self, run_id: &str, index: usize, spec: &StepSpec, why: &str) -> StepRecord {
        StepRecord {
            run_id: run_id.to_string(),
            step_number: index,
            step_id: spec.id.clone(),
            provider: spec.provider.clone(),
            action: spec.action.clone(),
            status: StepStatus::Skipped,
            attempt: 0,
            message: why.into(),
            latency_ms: 0,
            output_preview: String::new(),
            output: Value::Null,
            input: Value::Null,
            metadata: Map::new(),
            error: None,
            items: None,
            timestamp: self.clock.now(),
        }
    }

    /// A step's log record: redacted, its output capped. Takes the result by
    /// value: an output may be 10 MB, and it is moved, not copied.
    pub(super) fn record(
        &self,
        run_id: &str,
        index: usize,
        spec: &StepSpec,
        attempted: Attempted,
        redactor: &SharedRedactor,
    ) -> StepRecord {
        let Attempted {
            result,
            attempts,
            latency_ms,
            input,
        } = attempted;
        let (status, message, mut output, metadata, error) = match result {
            Ok(r) if r.success => (StepStatus::Success, r.message, r.output, r.metadata, None),
            Ok(r) => (
                StepStatus::Error,
                r.message,
                r.output,
                r.metadata,
                Some(r.error.unwrap_or(ErrorCode::Error)),
            ),
            Err(e @ StepError::Timeout(_)) => (
                StepStatus::Timeout,
                e.to_string(),
                Value::Null,
                Map::new(),
                Some(e.code()),
            ),
            Err(e @ StepError::Unknown { .. }) => (
                StepStatus::Unknown,
                e.to_string(),
                Value::Null,
                Map::new(),
                Some(e.code()),
            ),
            Err(e) => (
                StepStatus::Error,
                e.to_string(),
                Value::Null,
                Map::new(),
                Some(e.code()),
            ),
        };
        redactor.redact_value(&mut output);
        let mut meta_value = Value::Object(metadata);
        redactor.redact_value(&mut meta_value);
        let metadata = match meta_value {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let output = cap_output(output);
        let mut input = input;
        redactor.redact_value(&mut input);
        let input = cap(input, MAX_INPUT_BYTES);
        StepRecord {
            run_id: run_id.to_string(),
            step_number: index,
            step_id: spec.id.clone(),
            provider: spec.provider.clone(),
            action: spec.action.clone(),
            status,
            attempt: attempts,
            message: redactor.redact_str(&message),
            latency_ms,
            output_preview: preview(&output),
            output,
            input,
            metadata,
            error,
            items: None,
            timestamp: self.clock.now(),
        }
    }
}
