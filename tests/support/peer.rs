//! A real HTTP server on 127.0.0.1 (port 0, so tests never collide) that
//! records every request it receives, for tests to assert what was sent, and
//! [`Faults`]: the queue of wrong answers a service imitation gives on demand.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long [`Peer::wait_for_requests`] waits before failing the test: long
/// enough for a loaded CI machine, short enough to fail instead of hanging.
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// One request as the peer received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The query string, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names in lowercase; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// When it arrived, for asserting on the gaps between retries.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (failing the test) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} sent a body that is not JSON ({e}): {}",
                self.method,
                self.path,
                self.text()
            )
        })
    }
}

#[derive(Debug)]
struct Log {
    requests: Mutex<Vec<Recorded>>,
    count: watch::Sender<usize>,
}

impl Log {
    fn lock(&self) -> MutexGuard<'_, Vec<Recorded>> {
        // A handler that panicked does not make the log unreadable.
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running server. Dropping it stops the server and everything it left
/// hanging (slow and stalled responses).
#[derive(Debug)]
pub struct Peer {
    base_url: String,
    log: Arc<Log>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
}

impl Peer {
    /// Serve the router built by `app` on a fresh port. `app` gets the token
    /// that is cancelled when the peer is dropped, so handlers that wait can stop.
    pub async fn start(app: impl FnOnce(CancellationToken) -> Router) -> Peer {
        let shutdown = CancellationToken::new();
        let log = Arc::new(Log {
            requests: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
        });
        let router = app(shutdown.clone()).layer(middleware::from_fn_with_state(log.clone(), record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("the listener's address");
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("test peer on {addr} stopped: {e}");
            }
        });
        Peer {
            base_url: format!("http://{addr}"),
            log,
            shutdown,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The full URL of `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().clone()
    }

    /// The requests received for `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.log.lock().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The only request received; fails the test if there were none or several.
    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request, got {all:#?}");
        all.into_iter().next().expect("one request")
    }

    /// Wait until at least `n` requests have arrived (their bodies read): the
    /// way to act on "the request is in flight" without sleeping.
    pub async fn wait_for_requests(&self, n: usize) {
        let mut count = self.log.count.subscribe();
        let arrived = tokio::time::timeout(WAIT_LIMIT, count.wait_for(|c| *c >= n)).await;
        match arrived {
            Ok(Ok(_)) => {}
            _ => panic!(
                "waited {WAIT_LIMIT:?} for {n} request(s) to {}; got {:#?}",
                self.base_url,
                self.requests()
            ),
        }
    }

    /// Wait until at least `n` requests to `path` have arrived.
    pub async fn wait_for_requests_to(&self, path: &str, n: usize) {
        self.wait_until(&format!("{n} request(s) to {path}"), |all| {
            all.iter().filter(|r| r.path == path).count() >= n
        })
        .await
    }

    /// Wait until `done` holds for the requests received so far; it is checked
    /// again on each new request, never on a timer. `what` names the wait in
    /// the failure message.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Recorded]) -> bool) {
        // Subscribe before looking, so a request arriving in between wakes us.
        let mut count = self.log.count.subscribe();
        let waited = tokio::time::timeout(WAIT_LIMIT, async {
            loop {
                if done(&self.log.lock()) {
                    return true;
                }
                if count.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await;
        if waited != Ok(true) {
            panic!(
                "waited {WAIT_LIMIT:?} for {what} at {}; got {:#?}",
                self.base_url,
                self.requests()
            );
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.server.abort();
    }
}

/// Middleware: read the whole body, log the request, pass it on unchanged.
async fn record(State(log): State<Arc<Log>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, format!("unreadable body: {e}")).into_response(),
    };
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let entry = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    };
    let count = {
        let mut requests = log.lock();
        requests.push(entry);
        requests.len()
    };
    log.count.send_replace(count);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Wrong answers queued for the next calls of a service imitation: each
/// service has its own fault type (a rate limit, a server error, a validation
/// error...) and renders it in that service's documented error shape.
#[derive(Debug)]
pub struct Faults<F> {
    queue: Mutex<VecDeque<F>>,
}

impl<F> Default for Faults<F> {
    fn default() -> Self {
        Faults {
            queue: Mutex::new(VecDeque::new()),
        }
    }
}

impl<F: Clone> Faults<F> {
    fn lock(&self) -> MutexGuard<'_, VecDeque<F>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answer the next `times` calls with `fault`, after the faults already queued.
    pub fn push(&self, fault: F, times: usize) {
        let mut queue = self.lock();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// The fault this call answers with, if any is left (each is used once).
    pub fn take(&self) -> Option<F> {
        self.lock().pop_front()
    }

    /// How many calls are still to fail.
    pub fn pending(&self) -> usize {
        self.lock().len()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// A request body as JSON: a JSON body as it is, a form body
/// (`application/x-www-form-urlencoded`) as an object of strings. `None` when
/// the body is neither (or empty).
pub fn json_or_form(content_type: Option<&str>, body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return None;
    }
    let is_form = content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let object = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Some(Value::Object(object));
    }
    serde_json::from_slice(body).ok()
}

/// The token of an `Authorization: Bearer <token>` header (the scheme matched
/// without regard to case, as RFC 6750 allows).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The error answer a request check hands back to its handler, which returns
/// it as it is (boxed: a `Response` is too large to pass around in a `Result`).
#[derive(Debug)]
pub struct Refusal(Box<Response>);

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Refusal(Box::new(response))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}
