//! HTTP plumbing shared by the providers that talk to web servers (`http`,
//! `webhook`, the LLMs): sending with cancellation, reading bodies with a cap,
//! and turning every failure into a [`StepError`] that says whether a retry can help.

use crate::references;
use crate::registry::StepError;
use crate::run::MAX_OUTPUT_BYTES;
use crate::step_error::ErrorCode;
use encoding_rs::Encoding;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use tokio_util::sync::CancellationToken;

/// Characters of a failed response's body quoted in the error message.
pub const EXCERPT_CHARS: usize = 300;
/// Bytes of a failed response's body read to find the excerpt; the rest is not needed.
const ERROR_BODY_BYTES: usize = 64 * 1024;
/// Room kept under [`MAX_OUTPUT_BYTES`] for the truncation marker, so the
/// executor's own cap never cuts the marker off again.
const MARKER_ROOM: usize = 256;
/// What stands in for a secret in the URLs we report.
const MASK: &str = "***";

/// A string param. A reference that resolves to a number, boolean, object or
/// array is taken as its text, the way it would read inside a longer string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Text(references::to_text(&v)))
    }
}

impl JsonSchema for Text {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string"})
    }
}

/// A header or query value: a string, number or boolean, sent as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Scalar(references::to_text(&v)))
    }
}

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": ["string", "number", "boolean"]})
    }
}

/// Whether a param value is a string holding `${...}`, which `prepare` cannot
/// check yet because it is only known when the step runs.
pub fn is_reference(value: &Value) -> bool {
    match value {
        Value::String(s) => references::parse(s).map(|t| t.has_references()).unwrap_or(false),
        _ => false,
    }
}

/// `url` as an address we can call, or why it is not one, in words.
fn http_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| format!("`{url}` is not a web address ({e}); write it in full, like https://example.com/path"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "`{url}` uses `{}:`; only http:// and https:// addresses can be called",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host name"));
    }
    Ok(parsed)
}

/// Why `url` cannot be called, in words; `None` when it is a usable http(s) URL.
pub fn url_problem(url: &str) -> Option<String> {
    http_url(url).err()
}

/// Parse a URL param at run time, or fail the step with a message that names the param.
pub fn parse_url(param: &str, url: &str) -> Result<Url, StepError> {
    http_url(url).map_err(|problem| StepError::fatal(ErrorCode::InvalidParams, format!("{param}: {problem}")))
}

/// Why a header name or (literal) value cannot be sent; `None` when both are fine.
pub fn header_problem(name: &str, value: Option<&str>) -> Option<String> {
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(format!(
            "`{name}` is not a valid header name (letters, digits and `-`, no spaces or `:`)"
        ));
    }
    match value {
        Some(v) if HeaderValue::from_str(v).is_err() => Some(format!(
            "the value of `{name}` holds a line break or another character headers cannot carry"
        )),
        _ => None,
    }
}

/// Build a header map from `name -> value` params.
pub fn header_map(headers: &BTreeMap<String, Scalar>) -> Result<HeaderMap, StepError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, Scalar(value)) in headers {
        let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) else {
            let problem = header_problem(name, Some(value)).unwrap_or_default();
            return Err(StepError::fatal(
                ErrorCode::InvalidParams,
                format!("headers: {problem}"),
            ));
        };
        map.append(n, v);
    }
    Ok(map)
}

/// `prepare`: the problem with the URL param `key`, when it is a literal.
pub fn check_url_param(params: &Value, key: &str, issues: &mut Vec<(String, String)>) {
    if let Some(value) = params.get(key)
        && let Some(url) = value.as_str()
        && !is_reference(value)
        && let Some(problem) = url_problem(url)
    {
        issues.push((key.to_string(), problem));
    }
}

/// `prepare`: problems with the names, and literal values, of the `headers` param.
pub fn check_headers_param(params: &Value, issues: &mut Vec<(String, String)>) {
    let Some(Value::Object(headers)) = params.get("headers") else {
        return;
    };
    for (name, value) in headers {
        let literal = value.as_str().filter(|_| !is_reference(value));
        if let Some(problem) = header_problem(name, literal) {
            let mut path = "headers".to_string();
            references::push_key(&mut path, name);
            issues.push((path, problem));
        }
    }
}

/// Which statuses a caller treats as success.
pub type Accept<'a> = &'a (dyn Fn(StatusCode) -> bool + Send + Sync);

/// Any 2xx.
pub fn success(status: StatusCode) -> bool {
    status.is_success()
}

/// A response that the caller accepted, with its body read (up to the output cap).
#[derive(Debug)]
pub struct Reply {
    pub method: Method,
    /// The final URL (after redirects), with secrets masked: safe to show.
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the cap; `body` holds its start.
    pub truncated: bool,
}

impl Reply {
    /// `GET https://example.com/x -> 200 OK`
    pub fn summary(&self) -> String {
        format!("{} {} -> {}", self.method, self.url, status_line(self.status))
    }

    /// Whether the server labelled the body as JSON (`application/json`, `…+json`).
    pub fn is_json(&self) -> bool {
        is_json_content_type(&self.headers)
    }

    /// The body as a step output: parsed JSON when the server said it is JSON
    /// or it plainly is (an object or array), otherwise text. Empty is null.
    pub fn output(&self) -> Value {
        let encoding = declared_encoding(&self.headers);
        if self.truncated {
            return Value::String(truncated_text(&self.body, encoding, self.headers.get(CONTENT_LENGTH)));
        }
        body_value(&self.body, self.is_json(), encoding)
    }

    /// `status`, `headers` (lowercase names) and `url`, plus `truncated` when it was.
    pub fn metadata(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("status".into(), json!(self.status.as_u16()));
        meta.insert("headers".into(), Value::Object(headers_json(&self.headers)));
        meta.insert("url".into(), json!(self.url));
        if self.truncated {
            meta.insert("truncated".into(), json!(true));
        }
        meta
    }
}

/// Send `request` and read the answer, honouring `cancel` throughout.
///
/// A status `accept` allows comes back as a [`Reply`]; any other becomes the
/// matching error (429 and 5xx retryable, the rest fatal). `secret_query` names
/// a query parameter that carries a credential: it is masked in every URL we
/// report, because the executor's redaction only knows the raw value and would
/// miss its percent-encoded form.
pub async fn exchange(
    request: RequestBuilder,
    accept: Accept<'_>,
    secret_query: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Reply, StepError> {
    let mut incoming = send(request, secret_query, cancel).await?;
    let status = incoming.response.status();
    if accept(status) {
        let (body, truncated) = incoming.read_body(MAX_OUTPUT_BYTES, cancel).await?;
        return Ok(Reply {
            headers: incoming.response.headers().clone(),
            method: incoming.method,
            url: incoming.url,
            status,
            body,
            truncated,
        });
    }
    // The body only serves the excerpt; a body that breaks off still leaves the
    // status to report, so a read failure here is not the step's error.
    let body = match incoming.read_body(ERROR_BODY_BYTES, cancel).await {
        Ok((body, _)) => body,
        Err(StepError::Cancelled) => return Err(StepError::Cancelled),
        Err(_) => Vec::new(),
    };
    Err(status_error(
        &incoming.method,
        &incoming.url,
        status,
        incoming.response.headers(),
        &body,
        status.is_success(),
        SystemTime::now(),
    ))
}

/// A response whose status and headers have arrived and whose body has not been read.
#[derive(Debug)]
pub struct Incoming {
    pub method: Method,
    /// The final URL (after redirects), with secrets masked.
    pub url: String,
    pub response: Response,
}

/// Send `request` and wait for the response's head; the first half of [`exchange`].
pub async fn send(
    request: RequestBuilder,
    secret_query: Option<&str>,
    cancel: &CancellationToken,
) -> Result<Incoming, StepError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| {
        StepError::fatal(
            ErrorCode::InvalidRequest,
            format!("the request could not be built: {}", root_cause(&e)),
        )
    })?;
    let method = request.method().clone();
    let shown = display_url(request.url(), secret_query);
    let response = tokio::select! {
        biased;
        _ = cancel.cancelled() => return Err(StepError::Cancelled),
        r = client.execute(request) => r.map_err(|e| transport_error(&method, &shown, &e))?,
    };
    Ok(Incoming {
        url: display_url(response.url(), secret_query),
        method,
        response,
    })
}

impl Incoming {
    /// Read at most `cap` bytes of the body, chunk by chunk, so that a huge body
    /// never fills memory. Returns the bytes and whether there was more.
    pub async fn read_body(&mut self, cap: usize, cancel: &CancellationToken) -> Result<(Vec<u8>, bool), StepError> {
        let declared = self
            .response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let mut body = Vec::with_capacity(declared.min(cap.saturating_add(1)));
        loop {
            let chunk = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
                c = self.response.chunk() => c.map_err(|e| transport_error(&self.method, &self.url, &e))?,
            };
            let Some(chunk) = chunk else {
                return Ok((body, false));
            };
            // One byte past the cap is enough to know the body was longer.
            let room = cap.saturating_add(1).saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() > cap {
                body.truncate(cap);
                return Ok((body, true));
            }
        }
    }
}

/// `404 Not Found`
pub fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// What a status usually means for the person reading the log.
fn status_hint(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        401 => "the server did not accept the credentials",
        403 => "the credentials are not allowed to do this",
        404 => "nothing was found at this address; check the URL",
        408 => "the server gave up waiting for the request",
        413 => "the request body is too large for the server",
        429 => "rate limited: too many requests, will wait and retry",
        500..=599 => "the server failed; this is usually temporary",
        _ => return None,
    })
}

/// The error for a response whose status the caller does not accept: 429 and
/// 5xx are retryable (with the server's `Retry-After`), anything else is fatal
/// because sending the same request again gets the same answer.
/// `unexpected_success` marks a 2xx that an explicit status list left out.
pub fn status_error(
    method: &Method,
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    unexpected_success: bool,
    now: SystemTime,
) -> StepError {
    let code = ErrorCode::Http(status.as_u16());
    let mut message = format!("{method} {url} -> {}", status_line(status));
    if unexpected_success {
        message.push_str(" (not one of the accepted statuses)");
    } else if let Some(hint) = status_hint(status) {
        message.push_str(&format!(" ({hint})"));
    }
    if let Some(detail) = error_detail(body) {
        message.push_str(": ");
        message.push_str(&detail);
    }
    if is_retryable_status(status) {
        StepError::Retryable {
            code,
            message,
            after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, now)),
        }
    } else {
        StepError::Fatal { code, message }
    }
}

/// 429 Too Many Requests and every 5xx: the same request may well succeed later.
pub fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` as delta-seconds (`120`) or an HTTP-date; a date in the past
/// means "now". The executor caps whatever this returns.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A transport failure (no status at all) as a step error.
pub fn transport_error(method: &Method, url: &str, error: &reqwest::Error) -> StepError {
    let cause = root_cause(error);
    if error.is_timeout() {
        StepError::retryable(
            ErrorCode::Timeout,
            format!("{method} {url}: the server did not answer in time ({cause})"),
        )
    } else if error.is_connect() {
        StepError::retryable(
            ErrorCode::Connect,
            format!("{method} {url}: could not connect ({cause}); check the address and that the server is up"),
        )
    } else if error.is_redirect() {
        StepError::fatal(ErrorCode::Redirect, format!("{method} {url}: {cause}"))
    } else if error.is_builder() {
        StepError::fatal(
            ErrorCode::InvalidRequest,
            format!("{method} {url}: the request could not be built ({cause})"),
        )
    } else {
        // The connection broke mid-way (reset, closed early): a network problem
        // that a new connection may not have.
        StepError::retryable(
            ErrorCode::Connect,
            format!("{method} {url}: the connection failed ({cause})"),
        )
    }
}

/// The innermost cause of an error, which names the actual problem
/// ("Connection refused") rather than the layer it surfaced in. reqwest's own
/// text carries the URL, which may hold an unmasked secret, so it is skipped.
fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    if std::ptr::addr_eq(cause, error as &dyn std::error::Error) {
        // No source: say what kind of failure it was, without the URL.
        let mut text = error.to_string();
        if let Some(at) = text.find(" for url (") {
            text.truncate(at);
        }
        text
    } else {
        cause.to_string()
    }
}

/// A URL fit for messages and metadata: a password in it and the value of the
/// query parameter `secret_query` are masked.
pub fn display_url(url: &Url, secret_query: Option<&str>) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Only fails for URLs that cannot have credentials, which this one has.
        let _ = url.set_password(Some(MASK));
    }
    if let Some(name) = secret_query
        && url.query_pairs().any(|(k, _)| k == name)
    {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == name { MASK.to_string() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Response headers as `{lowercase name: value}`; repeated headers are joined with ", ".
pub fn headers_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        out.insert(name.as_str().to_string(), Value::String(joined));
    }
    out
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || mime.ends_with("+json")
}

/// The text encoding a response declares (`Content-Type: text/html; charset=ISO-8859-1`);
/// UTF-8 when it declares none or one nobody knows, as browsers and reqwest decide.
pub fn declared_encoding(headers: &HeaderMap) -> &'static Encoding {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| {
            ct.split(';').skip(1).find_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| value.trim().trim_matches('"'))
            })
        })
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8)
}

/// A body as a value: JSON when labelled so (falling back to text if it does
/// not parse), or when an unlabelled or mislabelled body is plainly an object or
/// array. A text body like `123` or `true` stays text: guessing there would
/// change its type under the user's feet. Text is decoded from `encoding` (a
/// byte-order mark wins); what does not decode becomes U+FFFD.
pub fn body_value(body: &[u8], labelled_json: bool, encoding: &'static Encoding) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    let looks_structured = matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['));
    if (labelled_json || looks_structured)
        && let Ok(v) = serde_json::from_slice::<Value>(body)
    {
        return v;
    }
    Value::String(encoding.decode(body).0.into_owned())
}

/// The start of a body that was too long to keep, with a marker saying so. It
/// stays under the executor's cap so its marker is the one the user sees.
fn truncated_text(body: &[u8], encoding: &'static Encoding, declared: Option<&HeaderValue>) -> String {
    let text = encoding.decode(body).0;
    let mut cut = text.len().min(MAX_OUTPUT_BYTES - MARKER_ROOM);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let size = declared
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let marker = match size {
        Some(size) => format!("…[truncated: the response was {size} bytes; the first {cut} are kept]"),
        None => format!("…[truncated: the response was over {MAX_OUTPUT_BYTES} bytes; the first {cut} are kept]"),
    };
    format!("{}{marker}", &text[..cut])
}

/// A short, readable excerpt of an error body: the message of a JSON error
/// (`{"error": {"message": ...}}` and the usual variants) or the text itself,
/// on one line, at most [`EXCERPT_CHARS`] characters.
pub fn error_detail(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => json_error_message(&v).unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return None;
    }
    Some(match one_line.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    })
}

fn json_error_message(v: &Value) -> Option<String> {
    let candidates = [
        v.pointer("/error/message"),
        v.get("error"),
        v.get("message"),
        v.get("detail"),
        v.get("error_description"),
    ];
    candidates.into_iter().flatten().find_map(|c| match c {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = at(1_700_000_000);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        let later = httpdate::fmt_http_date(at(1_700_000_030));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(at(1_699_999_000));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    fn error_for(status: u16, headers: &[(&str, &str)], body: &str) -> StepError {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        status_error(
            &Method::GET,
            "http://example.com/x",
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            false,
            at(1_700_000_000),
        )
    }

    #[test]
    fn rate_limits_and_server_errors_are_retryable_with_retry_after() {
        match error_for(429, &[("retry-after", "7")], "") {
            StepError::Retryable { code, after, message } => {
                assert_eq!(code, ErrorCode::Http(429));
                assert_eq!(after, Some(Duration::from_secs(7)));
                assert!(message.contains("429 Too Many Requests"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match error_for(503, &[], "down for maintenance") {
            StepError::Retryable { code, after, message } => {
                assert_eq!(code, ErrorCode::Http(503));
                assert_eq!(after, None);
                assert!(message.ends_with(": down for maintenance"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(error_for(500, &[], "").is_retryable());
        assert!(error_for(599, &[], "").is_retryable());
    }

    #[test]
    fn other_client_errors_are_fatal_and_quote_the_body() {
        let e = error_for(
            404,
            &[("retry-after", "7")],
            r#"{"error": {"message": "no such repo"}}"#,
        );
        assert_eq!(e.code(), ErrorCode::Http(404));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "GET http://example.com/x -> 404 Not Found (nothing was found at this address; check the URL): no such repo"
        );
        for status in [400, 401, 403, 409, 422] {
            assert!(!error_for(status, &[], "").is_retryable(), "{status}");
        }
    }

    #[test]
    fn the_excerpt_is_short_and_on_one_line() {
        let long = "x".repeat(5_000);
        let detail = error_detail(long.as_bytes()).unwrap();
        assert_eq!(detail.chars().count(), EXCERPT_CHARS + 1);
        assert!(detail.ends_with('…'));
        assert_eq!(error_detail(b"line one\n  line two").unwrap(), "line one line two");
        assert_eq!(error_detail(br#"{"message": "bad key"}"#).unwrap(), "bad key");
        assert_eq!(error_detail(br#"{"error": "invalid_grant"}"#).unwrap(), "invalid_grant");
        assert_eq!(error_detail(br#"{"code": 7}"#).unwrap(), r#"{"code":7}"#);
        assert_eq!(error_detail(b"  "), None);
    }

    #[test]
    fn bodies_become_json_only_when_they_are_json() {
        assert_eq!(body_value(br#"{"a": 1}"#, true, encoding_rs::UTF_8), json!({"a": 1}));
        assert_eq!(body_value(br#"[1, 2]"#, false, encoding_rs::UTF_8), json!([1, 2]));
        assert_eq!(body_value(b"123", false, encoding_rs::UTF_8), json!("123"));
        assert_eq!(body_value(b"123", true, encoding_rs::UTF_8), json!(123));
        assert_eq!(body_value(b"{not json", true, encoding_rs::UTF_8), json!("{not json"));
        assert_eq!(body_value(b"", true, encoding_rs::UTF_8), Value::Null);
        assert_eq!(body_value(b"hello", false, encoding_rs::UTF_8), json!("hello"));
    }

    #[test]
    fn text_is_decoded_by_the_charset_the_server_declares() {
        let reply = |content_type: &str, body: &[u8]| Reply {
            method: Method::GET,
            url: "http://127.0.0.1:9/".into(),
            status: StatusCode::OK,
            headers: HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap())]),
            body: body.to_vec(),
            truncated: false,
        };
        // "Café" in ISO-8859-1 (é is one byte, 0xE9), and in Windows-1252 with a curly quote.
        assert_eq!(
            reply("text/plain; charset=ISO-8859-1", b"Caf\xe9").output(),
            json!("Café")
        );
        assert_eq!(
            reply("text/html; Charset=\"windows-1252\"", b"\x93ok\x94").output(),
            json!("“ok”")
        );
        // No charset, or an unknown one: UTF-8, with U+FFFD for bytes that are not.
        assert_eq!(reply("text/plain", "Café".as_bytes()).output(), json!("Café"));
        assert_eq!(
            reply("text/plain; charset=klingon", b"Caf\xe9").output(),
            json!("Caf\u{fffd}")
        );
        // JSON is UTF-8 whatever the label says.
        assert_eq!(
            reply("application/json; charset=utf-8", r#"{"a":"é"}"#.as_bytes()).output(),
            json!({"a": "é"})
        );
    }

    #[test]
    fn truncated_text_stays_under_the_executor_cap() {
        let body = vec![b'a'; MAX_OUTPUT_BYTES];
        let declared = HeaderValue::from_static("12582912");
        let text = truncated_text(&body, encoding_rs::UTF_8, Some(&declared));
        assert!(text.len() <= MAX_OUTPUT_BYTES);
        assert!(text.ends_with("[truncated: the response was 12582912 bytes; the first 10485504 are kept]"));
        // A multi-byte character across the cut is not split.
        let body = "é".repeat(MAX_OUTPUT_BYTES / 2).into_bytes();
        assert!(truncated_text(&body, encoding_rs::UTF_8, None).len() <= MAX_OUTPUT_BYTES);
    }

    #[test]
    fn urls_are_shown_without_their_secrets() {
        let url = Url::parse("https://me:pw@example.com/a?key=s%2B3cret&page=2").unwrap();
        assert_eq!(
            display_url(&url, Some("key")),
            "https://me:***@example.com/a?key=***&page=2"
        );
        let url = Url::parse("https://example.com/a?page=2").unwrap();
        assert_eq!(display_url(&url, Some("key")), "https://example.com/a?page=2");
    }

    #[test]
    fn url_problems_are_explained() {
        assert_eq!(url_problem("https://example.com/x"), None);
        assert_eq!(url_problem("http://127.0.0.1:8080"), None);
        assert!(url_problem("example.com").unwrap().contains("write it in full"));
        assert!(url_problem("ftp://example.com").unwrap().contains("only http://"));
        assert!(url_problem("file:///etc/passwd").unwrap().contains("only http://"));
    }

    #[test]
    fn header_problems_are_explained() {
        assert_eq!(header_problem("X-Api-Key", Some("abc")), None);
        assert!(
            header_problem("Bad Name", None)
                .unwrap()
                .contains("not a valid header name")
        );
        assert!(header_problem("X-A", Some("a\nb")).unwrap().contains("line break"));
    }

    #[test]
    fn text_params_take_any_json_as_text() {
        let t: Text = serde_json::from_value(json!({"a": 1})).unwrap();
        assert_eq!(t.0, r#"{"a":1}"#);
        let s: Scalar = serde_json::from_value(json!(2)).unwrap();
        assert_eq!(s.0, "2");
        let s: Scalar = serde_json::from_value(json!("x")).unwrap();
        assert_eq!(s.0, "x");
    }
}
