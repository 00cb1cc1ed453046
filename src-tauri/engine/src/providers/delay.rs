//! `delay.wait`: pause the plan for a number of seconds; cancellable.

use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Delay;

/// The longest a single `wait` may be.
const MAX_SECONDS: f64 = 86_400.0;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    /// Seconds to wait (fractions allowed, at most one day).
    #[schemars(range(min = 0, max = 86400))]
    seconds: f64,
}

#[async_trait]
impl Provider for Delay {
    fn name(&self) -> &str {
        "delay"
    }

    fn title(&self) -> String {
        "Delay".into()
    }

    fn description(&self) -> String {
        "Pause the plan".into()
    }

    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            vec![ActionSpec::new(
                "wait",
                "Wait for a number of seconds",
                schema_of::<WaitParams>(),
                false,
            )]
        });
        &ACTIONS
    }

    fn default_timeout(&self) -> Duration {
        // The wait itself is the work; the timeout must not cut it short.
        Duration::from_secs_f64(MAX_SECONDS + 60.0)
    }

    async fn run(
        &self,
        action: &str,
        params: Value,
        _credentials: &Credentials,
        _ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        if action != "wait" {
            return Err(StepError::fatal(
                ErrorCode::UnknownAction,
                format!("delay has no action `{action}`"),
            ));
        }
        let p: WaitParams = parse_params(params)?;
        if !(0.0..=MAX_SECONDS).contains(&p.seconds) {
            return Err(StepError::fatal(
                ErrorCode::InvalidParams,
                "seconds must be between 0 and 86400",
            ));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(p.seconds)) => {
                Ok(ProviderResult::ok(json!(p.seconds), format!("Waited {} s", p.seconds)))
            }
            _ = cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}
