//! The trigger commands and events through the real IPC: a webhook URL the app
//! serves, statuses in words, standby while `serve` runs, a port in use.

use super::{Harness, greeting_plan};
use crate::shell::Desktop;
use crate::state::{AppState, Backend};
use flowpilot_core::api::Options;
use flowpilot_core::secrets::Keychain;
use serde_json::json;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::{Manager, WebviewWindowBuilder};
use tauri_specta::Event;

/// POST `{}` to an `http://127.0.0.1:<port>/path` URL; the status and the body.
fn post(url: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Wait for a `T` event that passes `wanted`; fail after 20 s.
fn next_event<T: tauri_specta::Event + serde::de::DeserializeOwned + Clone + Send + 'static>(
    h: &Harness,
    wanted: impl Fn(&T) -> bool + Send + 'static,
) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    T::listen_any(h.app.handle(), move |e| {
        if wanted(&e.payload) {
            let _ = tx.send(e.payload);
        }
    });
    rx
}

#[test]
fn a_webhook_plan_has_a_url_the_app_serves_and_its_status_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let servers = {
        let (tx, rx) = mpsc::channel();
        (tx, rx)
    };
    let h = Harness::open(dir, |_| {});
    let tx = servers.0.clone();
    crate::events::WebhookServerChanged::listen_any(h.app.handle(), move |e| {
        let _ = tx.send(e.payload);
    });
    // The server may have started before the listener: ask, else wait for it.
    let listening = h.ok("webhook_server", json!({}))["listening"] == true
        || servers
            .1
            .recv_timeout(Duration::from_secs(20))
            .expect("the webhook server did not start")
            .status
            .listening;
    assert!(listening);
    let mut plan = greeting_plan("Called");
    plan["trigger"] = json!({"type": "webhook", "respond": "sync"});
    let created = h.ok("create_plan", json!({"plan": plan}));
    let id = created["id"].as_str().unwrap().to_string();
    let status = h.ok("get_trigger", json!({"planId": id}));
    assert_eq!(
        status["description"],
        "When this URL is called; answers with the run's result"
    );
    assert_eq!(status["health"], "watching");
    let url = status["webhook_url"].as_str().unwrap().to_string();
    let listed = h.ok("list_plans", json!({}));
    assert_eq!(listed[0]["trigger_description"], status["description"]);

    let (status, body) = post(&url);
    assert_eq!(status, 200);
    assert_eq!(body, "\"Hello, world!\"");

    let changed = next_event::<crate::events::TriggerChanged>(&h, |_| true);
    let new_url = h.ok("regenerate_webhook_url", json!({"planId": id}));
    assert_ne!(new_url.as_str().unwrap(), url);
    let told = changed
        .recv_timeout(Duration::from_secs(20))
        .expect("no trigger-changed event");
    assert_eq!(told.status.webhook_url.as_deref(), new_url.as_str());
    assert_eq!(post(&url).0, 404);

    let words = h.ok(
        "describe_trigger",
        json!({"trigger": {"type": "email", "host": "imap.example.com", "username": "me", "credential": "c", "match": {"keywords": ["invoice"]}}}),
    );
    assert_eq!(words, "When an email with “invoice” arrives in INBOX of me");
    let triggers = h.ok("list_triggers", json!({}));
    assert_eq!(triggers.as_array().unwrap().len(), 1);
}

#[test]
fn while_serve_runs_the_triggers_the_app_shows_plans_and_says_who_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let held = flowpilot_core::runner_lock::claim(dir.path(), "flowpilot-cli serve").unwrap();
    let h = Harness::open(dir, |_| {});
    let health = h.ok("health", json!({}));
    assert_eq!(health["scheduler"]["runs_elsewhere"], held.holder());
    h.ok("create_plan", json!({"plan": greeting_plan("Still here")}));
    assert_eq!(h.ok("list_plans", json!({})).as_array().unwrap().len(), 1);
    let server = h.ok("webhook_server", json!({}));
    assert_eq!(server["listening"], false);
    assert!(
        server["error"].as_str().unwrap().contains("flowpilot-cli serve"),
        "{server}"
    );
    let check = h.err("check_trigger", json!({"planId": "x"}));
    assert_eq!(check["code"], "bad_input");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .contains("triggers run in flowpilot-cli serve"),
        "{check}"
    );
}

#[test]
fn a_port_in_use_is_a_notice_and_the_app_keeps_working() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    {
        let flow = flowpilot_core::api::Flowpilot::open(Options {
            data_dir: Some(dir.path().to_path_buf()),
            keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
            clock: None,
        })
        .unwrap();
        let mut settings = flow.settings().unwrap();
        settings.webhooks.port = port;
        flow.set_settings(&settings).unwrap();
    }
    let bindings = crate::bindings::builder::<MockRuntime>();
    let app = mock_builder()
        .invoke_handler(bindings.invoke_handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    bindings.mount_events(&app);
    let (tx, rx) = mpsc::channel();
    crate::events::Notice::listen_any(app.handle(), move |e| {
        let _ = tx.send(e.payload);
    });
    let options = Options {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
        clock: None,
    };
    let opened = AppState::open(options, Arc::new(Desktop::new(app.handle().clone())));
    app.manage(Backend::new(opened));
    let window = WebviewWindowBuilder::new(&app, crate::window::MAIN, Default::default())
        .build()
        .unwrap();
    let h = Harness { app, window, dir };
    let notice = rx.recv_timeout(Duration::from_secs(20)).expect("no notice");
    assert_eq!(notice.kind, flowpilot_core::notices::NoticeKind::WebhookServer);
    assert!(
        notice.body.contains(&format!("Port {port} is in use")),
        "{}",
        notice.body
    );
    let server = h.ok("webhook_server", json!({}));
    assert_eq!(server["listening"], false);
    assert!(server["error"].as_str().unwrap().contains("in use"));
    h.ok("create_plan", json!({"plan": greeting_plan("Works anyway")}));
    drop(taken);
}
