//! A `for_each` step: its list resolved once, then the step run for each item
//! (the `when` condition checked per item first), up to `concurrency` items at a
//! time, each with its own retries. The output is the items' outputs in item
//! order; a failed item's entry is `{"error", "message"}`, a skipped one's null.
//! With `on_error: stop` the first failure ends the loop and fails the step;
//! with `continue` the step fails only if every item failed.

use super::step::Attempted;
use super::{Executor, RunContext};
use crate::condition;
use crate::plan::{CheckedStep, OnItemError, StepSpec, limits};
use crate::references::Scope;
use crate::registry::{ProviderResult, StepContext};
use crate::run::{ItemRecord, RunEvent, StepRecord, StepStatus, millis};
use crate::step_error::{ErrorCode, StepError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// How one item ended.
enum ItemEnd {
    Done(Attempted),
    /// Its condition was false.
    Skipped,
}

impl Executor {
    pub(super) async fn run_for_each(
        &self,
        index: usize,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: &Scope,
        timeout: Duration,
        ctx: &RunContext<'_>,
    ) -> StepRecord {
        let started = Instant::now();
        let Some(each) = &checked.for_each else {
            return self.record(ctx.run_id, index, spec, Attempted::failed(not_a_loop()), &ctx.redactor);
        };
        let fail = |error: StepError| self.record(ctx.run_id, index, spec, Attempted::failed(error), &ctx.redactor);
        let items = match scope.lookup(&each.source) {
            Ok(v) => v.into_owned(),
            Err(e) => return fail(StepError::fatal(ErrorCode::Reference, format!("for_each: {e}"))),
        };
        let items = match items {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            Value::String(_) => {
                return fail(StepError::fatal(
                    ErrorCode::ForEach,
                    format!(
                        "for_each: {} is text, not a list; if it holds JSON, parse it first with a logic.json_parse step",
                        each.source
                    ),
                ));
            }
            other => {
                return fail(StepError::fatal(
                    ErrorCode::ForEach,
                    format!("for_each: {} is {}, not a list", each.source, kind_of(&other)),
                ));
            }
        };
        if items.len() > limits::MAX_ITEMS {
            return fail(StepError::fatal(
                ErrorCode::ForEach,
                format!(
                    "for_each: {} has {} items; a step goes through at most {}",
                    each.source,
                    items.len(),
                    limits::MAX_ITEMS
                ),
            ));
        }
        ctx.observer
            .record(&RunEvent::StepStarted {
                run_id: ctx.run_id.to_string(),
                step_number: index,
                provider: spec.provider.clone(),
                action: spec.action.clone(),
                attempt: 1,
            })
            .await;

        let total = items.len();
        let concurrency = usize::from(each.options.concurrency.clamp(1, 8));
        let stop_on_error = each.options.on_error == OnItemError::Stop;
        let mut ends: Vec<Option<(ItemEnd, u64)>> = (0..total).map(|_| None).collect();
        let mut pending = items.into_iter().enumerate();
        let mut running = FuturesUnordered::new();
        let mut stopped = false;
        let mut done = 0;
        loop {
            while !stopped && running.len() < concurrency {
                let Some((i, item)) = pending.next() else { break };
                let item_scope = scope.with_item(item, i);
                running.push(async move {
                    let item_started = Instant::now();
                    let end = self.run_item(index, spec, checked, item_scope, i, timeout, ctx).await;
                    (i, end, millis(item_started.elapsed()))
                });
            }
            let Some((i, end, latency)) = running.next().await else {
                break;
            };
            done += 1;
            let failed = matches!(&end, ItemEnd::Done(a) if a.result.as_ref().map_or(true, |r| !r.success));
            let cancelled = matches!(
                &end,
                ItemEnd::Done(Attempted {
                    result: Err(StepError::Cancelled),
                    ..
                })
            );
            let record = item_record(i, &end, latency, ctx);
            ctx.observer.on_event(&RunEvent::ItemFinished {
                run_id: ctx.run_id.to_string(),
                step_number: index,
                item: record,
                done,
                total,
            });
            ends[i] = Some((end, latency));
            if cancelled || (failed && stop_on_error) || ctx.cancel.is_cancelled() {
                stopped = true;
            }
        }
        self.loop_record(index, spec, ends, stop_on_error, millis(started.elapsed()), ctx)
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_item(
        &self,
        index: usize,
        spec: &StepSpec,
        checked: &CheckedStep,
        scope: Scope,
        item: usize,
        timeout: Duration,
        ctx: &RunContext<'_>,
    ) -> ItemEnd {
        if let Some(when) = &spec.when {
            match condition::evaluate(when, &scope) {
                Ok(verdict) if !verdict.holds => return ItemEnd::Skipped,
                Ok(_) => {}
                Err(e) => {
                    return ItemEnd::Done(Attempted::failed(StepError::fatal(
                        ErrorCode::Condition,
                        format!("item {item}: when: {e}"),
                    )));
                }
            }
        }
        let step_ctx = StepContext {
            item: Some(item),
            ..self.step_context(ctx, index)
        };
        ItemEnd::Done(
            self.run_step_with_retries(spec, checked, &scope, &step_ctx, timeout, ctx, false)
                .await,
        )
    }

    /// The loop's one record: outputs in item order, counts in metadata, one
    /// compact row per item.
    fn loop_record(
        &self,
        index: usize,
        spec: &StepSpec,
        ends: Vec<Option<(ItemEnd, u64)>>,
        stop_on_error: bool,
        latency_ms: u64,
        ctx: &RunContext<'_>,
    ) -> StepRecord {
        let total = ends.len();
        let (mut succeeded, mut failed, mut skipped) = (0usize, 0usize, 0usize);
        let mut outputs = Vec::with_capacity(total);
        let mut rows = Vec::with_capacity(total);
        let mut first_failure: Option<(usize, ErrorCode, String)> = None;
        // Whether the failure that decides the step left a request's outcome unknown.
        let mut first_unknown = false;
        let mut cancelled = false;
        let mut most_attempts = 0;
        for (i, end) in ends.into_iter().enumerate() {
            let Some((end, latency)) = end else {
                // Never started: the loop stopped first.
                skipped += 1;
                outputs.push(Value::Null);
                rows.push(ItemRecord {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    status: StepStatus::Skipped,
                    attempt: 0,
                    latency_ms: 0,
                    error: None,
                    message: "not run: the loop stopped".into(),
                });
                continue;
            };
            rows.push(item_record(i, &end, latency, ctx));
            match end {
                ItemEnd::Skipped => {
                    skipped += 1;
                    outputs.push(Value::Null);
                }
                ItemEnd::Done(a) => {
                    most_attempts = most_attempts.max(a.attempts);
                    match a.result {
                        Ok(ProviderResult {
                            success: true, output, ..
                        }) => {
                            succeeded += 1;
                            outputs.push(output);
                        }
                        Ok(r) => {
                            failed += 1;
                            let code = r.error.unwrap_or(ErrorCode::Error);
                            outputs.push(json!({"error": code, "message": r.message}));
                            first_failure.get_or_insert((i, code, r.message));
                        }
                        Err(e) => {
                            cancelled |= matches!(e, StepError::Cancelled);
                            failed += 1;
                            let message = e.to_string();
                            outputs.push(json!({"error": e.code(), "message": message}));
                            if first_failure.is_none() {
                                first_unknown = e.is_unknown();
                            }
                            first_failure.get_or_insert((i, e.code(), message));
                        }
                    }
                }
            }
        }
        let mut metadata = Map::new();
        metadata.insert("succeeded".into(), succeeded.into());
        metadata.insert("failed".into(), failed.into());
        metadata.insert("skipped".into(), skipped.into());
        // `continue`: the step fails only when items ran and none of them succeeded.
        let step_fails = cancelled
            || if stop_on_error {
                failed > 0
            } else {
                failed > 0 && succeeded == 0
            };
        let result = match (&first_failure, step_fails) {
            (_, false) => Ok(ProviderResult {
                success: true,
                output: Value::Array(outputs),
                message: format!("{succeeded} of {total} items succeeded, {failed} failed, {skipped} skipped"),
                metadata,
                error: None,
            }),
            (_, true) if cancelled => Err(StepError::Cancelled),
            (Some((i, code, message)), true) => {
                let message = if stop_on_error {
                    format!("item {} of {total} failed: {message}", i + 1)
                } else {
                    format!("every item that ran failed ({failed} of {total}); the first: {message}")
                };
                Ok(ProviderResult {
                    success: false,
                    output: Value::Array(outputs),
                    message,
                    metadata,
                    error: Some(if stop_on_error { *code } else { ErrorCode::ItemsFailed }),
                })
            }
            (None, true) => Err(not_a_loop()),
        };
        let attempted = Attempted {
            result,
            attempts: most_attempts.max(1),
            latency_ms,
            // Each item had its own; the log keeps the params as written.
            input: spec.params.clone(),
        };
        let mut record = self.record(ctx.run_id, index, spec, attempted, &ctx.redactor);
        if record.status == StepStatus::Error && first_unknown && stop_on_error {
            record.status = StepStatus::Unknown;
        }
        for row in &mut rows {
            row.message = ctx.redactor.redact_str(&row.message);
        }
        record.items = Some(rows);
        record
    }
}

fn item_record(i: usize, end: &ItemEnd, latency: u64, ctx: &RunContext<'_>) -> ItemRecord {
    let (status, attempt, error, message) = match end {
        ItemEnd::Skipped => (StepStatus::Skipped, 0, None, "its condition was false".to_string()),
        ItemEnd::Done(a) => match &a.result {
            Ok(r) if r.success => (StepStatus::Success, a.attempts, None, String::new()),
            Ok(r) => (
                StepStatus::Error,
                a.attempts,
                Some(r.error.unwrap_or(ErrorCode::Error)),
                r.message.clone(),
            ),
            Err(e @ StepError::Timeout(_)) => (StepStatus::Timeout, a.attempts, Some(e.code()), e.to_string()),
            Err(e @ StepError::Unknown { .. }) => (StepStatus::Unknown, a.attempts, Some(e.code()), e.to_string()),
            Err(e) => (StepStatus::Error, a.attempts, Some(e.code()), e.to_string()),
        },
    };
    ItemRecord {
        index: u32::try_from(i).unwrap_or(u32::MAX),
        status,
        attempt,
        latency_ms: u32::try_from(latency).unwrap_or(u32::MAX),
        error,
        message: ctx.redactor.redact_str(&message),
    }
}

fn not_a_loop() -> StepError {
    StepError::fatal(ErrorCode::ForEach, "the step has no for_each list")
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
