//! A JSON API whose list of items the test changes, for the `poll` trigger
//! ("new items at a URL"): `GET /items` answers `{"items": [...]}` (in the
//! order the test set, each item as given, e.g. `{"id": 1, ...}`), and
//! `GET /wrapped/items` the same list as `{"data": {"results": [...]}}` for
//! deeper JSONPaths. An optional credential check answers 401
//! `{"error": "unauthorized"}` without it. Faults: any status, 429 with `Retry-After`.

use crate::peer::{Faults, Peer, bearer_token};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The credential the API requires.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ItemsAuth {
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// A header such as `X-Api-Key: <value>`.
    Header { name: String, value: String },
    /// A query parameter such as `?api_key=<value>`.
    Query { name: String, value: String },
}

/// A wrong answer for the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemsFault {
    Status(u16),
    RateLimited { retry_after: u64 },
}

#[derive(Debug, Default)]
struct Data {
    items: Vec<Value>,
    auth: ItemsAuth,
}

#[derive(Debug, Default)]
struct ItemsState {
    data: Mutex<Data>,
    faults: Faults<ItemsFault>,
}

impl ItemsState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running API. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct ItemsApi {
    peer: Peer,
    state: Arc<ItemsState>,
}

impl std::ops::Deref for ItemsApi {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl ItemsApi {
    /// An empty list, no credential required.
    pub async fn start() -> ItemsApi {
        let state = Arc::new(ItemsState::default());
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/items", get(|s, h, q| list(s, h, q, false)))
                .route("/wrapped/items", get(|s, h, q| list(s, h, q, true)))
                .with_state(shared)
        })
        .await;
        ItemsApi { peer, state }
    }

    /// `…/items`: the list as `{"items": [...]}`.
    pub fn items_url(&self) -> String {
        self.peer.url("/items")
    }

    /// `…/wrapped/items`: the list as `{"data": {"results": [...]}}`.
    pub fn wrapped_url(&self) -> String {
        self.peer.url("/wrapped/items")
    }

    pub fn set_auth(&self, auth: ItemsAuth) {
        self.state.data().auth = auth;
    }

    /// Append an item (the API lists oldest first).
    pub fn push(&self, item: Value) {
        self.state.data().items.push(item);
    }

    pub fn set_items(&self, items: Vec<Value>) {
        self.state.data().items = items;
    }

    /// Remove the items whose `id` equals `id`.
    pub fn remove(&self, id: &Value) {
        self.state.data().items.retain(|i| i.get("id") != Some(id));
    }

    pub fn items(&self) -> Vec<Value> {
        self.state.data().items.clone()
    }

    /// Answer the next `times` requests with `fault`.
    pub fn fail_next(&self, fault: ItemsFault, times: usize) {
        self.state.faults.push(fault, times);
    }
}

async fn list(
    State(state): State<Arc<ItemsState>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    wrapped: bool,
) -> Response {
    let (items, authorized) = {
        let data = state.data();
        let authorized = match &data.auth {
            ItemsAuth::None => true,
            ItemsAuth::Bearer(token) => bearer_token(&headers) == Some(token.as_str()),
            ItemsAuth::Header { name, value } => {
                headers.get(name.as_str()).and_then(|v| v.to_str().ok()) == Some(value.as_str())
            }
            ItemsAuth::Query { name, value } => query.get(name) == Some(value),
        };
        (data.items.clone(), authorized)
    };
    if !authorized {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "unauthorized"}))).into_response();
    }
    match state.faults.take() {
        Some(ItemsFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(json!({"error": status.canonical_reason()}))).into_response();
        }
        Some(ItemsFault::RateLimited { retry_after }) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"error": "rate limited"})),
            )
                .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return r;
        }
        None => {}
    }
    let body = if wrapped {
        json!({"data": {"results": items}})
    } else {
        json!({"items": items})
    };
    axum::Json(body).into_response()
}
