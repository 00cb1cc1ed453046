//! The built-in providers. The registry is this static list; every entry passes
//! the shared contract test in `tests` below.

use crate::registry::Provider;
use std::sync::Arc;

pub mod delay;
pub mod email;
pub mod http;
pub mod llm;
pub mod logic;
pub mod net;
pub mod webhook;

/// Every built-in provider, in the order the catalogue shows them.
pub fn builtin() -> Vec<Arc<dyn Provider>> {
    vec![
        Arc::new(http::Http),
        Arc::new(webhook::Webhook),
        Arc::new(logic::Logic),
        Arc::new(llm::Llm::openai()),
        Arc::new(llm::Llm::groq()),
        Arc::new(llm::Llm::openai_compatible()),
        Arc::new(delay::Delay),
        Arc::new(email::Email),
    ]
}
