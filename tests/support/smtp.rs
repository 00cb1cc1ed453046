//! A real SMTP receiver (RFC 5321, <https://www.rfc-editor.org/rfc/rfc5321>):
//! Debian's `python3-aiosmtpd` (<https://aiosmtpd.aio-libs.org/>) run by
//! `/usr/bin/python3` (not a python earlier on `PATH`, which would not see the
//! Debian module) with the handler in `smtp_receiver.py`, on 127.0.0.1 at a
//! port of its own choosing. Optional AUTH PLAIN/LOGIN ([`SMTP_USER`] /
//! [`SMTP_PASSWORD`], allowed without TLS on this loopback server only),
//! STARTTLS or implicit TLS with a throwaway certificate, and recipients
//! refused with 550.
//!
//! Every accepted message is written to a file and announced on the
//! receiver's stdout, which a thread reads as it comes: waiting for N
//! messages wakes on those lines, never on a timer.

use crate::servers::{Certificate, ServerError, failed, or_skip, signal_group};
use mail_parser::{Message, MessageParser, MimeHeaders};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::watch;

pub const SMTP_USER: &str = "mailer@example.test";
pub const SMTP_PASSWORD: &str = "smtp-test-password";
const SERVER: &str = "aiosmtpd";
const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = include_str!("smtp_receiver.py");
const WAIT_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpTls {
    #[default]
    None,
    /// Plain connection that offers STARTTLS (not required).
    StartTls,
    /// TLS from the first byte (port 465 style).
    Implicit,
}

#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// Require AUTH with [`SMTP_USER`] / [`SMTP_PASSWORD`] before MAIL FROM.
    pub auth: bool,
    pub tls: SmtpTls,
    /// Addresses refused at RCPT TO with `550 5.1.1`.
    pub reject_recipients: Vec<String>,
}

/// One message as the receiver got it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
    /// Whether it came over TLS (STARTTLS or implicit).
    pub tls: bool,
    /// What the client said in EHLO/HELO.
    pub helo: String,
    /// The DATA, byte for byte.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// The message parsed (MIME decoded) by mail-parser; fails the test when it does not parse.
    pub fn parsed(&self) -> Message<'_> {
        MessageParser::default().parse(&self.raw).unwrap_or_else(|| {
            panic!(
                "the received mail does not parse:\n{}",
                String::from_utf8_lossy(&self.raw)
            )
        })
    }

    pub fn subject(&self) -> Option<String> {
        self.parsed().subject().map(str::to_string)
    }

    /// A header's raw value (as on the wire, unfolded by nothing).
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_string())
    }

    /// The first text/plain body, decoded.
    pub fn text(&self) -> Option<String> {
        self.parsed().body_text(0).map(|t| t.into_owned())
    }

    /// The first text/html body, decoded.
    pub fn html(&self) -> Option<String> {
        let message = self.parsed();
        (message.html_body_count() > 0)
            .then(|| message.body_html(0).map(|t| t.into_owned()))
            .flatten()
    }

    pub fn attachment_names(&self) -> Vec<String> {
        self.parsed()
            .attachments()
            .filter_map(|a| a.attachment_name().map(str::to_string))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Progress {
    port: Option<u16>,
    messages: usize,
    unavailable: Option<String>,
    exited: bool,
}

/// A running receiver; stopped and its files removed on drop.
#[derive(Debug)]
pub struct SmtpReceiver {
    dir: tempfile::TempDir,
    port: u16,
    certificate: Option<Certificate>,
    child: Option<Child>,
    progress: watch::Receiver<Progress>,
}

impl SmtpReceiver {
    /// No TLS, no AUTH.
    pub async fn start() -> Result<SmtpReceiver, ServerError> {
        Self::start_with(SmtpOptions::default()).await
    }

    /// [`SmtpReceiver::start`], or `None` with a skip line when aiosmtpd is not installed (see [`or_skip`]).
    pub async fn start_or_skip() -> Option<SmtpReceiver> {
        or_skip(Self::start().await)
    }

    pub async fn start_with(options: SmtpOptions) -> Result<SmtpReceiver, ServerError> {
        if !Path::new(PYTHON).is_file() {
            return Err(ServerError::Unavailable {
                server: SERVER,
                reason: format!("no {PYTHON} (Debian packages python3 and python3-aiosmtpd)"),
            });
        }
        let io = |e: std::io::Error| failed(SERVER, format!("preparing its files: {e}"), String::new());
        let dir = tempfile::Builder::new()
            .prefix("flowpilot-smtp-")
            .tempdir()
            .map_err(io)?;
        let out = dir.path().join("received");
        std::fs::create_dir(&out).map_err(io)?;
        let certificate = match options.tls {
            SmtpTls::None => None,
            _ => Some(Certificate::generate(dir.path(), SERVER)?),
        };
        let script = dir.path().join("smtp_receiver.py");
        std::fs::write(&script, SCRIPT).map_err(io)?;
        let config = json!({
            "out": out,
            "port": 0,
            "auth": options.auth.then_some([SMTP_USER, SMTP_PASSWORD]),
            "tls": match options.tls { SmtpTls::None => "none", SmtpTls::StartTls => "starttls", SmtpTls::Implicit => "implicit" },
            "cert": certificate.as_ref().map(|c| c.cert_pem.clone()),
            "key": certificate.as_ref().map(|c| c.key_pem.clone()),
            "reject": options.reject_recipients,
        });
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).map_err(io)?;
        let log = std::fs::File::create(dir.path().join("receiver.log")).map_err(io)?;

        let mut child = Command::new(PYTHON)
            .arg(&script)
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| failed(SERVER, format!("could not run {PYTHON}: {e}"), String::new()))?;
        let (progress, mut watch_progress) = watch::channel(Progress::default());
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    progress.send_modify(|p| {
                        if let Some(port) = line.strip_prefix("READY ") {
                            p.port = port.trim().parse().ok();
                        } else if let Some(n) = line.strip_prefix("MESSAGE ") {
                            p.messages = n.trim().parse().unwrap_or(p.messages);
                        } else if let Some(why) = line.strip_prefix("UNAVAILABLE ") {
                            p.unavailable = Some(why.to_string());
                        }
                    });
                }
                progress.send_modify(|p| p.exited = true);
            });
        }
        let mut receiver = SmtpReceiver {
            dir,
            port: 0,
            certificate,
            child: Some(child),
            progress: watch_progress.clone(),
        };
        let started = tokio::time::timeout(WAIT_LIMIT, watch_progress.wait_for(|p| p.port.is_some() || p.exited))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|p| p.clone());
        match started {
            Some(Progress { port: Some(port), .. }) => {
                receiver.port = port;
                Ok(receiver)
            }
            Some(Progress {
                unavailable: Some(why), ..
            }) => Err(ServerError::Unavailable {
                server: SERVER,
                reason: format!("{PYTHON} cannot import aiosmtpd ({why}); install python3-aiosmtpd"),
            }),
            _ => Err(failed(SERVER, "it did not start".into(), receiver.log())),
        }
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The self-signed certificate's PEM, for a client to trust (TLS options only).
    pub fn certificate_pem(&self) -> Option<Vec<u8>> {
        self.certificate.as_ref().map(Certificate::pem)
    }

    pub fn certificate_path(&self) -> Option<&Path> {
        self.certificate.as_ref().map(|c| c.cert_pem.as_path())
    }

    /// What the receiver wrote to stderr (aiosmtpd's own log).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("receiver.log")).unwrap_or_default()
    }

    fn message_file(&self, n: usize, extension: &str) -> PathBuf {
        self.dir.path().join("received").join(format!("{n}.{extension}"))
    }

    /// Every message received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let count = self.progress.borrow().messages;
        (1..=count)
            .map(|n| {
                let meta: Value = std::fs::read(self.message_file(n, "json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_else(|| panic!("message {n}'s envelope is missing"));
                let text = |k: &str| meta[k].as_str().unwrap_or_default().to_string();
                ReceivedMail {
                    mail_from: text("mail_from"),
                    rcpt_to: meta["rcpt_tos"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default(),
                    auth_user: meta["auth_user"].as_str().map(str::to_string),
                    tls: meta["tls"].as_bool().unwrap_or(false),
                    helo: text("helo"),
                    raw: std::fs::read(self.message_file(n, "eml")).unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Wait until at least `n` messages have arrived (woken by the receiver's
    /// announcements, failing the test after 20 s); all received so far.
    pub async fn wait_for_messages(&self, n: usize) -> Vec<ReceivedMail> {
        let mut progress = self.progress.clone();
        let arrived = tokio::time::timeout(WAIT_LIMIT, progress.wait_for(|p| p.messages >= n || p.exited)).await;
        let count = self.progress.borrow().messages;
        if arrived.is_err() || count < n {
            panic!("waited for {n} message(s), got {count}; receiver log:\n{}", self.log());
        }
        self.received()
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal_group(child.id(), Signal::SIGTERM);
            let _ = child.wait();
        }
    }
}
