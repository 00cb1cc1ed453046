//! The commands as the webview calls them: through Tauri's mock runtime and its
//! IPC, against a real SQLite file in a temporary data folder, with the keychain
//! replaced by keyring-core's in-memory store.

use crate::events::{RunFinished, ScheduleChanged};
use crate::shell::Desktop;
use crate::state::{AppState, Backend};
use flowpilot_core::api::Options;
use flowpilot_core::secrets::Keychain;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};
use tauri_specta::Event;

struct Harness {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::open(dir, |_| {})
    }

    /// An app on `dir`, after `prepare` did what it wants to the folder.
    fn open(dir: tempfile::TempDir, prepare: impl FnOnce(&std::path::Path)) -> Self {
        prepare(dir.path());
        let bindings = crate::bindings::builder::<MockRuntime>();
        let app = mock_builder()
            .invoke_handler(bindings.invoke_handler())
            .build(mock_context(noop_assets()))
            .unwrap();
        bindings.mount_events(&app);
        let options = Options {
            data_dir: Some(dir.path().to_path_buf()),
            keychain: Some(Keychain::with_store(keyring_core::mock::Store::new().unwrap())),
            clock: None,
        };
        let opened = AppState::open_with_port(options, Arc::new(Desktop::new(app.handle().clone())), Some(0));
        app.manage(Backend::new(opened));
        let window = WebviewWindowBuilder::new(&app, crate::window::MAIN, Default::default())
            .build()
            .unwrap();
        Self { app, window, dir }
    }

    /// Call a command as the webview does; the JSON it answers or rejects with.
    fn invoke(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // On Linux the app's own pages are served from this origin.
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&self.window, request).map(|body| body.deserialize::<Value>().unwrap())
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.invoke(cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn err(&self, cmd: &str, args: Value) -> Value {
        match self.invoke(cmd, args) {
            Ok(v) => panic!("{cmd} should fail, answered {v}"),
            Err(e) => e,
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Ok(state) = self.app.state::<Backend>().get() {
            state.shutdown();
        }
    }
}

fn greeting_plan(name: &str) -> Value {
    json!({
        "name": name,
        "status": "active",
        "steps": [
            {"id": "who", "provider": "logic", "action": "set", "params": {"value": "world"}},
            {"provider": "logic", "action": "template", "params": {"template": "Hello, ${steps.who.output}!"}}
        ]
    })
}

#[test]
fn providers_come_with_actions_and_schemas() {
    let h = Harness::new();
    let providers = h.ok("providers", json!({}));
    let names: Vec<&str> = providers
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in ["http", "webhook", "logic", "openai", "delay"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let logic = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "logic")
        .unwrap();
    let set = logic["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "set")
        .unwrap();
    assert!(set["params_schema"].is_object(), "{set}");
    assert_eq!(set["side_effects"], false);
    let openai = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "openai")
        .unwrap();
    assert_eq!(openai["credential_fields"], json!(["api_key"]));
}

/// The UI's component tests build forms from a copy of the catalogue; it must be
/// the catalogue the app serves. Regenerate it with `UPDATE_BINDINGS=1 cargo test
/// --workspace bindings` (with the TypeScript bindings).
#[test]
fn bindings_fixture_of_the_providers_matches_the_catalogue() {
    let h = Harness::new();
    let served = h.ok("providers", json!({}));
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/test/fixtures/providers.json");
    if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
        std::fs::write(&fixture, serde_json::to_string_pretty(&served).unwrap() + "\n").unwrap();
        return;
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    assert!(
        committed == served,
        "{} is out of date with the registry: regenerate it with `UPDATE_BINDINGS=1 cargo test --workspace bindings`",
        fixture.display()
    );
}

#[test]
fn health_names_the_data_folder_and_keychain() {
    let h = Harness::new();
    let health = h.ok("health", json!({}));
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["data_dir"], h.dir.path().display().to_string());
    assert_eq!(health["keychain"]["available"], true);
    assert_eq!(
        health["scheduler"],
        json!({"paused": false, "scheduled_plans": 0, "running_schedules": 0, "runs_elsewhere": null})
    );
}

#[test]
fn a_created_plan_is_listed_and_can_be_read_back() {
    let h = Harness::new();
    let created = h.ok("create_plan", json!({"plan": greeting_plan("Greeting")}));
    assert_eq!(created["version"], 1);
    assert_eq!(created["plan"]["name"], "Greeting");
    let id = created["id"].as_str().unwrap();

    let list = h.ok("list_plans", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["trigger"], json!({"type": "manual"}));
    assert_eq!(list[0]["step_count"], 2);

    let detail = h.ok("get_plan", json!({"id": id}));
    assert_eq!(detail["required_providers"], json!(["logic"]));
    assert_eq!(detail["plain_english_steps"].as_array().unwrap().len(), 2);

    // Saving it unchanged adds no version; a change does.
    assert_eq!(
        h.ok("update_plan", json!({"id": id, "plan": greeting_plan("Greeting")}))["version"],
        1
    );
    let mut changed = greeting_plan("Greeting");
    changed["description"] = json!("Says hello");
    let updated = h.ok("update_plan", json!({"id": id, "plan": changed}));
    assert_eq!(updated["version"], 2);
    assert_eq!(h.ok("plan_versions", json!({"id": id})).as_array().unwrap().len(), 2);
    let copy = h.ok("duplicate_plan", json!({"id": id}));
    assert_eq!(copy["plan"]["name"], "Greeting (copy)");
    assert_eq!(copy["plan"]["status"], "draft");
}

#[test]
fn validating_a_bad_plan_locates_every_problem() {
    let h = Harness::new();
    let bad = json!({
        "name": "Broken",
        "steps": [
            {"provider": "nope", "action": "x", "params": {}},
            {"provider": "http", "action": "request", "params": {"method": "GET"}}
        ]
    });
    let issues = h.ok("validate_plan", json!({"plan": bad}));
    let paths: Vec<&str> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(paths.iter().any(|p| p.starts_with("steps[0].provider")), "{issues}");
    assert!(paths.contains(&"steps[1].params.url"), "{issues}");
    assert!(
        issues
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !i["message"].as_str().unwrap().is_empty())
    );
    assert_eq!(h.ok("validate_plan", json!({"plan": greeting_plan("Fine")})), json!([]));
}

#[test]
fn an_invalid_plan_is_rejected_with_code_message_and_issues() {
    let h = Harness::new();
    let bad =
        json!({"name": "Broken", "steps": [{"provider": "http", "action": "request", "params": {"method": "GET"}}]});
    let e = h.err("create_plan", json!({"plan": bad}));
    assert_eq!(e["code"], "invalid_plan");
    assert!(e["message"].as_str().unwrap().contains("steps[0].params.url"), "{e}");
    assert_eq!(e["issues"][0]["path"], "steps[0].params.url");
    assert_eq!(e.as_object().unwrap().len(), 3, "{e}");
    assert_eq!(h.ok("list_plans", json!({})), json!([]));

    let missing = h.err("get_plan", json!({"id": "no-such-plan"}));
    assert_eq!(missing["code"], "not_found");
    assert!(missing.get("issues").is_none(), "{missing}");
}

#[test]
fn credentials_are_listed_without_their_values() {
    let h = Harness::new();
    let secret = "sk-test-5ecret-value";
    let set = h.ok(
        "set_credential",
        json!({"provider": "openai", "field": "api_key", "value": secret}),
    );
    assert_eq!(set, Value::Null);
    let list = h.ok("list_credentials", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["provider"], "openai");
    assert_eq!(list[0]["field"], "api_key");
    assert_eq!(
        list[0].as_object().unwrap().len(),
        4,
        "provider, field, updated_at, allowed_origins only: {list}"
    );
    assert_eq!(list[0]["allowed_origins"], json!([]));
    assert!(!list.to_string().contains(secret));

    let bad = h.err(
        "set_credential",
        json!({"provider": "openai", "field": "api key", "value": secret}),
    );
    assert_eq!(bad["code"], "bad_input");
    assert!(!bad.to_string().contains(secret), "{bad}");

    assert_eq!(
        h.ok("delete_credential", json!({"provider": "openai", "field": "api_key"})),
        true
    );
    assert_eq!(h.ok("list_credentials", json!({})), json!([]));
}

#[test]
fn execute_returns_a_run_id_and_the_run_finishes() {
    let h = Harness::new();
    let (tx, rx) = mpsc::channel();
    RunFinished::listen_any(h.app.handle(), move |e| {
        let _ = tx.send(e.payload);
    });
    let plan = h.ok("create_plan", json!({"plan": greeting_plan("Greeting")}));
    let run_id = h.ok("execute_plan", json!({"planId": plan["id"]}));
    let run_id = run_id.as_str().unwrap().to_string();
    assert!(!run_id.is_empty());

    let finished = rx.recv_timeout(Duration::from_secs(20)).expect("no run-finished event");
    assert_eq!(finished.run_id, run_id);
    assert_eq!(finished.status, flowpilot_engine::RunStatus::Success);

    let detail = h.ok("get_run", json!({"runId": run_id}));
    assert_eq!(detail["run"]["status"], "success");
    assert_eq!(detail["run"]["trigger_kind"], "manual");
    let steps = detail["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["output"], "Hello, world!");

    let page = h.ok("list_runs", json!({"filter": {"plan_id": plan["id"], "status": null, "since": null, "until": null}, "page": {"limit": 10, "offset": 0}}));
    assert_eq!(page["total"], 1);
    let stats = h.ok("stats", json!({"hours": 24}));
    assert_eq!(stats["runs"]["success"], 1);
}

#[test]
fn a_schedule_preview_has_five_times_and_words() {
    let h = Harness::new();
    let preview = h.ok(
        "preview_schedule",
        json!({"cronExpression": "0 9 * * 1-5", "timezone": "Europe/Berlin"}),
    );
    assert_eq!(preview["next"].as_array().unwrap().len(), 5);
    assert_eq!(preview["timezone"], "Europe/Berlin");
    assert!(!preview["description"].as_str().unwrap().is_empty());

    let bad = h.err(
        "preview_schedule",
        json!({"cronExpression": "not cron", "timezone": null}),
    );
    assert_eq!(bad["code"], "invalid_plan");
    assert_eq!(bad["issues"][0]["path"], "trigger.cron_expression");
}

#[test]
fn setting_a_schedule_lists_it_and_tells_the_window() {
    let h = Harness::new();
    let (tx, rx) = mpsc::channel();
    ScheduleChanged::listen_any(h.app.handle(), move |e| {
        let _ = tx.send(e.payload);
    });
    let plan = h.ok("create_plan", json!({"plan": greeting_plan("Daily")}));
    let id = plan["id"].as_str().unwrap();
    let trigger = json!({"cron_expression": "30 7 * * *", "timezone": "America/New_York", "catch_up": "run_once", "overlap": "skip"});
    let saved = h.ok("set_schedule", json!({"planId": id, "trigger": trigger}));
    assert_eq!(saved["plan"]["trigger"]["cron_expression"], "30 7 * * *");

    let changed = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(changed.plan_id.as_deref(), Some(id));
    let schedule = h.ok("get_schedule", json!({"planId": id}));
    assert_eq!(schedule["timezone"], "America/New_York");
    assert_eq!(schedule["active"], true);
    assert!(schedule["next_run_at"].is_string(), "{schedule}");

    h.ok("pause_schedule", json!({"planId": id}));
    assert_eq!(h.ok("list_schedules", json!({}))[0]["paused"], true);
    h.ok("pause_all_schedules", json!({}));
    assert_eq!(h.ok("health", json!({}))["scheduler"]["paused"], true);
}

#[test]
fn the_on_off_switch_lifts_a_pause_and_makes_no_version() {
    let h = Harness::new();
    let plan = h.ok("create_plan", json!({"plan": greeting_plan("Switch")}));
    let id = plan["id"].as_str().unwrap();
    let trigger = json!({"cron_expression": "30 7 * * *", "catch_up": "run_once", "overlap": "skip"});
    let version = h.ok("set_schedule", json!({"planId": id, "trigger": trigger}))["version"].clone();
    h.ok("pause_schedule", json!({"planId": id}));

    let off = h.ok("set_plan_on", json!({"id": id, "on": false}));
    assert_eq!((&off["plan"]["status"], &off["version"]), (&json!("draft"), &version));
    assert!(h.ok("get_schedule", json!({"planId": id}))["next_run_at"].is_null());
    let on = h.ok("set_plan_on", json!({"id": id, "on": true}));
    assert_eq!((&on["plan"]["status"], &on["version"]), (&json!("active"), &version));
    let schedule = h.ok("get_schedule", json!({"planId": id}));
    assert_eq!(
        (&schedule["paused"], &schedule["active"]),
        (&json!(false), &json!(true))
    );
    assert!(schedule["next_run_at"].is_string(), "{schedule}");
}

#[test]
fn a_plan_file_of_a_taken_name_is_imported_as_a_copy() {
    let h = Harness::new();
    h.ok("create_plan", json!({"plan": greeting_plan("Greeting")}));
    let text = greeting_plan("Greeting").to_string();
    let copy = h.ok("import_plan_copy", json!({"text": text}));
    assert_eq!(copy["plan"]["name"], "Greeting (copy)");
    assert_eq!(copy["plan"]["status"], "draft");
    assert_eq!(h.ok("list_plans", json!({})).as_array().unwrap().len(), 2);
    assert_eq!(h.err("import_plan_copy", json!({"text": "{"}))["code"], "invalid_plan");
}

#[test]
fn settings_round_trip_and_bad_values_are_refused() {
    let h = Harness::new();
    let mut settings = h.ok("get_settings", json!({}));
    assert_eq!(settings["concurrency"], 4);
    settings["retention_days"] = json!(7);
    settings["concurrency"] = json!(2);
    assert_eq!(h.ok("set_settings", json!({"settings": settings}))["retention_days"], 7);
    // The scheduler follows at once, not at the next start.
    let state = h.app.state::<Backend>().get().unwrap();
    assert_eq!(state.scheduler.concurrency(), 2);
    settings["concurrency"] = json!(0);
    let e = h.err("set_settings", json!({"settings": settings}));
    assert_eq!(e["code"], "bad_input");
    assert_eq!(h.ok("get_settings", json!({}))["concurrency"], 2);
    assert_eq!(state.scheduler.concurrency(), 2);
}

#[test]
fn a_database_from_a_newer_flowpilot_is_reported_not_fatal() {
    let h = Harness::open(tempfile::tempdir().unwrap(), |dir| {
        let conn = rusqlite::Connection::open(dir.join(flowpilot_core::api::DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 9999).unwrap();
    });
    let e = h.err("health", json!({}));
    assert_eq!(e["code"], "storage");
    assert!(e["message"].as_str().unwrap().contains("newer Flowpilot"), "{e}");
    assert_eq!(h.err("list_plans", json!({}))["code"], "storage");
}

mod editor;
mod triggers;
#[test]
fn an_imported_plan_arrives_inactive_with_its_review_and_is_activated_on_purpose() {
    let h = Harness::new();
    let shared = json!({
        "name": "Shared summary",
        "status": "active",
        "trigger": {"type": "cron", "cron_expression": "*/5 * * * *", "timezone": "UTC"},
        "steps": [
            {"provider": "openai", "action": "chat_completion",
             "params": {"prompt": "hi", "base_url": "https://collector.example.net"}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": "http://169.254.169.254/latest", "payload": {"t": "${steps.0.output}"}}}
        ]
    });
    let row = h.ok("import_plan_text", json!({"text": shared.to_string()}));
    assert_eq!(row["plan"]["status"], "draft");
    let id = row["id"].as_str().unwrap();

    let review = h.ok("review_stored_plan", json!({"id": id}));
    assert_eq!(review["status"], "draft");
    let origins: Vec<&str> = review["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, ["https://collector.example.net", "http://169.254.169.254"]);
    assert_eq!(review["credentials"][0]["provider"], "openai");
    assert_eq!(
        review["credentials"][0]["sent_to"],
        json!(["https://collector.example.net"])
    );
    assert_eq!(review["writes"].as_array().unwrap().len(), 1);
    assert_eq!(review["writes"][0]["provider"], "webhook");
    assert_eq!(review["warnings"][0]["kind"], "private_target");
    assert_eq!(review["warnings"][0]["path"], "steps[1].params.url");
    // The same review of the document before anything is stored.
    let before = h.ok("review_plan", json!({"plan": shared}));
    assert_eq!(
        (&before["status"], &before["hosts"]),
        (&json!("active"), &review["hosts"])
    );

    let activated = h.ok("activate_plan", json!({"id": id}));
    assert_eq!(activated["plan"]["status"], "active");
    assert_eq!(h.ok("list_schedules", json!({}))[0]["active"], true);
}
