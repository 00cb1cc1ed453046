//! The provider registry: what a provider is, what it returns, how its failures
//! are classified, and the static list of built-in providers.

pub use crate::credentials::{
    CredentialError, CredentialSource, Credentials, NoCredentials, StaticCredentials, origin_of,
};
pub use crate::step_error::{ErrorCode, StepError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The result of one step, in the seeds' shape. This is what later steps
/// reference as `steps.N` (`output`, `message`, `metadata`, `success`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderResult {
    pub success: bool,
    pub output: Value,
    pub message: String,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorCode>,
}

impl ProviderResult {
    pub fn ok(output: Value, message: impl Into<String>) -> Self {
        Self {
            success: true,
            output,
            message: message.into(),
            metadata: Map::new(),
            error: None,
        }
    }

    pub fn with_metadata(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.to_string(), value.into());
        self
    }
}

/// One action of a provider, as shown to users, the UI's forms and an LLM.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema (draft 2020-12) of the action's params.
    pub params_schema: Value,
    /// Whether running it changes something outside Flowpilot (a POST, an email).
    pub side_effects: bool,
}

/// What a running step knows besides its params.
#[derive(Debug, Clone, Default)]
pub struct StepContext {
    pub run_id: String,
    pub plan_name: String,
    pub step_index: usize,
    /// The item of a `for_each` step, from 0.
    pub item: Option<usize>,
    pub attempt: u32,
    /// When this attempt's time is up (its timeout, cut to the run's deadline):
    /// a provider's own waits (a rate limit) end by then.
    pub deadline: Option<std::time::Instant>,
    /// The HTTP client shared by all steps of all runs (timeouts set; built on first use).
    pub http: crate::http_client::HttpClient,
}

impl StepContext {
    /// The `Idempotency-Key` every attempt of this step (or item) sends with a
    /// request that has side effects: the same for each retry, different for
    /// every step, item and run (a replay is a new run).
    pub fn idempotency_key(&self) -> String {
        match self.item {
            Some(item) => format!("flowpilot-{}-{}-{item}", self.run_id, self.step_index),
            None => format!("flowpilot-{}-{}", self.run_id, self.step_index),
        }
    }
}

/// A provider: a named group of actions. Providers validate params when a plan
/// is loaded (`prepare`) and run later (`run`).
#[async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;

    /// Other names this provider answers to (the seeds' `custom_api` for `http`).
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }

    fn description(&self) -> &'static str;

    fn actions(&self) -> Vec<ActionSpec>;

    /// Credential fields this provider reads from the keychain.
    fn credential_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Those of [`Provider::credential_fields`] it can run without (a self-hosted
    /// model server usually takes no key): not "missing" when unset.
    fn optional_credentials(&self) -> &'static [&'static str] {
        &[]
    }

    /// The credentials a step of `action` with these params cannot run without:
    /// by default the declared fields that are not optional. Providers whose steps
    /// name their credential (an HTTP step's `auth`) say which.
    fn credentials_needed(&self, _action: &str, _params: &Value) -> Vec<String> {
        let optional = self.optional_credentials();
        self.credential_fields()
            .iter()
            .filter(|f| !optional.contains(f))
            .map(|f| f.to_string())
            .collect()
    }

    /// How a string param of `action` takes references, by its path inside the
    /// params (`url`, `headers.Accept`): a URL's values are encoded for where they
    /// land, a header's may hold no line break. Everything else is plain text.
    fn text_kind(&self, _action: &str, _path: &str) -> crate::references::TextKind {
        crate::references::TextKind::Plain
    }

    /// The default time one attempt of a step may take.
    fn default_timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    /// Checks beyond the JSON Schema, run when the plan is loaded. Params may
    /// still hold unresolved references (`${...}`); skip checks on those.
    /// Returns `(path inside params, message)` pairs.
    fn prepare(&self, _action: &str, _params: &Value) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Whether running `action` with these resolved params would change something
    /// outside Flowpilot. A dry run answers such steps from a stub instead of running
    /// them. The default is the action's declared [`ActionSpec::side_effects`];
    /// providers whose actions are only sometimes harmful (an HTTP GET versus a POST)
    /// refine it from the params. An action the provider does not know counts as
    /// having side effects: a dry run must never send what it cannot vouch for.
    fn has_side_effects(&self, action: &str, _params: &Value) -> bool {
        self.actions()
            .iter()
            .find(|a| a.name == action)
            .is_none_or(|a| a.side_effects)
    }

    /// Run one attempt of `action` with resolved params.
    async fn run(
        &self,
        action: &str,
        params: Value,
        credentials: &Credentials,
        ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError>;
}

/// The providers Flowpilot knows, looked up by name or alias.
#[derive(Clone)]
pub struct Registry {
    providers: Vec<Arc<dyn Provider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|p| p.name())).finish()
    }
}

impl Registry {
    /// Every built-in provider.
    pub fn builtin() -> Self {
        Self {
            providers: crate::providers::builtin(),
        }
    }

    pub fn from_providers(providers: Vec<Arc<dyn Provider>>) -> Self {
        Self { providers }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers
            .iter()
            .find(|p| p.name() == name || p.aliases().contains(&name))
    }

    pub fn action(&self, provider: &str, action: &str) -> Option<ActionSpec> {
        self.get(provider)?.actions().into_iter().find(|a| a.name == action)
    }

    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        &self.providers
    }

    /// The catalogue: every provider with its actions and params schemas.
    pub fn catalogue(&self) -> Vec<ProviderInfo> {
        self.providers
            .iter()
            .map(|p| ProviderInfo {
                name: p.name().to_string(),
                aliases: p.aliases().iter().map(|a| a.to_string()).collect(),
                description: p.description().to_string(),
                credential_fields: p.credential_fields().iter().map(|f| f.to_string()).collect(),
                optional_credentials: p.optional_credentials().iter().map(|f| f.to_string()).collect(),
                actions: p
                    .actions()
                    .into_iter()
                    .map(|a| ActionInfo {
                        name: a.name.to_string(),
                        description: a.description.to_string(),
                        params_schema: a.params_schema,
                        side_effects: a.side_effects,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A provider as the catalogue describes it (serialisable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
pub struct ProviderInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub description: String,
    pub credential_fields: Vec<String>,
    /// Credential fields it runs without when they are not set.
    #[serde(default)]
    pub optional_credentials: Vec<String>,
    pub actions: Vec<ActionInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
pub struct ActionInfo {
    pub name: String,
    pub description: String,
    pub params_schema: Value,
    pub side_effects: bool,
}

/// The JSON Schema of a params type, from its `schemars` derive.
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Bool(true))
}

/// Deserialise resolved params into the action's typed params.
pub fn parse_params<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, StepError> {
    serde_json::from_value(params)
        .map_err(|e| StepError::fatal(ErrorCode::InvalidParams, format!("invalid params: {e}")))
}
