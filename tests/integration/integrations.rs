//! The integrations' contract: every definition (the built-ins and the fixtures)
//! loads, its params schemas are objects that compile, its examples validate, a
//! side-effecting action is stubbed in a dry run without reading a credential —
//! and, against imitations of the services on 127.0.0.1, each action sends the
//! documented request (method, path, headers with auth, body) for its example
//! params and maps a success, an error body and a 429 as the service documents.

use axum::Router;
use flowpilot_engine::integration::{self, BUILTIN_FILES, IntegrationDefinition, IntegrationProvider};
use flowpilot_engine::registry::{
    CredentialError, CredentialSource, Provider, ProviderKind, Registry, StaticCredentials,
};
use flowpilot_engine::run::{NoObserver, RunRequest};
use flowpilot_engine::{
    ErrorCode, Executor, Plan, RunEvent, RunStatus, Sensitive, StepRecord, StepStatus, SystemClock,
};
use flowpilot_tests::discord::{DISCORD_WEBHOOK_ID, DiscordFault};
use flowpilot_tests::github::{GITHUB_REPO, GITHUB_TOKEN, GitHubFault};
use flowpilot_tests::notion::{NOTION_DATABASE_ID, NOTION_TOKEN, NotionFault};
use flowpilot_tests::slack::{SLACK_BOT_TOKEN, SLACK_CHANNEL_ID, SlackFault};
use flowpilot_tests::telegram::{TELEGRAM_TOKEN, TelegramFault};
use flowpilot_tests::{Discord, GitHub, Notion, Peer, Slack, Telegram};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Definitions only the tests use, beside the built-ins.
const FIXTURES: &[(&str, &str)] = &[("items_api.json", include_str!("fixtures/items_api.json"))];

fn all_definitions() -> Vec<(&'static str, &'static str)> {
    BUILTIN_FILES.iter().chain(FIXTURES).copied().collect()
}

fn builtin(name: &str) -> IntegrationDefinition {
    let (_, text) = BUILTIN_FILES
        .iter()
        .find(|(file, _)| file.trim_end_matches(".json") == name)
        .unwrap_or_else(|| panic!("no built-in {name}"));
    integration::load(text).expect("a built-in loads")
}

/// The definition with its address moved to the imitation's.
fn pointed_at(mut def: IntegrationDefinition, base: &str) -> IntegrationDefinition {
    def.base_url = base.to_string();
    def
}

struct Harness {
    registry: Registry,
    executor: Executor,
}

fn harness(def: IntegrationDefinition, credentials: impl CredentialSource + 'static) -> Harness {
    harness_of(vec![def], credentials)
}

/// The built-ins with `defs` in place of the built-in integrations (each pointed
/// at an imitation, or as shipped).
fn harness_of(defs: Vec<IntegrationDefinition>, credentials: impl CredentialSource + 'static) -> Harness {
    // The built-in of the same name would be found first: leave the built-in integrations out.
    let registry =
        Registry::from_providers(
            Registry::builtin()
                .providers()
                .iter()
                .filter(|p| p.kind() != ProviderKind::Integration)
                .cloned()
                .chain(defs.into_iter().map(|def| {
                    Arc::new(IntegrationProvider::new(def, ProviderKind::UserIntegration)) as Arc<dyn Provider>
                }))
                .collect(),
        );
    let executor = Executor::new(registry.clone(), Arc::new(SystemClock), Arc::new(credentials));
    Harness { registry, executor }
}

struct Ran {
    steps: Vec<StepRecord>,
    status: RunStatus,
    events: Vec<RunEvent>,
}

impl Harness {
    /// The problems of a one-step plan, when it does not load.
    fn load_problems(&self, provider: &str, action: &str, params: Value) -> Vec<String> {
        let plan = json!({"name": "contract", "steps": [{"provider": provider, "action": action, "params": params}]});
        match Plan::from_value(plan, &self.registry) {
            Ok(_) => Vec::new(),
            Err(e) => e.issues().iter().map(ToString::to_string).collect(),
        }
    }

    async fn run(&self, provider: &str, action: &str, params: Value) -> Ran {
        let step = json!({"provider": provider, "action": action, "params": params, "retry": {"max_attempts": 2, "backoff_ms": 10}});
        self.run_steps(json!([step])).await
    }

    async fn run_steps(&self, steps: Value) -> Ran {
        let plan = json!({"name": "contract", "steps": steps});
        let plan = Plan::from_value(plan, &self.registry).unwrap_or_else(|e| panic!("{e}"));
        let events = Mutex::new(Vec::new());
        let observer = |e: &RunEvent| events.lock().expect("events").push(e.clone());
        let outcome = self
            .executor
            .run(
                RunRequest::new("run-contract", plan, json!({"type": "manual"})),
                &observer,
                CancellationToken::new(),
            )
            .await;
        Ran {
            steps: outcome.steps,
            status: outcome.status,
            events: events.into_inner().expect("events"),
        }
    }
}

impl Ran {
    fn ok(&self) -> &StepRecord {
        let last = self.steps.last().expect("a step");
        assert_eq!(last.status, StepStatus::Success, "{last:#?}");
        last
    }

    fn failed(&self) -> &StepRecord {
        let last = self.steps.last().expect("a step");
        assert_ne!(last.status, StepStatus::Success, "{last:#?}");
        assert_eq!(self.status, RunStatus::Failed);
        last
    }

    fn waited_ms(&self) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::StepRetrying { retry_in_ms, .. } => Some(*retry_in_ms),
                _ => None,
            })
            .collect()
    }

    fn never_shows(&self, secret: &str) {
        let text = serde_json::to_string(&self.steps).expect("JSON") + &format!("{:?}", self.events);
        assert!(!text.contains(secret), "the secret leaked: {text}");
    }
}

fn example(def: &IntegrationDefinition, action: &str) -> Value {
    def.actions[action]
        .example
        .clone()
        .unwrap_or_else(|| panic!("{}.{action} has no example", def.name))
}

/// Counts every credential read.
#[derive(Default)]
struct Counting(AtomicUsize);

#[async_trait::async_trait]
impl CredentialSource for Counting {
    async fn get(&self, _: &str, _: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Sensitive::new("x".into())))
    }
}

#[tokio::test]
async fn every_definition_loads_with_object_schemas_and_valid_examples_and_is_stubbed_in_dry_runs() {
    assert_eq!(
        integration::builtin_definitions().len(),
        BUILTIN_FILES.len(),
        "every built-in loads"
    );
    for (file, text) in all_definitions() {
        let def = integration::load(text).unwrap_or_else(|issues| panic!("{file}: {issues:#?}"));
        let provider: Arc<dyn Provider> = Arc::new(IntegrationProvider::new(def.clone(), ProviderKind::Integration));
        for a in provider.actions() {
            assert_eq!(a.params_schema["type"], "object", "{file} {}", a.name);
            flowpilot_engine::schema::compile(&a.params_schema).unwrap_or_else(|e| panic!("{file} {}: {e}", a.name));
            assert!(a.example.is_some(), "{file} {} needs an example", a.name);
        }
        let counting = Arc::new(Counting::default());
        let registry = Registry::from_providers(vec![provider.clone()]);
        let executor = Executor::new(registry.clone(), Arc::new(SystemClock), counting.clone());
        for (name, action) in &def.actions {
            let plan = json!({"name": "dry", "steps": [{"provider": def.name, "action": name, "params": example(&def, name)}]});
            let plan = Plan::from_value(plan, &registry).unwrap_or_else(|e| panic!("{file} {name}: {e}"));
            if !action.side_effects() {
                continue;
            }
            let mut request = RunRequest::new("dry", plan, json!({"type": "manual"}));
            request.dry_run = true;
            let outcome = executor.run(request, &NoObserver, CancellationToken::new()).await;
            assert_eq!(outcome.steps[0].status, StepStatus::Success, "{file} {name}");
            assert_eq!(outcome.steps[0].output["dry_run"], true, "{file} {name}");
        }
        assert_eq!(
            counting.0.load(Ordering::SeqCst),
            0,
            "{file}: a dry run read a credential"
        );
    }
}

#[tokio::test]
async fn notion_creates_pages_appends_blocks_and_queries() {
    let notion = Notion::start().await;
    let def = pointed_at(builtin("notion"), notion.base_url());
    let h = harness(
        def.clone(),
        StaticCredentials::default().with("notion", "token", NOTION_TOKEN),
    );

    let page = h.run("notion", "create_page", example(&def, "create_page")).await;
    let created = notion.only_request();
    assert_eq!((created.method.as_str(), created.path.as_str()), ("POST", "/v1/pages"));
    assert_eq!(
        created.header("authorization"),
        Some(format!("Bearer {NOTION_TOKEN}").as_str())
    );
    assert_eq!(created.header("notion-version"), Some("2022-06-28"));
    assert_eq!(
        created.json(),
        json!({"parent": {"database_id": NOTION_DATABASE_ID},
               "properties": {"Name": {"title": [{"text": {"content": "Weekly AI summary"}}]}},
               "children": [{"object": "block", "type": "paragraph",
                             "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Three things happened."}}]}}]})
    );
    let output = &page.ok().output;
    assert!(
        output["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.notion.so/Weekly-AI-summary-"),
        "{output}"
    );
    let page_id = output["id"].as_str().unwrap().to_string();
    assert_eq!(notion.children(&page_id).len(), 1);

    let appended = h
        .run(
            "notion",
            "append_blocks",
            json!({"page_id": page_id, "text": "One more thing."}),
        )
        .await;
    assert_eq!(appended.ok().output.as_array().map(Vec::len), Some(1));
    let sent = notion.requests().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path),
        ("PATCH", format!("/v1/blocks/{page_id}/children"))
    );
    assert_eq!(notion.children(&page_id).len(), 2);

    let queried = h.run("notion", "query_database", example(&def, "query_database")).await;
    let sent = notion.requests().pop().unwrap();
    assert_eq!(sent.path, format!("/v1/databases/{NOTION_DATABASE_ID}/query"));
    // The absent filter is left out, not sent as null.
    assert_eq!(
        sent.json(),
        json!({"sorts": [{"property": "Name", "direction": "ascending"}]})
    );
    assert!(queried.ok().output.is_array());
    page.never_shows(NOTION_TOKEN);
}

#[tokio::test]
async fn notion_errors_and_rate_limits_are_mapped() {
    let notion = Notion::start().await;
    let def = pointed_at(builtin("notion"), notion.base_url());
    let h = harness(
        def.clone(),
        StaticCredentials::default().with("notion", "token", NOTION_TOKEN),
    );
    let missing = h
        .run(
            "notion",
            "create_page",
            json!({"database_id": "ffffffff-0000-4000-8000-000000000000", "title": "x"}),
        )
        .await;
    let record = missing.failed();
    assert_eq!(record.error, Some(ErrorCode::Http(404)));
    assert!(record.message.contains("Could not find database"), "{}", record.message);

    notion.fail_next(
        NotionFault::Validation("body.properties.Name should be defined".into()),
        1,
    );
    let invalid = h.run("notion", "create_page", example(&def, "create_page")).await;
    let record = invalid.failed();
    assert_eq!((record.error, record.attempt), (Some(ErrorCode::Http(400)), 1));
    assert!(
        record.message.ends_with("body.properties.Name should be defined"),
        "{}",
        record.message
    );

    notion.fail_next(NotionFault::RateLimited { retry_after: 1 }, 1);
    let limited = h.run("notion", "create_page", example(&def, "create_page")).await;
    assert_eq!(limited.ok().attempt, 2);
    assert_eq!(limited.waited_ms(), vec![1000]);
}

#[tokio::test]
async fn telegram_sends_with_the_token_in_the_path_and_reads_ok_and_retry_after() {
    let telegram = Telegram::start().await;
    let def = pointed_at(builtin("telegram"), telegram.api_base());
    let h = harness(
        def.clone(),
        StaticCredentials::default().with("telegram", "bot_token", TELEGRAM_TOKEN),
    );
    let sent = h.run("telegram", "send_message", example(&def, "send_message")).await;
    let record = sent.ok();
    assert_eq!(record.output["text"], "The weekly summary is in Notion.");
    assert!(record.output["message_id"].is_number());
    let request = telegram.only_request();
    assert_eq!(request.path, format!("/bot{TELEGRAM_TOKEN}/sendMessage"));
    assert_eq!(
        request.json(),
        json!({"chat_id": 424242, "text": "The weekly summary is in Notion."})
    );
    sent.never_shows(TELEGRAM_TOKEN);

    let doc = h.run("telegram", "send_document", example(&def, "send_document")).await;
    assert_eq!(doc.ok().output["caption"], "This week's report");

    telegram.fail_next(TelegramFault::BadRequest("chat not found".into()), 1);
    let refused = h.run("telegram", "send_message", example(&def, "send_message")).await;
    let record = refused.failed();
    assert_eq!(record.error, Some(ErrorCode::Http(400)));
    assert!(
        record.message.ends_with("Bad Request: chat not found"),
        "{}",
        record.message
    );

    telegram.fail_next(TelegramFault::TooManyRequests { retry_after: 1 }, 1);
    let limited = h.run("telegram", "send_message", example(&def, "send_message")).await;
    assert_eq!(limited.ok().attempt, 2);
    assert_eq!(limited.waited_ms(), vec![1000], "the wait Telegram puts in its body");

    // A text over 4,096 characters is refused, not split: when the plan loads
    // (a literal), and at run time (a reference) before anything is sent.
    let problems = h.load_problems(
        "telegram",
        "send_message",
        json!({"chat_id": 1, "text": "x".repeat(4097)}),
    );
    assert_eq!(
        problems,
        vec!["steps[0].params.text: must be at most 4096 characters long"]
    );
    let before = telegram.requests().len();
    let long = h
        .run_steps(json!([
            {"provider": "logic", "action": "set", "params": {"value": "x".repeat(4097)}},
            {"provider": "telegram", "action": "send_message", "params": {"chat_id": 1, "text": "${steps.0.output}"}}
        ]))
        .await;
    let record = long.failed();
    assert_eq!(record.error, Some(ErrorCode::InvalidParams));
    assert!(
        record
            .message
            .contains("params.text: must be at most 4096 characters long"),
        "{}",
        record.message
    );
    assert_eq!(telegram.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn slack_posts_by_webhook_and_as_the_bot() {
    let slack = Slack::start().await;
    let def = pointed_at(builtin("slack"), slack.base_url());
    let creds = StaticCredentials::default()
        .with("slack", "webhook_url", &slack.webhook_url())
        .with("slack", "bot_token", SLACK_BOT_TOKEN);
    let h = harness(def.clone(), creds);
    let posted = h.run("slack", "post", example(&def, "post")).await;
    assert_eq!(posted.ok().output, json!("ok"));
    let request = slack.only_request();
    assert_eq!(request.json(), json!({"text": "The weekly summary is ready."}));
    assert_eq!(request.header("authorization"), None, "the webhook URL is the secret");
    posted.never_shows(&slack.webhook_url());

    let message = h
        .run("slack", "chat_post_message", example(&def, "chat_post_message"))
        .await;
    let output = &message.ok().output;
    assert_eq!(output["ok"], true);
    assert!(
        output.get("warning").is_none(),
        "JSON is sent with charset=utf-8: {output}"
    );
    let request = slack.requests().pop().unwrap();
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SLACK_BOT_TOKEN}").as_str())
    );
    assert_eq!(
        request.json(),
        json!({"channel": SLACK_CHANNEL_ID, "text": "The weekly summary is ready."})
    );

    let unknown = h
        .run("slack", "chat_post_message", json!({"channel": "C999", "text": "x"}))
        .await;
    let record = unknown.failed();
    assert_eq!(record.error, Some(ErrorCode::ApiError));
    assert!(record.message.ends_with("channel_not_found"), "{}", record.message);

    slack.fail_next(SlackFault::RateLimited { retry_after: 1 }, 1);
    let limited = h.run("slack", "post", example(&def, "post")).await;
    assert_eq!(limited.ok().attempt, 2);

    slack.revoke_webhook();
    let revoked = h.run("slack", "post", example(&def, "post")).await;
    let record = revoked.failed();
    assert_eq!(record.error, Some(ErrorCode::Http(404)));
    assert!(record.message.ends_with("no_service"), "{}", record.message);
}

#[tokio::test]
async fn discord_waits_for_the_message_and_pings_no_one_en_masse() {
    let discord = Discord::start().await;
    let def = pointed_at(builtin("discord"), "https://discord.invalid");
    let h = harness(
        def.clone(),
        StaticCredentials::default().with("discord", "webhook_url", &discord.webhook_url()),
    );
    let posted = h
        .run("discord", "post", json!({"content": "@everyone a new issue"}))
        .await;
    let output = &posted.ok().output;
    assert_eq!(output["content"], "@everyone a new issue");
    assert!(output["id"].is_string());
    let sent = discord.posted();
    assert!(
        sent[0].waited,
        "?wait=true, so an unsaved message is an error, not a 204"
    );
    assert!(!sent[0].mentions_everyone, "{:#?}", sent[0]);
    assert_eq!(sent[0].body["allowed_mentions"], json!({"parse": ["users", "roles"]}));
    assert!(
        discord
            .only_request()
            .path
            .ends_with(&format!("/{DISCORD_WEBHOOK_ID}/dWebhookToken-abcDEF0123456789_xyz"))
    );
    posted.never_shows("dWebhookToken-abcDEF0123456789_xyz");

    discord.fail_next(
        DiscordFault::RateLimited {
            retry_after: 0.5,
            global: false,
        },
        1,
    );
    let limited = h.run("discord", "post", example(&def, "post")).await;
    assert_eq!(limited.ok().attempt, 2);

    discord.delete_webhook();
    let gone = h.run("discord", "post", example(&def, "post")).await;
    let record = gone.failed();
    assert_eq!(record.error, Some(ErrorCode::Http(404)));
    assert!(record.message.ends_with("Unknown Webhook"), "{}", record.message);
}

#[tokio::test]
async fn github_opens_issues_and_comments_with_its_headers() {
    let github = GitHub::start().await;
    let def = pointed_at(builtin("github"), github.base_url());
    let h = harness(
        def.clone(),
        StaticCredentials::default().with("github", "token", GITHUB_TOKEN),
    );
    let opened = h.run("github", "create_issue", example(&def, "create_issue")).await;
    let output = opened.ok().output.clone();
    assert!(output["number"].is_u64(), "{output}");
    let request = github.only_request();
    assert_eq!(
        request.path,
        format!("/repos/{}/{}/issues", GITHUB_REPO.0, GITHUB_REPO.1)
    );
    assert_eq!(request.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {GITHUB_TOKEN}").as_str())
    );
    assert!(
        request
            .header("user-agent")
            .is_some_and(|u| u.starts_with("Flowpilot/"))
    );
    assert_eq!(
        request.json(),
        json!({"title": "Weekly summary failed", "body": "See the run log.", "labels": ["bug"]})
    );

    let number = output["number"].as_u64().unwrap();
    let commented = h
        .run(
            "github",
            "comment",
            json!({"owner": GITHUB_REPO.0, "repo": GITHUB_REPO.1, "number": number, "body": "Fixed."}),
        )
        .await;
    assert!(commented.ok().output["id"].is_u64());
    assert_eq!(github.comments().len(), 1);

    let missing = h
        .run(
            "github",
            "create_issue",
            json!({"owner": "nobody", "repo": "nothing", "title": "x"}),
        )
        .await;
    assert_eq!(missing.failed().error, Some(ErrorCode::Http(404)));

    github.fail_next(
        GitHubFault::SecondaryRateLimit {
            status: 429,
            retry_after: 1,
        },
        1,
    );
    let limited = h.run("github", "create_issue", example(&def, "create_issue")).await;
    assert_eq!(limited.ok().attempt, 2);
    assert_eq!(limited.waited_ms(), vec![1000]);
}

#[tokio::test]
async fn a_fixture_sends_its_secrets_and_params_where_the_definition_says() {
    let target = Peer::start(|_| Router::new().fallback(|| async { axum::Json(json!({"id": "item-9"})) })).await;
    let (_, text) = FIXTURES[0];
    let mut def = integration::load(text).unwrap();
    def.base_url = format!("{}/echo", target.base_url());
    let creds = StaticCredentials::default()
        .with("items_api", "api_key", "key+/=1")
        .with("items_api", "tenant", "acme");
    let h = harness(def.clone(), creds);
    let ran = h
        .run("items_api", "get_item", json!({"id": "a/b?c", "fields": ["x", "y"]}))
        .await;
    ran.ok();
    let sent = target.only_request();
    assert_eq!(sent.path, "/echo/acme/items/a%2Fb%3Fc");
    assert_eq!(sent.header("x-api-key"), Some("key+/=1"));
    assert_eq!(
        sent.query,
        vec![("fields".to_string(), "x".to_string()), ("fields".into(), "y".into())]
    );
    ran.never_shows("key+/=1");

    // raw_request: any path under the base, with the auth applied; never another origin.
    let raw = h
        .run(
            "items_api",
            "raw_request",
            json!({"method": "GET", "path": "/anything?x=1"}),
        )
        .await;
    raw.ok();
    assert_eq!(target.requests().pop().unwrap().header("x-api-key"), Some("key+/=1"));
    let problems = h.load_problems(
        "items_api",
        "raw_request",
        json!({"method": "GET", "path": "@evil.example/x"}),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("steps[0].params.path: a path starts with `/`"),
        "{problems:?}"
    );

    // An absent optional param drops its key; the output is what the pointer picks.
    let added = h.run("items_api", "add_item", json!({"name": "Lamp"})).await;
    assert_eq!(added.ok().output, json!("item-9"));
    assert_eq!(target.requests().pop().unwrap().json(), json!({"name": "Lamp"}));
}

fn example_plan(file: &str) -> Value {
    let path = format!("{}/../plans/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("the example plan")).expect("JSON")
}

/// The seeds' Autofy flow from plans/, as far as it reaches: stories → an AI
/// summary → a Notion page → its link on Telegram, against the imitations.
#[tokio::test]
async fn the_example_ai_summary_flow_runs_against_the_imitations() {
    let stories = Peer::start(|_| {
        Router::new()
            .fallback(|| async { axum::Json(json!({"hits": [{"title": "A model got smaller"}, {"title": "Chips"}]})) })
    })
    .await;
    let llm = flowpilot_tests::FakeOpenAi::start().await;
    llm.push_reply(flowpilot_tests::CannedReply::text("- Models shrink\n- Chips grow"));
    let notion = Notion::start().await;
    let telegram = Telegram::start().await;
    let mut plan = example_plan("ai-summary-to-notion-and-telegram.json");
    plan["steps"][0]["params"]["url"] = json!(stories.url("/api/v1/search"));
    plan["steps"][1]["params"]["base_url"] = json!(llm.base_url());
    plan["steps"][2]["params"]["database_id"] = json!(NOTION_DATABASE_ID);
    let llm_origin = reqwest::Url::parse(llm.base_url())
        .unwrap()
        .origin()
        .ascii_serialization();
    let creds = StaticCredentials::default()
        .with("openai", "api_key", "sk-test")
        .allow("openai", "api_key", &llm_origin)
        .with("notion", "token", NOTION_TOKEN)
        .with("telegram", "bot_token", TELEGRAM_TOKEN);
    let h = harness_of(
        vec![
            pointed_at(builtin("notion"), notion.base_url()),
            pointed_at(builtin("telegram"), telegram.api_base()),
        ],
        creds,
    );
    let ran = h.run_steps(plan["steps"].clone()).await;
    assert_eq!(ran.status, RunStatus::Success, "{:#?}", ran.steps);
    assert!(llm.only_request().text().contains("A model got smaller"));
    let page = &notion.pages()[0];
    assert_eq!(
        notion.children(page["id"].as_str().unwrap())[0]["paragraph"]["rich_text"][0]["text"]["content"],
        "- Models shrink\n- Chips grow"
    );
    let sent = telegram.sent();
    let text = sent[0].params["text"].as_str().unwrap();
    assert!(
        text.starts_with("Today's AI briefing is in Notion: https://www.notion.so/AI-briefing-for-"),
        "{text}"
    );
}

/// plans/github-issue-to-discord.json: the newest issue (a stand-in answering
/// GitHub's issue list) posted to Discord's imitation.
#[tokio::test]
async fn the_example_github_to_discord_flow_runs() {
    let github = Peer::start(|_| {
        Router::new().fallback(|| async {
            axum::Json(json!([{"number": 42, "title": "Crash on start", "html_url": "https://github.com/tauri-apps/tauri/issues/42"}]))
        })
    })
    .await;
    let discord = Discord::start().await;
    let creds = StaticCredentials::default().with("github", "token", GITHUB_TOKEN).with(
        "discord",
        "webhook_url",
        &discord.webhook_url(),
    );
    let h = harness_of(
        vec![pointed_at(builtin("github"), github.base_url()), builtin("discord")],
        creds,
    );
    let plan = example_plan("github-issue-to-discord.json");
    let ran = h.run_steps(plan["steps"].clone()).await;
    assert_eq!(ran.status, RunStatus::Success, "{:#?}", ran.steps);
    let asked = github.only_request();
    assert_eq!(asked.path, "/repos/tauri-apps/tauri/issues");
    assert_eq!(asked.query_param("per_page"), Some("1"));
    assert_eq!(
        asked.header("authorization"),
        Some(format!("Bearer {GITHUB_TOKEN}").as_str())
    );
    assert_eq!(
        discord.posted()[0].body["content"],
        "New issue #42: Crash on start\nhttps://github.com/tauri-apps/tauri/issues/42"
    );
}
