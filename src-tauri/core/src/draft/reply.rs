//! What comes back: the reply's JSON found and checked like a plan file, and the
//! [`Draft`] assembled from it (providers, plain-English steps, step links).

use super::{Draft, StepLink};
use flowpilot_engine::plan::{IssueKind, limits};
use flowpilot_engine::references::{self as template, Root, StepRef};
use flowpilot_engine::registry::Registry;
use flowpilot_engine::{Plan, PlanIssue};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A reply, parsed and validated.
pub(super) struct Checked {
    pub(super) plan: Value,
    pub(super) issues: Vec<PlanIssue>,
    pub(super) valid: Option<Plan>,
    pub(super) reply: String,
}

/// Parse a reply and validate it like a plan file, with `original_prompt` set.
pub(super) fn check_reply(reply: &str, prompt: &str, registry: &Registry) -> Checked {
    let root_issue = |message: String| PlanIssue::error("", IssueKind::Syntax, message);
    let text = extract_json(reply);
    if text.len() > limits::MAX_FILE_BYTES {
        return Checked {
            plan: Value::Null,
            issues: vec![root_issue(format!(
                "the reply is {} bytes; a plan may have {}",
                text.len(),
                limits::MAX_FILE_BYTES
            ))],
            valid: None,
            reply: reply.to_string(),
        };
    }
    let mut plan = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(e) => {
            let message = e.to_string();
            let message = message.split(" at line").next().unwrap_or_default();
            return Checked {
                plan: Value::Null,
                issues: vec![root_issue(format!(
                    "the reply is not valid JSON (line {}, column {}): {message}",
                    e.line(),
                    e.column()
                ))],
                valid: None,
                reply: reply.to_string(),
            };
        }
    };
    if let Value::Object(map) = &mut plan {
        map.insert("original_prompt".into(), json!(prompt));
    }
    let (issues, valid) = match Plan::from_value(plan.clone(), registry) {
        Ok(p) => (Vec::new(), Some(p)),
        Err(e) => (e.issues(), None),
    };
    Checked {
        plan,
        issues,
        valid,
        reply: reply.to_string(),
    }
}

/// The JSON in a reply: models wrap it in Markdown fences, reasoning models put
/// their thinking before it, chatty ones a sentence around it. This only finds
/// the object; it never changes it.
pub(super) fn extract_json(reply: &str) -> &str {
    let mut text = reply.trim();
    if let Some(end) = text.find("</think>") {
        text = text[end + "</think>".len()..].trim();
    }
    if let Some(start) = text.find("```") {
        let after = &text[start + 3..];
        // The fence's info string (`json`) runs to the end of its line.
        let body = after.find('\n').map_or("", |nl| &after[nl + 1..]);
        let body = body.find("```").map_or(body, |end| &body[..end]);
        return body.trim();
    }
    if !text.starts_with('{')
        && let (Some(open), Some(close)) = (text.find('{'), text.rfind('}'))
        && open < close
    {
        return &text[open..=close];
    }
    text
}

pub(super) fn assemble(checked: Checked, attempts: u32, notes: Vec<String>, registry: &Registry) -> Draft {
    let (required_providers, plain_english_steps) = match &checked.valid {
        Some(plan) => (plan.required_providers(), plan.plain_english_steps()),
        None => rough_summary(&checked.plan, registry),
    };
    Draft {
        references: step_links(&checked.plan),
        valid: checked.valid.is_some(),
        plan: checked.plan,
        issues: checked.issues,
        required_providers,
        plain_english_steps,
        missing_credentials: Vec::new(),
        attempts,
        reply: checked.reply,
        notes,
    }
}

/// Providers and step lines of a draft that did not validate, as far as they can
/// be read: the person still sees what the model meant while fixing it.
pub(super) fn rough_summary(plan: &Value, registry: &Registry) -> (Vec<String>, Vec<String>) {
    let mut providers: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    let steps = plan
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let provider = step.get("provider").and_then(Value::as_str).unwrap_or("?");
        let action = step.get("action").and_then(Value::as_str).unwrap_or("?");
        if let Some(p) = registry.get(provider)
            && !providers.iter().any(|known| known == p.name())
        {
            providers.push(p.name().to_string());
        }
        let what = registry
            .action(provider, action)
            .map(|a| a.description.trim_end_matches('.').to_string())
            .unwrap_or_else(|| "not in the catalogue".to_string());
        lines.push(format!("{}. {what} ({provider}.{action})", i + 1));
    }
    (providers, lines)
}

/// Every reference from a step to an earlier one, in step order, without repeats.
/// References that do not resolve (later steps, unknown ids) are left out: they
/// are among the draft's issues.
pub(super) fn step_links(plan: &Value) -> Vec<StepLink> {
    let steps = plan
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ids: HashMap<&str, usize> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.get("id").and_then(Value::as_str).map(|id| (id, i)))
        .collect();
    let mut links = Vec::new();
    for (from, step) in steps.iter().enumerate() {
        let Some(params) = step.get("params") else { continue };
        for (_, parsed) in template::find_templates(params) {
            let Ok(parsed) = parsed else { continue };
            for reference in parsed.references() {
                let to = match &reference.root {
                    Root::Step(StepRef::Index(n)) => Some(*n),
                    Root::Step(StepRef::Id(id)) => ids.get(id.as_str()).copied(),
                    _ => None,
                };
                if let Some(to) = to.filter(|to| *to < from) {
                    let link = StepLink { from, to };
                    if !links.contains(&link) {
                        links.push(link);
                    }
                }
            }
        }
    }
    links
}
