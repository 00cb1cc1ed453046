//! Plans: checking, storing, versions, import and export.

use super::credentials::CredentialField;
use super::{ApiError, Flowpilot, Result, read_file};
use crate::store::{PlanRow, PlanSummary, PlanVersion, StoreError};
use flowpilot_engine::plan::{IssueKind, PlanFile, PlanStatus};
use flowpilot_engine::{Plan, PlanError, PlanIssue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// A plan ready to run, and the stored plan (and version) it came from (none for a file).
#[derive(Debug, Clone)]
pub struct ResolvedPlan {
    pub plan_id: Option<String>,
    pub version: Option<u32>,
    pub plan: Plan,
}

/// A stored plan with what the editor shows beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanDetail {
    pub plan: PlanRow,
    pub required_providers: Vec<String>,
    pub plain_english_steps: Vec<String>,
    /// Credentials the plan's steps need that are not set yet.
    pub missing_credentials: Vec<CredentialField>,
    /// What is valid but worth a second look (a schedule that never fires).
    pub warnings: Vec<PlanIssue>,
}

/// Plan text read as far as it goes: the document when its structure is sound,
/// and every problem (with the warnings of a valid plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanCheck {
    pub plan: Option<PlanFile>,
    pub issues: Vec<PlanIssue>,
}

/// A plan file as `flowpilot-cli check` reports it: valid or not, every problem
/// located, and the warnings of a valid plan (a schedule that never fires, a
/// target on this machine, the local network or a cloud metadata address).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FileCheck {
    pub valid: bool,
    pub name: Option<String>,
    pub steps: usize,
    pub issues: Vec<PlanIssue>,
}

impl Flowpilot {
    /// Validate plan JSON text.
    pub fn check_plan(&self, text: &str) -> Result<Plan, PlanError> {
        Plan::from_json(text, &self.registry())
    }

    /// Read plan text (the editor's raw JSON, a file) into a document with its problems.
    pub fn check_plan_text(&self, text: &str) -> PlanCheck {
        let value = match flowpilot_engine::plan::parse_text(text) {
            Ok(v) => v,
            Err(e) => {
                return PlanCheck {
                    plan: None,
                    issues: e.issues(),
                };
            }
        };
        match Plan::from_value(value.clone(), &self.registry()) {
            Ok(plan) => PlanCheck {
                issues: plan.warnings(),
                plan: Some(plan.into_file()),
            },
            Err(e) => PlanCheck {
                // The document, when only deeper checks failed (the editor can still show it).
                plan: serde_json::from_value::<PlanFile>(value).ok(),
                issues: e.issues(),
            },
        }
    }

    /// Check a plan file (read as an import reads it: at most the size limit plus
    /// one byte, a UTF-8 BOM allowed) with every warning a shared plan deserves.
    pub fn check_plan_file(&self, path: &Path) -> FileCheck {
        let checked = read_file(path).and_then(|text| Ok(self.check_plan(&text)?));
        match checked {
            Ok(plan) => {
                let mut issues = plan.warnings();
                issues.extend(plan.target_warnings());
                FileCheck {
                    valid: true,
                    name: Some(plan.name().to_string()),
                    steps: plan.steps().len(),
                    issues,
                }
            }
            Err(e) => FileCheck {
                valid: false,
                name: None,
                steps: 0,
                issues: match e {
                    ApiError::InvalidPlan(e) => e.issues(),
                    other => vec![PlanIssue::error(
                        "",
                        IssueKind::Syntax,
                        format!("cannot read the file: {other}"),
                    )],
                },
            },
        }
    }

    /// Every problem of a plan document, located, and the warnings of a valid one
    /// (empty: valid and nothing to say).
    pub fn validate_plan(&self, file: PlanFile) -> Vec<PlanIssue> {
        match Plan::from_file(file, &self.registry()) {
            Ok(plan) => plan.warnings(),
            Err(e) => e.issues(),
        }
    }

    /// Save validated plan text as a new version of `id`.
    pub fn update_plan(&self, id: &str, text: &str) -> Result<PlanRow> {
        let plan = self.check_plan(text)?;
        self.store_version(id, plan.file())
    }

    pub fn create_plan(&self, file: PlanFile) -> Result<PlanRow> {
        let plan = Plan::from_file(file, &self.registry())?;
        Ok(self.store.create_plan(plan.file(), self.clock.now())?)
    }

    /// Save a new version of a plan.
    pub fn save_plan(&self, id: &str, file: PlanFile) -> Result<PlanRow> {
        let plan = Plan::from_file(file, &self.registry())?;
        self.store_version(id, plan.file())
    }

    /// Store a checked plan as the next version of `id`. A plan turned on by it
    /// has its schedule start from now: fires while it was off are never caught up.
    pub(crate) fn store_version(&self, id: &str, file: &PlanFile) -> Result<PlanRow> {
        let before = self.store.get_plan(id)?.plan.status;
        let row = self.store.update_plan(id, file, self.clock.now())?;
        if before != PlanStatus::Active && row.plan.status == PlanStatus::Active {
            self.schedule_from_now(id)?;
        }
        self.saved(row)
    }

    /// After a save: a plan that is not active forgets where its event trigger
    /// was, so activating it again records a fresh baseline (what came while it
    /// was off starts nothing).
    pub(crate) fn saved(&self, row: PlanRow) -> Result<PlanRow> {
        if row.plan.status != PlanStatus::Active && row.plan.trigger.is_polling() {
            self.store.reset_trigger(&row.id)?;
        }
        Ok(row)
    }

    pub fn list_plans(&self) -> Result<Vec<PlanSummary>> {
        Ok(self.store.list_plans()?)
    }

    /// A stored plan by id.
    pub fn stored_plan(&self, id: &str) -> Result<PlanRow> {
        Ok(self.store.get_plan(id)?)
    }

    /// A stored plan by id, else by name.
    pub fn find_stored_plan(&self, key: &str) -> Result<PlanRow> {
        match self.store.get_plan(key) {
            Ok(row) => Ok(row),
            Err(StoreError::NotFound { .. }) => self.store.find_plan_by_name(key)?.ok_or_else(|| ApiError::NotFound {
                what: "plan",
                key: key.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub fn get_plan(&self, id: &str) -> Result<PlanDetail> {
        let row = self.store.get_plan(id)?;
        let (required_providers, plain_english_steps, missing_credentials, warnings) =
            match Plan::from_file(row.plan.clone(), &self.registry()) {
                Ok(plan) => (
                    plan.required_providers(),
                    plan.plain_english_steps(),
                    self.missing_credentials(&plan)?,
                    plan.warnings(),
                ),
                Err(e) => (Vec::new(), Vec::new(), Vec::new(), e.issues()),
            };
        Ok(PlanDetail {
            plan: row,
            required_providers,
            plain_english_steps,
            missing_credentials,
            warnings,
        })
    }

    pub fn plan_versions(&self, id: &str) -> Result<Vec<PlanVersion>> {
        Ok(self.store.plan_versions(id)?)
    }

    /// One saved version of a plan.
    pub fn plan_version(&self, id: &str, version: u32) -> Result<PlanVersion> {
        self.store
            .plan_versions(id)?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| ApiError::NotFound {
                what: "plan version",
                key: format!("{id} v{version}"),
            })
    }

    pub fn restore_plan_version(&self, id: &str, version: u32) -> Result<PlanRow> {
        let before = self.store.get_plan(id)?.plan.status;
        let row = self.store.restore_version(id, version, self.clock.now())?;
        if before != PlanStatus::Active && row.plan.status == PlanStatus::Active {
            self.schedule_from_now(id)?;
        }
        self.saved(row)
    }

    /// Turn a plan on (its trigger starts it) or off (it runs only when started by
    /// hand): the one on/off a person sees. Turning on also lifts a pause of its
    /// schedule and starts the schedule from now, so nothing missed while it was
    /// off is caught up. Not an edit: the current version changes in place.
    pub fn set_plan_on(&self, id: &str, on: bool) -> Result<PlanRow> {
        let before = self.store.get_plan(id)?;
        let now = self.clock.now();
        if !on {
            if before.plan.status != PlanStatus::Active {
                return Ok(before);
            }
            return self.saved(self.store.set_plan_status(id, PlanStatus::Draft, now)?);
        }
        // The registry may have changed since it was saved: only a plan that checks runs.
        Plan::from_file(before.plan.clone(), &self.registry())?;
        let row = self.store.set_plan_status(id, PlanStatus::Active, now)?;
        if let Some(mut state) = self.store.schedule_state(id)?
            && (before.plan.status != PlanStatus::Active || state.paused)
        {
            state.paused = false;
            state.last_fired_for = Some(now);
            state.consecutive_failures = 0;
            state.updated_at = now;
            self.store.save_schedule_state(&state)?;
        }
        Ok(row)
    }

    pub fn delete_plan(&self, id: &str) -> Result<()> {
        Ok(self.store.delete_plan(id)?)
    }

    /// Copy a plan under a new name ("Name (copy)", "Name (copy 2)"...), as a draft.
    pub fn duplicate_plan(&self, id: &str) -> Result<PlanRow> {
        let mut file = self.store.get_plan(id)?.plan;
        file.name = self.free_copy_name(&file.name)?;
        file.status = PlanStatus::Draft;
        Ok(self.store.create_plan(&file, self.clock.now())?)
    }

    /// Import plan text as a new plan beside the one of the same name: named
    /// "Name (copy)" ("Name (copy 2)"...), and off whatever the file says.
    pub fn import_plan_copy(&self, text: &str) -> Result<PlanRow> {
        let plan = self.check_plan(text)?;
        let mut file = plan.into_file();
        if self.store.find_plan_by_name(&file.name)?.is_some() {
            file.name = self.free_copy_name(&file.name)?;
        }
        file.status = PlanStatus::Draft;
        Ok(self.store.create_plan(&file, self.clock.now())?)
    }

    /// "Name (copy)", else "Name (copy 2)", "Name (copy 3)"...: the first no plan has.
    fn free_copy_name(&self, name: &str) -> Result<String> {
        let name = name.trim_end();
        let mut candidate = format!("{name} (copy)");
        let mut n = 2;
        while self.store.find_plan_by_name(&candidate)?.is_some() {
            candidate = format!("{name} (copy {n})");
            n += 1;
        }
        Ok(candidate)
    }

    /// The plan file to export: the stored plan with its derived fields. Plans hold
    /// no secret values (credentials are referenced by name only), so none can leak.
    pub fn export_plan(&self, id: &str) -> Result<Value> {
        let row = self.store.get_plan(id)?;
        let plan = Plan::from_file(row.plan, &self.registry())?;
        Ok(plan.to_export_json())
    }

    /// Write a stored plan to a file (export never contains secrets).
    pub fn export_plan_to(&self, id: &str, path: &Path) -> Result<()> {
        let value = self.export_plan(id)?;
        let text = serde_json::to_string_pretty(&value).map_err(|e| ApiError::Internal(e.to_string()))?;
        std::fs::write(path, text + "\n").map_err(|e| ApiError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// A plan to run: a plan file on disk, else a stored plan by id or name.
    pub fn resolve_plan(&self, key: &str) -> Result<ResolvedPlan> {
        let path = Path::new(key);
        if path.is_file() {
            let plan = self.check_plan(&read_file(path)?)?;
            return Ok(ResolvedPlan {
                plan_id: None,
                version: None,
                plan,
            });
        }
        if key.ends_with(".json") {
            return Err(ApiError::Io {
                path: path.to_path_buf(),
                message: "no such file".into(),
            });
        }
        self.resolved(self.find_stored_plan(key)?)
    }

    /// A stored plan by id, checked and ready to run.
    pub fn resolve_stored(&self, plan_id: &str) -> Result<ResolvedPlan> {
        self.resolved(self.store.get_plan(plan_id)?)
    }

    /// A stored plan, validated again (the registry may have changed since it was saved).
    fn resolved(&self, row: PlanRow) -> Result<ResolvedPlan> {
        let plan = Plan::from_file(row.plan, &self.registry())?;
        Ok(ResolvedPlan {
            plan_id: Some(row.id),
            version: Some(row.version),
            plan,
        })
    }
}

/// Validate `step` as the step that follows steps with these ids, so its
/// references may use them (by index or id) and nothing else. The earlier steps
/// stand in as no-op placeholders; only the problems of `step` itself are kept,
/// located as `steps[0]...` (the step alone).
pub(crate) fn check_step_after(
    step: &flowpilot_engine::plan::StepSpec,
    earlier: &[Option<String>],
    registry: &flowpilot_engine::Registry,
) -> Result<Plan> {
    use flowpilot_engine::plan::StepSpec;
    let mut steps: Vec<StepSpec> = earlier
        .iter()
        .map(|id| StepSpec {
            id: id.clone(),
            ..StepSpec::new("logic", "set", serde_json::json!({"value": null}))
        })
        .collect();
    steps.push(step.clone());
    let file = PlanFile {
        name: "step test".into(),
        original_prompt: None,
        description: None,
        tags: Vec::new(),
        steps,
        trigger: Default::default(),
        status: PlanStatus::Draft,
    };
    let issues = match Plan::from_file(file, registry) {
        Ok(plan) => return Ok(plan),
        Err(PlanError::Invalid(issues)) => issues,
        Err(other) => return Err(other.into()),
    };
    let at = format!("steps[{}]", earlier.len());
    let own: Vec<PlanIssue> = issues
        .into_iter()
        .filter_map(|i| {
            let rest = i.path.strip_prefix(&at)?;
            if !(rest.is_empty() || rest.starts_with(['.', '['])) {
                return None; // steps[10] when `at` is steps[1]
            }
            Some(PlanIssue {
                path: format!("steps[0]{rest}"),
                ..i
            })
        })
        .collect();
    if own.is_empty() {
        Err(PlanError::Invalid(vec![PlanIssue::error(
            "",
            IssueKind::InvalidParam,
            "the step cannot be checked on its own",
        )])
        .into())
    } else {
        Err(PlanError::Invalid(own).into())
    }
}
