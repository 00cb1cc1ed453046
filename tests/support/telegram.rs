//! An imitation of the Telegram Bot API (<https://core.telegram.org/bots/api>)
//! on 127.0.0.1: `/bot<token>/<method>`, parameters in the query string, a
//! JSON body or a form body, answers `{"ok":true,"result":…}` or
//! `{"ok":false,"error_code":N,"description":"…"}`
//! (<https://core.telegram.org/bots/api#making-requests>).
//!
//! Methods: `getMe`, `sendMessage`, `sendDocument` (by URL or file_id),
//! `getUpdates` (long polling: <https://core.telegram.org/bots/api#getupdates>),
//! `setWebhook`, `deleteWebhook`, `getWebhookInfo`. As the real API:
//! - `getUpdates` confirms (forgets) every update below `offset`; a negative
//!   offset keeps only the last `-offset`; it holds the request up to `timeout`
//!   seconds and answers as soon as an update is pushed; a second `getUpdates`
//!   ends the one waiting with 409 "terminated by other getUpdates request";
//!   while a webhook is set it answers 409 Conflict;
//! - a wrong token is 401 `Unauthorized`, an unknown method 404 `Not Found`;
//! - a 429 carries the delay in `parameters.retry_after` only: Telegram sends
//!   no `Retry-After` header.
//!
//! Message length is counted in characters (Telegram: "1-4096 characters after
//! entities parsing"); `MarkdownV2` and `HTML` texts are checked for the
//! mistakes Telegram refuses (unescaped reserved characters, unbalanced tags).

mod send;
mod updates;

use crate::peer::{Faults, Peer, json_or_form};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Map, Value, json};
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The bot token a new imitation accepts (the shape of the documentation's example).
pub const TELEGRAM_TOKEN: &str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
/// The bot's own user id (the number before the token's colon).
pub const BOT_ID: i64 = 123456;
/// The longest `text` sendMessage takes.
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// A wrong answer for the next calls (any method but with a valid token).
#[derive(Debug, Clone, PartialEq)]
pub enum TelegramFault {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    TooManyRequests { retry_after: u64 },
    /// 400 `Bad Request: <description>`.
    BadRequest(String),
    /// 403 `Forbidden: bot was blocked by the user`.
    Blocked,
    /// A 5xx with `Internal Server Error`-style description.
    Server(u16),
}

/// A message a user sends to the bot, pushed with [`Telegram::push_message`].
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    pub chat_id: i64,
    pub from_id: i64,
    pub first_name: String,
    pub username: Option<String>,
    pub text: String,
}

impl IncomingMessage {
    /// `text` in the private chat `chat_id`, from the user of the same id.
    pub fn text(chat_id: i64, text: &str) -> Self {
        IncomingMessage {
            chat_id,
            from_id: chat_id.abs(),
            first_name: "Ada".into(),
            username: Some("ada_test".into()),
            text: text.into(),
        }
    }

    /// A command such as `/summarize` followed by `args` (may be empty); the
    /// update carries the `bot_command` entity as Telegram's does.
    pub fn command(chat_id: i64, command: &str, args: &str) -> Self {
        let text = if args.is_empty() {
            command.to_string()
        } else {
            format!("{command} {args}")
        };
        Self::text(chat_id, &text)
    }

    /// Sent by this user (in a group chat, say) instead of the chat's own user.
    pub fn from(mut self, user_id: i64, first_name: &str, username: Option<&str>) -> Self {
        self.from_id = user_id;
        self.first_name = first_name.into();
        self.username = username.map(str::to_string);
        self
    }
}

/// A call that sent something (sendMessage, sendDocument) and was answered ok.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub method: String,
    /// The parameters as received (query, JSON or form merged).
    pub params: Value,
    /// The Message object answered.
    pub message: Value,
}

#[derive(Debug, Default)]
struct Data {
    token: String,
    /// Updates not yet confirmed, oldest first.
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    webhook_url: String,
    allowed_updates: Option<Vec<String>>,
    /// Bumped by each getUpdates; a waiting one whose number is no longer current ends with 409.
    poller: u64,
    unknown_chats: HashSet<String>,
    sent: Vec<Sent>,
}

#[derive(Debug)]
struct TelegramState {
    data: Mutex<Data>,
    faults: Faults<TelegramFault>,
    /// Bumped on every pushed update and every new getUpdates: what long polls wait on.
    changed: watch::Sender<u64>,
    shutdown: CancellationToken,
}

impl TelegramState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// The running imitation. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct Telegram {
    peer: Peer,
    state: Arc<TelegramState>,
}

impl std::ops::Deref for Telegram {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Telegram {
    pub async fn start() -> Telegram {
        let mut state = None;
        let peer = Peer::start(|shutdown| {
            let shared = Arc::new(TelegramState {
                data: Mutex::new(Data {
                    token: TELEGRAM_TOKEN.into(),
                    next_update_id: 500_000_001,
                    next_message_id: 1,
                    ..Data::default()
                }),
                faults: Faults::default(),
                changed: watch::Sender::new(0),
                shutdown,
            });
            state = Some(shared.clone());
            Router::new()
                .route("/{bot}/{method}", any(call))
                .fallback(|| async { not_found() })
                .with_state(shared)
        })
        .await;
        let state = state.expect("Peer::start builds the router before it returns");
        Telegram { peer, state }
    }

    /// The base as the trigger's and integration's `api_base` (`https://api.telegram.org` in real life).
    pub fn api_base(&self) -> &str {
        self.peer.base_url()
    }

    /// The URL of `method` with the valid token, e.g. for `sendMessage`.
    pub fn method_url(&self, method: &str) -> String {
        let token = self.state.data().token.clone();
        self.peer.url(&format!("/bot{token}/{method}"))
    }

    /// Accept `token` (and no longer the one before).
    pub fn set_token(&self, token: &str) {
        self.state.data().token = token.into();
    }

    /// Answer the next `times` calls with `fault`.
    pub fn fail_next(&self, fault: TelegramFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// Make sending to `chat_id` fail with "Bad Request: chat not found".
    pub fn forget_chat(&self, chat_id: &str) {
        self.state.data().unknown_chats.insert(chat_id.into());
    }

    /// Set a webhook as setWebhook does (getUpdates then answers 409); `""` removes it.
    pub fn set_webhook(&self, url: &str) {
        self.state.data().webhook_url = url.into();
        self.state.bump();
    }

    /// A user sends `message` to the bot; returns the update's `update_id`.
    pub fn push_message(&self, message: IncomingMessage) -> i64 {
        let mut object = json!({
            "message_id": 0,
            "from": {"id": message.from_id, "is_bot": false, "first_name": message.first_name, "language_code": "en"},
            "chat": chat_object(&json!(message.chat_id)),
            "date": chrono::Utc::now().timestamp(),
            "text": message.text,
        });
        if let Some(username) = &message.username {
            object["from"]["username"] = json!(username);
        }
        if message.text.starts_with('/') {
            let length = message
                .text
                .split_whitespace()
                .next()
                .map_or(0, |c| c.encode_utf16().count());
            object["entities"] = json!([{"offset": 0, "length": length, "type": "bot_command"}]);
        }
        let mut data = self.state.data();
        object["message_id"] = json!(data.next_message_id);
        data.next_message_id += 1;
        drop(data);
        self.push_update("message", object)
    }

    /// Push any update (`edited_message`, `callback_query`, `channel_post`…); returns its `update_id`.
    pub fn push_update(&self, kind: &str, object: Value) -> i64 {
        let id = {
            let mut data = self.state.data();
            let id = data.next_update_id;
            data.next_update_id += 1;
            data.updates.push_back(json!({"update_id": id, kind: object}));
            id
        };
        self.state.bump();
        id
    }

    /// Updates not yet confirmed by a getUpdates offset.
    pub fn pending_updates(&self) -> Vec<Value> {
        self.state.data().updates.iter().cloned().collect()
    }

    /// What the bot sent, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.state.data().sent.clone()
    }
}

fn reply(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

fn failure(code: u16, description: &str) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"ok": false, "error_code": code, "description": description});
    (status, axum::Json(body)).into_response()
}

fn bad_request(what: &str) -> Response {
    failure(400, &format!("Bad Request: {what}"))
}

fn not_found() -> Response {
    failure(404, "Not Found")
}

fn fault_response(fault: TelegramFault) -> Response {
    match fault {
        TelegramFault::TooManyRequests { retry_after } => {
            let body = json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {retry_after}"),
                "parameters": {"retry_after": retry_after},
            });
            (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
        }
        TelegramFault::BadRequest(what) => bad_request(&what),
        TelegramFault::Blocked => failure(403, "Forbidden: bot was blocked by the user"),
        TelegramFault::Server(code) => failure(code, "Internal Server Error"),
    }
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Flowpilot Test Bot", "username": "flowpilot_test_bot"})
}

fn chat_object(chat_id: &Value) -> Value {
    match chat_id {
        Value::String(name) if name.starts_with('@') => {
            json!({"id": -1_001_000_000_001i64, "title": &name[1..], "username": &name[1..], "type": "channel"})
        }
        other => {
            let id = as_i64(other).unwrap_or_default();
            if id < 0 {
                json!({"id": id, "title": "Test group", "type": "supergroup"})
            } else {
                json!({"id": id, "first_name": "Ada", "username": "ada_test", "type": "private"})
            }
        }
    }
}

/// A parameter as an integer, whether it came as a JSON number or a string.
fn as_i64(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn as_bool(value: Option<&Value>) -> bool {
    value.is_some_and(|v| v.as_bool().unwrap_or_else(|| v.as_str() == Some("true")))
}

/// The parameters of a call: the query string, then the JSON or form body over it.
fn params(query: Vec<(String, String)>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut params: Map<String, Value> = query.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if let Some(Value::Object(body)) = json_or_form(content_type, body) {
        params.extend(body);
    }
    params
}

async fn call(
    State(state): State<Arc<TelegramState>>,
    Path((bot, method)): Path<(String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = bot.strip_prefix("bot") else {
        return not_found();
    };
    if token != state.data().token {
        return failure(401, "Unauthorized");
    }
    if let Some(fault) = state.faults.take() {
        return fault_response(fault);
    }
    let params = params(query, &headers, &body);
    // Method names are case-insensitive in the Bot API.
    match method.to_ascii_lowercase().as_str() {
        "getme" => reply(bot_user()),
        "sendmessage" => send::send_message(&state, params),
        "senddocument" => send::send_document(&state, params),
        "getupdates" => updates::get_updates(&state, params).await,
        "setwebhook" => updates::set_webhook(&state, &params),
        "deletewebhook" => {
            let mut data = state.data();
            if as_bool(params.get("drop_pending_updates")) {
                data.updates.clear();
            }
            let was_set = !std::mem::take(&mut data.webhook_url).is_empty();
            let description = if was_set {
                "Webhook was deleted"
            } else {
                "Webhook is already deleted"
            };
            axum::Json(json!({"ok": true, "result": true, "description": description})).into_response()
        }
        "getwebhookinfo" => {
            let data = state.data();
            reply(
                json!({"url": data.webhook_url, "has_custom_certificate": false, "pending_update_count": data.updates.len()}),
            )
        }
        _ => not_found(),
    }
}
