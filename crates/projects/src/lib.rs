//! Data requests as projects: the request types of the agency's procedure (seed 003), the
//! project sheet, the path of a request through the programme managers and the committees,
//! the documents each step needs, the lead time of each state, and the price: quote and
//! invoice lines from the price list and the health index.
//!
//! Everything declarative is a data file in `data/`, embedded and validated on load: the
//! workflow (`workflow.toml`: states, documents, transitions, lead times), the prices
//! (`prices.toml`) and the health index (`health-index.toml`). docs/projects.md carries tables
//! generated from them (a test fails when they drift).
//!
//! This crate never does I/O inside its rules: a transition takes the project, the actor (an
//! account id) and the time, and returns a record or a typed error; nothing reads a clock, a
//! file or a database there. It never stores anything (persistence belongs to the access
//! store), never checks roles (the caller does), never computes money in floating point (cents
//! as integers; exact rounding rules), and never lets a project reach delivery without the
//! approvals, the committee's decision number and the documents its type requires.
//! The only writing is the explicit rendering of a quote ([`render`]) to files the caller names.

#![warn(missing_docs)]

mod docs;
mod forward;
mod index;
mod kind;
mod machine;
mod money;
mod prices;
mod quote;
pub mod render;
mod sheet;
mod workflow;

pub use docs::{generated_markdown, workflow_text};
pub use forward::{ForwardError, Step};
pub use index::HEALTH_INDEX_TOML;
pub use index::{HealthIndex, IndexError, IndexedRates, Month};
pub use kind::{Flag, RequestType};
pub use machine::{
    Attempt, Document, Project, ProjectData, ProjectError, TransitionError, TransitionRecord,
};
pub use money::{Cents, Quantity, QuantityError};
pub use prices::PRICES_TOML;
pub use prices::{FlatFee, PriceError, PriceList};
pub use quote::{Line, LineKind, Quote, QuoteError, QuoteRequest, invoice, quote};
pub use sheet::{Contact, ProjectSheet, SheetError};
pub use workflow::WORKFLOW_TOML;
pub use workflow::{
    DocumentDef, Guard, State, StateDef, TransitionDef, TypeDef, Workflow, WorkflowError,
};
