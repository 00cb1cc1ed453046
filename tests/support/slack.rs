//! An imitation of Slack's two ways in, on 127.0.0.1:
//!
//! - the incoming webhook (<https://api.slack.com/messaging/webhooks>): `POST
//!   /services/T000/B000/XXXX` (the URL is the secret) with JSON `{text,
//!   blocks?}` answers 200 with the text body `ok`; errors are text bodies too
//!   (<https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks>):
//!   400 `invalid_payload` / `no_text`, 403 `invalid_token`, 404 `no_service`,
//!   410 `channel_is_archived`;
//! - the Web API's `POST /api/chat.postMessage`
//!   (<https://api.slack.com/methods/chat.postMessage>): a bot token as
//!   `Authorization: Bearer xoxb-…` (or a `token` form field), a JSON or form
//!   body; it answers 200 `{"ok":true,"channel","ts","message"}` or 200
//!   `{"ok":false,"error":"channel_not_found"|"not_authed"|"invalid_auth"|…}`,
//!   and warns `missing_charset` for JSON sent without `charset=utf-8`, as Slack does.
//!
//! Rate limits are HTTP 429 with `Retry-After` (<https://api.slack.com/apis/rate-limits>).

use crate::peer::{Faults, Peer, bearer_token, json_or_form};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};

/// The bot token a new imitation accepts.
pub const SLACK_BOT_TOKEN: &str = "xoxb-1111111111-2222222222222-slackTestTokenValue0";
/// The incoming webhook's path (its URL is the secret).
pub const SLACK_WEBHOOK_PATH: &str = "/services/T000/B000/XXXX";
/// The channel the webhook posts to, and the one a new imitation has.
pub const SLACK_CHANNEL_ID: &str = "C0123456789";
pub const SLACK_CHANNEL_NAME: &str = "general";
/// The longest `text` chat.postMessage takes.
pub const MAX_TEXT_CHARS: usize = 40_000;

/// A wrong answer for the next calls (webhook and Web API alike).
#[derive(Debug, Clone, PartialEq)]
pub enum SlackFault {
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after: u64 },
    /// This 5xx status.
    Server(u16),
}

#[derive(Debug, Clone)]
struct Channel {
    id: String,
    name: String,
    archived: bool,
}

#[derive(Debug, Default)]
struct Data {
    bot_token: String,
    webhook_revoked: bool,
    channels: Vec<Channel>,
    webhook_posts: Vec<Value>,
    messages: Vec<Value>,
    next_ts: u64,
}

#[derive(Debug, Default)]
struct SlackState {
    data: Mutex<Data>,
    faults: Faults<SlackFault>,
}

impl SlackState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fault(&self) -> Option<Response> {
        self.faults.take().map(|fault| match fault {
            SlackFault::RateLimited { retry_after } => {
                let mut r = (StatusCode::TOO_MANY_REQUESTS, "rate_limited").into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            SlackFault::Server(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, "rollup_error").into_response()
            }
        })
    }
}

/// The running imitation. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct Slack {
    peer: Peer,
    state: Arc<SlackState>,
}

impl std::ops::Deref for Slack {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Slack {
    pub async fn start() -> Slack {
        let state = Arc::new(SlackState::default());
        {
            let mut data = state.data();
            data.bot_token = SLACK_BOT_TOKEN.into();
            data.next_ts = 1_700_000_000_000_100;
            data.channels.push(Channel {
                id: SLACK_CHANNEL_ID.into(),
                name: SLACK_CHANNEL_NAME.into(),
                archived: false,
            });
        }
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/services/{team}/{bot}/{secret}", post(webhook))
                .route("/api/chat.postMessage", post(post_message))
                .with_state(shared)
        })
        .await;
        Slack { peer, state }
    }

    /// The incoming webhook's URL: the secret a user pastes.
    pub fn webhook_url(&self) -> String {
        self.peer.url(SLACK_WEBHOOK_PATH)
    }

    /// The Web API's base, as `https://slack.com` in real life (calls go to `/api/<method>`).
    pub fn base_url(&self) -> &str {
        self.peer.base_url()
    }

    /// Accept `token` as the bot token (and no longer the one before).
    pub fn set_bot_token(&self, token: &str) {
        self.state.data().bot_token = token.into();
    }

    pub fn add_channel(&self, id: &str, name: &str) {
        self.state.data().channels.push(Channel {
            id: id.into(),
            name: name.into(),
            archived: false,
        });
    }

    /// Archive a channel (by id or name): the webhook into it answers 410, chat.postMessage `is_archived`.
    pub fn archive_channel(&self, id_or_name: &str) {
        let mut data = self.state.data();
        for c in data
            .channels
            .iter_mut()
            .filter(|c| c.id == id_or_name || c.name == id_or_name)
        {
            c.archived = true;
        }
    }

    /// The webhook is removed from the workspace: it answers 404 `no_service`.
    pub fn revoke_webhook(&self) {
        self.state.data().webhook_revoked = true;
    }

    /// Answer the next `times` calls with `fault`.
    pub fn fail_next(&self, fault: SlackFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// The JSON payloads the webhook accepted, oldest first.
    pub fn webhook_posts(&self) -> Vec<Value> {
        self.state.data().webhook_posts.clone()
    }

    /// The messages chat.postMessage posted (the `message` objects, plus `channel`), oldest first.
    pub fn messages(&self) -> Vec<Value> {
        self.state.data().messages.clone()
    }
}

fn text_error(status: StatusCode, error: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html")], error).into_response()
}

async fn webhook(
    State(state): State<Arc<SlackState>>,
    Path((team, bot, secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let expected: Vec<&str> = SLACK_WEBHOOK_PATH.trim_start_matches("/services/").split('/').collect();
    if team != expected[0] || bot != expected[1] || state.data().webhook_revoked {
        return text_error(StatusCode::NOT_FOUND, "no_service");
    }
    if secret != expected[2] {
        return text_error(StatusCode::FORBIDDEN, "invalid_token");
    }
    if let Some(fault) = state.fault() {
        return fault;
    }
    // JSON, or a form with the JSON in its `payload` field.
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let payload = match json_or_form(content_type, &body) {
        Some(Value::Object(form))
            if form.contains_key("payload") && content_type.is_some_and(|t| t.contains("form")) =>
        {
            form.get("payload")
                .and_then(Value::as_str)
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
        }
        other => other,
    };
    let Some(payload) = payload.filter(Value::is_object) else {
        return text_error(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    let has_text = payload
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let has_blocks = payload
        .get("blocks")
        .and_then(Value::as_array)
        .is_some_and(|b| !b.is_empty());
    if payload.get("blocks").is_some_and(|b| !b.is_array()) {
        return text_error(StatusCode::BAD_REQUEST, "invalid_blocks");
    }
    if !has_text && !has_blocks && payload.get("attachments").is_none() {
        return text_error(StatusCode::BAD_REQUEST, "no_text");
    }
    let mut data = state.data();
    if data.channels.iter().any(|c| c.id == SLACK_CHANNEL_ID && c.archived) {
        return text_error(StatusCode::GONE, "channel_is_archived");
    }
    data.webhook_posts.push(payload);
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "ok").into_response()
}

fn api_error(error: &str) -> Response {
    axum::Json(json!({"ok": false, "error": error})).into_response()
}

async fn post_message(State(state): State<Arc<SlackState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(fault) = state.fault() {
        return match fault.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                let (parts, _) = fault.into_parts();
                (parts, axum::Json(json!({"ok": false, "error": "ratelimited"}))).into_response()
            }
            _ => fault,
        };
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let is_json = content_type.is_some_and(|t| t.starts_with("application/json"));
    let missing_charset = is_json && !content_type.is_some_and(|t| t.to_ascii_lowercase().contains("charset=utf-8"));
    let Some(Value::Object(params)) = json_or_form(content_type, &body) else {
        return api_error(if is_json { "invalid_json" } else { "invalid_form_data" });
    };
    let token = bearer_token(&headers).or_else(|| params.get("token").and_then(Value::as_str));
    let mut data = state.data();
    match token {
        None => return api_error("not_authed"),
        Some(t) if t != data.bot_token => return api_error("invalid_auth"),
        Some(_) => {}
    }
    let wanted = params.get("channel").and_then(Value::as_str).unwrap_or_default();
    let name = wanted.trim_start_matches('#');
    let Some(channel) = data.channels.iter().find(|c| c.id == wanted || c.name == name).cloned() else {
        return api_error("channel_not_found");
    };
    if channel.archived {
        return api_error("is_archived");
    }
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let blocks = params.get("blocks").cloned();
    if blocks.as_ref().is_some_and(|b| !b.is_array() && !b.is_string()) {
        return api_error("invalid_blocks");
    }
    if text.is_empty() && blocks.is_none() && params.get("attachments").is_none() {
        return api_error("no_text");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return api_error("msg_too_long");
    }
    data.next_ts += 1;
    let ts = format!("{}.{:06}", data.next_ts / 1_000_000, data.next_ts % 1_000_000);
    let mut message = json!({
        "user": "U0BOTUSER1",
        "type": "message",
        "ts": ts,
        "bot_id": "B0BOTID001",
        "app_id": "A0APPID001",
        "text": text,
        "team": "T000",
    });
    if let Some(blocks) = blocks {
        message["blocks"] = blocks;
    }
    let mut recorded = message.clone();
    recorded["channel"] = json!(channel.id);
    data.messages.push(recorded);
    let mut answer = json!({"ok": true, "channel": channel.id, "ts": ts, "message": message});
    if missing_charset {
        answer["warning"] = json!("missing_charset");
        answer["response_metadata"] = json!({"warnings": ["missing_charset"]});
    }
    axum::Json(answer).into_response()
}
