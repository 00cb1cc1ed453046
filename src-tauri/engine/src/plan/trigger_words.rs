//! A trigger in words, as the plan list and `triggers list` say it:
//! "When an email with “invoice” arrives in INBOX of me@example.com", "When this
//! URL is called".

use super::trigger::{KeywordsMode, SignatureScheme, Trigger, WebhookResponse};
use crate::schedule::{Schedule, system_timezone};

impl Trigger {
    /// What starts the plan, in one sentence.
    pub fn describe(&self) -> String {
        match self {
            Trigger::Manual => "Only when run by hand".into(),
            Trigger::Cron(cron) => match Schedule::new(cron, system_timezone()) {
                Ok(schedule) => format!("On a schedule: {}", schedule.describe()),
                Err(_) => format!("On the schedule `{}`", cron.cron_expression),
            },
            Trigger::Webhook(t) => {
                let mut s = String::from("When this URL is called");
                if let Some(signature) = &t.signature {
                    s.push_str(match signature.scheme {
                        SignatureScheme::Github => " by GitHub (signed)",
                        SignatureScheme::Stripe => " by Stripe (signed)",
                        SignatureScheme::StandardWebhooks => " with a Standard Webhooks signature",
                        SignatureScheme::HmacSha256 => " with an HMAC-SHA256 signature",
                    });
                }
                if t.respond == WebhookResponse::Sync {
                    s.push_str("; answers with the run's result");
                }
                s
            }
            Trigger::Email(t) => {
                let filter = t.filter.clone().unwrap_or_default();
                let mut parts = Vec::new();
                if !filter.keywords.is_empty() {
                    let joiner = match filter.keywords_mode {
                        KeywordsMode::Any => " or ",
                        KeywordsMode::All => " and ",
                    };
                    parts.push(format!("with {}", quoted_list(&filter.keywords, joiner)));
                }
                if let Some(from) = nonempty(&filter.from) {
                    parts.push(format!("from “{from}”"));
                }
                if let Some(subject) = nonempty(&filter.subject) {
                    parts.push(format!("with “{subject}” in the subject"));
                }
                if let Some(body) = nonempty(&filter.body) {
                    parts.push(format!("with “{body}” in the text"));
                }
                let article = if filter.unread_only { "an unread" } else { "an" };
                let mut s = format!("When {article} email");
                for part in parts {
                    s.push(' ');
                    s.push_str(&part);
                }
                s.push_str(&format!(" arrives in {}", t.mailbox));
                // Which account: two plans may watch the INBOX of two addresses.
                let account = t.username.trim();
                if !account.is_empty() {
                    s.push_str(&format!(" of {account}"));
                }
                s
            }
            Trigger::Feed(t) => format!("When the feed {} has a new item", t.url),
            Trigger::Telegram(t) => {
                let mut s = String::from("When the Telegram bot gets ");
                match nonempty(&t.command) {
                    Some(command) => s.push_str(command),
                    None => s.push_str("a message"),
                }
                if let Some(text) = nonempty(&t.text_contains) {
                    s.push_str(&format!(" containing “{text}”"));
                }
                if let Some(chat) = t.chat_id {
                    s.push_str(&format!(" in chat {chat}"));
                }
                s
            }
            Trigger::Poll(t) => format!("When a new item appears at {}", t.url),
        }
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn quoted_list(words: &[String], joiner: &str) -> String {
    words
        .iter()
        .map(|w| format!("“{}”", w.trim()))
        .collect::<Vec<_>>()
        .join(joiner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(trigger: serde_json::Value) -> String {
        serde_json::from_value::<Trigger>(trigger).unwrap().describe()
    }

    #[test]
    fn triggers_are_said_in_words() {
        assert_eq!(words(json!({"type": "manual"})), "Only when run by hand");
        assert_eq!(words(json!({"type": "webhook"})), "When this URL is called");
        assert_eq!(
            words(json!({"type": "webhook", "respond": "sync", "signature": {"scheme": "github", "credential": "gh"}})),
            "When this URL is called by GitHub (signed); answers with the run's result"
        );
        assert_eq!(
            words(json!({"type": "email", "host": "h", "username": "u", "credential": "c",
                          "match": {"keywords": ["invoice"]}})),
            "When an email with “invoice” arrives in INBOX of u"
        );
        assert_eq!(
            words(
                json!({"type": "email", "host": "h", "username": "bills@example.com", "credential": "c", "mailbox": "Bills",
                          "match": {"keywords": ["invoice", "receipt"], "from": "shop", "unread_only": true}})
            ),
            "When an unread email with “invoice” or “receipt” from “shop” arrives in Bills of bills@example.com"
        );
        assert_eq!(
            words(json!({"type": "telegram", "credential": "bot", "command": "/summarize", "chat_id": 42})),
            "When the Telegram bot gets /summarize in chat 42"
        );
        assert_eq!(
            words(json!({"type": "poll", "url": "https://api.example.com/items"})),
            "When a new item appears at https://api.example.com/items"
        );
        assert!(
            words(json!({"type": "cron", "cron_expression": "0 9 * * *", "timezone": "UTC"}))
                .starts_with("On a schedule: ")
        );
    }
}
