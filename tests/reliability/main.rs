//! Faults and abuse, kept in the test suite: each module one concern, each case
//! bounded in time. CI runs this binary with the rest (`cargo test --workspace`).

mod deadlines;
mod http_abuse;
mod origin_binding;
mod secrets_echo;
mod side_effects;
mod url_references;
mod secret_canary;
