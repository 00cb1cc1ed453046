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
mod syntax;
pub use encode::TextKind;
use syntax::is_plain_key;
pub use syntax::{is_valid_step_id, parse, parse_reference};

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
mod tests;
