//! `when` (a condition that skips a step) and `for_each` (a step run once per
//! item), on the scripted provider of the parent module.

use super::*;

// ---- when ----

#[tokio::test]
async fn a_false_condition_skips_the_step_with_the_compared_values() {
    let (outcome, _) = run(json!([
        {"id": "summary", "provider": "test", "action": "echo", "params": {"text": "all quiet"}},
        {"id": "post", "provider": "test", "action": "echo", "params": {"sent": true},
         "when": {"left": "${steps.summary.output.text}", "op": "contains", "right": "outage"}},
        {"provider": "test", "action": "echo", "params": {"was": "${steps.post.output}", "status": "${steps.post.status}"}},
        {"provider": "test", "action": "echo", "params": {"deep": "${steps.post.output.sent}"}}
    ]))
    .await;
    let post = &outcome.steps[1];
    assert_eq!(post.status, StepStatus::Skipped);
    assert_eq!(post.output, Value::Null);
    assert_eq!(
        post.metadata["condition"],
        json!([{"left": "all quiet", "op": "contains", "right": "outage", "holds": false}])
    );
    // A reference to the skipped step is null; a path into it names the step.
    assert_eq!(outcome.steps[2].output, json!({"was": null, "status": "skipped"}));
    assert_eq!(outcome.steps[3].error, Some(ErrorCode::Reference));
    assert!(
        outcome.steps[3].message.contains("step `post` was skipped"),
        "{}",
        outcome.steps[3].message
    );
}

#[tokio::test]
async fn a_true_condition_runs_the_step_and_compared_secrets_are_redacted() {
    let (outcome, _) = run(json!([
        {"provider": "test", "action": "secret", "params": {}},
        {"provider": "test", "action": "echo", "params": {"n": 1},
         "when": {"all": [{"left": "${steps.0.output.echo}", "op": "starts_with", "right": "token="}]}},
        {"provider": "test", "action": "echo", "params": {"n": 2},
         "when": {"not": {"left": "${steps.0.output.echo}", "op": "contains", "right": "***"}}}
    ]))
    .await;
    assert_eq!(outcome.steps[1].status, StepStatus::Success);
    assert_eq!(outcome.steps[2].status, StepStatus::Skipped);
    let everything = serde_json::to_string(&outcome).unwrap();
    assert!(!everything.contains("s3cr3t-token"), "{everything}");
}

// ---- for_each ----

fn items_plan(provider: Arc<Scripted>, items: Value, params: Value, options: Value) -> Plan {
    plan_with(
        provider,
        json!([
            {"id": "list", "provider": "test", "action": "echo", "params": {"items": items}},
            {"id": "each", "provider": "test", "action": "by_mode", "params": params,
             "for_each": "${steps.list.output.items}", "for_each_options": options}
        ]),
    )
}

async fn run_plan(plan: Plan) -> (RunOutcome, Vec<RunEvent>) {
    let events = Events::default();
    let outcome = executor()
        .run(RunRequest::new("r", plan, json!({})), &events, CancellationToken::new())
        .await;
    (outcome, events.0.into_inner().unwrap())
}

#[tokio::test]
async fn for_each_over_no_items_one_item_and_a_thousand() {
    for n in [0usize, 1, 1000] {
        let items: Vec<Value> = (0..n).map(|i| json!({"n": i})).collect();
        let (outcome, events) = run_plan(items_plan(
            Arc::new(Scripted::new()),
            json!(items),
            json!({"n": "${item.n}", "i": "${item_index}"}),
            json!({}),
        ))
        .await;
        assert_eq!(outcome.status, RunStatus::Success, "{n} items");
        let step = &outcome.steps[1];
        assert_eq!(step.output, json!((0..n).collect::<Vec<_>>()), "{n} items");
        assert_eq!(step.metadata["succeeded"], json!(n));
        assert_eq!(step.items.as_ref().unwrap().len(), n);
        let item_events = events
            .iter()
            .filter(|e| matches!(e, RunEvent::ItemFinished { .. }))
            .count();
        assert_eq!(item_events, n);
    }
}

#[tokio::test]
async fn for_each_stop_ends_at_the_first_failure_and_continue_goes_on() {
    let items = json!([{"n": 0, "m": "echo"}, {"n": 1, "m": "fail"}, {"n": 2, "m": "echo"}]);
    let params = json!({"n": "${item.n}", "mode": "${item.m}"});
    let (stop, _) = run_plan(items_plan(
        Arc::new(Scripted::new()),
        items.clone(),
        params.clone(),
        json!({}),
    ))
    .await;
    let step = &stop.steps[1];
    assert_eq!(stop.status, RunStatus::Failed);
    assert_eq!(step.error, Some(ErrorCode::Http(500)));
    assert!(step.message.starts_with("item 2 of 3 failed"), "{}", step.message);
    let rows = step.items.as_ref().unwrap();
    assert_eq!(
        rows.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![StepStatus::Success, StepStatus::Error, StepStatus::Skipped]
    );

    let (go_on, _) = run_plan(items_plan(
        Arc::new(Scripted::new()),
        items,
        params.clone(),
        json!({"on_error": "continue"}),
    ))
    .await;
    let step = &go_on.steps[1];
    assert_eq!(go_on.status, RunStatus::Success);
    assert_eq!(step.output[1], json!({"error": "HTTP_500", "message": "item 1 failed"}));
    assert_eq!(step.output[2], json!(2));
    assert_eq!(
        (step.metadata["succeeded"].clone(), step.metadata["failed"].clone()),
        (json!(2), json!(1))
    );

    // With `continue`, the step fails only when no item succeeded.
    let (all_failed, _) = run_plan(items_plan(
        Arc::new(Scripted::new()),
        json!([{"n": 0, "m": "fail"}, {"n": 1, "m": "fail"}]),
        params,
        json!({"on_error": "continue"}),
    ))
    .await;
    assert_eq!(all_failed.status, RunStatus::Failed);
    assert_eq!(all_failed.steps[1].error, Some(ErrorCode::ItemsFailed));
}

#[tokio::test(start_paused = true)]
async fn for_each_runs_four_at_a_time_and_keeps_item_order() {
    let provider = Arc::new(Scripted::new());
    // Later items finish first.
    let items: Vec<Value> = (0..12).map(|i| json!({"n": i, "ms": (12 - i) * 10})).collect();
    let (outcome, events) = run_plan(items_plan(
        provider.clone(),
        json!(items),
        json!({"n": "${item.n}", "ms": "${item.ms}", "mode": "slow"}),
        json!({"concurrency": 4}),
    ))
    .await;
    assert_eq!(outcome.steps[1].output, json!((0..12).collect::<Vec<_>>()));
    assert_eq!(provider.most_in_flight.load(std::sync::atomic::Ordering::SeqCst), 4);
    // Items were reported as they finished, out of order.
    let finished: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::ItemFinished { item, .. } => Some(item.index),
            _ => None,
        })
        .collect();
    assert_ne!(finished, (0..12).collect::<Vec<u32>>());
}

#[tokio::test]
async fn cancelling_mid_loop_stops_it_and_cancels_the_item_in_flight() {
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    let observer = move |e: &RunEvent| {
        if let RunEvent::ItemFinished { done: 2, .. } = e {
            canceller.cancel();
        }
    };
    let items = json!([{"n": 0, "m": "echo"}, {"n": 1, "m": "echo"}, {"n": 2, "m": "hang"}, {"n": 3, "m": "echo"}]);
    let plan = items_plan(
        Arc::new(Scripted::new()),
        items,
        json!({"n": "${item.n}", "mode": "${item.m}"}),
        json!({"concurrency": 2}),
    );
    let outcome = executor()
        .run(RunRequest::new("r", plan, json!({})), &observer, cancel)
        .await;
    assert_eq!(outcome.status, RunStatus::Cancelled);
    let rows = outcome.steps[1].items.as_ref().unwrap();
    assert_eq!(rows[2].error, Some(ErrorCode::Cancelled));
    assert_eq!(rows[3].status, StepStatus::Skipped);
}

#[tokio::test(start_paused = true)]
async fn each_item_has_its_own_retries() {
    let items: Vec<Value> = (0..3).map(|i| json!({"n": i})).collect();
    let (outcome, _) = run_plan(plan_with(
        Arc::new(Scripted::new()),
        json!([
            {"id": "list", "provider": "test", "action": "echo", "params": {"items": items}},
            {"provider": "test", "action": "by_mode", "params": {"n": "${item.n}", "mode": "flaky"},
             "for_each": "${steps.list.output.items}", "retry": {"max_attempts": 2, "backoff_ms": 10}}
        ]),
    ))
    .await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:#?}");
    let rows = outcome.steps[1].items.as_ref().unwrap();
    assert!(rows.iter().all(|r| r.attempt == 2), "{rows:?}");
}

#[tokio::test]
async fn a_when_on_a_loop_filters_items_and_a_list_is_required() {
    let (outcome, _) = run_plan(plan_with(
        Arc::new(Scripted::new()),
        json!([
            {"id": "list", "provider": "test", "action": "echo", "params": {"items": [1, 5, 2, 9], "text": "[1,2]"}},
            {"provider": "test", "action": "by_mode", "params": {"n": "${item}"},
             "for_each": "${steps.list.output.items}", "when": {"left": "${item}", "op": "gt", "right": 2}},
            {"provider": "test", "action": "by_mode", "params": {"n": "${item}"},
             "for_each": "${steps.list.output.text}"}
        ]),
    ))
    .await;
    assert_eq!(outcome.steps[1].output, json!([null, 5, null, 9]));
    assert_eq!(outcome.steps[1].metadata["skipped"], json!(2));
    assert_eq!(outcome.steps[2].error, Some(ErrorCode::ForEach));
    assert!(
        outcome.steps[2].message.contains("logic.json_parse"),
        "{}",
        outcome.steps[2].message
    );
}

#[tokio::test]
async fn a_thousand_items_of_logic_set_stay_small_in_the_log() {
    let registry = Registry::builtin();
    let plan = Plan::from_value(
        json!({"name": "big loop", "steps": [
            {"id": "list", "provider": "logic", "action": "set", "params": {"value": (0..1000).collect::<Vec<_>>()}},
            {"provider": "logic", "action": "set", "params": {"value": "${item}"}, "for_each": "${steps.list.output}"}
        ]}),
        &registry,
    )
    .unwrap();
    let executor = Executor::new(
        registry,
        Arc::new(crate::clock::SystemClock),
        Arc::new(StaticCredentials::default()),
    );
    let outcome = executor
        .run(
            RunRequest::new("r", plan, json!({})),
            &NoObserver,
            CancellationToken::new(),
        )
        .await;
    let row = serde_json::to_string(&outcome.steps[1]).unwrap();
    assert!(row.len() <= 200 * 1024, "{} bytes", row.len());
}
