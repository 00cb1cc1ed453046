//! Reading reference syntax: a string into text and `${...}` references
//! ([`parse`]), the inside of one reference into its root and path
//! ([`parse_reference`]), and the key rules step ids follow.

use super::{PathSeg, Reference, Root, STEP_FIELDS, Segment, StepRef, Template, TemplateError};

pub(super) fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Step ids follow the same rule as plain keys, and may not be all digits
/// (that would read as an index).
pub fn is_valid_step_id(id: &str) -> bool {
    is_plain_key(id) && !id.chars().all(|c| c.is_ascii_digit())
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
