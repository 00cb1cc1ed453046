//! What the real-server harnesses ([`crate::dovecot`], [`crate::smtp`]) share:
//! the typed result for a server that is not installed, the
//! `FLOWPILOT_REQUIRE_SERVERS` switch, free ports, throwaway TLS certificates,
//! and stopping a child process politely.
//!
//! A test that needs a real server calls [`or_skip`] on the harness's result:
//! with the server missing it prints a skip line and gets `None`, unless
//! `FLOWPILOT_REQUIRE_SERVERS` is set (scripts/test.sh and CI set it), when it
//! fails. A server that is installed but fails to start always fails the test.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set (to anything) to make a missing server fail its tests instead of skipping them.
pub const REQUIRE_SERVERS: &str = "FLOWPILOT_REQUIRE_SERVERS";

/// Why a harness has no server for the test.
#[derive(Debug)]
pub enum ServerError {
    /// The server's program is not installed here (see scripts/deps.sh).
    Unavailable { server: &'static str, reason: String },
    /// It is installed but did not start, or a helper command failed; `log` is what it said.
    Failed {
        server: &'static str,
        reason: String,
        log: String,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Unavailable { server, reason } => write!(f, "{server} is not available: {reason}"),
            ServerError::Failed { server, reason, log } => {
                write!(f, "{server} failed: {reason}\n--- its log ---\n{log}")
            }
        }
    }
}

impl std::error::Error for ServerError {}

/// The server, or `None` after a skip line when it is not installed and not
/// required. Fails the test when it is required, or installed but broken.
pub fn or_skip<T>(started: Result<T, ServerError>) -> Option<T> {
    skip_unless_required(std::env::var_os(REQUIRE_SERVERS).is_some(), started)
}

fn skip_unless_required<T>(required: bool, started: Result<T, ServerError>) -> Option<T> {
    match started {
        Ok(server) => Some(server),
        Err(ServerError::Unavailable { server, reason }) if !required => {
            eprintln!(
                "skipping: {server} is not available ({reason}); run scripts/deps.sh, or set {REQUIRE_SERVERS}=1 to fail instead"
            );
            None
        }
        Err(e @ ServerError::Unavailable { .. }) => panic!("{REQUIRE_SERVERS} is set: {e}"),
        Err(e) => panic!("{e}"),
    }
}

/// A port on 127.0.0.1 nobody listens on right now, for a server that cannot
/// be told to pick its own (Dovecot). Another process could take it before
/// the server binds it; the harness then reports the bind error in its log.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The first of `candidates` that exists, else `name` found on `PATH`.
pub(crate) fn find_program(candidates: &[&str], name: &str) -> Option<PathBuf> {
    if let Some(found) = candidates.iter().map(PathBuf::from).find(|p| p.is_file()) {
        return Some(found);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, valid for a day,
/// made with the openssl CLI in `dir`. Clients trust it by its PEM as a root.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

impl Certificate {
    pub fn generate(dir: &Path, server: &'static str) -> Result<Certificate, ServerError> {
        let Some(openssl) = find_program(&["/usr/bin/openssl"], "openssl") else {
            return Err(ServerError::Unavailable {
                server,
                reason: "openssl (to make a throwaway TLS certificate) is not installed".into(),
            });
        };
        let cert_pem = dir.join("cert.pem");
        let key_pem = dir.join("key.pem");
        let output = Command::new(openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
            .arg("-keyout")
            .arg(&key_pem)
            .arg("-out")
            .arg(&cert_pem)
            .output()
            .map_err(|e| failed(server, format!("could not run openssl: {e}"), String::new()))?;
        if !output.status.success() {
            let log = String::from_utf8_lossy(&output.stderr).into_owned();
            return Err(failed(server, "openssl could not make a certificate".into(), log));
        }
        Ok(Certificate { cert_pem, key_pem })
    }

    /// The certificate as PEM, for a client to trust.
    pub fn pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert_pem).unwrap_or_default()
    }
}

pub(crate) fn failed(server: &'static str, reason: String, log: String) -> ServerError {
    ServerError::Failed { server, reason, log }
}

/// Send `signal` to the process group `leader` started (see
/// `CommandExt::process_group(0)`): the server and every process it forked,
/// including ones that outlive it (Dovecot's imap processes keep serving
/// their clients after the master is gone).
pub(crate) fn signal_group(leader: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(leader) {
        // The group may be gone already: nothing to do then.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// The effective user id of this process (0 when root), from /proc.
pub(crate) fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The (uid, gid) of system user `name`, from /etc/passwd.
pub(crate) fn system_user(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// The name of the user with id `uid`, from /etc/passwd.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(2) == Some(&uid.to_string().as_str())).then(|| fields[0].to_string())
    })
}

/// The name of the group with id `gid`, from /etc/group.
pub(crate) fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(2) == Some(&gid.to_string().as_str())).then(|| fields[0].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing() -> Result<(), ServerError> {
        Err(ServerError::Unavailable {
            server: "Dovecot",
            reason: "not installed".into(),
        })
    }

    #[test]
    fn a_missing_server_skips_unless_required_and_a_broken_one_always_fails() {
        assert_eq!(skip_unless_required(false, missing()), None);
        assert!(std::panic::catch_unwind(|| skip_unless_required(true, missing())).is_err());
        let broken = || {
            Err::<(), _>(ServerError::Failed {
                server: "Dovecot",
                reason: "bad config".into(),
                log: "Fatal: ...".into(),
            })
        };
        assert!(std::panic::catch_unwind(|| skip_unless_required(false, broken())).is_err());
        assert_eq!(skip_unless_required(true, Ok(7)), Some(7));
    }
}
