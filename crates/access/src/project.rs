//! Projects in the store: who belongs to a project and in which role, and why an operation on
//! a stored project did not happen. The project itself (its sheet, states, documents and
//! history) is `aim_projects::Project`, rebuilt from its stored events on every read.

use crate::{Account, StoreError};
use aim_projects::{ProjectError, TransitionError};
use std::fmt;
use std::str::FromStr;

/// An account's role in one project (not a platform role: [`crate::Role`] is that).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectRole {
    /// Filed the project; one per project.
    Requester,
    /// Added to the project later (a researcher of the team, the agency's analyst on it).
    Member,
}

impl ProjectRole {
    /// `requester` or `member`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Requester => "requester",
            ProjectRole::Member => "member",
        }
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProjectRole {
    type Err = String;
    fn from_str(s: &str) -> Result<ProjectRole, String> {
        match s {
            "requester" => Ok(ProjectRole::Requester),
            "member" => Ok(ProjectRole::Member),
            other => Err(format!(
                "unknown project role '{other}': requester or member"
            )),
        }
    }
}

/// A member of a project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The account.
    pub account: Account,
    /// Its role in the project.
    pub role: ProjectRole,
    /// Who added it (e-mail).
    pub added_by: String,
    /// When (RFC 3339).
    pub added_at: String,
}

/// Why an operation on a stored project did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ProjectOpError {
    /// The workflow refuses it (wrong state, missing documents, no decision number, …):
    /// nothing was stored.
    #[error("refused: {0}")]
    Refused(#[from] TransitionError),
    /// The project cannot be created (an incomplete sheet) or a stored project does not replay.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
