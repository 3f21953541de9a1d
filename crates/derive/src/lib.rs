//! Derived data: hospital stays (HOSP), one row per person and year (PATI) with
//! pseudo-pathologies, and the permanent sample (EPS), built from the warehouse's source
//! tables with their lineage. The rules are in `docs/derived-data.md`; the definitions are
//! data in `crates/derive/definitions/`.
//!
//! Entry point: [`build`].

pub mod build;
pub mod definitions;
pub mod hosp;
pub mod others;
pub mod output;
pub mod population;
pub mod sample;
pub mod scan;
pub mod year;

pub use build::{BuildOptions, BuildProgress, BuildSummary, YearOutcome, YearStatus, build};
pub use definitions::Definitions;

use std::path::PathBuf;

/// What can go wrong while deriving.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] aim_warehouse::WarehouseError),
    /// A Delta table operation failed.
    #[error("derived table {table}: {message}")]
    Delta {
        /// The table.
        table: String,
        /// What happened.
        message: String,
    },
    /// The definition files are invalid.
    #[error("invalid definitions: {0}")]
    Definitions(String),
    /// A data file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// A data file does not have the expected columns.
    #[error("unexpected data: {0}")]
    Schema(String),
    /// A worker thread stopped.
    #[error("a worker thread stopped unexpectedly")]
    Thread,
    /// Nothing to derive from.
    #[error(
        "the warehouse {0} has no population table yet: ingest deliveries first (`aim ingest`)"
    )]
    NoData(PathBuf),
    /// The definitions changed the columns of a derived table.
    #[error(
        "the definitions changed the columns of the derived table {0}; run `aim build --rebuild` to rebuild all derived data from the source tables (nothing is lost: derived data is always rebuilt from them)"
    )]
    SchemaChanged(String),
    /// File-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}
