//! IMAP connections for the email trigger (async-imap on tokio): implicit TLS,
//! STARTTLS or, to this computer only, plain; the login; and IDLE on a
//! connection of its own that signals new mail (re-issued before the 29
//! minutes servers allow, rebuilt after an error or a wake-up).

use super::source::SourceError;
use flowpilot_engine::plan::{EmailTrigger, MailSecurity, is_loopback_host};
use futures_util::TryStreamExt;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A byte stream IMAP can run over: plain TCP or TLS.
pub trait ImapIo: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapIo for T {}

pub type Session = async_imap::Session<Box<dyn ImapIo>>;

/// How long connecting and logging in may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// How long one command may take.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);
/// IDLE is re-issued this often (RFC 2177 asks for less than 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

fn err(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::new(format!("{what}: {e}"))
}

/// TLS with the system's trusted roots (and `SSL_CERT_FILE`, where set).
pub fn tls_connector() -> Result<tokio_rustls::TlsConnector, SourceError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| err("TLS cannot be set up", e))?
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn tls(host: &str, tcp: TcpStream) -> Result<Box<dyn ImapIo>, SourceError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| err(&format!("`{host}` cannot be checked by TLS"), e))?;
    let stream = tls_connector()?.connect(name, tcp).await.map_err(|e| {
        err(
            &format!("the TLS handshake with {host} failed (check `security` and the port)"),
            e,
        )
    })?;
    Ok(Box::new(stream))
}

async fn greeting(client: &mut async_imap::Client<impl ImapIo + 'static>, host: &str) -> Result<(), SourceError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(SourceError::new(format!(
            "{host} closed the connection before greeting"
        ))),
        Err(e) => Err(err(&format!("{host} did not greet"), e)),
    }
}

/// Connect and log in; the session and whether the server offers IDLE.
pub async fn connect(t: &EmailTrigger, password: &str) -> Result<(Session, bool), SourceError> {
    tokio::time::timeout(CONNECT_LIMIT, connect_inner(t, password))
        .await
        .map_err(|_| SourceError::new(format!("{}:{} did not answer in time", t.host, t.port())))?
}

async fn connect_inner(t: &EmailTrigger, password: &str) -> Result<(Session, bool), SourceError> {
    let host = t.host.trim();
    let port = t.port();
    let tcp = TcpStream::connect((host, port)).await.map_err(|e| {
        err(
            &format!("cannot connect to {host}:{port} (check the host, the port and the network)"),
            e,
        )
    })?;
    let mut client = match t.security {
        MailSecurity::Tls => {
            let mut client = async_imap::Client::new(tls(host, tcp).await?);
            greeting(&mut client, host).await?;
            client
        }
        MailSecurity::Starttls => {
            let mut plain = async_imap::Client::new(tcp);
            greeting(&mut plain, host).await?;
            plain
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| err(&format!("{host} refused STARTTLS (try `tls` on port 993)"), e))?;
            async_imap::Client::new(tls(host, plain.into_inner()).await?)
        }
        MailSecurity::None => {
            if !is_loopback_host(host) {
                return Err(SourceError::new(format!(
                    "`security: none` would send the password unencrypted to {host}; use `tls` or `starttls`"
                )));
            }
            let boxed: Box<dyn ImapIo> = Box::new(tcp);
            let mut client = async_imap::Client::new(boxed);
            greeting(&mut client, host).await?;
            client
        }
    };
    // The greeting's capabilities are not trusted before login; ask after.
    let _ = &mut client;
    let mut session = client.login(&t.username, password).await.map_err(|(e, _)| {
        SourceError::new(format!(
            "{host} did not accept the login of {} ({e}); check the password (Gmail and Outlook need an app password)",
            t.username
        ))
    })?;
    let idle = session.capabilities().await.map(|c| c.has_str("IDLE")).unwrap_or(false);
    Ok((session, idle))
}

/// Run a command with a time limit.
pub async fn within<T>(
    what: &str,
    f: impl std::future::Future<Output = async_imap::error::Result<T>>,
) -> Result<T, SourceError> {
    match tokio::time::timeout(COMMAND_LIMIT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(what, e)),
        Err(_) => Err(SourceError::new(format!("{what}: the server did not answer in time"))),
    }
}

/// UIDs (ascending) of the messages with a UID of at least `from`.
pub async fn uids_from(session: &mut Session, from: u32) -> Result<Vec<u32>, SourceError> {
    let found = within("UID SEARCH", session.uid_search(format!("UID {from}:*"))).await?;
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u >= from).collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Fetch `uids` with their flags and the whole message, without marking them read.
pub async fn fetch(session: &mut Session, uids: &[u32]) -> Result<Vec<(u32, bool, Vec<u8>)>, SourceError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let stream = within("UID FETCH", session.uid_fetch(set, "(UID FLAGS BODY.PEEK[])")).await?;
    let fetched: Vec<_> = tokio::time::timeout(COMMAND_LIMIT, stream.try_collect::<Vec<_>>())
        .await
        .map_err(|_| SourceError::new("UID FETCH: the server did not answer in time"))?
        .map_err(|e| err("UID FETCH", e))?;
    let mut out: Vec<(u32, bool, Vec<u8>)> = fetched
        .iter()
        .filter_map(|f| {
            let uid = f.uid?;
            let seen = f.flags().any(|flag| matches!(flag, async_imap::types::Flag::Seen));
            Some((uid, seen, f.body().unwrap_or_default().to_vec()))
        })
        .collect();
    out.sort_by_key(|(uid, _, _)| *uid);
    Ok(out)
}

/// Mark `uids` read.
pub async fn mark_read(session: &mut Session, uids: &[u32]) -> Result<(), SourceError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let stream = within("UID STORE", session.uid_store(set, "+FLAGS.SILENT (\\Seen)")).await?;
    tokio::time::timeout(COMMAND_LIMIT, stream.try_collect::<Vec<_>>())
        .await
        .map_err(|_| SourceError::new("UID STORE: the server did not answer in time"))?
        .map_err(|e| err("UID STORE", e))?;
    Ok(())
}

/// Watch `t`'s mailbox with IDLE on a connection of its own; `news` is
/// notified when the server reports a change. Reconnects (with backoff) after
/// an error, and when `reconnect` is notified (a wake-up). Returns when
/// cancelled, or at once when the server has no IDLE (the checks carry on).
pub async fn idle_loop(
    t: EmailTrigger,
    password: impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>> + Send,
    news: Arc<Notify>,
    reconnect: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut failures: u32 = 0;
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = reconnect.notified() => Ok(true),
            r = idle_once(&t, &password, &news) => r,
        };
        match outcome {
            Ok(true) => failures = 0,
            Ok(false) => return, // no IDLE here
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::debug!(host = %t.host, "IDLE connection lost: {}", e.message);
                let wait = super::watch::backoff(failures, None);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = reconnect.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// One IDLE connection until it breaks: `Ok(false)` when the server has no IDLE.
async fn idle_once(
    t: &EmailTrigger,
    password: &(impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send>> + Send),
    news: &Notify,
) -> Result<bool, SourceError> {
    let Some(password) = password().await else {
        return Err(SourceError::new("no password"));
    };
    let (mut session, has_idle) = connect(t, &password).await?;
    if !has_idle {
        let _ = session.logout().await;
        return Ok(false);
    }
    within("SELECT", session.select(&t.mailbox)).await?;
    // Mail that came while this connection was being made (or lost) is looked for now.
    news.notify_one();
    loop {
        let mut idle = session.idle();
        within("IDLE", idle.init()).await?;
        let (wait, _stop) = idle.wait_with_timeout(IDLE_RENEW);
        let response = wait.await.map_err(|e| err("IDLE", e))?;
        session = within("DONE", idle.done()).await?;
        if let async_imap::extensions::idle::IdleResponse::NewData(_) = response {
            news.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_set_up_with_the_platforms_roots() {
        // The crypto provider and the platform verifier are there: a TLS
        // connection can be attempted (certificate checks happen when one is made).
        assert!(tls_connector().is_ok());
    }
}
