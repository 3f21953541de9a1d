//! Computing the Atlas: for every indicator and year, persons and events by 2025 municipality,
//! sex and single year of age from PATI; the table of counts by area (municipality → district →
//! province → region → Belgium) × sex × age group × outcome goes through the disclosure gate;
//! the figures of its released cells get crude rates, and for all ages direct age–sex
//! standardised rates, with 95 % intervals and a comparison with Belgium.

use crate::AtlasError;
use crate::indicator::{Indicator, Kind};
use crate::standardise::{self, Estimate, STRATA, Stratum};
use aim_disclosure::{
    DimensionSpec, Gate, MeasureSpec, Policy, Published, Statistic, TableRequest,
};
use aim_model::geography::Geography;
use aim_warehouse::{Warehouse, query, tables};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The Atlas's age groups (inclusive bounds).
pub const AGE_GROUPS: [(&str, u16, u16); 5] = [
    ("0-17", 0, 17),
    ("18-44", 18, 44),
    ("45-64", 45, 64),
    ("65-74", 65, 74),
    ("75+", 75, u16::MAX),
];

/// The code of every total: all sexes, all ages.
pub const ALL: &str = "all";

/// The geographic levels, coarsest last (as in URLs and files).
pub const LEVELS: [&str; 5] = ["municipality", "district", "province", "region", "belgium"];

/// Belgium's code.
pub const BELGIUM: &str = "BE";

/// The age group of an age.
pub fn age_group(age: u16) -> &'static str {
    AGE_GROUPS
        .iter()
        .find(|(_, lo, hi)| (*lo..=*hi).contains(&age))
        .map(|g| g.0)
        .unwrap_or(AGE_GROUPS[AGE_GROUPS.len() - 1].0)
}

/// How an area compares with Belgium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Belgium's value is below the area's 95 % interval.
    Higher,
    /// Belgium's value is above the area's 95 % interval.
    Lower,
    /// Belgium's value is inside the area's 95 % interval.
    Similar,
}

/// One figure of the Atlas: an indicator in one area, year, sex and age group. A figure whose
/// counts the gate did not release carries no number at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Indicator id.
    pub indicator: String,
    /// Year.
    pub year: i32,
    /// Level (municipality, district, province, region, belgium).
    pub level: String,
    /// Area code (NIS; `BE` for Belgium).
    pub area: String,
    /// `F`, `M` or `all`.
    pub sex: String,
    /// An age group or `all`.
    pub age_group: String,
    /// Whether the gate released the figure's counts.
    pub released: bool,
    /// Persons in the denominator.
    pub persons: Option<i64>,
    /// Persons in the numerator (proportions) or the summed value (means, euros).
    pub numerator: Option<f64>,
    /// Crude rate (in the indicator's unit).
    pub crude: Option<f64>,
    /// Lower bound of the crude rate's 95 % interval.
    pub crude_low: Option<f64>,
    /// Upper bound.
    pub crude_high: Option<f64>,
    /// Directly age–sex standardised rate (all ages only).
    pub standardised: Option<f64>,
    /// Lower bound of its 95 % interval.
    pub standardised_low: Option<f64>,
    /// Upper bound.
    pub standardised_high: Option<f64>,
    /// The area against Belgium (standardised rates for all ages, crude rates for an age
    /// group); none for Belgium itself.
    pub vs_belgium: Option<Comparison>,
}

/// The gate's outcome on one indicator and year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateSummary {
    /// Indicator id.
    pub indicator: String,
    /// Year.
    pub year: i32,
    /// Cells in the table (margins included).
    pub cells: usize,
    /// Small cells.
    pub primary: usize,
    /// Cells hidden to protect them.
    pub secondary: usize,
    /// Whether every small cell's derivable interval covers its protection.
    pub audit_passed: bool,
}

/// What the Atlas was computed from, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// When (UTC, RFC 3339).
    pub created: String,
    /// PATI's version.
    pub pati_version: u64,
    /// SHA-256 of the indicator definitions.
    pub definitions_sha256: String,
    /// The indicators.
    pub indicators: Vec<Indicator>,
    /// Years with figures.
    pub years: Vec<i32>,
    /// For each year, the year of the Belgian population used as the standard.
    pub standard_population_year: BTreeMap<i32, i32>,
    /// Persons counted nowhere because their municipality is not in the 2025 list.
    pub persons_without_municipality: BTreeMap<i32, i64>,
    /// The gate's outcome per indicator and year.
    pub gate: Vec<GateSummary>,
    /// The policy applied.
    pub policy: Policy,
    /// Whether figures are broken down by age group (else age group `all` only).
    #[serde(default)]
    pub age_detail: bool,
}

/// The computed Atlas.
#[derive(Debug, Clone)]
pub struct Atlas {
    /// What it was computed from.
    pub manifest: Manifest,
    /// Every figure, released or not.
    pub figures: Vec<Figure>,
}

/// PATI aggregated for one indicator: per (year, municipality, sex, age) the stratum.
type Row = (i32, String, String, u16, Stratum);
type Aggregate = Vec<Row>;
async fn aggregate(
    ctx: &datafusion::execution::context::SessionContext,
    ind: &Indicator,
) -> Result<Aggregate, AtlasError> {
    let sql = format!(
        "SELECT CAST(year AS BIGINT) AS year, CAST(municipality_2025 AS VARCHAR) AS m, \
         CAST(sex AS VARCHAR) AS sex, CAST(age AS BIGINT) AS age, \
         CAST(count(*) AS DOUBLE) AS n, sum(x) AS s, sum(x * x) AS ss \
         FROM (SELECT year, municipality_2025, sex, age, {x} AS x FROM pati \
               WHERE ({den}) AND age BETWEEN {lo} AND {hi}) \
         GROUP BY 1, 2, 3, 4",
        x = ind.per_person_sql(),
        den = ind.denominator,
        lo = ind.age_min,
        hi = ind.age_max
    );
    let batches = query::run_read_only(ctx, &sql)
        .await
        .map_err(|e| AtlasError::Definition(format!("indicator {}: {e}", ind.id)))?;
    let mut out = Vec::new();
    for b in &batches {
        let col = |i: usize, t: &DataType| {
            cast(b.column(i), t).map_err(|e| AtlasError::Definition(e.to_string()))
        };
        let year = col(0, &DataType::Int64)?;
        let m = col(1, &DataType::Utf8)?;
        let sex = col(2, &DataType::Utf8)?;
        let age = col(3, &DataType::Int64)?;
        let n = col(4, &DataType::Float64)?;
        let s = col(5, &DataType::Float64)?;
        let ss = col(6, &DataType::Float64)?;
        let (year, m, sex, age) = (
            year.as_primitive::<Int64Type>(),
            m.as_string::<i32>(),
            sex.as_string::<i32>(),
            age.as_primitive::<Int64Type>(),
        );
        let (n, s, ss) = (
            n.as_primitive::<Float64Type>(),
            s.as_primitive::<Float64Type>(),
            ss.as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            if year.is_null(i) || age.is_null(i) {
                continue;
            }
            out.push((
                year.value(i) as i32,
                if m.is_null(i) { "-" } else { m.value(i) }.to_string(),
                if sex.is_null(i) { "-" } else { sex.value(i) }.to_string(),
                age.value(i).clamp(0, i64::from(u16::MAX)) as u16,
                Stratum {
                    n: n.value(i),
                    sum: if s.is_null(i) { 0.0 } else { s.value(i) },
                    sum_sq: if ss.is_null(i) { 0.0 } else { ss.value(i) },
                },
            ));
        }
    }
    Ok(out)
}

/// The standard population's weight of every stratum for ages in [lo, hi]: Belgium's
/// population of `year` (or the nearest year published) by sex and single year of age.
fn standard_weights(geo: &Geography, year: i32, lo: u16, hi: u16) -> ([f64; STRATA], i32) {
    let years: Vec<i32> = geo.population.iter().map(|c| c.year).collect();
    let (first, last) = (
        years.iter().copied().min().unwrap_or(year),
        years.iter().copied().max().unwrap_or(year),
    );
    let used = year.clamp(first, last);
    let mut w = [0.0; STRATA];
    for c in geo.population.iter().filter(|c| c.year == used) {
        if (lo..=hi).contains(&c.age) {
            let sex = if c.sex == 'F' { "F" } else { "M" };
            if let Some(s) = standardise::stratum(c.age, sex) {
                w[s] += c.population as f64;
            }
        }
    }
    (w, used)
}

/// Computes every figure of every indicator and year: by area and sex, and with `age_detail`
/// by age group too (a table five times larger for the gate: on small or sparse data its
/// audit takes long).
pub async fn compute(
    wh: &Warehouse,
    geo: &Geography,
    indicators: &[Indicator],
    age_detail: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Atlas, AtlasError> {
    let pati = tables::open(wh, "pati")
        .await
        .map_err(|e| AtlasError::Warehouse(e.to_string()))?
        .ok_or_else(|| {
            AtlasError::Warehouse(
                "the warehouse has no PATI table: run `aim build` before the Atlas".into(),
            )
        })?;
    let pati_version = pati.version().unwrap_or(0);
    let ctx = query::session(wh, &BTreeMap::from([("pati".to_string(), pati_version)]))
        .await
        .map_err(|e| AtlasError::Warehouse(e.to_string()))?;
    // Municipality (2025) → its path: region, province, district, municipality.
    let paths: HashMap<&str, [&str; 4]> = geo
        .municipalities_2025
        .iter()
        .map(|m| {
            (
                m.nis.as_str(),
                [
                    m.region.as_str(),
                    m.province.as_str(),
                    m.district.as_str(),
                    m.nis.as_str(),
                ],
            )
        })
        .collect();
    let policy = Policy::POPULATION;
    let mut figures = Vec::new();
    let mut gate_summaries = Vec::new();
    let mut years_seen = std::collections::BTreeSet::new();
    let mut standard_year = BTreeMap::new();
    let mut without = BTreeMap::new();
    // The queries first (one per indicator), then the gate on every indicator and year,
    // shared out among the cores (each table is independent).
    let mut aggregates = Vec::with_capacity(indicators.len());
    for ind in indicators {
        aggregates.push(aggregate(&ctx, ind).await?);
    }
    let mut jobs: Vec<(&Indicator, i32, Vec<&Row>)> = Vec::new();
    for (ind, rows) in indicators.iter().zip(&aggregates) {
        let mut by_year: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
        for r in rows {
            by_year.entry(r.0).or_default().push(r);
        }
        for (year, rows) in by_year {
            years_seen.insert(year);
            jobs.push((ind, year, rows));
        }
    }
    // Every table leaves through the gate's one door: recorded in the release ledger, and
    // audited against every earlier release and the Atlas's other tables.
    let total = jobs.len();
    let mut gate = Gate::open(wh).map_err(|e| AtlasError::Gate(e.to_string()))?;
    let requests: Vec<TableRequest> = jobs
        .iter()
        .map(|(ind, year, _)| gate_request(ind, *year, age_detail))
        .collect();
    let count = std::sync::atomic::AtomicUsize::new(0);
    let report = std::sync::Mutex::new(progress);
    let published = gate
        .publish(&requests, "atlas", &|r: &TableRequest| {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            (report.lock().expect("progress"))(&format!("[{n}/{total}] {}", r.title));
        })
        .await
        .map_err(|e| AtlasError::Gate(e.to_string()))?;
    for ((ind, year, rows), table) in jobs.iter().zip(&published) {
        let (weights, used) = standard_weights(geo, *year, ind.age_min, ind.age_max);
        let (fig, summary, lost) =
            year_figures(ind, *year, rows, &paths, &weights, table, age_detail)?;
        standard_year.insert(*year, used);
        *without.entry(*year).or_insert(0) += lost;
        figures.extend(fig);
        gate_summaries.push(summary);
    }
    let definitions_sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            serde_json::to_vec(indicators).expect("serialisable"),
        ))
    };
    // Persons without a municipality are counted once per indicator: report the largest.
    let persons_without_municipality = without
        .into_iter()
        .map(|(y, n)| (y, n / indicators.len().max(1) as i64))
        .collect();
    Ok(Atlas {
        manifest: Manifest {
            created: chrono::Utc::now().to_rfc3339(),
            pati_version,
            definitions_sha256,
            indicators: indicators.to_vec(),
            years: years_seen.into_iter().collect(),
            standard_population_year: standard_year,
            persons_without_municipality,
            gate: gate_summaries,
            policy,
            age_detail,
        },
        figures,
    })
}

/// The gate's request for one indicator and year: one row per person of the denominator with
/// its area, sex, age group and outcome (proportions) or value (means), as the gate tabulates
/// and records it (the ledger replays it to audit later releases against the Atlas).
pub fn gate_request(ind: &Indicator, year: i32, age_detail: bool) -> TableRequest {
    let mut groups = String::from("CASE");
    for (code, _, hi) in &AGE_GROUPS[..AGE_GROUPS.len() - 1] {
        groups.push_str(&format!(" WHEN p.age <= {hi} THEN '{code}'"));
    }
    groups.push_str(&format!(
        " ELSE '{}' END",
        AGE_GROUPS[AGE_GROUPS.len() - 1].0
    ));
    let proportion = ind.kind == Kind::Proportion;
    let sql = format!(
        "SELECT p.person_id, m.region, m.province, m.district, m.nis AS municipality, \
         CAST(p.sex AS VARCHAR) AS sex, {groups} AS age_group, \
         CASE WHEN p.x >= 0.5 THEN 'yes' ELSE 'no' END AS outcome, \
         p.x AS value, p.x * p.x AS value_sq \
         FROM (SELECT person_id, municipality_2025, sex, age, {x} AS x FROM pati \
               WHERE year = {year} AND ({den}) AND age BETWEEN {lo} AND {hi} \
               AND CAST(sex AS VARCHAR) IN ('F', 'M')) p \
         JOIN ref_municipality_2025 m ON CAST(p.municipality_2025 AS VARCHAR) = m.nis",
        x = ind.per_person_sql(),
        den = ind.denominator,
        lo = ind.age_min,
        hi = ind.age_max
    );
    let dim = |name: &str, levels: &[&str], total: &str| DimensionSpec {
        name: name.into(),
        levels: levels.iter().map(|l| l.to_string()).collect(),
        total: total.into(),
    };
    let mut dimension = vec![
        dim(
            "geography",
            &["region", "province", "district", "municipality"],
            BELGIUM,
        ),
        dim("sex", &["sex"], ALL),
    ];
    if age_detail {
        dimension.push(dim("age", &["age_group"], ALL));
    }
    if proportion {
        dimension.push(dim("outcome", &["outcome"], ALL));
    }
    let measure = if proportion {
        Vec::new()
    } else {
        ["value", "value_sq"]
            .iter()
            .map(|c| MeasureSpec {
                column: c.to_string(),
                statistics: vec![Statistic::Sum],
            })
            .collect()
    };
    TableRequest {
        title: format!("Atlas: {} {year}", ind.id),
        requester: aim_disclosure::ATLAS_REQUESTER.into(),
        sql,
        unit: aim_disclosure::Unit::One("person_id".into()),
        dimension,
        measure,
        rounding_base: None,
        provider: None,
        contributor: None,
    }
}

/// The figures of one indicator and year.
fn year_figures(
    ind: &Indicator,
    year: i32,
    rows: &[&Row],
    paths: &HashMap<&str, [&str; 4]>,
    weights: &[f64; STRATA],
    table: &Published,
    age_detail: bool,
) -> Result<(Vec<Figure>, GateSummary, i64), AtlasError> {
    let proportion = ind.kind == Kind::Proportion;
    // The strata of every area (for standardisation).
    let mut strata: HashMap<(usize, &str), [Stratum; STRATA]> = HashMap::new();
    let mut lost = 0i64;
    for (_, m, sex, age, s) in rows {
        let (Some(path), Some(st)) = (paths.get(m.as_str()), standardise::stratum(*age, sex))
        else {
            lost += s.n as i64;
            continue;
        };
        // Level index: 0 Belgium, 1 region, 2 province, 3 district, 4 municipality.
        let mut areas: Vec<(usize, &str)> = vec![(0, BELGIUM)];
        areas.extend(path.iter().enumerate().map(|(i, c)| (i + 1, *c)));
        for a in areas {
            strata.entry(a).or_insert([Stratum::default(); STRATA])[st].add(s);
        }
    }
    let outcome_dim = if age_detail { 3 } else { 2 };
    let summary = GateSummary {
        indicator: ind.id.clone(),
        year,
        cells: table.outcome.cells,
        primary: table.outcome.primary,
        secondary: table.outcome.secondary + table.outcome.differencing + table.outcome.contributor,
        audit_passed: true,
    };
    let outcome_node = |code: &str| -> Option<usize> {
        table
            .dimensions
            .get(outcome_dim)
            .and_then(|d| d.nodes.iter().position(|n| n.level == 1 && n.code == code))
    };
    let (yes, no) = (outcome_node("yes"), outcome_node("no"));
    let factor = ind.unit.factor();
    let geo_dim = &table.dimensions[0];
    let mut out: Vec<(Figure, Option<Estimate>)> = Vec::new();
    for c in 0..table.cells.len() {
        let nodes = table.nodes(c);
        if proportion && nodes[outcome_dim] != 0 {
            continue;
        }
        let g = &geo_dim.nodes[nodes[0]];
        let level = LEVELS[4 - g.level];
        let sex = table.dimensions[1].nodes[nodes[1]].code.clone();
        let group = if age_detail {
            table.dimensions[2].nodes[nodes[2]].code.clone()
        } else {
            ALL.to_string()
        };
        let cell_of = |outcome: Option<usize>| {
            outcome.map(|o| {
                let mut n = nodes.clone();
                n[outcome_dim] = o;
                table.index(&n)
            })
        };
        let parts = [Some(c), cell_of(yes), cell_of(no)];
        let released = parts.iter().flatten().all(|&p| table.cells[p].is_some());
        let mut f = Figure {
            indicator: ind.id.clone(),
            year,
            level: level.to_string(),
            area: g.code.clone(),
            sex,
            age_group: group,
            released,
            persons: None,
            numerator: None,
            crude: None,
            crude_low: None,
            crude_high: None,
            standardised: None,
            standardised_low: None,
            standardised_high: None,
            vs_belgium: None,
        };
        if !released {
            out.push((f, None));
            continue;
        }
        let cell = |p: usize| table.cells[p].as_ref().expect("released");
        let n = cell(c).units;
        let stratum = if proportion {
            let events = parts[1].map_or(0, |y| cell(y).units) as f64;
            Stratum {
                n: n as f64,
                sum: events,
                sum_sq: events,
            }
        } else {
            Stratum {
                n: n as f64,
                sum: cell(c).sums[0],
                sum_sq: cell(c).sums[1],
            }
        };
        f.persons = Some(n);
        f.numerator = Some(stratum.sum);
        let crude = standardise::crude(&stratum, ind.kind);
        if let Some(e) = crude {
            f.crude = Some(e.value * factor);
            f.crude_low = Some(e.low * factor);
            f.crude_high = Some(e.high * factor);
        }
        let mut reference = crude;
        if f.age_group == ALL
            && let Some(st) = strata.get(&(g.level, g.code.as_str()))
        {
            let range = match f.sex.as_str() {
                "F" => 0..18,
                "M" => 18..STRATA,
                _ => 0..STRATA,
            };
            let std = standardise::direct(&st[range.clone()], &weights[range], ind.kind);
            if let Some(e) = std {
                f.standardised = Some(e.value * factor);
                f.standardised_low = Some(e.low * factor);
                f.standardised_high = Some(e.high * factor);
            }
            reference = std;
        }
        out.push((f, reference));
    }
    // Compare with Belgium: the same sex and age group.
    let belgium: HashMap<(String, String), f64> = out
        .iter()
        .filter(|(f, e)| f.level == "belgium" && e.is_some())
        .map(|(f, e)| ((f.sex.clone(), f.age_group.clone()), e.expect("some").value))
        .collect();
    let figures = out
        .into_iter()
        .map(|(mut f, e)| {
            if let (Some(e), Some(be)) = (e, belgium.get(&(f.sex.clone(), f.age_group.clone())))
                && f.level != "belgium"
            {
                f.vs_belgium = Some(if *be < e.low {
                    Comparison::Higher
                } else if *be > e.high {
                    Comparison::Lower
                } else {
                    Comparison::Similar
                });
            }
            f
        })
        .collect();
    Ok((figures, summary, lost))
}
