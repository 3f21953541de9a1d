//! The way forward of a request: the documents and actions that take a project from where it
//! stands to a later state of its type's main path ([`Workflow::main_path`]). The demo uses it
//! to put projects in given states, and tests use it to make a project that really passed its
//! steps (every step still goes through [`Workflow::apply`]).

use crate::kind::{Flag, RequestType};
use crate::machine::{Attempt, Project, TransitionError};
use crate::workflow::{Guard, State, Workflow};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// One step forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Register a document of this kind.
    Document(String),
    /// Take this action; `decision_number`: the privacy committee's number is needed.
    Move {
        /// The action (`submit`, `accept`, …).
        action: String,
        /// Whether the action needs a decision number.
        decision_number: bool,
    },
}

impl Workflow {
    /// The steps from `from` to `to` along the main path of this type and flags (each
    /// transition's documents, then the transition), or `None` when `to` does not follow
    /// `from` on it.
    pub fn steps_to(
        &self,
        t: RequestType,
        flags: &BTreeSet<Flag>,
        from: State,
        to: State,
    ) -> Option<Vec<Step>> {
        if from == to {
            return Some(Vec::new());
        }
        let path = self.main_path(t, flags);
        let start = path.iter().position(|tr| tr.from == from)?;
        let end = start + path[start..].iter().position(|tr| tr.to == to)?;
        let mut steps = Vec::new();
        let mut have: BTreeSet<&str> = BTreeSet::new();
        for tr in &path[start..=end] {
            for d in tr.required_documents(flags) {
                if have.insert(d) {
                    steps.push(Step::Document(d.to_string()));
                }
            }
            steps.push(Step::Move {
                action: tr.action.clone(),
                decision_number: tr.guard == Some(Guard::DecisionNumber),
            });
        }
        Some(steps)
    }
}

/// Why a project could not be taken forward.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The target is not ahead on the project's main path.
    #[error("{target} does not follow {from} on the main path of a '{kind}' request")]
    NotAhead {
        /// Where the project is.
        from: State,
        /// Where it was asked to go.
        target: State,
        /// Its request type.
        kind: RequestType,
    },
    /// A step was refused by the workflow.
    #[error(transparent)]
    Refused(#[from] TransitionError),
}

impl Project {
    /// Takes the project forward to `target` along its main path, as `actor` at `at`:
    /// registers each missing document (reference `reference`) and takes each action through
    /// [`Workflow::apply`]; a committee decision gets `decision_number`.
    pub fn advance(
        &mut self,
        wf: &Workflow,
        target: State,
        actor: &str,
        reference: &str,
        decision_number: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ForwardError> {
        let steps = wf
            .steps_to(self.request_type(), &self.flags(), self.state(), target)
            .ok_or(ForwardError::NotAhead {
                from: self.state(),
                target,
                kind: self.request_type(),
            })?;
        for step in steps {
            match step {
                Step::Document(kind) => {
                    if !self.has_document(&kind) {
                        self.add_document(wf, &kind, reference, actor, at)?;
                    }
                }
                Step::Move {
                    action,
                    decision_number: needed,
                } => {
                    let mut attempt = Attempt::new(&action, actor, at);
                    if needed {
                        attempt.decision_number = Some(decision_number.to_string());
                    }
                    wf.apply(self, attempt)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProjectSheet;

    fn sheet(kind: RequestType, flags: &[Flag]) -> ProjectSheet {
        let mut s = ProjectSheet::from_toml(include_str!("../../../examples/project-sheet.toml"))
            .expect("the example sheet");
        s.request_type = kind;
        s.linked_sources = if flags.contains(&Flag::Linkage) {
            vec!["cancer registry".into()]
        } else {
            Vec::new()
        };
        s.complex = flags.contains(&Flag::Complex);
        s.eps_partner = flags.contains(&Flag::EpsPartner);
        s
    }

    #[test]
    fn every_type_and_flags_reach_each_state_of_its_main_path_through_the_workflow() {
        let wf = Workflow::builtin();
        let at = Utc::now();
        for kind in RequestType::ALL {
            for mask in 0..8u8 {
                let flags: Vec<Flag> = Flag::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, f)| *f)
                    .collect();
                let s = sheet(kind, &flags);
                let set = s.flags();
                for tr in wf.main_path(kind, &set) {
                    let mut p = Project::new("P-TEST", s.clone(), "a@example.be", at).unwrap();
                    p.advance(&wf, tr.to, "a@example.be", "ref", "DEC/1", at)
                        .unwrap_or_else(|e| panic!("{kind} {flags:?} to {}: {e}", tr.to));
                    assert_eq!(p.state(), tr.to);
                }
            }
        }
    }

    #[test]
    fn a_state_behind_or_off_the_path_is_refused_and_changes_nothing() {
        let wf = Workflow::builtin();
        let at = Utc::now();
        let mut p = Project::new(
            "P-TEST",
            sheet(RequestType::SampleAggregate, &[]),
            "a@example.be",
            at,
        )
        .unwrap();
        let before = p.clone();
        assert!(matches!(
            p.advance(&wf, State::Privacy, "a@example.be", "ref", "DEC/1", at),
            Err(ForwardError::NotAhead { .. })
        ));
        assert_eq!(p, before);
    }
}
