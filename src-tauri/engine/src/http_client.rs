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

/// The HTTP client's settings: a bounded connect time (reqwest has no default
/// timeout). Reading is bounded by each request's idle timeout and the step's
/// timeout ([`crate::request`]); the read timeout here only backs them up.
/// Redirects are not followed by the client: [`crate::request::Request`] follows
/// them itself, so that a credential never follows one to another origin
/// (reqwest strips `Authorization` across hosts, but not `X-API-Key`, a secret
/// query parameter, or anything on an http → https upgrade).
pub fn default_http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(900))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Flowpilot/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}
