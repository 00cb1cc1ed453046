//! Test mail as raw RFC 5322 bytes (<https://www.rfc-editor.org/rfc/rfc5322>),
//! MIME-structured as RFC 2045-2049 say: non-ASCII header text as RFC 2047
//! encoded-words, text and HTML as `multipart/alternative`, attachments in
//! `multipart/mixed` (base64), bodies quoted-printable, and a body in
//! ISO-8859-1 for the charset-decoding cases. CRLF line ends throughout.
//!
//! ```ignore
//! let raw = MailBuilder::new().from("Zoë <zoe@example.test>").subject("Facture n° 12")
//!     .text("Montant : 42 €").html("<p>Montant : <b>42 €</b></p>")
//!     .attachment("invoice.pdf", "application/pdf", b"%PDF-1.4").build();
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq)]
enum Charset {
    Utf8,
    Latin1,
}

#[derive(Debug, Clone, PartialEq)]
struct Attachment {
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// A mail to build; every part is optional, the defaults make a plain text mail.
#[derive(Debug, Clone, PartialEq)]
pub struct MailBuilder {
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    subject: String,
    date: DateTime<Utc>,
    message_id: Option<String>,
    headers: Vec<(String, String)>,
    text: Option<(String, Charset)>,
    html: Option<String>,
    attachments: Vec<Attachment>,
}

impl Default for MailBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl MailBuilder {
    /// From `Sender <sender@example.test>` to `ada@example.test`, subject
    /// "Test mail", dated 2026-01-05 09:00 UTC, with a short text body.
    pub fn new() -> Self {
        MailBuilder {
            from: "Sender <sender@example.test>".into(),
            to: vec!["ada@example.test".into()],
            cc: Vec::new(),
            subject: "Test mail".into(),
            date: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap_or_default(),
            message_id: None,
            headers: Vec::new(),
            text: Some(("Hello from the test.".into(), Charset::Utf8)),
            html: None,
            attachments: Vec::new(),
        }
    }

    /// `Name <address>` or a bare address; a non-ASCII name is encoded.
    pub fn from(mut self, address: &str) -> Self {
        self.from = address.into();
        self
    }

    /// Replace the recipients with this one (call [`MailBuilder::also_to`] for more).
    pub fn to(mut self, address: &str) -> Self {
        self.to = vec![address.into()];
        self
    }

    pub fn also_to(mut self, address: &str) -> Self {
        self.to.push(address.into());
        self
    }

    pub fn cc(mut self, address: &str) -> Self {
        self.cc.push(address.into());
        self
    }

    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = subject.into();
        self
    }

    pub fn date(mut self, date: DateTime<Utc>) -> Self {
        self.date = date;
        self
    }

    /// The Message-ID without angle brackets; by default a unique one is made.
    pub fn message_id(mut self, id: &str) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Any other header, as given (ASCII).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The text body, in UTF-8.
    pub fn text(mut self, text: &str) -> Self {
        self.text = Some((text.into(), Charset::Utf8));
        self
    }

    /// The text body in ISO-8859-1 (characters outside Latin-1 become `?`).
    pub fn latin1_text(mut self, text: &str) -> Self {
        self.text = Some((text.into(), Charset::Latin1));
        self
    }

    /// No text part (an HTML-only mail, with [`MailBuilder::html`]).
    pub fn no_text(mut self) -> Self {
        self.text = None;
        self
    }

    pub fn html(mut self, html: &str) -> Self {
        self.html = Some(html.into());
        self
    }

    pub fn attachment(mut self, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        self.attachments.push(Attachment {
            filename: filename.into(),
            content_type: content_type.into(),
            bytes: bytes.to_vec(),
        });
        self
    }

    /// The mail as raw bytes, ready for a maildir, IMAP APPEND or SMTP DATA.
    pub fn build(&self) -> Vec<u8> {
        let serial = next_serial();
        let mut out = String::new();
        let mut header = |name: &str, value: &str| out.push_str(&format!("{name}: {value}\r\n"));
        header("From", &encode_address(&self.from));
        header(
            "To",
            &self
                .to
                .iter()
                .map(|a| encode_address(a))
                .collect::<Vec<_>>()
                .join(",\r\n "),
        );
        if !self.cc.is_empty() {
            header(
                "Cc",
                &self
                    .cc
                    .iter()
                    .map(|a| encode_address(a))
                    .collect::<Vec<_>>()
                    .join(",\r\n "),
            );
        }
        header("Subject", &encode_words(&self.subject));
        header("Date", &self.date.to_rfc2822());
        let id = self
            .message_id
            .clone()
            .unwrap_or_else(|| format!("{serial}.{}@flowpilot.test", self.date.timestamp()));
        header("Message-ID", &format!("<{id}>"));
        for (name, value) in &self.headers {
            header(name, value);
        }
        header("MIME-Version", "1.0");
        let mut bytes = out.into_bytes();
        bytes.extend(self.body(serial));
        bytes
    }

    /// The content headers and body of the whole mail.
    fn body(&self, serial: u64) -> Vec<u8> {
        let text = self
            .text
            .as_ref()
            .map(|(t, charset)| text_part("text/plain", t, charset));
        let html = self.html.as_ref().map(|h| text_part("text/html", h, &Charset::Utf8));
        let readable = match (text, html) {
            (Some(t), Some(h)) => multipart("alternative", &format!("=_alt_{serial}"), &[t, h]),
            (Some(t), None) => t,
            (None, Some(h)) => h,
            (None, None) => text_part("text/plain", "", &Charset::Utf8),
        };
        if self.attachments.is_empty() {
            return readable;
        }
        let mut parts = vec![readable];
        parts.extend(self.attachments.iter().map(attachment_part));
        multipart("mixed", &format!("=_mixed_{serial}"), &parts)
    }
}

fn next_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Headers + blank line + body of one leaf part.
fn text_part(mime: &str, text: &str, charset: &Charset) -> Vec<u8> {
    let (name, bytes): (&str, Vec<u8>) = match charset {
        Charset::Utf8 => ("utf-8", text.as_bytes().to_vec()),
        Charset::Latin1 => (
            "ISO-8859-1",
            text.chars()
                .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                .collect(),
        ),
    };
    let mut part =
        format!("Content-Type: {mime}; charset={name}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
            .into_bytes();
    part.extend(quoted_printable(&bytes).into_bytes());
    part
}

fn attachment_part(a: &Attachment) -> Vec<u8> {
    let name = encode_words(&a.filename);
    let mut part = format!(
        "Content-Type: {}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        a.content_type
    );
    let encoded = BASE64.encode(&a.bytes);
    for chunk in encoded.as_bytes().chunks(76) {
        part.push_str(&String::from_utf8_lossy(chunk));
        part.push_str("\r\n");
    }
    part.into_bytes()
}

fn multipart(subtype: &str, boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    for part in parts {
        out.extend(format!("--{boundary}\r\n").into_bytes());
        out.extend(part);
        if !part.ends_with(b"\r\n") {
            out.extend(b"\r\n");
        }
    }
    out.extend(format!("--{boundary}--\r\n").into_bytes());
    out
}

/// RFC 2047 `B` encoded-words for non-ASCII text, each at most 75 characters.
pub fn encode_words(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        // 45 bytes of UTF-8 make 60 of base64: with "=?UTF-8?B?" and "?=" a word stays under 75.
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", BASE64.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// `Name <address>` with the name encoded when it is not ASCII.
fn encode_address(address: &str) -> String {
    match address.rsplit_once('<') {
        Some((name, rest)) if !name.trim().is_empty() => {
            let name = name.trim().trim_matches('"');
            let shown = if name.is_ascii() {
                format!("\"{name}\"")
            } else {
                encode_words(name)
            };
            format!("{shown} <{rest}")
        }
        _ => address.to_string(),
    }
}

/// Quoted-printable (RFC 2045 §6.7): hard line breaks as CRLF, soft breaks
/// before 76 characters, `=XX` for everything but printable ASCII.
fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    let text_lines = bytes.split(|b| *b == b'\n');
    for (i, line) in text_lines.enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut width = 0;
        for (j, &b) in line.iter().enumerate() {
            let last = j + 1 == line.len();
            let literal = (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece = if literal {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += piece.len();
            out.push_str(&piece);
        }
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    #[test]
    fn a_built_mail_parses_back_with_every_part_decoded() {
        let long = "é".repeat(100);
        let raw = MailBuilder::new()
            .from("Zoë Dupont <zoe@example.test>")
            .to("ada@example.test")
            .also_to("Bob <bob@example.test>")
            .cc("carol@example.test")
            .subject("Facture n° 12 — « urgent »")
            .latin1_text(&format!("Montant : 42 £, café\nligne 2 = fin\n{long}"))
            .html("<p>Montant : <b>42 €</b></p>")
            .attachment("facture-été.pdf", "application/pdf", b"%PDF-1.4 binary \x00\xff")
            .message_id("fixed-1@flowpilot.test")
            .build();
        assert!(raw.iter().all(|b| *b < 0x80), "7-bit clean on the wire");
        let message = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(message.subject(), Some("Facture n° 12 — « urgent »"));
        let from = message.from().unwrap().first().unwrap();
        assert_eq!(
            (from.name(), from.address()),
            (Some("Zoë Dupont"), Some("zoe@example.test"))
        );
        assert_eq!(message.to().unwrap().iter().count(), 2);
        assert_eq!(
            message.cc().unwrap().first().unwrap().address(),
            Some("carol@example.test")
        );
        assert_eq!(message.message_id(), Some("fixed-1@flowpilot.test"));
        let text = message.body_text(0).unwrap();
        assert!(
            text.starts_with("Montant : 42 £, café\r\nligne 2 = fin\r\n"),
            "{text:?}"
        );
        assert!(text.contains(&long), "a long line survives its soft breaks");
        assert_eq!(message.body_html(0).unwrap(), "<p>Montant : <b>42 €</b></p>");
        let attachment = message.attachment(0).unwrap();
        assert_eq!(attachment.attachment_name(), Some("facture-été.pdf"));
        assert_eq!(attachment.contents(), b"%PDF-1.4 binary \x00\xff");
        assert_eq!(message.date().unwrap().to_rfc3339(), "2026-01-05T09:00:00Z");
    }
}
