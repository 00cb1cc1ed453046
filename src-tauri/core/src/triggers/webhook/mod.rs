//! The webhook server: a local HTTP server (axum) in the process that runs the
//! triggers. Each webhook plan has a URL with an unguessable token,
//! `http://127.0.0.1:<port>/hooks/<token>`. An unknown token or a plan that is
//! not active is 404 with no detail; a method other than POST or PUT is 405; a
//! body over 16 MB is 413; a bad signature is 401. A delivery id seen before
//! is answered 200 without a second run. `async` answers 202 with the run id
//! at once; `sync` waits up to `wait_s` for the run's last output. Nothing logs
//! a token or a signature.

pub mod request;
pub mod signature;

use super::Shared;
use super::dispatch::Finished;
use super::status::WebhookServerStatus;
use crate::settings::WebhookSettings;
use crate::store::{NewEvent, Queued};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use flowpilot_engine::plan::{EventOverlap, PlanStatus, Trigger, WebhookResponse};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The largest body a call may have.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The server, and the plans listening for a test event.
pub struct WebhookServer {
    status: Mutex<WebhookServerStatus>,
    listeners: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer").field("status", &self.status()).finish()
    }
}

/// What the URLs start with for these settings, listening on `port`.
pub fn base_url(settings: &WebhookSettings, port: u16) -> String {
    if let Some(base) = settings
        .public_base_url
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        return base.trim_end_matches('/').to_string();
    }
    let host = match settings.bind_address.parse::<IpAddr>() {
        Ok(ip) if !ip.is_unspecified() && !ip.is_loopback() => ip.to_string(),
        _ => "127.0.0.1".to_string(),
    };
    format!("http://{host}:{port}")
}

impl WebhookServer {
    pub fn new(settings: &WebhookSettings, port: u16) -> Arc<Self> {
        Arc::new(Self {
            status: Mutex::new(WebhookServerStatus {
                listening: false,
                address: format!("{}:{port}", settings.bind_address),
                base_url: base_url(settings, port),
                error: None,
                exposure: settings.exposure(),
            }),
            listeners: Mutex::default(),
            stop: CancellationToken::new(),
        })
    }

    pub fn status(&self) -> WebhookServerStatus {
        lock(&self.status).clone()
    }

    /// Bind and serve until [`WebhookServer::stop`]. A port in use (or any bind
    /// failure) is the status's error, in words, not a failure of the app.
    pub async fn start(
        self: &Arc<Self>,
        shared: Arc<Shared>,
        settings: &WebhookSettings,
        port: u16,
    ) -> WebhookServerStatus {
        let ip: IpAddr = settings.bind_address.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let listener = match tokio::net::TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => l,
            Err(e) => {
                let message = match e.kind() {
                    std::io::ErrorKind::AddrInUse => format!(
                        "Port {port} is in use by another program, so webhook calls cannot be received. Choose another port in Settings → Webhooks (or `flowpilot-cli serve --port`)."
                    ),
                    std::io::ErrorKind::PermissionDenied => format!(
                        "Flowpilot may not listen on port {port}; ports below 1024 need special rights. Choose another port in Settings → Webhooks."
                    ),
                    std::io::ErrorKind::AddrNotAvailable => format!(
                        "{} is not an address of this computer; change it in Settings → Webhooks.",
                        settings.bind_address
                    ),
                    _ => format!("The webhook server cannot listen on {ip}:{port}: {e}"),
                };
                tracing::error!("{message}");
                let mut status = lock(&self.status);
                status.listening = false;
                status.error = Some(message);
                return status.clone();
            }
        };
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        let state = Arc::new(HookState {
            shared,
            server: self.clone(),
        });
        let app = Router::new()
            .route("/hooks/{token}", any(hook))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(state);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!("the webhook server stopped: {e}");
            }
        });
        tracing::info!(address = %format!("{ip}:{bound}"), "webhook server listening");
        let mut status = lock(&self.status);
        status.listening = true;
        status.error = None;
        status.address = format!("{ip}:{bound}");
        status.base_url = base_url(settings, bound);
        status.clone()
    }

    /// Stop accepting calls (calls in progress are answered).
    pub fn stop(&self) {
        self.stop.cancel();
        lock(&self.status).listening = false;
    }

    /// The next call to `plan_id`'s URL is handed to the receiver instead of
    /// starting a run (its URL answers even while the plan is a draft).
    pub fn listen(&self, plan_id: &str) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        lock(&self.listeners).insert(plan_id.to_string(), tx);
        rx
    }

    pub fn stop_listening(&self, plan_id: &str) {
        lock(&self.listeners).remove(plan_id);
    }

    fn is_listening(&self, plan_id: &str) -> bool {
        lock(&self.listeners).get(plan_id).is_some_and(|tx| !tx.is_closed())
    }
}

struct HookState {
    shared: Arc<Shared>,
    server: Arc<WebhookServer>,
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn hook(State(state): State<Arc<HookState>>, Path(token): Path<String>, request: Request) -> Response {
    let shared = &state.shared;
    let app = &shared.app;
    let Ok(Some(plan_id)) = app.plan_for_webhook_token(&token) else {
        return not_found();
    };
    let Ok(row) = app.stored_plan(&plan_id) else {
        return not_found();
    };
    let Trigger::Webhook(hook) = &row.plan.trigger else {
        return not_found();
    };
    let listening = state.server.is_listening(&plan_id);
    if row.plan.status != PlanStatus::Active && !listening {
        return not_found();
    }
    if !matches!(*request.method(), Method::POST | Method::PUT) {
        let mut r = (StatusCode::METHOD_NOT_ALLOWED, "only POST and PUT are accepted\n").into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, PUT"));
        return r;
    }
    let method = request.method().clone();
    let headers = request.headers().clone();
    let query = request.uri().query().map(str::to_string);
    let body = match Bytes::from_request(request, &()).await {
        Ok(b) => b,
        Err(rejection) => return rejection.into_response(),
    };
    let now = app.clock().now();
    if let Some(signature) = &hook.signature {
        let secret = match app.read_credential("webhook", &signature.credential).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                tracing::warn!(plan = %plan_id, "a webhook call was refused: no signing secret is stored as `{}`", signature.credential);
                return StatusCode::UNAUTHORIZED.into_response();
            }
            Err(e) => {
                tracing::error!(plan = %plan_id, "a webhook call was refused: the signing secret cannot be read: {e}");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        };
        if let Err(e) = signature::verify(
            signature.scheme,
            signature.header.as_deref(),
            secret.expose(),
            &headers,
            &body,
            now.timestamp(),
        ) {
            tracing::info!(plan = %plan_id, scheme = signature.scheme.as_str(), "a webhook call was refused: {e}");
            return (StatusCode::UNAUTHORIZED, "invalid signature\n").into_response();
        }
    }
    let event = request::event(&method, &headers, query.as_deref(), &body, hook.signature.as_ref());
    if listening && let Some(tx) = lock(&state.server.listeners).remove(&plan_id) {
        let _ = tx.send(json!({"type": "webhook", "method": event["method"], "payload": event["payload"], "headers": event["headers"], "query": event["query"]}));
        return reply(StatusCode::OK, json!({"test_event": "received"}));
    }
    if hook.overlap == EventOverlap::Skip && app.running_count(&plan_id) > 0 {
        if let Err(e) = app.record_missed_event(&plan_id, crate::store::MissReason::Overlap, now) {
            tracing::error!("cannot record a skipped call: {e}");
        }
        return reply(
            StatusCode::CONFLICT,
            json!({"error": "the plan is still running, so this call was skipped (overlap: skip)"}),
        );
    }
    let key = request::delivery_key(hook.signature.as_ref().map(|s| s.scheme), &headers, &event["payload"]);
    let run_id = uuid::Uuid::now_v7().to_string();
    let waiter = (hook.respond == WebhookResponse::Sync).then(|| shared.dispatcher.wait_for(&run_id));
    let queued = app.queue_delivery(
        &plan_id,
        key.as_deref(),
        &NewEvent {
            run_id: run_id.clone(),
            kind: "webhook".into(),
            event,
            received_at: now,
        },
    );
    match queued {
        Ok(Queued::New(_)) => shared.dispatcher.wake(),
        Ok(Queued::Duplicate(earlier)) => {
            shared.dispatcher.forget_waiter(&run_id);
            return reply(StatusCode::OK, json!({"run_id": earlier, "duplicate": true}));
        }
        Err(e) => {
            shared.dispatcher.forget_waiter(&run_id);
            tracing::error!(plan = %plan_id, "a webhook call could not be recorded: {e}");
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "the call could not be recorded"}),
            );
        }
    }
    let Some(waiter) = waiter else {
        return reply(StatusCode::ACCEPTED, json!({"run_id": run_id}));
    };
    match tokio::time::timeout(Duration::from_secs(u64::from(hook.wait_s)), waiter).await {
        Ok(Ok(Finished::Ran(outcome))) => {
            if outcome.status == flowpilot_engine::RunStatus::Success {
                let last = outcome.steps.last().map(|s| s.output.clone()).unwrap_or(Value::Null);
                reply(StatusCode::OK, last)
            } else {
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"run_id": run_id, "status": outcome.status, "error": outcome.error}),
                )
            }
        }
        Ok(Ok(Finished::Skipped)) => reply(
            StatusCode::CONFLICT,
            json!({"error": "the plan is still running, so this call was skipped (overlap: skip)"}),
        ),
        Ok(Err(_)) => reply(StatusCode::ACCEPTED, json!({"run_id": run_id, "status": "queued"})),
        Err(_) => {
            shared.dispatcher.forget_waiter(&run_id);
            reply(StatusCode::ACCEPTED, json!({"run_id": run_id, "status": "running"}))
        }
    }
}

/// A fresh unguessable token: 244 random bits as 64 hex digits.
pub fn new_token() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_use_the_public_base_when_set() {
        let mut s = WebhookSettings::default();
        assert_eq!(base_url(&s, 8737), "http://127.0.0.1:8737");
        s.bind_address = "0.0.0.0".into();
        assert_eq!(base_url(&s, 8737), "http://127.0.0.1:8737");
        s.bind_address = "192.168.1.20".into();
        assert_eq!(base_url(&s, 9000), "http://192.168.1.20:9000");
        s.public_base_url = Some("https://hooks.example.com/".into());
        assert_eq!(base_url(&s, 9000), "https://hooks.example.com");
        assert_eq!(new_token().len(), 64);
        assert_ne!(new_token(), new_token());
    }
}
