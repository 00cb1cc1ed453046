//! Webhook signatures as their senders document them, compared in constant
//! time (`Mac::verify_slice`):
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`
//!   (<https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries>);
//! - Stripe: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the
//!   secret used as it is, at most 5 minutes old (<https://docs.stripe.com/webhooks#verify-manually>);
//! - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`
//!   of `"<id>.<timestamp>.<body>"`, the key being the base64 after `whsec_`, at most 5 minutes
//!   off (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>);
//! - generic: the hex HMAC-SHA256 of the body in a header of the plan's choosing.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flowpilot_engine::plan::SignatureScheme;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How far a signed timestamp may be from now.
pub const TOLERANCE_S: i64 = 5 * 60;

/// Why a call's signature was refused (the caller only ever hears "401").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the `{0}` header is missing")]
    Missing(String),
    #[error("the `{0}` header is not in the sender's format")]
    Malformed(String),
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signed time is more than 5 minutes from now (an old delivery replayed?)")]
    OutOfTime,
    #[error("the stored secret is not in the form this scheme needs ({0})")]
    BadSecret(&'static str),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, SignatureError> {
    headers
        .get(name)
        .ok_or_else(|| SignatureError::Missing(name.to_string()))?
        .to_str()
        .map_err(|_| SignatureError::Malformed(name.to_string()))
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Result<HmacSha256, SignatureError> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).map_err(|_| SignatureError::BadSecret("empty"))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac)
}

/// Whether `expected` (decoded) is the HMAC of `parts`: constant time.
fn check(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> Result<bool, SignatureError> {
    Ok(mac(key, parts)?.verify_slice(expected).is_ok())
}

fn in_time(timestamp: i64, now: i64) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > TOLERANCE_S {
        return Err(SignatureError::OutOfTime);
    }
    Ok(())
}

/// Check a call's signature under `scheme` with `secret`; `header` names the
/// generic scheme's header. `now` is Unix seconds.
pub fn verify(
    scheme: SignatureScheme,
    header_name: Option<&str>,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let matched = match scheme {
        SignatureScheme::Github => {
            let name = "x-hub-signature-256";
            let value = header(headers, name)?;
            let hex_sig = value
                .strip_prefix("sha256=")
                .ok_or_else(|| SignatureError::Malformed(name.into()))?;
            let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed(name.into()))?;
            check(secret.as_bytes(), &[body], &expected)?
        }
        SignatureScheme::HmacSha256 => {
            let name = header_name.unwrap_or("x-signature");
            let value = header(headers, name)?.trim();
            let hex_sig = value.strip_prefix("sha256=").unwrap_or(value);
            let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed(name.into()))?;
            check(secret.as_bytes(), &[body], &expected)?
        }
        SignatureScheme::Stripe => {
            let name = "stripe-signature";
            let value = header(headers, name)?;
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for part in value.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                    Some(("v1", sig)) => signatures.push(sig),
                    _ => {}
                }
            }
            let timestamp = timestamp.ok_or_else(|| SignatureError::Malformed(name.into()))?;
            if signatures.is_empty() {
                return Err(SignatureError::Malformed(name.into()));
            }
            let t = timestamp.to_string();
            let mut any = false;
            for sig in signatures {
                if let Ok(expected) = hex::decode(sig) {
                    any |= check(secret.as_bytes(), &[t.as_bytes(), b".", body], &expected)?;
                }
            }
            if any {
                in_time(timestamp, now)?;
            }
            any
        }
        SignatureScheme::StandardWebhooks => {
            let id = header(headers, "webhook-id")?;
            let ts_text = header(headers, "webhook-timestamp")?;
            let timestamp: i64 = ts_text
                .trim()
                .parse()
                .map_err(|_| SignatureError::Malformed("webhook-timestamp".into()))?;
            let value = header(headers, "webhook-signature")?;
            let key = BASE64
                .decode(secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim()))
                .map_err(|_| SignatureError::BadSecret("base64 after `whsec_`"))?;
            let mut any = false;
            for sig in value.split_whitespace() {
                if let Some(b64) = sig.strip_prefix("v1,")
                    && let Ok(expected) = BASE64.decode(b64)
                {
                    any |= check(
                        &key,
                        &[id.as_bytes(), b".", ts_text.trim().as_bytes(), b".", body],
                        &expected,
                    )?;
                }
            }
            if any {
                in_time(timestamp, now)?;
            }
            any
        }
    };
    if matched { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// The headers that carry a signature (never stored with the run, never logged).
pub fn signature_headers(scheme: Option<SignatureScheme>, header_name: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = [
        "x-hub-signature",
        "x-hub-signature-256",
        "stripe-signature",
        "webhook-signature",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let (Some(SignatureScheme::HmacSha256), Some(h)) = (scheme, header_name) {
        names.push(h.to_ascii_lowercase());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn githubs_published_test_vector_verifies() {
        // From GitHub's "Validating webhook deliveries", "Testing the webhook payload validation".
        let h = headers(&[(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )]);
        assert_eq!(
            verify(
                SignatureScheme::Github,
                None,
                "It's a Secret to Everybody",
                &h,
                b"Hello, World!",
                0
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                SignatureScheme::Github,
                None,
                "It's a Secret to Everybody",
                &h,
                b"Hello, World?",
                0
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SignatureScheme::Github, None, "s", &HeaderMap::new(), b"", 0),
            Err(SignatureError::Missing("x-hub-signature-256".into()))
        );
    }

    #[test]
    fn the_standard_webhooks_test_vector_verifies_within_five_minutes() {
        let h = headers(&[
            ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("webhook-timestamp", "1614265330"),
            (
                "webhook-signature",
                "v1,bm90IGl0 v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            verify(
                SignatureScheme::StandardWebhooks,
                None,
                secret,
                &h,
                body,
                1_614_265_330 + 299
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                SignatureScheme::StandardWebhooks,
                None,
                secret,
                &h,
                body,
                1_614_265_330 + 301
            ),
            Err(SignatureError::OutOfTime)
        );
    }

    #[test]
    fn stripe_signatures_verify_with_any_v1_and_a_recent_time() {
        // Computed independently with openssl (see tests/support/signatures.rs).
        let body = br#"{"id":"evt_test_webhook","object":"event"}"#;
        let value = "t=1492774577,v0=00,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a";
        let h = headers(&[("stripe-signature", value)]);
        assert_eq!(
            verify(
                SignatureScheme::Stripe,
                None,
                "whsec_test_secret",
                &h,
                body,
                1_492_774_600
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                SignatureScheme::Stripe,
                None,
                "whsec_test_secret",
                &h,
                body,
                1_492_774_577 + 3600
            ),
            Err(SignatureError::OutOfTime)
        );
        assert_eq!(
            verify(SignatureScheme::Stripe, None, "whsec_other", &h, body, 1_492_774_600),
            Err(SignatureError::Mismatch)
        );
    }
}
