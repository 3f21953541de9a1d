//! The open Atlas: health indicators defined as data (`crates/atlas/indicators/`), computed
//! per area (2025 municipality, district, province, region, Belgium), year, sex and age group
//! from PATI, with crude and directly age–sex standardised rates and their 95 % intervals.
//! Every figure goes through the disclosure gate (`aim-disclosure`) before it is stored: a
//! figure whose counts are not released carries no number. docs/indicators.md is the spec.

pub mod compute;
pub mod export;
pub mod indicator;
pub mod standardise;
pub mod store;

pub use compute::{Atlas, Figure, Manifest, compute};
pub use indicator::Indicator;

/// What can go wrong in the Atlas.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    /// An indicator definition is invalid or its SQL fails.
    #[error("indicator definition: {0}")]
    Definition(String),
    /// The warehouse cannot be read.
    #[error("warehouse: {0}")]
    Warehouse(String),
    /// The disclosure gate refused.
    #[error("disclosure gate: {0}")]
    Gate(String),
    /// Reading or writing the Atlas's files failed.
    #[error("atlas files: {0}")]
    Io(String),
}
