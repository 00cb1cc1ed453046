//! The one way Flowpilot sends an HTTP request: `http.request`, `webhook`, the
//! language models and every integration definition build a [`Request`] and
//! send it here, so they share one set of rules:
//!
//! - credentials travel in headers or query parameters marked secret, which go
//!   to the request's own origin only: a redirect to another origin (an http →
//!   https upgrade included) is followed without them;
//! - at most [`MAX_REDIRECTS`] redirects; 303 (and 301/302 after a POST) continue as GET;
//! - a request with side effects carries an `Idempotency-Key` that every attempt
//!   repeats, and its failures are classed by whether the server may have acted
//!   on it ([`failure`]);
//! - no data for the idle timeout (60 s by default) while waiting for the answer
//!   or reading it is an error of its own, apart from the step's timeout;
//! - bodies are read in chunks and cut at [`MAX_OUTPUT_BYTES`] ([`reply`]);
//! - everything is cancellable.
//!
//! - [`auth`]: credentials as headers or query parameters;
//! - [`failure`]: statuses and transport failures as step errors;
//! - [`reply`]: the answer, its body, the body as a step output.

pub mod auth;
pub mod failure;
pub mod reply;

pub use auth::{Credential, split_user_password};
pub use failure::{display_url, error_detail, excerpt, parse_retry_after, status_error};
pub use reply::{Incoming, Reply, body_value, declared_encoding, headers_json, status_line};

use crate::registry::{Credentials, StepError};
use crate::run::MAX_OUTPUT_BYTES;
use crate::step_error::ErrorCode;
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, PROXY_AUTHORIZATION,
};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::Value;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 5;
/// No data for this long while waiting for or reading an answer fails the attempt.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of a failed response's body read to find the excerpt; the rest is not needed.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// The header that lets a server recognise a repeated attempt.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Which statuses count as success, and how the body of one that does not is
/// turned into the detail of the error.
type AcceptFn = dyn Fn(StatusCode) -> bool + Send + Sync;

/// One HTTP request, as every provider describes it.
pub struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    /// Headers carrying a credential: sent to `url`'s origin only.
    secret_headers: HeaderMap,
    query: Vec<(String, String)>,
    /// Query parameters carrying a credential (masked in every URL shown).
    secret_query: Vec<(String, String)>,
    body: Option<(Vec<u8>, HeaderValue)>,
    side_effects: bool,
    idempotency_key: Option<String>,
    idle_timeout: Duration,
    accept: Box<AcceptFn>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &display_url(&self.url, &[]))
            .field("side_effects", &self.side_effects)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            secret_headers: HeaderMap::new(),
            query: Vec::new(),
            secret_query: Vec::new(),
            body: None,
            side_effects: false,
            idempotency_key: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            accept: Box::new(|s: StatusCode| s.is_success()),
        }
    }

    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }

    pub fn post(url: Url) -> Self {
        Self::new(Method::POST, url)
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Headers that carry no secret (a secret belongs in [`Request::credential`]).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers {
            if let Some(name) = name {
                self.headers.append(name, value);
            }
        }
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// A header whose value holds a secret (an integration's templated header):
    /// sent to the request's own origin only.
    pub fn secret_header(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        value.set_sensitive(true);
        self.secret_headers.insert(name, value);
        self
    }

    /// Query parameters added to the URL.
    pub fn query(mut self, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// A query parameter whose value is a secret.
    pub fn secret_query(mut self, name: String, value: String) -> Self {
        self.secret_query.push((name, value));
        self
    }

    /// Put a credential in; `field` names it for errors, and derived forms of it
    /// are remembered in `credentials` for redaction.
    pub fn credential(self, credential: Credential, field: &str, credentials: &Credentials) -> Result<Self, StepError> {
        credential.apply(self, field, credentials)
    }

    /// A JSON body (`Content-Type: application/json` unless a header says otherwise).
    pub fn json(mut self, body: &Value) -> Self {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.body = Some((bytes, HeaderValue::from_static("application/json")));
        self
    }

    /// A text body (`text/plain; charset=utf-8` unless a header says otherwise).
    pub fn text(mut self, body: String) -> Self {
        self.body = Some((body.into_bytes(), HeaderValue::from_static("text/plain; charset=utf-8")));
        self
    }

    /// A URL-encoded form body.
    pub fn form(mut self, fields: &[(String, String)]) -> Self {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.body = Some((
            encoded.into_bytes(),
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ));
        self
    }

    /// Whether sending it may change something. Such a request carries an
    /// `Idempotency-Key` (see [`Request::idempotency_key`]) and is retried only
    /// when the failure proves it was not acted on.
    pub fn side_effects(mut self, side_effects: bool) -> Self {
        self.side_effects = side_effects;
        self
    }

    /// The key every attempt of a request with side effects repeats (derived from
    /// the run and the step), unless the request sets its own.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// How long a silence while waiting for or reading the answer may last.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Which statuses count as success (any 2xx by default).
    pub fn accept(mut self, accept: impl Fn(StatusCode) -> bool + Send + Sync + 'static) -> Self {
        self.accept = Box::new(accept);
        self
    }

    /// The names of the query parameters that carry secrets.
    fn secret_query_names(&self) -> Vec<String> {
        self.secret_query.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Send, follow redirects, and read the answer: an accepted status comes back
    /// as a [`Reply`] with its body (up to the cap); any other as the matching error.
    pub async fn send(self, client: &Client, cancel: &CancellationToken) -> Result<Reply, StepError> {
        let read = |body: &[u8]| ErrorReading {
            detail: error_detail(body),
            ..ErrorReading::default()
        };
        self.send_with(client, cancel, &read).await
    }

    /// [`Request::send`], with `read` taking the error message (and a wait
    /// named in the body) out of a refused answer's body (an integration's
    /// `error_message` and `retry_after` pointers).
    pub async fn send_with(
        self,
        client: &Client,
        cancel: &CancellationToken,
        read: &(dyn Fn(&[u8]) -> ErrorReading + Send + Sync),
    ) -> Result<Reply, StepError> {
        let (incoming, accept) = self.open_keeping_accept(client, cancel).await?;
        finish(incoming, &*accept, cancel, read).await
    }

    /// Send and follow redirects; the answer's head, its body not read yet.
    pub async fn open(self, client: &Client, cancel: &CancellationToken) -> Result<Incoming, StepError> {
        Ok(self.open_keeping_accept(client, cancel).await?.0)
    }

    async fn open_keeping_accept(
        self,
        client: &Client,
        cancel: &CancellationToken,
    ) -> Result<(Incoming, Box<AcceptFn>), StepError> {
        let secret_names = self.secret_query_names();
        let home = self.url.origin();
        let mut url = self.url.clone();
        if !self.query.is_empty() || !self.secret_query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().chain(self.secret_query.iter()));
        }
        let mut method = self.method.clone();
        let mut body = self.body.clone();
        let mut credentials = true;
        let mut redirects = 0;
        loop {
            let shown = display_url(&url, &secret_names);
            let request = self.build(&method, &url, body.as_ref(), credentials && url.origin() == home)?;
            let response = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
                r = tokio::time::timeout(self.idle_timeout, client.execute(request)) => match r {
                    Ok(r) => r.map_err(|e| failure::transport_error(&method, &shown, &e, self.side_effects, false))?,
                    Err(_) => return Err(failure::idle_error(&method, &shown, self.idle_timeout, self.side_effects, false)),
                },
            };
            let status = response.status();
            let location = response.headers().get(LOCATION).cloned();
            let Some(location) = location.filter(|_| is_redirect(status)) else {
                let incoming = Incoming {
                    url: display_url(response.url(), &secret_names),
                    method,
                    response,
                    idle_timeout: self.idle_timeout,
                    side_effects: self.side_effects,
                    redirects,
                };
                return Ok((incoming, self.accept));
            };
            if redirects == MAX_REDIRECTS {
                return Err(StepError::fatal(
                    ErrorCode::Redirect,
                    format!("{method} {shown}: more than {MAX_REDIRECTS} redirects; check the address"),
                ));
            }
            let next = location
                .to_str()
                .ok()
                .and_then(|l| url.join(l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    StepError::fatal(
                        ErrorCode::Redirect,
                        format!(
                            "{method} {shown} -> {}: the redirect leads nowhere Flowpilot can follow",
                            status_line(status)
                        ),
                    )
                })?;
            // 303 says "look there with GET"; after a POST, browsers (and servers
            // that send 301/302) mean the same.
            if status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && method == Method::POST
            {
                method = Method::GET;
                body = None;
            }
            // Once the request has left its origin, credentials stay behind for good.
            if next.origin() != home {
                credentials = false;
            }
            url = next;
            redirects += 1;
        }
    }

    fn build(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&(Vec<u8>, HeaderValue)>,
        credentials: bool,
    ) -> Result<reqwest::Request, StepError> {
        let mut request = reqwest::Request::new(method.clone(), url.clone());
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            if credentials || !is_sensitive_header(name) {
                headers.append(name, value.clone());
            }
        }
        if credentials {
            for (name, value) in &self.secret_headers {
                headers.insert(name, value.clone());
            }
        }
        if let Some((bytes, content_type)) = body {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, content_type.clone());
            }
            *request.body_mut() = Some(bytes.clone().into());
        }
        if self.side_effects
            && let Some(key) = &self.idempotency_key
            && !request.headers().contains_key(IDEMPOTENCY_KEY)
        {
            let value = HeaderValue::from_str(key).map_err(|_| {
                StepError::fatal(ErrorCode::InvalidRequest, "the idempotency key is not a header value")
            })?;
            request
                .headers_mut()
                .insert(HeaderName::from_static(IDEMPOTENCY_KEY), value);
        }
        Ok(request)
    }
}

/// What a refused answer's body says: the message to show, and how long to wait
/// when the API names that in the body rather than in `Retry-After`.
#[derive(Debug, Default)]
pub struct ErrorReading {
    pub detail: Option<String>,
    pub retry_after: Option<Duration>,
    /// The body says waiting will not help (an account's quota used up, by the
    /// API's own error code): a refusal that would be retried is final instead.
    pub lasting: bool,
}

/// Headers a cross-origin redirect never carries, even when the plan wrote them
/// itself (a token taken from an earlier step's output, say).
fn is_sensitive_header(name: &HeaderName) -> bool {
    name == AUTHORIZATION || name == PROXY_AUTHORIZATION || name == COOKIE || {
        let n = name.as_str();
        ["key", "token", "secret", "auth", "password", "session"]
            .iter()
            .any(|w| n.contains(w))
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Read an answer: an accepted status's body up to the cap, or the error for one
/// that is not, its detail from the start of its body.
async fn finish(
    mut incoming: Incoming,
    accept: &AcceptFn,
    cancel: &CancellationToken,
    read: &(dyn Fn(&[u8]) -> ErrorReading + Send + Sync),
) -> Result<Reply, StepError> {
    let status = incoming.status();
    if accept(status) {
        let (body, truncated) = incoming.read_body(MAX_OUTPUT_BYTES, cancel).await?;
        return Ok(Reply {
            headers: incoming.response.headers().clone(),
            method: incoming.method,
            url: incoming.url,
            status,
            body,
            truncated,
            redirects: incoming.redirects,
        });
    }
    // The body only serves the excerpt; a body that breaks off still leaves the
    // status to report, so a read failure here is not the step's error.
    let body = match incoming.read_body(ERROR_BODY_BYTES, cancel).await {
        Ok((body, _)) => body,
        Err(StepError::Cancelled) => return Err(StepError::Cancelled),
        Err(_) => Vec::new(),
    };
    let reading = read(&body);
    let error = status_error(
        &incoming.method,
        &incoming.url,
        status,
        incoming.response.headers(),
        reading.detail,
        status.is_success(),
        incoming.side_effects,
        SystemTime::now(),
    );
    Err(match error {
        StepError::Retryable { code, message, .. } if reading.lasting => StepError::Fatal { code, message },
        StepError::Retryable {
            code,
            message,
            after: None,
        } => StepError::Retryable {
            code,
            message,
            after: reading.retry_after,
        },
        other => other,
    })
}
