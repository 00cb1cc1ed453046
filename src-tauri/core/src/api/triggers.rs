//! Event triggers through the facade: every plan's trigger status (also for a
//! process that does not run them, such as `flowpilot-cli triggers list` while
//! `serve` runs), webhook URLs and regenerating them, samples fetched without
//! moving any cursor, "test this step" with a sample, who runs the triggers,
//! and what the trigger runner keeps in the store.

use super::{ApiError, Flowpilot, Result};
use crate::runner_lock::{self, ClaimError, RunnerLock};
use crate::store::{CheckCommit, MissReason, NewEvent, Queued, QueuedEvent, TriggerState};
use crate::triggers::status::{TriggerHealth, TriggerSample, TriggerStatus};
use crate::triggers::{email, feed, poll, telegram, webhook};
use chrono::{DateTime, Utc};
use flowpilot_engine::Sensitive;
use flowpilot_engine::StepRecord;
use flowpilot_engine::http_client::HttpClient;
use flowpilot_engine::plan::{PlanStatus, StepSpec, Trigger};
use flowpilot_engine::references::Scope;
use flowpilot_engine::registry::CredentialSource;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// How many items a sample holds.
pub const SAMPLE_SIZE: usize = 5;

impl Flowpilot {
    /// The status of every plan's event or schedule trigger (manual plans left
    /// out). `watched_by` is who runs the triggers (this process's runner, or
    /// the lock holder's name); `base_url` what webhook URLs start with.
    pub fn trigger_statuses(&self, watched_by: Option<&str>, base_url: &str) -> Result<Vec<TriggerStatus>> {
        let holder = watched_by
            .map(str::to_string)
            .or_else(|| runner_lock::holder(&self.data_dir));
        let states = self.store.trigger_states()?;
        let mut out = Vec::new();
        for p in self.list_plans()? {
            if p.trigger == Trigger::Manual {
                continue;
            }
            out.push(self.status_of(&p, holder.as_deref(), base_url, &states)?);
        }
        Ok(out)
    }

    /// One plan's trigger status.
    pub fn trigger_status(&self, plan_id: &str, watched_by: Option<&str>, base_url: &str) -> Result<TriggerStatus> {
        let holder = watched_by
            .map(str::to_string)
            .or_else(|| runner_lock::holder(&self.data_dir));
        let states = self.store.trigger_states()?;
        let summary = self
            .list_plans()?
            .into_iter()
            .find(|p| p.id == plan_id)
            .ok_or_else(|| ApiError::NotFound {
                what: "plan",
                key: plan_id.to_string(),
            })?;
        self.status_of(&summary, holder.as_deref(), base_url, &states)
    }

    fn status_of(
        &self,
        p: &crate::store::PlanSummary,
        holder: Option<&str>,
        base_url: &str,
        states: &[TriggerState],
    ) -> Result<TriggerStatus> {
        let health = if p.status != PlanStatus::Active {
            TriggerHealth::Inactive
        } else if holder.is_some() {
            TriggerHealth::Watching
        } else {
            TriggerHealth::NotRunning
        };
        let webhook_url = match &p.trigger {
            Trigger::Webhook(_) => Some(self.webhook_url(&p.id, base_url)?),
            _ => None,
        };
        let state = states
            .iter()
            .find(|s| s.plan_id == p.id && p.trigger.is_polling() && s.source == source_key(&p.trigger));
        let mut status = TriggerStatus {
            plan_id: p.id.clone(),
            plan_name: p.name.clone(),
            kind: p.trigger.kind().to_string(),
            description: p.trigger_description.clone(),
            health,
            watched_by: holder.map(str::to_string),
            last_check_at: None,
            last_item_at: None,
            last_error: None,
            last_error_at: None,
            failures: 0,
            next_check_at: None,
            note: None,
            queued: self.store.queued_count(&p.id)?,
            webhook_url,
        }
        .with_state(state);
        if matches!(p.trigger, Trigger::Webhook(_) | Trigger::Cron(_)) {
            status.last_item_at = p.last_run_at;
        }
        Ok(status)
    }

    /// A webhook plan's URL: `<base>/hooks/<token>`; the token is made the first time.
    pub fn webhook_url(&self, plan_id: &str, base_url: &str) -> Result<String> {
        let token = self
            .store
            .webhook_token(plan_id, webhook::new_token, self.clock.now())?;
        Ok(format!("{}/hooks/{token}", base_url.trim_end_matches('/')))
    }

    /// Give a plan a new webhook URL; the old one answers 404 from now on.
    pub fn regenerate_webhook_url(&self, plan_id: &str, base_url: &str) -> Result<String> {
        self.store.get_plan(plan_id)?;
        let token = webhook::new_token();
        self.store.replace_webhook_token(plan_id, &token, self.clock.now())?;
        Ok(format!("{}/hooks/{token}", base_url.trim_end_matches('/')))
    }

    /// Who runs the schedules and triggers of this data folder now, if anyone.
    pub fn runner_holder(&self) -> Option<String> {
        runner_lock::holder(&self.data_dir)
    }

    /// Become the process that runs the schedules and triggers (`who`: how it is
    /// named to others); refused, naming the holder, while another process is.
    pub fn claim_runner(&self, who: &str) -> std::result::Result<RunnerLock, ClaimError> {
        runner_lock::claim(&self.data_dir, who)
    }

    /// The newest items of a trigger's source, as runs would see them, fetched
    /// without moving any cursor (nothing is marked read, no update confirmed).
    /// A webhook has none to fetch: listen for a test event instead.
    pub async fn fetch_trigger_sample(&self, trigger: &Trigger) -> Result<TriggerSample> {
        let credentials = self.credential_source();
        let http = HttpClient::default();
        let kind = trigger.kind();
        let fetched = match trigger {
            Trigger::Email(t) => email::sample(t, credentials.as_ref(), SAMPLE_SIZE).await,
            Trigger::Feed(t) => feed::sample(t, &http, SAMPLE_SIZE).await,
            Trigger::Telegram(t) => telegram::sample(t, credentials.as_ref(), &http, SAMPLE_SIZE).await,
            Trigger::Poll(t) => poll::sample(t, credentials.clone(), &http, SAMPLE_SIZE).await,
            Trigger::Webhook(_) => {
                return Ok(TriggerSample {
                    events: Vec::new(),
                    note: Some("A webhook has nothing to fetch: listen for a test event and call the URL.".into()),
                });
            }
            Trigger::Manual | Trigger::Cron(_) => {
                return Ok(TriggerSample {
                    events: vec![json!({"type": kind, "at": self.clock.now()})],
                    note: None,
                });
            }
        };
        let items = fetched.map_err(|e| ApiError::BadInput(e.message))?;
        let note = items
            .is_empty()
            .then(|| "The source has nothing in it yet.".to_string());
        Ok(TriggerSample {
            events: items
                .into_iter()
                .map(|item| json!({"type": kind, "item": item}))
                .collect(),
            note,
        })
    }

    /// [`Flowpilot::execute_step`] with `${trigger}` set to a sample (from
    /// [`Flowpilot::fetch_trigger_sample`] or a test event).
    pub async fn execute_step_with_trigger(
        &self,
        step: StepSpec,
        previous: Vec<(Option<String>, Value)>,
        trigger: Option<Value>,
    ) -> Result<StepRecord> {
        let Some(trigger) = trigger else {
            return self.execute_step(step, previous).await;
        };
        let earlier: Vec<Option<String>> = previous.iter().map(|(id, _)| id.clone()).collect();
        let plan = super::plans::check_step_after(&step, &earlier, &self.registry())?;
        let mut scope = Scope::new(json!({"name": "step test"}), json!({"id": "test"}), trigger);
        for (id, v) in previous {
            let result = match v {
                Value::Object(ref m) if m.contains_key("output") => v,
                other => json!({"success": true, "output": other, "message": "", "metadata": {}}),
            };
            scope.push_step(id, result);
        }
        let checked = plan
            .checked_step(earlier.len())
            .ok_or_else(|| ApiError::Internal("the tested step was not checked".into()))?;
        Ok(self
            .executor
            .run_single_step("test", &step, checked, &scope, CancellationToken::new())
            .await)
    }

    /// Where credentials come from (the keychain), for the triggers' sources.
    pub fn credential_source(&self) -> Arc<dyn CredentialSource> {
        Arc::new(crate::secrets::KeychainCredentials {
            keychain: self.keychain.clone(),
            store: self.store.clone(),
        })
    }

    /// A stored credential's value (off the async runtime's threads).
    pub async fn read_credential(&self, provider: &str, name: &str) -> Result<Option<Sensitive<String>>> {
        self.credential_source()
            .get(provider, name)
            .await
            .map_err(|e| ApiError::BadInput(e.to_string()))
    }

    /// A value the running process publishes for others (the webhook server's address).
    pub fn runtime_value(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .store
            .get_setting(key)?
            .and_then(|v| v.as_str().map(str::to_string)))
    }

    pub fn set_runtime_value(&self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self.store.set_setting(key, &Value::String(v.to_string()))?,
            None => {
                self.store.delete_setting(key)?;
            }
        }
        Ok(())
    }

    // ---- what the trigger runner keeps in the store ----

    pub(crate) fn trigger_state(&self, plan_id: &str) -> Result<Option<TriggerState>> {
        Ok(self.store.trigger_state(plan_id)?)
    }

    pub(crate) fn save_trigger_state(&self, state: &TriggerState) -> Result<()> {
        Ok(self.store.save_trigger_state(state)?)
    }

    pub(crate) fn seen_keys(&self, plan_id: &str, keys: &[String]) -> Result<Vec<bool>> {
        Ok(self.store.seen_keys(plan_id, keys)?)
    }

    pub(crate) fn commit_check(&self, commit: &CheckCommit) -> Result<()> {
        Ok(self.store.commit_check(commit)?)
    }

    pub(crate) fn queued_events(&self, limit: usize) -> Result<Vec<QueuedEvent>> {
        Ok(self.store.queued_events(limit)?)
    }

    pub(crate) fn drop_queued_event(&self, run_id: &str) -> Result<bool> {
        Ok(self.store.drop_event(run_id)?)
    }

    pub(crate) fn record_missed_event(&self, plan_id: &str, reason: MissReason, at: DateTime<Utc>) -> Result<()> {
        Ok(self.store.record_missed_fires(plan_id, at, reason, 1, at)?)
    }

    pub(crate) fn plan_for_webhook_token(&self, token: &str) -> Result<Option<String>> {
        Ok(self.store.plan_for_webhook_token(token)?)
    }

    pub(crate) fn queue_delivery(&self, plan_id: &str, key: Option<&str>, event: &NewEvent) -> Result<Queued> {
        Ok(self.store.queue_delivery(plan_id, key, event)?)
    }

    /// Start the trigger of `plan_id` over: its next check is a baseline.
    pub fn reset_trigger(&self, plan_id: &str) -> Result<()> {
        Ok(self.store.reset_trigger(plan_id)?)
    }
}

/// Where a polling trigger reads (a change of source starts over).
pub fn source_key(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Email(t) => email::source_key(t),
        Trigger::Feed(t) => feed::source_key(t),
        Trigger::Telegram(t) => telegram::source_key(t),
        Trigger::Poll(t) => poll::source_key(t),
        other => other.kind().to_string(),
    }
}
