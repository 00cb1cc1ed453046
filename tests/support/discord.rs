//! An imitation of Discord's webhook execution
//! (<https://discord.com/developers/docs/resources/webhook#execute-webhook>) on 127.0.0.1:
//! `POST /api/webhooks/{id}/{token}` (also under `/api/v10/…`).
//!
//! - With `?wait=true` it answers 200 and the message object; without, 204 and
//!   no body (so a client cannot tell whether the message was saved).
//! - A body with no `content`, `embeds`, `components` or `poll` is 400
//!   `{"code":50006,"message":"Cannot send an empty message"}`; over-long
//!   content (2,000), too many embeds (10) or a username containing "discord"
//!   are 400 `{"code":50035,"message":"Invalid Form Body","errors":{…}}`
//!   (<https://discord.com/developers/docs/topics/opcodes-and-status-codes#json>).
//! - An unknown webhook is 404 `{"code":10015,"message":"Unknown Webhook"}`,
//!   a wrong token 401 `{"code":50027,"message":"Invalid Webhook Token"}`.
//! - Rate limits (<https://discord.com/developers/docs/topics/rate-limits>): every
//!   answer has `X-RateLimit-*` headers; a 429 has `Retry-After` and
//!   `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`.
//! - `allowed_mentions` is recorded; whether `@everyone`/`@here` would ping is
//!   worked out as Discord does (pinged unless `allowed_mentions` leaves out "everyone").

use crate::peer::{Faults, Peer};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const DISCORD_WEBHOOK_ID: &str = "1234567890123456789";
pub const DISCORD_WEBHOOK_TOKEN: &str = "dWebhookToken-abcDEF0123456789_xyz";
pub const DISCORD_CHANNEL_ID: &str = "1100000000000000001";
/// The rate limit bucket every answer reports: 5 requests per 2 seconds.
const BUCKET_LIMIT: u32 = 5;

/// A wrong answer for the next calls.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscordFault {
    /// 429 with `retry_after` seconds (a float, as Discord sends), `global` as given.
    RateLimited { retry_after: f64, global: bool },
    /// This 5xx status.
    Server(u16),
}

/// One message the webhook accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The JSON body as sent (`allowed_mentions` included).
    pub body: Value,
    /// The message object Discord made of it.
    pub message: Value,
    /// Whether the call asked `wait=true`.
    pub waited: bool,
    /// Whether `@everyone` / `@here` in it would ping the channel.
    pub mentions_everyone: bool,
}

#[derive(Debug, Default)]
struct Data {
    deleted: bool,
    posted: Vec<Posted>,
    next_id: u64,
}

#[derive(Debug, Default)]
struct DiscordState {
    data: Mutex<Data>,
    faults: Faults<DiscordFault>,
}

impl DiscordState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running imitation. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct Discord {
    peer: Peer,
    state: Arc<DiscordState>,
}

impl std::ops::Deref for Discord {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Discord {
    pub async fn start() -> Discord {
        let state = Arc::new(DiscordState::default());
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/api/webhooks/{id}/{token}", post(execute))
                .route("/api/{version}/webhooks/{id}/{token}", post(execute_versioned))
                .with_state(shared)
        })
        .await;
        Discord { peer, state }
    }

    /// The webhook URL a user copies from Discord: the secret.
    pub fn webhook_url(&self) -> String {
        self.peer
            .url(&format!("/api/webhooks/{DISCORD_WEBHOOK_ID}/{DISCORD_WEBHOOK_TOKEN}"))
    }

    /// The webhook is deleted in Discord: it answers 404 Unknown Webhook.
    pub fn delete_webhook(&self) {
        self.state.data().deleted = true;
    }

    /// Answer the next `times` calls with `fault`.
    pub fn fail_next(&self, fault: DiscordFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// The messages accepted, oldest first.
    pub fn posted(&self) -> Vec<Posted> {
        self.state.data().posted.clone()
    }
}

fn discord_error(status: StatusCode, code: u32, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "message": message}))).into_response()
}

fn invalid_form_body(field: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {field: {"_errors": [{"code": code, "message": message}]}},
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn with_rate_limit_headers(mut response: Response, remaining: u32, reset_after: f64) -> Response {
    let reset = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + reset_after;
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-ratelimit-limit", BUCKET_LIMIT.to_string());
    set("x-ratelimit-remaining", remaining.to_string());
    set("x-ratelimit-reset", format!("{reset:.3}"));
    set("x-ratelimit-reset-after", format!("{reset_after:.3}"));
    set("x-ratelimit-bucket", "a06de2d6b1d0c8a6ad6f8b5aee3e3f77".into());
    response
}

async fn execute_versioned(
    state: State<Arc<DiscordState>>,
    Path((_version, id, token)): Path<(String, String, String)>,
    query: Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    execute(state, Path((id, token)), query, body).await
}

async fn execute(
    State(state): State<Arc<DiscordState>>,
    Path((id, token)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if id != DISCORD_WEBHOOK_ID || state.data().deleted {
        return discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook");
    }
    if token != DISCORD_WEBHOOK_TOKEN {
        return discord_error(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token");
    }
    match state.faults.take() {
        Some(DiscordFault::RateLimited { retry_after, global }) => {
            let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global});
            let mut r = with_rate_limit_headers(
                (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response(),
                0,
                retry_after,
            );
            let headers = r.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.ceil() as u64));
            let scope = if global { "global" } else { "user" };
            headers.insert(
                HeaderName::from_static("x-ratelimit-scope"),
                HeaderValue::from_static(scope),
            );
            if global {
                headers.insert(
                    HeaderName::from_static("x-ratelimit-global"),
                    HeaderValue::from_static("true"),
                );
            }
            return r;
        }
        Some(DiscordFault::Server(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return discord_error(status, 0, "500: Internal Server Error");
        }
        None => {}
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return discord_error(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        );
    };
    let content = request
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if content.chars().count() > 2000 {
        return invalid_form_body("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.");
    }
    let embeds = request
        .get("embeds")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if embeds.len() > 10 {
        return invalid_form_body("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
    }
    if let Some(username) = request.get("username").and_then(Value::as_str) {
        let lower = username.to_lowercase();
        for banned in ["discord", "clyde"] {
            if lower.contains(banned) {
                return invalid_form_body(
                    "username",
                    "USERNAME_INVALID_CONTAINS",
                    &format!("Username cannot contain \"{banned}\""),
                );
            }
        }
    }
    let has_other = request.get("poll").is_some_and(Value::is_object)
        || ["components", "attachments"]
            .iter()
            .any(|k| request.get(*k).and_then(Value::as_array).is_some_and(|a| !a.is_empty()));
    if content.trim().is_empty() && embeds.is_empty() && !has_other {
        return discord_error(StatusCode::BAD_REQUEST, 50006, "Cannot send an empty message");
    }
    let names_everyone = content.contains("@everyone") || content.contains("@here");
    let everyone_allowed = match request.pointer("/allowed_mentions/parse") {
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "everyone"),
        // allowed_mentions without `parse` (or with only users/roles lists) parses nothing.
        _ => request.get("allowed_mentions").is_none(),
    };
    let mentions_everyone = names_everyone && everyone_allowed;
    let waited = query.get("wait").is_some_and(|w| w == "true" || w == "1");
    let mut data = state.data();
    data.next_id += 1;
    let message_id = format!("13{:017}", data.next_id);
    let username = request
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or("Flowpilot Test Hook");
    let message = json!({
        "id": message_id,
        "type": 0,
        "content": content,
        "channel_id": DISCORD_CHANNEL_ID,
        "author": {"bot": true, "id": DISCORD_WEBHOOK_ID, "username": username, "avatar": null, "discriminator": "0000"},
        "attachments": [],
        "embeds": embeds,
        "mentions": [],
        "mention_roles": [],
        "pinned": false,
        "mention_everyone": mentions_everyone,
        "tts": request.get("tts").and_then(Value::as_bool).unwrap_or(false),
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
        "edited_timestamp": null,
        "flags": 0,
        "components": [],
        "webhook_id": DISCORD_WEBHOOK_ID,
    });
    data.posted.push(Posted {
        body: request,
        message: message.clone(),
        waited,
        mentions_everyone,
    });
    let remaining = BUCKET_LIMIT.saturating_sub(1);
    if waited {
        with_rate_limit_headers(axum::Json(message).into_response(), remaining, 2.0)
    } else {
        with_rate_limit_headers(StatusCode::NO_CONTENT.into_response(), remaining, 2.0)
    }
}
