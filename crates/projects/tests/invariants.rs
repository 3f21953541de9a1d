//! Property: whatever sequence of attempts (actions open or not, documents in any order,
//! decision numbers good or bad, time passing or not), no project reaches delivery without the
//! steps, the decision number and the documents the seed requires for its type. The
//! requirements are written here from seed 003 independently of `data/workflow.toml`, so a
//! shortcut or a dropped document in the data file makes this test fail.

use aim_projects::{Attempt, Flag, Project, ProjectSheet, RequestType, State, Workflow};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use std::collections::BTreeSet;

const DOCS: [&str; 12] = [
    "project_sheet",
    "cost_agreement",
    "ctep_opinion",
    "ctep_privacy_opinion",
    "methodology",
    "selection_document",
    "sas_program",
    "authorisation_request",
    "privacy_decision",
    "contract",
    "ttp_dossier",
    "scra",
];

const ACTIONS: [&str; 13] = [
    "submit",
    "accept",
    "approve",
    "approve-by-silence",
    "feasible",
    "declare-impossible",
    "authorise",
    "sign",
    "deliver",
    "close",
    "refuse",
    "withdraw",
    "publish",
];

const DECISIONS: [Option<&str>; 5] = [
    None,
    Some(""),
    Some("  "),
    Some("no number"),
    Some("26/017"),
];

#[derive(Debug, Clone)]
enum Op {
    /// Try one of the actions open from the current state (index modulo their number).
    TryOpen(usize, usize),
    /// Try any action, open or not.
    TryAny(usize, usize),
    /// Attach a document.
    AddDoc(usize),
    /// Let days pass.
    Wait(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Mostly the first open action (the forward one: refusals and withdrawals come last
        // in the data file), so that random sequences get far.
        4 => (prop_oneof![8 => Just(0usize), 1 => 1..8usize], 0..DECISIONS.len())
            .prop_map(|(a, d)| Op::TryOpen(a, d)),
        1 => (0..ACTIONS.len(), 0..DECISIONS.len()).prop_map(|(a, d)| Op::TryAny(a, d)),
        3 => (0..DOCS.len()).prop_map(Op::AddDoc),
        1 => (0..20u32).prop_map(Op::Wait),
    ]
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

fn sheet(t: RequestType, flags: &BTreeSet<Flag>) -> ProjectSheet {
    ProjectSheet {
        title: "t".into(),
        request_type: t,
        purpose: "p".into(),
        legal_basis: "l".into(),
        organisation: "o".into(),
        contact: aim_projects::Contact {
            name: "n".into(),
            email: "n@example.be".into(),
            phone: None,
        },
        variables: vec!["v".into()],
        periods: vec!["2024".into()],
        population: "all".into(),
        linked_sources: if flags.contains(&Flag::Linkage) {
            vec!["cancer registry".into()]
        } else {
            vec![]
        },
        complex: flags.contains(&Flag::Complex),
        eps_partner: flags.contains(&Flag::EpsPartner),
    }
}

/// Runs the operations; returns the project.
fn run(wf: &Workflow, t: RequestType, flags: &BTreeSet<Flag>, ops: &[Op]) -> Project {
    let mut now = start();
    let mut p = Project::new("P", sheet(t, flags), "requester", now).unwrap();
    for op in ops {
        now += Duration::hours(1);
        let before = p.clone();
        let result = match op {
            Op::TryOpen(i, d) | Op::TryAny(i, d) => {
                let action = match op {
                    Op::TryOpen(..) => {
                        let open = wf.transitions_from(t, flags, p.state());
                        if open.is_empty() {
                            continue;
                        }
                        open[i % open.len()].action.clone()
                    }
                    _ => ACTIONS[*i].to_string(),
                };
                let mut a = Attempt::new(&action, "agent", now);
                a.decision_number = DECISIONS[*d].map(str::to_string);
                wf.apply(&mut p, a).map(|_| ())
            }
            Op::AddDoc(i) => p.add_document(wf, DOCS[*i], "ref", "agent", now),
            Op::Wait(days) => {
                now += Duration::days(i64::from(*days));
                Ok(())
            }
        };
        if result.is_err() {
            assert_eq!(
                p, before,
                "a refused attempt must leave the project unchanged"
            );
        }
    }
    p
}

/// The seed's requirements for reaching delivery, checked on the project's history.
fn check_delivery(p: &Project, t: RequestType, flags: &BTreeSet<Flag>) -> Result<(), String> {
    let Some(delivery) = p.history().iter().find(|r| r.to == State::Delivered) else {
        return Ok(());
    };
    let passed: Vec<State> = p.history().iter().map(|r| r.from).collect();
    let linkage = flags.contains(&Flag::Linkage);
    let mut states = vec![
        State::Intake,
        State::Review,
        State::Contract,
        State::Production,
    ];
    let mut docs = vec!["project_sheet"];
    let privacy = match t {
        RequestType::SampleAggregate => {
            states.push(State::SampleCommittee);
            docs.push("cost_agreement");
            false
        }
        RequestType::PopulationAggregate => {
            states.push(State::PreAnalysis);
            docs.extend(["cost_agreement", "methodology"]);
            if flags.contains(&Flag::EpsPartner) {
                docs.extend(["selection_document", "sas_program"]);
            }
            false
        }
        RequestType::CodedData => {
            states.push(State::Steering);
            docs.extend(["contract", "selection_document"]);
            true
        }
        RequestType::AgencyStudy => {
            states.push(State::Steering);
            docs.extend(["contract", "selection_document"]);
            linkage
        }
    };
    if flags.contains(&Flag::Complex) {
        states.push(State::Steering);
    }
    if privacy {
        states.push(State::Privacy);
        docs.extend(["authorisation_request", "privacy_decision"]);
    }
    if linkage && matches!(t, RequestType::CodedData | RequestType::AgencyStudy) {
        docs.extend(["ttp_dossier", "scra"]);
    }
    for s in states {
        if !passed.contains(&s) {
            return Err(format!("{t} {flags:?}: delivered without passing {s}"));
        }
    }
    for d in docs {
        if !p
            .documents()
            .iter()
            .any(|x| x.kind == d && x.added_at <= delivery.at)
        {
            return Err(format!("{t} {flags:?}: delivered without document {d}"));
        }
    }
    if privacy {
        let n = p
            .history()
            .iter()
            .find(|r| r.from == State::Privacy && r.to == State::Contract);
        let ok = n
            .and_then(|r| r.decision_number.as_deref())
            .is_some_and(|n| n.chars().any(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!(
                "{t} {flags:?}: authorised without a decision number"
            ));
        }
    }
    if t == RequestType::SampleAggregate {
        let entered = p
            .history()
            .iter()
            .find(|r| r.to == State::SampleCommittee)
            .unwrap()
            .at;
        let left = p
            .history()
            .iter()
            .find(|r| r.from == State::SampleCommittee)
            .unwrap();
        let explicit = p
            .documents()
            .iter()
            .any(|d| d.kind == "ctep_opinion" && d.added_at <= left.at);
        if !explicit && left.at < entered + Duration::days(14) {
            return Err(format!(
                "{t}: the committee's silence taken as approval before its deadline"
            ));
        }
    }
    Ok(())
}

fn type_and_flags() -> impl Strategy<Value = (RequestType, BTreeSet<Flag>)> {
    (0..4usize, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(t, l, c, e)| {
        let mut f = BTreeSet::new();
        if l {
            f.insert(Flag::Linkage);
        }
        if c {
            f.insert(Flag::Complex);
        }
        if e {
            f.insert(Flag::EpsPartner);
        }
        (RequestType::ALL[t], f)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_sequence_of_attempts_reaches_delivery_without_what_the_seed_requires(
        (t, flags) in type_and_flags(),
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let wf = Workflow::builtin();
        let p = run(&wf, t, &flags, &ops);
        if let Err(e) = check_delivery(&p, t, &flags) {
            prop_assert!(false, "{}", e);
        }
        // Stored and read back, the project replays to itself.
        let json = serde_json::to_string(&p).unwrap();
        let back: Project = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &p);
        // The record of every transition names the actor and is in time order.
        for w in p.history().windows(2) {
            prop_assert!(w[0].at <= w[1].at && w[0].to == w[1].from);
        }
    }
}

/// The executor reaches delivery for every type and flag combination when the documents are
/// there: the property above is not vacuous.
#[test]
fn delivery_is_reachable_with_every_document_and_a_decision_number() {
    let wf = Workflow::builtin();
    for t in RequestType::ALL {
        for bits in 0..8u8 {
            let flags: BTreeSet<Flag> = Flag::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect();
            let mut ops: Vec<Op> = (0..DOCS.len()).map(Op::AddDoc).collect();
            for _ in 0..10 {
                // The first open action is the forward one in the data file's order; wait out the
                // sample committee's deadline on the way.
                ops.push(Op::Wait(15));
                ops.push(Op::TryOpen(0, 4));
            }
            let p = run(&wf, t, &flags, &ops);
            assert!(
                matches!(p.state(), State::Delivered | State::Closed),
                "{t} {flags:?}: stopped at {}",
                p.state()
            );
            check_delivery(&p, t, &flags).unwrap();
        }
    }
}

/// The checker itself catches a shortcut: a workflow file where coded data skip the privacy
/// committee is refused by the property's checker.
#[test]
fn the_checker_catches_a_workflow_without_the_privacy_committee() {
    let text = aim_projects::WORKFLOW_TOML.replace(
        "action = \"approve\"\nfrom = \"steering\"\nto = \"privacy\"\ntypes = [\"coded-data\"]\ndocuments = [\"authorisation_request\"]",
        "action = \"approve\"\nfrom = \"steering\"\nto = \"contract\"\ntypes = [\"coded-data\"]\ndocuments = [\"authorisation_request\"]",
    );
    let wf = Workflow::from_toml(&text).expect("still a valid file: only the seed forbids it");
    let flags = BTreeSet::new();
    let mut ops: Vec<Op> = (0..DOCS.len()).map(Op::AddDoc).collect();
    ops.extend((0..10).map(|_| Op::TryOpen(0, 4)));
    let p = run(&wf, RequestType::CodedData, &flags, &ops);
    assert!(
        matches!(p.state(), State::Delivered | State::Closed),
        "{}",
        p.state()
    );
    let e = check_delivery(&p, RequestType::CodedData, &flags).unwrap_err();
    assert!(e.contains("without passing privacy"), "{e}");
}

/// The random sequences of the property reach delivery often enough for it to bite.
#[test]
fn random_sequences_reach_delivery_often() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let wf = Workflow::builtin();
    let mut runner = TestRunner::deterministic();
    let strategy = (type_and_flags(), proptest::collection::vec(op(), 0..120));
    let mut delivered = std::collections::BTreeMap::new();
    for _ in 0..2000 {
        let ((t, flags), ops) = strategy.new_tree(&mut runner).unwrap().current();
        let p = run(&wf, t, &flags, &ops);
        if p.history().iter().any(|r| r.to == State::Delivered) {
            *delivered.entry(t).or_insert(0) += 1;
        }
    }
    for t in RequestType::ALL {
        let n = delivered.get(&t).copied().unwrap_or(0);
        eprintln!("{t}: {n} of ~500 random sequences reached delivery");
        assert!(
            n >= 10,
            "{t}: only {n} of ~500 random sequences reached delivery"
        );
    }
}
