//! Flowpilot's engine: everything needed to load, check and run a plan, with no
//! knowledge of storage, the keychain or the GUI. The store, secrets and the
//! desktop app depend on this crate, never the other way round.
//!
//! - [`address`]: where an address points (public, loopback, private, metadata);
//! - [`plan`]: the plan document (one definition), parsing and validation, the checked plan;
//! - [`references`]: `${...}` references and what they resolve against;
//! - [`condition`]: the comparison operators of `when` and `logic`;
//! - [`retry`]: retry policies and backoff;
//! - [`run`]: run and step records, live events, run requests;
//! - [`executor`]: running a checked plan;
//! - [`schedule`]: cron schedules in time zones, missed fires;
//! - [`registry`] and [`providers`]: what a provider is, and the built-in ones;
//! - [`integration`]: HTTP APIs described as data (the built-ins and the person's own);
//! - [`request`]: the one HTTP request builder every provider sends through;
//! - [`schema`]: JSON Schema checks with located, plain-language problems;
//! - [`redact`], [`sensitive`]: keeping secrets out of everything stored or shown.

pub mod address;
pub mod clock;
pub mod condition;
pub mod credentials;
pub mod executor;
pub mod http_client;
pub mod integration;
pub mod plan;
pub mod providers;
pub mod redact;
pub mod references;
pub mod registry;
pub mod request;
pub mod retry;
pub mod run;
pub mod schedule;
pub mod schema;
pub mod sensitive;
pub mod step_error;

pub use clock::{Clock, ManualClock, SystemClock};
pub use executor::Executor;
pub use plan::{Plan, PlanError, PlanFile, PlanIssue};
pub use registry::{ProviderResult, Registry};
pub use run::{RunEvent, RunObserver, RunOutcome, RunRequest, RunStatus, StepRecord, StepStatus};
pub use sensitive::Sensitive;
pub use step_error::{ErrorCode, StepError};
