//! The person's own integration definitions (as JSON: they are checked when
//! loaded, so a definition written by another version is still readable), and
//! the state of integrations' OAuth connections. Never a secret: those live in
//! the keychain.

use super::{Result, Store, get_json, get_ts, to_json, ts};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A stored definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIntegration {
    pub name: String,
    pub definition: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An OAuth connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    Connected,
    /// Its refresh was refused: it must be connected again.
    NeedsReconnecting,
}

impl ConnectionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::NeedsReconnecting => "needs_reconnecting",
        }
    }
}

fn stored(row: &Row<'_>) -> rusqlite::Result<StoredIntegration> {
    Ok(StoredIntegration {
        name: row.get(0)?,
        definition: get_json(row, 1)?,
        created_at: get_ts(row, 2)?,
        updated_at: get_ts(row, 3)?,
    })
}

impl Store {
    /// Save a definition under `name` (a new one, or a new text for an existing one).
    pub fn save_integration(&self, name: &str, definition: &Value, now: DateTime<Utc>) -> Result<()> {
        let text = to_json("an integration definition", definition)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO integrations (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
                params![name, text, ts(&now)],
            )?;
            Ok(())
        })
    }

    pub fn get_integration(&self, name: &str) -> Result<Option<StoredIntegration>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT name, definition, created_at, updated_at FROM integrations WHERE name = ?1",
                    [name],
                    stored,
                )
                .optional()?)
        })
    }

    /// Every stored definition, by name.
    pub fn list_integrations(&self) -> Result<Vec<StoredIntegration>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare("SELECT name, definition, created_at, updated_at FROM integrations ORDER BY name")?;
            let rows = stmt.query_map([], stored)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Remove a definition (and its connection state); whether it was there.
    pub fn delete_integration(&self, name: &str) -> Result<bool> {
        self.write(|tx| {
            tx.execute("DELETE FROM integration_connections WHERE name = ?1", [name])?;
            Ok(tx.execute("DELETE FROM integrations WHERE name = ?1", [name])? > 0)
        })
    }

    /// Note how an integration's OAuth connection stands.
    pub fn set_connection_state(
        &self,
        name: &str,
        state: ConnectionState,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO integration_connections (name, state, detail, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state, detail = excluded.detail,
                                                  updated_at = excluded.updated_at",
                params![name, state.as_str(), detail, ts(&now)],
            )?;
            Ok(())
        })
    }

    /// An integration's OAuth connection state and what was said about it, if any was noted.
    pub fn connection_state(&self, name: &str) -> Result<Option<(ConnectionState, Option<String>)>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT state, detail FROM integration_connections WHERE name = ?1",
                    [name],
                    |row| {
                        let state: String = row.get(0)?;
                        let state = if state == "connected" {
                            ConnectionState::Connected
                        } else {
                            ConnectionState::NeedsReconnecting
                        };
                        Ok((state, row.get(1)?))
                    },
                )
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::*;
    use serde_json::json;

    #[test]
    fn definitions_are_saved_replaced_listed_and_removed() {
        let (_dir, store) = temp_store();
        store
            .save_integration("crm", &json!({"name": "crm", "v": 1}), t(0))
            .unwrap();
        store
            .save_integration("crm", &json!({"name": "crm", "v": 2}), t(5))
            .unwrap();
        store.save_integration("abc", &json!({"name": "abc"}), t(1)).unwrap();
        let all = store.list_integrations().unwrap();
        assert_eq!(all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["abc", "crm"]);
        let crm = store.get_integration("crm").unwrap().unwrap();
        assert_eq!(crm.definition["v"], 2);
        assert_eq!((crm.created_at, crm.updated_at), (t(0), t(5)));
        store
            .set_connection_state("crm", ConnectionState::NeedsReconnecting, Some("invalid_grant"), t(6))
            .unwrap();
        assert_eq!(
            store.connection_state("crm").unwrap(),
            Some((ConnectionState::NeedsReconnecting, Some("invalid_grant".into())))
        );
        assert!(store.delete_integration("crm").unwrap());
        assert!(!store.delete_integration("crm").unwrap());
        assert_eq!(store.connection_state("crm").unwrap(), None);
    }
}
