//! The loop that runs one polling trigger: a check when one is due (its
//! interval, sooner when items wait, later after failures: exponential backoff
//! honouring Retry-After), when the server pushes news (IMAP IDLE), or when
//! asked ("check now"); each check's cursor, seen ids and events committed in
//! one transaction; status and notices after each. It sleeps in slices of at
//! most 30 s and re-reads the wall clock, so a machine that wakes up checks
//! (and reconnects) within seconds.

use super::Shared;
use super::source::{Found, Item, Look, MAX_ITEMS_PER_CHECK, Source, SourceError, pause_point};
use super::status::CheckReport;
use crate::store::{CheckCommit, NewEvent, TriggerState};
use chrono::{DateTime, Utc};
use flowpilot_engine::plan::{MIN_INTERVAL_S, Trigger};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// The longest the loop sleeps before looking at the wall clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// The first wait after a failed check; it doubles with every failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_secs(15);
/// The longest wait after failures (and the most a Retry-After is honoured).
const MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// A wall clock that moved this much more than the monotonic one: the machine slept.
const SLEEP_JUMP: chrono::Duration = chrono::Duration::seconds(60);

pub enum Command {
    CheckNow(oneshot::Sender<CheckReport>),
}

/// One polling trigger of one plan.
pub struct Watcher {
    pub plan_id: String,
    pub plan_name: String,
    pub trigger: Trigger,
    /// What the state is for: a change of source starts over (a baseline).
    pub source_key: String,
    pub source: Box<dyn Source>,
    pub shared: Arc<Shared>,
}

/// The wait after `failures` failed checks in a row.
pub fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let exp = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
    exp.min(MAX_BACKOFF)
        .max(retry_after.unwrap_or_default().min(MAX_BACKOFF))
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

async fn pushed(push: Option<&Notify>) {
    match push {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

enum Reason {
    Command(Option<Command>),
    Pushed,
    Checked,
    Cancelled,
}

impl Watcher {
    /// Run until cancelled or every command sender is gone.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>, cancel: CancellationToken) {
        let push = self.source.push();
        let mut last = (Instant::now(), self.shared.app.clock().now());
        // The first check comes at once: whatever came while nothing watched is found now.
        let mut first = true;
        loop {
            let now = self.shared.app.clock().now();
            // A wall clock far ahead of the monotonic one: the machine slept.
            let (then_mono, then_wall) = last;
            if (now - then_wall) - to_chrono(then_mono.elapsed()) > SLEEP_JUMP {
                tracing::info!(plan = %self.plan_id, "woke up: reconnecting and checking");
                self.source.reconnect();
                self.due_now();
            }
            last = (Instant::now(), now);
            let wait = match self.state().next_check_at {
                Some(at) if at > now && !first => (at - now).to_std().unwrap_or(MAX_SLEEP).min(MAX_SLEEP),
                _ => Duration::ZERO,
            };
            first = false;
            let due = wait.is_zero();
            let long = self.source.long_polls();
            if due && !long {
                // A check runs to its end (bounded by its own time limits); commands wait.
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    _ = self.check(false) => {}
                }
                continue;
            }
            let reason = tokio::select! {
                biased;
                _ = cancel.cancelled() => Reason::Cancelled,
                cmd = commands.recv() => Reason::Command(cmd),
                _ = pushed(push.as_deref()) => Reason::Pushed,
                // A long poll is the wait itself: a command or a push ends it.
                _ = async {
                    tokio::time::sleep(wait).await;
                    if due {
                        self.check(long).await;
                    }
                } => Reason::Checked,
            };
            match reason {
                Reason::Cancelled | Reason::Command(None) => break,
                Reason::Command(Some(Command::CheckNow(reply))) => {
                    let report = self.check(false).await;
                    let _ = reply.send(report);
                }
                Reason::Pushed => {
                    self.check(false).await;
                }
                Reason::Checked => {}
            }
        }
        self.source.stop();
    }

    /// The stored state, if it is for this source.
    fn state(&self) -> TriggerState {
        let now = self.shared.app.clock().now();
        match self.shared.app.trigger_state(&self.plan_id) {
            Ok(Some(s)) if s.source == self.source_key => s,
            _ => TriggerState::new(&self.plan_id, &self.source_key, now),
        }
    }

    fn due_now(&self) {
        let mut state = self.state();
        state.next_check_at = Some(self.shared.app.clock().now());
        if let Err(e) = self.shared.app.save_trigger_state(&state) {
            tracing::error!(plan = %self.plan_id, "cannot save the trigger's state: {e}");
        }
    }

    fn interval(&self) -> Duration {
        self.trigger
            .interval()
            .unwrap_or(Duration::from_secs(u64::from(MIN_INTERVAL_S)))
    }

    /// Look once, commit what was found with the new cursor, tell the status.
    pub async fn check(&mut self, long_poll: bool) -> CheckReport {
        let mut state = self.state();
        let baseline = state.cursor.is_none();
        let app = self.shared.app.clone();
        let plan_id = self.plan_id.clone();
        let seen = move |keys: &[String]| {
            app.seen_keys(&plan_id, keys)
                .unwrap_or_else(|_| vec![false; keys.len()])
        };
        let look = Look {
            cursor: state.cursor.as_ref(),
            run_existing: self.trigger.run_existing() as usize,
            seen: &seen,
            wait: long_poll,
        };
        let found = self.source.check(look).await;
        let now = self.shared.app.clock().now();
        let report = match found {
            Ok(found) => {
                pause_point("after_fetch").await;
                match self.commit(&mut state, found, baseline, now) {
                    Ok((report, items)) => {
                        pause_point("after_commit").await;
                        self.source.after_commit(&items).await;
                        self.shared.dispatcher.wake();
                        report
                    }
                    Err(e) => self.failed(&mut state, SourceError::new(e), now),
                }
            }
            Err(e) => self.failed(&mut state, e, now),
        };
        self.shared.scheduler.notify_trigger_checked(
            &self.plan_id,
            &self.plan_name,
            state.failures,
            state.last_error.as_deref().filter(|_| state.failures > 0),
        );
        self.shared.tell(&self.plan_id);
        report
    }

    fn commit(
        &self,
        state: &mut TriggerState,
        found: Found,
        baseline: bool,
        now: DateTime<Utc>,
    ) -> Result<(CheckReport, Vec<Item>), String> {
        let kind = self.trigger.kind();
        let items: Vec<Item> = found.items.into_iter().take(MAX_ITEMS_PER_CHECK).collect();
        let events: Vec<NewEvent> = items
            .iter()
            .map(|item| NewEvent {
                run_id: uuid::Uuid::now_v7().to_string(),
                kind: kind.to_string(),
                event: json!({"item": flowpilot_engine::run::cap_output(item.value.clone())}),
                received_at: now,
            })
            .collect();
        let failed_before = state.failures > 0;
        state.cursor = Some(found.cursor);
        state.last_check_at = Some(now);
        if !events.is_empty() {
            state.last_item_at = Some(now);
        }
        state.failures = 0;
        state.last_error = None;
        if found.note.is_some() || baseline {
            state.note = found.note.clone();
        } else if failed_before {
            state.note = None;
        }
        let next = if self.source.long_polls() {
            Duration::ZERO
        } else if found.more {
            Duration::from_secs(u64::from(MIN_INTERVAL_S))
        } else {
            self.interval()
        };
        state.next_check_at = Some(now + to_chrono(next));
        state.updated_at = now;
        let commit = CheckCommit {
            state: state.clone(),
            seen: found.seen,
            forget_seen: found.forget_seen,
            events,
        };
        self.shared.app.commit_check(&commit).map_err(|e| e.to_string())?;
        if baseline {
            tracing::info!(plan = %self.plan_id, "trigger baseline recorded: {}", found.note.as_deref().unwrap_or_default());
        }
        if !commit.events.is_empty() {
            tracing::info!(plan = %self.plan_id, new = commit.events.len(), more = found.more, "new items: runs queued");
        }
        Ok((
            CheckReport {
                baseline,
                new_items: commit.events.len() as u32,
                passed_over: found.passed_over as u32,
                more_waiting: found.more,
                error: None,
                note: found.note,
            },
            items,
        ))
    }

    fn failed(&self, state: &mut TriggerState, e: SourceError, now: DateTime<Utc>) -> CheckReport {
        state.failures = state.failures.saturating_add(1);
        state.last_error = Some(e.message.clone());
        state.last_error_at = Some(now);
        state.last_check_at = Some(now);
        state.next_check_at = Some(now + to_chrono(backoff(state.failures, e.retry_after)));
        state.updated_at = now;
        tracing::warn!(plan = %self.plan_id, failures = state.failures, "trigger check failed: {}", e.message);
        if let Err(err) = self.shared.app.save_trigger_state(state) {
            tracing::error!(plan = %self.plan_id, "cannot save the trigger's state: {err}");
        }
        CheckReport {
            baseline: false,
            new_items: 0,
            passed_over: 0,
            more_waiting: false,
            error: Some(e.message),
            note: None,
        }
    }
}

/// The `${trigger}` of a sample item of `kind`.
pub fn sample_event(kind: &str, item: Value) -> Value {
    json!({"type": kind, "item": item})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_honours_retry_after() {
        assert_eq!(backoff(1, None), Duration::from_secs(15));
        assert_eq!(backoff(2, None), Duration::from_secs(30));
        assert_eq!(backoff(3, None), Duration::from_secs(60));
        assert_eq!(backoff(40, None), MAX_BACKOFF);
        assert_eq!(backoff(1, Some(Duration::from_secs(120))), Duration::from_secs(120));
        assert_eq!(backoff(1, Some(Duration::from_secs(86_400))), MAX_BACKOFF);
    }
}
