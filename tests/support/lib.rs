//! Support for Flowpilot's integration tests: real HTTP peers on 127.0.0.1 that
//! record what they receive, and helpers that run plans through the real executor.

pub mod openai;
pub mod peer;
pub mod run;
pub mod target;

pub use openai::{CannedReply, FakeOpenAi};
pub use peer::{Peer, Recorded};
pub use run::{Run, executor, plan, plan_issues, run, run_with_cancel};
pub use target::Target;
