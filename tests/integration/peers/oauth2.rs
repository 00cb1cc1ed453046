//! The OAuth2 authorization server imitation: code + PKCE on a loopback
//! redirect, refresh with rotation, and RFC 6750's answer to an expired token.

use super::{client, header};
use flowpilot_tests::Target;
use flowpilot_tests::oauth2::{OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAuth2Server, TokenRequests, pkce_challenge};
use serde_json::Value;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn authorize_url(server: &OAuth2Server, redirect_uri: &str, verifier: &str) -> String {
    let mut url = reqwest::Url::parse(&server.authorize_url()).expect("the server's authorize URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", OAUTH_CLIENT_ID)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "read write")
        .append_pair("state", "st-123")
        .append_pair("code_challenge", &pkce_challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

async fn exchange(server: &OAuth2Server, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(server.token_url())
        .form(form)
        .send()
        .await
        .expect("the token request is answered");
    (
        response.status().as_u16(),
        response.json().await.expect("a JSON answer"),
    )
}

#[test]
fn pkce_challenge_matches_rfc_7636_appendix_b() {
    assert_eq!(pkce_challenge(VERIFIER), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[tokio::test]
async fn oauth2_code_with_pkce_then_refresh_with_rotation() {
    let server = OAuth2Server::start().await;
    let callback = Target::start().await;
    let redirect_uri = callback.url("/echo");

    let (visit, landed) = server.browse(&authorize_url(&server, &redirect_uri, VERIFIER)).await;
    assert_eq!(visit.status, 302);
    assert_eq!(visit.state.as_deref(), Some("st-123"));
    let code = visit.code.clone().unwrap();
    assert_eq!(
        landed.unwrap().0,
        200,
        "the browser went on to the app's loopback redirect"
    );
    assert_eq!(callback.only_request().query_param("code"), Some(code.as_str()));

    let (status, tokens) = exchange(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", VERIFIER),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        (tokens["token_type"].as_str(), tokens["expires_in"].as_u64()),
        (Some("Bearer"), Some(3600))
    );
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let me = client()
        .get(server.resource_url())
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    server.expire_access_tokens();
    let expired = client()
        .get(server.resource_url())
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    let challenge = header(&expired, "www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );

    // client_secret_basic this time.
    let refreshed: Value = client()
        .post(server.token_url())
        .basic_auth(OAUTH_CLIENT_ID, Some(OAUTH_CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_access = refreshed["access_token"].as_str().unwrap();
    assert_ne!(refreshed["refresh_token"].as_str().unwrap(), refresh, "rotated");
    assert!(server.is_access_token_valid(new_access));
    let (status, reused) = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "the old refresh token is retired"
    );
    assert_eq!(
        server.token_requests(),
        TokenRequests {
            authorization_code: 1,
            refresh_token: 2,
            other: 0
        }
    );
}

#[tokio::test]
async fn oauth2_refuses_a_wrong_verifier_a_reused_code_and_a_failed_refresh() {
    let server = OAuth2Server::start().await;
    let redirect_uri = "http://127.0.0.1:1/callback";
    let code = server
        .visit(&authorize_url(&server, redirect_uri, VERIFIER))
        .await
        .code
        .unwrap();
    let form = |verifier: &'static str, code: String| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code),
            ("redirect_uri", redirect_uri.to_string()),
            ("code_verifier", verifier.to_string()),
            ("client_id", OAUTH_CLIENT_ID.to_string()),
            ("client_secret", OAUTH_CLIENT_SECRET.to_string()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let server_url = server.token_url();
        async move {
            let r = client().post(server_url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, wrong) = send(form("not-the-verifier-not-the-verifier-not-the-verifier", code.clone())).await;
    assert_eq!((status, wrong["error"].as_str()), (400, Some("invalid_grant")));
    let (status, reused) = send(form(VERIFIER, code)).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "a code is good once, even after a failure"
    );

    let code = server
        .visit(&authorize_url(&server, redirect_uri, VERIFIER))
        .await
        .code
        .unwrap();
    let (status, tokens) = send(form(VERIFIER, code)).await;
    assert_eq!(status, 200);
    server.fail_refresh(true);
    let (status, refused) = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_grant")));

    let (status, bad_client) = exchange(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!((status, bad_client["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn oauth2_authorize_checks_the_redirect_the_challenge_and_can_be_denied() {
    let server = OAuth2Server::start().await;
    let not_loopback = server
        .visit(&authorize_url(&server, "http://localhost:8080/cb", VERIFIER))
        .await;
    assert_eq!(
        (not_loopback.status, not_loopback.location),
        (400, None),
        "no redirect to a non-loopback URI"
    );

    let plain = server
        .visit(&authorize_url(&server, "http://127.0.0.1:9/cb", VERIFIER).replace("S256", "plain"))
        .await;
    assert_eq!((plain.status, plain.error.as_deref()), (302, Some("invalid_request")));

    server.deny_next_authorization();
    let denied = server
        .visit(&authorize_url(&server, "http://127.0.0.1:9/cb", VERIFIER))
        .await;
    assert_eq!(denied.error.as_deref(), Some("access_denied"));
    assert_eq!(
        denied.state.as_deref(),
        Some("st-123"),
        "the state comes back with the error"
    );
    assert!(denied.code.is_none());
    assert_eq!(server.authorize_requests(), 3);
}
