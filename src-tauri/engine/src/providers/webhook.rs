//! `webhook`: POST a JSON payload to a URL (Slack, Discord, Zapier, n8n, your own
//! endpoint), in the seeds' `post_request` shape.

use super::net::{self, Scalar};
use crate::registry::{
    ActionSpec, Credentials, Provider, ProviderResult, StepContext, StepError, parse_params, schema_of,
};
use crate::request::Request;
use crate::step_error::ErrorCode;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

pub struct Webhook;

/// POST a JSON payload to a webhook URL.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct PostParams {
    /// The webhook's address, in full: `https://hooks.example.com/...`.
    url: String,
    /// The JSON to send, e.g. `{"text": "${steps.0.output}"}`.
    payload: Value,
    /// Extra request headers, as name → value.
    #[serde(default)]
    headers: BTreeMap<String, Scalar>,
}

fn check_post(params: &Value) -> Vec<(String, String)> {
    let mut issues = Vec::new();
    net::check_url_param(params, "url", &mut issues);
    net::check_headers_param(params, &mut issues);
    issues
}

#[async_trait]
impl Provider for Webhook {
    fn name(&self) -> &str {
        "webhook"
    }

    fn title(&self) -> String {
        "Webhook".into()
    }

    fn description(&self) -> String {
        "Send data to a webhook URL".into()
    }

    fn actions(&self) -> &[ActionSpec] {
        static ACTIONS: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
            vec![ActionSpec::new(
                "post_request",
                "POST a JSON payload to a URL",
                schema_of::<PostParams>(),
                true,
            )]
        });
        &ACTIONS
    }

    fn text_kind(&self, _action: &str, path: &str) -> crate::references::TextKind {
        net::url_and_headers(path, "url")
    }

    fn prepare(&self, action: &str, params: &Value) -> Vec<(String, String)> {
        match action {
            "post_request" => check_post(params),
            _ => Vec::new(),
        }
    }

    async fn run(
        &self,
        action: &str,
        params: Value,
        _credentials: &Credentials,
        ctx: &StepContext,
        cancel: CancellationToken,
    ) -> Result<ProviderResult, StepError> {
        if action != "post_request" {
            return Err(StepError::fatal(
                ErrorCode::UnknownAction,
                format!("webhook has no action `{action}`"),
            ));
        }
        let p: PostParams = parse_params(params)?;
        let url = net::parse_url("url", &p.url)?;
        let request = Request::post(url)
            .headers(net::header_map(&p.headers)?)
            .json(&p.payload)
            .side_effects(true)
            .idempotency_key(ctx.idempotency_key());
        let reply = request.send(&ctx.http, &cancel).await?;
        let message = format!("Status {}", reply.status.as_u16());
        let mut result = reply.into_result();
        result.message = message;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_and_url_are_required_and_documented() {
        let schema = schema_of::<PostParams>();
        assert_eq!(schema["required"], json!(["url", "payload"]));
        assert!(schema["properties"]["url"].get("description").is_some());
        assert!(schema["properties"]["payload"].get("description").is_some());
    }

    #[test]
    fn prepare_checks_literal_urls_only() {
        let issues = Webhook.prepare("post_request", &json!({"url": "hooks.slack.com/x", "payload": {}}));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].0, "url");
        let issues = Webhook.prepare("post_request", &json!({"url": "${steps.0.output}", "payload": {}}));
        assert!(issues.is_empty(), "{issues:?}");
    }
}
