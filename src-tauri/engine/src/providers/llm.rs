//! `openai`, `groq`, `openai_compatible`: TODO(helper) — being written.
use crate::registry::{ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError};
use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct Llm {
    name: &'static str,
}
impl Llm {
    pub fn openai() -> Self {
        Self { name: "openai" }
    }
    pub fn groq() -> Self {
        Self { name: "groq" }
    }
    pub fn openai_compatible() -> Self {
        Self {
            name: "openai_compatible",
        }
    }
}

#[async_trait]
impl Provider for Llm {
    fn name(&self) -> &'static str {
        self.name
    }
    fn description(&self) -> &'static str {
        "LLM chat completions"
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
