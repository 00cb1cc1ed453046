//! The feed trigger: new items in an RSS 2.0, Atom or JSON Feed document
//! (feed-rs), fetched with conditional GET (ETag / Last-Modified). An item is
//! known by its GUID (RSS `guid`, Atom and JSON Feed `id`), else its link, else
//! a hash of its content, never by the parser's own id, which is random for an
//! item with none (an item that only changes its date is not new).

use super::source::{Found, Item, Look, MAX_ITEMS_PER_CHECK, Source, SourceError};
use chrono::{DateTime, Utc};
use flowpilot_engine::http_client::HttpClient;
use flowpilot_engine::plan::FeedTrigger;
use flowpilot_engine::providers::net;
use flowpilot_engine::request::{Request, error_detail, status_error};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use serde_json::{Value, json};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

/// The largest feed document read.
const MAX_FEED_BYTES: usize = 10 * 1024 * 1024;
/// What an entry without an id of its own gets from our id generator: nothing.
const NO_ID: &str = "";

pub struct FeedSource {
    trigger: FeedTrigger,
    http: HttpClient,
}

pub fn source_key(t: &FeedTrigger) -> String {
    format!("feed {}", t.url.trim())
}

impl FeedSource {
    pub fn new(trigger: FeedTrigger, http: HttpClient) -> Self {
        Self { trigger, http }
    }
}

/// The document, or `None` for 304 Not Modified; with the validators to send next time.
async fn fetch(
    http: &HttpClient,
    url: &str,
    validators: Option<&Value>,
) -> Result<Option<(Vec<u8>, Value)>, SourceError> {
    let url = net::parse_url("url", url)?;
    let mut request = Request::get(url).header(
        ACCEPT,
        HeaderValue::from_static(
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8",
        ),
    );
    if let Some(v) = validators {
        let value = |key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .and_then(|s| HeaderValue::from_str(s).ok())
        };
        if let Some(etag) = value("etag") {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = value("last_modified") {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
    }
    let cancel = CancellationToken::new();
    // Redirects are followed by the request itself (a feed that moved is common).
    let mut incoming = request.open(http, &cancel).await?;
    let status = incoming.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(None);
    }
    if !status.is_success() {
        let headers = incoming.response.headers().clone();
        let (body, _) = incoming.read_body(64 * 1024, &cancel).await.unwrap_or_default();
        return Err(status_error(
            &incoming.method,
            &incoming.url,
            status,
            &headers,
            error_detail(&body),
            false,
            false,
            std::time::SystemTime::now(),
        )
        .into());
    }
    let header = |name| {
        incoming
            .response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let next = json!({"etag": header(ETAG), "last_modified": header(LAST_MODIFIED)});
    let (body, truncated) = incoming.read_body(MAX_FEED_BYTES, &cancel).await?;
    if truncated {
        return Err(SourceError::new(format!(
            "the feed at {} is larger than {} MB",
            incoming.url,
            MAX_FEED_BYTES / 1024 / 1024
        )));
    }
    Ok(Some((body, next)))
}

fn text(t: &Option<feed_rs::model::Text>) -> Option<String> {
    t.as_ref().map(|t| t.content.trim().to_string())
}

/// A parsed entry: its key, when it was published (for the order) and what a run sees.
struct Entry {
    key: String,
    when: Option<DateTime<Utc>>,
    value: Value,
}

fn entries(body: &[u8]) -> Result<Vec<Entry>, SourceError> {
    let feed = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| NO_ID.to_string())
        .build()
        .parse(body)
        .map_err(|e| SourceError::new(format!("the feed cannot be read: {e}")))?;
    Ok(feed
        .entries
        .into_iter()
        .map(|e| {
            let link = e.links.iter().find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate")).or(e.links.first());
            let link = link.map(|l| l.href.clone());
            let title = text(&e.title);
            let summary = text(&e.summary);
            let content = e.content.as_ref().and_then(|c| c.body.clone());
            let key = if e.id != NO_ID {
                format!("id:{}", e.id)
            } else if let Some(link) = &link {
                format!("link:{link}")
            } else {
                let mut hash = sha2::Sha256::new();
                for part in [&title, &summary, &content] {
                    hash.update(part.as_deref().unwrap_or_default().as_bytes());
                    hash.update([0]);
                }
                format!("hash:{}", hex::encode(hash.finalize()))
            };
            let id = (e.id != NO_ID).then(|| e.id.clone());
            let value = json!({
                "id": id,
                "title": title,
                "link": link,
                "published": e.published,
                "updated": e.updated,
                "summary": summary,
                "content": content,
                "authors": e.authors.iter().map(|a| json!({"name": a.name, "email": a.email, "uri": a.uri})).collect::<Vec<_>>(),
            });
            Entry {
                key,
                when: e.published.or(e.updated),
                value,
            }
        })
        .collect())
}

/// Oldest first: by date where every entry has one, else the reverse of the
/// document's order (feeds list the newest first).
fn oldest_first(mut entries: Vec<Entry>) -> Vec<Entry> {
    entries.reverse();
    if entries.iter().all(|e| e.when.is_some()) {
        entries.sort_by_key(|e| e.when);
    }
    entries
}

#[async_trait::async_trait]
impl Source for FeedSource {
    async fn check(&mut self, look: Look<'_>) -> Result<Found, SourceError> {
        let baseline = look.cursor.is_none();
        let Some((body, validators)) = fetch(&self.http, &self.trigger.url, look.cursor).await? else {
            return Ok(Found {
                cursor: look.cursor.cloned().unwrap_or(Value::Null),
                ..Found::default()
            });
        };
        let entries = oldest_first(entries(&body)?);
        if baseline {
            let count = entries.len();
            let keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
            let items: Vec<Item> = entries
                .into_iter()
                .rev()
                .take(look.run_existing)
                .rev()
                .map(|e| Item {
                    key: e.key,
                    value: e.value,
                })
                .collect();
            return Ok(Found {
                note: Some(format!(
                    "Started watching the feed: {count} item{} already there started nothing{}.",
                    if count == 1 { "" } else { "s" },
                    if items.is_empty() {
                        String::new()
                    } else {
                        format!(" (runs for the newest {})", items.len())
                    }
                )),
                items,
                seen: keys,
                cursor: validators,
                ..Found::default()
            });
        }
        let keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
        let seen = (look.seen)(&keys);
        let mut new: Vec<Entry> = entries
            .into_iter()
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|(e, _)| e)
            .collect();
        // The same item twice in one document counts once.
        let mut keys_taken = std::collections::HashSet::new();
        new.retain(|e| keys_taken.insert(e.key.clone()));
        let more = new.len() > MAX_ITEMS_PER_CHECK;
        new.truncate(MAX_ITEMS_PER_CHECK);
        let items: Vec<Item> = new
            .into_iter()
            .map(|e| Item {
                key: e.key,
                value: e.value,
            })
            .collect();
        Ok(Found {
            seen: items.iter().map(|i| i.key.clone()).collect(),
            items,
            // With items left for the next check, ask for the whole document again.
            cursor: if more {
                Value::Object(Default::default())
            } else {
                validators
            },
            more,
            ..Found::default()
        })
    }
}

/// The newest `count` items of the feed.
pub async fn sample(t: &FeedTrigger, http: &HttpClient, count: usize) -> Result<Vec<Value>, SourceError> {
    let Some((body, _)) = fetch(http, &t.url, None).await? else {
        return Ok(Vec::new());
    };
    Ok(oldest_first(entries(&body)?)
        .into_iter()
        .rev()
        .take(count)
        .map(|e| e.value)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Second</title><link>https://b.test/2</link><pubDate>Tue, 06 Jan 2026 09:00:00 GMT</pubDate></item>
<item><title>No id no link</title><description>Just text</description></item>
<item><guid>urn:1</guid><title>First</title><link>https://b.test/1</link><pubDate>Mon, 05 Jan 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"#;

    #[test]
    fn items_are_known_by_guid_then_link_then_a_content_hash_and_never_a_random_id() {
        let first = entries(RSS.as_bytes()).unwrap();
        let again = entries(RSS.as_bytes()).unwrap();
        let keys: Vec<&str> = first.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys[0], "link:https://b.test/2");
        assert!(keys[1].starts_with("hash:"), "{keys:?}");
        assert_eq!(keys[2], "id:urn:1");
        let keys_again: Vec<&str> = again.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, keys_again, "parsing twice gives the same keys");
        assert_eq!(first[1].value["id"], Value::Null);
        assert_eq!(first[2].value["title"], "First");
    }

    #[test]
    fn the_oldest_comes_first() {
        let dated = oldest_first(entries(RSS.as_bytes()).unwrap());
        // One entry has no date: document order, reversed.
        let titles: Vec<&str> = dated.iter().map(|e| e.value["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["First", "No id no link", "Second"]);
    }
}
