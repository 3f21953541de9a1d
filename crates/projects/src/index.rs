//! The Belgian health index (`data/health-index.toml`) and the indexation of the day rates:
//! the rates of year T are the rates of T-1 × index(December T-1) / index(December T-2),
//! rounded to the cent at each year (seed 003 §4, footnote 1), from the 2018 basis.

use crate::money::{Cents, mul_div_round};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The health index shipped with the crate.
pub const HEALTH_INDEX_TOML: &str = include_str!("../data/health-index.toml");

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
}

impl Month {
    /// December of `year`.
    pub fn december(year: i32) -> Month {
        Month { year, month: 12 }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.year, self.month)
    }
}

fn parse_month(s: &str) -> Option<Month> {
    let (y, m) = s.split_once('-')?;
    let year = y.parse().ok().filter(|_| y.len() == 4)?;
    let month = m
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m) && s.len() == 7)?;
    Some(Month { year, month })
}

/// An index value `104.05` as hundredths (10405), exactly.
fn parse_value(s: &str) -> Option<u32> {
    let (i, f) = s.split_once('.')?;
    if f.len() != 2 || i.is_empty() || !i.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(i.parse::<u32>().ok()? * 100 + f.parse::<u32>().ok()?)
}

/// Why the health index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The TOML does not parse.
    #[error("health index file: {0}")]
    Parse(#[from] toml::de::Error),
    /// A month or a value is malformed.
    #[error("health index file: {0}")]
    Invalid(String),
    /// A December needed for the year's rates is not in the file.
    #[error(
        "the health index of {month} is not in the health index file: add it (Statbel publishes it at the end of the month) to quote for {year}"
    )]
    Missing {
        /// The month needed.
        month: Month,
        /// The year quoted.
        year: i32,
    },
    /// A year before the basis year.
    #[error("no rates before the basis year {basis} (asked: {year})")]
    BeforeBasis {
        /// The year asked.
        year: i32,
        /// The basis year.
        basis: i32,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexFile {
    base: String,
    source: String,
    retrieved: String,
    values: BTreeMap<String, String>,
    #[serde(default)]
    checked: BTreeMap<String, String>,
}

/// The health index series (not serialisable as such: its months are map keys; the file is
/// its serialised form).
#[derive(Debug, Clone)]
pub struct HealthIndex {
    /// The base (`2013=100`).
    pub base: String,
    /// Where the values come from.
    pub source: String,
    /// When they were written down.
    pub retrieved: String,
    values: BTreeMap<Month, u32>,
    /// Values checked against an independent publication, with where.
    pub checked: BTreeMap<Month, String>,
}

/// One year's indexation step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexStep {
    /// The year whose rates this step gives.
    pub year: i32,
    /// Index of December of the year before (hundredths).
    pub new: (Month, u32),
    /// Index of December two years before (hundredths).
    pub old: (Month, u32),
}

/// The day rates of a year and how they were reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedRates {
    /// The year.
    pub year: i32,
    /// Analyst day rate.
    pub analyst: Cents,
    /// Expert day rate.
    pub expert: Cents,
    /// The steps from the basis year, oldest first.
    pub steps: Vec<IndexStep>,
}

impl HealthIndex {
    /// The series shipped with the crate.
    pub fn builtin() -> HealthIndex {
        HealthIndex::from_toml(HEALTH_INDEX_TOML)
            .expect("the shipped health index is valid (tested)")
    }

    /// Parses and validates a health index file.
    pub fn from_toml(text: &str) -> Result<HealthIndex, IndexError> {
        let f: IndexFile = toml::from_str(text)?;
        let mut values = BTreeMap::new();
        for (k, v) in &f.values {
            let m = parse_month(k)
                .ok_or_else(|| IndexError::Invalid(format!("`{k}` is not a month (YYYY-MM)")))?;
            let x = parse_value(v).filter(|x| *x > 0).ok_or_else(|| {
                IndexError::Invalid(format!(
                    "{k}: `{v}` is not an index value with two decimals (104.05)"
                ))
            })?;
            values.insert(m, x);
        }
        let mut checked = BTreeMap::new();
        for (k, v) in f.checked {
            let m = parse_month(&k)
                .filter(|m| values.contains_key(m))
                .ok_or_else(|| {
                    IndexError::Invalid(format!("checked `{k}` is not a month of the series"))
                })?;
            checked.insert(m, v);
        }
        if f.base.trim().is_empty() || f.source.trim().is_empty() {
            return Err(IndexError::Invalid("base and source must be given".into()));
        }
        Ok(HealthIndex {
            base: f.base,
            source: f.source,
            retrieved: f.retrieved,
            values,
            checked,
        })
    }

    /// The index of a month, in hundredths.
    pub fn value(&self, m: Month) -> Option<u32> {
        self.values.get(&m).copied()
    }

    /// Every month in the file, oldest first, with its value in hundredths.
    pub fn months(&self) -> impl Iterator<Item = (Month, u32)> + '_ {
        self.values.iter().map(|(m, v)| (*m, *v))
    }

    /// The day rates of `year` from the basis rates of `basis_year`.
    pub fn rates(
        &self,
        basis_year: i32,
        analyst: Cents,
        expert: Cents,
        year: i32,
    ) -> Result<IndexedRates, IndexError> {
        if year < basis_year {
            return Err(IndexError::BeforeBasis {
                year,
                basis: basis_year,
            });
        }
        let mut r = IndexedRates {
            year: basis_year,
            analyst,
            expert,
            steps: Vec::new(),
        };
        for y in basis_year + 1..=year {
            let get = |m: Month| self.value(m).ok_or(IndexError::Missing { month: m, year });
            let (new_m, old_m) = (Month::december(y - 1), Month::december(y - 2));
            let (new, old) = (get(new_m)?, get(old_m)?);
            r.analyst = Cents(mul_div_round(r.analyst.0, i64::from(new), i64::from(old)));
            r.expert = Cents(mul_div_round(r.expert.0, i64::from(new), i64::from(old)));
            r.year = y;
            r.steps.push(IndexStep {
                year: y,
                new: (new_m, new),
                old: (old_m, old),
            });
        }
        Ok(r)
    }
}

/// An index value in hundredths, written `104.05`.
pub(crate) fn index_text(x: u32) -> String {
    format!("{}.{:02}", x / 100, x % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_series_has_every_december_from_2016() {
        let hi = HealthIndex::builtin();
        let last = hi.months().last().unwrap().0;
        for y in 2016..=last.year {
            assert!(hi.value(Month::december(y)).is_some(), "December {y}");
        }
        assert_eq!(hi.value(Month::december(2016)), Some(10405));
        assert_eq!(hi.base, "2013=100");
    }

    #[test]
    fn the_basis_year_keeps_the_seeds_rates() {
        let r = HealthIndex::builtin()
            .rates(2018, Cents(59_700), Cents(106_200), 2018)
            .unwrap();
        assert_eq!((r.analyst, r.expert), (Cents(59_700), Cents(106_200)));
        assert!(r.steps.is_empty());
    }

    #[test]
    fn each_year_is_indexed_on_december_against_the_december_before() {
        let hi = HealthIndex::builtin();
        // 2019: × 108.45 / 106.15 (December 2018 against December 2017).
        // analyst 597 × 108.45 / 106.15 = 609.9355… → € 609.94; expert 1 062 → € 1 085.01 (1 085.0108…)
        let r = hi.rates(2018, Cents(59_700), Cents(106_200), 2019).unwrap();
        assert_eq!((r.analyst, r.expert), (Cents(60_994), Cents(108_501)));
        assert_eq!(r.steps[0].new, (Month::december(2018), 10845));
        assert_eq!(r.steps[0].old, (Month::december(2017), 10615));
        // 2020: 609.94 × 109.18 / 108.45 = 614.0456… → € 614.05 (each year from the published
        // rate of the year before, rounded to the cent).
        let r = hi.rates(2018, Cents(59_700), Cents(106_200), 2020).unwrap();
        assert_eq!(r.analyst, Cents(61_405));
        assert_eq!(r.steps.len(), 2);
    }

    #[test]
    fn a_missing_december_says_which_month_to_add() {
        let hi = HealthIndex::builtin();
        let last = hi.months().last().unwrap().0.year;
        let e = hi
            .rates(2018, Cents(59_700), Cents(106_200), last + 2)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the health index of {}-12 is not in the health index file: add it (Statbel publishes it at the end of the month) to quote for {}",
                last + 1,
                last + 2
            )
        );
        assert!(matches!(
            hi.rates(2018, Cents(1), Cents(1), 2017),
            Err(IndexError::BeforeBasis { .. })
        ));
    }

    #[test]
    fn malformed_files_are_refused() {
        let base = "base = \"2013=100\"\nsource = \"s\"\nretrieved = \"r\"\n[values]\n";
        assert!(HealthIndex::from_toml(&format!("{base}\"2016-12\" = \"104.05\"\n")).is_ok());
        for bad in [
            "\"2016-13\" = \"104.05\"",
            "\"2016-12\" = \"104.5\"",
            "\"2016-12\" = \"0.00\"",
            "\"16-12\" = \"104.05\"",
        ] {
            assert!(
                HealthIndex::from_toml(&format!("{base}{bad}\n")).is_err(),
                "{bad}"
            );
        }
    }
}
