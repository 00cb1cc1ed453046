//! How often and how patiently a failed step is tried again: the policy a plan
//! writes (`"retry": 3` or an object) and the backoff between attempts.

use crate::registry::StepError;
use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Attempts for a step that says nothing (the first try included).
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The most attempts a plan may ask for.
pub const MAX_ATTEMPTS: u32 = 20;
/// The longest a server's `Retry-After` may make a step wait.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How often and how patiently a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry); 3 when left out.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: u32,
    /// The wait before the first retry in milliseconds; it doubles each time (with full jitter).
    #[serde(default = "default_backoff_ms")]
    #[schemars(range(max = 3_600_000))]
    pub backoff_ms: u64,
    /// The longest wait between attempts in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    #[schemars(range(max = 3_600_000))]
    pub max_backoff_ms: u64,
    /// Which failures are tried again: `safe` (the default) never sends a request
    /// with side effects twice unless the failure proves it was not acted on;
    /// `any` also retries one whose outcome is unknown (a timeout after sending,
    /// a 5xx) — for endpoints that honour `Idempotency-Key` or are harmless to repeat.
    #[serde(default, skip_serializing_if = "RetryOn::is_safe")]
    pub on: RetryOn,
}

/// Which failures a step retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// Failures that may pass and cannot do anything twice.
    #[default]
    Safe,
    /// Also failures that leave a request's outcome unknown.
    Any,
}

impl RetryOn {
    pub fn is_safe(&self) -> bool {
        *self == Self::Safe
    }
}

fn default_attempts() -> u32 {
    DEFAULT_ATTEMPTS
}

fn default_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    30_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_ATTEMPTS,
            backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            on: RetryOn::Safe,
        }
    }
}

/// `"retry": 5`, `"retry": {"max_attempts": 5, "backoff_ms": 200}` or `"retry": {"on": "any"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(untagged)]
pub enum RetrySpec {
    /// Attempts in all, the first included.
    Attempts(#[schemars(range(min = 1, max = 20))] u32),
    Policy(RetryPolicy),
}

impl RetrySpec {
    pub fn policy(self) -> RetryPolicy {
        match self {
            Self::Attempts(n) => RetryPolicy {
                max_attempts: n,
                ..RetryPolicy::default()
            },
            Self::Policy(p) => p,
        }
    }
}

/// The wait before attempt `attempt + 1`: a server's `Retry-After` wins (capped at
/// [`MAX_RETRY_AFTER`]); otherwise exponential backoff with full jitter.
pub fn backoff(policy: &RetryPolicy, attempt: u32, error: &StepError) -> Duration {
    if let StepError::Retryable { after: Some(after), .. } = error {
        return (*after).min(MAX_RETRY_AFTER);
    }
    let exp = policy
        .backoff_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
    let ceiling = exp.min(policy.max_backoff_ms);
    Duration::from_millis(rand::rng().random_range(0..=ceiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_honours_retry_after_with_a_cap_and_jitters_otherwise() {
        let policy = RetryPolicy {
            max_attempts: 5,
            backoff_ms: 100,
            max_backoff_ms: 1_000,
            on: RetryOn::Safe,
        };
        let after = |s| StepError::Retryable {
            code: crate::registry::ErrorCode::Http(429),
            message: String::new(),
            after: Some(Duration::from_secs(s)),
        };
        assert_eq!(backoff(&policy, 1, &after(7)), Duration::from_secs(7));
        assert_eq!(backoff(&policy, 1, &after(100_000)), MAX_RETRY_AFTER);
        let plain = StepError::retryable(crate::registry::ErrorCode::Connect, "refused");
        for attempt in 1..10 {
            let ceiling = (100u64 << (attempt - 1)).min(1_000);
            assert!(backoff(&policy, attempt, &plain) <= Duration::from_millis(ceiling));
        }
    }

    #[test]
    fn retrying_on_any_failure_is_an_opt_in_with_defaults_for_the_rest() {
        let spec: RetrySpec = serde_json::from_value(serde_json::json!({"on": "any"})).unwrap();
        assert_eq!(spec.policy().on, RetryOn::Any);
        assert_eq!(spec.policy().max_attempts, DEFAULT_ATTEMPTS);
        // The default is not written out, so existing plans export unchanged.
        let written = serde_json::to_value(RetrySpec::Policy(RetryPolicy::default())).unwrap();
        assert!(written.get("on").is_none(), "{written}");
        assert!(serde_json::from_value::<RetrySpec>(serde_json::json!({"on": "sometimes"})).is_err());
    }

    #[test]
    fn a_number_is_a_count_of_attempts() {
        let spec: RetrySpec = serde_json::from_value(serde_json::json!(5)).unwrap();
        assert_eq!(spec.policy().max_attempts, 5);
        assert_eq!(spec.policy().backoff_ms, 500);
    }
}
