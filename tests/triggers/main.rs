//! Event triggers end to end, with real servers on 127.0.0.1 (Dovecot IMAP,
//! aiosmtpd, the feed server, the Telegram Bot API imitation, the items API)
//! and real HTTP calls to the webhook server; the runner in this process
//! (`harness`), or `flowpilot-cli serve` as a child that is really signalled
//! and killed (`serve`). No sleeps: tests wait on the runner's events, on
//! checks they ask for, and on the child's log lines.

mod email;
mod feed_and_poll;
mod harness;
mod send_email;
mod serve;
mod telegram;
mod webhook;
