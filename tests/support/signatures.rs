//! Webhook deliveries signed the way their senders sign them, for the webhook
//! trigger's signature tests. Each scheme follows its published document and
//! has a known-answer test below:
//!
//! | scheme | document | headers |
//! |---|---|---|
//! | GitHub | <https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries> | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, `X-GitHub-Event`, `X-GitHub-Delivery` |
//! | Stripe | <https://docs.stripe.com/webhooks#verify-manually> | `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the `whsec_…` secret used as it is) |
//! | Standard Webhooks | <https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md> | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` (key: the base64 after `whsec_`) |
//! | plain HMAC | (the trigger's generic `hmac_sha256` scheme) | `<header>: <hex HMAC-SHA256 of the body>` |

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{KeyInit, Mac};
use std::sync::atomic::{AtomicU64, Ordering};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Lowercase hex of the HMAC-SHA256 of `body` under `secret`: the generic scheme.
pub fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), body))
}

/// GitHub's `X-Hub-Signature-256` value: `sha256=<hex>`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret, body))
}

/// Stripe's `Stripe-Signature` value for a delivery made at `timestamp` (Unix seconds).
pub fn stripe_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &signed))
    )
}

/// The key of a Standard Webhooks secret: the base64 after `whsec_` (the
/// prefix is optional). Panics, failing the test, on a secret that is not base64.
pub fn standard_webhooks_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    BASE64
        .decode(encoded)
        .unwrap_or_else(|e| panic!("a Standard Webhooks secret is base64 after `whsec_`: {e}"))
}

/// The `webhook-signature` value: `v1,<base64>`.
pub fn standard_webhooks_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "v1,{}",
        BASE64.encode(hmac_sha256(&standard_webhooks_key(secret), &signed))
    )
}

/// A fresh `whsec_` secret of 32 bytes (not random: distinct per call, which is all tests need).
pub fn new_standard_webhooks_secret() -> String {
    let n = next_serial();
    let key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(7).wrapping_add(n as u8)).collect();
    format!("whsec_{}", BASE64.encode(key))
}

fn next_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// A GUID-shaped delivery id, distinct per call.
pub fn delivery_id() -> String {
    let n = next_serial();
    format!("6a2f{:04x}-d1c7-11ef-8a5e-{:012x}", n & 0xffff, n)
}

/// A request body with the headers its sender would send.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedDelivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedDelivery {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The same headers over another body: a delivery tampered with on the way.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    /// Replace (or add) one header, e.g. a wrong signature or an old timestamp.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// POST it to `url`.
    pub async fn post(&self, client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
        let mut request = client.post(url).body(self.body.clone());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.send().await
    }
}

/// A GitHub webhook delivery of `event` (e.g. `issues`, `push`, `ping`).
pub fn github_delivery(secret: &str, event: &str, body: &[u8]) -> SignedDelivery {
    SignedDelivery {
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("User-Agent".into(), "GitHub-Hookshot/4f2b1c9".into()),
            ("X-GitHub-Event".into(), event.into()),
            ("X-GitHub-Delivery".into(), delivery_id()),
            ("X-GitHub-Hook-ID".into(), "462101573".into()),
            ("X-Hub-Signature-256".into(), github_signature(secret, body)),
        ],
        body: body.to_vec(),
    }
}

/// A Stripe event delivery made at `timestamp` (Unix seconds).
pub fn stripe_delivery(secret: &str, timestamp: i64, body: &[u8]) -> SignedDelivery {
    SignedDelivery {
        headers: vec![
            ("Content-Type".into(), "application/json; charset=utf-8".into()),
            (
                "User-Agent".into(),
                "Stripe/1.0 (+https://stripe.com/docs/webhooks)".into(),
            ),
            ("Stripe-Signature".into(), stripe_signature(secret, timestamp, body)),
        ],
        body: body.to_vec(),
    }
}

/// A Standard Webhooks delivery `id` made at `timestamp` (Unix seconds).
pub fn standard_webhooks_delivery(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> SignedDelivery {
    SignedDelivery {
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            (
                "webhook-signature".into(),
                standard_webhooks_signature(secret, id, timestamp, body),
            ),
        ],
        body: body.to_vec(),
    }
}

/// A delivery signed with the generic scheme: hex HMAC-SHA256 of the body in `header`.
pub fn hmac_delivery(secret: &str, header: &str, body: &[u8]) -> SignedDelivery {
    SignedDelivery {
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            (header.into(), hmac_sha256_hex(secret, body)),
        ],
        body: body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signature_matches_githubs_published_example() {
        // From GitHub's "Validating webhook deliveries" page, "Testing the webhook payload validation".
        assert_eq!(
            github_signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let delivery = github_delivery("It's a Secret to Everybody", "ping", b"Hello, World!");
        assert_eq!(
            delivery.header("x-hub-signature-256"),
            Some("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
        );
        assert_eq!(delivery.header("X-GitHub-Event"), Some("ping"));
        assert_ne!(
            delivery.header("X-GitHub-Delivery"),
            github_delivery("s", "ping", b"").header("X-GitHub-Delivery")
        );
    }

    #[test]
    fn standard_webhooks_signature_matches_the_specifications_test_vector() {
        // The vector the Standard Webhooks reference libraries test against.
        let signature = standard_webhooks_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn stripe_signature_is_the_hmac_of_timestamp_dot_body() {
        // Stripe publishes no vector; this one was computed independently with
        // `printf '%s' '1492774577.{"id":"evt_test_webhook","object":"event"}' | openssl dgst -sha256 -hmac whsec_test_secret`.
        assert_eq!(
            stripe_signature(
                "whsec_test_secret",
                1_492_774_577,
                br#"{"id":"evt_test_webhook","object":"event"}"#
            ),
            "t=1492774577,v1=88a022085c6bdb887b02cb26ff76dd681234d9675c0f22844059f55552a8883a"
        );
    }

    #[test]
    fn a_tampered_delivery_keeps_its_old_signature() {
        let delivery = hmac_delivery("k", "X-Signature", b"original").with_body(b"changed");
        assert_eq!(
            delivery.header("x-signature"),
            Some(hmac_sha256_hex("k", b"original").as_str())
        );
        assert_ne!(hmac_sha256_hex("k", b"changed"), hmac_sha256_hex("k", b"original"));
        assert_eq!(standard_webhooks_key(&new_standard_webhooks_secret()).len(), 32);
    }
}
