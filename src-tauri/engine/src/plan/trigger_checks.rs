//! What an event trigger has to pass beyond its shape (the schema checks field
//! types, required fields and ranges): hosts and addresses that can be reached,
//! no password in the clear to another machine, JSONPaths that parse, a
//! signature scheme with what it needs, credential names the keychain takes.

use super::issue::{IssueKind, PlanIssue};
use super::trigger::{
    EmailTrigger, FeedTrigger, MailSecurity, PollTrigger, SignatureScheme, TelegramTrigger, Trigger, WebhookTrigger,
    is_loopback_host,
};
use crate::providers::net;

/// Every problem of an event trigger, located under `trigger`.
pub(super) fn check_event_trigger(trigger: &Trigger, issues: &mut Vec<PlanIssue>) {
    match trigger {
        Trigger::Manual | Trigger::Cron(_) => {}
        Trigger::Webhook(t) => webhook(t, issues),
        Trigger::Email(t) => email(t, issues),
        Trigger::Feed(t) => feed(t, issues),
        Trigger::Telegram(t) => telegram(t, issues),
        Trigger::Poll(t) => poll(t, issues),
    }
}

/// Whether the keychain takes `name` as a credential name (the rule `secrets` applies).
pub fn credential_name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    (!ok).then(|| format!("`{name}` is not a credential name: letters, digits, `_`, `-` or `.`, at most 64"))
}

fn credential(name: &str, at: &str, issues: &mut Vec<PlanIssue>) {
    if let Some(problem) = credential_name_problem(name) {
        issues.push(PlanIssue::error(at, IssueKind::BadFormat, problem));
    }
}

fn url(value: &str, at: &str, issues: &mut Vec<PlanIssue>) {
    if let Some(problem) = net::url_problem(value) {
        issues.push(PlanIssue::error(at, IssueKind::BadFormat, problem));
    }
}

/// `security: "none"` sends the password in the clear: only to this computer.
pub fn insecure_problem(security: MailSecurity, host: &str) -> Option<String> {
    (security == MailSecurity::None && !is_loopback_host(host)).then(|| {
        format!(
            "`none` would send the password unencrypted to {host}; it is only allowed for a server on this computer (127.0.0.1, localhost): use `tls` or `starttls`"
        )
    })
}

/// A host name or address, not a URL.
pub fn host_problem(host: &str) -> Option<String> {
    let bad = host.trim().is_empty() || host.contains("://") || host.contains(['/', ' ', '@']);
    bad.then(|| {
        format!("`{host}` is not a host name: write it alone, such as imap.gmail.com (no imap://, path or user)")
    })
}

fn webhook(t: &WebhookTrigger, issues: &mut Vec<PlanIssue>) {
    let Some(signature) = &t.signature else { return };
    credential(&signature.credential, "trigger.signature.credential", issues);
    match (&signature.header, signature.scheme) {
        (None, SignatureScheme::HmacSha256) => issues.push(PlanIssue::error(
            "trigger.signature.header",
            IssueKind::Required,
            "is required for `hmac_sha256`: the header that carries the signature, such as X-Signature",
        )),
        (Some(header), _) => {
            if let Some(problem) = net::header_problem(header, None) {
                issues.push(PlanIssue::error(
                    "trigger.signature.header",
                    IssueKind::BadFormat,
                    problem,
                ));
            }
        }
        (None, _) => {}
    }
}

fn email(t: &EmailTrigger, issues: &mut Vec<PlanIssue>) {
    if let Some(problem) = host_problem(&t.host) {
        issues.push(PlanIssue::error("trigger.host", IssueKind::BadFormat, problem));
    }
    if let Some(problem) = insecure_problem(t.security, &t.host) {
        issues.push(PlanIssue::error("trigger.security", IssueKind::Insecure, problem));
    }
    credential(&t.credential, "trigger.credential", issues);
    if let Some(filter) = &t.filter {
        for (i, word) in filter.keywords.iter().enumerate() {
            if word.trim().is_empty() {
                issues.push(PlanIssue::error(
                    format!("trigger.match.keywords[{i}]"),
                    IssueKind::Empty,
                    "an empty keyword matches every mail",
                ));
            }
        }
    }
}

fn feed(t: &FeedTrigger, issues: &mut Vec<PlanIssue>) {
    url(&t.url, "trigger.url", issues);
}

fn telegram(t: &TelegramTrigger, issues: &mut Vec<PlanIssue>) {
    credential(&t.credential, "trigger.credential", issues);
    if let Some(base) = &t.api_base {
        url(base, "trigger.api_base", issues);
    }
    if let Some(command) = &t.command
        && (!command.starts_with('/') || command.len() < 2 || command.contains(char::is_whitespace))
    {
        issues.push(PlanIssue::error(
            "trigger.command",
            IssueKind::BadFormat,
            format!("`{command}` is not a bot command: a `/` and a word, such as /summarize"),
        ));
    }
}

fn poll(t: &PollTrigger, issues: &mut Vec<PlanIssue>) {
    url(&t.url, "trigger.url", issues);
    if let Some(auth) = &t.auth {
        credential(auth.credential(), "trigger.auth.credential", issues);
    }
    for name in t.headers.keys() {
        if let Some(problem) = net::header_problem(name, None) {
            let mut at = "trigger.headers".to_string();
            crate::references::push_key(&mut at, name);
            issues.push(PlanIssue::error(at, IssueKind::BadFormat, problem));
        }
    }
    for (field, path) in [("items", &t.items), ("id", &t.id)] {
        if let Err(e) = serde_json_path::JsonPath::parse(path) {
            issues.push(PlanIssue::error(
                format!("trigger.{field}"),
                IssueKind::BadFormat,
                format!("`{path}` is not a JSONPath ({e}); write it like $.items or $.data[*]"),
            ));
        }
    }
}
