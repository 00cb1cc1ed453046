//! What comes back: the response head, its body read in chunks up to a cap
//! (never more than the cap plus one chunk in memory), and the body as a step output.

use super::failure::transport_error;
use crate::registry::{ProviderResult, StepError};
use crate::run::MAX_OUTPUT_BYTES;
use encoding_rs::Encoding;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Room kept under [`MAX_OUTPUT_BYTES`] for the truncation marker, so the
/// executor's own cap never cuts the marker off again.
const MARKER_ROOM: usize = 256;
/// Below this a body grows by doubling; past it, the buffer goes straight to the
/// cap, so a large body is never copied into a buffer twice its size.
const GROWTH_STEP: usize = 1024 * 1024;

/// A response whose status and headers have arrived and whose body has not been read.
#[derive(Debug)]
pub struct Incoming {
    pub method: Method,
    /// The final URL (after redirects), with secrets masked.
    pub url: String,
    pub response: Response,
    /// No data for this long while reading the body is an error.
    pub(super) idle_timeout: Duration,
    /// Whether the request may have changed something (for how a broken read is classed).
    pub(super) side_effects: bool,
    /// Redirects followed to get here.
    pub redirects: usize,
}

impl Incoming {
    pub fn status(&self) -> StatusCode {
        self.response.status()
    }

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
                c = tokio::time::timeout(self.idle_timeout, self.response.chunk()) => match c {
                    Ok(c) => c.map_err(|e| transport_error(&self.method, &self.url, &e, self.side_effects, true))?,
                    Err(_) => return Err(super::failure::idle_error(&self.method, &self.url, self.idle_timeout, self.side_effects, true)),
                },
            };
            let Some(chunk) = chunk else {
                return Ok((body, false));
            };
            // One byte past the cap is enough to know the body was longer.
            let limit = cap.saturating_add(1);
            let take = chunk.len().min(limit.saturating_sub(body.len()));
            let needed = body.len() + take;
            if needed > body.capacity() {
                let target = if needed > GROWTH_STEP {
                    limit
                } else {
                    needed.next_power_of_two().min(limit)
                };
                body.reserve_exact(target - body.len());
            }
            body.extend_from_slice(&chunk[..take]);
            if body.len() > cap {
                body.truncate(cap);
                return Ok((body, true));
            }
        }
    }
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
    pub redirects: usize,
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
            return Value::String(truncated_text(
                self.body.clone(),
                encoding,
                self.headers.get(CONTENT_LENGTH),
            ));
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
        if self.redirects > 0 {
            meta.insert("redirects".into(), json!(self.redirects));
        }
        meta
    }

    /// The reply as a step result (output, summary, metadata), moving the body
    /// rather than copying it: a body at the cap is 10 MB.
    pub fn into_result(mut self) -> ProviderResult {
        let message = self.summary();
        let metadata = self.metadata();
        let encoding = declared_encoding(&self.headers);
        let body = std::mem::take(&mut self.body);
        let output = if self.truncated {
            Value::String(truncated_text(body, encoding, self.headers.get(CONTENT_LENGTH)))
        } else if !self.is_json() && encoding == encoding_rs::UTF_8 && !looks_structured(&body) && !has_bom(&body) {
            text_value(body)
        } else {
            body_value(&body, self.is_json(), encoding)
        };
        let mut result = ProviderResult::ok(output, message);
        result.metadata = metadata;
        result
    }
}

/// `404 Not Found`
pub fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
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

/// A byte-order mark, which decoding honours (and strips).
fn has_bom(body: &[u8]) -> bool {
    body.starts_with(&[0xEF, 0xBB, 0xBF]) || body.starts_with(&[0xFE, 0xFF]) || body.starts_with(&[0xFF, 0xFE])
}

fn looks_structured(body: &[u8]) -> bool {
    matches!(body.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

/// UTF-8 text without a copy when it is valid; U+FFFD for what is not.
fn text_value(body: Vec<u8>) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    match String::from_utf8(body) {
        Ok(text) => Value::String(text),
        Err(e) => Value::String(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
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
    if (labelled_json || looks_structured(body))
        && let Ok(v) = serde_json::from_slice::<Value>(body)
    {
        return v;
    }
    Value::String(encoding.decode(body).0.into_owned())
}

/// The start of a body that was too long to keep, with a marker saying so. It
/// stays under the executor's cap so its marker is the one the user sees. UTF-8
/// is taken over without a copy.
fn truncated_text(body: Vec<u8>, encoding: &'static Encoding, declared: Option<&HeaderValue>) -> String {
    let mut text = if encoding == encoding_rs::UTF_8 {
        utf8_prefix(body)
    } else {
        encoding.decode(&body).0.into_owned()
    };
    let mut cut = text.len().min(MAX_OUTPUT_BYTES - MARKER_ROOM);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    let size = declared
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let marker = match size {
        Some(size) => format!("…[truncated: the response was {size} bytes; the first {cut} are kept]"),
        None => format!("…[truncated: the response was over {MAX_OUTPUT_BYTES} bytes; the first {cut} are kept]"),
    };
    text.push_str(&marker);
    text
}

/// The bytes as UTF-8 text, reusing their buffer: a character cut off at the end
/// is dropped, invalid sequences elsewhere become U+FFFD (then with a copy).
fn utf8_prefix(mut body: Vec<u8>) -> String {
    match std::str::from_utf8(&body) {
        Ok(_) => {}
        Err(e) if e.error_len().is_none() => body.truncate(e.valid_up_to()),
        Err(_) => return String::from_utf8_lossy(&body).into_owned(),
    }
    String::from_utf8(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn reply(content_type: &str, body: &[u8]) -> Reply {
        Reply {
            method: Method::GET,
            url: "http://127.0.0.1:9/".into(),
            status: StatusCode::OK,
            headers: HeaderMap::from_iter([(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap())]),
            body: body.to_vec(),
            truncated: false,
            redirects: 0,
        }
    }

    #[test]
    fn text_is_decoded_by_the_charset_the_server_declares() {
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
        // The moving conversion agrees with the borrowing one.
        for (ct, body) in [
            ("text/plain", "Café".as_bytes()),
            ("text/plain", b"Caf\xe9".as_slice()),
            ("text/plain; charset=ISO-8859-1", b"Caf\xe9".as_slice()),
            ("application/json", br#"{"a":1}"#.as_slice()),
            ("text/plain", b"  ".as_slice()),
        ] {
            let r = reply(ct, body);
            let expected = r.output();
            assert_eq!(r.into_result().output, expected, "{ct} {body:?}");
        }
    }

    #[test]
    fn truncated_text_stays_under_the_executor_cap() {
        let body = vec![b'a'; MAX_OUTPUT_BYTES];
        let declared = HeaderValue::from_static("12582912");
        let text = truncated_text(body, encoding_rs::UTF_8, Some(&declared));
        assert!(text.len() <= MAX_OUTPUT_BYTES);
        assert!(text.ends_with("[truncated: the response was 12582912 bytes; the first 10485504 are kept]"));
        // A multi-byte character across the cut is not split.
        let body = "é".repeat(MAX_OUTPUT_BYTES / 2).into_bytes();
        assert!(truncated_text(body, encoding_rs::UTF_8, None).len() <= MAX_OUTPUT_BYTES);
        // A character cut off at the end of what was read is dropped, not garbled.
        let mut body = "aé".as_bytes().to_vec();
        body.pop();
        assert!(truncated_text(body, encoding_rs::UTF_8, None).starts_with("a…[truncated"));
    }
}
