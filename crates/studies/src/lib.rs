//! The agency's recurring studies as reproducible commands whose definitions are data
//! (docs/studies.md). Each study asks the disclosure gate for its tables, for a project (the
//! `aim_access::Grant` of an agency study, or of the request it answers), through the gate's
//! one door; its report, charts and data files are then computed from the files the gate
//! wrote, read back ([`released`]), so none can carry a value the gate did not release.
//!
//! Studies so far: the concentration of spending ([`lorenz`], `aim study lorenz`), the
//! hospital cost barometer ([`barometer`], `aim study barometer`) and the Article 112 result
//! files ([`art112`], `aim study art112`).

#![warn(missing_docs)]

pub mod art112;
pub mod art112_report;
pub mod barometer;
pub mod barometer_report;
pub mod lorenz;
pub mod lorenz_report;
pub mod released;
pub mod run;

use std::path::PathBuf;

/// Why a study did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The study's definition is invalid.
    #[error("the study's definition is invalid: {0}")]
    Definition(String),
    /// The gate refused or failed a release (nothing of that table left).
    #[error("the gate did not release '{title}'")]
    Gate {
        /// The table's title.
        title: String,
        /// Why.
        #[source]
        source: aim_disclosure::DisclosureError,
    },
    /// A released file could not be read back.
    #[error("cannot read the released table {file}: {what}")]
    Released {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// An output could not be written.
    #[error("cannot write {file}")]
    Write {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The workbook could not be written.
    #[error("cannot write the workbook {file}: {what}")]
    Workbook {
        /// The file.
        file: PathBuf,
        /// What failed.
        what: String,
    },
    /// The warehouse could not be read.
    #[error("the warehouse: {0}")]
    Warehouse(String),
}
