//! getUpdates long polling and setWebhook, as <https://core.telegram.org/bots/api#getting-updates> describes.

use super::{TelegramState, as_i64, bad_request, failure, reply};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::time::Duration;

pub(super) fn set_webhook(state: &TelegramState, params: &Map<String, Value>) -> Response {
    let url = params
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !url.is_empty() && !url.starts_with("https://") {
        return bad_request("bad webhook: An HTTPS URL must be provided for webhook");
    }
    let description = if url.is_empty() {
        "Webhook was deleted"
    } else {
        "Webhook was set"
    };
    state.data().webhook_url = url;
    state.bump();
    axum::Json(json!({"ok": true, "result": true, "description": description})).into_response()
}

/// The kind of an update: its one key besides `update_id`.
fn update_kind(update: &Value) -> Option<&str> {
    update
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| *k != "update_id")
}

/// Updates not delivered unless asked for by name in `allowed_updates`.
const OPT_IN_KINDS: [&str; 3] = ["chat_member", "message_reaction", "message_reaction_count"];

pub(super) async fn get_updates(state: &TelegramState, params: Map<String, Value>) -> Response {
    let offset = params.get("offset").and_then(as_i64).unwrap_or(0);
    let limit = params.get("limit").and_then(as_i64).unwrap_or(100).clamp(1, 100) as usize;
    let timeout = params.get("timeout").and_then(as_i64).unwrap_or(0).max(0) as u64;
    let allowed = match params.get("allowed_updates") {
        Some(Value::Array(kinds)) => Some(kinds.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<String>>(s) {
            Ok(kinds) => Some(kinds),
            Err(_) => return bad_request("can't parse allowed updates JSON object"),
        },
        _ => None,
    };
    let me = {
        let mut data = state.data();
        if !data.webhook_url.is_empty() {
            return failure(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            );
        }
        if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            let drop = data.updates.len().saturating_sub(keep);
            data.updates.drain(..drop);
        } else {
            data.updates
                .retain(|u| u["update_id"].as_i64().is_some_and(|id| id >= offset));
        }
        if allowed.is_some() {
            data.allowed_updates = allowed;
        }
        data.poller += 1;
        data.poller
    };
    // Subscribe before the first look, so a push in between wakes us.
    let mut changed = state.changed.subscribe();
    state.bump();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        {
            let data = state.data();
            if data.poller != me {
                return failure(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                );
            }
            let wanted = |kind: &str| match &data.allowed_updates {
                Some(kinds) if !kinds.is_empty() => kinds.iter().any(|k| k == kind),
                _ => !OPT_IN_KINDS.contains(&kind),
            };
            let ready: Vec<Value> = data
                .updates
                .iter()
                .filter(|u| update_kind(u).is_some_and(wanted))
                .take(limit)
                .cloned()
                .collect();
            if !ready.is_empty() || timeout == 0 {
                return reply(Value::Array(ready));
            }
        }
        tokio::select! {
            woke = changed.changed() => if woke.is_err() { return reply(json!([])) },
            _ = tokio::time::sleep_until(deadline) => return reply(json!([])),
            _ = state.shutdown.cancelled() => return reply(json!([])),
        }
    }
}
