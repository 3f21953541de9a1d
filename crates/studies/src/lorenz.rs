//! The concentration of spending (`aim study lorenz`, docs/studies.md): Lorenz curves, Gini
//! coefficients and top shares of reimbursed spending per person, by year, for Belgium and
//! by area (region, insurer), for the total and for spending groups.
//!
//! The definition is data (`definitions/lorenz.toml`). For each measure, breakdown and year
//! the study asks the gate for one table: the persons of each area sorted by their spending
//! and cut into quantile groups (the definition's bounds, in percent of the persons), with
//! each group's persons and summed spending. The points of the curve are those groups' sums,
//! never single persons; the gate hides a group that is small or that one person dominates
//! (then the area's curve is not drawn). Everything here is computed from the released file.

use crate::StudyError;
use crate::released::ReleasedRow;
use aim_disclosure::{DimensionSpec, MeasureSpec, Statistic, TableRequest, Unit};
use serde::Deserialize;

/// The built-in definition.
pub const DEFINITION_TOML: &str = include_str!("../definitions/lorenz.toml");

/// The study's definition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// French title.
    pub title_fr: String,
    /// Dutch title.
    pub title_nl: String,
    /// Upper bounds of the quantile groups, percent of the persons, increasing, ending at 100.
    pub bounds: Vec<u32>,
    /// Top shares to report (percent of the persons), each one `100 − bound` of a bound.
    pub top_shares: Vec<u32>,
    /// The measures (PATI columns).
    pub measure: Vec<Measure>,
    /// The breakdowns.
    pub breakdown: Vec<Breakdown>,
}

/// A spending measure: a PATI column, per person and year.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// The PATI column.
    pub column: String,
    /// French label.
    pub fr: String,
    /// Dutch label.
    pub nl: String,
    /// The breakdowns it is computed for.
    pub breakdowns: Vec<String>,
}

/// How persons are split into areas, each with its own curve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakdown {
    /// Identifier (`belgium`, `region`, `insurer`).
    pub id: String,
    /// French label.
    pub fr: String,
    /// Dutch label.
    pub nl: String,
    /// The area of a person: an SQL expression over `p` (PATI) and `m`
    /// (`ref_municipality_2025`); none: the whole country.
    #[serde(default)]
    pub area: Option<String>,
}

/// The label of the whole country, the total of every breakdown.
pub const BELGIUM: &str = "Belgium";
/// The label of all persons of an area (the quantile dimension's total).
pub const ALL_PERSONS: &str = "all persons";

impl Definition {
    /// Parses and checks a definition.
    pub fn parse(text: &str) -> Result<Definition, StudyError> {
        let d: Definition =
            toml::from_str(text).map_err(|e| StudyError::Definition(e.to_string()))?;
        d.check()?;
        Ok(d)
    }

    /// The built-in definition.
    pub fn builtin() -> Definition {
        Definition::parse(DEFINITION_TOML).expect("the built-in Lorenz definition is valid")
    }

    fn check(&self) -> Result<(), StudyError> {
        let bad = |m: String| Err(StudyError::Definition(m));
        if self.bounds.last() != Some(&100) || self.bounds.windows(2).any(|w| w[0] >= w[1]) {
            return bad("bounds must increase and end at 100".into());
        }
        if self.bounds.first().is_none_or(|b| *b == 0) {
            return bad("the first bound must be above 0".into());
        }
        for t in &self.top_shares {
            if *t == 0 || *t >= 100 || !self.bounds.contains(&(100 - t)) {
                return bad(format!(
                    "top share {t} %: the bounds must include {} so that it is a sum of groups",
                    100u32.saturating_sub(*t)
                ));
            }
        }
        let sql_name = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        };
        for m in &self.measure {
            if !sql_name(&m.column) {
                return bad(format!(
                    "measure column '{}' is not a column name",
                    m.column
                ));
            }
            for b in &m.breakdowns {
                if !self.breakdown.iter().any(|d| &d.id == b) {
                    return bad(format!("measure {}: unknown breakdown '{b}'", m.column));
                }
            }
        }
        for b in &self.breakdown {
            if !sql_name(&b.id) {
                return bad(format!("breakdown id '{}' is not a name", b.id));
            }
            if b.area.as_deref().is_some_and(|a| !sql_name(a)) {
                return bad(format!(
                    "breakdown {}: the area must be a column such as m.region or p.insurer",
                    b.id
                ));
            }
        }
        Ok(())
    }

    /// The label of the quantile group ending at `bounds[i]` (`P00-05`, …, `P99-100`).
    pub fn group_label(&self, i: usize) -> String {
        let from = if i == 0 { 0 } else { self.bounds[i - 1] };
        format!("P{from:02}-{:02}", self.bounds[i])
    }

    /// A breakdown by id.
    pub fn breakdown(&self, id: &str) -> Option<&Breakdown> {
        self.breakdown.iter().find(|b| b.id == id)
    }

    /// The table request for a measure, breakdown and year: one row per person with its
    /// area, its quantile group within the area (sorted by spending, ties by coded
    /// identifier) and its spending.
    pub fn request(&self, measure: &Measure, breakdown: &Breakdown, year: i32) -> TableRequest {
        let col = &measure.column;
        let (area, join) = match &breakdown.area {
            Some(a) if a.starts_with("m.") => (
                a.clone(),
                " JOIN ref_municipality_2025 m ON p.municipality_2025 = m.nis",
            ),
            Some(a) => (a.clone(), ""),
            None => (format!("'{BELGIUM}'"), ""),
        };
        let mut case = String::from("CASE");
        for (i, b) in self.bounds.iter().enumerate() {
            if *b == 100 {
                case.push_str(&format!(" ELSE '{}' END", self.group_label(i)));
            } else {
                case.push_str(&format!(
                    " WHEN rn * 100 <= {b} * n THEN '{}'",
                    self.group_label(i)
                ));
            }
        }
        let sql = format!(
            "WITH base AS (SELECT p.person_id, CAST({area} AS VARCHAR) AS area, COALESCE(p.{col}, 0) AS spending \
             FROM pati p{join} WHERE p.year = {year} AND p.quarters_insured > 0), \
             ranked AS (SELECT person_id, area, spending, \
             row_number() OVER (PARTITION BY area ORDER BY spending, person_id) AS rn, \
             count(*) OVER (PARTITION BY area) AS n FROM base) \
             SELECT person_id, area, {case} AS quantile_group, spending FROM ranked"
        );
        let mut dimension = Vec::new();
        if breakdown.area.is_some() {
            dimension.push(DimensionSpec {
                name: "area".into(),
                levels: vec!["area".into()],
                total: BELGIUM.into(),
            });
        }
        dimension.push(DimensionSpec {
            name: "quantile group".into(),
            levels: vec!["quantile_group".into()],
            total: ALL_PERSONS.into(),
        });
        TableRequest {
            title: format!(
                "Lorenz: {} by quantile group of persons, {}, {year}",
                measure.column, breakdown.id
            ),
            requester: String::new(),
            sql,
            unit: Unit::One("person_id".into()),
            dimension,
            measure: vec![MeasureSpec {
                column: "spending".into(),
                statistics: vec![Statistic::Sum],
            }],
            rounding_base: None,
            provider: None,
            contributor: None,
        }
    }
}

/// A point of a Lorenz curve: the share of the persons (x) and of the spending (y) up to a
/// group's upper bound, cumulated over the area's released groups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Cumulative share of the persons (0–1).
    pub persons: f64,
    /// Cumulative share of the spending (0–1).
    pub spending: f64,
}

/// One area's result, computed from the released cells.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaResult {
    /// The area's label as released (`Belgium`, a region code, an insurer code).
    pub area: String,
    /// Persons in the area (released total), if released.
    pub persons: Option<i64>,
    /// Total spending of the area, if released.
    pub total: Option<f64>,
    /// The curve from (0, 0) to (1, 1), when every group of the area was released.
    pub curve: Option<Vec<Point>>,
    /// Gini coefficient of the grouped curve (trapezoids), with the curve.
    pub gini: Option<f64>,
    /// Top shares (percent of persons → share of spending), each when its groups and the
    /// total were released.
    pub top_shares: Vec<(u32, Option<f64>)>,
    /// Groups the gate hid.
    pub hidden_groups: usize,
}

/// The Gini coefficient of a curve through (0, 0), …, (1, 1): 1 − Σ (xₖ − xₖ₋₁)(yₖ + yₖ₋₁).
pub fn gini(curve: &[Point]) -> f64 {
    let mut area = 0.0;
    let mut prev = Point {
        persons: 0.0,
        spending: 0.0,
    };
    for p in curve {
        area += (p.persons - prev.persons) * (p.spending + prev.spending);
        prev = *p;
    }
    1.0 - area
}

/// The results of every area of a released Lorenz table.
pub fn results(def: &Definition, rows: &[ReleasedRow]) -> Vec<AreaResult> {
    let area_of = |r: &ReleasedRow| r.label("area").unwrap_or(BELGIUM).to_string();
    // In a table by area, the `Belgium` row sums each area's quantile groups: it is no
    // quantile group of Belgium, so it gets no curve (Belgium has its own table).
    let by_area = rows.iter().any(|r| r.label("area").is_some());
    let mut areas: Vec<String> = Vec::new();
    for r in rows {
        let a = area_of(r);
        let margin = by_area && a == BELGIUM;
        if !margin && !areas.contains(&a) {
            areas.push(a);
        }
    }
    areas
        .into_iter()
        .map(|area| {
            let cell = |group: &str| {
                rows.iter()
                    .find(|r| area_of(r) == area && r.label("quantile group") == Some(group))
            };
            let total_row = cell(ALL_PERSONS);
            let persons = total_row.and_then(|r| r.persons);
            let total = total_row.and_then(|r| r.value("sum_spending"));
            let groups: Vec<(Option<i64>, Option<f64>)> = (0..def.bounds.len())
                .map(|i| {
                    cell(&def.group_label(i))
                        .map(|r| (r.persons, r.value("sum_spending")))
                        .unwrap_or((Some(0), Some(0.0)))
                })
                .collect();
            let hidden_groups = groups
                .iter()
                .filter(|(p, s)| p.is_none() || s.is_none())
                .count();
            let curve = match (persons, total) {
                (Some(n), Some(t)) if n > 0 && t > 0.0 && hidden_groups == 0 => {
                    let (mut cp, mut cs) = (0i64, 0.0);
                    Some(
                        groups
                            .iter()
                            .map(|(p, s)| {
                                cp += p.unwrap_or(0);
                                cs += s.unwrap_or(0.0);
                                Point {
                                    persons: cp as f64 / n as f64,
                                    spending: cs / t,
                                }
                            })
                            .collect::<Vec<_>>(),
                    )
                }
                _ => None,
            };
            let top_shares = def
                .top_shares
                .iter()
                .map(|top| {
                    let from = def
                        .bounds
                        .iter()
                        .position(|b| *b == 100 - top)
                        .expect("checked: the bound exists")
                        + 1;
                    let share = match total {
                        Some(t) if t > 0.0 => groups[from..]
                            .iter()
                            .map(|(_, s)| *s)
                            .sum::<Option<f64>>()
                            .map(|s| s / t),
                        _ => None,
                    };
                    (*top, share)
                })
                .collect();
            AreaResult {
                gini: curve.as_deref().map(gini),
                area,
                persons,
                total,
                curve,
                top_shares,
                hidden_groups,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A row of a table by area, or of Belgium's own table (no area column) for `BELGIUM`.
    fn row(area: &str, group: &str, persons: Option<i64>, sum: Option<f64>) -> ReleasedRow {
        let mut labels = vec![("quantile group".to_string(), group.to_string())];
        if area != BELGIUM {
            labels.insert(0, ("area".into(), area.into()));
        }
        ReleasedRow {
            labels,
            persons,
            values: vec![("sum_spending".into(), sum)],
        }
    }

    fn small() -> Definition {
        Definition::parse(
            "title_fr = \"t\"\ntitle_nl = \"t\"\nbounds = [50, 80, 100]\ntop_shares = [20, 50]\n\
             [[measure]]\ncolumn = \"reimbursed_total\"\nfr = \"t\"\nnl = \"t\"\nbreakdowns = [\"belgium\"]\n\
             [[breakdown]]\nid = \"belgium\"\nfr = \"B\"\nnl = \"B\"\n",
        )
        .unwrap()
    }

    #[test]
    fn equal_spending_gives_the_diagonal_and_a_gini_of_zero() {
        let def = small();
        let rows = vec![
            row(BELGIUM, ALL_PERSONS, Some(10), Some(100.0)),
            row(BELGIUM, "P00-50", Some(5), Some(50.0)),
            row(BELGIUM, "P50-80", Some(3), Some(30.0)),
            row(BELGIUM, "P80-100", Some(2), Some(20.0)),
        ];
        let r = &results(&def, &rows)[0];
        assert!(r.gini.unwrap().abs() < 1e-12);
        assert_eq!(r.top_shares, vec![(20, Some(0.2)), (50, Some(0.5))]);
    }

    #[test]
    fn the_margin_of_a_table_by_area_is_no_area() {
        let def = small();
        let margin = |group: &str, persons, sum| ReleasedRow {
            labels: vec![
                ("area".into(), BELGIUM.into()),
                ("quantile group".into(), group.into()),
            ],
            ..row(BELGIUM, group, persons, sum)
        };
        let rows = vec![
            margin(ALL_PERSONS, Some(10), Some(100.0)),
            margin("P00-50", Some(5), Some(50.0)),
            row("02000", ALL_PERSONS, Some(10), Some(100.0)),
            row("02000", "P00-50", Some(5), Some(50.0)),
        ];
        let areas: Vec<String> = results(&def, &rows).into_iter().map(|a| a.area).collect();
        assert_eq!(areas, ["02000"]);
    }

    #[test]
    fn a_hidden_group_leaves_no_curve_and_no_share_that_needs_it() {
        let def = small();
        let rows = vec![
            row(BELGIUM, ALL_PERSONS, Some(10), Some(100.0)),
            row(BELGIUM, "P00-50", Some(5), Some(10.0)),
            row(BELGIUM, "P50-80", None, None),
            row(BELGIUM, "P80-100", Some(2), Some(60.0)),
        ];
        let r = &results(&def, &rows)[0];
        assert_eq!(r.curve, None);
        assert_eq!(r.gini, None);
        assert_eq!(r.hidden_groups, 1);
        // The top 20 % is one released group; the top 50 % needs the hidden one.
        assert_eq!(r.top_shares, vec![(20, Some(0.6)), (50, None)]);
    }

    #[test]
    fn the_builtin_definition_is_valid_and_its_requests_parse() {
        let def = Definition::builtin();
        for m in &def.measure {
            for b in &m.breakdowns {
                let r = def.request(m, def.breakdown(b).unwrap(), 2024);
                let text = toml::to_string(&r).unwrap();
                TableRequest::parse(&text).unwrap();
            }
        }
        assert_eq!(def.group_label(0), "P00-05");
        assert_eq!(def.group_label(def.bounds.len() - 1), "P99-100");
    }

    #[test]
    fn a_top_share_off_the_bounds_is_refused() {
        let text = DEFINITION_TOML.replace("top_shares = [1, 5, 10, 20]", "top_shares = [3]");
        assert!(Definition::parse(&text).is_err());
    }

    proptest! {
        /// Against a direct computation on persons: the grouped Gini is at most the exact
        /// one, within one group width of it, and never below 0.
        #[test]
        fn the_grouped_gini_brackets_the_exact_one(
            spending in proptest::collection::vec(0u32..10_000, 40..400),
        ) {
            let def = small();
            let mut s: Vec<f64> = spending.iter().map(|v| *v as f64).collect();
            s.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let n = s.len();
            let total: f64 = s.iter().sum();
            prop_assume!(total > 0.0);
            let mut rows = vec![row(BELGIUM, ALL_PERSONS, Some(n as i64), Some(total))];
            let mut start = 0;
            for (i, b) in def.bounds.iter().enumerate() {
                let end = (1..=n).filter(|rn| rn * 100 <= *b as usize * n).max().unwrap_or(0);
                let end = if *b == 100 { n } else { end };
                rows.push(row(BELGIUM, &def.group_label(i), Some((end - start) as i64), Some(s[start..end].iter().sum())));
                start = end;
            }
            let r = &results(&def, &rows)[0];
            let grouped = r.gini.unwrap();
            let exact = {
                let mut acc = 0.0;
                for (i, v) in s.iter().enumerate() {
                    acc += (2.0 * (i as f64 + 1.0) - n as f64 - 1.0) * v;
                }
                acc / (n as f64 * total)
            };
            prop_assert!(grouped >= -1e-12);
            prop_assert!(grouped <= exact + 1e-9, "grouped {} exact {}", grouped, exact);
            prop_assert!(exact - grouped <= 0.5 + 1e-9);
        }
    }
}
