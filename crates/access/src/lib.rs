//! Who may do what on the platform, and the record of what they did.
//!
//! Accounts carry roles given by the agency's missions ([`Role`]); each thing a command or a
//! page does is a [`Capability`], and [`require`] answers, from one table
//! ([`capability::roles_for`]), whether an account may do it — a refusal names the role that
//! is missing. Local accounts have passwords hashed with Argon2id ([`password`]); the command
//! line acts as an account through an API key in a key file ([`key`]). Accounts, keys and the
//! append-only, hash-chained audit log ([`audit`]) live in a [`Store`]: an embedded SQLite
//! file by default, PostgreSQL for a multi-user installation, with versioned migrations.
//! Projects live there too: their sheet, members and events, rebuilt on every read by
//! replaying the events through `aim_projects::Workflow` ([`Store::project`]); who may file,
//! read and move one is in the same table of capabilities.
//!
//! This crate never:
//! - stores a password or an API key in clear (an Argon2id hash, a SHA-256 digest);
//! - grants anything to a disabled account, to an unknown key, or to the public beyond the
//!   capabilities marked public;
//! - stores a project's state without the event that leads to it, or returns a stored
//!   project that its events do not rebuild;
//! - updates or deletes an audit entry (the tables refuse it, and [`Store::verify_audit`]
//!   finds the first entry that was edited, deleted or moved);
//! - reads the warehouse, or knows what a query or a table contains: callers name the action
//!   and its object.

pub mod account;
pub mod audit;
pub mod capability;
mod error;
pub mod key;
pub mod password;
pub mod project;
mod role;
pub mod session;
pub mod store;

pub use account::{Account, AccountId, NewAccount};
pub use audit::{AuditEntry, AuditEvent, Outcome, VerifyReport};
pub use capability::{
    Capability, Grant, authorize_release, capability_for_transition, release_covered, require,
    require_for_project,
};
pub use error::{AccessError, StoreError};
pub use project::{Member, ProjectOpError, ProjectRole};
pub use role::Role;
pub use session::{OpenedSession, SessionLimits, SessionRecord, SignInMethod};
pub use store::{Store, StoreLocation};
