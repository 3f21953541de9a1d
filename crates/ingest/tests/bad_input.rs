//! Every kind of bad delivery gets a specific, explained outcome (and nothing crashes).

use aim_ingest::testkit::*;
use aim_ingest::{
    CheckContext, PersonFacts, PopulationIndex, QcReport, ReferenceCodes, RuleCatalog, RuleStatus,
    Verdict,
};
use aim_model::geography::{Geography, default_reference_dir};
use aim_model::{Database, Insurer, Period};
use std::path::Path;
use std::sync::OnceLock;

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

fn population() -> PopulationIndex {
    let mut p = PopulationIndex::default();
    for n in 0..10 {
        p.insert(
            &person(n),
            PersonFacts {
                birth_year: 1970,
                death: None,
            },
        );
    }
    p.insert(
        &person(99),
        PersonFacts {
            birth_year: 1950,
            death: Some(chrono::NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()),
        },
    );
    p
}

struct Checked {
    report: QcReport,
    batches: Vec<arrow_array::RecordBatch>,
    feedback: Option<String>,
}

struct Collect(Vec<arrow_array::RecordBatch>);
impl aim_ingest::RowSink for Collect {
    fn write(&mut self, b: arrow_array::RecordBatch) -> Result<(), aim_ingest::SinkError> {
        self.0.push(b);
        Ok(())
    }
}

fn check(dir: &Path, pop: Option<&PopulationIndex>) -> Checked {
    let feedback_path = dir.parent().unwrap().join(format!(
        "{}-feedback.csv",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let ctx = CheckContext {
        rules: rules(),
        codes: codes(),
        population: pop,
        previous_volumes: vec![],
        previous_report: None,
        loaded_sequence: None,
        replaced: None,
        confirmation: None,
        cross: None,
        feedback_path: feedback_path.clone(),
        batch_rows: 3,
    };
    let mut sink = Collect(vec![]);
    let report =
        aim_ingest::check_delivery(dir, &ctx, &mut sink, &mut |_| {}).expect("no platform error");
    Checked {
        report,
        batches: sink.0,
        feedback: std::fs::read_to_string(feedback_path).ok(),
    }
}

fn gzss(rows: Vec<Vec<String>>) -> DeliveryBuilder {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
    b.rows = rows;
    b
}

fn good_gzss_rows(n: u64) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| gzss_row(i, i % 10, Insurer::Socialist, "2024-05-02"))
        .collect()
}

fn rejected_by(c: &Checked, rule: &str) {
    assert_eq!(
        c.report.verdict,
        Verdict::Rejected,
        "{:#?}",
        c.report.reasons
    );
    assert!(
        c.report.reasons.iter().any(|r| r.starts_with(rule)),
        "expected a reason from {rule}, got {:#?}",
        c.report.reasons
    );
    assert_eq!(c.report.rule(rule).unwrap().status, RuleStatus::Failed);
}

#[test]
fn a_clean_delivery_is_accepted_with_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(good_gzss_rows(8));
    b.gzip = true;
    let c = check(&b.write(tmp.path()), Some(&population()));
    assert_eq!(
        c.report.verdict,
        Verdict::Accepted,
        "{:#?}",
        c.report.reasons
    );
    assert_eq!(c.report.rows_accepted, 8);
    let rows: usize = c.batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 8);
    assert_eq!(c.batches.len(), 3, "batches of 3 rows");
    assert!(c.feedback.is_none());
    assert!(c.report.delivery_id.starts_with("300-GZSS-2024Q2-"));
    assert_eq!(
        c.report.rule("VOL-001").unwrap().status,
        RuleStatus::NotEvaluated,
        "no earlier delivery: says so"
    );
}

#[test]
fn missing_and_malformed_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = gzss(good_gzss_rows(2)).write(tmp.path());
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let c = check(&dir, None);
    rejected_by(&c, "MAN-001");
    assert!(c.report.reasons[0].contains("no manifest.json"));

    std::fs::write(dir.join("manifest.json"), "{ not json").unwrap();
    let c = check(&dir, None);
    rejected_by(&c, "MAN-001");
    assert!(c.report.reasons[0].contains("malformed"));
    assert_eq!(
        c.report.rule("DUP-001").unwrap().status,
        RuleStatus::NotEvaluated
    );

    let dir2 = gzss(good_gzss_rows(2)).write(&tmp.path().join("x"));
    let text = std::fs::read_to_string(dir2.join("manifest.json"))
        .unwrap()
        .replace("\"insurer\": \"300\"", "\"insurer\": \"700\"");
    std::fs::write(dir2.join("manifest.json"), text).unwrap();
    let c = check(&dir2, None);
    rejected_by(&c, "MAN-001");
    assert!(
        c.report.reasons[0].contains("700"),
        "{:?}",
        c.report.reasons
    );
}

#[test]
fn checksum_and_row_count_mismatches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = gzss(good_gzss_rows(4)).write(tmp.path());
    edit_manifest(&dir, |m| m.files[0].rows = 5);
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "MAN-002");
    assert!(
        c.report.reasons[0].contains("holds 4 data rows but the manifest says 5"),
        "{:?}",
        c.report.reasons
    );

    let dir = gzss(good_gzss_rows(4)).write(&tmp.path().join("b"));
    edit_manifest(&dir, |m| m.files[0].sha256 = "0".repeat(64));
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "MAN-002");
    assert!(c.report.reasons[0].contains("SHA-256"));

    let dir = gzss(good_gzss_rows(4)).write(&tmp.path().join("c"));
    std::fs::remove_file(dir.join("gzss-001.csv")).unwrap();
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "MAN-002");
    assert!(c.report.reasons[0].contains("cannot be opened"));
}

#[test]
fn truncated_and_corrupt_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(good_gzss_rows(2000));
    b.gzip = true;
    let dir = b.write(tmp.path());
    let path = dir.join("gzss-001.csv.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "FMT-001");
    assert!(
        c.report.reasons[0].contains("corrupt or truncated"),
        "{:?}",
        c.report.reasons
    );

    let mut corrupt = bytes.clone();
    for b in corrupt.iter_mut().skip(20).take(200) {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &corrupt).unwrap();
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "FMT-001");
}

#[test]
fn wrong_field_counts_reject_the_delivery_with_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(5);
    rows[2].pop();
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    rejected_by(&c, "FMT-003");
    let ex = &c.report.rule("FMT-003").unwrap().examples;
    assert!(
        ex[0].contains("line 4") && ex[0].contains("13 fields"),
        "{ex:?}"
    );
    assert!(c.feedback.unwrap().contains("FMT-003"));
}

#[test]
fn unknown_and_missing_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(good_gzss_rows(2));
    b.header[3] = "nomenclatuur".into();
    let c = check(&b.write(tmp.path()), None);
    rejected_by(&c, "FMT-002");
    let reason = &c.report.reasons[0];
    assert!(
        reason.contains("unknown column 'nomenclatuur'")
            && reason.contains("missing column 'nomenclature'"),
        "{reason}"
    );
}

#[test]
fn columns_in_another_order_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(good_gzss_rows(3));
    b.header.swap(0, 1);
    for r in &mut b.rows {
        r.swap(0, 1);
    }
    let c = check(&b.write(tmp.path()), Some(&population()));
    assert_eq!(
        c.report.verdict,
        Verdict::Accepted,
        "{:?}",
        c.report.reasons
    );
}

#[test]
fn non_utf8_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let b = gzss(good_gzss_rows(3));
    let mut csv = b.csv_bytes();
    let pos = csv.iter().rposition(|&c| c == b'L').unwrap();
    csv[pos] = 0xE9; // Latin-1 é
    let dir = b.write_files(tmp.path(), &[("gzss-001.csv".into(), csv, 3)]);
    let c = check(&dir, Some(&population()));
    rejected_by(&c, "FMT-004");
}

#[test]
fn an_empty_file_and_a_header_only_file() {
    let tmp = tempfile::tempdir().unwrap();
    let b = gzss(vec![]);
    let dir = b.write_files(tmp.path(), &[("gzss-001.csv".into(), vec![], 0)]);
    let c = check(&dir, None);
    rejected_by(&c, "FMT-001");
    assert!(c.report.reasons[0].contains("empty"));

    let dir = b.write(&tmp.path().join("h"));
    let c = check(&dir, None);
    rejected_by(&c, "FMT-001");
    assert!(c.report.reasons[0].contains("no data row"));
}

#[test]
fn unknown_codes_are_rejected_rows_and_above_threshold_the_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(200);
    rows[7][3] = "999999".into();
    let c = check(&gzss(rows.clone()).write(tmp.path()), Some(&population()));
    assert_eq!(
        c.report.verdict,
        Verdict::AcceptedWithRejectedRows,
        "{:?}",
        c.report.reasons
    );
    assert_eq!(c.report.rows_rejected, 1);
    assert_eq!(
        c.report.rule("COD-001").unwrap().status,
        RuleStatus::FailedBelowThreshold
    );
    let fb = c.feedback.unwrap();
    assert!(fb.contains("L7;COD-001;error;nomenclature"), "{fb}");

    for r in rows.iter_mut().take(20) {
        r[3] = "999999".into();
    }
    let c = check(
        &gzss(rows).write(&tmp.path().join("b")),
        Some(&population()),
    );
    rejected_by(&c, "COD-001");
    assert!(
        c.report.reasons.iter().any(|r| r.contains("10.00 %")),
        "{:?}",
        c.report.reasons
    );
}

#[test]
fn dates_outside_the_period_before_birth_or_after_death() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(300);
    rows[1][4] = "2024-07-01".into(); // next quarter
    rows.push(gzss_row(900, 99, Insurer::Socialist, "2024-05-15")); // died 2024-04-30
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    assert_eq!(
        c.report.verdict,
        Verdict::AcceptedWithRejectedRows,
        "{:?}",
        c.report.reasons
    );
    assert_eq!(c.report.rule("DAT-001").unwrap().failing_rows, 1);
    assert_eq!(c.report.rule("DAT-003").unwrap().failing_rows, 1);
    assert!(
        c.report.rule("DAT-003").unwrap().examples[0]
            .contains("after the person's death on 2024-04-30")
    );
}

#[test]
fn persons_missing_from_the_population_and_rules_that_cannot_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(300);
    rows.push(gzss_row(901, 12345, Insurer::Socialist, "2024-05-15"));
    let dir = gzss(rows).write(tmp.path());
    let c = check(&dir, Some(&population()));
    assert_eq!(c.report.rule("POP-001").unwrap().failing_rows, 1);
    let c = check(&dir, None);
    let pop = c.report.rule("POP-001").unwrap();
    assert_eq!(pop.status, RuleStatus::NotEvaluated, "never a silent pass");
    assert!(pop.message.contains("no population file"));
}

#[test]
fn a_raw_national_number_rejects_the_whole_delivery_and_is_never_echoed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(500);
    rows[3][1] = "85073003328".into();
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    rejected_by(&c, "PRV-001");
    assert_eq!(c.report.rows_accepted, 0);
    let json = c.report.to_json();
    assert!(
        !json.contains("85073003328"),
        "the report must not repeat the number"
    );
    assert!(
        !c.feedback.unwrap().contains("85073003328"),
        "nor the feedback file"
    );
}

#[test]
fn a_national_number_with_separators_is_caught_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(500);
    rows[3][1] = "85.07.30-033.28".into();
    rows[4][7] = "not-a-code-85073003328x".into(); // malformed prescriber: rejected, value withheld
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    rejected_by(&c, "PRV-001");
    let all = format!("{}{}", c.report.to_json(), c.feedback.unwrap_or_default());
    assert!(
        !all.contains("85.07.30-033.28") && !all.contains("85073003328"),
        "{all}"
    );
}

#[test]
fn duplicate_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(300);
    rows.push(rows[5].clone());
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    let d = c.report.rule("DUP-001").unwrap();
    assert_eq!(d.failing_rows, 1);
    assert_eq!(c.report.rows_accepted, 300);
}

#[test]
fn a_manifest_naming_another_insurer_or_period_than_its_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..5)
        .map(|i| gzss_row(i, i, Insurer::Independent, "2024-05-02"))
        .collect();
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    rejected_by(&c, "MAN-003");
    assert!(
        c.report
            .reasons
            .iter()
            .any(|r| r.contains("5 rows name another insurer than the manifest's 300"))
    );

    // Rows of 2024Q1 under a manifest that says 2024Q2: every date is outside the period.
    let rows: Vec<_> = (0..5)
        .map(|i| gzss_row(i, i, Insurer::Socialist, "2024-02-02"))
        .collect();
    let c = check(
        &gzss(rows).write(&tmp.path().join("p")),
        Some(&population()),
    );
    rejected_by(&c, "DAT-001");
}

#[test]
fn implausible_amounts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = good_gzss_rows(300);
    rows[0][11] = "-25.50".into(); // negative on a non-correction line
    rows[1][11] = "300000.00".into();
    rows[2][10] = "-1".into(); // a correction line may be negative
    rows[2][11] = "-25.50".into();
    rows[3][11] = "25.505".into(); // three decimals
    let c = check(&gzss(rows).write(tmp.path()), Some(&population()));
    assert_eq!(c.report.rule("AMT-001").unwrap().failing_rows, 2);
    assert_eq!(c.report.rule("SCH-002").unwrap().failing_rows, 1);
}

#[test]
fn population_and_pharmacy_deliveries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = DeliveryBuilder::new(Insurer::Christian, Database::Popu, period());
    b.rows = (0..5)
        .map(|n| popu_row(n, Insurer::Christian, period()))
        .collect();
    b.rows[1][4] = "11007".into(); // Borsbeek: valid in 2024 (merged in 2025)
    b.rows[2][4] = "99999".into();
    let c = check(&b.write(tmp.path()), None);
    assert_eq!(c.report.rule("COD-003").unwrap().failing_rows, 1);
    assert_eq!(
        c.report.rule("POP-001").unwrap().status,
        RuleStatus::NotApplicable,
        "does not apply to POPU"
    );

    let p2025: Period = "2025Q1".parse().unwrap();
    let mut b = DeliveryBuilder::new(Insurer::Christian, Database::Popu, p2025);
    b.rows = (0..3)
        .map(|n| popu_row(n, Insurer::Christian, p2025))
        .collect();
    b.rows[0][4] = "11007".into(); // Borsbeek no longer exists in 2025
    let c = check(&b.write(&tmp.path().join("2025")), None);
    assert_eq!(c.report.rule("COD-003").unwrap().failing_rows, 1);

    let mut f = DeliveryBuilder::new(Insurer::Socialist, Database::Faru, period());
    f.rows = (0..200)
        .map(|i| faru_row(i, i % 10, Insurer::Socialist, "2024-06-01"))
        .collect();
    f.rows[0][5] = "Z99ZZ99".into();
    let c = check(&f.write(&tmp.path().join("faru")), Some(&population()));
    assert_eq!(c.report.rule("COD-002").unwrap().failing_rows, 1);
    assert_eq!(c.report.verdict, Verdict::AcceptedWithRejectedRows);
}

#[test]
fn a_late_older_delivery_cannot_overwrite_its_correction() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = gzss(good_gzss_rows(3)).write(tmp.path());
    let feedback_path = tmp.path().join("fb.csv");
    let ctx = CheckContext {
        rules: rules(),
        codes: codes(),
        population: None,
        previous_volumes: vec![3, 3],
        previous_report: None,
        loaded_sequence: Some(2),
        replaced: None,
        confirmation: None,
        cross: None,
        feedback_path,
        batch_rows: 100,
    };
    let report = aim_ingest::check_delivery(&dir, &ctx, &mut (), &mut |_| {}).unwrap();
    assert_eq!(report.verdict, Verdict::Rejected);
    assert!(
        report.reasons[0].starts_with("MAN-004"),
        "{:?}",
        report.reasons
    );
}

#[test]
fn volume_changes_are_flagged_against_earlier_deliveries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = gzss(good_gzss_rows(10)).write(tmp.path());
    let ctx = CheckContext {
        rules: rules(),
        codes: codes(),
        population: Some(&population()),
        previous_volumes: vec![100, 110],
        previous_report: None,
        loaded_sequence: None,
        replaced: None,
        confirmation: None,
        cross: None,
        feedback_path: tmp.path().join("fb.csv"),
        batch_rows: 100,
    };
    let report = aim_ingest::check_delivery(&dir, &ctx, &mut (), &mut |_| {}).unwrap();
    let v = report.rule("VOL-001").unwrap();
    assert_eq!(v.status, RuleStatus::Failed);
    assert!(v.message.contains("-90.5 %"), "{}", v.message);
    assert_eq!(
        report.verdict,
        Verdict::Accepted,
        "a warning does not reject"
    );
}

fn correction_ctx<'a>(
    pop: &'a PopulationIndex,
    dir: &Path,
    replaced_rows: u64,
    confirmation: Option<aim_ingest::LossConfirmation>,
) -> CheckContext<'a> {
    CheckContext {
        rules: rules(),
        codes: codes(),
        population: Some(pop),
        previous_volumes: vec![1000, 1000],
        previous_report: None,
        loaded_sequence: Some(1),
        replaced: Some(aim_ingest::ReplacedDelivery {
            delivery_id: "300-GZSS-2024Q2-aaaaaaaaaaaa".into(),
            sequence: 1,
            rows: replaced_rows,
            file_rows: vec![("gzss-001.csv".into(), replaced_rows)],
        }),
        confirmation,
        cross: None,
        feedback_path: dir.join("fb.csv"),
        batch_rows: 100,
    }
}

#[test]
fn a_correction_losing_rows_is_held_and_measured_against_the_delivery_it_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(good_gzss_rows(10));
    b.sequence = 2;
    let dir = b.write(tmp.path());
    let pop = population();
    let report = aim_ingest::check_delivery(
        &dir,
        &correction_ctx(&pop, &dir, 20, None),
        &mut (),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::Held);
    assert_eq!(report.rows_accepted, 0, "nothing applied");
    let cor = report.rule("COR-001").unwrap();
    assert_eq!(cor.status, RuleStatus::Failed);
    assert_eq!(cor.failing_rows, 10);
    assert!(
        report.reasons[0].starts_with(
            "COR-001: 10 of the 20 rows of 300-GZSS-2024Q2-aaaaaaaaaaaa would be lost (50.0 %"
        ),
        "{:?}",
        report.reasons
    );
    let vol = report.rule("VOL-001").unwrap();
    assert!(
        vol.message
            .contains("10 rows against 20 in the delivery it replaces")
            && vol.message.contains("-50.0 %"),
        "against the replaced delivery, not the earlier quarters' mean of 1000: {}",
        vol.message
    );

    // Within the threshold (10 rows against 11: 9 % lost): applied as before.
    let report = aim_ingest::check_delivery(
        &dir,
        &correction_ctx(&pop, &dir, 11, None),
        &mut (),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert_eq!(report.rule("COR-001").unwrap().status, RuleStatus::Passed);

    // Confirmed: applied, the finding says who confirmed.
    let confirmation = aim_ingest::LossConfirmation {
        delivery_id: "x".into(),
        by: "A. Peeters".into(),
        reason: "duplicates withdrawn".into(),
        at: "2025-01-20T09:00:00Z".into(),
    };
    let report = aim_ingest::check_delivery(
        &dir,
        &correction_ctx(&pop, &dir, 20, Some(confirmation)),
        &mut (),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.verdict, Verdict::Accepted, "{:?}", report.reasons);
    assert!(
        report
            .rule("COR-001")
            .unwrap()
            .message
            .contains("confirmed by A. Peeters on 2025-01-20T09:00:00Z: duplicates withdrawn")
    );
    assert!(
        report
            .to_html()
            .contains("Compared with the delivery it replaces")
    );
}

#[test]
fn a_correction_with_an_emptied_file_is_held_even_when_few_rows_are_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let mut b = gzss(vec![]);
    b.sequence = 2;
    let mut full = b.clone();
    full.rows = good_gzss_rows(10);
    let dir = b.write_files(
        tmp.path(),
        &[
            ("gzss-001.csv".into(), b.csv_bytes(), 0),
            ("gzss-002.csv".into(), full.csv_bytes(), 10),
        ],
    );
    let pop = population();
    let mut ctx = correction_ctx(&pop, &dir, 10, None);
    ctx.replaced.as_mut().unwrap().file_rows =
        vec![("gzss-001.csv".into(), 1), ("gzss-002.csv".into(), 9)];
    let report = aim_ingest::check_delivery(&dir, &ctx, &mut (), &mut |_| {}).unwrap();
    assert_eq!(report.verdict, Verdict::Held, "{:?}", report.reasons);
    assert!(
        report.reasons[0].contains(
            "file gzss-001.csv has no data row where the replaced delivery's gzss-001.csv had 1"
        ),
        "{:?}",
        report.reasons
    );
    assert_eq!(
        report.correction.unwrap().files_emptied,
        vec![("gzss-001.csv".to_string(), 1)]
    );
}
