//! Turning every way a request can fail into a [`StepError`] that says whether
//! a retry can help, and — for a request that changes something — whether the
//! server may already have done it.
//!
//! A request with side effects (a POST, a webhook, an integration action that
//! writes) is retried only when the failure proves the server did not act on it:
//! the connection was never made (refused, DNS, TLS), or the server said so (408,
//! 429, 503 with `Retry-After`). A timeout or a broken connection after sending,
//! or a 5xx, leaves the outcome unknown: [`StepError::Unknown`], which the
//! executor does not retry unless the step opts in.

use super::reply::status_line;
use crate::registry::StepError;
use crate::step_error::ErrorCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// Characters of a failed response's body quoted in the error message.
pub const EXCERPT_CHARS: usize = 300;
/// What stands in for a secret in the URLs we report.
const MASK: &str = "***";
/// Said of a request whose outcome is unknown.
const MAY_HAVE_RECEIVED: &str = "the server may have received it, so it is not sent again; check whether it took effect before running the step again";

/// What usually caused a status, for the person reading the log.
fn status_hint(status: StatusCode, side_effects: bool) -> Option<&'static str> {
    Some(match status.as_u16() {
        401 => "the server did not accept the credentials",
        403 => "the credentials are not allowed to do this",
        404 => "nothing was found at this address; check the URL",
        408 => "the server gave up waiting for the request",
        413 => "the request body is too large for the server",
        429 => "rate limited: too many requests, will wait and retry",
        500..=599 if side_effects => "the server failed",
        500..=599 => "the server failed; this is usually temporary",
        _ => return None,
    })
}

/// The error for a response whose status the caller does not accept.
///
/// 408 and 429 always mean "not done, try later"; so does a 503 that names a
/// `Retry-After`. Other 5xx are retryable for a request without side effects and
/// leave the outcome unknown for one with. Anything else is fatal: sending the
/// same request again gets the same answer. `unexpected_success` marks a 2xx that
/// an explicit status list left out; `detail` replaces the excerpt taken from the body.
#[allow(clippy::too_many_arguments)]
pub fn status_error(
    method: &Method,
    url: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: Option<String>,
    unexpected_success: bool,
    side_effects: bool,
    now: SystemTime,
) -> StepError {
    let code = ErrorCode::Http(status.as_u16());
    let mut message = format!("{method} {url} -> {}", status_line(status));
    if unexpected_success {
        message.push_str(" (not one of the accepted statuses)");
    } else if let Some(hint) = status_hint(status, side_effects) {
        message.push_str(&format!(" ({hint})"));
    }
    if let Some(detail) = detail {
        message.push_str(": ");
        message.push_str(&detail);
    }
    let after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    match status.as_u16() {
        408 | 429 => StepError::Retryable { code, message, after },
        503 if after.is_some() => StepError::Retryable { code, message, after },
        500..=599 if side_effects => StepError::Unknown {
            code,
            message: format!("{message}; {MAY_HAVE_RECEIVED}"),
        },
        500..=599 => StepError::Retryable { code, message, after },
        _ => StepError::Fatal { code, message },
    }
}

/// 408, 429 and every 5xx: the same request may well succeed later (for a
/// request without side effects).
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429) || status.is_server_error()
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

/// A transport failure (no status at all) as a step error. `sent` says whether
/// the request had been handed to the connection (a failure while reading the
/// body); a connect failure never has been.
pub fn transport_error(
    method: &Method,
    url: &str,
    error: &reqwest::Error,
    side_effects: bool,
    sent: bool,
) -> StepError {
    if let Some(problem) = tls_problem(error) {
        return StepError::fatal(
            ErrorCode::Tls,
            format!("{method} {url}: {problem}; this does not pass by trying again"),
        );
    }
    let cause = root_cause(error);
    if error.is_connect() {
        // Refused, unreachable, no such host, connect timeout: nothing was sent.
        return StepError::retryable(
            ErrorCode::Connect,
            format!("{method} {url}: could not connect ({cause}); check the address and that the server is up"),
        );
    }
    if error.is_redirect() {
        return StepError::fatal(ErrorCode::Redirect, format!("{method} {url}: {cause}"));
    }
    if error.is_builder() {
        return StepError::fatal(
            ErrorCode::InvalidRequest,
            format!("{method} {url}: the request could not be built ({cause})"),
        );
    }
    let code = if error.is_timeout() {
        ErrorCode::Timeout
    } else {
        ErrorCode::Connect
    };
    let what = if error.is_timeout() {
        "the server did not answer in time"
    } else if sent {
        "the connection broke while the answer was read"
    } else {
        "the connection broke"
    };
    if side_effects {
        StepError::Unknown {
            code,
            message: format!("{method} {url}: {what} ({cause}); {MAY_HAVE_RECEIVED}"),
        }
    } else {
        // A new connection may not have the problem.
        StepError::retryable(code, format!("{method} {url}: {what} ({cause})"))
    }
}

/// No data for `idle` while waiting for the head (`reading` false) or the body.
pub fn idle_error(method: &Method, url: &str, idle: Duration, side_effects: bool, reading: bool) -> StepError {
    let what = if reading {
        "the server stopped sending the answer"
    } else {
        "the server did not answer"
    };
    let message = format!("{method} {url}: {what} for {} s", idle.as_secs_f64());
    if side_effects {
        StepError::Unknown {
            code: ErrorCode::Timeout,
            message: format!("{message}; {MAY_HAVE_RECEIVED}"),
        }
    } else {
        StepError::retryable(ErrorCode::Timeout, message)
    }
}

/// What was wrong with the TLS connection, in words, if that is what failed.
fn tls_problem(error: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe_tls(tls));
        }
        // An I/O error's `source` skips the error it wraps, and the TLS layers
        // wrap it twice (io::Error(Other, io::Error(InvalidData, rustls::Error))).
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn describe_tls(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let certificate = |what: &str| format!("the server's certificate {what}");
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::Expired | C::ExpiredContext { .. } => certificate("has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                certificate("is not valid yet (check the computer's clock)")
            }
            C::UnknownIssuer => certificate(
                "is not issued by an authority this computer trusts (it is self-signed, or its issuer is unknown)",
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                certificate("is for another host name than the one called")
            }
            C::Revoked => certificate("has been revoked"),
            C::BadSignature => certificate("has a signature that does not verify"),
            C::BadEncoding => certificate("cannot be read"),
            other => certificate(&format!("was refused ({other:?})")),
        },
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the TLS handshake failed: the server did not answer in TLS (is it an http:// address?)".into()
        }
        other => format!("the TLS handshake failed ({other})"),
    }
}

/// The innermost cause of an error, which names the actual problem
/// ("Connection refused") rather than the layer it surfaced in. reqwest's own
/// text carries the URL, which may hold an unmasked secret, so it is skipped.
pub fn root_cause(error: &reqwest::Error) -> String {
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

/// A URL fit for messages and metadata: a password in it and the values of the
/// query parameters in `secret_query` are masked. (Secrets elsewhere in it — a
/// token in the path — are masked by the executor, which knows their values.)
pub fn display_url(url: &Url, secret_query: &[String]) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Only fails for URLs that cannot have credentials, which this one has.
        let _ = url.set_password(Some(MASK));
    }
    if url.query_pairs().any(|(k, _)| secret_query.iter().any(|s| *s == k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_query.iter().any(|s| *s == k) {
                    MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A short, readable excerpt of an error body: the message of a JSON error
/// (`{"error": {"message": ...}}` and the usual variants) or the text itself,
/// on one line, at most [`EXCERPT_CHARS`] characters.
pub fn error_detail(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => json_error_message(&v).unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    excerpt(&text)
}

/// `text` on one line, at most [`EXCERPT_CHARS`] characters; `None` when empty.
pub fn excerpt(text: &str) -> Option<String> {
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
        v.get("description"),
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
    use reqwest::header::{HeaderName, HeaderValue};

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

    fn error_for(status: u16, headers: &[(&str, &str)], body: &str, side_effects: bool) -> StepError {
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
            error_detail(body.as_bytes()),
            false,
            side_effects,
            at(1_700_000_000),
        )
    }

    #[test]
    fn rate_limits_and_server_errors_are_retryable_with_retry_after() {
        match error_for(429, &[("retry-after", "7")], "", false) {
            StepError::Retryable { code, after, message } => {
                assert_eq!(code, ErrorCode::Http(429));
                assert_eq!(after, Some(Duration::from_secs(7)));
                assert!(message.contains("429 Too Many Requests"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match error_for(503, &[], "down for maintenance", false) {
            StepError::Retryable { code, after, message } => {
                assert_eq!(code, ErrorCode::Http(503));
                assert_eq!(after, None);
                assert!(message.ends_with(": down for maintenance"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(error_for(500, &[], "", false).is_retryable());
        assert!(error_for(599, &[], "", false).is_retryable());
        assert!(error_for(408, &[], "", false).is_retryable());
    }

    #[test]
    fn a_request_with_side_effects_is_retried_only_when_the_server_did_not_act() {
        for (status, headers) in [(429, vec![]), (408, vec![]), (503, vec![("retry-after", "2")])] {
            assert!(error_for(status, &headers, "", true).is_retryable(), "{status}");
        }
        for status in [500, 502, 503, 504] {
            let e = error_for(status, &[], "", true);
            assert!(matches!(e, StepError::Unknown { .. }), "{status}: {e:?}");
            assert_eq!(e.code(), ErrorCode::Http(status));
            assert!(e.to_string().contains("may have received it"), "{e}");
        }
        assert!(matches!(error_for(400, &[], "", true), StepError::Fatal { .. }));
    }

    #[test]
    fn other_client_errors_are_fatal_and_quote_the_body() {
        let e = error_for(
            404,
            &[("retry-after", "7")],
            r#"{"error": {"message": "no such repo"}}"#,
            false,
        );
        assert_eq!(e.code(), ErrorCode::Http(404));
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "GET http://example.com/x -> 404 Not Found (nothing was found at this address; check the URL): no such repo"
        );
        for status in [400, 401, 403, 409, 422] {
            assert!(!error_for(status, &[], "", false).is_retryable(), "{status}");
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
    fn urls_are_shown_without_their_secrets() {
        let url = Url::parse("https://me:pw@example.com/a?key=s%2B3cret&page=2").unwrap();
        assert_eq!(
            display_url(&url, &["key".to_string()]),
            "https://me:***@example.com/a?key=***&page=2"
        );
        let url = Url::parse("https://example.com/a?page=2").unwrap();
        assert_eq!(display_url(&url, &["key".to_string()]), "https://example.com/a?page=2");
    }

    #[test]
    fn certificate_problems_are_said_in_words() {
        use rustls::CertificateError as C;
        for (error, words) in [
            (C::Expired, "has expired"),
            (C::UnknownIssuer, "self-signed"),
            (C::NotValidForName, "another host name"),
            (C::NotValidYet, "not valid yet"),
        ] {
            let text = describe_tls(&rustls::Error::InvalidCertificate(error));
            assert!(text.contains(words), "{text}");
        }
    }
}
