//! The QC report a data manager reads: its JSON and HTML are pinned by snapshots.

use aim_ingest::testkit::*;
use aim_ingest::{CheckContext, PersonFacts, PopulationIndex, ReferenceCodes, RuleCatalog};
use aim_model::geography::{Geography, default_reference_dir};
use aim_model::{Database, Insurer, Period};

#[test]
fn qc_report_of_a_delivery_with_rejected_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let period: Period = "2024Q3".parse().unwrap();
    let mut b = DeliveryBuilder::new(Insurer::Liberal, Database::Gzss, period);
    b.rows = (0..400)
        .map(|i| gzss_row(i, i % 5, Insurer::Liberal, "2024-08-20"))
        .collect();
    b.rows[10][3] = "999999".into();
    b.rows[11][4] = "2024-10-01".into();
    b.rows.push(b.rows[12].clone());
    let dir = b.write(tmp.path());
    let codes = ReferenceCodes::from_reference(&Geography::load(&default_reference_dir()).unwrap());
    let mut pop = PopulationIndex::default();
    for n in 0..5 {
        pop.insert(
            &person(n),
            PersonFacts {
                birth_year: 1980,
                death: None,
            },
        );
    }
    let rules = RuleCatalog::builtin();
    let ctx = CheckContext {
        rules: &rules,
        codes: &codes,
        population: Some(&pop),
        previous_volumes: vec![380, 420],
        previous_report: None,
        loaded_sequence: None,
        replaced: None,
        confirmation: None,
        cross: None,
        feedback_path: tmp.path().join("feedback.csv"),
        batch_rows: 1000,
    };
    let mut report = aim_ingest::check_delivery(&dir, &ctx, &mut (), &mut |_| {}).unwrap();
    report.folder = "400-GZSS-2024Q3".into();
    report.checked_at = "2024-11-01T10:00:00Z".into();
    report.seconds = 0.5;
    report.feedback_file = Some("feedback.csv".into());
    insta::assert_snapshot!("report_json", report.to_json());
    insta::assert_snapshot!("report_html", report.to_html());
    let feedback = std::fs::read_to_string(tmp.path().join("feedback.csv")).unwrap();
    insta::assert_snapshot!("feedback_csv", feedback);
}
