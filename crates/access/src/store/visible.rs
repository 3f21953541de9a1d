//! Which projects an account sees in a list: the command line's `aim project list` and the
//! web's `/projects` ask the same question.

use super::Store;
use crate::{Account, Capability, ProjectRole, StoreError, require};

impl Store {
    /// The projects `account` sees listed, with its role in each (`None`: it sees the project
    /// by its platform role, not as a member): every project for the roles that read any
    /// project (the agency), its own for the others, none for a disabled account. Reading one
    /// of them is still checked with `require_for_project`.
    pub fn visible_projects(
        &mut self,
        account: &Account,
    ) -> Result<Vec<(String, Option<ProjectRole>)>, StoreError> {
        if !account.enabled {
            return Ok(Vec::new());
        }
        if require(account, Capability::ReadProject).is_ok() {
            let mine: std::collections::BTreeMap<String, ProjectRole> =
                self.projects_of(account)?.into_iter().collect();
            return Ok(self
                .project_ids()?
                .into_iter()
                .map(|id| {
                    let role = mine.get(&id).copied();
                    (id, role)
                })
                .collect());
        }
        Ok(self
            .projects_of(account)?
            .into_iter()
            .map(|(id, r)| (id, Some(r)))
            .collect())
    }
}
