//! OAuth 2.0 for integrations, with the `oauth2` crate: the authorization-code
//! grant with PKCE (S256) and a `state` the callback must echo, for a loopback
//! redirect on 127.0.0.1 (RFC 8252); the code exchange; and refresh. Token
//! requests go through Flowpilot's HTTP client, which follows no redirects (a
//! token endpoint that redirects is not followed anywhere).
//!
//! The tokens are keychain entries of their own under the integration's name
//! ([`ACCESS_TOKEN`], [`REFRESH_TOKEN`], and [`EXPIRES_AT`]): a Windows
//! Credential Manager entry holds at most 2,560 bytes.

use super::definition::OAuth2Auth;
use crate::sensitive::Sensitive;
use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RefreshToken, Scope, TokenResponse, TokenUrl,
};

/// The keychain field of the access token.
pub const ACCESS_TOKEN: &str = "oauth_access_token";
/// The keychain field of the refresh token.
pub const REFRESH_TOKEN: &str = "oauth_refresh_token";
/// The keychain field of when the access token expires (RFC 3339).
pub const EXPIRES_AT: &str = "oauth_expires_at";
/// The most of a token endpoint's answer that is read.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// Why an OAuth step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    Config(String),
    /// The authorization server refused (`invalid_grant`: the refresh token was
    /// revoked or expired; the person must connect again).
    #[error("the authorization server refused: {0}")]
    Refused(String),
    #[error("the authorization server could not be reached: {0}")]
    Transport(String),
}

/// What the browser is sent to, and what the callback must match.
#[derive(Debug)]
pub struct AuthorizationStart {
    pub url: String,
    /// The `state` the callback must bring back.
    pub state: String,
    /// The PKCE verifier for the code exchange.
    pub verifier: Sensitive<String>,
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: Sensitive<String>,
    pub refresh: Option<Sensitive<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The client secrets of the person's own OAuth client.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Option<Sensitive<String>>,
}

type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(
    auth: &OAuth2Auth,
    credentials: &ClientCredentials,
    redirect_uri: Option<&str>,
) -> Result<Client, OAuthError> {
    let bad = |what: &str, e: url::ParseError| OAuthError::Config(format!("{what} is not a URL: {e}"));
    let mut client = BasicClient::new(ClientId::new(credentials.client_id.clone()))
        .set_auth_uri(AuthUrl::new(auth.authorize_url.clone()).map_err(|e| bad("authorize_url", e))?)
        .set_token_uri(TokenUrl::new(auth.token_url.clone()).map_err(|e| bad("token_url", e))?);
    if let Some(secret) = &credentials.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().clone()));
    }
    if let Some(uri) = redirect_uri {
        client = client.set_redirect_uri(RedirectUrl::new(uri.to_string()).map_err(|e| bad("the redirect URI", e))?);
    }
    Ok(client)
}

/// The authorization URL (PKCE S256, a random `state`, the definition's scopes
/// and extra parameters) for a redirect to `redirect_uri`.
pub fn start(
    auth: &OAuth2Auth,
    credentials: &ClientCredentials,
    redirect_uri: &str,
) -> Result<AuthorizationStart, OAuthError> {
    let client = client(auth, credentials, Some(redirect_uri))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(auth.scopes.iter().map(|s| Scope::new(s.clone())))
        .set_pkce_challenge(challenge);
    for (k, v) in &auth.authorize_params {
        request = request.add_extra_param(k.clone(), v.clone());
    }
    let (url, state) = request.url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: state.secret().clone(),
        verifier: Sensitive::new(verifier.secret().clone()),
    })
}

/// Exchange the callback's code (with the PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    auth: &OAuth2Auth,
    credentials: &ClientCredentials,
    redirect_uri: &str,
    code: &str,
    verifier: &Sensitive<String>,
) -> Result<Tokens, OAuthError> {
    let client = client(auth, credentials, Some(redirect_uri))?;
    let sender = sender(http);
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose().clone()))
        .request_async(&sender)
        .await
        .map_err(request_error)?;
    Ok(tokens(&answer, None))
}

/// A fresh access token for `refresh_token`. A server that does not rotate
/// refresh tokens returns none: the old one is kept.
pub async fn refresh(
    http: &reqwest::Client,
    auth: &OAuth2Auth,
    credentials: &ClientCredentials,
    refresh_token: &Sensitive<String>,
) -> Result<Tokens, OAuthError> {
    let client = client(auth, credentials, None)?;
    let sender = sender(http);
    let answer = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().clone()))
        .request_async(&sender)
        .await
        .map_err(request_error)?;
    Ok(tokens(&answer, Some(refresh_token)))
}

fn tokens(answer: &oauth2::basic::BasicTokenResponse, kept_refresh: Option<&Sensitive<String>>) -> Tokens {
    Tokens {
        access: Sensitive::new(answer.access_token().secret().clone()),
        refresh: answer
            .refresh_token()
            .map(|t| Sensitive::new(t.secret().clone()))
            .or_else(|| kept_refresh.cloned()),
        expires_at: answer
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| Utc::now() + d),
    }
}

type RequestError = oauth2::RequestTokenError<TransportError, oauth2::basic::BasicErrorResponse>;

fn request_error(e: RequestError) -> OAuthError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let mut text = r.error().to_string();
            if let Some(d) = r.error_description() {
                text.push_str(&format!(": {d}"));
            }
            OAuthError::Refused(text)
        }
        oauth2::RequestTokenError::Request(e) => OAuthError::Transport(e.to_string()),
        oauth2::RequestTokenError::Parse(e, _) => {
            OAuthError::Transport(format!("the token endpoint's answer cannot be read ({e})"))
        }
        other => OAuthError::Transport(other.to_string()),
    }
}

/// A failure to reach the token endpoint, without the request's URL or body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(String);

/// The `oauth2` crate's HTTP client: Flowpilot's own (no redirects followed).
fn sender(
    http: &reqwest::Client,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send>>
+ '_ {
    move |request: oauth2::HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| TransportError(crate::request::failure::root_cause(&e)))?;
            let mut response = http
                .execute(request)
                .await
                .map_err(|e| TransportError(crate::request::failure::root_cause(&e)))?;
            let status = response.status();
            let headers = response.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| TransportError(crate::request::failure::root_cause(&e)))?
            {
                if body.len() + chunk.len() > MAX_TOKEN_RESPONSE {
                    return Err(TransportError("the token endpoint's answer is too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            let mut built = http::Response::builder().status(status);
            for (name, value) in &headers {
                built = built.header(name, value);
            }
            built.body(body).map_err(|e| TransportError(e.to_string()))
        })
    }
}
