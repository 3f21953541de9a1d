//! Reading insurer deliveries and checking their quality.
//!
//! A delivery is a folder with a manifest and CSV files (`docs/delivery-format.md`).
//! [`check_delivery`] reads it as a stream (never a whole file in memory), applies the
//! quality rules of `rules.toml` (each with a stable id, a level and a threshold), hands
//! the accepted rows to a [`RowSink`] as Arrow record batches, writes the rejected rows to
//! a feedback file for the insurer, and returns a [`QcReport`] whose verdict says whether
//! the delivery is accepted, accepted with rejected rows, or rejected whole.
//!
//! This crate never writes to the warehouse itself: the caller decides, from the verdict,
//! whether the batches it received are committed. It never lets a raw national number
//! through: a single one rejects the delivery.

pub mod check;
pub mod context;
pub mod delivery;
mod reader;
pub mod report;
pub mod rules;
pub mod testkit;
mod values;

pub use check::{RowSink, SinkError, check_delivery};
pub use context::{
    CheckContext, CrossIndex, LossConfirmation, PersonFacts, PopulationIndex, ReferenceCodes,
    ReplacedDelivery,
};
pub use delivery::{Delivery, DeliveryProblem, find_deliveries};
pub use report::{CorrectionCheck, QcReport, RuleResult, RuleStatus, Verdict};
pub use rules::{Level, RuleCatalog, Scope};

/// An error on the platform's side while ingesting (not a problem of the delivery, which
/// is reported in the [`QcReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Writing the feedback file or another output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file being written.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The sink (the warehouse writer) failed.
    #[error("the warehouse writer failed: {0}")]
    Sink(#[from] SinkError),
}
