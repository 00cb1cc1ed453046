//! Support for Flowpilot's integration tests: real HTTP peers on 127.0.0.1 that
//! record what they receive, imitations of the services Flowpilot talks to
//! (answering with their documented shapes, errors and rate limits), harnesses
//! that start real mail servers, and helpers that run plans through the real executor.
//!
//! | module | what |
//! |---|---|
//! | [`peer`] | the recording HTTP server every imitation runs on, [`Faults`] to queue wrong answers |
//! | [`target`], [`items_api`] | generic HTTP targets; a JSON list the test changes (the `poll` trigger) |
//! | [`notion`], [`telegram`], [`slack`], [`discord`], [`github`] | the services' APIs as their documents describe them |
//! | [`oauth2`] | an authorization server: code + PKCE, refresh, a protected resource |
//! | [`feeds`] | RSS 2.0, Atom and JSON Feed from one list of items, conditional GET |
//! | [`hostile`] | servers that echo secrets in every encoding, redirect across origins, throttle, stall, drop connections, present bad certificates |
//! | [`cli`] | the real `flowpilot-cli` binary on a data folder |
//! | [`signatures`] | webhook deliveries signed as GitHub, Stripe and Standard Webhooks sign them |
//! | [`dovecot`], [`smtp`], [`servers`] | real Dovecot IMAP and aiosmtpd started as children; skip or fail per `FLOWPILOT_REQUIRE_SERVERS` |
//! | [`mail`], [`imap_client`] | RFC 5322 test mail; a raw IMAP client to look at Dovecot |
//! | [`status_notifier`] | a desktop panel's tray host (StatusNotifierWatcher) on the session bus |

pub mod cli;
pub mod discord;
pub mod dovecot;
pub mod feeds;
pub mod github;
pub mod hostile;
pub mod imap_client;
pub mod items_api;
pub mod mail;
pub mod notion;
pub mod oauth2;
pub mod openai;
pub mod peer;
pub mod run;
pub mod servers;
pub mod signatures;
pub mod slack;
pub mod smtp;
pub mod status_notifier;
pub mod target;
pub mod telegram;

pub use discord::Discord;
pub use dovecot::Dovecot;
pub use feeds::{FeedItem, FeedServer};
pub use github::GitHub;
pub use items_api::ItemsApi;
pub use mail::MailBuilder;
pub use notion::Notion;
pub use oauth2::OAuth2Server;
pub use openai::{CannedReply, FakeOpenAi};
pub use peer::{Faults, Peer, Recorded};
pub use run::{Run, executor, plan, plan_issues, run, run_with_cancel};
pub use slack::Slack;
pub use smtp::SmtpReceiver;
pub use target::Target;
pub use telegram::Telegram;
