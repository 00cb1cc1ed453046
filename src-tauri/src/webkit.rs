//! What keeps a tray-only Flowpilot light on Linux: no GL while no window has
//! been opened, and none of WebKit's processes once the window is closed.
//!
//! Measured on Debian 12 (GTK 3.24, WebKitGTK 2.50, Mesa llvmpipe under Xvfb):
//! - GTK's X11 backend sets up GLX when it opens the display, which maps Mesa's
//!   driver and libLLVM (~45 MiB RSS) into a process that may never show a
//!   window. `GDK_GL=disable` stops that. WebKit then draws the page without
//!   GTK's GL (it logs once that it disabled hardware acceleration); the page
//!   renders the same, and the window costs less memory.
//! - Creating the first webview still opened an EGL display in this process, to
//!   ask which GPU the web process should use (for its DMA-BUF renderer and its
//!   render node), and that mapped Mesa and libLLVM again (~50 MiB), for the
//!   life of the tray: the closed window left 182 MiB where the hidden start had
//!   88. With the DMA-BUF renderer off (the page is drawn without GL here anyway)
//!   and the render node named up front (the first one, which is WebKit's own
//!   fallback; `/dev/null` where there is none), it asks nothing: 127 MiB after
//!   the window closed, 385 instead of 440 with it open, and the page paints the
//!   same. The web process still uses GL as it likes, and ends with the window.
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

/// WebKit's switches for the GPU it looks for: the DMA-BUF renderer, and the
/// render node the web process is given.
const DISABLE_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
const RENDER_DEVICE: &str = "WEBKIT_WEB_RENDER_DEVICE_FILE";

/// Where Linux lists the GPUs' device files.
const DRI: &str = "/dev/dri";

/// Keep GTK and WebKit from loading GL into this process. Call before anything
/// initialises GTK, while the process has one thread (the environment is
/// process-wide). A `GDK_GL` the person set (even empty, which means GTK's
/// default) keeps everything as GTK and WebKit choose; so does any of WebKit's
/// variables they set.
pub fn no_gl_until_asked() {
    let render_node = || first_render_node(std::path::Path::new(DRI));
    for (name, value) in gl_defaults(|name| std::env::var_os(name).is_some(), render_node) {
        // glib's setter, because the standard library's is `unsafe` (and unsafe
        // code is forbidden here); with one thread it is sound either way.
        if let Err(e) = glib::setenv(name, &value, false) {
            eprintln!("Flowpilot: cannot set {name}: {e}");
        }
    }
}

/// The variables to set, given which are set already.
fn gl_defaults(
    is_set: impl Fn(&str) -> bool,
    render_node: impl FnOnce() -> Option<std::path::PathBuf>,
) -> Vec<(&'static str, std::ffi::OsString)> {
    if is_set(GDK_GL) {
        return Vec::new();
    }
    let mut set = vec![(GDK_GL, "disable".into())];
    if !is_set(DISABLE_DMABUF) {
        set.push((DISABLE_DMABUF, "1".into()));
    }
    if !is_set(RENDER_DEVICE) {
        // Never empty: WebKit asks EGL when it is.
        let node = render_node().unwrap_or_else(|| "/dev/null".into());
        set.push((RENDER_DEVICE, node.into_os_string()));
    }
    set
}

/// The first GPU render node (`renderD128`, ...) in `dri`, if any.
fn first_render_node(dri: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut nodes: Vec<_> = std::fs::read_dir(dri)
        .ok()?
        .flatten()
        .map(|entry| entry.file_name())
        .filter(|name| name.to_str().is_some_and(|n| n.starts_with("renderD")))
        .collect();
    nodes.sort();
    nodes.first().map(|name| dri.join(name))
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
    fn gl_stays_off_unless_the_person_chose() {
        let names = |set: &[(&str, std::ffi::OsString)]| -> Vec<String> {
            set.iter()
                .map(|(k, v)| format!("{k}={}", v.to_string_lossy()))
                .collect()
        };
        let node = || Some(std::path::PathBuf::from("/dev/dri/renderD128"));
        assert_eq!(
            names(&gl_defaults(|_| false, node)),
            [
                "GDK_GL=disable",
                "WEBKIT_DISABLE_DMABUF_RENDERER=1",
                "WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/dri/renderD128"
            ]
        );
        // No GPU: still named, so WebKit does not open EGL to look for one.
        assert_eq!(
            names(&gl_defaults(|_| false, || None))[2],
            "WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null"
        );
        // GDK_GL set (the end-to-end tests, or a person who wants GL): nothing.
        assert!(gl_defaults(|name| name == GDK_GL, node).is_empty());
        // WebKit's own variables, set by the person, are kept.
        let kept = gl_defaults(|name| name == RENDER_DEVICE || name == DISABLE_DMABUF, node);
        assert_eq!(names(&kept), ["GDK_GL=disable"]);
    }

    #[test]
    fn the_first_render_node_is_picked_and_none_is_none() {
        let dri = tempfile::tempdir().unwrap();
        assert_eq!(first_render_node(dri.path()), None);
        for name in ["card0", "renderD129", "renderD128", "by-path"] {
            std::fs::write(dri.path().join(name), b"").unwrap();
        }
        assert_eq!(first_render_node(dri.path()), Some(dri.path().join("renderD128")));
        assert_eq!(first_render_node(&dri.path().join("missing")), None);
    }

    #[test]
    fn no_process_is_a_network_child_of_a_pid_that_does_not_exist() {
        assert!(network_processes_of(u32::MAX).is_empty());
    }
}
