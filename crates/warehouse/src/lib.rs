//! The warehouse: versioned tables in Delta Lake format, one atomic commit per accepted
//! delivery, reference tables, and a read-only SQL session.
//!
//! Layout of a warehouse folder (see `docs/warehouse.md`):
//!
//! ```text
//! WH/
//! ├── warehouse.json        marker and format version
//! ├── tables/<name>/        Delta tables: popu, gzss, faru (partitioned by insurer, period), ref_*
//! ├── archive/<delivery>/   the original files of every accepted delivery, with checksums
//! ├── quarantine/<delivery>/ rejected deliveries, with the reason
//! ├── qc/<delivery>/        QC report (JSON, HTML) and feedback file for the insurer
//! ├── logs/vacuum.jsonl     what `aim warehouse vacuum` removed
//! └── .aim.lock             held by the process that writes
//! ```
//!
//! Invariants: a table changes only by a Delta commit, so a process killed at any point
//! leaves every table at a committed version; a delivery's rows reach a table in exactly
//! one commit that also removes the rows of the delivery it replaces; the warehouse has no
//! column that can hold a raw national number (the ingest refuses any). This crate never
//! decides whether a delivery is good: `aim-ingest` does.

pub mod catalog;
pub mod load;
pub mod lock;
pub mod query;
pub mod reference;
pub mod tables;
pub mod vacuum;

use std::path::{Path, PathBuf};

pub use catalog::{Catalog, DeliveryRecord};
pub use load::{IngestOptions, IngestSummary, confirm, ingest};
pub use lock::WarehouseLock;

/// Name of the marker file at the root of a warehouse.
pub const MARKER_FILE: &str = "warehouse.json";

/// An error of the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Delta Lake error.
    #[error("Delta table {table}: {source}")]
    Delta {
        /// The table.
        table: String,
        /// The error.
        source: Box<deltalake::DeltaTableError>,
    },
    /// Query error.
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    /// Another process holds the lock.
    #[error("{0}")]
    Locked(String),
    /// The folder is not a warehouse.
    #[error(
        "{0} is not an aim warehouse (no {MARKER_FILE}); create one with `aim ingest` or `aim reference import`"
    )]
    NotAWarehouse(PathBuf),
    /// The reference tables are missing.
    #[error(
        "the warehouse has no reference tables: run `aim reference import --warehouse {0} DIR` first"
    )]
    NoReference(PathBuf),
    /// The reference data folder could not be read.
    #[error(transparent)]
    Geography(#[from] aim_model::geography::GeographyError),
    /// An ingest error on the platform's side.
    #[error(transparent)]
    Ingest(#[from] aim_ingest::IngestError),
    /// The SQL statement is not a read-only query.
    #[error("only read-only queries are allowed here: {0}")]
    NotReadOnly(String),
    /// A table version that does not exist.
    #[error("{0}")]
    NoSuchVersion(String),
    /// `aim confirm` named a delivery that is not a held correction.
    #[error("{0}")]
    NotHeld(String),
    /// `aim warehouse vacuum` refused to run (its options, or what it found).
    #[error("vacuum: {0}")]
    Vacuum(String),
    /// The release ledger cannot be read, so vacuum cannot tell which versions to keep.
    #[error(
        "the release ledger {} is damaged at line {line} ({source}): vacuum cannot tell which table versions earlier releases need, so it removes nothing; repair the ledger first",
        path.display()
    )]
    Ledger {
        /// The ledger file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// Result alias.
pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> WarehouseError {
    let context = context.into();
    move |source| WarehouseError::Io { context, source }
}

pub(crate) fn delta(table: &str) -> impl FnOnce(deltalake::DeltaTableError) -> WarehouseError + '_ {
    move |source| WarehouseError::Delta {
        table: table.to_string(),
        source: Box::new(source),
    }
}

/// A warehouse folder.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
}

impl Warehouse {
    /// Opens a warehouse, creating the folder and its layout if it does not exist.
    pub fn open_or_create(root: &Path) -> Result<Warehouse> {
        std::fs::create_dir_all(root).map_err(io(format!(
            "cannot create the warehouse folder {}",
            root.display()
        )))?;
        let root = root
            .canonicalize()
            .map_err(io(format!("cannot resolve {}", root.display())))?;
        let marker = root.join(MARKER_FILE);
        if !marker.exists() {
            let non_empty = std::fs::read_dir(&root)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if non_empty {
                return Err(WarehouseError::NotAWarehouse(root));
            }
            let text = serde_json::json!({ "aim_warehouse": 1, "created": chrono::Utc::now().to_rfc3339() });
            std::fs::write(
                &marker,
                serde_json::to_string_pretty(&text).expect("json") + "\n",
            )
            .map_err(io(format!("cannot write {}", marker.display())))?;
        }
        let wh = Warehouse { root };
        for d in ["tables", "archive", "quarantine", "qc"] {
            std::fs::create_dir_all(wh.root.join(d))
                .map_err(io(format!("cannot create {d}/ in the warehouse")))?;
        }
        Ok(wh)
    }

    /// Opens an existing warehouse.
    pub fn open(root: &Path) -> Result<Warehouse> {
        if !root.join(MARKER_FILE).exists() {
            return Err(WarehouseError::NotAWarehouse(root.to_path_buf()));
        }
        let root = root
            .canonicalize()
            .map_err(io(format!("cannot resolve {}", root.display())))?;
        Ok(Warehouse { root })
    }

    /// The warehouse folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Folder of a Delta table.
    pub fn table_dir(&self, name: &str) -> PathBuf {
        self.root.join("tables").join(name)
    }

    /// The release ledger of the disclosure gate (`WH/releases/ledger.jsonl`): the gate
    /// appends to it; `vacuum` keeps every table version it references readable.
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("releases").join("ledger.jsonl")
    }

    /// Folder of a delivery's QC outputs.
    pub fn qc_dir(&self, delivery_id: &str) -> PathBuf {
        self.root.join("qc").join(delivery_id)
    }

    /// Folder of an archived delivery.
    pub fn archive_dir(&self, delivery_id: &str) -> PathBuf {
        self.root.join("archive").join(delivery_id)
    }

    /// Folder of a quarantined delivery.
    pub fn quarantine_dir(&self, delivery_id: &str) -> PathBuf {
        self.root.join("quarantine").join(delivery_id)
    }

    /// The permanent sample's own table folder (`WH/sample`): the same layout, holding the
    /// source and derived tables restricted to the sample's members. It shares the
    /// warehouse's lock.
    pub fn sample(&self) -> Warehouse {
        Warehouse {
            root: self.root.join("sample"),
        }
    }

    /// Names of the Delta tables present.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("tables"))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("_delta_log").is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}
