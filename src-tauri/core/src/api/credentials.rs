//! Credentials: values go into the OS keychain and never come back out through
//! the facade; the store only remembers which fields are set.

use super::{Flowpilot, Result};
use crate::secrets::Keychain;
use crate::store::Store;
use chrono::{DateTime, Utc};
use flowpilot_engine::plan::PlanFile;
use flowpilot_engine::{Plan, Sensitive};
use serde::{Deserialize, Serialize};

/// Which credential fields are set (never their values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CredentialInfo {
    pub provider: String,
    pub field: String,
    pub updated_at: DateTime<Utc>,
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
        Ok(self
            .store
            .list_credentials()?
            .into_iter()
            .map(|(provider, field, updated_at)| CredentialInfo {
                provider,
                field,
                updated_at,
            })
            .collect())
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
        self.missing_credentials(&Plan::from_file(plan, self.registry())?)
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
