//! The integration definition: the one type of the document that describes an
//! HTTP API as a provider. Its JSON Schema (schemars) checks definition files
//! and drives the UI's editor; its TypeScript type (specta) is what the UI
//! edits. Nothing else spells the format out.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The version of the format this Flowpilot reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// An HTTP API described as data: its address, how it authenticates, its
/// secrets, and its actions. Templates (`base_url`, `path`, `url`, `query`,
/// `headers`, `body`) take `${params.<name>}` (the action's params) and, in
/// `base_url`, `url`, `path` and headers, `${secret.<name>}` (a secret stored in
/// the keychain under the integration's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Flowpilot integration")]
pub struct IntegrationDefinition {
    /// The provider name plans use (`notion`): lowercase letters, digits and `_`.
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// How people see it named ("Notion").
    #[schemars(length(min = 1))]
    pub title: String,
    /// The format's version: 1.
    #[schemars(range(min = 1, max = 1))]
    pub format_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Where the API lives (`https://api.notion.com`); the credentials go to this
    /// origin only. May be a secret (`${secret.webhook_url}`).
    #[schemars(length(min = 1))]
    pub base_url: String,
    /// How requests prove who they are (`none` when left out).
    #[serde(default)]
    pub auth: Auth,
    /// The secrets it needs, by name; set with `flowpilot-cli credentials set <name> <secret>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, SecretSpec>,
    /// Headers every request sends (`{"Notion-Version": "2022-06-28"}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// At most this many requests in this many seconds, across every run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// The actions, by name (`create_page`). Every integration also has `raw_request`.
    #[schemars(length(min = 1))]
    pub actions: BTreeMap<String, ActionDefinition>,
}

/// A secret the integration reads from the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// What it is ("Internal integration token").
    #[schemars(length(min = 1))]
    pub label: String,
    /// Where to find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Whether actions can run without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// How requests authenticate. Secrets are named, never written here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[serde(rename = "IntegrationAuth")]
pub enum Auth {
    /// No authentication (or it is in the URL, like a webhook's).
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: String },
    /// HTTP Basic with two secrets.
    Basic {
        username_secret: String,
        password_secret: String,
    },
    /// A key in a header or the query string, with an optional prefix (`Token `).
    ApiKey {
        #[serde(rename = "in")]
        location: KeyLocation,
        /// The header or query parameter.
        name: String,
        secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// OAuth 2.0, authorization code with PKCE, connected from the app; the
    /// access and refresh tokens are keychain entries of their own.
    Oauth2(OAuth2Auth),
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    Header,
    Query,
}

/// OAuth 2.0 (authorization code + PKCE S256, loopback redirect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Auth {
    /// The authorization endpoint the browser opens.
    #[schemars(length(min = 1))]
    pub authorize_url: String,
    /// The token endpoint.
    #[schemars(length(min = 1))]
    pub token_url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The secret holding the OAuth client id (the person brings their own).
    pub client_id_secret: String,
    /// The secret holding the client secret, for a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_secret: Option<String>,
    /// Extra authorization parameters (`{"access_type": "offline"}` for Google).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorize_params: BTreeMap<String, String>,
}

/// A rate limit: `requests` per `per_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[schemars(range(min = 1))]
    pub requests: u32,
    #[schemars(range(min = 0.001))]
    pub per_seconds: f64,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
            Self::Head => reqwest::Method::HEAD,
        }
    }

    /// GET and HEAD change nothing (RFC 9110 §9.2.1).
    pub fn is_safe(self) -> bool {
        matches!(self, Self::Get | Self::Head)
    }
}

/// How the body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum BodyType {
    #[default]
    Json,
    /// URL-encoded form fields from an object.
    Form,
    /// The body as text.
    Text,
}

/// One action: a request template, its params' schema, and how to read the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct ActionDefinition {
    /// A short label ("Create a page in a database").
    #[schemars(length(min = 1))]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub method: Method,
    /// Appended to `base_url` (`/v1/pages`, `/repos/${params.owner}/${params.repo}/issues`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The whole address instead of `base_url` + `path` (a webhook URL that is a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Authentication for this action instead of the integration's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// JSON Schema of the params (an object): drives the editor's form and validation.
    #[specta(type = Map<String, Value>)]
    #[schemars(with = "Map<String, Value>")]
    pub params: Value,
    /// Query parameters (templates); a list value repeats the parameter.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub query: Map<String, Value>,
    /// Headers for this action (templates), besides the integration's.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The body (a template). An absent optional param drops its key; object keys may be templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<BodyType>,
    /// What counts as success (any 2xx when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<Success>,
    /// A JSON pointer to the error message in a failed answer (`/message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// A JSON pointer to the seconds to wait in a 429's body, for APIs that put
    /// it there instead of `Retry-After` (Telegram: `/parameters/retry_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// What the step outputs: a JSON pointer, or named pointers; the whole body when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// Whether it changes something (a dry run stubs it; it is not retried blindly).
    /// When left out: every method but GET and HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_effects: Option<bool>,
    /// Params that make a valid call (for the form, drafting and the contract test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<Map<String, Value>>)]
    #[schemars(with = "Option<Map<String, Value>>")]
    pub example: Option<Value>,
}

impl ActionDefinition {
    pub fn side_effects(&self) -> bool {
        self.side_effects.unwrap_or(!self.method.is_safe())
    }
}

/// What counts as success: the status is one of `status` (any 2xx when left
/// out), and, when given, the JSON at `json` equals `equals` (`{"json": "/ok",
/// "equals": true}`) or the body is exactly `text_equals` (`"ok"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(deny_unknown_fields)]
pub struct Success {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<u16>>,
    /// A JSON pointer into the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The value the pointer must find (`true` when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_equals: Option<String>,
}

/// The step's output: one JSON pointer (`/result`), or fields picked by pointer
/// (`{"id": "/id", "url": "/url"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(untagged)]
pub enum Output {
    Pointer(String),
    Fields(BTreeMap<String, String>),
}

/// The JSON Schema of definition files (draft 2020-12).
pub fn definition_schema() -> Value {
    serde_json::to_value(schemars::schema_for!(IntegrationDefinition)).unwrap_or(Value::Bool(true))
}
