//! What keeps a tray-only Flowpilot light on Linux: no GL while no window has
//! been opened, and none of WebKit's processes once the window is closed.
//!
//! Measured on Debian 12 (GTK 3.24, WebKitGTK 2.50, Mesa llvmpipe under Xvfb):
//! - GTK's X11 backend sets up GLX when it opens the display, which maps Mesa's
//!   driver and libLLVM (~45 MiB RSS) into a process that may never show a
//!   window. `GDK_GL=disable` stops that. WebKit then draws the page without
//!   GTK's GL (it logs once that it disabled hardware acceleration); the page
//!   renders the same, and the window costs less memory.
//! - WebKit's network process lives as long as a web context of the app does,
//!   and a closed webview's context is never released: the runtime keeps it on
//!   Linux, and wry's IPC handler closes over the webview from the webview's
//!   own content manager, a reference cycle that outlives the window. So the
//!   network process (~60 MiB) would stay for the life of the tray. Once the
//!   last window has been gone for [`GRACE`], it is ended; the web process has
//!   already ended with its page, and the next window starts both afresh.

use std::time::Duration;
use tauri::{AppHandle, Manager, Runtime};

/// The variable GTK reads for its GL options.
const GDK_GL: &str = "GDK_GL";

/// How long the network process may finish what the closed page left (its
/// storage writes are committed within a second) before it is ended.
pub const GRACE: Duration = Duration::from_secs(3);

/// The name the kernel gives WebKit's network process (`comm`, 15 bytes).
const NETWORK_PROCESS: &str = "WebKitNetworkPr";

/// Keep GTK from loading GL at start. Call before anything initialises GTK,
/// while the process has one thread (the environment is process-wide). A
/// `GDK_GL` the person set (even empty, which means GTK's default) is kept.
pub fn no_gl_until_asked() {
    if std::env::var_os(GDK_GL).is_some() {
        return;
    }
    // glib's setter, because the standard library's is `unsafe` (and unsafe
    // code is forbidden here); with one thread it is sound either way.
    if let Err(e) = glib::setenv(GDK_GL, "disable", false) {
        eprintln!("Flowpilot: cannot set {GDK_GL}: {e}");
    }
}

/// A window was destroyed: if none is left after [`GRACE`], end WebKit's
/// network process.
pub fn window_destroyed<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(GRACE).await;
        let main = app.clone();
        // Windows are created on the main thread: checking there means no
        // window can be on its way while the process is ended.
        let queued = app.run_on_main_thread(move || {
            if main.webview_windows().is_empty() {
                end_network_processes();
            }
        });
        if let Err(e) = queued {
            tracing::warn!("cannot check for WebKit's idle network process: {e}");
        }
    });
}

/// SIGTERM every network process WebKit started for this process.
fn end_network_processes() {
    let me = std::process::id();
    for pid in network_processes_of(me) {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            continue;
        };
        match rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            Ok(()) => tracing::info!(
                pid = pid.as_raw_nonzero().get(),
                "no window left: WebKit's network process ended"
            ),
            Err(e) => tracing::warn!("cannot end WebKit's network process: {e}"),
        }
    }
}

/// The children of `parent` that are WebKit network processes, from /proc.
fn network_processes_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .is_some_and(|stat| parse_stat(&stat) == Some((NETWORK_PROCESS, parent)))
        })
        .collect()
}

/// `comm` and the parent pid from a `/proc/<pid>/stat` line:
/// `pid (comm) state ppid …`, where comm may itself hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(&str, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_parent() {
        let line = "4242 (WebKitNetworkPr) S 4200 4200 4200 0 -1 4194560 1735 0 0 0";
        assert_eq!(parse_stat(line), Some(("WebKitNetworkPr", 4200)));
        let odd = "7 (a (b) c) R 1 7 7 0";
        assert_eq!(parse_stat(odd), Some(("a (b) c", 1)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn no_process_is_a_network_child_of_a_pid_that_does_not_exist() {
        assert!(network_processes_of(u32::MAX).is_empty());
    }
}
