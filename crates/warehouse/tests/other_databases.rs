//! The other databases through the warehouse: each lands in its own table, one commit per
//! delivery, and the cross-database rules see the insurer's other tables (POPU, FARU, GZSS)
//! loaded before them in the same run: planted inconsistencies are in the QC reports.

use aim_ingest::testkit::*;
use aim_ingest::{QcReport, RuleStatus, Verdict};
use aim_model::{Database, Insurer, Period};
use aim_warehouse::load::NoProgress;
use aim_warehouse::{IngestOptions, Warehouse, query, reference};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use std::collections::BTreeMap;
use std::sync::Arc;

const INS: Insurer = Insurer::Socialist;

fn period() -> Period {
    "2024Q2".parse().unwrap()
}

fn delivery(db: Database, rows: Vec<Vec<String>>) -> DeliveryBuilder {
    let mut b = DeliveryBuilder::new(INS, db, period());
    b.rows = rows;
    b
}

fn report(wh: &Warehouse, delivery_id: &str) -> QcReport {
    let text = std::fs::read_to_string(wh.qc_dir(delivery_id).join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn count(wh: &Warehouse, sql: &str) -> i64 {
    let ctx = query::session(wh, &BTreeMap::new()).await.unwrap();
    let batches = query::run_read_only(&ctx, sql).await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_database_rules_fire_on_planted_inconsistencies() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_or_create(&tmp.path().join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    let inbox = tmp.path().join("inbox");
    // Persons 0-199 insured; each gets a GZSS line and sitagliptin in FARU.
    delivery(
        Database::Popu,
        (0..200).map(|i| popu_row(i, INS, period())).collect(),
    )
    .write(&inbox);
    delivery(
        Database::Gzss,
        (0..200)
            .map(|i| gzss_row(i, i, INS, "2024-05-02"))
            .collect(),
    )
    .write(&inbox);
    let mut faru: Vec<Vec<String>> = (0..200)
        .map(|i| faru_row(i, i, INS, "2024-05-03"))
        .collect();
    for r in &mut faru {
        r[5] = "A10BH01".into();
    }
    delivery(Database::Faru, faru).write(&inbox);
    // CHIV: 200 authorisations of sitagliptin; two of a medicine never delivered.
    let mut chiv: Vec<Vec<String>> = (0..200)
        .map(|i| chiv_row(i, i, INS, "A10BH01", "2024-04-20"))
        .collect();
    chiv[7][4] = "N06DA02".into();
    chiv[8][4] = "L04AB".into();
    let chiv_dir = delivery(Database::Chiv, chiv).write(&inbox);
    // PGDP: 200 rows extending the GZSS lines; one extends no line.
    let mut pgdp: Vec<Vec<String>> = (0..200)
        .map(|i| pgdp_row(i, i, INS, "2024-05-02"))
        .collect();
    pgdp[3][0] = "L9999".into();
    delivery(Database::Pgdp, pgdp).write(&inbox);
    // KATS and ITAO: one row each of a person unknown to POPU.
    let mut kats: Vec<Vec<String>> = (0..200)
        .map(|i| kats_row(i, i, INS, "2024-06-01", [3, 1, 1, 1, 1, 1], "A"))
        .collect();
    kats[0][1] = person(5000);
    delivery(Database::Kats, kats).write(&inbox);
    let mut itao: Vec<Vec<String>> = (0..200)
        .map(|i| itao_row(i, i, INS, "P", "2024-04-10", ""))
        .collect();
    itao[0][1] = person(5001);
    let itao_dir = delivery(Database::Itao, itao).write(&inbox);
    delivery(
        Database::Chta,
        (0..200)
            .map(|i| chta_row(i, INS, i % 5, true, false, period()))
            .collect(),
    )
    .write(&inbox);
    delivery(
        Database::Docn,
        vec![docn_row(INS, "2024-05-01", "2024-05-01", "101032")],
    )
    .write(&inbox);

    // The folders in any order: the warehouse sorts them (POPU, GZSS, FARU first).
    let s = aim_warehouse::ingest(
        &wh,
        &[itao_dir.clone(), chiv_dir.clone(), inbox.clone()],
        &IngestOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let order: Vec<String> = s
        .outcomes
        .iter()
        .map(|o| o.delivery_id.split('-').nth(1).unwrap().to_string())
        .collect();
    let pos = |db: &str| order.iter().position(|d| d == db).unwrap();
    assert!(
        pos("POPU") < pos("FARU") && pos("FARU") < pos("CHIV"),
        "{order:?}"
    );
    assert!(pos("GZSS") < pos("PGDP"), "{order:?}");
    for o in &s.outcomes {
        assert!(
            matches!(
                o.verdict,
                Verdict::Accepted | Verdict::AcceptedWithRejectedRows | Verdict::AlreadyLoaded
            ),
            "{o:#?}"
        );
    }
    let id_of = |db: &str| {
        s.outcomes
            .iter()
            .find(|o| o.delivery_id.contains(&format!("-{db}-")))
            .unwrap()
            .delivery_id
            .clone()
    };

    let chiv = report(&wh, &id_of("CHIV"));
    let x = chiv.rule("XDB-001").unwrap();
    assert_eq!(x.status, RuleStatus::FailedBelowThreshold, "{}", x.message);
    assert_eq!(x.failing_rows, 2);
    assert!(x.examples.iter().any(|e| e.contains("N06DA02")));
    let pgdp = report(&wh, &id_of("PGDP"));
    assert_eq!(pgdp.rule("XDB-002").unwrap().failing_rows, 1);
    for db in ["KATS", "ITAO"] {
        let r = report(&wh, &id_of(db));
        let p = r.rule("POP-001").unwrap();
        assert_eq!(p.failing_rows, 1, "{db}: {}", p.message);
        assert_eq!(r.rows_rejected, 1, "{db}");
    }
    // Warnings keep their rows; errors reject theirs.
    assert_eq!(count(&wh, "SELECT count(*) FROM chiv").await, 200);
    assert_eq!(count(&wh, "SELECT count(*) FROM pgdp").await, 200);
    assert_eq!(count(&wh, "SELECT count(*) FROM kats").await, 199);
    assert_eq!(count(&wh, "SELECT count(*) FROM itao").await, 199);
    assert_eq!(count(&wh, "SELECT count(*) FROM chta").await, 200);
    assert_eq!(count(&wh, "SELECT count(*) FROM docn").await, 1);
    assert_eq!(
        count(
            &wh,
            "SELECT count(*) FROM kats WHERE category = 'A' AND washing = 3"
        )
        .await,
        199
    );
    // The period overview lists every database of the period.
    let overview = std::fs::read_to_string(wh.root().join("qc/overview-2024Q2.json")).unwrap();
    for db in Database::ALL {
        assert!(
            overview.contains(db.code()),
            "{db} missing from the overview"
        );
    }
}
