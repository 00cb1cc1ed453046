//! From queued events to runs: each event waiting in the store's queue becomes
//! its own run, under the plan's overlap policy and the global concurrency
//! limit, in the order the events came. A run's row is written as its event
//! leaves the queue (one transaction), so an event has exactly one run; events
//! not started when Flowpilot stops wait for the next start.

use crate::api::{ApiError, Flowpilot, ResolvedPlan};
use crate::scheduler::Scheduler;
use crate::store::{MissReason, QueuedEvent, StoreError};
use flowpilot_engine::plan::EventOverlap;
use flowpilot_engine::run::{RunEvent, RunObserver, RunOutcome};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

/// How an event ended, for a webhook caller waiting on it.
#[derive(Debug, Clone)]
pub enum Finished {
    Ran(Box<RunOutcome>),
    /// The plan was still running and its overlap policy is `skip`.
    Skipped,
}

/// The longest the dispatcher waits before looking at the queue again.
const IDLE_LOOK: Duration = Duration::from_secs(30);
/// Events looked at per pass.
const BATCH: usize = 200;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Dispatcher {
    app: Arc<Flowpilot>,
    scheduler: Arc<Scheduler>,
    wake: Notify,
    /// Events handed to a task (waiting for a permit or running), by run id, with their plan.
    claimed: Mutex<HashMap<String, String>>,
    waiters: Mutex<HashMap<String, oneshot::Sender<Finished>>>,
    accepting: AtomicBool,
    stopping: CancellationToken,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

/// Forwards a run's events and raises the same notices as any run.
struct EventRun {
    scheduler: Arc<Scheduler>,
    plan_id: String,
}

impl RunObserver for EventRun {
    fn on_event(&self, event: &RunEvent) {
        self.scheduler.sink().run_event(event);
        if let RunEvent::RunFinished { outcome, .. } = event {
            self.scheduler.notify_finished(&self.plan_id, outcome, None);
        }
    }
}

impl Dispatcher {
    pub fn new(app: Arc<Flowpilot>, scheduler: Arc<Scheduler>) -> Arc<Self> {
        Arc::new(Self {
            app,
            scheduler,
            wake: Notify::new(),
            claimed: Mutex::default(),
            waiters: Mutex::default(),
            accepting: AtomicBool::new(true),
            stopping: CancellationToken::new(),
        })
    }

    /// Look at the queue now (an event was queued, a run ended).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tell `run_id`'s end to whoever waits (a webhook in `sync` mode). Register
    /// before the event is queued, so the end cannot come first.
    pub fn wait_for(&self, run_id: &str) -> oneshot::Receiver<Finished> {
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(run_id.to_string(), tx);
        rx
    }

    pub fn forget_waiter(&self, run_id: &str) {
        lock(&self.waiters).remove(run_id);
    }

    /// Start no more runs: events still queued wait for the next start.
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::SeqCst);
        self.stopping.cancel();
    }

    /// Loop until cancelled: a pass over the queue, then wait to be woken.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.pass() => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_LOOK) => {}
            }
        }
    }

    /// One pass: start every queued event that may start now, in the order the
    /// events came (each waits for its permit before the next is looked at).
    pub async fn pass(self: &Arc<Self>) {
        if !self.accepting.load(Ordering::SeqCst) {
            return;
        }
        let queued = match self.app.queued_events(BATCH) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!("cannot read the queue of trigger events: {e}");
                return;
            }
        };
        // Plans with an event of theirs already handed out in this pass or before.
        let mut busy: HashSet<String> = lock(&self.claimed).values().cloned().collect();
        // Each plan read and checked once a pass, however many of its events wait
        // (a backlog behind a running plan is looked over at every pass).
        let mut plans: HashMap<String, Option<ResolvedPlan>> = HashMap::new();
        for event in queued {
            if lock(&self.claimed).contains_key(&event.run_id) {
                continue;
            }
            let resolved = plans.entry(event.plan_id.clone()).or_insert_with(|| {
                self.app
                    .resolve_stored(&event.plan_id)
                    .inspect_err(|e| {
                        // A plan that no longer validates cannot run its events; they stay
                        // queued until it is fixed (its status says why it does not run).
                        tracing::warn!(plan = %event.plan_id, "queued events wait: their plan cannot run: {e}");
                    })
                    .ok()
            });
            let Some(target) = resolved.as_ref() else {
                continue;
            };
            let running = self.app.running_count(&event.plan_id) > 0 || busy.contains(&event.plan_id);
            match target.plan.trigger().event_overlap() {
                EventOverlap::Queue if running => continue,
                EventOverlap::Skip if running => {
                    self.skip(&event);
                    continue;
                }
                _ => {}
            }
            let permit = tokio::select! {
                permit = self.scheduler.run_permit() => permit,
                _ = self.stopping.cancelled() => None,
            };
            let Some(permit) = permit else { return };
            if !self.accepting.load(Ordering::SeqCst) {
                return;
            }
            // The run's row is written here, in the events' order.
            let prepared = match self.app.prepare_event_run(&event, target.clone()) {
                Ok(p) => p,
                Err(ApiError::Store(StoreError::NotFound { .. })) => continue, // its run exists already
                Err(e) => {
                    tracing::error!(plan = %event.plan_id, "an event's run could not be recorded: {e}");
                    continue;
                }
            };
            busy.insert(event.plan_id.clone());
            lock(&self.claimed).insert(event.run_id.clone(), event.plan_id.clone());
            let me = self.clone();
            tokio::spawn(async move { me.execute(event, prepared, permit).await });
        }
    }

    fn skip(&self, event: &QueuedEvent) {
        match self.app.drop_queued_event(&event.run_id) {
            Ok(true) => {
                let now = self.app.clock().now();
                if let Err(e) = self.app.record_missed_event(&event.plan_id, MissReason::Overlap, now) {
                    tracing::error!("cannot record a skipped event: {e}");
                }
                tracing::info!(plan = %event.plan_id, "event skipped: the plan was still running (overlap: skip)");
                if let Some(waiter) = lock(&self.waiters).remove(&event.run_id) {
                    let _ = waiter.send(Finished::Skipped);
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!("cannot drop a skipped event: {e}"),
        }
    }

    async fn execute(
        self: Arc<Self>,
        event: QueuedEvent,
        prepared: crate::api::PreparedRun,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) {
        let observer = Arc::new(EventRun {
            scheduler: self.scheduler.clone(),
            plan_id: event.plan_id.clone(),
        });
        let outcome = self
            .app
            .execute(prepared, observer, None, CancellationToken::new())
            .await;
        drop(permit);
        lock(&self.claimed).remove(&event.run_id);
        let waiter = lock(&self.waiters).remove(&event.run_id);
        match outcome {
            Ok(outcome) => {
                if let Some(w) = waiter {
                    let _ = w.send(Finished::Ran(Box::new(outcome)));
                }
            }
            Err(e) => tracing::error!(plan = %event.plan_id, "an event's run could not be recorded: {e}"),
        }
        self.wake();
    }
}
