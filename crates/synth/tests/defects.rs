//! A defects run lists what it injected, and the defects are really in the files.

mod common;

use aim_synth::defects::Defect;
use std::collections::{HashMap, HashSet};

#[test]
fn injected_defects_are_listed_and_present() {
    let out = common::tmp("defects");
    let summary = common::run(&common::config(20_000, 2024..=2024, 99, out.clone(), true));
    let listed: Vec<Defect> =
        serde_json::from_str(&std::fs::read_to_string(out.join("defects.json")).unwrap()).unwrap();
    assert_eq!(listed, summary.defects);
    let kinds: HashSet<&str> = listed.iter().map(|d| d.kind.as_str()).collect();
    for k in [
        "raw_national_number",
        "unknown_nomenclature",
        "date_outside_period",
        "service_after_death",
        "duplicate_line",
        "person_not_in_popu",
        "negative_amount",
        "implausible_amount",
        "unknown_atc",
        "manifest_row_count",
        "manifest_wrong_insurer",
        "katz_category_inconsistent",
        "incapacity_ends_before_start",
        "chapter_iv_validity_reversed",
        "gp_file_empty",
        "docn_booked_before_service",
        "authorised_never_delivered",
        "new_attest_without_line",
        "katz_person_not_in_popu",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    let dels: HashMap<String, _> = common::deliveries(&out)
        .into_iter()
        .map(|(d, m)| (d.file_name().unwrap().to_str().unwrap().to_string(), (d, m)))
        .collect();
    let defective: HashSet<&str> = listed.iter().map(|d| d.delivery.as_str()).collect();
    assert!(
        defective.len() >= 10 && defective.len() < dels.len() / 4,
        "most deliveries stay clean"
    );
    let popu = |ins: &str, q: u8| -> HashMap<String, Vec<String>> {
        let (d, m) = &dels[&format!("{ins}-POPU-2024Q{q}")];
        common::rows(d, m)
            .1
            .into_iter()
            .map(|r| (r[0].clone(), r))
            .collect()
    };
    for d in &listed {
        let (dir, m) = &dels[&d.delivery];
        let (h, rows) = common::rows(dir, m);
        let col = |n: &str| h.iter().position(|x| x == n).unwrap();
        let count =
            |pred: &dyn Fn(&Vec<String>) -> bool| rows.iter().filter(|r| pred(r)).count() as u64;
        match d.kind.as_str() {
            "raw_national_number" => assert_eq!(
                count(&|r| aim_ttp::niss::looks_like_niss(&r[col("person_id")])),
                d.rows_affected
            ),
            "unknown_nomenclature" => assert_eq!(
                count(&|r| r[col("nomenclature")] == aim_synth::defects::UNKNOWN_NOMENCLATURE),
                d.rows_affected
            ),
            "date_outside_period" => assert_eq!(
                count(&|r| !m.period.contains(r[col("service_date")].parse().unwrap())),
                d.rows_affected
            ),
            "service_after_death" => {
                let p = popu(m.insurer.code(), m.period.quarter);
                let after = count(&|r| {
                    p.get(&r[col("person_id")])
                        .is_some_and(|pr| !pr[10].is_empty() && r[col("service_date")] > pr[10])
                });
                assert_eq!(after, d.rows_affected);
            }
            "duplicate_line" => {
                let ids: HashSet<&String> = rows.iter().map(|r| &r[0]).collect();
                assert_eq!(rows.len() as u64 - ids.len() as u64, d.rows_affected);
            }
            "person_not_in_popu" => {
                let p = popu(m.insurer.code(), m.period.quarter);
                assert_eq!(
                    count(&|r| !p.contains_key(&r[col("person_id")])),
                    d.rows_affected
                );
            }
            "negative_amount" => assert_eq!(
                count(&|r| r[col("amount_reimbursed")].starts_with('-')
                    && r[col("units")].parse::<i64>().unwrap() > 0),
                d.rows_affected
            ),
            "implausible_amount" => assert_eq!(
                count(&|r| r[col("amount_reimbursed")] == aim_synth::defects::HUGE_AMOUNT),
                d.rows_affected
            ),
            "unknown_atc" => assert_eq!(
                count(&|r| r[col("atc")] == aim_synth::defects::UNKNOWN_ATC),
                d.rows_affected
            ),
            "manifest_row_count" => assert_ne!(m.total_rows(), rows.len() as u64),
            "manifest_wrong_insurer" => {
                assert!(rows.iter().all(|r| r[col("insurer")] != m.insurer.code()));
                assert!(!d.delivery.starts_with(m.insurer.code()));
            }
            "katz_category_inconsistent" => assert_eq!(
                count(&|r| {
                    let s: [i32; 6] =
                        std::array::from_fn(|k| r[col(aim_model::katz::ITEMS[k])].parse().unwrap());
                    !aim_model::katz::agrees(s, &r[col("category")])
                }),
                d.rows_affected
            ),
            "incapacity_ends_before_start" => assert_eq!(
                count(&|r| !r[col("end_date")].is_empty()
                    && r[col("end_date")] < r[col("start_date")]),
                d.rows_affected
            ),
            "chapter_iv_validity_reversed" => assert_eq!(
                count(&|r| r[col("decision")] == "A" && r[col("valid_to")] < r[col("valid_from")]),
                d.rows_affected
            ),
            "gp_file_empty" => assert_eq!(
                count(
                    &|r| r[col("global_medical_file")] == "false" && r[col("flat_fee")] == "false"
                ),
                d.rows_affected
            ),
            "docn_booked_before_service" => assert_eq!(
                count(&|r| r[col("service_month")] > r[col("booking_month")]),
                d.rows_affected
            ),
            "authorised_never_delivered" => assert_eq!(
                count(&|r| r[col("atc")] == aim_synth::defects::NEVER_DELIVERED_ATC),
                d.rows_affected
            ),
            "new_attest_without_line" => assert_eq!(
                count(&|r| r[col("line_id")].starts_with("G0000-")),
                d.rows_affected
            ),
            "katz_person_not_in_popu" => {
                let p = popu(m.insurer.code(), m.period.quarter);
                assert_eq!(
                    count(&|r| !p.contains_key(&r[col("person_id")])),
                    d.rows_affected
                );
            }
            other => panic!("unexpected defect kind {other}"),
        }
        if d.level == "row" {
            assert!(d.rows_affected > 0, "{d:?}");
        }
    }
    // The clean deliveries have no raw national number.
    for (name, (dir, m)) in &dels {
        if defective.contains(name.as_str()) {
            continue;
        }
        let (_, rows) = common::rows(dir, m);
        assert!(
            rows.iter()
                .flatten()
                .all(|v| !aim_ttp::niss::looks_like_niss(v)),
            "{name}"
        );
        assert_eq!(m.total_rows(), rows.len() as u64);
    }
    std::fs::remove_dir_all(out).unwrap();
}
