//! The feed trigger against the feed server (RSS, Atom, JSON Feed, conditional
//! GET) and the poll trigger against the items API (auth, JSONPaths, 429).

use crate::harness::{Harness, plan};
use flowpilot_core::triggers::TriggerHealth;
use flowpilot_tests::feeds::FeedFault;
use flowpilot_tests::items_api::{ItemsAuth, ItemsFault};
use flowpilot_tests::{FeedItem, FeedServer, ItemsApi};
use serde_json::{Value, json};

fn feed(url: &str) -> Value {
    json!({"type": "feed", "url": url, "interval_s": 3600})
}

#[tokio::test(flavor = "multi_thread")]
async fn each_new_feed_item_runs_once_in_every_format_and_a_changed_date_is_not_new() {
    let server = FeedServer::start().await;
    server.set_items(vec![
        FeedItem::new("b").published_at(10),
        FeedItem::new("a").published_at(0),
    ]);
    let h = Harness::start().await;
    for (name, url) in [
        ("RSS", server.rss_url()),
        ("Atom", server.atom_url()),
        ("JSON Feed", server.json_url()),
    ] {
        let id = h.add_plan(&plan(
            name,
            feed(&url),
            json!({"title": "${trigger.item.title}", "link": "${trigger.item.link}"}),
        ));
        let first = h.check(&id).await;
        assert_eq!(first.new_items, 0, "{name}: {first:?}");
        assert!(
            h.status(&id).note.unwrap_or_default().contains("2 items already there"),
            "{name}"
        );
    }
    server.add_item(FeedItem::new("c").published_at(20));
    server.add_item(FeedItem::new("d").published_at(30));
    // Only the date of an old item changes: it is the same item.
    server.update_item("a", |item| item.updated = Some(chrono::Utc::now()));
    let plans = h.app.list_plans().unwrap();
    for p in &plans {
        let report = h.check(&p.id).await;
        assert_eq!(report.new_items, 2, "{}: {report:?}", p.name);
    }
    h.rec.wait_for_runs(6).await;
    for p in &plans {
        let titles: Vec<Value> = h.started_outputs(&p.id).iter().map(|o| o["title"].clone()).collect();
        assert_eq!(titles, [json!("Post c"), json!("Post d")], "{}: oldest first", p.name);
        assert_eq!(h.check(&p.id).await.new_items, 0);
    }
    let event = h
        .app
        .run_detail(&h.runs_of(&plans[0].id)[0].id)
        .unwrap()
        .trigger
        .unwrap();
    assert_eq!(event["item"]["link"], "https://blog.example.test/posts/c");
    assert_eq!(event["item"]["authors"][0]["name"], "Ada Lovelace");
    assert_eq!(h.rec.finished().len(), 6, "nothing ran twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_get_saves_the_download_and_items_without_ids_are_known_by_link_or_content() {
    let server = FeedServer::start().await;
    server.set_items(vec![FeedItem::without_id("https://b.test/only-link", "Link only")]);
    let h = Harness::start().await;
    let id = h.add_plan(&plan("Blog", feed(&server.rss_url()), json!("${trigger.item.title}")));
    h.check(&id).await;
    assert_eq!(h.check(&id).await.new_items, 0);
    assert!(server.not_modified_count() >= 1, "the unchanged feed was answered 304");
    let mut bare = FeedItem::without_id("", "No id, no link").link(None);
    bare.summary = Some("Only words".into());
    server.add_item(bare);
    assert_eq!(h.check(&id).await.new_items, 1);
    // Parsed again and again, the item without id or link stays the same item.
    server.add_item(FeedItem::new("later").published_at(99));
    assert_eq!(h.check(&id).await.new_items, 1);
    h.rec.wait_for_runs(2).await;
    assert_eq!(h.started_outputs(&id), [json!("No id, no link"), json!("Post later")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_or_rate_limited_feed_backs_off_and_says_why() {
    let server = FeedServer::start().await;
    server.set_items(vec![FeedItem::new("a")]);
    let h = Harness::start().await;
    let id = h.add_plan(&plan(
        "Broken",
        feed(&server.atom_url()),
        json!("${trigger.item.title}"),
    ));
    h.check(&id).await;
    server.fail_next(FeedFault::RateLimited { retry_after: 120 }, 1);
    let report = h.check(&id).await;
    assert!(
        report.error.as_deref().unwrap_or_default().contains("429"),
        "{report:?}"
    );
    let s = h.status(&id);
    assert_eq!(
        (s.next_check_at.unwrap() - s.last_check_at.unwrap()).num_seconds(),
        120,
        "Retry-After honoured"
    );
    assert_eq!(s.health, TriggerHealth::Failing);
    server.fail_next(FeedFault::Malformed, 1);
    server.set_conditional_get(false);
    let report = h.check(&id).await;
    assert!(
        report.error.as_deref().unwrap_or_default().contains("cannot be read"),
        "{report:?}"
    );
    assert_eq!(h.check(&id).await.error, None);
    assert_eq!(h.status(&id).health, TriggerHealth::Watching);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_api_item_runs_once_with_its_auth_and_jsonpaths() {
    let api = ItemsApi::start().await;
    api.set_auth(ItemsAuth::Bearer("api-token".into()));
    api.set_items(vec![json!({"id": 1, "title": "one"}), json!({"id": 2, "title": "two"})]);
    let h = Harness::start().await;
    h.credential("http", "items", "api-token");
    let id = h.add_plan(&plan(
        "New items",
        json!({"type": "poll", "url": api.wrapped_url(), "items": "$.data.results", "id": "$.id",
               "auth": {"type": "bearer", "credential": "items"}, "interval_s": 3600}),
        json!("${trigger.item.title}"),
    ));
    assert_eq!(h.check(&id).await.new_items, 0);
    api.push(json!({"id": 3, "title": "three"}));
    api.push(json!({"id": 4, "title": "four"}));
    api.remove(&json!(1));
    assert_eq!(h.check(&id).await.new_items, 2);
    h.rec.wait_for_runs(2).await;
    assert_eq!(h.started_outputs(&id), [json!("three"), json!("four")]);
    assert_eq!(h.check(&id).await.new_items, 0);
    let bearer = api
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .map(str::to_string);
    assert_eq!(bearer.as_deref(), Some("Bearer api-token"));

    // A refused credential is an error in words, with the secret nowhere.
    api.set_auth(ItemsAuth::Bearer("rotated".into()));
    let report = h.check(&id).await;
    let error = report.error.unwrap();
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("api-token"));
    api.set_auth(ItemsAuth::Bearer("api-token".into()));
    api.fail_next(ItemsFault::RateLimited { retry_after: 90 }, 1);
    h.check(&id).await;
    let s = h.status(&id);
    assert_eq!((s.next_check_at.unwrap() - s.last_check_at.unwrap()).num_seconds(), 90);
}

#[tokio::test(flavor = "multi_thread")]
async fn run_existing_runs_for_the_newest_items_at_activation() {
    let api = ItemsApi::start().await;
    api.set_items((1..=5).map(|i| json!({"id": i})).collect());
    let h = Harness::start().await;
    let id = h.add_plan(&plan(
        "Backfill",
        json!({"type": "poll", "url": api.items_url(), "items": "$.items", "run_existing": 2, "interval_s": 3600}),
        json!("${trigger.item.id}"),
    ));
    // The watcher's first check (the baseline) may come before this one.
    let report = h.check(&id).await;
    assert_eq!(
        (report.error, report.new_items),
        (None, if report.baseline { 2 } else { 0 })
    );
    h.rec.wait_for_runs(2).await;
    assert_eq!(h.started_outputs(&id), [json!(4), json!(5)]);
    assert_eq!(h.check(&id).await.new_items, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn activating_again_records_a_fresh_baseline_and_what_came_meanwhile_starts_nothing() {
    let api = ItemsApi::start().await;
    api.set_items(vec![json!({"id": 1})]);
    let h = Harness::start().await;
    let mut p = plan(
        "Toggled",
        json!({"type": "poll", "url": api.items_url(), "items": "$.items", "interval_s": 3600}),
        json!("${trigger.item.id}"),
    );
    let id = h.add_plan(&p);
    h.check(&id).await;
    p["status"] = json!("draft");
    h.add_plan(&p);
    api.push(json!({"id": 2}));
    p["status"] = json!("active");
    h.add_plan(&p);
    let report = h.check(&id).await;
    assert_eq!(report.new_items, 0, "{report:?}");
    assert!(
        h.status(&id)
            .note
            .unwrap_or_default()
            .contains("2 items already listed")
    );
    api.push(json!({"id": 3}));
    assert_eq!(h.check(&id).await.new_items, 1);
    h.rec.wait_for_runs(1).await;
    assert_eq!(h.started_outputs(&id), [json!(3)]);
}
