//! The provider registry: what a provider is, what it returns, how its failures
//! are classified, and the list of providers a run can use — the built-in code
//! providers, the built-in integration definitions and the person's own.
//!
//! Names, titles and schemas are owned: an integration defined as data has them
//! only at run time.

pub use crate::credentials::{
    ConnectionEvent, CredentialError, CredentialSource, Credentials, NoCredentials, StaticCredentials, origin_of,
};
pub use crate::step_error::{ErrorCode, StepError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
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
/// Its params schema is compiled once, when params are first checked against it
/// (a provider keeps its actions, so every plan check and run after that reuses it).
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: String,
    /// A short label ("Create a page in a database").
    pub title: String,
    pub description: String,
    /// JSON Schema (draft 2020-12) of the action's params.
    pub params_schema: Value,
    /// Whether running it changes something outside Flowpilot (a POST, an email).
    pub side_effects: bool,
    /// Params that make a valid call, for forms, drafting and the contract test.
    pub example: Option<Value>,
    /// `params_schema` compiled, on first need.
    compiled: OnceLock<Result<Arc<jsonschema::Validator>, String>>,
}

impl ActionSpec {
    /// A code provider's action: its description doubles as its title.
    pub fn new(name: &str, description: &str, params_schema: Value, side_effects: bool) -> Self {
        Self {
            name: name.to_string(),
            title: description.to_string(),
            description: description.to_string(),
            params_schema,
            side_effects,
            example: None,
            compiled: OnceLock::new(),
        }
    }

    pub fn titled(mut self, title: String) -> Self {
        self.title = title;
        self
    }

    pub fn with_example(mut self, example: Option<Value>) -> Self {
        self.example = example;
        self
    }

    /// Every problem of `params` under this action's schema (see [`crate::schema::problems`]).
    pub fn params_problems(&self, params: &Value, references_stand_in: bool) -> Vec<crate::schema::SchemaProblem> {
        let compiled = self
            .compiled
            .get_or_init(|| crate::schema::compile(&self.params_schema).map(Arc::new));
        match compiled {
            Ok(v) => crate::schema::problems(v, params, crate::schema::Members::Params, references_stand_in),
            Err(e) => vec![crate::schema::broken(e)],
        }
    }
}

/// Where a provider comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Written in Rust (`http`, `logic`, the language models...).
    Builtin,
    /// An integration definition that ships with Flowpilot (Notion, Telegram...).
    Integration,
    /// An integration definition the person added.
    UserIntegration,
}

/// A credential field as the Credentials screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CredentialDoc {
    pub field: String,
    /// What it is ("Internal integration token"); the field name when none is given.
    pub label: String,
    /// Where to find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// It may be left unset.
    #[serde(default)]
    pub optional: bool,
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
    fn name(&self) -> &str;

    /// How people see it named ("Notion", "HTTP request").
    fn title(&self) -> String {
        self.name().to_string()
    }

    /// Other names this provider answers to (the seeds' `custom_api` for `http`).
    fn aliases(&self) -> Vec<String> {
        Vec::new()
    }

    fn description(&self) -> String;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    /// The integration definition behind this provider, if it is one.
    fn as_integration(&self) -> Option<&crate::integration::IntegrationProvider> {
        None
    }

    /// Its actions, made once (a provider keeps them: plan checks and runs look them up often).
    fn actions(&self) -> &[ActionSpec];

    /// Credential fields this provider reads from the keychain.
    fn credential_fields(&self) -> Vec<String> {
        Vec::new()
    }

    /// Those of [`Provider::credential_fields`] it can run without (a self-hosted
    /// model server usually takes no key): not "missing" when unset.
    fn optional_credentials(&self) -> Vec<String> {
        Vec::new()
    }

    /// Each credential field with its label and where to find it.
    fn credential_docs(&self) -> Vec<CredentialDoc> {
        let optional = self.optional_credentials();
        self.credential_fields()
            .into_iter()
            .map(|field| CredentialDoc {
                label: field.clone(),
                help: None,
                optional: optional.contains(&field),
                field,
            })
            .collect()
    }

    /// The credentials a step of `action` with these params cannot run without:
    /// by default the declared fields that are not optional. Providers whose steps
    /// name their credential (an HTTP step's `auth`) say which.
    fn credentials_needed(&self, _action: &str, _params: &Value) -> Vec<String> {
        let optional = self.optional_credentials();
        self.credential_fields()
            .into_iter()
            .filter(|f| !optional.contains(f))
            .collect()
    }

    /// The addresses a step of `action` with these params sends requests to, as
    /// `(param, url)`: the URL as the plan writes it (references unresolved), or
    /// the provider's own address with an empty param when the plan leaves it
    /// out. By default the `url` and `base_url` params. The import review and
    /// `check` read it; nothing is sent.
    fn destinations(&self, _action: &str, params: &Value) -> Vec<(String, String)> {
        ["url", "base_url"]
            .iter()
            .filter_map(|key| Some((key.to_string(), params.get(*key)?.as_str()?.to_string())))
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

/// The providers Flowpilot knows, looked up by name or alias. Cheap to clone.
///
/// The built-in integrations are checked definitions (a schema compiled, every
/// action's params and examples checked): work a plan of code providers never
/// needs. So [`Registry::builtin`] holds the code providers at once and adds the
/// integrations only when something asks for a provider the code providers do
/// not answer, or for the whole list. The code providers come first either way,
/// so a lookup answers the same.
#[derive(Clone)]
pub struct Registry {
    providers: Arc<Providers>,
}

/// One built-in integration list, made on first need and shared by every
/// registry derived from the same [`Registry::builtin`] (so they share each
/// integration's rate-limit window and token refresh, as one list would).
type Integrations = Arc<OnceLock<Vec<Arc<dyn Provider>>>>;

struct Providers {
    /// The first providers, known at once.
    known: Vec<Arc<dyn Provider>>,
    /// The built-in integrations that follow `known` (then `more`), if any.
    integrations: Option<Integrations>,
    /// Providers after the built-in integrations (the person's own).
    more: Vec<Arc<dyn Provider>>,
    /// `known`, the built-in integrations, `more`: made on first need.
    whole: OnceLock<Vec<Arc<dyn Provider>>>,
}

impl Providers {
    fn all(&self) -> &[Arc<dyn Provider>] {
        let Some(integrations) = &self.integrations else {
            return &self.known;
        };
        self.whole.get_or_init(|| {
            let mut all = self.known.clone();
            all.extend(
                integrations
                    .get_or_init(crate::integration::builtin_providers)
                    .iter()
                    .cloned(),
            );
            all.extend(self.more.iter().cloned());
            all
        })
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.providers().iter().map(|p| p.name()))
            .finish()
    }
}

/// The prefix the seeds gave their custom integrations' provider names.
pub const CUSTOM_PREFIX: &str = "custom_";

fn answers(p: &Arc<dyn Provider>, name: &str) -> bool {
    p.name() == name || p.aliases().iter().any(|a| a == name)
}

impl Registry {
    /// Every built-in provider: the code providers, then the built-in integrations
    /// (loaded when first needed).
    pub fn builtin() -> Self {
        Self::lazy(crate::providers::builtin(), Integrations::default(), Vec::new())
    }

    fn lazy(known: Vec<Arc<dyn Provider>>, integrations: Integrations, more: Vec<Arc<dyn Provider>>) -> Self {
        Self {
            providers: Arc::new(Providers {
                known,
                integrations: Some(integrations),
                more,
                whole: OnceLock::new(),
            }),
        }
    }

    pub fn from_providers(providers: Vec<Arc<dyn Provider>>) -> Self {
        Self {
            providers: Arc::new(Providers {
                known: providers,
                integrations: None,
                more: Vec::new(),
                whole: OnceLock::new(),
            }),
        }
    }

    /// This registry with more providers after its own (the person's integrations).
    pub fn with(&self, more: impl IntoIterator<Item = Arc<dyn Provider>>) -> Self {
        let p = &self.providers;
        if let Some(integrations) = &p.integrations {
            let mut after = p.more.clone();
            after.extend(more);
            return Self::lazy(p.known.clone(), integrations.clone(), after);
        }
        let mut providers = self.providers().to_vec();
        providers.extend(more);
        Self::from_providers(providers)
    }

    /// This registry without the person's integrations (the built-ins, still
    /// loaded only when needed).
    pub fn without_user_integrations(&self) -> Self {
        let mine = |list: &[Arc<dyn Provider>]| -> Vec<Arc<dyn Provider>> {
            list.iter()
                .filter(|p| p.kind() != ProviderKind::UserIntegration)
                .cloned()
                .collect()
        };
        let p = &self.providers;
        if let Some(integrations) = &p.integrations {
            return Self::lazy(mine(&p.known), integrations.clone(), mine(&p.more));
        }
        Self::from_providers(mine(self.providers()))
    }

    /// A provider by name or alias; `custom_<id>` (the seeds' custom integrations)
    /// finds the person's integration `<id>`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        // The known providers lead the whole list: what they answer, it answers.
        if let Some(found) = self.providers.known.iter().find(|p| answers(p, name)) {
            return Some(found);
        }
        let providers = self.providers();
        let found = providers.iter().find(|p| answers(p, name));
        found.or_else(|| {
            let id = name.strip_prefix(CUSTOM_PREFIX)?;
            providers
                .iter()
                .find(|p| p.kind() == ProviderKind::UserIntegration && p.name() == id)
        })
    }

    pub fn action(&self, provider: &str, action: &str) -> Option<&ActionSpec> {
        self.get(provider)?.actions().iter().find(|a| a.name == action)
    }

    /// Every provider (the built-in integrations are loaded by this, if not yet).
    pub fn providers(&self) -> &[Arc<dyn Provider>] {
        self.providers.all()
    }

    /// Whether `name` (or an alias) is taken by a provider of another kind than
    /// the person's integrations, which they may not replace.
    pub fn is_reserved(&self, name: &str) -> bool {
        self.providers()
            .iter()
            .filter(|p| p.kind() != ProviderKind::UserIntegration)
            .any(|p| answers(p, name))
    }

    /// The catalogue: every provider with its actions and params schemas.
    pub fn catalogue(&self) -> Vec<ProviderInfo> {
        self.providers().iter().map(|p| info(p.as_ref())).collect()
    }
}

/// One provider as the catalogue describes it.
pub fn info(p: &dyn Provider) -> ProviderInfo {
    ProviderInfo {
        name: p.name().to_string(),
        title: p.title(),
        kind: p.kind(),
        aliases: p.aliases(),
        description: p.description(),
        credential_fields: p.credential_fields(),
        optional_credentials: p.optional_credentials(),
        credentials: p.credential_docs(),
        actions: p
            .actions()
            .iter()
            .map(|a| ActionInfo {
                name: a.name.clone(),
                title: a.title.clone(),
                description: a.description.clone(),
                params_schema: a.params_schema.clone(),
                side_effects: a.side_effects,
                example: a.example.clone(),
            })
            .collect(),
    }
}

/// A provider as the catalogue describes it (serialisable).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
pub struct ProviderInfo {
    pub name: String,
    pub title: String,
    pub kind: ProviderKind,
    pub aliases: Vec<String>,
    pub description: String,
    pub credential_fields: Vec<String>,
    /// Credential fields it runs without when they are not set.
    #[serde(default)]
    pub optional_credentials: Vec<String>,
    /// Each credential field with its label and help.
    #[serde(default)]
    pub credentials: Vec<CredentialDoc>,
    pub actions: Vec<ActionInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, specta::Type)]
pub struct ActionInfo {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params_schema: Value,
    pub side_effects: bool,
    /// Params that make a valid call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(providers: &[Arc<dyn Provider>]) -> Vec<&str> {
        providers.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn a_code_provider_is_found_without_loading_the_integrations() {
        let registry = Registry::builtin();
        assert_eq!(registry.get("logic").map(|p| p.name()), Some("logic"));
        assert!(registry.providers.whole.get().is_none(), "the integrations were loaded");
        // An integration's name loads them, and finds it.
        assert_eq!(
            registry.get("notion").map(|p| p.kind()),
            Some(ProviderKind::Integration)
        );
        assert!(registry.providers.whole.get().is_some());
    }

    #[test]
    fn the_whole_list_is_the_code_providers_then_the_integrations_then_the_persons() {
        let mut expected = crate::providers::builtin();
        expected.extend(crate::integration::builtin_providers());
        let registry = Registry::builtin();
        assert_eq!(names(registry.providers()), names(&expected));
        let mut def = crate::integration::builtin_definitions().remove(0);
        def.name = "my_copy".into();
        let own: Arc<dyn Provider> = Arc::new(crate::integration::IntegrationProvider::new(
            def,
            ProviderKind::UserIntegration,
        ));
        let mine = Registry::builtin().with([own]);
        assert!(mine.providers.whole.get().is_none(), "adding one loaded the built-ins");
        assert_eq!(mine.get("custom_my_copy").map(|p| p.name()), Some("my_copy"));
        assert_eq!(mine.providers().len(), expected.len() + 1);
        assert_eq!(
            mine.providers().last().map(|p| p.kind()),
            Some(ProviderKind::UserIntegration)
        );
        assert_eq!(names(mine.without_user_integrations().providers()), names(&expected));
    }

    #[test]
    fn registries_made_from_one_share_its_integrations() {
        let registry = Registry::builtin();
        let derived = registry.without_user_integrations().with([]);
        let (a, b) = (registry.get("slack"), derived.get("slack"));
        assert!(a.zip(b).is_some_and(|(a, b)| Arc::ptr_eq(a, b)), "two slack providers");
    }

    #[test]
    fn actions_are_made_once_and_their_schemas_compiled_once() {
        let registry = Registry::builtin();
        let http = registry.get("http").map(|p| p.actions().as_ptr());
        assert_eq!(http, registry.get("http").map(|p| p.actions().as_ptr()), "made again");
        let Some(request) = registry.action("http", "request") else {
            panic!("no http.request")
        };
        // (Other tests of this process may have checked it already: a code provider's actions are a static.)
        assert!(
            request
                .params_problems(&json!({"url": "http://127.0.0.1/"}), false)
                .is_empty()
        );
        let compiled = request.compiled.get().map(|c| c.as_ref().map(Arc::as_ptr).ok());
        let said: Vec<String> = request
            .params_problems(&json!({"url": 1}), false)
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].starts_with("url: "), "{said:?}");
        assert_eq!(
            compiled,
            request.compiled.get().map(|c| c.as_ref().map(Arc::as_ptr).ok()),
            "compiled again"
        );
        // An integration's actions are kept too.
        let slack = registry.get("slack").map(|p| p.actions().as_ptr());
        assert_eq!(slack, registry.get("slack").map(|p| p.actions().as_ptr()));
    }
}
