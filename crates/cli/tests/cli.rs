//! The `aim` binary end to end: exit statuses, status, SQL, a second writer refused, and an
//! ingest killed at random moments leaving the warehouse at a committed version.

use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod accounts;

use accounts::{Accounts, accounts};

/// The binary, acting by default as the shared test store's data manager
/// (`AIM_STORE`, `AIM_KEY_FILE`; tests/accounts.rs).
fn aim() -> Command {
    let a: &Accounts = accounts();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aim"));
    c.env("AIM_LOG", "error")
        .env("AIM_STORE", &a.store)
        .env("AIM_KEY_FILE", a.key(aim_access::Role::DataManager));
    c
}

fn run(args: &[&str]) -> Output {
    aim().args(args).output().expect("aim runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn period() -> Period {
    "2024Q2".parse().unwrap()
}

fn warehouse(tmp: &Path) -> PathBuf {
    let wh = tmp.join("wh");
    let reference = aim_model::geography::default_reference_dir();
    let o = run(&[
        "reference",
        "import",
        "--warehouse",
        wh.to_str().unwrap(),
        reference.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    wh
}

fn population(inbox: &Path, persons: u64) -> PathBuf {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Popu, period());
    b.rows = (0..persons)
        .map(|i| popu_row(i, Insurer::Socialist, period()))
        .collect();
    b.write(inbox)
}

fn billing(inbox: &Path, lines: u64, seq: u32) -> PathBuf {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
    b.sequence = seq;
    b.gzip = true;
    b.rows = (0..lines)
        .map(|i| gzss_row(i, i % 50, Insurer::Socialist, "2024-05-10"))
        .collect();
    b.write(inbox)
}

/// A warehouse with 400 persons, 400 GP billing lines for persons 0 to 49, ingested and
/// derived.
fn billed_warehouse(tmp: &Path) -> PathBuf {
    let wh = warehouse(tmp);
    let w = wh.to_str().unwrap();
    let inbox = tmp.join("inbox");
    population(&inbox, 400);
    billing(&inbox, 400, 1);
    assert!(
        run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&["build", "--warehouse", w]).status.success());
    wh
}

fn gzss_count(wh: &Path) -> Option<u64> {
    let o = run(&[
        "sql",
        "--warehouse",
        wh.to_str().unwrap(),
        "SELECT count(*) AS n FROM gzss",
    ]);
    if !o.status.success() {
        return None;
    }
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
}

#[test]
fn exit_statuses_status_and_sql() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let inbox = tmp.path().join("inbox");
    population(&inbox, 50);
    billing(&inbox, 200, 1);
    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        inbox.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("2 accepted"), "{}", text(&o));

    let mut bad = DeliveryBuilder::new(Insurer::Liberal, Database::Gzss, period());
    bad.rows = vec![gzss_row(1, 1, Insurer::Socialist, "2024-05-10")];
    let bad_dir = bad.write(&tmp.path().join("bad"));
    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        "--json",
        bad_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "a rejected delivery exits with 3: {}",
        text(&o)
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["outcomes"][0]["verdict"], "rejected");

    let o = run(&["status", "--warehouse", wh.to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["loaded"].as_array().unwrap().len(), 2);
    assert_eq!(status["quarantined"].as_array().unwrap().len(), 1);
    let o = run(&["status", "--warehouse", wh.to_str().unwrap()]);
    assert!(
        text(&o).contains("Quarantined deliveries (1)") && text(&o).contains("MAN-003"),
        "{}",
        text(&o)
    );

    let o = run(&[
        "sql",
        "--warehouse",
        wh.to_str().unwrap(),
        "--format",
        "json",
        "SELECT insurer, count(*) AS lines, sum(amount_reimbursed) AS paid FROM gzss GROUP BY insurer",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows[0]["lines"], 200);
    assert_eq!(rows[0]["insurer"], "300");

    let o = run(&[
        "sql",
        "--warehouse",
        wh.to_str().unwrap(),
        "DROP TABLE gzss",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(gzss_count(&wh), Some(200));

    let whs = wh.to_str().unwrap();
    let o = run(&["sql", "--warehouse", whs, "--at", "gzss=99", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("there is no version 99"), "{}", text(&o));
    let o = run(&[
        "sql",
        "--warehouse",
        whs,
        "--format",
        "json",
        "SELECT 1 AS x WHERE false",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "[]",
        "an empty result is an empty JSON array"
    );

    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        tmp.path().join("nowhere").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a missing folder is an I/O error: {}",
        text(&o)
    );
    let o = run(&["ingest", "--warehouse"]);
    assert_eq!(o.status.code(), Some(2), "usage error");
}

/// Starts an ingest in the background and waits until it holds the lock.
fn start_ingest(wh: &Path, dir: &Path) -> std::process::Child {
    let lock = wh.join(".aim.lock");
    let before = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut child = aim()
        .args([
            "ingest",
            "--warehouse",
            wh.to_str().unwrap(),
            dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let now = std::fs::read_to_string(&lock).unwrap_or_default();
        if now != before && now.contains(&format!("pid {}", child.id())) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the ingest never took the lock");
}

#[test]
fn a_second_ingest_is_refused_while_one_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let inbox = tmp.path().join("inbox");
    population(&inbox, 50);
    billing(&inbox, 300_000, 1);
    let mut first = start_ingest(&wh, &inbox);
    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        inbox.to_str().unwrap(),
    ]);
    let still_running = first.try_wait().unwrap().is_none();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("busy"), "{}", text(&o));
    assert!(
        still_running,
        "the first ingest should still hold the lock (make its delivery bigger)"
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(gzss_count(&wh), Some(300_000));
}

#[test]
fn an_ingest_killed_at_any_moment_leaves_the_previous_version() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let inbox = tmp.path().join("inbox");
    population(&inbox, 50);
    billing(&inbox, 1000, 1);
    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        inbox.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let redelivery = billing(&tmp.path().join("inbox2"), 200_000, 2);

    // Kill the re-delivery's ingest at increasing delays; each time the warehouse must be
    // at the old version (1000 rows) or, if the commit landed, the new one (200,000).
    let mut committed = false;
    for delay_ms in [0u64, 30, 100, 250, 500, 800, 1200, 1800, 2500, 3500] {
        let mut child = start_ingest(&wh, &redelivery);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let n = gzss_count(&wh).expect("the warehouse stays readable");
        assert!(
            n == 1000 || n == 200_000,
            "half-written warehouse: {n} rows after a kill at {delay_ms} ms"
        );
        if n == 200_000 {
            committed = true;
            break;
        }
    }
    // Whatever happened, finishing the ingest gives the new version exactly once.
    let o = run(&[
        "ingest",
        "--warehouse",
        wh.to_str().unwrap(),
        redelivery.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(gzss_count(&wh), Some(200_000));
    let o = run(&["status", "--warehouse", wh.to_str().unwrap(), "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let gzss_commits = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["database"] == "GZSS")
        .count();
    assert_eq!(
        gzss_commits, 2,
        "one commit for the original, one for the re-delivery (committed early: {committed})"
    );
}

#[test]
fn build_derives_once_and_the_sample_is_queried_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let o = run(&["build", "--warehouse", w]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("no population table yet"), "{}", text(&o));
    let o = run(&["sql", "--sample", "--warehouse", w, "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("run `aim build"), "{}", text(&o));

    let inbox = tmp.path().join("inbox");
    population(&inbox, 2_000);
    billing(&inbox, 500, 1);
    assert!(
        run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()])
            .status
            .success()
    );
    let o = run(&["status", "--warehouse", w]);
    assert!(text(&o).contains("2024: to build"), "{}", text(&o));
    let o = run(&["build", "--warehouse", w]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2024: built"), "{}", text(&o));
    let o = run(&["status", "--warehouse", w]);
    assert!(text(&o).contains("2024: up to date"), "{}", text(&o));
    let o = run(&["build", "--warehouse", w, "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["years"][0]["status"], "up_to_date");

    let count = |args: &[&str]| -> u64 {
        let o = run(args);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let members = count(&[
        "sql",
        "--warehouse",
        w,
        "SELECT count(*) FROM pati WHERE eps_member",
    ]);
    let sample = count(&[
        "sql",
        "--sample",
        "--warehouse",
        w,
        "SELECT count(*) FROM pati",
    ]);
    assert_eq!(members, sample);
    assert!(sample > 20, "{sample} members of 2,000");
    // The sample session does not see the full tables' rows.
    let lines = count(&[
        "sql",
        "--sample",
        "--warehouse",
        w,
        "SELECT count(DISTINCT person_id) FROM gzss",
    ]);
    assert!(lines <= sample);
    let o = run(&["docs", "derived"]);
    assert!(text(&o).contains("pp_diabetes_insulin"));
}

#[test]
fn table_requests_leave_only_through_the_gate_and_are_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let inbox = tmp.path().join("inbox");
    population(&inbox, 400);
    // 50 persons with GP lines (units 1, €25.50 each): person 0..49 get 8 lines each.
    billing(&inbox, 400, 1);
    assert!(
        run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&["build", "--warehouse", w]).status.success());

    let spec = tmp.path().join("request.toml");
    let write = |sql: &str| {
        std::fs::write(
            &spec,
            format!(
                "title = \"t\"\nrequester = \"r\"\nsql = \"\"\"\n{sql}\n\"\"\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n[[dimension]]\nname = \"user\"\nlevels = [\"gp\"]\n[[measure]]\ncolumn = \"reimbursed_total\"\nstatistics = [\"sum\", \"mean\"]\n"
            ),
        )
        .unwrap()
    };
    // A normal table: persons by sex and GP use.
    write(
        "SELECT person_id, sex, CASE WHEN gp_contacts > 0 THEN 'yes' ELSE 'no' END AS gp, reimbursed_total FROM pati WHERE year = 2024",
    );
    let table = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "table",
            "--project",
            &accounts().population_project,
            "--warehouse",
            w,
            "--spec",
            spec.to_str().unwrap(),
            "--source",
            "population",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = tmp.path().join("t.csv");
    let o = table(&out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.starts_with("sex,user,persons,sum_reimbursed_total,mean_reimbursed_total\n"),
        "{csv}"
    );
    assert!(csv.contains("Total,Total,400,"), "{csv}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("t.csv.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["audit"]["result"], "passed");
    assert_eq!(meta["policy"]["min_units"], 5);

    // A request that isolates one person: every cell is small, nothing about them leaves.
    let p7 = person(7);
    write(&format!(
        "SELECT person_id, sex, CASE WHEN gp_contacts > 0 THEN 'yes' ELSE 'no' END AS gp, reimbursed_total FROM pati WHERE year = 2024 AND person_id = '{p7}'"
    ));
    let out1 = tmp.path().join("one.csv");
    let o = table(&out1, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out1).unwrap();
    for line in csv.lines().skip(1) {
        assert!(line.ends_with("small cell,small cell,small cell"), "{line}");
    }
    assert!(
        !csv.contains("204.00") && !csv.contains("25.50"),
        "the person's spending leaked: {csv}"
    );

    // The threshold can be raised, not lowered; a population request cannot bypass the gate.
    let o = table(&out1, &["--min-units", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("raised, not lowered"), "{}", text(&o));

    // Every run is logged and every release is in the ledger.
    let runs = std::fs::read_to_string(wh.join("releases/runs.jsonl")).unwrap();
    assert_eq!(runs.lines().count(), 2);
    let ledger = std::fs::read_to_string(wh.join("releases/ledger.jsonl")).unwrap();
    assert_eq!(ledger.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(ledger.lines().next().unwrap()).unwrap();
    // Recorded under the project and its requester organisation, whatever the file says.
    assert_eq!(first["requester"], "the agency (population-aggregate)");
    assert_eq!(first["project"], accounts().population_project.as_str());
    assert!(first["source_versions"]["pati"].is_number());
}

/// Parses a gated CSV into (labels → persons) for the released cells.
fn released_counts(csv: &str, dims: usize) -> BTreeMap<Vec<String>, i64> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let n = f[dims].parse::<i64>().ok()?;
            Some((f[..dims].iter().map(|s| s.to_string()).collect(), n))
        })
        .collect()
}

#[test]
fn differencing_overlapping_requests_is_caught_in_one_run_and_through_the_ledger() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = billed_warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    // A: persons by sex and GP use. B: the same, but person 300 (no GP contact) counted
    // among the users: B − A isolates that one person.
    let p300 = person(300);
    let spec = |name: &str, cond: &str| {
        let path = tmp.path().join(format!("{name}.toml"));
        std::fs::write(
            &path,
            format!(
                "title = \"{name}\"\nrequester = \"r\"\nsql = \"\"\"\nSELECT person_id, sex, CASE WHEN {cond} THEN 'yes' ELSE 'no' END AS gp FROM pati WHERE year = 2024\n\"\"\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n[[dimension]]\nname = \"user\"\nlevels = [\"gp\"]\n"
            ),
        )
        .unwrap();
        path
    };
    let a = spec("a", "gp_contacts > 0");
    let b = spec("b", &format!("gp_contacts > 0 OR person_id = '{p300}'"));
    let out = tmp.path().join("both");
    let o = run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        a.to_str().unwrap(),
        "--spec",
        b.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    let ca = released_counts(&read(&out.join("a.csv")), 2);
    let cb = released_counts(&read(&out.join("b.csv")), 2);
    // Without the check, B's "yes" cells would exceed A's by exactly one person.
    let mut compared = 0;
    for (k, nb) in &cb {
        if let Some(na) = ca.get(k) {
            compared += 1;
            assert!(
                !(1..5).contains(&(nb - na).abs()),
                "{k:?}: {na} then {nb} reveals a small group"
            );
        }
    }
    assert!(compared > 0, "nothing comparable was released");
    let meta: serde_json::Value =
        serde_json::from_str(&read(&out.join("b.csv.meta.json"))).unwrap();
    assert!(
        meta["differencing_suppressed"].as_u64().unwrap() > 0,
        "{meta}"
    );
    assert_eq!(meta["audited_against"].as_array().unwrap().len(), 1);
    assert_eq!(meta["audit"]["result"], "passed");

    // B again, alone, later: the ledger's releases (A and B) are replayed and B's cells
    // stay hidden the same way.
    let again = tmp.path().join("again.csv");
    let o = table_on_population(w, &b, &again);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("replaying 2 earlier release(s)"),
        "{}",
        text(&o)
    );
    assert_eq!(released_counts(&read(&again), 2), cb);
    let meta: serde_json::Value =
        serde_json::from_str(&read(&tmp.path().join("again.csv.meta.json"))).unwrap();
    assert_eq!(meta["audited_against"].as_array().unwrap().len(), 2);
    // The run log keeps, inside, which cells differenced with which release.
    let runs = read(&wh.join("releases/runs.jsonl"));
    let last: serde_json::Value = serde_json::from_str(runs.lines().last().unwrap()).unwrap();
    assert!(!last["differencing"].as_array().unwrap().is_empty());
    // Another name changes nothing: anything released may be shared, so the other
    // requester's release is audited against every earlier one, whoever asked.
    let c = tmp.path().join("c.toml");
    std::fs::write(
        &c,
        read(&b).replace("requester = \"r\"", "requester = \"other\""),
    )
    .unwrap();
    let c_out = tmp.path().join("c.csv");
    let o = table_on_population(w, &c, &c_out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("replaying 3 earlier release(s)"),
        "{}",
        text(&o)
    );
    for (k, nc) in released_counts(&read(&c_out), 2) {
        if let Some(na) = ca.get(&k) {
            assert!(
                !(1..5).contains(&(nc - na).abs()),
                "{k:?}: {na} to r, then {nc} to another name, reveals a small group"
            );
        }
    }
}

#[test]
fn raw_sample_tables_need_sample_access_and_rounding_applies_after_suppression() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = billed_warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let spec = tmp.path().join("r.toml");
    std::fs::write(
        &spec,
        "title = \"t\"\nrequester = \"r\"\nrounding_base = 5\nsql = \"SELECT person_id, sex, CASE WHEN gp_contacts > 0 THEN 'yes' ELSE 'no' END AS gp FROM pati WHERE year = 2024\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n[[dimension]]\nname = \"user\"\nlevels = [\"gp\"]\n",
    )
    .unwrap();
    let table = |source: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "table",
            "--project",
            if source == "sample" {
                &accounts().sample_project
            } else {
                &accounts().population_project
            },
            "--warehouse",
            w,
            "--spec",
            spec.to_str().unwrap(),
            "--source",
            source,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    // Rounded: every released count is a multiple of 5.
    let gated = tmp.path().join("gated.csv");
    let o = table("population", &gated, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let counts = released_counts(&std::fs::read_to_string(&gated).unwrap(), 2);
    assert!(!counts.is_empty());
    assert!(counts.values().all(|n| n % 5 == 0), "{counts:?}");
    // Raw on the sample: refused without the role, written (unrounded, unsuppressed) with it.
    let raw = tmp.path().join("raw.csv");
    let researcher = accounts().key(aim_access::Role::Researcher);
    let partner = accounts().key(aim_access::Role::SamplePartner);
    let o = table(
        "sample",
        &raw,
        &["--raw", "--key-file", researcher.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains(
            "seeing a raw (unsuppressed) table of the sample needs one of the roles sample partner, agency analyst or data manager"
        ),
        "{}",
        text(&o)
    );
    assert!(!raw.exists());
    let o = table(
        "sample",
        &raw,
        &["--raw", "--key-file", partner.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&raw).unwrap();
    assert!(!csv.contains("small cell"), "{csv}");
    let sample_total: i64 =
        released_counts(&csv, 2)[&vec!["Total".to_string(), "Total".to_string()]];
    assert!(sample_total > 0 && sample_total < 400);
    // Never raw on the population, whoever asks.
    let o = table("population", &tmp.path().join("p.csv"), &["--raw"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("only available on the sample"),
        "{}",
        text(&o)
    );
    let runs = std::fs::read_to_string(wh.join("releases/runs.jsonl")).unwrap();
    assert!(
        runs.lines().any(|l| l.contains("\"raw\":true")
            && l.contains(accounts::email(aim_access::Role::SamplePartner))),
        "the raw run is logged with the account: {runs}"
    );
}

/// A release belongs to an approved project: refused for a project in the wrong state, to
/// someone who is not its member, for a project whose type does not cover it, or for a
/// project that does not exist (said as for a non-member); done for a member of a project in
/// production, and recorded with the project in the ledger, the run log and the audit log.
#[test]
fn a_release_is_for_a_member_of_a_project_in_production() {
    use aim_access::{Role, Store, StoreLocation};
    use aim_projects::{ProjectSheet, RequestType, State};
    let tmp = tempfile::tempdir().unwrap();
    let wh = billed_warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let spec = tmp.path().join("r.toml");
    std::fs::write(
        &spec,
        "title = \"t\"\nsql = \"SELECT person_id, sex FROM pati WHERE year = 2024\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n",
    )
    .unwrap();
    // Two more population requests of the analyst: one at intake, one in production
    // without the data manager as member.
    let a = accounts();
    let mut store = Store::open(&StoreLocation::parse(a.store.to_str().unwrap())).unwrap();
    let analyst = store.account(accounts::email(Role::AgencyAnalyst)).unwrap();
    let mut file = |to: Option<State>| {
        let mut sheet =
            ProjectSheet::from_toml(include_str!("../../../examples/project-sheet.toml")).unwrap();
        sheet.request_type = RequestType::PopulationAggregate;
        let now = chrono::Utc::now();
        let id = store
            .create_project(sheet, &analyst, now)
            .unwrap()
            .id()
            .to_string();
        if let Some(to) = to {
            store
                .advance_project(&id, &analyst, to, "test", "DEC/1", now)
                .unwrap();
        }
        id
    };
    let at_intake = file(None);
    let not_mine = file(Some(State::Production));
    drop(store);
    let table = |project: &str, source: &str, role: Role, out: &str| {
        aim()
            .args([
                "table",
                "--project",
                project,
                "--warehouse",
                w,
                "--spec",
                spec.to_str().unwrap(),
                "--source",
                source,
                "--out",
                tmp.path().join(out).to_str().unwrap(),
                "--key-file",
                a.key(role).to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let refused = |o: &Output, says: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", text(o));
        assert!(text(o).contains(says), "expected «{says}»: {}", text(o));
    };
    refused(
        &table(&at_intake, "population", Role::AgencyAnalyst, "a.csv"),
        &format!("project {at_intake} is in the state 'intake'"),
    );
    refused(
        &table(&not_mine, "population", Role::DataManager, "b.csv"),
        &format!("for project {not_mine} is for its members only"),
    );
    refused(
        &table("P-1999-999", "population", Role::DataManager, "c.csv"),
        "for project P-1999-999 is for its members only",
    );
    refused(
        &table(&a.population_project, "sample", Role::DataManager, "d.csv"),
        "is a 'population-aggregate' request: tables on the sample are for",
    );
    refused(
        &table(
            &a.population_project,
            "population",
            Role::SamplePartner,
            "e.csv",
        ),
        "needs one of the roles",
    );
    for out in ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"] {
        assert!(!tmp.path().join(out).exists(), "{out} written");
    }
    assert!(!wh.join("releases/ledger.jsonl").exists());

    // A member of a project in production: released, recorded with the project.
    let o = table(&not_mine, "population", Role::AgencyAnalyst, "f.csv");
    assert!(o.status.success(), "{}", text(&o));
    let ledger = std::fs::read_to_string(wh.join("releases/ledger.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(line["project"], not_mine.as_str());
    assert_eq!(
        line["requester"],
        "Ghent University, Department of Public Health"
    );
    let runs = std::fs::read_to_string(wh.join("releases/runs.jsonl")).unwrap();
    let run: serde_json::Value = serde_json::from_str(runs.lines().last().unwrap()).unwrap();
    assert_eq!(run["project"], not_mine.as_str());
    assert_eq!(run["user"], accounts::email(Role::AgencyAnalyst));
    let audit = aim()
        .args([
            "audit",
            "show",
            "--last",
            "1000000",
            "--key-file",
            a.key(Role::Administrator).to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(audit.status.success(), "{}", text(&audit));
    let audit = text(&audit);
    for project in [&at_intake, &not_mine] {
        assert!(audit.contains(project.as_str()), "{project} not in {audit}");
    }
}

#[test]
fn the_provider_rule_hides_cells_that_describe_one_provider() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let inbox = tmp.path().join("inbox");
    population(&inbox, 400);
    // Every billing line is by the same GP: the GP users' spending describes one provider.
    billing(&inbox, 400, 1);
    assert!(
        run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&["build", "--warehouse", w]).status.success());
    let spec = tmp.path().join("p.toml");
    let request = |provider: &str| {
        format!(
            "title = \"t\"\nrequester = \"p\"\nsql = \"SELECT person_id, sex, CASE WHEN gp_contacts > 0 THEN 'yes' ELSE 'no' END AS gp, reimbursed_total FROM pati WHERE year = 2024\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n[[dimension]]\nname = \"user\"\nlevels = [\"gp\"]\n[[measure]]\ncolumn = \"reimbursed_total\"\n{provider}"
        )
    };
    std::fs::write(
        &spec,
        request("[provider]\nsql = \"SELECT person_id, provider_id AS provider, sum(amount_reimbursed) AS amount FROM gzss GROUP BY 1, 2\"\nmeasure = \"reimbursed_total\"\n"),
    )
    .unwrap();
    let out = tmp.path().join("p.csv");
    let o = run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        spec.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    // Every cell with spending describes that one provider: all of them are hidden.
    for line in csv
        .lines()
        .filter(|l| l.contains(",yes,") || l.starts_with("Total,"))
    {
        assert!(line.ends_with("small cell,small cell"), "{line}");
    }
    // Without the rule, the same table releases them.
    std::fs::write(&spec, request("")).unwrap();
    let plain = tmp.path().join("plain.csv");
    let o = run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        spec.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let plain = std::fs::read_to_string(&plain).unwrap();
    assert!(
        plain.lines().any(|l| l.starts_with("Total,yes,50,")),
        "{plain}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("p.csv.meta.json")).unwrap())
            .unwrap();
    assert!(meta["provider_suppressed"].as_u64().unwrap() >= 1, "{meta}");
    assert_eq!(meta["audit"]["result"], "passed");
    let certified = meta["audit"]["certificate"].as_array().unwrap();
    assert!(
        certified
            .iter()
            .any(|c| c["quantity"] == "sum_reimbursed_total"),
        "{meta}"
    );
    // A provider rule on a measure the request does not have is refused.
    std::fs::write(
        &spec,
        request("[provider]\nsql = \"SELECT 1\"\nmeasure = \"copayment_total\"\n"),
    )
    .unwrap();
    let o = run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        spec.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("not among the request's measures"),
        "{}",
        text(&o)
    );

    // Providers are protected by default: a query that reads a provider's identifier —
    // as a dimension, in a filter, or behind a subquery — needs the provider rule.
    let by_provider = |sql: &str, dimension: &str| {
        format!(
            "title = \"t\"\nrequester = \"p\"\nsql = \"{sql}\"\n[[dimension]]\nname = \"d\"\nlevels = [\"{dimension}\"]\n"
        )
    };
    for (sql, dimension) in [
        (
            "SELECT person_id, min(provider_id) AS gp FROM gzss GROUP BY person_id",
            "gp",
        ),
        (
            "SELECT person_id, CAST(sex AS VARCHAR) AS sex FROM popu WHERE person_id IN (SELECT person_id FROM gzss WHERE provider_id > 'a')",
            "sex",
        ),
        (
            "SELECT p.person_id, CAST(p.sex AS VARCHAR) AS sex FROM popu p JOIN (SELECT DISTINCT person_id FROM gzss WHERE prescriber_id IS NOT NULL) f ON p.person_id = f.person_id",
            "sex",
        ),
    ] {
        std::fs::write(&spec, by_provider(sql, dimension)).unwrap();
        let o = run(&[
            "table",
            "--project",
            &accounts().population_project,
            "--warehouse",
            w,
            "--spec",
            spec.to_str().unwrap(),
            "--source",
            "population",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{sql}: {}", text(&o));
        assert!(
            text(&o).contains("reads provider identifiers") && text(&o).contains("[provider]"),
            "{sql}: {}",
            text(&o)
        );
    }
    // A query that does not read them is not concerned.
    std::fs::write(
        &spec,
        by_provider(
            "SELECT person_id, CAST(sex AS VARCHAR) AS sex FROM popu WHERE person_id IN (SELECT person_id FROM gzss)",
            "sex",
        ),
    )
    .unwrap();
    let o = run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        spec.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        tmp.path().join("no-provider.csv").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn the_atlas_is_computed_through_the_gate_and_exported() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let deliveries = tmp.path().join("deliveries");
    let o = run(&[
        "synth",
        "--persons",
        "2000",
        "--years",
        "2023-2024",
        "--seed",
        "5",
        "--out",
        deliveries.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // Before any derived data: a clear error.
    let o = run(&["atlas", "build", "--warehouse", w, "--no-age-groups"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("run `aim build`"), "{}", text(&o));
    assert!(
        run(&["ingest", "--warehouse", w, deliveries.to_str().unwrap()])
            .status
            .success()
    );
    assert!(run(&["build", "--warehouse", w]).status.success());
    let o = run(&[
        "atlas",
        "export",
        "--warehouse",
        w,
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("aim atlas build"), "{}", text(&o));
    let o = run(&["atlas", "build", "--warehouse", w, "--no-age-groups"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("every audit passed"), "{}", text(&o));

    // The Atlas is public, so a table is audited against it: persons alive at the end of
    // 2024 by area, next to the Atlas's persons of 2024 (the living and the dead), must not
    // give the deaths of an area where they are 1 to 4.
    let alive = tmp.path().join("alive.toml");
    std::fs::write(
        &alive,
        "title = \"alive\"\nrequester = \"curious\"\nsql = \"\"\"\nSELECT p.person_id, m.region, m.province, m.district, m.nis AS municipality FROM pati p JOIN ref_municipality_2025 m ON CAST(p.municipality_2025 AS VARCHAR) = m.nis WHERE p.year = 2024 AND p.death_date IS NULL AND CAST(p.sex AS VARCHAR) IN ('F', 'M')\n\"\"\"\n[[dimension]]\nname = \"geography\"\nlevels = [\"region\", \"province\", \"district\", \"municipality\"]\ntotal = \"BE\"\n",
    )
    .unwrap();
    let alive_csv = tmp.path().join("alive.csv");
    let o = table_on_population(w, &alive, &alive_csv);
    assert!(o.status.success(), "{}", text(&o));
    let figures = std::fs::read_to_string(wh.join("atlas/figures.csv")).unwrap();
    let col = |name: &str| {
        figures
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == name)
            .unwrap()
    };
    let (ind, year, area, sex, age, persons) = (
        col("indicator"),
        col("year"),
        col("area"),
        col("sex"),
        col("age_group"),
        col("persons"),
    );
    let atlas: BTreeMap<String, i64> = figures
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| {
            f[ind] == "antibiotics" && f[year] == "2024" && f[sex] == "all" && f[age] == "all"
        })
        .filter_map(|f| Some((f[area].to_string(), f[persons].parse::<i64>().ok()?)))
        .collect();
    let released = released_counts(&std::fs::read_to_string(&alive_csv).unwrap(), 2);
    let mut compared = 0;
    for (labels, n) in &released {
        if let Some(a) = atlas.get(&labels[0]) {
            compared += 1;
            assert!(
                !(1..5).contains(&(a - n)),
                "{}: {a} persons in the Atlas, {n} alive: {} deaths revealed",
                labels[0],
                a - n
            );
        }
    }
    assert!(compared > 0, "nothing comparable was released");

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wh.join("atlas/manifest.json")).unwrap())
            .unwrap();
    assert!(manifest["indicators"].as_array().unwrap().len() >= 15);
    assert_eq!(manifest["years"], serde_json::json!([2023, 2024]));
    assert!(
        manifest["gate"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["audit_passed"] == true)
    );
    let figures = std::fs::read_to_string(wh.join("atlas/figures.csv")).unwrap();
    let mut released = 0;
    let mut belgium = 0;
    for line in figures.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 16, "{line}");
        if f[6] == "true" {
            released += 1;
            let persons: i64 = f[7].parse().unwrap();
            assert!(
                persons == 0 || persons >= 5,
                "a released figure of {persons} persons: {line}"
            );
            let numerator: f64 = f[8].parse().unwrap();
            let proportion =
                !line.starts_with("out-of-pocket,") && !line.starts_with("reimbursed-spending,");
            if proportion {
                let (yes, no) = (numerator as i64, persons - numerator as i64);
                assert!(
                    !(1..5).contains(&yes) && !(1..5).contains(&no),
                    "small count: {line}"
                );
            }
            if f[2] == "belgium" && f[4] == "all" && f[5] == "all" {
                belgium += 1;
                assert!(!f[12].is_empty(), "Belgium has a standardised rate: {line}");
            }
        } else {
            assert!(
                f[7..16].iter().all(|v| v.is_empty()),
                "a masked figure carries a number: {line}"
            );
        }
    }
    assert!(released > 0);
    // Every indicator has Belgium's figure for both years.
    assert_eq!(
        belgium,
        2 * manifest["indicators"].as_array().unwrap().len(),
        "{belgium}"
    );

    let out = tmp.path().join("open-data");
    let o = run(&[
        "atlas",
        "export",
        "--warehouse",
        w,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let dcat: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("dcat.jsonld")).unwrap()).unwrap();
    assert_eq!(
        dcat["dcat:dataset"].as_array().unwrap().len(),
        manifest["indicators"].as_array().unwrap().len()
    );
    assert!(out.join("TERMS.md").exists() && out.join("indicators/gp-contact.csv").exists());
    let gp: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("indicators/gp-contact.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(gp["indicator"]["id"], "gp-contact");
    assert!(
        gp["figures"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["released"] == true || f["persons"].is_null())
    );
}

#[cfg(unix)]
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // The reader goes away before aim writes (`aim docs indicators | head -0`): no panic
    // message, and the end a shell expects (SIGPIPE), not an error code of aim's own.
    use std::os::unix::process::ExitStatusExt;
    for _ in 0..3 {
        let mut child = aim()
            .args(["docs", "indicators"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{:?}: {stderr}",
            out.status
        );
    }
}

/// `aim table` on the population: one request, one output.
fn table_on_population(w: &str, spec: &Path, out: &Path) -> Output {
    run(&[
        "table",
        "--project",
        &accounts().population_project,
        "--warehouse",
        w,
        "--spec",
        spec.to_str().unwrap(),
        "--source",
        "population",
        "--out",
        out.to_str().unwrap(),
    ])
}

/// Writes a one-dimension request (persons by sex) with `sql` and extra TOML lines.
fn request_by_sex(dir: &Path, name: &str, sql: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "title = \"{name}\"\nrequester = \"r\"\n{extra}\nsql = \"\"\"\n{sql}\n\"\"\"\n[[dimension]]\nname = \"sex\"\nlevels = [\"sex\"]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_gate_decides_the_unit_and_protects_one_persons_amount() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = billed_warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let table = |spec: &Path, out: &Path| table_on_population(w, spec, out);
    let out = tmp.path().join("t.csv");
    // Each person five times, declared as a unit of (person, k): refused.
    let five = "SELECT person_id, k, sex FROM pati CROSS JOIN (VALUES (1), (2), (3), (4), (5)) AS v(k) WHERE year = 2024";
    let spec = request_by_sex(
        tmp.path(),
        "declared",
        five,
        "unit = [\"person_id\", \"k\"]",
    );
    let o = table(&spec, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("the gate decides the unit"),
        "{}",
        text(&o)
    );
    // The same rows without the declaration: each person counted once or refused.
    let spec = request_by_sex(tmp.path(), "repeated", five, "");
    let o = table(&spec, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("more than one row"), "{}", text(&o));
    // Made-up identifiers, one per copy: computed, and not coded persons.
    let made_up = "SELECT person_id || '-' || CAST(k AS VARCHAR) AS person_id, sex FROM pati CROSS JOIN (VALUES (1), (2), (3), (4), (5)) AS v(k) WHERE year = 2024";
    let spec = request_by_sex(tmp.path(), "made-up", made_up, "");
    let o = table(&spec, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("person_id is computed") || text(&o).contains("not a coded person"),
        "{}",
        text(&o)
    );
    // Real identifiers handed to other persons' rows: by a window function, by a join of two
    // tables of persons on something else than the person, by an aggregate.
    for (name, sql) in [
        (
            "shifted",
            "SELECT person_id, sex FROM (SELECT lead(person_id) OVER (ORDER BY person_id) AS person_id, sex FROM pati WHERE year = 2024) q",
        ),
        (
            "joined",
            "SELECT b.person_id, a.sex FROM pati a JOIN pati b ON a.age = b.age AND a.year = b.year WHERE a.year = 2024",
        ),
        (
            "aggregated",
            "SELECT max(person_id) AS person_id, sex FROM pati WHERE year = 2024 GROUP BY sex, municipality_2025",
        ),
    ] {
        let spec = request_by_sex(tmp.path(), name, sql, "");
        let o = table(&spec, &out);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", text(&o));
        assert!(text(&o).contains("person_id"), "{name}: {}", text(&o));
    }
    assert!(
        !out.exists(),
        "nothing may be written for a refused request"
    );
    // Joining on the person is fine.
    let spec = request_by_sex(
        tmp.path(),
        "same-person",
        "SELECT a.person_id, b.sex FROM pati a JOIN pati b ON a.person_id = b.person_id AND a.year = b.year WHERE a.year = 2024",
        "",
    );
    let o = table(&spec, &tmp.path().join("fine.csv"));
    assert!(o.status.success(), "{}", text(&o));

    // One patient's €100,000 bill among persons of a few euros: every cell holding it has
    // enough persons, but its sum would tell the others (or anyone who knows them) that bill.
    let p7 = person(7);
    let spec = request_by_sex(
        tmp.path(),
        "bill",
        &format!(
            "SELECT person_id, sex, CASE WHEN person_id = '{p7}' THEN 100000.0 ELSE reimbursed_total END AS amount FROM pati WHERE year = 2024"
        ),
        "",
    );
    let mut text_spec = std::fs::read_to_string(&spec).unwrap();
    text_spec.push_str("[[measure]]\ncolumn = \"amount\"\nstatistics = [\"sum\", \"mean\"]\n");
    std::fs::write(&spec, text_spec).unwrap();
    let o = table(&spec, &out);
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read_to_string(&out).unwrap();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if let Ok(sum) = f[2].parse::<f64>() {
            assert!(
                sum < 50_000.0,
                "a sum dominated by one person was released: {line}"
            );
        }
    }
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("t.csv.meta.json")).unwrap())
            .unwrap();
    assert!(
        meta["contributor_suppressed"].as_u64().unwrap() >= 2,
        "{meta}"
    );
    assert_eq!(meta["audit"]["result"], "passed");
    assert!(
        meta["audit"]["certificate"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["quantity"] == "sum_amount"),
        "the amounts are certified: {meta}"
    );
    assert_eq!(meta["rules"]["contributor"]["dominance_k"], 85.0);
}

/// The scenario on the real binary: a GZSS correction whose first file was emptied
/// (manifest consistent, higher sequence) is held with exit status 3, the reason on the
/// console, nothing changed; `aim confirm` applies it and records who and why.
#[test]
fn a_correction_that_empties_a_file_is_held_and_confirmed_explicitly() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = warehouse(tmp.path());
    let w = wh.to_str().unwrap();
    let two_files = |parent: &Path, first: u64, second: u64, seq: u32| {
        let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
        b.sequence = seq;
        let part = |from: u64, n: u64| {
            let mut p = b.clone();
            p.rows = (from..from + n)
                .map(|i| gzss_row(i, i % 50, Insurer::Socialist, "2024-05-10"))
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
    };
    let inbox = tmp.path().join("inbox");
    population(&inbox, 50);
    two_files(&inbox, 600, 400, 1);
    let o = run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(gzss_count(&wh), Some(1000));

    let correction = two_files(&tmp.path().join("inbox2"), 0, 400, 2);
    let o = run(&["ingest", "--warehouse", w, correction.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "held: exit status 3: {out}");
    assert!(out.contains("1 held"), "{out}");
    assert!(
        out.contains("HELD")
            && out.contains("600 of the 1000 rows")
            && out.contains("gzss-001.csv"),
        "the reason is on the console: {out}"
    );
    assert!(out.contains("aim confirm --warehouse"), "{out}");
    assert!(
        out.contains("VOL-001"),
        "warning-level failures are printed at the end: {out}"
    );
    assert_eq!(gzss_count(&wh), Some(1000), "nothing applied");

    let o = run(&["status", "--warehouse", w, "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let held = &status["quarantined"][0];
    assert_eq!(held["held"], true);
    let id = held["delivery_id"].as_str().unwrap().to_string();

    let o = run(&["confirm", "--warehouse", w, &id]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--reason is required: {}",
        text(&o)
    );
    assert_eq!(gzss_count(&wh), Some(1000));

    let o = run(&[
        "confirm",
        "--warehouse",
        w,
        &id,
        "--reason",
        "file 1 was billed twice",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(gzss_count(&wh), Some(400));
    let o = run(&["status", "--warehouse", w, "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["quarantined"].as_array().unwrap().len(), 0);
    let confirmed = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["delivery_id"] == id.as_str())
        .expect("in the history");
    let by = confirmed["confirmation"]["by"].as_str().unwrap();
    assert!(
        by.contains(accounts::email(aim_access::Role::DataManager)),
        "the account that confirmed: {by}"
    );
    assert_eq!(
        confirmed["confirmation"]["reason"],
        "file 1 was billed twice"
    );
}
