//! `aim build` end to end: on synthetic deliveries (stays against the generator's truth, PATI
//! against the billing lines, the sample's fractions, stability and estimates, incremental
//! rebuilds with lineage) and on hostile hand-made input (counted treatments, never a crash).

use aim_derive::{BuildOptions, BuildProgress, BuildSummary, Definitions, YearStatus};
use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use aim_warehouse::load::NoProgress;
use aim_warehouse::{IngestOptions, Warehouse, query, reference, tables};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Quiet;
impl BuildProgress for Quiet {
    fn step(&self, _: i32, _: &str) {}
}

async fn build(wh: &Warehouse) -> BuildSummary {
    aim_derive::build(
        wh,
        &Definitions::builtin(),
        &BuildOptions::default(),
        Arc::new(Quiet),
    )
    .await
    .unwrap()
}

async fn ingest(wh: &Warehouse, dirs: &[PathBuf]) {
    let s = aim_warehouse::ingest(wh, dirs, &IngestOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(!s.any_rejected());
}

async fn sql(wh: &Warehouse, q: &str) -> Vec<RecordBatch> {
    let ctx = query::session(wh, &BTreeMap::new()).await.unwrap();
    query::run_read_only(&ctx, q).await.unwrap()
}

async fn num(wh: &Warehouse, q: &str) -> f64 {
    let b = sql(wh, &format!("SELECT CAST(({q}) AS DOUBLE)")).await;
    let c = b[0].column(0).as_primitive::<Float64Type>();
    if c.is_null(0) { 0.0 } else { c.value(0) }
}

async fn int(wh: &Warehouse, q: &str) -> i64 {
    let b = sql(wh, &format!("SELECT CAST(({q}) AS BIGINT)")).await;
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Rows of a query as strings (every column cast to text by the query).
async fn rows(wh: &Warehouse, q: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in sql(wh, q).await {
        let cols: Vec<_> = (0..b.num_columns())
            .map(|i| {
                datafusion::arrow::compute::cast(
                    b.column(i),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
                .unwrap()
            })
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|c| {
                        let s = c.as_string::<i32>();
                        if s.is_null(r) {
                            String::new()
                        } else {
                            s.value(r).to_string()
                        }
                    })
                    .collect(),
            );
        }
    }
    out
}

async fn synthetic_warehouse(dir: &Path) -> (Warehouse, PathBuf) {
    let out = dir.join("deliveries");
    let cfg = aim_synth::SynthConfig {
        persons: 4_000,
        years: 2023..=2024,
        seed: 11,
        out: out.clone(),
        defects: false,
        reference_dir: aim_model::geography::default_reference_dir(),
        ttp_key: None,
        gzip: false,
    };
    aim_synth::generate(&cfg, &|_| {}).unwrap();
    let wh = Warehouse::open_or_create(&dir.join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    ingest(&wh, std::slice::from_ref(&out)).await;
    (wh, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_years_build_and_match_the_truth_and_the_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let (wh, deliveries) = synthetic_warehouse(tmp.path()).await;
    let summary = build(&wh).await;
    assert_eq!(summary.years.len(), 2);
    assert!(summary.years.iter().all(|y| y.status == YearStatus::Built));

    // Stays: exactly the generator's truth, as a multiset.
    let mut truth: HashMap<Vec<String>, i32> = HashMap::new();
    let text = std::fs::read_to_string(deliveries.join("truth/stays.csv")).unwrap();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let key = [f[0], f[2], f[3], f[4], f[5], f[6], f[7]]
            .map(String::from)
            .to_vec();
        *truth.entry(key).or_default() += 1;
    }
    let mut ours: HashMap<Vec<String>, i32> = HashMap::new();
    for r in rows(&wh, "SELECT person_id, institution_id, CAST(admission AS VARCHAR), CAST(discharge AS VARCHAR), kind, CAST(transfer AS VARCHAR), room_type FROM hosp").await {
        *ours.entry(r).or_default() += 1;
    }
    let n_truth: i32 = truth.values().sum();
    assert!(n_truth > 1000, "{n_truth} stays");
    assert_eq!(ours, truth, "stays differ from the generator's truth");

    for year in [2023, 2024] {
        // PATI sums equal the billing and pharmacy lines they come from.
        let lines = num(
            &wh,
            &format!("SELECT sum(amount_reimbursed) FROM gzss WHERE period LIKE '{year}Q%'"),
        )
        .await
            + num(
                &wh,
                &format!("SELECT sum(amount_reimbursed) FROM faru WHERE period LIKE '{year}Q%'"),
            )
            .await;
        let pati = num(
            &wh,
            &format!("SELECT sum(reimbursed_total) FROM pati WHERE year = {year}"),
        )
        .await;
        assert!(
            (lines - pati).abs() < 0.005,
            "{year}: lines {lines} vs pati {pati}"
        );
        let copay_lines = num(
            &wh,
            &format!("SELECT sum(copayment) FROM gzss WHERE period LIKE '{year}Q%'"),
        )
        .await;
        let copay_gz: f64 = num(
            &wh,
            &format!(
                "SELECT sum(copayment_total - copayment_pharmacy) FROM pati WHERE year = {year}"
            ),
        )
        .await;
        assert!((copay_lines - copay_gz).abs() < 0.005);
        let hosp = num(
            &wh,
            &format!("SELECT sum(reimbursed) FROM hosp WHERE year = {year}"),
        )
        .await;
        let hosp_group = num(
            &wh,
            &format!("SELECT sum(reimbursed_hospital) FROM pati WHERE year = {year}"),
        )
        .await;
        assert!(
            (hosp - hosp_group).abs() < 0.005,
            "every hospital line is in a stay"
        );
        let gp_units = int(&wh, &format!("SELECT sum(units) FROM gzss WHERE period LIKE '{year}Q%' AND nomenclature IN ('101010', '101032', '103132')")).await;
        assert_eq!(
            gp_units,
            int(
                &wh,
                &format!("SELECT sum(gp_contacts) FROM pati WHERE year = {year}")
            )
            .await
        );
        let persons = int(
            &wh,
            &format!("SELECT count(DISTINCT person_id) FROM popu WHERE period LIKE '{year}Q%'"),
        )
        .await;
        assert_eq!(
            persons,
            int(
                &wh,
                &format!("SELECT count(*) FROM pati WHERE year = {year}")
            )
            .await
        );
        // Pseudo-pathologies are present at plausible rates.
        let diabetes = num(&wh, &format!("SELECT avg(CASE WHEN pp_diabetes_insulin OR pp_diabetes_no_insulin THEN 1.0 ELSE 0.0 END) FROM pati WHERE year = {year}")).await;
        assert!((0.03..0.09).contains(&diabetes), "diabetes {diabetes}");
        assert_eq!(
            int(&wh, &format!("SELECT count(*) FROM pati WHERE year = {year} AND pp_diabetes_insulin AND pp_diabetes_no_insulin")).await,
            0,
            "'unless' makes the two diabetes flags exclusive"
        );
    }

    // The sample: fractions per stratum within binomial tolerance.
    let defs = Definitions::builtin();
    for r in rows(&wh, "SELECT CAST(age >= 65 AS VARCHAR), CAST(count(*) AS VARCHAR), CAST(sum(CASE WHEN eps_member THEN 1 ELSE 0 END) AS VARCHAR) FROM pati GROUP BY age >= 65").await {
        let f = if r[0] == "true" { defs.sample.fraction_from } else { defs.sample.fraction_below };
        let (n, m): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        let sd = (n * f * (1.0 - f)).sqrt();
        assert!((m - n * f).abs() <= 3.5 * sd, "stratum 65+={}: {m} members of {n}", r[0]);
    }
    // A member stays a member in every later year while insured.
    assert_eq!(
        int(&wh, "SELECT count(*) FROM pati a JOIN pati b ON a.person_id = b.person_id WHERE a.year = 2023 AND b.year = 2024 AND a.eps_member AND NOT b.eps_member").await,
        0
    );
    assert!(int(&wh, "SELECT count(*) FROM pati a JOIN pati b ON a.person_id = b.person_id WHERE a.year = 2023 AND b.year = 2024 AND a.eps_member").await > 50);

    // The sample's tables hold exactly the members' rows.
    let s = wh.sample();
    for year in [2023, 2024] {
        let members = int(
            &wh,
            &format!("SELECT count(*) FROM pati WHERE year = {year} AND eps_member"),
        )
        .await;
        assert_eq!(
            members,
            int(
                &s,
                &format!("SELECT count(*) FROM pati WHERE year = {year}")
            )
            .await
        );
        for t in ["gzss", "faru", "popu"] {
            let full = int(&wh, &format!("SELECT count(*) FROM {t} x JOIN pati p ON x.person_id = p.person_id AND p.year = {year} WHERE x.period LIKE '{year}Q%' AND p.eps_member")).await;
            let sample = int(
                &s,
                &format!("SELECT count(*) FROM {t} WHERE period LIKE '{year}Q%'"),
            )
            .await;
            assert_eq!(full, sample, "{t} {year}");
            assert!(sample > 0);
        }
        let stays = int(&wh, &format!("SELECT count(*) FROM hosp h JOIN pati p ON h.person_id = p.person_id AND p.year = {year} WHERE h.year = {year} AND p.eps_member")).await;
        assert_eq!(
            stays,
            int(
                &s,
                &format!("SELECT count(*) FROM hosp WHERE year = {year}")
            )
            .await
        );
        // Weighted sample counts add up to the population.
        let weighted = num(
            &s,
            &format!("SELECT sum(eps_weight) FROM pati WHERE year = {year}"),
        )
        .await;
        let population = num(
            &wh,
            &format!("SELECT count(*) FROM pati WHERE year = {year}"),
        )
        .await;
        assert!(
            (weighted - population).abs() < 1e-6 * population,
            "{weighted} vs {population}"
        );
        // Estimates from the sample lie within their 95 % confidence interval of the truth.
        for var in [
            "CAST(reimbursed_total AS DOUBLE)",
            "CASE WHEN gp_contacts > 0 THEN 1.0 ELSE 0.0 END",
        ] {
            let truth = num(
                &wh,
                &format!("SELECT avg({var}) FROM pati WHERE year = {year}"),
            )
            .await;
            let est = num(
                &s,
                &format!(
                    "SELECT sum(eps_weight * {var}) / sum(eps_weight) FROM pati WHERE year = {year}"
                ),
            )
            .await;
            let n = num(
                &s,
                &format!("SELECT count(*) FROM pati WHERE year = {year}"),
            )
            .await;
            let sd = num(
                &s,
                &format!("SELECT stddev({var}) FROM pati WHERE year = {year}"),
            )
            .await;
            let half = 1.96 * sd / n.sqrt();
            assert!(
                (est - truth).abs() <= half,
                "{var} {year}: sample {est} ± {half}, population {truth}"
            );
        }
    }

    // Incremental: nothing changed, nothing rebuilt.
    let again = build(&wh).await;
    assert!(
        again.years.iter().all(|y| y.status == YearStatus::UpToDate),
        "{again:?}"
    );

    // A corrected 2024 delivery: 2024 is rebuilt, 2023 is not; the lineage names the inputs.
    let original = deliveries.join(aim_synth::folder_name(
        Insurer::Christian,
        Database::Gzss,
        "2024Q3".parse::<Period>().unwrap(),
    ));
    let copy = tmp
        .path()
        .join("correction")
        .join(original.file_name().unwrap());
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&original).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    edit_manifest(&copy, |m| m.sequence = 2);
    ingest(&wh, &[copy]).await;
    let after = build(&wh).await;
    let status: BTreeMap<i32, YearStatus> =
        after.years.iter().map(|y| (y.year, y.status)).collect();
    assert_eq!(status[&2023], YearStatus::UpToDate);
    assert_eq!(status[&2024], YearStatus::Built);
    let pati = tables::open(&wh, "pati").await.unwrap().unwrap();
    let history = tables::history(&pati, "pati").await.unwrap();
    let last = &history.last().unwrap().2;
    assert_eq!(last["kind"], "build");
    assert_eq!(last["year"], 2024);
    let gzss_version = tables::open(&wh, "gzss")
        .await
        .unwrap()
        .unwrap()
        .version()
        .unwrap();
    assert_eq!(last["inputs"]["gzss"]["version"], gzss_version);
    assert_eq!(
        last["inputs"]["definitions_sha256"],
        Definitions::builtin().hash.as_str()
    );
}

/// Writes a new version of `ref_nomenclature` without `code` (a reference table that lost a code).
async fn drop_nomenclature_code(wh: &Warehouse, code: &str) {
    let batches = sql(
        wh,
        &format!("SELECT * FROM ref_nomenclature WHERE code <> '{code}'"),
    )
    .await;
    let mut table = tables::open(wh, "ref_nomenclature").await.unwrap().unwrap();
    let mut w = tables::writer(&table, "ref_nomenclature").unwrap();
    use deltalake::writer::DeltaWriter;
    for b in batches {
        // The SQL session reads text as Utf8View; the table stores Utf8.
        let cols: Vec<_> = b
            .columns()
            .iter()
            .map(|c| {
                datafusion::arrow::compute::cast(c, &datafusion::arrow::datatypes::DataType::Utf8)
                    .unwrap()
            })
            .collect();
        let fields: Vec<_> = b
            .schema()
            .fields()
            .iter()
            .map(|f| {
                datafusion::arrow::datatypes::Field::new(
                    f.name(),
                    datafusion::arrow::datatypes::DataType::Utf8,
                    true,
                )
            })
            .collect();
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        w.write(RecordBatch::try_new(schema, cols).unwrap())
            .await
            .unwrap();
    }
    let adds = w.flush().await.unwrap();
    let removes = tables::files_to_remove(&table, "ref_nomenclature", None)
        .await
        .unwrap();
    tables::commit(
        &mut table,
        "ref_nomenclature",
        adds,
        removes,
        None,
        serde_json::json!({"kind": "reference"}),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_counted_treatments_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_or_create(&tmp.path().join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    let period: Period = "2024Q2".parse().unwrap();
    let ins = Insurer::Socialist;
    let popu = |seq: u32, f: &dyn Fn(u64, &mut Vec<String>) -> bool| {
        let mut b = DeliveryBuilder::new(ins, Database::Popu, period);
        b.sequence = seq;
        b.rows = (0..10)
            .filter_map(|i| {
                let mut r = popu_row(i, ins, period);
                f(i, &mut r).then_some(r)
            })
            .collect();
        b
    };
    let (inst_a, inst_b) = (provider(100), provider(200));
    let mut g = DeliveryBuilder::new(ins, Database::Gzss, period);
    let mut n = 0;
    let mut line = |person: u64, code: &str, date: &str, inst: &str, room: &str| {
        n += 1;
        let mut r = gzss_row(n, person, ins, date);
        r[3] = code.into();
        r[8] = inst.into();
        r[9] = room.into();
        r
    };
    let mut lines = Vec::new();
    for p in 0..10 {
        lines.push(line(p, "101032", "2024-04-02", "", ""));
    }
    // Person 1: two hospitals on the night of 11 April (an overlap).
    lines.push(line(1, "768014", "2024-04-10", &inst_a, "C"));
    lines.push(line(1, "768014", "2024-04-11", &inst_a, "C"));
    lines.push(line(1, "768014", "2024-04-11", &inst_b, "S"));
    // Person 2: a consultation after the death the corrected population will report.
    lines.push(line(2, "101032", "2024-05-20", "", ""));
    // Person 3: physiotherapy, a code the reference will lose.
    lines.push(line(3, "560011", "2024-04-15", "", ""));
    g.rows = lines;
    let dirs = vec![popu(1, &|_, _| true).write(tmp.path()), g.write(tmp.path())];
    ingest(&wh, &dirs).await;
    // The corrected population: person 9 is gone, person 2 died on 1 May.
    let corrected = popu(2, &|i, r| {
        if i == 2 {
            r[10] = "2024-05-01".into();
        }
        i != 9
    })
    .write(&tmp.path().join("v2"));
    ingest(&wh, &[corrected]).await;
    drop_nomenclature_code(&wh, "560011").await;

    let summary = build(&wh).await;
    let c = summary.years[0].counters.clone().unwrap();
    assert_eq!(c.persons, 9);
    assert_eq!(c.gzss_lines_person_not_in_population, 1, "{c:?}");
    assert_eq!(c.lines_after_death, 1, "{c:?}");
    assert_eq!(c.stays.overlapping_hospital_days, 1, "{c:?}");
    assert_eq!(c.lines_unknown_nomenclature, 1, "{c:?}");
    assert_eq!(c.unknown_nomenclature_codes, vec!["560011".to_string()]);
    assert_eq!(c.classic_stays, 1);
    let stay = rows(&wh, "SELECT institution_id, CAST(admission AS VARCHAR), CAST(discharge AS VARCHAR), CAST(billed_days AS VARCHAR) FROM hosp").await;
    assert_eq!(
        stay,
        vec![vec![
            inst_a.clone(),
            "2024-04-10".into(),
            "2024-04-12".into(),
            "2".into()
        ]],
        "the continuing hospital keeps the night"
    );
    let p3 = person(3);
    assert_eq!(
        num(
            &wh,
            &format!("SELECT reimbursed_other FROM pati WHERE person_id = '{p3}'")
        )
        .await,
        25.5,
        "a code missing from the reference is spent under 'other'"
    );
    assert_eq!(
        num(
            &wh,
            &format!("SELECT physiotherapy_sessions FROM pati WHERE person_id = '{p3}'")
        )
        .await,
        1.0
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(wh.root().join("qc/build-2024.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["counters"]["lines_after_death"], 1);
}
