//! The `email` provider sending through a real SMTP receiver (aiosmtpd): the
//! recipients, both bodies, the password from the keychain, a refused
//! recipient, a dry run that sends nothing; and the example newsletter plan.

use flowpilot_core::api::{Flowpilot, Options};
use flowpilot_core::secrets::Keychain;
use flowpilot_engine::run::NoObserver;
use flowpilot_engine::{RunStatus, Sensitive};
use flowpilot_tests::SmtpReceiver;
use flowpilot_tests::servers::or_skip;
use flowpilot_tests::smtp::{SMTP_PASSWORD, SMTP_USER, SmtpOptions};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn app(dir: &std::path::Path) -> Flowpilot {
    let app = Flowpilot::open(Options {
        data_dir: Some(dir.to_path_buf()),
        keychain: Some(Keychain::with_store(
            keyring_core::mock::Store::new().expect("test setup"),
        )),
        clock: None,
    })
    .expect("test setup");
    app.set_credential("email", "outbox", Sensitive::new(SMTP_PASSWORD.to_string()))
        .expect("test setup");
    app
}

fn send_plan(smtp: &SmtpReceiver, params: Value) -> Value {
    let mut p = json!({
        "to": ["ada@example.test", "Bob <bob@example.test>"], "cc": "carol@example.test", "bcc": "eve@example.test",
        "subject": "Weekly — ${plan.name}", "text": "Plain words", "html": "<p>Rich words</p>",
        "smtp": {"host": smtp.host(), "port": smtp.port(), "security": "none", "username": SMTP_USER, "credential": "outbox"}
    });
    if let (Value::Object(p), Value::Object(extra)) = (&mut p, params) {
        p.extend(extra);
    }
    json!({"name": "Mailer", "steps": [{"provider": "email", "action": "send", "params": p}]})
}

async fn run(app: &Flowpilot, plan: &Value) -> flowpilot_engine::RunOutcome {
    let target = flowpilot_core::api::ResolvedPlan {
        plan_id: None,
        version: None,
        plan: app.check_plan(&plan.to_string()).expect("test setup"),
    };
    app.run_plan(target, "cli", Arc::new(NoObserver), None, CancellationToken::new())
        .await
        .expect("test setup")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_goes_out_to_every_recipient_with_both_bodies_and_no_bcc_header() {
    let Some(smtp) = or_skip(
        SmtpReceiver::start_with(SmtpOptions {
            auth: true,
            ..Default::default()
        })
        .await,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let outcome = run(&app, &send_plan(&smtp, json!({}))).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let got = smtp.wait_for_messages(1).await;
    let mail = &got[0];
    assert_eq!(mail.auth_user.as_deref(), Some(SMTP_USER));
    assert_eq!(mail.mail_from, SMTP_USER);
    let mut to = mail.rcpt_to.clone();
    to.sort();
    assert_eq!(
        to,
        [
            "ada@example.test",
            "bob@example.test",
            "carol@example.test",
            "eve@example.test"
        ]
    );
    assert_eq!(mail.subject().as_deref(), Some("Weekly — Mailer"));
    assert_eq!(mail.text().unwrap().trim(), "Plain words");
    assert_eq!(mail.html().unwrap().trim(), "<p>Rich words</p>");
    assert_eq!(mail.header("Bcc"), None, "bcc is not shown to the others");
    let step = &outcome.steps[0];
    assert_eq!(step.output["recipients"].as_array().unwrap().len(), 4);
    assert!(step.output["message_id"].as_str().unwrap().contains('@'));
    // The password is nowhere in what was recorded.
    assert!(!serde_json::to_string(&outcome).unwrap().contains(SMTP_PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_recipient_fails_the_step_and_a_dry_run_sends_nothing() {
    let options = SmtpOptions {
        auth: true,
        reject_recipients: vec!["nobody@example.test".into()],
        ..Default::default()
    };
    let Some(smtp) = or_skip(SmtpReceiver::start_with(options).await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let outcome = run(
        &app,
        &send_plan(&smtp, json!({"to": "nobody@example.test", "cc": null, "bcc": null})),
    )
    .await;
    assert_eq!(outcome.status, RunStatus::Failed);
    let step = &outcome.steps[0];
    assert_eq!(step.error, Some(flowpilot_engine::ErrorCode::InvalidRequest));
    assert!(step.message.contains("refused the message"), "{}", step.message);

    let plan: flowpilot_engine::plan::PlanFile = serde_json::from_value(send_plan(&smtp, json!({}))).unwrap();
    let rehearsal = app
        .dry_run_observed(plan, Arc::new(NoObserver), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(rehearsal.status, RunStatus::Success);
    assert_eq!(rehearsal.steps[0].output["dry_run"], true);
    assert!(smtp.received().is_empty(), "a dry run sends no mail");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_newsletter_sends_a_real_email() {
    let Some(smtp) = or_skip(
        SmtpReceiver::start_with(SmtpOptions {
            auth: true,
            ..Default::default()
        })
        .await,
    ) else {
        return;
    };
    let llm = flowpilot_tests::FakeOpenAi::start().await;
    llm.push_reply(flowpilot_tests::CannedReply::text(
        "This week in AI: small models got good.",
    ));
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/newsletter-email.json")).unwrap();
    let mut plan: Value = serde_json::from_str(&text).unwrap();
    plan["steps"][0]["params"]["base_url"] = json!(llm.base_url());
    let send = &mut plan["steps"][1]["params"];
    send["smtp"] = json!({"host": smtp.host(), "port": smtp.port(), "security": "none", "username": SMTP_USER, "credential": "outbox"});
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.set_credential("openai", "api_key", Sensitive::new("sk-test".into()))
        .unwrap();
    let outcome = run(&app, &plan).await;
    assert_eq!(outcome.status, RunStatus::Success, "{:?}", outcome.error);
    let mail = &smtp.wait_for_messages(1).await[0];
    assert_eq!(mail.rcpt_to, ["subscriber@example.com"]);
    assert!(
        mail.text().unwrap().contains("small models got good"),
        "{:?}",
        mail.text()
    );
}
