//! What the plan editor asks through the real IPC: a dry run, a draft, the
//! credentials an unsaved plan needs, testing one step.

use super::*;

#[test]
fn a_dry_run_answers_side_effects_from_the_stub_and_stores_nothing() {
    let h = Harness::new();
    // Nothing listens on port 9: a webhook that really sent would fail.
    let plan = json!({
        "name": "Rehearsed",
        "steps": [
            {"id": "who", "provider": "logic", "action": "set", "params": {"value": "world"}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": "http://127.0.0.1:9/hook", "payload": {"text": "Hello, ${steps.who.output}!"}}}
        ]
    });
    let rehearsal = h.ok("dry_run_plan", json!({"plan": plan}));
    assert_eq!(rehearsal["status"], "success", "{rehearsal:#}");
    let steps = rehearsal["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["output"], "world");
    assert_eq!(steps[0]["metadata"].get("dry_run"), None);
    assert_eq!(steps[1]["metadata"]["dry_run"], true);
    assert_eq!(steps[1]["output"]["would_send"]["payload"]["text"], "Hello, world!");

    // Nothing was stored: no plan, no run.
    assert_eq!(h.ok("list_plans", json!({})), json!([]));
    let runs = h.ok(
        "list_runs",
        json!({"filter": {"plan_id": null, "status": null, "since": null, "until": null}, "page": {"limit": 10, "offset": 0}}),
    );
    assert_eq!(runs["total"], 0, "{runs:#}");

    // An invalid plan is refused with its located problems, as when saving.
    let e = h.err("dry_run_plan", json!({"plan": {"name": "", "steps": []}}));
    assert_eq!(e["code"], "invalid_plan", "{e:#}");
    assert!(!e["issues"].as_array().unwrap().is_empty(), "{e:#}");
    assert_eq!(h.ok("cancel_dry_run", json!({})), false);
}

#[test]
fn a_draft_that_cannot_be_asked_for_says_which_field_to_fix() {
    let h = Harness::new();
    let request = |prompt: &str, provider: &str| json!({"request": {"prompt": prompt, "provider": provider, "base_url": "  ", "model": null}});
    let e = h.err("draft_plan", request("   ", "openai"));
    assert_eq!(e["code"], "bad_input", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains("prompt is empty"), "{e:#}");

    let e = h.err("draft_plan", request("Post the weather", "webhook"));
    assert_eq!(e["code"], "bad_input", "{e:#}");
    assert!(e["message"].as_str().unwrap().contains("openai_compatible"), "{e:#}");

    // A self-hosted server needs its address and model; a blank field is no value.
    let e = h.err("draft_plan", request("Post the weather", "openai_compatible"));
    assert_eq!(e["code"], "bad_input", "{e:#}");
    let paths: Vec<&str> = e["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"base_url") && paths.contains(&"model"), "{e:#}");
    assert_eq!(h.ok("cancel_draft", json!({})), false);
}

#[test]
fn missing_credentials_of_an_unsaved_plan_are_listed_until_set() {
    let h = Harness::new();
    let step =
        |provider: &str, params: Value| json!({"provider": provider, "action": "chat_completion", "params": params});
    let plan = json!({"plan": {"name": "Needs", "steps": [
        step("openai", json!({"prompt": "hi"})),
        // A self-hosted server's key is optional: never "missing".
        step("openai_compatible", json!({"prompt": "hi", "model": "m", "base_url": "http://127.0.0.1:9"})),
        // An HTTP step needs the credential its auth names, unless a reference picks it.
        {"provider": "http", "action": "request",
         "params": {"url": "http://127.0.0.1:9/a", "auth": {"type": "bearer", "credential": "github_token"}}},
        {"provider": "http", "action": "request",
         "params": {"url": "http://127.0.0.1:9/b", "auth": {"type": "bearer", "credential": "${steps.0.output}"}}},
        {"provider": "logic", "action": "set", "params": {"value": 1}}
    ]}});
    assert_eq!(
        h.ok("missing_credentials", plan.clone()),
        json!([{"provider": "openai", "field": "api_key"}, {"provider": "http", "field": "github_token"}])
    );
    for (provider, field) in [("openai", "api_key"), ("http", "github_token")] {
        h.ok(
            "set_credential",
            json!({"provider": provider, "field": field, "value": "sk-test"}),
        );
    }
    assert_eq!(h.ok("missing_credentials", plan), json!([]));
    let e = h.err("missing_credentials", json!({"plan": {"name": "", "steps": []}}));
    assert_eq!(e["code"], "invalid_plan", "{e:#}");
}

#[test]
fn testing_a_step_checks_its_references_against_the_steps_before_it() {
    let h = Harness::new();
    let previous = json!([
        {"id": "who", "result": {"success": true, "output": {"name": "Ada"}, "message": "", "metadata": {}}},
        {"id": null, "result": {"success": true, "output": "second", "message": "", "metadata": {}}}
    ]);
    let step = |template: &str| json!({"provider": "logic", "action": "template", "params": {"template": template}});

    // By id and by index, the earlier results are there.
    let record = h.ok(
        "execute_step",
        json!({"step": step("Hi ${steps.who.output.name}, ${steps.1.output}"), "previous": previous}),
    );
    assert_eq!(record["status"], "success", "{record:#}");
    assert_eq!(record["output"], "Hi Ada, second");

    // A step that does not exist before it, by id or index: located on the step alone.
    for (template, needle) in [
        ("${steps.ghost.output}", "no step has the id `ghost`"),
        ("${steps.2.output}", "cannot refer to its own output"),
        ("${steps.5.output}", "runs after this step"),
    ] {
        let e = h.err("execute_step", json!({"step": step(template), "previous": previous}));
        assert_eq!(e["code"], "invalid_plan", "{e:#}");
        let issues = e["issues"].as_array().unwrap();
        assert_eq!(issues.len(), 1, "{e:#}");
        assert_eq!(issues[0]["path"], "steps[0].params.template", "{e:#}");
        assert!(issues[0]["message"].as_str().unwrap().contains(needle), "{e:#}");
    }

    // Its own problems are reported, the earlier steps' never.
    let e = h.err(
        "execute_step",
        json!({"step": {"provider": "logic", "action": "template", "params": {}},
               "previous": [{"id": "not a valid id!", "result": {"success": true, "output": 1, "message": "", "metadata": {}}}]}),
    );
    let paths: Vec<&str> = e["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["steps[0].params.template"], "{e:#}");
}
