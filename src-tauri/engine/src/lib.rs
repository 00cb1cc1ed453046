//! Flowpilot's engine: everything needed to load, check and run a plan, with no
//! knowledge of storage, the keychain or the GUI. The store, secrets and the
//! desktop app depend on this crate, never the other way round.

pub mod clock;
pub mod executor;
pub mod plan;
pub mod providers;
pub mod redact;
pub mod registry;
pub mod schedule;
pub mod sensitive;
pub mod template;

pub use clock::{Clock, ManualClock, SystemClock};
pub use executor::{Executor, RunEvent, RunObserver, RunOutcome, RunRequest, RunStatus, StepRecord, StepStatus};
pub use plan::{Plan, PlanError, PlanFile, PlanIssue};
pub use registry::{ProviderResult, Registry, StepError};
pub use sensitive::Sensitive;
