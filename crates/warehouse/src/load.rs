//! `aim ingest`: every delivery found is checked, and either committed to its table in one
//! atomic commit (replacing the delivery it corrects) or quarantined with its reason.

use crate::catalog::{Catalog, DeliveryRecord, QuarantineRecord};
use crate::{Result, Warehouse, WarehouseError, WarehouseLock, delta, io, tables};
use aim_ingest::{
    CheckContext, Delivery, LossConfirmation, PersonFacts, PopulationIndex, QcReport,
    ReplacedDelivery, RowSink, RuleCatalog, SinkError, Verdict,
};
use aim_model::{Database, Period};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Date32Type, Int16Type};
use datafusion::arrow::record_batch::RecordBatch;
use deltalake::writer::DeltaWriter;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of an ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The quality rules.
    pub rules: RuleCatalog,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            rules: RuleCatalog::builtin(),
            batch_rows: 64 * 1024,
        }
    }
}

/// Receives progress while ingesting (for progress bars).
pub trait IngestProgress: Send + Sync {
    /// A delivery starts: its position, the total, its folder and its announced rows.
    fn delivery_started(&self, index: usize, total: usize, folder: &Path, expected_rows: u64);
    /// Rows read so far in the current delivery.
    fn rows_read(&self, rows: u64);
    /// A delivery is done.
    fn delivery_finished(&self, outcome: &DeliveryOutcome);
}

/// Progress that reports nothing.
pub struct NoProgress;

impl IngestProgress for NoProgress {
    fn delivery_started(&self, _: usize, _: usize, _: &Path, _: u64) {}
    fn rows_read(&self, _: u64) {}
    fn delivery_finished(&self, _: &DeliveryOutcome) {}
}

/// What happened to one delivery.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryOutcome {
    /// The folder.
    pub folder: PathBuf,
    /// Delivery identity.
    pub delivery_id: String,
    /// Verdict.
    pub verdict: Verdict,
    /// Rows read.
    pub rows_read: u64,
    /// Rows loaded.
    pub rows_accepted: u64,
    /// Rows rejected.
    pub rows_rejected: u64,
    /// Table version created, if committed.
    pub version: Option<u64>,
    /// Why it was rejected or held.
    pub reasons: Vec<String>,
    /// Warning-level rules that failed (`RULE: finding`): nothing was rejected for them,
    /// but a data manager should read them.
    pub warnings: Vec<String>,
    /// The HTML QC report.
    pub report_html: PathBuf,
    /// Seconds spent.
    pub seconds: f64,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestSummary {
    /// One outcome per delivery, in processing order.
    pub outcomes: Vec<DeliveryOutcome>,
    /// Period overview pages written.
    pub overviews: Vec<PathBuf>,
}

impl IngestSummary {
    /// True when some delivery was rejected or held (not applied).
    pub fn any_rejected(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| matches!(o.verdict, Verdict::Rejected | Verdict::Held))
    }
}

struct ChannelSink(tokio::sync::mpsc::Sender<RecordBatch>);

impl RowSink for ChannelSink {
    fn write(&mut self, batch: RecordBatch) -> Result<(), SinkError> {
        self.0
            .blocking_send(batch)
            .map_err(|_| "the warehouse writer stopped".into())
    }
}

/// Ingests every delivery found under `paths` into the warehouse.
pub async fn ingest(
    wh: &Warehouse,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: Arc<dyn IngestProgress>,
) -> Result<IngestSummary> {
    let _lock = WarehouseLock::acquire(wh, "aim ingest")?;
    let codes = Arc::new(crate::reference::codes(wh).await?);
    let dirs = aim_ingest::find_deliveries(paths).map_err(io("cannot list the deliveries"))?;
    let mut catalog = Catalog::load(wh).await?;
    let mut populations = PopulationCache::default();
    let mut open_tables = OpenTables::new();
    let mut outcomes = Vec::new();
    let mut periods = BTreeSet::new();
    let total = dirs.len();
    for (i, dir) in dirs.iter().enumerate() {
        let opened = Delivery::open(dir).ok();
        progress.delivery_started(
            i,
            total,
            dir,
            opened
                .as_ref()
                .map(|d| d.manifest.total_rows())
                .unwrap_or(0),
        );
        if let Some(d) = &opened {
            periods.insert(d.manifest.period);
        }
        let outcome = ingest_one(
            wh,
            dir,
            opened,
            &mut catalog,
            &mut populations,
            &mut open_tables,
            codes.clone(),
            options,
            progress.clone(),
        )
        .await?;
        progress.delivery_finished(&outcome);
        outcomes.push(outcome);
    }
    let mut overviews = Vec::new();
    for p in periods {
        overviews.push(crate::load::overview::write(wh, &catalog, p)?);
    }
    Ok(IngestSummary {
        outcomes,
        overviews,
    })
}

#[allow(clippy::too_many_arguments)]
async fn ingest_one(
    wh: &Warehouse,
    dir: &Path,
    delivery: Option<Delivery>,
    catalog: &mut Catalog,
    populations: &mut PopulationCache,
    open_tables: &mut OpenTables,
    codes: Arc<aim_ingest::ReferenceCodes>,
    options: &IngestOptions,
    progress: Arc<dyn IngestProgress>,
) -> Result<DeliveryOutcome> {
    let started = std::time::Instant::now();
    let Some(delivery) = delivery else {
        // Unreadable manifest: the checker writes the report, nothing else to do.
        let ctx = context(
            options,
            &codes,
            None,
            vec![],
            None,
            None,
            wh.qc_dir("unreadable").join("feedback.csv"),
        );
        let report = aim_ingest::check_delivery(dir, &ctx, &mut (), &mut |_| {})?;
        return finish_rejected(wh, dir, report, started);
    };
    let id = delivery.id();
    let m = delivery.manifest.clone();
    let insurer = m.insurer.to_string();
    let current = catalog.current_for(&insurer, m.database, m.period).cloned();
    if current.as_ref().is_some_and(|c| c.delivery_id == id) {
        let c = current.expect("checked");
        return Ok(DeliveryOutcome {
            folder: dir.to_path_buf(),
            delivery_id: id.clone(),
            verdict: Verdict::AlreadyLoaded,
            rows_read: 0,
            rows_accepted: c.rows,
            rows_rejected: c.rows_rejected,
            version: Some(c.version),
            reasons: vec![format!(
                "identical to the delivery loaded in version {} of {}",
                c.version,
                m.database.table_name()
            )],
            warnings: Vec::new(),
            report_html: wh.qc_dir(&id).join("report.html"),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let population = if m.database == Database::Popu || !m.database.has_persons() {
        None
    } else {
        populations.get(wh, open_tables, &insurer, m.period).await?
    };
    let cross = cross_index(wh, open_tables, m.database, &insurer, m.period)
        .await?
        .map(Arc::new);
    let previous = catalog
        .previous_delivery(&insurer, m.database, m.period)
        .cloned();
    let previous_report = previous
        .as_ref()
        .and_then(|p| read_report(wh, &p.delivery_id));
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), "population index ready");
    let qc_dir = wh.qc_dir(&id);
    let feedback_path = qc_dir.join("feedback.csv");
    let _ = std::fs::remove_file(&feedback_path);
    let volumes = catalog.previous_volumes(&insurer, m.database, m.period);
    let loaded_sequence = current.as_ref().map(|c| c.sequence);
    let replaced = current.as_ref().map(|c| replaced_delivery(wh, c));
    let confirmation = read_confirmation(wh, &id)?;
    let confirmation_for_record = confirmation.clone();

    let table_name = m.database.table_name();
    if !open_tables.contains_key(table_name) {
        let t = tables::open_or_create(
            wh,
            table_name,
            &m.database.table().warehouse_schema(),
            &["insurer", "period"],
        )
        .await?;
        open_tables.insert(table_name, t);
    }
    let table = open_tables.get_mut(table_name).expect("inserted above");
    let mut writer = tables::writer(table, table_name)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(4);
    let check = {
        let dir = dir.to_path_buf();
        let rules = options.rules.clone();
        let batch_rows = options.batch_rows;
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = CheckContext {
                rules: &rules,
                codes: &codes,
                population: population.as_deref(),
                previous_volumes: volumes,
                previous_report,
                loaded_sequence,
                replaced,
                confirmation,
                cross: cross.as_deref(),
                feedback_path,
                batch_rows,
            };
            let mut sink = ChannelSink(tx);
            aim_ingest::check_delivery(&dir, &ctx, &mut sink, &mut |rows| progress.rows_read(rows))
        })
    };
    let mut write_error = None;
    while let Some(batch) = rx.recv().await {
        if let Err(e) = writer.write(batch).await {
            write_error = Some(e);
            break;
        }
    }
    drop(rx);
    let report = check.await.map_err(|e| WarehouseError::Io {
        context: "the checker stopped".into(),
        source: std::io::Error::other(e),
    })?;
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), "checked");
    if let Some(e) = write_error {
        return Err(delta(table_name)(e));
    }
    let report = report?;
    let adds = writer.flush().await.map_err(delta(table_name))?;
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), files = adds.len(), "parquet files flushed");
    if matches!(report.verdict, Verdict::Rejected | Verdict::Held) {
        for a in &adds {
            // The files were never committed: remove them so they do not linger.
            let _ = std::fs::remove_file(wh.table_dir(table_name).join(percent_decode(&a.path)));
        }
        return finish_rejected(wh, dir, report, started);
    }
    archive(wh, &delivery)?;
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), "archived");
    let removes =
        tables::files_to_remove(table, table_name, Some((&insurer, &m.period.to_string()))).await?;
    let record = DeliveryRecord {
        delivery_id: id.clone(),
        insurer: insurer.clone(),
        database: m.database.to_string(),
        period: m.period.to_string(),
        sequence: m.sequence,
        rows: report.rows_accepted,
        rows_rejected: report.rows_rejected,
        manifest_sha256: delivery.manifest_sha256.clone(),
        replaces: current.as_ref().map(|c| c.delivery_id.clone()),
        version: 0,
        committed_ms: 0,
        confirmation: confirmation_for_record.clone(),
    };
    let mut meta = serde_json::to_value(&record).expect("record serialises");
    meta["kind"] = serde_json::json!("delivery");
    let predicate = format!("insurer = '{insurer}' AND period = '{}'", m.period);
    let version = tables::commit(table, table_name, adds, removes, Some(predicate), meta).await?;
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), version, "committed");
    catalog.push(DeliveryRecord {
        version,
        committed_ms: chrono::Utc::now().timestamp_millis(),
        ..record
    });
    if m.database == Database::Popu {
        populations.forget(&insurer, m.period);
    }
    write_report(wh, &report)?;
    if let Some(c) = &confirmation_for_record {
        // The confirmation is in the commit's metadata; keep a copy beside the report and
        // take the delivery out of quarantine.
        let text = serde_json::to_string_pretty(c).expect("json") + "\n";
        std::fs::write(wh.qc_dir(&id).join("confirmation.json"), text)
            .map_err(io("cannot write the confirmation beside the QC report"))?;
        let _ = std::fs::remove_dir_all(wh.quarantine_dir(&id));
    }
    tracing::debug!(delivery = %id, ms = started.elapsed().as_millis(), "report written");
    Ok(DeliveryOutcome {
        folder: dir.to_path_buf(),
        delivery_id: id.clone(),
        verdict: report.verdict,
        rows_read: report.rows_read,
        rows_accepted: report.rows_accepted,
        rows_rejected: report.rows_rejected,
        version: Some(version),
        reasons: report.reasons.clone(),
        warnings: warnings(&report),
        report_html: wh.qc_dir(&id).join("report.html"),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn context<'a>(
    options: &'a IngestOptions,
    codes: &'a aim_ingest::ReferenceCodes,
    population: Option<&'a PopulationIndex>,
    previous_volumes: Vec<u64>,
    previous_report: Option<QcReport>,
    loaded_sequence: Option<u32>,
    feedback_path: PathBuf,
) -> CheckContext<'a> {
    CheckContext {
        rules: &options.rules,
        codes,
        population,
        previous_volumes,
        previous_report,
        loaded_sequence,
        replaced: None,
        confirmation: None,
        cross: None,
        feedback_path,
        batch_rows: options.batch_rows,
    }
}

/// What a correction is measured against: the delivery in force, with the per-file row
/// counts of its archived manifest (none if the archive cannot be read).
fn replaced_delivery(wh: &Warehouse, current: &DeliveryRecord) -> ReplacedDelivery {
    let file_rows = std::fs::read(
        wh.archive_dir(&current.delivery_id)
            .join(aim_model::delivery::MANIFEST_FILE),
    )
    .ok()
    .and_then(|b| serde_json::from_slice::<aim_model::delivery::Manifest>(&b).ok())
    .map(|m| m.files.into_iter().map(|f| (f.name, f.rows)).collect())
    .unwrap_or_default();
    ReplacedDelivery {
        delivery_id: current.delivery_id.clone(),
        sequence: current.sequence,
        rows: current.rows + current.rows_rejected,
        file_rows,
    }
}

/// Name of the file recording a data manager's confirmation in a held delivery's
/// quarantine folder.
pub const CONFIRMATION_FILE: &str = "confirmation.json";

fn read_confirmation(wh: &Warehouse, delivery_id: &str) -> Result<Option<LossConfirmation>> {
    let path = wh.quarantine_dir(delivery_id).join(CONFIRMATION_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| WarehouseError::Io {
                context: format!("cannot read the confirmation {}", path.display()),
                source: std::io::Error::other(e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(format!("cannot read {}", path.display()))(e)),
    }
}

/// `aim confirm`: a data manager confirms that a held correction (COR-001) may remove the
/// rows it removes. The confirmation (who, when, why) is recorded in the quarantine folder,
/// then the held delivery is ingested from there; once committed, the confirmation is in
/// the commit's metadata and beside its QC report, and the delivery leaves quarantine.
pub async fn confirm(
    wh: &Warehouse,
    delivery_id: &str,
    by: &str,
    reason: &str,
    options: &IngestOptions,
    progress: Arc<dyn IngestProgress>,
) -> Result<IngestSummary> {
    let qdir = wh.quarantine_dir(delivery_id);
    let record: Option<QuarantineRecord> = std::fs::read(qdir.join("reason.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let Some(record) = record else {
        return Err(WarehouseError::NotHeld(format!(
            "no delivery {delivery_id} is in quarantine (see `aim status`)"
        )));
    };
    if !record.held {
        return Err(WarehouseError::NotHeld(format!(
            "delivery {delivery_id} was rejected, not held: only a correction held by COR-001 can be confirmed; it was rejected because {}",
            record.reasons.join(" | ")
        )));
    }
    if by.trim().is_empty() || reason.trim().is_empty() {
        return Err(WarehouseError::NotHeld(
            "a confirmation needs who confirms (--by) and why (--reason)".into(),
        ));
    }
    let confirmation = LossConfirmation {
        delivery_id: delivery_id.to_string(),
        by: by.trim().to_string(),
        reason: reason.trim().to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    std::fs::write(
        qdir.join(CONFIRMATION_FILE),
        serde_json::to_string_pretty(&confirmation).expect("json") + "\n",
    )
    .map_err(io(format!(
        "cannot record the confirmation in {}",
        qdir.display()
    )))?;
    tracing::info!(delivery = %delivery_id, by = %confirmation.by, reason = %confirmation.reason, "loss confirmed");
    ingest(wh, &[qdir], options, progress).await
}

pub(crate) fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn finish_rejected(
    wh: &Warehouse,
    dir: &Path,
    report: QcReport,
    started: std::time::Instant,
) -> Result<DeliveryOutcome> {
    let id = report.delivery_id.clone();
    let qdir = wh.quarantine_dir(&id);
    copy_delivery(dir, &qdir)?;
    let record = QuarantineRecord {
        delivery_id: id.clone(),
        folder: dir.display().to_string(),
        insurer: report.insurer.clone(),
        database: report.database.clone(),
        period: report.period.clone(),
        reasons: report.reasons.clone(),
        quarantined_at: chrono::Utc::now().to_rfc3339(),
        held: report.verdict == Verdict::Held,
    };
    std::fs::write(
        qdir.join("reason.json"),
        serde_json::to_string_pretty(&record).expect("json") + "\n",
    )
    .map_err(io(format!(
        "cannot write the quarantine record in {}",
        qdir.display()
    )))?;
    write_report(wh, &report)?;
    Ok(DeliveryOutcome {
        folder: dir.to_path_buf(),
        delivery_id: id.clone(),
        verdict: report.verdict,
        rows_read: report.rows_read,
        rows_accepted: 0,
        rows_rejected: report.rows_rejected,
        version: None,
        warnings: warnings(&report),
        reasons: report.reasons,
        report_html: wh.qc_dir(&id).join("report.html"),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The warning-level rules that failed, as `RULE: finding`.
fn warnings(report: &QcReport) -> Vec<String> {
    report
        .rules
        .iter()
        .filter(|r| {
            r.level == aim_ingest::Level::Warning
                && matches!(
                    r.status,
                    aim_ingest::RuleStatus::Failed | aim_ingest::RuleStatus::FailedBelowThreshold
                )
        })
        .map(|r| {
            if r.message.is_empty() {
                format!("{}: {}", r.id, r.title)
            } else {
                format!("{}: {} ({})", r.id, r.title, r.message)
            }
        })
        .collect()
}

fn write_report(wh: &Warehouse, report: &QcReport) -> Result<()> {
    let dir = wh.qc_dir(&report.delivery_id);
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    std::fs::write(dir.join("report.json"), report.to_json())
        .map_err(io("cannot write the QC report"))?;
    std::fs::write(dir.join("report.html"), report.to_html())
        .map_err(io("cannot write the QC report"))?;
    Ok(())
}

fn read_report(wh: &Warehouse, delivery_id: &str) -> Option<QcReport> {
    let bytes = std::fs::read(wh.qc_dir(delivery_id).join("report.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Copies a delivery folder's regular files (not sub-folders) into `dest`, through a
/// temporary folder renamed at the end, so `dest` is complete or absent.
fn copy_delivery(src: &Path, dest: &Path) -> Result<()> {
    let tmp = dest.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(format!("cannot create {}", tmp.display())))?;
    if let Ok(entries) = std::fs::read_dir(src) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                std::fs::copy(&p, tmp.join(e.file_name()))
                    .map_err(io(format!("cannot copy {}", p.display())))?;
            }
        }
    }
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&tmp, dest).map_err(io(format!("cannot move {} into place", dest.display())))
}

/// Archives an accepted delivery's original files with a `SHA256SUMS` file.
fn archive(wh: &Warehouse, delivery: &Delivery) -> Result<()> {
    let dest = wh.archive_dir(&delivery.id());
    if dest.join("SHA256SUMS").exists() {
        return Ok(());
    }
    copy_delivery(&delivery.dir, &dest)?;
    let mut sums = String::new();
    for f in &delivery.manifest.files {
        sums.push_str(&format!("{}  {}\n", f.sha256, f.name));
    }
    sums.push_str(&format!("{}  manifest.json\n", delivery.manifest_sha256));
    std::fs::write(dest.join("SHA256SUMS"), sums).map_err(io("cannot write the archive checksums"))
}

/// The source tables opened during one ingest, kept open so that each commit updates the
/// table state incrementally instead of replaying the whole log for every delivery.
type OpenTables = std::collections::HashMap<&'static str, deltalake::DeltaTable>;

/// Population indexes of the period being ingested, read once per insurer (deliveries are
/// processed period by period, so only one period is kept).
#[derive(Default)]
struct PopulationCache {
    period: Option<Period>,
    by_insurer: std::collections::HashMap<String, Option<Arc<PopulationIndex>>>,
}

impl PopulationCache {
    async fn get(
        &mut self,
        wh: &Warehouse,
        open_tables: &mut OpenTables,
        insurer: &str,
        period: Period,
    ) -> Result<Option<Arc<PopulationIndex>>> {
        if self.period != Some(period) {
            self.period = Some(period);
            self.by_insurer.clear();
        }
        if let Some(p) = self.by_insurer.get(insurer) {
            return Ok(p.clone());
        }
        if !open_tables.contains_key("popu") {
            match tables::open(wh, "popu").await? {
                Some(t) => {
                    open_tables.insert("popu", t);
                }
                None => return Ok(None),
            }
        }
        let popu = open_tables.get("popu").expect("inserted above");
        let p = population_index(popu, insurer, period).await?.map(Arc::new);
        self.by_insurer.insert(insurer.to_string(), p.clone());
        Ok(p)
    }

    fn forget(&mut self, insurer: &str, period: Period) {
        if self.period == Some(period) {
            self.by_insurer.remove(insurer);
        }
    }
}

/// What the cross-database rules of a delivery need from the insurer's other tables: for a
/// chapter IV delivery, the (person, medicine) pairs of its pharmacy deliveries of the
/// quarter and later (XDB-001); for a New Attest delivery, the billing lines of its GZSS
/// delivery of the quarter (XDB-002). `None` for the other databases, or when the table
/// holds nothing of the insurer for those quarters (the rule then says *not evaluated*).
async fn cross_index(
    wh: &Warehouse,
    open_tables: &mut OpenTables,
    database: Database,
    insurer: &str,
    period: Period,
) -> Result<Option<aim_ingest::CrossIndex>> {
    let (table, sql) = match database {
        Database::Chiv => (
            "faru",
            format!(
                "SELECT DISTINCT person_id, atc FROM faru WHERE insurer = '{insurer}' AND period >= '{period}'"
            ),
        ),
        Database::Pgdp => (
            "gzss",
            format!(
                "SELECT line_id, person_id FROM gzss WHERE insurer = '{insurer}' AND period = '{period}'"
            ),
        ),
        _ => return Ok(None),
    };
    if !open_tables.contains_key(table) {
        match tables::open(wh, table).await? {
            Some(t) => {
                open_tables.insert(table, t);
            }
            None => return Ok(None),
        }
    }
    let t = open_tables.get(table).expect("inserted above");
    let ctx = datafusion::execution::context::SessionContext::new();
    t.update_datafusion_session(&ctx.state())
        .map_err(delta(table))?;
    ctx.register_table(table, t.table_provider().await?)?;
    let batches = ctx.sql(&sql).await?.collect().await?;
    if batches.iter().map(|b| b.num_rows()).sum::<usize>() == 0 {
        return Ok(None);
    }
    let mut index = aim_ingest::CrossIndex::default();
    for b in &batches {
        let cast = |k: usize| {
            datafusion::arrow::compute::cast(
                b.column(k),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| WarehouseError::Query(e.into()))
        };
        let (first, second) = (cast(0)?, cast(1)?);
        let (first, second) = (first.as_string::<i32>(), second.as_string::<i32>());
        for i in 0..b.num_rows() {
            if database == Database::Chiv {
                index.add_pharmacy_delivery(first.value(i), second.value(i));
            } else {
                index.add_billing_line(first.value(i), second.value(i));
            }
        }
    }
    Ok(Some(index))
}

/// The insurer's population for a period, from the warehouse (POP-001, DAT-002, DAT-003).
async fn population_index(
    popu: &deltalake::DeltaTable,
    insurer: &str,
    period: Period,
) -> Result<Option<PopulationIndex>> {
    let ctx = datafusion::execution::context::SessionContext::new();
    popu.update_datafusion_session(&ctx.state())
        .map_err(delta("popu"))?;
    ctx.register_table("popu", popu.table_provider().await?)?;
    let sql = format!(
        "SELECT person_id, birth_year, death_date FROM popu WHERE insurer = '{insurer}' AND period = '{period}'"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows == 0 {
        return Ok(None);
    }
    let mut index = PopulationIndex::default();
    for b in &batches {
        let ids = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .map_err(|e| WarehouseError::Query(e.into()))?;
        let ids = ids.as_string::<i32>();
        let years = b.column(1).as_primitive::<Int16Type>();
        let deaths = b.column(2).as_primitive::<Date32Type>();
        for i in 0..b.num_rows() {
            let death = (!deaths.is_null(i)).then(|| {
                chrono::NaiveDate::from_num_days_from_ce_opt(deaths.value(i) + 719_163)
                    .expect("valid date")
            });
            index.insert(
                ids.value(i),
                PersonFacts {
                    birth_year: years.value(i),
                    death,
                },
            );
        }
    }
    Ok(Some(index))
}

pub mod overview {
    //! The overview of a period across insurers (PER-001 and each delivery's state).

    use super::*;
    use aim_ingest::report::{esc, page_end, page_start};
    use aim_model::Insurer;
    use std::fmt::Write;

    /// Writes `qc/overview-<period>.json` and `.html`; returns the HTML path.
    pub fn write(wh: &Warehouse, catalog: &Catalog, period: Period) -> Result<PathBuf> {
        let p = period.to_string();
        let quarantined = crate::catalog::quarantined(wh);
        let mut rows = Vec::new();
        let mut missing = Vec::new();
        for db in Database::ALL {
            for ins in Insurer::ALL {
                let current = catalog.current_for(ins.code(), db, period);
                let rejected = quarantined.iter().find(|q| {
                    q.insurer.as_deref() == Some(ins.code())
                        && q.database.as_deref() == Some(db.code())
                        && q.period.as_deref() == Some(&p)
                });
                if current.is_none() {
                    missing.push(format!("{} {}", ins.code(), db.code()));
                }
                rows.push(serde_json::json!({
                    "insurer": ins.code(),
                    "database": db.code(),
                    "loaded": current.map(|c| &c.delivery_id),
                    "rows": current.map(|c| c.rows),
                    "rows_rejected": current.map(|c| c.rows_rejected),
                    "version": current.map(|c| c.version),
                    "last_quarantined": rejected.map(|q| &q.delivery_id),
                }));
            }
        }
        let per001 = if missing.is_empty() {
            serde_json::json!({"id": "PER-001", "status": "passed", "message": "all seven insurers delivered every database"})
        } else {
            serde_json::json!({"id": "PER-001", "status": "failed", "message": format!("missing: {}", missing.join(", "))})
        };
        let json = serde_json::json!({ "period": p, "rules": [per001], "deliveries": rows });
        let dir = wh.root().join("qc");
        std::fs::write(
            dir.join(format!("overview-{p}.json")),
            serde_json::to_string_pretty(&json).expect("json"),
        )
        .map_err(io("cannot write the period overview"))?;
        let mut h = String::new();
        page_start(&mut h, &format!("Deliveries of {p}"));
        let _ = write!(h, "<h1>Deliveries of {}</h1>", esc(&p));
        let _ = write!(
            h,
            "<p><strong>PER-001 All seven insurers delivered:</strong> {}</p>",
            esc(per001["message"].as_str().unwrap_or(""))
        );
        h.push_str("<table><thead><tr><th>Insurer</th>");
        for db in Database::ALL {
            let _ = write!(h, "<th>{}</th>", db.code());
        }
        h.push_str("</tr></thead><tbody>");
        for ins in Insurer::ALL {
            let _ = write!(h, "<tr><th>{} {}</th>", ins.code(), esc(ins.name()));
            for db in Database::ALL {
                match catalog.current_for(ins.code(), db, period) {
                    Some(c) => {
                        let _ = write!(
                            h,
                            "<td class=\"passed\"><a href=\"{id}/report.html\">loaded</a>: {} rows, {} rejected (v{})</td>",
                            c.rows,
                            c.rows_rejected,
                            c.version,
                            id = esc(&c.delivery_id)
                        );
                    }
                    None => h.push_str("<td class=\"failed\">missing</td>"),
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
        page_end(&mut h);
        let path = dir.join(format!("overview-{p}.html"));
        std::fs::write(&path, h).map_err(io("cannot write the period overview"))?;
        Ok(path)
    }
}
