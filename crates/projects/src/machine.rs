//! A project and its transitions: pure functions of the project, the workflow, the actor and
//! the time the caller passes in.

use crate::kind::{Flag, RequestType};
use crate::sheet::{ProjectSheet, SheetError};
use crate::workflow::{Guard, State, TransitionDef, Workflow};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A document attached to a project (its content lives elsewhere; this is its record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The kind (`contract`, `privacy_decision`, ...), from the workflow's documents.
    pub kind: String,
    /// A reference to the document (file name, archive number).
    pub reference: String,
    /// Who added it (account id).
    pub added_by: String,
    /// When.
    pub added_at: DateTime<Utc>,
}

/// One transition, as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRecord {
    /// From this state.
    pub from: State,
    /// To this state.
    pub to: State,
    /// The action.
    pub action: String,
    /// Who acted (account id).
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// A free note (reason of a refusal, ...).
    pub note: Option<String>,
    /// The privacy committee's decision number, on an authorisation.
    pub decision_number: Option<String>,
}

/// An attempt to move a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The action (`submit`, `accept`, `approve`, `approve-by-silence`, `authorise`, ...).
    pub action: String,
    /// Who acts (account id).
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// A free note.
    pub note: Option<String>,
    /// The privacy committee's decision number (for `authorise`).
    pub decision_number: Option<String>,
}

impl Attempt {
    /// An attempt with no note and no decision number.
    pub fn new(action: &str, actor: &str, at: DateTime<Utc>) -> Attempt {
        Attempt {
            action: action.to_string(),
            actor: actor.to_string(),
            at,
            note: None,
            decision_number: None,
        }
    }
}

/// A request for data: its sheet, where it stands, its documents and its history.
///
/// Its fields are private: a project changes only through [`Workflow::apply`] and
/// [`Project::add_document`], and a stored project comes back only through
/// [`Project::replay`] (which deserialising calls), which re-applies every recorded event to the
/// workflow. So a project in `delivered` has passed every step, decision number and document its
/// type requires, however it was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProjectData")]
pub struct Project {
    id: String,
    sheet: ProjectSheet,
    state: State,
    entered_at: DateTime<Utc>,
    created_by: String,
    created_at: DateTime<Utc>,
    documents: Vec<Document>,
    history: Vec<TransitionRecord>,
}

/// What a store keeps of a project (the same fields as its serialised form); a project is
/// rebuilt from it by [`Project::replay`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectData {
    /// The project's identifier.
    pub id: String,
    /// The project sheet.
    pub sheet: ProjectSheet,
    /// The state it claims.
    pub state: State,
    /// When it entered that state.
    pub entered_at: DateTime<Utc>,
    /// Who created it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Its documents, in the order they were attached.
    pub documents: Vec<Document>,
    /// Its transitions, oldest first.
    pub history: Vec<TransitionRecord>,
}

impl TryFrom<ProjectData> for Project {
    type Error = ProjectError;
    fn try_from(d: ProjectData) -> Result<Project, ProjectError> {
        Project::replay(&Workflow::builtin(), d)
    }
}

/// Why a project cannot be created or rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The project sheet is incomplete or malformed.
    #[error(transparent)]
    Sheet(#[from] SheetError),
    /// Every project names the account that creates it.
    #[error("the actor is empty: every project names the account that creates it")]
    NoActor,
    /// A stored event is not allowed by the workflow.
    #[error("project {project}, stored event {index}: {source}")]
    Replay {
        /// The project.
        project: String,
        /// The event's position (documents and transitions in time order).
        index: usize,
        /// Why the workflow refuses it.
        #[source]
        source: TransitionError,
    },
    /// The stored project differs from its replay.
    #[error("project {project}: the stored {what} differs from what its events give")]
    Mismatch {
        /// The project.
        project: String,
        /// What differs.
        what: &'static str,
    },
}

/// Why a transition is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Nothing happens to a project in a final state.
    #[error("project {project} is {state}, a final state: no more transitions")]
    Terminal {
        /// The project.
        project: String,
        /// Its state.
        state: State,
    },
    /// The action does not exist from this state for this type (and flags).
    #[error("`{action}` is not possible for a {request_type} request in state {state}; possible here: {}", if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") })]
    WrongState {
        /// The action tried.
        action: String,
        /// The project's state.
        state: State,
        /// The project's type.
        request_type: RequestType,
        /// The actions possible from here.
        allowed: Vec<String>,
    },
    /// Documents the transition requires are missing.
    #[error("`{action}` ({from} → {to}) needs document(s) not yet attached: {}", missing.join(", "))]
    MissingDocuments {
        /// The action.
        action: String,
        /// From.
        from: State,
        /// To.
        to: State,
        /// Missing document kinds.
        missing: Vec<String>,
    },
    /// An authorisation without the committee's decision number.
    #[error("`{action}` needs the privacy committee's decision number (--decision-number)")]
    MissingDecisionNumber {
        /// The action.
        action: String,
    },
    /// Silence is not yet approval.
    #[error(
        "`{action}`: the sample committee's reply time ends at {deadline}; silence means approval only from then on"
    )]
    DeadlineNotReached {
        /// The action.
        action: String,
        /// When silence starts to mean approval.
        deadline: DateTime<Utc>,
    },
    /// Time must not run backwards in a project's history.
    #[error("the attempt is dated {at}, before the project's last event at {last}")]
    BeforeLastEvent {
        /// The attempt's time.
        at: DateTime<Utc>,
        /// The last event.
        last: DateTime<Utc>,
    },
    /// Every transition names who acts.
    #[error("the actor is empty: every transition names the account that acts")]
    NoActor,
    /// A document of a kind the workflow does not know.
    #[error("unknown document kind `{kind}`; known: {}", known.join(", "))]
    UnknownDocument {
        /// The kind given.
        kind: String,
        /// The known kinds.
        known: Vec<String>,
    },
}

impl Project {
    /// A new project at intake (the sheet is validated).
    pub fn new(
        id: &str,
        sheet: ProjectSheet,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<Project, ProjectError> {
        if actor.trim().is_empty() {
            return Err(ProjectError::NoActor);
        }
        sheet.validate()?;
        Ok(Project {
            id: id.to_string(),
            sheet,
            state: State::Intake,
            entered_at: at,
            created_by: actor.to_string(),
            created_at: at,
            documents: Vec::new(),
            history: Vec::new(),
        })
    }

    /// Rebuilds a stored project by re-applying its documents and transitions, in time order
    /// (at equal times a document before a transition), to the workflow; refused when an event
    /// is not allowed or the result differs from what was stored.
    pub fn replay(wf: &Workflow, d: ProjectData) -> Result<Project, ProjectError> {
        let mut p = Project::new(&d.id, d.sheet.clone(), &d.created_by, d.created_at)?;
        let mut docs = d.documents.iter().peekable();
        let mut index = 0;
        let fail = |index, source| ProjectError::Replay {
            project: d.id.clone(),
            index,
            source,
        };
        for r in &d.history {
            while let Some(doc) = docs.next_if(|doc| doc.added_at <= r.at) {
                p.add_document(wf, &doc.kind, &doc.reference, &doc.added_by, doc.added_at)
                    .map_err(|e| fail(index, e))?;
                index += 1;
            }
            let attempt = Attempt {
                action: r.action.clone(),
                actor: r.actor.clone(),
                at: r.at,
                note: r.note.clone(),
                decision_number: r.decision_number.clone(),
            };
            let got = wf.apply(&mut p, attempt).map_err(|e| fail(index, e))?;
            if &got != r {
                return Err(ProjectError::Mismatch {
                    project: d.id.clone(),
                    what: "transition record",
                });
            }
            index += 1;
        }
        for doc in docs {
            p.add_document(wf, &doc.kind, &doc.reference, &doc.added_by, doc.added_at)
                .map_err(|e| fail(index, e))?;
            index += 1;
        }
        if p.state != d.state || p.entered_at != d.entered_at {
            return Err(ProjectError::Mismatch {
                project: d.id.clone(),
                what: "state",
            });
        }
        Ok(p)
    }

    /// The project's identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The project sheet.
    pub fn sheet(&self) -> &ProjectSheet {
        &self.sheet
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// When the project entered its current state.
    pub fn entered_at(&self) -> DateTime<Utc> {
        self.entered_at
    }

    /// Who created it.
    pub fn created_by(&self) -> &str {
        &self.created_by
    }

    /// When.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The documents attached, in order.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// Every transition, oldest first.
    pub fn history(&self) -> &[TransitionRecord] {
        &self.history
    }

    /// The project's type.
    pub fn request_type(&self) -> RequestType {
        self.sheet.request_type
    }

    /// The flags of its sheet.
    pub fn flags(&self) -> BTreeSet<Flag> {
        self.sheet.flags()
    }

    /// True when a document of this kind is attached.
    pub fn has_document(&self, kind: &str) -> bool {
        self.documents.iter().any(|d| d.kind == kind)
    }

    fn last_event(&self) -> DateTime<Utc> {
        let docs = self.documents.iter().map(|d| d.added_at);
        docs.chain([self.entered_at]).max().expect("entered_at")
    }

    /// The privacy committee's decision number, once authorised.
    pub fn decision_number(&self) -> Option<&str> {
        self.history
            .iter()
            .find_map(|r| r.decision_number.as_deref())
    }

    /// Attaches a document (a pure update; the content is stored by the caller).
    pub fn add_document(
        &mut self,
        wf: &Workflow,
        kind: &str,
        reference: &str,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if actor.trim().is_empty() {
            return Err(TransitionError::NoActor);
        }
        if wf.document(kind).is_none() {
            return Err(TransitionError::UnknownDocument {
                kind: kind.to_string(),
                known: wf.documents().iter().map(|d| d.id.clone()).collect(),
            });
        }
        if wf.state(self.state).terminal {
            return Err(TransitionError::Terminal {
                project: self.id.clone(),
                state: self.state,
            });
        }
        if at < self.last_event() {
            return Err(TransitionError::BeforeLastEvent {
                at,
                last: self.last_event(),
            });
        }
        self.documents.push(Document {
            kind: kind.to_string(),
            reference: reference.to_string(),
            added_by: actor.to_string(),
            added_at: at,
        });
        Ok(())
    }
}

impl Workflow {
    /// When silence of the sample committee starts to mean approval, for a project in
    /// that committee's state.
    pub fn committee_deadline(&self, p: &Project) -> Option<DateTime<Utc>> {
        (p.state == State::SampleCommittee)
            .then(|| p.entered_at + Duration::days(i64::from(self.sample_committee.reply_days)))
    }

    /// When the project is expected to leave its state (entry + the type's lead time).
    pub fn expected_exit(&self, p: &Project) -> Option<DateTime<Utc>> {
        self.lead_time(p.request_type(), p.state)
            .map(|d| p.entered_at + Duration::days(i64::from(d)))
    }

    /// Checks an attempt without changing anything: the transition it would take.
    pub fn check(&self, p: &Project, a: &Attempt) -> Result<&TransitionDef, TransitionError> {
        if a.actor.trim().is_empty() {
            return Err(TransitionError::NoActor);
        }
        if self.state(p.state).terminal {
            return Err(TransitionError::Terminal {
                project: p.id.clone(),
                state: p.state,
            });
        }
        if a.at < p.last_event() {
            return Err(TransitionError::BeforeLastEvent {
                at: a.at,
                last: p.last_event(),
            });
        }
        let flags = p.flags();
        let open = self.transitions_from(p.request_type(), &flags, p.state);
        let Some(tr) = open.iter().find(|tr| tr.action == a.action).copied() else {
            let mut allowed: Vec<String> = open.iter().map(|tr| tr.action.clone()).collect();
            allowed.dedup();
            return Err(TransitionError::WrongState {
                action: a.action.clone(),
                state: p.state,
                request_type: p.request_type(),
                allowed,
            });
        };
        let missing: Vec<String> = tr
            .required_documents(&flags)
            .into_iter()
            .filter(|d| !p.has_document(d))
            .map(str::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(TransitionError::MissingDocuments {
                action: tr.action.clone(),
                from: tr.from,
                to: tr.to,
                missing,
            });
        }
        match tr.guard {
            Some(Guard::DecisionNumber)
                if a.decision_number
                    .as_deref()
                    .is_none_or(|n| !valid_decision_number(n)) =>
            {
                return Err(TransitionError::MissingDecisionNumber {
                    action: tr.action.clone(),
                });
            }
            Some(Guard::Deadline) => {
                let deadline = self
                    .committee_deadline(p)
                    .expect("guard only from the committee");
                if a.at < deadline {
                    return Err(TransitionError::DeadlineNotReached {
                        action: tr.action.clone(),
                        deadline,
                    });
                }
            }
            _ => {}
        }
        Ok(tr)
    }

    /// Applies an attempt: on success the project moves and the record is returned (and kept
    /// in the project's history); on failure the project is unchanged.
    pub fn apply(&self, p: &mut Project, a: Attempt) -> Result<TransitionRecord, TransitionError> {
        let tr = self.check(p, &a)?;
        let record = TransitionRecord {
            from: tr.from,
            to: tr.to,
            action: tr.action.clone(),
            actor: a.actor,
            at: a.at,
            note: a.note.filter(|n| !n.trim().is_empty()),
            decision_number: match tr.guard {
                Some(Guard::DecisionNumber) => a.decision_number.map(|n| n.trim().to_string()),
                _ => None,
            },
        };
        p.state = tr.to;
        p.entered_at = a.at;
        p.history.push(record.clone());
        Ok(record)
    }
}

/// A decision number: not blank, with at least one digit (the committee numbers its
/// deliberations like `22/274`; older formats vary, so no stricter pattern).
fn valid_decision_number(n: &str) -> bool {
    let n = n.trim();
    !n.is_empty() && n.len() <= 64 && n.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sheet::tests::SHEET;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap() + Duration::days(i64::from(day))
    }

    fn project(kind: &str, linked: bool) -> Project {
        let mut text = SHEET.replace("type = \"coded-data\"", &format!("type = \"{kind}\""));
        if !linked {
            text = text.replace("linked_sources = [\"Cancer registry\"]", "");
        }
        let sheet = ProjectSheet::from_toml(&text).unwrap();
        Project::new("P-1", sheet, "requester", t(0)).unwrap()
    }

    fn go(
        wf: &Workflow,
        p: &mut Project,
        action: &str,
        day: u32,
    ) -> Result<TransitionRecord, TransitionError> {
        wf.apply(p, Attempt::new(action, "agent", t(day)))
    }

    #[test]
    fn a_coded_data_request_goes_through_with_its_documents_and_decision_number() {
        let wf = Workflow::builtin();
        let mut p = project("coded-data", true);
        let e = go(&wf, &mut p, "submit", 1).unwrap_err();
        assert!(
            matches!(&e, TransitionError::MissingDocuments { missing, .. } if missing == &["project_sheet"])
        );
        assert_eq!(
            p.state(),
            State::Intake,
            "a refused attempt changes nothing"
        );
        p.add_document(&wf, "project_sheet", "sheet.pdf", "requester", t(1))
            .unwrap();
        let r = go(&wf, &mut p, "submit", 2).unwrap();
        assert_eq!(
            (r.from, r.to, r.actor.as_str(), r.at),
            (State::Intake, State::Review, "agent", t(2))
        );
        go(&wf, &mut p, "accept", 3).unwrap();
        let e = go(&wf, &mut p, "approve", 4).unwrap_err();
        assert!(e.to_string().contains("authorisation_request"), "{e}");
        p.add_document(&wf, "authorisation_request", "req.pdf", "agent", t(4))
            .unwrap();
        go(&wf, &mut p, "approve", 5).unwrap();
        assert_eq!(p.state(), State::Privacy);
        p.add_document(&wf, "privacy_decision", "deliberation.pdf", "agent", t(60))
            .unwrap();
        let e = go(&wf, &mut p, "authorise", 61).unwrap_err();
        assert_eq!(
            e,
            TransitionError::MissingDecisionNumber {
                action: "authorise".into()
            }
        );
        let mut a = Attempt::new("authorise", "agent", t(61));
        a.decision_number = Some("  ".into());
        assert!(matches!(
            wf.apply(&mut p, a.clone()),
            Err(TransitionError::MissingDecisionNumber { .. })
        ));
        a.decision_number = Some("26/017".into());
        let r = wf.apply(&mut p, a).unwrap();
        assert_eq!(r.decision_number.as_deref(), Some("26/017"));
        assert_eq!(p.decision_number(), Some("26/017"));
        p.add_document(&wf, "contract", "c.pdf", "agent", t(70))
            .unwrap();
        p.add_document(&wf, "selection_document", "s.xlsx", "agent", t(70))
            .unwrap();
        let e = go(&wf, &mut p, "sign", 71).unwrap_err();
        assert!(
            matches!(&e, TransitionError::MissingDocuments { missing, .. } if missing == &["ttp_dossier"]),
            "{e}"
        );
        p.add_document(&wf, "ttp_dossier", "ttp.pdf", "agent", t(71))
            .unwrap();
        go(&wf, &mut p, "sign", 72).unwrap();
        let e = go(&wf, &mut p, "deliver", 100).unwrap_err();
        assert!(e.to_string().contains("scra"), "{e}");
        p.add_document(&wf, "scra", "scra.pdf", "agent", t(100))
            .unwrap();
        go(&wf, &mut p, "deliver", 101).unwrap();
        go(&wf, &mut p, "close", 900).unwrap();
        assert_eq!(p.history().len(), 7);
        let e = go(&wf, &mut p, "close", 901).unwrap_err();
        assert!(matches!(e, TransitionError::Terminal { .. }));
    }

    #[test]
    fn silence_of_the_sample_committee_approves_only_after_its_deadline() {
        let wf = Workflow::builtin();
        let mut p = project("sample-aggregate", false);
        p.add_document(&wf, "project_sheet", "form.pdf", "requester", t(0))
            .unwrap();
        go(&wf, &mut p, "submit", 1).unwrap();
        go(&wf, &mut p, "accept", 2).unwrap();
        assert_eq!(p.state(), State::SampleCommittee);
        p.add_document(&wf, "ctep_privacy_opinion", "mail.eml", "agent", t(5))
            .unwrap();
        let deadline = t(2 + 14);
        assert_eq!(wf.committee_deadline(&p), Some(deadline));
        let e = go(&wf, &mut p, "approve-by-silence", 15).unwrap_err();
        assert_eq!(
            e,
            TransitionError::DeadlineNotReached {
                action: "approve-by-silence".into(),
                deadline
            }
        );
        let r = go(&wf, &mut p, "approve-by-silence", 16).unwrap();
        assert_eq!(r.to, State::Contract);
    }

    #[test]
    fn wrong_states_name_the_possible_actions_and_time_cannot_run_back() {
        let wf = Workflow::builtin();
        let mut p = project("population-aggregate", false);
        let e = go(&wf, &mut p, "deliver", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`deliver` is not possible for a population-aggregate request in state intake; possible here: submit, withdraw"
        );
        p.add_document(&wf, "project_sheet", "s", "r", t(3))
            .unwrap();
        let e = go(&wf, &mut p, "submit", 2).unwrap_err();
        assert!(matches!(e, TransitionError::BeforeLastEvent { .. }));
        let e = wf
            .apply(&mut p, Attempt::new("submit", " ", t(4)))
            .unwrap_err();
        assert_eq!(e, TransitionError::NoActor);
        let e = p.add_document(&wf, "passport", "x", "r", t(4)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown document kind `passport`")
        );
    }

    #[test]
    fn a_population_request_can_prove_impossible_after_its_pre_analysis() {
        let wf = Workflow::builtin();
        let mut p = project("population-aggregate", false);
        p.add_document(&wf, "project_sheet", "s", "r", t(0))
            .unwrap();
        go(&wf, &mut p, "submit", 1).unwrap();
        p.add_document(&wf, "cost_agreement", "mail", "r", t(1))
            .unwrap();
        go(&wf, &mut p, "accept", 2).unwrap();
        assert_eq!(p.state(), State::PreAnalysis);
        assert_eq!(wf.expected_exit(&p), Some(t(2 + 20)));
        let mut a = Attempt::new("declare-impossible", "analyst", t(20));
        a.note = Some("the flags cannot be built on the population".into());
        let r = wf.apply(&mut p, a).unwrap();
        assert_eq!(r.to, State::Impossible);
        assert_eq!(
            r.note.as_deref(),
            Some("the flags cannot be built on the population")
        );
    }

    #[test]
    fn projects_serialise_and_come_back_only_through_their_replay() {
        let wf = Workflow::builtin();
        let mut p = project("coded-data", false);
        p.add_document(&wf, "project_sheet", "s", "r", t(0))
            .unwrap();
        go(&wf, &mut p, "submit", 1).unwrap();
        go(&wf, &mut p, "accept", 1).unwrap();
        p.add_document(&wf, "authorisation_request", "a", "r", t(1))
            .unwrap();
        go(&wf, &mut p, "approve", 2).unwrap();
        p.add_document(&wf, "privacy_decision", "d", "r", t(40))
            .unwrap();
        let mut a = Attempt::new("authorise", "agent", t(41));
        a.decision_number = Some("26/017".into());
        wf.apply(&mut p, a).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: Project = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert!(json.contains("\"state\":\"contract\""), "{json}");

        // A stored project that claims a state its events do not reach is refused.
        let forged = json.replace("\"state\":\"contract\"", "\"state\":\"delivered\"");
        let e = serde_json::from_str::<Project>(&forged)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the stored state differs"), "{e}");
        // So is one whose authorisation lost its decision number, or its committee decision.
        let forged = json.replace("\"decision_number\":\"26/017\"", "\"decision_number\":null");
        let e = serde_json::from_str::<Project>(&forged)
            .unwrap_err()
            .to_string();
        assert!(e.contains("decision number"), "{e}");
        let data: ProjectData = serde_json::from_str(&json).unwrap();
        let mut cut = data.clone();
        cut.documents.retain(|d| d.kind != "privacy_decision");
        let e = Project::replay(&wf, cut).unwrap_err();
        assert!(
            matches!(
                &e,
                ProjectError::Replay {
                    source: TransitionError::MissingDocuments { .. },
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(Project::replay(&wf, data).unwrap(), p);
    }
}
