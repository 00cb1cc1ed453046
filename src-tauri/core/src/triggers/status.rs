//! A trigger's status as the plan list, the editor and `triggers list` show it:
//! watching or not and why, the last check, the last new item, the last error,
//! the next check, and for a webhook its URL.

use crate::store::TriggerState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a trigger stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum TriggerHealth {
    /// Its source is watched (or, for a webhook, its URL answers).
    Watching,
    /// Watched, but its last checks failed (see `last_error`; it retries with backoff).
    Failing,
    /// The plan is not active (a draft or archived): nothing starts it.
    Inactive,
    /// No Flowpilot process runs the triggers now (neither the tray app nor `serve`).
    NotRunning,
}

/// One plan's trigger and how it is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct TriggerStatus {
    pub plan_id: String,
    pub plan_name: String,
    /// The trigger's type: `webhook`, `email`, `feed`, `telegram`, `poll` (or `cron`).
    pub kind: String,
    /// The trigger in words: "When an email with “invoice” arrives in INBOX of me@example.com".
    pub description: String,
    pub health: TriggerHealth,
    /// The process that watches it, when one does: "flowpilot-cli serve (pid 4242) since …".
    pub watched_by: Option<String>,
    pub last_check_at: Option<DateTime<Utc>>,
    /// When the last new item (or call) came.
    pub last_item_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Checks that failed in a row.
    pub failures: u32,
    pub next_check_at: Option<DateTime<Utc>>,
    /// Something worth knowing: what the baseline recorded, a mailbox the server reset.
    pub note: Option<String>,
    /// Events that wait for their run (the concurrency limit, or one run at a time).
    pub queued: u64,
    /// A webhook's URL (with the public base URL when one is set).
    pub webhook_url: Option<String>,
}

impl TriggerStatus {
    /// Fill in what the stored state says.
    pub(crate) fn with_state(mut self, state: Option<&TriggerState>) -> Self {
        if let Some(s) = state {
            self.last_check_at = s.last_check_at;
            self.last_item_at = s.last_item_at;
            self.last_error = s.last_error.clone();
            self.last_error_at = s.last_error_at;
            self.failures = s.failures;
            self.next_check_at = s.next_check_at;
            self.note = s.note.clone();
            if self.health == TriggerHealth::Watching && s.failures > 0 {
                self.health = TriggerHealth::Failing;
            }
        }
        self
    }
}

/// What an explicit "check now" did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CheckReport {
    /// The check recorded what was there and ran nothing (or only `run_existing` items).
    pub baseline: bool,
    /// Runs it queued.
    pub new_items: u32,
    /// New items that did not match the trigger's filter.
    pub passed_over: u32,
    /// More new items wait for the next check (at most 20 per check).
    pub more_waiting: bool,
    pub error: Option<String>,
    pub note: Option<String>,
}

/// The newest items of a source, as runs would see them under `${trigger}`,
/// fetched without moving anything ("Fetch a sample", "Listen for a test event").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct TriggerSample {
    /// Newest first: each is what `${trigger}` would be (`type`, `item` or `payload`, `headers`, `query`).
    pub events: Vec<serde_json::Value>,
    pub note: Option<String>,
}

/// The webhook server: where it listens, and why not when it does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct WebhookServerStatus {
    /// It accepts calls now.
    pub listening: bool,
    /// `127.0.0.1:8737`.
    pub address: String,
    /// What the plans' URLs start with (`http://127.0.0.1:8737`, or the public base URL).
    pub base_url: String,
    /// Why it does not listen (the port is in use), in words.
    pub error: Option<String>,
    /// What listening beyond this computer exposes, when the settings ask for it.
    pub exposure: Option<String>,
}
