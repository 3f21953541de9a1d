//! A table request: a file (TOML) naming a SQL query over the warehouse or the sample that
//! returns one row per unit, the dimensions with their hierarchies, the measures, and options.
//!
//! ```toml
//! title = "Reimbursed spending by region, province and sex, 2024"
//! requester = "KCE"
//! sql = """
//! SELECT p.person_id, m.region, coalesce(m.province, '-') AS province, p.sex, p.reimbursed_total
//! FROM pati p JOIN ref_municipality_2025 m ON p.municipality_2025 = m.nis WHERE p.year = 2024
//! """
//! [[dimension]]
//! name = "geography"
//! levels = ["region", "province"]      # coarsest first
//! total = "Belgium"
//! [[dimension]]
//! name = "sex"
//! levels = ["sex"]
//! total = "all"
//! [[measure]]
//! column = "reimbursed_total"
//! statistics = ["sum", "mean"]
//! ```

use crate::DisclosureError;
use serde::{Deserialize, Serialize};

/// One dimension of the table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DimensionSpec {
    /// Name shown in the output.
    pub name: String,
    /// Columns of the query, coarsest level first.
    pub levels: Vec<String>,
    /// Label of the total (every dimension carries its total).
    #[serde(default = "default_total")]
    pub total: String,
}

fn default_total() -> String {
    "Total".into()
}

/// A statistic of a measure.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// Sum over the cell's units.
    Sum,
    /// Mean over the cell's units.
    Mean,
}

/// A summed or averaged column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    /// Column of the query (numeric).
    pub column: String,
    /// What to publish.
    #[serde(default = "default_stats")]
    pub statistics: Vec<Statistic>,
}

fn default_stats() -> Vec<Statistic> {
    vec![Statistic::Sum]
}

/// Unit column(s): a string or a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Unit {
    /// One column.
    One(String),
    /// Several columns (e.g. person and year).
    Many(Vec<String>),
}

impl Unit {
    /// The columns.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Unit::One(c) => vec![c.clone()],
            Unit::Many(v) => v.clone(),
        }
    }
}

/// A table request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableRequest {
    /// What the table shows.
    pub title: String,
    /// Who asked. Optional: a release through the gate is recorded under its project's
    /// requester organisation, which replaces this.
    #[serde(default)]
    pub requester: String,
    /// The query: one row per unit.
    pub sql: String,
    /// The unit counted. The gate decides it: distinct coded persons (`person_id`), whatever
    /// the query does; a request may only name `person_id` here (older requests did).
    #[serde(default = "default_unit")]
    pub unit: Unit,
    /// The dimensions (1 to 6).
    pub dimension: Vec<DimensionSpec>,
    /// Measures (optional).
    #[serde(default)]
    pub measure: Vec<MeasureSpec>,
    /// Round released counts to this base after suppression (e.g. 5); none by default.
    #[serde(default)]
    pub rounding_base: Option<u32>,
    /// The provider rule (optional): cells describing too few providers, or dominated by
    /// one, are hidden.
    #[serde(default)]
    pub provider: Option<ProviderSpec>,
    /// The contributor rule on the persons behind sums and means: always applied, with the
    /// gate's defaults unless the request makes it stricter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contributor: Option<crate::contributor::ContributorRule>,
}

/// The provider rule of a request: a second query giving, for each unit, the providers
/// behind one of the request's measures and their amounts.
///
/// ```toml
/// [provider]
/// sql = "SELECT person_id, provider_id AS provider, sum(reimbursed) AS amount FROM gzss GROUP BY 1, 2"
/// measure = "reimbursed_total"  # the request's measure these amounts make up
/// min_providers = 3             # fewer providers behind a cell: hidden
/// dominance_n = 1               # (n, k) dominance: the n largest providers …
/// dominance_k = 85.0            # … make more than k % of the cell's amount: hidden
/// protection_percent = 15.0     # an attacker must not estimate the hidden amount closer
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// Query returning the unit column(s), `provider` and `amount` (one row per unit and
    /// provider, or more: they are summed).
    pub sql: String,
    /// The request's measure that the amounts make up.
    pub measure: String,
    /// A cell with 1 to `min_providers − 1` providers is hidden.
    #[serde(default = "default_min_providers")]
    pub min_providers: usize,
    /// n of the (n, k) dominance rule.
    #[serde(default = "default_dominance_n")]
    pub dominance_n: usize,
    /// k (percent) of the (n, k) dominance rule.
    #[serde(default = "default_dominance_k")]
    pub dominance_k: f64,
    /// How closely an attacker may estimate a hidden provider cell's amount (percent).
    #[serde(default = "default_protection_percent")]
    pub protection_percent: f64,
}

fn default_min_providers() -> usize {
    3
}
fn default_dominance_n() -> usize {
    1
}
fn default_dominance_k() -> f64 {
    85.0
}
fn default_protection_percent() -> f64 {
    15.0
}

fn default_unit() -> Unit {
    Unit::One("person_id".into())
}

impl TableRequest {
    /// Parses and checks a request.
    pub fn parse(text: &str) -> Result<TableRequest, DisclosureError> {
        let r: TableRequest =
            toml::from_str(text).map_err(|e| DisclosureError::Request(e.to_string()))?;
        if r.requester.trim() == crate::ledger::ATLAS {
            return Err(DisclosureError::Request(format!(
                "requester '{}' is the Atlas's own name: only the agency publishes the Atlas",
                crate::ledger::ATLAS
            )));
        }
        if r.dimension.is_empty() || r.dimension.len() > 6 {
            return Err(DisclosureError::Request(
                "a table has 1 to 6 dimensions".into(),
            ));
        }
        for d in &r.dimension {
            if d.levels.is_empty() {
                return Err(DisclosureError::Request(format!(
                    "dimension {} has no level column",
                    d.name
                )));
            }
        }
        if let Some(p) = &r.provider {
            if !r.measure.iter().any(|m| m.column == p.measure) {
                return Err(DisclosureError::Request(format!(
                    "the provider rule names measure '{}', which is not among the request's measures",
                    p.measure
                )));
            }
            if p.dominance_n == 0
                || !(0.0..=100.0).contains(&p.dominance_k)
                || p.protection_percent <= 0.0
            {
                return Err(DisclosureError::Request(
                    "provider rule: dominance_n ≥ 1, 0 ≤ dominance_k ≤ 100 and protection_percent > 0"
                        .into(),
                ));
            }
        }
        if r.unit.columns() != ["person_id"] {
            return Err(DisclosureError::Request(format!(
                "unit = {:?}: the gate decides the unit; a table counts distinct coded persons \
                 (the query's person_id column), and no other unit is declared in the gate yet",
                r.unit.columns()
            )));
        }
        if let Some(c) = &r.contributor
            && !c.at_least_default()
        {
            return Err(DisclosureError::Request(format!(
                "the contributor rule may be made stricter, not weaker: dominance_n ≥ {}, \
                 dominance_k ≤ {}, p_percent ≥ {}, protection_percent ≥ {}",
                crate::contributor::ContributorRule::DEFAULT.dominance_n,
                crate::contributor::ContributorRule::DEFAULT.dominance_k,
                crate::contributor::ContributorRule::DEFAULT.p_percent,
                crate::contributor::ContributorRule::DEFAULT.protection_percent
            )));
        }
        if r.rounding_base == Some(0) {
            return Err(DisclosureError::Request(
                "rounding_base must be at least 1".into(),
            ));
        }
        Ok(r)
    }

    /// SHA-256 of the request's canonical JSON (its identity in the ledger).
    pub fn hash(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            serde_json::to_vec(self).expect("serialisable"),
        ))
    }
}
