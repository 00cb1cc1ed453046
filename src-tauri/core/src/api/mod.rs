//! The facade: one API over the engine, the store and the keychain that the
//! desktop app's commands, the scheduler and the CLI all call. Nothing above
//! this layer touches SQLite or the keychain directly.
//!
//! Split by concern: [`plans`], [`review`] (imports and their review), [`runs`] (and replays), [`schedules`] (and
//! settings), [`credentials`], [`drafting`] (and dry runs); this module opens
//! Flowpilot on a data folder and says what went wrong.

mod connect;
pub mod credentials;
pub mod drafting;
pub mod integrations;
pub mod plans;
pub mod review;
pub mod runs;
pub mod schedules;
pub mod triggers;

pub use connect::OAuthStart;
pub use credentials::{CredentialField, CredentialInfo, StoredCredentials};
pub use integrations::{IntegrationCheck, IntegrationSummary, SecretStatus};
pub use plans::{FileCheck, PlanCheck, PlanDetail, ResolvedPlan};
pub use review::{Activation, PlanReview};
pub use runs::{PreparedRun, ReplayRefusal, RunDetail, RunSpec, Stats};
pub use schedules::SchedulePreview;

use crate::draft::DraftError;
use crate::secrets::{Keychain, SecretsError};
use crate::store::{Store, StoreError};
use flowpilot_engine::registry::ProviderInfo;
use flowpilot_engine::{Clock, Executor, PlanError, Registry, SystemClock};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The environment variable that selects the data folder (app and CLI alike).
pub const DATA_DIR_ENV: &str = "FLOWPILOT_DATA_DIR";
/// The database file inside the data folder.
pub const DB_FILE: &str = "flowpilot.db";

/// The small set of error kinds a caller branches on (the UI, the CLI's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidPlan,
    /// An integration definition with problems (they come located, in `issues`).
    InvalidIntegration,
    NotFound,
    Conflict,
    KeychainUnavailable,
    Keychain,
    BadInput,
    Storage,
    /// A replay that cannot be made as asked (a step's output is gone, the plan changed).
    Refused,
    /// The person stopped it (an OAuth connection waiting for the browser).
    Cancelled,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    InvalidPlan(#[from] PlanError),
    #[error("no {what} `{key}`")]
    NotFound { what: &'static str, key: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    BadInput(String),
    #[error("{}: {message}", .path.display())]
    Io { path: PathBuf, message: String },
    #[error("internal error: {0}")]
    Internal(String),
    /// Stopped on request before it was done.
    #[error("{0}")]
    Cancelled(String),
    #[error(transparent)]
    Draft(#[from] DraftError),
    #[error(transparent)]
    Replay(#[from] ReplayRefusal),
    #[error("{}", integration_issues(.0))]
    InvalidIntegration(Vec<flowpilot_engine::PlanIssue>),
    #[error("{what} `{key}` already exists{}", .hint.as_deref().map(|h| format!(": {h}")).unwrap_or_default())]
    Exists {
        what: &'static str,
        key: String,
        hint: Option<String>,
    },
}

fn integration_issues(issues: &[flowpilot_engine::PlanIssue]) -> String {
    let mut s = format!(
        "the integration definition has {} problem{}:",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for i in issues {
        s.push_str("\n  ");
        s.push_str(&i.to_string());
    }
    s
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidPlan(_) => ErrorCode::InvalidPlan,
            Self::NotFound { .. } | Self::Store(StoreError::NotFound { .. }) => ErrorCode::NotFound,
            Self::Store(
                StoreError::NameTaken { .. } | StoreError::DuplicateFire { .. } | StoreError::RunExists { .. },
            ) => ErrorCode::Conflict,
            Self::Store(_) => ErrorCode::Storage,
            Self::Secrets(SecretsError::Unavailable { .. }) => ErrorCode::KeychainUnavailable,
            Self::Secrets(SecretsError::InvalidName(_) | SecretsError::EmptyValue) => ErrorCode::BadInput,
            Self::Secrets(_) => ErrorCode::Keychain,
            Self::BadInput(_) | Self::Io { .. } => ErrorCode::BadInput,
            Self::Internal(_) => ErrorCode::Internal,
            Self::Cancelled(_) => ErrorCode::Cancelled,
            Self::Draft(e) => drafting::error_code(e),
            Self::Replay(_) => ErrorCode::Refused,
            Self::InvalidIntegration(_) => ErrorCode::InvalidIntegration,
            Self::Exists { .. } => ErrorCode::Conflict,
        }
    }
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// How to open Flowpilot. Defaults: the data folder from `FLOWPILOT_DATA_DIR` or
/// the platform's data dir, the OS keychain, the system clock.
#[derive(Default)]
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub keychain: Option<Keychain>,
    pub clock: Option<Arc<dyn Clock>>,
}

/// The data folder: explicit, else `FLOWPILOT_DATA_DIR`, else `<data dir>/flowpilot`.
pub fn resolve_data_dir(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = explicit.filter(|d| !d.as_os_str().is_empty()) {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("flowpilot"))
        .ok_or_else(|| ApiError::BadInput(format!("no data folder: set {DATA_DIR_ENV} or pass --data-dir")))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct KeychainState {
    pub available: bool,
    /// Why not, and the fix.
    pub message: Option<String>,
}

/// Versions, folders and the keychain's state, for the app's About and health check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Health {
    pub version: String,
    pub data_dir: PathBuf,
    pub database: PathBuf,
    pub schema_version: usize,
    pub keychain: KeychainState,
}

/// Flowpilot, opened on one data folder.
pub struct Flowpilot {
    data_dir: PathBuf,
    store: Arc<Store>,
    keychain: Arc<Keychain>,
    executor: Executor,
    clock: Arc<dyn Clock>,
    active: runs::ActiveRuns,
    /// Runs whose final status could not be written when they ended.
    unrecorded: Mutex<Vec<flowpilot_engine::RunOutcome>>,
    /// OAuth connections begun and waiting for their browser callback.
    connects: connect::Pending,
}

impl std::fmt::Debug for Flowpilot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flowpilot")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Flowpilot {
    pub fn open(options: Options) -> Result<Self> {
        let data_dir = resolve_data_dir(options.data_dir)?;
        std::fs::create_dir_all(&data_dir).map_err(|e| ApiError::Io {
            path: data_dir.clone(),
            message: e.to_string(),
        })?;
        let store = Arc::new(Store::open(data_dir.join(DB_FILE))?);
        let keychain = Arc::new(credentials::scoped_keychain(
            &store,
            options.keychain.unwrap_or_else(Keychain::os),
        )?);
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let executor = Executor::new(
            Registry::builtin(),
            clock.clone(),
            Arc::new(StoredCredentials {
                keychain: keychain.clone(),
                store: store.clone(),
                clock: clock.clone(),
            }),
        );
        let app = Self {
            data_dir,
            store,
            keychain,
            executor,
            clock,
            active: Default::default(),
            unrecorded: Mutex::default(),
            connects: Default::default(),
        };
        app.rebuild_registry()?;
        Ok(app)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The providers plans are checked against: the built-ins and the person's integrations.
    pub fn registry(&self) -> Registry {
        self.executor.registry()
    }

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// How long and how often writes wait for a database another program holds
    /// locked (default: 10 s, 3 tries).
    pub fn set_lock_wait(&self, wait: crate::store::LockWait) -> Result<()> {
        Ok(self.store.set_lock_wait(wait)?)
    }

    pub fn keychain_status(&self) -> Result<(), SecretsError> {
        self.keychain.status()
    }

    /// The keychain entry a credential of this data folder lives in
    /// (service `flowpilot`, this name).
    pub fn keychain_entry_name(&self, provider: &str, field: &str) -> String {
        self.keychain.entry_name(provider, field)
    }

    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.registry().catalogue()
    }

    /// Write everything in the write-ahead log into the database file (tests look
    /// at the file itself).
    pub fn checkpoint(&self) -> Result<()> {
        Ok(self.store.checkpoint()?)
    }

    /// Versions, data folder and keychain state, for the app's health and About.
    pub fn health(&self) -> Health {
        Health {
            version: env!("CARGO_PKG_VERSION").to_string(),
            data_dir: self.data_dir.clone(),
            database: self.data_dir.join(DB_FILE),
            schema_version: crate::store::SCHEMA_VERSION,
            keychain: match self.keychain.status() {
                Ok(()) => KeychainState {
                    available: true,
                    message: None,
                },
                Err(e) => KeychainState {
                    available: false,
                    message: Some(e.to_string()),
                },
            },
        }
    }
}

/// Read a plan file: at most the plan size limit (plus one byte, to tell it was
/// over), so `/dev/zero` or a huge file never fills memory.
pub(crate) fn read_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let io = |e: std::io::Error| ApiError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let limit = flowpilot_engine::plan::limits::MAX_FILE_BYTES;
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > limit {
        return Err(PlanError::TooLarge {
            size: bytes.len(),
            limit,
        }
        .into());
    }
    String::from_utf8(bytes).map_err(|e| ApiError::Io {
        path: path.to_path_buf(),
        message: format!("not UTF-8 text: {e}"),
    })
}

#[cfg(test)]
mod tests;
