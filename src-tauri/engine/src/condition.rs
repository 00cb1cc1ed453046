//! Comparing values: the operators of `when` conditions and of `logic.assert` /
//! `logic.filter`. Values are compared as they are after references are
//! resolved; nothing is evaluated as code.
//!
//! The rules (also in the README):
//! - `eq` / `ne`: equal JSON values; numbers compare by value (`1` = `1.0`) and a
//!   numeric string equals its number (`"5"` = `5`); `null` equals only `null`.
//! - `gt` `ge` `lt` `le`: numbers (and numeric strings) by value, other strings as
//!   text (Unicode order); any other pair (null, lists, objects, a number and a
//!   word) is never greater or smaller: the comparison is false.
//! - `contains` / `not_contains`: text contains the right side as text; a list
//!   contains an item equal to it; an object contains it as a key; null contains nothing.
//! - `starts_with` / `ends_with`: as text; null never matches.
//! - `matches`: the right side is a regular expression (at most 1,000 characters,
//!   no look-around) searched in the left side as text; null never matches.
//! - `exists`: not null. `empty`: null, `""`, `[]` or `{}`. `not_empty`: the opposite.
//! - In a `when` condition a reference to a path that is not there counts as null.

use crate::plan::{CompareOp, Comparison, Condition};
use crate::references::{self, ResolveError, Scope};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest pattern `matches` takes.
pub const MAX_PATTERN_CHARS: usize = 1_000;

/// Why a comparison could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("`matches` needs a regular expression: {0}")]
    BadPattern(String),
    #[error("{0}")]
    Reference(String),
}

/// One comparison as it was made, for the log (values as compared).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared {
    pub left: Value,
    pub op: CompareOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<Value>,
    pub holds: bool,
}

/// Whether a condition holds, and every comparison made to tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub holds: bool,
    pub compared: Vec<Compared>,
}

/// Check a condition against what the run has so far (`all` and `any` stop at the
/// first comparison that decides them).
pub fn evaluate(condition: &Condition, scope: &Scope) -> Result<Verdict, ConditionError> {
    let mut compared = Vec::new();
    let holds = eval(condition, scope, &mut compared)?;
    Ok(Verdict { holds, compared })
}

fn eval(condition: &Condition, scope: &Scope, log: &mut Vec<Compared>) -> Result<bool, ConditionError> {
    Ok(match condition {
        Condition::All(all) => {
            for c in &all.all {
                if !eval(c, scope, log)? {
                    return Ok(false);
                }
            }
            true
        }
        Condition::Any(any) => {
            for c in &any.any {
                if eval(c, scope, log)? {
                    return Ok(true);
                }
            }
            false
        }
        Condition::Not(not) => !eval(&not.not, scope, log)?,
        Condition::Compare(Comparison { left, op, right }) => {
            let left = resolve_lenient(left, scope)?;
            let right = match right {
                Some(r) => Some(resolve_lenient(r, scope)?),
                None => None,
            };
            let holds = compare(&left, *op, right.as_ref().unwrap_or(&Value::Null))?;
            log.push(Compared {
                left,
                op: *op,
                right,
                holds,
            });
            holds
        }
    })
}

/// Resolve a side of a comparison; a whole reference to a missing path is null.
fn resolve_lenient(value: &Value, scope: &Scope) -> Result<Value, ConditionError> {
    if let Value::String(s) = value
        && let Ok(t) = references::parse(s)
        && let Some(r) = t.as_single_reference()
    {
        return match scope.lookup(r) {
            Ok(v) => Ok(v.into_owned()),
            Err(ResolveError::Missing { .. }) if !r.root.is_item() || scope.item.is_some() => Ok(Value::Null),
            Err(e) => Err(ConditionError::Reference(e.to_string())),
        };
    }
    references::resolve(value, scope).map_err(|(path, e)| {
        ConditionError::Reference(if path.is_empty() {
            e.to_string()
        } else {
            format!("{path}: {e}")
        })
    })
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
        _ => None,
    }
}

fn loosely_equal(a: &Value, b: &Value) -> bool {
    a == b || matches!((as_number(a), as_number(b)), (Some(x), Some(y)) if x == y)
}

fn ordering(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
            _ => None,
        },
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Compile a `matches` pattern within the size limits.
pub fn pattern(source: &str) -> Result<regex::Regex, ConditionError> {
    if source.chars().count() > MAX_PATTERN_CHARS {
        return Err(ConditionError::BadPattern(format!(
            "the pattern is longer than {MAX_PATTERN_CHARS} characters"
        )));
    }
    regex::RegexBuilder::new(source)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| ConditionError::BadPattern(e.to_string()))
}

/// `left op right` under the rules above.
pub fn compare(left: &Value, op: CompareOp, right: &Value) -> Result<bool, ConditionError> {
    let text = references::to_text;
    Ok(match op {
        CompareOp::Eq => loosely_equal(left, right),
        CompareOp::Ne => !loosely_equal(left, right),
        CompareOp::Gt => ordering(left, right).is_some_and(|o| o.is_gt()),
        CompareOp::Ge => ordering(left, right).is_some_and(|o| o.is_ge()),
        CompareOp::Lt => ordering(left, right).is_some_and(|o| o.is_lt()),
        CompareOp::Le => ordering(left, right).is_some_and(|o| o.is_le()),
        CompareOp::Contains | CompareOp::NotContains => {
            let contains = match left {
                Value::Null => false,
                Value::Array(items) => items.iter().any(|i| loosely_equal(i, right)),
                Value::Object(map) => map.contains_key(&text(right)),
                other => text(other).contains(&text(right)),
            };
            contains == (op == CompareOp::Contains)
        }
        CompareOp::StartsWith => !left.is_null() && text(left).starts_with(&text(right)),
        CompareOp::EndsWith => !left.is_null() && text(left).ends_with(&text(right)),
        CompareOp::Matches => {
            let Value::String(source) = right else {
                return Err(ConditionError::BadPattern("the right side is not text".into()));
            };
            let re = pattern(source)?;
            !left.is_null() && re.is_match(&text(left))
        }
        CompareOp::Exists => !left.is_null(),
        CompareOp::Empty => is_empty(left),
        CompareOp::NotEmpty => !is_empty(left),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(left: Value, op: CompareOp, right: Value) -> bool {
        compare(&left, op, &right).unwrap()
    }

    #[test]
    fn equality_is_by_value_with_numeric_strings() {
        use CompareOp::*;
        assert!(c(json!(1), Eq, json!(1.0)));
        assert!(c(json!("5"), Eq, json!(5)));
        assert!(c(json!(null), Eq, json!(null)));
        assert!(!c(json!(null), Eq, json!("")));
        assert!(!c(json!("a"), Eq, json!("A")));
        assert!(c(json!({"a": [1]}), Eq, json!({"a": [1]})));
        assert!(c(json!("x"), Ne, json!("y")));
    }

    #[test]
    fn ordering_is_numeric_or_textual_and_false_across_types() {
        use CompareOp::*;
        assert!(c(json!(10), Gt, json!(9)));
        assert!(c(json!("10"), Gt, json!("9")), "numeric strings compare as numbers");
        assert!(c(json!("b"), Gt, json!("a")));
        assert!(c(json!(2), Ge, json!(2)) && c(json!(2), Le, json!(2)));
        assert!(c(json!(1), Lt, json!(2)));
        for (l, r) in [
            (json!(null), json!(1)),
            (json!(5), json!("abc")),
            (json!([1]), json!([0])),
            (json!({}), json!(1)),
        ] {
            for op in [Gt, Ge, Lt, Le] {
                assert!(!c(l.clone(), op, r.clone()), "{l} {op:?} {r}");
            }
        }
    }

    #[test]
    fn containment_in_text_lists_and_objects() {
        use CompareOp::*;
        assert!(c(json!("major outage today"), Contains, json!("outage")));
        assert!(c(json!([1, 2, "3"]), Contains, json!(3)));
        assert!(c(json!({"k": 1}), Contains, json!("k")));
        assert!(!c(json!(null), Contains, json!("x")));
        assert!(c(json!(null), NotContains, json!("x")));
        assert!(c(json!("abc"), NotContains, json!("z")));
        assert!(c(json!("abc"), StartsWith, json!("ab")) && c(json!("abc"), EndsWith, json!("bc")));
        assert!(!c(json!(null), StartsWith, json!("")));
    }

    #[test]
    fn patterns_exists_and_emptiness() {
        use CompareOp::*;
        assert!(c(json!("order #123"), Matches, json!("#\\d+")));
        assert!(!c(json!(null), Matches, json!(".*")));
        assert!(compare(&json!("x"), Matches, &json!("(")).is_err());
        assert!(compare(&json!("x"), Matches, &json!("a".repeat(MAX_PATTERN_CHARS + 1))).is_err());
        assert!(c(json!(0), Exists, json!(null)) && !c(json!(null), Exists, json!(null)));
        for empty in [json!(null), json!(""), json!([]), json!({})] {
            assert!(c(empty.clone(), Empty, json!(null)) && !c(empty, NotEmpty, json!(null)));
        }
        assert!(c(json!(0), NotEmpty, json!(null)) && c(json!(false), NotEmpty, json!(null)));
    }

    #[test]
    fn all_any_not_and_missing_paths() {
        let mut scope = Scope::default();
        scope.push_step(
            Some("s".into()),
            json!({"output": {"n": 3, "text": "outage"}, "status": "success"}),
        );
        let cond: Condition = serde_json::from_value(json!({"all": [
            {"left": "${steps.s.output.n}", "op": "gt", "right": 2},
            {"any": [{"left": "${steps.s.output.text}", "op": "contains", "right": "outage"}, {"left": 1, "op": "eq", "right": 2}]},
            {"not": {"left": "${steps.s.output.missing}", "op": "exists"}}
        ]}))
        .unwrap();
        let verdict = evaluate(&cond, &scope).unwrap();
        assert!(verdict.holds);
        // `any` stopped at its first true comparison.
        assert_eq!(verdict.compared.len(), 3);
        assert_eq!(verdict.compared[2].left, Value::Null);
    }
}
