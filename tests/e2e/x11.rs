//! Just enough of the X11 protocol (over the display's Unix socket) to do what a
//! window manager does when a person clicks a window's close button: send
//! `WM_DELETE_WINDOW`, then see whether the window is still mapped.
//!
//! WebDriver's "close window" cannot stand in for it: WebKitWebDriver closes the
//! web view itself (the app never sees a close request) and, as that was the
//! last window, ends the session and kills the app.
//!
//! Xvfb as scripts/e2e.sh starts it has no window manager and no access control.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const ANY_PROPERTY_TYPE: u32 = 0;
const MAP_STATE_VIEWABLE: u8 = 2;

/// A top-level window of the display.
#[derive(Debug, Clone)]
pub struct Window {
    pub id: u32,
    pub pid: Option<u32>,
    pub title: String,
    pub mapped: bool,
    pub closable: bool,
}

pub struct Display {
    socket: UnixStream,
    root: u32,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// X11's error code for a window that does not exist (any more).
const BAD_WINDOW: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XError {
    /// The window went away between two requests (it was being destroyed).
    WindowGone(u32),
    Other(String),
}

impl std::fmt::Display for XError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WindowGone(id) => write!(f, "window {id:#x} is gone"),
            Self::Other(message) => f.write_str(message),
        }
    }
}

impl From<String> for XError {
    fn from(message: String) -> Self {
        Self::Other(message)
    }
}

type XResult<T> = Result<T, XError>;

impl Display {
    /// Connect to `$DISPLAY` (`:N` or `:N.S`, local socket only).
    pub fn open() -> XResult<Display> {
        let display = std::env::var("DISPLAY").map_err(|_| XError::Other("DISPLAY is not set".into()))?;
        let number = display
            .rsplit_once(':')
            .map(|(_, n)| n.split('.').next().unwrap_or(n))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("cannot read the display number from DISPLAY={display}"))?;
        let path = format!("/tmp/.X11-unix/X{number}");
        let mut socket = UnixStream::connect(&path).map_err(|e| format!("connect to {path}: {e}"))?;
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        // Little-endian, protocol 11.0, no authorisation.
        socket
            .write_all(&[b'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .map_err(|e| format!("X11 setup: {e}"))?;
        let mut head = [0u8; 8];
        socket.read_exact(&mut head).map_err(|e| format!("X11 setup: {e}"))?;
        let mut extra = vec![0u8; usize::from(u16_at(&head, 6)) * 4];
        socket.read_exact(&mut extra).map_err(|e| format!("X11 setup: {e}"))?;
        if head[0] != 1 {
            let reason = String::from_utf8_lossy(&extra[..usize::from(head[1]).min(extra.len())]).to_string();
            return Err(format!("the X server at {display} refused the connection: {reason}").into());
        }
        let vendor_len = usize::from(u16_at(&extra, 16));
        let formats = usize::from(extra[21]);
        let first_screen = 32 + vendor_len + pad4(vendor_len) + 8 * formats;
        let root = u32_at(&extra, first_screen);
        Ok(Display { socket, root })
    }

    fn send(&mut self, request: &[u8]) -> XResult<()> {
        Ok(self
            .socket
            .write_all(request)
            .map_err(|e| format!("X11 request: {e}"))?)
    }

    /// The next reply (header and the rest), skipping events; an X error fails.
    fn reply(&mut self) -> XResult<Vec<u8>> {
        loop {
            let mut packet = vec![0u8; 32];
            self.socket
                .read_exact(&mut packet)
                .map_err(|e| format!("X11 reply: {e}"))?;
            match packet[0] {
                0 if packet[1] == BAD_WINDOW => return Err(XError::WindowGone(u32_at(&packet, 4))),
                0 => return Err(format!("X11 error {} (resource {:#x})", packet[1], u32_at(&packet, 4)).into()),
                1 => {
                    let mut rest = vec![0u8; u32_at(&packet, 4) as usize * 4];
                    self.socket
                        .read_exact(&mut rest)
                        .map_err(|e| format!("X11 reply: {e}"))?;
                    packet.extend(rest);
                    return Ok(packet);
                }
                _ => continue,
            }
        }
    }

    fn request(&mut self, request: &[u8]) -> XResult<Vec<u8>> {
        self.send(request)?;
        self.reply()
    }

    fn atom(&mut self, name: &str) -> XResult<u32> {
        let n = name.len();
        let mut req = vec![16, 0];
        req.extend(
            u16::try_from((8 + n + pad4(n)) / 4)
                .map_err(|e| e.to_string())?
                .to_le_bytes(),
        );
        req.extend(u16::try_from(n).map_err(|e| e.to_string())?.to_le_bytes());
        req.extend([0, 0]);
        req.extend(name.as_bytes());
        req.extend(std::iter::repeat_n(0, pad4(n)));
        Ok(u32_at(&self.request(&req)?, 8))
    }

    fn children(&mut self, window: u32) -> XResult<Vec<u32>> {
        let mut req = vec![15, 0, 2, 0];
        req.extend(window.to_le_bytes());
        let reply = self.request(&req)?;
        let count = usize::from(u16_at(&reply, 16));
        Ok((0..count).map(|i| u32_at(&reply, 32 + 4 * i)).collect())
    }

    /// A property's raw bytes (empty when unset).
    fn property(&mut self, window: u32, property: u32) -> XResult<Vec<u8>> {
        let mut req = vec![20, 0, 6, 0];
        for word in [window, property, ANY_PROPERTY_TYPE, 0, 1024] {
            req.extend(word.to_le_bytes());
        }
        let reply = self.request(&req)?;
        let format = usize::from(reply[1]);
        let len = u32_at(&reply, 16) as usize * format / 8;
        Ok(reply[32..32 + len.min(reply.len() - 32)].to_vec())
    }

    fn mapped(&mut self, window: u32) -> XResult<bool> {
        let mut req = vec![3, 0, 2, 0];
        req.extend(window.to_le_bytes());
        Ok(self.request(&req)?[26] == MAP_STATE_VIEWABLE)
    }

    /// Every top-level window (no window manager: the root's children).
    pub fn windows(&mut self) -> XResult<Vec<Window>> {
        let pid_atom = self.atom("_NET_WM_PID")?;
        let name_atom = self.atom("_NET_WM_NAME")?;
        let protocols = self.atom("WM_PROTOCOLS")?;
        let delete = self.atom("WM_DELETE_WINDOW")?;
        let mut out = Vec::new();
        for id in self.children(self.root)? {
            let mut describe = || -> XResult<Window> {
                let pid = self.property(id, pid_atom)?;
                let title = self.property(id, name_atom)?;
                let supported = self.property(id, protocols)?;
                Ok(Window {
                    id,
                    pid: (pid.len() >= 4).then(|| u32_at(&pid, 0)),
                    title: String::from_utf8_lossy(&title).to_string(),
                    mapped: self.mapped(id)?,
                    closable: supported.chunks(4).any(|c| c.len() == 4 && u32_at(c, 0) == delete),
                })
            };
            match describe() {
                Ok(w) => out.push(w),
                // Destroyed while we looked: it is not a window any more.
                Err(XError::WindowGone(gone)) if gone == id => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The mapped windows of process `pid` that accept a close request.
    pub fn app_windows(&mut self, pid: u32) -> XResult<Vec<Window>> {
        Ok(self
            .windows()?
            .into_iter()
            .filter(|w| w.pid == Some(pid) && w.mapped && w.closable)
            .collect())
    }

    /// Ask `window` to close, as a window manager does (`WM_DELETE_WINDOW`).
    pub fn request_close(&mut self, window: u32) -> XResult<()> {
        let protocols = self.atom("WM_PROTOCOLS")?;
        let delete = self.atom("WM_DELETE_WINDOW")?;
        // SendEvent, no propagation, to the window's owner (empty event mask).
        let mut req = vec![25, 0, 11, 0];
        req.extend(window.to_le_bytes());
        req.extend(0u32.to_le_bytes());
        // ClientMessage, format 32: [WM_DELETE_WINDOW, CurrentTime, 0, 0, 0].
        req.extend([33, 32, 0, 0]);
        req.extend(window.to_le_bytes());
        req.extend(protocols.to_le_bytes());
        for word in [delete, 0, 0, 0, 0] {
            req.extend(word.to_le_bytes());
        }
        self.send(&req)?;
        // A round trip (GetInputFocus), so an error in SendEvent shows up here.
        self.request(&[43, 0, 1, 0]).map(drop)
    }
}
