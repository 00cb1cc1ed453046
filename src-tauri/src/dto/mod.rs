//! Transport types: what commands and events carry across IPC, in camelCase, each
//! mapped from a domain type of the engine or core (which stay free of IPC
//! concerns). The TypeScript bindings are generated from these.
//!
//! Counts, sizes and milliseconds are `u64`/`usize` in Rust and `number` in
//! TypeScript (see `bindings.rs`): none of them comes near 2^53.
//!
//! A plan document itself (`plan` fields, `createPlan`'s argument) is carried as
//! JSON in the plan file format (snake_case, as in `plans/*.json`), since that is
//! what the editor edits, imports and exports.

mod drafts;
mod plans;
mod runs;
mod schedules;
mod system;

pub use drafts::*;
pub use plans::*;
pub use runs::*;
pub use schedules::*;
pub use system::*;

use serde::{Deserialize, Serialize};
use specta::Type;

/// A problem in a plan and where it is (`steps[2].params.url`; empty for the whole plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub path: String,
    pub message: String,
}

impl From<flowpilot_engine::PlanIssue> for Issue {
    fn from(i: flowpilot_engine::PlanIssue) -> Self {
        Self {
            path: i.path,
            message: i.message,
        }
    }
}
