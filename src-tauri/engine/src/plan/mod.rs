//! Plans: the document users write ([`PlanFile`], in the seeds' shape), how it is
//! parsed and checked, and the checked [`Plan`] the executor and scheduler run.
//!
//! - [`model`] and [`trigger`]: the one definition of the format (its JSON Schema
//!   and TypeScript type are generated from it);
//! - `parse`: text to a well-formed document, every structural problem located;
//! - `validate`: registry, params, references, conditions, schedule;
//!   [`trigger_checks`] for event triggers; `trigger_words` says a trigger in words;
//! - `checked`: the [`Plan`] that passed, with what running it needs;
//! - [`issue`]: located problems with kinds from a closed set;
//! - `targets`: where the steps send requests, and warnings for private targets.

mod checked;
pub mod issue;
pub mod model;
mod parse;
mod targets;
pub mod trigger;
pub mod trigger_checks;
mod trigger_words;
mod validate;

pub use checked::{CheckedStep, ForEach, Plan};
pub use issue::{IssueKind, PlanError, PlanIssue, Severity, join_path};
pub use model::*;
pub use parse::parse_text;
pub use targets::Destination;
pub use trigger::*;

/// Limits on what a plan file may hold.
pub mod limits {
    pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
    pub const MAX_STEPS: usize = 500;
    pub const MAX_DEPTH: usize = 64;
    pub const MAX_STRING_BYTES: usize = 1024 * 1024;
    /// The most items a `for_each` step goes through.
    pub const MAX_ITEMS: usize = 10_000;
}

#[cfg(test)]
mod tests;
