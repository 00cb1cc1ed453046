//! A generic HTTP target for the `http` and `webhook` providers: statuses on
//! demand, JSON and text bodies, an echo, slow, stalled and huge responses,
//! and endpoints that fail a given number of times before they succeed.
//!
//! | path | answer |
//! |---|---|
//! | `/status/{code}?retry_after=V` | status `code`, body `{"status": code}`, `Retry-After: V` if asked |
//! | `/json?content_type=T` | a fixed JSON object, labelled `application/json` or `T` |
//! | `/text` | `hello, world` as text/plain |
//! | `/latin1` | `Café crème` in ISO-8859-1, labelled so |
//! | `/echo` | the request as JSON: method, path, query, headers, body (and `json` when it is) |
//! | `/slow?ms=N` | `done` after N milliseconds |
//! | `/stall` | 200 and headers, then a body that never comes |
//! | `/huge?bytes=N` | N bytes of `x` (default 12 MiB) |
//! | `/flaky/{name}?fail=N&status=S&retry_after=V` | status S (default 503) for the first N calls per name, then 200 `{"attempt": k}` |

use crate::peer::{Peer, Recorded};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::io::ReaderStream;
use tokio_util::sync::CancellationToken;

/// The default size of `/huge`: more than the engine keeps of any output.
pub const HUGE_BYTES: usize = 12 * 1024 * 1024;

/// The JSON `/json` answers with.
pub fn sample_json() -> Value {
    json!({"message": "hello", "items": [1, 2, 3], "nested": {"ok": true}})
}

#[derive(Debug)]
struct TargetState {
    shutdown: CancellationToken,
    /// Calls so far per `/flaky/{name}`.
    flaky: Mutex<HashMap<String, u32>>,
}

type Params = Query<HashMap<String, String>>;

/// The running target.
#[derive(Debug)]
pub struct Target {
    peer: Peer,
}

impl Target {
    pub async fn start() -> Target {
        let peer = Peer::start(|shutdown| {
            let state = Arc::new(TargetState {
                shutdown,
                flaky: Mutex::new(HashMap::new()),
            });
            Router::new()
                .route("/status/{code}", any(status))
                .route("/json", get(sample))
                .route(
                    "/text",
                    get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "hello, world") }),
                )
                .route(
                    "/latin1",
                    get(|| async {
                        // é and è are one byte each in ISO-8859-1.
                        let body: &[u8] = b"Caf\xe9 cr\xe8me";
                        ([(header::CONTENT_TYPE, "text/plain; charset=ISO-8859-1")], body)
                    }),
                )
                .route("/echo", any(echo))
                .route("/slow", any(slow))
                .route("/stall", any(stall))
                .route("/huge", get(huge))
                .route("/flaky/{name}", any(flaky))
                .with_state(state)
        })
        .await;
        Target { peer }
    }

    pub fn base_url(&self) -> &str {
        self.peer.base_url()
    }

    /// The full URL of `path_and_query`, e.g. `/status/404`.
    pub fn url(&self, path_and_query: &str) -> String {
        self.peer.url(path_and_query)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.peer.requests()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.peer.requests_to(path)
    }

    pub fn only_request(&self) -> Recorded {
        self.peer.only_request()
    }

    pub async fn wait_for_requests(&self, n: usize) {
        self.peer.wait_for_requests(n).await
    }
}

fn with_retry_after(mut response: Response, params: &HashMap<String, String>) -> Response {
    if let Some(v) = params.get("retry_after").and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

async fn status(Path(code): Path<u16>, Query(params): Params) -> Response {
    let Ok(status) = StatusCode::from_u16(code) else {
        return (StatusCode::BAD_REQUEST, "not a status code").into_response();
    };
    with_retry_after((status, axum::Json(json!({"status": code}))).into_response(), &params)
}

async fn sample(Query(params): Params) -> Response {
    let content_type = params
        .get("content_type")
        .cloned()
        .unwrap_or_else(|| "application/json".into());
    ([(header::CONTENT_TYPE, content_type)], sample_json().to_string()).into_response()
}

async fn echo(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        headers.insert(
            name.as_str().to_string(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    let query: Map<String, Value> = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": query,
        "headers": headers,
        "body": text,
        "json": serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
    }))
    .into_response()
}

async fn slow(State(state): State<Arc<TargetState>>, Query(params): Params) -> Response {
    let ms = params.get("ms").and_then(|v| v.parse().ok()).unwrap_or(1_000);
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => "done".into_response(),
        _ = state.shutdown.cancelled() => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Headers now, body never: the far end of the pipe is held open until the
/// peer shuts down, so the client sees a live connection with nothing coming.
async fn stall(State(state): State<Arc<TargetState>>) -> Response {
    let (reader, writer) = tokio::io::duplex(64);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        drop(writer);
    });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(ReaderStream::new(reader)),
    )
        .into_response()
}

async fn huge(Query(params): Params) -> Response {
    let bytes = params.get("bytes").and_then(|v| v.parse().ok()).unwrap_or(HUGE_BYTES);
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from(Bytes::from(vec![b'x'; bytes])),
    )
        .into_response()
}

async fn flaky(State(state): State<Arc<TargetState>>, Path(name): Path<String>, Query(params): Params) -> Response {
    let fail: u32 = params.get("fail").and_then(|v| v.parse().ok()).unwrap_or(1);
    let failure = params
        .get("status")
        .and_then(|v| v.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let attempt = {
        let mut calls = state.flaky.lock().unwrap_or_else(|e| e.into_inner());
        let n = calls.entry(name).or_insert(0);
        *n += 1;
        *n
    };
    if attempt <= fail {
        let body = axum::Json(json!({"error": {"message": format!("failure {attempt} of {fail}")}}));
        with_retry_after((failure, body).into_response(), &params)
    } else {
        axum::Json(json!({"attempt": attempt})).into_response()
    }
}
