//! References inside params: `${steps.0.output}`, `${steps.draft.output.items[0].title}`,
//! `${plan.name}`, `${run.id}`, `${trigger.scheduled_for}`, and in a `for_each`
//! step `${item}`, `${item.title}`, `${item_index}`.
//!
//! Only path lookups exist here: nothing is evaluated, and a value that came out of a
//! reference is never scanned for references again (n8n's expression-injection bugs
//! are the cautionary tale). A string that is exactly one reference keeps the JSON
//! type of the value; inside a longer string the value is rendered as text, objects
//! and arrays as compact JSON. `$${` writes a literal `${`.

use serde_json::Value;
use std::fmt;
use std::sync::Arc;

mod encode;
pub use encode::TextKind;

/// Where a reference starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    Step(StepRef),
    Plan,
    Run,
    Trigger,
    /// The current item of a `for_each` step.
    Item,
    /// Its position, from 0.
    ItemIndex,
    /// An integration action's params (`${params.title}`): in definitions only.
    Params,
    /// A secret of an integration (`${secret.bot_token}`): in definitions only.
    Secret,
}

impl Root {
    /// Whether the root only exists inside a `for_each` step.
    pub fn is_item(&self) -> bool {
        matches!(self, Self::Item | Self::ItemIndex)
    }

    /// Whether the root exists only in integration definitions.
    pub fn is_definition_only(&self) -> bool {
        matches!(self, Self::Params | Self::Secret)
    }
}

/// A step named by position (`steps.0`) or by its `id` (`steps.draft`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRef {
    Index(usize),
    Id(String),
}

/// One step of a path below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// A parsed `${...}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub root: Root,
    pub path: Vec<PathSeg>,
}

/// The fields of a step result that a reference may start with.
pub const STEP_FIELDS: &[&str] = &["output", "message", "metadata", "success", "error", "status"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Ref(Reference),
}

/// A string split into literal text and references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed reference: `${{` at character {0} has no closing `}}`")]
    Unclosed(usize),
    #[error("bad reference `${{{text}}}`: {reason}")]
    BadReference { text: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Syntax(#[from] TemplateError),
    #[error("reference `{reference}`: {reason}")]
    Missing { reference: String, reason: String },
    /// A value that cannot go where the reference puts it (a line break into a
    /// URL or header, a path or host that would re-target a request).
    #[error("reference `{reference}`: {reason}")]
    Unsafe { reference: String, reason: String },
}

impl fmt::Display for PathSeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathSeg::Key(k) if is_plain_key(k) => write!(f, ".{k}"),
            PathSeg::Key(k) => write!(f, "[{}]", Value::String(k.clone())),
            PathSeg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("${")?;
        match &self.root {
            Root::Step(StepRef::Index(i)) => write!(f, "steps.{i}")?,
            Root::Step(StepRef::Id(id)) => write!(f, "steps.{id}")?,
            Root::Plan => f.write_str("plan")?,
            Root::Run => f.write_str("run")?,
            Root::Trigger => f.write_str("trigger")?,
            Root::Item => f.write_str("item")?,
            Root::ItemIndex => f.write_str("item_index")?,
            Root::Params => f.write_str("params")?,
            Root::Secret => f.write_str("secret")?,
        }
        for seg in &self.path {
            write!(f, "{seg}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => f.write_str(&t.replace("${", "$${"))?,
                Segment::Ref(r) => write!(f, "{r}")?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Step ids follow the same rule as plain keys, and may not be all digits
/// (that would read as an index).
pub fn is_valid_step_id(id: &str) -> bool {
    is_plain_key(id) && !id.chars().all(|c| c.is_ascii_digit())
}

impl Template {
    /// Whether this string holds any reference at all.
    pub fn has_references(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Segment::Ref(_)))
    }

    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Ref(r) => Some(r),
            Segment::Text(_) => None,
        })
    }

    /// The reference, if the string is exactly one reference and nothing else.
    pub fn as_single_reference(&self) -> Option<&Reference> {
        match self.segments.as_slice() {
            [Segment::Ref(r)] => Some(r),
            _ => None,
        }
    }
}

/// Split a string into text and references.
pub fn parse(input: &str) -> Result<Template, TemplateError> {
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut rest = input;
    let mut offset = 0;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos..];
        if after.starts_with("$${") {
            text.push_str(&rest[..pos]);
            text.push_str("${");
            rest = &rest[pos + 3..];
            offset += pos + 3;
        } else if after.starts_with("${") {
            text.push_str(&rest[..pos]);
            let body_start = pos + 2;
            let close = rest[body_start..]
                .find('}')
                .ok_or(TemplateError::Unclosed(offset + pos))?;
            let body = &rest[body_start..body_start + close];
            if !text.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut text)));
            }
            segments.push(Segment::Ref(parse_reference(body)?));
            rest = &rest[body_start + close + 1..];
            offset += body_start + close + 1;
        } else {
            text.push_str(&rest[..pos + 1]);
            rest = &rest[pos + 1..];
            offset += pos + 1;
        }
    }
    text.push_str(rest);
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
    Ok(Template { segments })
}

/// Parse the inside of `${...}`.
pub fn parse_reference(body: &str) -> Result<Reference, TemplateError> {
    let bad = |reason: &str| TemplateError::BadReference {
        text: body.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = body.trim();
    let mut path = parse_path(trimmed).map_err(|r| bad(&r))?;
    if path.is_empty() {
        return Err(bad("empty reference"));
    }
    let head = path.remove(0);
    let root = match head {
        PathSeg::Key(k) if k == "plan" => Root::Plan,
        PathSeg::Key(k) if k == "run" => Root::Run,
        PathSeg::Key(k) if k == "trigger" => Root::Trigger,
        PathSeg::Key(k) if k == "item" => Root::Item,
        PathSeg::Key(k) if k == "params" || k == "secret" => {
            if path.is_empty() {
                return Err(bad(&format!("name one: `{k}.<name>`")));
            }
            if k == "params" { Root::Params } else { Root::Secret }
        }
        PathSeg::Key(k) if k == "item_index" => {
            if !path.is_empty() {
                return Err(bad("`item_index` is a number: nothing comes after it"));
            }
            Root::ItemIndex
        }
        PathSeg::Key(k) if k == "steps" => {
            if path.is_empty() {
                return Err(bad("name a step: `steps.0` or `steps.<id>`"));
            }
            let step = match path.remove(0) {
                PathSeg::Index(i) => StepRef::Index(i),
                PathSeg::Key(k) => match k.parse::<usize>() {
                    Ok(i) if k.chars().all(|c| c.is_ascii_digit()) => StepRef::Index(i),
                    _ => StepRef::Id(k),
                },
            };
            match path.first() {
                Some(PathSeg::Key(field)) if STEP_FIELDS.contains(&field.as_str()) => {}
                Some(other) => {
                    return Err(bad(&format!(
                        "after the step comes one of {}, not `{}`",
                        STEP_FIELDS.join(", "),
                        other.to_string().trim_start_matches('.')
                    )));
                }
                None => {
                    return Err(bad(&format!(
                        "say which part of the step: one of {}",
                        STEP_FIELDS.join(", ")
                    )));
                }
            }
            Root::Step(step)
        }
        _ => {
            return Err(bad(
                "a reference starts with steps, plan, run, trigger, item or item_index (and in integration definitions params or secret)",
            ));
        }
    };
    Ok(Reference { root, path })
}

/// `a.b[0]["c d"].e` into segments.
fn parse_path(s: &str) -> Result<Vec<PathSeg>, String> {
    let mut segs = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut expect_key = true;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                if expect_key {
                    return Err(format!("unexpected `.` at {i}"));
                }
                expect_key = true;
                i += 1;
            }
            '[' => {
                let close = chars[i..].iter().position(|&c| c == ']').ok_or("unclosed `[`")? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                if let Ok(n) = inner.parse::<usize>() {
                    segs.push(PathSeg::Index(n));
                } else if inner.len() >= 2
                    && ((inner.starts_with('"') && inner.ends_with('"'))
                        || (inner.starts_with('\'') && inner.ends_with('\'')))
                {
                    segs.push(PathSeg::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    return Err(format!("`[{inner}]`: an index is a number, a key is quoted"));
                }
                expect_key = false;
                i = close + 1;
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => {
                if !expect_key {
                    return Err(format!("expected `.` or `[` before `{c}`"));
                }
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '-') {
                    i += 1;
                }
                segs.push(PathSeg::Key(chars[start..i].iter().collect()));
                expect_key = false;
            }
            c => return Err(format!("unexpected `{c}`")),
        }
    }
    if expect_key && !segs.is_empty() {
        return Err("path ends with `.`".into());
    }
    Ok(segs)
}

/// The metadata key that marks a step result a dry run answered from its stub
/// (the step has side effects, so it was not run).
pub const DRY_RUN_METADATA: &str = "dry_run";

/// The `status` a step result in a [`Scope`] has when its condition was false.
pub const SKIPPED: &str = "skipped";

/// What references resolve against.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Each finished step's result (`{success, output, message, metadata, error, status}`),
    /// with its id if it has one, in plan order.
    pub steps: Arc<Vec<(Option<String>, Value)>>,
    pub plan: Arc<Value>,
    pub run: Arc<Value>,
    pub trigger: Arc<Value>,
    /// The current item of a `for_each` step and its index.
    pub item: Option<(Value, usize)>,
    /// An integration action's params, in its definition's templates.
    pub params: Option<Arc<Value>>,
    /// An integration's secrets (`{name: value}`), in its definition's templates.
    pub secrets: Option<Arc<Value>>,
}

impl Scope {
    /// A scope for a run: no steps yet.
    pub fn new(plan: Value, run: Value, trigger: Value) -> Self {
        Self {
            steps: Arc::new(Vec::new()),
            plan: Arc::new(plan),
            run: Arc::new(run),
            trigger: Arc::new(trigger),
            item: None,
            params: None,
            secrets: None,
        }
    }

    /// The scope of an integration definition's templates: its action's params and its secrets.
    pub fn for_definition(params: Value, secrets: Value) -> Self {
        Self {
            params: Some(Arc::new(params)),
            secrets: Some(Arc::new(secrets)),
            ..Self::default()
        }
    }

    /// Add a finished step's result (`{success, output, ...}`).
    pub fn push_step(&mut self, id: Option<String>, result: Value) {
        Arc::make_mut(&mut self.steps).push((id, result));
    }

    /// The same scope for one item of a `for_each` step (cheap: nothing is copied but the item).
    pub fn with_item(&self, item: Value, index: usize) -> Self {
        Self {
            item: Some((item, index)),
            ..self.clone()
        }
    }
}

impl Scope {
    fn root(&self, root: &Root) -> Result<std::borrow::Cow<'_, Value>, String> {
        use std::borrow::Cow;
        let no_item = || "`item` only exists in a step with `for_each`".to_string();
        match root {
            Root::Plan => Ok(Cow::Borrowed(self.plan.as_ref())),
            Root::Run => Ok(Cow::Borrowed(self.run.as_ref())),
            Root::Trigger => Ok(Cow::Borrowed(self.trigger.as_ref())),
            Root::Item => self.item.as_ref().map(|(v, _)| Cow::Borrowed(v)).ok_or_else(no_item),
            Root::ItemIndex => self
                .item
                .as_ref()
                .map(|(_, i)| Cow::Owned(Value::from(*i)))
                .ok_or_else(no_item),
            Root::Params => self
                .params
                .as_deref()
                .map(Cow::Borrowed)
                .ok_or_else(|| "`params` exists only in integration definitions".to_string()),
            Root::Secret => self
                .secrets
                .as_deref()
                .map(Cow::Borrowed)
                .ok_or_else(|| "`secret` exists only in integration definitions".to_string()),
            Root::Step(StepRef::Index(i)) => self
                .steps
                .get(*i)
                .map(|(_, v)| Cow::Borrowed(v))
                .ok_or_else(|| format!("step {i} has no result (yet)")),
            Root::Step(StepRef::Id(id)) => self
                .steps
                .iter()
                .find(|(sid, _)| sid.as_deref() == Some(id.as_str()))
                .map(|(_, v)| Cow::Borrowed(v))
                .ok_or_else(|| format!("step `{id}` has no result (yet)")),
        }
    }

    /// Whether `root` is a step a dry run answered from its stub.
    fn is_stub(&self, root: &Root) -> bool {
        matches!(root, Root::Step(_))
            && self
                .root(root)
                .is_ok_and(|v| v["metadata"][DRY_RUN_METADATA] == Value::Bool(true))
    }

    /// A reference's value; for a path a dry run's stub cannot have (the id a
    /// POST would have returned), a stand-in naming the reference, so the steps
    /// after it can still be rehearsed and show where that value would go.
    fn value_of(&self, reference: &Reference) -> Result<std::borrow::Cow<'_, Value>, ResolveError> {
        match self.lookup(reference) {
            Ok(v) => Ok(v),
            Err(ResolveError::Missing { .. }) if self.is_stub(&reference.root) => Ok(std::borrow::Cow::Owned(
                Value::String(format!("⟨{reference}: not sent in this dry run⟩")),
            )),
            Err(e) => Err(e),
        }
    }

    /// Look a reference up. Never evaluates anything. A skipped step's output is
    /// null; a path into it names the skipped step.
    pub fn lookup(&self, reference: &Reference) -> Result<std::borrow::Cow<'_, Value>, ResolveError> {
        use std::borrow::Cow;
        let missing = |reason: String| ResolveError::Missing {
            reference: reference.to_string(),
            reason,
        };
        let root = self.root(&reference.root).map_err(missing)?;
        if let (Root::Step(step), true) = (&reference.root, reference.path.len() > 1)
            && root.get("status").and_then(Value::as_str) == Some(SKIPPED)
            && matches!(reference.path.first(), Some(PathSeg::Key(k)) if k == "output")
        {
            let name = match step {
                StepRef::Index(i) => format!("step {}", i + 1),
                StepRef::Id(id) => format!("step `{id}`"),
            };
            return Err(missing(format!(
                "{name} was skipped (its condition was false), so it has no output"
            )));
        }
        let root = match root {
            Cow::Borrowed(v) => v,
            Cow::Owned(v) => return walk(&v, reference, missing).map(|v| Cow::Owned(v.clone())),
        };
        walk(root, reference, missing).map(Cow::Borrowed)
    }
}

fn walk<'v>(
    mut value: &'v Value,
    reference: &Reference,
    missing: impl Fn(String) -> ResolveError,
) -> Result<&'v Value, ResolveError> {
    let mut walked = String::new();
    for seg in &reference.path {
        let next = match (seg, value) {
            (PathSeg::Key(k), Value::Object(map)) => map.get(k),
            (PathSeg::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        };
        walked.push_str(&seg.to_string());
        value = next.ok_or_else(|| {
            let found = match value {
                Value::Array(a) => format!("an array of {} items", a.len()),
                Value::Object(_) => "an object without that key".to_string(),
                Value::Null => "null".to_string(),
                Value::String(_) => "a string".to_string(),
                Value::Number(_) => "a number".to_string(),
                Value::Bool(_) => "a boolean".to_string(),
            };
            missing(format!(
                "path `{}` not found (found {found})",
                walked.trim_start_matches('.')
            ))
        })?;
    }
    Ok(value)
}

/// Render a value as it appears inside a longer string.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Resolve one string: a lone reference keeps its JSON type; otherwise text.
pub fn resolve_str(input: &str, scope: &Scope) -> Result<Value, ResolveError> {
    if !input.contains('$') {
        return Ok(Value::String(input.to_string()));
    }
    let template = parse(input)?;
    if let Some(r) = template.as_single_reference() {
        return Ok(scope.value_of(r)?.into_owned());
    }
    let mut out = String::with_capacity(input.len());
    for seg in &template.segments {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Ref(r) => out.push_str(&to_text(scope.value_of(r)?.as_ref())),
        }
    }
    Ok(Value::String(out))
}

/// Resolve one string used as `kind`: a URL's values are encoded for the part of
/// it they land in, a header's may not hold a line break (see [`TextKind`]).
pub fn resolve_str_as(input: &str, scope: &Scope, kind: TextKind) -> Result<Value, ResolveError> {
    if kind == TextKind::Plain || !input.contains('$') {
        return resolve_str(input, scope);
    }
    let template = parse(input)?;
    let value_of = |r: &Reference| scope.value_of(r);
    match kind {
        TextKind::Url => encode::render_url(&template, value_of),
        TextKind::Header => encode::render_header(&template, value_of),
        TextKind::Plain => resolve_str(input, scope),
    }
}

/// Resolve every string inside a JSON value (object keys are left alone).
/// Errors carry the path of the string inside `value` (`payload.body`).
pub fn resolve(value: &Value, scope: &Scope) -> Result<Value, (String, ResolveError)> {
    resolve_with(value, scope, &|_| TextKind::Plain)
}

/// [`resolve`], each string resolved as `kind_of` its path says (`url` is a URL,
/// `headers.Accept` a header: the provider knows its params).
pub fn resolve_with(
    value: &Value,
    scope: &Scope,
    kind_of: &dyn Fn(&str) -> TextKind,
) -> Result<Value, (String, ResolveError)> {
    fn walk(
        value: &Value,
        scope: &Scope,
        path: &mut String,
        kind_of: &dyn Fn(&str) -> TextKind,
    ) -> Result<Value, (String, ResolveError)> {
        match value {
            Value::String(s) => resolve_str_as(s, scope, kind_of(path)).map_err(|e| (path.clone(), e)),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let r = walk(v, scope, path, kind_of);
                    path.truncate(len);
                    r
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    let len = path.len();
                    push_key(path, k);
                    let r = walk(v, scope, path, kind_of);
                    path.truncate(len);
                    out.insert(k.clone(), r?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }
    walk(value, scope, &mut String::new(), kind_of)
}

/// Every string inside `value` that holds `${`, with its path and its parse result.
pub fn find_templates(value: &Value) -> Vec<(String, Result<Template, TemplateError>)> {
    fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, Result<Template, TemplateError>)>) {
        match value {
            Value::String(s) if s.contains("${") => {
                let parsed = parse(s);
                if parsed.as_ref().map(|t| t.has_references()).unwrap_or(true) {
                    out.push((path.clone(), parsed));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let len = path.len();
                    push_key(path, k);
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

/// Append `k` to a dotted path, quoting keys that are not plain.
pub fn push_key(path: &mut String, k: &str) {
    if is_plain_key(k) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
    } else {
        path.push_str(&format!("[{}]", Value::String(k.to_string())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut s = Scope::new(
            json!({"name": "Newsletter"}),
            json!({"id": "run-1"}),
            json!({"type": "manual"}),
        );
        s.push_step(
            None,
            json!({"success": true, "output": "Dear readers", "message": "ok", "metadata": {"usage": {"total_tokens": 42}}}),
        );
        s.push_step(
            Some("draft".into()),
            json!({"success": true, "output": {"items": [{"title": "First", "n": 1}], "weird key": true}, "message": "", "metadata": {}}),
        );
        s
    }

    #[test]
    fn lone_reference_keeps_json_type() {
        let s = scope();
        assert_eq!(resolve_str("${steps.draft.output.items[0].n}", &s).unwrap(), json!(1));
        assert_eq!(
            resolve_str("${steps.draft.output.items}", &s).unwrap(),
            json!([{"title": "First", "n": 1}])
        );
        assert_eq!(
            resolve_str("${steps.0.metadata.usage.total_tokens}", &s).unwrap(),
            json!(42)
        );
        assert_eq!(
            resolve_str("${ steps.1.output[\"weird key\"] }", &s).unwrap(),
            json!(true)
        );
    }

    #[test]
    fn references_inside_text_render_as_text() {
        let s = scope();
        assert_eq!(
            resolve_str("Hi ${plan.name} #${run.id}: ${steps.draft.output.items[0]}", &s).unwrap(),
            json!("Hi Newsletter #run-1: {\"n\":1,\"title\":\"First\"}")
        );
    }

    #[test]
    fn escape_writes_a_literal() {
        assert_eq!(
            resolve_str("cost: $${steps.0.output} and $5", &scope()).unwrap(),
            json!("cost: ${steps.0.output} and $5")
        );
    }

    #[test]
    fn resolved_values_are_never_expanded_again() {
        let mut s = scope();
        Arc::make_mut(&mut s.steps)[0].1["output"] = json!("${plan.name} $${x}");
        assert_eq!(
            resolve_str("${steps.0.output}", &s).unwrap(),
            json!("${plan.name} $${x}")
        );
        assert_eq!(
            resolve_str("say ${steps.0.output}", &s).unwrap(),
            json!("say ${plan.name} $${x}")
        );
    }

    #[test]
    fn a_missing_path_names_the_path() {
        let err = resolve_str("${steps.draft.output.items[3].title}", &scope()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("items[3]"), "{msg}");
        assert!(msg.contains("array of 1 items"), "{msg}");
    }

    #[test]
    fn resolve_reports_the_param_path() {
        let params = json!({"payload": {"to": "a@b", "body": "${steps.5.output}"}});
        let (path, _) = resolve(&params, &scope()).unwrap_err();
        assert_eq!(path, "payload.body");
    }

    #[test]
    fn items_resolve_inside_a_for_each_step_only() {
        let mut s = scope();
        assert!(resolve_str("${item.title}", &s).is_err());
        s.item = Some((json!({"title": "A"}), 3));
        assert_eq!(resolve_str("${item.title} #${item_index}", &s).unwrap(), json!("A #3"));
        assert_eq!(resolve_str("${item_index}", &s).unwrap(), json!(3));
        assert!(parse("${item_index.x}").is_err());
    }

    #[test]
    fn a_skipped_step_is_null_and_a_path_into_it_names_it() {
        let mut s = scope();
        Arc::make_mut(&mut s.steps)[1].1 =
            json!({"success": true, "output": null, "message": "skipped", "metadata": {}, "status": "skipped"});
        assert_eq!(resolve_str("${steps.draft.output}", &s).unwrap(), Value::Null);
        let err = resolve_str("${steps.draft.output.items}", &s).unwrap_err().to_string();
        assert!(err.contains("step `draft` was skipped"), "{err}");
    }

    #[test]
    fn bad_references_are_errors() {
        assert!(matches!(parse("${steps.0.output"), Err(TemplateError::Unclosed(0))));
        assert!(parse("${steps.0}").is_err());
        assert!(parse("${steps.0.outptu}").is_err());
        assert!(parse("${env.HOME}").is_err());
        assert!(parse("${steps.0.output..x}").is_err());
        assert!(parse("${}").is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "${steps.0.output}",
            "a ${steps.draft.output.items[0][\"x y\"]} b",
            "$${literal}",
            "${trigger.scheduled_for}",
        ] {
            let t = parse(s).unwrap();
            assert_eq!(parse(&t.to_string()).unwrap(), t, "{s}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s);
            let _ = resolve_str(&s, &scope());
        }

        #[test]
        fn parse_never_panics_on_reference_like_input(s in "[$a-z0-9{}.\\[\\]\"' _-]{0,40}") {
            if let Ok(t) = parse(&s) {
                prop_assert_eq!(parse(&t.to_string()).unwrap(), t);
            }
        }

        #[test]
        fn text_without_dollar_is_unchanged(s in "[^$]*") {
            prop_assert_eq!(resolve_str(&s, &scope()).unwrap(), Value::String(s.clone()));
        }

        #[test]
        fn built_references_round_trip(idx in 0usize..50, keys in proptest::collection::vec("[a-z_][a-z0-9_]{0,6}", 0..4), n in proptest::option::of(0usize..9)) {
            let mut path = vec![PathSeg::Key("output".into())];
            path.extend(keys.into_iter().map(PathSeg::Key));
            if let Some(n) = n { path.push(PathSeg::Index(n)); }
            let r = Reference { root: Root::Step(StepRef::Index(idx)), path };
            let t = parse(&r.to_string()).unwrap();
            prop_assert_eq!(t.as_single_reference(), Some(&r));
        }
    }
}
