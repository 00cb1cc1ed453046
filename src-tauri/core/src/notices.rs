//! Which desktop notifications to raise, and when to hold them back: at most one
//! failure notice per plan per hour (the held-back ones are counted into the
//! next), a "recovered" notice when a failing plan succeeds again, success
//! notices only where the plan asks for them, and one summary for a catch-up.
//! Pure logic; the desktop app delivers the notices.

use chrono::{DateTime, Utc};
use flowpilot_engine::run::{RunOutcome, RunStatus, StepStatus};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How long after a failure notice further failures of the same plan stay quiet.
pub const FAILURE_QUIET_PERIOD: chrono::Duration = chrono::Duration::hours(1);
/// Checks of a trigger that fail in a row before it is told: one failed check
/// (a network blip) is only shown in its status.
pub const TRIGGER_FAILURES_BEFORE_NOTICE: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Failure,
    Recovered,
    Success,
    CatchUp,
    AutoPaused,
    /// A plan's trigger keeps failing to check its source (a mail server down, a wrong password).
    TriggerFailure,
    /// A trigger that was failing works again.
    TriggerRecovered,
    /// The webhook server could not start (its port is in use), or started again.
    WebhookServer,
    /// The window was closed for the first time: Flowpilot keeps running, and how to quit.
    KeepsRunning,
}

/// A notification to show. Built from redacted run records only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    pub plan_id: Option<String>,
    /// The run to open when the notice is clicked.
    pub run_id: Option<String>,
}

#[derive(Debug, Default)]
struct PlanNoticeState {
    last_failure_notice: Option<DateTime<Utc>>,
    held_back: u32,
    failing: bool,
}

/// Why fires were missed: Flowpilot was not running then, or it was and the
/// machine slept (fires missed because the plan was off or paused are never
/// caught up, so they are neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedBecause {
    NotRunning,
    Asleep,
}

/// Remembers, per plan, what has been said recently.
#[derive(Debug, Default)]
pub struct NoticePolicy {
    plans: HashMap<String, PlanNoticeState>,
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= max {
        s
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

impl NoticePolicy {
    /// The notice, if any, for a finished run of a plan.
    pub fn on_run_finished(
        &mut self,
        plan_id: &str,
        outcome: &RunOutcome,
        notify_success: bool,
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        let state = self.plans.entry(plan_id.to_string()).or_default();
        let notice = |kind, title: String, body: String| Notice {
            kind,
            title,
            body,
            plan_id: Some(plan_id.to_string()),
            run_id: Some(outcome.run_id.clone()),
        };
        match outcome.status {
            RunStatus::Success => {
                let was_failing = std::mem::take(&mut state.failing);
                state.held_back = 0;
                state.last_failure_notice = None;
                if was_failing {
                    Some(notice(
                        NoticeKind::Recovered,
                        format!("{} recovered", outcome.plan_name),
                        "The last run succeeded.".into(),
                    ))
                } else if notify_success {
                    Some(notice(
                        NoticeKind::Success,
                        format!("{} succeeded", outcome.plan_name),
                        format!("{} steps ran.", outcome.steps.len()),
                    ))
                } else {
                    None
                }
            }
            RunStatus::Failed | RunStatus::Interrupted => {
                state.failing = true;
                let quiet = state
                    .last_failure_notice
                    .is_some_and(|at| now - at < FAILURE_QUIET_PERIOD);
                if quiet {
                    state.held_back += 1;
                    return None;
                }
                let held = std::mem::take(&mut state.held_back);
                state.last_failure_notice = Some(now);
                let failed = outcome
                    .steps
                    .iter()
                    .find(|s| matches!(s.status, StepStatus::Error | StepStatus::Timeout | StepStatus::Unknown));
                let mut body = match failed {
                    Some(s) => format!(
                        "Step {} ({}.{}) failed: {}",
                        s.step_number + 1,
                        s.provider,
                        s.action,
                        shorten(&s.message, 160)
                    ),
                    None => shorten(outcome.error.as_deref().unwrap_or("the run failed"), 200),
                };
                if held > 0 {
                    body.push_str(&format!(
                        " ({held} more failure{} since the last notice)",
                        if held == 1 { "" } else { "s" }
                    ));
                }
                Some(notice(
                    NoticeKind::Failure,
                    format!("{} failed", outcome.plan_name),
                    body,
                ))
            }
            RunStatus::Cancelled | RunStatus::Running => None,
        }
    }

    /// The notice, if any, after a check of a plan's trigger: a failure once it
    /// has failed [`TRIGGER_FAILURES_BEFORE_NOTICE`] times in a row (then at most
    /// one an hour, the rest counted into the next), "recovered" when a trigger
    /// that was told as failing works again. Kept apart from the plan's runs.
    pub fn on_trigger_checked(
        &mut self,
        plan_id: &str,
        plan_name: &str,
        failures: u32,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        let state = self.plans.entry(format!("trigger:{plan_id}")).or_default();
        let notice = |kind, title: String, body: String| Notice {
            kind,
            title,
            body,
            plan_id: Some(plan_id.to_string()),
            run_id: None,
        };
        let Some(error) = error else {
            state.held_back = 0;
            state.last_failure_notice = None;
            return std::mem::take(&mut state.failing).then(|| {
                notice(
                    NoticeKind::TriggerRecovered,
                    format!("{plan_name}: trigger works again"),
                    "Its last check succeeded.".into(),
                )
            });
        };
        if failures < TRIGGER_FAILURES_BEFORE_NOTICE {
            return None;
        }
        state.failing = true;
        if state
            .last_failure_notice
            .is_some_and(|at| now - at < FAILURE_QUIET_PERIOD)
        {
            state.held_back += 1;
            return None;
        }
        let held = std::mem::take(&mut state.held_back);
        state.last_failure_notice = Some(now);
        let mut body = format!("{failures} checks failed in a row: {}", shorten(error, 180));
        if held > 0 {
            body.push_str(&format!(
                " ({held} more failed check{} since the last notice)",
                if held == 1 { "" } else { "s" }
            ));
        }
        Some(notice(
            NoticeKind::TriggerFailure,
            format!("{plan_name}: trigger failing"),
            body,
        ))
    }

    /// One notice for a whole catch-up, however many fires it covered, saying why
    /// they were missed.
    pub fn catch_up_summary(
        plan_id: &str,
        plan_name: &str,
        ran: usize,
        missed: usize,
        because: MissedBecause,
    ) -> Option<Notice> {
        if ran == 0 && missed == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if ran > 0 {
            parts.push(format!("ran {ran} missed run{}", if ran == 1 { "" } else { "s" }));
        }
        if missed > 0 {
            parts.push(format!(
                "skipped {missed} older fire{}",
                if missed == 1 { "" } else { "s" }
            ));
        }
        Some(Notice {
            kind: NoticeKind::CatchUp,
            title: format!("{plan_name}: catching up"),
            body: format!(
                "{}: {}.",
                match because {
                    MissedBecause::NotRunning => "While Flowpilot was not running",
                    MissedBecause::Asleep => "While the computer was asleep",
                },
                parts.join(", ")
            ),
            plan_id: Some(plan_id.to_string()),
            run_id: None,
        })
    }

    pub fn auto_paused(plan_id: &str, plan_name: &str, failures: u32) -> Notice {
        Notice {
            kind: NoticeKind::AutoPaused,
            title: format!("{plan_name} paused"),
            body: format!(
                "Its schedule was paused after {failures} failed runs in a row. Resume it once the cause is fixed."
            ),
            plan_id: Some(plan_id.to_string()),
            run_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowpilot_engine::run::StepRecord;
    use serde_json::{Map, Value};

    fn t(mins: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().to_utc() + chrono::Duration::minutes(mins)
    }

    fn outcome(status: RunStatus) -> RunOutcome {
        let step = StepRecord {
            run_id: "r".into(),
            step_number: 1,
            step_id: None,
            provider: "webhook".into(),
            action: "post_request".into(),
            status: if status == RunStatus::Success {
                StepStatus::Success
            } else {
                StepStatus::Error
            },
            attempt: 3,
            message: "HTTP 500 from the server".into(),
            latency_ms: 12,
            output_preview: String::new(),
            output: Value::Null,
            metadata: Map::new(),
            error: Some(flowpilot_engine::ErrorCode::Http(500)),
            items: None,
            input: serde_json::Value::Null,
            timestamp: t(0),
        };
        RunOutcome {
            run_id: "r".into(),
            plan_name: "Digest".into(),
            status,
            started_at: t(0),
            finished_at: t(0),
            error: None,
            steps: vec![step],
        }
    }

    #[test]
    fn failures_are_throttled_per_hour_and_counted_into_the_next() {
        let mut p = NoticePolicy::default();
        let first = p
            .on_run_finished("p", &outcome(RunStatus::Failed), false, t(0))
            .unwrap();
        assert_eq!(first.title, "Digest failed");
        assert_eq!(
            first.body,
            "Step 2 (webhook.post_request) failed: HTTP 500 from the server"
        );
        assert_eq!(p.on_run_finished("p", &outcome(RunStatus::Failed), false, t(10)), None);
        assert_eq!(p.on_run_finished("p", &outcome(RunStatus::Failed), false, t(59)), None);
        // Another plan is not held back by this one.
        assert!(
            p.on_run_finished("q", &outcome(RunStatus::Failed), false, t(11))
                .is_some()
        );
        let next = p
            .on_run_finished("p", &outcome(RunStatus::Failed), false, t(61))
            .unwrap();
        assert!(
            next.body.ends_with("(2 more failures since the last notice)"),
            "{}",
            next.body
        );
    }

    #[test]
    fn recovery_and_success_notices() {
        let mut p = NoticePolicy::default();
        assert_eq!(p.on_run_finished("p", &outcome(RunStatus::Success), false, t(0)), None);
        assert_eq!(
            p.on_run_finished("p", &outcome(RunStatus::Success), true, t(1))
                .unwrap()
                .kind,
            NoticeKind::Success
        );
        p.on_run_finished("p", &outcome(RunStatus::Failed), false, t(2));
        let recovered = p
            .on_run_finished("p", &outcome(RunStatus::Success), false, t(3))
            .unwrap();
        assert_eq!(
            (recovered.kind, recovered.title.as_str()),
            (NoticeKind::Recovered, "Digest recovered")
        );
        // Recovery resets the throttle: the next failure is told at once.
        assert!(
            p.on_run_finished("p", &outcome(RunStatus::Failed), false, t(4))
                .is_some()
        );
    }

    #[test]
    fn a_trigger_is_told_failing_after_three_checks_and_recovered_once() {
        let mut p = NoticePolicy::default();
        assert_eq!(
            p.on_trigger_checked("p", "Inbox", 1, Some("connection refused"), t(0)),
            None
        );
        assert_eq!(
            p.on_trigger_checked("p", "Inbox", 2, Some("connection refused"), t(1)),
            None
        );
        let failing = p
            .on_trigger_checked("p", "Inbox", 3, Some("connection refused"), t(2))
            .unwrap();
        assert_eq!(failing.kind, NoticeKind::TriggerFailure);
        assert_eq!(failing.body, "3 checks failed in a row: connection refused");
        assert_eq!(p.on_trigger_checked("p", "Inbox", 4, Some("refused"), t(3)), None);
        // A run of the same plan is told apart from its trigger.
        assert!(
            p.on_run_finished("p", &outcome(RunStatus::Failed), false, t(4))
                .is_some()
        );
        let recovered = p.on_trigger_checked("p", "Inbox", 0, None, t(5)).unwrap();
        assert_eq!(recovered.kind, NoticeKind::TriggerRecovered);
        assert_eq!(p.on_trigger_checked("p", "Inbox", 0, None, t(6)), None);
    }

    #[test]
    fn a_catch_up_is_one_notice() {
        let n = NoticePolicy::catch_up_summary("p", "Digest", 3, 7, MissedBecause::NotRunning).unwrap();
        assert_eq!(
            n.body,
            "While Flowpilot was not running: ran 3 missed runs, skipped 7 older fires."
        );
        assert_eq!(
            NoticePolicy::catch_up_summary("p", "Digest", 0, 0, MissedBecause::Asleep),
            None
        );
        let n = NoticePolicy::catch_up_summary("p", "Digest", 1, 0, MissedBecause::Asleep).unwrap();
        assert_eq!(n.body, "While the computer was asleep: ran 1 missed run.");
    }
}
