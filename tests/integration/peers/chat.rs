//! The Slack and Discord imitations: webhooks and Slack's Web API, their
//! answers, their errors and their rate limits.

use super::{client, header};
use flowpilot_tests::discord::{Discord, DiscordFault};
use flowpilot_tests::slack::{SLACK_BOT_TOKEN, Slack, SlackFault};
use serde_json::{Value, json};

#[tokio::test]
async fn slack_webhook_answers_ok_as_text_and_its_errors_as_text() {
    let slack = Slack::start().await;
    let posted = client()
        .post(slack.webhook_url())
        .json(&json!({"text": "Build passed", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*ok*"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    assert_eq!(posted.text().await.unwrap(), "ok");
    assert_eq!(slack.webhook_posts()[0]["text"], "Build passed");

    let cases: [(String, &str, u16, &str); 4] = [
        (slack.webhook_url(), "{not json", 400, "invalid_payload"),
        (slack.webhook_url(), "{\"blocks\": []}", 400, "no_text"),
        (
            slack.url("/services/T000/B000/WRONG"),
            "{\"text\": \"x\"}",
            403,
            "invalid_token",
        ),
        (
            slack.url("/services/T999/B000/XXXX"),
            "{\"text\": \"x\"}",
            404,
            "no_service",
        ),
    ];
    for (url, body, status, text) in cases {
        let r = client()
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(r.text().await.unwrap(), text);
    }

    slack.fail_next(SlackFault::RateLimited { retry_after: 30 }, 1);
    let limited = client()
        .post(slack.webhook_url())
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), Some("30"));

    slack.archive_channel("general");
    let archived = client()
        .post(slack.webhook_url())
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (archived.status().as_u16(), archived.text().await.unwrap()),
        (410, "channel_is_archived".into())
    );
    assert_eq!(slack.webhook_posts().len(), 1);
}

#[tokio::test]
async fn slack_chat_post_message_answers_200_with_ok_true_or_ok_false() {
    let slack = Slack::start().await;
    let url = slack.url("/api/chat.postMessage");
    let posted: Value = client()
        .post(&url)
        .bearer_auth(SLACK_BOT_TOKEN)
        .header("content-type", "application/json; charset=utf-8")
        .body(json!({"channel": "#general", "text": "hello"}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["ok"], true);
    assert_eq!(posted["channel"], "C0123456789");
    assert!(posted["ts"].as_str().unwrap().contains('.'));
    assert_eq!(posted["message"]["text"], "hello");
    assert!(posted.get("warning").is_none());

    // reqwest's .json() sends no charset: Slack accepts it with a warning.
    let warned: Value = client()
        .post(&url)
        .bearer_auth(SLACK_BOT_TOKEN)
        .json(&json!({"channel": "C0123456789", "text": "again"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (warned["ok"].clone(), warned["warning"].clone()),
        (json!(true), json!("missing_charset"))
    );

    for (token, channel, error) in [
        (None, "general", "not_authed"),
        (Some("xoxb-wrong"), "general", "invalid_auth"),
        (Some(SLACK_BOT_TOKEN), "#nowhere", "channel_not_found"),
    ] {
        let mut request = client().post(&url).json(&json!({"channel": channel, "text": "x"}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 200, "Slack's Web API errors are 200");
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": false, "error": error}));
    }
    slack.fail_next(SlackFault::RateLimited { retry_after: 3 }, 1);
    let limited = client()
        .post(&url)
        .bearer_auth(SLACK_BOT_TOKEN)
        .json(&json!({"channel": "general", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), Some("3"));
    assert_eq!(limited.json::<Value>().await.unwrap()["error"], "ratelimited");
    assert_eq!(slack.messages().len(), 2);
}

#[tokio::test]
async fn discord_webhook_returns_the_message_only_with_wait_true() {
    let discord = Discord::start().await;
    let waited = client()
        .post(format!("{}?wait=true", discord.webhook_url()))
        .json(&json!({"content": "Issue #1 opened @everyone", "username": "Flowpilot",
                      "embeds": [{"title": "Issue #1"}], "allowed_mentions": {"parse": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(waited.status(), 200);
    assert_eq!(header(&waited, "x-ratelimit-limit"), Some("5"));
    let message: Value = waited.json().await.unwrap();
    assert!(
        message["id"].as_str().unwrap().parse::<u64>().is_ok(),
        "a snowflake string"
    );
    assert_eq!(message["content"], "Issue #1 opened @everyone");
    assert_eq!(message["channel_id"], "1100000000000000001");
    assert_eq!(message["author"]["username"], "Flowpilot");
    assert_eq!(message["embeds"][0]["title"], "Issue #1");
    assert_eq!(
        message["mention_everyone"], false,
        "allowed_mentions.parse [] pings nobody"
    );

    let fire_and_forget = client()
        .post(discord.webhook_url())
        .json(&json!({"content": "@here hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fire_and_forget.status(), 204);
    assert!(fire_and_forget.text().await.unwrap().is_empty());
    let posted = discord.posted();
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[0].body["allowed_mentions"], json!({"parse": []}));
    assert!(posted[0].waited && !posted[1].waited);
    assert!(posted[1].mentions_everyone, "without allowed_mentions @here pings");
}

#[tokio::test]
async fn discord_errors_and_rate_limits_have_discords_shape() {
    let discord = Discord::start().await;
    let empty = client()
        .post(discord.webhook_url())
        .json(&json!({"content": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(
        empty.json::<Value>().await.unwrap(),
        json!({"code": 50006, "message": "Cannot send an empty message"})
    );
    let long = client()
        .post(discord.webhook_url())
        .json(&json!({"content": "x".repeat(2001)}))
        .send()
        .await
        .unwrap();
    let error: Value = long.json().await.unwrap();
    assert_eq!(error["code"], 50035);
    assert_eq!(error["errors"]["content"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH");
    let unknown = client()
        .post(discord.url("/api/webhooks/1/nope"))
        .json(&json!({"content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await.unwrap(),
        json!({"code": 10015, "message": "Unknown Webhook"})
    );

    discord.fail_next(
        DiscordFault::RateLimited {
            retry_after: 1.5,
            global: false,
        },
        1,
    );
    let limited = client()
        .post(discord.webhook_url())
        .json(&json!({"content": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), Some("2"));
    assert_eq!(header(&limited, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&limited, "x-ratelimit-reset-after"), Some("1.500"));
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false})
    );
    assert!(discord.posted().is_empty());
}
