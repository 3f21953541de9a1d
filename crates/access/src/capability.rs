//! What each role may do: one table, [`roles_for`], documented in docs/access.md (a test
//! keeps the two the same).

use crate::{AccessError, Account, Role};

/// Something a command or a page does that not everybody may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Read the open Atlas and its downloads (public: no account needed).
    ReadAtlas,
    /// Query the permanent sample with SQL (`aim sql --sample`).
    QuerySample,
    /// Query the full population with SQL, person-level rows included (`aim sql`).
    QueryPopulation,
    /// Release a gated (suppressed, audited) table computed on the sample (`aim table --source sample`).
    ReleaseSampleTable,
    /// Release a gated table computed on the full population (`aim table --source population`).
    ReleasePopulationTable,
    /// See a raw, unsuppressed table of the sample (`aim table --raw`).
    RawSampleTable,
    /// Check and load deliveries (`aim ingest`).
    Ingest,
    /// Confirm a held correction that removes rows (`aim confirm`).
    ConfirmCorrection,
    /// Import reference tables (`aim reference import`).
    ImportReference,
    /// Derive stays, PATI and the sample (`aim build`).
    Build,
    /// Compute the Atlas that the public reads (`aim atlas build`).
    PublishAtlas,
    /// See what the warehouse holds: deliveries, quarantine, derived years (`aim status`).
    ReadStatus,
    /// Create, list and disable accounts, issue keys (`aim account`).
    ManageAccounts,
    /// Read and verify the audit log (`aim audit`).
    ReadAudit,
}

impl Capability {
    /// Every capability, in a fixed order.
    pub const ALL: [Capability; 14] = [
        Capability::ReadAtlas,
        Capability::QuerySample,
        Capability::QueryPopulation,
        Capability::ReleaseSampleTable,
        Capability::ReleasePopulationTable,
        Capability::RawSampleTable,
        Capability::Ingest,
        Capability::ConfirmCorrection,
        Capability::ImportReference,
        Capability::Build,
        Capability::PublishAtlas,
        Capability::ReadStatus,
        Capability::ManageAccounts,
        Capability::ReadAudit,
    ];

    /// What it is, as a person says it ("querying the full population with SQL").
    pub fn describe(self) -> &'static str {
        match self {
            Capability::ReadAtlas => "reading the open Atlas",
            Capability::QuerySample => "querying the permanent sample with SQL",
            Capability::QueryPopulation => "querying the full population with SQL",
            Capability::ReleaseSampleTable => "releasing a table computed on the sample",
            Capability::ReleasePopulationTable => {
                "releasing a table computed on the full population"
            }
            Capability::RawSampleTable => "seeing a raw (unsuppressed) table of the sample",
            Capability::Ingest => "checking and loading deliveries",
            Capability::ConfirmCorrection => "confirming a held correction",
            Capability::ImportReference => "importing reference tables",
            Capability::Build => "deriving stays, PATI and the sample",
            Capability::PublishAtlas => "computing the public Atlas",
            Capability::ReadStatus => "seeing what the warehouse holds",
            Capability::ManageAccounts => "managing accounts",
            Capability::ReadAudit => "reading the audit log",
        }
    }

    /// True when anybody may do it, without an account.
    pub fn is_public(self) -> bool {
        roles_for(self).is_none()
    }
}

/// The roles that may do `capability`; `None` when it is public. The one table of who may
/// do what (docs/access.md, "Who may do what").
pub fn roles_for(capability: Capability) -> Option<&'static [Role]> {
    use Capability::*;
    use Role::*;
    Some(match capability {
        ReadAtlas => return None,
        QuerySample => &[SamplePartner, AgencyAnalyst, DataManager],
        QueryPopulation => &[DataManager],
        ReleaseSampleTable => &[SamplePartner, AgencyAnalyst, DataManager],
        ReleasePopulationTable => &[AgencyAnalyst, DataManager],
        RawSampleTable => &[SamplePartner, AgencyAnalyst, DataManager],
        Ingest | ConfirmCorrection | ImportReference | Build | PublishAtlas => &[DataManager],
        ReadStatus => &[AgencyAnalyst, DataManager],
        ManageAccounts | ReadAudit => &[Administrator],
    })
}

/// May `account` do `capability`? A refusal names the roles that would allow it; a
/// disabled account is refused everything but the public capabilities.
pub fn require(account: &Account, capability: Capability) -> Result<(), AccessError> {
    let Some(needed) = roles_for(capability) else {
        return Ok(());
    };
    if !account.enabled {
        return Err(AccessError::Disabled {
            account: account.to_string(),
        });
    }
    if needed.iter().any(|r| account.roles.contains(r)) {
        Ok(())
    } else {
        Err(AccessError::Refused {
            what: capability.describe(),
            needed: needed.to_vec(),
            account: account.to_string(),
            held: account.roles.iter().copied().collect(),
        })
    }
}

/// Proof that an account was allowed one capability: only this crate makes one, so a
/// function that takes a `Grant` cannot be reached without the check.
#[derive(Debug, Clone)]
pub struct Grant {
    capability: Capability,
    email: String,
    name: String,
}

impl Grant {
    /// The capability that was granted.
    pub fn capability(&self) -> Capability {
        self.capability
    }
    /// The account's e-mail (its login).
    pub fn email(&self) -> &str {
        &self.email
    }
    /// The account holder's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Raw, unsuppressed results on the permanent sample ([`Capability::RawSampleTable`]).
///
/// This is the seam where projects come in: the next step gives it the project the table
/// is for and grants only when that project is approved and `account` is its member
/// (docs/access.md, "Next: projects").
pub fn authorize_raw_sample(account: &Account) -> Result<Grant, AccessError> {
    require(account, Capability::RawSampleTable)?;
    Ok(Grant {
        capability: Capability::RawSampleTable,
        email: account.email.clone(),
        name: account.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountId;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn account(roles: &[Role], enabled: bool) -> Account {
        Account {
            id: AccountId(1),
            email: "a.peeters@example.be".into(),
            name: "A. Peeters".into(),
            organisation: "agency".into(),
            roles: roles.iter().copied().collect(),
            enabled,
            oidc: None,
        }
    }

    /// The table of docs/access.md, read back: (capability, roles) as documented.
    fn documented() -> Vec<(String, BTreeSet<String>)> {
        let doc = include_str!("../../../docs/access.md");
        let start = doc
            .find("<!-- capabilities -->")
            .expect("docs/access.md has the capability table");
        let end = doc.find("<!-- /capabilities -->").expect("table end");
        doc[start..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let cap = cells[1].trim_matches('`').to_string();
                let roles = cells[3]
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                (cap, roles)
            })
            .collect()
    }

    #[test]
    fn the_documented_table_is_the_table() {
        let doc = documented();
        assert_eq!(doc.len(), Capability::ALL.len(), "one row per capability");
        for (c, (name, roles)) in Capability::ALL.into_iter().zip(doc) {
            assert_eq!(format!("{c:?}"), name);
            let code: BTreeSet<String> = match roles_for(c) {
                None => ["public".to_string()].into(),
                Some(rs) => rs.iter().map(|r| r.as_str().to_string()).collect(),
            };
            assert_eq!(code, roles, "{name}");
        }
    }

    #[test]
    fn a_refusal_names_the_missing_role() {
        let e = require(
            &account(&[Role::AgencyAnalyst], true),
            Capability::QueryPopulation,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("needs the role data manager"), "{text}");
        assert!(text.contains("agency analyst"), "{text}");
        let e = require(&account(&[], true), Capability::QuerySample).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("sample partner, agency analyst or data manager"),
            "{text}"
        );
        assert!(text.contains("has no role"), "{text}");
        let e = require(&account(&[Role::DataManager], false), Capability::Ingest).unwrap_err();
        assert!(e.to_string().contains("disabled"), "{e}");
    }

    #[test]
    fn the_administrator_reads_no_data() {
        let admin = account(&[Role::Administrator], true);
        for c in [
            Capability::QuerySample,
            Capability::QueryPopulation,
            Capability::RawSampleTable,
            Capability::ReleaseSampleTable,
        ] {
            assert!(require(&admin, c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn a_grant_carries_its_capability() {
        let g = authorize_raw_sample(&account(&[Role::SamplePartner], true)).unwrap();
        assert_eq!(g.capability(), Capability::RawSampleTable);
        assert_eq!(g.email(), "a.peeters@example.be");
        assert!(authorize_raw_sample(&account(&[Role::ControlServices], true)).is_err());
    }

    proptest! {
        /// Random role sets × every capability, against the documented table.
        #[test]
        fn require_follows_the_documented_table(mask in 0u8..64, enabled: bool) {
            let roles: Vec<Role> = Role::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| r)
                .collect();
            let a = account(&roles, enabled);
            for (c, (_, documented)) in Capability::ALL.into_iter().zip(documented()) {
                let allowed = documented.contains("public")
                    || (enabled && roles.iter().any(|r| documented.contains(r.as_str())));
                let got = require(&a, c);
                prop_assert_eq!(got.is_ok(), allowed, "{:?} with {:?}", c, roles);
                if let Err(AccessError::Refused { needed, .. }) = got {
                    let needed: BTreeSet<String> =
                        needed.iter().map(|r| r.as_str().to_string()).collect();
                    prop_assert_eq!(&needed, &documented);
                }
            }
        }
    }
}
