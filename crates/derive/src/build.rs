//! `aim build`: for every year with deliveries, derive HOSP, PATI and the sample, skipping
//! the years whose inputs have not changed since their last build (lineage).

use crate::DeriveError;
use crate::definitions::Definitions;
use crate::output;
use crate::scan::InputFile;
use crate::year::{self, Reference, SampleSink, YearCounters, YearInputs, YearProgress};
use aim_warehouse::tables::{self, ActiveFile};
use aim_warehouse::{Warehouse, WarehouseLock};
use deltalake::DeltaTable;
use deltalake::arrow::array::{ArrayRef, StringArray};
use deltalake::arrow::datatypes::Schema;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::kernel::Add;
use deltalake::writer::DeltaWriter;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Version of the build logic: bump it when a derivation rule changes, so that every year is
/// rebuilt.
pub const LOGIC_VERSION: &str = "derive-1";

/// Which years to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Only these years (all years with deliveries when `None`).
    pub years: Option<BTreeSet<i32>>,
    /// Rebuild even if the inputs have not changed.
    pub force: bool,
    /// Drop the derived tables first (needed when the definitions change their columns).
    pub rebuild: bool,
}

/// Whether a year was rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum YearStatus {
    /// Inputs unchanged since the last build: nothing done.
    UpToDate,
    /// Derived again.
    Built,
    /// Needs a build (`aim status`).
    Stale,
}

/// The outcome for one year.
#[derive(Debug, Clone, Serialize)]
pub struct YearOutcome {
    /// The year.
    pub year: i32,
    /// Built or up to date.
    pub status: YearStatus,
    /// Fingerprint of the inputs.
    pub fingerprint: String,
    /// What the build counted (when built).
    pub counters: Option<YearCounters>,
    /// Seconds spent.
    pub seconds: f64,
}

/// The outcome of `aim build`.
#[derive(Debug, Clone, Serialize)]
pub struct BuildSummary {
    /// One entry per year considered.
    pub years: Vec<YearOutcome>,
}

/// Progress callbacks.
pub trait BuildProgress: Send + Sync {
    /// A step of a year starts.
    fn step(&self, year: i32, step: &str);
}

/// The derived tables: (in the sample?, name).
const DERIVED: [(bool, &str); 7] = [
    (false, "hosp"),
    (false, "pati"),
    (true, "popu"),
    (true, "gzss"),
    (true, "faru"),
    (true, "hosp"),
    (true, "pati"),
];

fn delta_err(table: &str) -> impl FnOnce(deltalake::DeltaTableError) -> DeriveError + '_ {
    move |e| DeriveError::Delta {
        table: table.to_string(),
        message: e.to_string(),
    }
}

fn label(sample: bool, name: &str) -> String {
    if sample {
        format!("sample/{name}")
    } else {
        name.to_string()
    }
}

/// Year of a `period` partition value (`2024Q3` → 2024).
fn year_of(period: &str) -> Option<i32> {
    period.get(..4)?.parse().ok()
}

fn digest(files: &[&ActiveFile]) -> String {
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

struct Source {
    name: &'static str,
    version: u64,
    files: Vec<ActiveFile>,
}

impl Source {
    fn of_year(&self, year: i32) -> Vec<&ActiveFile> {
        self.files
            .iter()
            .filter(|f| {
                f.partition
                    .get("period")
                    .cloned()
                    .flatten()
                    .and_then(|p| year_of(&p))
                    == Some(year)
            })
            .collect()
    }
}

/// Derives every year that needs it. Takes the warehouse's writer lock.
pub async fn build(
    wh: &Warehouse,
    defs: &Definitions,
    opts: &BuildOptions,
    progress: Arc<dyn BuildProgress>,
) -> Result<BuildSummary, DeriveError> {
    let _lock = WarehouseLock::acquire(wh, "aim build")?;
    let sources = list_sources(wh).await?;
    let reference = read_reference(wh).await?;
    let mut years = years_of(&sources);
    if let Some(only) = &opts.years {
        years.retain(|y| only.contains(y));
    }

    if opts.rebuild {
        for (in_sample, name) in DERIVED {
            let base = if in_sample { wh.sample() } else { wh.clone() };
            let _ = std::fs::remove_dir_all(base.table_dir(name));
        }
    }
    let mut derived = open_derived(wh, defs).await?;
    let mut done = HashMap::new();
    for (key, table) in &derived {
        done.insert(*key, recorded(table, &label(key.0, key.1)).await?);
    }

    let mut outcomes = Vec::new();
    for year in years {
        let started = std::time::Instant::now();
        let (fingerprint, inputs_meta) = fingerprint(year, &sources, defs);
        let up_to_date = all_recorded(&done, year, &fingerprint);
        if up_to_date && !opts.force {
            outcomes.push(YearOutcome {
                year,
                status: YearStatus::UpToDate,
                fingerprint,
                counters: None,
                seconds: started.elapsed().as_secs_f64(),
            });
            continue;
        }
        let counters = build_year(
            wh,
            defs,
            &reference,
            &sources,
            &mut derived,
            year,
            &fingerprint,
            &inputs_meta,
            progress.clone(),
        )
        .await?;
        let report = wh.root().join("qc").join(format!("build-{year}.json"));
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "year": year,
            "fingerprint": fingerprint,
            "inputs": inputs_meta,
            "counters": counters,
        }))
        .expect("serialisable");
        std::fs::write(&report, text + "\n").map_err(|e| DeriveError::Io {
            context: format!("cannot write {}", report.display()),
            source: e,
        })?;
        outcomes.push(YearOutcome {
            year,
            status: YearStatus::Built,
            fingerprint,
            counters: Some(counters),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(BuildSummary { years: outcomes })
}

async fn list_sources(wh: &Warehouse) -> Result<Vec<Source>, DeriveError> {
    let mut sources = Vec::new();
    for name in [
        "popu",
        "gzss",
        "faru",
        "chiv",
        "itao",
        "kats",
        "chta",
        "ref_nomenclature",
        "ref_merger_2025",
    ] {
        let Some(t) = tables::open(wh, name).await? else {
            if name == "popu" {
                return Err(DeriveError::NoData(wh.root().to_path_buf()));
            }
            if name.starts_with("ref_") {
                return Err(
                    aim_warehouse::WarehouseError::NoReference(wh.root().to_path_buf()).into(),
                );
            }
            sources.push(Source {
                name,
                version: 0,
                files: Vec::new(),
            });
            continue;
        };
        sources.push(Source {
            name,
            version: t.version().unwrap_or(0),
            files: tables::active_files(&t, name).await?,
        });
    }
    Ok(sources)
}

/// Years with population deliveries.
fn years_of(sources: &[Source]) -> BTreeSet<i32> {
    sources[0]
        .files
        .iter()
        .filter_map(|f| f.partition.get("period").cloned().flatten())
        .filter_map(|p| year_of(&p))
        .collect()
}

/// The fingerprint each year was last built from, according to a derived table's commits.
async fn recorded(table: &DeltaTable, label: &str) -> Result<BTreeMap<i32, String>, DeriveError> {
    let mut by_year = BTreeMap::new();
    for (_, _, meta) in tables::history(table, label).await? {
        if meta.get("kind").and_then(|k| k.as_str()) == Some("build")
            && let (Some(y), Some(fp)) = (
                meta.get("year").and_then(|y| y.as_i64()),
                meta.get("fingerprint").and_then(|f| f.as_str()),
            )
        {
            by_year.insert(y as i32, fp.to_string());
        }
    }
    Ok(by_year)
}

type Recorded = HashMap<(bool, &'static str), BTreeMap<i32, String>>;

fn all_recorded(done: &Recorded, year: i32, fingerprint: &str) -> bool {
    DERIVED.iter().all(|key| {
        done.get(key)
            .and_then(|m| m.get(&year))
            .is_some_and(|f| f == fingerprint)
    })
}

/// Whether each year's derived data is up to date, without building anything (read-only;
/// `aim status`). A year is stale when never built, when an input changed, or when a build
/// stopped between two tables.
pub async fn freshness(
    wh: &Warehouse,
    defs: &Definitions,
) -> Result<Vec<(i32, YearStatus)>, DeriveError> {
    let sources = match list_sources(wh).await {
        Ok(s) => s,
        Err(DeriveError::NoData(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let sample = wh.sample();
    let mut done = HashMap::new();
    for key in DERIVED {
        let base = if key.0 { &sample } else { wh };
        let by_year = match tables::open(base, key.1).await? {
            Some(t) => recorded(&t, &label(key.0, key.1)).await?,
            None => BTreeMap::new(),
        };
        done.insert(key, by_year);
    }
    Ok(years_of(&sources)
        .into_iter()
        .map(|y| {
            let (fp, _) = fingerprint(y, &sources, defs);
            let status = if all_recorded(&done, y, &fp) {
                YearStatus::UpToDate
            } else {
                YearStatus::Stale
            };
            (y, status)
        })
        .collect())
}

fn fingerprint(year: i32, sources: &[Source], defs: &Definitions) -> (String, serde_json::Value) {
    let mut inputs = serde_json::Map::new();
    let mut h = Sha256::new();
    h.update(LOGIC_VERSION.as_bytes());
    h.update(defs.hash.as_bytes());
    for s in sources {
        let files: Vec<&ActiveFile> = if s.name.starts_with("ref_") {
            s.files.iter().collect()
        } else {
            s.of_year(year)
        };
        let d = digest(&files);
        h.update(s.name.as_bytes());
        h.update(d.as_bytes());
        inputs.insert(
            s.name.to_string(),
            serde_json::json!({ "version": s.version, "files": files.len(), "files_sha256": d }),
        );
    }
    inputs.insert("definitions_sha256".into(), defs.hash.clone().into());
    inputs.insert("logic".into(), LOGIC_VERSION.into());
    (hex::encode(h.finalize()), serde_json::Value::Object(inputs))
}

async fn read_reference(wh: &Warehouse) -> Result<Reference, DeriveError> {
    let names = vec![
        "ref_nomenclature".to_string(),
        "ref_merger_2025".to_string(),
    ];
    let ctx = aim_warehouse::query::session_of(wh, &names, &BTreeMap::new()).await?;
    let pairs = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx
                .sql(sql)
                .await
                .map_err(aim_warehouse::WarehouseError::from)?
                .collect()
                .await
                .map_err(aim_warehouse::WarehouseError::from)?;
            let mut out = Vec::new();
            for b in batches {
                let col = |i: usize| -> Result<StringArray, DeriveError> {
                    let c = deltalake::arrow::compute::cast(
                        b.column(i),
                        &deltalake::arrow::datatypes::DataType::Utf8,
                    )
                    .map_err(|e| DeriveError::Schema(e.to_string()))?;
                    Ok(c.as_any()
                        .downcast_ref::<StringArray>()
                        .expect("cast to Utf8")
                        .clone())
                };
                let (a, c) = (col(0)?, col(1)?);
                for i in 0..b.num_rows() {
                    out.push((a.value(i).to_string(), c.value(i).to_string()));
                }
            }
            Ok::<_, DeriveError>(out)
        }
    };
    let care_groups = pairs("SELECT code, care_group FROM ref_nomenclature")
        .await?
        .into_iter()
        .collect();
    let mergers = pairs("SELECT nis_2019, nis_2025 FROM ref_merger_2025")
        .await?
        .into_iter()
        .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .collect();
    Ok(Reference {
        care_groups,
        mergers,
    })
}

type Derived = HashMap<(bool, &'static str), DeltaTable>;

/// The warehouse schema of a source table (`popu`, `gzss`, `faru`).
fn source_schema(name: &str) -> Arc<Schema> {
    aim_model::schema::source_tables()
        .into_iter()
        .find(|t| t.name == name)
        .expect("a source table")
        .warehouse_schema()
}

async fn open_derived(wh: &Warehouse, defs: &Definitions) -> Result<Derived, DeriveError> {
    let sample = wh.sample();
    let mut out = HashMap::new();
    for (in_sample, name) in DERIVED {
        let (schema, partitions): (Arc<Schema>, &[&str]) = match name {
            "hosp" => (output::hosp_schema(), &["year"]),
            "pati" => (output::pati_schema(defs, in_sample), &["year"]),
            source => (source_schema(source), &["insurer", "period"]),
        };
        let base = if in_sample { &sample } else { wh };
        let table = tables::open_or_create(base, name, &schema, partitions).await?;
        let mut have: Vec<String> = table
            .snapshot()
            .map_err(delta_err(name))?
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect();
        let mut want: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        want.sort();
        have.sort();
        if want != have {
            return Err(DeriveError::SchemaChanged(label(in_sample, name)));
        }
        out.insert((in_sample, name), table);
    }
    Ok(out)
}

/// Sends the members' source rows to the sample tables' writers, with their partition
/// columns put back.
struct ChannelSink {
    senders: HashMap<&'static str, (mpsc::Sender<RecordBatch>, Arc<Schema>)>,
}

impl SampleSink for ChannelSink {
    fn rows(
        &self,
        table: &'static str,
        file: &InputFile,
        batch: RecordBatch,
    ) -> Result<(), DeriveError> {
        let (tx, schema) = &self.senders[table];
        let n = batch.num_rows();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            let col: ArrayRef = match f.name().as_str() {
                "insurer" => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    file.insurer.as_str(),
                    n,
                ))),
                "period" => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    file.period.as_str(),
                    n,
                ))),
                name => batch.column_by_name(name).cloned().ok_or_else(|| {
                    DeriveError::Schema(format!("{table}: column {name} missing from a data file"))
                })?,
            };
            cols.push(col);
        }
        let full = RecordBatch::try_new(schema.clone(), cols)
            .map_err(|e| DeriveError::Schema(e.to_string()))?;
        tx.blocking_send(full).map_err(|_| DeriveError::Delta {
            table: format!("sample/{table}"),
            message: "the writer stopped".into(),
        })
    }
}

struct StepProgress {
    year: i32,
    inner: Arc<dyn BuildProgress>,
    started: std::time::Instant,
}

impl YearProgress for StepProgress {
    fn step(&self, name: &str) {
        tracing::info!(
            year = self.year,
            ms = self.started.elapsed().as_millis() as u64,
            "step: {name}"
        );
        self.inner.step(self.year, name);
    }
}

async fn write_stream(
    table: &DeltaTable,
    name: String,
    mut rx: mpsc::Receiver<RecordBatch>,
) -> Result<Vec<Add>, DeriveError> {
    let mut writer = tables::writer(table, &name)?;
    while let Some(b) = rx.recv().await {
        writer.write(b).await.map_err(delta_err(&name))?;
    }
    writer.flush().await.map_err(delta_err(&name))
}

async fn write_batches(
    table: &DeltaTable,
    name: &str,
    batches: Vec<RecordBatch>,
) -> Result<Vec<Add>, DeriveError> {
    let mut writer = tables::writer(table, name)?;
    for b in batches {
        writer.write(b).await.map_err(delta_err(name))?;
    }
    writer.flush().await.map_err(delta_err(name))
}

#[allow(clippy::too_many_arguments)]
async fn build_year(
    wh: &Warehouse,
    defs: &Definitions,
    reference: &Reference,
    sources: &[Source],
    derived: &mut Derived,
    year: i32,
    fingerprint: &str,
    inputs_meta: &serde_json::Value,
    progress: Arc<dyn BuildProgress>,
) -> Result<YearCounters, DeriveError> {
    let files = |name: &str| -> Vec<InputFile> {
        let s = sources.iter().find(|s| s.name == name).expect("listed");
        let dir = wh.table_dir(name);
        s.of_year(year)
            .into_iter()
            .map(|f| InputFile::from_active(&dir, f))
            .collect()
    };
    let inputs = YearInputs {
        popu: files("popu"),
        gzss: files("gzss"),
        faru: files("faru"),
        others: crate::others::OtherInputs {
            chiv: files("chiv"),
            itao: files("itao"),
            kats: files("kats"),
            chta: files("chta"),
        },
    };

    let started = std::time::Instant::now();
    let log =
        |what: &str| tracing::info!(year, ms = started.elapsed().as_millis() as u64, "{what}");
    // The sample's source rows stream to their writers while the year is computed.
    let mut senders = HashMap::new();
    let mut writers = Vec::new();
    for name in ["popu", "gzss", "faru"] {
        let (tx, rx) = mpsc::channel::<RecordBatch>(8);
        let table = derived[&(true, name)].clone();
        senders.insert(name, (tx, source_schema(name)));
        writers.push((
            name,
            tokio::spawn(async move { write_stream(&table, format!("sample/{name}"), rx).await }),
        ));
    }
    let sink = ChannelSink { senders };
    let compute = {
        let defs = defs.clone();
        let reference = reference.clone();
        let progress = StepProgress {
            year,
            inner: progress.clone(),
            started,
        };
        tokio::task::spawn_blocking(move || {
            let r = year::compute(year, &inputs, &defs, &reference, &sink, &progress);
            drop(sink);
            r
        })
    };
    let data = compute.await.map_err(|_| DeriveError::Thread)?;
    let mut adds: HashMap<(bool, &str), Vec<Add>> = HashMap::new();
    let mut write_error = None;
    for (name, w) in writers {
        match w.await.map_err(|_| DeriveError::Thread)? {
            Ok(a) => {
                adds.insert((true, name), a);
            }
            Err(e) => write_error = Some(e),
        }
    }
    let data = data?;
    if let Some(e) = write_error {
        return Err(e);
    }

    log("computed; sample source rows written");
    progress.step(year, "writing");
    let outputs: [((bool, &str), Vec<RecordBatch>); 4] = [
        (
            (false, "hosp"),
            output::hosp_batches(&data.stays, year, |_| true)?,
        ),
        (
            (true, "hosp"),
            output::hosp_batches(&data.stays, year, |p| data.is_member(p))?,
        ),
        (
            (false, "pati"),
            output::pati_batches(&data, defs, &reference.mergers, false)?,
        ),
        (
            (true, "pati"),
            output::pati_batches(&data, defs, &reference.mergers, true)?,
        ),
    ];
    log("output batches built");
    for (key, batches) in outputs {
        let a = write_batches(&derived[&key], &label(key.0, key.1), batches).await?;
        adds.insert(key, a);
        log(&format!("{} written", label(key.0, key.1)));
    }

    // One commit per derived table, replacing the year's partition; the fingerprint and the
    // input versions go into the commit (lineage).
    progress.step(year, "committing");
    let y = year.to_string();
    for key in DERIVED {
        let name = label(key.0, key.1);
        let table = derived.get_mut(&key).expect("opened");
        let by_year = matches!(key.1, "hosp" | "pati");
        let removes = tables::files_to_remove_where(table, &name, |p| {
            let v = |k: &str| p.get(k).cloned().flatten().unwrap_or_default();
            if by_year {
                v("year") == y
            } else {
                year_of(&v("period")) == Some(year)
            }
        })
        .await?;
        let meta = serde_json::json!({
            "kind": "build",
            "year": year,
            "fingerprint": fingerprint,
            "inputs": inputs_meta,
        });
        let predicate = if by_year {
            format!("year = {year}")
        } else {
            format!("period LIKE '{year}Q%'")
        };
        let a = adds.remove(&key).unwrap_or_default();
        tables::commit(table, &name, a, removes, Some(predicate), meta).await?;
    }
    log("committed");
    Ok(data.counters)
}
