//! Flowpilot core: the SQLite store, the OS keychain, and the facade that the
//! desktop app and the headless CLI share.

pub mod api;
pub mod cli;
pub mod draft;
pub mod maintenance;
pub mod notices;
pub mod runner_lock;
pub mod scheduler;
pub mod secrets;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod triggers;
pub mod wake;
