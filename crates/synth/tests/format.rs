//! The deliveries follow docs/delivery-format.md.

mod common;

use aim_model::{Database, Insurer, Period};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

#[test]
fn deliveries_follow_the_format() {
    let out = common::tmp("format");
    let summary = common::run(&common::config(3_000, 2024..=2024, 3, out.clone(), false));
    let dels = common::deliveries(&out);
    // All 7 insurers x 9 databases x 4 quarters.
    let keys: HashSet<(Insurer, Database, Period)> = dels
        .iter()
        .map(|(_, m)| (m.insurer, m.database, m.period))
        .collect();
    assert_eq!(keys.len(), 252);
    assert_eq!(dels.len(), 252);
    assert_eq!(summary.deliveries.len(), 252);
    let nomen: HashSet<String> = aim_model::codes::nomenclature_codes()
        .into_iter()
        .map(|n| n.code)
        .collect();
    let atc: HashSet<String> = aim_model::codes::atc_codes()
        .into_iter()
        .map(|n| n.code)
        .collect();
    let quals: HashSet<String> = aim_model::codes::qualifications()
        .into_iter()
        .map(|n| n.code)
        .collect();
    let mut popu_persons: HashMap<(Insurer, Period), HashSet<String>> = HashMap::new();
    let mut line_ids: HashMap<(Insurer, Database, Option<Period>), HashSet<String>> =
        HashMap::new();
    for (dir, m) in &dels {
        assert_eq!(dir.file_name().unwrap().to_str().unwrap(), m.folder_name());
        assert_eq!(m.sequence, 1);
        assert!(m.created.ends_with("T09:00:00Z"));
        let table = m.database.table();
        let expected: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        for f in &m.files {
            let bytes = std::fs::read(dir.join(&f.name)).unwrap();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), f.sha256, "{}", f.name);
            assert!(f.name.ends_with(".csv.gz"));
            let text = common::read_file(&dir.join(&f.name));
            let mut lines = text.lines();
            assert_eq!(
                lines.next().unwrap().split(';').collect::<Vec<_>>(),
                expected
            );
            assert_eq!(lines.count() as u64, f.rows, "{}", f.name);
        }
        let (h, rows) = common::rows(dir, m);
        assert!(!rows.is_empty() || m.database != Database::Popu);
        for r in &rows {
            assert_eq!(r.len(), h.len());
            for (v, c) in r.iter().zip(table.columns) {
                assert!(
                    !aim_ttp::niss::looks_like_niss(v),
                    "raw national number in a clean run: {v}"
                );
                if v.is_empty() {
                    assert!(c.nullable, "{} empty", c.name);
                    continue;
                }
                match c.ty {
                    aim_model::ColumnType::CodedId => {
                        assert!(aim_model::is_coded_id(v), "{}: {v}", c.name)
                    }
                    aim_model::ColumnType::Amount => {
                        let (_, dec) = v.split_once('.').expect("two decimals");
                        assert_eq!(dec.len(), 2, "{v}");
                        v.parse::<f64>().unwrap();
                    }
                    aim_model::ColumnType::Date => {
                        let d: chrono::NaiveDate = v.parse().unwrap();
                        if c.name == "service_date"
                            || c.name == "delivery_date"
                            || c.name == "reference_date"
                        {
                            assert!(m.period.contains(d), "{} {v} outside {}", c.name, m.period);
                        }
                    }
                    aim_model::ColumnType::Code(aim_model::schema::CodeSystem::Nomenclature) => {
                        assert!(nomen.contains(v), "{v}")
                    }
                    aim_model::ColumnType::Code(aim_model::schema::CodeSystem::Atc) => {
                        assert!(atc.contains(v), "{v}")
                    }
                    aim_model::ColumnType::Code(aim_model::schema::CodeSystem::Qualification) => {
                        assert!(quals.contains(v), "{v}")
                    }
                    aim_model::ColumnType::Code(aim_model::schema::CodeSystem::Insurer) => {
                        assert_eq!(v, m.insurer.code())
                    }
                    _ => {}
                }
            }
        }
        match m.database {
            Database::Popu => {
                let set = popu_persons.entry((m.insurer, m.period)).or_default();
                for r in &rows {
                    assert!(
                        set.insert(r[0].clone()),
                        "person twice in one POPU delivery"
                    );
                }
            }
            Database::Chta | Database::Docn => {}
            db => {
                // An episode keeps its identifier in every quarter it spans.
                let scope = (db == Database::Itao).then_some(m.period);
                let ids = line_ids.entry((m.insurer, db, scope)).or_default();
                for r in &rows {
                    assert!(
                        ids.insert(r[0].clone()),
                        "{db} key {} not unique within the insurer",
                        r[0]
                    );
                }
            }
        }
    }
    // Every billed person is in the insurer's POPU of the quarter.
    for (dir, m) in dels
        .iter()
        .filter(|(_, m)| m.database != Database::Popu && m.database.has_persons())
    {
        let (h, rows) = common::rows(dir, m);
        let c = h.iter().position(|x| x == "person_id").unwrap();
        let set = &popu_persons[&(m.insurer, m.period)];
        for r in rows {
            assert!(
                set.contains(&r[c]),
                "{} billed by {} in {} but not in its POPU",
                r[c],
                m.insurer,
                m.period
            );
        }
    }
    // A person keeps one code across insurers: switchers appear in two insurers' POPU.
    let mut insurers_of: HashMap<&String, HashSet<Insurer>> = HashMap::new();
    for ((ins, _), set) in &popu_persons {
        for p in set {
            insurers_of.entry(p).or_default().insert(*ins);
        }
    }
    assert!(
        insurers_of.values().any(|s| s.len() == 2),
        "some persons changed insurer"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn uncompressed_output_and_bad_configuration() {
    let out = common::tmp("plain");
    let mut cfg = common::config(300, 2024..=2024, 5, out.clone(), false);
    cfg.gzip = false;
    common::run(&cfg);
    assert!(out.join("100-GZSS-2024Q1/gzss-001.csv").exists());
    std::fs::remove_dir_all(&out).unwrap();
    cfg.persons = 0;
    let err = aim_synth::generate(&cfg, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("persons"), "{err}");
    cfg.persons = 10;
    cfg.reference_dir = "/nonexistent".into();
    assert!(aim_synth::generate(&cfg, &|_| {}).is_err());
}
