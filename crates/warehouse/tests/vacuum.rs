//! `vacuum` on real Delta tables written by the ingest: superseded files go once superseded
//! before the horizon, files of versions within the retention stay (time travel to them still
//! works), an interrupted run's orphans go after the grace period, a dry run changes nothing,
//! versions the release ledger references stay readable.

use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use aim_warehouse::load::NoProgress;
use aim_warehouse::vacuum::{self, Reason, VacuumOptions};
use aim_warehouse::{IngestOptions, Warehouse, query, reference, tables};
use chrono::{Duration, Utc};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use sha2::Digest;
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

/// Ingests and returns the new version of the (last) delivery's table.
async fn ingest(wh: &Warehouse, dir: &Path) -> u64 {
    let s = aim_warehouse::ingest(
        wh,
        &[dir.to_path_buf()],
        &IngestOptions::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let last = s.outcomes.last().unwrap();
    assert_eq!(
        last.verdict,
        aim_ingest::Verdict::Accepted,
        "{:?}",
        last.reasons
    );
    last.version.unwrap()
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

/// Row count and SHA-256 of every row (as CSV, in line order) of gzss at a version
/// (current when `None`).
async fn read_gzss(wh: &Warehouse, at: Option<u64>) -> aim_warehouse::Result<(i64, String)> {
    let versions: BTreeMap<String, u64> = at.map(|v| ("gzss".to_string(), v)).into_iter().collect();
    let ctx = query::session(wh, &versions).await?;
    let n = query::run_read_only(&ctx, "SELECT count(*) FROM gzss").await?;
    let n = n[0].column(0).as_primitive::<Int64Type>().value(0);
    let rows = query::run_read_only(&ctx, "SELECT * FROM gzss ORDER BY line_id").await?;
    let mut csv = Vec::new();
    query::write_results(&rows, query::OutputFormat::Csv, &mut csv)?;
    Ok((n, hex::encode(sha2::Sha256::digest(&csv))))
}

/// Every file under a folder, relative, with its size (not the lock file, which records its
/// last holder).
fn files(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name() != ".aim.lock" {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    e.metadata().unwrap().len(),
                );
            }
        }
    }
    out
}

/// The data files listed by a version of gzss.
async fn files_of(wh: &Warehouse, version: u64) -> Vec<String> {
    let t = tables::open_at(wh, "gzss", version).await.unwrap();
    tables::active_files(&t, "gzss")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

/// Writes a batch of gzss rows as Parquet into the table folder without committing: what an
/// ingest killed between its writes and its commit leaves. Returns the files.
async fn interrupted_write(wh: &Warehouse) -> Vec<String> {
    let v = ingest_probe_rows(wh).await;
    let table = tables::open(wh, "gzss").await.unwrap().unwrap();
    let mut writer = tables::writer(&table, "gzss").unwrap();
    use deltalake::writer::DeltaWriter;
    writer.write(v).await.unwrap();
    let adds = writer.flush().await.unwrap();
    assert!(!adds.is_empty());
    adds.into_iter().map(|a| a.path).collect()
}

/// Some rows of the current gzss (to write them again as an orphan).
async fn ingest_probe_rows(wh: &Warehouse) -> datafusion::arrow::record_batch::RecordBatch {
    let ctx = query::session(wh, &BTreeMap::new()).await.unwrap();
    let b = query::run_read_only(&ctx, "SELECT * FROM gzss LIMIT 10")
        .await
        .unwrap();
    let b = b.into_iter().find(|b| b.num_rows() > 0).unwrap();
    // As the ingest hands them to the writer: the table's own Arrow types.
    let schema = Database::Gzss.table().warehouse_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let c = b.column_by_name(f.name()).unwrap();
            datafusion::arrow::compute::cast(c, f.data_type()).unwrap()
        })
        .collect();
    datafusion::arrow::record_batch::RecordBatch::try_new(schema, columns).unwrap()
}

fn options(now: chrono::DateTime<Utc>, dry_run: bool) -> VacuumOptions {
    VacuumOptions {
        now,
        dry_run,
        ..VacuumOptions::new(30, 24, dry_run).unwrap()
    }
}

fn set_mtime(path: &Path, when: chrono::DateTime<Utc>) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::from(when)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_removes_what_no_version_within_retention_needs_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    popu(20).write(&inbox);
    let v1 = ingest(&wh, &gzss(100, 1).write(&inbox)).await;
    // A correction replaces v1's files: superseded before the horizon chosen below.
    let v2 = ingest(&wh, &gzss(95, 2).write(&tmp.path().join("in2"))).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let horizon = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Another correction, after the horizon: v2's files are still needed by v2, the version
    // in force at the horizon.
    let v3 = ingest(&wh, &gzss(90, 3).write(&tmp.path().join("in3"))).await;
    assert_eq!((v2, v3), (v1 + 1, v1 + 2));
    let (v1_files, v2_files, v3_files) = (
        files_of(&wh, v1).await,
        files_of(&wh, v2).await,
        files_of(&wh, v3).await,
    );
    let before_current = read_gzss(&wh, None).await.unwrap();
    let before_v2 = read_gzss(&wh, Some(v2)).await.unwrap();
    assert_eq!((before_current.0, before_v2.0), (90, 95));

    // An interrupted run's files: a complete Parquet file, and a staging file of a write
    // killed half-way.
    let orphans = interrupted_write(&wh).await;
    let gzss_dir = wh.table_dir("gzss");
    let staging = format!("{}#1", orphans[0]);
    std::fs::copy(gzss_dir.join(&orphans[0]), gzss_dir.join(&staging)).unwrap();
    // And a file of a write still in progress (modified within the grace period).
    let now = horizon + Duration::days(30);
    let young = format!("{}#2", orphans[0]);
    std::fs::copy(gzss_dir.join(&orphans[0]), gzss_dir.join(&young)).unwrap();
    set_mtime(&gzss_dir.join(&young), now - Duration::hours(1));

    // A dry run says what would go and changes nothing at all.
    let everything = files(wh.root());
    let dry = vacuum::vacuum(&wh, &options(now, true), Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    assert_eq!(
        files(wh.root()),
        everything,
        "a dry run removed or wrote something"
    );
    let planned = dry.tables.iter().find(|t| t.table == "gzss").unwrap();
    assert!(planned.files > 0 && dry.log.is_none());

    let done = vacuum::vacuum(&wh, &options(now, false), Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    let g = done.tables.iter().find(|t| t.table == "gzss").unwrap();
    assert_eq!(g.horizon_version, v2, "the version in force at the horizon");
    assert_eq!(
        g.removed.iter().map(|f| &f.path).collect::<Vec<_>>(),
        planned.removed.iter().map(|f| &f.path).collect::<Vec<_>>(),
        "the dry run announced exactly what the run removed"
    );
    let removed: BTreeMap<&str, Reason> = g
        .removed
        .iter()
        .map(|f| (f.path.as_str(), f.reason))
        .collect();
    // v1's files (superseded before the horizon) and the orphans went.
    for f in &v1_files {
        assert_eq!(removed.get(f.as_str()), Some(&Reason::Superseded), "{f}");
        assert!(!gzss_dir.join(f).exists(), "{f}");
    }
    for f in orphans.iter().chain([&staging]) {
        assert_eq!(removed.get(f.as_str()), Some(&Reason::Orphan), "{f}");
        assert!(!gzss_dir.join(f).exists(), "{f}");
    }
    assert_eq!(removed.len(), v1_files.len() + orphans.len() + 1);
    assert!(g.bytes > 0 && g.bytes == g.removed.iter().map(|f| f.bytes).sum::<u64>());
    // The young staging file and every file of v2 and v3 stayed.
    assert!(gzss_dir.join(&young).exists());
    for f in v2_files.iter().chain(&v3_files) {
        assert!(
            gzss_dir.join(f).exists(),
            "{f} of a version within retention"
        );
    }
    // The current version reads the same rows; time travel to v2 still works; v1 is gone.
    assert_eq!(read_gzss(&wh, None).await.unwrap(), before_current);
    assert_eq!(read_gzss(&wh, Some(v2)).await.unwrap(), before_v2);
    assert!(
        read_gzss(&wh, Some(v1)).await.is_err(),
        "v1 was superseded before the horizon: its files are gone"
    );
    // The vacuum's commits cannot clean up the log: the whole log stays, from version 0.
    {
        use deltalake::table::config::TablePropertiesExt;
        let t = tables::open(&wh, "gzss").await.unwrap().unwrap();
        assert!(
            !t.snapshot()
                .unwrap()
                .table_config()
                .enable_expired_log_cleanup()
        );
        assert!(
            gzss_dir
                .join("_delta_log/00000000000000000000.json")
                .exists()
        );
    }
    // The population and reference tables had nothing to remove.
    assert!(
        done.tables
            .iter()
            .filter(|t| t.table != "gzss")
            .all(|t| t.files == 0)
    );

    // The log says what went.
    let log = std::fs::read_to_string(wh.root().join(vacuum::VACUUM_LOG)).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert_eq!(lines[0]["table"], "gzss");
    assert_eq!(lines[0]["files"], g.files);
    assert_eq!(lines[0]["bytes"], g.bytes);
    assert_eq!(lines[0]["removed"].as_array().unwrap().len(), g.files);

    // Run again: nothing left to remove; the warehouse still ingests.
    let again = vacuum::vacuum(&wh, &options(now, false), Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    assert_eq!(again.files(), 0, "{:?}", again.tables);
    let v = ingest(&wh, &gzss(85, 4).write(&tmp.path().join("in4"))).await;
    assert_eq!(read_gzss(&wh, Some(v)).await.unwrap().0, 85);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_the_release_ledger_references_stay_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let inbox = tmp.path().join("inbox");
    popu(20).write(&inbox);
    let v1 = ingest(&wh, &gzss(100, 1).write(&inbox)).await;
    let v2 = ingest(&wh, &gzss(95, 2).write(&tmp.path().join("in2"))).await;
    let v3 = ingest(&wh, &gzss(90, 3).write(&tmp.path().join("in3"))).await;
    let at_v1 = read_gzss(&wh, Some(v1)).await.unwrap();
    let (v1_files, v2_files) = (files_of(&wh, v1).await, files_of(&wh, v2).await);
    // A release recorded on v1, as the gate writes it (the gate's own test replays one:
    // crates/disclosure/tests/vacuum.rs).
    std::fs::create_dir_all(wh.root().join("releases")).unwrap();
    let entry = serde_json::json!({
        "release": "r1", "requester": "x", "source": "population",
        "source_versions": { "gzss": v1, "popu": 1 }, "request": {},
    });
    std::fs::write(wh.ledger_path(), format!("{entry}\n")).unwrap();
    let pins = vacuum::ledger_versions(&wh).unwrap();
    assert_eq!(pins["gzss"].iter().copied().collect::<Vec<_>>(), vec![v1]);

    // Every commit is before the horizon: only the latest version is in force within it.
    let now = Utc::now() + Duration::days(31);
    let done = vacuum::vacuum(&wh, &options(now, false), Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    let g = done.tables.iter().find(|t| t.table == "gzss").unwrap();
    assert_eq!(
        (g.horizon_version, g.ledger_versions.clone()),
        (v3, vec![v1])
    );
    let gzss_dir = wh.table_dir("gzss");
    for f in &v1_files {
        assert!(
            gzss_dir.join(f).exists(),
            "{f} of a version the ledger needs"
        );
    }
    for f in &v2_files {
        assert!(!gzss_dir.join(f).exists(), "{f} is needed by nothing");
    }
    assert_eq!(read_gzss(&wh, Some(v1)).await.unwrap(), at_v1);

    // A damaged ledger: nothing is removed.
    std::fs::write(wh.ledger_path(), "{not json\n").unwrap();
    let e = vacuum::vacuum(&wh, &options(now, false), Arc::new(vacuum::NoProgress))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("damaged at line 1") && e.contains("removes nothing"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vacuum_waits_for_the_writer_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = new_warehouse(tmp.path()).await;
    let _held = aim_warehouse::WarehouseLock::acquire(&wh, "aim ingest").unwrap();
    let e = vacuum::vacuum(
        &wh,
        &options(Utc::now(), true),
        Arc::new(vacuum::NoProgress),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("busy"), "{e}");
}
