//! Flowpilot's reliability suite, in one binary: the faults and abuse a fault
//! audit tried (issue 13), kept as tests. Each module is one area; every case is
//! bounded in time and count (the heavy ones scale up with an environment
//! variable, see README "Reliability").

mod check;
mod fuzz;
mod import_review;
mod kill9;
mod memory;
mod retention;
mod signals;
mod storage;
mod util;
// The network and abuse cases.
mod deadlines;
mod http_abuse;
mod origin_binding;
mod secret_canary;
mod secrets_echo;
mod side_effects;
mod url_references;
