//! The schema's versions: numbered SQL files, one per backend, embedded in the binary.

use super::Store;
use crate::StoreError;

/// One step of the schema.
#[derive(Debug)]
pub struct Migration {
    /// Its number: 1, 2, 3, … without gaps.
    pub version: i64,
    /// Its name (the file's, without number and extension).
    pub name: &'static str,
    /// The SQL for SQLite.
    pub sqlite: &'static str,
    /// The SQL for PostgreSQL.
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $name:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file)),
            postgres: include_str!(concat!("../../migrations/postgres/", $file)),
        }
    };
}

/// Every migration, in order. A new one is a new pair of files and a new line here; a
/// migration that shipped is never edited.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "accounts", "0001_accounts.sql"),
    migration!(2, "audit_log", "0002_audit_log.sql"),
    migration!(3, "projects", "0003_projects.sql"),
    migration!(4, "sessions", "0004_sessions.sql"),
];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Any constant: the key of the PostgreSQL advisory lock taken while migrating.
const PG_MIGRATION_LOCK: i64 = 0x0061_696d_0001;

pub(super) fn migrate(store: &mut Store) -> Result<(), StoreError> {
    let pg = store.is_postgres();
    store.transaction("migrating the schema", None, |s| {
        if pg {
            s.rows(
                "taking the migration lock",
                "SELECT pg_advisory_xact_lock(?)::text",
                &[PG_MIGRATION_LOCK.into()],
            )?;
        }
        s.conn.batch(
            &s.name,
            "creating schema_version",
            "CREATE TABLE IF NOT EXISTS schema_version (
                 version BIGINT PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at TEXT NOT NULL
             )",
        )?;
        let current = s.schema_version()?;
        if current > LATEST {
            return Err(StoreError::TooNew {
                store: s.name.clone(),
                found: current,
                known: LATEST,
            });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let sql = if pg { m.postgres } else { m.sqlite };
            let context = format!("applying migration {} ({})", m.version, m.name);
            s.conn.batch(&s.name, &context, sql)?;
            s.exec(
                &context,
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                &[m.version.into(), m.name.into(), super::now().into()],
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps_and_named_after_their_files() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
        }
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        for backend in ["sqlite", "postgres"] {
            let mut files: Vec<String> = std::fs::read_dir(format!("{dir}/{backend}"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let expected: Vec<String> = MIGRATIONS
                .iter()
                .map(|m| format!("{:04}_{}.sql", m.version, m.name))
                .collect();
            assert_eq!(files, expected, "{backend}: every file listed, in order");
        }
    }
}
