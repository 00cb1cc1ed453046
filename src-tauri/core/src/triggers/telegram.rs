//! The Telegram trigger: messages to a bot, read with `getUpdates` long
//! polling (<https://core.telegram.org/bots/api#getupdates>) from the offset
//! stored as the cursor; an update is confirmed by asking from a higher offset,
//! so the offset moves in the same transaction as the runs it starts. A 409
//! (a webhook is set for the bot, or another program polls it) is explained.

use super::source::{Found, Item, Look, MAX_ITEMS_PER_CHECK, Source, SourceError};
use flowpilot_engine::http_client::HttpClient;
use flowpilot_engine::plan::TelegramTrigger;
use flowpilot_engine::providers::net;
use flowpilot_engine::registry::CredentialSource;
use flowpilot_engine::request::Request;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long one long poll waits for an update (Telegram allows up to 50).
pub const LONG_POLL_S: u64 = 25;

pub struct TelegramSource {
    trigger: TelegramTrigger,
    credentials: Arc<dyn CredentialSource>,
    http: HttpClient,
}

pub fn source_key(t: &TelegramTrigger) -> String {
    format!("telegram {} {}", t.api_base().trim_end_matches('/'), t.credential)
}

impl TelegramSource {
    pub fn new(trigger: TelegramTrigger, credentials: Arc<dyn CredentialSource>, http: HttpClient) -> Self {
        Self {
            trigger,
            credentials,
            http,
        }
    }
}

async fn token(credentials: &dyn CredentialSource, name: &str) -> Result<String, SourceError> {
    match credentials.get("telegram", name).await {
        Ok(Some(t)) => Ok(t.expose().clone()),
        Ok(None) => Err(SourceError::new(format!(
            "no bot token is stored as `{name}`; set it with `flowpilot-cli credentials set telegram {name}` or in Credentials"
        ))),
        Err(e) => Err(SourceError::new(e.to_string())),
    }
}

/// Call `getUpdates`; the updates, or the Bot API's refusal in words. The
/// token is in the URL path, so no URL is ever put in a message.
pub async fn get_updates(
    t: &TelegramTrigger,
    credentials: &dyn CredentialSource,
    http: &HttpClient,
    offset: Option<i64>,
    limit: usize,
    timeout_s: u64,
) -> Result<Vec<Value>, SourceError> {
    let token = token(credentials, &t.credential).await?;
    let base = t.api_base().trim_end_matches('/');
    let url = net::parse_url("api_base", &format!("{base}/bot{token}/getUpdates"))
        .map_err(|_| SourceError::new(format!("`{base}` is not a Bot API address")))?;
    let mut body = json!({"limit": limit, "timeout": timeout_s, "allowed_updates": ["message"]});
    if let Some(offset) = offset {
        body["offset"] = json!(offset);
    }
    // A long poll: silence for up to `timeout_s` is the answer being awaited.
    let request = Request::post(url)
        .json(&body)
        .idle_timeout(Duration::from_secs(timeout_s + 30));
    let cancel = CancellationToken::new();
    let mut incoming = match request.open(http, &cancel).await {
        Ok(i) => i,
        // The transport error names the URL, which holds the token: say it without.
        Err(e) => {
            let retryable = e.is_retryable();
            return Err(SourceError {
                message: format!(
                    "cannot reach the Bot API at {base} ({}); check `api_base` and the network",
                    if retryable {
                        "connection failed or timed out"
                    } else {
                        "the request failed"
                    }
                ),
                retry_after: None,
            });
        }
    };
    let status = incoming.response.status();
    let (bytes, _) = incoming
        .read_body(16 * 1024 * 1024, &cancel)
        .await
        .map_err(|_| SourceError::new(format!("the Bot API at {base} broke off its answer")))?;
    let reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() && reply["ok"] == json!(true) {
        return Ok(reply["result"].as_array().cloned().unwrap_or_default());
    }
    let description = reply["description"].as_str().unwrap_or("no description").to_string();
    let retry_after = reply["parameters"]["retry_after"].as_u64().map(Duration::from_secs);
    let message = match status.as_u16() {
        401 | 404 => format!(
            "Telegram did not accept the bot token `{}` ({description}); store the token BotFather gave again",
            t.credential
        ),
        409 => format!(
            "Telegram refused to hand out updates (409: {description}). Either a webhook is set for this bot — remove it with deleteWebhook — or another program is reading the same bot's updates; only one may."
        ),
        429 => format!("Telegram asks to slow down ({description})"),
        code => format!("the Bot API answered {code}: {description}"),
    };
    Err(SourceError { message, retry_after })
}

/// Whether a message passes the trigger's filters.
pub fn matches(t: &TelegramTrigger, message: &Value) -> bool {
    if let Some(chat) = t.chat_id
        && message["chat"]["id"].as_i64() != Some(chat)
    {
        return false;
    }
    let text = message["text"]
        .as_str()
        .or(message["caption"].as_str())
        .unwrap_or_default();
    if let Some(needle) = t.text_contains.as_deref().filter(|s| !s.trim().is_empty())
        && !text.to_lowercase().contains(&needle.trim().to_lowercase())
    {
        return false;
    }
    if let Some(command) = t.command.as_deref().filter(|s| !s.is_empty()) {
        let first = text.split_whitespace().next().unwrap_or_default();
        let bare = first.split('@').next().unwrap_or_default();
        if !bare.eq_ignore_ascii_case(command) {
            return false;
        }
    }
    true
}

/// The update as a run sees it: the `message` object plus `update_id`.
fn update_item(update: &Value) -> Option<Value> {
    let mut message = update.get("message")?.clone();
    message["update_id"] = update["update_id"].clone();
    Some(message)
}

#[async_trait::async_trait]
impl Source for TelegramSource {
    async fn check(&mut self, look: Look<'_>) -> Result<Found, SourceError> {
        let t = &self.trigger;
        let creds = self.credentials.as_ref();
        let Some(cursor) = look.cursor else {
            // A baseline: confirm whatever waits, running for at most the newest `run_existing`.
            let mut pending = Vec::new();
            let mut offset = None;
            loop {
                let batch = get_updates(t, creds, &self.http, offset, 100, 0).await?;
                let Some(last) = batch.last().and_then(|u| u["update_id"].as_i64()) else {
                    break;
                };
                offset = Some(last + 1);
                pending.extend(batch);
                if pending.len() > 10_000 {
                    break;
                }
            }
            let matching: Vec<Value> = pending
                .iter()
                .filter_map(update_item)
                .filter(|m| matches(t, m))
                .collect();
            let items: Vec<Item> = matching
                .iter()
                .rev()
                .take(look.run_existing)
                .rev()
                .map(|m| Item {
                    key: format!("update:{}", m["update_id"]),
                    value: m.clone(),
                })
                .collect();
            let count = pending.len();
            return Ok(Found {
                note: Some(format!(
                    "Started listening to the bot: {count} waiting update{} started nothing{}.",
                    if count == 1 { "" } else { "s" },
                    if items.is_empty() {
                        String::new()
                    } else {
                        format!(" (runs for the newest {})", items.len())
                    }
                )),
                items,
                cursor: json!({"offset": offset}),
                ..Found::default()
            });
        };
        let offset = cursor.get("offset").and_then(Value::as_i64);
        let wait = if look.wait { LONG_POLL_S } else { 0 };
        let updates = get_updates(t, creds, &self.http, offset, MAX_ITEMS_PER_CHECK, wait).await?;
        let next = updates
            .last()
            .and_then(|u| u["update_id"].as_i64())
            .map(|id| id + 1)
            .or(offset);
        let mut items = Vec::new();
        let mut passed_over = 0;
        for update in &updates {
            match update_item(update).filter(|m| matches(t, m)) {
                Some(message) => items.push(Item {
                    key: format!("update:{}", update["update_id"]),
                    value: message,
                }),
                None => passed_over += 1,
            }
        }
        Ok(Found {
            items,
            passed_over,
            more: updates.len() >= MAX_ITEMS_PER_CHECK,
            cursor: json!({"offset": next}),
            ..Found::default()
        })
    }

    fn long_polls(&self) -> bool {
        true
    }
}

/// The updates waiting for the bot, newest first, confirming none (no offset).
pub async fn sample(
    t: &TelegramTrigger,
    credentials: &dyn CredentialSource,
    http: &HttpClient,
    count: usize,
) -> Result<Vec<Value>, SourceError> {
    let updates = get_updates(t, credentials, http, None, 100, 0).await?;
    Ok(updates.iter().rev().filter_map(update_item).take(count).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(extra: Value) -> TelegramTrigger {
        let mut t = json!({"credential": "bot"});
        if let (Value::Object(t), Value::Object(extra)) = (&mut t, extra) {
            t.extend(extra);
        }
        serde_json::from_value(t).unwrap()
    }

    #[test]
    fn filters_on_chat_text_and_command() {
        let message = json!({"chat": {"id": 42}, "text": "/summarize@flowpilot_bot the news"});
        assert!(matches(&trigger(json!({})), &message));
        assert!(matches(
            &trigger(json!({"chat_id": 42, "command": "/summarize"})),
            &message
        ));
        assert!(!matches(&trigger(json!({"chat_id": 7})), &message));
        assert!(!matches(&trigger(json!({"command": "/start"})), &message));
        assert!(matches(&trigger(json!({"text_contains": "NEWS"})), &message));
        assert!(!matches(&trigger(json!({"text_contains": "weather"})), &message));
    }
}
