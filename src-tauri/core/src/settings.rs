//! App settings, stored as one JSON value in the settings table. Unknown or
//! missing fields take their defaults, so old and new versions read each other.

use crate::store::RetentionPolicy;
use serde::{Deserialize, Serialize};

pub const SETTINGS_KEY: &str = "app";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct Settings {
    /// Raise desktop notifications (failures, recoveries, catch-ups).
    pub notifications: bool,
    /// Plans (by id) that also notify on success.
    pub notify_success_plans: Vec<String>,
    /// Start Flowpilot, hidden in the tray, when the user logs in.
    pub start_at_login: bool,
    /// Runs older than this many days are pruned (failures: `retention_failed_days`);
    /// only the newest `retention_max_runs` are kept. Each plan's latest failed or
    /// interrupted run is always kept (for its replay), running runs too.
    pub retention_days: u32,
    pub retention_failed_days: u32,
    pub retention_max_runs: u64,
    /// Scheduled runs that may run at the same time, all plans together.
    pub concurrency: u32,
    /// Pause a plan's schedule after this many failed scheduled runs in a row,
    /// with a notification (0: never). On by default, after 10.
    pub auto_pause_after: u32,
    /// Missed fires older than this are counted, not run.
    pub catch_up_window_hours: u32,
    /// Closing the window leaves Flowpilot running (in the tray, schedules and
    /// triggers going); off, closing the window quits it.
    pub keep_running_when_closed: bool,
    /// Where the webhook server listens and the URLs it shows.
    pub webhooks: WebhookSettings,
}

/// The port the webhook server listens on unless the settings or `--port` say otherwise.
pub const DEFAULT_WEBHOOK_PORT: u16 = 8737;

/// The local HTTP server that receives webhook calls (in the tray app or `flowpilot-cli serve`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct WebhookSettings {
    pub port: u16,
    /// The address to listen on: `127.0.0.1` (this computer only, the default).
    /// Anything else lets other computers call the plans' URLs (each still needs
    /// its secret token).
    pub bind_address: String,
    /// The address other services reach this server by, for a user who runs a
    /// tunnel or reverse proxy (`https://hooks.example.com`): it changes the URLs shown.
    pub public_base_url: Option<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            port: DEFAULT_WEBHOOK_PORT,
            bind_address: "127.0.0.1".into(),
            public_base_url: None,
        }
    }
}

impl WebhookSettings {
    /// What listening on `bind_address` exposes, when it is more than this computer.
    pub fn exposure(&self) -> Option<String> {
        let ip: std::net::IpAddr = self.bind_address.parse().ok()?;
        (!ip.is_loopback()).then(|| {
            format!(
                "Webhooks listen on {}:{}: any computer that can reach this one on that port can call a plan's URL (it still needs the URL's secret token). Use 127.0.0.1 to accept calls from this computer only.",
                self.bind_address, self.port
            )
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            notifications: true,
            notify_success_plans: Vec::new(),
            start_at_login: false,
            retention_days: 30,
            retention_failed_days: 90,
            retention_max_runs: 10_000,
            concurrency: 4,
            auto_pause_after: 10,
            catch_up_window_hours: 24,
            webhooks: WebhookSettings::default(),
            keep_running_when_closed: true,
        }
    }
}

impl Settings {
    /// The retention these settings ask for.
    pub fn retention(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_age_days: self.retention_days,
            max_runs: self.retention_max_runs,
            failed_max_age_days: self.retention_failed_days,
        }
    }

    /// Values a person could not have meant, as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !(1..=64).contains(&self.concurrency) {
            out.push(("concurrency", "between 1 and 64".to_string()));
        }
        if self.retention_days == 0 || self.retention_failed_days == 0 {
            out.push(("retention_days", "at least one day".to_string()));
        }
        if self.retention_max_runs < 10 {
            out.push(("retention_max_runs", "at least 10 runs".to_string()));
        }
        if !(1..=24 * 30).contains(&self.catch_up_window_hours) {
            out.push(("catch_up_window_hours", "between 1 hour and 30 days".to_string()));
        }
        if self.webhooks.port == 0 {
            out.push(("webhooks.port", "a port from 1 to 65535".to_string()));
        }
        if self.webhooks.bind_address.parse::<std::net::IpAddr>().is_err() {
            out.push((
                "webhooks.bind_address",
                "an IP address to listen on, such as 127.0.0.1 (this computer only) or 0.0.0.0 (every network)"
                    .to_string(),
            ));
        }
        if let Some(base) = &self.webhooks.public_base_url
            && let Some(problem) = flowpilot_engine::providers::net::url_problem(base)
        {
            out.push(("webhooks.public_base_url", problem));
        }
        out
    }
}
