//! A desktop panel's StatusNotifierWatcher on the session bus, so the app's tray
//! icon has somewhere to go, as on KDE, XFCE or GNOME with the AppIndicator
//! extension. Without one (stock GNOME) the app asks before its window closes.
//! The end-to-end scenarios serve it in-process (`closing::without_a_tray_host…`
//! runs with none); scripts/measure-memory.sh runs the `status-notifier-watcher`
//! binary, so closing the window there closes it as on such a desktop. It answers
//! the calls libayatana-appindicator makes and records the items that registered.

use std::sync::{Arc, Mutex};
use zbus::blocking::{Connection, connection};
use zbus::message::Header;

const NAME: &str = "org.kde.StatusNotifierWatcher";
const PATH: &str = "/StatusNotifierWatcher";

struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// An app's icon: `service` is a bus name or an object path on the caller's connection.
    fn register_status_notifier_item(&self, service: &str, #[zbus(header)] header: Header<'_>) {
        let sender = header.sender().map(ToString::to_string).unwrap_or_default();
        let item = if service.starts_with('/') {
            format!("{sender}{service}")
        } else {
            service.to_string()
        };
        self.items.lock().unwrap_or_else(|e| e.into_inner()).push(item);
    }

    /// The panel itself registers as the host; this one is always there.
    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// A running watcher; dropping it leaves the bus (the desktop then shows no tray icons).
pub struct StatusNotifierWatcher {
    _bus: Connection,
    items: Arc<Mutex<Vec<String>>>,
}

impl StatusNotifierWatcher {
    /// Take the watcher's name on the session bus (`DBUS_SESSION_BUS_ADDRESS`).
    pub fn start() -> zbus::Result<Self> {
        let items = Arc::new(Mutex::new(Vec::new()));
        let bus = connection::Builder::session()?
            .name(NAME)?
            .serve_at(PATH, Watcher { items: items.clone() })?
            .build()?;
        Ok(Self { _bus: bus, items })
    }

    /// The items (tray icons) registered so far.
    pub fn items(&self) -> Vec<String> {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
