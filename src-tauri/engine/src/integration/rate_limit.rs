//! An integration's rate limit, shared by every run in the process: at most
//! `requests` in any window of `per` (a sliding window). A request that must
//! wait waits in the attempt, and the wait ends at the attempt's deadline and
//! at cancellation — a slot past the deadline is not waited for.

use crate::registry::StepError;
use crate::step_error::ErrorCode;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct RateLimiter {
    requests: usize,
    per: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(requests: u32, per: Duration) -> Self {
        Self {
            requests: usize::try_from(requests).unwrap_or(usize::MAX).max(1),
            per,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Wait for a slot and take it. `deadline` is when the attempt's time is up.
    pub async fn acquire(
        &self,
        name: &str,
        deadline: Option<Instant>,
        cancel: &CancellationToken,
    ) -> Result<(), StepError> {
        loop {
            let wait_until = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                while sent.front().is_some_and(|t| now.duration_since(*t) >= self.per) {
                    sent.pop_front();
                }
                if sent.len() < self.requests {
                    sent.push_back(now);
                    return Ok(());
                }
                // Full: the oldest leaves the window first.
                sent.front().map_or(now, |oldest| *oldest + self.per)
            };
            if deadline.is_some_and(|d| wait_until >= d) {
                return Err(StepError::Retryable {
                    code: ErrorCode::RateLimited,
                    message: format!(
                        "{name} allows {} requests per {:.1} s, and the next one is free only after this attempt's time is up",
                        self.requests,
                        self.per.as_secs_f64()
                    ),
                    after: Some(wait_until.saturating_duration_since(Instant::now())),
                });
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wait_until.into()) => {}
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_window_holds_n_requests_and_makes_the_next_wait() {
        let limiter = RateLimiter::new(3, Duration::from_secs(1));
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire("notion", None, &cancel).await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_millis(10));
        limiter.acquire("notion", None, &cancel).await.unwrap();
        assert!(start.elapsed() >= Duration::from_secs(1), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_is_not_waited_for() {
        let limiter = RateLimiter::new(1, Duration::from_secs(10));
        let cancel = CancellationToken::new();
        limiter.acquire("x", None, &cancel).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let e = limiter.acquire("x", Some(deadline), &cancel).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::RateLimited);
        assert!(Instant::now() < deadline);
        cancel.cancel();
        let e = limiter.acquire("x", None, &cancel).await.unwrap_err();
        assert_eq!(e, StepError::Cancelled);
    }
}
