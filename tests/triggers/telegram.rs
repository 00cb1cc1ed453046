//! The Telegram trigger against the Bot API imitation's real long polling: a
//! baseline that confirms what waits, one run per matching message within a
//! long poll, and a 409 explained.

use crate::harness::{Harness, plan};
use flowpilot_core::triggers::TriggerHealth;
use flowpilot_tests::Telegram;
use flowpilot_tests::telegram::{IncomingMessage, TELEGRAM_TOKEN};
use serde_json::{Value, json};

fn trigger(tg: &Telegram, extra: Value) -> Value {
    let mut t = json!({"type": "telegram", "credential": "bot", "api_base": tg.api_base()});
    if let (Value::Object(t), Value::Object(extra)) = (&mut t, extra) {
        t.extend(extra);
    }
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_messages_start_nothing_and_each_new_command_runs_once() {
    let tg = Telegram::start().await;
    tg.push_message(IncomingMessage::text(42, "sent before Flowpilot watched"));
    let h = Harness::start().await;
    h.credential("telegram", "bot", TELEGRAM_TOKEN);
    let id = h.add_plan(&plan(
        "Summarize",
        trigger(&tg, json!({"command": "/summarize", "chat_id": 42})),
        json!({"text": "${trigger.item.text}", "chat": "${trigger.item.chat.id}", "update": "${trigger.item.update_id}"}),
    ));
    // The watcher long-polls from its start; wait until it has recorded its baseline.
    h.rec.wait_until("the baseline", |_| h.status(&id).note.is_some()).await;
    assert!(h.status(&id).note.unwrap().contains("1 waiting update started nothing"));
    assert!(tg.pending_updates().is_empty(), "the baseline confirmed what waited");

    tg.push_message(IncomingMessage::text(42, "just chatting"));
    let wanted = tg.push_message(IncomingMessage::command(42, "/summarize", "the news"));
    tg.push_message(IncomingMessage::command(7, "/summarize", "another chat"));
    let runs = h.rec.wait_for_runs(1).await;
    let out = Harness::output(&runs[0]);
    assert_eq!(out["text"], "/summarize the news");
    assert_eq!((out["chat"].clone(), out["update"].clone()), (json!(42), json!(wanted)));
    // A later long poll asks from past all three, which confirms them; nothing else ran.
    tg.wait_until("a getUpdates that confirms the three", |requests| {
        requests.iter().any(|r| {
            r.path.ends_with("/getUpdates")
                && serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|b| b["offset"].as_i64())
                    == Some(wanted + 2)
        })
    })
    .await;
    assert!(tg.wait_all_confirmed().await, "{:?}", tg.pending_updates());
    assert_eq!(h.runs_of(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_set_for_the_bot_is_a_409_explained() {
    let tg = Telegram::start().await;
    tg.set_webhook("https://example.test/hook");
    let h = Harness::start().await;
    h.credential("telegram", "bot", TELEGRAM_TOKEN);
    let id = h.add_plan(&plan(
        "Conflict",
        trigger(&tg, json!({})),
        json!("${trigger.item.text}"),
    ));
    h.rec.wait_until("the 409", |_| h.status(&id).failures > 0).await;
    let s = h.status(&id);
    assert_eq!(s.health, TriggerHealth::Failing);
    let error = s.last_error.unwrap();
    assert!(error.contains("409") && error.contains("deleteWebhook"), "{error}");
    assert!(!error.contains(TELEGRAM_TOKEN), "the token is never in a message");
}
