//! Importing a plan someone else wrote: it arrives not active (so not
//! scheduled), whatever its file says, and a review says what it would do once
//! activated — every host it contacts, which credential goes to which host,
//! which steps write, and the warnings — before the person activates it as a
//! deliberate act.

use super::{Flowpilot, Result, read_file};
use crate::store::PlanRow;
use flowpilot_engine::address::TargetClass;
use flowpilot_engine::plan::{PlanFile, PlanStatus, Trigger};
use flowpilot_engine::schedule::{Schedule, system_timezone};
use flowpilot_engine::{Plan, PlanIssue};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How an import stores a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Activation {
    /// Not active, whatever the file says (an `archived` plan stays archived):
    /// nothing runs or is scheduled until the person activates it.
    #[default]
    Review,
    /// Active as imported: `flowpilot-cli plans import --activate`, for one's own files.
    Activate,
}

/// What a plan would do once active, for the person to read before activating it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanReview {
    pub name: String,
    /// The status the document has: what a file asks for (an import stores a
    /// draft whatever it says), or a stored plan's status now.
    pub status: PlanStatus,
    /// The schedule in words ("At 09:00, every day"), for a cron trigger.
    pub schedule: Option<String>,
    /// Every host the plan contacts, in order of first use.
    pub hosts: Vec<HostReview>,
    /// Steps whose address comes from data at run time (a `${...}` reference
    /// before the host): the plan cannot say where they go.
    pub dynamic_targets: Vec<DynamicTarget>,
    /// Which credential goes to which host.
    pub credentials: Vec<CredentialUse>,
    /// The steps that change something outside Flowpilot.
    pub writes: Vec<StepWrite>,
    /// Warnings (a schedule that never fires; a target on this machine, the
    /// local network or a cloud metadata address), located.
    pub warnings: Vec<PlanIssue>,
}

/// A host the plan contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct HostReview {
    /// `https://api.openai.com`
    pub origin: String,
    pub host: String,
    pub class: TargetClass,
    /// The steps that contact it, from 0.
    pub steps: Vec<usize>,
    /// The credentials sent to it, as `provider/field`.
    pub credentials: Vec<String>,
    /// Whether a step changes something there.
    pub writes: bool,
}

/// A step whose address a reference decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DynamicTarget {
    pub step: usize,
    /// `steps[2].params.url`
    pub path: String,
    /// The address as written, e.g. `${steps.0.output.next}`.
    pub url: String,
    pub credentials: Vec<String>,
}

/// A credential and where the plan sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CredentialUse {
    pub provider: String,
    pub field: String,
    /// Whether it is set in the keychain (so it would really be sent).
    pub is_set: bool,
    /// The origins it goes to; a step whose address is decided at run time is
    /// listed as its `${...}` text.
    pub sent_to: Vec<String>,
}

/// A step that changes something outside Flowpilot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct StepWrite {
    pub step: usize,
    pub step_id: Option<String>,
    pub provider: String,
    pub action: String,
    /// The step in words ("2. Send a JSON POST to a webhook (webhook.post_request): https://…").
    pub summary: String,
    /// Where it writes: the origin, or the address as written when a reference decides it.
    pub target: Option<String>,
}

impl Flowpilot {
    /// Validate plan text and store it: a plan with the same name gets a new
    /// version. Unless `activation` says [`Activation::Activate`], the stored
    /// plan is not active (and so not scheduled), whatever the text says.
    pub fn import_plan(&self, text: &str, activation: Activation) -> Result<PlanRow> {
        let plan = self.check_plan(text)?;
        let mut file = plan.into_file();
        file.status = match (activation, file.status) {
            (Activation::Activate, _) => PlanStatus::Active,
            (Activation::Review, PlanStatus::Archived) => PlanStatus::Archived,
            (Activation::Review, _) => PlanStatus::Draft,
        };
        let now = self.clock.now();
        match self.store.find_plan_by_name(&file.name)? {
            Some(existing) => self.store_version(&existing.id, &file),
            None => self.saved(self.store.create_plan(&file, now)?),
        }
    }

    /// [`Flowpilot::import_plan`] of a file (at most the size limit is read).
    pub fn import_plan_file(&self, path: &Path, activation: Activation) -> Result<PlanRow> {
        let text = read_file(path)?;
        self.import_plan(&text, activation)
    }

    /// Make a stored plan active (a new version): its schedule, if it has one,
    /// starts from now, without backfilling.
    pub fn activate_plan(&self, id: &str) -> Result<PlanRow> {
        let mut file = self.store.get_plan(id)?.plan;
        file.status = PlanStatus::Active;
        let plan = Plan::from_file(file, &self.registry())?;
        self.store_version(id, plan.file())
    }

    /// What a plan document would do once active; an invalid one is refused with
    /// its problems.
    pub fn review_plan(&self, file: PlanFile) -> Result<PlanReview> {
        let plan = Plan::from_file(file, &self.registry())?;
        self.review(&plan)
    }

    /// [`Flowpilot::review_plan`] of plan text (a file's contents).
    pub fn review_plan_text(&self, text: &str) -> Result<PlanReview> {
        self.review(&self.check_plan(text)?)
    }

    /// [`Flowpilot::review_plan`] of a plan file (at most the size limit is read).
    pub fn review_plan_file(&self, path: &Path) -> Result<PlanReview> {
        self.review_plan_text(&read_file(path)?)
    }

    /// [`Flowpilot::review_plan`] of a stored plan (after an import, before activating it).
    pub fn review_stored_plan(&self, id: &str) -> Result<PlanReview> {
        self.review_plan(self.store.get_plan(id)?.plan)
    }

    fn review(&self, plan: &Plan) -> Result<PlanReview> {
        let set = self.store.list_credentials()?;
        let mut hosts: Vec<HostReview> = Vec::new();
        let mut dynamic_targets = Vec::new();
        let mut credentials: Vec<CredentialUse> = Vec::new();
        let mut writes: Vec<StepWrite> = Vec::new();
        let words = plan.plain_english_steps();
        for d in plan.destinations() {
            let place = d.origin.clone().unwrap_or_else(|| d.url.clone());
            match (&d.origin, &d.host) {
                (Some(origin), Some(host)) => {
                    let at = match hosts.iter().position(|h| &h.origin == origin) {
                        Some(at) => at,
                        None => {
                            hosts.push(HostReview {
                                origin: origin.clone(),
                                host: host.clone(),
                                class: d.class,
                                steps: Vec::new(),
                                credentials: Vec::new(),
                                writes: false,
                            });
                            hosts.len() - 1
                        }
                    };
                    let entry = &mut hosts[at];
                    push_new(&mut entry.steps, d.step);
                    for c in &d.credentials {
                        push_new(&mut entry.credentials, c.clone());
                    }
                    entry.writes |= d.side_effects;
                }
                _ => dynamic_targets.push(DynamicTarget {
                    step: d.step,
                    path: d.path.clone(),
                    url: d.url.clone(),
                    credentials: d.credentials.clone(),
                }),
            }
            for c in &d.credentials {
                let (provider, field) = c.split_once('/').unwrap_or((c.as_str(), ""));
                let at = match credentials
                    .iter()
                    .position(|u| u.provider == provider && u.field == field)
                {
                    Some(at) => at,
                    None => {
                        credentials.push(CredentialUse {
                            provider: provider.to_string(),
                            field: field.to_string(),
                            is_set: set.iter().any(|(p, f, _)| p == provider && f == field),
                            sent_to: Vec::new(),
                        });
                        credentials.len() - 1
                    }
                };
                push_new(&mut credentials[at].sent_to, place.clone());
            }
            if d.side_effects && !writes.iter().any(|w| w.step == d.step) {
                let spec = &plan.steps()[d.step];
                writes.push(StepWrite {
                    step: d.step,
                    step_id: spec.id.clone(),
                    provider: spec.provider.clone(),
                    action: spec.action.clone(),
                    summary: words.get(d.step).cloned().unwrap_or_default(),
                    target: Some(place),
                });
            }
        }
        // Steps that write without an address of their own (none of the built-in
        // ones today; an integration's action may).
        for (index, (spec, checked)) in plan.each_step().enumerate() {
            if checked.provider.has_side_effects(&spec.action, &spec.params) && !writes.iter().any(|w| w.step == index)
            {
                writes.push(StepWrite {
                    step: index,
                    step_id: spec.id.clone(),
                    provider: spec.provider.clone(),
                    action: spec.action.clone(),
                    summary: words.get(index).cloned().unwrap_or_default(),
                    target: None,
                });
            }
        }
        writes.sort_by_key(|w| w.step);
        let mut warnings = plan.warnings();
        warnings.extend(plan.target_warnings());
        Ok(PlanReview {
            name: plan.name().to_string(),
            status: plan.status(),
            schedule: match plan.trigger() {
                Trigger::Cron(cron) => Schedule::new(cron, system_timezone()).ok().map(|s| s.describe()),
                _ => None,
            },
            hosts,
            dynamic_targets,
            credentials,
            writes,
            warnings,
        })
    }
}

fn push_new<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
    }
}
