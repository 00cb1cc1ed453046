//! Credentials as a step sees them: where values come from (the OS keychain in
//! the app, a map in tests), which origins each may be sent to, and the step's
//! view that remembers every value it read so the run can redact it.
//!
//! Origin binding: a provider with a documented host (openai → api.openai.com,
//! an integration → its definition's origin) sends its stored credential only to
//! that origin; a step that points it elsewhere (another `base_url`) runs without
//! it, unless the person allowed that origin for that credential. A credential
//! whose host the person chooses (`openai_compatible`, an `http` step's `auth`)
//! goes anywhere, unless the person gave it a list of allowed origins.

use crate::sensitive::Sensitive;
use crate::step_error::{ErrorCode, StepError};
use async_trait::async_trait;
use reqwest::Url;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Why a credential could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No keychain (Secret Service) to read from; the message names the fix.
    #[error("{0}")]
    Unavailable(String),
    #[error("keychain error: {0}")]
    Other(String),
}

/// Where credential values come from: the OS keychain in the app, a map in tests.
#[async_trait]
pub trait CredentialSource: Send + Sync {
    async fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, CredentialError>;

    /// The origins (`https://host:port`) the person allowed `provider`'s `field`
    /// to be sent to, besides its provider's own.
    async fn allowed_origins(&self, _provider: &str, _field: &str) -> Result<Vec<String>, CredentialError> {
        Ok(Vec::new())
    }

    /// Store a value (an OAuth connection's refreshed tokens). Read-only sources refuse.
    async fn store(&self, _provider: &str, _field: &str, _value: Sensitive<String>) -> Result<(), CredentialError> {
        Err(CredentialError::Other("these credentials cannot be changed".into()))
    }

    /// Something happened to `provider`'s connection (an OAuth refresh failed).
    async fn report(&self, _provider: &str, _event: ConnectionEvent) {}
}

/// What happened to an integration's OAuth connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// Its tokens were refreshed.
    Refreshed,
    /// Its refresh token was refused: the person must connect it again.
    NeedsReconnecting { reason: String },
}

/// No credentials at all.
#[derive(Debug, Default)]
pub struct NoCredentials;

#[async_trait]
impl CredentialSource for NoCredentials {
    async fn get(&self, _: &str, _: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        Ok(None)
    }
}

/// Credentials from a map keyed by `(provider, field)`, with allowed origins;
/// for tests and dry runs.
#[derive(Debug, Default, Clone)]
pub struct StaticCredentials(
    pub BTreeMap<(String, String), Sensitive<String>>,
    pub BTreeMap<(String, String), Vec<String>>,
);

impl StaticCredentials {
    pub fn with(mut self, provider: &str, field: &str, value: &str) -> Self {
        self.0.insert(
            (provider.to_string(), field.to_string()),
            Sensitive::new(value.to_string()),
        );
        self
    }

    /// Allow `provider`'s `field` to go to `origin` too.
    pub fn allow(mut self, provider: &str, field: &str, origin: &str) -> Self {
        self.1
            .entry((provider.to_string(), field.to_string()))
            .or_default()
            .push(origin.to_string());
        self
    }
}

#[async_trait]
impl CredentialSource for StaticCredentials {
    async fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        Ok(self.0.get(&(provider.to_string(), field.to_string())).cloned())
    }

    async fn allowed_origins(&self, provider: &str, field: &str) -> Result<Vec<String>, CredentialError> {
        Ok(self
            .1
            .get(&(provider.to_string(), field.to_string()))
            .cloned()
            .unwrap_or_default())
    }
}

/// A URL's origin as Flowpilot writes it: `https://api.openai.com`,
/// `http://127.0.0.1:8080` (the default port left out).
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// A step's view of the credentials of its provider. Every value read through it
/// is remembered, so the executor can redact it from everything the step
/// produced; every value held back from an origin is noted, so the step can say so.
pub struct Credentials {
    source: Arc<dyn CredentialSource>,
    provider: String,
    used: Mutex<Vec<String>>,
    withheld: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(source: Arc<dyn CredentialSource>, provider: impl Into<String>) -> Self {
        Self {
            source,
            provider: provider.into(),
            used: Default::default(),
            withheld: Default::default(),
        }
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The value of `field` for a request to `target`, if it may go there:
    /// `home` is the provider's documented origin (it may always go there), or
    /// `None` for a credential whose host the person chooses. Otherwise only to
    /// origins the person allowed; when it may not, `None`, and the step notes it
    /// ([`Credentials::withheld`]).
    pub async fn get_for(
        &self,
        field: &str,
        target: &Url,
        home: Option<&str>,
    ) -> Result<Option<Sensitive<String>>, StepError> {
        if self.may_send(field, target, home).await? {
            self.get(field).await
        } else {
            Ok(None)
        }
    }

    /// [`Credentials::get_for`] for a credential the request cannot go without:
    /// one held back from `target` is an error that says how to allow it.
    pub async fn require_for(
        &self,
        field: &str,
        target: &Url,
        home: Option<&str>,
    ) -> Result<Sensitive<String>, StepError> {
        if !self.may_send(field, target, home).await? {
            let note = self.withheld().unwrap_or_default();
            return Err(StepError::fatal(ErrorCode::CredentialNotAllowed, note));
        }
        self.require(field).await
    }

    async fn may_send(&self, field: &str, target: &Url, home: Option<&str>) -> Result<bool, StepError> {
        let origin = origin_of(target);
        if home == Some(origin.as_str()) {
            return Ok(true);
        }
        let allowed = self
            .source
            .allowed_origins(&self.provider, field)
            .await
            .map_err(keychain_error)?;
        if allowed.contains(&origin) || (home.is_none() && allowed.is_empty()) {
            return Ok(true);
        }
        let goes_to = match home {
            Some(home) if allowed.is_empty() => home.to_string(),
            Some(home) => format!("{home} and {}", allowed.join(", ")),
            None => allowed.join(", "),
        };
        let p = &self.provider;
        self.withheld.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
            "`{field}` of {p} was not sent to {origin}: it goes to {goes_to} only; to send it there too, run `flowpilot-cli credentials allow {p} {field} {origin}` or allow it in Credentials"
        ));
        Ok(false)
    }

    /// Store `value` as `field` (refreshed OAuth tokens); it is redacted like any value read.
    pub async fn store(&self, field: &str, value: Sensitive<String>) -> Result<(), StepError> {
        self.remember(value.expose());
        self.source
            .store(&self.provider, field, value)
            .await
            .map_err(keychain_error)
    }

    /// Tell the credential source what happened to the connection.
    pub async fn report(&self, event: ConnectionEvent) {
        self.source.report(&self.provider, event).await;
    }

    /// What was held back from where, in words; `None` when nothing was.
    pub fn withheld(&self) -> Option<String> {
        let notes = self.withheld.lock().unwrap_or_else(|e| e.into_inner());
        (!notes.is_empty()).then(|| notes.join("; "))
    }

    /// The value of `field`, if it is set. A keychain that cannot be reached is a fatal step error.
    pub async fn get(&self, field: &str) -> Result<Option<Sensitive<String>>, StepError> {
        let value = self.source.get(&self.provider, field).await.map_err(keychain_error)?;
        if let Some(v) = &value
            && !v.expose().is_empty()
        {
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(v.expose().clone());
        }
        Ok(value)
    }

    /// The value of `field`, or a `MISSING_CREDENTIALS` error that says how to set it.
    pub async fn require(&self, field: &str) -> Result<Sensitive<String>, StepError> {
        self.get(field).await?.ok_or_else(|| {
            StepError::fatal(
                ErrorCode::MissingCredentials,
                format!("no `{field}` is set for {p}; set it with `flowpilot-cli credentials set {p} {field}` or in Credentials", p = self.provider),
            )
        })
    }

    /// Remember a form of a secret made from a value read here (the base64 of a
    /// Basic header), so it is redacted like the value itself.
    pub fn remember(&self, derived: &str) {
        if !derived.is_empty() {
            self.used
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(derived.to_string());
        }
    }

    /// Every value read so far (for redaction).
    pub fn used_values(&self) -> Vec<String> {
        self.used.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn keychain_error(e: CredentialError) -> StepError {
    match e {
        CredentialError::Unavailable(m) => StepError::fatal(ErrorCode::KeychainUnavailable, m),
        CredentialError::Other(m) => StepError::fatal(ErrorCode::KeychainError, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(u: &str) -> Url {
        Url::parse(u).unwrap()
    }

    #[tokio::test]
    async fn a_documented_host_gets_its_credential_and_nowhere_else_unless_allowed() {
        let source = StaticCredentials::default().with("openai", "api_key", "sk-1").allow(
            "openai",
            "api_key",
            "https://proxy.example",
        );
        let c = Credentials::new(Arc::new(source), "openai");
        let home = Some("https://api.openai.com");
        let sent = |u: &str| {
            let target = url(u);
            let c = &c;
            async move { c.get_for("api_key", &target, home).await.unwrap().is_some() }
        };
        assert!(sent("https://api.openai.com/v1/chat/completions").await);
        assert!(sent("https://proxy.example/v1").await);
        assert!(c.withheld().is_none());
        assert!(!sent("http://127.0.0.1:9/v1").await);
        let note = c.withheld().unwrap();
        assert!(
            note.contains("credentials allow openai api_key http://127.0.0.1:9"),
            "{note}"
        );
        assert!(!note.contains("sk-1"));
    }

    #[tokio::test]
    async fn a_chosen_host_gets_it_anywhere_until_a_list_is_set() {
        let free = Credentials::new(
            Arc::new(StaticCredentials::default().with("http", "token", "t")),
            "http",
        );
        assert!(
            free.require_for("token", &url("https://any.example/"), None)
                .await
                .is_ok()
        );
        let listed =
            StaticCredentials::default()
                .with("http", "token", "t")
                .allow("http", "token", "https://api.example");
        let listed = Credentials::new(Arc::new(listed), "http");
        assert!(
            listed
                .require_for("token", &url("https://api.example/x"), None)
                .await
                .is_ok()
        );
        let e = listed
            .require_for("token", &url("https://other.example/x"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::CredentialNotAllowed);
        assert!(e.to_string().contains("goes to https://api.example only"), "{e}");
    }
}
