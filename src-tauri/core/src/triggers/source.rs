//! What every polling trigger is to the loop that runs it ([`crate::triggers::watch`]):
//! a [`Source`] that looks for new items from a cursor and says what it found.

use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The most new items one check turns into runs; the rest wait for the next check.
pub const MAX_ITEMS_PER_CHECK: usize = 20;

/// One new item: what identifies it, and what its run sees as `${trigger.item}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: String,
    pub value: Value,
}

/// What one look at the source found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    /// The items to run for, oldest first (at most [`MAX_ITEMS_PER_CHECK`]).
    pub items: Vec<Item>,
    /// Ids to remember as seen (the items above, or at a baseline everything there).
    pub seen: Vec<String>,
    /// Forget the ids seen before (the source started over).
    pub forget_seen: bool,
    /// The position to look from next time.
    pub cursor: Value,
    /// New items beyond the limit wait: look again soon.
    pub more: bool,
    /// New items that did not match the trigger's filter (no run).
    pub passed_over: usize,
    /// Something to tell in the trigger's status (a baseline, a mailbox reset).
    pub note: Option<String>,
}

/// Why a look failed, in words, and when the source asked to be asked again.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceError {
    pub message: String,
    pub retry_after: Option<Duration>,
}

impl SourceError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<flowpilot_engine::StepError> for SourceError {
    fn from(e: flowpilot_engine::StepError) -> Self {
        let retry_after = match &e {
            flowpilot_engine::StepError::Retryable { after, .. } => *after,
            _ => None,
        };
        Self {
            message: e.to_string(),
            retry_after,
        }
    }
}

/// How to look.
pub struct Look<'a> {
    /// Where the last look ended; `None` for a baseline (record what is there, run
    /// for at most `run_existing` of the newest).
    pub cursor: Option<&'a Value>,
    pub run_existing: usize,
    /// Which of these ids were seen before.
    pub seen: &'a (dyn Fn(&[String]) -> Vec<bool> + Sync),
    /// A long poll may wait for news (a normal pass); an explicit check answers at once.
    pub wait: bool,
}

/// A polling trigger's source: an IMAP mailbox, a feed, a bot's updates, a JSON API.
#[async_trait::async_trait]
pub trait Source: Send {
    /// Look for new items.
    async fn check(&mut self, look: Look<'_>) -> Result<Found, SourceError>;

    /// After the items of the last check are recorded (their runs will happen):
    /// whatever the source does with them then (mark mails read).
    async fn after_commit(&mut self, _items: &[Item]) {}

    /// A signal that the server pushed news (IMAP IDLE): check now.
    fn push(&self) -> Option<Arc<Notify>> {
        None
    }

    /// Whether a check itself waits for news (Telegram's long polling): then the
    /// next check follows at once.
    fn long_polls(&self) -> bool {
        false
    }

    /// The machine woke up or the network came back: drop long-lived connections.
    fn reconnect(&mut self) {}

    /// Stop what the source runs in the background (an IDLE connection).
    fn stop(&mut self) {}
}

/// Test support for the crash tests: when `FLOWPILOT_TEST_PAUSE_AT` names this
/// point, say so on stderr and stop here for good, so a test can kill -9 the
/// process exactly there. Does nothing otherwise.
pub async fn pause_point(name: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("FLOWPILOT_TEST_PAUSE_AT").ok().filter(|s| !s.is_empty()));
    if at.as_deref() == Some(name) {
        eprintln!("flowpilot: paused at {name}");
        std::future::pending::<()>().await;
    }
}
