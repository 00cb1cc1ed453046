//! `webhook`: TODO(helper) — being written.
use crate::registry::{ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError};
use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct Webhook;

#[async_trait]
impl Provider for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    fn description(&self) -> &'static str {
        "HTTP requests to any API"
    }
    fn actions(&self) -> Vec<ActionSpec> {
        vec![]
    }
    async fn run(
        &self,
        _a: &str,
        _p: Value,
        _c: &Credentials,
        _x: &StepContext,
        _k: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        Err(StepError::fatal("UNIMPLEMENTED", "not yet"))
    }
}
