//! What the model is sent: the answer's JSON Schema, the catalogue of providers
//! and actions, the system prompt, and the repair message listing a draft's
//! problems.

use super::DraftRequest;
use flowpilot_engine::PlanIssue;
use flowpilot_engine::registry::Registry;
use serde_json::{Value, json};

/// The JSON Schema of the answer: the plan file's own schema (generated from the
/// one plan type), with the providers the catalogue has named, and without the
/// fields Flowpilot sets itself (`original_prompt`, `status`). `params` stays an
/// open object: each action's own schema is in the catalogue, and validation holds
/// the params to it.
pub fn plan_schema(registry: &Registry) -> Value {
    let mut schema = flowpilot_engine::plan::plan_schema();
    if let Value::Object(root) = &mut schema {
        root.remove("$schema");
        if let Some(Value::Object(props)) = root.get_mut("properties") {
            props.remove("original_prompt");
            props.remove("status");
        }
    }
    let providers: Vec<&str> = registry.providers().iter().map(|p| p.name()).collect();
    if let Some(provider) = schema.pointer_mut("/$defs/StepSpec/properties/provider")
        && let Value::Object(p) = provider
    {
        p.insert("enum".into(), json!(providers));
    }
    schema
}

/// The catalogue as the model reads it: providers, their credential field names (no
/// values exist here to leak), and every action with its description, whether it
/// has side effects, and its params schema. Aliases are left out so that drafts use
/// the canonical names.
pub(super) fn catalogue_json(registry: &Registry) -> String {
    let providers: Vec<Value> = registry
        .catalogue()
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "credential_fields": p.credential_fields,
                "actions": p.actions.into_iter().map(|a| json!({
                    "name": a.name,
                    "description": a.description,
                    "side_effects": a.side_effects,
                    "params_schema": a.params_schema,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string(&providers).unwrap_or_else(|_| "[]".into())
}

/// The instructions: the plan's shape, the reference syntax, the rules, the
/// catalogue, and the answer's schema where no `response_format` carries it.
pub(super) fn system_prompt(
    registry: &Registry,
    provider: &str,
    request: &DraftRequest,
    schema: Option<&Value>,
) -> String {
    let llm_hint = match provider {
        "openai_compatible" => format!(
            "For steps that need a language model, use provider `openai_compatible` with base_url {} and model {}, unless the person names another.",
            request
                .base_url
                .as_deref()
                .map_or_else(|| "(the person's server)".to_string(), shareable_url),
            request.model.as_deref().unwrap_or("(the person's model)")
        ),
        other => {
            format!("For steps that need a language model, use provider `{other}` unless the person names another.")
        }
    };
    let mut text = format!(
        r#"You write plans for Flowpilot, a local automation app. A plan is a list of steps run in order; each step is a provider, one of its actions, and params. Turn the person's request into one plan.

# The answer
One JSON object and nothing else (no prose, no Markdown):
{{"name": "Latest release to a webhook", "description": "Post the newest release name to a webhook.", "steps": [
  {{"id": "fetch", "provider": "http", "action": "request", "params": {{"method": "GET", "url": "https://api.github.com/repos/tauri-apps/tauri/releases"}}}},
  {{"id": "latest", "provider": "logic", "action": "extract", "params": {{"input": "${{steps.fetch.output}}", "path": "$[0].name"}}}},
  {{"provider": "webhook", "action": "post_request", "params": {{"url": "https://hooks.example.com/flowpilot", "payload": {{"text": "Newest release: ${{steps.latest.output}}"}}}}}}
]}}
- `provider` and `action` must come from the catalogue below, and `params` must follow that action's `params_schema`: every required param, no others.
- `id` is optional (letters, digits, `_`, `-`; not only digits; unique). Give one to each step a later step uses.
- A step may also set `timeout_s` (seconds per attempt; default 60, 300 for language models), `retry` (attempts in all; default 3) and `continue_on_error`; leave them out unless the request calls for them.
- Add `"trigger": {{"type": "cron", "cron_expression": "0 9 * * 1-5", "timezone": "Europe/Berlin"}}` only when the person asks for a schedule (5 cron fields: minute hour day month weekday; an IANA time zone).
- "Only if": a step may have `"when": {{"left": "${{steps.summary.output}}", "op": "contains", "right": "outage"}}` (operators: eq, ne, gt, ge, lt, le, contains, not_contains, starts_with, ends_with, matches, exists, empty, not_empty; combine with {{"all": [...]}}, {{"any": [...]}}, {{"not": {{...}}}}). A step whose condition is false is skipped and its output is null.
- "For each": a step may have `"for_each": "${{steps.fetch.output.items}}"` (one reference to a list) to run once per item; its params use `${{item}}`, `${{item.title}}` and `${{item_index}}`, and its output is the list of the items' outputs. Optional `"for_each_options": {{"concurrency": 1-8, "on_error": "stop" or "continue"}}`. A list held in text (a model's JSON reply) must first go through a `logic.json_parse` step.

# References between steps
A string in params can use what an earlier step produced:
- `${{steps.0.output}}`: the output of the first step (steps count from 0)
- `${{steps.<id>.output}}`: the output of the step with that id, e.g. `${{steps.fetch.output}}`
- `${{steps.fetch.output.items[0].title}}`: a path into an output; `["key with spaces"]` for odd keys
- `${{steps.0.metadata.usage.total_tokens}}`: a step's `metadata`; also its `message`, `success` and `error`
- `${{plan.name}}`, `${{run.id}}`, `${{trigger.type}}`
- in a `for_each` step: `${{item}}`, `${{item.<path>}}`, `${{item_index}}`
A step may only refer to steps before it. A string that is exactly one reference keeps the value's JSON type; inside longer text the value is written as text. References are looked up, never evaluated: no expressions, no functions. `$${{` writes a literal `${{`.

# Rules
- Never write an API key, token or password into a plan. Providers read their credentials from the OS keychain by field name (`credential_fields` in the catalogue); the http provider's `auth` names a stored credential.
- Use the fewest steps that do the job; `logic` steps extract, reshape, filter and check data between steps.
- When the person does not give an address or value a step needs, write an obvious placeholder (such as https://example.com/...) that they can edit.
- {llm_hint}

# Catalogue
{catalogue}
"#,
        catalogue = catalogue_json(registry),
    );
    if let Some(schema) = schema {
        text.push_str("\n# JSON Schema of the answer\n");
        text.push_str(&serde_json::to_string(schema).unwrap_or_default());
        text.push('\n');
    }
    text
}

/// A server address as it may appear in the prompt: without user info
/// (`user:password@`), query or fragment, where a secret could hide.
pub(super) fn shareable_url(url: &str) -> String {
    let url = url.trim();
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The second request: every located problem, and what to send back.
pub(super) fn repair_message(issues: &[PlanIssue]) -> String {
    let mut text = format!(
        "Flowpilot checked that plan and found {} problem{}:\n",
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        text.push_str("- ");
        text.push_str(&issue.to_string());
        text.push('\n');
    }
    text.push_str(
        "Fix every one and answer with the whole corrected plan as one JSON object and nothing else. \
         Keep what was right.",
    );
    text
}
