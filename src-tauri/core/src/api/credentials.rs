//! Credentials: values go into the OS keychain and never come back out through
//! the facade; the store only remembers which fields are set, and which origins
//! each may be sent to besides its provider's own.

use super::{ApiError, Flowpilot, Result};
use crate::secrets::{Keychain, KeychainCredentials, SecretsError};
use crate::store::{ConnectionState, Store};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowpilot_engine::Clock;
use flowpilot_engine::plan::PlanFile;
use flowpilot_engine::registry::{ConnectionEvent, CredentialError, CredentialSource, origin_of};
use flowpilot_engine::{Plan, Sensitive};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Which credential fields are set (never their values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CredentialInfo {
    pub provider: String,
    pub field: String,
    pub updated_at: DateTime<Utc>,
    /// Origins it may be sent to besides its provider's own (for a credential
    /// whose host the person chooses, the only ones once any is listed).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// What the engine reads credentials through: values from the keychain,
/// allowed origins from the store (both off the async runtime's threads).
#[derive(Clone)]
pub struct StoredCredentials {
    pub keychain: Arc<Keychain>,
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials").finish_non_exhaustive()
    }
}

#[async_trait]
impl CredentialSource for StoredCredentials {
    async fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        // Only what this data folder lists (see [`KeychainCredentials`]).
        KeychainCredentials {
            keychain: self.keychain.clone(),
            store: self.store.clone(),
        }
        .get(provider, field)
        .await
    }

    async fn allowed_origins(&self, provider: &str, field: &str) -> Result<Vec<String>, CredentialError> {
        let store = self.store.clone();
        let (provider, field) = (provider.to_string(), field.to_string());
        tokio::task::spawn_blocking(move || store.allowed_origins(&provider, &field))
            .await
            .map_err(|e| CredentialError::Other(e.to_string()))?
            .map_err(|e| CredentialError::Other(e.to_string()))
    }

    /// Refreshed OAuth tokens: into the keychain, noted as set.
    async fn store(&self, provider: &str, field: &str, value: Sensitive<String>) -> Result<(), CredentialError> {
        let (keychain, store, now) = (self.keychain.clone(), self.store.clone(), self.clock.now());
        let (provider, field) = (provider.to_string(), field.to_string());
        tokio::task::spawn_blocking(move || {
            keychain.set(&provider, &field, &value).map_err(|e| match e {
                SecretsError::Unavailable { .. } => CredentialError::Unavailable(e.to_string()),
                other => CredentialError::Other(other.to_string()),
            })?;
            store
                .record_credential(&provider, &field, now)
                .map_err(|e| CredentialError::Other(e.to_string()))
        })
        .await
        .map_err(|e| CredentialError::Other(e.to_string()))?
    }

    async fn report(&self, provider: &str, event: ConnectionEvent) {
        let (state, detail) = match event {
            ConnectionEvent::Refreshed => (ConnectionState::Connected, None),
            ConnectionEvent::NeedsReconnecting { reason } => (ConnectionState::NeedsReconnecting, Some(reason)),
        };
        let (store, now, provider) = (self.store.clone(), self.clock.now(), provider.to_string());
        let written =
            tokio::task::spawn_blocking(move || store.set_connection_state(&provider, state, detail.as_deref(), now))
                .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::warn!("could not note an integration's connection state");
        }
    }
}

/// An origin as typed (`https://proxy.example/v1`, `http://127.0.0.1:8080`) as
/// Flowpilot compares it: scheme, host and port.
pub fn normalise_origin(origin: &str) -> Result<String> {
    let url = url::Url::parse(origin.trim()).map_err(|e| {
        ApiError::BadInput(format!(
            "`{origin}` is not an origin ({e}): write it like https://api.example.com or http://127.0.0.1:8080"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::BadInput(format!(
            "`{origin}` is not an http:// or https:// origin"
        )));
    }
    Ok(origin_of(&url))
}

/// A credential field a plan needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CredentialField {
    pub provider: String,
    pub field: String,
}

impl Flowpilot {
    pub fn set_credential(&self, provider: &str, field: &str, value: Sensitive<String>) -> Result<()> {
        self.keychain.set(provider, field, &value)?;
        self.store.record_credential(provider, field, self.clock.now())?;
        Ok(())
    }

    pub fn list_credentials(&self) -> Result<Vec<CredentialInfo>> {
        self.store
            .list_credentials()?
            .into_iter()
            .map(|(provider, field, updated_at)| {
                let allowed_origins = self.store.allowed_origins(&provider, &field)?;
                Ok(CredentialInfo {
                    provider,
                    field,
                    updated_at,
                    allowed_origins,
                })
            })
            .collect()
    }

    /// Allow `provider`'s `field` to be sent to `origin` too (a proxy, a
    /// self-hosted copy of the service); the origin as stored.
    pub fn allow_credential_origin(&self, provider: &str, field: &str, origin: &str) -> Result<String> {
        let origin = normalise_origin(origin)?;
        self.store.allow_origin(provider, field, &origin, self.clock.now())?;
        Ok(origin)
    }

    /// Take an allowed origin back; whether it was allowed.
    pub fn disallow_credential_origin(&self, provider: &str, field: &str, origin: &str) -> Result<bool> {
        let origin = normalise_origin(origin)?;
        Ok(self.store.disallow_origin(provider, field, &origin)?)
    }

    /// The origins `provider`'s `field` may go to besides its provider's own.
    pub fn credential_origins(&self, provider: &str, field: &str) -> Result<Vec<String>> {
        Ok(self.store.allowed_origins(provider, field)?)
    }

    /// Delete a credential; `false` if it was not set.
    pub fn delete_credential(&self, provider: &str, field: &str) -> Result<bool> {
        let existed = self.keychain.delete(provider, field)?;
        self.store.forget_credential(provider, field)?;
        Ok(existed)
    }

    /// The credentials a plan cannot run without that are not set: its providers'
    /// keys (not the optional one of a self-hosted server) and the credentials its
    /// HTTP steps' `auth` names.
    pub fn missing_credentials(&self, plan: &Plan) -> Result<Vec<CredentialField>> {
        let set = self.store.list_credentials()?;
        Ok(plan
            .credentials_needed()
            .into_iter()
            .filter(|(provider, field)| !set.iter().any(|(p, f, _)| p == provider && f == field))
            .map(|(provider, field)| CredentialField { provider, field })
            .collect())
    }

    /// [`Flowpilot::missing_credentials`] of a plan document not stored yet (a
    /// draft); an invalid one is refused with its problems.
    pub fn missing_credentials_for(&self, plan: PlanFile) -> Result<Vec<CredentialField>> {
        self.missing_credentials(&Plan::from_file(plan, &self.registry())?)
    }
}

/// Where a data folder's keychain scope is remembered in its settings table.
const SCOPE_KEY: &str = "keychain.scope";

/// The keychain bound to this data folder: its entries are named within the
/// folder's scope (a random id made the first time), so another data folder's keys
/// are never listed as missing here while being sent, nor sent from here. Entries
/// written before scopes existed are carried over once, for the credentials this
/// folder lists; the keychain is not touched otherwise.
pub(super) fn scoped_keychain(store: &Store, keychain: Keychain) -> Result<Keychain> {
    if let Some(serde_json::Value::String(scope)) = store.get_setting(SCOPE_KEY)? {
        return Ok(keychain.scoped(&scope));
    }
    let scope = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let scoped = keychain.scoped(&scope);
    for (provider, field, _) in store.list_credentials()? {
        let carried = match keychain.unscoped().get(&provider, &field) {
            Ok(Some(value)) => scoped.set(&provider, &field, &value),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = carried {
            // Try again at the next start; until then, the entries keep their old names.
            tracing::warn!(%provider, %field, "could not carry a credential into this data folder's keychain scope: {e}");
            return Ok(keychain.unscoped());
        }
    }
    store.set_setting(SCOPE_KEY, &serde_json::Value::String(scope))?;
    Ok(scoped)
}
