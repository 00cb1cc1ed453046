//! A minimal W3C WebDriver client: blocking HTTP/1.1 over a `TcpStream` to
//! tauri-driver on 127.0.0.1. No dependency of its own, so the e2e target adds
//! nothing to the workspace's build (and changes no shared crate's features).
//!
//! Only what the scenarios use: sessions, finding elements by CSS, clicking,
//! typing, reading text/attributes/properties, scripts, screenshots.

use serde_json::{Value, json};
use std::fmt;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver command may take (a session start launches the app;
/// a script may await a command of the app).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// A WebDriver error: the HTTP status and the W3C `error` code and message.
#[derive(Debug, Clone)]
pub struct WdError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

impl WdError {
    fn transport(message: String) -> WdError {
        WdError {
            status: 0,
            error: "transport".into(),
            message,
        }
    }

    /// Errors that mean "the DOM is moving, try again" while waiting.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.error.as_str(),
            "no such element"
                | "stale element reference"
                | "element not interactable"
                | "element click intercepted"
                | "invalid element state"
        )
    }
}

impl fmt::Display for WdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebDriver {}: {} {}", self.status, self.error, self.message)
    }
}

pub type WdResult<T> = Result<T, WdError>;

/// One HTTP exchange with the driver at `addr` (`host:port`).
fn exchange(addr: &str, method: &str, path: &str, body: Option<&Value>) -> WdResult<(u16, Vec<u8>)> {
    let io = |e: std::io::Error| WdError::transport(format!("{method} {path} to {addr}: {e}"));
    let mut stream = TcpStream::connect(addr).map_err(io)?;
    stream.set_read_timeout(Some(COMMAND_TIMEOUT)).map_err(io)?;
    let payload = match (method, body) {
        (_, Some(b)) => b.to_string(),
        ("POST", None) => "{}".to_string(),
        _ => String::new(),
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(payload.as_bytes()).map_err(io)?;
    let raw = read_response(&mut stream).map_err(io)?;
    if raw.is_empty() {
        return Err(WdError {
            status: 0,
            error: "no answer".into(),
            message: format!("{method} {path}: the driver closed the connection without a response"),
        });
    }
    parse_response(&raw).map_err(|e| WdError::transport(format!("{method} {path}: {e}")))
}

/// Read one response: up to the end of its body (by `Content-Length`, or the
/// last chunk), or to the end of the connection.
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let body = raw.len() - split - 4;
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let complete = match length {
            Some(len) => body >= len,
            None if head.contains("transfer-encoding: chunked") => raw.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            return Ok(raw);
        }
    }
}

/// Status and body of an HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no HTTP header in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body)?;
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.truncate(len);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk header")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
}

/// How often a command is sent again after tauri-driver dropped it (see [`command`]).
const DROPPED_RETRIES: u32 = 4;

/// A W3C command: the response's `value`, or the W3C error it carries.
///
/// Now and then tauri-driver's proxy loses a command on its way to
/// WebKitWebDriver ("connection reset by peer" in its log) and closes our
/// connection with no answer at all. Such a command never reached the browser,
/// so it is sent again.
fn command(addr: &str, method: &str, path: &str, body: Option<&Value>) -> WdResult<Value> {
    let mut attempt = 0;
    let (status, bytes) = loop {
        match exchange(addr, method, path, body) {
            Err(e) if e.error == "no answer" && attempt < DROPPED_RETRIES => {
                attempt += 1;
                eprintln!("webdriver: {method} {path} got no answer; sending it again ({attempt})");
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
            }
            other => break other?,
        }
    };
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| WdError {
        status,
        error: "bad response".into(),
        message: format!("{e}: {}", String::from_utf8_lossy(&bytes)),
    })?;
    let value = json.get("value").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(value);
    }
    Err(WdError {
        status,
        error: value["error"].as_str().unwrap_or("unknown error").to_string(),
        message: value["message"].as_str().unwrap_or("").to_string(),
    })
}

/// An element reference, valid in its session until the DOM node goes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(String);

impl Element {
    fn from_value(v: &Value) -> Option<Element> {
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(|s| Element(s.to_string()))
    }

    /// The element as a script argument.
    pub fn to_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.0 })
    }
}

/// A WebDriver session (one app process under tauri-driver).
#[derive(Debug)]
pub struct Session {
    addr: String,
    id: String,
}

impl Session {
    /// Start a session; `capabilities` goes in `alwaysMatch`.
    pub fn start(addr: &str, capabilities: Value) -> WdResult<Session> {
        let value = command(
            addr,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": capabilities}})),
        )?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| WdError::transport(format!("no sessionId in {value}")))?
            .to_string();
        Ok(Session {
            addr: addr.to_string(),
            id,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        command(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.id),
            body.as_ref(),
        )
    }

    /// End the session (tauri-driver's WebKitWebDriver stops the app).
    pub fn delete(&self) -> WdResult<()> {
        self.cmd("DELETE", "", None).map(drop)
    }

    pub fn find(&self, css: &str) -> WdResult<Element> {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})))?;
        Element::from_value(&v).ok_or_else(|| WdError::transport(format!("no element reference in {v}")))
    }

    pub fn find_all(&self, css: &str) -> WdResult<Vec<Element>> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(Element::from_value)
            .collect())
    }

    pub fn click(&self, el: &Element) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/click", el.0), None).map(drop)
    }

    pub fn clear(&self, el: &Element) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/clear", el.0), None).map(drop)
    }

    /// Type `text` into the element (for `<input type=file>`: an absolute path).
    pub fn send_keys(&self, el: &Element, text: &str) -> WdResult<()> {
        self.cmd("POST", &format!("/element/{}/value", el.0), Some(json!({"text": text})))
            .map(drop)
    }

    pub fn text(&self, el: &Element) -> WdResult<String> {
        let v = self.cmd("GET", &format!("/element/{}/text", el.0), None)?;
        Ok(v.as_str().unwrap_or("").to_string())
    }

    pub fn attribute(&self, el: &Element, name: &str) -> WdResult<Option<String>> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)?;
        Ok(v.as_str().map(str::to_string))
    }

    pub fn property(&self, el: &Element, name: &str) -> WdResult<Value> {
        self.cmd("GET", &format!("/element/{}/property/{name}", el.0), None)
    }

    pub fn displayed(&self, el: &Element) -> WdResult<bool> {
        let v = self.cmd("GET", &format!("/element/{}/displayed", el.0), None)?;
        Ok(v.as_bool().unwrap_or(false))
    }

    /// Run a script body (`arguments[i]` are `args`); a returned Promise is awaited.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// The page's HTML as the DOM has it now.
    pub fn source(&self) -> WdResult<String> {
        Ok(self.cmd("GET", "/source", None)?.as_str().unwrap_or("").to_string())
    }

    /// A PNG of the page.
    pub fn screenshot(&self) -> WdResult<Vec<u8>> {
        let v = self.cmd("GET", "/screenshot", None)?;
        base64_decode(v.as_str().unwrap_or("")).map_err(WdError::transport)
    }
}

/// Standard base64 (screenshots), ignoring whitespace.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= sextet(c).ok_or_else(|| format!("not base64: {:?}", c as char))? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGk=\n").unwrap(), b"hi");
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (200, b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (404, b"{\"a\":1}".to_vec()));
    }
}
