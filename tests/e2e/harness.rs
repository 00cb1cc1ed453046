//! The environment scripts/e2e.sh prepares, and one app under test per scenario:
//! its own data folder (a fresh SQLite file), its own XDG folders (logs, WebKit
//! storage, autostart entry), one WebDriver session, and clean-up by PID.

use crate::webdriver::{Element, Session, WdError, WdResult};
use crate::x11;
use flowpilot_tests::status_notifier::StatusNotifierWatcher;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a wait for the UI may take before the scenario fails.
pub const WAIT: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// Time for the page to settle (fonts, transitions) before a screenshot. Not
/// a synchronisation: every screenshot follows a wait for what it shows.
const SETTLE: Duration = Duration::from_millis(500);

/// One app (one display, one driver port, a single-instance app): scenarios
/// take turns even if the test harness runs them on several threads.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The desktop's tray host (a panel's StatusNotifierWatcher), kept across
/// scenarios; a scenario that wants a desktop without one stops it.
static TRAY_HOST: Mutex<Option<StatusNotifierWatcher>> = Mutex::new(None);

/// What the scenario's desktop shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desktop {
    /// A panel shows tray icons (KDE, XFCE, GNOME with the AppIndicator extension).
    WithTray,
    /// No tray icons anywhere (stock GNOME).
    NoTray,
}

/// Start or stop the tray host so the desktop is as `desktop` says.
fn arrange_desktop(desktop: Desktop) {
    let mut host = TRAY_HOST.lock().unwrap_or_else(|e| e.into_inner());
    match desktop {
        Desktop::WithTray if host.is_none() => {
            let watcher = StatusNotifierWatcher::start()
                .unwrap_or_else(|e| panic!("start a StatusNotifierWatcher on the session bus: {e}"));
            *host = Some(watcher);
        }
        Desktop::NoTray => *host = None,
        Desktop::WithTray => {}
    }
}

/// The session-bus name the app holds while it runs (tauri-plugin-single-instance:
/// the identifier in src-tauri/tauri.conf.json + `.SingleInstance`). A second app
/// started while it is owned hands over to the first one and exits.
const SINGLE_INSTANCE_NAME: &str = "dev.flowpilot.app.SingleInstance";

/// Whether some app still holds [`SINGLE_INSTANCE_NAME`] on the session bus.
fn single_instance_taken() -> bool {
    Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &format!("string:{SINGLE_INSTANCE_NAME}"),
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        .unwrap_or(false)
}

/// Wait (bounded) until no app holds the single-instance name; false if one still does.
fn await_single_instance_free() -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while single_instance_taken() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

/// What scripts/e2e.sh exports.
#[derive(Debug, Clone)]
pub struct Env {
    /// tauri-driver, as `host:port`.
    pub driver: String,
    /// The debug app binary, absolute.
    pub app: PathBuf,
    /// A folder for this run's per-scenario data; e2e.sh removes it.
    pub work: PathBuf,
    /// dbus-monitor's log of `org.freedesktop.Notifications` on the session bus.
    pub notifications: PathBuf,
    /// Where screenshots go (the repository's `screenshots/`).
    pub screenshots: PathBuf,
}

const HOW: &str = "run the end-to-end tests with scripts/e2e.sh (it starts Xvfb, a D-Bus session with \
                   gnome-keyring, dbus-monitor and tauri-driver, then runs this target)";

impl Env {
    /// `None` (after saying so) unless scripts/e2e.sh set `FLOWPILOT_E2E=1`:
    /// `cargo test --workspace` builds and runs this target too, and skips it.
    pub fn get() -> Option<Env> {
        if std::env::var("FLOWPILOT_E2E").as_deref() != Ok("1") {
            eprintln!("skipped: {HOW}");
            return None;
        }
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| panic!("FLOWPILOT_E2E=1 but {name} is not set: {HOW}"))
        };
        let driver = var("FLOWPILOT_E2E_DRIVER").to_string_lossy().to_string();
        let env = Env {
            driver: driver.trim_start_matches("http://").trim_end_matches('/').to_string(),
            app: PathBuf::from(var("FLOWPILOT_E2E_APP")),
            work: PathBuf::from(var("FLOWPILOT_E2E_WORK")),
            notifications: PathBuf::from(var("FLOWPILOT_E2E_NOTIFICATIONS")),
            screenshots: PathBuf::from(var("FLOWPILOT_E2E_SCREENSHOTS")),
        };
        assert!(
            env.app.is_absolute() && env.app.is_file(),
            "no app binary at {}: {HOW}",
            env.app.display()
        );
        assert!(std::env::var_os("DISPLAY").is_some(), "DISPLAY is not set: {HOW}");
        Some(env)
    }
}

/// Quote for a POSIX shell.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

/// The app of one scenario, driven over WebDriver. Dropping it ends the session
/// and makes sure the app process is gone (by its PID).
pub struct App {
    pub env: Env,
    pub scenario: String,
    pub dir: PathBuf,
    /// The app's `FLOWPILOT_DATA_DIR`.
    pub data_dir: PathBuf,
    pub pid: u32,
    pub wd: Session,
    started: Instant,
    _turn: MutexGuard<'static, ()>,
}

impl App {
    /// Start the app for `scenario` on a desktop with a tray; `None` when e2e is
    /// not enabled (skipped).
    pub fn launch(scenario: &str) -> Option<App> {
        Self::launch_on(scenario, Desktop::WithTray)
    }

    /// Start the app for `scenario` on `desktop`.
    pub fn launch_on(scenario: &str, desktop: Desktop) -> Option<App> {
        let env = Env::get()?;
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        arrange_desktop(desktop);
        let started = Instant::now();
        let dir = env.work.join(scenario);
        let _ = std::fs::remove_dir_all(&dir);
        let data_dir = dir.join("data");
        let xdg = dir.join("xdg");
        for d in [&data_dir, &xdg.join("data"), &xdg.join("config"), &xdg.join("cache")] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
        }
        // tauri-driver passes no environment through its capabilities (only
        // `application` and `args`), and every session's app inherits the
        // driver's environment. So the "application" is this launcher: it gives
        // the app its own data folder and XDG folders, records its PID and
        // `exec`s the real binary (same PID, nothing in between).
        let pid_file = dir.join("app.pid");
        let launcher = dir.join("flowpilot");
        let script = format!(
            "#!/bin/sh\n\
             echo $$ > {pid}\n\
             export FLOWPILOT_DATA_DIR={data}\n\
             export XDG_DATA_HOME={xdg}/data XDG_CONFIG_HOME={xdg}/config XDG_CACHE_HOME={xdg}/cache\n\
             exec {app} \"$@\"\n",
            pid = sh_quote(&pid_file),
            data = sh_quote(&data_dir),
            xdg = sh_quote(&xdg),
            app = sh_quote(&env.app),
        );
        std::fs::write(&launcher, script).expect("write the launcher");
        std::fs::set_permissions(&launcher, std::fs::Permissions::from_mode(0o755))
            .expect("make the launcher executable");

        let capabilities = json!({
            "tauri:options": {"application": launcher},
            // A native confirm(), should one appear, is accepted as a person would.
            "unhandledPromptBehavior": "accept",
        });
        // The previous scenario's app is gone from the bus too, or this one
        // would hand over to it and exit (and the session would never start).
        assert!(
            await_single_instance_free(),
            "an app still holds {SINGLE_INSTANCE_NAME} on the session bus 10 s after its scenario ended"
        );
        let (wd, pid) = start_session(&env, capabilities, &pid_file);
        eprintln!(
            "[{scenario}] app pid {pid}, data {} (session in {:?})",
            data_dir.display(),
            started.elapsed()
        );
        Some(App {
            env,
            scenario: scenario.to_string(),
            dir,
            data_dir,
            pid,
            wd,
            started,
            _turn: turn,
        })
    }

    // ---- waiting ----

    /// Poll `probe` until it gives a value; fail the scenario after `limit`.
    pub fn wait_for<T>(&self, what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("waited {limit:?} for {what}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Like `wait_for`, for probes that talk to WebDriver: transient errors
    /// (element gone, not yet interactable) mean "not yet", others fail.
    pub fn wait_wd<T>(&self, what: &str, limit: Duration, mut probe: impl FnMut() -> WdResult<Option<T>>) -> T {
        let mut last = None;
        let found = {
            let last = &mut last;
            let deadline = Instant::now() + limit;
            loop {
                match probe() {
                    Ok(Some(v)) => break Some(v),
                    Ok(None) => {}
                    Err(e) if e.is_transient() => *last = Some(e),
                    Err(e) => self.fail(&format!("{what}: {e}")),
                }
                if Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(POLL);
            }
        };
        found.unwrap_or_else(|| {
            let last = last.map(|e: WdError| format!(" (last: {e})")).unwrap_or_default();
            self.fail(&format!("waited {limit:?} for {what}{last}"))
        })
    }

    /// The first element matching `css` that is displayed.
    pub fn el(&self, css: &str) -> Element {
        self.wait_wd(&format!("a visible {css}"), WAIT, || {
            for el in self.wd.find_all(css)? {
                if self.wd.displayed(&el)? {
                    return Ok(Some(el));
                }
            }
            Ok(None)
        })
    }

    /// The elements matching `css` right now (no waiting).
    pub fn all(&self, css: &str) -> Vec<Element> {
        self.wd
            .find_all(css)
            .unwrap_or_else(|e| self.fail(&format!("find {css}: {e}")))
    }

    pub fn exists(&self, css: &str) -> bool {
        !self.all(css).is_empty()
    }

    /// Wait until the first visible `css` has a text for which `ok` holds; returns it.
    pub fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_wd(&format!("{css} to show {what}"), WAIT, || {
            for el in self.wd.find_all(css)? {
                if self.wd.displayed(&el)? {
                    let text = self.wd.text(&el)?;
                    return Ok(ok(text.trim()).then(|| text.trim().to_string()));
                }
            }
            Ok(None)
        })
    }

    /// The text of the global error region, when it shows one.
    pub fn shown_error(&self) -> Option<String> {
        for el in self.wd.find_all(&tid("error")).ok()? {
            if self.wd.displayed(&el).unwrap_or(false) {
                let text = self.wd.text(&el).unwrap_or_default();
                if !text.trim().is_empty() {
                    return Some(text);
                }
            }
        }
        None
    }

    /// Everything the page shows as text.
    pub fn page_text(&self) -> String {
        self.wd
            .execute("return document.body ? document.body.innerText : ''", vec![])
            .map(|v| v.as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    }

    // ---- acting ----

    /// Click the first visible `css`, retrying while the DOM moves.
    ///
    /// WebKitWebDriver scrolls the page to an element but not a scrolling box
    /// inside it (a wide table in an `overflow: auto` panel): when the element is
    /// out of that box's view, scroll it in, as a person would, and click again.
    pub fn click(&self, css: &str) {
        self.wait_wd(&format!("a click on {css}"), WAIT, || {
            for el in self.wd.find_all(css)? {
                if self.wd.displayed(&el)? {
                    match self.wd.click(&el) {
                        Err(e) if e.error == "element not interactable" => {
                            self.wd.execute(
                                "arguments[0].scrollIntoView({block: 'center', inline: 'center'})",
                                vec![el.to_arg()],
                            )?;
                            return Err(e);
                        }
                        other => other?,
                    }
                    return Ok(Some(()));
                }
            }
            Ok(None)
        });
    }

    /// Replace the text of the input or textarea `css` by typing `text`.
    pub fn fill(&self, css: &str, text: &str) {
        self.wait_wd(&format!("{css} to take {text:?}"), WAIT, || {
            let el = self.el(css);
            self.wd.clear(&el)?;
            self.wd.send_keys(&el, text)?;
            let now = self.wd.property(&el, "value")?;
            Ok((now.as_str() == Some(text)).then_some(()))
        });
    }

    /// Pick `value` (an option's value, else its visible text) in the select `css`.
    /// Set like the browser does when a person picks it: value, then input and change.
    pub fn select(&self, css: &str, value: &str) {
        let script = r#"
            const [sel, wanted] = arguments;
            const options = Array.from(sel.options);
            const opt = options.find(o => o.value === wanted)
                     || options.find(o => o.textContent.trim() === wanted)
                     || options.find(o => o.textContent.trim().toLowerCase().startsWith(wanted.toLowerCase()));
            if (!opt) return null;
            if (sel.value !== opt.value) {
                sel.value = opt.value;
                sel.dispatchEvent(new Event('input', {bubbles: true}));
                sel.dispatchEvent(new Event('change', {bubbles: true}));
            }
            return sel.value;"#;
        self.wait_wd(&format!("{css} to offer {value:?}"), WAIT, || {
            let el = self.el(css);
            let picked = self.wd.execute(script, vec![el.to_arg(), json!(value)])?;
            Ok(picked.as_str().map(str::to_string))
        });
    }

    /// Set a generated form field, whatever control the form chose for it.
    pub fn set_field(&self, css: &str, value: &str) {
        let el = self.el(css);
        let tag = self.wd.property(&el, "tagName").unwrap_or_default();
        if tag.as_str().is_some_and(|t| t.eq_ignore_ascii_case("select")) {
            self.select(css, value);
        } else {
            self.fill(css, value);
        }
    }

    /// Go to a screen through the navigation. When the navigation marks the
    /// current screen (`aria-current`), wait for it to be this one.
    pub fn nav(&self, screen: &str) {
        let link = tid(&format!("nav-{screen}"));
        self.click(&link);
        let current = "[aria-current]:not([aria-current=\"false\"])";
        if self.exists(&format!("[data-testid^=\"nav-\"]{current}")) {
            self.el(&format!("{link}{current}"));
        }
    }

    /// Send the plan file at `path` to the Plans screen's file input.
    pub fn import_file(&self, path: &Path) {
        self.nav("plans");
        let input = self
            .wd
            .find(&tid("import-file-input"))
            .unwrap_or_else(|e| self.fail(&format!("no import-file-input: {e}")));
        self.wd
            .send_keys(&input, &path.to_string_lossy())
            .unwrap_or_else(|e| self.fail(&format!("send {} to import-file-input: {e}", path.display())));
    }

    /// After an import (a file, an example) of the plan `name`: wait for it, in
    /// the list (`false`) or open in the editor (`true`, then saved), and stored.
    pub fn imported(&self, name: &str) -> bool {
        let row = plan_row(name);
        let in_editor = self.wait_wd(
            &format!("the imported plan {name:?} (a row or the editor)"),
            WAIT,
            || {
                if !self.wd.find_all(&row)?.is_empty() {
                    return Ok(Some(false));
                }
                for el in self.wd.find_all(&tid("plan-name"))? {
                    if self.wd.property(&el, "value")?.as_str() == Some(name) {
                        return Ok(Some(true));
                    }
                }
                Ok(None)
            },
        );
        if in_editor && self.stored_plan(name).is_none() {
            self.click(&tid("save-plan"));
        }
        self.wait_for(&format!("the imported plan {name:?} to be stored"), WAIT, || {
            self.stored_plan(name)
        });
        in_editor
    }

    /// On the Runs screen: open the first run with `status`, with the link in its
    /// row (WebKitWebDriver will not click a table row itself).
    pub fn open_run_row(&self, status: &str) {
        let row = format!("{}[data-status=\"{status}\"]", tid("run-row"));
        self.el(&row);
        if self.exists(&format!("{row} a")) {
            self.click(&format!("{row} a"));
        } else {
            self.click(&row);
        }
    }

    /// Open run `run_id`'s page by its address (as a notification's "Open run" does).
    pub fn open_run(&self, run_id: &str) {
        let go = format!("location.hash = '#/runs/{run_id}'");
        self.wd
            .execute(&go, vec![])
            .unwrap_or_else(|e| self.fail(&format!("open the run's page: {e}")));
    }

    /// On a run's page: open "What started this run" and wait until it shows `expected`.
    pub fn run_trigger_event_shows(&self, expected: &str) {
        let event = self.el(&tid("run-trigger-event"));
        self.click(&format!("{} summary", tid("run-trigger-event")));
        self.wait_for(
            &format!("the run detail to show {expected:?} as what started it"),
            WAIT,
            || self.wd.text(&event).ok().filter(|t| t.contains(expected)),
        );
    }

    /// Open the editor on the plan `name` from the Plans screen.
    pub fn edit_plan(&self, name: &str) {
        self.nav("plans");
        self.click(&format!("{} {}", plan_row(name), tid("plan-edit")));
        self.wait_wd("the editor on the plan", WAIT, || {
            for el in self.wd.find_all(&tid("plan-name"))? {
                if self.wd.property(&el, "value")?.as_str() == Some(name) {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        });
    }

    /// A command of the app, called from the page like the UI does.
    pub fn invoke(&self, command: &str, args: Value) -> Value {
        let script = "return window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1])\
                      .then(ok => ({ok}), err => ({err}))";
        let v = self
            .wd
            .execute(script, vec![json!(command), args])
            .unwrap_or_else(|e| self.fail(&format!("invoke {command}: {e}")));
        if !v["err"].is_null() {
            self.fail(&format!("invoke {command} failed: {}", v["err"]));
        }
        v["ok"].clone()
    }

    // ---- evidence ----

    /// Save a screenshot of the window's page as `<name>.png` in the screenshots folder.
    ///
    /// WebKitGTK can hand out its previous frame (seen on the first screenshot
    /// after the window opens): shoot until two frames in a row are the same
    /// (bounded; an animation would never settle).
    pub fn screenshot(&self, name: &str) -> PathBuf {
        std::thread::sleep(SETTLE);
        let shoot = || {
            self.wd
                .screenshot()
                .unwrap_or_else(|e| self.fail(&format!("screenshot {name}: {e}")))
        };
        let mut png = shoot();
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(200));
            let next = shoot();
            if next == png {
                break;
            }
            png = next;
        }
        assert!(png.starts_with(b"\x89PNG"), "the screenshot {name} is not a PNG");
        std::fs::create_dir_all(&self.env.screenshots).expect("create the screenshots folder");
        let path = self.env.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("[{}] screenshot {}", self.scenario, path.display());
        path
    }

    /// Scroll `css` to the middle of the window, then take the screenshot `name`.
    pub fn screenshot_at(&self, css: &str, name: &str) -> PathBuf {
        let el = self.el(css);
        if let Err(e) = self.wd.execute(
            "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})",
            vec![el.to_arg()],
        ) {
            self.fail(&format!("scroll to {css}: {e}"));
        }
        self.screenshot(name)
    }

    /// The app's log files (tracing, daily), concatenated.
    pub fn app_log(&self) -> String {
        let logs = self.dir.join("xdg/data/dev.flowpilot.app/logs");
        let Ok(entries) = std::fs::read_dir(logs) else {
            return String::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    /// Fail the scenario: a screenshot, the page's text and the app's log go
    /// with the message.
    pub fn fail(&self, message: &str) -> ! {
        panic!("[{}] {message}", self.scenario)
    }

    fn report_failure(&self) {
        let shot = self.wd.screenshot().ok().and_then(|png| {
            let path = self.env.screenshots.join(format!("FAILED-{}.png", self.scenario));
            std::fs::create_dir_all(&self.env.screenshots).ok()?;
            std::fs::write(&path, png).ok().map(|()| path)
        });
        let log = self.app_log();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        eprintln!(
            "---- [{}] failed after {:?}\nscreenshot: {}\npage text:\n{}\napp log (last 40 lines):\n{}\n----",
            self.scenario,
            self.started.elapsed(),
            shot.map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            self.page_text(),
            tail.join("\n"),
        );
    }

    // ---- the process and the desktop ----

    pub fn is_running(&self) -> bool {
        alive(self.pid)
    }

    /// The names of the app's child processes that are WebKit's (web, network).
    pub fn webkit_processes(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter_map(|stat| {
                let name = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?.to_string();
                let ppid: u32 = stat
                    .get(stat.rfind(')')? + 1..)?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                (ppid == self.pid && name.starts_with("WebKit")).then_some(name)
            })
            .collect()
    }

    /// The app's mapped, closable X11 windows.
    pub fn windows(&self) -> Vec<x11::Window> {
        x11::Display::open()
            .and_then(|mut d| d.app_windows(self.pid))
            .unwrap_or_else(|e| self.fail(&format!("look at the X11 windows: {e}")))
    }

    /// Close the app's window the way a window manager does on a click on its
    /// close button, and wait until it is no longer mapped.
    pub fn close_window(&self) {
        self.press_close();
        self.wait_for("the window to go away after the close request", WAIT, || {
            self.windows().is_empty().then_some(())
        });
    }

    /// Press the window's close button (as a window manager sends it) and return
    /// at once: the app may close the window, or ask first.
    pub fn press_close(&self) {
        let windows = self.wait_for("the app's window on the display", WAIT, || {
            Some(self.windows()).filter(|w| !w.is_empty())
        });
        let mut display = x11::Display::open().unwrap_or_else(|e| self.fail(&e.to_string()));
        for w in &windows {
            match display.request_close(w.id) {
                // Gone already: as good as closed.
                Ok(()) | Err(x11::XError::WindowGone(_)) => {}
                Err(e) => self.fail(&format!("close window {:#x}: {e}", w.id)),
            }
        }
    }

    /// `flowpilot-cli --json` on this app's data folder (the same SQLite file).
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = cli(&self.data_dir, args);
        if !out.status.success() {
            self.fail(&format!(
                "flowpilot-cli {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            self.fail(&format!(
                "flowpilot-cli {}: not JSON ({e}): {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout)
            ))
        })
    }

    /// The stored plan named `name`, if any (through the CLI).
    pub fn stored_plan(&self, name: &str) -> Option<Value> {
        let plans = self.cli_json(&["plans", "list", "--json"]);
        plans.as_array()?.iter().find(|p| p["name"] == name).cloned()
    }

    /// What dbus-monitor has seen on the session bus so far.
    /// The tray icons registered with the desktop's tray host so far (none without one).
    pub fn tray_items(&self) -> Vec<String> {
        let host = TRAY_HOST.lock().unwrap_or_else(|e| e.into_inner());
        host.as_ref().map(StatusNotifierWatcher::items).unwrap_or_default()
    }

    pub fn notifications_log(&self) -> String {
        std::fs::read_to_string(&self.env.notifications).unwrap_or_default()
    }

    /// Write a plan file into this scenario's folder; returns its absolute path.
    pub fn write_plan(&self, file: &str, plan: &Value) -> PathBuf {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_string_pretty(plan).expect("a plan serialises"))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.report_failure();
        }
        if let Err(e) = self.wd.delete() {
            eprintln!("[{}] ending the WebDriver session: {e}", self.scenario);
        }
        // WebKitWebDriver stops the app with the session; make sure, by PID,
        // so the next scenario's app is not taken for a second instance.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if self.is_running() {
            eprintln!(
                "[{}] the app (pid {}) outlived its session: killing it",
                self.scenario, self.pid
            );
            let _ = Command::new("kill").arg("-KILL").arg(self.pid.to_string()).status();
        }
        if !await_single_instance_free() {
            eprintln!(
                "[{}] {SINGLE_INSTANCE_NAME} is still owned on the session bus",
                self.scenario
            );
        }
        eprintln!("[{}] done in {:?}", self.scenario, self.started.elapsed());
    }
}

/// Whether process `pid` runs (a zombie, exited but not yet reaped, does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// Start a session, whose app the launcher starts. WebKitWebDriver waits for
/// the app to connect however long it takes: an app that exits during start-up
/// fails the scenario at once, with the driver's log (where the app's stderr goes).
fn start_session(env: &Env, capabilities: Value, pid_file: &Path) -> (Session, u32) {
    let driver = env.driver.clone();
    let starting = std::thread::spawn(move || Session::start(&driver, capabilities));
    let read_pid = || -> Option<u32> { std::fs::read_to_string(pid_file).ok()?.trim().parse().ok() };
    let driver_log = || {
        std::env::var_os("FLOWPILOT_E2E_DRIVER_LOG")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|log| {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            })
            .unwrap_or_default()
    };
    while !starting.is_finished() {
        if let Some(pid) = read_pid()
            && !alive(pid)
        {
            panic!(
                "the app (pid {pid}) exited while its WebDriver session was starting; tauri-driver's log:\n{}",
                driver_log()
            );
        }
        std::thread::sleep(POLL);
    }
    let session = starting
        .join()
        .unwrap_or_else(|_| panic!("the session start panicked"))
        .unwrap_or_else(|e| {
            panic!(
                "cannot start a WebDriver session at {}: {e}\n{HOW}\ntauri-driver's log:\n{}",
                env.driver,
                driver_log()
            )
        });
    let pid = read_pid().unwrap_or_else(|| panic!("the launcher wrote no PID to {}", pid_file.display()));
    (session, pid)
}

/// `flowpilot-cli` (built by this package) on a data folder.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowpilot-cli-under-test"))
        .args(args)
        .env("FLOWPILOT_DATA_DIR", data_dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run flowpilot-cli")
}

/// Import the plan file at `path` and get to its editor.
pub fn import_and_edit(app: &App, path: &Path, name: &str) {
    app.import_file(path);
    if !app.imported(name) {
        app.edit_plan(name);
    }
}

/// The Plans screen's row of the plan `name`.
pub fn plan_row(name: &str) -> String {
    format!("{}[data-plan-name=\"{name}\"]", tid("plan-row"))
}

/// `[data-testid="id"]`.
pub fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// The editor's step `index` (0-based), or something inside it.
pub fn step(index: usize, inner: &str) -> String {
    let step = format!("{}[data-index=\"{index}\"]", tid("step"));
    if inner.is_empty() {
        step
    } else {
        format!("{step} {}", tid(inner))
    }
}

/// A runtime for the HTTP peers; they serve on its worker threads while the
/// scenario drives the window from the test's thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
