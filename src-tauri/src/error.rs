//! Errors as they cross IPC: `{code, message}`, plus the located problems of an
//! invalid plan so the UI can put each message on its field. The codes are the
//! facade's [`ErrorCode`], so the UI branches on the same small set the CLI does.

use flowpilot_core::api::{ApiError, ErrorCode};
use flowpilot_core::draft::DraftError;
use flowpilot_engine::PlanIssue;
use serde::Serialize;
use specta::Type;

/// The error every command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
    /// Every problem with its location: an `invalid_plan`'s, or the fields of a
    /// drafting request that cannot be made (`bad_input`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(optional)]
    pub issues: Option<Vec<PlanIssue>>,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            issues: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadInput, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl From<ApiError> for IpcError {
    fn from(e: ApiError) -> Self {
        let issues = match &e {
            ApiError::InvalidPlan(plan) => Some(plan.issues()),
            ApiError::InvalidIntegration(issues) => Some(issues.clone()),
            // A drafting request that cannot be made: located by field (`base_url`, `model`).
            ApiError::Draft(DraftError::BadRequest { issues, .. }) => Some(issues.clone()),
            _ => None,
        };
        Self {
            code: e.code(),
            message: e.to_string(),
            issues,
        }
    }
}

impl From<tauri::Error> for IpcError {
    fn from(e: tauri::Error) -> Self {
        Self::internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowpilot_engine::PlanError;
    use flowpilot_engine::plan::IssueKind;
    use serde_json::json;

    #[test]
    fn an_invalid_plan_crosses_ipc_with_its_located_issues() {
        let e: IpcError = ApiError::InvalidPlan(PlanError::Invalid(vec![
            PlanIssue::error("steps[0].params.url", IssueKind::Required, "is required"),
            PlanIssue::error("trigger.cron_expression", IssueKind::BadCron, "bad cron"),
        ]))
        .into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "code": "invalid_plan",
                "message": "the plan has 2 problems:\n  steps[0].params.url: is required\n  trigger.cron_expression: bad cron",
                "issues": [
                    {"path": "steps[0].params.url", "kind": "required", "message": "is required", "severity": "error"},
                    {"path": "trigger.cron_expression", "kind": "bad_cron", "message": "bad cron", "severity": "error"}
                ]
            })
        );
    }

    #[test]
    fn other_errors_are_code_and_message_only() {
        let e: IpcError = ApiError::NotFound {
            what: "plan",
            key: "p1".into(),
        }
        .into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"code": "not_found", "message": "no plan `p1`"})
        );
        let e: IpcError = ApiError::BadInput("limit: too big".into()).into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"code": "bad_input", "message": "limit: too big"})
        );
    }
}
