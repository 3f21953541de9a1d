//! The disclosure gate: the only path by which a result table leaves the agency. A table of
//! counts of distinct units (persons) and sums, with all its margins, gets primary suppression
//! of small cells, secondary suppression so that no hidden cell can be recomputed or narrowed
//! from the margins, and an audit by linear programming whose bounds are the release's
//! certificate.

pub mod access;
pub mod audit;
pub mod differencing;
pub mod ledger;
pub mod provider;
pub mod release;
pub mod repair;
pub mod request;
pub mod suppress;
pub mod table;

pub use release::{Release, Source};
pub use request::TableRequest;
pub use suppress::{Pattern, Policy, Protection, Sensitive, Status, suppress, suppress_with};
pub use table::{Dimension, Table};

/// What can go wrong in the gate.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// The dimensions do not form hierarchies that add up.
    #[error("the table's dimensions do not add up: {0}")]
    Hierarchy(String),
    /// A unit appears twice: margins would count it twice.
    #[error(
        "unit {0} appears in more than one row: a table request must return one row per unit (aggregate first)"
    )]
    DuplicateUnit(String),
    /// The request is not valid or cannot run.
    #[error("table request: {0}")]
    Request(String),
    /// Writing the output failed.
    #[error("cannot write the release: {0}")]
    Io(String),
    /// The LP audit failed.
    #[error("the audit could not be completed: {0}")]
    Audit(String),
}
