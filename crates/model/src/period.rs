//! Delivery periods: calendar quarters such as `2024Q2`.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A calendar quarter, the period one delivery covers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Period {
    /// Calendar year.
    pub year: i32,
    /// Quarter, 1 to 4.
    pub quarter: u8,
}

impl Period {
    /// Builds a period; panics on a quarter outside 1..=4 (use `parse` for input).
    pub fn new(year: i32, quarter: u8) -> Self {
        assert!((1..=4).contains(&quarter), "quarter {quarter}");
        Period { year, quarter }
    }

    /// First day of the quarter.
    pub fn start(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, u32::from(self.quarter - 1) * 3 + 1, 1).expect("valid")
    }

    /// Last day of the quarter.
    pub fn end(self) -> NaiveDate {
        self.next().start().pred_opt().expect("valid")
    }

    /// True when `d` falls inside the quarter.
    pub fn contains(self, d: NaiveDate) -> bool {
        d >= self.start() && d <= self.end()
    }

    /// The quarter containing `d`.
    pub fn of(d: NaiveDate) -> Self {
        Period::new(d.year(), (d.month0() / 3 + 1) as u8)
    }

    /// The following quarter.
    pub fn next(self) -> Self {
        if self.quarter == 4 {
            Period::new(self.year + 1, 1)
        } else {
            Period::new(self.year, self.quarter + 1)
        }
    }

    /// The preceding quarter.
    pub fn previous(self) -> Self {
        if self.quarter == 1 {
            Period::new(self.year - 1, 4)
        } else {
            Period::new(self.year, self.quarter - 1)
        }
    }

    /// The four quarters of a year.
    pub fn quarters(year: i32) -> [Period; 4] {
        [1, 2, 3, 4].map(|q| Period::new(year, q))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Q{}", self.year, self.quarter)
    }
}

/// Text that is not a period like `2024Q2`.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a period: expected a year and quarter such as 2024Q2")]
pub struct BadPeriod(pub String);

impl FromStr for Period {
    type Err = BadPeriod;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeriod(s.to_string());
        let (y, q) = s.trim().split_once(['Q', 'q']).ok_or_else(bad)?;
        let year: i32 = y.parse().map_err(|_| bad())?;
        let quarter: u8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&quarter) || !(1900..=2200).contains(&year) {
            return Err(bad());
        }
        Ok(Period { year, quarter })
    }
}

impl TryFrom<String> for Period {
    type Error = BadPeriod;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Period> for String {
    fn from(p: Period) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_bounds() {
        let p: Period = "2024Q1".parse().unwrap();
        assert_eq!(p.start(), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        assert_eq!(p.end(), NaiveDate::from_ymd_opt(2024, 3, 31).unwrap());
        let q4: Period = "2023Q4".parse().unwrap();
        assert_eq!(q4.end(), NaiveDate::from_ymd_opt(2023, 12, 31).unwrap());
        assert_eq!(q4.next(), p);
        assert_eq!(p.previous(), q4);
        assert_eq!(
            Period::of(NaiveDate::from_ymd_opt(2024, 5, 31).unwrap()).to_string(),
            "2024Q2"
        );
    }

    #[test]
    fn rejects_bad_text() {
        for s in ["2024", "2024Q5", "2024Q0", "Q1", "abcdQ1", ""] {
            assert!(s.parse::<Period>().is_err(), "{s}");
        }
    }
}
