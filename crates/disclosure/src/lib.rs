//! The disclosure gate: the only path by which a result leaves the agency.
//!
//! Everything goes through one door, [`Gate`]: opened once on a warehouse, it loads the release
//! ledger; [`Gate::release`] (tables), [`Gate::publish`] (the Atlas) tabulate the request
//! themselves (distinct coded persons), suppress small cells and cells whose amount one person
//! or provider dominates, hide more cells so that no hidden cell can be recomputed or narrowed
//! from the margins (an LP audit whose bounds are the release's certificate), audit the release
//! against every earlier release and publication so that no combination pins down a small
//! group of persons, record it in the ledger and only then write it. Suppression, the audit
//! and the ledger are private: no caller can skip them (a test of this crate's public surface
//! keeps it so; the `internals` feature opens them to the gate's own benchmark only).

mod audit;
mod contributor;
mod cross;
mod gate;
mod ledger;
mod lineage;
mod provider;
mod release;
mod repair;
mod request;
mod suppress;
mod table;
mod unions;

#[cfg(test)]
mod gate_tests;

pub use contributor::ContributorRule;
pub use gate::{Gate, Options, Outcome, Published};
pub use ledger::ATLAS as ATLAS_REQUESTER;
pub use release::{SMALL_CELL, Source};
pub use request::{DimensionSpec, MeasureSpec, ProviderSpec, Statistic, TableRequest, Unit};
pub use suppress::Policy;
pub use table::{Cell, Dimension, Node};

/// The gate's internals, for its own benchmark (`examples/gate_bench.rs`) only: suppression
/// without the ledger. Not enabled by any crate of the platform.
#[cfg(feature = "internals")]
pub mod internals {
    pub use crate::ledger::encode_status;
    pub use crate::suppress::{Pattern, Status, suppress};
    pub use crate::table::Table;
    use crate::{DisclosureError, Policy};

    /// A release already out, for [`settle_against`].
    pub struct EarlierTable {
        /// Its id.
        pub id: String,
        /// Its table (with its units).
        pub table: Table,
        /// Its cells' status.
        pub status: Vec<Status>,
        /// Its policy.
        pub policy: Policy,
        /// One of the Atlas's tables (checked by nested pairs).
        pub atlas: bool,
    }

    /// Suppresses `table` on its own, then audits it against `earlier` as the gate does (the
    /// ledger benchmark): its final pattern and the number of cells hidden because of the
    /// earlier releases.
    pub fn settle_against(
        table: &Table,
        policy: Policy,
        earlier: &[EarlierTable],
    ) -> Result<(Pattern, usize), DisclosureError> {
        let pattern = suppress(table, &policy)?;
        let earlier: Vec<crate::cross::Earlier> = earlier
            .iter()
            .map(|e| crate::cross::Earlier {
                id: &e.id,
                table: &e.table,
                status: &e.status,
                policy: e.policy,
                pairs_only: e.atlas,
            })
            .collect();
        let mut work = [crate::release::Settling::new(
            table,
            policy,
            Default::default(),
            pattern,
        )];
        crate::release::settle_all(&mut work, &earlier)?;
        let [w] = work;
        let n = w.differencing.len();
        Ok((w.pattern, n))
    }
}

/// What can go wrong in the gate.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// The dimensions do not form hierarchies that add up.
    #[error("the table's dimensions do not add up: {0}")]
    Hierarchy(String),
    /// A unit appears twice: margins would count it twice.
    #[error(
        "person {0} appears in more than one row: a table request must return one row per person (aggregate first)"
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
