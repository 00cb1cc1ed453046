//! What starts a plan besides a person: a schedule, or an event (a webhook call,
//! a new email, a new feed item, a Telegram message, a new item at a URL). Part
//! of the one plan definition: the JSON Schema, the TypeScript type and the
//! drafting schema come from these types and their doc comments.

use crate::providers::http::Auth;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How an HTTP request proves who it is: the same `auth` as an `http.request` step.
pub type HttpAuth = Auth;

/// The shortest time between two checks of a polling trigger.
pub const MIN_INTERVAL_S: u32 = 10;
/// The time between two checks when a trigger does not say.
pub const DEFAULT_INTERVAL_S: u32 = 120;
/// The most existing items a trigger runs for when it is activated.
pub const MAX_RUN_EXISTING: u32 = 20;

/// What starts a plan besides a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// Only by hand (the app's Run, `flowpilot-cli run`).
    #[default]
    Manual,
    /// On a cron schedule.
    Cron(CronTrigger),
    /// When someone calls the plan's own URL (`http://127.0.0.1:<port>/hooks/<token>`).
    /// Received only while Flowpilot runs (the tray app or `flowpilot-cli serve`).
    Webhook(WebhookTrigger),
    /// When a new email arrives in an IMAP mailbox.
    Email(EmailTrigger),
    /// When a feed (RSS, Atom or JSON Feed) has a new item.
    Feed(FeedTrigger),
    /// When a Telegram bot receives a message.
    Telegram(TelegramTrigger),
    /// When a JSON API lists a new item.
    Poll(PollTrigger),
}

impl Trigger {
    /// The trigger's `type` as written in files.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Cron(_) => "cron",
            Self::Webhook(_) => "webhook",
            Self::Email(_) => "email",
            Self::Feed(_) => "feed",
            Self::Telegram(_) => "telegram",
            Self::Poll(_) => "poll",
        }
    }

    /// Whether an event starts it (not a person or a clock).
    pub fn is_event(&self) -> bool {
        !matches!(self, Self::Manual | Self::Cron(_))
    }

    /// Whether it watches a source for new items (every event trigger but the webhook).
    pub fn is_polling(&self) -> bool {
        self.is_event() && !matches!(self, Self::Webhook(_))
    }

    /// The stored credential it reads, as `(provider, name)`: the keychain entry
    /// `<provider>/<name>` (`email/work-inbox`, `telegram/bot`, `webhook/github`, `http/api`).
    pub fn credential(&self) -> Option<(&'static str, &str)> {
        match self {
            Self::Email(t) => Some(("email", t.credential.as_str())),
            Self::Telegram(t) => Some(("telegram", t.credential.as_str())),
            Self::Webhook(t) => t.signature.as_ref().map(|s| ("webhook", s.credential.as_str())),
            Self::Poll(t) => t.auth.as_ref().map(|a| ("http", a.credential())),
            Self::Manual | Self::Cron(_) | Self::Feed(_) => None,
        }
    }

    /// The time between checks of a polling trigger (Telegram long-polls: none).
    pub fn interval(&self) -> Option<Duration> {
        let seconds = match self {
            Self::Email(t) => t.interval_s,
            Self::Feed(t) => t.interval_s,
            Self::Poll(t) => t.interval_s,
            _ => return None,
        };
        Some(Duration::from_secs(u64::from(seconds.max(MIN_INTERVAL_S))))
    }

    /// How many of the newest existing items to run for when the trigger is activated.
    pub fn run_existing(&self) -> u32 {
        let n = match self {
            Self::Email(t) => t.run_existing,
            Self::Feed(t) => t.run_existing,
            Self::Telegram(t) => t.run_existing,
            Self::Poll(t) => t.run_existing,
            _ => 0,
        };
        n.min(MAX_RUN_EXISTING)
    }

    /// What an event does while a run of the plan is still going.
    pub fn event_overlap(&self) -> EventOverlap {
        match self {
            Self::Webhook(t) => t.overlap,
            Self::Email(t) => t.overlap,
            Self::Feed(t) => t.overlap,
            Self::Telegram(t) => t.overlap,
            Self::Poll(t) => t.overlap,
            Self::Manual | Self::Cron(_) => EventOverlap::Allow,
        }
    }
}

/// A cron schedule in an IANA time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct CronTrigger {
    /// 5 fields (minute hour day month weekday), or 6 with seconds first.
    #[schemars(length(min = 1))]
    pub cron_expression: String,
    /// An IANA zone (`Europe/Berlin`); the system's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Fires missed while Flowpilot was not running or the machine slept.
    #[serde(default)]
    pub catch_up: CatchUp,
    /// A fire that comes while the previous run still runs.
    #[serde(default)]
    pub overlap: Overlap,
}

/// What to do about fires missed while Flowpilot was not running or the machine slept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Record how many were missed; run none.
    Skip,
    /// One run for the latest missed fire.
    #[default]
    RunOnce,
    /// A run for each missed fire in the catch-up window, at most 10.
    RunAll,
}

/// What to do when a fire comes while the previous run still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Drop the fire and record it.
    #[default]
    Skip,
    /// Run the newest waiting fire once the current run ends.
    QueueOne,
    /// Run at once, within the global concurrency limit.
    Allow,
}

/// What to do with an event (a call, a new item) that comes while a run of the plan still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventOverlap {
    /// Run at once, within the global concurrency limit (runs start in the order the events came).
    #[default]
    Allow,
    /// Wait for the run before to end: one run of the plan at a time, in order. Nothing is dropped.
    Queue,
    /// Drop the event and record it (a webhook is answered 409).
    Skip,
}

/// How a webhook call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookResponse {
    /// At once: `202 {"run_id": ...}`.
    #[default]
    Async,
    /// After the run, up to `wait_s`: `200` with the last step's output as JSON, `500`
    /// with the run's error if it failed, `202 {"run_id": ...}` if it still runs.
    Sync,
}

/// A call to the plan's own URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct WebhookTrigger {
    /// `async` (answer at once with the run's id) or `sync` (answer with the run's result).
    #[serde(default)]
    pub respond: WebhookResponse,
    /// In `sync` mode, how long the caller waits for the run, in seconds (default 30).
    #[serde(default = "thirty")]
    #[schemars(range(min = 1, max = 300))]
    pub wait_s: u32,
    /// Accept only calls signed by the sender; unsigned or badly signed calls get 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<WebhookSignature>,
    #[serde(default)]
    pub overlap: EventOverlap,
}

impl Default for WebhookTrigger {
    fn default() -> Self {
        Self {
            respond: WebhookResponse::Async,
            wait_s: 30,
            signature: None,
            overlap: EventOverlap::Allow,
        }
    }
}

fn thirty() -> u32 {
    30
}

/// How the sender signs its calls, and the secret to check them with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct WebhookSignature {
    pub scheme: SignatureScheme,
    /// The name of the stored secret (`flowpilot-cli credentials set webhook <name>`).
    #[schemars(length(min = 1))]
    pub credential: String,
    /// For `hmac_sha256`: the header that carries the hex signature (`X-Signature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// The signing schemes senders document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// GitHub: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>`.
    Github,
    /// Stripe: `Stripe-Signature: t=<time>,v1=<HMAC-SHA256 of "<time>.<body>">`, at most 5 minutes old.
    Stripe,
    /// Standard Webhooks (Svix and others): `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,<base64>`, at most 5 minutes old.
    StandardWebhooks,
    /// Any sender: the hex HMAC-SHA256 of the body in the header named by `header`.
    HmacSha256,
}

impl SignatureScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::StandardWebhooks => "standard_webhooks",
            Self::HmacSha256 => "hmac_sha256",
        }
    }
}

/// How a mail server connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum MailSecurity {
    /// TLS from the first byte (IMAP 993, SMTP 465).
    #[default]
    Tls,
    /// A plain connection upgraded with STARTTLS (IMAP 143, SMTP 587).
    Starttls,
    /// No encryption: only for a server on this computer (127.0.0.1, localhost).
    None,
}

impl MailSecurity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }
}

/// A new email in an IMAP mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct EmailTrigger {
    /// The IMAP server: `imap.gmail.com`, `outlook.office365.com`, `127.0.0.1`.
    #[schemars(length(min = 1))]
    pub host: String,
    /// The server's port; 993 with `tls`, 143 otherwise, when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: MailSecurity,
    /// The login, usually the address (`me@example.com`).
    #[schemars(length(min = 1))]
    pub username: String,
    /// The name of the stored password (`flowpilot-cli credentials set email <name>`);
    /// Gmail and Outlook take an app password.
    #[schemars(length(min = 1))]
    pub credential: String,
    /// The folder to watch (default `INBOX`).
    #[serde(default = "inbox")]
    #[schemars(length(min = 1))]
    pub mailbox: String,
    /// Only mail that matches starts a run; other new mail is passed over.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub filter: Option<EmailMatch>,
    /// Mark a mail read once its run is recorded (otherwise it is left unread).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mark_read: bool,
    /// Use IMAP IDLE where the server has it, so new mail starts its run within
    /// seconds (default); `false` checks every `interval_s` only.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub idle: bool,
    /// Seconds between checks (at least 10, default 120). Where the server offers
    /// IMAP IDLE a new mail starts its run within seconds; the checks stay as a safety net.
    #[serde(default = "default_interval")]
    #[schemars(range(min = 10, max = 86400))]
    pub interval_s: u32,
    /// When the trigger is activated, also run for this many of the newest mails
    /// already there (default 0: activation records what exists and runs nothing).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = 20))]
    pub run_existing: u32,
    #[serde(default)]
    pub overlap: EventOverlap,
}

impl EmailTrigger {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Tls => 993,
            MailSecurity::Starttls | MailSecurity::None => 143,
        })
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn inbox() -> String {
    "INBOX".into()
}

fn default_interval() -> u32 {
    DEFAULT_INTERVAL_S
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Which new mail starts a run. Texts match case-insensitively, anywhere in the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(deny_unknown_fields)]
pub struct EmailMatch {
    /// Text in the sender's name or address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Text in the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Text in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Words looked for in the subject and the body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// `any` keyword (default) or `all` of them.
    #[serde(default)]
    pub keywords_mode: KeywordsMode,
    /// Only mail that is still unread when it is seen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unread_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, specta::Type, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeywordsMode {
    #[default]
    Any,
    All,
}

/// A new item in a feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct FeedTrigger {
    /// The feed's address: RSS 2.0, Atom or JSON Feed.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Seconds between checks (at least 10, default 120).
    #[serde(default = "default_interval")]
    #[schemars(range(min = 10, max = 86400))]
    pub interval_s: u32,
    /// When the trigger is activated, also run for this many of the newest items
    /// already in the feed (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = 20))]
    pub run_existing: u32,
    #[serde(default)]
    pub overlap: EventOverlap,
}

/// A message to a Telegram bot (read with `getUpdates` long polling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct TelegramTrigger {
    /// The name of the stored bot token (`flowpilot-cli credentials set telegram <name>`).
    #[schemars(length(min = 1))]
    pub credential: String,
    /// A self-hosted Bot API server; `https://api.telegram.org` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// Only messages in this chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<i64>,
    /// Only messages whose text holds this (case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_contains: Option<String>,
    /// Only messages that start with this command (`/summarize`, also `/summarize@yourbot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// When the trigger is activated, also run for this many of the newest
    /// messages waiting for the bot (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = 20))]
    pub run_existing: u32,
    #[serde(default)]
    pub overlap: EventOverlap,
}

/// The Bot API server when a Telegram trigger names none.
pub const TELEGRAM_API: &str = "https://api.telegram.org";

impl TelegramTrigger {
    pub fn api_base(&self) -> &str {
        self.api_base.as_deref().unwrap_or(TELEGRAM_API)
    }
}

/// New items in the JSON a URL answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct PollTrigger {
    /// The address to GET.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Authentication with a stored credential, as in an `http.request` step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Extra request headers, as name → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSONPath to the list of items in the answer (`$.items`; `$` when the answer is the list).
    #[serde(default = "root_path")]
    #[schemars(length(min = 1))]
    pub items: String,
    /// A JSONPath, inside an item, to what identifies it (`$.id`).
    #[serde(default = "id_path")]
    #[schemars(length(min = 1))]
    pub id: String,
    /// The list puts the newest item first (by default the oldest comes first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub newest_first: bool,
    /// Seconds between checks (at least 10, default 120).
    #[serde(default = "default_interval")]
    #[schemars(range(min = 10, max = 86400))]
    pub interval_s: u32,
    /// When the trigger is activated, also run for this many of the newest items
    /// already listed (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(max = 20))]
    pub run_existing: u32,
    #[serde(default)]
    pub overlap: EventOverlap,
}

fn root_path() -> String {
    "$".into()
}

fn id_path() -> String {
    "$.id".into()
}

/// Whether `host` is this computer (where a password may travel unencrypted).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_triggers_read_with_their_defaults() {
        let t: Trigger = serde_json::from_value(json!({"type": "webhook"})).unwrap();
        assert_eq!(t, Trigger::Webhook(WebhookTrigger::default()));
        let t: Trigger = serde_json::from_value(json!({
            "type": "email", "host": "imap.example.com", "username": "me@example.com", "credential": "work"
        }))
        .unwrap();
        let Trigger::Email(email) = &t else { panic!("{t:?}") };
        assert_eq!(
            (email.port(), email.mailbox.as_str(), email.interval_s),
            (993, "INBOX", 120)
        );
        assert_eq!(t.credential(), Some(("email", "work")));
        assert_eq!(t.interval(), Some(Duration::from_secs(120)));
        let t: Trigger = serde_json::from_value(json!({"type": "poll", "url": "https://x.test/items"})).unwrap();
        let Trigger::Poll(poll) = &t else { panic!("{t:?}") };
        assert_eq!((poll.items.as_str(), poll.id.as_str()), ("$", "$.id"));
        assert_eq!(t.credential(), None);
        let t: Trigger =
            serde_json::from_value(json!({"type": "telegram", "credential": "bot", "chat_id": 42})).unwrap();
        let Trigger::Telegram(tg) = &t else { panic!("{t:?}") };
        assert_eq!((tg.api_base(), tg.chat_id), (TELEGRAM_API, Some(42)));
        assert!(t.is_polling() && t.interval().is_none());
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["127.0.0.1", "localhost", "LOCALHOST", "::1", "[::1]", "127.8.9.10"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["imap.gmail.com", "10.0.0.1", "localhost.example.com", "0.0.0.0"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
