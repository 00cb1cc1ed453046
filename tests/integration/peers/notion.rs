//! The Notion imitation: pages, blocks and database queries, and Notion's error shape.

use super::{client, header};
use flowpilot_tests::notion::{NOTION_DATABASE_ID, NOTION_TOKEN, Notion, NotionFault};
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
