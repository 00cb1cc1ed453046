//! Drafting a plan from a sentence with a language model, and dry runs that
//! rehearse a plan without its side effects.

use super::{ErrorCode, Flowpilot, Result};
use crate::draft::{Draft, DraftError, DraftRequest};
use flowpilot_engine::plan::PlanFile;
use flowpilot_engine::run::{NoObserver, RunRequest};
use flowpilot_engine::{ErrorCode as StepCode, Plan, RunObserver, RunOutcome};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

impl Flowpilot {
    /// Draft a plan from a sentence with the LLM provider the request names (see
    /// [`crate::draft`]). Only that provider is asked; its API key is read from the
    /// keychain inside the provider and never sent anywhere but its Authorization
    /// header. A draft that does not validate is returned with its located issues
    /// (`valid: false`); an error means the provider could not be asked or answer.
    pub async fn draft_plan(&self, request: DraftRequest) -> Result<Draft> {
        self.draft_plan_with_cancel(request, CancellationToken::new()).await
    }

    /// [`Flowpilot::draft_plan`], stopped early when `cancel` fires (a slow model).
    pub async fn draft_plan_with_cancel(&self, request: DraftRequest, cancel: CancellationToken) -> Result<Draft> {
        let mut draft = crate::draft::draft(&self.executor, &request, cancel).await?;
        // Only a draft that validates can say what it needs (an invalid one may
        // not even name real providers); its problems come first.
        if let Ok(plan) = Plan::from_value(draft.plan.clone(), &self.registry()) {
            draft.missing_credentials = self.missing_credentials(&plan)?;
        }
        Ok(draft)
    }

    /// Rehearse a plan: steps with side effects (HTTP writes, webhooks) answer from
    /// a stub that records what they would have sent, without reading credentials;
    /// the others (GET requests, logic, LLM calls) run for real. Nothing is stored.
    pub async fn dry_run(&self, plan: PlanFile) -> Result<RunOutcome> {
        self.dry_run_observed(plan, Arc::new(NoObserver), CancellationToken::new())
            .await
    }

    /// [`Flowpilot::dry_run`] with live progress and cancellation (for the UI).
    pub async fn dry_run_observed(
        &self,
        plan: PlanFile,
        observer: Arc<dyn RunObserver>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome> {
        let plan = Plan::from_file(plan, &self.registry())?;
        let request = RunRequest {
            dry_run: true,
            ..RunRequest::new(
                format!("dry-run-{}", uuid::Uuid::now_v7()),
                plan,
                serde_json::json!({"type": "dry_run", "at": self.clock.now()}),
            )
        };
        Ok(self.executor.run(request, observer.as_ref(), cancel).await)
    }
}

/// The facade's codes are a closed set the app matches on, so drafting failures map
/// onto them: a keychain problem is one, everything else is something the person
/// can change (the provider, its address, model or key).
pub(super) fn error_code(e: &DraftError) -> ErrorCode {
    match e {
        DraftError::Provider {
            code: StepCode::KeychainUnavailable,
            ..
        } => ErrorCode::KeychainUnavailable,
        DraftError::Provider {
            code: StepCode::KeychainError,
            ..
        } => ErrorCode::Keychain,
        _ => ErrorCode::BadInput,
    }
}
