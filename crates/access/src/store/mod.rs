//! Where accounts, keys and the audit log are kept: an embedded SQLite file (the default, a
//! single-user installation and the demo) or a PostgreSQL database (a multi-user
//! installation). The same operations run on both; only the connection and the migrations'
//! SQL differ.
//!
//! Migrations are numbered SQL files (`migrations/{sqlite,postgres}/NNNN_name.sql`)
//! embedded in the binary; `schema_version` records each one applied, with its name and
//! when. Opening a store applies what is missing, in one transaction each, under a lock
//! (SQLite's write lock, a PostgreSQL advisory lock), so two processes opening a new store
//! at once do not both migrate it.

mod accounts;
mod audit;
mod conn;
mod migrations;
mod projects;
mod sessions;
mod visible;

pub use migrations::{LATEST, MIGRATIONS, Migration};

use crate::StoreError;
use conn::Conn;
use std::path::{Path, PathBuf};

/// Which store: a SQLite file or a PostgreSQL URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// An embedded SQLite database in this file (created with its folder if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL database: a `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl StoreLocation {
    /// The file name of the embedded store inside a warehouse folder.
    pub const WAREHOUSE_FILE: &'static str = "access.db";

    /// A `postgres://` (or `postgresql://`) URL, else a SQLite file path.
    pub fn parse(s: &str) -> StoreLocation {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            StoreLocation::Postgres(s.to_string())
        } else {
            StoreLocation::Sqlite(PathBuf::from(s))
        }
    }

    /// The embedded store of the warehouse in `folder`.
    pub fn in_warehouse(folder: &Path) -> StoreLocation {
        StoreLocation::Sqlite(folder.join(Self::WAREHOUSE_FILE))
    }

    /// For messages: the file, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => p.display().to_string(),
            StoreLocation::Postgres(url) => redact(url),
        }
    }
}

/// The URL with the password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// An open, migrated store.
pub struct Store {
    conn: Conn,
    name: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.name)
    }
}

impl Store {
    /// Opens (creating a SQLite file if missing) and migrates to the latest schema.
    pub fn open(location: &StoreLocation) -> Result<Store, StoreError> {
        let name = location.display();
        let conn = match location {
            StoreLocation::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
                        path: path.clone(),
                        source,
                    })?;
                }
                create_private(path)?;
                Conn::sqlite(path, &name)?
            }
            StoreLocation::Postgres(url) => Conn::postgres(url, &name)?,
        };
        let mut store = Store { conn, name };
        migrations::migrate(&mut store)?;
        Ok(store)
    }

    /// Opens a store that exists (a SQLite file is not created), and migrates it.
    pub fn open_existing(location: &StoreLocation) -> Result<Store, StoreError> {
        if let StoreLocation::Sqlite(path) = location
            && !path.exists()
        {
            return Err(StoreError::Missing(path.clone()));
        }
        Store::open(location)
    }

    /// Which store (file or URL without password).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::Postgres(_))
    }

    /// The schema version: the last migration applied.
    pub fn schema_version(&mut self) -> Result<i64, StoreError> {
        let rows = self.conn.rows(
            &self.name,
            "reading the schema version",
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            &[],
        )?;
        rows[0].int(0, &self.name)
    }
}

/// Creates a missing SQLite file readable by its owner only: it holds password hashes
/// and key digests (SQLite gives its journal the same permissions).
fn create_private(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        // Another process made it between the check and here.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Create {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    fn exec(
        &mut self,
        context: &str,
        sql: &str,
        params: &[conn::Value],
    ) -> Result<u64, StoreError> {
        self.conn.execute(&self.name, context, sql, params)
    }

    fn rows(
        &mut self,
        context: &str,
        sql: &str,
        params: &[conn::Value],
    ) -> Result<Vec<conn::Row>, StoreError> {
        self.conn.rows(&self.name, context, sql, params)
    }

    /// Runs `f` in a write transaction (locking `lock_table` on PostgreSQL): committed when
    /// it succeeds, rolled back when it fails.
    fn transaction<T, E: From<StoreError>>(
        &mut self,
        context: &str,
        lock_table: Option<&str>,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn.begin(&self.name, context, lock_table)?;
        match f(self) {
            Ok(v) => {
                let name = self.name.clone();
                if let Err(e) = self.conn.batch(&name, context, "COMMIT") {
                    let _ = self.conn.batch(&name, context, "ROLLBACK");
                    return Err(e.into());
                }
                Ok(v)
            }
            Err(e) => {
                let name = self.name.clone();
                // The transaction's own error is the one to report.
                let _ = self.conn.batch(&name, context, "ROLLBACK");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_hide_passwords() {
        assert_eq!(
            StoreLocation::parse("/tmp/a.db"),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        let pg = StoreLocation::parse("postgresql://aim:secret@127.0.0.1:5432/aim");
        assert!(matches!(pg, StoreLocation::Postgres(_)));
        assert_eq!(pg.display(), "postgresql://aim:***@127.0.0.1:5432/aim");
        assert_eq!(
            redact("postgres://aim@localhost/aim"),
            "postgres://aim@localhost/aim"
        );
    }
}
