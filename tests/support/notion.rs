//! An imitation of the Notion API (<https://developers.notion.com/reference/intro>)
//! on 127.0.0.1, for the Notion integration's tests.
//!
//! | endpoint | Notion's document |
//! |---|---|
//! | `POST /v1/pages` | <https://developers.notion.com/reference/post-page> |
//! | `PATCH /v1/blocks/{id}/children` | <https://developers.notion.com/reference/patch-block-children> |
//! | `POST /v1/databases/{id}/query` | <https://developers.notion.com/reference/post-database-query> |
//!
//! Every call needs `Authorization: Bearer <token>` and a `Notion-Version`
//! header. Errors have Notion's shape (<https://developers.notion.com/reference/status-codes>):
//! `{"object":"error","status":400,"code":"validation_error","message":"…"}`,
//! 401 `unauthorized`, 404 `object_not_found`, 429 `rate_limited` with
//! `Retry-After`. Page properties are checked against the database's schema,
//! blocks and rich text against Notion's size limits (100 blocks, 2,000
//! characters a text). Filters and sorts of a query are recorded, not applied.

mod validate;

use crate::peer::{Faults, Peer, Refusal, bearer_token};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use validate::{check_children, check_properties};

/// The token a new imitation accepts.
pub const NOTION_TOKEN: &str = "ntn_test_token_0123456789";
/// The database a new imitation has: `Name` (title), `Tags` (multi_select),
/// `Status` (select), `Link` (url), `Notes` (rich_text).
pub const NOTION_DATABASE_ID: &str = "2f26ee68-df30-4251-aad4-8ddc420cba3d";

/// A wrong answer for the next calls.
#[derive(Debug, Clone, PartialEq)]
pub enum NotionFault {
    /// 429 `rate_limited` with `Retry-After: secs`.
    RateLimited { retry_after: u64 },
    /// 500 `internal_server_error`, 502 `bad_gateway`, 503 `service_unavailable`, 504 `gateway_timeout`.
    Server(u16),
    /// 400 `validation_error` with this message.
    Validation(String),
    /// 409 `conflict_error`.
    Conflict,
}

#[derive(Debug, Clone)]
struct Database {
    id: String,
    /// Property name → Notion property type.
    schema: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Data {
    token: String,
    databases: Vec<Database>,
    /// Page objects, in creation order.
    pages: Vec<Value>,
    /// (parent block id, block object), in order.
    blocks: Vec<(String, Value)>,
    next_id: u64,
}

#[derive(Debug, Default)]
struct NotionState {
    data: Mutex<Data>,
    faults: Faults<NotionFault>,
}

impl NotionState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running imitation. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct Notion {
    peer: Peer,
    state: Arc<NotionState>,
}

impl std::ops::Deref for Notion {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Notion {
    pub async fn start() -> Notion {
        let state = Arc::new(NotionState::default());
        {
            let mut data = state.data();
            data.token = NOTION_TOKEN.into();
            data.databases.push(Database {
                id: NOTION_DATABASE_ID.into(),
                schema: [
                    ("Name", "title"),
                    ("Tags", "multi_select"),
                    ("Status", "select"),
                    ("Link", "url"),
                    ("Notes", "rich_text"),
                ]
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .to_vec(),
            });
        }
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/v1/pages", post(create_page))
                .route("/v1/blocks/{id}/children", patch(append_children))
                .route("/v1/databases/{id}/query", post(query_database))
                .fallback(|| async {
                    notion_error(StatusCode::BAD_REQUEST, "invalid_request_url", "Invalid request URL.")
                })
                .with_state(shared)
        })
        .await;
        Notion { peer, state }
    }

    /// The base URL as the integration's `base_url` (`https://api.notion.com` in real life).
    pub fn base_url(&self) -> &str {
        self.peer.base_url()
    }

    /// Accept `token` (and no longer the one before).
    pub fn set_token(&self, token: &str) {
        self.state.data().token = token.into();
    }

    /// Add a database whose title property is `title_property`, with more
    /// properties as (name, Notion type) pairs.
    pub fn add_database(&self, id: &str, title_property: &str, properties: &[(&str, &str)]) {
        let mut schema = vec![(title_property.to_string(), "title".to_string())];
        schema.extend(properties.iter().map(|(n, t)| (n.to_string(), t.to_string())));
        self.state.data().databases.push(Database { id: id.into(), schema });
    }

    /// Put a page titled `title` into a database, as if made in Notion; returns its id.
    pub fn add_page(&self, database_id: &str, title: &str) -> String {
        let mut data = self.state.data();
        let Some(db) = find_database(&data, database_id) else {
            panic!("no database {database_id} in the Notion imitation");
        };
        let title_property = db
            .schema
            .iter()
            .find(|(_, t)| t == "title")
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| "Name".into());
        let properties = json!({title_property: {"title": [{"type": "text", "text": {"content": title}}]}});
        let page = page_object(&mut data, &db, properties);
        data.pages.push(page.clone());
        page["id"].as_str().unwrap_or_default().to_string()
    }

    /// Answer the next `times` calls with `fault`.
    pub fn fail_next(&self, fault: NotionFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// Every page created through the API or [`Notion::add_page`], oldest first.
    pub fn pages(&self) -> Vec<Value> {
        self.state.data().pages.clone()
    }

    /// The blocks appended under `block_id` (a page or a block), oldest first.
    pub fn children(&self, block_id: &str) -> Vec<Value> {
        let key = normalize_id(block_id);
        let data = self.state.data();
        data.blocks
            .iter()
            .filter(|(parent, _)| normalize_id(parent) == key)
            .map(|(_, b)| b.clone())
            .collect()
    }
}

fn notion_error(status: StatusCode, code: &str, message: &str) -> Refusal {
    let body = json!({"object": "error", "status": status.as_u16(), "code": code, "message": message});
    (status, axum::Json(body)).into_response().into()
}

fn validation(message: impl AsRef<str>) -> Refusal {
    notion_error(StatusCode::BAD_REQUEST, "validation_error", message.as_ref())
}

fn not_found(kind: &str, id: &str) -> Refusal {
    let message = format!(
        "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
    );
    notion_error(StatusCode::NOT_FOUND, "object_not_found", &message)
}

/// Notion ids are UUIDs, with or without their dashes.
fn normalize_id(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_ascii_lowercase()
}

fn find_database(data: &Data, id: &str) -> Option<Database> {
    let key = normalize_id(id);
    data.databases.iter().find(|d| normalize_id(&d.id) == key).cloned()
}

fn new_id(data: &mut Data) -> String {
    data.next_id += 1;
    format!("{:08x}-0000-4000-8000-{:012x}", 0x5eed_0000u32, data.next_id)
}

/// What every call checks first: a fault queued, then the headers. On success,
/// the parsed body (`{}` when there is none).
fn admit(state: &NotionState, headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    let token = state.data().token.clone();
    if bearer_token(headers) != Some(token.as_str()) {
        return Err(notion_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "API token is invalid.",
        ));
    }
    if !headers.contains_key("notion-version") {
        return Err(notion_error(
            StatusCode::BAD_REQUEST,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        ));
    }
    if let Some(fault) = state.faults.take() {
        return Err(match fault {
            NotionFault::RateLimited { retry_after } => {
                let mut r = notion_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "You have been rate limited. Please try again in a few minutes.",
                )
                .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r.into()
            }
            NotionFault::Server(code) => {
                let (code_name, message) = match code {
                    502 => (
                        "bad_gateway",
                        "Notion encountered an issue while attempting to complete this request.",
                    ),
                    503 => ("service_unavailable", "Notion is unavailable, please try again later."),
                    504 => (
                        "gateway_timeout",
                        "Notion timed out while attempting to complete this request.",
                    ),
                    _ => ("internal_server_error", "Unexpected error occurred."),
                };
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                notion_error(status, code_name, message)
            }
            NotionFault::Validation(message) => validation(message),
            NotionFault::Conflict => notion_error(
                StatusCode::CONFLICT,
                "conflict_error",
                "Conflict occurred while saving. Please try again.",
            ),
        });
    }
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|_| notion_error(StatusCode::BAD_REQUEST, "invalid_json", "Error parsing JSON body."))
}

fn undefined(path: &str) -> Refusal {
    validation(format!(
        "body failed validation: {path} should be defined, instead was `undefined`."
    ))
}

fn plain_title(properties: &Value) -> String {
    let Some(map) = properties.as_object() else {
        return String::new();
    };
    map.values()
        .filter_map(|v| v.get("title").and_then(Value::as_array))
        .flatten()
        .filter_map(|t| t.pointer("/text/content").and_then(Value::as_str))
        .collect()
}

fn page_object(data: &mut Data, db: &Database, properties: Value) -> Value {
    let id = new_id(data);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut shown = Map::new();
    for (n, (name, kind)) in db.schema.iter().enumerate() {
        let empty = match kind.as_str() {
            "title" | "rich_text" | "multi_select" => json!([]),
            _ => Value::Null,
        };
        let value = properties.get(name).and_then(|v| v.get(kind)).cloned().unwrap_or(empty);
        let prop_id = if kind == "title" {
            "title".to_string()
        } else {
            format!("p{n}")
        };
        shown.insert(name.clone(), json!({"id": prop_id, "type": kind, kind: value}));
    }
    let slug: String = plain_title(&properties)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let short = normalize_id(&id);
    let url = if slug.is_empty() {
        format!("https://www.notion.so/{short}")
    } else {
        format!("https://www.notion.so/{slug}-{short}")
    };
    json!({
        "object": "page",
        "id": id,
        "created_time": now,
        "last_edited_time": now,
        "created_by": {"object": "user", "id": "bot-0000"},
        "last_edited_by": {"object": "user", "id": "bot-0000"},
        "cover": null,
        "icon": null,
        "parent": {"type": "database_id", "database_id": db.id},
        "archived": false,
        "in_trash": false,
        "properties": shown,
        "url": url,
        "public_url": null,
    })
}

fn block_objects(data: &mut Data, parent: &str, blocks: Vec<Value>) -> Vec<Value> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut made = Vec::new();
    for mut block in blocks {
        let id = new_id(data);
        if let Some(object) = block.as_object_mut() {
            object.insert("object".into(), json!("block"));
            object.insert("id".into(), json!(id));
            object.insert("parent".into(), json!({"type": "page_id", "page_id": parent}));
            object.insert("created_time".into(), json!(now));
            object.insert("has_children".into(), json!(false));
            object.insert("archived".into(), json!(false));
        }
        data.blocks.push((parent.to_string(), block.clone()));
        made.push(block);
    }
    made
}

async fn create_page(
    State(state): State<Arc<NotionState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request = admit(&state, &headers, &body)?;
    let Some(database_id) = request.pointer("/parent/database_id").and_then(Value::as_str) else {
        if request.pointer("/parent/page_id").is_some() {
            return Err(validation(
                "This imitation creates pages in databases only: body.parent.database_id should be defined.",
            ));
        }
        return Err(undefined("body.parent.database_id"));
    };
    let Some(properties) = request.get("properties").and_then(Value::as_object) else {
        return Err(undefined("body.properties"));
    };
    let mut data = state.data();
    let Some(db) = find_database(&data, database_id) else {
        return Err(not_found("database", database_id));
    };
    check_properties(&db, properties)?;
    let children = match request.get("children") {
        Some(c) => check_children(c, "body.children")?,
        None => Vec::new(),
    };
    let page = page_object(&mut data, &db, Value::Object(properties.clone()));
    let page_id = page["id"].as_str().unwrap_or_default().to_string();
    block_objects(&mut data, &page_id, children);
    data.pages.push(page.clone());
    Ok(axum::Json(page).into_response())
}

async fn append_children(
    State(state): State<Arc<NotionState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request = admit(&state, &headers, &body)?;
    let mut data = state.data();
    let key = normalize_id(&id);
    let known = data
        .pages
        .iter()
        .any(|p| p["id"].as_str().map(normalize_id) == Some(key.clone()))
        || data
            .blocks
            .iter()
            .any(|(_, b)| b["id"].as_str().map(normalize_id) == Some(key.clone()));
    if !known {
        return Err(not_found("block", &id));
    }
    let Some(children) = request.get("children") else {
        return Err(undefined("body.children"));
    };
    let blocks = check_children(children, "body.children")?;
    let results = block_objects(&mut data, &id, blocks);
    Ok(axum::Json(json!({
        "object": "list",
        "results": results,
        "next_cursor": null,
        "has_more": false,
        "type": "block",
        "block": {},
    }))
    .into_response())
}

async fn query_database(
    State(state): State<Arc<NotionState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request = admit(&state, &headers, &body)?;
    let data = state.data();
    let Some(db) = find_database(&data, &id) else {
        return Err(not_found("database", &id));
    };
    let page_size = match request.get("page_size") {
        None => 100,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=100) => n as usize,
            _ => {
                return Err(validation(format!(
                    "body failed validation: body.page_size should be ≤ `100`, instead was `{v}`."
                )));
            }
        },
    };
    let in_db: Vec<&Value> = data
        .pages
        .iter()
        .filter(|p| p.pointer("/parent/database_id").and_then(Value::as_str) == Some(db.id.as_str()))
        .collect();
    let start = match request.get("start_cursor").and_then(Value::as_str) {
        None => 0,
        Some(cursor) => match in_db.iter().position(|p| p["id"].as_str() == Some(cursor)) {
            Some(i) => i,
            None => return Err(validation(format!("start_cursor provided is invalid: {cursor}"))),
        },
    };
    let results: Vec<Value> = in_db.iter().skip(start).take(page_size).map(|p| (*p).clone()).collect();
    let next = in_db.get(start + page_size).map(|p| p["id"].clone());
    Ok(axum::Json(json!({
        "object": "list",
        "results": results,
        "has_more": next.is_some(),
        "next_cursor": next.unwrap_or(Value::Null),
        "type": "page_or_database",
        "page_or_database": {},
    }))
    .into_response())
}
