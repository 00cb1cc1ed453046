//! Whether this desktop shows tray icons at all.
//!
//! On Linux the tray icon is a StatusNotifierItem (libayatana-appindicator): it
//! is shown only if a StatusNotifier *host* (a panel) is registered with the
//! session's `org.kde.StatusNotifierWatcher`. KDE, XFCE, Cinnamon, MATE, Budgie,
//! LXQt and GNOME with the AppIndicator extension have one; stock GNOME has none,
//! and there a closed window would leave an invisible process with no way to
//! quit it. So when no host is registered, closing the window asks first
//! (`window::close_requested`) and Settings says why.
//!
//! A desktop with only an old XEmbed tray counts as having none: closing then
//! asks, which is the safe side.

use serde::{Deserialize, Serialize};
use specta::Type;

/// What the desktop offers for the tray icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum TrayHost {
    /// A panel shows tray icons: Flowpilot's icon, with Open and Quit, is there.
    Shown,
    /// Nothing shows tray icons (or the session bus cannot be asked).
    Missing,
}

impl TrayHost {
    pub fn is_shown(self) -> bool {
        self == Self::Shown
    }
}

/// The person's answer to "keep running without a tray icon?" (`window::close_requested` asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum CloseAnswer {
    /// Keep the window open.
    Stay,
    /// Close the window; schedules and triggers keep running.
    KeepRunning,
    /// Quit Flowpilot.
    Quit,
}

/// Ask the session bus now (a panel may start after Flowpilot, so never cached).
#[cfg(target_os = "linux")]
pub fn detect() -> TrayHost {
    match status_notifier_host() {
        Ok(true) => TrayHost::Shown,
        Ok(false) => TrayHost::Missing,
        Err(e) => {
            tracing::debug!("no StatusNotifier watcher on the session bus: {e}");
            TrayHost::Missing
        }
    }
}

#[cfg(target_os = "linux")]
fn status_notifier_host() -> zbus::Result<bool> {
    let bus = zbus::blocking::Connection::session()?;
    // One Get, not a cache of every property kept up to date by signals.
    let watcher: zbus::blocking::Proxy<'_> = zbus::blocking::proxy::Builder::new(&bus)
        .destination("org.kde.StatusNotifierWatcher")?
        .path("/StatusNotifierWatcher")?
        .interface("org.kde.StatusNotifierWatcher")?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()?;
    watcher.get_property::<bool>("IsStatusNotifierHostRegistered")
}

/// Windows and macOS always show the app's icon in the notification area / menu bar.
#[cfg(not(target_os = "linux"))]
pub fn detect() -> TrayHost {
    TrayHost::Shown
}
