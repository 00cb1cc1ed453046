//! What the commands and the tray share: the facade, the scheduler and the
//! desktop shell around them. Opening it can fail (a database written by a newer
//! Flowpilot, an unwritable data folder); then the app still starts and shows why.

use crate::dto::{Health, SchedulerState};
use crate::error::IpcError;
use flowpilot_core::api::{Activation, ApiError, Flowpilot, OAuthStart, Options};
use flowpilot_core::draft::{Draft, DraftRequest};
use flowpilot_core::maintenance::Maintenance;
use flowpilot_core::runner_lock::{ClaimError, RunnerLock};
use flowpilot_core::scheduler::{Scheduler, SchedulerSink};
use flowpilot_core::settings::Settings;
use flowpilot_core::store::PlanRow;
use flowpilot_core::triggers::{TriggerRunner, TriggerStatus, WebhookServerStatus, webhook};
use flowpilot_core::wake::Bus;
use flowpilot_engine::integration::IntegrationDefinition;
use flowpilot_engine::plan::PlanFile;
use flowpilot_engine::plan::PlanStatus;
use flowpilot_engine::run::{NoObserver, RunEvent, RunObserver, RunOutcome};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The desktop around the facade: events and notifications (as the scheduler's
/// sink), the tray, autostart and file dialogs. Commands reach the desktop only
/// through this, so they do not depend on Tauri's runtime type.
pub trait Shell: SchedulerSink {
    /// Every schedule changed at once (pause or resume all).
    fn all_schedules_changed(&self);
    /// Start at login (hidden), or not.
    fn set_autostart(&self, enabled: bool) -> Result<(), String>;
    /// Ask for a plan file to import; None if the person cancelled.
    fn pick_plan_file(&self) -> oneshot::Receiver<Option<PathBuf>>;
    /// Ask where to export a plan; None if the person cancelled.
    fn pick_export_path(&self, suggested_name: String) -> oneshot::Receiver<Option<PathBuf>>;
    /// Quit Flowpilot (Settings' "Quit Flowpilot", as the tray's Quit).
    fn quit(&self);
    /// Ask for an integration definition file to import; None if the person cancelled.
    fn pick_integration_file(&self) -> oneshot::Receiver<Option<PathBuf>>;
    /// Ask where to export an integration definition; None if the person cancelled.
    fn pick_integration_export_path(&self, suggested_name: String) -> oneshot::Receiver<Option<PathBuf>>;
    /// Open `url` in the person's browser (an OAuth authorization page).
    fn open_url(&self, url: &str) -> Result<(), String>;
    /// Act on the answer to "keep running without a tray icon?" (`close-asked`).
    fn answer_close(&self, answer: crate::tray_host::CloseAnswer);
}

/// How this app names itself to another process that wants to run the schedules and triggers.
pub const RUNNER_NAME: &str = "the Flowpilot app";
/// How often an app that does not run the schedules and triggers tries to take them over.
const TAKE_OVER_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The opened app.
pub struct AppState {
    pub flow: Arc<Flowpilot>,
    pub scheduler: Arc<Scheduler>,
    pub shell: Arc<dyn Shell>,
    /// Runs the event triggers, once this app runs the schedules and triggers.
    triggers: Mutex<Option<Arc<TriggerRunner>>>,
    /// Held while this app runs the schedules and triggers (else `serve` or
    /// another app does, and this one keeps trying to take over).
    runner_lock: Mutex<Option<RunnerLock>>,
    /// The webhook server's port when not the settings' (tests).
    webhook_port: Option<u16>,
    /// Stops the scheduler, maintenance and trigger loops at exit.
    stop: CancellationToken,
    /// The run a notification asked to open, for a window that was not there yet to hear it.
    open_run: Mutex<Option<String>>,
    /// The draft being asked for, and the dry run going on (one of each at a time).
    drafting: Latest,
    rehearsing: Latest,
}

/// The one job of a kind that is going on: starting another cancels it, so a
/// person who asks again is not kept waiting for an answer they no longer want.
#[derive(Default)]
struct Latest(Mutex<(u64, Option<CancellationToken>)>);

/// A job [`Latest::begin`] started: its number and its token.
struct Job(u64, CancellationToken);

impl Latest {
    fn begin(&self) -> Job {
        let token = CancellationToken::new();
        let mut slot = self.lock();
        if let Some(before) = slot.1.replace(token.clone()) {
            before.cancel();
        }
        slot.0 += 1;
        Job(slot.0, token)
    }

    /// Cancel the job in progress; false if there was none.
    fn cancel(&self) -> bool {
        let token = self.lock().1.take();
        token.map(|t| t.cancel()).is_some()
    }

    /// Forget a job once it has ended (unless a newer one took its place).
    fn end(&self, job: &Job) {
        let mut slot = self.lock();
        if slot.0 == job.0 {
            slot.1 = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Option<CancellationToken>)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Forwards a run's events to the shell (the webview and the tray).
struct ToShell(Arc<dyn Shell>);

impl RunObserver for ToShell {
    fn on_event(&self, event: &RunEvent) {
        self.0.run_event(event);
    }
}

impl AppState {
    /// Open the facade on `options`; start the scheduler and the triggers on
    /// Tauri's async runtime, unless another process runs them (`flowpilot-cli
    /// serve`): then keep trying to take over, and keep every other function.
    pub fn open(options: Options, shell: Arc<dyn Shell>) -> Result<Arc<Self>, ApiError> {
        Self::open_with_port(options, shell, None)
    }

    /// [`AppState::open`] with the webhook server on `port` whatever the
    /// settings say (0: a free one; for tests).
    pub fn open_with_port(options: Options, shell: Arc<dyn Shell>, port: Option<u16>) -> Result<Arc<Self>, ApiError> {
        let flow = Arc::new(Flowpilot::open(options)?);
        let sink: Arc<dyn SchedulerSink> = shell.clone();
        let scheduler = Scheduler::new(flow.clone(), sink);
        // After a resume from sleep, due and missed fires are looked at at once.
        let waker = scheduler.clone();
        if let Err(e) = flowpilot_core::wake::watch_resume(Bus::System, move || waker.wake()) {
            tracing::info!("{e}; the scheduler's 30 s slices notice a wake-up instead");
        }
        let state = Arc::new(Self {
            flow,
            scheduler,
            shell,
            triggers: Mutex::default(),
            runner_lock: Mutex::default(),
            webhook_port: port,
            stop: CancellationToken::new(),
            open_run: Mutex::default(),
            drafting: Latest::default(),
            rehearsing: Latest::default(),
        });
        tracing::info!(data_dir = %state.flow.data_dir().display(), "Flowpilot opened");
        let me = state.clone();
        tauri::async_runtime::spawn(async move { me.run_when_free().await });
        Ok(state)
    }

    /// Become the process that runs the schedules and triggers as soon as no
    /// other one does; then start them.
    async fn run_when_free(self: Arc<Self>) {
        let mut told = false;
        loop {
            match self.flow.claim_runner(RUNNER_NAME) {
                Ok(lock) => {
                    self.start_background(lock).await;
                    return;
                }
                Err(ClaimError::Held { holder, .. }) => {
                    if !told {
                        tracing::warn!(
                            "schedules and triggers run in {holder}; this app only shows plans and runs until it stops"
                        );
                        self.shell.all_schedules_changed();
                        told = true;
                    }
                }
                Err(e) => {
                    tracing::error!("schedules and triggers cannot start: {e}");
                    return;
                }
            }
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep(TAKE_OVER_EVERY) => {}
            }
        }
    }

    async fn start_background(&self, lock: RunnerLock) {
        tauri::async_runtime::spawn(self.scheduler.clone().run(self.stop.child_token()));
        // Retention by the settings after start and daily, and other upkeep.
        tauri::async_runtime::spawn(Maintenance::new(self.flow.clone()).run(self.stop.child_token()));
        let runner = TriggerRunner::new(
            self.flow.clone(),
            self.scheduler.clone(),
            lock.holder(),
            self.webhook_port,
        );
        *self.runner_lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(lock);
        *self.triggers.lock().unwrap_or_else(|e| e.into_inner()) = Some(runner.clone());
        runner.start().await;
        if self.stop.is_cancelled() {
            runner.stop_accepting();
        }
        tracing::info!("scheduler started; triggers started");
    }

    /// The trigger runner, when this app runs the triggers.
    pub fn triggers(&self) -> Option<Arc<TriggerRunner>> {
        self.triggers.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Who runs the schedules and triggers when this app does not.
    pub fn runner_elsewhere(&self) -> Option<String> {
        if self.runner_lock.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return None;
        }
        self.flow.runner_holder()
    }

    /// Stop the scheduler, maintenance and trigger loops (runs in progress go
    /// on; see the shutdown that cancels them).
    pub fn shutdown(&self) {
        self.stop.cancel();
        if let Some(runner) = self.triggers() {
            runner.stop_accepting();
        }
    }

    /// Every plan's trigger with its status; who watches them when this app does not.
    pub fn trigger_statuses(&self) -> Result<Vec<TriggerStatus>, ApiError> {
        match self.triggers() {
            Some(runner) => runner.statuses(),
            None => self.flow.trigger_statuses(None, &self.webhook_base_url()),
        }
    }

    pub fn trigger_status(&self, plan_id: &str) -> Result<TriggerStatus, ApiError> {
        match self.triggers() {
            Some(runner) => runner.status(plan_id),
            None => self.flow.trigger_status(plan_id, None, &self.webhook_base_url()),
        }
    }

    /// The webhook server's state; when another process runs it, what the settings say.
    pub fn webhook_server(&self) -> WebhookServerStatus {
        if let Some(runner) = self.triggers() {
            return runner.webhook_server();
        }
        let settings = self.flow.settings().unwrap_or_default().webhooks;
        let error = match self.flow.runner_holder() {
            Some(holder) => format!("Webhooks are received by {holder}, not by this app."),
            None => "The webhook server has not started yet.".to_string(),
        };
        WebhookServerStatus {
            listening: false,
            address: format!("{}:{}", settings.bind_address, settings.port),
            base_url: self.webhook_base_url(),
            error: Some(error),
            exposure: settings.exposure(),
        }
    }

    fn webhook_base_url(&self) -> String {
        if let Some(runner) = self.triggers() {
            return runner.webhook_server().base_url;
        }
        if self.flow.runner_holder().is_some()
            && let Ok(Some(live)) = self.flow.runtime_value(flowpilot_core::triggers::LIVE_BASE_URL)
        {
            return live;
        }
        let settings = self.flow.settings().unwrap_or_default().webhooks;
        webhook::base_url(&settings, settings.port)
    }

    /// A new URL for a webhook plan; the old one stops working at once.
    pub fn regenerate_webhook_url(&self, plan_id: &str) -> Result<String, ApiError> {
        match self.triggers() {
            Some(runner) => runner.regenerate_webhook_url(plan_id),
            None => self.flow.regenerate_webhook_url(plan_id, &self.webhook_base_url()),
        }
    }

    /// The trigger runner, or why this app has none.
    pub fn require_triggers(&self) -> Result<Arc<TriggerRunner>, ApiError> {
        self.triggers().ok_or_else(|| {
            ApiError::BadInput(match self.flow.runner_holder() {
                Some(holder) => format!("triggers run in {holder}, not in this app"),
                None => "the triggers have not started yet".to_string(),
            })
        })
    }

    /// The app is quitting (Quit, SIGTERM): no new fires, the runs in progress
    /// cancelled and recorded `cancelled`; waits for that at most `limit`.
    pub async fn stop_runs(&self, limit: std::time::Duration) -> bool {
        self.shutdown();
        let cancelled = self.flow.cancel_all_runs();
        let ended = self.flow.wait_for_runs(limit).await;
        if cancelled > 0 {
            tracing::info!(cancelled, all_recorded = ended, "runs in progress cancelled at quit");
        }
        ended
    }

    pub fn observer(&self) -> Arc<dyn RunObserver> {
        Arc::new(ToShell(self.shell.clone()))
    }

    /// Run a stored plan now; its id at once, progress as events. Must be called on
    /// the async runtime (the run is spawned there).
    pub fn start_run(&self, plan_id: &str) -> Result<String, ApiError> {
        let run_id = self.scheduler.start_manual_run(plan_id)?;
        tracing::info!(plan = plan_id, run = %run_id, "manual run started");
        Ok(run_id)
    }

    /// Replay a run from a step (see [`Flowpilot::prepare_replay`]); the new run's
    /// id at once, progress as events. Must be called on the async runtime.
    pub fn start_replay(&self, run_id: &str, from_step: Option<usize>) -> Result<String, ApiError> {
        let new_run = self.scheduler.start_replay(run_id, from_step)?;
        tracing::info!(replayed = run_id, run = %new_run, "replay started");
        Ok(new_run)
    }

    /// A plan was created, saved or deleted: the scheduler and the triggers look
    /// again, the UI and tray reload.
    pub fn plan_changed(&self, plan_id: &str) {
        self.scheduler.wake();
        if let Some(runner) = self.triggers() {
            runner.wake();
        }
        self.shell.schedule_changed(plan_id);
    }

    pub fn set_all_paused(&self, paused: bool) {
        if paused {
            self.scheduler.pause_all();
        } else {
            self.scheduler.resume_all();
        }
        tracing::info!(paused, "all schedules");
        self.shell.all_schedules_changed();
    }

    pub fn scheduler_state(&self) -> Result<SchedulerState, ApiError> {
        let jobs = self.scheduler.jobs()?;
        let running = jobs.iter().filter(|j| j.active && !j.paused).count();
        Ok(SchedulerState {
            paused: self.scheduler.is_paused(),
            scheduled_plans: u32::try_from(jobs.len()).unwrap_or(u32::MAX),
            running_schedules: u32::try_from(running).unwrap_or(u32::MAX),
            runs_elsewhere: self.runner_elsewhere(),
        })
    }

    /// Blocks on the keychain: call it off the async runtime's workers.
    pub fn health(&self) -> Result<Health, ApiError> {
        Ok(Health::new(self.flow.health(), self.scheduler_state()?))
    }

    /// Store the settings, and register or remove the start-at-login entry if that changed.
    pub fn set_settings(&self, settings: Settings) -> Result<Settings, IpcError> {
        let before = self.flow.settings()?;
        self.flow.set_settings(&settings)?;
        if before.concurrency != settings.concurrency {
            self.scheduler.set_concurrency(settings.concurrency);
        }
        if before.webhooks != settings.webhooks
            && let Some(runner) = self.triggers()
        {
            tauri::async_runtime::spawn(async move {
                runner.restart_webhook_server().await;
            });
        }
        if before.start_at_login != settings.start_at_login {
            self.shell
                .set_autostart(settings.start_at_login)
                .map_err(IpcError::internal)?;
        }
        Ok(settings)
    }

    /// Active plans, for the tray's "Run plan" menu.
    pub fn runnable_plans(&self) -> Result<Vec<(String, String)>, ApiError> {
        Ok(self
            .flow
            .list_plans()?
            .into_iter()
            .filter(|p| p.status == PlanStatus::Active)
            .map(|p| (p.id, p.name))
            .collect())
    }

    /// Import a plan file the person picks, not active whatever it says (the
    /// person reviews it, then activates it); None if they cancelled.
    pub async fn import_plan(&self) -> Result<Option<PlanRow>, IpcError> {
        let Some(path) = self.shell.pick_plan_file().await.ok().flatten() else {
            return Ok(None);
        };
        let row = self.flow.import_plan_file(&path, Activation::Review)?;
        tracing::info!(plan = %row.id, version = row.version, "plan imported");
        self.plan_changed(&row.id);
        Ok(Some(row))
    }

    /// Store plan text (read in the page), not active whatever it says.
    pub fn import_plan_text(&self, text: &str) -> Result<PlanRow, IpcError> {
        let row = self.flow.import_plan(text, Activation::Review)?;
        tracing::info!(plan = %row.id, version = row.version, "plan imported for review");
        self.plan_changed(&row.id);
        Ok(row)
    }

    /// Activate a reviewed plan; the scheduler picks it up at once.
    pub fn activate_plan(&self, plan_id: &str) -> Result<PlanRow, IpcError> {
        let row = self.flow.activate_plan(plan_id)?;
        tracing::info!(plan = %row.id, version = row.version, "plan activated");
        self.plan_changed(plan_id);
        Ok(row)
    }

    /// Export a plan where the person picks; the path, or None if they cancelled.
    pub async fn export_plan(&self, plan_id: &str) -> Result<Option<PathBuf>, IpcError> {
        let name = self.flow.stored_plan(plan_id)?.plan.name;
        let Some(path) = self.shell.pick_export_path(file_name(&name)).await.ok().flatten() else {
            return Ok(None);
        };
        self.flow.export_plan_to(plan_id, &path)?;
        Ok(Some(path))
    }

    /// Import an integration definition file the person picks; None if they cancelled.
    pub async fn import_integration(&self, replace: bool) -> Result<Option<IntegrationDefinition>, IpcError> {
        let Some(path) = self.shell.pick_integration_file().await.ok().flatten() else {
            return Ok(None);
        };
        Ok(Some(self.flow.import_integration_file(&path, replace)?))
    }

    /// Export an integration's definition where the person picks; the path, or None.
    pub async fn export_integration(&self, name: &str) -> Result<Option<PathBuf>, IpcError> {
        let suggested = format!("{name}.integration.json");
        let Some(path) = self.shell.pick_integration_export_path(suggested).await.ok().flatten() else {
            return Ok(None);
        };
        self.flow.export_integration_to(name, &path)?;
        Ok(Some(path))
    }

    /// Begin connecting an OAuth 2.0 integration and open its authorization page
    /// in the browser; finish with [`Flowpilot::finish_oauth_connect`].
    pub async fn start_oauth_connect(&self, name: &str) -> Result<OAuthStart, IpcError> {
        let start = self.flow.start_oauth_connect(name).await?;
        if let Err(e) = self.shell.open_url(&start.authorize_url) {
            tracing::warn!("could not open the browser: {e}");
        }
        Ok(start)
    }

    /// Draft a plan from a sentence (see [`Flowpilot::draft_plan`]); a draft asked
    /// for before this one is cancelled.
    pub async fn draft_plan(&self, request: DraftRequest) -> Result<Draft, ApiError> {
        let job = self.drafting.begin();
        let drafted = self.flow.draft_plan_with_cancel(request, job.1.clone()).await;
        self.drafting.end(&job);
        if let Ok(d) = &drafted {
            tracing::info!(
                valid = d.valid,
                attempts = d.attempts,
                steps = d.plain_english_steps.len(),
                "plan drafted"
            );
        }
        drafted
    }

    pub fn cancel_draft(&self) -> bool {
        self.drafting.cancel()
    }

    /// Rehearse a plan without its side effects (see [`Flowpilot::dry_run`]).
    pub async fn dry_run(&self, plan: PlanFile) -> Result<RunOutcome, ApiError> {
        let job = self.rehearsing.begin();
        let outcome = self
            .flow
            .dry_run_observed(plan, Arc::new(NoObserver), job.1.clone())
            .await;
        self.rehearsing.end(&job);
        outcome
    }

    pub fn cancel_dry_run(&self) -> bool {
        self.rehearsing.cancel()
    }

    pub fn request_open_run(&self, run_id: &str) {
        *self.open_run.lock().unwrap_or_else(|e| e.into_inner()) = Some(run_id.to_string());
    }

    pub fn take_open_run(&self) -> Option<String> {
        self.open_run.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A file name for a plan: its name without characters file systems refuse.
fn file_name(plan_name: &str) -> String {
    let stem: String = plan_name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches(|c: char| c == '.' || c.is_whitespace());
    format!("{}.json", if stem.is_empty() { "plan" } else { stem })
}

/// Managed Tauri state: the opened app, or why it could not open.
pub struct Backend(Result<Arc<AppState>, IpcError>);

impl Backend {
    pub fn new(opened: Result<Arc<AppState>, ApiError>) -> Self {
        Self(opened.map_err(IpcError::from))
    }

    pub fn get(&self) -> Result<Arc<AppState>, IpcError> {
        self.0.clone()
    }
}
