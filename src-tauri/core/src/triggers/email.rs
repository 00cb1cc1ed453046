//! The email trigger: new mail in an IMAP mailbox. The cursor is the
//! mailbox's UIDVALIDITY and the last UID seen; each check connects, looks for
//! higher UIDs, reads at most 20 of them with `BODY.PEEK[]` (nothing is marked
//! read unless `mark_read`), parses them with mail-parser (MIME, charsets) and
//! keeps those that match. A UIDVALIDITY change means the server renumbered
//! the mailbox: the trigger starts over from what is there, running nothing
//! for it, and says so. Where the server has IDLE, a connection of its own
//! waits for new mail so it starts its run within seconds.

use super::imap::{self, Session};
use super::source::{Found, Item, Look, MAX_ITEMS_PER_CHECK, Source, SourceError};
use chrono::SecondsFormat;
use flowpilot_engine::plan::{EmailMatch, EmailTrigger, KeywordsMode};
use flowpilot_engine::registry::CredentialSource;
use mail_parser::{Address, Message, MessageParser, MimeHeaders};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Text and HTML bodies are kept up to this many characters each.
const BODY_CHARS: usize = 1_000_000;

pub struct EmailSource {
    trigger: EmailTrigger,
    credentials: Arc<dyn CredentialSource>,
    /// The connection of the last check, kept for `after_commit` (mark read).
    session: Option<Session>,
    news: Arc<Notify>,
    reconnect: Arc<Notify>,
    idle: Option<CancellationToken>,
}

/// Where an email trigger reads: a change starts over.
pub fn source_key(t: &EmailTrigger) -> String {
    format!(
        "email imap://{}@{}:{}/{}",
        t.username,
        t.host.trim(),
        t.port(),
        t.mailbox
    )
}

pub async fn password(credentials: &dyn CredentialSource, name: &str) -> Result<String, SourceError> {
    match credentials.get("email", name).await {
        Ok(Some(p)) => Ok(p.expose().clone()),
        Ok(None) => Err(SourceError::new(format!(
            "no password is stored as `{name}`; set it with `flowpilot-cli credentials set email {name}` or in Credentials"
        ))),
        Err(e) => Err(SourceError::new(e.to_string())),
    }
}

impl EmailSource {
    pub fn new(trigger: EmailTrigger, credentials: Arc<dyn CredentialSource>) -> Self {
        let mut source = Self {
            trigger,
            credentials,
            session: None,
            news: Arc::new(Notify::new()),
            reconnect: Arc::new(Notify::new()),
            idle: None,
        };
        if source.trigger.idle {
            source.start_idle();
        }
        source
    }

    fn start_idle(&mut self) {
        let cancel = CancellationToken::new();
        let credentials = self.credentials.clone();
        let name = self.trigger.credential.clone();
        let password = move || {
            let credentials = credentials.clone();
            let name = name.clone();
            Box::pin(async move { password(credentials.as_ref(), &name).await.ok() })
                as std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>>
        };
        tokio::spawn(imap::idle_loop(
            self.trigger.clone(),
            password,
            self.news.clone(),
            self.reconnect.clone(),
            cancel.clone(),
        ));
        self.idle = Some(cancel);
    }

    async fn open(&mut self) -> Result<(Session, u32, u32), SourceError> {
        if let Some(mut old) = self.session.take() {
            let _ = old.logout().await;
        }
        let password = password(self.credentials.as_ref(), &self.trigger.credential).await?;
        let (mut session, _) = imap::connect(&self.trigger, &password).await?;
        let mailbox = imap::within(
            &format!("SELECT {}", self.trigger.mailbox),
            session.select(&self.trigger.mailbox),
        )
        .await?;
        let uidvalidity = mailbox.uid_validity.unwrap_or(0);
        let uidnext = mailbox.uid_next.unwrap_or(1);
        Ok((session, uidvalidity, uidnext))
    }
}

#[async_trait::async_trait]
impl Source for EmailSource {
    async fn check(&mut self, look: Look<'_>) -> Result<Found, SourceError> {
        let (mut session, uidvalidity, uidnext) = self.open().await?;
        let cursor = look.cursor.and_then(|c| {
            Some((
                c.get("uidvalidity")?.as_u64()? as u32,
                c.get("last_uid")?.as_u64()? as u32,
            ))
        });
        let mailbox = &self.trigger.mailbox;
        let (found, last_uid) = match cursor {
            Some((validity, last_uid)) if validity == uidvalidity => {
                let uids = imap::uids_from(&mut session, last_uid.saturating_add(1)).await?;
                let more = uids.len() > MAX_ITEMS_PER_CHECK;
                let take: Vec<u32> = uids.into_iter().take(MAX_ITEMS_PER_CHECK).collect();
                let last = take.last().copied().unwrap_or(last_uid);
                let mails = imap::fetch(&mut session, &take).await?;
                let (items, passed_over) = self.matching(mails);
                let found = Found {
                    items,
                    more,
                    passed_over,
                    ..Found::default()
                };
                (found, last)
            }
            other => {
                // A baseline: what is there now starts nothing (but the newest `run_existing`).
                let everything = imap::uids_from(&mut session, 1).await?;
                let last = everything.last().copied().unwrap_or(uidnext.saturating_sub(1));
                let newest: Vec<u32> = everything.iter().rev().take(look.run_existing).rev().copied().collect();
                let mails = imap::fetch(&mut session, &newest).await?;
                let (items, _) = self.matching(mails);
                let count = everything.len();
                let note = match other {
                    Some(_) => format!(
                        "The server renumbered {mailbox} (its UIDVALIDITY changed), so Flowpilot started over from the {count} mail{} in it now, without running for them.",
                        if count == 1 { "" } else { "s" }
                    ),
                    None => format!(
                        "Started watching {mailbox}: {count} mail{} already there started nothing{}.",
                        if count == 1 { "" } else { "s" },
                        if items.is_empty() {
                            String::new()
                        } else {
                            format!(" (runs for the newest {})", items.len())
                        }
                    ),
                };
                let found = Found {
                    items,
                    note: Some(note),
                    ..Found::default()
                };
                (found, last)
            }
        };
        self.session = Some(session);
        Ok(Found {
            cursor: json!({"uidvalidity": uidvalidity, "last_uid": last_uid}),
            ..found
        })
    }

    async fn after_commit(&mut self, items: &[Item]) {
        let Some(mut session) = self.session.take() else { return };
        if self.trigger.mark_read {
            let uids: Vec<u32> = items
                .iter()
                .filter_map(|i| i.value.get("uid").and_then(Value::as_u64))
                .map(|u| u as u32)
                .collect();
            if let Err(e) = imap::mark_read(&mut session, &uids).await {
                tracing::warn!(host = %self.trigger.host, "could not mark mail read: {}", e.message);
            }
        }
        let _ = session.logout().await;
    }

    fn push(&self) -> Option<Arc<Notify>> {
        Some(self.news.clone())
    }

    fn reconnect(&mut self) {
        self.session = None;
        self.reconnect.notify_one();
    }

    fn stop(&mut self) {
        if let Some(idle) = self.idle.take() {
            idle.cancel();
        }
    }
}

impl Drop for EmailSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl EmailSource {
    /// The mails that match the trigger's filter, as items; and how many did not.
    fn matching(&self, mails: Vec<(u32, bool, Vec<u8>)>) -> (Vec<Item>, usize) {
        let mut items = Vec::new();
        let mut passed = 0;
        for (uid, seen, raw) in mails {
            let Some(message) = MessageParser::default().parse(&raw) else {
                tracing::warn!(uid, "a mail could not be parsed; passed over");
                passed += 1;
                continue;
            };
            let item = mail_item(uid, &message, raw.len());
            if matches(self.trigger.filter.as_ref(), seen, &item) {
                items.push(Item {
                    key: format!("uid:{uid}"),
                    value: item,
                });
            } else {
                passed += 1;
            }
        }
        (items, passed)
    }
}

fn addresses(address: Option<&Address<'_>>) -> Vec<Value> {
    address
        .map(|a| {
            a.iter()
                .map(|addr| json!({"name": addr.name(), "address": addr.address()}))
                .collect()
        })
        .unwrap_or_default()
}

fn cut(text: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    text.map(|t| match t.char_indices().nth(BODY_CHARS) {
        Some((at, _)) => format!("{}…[truncated]", &t[..at]),
        None => t.into_owned(),
    })
}

/// What a run sees as `${trigger.item}` for a mail.
pub fn mail_item(uid: u32, message: &Message<'_>, size: usize) -> Value {
    let attachments: Vec<Value> = message
        .attachments()
        .map(|a| {
            let content_type = a
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{sub}", ct.ctype()),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into());
            json!({"filename": a.attachment_name(), "content_type": content_type, "size": a.contents().len()})
        })
        .collect();
    let from = addresses(message.from());
    json!({
        "uid": uid,
        "message_id": message.message_id(),
        "from": from.first().cloned().unwrap_or(Value::Null),
        "to": addresses(message.to()),
        "cc": addresses(message.cc()),
        "subject": message.subject().unwrap_or_default(),
        "date": message.date().and_then(|d| chrono::DateTime::parse_from_rfc3339(&d.to_rfc3339()).ok())
            .map(|d| d.to_utc().to_rfc3339_opts(SecondsFormat::Secs, true)),
        "text": cut(message.body_text(0)),
        "html": if message.html_body_count() > 0 { cut(message.body_html(0)) } else { None },
        "attachments": attachments,
        "size": size,
    })
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.trim().to_lowercase())
}

/// Whether a mail (as an item) matches the trigger's filter.
pub fn matches(filter: Option<&EmailMatch>, seen: bool, item: &Value) -> bool {
    let Some(f) = filter else { return true };
    if f.unread_only && seen {
        return false;
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let subject = text(&item["subject"]);
    let body = format!("{}\n{}", text(&item["text"]), text(&item["html"]));
    let from = format!("{} {}", text(&item["from"]["name"]), text(&item["from"]["address"]));
    let wanted = |field: &Option<String>, haystack: &str| {
        field
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .is_none_or(|s| contains(haystack, s))
    };
    if !wanted(&f.from, &from) || !wanted(&f.subject, &subject) || !wanted(&f.body, &body) {
        return false;
    }
    if f.keywords.is_empty() {
        return true;
    }
    let all = format!("{subject}\n{body}");
    let mut hits = f.keywords.iter().map(|k| contains(&all, k));
    match f.keywords_mode {
        KeywordsMode::Any => hits.any(|h| h),
        KeywordsMode::All => hits.all(|h| h),
    }
}

/// The newest `count` mails of the mailbox, read-only (EXAMINE and BODY.PEEK: nothing changes).
pub async fn sample(
    t: &EmailTrigger,
    credentials: &dyn CredentialSource,
    count: usize,
) -> Result<Vec<Value>, SourceError> {
    let password = password(credentials, &t.credential).await?;
    let (mut session, _) = imap::connect(t, &password).await?;
    imap::within("EXAMINE", session.examine(&t.mailbox)).await?;
    let uids = imap::uids_from(&mut session, 1).await?;
    let newest: Vec<u32> = uids.iter().rev().take(count).copied().collect();
    let mut mails = imap::fetch(&mut session, &newest).await?;
    mails.reverse();
    let _ = session.logout().await;
    Ok(mails
        .into_iter()
        .filter_map(|(uid, _, raw)| {
            let message = MessageParser::default().parse(&raw)?;
            Some(mail_item(uid, &message, raw.len()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(subject: &str, text: &str, from: &str) -> Value {
        json!({"subject": subject, "text": text, "html": null, "from": {"name": "Shop", "address": from}})
    }

    #[test]
    fn a_filter_matches_case_insensitively_and_keywords_any_or_all() {
        let f: EmailMatch = serde_json::from_value(json!({"keywords": ["invoice", "receipt"]})).unwrap();
        assert!(matches(Some(&f), false, &item("Your INVOICE", "", "a@shop.test")));
        assert!(!matches(Some(&f), false, &item("Hello", "nothing here", "a@shop.test")));
        let all: EmailMatch =
            serde_json::from_value(json!({"keywords": ["invoice", "receipt"], "keywords_mode": "all"})).unwrap();
        assert!(!matches(Some(&all), false, &item("Your invoice", "", "a@shop.test")));
        assert!(matches(
            Some(&all),
            false,
            &item("Your invoice", "and receipt", "a@shop.test")
        ));
        let from: EmailMatch = serde_json::from_value(json!({"from": "SHOP.test", "unread_only": true})).unwrap();
        assert!(matches(Some(&from), false, &item("x", "", "billing@shop.test")));
        assert!(
            !matches(Some(&from), true, &item("x", "", "billing@shop.test")),
            "already read"
        );
        assert!(!matches(Some(&from), false, &item("x", "", "other@example.test")));
        assert!(matches(None, true, &item("x", "", "")));
    }

    #[test]
    fn a_mail_becomes_an_item_with_decoded_text_and_attachment_facts() {
        let raw = b"From: Ada <ada@example.test>\r\nTo: me@example.test, Bob <bob@example.test>\r\n\
Subject: =?UTF-8?B?Q2Fmw6k=?=\r\nMessage-ID: <m1@example.test>\r\nDate: Mon, 5 Jan 2026 09:00:00 +0100\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 au lait\r\n--b\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"bill.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";
        let message = MessageParser::default().parse(&raw[..]).unwrap();
        let item = mail_item(7, &message, raw.len());
        assert_eq!(item["uid"], 7);
        assert_eq!(item["message_id"], "m1@example.test");
        assert_eq!(item["subject"], "Café");
        assert_eq!(item["from"], json!({"name": "Ada", "address": "ada@example.test"}));
        assert_eq!(item["to"][1]["address"], "bob@example.test");
        assert_eq!(item["date"], "2026-01-05T08:00:00Z");
        assert_eq!(item["text"].as_str().unwrap().trim(), "Café au lait");
        assert_eq!(
            item["attachments"],
            json!([{"filename": "bill.pdf", "content_type": "application/pdf", "size": 5}])
        );
    }
}
