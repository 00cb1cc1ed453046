//! Plans and their version history. Every save (create, update, restore) adds a
//! row to `plan_versions`, so the history holds every version, the current one
//! included, and nothing is ever lost by saving. An update that changes nothing
//! is not a save, and neither is turning a plan on or off (its status changes in
//! the current version).

use super::{Result, Store, StoreError, extended_code, get_json, get_opt_run_status, get_opt_ts, get_ts, to_json, ts};
use chrono::{DateTime, Utc};
use flowpilot_engine::RunStatus;
use flowpilot_engine::plan::{PlanFile, PlanStatus, Trigger};
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

/// A stored plan: its current version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanRow {
    pub id: String,
    /// 1 for a new plan; each save adds one.
    pub version: u32,
    pub plan: PlanFile,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A plan as the plan list shows it, with its last run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanSummary {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: PlanStatus,
    pub trigger: Trigger,
    /// The trigger in words: "When an email with “invoice” arrives in INBOX of me@example.com".
    pub trigger_description: String,
    pub version: u32,
    pub step_count: usize,
    /// The plan file's tags (none: empty).
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_run_status: Option<RunStatus>,
    pub last_run_at: Option<DateTime<Utc>>,
}

/// One saved version of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PlanVersion {
    pub plan_id: String,
    pub version: u32,
    pub plan: PlanFile,
    pub saved_at: DateTime<Utc>,
}

const PLAN_COLUMNS: &str = "id, version, plan_json, created_at, updated_at";

fn plan_row(row: &Row<'_>) -> rusqlite::Result<PlanRow> {
    Ok(PlanRow {
        id: row.get(0)?,
        version: row.get(1)?,
        plan: get_json(row, 2)?,
        created_at: get_ts(row, 3)?,
        updated_at: get_ts(row, 4)?,
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound {
        what: "plan",
        id: id.to_string(),
    }
}

/// A unique-name violation becomes [`StoreError::NameTaken`].
fn name_taken(plan: &PlanFile) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |e| {
        if extended_code(&e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE) {
            StoreError::NameTaken {
                name: plan.name.clone(),
            }
        } else {
            e.into()
        }
    }
}

/// Write `plan` as version `version` of plan `id` (which must exist) and record it in the history.
fn save_version(tx: &Transaction<'_>, id: &str, plan: &PlanFile, version: u32, now: DateTime<Utc>) -> Result<()> {
    let plan_json = to_json("the plan", plan)?;
    let trigger_json = to_json("the plan's trigger", &plan.trigger)?;
    let now = ts(&now);
    tx.execute(
        "UPDATE plans SET name = ?2, description = ?3, original_prompt = ?4, status = ?5, plan_json = ?6,
                trigger_json = ?7, version = ?8, updated_at = ?9
         WHERE id = ?1",
        params![
            id,
            plan.name,
            plan.description,
            plan.original_prompt,
            plan.status.as_str(),
            plan_json,
            trigger_json,
            version,
            now
        ],
    )
    .map_err(name_taken(plan))?;
    tx.execute(
        "INSERT INTO plan_versions (plan_id, version, plan_json, saved_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, version, plan_json, now],
    )?;
    Ok(())
}

fn current_version(tx: &Transaction<'_>, id: &str) -> Result<u32> {
    tx.query_row("SELECT version FROM plans WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| not_found(id))
}

fn get_plan_in(tx: &Transaction<'_>, id: &str) -> Result<PlanRow> {
    tx.prepare_cached(&format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?1"))?
        .query_row([id], plan_row)
        .optional()?
        .ok_or_else(|| not_found(id))
}

/// Save a new version of plan `id` from `plan`: the current version plus one.
fn save_next(tx: &Transaction<'_>, id: &str, plan: &PlanFile, now: DateTime<Utc>) -> Result<PlanRow> {
    let version = current_version(tx, id)?.saturating_add(1);
    save_version(tx, id, plan, version, now)?;
    get_plan_in(tx, id)
}

impl Store {
    /// Store a new plan as version 1, under a new UUID. Plan names are unique
    /// (ASCII case-insensitively): a taken name is [`StoreError::NameTaken`].
    pub fn create_plan(&self, plan: &PlanFile, now: DateTime<Utc>) -> Result<PlanRow> {
        let id = uuid::Uuid::now_v7().to_string();
        self.write(|tx| {
            let plan_json = to_json("the plan", plan)?;
            let trigger_json = to_json("the plan's trigger", &plan.trigger)?;
            tx.execute(
                "INSERT INTO plans (id, name, description, original_prompt, status, plan_json, trigger_json,
                                    version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)",
                params![
                    id,
                    plan.name,
                    plan.description,
                    plan.original_prompt,
                    plan.status.as_str(),
                    plan_json,
                    trigger_json,
                    ts(&now)
                ],
            )
            .map_err(name_taken(plan))?;
            tx.execute(
                "INSERT INTO plan_versions (plan_id, version, plan_json, saved_at) VALUES (?1, 1, ?2, ?3)",
                params![id, plan_json, ts(&now)],
            )?;
            get_plan_in(tx, &id)
        })
    }

    /// Save `plan` as the next version of plan `id`; earlier versions stay in
    /// the history. If `plan` equals the current version, nothing is written
    /// and the current row is returned as it is (same version, same `updated_at`).
    pub fn update_plan(&self, id: &str, plan: &PlanFile, now: DateTime<Utc>) -> Result<PlanRow> {
        self.write(|tx| {
            let current = get_plan_in(tx, id)?;
            if current.plan == *plan {
                return Ok(current);
            }
            save_version(tx, id, plan, current.version.saturating_add(1), now)?;
            get_plan_in(tx, id)
        })
    }

    /// Turn plan `id` on or off: its status changes in the current version, in
    /// place. On/off is not an edit of the plan, so no new version is made.
    pub fn set_plan_status(&self, id: &str, status: PlanStatus, now: DateTime<Utc>) -> Result<PlanRow> {
        self.write(|tx| {
            let mut current = get_plan_in(tx, id)?;
            if current.plan.status == status {
                return Ok(current);
            }
            current.plan.status = status;
            let plan_json = to_json("the plan", &current.plan)?;
            tx.execute(
                "UPDATE plans SET status = ?2, plan_json = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, status.as_str(), plan_json, ts(&now)],
            )?;
            tx.execute(
                "UPDATE plan_versions SET plan_json = ?3 WHERE plan_id = ?1 AND version = ?2",
                params![id, current.version, plan_json],
            )?;
            get_plan_in(tx, id)
        })
    }

    pub fn get_plan(&self, id: &str) -> Result<PlanRow> {
        self.read(|tx| get_plan_in(tx, id))
    }

    /// The plan with this name (ASCII case-insensitively), if any.
    pub fn find_plan_by_name(&self, name: &str) -> Result<Option<PlanRow>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    &format!("SELECT {PLAN_COLUMNS} FROM plans WHERE name = ?1 COLLATE NOCASE"),
                    [name],
                    plan_row,
                )
                .optional()?)
        })
    }

    /// Every plan, by name, with the status and start time of its latest run.
    pub fn list_plans(&self) -> Result<Vec<PlanSummary>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT p.id, p.name, p.description, p.status, p.trigger_json, p.version,
                        json_array_length(p.plan_json, '$.steps'), p.created_at, p.updated_at,
                        last.status, last.started_at, COALESCE(json_extract(p.plan_json, '$.tags'), '[]')
                 FROM plans p
                 LEFT JOIN runs last ON last.id = (
                     SELECT r.id FROM runs r WHERE r.plan_id = p.id
                     ORDER BY r.started_at DESC, r.id DESC LIMIT 1)
                 ORDER BY p.name COLLATE NOCASE, p.id",
            )?;
            let rows = stmt.query_map([], |row| {
                let status: String = row.get(3)?;
                let trigger: Trigger = get_json(row, 4)?;
                Ok(PlanSummary {
                    trigger_description: trigger.describe(),
                    id: row.get(0)?,
                    name: row.get(1)?,
                    description: row.get(2)?,
                    status: serde_json::from_value(serde_json::Value::String(status))
                        .map_err(|e| super::conversion_error(3, e))?,
                    trigger,
                    version: row.get(5)?,
                    step_count: super::get_usize(row, 6)?,
                    created_at: get_ts(row, 7)?,
                    updated_at: get_ts(row, 8)?,
                    last_run_status: get_opt_run_status(row, 9)?,
                    last_run_at: get_opt_ts(row, 10)?,
                    tags: get_json(row, 11)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Delete a plan and its version history. Its runs stay, with `plan_id`
    /// cleared and their `plan_name` kept.
    pub fn delete_plan(&self, id: &str) -> Result<()> {
        self.write(|tx| match tx.execute("DELETE FROM plans WHERE id = ?1", [id])? {
            0 => Err(not_found(id)),
            _ => Ok(()),
        })
    }

    /// Every saved version of a plan, newest first.
    pub fn plan_versions(&self, id: &str) -> Result<Vec<PlanVersion>> {
        self.read(|tx| {
            current_version(tx, id)?;
            let mut stmt = tx.prepare(
                "SELECT plan_id, version, plan_json, saved_at FROM plan_versions
                 WHERE plan_id = ?1 ORDER BY version DESC",
            )?;
            let rows = stmt.query_map([id], |row| {
                Ok(PlanVersion {
                    plan_id: row.get(0)?,
                    version: row.get(1)?,
                    plan: get_json(row, 2)?,
                    saved_at: get_ts(row, 3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Make an earlier version current again. Restoring is a save: it adds a
    /// new version (a copy of `version`), so the versions after it stay too.
    pub fn restore_version(&self, id: &str, version: u32, now: DateTime<Utc>) -> Result<PlanRow> {
        self.write(|tx| {
            current_version(tx, id)?;
            let plan: PlanFile = tx
                .query_row(
                    "SELECT plan_json FROM plan_versions WHERE plan_id = ?1 AND version = ?2",
                    params![id, version],
                    |row| get_json(row, 0),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound {
                    what: "plan version",
                    id: format!("{id} v{version}"),
                })?;
            save_next(tx, id, &plan, now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use flowpilot_engine::plan::{CronTrigger, Trigger};
    use flowpilot_engine::{RunStatus, StepStatus};

    #[test]
    fn create_get_and_find() {
        let (_dir, store) = temp_store();
        let file = plan_file("Morning digest");
        let row = store.create_plan(&file, t(0)).unwrap();
        assert_eq!(row.version, 1);
        assert_eq!(row.plan, file);
        assert_eq!(row.created_at, t(0));
        assert!(uuid::Uuid::parse_str(&row.id).is_ok());

        assert_eq!(store.get_plan(&row.id).unwrap(), row);
        assert_eq!(store.find_plan_by_name("morning DIGEST").unwrap(), Some(row.clone()));
        assert_eq!(store.find_plan_by_name("Evening").unwrap(), None);
        assert!(matches!(
            store.get_plan("nope"),
            Err(StoreError::NotFound { what: "plan", .. })
        ));
    }

    #[test]
    fn names_are_unique() {
        let (_dir, store) = temp_store();
        store.create_plan(&plan_file("One"), t(0)).unwrap();
        let two = store.create_plan(&plan_file("Two"), t(0)).unwrap();
        assert!(matches!(
            store.create_plan(&plan_file("ONE"), t(1)),
            Err(StoreError::NameTaken { name }) if name == "ONE"
        ));
        // Renaming onto a taken name is refused too, and changes nothing.
        assert!(matches!(
            store.update_plan(&two.id, &plan_file("one"), t(2)),
            Err(StoreError::NameTaken { .. })
        ));
        assert_eq!(store.get_plan(&two.id).unwrap(), two);
        assert_eq!(store.plan_versions(&two.id).unwrap().len(), 1);
    }

    #[test]
    fn every_save_keeps_the_previous_version_and_restore_adds_one() {
        let (_dir, store) = temp_store();
        let v1 = plan_file("Report");
        let row = store.create_plan(&v1, t(0)).unwrap();

        let mut v2 = v1.clone();
        v2.description = Some("second".into());
        v2.trigger = Trigger::Cron(CronTrigger {
            cron_expression: "0 9 * * *".into(),
            timezone: Some("Europe/Berlin".into()),
            catch_up: Default::default(),
            overlap: Default::default(),
        });
        let row2 = store.update_plan(&row.id, &v2, t(10)).unwrap();
        assert_eq!(row2.version, 2);
        assert_eq!(row2.plan, v2);
        assert_eq!(row2.created_at, t(0));
        assert_eq!(row2.updated_at, t(10));

        let mut v3 = v2.clone();
        v3.name = "Report (renamed)".into();
        store.update_plan(&row.id, &v3, t(20)).unwrap();

        let versions = store.plan_versions(&row.id).unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(versions[2].plan, v1);
        assert_eq!(versions[1].plan, v2);
        assert_eq!(versions[0].plan, v3);
        assert_eq!(versions[1].saved_at, t(10));

        let restored = store.restore_version(&row.id, 1, t(30)).unwrap();
        assert_eq!(restored.version, 4);
        assert_eq!(restored.plan, v1);
        assert_eq!(restored.updated_at, t(30));
        assert_eq!(store.get_plan(&row.id).unwrap(), restored);
        // The name moved back, so the lookup follows it.
        assert_eq!(store.find_plan_by_name("Report").unwrap().unwrap().id, row.id);
        assert_eq!(store.find_plan_by_name("Report (renamed)").unwrap(), None);
        let versions = store.plan_versions(&row.id).unwrap();
        assert_eq!(versions.len(), 4);
        assert_eq!(versions[0].plan, v1);
        assert_eq!(
            versions[1].plan, v3,
            "restoring keeps the versions after the restored one"
        );

        assert!(matches!(
            store.restore_version(&row.id, 9, t(40)),
            Err(StoreError::NotFound {
                what: "plan version",
                ..
            })
        ));
        assert!(matches!(
            store.update_plan("missing", &v1, t(40)),
            Err(StoreError::NotFound { what: "plan", .. })
        ));
        assert!(matches!(
            store.plan_versions("missing"),
            Err(StoreError::NotFound { .. })
        ));
    }

    #[test]
    fn turning_a_plan_on_and_off_adds_no_version() {
        let (_dir, store) = temp_store();
        let row = store.create_plan(&plan_file("Toggle"), t(0)).unwrap();
        assert_eq!(row.plan.status, PlanStatus::Draft);

        let on = store.set_plan_status(&row.id, PlanStatus::Active, t(10)).unwrap();
        assert_eq!(
            (on.version, on.plan.status, on.updated_at),
            (1, PlanStatus::Active, t(10))
        );
        assert_eq!(store.get_plan(&row.id).unwrap(), on);
        let versions = store.plan_versions(&row.id).unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(
            versions[0].plan.status,
            PlanStatus::Active,
            "the history agrees with the plan"
        );
        assert_eq!(store.list_plans().unwrap()[0].status, PlanStatus::Active);

        let off = store.set_plan_status(&row.id, PlanStatus::Draft, t(20)).unwrap();
        assert_eq!((off.version, off.plan.status), (1, PlanStatus::Draft));
        // Already off: nothing is written.
        assert_eq!(store.set_plan_status(&row.id, PlanStatus::Draft, t(30)).unwrap(), off);
        assert!(matches!(
            store.set_plan_status("missing", PlanStatus::Active, t(40)),
            Err(StoreError::NotFound { what: "plan", .. })
        ));
    }

    #[test]
    fn an_update_that_changes_nothing_adds_no_version() {
        let (_dir, store) = temp_store();
        let file = plan_file("Same");
        let created = store.create_plan(&file, t(0)).unwrap();

        let same = store.update_plan(&created.id, &file, t(10)).unwrap();
        assert_eq!(same, created, "the current row, unchanged (updated_at included)");
        assert_eq!(store.get_plan(&created.id).unwrap(), created);
        assert_eq!(store.plan_versions(&created.id).unwrap().len(), 1);

        // A real change is a save; repeating it is not.
        let mut changed = file.clone();
        changed.status = PlanStatus::Active;
        let v2 = store.update_plan(&created.id, &changed, t(20)).unwrap();
        assert_eq!((v2.version, v2.updated_at), (2, t(20)));
        assert_eq!(store.update_plan(&created.id, &changed, t(30)).unwrap(), v2);
        // Going back to the first content is a change too.
        let v3 = store.update_plan(&created.id, &file, t(40)).unwrap();
        assert_eq!((v3.version, v3.plan.clone()), (3, file.clone()));
        assert_eq!(store.plan_versions(&created.id).unwrap().len(), 3);

        assert!(matches!(
            store.update_plan("missing", &file, t(50)),
            Err(StoreError::NotFound { what: "plan", .. })
        ));
    }

    #[test]
    fn list_shows_the_last_run() {
        let (_dir, store) = temp_store();
        let a = store.create_plan(&plan_file("Alpha"), t(0)).unwrap();
        let b = store.create_plan(&plan_file("beta"), t(0)).unwrap();
        for (id, start, status) in [
            ("r1", t(100), RunStatus::Success),
            ("r2", t(300), RunStatus::Failed),
            ("r3", t(200), RunStatus::Success),
        ] {
            store.create_run(&new_run(id, Some(&a.id), start)).unwrap();
            store
                .finish_run(&outcome(id, status, start, start + chrono::Duration::seconds(5)), None)
                .unwrap();
        }
        let plans = store.list_plans().unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].id, a.id);
        assert_eq!(plans[0].name, "Alpha");
        assert_eq!(plans[0].step_count, 1);
        assert_eq!(plans[0].last_run_status, Some(RunStatus::Failed));
        assert_eq!(plans[0].last_run_at, Some(t(300)));
        assert_eq!(plans[1].id, b.id);
        assert_eq!(plans[1].last_run_status, None);
        assert_eq!(plans[1].last_run_at, None);
        assert_eq!(plans[1].trigger, Trigger::Manual);
    }

    #[test]
    fn deleting_a_plan_keeps_its_runs() {
        let (_dir, store) = temp_store();
        let plan = store.create_plan(&plan_file("Doomed"), t(0)).unwrap();
        let mut second = plan_file("Doomed");
        second.description = None;
        assert_eq!(store.update_plan(&plan.id, &second, t(1)).unwrap().version, 2);
        store.create_run(&new_run("run-1", Some(&plan.id), t(10))).unwrap();
        store
            .append_step(&step("run-1", 0, "http", StepStatus::Success, 10, t(11)))
            .unwrap();
        store
            .finish_run(&outcome("run-1", RunStatus::Success, t(10), t(12)), None)
            .unwrap();

        store.delete_plan(&plan.id).unwrap();
        assert!(matches!(store.get_plan(&plan.id), Err(StoreError::NotFound { .. })));
        assert!(matches!(
            store.plan_versions(&plan.id),
            Err(StoreError::NotFound { .. })
        ));
        let versions_left: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM plan_versions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(versions_left, 0);

        let run = store.get_run("run-1").unwrap();
        assert_eq!(run.plan_id, None);
        assert_eq!(run.plan_name, "Test plan");
        assert_eq!(run.status, RunStatus::Success);
        assert_eq!(store.step_logs("run-1").unwrap().len(), 1);
        assert!(matches!(store.delete_plan(&plan.id), Err(StoreError::NotFound { .. })));
        // The name is free again.
        store.create_plan(&plan_file("Doomed"), t(20)).unwrap();
    }
}
