//! `email`: send a message over SMTP (lettre), with implicit TLS, STARTTLS or,
//! for a server on this computer only, no encryption. The password is the
//! stored credential `email/<credential>`, the same kind an email trigger reads.

use super::net::Text;
use crate::plan::trigger_checks::{credential_name_problem, host_problem, insecure_problem};
use crate::plan::{MailSecurity, is_loopback_host};
use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Email;

/// One address (`ada@example.com`, `Ada <ada@example.com>`) or a list of them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
enum Addresses {
    One(String),
    Many(Vec<String>),
}

impl Addresses {
    fn list(&self) -> Vec<&str> {
        match self {
            Self::One(a) => a.split(',').map(str::trim).filter(|a| !a.is_empty()).collect(),
            Self::Many(list) => list.iter().map(|a| a.trim()).collect(),
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Smtp {
    /// The SMTP server: `smtp.gmail.com`, `smtp.office365.com`, `127.0.0.1`.
    host: String,
    /// The server's port; 465 with `tls`, 587 with `starttls`, 25 with `none`, when left out.
    #[serde(default)]
    port: Option<u16>,
    /// `tls` (default), `starttls`, or `none` (only for a server on this computer).
    #[serde(default)]
    security: MailSecurity,
    /// The login, usually the address.
    username: String,
    /// The name of the stored password (`flowpilot-cli credentials set email <name>`).
    credential: String,
}

impl Smtp {
    fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Tls => 465,
            MailSecurity::Starttls => 587,
            MailSecurity::None => 25,
        })
    }
}

/// Send an email.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SendParams {
    /// The recipients: one address or a list.
    to: Addresses,
    subject: Text,
    /// The plain-text body.
    #[serde(default)]
    text: Option<Text>,
    /// The HTML body (sent beside `text` when both are given).
    #[serde(default)]
    html: Option<Text>,
    #[serde(default)]
    cc: Option<Addresses>,
    /// Hidden recipients.
    #[serde(default)]
    bcc: Option<Addresses>,
    /// Where replies go.
    #[serde(default)]
    reply_to: Option<String>,
    /// The sender; the SMTP `username` when left out.
    #[serde(default)]
    from: Option<String>,
    smtp: Smtp,
}

fn is_reference(value: &str) -> bool {
    value.contains("${")
}

/// Why `address` is not one a mail can go to; `None` when it is.
pub fn address_problem(address: &str) -> Option<String> {
    address
        .parse::<Mailbox>()
        .err()
        .map(|e| format!("`{address}` is not an email address ({e})"))
}

fn check_addresses(params: &Value, key: &str, issues: &mut Vec<(String, String)>) {
    match params.get(key) {
        Some(Value::String(s)) if !is_reference(s) => {
            let many = s.contains(',');
            for (i, a) in s.split(',').map(str::trim).enumerate() {
                if let Some(problem) = address_problem(a) {
                    let at = if many { format!("{key}[{i}]") } else { key.to_string() };
                    issues.push((at, problem));
                }
            }
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(a) = item.as_str()
                    && !is_reference(a)
                    && let Some(problem) = address_problem(a.trim())
                {
                    issues.push((format!("{key}[{i}]"), problem));
                }
            }
        }
        _ => {}
    }
}

fn check_send(params: &Value) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    for key in ["to", "cc", "bcc", "reply_to", "from"] {
        check_addresses(params, key, &mut issues);
    }
    if let Some(smtp) = params.get("smtp") {
        let literal = |k: &str| smtp.get(k).and_then(Value::as_str).filter(|s| !is_reference(s));
        if let Some(host) = literal("host") {
            if let Some(problem) = host_problem(host) {
                issues.push(("smtp.host".into(), problem));
            }
            let security = smtp
                .get("security")
                .and_then(|s| serde_json::from_value::<MailSecurity>(s.clone()).ok())
                .unwrap_or_default();
            if let Some(problem) = insecure_problem(security, host) {
                issues.push(("smtp.security".into(), problem));
            }
        }
        if let Some(name) = literal("credential")
            && let Some(problem) = credential_name_problem(name)
        {
            issues.push(("smtp.credential".into(), problem));
        }
    }
    issues
}

fn invalid(message: impl Into<String>) -> StepError {
    StepError::fatal(ErrorCode::InvalidParams, message.into())
}

fn mailboxes(param: &str, addresses: Option<&Addresses>) -> Result<Vec<Mailbox>, StepError> {
    let Some(addresses) = addresses else {
        return Ok(Vec::new());
    };
    addresses
        .list()
        .into_iter()
        .map(|a| {
            a.parse::<Mailbox>()
                .map_err(|e| invalid(format!("{param}: `{a}` is not an email address ({e})")))
        })
        .collect()
}

fn build_message(p: &SendParams) -> Result<Message, StepError> {
    let from_text = p.from.as_deref().unwrap_or(&p.smtp.username);
    let from: Mailbox = from_text.parse().map_err(|e| {
        invalid(format!(
            "from: `{from_text}` is not an email address ({e}); set `from` when the SMTP username is not an address"
        ))
    })?;
    let to = mailboxes("to", Some(&p.to))?;
    if to.is_empty() {
        return Err(invalid("to: at least one recipient is needed"));
    }
    let mut builder = Message::builder()
        .from(from)
        .subject(p.subject.0.clone())
        .message_id(None);
    for m in to {
        builder = builder.to(m);
    }
    for m in mailboxes("cc", p.cc.as_ref())? {
        builder = builder.cc(m);
    }
    for m in mailboxes("bcc", p.bcc.as_ref())? {
        builder = builder.bcc(m);
    }
    if let Some(reply_to) = &p.reply_to {
        let m = reply_to
            .parse::<Mailbox>()
            .map_err(|e| invalid(format!("reply_to: `{reply_to}` is not an email address ({e})")))?;
        builder = builder.reply_to(m);
    }
    let text = p.text.as_ref().map(|t| t.0.clone());
    let html = p.html.as_ref().map(|t| t.0.clone());
    let built = match (text, html) {
        (Some(text), Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
        (None, Some(html)) => builder.singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html)),
        (Some(text), None) => builder.singlepart(SinglePart::plain(text)),
        (None, None) => builder.singlepart(SinglePart::plain(String::new())),
    };
    built.map_err(|e| invalid(format!("the message cannot be built: {e}")))
}

fn transport(smtp: &Smtp, password: String) -> Result<AsyncSmtpTransport<Tokio1Executor>, StepError> {
    let tls = match smtp.security {
        MailSecurity::None => {
            if !is_loopback_host(&smtp.host) {
                return Err(invalid(format!(
                    "smtp.security: `none` would send the password unencrypted to {}; use `tls` or `starttls`",
                    smtp.host
                )));
            }
            Tls::None
        }
        security => {
            let parameters = TlsParameters::new(smtp.host.clone())
                .map_err(|e| StepError::fatal(ErrorCode::Tls, format!("TLS for {}: {e}", smtp.host)))?;
            if security == MailSecurity::Tls {
                Tls::Wrapper(parameters)
            } else {
                Tls::Required(parameters)
            }
        }
    };
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
            .port(smtp.port())
            .tls(tls)
            .credentials(SmtpCredentials::new(smtp.username.clone(), password))
            .timeout(Some(Duration::from_secs(30)))
            .build(),
    )
}

/// A failed send as a step error: refused credentials and other permanent
/// refusals are final; a server that is down, slow or says "try later" may pass.
fn send_error(server: &str, e: &lettre::transport::smtp::Error) -> StepError {
    let code = e.status().map(|c| c.to_string());
    let detail = e.to_string();
    if e.is_permanent() {
        if code.as_deref() == Some("535") || code.as_deref() == Some("534") {
            return StepError::fatal(
                ErrorCode::InvalidCredentials,
                format!(
                    "{server} did not accept the username and password ({detail}); for Gmail and Outlook use an app password"
                ),
            );
        }
        return StepError::fatal(
            ErrorCode::InvalidRequest,
            format!("{server} refused the message: {detail}"),
        );
    }
    if e.is_transient() {
        return StepError::retryable(
            ErrorCode::BadResponse,
            format!("{server} asked to try again later: {detail}"),
        );
    }
    if e.is_timeout() {
        return StepError::retryable(
            ErrorCode::Timeout,
            format!("{server} did not answer in time ({detail})"),
        );
    }
    if e.is_tls() {
        return StepError::fatal(
            ErrorCode::Tls,
            format!("TLS with {server} failed ({detail}); check `security` and the port"),
        );
    }
    StepError::retryable(
        ErrorCode::Connect,
        format!("could not talk to {server} ({detail}); check the host, the port and that the server is up"),
    )
}

#[async_trait]
impl Provider for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn description(&self) -> String {
        "Send email over SMTP".into()
    }

    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            vec![ActionSpec::new(
                "send",
                "Send an email",
                schema_of::<SendParams>(),
                true,
            )]
        });
        &ACTIONS
    }

    /// The stored password `smtp.credential` names (unless a reference picks it at run time).
    fn credentials_needed(&self, _action: &str, params: &Value) -> Vec<String> {
        match params.pointer("/smtp/credential").and_then(Value::as_str) {
            Some(name) if !is_reference(name) => vec![name.to_string()],
            _ => Vec::new(),
        }
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        match action {
            "send" => check_send(params),
            _ => Vec::new(),
        }
    }

    async fn run(
        &self,
        action: &str,
        params: Value,
        credentials: &Credentials,
        _ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        if action != "send" {
            return Err(StepError::fatal(
                ErrorCode::UnknownAction,
                format!("email has no action `{action}`"),
            ));
        }
        let p: SendParams = parse_params(params)?;
        let message = build_message(&p)?;
        let message_id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::to_string)
            .unwrap_or_default();
        let recipients: Vec<String> = message.envelope().to().iter().map(ToString::to_string).collect();
        let password = credentials.require(&p.smtp.credential).await?;
        let mailer = transport(&p.smtp, password.expose().clone())?;
        let server = format!("{}:{}", p.smtp.host, p.smtp.port());
        let response = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(StepError::Cancelled),
            sent = mailer.send(message) => sent.map_err(|e| send_error(&server, &e))?,
        };
        let reply = response.message().collect::<Vec<_>>().join(" ");
        let summary = format!(
            "sent to {} recipient{} via {server}",
            recipients.len(),
            if recipients.len() == 1 { "" } else { "s" }
        );
        Ok(ProviderResult::ok(
            json!({"message_id": message_id, "recipients": recipients, "server_reply": format!("{} {reply}", response.code())}),
            summary,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_where_they_are_written() {
        let issues = Email.prepare(
            "send",
            &json!({"to": ["ada@example.com", "not an address"], "cc": "bob@example.com, @nope",
                     "from": "${steps.0.output}", "subject": "x",
                     "smtp": {"host": "smtp.example.com", "username": "u", "credential": "mail"}}),
        );
        let at: Vec<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(at, ["to[1]", "cc[1]"], "{issues:?}");
        let issues = Email.prepare(
            "send",
            &json!({"to": "x@example.com", "subject": "x",
                     "smtp": {"host": "smtp.example.com", "security": "none", "username": "u", "credential": "mail"}}),
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].0, "smtp.security");
        assert!(
            Email
                .prepare(
                    "send",
                    &json!({"to": "x@example.com", "subject": "x",
                "smtp": {"host": "127.0.0.1", "security": "none", "username": "u", "credential": "mail"}})
                )
                .is_empty()
        );
    }

    #[test]
    fn tls_and_starttls_transports_can_be_built() {
        for security in ["tls", "starttls"] {
            let smtp: Smtp = serde_json::from_value(
                json!({"host": "smtp.example.com", "security": security, "username": "u", "credential": "c"}),
            )
            .unwrap();
            assert!(transport(&smtp, "pw".into()).is_ok(), "{security}");
        }
        let insecure: Smtp = serde_json::from_value(
            json!({"host": "smtp.example.com", "security": "none", "username": "u", "credential": "c"}),
        )
        .unwrap();
        assert!(
            transport(&insecure, "pw".into()).is_err(),
            "no password in the clear to another machine"
        );
    }

    #[test]
    fn the_credential_needed_is_the_one_smtp_names() {
        let params = json!({"smtp": {"credential": "work-mail"}});
        assert_eq!(Email.credentials_needed("send", &params), vec!["work-mail".to_string()]);
        assert!(Email.has_side_effects("send", &params));
    }

    #[test]
    fn a_message_has_both_bodies_and_no_bcc_header() {
        let p: SendParams = serde_json::from_value(json!({
            "to": ["ada@example.com", "Bob <bob@example.com>"], "bcc": "eve@example.com",
            "subject": "Hi", "text": "plain", "html": "<p>html</p>",
            "smtp": {"host": "127.0.0.1", "username": "me@example.com", "credential": "c"}
        }))
        .unwrap();
        let message = build_message(&p).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains("From: me@example.com"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(!raw.to_ascii_lowercase().contains("bcc:"), "{raw}");
        assert_eq!(message.envelope().to().len(), 3, "bcc is in the envelope");
    }
}
