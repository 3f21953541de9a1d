//! The other databases (PGDP, CHIV, ITAO, KATS, CHTA, DOCN): a good delivery of each is
//! accepted with every row, each rule's documented defect is caught, and the cross-database
//! rules fire on planted inconsistencies (and say *not evaluated* when the other side is
//! missing).

use aim_ingest::testkit::*;
use aim_ingest::{
    CheckContext, CrossIndex, PersonFacts, PopulationIndex, QcReport, ReferenceCodes, RuleCatalog,
    RuleStatus, Verdict,
};
use aim_model::geography::{Geography, default_reference_dir};
use aim_model::{Database, Insurer, Period};
use std::path::Path;
use std::sync::OnceLock;

const INS: Insurer = Insurer::Socialist;

fn codes() -> &'static ReferenceCodes {
    static CODES: OnceLock<ReferenceCodes> = OnceLock::new();
    CODES.get_or_init(|| {
        ReferenceCodes::from_reference(
            &Geography::load(&default_reference_dir()).expect("shared/data"),
        )
    })
}

fn rules() -> &'static RuleCatalog {
    static RULES: OnceLock<RuleCatalog> = OnceLock::new();
    RULES.get_or_init(RuleCatalog::builtin)
}

fn period() -> Period {
    "2024Q2".parse().unwrap()
}

/// Persons 0–199 born 1970; person 199 died on 30 April 2024.
fn population() -> PopulationIndex {
    let mut p = PopulationIndex::default();
    for n in 0..200 {
        let death = (n == 199).then(|| chrono::NaiveDate::from_ymd_opt(2024, 4, 30).unwrap());
        p.insert(
            &person(n),
            PersonFacts {
                birth_year: 1970,
                death,
            },
        );
    }
    p
}

fn check(dir: &Path, pop: Option<&PopulationIndex>, cross: Option<&CrossIndex>) -> QcReport {
    let ctx = CheckContext {
        rules: rules(),
        codes: codes(),
        population: pop,
        previous_volumes: vec![],
        previous_report: None,
        loaded_sequence: None,
        replaced: None,
        confirmation: None,
        cross,
        feedback_path: dir.parent().unwrap().join(format!(
            "{}-feedback.csv",
            dir.file_name().unwrap().to_string_lossy()
        )),
        batch_rows: 1000,
    };
    aim_ingest::check_delivery(dir, &ctx, &mut (), &mut |_| {}).expect("no platform error")
}

fn deliver(db: Database, rows: Vec<Vec<String>>) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = DeliveryBuilder::new(INS, db, period());
    b.rows = rows;
    let dir = b.write(tmp.path());
    (tmp, dir)
}

fn accepted(r: &QcReport, rows: u64) {
    assert_eq!(r.verdict, Verdict::Accepted, "{:#?}", r.reasons);
    assert_eq!(r.rows_accepted, rows);
    for rule in &r.rules {
        assert!(
            !matches!(
                rule.status,
                RuleStatus::Failed | RuleStatus::FailedBelowThreshold
            ),
            "{} {:?}: {}",
            rule.id,
            rule.status,
            rule.message
        );
    }
}

/// The rule flagged `rows` rows (failing above its threshold, as one bad row in 100 is).
fn flagged(r: &QcReport, rule: &str, rows: u64) {
    let res = r.rule(rule).unwrap();
    assert!(
        matches!(
            res.status,
            RuleStatus::Failed | RuleStatus::FailedBelowThreshold
        ),
        "{rule}: {:?} {}",
        res.status,
        res.message
    );
    assert_eq!(res.failing_rows, rows, "{rule}: {:?}", res.examples);
}

fn pharmacy(pairs: &[(u64, &str)]) -> CrossIndex {
    let mut x = CrossIndex::default();
    x.pharmacy_loaded();
    for (p, atc) in pairs {
        x.add_pharmacy_delivery(&person(*p), atc);
    }
    x
}

// ---------------------------------------------------------------------------------------
// CHIV

fn good_chiv(n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            let atc = if i % 2 == 0 { "A10BH01" } else { "L04AB" };
            chiv_row(i, i, INS, atc, "2024-05-02")
        })
        .collect()
}

fn chiv_pharmacy(n: u64) -> CrossIndex {
    let pairs: Vec<(u64, &str)> = (0..n)
        .map(|i| (i, if i % 2 == 0 { "A10BH01" } else { "L04AB04" }))
        .collect();
    pharmacy(&pairs)
}

#[test]
fn a_good_chapter_iv_delivery_is_accepted() {
    let (_t, dir) = deliver(Database::Chiv, good_chiv(100));
    let cross = chiv_pharmacy(100);
    let r = check(&dir, Some(&population()), Some(&cross));
    accepted(&r, 100);
    assert_eq!(r.rule("XDB-001").unwrap().status, RuleStatus::Passed);
    assert_eq!(r.rule("COD-002").unwrap().status, RuleStatus::Passed);
    assert_eq!(r.rule("COD-001").unwrap().status, RuleStatus::NotApplicable);
}

#[test]
fn chapter_iv_defects_are_caught() {
    let mut rows = good_chiv(100);
    // CHI-001: validity reversed; and a refusal with a validity period.
    rows[3].swap(7, 8);
    rows[4][5] = "R".into();
    // COD-002: an ATC group that does not exist.
    rows[5][4] = "Q99".into();
    // DAT-001: decided outside the quarter.
    rows[6][6] = "2024-01-15".into();
    rows[6][7] = "2024-01-15".into();
    // SCH-002: a decision outside the closed list.
    rows[8][5] = "X".into();
    // POP-001: a person unknown to POPU.
    rows[9][1] = person(5000);
    let (_t, dir) = deliver(Database::Chiv, rows);
    let cross = chiv_pharmacy(100);
    let r = check(&dir, Some(&population()), Some(&cross));
    flagged(&r, "CHI-001", 2);
    flagged(&r, "COD-002", 1);
    flagged(&r, "DAT-001", 1);
    flagged(&r, "SCH-002", 1);
    flagged(&r, "POP-001", 1);
    assert_eq!(r.verdict, Verdict::Rejected, "six bad rows of 100");
}

#[test]
fn an_authorisation_whose_medicine_is_never_delivered_is_flagged() {
    let mut rows = good_chiv(100);
    rows[10][4] = "N06DA02".into();
    rows[12][4] = "L04AA".into();
    let (_t, dir) = deliver(Database::Chiv, rows);
    // L04AA is not in the reference: COD-002 rejects that row before XDB-001 looks at it.
    let cross = chiv_pharmacy(100);
    let r = check(&dir, Some(&population()), Some(&cross));
    flagged(&r, "XDB-001", 1);
    let x = r.rule("XDB-001").unwrap();
    assert_eq!(x.status, RuleStatus::FailedBelowThreshold, "a warning, 1 %");
    assert!(x.examples[0].contains("N06DA02"), "{:?}", x.examples);
    // A warning keeps the row.
    assert_eq!(r.rows_rejected, 1, "only the COD-002 row");
    // Without a pharmacy file, the rule cannot run and says why.
    let r = check(&dir, Some(&population()), None);
    let x = r.rule("XDB-001").unwrap();
    assert_eq!(x.status, RuleStatus::NotEvaluated);
    assert!(x.message.contains("FARU"), "{}", x.message);
    // A delivery of the group's medicine counts for the group.
    let (_t2, dir) = deliver(
        Database::Chiv,
        vec![chiv_row(1, 1, INS, "L04AB", "2024-05-02")],
    );
    let r = check(
        &dir,
        Some(&population()),
        Some(&pharmacy(&[(1, "L04AB04")])),
    );
    assert_eq!(r.rule("XDB-001").unwrap().status, RuleStatus::Passed);
}

// ---------------------------------------------------------------------------------------
// ITAO

fn good_itao(n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| match i % 3 {
            0 => itao_row(i, i, INS, "P", "2024-04-10", "2024-05-20"),
            1 => itao_row(i, i, INS, "P", "2024-03-01", ""),
            _ => itao_row(i, i, INS, "I", "2019-06-01", ""),
        })
        .collect()
}

#[test]
fn a_good_incapacity_delivery_is_accepted() {
    let (_t, dir) = deliver(Database::Itao, good_itao(99));
    let r = check(&dir, Some(&population()), None);
    accepted(&r, 99);
}

#[test]
fn incapacity_defects_are_caught() {
    let mut rows = good_itao(100);
    // ITA-001: ends before it starts; a primary incapacity longer than a year.
    rows[0][4] = "2024-04-09".into();
    rows[3] = itao_row(3, 3, INS, "P", "2023-01-02", "2024-04-30");
    // DAT-001: an episode after the quarter.
    rows[6] = itao_row(6, 6, INS, "P", "2024-08-01", "");
    // DAT-003: an episode starting after the person's death.
    rows[99] = itao_row(99, 199, INS, "P", "2024-05-10", "");
    // SCH-002: a kind outside P/I; a diagnosis group outside 01-22.
    rows[9][5] = "X".into();
    rows[12][7] = "23".into();
    // POP-001: an episode of a person unknown to POPU (cross-database).
    rows[15][1] = person(7000);
    let (_t, dir) = deliver(Database::Itao, rows);
    let r = check(&dir, Some(&population()), None);
    flagged(&r, "ITA-001", 2);
    flagged(&r, "DAT-001", 1);
    flagged(&r, "DAT-003", 1);
    flagged(&r, "SCH-002", 2);
    flagged(&r, "POP-001", 1);
}

// ---------------------------------------------------------------------------------------
// KATS

fn good_kats(n: u64) -> Vec<Vec<String>> {
    let cases: [([i32; 6], &str); 5] = [
        ([1, 1, 1, 1, 1, 1], "O"),
        ([3, 2, 1, 1, 1, 1], "A"),
        ([4, 4, 3, 1, 2, 1], "B"),
        ([4, 4, 4, 4, 3, 1], "C"),
        ([4, 4, 4, 4, 4, 4], "Cd"),
    ];
    (0..n)
        .map(|i| {
            let (s, c) = cases[(i % 5) as usize];
            kats_row(i, i, INS, "2024-06-01", s, c)
        })
        .collect()
}

#[test]
fn a_good_katz_delivery_is_accepted() {
    let (_t, dir) = deliver(Database::Kats, good_kats(100));
    let r = check(&dir, Some(&population()), None);
    accepted(&r, 100);
    assert_eq!(r.rule("KAT-001").unwrap().status, RuleStatus::Passed);
    assert_eq!(r.rule("ITA-001").unwrap().status, RuleStatus::NotApplicable);
}

#[test]
fn katz_defects_are_caught() {
    let mut rows = good_kats(100);
    // KAT-001: a category the scores do not give; a score out of 1-4.
    rows[0][11] = "C".into();
    rows[1][6] = "5".into();
    // SCH-002: an unknown setting.
    rows[2][4] = "Z".into();
    // POP-001 (cross-database): an assessment of a person unknown to POPU.
    rows[3][1] = person(9000);
    let (_t, dir) = deliver(Database::Kats, rows);
    let r = check(&dir, Some(&population()), None);
    flagged(&r, "KAT-001", 2);
    flagged(&r, "SCH-002", 1);
    flagged(&r, "POP-001", 1);
    let pop = r.rule("POP-001").unwrap();
    assert!(pop.examples[0].contains("not in insurer 300's population file"));
    // Without the population, POP-001 says it could not run.
    let r = check(&dir, None, None);
    assert_eq!(r.rule("POP-001").unwrap().status, RuleStatus::NotEvaluated);
}

// ---------------------------------------------------------------------------------------
// CHTA

fn good_chta(n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| chta_row(i, INS, i % 7, true, i % 10 == 0, period()))
        .collect()
}

#[test]
fn a_good_gp_file_delivery_is_accepted() {
    let mut rows = good_chta(100);
    rows.push(chta_row(199, INS, 3, true, false, period()));
    let (_t, dir) = deliver(Database::Chta, rows);
    let r = check(&dir, Some(&population()), None);
    accepted(&r, 101);
    // The dead person's file is fine: GP files have no care date.
    assert_eq!(r.rule("DAT-003").unwrap().status, RuleStatus::Passed);
}

#[test]
fn gp_file_defects_are_caught() {
    let mut rows = good_chta(100);
    // CHT-001: neither a GMD nor a flat fee; a second flat-fee practice for person 10.
    rows[1][3] = "false".into();
    rows.push(chta_row(10, INS, 55, false, true, period()));
    // CHT-001: ends before it starts (and inside the quarter).
    rows[2][6] = "2024-04-01".into();
    rows[2][5] = "2024-05-01".into();
    // DAT-001: a reference date that is not the quarter's last day.
    rows[3][7] = "2024-05-31".into();
    // DUP-001: the same person and practice twice.
    rows.push(rows[4].clone());
    let (_t, dir) = deliver(Database::Chta, rows);
    let r = check(&dir, Some(&population()), None);
    flagged(&r, "CHT-001", 3);
    flagged(&r, "DAT-001", 1);
    flagged(&r, "DUP-001", 1);
}

// ---------------------------------------------------------------------------------------
// DOCN

fn good_docn() -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (b, s) in [
        ("2024-04-01", "2024-04-01"),
        ("2024-05-01", "2024-04-01"),
        ("2024-06-01", "2024-03-01"),
    ] {
        for code in ["101032", "102034", "590251"] {
            rows.push(docn_row(INS, b, s, code));
        }
    }
    rows
}

#[test]
fn a_good_documents_n_delivery_is_accepted_without_a_population() {
    let (_t, dir) = deliver(Database::Docn, good_docn());
    let r = check(&dir, None, None);
    accepted(&r, 9);
    for rule in ["POP-001", "DAT-002", "DAT-003", "AMT-001"] {
        assert_eq!(
            r.rule(rule).unwrap().status,
            RuleStatus::NotApplicable,
            "{rule}: an aggregate has no person"
        );
    }
}

#[test]
fn documents_n_defects_are_caught() {
    let mut rows = good_docn();
    // DOC-001: booked before the services; not the first day of a month.
    rows[0][2] = "2024-05-01".into();
    rows[1][1] = "2024-04-15".into();
    // DAT-001: booked outside the quarter.
    rows[3][1] = "2024-07-01".into();
    // COD-001: an unknown nomenclature code.
    rows[5][3] = "999990".into();
    let (_t, dir) = deliver(Database::Docn, rows);
    let r = check(&dir, None, None);
    flagged(&r, "DOC-001", 2);
    flagged(&r, "DAT-001", 1);
    flagged(&r, "COD-001", 1);
    assert_eq!(r.verdict, Verdict::Rejected);
}

// ---------------------------------------------------------------------------------------
// PGDP

fn good_pgdp(n: u64) -> (Vec<Vec<String>>, CrossIndex) {
    let mut x = CrossIndex::default();
    let rows = (0..n)
        .map(|i| {
            x.add_billing_line(&format!("L{i}"), &person(i % 150));
            pgdp_row(i, i % 150, INS, "2024-05-02")
        })
        .collect();
    (rows, x)
}

#[test]
fn a_good_new_attest_delivery_is_accepted() {
    let (rows, x) = good_pgdp(100);
    let (_t, dir) = deliver(Database::Pgdp, rows);
    let r = check(&dir, Some(&population()), Some(&x));
    accepted(&r, 100);
    assert_eq!(r.rule("XDB-002").unwrap().status, RuleStatus::Passed);
}

#[test]
fn new_attest_defects_and_lines_without_billing_are_caught() {
    let (mut rows, x) = good_pgdp(100);
    // XDB-002 (cross-database): a line GZSS does not have, and a line of another person.
    rows[0][0] = "L9999".into();
    rows[1][1] = person(151);
    // DAT-001: submitted before the service.
    rows[2][7] = "2024-05-01".into();
    // SCH-002: an unknown transmission channel.
    rows[3][4] = "Q".into();
    let (_t, dir) = deliver(Database::Pgdp, rows);
    let r = check(&dir, Some(&population()), Some(&x));
    flagged(&r, "XDB-002", 2);
    assert_eq!(r.rule("XDB-002").unwrap().status, RuleStatus::Failed);
    flagged(&r, "DAT-001", 1);
    flagged(&r, "SCH-002", 1);
    // A warning: the XDB-002 rows are kept.
    assert_eq!(r.rows_rejected, 2);
    let r = check(&dir, Some(&population()), None);
    assert_eq!(r.rule("XDB-002").unwrap().status, RuleStatus::NotEvaluated);
}

#[test]
fn an_empty_quarter_is_accepted_for_sparse_databases_only() {
    for db in [
        Database::Chiv,
        Database::Itao,
        Database::Kats,
        Database::Pgdp,
    ] {
        let (_t, dir) = deliver(db, vec![]);
        let r = check(&dir, Some(&population()), None);
        assert_eq!(r.verdict, Verdict::Accepted, "{db}: {:#?}", r.reasons);
        assert_eq!(r.rows_read, 0);
    }
    for db in [Database::Chta, Database::Docn] {
        let (_t, dir) = deliver(db, vec![]);
        let r = check(&dir, Some(&population()), None);
        assert_eq!(r.verdict, Verdict::Rejected, "{db}");
        assert!(r.reasons.iter().any(|x| x.starts_with("FMT-001")), "{db}");
    }
}
