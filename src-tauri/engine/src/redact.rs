//! Removing credential values from everything a run produces, before anything
//! is stored, printed or sent to the UI.

use serde_json::Value;

pub const MASK: &str = "***";

/// Replaces every known secret value with `***`.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    // Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn add(&mut self, secret: &str) {
        if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn redact_str(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// Redact every string in a JSON value, keys included.
    pub fn redact_value(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) if self.secrets.iter().any(|x| s.contains(x.as_str())) => {
                *s = self.redact_str(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.redact_value(&mut v);
                    map.insert(self.redact_str(&k), v);
                }
            }
            _ => {}
        }
    }
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
}
