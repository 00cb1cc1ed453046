//! Removing credential values from everything a run produces, before anything
//! is stored, printed or sent to the UI.
//!
//! A secret rarely comes back the way it was sent. A server that echoes the
//! request quotes `Authorization: Basic <base64(user:password)>`, a 401 page
//! quotes the query string percent-encoded (`%2B` or `+`, upper or lower case),
//! a JSON error escapes it (`\/`, `\u00e9`). So every secret is masked in each
//! form it can take on the wire: raw, base64 (standard and URL-safe, padded or
//! not, and the part of it that any prefix such as `user:` leaves intact),
//! percent-encoded in both styles, and JSON-escaped.

use serde_json::Value;

pub const MASK: &str = "***";

/// Secrets shorter than this are masked only as they are: their encoded forms are
/// short enough to turn up in unrelated text.
const MIN_ENCODED_LEN: usize = 4;
/// The shortest base64 fragment (of a secret inside a longer encoded string) worth masking.
const MIN_FRAGMENT_LEN: usize = 6;

/// Replaces every known secret value, in every encoding, with `***`. Its `Debug`
/// says how many secrets it holds, never what they are.
#[derive(Default, Clone)]
pub struct Redactor {
    /// Every form of every secret, longest first, so a form that contains
    /// another is masked whole.
    forms: Vec<String>,
    secrets: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets)
            .field("forms", &self.forms.len())
            .finish()
    }
}

impl Redactor {
    /// Mask `secret` from now on, in every form it can take.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() || self.forms.iter().any(|s| s == secret) {
            return;
        }
        self.secrets += 1;
        for form in encoded_forms(secret) {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Whether `text` holds a secret in any form.
    pub fn finds(&self, text: &str) -> bool {
        self.forms.iter().any(|s| text.contains(s.as_str()))
    }

    pub fn redact_str(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.forms {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// Redact every string in a JSON value, keys included.
    pub fn redact_value(&self, value: &mut Value) {
        if self.forms.is_empty() {
            return;
        }
        match value {
            Value::String(s) if self.finds(s) => {
                *s = self.redact_str(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) if map.keys().any(|k| self.finds(k)) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.redact_value(&mut v);
                    map.insert(self.redact_str(&k), v);
                }
            }
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_value(v)),
            _ => {}
        }
    }
}

/// Every form `secret` can take in a request or an echo of one (the raw value first).
pub fn encoded_forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    if secret.len() < MIN_ENCODED_LEN {
        return forms;
    }
    let mut push = |form: String| {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    };
    let bytes = secret.as_bytes();
    for alphabet in [STANDARD, URL_SAFE] {
        let padded = base64(bytes, alphabet, true);
        push(padded.trim_end_matches('=').to_string());
        push(padded);
        // The secret after a prefix of 0, 1 or 2 bytes (mod 3), as in
        // base64("user:" + secret): the characters that depend on it alone.
        for offset in 0..3 {
            if let Some(fragment) = base64_fragment(bytes, offset, alphabet)
                && fragment.len() >= MIN_FRAGMENT_LEN
            {
                push(fragment);
            }
        }
    }
    // RFC 3986 leaves `-._~` as they are; some encoders escape everything but letters and digits.
    for keep in [b"-._~".as_slice(), b""] {
        let strict = percent_encode(bytes, |b| b.is_ascii_alphanumeric() || keep.contains(&b));
        push(strict.to_ascii_lowercase_hex());
        push(strict.0);
    }
    push(percent_encode(bytes, |b| b.is_ascii_alphanumeric() || b"-._~!*'()".contains(&b)).0);
    push(form_urlencode(bytes));
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json.trim_matches('"').to_string();
    let slashed = json.replace('/', "\\/");
    push(json_ascii(&slashed));
    push(json_ascii(&json));
    push(slashed);
    push(json);
    forms
}

/// Percent-encoded text (uppercase hex digits, as RFC 3986 recommends).
struct Encoded(String);

impl Encoded {
    /// The same escapes with lowercase hex digits (`%2b`).
    fn to_ascii_lowercase_hex(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '%' {
                out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
            }
        }
        out
    }
}

fn percent_encode(bytes: &[u8], keep: impl Fn(u8) -> bool) -> Encoded {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Encoded(out)
}

/// `application/x-www-form-urlencoded`: space as `+`, `*-._` and alphanumerics kept.
fn form_urlencode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// JSON text with every non-ASCII character as `\uXXXX` (as Python writes JSON).
fn json_ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `bytes` with `alphabet`, `=`-padded when `pad`.
pub fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard, padded base64 (what HTTP Basic authentication sends).
pub fn base64_standard(bytes: &[u8]) -> String {
    base64(bytes, STANDARD, true)
}

/// The base64 characters that depend on `bytes` alone when they follow a
/// prefix whose length is `offset` modulo 3 and are followed by anything: the
/// whole 3-byte groups of `bytes` at that alignment.
fn base64_fragment(bytes: &[u8], offset: usize, alphabet: &[u8; 64]) -> Option<String> {
    let skip = (3 - offset % 3) % 3;
    let rest = bytes.get(skip..)?;
    let whole = rest.len() / 3 * 3;
    (whole > 0).then(|| base64(&rest[..whole], alphabet, false))
}

/// A [`Redactor`] shared by the parts of one run that learn secrets at the same
/// time (the items of a `for_each` step run concurrently).
#[derive(Debug, Default, Clone)]
pub struct SharedRedactor(std::sync::Arc<std::sync::RwLock<Redactor>>);

impl SharedRedactor {
    pub fn add(&self, secret: &str) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).add(secret);
    }

    pub fn redact_str(&self, text: &str) -> String {
        self.0.read().unwrap_or_else(|e| e.into_inner()).redact_str(text)
    }

    pub fn redact_value(&self, value: &mut Value) {
        self.0.read().unwrap_or_else(|e| e.into_inner()).redact_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_occurrence_in_text_and_json() {
        let mut r = Redactor::default();
        r.add("sk-123");
        r.add("sk-123456");
        assert_eq!(r.redact_str("key sk-123456 and sk-123."), "key *** and ***.");
        let mut v = json!({"auth": "Bearer sk-123456", "list": ["x", "sk-123"], "sk-123": 1});
        r.redact_value(&mut v);
        assert_eq!(v, json!({"auth": "Bearer ***", "list": ["x", "***"], "***": 1}));
    }

    #[test]
    fn encoded_forms_are_masked_too() {
        let secret = "s3cr+t/v=l&ue é";
        let mut r = Redactor::default();
        r.add(secret);
        let basic = base64_standard(format!("ada:{secret}").as_bytes());
        let echoes = [
            format!("Authorization: Basic {basic}"),
            format!("token={}", base64_standard(secret.as_bytes())),
            format!("q={}", form_urlencode(secret.as_bytes())),
            format!(
                "q={}",
                percent_encode(secret.as_bytes(), |b| b.is_ascii_alphanumeric()).0
            ),
            format!(
                "q={}",
                percent_encode(secret.as_bytes(), |b| b.is_ascii_alphanumeric()).to_ascii_lowercase_hex()
            ),
            format!("{{\"k\":{}}}", serde_json::to_string(secret).unwrap()),
            "{\"k\":\"s3cr+t\\/v=l&ue \\u00e9\"}".to_string(),
            format!("url-safe {}", base64(secret.as_bytes(), URL_SAFE, false)),
        ];
        for echo in echoes {
            let masked = r.redact_str(&echo);
            assert!(masked.contains(MASK), "not masked: {echo}");
            assert!(!masked.contains("s3cr"), "{masked}");
            assert!(!masked.contains("czNjcit0"), "base64 left in {masked}");
        }
    }

    #[test]
    fn a_secret_after_any_prefix_in_base64_is_masked() {
        let secret = "correct-horse-battery";
        let mut r = Redactor::default();
        r.add(secret);
        for prefix in ["", "a", "ab", "abc:", "user:"] {
            let encoded = base64_standard(format!("{prefix}{secret}").as_bytes());
            let masked = r.redact_str(&encoded);
            // Only the characters that mix in the prefix or the padding stay.
            assert!(masked.contains(MASK), "{prefix:?}: {masked}");
            let prefix_chars = 4 * prefix.len().div_ceil(3);
            assert!(masked.len() <= MASK.len() + prefix_chars + 8, "{prefix:?}: {masked}");
        }
    }

    #[test]
    fn short_secrets_are_masked_raw_only() {
        let mut r = Redactor::default();
        r.add("ab");
        assert_eq!(r.redact_str("ab YWI="), "*** YWI=");
    }

    #[test]
    fn debug_never_prints_the_secrets() {
        let mut r = Redactor::default();
        r.add("sk-live-very-secret");
        let shown = format!("{r:?} {:?}", SharedRedactor::default());
        assert!(!shown.contains("sk-live"), "{shown}");
        assert!(shown.contains("secrets: 1"), "{shown}");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_standard(b""), "");
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");
        assert_eq!(base64_standard(b"user:s3cret"), "dXNlcjpzM2NyZXQ=");
    }
}
