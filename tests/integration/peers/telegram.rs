//! The Telegram Bot API imitation: long polling as the real getUpdates does
//! it, and sendMessage's answers and errors.

use super::{client, header};
use flowpilot_tests::telegram::{IncomingMessage, TELEGRAM_TOKEN, Telegram, TelegramFault};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn call(telegram: &Telegram, method: &str, params: Value) -> (u16, Value) {
    let response = client()
        .post(telegram.method_url(method))
        .json(&params)
        .send()
        .await
        .expect("the call is answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

fn update_ids(answer: &Value) -> Vec<i64> {
    answer["result"]
        .as_array()
        .expect("a result array")
        .iter()
        .map(|u| u["update_id"].as_i64().expect("an update_id"))
        .collect()
}

#[tokio::test]
async fn telegram_long_poll_answers_as_soon_as_a_message_is_pushed() {
    let telegram = Telegram::start().await;
    let url = telegram.method_url("getUpdates");
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        client()
            .get(format!("{url}?offset=0&timeout=25&allowed_updates=%5B%22message%22%5D"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    telegram.wait_for_requests(1).await;
    assert!(!poll.is_finished(), "with nothing to deliver the request is held");
    let id = telegram.push_message(IncomingMessage::command(42, "/summarize", "today"));

    let answer = poll.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered on the push, not at the 25 s timeout"
    );
    assert_eq!(answer["ok"], true);
    let update = &answer["result"][0];
    assert_eq!(update["update_id"], id);
    let message = &update["message"];
    assert_eq!(message["text"], "/summarize today");
    assert_eq!(
        message["chat"],
        json!({"id": 42, "first_name": "Ada", "username": "ada_test", "type": "private"})
    );
    assert_eq!(message["from"]["id"], 42);
    assert!(message["date"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        message["entities"],
        json!([{"offset": 0, "length": 10, "type": "bot_command"}])
    );
}

#[tokio::test]
async fn telegram_get_updates_confirms_every_update_below_the_offset() {
    let telegram = Telegram::start().await;
    let ids: Vec<i64> = (1..=3)
        .map(|n| telegram.push_message(IncomingMessage::text(7, &format!("message {n}"))))
        .collect();

    let (_, all) = call(&telegram, "getUpdates", json!({"timeout": 0})).await;
    assert_eq!(update_ids(&all), ids, "without an offset nothing is confirmed");
    let (_, again) = call(&telegram, "getUpdates", json!({"offset": ids[1]})).await;
    assert_eq!(
        update_ids(&again),
        ids[1..],
        "offset = id confirms the ones below it only"
    );
    assert_eq!(telegram.pending_updates().len(), 2, "the first one is forgotten");
    let (_, limited) = call(&telegram, "getUpdates", json!({"offset": ids[1], "limit": 1})).await;
    assert_eq!(update_ids(&limited), [ids[1]]);
    let (_, none) = call(&telegram, "getUpdates", json!({"offset": ids[2] + 1, "timeout": 0})).await;
    assert_eq!(none, json!({"ok": true, "result": []}));
    assert!(telegram.pending_updates().is_empty());

    let newest = telegram.push_message(IncomingMessage::text(7, "a"));
    telegram.push_message(IncomingMessage::text(7, "b"));
    let (_, last) = call(&telegram, "getUpdates", json!({"offset": -1})).await;
    assert_eq!(
        update_ids(&last),
        [newest + 1],
        "a negative offset keeps the newest only"
    );
}

#[tokio::test]
async fn telegram_a_second_poller_or_a_webhook_is_a_409_conflict() {
    let telegram = Telegram::start().await;
    let url = telegram.method_url("getUpdates");
    let first = tokio::spawn(async move {
        let r = client().get(format!("{url}?timeout=25")).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    telegram.wait_for_requests(1).await;
    let (status, _) = call(&telegram, "getUpdates", json!({"timeout": 0})).await;
    assert_eq!(status, 200);
    assert_eq!(
        first.await.unwrap(),
        (
            409,
            json!({"ok": false, "error_code": 409,
                   "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"})
        )
    );

    let (status, set) = call(
        &telegram,
        "setWebhook",
        json!({"url": "https://hooks.example.test/bot"}),
    )
    .await;
    assert_eq!((status, set["result"].clone()), (200, json!(true)));
    let (status, conflict) = call(&telegram, "getUpdates", json!({})).await;
    assert_eq!(status, 409);
    assert_eq!(
        conflict["description"],
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
    let (_, deleted) = call(&telegram, "deleteWebhook", json!({})).await;
    assert_eq!(deleted["description"], "Webhook was deleted");
    assert_eq!(call(&telegram, "getUpdates", json!({})).await.0, 200);
}

#[tokio::test]
async fn telegram_send_message_answers_a_message_or_the_documented_error() {
    let telegram = Telegram::start().await;
    let (status, sent) = call(
        &telegram,
        "sendMessage",
        json!({"chat_id": 42, "text": "<b>Summary</b> ready", "parse_mode": "HTML", "disable_notification": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sent["ok"], true);
    let message = &sent["result"];
    assert!(message["message_id"].as_i64().unwrap() > 0);
    assert_eq!(
        (message["chat"]["id"].clone(), message["text"].clone()),
        (json!(42), json!("<b>Summary</b> ready"))
    );
    assert_eq!(message["from"]["is_bot"], true);
    assert_eq!(telegram.sent()[0].params["disable_notification"], true);

    let (status, too_long) = call(
        &telegram,
        "sendMessage",
        json!({"chat_id": 42, "text": "x".repeat(4097)}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        too_long,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: message is too long"})
    );
    assert_eq!(
        call(
            &telegram,
            "sendMessage",
            json!({"chat_id": 42, "text": "x".repeat(4096)})
        )
        .await
        .0,
        200
    );
    let (_, reserved) = call(
        &telegram,
        "sendMessage",
        json!({"chat_id": 42, "text": "v1.5", "parse_mode": "MarkdownV2"}),
    )
    .await;
    assert!(
        reserved["description"]
            .as_str()
            .unwrap()
            .starts_with("Bad Request: can't parse entities: Character '.'")
    );
    let (_, unclosed) = call(
        &telegram,
        "sendMessage",
        json!({"chat_id": 42, "text": "<b>x", "parse_mode": "HTML"}),
    )
    .await;
    assert!(unclosed["description"].as_str().unwrap().contains("Can't find end tag"));

    let wrong = client()
        .post(telegram.url("/bot123456:wrong/sendMessage"))
        .json(&json!({"chat_id": 42, "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap(),
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );

    telegram.fail_next(TelegramFault::TooManyRequests { retry_after: 7 }, 1);
    let limited = client()
        .post(telegram.method_url("sendMessage"))
        .form(&[("chat_id", "42"), ("text", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(
        header(&limited, "retry-after"),
        None,
        "Telegram gives the delay in the body only"
    );
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}})
    );

    let (_, document) = call(
        &telegram,
        "sendDocument",
        json!({"chat_id": 42, "document": "https://files.example.test/report.pdf", "caption": "Report"}),
    )
    .await;
    assert_eq!(document["result"]["document"]["file_name"], "report.pdf");
    let (_, me) = call(&telegram, "getMe", json!({})).await;
    assert_eq!(me["result"]["is_bot"], true);
    assert_eq!(telegram.sent().len(), 3, "two messages and a document");
    assert!(telegram.method_url("getMe").contains(TELEGRAM_TOKEN));
}
