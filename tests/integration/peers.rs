//! The test peers themselves, proven against what the real services document:
//! the service imitations answer with the documented shapes, errors and rate
//! limits, and the mail server harnesses start real Dovecot and aiosmtpd.
//! The trigger and integration tests build on these, so a peer that drifted
//! from its service would make them prove the wrong thing.

mod chat;
mod feeds;
mod github;
mod mail;
mod notion;
mod oauth2;
mod telegram;

use std::time::Duration;

/// A client for calling the peers directly, with a deadline so a broken peer fails instead of hanging.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// The header `name` of `response` as text.
fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}
