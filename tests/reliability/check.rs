//! `flowpilot-cli check` on hostile files: `/dev/zero`, a UTF-8 BOM, a cron that
//! never fires, targets a shared plan should not reach silently.

use crate::util::{Timed, arg, cli, json_out, stdout, write_plan};
use serde_json::json;

#[test]
fn check_reads_dev_zero_only_up_to_the_limit() {
    let _t = Timed::start("check /dev/zero");
    let data = tempfile::tempdir().unwrap();
    let out = cli(data.path(), &["check", "/dev/zero", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json_out(&out);
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["issues"][0]["kind"], "too_large", "{report:#}");
}

#[test]
fn check_accepts_a_utf8_bom() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("bom.json");
    let plan = json!({"name": "With a BOM", "steps": [{"provider": "logic", "action": "set", "params": {"value": 1}}]});
    std::fs::write(&path, format!("\u{feff}{plan}")).unwrap();
    let out = cli(data.path(), &["check", arg(&path)]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("✔") && stdout(&out).contains("With a BOM"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_warns_about_a_cron_that_never_fires_and_private_targets() {
    let data = tempfile::tempdir().unwrap();
    let path = write_plan(
        data.path(),
        "shared.json",
        &json!({
            "name": "Shared plan",
            "trigger": {"type": "cron", "cron_expression": "0 0 30 2 *", "timezone": "UTC"},
            "steps": [
                {"provider": "http", "action": "request", "params": {"url": "http://[::ffff:169.254.169.254]/latest/meta-data/"}},
                {"provider": "http", "action": "request", "params": {"url": "http://metadata.google.internal/computeMetadata/v1/"}},
                {"provider": "http", "action": "request", "params": {"url": "http://127.0.0.1:8080/admin"}},
                {"provider": "webhook", "action": "post_request", "params": {"url": "http://192.168.1.5/hook", "payload": {}}},
                {"provider": "http", "action": "request", "params": {"url": "https://example.com/"}}
            ]
        }),
    );
    // Valid (exit 0), with every warning located.
    let out = cli(data.path(), &["check", arg(&path)]);
    assert!(out.status.success(), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("5 warnings"), "{text}");
    assert!(
        text.contains("warning: trigger.cron_expression: `0 0 30 2 *` never fires"),
        "{text}"
    );
    for path in [
        "steps[0].params.url",
        "steps[1].params.url",
        "steps[2].params.url",
        "steps[3].params.url",
    ] {
        assert!(text.contains(&format!("warning: {path}: ")), "{path} in {text}");
    }
    assert!(!text.contains("steps[4]"), "{text}");

    let report = json_out(&cli(data.path(), &["check", arg(&path), "--json"]));
    assert_eq!(report[0]["valid"], true);
    let issues = report[0]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 5, "{report:#}");
    assert!(issues.iter().all(|i| i["severity"] == "warning"), "{report:#}");
    let private: Vec<_> = issues.iter().filter(|i| i["kind"] == "private_target").collect();
    assert_eq!(private.len(), 4, "{report:#}");
    assert_eq!(private[0]["path"], "steps[0].params.url");
}
