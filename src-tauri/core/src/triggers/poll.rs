//! The poll trigger ("new item at a URL"): GET a JSON API with the same
//! request, auth and error handling as an `http.request` step, pick the list
//! with the `items` JSONPath and each item's identity with `id`; an item whose
//! id was not seen before is new. Items without an id are known by a hash of
//! their JSON.

use super::source::{Found, Item, Look, MAX_ITEMS_PER_CHECK, Source, SourceError};
use flowpilot_engine::http_client::HttpClient;
use flowpilot_engine::plan::PollTrigger;
use flowpilot_engine::providers::http::Http;
use flowpilot_engine::registry::{CredentialSource, Credentials, Provider, StepContext};
use serde_json::{Value, json};
use serde_json_path::JsonPath;
use sha2::Digest;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct PollSource {
    trigger: PollTrigger,
    credentials: Arc<dyn CredentialSource>,
    http: HttpClient,
}

pub fn source_key(t: &PollTrigger) -> String {
    format!("poll {} {} {}", t.url.trim(), t.items, t.id)
}

impl PollSource {
    pub fn new(trigger: PollTrigger, credentials: Arc<dyn CredentialSource>, http: HttpClient) -> Self {
        Self {
            trigger,
            credentials,
            http,
        }
    }
}

/// GET the URL as an `http.request` step would; the JSON it answered.
async fn fetch(
    t: &PollTrigger,
    credentials: Arc<dyn CredentialSource>,
    http: &HttpClient,
) -> Result<Value, SourceError> {
    let mut params = json!({"method": "GET", "url": t.url, "headers": t.headers});
    if let Some(auth) = &t.auth {
        params["auth"] = serde_json::to_value(auth).unwrap_or(Value::Null);
    }
    let creds = Credentials::new(credentials, "http");
    let ctx = StepContext {
        run_id: "trigger".into(),
        plan_name: "trigger".into(),
        step_index: 0,
        item: None,
        attempt: 1,
        deadline: None,
        http: http.clone(),
    };
    let result = Http
        .run("request", params, &creds, &ctx, CancellationToken::new())
        .await
        .map_err(|e| {
            let mut e = SourceError::from(e);
            // Whatever the step's message quotes, the credential it sent stays out.
            for secret in creds.used_values() {
                e.message = e.message.replace(&secret, "***");
            }
            e
        })?;
    match result.output {
        Value::String(text) => Err(SourceError::new(format!(
            "{} did not answer JSON (it began: {})",
            t.url,
            text.chars().take(80).collect::<String>()
        ))),
        other => Ok(other),
    }
}

/// The items of an answer with their keys, in the API's order.
fn items(t: &PollTrigger, answer: &Value) -> Result<Vec<Item>, SourceError> {
    let list_path = JsonPath::parse(&t.items)
        .map_err(|e| SourceError::new(format!("items: `{}` is not a JSONPath ({e})", t.items)))?;
    let id_path =
        JsonPath::parse(&t.id).map_err(|e| SourceError::new(format!("id: `{}` is not a JSONPath ({e})", t.id)))?;
    let found = list_path.query(answer).all();
    let list: Vec<Value> = match found.as_slice() {
        [Value::Array(items)] => items.clone(),
        [] => return Err(SourceError::new(format!("`{}` finds nothing in the answer", t.items))),
        many => many.iter().map(|v| (*v).clone()).collect(),
    };
    Ok(list
        .into_iter()
        .map(|item| {
            let key = match id_path.query(&item).first() {
                Some(Value::String(s)) => format!("id:{s}"),
                Some(Value::Null) | None => format!("hash:{}", hex::encode(sha2::Sha256::digest(item.to_string()))),
                Some(other) => format!("id:{other}"),
            };
            Item { key, value: item }
        })
        .collect())
}

fn oldest_first(t: &PollTrigger, mut items: Vec<Item>) -> Vec<Item> {
    if t.newest_first {
        items.reverse();
    }
    items
}

#[async_trait::async_trait]
impl Source for PollSource {
    async fn check(&mut self, look: Look<'_>) -> Result<Found, SourceError> {
        let answer = fetch(&self.trigger, self.credentials.clone(), &self.http).await?;
        let all = oldest_first(&self.trigger, items(&self.trigger, &answer)?);
        if look.cursor.is_none() {
            let count = all.len();
            let keys = all.iter().map(|i| i.key.clone()).collect();
            let items: Vec<Item> = all.into_iter().rev().take(look.run_existing).rev().collect();
            return Ok(Found {
                note: Some(format!(
                    "Started watching {}: {count} item{} already listed started nothing{}.",
                    self.trigger.url,
                    if count == 1 { "" } else { "s" },
                    if items.is_empty() {
                        String::new()
                    } else {
                        format!(" (runs for the newest {})", items.len())
                    }
                )),
                items,
                seen: keys,
                cursor: json!({}),
                ..Found::default()
            });
        }
        let keys: Vec<String> = all.iter().map(|i| i.key.clone()).collect();
        let seen = (look.seen)(&keys);
        let mut taken = std::collections::HashSet::new();
        let mut new: Vec<Item> = all
            .into_iter()
            .zip(seen)
            .filter(|(item, seen)| !seen && taken.insert(item.key.clone()))
            .map(|(item, _)| item)
            .collect();
        let more = new.len() > MAX_ITEMS_PER_CHECK;
        new.truncate(MAX_ITEMS_PER_CHECK);
        Ok(Found {
            seen: new.iter().map(|i| i.key.clone()).collect(),
            items: new,
            more,
            cursor: json!({}),
            ..Found::default()
        })
    }
}

/// The newest `count` items the URL lists.
pub async fn sample(
    t: &PollTrigger,
    credentials: Arc<dyn CredentialSource>,
    http: &HttpClient,
    count: usize,
) -> Result<Vec<Value>, SourceError> {
    let answer = fetch(t, credentials, http).await?;
    Ok(oldest_first(t, items(t, &answer)?)
        .into_iter()
        .rev()
        .take(count)
        .map(|i| i.value)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(items: &str, id: &str) -> PollTrigger {
        serde_json::from_value(json!({"url": "https://x.test", "items": items, "id": id})).unwrap()
    }

    #[test]
    fn items_are_picked_by_jsonpath_and_known_by_their_id() {
        let answer = json!({"data": {"results": [{"id": 1, "n": "a"}, {"id": "b"}, {"n": "no id"}]}});
        let found = items(&trigger("$.data.results", "$.id"), &answer).unwrap();
        let keys: Vec<&str> = found.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys[..2], ["id:1", "id:b"]);
        assert!(keys[2].starts_with("hash:"));
        assert!(items(&trigger("$.nothing", "$.id"), &answer).is_err());
        // A path that picks the items one by one works too.
        let one_by_one = items(&trigger("$.data.results[*]", "$.id"), &answer).unwrap();
        assert_eq!(one_by_one.len(), 3);
    }
}
