//! Event triggers: plans that start themselves when a webhook is called, an
//! email arrives, a feed or a JSON API has a new item, or a Telegram bot gets a
//! message. Exactly one run per new event, nothing on activation (a baseline),
//! never silent (a status per trigger, backoff, notices), and nothing lost or
//! repeated by a crash (cursors move with the events they found, see `store::triggers`).
//!
//! - [`TriggerRunner`]: runs them in the process that runs the schedules (the tray
//!   app or `flowpilot-cli serve`): a [`watch::Watcher`] per active polling
//!   trigger, the [`webhook`] server, and the [`dispatch::Dispatcher`] that turns
//!   queued events into runs;
//! - [`source`]: what a polling trigger is to its watcher; [`email`] (with
//!   [`imap`]), [`feed`], [`telegram`], [`poll`]: the sources;
//! - [`status`]: what the UI and the CLI show.

pub mod dispatch;
pub mod email;
pub mod feed;
pub mod imap;
pub mod poll;
pub mod source;
pub mod status;
pub mod telegram;
pub mod watch;
pub mod webhook;

pub use status::{CheckReport, TriggerHealth, TriggerSample, TriggerStatus, WebhookServerStatus};

use crate::api::{ApiError, Flowpilot};
use crate::notices::{Notice, NoticeKind};
use crate::scheduler::Scheduler;
use dispatch::Dispatcher;
use flowpilot_engine::http_client::HttpClient;
use flowpilot_engine::plan::{PlanStatus, Trigger};
use source::Source;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use watch::{Command, Watcher};
use webhook::WebhookServer;

/// Where the running webhook server's base URL is kept, for `triggers list` in another process.
pub const LIVE_BASE_URL: &str = "runner.webhook_base_url";

/// How often the runner looks at the plans even when nothing told it they changed.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the runner's parts share.
pub struct Shared {
    pub app: Arc<Flowpilot>,
    pub scheduler: Arc<Scheduler>,
    pub dispatcher: Arc<Dispatcher>,
    /// This process, as its status names it ("flowpilot-cli serve (pid …) since …").
    pub holder: String,
    base_url: Mutex<String>,
    http: HttpClient,
}

impl Shared {
    /// What webhook URLs start with now.
    pub fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }

    /// Tell the UI a plan's trigger status changed.
    pub fn tell(&self, plan_id: &str) {
        match self.app.trigger_status(plan_id, Some(&self.holder), &self.base_url()) {
            Ok(status) => self.scheduler.sink().trigger_changed(&status),
            Err(e) => tracing::debug!(plan = plan_id, "no trigger status: {e}"),
        }
    }
}

struct WatcherHandle {
    /// The plan version and trigger it watches: another one restarts it.
    key: String,
    commands: mpsc::Sender<Command>,
    cancel: CancellationToken,
}

/// Runs every active plan's event trigger in this process.
pub struct TriggerRunner {
    shared: Arc<Shared>,
    server: Mutex<Arc<WebhookServer>>,
    watchers: Mutex<HashMap<String, WatcherHandle>>,
    wake: Notify,
    /// `--port`: wins over the settings.
    port: Option<u16>,
    stop: CancellationToken,
}

impl std::fmt::Debug for TriggerRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerRunner")
            .field("holder", &self.shared.holder)
            .finish_non_exhaustive()
    }
}

impl TriggerRunner {
    /// A runner for `app` sharing the scheduler's concurrency limit, notices and
    /// sink. `holder` names this process in statuses; `port` overrides the settings.
    pub fn new(app: Arc<Flowpilot>, scheduler: Arc<Scheduler>, holder: &str, port: Option<u16>) -> Arc<Self> {
        let settings = app.settings().unwrap_or_default().webhooks;
        let port_now = port.unwrap_or(settings.port);
        let server = WebhookServer::new(&settings, port_now);
        let dispatcher = Dispatcher::new(app.clone(), scheduler.clone());
        Arc::new(Self {
            shared: Arc::new(Shared {
                app,
                scheduler,
                dispatcher,
                holder: holder.to_string(),
                base_url: Mutex::new(server.status().base_url),
                http: HttpClient::default(),
            }),
            server: Mutex::new(server),
            watchers: Mutex::default(),
            wake: Notify::new(),
            port,
            stop: CancellationToken::new(),
        })
    }

    pub fn app(&self) -> &Arc<Flowpilot> {
        &self.shared.app
    }

    /// Start everything: the queue's dispatcher, the watchers, the webhook
    /// server. Returns once the server has bound its port (or failed to: that is
    /// in the status, not an error). Stops with [`TriggerRunner::stop_accepting`].
    pub async fn start(self: &Arc<Self>) -> WebhookServerStatus {
        tokio::spawn(self.shared.dispatcher.clone().run(self.stop.child_token()));
        let status = self.start_server().await;
        let me = self.clone();
        tokio::spawn(async move { me.reconcile_loop().await });
        status
    }

    async fn start_server(&self) -> WebhookServerStatus {
        let settings = self.shared.app.settings().unwrap_or_default().webhooks;
        let port = self.port.unwrap_or(settings.port);
        let server = WebhookServer::new(&settings, port);
        let status = server.start(self.shared.clone(), &settings, port).await;
        *lock(&self.shared.base_url) = status.base_url.clone();
        let live = status.listening.then_some(status.base_url.as_str());
        if let Err(e) = self.shared.app.set_runtime_value(LIVE_BASE_URL, live) {
            tracing::warn!("cannot record the webhook server's address: {e}");
        }
        let before = std::mem::replace(&mut *lock(&self.server), server);
        before.stop();
        let sink = self.shared.scheduler.sink();
        sink.webhook_server_changed(&status);
        if let Some(error) = &status.error {
            sink.notice(Notice {
                kind: NoticeKind::WebhookServer,
                title: "Webhooks are not received".into(),
                body: error.clone(),
                plan_id: None,
                run_id: None,
            });
        }
        status
    }

    /// Start the webhook server again (its port or address changed in the settings).
    pub async fn restart_webhook_server(&self) -> WebhookServerStatus {
        if self.stop.is_cancelled() {
            return self.webhook_server();
        }
        lock(&self.server).stop();
        self.start_server().await
    }

    pub fn webhook_server(&self) -> WebhookServerStatus {
        lock(&self.server).status()
    }

    /// Look at the plans again now (one was created, saved, activated or deleted).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn reconcile_loop(self: Arc<Self>) {
        loop {
            self.reconcile();
            tokio::select! {
                _ = self.stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
            }
        }
        for (_, handle) in lock(&self.watchers).drain() {
            handle.cancel.cancel();
        }
    }

    /// Watch every active polling trigger, as it is now; stop the rest.
    fn reconcile(&self) {
        // Held from reading the plans to starting and stopping watchers, so two
        // reconciles (the loop's and a check's) never act on plans read at different times.
        let mut watchers = lock(&self.watchers);
        let plans = match self.shared.app.list_plans() {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("cannot list the plans to watch their triggers: {e}");
                return;
            }
        };
        let mut wanted: HashMap<String, (String, String, Trigger)> = HashMap::new();
        for p in plans {
            if p.status == PlanStatus::Active && p.trigger.is_polling() {
                let key = format!(
                    "{}:{}",
                    p.version,
                    serde_json::to_string(&p.trigger).unwrap_or_default()
                );
                wanted.insert(p.id.clone(), (key, p.name, p.trigger));
            }
        }
        watchers.retain(|plan_id, handle| {
            let keep = wanted.get(plan_id).is_some_and(|(key, _, _)| *key == handle.key);
            if !keep {
                handle.cancel.cancel();
                tracing::info!(plan = %plan_id, "stopped watching its trigger");
            }
            keep
        });
        for (plan_id, (key, name, trigger)) in wanted {
            if watchers.contains_key(&plan_id) {
                continue;
            }
            let Some(source) = self.source(&trigger) else { continue };
            let (tx, rx) = mpsc::channel(8);
            let cancel = self.stop.child_token();
            let watcher = Watcher {
                plan_id: plan_id.clone(),
                plan_name: name,
                source_key: crate::api::triggers::source_key(&trigger),
                trigger,
                source,
                shared: self.shared.clone(),
            };
            tracing::info!(plan = %plan_id, "watching its trigger");
            tokio::spawn(watcher.run(rx, cancel.clone()));
            watchers.insert(
                plan_id,
                WatcherHandle {
                    key,
                    commands: tx,
                    cancel,
                },
            );
        }
    }

    fn source(&self, trigger: &Trigger) -> Option<Box<dyn Source>> {
        let credentials = self.shared.app.credential_source();
        let http = self.shared.http.clone();
        Some(match trigger {
            Trigger::Email(t) => Box::new(email::EmailSource::new(t.clone(), credentials)),
            Trigger::Feed(t) => Box::new(feed::FeedSource::new(t.clone(), http)),
            Trigger::Telegram(t) => Box::new(telegram::TelegramSource::new(t.clone(), credentials, http)),
            Trigger::Poll(t) => Box::new(poll::PollSource::new(t.clone(), credentials, http)),
            Trigger::Manual | Trigger::Cron(_) | Trigger::Webhook(_) => return None,
        })
    }

    /// Check a plan's trigger now and say what it found. Refused for a plan
    /// that is not active or whose trigger is not a polling one.
    pub async fn check_now(&self, plan_id: &str) -> Result<CheckReport, ApiError> {
        // A plan just activated may not be watched yet.
        self.reconcile();
        let commands = lock(&self.watchers).get(plan_id).map(|h| h.commands.clone());
        let Some(commands) = commands else {
            let row = self.shared.app.stored_plan(plan_id)?;
            return Err(ApiError::BadInput(if row.plan.status != PlanStatus::Active {
                format!(
                    "plan `{}` is not active: activate it to watch its trigger",
                    row.plan.name
                )
            } else {
                format!(
                    "plan `{}` has no trigger to check (a {} trigger)",
                    row.plan.name,
                    row.plan.trigger.kind()
                )
            }));
        };
        let (tx, rx) = oneshot::channel();
        commands
            .send(Command::CheckNow(tx))
            .await
            .map_err(|_| ApiError::Internal("the trigger's watcher stopped".into()))?;
        rx.await
            .map_err(|_| ApiError::Internal("the trigger's watcher stopped".into()))
    }

    /// Every plan's trigger status, as this runner sees it.
    pub fn statuses(&self) -> Result<Vec<TriggerStatus>, ApiError> {
        self.shared
            .app
            .trigger_statuses(Some(&self.shared.holder), &self.shared.base_url())
    }

    pub fn status(&self, plan_id: &str) -> Result<TriggerStatus, ApiError> {
        self.shared
            .app
            .trigger_status(plan_id, Some(&self.shared.holder), &self.shared.base_url())
    }

    /// A webhook plan's URL with this runner's base.
    pub fn webhook_url(&self, plan_id: &str) -> Result<String, ApiError> {
        self.shared.app.webhook_url(plan_id, &self.shared.base_url())
    }

    /// A new URL for a webhook plan; the old one stops working at once.
    pub fn regenerate_webhook_url(&self, plan_id: &str) -> Result<String, ApiError> {
        let url = self
            .shared
            .app
            .regenerate_webhook_url(plan_id, &self.shared.base_url())?;
        self.shared.tell(plan_id);
        Ok(url)
    }

    /// Hand the next call to a webhook plan's URL (even a draft's) to the
    /// receiver instead of starting a run: what its run would see.
    pub fn listen(&self, plan_id: &str) -> Result<oneshot::Receiver<serde_json::Value>, ApiError> {
        let row = self.shared.app.stored_plan(plan_id)?;
        if !matches!(row.plan.trigger, Trigger::Webhook(_)) {
            return Err(ApiError::BadInput(format!(
                "plan `{}` is not started by a webhook",
                row.plan.name
            )));
        }
        let server = lock(&self.server).clone();
        let status = server.status();
        if !status.listening {
            return Err(ApiError::BadInput(status.error.unwrap_or_else(|| {
                "the webhook server is not running in this process".to_string()
            })));
        }
        Ok(server.listen(plan_id))
    }

    /// Wait (at most `limit`) for the next call to a webhook plan's URL and
    /// return what its run would see, starting no run. `None` when no call came.
    pub async fn listen_for_test_event(
        &self,
        plan_id: &str,
        limit: Duration,
    ) -> Result<Option<serde_json::Value>, ApiError> {
        let rx = self.listen(plan_id)?;
        let got = tokio::time::timeout(limit, rx).await;
        self.stop_listening(plan_id);
        Ok(got.ok().and_then(Result::ok))
    }

    /// Stop waiting for a test event of `plan_id`.
    pub fn stop_listening(&self, plan_id: &str) {
        lock(&self.server).stop_listening(plan_id);
    }

    /// Stop accepting events: the webhook server stops listening, the watchers
    /// stop, no queued event starts a run any more (they wait for the next start).
    /// Runs in progress go on.
    pub fn stop_accepting(&self) {
        lock(&self.server).stop();
        let _ = self.shared.app.set_runtime_value(LIVE_BASE_URL, None);
        self.shared.dispatcher.stop_accepting();
        self.stop.cancel();
        for (_, handle) in lock(&self.watchers).drain() {
            handle.cancel.cancel();
        }
    }
}
