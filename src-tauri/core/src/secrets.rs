//! Credentials in the OS keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows), through the `keyring` crates. One service name,
//! one entry per data folder + provider + field (`<scope>/<provider>/<field>`), so
//! two data folders never read each other's keys. Values are never logged, never
//! formatted (they travel as [`Sensitive`]), and there is no plaintext fallback.
//! The keychain is reached only when a credential is first needed.

use crate::store::Store;
use async_trait::async_trait;
use flowpilot_engine::Sensitive;
use flowpilot_engine::registry::{CredentialError, CredentialSource};
use keyring_core::{CredentialStore, Error as KeyringError};
use std::sync::{Arc, OnceLock};

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

type StoreResult = Result<Arc<CredentialStore>, SecretsError>;

/// Where the keychain's store comes from: the platform's, connected on first use,
/// or one given (tests).
enum Source {
    Os(OnceLock<StoreResult>),
    Given(StoreResult),
}

impl Source {
    fn store(&self) -> &StoreResult {
        match self {
            Self::Os(once) => once.get_or_init(|| match keyring::Entry::store_status() {
                Ok(()) => keyring_core::get_default_store().ok_or_else(|| SecretsError::Unavailable {
                    detail: "no default credential store".into(),
                }),
                Err(e) => Err(SecretsError::Unavailable { detail: e.to_string() }),
            }),
            Self::Given(store) => store,
        }
    }
}

/// The keychain. Calls block (D-Bus round trips): from async code, go through
/// [`KeychainCredentials`] or `spawn_blocking`.
#[derive(Clone)]
pub struct Keychain {
    source: Arc<Source>,
    /// The data folder's part of every entry name; none for a keychain not yet
    /// bound to a data folder (and for entries written before there were scopes).
    scope: Option<String>,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Keychain {
    /// The platform's keychain, connected when first used. Never fails: an
    /// unavailable keychain is reported by [`Keychain::status`] and by every call,
    /// so the rest of the app still works.
    pub fn os() -> Self {
        Self {
            source: Arc::new(Source::Os(OnceLock::new())),
            scope: None,
        }
    }

    /// A keychain over any keyring-core store (the mock store in unit tests).
    pub fn with_store(store: Arc<CredentialStore>) -> Self {
        Self {
            source: Arc::new(Source::Given(Ok(store))),
            scope: None,
        }
    }

    /// A keychain that is never available (to show and test the error path).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            source: Arc::new(Source::Given(Err(SecretsError::Unavailable { detail: detail.into() }))),
            scope: None,
        }
    }

    /// The same keychain, its entries named within a data folder's scope.
    pub fn scoped(&self, scope: &str) -> Self {
        Self {
            source: self.source.clone(),
            scope: Some(scope.to_string()),
        }
    }

    /// The same keychain without a scope: entries as Flowpilot wrote them before
    /// data folders had scopes (read once, to carry them over).
    pub fn unscoped(&self) -> Self {
        Self {
            source: self.source.clone(),
            scope: None,
        }
    }

    /// The entry name of a credential (`<scope>/<provider>/<field>`).
    pub fn entry_name(&self, provider: &str, field: &str) -> String {
        match &self.scope {
            Some(scope) => format!("{scope}/{provider}/{field}"),
            None => format!("{provider}/{field}"),
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
        let store = self.source.store().as_ref().map_err(Clone::clone)?;
        store
            .build(SERVICE, &self.entry_name(provider, field), None)
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

/// The engine's view of the keychain: only the credentials this data folder lists
/// (what the Credentials screen shows is exactly what runs can use), read off the
/// async runtime's threads.
#[derive(Debug, Clone)]
pub struct KeychainCredentials {
    pub keychain: Arc<Keychain>,
    pub store: Arc<Store>,
}

#[async_trait]
impl CredentialSource for KeychainCredentials {
    async fn get(&self, provider: &str, field: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        let (keychain, store) = (self.keychain.clone(), self.store.clone());
        let (provider, field) = (provider.to_string(), field.to_string());
        tokio::task::spawn_blocking(move || {
            let listed = store
                .credential_recorded(&provider, &field)
                .map_err(|e| CredentialError::Other(e.to_string()))?;
            let read = if listed {
                keychain.get(&provider, &field)
            } else {
                // Not set here. Without a keychain it could not have been: say that instead.
                keychain.status().map(|()| None)
            };
            read.map_err(|e| match e {
                SecretsError::Unavailable { .. } => CredentialError::Unavailable(e.to_string()),
                other => CredentialError::Other(other.to_string()),
            })
        })
        .await
        .map_err(|e| CredentialError::Other(e.to_string()))?
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
    async fn the_engine_reads_only_what_the_data_folder_lists() {
        let (_dir, store) = crate::store::test_support::temp_store();
        let store = Arc::new(store);
        let k = Arc::new(mock().scoped("folder-a"));
        k.set("groq", "api_key", &Sensitive::new("gsk".into())).unwrap();
        let source = KeychainCredentials {
            keychain: k.clone(),
            store: store.clone(),
        };
        // In the keychain, but not listed here: never read, never sent.
        assert_eq!(source.get("groq", "api_key").await.unwrap(), None);
        store
            .record_credential("groq", "api_key", crate::store::test_support::t(0))
            .unwrap();
        assert_eq!(source.get("groq", "api_key").await.unwrap().unwrap().expose(), "gsk");
        let down = KeychainCredentials {
            keychain: Arc::new(Keychain::unavailable("x")),
            store,
        };
        assert!(matches!(
            down.get("groq", "api_key").await,
            Err(CredentialError::Unavailable(_))
        ));
    }

    #[test]
    fn scopes_keep_data_folders_apart() {
        let k = mock();
        let a = k.scoped("a");
        let b = k.scoped("b");
        a.set("openai", "api_key", &Sensitive::new("sk-a".into())).unwrap();
        assert_eq!(b.get("openai", "api_key").unwrap(), None);
        assert_eq!(a.entry_name("openai", "api_key"), "a/openai/api_key");
        assert_eq!(k.get("openai", "api_key").unwrap(), None);
    }
}
