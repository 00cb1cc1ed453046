//! A webhook call as its run sees it: `${trigger.payload}` (the JSON body, the
//! text of any other body, a form body as an object), `${trigger.headers}`
//! (lower-case names, secrets and signatures left out) and `${trigger.query}`;
//! and the delivery id senders repeat when they retry.

use axum::http::{HeaderMap, Method, header};
use flowpilot_engine::plan::{SignatureScheme, WebhookSignature};
use serde_json::{Map, Value, json};

/// Headers never stored with a run: credentials, cookies and signatures.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

/// `key=value&key=value` as an object; a repeated key becomes a list.
pub fn form_object(text: &[u8]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in form_urlencoded::parse(text) {
        let v = Value::String(v.into_owned());
        match out.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(v),
            Some(one) => {
                let first = one.take();
                *one = Value::Array(vec![first, v]);
            }
            None => {
                out.insert(k.into_owned(), v);
            }
        }
    }
    out
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The body as the run sees it.
pub fn payload(headers: &HeaderMap, body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    let ct = content_type(headers);
    if ct == "application/x-www-form-urlencoded" {
        return Value::Object(form_object(body));
    }
    let json_like = ct == "application/json" || ct.ends_with("+json") || ct.is_empty();
    if json_like && let Ok(v) = serde_json::from_slice::<Value>(body) {
        return v;
    }
    Value::String(String::from_utf8_lossy(body).into_owned())
}

/// The event a call makes (what `${trigger}` holds besides `type`).
pub fn event(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    signature: Option<&WebhookSignature>,
) -> Value {
    let hidden =
        super::signature::signature_headers(signature.map(|s| s.scheme), signature.and_then(|s| s.header.as_deref()));
    let mut shown = Map::new();
    for name in headers.keys() {
        let n = name.as_str();
        if SECRET_HEADERS.contains(&n) || hidden.iter().any(|h| h == n) {
            continue;
        }
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        shown.insert(n.to_string(), Value::String(joined));
    }
    let query = query.map(|q| form_object(q.as_bytes())).unwrap_or_default();
    json!({
        "method": method.as_str(),
        "payload": flowpilot_engine::run::cap_output(payload(headers, body)),
        "headers": shown,
        "query": query,
    })
}

/// The id the sender gives a delivery (the same on its retries), if it gives one.
pub fn delivery_key(scheme: Option<SignatureScheme>, headers: &HeaderMap, payload: &Value) -> Option<String> {
    let h = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let key = match scheme {
        Some(SignatureScheme::Github) => h("x-github-delivery"),
        Some(SignatureScheme::StandardWebhooks) => h("webhook-id"),
        Some(SignatureScheme::Stripe) => payload.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
    .or_else(|| h("idempotency-key"))
    .or_else(|| h("x-github-delivery"))
    .or_else(|| h("webhook-id"))?;
    Some(format!("delivery:{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bodies_become_json_text_or_form_objects() {
        let mut h = HeaderMap::new();
        assert_eq!(payload(&h, br#"{"a": 1}"#), json!({"a": 1}));
        assert_eq!(payload(&h, b"plain words"), json!("plain words"));
        assert_eq!(payload(&h, b""), Value::Null);
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(
            payload(&h, b"name=Ada&tag=a&tag=b"),
            json!({"name": "Ada", "tag": ["a", "b"]})
        );
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(payload(&h, br#"{"a": 1}"#), json!(r#"{"a": 1}"#));
    }

    #[test]
    fn secrets_and_signatures_stay_out_of_the_stored_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer s3cret"),
            ("x-hub-signature-256", "sha256=abc"),
            ("x-my-sig", "abc"),
            ("x-github-event", "push"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let signature = WebhookSignature {
            scheme: SignatureScheme::HmacSha256,
            credential: "c".into(),
            header: Some("X-My-Sig".into()),
        };
        let e = event(&Method::POST, &h, Some("a=1&b=x%20y"), b"{}", Some(&signature));
        assert_eq!(e["headers"], json!({"x-github-event": "push"}));
        assert_eq!(e["query"], json!({"a": "1", "b": "x y"}));
        assert_eq!(e["method"], "POST");
    }

    #[test]
    fn a_delivery_is_known_by_the_id_its_sender_gives() {
        let mut h = HeaderMap::new();
        h.insert("x-github-delivery", HeaderValue::from_static("72d3162e"));
        assert_eq!(
            delivery_key(Some(SignatureScheme::Github), &h, &Value::Null).as_deref(),
            Some("delivery:72d3162e")
        );
        assert_eq!(
            delivery_key(
                Some(SignatureScheme::Stripe),
                &HeaderMap::new(),
                &json!({"id": "evt_1"})
            )
            .as_deref(),
            Some("delivery:evt_1")
        );
        assert_eq!(delivery_key(None, &HeaderMap::new(), &json!({"id": "x"})), None);
    }
}
