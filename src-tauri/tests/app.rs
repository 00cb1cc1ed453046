//! The app binary itself. Without a display it only proves it links and runs;
//! under a display (e.g. `xvfb-run`) it starts hidden in the tray, opens its
//! database in `FLOWPILOT_DATA_DIR`, starts the scheduler and writes its log.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const APP: &str = env!("CARGO_BIN_EXE_flowpilot");

#[test]
fn prints_its_version() {
    let out = Command::new(APP).arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("flowpilot {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Kills the app when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log_text(logs: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(logs) else {
        return String::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect()
}

#[test]
fn starts_hidden_with_the_scheduler_running() {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("skipped: no display (run the tests under xvfb-run to start the app)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let mut app = Running(
        Command::new(APP)
            .arg("--hidden")
            .env("FLOWPILOT_DATA_DIR", data.path())
            // Logs (and anything else the app keeps per user) go to a throwaway home.
            .env("XDG_DATA_HOME", xdg.path().join("data"))
            .env("XDG_CONFIG_HOME", xdg.path().join("config"))
            .env("XDG_CACHE_HOME", xdg.path().join("cache"))
            .env_remove("FLOWPILOT_LOG")
            .spawn()
            .unwrap(),
    );
    let logs = xdg.path().join("data/dev.flowpilot.app/logs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log_text(&logs).contains("scheduler started") {
        if let Some(status) = app.0.try_wait().unwrap() {
            panic!("the app exited ({status}); log:\n{}", log_text(&logs));
        }
        assert!(
            Instant::now() < deadline,
            "no 'scheduler started' in the log within 60 s:\n{}",
            log_text(&logs)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(data.path().join("flowpilot.db").is_file());
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        app.0.try_wait().unwrap().is_none(),
        "the app should keep running in the tray"
    );
}
