//! Notion, Slack, Discord and GitHub imitations: the success shapes and the
//! documented errors and rate limits.

use super::{client, header};
use flowpilot_tests::discord::{Discord, DiscordFault};
use flowpilot_tests::github::{GITHUB_TOKEN, GitHub, GitHubFault};
use flowpilot_tests::notion::{NOTION_DATABASE_ID, NOTION_TOKEN, Notion, NotionFault};
use flowpilot_tests::slack::{SLACK_BOT_TOKEN, Slack, SlackFault};
use serde_json::{Value, json};

fn notion_post(notion: &Notion, path: &str, token: &str) -> reqwest::RequestBuilder {
    client()
        .post(notion.url(path))
        .bearer_auth(token)
        .header("Notion-Version", "2022-06-28")
}

fn page_body(title_property: &str, title: &str, content: &str) -> Value {
    json!({
        "parent": {"database_id": NOTION_DATABASE_ID},
        "properties": {title_property: {"title": [{"text": {"content": title}}]}},
        "children": [{"object": "block", "type": "paragraph",
                      "paragraph": {"rich_text": [{"type": "text", "text": {"content": content}}]}}],
    })
}

#[tokio::test]
async fn notion_creates_a_page_appends_to_it_and_lists_it_in_its_database() {
    let notion = Notion::start().await;
    let created = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&page_body("Name", "Invoice March", "Total 42 EUR"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let page: Value = created.json().await.unwrap();
    assert_eq!(page["object"], "page");
    let id = page["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID with dashes: {id}");
    assert!(
        page["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.notion.so/Invoice-March-")
    );
    assert_eq!(
        page["properties"]["Name"]["title"][0]["text"]["content"],
        "Invoice March"
    );
    assert_eq!(notion.children(&id).len(), 1, "the children became blocks of the page");

    let appended = client()
        .patch(notion.url(&format!("/v1/blocks/{}/children", id.replace('-', ""))))
        .bearer_auth(NOTION_TOKEN)
        .header("Notion-Version", "2022-06-28")
        .json(
            &json!({"children": [{"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": "more"}}]}}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(appended.status(), 200, "ids work without their dashes too");
    let list: Value = appended.json().await.unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["results"][0]["object"], "block");
    assert_eq!(notion.children(&id).len(), 2);

    notion.add_page(NOTION_DATABASE_ID, "Second");
    notion.add_page(NOTION_DATABASE_ID, "Third");
    let first: Value = notion_post(
        &notion,
        &format!("/v1/databases/{NOTION_DATABASE_ID}/query"),
        NOTION_TOKEN,
    )
    .json(&json!({"page_size": 2, "filter": {"property": "Name", "title": {"contains": "Invoice"}}}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(first["results"].as_array().unwrap().len(), 2);
    assert_eq!(first["has_more"], true);
    let rest: Value = notion_post(
        &notion,
        &format!("/v1/databases/{NOTION_DATABASE_ID}/query"),
        NOTION_TOKEN,
    )
    .json(&json!({"page_size": 2, "start_cursor": first["next_cursor"]}))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rest["results"].as_array().unwrap().len(), 1);
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["next_cursor"], Value::Null);
    let query = notion.requests_to(&format!("/v1/databases/{NOTION_DATABASE_ID}/query"));
    assert_eq!(query[0].json()["filter"]["property"], "Name", "the filter is recorded");
}

#[tokio::test]
async fn notion_errors_have_notions_shape() {
    let notion = Notion::start().await;
    let body = page_body("Name", "x", "y");

    let bad_token = notion_post(&notion, "/v1/pages", "ntn_wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_token.status(), 401);
    assert_eq!(
        bad_token.json::<Value>().await.unwrap(),
        json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."})
    );

    let no_version = client()
        .post(notion.url("/v1/pages"))
        .bearer_auth(NOTION_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), 400);
    assert_eq!(no_version.json::<Value>().await.unwrap()["code"], "missing_version");

    let wrong_property = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&page_body("Titel", "x", "y"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_property.status(), 400);
    let error: Value = wrong_property.json().await.unwrap();
    assert_eq!(error["code"], "validation_error");
    assert_eq!(error["message"], "Titel is not a property that exists.");

    let too_long = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&page_body("Name", "x", &"a".repeat(2001)))
        .send()
        .await
        .unwrap();
    let error: Value = too_long.json().await.unwrap();
    assert_eq!(error["code"], "validation_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("text.content.length should be ≤ `2000`, instead was `2001`"),
        "{error}"
    );

    let unknown = notion_post(
        &notion,
        "/v1/databases/00000000-0000-0000-0000-000000000000/query",
        NOTION_TOKEN,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.json::<Value>().await.unwrap()["code"], "object_not_found");
    assert!(notion.pages().is_empty(), "nothing was created by a refused call");
}

#[tokio::test]
async fn notion_rate_limit_is_429_with_retry_after_then_it_recovers() {
    let notion = Notion::start().await;
    notion.fail_next(NotionFault::RateLimited { retry_after: 2 }, 1);
    notion.fail_next(NotionFault::Server(503), 1);
    let body = page_body("Name", "x", "y");

    let limited = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), Some("2"));
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], "rate_limited");
    let unavailable = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(unavailable.status(), 503);
    assert_eq!(
        unavailable.json::<Value>().await.unwrap()["code"],
        "service_unavailable"
    );
    let ok = notion_post(&notion, "/v1/pages", NOTION_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(notion.pages().len(), 1);
}

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

fn github_post(github: &GitHub, path: &str) -> reqwest::RequestBuilder {
    client()
        .post(github.url(path))
        .bearer_auth(GITHUB_TOKEN)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", "flowpilot-tests")
}

#[tokio::test]
async fn github_creates_an_issue_and_a_comment() {
    let github = GitHub::start().await;
    let created = github_post(&github, "/repos/octo-org/octo-repo/issues")
        .json(&json!({"title": "Found a bug", "body": "It broke", "labels": ["bug"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "x-ratelimit-remaining"), Some("4999"));
    let issue: Value = created.json().await.unwrap();
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["html_url"], "https://github.com/octo-org/octo-repo/issues/1");
    assert_eq!(
        (issue["title"].clone(), issue["body"].clone()),
        (json!("Found a bug"), json!("It broke"))
    );
    assert_eq!(issue["labels"][0]["name"], "bug");

    let commented = github_post(&github, "/repos/octo-org/octo-repo/issues/1/comments")
        .json(&json!({"body": "Looking into it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(commented.status(), 201);
    let comment: Value = commented.json().await.unwrap();
    assert!(
        comment["html_url"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/octo-org/octo-repo/issues/1#issuecomment-")
    );
    assert_eq!(github.issues()[0]["comments"], 1);
    let recorded = &github.requests()[0];
    assert_eq!(recorded.header("x-github-api-version"), Some("2022-11-28"));
}

#[tokio::test]
async fn github_errors_and_rate_limits_have_githubs_shape() {
    let github = GitHub::start().await;
    let path = "/repos/octo-org/octo-repo/issues";
    let bad = client()
        .post(github.url(path))
        .bearer_auth("ghp_wrong")
        .header("User-Agent", "t")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(
        (error["message"].clone(), error["documentation_url"].clone()),
        (json!("Bad credentials"), json!("https://docs.github.com/rest"))
    );

    let no_agent = client()
        .post(github.url(path))
        .bearer_auth(GITHUB_TOKEN)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_agent.status(), 403, "GitHub refuses a request without User-Agent");

    let missing = github_post(&github, "/repos/octo-org/nope/issues")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["message"], "Not Found");

    let empty = github_post(&github, path)
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    let error: Value = empty.json().await.unwrap();
    assert_eq!(error["message"], "Validation Failed");
    assert_eq!(
        error["errors"][0],
        json!({"resource": "Issue", "code": "missing_field", "field": "title"})
    );

    github.fail_next(
        GitHubFault::PrimaryRateLimit {
            status: 403,
            reset_in: 60,
        },
        1,
    );
    github.fail_next(
        GitHubFault::SecondaryRateLimit {
            status: 429,
            retry_after: 30,
        },
        1,
    );
    let primary = github_post(&github, path)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(primary.status(), 403);
    assert_eq!(header(&primary, "x-ratelimit-remaining"), Some("0"));
    let reset: i64 = header(&primary, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        (reset - chrono::Utc::now().timestamp() - 60).abs() <= 2,
        "reset is an epoch second a minute ahead"
    );
    let secondary = github_post(&github, path)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(secondary.status(), 429);
    assert_eq!(header(&secondary, "retry-after"), Some("30"));
    assert!(github.issues().is_empty());
}
