//! A tiny IMAP4rev1 client over plain TCP (RFC 3501, <https://www.rfc-editor.org/rfc/rfc3501>),
//! for tests that look at a [`crate::dovecot::Dovecot`] from the outside:
//! tagged commands, untagged answers with their literals read whole, SELECT's
//! counters, UID FETCH of a body, and IDLE (RFC 2177). Not a product client:
//! it trusts the server and fails the test on anything unexpected.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long any one answer may take before the test fails.
const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// One untagged answer: its text, with each literal's bytes set aside in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapLine {
    pub text: String,
    pub literals: Vec<Vec<u8>>,
}

/// What SELECT reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    pub exists: u32,
    pub uidvalidity: u32,
    pub uidnext: u32,
}

#[derive(Debug)]
pub struct ImapConnection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    tag: u32,
    /// The server's greeting line.
    pub greeting: String,
}

fn protocol_error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl ImapConnection {
    pub async fn connect(port: u16) -> io::Result<ImapConnection> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let (read, writer) = stream.into_split();
        let mut connection = ImapConnection {
            reader: BufReader::new(read),
            writer,
            tag: 0,
            greeting: String::new(),
        };
        connection.greeting = connection.read_line().await?.text;
        Ok(connection)
    }

    /// Read one response line, with any literals (`{n}` then n bytes) it carries.
    pub async fn read_line(&mut self) -> io::Result<ImapLine> {
        let mut line = ImapLine {
            text: String::new(),
            literals: Vec::new(),
        };
        loop {
            let mut raw = Vec::new();
            let read = tokio::time::timeout(ANSWER_LIMIT, self.reader.read_until(b'\n', &mut raw)).await;
            match read {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the IMAP server",
                    ));
                }
                Ok(Ok(0)) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the IMAP server hung up")),
                Ok(r) => r?,
            };
            let text = String::from_utf8_lossy(&raw).trim_end_matches(['\r', '\n']).to_string();
            line.text.push_str(&text);
            let literal = text
                .strip_suffix('}')
                .and_then(|t| t.rsplit_once('{'))
                .and_then(|(_, n)| n.trim_end_matches('+').parse::<usize>().ok());
            let Some(size) = literal else { return Ok(line) };
            let mut bytes = vec![0; size];
            tokio::time::timeout(ANSWER_LIMIT, self.reader.read_exact(&mut bytes))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "literal did not arrive"))??;
            line.literals.push(bytes);
        }
    }

    /// Send `command` with a fresh tag; the untagged answers, once the tagged one says OK.
    pub async fn command(&mut self, command: &str) -> io::Result<Vec<ImapLine>> {
        self.tag += 1;
        let tag = format!("A{}", self.tag);
        self.writer.write_all(format!("{tag} {command}\r\n").as_bytes()).await?;
        let mut untagged = Vec::new();
        loop {
            let line = self.read_line().await?;
            if let Some(status) = line.text.strip_prefix(&format!("{tag} ")) {
                if status.starts_with("OK") {
                    return Ok(untagged);
                }
                return Err(protocol_error(format!("{command} -> {status}")));
            }
            untagged.push(line);
        }
    }

    pub async fn login(&mut self, user: &str, password: &str) -> io::Result<()> {
        self.command(&format!("LOGIN \"{user}\" \"{password}\""))
            .await
            .map(drop)
    }

    pub async fn select(&mut self, mailbox: &str) -> io::Result<Selected> {
        let lines = self.command(&format!("SELECT \"{mailbox}\"")).await?;
        let mut selected = Selected {
            exists: 0,
            uidvalidity: 0,
            uidnext: 0,
        };
        for line in &lines {
            let words: Vec<&str> = line.text.split_whitespace().collect();
            if words.get(2) == Some(&"EXISTS") {
                selected.exists = words[1].parse().unwrap_or_default();
            }
            let number_after = |key: &str| {
                let at = line.text.find(key)? + key.len();
                line.text[at..]
                    .trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            };
            if let Some(v) = number_after("[UIDVALIDITY") {
                selected.uidvalidity = v;
            }
            if let Some(v) = number_after("[UIDNEXT") {
                selected.uidnext = v;
            }
        }
        Ok(selected)
    }

    /// The whole message with this UID, read with BODY.PEEK (so \Seen is not set).
    pub async fn fetch_body(&mut self, uid: u32) -> io::Result<Vec<u8>> {
        let lines = self.command(&format!("UID FETCH {uid} BODY.PEEK[]")).await?;
        lines
            .into_iter()
            .find_map(|l| l.literals.into_iter().next())
            .ok_or_else(|| protocol_error(format!("no message with UID {uid}")))
    }

    /// Start IDLE; returns once the server says it is idling.
    pub async fn idle(&mut self) -> io::Result<()> {
        self.tag += 1;
        self.writer
            .write_all(format!("A{} IDLE\r\n", self.tag).as_bytes())
            .await?;
        let line = self.read_line().await?;
        if line.text.starts_with('+') {
            Ok(())
        } else {
            Err(protocol_error(format!("IDLE refused: {}", line.text)))
        }
    }

    /// While idling: read answers until one satisfies `wanted` (e.g. `* 4 EXISTS`).
    pub async fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> io::Result<String> {
        loop {
            let line = self.read_line().await?;
            if wanted(&line.text) {
                return Ok(line.text);
            }
        }
    }

    /// End IDLE and wait for its tagged OK.
    pub async fn done(&mut self) -> io::Result<()> {
        self.writer.write_all(b"DONE\r\n").await?;
        let tag = format!("A{} ", self.tag);
        loop {
            let line = self.read_line().await?;
            if let Some(status) = line.text.strip_prefix(&tag) {
                return if status.starts_with("OK") {
                    Ok(())
                } else {
                    Err(protocol_error(format!("IDLE ended with {status}")))
                };
            }
        }
    }
}
