//! References inside URLs and headers. A value from a reference is data, and
//! data must not re-target a request: inside a URL it is percent-encoded as the
//! component it lands in (RFC 6570 simple expansion: everything but the
//! unreserved characters), so `x&admin=1/../../secret?y=2#frag` stays one path
//! segment or one query value. A string that is exactly one reference (a whole
//! URL from an earlier step) and a reference that starts the URL (a base URL)
//! stay as they are. A line break from a reference, in a URL or a header, is an
//! error: the URL parser would drop it silently, and a header would carry it into
//! the next line.

use super::{Reference, ResolveError, Root, Segment, Template, to_text};
use serde_json::Value;
use std::borrow::Cow;

/// How a string param is used, which decides how references are put into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextKind {
    /// Ordinary text (a body field, a prompt): values go in as they are.
    #[default]
    Plain,
    /// A URL: values are encoded for the component they land in.
    Url,
    /// A header value: values go in as they are, but never a line break.
    Header,
}

/// Where in a URL the text so far has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Nothing yet: a reference here is the start of the URL itself.
    Start,
    /// After `scheme://`, before the path: the host (and port).
    Authority,
    Path,
    Query,
    Fragment,
}

fn part(so_far: &str) -> Part {
    if so_far.is_empty() {
        Part::Start
    } else if so_far.contains('#') {
        Part::Fragment
    } else if so_far.contains('?') {
        Part::Query
    } else {
        match so_far.find("://") {
            Some(at) if !so_far[at + 3..].contains('/') => Part::Authority,
            _ => Part::Path,
        }
    }
}

fn refused(reference: &Reference, reason: &str) -> ResolveError {
    ResolveError::Unsafe {
        reference: reference.to_string(),
        reason: reason.to_string(),
    }
}

fn check_line_breaks(reference: &Reference, text: &str, what: &str) -> Result<(), ResolveError> {
    if text.contains(['\r', '\n']) {
        return Err(refused(
            reference,
            &format!("its value holds a line break, which cannot go into {what}"),
        ));
    }
    Ok(())
}

/// Everything but RFC 3986's unreserved characters, as `%XX`.
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Render a URL template: literal text as written, each reference's value
/// encoded for where it lands (see the module docs).
pub fn render_url<'s>(
    template: &Template,
    value_of: impl Fn(&Reference) -> Result<Cow<'s, Value>, ResolveError>,
) -> Result<Value, ResolveError> {
    if let Some(r) = template.as_single_reference() {
        let value = value_of(r)?.into_owned();
        check_line_breaks(r, &to_text(&value), "a URL")?;
        return Ok(value);
    }
    let mut out = String::new();
    let segments = &template.segments;
    for (i, segment) in segments.iter().enumerate() {
        let reference = match segment {
            Segment::Text(text) => {
                out.push_str(text);
                continue;
            }
            Segment::Ref(r) => r,
        };
        let text = to_text(value_of(reference)?.as_ref());
        check_line_breaks(reference, &text, "a URL")?;
        // An integration's own secret (a bot token in the path, a webhook URL that
        // is the secret) is the person's, not data: it goes in as it is.
        if reference.root == Root::Secret {
            out.push_str(&text);
            continue;
        }
        match part(&out) {
            Part::Start => out.push_str(&text),
            Part::Authority => {
                let host_like = text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~' | ':'));
                if !host_like {
                    return Err(refused(
                        reference,
                        "its value would change the address's host: only letters, digits, `.`, `-` and a port may go there",
                    ));
                }
                out.push_str(&text);
            }
            Part::Path => {
                let whole_segment = out.ends_with('/')
                    && match segments.get(i + 1) {
                        None => true,
                        Some(Segment::Text(next)) => next.starts_with(['/', '?', '#']),
                        Some(Segment::Ref(_)) => false,
                    };
                if whole_segment && (text == "." || text == "..") {
                    return Err(refused(
                        reference,
                        "its value is `.` or `..`, which would move the request to another path",
                    ));
                }
                out.push_str(&encode_component(&text));
            }
            Part::Query | Part::Fragment => out.push_str(&encode_component(&text)),
        }
    }
    Ok(Value::String(out))
}

/// Render a header value: as ordinary text, but a line break from a reference is an error.
pub fn render_header<'s>(
    template: &Template,
    value_of: impl Fn(&Reference) -> Result<Cow<'s, Value>, ResolveError>,
) -> Result<Value, ResolveError> {
    if let Some(r) = template.as_single_reference() {
        let value = value_of(r)?.into_owned();
        check_line_breaks(r, &to_text(&value), "a header")?;
        return Ok(value);
    }
    let mut out = String::new();
    for segment in &template.segments {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Ref(r) => {
                let text = to_text(value_of(r)?.as_ref());
                check_line_breaks(r, &text, "a header")?;
                out.push_str(&text);
            }
        }
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::{Scope, parse, resolve_str_as};
    use super::*;
    use serde_json::json;

    fn scope(value: Value) -> Scope {
        let mut s = Scope::new(json!({}), json!({}), json!({}));
        s.push_step(Some("v".into()), json!({"output": value}));
        s
    }

    fn url(template: &str, value: Value) -> Result<Value, ResolveError> {
        resolve_str_as(template, &scope(value), TextKind::Url)
    }

    #[test]
    fn a_value_in_a_path_segment_stays_one_segment() {
        let hostile = json!("x&admin=1/../../secret?y=2#frag");
        assert_eq!(
            url("https://api.test/api/items/${steps.v.output}", hostile.clone()).unwrap(),
            json!("https://api.test/api/items/x%26admin%3D1%2F..%2F..%2Fsecret%3Fy%3D2%23frag")
        );
        assert_eq!(
            url("https://api.test/items/${steps.v.output}.json?full=1", json!("a b")).unwrap(),
            json!("https://api.test/items/a%20b.json?full=1")
        );
    }

    #[test]
    fn a_value_in_the_query_or_fragment_stays_one_value() {
        assert_eq!(
            url(
                "https://api.test/search?q=${steps.v.output}&page=2",
                json!("a&admin=1#x+y")
            )
            .unwrap(),
            json!("https://api.test/search?q=a%26admin%3D1%23x%2By&page=2")
        );
        assert_eq!(
            url("https://api.test/#${steps.v.output}", json!("a b")).unwrap(),
            json!("https://api.test/#a%20b")
        );
    }

    #[test]
    fn a_whole_url_and_a_leading_base_stay_as_they_are() {
        let whole = json!("https://next.test/page?cursor=a%2Fb&x=1");
        assert_eq!(url("${steps.v.output}", whole.clone()).unwrap(), whole);
        assert_eq!(
            url("${steps.v.output}/items?x=1", json!("https://base.test/v1")).unwrap(),
            json!("https://base.test/v1/items?x=1")
        );
        // After a base that brought a query, a value is a query value.
        let mut s = scope(json!("https://base.test/v1?key=1"));
        s.push_step(Some("w".into()), json!({"output": "a&b"}));
        assert_eq!(
            resolve_str_as("${steps.v.output}&q=${steps.w.output}", &s, TextKind::Url).unwrap(),
            json!("https://base.test/v1?key=1&q=a%26b")
        );
    }

    #[test]
    fn values_that_would_retarget_or_smuggle_are_errors() {
        for (template, value) in [
            ("https://api.test/items/${steps.v.output}", json!("a\r\nHost: evil")),
            ("${steps.v.output}", json!("https://api.test/\nx")),
            ("https://api.test/items/${steps.v.output}/more", json!("..")),
            ("https://api.test/items/${steps.v.output}", json!(".")),
            ("https://${steps.v.output}/x", json!("evil.test/steal?")),
            ("https://api.${steps.v.output}.test/x", json!("eu@evil")),
        ] {
            let e = url(template, value.clone()).unwrap_err();
            assert!(matches!(e, ResolveError::Unsafe { .. }), "{template} {value}: {e}");
        }
        assert_eq!(
            url("http://127.0.0.1:${steps.v.output}/x", json!(8080)).unwrap(),
            json!("http://127.0.0.1:8080/x")
        );
        assert_eq!(
            url("https://api.test/items/${steps.v.output}", json!("..x")).unwrap(),
            json!("https://api.test/items/..x")
        );
    }

    #[test]
    fn headers_take_values_as_they_are_but_no_line_breaks() {
        let s = scope(json!("abc\r\nX-Injected: 1"));
        let e = resolve_str_as("Bearer ${steps.v.output}", &s, TextKind::Header).unwrap_err();
        assert!(e.to_string().contains("line break"), "{e}");
        let s = scope(json!("a/b?c"));
        assert_eq!(
            resolve_str_as("Bearer ${steps.v.output}", &s, TextKind::Header).unwrap(),
            json!("Bearer a/b?c")
        );
        // Plain text is untouched.
        assert!(parse("${steps.v.output}").is_ok());
        assert_eq!(
            resolve_str_as("a ${steps.v.output}", &scope(json!("x\ny")), TextKind::Plain).unwrap(),
            json!("a x\ny")
        );
    }
}
