//! The schema, as an append-only list of migrations. Never edit a released
//! migration: add a new one (schedules, for instance, will be migration 2).
//!
//! `auto_vacuum = INCREMENTAL` is not here: it must be set before the first
//! table exists *and* before the switch to WAL, so [`super::Store::open`] sets it
//! on a new file.

use rusqlite_migration::{M, Migrations};

const LIST: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE plans (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    original_prompt TEXT,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    plan_json       TEXT NOT NULL CHECK (json_valid(plan_json)),
    trigger_json    TEXT NOT NULL CHECK (json_valid(trigger_json)),
    version         INTEGER NOT NULL CHECK (version >= 1),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX plans_name ON plans (name COLLATE NOCASE);

CREATE TABLE plan_versions (
    plan_id   TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    version   INTEGER NOT NULL CHECK (version >= 1),
    plan_json TEXT NOT NULL CHECK (json_valid(plan_json)),
    saved_at  TEXT NOT NULL,
    PRIMARY KEY (plan_id, version)
) STRICT;

CREATE TABLE runs (
    id            TEXT PRIMARY KEY NOT NULL,
    plan_id       TEXT REFERENCES plans (id) ON DELETE SET NULL,
    plan_name     TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    scheduled_for TEXT,
    status        TEXT NOT NULL
                  CHECK (status IN ('running', 'success', 'failed', 'cancelled', 'interrupted')),
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    error         TEXT,
    CHECK ((status = 'running') = (finished_at IS NULL))
) STRICT;
-- One run per fire: a scheduler that fires twice gets a constraint error.
CREATE UNIQUE INDEX runs_plan_fire ON runs (plan_id, scheduled_for);
CREATE INDEX runs_started ON runs (started_at);
CREATE INDEX runs_plan_started ON runs (plan_id, started_at);
CREATE INDEX runs_status_started ON runs (status, started_at);

CREATE TABLE step_logs (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_number    INTEGER NOT NULL CHECK (step_number >= 0),
    step_id        TEXT,
    provider       TEXT NOT NULL,
    action         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('success', 'error', 'retrying', 'timeout', 'skipped')),
    attempt        INTEGER NOT NULL CHECK (attempt >= 0),
    message        TEXT NOT NULL,
    latency_ms     INTEGER NOT NULL CHECK (latency_ms >= 0),
    output_preview TEXT NOT NULL,
    output         TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    error          TEXT,
    timestamp      TEXT NOT NULL
) STRICT;
CREATE INDEX step_logs_run ON step_logs (run_id, id);
CREATE INDEX step_logs_time ON step_logs (timestamp);

-- Which credential fields are set, per provider; the values live in the OS keychain.
CREATE TABLE credential_fields (
    provider   TEXT NOT NULL,
    field      TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, field)
) STRICT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;
"#,
    ),
    M::up(super::schedules::MIGRATION_SQL),
    // Replays (a run that took over the results of another's first steps), the
    // plan version a run ran, and a for_each step's item rows.
    M::up(
        r#"
ALTER TABLE runs ADD COLUMN replay_of TEXT;
ALTER TABLE runs ADD COLUMN plan_version INTEGER;
CREATE INDEX runs_replay_of ON runs (replay_of) WHERE replay_of IS NOT NULL;
ALTER TABLE step_logs ADD COLUMN items TEXT;
"#,
    ),
    // What each step was given: its params with references resolved (redacted, capped).
    M::up("ALTER TABLE step_logs ADD COLUMN input TEXT;"),
    // Event triggers: cursors and status, seen ids, queued events, webhook tokens,
    // and the event stored with its run.
    M::up(super::triggers::MIGRATION_SQL),
    // The step a run is in the middle of: written when the step starts, cleared
    // when its row is written, so a crash leaves which step was in flight.
    M::up(
        r#"
ALTER TABLE runs ADD COLUMN in_flight TEXT CHECK (in_flight IS NULL OR json_valid(in_flight));
"#,
    ),
    // A step row may be `unknown`: a request with side effects whose outcome a
    // failure left open. SQLite cannot change a CHECK, so the table is rebuilt.
    M::up(
        r#"
CREATE TABLE step_logs_with_unknown (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_number    INTEGER NOT NULL CHECK (step_number >= 0),
    step_id        TEXT,
    provider       TEXT NOT NULL,
    action         TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('success', 'error', 'retrying', 'timeout', 'skipped', 'unknown')),
    attempt        INTEGER NOT NULL CHECK (attempt >= 0),
    message        TEXT NOT NULL,
    latency_ms     INTEGER NOT NULL CHECK (latency_ms >= 0),
    output_preview TEXT NOT NULL,
    output         TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    error          TEXT,
    timestamp      TEXT NOT NULL,
    items          TEXT,
    input          TEXT
) STRICT;
INSERT INTO step_logs_with_unknown
    (id, run_id, step_number, step_id, provider, action, status, attempt, message,
     latency_ms, output_preview, output, metadata, error, timestamp, items, input)
SELECT id, run_id, step_number, step_id, provider, action, status, attempt, message,
       latency_ms, output_preview, output, metadata, error, timestamp, items, input
FROM step_logs;
DROP TABLE step_logs;
ALTER TABLE step_logs_with_unknown RENAME TO step_logs;
CREATE INDEX step_logs_run ON step_logs (run_id, id);
CREATE INDEX step_logs_time ON step_logs (timestamp);
"#,
    ),
    // Origins a credential may be sent to besides its provider's own (for one
    // whose host the person chooses, the only ones once any is listed).
    M::up(
        r#"
CREATE TABLE credential_origins (
    provider   TEXT NOT NULL,
    field      TEXT NOT NULL,
    origin     TEXT NOT NULL,
    allowed_at TEXT NOT NULL,
    PRIMARY KEY (provider, field, origin)
) STRICT;
"#,
    ),
    // The person's own integration definitions, and integrations' OAuth connections.
    M::up(
        r#"
CREATE TABLE integrations (
    name       TEXT PRIMARY KEY NOT NULL,
    definition TEXT NOT NULL CHECK (json_valid(definition)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE TABLE integration_connections (
    name       TEXT PRIMARY KEY NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('connected', 'needs_reconnecting')),
    detail     TEXT,
    updated_at TEXT NOT NULL
) STRICT;
"#,
    ),
    // Smaller step rows (issue 12): a step row names its run by a number
    // (`runs.seq`), not the run's text id, so its index by run is small too;
    // no index by time (the Dashboard reaches step rows through the runs of
    // its window); the output's preview is NULL when it is just the output's
    // beginning (made again when read); a finished run no longer names the
    // store that ran it (only a running run's owner matters). (A table kept
    // in its runs' order by itself, WITHOUT ROWID, was no smaller and took
    // 20 MiB more memory to write a 10 MB output.)
    M::up(
        r#"
ALTER TABLE runs ADD COLUMN seq INTEGER;
UPDATE runs SET seq = rowid;
CREATE UNIQUE INDEX runs_seq ON runs (seq);
UPDATE runs SET owner = NULL WHERE status <> 'running';
CREATE TABLE step_logs_by_run (
    id             INTEGER PRIMARY KEY,
    run            INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    step_number    INTEGER NOT NULL CHECK (step_number >= 0),
    step_id        TEXT,
    provider       TEXT NOT NULL,
    action         TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('success', 'error', 'retrying', 'timeout', 'skipped', 'unknown')),
    attempt        INTEGER NOT NULL CHECK (attempt >= 0),
    message        TEXT NOT NULL,
    latency_ms     INTEGER NOT NULL CHECK (latency_ms >= 0),
    output_preview TEXT,
    output         TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    error          TEXT,
    timestamp      TEXT NOT NULL,
    items          TEXT,
    input          TEXT
) STRICT;
INSERT INTO step_logs_by_run
    (run, id, step_number, step_id, provider, action, status, attempt, message,
     latency_ms, output_preview, output, metadata, error, timestamp, items, input)
SELECT r.seq, s.id, s.step_number, s.step_id, s.provider, s.action, s.status, s.attempt, s.message, s.latency_ms,
       CASE
           WHEN s.output IS NULL AND s.output_preview = '' THEN NULL
           WHEN s.output IS NOT NULL AND json_valid(s.output) AND json_type(s.output) = 'text'
                AND length(s.output_preview) < 500 AND s.output_preview = json_extract(s.output, '$') THEN NULL
           WHEN s.output IS NOT NULL AND json_valid(s.output) AND json_type(s.output) <> 'text'
                AND length(s.output) < 500 AND s.output_preview = s.output THEN NULL
           ELSE s.output_preview
       END,
       s.output, s.metadata, s.error, s.timestamp, s.items, s.input
FROM step_logs s JOIN runs r ON r.id = s.run_id;
DROP TABLE step_logs;
ALTER TABLE step_logs_by_run RENAME TO step_logs;
CREATE INDEX step_logs_run ON step_logs (run, id);
"#,
    ),
    // Smaller step rows, again (issue 12): a step's time is an integer of
    // Unix milliseconds (`at_ms`, 6 bytes) instead of 24 characters of RFC
    // 3339 text (step rows are the store's one high-volume table; runs keep
    // their text times), and metadata is NULL when it is empty (`{}`). A
    // run's fire key is indexed only for runs that have one (a fire's
    // uniqueness is the same: NULLs never collide).
    M::up(
        r#"
CREATE TABLE step_logs_ms (
    id             INTEGER PRIMARY KEY,
    run            INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    step_number    INTEGER NOT NULL CHECK (step_number >= 0),
    step_id        TEXT,
    provider       TEXT NOT NULL,
    action         TEXT NOT NULL,
    status         TEXT NOT NULL
                   CHECK (status IN ('success', 'error', 'retrying', 'timeout', 'skipped', 'unknown')),
    attempt        INTEGER NOT NULL CHECK (attempt >= 0),
    message        TEXT NOT NULL,
    latency_ms     INTEGER NOT NULL CHECK (latency_ms >= 0),
    output_preview TEXT,
    output         TEXT,
    metadata       TEXT,
    error          TEXT,
    at_ms          INTEGER NOT NULL,
    items          TEXT,
    input          TEXT
) STRICT;
INSERT INTO step_logs_ms
    (id, run, step_number, step_id, provider, action, status, attempt, message,
     latency_ms, output_preview, output, metadata, error, at_ms, items, input)
SELECT id, run, step_number, step_id, provider, action, status, attempt, message,
       latency_ms, output_preview, output, NULLIF(metadata, '{}'), error,
       CAST(round(unixepoch(timestamp, 'subsec') * 1000) AS INTEGER), items, input
FROM step_logs;
DROP TABLE step_logs;
ALTER TABLE step_logs_ms RENAME TO step_logs;
CREATE INDEX step_logs_run ON step_logs (run, id);
DROP INDEX runs_plan_fire;
CREATE UNIQUE INDEX runs_plan_fire ON runs (plan_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
"#,
    ),
    // The Dashboard's figures by the hour, kept by triggers (issue 12: the last
    // 30 days read every step row of the window).
    M::up(super::stats_hours::MIGRATION_SQL),
    // A run's trigger event in a table of its own (issue 12). Every step
    // updates its run's row (the step in flight, set and cleared), and SQLite
    // writes a row whole when it changes size: an event kept in the row (up
    // to 16 MiB) went to the WAL again twice a step.
    M::up(
        r#"
CREATE TABLE run_events (
    run   INTEGER PRIMARY KEY REFERENCES runs (seq) ON DELETE CASCADE,
    event TEXT NOT NULL
) STRICT;
INSERT INTO run_events (run, event) SELECT seq, trigger_event FROM runs WHERE trigger_event IS NOT NULL;
ALTER TABLE runs DROP COLUMN trigger_event;
"#,
    ),
];

/// Every migration, oldest first.
pub(crate) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(LIST);

/// The schema version this code writes (`PRAGMA user_version` after migrating).
pub const SCHEMA_VERSION: usize = LIST.len();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use crate::store::{Store, StoreError};

    /// One number from a fresh, fully migrated store.
    fn count(sql: &str) -> i64 {
        let (_dir, store) = temp_store();
        let conn = store.lock();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn migrations_validate() {
        MIGRATIONS.validate().unwrap();
    }

    #[test]
    fn migration_2_adds_schedules_and_run_owners() {
        const { assert!(SCHEMA_VERSION >= 2) };
        let owner_columns = count(
            "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'owner' AND type = 'TEXT' AND \"notnull\" = 0",
        );
        assert_eq!(owner_columns, 1);
        let tables =
            count("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('schedules', 'missed_fires')");
        assert_eq!(tables, 2);
    }

    #[test]
    fn migration_3_adds_replays_plan_versions_and_items() {
        let columns = count(
            "SELECT (SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name IN ('replay_of', 'plan_version'))
                      + (SELECT COUNT(*) FROM pragma_table_info('step_logs') WHERE name = 'items')",
        );
        assert_eq!(columns, 3);
    }

    #[test]
    fn the_trigger_migration_adds_its_tables_and_the_runs_event() {
        let found = count(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'
               AND name IN ('trigger_state', 'trigger_seen', 'trigger_events', 'webhook_tokens', 'run_events')",
        );
        assert_eq!(found, 5);
        let in_the_row = count("SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'trigger_event'");
        assert_eq!(in_the_row, 0, "a run's event has a table of its own");
    }

    #[test]
    fn a_runs_event_moves_to_its_own_table_and_goes_with_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, SCHEMA_VERSION - 1).unwrap();
            conn.execute_batch(
                r#"INSERT INTO runs (seq, id, plan_name, trigger_kind, status, started_at, finished_at, trigger_event)
                     VALUES (1, 'r1', 'p', 'webhook', 'success', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z',
                             '{"body":{"n":1}}'),
                            (2, 'r2', 'p', 'cli', 'success', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:03.000Z', NULL);"#,
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.run_trigger_event("r1").unwrap(),
            Some(serde_json::json!({"body": {"n": 1}}))
        );
        assert_eq!(store.run_trigger_event("r2").unwrap(), None);
        assert!(matches!(
            store.run_trigger_event("r3"),
            Err(StoreError::NotFound { .. })
        ));
        store.lock().execute("DELETE FROM runs WHERE id = 'r1'", []).unwrap();
        let events: i64 = store
            .lock()
            .query_row("SELECT COUNT(*) FROM run_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0, "deleted with its run");
    }

    #[test]
    fn the_integration_migrations_add_origins_integrations_and_connections() {
        let found = count(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'
               AND name IN ('credential_origins', 'integrations', 'integration_connections')",
        );
        assert_eq!(found, 3);
    }

    #[test]
    fn migration_6_adds_the_step_in_flight() {
        let columns = count("SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'in_flight'");
        assert_eq!(columns, 1);
    }

    #[test]
    fn migration_7_keeps_step_rows_and_allows_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 6).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (id, plan_name, trigger_kind, status, started_at, finished_at)
                     VALUES ('r1', 'p', 'cli', 'failed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z');
                 INSERT INTO step_logs (run_id, step_number, provider, action, status, attempt, message,
                                        latency_ms, output_preview, timestamp, items)
                     VALUES ('r1', 0, 'http', 'request', 'timeout', 2, 'slow', 5, '', '2026-01-01T00:00:00.500Z', '[]');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let rows = store.step_logs("r1").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, flowpilot_engine::StepStatus::Timeout);
        assert_eq!(rows[0].items, Some(Vec::new()));
        let conn = store.lock();
        conn.execute(
            "INSERT INTO step_logs (run, id, step_number, provider, action, status, attempt, message,
                                    latency_ms, output_preview, at_ms)
                 VALUES ((SELECT seq FROM runs WHERE id = 'r1'), 2, 1, 'webhook', 'post_request', 'unknown', 1, 'may have', 5, '', 1767225600600)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn the_smaller_step_rows_keep_every_row_and_preview() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        let long = "x".repeat(600);
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 9).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (id, plan_name, trigger_kind, status, started_at, finished_at, owner)
                     VALUES ('r1', 'p', 'cli', 'success', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z', 'gone');",
            )
            .unwrap();
            let rows: [(&str, Option<String>); 5] = [
                (r#"{"n":1}"#, Some(r#"{"n":1}"#.into())), // the output's own text: dropped
                ("hello", Some(r#""hello""#.into())),      // a string output: dropped
                ("", None),                                // no output: dropped
                ("made by the step", Some(r#"{"n":2}"#.into())), // kept
                (&long[..], Some(serde_json::to_string(&long).unwrap())), // too long to be derived: kept
            ];
            for (i, (preview, output)) in rows.iter().enumerate() {
                conn.execute(
                    "INSERT INTO step_logs (run_id, step_number, provider, action, status, attempt, message,
                                            latency_ms, output_preview, output, timestamp)
                         VALUES ('r1', ?1, 'logic', 'set', 'success', 1, '', 1, ?2, ?3, '2026-01-01T00:00:00.500Z')",
                    rusqlite::params![i as i64, preview, output],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let previews: Vec<String> = store
            .step_logs("r1")
            .unwrap()
            .into_iter()
            .map(|s| s.output_preview)
            .collect();
        assert_eq!(previews, [r#"{"n":1}"#, "hello", "", "made by the step", &long[..]]);
        let conn = store.lock();
        let stored: i64 = conn
            .query_row("SELECT COUNT(output_preview) FROM step_logs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 2, "only the previews that are not the output's beginning");
        let owners: i64 = conn
            .query_row("SELECT COUNT(owner) FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(owners, 0, "a finished run's owner is not kept");
        let indexes: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'step_logs' AND sql IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 1, "by run only");
    }

    #[test]
    fn step_times_become_milliseconds_and_empty_metadata_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            MIGRATIONS.to_version(&mut conn, 10).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (seq, id, plan_name, trigger_kind, status, started_at, finished_at)
                     VALUES (1, 'r1', 'p', 'cli', 'success', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z');
                 INSERT INTO step_logs (run, step_number, provider, action, status, attempt, message,
                                        latency_ms, output, metadata, timestamp)
                     VALUES (1, 0, 'logic', 'set', 'success', 1, '', 1, '1', '{}', '2026-01-01T00:00:00.123Z'),
                            (1, 1, 'http', 'request', 'success', 1, '', 1, '2', '{\"status\":200}',
                             '2026-03-04T05:06:07.999Z');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let rows = store.step_logs("r1").unwrap();
        let times: Vec<String> = rows.iter().map(|s| crate::store::ts(&s.timestamp)).collect();
        assert_eq!(times, ["2026-01-01T00:00:00.123Z", "2026-03-04T05:06:07.999Z"]);
        assert!(rows[0].metadata.is_empty());
        assert_eq!(rows[1].metadata.get("status"), Some(&serde_json::json!(200)));
        let conn = store.lock();
        let (ms, stored_metadata): (i64, i64) = conn
            .query_row("SELECT MIN(at_ms), COUNT(metadata) FROM step_logs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(ms, 1_767_225_600_123);
        assert_eq!(stored_metadata, 1, "only metadata that is not empty is stored");
    }

    #[test]
    fn a_newer_schema_is_refused_and_the_file_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        {
            let store = Store::open(&path).unwrap();
            store.create_plan(&plan_file("From the future"), t(0)).unwrap();
        }
        let newer = SCHEMA_VERSION as i64 + 3;
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", newer).unwrap();
            // A newer Flowpilot might have added a table we do not know.
            conn.execute_batch("CREATE TABLE future_things (x TEXT)").unwrap();
        }
        let before = std::fs::read(&path).unwrap();

        let err = Store::open(&path).unwrap_err();
        match &err {
            StoreError::NewerSchema { found, known } => {
                assert_eq!(*found, newer);
                assert_eq!(*known, SCHEMA_VERSION);
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "this database was written by a newer Flowpilot (schema {newer}, this version knows {SCHEMA_VERSION})"
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "the file must not be touched");
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, newer);
    }

    #[test]
    fn an_older_empty_file_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flowpilot.db");
        std::fs::write(&path, b"").unwrap();
        let store = Store::open(&path).unwrap();
        assert!(store.list_plans().unwrap().is_empty());
    }
}
