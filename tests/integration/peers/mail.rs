//! Real mail servers started by the harnesses: Dovecot seen over raw IMAP,
//! aiosmtpd fed over a raw SMTP dialogue. Without the servers installed these
//! tests print a skip line, or fail under FLOWPILOT_REQUIRE_SERVERS=1.

use flowpilot_tests::MailBuilder;
use flowpilot_tests::dovecot::{Dovecot, DovecotOptions, IMAP_PASSWORD, IMAP_USER};
use flowpilot_tests::imap_client::ImapConnection;
use flowpilot_tests::servers::or_skip;
use mail_parser::MessageParser;

fn subject_of(raw: &[u8]) -> String {
    let message = MessageParser::default().parse(raw).expect("a parsable mail");
    message.subject().unwrap_or_default().to_string()
}

async fn logged_in(imap: &Dovecot) -> ImapConnection {
    let mut connection = ImapConnection::connect(imap.port()).await.expect("connect to Dovecot");
    connection.login(IMAP_USER, IMAP_PASSWORD).await.expect("log in");
    connection
}

#[tokio::test]
async fn dovecot_serves_delivered_mail_in_delivery_order_with_a_stable_uidvalidity() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let mut session = logged_in(&imap).await;
    assert!(session.greeting.starts_with("* OK"), "{}", session.greeting);
    let empty = session.select("INBOX").await.unwrap();
    assert_eq!(empty.exists, 0);
    assert!(empty.uidvalidity > 0);

    imap.deliver_many(50, |i| MailBuilder::new().subject(&format!("Mail {i} — é")).build());
    let full = session.select("INBOX").await.unwrap();
    assert_eq!(
        (full.exists, full.uidvalidity),
        (50, empty.uidvalidity),
        "UIDVALIDITY stays"
    );
    let headers = session
        .command("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await
        .unwrap();
    let subjects: Vec<String> = headers.iter().map(|l| subject_of(&l.literals[0])).collect();
    let expected: Vec<String> = (0..50).map(|i| format!("Mail {i} — é")).collect();
    assert_eq!(subjects, expected, "UIDs follow delivery order");

    let body = session.fetch_body(3).await.unwrap();
    assert_eq!(subject_of(&body), "Mail 2 — é");
    assert!(
        !imap.flags("INBOX", 3).await.contains(&"\\Seen".to_string()),
        "BODY.PEEK leaves it unread"
    );
    session.command("UID FETCH 3 BODY[]").await.unwrap();
    assert!(
        imap.flags("INBOX", 3).await.contains(&"\\Seen".to_string()),
        "BODY[] marks it read"
    );
    assert_eq!(imap.uidvalidity("INBOX").await, empty.uidvalidity);
    assert_eq!(imap.message_count("INBOX").await, 50);
}

#[tokio::test]
async fn dovecot_idle_reports_a_new_delivery() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let mut session = logged_in(&imap).await;
    session.select("INBOX").await.unwrap();
    session.idle().await.unwrap();
    imap.deliver(&MailBuilder::new().subject("While idling").build());
    let seen = session.wait_for(|line| line.ends_with("EXISTS")).await.unwrap();
    assert_eq!(seen, "* 1 EXISTS");
    session.done().await.unwrap();
    assert_eq!(subject_of(&session.fetch_body(1).await.unwrap()), "While idling");
}

#[tokio::test]
async fn dovecot_uidvalidity_changes_when_a_mailbox_is_recreated_or_reset() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    imap.create_mailbox("Invoices").await;
    imap.save_to("Invoices", &MailBuilder::new().subject("Invoice 1").build())
        .await;
    let before = imap.uidvalidity("Invoices").await;
    assert_eq!(imap.message_count("Invoices").await, 1);
    let after = imap.recreate_mailbox("Invoices").await;
    assert_ne!(after, before);
    assert_eq!(imap.message_count("Invoices").await, 0);

    imap.deliver(&MailBuilder::new().build());
    let mut session = logged_in(&imap).await;
    let inbox = session.select("INBOX").await.unwrap();
    let reset = imap.change_uidvalidity("INBOX").await;
    assert_ne!(reset, inbox.uidvalidity);
    let mut fresh = logged_in(&imap).await;
    let seen = fresh.select("INBOX").await.unwrap();
    assert_eq!(
        (seen.uidvalidity, seen.exists),
        (reset, 1),
        "a new session sees the new UIDVALIDITY, same mail"
    );
}

#[tokio::test]
async fn dovecot_goes_down_and_comes_back_on_the_same_port_with_its_mail() {
    let Some(mut imap) = Dovecot::start_or_skip().await else {
        return;
    };
    imap.deliver(&MailBuilder::new().subject("Before the outage").build());
    let mut session = logged_in(&imap).await;
    session.select("INBOX").await.unwrap();
    let port = imap.port();

    imap.stop().await;
    assert!(!imap.is_running());
    assert!(session.command("NOOP").await.is_err(), "the open session is cut");
    assert!(
        ImapConnection::connect(port).await.is_err(),
        "nothing listens while it is down"
    );

    imap.restart().await.expect("Dovecot starts again");
    assert_eq!(imap.port(), port);
    let mut back = logged_in(&imap).await;
    assert_eq!(back.select("INBOX").await.unwrap().exists, 1);
    assert_eq!(subject_of(&back.fetch_body(1).await.unwrap()), "Before the outage");
}

#[tokio::test]
async fn dovecot_with_tls_speaks_implicit_tls_and_starttls_with_its_certificate() {
    let Some(imap) = or_skip(
        Dovecot::start_with(DovecotOptions {
            tls: true,
            ..Default::default()
        })
        .await,
    ) else {
        return;
    };
    imap.deliver(&MailBuilder::new().build());
    // Python's imaplib from Debian, verifying the certificate for 127.0.0.1.
    let script = r#"
import imaplib, ssl, sys
cafile, port, tls_port, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
implicit = imaplib.IMAP4_SSL("127.0.0.1", int(tls_port), ssl_context=ctx)
implicit.login(user, password)
print("implicit", implicit.select("INBOX")[1][0].decode())
upgraded = imaplib.IMAP4("127.0.0.1", int(port))
upgraded.starttls(ssl_context=ctx)
upgraded.login(user, password)
print("starttls", upgraded.select("INBOX")[1][0].decode())
"#;
    let output = tokio::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(imap.certificate_path().unwrap())
        .arg(imap.port().to_string())
        .arg(imap.tls_port().unwrap().to_string())
        .args([IMAP_USER, IMAP_PASSWORD])
        .output()
        .await
        .expect("run /usr/bin/python3");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        imap.log()
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "implicit 1\nstarttls 1\n");
}

/// One side of a raw SMTP conversation.
struct SmtpDialogue {
    reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl SmtpDialogue {
    async fn connect(port: u16) -> (SmtpDialogue, u16) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the SMTP receiver");
        let (read, writer) = stream.into_split();
        let mut dialogue = SmtpDialogue {
            reader: tokio::io::BufReader::new(read),
            writer,
        };
        let (greeting, _) = dialogue.reply().await;
        (dialogue, greeting)
    }

    /// A reply, multi-line ones ("250-…" … "250 …") joined.
    async fn reply(&mut self) -> (u16, String) {
        use tokio::io::AsyncBufReadExt;
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("an SMTP reply");
            all.push_str(&line);
            let code = line.get(..3).and_then(|c| c.parse().ok()).expect("a reply code");
            if line.as_bytes().get(3) != Some(&b'-') {
                return (code, all);
            }
        }
    }

    async fn send(&mut self, line: &str) -> (u16, String) {
        use tokio::io::AsyncWriteExt;
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write to SMTP");
        self.reply().await
    }

    /// DATA with dot-stuffing, ended by CRLF.CRLF.
    async fn data(&mut self, raw: &[u8]) -> (u16, String) {
        use tokio::io::AsyncWriteExt;
        assert_eq!(self.send("DATA").await.0, 354);
        let text = String::from_utf8_lossy(raw);
        let stuffed: String = text
            .split("\r\n")
            .map(|l| {
                if l.starts_with('.') {
                    format!(".{l}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\r\n");
        let ending = if stuffed.ends_with("\r\n") {
            ".\r\n"
        } else {
            "\r\n.\r\n"
        };
        self.writer
            .write_all(format!("{stuffed}{ending}").as_bytes())
            .await
            .expect("write DATA");
        self.reply().await
    }
}

#[tokio::test]
async fn aiosmtpd_receives_a_message_sent_with_auth_plain() {
    use base64::Engine as _;
    use flowpilot_tests::smtp::{SMTP_PASSWORD, SMTP_USER, SmtpOptions};
    let options = SmtpOptions {
        auth: true,
        reject_recipients: vec!["nobody@example.test".into()],
        ..Default::default()
    };
    let Some(smtp) = or_skip(flowpilot_tests::SmtpReceiver::start_with(options).await) else {
        return;
    };
    let (mut dialogue, greeting) = SmtpDialogue::connect(smtp.port()).await;
    assert_eq!(greeting, 220);
    let (code, extensions) = dialogue.send("EHLO flowpilot.test").await;
    assert_eq!(code, 250);
    assert!(
        extensions.contains("AUTH") && extensions.contains("PLAIN"),
        "{extensions}"
    );
    assert_eq!(
        dialogue.send("MAIL FROM:<mailer@example.test>").await.0,
        530,
        "authentication comes first"
    );
    let wrong = base64::engine::general_purpose::STANDARD.encode(format!("\0{SMTP_USER}\0wrong"));
    assert_eq!(dialogue.send(&format!("AUTH PLAIN {wrong}")).await.0, 535);
    let right = base64::engine::general_purpose::STANDARD.encode(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}"));
    assert_eq!(dialogue.send(&format!("AUTH PLAIN {right}")).await.0, 235);
    assert_eq!(dialogue.send("MAIL FROM:<mailer@example.test>").await.0, 250);
    assert_eq!(dialogue.send("RCPT TO:<ada@example.test>").await.0, 250);
    assert_eq!(dialogue.send("RCPT TO:<nobody@example.test>").await.0, 550);
    assert_eq!(dialogue.send("RCPT TO:<bob@example.test>").await.0, 250);
    let mail = MailBuilder::new()
        .from("Flowpilot <mailer@example.test>")
        .subject("Résumé du jour")
        .text("Bonjour,\n.a line starting with a dot\nfin")
        .html("<p>Bonjour</p>")
        .attachment("notes.txt", "text/plain", b"notes")
        .build();
    let (code, queued) = dialogue.data(&mail).await;
    assert_eq!(code, 250, "{queued}");
    assert_eq!(dialogue.send("QUIT").await.0, 221);

    let received = smtp.wait_for_messages(1).await;
    let got = &received[0];
    assert_eq!(got.mail_from, "mailer@example.test");
    assert_eq!(got.rcpt_to, ["ada@example.test", "bob@example.test"]);
    assert_eq!(got.auth_user.as_deref(), Some(SMTP_USER));
    assert!(!got.tls);
    assert_eq!(got.helo, "flowpilot.test");
    assert_eq!(got.subject().as_deref(), Some("Résumé du jour"));
    assert_eq!(
        got.text().as_deref(),
        Some("Bonjour,\r\n.a line starting with a dot\r\nfin"),
        "dot-stuffing undone"
    );
    assert_eq!(got.html().as_deref(), Some("<p>Bonjour</p>"));
    assert_eq!(got.attachment_names(), ["notes.txt"]);
}

#[tokio::test]
async fn aiosmtpd_speaks_starttls_and_implicit_tls_with_its_certificate() {
    use flowpilot_tests::smtp::{SMTP_PASSWORD, SMTP_USER, SmtpOptions, SmtpTls};
    let start = |tls| {
        flowpilot_tests::SmtpReceiver::start_with(SmtpOptions {
            auth: true,
            tls,
            ..Default::default()
        })
    };
    let Some(starttls) = or_skip(start(SmtpTls::StartTls).await) else {
        return;
    };
    let Some(implicit) = or_skip(start(SmtpTls::Implicit).await) else {
        return;
    };
    // Python's smtplib from Debian, verifying each certificate for 127.0.0.1.
    let script = r#"
import smtplib, ssl, sys
plain_port, plain_ca, tls_port, tls_ca, user, password = sys.argv[1:7]
message = "From: a@example.test\r\nTo: b@example.test\r\nSubject: over TLS\r\n\r\nhi\r\n"
with smtplib.SMTP("127.0.0.1", int(plain_port)) as s:
    s.starttls(context=ssl.create_default_context(cafile=plain_ca))
    s.login(user, password)
    s.sendmail("a@example.test", ["b@example.test"], message)
with smtplib.SMTP_SSL("127.0.0.1", int(tls_port), context=ssl.create_default_context(cafile=tls_ca)) as s:
    s.login(user, password)
    s.sendmail("a@example.test", ["b@example.test"], message)
"#;
    let output = tokio::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(starttls.port().to_string())
        .arg(starttls.certificate_path().unwrap())
        .arg(implicit.port().to_string())
        .arg(implicit.certificate_path().unwrap())
        .args([SMTP_USER, SMTP_PASSWORD])
        .output()
        .await
        .expect("run /usr/bin/python3");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        starttls.log()
    );
    for receiver in [&starttls, &implicit] {
        let got = receiver.wait_for_messages(1).await;
        assert!(got[0].tls, "received over TLS");
        assert_eq!(got[0].auth_user.as_deref(), Some(SMTP_USER));
        assert_eq!(got[0].subject().as_deref(), Some("over TLS"));
    }
}
