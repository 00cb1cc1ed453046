//! A fake OpenAI-compatible server: `/v1/chat/completions` answers from a queue
//! of canned replies, and prefixed copies of it misbehave on purpose.
//!
//! | base URL | behaviour |
//! |---|---|
//! | [`FakeOpenAi::base_url`] | the next canned reply (or `"ok"` when the queue is empty) |
//! | [`FakeOpenAi::unauthorized_base_url`] | always 401 with OpenAI's `invalid_api_key` error |
//! | [`FakeOpenAi::rate_limited_base_url`] | 429 with `Retry-After: 1` on the first call, then a canned reply |
//! | [`FakeOpenAi::broken_base_url`] | always 500 |
//! | [`FakeOpenAi::json_mode_only_base_url`] | 400 for a `json_schema` response_format (as Groq answers for models without structured outputs), else a canned reply |
//!
//! A request without `model` or `messages` gets a 400, as from the real API.

use crate::peer::{Peer, Recorded};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// One answer of the fake model.
#[derive(Debug, Clone, PartialEq)]
pub struct CannedReply {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub finish_reason: String,
}

impl CannedReply {
    pub fn text(content: &str) -> Self {
        Self {
            content: content.to_string(),
            prompt_tokens: 10,
            completion_tokens: 5,
            finish_reason: "stop".into(),
        }
    }

    pub fn usage(mut self, prompt_tokens: u64, completion_tokens: u64) -> Self {
        self.prompt_tokens = prompt_tokens;
        self.completion_tokens = completion_tokens;
        self
    }

    pub fn finish_reason(mut self, reason: &str) -> Self {
        self.finish_reason = reason.to_string();
        self
    }
}

#[derive(Debug, Default)]
struct FakeState {
    replies: Mutex<VecDeque<CannedReply>>,
    rate_limited_calls: Mutex<u32>,
}

impl FakeState {
    fn replies(&self) -> MutexGuard<'_, VecDeque<CannedReply>> {
        self.replies.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running fake.
#[derive(Debug)]
pub struct FakeOpenAi {
    peer: Peer,
    state: Arc<FakeState>,
}

impl FakeOpenAi {
    pub async fn start() -> FakeOpenAi {
        let state = Arc::new(FakeState::default());
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/v1/chat/completions", post(completion))
                .route("/unauthorized/v1/chat/completions", post(unauthorized))
                .route("/rate-limited/v1/chat/completions", post(rate_limited))
                .route("/broken/v1/chat/completions", post(broken))
                .route("/json-mode-only/v1/chat/completions", post(json_mode_only))
                .with_state(shared)
        })
        .await;
        FakeOpenAi { peer, state }
    }

    /// Queue the answer to the next successful completion.
    pub fn push_reply(&self, reply: CannedReply) {
        self.state.replies().push_back(reply);
    }

    /// The healthy server, as a provider's `base_url` (no `/v1`).
    pub fn base_url(&self) -> &str {
        self.peer.base_url()
    }

    pub fn unauthorized_base_url(&self) -> String {
        self.peer.url("/unauthorized")
    }

    pub fn rate_limited_base_url(&self) -> String {
        self.peer.url("/rate-limited")
    }

    pub fn broken_base_url(&self) -> String {
        self.peer.url("/broken")
    }

    pub fn json_mode_only_base_url(&self) -> String {
        self.peer.url("/json-mode-only")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.peer.requests()
    }

    pub fn only_request(&self) -> Recorded {
        self.peer.only_request()
    }
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": kind, "param": null, "code": code}})),
    )
        .into_response()
}

async fn completion(State(state): State<Arc<FakeState>>, body: axum::body::Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(model) = request.get("model").and_then(Value::as_str) else {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            "invalid_request_error",
            "missing_model",
        );
    };
    if !request.get("messages").is_some_and(Value::is_array) {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "'messages' is a required property",
            "invalid_request_error",
            "missing_messages",
        );
    }
    let reply = state.replies().pop_front().unwrap_or_else(|| CannedReply::text("ok"));
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.content, "refusal": null},
            "finish_reason": reply.finish_reason,
        }],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }))
    .into_response()
}

async fn unauthorized() -> Response {
    openai_error(
        StatusCode::UNAUTHORIZED,
        "Incorrect API key provided: sk-wr***ng. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    )
}

async fn rate_limited(State(state): State<Arc<FakeState>>, body: axum::body::Bytes) -> Response {
    let first = {
        let mut calls = state.rate_limited_calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls += 1;
        *calls == 1
    };
    if first {
        let mut response = openai_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit reached for requests per minute. Please try again in 1s.",
            "requests",
            "rate_limit_exceeded",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return response;
    }
    completion(State(state), body).await
}

async fn broken() -> Response {
    openai_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        "internal_error",
    )
}

async fn json_mode_only(State(state): State<Arc<FakeState>>, body: axum::body::Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request.pointer("/response_format/type").and_then(Value::as_str) == Some("json_schema") {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "This model does not support response format `json_schema`. See supported models at https://console.groq.com/docs/structured-outputs#supported-models",
            "invalid_request_error",
            "model_not_supported",
        );
    }
    completion(State(state), body).await
}
