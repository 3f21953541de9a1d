//! What each role may do: one table, [`roles_for`], documented in docs/access.md (a test
//! keeps the two the same).

use crate::{AccessError, Account, ProjectRole, Role};
use aim_projects::{Flag, Project, RequestType, State};
use std::collections::BTreeSet;

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
    /// Remove the warehouse's files that no readable version needs (`aim warehouse vacuum`).
    MaintainWarehouse,
    /// See what the warehouse holds: deliveries, quarantine, derived years (`aim status`).
    ReadStatus,
    /// Create, list and disable accounts, issue keys (`aim account`).
    ManageAccounts,
    /// Read and verify the audit log (`aim audit`).
    ReadAudit,
    /// File a request: create a project from its sheet, as its requester (`aim project file`).
    FileProject,
    /// Read a project: its sheet, state, history, documents, members, quote (`aim project
    /// show`, `quote ID`); also the project's own members.
    ReadProject,
    /// Act as the requester's side of a project: submit it, withdraw it, attach documents
    /// (`aim project move ID submit|withdraw`, `add-document`); also the project's own members.
    ActForProject,
    /// Move a project through the agency's own steps: the programme managers' review, the
    /// pre-analysis, the contract, the delivery, the closure (`aim project move`).
    ReviewProject,
    /// Record a committee's decision as the agency receives it: the steering committee, the
    /// sample technical committee (or its silence), the privacy committee's authorisation and
    /// its number (`aim project move ID approve|approve-by-silence|authorise|refuse`).
    RecordCommitteeDecision,
    /// Add members to a project (`aim project member`); also the project's requester.
    ManageProjectMembers,
}

impl Capability {
    /// Every capability, in a fixed order.
    pub const ALL: [Capability; 21] = [
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
        Capability::MaintainWarehouse,
        Capability::ReadStatus,
        Capability::ManageAccounts,
        Capability::ReadAudit,
        Capability::FileProject,
        Capability::ReadProject,
        Capability::ActForProject,
        Capability::ReviewProject,
        Capability::RecordCommitteeDecision,
        Capability::ManageProjectMembers,
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
            Capability::MaintainWarehouse => "removing the warehouse's unneeded files (vacuum)",
            Capability::ReadStatus => "seeing what the warehouse holds",
            Capability::ManageAccounts => "managing accounts",
            Capability::ReadAudit => "reading the audit log",
            Capability::FileProject => "filing a request for data",
            Capability::ReadProject => "reading a project",
            Capability::ActForProject => "acting for a project's requester",
            Capability::ReviewProject => "moving a project through the agency's steps",
            Capability::RecordCommitteeDecision => "recording a committee's decision on a project",
            Capability::ManageProjectMembers => "adding members to a project",
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
        Ingest | ConfirmCorrection | ImportReference | Build | PublishAtlas | MaintainWarehouse => {
            &[DataManager]
        }
        ReadStatus => &[AgencyAnalyst, DataManager],
        ManageAccounts | ReadAudit => &[Administrator],
        FileProject => &[Researcher, SamplePartner, AgencyAnalyst],
        ReadProject | ActForProject | ReviewProject => &[AgencyAnalyst, DataManager],
        RecordCommitteeDecision | ManageProjectMembers => &[AgencyAnalyst],
    })
}

/// Who else may do `capability` on one project, beyond the roles of [`roles_for`] (which may
/// on every project): `Member` — any member of that project, whatever its platform role;
/// `Requester` — only its requester; `None` — nobody else.
pub fn members_may(capability: Capability) -> Option<ProjectRole> {
    match capability {
        Capability::ReadProject | Capability::ActForProject => Some(ProjectRole::Member),
        Capability::ManageProjectMembers => Some(ProjectRole::Requester),
        _ => None,
    }
}

/// What moving a project by `action` from `from` needs: the requester's side submits and
/// withdraws; a committee's decision (from the steering committee, the sample technical
/// committee or the privacy committee) is recorded by the agency's analysts; every other step
/// is the agency's (docs/access.md, "Projects"). `from` is `None` when the project is not
/// known (then `refuse` counts as the programme managers').
pub fn capability_for_transition(action: &str, from: Option<State>) -> Capability {
    let committee = matches!(
        from,
        Some(State::Steering | State::SampleCommittee | State::Privacy)
    );
    match action {
        "submit" | "withdraw" => Capability::ActForProject,
        "approve" | "approve-by-silence" | "authorise" => Capability::RecordCommitteeDecision,
        "refuse" if committee => Capability::RecordCommitteeDecision,
        _ => Capability::ReviewProject,
    }
}

/// May `account` do `capability` on project `project`, where it is `membership` (`None`: not a
/// member, or no such project)? By role ([`roles_for`]), or by its role in the project
/// ([`members_may`]). A refusal names both ways; a disabled account is refused.
pub fn require_for_project(
    account: &Account,
    capability: Capability,
    project: &str,
    membership: Option<ProjectRole>,
) -> Result<(), AccessError> {
    let by_role = require(account, capability);
    let Err(refusal) = by_role else {
        return Ok(());
    };
    if !account.enabled {
        return Err(refusal);
    }
    let Some(scope) = members_may(capability) else {
        return Err(refusal);
    };
    let ok = matches!(
        (scope, membership),
        (ProjectRole::Member, Some(_)) | (ProjectRole::Requester, Some(ProjectRole::Requester))
    );
    if ok {
        return Ok(());
    }
    Err(AccessError::RefusedProject {
        what: capability.describe(),
        needed: roles_for(capability).unwrap_or_default().to_vec(),
        member: match scope {
            ProjectRole::Member => format!("a member of project {project}"),
            ProjectRole::Requester => format!("the requester of project {project}"),
        },
        account: account.to_string(),
        held: account.roles.iter().copied().collect(),
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

/// Proof that an account was allowed to take results out for one project: only this crate
/// makes one ([`authorize_release`]), so a function that takes a `Grant` cannot be reached
/// without the check.
#[derive(Debug, Clone)]
pub struct Grant {
    capability: Capability,
    email: String,
    name: String,
    project: String,
    organisation: String,
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
    /// The project the results are for.
    pub fn project(&self) -> &str {
        &self.project
    }
    /// The requester organisation of the project (from its sheet).
    pub fn organisation(&self) -> &str {
        &self.organisation
    }
}

/// The releases a type of request covers: `Ok` when `capability` (a table on the sample,
/// on the population, or a raw table of the sample) may be released for a project of this
/// type and these flags, else why not (seed 003 §2.2–§2.4).
pub fn release_covered(
    capability: Capability,
    request_type: RequestType,
    flags: &BTreeSet<Flag>,
) -> Result<(), &'static str> {
    use RequestType::*;
    match (capability, request_type) {
        (Capability::ReleaseSampleTable, SampleAggregate | AgencyStudy) => Ok(()),
        (Capability::ReleaseSampleTable, _) => {
            Err("tables on the sample are for 'sample-aggregate' requests and the agency's studies")
        }
        (Capability::ReleasePopulationTable, PopulationAggregate | AgencyStudy) => Ok(()),
        (Capability::ReleasePopulationTable, _) => Err(
            "tables on the whole population are for 'population-aggregate' requests and the agency's studies",
        ),
        (Capability::RawSampleTable, SampleAggregate) if flags.contains(&Flag::EpsPartner) => {
            Ok(())
        }
        (Capability::RawSampleTable, _) => Err(
            "raw sample results are only for a sample partner's own 'sample-aggregate' request (the sheet's eps_partner flag)",
        ),
        _ => Err("it is not a release of results"),
    }
}

/// May `account` take results out for `project` (its role in the project: `membership`)?
/// Yes when the account holds a role that allows `capability` (a table on the sample, on
/// the population, or a raw sample table), is a member of the project, the project is
/// preparing its delivery (state `production`: reviewed, approved by its committees,
/// authorised where needed and under contract) and its type covers this kind of result
/// ([`release_covered`]). Every refusal says which of these is missing.
pub fn authorize_release(
    account: &Account,
    capability: Capability,
    project: &Project,
    membership: Option<ProjectRole>,
) -> Result<Grant, AccessError> {
    require(account, capability)?;
    if membership.is_none() {
        return Err(AccessError::NotProjectMember {
            what: capability.describe(),
            project: project.id().to_string(),
            account: account.email.clone(),
        });
    }
    if project.state() != State::Production {
        return Err(AccessError::ProjectNotInProduction {
            project: project.id().to_string(),
            state: project.state().id().to_string(),
        });
    }
    release_covered(capability, project.request_type(), &project.flags()).map_err(|why| {
        AccessError::NotForThisProject {
            project: project.id().to_string(),
            request_type: project.request_type().id(),
            why,
        }
    })?;
    Ok(Grant {
        capability,
        email: account.email.clone(),
        name: account.name.clone(),
        project: project.id().to_string(),
        organisation: project.sheet().organisation.clone(),
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
    fn projects_by_role_or_by_membership() {
        let researcher = account(&[Role::Researcher], true);
        let e = require_for_project(&researcher, Capability::ReadProject, "P-2026-001", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("reading a project needs one of the roles agency analyst or data manager (or being a member of project P-2026-001)"),
            "{e}"
        );
        assert!(e.contains("has the role(s) researcher"), "{e}");
        for m in [ProjectRole::Requester, ProjectRole::Member] {
            require_for_project(&researcher, Capability::ReadProject, "P", Some(m)).unwrap();
            require_for_project(&researcher, Capability::ActForProject, "P", Some(m)).unwrap();
            // A member never records a committee's decision or the agency's steps.
            assert!(
                require_for_project(&researcher, Capability::ReviewProject, "P", Some(m)).is_err()
            );
            assert!(
                require_for_project(
                    &researcher,
                    Capability::RecordCommitteeDecision,
                    "P",
                    Some(m)
                )
                .is_err()
            );
        }
        let add = Capability::ManageProjectMembers;
        require_for_project(&researcher, add, "P", Some(ProjectRole::Requester)).unwrap();
        assert!(require_for_project(&researcher, add, "P", Some(ProjectRole::Member)).is_err());
        let off = account(&[Role::Researcher], false);
        let e = require_for_project(
            &off,
            Capability::ReadProject,
            "P",
            Some(ProjectRole::Member),
        );
        assert!(e.unwrap_err().to_string().contains("disabled"));
        let dm = account(&[Role::DataManager], true);
        require_for_project(&dm, Capability::ReadProject, "P", None).unwrap();
        assert!(require_for_project(&dm, Capability::RecordCommitteeDecision, "P", None).is_err());
    }

    #[test]
    fn committee_decisions_and_the_requester_steps() {
        use Capability::*;
        let cases = [
            ("submit", Some(State::Intake), ActForProject),
            ("withdraw", Some(State::Privacy), ActForProject),
            ("accept", Some(State::Review), ReviewProject),
            ("refuse", Some(State::Review), ReviewProject),
            ("refuse", None, ReviewProject),
            ("refuse", Some(State::Steering), RecordCommitteeDecision),
            (
                "refuse",
                Some(State::SampleCommittee),
                RecordCommitteeDecision,
            ),
            ("refuse", Some(State::Privacy), RecordCommitteeDecision),
            ("approve", Some(State::Steering), RecordCommitteeDecision),
            ("approve-by-silence", None, RecordCommitteeDecision),
            ("authorise", Some(State::Privacy), RecordCommitteeDecision),
            ("feasible", Some(State::PreAnalysis), ReviewProject),
            (
                "declare-impossible",
                Some(State::PreAnalysis),
                ReviewProject,
            ),
            ("sign", Some(State::Contract), ReviewProject),
            ("deliver", Some(State::Production), ReviewProject),
            ("close", Some(State::Delivered), ReviewProject),
        ];
        for (action, from, c) in cases {
            assert_eq!(
                capability_for_transition(action, from),
                c,
                "{action} {from:?}"
            );
        }
    }

    #[test]
    fn a_grant_carries_its_capability_project_and_organisation() {
        use aim_projects::{Project, ProjectSheet, Workflow};
        let mut sheet =
            ProjectSheet::from_toml(include_str!("../../../examples/project-sheet.toml")).unwrap();
        sheet.request_type = RequestType::SampleAggregate;
        sheet.eps_partner = true;
        let now = chrono::Utc::now();
        let mut p = Project::new("P-2026-007", sheet, "r@example.be", now).unwrap();
        p.advance(
            &Workflow::builtin(),
            State::Production,
            "r@example.be",
            "ref",
            "-",
            now,
        )
        .unwrap();
        let partner = account(&[Role::SamplePartner], true);
        let g = authorize_release(
            &partner,
            Capability::RawSampleTable,
            &p,
            Some(ProjectRole::Requester),
        )
        .unwrap();
        assert_eq!(g.capability(), Capability::RawSampleTable);
        assert_eq!(g.email(), "a.peeters@example.be");
        assert_eq!(g.project(), "P-2026-007");
        assert_eq!(
            g.organisation(),
            "Ghent University, Department of Public Health"
        );
        let refusal = authorize_release(
            &account(&[Role::ControlServices], true),
            Capability::RawSampleTable,
            &p,
            Some(ProjectRole::Member),
        )
        .unwrap_err();
        assert!(
            refusal.to_string().contains("needs one of the roles"),
            "{refusal}"
        );
        let refusal =
            authorize_release(&partner, Capability::RawSampleTable, &p, None).unwrap_err();
        assert!(
            refusal
                .to_string()
                .contains("for project P-2026-007 is for its members only"),
            "{refusal}"
        );
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

        /// A release is granted exactly to an enabled account with a role for it, member of
        /// the project, the project in production, its type covering the result (seed 003
        /// §2.2–§2.4: tables on the sample for sample requests, on the population for
        /// population requests, both for the agency's studies, raw sample results only for a
        /// sample partner's own sample request; never for coded data).
        #[test]
        fn a_release_needs_role_membership_production_and_a_covering_type(
            mask in 0u8..64,
            enabled: bool,
            member in 0u8..3,
            kind in 0usize..4,
            flag_mask in 0u8..8,
            step in 0usize..12,
            which in 0usize..3,
        ) {
            use aim_projects::{Project, ProjectSheet, Workflow};
            let roles: Vec<Role> = Role::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| r)
                .collect();
            let a = account(&roles, enabled);
            let membership = [None, Some(ProjectRole::Requester), Some(ProjectRole::Member)]
                [member as usize];
            let request_type = RequestType::ALL[kind];
            let mut sheet =
                ProjectSheet::from_toml(include_str!("../../../examples/project-sheet.toml"))
                    .unwrap();
            sheet.request_type = request_type;
            sheet.linked_sources = if flag_mask & 1 != 0 { vec!["registry".into()] } else { vec![] };
            sheet.complex = flag_mask & 2 != 0;
            sheet.eps_partner = flag_mask & 4 != 0;
            let flags = sheet.flags();
            let wf = Workflow::builtin();
            let path = wf.main_path(request_type, &flags);
            let now = chrono::Utc::now();
            let mut p = Project::new("P-2026-001", sheet, "r@example.be", now).unwrap();
            if let Some(tr) = path.get(step) {
                p.advance(&wf, tr.to, "r@example.be", "ref", "DEC/1", now).unwrap();
            }
            let capability = [
                Capability::ReleaseSampleTable,
                Capability::ReleasePopulationTable,
                Capability::RawSampleTable,
            ][which];
            let role_ok = enabled && roles_for(capability).unwrap().iter().any(|r| roles.contains(r));
            let covered = match (capability, request_type) {
                (Capability::ReleaseSampleTable, RequestType::SampleAggregate | RequestType::AgencyStudy) => true,
                (Capability::ReleasePopulationTable, RequestType::PopulationAggregate | RequestType::AgencyStudy) => true,
                (Capability::RawSampleTable, RequestType::SampleAggregate) => flags.contains(&Flag::EpsPartner),
                _ => false,
            };
            let expected = role_ok && membership.is_some() && p.state() == State::Production && covered;
            match authorize_release(&a, capability, &p, membership) {
                Ok(g) => {
                    prop_assert!(expected, "granted {:?} {:?} {:?} {:?}", capability, roles, membership, p.state());
                    prop_assert_eq!(g.project(), "P-2026-001");
                    prop_assert_eq!(g.capability(), capability);
                    prop_assert_eq!(g.email(), a.email.as_str());
                }
                Err(e) => prop_assert!(!expected, "refused: {}", e),
            }
        }
    }
}
