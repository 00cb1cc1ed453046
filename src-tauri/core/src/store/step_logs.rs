//! Step log rows: one per finished step (and one per failed attempt that is
//! retried), in the seeds' fields, plus a `for_each` step's compact item rows.

use super::runs::{not_running, run_not_found, run_status};
use super::{Result, Store, conversion_error, get_ms, get_opt_json, get_u64, ms, sql_int, to_json};
use flowpilot_engine::run::preview_text;
use flowpilot_engine::{ErrorCode, StepRecord, StepStatus};
use rusqlite::{OptionalExtension, Row, Transaction};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("unknown step status `{0}`")]
struct BadStepStatus(String);

const STEP_COLUMNS: &str = "r.id, s.step_number, s.step_id, s.provider, s.action, s.status, s.attempt, s.message,
     s.latency_ms, s.output_preview, s.output, s.metadata, s.error, s.at_ms, s.items, s.input";

/// The preview of an output that is `value`, whose JSON is `json`: what a
/// step's preview is unless the step made it otherwise (then it is stored).
fn derived_preview(value: &Value, json: Option<&str>) -> String {
    match (value, json) {
        (Value::String(s), _) => preview_text(s),
        (Value::Null, _) | (_, None) => String::new(),
        (_, Some(json)) => preview_text(json),
    }
}

fn step_row(row: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let status: String = row.get(5)?;
    let output_text: Option<String> = row.get(10)?;
    let output = match &output_text {
        None => Value::Null,
        Some(text) => serde_json::from_str(text).map_err(|e| conversion_error(10, e))?,
    };
    let output_preview = match row.get::<_, Option<String>>(9)? {
        Some(stored) => stored,
        None => derived_preview(&output, output_text.as_deref()),
    };
    drop(output_text);
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
        output_preview,
        output,
        metadata: get_opt_json(row, 11)?.unwrap_or_default(),
        error: row.get::<_, Option<String>>(12)?.map(|code| ErrorCode::parse(&code)),
        timestamp: get_ms(row, 13)?,
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

/// A step record as its row is written: its JSON already made, owned, so the
/// write can wait in the writer's queue (and be tried again) without the record.
pub(super) struct StepRow {
    pub run_id: String,
    step_number: i64,
    step_id: Option<String>,
    provider: String,
    action: String,
    status: &'static str,
    attempt: u32,
    message: String,
    latency_ms: i64,
    /// `None` when it is the output's own beginning.
    output_preview: Option<String>,
    output: Option<String>,
    /// The output was handed to SQLite (and dropped here).
    output_given: bool,
    /// `None` when there is none (`{}`).
    metadata: Option<String>,
    error: Option<String>,
    at_ms: i64,
    items: Option<String>,
    input: Option<String>,
}

impl StepRow {
    pub fn new(record: &StepRecord) -> Result<Self> {
        let json = |what: &'static str, value: &Value| match value {
            Value::Null => Ok(None),
            other => to_json(what, other).map(Some),
        };
        let output = json("a step's output", &record.output)?;
        let derived = derived_preview(&record.output, output.as_deref());
        Ok(Self {
            run_id: record.run_id.clone(),
            step_number: sql_int(record.step_number),
            step_id: record.step_id.clone(),
            provider: record.provider.clone(),
            action: record.action.clone(),
            status: record.status.as_str(),
            attempt: record.attempt,
            message: record.message.clone(),
            latency_ms: sql_int(record.latency_ms),
            output_preview: (record.output_preview != derived).then(|| record.output_preview.clone()),
            output,
            output_given: false,
            metadata: match record.metadata.is_empty() {
                true => None,
                false => Some(to_json("a step's metadata", &record.metadata)?),
            },
            error: record.error.map(|e| e.as_string()),
            at_ms: ms(&record.timestamp),
            items: record
                .items
                .as_ref()
                .map(|items| to_json("a step's items", items))
                .transpose()?,
            input: json("a step's input", &record.input)?,
        })
    }
}

/// Insert a step row; with `only_if_running`, only while its run is `running`.
/// Returns whether a row was written.
///
/// The output's JSON (up to 10 MB) is handed to SQLite and dropped here before
/// SQLite builds the row, one copy fewer at once; so a row is inserted once:
/// a second try (a whole batch tried again) fails as busy, never writes it
/// without its output.
pub(super) fn insert_step(tx: &Transaction<'_>, row: &mut StepRow, only_if_running: bool) -> Result<bool> {
    if row.output_given {
        let busy = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY);
        return Err(rusqlite::Error::SqliteFailure(busy, Some("a step row's write was tried twice".into())).into());
    }
    // The run's number first, then a plain one-row INSERT: an INSERT ... SELECT
    // into a table with triggers (the Dashboard's summary) is staged through a
    // temporary table by SQLite, a second copy of a 10 MB output.
    let run: Option<(i64, String)> = tx
        .prepare_cached("SELECT seq, status FROM runs WHERE id = ?1")?
        .query_row([&row.run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((seq, status)) = run else {
        return Ok(false);
    };
    if only_if_running && status != "running" {
        // The caller says which: finished.
        return Ok(false);
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO step_logs (run, step_number, step_id, provider, action, status, attempt, message,
                                latency_ms, output_preview, output, metadata, error, at_ms, items, input)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    stmt.raw_bind_parameter(1, seq)?;
    stmt.raw_bind_parameter(2, row.step_number)?;
    stmt.raw_bind_parameter(3, &row.step_id)?;
    stmt.raw_bind_parameter(4, &row.provider)?;
    stmt.raw_bind_parameter(5, &row.action)?;
    stmt.raw_bind_parameter(6, row.status)?;
    stmt.raw_bind_parameter(7, row.attempt)?;
    stmt.raw_bind_parameter(8, &row.message)?;
    stmt.raw_bind_parameter(9, row.latency_ms)?;
    stmt.raw_bind_parameter(10, &row.output_preview)?;
    stmt.raw_bind_parameter(11, &row.output)?;
    row.output_given = row.output.take().is_some();
    stmt.raw_bind_parameter(12, &row.metadata)?;
    stmt.raw_bind_parameter(13, &row.error)?;
    stmt.raw_bind_parameter(14, row.at_ms)?;
    stmt.raw_bind_parameter(15, &row.items)?;
    stmt.raw_bind_parameter(16, &row.input)?;
    Ok(stmt.raw_execute()? > 0)
}

/// The write of [`Store::append_step`].
pub(super) fn append_job(record: &StepRecord) -> Result<super::writer::Job> {
    let mut row = StepRow::new(record)?;
    Ok(Box::new(move |tx| {
        if !insert_step(tx, &mut row, true)? {
            return Err(not_running(tx, &row.run_id));
        }
        // The attempt that was in flight has its row now.
        tx.prepare_cached("UPDATE runs SET in_flight = NULL WHERE id = ?1")?
            .execute([&row.run_id])?;
        Ok(())
    }))
}

impl Store {
    /// Append a step row (a final one, or a `retrying` one) to a running run.
    ///
    /// Errors: [`StoreError::RunFinished`] if the run is no longer running (the
    /// row is not written), [`StoreError::NotFound`] if there is no such run.
    pub fn append_step(&self, record: &StepRecord) -> Result<()> {
        self.write_grouped(append_job(record)?)
    }

    /// [`Store::append_step`] as a future: committed at once when no other
    /// write is, else awaited (not blocking) with the next group.
    pub fn append_step_async(&self, record: &StepRecord) -> impl Future<Output = Result<()>> + Send + 'static {
        let job = append_job(record);
        let written = job.map(|job| self.write_grouped_async(job));
        async move { written?.await }
    }

    /// Every step row of a run (retries included), in the order written.
    pub fn step_logs(&self, run_id: &str) -> Result<Vec<StepRecord>> {
        self.read(|tx| {
            if run_status(tx, run_id)?.is_none() {
                return Err(run_not_found(run_id));
            }
            let mut stmt = tx.prepare(&format!(
                "SELECT {STEP_COLUMNS} FROM step_logs s JOIN runs r ON r.seq = s.run WHERE r.id = ?1 ORDER BY s.id"
            ))?;
            let rows = stmt.query_map([run_id], step_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
