//! Integrations: the built-in definitions and the person's own (stored as
//! definitions, imported and exported as files), which plans use as providers.
//! Saving, importing or removing one changes the registry at once; a stored
//! definition that no longer loads is left out of it, and said so in the list.

use super::{ApiError, Flowpilot, Result, read_file};
use crate::store::{ConnectionState, StoredIntegration};
use flowpilot_engine::integration::definition::Auth;
use flowpilot_engine::integration::{self, IntegrationDefinition, IntegrationProvider};
use flowpilot_engine::plan::{IssueKind, StepSpec};
use flowpilot_engine::registry::{Provider, ProviderKind, Registry};
use flowpilot_engine::{PlanIssue, StepRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// A secret of an integration, and whether it is set (never its value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SecretStatus {
    pub name: String,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    pub optional: bool,
    pub set: bool,
}

/// An integration as the Integrations screen lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct IntegrationSummary {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Shipped with Flowpilot (it cannot be changed or removed; copy it to start one's own).
    pub builtin: bool,
    /// Its actions, `raw_request` last.
    pub actions: Vec<String>,
    pub secrets: Vec<SecretStatus>,
    /// For an OAuth 2.0 integration: whether it is connected, and how it stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<Connection>,
    /// Why a stored definition is left out of the registry (it no longer loads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<PlanIssue>,
}

/// An OAuth 2.0 integration's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Connection {
    /// An access token is stored.
    pub connected: bool,
    /// `needs_reconnecting` after a refused refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ConnectionState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A definition read as far as it goes: the document when its structure is
/// sound, and every problem, located.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct IntegrationCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<IntegrationDefinition>,
    pub issues: Vec<PlanIssue>,
}

impl Flowpilot {
    /// Build the registry again from the built-ins and the stored definitions,
    /// keeping each integration's rate-limit window and refresh lock.
    pub(crate) fn rebuild_registry(&self) -> Result<()> {
        let previous = self.executor.registry();
        let base = previous.without_user_integrations();
        let mut own: Vec<Arc<dyn Provider>> = Vec::new();
        for stored in self.store.list_integrations()? {
            match self.check_stored(&base, &stored) {
                Ok(def) => {
                    let mut provider = IntegrationProvider::new(def, ProviderKind::UserIntegration);
                    if let Some(before) = previous
                        .get(&stored.name)
                        .filter(|p| p.kind() == ProviderKind::UserIntegration)
                        && let Some(before) = user_integration(before.as_ref())
                    {
                        provider = provider.sharing_state_with(before);
                    }
                    own.push(Arc::new(provider));
                }
                Err(issues) => {
                    tracing::warn!(integration = %stored.name, problems = issues.len(), "a stored integration no longer loads");
                }
            }
        }
        self.executor.set_registry(base.with(own));
        Ok(())
    }

    fn check_stored(
        &self,
        base: &Registry,
        stored: &StoredIntegration,
    ) -> std::result::Result<IntegrationDefinition, Vec<PlanIssue>> {
        let def = integration::check_value(stored.definition.clone())?;
        reserved_name(base, &def.name)?;
        Ok(def)
    }

    /// Every integration, built-in first, with its secrets' state.
    pub fn list_integrations(&self) -> Result<Vec<IntegrationSummary>> {
        let registry = self.registry();
        let set = self.store.list_credentials()?;
        let mut out: Vec<IntegrationSummary> = Vec::new();
        for p in registry
            .providers()
            .iter()
            .filter(|p| p.kind() != ProviderKind::Builtin)
        {
            let Some(def) = user_integration(p.as_ref()).map(IntegrationProvider::definition) else {
                continue;
            };
            out.push(self.summary(def, p.kind() == ProviderKind::Integration, &set)?);
        }
        // Stored definitions that no longer load: listed with their problems.
        let base = Registry::builtin();
        for stored in self.store.list_integrations()? {
            if let Err(problems) = self.check_stored(&base, &stored) {
                out.push(IntegrationSummary {
                    title: stored.definition["title"].as_str().unwrap_or(&stored.name).to_string(),
                    description: String::new(),
                    name: stored.name,
                    builtin: false,
                    actions: Vec::new(),
                    secrets: Vec::new(),
                    connection: None,
                    problems,
                });
            }
        }
        Ok(out)
    }

    fn summary(
        &self,
        def: &IntegrationDefinition,
        builtin: bool,
        set: &[(String, String, chrono::DateTime<chrono::Utc>)],
    ) -> Result<IntegrationSummary> {
        let is_set = |field: &str| set.iter().any(|(p, f, _)| *p == def.name && f == field);
        let connection = match &def.auth {
            Auth::Oauth2(_) => {
                let state = self.store.connection_state(&def.name)?;
                Some(Connection {
                    connected: is_set(integration::oauth::ACCESS_TOKEN),
                    state: state.as_ref().map(|s| s.0),
                    detail: state.and_then(|s| s.1),
                })
            }
            _ => None,
        };
        let mut actions: Vec<String> = def.actions.keys().cloned().collect();
        actions.push(integration::RAW_REQUEST.into());
        Ok(IntegrationSummary {
            name: def.name.clone(),
            title: def.title.clone(),
            description: def.description.clone(),
            builtin,
            actions,
            secrets: def
                .secrets
                .iter()
                .map(|(name, s)| SecretStatus {
                    name: name.clone(),
                    label: s.label.clone(),
                    help: s.help.clone(),
                    optional: s.optional,
                    set: is_set(name),
                })
                .collect(),
            connection,
            problems: Vec::new(),
        })
    }

    /// One integration's definition, built-in or the person's own (also one that
    /// no longer loads, to be fixed).
    pub fn get_integration(&self, name: &str) -> Result<Value> {
        if let Some(stored) = self.store.get_integration(name)? {
            return Ok(stored.definition);
        }
        self.registry()
            .get(name)
            .and_then(|p| user_integration(p.as_ref()))
            .map(|p| serde_json::to_value(p.definition()).unwrap_or(Value::Null))
            .ok_or_else(|| ApiError::NotFound {
                what: "integration",
                key: name.to_string(),
            })
    }

    /// Every problem of a definition, located; nothing is stored.
    pub fn validate_integration(&self, definition: Value) -> IntegrationCheck {
        let typed = serde_json::from_value::<IntegrationDefinition>(definition.clone()).ok();
        let issues = match integration::check_value(definition) {
            Ok(def) => match reserved_name(&self.builtins(), &def.name) {
                Ok(()) => Vec::new(),
                Err(issues) => issues,
            },
            Err(issues) => issues,
        };
        IntegrationCheck {
            definition: typed,
            issues,
        }
    }

    /// Definition text (the editor's raw JSON, a file) read as far as it goes.
    pub fn check_integration_text(&self, text: &str) -> IntegrationCheck {
        match serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) {
            Ok(value) => self.validate_integration(value),
            Err(_) => IntegrationCheck {
                definition: None,
                issues: integration::load(text).err().unwrap_or_default(),
            },
        }
    }

    fn builtins(&self) -> Registry {
        let all = self.registry();
        Registry::from_providers(
            all.providers()
                .iter()
                .filter(|p| p.kind() != ProviderKind::UserIntegration)
                .cloned()
                .collect(),
        )
    }

    /// Check and store one's own definition (a new one, or a new text of one);
    /// plans can use it at once.
    pub fn save_integration(&self, definition: Value) -> Result<IntegrationDefinition> {
        let check = self.validate_integration(definition.clone());
        let Some(def) = check.definition.filter(|_| check.issues.is_empty()) else {
            return Err(ApiError::InvalidIntegration(check.issues));
        };
        self.store.save_integration(&def.name, &definition, self.clock.now())?;
        self.rebuild_registry()?;
        tracing::info!(integration = %def.name, "integration saved");
        Ok(def)
    }

    /// Import a definition file. One of the same name is replaced only when
    /// `replace` says so: its stored secrets would go to the new definition's address.
    pub fn import_integration_text(&self, text: &str, replace: bool) -> Result<IntegrationDefinition> {
        let check = self.check_integration_text(text);
        let Some(def) = check.definition.filter(|_| check.issues.is_empty()) else {
            let issues = if check.issues.is_empty() {
                integration::load(text).err().unwrap_or_default()
            } else {
                check.issues
            };
            return Err(ApiError::InvalidIntegration(issues));
        };
        if !replace && self.store.get_integration(&def.name)?.is_some() {
            return Err(ApiError::Exists {
                what: "integration",
                key: def.name,
                hint: Some(
                    "import it with --replace to replace it (its secrets then go to the new definition's address)"
                        .into(),
                ),
            });
        }
        let value = serde_json::to_value(&def).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.save_integration(value)
    }

    pub fn import_integration_file(&self, path: &Path, replace: bool) -> Result<IntegrationDefinition> {
        self.import_integration_text(&read_file(path)?, replace)
    }

    /// A definition as a file (it holds no secret: definitions only name them).
    pub fn export_integration(&self, name: &str) -> Result<String> {
        let value = self.get_integration(name)?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(text + "\n")
    }

    pub fn export_integration_to(&self, name: &str, path: &Path) -> Result<()> {
        let text = self.export_integration(name)?;
        std::fs::write(path, text).map_err(|e| ApiError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Remove one's own integration (its secrets stay in the keychain until
    /// deleted); whether it was there. A built-in cannot be removed.
    pub fn remove_integration(&self, name: &str) -> Result<bool> {
        if self.builtins().get(name).is_some() {
            return Err(ApiError::BadInput(format!(
                "`{name}` comes with Flowpilot and cannot be removed"
            )));
        }
        let removed = self.store.delete_integration(name)?;
        self.rebuild_registry()?;
        Ok(removed)
    }

    /// Run one action of an integration now, with these params ("Test" on the
    /// Integrations screen); nothing is stored.
    pub async fn test_integration_action(&self, name: &str, action: &str, params: Value) -> Result<StepRecord> {
        self.execute_step(StepSpec::new(name, action, params), Vec::new()).await
    }
}

/// The integration behind a provider, if it is one.
fn user_integration(p: &dyn Provider) -> Option<&IntegrationProvider> {
    p.as_integration()
}

/// A definition may not take a name the built-ins use.
fn reserved_name(base: &Registry, name: &str) -> std::result::Result<(), Vec<PlanIssue>> {
    if base.is_reserved(name) {
        return Err(vec![PlanIssue::error(
            "name",
            IssueKind::NotAllowed,
            format!("`{name}` is the name of a provider that comes with Flowpilot; choose another"),
        )]);
    }
    Ok(())
}
