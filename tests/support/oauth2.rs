//! An imitation of an OAuth 2.0 authorization server on 127.0.0.1: the
//! authorization-code grant (RFC 6749 §4.1, <https://www.rfc-editor.org/rfc/rfc6749>)
//! with PKCE S256 (RFC 7636, <https://www.rfc-editor.org/rfc/rfc7636>) for a
//! native app on a loopback redirect (RFC 8252 §7.3, <https://www.rfc-editor.org/rfc/rfc8252>),
//! the refresh grant (§6), and a protected resource answering as RFC 6750
//! (<https://www.rfc-editor.org/rfc/rfc6750#section-3>) says.
//!
//! | endpoint | behaviour |
//! |---|---|
//! | `GET /authorize` | checks `client_id` and a loopback `redirect_uri` (else 400, no redirect), then `response_type=code`, `code_challenge` + `code_challenge_method=S256`, `state`; 302 to `redirect_uri?code=…&state=…` or `?error=…&state=…` |
//! | `POST /token` | form-encoded; client auth by `client_secret_basic` or `client_secret_post` (one only); `authorization_code` (code once, same `redirect_uri`, PKCE verifier) or `refresh_token` (rotated unless turned off); errors `{"error": "invalid_grant" …}` |
//! | `GET /api/me` | `Authorization: Bearer`; 401 with `WWW-Authenticate: Bearer … error="invalid_token"` for an unknown or expired token |
//!
//! A reused code is refused and revokes the tokens it gave (RFC 6749 §4.1.2).

mod token;

use crate::peer::{Peer, bearer_token};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub const OAUTH_CLIENT_ID: &str = "flowpilot-test-client";
pub const OAUTH_CLIENT_SECRET: &str = "flowpilot-test-client-secret";

/// The S256 `code_challenge` of `verifier`: BASE64URL(SHA256(verifier)), unpadded.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// How many token requests of each grant arrived (refused ones included).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TokenRequests {
    pub authorization_code: usize,
    pub refresh_token: usize,
    pub other: usize,
}

/// What the browser saw at `/authorize` (see [`OAuth2Server::visit`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    pub status: u16,
    /// The `Location` of a redirect.
    pub location: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    /// The body of an error page shown instead of a redirect.
    pub body: String,
}

#[derive(Debug)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    used: bool,
}

#[derive(Debug)]
struct AccessGrant {
    client_id: String,
    scope: String,
    expires_at: Instant,
    /// The code it came from (tokens of a reused code are revoked).
    code: Option<String>,
    revoked: bool,
}

#[derive(Debug)]
struct Data {
    clients: HashMap<String, Option<String>>,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessGrant>,
    /// Refresh token → (client id, scope, still valid).
    refresh: HashMap<String, (String, String, bool)>,
    expires_in: u64,
    rotate_refresh: bool,
    deny_next: bool,
    fail_refresh: bool,
    requests: TokenRequests,
    authorize_calls: usize,
    serial: u64,
}

#[derive(Debug)]
struct OAuthState {
    data: Mutex<Data>,
}

impl OAuthState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Data {
    fn token(&mut self, kind: &str) -> String {
        self.serial += 1;
        let digest = sha2::Sha256::digest(format!("{kind}{}", self.serial).as_bytes());
        format!("{kind}_{}", URL_SAFE_NO_PAD.encode(&digest[..18]))
    }
}

/// The running server. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct OAuth2Server {
    peer: Peer,
    state: Arc<OAuthState>,
}

impl std::ops::Deref for OAuth2Server {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl OAuth2Server {
    /// A server with one confidential client ([`OAUTH_CLIENT_ID`] / [`OAUTH_CLIENT_SECRET`]),
    /// tokens valid for an hour, refresh tokens rotated.
    pub async fn start() -> OAuth2Server {
        let state = Arc::new(OAuthState {
            data: Mutex::new(Data {
                clients: HashMap::from([(OAUTH_CLIENT_ID.to_string(), Some(OAUTH_CLIENT_SECRET.to_string()))]),
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                expires_in: 3600,
                rotate_refresh: true,
                deny_next: false,
                fail_refresh: false,
                requests: TokenRequests::default(),
                authorize_calls: 0,
                serial: 0,
            }),
        });
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/authorize", get(authorize))
                .route("/token", post(token::token))
                .route("/api/me", get(me))
                .with_state(shared)
        })
        .await;
        OAuth2Server { peer, state }
    }

    pub fn authorize_url(&self) -> String {
        self.peer.url("/authorize")
    }

    pub fn token_url(&self) -> String {
        self.peer.url("/token")
    }

    /// The protected resource: 200 with the user for a valid access token.
    pub fn resource_url(&self) -> String {
        self.peer.url("/api/me")
    }

    /// Register a client; `secret: None` makes it public (PKCE alone).
    pub fn add_client(&self, client_id: &str, secret: Option<&str>) {
        self.state
            .data()
            .clients
            .insert(client_id.into(), secret.map(str::to_string));
    }

    /// The `expires_in` of access tokens issued from now on (they do expire then).
    pub fn set_expires_in(&self, seconds: u64) {
        self.state.data().expires_in = seconds;
    }

    /// Whether a refresh gives a new refresh token and retires the old one (on by default).
    pub fn set_rotate_refresh_tokens(&self, rotate: bool) {
        self.state.data().rotate_refresh = rotate;
    }

    /// The user says no to the next authorization: `error=access_denied`.
    pub fn deny_next_authorization(&self) {
        self.state.data().deny_next = true;
    }

    /// While on, every refresh is refused with `invalid_grant` (consent revoked).
    pub fn fail_refresh(&self, fail: bool) {
        self.state.data().fail_refresh = fail;
    }

    /// Every access token issued so far expires now: the resource answers 401.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for grant in self.state.data().access.values_mut() {
            grant.expires_at = now;
        }
    }

    pub fn token_requests(&self) -> TokenRequests {
        self.state.data().requests
    }

    pub fn authorize_requests(&self) -> usize {
        self.state.data().authorize_calls
    }

    /// Whether `token` is an access token the resource would accept now.
    pub fn is_access_token_valid(&self, token: &str) -> bool {
        self.state
            .data()
            .access
            .get(token)
            .is_some_and(|g| !g.revoked && g.expires_at > Instant::now())
    }

    /// Be the user's browser at `authorize_url` (as Flowpilot built it): GET it
    /// without following the redirect, and say what came back.
    pub async fn visit(&self, authorize_url: &str) -> Authorization {
        let response = browser()
            .get(authorize_url)
            .send()
            .await
            .expect("GET the authorization URL");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.unwrap_or_default();
        let param = |name: &str| {
            let url = reqwest::Url::parse(location.as_deref()?).ok()?;
            url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
        };
        Authorization {
            status,
            code: param("code"),
            state: param("state"),
            error: param("error"),
            location: location.clone(),
            body,
        }
    }

    /// Be the browser all the way: visit `authorize_url`, then follow the
    /// redirect to the app's loopback listener and return that answer (status, body).
    pub async fn browse(&self, authorize_url: &str) -> (Authorization, Option<(u16, String)>) {
        let visit = self.visit(authorize_url).await;
        let Some(location) = visit.location.clone() else {
            return (visit, None);
        };
        let callback = browser()
            .get(&location)
            .send()
            .await
            .expect("GET the app's redirect URI");
        let status = callback.status().as_u16();
        let body = callback.text().await.unwrap_or_default();
        (visit, Some((status, body)))
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a reqwest client")
}

/// RFC 8252 §7.3: `http` on a loopback IP literal, any port. (`localhost` is refused, §8.3.)
fn is_loopback_redirect(uri: &str) -> bool {
    reqwest::Url::parse(uri).is_ok_and(|u| {
        u.scheme() == "http"
            && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]"))
            && u.port().is_some()
            && u.fragment().is_none()
    })
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match reqwest::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response(),
    };
    url.query_pairs_mut().extend_pairs(params);
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn authorize(State(state): State<Arc<OAuthState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut data = state.data();
    data.authorize_calls += 1;
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if !data.clients.contains_key(&client_id) {
        return (StatusCode::BAD_REQUEST, "invalid_client: unknown client_id").into_response();
    }
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if !is_loopback_redirect(&redirect_uri) {
        return (
            StatusCode::BAD_REQUEST,
            "invalid_request: redirect_uri must be http://127.0.0.1:<port>/… (RFC 8252)",
        )
            .into_response();
    }
    let state_param = q.get("state").cloned().unwrap_or_default();
    let fail = |error: &str, description: &str| {
        let mut params = vec![("error", error), ("error_description", description)];
        if !state_param.is_empty() {
            params.push(("state", state_param.as_str()));
        }
        redirect_with(&redirect_uri, &params)
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return fail("unsupported_response_type", "response_type must be code");
    }
    if state_param.is_empty() {
        return fail("invalid_request", "state is required");
    }
    let Some(challenge) = q.get("code_challenge").filter(|c| !c.is_empty()).cloned() else {
        return fail("invalid_request", "code challenge required");
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return fail("invalid_request", "transform algorithm not supported");
    }
    if std::mem::take(&mut data.deny_next) {
        return fail("access_denied", "The user denied the request");
    }
    let code = data.token("code");
    data.codes.insert(
        code.clone(),
        CodeGrant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge,
            scope: q.get("scope").cloned().unwrap_or_default(),
            used: false,
        },
    );
    redirect_with(&redirect_uri, &[("code", &code), ("state", &state_param)])
}

async fn me(State(state): State<Arc<OAuthState>>, headers: HeaderMap) -> Response {
    let challenge = |error: Option<&str>| {
        let value = match error {
            None => "Bearer realm=\"flowpilot-test\"".to_string(),
            Some(description) => {
                format!("Bearer realm=\"flowpilot-test\", error=\"invalid_token\", error_description=\"{description}\"")
            }
        };
        let mut r = (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "unauthorized"}))).into_response();
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let Some(token) = bearer_token(&headers) else {
        return challenge(None);
    };
    let data = state.data();
    let Some(grant) = data.access.get(token) else {
        return challenge(Some("The access token is invalid"));
    };
    if grant.revoked {
        return challenge(Some("The access token was revoked"));
    }
    if grant.expires_at <= Instant::now() {
        return challenge(Some("The access token expired"));
    }
    let body: Value = json!({
        "sub": "user-1",
        "name": "Ada Lovelace",
        "email": "ada@example.test",
        "client_id": grant.client_id,
        "scope": grant.scope,
    });
    axum::Json(body).into_response()
}
