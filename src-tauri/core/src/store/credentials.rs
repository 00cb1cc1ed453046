//! Which credential fields are set, per provider. Only names and times: the
//! values themselves live in the OS keychain and never touch this file.

use super::{Result, Store, get_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::params;

impl Store {
    /// Note that `provider`'s `field` has been set (or set again) at `now`.
    pub fn record_credential(&self, provider: &str, field: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO credential_fields (provider, field, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (provider, field) DO UPDATE SET updated_at = excluded.updated_at",
                params![provider, field, ts(&now)],
            )?;
            Ok(())
        })
    }

    /// Whether `provider`'s `field` is recorded as set here.
    pub fn credential_recorded(&self, provider: &str, field: &str) -> Result<bool> {
        self.read(|tx| {
            Ok(tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM credential_fields WHERE provider = ?1 AND field = ?2)",
                params![provider, field],
                |row| row.get(0),
            )?)
        })
    }

    /// Forget a field; returns whether it was recorded.
    pub fn forget_credential(&self, provider: &str, field: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM credential_fields WHERE provider = ?1 AND field = ?2",
                params![provider, field],
            )? > 0)
        })
    }

    /// Every recorded field as `(provider, field, updated_at)`, by provider then field.
    pub fn list_credentials(&self) -> Result<Vec<(String, String, DateTime<Utc>)>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare("SELECT provider, field, updated_at FROM credential_fields ORDER BY provider, field")?;
            let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, get_ts(row, 2)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

impl Store {
    /// Allow `provider`'s `field` to be sent to `origin` (already normalised).
    pub fn allow_origin(&self, provider: &str, field: &str, origin: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO credential_origins (provider, field, origin, allowed_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (provider, field, origin) DO NOTHING",
                params![provider, field, origin, ts(&now)],
            )?;
            Ok(())
        })
    }

    /// Take an allowed origin back; whether it was allowed.
    pub fn disallow_origin(&self, provider: &str, field: &str, origin: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM credential_origins WHERE provider = ?1 AND field = ?2 AND origin = ?3",
                params![provider, field, origin],
            )? > 0)
        })
    }

    /// The origins `provider`'s `field` may also go to, in order.
    pub fn allowed_origins(&self, provider: &str, field: &str) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT origin FROM credential_origins WHERE provider = ?1 AND field = ?2 ORDER BY origin",
            )?;
            let rows = stmt.query_map(params![provider, field], |row| row.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_support::*;

    #[test]
    fn record_update_forget() {
        let (_dir, store) = temp_store();
        store.record_credential("slack", "token", t(0)).unwrap();
        store.record_credential("openai", "api_key", t(1)).unwrap();
        store.record_credential("slack", "token", t(5)).unwrap();
        assert_eq!(
            store.list_credentials().unwrap(),
            vec![
                ("openai".to_string(), "api_key".to_string(), t(1)),
                ("slack".to_string(), "token".to_string(), t(5))
            ]
        );

        assert!(store.forget_credential("slack", "token").unwrap());
        assert!(!store.forget_credential("slack", "token").unwrap());
        assert_eq!(store.list_credentials().unwrap().len(), 1);
    }

    #[test]
    fn allowed_origins_are_kept_per_credential() {
        let (_dir, store) = temp_store();
        store
            .allow_origin("openai", "api_key", "https://proxy.example", t(0))
            .unwrap();
        store
            .allow_origin("openai", "api_key", "http://127.0.0.1:8080", t(1))
            .unwrap();
        store
            .allow_origin("openai", "api_key", "https://proxy.example", t(2))
            .unwrap();
        store
            .allow_origin("groq", "api_key", "https://other.example", t(2))
            .unwrap();
        assert_eq!(
            store.allowed_origins("openai", "api_key").unwrap(),
            vec!["http://127.0.0.1:8080", "https://proxy.example"]
        );
        assert!(
            store
                .disallow_origin("openai", "api_key", "https://proxy.example")
                .unwrap()
        );
        assert!(
            !store
                .disallow_origin("openai", "api_key", "https://proxy.example")
                .unwrap()
        );
        assert_eq!(
            store.allowed_origins("openai", "api_key").unwrap(),
            vec!["http://127.0.0.1:8080"]
        );
    }
}
