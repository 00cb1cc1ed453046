//! A real Dovecot IMAP server (Debian's `dovecot-imapd`, configured as
//! <https://doc.dovecot.org/2.3/configuration_manual/> describes) started by the
//! test as its child: on 127.0.0.1 at a free port, plaintext, and with
//! [`DovecotOptions::tls`] also implicit TLS on a second port and STARTTLS on
//! the first, with a throwaway self-signed certificate. One user from a
//! passwd-file ([`IMAP_USER`] / [`IMAP_PASSWORD`]), a maildir in a temp dir,
//! its own `base_dir`; stopped (SIGTERM) and its files removed on drop.
//!
//! Running as root (as CI does) Dovecot keeps its users: logins run as
//! `dovenull`, mail belongs to `dovecot` (`first_valid_uid = 1`), and
//! `imap-login` / `anvil` have no chroot since `base_dir` is a temp dir. As
//! another user every process runs as that user.
//!
//! Helpers deliver mail (into the maildir's `new/`, as an MTA does, or with
//! `doveadm save` into any mailbox), change a mailbox's UIDVALIDITY, stop and
//! restart the server on the same port, and read a message's flags.

use crate::servers::{
    Certificate, ServerError, effective_uid, failed, find_program, free_port, group_name, or_skip, signal_group,
    system_user, user_name,
};
use nix::sys::signal::Signal;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub const IMAP_USER: &str = "ada";
pub const IMAP_PASSWORD: &str = "imap-test-password";
const SERVER: &str = "Dovecot";
const START_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Default)]
pub struct DovecotOptions {
    /// Also serve implicit TLS on [`Dovecot::tls_port`] and STARTTLS on [`Dovecot::port`].
    pub tls: bool,
    /// More users besides [`IMAP_USER`], as (name, password).
    pub extra_users: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Ready,
    Exited,
}

/// A running Dovecot.
#[derive(Debug)]
pub struct Dovecot {
    dir: tempfile::TempDir,
    config: PathBuf,
    dovecot: PathBuf,
    doveadm: PathBuf,
    port: u16,
    tls_port: Option<u16>,
    certificate: Option<Certificate>,
    /// The (uid, gid) mail is stored as: `dovecot` when running as root, else this process's user.
    mail_owner: (u32, u32),
    /// Whether delivered files must be handed to `mail_owner` (when running as root).
    chown: bool,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    deliveries: AtomicU64,
}

impl Dovecot {
    /// Plaintext IMAP with one user.
    pub async fn start() -> Result<Dovecot, ServerError> {
        Self::start_with(DovecotOptions::default()).await
    }

    /// [`Dovecot::start`], or `None` with a skip line when Dovecot is not installed (see [`or_skip`]).
    pub async fn start_or_skip() -> Option<Dovecot> {
        or_skip(Self::start().await)
    }

    pub async fn start_with(options: DovecotOptions) -> Result<Dovecot, ServerError> {
        let unavailable = |reason: &str| ServerError::Unavailable {
            server: SERVER,
            reason: reason.into(),
        };
        let dovecot = find_program(&["/usr/sbin/dovecot"], "dovecot")
            .ok_or_else(|| unavailable("no dovecot program (Debian package dovecot-imapd)"))?;
        let doveadm =
            find_program(&["/usr/bin/doveadm"], "doveadm").ok_or_else(|| unavailable("no doveadm program"))?;
        let io = |e: std::io::Error| failed(SERVER, format!("preparing its files: {e}"), String::new());
        let dir = tempfile::Builder::new()
            .prefix("flowpilot-dovecot-")
            .tempdir()
            .map_err(io)?;
        // Its processes run as other users and must reach the maildir and the passwd-file.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        let root = effective_uid() == Some(0);
        let (login_user, internal_user, mail_owner) = if root {
            let owner = system_user("dovecot").ok_or_else(|| unavailable("no `dovecot` system user"))?;
            system_user("dovenull").ok_or_else(|| unavailable("no `dovenull` system user"))?;
            ("dovenull".to_string(), "dovecot".to_string(), owner)
        } else {
            let uid = effective_uid().unwrap_or_default();
            let name = user_name(uid).ok_or_else(|| unavailable("this user is not in /etc/passwd"))?;
            let owner = system_user(&name).ok_or_else(|| unavailable("this user is not in /etc/passwd"))?;
            (name.clone(), name, owner)
        };
        let certificate = if options.tls {
            Some(Certificate::generate(dir.path(), SERVER)?)
        } else {
            None
        };
        let mut users = vec![(IMAP_USER.to_string(), IMAP_PASSWORD.to_string())];
        users.extend(options.extra_users);
        let passwd: String = users.iter().map(|(u, p)| format!("{u}:{{PLAIN}}{p}::::::\n")).collect();
        std::fs::write(dir.path().join("passwd"), passwd).map_err(io)?;
        for (user, _) in &users {
            for sub in ["cur", "new", "tmp"] {
                std::fs::create_dir_all(dir.path().join("mail").join(user).join("Maildir").join(sub)).map_err(io)?;
            }
        }
        if root {
            chown_tree(&dir.path().join("mail"), mail_owner).map_err(io)?;
        }

        let mut server = Dovecot {
            config: dir.path().join("dovecot.conf"),
            dir,
            dovecot,
            doveadm,
            port: 0,
            tls_port: None,
            certificate,
            mail_owner,
            chown: root,
            child: None,
            log: Arc::new(Mutex::new(String::new())),
            deliveries: AtomicU64::new(0),
        };
        // A free port can be taken before Dovecot binds it: try a few.
        let mut last = None;
        for _ in 0..3 {
            server.port = free_port().map_err(io)?;
            server.tls_port = if options.tls {
                Some(free_port().map_err(io)?)
            } else {
                None
            };
            let config = server.config_text(&login_user, &internal_user);
            std::fs::write(&server.config, config).map_err(io)?;
            match server.spawn().await {
                Ok(()) => return Ok(server),
                Err(e) if server.log().contains("Address already in use") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| failed(SERVER, "could not bind a port".into(), String::new())))
    }

    fn config_text(&self, login_user: &str, internal_user: &str) -> String {
        let dir = self.dir.path().display();
        let (uid, gid) = self.mail_owner;
        // Not root: the services' sockets belong to this user's group, not `dovecot`.
        let internal_group = match (self.chown, group_name(gid)) {
            (false, Some(group)) => format!("default_internal_group = {group}\n"),
            _ => String::new(),
        };
        let ssl = match &self.certificate {
            Some(c) => format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                c.cert_pem.display(),
                c.key_pem.display()
            ),
            None => "ssl = no\n".into(),
        };
        let tls_listener = match self.tls_port {
            Some(port) => {
                format!("  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {port}\n    ssl = yes\n  }}\n")
            }
            None => "  inet_listener imaps {\n    port = 0\n  }\n".into(),
        };
        format!(
            "# A throwaway Dovecot for one test; see tests/support/dovecot.rs.
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = flowpilot-test-{port}
protocols = imap
log_path = /dev/stderr
info_log_path = /dev/stderr
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
{internal_group}first_valid_uid = 1
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
{ssl}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
{tls_listener}}}
service anvil {{
  chroot =
}}
",
            port = self.port
        )
    }

    /// Start the server process and wait until it says it is up (its log, read
    /// from its stderr as it comes: no polling).
    async fn spawn(&mut self) -> Result<(), ServerError> {
        let mut child = Command::new(&self.dovecot)
            .arg("-F")
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so stopping it reaches every process it forked.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                failed(
                    SERVER,
                    format!("could not run {}: {e}", self.dovecot.display()),
                    String::new(),
                )
            })?;
        let (phase, mut watch_phase) = watch::channel(Phase::Starting);
        if let Some(stderr) = child.stderr.take() {
            let log = self.log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let up = line.contains("starting up");
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                    drop(log);
                    if up {
                        phase.send_replace(Phase::Ready);
                    }
                }
                phase.send_replace(Phase::Exited);
            });
        }
        self.child = Some(child);
        let ready = match tokio::time::timeout(START_LIMIT, watch_phase.wait_for(|p| *p != Phase::Starting)).await {
            Ok(Ok(phase)) => *phase == Phase::Ready,
            _ => false,
        };
        if ready {
            return Ok(());
        }
        self.stop_process().await;
        Err(failed(SERVER, "it did not start".into(), self.log()))
    }

    /// SIGTERM to the whole group, wait for the master, then SIGKILL whatever is left:
    /// open sessions end as they do when a server goes away.
    async fn stop_process(&mut self) {
        if let Some(mut child) = self.child.take() {
            let id = child.id();
            signal_group(id, Signal::SIGTERM);
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
            signal_group(id, Signal::SIGKILL);
        }
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// Plain IMAP (with STARTTLS offered when started with TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Implicit TLS, when started with [`DovecotOptions::tls`].
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// The self-signed certificate's PEM, for a client to trust.
    pub fn certificate_pem(&self) -> Option<Vec<u8>> {
        self.certificate.as_ref().map(Certificate::pem)
    }

    pub fn certificate_path(&self) -> Option<&Path> {
        self.certificate.as_ref().map(|c| c.cert_pem.as_path())
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Server down: stop it (its clients are disconnected, the port refuses connections).
    pub async fn stop(&mut self) {
        self.stop_process().await;
    }

    /// Server back: start it again on the same port(s), with the same mail.
    pub async fn restart(&mut self) -> Result<(), ServerError> {
        self.stop_process().await;
        self.spawn().await
    }

    /// Deliver `raw` (RFC 5322 bytes) into `user`'s INBOX as an MTA does: a
    /// uniquely named file written in `tmp/` and renamed into `new/`. File
    /// names order as deliveries do, so UIDs follow delivery order.
    pub fn deliver_to_user(&self, user: &str, raw: &[u8]) {
        let n = self.deliveries.fetch_add(1, Ordering::Relaxed);
        let now = chrono::Utc::now().timestamp();
        let name = format!(
            "{now}.M{n:06}P{}Q{n}.flowpilot-test,S={}",
            std::process::id(),
            raw.len()
        );
        let maildir = self.dir.path().join("mail").join(user).join("Maildir");
        let tmp = maildir.join("tmp").join(&name);
        let delivered = (|| {
            std::fs::write(&tmp, raw)?;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            if self.chown {
                let (uid, gid) = self.mail_owner;
                std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))?;
            }
            std::fs::rename(&tmp, maildir.join("new").join(&name))
        })();
        if let Err(e) = delivered {
            panic!("could not deliver mail into {}: {e}", maildir.display());
        }
    }

    /// [`Dovecot::deliver_to_user`] for [`IMAP_USER`].
    pub fn deliver(&self, raw: &[u8]) {
        self.deliver_to_user(IMAP_USER, raw);
    }

    /// Deliver `count` mails, the `i`-th (from 0) built by `mail(i)`.
    pub fn deliver_many(&self, count: usize, mail: impl Fn(usize) -> Vec<u8>) {
        for i in 0..count {
            self.deliver(&mail(i));
        }
    }

    /// Run `doveadm` on this server's configuration; its standard output.
    /// Fails the test (with the server's log) when doveadm fails.
    pub async fn doveadm(&self, args: &[&str]) -> String {
        let output = tokio::process::Command::new(&self.doveadm)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .await
            .unwrap_or_else(|e| panic!("could not run doveadm: {e}"));
        if !output.status.success() {
            panic!(
                "doveadm {args:?} failed: {}\n--- Dovecot's log ---\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.log()
            );
        }
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Store `raw` into `mailbox` of [`IMAP_USER`] with `doveadm save` (it gets its UID at once).
    pub async fn save_to(&self, mailbox: &str, raw: &[u8]) {
        let mut child = tokio::process::Command::new(&self.doveadm)
            .arg("-c")
            .arg(&self.config)
            .args(["save", "-u", IMAP_USER, "-m", mailbox])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run doveadm save: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            use tokio::io::AsyncWriteExt;
            stdin
                .write_all(raw)
                .await
                .unwrap_or_else(|e| panic!("doveadm save stdin: {e}"));
        }
        let status = child.wait().await.unwrap_or_else(|e| panic!("doveadm save: {e}"));
        assert!(
            status.success(),
            "doveadm save into {mailbox} failed; log:\n{}",
            self.log()
        );
    }

    async fn status(&self, mailbox: &str, field: &str) -> u32 {
        let out = self
            .doveadm(&["mailbox", "status", "-u", IMAP_USER, field, mailbox])
            .await;
        let key = format!("{field}=");
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in doveadm's answer: {out}"))
    }

    pub async fn uidvalidity(&self, mailbox: &str) -> u32 {
        self.status(mailbox, "uidvalidity").await
    }

    pub async fn message_count(&self, mailbox: &str) -> u32 {
        self.status(mailbox, "messages").await
    }

    pub async fn create_mailbox(&self, mailbox: &str) {
        self.doveadm(&["mailbox", "create", "-u", IMAP_USER, mailbox]).await;
    }

    /// Give `mailbox` (INBOX too) a new UIDVALIDITY, as a server does after
    /// rebuilding its indexes; returns the new value.
    pub async fn change_uidvalidity(&self, mailbox: &str) -> u32 {
        let new = self.uidvalidity(mailbox).await + 1;
        let value = new.to_string();
        self.doveadm(&["mailbox", "update", "-u", IMAP_USER, "--uid-validity", &value, mailbox])
            .await;
        new
    }

    /// Delete `mailbox` (not INBOX) with its mail and create it again: a new
    /// UIDVALIDITY, as after a user recreates a folder. Returns it.
    pub async fn recreate_mailbox(&self, mailbox: &str) -> u32 {
        self.doveadm(&["mailbox", "delete", "-u", IMAP_USER, mailbox]).await;
        self.create_mailbox(mailbox).await;
        self.uidvalidity(mailbox).await
    }

    /// The flags of message `uid` in `mailbox` (e.g. `\Seen`), as Dovecot stores them.
    pub async fn flags(&self, mailbox: &str, uid: u32) -> Vec<String> {
        let uid = uid.to_string();
        let out = self
            .doveadm(&["fetch", "-u", IMAP_USER, "flags", "mailbox", mailbox, "uid", &uid])
            .await;
        out.lines()
            .filter_map(|l| l.strip_prefix("flags:"))
            .flat_map(|f| f.split_whitespace().map(str::to_string))
            .collect()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let id = child.id();
            signal_group(id, Signal::SIGTERM);
            // Wait, so no process of it outlives the temp dir.
            let _ = child.wait();
            signal_group(id, Signal::SIGKILL);
        }
    }
}

fn chown_tree(path: &Path, (uid, gid): (u32, u32)) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), (uid, gid))?;
        }
    }
    Ok(())
}
