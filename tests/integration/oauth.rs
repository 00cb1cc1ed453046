//! An OAuth 2.0 integration against an authorization server on 127.0.0.1:
//! connected through the loopback redirect (PKCE verifier checked by the
//! server, `state` checked by Flowpilot), used by a plan, refreshed once
//! before the request or after a 401, and marked "needs reconnecting" when
//! the refresh is refused.

use flowpilot_core::api::{ApiError, ErrorCode as ApiErrorCode, Flowpilot, Options, ResolvedPlan};
use flowpilot_core::secrets::Keychain;
use flowpilot_core::store::ConnectionState;
use flowpilot_engine::integration::definition::OAuth2Auth;
use flowpilot_engine::integration::oauth::{self, ClientCredentials};
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{ErrorCode, Plan, RunOutcome, Sensitive, StepStatus};
use flowpilot_tests::OAuth2Server;
use flowpilot_tests::oauth2::{OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn definition(server: &OAuth2Server) -> Value {
    json!({
        "name": "acme",
        "title": "Acme",
        "format_version": 1,
        "base_url": server.base_url(),
        "auth": {"type": "oauth2", "authorize_url": server.authorize_url(), "token_url": server.token_url(),
                 "scopes": ["profile"], "client_id_secret": "client_id", "client_secret_secret": "client_secret"},
        "secrets": {"client_id": {"label": "OAuth client id"}, "client_secret": {"label": "OAuth client secret"}},
        "actions": {"me": {"title": "Who am I", "method": "GET", "path": "/api/me",
                           "params": {"type": "object", "properties": {}}, "example": {}}}
    })
}

fn open(dir: &std::path::Path) -> Arc<Flowpilot> {
    Arc::new(
        Flowpilot::open(Options {
            data_dir: Some(dir.to_path_buf()),
            keychain: Some(Keychain::with_store(
                keyring_core::mock::Store::new().expect("test setup"),
            )),
            clock: None,
        })
        .expect("test setup"),
    )
}

/// A facade with the integration saved and its OAuth client set, not connected yet.
fn with_client(server: &OAuth2Server, dir: &std::path::Path) -> Arc<Flowpilot> {
    let app = open(dir);
    app.save_integration(definition(server)).expect("test setup");
    app.set_credential("acme", "client_id", Sensitive::new(OAUTH_CLIENT_ID.into()))
        .expect("test setup");
    app.set_credential("acme", "client_secret", Sensitive::new(OAUTH_CLIENT_SECRET.into()))
        .expect("test setup");
    app
}

/// A facade with the integration saved, its client set, and connected.
async fn connected(server: &OAuth2Server, dir: &std::path::Path) -> Arc<Flowpilot> {
    let app = with_client(server, dir);
    let start = app.start_oauth_connect("acme").await.expect("test setup");
    assert!(start.redirect_uri.starts_with("http://127.0.0.1:"));
    let finishing = {
        let app = app.clone();
        tokio::spawn(async move { app.finish_oauth_connect("acme", Duration::from_secs(20)).await })
    };
    let (visit, callback) = server.browse(&start.authorize_url).await;
    assert_eq!(visit.status, 302, "{visit:?}");
    assert_eq!(callback.map(|c| c.0), Some(200));
    finishing.await.expect("test setup").expect("test setup");
    app
}

async fn me(app: &Flowpilot) -> RunOutcome {
    let plan = json!({"name": "who", "steps": [{"provider": "acme", "action": "me", "params": {}}]});
    let target = ResolvedPlan {
        plan_id: None,
        version: None,
        plan: Plan::from_value(plan, &app.registry()).expect("test setup"),
    };
    app.run_plan(target, "cli", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .expect("test setup")
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_use_and_refresh_after_a_401_and_before_expiry() {
    let server = OAuth2Server::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let app = connected(&server, dir.path()).await;
    assert_eq!(server.token_requests().authorization_code, 1);
    let listed = app.list_integrations().expect("test setup");
    let acme = listed.iter().find(|i| i.name == "acme").expect("test setup");
    assert!(acme.connection.as_ref().is_some_and(|c| c.connected));

    let first = me(&app).await;
    assert_eq!(first.steps[0].status, StepStatus::Success, "{:#?}", first.steps[0]);
    assert_eq!(first.steps[0].output["name"], "Ada Lovelace");

    // The server expires the token early: a 401, one refresh, the request again.
    server.expire_access_tokens();
    let again = me(&app).await;
    assert_eq!(again.steps[0].status, StepStatus::Success, "{:#?}", again.steps[0]);
    assert_eq!(server.token_requests().refresh_token, 1);

    // A token known to be due is refreshed before the request.
    app.set_credential(
        "acme",
        "oauth_expires_at",
        Sensitive::new("2000-01-01T00:00:00Z".into()),
    )
    .expect("test setup");
    let before = server.requests_to("/api/me").len();
    let third = me(&app).await;
    assert_eq!(third.steps[0].status, StepStatus::Success);
    assert_eq!(server.token_requests().refresh_token, 2);
    assert_eq!(
        server.requests_to("/api/me").len(),
        before + 1,
        "no request with the old token"
    );
    for outcome in [&first, &again, &third] {
        let text = serde_json::to_string(outcome).expect("test setup");
        assert!(!text.contains("at_") && !text.contains("rt_"), "a token leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_refresh_marks_the_integration_as_needing_reconnection() {
    let server = OAuth2Server::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let app = connected(&server, dir.path()).await;
    server.fail_refresh(true);
    server.expire_access_tokens();
    let failed = me(&app).await;
    let step = &failed.steps[0];
    assert_eq!(step.status, StepStatus::Error);
    assert_eq!(step.error, Some(ErrorCode::NeedsReconnect));
    assert!(step.message.contains("needs reconnecting"), "{}", step.message);
    let failed_error = failed.error.clone().unwrap_or_default();
    assert!(
        failed_error.contains("needs reconnecting"),
        "the run's notice says it: {failed_error}"
    );
    let acme = app
        .list_integrations()
        .expect("test setup")
        .into_iter()
        .find(|i| i.name == "acme")
        .expect("test setup");
    assert_eq!(
        acme.connection.and_then(|c| c.state),
        Some(ConnectionState::NeedsReconnecting)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callback_with_another_state_is_refused() {
    let server = OAuth2Server::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let app = with_client(&server, dir.path());
    let start = app.start_oauth_connect("acme").await.expect("test setup");
    let finishing = {
        let app = app.clone();
        tokio::spawn(async move { app.finish_oauth_connect("acme", Duration::from_secs(20)).await })
    };
    let forged = format!("{}?code=stolen-code&state=not-the-one", start.redirect_uri);
    let answer = reqwest::get(&forged).await.expect("test setup");
    assert_eq!(answer.status(), 400);
    let error = finishing.await.expect("test setup").unwrap_err();
    assert!(error.to_string().contains("state"), "{error}");
    assert_eq!(
        server.token_requests().authorization_code,
        0,
        "the code was not exchanged"
    );
    assert!(
        !app.list_credentials()
            .expect("test setup")
            .iter()
            .any(|c| c.field == "oauth_access_token")
    );
}

#[tokio::test]
async fn the_server_holds_the_code_to_the_pkce_verifier() {
    let server = OAuth2Server::start().await;
    let auth = OAuth2Auth {
        authorize_url: server.authorize_url(),
        token_url: server.token_url(),
        scopes: vec![],
        client_id_secret: "client_id".into(),
        client_secret_secret: Some("client_secret".into()),
        authorize_params: Default::default(),
    };
    let client = ClientCredentials {
        client_id: OAUTH_CLIENT_ID.into(),
        client_secret: Some(Sensitive::new(OAUTH_CLIENT_SECRET.into())),
    };
    let redirect = "http://127.0.0.1:9/callback";
    let start = oauth::start(&auth, &client, redirect).expect("test setup");
    assert!(start.url.contains("code_challenge_method=S256"), "{}", start.url);
    let visit = server.visit(&start.url).await;
    let code = visit.code.expect("a code");
    let http = flowpilot_engine::http_client::default_http_client();
    let wrong = Sensitive::new("a-verifier-that-is-not-the-one-used-for-the-challenge-0123".to_string());
    let refused = oauth::exchange_code(&http, &auth, &client, redirect, &code, &wrong).await;
    assert!(
        matches!(&refused, Err(oauth::OAuthError::Refused(e)) if e.contains("invalid_grant")),
        "{refused:?}"
    );
}

/// The port of a redirect URI (`http://127.0.0.1:<port>/callback`).
fn port_of(redirect_uri: &str) -> u16 {
    reqwest::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| u.port())
        .expect("a loopback redirect with a port")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_waiting_for_the_browser_is_cancelled_and_its_port_freed() {
    let server = OAuth2Server::start().await;
    let dir = tempfile::tempdir().expect("test setup");
    let app = with_client(&server, dir.path());
    let start = app.start_oauth_connect("acme").await.expect("test setup");
    let port = port_of(&start.redirect_uri);
    let finishing = {
        let app = app.clone();
        // As long as the app waits: only the cancel can end it within the test.
        tokio::spawn(async move { app.finish_oauth_connect("acme", Duration::from_secs(300)).await })
    };
    // The listener answers another path only once `finish` serves it: it is waiting.
    let probe = format!("http://127.0.0.1:{port}/favicon.ico");
    assert_eq!(reqwest::get(&probe).await.expect("test setup").status(), 404);

    assert!(app.cancel_oauth_connect("acme"), "a connection was under way");
    let ended = tokio::time::timeout(Duration::from_secs(10), finishing)
        .await
        .expect("the wait ends as soon as it is cancelled")
        .expect("test setup");
    assert!(matches!(ended, Err(ApiError::Cancelled(_))), "{ended:?}");
    assert_eq!(ApiError::Cancelled(String::new()).code(), ApiErrorCode::Cancelled);

    // The port is free: the browser's late return finds nobody, and we can listen there.
    let late = format!("{}?code=late&state=whatever", start.redirect_uri);
    assert!(reqwest::get(&late).await.is_err(), "nothing listens on {port} any more");
    let again = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
    assert!(again.is_ok(), "port {port} was freed: {again:?}");
    drop(again);
    assert!(!app.cancel_oauth_connect("acme"), "nothing left to cancel");
    assert_eq!(server.token_requests().authorization_code, 0);
    assert!(
        !app.list_credentials()
            .expect("test setup")
            .iter()
            .any(|c| c.field == "oauth_access_token")
    );

    // Cancelled before `finish` began: the listener goes too, and `finish` finds nothing.
    let begun = app.start_oauth_connect("acme").await.expect("test setup");
    assert!(app.cancel_oauth_connect("acme"));
    let free = tokio::net::TcpListener::bind(("127.0.0.1", port_of(&begun.redirect_uri))).await;
    assert!(free.is_ok(), "{free:?}");
    drop(free);
    let nothing = app.finish_oauth_connect("acme", Duration::from_secs(1)).await;
    assert!(matches!(nothing, Err(ApiError::NotFound { .. })), "{nothing:?}");

    // And connecting again afterwards works as ever.
    let start = app.start_oauth_connect("acme").await.expect("test setup");
    let finishing = {
        let app = app.clone();
        tokio::spawn(async move { app.finish_oauth_connect("acme", Duration::from_secs(20)).await })
    };
    let (_, callback) = server.browse(&start.authorize_url).await;
    assert_eq!(callback.map(|c| c.0), Some(200));
    finishing.await.expect("test setup").expect("connected after a cancel");
}
