//! Integrations as data: an HTTP API described once in a definition file (see
//! [`definition`]) becomes a provider ([`provider`]) that plans use like any
//! other, the UI turns into forms, drafting offers to the model, and one
//! contract test checks. The built-ins (Notion, Telegram, Slack, Discord,
//! GitHub) are such files, embedded in the binary; the person's own live in the
//! store and are added with [`crate::registry::Registry::with`].
//!
//! - [`definition`]: the document, defined once (JSON Schema and TypeScript generated);
//! - [`validate`]: text to the checked document, every problem located;
//! - [`template`]: rendering `${params.…}` and `${secret.…}` into a request;
//! - [`provider`]: the definition as a provider (auth, rate limit, success, output);
//! - `auth`: the definition's auth put on a request, OAuth 2 tokens kept fresh;
//! - [`rate_limit`]: a limit shared by every run;
//! - [`oauth`]: authorization code + PKCE, and refresh.

mod auth;
pub mod definition;
pub mod oauth;
pub mod provider;
pub mod rate_limit;
pub mod template;
pub mod validate;

pub use definition::{IntegrationDefinition, definition_schema};
pub use provider::IntegrationProvider;
pub use validate::{RAW_REQUEST, check_value, load};

use crate::registry::{Provider, ProviderKind};
use std::sync::Arc;

/// The built-in definitions, as shipped (file name, text).
pub const BUILTIN_FILES: &[(&str, &str)] = &[
    ("notion.json", include_str!("../../integrations/notion.json")),
    ("telegram.json", include_str!("../../integrations/telegram.json")),
    ("slack.json", include_str!("../../integrations/slack.json")),
    ("discord.json", include_str!("../../integrations/discord.json")),
    ("github.json", include_str!("../../integrations/github.json")),
];

/// The built-in definitions, checked (once per process). One that does not load
/// is left out and logged (the contract test keeps that from shipping).
pub fn builtin_definitions() -> Vec<IntegrationDefinition> {
    static LOADED: std::sync::OnceLock<Vec<IntegrationDefinition>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            BUILTIN_FILES
                .iter()
                .filter_map(|(file, text)| match load(text) {
                    Ok(def) => Some(def),
                    Err(issues) => {
                        tracing::error!(file, ?issues, "a built-in integration does not load");
                        None
                    }
                })
                .collect()
        })
        .clone()
}

/// The built-in integrations as providers.
pub fn builtin_providers() -> Vec<Arc<dyn Provider>> {
    builtin_definitions()
        .into_iter()
        .map(|d| Arc::new(IntegrationProvider::new(d, ProviderKind::Integration)) as Arc<dyn Provider>)
        .collect()
}
