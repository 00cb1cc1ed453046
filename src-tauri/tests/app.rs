//! The app binary itself. Without a display it only proves it links and runs;
//! under a display (e.g. `xvfb-run`) it starts hidden in the tray, opens its
//! database in `FLOWPILOT_DATA_DIR`, starts the scheduler and writes its log,
//! and holds no GL and no web engine until a window is opened. A test that
//! needs the display skips without one, or fails when `FLOWPILOT_REQUIRE_DISPLAY`
//! is set (scripts/test.sh sets it).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

const APP: &str = env!("CARGO_BIN_EXE_flowpilot");

/// One app at a time: the app is single-instance on the session bus, so a
/// second one started by a parallel test would hand over to the first and exit.
static ONE_APP: Mutex<()> = Mutex::new(());

/// Whether a display is there; without one, say the test skipped (or fail
/// when the display is required).
fn has_display(test: &str) -> bool {
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("FLOWPILOT_REQUIRE_DISPLAY").is_none(),
        "{test}: FLOWPILOT_REQUIRE_DISPLAY is set but there is no display"
    );
    eprintln!("{test}: skipped, no display (run the tests under xvfb-run to start the app)");
    false
}

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
    if !has_display("starts_hidden_with_the_scheduler_running") {
        return;
    }
    let _one_app = ONE_APP.lock().unwrap_or_else(|e| e.into_inner());
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

/// The children of `parent` (pid and name), from /proc.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push((pid, stat[open + 1..close].to_string()));
        }
    }
    found
}

/// The app started with GL as it chooses by default (none of GTK's or WebKit's
/// variables set), printing its readiness lines, and waited for until it prints
/// `milestone`.
fn start_until(args: &[&str], milestone: &str, data: &Path, xdg: &Path) -> Running {
    let mut app = Running(
        Command::new(APP)
            .args(args)
            .env("FLOWPILOT_DATA_DIR", data)
            .env("FLOWPILOT_PRINT_READY", "1")
            .env("XDG_DATA_HOME", xdg.join("data"))
            .env("XDG_CONFIG_HOME", xdg.join("config"))
            .env("XDG_CACHE_HOME", xdg.join("cache"))
            .env_remove("GDK_GL")
            .env_remove("WEBKIT_DISABLE_DMABUF_RENDERER")
            .env_remove("WEBKIT_WEB_RENDER_DEVICE_FILE")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the app starts"),
    );
    let stdout = app.0.stdout.take().expect("its stdout is piped");
    let (lines, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let wanted = format!("flowpilot-ready {milestone} ");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match heard.recv_timeout(left) {
            Ok(line) if line.starts_with(&wanted) => return app,
            Ok(_) => {}
            Err(e) => panic!("the app never printed '{milestone}': {e}"),
        }
    }
}

/// The GL libraries (Mesa's driver, libLLVM) `pid` maps.
fn gl_mapped(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("the app's memory map");
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| path.contains("_dri.so") || path.contains("libLLVM") || path.contains("libGLX_mesa"))
        .map(String::from)
        .collect()
}

/// Started hidden, the app maps no GL (GTK's X11 backend would load Mesa's
/// driver and libLLVM when it opens the display) and runs none of WebKit's
/// processes: the web engine only comes with the window.
#[test]
fn a_hidden_start_loads_no_gl_and_starts_no_web_engine() {
    if !has_display("a_hidden_start_loads_no_gl_and_starts_no_web_engine") {
        return;
    }
    let _one_app = ONE_APP.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let app = start_until(&["--hidden"], "armed", data.path(), xdg.path());
    let pid = app.0.id();
    let gl = gl_mapped(pid);
    assert!(gl.is_empty(), "a hidden app maps GL: {gl:?}");
    let webkit: Vec<_> = children(pid)
        .into_iter()
        .filter(|(_, name)| name.starts_with("WebKit"))
        .collect();
    assert!(webkit.is_empty(), "a hidden app runs WebKit processes: {webkit:?}");
}

/// With its window open, the app process still maps no GL: WebKit would open
/// an EGL display there to pick the web process's GPU, and Mesa and libLLVM
/// would stay in the tray process after the window closed. The web process
/// draws the page (it may use GL: it ends with the window).
#[test]
fn an_open_window_loads_no_gl_into_the_app_process() {
    if !has_display("an_open_window_loads_no_gl_into_the_app_process") {
        return;
    }
    let _one_app = ONE_APP.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let app = start_until(&[], "window-loaded", data.path(), xdg.path());
    let pid = app.0.id();
    let web: Vec<_> = children(pid)
        .into_iter()
        .filter(|(_, name)| name.starts_with("WebKitWebProces"))
        .collect();
    assert!(!web.is_empty(), "the window's page has no web process");
    let gl = gl_mapped(pid);
    assert!(gl.is_empty(), "the app process maps GL with its window open: {gl:?}");
}

/// The status of every run in the database, read the way another program would.
fn run_statuses(db: &Path) -> Vec<String> {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT status FROM runs ORDER BY started_at") else {
        return Vec::new();
    };
    stmt.query_map([], |r| r.get(0))
        .map(|rows| rows.flatten().collect())
        .unwrap_or_default()
}

#[test]
fn sigterm_quits_and_records_the_run_in_progress_as_cancelled() {
    if !has_display("sigterm_quits_and_records_the_run_in_progress_as_cancelled") {
        return;
    }
    let _one_app = ONE_APP.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    {
        // An active plan that fires every second and then waits ten minutes.
        let flow = flowpilot_core::api::Flowpilot::open(flowpilot_core::api::Options {
            data_dir: Some(data.path().to_path_buf()),
            keychain: Some(flowpilot_core::secrets::Keychain::unavailable("not needed")),
            clock: None,
        })
        .unwrap();
        let plan = r#"{"name": "Slow", "status": "active",
            "trigger": {"type": "cron", "cron_expression": "* * * * * *", "timezone": "UTC"},
            "steps": [{"provider": "delay", "action": "wait", "params": {"seconds": 600}}]}"#;
        flow.import_plan(plan, flowpilot_core::api::Activation::Activate)
            .unwrap();
    }
    let mut app = Running(
        Command::new(APP)
            .arg("--hidden")
            .env("FLOWPILOT_DATA_DIR", data.path())
            .env("XDG_DATA_HOME", xdg.path().join("data"))
            .env("XDG_CONFIG_HOME", xdg.path().join("config"))
            .env("XDG_CACHE_HOME", xdg.path().join("cache"))
            .spawn()
            .unwrap(),
    );
    let db = data.path().join("flowpilot.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Polling another process's database: there is no event to wait on.
    while !run_statuses(&db).iter().any(|s| s == "running") {
        assert!(app.0.try_wait().unwrap().is_none(), "the app exited early");
        assert!(Instant::now() < deadline, "no scheduled run started within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = app.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = app.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the app did not quit within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let statuses = run_statuses(&db);
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| s == "cancelled"),
        "every run in progress is recorded cancelled: {statuses:?}"
    );
}
