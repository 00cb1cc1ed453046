//! Errors as they cross IPC: `{code, message}`, plus the located problems of an
//! invalid plan so the UI can put each message on its field. The codes are the
//! facade's, so the UI branches on the same small set the CLI does.

use crate::dto::Issue;
use flowpilot_core::api::{ApiError, ErrorCode};
use flowpilot_core::draft::DraftError;
use serde::Serialize;
use specta::Type;

/// What the UI branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum IpcErrorCode {
    /// The plan has problems; `issues` locates each of them.
    InvalidPlan,
    NotFound,
    /// A name is taken, or a scheduled fire already has a run.
    Conflict,
    /// No usable OS keychain: credentials cannot be stored or read (the message says how to fix it).
    KeychainUnavailable,
    Keychain,
    BadInput,
    /// The database failed, or was written by a newer Flowpilot.
    Storage,
    Internal,
}

impl From<ErrorCode> for IpcErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidPlan => Self::InvalidPlan,
            ErrorCode::NotFound => Self::NotFound,
            ErrorCode::Conflict => Self::Conflict,
            ErrorCode::KeychainUnavailable => Self::KeychainUnavailable,
            ErrorCode::Keychain => Self::Keychain,
            ErrorCode::BadInput => Self::BadInput,
            ErrorCode::Storage => Self::Storage,
            ErrorCode::Internal => Self::Internal,
        }
    }
}

/// The error every command returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct IpcError {
    pub code: IpcErrorCode,
    pub message: String,
    /// Every problem with its location: an `invalid_plan`'s, or the fields of a
    /// drafting request that cannot be made (`bad_input`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(optional)]
    pub issues: Option<Vec<Issue>>,
}

impl IpcError {
    pub fn new(code: IpcErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            issues: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(IpcErrorCode::BadInput, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(IpcErrorCode::Internal, message)
    }
}

impl From<ApiError> for IpcError {
    fn from(e: ApiError) -> Self {
        let issues = match &e {
            ApiError::InvalidPlan(plan) => Some(plan.issues().into_iter().map(Issue::from).collect()),
            // A drafting request that cannot be made: located by field (`base_url`, `model`).
            ApiError::Draft(DraftError::BadRequest { issues, .. }) => {
                Some(issues.iter().cloned().map(Issue::from).collect())
            }
            _ => None,
        };
        Self {
            code: e.code().into(),
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
    use flowpilot_engine::{PlanError, PlanIssue};
    use serde_json::json;

    #[test]
    fn an_invalid_plan_crosses_ipc_with_its_located_issues() {
        let e: IpcError = ApiError::InvalidPlan(PlanError::Invalid(vec![
            PlanIssue {
                path: "steps[0].params.url".into(),
                message: "\"url\" is a required property".into(),
            },
            PlanIssue {
                path: "trigger.cron_expression".into(),
                message: "bad cron".into(),
            },
        ]))
        .into();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "code": "invalid_plan",
                "message": "the plan has 2 problems:\n  steps[0].params.url: \"url\" is a required property\n  trigger.cron_expression: bad cron",
                "issues": [
                    {"path": "steps[0].params.url", "message": "\"url\" is a required property"},
                    {"path": "trigger.cron_expression", "message": "bad cron"}
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
