//! Credentials in the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows), through the `keyring` crates. One service name,
//! one entry per provider + field. Values are never logged, never formatted
//! (they travel as [`Sensitive`]), and there is no plaintext fallback.

use async_trait::async_trait;
use flowpilot_engine::Sensitive;
use flowpilot_engine::registry::{CredentialError, CredentialSource};
use keyring_core::{CredentialStore, Error as KeyringError};
use std::sync::Arc;

/// The keychain service every Flowpilot entry lives under.
pub const SERVICE: &str = "flowpilot";

/// What to tell a person whose machine has no usable keychain.
pub const UNAVAILABLE_HELP: &str = "The OS keychain is not available, so credentials cannot be stored or read. \
On Linux Flowpilot needs a Secret Service: install and unlock GNOME Keyring (package gnome-keyring) or KeePassXC \
with its Secret Service integration, in a desktop session with a D-Bus session bus. Flowpilot never stores \
credentials in plain files.";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("{UNAVAILABLE_HELP} ({detail})")]
    Unavailable { detail: String },
    #[error("`{0}` is not a valid credential name: use letters, digits, `_`, `-` or `.`")]
    InvalidName(String),
    #[error("a credential value must not be empty")]
    EmptyValue,
    #[error("keychain error: {0}")]
    Keychain(String),
}

/// Map keyring errors to ours. The detail never contains a secret: keyring
/// errors carry platform messages and attribute names, not values.
fn classify(e: KeyringError) -> SecretsError {
    match e {
        KeyringError::NoDefaultStore | KeyringError::PlatformFailure(_) | KeyringError::NoStorageAccess(_) => {
            SecretsError::Unavailable { detail: e.to_string() }
        }
        // A value that is not UTF-8 or data we cannot read: say so, without the bytes.
        KeyringError::BadEncoding(_) => SecretsError::Keychain("the stored value is not valid text".into()),
        KeyringError::BadDataFormat(_, _) => SecretsError::Keychain("the stored value has an unexpected format".into()),
        other => SecretsError::Keychain(other.to_string()),
    }
}

fn check_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName(name.to_string()))
    }
}

/// The keychain. Calls block (D-Bus round trips): from async code, go through
/// [`KeychainCredentials`] or `spawn_blocking`.
#[derive(Clone)]
pub struct Keychain {
    store: Result<Arc<CredentialStore>, SecretsError>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("available", &self.store.is_ok())
            .finish()
    }
}

impl Keychain {
    /// The platform's keychain. Never fails: an unavailable keychain is reported by
    /// [`Keychain::status`] and by every call, so the rest of the app still works.
    pub fn os() -> Self {
        let store = match keyring::Entry::store_status() {
            Ok(()) => keyring_core::get_default_store().ok_or_else(|| SecretsError::Unavailable {
                detail: "no default credential store".into(),
            }),
            Err(e) => Err(SecretsError::Unavailable { detail: e.to_string() }),
        };
        Self { store }
    }

    /// A keychain over any keyring-core store (the mock store in unit tests).
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self { store: Ok(store) }
    }

    /// A keychain that is never available (to show and test the error path).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            store: Err(SecretsError::Unavailable { detail: detail.into() }),
        }
    }

    /// Whether the keychain can be used at all. Creating an entry needs the store;
    /// reading a missing one proves the service answers.
    pub fn status(&self) -> Result<(), SecretsError> {
        self.get("flowpilot", "probe").map(|_| ())
    }

    fn entry(&self, provider: &str, field: &str) -> Result<keyring_core::Entry, SecretsError> {
        check_name(provider)?;
        check_name(field)?;
        let store = self.store.as_ref().map_err(Clone::clone)?;
        store
            .build(SERVICE, &format!("{provider}/{field}"), None)
            .map_err(classify)
    }

    pub fn set(&self, provider: &str, field: &str, value: &Sensitive<String>) -> Result<(), SecretsError> {
        if value.expose().is_empty() {
            return Err(SecretsError::EmptyValue);
        }
        self.entry(provider, field)?
            .set_password(value.expose())
            .map_err(classify)
    }

    pub fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, SecretsError> {
        match self.entry(provider, field)?.get_password() {
            Ok(v) => Ok(Some(Sensitive::new(v))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Delete an entry; `false` if there was none.
    pub fn delete(&self, provider: &str, field: &str) -> Result<bool, SecretsError> {
        match self.entry(provider, field)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}

/// The engine's view of the keychain: reads off the async runtime's threads.
#[derive(Debug, Clone)]
pub struct KeychainCredentials(pub Arc<Keychain>);

#[async_trait]
impl CredentialSource for KeychainCredentials {
    async fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        let keychain = self.0.clone();
        let (provider, field) = (provider.to_string(), field.to_string());
        tokio::task::spawn_blocking(move || keychain.get(&provider, &field))
            .await
            .map_err(|e| CredentialError::Other(e.to_string()))?
            .map_err(|e| match e {
                SecretsError::Unavailable { .. } => CredentialError::Unavailable(e.to_string()),
                other => CredentialError::Other(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> Keychain {
        Keychain::with_store(keyring_core::mock::Store::new().unwrap())
    }

    #[test]
    fn set_get_delete_round_trip() {
        let k = mock();
        assert_eq!(k.get("openai", "api_key").unwrap(), None);
        k.set("openai", "api_key", &Sensitive::new("sk-test".into())).unwrap();
        assert_eq!(k.get("openai", "api_key").unwrap().unwrap().expose(), "sk-test");
        assert!(k.delete("openai", "api_key").unwrap());
        assert!(!k.delete("openai", "api_key").unwrap());
        assert_eq!(k.get("openai", "api_key").unwrap(), None);
    }

    #[test]
    fn names_are_checked_and_empty_values_refused() {
        let k = mock();
        assert!(matches!(k.get("open ai", "key"), Err(SecretsError::InvalidName(_))));
        assert_eq!(
            k.set("openai", "api_key", &Sensitive::new(String::new())),
            Err(SecretsError::EmptyValue)
        );
    }

    #[test]
    fn unavailable_keychain_names_the_fix() {
        let k = Keychain::unavailable("no D-Bus session bus");
        let err = k.status().unwrap_err();
        assert!(matches!(err, SecretsError::Unavailable { .. }));
        let text = err.to_string();
        assert!(text.contains("gnome-keyring"), "{text}");
        assert!(text.contains("never stores credentials in plain files"), "{text}");
    }

    #[tokio::test]
    async fn the_engine_reads_through_spawn_blocking() {
        let k = Arc::new(mock());
        k.set("groq", "api_key", &Sensitive::new("gsk".into())).unwrap();
        let source = KeychainCredentials(k);
        assert_eq!(source.get("groq", "api_key").await.unwrap().unwrap().expose(), "gsk");
        let down = KeychainCredentials(Arc::new(Keychain::unavailable("x")));
        assert!(matches!(
            down.get("groq", "api_key").await,
            Err(CredentialError::Unavailable(_))
        ));
    }
}
