//! The webhook server over real HTTP: URLs with unguessable tokens, 404 / 405 /
//! 413 / 401 as the issue says, the senders' signature schemes (GitHub's
//! published test vector), delivery dedup, sync answers, test events.

use crate::harness::{Harness, plan};
use flowpilot_tests::signatures::{
    github_delivery, hmac_delivery, new_standard_webhooks_secret, standard_webhooks_delivery, stripe_delivery,
};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn hook(extra: Value) -> Value {
    let mut t = json!({"type": "webhook"});
    if let (Value::Object(t), Value::Object(extra)) = (&mut t, extra) {
        t.extend(extra);
    }
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn an_async_call_is_answered_at_once_and_its_run_sees_the_call() {
    let h = Harness::start().await;
    let id = h.add_plan(&plan(
        "Hook",
        hook(json!({})),
        json!({"name": "${trigger.payload.name}", "q": "${trigger.query.page}"}),
    ));
    let url = h.runner.webhook_url(&id).unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/hooks/"), "{url}");
    let token = url.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 64);

    let answer = client()
        .post(format!("{url}?page=2"))
        .header("Authorization", "Bearer not-for-the-run")
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let run_id = answer.json::<Value>().await.unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let runs = h.rec.wait_for_runs(1).await;
    assert_eq!(runs[0].run_id, run_id);
    assert_eq!(Harness::output(&runs[0]), json!({"name": "Ada", "q": "2"}));
    let detail = h.app.run_detail(&run_id).unwrap();
    let event = detail.trigger.unwrap();
    assert_eq!(event["payload"], json!({"name": "Ada"}));
    assert_eq!(event["method"], "POST");
    assert!(
        event["headers"].get("authorization").is_none(),
        "secrets are not stored"
    );
    assert_eq!(event["headers"]["content-type"], "application/json");
    assert_eq!(detail.run.trigger_kind, "webhook");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_404_other_methods_405_big_bodies_413_inactive_404() {
    let h = Harness::start().await;
    let id = h.add_plan(&plan("Hook", hook(json!({})), json!("ok")));
    let url = h.runner.webhook_url(&id).unwrap();
    let base = h.runner.webhook_server().base_url;
    let wrong = client()
        .post(format!("{base}/hooks/{}", "0".repeat(64)))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    assert!(wrong.bytes().await.unwrap().is_empty(), "404 says nothing");
    assert_eq!(client().get(&url).send().await.unwrap().status(), 405);
    assert_eq!(client().delete(&url).send().await.unwrap().status(), 405);
    // Just over the limit: the server refuses once it has read past it, and by
    // then the whole body is sent. (Far over it, the server answers and closes
    // while the client is still writing: the client sees a broken pipe, not the 413.)
    let big = vec![b'x'; flowpilot_core::triggers::webhook::BODY_LIMIT + 1024];
    assert_eq!(client().post(&url).body(big).send().await.unwrap().status(), 413);
    assert_eq!(client().put(&url).body("fine").send().await.unwrap().status(), 202);

    // A draft's URL is not live.
    let mut draft = plan("Draft hook", hook(json!({})), json!("x"));
    draft["status"] = json!("draft");
    let draft_id = h.add_plan(&draft);
    let draft_url = h.runner.webhook_url(&draft_id).unwrap();
    assert_eq!(client().post(&draft_url).body("{}").send().await.unwrap().status(), 404);

    // A new URL replaces the old one at once.
    let new_url = h.runner.regenerate_webhook_url(&id).unwrap();
    assert_ne!(new_url, url);
    assert_eq!(client().post(&url).body("{}").send().await.unwrap().status(), 404);
    assert_eq!(client().post(&new_url).body("{}").send().await.unwrap().status(), 202);
    h.rec.wait_for_runs(2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_answers_with_the_last_output_or_the_error() {
    let h = Harness::start().await;
    let id = h.add_plan(&json!({
        "name": "Echo", "status": "active", "trigger": {"type": "webhook", "respond": "sync"},
        "steps": [
            {"provider": "logic", "action": "set", "params": {"value": "${trigger.payload.n}"}},
            {"provider": "logic", "action": "set", "params": {"value": {"doubled": "${trigger.payload.n} and ${trigger.payload.n}", "n": "${steps.0.output}"}}}
        ]
    }));
    let url = h.runner.webhook_url(&id).unwrap();
    let answer = client().post(&url).json(&json!({"n": 21})).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        json!({"doubled": "21 and 21", "n": 21})
    );

    let failing = h.add_plan(&json!({
        "name": "Fails", "status": "active", "trigger": {"type": "webhook", "respond": "sync"},
        "steps": [{"provider": "logic", "action": "assert", "params": {"left": "${trigger.payload.ok}", "op": "eq", "right": true, "message": "not ok"}}]
    }));
    let url = h.runner.webhook_url(&failing).unwrap();
    let answer = client().post(&url).json(&json!({"ok": false})).send().await.unwrap();
    assert_eq!(answer.status(), 500);
    let body = answer.json::<Value>().await.unwrap();
    assert_eq!(body["status"], "failed");
    assert!(body["error"].as_str().unwrap().contains("not ok"), "{body}");

    let slow = h.add_plan(&json!({
        "name": "Slow", "status": "active", "trigger": {"type": "webhook", "respond": "sync", "wait_s": 1},
        "steps": [{"provider": "delay", "action": "wait", "params": {"seconds": 3}}]
    }));
    let url = h.runner.webhook_url(&slow).unwrap();
    let answer = client().post(&url).body("").send().await.unwrap();
    assert_eq!(answer.status(), 202, "still running after wait_s");
    assert_eq!(answer.json::<Value>().await.unwrap()["status"], "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn githubs_published_test_vector_is_accepted_and_a_wrong_signature_is_401() {
    let h = Harness::start().await;
    h.credential("webhook", "github", "It's a Secret to Everybody");
    let id = h.add_plan(&plan(
        "From GitHub",
        hook(json!({"signature": {"scheme": "github", "credential": "github"}})),
        json!("${trigger.payload}"),
    ));
    let url = h.runner.webhook_url(&id).unwrap();
    // GitHub's "Testing the webhook payload validation": this body, this secret, this signature.
    let published = client()
        .post(&url)
        .header(
            "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )
        .body("Hello, World!")
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 202);
    assert_eq!(Harness::output(&h.rec.wait_for_runs(1).await[0]), "Hello, World!");

    let tampered = github_delivery("It's a Secret to Everybody", "push", b"{\"a\":1}").with_body(b"{\"a\":2}");
    assert_eq!(tampered.post(&client(), &url).await.unwrap().status(), 401);
    let unsigned = client().post(&url).body("{}").send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let wrong_secret = github_delivery("another secret", "push", b"{}");
    assert_eq!(wrong_secret.post(&client(), &url).await.unwrap().status(), 401);

    // GitHub retries a delivery with the same id: one run, the same answer.
    let delivery = github_delivery("It's a Secret to Everybody", "issues", b"{\"action\":\"opened\"}");
    let first = delivery.post(&client(), &url).await.unwrap();
    assert_eq!(first.status(), 202);
    let run_id = first.json::<Value>().await.unwrap()["run_id"].clone();
    let again = delivery.post(&client(), &url).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"run_id": run_id, "duplicate": true})
    );
    h.rec.wait_for_runs(2).await;
    assert_eq!(h.runs_of(&id).len(), 2);
    // The signature header is not stored with the run.
    let detail = h.app.run_detail(run_id.as_str().unwrap()).unwrap();
    let headers = &detail.trigger.unwrap()["headers"];
    assert!(headers.get("x-hub-signature-256").is_none(), "{headers}");
    assert_eq!(headers["x-github-event"], "issues");
}

#[tokio::test(flavor = "multi_thread")]
async fn stripe_and_standard_webhooks_reject_old_deliveries_and_hmac_checks_its_header() {
    let h = Harness::start().await;
    h.credential("webhook", "stripe", "whsec_test_secret");
    let sw_secret = new_standard_webhooks_secret();
    h.credential("webhook", "svix", &sw_secret);
    h.credential("webhook", "generic", "k3y");
    let stripe = h.add_plan(&plan(
        "Stripe",
        hook(json!({"signature": {"scheme": "stripe", "credential": "stripe"}})),
        json!("${trigger.payload.id}"),
    ));
    let sw = h.add_plan(&plan(
        "Svix",
        hook(json!({"signature": {"scheme": "standard_webhooks", "credential": "svix"}})),
        json!("${trigger.payload.id}"),
    ));
    let generic = h.add_plan(&plan(
        "Generic",
        hook(json!({"signature": {"scheme": "hmac_sha256", "credential": "generic", "header": "X-Signature"}})),
        json!("${trigger.payload.id}"),
    ));
    let now = chrono::Utc::now().timestamp();
    let body = br#"{"id":"evt_1","object":"event"}"#;
    let url = |id: &str| h.runner.webhook_url(id).unwrap();
    assert_eq!(
        stripe_delivery("whsec_test_secret", now, body)
            .post(&client(), &url(&stripe))
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        stripe_delivery("whsec_test_secret", now - 600, body)
            .post(&client(), &url(&stripe))
            .await
            .unwrap()
            .status(),
        401,
        "older than 5 minutes"
    );
    // Stripe retries the same event: no second run.
    assert_eq!(
        stripe_delivery("whsec_test_secret", now + 1, body)
            .post(&client(), &url(&stripe))
            .await
            .unwrap()
            .status(),
        200
    );

    let sw_body = br#"{"id":"msg_1"}"#;
    assert_eq!(
        standard_webhooks_delivery(&sw_secret, "msg_1", now, sw_body)
            .post(&client(), &url(&sw))
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        standard_webhooks_delivery(&sw_secret, "msg_2", now - 400, sw_body)
            .post(&client(), &url(&sw))
            .await
            .unwrap()
            .status(),
        401
    );

    assert_eq!(
        hmac_delivery("k3y", "X-Signature", br#"{"id":"g1"}"#)
            .post(&client(), &url(&generic))
            .await
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        hmac_delivery("wrong", "X-Signature", br#"{"id":"g2"}"#)
            .post(&client(), &url(&generic))
            .await
            .unwrap()
            .status(),
        401
    );
    let outputs: Vec<Value> = h.rec.wait_for_runs(3).await.iter().map(Harness::output).collect();
    let mut outputs: Vec<String> = outputs.iter().map(|v| v.as_str().unwrap().to_string()).collect();
    outputs.sort();
    assert_eq!(outputs, ["evt_1", "g1", "msg_1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn listening_for_a_test_event_captures_the_next_call_without_a_run() {
    let h = Harness::start().await;
    let mut draft = plan("Drafted hook", hook(json!({})), json!("x"));
    draft["status"] = json!("draft");
    let id = h.add_plan(&draft);
    let url = h.runner.webhook_url(&id).unwrap();
    let listening = h.runner.listen(&id).unwrap();
    let answer = client()
        .post(&url)
        .json(&json!({"hello": "sample"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({"test_event": "received"}));
    let event = listening.await.unwrap();
    assert_eq!(event["type"], "webhook");
    assert_eq!(event["payload"], json!({"hello": "sample"}));
    assert!(h.runs_of(&id).is_empty(), "a test event starts no run");
    // The sample is what "Test step" uses for ${trigger}.
    let step: flowpilot_engine::plan::StepSpec = serde_json::from_value(
        json!({"provider": "logic", "action": "template", "params": {"template": "Hi ${trigger.payload.hello}"}}),
    )
    .unwrap();
    let record = h
        .app
        .execute_step_with_trigger(step, vec![], Some(event))
        .await
        .unwrap();
    assert_eq!(record.output, "Hi sample");
}

#[tokio::test(flavor = "multi_thread")]
async fn overlap_queue_runs_one_at_a_time_in_order_and_skip_answers_409() {
    let h = Harness::start().await;
    let slow = |name: &str, overlap: &str, seconds: f64| {
        json!({
            "name": name, "status": "active", "trigger": {"type": "webhook", "overlap": overlap},
            "steps": [
                {"provider": "delay", "action": "wait", "params": {"seconds": seconds}},
                {"provider": "logic", "action": "set", "params": {"value": "${trigger.payload.n}"}}
            ]
        })
    };
    let queued = h.add_plan(&slow("Queued", "queue", 0.3));
    let url = h.runner.webhook_url(&queued).unwrap();
    for n in 0..3 {
        let r = client().post(&url).json(&json!({"n": n})).send().await.unwrap();
        assert_eq!(r.status(), 202);
    }
    h.rec.wait_for_runs(3).await;
    let runs = h.runs_of(&queued);
    assert_eq!(h.started_outputs(&queued), [json!(0), json!(1), json!(2)]);
    for pair in runs.windows(2) {
        assert!(
            pair[1].started_at >= pair[0].finished_at.unwrap(),
            "one at a time: {pair:?}"
        );
    }

    let skipping = h.add_plan(&slow("Skipping", "skip", 2.0));
    let url = h.runner.webhook_url(&skipping).unwrap();
    assert_eq!(
        client()
            .post(&url)
            .json(&json!({"n": 1}))
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    h.rec
        .wait_until("the first run to start", |_| {
            h.runs_of(&skipping)
                .first()
                .is_some_and(|r| r.status == flowpilot_engine::RunStatus::Running)
        })
        .await;
    let second = client().post(&url).json(&json!({"n": 2})).send().await.unwrap();
    assert_eq!(second.status(), 409);
    h.rec.wait_for_runs(4).await;
    assert_eq!(h.runs_of(&skipping).len(), 1);
}
