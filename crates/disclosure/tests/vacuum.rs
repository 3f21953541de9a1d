//! The warehouse's vacuum keeps every version the gate's ledger replays: a release is made on
//! a version of gzss, the table is corrected twice, the vacuum runs with every commit before
//! its horizon, and a new release (which replays the first on its recorded versions by time
//! travel) still goes through.

use aim_disclosure::{Gate, Options, TableRequest};
use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use aim_warehouse::vacuum::{self, VacuumOptions};
use aim_warehouse::{IngestOptions, Warehouse, reference, tables};
use std::path::Path;
use std::sync::Arc;

fn period() -> Period {
    "2024Q2".parse().unwrap()
}

/// Ingests one delivery and returns the table version it created.
async fn ingest(wh: &Warehouse, dir: &Path) -> u64 {
    let s = aim_warehouse::ingest(
        wh,
        &[dir.to_path_buf()],
        &IngestOptions::default(),
        Arc::new(aim_warehouse::load::NoProgress),
    )
    .await
    .unwrap();
    let o = s.outcomes.last().unwrap();
    assert_eq!(o.verdict, aim_ingest::Verdict::Accepted, "{:?}", o.reasons);
    o.version.unwrap()
}

/// 400 GP lines for the persons 0 to `persons - 1`.
fn gzss(inbox: &Path, persons: u64, seq: u32) -> std::path::PathBuf {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
    b.sequence = seq;
    b.rows = (0..400)
        .map(|i| gzss_row(i, i % persons, Insurer::Socialist, "2024-05-10"))
        .collect();
    b.write(inbox)
}

async fn files_of(wh: &Warehouse, version: u64) -> Vec<String> {
    let t = tables::open_at(wh, "gzss", version).await.unwrap();
    tables::active_files(&t, "gzss")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

fn request(title: &str) -> TableRequest {
    TableRequest::parse(&format!(
        "title = \"{title}\"\nrequester = \"researcher\"\nsql = \"\"\"\nSELECT DISTINCT g.person_id, p.sex FROM gzss g JOIN popu p ON g.person_id = p.person_id\n\"\"\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_the_ledger_replays_survives_the_vacuum() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_or_create(&tmp.path().join("wh")).unwrap();
    reference::import(&wh, &aim_model::geography::default_reference_dir())
        .await
        .unwrap();
    let inbox = tmp.path().join("inbox");
    let mut p = DeliveryBuilder::new(Insurer::Socialist, Database::Popu, period());
    p.rows = (0..400)
        .map(|i| popu_row(i, Insurer::Socialist, period()))
        .collect();
    p.write(&inbox);
    ingest(&wh, &inbox).await;
    let v1 = ingest(&wh, &gzss(&tmp.path().join("g1"), 50, 1)).await;
    let options = Options::default();
    let grant = population_grant();
    // A release on gzss v1: the ledger records it.
    Gate::open(&wh)
        .unwrap()
        .release(
            &request("first"),
            &grant,
            &options,
            &tmp.path().join("first.csv"),
        )
        .await
        .unwrap();
    let pins = vacuum::ledger_versions(&wh).unwrap();
    assert!(pins["gzss"].contains(&v1), "{pins:?}");
    // Two corrections: v1's and v2's files are superseded.
    let v2 = ingest(&wh, &gzss(&tmp.path().join("g2"), 40, 2)).await;
    let v3 = ingest(&wh, &gzss(&tmp.path().join("g3"), 30, 3)).await;
    let (v1_files, v2_files) = (files_of(&wh, v1).await, files_of(&wh, v2).await);

    // Every commit is before the horizon. Without the ledger, v1's files would go too.
    let mut later = VacuumOptions::new(30, 24, true).unwrap();
    later.now = chrono::Utc::now() + chrono::Duration::days(31);
    let ledger = wh.ledger_path();
    std::fs::rename(&ledger, ledger.with_extension("away")).unwrap();
    let without = vacuum::vacuum(&wh, &later, Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    std::fs::rename(ledger.with_extension("away"), &ledger).unwrap();
    let planned: Vec<&str> = without
        .tables
        .iter()
        .find(|t| t.table == "gzss")
        .unwrap()
        .removed
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert!(v1_files.iter().all(|f| planned.contains(&f.as_str())));

    later.dry_run = false;
    let done = vacuum::vacuum(&wh, &later, Arc::new(vacuum::NoProgress))
        .await
        .unwrap();
    let g = done.tables.iter().find(|t| t.table == "gzss").unwrap();
    assert_eq!(g.horizon_version, v3);
    assert_eq!(g.ledger_versions, vec![v1]);
    let dir = wh.table_dir("gzss");
    assert!(v1_files.iter().all(|f| dir.join(f).exists()));
    assert!(v2_files.iter().all(|f| !dir.join(f).exists()));

    // A new release replays the first one on gzss v1 (by time travel) and goes through.
    let mut gate = Gate::open(&wh).unwrap();
    assert_eq!(gate.earlier_releases(), 1);
    gate.release(
        &request("second"),
        &grant,
        &options,
        &tmp.path().join("second.csv"),
    )
    .await
    .unwrap();
}

/// A data manager's grant to release tables on the population for a population request
/// taken through its steps to production.
fn population_grant() -> aim_access::Grant {
    use aim_projects::{Project, ProjectSheet, RequestType, State, Workflow};
    let account = aim_access::Account {
        id: aim_access::AccountId(1),
        email: "dm@example.be".into(),
        name: "D. Manager".into(),
        organisation: "agency".into(),
        roles: [aim_access::Role::DataManager].into_iter().collect(),
        enabled: true,
        oidc: None,
    };
    let mut sheet =
        ProjectSheet::from_toml(include_str!("../../../examples/project-sheet.toml")).unwrap();
    sheet.request_type = RequestType::PopulationAggregate;
    sheet.linked_sources.clear();
    let now = chrono::Utc::now();
    let mut project = Project::new("P-2026-001", sheet, &account.email, now).unwrap();
    project
        .advance(
            &Workflow::builtin(),
            State::Production,
            &account.email,
            "test",
            "DEC/1",
            now,
        )
        .unwrap();
    aim_access::authorize_release(
        &account,
        aim_access::Capability::ReleasePopulationTable,
        &project,
        Some(aim_access::ProjectRole::Requester),
    )
    .unwrap()
}
