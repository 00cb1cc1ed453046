//! A feed server on 127.0.0.1 for the feed trigger: one list of items the test
//! adds, changes and removes, served in the three formats Flowpilot reads:
//!
//! | path | format | document |
//! |---|---|---|
//! | `/rss.xml` | RSS 2.0 | <https://www.rssboard.org/rss-specification> (content in `content:encoded`, names in `dc:creator`) |
//! | `/atom.xml` | Atom 1.0 | <https://www.rfc-editor.org/rfc/rfc4287> |
//! | `/feed.json` | JSON Feed 1.1 | <https://www.jsonfeed.org/version/1.1/> |
//!
//! Conditional GET as RFC 9110 §13 (<https://www.rfc-editor.org/rfc/rfc9110#section-13>):
//! every answer has a strong `ETag` (a hash of the body) and `Last-Modified`;
//! `If-None-Match` (weak comparison, `*`) wins over `If-Modified-Since`, and a
//! match is 304 with no body. `Last-Modified` is deterministic: a fixed date
//! plus one minute per change, so two changes within a second still differ.
//!
//! Items may lack an id (no `guid` / `id`, although Atom and JSON Feed require
//! one) and may change only their date: the cases that break deduplication.

use crate::peer::{Faults, Peer};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The feed's items' dates count from here.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedAuthor {
    pub name: String,
    pub email: Option<String>,
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    /// RSS `guid`, Atom `id`, JSON Feed `id`; `None` leaves it out.
    pub id: Option<String>,
    pub link: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    /// HTML.
    pub content: Option<String>,
    pub authors: Vec<FeedAuthor>,
}

impl FeedItem {
    /// An item with id `id`, a link and title derived from it, published at the feed's epoch.
    pub fn new(id: &str) -> Self {
        FeedItem {
            id: Some(id.into()),
            link: Some(format!("https://blog.example.test/posts/{id}")),
            title: Some(format!("Post {id}")),
            published: Some(epoch()),
            updated: None,
            summary: Some(format!("Summary of {id}")),
            content: Some(format!("<p>Content of <b>{id}</b></p>")),
            authors: vec![FeedAuthor {
                name: "Ada Lovelace".into(),
                email: None,
            }],
        }
    }

    /// An item with no id at all: only a link and a title.
    pub fn without_id(link: &str, title: &str) -> Self {
        FeedItem {
            id: None,
            link: Some(link.into()),
            title: Some(title.into()),
            ..FeedItem::new("")
        }
    }

    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.into());
        self
    }

    pub fn link(mut self, link: Option<&str>) -> Self {
        self.link = link.map(str::to_string);
        self
    }

    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = Some(summary.into());
        self
    }

    pub fn content(mut self, html: &str) -> Self {
        self.content = Some(html.into());
        self
    }

    /// Published `minutes` after the feed's epoch (2026-01-05 09:00 UTC).
    pub fn published_at(mut self, minutes: i64) -> Self {
        self.published = Some(epoch() + chrono::Duration::minutes(minutes));
        self
    }

    pub fn updated_at(mut self, minutes: i64) -> Self {
        self.updated = Some(epoch() + chrono::Duration::minutes(minutes));
        self
    }

    pub fn author(mut self, name: &str, email: Option<&str>) -> Self {
        self.authors.push(FeedAuthor {
            name: name.into(),
            email: email.map(str::to_string),
        });
        self
    }

    /// What identifies it in [`FeedServer::remove_item`] and friends: id, else link, else title.
    pub fn key(&self) -> String {
        self.id
            .clone()
            .or_else(|| self.link.clone())
            .or_else(|| self.title.clone())
            .unwrap_or_default()
    }
}

/// A wrong answer for the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedFault {
    /// This status with a short text body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    RateLimited { retry_after: u64 },
    /// 200 with a document cut in the middle.
    Malformed,
    /// No answer at all until the server stops.
    Hang,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
    Json,
}

#[derive(Debug, Default)]
struct Data {
    /// Newest first, as feeds list them.
    items: Vec<FeedItem>,
    version: i64,
    conditional: bool,
    not_modified: usize,
}

#[derive(Debug)]
struct FeedState {
    data: Mutex<Data>,
    faults: Faults<FeedFault>,
    shutdown: CancellationToken,
    base: Mutex<String>,
}

impl FeedState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running server. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct FeedServer {
    peer: Peer,
    state: Arc<FeedState>,
}

impl std::ops::Deref for FeedServer {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl FeedServer {
    /// An empty feed that honours conditional GET.
    pub async fn start() -> FeedServer {
        let mut state = None;
        let peer = Peer::start(|shutdown| {
            let shared = Arc::new(FeedState {
                data: Mutex::new(Data {
                    conditional: true,
                    ..Data::default()
                }),
                faults: Faults::default(),
                shutdown,
                base: Mutex::new(String::new()),
            });
            state = Some(shared.clone());
            Router::new()
                .route(
                    "/rss.xml",
                    get(|s: State<Arc<FeedState>>, h: HeaderMap| serve(s, h, Format::Rss)),
                )
                .route(
                    "/atom.xml",
                    get(|s: State<Arc<FeedState>>, h: HeaderMap| serve(s, h, Format::Atom)),
                )
                .route(
                    "/feed.json",
                    get(|s: State<Arc<FeedState>>, h: HeaderMap| serve(s, h, Format::Json)),
                )
                .with_state(shared)
        })
        .await;
        let state = state.expect("Peer::start builds the router before it returns");
        *state.base.lock().unwrap_or_else(|e| e.into_inner()) = peer.base_url().to_string();
        FeedServer { peer, state }
    }

    pub fn rss_url(&self) -> String {
        self.peer.url("/rss.xml")
    }

    pub fn atom_url(&self) -> String {
        self.peer.url("/atom.xml")
    }

    pub fn json_url(&self) -> String {
        self.peer.url("/feed.json")
    }

    fn change(&self, f: impl FnOnce(&mut Vec<FeedItem>)) {
        let mut data = self.state.data();
        f(&mut data.items);
        data.version += 1;
    }

    /// Publish `item` at the top of the feed.
    pub fn add_item(&self, item: FeedItem) {
        self.change(|items| items.insert(0, item));
    }

    /// Take the item with this key (id, else link, else title) off the feed.
    pub fn remove_item(&self, key: &str) {
        self.change(|items| items.retain(|i| i.key() != key));
    }

    /// Change the item with this key in place (e.g. only its date).
    pub fn update_item(&self, key: &str, f: impl FnOnce(&mut FeedItem)) {
        self.change(|items| {
            if let Some(item) = items.iter_mut().find(|i| i.key() == key) {
                f(item);
            }
        });
    }

    /// Replace every item (newest first).
    pub fn set_items(&self, new: Vec<FeedItem>) {
        self.change(|items| *items = new);
    }

    pub fn items(&self) -> Vec<FeedItem> {
        self.state.data().items.clone()
    }

    /// Whether conditional GET is honoured (on by default); off, every GET gets the whole feed.
    pub fn set_conditional_get(&self, on: bool) {
        self.state.data().conditional = on;
    }

    /// Answer the next `times` requests with `fault`.
    pub fn fail_next(&self, fault: FeedFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// How many requests were answered 304 Not Modified.
    pub fn not_modified_count(&self) -> usize {
        self.state.data().not_modified
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn element(out: &mut String, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(&format!("<{name}>{}</{name}>\n", escape(v)));
    }
}

fn rss(items: &[FeedItem], self_url: &str, built: DateTime<Utc>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n<title>Flowpilot Test Feed</title>\n<link>https://blog.example.test/</link>\n<description>Items the test adds and removes</description>\n",
    );
    out.push_str(&format!(
        "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>\n<lastBuildDate>{}</lastBuildDate>\n",
        escape(self_url),
        built.to_rfc2822()
    ));
    for item in items {
        out.push_str("<item>\n");
        element(&mut out, "title", item.title.as_deref());
        element(&mut out, "link", item.link.as_deref());
        if let Some(id) = &item.id {
            let permalink = item.link.as_deref() == Some(id.as_str());
            out.push_str(&format!("<guid isPermaLink=\"{permalink}\">{}</guid>\n", escape(id)));
        }
        element(
            &mut out,
            "pubDate",
            item.published.or(item.updated).map(|d| d.to_rfc2822()).as_deref(),
        );
        element(&mut out, "description", item.summary.as_deref());
        element(&mut out, "content:encoded", item.content.as_deref());
        for author in &item.authors {
            match &author.email {
                Some(email) => element(&mut out, "author", Some(&format!("{email} ({})", author.name))),
                None => element(&mut out, "dc:creator", Some(&author.name)),
            }
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn atom(items: &[FeedItem], self_url: &str, built: DateTime<Utc>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>Flowpilot Test Feed</title>\n<id>urn:uuid:60a76c80-d399-11d9-b93c-0003939e0af6</id>\n<link href=\"https://blog.example.test/\"/>\n",
    );
    out.push_str(&format!(
        "<link rel=\"self\" href=\"{}\"/>\n<updated>{}</updated>\n",
        escape(self_url),
        built.to_rfc3339()
    ));
    for item in items {
        out.push_str("<entry>\n");
        element(&mut out, "title", item.title.as_deref());
        element(&mut out, "id", item.id.as_deref());
        if let Some(link) = &item.link {
            out.push_str(&format!("<link rel=\"alternate\" href=\"{}\"/>\n", escape(link)));
        }
        element(&mut out, "published", item.published.map(|d| d.to_rfc3339()).as_deref());
        let updated = item.updated.or(item.published).unwrap_or(built);
        element(&mut out, "updated", Some(&updated.to_rfc3339()));
        if let Some(summary) = &item.summary {
            out.push_str(&format!("<summary type=\"html\">{}</summary>\n", escape(summary)));
        }
        if let Some(content) = &item.content {
            out.push_str(&format!("<content type=\"html\">{}</content>\n", escape(content)));
        }
        for author in &item.authors {
            out.push_str("<author>\n");
            element(&mut out, "name", Some(&author.name));
            element(&mut out, "email", author.email.as_deref());
            out.push_str("</author>\n");
        }
        out.push_str("</entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

fn json_feed(items: &[FeedItem], self_url: &str) -> String {
    let items: Vec<Value> = items
        .iter()
        .map(|item| {
            let mut object = serde_json::Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    object.insert(k.into(), v);
                }
            };
            put("id", item.id.clone().map(Value::String));
            put("url", item.link.clone().map(Value::String));
            put("title", item.title.clone().map(Value::String));
            put("summary", item.summary.clone().map(Value::String));
            put("content_html", item.content.clone().map(Value::String));
            put("date_published", item.published.map(|d| json!(d.to_rfc3339())));
            put("date_modified", item.updated.map(|d| json!(d.to_rfc3339())));
            if !item.authors.is_empty() {
                let authors = item.authors.iter().map(|a| json!({"name": a.name})).collect();
                put("authors", Some(Value::Array(authors)));
            }
            Value::Object(object)
        })
        .collect();
    let feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Flowpilot Test Feed",
        "home_page_url": "https://blog.example.test/",
        "feed_url": self_url,
        "items": items,
    });
    serde_json::to_string_pretty(&feed).unwrap_or_default()
}

/// Does `If-None-Match` name `etag` (weak comparison, RFC 9110 §8.8.3.2)?
fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header.trim() == "*" || header.split(',').any(|t| bare(t) == bare(etag))
}

async fn serve(State(state): State<Arc<FeedState>>, headers: HeaderMap, format: Format) -> Response {
    let fault = state.faults.take();
    match fault {
        Some(FeedFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "feed unavailable").into_response();
        }
        Some(FeedFault::RateLimited { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry_after.to_string())],
                "slow down",
            )
                .into_response();
        }
        Some(FeedFault::Hang) => {
            state.shutdown.cancelled().await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Some(FeedFault::Malformed) | None => {}
    }
    let base = state.base.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut data = state.data();
    let modified = epoch() + chrono::Duration::minutes(data.version);
    let (body, content_type) = match format {
        Format::Rss => (
            rss(&data.items, &format!("{base}/rss.xml"), modified),
            "application/rss+xml; charset=utf-8",
        ),
        Format::Atom => (
            atom(&data.items, &format!("{base}/atom.xml"), modified),
            "application/atom+xml; charset=utf-8",
        ),
        Format::Json => (
            json_feed(&data.items, &format!("{base}/feed.json")),
            "application/feed+json; charset=utf-8",
        ),
    };
    let etag = format!("\"{}\"", hex::encode(&sha2::Sha256::digest(body.as_bytes())[..8]));
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let header_text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let fresh = data.conditional
        && match header_text(header::IF_NONE_MATCH) {
            Some(tags) => none_match(&tags, &etag),
            None => header_text(header::IF_MODIFIED_SINCE)
                .and_then(|since| DateTime::parse_from_rfc2822(&since.replace("GMT", "+0000")).ok())
                .is_some_and(|since| since >= modified),
        };
    if fault == Some(FeedFault::Malformed) {
        // Cut mid-document, with an element left open: not XML, not JSON.
        let cut: String = body.chars().take(body.chars().count() / 2).collect();
        return (
            [(header::CONTENT_TYPE, content_type)],
            format!("{cut}<item><title>broken"),
        )
            .into_response();
    }
    let mut response = if fresh {
        data.not_modified += 1;
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&last_modified) {
        response.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    response
}
