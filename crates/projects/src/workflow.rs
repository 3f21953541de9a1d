//! The workflow as data (`data/workflow.toml`): states, documents, request types with their
//! lead times, and the transitions between states, loaded and validated.

use crate::kind::{Flag, RequestType};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The workflow shipped with the crate.
pub const WORKFLOW_TOML: &str = include_str!("../data/workflow.toml");

/// A state of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The requester fills in the project sheet.
    Intake,
    /// The programme managers evaluate the request.
    Review,
    /// The steering and coordination committee (SCC) decides.
    Steering,
    /// Pre-analysis of a population request (feasibility, dataset, programs).
    PreAnalysis,
    /// The sample technical committee (CTEP) is consulted; silence past its deadline approves.
    SampleCommittee,
    /// Waiting for the privacy committee's authorisation.
    Privacy,
    /// Contract (or, for result files, the requester's agreement to the quote).
    Contract,
    /// The agency prepares the delivery.
    Production,
    /// Delivered.
    Delivered,
    /// Closed.
    Closed,
    /// Refused by the programme managers or a committee.
    Refused,
    /// Withdrawn by the requester.
    Withdrawn,
    /// Found impossible in the pre-analysis.
    Impossible,
}

impl State {
    /// Every state.
    pub const ALL: [State; 13] = [
        State::Intake,
        State::Review,
        State::Steering,
        State::PreAnalysis,
        State::SampleCommittee,
        State::Privacy,
        State::Contract,
        State::Production,
        State::Delivered,
        State::Closed,
        State::Refused,
        State::Withdrawn,
        State::Impossible,
    ];

    /// The identifier used in data files.
    pub fn id(self) -> &'static str {
        match self {
            State::Intake => "intake",
            State::Review => "review",
            State::Steering => "steering",
            State::PreAnalysis => "pre_analysis",
            State::SampleCommittee => "sample_committee",
            State::Privacy => "privacy",
            State::Contract => "contract",
            State::Production => "production",
            State::Delivered => "delivered",
            State::Closed => "closed",
            State::Refused => "refused",
            State::Withdrawn => "withdrawn",
            State::Impossible => "impossible",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What must hold, besides documents, for a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guard {
    /// The sample technical committee's reply time has passed since the project entered
    /// the committee's state (silence means approval).
    Deadline,
    /// The privacy committee's decision number is given.
    DecisionNumber,
}

/// A state's labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// The state.
    pub id: State,
    /// English label.
    pub en: String,
    /// French label.
    pub fr: String,
    /// Dutch label.
    pub nl: String,
    /// A final state.
    #[serde(default)]
    pub terminal: bool,
}

/// A kind of document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDef {
    /// Identifier (`project_sheet`, `contract`, ...).
    pub id: String,
    /// English label.
    pub en: String,
    /// French label.
    pub fr: String,
    /// Dutch label.
    pub nl: String,
    /// Where the seed asks for it.
    pub source: String,
}

/// How the seed states a type's total lead time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TotalRule {
    /// On average, about.
    About,
    /// At least.
    AtLeast,
    /// More than.
    MoreThan,
}

/// A request type: its labels, what it delivers, and the lead time of each state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeDef {
    /// The type.
    pub id: RequestType,
    /// English label.
    pub en: String,
    /// French label.
    pub fr: String,
    /// Dutch label.
    pub nl: String,
    /// The seed's section.
    pub section: String,
    /// What is delivered.
    pub delivery: String,
    /// When an authorisation is needed.
    pub authorisation: String,
    /// The seed's total time from request to delivery, in days.
    pub total_days: u32,
    /// How the seed states the total.
    pub total_rule: TotalRule,
    /// Where the total comes from.
    pub total_source: String,
    /// Where the split over states comes from.
    pub lead_time_source: String,
    /// Expected days in each state.
    pub lead_time_days: BTreeMap<State, u32>,
}

/// A transition of the workflow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionDef {
    /// The action's name (`submit`, `approve`, ...).
    pub action: String,
    /// From this state.
    pub from: State,
    /// To this state.
    pub to: State,
    /// For these request types.
    pub types: Vec<RequestType>,
    /// Only when the sheet has this flag.
    #[serde(default)]
    pub when: Option<Flag>,
    /// Only when the sheet has not this flag.
    #[serde(default)]
    pub unless: Option<Flag>,
    /// A condition besides documents.
    #[serde(default)]
    pub guard: Option<Guard>,
    /// Documents present before the transition.
    #[serde(default)]
    pub documents: Vec<String>,
    /// More documents under a flag.
    #[serde(default)]
    pub documents_if: BTreeMap<Flag, Vec<String>>,
    /// Where the seed says so (or `assumption: ...`).
    pub source: String,
}

impl TransitionDef {
    /// True when the transition applies to this type with these flags.
    pub fn applies(&self, t: RequestType, flags: &BTreeSet<Flag>) -> bool {
        self.types.contains(&t)
            && self.when.is_none_or(|f| flags.contains(&f))
            && self.unless.is_none_or(|f| !flags.contains(&f))
    }

    /// The documents required for a project with these flags.
    pub fn required_documents(&self, flags: &BTreeSet<Flag>) -> Vec<&str> {
        let mut docs: Vec<&str> = self.documents.iter().map(String::as_str).collect();
        for (flag, more) in &self.documents_if {
            if flags.contains(flag) {
                docs.extend(more.iter().map(String::as_str));
            }
        }
        docs
    }

    /// The condition in words, when there is one.
    pub fn condition_text(&self) -> Option<String> {
        match (self.when, self.unless) {
            (Some(w), Some(u)) => Some(format!("{w} and not {u}")),
            (Some(w), None) => Some(w.to_string()),
            (None, Some(u)) => Some(format!("not {u}")),
            (None, None) => None,
        }
    }
}

/// The sample technical committee's reply time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitteeDeadline {
    /// Days after the request reaches the committee; silence after them means approval.
    pub reply_days: u32,
    /// Where the figure comes from.
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkflowFile {
    sample_committee: CommitteeDeadline,
    state: Vec<StateDef>,
    document: Vec<DocumentDef>,
    #[serde(rename = "type")]
    types: Vec<TypeDef>,
    transition: Vec<TransitionDef>,
}

/// Why a workflow file is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The TOML does not parse.
    #[error("workflow file: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file contradicts itself or misses a definition.
    #[error("workflow file: {0}")]
    Invalid(String),
}

/// The validated workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The sample technical committee's reply time.
    pub sample_committee: CommitteeDeadline,
    states: Vec<StateDef>,
    documents: Vec<DocumentDef>,
    types: Vec<TypeDef>,
    transitions: Vec<TransitionDef>,
}

/// Every combination of flags.
pub(crate) fn flag_sets() -> Vec<BTreeSet<Flag>> {
    (0..1u8 << Flag::ALL.len())
        .map(|bits| {
            Flag::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect()
        })
        .collect()
}

impl Workflow {
    /// The workflow shipped with the crate (`data/workflow.toml`).
    pub fn builtin() -> Workflow {
        Workflow::from_toml(WORKFLOW_TOML).expect("the shipped workflow is valid (tested)")
    }

    /// Parses and validates a workflow file.
    pub fn from_toml(text: &str) -> Result<Workflow, WorkflowError> {
        let f: WorkflowFile = toml::from_str(text)?;
        let wf = Workflow {
            sample_committee: f.sample_committee,
            states: f.state,
            documents: f.document,
            types: f.types,
            transitions: f.transition,
        };
        wf.validate().map_err(WorkflowError::Invalid)?;
        Ok(wf)
    }

    fn validate(&self) -> Result<(), String> {
        for s in State::ALL {
            let n = self.states.iter().filter(|d| d.id == s).count();
            if n != 1 {
                return Err(format!("state `{s}` is defined {n} times (once expected)"));
            }
        }
        let mut ids = BTreeSet::new();
        for d in &self.documents {
            if !ids.insert(d.id.as_str()) {
                return Err(format!("document `{}` is defined twice", d.id));
            }
        }
        for t in RequestType::ALL {
            let n = self.types.iter().filter(|d| d.id == t).count();
            if n != 1 {
                return Err(format!("type `{t}` is defined {n} times (once expected)"));
            }
        }
        if self.sample_committee.reply_days == 0 {
            return Err("the sample committee's reply_days must be positive".into());
        }
        for tr in &self.transitions {
            let at = format!("transition `{}` {} → {}", tr.action, tr.from, tr.to);
            if self.state(tr.from).terminal {
                return Err(format!("{at}: leaves a terminal state"));
            }
            if tr.types.is_empty() {
                return Err(format!("{at}: applies to no type"));
            }
            if tr.when.is_some() && tr.when == tr.unless {
                return Err(format!("{at}: `when` and `unless` the same flag"));
            }
            for d in tr
                .documents
                .iter()
                .chain(tr.documents_if.values().flatten())
            {
                if !ids.contains(d.as_str()) {
                    return Err(format!("{at}: unknown document `{d}`"));
                }
            }
            match tr.guard {
                Some(Guard::Deadline) if tr.from != State::SampleCommittee => {
                    return Err(format!(
                        "{at}: the deadline guard belongs to the sample committee"
                    ));
                }
                Some(Guard::DecisionNumber) if tr.from != State::Privacy => {
                    return Err(format!(
                        "{at}: the decision number belongs to the privacy committee"
                    ));
                }
                _ => {}
            }
        }
        // One transition at most for a (type, flags, state, action): the path is determined.
        for t in RequestType::ALL {
            for flags in flag_sets() {
                let mut seen = BTreeSet::new();
                for tr in self.transitions.iter().filter(|tr| tr.applies(t, &flags)) {
                    if !seen.insert((tr.from, tr.action.as_str())) {
                        return Err(format!(
                            "type `{t}` with flags {flags:?}: two transitions `{}` from {}",
                            tr.action, tr.from
                        ));
                    }
                }
                self.validate_paths(t, &flags)?;
            }
        }
        Ok(())
    }

    /// Delivery is reachable, every reachable non-terminal state has a lead time and a way out.
    fn validate_paths(&self, t: RequestType, flags: &BTreeSet<Flag>) -> Result<(), String> {
        let reach = self.reachable(t, flags);
        if !reach.contains(&State::Delivered) || !reach.contains(&State::Closed) {
            return Err(format!(
                "type `{t}` with flags {flags:?}: delivery or closure unreachable"
            ));
        }
        let lead = &self.type_def(t).lead_time_days;
        for s in &reach {
            if self.state(*s).terminal {
                continue;
            }
            if !lead.contains_key(s) {
                return Err(format!("type `{t}`: no lead time for reachable state {s}"));
            }
            if !self
                .transitions
                .iter()
                .any(|tr| tr.from == *s && tr.applies(t, flags))
            {
                return Err(format!(
                    "type `{t}` with flags {flags:?}: no way out of {s}"
                ));
            }
        }
        Ok(())
    }

    /// The states a project of this type and flags can reach from intake.
    pub fn reachable(&self, t: RequestType, flags: &BTreeSet<Flag>) -> BTreeSet<State> {
        let mut reach = BTreeSet::from([State::Intake]);
        let mut todo = vec![State::Intake];
        while let Some(s) = todo.pop() {
            for tr in self
                .transitions
                .iter()
                .filter(|tr| tr.from == s && tr.applies(t, flags))
            {
                if reach.insert(tr.to) {
                    todo.push(tr.to);
                }
            }
        }
        reach
    }

    /// The forward path of a request of this type and flags from intake to closure: at each
    /// state the transition that does not end in refusal, withdrawal or impossibility.
    pub fn main_path(&self, t: RequestType, flags: &BTreeSet<Flag>) -> Vec<&TransitionDef> {
        let mut path = Vec::new();
        let mut s = State::Intake;
        while s != State::Closed {
            let next = self.transitions.iter().find(|tr| {
                tr.from == s
                    && tr.applies(t, flags)
                    && (!self.state(tr.to).terminal || tr.to == State::Closed)
                    && tr.guard != Some(Guard::Deadline)
            });
            match next {
                Some(tr) => {
                    path.push(tr);
                    s = tr.to;
                }
                None => break,
            }
        }
        path
    }

    /// A state's definition.
    pub fn state(&self, s: State) -> &StateDef {
        self.states
            .iter()
            .find(|d| d.id == s)
            .expect("validated: every state defined")
    }

    /// A type's definition.
    pub fn type_def(&self, t: RequestType) -> &TypeDef {
        self.types
            .iter()
            .find(|d| d.id == t)
            .expect("validated: every type defined")
    }

    /// A document's definition.
    pub fn document(&self, id: &str) -> Option<&DocumentDef> {
        self.documents.iter().find(|d| d.id == id)
    }

    /// Every document kind.
    pub fn documents(&self) -> &[DocumentDef] {
        &self.documents
    }

    /// Every transition.
    pub fn transitions(&self) -> &[TransitionDef] {
        &self.transitions
    }

    /// The transitions open from `state` to a project of this type and flags.
    pub fn transitions_from(
        &self,
        t: RequestType,
        flags: &BTreeSet<Flag>,
        state: State,
    ) -> Vec<&TransitionDef> {
        self.transitions
            .iter()
            .filter(|tr| tr.from == state && tr.applies(t, flags))
            .collect()
    }

    /// The documents checklist of a type in a state: every document a transition out of the
    /// state asks for, with the transitions that ask for it.
    pub fn checklist(
        &self,
        t: RequestType,
        flags: &BTreeSet<Flag>,
        state: State,
    ) -> Vec<(&DocumentDef, Vec<&str>)> {
        let mut out: Vec<(&DocumentDef, Vec<&str>)> = Vec::new();
        for tr in self.transitions_from(t, flags, state) {
            for d in tr.required_documents(flags) {
                let def = self.document(d).expect("validated: known document");
                match out.iter_mut().find(|(x, _)| x.id == def.id) {
                    Some((_, actions)) => actions.push(&tr.action),
                    None => out.push((def, vec![&tr.action])),
                }
            }
        }
        out
    }

    /// The expected days in `state` for a type (None for terminal or unused states).
    pub fn lead_time(&self, t: RequestType, state: State) -> Option<u32> {
        self.type_def(t).lead_time_days.get(&state).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_workflow_is_valid() {
        let wf = Workflow::builtin();
        assert_eq!(wf.sample_committee.reply_days, 14);
    }

    #[test]
    fn the_steps_of_each_type_follow_the_seed() {
        let wf = Workflow::builtin();
        let none = BTreeSet::new();
        let states = |t, flags: &BTreeSet<Flag>| -> Vec<State> {
            wf.main_path(t, flags).iter().map(|tr| tr.to).collect()
        };
        use State::*;
        assert_eq!(
            states(RequestType::SampleAggregate, &none),
            [
                Review,
                SampleCommittee,
                Contract,
                Production,
                Delivered,
                Closed
            ]
        );
        assert_eq!(
            states(RequestType::PopulationAggregate, &none),
            [Review, PreAnalysis, Contract, Production, Delivered, Closed]
        );
        assert_eq!(
            states(RequestType::CodedData, &none),
            [
                Review, Steering, Privacy, Contract, Production, Delivered, Closed
            ]
        );
        assert_eq!(
            states(RequestType::AgencyStudy, &none),
            [Review, Steering, Contract, Production, Delivered, Closed]
        );
        let linkage = BTreeSet::from([Flag::Linkage]);
        assert_eq!(
            states(RequestType::AgencyStudy, &linkage),
            [
                Review, Steering, Privacy, Contract, Production, Delivered, Closed
            ]
        );
        let complex = BTreeSet::from([Flag::Complex]);
        assert_eq!(
            states(RequestType::SampleAggregate, &complex),
            [
                Review,
                Steering,
                SampleCommittee,
                Contract,
                Production,
                Delivered,
                Closed
            ]
        );
        // The sample committee only for sample requests, the pre-analysis only for population
        // requests, whatever the flags.
        for t in RequestType::ALL {
            for flags in flag_sets() {
                let reach = wf.reachable(t, &flags);
                assert_eq!(
                    reach.contains(&SampleCommittee),
                    t == RequestType::SampleAggregate
                );
                assert_eq!(
                    reach.contains(&PreAnalysis),
                    t == RequestType::PopulationAggregate
                );
                assert_eq!(
                    reach.contains(&Impossible),
                    t == RequestType::PopulationAggregate
                );
            }
        }
    }

    #[test]
    fn lead_times_add_up_to_the_seeds_totals() {
        let wf = Workflow::builtin();
        for t in RequestType::ALL {
            let def = wf.type_def(t);
            // The seed's total is for the plain request, or with the authorisation for a study.
            let flags = if t == RequestType::AgencyStudy {
                BTreeSet::from([Flag::Linkage])
            } else {
                BTreeSet::new()
            };
            let sum: u32 = wf
                .main_path(t, &flags)
                .iter()
                .filter(|tr| tr.from != State::Delivered)
                .map(|tr| wf.lead_time(t, tr.from).unwrap())
                .sum();
            let ok = match def.total_rule {
                TotalRule::About => sum == def.total_days,
                TotalRule::AtLeast => sum >= def.total_days,
                TotalRule::MoreThan => sum > def.total_days,
            };
            assert!(
                ok,
                "{t}: {sum} days against the seed's {:?} {}",
                def.total_rule, def.total_days
            );
        }
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        let text = WORKFLOW_TOML.replace(
            "documents = [\"ctep_opinion\"]",
            "documents = [\"ctep_opinon\"]",
        );
        let e = Workflow::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("unknown document `ctep_opinon`"), "{e}");

        // A second way out of review for a plain coded-data request: not determined.
        let text = format!(
            "{WORKFLOW_TOML}\n[[transition]]\naction = \"accept\"\nfrom = \"review\"\nto = \"contract\"\ntypes = [\"coded-data\"]\nsource = \"x\"\n"
        );
        let e = Workflow::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("two transitions `accept` from review"), "{e}");

        // The decision number guard anywhere but on the privacy committee.
        let text = WORKFLOW_TOML.replace(
            "action = \"close\"\nfrom = \"delivered\"",
            "action = \"close\"\nguard = \"decision-number\"\nfrom = \"delivered\"",
        );
        let e = Workflow::from_toml(&text).unwrap_err().to_string();
        assert!(
            e.contains("decision number belongs to the privacy committee"),
            "{e}"
        );

        // A lead time missing for a state the type goes through.
        let text = WORKFLOW_TOML.replace("privacy = 60, ", "");
        let e = Workflow::from_toml(&text).unwrap_err().to_string();
        assert!(
            e.contains("no lead time for reachable state privacy"),
            "{e}"
        );

        // Delivery unreachable: the privacy committee can only refuse.
        let text = WORKFLOW_TOML.replace(
            "action = \"authorise\"\nfrom = \"privacy\"\nto = \"contract\"",
            "action = \"authorise\"\nfrom = \"privacy\"\nto = \"refused\"",
        );
        let e = Workflow::from_toml(&text).unwrap_err().to_string();
        assert!(e.contains("unreachable"), "{e}");
    }

    #[test]
    fn the_checklist_names_the_documents_of_the_next_step() {
        let wf = Workflow::builtin();
        let linkage = BTreeSet::from([Flag::Linkage]);
        let ids = |t, f: &BTreeSet<Flag>, s| -> Vec<String> {
            wf.checklist(t, f, s)
                .iter()
                .map(|(d, _)| d.id.clone())
                .collect()
        };
        assert_eq!(
            ids(RequestType::CodedData, &linkage, State::Contract),
            ["contract", "selection_document", "ttp_dossier"]
        );
        assert_eq!(
            ids(RequestType::CodedData, &BTreeSet::new(), State::Contract),
            ["contract", "selection_document"]
        );
        assert_eq!(
            ids(
                RequestType::SampleAggregate,
                &BTreeSet::new(),
                State::SampleCommittee
            ),
            ["ctep_opinion", "ctep_privacy_opinion"]
        );
    }
}
