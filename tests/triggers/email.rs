//! The email trigger against a real Dovecot: a baseline, then one run per new
//! mail; 20 mails per check; UIDVALIDITY changes; IDLE; a server that goes
//! down and comes back; mark_read and the filter.

use crate::harness::{Harness, plan};
use flowpilot_core::notices::NoticeKind;
use flowpilot_core::triggers::TriggerHealth;
use flowpilot_tests::MailBuilder;
use flowpilot_tests::dovecot::{Dovecot, IMAP_PASSWORD, IMAP_USER};
use serde_json::{Value, json};
use std::time::Instant;

fn email_trigger(imap: &Dovecot, extra: Value) -> Value {
    let mut t = json!({
        "type": "email", "host": imap.host(), "port": imap.port(), "security": "none",
        "username": IMAP_USER, "credential": "inbox", "interval_s": 3600
    });
    if let (Value::Object(t), Value::Object(extra)) = (&mut t, extra) {
        t.extend(extra);
    }
    t
}

fn mail(subject: &str) -> Vec<u8> {
    MailBuilder::new()
        .subject(subject)
        .text(&format!("Body of {subject}"))
        .build()
}

async fn harness(imap: &Dovecot) -> Harness {
    let _ = imap;
    let h = Harness::start().await;
    h.credential("email", "inbox", IMAP_PASSWORD);
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn a_baseline_runs_nothing_then_each_new_mail_runs_exactly_once() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    imap.deliver_many(3, |i| mail(&format!("Old {i}")));
    let h = harness(&imap).await;
    let id = h.add_plan(&plan(
        "Inbox",
        email_trigger(&imap, json!({"idle": false})),
        json!({"subject": "${trigger.item.subject}", "from": "${trigger.item.from.address}"}),
    ));
    let first = h.check(&id).await;
    // The watcher's own first check may have made the baseline already.
    assert!(first.error.is_none(), "{first:?}");
    assert_eq!(first.new_items, 0);
    let status = h.status(&id);
    assert!(
        status
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("3 mails already there started nothing"),
        "{status:?}"
    );
    assert_eq!(status.health, TriggerHealth::Watching);

    imap.deliver(&mail("New one"));
    imap.deliver(&mail("New two"));
    let report = h.check(&id).await;
    assert_eq!((report.new_items, report.more_waiting), (2, false), "{report:?}");
    h.rec.wait_for_runs(2).await;
    // Started in the order the mail came (they may finish in another).
    let subjects: Vec<Value> = h.started_outputs(&id).iter().map(|o| o["subject"].clone()).collect();
    assert_eq!(subjects, [json!("New one"), json!("New two")]);
    assert_eq!(h.started_outputs(&id)[0]["from"], "sender@example.test");

    // Nothing new: no run; and nothing was marked read.
    assert_eq!(h.check(&id).await.new_items, 0);
    assert_eq!(h.runs_of(&id).len(), 2);
    assert!(!imap.flags("INBOX", 4).await.contains(&"\\Seen".to_string()));
    // What started the run is stored with it.
    let detail = h.app.run_detail(&h.runs_of(&id)[0].id).unwrap();
    assert_eq!(detail.run.trigger_kind, "email");
    let item = &detail.trigger.unwrap()["item"];
    assert_eq!(item["subject"], "New one");
    assert_eq!(item["text"].as_str().unwrap().trim(), "Body of New one");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_new_mails_run_twenty_then_twenty_then_ten() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let h = harness(&imap).await;
    let id = h.add_plan(&plan(
        "Bulk",
        email_trigger(&imap, json!({"idle": false})),
        json!("${trigger.item.subject}"),
    ));
    h.check(&id).await;
    imap.deliver_many(50, |i| mail(&format!("Mail {i:02}")));
    let reports = [h.check(&id).await, h.check(&id).await, h.check(&id).await];
    let counts: Vec<(u32, bool)> = reports.iter().map(|r| (r.new_items, r.more_waiting)).collect();
    assert_eq!(counts, [(20, true), (20, true), (10, false)]);
    let runs = h.rec.wait_for_runs(50).await;
    assert_eq!(runs.len(), 50);
    // Each mail once, oldest first (runs may finish in another order: compare the set).
    let mut subjects: Vec<String> = runs
        .iter()
        .map(|o| Harness::output(o).as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    let expected: Vec<String> = (0..50).map(|i| format!("Mail {i:02}")).collect();
    assert_eq!(subjects, expected);
    let started: Vec<String> = h
        .runs_of(&id)
        .iter()
        .map(|r| {
            h.app.run_detail(&r.id).unwrap().trigger.unwrap()["item"]["subject"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(started[..3], expected[..3], "started oldest first");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_uidvalidity_change_starts_over_without_a_flood() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    imap.deliver_many(2, |i| mail(&format!("Before {i}")));
    let h = harness(&imap).await;
    let id = h.add_plan(&plan(
        "Renumbered",
        email_trigger(&imap, json!({"idle": false})),
        json!("${trigger.item.subject}"),
    ));
    h.check(&id).await;
    imap.deliver(&mail("Counted"));
    assert_eq!(h.check(&id).await.new_items, 1);

    imap.change_uidvalidity("INBOX").await;
    imap.deliver(&mail("After the reset"));
    let report = h.check(&id).await;
    assert_eq!(report.new_items, 0, "no flood after a reset: {report:?}");
    let note = h.status(&id).note.unwrap_or_default();
    assert!(note.contains("UIDVALIDITY changed"), "{note}");

    imap.deliver(&mail("Really new"));
    assert_eq!(h.check(&id).await.new_items, 1);
    h.rec.wait_for_runs(2).await;
    assert_eq!(h.started_outputs(&id), [json!("Counted"), json!("Really new")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_starts_the_run_of_a_new_mail_within_seconds() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let h = harness(&imap).await;
    // Checks an hour apart: only IDLE can bring this mail in time.
    let id = h.add_plan(&plan(
        "Pushed",
        email_trigger(&imap, json!({})),
        json!("${trigger.item.subject}"),
    ));
    h.check(&id).await;
    let delivered = Instant::now();
    imap.deliver(&mail("Pushed by IDLE"));
    let runs = h.rec.wait_for_runs(1).await;
    let took = delivered.elapsed();
    assert_eq!(Harness::output(&runs[0]), "Pushed by IDLE");
    assert!(took.as_secs() < 10, "the run came after {took:?}");
    assert_eq!(h.runs_of(&id).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_goes_down_backs_off_notifies_and_recovers() {
    let Some(mut imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let h = harness(&imap).await;
    let id = h.add_plan(&plan(
        "Flaky",
        email_trigger(&imap, json!({"idle": false})),
        json!("${trigger.item.subject}"),
    ));
    h.check(&id).await;
    imap.stop().await;
    let mut waits = Vec::new();
    for _ in 0..3 {
        let report = h.check(&id).await;
        assert!(
            report.error.as_deref().unwrap_or_default().contains("cannot connect"),
            "{report:?}"
        );
        let s = h.status(&id);
        waits.push((s.next_check_at.unwrap() - s.last_check_at.unwrap()).num_seconds());
    }
    assert_eq!(waits, [15, 30, 60], "exponential backoff");
    let status = h.status(&id);
    assert_eq!((status.health, status.failures), (TriggerHealth::Failing, 3));
    let failing = h.rec.notices_of(NoticeKind::TriggerFailure);
    assert_eq!(failing.len(), 1, "one notice after three failures in a row");
    assert!(
        failing[0].body.starts_with("3 checks failed in a row: cannot connect"),
        "{}",
        failing[0].body
    );

    imap.restart().await.unwrap();
    imap.deliver(&mail("Back"));
    let report = h.check(&id).await;
    assert_eq!((report.error, report.new_items), (None, 1));
    assert_eq!(h.status(&id).health, TriggerHealth::Watching);
    assert_eq!(h.rec.notices_of(NoticeKind::TriggerRecovered).len(), 1);
    assert_eq!(Harness::output(&h.rec.wait_for_runs(1).await[0]), "Back");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_matching_mail_runs_and_mark_read_marks_it_once_recorded() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    let h = harness(&imap).await;
    let id = h.add_plan(&plan(
        "Invoices",
        email_trigger(
            &imap,
            json!({"idle": false, "mark_read": true, "match": {"keywords": ["invoice", "receipt"]}}),
        ),
        json!("${trigger.item.subject}"),
    ));
    h.check(&id).await;
    imap.deliver(&mail("Your invoice 12"));
    imap.deliver(&mail("Lunch on Friday?"));
    imap.deliver(
        &MailBuilder::new()
            .subject("Order")
            .text("the receipt is attached")
            .build(),
    );
    let report = h.check(&id).await;
    assert_eq!((report.new_items, report.passed_over), (2, 1));
    let mut outputs: Vec<Value> = h.rec.wait_for_runs(2).await.iter().map(Harness::output).collect();
    outputs.sort_by_key(|v| v.to_string());
    assert_eq!(outputs, [json!("Order"), json!("Your invoice 12")]);
    assert!(imap.flags("INBOX", 1).await.contains(&"\\Seen".to_string()));
    assert!(
        !imap.flags("INBOX", 2).await.contains(&"\\Seen".to_string()),
        "not a match: left unread"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sample_shows_the_newest_mail_and_changes_nothing() {
    let Some(imap) = Dovecot::start_or_skip().await else {
        return;
    };
    imap.deliver_many(7, |i| mail(&format!("Sample {i}")));
    let h = harness(&imap).await;
    let trigger: flowpilot_engine::plan::Trigger = serde_json::from_value(email_trigger(&imap, json!({}))).unwrap();
    let sample = h.app.fetch_trigger_sample(&trigger).await.unwrap();
    let subjects: Vec<&str> = sample
        .events
        .iter()
        .map(|e| e["item"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Sample 6", "Sample 5", "Sample 4", "Sample 3", "Sample 2"]);
    assert_eq!(sample.events[0]["type"], "email");
    assert!(!imap.flags("INBOX", 7).await.contains(&"\\Seen".to_string()));
}
