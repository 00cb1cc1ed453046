//! Support for Flowpilot's integration tests: real HTTP peers on 127.0.0.1 that
//! record what they receive, imitations of the services Flowpilot talks to
//! (answering with their documented shapes, errors and rate limits), harnesses
//! that start real mail servers, and helpers that run plans through the real executor.

pub mod discord;
pub mod dovecot;
pub mod feeds;
pub mod github;
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
