//! Running a table request on the sample or the population and releasing the gated result:
//! the only path by which a table leaves the agency. Every run is logged, every release is
//! recorded in the ledger.

use crate::DisclosureError;
use crate::contributor::{self, ContributorRule};
use crate::cross::{self, Earlier, Finding};
use crate::ledger;
use crate::provider;
use crate::request::{Statistic, TableRequest};
use crate::suppress::Magnitude;
use crate::suppress::{self, Pattern, Policy, Sensitive, Status};
use crate::table::{Dimension, Table};
use aim_access::{Capability, Grant};
use aim_warehouse::{Warehouse, query, tables};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The text of a masked cell.
pub const SMALL_CELL: &str = "small cell";

/// Where a request runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The permanent sample (`WH/sample`): no cell ≤ 3.
    Sample,
    /// The full population: no cell < 5.
    Population,
}

impl Source {
    /// The policy of the source.
    pub fn policy(self) -> Policy {
        match self {
            Source::Sample => Policy::SAMPLE,
            Source::Population => Policy::POPULATION,
        }
    }
}

/// A gated table, ready to be written.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    /// Identifier (request hash prefix + time).
    pub id: String,
    /// The request.
    pub request: TableRequest,
    /// Source.
    pub source: Source,
    /// Versions of the source's tables when it ran.
    pub source_versions: BTreeMap<String, u64>,
    /// When (UTC, RFC 3339).
    pub created: String,
    /// Who ran it.
    pub user: String,
    /// The approved project it was released for (none for the Atlas, which the agency
    /// publishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The policy applied.
    pub policy: Policy,
    /// The table (with every cell's true values: never written out as such).
    #[serde(skip)]
    pub table: Table,
    /// The suppression pattern and certificate.
    pub pattern: Pattern,
    /// The earlier releases to the same requester this one was audited against.
    pub audited_against: Vec<String>,
    /// Cells hidden because they differenced with an earlier release (internal).
    #[serde(skip)]
    pub differencing: Vec<Finding>,
}

impl Release {
    /// This release as an earlier one, for the differencing check of the next.
    pub fn earlier(&self) -> Earlier<'_> {
        Earlier {
            id: &self.id,
            table: &self.table,
            status: &self.pattern.status,
            policy: self.policy,
            pairs_only: self.request.requester == crate::ledger::ATLAS,
        }
    }
}

/// A request tabulated and suppressed on its own, not yet audited against other releases.
pub(crate) struct Prepared {
    request: TableRequest,
    source: Source,
    policy: Policy,
    user: String,
    project: Option<String>,
    table: Table,
    source_versions: BTreeMap<String, u64>,
    sensitive: Sensitive,
    pattern: Pattern,
}

/// Runs `request` on `source` and applies the gate to its table alone (primary, magnitude
/// rules, secondary suppression, audit).
pub(crate) async fn prepare(
    wh: &Warehouse,
    request: &TableRequest,
    source: Source,
    policy: Policy,
    user: &str,
    project: Option<&str>,
) -> Result<Prepared, DisclosureError> {
    check_policy(source, &policy)?;
    let tabulated = tabulate(wh, request, source, &BTreeMap::new()).await?;
    let mut prepared = suppress_alone(request, source, policy, user, tabulated)?;
    prepared.project = project.map(str::to_string);
    Ok(prepared)
}

/// Refuses a threshold below the source's.
pub(crate) fn check_policy(source: Source, policy: &Policy) -> Result<(), DisclosureError> {
    if policy.min_units < source.policy().min_units {
        return Err(DisclosureError::Request(format!(
            "the threshold may be raised, not lowered: {} allows no fewer than {} units per cell",
            match source {
                Source::Sample => "the sample",
                Source::Population => "the population",
            },
            source.policy().min_units
        )));
    }
    Ok(())
}

/// The gate on a tabulated request's table alone.
pub(crate) fn suppress_alone(
    request: &TableRequest,
    source: Source,
    policy: Policy,
    user: &str,
    tabulated: Tabulated,
) -> Result<Prepared, DisclosureError> {
    let Tabulated {
        table,
        source_versions,
        magnitude,
    } = tabulated;
    let sensitive = Sensitive {
        magnitude,
        ..Sensitive::default()
    };
    let pattern = suppress::suppress_with(&table, &policy, &sensitive)?;
    Ok(Prepared {
        request: request.clone(),
        source,
        policy,
        user: user.to_string(),
        project: None,
        table,
        source_versions,
        sensitive,
        pattern,
    })
}

/// Audits a prepared table against every release in `earlier` and hides cells until, with
/// all of them, no small group of persons is pinned down (the set of hidden cells only grows,
/// so this ends). Refuses a table whose own audit does not pass: nothing of it may leave.
pub(crate) fn settle(p: Prepared, earlier: &[Earlier<'_>]) -> Result<Release, DisclosureError> {
    let Prepared {
        request,
        source,
        policy,
        user,
        project,
        table,
        source_versions,
        sensitive,
        pattern,
    } = p;
    let mut work = [Settling::new(&table, policy, sensitive, pattern)];
    settle_all(&mut work, earlier)?;
    let [
        Settling {
            pattern,
            differencing,
            ..
        },
    ] = work;
    if !pattern.passed() {
        let failing = pattern
            .certificate
            .iter()
            .zip(&pattern.protection)
            .find(|(b, p)| !p.holds(b));
        return Err(DisclosureError::Audit(format!(
            "{}: the audit did not pass ({failing:?}): nothing is released",
            request.title
        )));
    }
    let created = chrono::Utc::now();
    Ok(Release {
        id: format!(
            "{}-{}",
            &request.hash()[..12],
            created.format("%Y%m%dT%H%M%S%.3fZ")
        ),
        request,
        source,
        source_versions,
        created: created.to_rfc3339(),
        user,
        project,
        policy,
        table,
        pattern,
        audited_against: earlier.iter().map(|e| e.id.to_string()).collect(),
        differencing,
    })
}

/// A table being settled against other releases: its suppression so far and the cells hidden
/// because, with other releases, they would pin down a small group.
pub(crate) struct Settling<'t> {
    pub(crate) table: &'t Table,
    pub(crate) policy: Policy,
    pub(crate) sensitive: Sensitive,
    pub(crate) pattern: Pattern,
    hidden_for_differencing: BTreeMap<usize, i64>,
    pub(crate) differencing: Vec<Finding>,
}

impl<'t> Settling<'t> {
    pub(crate) fn new(
        table: &'t Table,
        policy: Policy,
        sensitive: Sensitive,
        pattern: Pattern,
    ) -> Settling<'t> {
        Settling {
            table,
            policy,
            sensitive,
            pattern,
            hidden_for_differencing: BTreeMap::new(),
            differencing: Vec::new(),
        }
    }
}

/// Audits tables released together against every release in `earlier` and against each
/// other, hiding cells (in any of them) until no combination pins down a small group (the
/// hidden cells only grow, so this ends); the tables with new findings are suppressed again
/// side by side.
pub(crate) fn settle_all(
    work: &mut [Settling<'_>],
    earlier: &[Earlier<'_>],
) -> Result<(), DisclosureError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for w in work.iter_mut() {
        // Cells public already (the same persons as a cell released before) are never cover.
        w.sensitive.known = cross::known_cells(w.table, earlier);
        if !w.sensitive.known.is_empty() {
            w.pattern = suppress::suppress_with(w.table, &w.policy, &w.sensitive)?;
        }
    }
    loop {
        let clock = std::time::Instant::now();
        let news: Vec<cross::New> = work
            .iter()
            .map(|w| cross::New {
                table: w.table,
                status: &w.pattern.status,
                policy: w.policy,
            })
            .collect();
        let found: Vec<Vec<Finding>> = cross::findings(&news, earlier)?;
        let n: usize = found.iter().map(Vec::len).sum();
        if crate::audit::trace() {
            eprintln!(
                "cross-release audit of {} table(s) against {} release(s): {n} cell(s) to hide, {:.2} s",
                work.len(),
                earlier.len(),
                clock.elapsed().as_secs_f64()
            );
        }
        if n == 0 {
            return Ok(());
        }
        let mut changed: Vec<&mut Settling> = Vec::new();
        for (w, found) in work.iter_mut().zip(found) {
            if found.is_empty() {
                continue;
            }
            for f in &found {
                let g = w.hidden_for_differencing.entry(f.cell).or_insert(0);
                *g = (*g).max(f.group.max(1));
            }
            w.differencing.extend(found);
            w.sensitive.differencing = w
                .hidden_for_differencing
                .iter()
                .map(|(&c, &g)| (c, g))
                .collect();
            changed.push(w);
        }
        // Suppressed again, a few tables at a time side by side.
        let per_thread = changed.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = changed
                .chunks_mut(per_thread.max(1))
                .map(|chunk| {
                    scope.spawn(move || -> Result<(), DisclosureError> {
                        for w in chunk {
                            w.pattern = suppress::suppress_with(w.table, &w.policy, &w.sensitive)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("a suppression thread panicked"))
        })?;
    }
}

/// Runs the request's query on `source` (tables at the `pinned` versions where given, else
/// their current ones) and tabulates its units. Returns the table and the versions read.
pub(crate) async fn tabulate(
    wh: &Warehouse,
    request: &TableRequest,
    source: Source,
    pinned: &BTreeMap<String, u64>,
) -> Result<Tabulated, DisclosureError> {
    let opened = open_source(wh, source, pinned).await?;
    tabulate_in(wh, &opened, request).await
}

/// A source opened for queries: its session and the versions of the tables it reads.
pub(crate) struct Opened {
    source: Source,
    ctx: datafusion::execution::context::SessionContext,
    source_versions: BTreeMap<String, u64>,
}

/// Opens `source` for queries (tables at the `pinned` versions where given, else their
/// current ones).
pub(crate) async fn open_source(
    wh: &Warehouse,
    source: Source,
    pinned: &BTreeMap<String, u64>,
) -> Result<Opened, DisclosureError> {
    let base = match source {
        Source::Sample => wh.sample(),
        Source::Population => wh.clone(),
    };
    if base.table_names().is_empty() {
        return Err(DisclosureError::Request(
            "the source has no tables (for the sample: run `aim build` first)".into(),
        ));
    }
    // Every table the query can see: the source's, and for the sample the reference tables
    // its session adds.
    let mut visible: Vec<(&Warehouse, String)> =
        base.table_names().into_iter().map(|n| (&base, n)).collect();
    if source == Source::Sample {
        visible.extend(
            wh.table_names()
                .into_iter()
                .filter(|n| n.starts_with("ref_"))
                .map(|n| (wh, n)),
        );
    }
    // The versions read: the pinned ones (a replay of an earlier release), else the current.
    let mut source_versions = BTreeMap::new();
    for (home, name) in visible {
        if let Some(&v) = pinned.get(&name) {
            source_versions.insert(name, v);
        } else if let Some(t) = tables::open(home, &name).await.map_err(wh_err)? {
            source_versions.insert(name, t.version().unwrap_or(0));
        }
    }
    let ctx = match source {
        Source::Sample => query::sample_session(wh, &source_versions).await,
        Source::Population => query::session(wh, &source_versions).await,
    }
    .map_err(wh_err)?;
    Ok(Opened {
        source,
        ctx,
        source_versions,
    })
}

/// Runs the request's query in an opened source and tabulates its units.
pub(crate) async fn tabulate_in(
    wh: &Warehouse,
    opened: &Opened,
    request: &TableRequest,
) -> Result<Tabulated, DisclosureError> {
    let (ctx, source) = (&opened.ctx, opened.source);
    let source_versions = opened.source_versions.clone();
    crate::lineage::check(ctx, &request.sql).await?;
    if request.provider.is_none() {
        // Providers are protected by default: a query that reads a provider's identifier
        // may describe one provider in a cell, so it needs the provider rule.
        let read = crate::lineage::providers_read(ctx, &request.sql).await?;
        if !read.is_empty() {
            return Err(DisclosureError::Request(format!(
                "the query reads provider identifiers ({}): a cell could describe one provider, \
                 so the request needs a [provider] section giving each person's providers \
                 (docs/disclosure.md, \"The provider rule\")",
                read.join(", ")
            )));
        }
    }
    let batches = query::run_read_only(ctx, &request.sql)
        .await
        .map_err(wh_err)?;

    let dims: Vec<Dimension> = request
        .dimension
        .iter()
        .map(|d| {
            let levels: Vec<&str> = d.levels.iter().map(String::as_str).collect();
            Dimension::new(&d.name, &levels, &d.total)
        })
        .collect();
    let measures: Vec<String> = request.measure.iter().map(|m| m.column.clone()).collect();
    let unit_cols = request.unit.columns();
    // Column values as text (dimensions, unit) or numbers (measures).
    let mut rows: Vec<(String, Vec<Vec<String>>, Vec<f64>)> = Vec::new();
    for b in &batches {
        let text = |name: &str| text_column(b, name);
        let number = |name: &str| number_column(b, name);
        let units: Vec<Vec<String>> = unit_cols
            .iter()
            .map(|c| text(c))
            .collect::<Result<_, _>>()?;
        let dim_values: Vec<Vec<Vec<String>>> = request
            .dimension
            .iter()
            .map(|d| {
                d.levels
                    .iter()
                    .map(|l| text(l))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;
        let measure_values: Vec<Vec<f64>> = measures
            .iter()
            .map(|m| number(m))
            .collect::<Result<_, _>>()?;
        for i in 0..b.num_rows() {
            let key = units
                .iter()
                .map(|u| u[i].as_str())
                .collect::<Vec<_>>()
                .join("|");
            let values = dim_values
                .iter()
                .map(|levels| levels.iter().map(|l| l[i].clone()).collect())
                .collect();
            let sums = measure_values.iter().map(|m| m[i]).collect();
            rows.push((key, values, sums));
        }
    }
    // The gate decides the unit: every row must be one coded person of the source.
    let known = coded_persons(ctx, wh, source, &source_versions).await?;
    if let Some((key, _, _)) = rows.iter().find(|(k, _, _)| !known.contains(k.as_str())) {
        return Err(DisclosureError::Request(format!(
            "the query returns person_id '{key}', which is not a coded person of the {}: a \
             table counts distinct coded persons, so person_id must be the persons' own column",
            match source {
                Source::Sample => "sample",
                Source::Population => "population",
            }
        )));
    }
    let table = Table::from_units(
        dims,
        measures,
        rows.iter().map(|(k, v, s)| {
            (
                k.clone(),
                v.iter()
                    .map(|l| l.iter().map(String::as_str).collect())
                    .collect(),
                s.clone(),
            )
        }),
    )?;
    // The contributor rule on every measure: the persons' own amounts.
    let rule = request.contributor.unwrap_or(ContributorRule::DEFAULT);
    let mut magnitude: Vec<Magnitude> = Vec::new();
    for k in 0..request.measure.len() {
        let amounts: Vec<f64> = rows.iter().map(|(_, _, s)| s[k]).collect();
        magnitude.extend(
            contributor::failing_cells(&table, &amounts, &rule)
                .into_iter()
                .map(|cell| Magnitude {
                    cell,
                    measure: k,
                    percent: rule.protection_percent,
                    status: Status::Contributor,
                }),
        );
    }
    let provider_cells = match &request.provider {
        None => Vec::new(),
        Some(spec) => {
            let batches = query::run_read_only(ctx, &spec.sql)
                .await
                .map_err(|e| DisclosureError::Request(format!("provider query: {e}")))?;
            let mut rows: Vec<(String, String, f64)> = Vec::new();
            for b in &batches {
                let units: Vec<Vec<String>> = unit_cols
                    .iter()
                    .map(|c| text_column(b, c))
                    .collect::<Result<_, _>>()?;
                let provider = text_column(b, "provider")?;
                let amount = number_column(b, "amount")?;
                for i in 0..b.num_rows() {
                    let key = units
                        .iter()
                        .map(|u| u[i].as_str())
                        .collect::<Vec<_>>()
                        .join("|");
                    rows.push((key, provider[i].clone(), amount[i]));
                }
            }
            provider::failing_cells(
                &table,
                spec,
                rows.iter().map(|(u, p, a)| (u.as_str(), p.as_str(), *a)),
            )
        }
    };
    if let Some(spec) = &request.provider {
        let k = request
            .measure
            .iter()
            .position(|m| m.column == spec.measure)
            .expect("checked when the request was parsed");
        magnitude.extend(provider_cells.into_iter().map(|cell| Magnitude {
            cell,
            measure: k,
            percent: spec.protection_percent,
            status: Status::Provider,
        }));
    }
    Ok(Tabulated {
        table,
        source_versions,
        magnitude,
    })
}

/// Every coded person of the source's population register (POPU) at the version read, kept
/// for the process (a version never changes).
async fn coded_persons(
    ctx: &datafusion::execution::context::SessionContext,
    wh: &Warehouse,
    source: Source,
    versions: &BTreeMap<String, u64>,
) -> Result<std::sync::Arc<std::collections::HashSet<String>>, DisclosureError> {
    type Key = (PathBuf, Source, Option<u64>);
    type Cache = std::sync::Mutex<
        std::collections::HashMap<Key, std::sync::Arc<std::collections::HashSet<String>>>,
    >;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let key = (
        wh.root().to_path_buf(),
        source,
        versions.get("popu").copied(),
    );
    let cache = CACHE.get_or_init(Default::default);
    if key.2.is_some()
        && let Some(known) = cache.lock().expect("cache").get(&key)
    {
        return Ok(known.clone());
    }
    let batches = query::run_read_only(ctx, "SELECT DISTINCT person_id FROM popu")
        .await
        .map_err(wh_err)?;
    let mut out = std::collections::HashSet::new();
    for b in &batches {
        out.extend(text_column(b, "person_id")?);
    }
    let out = std::sync::Arc::new(out);
    if key.2.is_some() {
        cache.lock().expect("cache").insert(key, out.clone());
    }
    Ok(out)
}

/// A request's table, the versions it read, and the cells failing its provider rule.
pub(crate) struct Tabulated {
    pub table: Table,
    pub source_versions: BTreeMap<String, u64>,
    /// Cells failing a magnitude rule (contributors, providers), with the amount to protect.
    pub magnitude: Vec<Magnitude>,
}

/// A column of a query result as text (null as "-").
fn text_column(
    b: &datafusion::arrow::record_batch::RecordBatch,
    name: &str,
) -> Result<Vec<String>, DisclosureError> {
    let col = b.column_by_name(name).ok_or_else(|| {
        DisclosureError::Request(format!("the query returns no column named {name}"))
    })?;
    let c = cast(col, &DataType::Utf8).map_err(|e| DisclosureError::Request(e.to_string()))?;
    let s = c.as_string::<i32>();
    Ok((0..s.len())
        .map(|i| {
            if s.is_null(i) {
                "-".to_string()
            } else {
                s.value(i).to_string()
            }
        })
        .collect())
}

/// A numeric column of a query result (null as 0).
fn number_column(
    b: &datafusion::arrow::record_batch::RecordBatch,
    name: &str,
) -> Result<Vec<f64>, DisclosureError> {
    let col = b.column_by_name(name).ok_or_else(|| {
        DisclosureError::Request(format!("the query returns no column named {name}"))
    })?;
    let c = cast(col, &DataType::Float64)
        .map_err(|_| DisclosureError::Request(format!("column {name} is not numeric")))?;
    let f = c.as_primitive::<Float64Type>();
    Ok((0..f.len())
        .map(|i| if f.is_null(i) { 0.0 } else { f.value(i) })
        .collect())
}

fn wh_err(e: aim_warehouse::WarehouseError) -> DisclosureError {
    DisclosureError::Request(e.to_string())
}

/// One output line: the dimension codes, then the values (or [`SMALL_CELL`]).
pub fn rows(release: &Release) -> (Vec<String>, Vec<Vec<String>>) {
    lines(
        &release.table,
        &release.request,
        Some(&release.pattern.status),
    )
}

/// The header and lines of `table`, masking the cells `status` does not release (`None`:
/// every cell shown, the raw table for sample access; no rounding then either).
fn lines(
    t: &Table,
    request: &TableRequest,
    status: Option<&[Status]>,
) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = Vec::new();
    for d in &t.dimensions {
        header.push(d.name.clone());
        if d.levels.len() > 1 {
            header.push(format!("{} level", d.name));
        }
    }
    header.push("persons".into());
    for m in &request.measure {
        for s in &m.statistics {
            header.push(match s {
                Statistic::Sum => format!("sum_{}", m.column),
                Statistic::Mean => format!("mean_{}", m.column),
            });
        }
    }
    let mut out = Vec::with_capacity(t.cells.len());
    for (c, cell) in t.cells.iter().enumerate() {
        let mut line: Vec<String> = Vec::new();
        for (d, n) in t.dimensions.iter().zip(t.nodes(c)) {
            let node = &d.nodes[n];
            line.push(node.code.clone());
            if d.levels.len() > 1 {
                line.push(if node.level == 0 {
                    "total".to_string()
                } else {
                    d.levels[node.level - 1].clone()
                });
            }
        }
        let released = status.is_none_or(|s| s[c] == Status::Released);
        if released {
            let units = match request.rounding_base {
                Some(b) if status.is_some() => round_to(cell.units, i64::from(b)),
                _ => cell.units,
            };
            line.push(units.to_string());
        } else {
            line.push(SMALL_CELL.into());
        }
        for (k, m) in request.measure.iter().enumerate() {
            for s in &m.statistics {
                line.push(if !released {
                    SMALL_CELL.into()
                } else {
                    match s {
                        Statistic::Sum => format!("{:.2}", cell.sums[k]),
                        Statistic::Mean if cell.units > 0 => {
                            format!("{:.2}", cell.sums[k] / cell.units as f64)
                        }
                        Statistic::Mean => String::new(),
                    }
                });
            }
        }
        out.push(line);
    }
    (header, out)
}

/// Rounds to the nearest multiple of `base` (halves up), after suppression.
pub fn round_to(v: i64, base: i64) -> i64 {
    if base <= 1 {
        return v;
    }
    ((v + base / 2) / base) * base
}

/// The metadata that travels with a release.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata<'a> {
    /// Release id.
    pub release: &'a str,
    /// Title of the request.
    pub title: &'a str,
    /// Requester.
    pub requester: &'a str,
    /// Source.
    pub source: Source,
    /// Source table versions.
    pub source_versions: &'a BTreeMap<String, u64>,
    /// Date.
    pub created: &'a str,
    /// The request (SQL included).
    pub request: &'a TableRequest,
    /// Policy.
    pub policy: &'a Policy,
    /// Cells in the table (margins included).
    pub cells: usize,
    /// Cells suppressed as small.
    pub primary_suppressed: usize,
    /// Cells suppressed to protect them.
    pub secondary_suppressed: usize,
    /// Cells suppressed by the provider rule.
    pub provider_suppressed: usize,
    /// Cells hidden by the contributor rule (one or two persons dominating a sum).
    pub contributor_suppressed: usize,
    /// The rules the gate applied.
    pub rules: Rules,
    /// Cells suppressed because they would difference with an earlier release to the same
    /// requester down to a small group.
    pub differencing_suppressed: usize,
    /// The earlier releases to the requester this release was audited against.
    pub audited_against: &'a [String],
    /// Each dimension's hierarchy: every code with its level and its parent's code, so that
    /// the table's additivity (and the certificate) can be checked from the release alone.
    pub hierarchies: BTreeMap<&'a str, Vec<HierarchyNode<'a>>>,
    /// The audit: every small cell's interval derivable from the release (the certificate).
    pub audit: Audit<'a>,
    /// How counts were rounded.
    pub rounding: String,
}

/// The rules a release went through (its metadata's `rules`).
#[derive(Debug, Clone, Serialize)]
pub struct Rules {
    /// What a cell counts.
    pub unit: &'static str,
    /// A cell with 1 to threshold − 1 persons is small.
    pub threshold: i64,
    /// The contributor rule on every sum and mean.
    pub contributor: ContributorRule,
    /// The provider rule, when the request has one.
    pub provider: Option<crate::request::ProviderSpec>,
    /// The audit against other releases.
    pub combination: String,
}

/// One certified cell: its labels, the interval an attacker can derive, and the interval that
/// must be covered (small cells: [0, threshold]).
#[derive(Debug, Clone, Serialize)]
pub struct CertifiedCell<'a> {
    /// One code per dimension.
    pub labels: Vec<&'a str>,
    /// What is bounded: `persons` (the count) or `sum_<measure>` (provider cells).
    pub quantity: String,
    /// Smallest value consistent with the release.
    pub lower: f64,
    /// Largest value (null when unbounded).
    pub upper: f64,
    /// The lower bound must be at most this.
    pub required_lower: f64,
    /// The upper bound must be at least this.
    pub required_upper: f64,
}

/// One node of a dimension's hierarchy in the metadata.
#[derive(Debug, Clone, Serialize)]
pub struct HierarchyNode<'a> {
    /// Code, as in the table.
    pub code: &'a str,
    /// Level column (or `total`).
    pub level: &'a str,
    /// Parent's code (none for the total).
    pub parent: Option<&'a str>,
}

/// The audit part of the metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Audit<'a> {
    /// `passed`: every small cell's derivable interval contains [0, threshold].
    pub result: &'static str,
    /// Method.
    pub method: &'static str,
    /// The certificate, with each cell's labels and the interval its bounds must contain.
    pub certificate: Vec<CertifiedCell<'a>>,
}

/// The metadata of a release.
pub fn metadata(release: &Release) -> Metadata<'_> {
    let passed = release.pattern.passed();
    Metadata {
        release: &release.id,
        title: &release.request.title,
        requester: &release.request.requester,
        source: release.source,
        source_versions: &release.source_versions,
        created: &release.created,
        request: &release.request,
        policy: &release.policy,
        cells: release.table.cells.len(),
        primary_suppressed: release.pattern.count(Status::Primary),
        secondary_suppressed: release.pattern.count(Status::Secondary),
        differencing_suppressed: release.pattern.count(Status::Differencing),
        provider_suppressed: release.pattern.count(Status::Provider),
        contributor_suppressed: release.pattern.count(Status::Contributor),
        rules: Rules {
            unit: "distinct coded persons (person_id of the population register); decided by the gate",
            threshold: release.policy.min_units,
            contributor: release
                .request
                .contributor
                .unwrap_or(ContributorRule::DEFAULT),
            provider: release.request.provider.clone(),
            combination: format!(
                "audited against {} earlier release(s), whoever asked, the published Atlas included: no combination pins a group of 1 to {} persons",
                release.audited_against.len(),
                release.policy.min_units - 1
            ),
        },
        audited_against: &release.audited_against,
        hierarchies: release
            .table
            .dimensions
            .iter()
            .map(|d| {
                let nodes = d
                    .nodes
                    .iter()
                    .map(|n| HierarchyNode {
                        code: &n.code,
                        level: if n.level == 0 {
                            "total"
                        } else {
                            &d.levels[n.level - 1]
                        },
                        parent: n.parent.map(|p| d.nodes[p].code.as_str()),
                    })
                    .collect();
                (d.name.as_str(), nodes)
            })
            .collect(),
        audit: Audit {
            result: if passed { "passed" } else { "failed" },
            method: "linear programming: for every small cell, the minimum and maximum of its value over all non-negative tables that agree with the released cells and the table's additivity; protected when the interval contains [0, threshold]",
            certificate: release
                .pattern
                .certificate
                .iter()
                .zip(&release.pattern.protection)
                .map(|(b, p)| CertifiedCell {
                    labels: release.table.labels(b.cell),
                    quantity: match p.measure {
                        None => "persons".to_string(),
                        Some(k) => format!("sum_{}", release.table.measures[k]),
                    },
                    lower: b.lower,
                    upper: b.upper,
                    required_lower: p.lower,
                    required_upper: p.upper,
                })
                .collect(),
        },
        rounding: match release.request.rounding_base {
            Some(b) => format!(
                "released counts rounded to the nearest multiple of {b} after suppression (margins are rounded independently and may not add up)"
            ),
            None => "none".into(),
        },
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Refuses an output path whose format the gate does not write.
pub(crate) fn check_output(out: &Path) -> Result<(), DisclosureError> {
    match out.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "csv" | "xlsx" => Ok(()),
        other => Err(DisclosureError::Request(format!(
            "unknown output format '.{other}': use .csv or .xlsx"
        ))),
    }
}

/// The files [`write`] writes for `out`.
pub(crate) fn output_files(out: &Path) -> Vec<PathBuf> {
    if out.extension().and_then(|e| e.to_str()) == Some("csv") {
        vec![
            out.to_path_buf(),
            PathBuf::from(format!("{}.meta.json", out.display())),
        ]
    } else {
        vec![out.to_path_buf()]
    }
}

/// Writes the release: `out` ending in `.csv` (plus `out.meta.json`) or `.xlsx` (sheets
/// table, metadata, audit). Returns the files written.
pub fn write(release: &Release, out: &Path) -> Result<Vec<PathBuf>, DisclosureError> {
    let io = |e: std::io::Error| DisclosureError::Io(format!("{}: {e}", out.display()));
    let (header, lines) = rows(release);
    let meta = metadata(release);
    let meta_json = serde_json::to_string_pretty(&meta).expect("serialisable");
    if meta.audit.result != "passed" {
        return Err(DisclosureError::Audit(
            "the audit did not pass: nothing is released".into(),
        ));
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "csv" => {
            write_csv(out, &header, &lines)?;
            let meta_path = PathBuf::from(format!("{}.meta.json", out.display()));
            std::fs::write(&meta_path, meta_json + "\n").map_err(io)?;
            Ok(vec![out.to_path_buf(), meta_path])
        }
        "xlsx" => {
            let x = |e: rust_xlsxwriter::XlsxError| {
                DisclosureError::Io(format!("{}: {e}", out.display()))
            };
            let mut wb = rust_xlsxwriter::Workbook::new();
            let sheet = wb.add_worksheet();
            sheet.set_name("table").map_err(x)?;
            for (c, h) in header.iter().enumerate() {
                sheet.write_string(0, c as u16, h).map_err(x)?;
            }
            let dims: usize = release
                .table
                .dimensions
                .iter()
                .map(|d| if d.levels.len() > 1 { 2 } else { 1 })
                .sum();
            for (r, l) in lines.iter().enumerate() {
                for (c, v) in l.iter().enumerate() {
                    let row = r as u32 + 1;
                    match v.parse::<f64>() {
                        Ok(n) if c >= dims => sheet.write_number(row, c as u16, n).map_err(x)?,
                        _ => sheet.write_string(row, c as u16, v).map_err(x)?,
                    };
                }
            }
            let sheet = wb.add_worksheet();
            sheet.set_name("metadata").map_err(x)?;
            let value = serde_json::to_value(&meta).expect("serialisable");
            let mut r = 0;
            for (k, v) in value.as_object().expect("object") {
                if k == "audit" {
                    continue;
                }
                sheet.write_string(r, 0, k).map_err(x)?;
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                sheet.write_string(r, 1, text).map_err(x)?;
                r += 1;
            }
            sheet.write_string(r, 0, "audit").map_err(x)?;
            sheet.write_string(r, 1, meta.audit.result).map_err(x)?;
            let sheet = wb.add_worksheet();
            sheet.set_name("audit").map_err(x)?;
            let mut col = 0u16;
            for d in &release.table.dimensions {
                sheet.write_string(0, col, &d.name).map_err(x)?;
                col += 1;
            }
            sheet.write_string(0, col, "lower bound").map_err(x)?;
            sheet.write_string(0, col + 1, "upper bound").map_err(x)?;
            sheet
                .write_string(0, col + 2, "required lower bound at most")
                .map_err(x)?;
            sheet
                .write_string(0, col + 3, "required upper bound at least")
                .map_err(x)?;
            for (r, b) in meta.audit.certificate.iter().enumerate() {
                let row = r as u32 + 1;
                for (c, l) in b.labels.iter().enumerate() {
                    sheet.write_string(row, c as u16, *l).map_err(x)?;
                }
                sheet.write_number(row, col, b.lower).map_err(x)?;
                if b.upper.is_finite() {
                    sheet.write_number(row, col + 1, b.upper).map_err(x)?;
                } else {
                    sheet.write_string(row, col + 1, "unbounded").map_err(x)?;
                }
                sheet
                    .write_number(row, col + 2, b.required_lower)
                    .map_err(x)?;
                sheet
                    .write_number(row, col + 3, b.required_upper)
                    .map_err(x)?;
            }
            wb.save(out).map_err(x)?;
            Ok(vec![out.to_path_buf()])
        }
        other => Err(DisclosureError::Request(format!(
            "unknown output format '.{other}': use .csv or .xlsx"
        ))),
    }
}

/// The raw (unsuppressed) table of a request on the sample, for an account granted raw
/// sample access: written as CSV, logged, never recorded as a release. The population is
/// never available raw.
pub async fn run_raw(
    wh: &Warehouse,
    request: &TableRequest,
    grant: &Grant,
    out: &Path,
) -> Result<PathBuf, DisclosureError> {
    if grant.capability() != Capability::RawSampleTable {
        return Err(DisclosureError::Request(format!(
            "a grant for {} does not open raw sample results",
            grant.capability().describe()
        )));
    }
    let user = grant.email();
    let project = grant.project();
    if out.extension().and_then(|e| e.to_str()) != Some("csv") {
        return Err(DisclosureError::Request(
            "a raw sample table is written as .csv".into(),
        ));
    }
    let Tabulated {
        table,
        source_versions,
        ..
    } = tabulate(wh, request, Source::Sample, &BTreeMap::new()).await?;
    let (header, body) = lines(&table, request, None);
    write_csv(out, &header, &body)?;
    append(
        wh,
        "runs.jsonl",
        serde_json::json!({
            "raw": true,
            "user": user,
            "project": project,
            "requester": grant.organisation(),
            "title": request.title,
            "request_sha256": request.hash(),
            "source": Source::Sample,
            "source_versions": source_versions,
            "created": chrono::Utc::now().to_rfc3339(),
            "files": [out],
            "cells": table.cells.len(),
        }),
    )?;
    Ok(out.to_path_buf())
}

fn write_csv(out: &Path, header: &[String], body: &[Vec<String>]) -> Result<(), DisclosureError> {
    let io = |e: std::io::Error| DisclosureError::Io(format!("{}: {e}", out.display()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).map_err(io)?);
    for line in std::iter::once(header).chain(body.iter().map(Vec::as_slice)) {
        let fields: Vec<String> = line.iter().map(|h| csv_field(h)).collect();
        writeln!(f, "{}", fields.join(",")).map_err(io)?;
    }
    f.flush().map_err(io)
}

/// Appends one JSON line to a file of `WH/releases/`.
fn append(wh: &Warehouse, file: &str, value: serde_json::Value) -> Result<(), DisclosureError> {
    let dir = wh.root().join("releases");
    std::fs::create_dir_all(&dir).map_err(|e| DisclosureError::Io(e.to_string()))?;
    let path = dir.join(file);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| DisclosureError::Io(format!("{}: {e}", path.display())))?;
    writeln!(f, "{value}").map_err(|e| DisclosureError::Io(format!("{}: {e}", path.display())))
}

/// Appends the run to `WH/releases/runs.jsonl` (who, what, when, what left) and the release to
/// the requester's ledger `WH/releases/ledger.jsonl` (every released cell, for later audits).
pub fn record(wh: &Warehouse, release: &Release, files: &[PathBuf]) -> Result<(), DisclosureError> {
    let hidden_units: i64 = release
        .pattern
        .status
        .iter()
        .zip(&release.table.cells)
        .filter(|(s, _)| **s != Status::Released)
        .map(|(_, c)| c.units)
        .sum();
    let run = serde_json::json!({
        "release": release.id,
        "user": release.user,
        "project": release.project,
        "requester": release.request.requester,
        "title": release.request.title,
        "request_sha256": release.request.hash(),
        "source": release.source,
        "created": release.created,
        "files": files,
        "cells": release.table.cells.len(),
        "primary_suppressed": release.pattern.count(Status::Primary),
        "secondary_suppressed": release.pattern.count(Status::Secondary),
        // Information loss, kept inside: the units behind hidden cells (margins included).
        "units_in_hidden_cells": hidden_units,
        "audit_rounds": release.pattern.rounds,
        "audited_against": release.audited_against,
        // Kept inside: which cells would have differenced with which earlier release.
        "differencing": release.differencing.iter().map(|f| serde_json::json!({
            "cell": release.table.labels(f.cell),
            "earlier_releases": f.releases,
            "persons_in_group": f.group,
        })).collect::<Vec<_>>(),
    });
    let (_, lines) = rows(release);
    let ledger = serde_json::json!({
        "release": release.id,
        "requester": release.request.requester,
        "project": release.project,
        "source": release.source,
        "source_versions": release.source_versions,
        "request": release.request,
        "policy": release.policy,
        "created": release.created,
        "status": ledger::encode_status(&release.pattern.status),
        "digest": ledger::digest(&release.table),
        "released_cells": lines,
    });
    append(wh, "runs.jsonl", run)?;
    append(wh, "ledger.jsonl", ledger)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_to_the_nearest_multiple_halves_up() {
        assert_eq!(round_to(0, 5), 0);
        assert_eq!(round_to(7, 5), 5);
        assert_eq!(round_to(8, 5), 10);
        assert_eq!(round_to(12, 5), 10);
        assert_eq!(round_to(13, 1), 13);
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
