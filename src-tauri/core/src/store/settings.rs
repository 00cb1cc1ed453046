//! App settings as JSON values under string keys (notifications, retention,
//! concurrency, ...). The store gives them no meaning.

use super::{Result, Store, get_json, to_json};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

impl Store {
    /// The value stored under `key`, if any.
    pub fn get_setting(&self, key: &str) -> Result<Option<Value>> {
        self.read(|tx| {
            Ok(tx
                .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
                .query_row([key], |row| get_json(row, 0))
                .optional()?)
        })
    }

    /// Store `value` under `key`, replacing any earlier value.
    pub fn set_setting(&self, key: &str, value: &Value) -> Result<()> {
        let text = to_json("a setting", value)?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, text],
            )?;
            Ok(())
        })
    }

    /// Remove `key`; returns whether it was set.
    pub fn delete_setting(&self, key: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM settings WHERE key = ?1", [key])? > 0))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::*;
    use serde_json::json;

    #[test]
    fn settings_round_trip() {
        let (_dir, store) = temp_store();
        assert_eq!(store.get_setting("retention").unwrap(), None);
        let v = json!({"max_age_days": 14, "notify": [true, null, "x"]});
        store.set_setting("retention", &v).unwrap();
        assert_eq!(store.get_setting("retention").unwrap(), Some(v));
        store.set_setting("retention", &json!(3)).unwrap();
        assert_eq!(store.get_setting("retention").unwrap(), Some(json!(3)));
        assert!(store.delete_setting("retention").unwrap());
        assert!(!store.delete_setting("retention").unwrap());
        assert_eq!(store.get_setting("retention").unwrap(), None);
    }
}
