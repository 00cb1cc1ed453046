//! The background upkeep a long-running Flowpilot (the tray app, `serve`) does:
//! a pass shortly after start and then once a day that prunes runs by the
//! retention settings (reclaiming the space), marks the runs of Flowpilots that
//! are gone as interrupted and deletes their lock files; and, more often, writes
//! the final status of runs that could not be written when they ended.
//!
//! Time comes from the facade's clock: [`Maintenance::tick`] is one
//! deterministic pass, tested with a manual clock; [`Maintenance::run`] only
//! loops over it, sleeping in short slices (the monotonic clock stops while a
//! laptop sleeps, the wall clock does not).

use crate::api::Flowpilot;
use crate::store::PruneReport;
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first pass comes this long after start (start-up stays quick).
pub const FIRST_PASS_AFTER: chrono::Duration = chrono::Duration::minutes(2);
/// Then one pass a day.
pub const EVERY: chrono::Duration = chrono::Duration::hours(24);
/// The longest the loop sleeps before looking at the wall clock again.
pub const SLICE: Duration = Duration::from_secs(30);

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaintenanceReport {
    /// `None` when pruning failed (logged); the next pass tries again.
    pub pruned: Option<PruneReport>,
    /// Runs of Flowpilots that are gone, marked interrupted.
    pub interrupted: usize,
    /// Final statuses still not written.
    pub unrecorded: usize,
}

/// The upkeep of one opened Flowpilot.
pub struct Maintenance {
    app: Arc<Flowpilot>,
    next_pass: Mutex<DateTime<Utc>>,
}

impl std::fmt::Debug for Maintenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Maintenance")
            .field("next_pass", &self.next_pass)
            .finish_non_exhaustive()
    }
}

impl Maintenance {
    /// Upkeep for `app`; its first pass is due [`FIRST_PASS_AFTER`] from now.
    pub fn new(app: Arc<Flowpilot>) -> Arc<Self> {
        let first = app.clock().now() + FIRST_PASS_AFTER;
        Arc::new(Self {
            app,
            next_pass: Mutex::new(first),
        })
    }

    /// When the next full pass is due.
    pub fn next_pass(&self) -> DateTime<Utc> {
        *self.next_pass.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Write any final status left unwritten; and, when it is due, a full pass.
    /// `None` when no full pass was due.
    pub fn tick(&self) -> Option<MaintenanceReport> {
        let unrecorded = self.app.record_unrecorded_runs();
        let now = self.app.clock().now();
        {
            let mut next = self.next_pass.lock().unwrap_or_else(|e| e.into_inner());
            if now < *next {
                return None;
            }
            *next = now + EVERY;
        }
        let pruned = match self.app.prune_by_settings() {
            Ok(report) => Some(report),
            Err(e) => {
                tracing::error!("could not prune old runs: {e}");
                None
            }
        };
        let interrupted = self.app.recover_interrupted_runs().unwrap_or_else(|e| {
            tracing::error!("could not look for runs left by a Flowpilot that is gone: {e}");
            0
        });
        Some(MaintenanceReport {
            pruned,
            interrupted,
            unrecorded,
        })
    }

    /// Loop until cancelled.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            let me = self.clone();
            // Pruning and vacuuming block on SQLite: off the async workers.
            if let Err(e) = tokio::task::spawn_blocking(move || me.tick()).await {
                tracing::error!("maintenance pass failed: {e}");
            }
            let until_next = (self.next_pass() - self.app.clock().now())
                .to_std()
                .unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = tokio::time::sleep(until_next.clamp(Duration::from_secs(1), SLICE)) => {}
                _ = cancel.cancelled() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Options;
    use crate::secrets::Keychain;
    use crate::settings::Settings;
    use crate::store::{Page, RunFilter};
    use flowpilot_engine::ManualClock;
    use flowpilot_engine::run::NoObserver;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[tokio::test]
    async fn a_pass_after_start_then_daily_prunes_by_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(at("2026-01-01T00:00:00Z")));
        let app = Arc::new(
            Flowpilot::open(Options {
                data_dir: Some(dir.path().into()),
                keychain: Some(Keychain::unavailable("not needed")),
                clock: Some(clock.clone()),
            })
            .unwrap(),
        );
        app.set_settings(&Settings {
            retention_days: 5,
            ..Settings::default()
        })
        .unwrap();
        let plan = r#"{"name": "Daily", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]}"#;
        let row = app.import_plan(plan, crate::api::Activation::Review).unwrap();
        for _ in 0..10 {
            let target = app.resolve_stored(&row.id).unwrap();
            app.run_plan(target, "manual", Arc::new(NoObserver), None, CancellationToken::new())
                .await
                .unwrap();
            clock.advance(chrono::Duration::days(1));
        }
        // It is now 2026-01-11; the maintenance starts.
        let maintenance = Maintenance::new(app.clone());
        assert_eq!(maintenance.tick(), None, "not right at start");
        clock.advance(FIRST_PASS_AFTER);
        let report = maintenance.tick().expect("the pass after start");
        // Runs of Jan 1-6 started before Jan 6 00:02.
        assert_eq!(report.pruned.map(|p| p.runs_deleted), Some(6), "older than 5 days");
        let (_, total) = app.list_runs(&RunFilter::default(), Page::default()).unwrap();
        assert_eq!(total, 4);

        clock.advance(chrono::Duration::hours(23));
        assert_eq!(maintenance.tick(), None, "once a day");
        clock.advance(chrono::Duration::hours(1));
        let report = maintenance.tick().expect("a day later");
        assert_eq!(report.pruned.map(|p| p.runs_deleted), Some(1));
        assert_eq!(maintenance.next_pass(), at("2026-01-13T00:02:00Z"));
    }
}
