//! Servers that behave as a hostile or broken network would, for the
//! reliability suite: they echo the secrets they receive in every encoding,
//! redirect across origins, throttle with long `Retry-After`s, stall, send
//! without end, drop the connection after reading the request, and present bad
//! TLS certificates.
//!
//! | server / path | behaviour |
//! |---|---|
//! | [`Hostile`] `/echo-secrets?status=S` | status S (default 401) with a body quoting the request's credentials raw, base64-decoded and re-encoded, percent-encoded in both styles and JSON-escaped |
//! | `/redirect?to=URL&status=S` | status S (default 302) to URL |
//! | `/chain/{n}` | 302 to `/chain/{n-1}`, and `/chain/0` answers `arrived` |
//! | `/throttle?retry_after=V` | 429 with `Retry-After: V` |
//! | `/hold` | never answers (until the server stops) |
//! | `/trickle` | 200, one chunk of body, then nothing |
//! | `/endless` | 200 and `x`s without end, in 64 KiB chunks |
//! | `/ok` | 200 `{"ok": true}` |
//! | [`DropServer`] | reads the whole request, then closes the connection without a word |
//! | [`TlsServer`] | answers `200 ok` over TLS with the certificate it was given ([`TestCerts`]) |

use crate::peer::{Peer, Recorded};
use crate::servers::{ServerError, failed, find_program};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

type Params = Query<HashMap<String, String>>;

/// The HTTP server of hostile answers. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct Hostile {
    peer: Peer,
}

impl std::ops::Deref for Hostile {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Hostile {
    pub async fn start() -> Hostile {
        let peer = Peer::start(|shutdown| {
            Router::new()
                .route("/echo-secrets", any(echo_secrets))
                .route("/redirect", any(redirect))
                .route("/chain/{n}", any(chain))
                .route("/throttle", any(throttle))
                .route("/hold", any(hold))
                .route("/trickle", any(trickle))
                .route("/endless", get(endless))
                .route("/ok", any(|| async { axum::Json(json!({"ok": true})) }))
                .with_state(shutdown)
        })
        .await;
        Hostile { peer }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.peer.requests()
    }
}

/// Every credential-looking part of the request (Authorization, other headers,
/// query values, the body), each in every form a careless server might quote it.
async fn echo_secrets(Query(params): Params, request: Request) -> Response {
    let status = params
        .get("status")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::UNAUTHORIZED);
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let mut quoted: Vec<String> = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        quoted.push(format!("{name}: {value}"));
        if let Some(basic) = value.strip_prefix("Basic ") {
            // What a server that decodes Basic auth would say back.
            let decoded = decode_base64(basic);
            quoted.push(format!("user:password = {decoded}"));
            if let Some((_, password)) = decoded.split_once(':') {
                quoted.extend(forms(password));
            }
        }
        if let Some(token) = value.strip_prefix("Bearer ") {
            quoted.extend(forms(token));
        }
    }
    if let Some(query) = parts.uri.query() {
        quoted.push(format!("raw query: {query}"));
        for (_, value) in form_urlencoded::parse(query.as_bytes()) {
            quoted.extend(forms(&value));
        }
    }
    quoted.push(format!("path: {}", parts.uri.path()));
    quoted.push(format!("body: {}", String::from_utf8_lossy(&body)));
    let text = quoted.join("\n");
    let body = json!({
        "error": {"message": format!("invalid credentials; you sent:\n{text}")},
        "echo": quoted,
    });
    (status, axum::Json(body)).into_response()
}

/// `value` raw, base64, percent-encoded (`%20` and `+` styles, lower-case hex),
/// and JSON-escaped.
fn forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let strict: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    vec![
        format!("raw: {value}"),
        format!("base64: {}", base64::engine::general_purpose::STANDARD.encode(value)),
        format!(
            "base64url: {}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value)
        ),
        format!("percent: {strict}"),
        format!("percent-lower: {}", lower_hex(&strict)),
        format!(
            "form: {}",
            form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
        ),
        format!("json: {}", serde_json::to_string(value).unwrap_or_default()),
        format!(
            "json-slashes: {}",
            serde_json::to_string(value).unwrap_or_default().replace('/', "\\/")
        ),
    ]
}

fn decode_base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

async fn redirect(Query(params): Params) -> Response {
    let status = params
        .get("status")
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FOUND);
    let to = params.get("to").cloned().unwrap_or_else(|| "/ok".into());
    let mut r = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return "arrived".into_response();
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/chain/{}", n - 1)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn throttle(Query(params): Params) -> Response {
    let after = params.get("retry_after").cloned().unwrap_or_else(|| "100000".into());
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"error": "slow down"}))).into_response();
    if let Ok(v) = HeaderValue::from_str(&after) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn hold(State(shutdown): State<CancellationToken>) -> Response {
    shutdown.cancelled().await;
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

async fn trickle(State(shutdown): State<CancellationToken>) -> Response {
    let (reader, mut writer) = tokio::io::duplex(1024);
    tokio::spawn(async move {
        let _sent = writer.write_all(b"the first part, and then nothing").await;
        shutdown.cancelled().await;
        drop(writer);
    });
    (
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from_stream(tokio_util::io::ReaderStream::new(reader)),
    )
        .into_response()
}

async fn endless(State(shutdown): State<CancellationToken>) -> Response {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures_util::stream::unfold(shutdown, move |shutdown| {
        let chunk = chunk.clone();
        async move {
            if shutdown.is_cancelled() {
                None
            } else {
                Some((Ok::<_, std::io::Error>(chunk), shutdown))
            }
        }
    });
    ([(header::CONTENT_TYPE, "text/plain")], Body::from_stream(stream)).into_response()
}

/// A server that reads each request whole and closes the connection without
/// answering: the client cannot tell whether the request was acted on.
#[derive(Debug)]
pub struct DropServer {
    base_url: String,
    received: Arc<watch::Sender<usize>>,
    heads: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl DropServer {
    pub async fn start() -> DropServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("its address");
        let received = Arc::new(watch::Sender::new(0usize));
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (counter, seen) = (received.clone(), heads.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (counter, seen) = (counter.clone(), seen.clone());
                tokio::spawn(async move {
                    if let Some(request) = read_request(&mut stream).await {
                        let text = String::from_utf8_lossy(&request).into_owned();
                        seen.lock().unwrap_or_else(|e| e.into_inner()).push(text);
                        counter.send_modify(|n| *n += 1);
                    }
                    drop(stream);
                });
            }
        });
        DropServer {
            base_url: format!("http://{addr}"),
            received,
            heads,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Requests read in full so far.
    pub fn received(&self) -> usize {
        *self.received.borrow()
    }

    /// Each request read, as text (head and body).
    pub fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The value of header `name` (lowercase) in each request read.
    pub fn header_values(&self, name: &str) -> Vec<Option<String>> {
        self.requests()
            .iter()
            .map(|r| {
                r.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            })
            .collect()
    }
}

impl Drop for DropServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Read one request (head and `Content-Length` body); `None` if it broke off.
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(buffer)
}

/// Throwaway certificates made with the openssl CLI: a CA, and server
/// certificates for 127.0.0.1 that it signed (good, expired, for another name),
/// plus one that signed itself.
#[derive(Debug, Clone)]
pub struct TestCerts {
    pub dir: PathBuf,
    /// The CA's certificate (PEM), for a client to trust via `SSL_CERT_FILE`.
    pub ca_pem: PathBuf,
}

/// A server certificate and its key, in DER.
#[derive(Debug, Clone)]
pub struct CertKey {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl TestCerts {
    pub fn generate(dir: &FsPath) -> Result<TestCerts, ServerError> {
        let openssl = find_program(&["/usr/bin/openssl"], "openssl").ok_or(ServerError::Unavailable {
            server: "tls",
            reason: "openssl (to make throwaway certificates) is not installed".into(),
        })?;
        let run = |args: &[&str]| -> Result<(), ServerError> {
            let out = Command::new(&openssl)
                .args(args)
                .current_dir(dir)
                .output()
                .map_err(|e| failed("tls", format!("could not run openssl: {e}"), String::new()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(failed(
                    "tls",
                    format!("openssl {} failed", args.join(" ")),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ))
            }
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        run(&[
            &["req", "-x509"],
            &ec[..],
            &[
                "-days",
                "2",
                "-subj",
                "/CN=Flowpilot Test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat())?;
        for (name, san, days) in [
            ("good", "IP:127.0.0.1", "2"),
            ("expired", "IP:127.0.0.1", "-1"),
            ("wrong-name", "DNS:wrong.example", "2"),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), format!("subjectAltName={san}\n"))
                .map_err(|e| failed("tls", e.to_string(), String::new()))?;
            run(&[
                &["req"],
                &ec[..],
                &[
                    "-subj",
                    "/CN=flowpilot-test",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            ]
            .concat())?;
            run(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                days,
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ])?;
        }
        // Signed with its own key, as a server's certificate (not a CA's).
        std::fs::write(dir.join("self-signed.ext"), "subjectAltName=IP:127.0.0.1\n")
            .map_err(|e| failed("tls", e.to_string(), String::new()))?;
        run(&[
            &["req"],
            &ec[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "self-signed.key",
                "-out",
                "self-signed.csr",
            ],
        ]
        .concat())?;
        run(&[
            "x509",
            "-req",
            "-in",
            "self-signed.csr",
            "-signkey",
            "self-signed.key",
            "-days",
            "2",
            "-extfile",
            "self-signed.ext",
            "-out",
            "self-signed.pem",
        ])?;
        for name in ["good", "expired", "wrong-name", "self-signed"] {
            run(&[
                "x509",
                "-in",
                &format!("{name}.pem"),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.der"),
            ])?;
            run(&[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                &format!("{name}.key"),
                "-outform",
                "DER",
                "-out",
                &format!("{name}.key.der"),
            ])?;
        }
        Ok(TestCerts {
            dir: dir.to_path_buf(),
            ca_pem: dir.join("ca.pem"),
        })
    }

    /// `good`, `expired`, `wrong-name` or `self-signed`.
    pub fn cert(&self, name: &str) -> CertKey {
        let read = |file: String| std::fs::read(self.dir.join(&file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        CertKey {
            cert_der: read(format!("{name}.der")),
            key_der: read(format!("{name}.key.der")),
        }
    }
}

/// An HTTPS server on 127.0.0.1 that answers every request `200 ok` with the
/// certificate it was given. Counts the requests that got through the handshake.
#[derive(Debug)]
pub struct TlsServer {
    port: u16,
    served: Arc<AtomicUsize>,
    heads: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl TlsServer {
    pub async fn start(cert: CertKey) -> TlsServer {
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.cert_der)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_der)),
            )
            .expect("a usable certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("its address").port();
        let served = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (count, seen) = (served.clone(), heads.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let (count, seen) = (count.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    if let Some(request) = read_request(&mut tls).await {
                        let head = String::from_utf8_lossy(&request).into_owned();
                        seen.lock().unwrap_or_else(|e| e.into_inner()).push(head);
                        count.fetch_add(1, Ordering::SeqCst);
                        let _gone = tls
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                            .await;
                        let _closed = tls.shutdown().await;
                    }
                });
            }
        });
        TlsServer {
            port,
            served,
            heads,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// Requests that completed a handshake and were answered.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Each request that got through, as text (head and body).
    pub fn requests(&self) -> Vec<String> {
        self.heads.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Percent-escapes with lowercase hex digits (`%2b`), the text itself unchanged.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}
