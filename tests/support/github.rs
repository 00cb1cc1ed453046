//! An imitation of the GitHub REST API on 127.0.0.1, for the GitHub integration:
//!
//! | endpoint | GitHub's document |
//! |---|---|
//! | `POST /repos/{owner}/{repo}/issues` | <https://docs.github.com/en/rest/issues/issues#create-an-issue> |
//! | `POST /repos/{owner}/{repo}/issues/{number}/comments` | <https://docs.github.com/en/rest/issues/comments#create-an-issue-comment> |
//!
//! As GitHub (<https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api>):
//! a request without `User-Agent` is refused (403); `Authorization: Bearer`
//! (or `token`) is required (401 `Requires authentication` / `Bad credentials`);
//! an `Accept` that is not JSON is 415; an unknown `X-GitHub-Api-Version` is
//! 400; an unknown repository is 404 `Not Found`; a missing title is 422
//! `Invalid request`, an empty one or an unknown assignee 422 `Validation
//! Failed` with `errors`. Every answer has `x-ratelimit-*` headers; rate limits
//! (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>)
//! are injected as faults: the primary one (403/429, `x-ratelimit-remaining: 0`
//! and `x-ratelimit-reset`) and the secondary one (403/429 with `retry-after`).
//!
//! Webhook deliveries signed as GitHub signs them are in [`crate::signatures`].

use crate::peer::{Faults, Peer, Refusal};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};

pub const GITHUB_TOKEN: &str = "github_pat_11TEST0000000000000000_abcdefghijklmnopqrstuvwxyz0123456789";
/// The repository a new imitation has, as (owner, repo).
pub const GITHUB_REPO: (&str, &str) = ("octo-org", "octo-repo");
/// API versions accepted in `X-GitHub-Api-Version`.
pub const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];
/// The users an issue may be assigned to.
const COLLABORATORS: [&str; 2] = ["octocat", "flowpilot-bot"];
const RATE_LIMIT: u64 = 5000;

/// A wrong answer for the next calls.
#[derive(Debug, Clone, PartialEq)]
pub enum GitHubFault {
    /// The primary rate limit: `status` (403 or 429), remaining 0, reset in `reset_in` seconds.
    PrimaryRateLimit { status: u16, reset_in: u64 },
    /// A secondary rate limit: `status` (403 or 429) with `retry-after`.
    SecondaryRateLimit { status: u16, retry_after: u64 },
    /// This 5xx status.
    Server(u16),
}

#[derive(Debug, Default)]
struct Data {
    token: String,
    repos: Vec<(String, String)>,
    issues: Vec<Value>,
    comments: Vec<Value>,
    next_id: u64,
    used: u64,
}

#[derive(Debug, Default)]
struct GitHubState {
    data: Mutex<Data>,
    faults: Faults<GitHubFault>,
    api_base: Mutex<String>,
}

impl GitHubState {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running imitation. Derefs to its [`Peer`] for the recorded requests.
#[derive(Debug)]
pub struct GitHub {
    peer: Peer,
    state: Arc<GitHubState>,
}

impl std::ops::Deref for GitHub {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl GitHub {
    pub async fn start() -> GitHub {
        let state = Arc::new(GitHubState::default());
        {
            let mut data = state.data();
            data.token = GITHUB_TOKEN.into();
            data.repos.push((GITHUB_REPO.0.into(), GITHUB_REPO.1.into()));
        }
        let shared = state.clone();
        let peer = Peer::start(move |_| {
            Router::new()
                .route("/repos/{owner}/{repo}/issues", post(create_issue))
                .route("/repos/{owner}/{repo}/issues/{number}/comments", post(create_comment))
                .fallback(|| async { github_error(StatusCode::NOT_FOUND, "Not Found", "https://docs.github.com/rest") })
                .with_state(shared)
        })
        .await;
        *state.api_base.lock().unwrap_or_else(|e| e.into_inner()) = peer.base_url().to_string();
        GitHub { peer, state }
    }

    /// The API base, as `https://api.github.com` in real life.
    pub fn base_url(&self) -> &str {
        self.peer.base_url()
    }

    /// Accept `token` (and no longer the one before).
    pub fn set_token(&self, token: &str) {
        self.state.data().token = token.into();
    }

    pub fn add_repo(&self, owner: &str, repo: &str) {
        self.state.data().repos.push((owner.into(), repo.into()));
    }

    /// Open an issue as if made on github.com; returns its number.
    pub fn add_issue(&self, owner: &str, repo: &str, title: &str) -> u64 {
        let api_base = self.state.api_base.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut data = self.state.data();
        let issue = issue_object(&mut data, &api_base, owner, repo, &json!({"title": title}));
        let number = issue["number"].as_u64().unwrap_or_default();
        data.issues.push(issue);
        number
    }

    /// Answer the next `times` calls with `fault`.
    pub fn fail_next(&self, fault: GitHubFault, times: usize) {
        self.state.faults.push(fault, times);
    }

    /// Issues opened (through the API or [`GitHub::add_issue`]), oldest first.
    pub fn issues(&self) -> Vec<Value> {
        self.state.data().issues.clone()
    }

    /// Comments created, oldest first.
    pub fn comments(&self) -> Vec<Value> {
        self.state.data().comments.clone()
    }
}

fn github_error(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    let body = json!({"message": message, "documentation_url": documentation_url, "status": status.as_str()});
    (status, axum::Json(body)).into_response()
}

fn set_header(response: &mut Response, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn with_rate_headers(mut response: Response, remaining: u64, reset_in: u64) -> Response {
    let reset = chrono::Utc::now().timestamp() as u64 + reset_in;
    set_header(&mut response, "x-ratelimit-limit", RATE_LIMIT.to_string());
    set_header(&mut response, "x-ratelimit-remaining", remaining.to_string());
    set_header(&mut response, "x-ratelimit-used", (RATE_LIMIT - remaining).to_string());
    set_header(&mut response, "x-ratelimit-reset", reset.to_string());
    set_header(&mut response, "x-ratelimit-resource", "core".into());
    response
}

/// The checks every call passes through, in GitHub's order; `doc` is the
/// endpoint's documentation URL for the error bodies.
fn admit(state: &GitHubState, headers: &HeaderMap, doc: &str) -> Result<(), Refusal> {
    if !headers.contains_key(header::USER_AGENT) {
        let text = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n";
        return Err((StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain")], text)
            .into_response()
            .into());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .map(|(_, t)| t.trim().to_string());
    match token {
        None => return Err(github_error(StatusCode::UNAUTHORIZED, "Requires authentication", doc).into()),
        Some(t) if t != state.data().token => {
            return Err(github_error(
                StatusCode::UNAUTHORIZED,
                "Bad credentials",
                "https://docs.github.com/rest",
            )
            .into());
        }
        Some(_) => {}
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let ok = accept.split(',').any(|a| {
            let a = a.trim();
            a.starts_with("application/vnd.github") || a.starts_with("application/json") || a.starts_with("*/*")
        });
        if !ok {
            let message = format!("Unsupported 'Accept' header: [\"{accept}\"]. Must accept 'application/json'.");
            return Err(github_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &message,
                "https://docs.github.com/v3/media",
            )
            .into());
        }
    }
    if let Some(version) = headers.get("x-github-api-version").and_then(|v| v.to_str().ok())
        && !API_VERSIONS.contains(&version)
    {
        let message = format!("API version {version} is not supported.");
        let doc = "https://docs.github.com/rest/overview/api-versions";
        return Err(github_error(StatusCode::BAD_REQUEST, &message, doc).into());
    }
    match state.faults.take() {
        Some(GitHubFault::PrimaryRateLimit { status, reset_in }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let r = github_error(
                status,
                "API rate limit exceeded for user ID 1.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            );
            Err(with_rate_headers(r, 0, reset_in).into())
        }
        Some(GitHubFault::SecondaryRateLimit { status, retry_after }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            let mut r = github_error(
                status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            );
            set_header(&mut r, "retry-after", retry_after.to_string());
            Err(with_rate_headers(r, RATE_LIMIT - 1, 3600).into())
        }
        Some(GitHubFault::Server(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Err(github_error(status, "Server Error", "https://docs.github.com/rest").into())
        }
        None => Ok(()),
    }
}

fn parse_body(body: &Bytes, doc: &str) -> Result<Value, Refusal> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| github_error(StatusCode::BAD_REQUEST, "Problems parsing JSON", doc).into())
}

fn user() -> Value {
    json!({"login": "flowpilot-bot", "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false})
}

fn issue_object(data: &mut Data, api_base: &str, owner: &str, repo: &str, request: &Value) -> Value {
    data.next_id += 1;
    let number = data
        .issues
        .iter()
        .filter(|i| {
            i["repository_url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/repos/{owner}/{repo}")))
        })
        .count() as u64
        + 1;
    let id = 2_000_000_000 + data.next_id;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let repo_url = format!("{api_base}/repos/{owner}/{repo}");
    let labels: Vec<Value> = request
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.as_str().or_else(|| l.get("name").and_then(Value::as_str)))
                .enumerate()
                .map(|(i, name)| {
                    json!({"id": 7_000_000 + i, "node_id": format!("LA_test{i}"), "url": format!("{repo_url}/labels/{name}"), "name": name, "description": null, "color": "ededed", "default": false})
                })
                .collect()
        })
        .unwrap_or_default();
    let assignees: Vec<Value> = request
        .get("assignees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|login| json!({"login": login, "type": "User"}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": id,
        "node_id": format!("I_kwDOtest{id}"),
        "url": format!("{repo_url}/issues/{number}"),
        "repository_url": repo_url,
        "comments_url": format!("{repo_url}/issues/{number}/comments"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}"),
        "number": number,
        "state": "open",
        "state_reason": null,
        "title": request.get("title").map(|t| t.as_str().map(str::to_string).unwrap_or_else(|| t.to_string())),
        "body": request.get("body").cloned().unwrap_or(Value::Null),
        "user": user(),
        "labels": labels,
        "assignee": assignees.first().cloned().unwrap_or(Value::Null),
        "assignees": assignees,
        "milestone": null,
        "locked": false,
        "comments": 0,
        "created_at": now,
        "updated_at": now,
        "closed_at": null,
        "author_association": "OWNER",
    })
}

fn created(data: &mut Data, object: Value) -> Response {
    data.used += 1;
    let location = object["url"].as_str().unwrap_or_default().to_string();
    let mut r = (StatusCode::CREATED, axum::Json(object)).into_response();
    set_header(&mut r, "location", location);
    with_rate_headers(r, RATE_LIMIT.saturating_sub(data.used), 3600)
}

fn invalid(doc: &str, message: &str, errors: Option<Value>) -> Response {
    let mut body = json!({"message": message, "documentation_url": doc, "status": "422"});
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

async fn create_issue(
    State(state): State<Arc<GitHubState>>,
    Path((owner, repo)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const DOC: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
    if let Err(e) = admit(&state, &headers, DOC) {
        return e.into_response();
    }
    if !state.data().repos.contains(&(owner.clone(), repo.clone())) {
        return github_error(StatusCode::NOT_FOUND, "Not Found", DOC);
    }
    let request = match parse_body(&body, DOC) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match request.get("title") {
        None | Some(Value::Null) => return invalid(DOC, "Invalid request.\n\n\"title\" wasn't supplied.", None),
        Some(Value::String(t)) if t.trim().is_empty() => {
            let errors = json!([{"resource": "Issue", "code": "missing_field", "field": "title"}]);
            return invalid(DOC, "Validation Failed", Some(errors));
        }
        _ => {}
    }
    if let Some(unknown) = request
        .get("assignees")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().filter_map(Value::as_str).find(|l| !COLLABORATORS.contains(l)))
    {
        let errors = json!([{"value": unknown, "resource": "Issue", "field": "assignees", "code": "invalid"}]);
        return invalid(DOC, "Validation Failed", Some(errors));
    }
    let api_base = state.api_base.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut data = state.data();
    let issue = issue_object(&mut data, &api_base, &owner, &repo, &request);
    data.issues.push(issue.clone());
    created(&mut data, issue)
}

async fn create_comment(
    State(state): State<Arc<GitHubState>>,
    Path((owner, repo, number)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    const DOC: &str = "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
    if let Err(e) = admit(&state, &headers, DOC) {
        return e.into_response();
    }
    let api_base = state.api_base.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let issue_url = format!("{api_base}/repos/{owner}/{repo}/issues/{number}");
    let mut data = state.data();
    let Some(index) = data
        .issues
        .iter()
        .position(|i| i["url"].as_str() == Some(issue_url.as_str()))
    else {
        return github_error(StatusCode::NOT_FOUND, "Not Found", DOC);
    };
    let request = match parse_body(&body, DOC) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(text) = request.get("body").and_then(Value::as_str) else {
        return invalid(DOC, "Invalid request.\n\n\"body\" wasn't supplied.", None);
    };
    data.next_id += 1;
    let id = 3_000_000_000 + data.next_id;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let comment = json!({
        "id": id,
        "node_id": format!("IC_kwDOtest{id}"),
        "url": format!("{api_base}/repos/{owner}/{repo}/issues/comments/{id}"),
        "html_url": format!("https://github.com/{owner}/{repo}/issues/{number}#issuecomment-{id}"),
        "body": text,
        "user": user(),
        "created_at": now,
        "updated_at": now,
        "issue_url": issue_url,
        "author_association": "OWNER",
    });
    let issue = &mut data.issues[index];
    issue["comments"] = json!(issue["comments"].as_u64().unwrap_or_default() + 1);
    data.comments.push(comment.clone());
    created(&mut data, comment)
}
