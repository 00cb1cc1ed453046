//! Where a plan's steps send requests, read from the plan as written (nothing
//! is resolved or sent): the outbound hosts, the credentials each step carries
//! there, whether the step changes something there, and warnings for addresses
//! a shared plan should not reach silently (this machine, the local network,
//! link-local and cloud metadata addresses).

use super::checked::Plan;
use super::issue::{IssueKind, PlanIssue, join_path};
use crate::address::{TargetClass, classify};
use serde::{Deserialize, Serialize};

/// An address a step sends a request to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Destination {
    /// The step's position, from 0.
    pub step: usize,
    /// Where the address is written: `steps[1].params.url`, or `steps[1]` for a
    /// provider's own address the plan leaves out.
    pub path: String,
    /// The address as written (references unresolved), or the provider's own.
    pub url: String,
    /// `https://api.openai.com`, when the plan fixes it; `None` when a reference
    /// picks the host at run time.
    pub origin: Option<String>,
    pub host: Option<String>,
    /// Where the host is (`public` for one picked at run time).
    pub class: TargetClass,
    /// The credentials the step sends there, as `provider/field`.
    pub credentials: Vec<String>,
    /// Whether the step changes something there (a POST, a webhook).
    pub side_effects: bool,
}

impl Plan {
    /// Every address the plan's steps send requests to, step by step.
    pub fn destinations(&self) -> Vec<Destination> {
        let mut out = Vec::new();
        for (index, (spec, checked)) in self.each_step().enumerate() {
            let provider = &checked.provider;
            let mut credentials: Vec<String> = provider
                .credentials_needed(&spec.action, &spec.params)
                .into_iter()
                .chain(provider.optional_credentials().iter().map(|f| f.to_string()))
                .map(|field| format!("{}/{field}", provider.name()))
                .collect();
            credentials.dedup();
            let side_effects = provider.has_side_effects(&spec.action, &spec.params);
            for (param, url) in provider.destinations(&spec.action, &spec.params) {
                let at = format!("steps[{index}]");
                let path = if param.is_empty() {
                    at
                } else {
                    join_path(&at, &format!("params.{param}"))
                };
                let fixed = literal_origin(&url);
                out.push(Destination {
                    step: index,
                    path,
                    class: fixed.as_ref().map_or(TargetClass::Public, |(_, host)| classify(host)),
                    origin: fixed.as_ref().map(|(origin, _)| origin.clone()),
                    host: fixed.map(|(_, host)| host),
                    url,
                    credentials: credentials.clone(),
                    side_effects,
                });
            }
        }
        out
    }

    /// A located warning for every address a shared plan should not reach
    /// silently. Warnings, not errors: a server of one's own on this machine or
    /// the local network is a legitimate target.
    pub fn target_warnings(&self) -> Vec<PlanIssue> {
        self.destinations()
            .into_iter()
            .filter(|d| d.class.is_sensitive())
            .map(|d| {
                let host = d.host.as_deref().unwrap_or(&d.url);
                let message = match d.class {
                    TargetClass::Metadata | TargetClass::LinkLocal => format!(
                        "`{host}` is {}: a plan has no business reaching it; remove the step unless you wrote it yourself",
                        d.class.describe()
                    ),
                    _ => format!(
                        "`{host}` is {}: fine for a server of your own, but a plan from elsewhere should not reach it without you knowing",
                        d.class.describe()
                    ),
                };
                PlanIssue::warning(d.path, IssueKind::PrivateTarget, message)
            })
            .collect()
    }
}

/// The origin and host of an address, when the plan fixes them: the whole
/// address has no reference, or the first reference comes after the host
/// (`https://api.example.com/items/${...}`).
fn literal_origin(url: &str) -> Option<(String, String)> {
    let url = url.trim();
    let literal = match url.find("${") {
        None => url,
        Some(at) => {
            let prefix = &url[..at];
            let authority_start = prefix.find("://")? + 3;
            let authority_end = prefix[authority_start..].find(['/', '?', '#'])? + authority_start;
            &prefix[..authority_end]
        }
    };
    let parsed = reqwest::Url::parse(literal).ok()?;
    let host = parsed.host_str().filter(|h| !h.is_empty())?.to_string();
    Some((parsed.origin().ascii_serialization(), host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Severity;
    use crate::registry::Registry;
    use serde_json::json;

    fn plan(steps: serde_json::Value) -> Plan {
        let text = json!({"name": "targets", "steps": steps}).to_string();
        Plan::from_json(&text, &Registry::builtin()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn origins_are_read_only_where_the_plan_fixes_them() {
        assert_eq!(
            literal_origin("https://API.example.com:8443/items/${steps.0.output}?q=1"),
            Some(("https://api.example.com:8443".into(), "api.example.com".into()))
        );
        assert_eq!(
            literal_origin("http://[::ffff:169.254.169.254]/latest"),
            Some(("http://[::ffff:a9fe:a9fe]".into(), "[::ffff:a9fe:a9fe]".into()))
        );
        assert_eq!(literal_origin("${steps.0.output}/x"), None);
        assert_eq!(literal_origin("https://${steps.0.output}.example.com/"), None);
        assert_eq!(literal_origin("https://api.example.com${steps.0.output}"), None);
    }

    #[test]
    fn destinations_name_hosts_credentials_and_writes() {
        let p = plan(json!([
            {"provider": "openai", "action": "chat_completion", "params": {"prompt": "hi"}},
            {"provider": "openai", "action": "chat_completion",
             "params": {"prompt": "hi", "base_url": "https://collector.example.net"}},
            {"provider": "http", "action": "request",
             "params": {"url": "http://192.168.1.20/api", "method": "POST",
                        "auth": {"type": "bearer", "credential": "home_token"}}},
            {"provider": "webhook", "action": "post_request",
             "params": {"url": "${steps.0.output}", "payload": {}}},
            {"provider": "logic", "action": "set", "params": {"value": 1}}
        ]));
        let d = p.destinations();
        assert_eq!(d.len(), 4, "{d:#?}");
        assert_eq!(d[0].path, "steps[0]");
        assert_eq!(d[0].origin.as_deref(), Some("https://api.openai.com"));
        assert_eq!(d[0].credentials, ["openai/api_key"]);
        assert!(!d[0].side_effects);
        assert_eq!(d[1].path, "steps[1].params.base_url");
        assert_eq!(d[1].host.as_deref(), Some("collector.example.net"));
        assert_eq!(
            d[1].credentials,
            ["openai/api_key"],
            "the key goes wherever base_url says"
        );
        assert_eq!(d[2].class, TargetClass::Private);
        assert_eq!(d[2].credentials, ["http/home_token"]);
        assert!(d[2].side_effects);
        assert_eq!((d[3].origin.as_ref(), d[3].side_effects), (None, true));
    }

    #[test]
    fn sensitive_targets_are_located_warnings() {
        let p = plan(json!([
            {"provider": "http", "action": "request", "params": {"url": "http://[::ffff:169.254.169.254]/latest/meta-data/"}},
            {"provider": "http", "action": "request", "params": {"url": "http://metadata.google.internal/computeMetadata/v1/"}},
            {"provider": "openai_compatible", "action": "chat_completion",
             "params": {"prompt": "hi", "model": "m", "base_url": "http://localhost:11434"}},
            {"provider": "http", "action": "request", "params": {"url": "https://example.com/"}}
        ]));
        let warnings = p.target_warnings();
        let paths: Vec<&str> = warnings.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(
            paths,
            ["steps[0].params.url", "steps[1].params.url", "steps[2].params.base_url"]
        );
        assert!(
            warnings
                .iter()
                .all(|w| w.kind == IssueKind::PrivateTarget && w.severity == Severity::Warning)
        );
        assert!(warnings[0].message.contains("metadata"), "{}", warnings[0].message);
        assert!(warnings[2].message.contains("this computer"), "{}", warnings[2].message);
    }
}
