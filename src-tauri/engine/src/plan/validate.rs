//! The checks a well-formed plan still has to pass: known providers and actions,
//! params that fit their action, references that point at earlier steps,
//! conditions that can be checked, a schedule that parses. Every problem is
//! collected with its location; a plan that passes becomes [`CheckedStep`]s.

use super::checked::{CheckedStep, ForEach};
use super::issue::{IssueKind, PlanIssue, join_path};
use super::model::{CompareOp, Condition, PlanFile, StepSpec};
use super::trigger::Trigger;
use crate::condition;
use crate::references::{self, Root, StepRef};
use crate::registry::Registry;
use crate::schedule::{Schedule, system_timezone};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Everything that is wrong with `file` against `registry`; the checked steps and
/// schedule when nothing is.
pub fn validate(file: &PlanFile, registry: &Registry) -> Result<(Vec<CheckedStep>, Option<Schedule>), Vec<PlanIssue>> {
    let mut issues = Vec::new();
    if file.name.trim().is_empty() {
        issues.push(PlanIssue::error("name", IssueKind::Empty, "must not be empty"));
    }
    let steps: Vec<Option<&StepSpec>> = file.steps.iter().map(Some).collect();
    let (checked, schedule) = check_parts(Some(&file.trigger), &steps, registry, &mut issues);
    if issues.is_empty() {
        Ok((checked, schedule))
    } else {
        Err(issues)
    }
}

/// The deeper problems of the parts of a structurally broken plan that could be
/// read (`None`: a step or trigger with problems of its own, already reported).
pub fn validate_parts(trigger: Option<&Trigger>, steps: &[Option<&StepSpec>], registry: &Registry) -> Vec<PlanIssue> {
    let mut issues = Vec::new();
    check_parts(trigger, steps, registry, &mut issues);
    issues
}

fn check_parts(
    trigger: Option<&Trigger>,
    steps: &[Option<&StepSpec>],
    registry: &Registry,
    issues: &mut Vec<PlanIssue>,
) -> (Vec<CheckedStep>, Option<Schedule>) {
    let schedule = trigger.and_then(|t| check_trigger(t, issues));
    let ids = step_ids(steps, issues);
    let mut checked = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        if let Some(step) = step
            && let Some(c) = check_step(i, step, &ids, registry, issues)
        {
            checked.push(c);
        }
    }
    (checked, schedule)
}

fn check_trigger(trigger: &Trigger, issues: &mut Vec<PlanIssue>) -> Option<Schedule> {
    match trigger {
        Trigger::Manual => None,
        Trigger::Cron(cron) => match Schedule::new(cron, system_timezone()) {
            Ok(s) => Some(s),
            Err(e) => {
                issues.push(e.into_issue("trigger"));
                None
            }
        },
        event => {
            super::trigger_checks::check_event_trigger(event, issues);
            None
        }
    }
}

fn step_ids<'a>(steps: &[Option<&'a StepSpec>], issues: &mut Vec<PlanIssue>) -> HashMap<&'a str, usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let Some(id) = step.and_then(|s| s.id.as_ref()) else {
            continue;
        };
        if !references::is_valid_step_id(id) {
            issues.push(PlanIssue::error(
                format!("steps[{i}].id"),
                IssueKind::BadFormat,
                "letters, digits, `_` and `-`, not only digits",
            ));
        } else if let Some(&first) = ids.get(id.as_str()) {
            issues.push(PlanIssue::error(
                format!("steps[{i}].id"),
                IssueKind::DuplicateId,
                format!("`{id}` is already the id of steps[{first}]"),
            ));
        } else {
            ids.insert(id, i);
        }
    }
    ids
}

fn check_step(
    i: usize,
    step: &StepSpec,
    ids: &HashMap<&str, usize>,
    registry: &Registry,
    issues: &mut Vec<PlanIssue>,
) -> Option<CheckedStep> {
    let at = |rest: &str| join_path(&format!("steps[{i}]"), rest);
    let start = issues.len();
    let refs = RefRules {
        step: i,
        ids,
        items: step.for_each.is_some(),
    };
    refs.check(&step.params, &at("params"), issues);
    check_unquoted_references(&step.params, &at("params"), issues);
    if let Some(when) = &step.when {
        check_condition(when, &at("when"), &refs, issues);
    }
    let for_each = step.for_each.as_deref().and_then(|source| {
        let loc = at("for_each");
        let outer = RefRules { items: false, ..refs };
        match references::parse(source) {
            Ok(t) => match t.as_single_reference() {
                Some(r) if !r.root.is_item() => {
                    outer.check(&Value::String(source.to_string()), &loc, issues);
                    Some(ForEach {
                        source: r.clone(),
                        options: step.for_each_options.unwrap_or_default(),
                    })
                }
                _ => {
                    issues.push(PlanIssue::error(
                        loc,
                        IssueKind::BadReference,
                        "one reference to a list, such as ${steps.fetch.output.items}",
                    ));
                    None
                }
            },
            Err(e) => {
                issues.push(PlanIssue::error(loc, IssueKind::BadReference, e.to_string()));
                None
            }
        }
    });
    if step.for_each_options.is_some() && step.for_each.is_none() {
        issues.push(PlanIssue::error(
            at("for_each_options"),
            IssueKind::NotAllowed,
            "only a step with `for_each` takes `for_each_options`",
        ));
    }

    let Some(provider) = registry.get(&step.provider) else {
        let known: Vec<&str> = registry.providers().iter().map(|p| p.name()).collect();
        issues.push(PlanIssue::error(
            at("provider"),
            IssueKind::UnknownProvider,
            format!("unknown provider `{}` (known: {})", step.provider, known.join(", ")),
        ));
        return None;
    };
    let actions = provider.actions();
    let Some(action) = actions.iter().find(|a| a.name == step.action) else {
        let known: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        issues.push(PlanIssue::error(
            at("action"),
            IssueKind::UnknownAction,
            format!(
                "`{}` has no action `{}` (known: {})",
                provider.name(),
                step.action,
                known.join(", ")
            ),
        ));
        return None;
    };
    for p in action.params_problems(&step.params, true) {
        let kind = match p.kind {
            IssueKind::Required | IssueKind::UnknownField => p.kind,
            _ => IssueKind::InvalidParam,
        };
        issues.push(PlanIssue::error(join_path(&at("params"), &p.path), kind, p.message));
    }
    for (path, message) in provider.prepare(&step.action, &step.params) {
        issues.push(PlanIssue::error(
            join_path(&at("params"), &path),
            IssueKind::InvalidParam,
            message,
        ));
    }
    if issues.len() > start {
        return None;
    }
    Some(CheckedStep {
        provider: provider.clone(),
        retry: step.retry.map(|r| r.policy()).unwrap_or_default(),
        timeout: step
            .timeout_s
            .map(Duration::from_secs_f64)
            .unwrap_or_else(|| provider.default_timeout()),
        for_each,
    })
}

/// Where a step's references may point: earlier steps (by index or id), the plan,
/// the run, the trigger, and the item in a `for_each` step.
#[derive(Clone, Copy)]
struct RefRules<'a> {
    step: usize,
    ids: &'a HashMap<&'a str, usize>,
    items: bool,
}

impl RefRules<'_> {
    fn check(&self, value: &Value, loc: &str, issues: &mut Vec<PlanIssue>) {
        for (path, parsed) in references::find_templates(value) {
            let loc = join_path(loc, &path);
            let template = match parsed {
                Ok(t) => t,
                Err(e) => {
                    issues.push(PlanIssue::error(loc, IssueKind::BadReference, e.to_string()));
                    continue;
                }
            };
            for r in template.references() {
                let i = self.step;
                let problem = match &r.root {
                    root if root.is_definition_only() => Some((
                        IssueKind::ReferenceNotAllowed,
                        "`params` and `secret` exist only in integration definitions; a plan refers to steps, plan, run, trigger or item".to_string(),
                    )),
                    Root::Item | Root::ItemIndex if !self.items => Some((
                        IssueKind::ReferenceNotAllowed,
                        "`item` and `item_index` exist only in a step with `for_each`".to_string(),
                    )),
                    Root::Step(StepRef::Index(n)) if *n == i => {
                        Some((IssueKind::SelfReference, "a step cannot refer to its own output".into()))
                    }
                    Root::Step(StepRef::Index(n)) if *n > i => {
                        Some((IssueKind::ForwardReference, format!("steps[{n}] runs after this step")))
                    }
                    Root::Step(StepRef::Id(id)) => match self.ids.get(id.as_str()) {
                        None => Some((IssueKind::UnknownStep, format!("no step has the id `{id}`"))),
                        Some(&n) if n == i => {
                            Some((IssueKind::SelfReference, "a step cannot refer to its own output".into()))
                        }
                        Some(&n) if n > i => Some((
                            IssueKind::ForwardReference,
                            format!("step `{id}` (steps[{n}]) runs after this step"),
                        )),
                        Some(_) => None,
                    },
                    _ => None,
                };
                if let Some((kind, p)) = problem {
                    issues.push(PlanIssue::error(loc.clone(), kind, format!("{r}: {p}")));
                }
            }
        }
    }
}

fn check_condition(condition: &Condition, loc: &str, refs: &RefRules<'_>, issues: &mut Vec<PlanIssue>) {
    match condition {
        Condition::All(all) => {
            for (n, c) in all.all.iter().enumerate() {
                check_condition(c, &format!("{loc}.all[{n}]"), refs, issues);
            }
        }
        Condition::Any(any) => {
            for (n, c) in any.any.iter().enumerate() {
                check_condition(c, &format!("{loc}.any[{n}]"), refs, issues);
            }
        }
        Condition::Not(not) => check_condition(&not.not, &format!("{loc}.not"), refs, issues),
        Condition::Compare(c) => {
            refs.check(&c.left, &format!("{loc}.left"), issues);
            match &c.right {
                Some(right) => refs.check(right, &format!("{loc}.right"), issues),
                None if c.op.takes_right() => issues.push(PlanIssue::error(
                    format!("{loc}.right"),
                    IssueKind::Required,
                    format!("is required for `{}`", c.op.as_str()),
                )),
                None => {}
            }
            if c.op == CompareOp::Matches {
                match &c.right {
                    Some(Value::String(p)) if !p.contains("${") => {
                        if let Err(e) = condition::pattern(p) {
                            issues.push(PlanIssue::error(
                                format!("{loc}.right"),
                                IssueKind::BadCondition,
                                e.to_string(),
                            ));
                        }
                    }
                    Some(Value::String(_)) | None => {}
                    Some(_) => issues.push(PlanIssue::error(
                        format!("{loc}.right"),
                        IssueKind::BadCondition,
                        "`matches` takes a regular expression as text",
                    )),
                }
            }
        }
    }
}

/// Strings in params that are JSON but for a `${...}` written without quotes
/// (`{"text": ${steps.1.output}}`, the natural way to type it): sent as they are,
/// they would go out as text, not JSON. Each is an error with the quoted version
/// as its fix (a whole quoted reference keeps the value's JSON type).
fn check_unquoted_references(params: &Value, loc: &str, issues: &mut Vec<PlanIssue>) {
    fn walk(value: &Value, path: &mut String, loc: &str, issues: &mut Vec<PlanIssue>) {
        match value {
            Value::String(s) => {
                if let Some(fixed) = quote_bare_references(s) {
                    issues.push(
                        PlanIssue::error(
                            join_path(loc, path),
                            IssueKind::UnquotedReference,
                            "this is JSON with a reference outside quotes, so it would be sent as text: put the reference in quotes, e.g. \"${steps.0.output}\" (its value keeps its type)",
                        )
                        .with_fix(fixed),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(item, path, loc, issues);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    references::push_key(path, k);
                    walk(item, path, loc, issues);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    walk(params, &mut String::new(), loc, issues);
}

/// The JSON `text` means when its bare references are quoted; `None` unless `text`
/// looks like JSON, is not JSON as written, and is once they are quoted.
pub fn quote_bare_references(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) || !trimmed.contains("${") {
        return None;
    }
    if serde_json::from_str::<Value>(trimmed).is_ok() {
        return None;
    }
    let mut out = String::with_capacity(trimmed.len() + 8);
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = trimmed.char_indices().peekable();
    let mut quoted_any = false;
    while let Some((i, c)) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '$' && trimmed[i..].starts_with("${") {
            let end = trimmed[i..].find('}')? + i;
            out.push('"');
            out.push_str(&trimmed[i..=end]);
            out.push('"');
            quoted_any = true;
            while chars.peek().is_some_and(|(j, _)| *j <= end) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    if !quoted_any {
        return None;
    }
    serde_json::from_str(&out).ok()
}
