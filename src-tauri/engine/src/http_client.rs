//! The HTTP client every step of every run shares: built once, the first time a
//! step needs it, so a plan of logic steps never loads TLS roots.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The HTTP client every step of every run shares, built the first time a step
/// needs it: a plan of logic steps never loads TLS roots.
#[derive(Clone, Default)]
pub struct HttpClient(Arc<OnceLock<reqwest::Client>>);

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

impl std::ops::Deref for HttpClient {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        self.0.get_or_init(default_http_client)
    }
}

/// The HTTP client's settings: bounded connect and read time (reqwest has no
/// default timeout; the whole request is bounded by the step's timeout, up to
/// 300 s for LLM calls, so reads may be as slow). Redirects are followed only
/// within the same origin: reqwest strips `Authorization` on a cross-host
/// redirect but not custom auth headers (`x-api-key`), so a credential could
/// otherwise follow the redirect to another host. A cross-origin redirect is
/// returned as the 3xx response it is.
pub fn default_http_client() -> reqwest::Client {
    let same_origin_only = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        let same_origin = first.is_some_and(|f| f.origin() == attempt.url().origin());
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(330))
        .redirect(same_origin_only)
        .user_agent(concat!("Flowpilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
