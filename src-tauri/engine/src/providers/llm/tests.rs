use super::*;

#[test]
fn base_urls_join_with_or_without_v1() {
    assert_eq!(
        chat_url("https://api.openai.com"),
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(
        chat_url("https://api.openai.com/"),
        "https://api.openai.com/v1/chat/completions"
    );
    assert_eq!(
        chat_url("http://localhost:11434/v1"),
        "http://localhost:11434/v1/chat/completions"
    );
    assert_eq!(
        chat_url("http://localhost:11434/v1/"),
        "http://localhost:11434/v1/chat/completions"
    );
    assert_eq!(
        chat_url("https://api.groq.com/openai"),
        "https://api.groq.com/openai/v1/chat/completions"
    );
    assert_eq!(chat_url("http://h/v1/chat/completions"), "http://h/v1/chat/completions");
}

#[test]
fn public_endpoints_are_recognised() {
    assert!(Llm::openai().is_public_endpoint(&chat_url("https://api.openai.com/v1")));
    assert!(!Llm::openai().is_public_endpoint(&chat_url("http://127.0.0.1:9")));
    assert!(Llm::groq().is_public_endpoint(&chat_url("https://api.groq.com/openai")));
    assert!(!Llm::openai_compatible().is_public_endpoint(&chat_url("https://api.openai.com")));
}

fn paths(issues: Vec<(String, String)>) -> Vec<String> {
    issues.into_iter().map(|(p, _)| p).collect()
}

#[test]
fn prepare_wants_exactly_one_of_prompt_and_messages() {
    let openai = Llm::openai();
    assert!(openai.prepare(CHAT, &json!({"prompt": "hi"})).is_empty());
    assert!(
        openai
            .prepare(CHAT, &json!({"messages": [{"role": "user", "content": "hi"}]}))
            .is_empty()
    );
    let both = openai.prepare(
        CHAT,
        &json!({"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(both[0].0, "messages");
    assert!(both[0].1.contains("not both"), "{both:?}");
    let neither = openai.prepare(CHAT, &json!({"system": "be brief"}));
    assert_eq!(neither[0].0, "");
    assert!(neither[0].1.contains("needs `prompt`"), "{neither:?}");
    assert_eq!(paths(openai.prepare(CHAT, &json!({"prompt": " "}))), ["prompt"]);
    assert_eq!(paths(openai.prepare(CHAT, &json!({"messages": []}))), ["messages"]);
    assert!(openai.prepare(CHAT, &json!({"prompt": "${steps.0.output}"})).is_empty());
}

#[test]
fn prepare_requires_base_url_and_model_for_compatible_servers() {
    let compat = Llm::openai_compatible();
    assert_eq!(
        paths(compat.prepare(CHAT, &json!({"prompt": "hi"}))),
        ["base_url", "model"]
    );
    assert!(
        compat
            .prepare(
                CHAT,
                &json!({"prompt": "hi", "base_url": "http://localhost:11434", "model": "llama3.1"})
            )
            .is_empty()
    );
    assert!(
        compat
            .prepare(
                CHAT,
                &json!({"prompt": "hi", "base_url": "${steps.0.output}", "model": "m"})
            )
            .is_empty()
    );
    assert_eq!(
        paths(compat.prepare(
            CHAT,
            &json!({"prompt": "hi", "base_url": "localhost:11434", "model": "m"})
        )),
        ["base_url"]
    );
    assert!(Llm::groq().prepare(CHAT, &json!({"prompt": "hi"})).is_empty());
}

#[test]
fn messages_put_the_system_prompt_first() {
    let m = build_messages(Some(Text("be brief".into())), Some(Text("hi".into())), None).unwrap();
    assert_eq!(
        m,
        vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "user", "content": "hi"})
        ]
    );
    let conversation: Vec<Message> = serde_json::from_value(json!([
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": 7}
    ]))
    .unwrap();
    let m = build_messages(None, None, Some(conversation)).unwrap();
    assert_eq!(m[1], json!({"role": "assistant", "content": "4"}));
    assert_eq!(m[2], json!({"role": "user", "content": "7"}));
    assert_eq!(
        build_messages(None, None, None).unwrap_err().code(),
        ErrorCode::InvalidParams
    );
}

#[test]
fn json_modes_set_the_response_format() {
    assert_eq!(response_format(false, None, true), None);
    assert_eq!(response_format(true, None, true), Some(json!({"type": "json_object"})));
    let schema = json!({"type": "object"}).as_object().cloned();
    assert_eq!(
        response_format(true, schema.clone(), true),
        Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "plan", "schema": {"type": "object"}, "strict": true}
        }))
    );
    assert_eq!(
        response_format(false, schema, false),
        Some(json!({
            "type": "json_schema",
            "json_schema": {"name": "plan", "schema": {"type": "object"}, "strict": false}
        }))
    );
}

#[test]
fn completions_are_read_with_usage_and_finish_reason() {
    let body = json!({
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    });
    let (text, meta) = read_completion(&body, "gpt-4o-mini", "u").unwrap();
    assert_eq!(text, "Hello!");
    assert_eq!(meta["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(meta["usage"]["total_tokens"], 7);
    assert_eq!(
        summary(&meta),
        "Reply from gpt-4o-mini-2024-07-18 (7 tokens); cut off at max_tokens"
    );

    let refused = json!({"choices": [{"message": {"content": null, "refusal": "I can't help with that."}}]});
    assert_eq!(
        read_completion(&refused, "m", "u").unwrap_err().code(),
        ErrorCode::Refused
    );
    let empty = json!({"choices": [{"message": {"content": null}, "finish_reason": "tool_calls"}]});
    assert_eq!(
        read_completion(&empty, "m", "u").unwrap_err().code(),
        ErrorCode::EmptyReply
    );
    let wrong = json!({"hello": "world"});
    let e = read_completion(&wrong, "m", "http://h/v1/chat/completions").unwrap_err();
    assert_eq!(e.code(), ErrorCode::BadResponse);
    assert!(e.to_string().contains("no `choices`"), "{e}");
}

#[test]
fn quota_errors_are_told_by_their_code_and_auth_errors_say_what_to_fix() {
    let quota = read_error(
        br#"{"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}"#,
    );
    assert!(quota.lasting);
    assert!(quota.detail.unwrap().contains("quota is used up"));
    // The word alone decides nothing: a rate limit that mentions quotas still waits.
    let busy = read_error(
        br#"{"error": {"message": "Rate limit reached; quota resets in 20s", "type": "requests", "code": "rate_limit_exceeded"}}"#,
    );
    assert!(!busy.lasting);
    let e = Llm::groq().explain(StepError::fatal(ErrorCode::Http(401), "POST u -> 401 Unauthorized"));
    assert!(e.to_string().contains("credentials set groq api_key"), "{e}");
}

#[test]
fn schema_docs_name_each_providers_defaults() {
    let llm = Llm::openai();
    let spec = &llm.actions()[0];
    let doc = spec.params_schema["properties"]["model"]["description"]
        .as_str()
        .unwrap();
    assert!(doc.contains("gpt-4o-mini"), "{doc}");
    let llm = Llm::openai_compatible();
    let spec = &llm.actions()[0];
    let doc = spec.params_schema["properties"]["base_url"]["description"]
        .as_str()
        .unwrap();
    assert!(doc.contains("Required"), "{doc}");
    assert!(!spec.side_effects);
}
