//! Reading and writing column values: timestamps as RFC 3339 text with
//! milliseconds (a step row's as an integer of Unix milliseconds), JSON as `serde_json` text, run statuses by name, counts as
//! SQLite's signed integers. A value that does not read is a typed conversion
//! error naming its column.

use chrono::{DateTime, SecondsFormat, Utc};
use flowpilot_engine::RunStatus;
use rusqlite::Row;
use rusqlite::types::Type;
use serde::de::DeserializeOwned;

/// A timestamp as stored: RFC 3339, milliseconds, `Z`.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn conversion_error(idx: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("unexpected value `{0}`")]
struct BadValue(String);

fn parse_ts(idx: usize, s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| conversion_error(idx, e))
}

pub(crate) fn get_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let s: String = row.get(idx)?;
    parse_ts(idx, &s)
}

/// A step row's time as stored: Unix milliseconds.
pub(crate) fn ms(t: &DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

#[derive(Debug, thiserror::Error)]
#[error("{0} ms is outside the times a date can hold")]
struct BadMillis(i64);

pub(crate) fn get_ms(row: &Row<'_>, idx: usize) -> rusqlite::Result<DateTime<Utc>> {
    let v: i64 = row.get(idx)?;
    DateTime::from_timestamp_millis(v)
        .ok_or_else(|| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(BadMillis(v))))
}

pub(crate) fn get_opt_ts(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| parse_ts(idx, &s)).transpose()
}

pub(crate) fn get_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    serde_json::from_str(&s).map_err(|e| conversion_error(idx, e))
}

pub(crate) fn get_opt_json<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| serde_json::from_str(&s).map_err(|e| conversion_error(idx, e)))
        .transpose()
}

pub(crate) fn get_run_status(row: &Row<'_>, idx: usize) -> rusqlite::Result<RunStatus> {
    let s: String = row.get(idx)?;
    RunStatus::parse(&s).ok_or_else(|| conversion_error(idx, BadValue(s)))
}

pub(crate) fn get_opt_run_status(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<RunStatus>> {
    let s: Option<String> = row.get(idx)?;
    s.map(|s| RunStatus::parse(&s).ok_or_else(|| conversion_error(idx, BadValue(s))))
        .transpose()
}

/// An unsigned count or size from SQLite's signed integers.
pub(crate) fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// A count or index from SQLite's signed integers.
pub(crate) fn get_usize(row: &Row<'_>, idx: usize) -> rusqlite::Result<usize> {
    let v: i64 = row.get(idx)?;
    usize::try_from(v).map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// An unsigned number for SQLite (saturating at `i64::MAX`).
pub(crate) fn sql_int(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}
