//! The typed bindings the UI imports (`ui/src/bindings.ts`), generated from the
//! commands and events registered here. The file is committed; a test fails when
//! it no longer matches the Rust side. Regenerate it with
//! `UPDATE_BINDINGS=1 cargo test --workspace bindings` (which also rewrites the UI
//! tests' copy of the provider catalogue, ui/src/test/fixtures/providers.json, the
//! plan file's JSON Schema, ui/src/plan-schema.json, that the UI's fake backend
//! checks plans with, and the integration definition's, ui/src/integration-schema.json).

use crate::commands::{credentials, drafts, integrations, plans, runs, schedules, settings, system, triggers};
use crate::events::{
    CloseAsked, ItemProgress, Notice, OpenRun, RunFinished, RunStarted, ScheduleChanged, StepProgress, TriggerChanged,
    WebhookServerChanged,
};
use specta_typescript::Typescript;
use std::path::Path;
use tauri::Runtime;
use tauri_specta::{collect_commands, collect_events};

/// Where the bindings live, from this crate's folder.
pub const BINDINGS_FILE: &str = "../ui/src/bindings.ts";
/// Where the plan file's JSON Schema lives, from this crate's folder.
pub const PLAN_SCHEMA_FILE: &str = "../ui/src/plan-schema.json";
/// Where the integration definition's JSON Schema lives, from this crate's folder.
pub const INTEGRATION_SCHEMA_FILE: &str = "../ui/src/integration-schema.json";

/// The integration definition's JSON Schema as the UI gets it (generated from the one type).
pub fn integration_schema_text() -> String {
    let schema = flowpilot_engine::integration::definition_schema();
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

/// The plan file's JSON Schema as the UI gets it (generated from the one plan type).
pub fn plan_schema_text() -> String {
    let schema = flowpilot_engine::plan::plan_schema();
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

const HEADER: &str = "// Generated from src-tauri (src/bindings.rs): do not edit.\n\
// Regenerate with `UPDATE_BINDINGS=1 cargo test --workspace bindings`.";

/// Every command and event the UI may use. The app's invoke handler comes from this too.
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        // u64 counts, sizes and milliseconds, and the numbers inside serde_json::Value
        // (plan documents, schemas, step outputs), are JavaScript numbers at the IPC
        // boundary anyway; specta refuses 64-bit integers unless told. None of ours
        // comes near 2^53.
        .dangerously_cast_bigints_to_number()
        // One type per DTO, not separate serialize/deserialize shapes: the UI passes
        // every field, nulls included.
        .disable_serde_phases()
        .commands(collect_commands![
            system::health,
            system::providers,
            system::take_open_run,
            system::quit_app,
            system::tray_host,
            system::answer_close,
            plans::list_plans,
            plans::get_plan,
            plans::create_plan,
            plans::update_plan,
            plans::delete_plan,
            plans::duplicate_plan,
            plans::plan_versions,
            plans::restore_plan_version,
            plans::set_plan_on,
            plans::import_plan_copy,
            plans::validate_plan,
            plans::check_plan_text,
            plans::import_plan,
            plans::import_plan_text,
            plans::review_plan,
            plans::review_stored_plan,
            plans::activate_plan,
            plans::export_plan,
            runs::execute_plan,
            runs::replay_run,
            runs::execute_step,
            runs::cancel_run,
            runs::list_runs,
            runs::get_run,
            runs::stats,
            drafts::draft_plan,
            drafts::cancel_draft,
            drafts::dry_run_plan,
            drafts::cancel_dry_run,
            drafts::missing_credentials,
            credentials::list_credentials,
            credentials::set_credential,
            credentials::delete_credential,
            credentials::allow_credential_origin,
            credentials::disallow_credential_origin,
            integrations::list_integrations,
            integrations::get_integration,
            integrations::validate_integration,
            integrations::check_integration_text,
            integrations::save_integration,
            integrations::import_integration,
            integrations::export_integration,
            integrations::remove_integration,
            integrations::test_integration_action,
            integrations::start_oauth_connect,
            integrations::finish_oauth_connect,
            integrations::cancel_oauth_connect,
            schedules::list_schedules,
            schedules::get_schedule,
            schedules::set_schedule,
            schedules::pause_schedule,
            schedules::resume_schedule,
            schedules::pause_all_schedules,
            schedules::resume_all_schedules,
            schedules::preview_schedule,
            settings::get_settings,
            settings::set_settings,
            triggers::list_triggers,
            triggers::get_trigger,
            triggers::describe_trigger,
            triggers::check_trigger,
            triggers::fetch_trigger_sample,
            triggers::listen_for_test_event,
            triggers::stop_listening,
            triggers::regenerate_webhook_url,
            triggers::webhook_server,
            triggers::execute_step_with_trigger,
        ])
        .events(collect_events![
            RunStarted,
            StepProgress,
            ItemProgress,
            RunFinished,
            ScheduleChanged,
            Notice,
            OpenRun,
            TriggerChanged,
            WebhookServerChanged,
            CloseAsked
        ])
}

/// Write the TypeScript bindings to `path`.
pub fn export<R: Runtime>(builder: &tauri_specta::Builder<R>, path: &Path) -> Result<(), specta_typescript::Error> {
    builder.export(Typescript::default().header(HEADER), path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_schema_matches_the_committed_file() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(PLAN_SCHEMA_FILE);
        let fresh = plan_schema_text();
        if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::write(&committed, &fresh).unwrap();
            return;
        }
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            old == fresh,
            "{} is out of date with the plan type: regenerate it with \
             `UPDATE_BINDINGS=1 cargo test --workspace bindings` and commit it",
            committed.display()
        );
    }

    #[test]
    fn the_integration_schema_matches_the_committed_file() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(INTEGRATION_SCHEMA_FILE);
        let fresh = integration_schema_text();
        if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::write(&committed, &fresh).unwrap();
            return;
        }
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            old == fresh,
            "{} is out of date with the integration definition type: regenerate it with \
             `UPDATE_BINDINGS=1 cargo test --workspace bindings` and commit it",
            committed.display()
        );
    }

    #[test]
    fn bindings_match_the_committed_file() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_FILE);
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("bindings.ts");
        export(&builder::<tauri::test::MockRuntime>(), &fresh).unwrap();
        let fresh = std::fs::read_to_string(&fresh).unwrap();
        if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
            std::fs::write(&committed, &fresh).unwrap();
            return;
        }
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            old == fresh,
            "{} is out of date with the commands and events in src-tauri: regenerate it with \
             `UPDATE_BINDINGS=1 cargo test --workspace bindings` and commit it",
            committed.display()
        );
    }
}
