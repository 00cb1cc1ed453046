//! `status-notifier-watcher`: a desktop panel's tray host on the session bus
//! (`DBUS_SESSION_BUS_ADDRESS`), for scripts/measure-memory.sh: the app then
//! closes its window without asking, as on a desktop whose panel shows tray
//! icons. Prints `ready` once it holds the watcher's name, then serves until it
//! is killed.

use flowpilot_tests::status_notifier::StatusNotifierWatcher;
use std::process::ExitCode;

fn main() -> ExitCode {
    let watcher = match StatusNotifierWatcher::start() {
        Ok(watcher) => watcher,
        Err(e) => {
            eprintln!("status-notifier-watcher: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready");
    // zbus serves from its own threads; this one only keeps the watcher alive.
    loop {
        std::thread::park();
        let _still_serving = &watcher;
    }
}
