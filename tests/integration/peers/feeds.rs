//! The feed server and the JSON items API: documents a real parser reads,
//! conditional GET, items without ids, and the injected failures.

use super::{client, header};
use flowpilot_tests::feeds::{FeedFault, FeedItem, FeedServer};
use flowpilot_tests::items_api::{ItemsApi, ItemsAuth, ItemsFault};
use serde_json::{Value, json};
use std::time::Duration;

async fn parse(url: &str) -> feed_rs::model::Feed {
    let body = client()
        .get(url)
        .send()
        .await
        .expect("the feed is answered")
        .bytes()
        .await
        .expect("the feed's body");
    feed_rs::parser::parse(&body[..]).unwrap_or_else(|e| panic!("{url} does not parse: {e}"))
}

#[tokio::test]
async fn feeds_in_three_formats_parse_with_a_real_parser() {
    let feeds = FeedServer::start().await;
    feeds.add_item(
        FeedItem::new("a-1")
            .title("Café & crème")
            .published_at(0)
            .author("Bob", Some("bob@example.test")),
    );
    feeds.add_item(FeedItem::without_id("https://blog.example.test/no-id", "No id here").published_at(5));

    for url in [feeds.rss_url(), feeds.atom_url(), feeds.json_url()] {
        let feed = parse(&url).await;
        assert_eq!(feed.entries.len(), 2, "{url}");
        let newest = &feed.entries[0];
        assert_eq!(
            newest.title.as_ref().unwrap().content,
            "No id here",
            "{url}: newest first"
        );
        assert_eq!(newest.links[0].href, "https://blog.example.test/no-id");
        let first = &feed.entries[1];
        assert_eq!(first.id, "a-1", "{url}");
        assert_eq!(
            first.title.as_ref().unwrap().content,
            "Café & crème",
            "{url}: escaped and read back"
        );
        assert_eq!(
            first.published.unwrap().to_rfc3339(),
            "2026-01-05T09:00:00+00:00",
            "{url}"
        );
        assert!(first.content.is_some() || first.summary.is_some(), "{url}");
    }
    let rss = client().get(feeds.rss_url()).send().await.unwrap();
    assert_eq!(header(&rss, "content-type"), Some("application/rss+xml; charset=utf-8"));
    let text = rss.text().await.unwrap();
    assert_eq!(text.matches("<guid").count(), 1, "the item without an id has no guid");

    feeds.update_item("a-1", |item| {
        item.published = FeedItem::new("x").published_at(60).published
    });
    let moved = parse(&feeds.json_url()).await;
    assert_eq!(moved.entries[1].id, "a-1", "only the date changed");
    assert_eq!(
        moved.entries[1].published.unwrap().to_rfc3339(),
        "2026-01-05T10:00:00+00:00"
    );
}

#[tokio::test]
async fn feed_conditional_get_answers_304_until_the_feed_changes() {
    let feeds = FeedServer::start().await;
    feeds.add_item(FeedItem::new("one"));
    let first = client().get(feeds.atom_url()).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag").unwrap().to_string();
    let last_modified = header(&first, "last-modified").unwrap().to_string();
    assert!(
        etag.starts_with('"') && last_modified.ends_with(" GMT"),
        "{etag} / {last_modified}"
    );

    let by_etag = client()
        .get(feeds.atom_url())
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(by_etag.status(), 304);
    assert_eq!(header(&by_etag, "etag"), Some(etag.as_str()));
    assert!(by_etag.bytes().await.unwrap().is_empty());
    let by_date = client()
        .get(feeds.atom_url())
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(by_date.status(), 304);
    let stale_etag = client()
        .get(feeds.atom_url())
        .header("If-None-Match", "\"other\"")
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(stale_etag.status(), 200, "If-None-Match wins over If-Modified-Since");
    assert_eq!(feeds.not_modified_count(), 2);

    feeds.add_item(FeedItem::new("two"));
    let changed = client()
        .get(feeds.atom_url())
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), Some(etag.as_str()));
    assert_ne!(
        header(&changed, "last-modified"),
        Some(last_modified.as_str()),
        "one change, one new date"
    );

    feeds.set_conditional_get(false);
    let etag = header(&changed, "etag").unwrap().to_string();
    let ignored = client()
        .get(feeds.atom_url())
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(ignored.status(), 200);
    assert_eq!(feeds.requests_to("/atom.xml").len(), 6);
}

#[tokio::test]
async fn feed_failures_are_a_500_a_429_a_broken_document_and_a_hang() {
    let feeds = FeedServer::start().await;
    feeds.add_item(FeedItem::new("one"));
    feeds.fail_next(FeedFault::Status(500), 1);
    feeds.fail_next(FeedFault::RateLimited { retry_after: 120 }, 1);
    feeds.fail_next(FeedFault::Malformed, 1);
    feeds.fail_next(FeedFault::Hang, 1);

    assert_eq!(client().get(feeds.rss_url()).send().await.unwrap().status(), 500);
    let limited = client().get(feeds.rss_url()).send().await.unwrap();
    assert_eq!(
        (limited.status().as_u16(), header(&limited, "retry-after")),
        (429, Some("120"))
    );
    let broken = client()
        .get(feeds.rss_url())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(feed_rs::parser::parse(&broken[..]).is_err(), "the parser refuses it");
    let hang = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .get(feeds.rss_url())
        .send()
        .await;
    assert!(hang.unwrap_err().is_timeout(), "no answer comes");
    assert_eq!(
        client().get(feeds.rss_url()).send().await.unwrap().status(),
        200,
        "then it recovers"
    );
}

#[tokio::test]
async fn items_api_lists_what_the_test_put_behind_its_credential() {
    let api = ItemsApi::start().await;
    api.set_auth(ItemsAuth::Bearer("items-token".into()));
    api.push(json!({"id": 1, "name": "first"}));
    api.push(json!({"id": 2, "name": "second"}));

    let refused = client().get(api.items_url()).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let listed: Value = client()
        .get(api.items_url())
        .bearer_auth("items-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed,
        json!({"items": [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]})
    );
    api.remove(&json!(1));
    let wrapped: Value = client()
        .get(api.wrapped_url())
        .bearer_auth("items-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrapped, json!({"data": {"results": [{"id": 2, "name": "second"}]}}));

    api.set_auth(ItemsAuth::Query {
        name: "api_key".into(),
        value: "k".into(),
    });
    api.fail_next(ItemsFault::RateLimited { retry_after: 5 }, 1);
    let limited = client()
        .get(format!("{}?api_key=k", api.items_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (limited.status().as_u16(), header(&limited, "retry-after")),
        (429, Some("5"))
    );
}
