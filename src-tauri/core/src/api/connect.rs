//! Connecting an OAuth 2.0 integration: a loopback listener on 127.0.0.1 with
//! a random port (RFC 8252), the authorization URL with PKCE and a `state` for
//! the browser, then the callback — its `state` checked — and the code
//! exchanged for tokens, which go to the keychain as entries of their own.
//! A connection can be cancelled while it waits: its listener is dropped and
//! its port freed at once.

use super::{ApiError, Flowpilot, Result};
use crate::store::ConnectionState;
use flowpilot_engine::Sensitive;
use flowpilot_engine::integration::definition::{Auth, OAuth2Auth};
use flowpilot_engine::integration::oauth::{self, ACCESS_TOKEN, ClientCredentials, EXPIRES_AT, REFRESH_TOKEN};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A connection begun: open `authorize_url` in the browser, then finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct OAuthStart {
    pub integration: String,
    pub authorize_url: String,
    /// Where the browser comes back (`http://127.0.0.1:<port>/callback`).
    pub redirect_uri: String,
}

struct PendingConnect {
    listener: TcpListener,
    redirect_uri: String,
    state: String,
    verifier: Sensitive<String>,
    auth: OAuth2Auth,
    client: ClientCredentials,
}

/// Connections begun, by integration: those not yet waiting for their
/// callback (their listener kept here), and the cancel of each one waiting.
#[derive(Default)]
pub(super) struct Pending(Mutex<Connects>);

#[derive(Default)]
struct Connects {
    begun: HashMap<String, PendingConnect>,
    /// The connection whose `finish` is waiting, by integration: its number
    /// (so an older wait never forgets a newer one's cancel) and its cancel.
    waiting: HashMap<String, (u64, CancellationToken)>,
    next: u64,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, Connects> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const PAGE_OK: &str =
    "<!doctype html><title>Flowpilot</title><p>Connected. You can close this tab and go back to Flowpilot.</p>";

impl Flowpilot {
    /// Begin connecting `name`: listen on 127.0.0.1 and make the authorization
    /// URL. Its client id (and secret) must be set first.
    pub async fn start_oauth_connect(&self, name: &str) -> Result<OAuthStart> {
        let auth = self.oauth_auth(name)?;
        let read = |field: &str| -> Result<Option<Sensitive<String>>> { Ok(self.keychain.get(name, field)?) };
        let client_id = read(&auth.client_id_secret)?.ok_or_else(|| {
            ApiError::BadInput(format!(
                "set the OAuth client id first: `flowpilot-cli credentials set {name} {}`",
                auth.client_id_secret
            ))
        })?;
        let client_secret = match &auth.client_secret_secret {
            Some(field) => Some(read(field)?.ok_or_else(|| {
                ApiError::BadInput(format!(
                    "set the OAuth client secret first: `flowpilot-cli credentials set {name} {field}`"
                ))
            })?),
            None => None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| ApiError::Io {
            path: "127.0.0.1".into(),
            message: format!("cannot listen for the browser's return: {e}"),
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");
        let client = ClientCredentials {
            client_id: client_id.into_inner(),
            client_secret,
        };
        let start = oauth::start(&auth, &client, &redirect_uri).map_err(|e| ApiError::BadInput(e.to_string()))?;
        let out = OAuthStart {
            integration: name.to_string(),
            authorize_url: start.url,
            redirect_uri: redirect_uri.clone(),
        };
        // Beginning again replaces a connection begun before, which stops waiting.
        self.cancel_oauth_connect(name);
        self.connects.lock().begun.insert(
            name.to_string(),
            PendingConnect {
                listener,
                redirect_uri,
                state: start.state,
                verifier: start.verifier,
                auth,
                client,
            },
        );
        Ok(out)
    }

    /// Wait (at most `wait`) for the browser to come back to the connection
    /// begun for `name`, check its `state`, exchange the code and store the tokens.
    pub async fn finish_oauth_connect(&self, name: &str, wait: Duration) -> Result<()> {
        let (pending, id, cancel) = {
            let mut connects = self.connects.lock();
            let pending = connects.begun.remove(name).ok_or_else(|| ApiError::NotFound {
                what: "connection in progress for",
                key: name.to_string(),
            })?;
            connects.next += 1;
            let id = connects.next;
            let cancel = CancellationToken::new();
            connects.waiting.insert(name.to_string(), (id, cancel.clone()));
            (pending, id, cancel)
        };
        let waited = tokio::select! {
            () = cancel.cancelled() => Err(ApiError::Cancelled(format!("connecting {name} was cancelled"))),
            answer = tokio::time::timeout(wait, callback(&pending)) => answer
                .map_err(|_| ApiError::BadInput(format!("the browser did not come back within {} s", wait.as_secs())))
                .and_then(|code| code),
        };
        {
            let mut connects = self.connects.lock();
            if connects.waiting.get(name).is_some_and(|(mine, _)| *mine == id) {
                connects.waiting.remove(name);
            }
        }
        // Past here the listener is no longer needed: dropping it frees the port.
        let code = waited?;
        let http = flowpilot_engine::http_client::default_http_client();
        let tokens = oauth::exchange_code(
            &http,
            &pending.auth,
            &pending.client,
            &pending.redirect_uri,
            &code,
            &pending.verifier,
        )
        .await
        .map_err(|e| ApiError::BadInput(format!("connecting {name} failed: {e}")))?;
        let now = self.clock.now();
        let store = |field: &str, value: Sensitive<String>| -> Result<()> {
            self.keychain.set(name, field, &value)?;
            self.store.record_credential(name, field, now)?;
            Ok(())
        };
        store(ACCESS_TOKEN, tokens.access)?;
        if let Some(refresh) = tokens.refresh {
            store(REFRESH_TOKEN, refresh)?;
        }
        if let Some(at) = tokens.expires_at {
            store(EXPIRES_AT, Sensitive::new(at.to_rfc3339()))?;
        }
        self.store
            .set_connection_state(name, ConnectionState::Connected, None, now)?;
        tracing::info!(integration = name, "connected");
        Ok(())
    }

    /// Stop connecting `name`: a connection waiting for the browser ends with
    /// [`ApiError::Cancelled`], and its loopback listener is closed (the port
    /// is free again). Whether one was under way.
    pub fn cancel_oauth_connect(&self, name: &str) -> bool {
        let mut connects = self.connects.lock();
        let begun = connects.begun.remove(name).is_some();
        let waiting = connects
            .waiting
            .remove(name)
            .map(|(_, cancel)| cancel.cancel())
            .is_some();
        if begun || waiting {
            tracing::info!(integration = name, "connection cancelled");
        }
        begun || waiting
    }

    fn oauth_auth(&self, name: &str) -> Result<OAuth2Auth> {
        let registry = self.registry();
        let provider = registry.get(name).ok_or_else(|| ApiError::NotFound {
            what: "integration",
            key: name.to_string(),
        })?;
        match provider.as_integration().map(|i| &i.definition().auth) {
            Some(Auth::Oauth2(auth)) => Ok(auth.clone()),
            _ => Err(ApiError::BadInput(format!(
                "`{name}` does not use OAuth 2.0: nothing to connect"
            ))),
        }
    }
}

/// Serve the loopback listener until the browser arrives at `/callback`; the
/// authorization code, once its `state` matches.
async fn callback(pending: &PendingConnect) -> Result<String> {
    loop {
        let (mut stream, _) = pending
            .listener
            .accept()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut buffer = vec![0u8; 8192];
        let mut read = 0;
        while read < buffer.len() {
            match stream.read(&mut buffer[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
            if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        let Some(url) = url.filter(|u| u.path() == "/callback") else {
            respond(&mut stream, 404, "Not found").await;
            continue;
        };
        let param = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        if param("state").as_deref() != Some(pending.state.as_str()) {
            respond(&mut stream, 400, "This answer does not belong to the connection Flowpilot started (its state does not match). Nothing was connected.").await;
            return Err(ApiError::BadInput(
                "the browser came back with a state that does not match: refused, nothing was connected".into(),
            ));
        }
        if let Some(error) = param("error") {
            let said = param("error_description").unwrap_or_default();
            respond(&mut stream, 400, &format!("Not connected: {error} {said}")).await;
            return Err(ApiError::BadInput(format!(
                "the authorization server said: {error} {said}"
            )));
        }
        let Some(code) = param("code") else {
            respond(&mut stream, 400, "No authorization code came back.").await;
            return Err(ApiError::BadInput(
                "the browser came back without an authorization code".into(),
            ));
        };
        respond(&mut stream, 200, PAGE_OK).await;
        return Ok(code);
    }
}

async fn respond(stream: &mut tokio::net::TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let page = if body.starts_with("<!doctype") {
        body.to_string()
    } else {
        format!("<!doctype html><title>Flowpilot</title><p>{}</p>", html_escape(body))
    };
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _gone = stream.write_all(answer.as_bytes()).await;
    let _closed = stream.shutdown().await;
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
