//! Step log rows: one per finished step (and one per failed attempt that is
//! retried), in the seeds' fields, plus a `for_each` step's compact item rows.

use super::runs::{not_running, run_not_found, run_status};
use super::{Result, Store, conversion_error, extended_code, get_json, get_ts, get_u64, sql_int, to_json, ts};
use flowpilot_engine::{ErrorCode, StepRecord, StepStatus};
use rusqlite::{Row, Transaction};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("unknown step status `{0}`")]
struct BadStepStatus(String);

const STEP_COLUMNS: &str = "run_id, step_number, step_id, provider, action, status, attempt, message, latency_ms,
     output_preview, output, metadata, error, timestamp, items, input";

fn step_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let status: String = row.get(5)?;
    let output: Option<String> = row.get(10)?;
    Ok(StepRecord {
        run_id: row.get(0)?,
        step_number: super::get_usize(row, 1)?,
        step_id: row.get(2)?,
        provider: row.get(3)?,
        action: row.get(4)?,
        status: StepStatus::parse(&status).ok_or_else(|| conversion_error(5, BadStepStatus(status.clone())))?,
        attempt: row.get(6)?,
        message: row.get(7)?,
        latency_ms: get_u64(row, 8)?,
        output_preview: row.get(9)?,
        output: match output {
            None => Value::Null,
            Some(text) => serde_json::from_str(&text).map_err(|e| conversion_error(10, e))?,
        },
        metadata: get_json(row, 11)?,
        error: row.get::<_, Option<String>>(12)?.map(|code| ErrorCode::parse(&code)),
        timestamp: get_ts(row, 13)?,
        items: match row.get::<_, Option<String>>(14)? {
            None => None,
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| conversion_error(14, e))?),
        },
        input: match row.get::<_, Option<String>>(15)? {
            None => Value::Null,
            Some(text) => serde_json::from_str(&text).map_err(|e| conversion_error(15, e))?,
        },
    })
}

/// Insert a step row; with `only_if_running`, only while its run is `running`.
/// Returns whether a row was written.
pub(super) fn insert_step(tx: &Transaction<'_>, record: &StepRecord, only_if_running: bool) -> Result<bool> {
    let output = match &record.output {
        Value::Null => None,
        other => Some(to_json("a step's output", other)?),
    };
    let metadata = to_json("a step's metadata", &record.metadata)?;
    let items = match &record.items {
        None => None,
        Some(items) => Some(to_json("a step's items", items)?),
    };
    let input = match &record.input {
        Value::Null => None,
        other => Some(to_json("a step's input", other)?),
    };
    let guard = if only_if_running {
        "WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND status = 'running')"
    } else {
        ""
    };
    // Bound one by one so the output's JSON (up to 10 MB) can be dropped once
    // SQLite has its own copy, before it builds the row: one copy fewer at once.
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO step_logs (run_id, step_number, step_id, provider, action, status, attempt, message,
                                latency_ms, output_preview, output, metadata, error, timestamp, items, input)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16 {guard}"
    ))?;
    stmt.raw_bind_parameter(1, &record.run_id)?;
    stmt.raw_bind_parameter(2, sql_int(record.step_number))?;
    stmt.raw_bind_parameter(3, &record.step_id)?;
    stmt.raw_bind_parameter(4, &record.provider)?;
    stmt.raw_bind_parameter(5, &record.action)?;
    stmt.raw_bind_parameter(6, record.status.as_str())?;
    stmt.raw_bind_parameter(7, record.attempt)?;
    stmt.raw_bind_parameter(8, &record.message)?;
    stmt.raw_bind_parameter(9, sql_int(record.latency_ms))?;
    stmt.raw_bind_parameter(10, &record.output_preview)?;
    stmt.raw_bind_parameter(11, &output)?;
    drop(output);
    stmt.raw_bind_parameter(12, &metadata)?;
    stmt.raw_bind_parameter(13, record.error.map(|e| e.as_string()))?;
    stmt.raw_bind_parameter(14, ts(&record.timestamp))?;
    stmt.raw_bind_parameter(15, &items)?;
    stmt.raw_bind_parameter(16, &input)?;
    let written = stmt.raw_execute();
    match written {
        Ok(n) => Ok(n > 0),
        Err(e) if extended_code(&e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => {
            Err(run_not_found(&record.run_id))
        }
        Err(e) => Err(e.into()),
    }
}

impl Store {
    /// Append a step row (a final one, or a `retrying` one) to a running run.
    ///
    /// Errors: [`StoreError::RunFinished`] if the run is no longer running (the
    /// row is not written), [`StoreError::NotFound`] if there is no such run.
    pub fn append_step(&self, record: &StepRecord) -> Result<()> {
        self.write(|tx| {
            if !insert_step(tx, record, true)? {
                return Err(not_running(tx, &record.run_id));
            }
            // The attempt that was in flight has its row now.
            tx.execute("UPDATE runs SET in_flight = NULL WHERE id = ?1", [&record.run_id])?;
            Ok(())
        })
    }

    /// Every step row of a run (retries included), in the order written.
    pub fn step_logs(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        self.read(|tx| {
            if run_status(tx, run_id)?.is_none() {
                return Err(run_not_found(run_id));
            }
            let mut stmt = tx.prepare(&format!(
                "SELECT {STEP_COLUMNS} FROM step_logs WHERE run_id = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([run_id], step_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
