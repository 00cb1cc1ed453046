//! Flowpilot end to end, in a real window: the debug app under Xvfb, driven over
//! WebDriver (tauri-driver + WebKitWebDriver), each scenario with a fresh SQLite
//! file in its own data folder, the real Secret Service (gnome-keyring on a
//! private session bus), dbus-monitor listening for notifications, and HTTP
//! peers on 127.0.0.1.
//!
//! Run with `scripts/e2e.sh` (optionally a test-name filter: `scripts/e2e.sh smoke`).
//! Without `FLOWPILOT_E2E=1` (as in `cargo test --workspace`) every scenario
//! says "skipped" and passes. Screenshots go to `screenshots/`.
//!
//! The scenarios find the UI by its `data-testid` contract (see `harness::tid`).

mod harness;
mod webdriver;
mod x11;

mod closing;
mod credentials;
mod draft;
mod editor;
mod feed_trigger;
mod first_hour;
mod flow;
mod import;
mod integration_builder;
mod schedule;
mod screens;
mod smoke;
mod webhook;
