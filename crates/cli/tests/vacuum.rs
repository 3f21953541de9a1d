//! `aim warehouse vacuum` end to end on the binary: the files a killed `aim ingest` leaves in
//! the table folder are found, listed by a dry run without being touched, removed by the
//! vacuum (after the grace period), logged, and the warehouse reads the same before and after.

mod accounts;

use accounts::{Accounts, accounts};
use aim_ingest::testkit::*;
use aim_model::{Database, Insurer, Period};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary, acting as the test store's data manager.
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

fn billing(inbox: &Path, lines: u64, seq: u32) -> PathBuf {
    let mut b = DeliveryBuilder::new(Insurer::Socialist, Database::Gzss, period());
    b.sequence = seq;
    b.gzip = true;
    b.rows = (0..lines)
        .map(|i| gzss_row(i, i % 50, Insurer::Socialist, "2024-05-10"))
        .collect();
    b.write(inbox)
}

/// Row count and sum of amounts of gzss, as `aim sql` prints them.
fn gzss_figures(wh: &Path) -> String {
    let o = run(&[
        "sql",
        "--warehouse",
        wh.to_str().unwrap(),
        "SELECT count(*) AS n, sum(amount_reimbursed) AS s, min(line_id) AS a, max(line_id) AS b FROM gzss",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under the gzss table folder except its log.
fn data_files(wh: &Path) -> BTreeSet<PathBuf> {
    let root = wh.join("tables/gzss");
    let mut out = BTreeSet::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != "_delta_log" {
                    stack.push(p);
                }
            } else {
                out.insert(p);
            }
        }
    }
    out
}

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
fn vacuum_removes_what_a_killed_ingest_left_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = tmp.path().join("wh");
    let w = wh.to_str().unwrap();
    let reference = aim_model::geography::default_reference_dir();
    let o = run(&[
        "reference",
        "import",
        "--warehouse",
        w,
        reference.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let inbox = tmp.path().join("inbox");
    let mut p = DeliveryBuilder::new(Insurer::Socialist, Database::Popu, period());
    p.rows = (0..50)
        .map(|i| popu_row(i, Insurer::Socialist, period()))
        .collect();
    p.write(&inbox);
    billing(&inbox, 1000, 1);
    let o = run(&["ingest", "--warehouse", w, inbox.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // Kill a re-delivery's ingest the moment it has written a file into the table folder
    // (before its commit, which comes after the delivery is archived).
    let mut orphans = BTreeSet::new();
    let mut redelivery = PathBuf::new();
    for seq in 2..=6 {
        let baseline = data_files(&wh);
        let figures = gzss_figures(&wh);
        redelivery = billing(&tmp.path().join(format!("inbox{seq}")), 300_000, seq);
        let mut child = start_ingest(&wh, &redelivery);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(120)
            && child.try_wait().unwrap().is_none()
            && data_files(&wh).len() == baseline.len()
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        if gzss_figures(&wh) == figures {
            orphans = data_files(&wh).difference(&baseline).cloned().collect();
            if !orphans.is_empty() {
                break;
            }
        }
        // The commit landed first (or nothing was written): try again with a new correction.
    }
    assert!(!orphans.is_empty(), "no kill left a file behind");
    let committed = data_files(&wh)
        .difference(&orphans)
        .cloned()
        .collect::<BTreeSet<_>>();
    let before = gzss_figures(&wh);

    // Within the grace period the orphans stay: they could belong to a write in progress.
    let o = run(&["warehouse", "vacuum", "--warehouse", w, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        summary["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["files"].as_u64().unwrap())
            .sum::<u64>(),
        0
    );
    assert_eq!(data_files(&wh).len(), committed.len() + orphans.len());

    // Two days later (the files' modification time set back), a dry run lists them and
    // changes nothing.
    let two_days_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
    for f in &orphans {
        let file = std::fs::File::options().write(true).open(f).unwrap();
        file.set_modified(two_days_ago).unwrap();
    }
    let o = run(&["warehouse", "vacuum", "--warehouse", w, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("Dry run: nothing removed"), "{out}");
    let gzss_line = out.lines().find(|l| l.starts_with("gzss ")).unwrap();
    let numbers: Vec<&str> = gzss_line.split_whitespace().collect();
    assert_eq!(numbers[1], orphans.len().to_string(), "{out}");
    assert_eq!(numbers[3], orphans.len().to_string(), "all orphans: {out}");
    assert_eq!(data_files(&wh).len(), committed.len() + orphans.len());
    assert!(!wh.join("logs/vacuum.jsonl").exists());

    // The vacuum removes them, logs them (with their size: a kill can leave an empty file),
    // and the table reads the same.
    let orphan_bytes: u64 = orphans
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let o = run(&["warehouse", "vacuum", "--warehouse", w]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Vacuum removed"), "{}", text(&o));
    assert_eq!(data_files(&wh), committed);
    assert_eq!(gzss_figures(&wh), before);
    let log = std::fs::read_to_string(wh.join("logs/vacuum.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(line["table"], "gzss");
    assert_eq!(line["files"], orphans.len());
    let bytes: u64 = orphans
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    assert_eq!(bytes, 0, "removed files are gone");
    assert_eq!(line["bytes"].as_u64().unwrap(), orphan_bytes);

    // The interrupted re-delivery still goes in afterwards.
    let o = run(&["ingest", "--warehouse", w, redelivery.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // A retention shorter than Delta's seven days is refused with the reason.
    let o = run(&[
        "warehouse",
        "vacuum",
        "--warehouse",
        w,
        "--retention-days",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("too short"), "{}", text(&o));
}
