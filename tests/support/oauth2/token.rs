//! The token endpoint (RFC 6749 §3.2, §4.1.3, §6; RFC 7636 §4.6): client
//! authentication, the code exchange with its PKCE check, and refresh.

use super::{AccessGrant, Data, OAuthState, pkce_challenge};
use crate::peer::Refusal;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The client a token request authenticates as, or the error for it.
fn authenticate(data: &Data, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<String, Refusal> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| {
            let decoded = BASE64.decode(b.trim()).unwrap_or_default();
            let text = String::from_utf8_lossy(&decoded).into_owned();
            let (id, secret) = text.split_once(':').unwrap_or((&text, ""));
            let unescape = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default()
            };
            (unescape(id), Some(unescape(secret)))
        });
    let posted = form
        .get("client_id")
        .map(|id| (id.clone(), form.get("client_secret").cloned()));
    let refuse = |used_basic: bool| {
        let mut r = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
        if used_basic {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\""),
            );
        }
        r
    };
    let used_basic = basic.is_some();
    let (client_id, secret) = match (basic, posted) {
        (Some(_), Some((_, Some(_)))) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "more than one client authentication method",
            )
            .into());
        }
        (Some(b), _) => b,
        (None, Some(p)) => p,
        (None, None) => return Err(refuse(false).into()),
    };
    match data.clients.get(&client_id) {
        Some(Some(expected)) if secret.as_deref() == Some(expected.as_str()) => Ok(client_id),
        Some(None) if secret.is_none() => Ok(client_id),
        _ => Err(refuse(used_basic).into()),
    }
}

fn issue_tokens(data: &mut Data, client_id: &str, scope: &str, code: Option<String>, refresh: bool) -> Response {
    let access = data.token("at");
    let expires_in = data.expires_in;
    data.access.insert(
        access.clone(),
        AccessGrant {
            client_id: client_id.into(),
            scope: scope.into(),
            expires_at: Instant::now() + Duration::from_secs(expires_in),
            code,
            revoked: false,
        },
    );
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in, "scope": scope});
    if refresh {
        let token = data.token("rt");
        data.refresh
            .insert(token.clone(), (client_id.into(), scope.into(), true));
        body["refresh_token"] = json!(token);
    }
    let mut r = axum::Json(body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

pub(super) async fn token(State(state): State<Arc<OAuthState>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut data = state.data();
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => data.requests.authorization_code += 1,
        Some("refresh_token") => data.requests.refresh_token += 1,
        _ => data.requests.other += 1,
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let client_id = match authenticate(&data, &headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(grant) = data.codes.get_mut(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown authorization code");
            };
            if grant.used {
                for g in data
                    .access
                    .values_mut()
                    .filter(|g| g.code.as_deref() == Some(code.as_str()))
                {
                    g.revoked = true;
                }
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "authorization code already used",
                );
            }
            grant.used = true;
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code was issued to another client",
                );
            }
            if form.get("redirect_uri") != Some(&grant.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri does not match");
            }
            let Some(verifier) = form.get("code_verifier") else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "code_verifier required");
            };
            if pkce_challenge(verifier) != grant.challenge {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
            }
            let scope = grant.scope.clone();
            issue_tokens(&mut data, &client_id, &scope, Some(code), true)
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let fail_refresh = data.fail_refresh;
            let rotate = data.rotate_refresh;
            let Some((owner, scope, valid)) = data.refresh.get_mut(&presented) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh token");
            };
            if !*valid || *owner != client_id || fail_refresh {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "refresh token is invalid or revoked",
                );
            }
            let scope = scope.clone();
            if rotate {
                *valid = false;
            }
            issue_tokens(&mut data, &client_id, &scope, None, rotate)
        }
        Some(_) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type not supported",
        ),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type required"),
    }
}
