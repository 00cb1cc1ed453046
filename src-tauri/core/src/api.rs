//! The facade: one API over the engine, the store and the keychain that the
//! desktop app's commands and the CLI both call. Nothing above this layer
//! touches SQLite or the keychain directly.

use crate::draft::{Draft, DraftError, DraftRequest};
use crate::secrets::{Keychain, KeychainCredentials, SecretsError};
use crate::store::{
    NewRun, Page, PlanRow, PlanSummary, PlanVersion, ProviderStats, PruneReport, RetentionPolicy, RunCounts, RunFilter,
    RunLog, RunRow, SlowStep, Store, StoreError,
};
use chrono::{DateTime, Utc};
use flowpilot_engine::executor::{RunObserver, RunOutcome, RunRequest};
use flowpilot_engine::plan::{CronTrigger, StepSpec, Trigger};
use flowpilot_engine::registry::ProviderInfo;
use flowpilot_engine::schedule::{Schedule, system_timezone};
use flowpilot_engine::template::Scope;
use flowpilot_engine::{Clock, Executor, Plan, PlanError, PlanIssue, Registry, Sensitive, StepRecord, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The environment variable that selects the data folder (app and CLI alike).
pub const DATA_DIR_ENV: &str = "FLOWPILOT_DATA_DIR";
/// The database file inside the data folder.
pub const DB_FILE: &str = "flowpilot.db";

/// The small set of error kinds a caller branches on (the UI, the CLI's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidPlan,
    NotFound,
    Conflict,
    KeychainUnavailable,
    Keychain,
    BadInput,
    Storage,
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
    #[error(transparent)]
    Draft(#[from] DraftError),
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidPlan(_) => ErrorCode::InvalidPlan,
            Self::NotFound { .. } | Self::Store(StoreError::NotFound { .. }) => ErrorCode::NotFound,
            Self::Store(
                StoreError::NameTaken { .. } | StoreError::DuplicateFire { .. } | StoreError::RunExists { .. },
            ) => ErrorCode::Conflict,
            Self::Store(StoreError::NewerSchema { .. }) => ErrorCode::Storage,
            Self::Store(_) => ErrorCode::Storage,
            Self::Secrets(SecretsError::Unavailable { .. }) => ErrorCode::KeychainUnavailable,
            Self::Secrets(SecretsError::InvalidName(_) | SecretsError::EmptyValue) => ErrorCode::BadInput,
            Self::Secrets(_) => ErrorCode::Keychain,
            Self::BadInput(_) | Self::Io { .. } => ErrorCode::BadInput,
            Self::Internal(_) => ErrorCode::Internal,
            Self::Draft(e) => draft_error_code(e),
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

/// A plan ready to run, and the stored plan it came from (none for a file).
#[derive(Debug, Clone)]
pub struct ResolvedPlan {
    pub plan_id: Option<String>,
    pub plan: Plan,
}

/// Which credential fields are set (never their values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialInfo {
    pub provider: String,
    pub field: String,
    pub updated_at: DateTime<Utc>,
}

/// The monitoring figures of a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub since: DateTime<Utc>,
    /// Runs started in the window, by status.
    pub runs: RunCounts,
    pub providers: Vec<ProviderStats>,
    pub slowest_steps: Vec<SlowStep>,
}

/// What to run, and why.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub target: ResolvedPlan,
    /// `manual`, `cli`, `cron`, `catch_up`...
    pub trigger_kind: String,
    /// The fire this run is for (scheduled runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
}

struct ActiveRun {
    plan_id: Option<String>,
    cancel: CancellationToken,
}

type ActiveRuns = Arc<Mutex<HashMap<String, ActiveRun>>>;

/// A run whose row exists; dropping it without executing leaves the registry clean
/// (the row stays `running` and becomes `interrupted` at the next start).
pub struct PreparedRun {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub spec: RunSpec,
    cancel: CancellationToken,
    active: ActiveRuns,
}

impl Drop for PreparedRun {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.run_id);
    }
}

/// A stored plan with what the editor shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDetail {
    pub row: PlanRow,
    pub required_providers: Vec<String>,
    pub plain_english_steps: Vec<String>,
    pub missing_credentials: Vec<CredentialField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialField {
    pub provider: String,
    pub field: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulePreview {
    pub description: String,
    pub timezone: String,
    pub next: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeychainState {
    pub available: bool,
    /// Why not, and the fix.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    active: ActiveRuns,
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
        let keychain = Arc::new(options.keychain.unwrap_or_else(Keychain::os));
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let executor = Executor::new(
            Registry::builtin(),
            clock.clone(),
            Arc::new(KeychainCredentials(keychain.clone())),
        );
        Ok(Self {
            data_dir,
            store,
            keychain,
            executor,
            clock,
            active: Default::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn registry(&self) -> &Registry {
        self.executor.registry()
    }

    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn keychain_status(&self) -> Result<(), SecretsError> {
        self.keychain.status()
    }

    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.registry().catalogue()
    }

    // ---- plans ----

    /// Validate plan JSON text.
    pub fn check_plan(&self, text: &str) -> Result<Plan, PlanError> {
        Plan::from_json(text, self.registry())
    }

    /// Validate and store a plan; a plan with the same name gets a new version.
    pub fn import_plan(&self, text: &str) -> Result<PlanRow> {
        let plan = self.check_plan(text)?;
        let now = self.clock.now();
        match self.store.find_plan_by_name(plan.name())? {
            Some(existing) => Ok(self.store.update_plan(&existing.id, plan.file(), now)?),
            None => Ok(self.store.create_plan(plan.file(), now)?),
        }
    }

    pub fn import_plan_file(&self, path: &Path) -> Result<PlanRow> {
        let text = read_file(path)?;
        self.import_plan(&text)
    }

    /// Save a validated plan as a new version of `id`.
    pub fn update_plan(&self, id: &str, text: &str) -> Result<PlanRow> {
        let plan = self.check_plan(text)?;
        Ok(self.store.update_plan(id, plan.file(), self.clock.now())?)
    }

    pub fn list_plans(&self) -> Result<Vec<PlanSummary>> {
        Ok(self.store.list_plans()?)
    }

    /// A stored plan by id, else by name.
    pub fn find_stored_plan(&self, key: &str) -> Result<PlanRow> {
        match self.store.get_plan(key) {
            Ok(row) => Ok(row),
            Err(StoreError::NotFound { .. }) => self.store.find_plan_by_name(key)?.ok_or_else(|| ApiError::NotFound {
                what: "plan",
                key: key.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub fn plan_versions(&self, id: &str) -> Result<Vec<PlanVersion>> {
        Ok(self.store.plan_versions(id)?)
    }

    pub fn restore_plan_version(&self, id: &str, version: u32) -> Result<PlanRow> {
        Ok(self.store.restore_version(id, version, self.clock.now())?)
    }

    pub fn delete_plan(&self, id: &str) -> Result<()> {
        Ok(self.store.delete_plan(id)?)
    }

    /// The plan file to export: the stored plan with its derived fields. Plans hold
    /// no secret values (credentials are referenced by name only), so none can leak.
    pub fn export_plan(&self, id: &str) -> Result<Value> {
        let row = self.store.get_plan(id)?;
        let plan = Plan::from_file(row.plan, self.registry())?;
        Ok(plan.to_export_json(self.registry()))
    }

    /// A plan to run: a plan file on disk, else a stored plan by id or name.
    pub fn resolve_plan(&self, key: &str) -> Result<ResolvedPlan> {
        let path = Path::new(key);
        if path.is_file() {
            let plan = self.check_plan(&read_file(path)?)?;
            return Ok(ResolvedPlan { plan_id: None, plan });
        }
        if key.ends_with(".json") {
            return Err(ApiError::Io {
                path: path.to_path_buf(),
                message: "no such file".into(),
            });
        }
        self.resolved(self.find_stored_plan(key)?)
    }

    // ---- runs ----

    /// Record a run about to start (its row says `running`). A scheduled fire that
    /// already has a run is refused with a `Conflict`, which makes double fires impossible.
    pub fn prepare_run(&self, spec: RunSpec) -> Result<PreparedRun> {
        let run_id = uuid::Uuid::now_v7().to_string();
        let started_at = self.clock.now();
        self.store.create_run(&NewRun {
            id: run_id.clone(),
            plan_id: spec.target.plan_id.clone(),
            plan_name: spec.target.plan.name().to_string(),
            trigger_kind: spec.trigger_kind.clone(),
            scheduled_for: spec.scheduled_for,
            started_at,
        })?;
        let cancel = CancellationToken::new();
        self.active.lock().unwrap_or_else(|e| e.into_inner()).insert(
            run_id.clone(),
            ActiveRun {
                plan_id: spec.target.plan_id.clone(),
                cancel: cancel.clone(),
            },
        );
        Ok(PreparedRun {
            run_id,
            started_at,
            spec,
            cancel,
            active: self.active.clone(),
        })
    }

    /// Run a prepared run to its end, logging every step durably. `observer` sees
    /// every event after the store has written it. `cancel` (or [`Flowpilot::cancel_run`])
    /// stops it.
    pub async fn execute(
        &self,
        prepared: PreparedRun,
        observer: Arc<dyn RunObserver>,
        deadline: Option<Duration>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let stop = prepared.cancel.clone();
        let linked = tokio::spawn(async move {
            cancel.cancelled().await;
            stop.cancel();
        });
        let log = RunLog::new(self.store.clone()).forward_to(observer);
        let trigger = serde_json::json!({
            "type": prepared.spec.trigger_kind,
            "scheduled_for": prepared.spec.scheduled_for,
            "at": prepared.started_at,
        });
        let request = RunRequest {
            run_id: prepared.run_id.clone(),
            plan: prepared.spec.target.plan.clone(),
            trigger,
            deadline,
            dry_run: false,
        };
        let outcome = self.executor.run(request, &log, prepared.cancel.clone()).await;
        linked.abort();
        drop(prepared);
        match log.take_error() {
            Some(e) => Err(e.into()),
            None => Ok(outcome),
        }
    }

    /// Prepare and execute in one go (the CLI's `run`).
    pub async fn run_plan(
        &self,
        target: ResolvedPlan,
        trigger_kind: &str,
        observer: Arc<dyn RunObserver>,
        deadline: Option<Duration>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let prepared = self.prepare_run(RunSpec {
            target,
            trigger_kind: trigger_kind.to_string(),
            scheduled_for: None,
        })?;
        self.execute(prepared, observer, deadline, cancel).await
    }

    /// Cancel a run in progress; `false` if it is not running in this process.
    pub fn cancel_run(&self, run_id: &str) -> bool {
        match self.active.lock().unwrap_or_else(|e| e.into_inner()).get(run_id) {
            Some(run) => {
                run.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// How many runs of a plan are in progress in this process.
    pub fn running_count(&self, plan_id: &str) -> usize {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| r.plan_id.as_deref() == Some(plan_id))
            .count()
    }

    pub fn list_runs(&self, filter: &RunFilter, page: Page) -> Result<(Vec<RunRow>, u64)> {
        Ok(self.store.list_runs(filter, page)?)
    }

    /// A run with its step logs (retry rows included, in order).
    pub fn run_logs(&self, run_id: &str) -> Result<(RunRow, Vec<StepRecord>)> {
        let run = self.store.get_run(run_id)?;
        let logs = self.store.step_logs(run_id)?;
        Ok((run, logs))
    }

    pub fn stats(&self, window: chrono::Duration) -> Result<Stats> {
        let since = self.clock.now() - window;
        Ok(Stats {
            since,
            runs: self.store.runs_since(since)?,
            providers: self.store.provider_stats(since)?,
            slowest_steps: self.store.slowest_steps(since, 10)?,
        })
    }

    pub fn prune(&self) -> Result<PruneReport> {
        Ok(self.store.prune(&RetentionPolicy::default(), self.clock.now())?)
    }

    /// Start a run of a stored plan in the background and return its id at once;
    /// progress reaches `observer`.
    pub fn start_run(self: &Arc<Self>, plan_id: &str, observer: Arc<dyn RunObserver>) -> Result<String> {
        let target = self.resolve_stored(plan_id)?;
        let prepared = self.prepare_run(RunSpec {
            target,
            trigger_kind: "manual".into(),
            scheduled_for: None,
        })?;
        let run_id = prepared.run_id.clone();
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.execute(prepared, observer, None, CancellationToken::new()).await {
                tracing::error!("run could not be recorded: {e}");
            }
        });
        Ok(run_id)
    }

    /// Run one step with given inputs, without storing anything ("test this step").
    /// `previous` are the results of the steps before it, as `{output, ...}` objects
    /// or bare outputs.
    pub async fn execute_step(&self, step: StepSpec, previous: Vec<(Option<String>, Value)>) -> Result<StepRecord> {
        let earlier: Vec<Option<String>> = previous.iter().map(|(id, _)| id.clone()).collect();
        check_step_after(&step, &earlier, self.registry())?;
        let steps = previous
            .into_iter()
            .map(|(id, v)| match v {
                Value::Object(ref m) if m.contains_key("output") => (id, v),
                other => (
                    id,
                    serde_json::json!({"success": true, "output": other, "message": "", "metadata": {}}),
                ),
            })
            .collect();
        let scope = Scope {
            steps,
            plan: serde_json::json!({"name": "step test"}),
            run: serde_json::json!({"id": "test"}),
            trigger: serde_json::json!({"type": "test"}),
        };
        Ok(self
            .executor
            .run_single_step("test", &step, &scope, CancellationToken::new())
            .await)
    }

    // ---- plans, as the desktop app edits them ----

    /// Validate a plan as typed JSON; every problem, located (empty: valid).
    pub fn validate_plan(&self, value: Value) -> Vec<PlanIssue> {
        match Plan::from_value(value, self.registry()) {
            Ok(_) => Vec::new(),
            Err(e) => e.issues(),
        }
    }

    pub fn create_plan(&self, value: Value) -> Result<PlanRow> {
        let plan = Plan::from_value(value, self.registry())?;
        Ok(self.store.create_plan(plan.file(), self.clock.now())?)
    }

    /// Save a new version of a plan.
    pub fn save_plan(&self, id: &str, value: Value) -> Result<PlanRow> {
        let plan = Plan::from_value(value, self.registry())?;
        Ok(self.store.update_plan(id, plan.file(), self.clock.now())?)
    }

    pub fn get_plan(&self, id: &str) -> Result<PlanDetail> {
        let row = self.store.get_plan(id)?;
        let (required_providers, plain_english_steps, missing_credentials) =
            match Plan::from_file(row.plan.clone(), self.registry()) {
                Ok(plan) => (
                    plan.required_providers(self.registry()),
                    plan.plain_english_steps(self.registry()),
                    self.missing_credentials(&plan)?,
                ),
                Err(_) => (Vec::new(), Vec::new(), Vec::new()),
            };
        Ok(PlanDetail {
            row,
            required_providers,
            plain_english_steps,
            missing_credentials,
        })
    }

    /// Copy a plan under a new name ("Name (copy)", "Name (copy 2)"...), as a draft.
    pub fn duplicate_plan(&self, id: &str) -> Result<PlanRow> {
        let mut file = self.store.get_plan(id)?.plan;
        let base = format!("{} (copy)", file.name);
        let mut name = base.clone();
        let mut n = 2;
        while self.store.find_plan_by_name(&name)?.is_some() {
            name = format!("{} (copy {n})", file.name.trim_end());
            n += 1;
        }
        file.name = name;
        file.status = flowpilot_engine::plan::PlanStatus::Draft;
        Ok(self.store.create_plan(&file, self.clock.now())?)
    }

    /// Write a stored plan to a file (export never contains secrets).
    pub fn export_plan_to(&self, id: &str, path: &Path) -> Result<()> {
        let value = self.export_plan(id)?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| ApiError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The credentials a plan cannot run without that are not set: its providers'
    /// keys (not the optional one of a self-hosted server) and the credentials its
    /// HTTP steps' `auth` names.
    pub fn missing_credentials(&self, plan: &Plan) -> Result<Vec<CredentialField>> {
        let set = self.store.list_credentials()?;
        Ok(plan
            .credentials_needed(self.registry())
            .into_iter()
            .filter(|(provider, field)| !set.iter().any(|(p, f, _)| p == provider && f == field))
            .map(|(provider, field)| CredentialField { provider, field })
            .collect())
    }

    /// [`Flowpilot::missing_credentials`] of a plan document not stored yet (a
    /// draft); an invalid one is refused with its problems.
    pub fn missing_credentials_for(&self, plan: Value) -> Result<Vec<CredentialField>> {
        self.missing_credentials(&Plan::from_value(plan, self.registry())?)
    }

    /// Set or clear a plan's cron trigger (a new plan version). `None` makes it manual.
    pub fn set_schedule(&self, plan_id: &str, trigger: Option<CronTrigger>) -> Result<PlanRow> {
        let mut file = self.store.get_plan(plan_id)?.plan;
        file.trigger = match trigger {
            Some(t) => Trigger::Cron(t),
            None => Trigger::Manual,
        };
        let plan = Plan::from_file(file, self.registry())?;
        Ok(self.store.update_plan(plan_id, plan.file(), self.clock.now())?)
    }

    /// A cron expression in words and its next fire times; a bad expression or zone
    /// is a located plan error.
    pub fn preview_schedule(
        &self,
        cron_expression: &str,
        timezone: Option<&str>,
        count: usize,
    ) -> Result<SchedulePreview> {
        let trigger = CronTrigger {
            cron_expression: cron_expression.to_string(),
            timezone: timezone.map(str::to_string),
            catch_up: Default::default(),
            overlap: Default::default(),
        };
        let schedule = Schedule::new(&trigger, system_timezone()).map_err(|message| {
            let path = if message.contains("time zone") {
                "trigger.timezone"
            } else {
                "trigger.cron_expression"
            };
            PlanError::Invalid(vec![PlanIssue {
                path: path.into(),
                message,
            }])
        })?;
        Ok(SchedulePreview {
            description: schedule.describe(),
            timezone: schedule.timezone().name().to_string(),
            next: schedule.upcoming(self.clock.now(), count.clamp(1, 50)),
        })
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

    fn resolve_stored(&self, plan_id: &str) -> Result<ResolvedPlan> {
        self.resolved(self.store.get_plan(plan_id)?)
    }

    /// A stored plan, validated again (the registry may have changed since it was saved).
    fn resolved(&self, row: PlanRow) -> Result<ResolvedPlan> {
        let plan = Plan::from_file(row.plan, self.registry())?;
        Ok(ResolvedPlan {
            plan_id: Some(row.id),
            plan,
        })
    }

    // ---- credentials: values are write-only ----

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
}

// ---- drafting and dry runs ----

impl Flowpilot {
    /// Draft a plan from a sentence with the LLM provider the request names (see
    /// [`crate::draft`]). Only that provider is asked; its API key is read from the
    /// keychain inside the provider and never sent anywhere but its Authorization
    /// header. A draft that does not validate is returned with its located issues
    /// (`valid: false`); an error means the provider could not be asked or answer.
    pub async fn draft_plan(&self, request: DraftRequest) -> Result<Draft> {
        self.draft_plan_with_cancel(request, CancellationToken::new()).await
    }

    /// [`Flowpilot::draft_plan`], stopped early when `cancel` fires (a slow model).
    pub async fn draft_plan_with_cancel(&self, request: DraftRequest, cancel: CancellationToken) -> Result<Draft> {
        let mut draft = crate::draft::draft(&self.executor, &request, cancel).await?;
        // Only a draft that validates can say what it needs (an invalid one may
        // not even name real providers); its problems come first.
        if let Ok(plan) = Plan::from_value(draft.plan.clone(), self.registry()) {
            draft.missing_credentials = self.missing_credentials(&plan)?;
        }
        Ok(draft)
    }

    /// Rehearse a plan: steps with side effects (HTTP writes, webhooks) answer from
    /// a stub that records what they would have sent, without reading credentials;
    /// the others (GET requests, logic, LLM calls) run for real. Nothing is stored.
    pub async fn dry_run(&self, plan: Value) -> Result<RunOutcome> {
        self.dry_run_observed(
            plan,
            Arc::new(flowpilot_engine::executor::NoObserver),
            CancellationToken::new(),
        )
        .await
    }

    /// [`Flowpilot::dry_run`] with live progress and cancellation (for the UI).
    pub async fn dry_run_observed(
        &self,
        plan: Value,
        observer: Arc<dyn RunObserver>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let plan = Plan::from_value(plan, self.registry())?;
        let request = RunRequest {
            run_id: format!("dry-run-{}", uuid::Uuid::now_v7()),
            plan,
            trigger: serde_json::json!({"type": "dry_run", "at": self.clock.now()}),
            deadline: None,
            dry_run: true,
        };
        Ok(self.executor.run(request, observer.as_ref(), cancel).await)
    }
}

/// The facade's codes are a closed set the app matches on, so drafting failures map
/// onto them: a keychain problem is one, everything else is something the person
/// can change (the provider, its address, model or key).
fn draft_error_code(e: &DraftError) -> ErrorCode {
    match e {
        DraftError::Provider { code, .. } if code == "KEYCHAIN_UNAVAILABLE" => ErrorCode::KeychainUnavailable,
        DraftError::Provider { code, .. } if code == "KEYCHAIN_ERROR" => ErrorCode::Keychain,
        _ => ErrorCode::BadInput,
    }
}

/// Validate `step` as the step that follows steps with these ids, so its
/// references may use them (by index or id) and nothing else. The earlier steps
/// stand in as no-op placeholders; only the problems of `step` itself are kept,
/// located as `steps[0]...` (the step alone).
fn check_step_after(step: &StepSpec, earlier: &[Option<String>], registry: &Registry) -> Result<()> {
    let placeholder = |id: &Option<String>| {
        let mut s = serde_json::json!({"provider": "logic", "action": "set", "params": {"value": null}});
        if let Some(id) = id {
            s["id"] = Value::String(id.clone());
        }
        s
    };
    let mut steps: Vec<Value> = earlier.iter().map(placeholder).collect();
    steps.push(serde_json::to_value(step).map_err(|e| ApiError::Internal(e.to_string()))?);
    let issues = match Plan::from_value(serde_json::json!({"name": "step test", "steps": steps}), registry) {
        Ok(_) => return Ok(()),
        Err(PlanError::Invalid(issues)) => issues,
        Err(other) => return Err(other.into()),
    };
    let at = format!("steps[{}]", earlier.len());
    let own: Vec<PlanIssue> = issues
        .into_iter()
        .filter_map(|i| {
            let rest = i.path.strip_prefix(&at)?;
            if !(rest.is_empty() || rest.starts_with(['.', '['])) {
                return None; // steps[10] when `at` is steps[1]
            }
            Some(PlanIssue {
                path: format!("steps[0]{rest}"),
                message: i.message,
            })
        })
        .collect();
    if own.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Invalid(own).into())
    }
}

fn read_file(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| ApiError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let limit = flowpilot_engine::plan::limits::MAX_FILE_BYTES as u64;
    if meta.len() > limit {
        return Err(PlanError::TooLarge {
            size: meta.len() as usize,
            limit: limit as usize,
        }
        .into());
    }
    std::fs::read_to_string(path).map_err(|e| ApiError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
