//! `aim warehouse vacuum`: removes the data files that no readable version needs, from every
//! Delta table of the warehouse (source, reference, derived and the sample's), and logs what
//! it removed (`WH/logs/vacuum.jsonl`). See `docs/vacuum.md`.
//!
//! Two kinds of files go:
//!
//! - **superseded** files: removed from the table by a commit made before the retention
//!   horizon (`now − retention`), so that no version in force at or after the horizon lists
//!   them;
//! - **orphans**: Parquet files in the table folder that no commit of the log references (an
//!   ingest or a build killed after writing its files and before its commit, or a rejected
//!   delivery's files whose deletion failed), once older than the grace period.
//!
//! The work is done by the `deltalake` crate's own VACUUM (full mode: expired tombstones,
//! and untracked files older than the retention), to which this module adds what it does not
//! do: the versions to keep are computed exactly (every version from the one in force at the
//! horizon to the latest, whatever the tombstones a checkpoint kept, and every version the
//! release ledger of the disclosure gate replays); orphans go after a grace period shorter
//! than the retention, including the staging files (`….parquet#N`) a write killed half-way
//! leaves, which the object store's listing hides from deltalake; the vacuum log; the table
//! property `delta.enableExpiredLogCleanup = false` before its first commits, so that the
//! commits of deltalake's VACUUM do not delete old commit files behind a checkpoint.
//!
//! Invariants: it holds the warehouse's writer lock, so no commit is in progress; it never
//! removes a file listed by a version in force at or after the horizon, nor by a version the
//! ledger references (those stay readable by time travel for as long as the ledger exists);
//! a dry run writes nothing at all (no file removed, no commit, no log line).

use crate::{Result, Warehouse, WarehouseError, WarehouseLock, delta, io, tables};
use chrono::{DateTime, Duration, Utc};
use deltalake::operations::vacuum::{Clock, VacuumMode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default retention: files superseded more than this many days ago may go.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The shortest retention accepted: Delta's default `deletedFileRetentionDuration` (7 days),
/// which protects readers that started on an older version.
pub const MIN_RETENTION_DAYS: u32 = 7;
/// Default grace period of orphan files, in hours.
pub const DEFAULT_ORPHAN_GRACE_HOURS: u32 = 24;
/// The shortest grace period accepted for orphans, in hours.
pub const MIN_ORPHAN_GRACE_HOURS: u32 = 1;
/// The vacuum log, relative to the warehouse folder.
pub const VACUUM_LOG: &str = "logs/vacuum.jsonl";

/// What a vacuum may remove.
#[derive(Debug, Clone)]
pub struct VacuumOptions {
    /// Files superseded before `now − retention` may go.
    pub retention: Duration,
    /// Files referenced by no commit may go once older than this.
    pub orphan_grace: Duration,
    /// Only say what would go.
    pub dry_run: bool,
    /// The time the horizon is measured from (the current time, except in tests).
    pub now: DateTime<Utc>,
}

impl VacuumOptions {
    /// Options from days and hours, measured from now; refuses a retention or a grace period
    /// below the minimum, or a grace period longer than the retention.
    pub fn new(retention_days: u32, orphan_grace_hours: u32, dry_run: bool) -> Result<Self> {
        if retention_days < MIN_RETENTION_DAYS {
            return Err(WarehouseError::Vacuum(format!(
                "a retention of {retention_days} days is too short: readers that started on a \
                 version from the last {MIN_RETENTION_DAYS} days could lose their files; use \
                 --retention-days {MIN_RETENTION_DAYS} or more"
            )));
        }
        if orphan_grace_hours < MIN_ORPHAN_GRACE_HOURS {
            return Err(WarehouseError::Vacuum(format!(
                "an orphan grace period of {orphan_grace_hours} hours is too short: use at least {MIN_ORPHAN_GRACE_HOURS}"
            )));
        }
        if u64::from(orphan_grace_hours) > u64::from(retention_days) * 24 {
            return Err(WarehouseError::Vacuum(format!(
                "the orphan grace period ({orphan_grace_hours} hours) cannot be longer than the retention ({retention_days} days)"
            )));
        }
        Ok(VacuumOptions {
            retention: Duration::days(retention_days.into()),
            orphan_grace: Duration::hours(orphan_grace_hours.into()),
            dry_run,
            now: Utc::now(),
        })
    }

    /// The retention horizon: versions in force at or after it stay readable.
    pub fn horizon(&self) -> DateTime<Utc> {
        self.now - self.retention
    }
}

/// Why a file was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Removed from the table by a commit before the horizon; no kept version lists it.
    Superseded,
    /// Referenced by no commit of the table's log (an interrupted run's file).
    Orphan,
}

/// One file removed (or, in a dry run, that would be).
#[derive(Debug, Clone, Serialize)]
pub struct RemovedFile {
    /// Path inside the table folder.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Why.
    pub reason: Reason,
}

/// What the vacuum did to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableVacuum {
    /// The table: its name, `sample/<name>` for the sample's tables.
    pub table: String,
    /// Its latest version.
    pub latest_version: u64,
    /// The version in force at the horizon: it and every later version stay readable.
    pub horizon_version: u64,
    /// Older versions kept readable because the release ledger references them.
    pub ledger_versions: Vec<u64>,
    /// Files removed.
    pub removed: Vec<RemovedFile>,
    /// Number of files removed.
    pub files: usize,
    /// Bytes removed.
    pub bytes: u64,
}

/// What a vacuum did.
#[derive(Debug, Clone, Serialize)]
pub struct VacuumSummary {
    /// When it ran (the `now` of the options).
    pub time: String,
    /// True when nothing was removed because it was a dry run.
    pub dry_run: bool,
    /// Retention in days.
    pub retention_days: i64,
    /// Orphan grace period in hours.
    pub orphan_grace_hours: i64,
    /// The horizon.
    pub horizon: String,
    /// One entry per table, in order.
    pub tables: Vec<TableVacuum>,
    /// The vacuum log it appended to (none for a dry run).
    pub log: Option<PathBuf>,
}

impl VacuumSummary {
    /// Files removed in all.
    pub fn files(&self) -> usize {
        self.tables.iter().map(|t| t.files).sum()
    }

    /// Bytes removed in all.
    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }
}

/// Receives progress while vacuuming (for a progress bar).
pub trait VacuumProgress: Send + Sync {
    /// A table starts: its position, the total and its name.
    fn table_started(&self, index: usize, total: usize, table: &str);
    /// A table is done.
    fn table_finished(&self, done: &TableVacuum);
}

/// Progress that reports nothing.
pub struct NoProgress;

impl VacuumProgress for NoProgress {
    fn table_started(&self, _: usize, _: usize, _: &str) {}
    fn table_finished(&self, _: &TableVacuum) {}
}

/// One Delta table of the warehouse: where it lives and its label.
struct TableRef {
    home: Warehouse,
    name: String,
    label: String,
}

/// Every Delta table of the warehouse: `WH/tables/*`, then the sample's `WH/sample/tables/*`.
fn all_tables(wh: &Warehouse) -> Vec<TableRef> {
    let sample = wh.sample();
    let mut out: Vec<TableRef> = wh
        .table_names()
        .into_iter()
        .map(|name| TableRef {
            home: wh.clone(),
            label: name.clone(),
            name,
        })
        .collect();
    out.extend(sample.table_names().into_iter().map(|name| TableRef {
        home: sample.clone(),
        label: format!("sample/{name}"),
        name,
    }));
    out
}

/// The fields of a ledger line that say which versions its replay reads.
#[derive(serde::Deserialize)]
struct LedgerLine {
    release: String,
    source: String,
    source_versions: BTreeMap<String, u64>,
}

/// The table versions the release ledger (`WH/releases/ledger.jsonl`) references, by table
/// label (`pati`, `sample/pati`, `ref_region`): the gate replays every earlier release by
/// time travel to them, so they must stay readable. A release on the sample reads the
/// sample's tables and the warehouse's reference tables, as the gate's sample session does.
/// A damaged ledger is an error: vacuum cannot tell what to keep, so it removes nothing.
pub fn ledger_versions(wh: &Warehouse) -> Result<BTreeMap<String, BTreeSet<u64>>> {
    let path = wh.ledger_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(io(format!(
                "cannot read the release ledger {}",
                path.display()
            ))(e));
        }
    };
    let sample_names = wh.sample().table_names();
    let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: LedgerLine =
            serde_json::from_str(line).map_err(|source| WarehouseError::Ledger {
                path: path.clone(),
                line: n + 1,
                source,
            })?;
        for (name, version) in entry.source_versions {
            let label = match entry.source.as_str() {
                "population" => name,
                "sample" if sample_names.contains(&name) => format!("sample/{name}"),
                "sample" => name,
                other => {
                    return Err(WarehouseError::Vacuum(format!(
                        "release {} in the ledger {} (line {}) has a source '{other}' that vacuum does not know: it cannot tell which versions to keep, so it removes nothing",
                        entry.release,
                        path.display(),
                        n + 1
                    )));
                }
            };
            out.entry(label).or_default().insert(version);
        }
    }
    Ok(out)
}

/// Vacuums every table of the warehouse (see the module's documentation).
pub async fn vacuum(
    wh: &Warehouse,
    options: &VacuumOptions,
    progress: Arc<dyn VacuumProgress>,
) -> Result<VacuumSummary> {
    let _lock = WarehouseLock::acquire(wh, "aim warehouse vacuum")?;
    let ledger = ledger_versions(wh)?;
    let tables = all_tables(wh);
    let mut done = Vec::new();
    let log = wh.root().join(VACUUM_LOG);
    for (i, t) in tables.iter().enumerate() {
        progress.table_started(i, tables.len(), &t.label);
        let pinned = ledger.get(&t.label).cloned().unwrap_or_default();
        let result = vacuum_table(t, &pinned, options).await?;
        if !options.dry_run && result.files > 0 {
            append_log(&log, options, &result)?;
        }
        progress.table_finished(&result);
        done.push(result);
    }
    Ok(VacuumSummary {
        time: stamp(options.now),
        dry_run: options.dry_run,
        retention_days: options.retention.num_days(),
        orphan_grace_hours: options.orphan_grace.num_hours(),
        horizon: stamp(options.horizon()),
        tables: done,
        log: (!options.dry_run).then_some(log),
    })
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn append_log(log: &Path, options: &VacuumOptions, t: &TableVacuum) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    }
    let line = serde_json::json!({
        "time": stamp(options.now),
        "table": t.table,
        "files": t.files,
        "bytes": t.bytes,
        "retention_days": options.retention.num_days(),
        "orphan_grace_hours": options.orphan_grace.num_hours(),
        "horizon": stamp(options.horizon()),
        "horizon_version": t.horizon_version,
        "latest_version": t.latest_version,
        "ledger_versions": t.ledger_versions,
        "removed": t.removed,
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io(format!("cannot open the vacuum log {}", log.display())))?;
    writeln!(f, "{line}").map_err(io(format!("cannot write the vacuum log {}", log.display())))
}

/// The clock deltalake's vacuum measures retention against.
#[derive(Debug)]
struct FixedClock(i64);

impl Clock for FixedClock {
    fn current_timestamp_millis(&self) -> i64 {
        self.0
    }
}

/// Sets `delta.enableExpiredLogCleanup = false` on a table that does not have it yet, before
/// the vacuum commits: deltalake's VACUUM START commit runs the table's default post-commit
/// hook, which would otherwise delete commit files older than 30 days behind a checkpoint, and
/// a version without its commit file cannot be read at all (the ledger replays old versions).
async fn keep_log_whole(
    table: deltalake::DeltaTable,
    label: &str,
) -> Result<deltalake::DeltaTable> {
    use deltalake::table::config::TablePropertiesExt;
    let cleans = table
        .snapshot()
        .map_err(delta(label))?
        .table_config()
        .enable_expired_log_cleanup();
    if !cleans {
        return Ok(table);
    }
    table
        .set_tbl_properties()
        .with_properties(
            [(
                "delta.enableExpiredLogCleanup".to_string(),
                "false".to_string(),
            )]
            .into(),
        )
        .with_commit_properties(
            deltalake::kernel::transaction::CommitProperties::default()
                .with_cleanup_expired_logs(Some(false)),
        )
        .await
        .map_err(delta(label))
}

/// Commit versions present in the log and their commit times (milliseconds), oldest first.
fn commit_times(log_dir: &Path) -> Result<BTreeMap<u64, i64>> {
    let mut out = BTreeMap::new();
    let entries =
        std::fs::read_dir(log_dir).map_err(io(format!("cannot list {}", log_dir.display())))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(v) = name
            .strip_suffix(".json")
            .filter(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let text = std::fs::read_to_string(e.path())
            .map_err(io(format!("cannot read {}", e.path().display())))?;
        let ts = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|a| {
                let info = a.get("commitInfo")?;
                info.get("inCommitTimestamp")
                    .or_else(|| info.get("timestamp"))
                    .and_then(|t| t.as_i64())
            });
        let ts = match ts {
            Some(ts) => ts,
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| DateTime::<Utc>::from(m).timestamp_millis())
                .unwrap_or(0),
        };
        out.insert(v, ts);
    }
    Ok(out)
}

/// Every data file path (decoded, relative to the table folder) that a commit of the log
/// adds or removes; `None` when the log no longer starts at version 0 (older commits were
/// cleaned up behind a checkpoint), so that the list would be incomplete.
fn referenced_by_log(
    log_dir: &Path,
    versions: &BTreeMap<u64, i64>,
) -> Result<Option<HashSet<String>>> {
    if !versions.contains_key(&0) {
        return Ok(None);
    }
    let mut out = HashSet::new();
    for v in versions.keys() {
        let path = log_dir.join(format!("{v:020}.json"));
        let text = std::fs::read_to_string(&path)
            .map_err(io(format!("cannot read {}", path.display())))?;
        for l in text.lines() {
            let Ok(a) = serde_json::from_str::<serde_json::Value>(l) else {
                continue;
            };
            for kind in ["add", "remove", "cdc"] {
                if let Some(p) = a
                    .get(kind)
                    .and_then(|x| x.get("path"))
                    .and_then(|p| p.as_str())
                {
                    // Both spellings: a file named either way on disk is referenced.
                    out.insert(crate::load::percent_decode(p));
                    out.insert(p.to_string());
                }
            }
        }
    }
    Ok(Some(out))
}

/// A data file or a write's staging file (`part-….parquet` or `part-….parquet#3`).
fn is_data_file(name: &str) -> bool {
    match name.rsplit_once(".parquet") {
        Some((_, "")) => true,
        Some((_, rest)) => rest
            .strip_prefix('#')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// Data files under the table folder (not `_delta_log`, not hidden), relative and decoded,
/// with their size and modification time.
fn data_files_on_disk(root: &Path) -> Vec<(String, u64, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || (name.starts_with('_') && !name.contains('=')) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() && is_data_file(&name) {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or(name);
                let modified = meta
                    .modified()
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_else(|_| Utc::now());
                out.push((rel, meta.len(), modified));
            }
        }
    }
    out.sort();
    out
}

/// Removes the empty partition folders left under the table folder (never the table folder
/// itself nor `_delta_log`).
fn remove_empty_dirs(dir: &Path, root: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            if e.path().is_dir() && name != "_delta_log" {
                remove_empty_dirs(&e.path(), root);
            }
        }
    }
    if dir != root {
        let _ = std::fs::remove_dir(dir);
    }
}

async fn vacuum_table(
    t: &TableRef,
    ledger: &BTreeSet<u64>,
    options: &VacuumOptions,
) -> Result<TableVacuum> {
    let label = t.label.as_str();
    let root = t.home.table_dir(&t.name);
    let log_dir = root.join("_delta_log");
    let table = tables::open(&t.home, &t.name)
        .await?
        .ok_or_else(|| WarehouseError::Vacuum(format!("table {label} has no Delta log")))?;
    let latest = table.version().unwrap_or(0);
    let times = commit_times(&log_dir)?;
    let horizon_ms = options.horizon().timestamp_millis();
    // The version in force at the horizon: the last one committed at or before it (or the
    // oldest readable one when every commit is younger).
    let first = times.keys().next().copied().unwrap_or(latest);
    let horizon_version = times
        .iter()
        .filter(|(v, ts)| **ts <= horizon_ms && **v <= latest)
        .map(|(v, _)| *v)
        .max()
        .unwrap_or(first);
    let ledger_versions: Vec<u64> = ledger
        .iter()
        .copied()
        .filter(|v| *v < horizon_version && times.contains_key(v))
        .collect();
    for v in ledger.iter().filter(|v| !times.contains_key(v)) {
        tracing::warn!(
            table = label,
            version = v,
            "the release ledger references a version whose commit is not in the log"
        );
    }
    let keep: Vec<u64> = (horizon_version..=latest)
        .chain(ledger_versions.iter().copied())
        .collect();

    // 1. deltalake's own VACUUM, full mode, with the versions to keep: expired tombstones
    //    and untracked files older than the retention. A dry run first gives the plan (and
    //    the sizes, which its metrics do not carry).
    let clock = Arc::new(FixedClock(options.now.timestamp_millis()));
    let builder = |table: deltalake::DeltaTable, dry_run: bool| {
        table
            .vacuum()
            .with_mode(VacuumMode::Full)
            .with_retention_period(options.retention)
            .with_enforce_retention_duration(true)
            .with_keep_versions(&keep)
            .with_clock(clock.clone())
            .with_dry_run(dry_run)
            .with_commit_properties(
                // The log stays whole: the ledger replays old versions by time travel.
                deltalake::kernel::transaction::CommitProperties::default()
                    .with_cleanup_expired_logs(Some(false)),
            )
    };
    let (mut table, plan) = builder(table, true).await.map_err(delta(label))?;
    // Expired tombstones stay in the log after their files are gone, so later runs plan them
    // again: only files still on disk count.
    let mut planned: BTreeMap<String, u64> = BTreeMap::new();
    for p in &plan.files_deleted {
        let rel = crate::load::percent_decode(p);
        if let Ok(m) = std::fs::metadata(root.join(&rel)) {
            planned.insert(rel, m.len());
        }
    }
    let mut removed: Vec<RemovedFile> = Vec::new();
    let referenced = referenced_by_log(&log_dir, &times)?;
    let superseded = |rel: &str| referenced.as_ref().is_none_or(|r| r.contains(rel));
    if !options.dry_run && !planned.is_empty() {
        table = keep_log_whole(table, label).await?;
        let (_, metrics) = builder(table, false).await.map_err(delta(label))?;
        for p in metrics.files_deleted {
            let rel = crate::load::percent_decode(&p);
            let Some(bytes) = planned.get(&rel).copied() else {
                continue; // already gone before this run
            };
            let reason = if superseded(&rel) {
                Reason::Superseded
            } else {
                Reason::Orphan
            };
            removed.push(RemovedFile {
                path: rel,
                bytes,
                reason,
            });
        }
    } else {
        for (rel, bytes) in &planned {
            removed.push(RemovedFile {
                path: rel.clone(),
                bytes: *bytes,
                reason: if superseded(rel) {
                    Reason::Superseded
                } else {
                    Reason::Orphan
                },
            });
        }
    }

    // 2. Orphans younger than the retention but older than the grace period: files that no
    //    commit of the log references (deltalake's full mode waits for the whole retention,
    //    and never sees staging files). Only when the log is complete from version 0.
    if let Some(referenced) = &referenced {
        let active: HashSet<String> = tables::active_files(
            &tables::open(&t.home, &t.name)
                .await?
                .ok_or_else(|| WarehouseError::Vacuum(format!("table {label} vanished")))?,
            label,
        )
        .await?
        .into_iter()
        .map(|f| f.path)
        .collect();
        let grace_limit = options.now - options.orphan_grace;
        for (rel, bytes, modified) in data_files_on_disk(&root) {
            if referenced.contains(&rel)
                || active.contains(&rel)
                || planned.contains_key(&rel)
                || modified > grace_limit
            {
                continue;
            }
            if !options.dry_run {
                match std::fs::remove_file(root.join(&rel)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(io(format!(
                            "cannot remove the orphan file {}",
                            root.join(&rel).display()
                        ))(e));
                    }
                }
            }
            removed.push(RemovedFile {
                path: rel,
                bytes,
                reason: Reason::Orphan,
            });
        }
    }
    if !options.dry_run && !removed.is_empty() {
        remove_empty_dirs(&root, &root);
    }
    removed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(TableVacuum {
        table: label.to_string(),
        latest_version: latest,
        horizon_version,
        ledger_versions,
        files: removed.len(),
        bytes: removed.iter().map(|f| f.bytes).sum(),
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_and_staging_files_are_recognised() {
        assert!(is_data_file("part-00000-1a-c000.zstd.parquet"));
        assert!(is_data_file("part-00000-1a-c000.zstd.parquet#1"));
        assert!(!is_data_file("part-00000.parquet#"));
        assert!(!is_data_file("part-00000.parquet.crc"));
        assert!(!is_data_file("notes.txt"));
    }

    #[test]
    fn retention_and_grace_are_checked() {
        assert!(VacuumOptions::new(30, 24, false).is_ok());
        let short = VacuumOptions::new(3, 24, false).unwrap_err().to_string();
        assert!(short.contains("too short"), "{short}");
        assert!(VacuumOptions::new(30, 0, false).is_err());
        let long = VacuumOptions::new(7, 24 * 8, false)
            .unwrap_err()
            .to_string();
        assert!(long.contains("cannot be longer"), "{long}");
    }
}
