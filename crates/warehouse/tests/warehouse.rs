//! The warehouse end to end on hand-made deliveries: atomic commits, idempotence,
//! re-deliveries with time travel, quarantine, the lock.

use aim_ingest::Verdict;
use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use aim_warehouse::load::NoProgress;
use aim_warehouse::{Catalog, IngestOptions, Warehouse, WarehouseLock, query, reference};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn period() -> Period {
    "2024Q2".parse().unwrap()
}

async fn new_warehouse(dir: &Path) -> Warehouse {
    let wh = Warehouse::open_or_create(&dir.join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    wh
}

async fn ingest(wh: &Warehouse, dirs: &[PathBuf]) -> aim_warehouse::IngestSummary {
    aim_warehouse::ingest(wh, dirs, &IngestOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap()
}

async fn count(wh: &Warehouse, sql: &str, versions: &BTreeMap<String, u64>) -> i64 {
    let ctx = query::session(wh, versions).await.unwrap();
    let batches = query::run_read_only(&ctx, sql).await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

fn popu(n: u64) -> DeliveryBuilder {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Popu, period());
    b.rows = (0..n)
        .map(|i| popu_row(i, Insurer::Socialist, period()))
        .collect();
    b
}

fn gzss(lines: u64, seq: u32) -> DeliveryBuilder {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
    b.sequence = seq;
    b.gzip = true;
    b.rows = (0..lines)
        .map(|i| gzss_row(i, i % 20, Insurer::Socialist, "2024-04-10"))
        .collect();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_import_is_versioned_and_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let again = reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    assert!(
        again.iter().all(|t| !t.changed),
        "unchanged content writes no new version"
    );
    let n = count(
        &wh,
        "SELECT count(*) FROM ref_municipality_2025",
        &BTreeMap::new(),
    )
    .await;
    assert_eq!(n, 565);
    let n = count(
        &wh,
        "SELECT count(*) FROM ref_municipality_2019 WHERE nis_2025 = '46030'",
        &BTreeMap::new(),
    )
    .await;
    assert_eq!(
        n, 3,
        "Beveren, Kruibeke and Zwijndrecht became Beveren-Kruibeke-Zwijndrecht"
    );
    let codes = reference::codes(&wh).await.unwrap();
    assert!(codes.nomenclature.contains("102771"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_commit_once_and_redeliveries_replace_with_history_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    let p = popu(20).write(&inbox);
    let g1 = gzss(100, 1).write(&inbox);

    let s = ingest(&wh, std::slice::from_ref(&inbox)).await;
    assert_eq!(s.outcomes.len(), 2);
    assert_eq!(s.outcomes[0].folder, p, "population first");
    assert!(
        s.outcomes.iter().all(|o| o.verdict == Verdict::Accepted),
        "{:#?}",
        s.outcomes
    );
    let v1 = s.outcomes[1].version.unwrap();
    let none = BTreeMap::new();
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 100);
    assert!(
        wh.archive_dir(&s.outcomes[1].delivery_id)
            .join("SHA256SUMS")
            .exists()
    );
    assert!(
        wh.qc_dir(&s.outcomes[1].delivery_id)
            .join("report.html")
            .exists()
    );
    assert!(wh.root().join("qc/overview-2024Q2.html").exists());

    // The same delivery again changes nothing.
    let s = ingest(&wh, std::slice::from_ref(&g1)).await;
    assert_eq!(s.outcomes[0].verdict, Verdict::AlreadyLoaded);
    let catalog = Catalog::load(&wh).await.unwrap();
    assert_eq!(
        catalog
            .records
            .iter()
            .filter(|r| r.database == "GZSS")
            .count(),
        1
    );

    // A corrected re-delivery replaces it in one commit; the old version stays readable.
    let g2 = gzss(95, 2).write(&tmp.path().join("inbox2"));
    let s = ingest(&wh, &[g2]).await;
    assert_eq!(
        s.outcomes[0].verdict,
        Verdict::Accepted,
        "{:?}",
        s.outcomes[0].reasons
    );
    let v2 = s.outcomes[0].version.unwrap();
    assert_eq!(v2, v1 + 1, "one commit");
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 95);
    let at_v1: BTreeMap<String, u64> = [("gzss".to_string(), v1)].into();
    assert_eq!(
        count(&wh, "SELECT count(*) FROM gzss", &at_v1).await,
        100,
        "time travel to the replaced version"
    );
    let catalog = Catalog::load(&wh).await.unwrap();
    let current = catalog
        .current_for("300", Database::Gzss, period())
        .unwrap();
    assert_eq!(current.sequence, 2);
    assert!(current.replaces.is_some());
    assert_eq!(
        catalog
            .previous_delivery("300", Database::Gzss, period())
            .unwrap()
            .delivery_id,
        current.delivery_id
    );

    // The original arriving late cannot overwrite its correction.
    let s = ingest(&wh, &[g1]).await;
    assert_eq!(s.outcomes[0].verdict, Verdict::Rejected);
    assert!(s.outcomes[0].reasons[0].starts_with("MAN-004"));
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_delivery_is_quarantined_and_leaves_no_trace_in_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    popu(20).write(&inbox);
    ingest(&wh, std::slice::from_ref(&inbox)).await;
    let mut bad = gzss(5000, 1);
    bad.rows[4000][1] = "85073003328".into(); // a raw national number, late in the file
    let dir = bad.write(&tmp.path().join("bad"));
    let s = ingest(&wh, &[dir]).await;
    let o = &s.outcomes[0];
    assert_eq!(o.verdict, Verdict::Rejected);
    assert!(
        wh.quarantine_dir(&o.delivery_id)
            .join("reason.json")
            .exists()
    );
    assert!(
        wh.quarantine_dir(&o.delivery_id)
            .join("manifest.json")
            .exists()
    );
    let gzss_dir = wh.table_dir("gzss");
    let parquet_files = walk(&gzss_dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count();
    assert_eq!(parquet_files, 0, "uncommitted files are removed");
    let catalog = Catalog::load(&wh).await.unwrap();
    assert!(
        catalog
            .current_for("300", Database::Gzss, period())
            .is_none()
    );
    let q = aim_warehouse::catalog::quarantined(&wh);
    assert!(q[0].reasons[0].contains("PRV-001"));
    // Nothing anywhere in the warehouse holds the number.
    for f in walk(wh.root()) {
        if f.starts_with(wh.root().join("quarantine")) {
            continue; // the quarantined original is kept as delivered, for the insurer's investigation
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(11).any(|w| w == b"85073003328"),
            "{} holds the raw number",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_cannot_hold_the_warehouse() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let _held = WarehouseLock::acquire(&wh, "test").unwrap();
    let dir = popu(3).write(&tmp.path().join("inbox"));
    let err = aim_warehouse::ingest(&wh, &[dir], &IngestOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("busy"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let ctx = query::session(&wh, &BTreeMap::new()).await.unwrap();
    for sql in [
        "DROP TABLE ref_atc",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO ref_atc SELECT * FROM ref_atc",
    ] {
        assert!(query::run_read_only(&ctx, sql).await.is_err(), "{sql}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A GZSS delivery of `first` lines in `gzss-001.csv` and `second` in `gzss-002.csv`, as
/// the scenario: a quarter delivered in two files.
fn gzss_two_files(parent: &Path, first: u64, second: u64, seq: u32) -> PathBuf {
    let mut b = gzss(0, seq);
    b.gzip = false;
    let part = |from: u64, n: u64| {
        let mut p = b.clone();
        p.rows = (from..from + n)
            .map(|i| gzss_row(i, i % 20, Insurer::Socialist, "2024-04-10"))
            .collect();
        (p.csv_bytes(), n)
    };
    let (one, n1) = part(0, first);
    let (two, n2) = part(100_000, second);
    b.write_files(
        parent,
        &[
            ("gzss-001.csv".to_string(), one, n1),
            ("gzss-002.csv".to_string(), two, n2),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_that_empties_a_file_is_held_until_a_data_manager_confirms_it() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    popu(20).write(&inbox);
    gzss_two_files(&inbox, 5416, 4998, 1);
    let s = ingest(&wh, std::slice::from_ref(&inbox)).await;
    assert!(!s.any_rejected(), "{:#?}", s.outcomes);
    let none = BTreeMap::new();
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 10_414);
    let first = Catalog::load(&wh)
        .await
        .unwrap()
        .current_for("300", Database::Gzss, period())
        .cloned()
        .unwrap();

    // The correction: its first file emptied, the manifest consistent, a higher sequence.
    let correction = gzss_two_files(&tmp.path().join("inbox2"), 0, 4998, 2);
    let s = ingest(&wh, std::slice::from_ref(&correction)).await;
    let o = &s.outcomes[0];
    assert_eq!(o.verdict, Verdict::Held, "{:?}", o.reasons);
    assert!(
        s.any_rejected(),
        "a held correction makes the ingest exit with 3"
    );
    assert_eq!(o.version, None);
    let reason = o.reasons.join(" ");
    assert!(
        reason.starts_with("COR-001: 5416 of the 10414 rows of")
            && reason.contains("file gzss-001.csv has no data row")
            && reason.contains(&first.delivery_id),
        "{reason}"
    );
    // Nothing changed in the warehouse: same rows, same delivery in force, no new commit.
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 10_414);
    let catalog = Catalog::load(&wh).await.unwrap();
    assert_eq!(
        catalog.current_for("300", Database::Gzss, period()),
        Some(&first)
    );
    let quarantined = aim_warehouse::catalog::quarantined(&wh);
    assert_eq!(quarantined.len(), 1);
    assert!(quarantined[0].held);
    let report: aim_ingest::QcReport = serde_json::from_slice(
        &std::fs::read(wh.qc_dir(&o.delivery_id).join("report.json")).unwrap(),
    )
    .unwrap();
    let c = report.correction.as_ref().unwrap();
    assert_eq!(
        (c.rows_before, c.rows_now, c.rows_lost),
        (10_414, 4998, 5416)
    );
    assert_eq!(c.files_emptied, vec![("gzss-001.csv".to_string(), 5416)]);
    let vol = report.rule("VOL-001").unwrap();
    assert!(
        vol.message
            .contains("against 10414 in the delivery it replaces"),
        "VOL-001 measures a correction against the delivery it replaces: {}",
        vol.message
    );
    let html = std::fs::read_to_string(wh.qc_dir(&o.delivery_id).join("report.html")).unwrap();
    let held_at = html.find("Held: this correction would lose data").unwrap();
    assert!(
        held_at < html.find("<h2>Rules</h2>").unwrap(),
        "the reason is at the top"
    );

    // Ingesting it again does not apply it either.
    let s = ingest(&wh, std::slice::from_ref(&correction)).await;
    assert_eq!(s.outcomes[0].verdict, Verdict::Held);
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 10_414);

    // A confirmation needs who and why.
    let opts = IngestOptions::default();
    let err = aim_warehouse::confirm(&wh, &o.delivery_id, "", "", &opts, Arc::new(NoProgress))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--by"), "{err}");
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 10_414);

    // Confirmed: applied, and the confirmation is recorded in the commit and by the report.
    let s = aim_warehouse::confirm(
        &wh,
        &o.delivery_id,
        "A. Peeters",
        "the insurer withdrew file 1: billed twice",
        &opts,
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(
        s.outcomes[0].verdict,
        Verdict::Accepted,
        "{:?}",
        s.outcomes[0].reasons
    );
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &none).await, 4998);
    let catalog = Catalog::load(&wh).await.unwrap();
    let now = catalog
        .current_for("300", Database::Gzss, period())
        .unwrap();
    assert_eq!(now.sequence, 2);
    assert_eq!(now.replaces.as_deref(), Some(first.delivery_id.as_str()));
    let confirmation = now.confirmation.as_ref().expect("recorded in the commit");
    assert_eq!(confirmation.by, "A. Peeters");
    assert_eq!(
        confirmation.reason,
        "the insurer withdrew file 1: billed twice"
    );
    assert!(wh.qc_dir(&o.delivery_id).join("confirmation.json").exists());
    assert!(aim_warehouse::catalog::quarantined(&wh).is_empty());
    let report: aim_ingest::QcReport = serde_json::from_slice(
        &std::fs::read(wh.qc_dir(&o.delivery_id).join("report.json")).unwrap(),
    )
    .unwrap();
    assert!(
        report
            .rule("COR-001")
            .unwrap()
            .message
            .contains("confirmed by A. Peeters"),
        "{:?}",
        report.rule("COR-001")
    );
    // The replaced version stays readable.
    let at: BTreeMap<String, u64> = [("gzss".to_string(), first.version)].into();
    assert_eq!(count(&wh, "SELECT count(*) FROM gzss", &at).await, 10_414);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_held_correction_can_be_confirmed() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let opts = IngestOptions::default();
    let err = aim_warehouse::confirm(
        &wh,
        "300-GZSS-2024Q2-000000000000",
        "A",
        "B",
        &opts,
        Arc::new(NoProgress),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is in quarantine"), "{err}");
    let mut bad = gzss(10, 1);
    bad.rows[3][1] = "85073003328".into();
    let dir = bad.write(&tmp.path().join("bad"));
    let s = ingest(&wh, &[dir]).await;
    assert_eq!(s.outcomes[0].verdict, Verdict::Rejected);
    let err = aim_warehouse::confirm(
        &wh,
        &s.outcomes[0].delivery_id,
        "A",
        "B",
        &opts,
        Arc::new(NoProgress),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("rejected, not held"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_with_a_few_rows_fewer_is_applied_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    popu(20).write(&inbox);
    gzss_two_files(&inbox, 500, 500, 1);
    ingest(&wh, std::slice::from_ref(&inbox)).await;
    let dir = gzss_two_files(&tmp.path().join("inbox2"), 460, 500, 2);
    let s = ingest(&wh, &[dir]).await;
    assert_eq!(
        s.outcomes[0].verdict,
        Verdict::Accepted,
        "{:?}",
        s.outcomes[0].reasons
    );
    let report: aim_ingest::QcReport = serde_json::from_slice(
        &std::fs::read(wh.qc_dir(&s.outcomes[0].delivery_id).join("report.json")).unwrap(),
    )
    .unwrap();
    let cor = report.rule("COR-001").unwrap();
    assert_eq!(cor.status, aim_ingest::RuleStatus::Passed);
    assert!(
        cor.message.contains("960 rows against 1000"),
        "{}",
        cor.message
    );
    assert_eq!(report.correction.unwrap().rows_lost, 40);
    assert_eq!(
        count(&wh, "SELECT count(*) FROM gzss", &BTreeMap::new()).await,
        960
    );
}
