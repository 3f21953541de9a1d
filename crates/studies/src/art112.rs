//! Article 112 result files (`aim study art112`, docs/studies.md): the standard anonymous
//! result file for a medicine that a pharmaceutical company receives under article 112
//! (seed 002 §2): reimbursed packages, defined daily doses, patients and amounts, per period,
//! by age band, sex and region, for a list of ATC codes or CNK products.
//!
//! A request is data (`examples/art112-request.toml`); a batch is a file of several. Each
//! period is one table through the gate (a person is one row of a period's table: the gate
//! counts distinct coded persons, and a person of two periods would break its margins), each
//! audited against the others and every earlier release; the result files are the gate's.

use crate::StudyError;
use aim_disclosure::{DimensionSpec, MeasureSpec, Statistic, TableRequest, Unit};
use serde::Deserialize;

/// One Article 112 request: a medicine (ATC codes and/or CNK products) over periods.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// An identifier for the files (`[a-z0-9-]`).
    pub id: String,
    /// What the file is about (the medicine), shown in the report.
    pub title: String,
    /// The company the result file is for (shown in the report).
    pub company: String,
    /// ATC codes or prefixes (level 1 to 5) of the medicine.
    #[serde(default)]
    pub atc: Vec<String>,
    /// CNK product codes.
    #[serde(default)]
    pub cnk: Vec<String>,
    /// The years.
    pub years: Vec<i32>,
    /// `year` (default) or `quarter`.
    #[serde(default)]
    pub granularity: Granularity,
}

/// The period of a table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One table per year.
    #[default]
    Year,
    /// One table per quarter.
    Quarter,
}

/// A batch: the year's list of requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The requests.
    pub request: Vec<Request>,
}

/// Age bands of the result file (age reached in the year, PATI's `age`).
pub const AGE_BANDS: [(&str, i32, i32); 6] = [
    ("0-17", 0, 17),
    ("18-44", 18, 44),
    ("45-64", 45, 64),
    ("65-74", 65, 74),
    ("75-84", 75, 84),
    ("85+", 85, 200),
];

fn is_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 12 && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Request {
    /// Checks a request: an identifier, at least one medicine code, codes that are codes,
    /// years.
    pub fn check(&self) -> Result<(), StudyError> {
        let bad = |m: String| {
            Err(StudyError::Definition(format!(
                "request '{}': {m}",
                self.id
            )))
        };
        if self.id.is_empty()
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return bad("the id must be lower-case letters, digits and '-'".into());
        }
        if self.atc.is_empty() && self.cnk.is_empty() {
            return bad("name the medicine: atc codes, cnk products, or both".into());
        }
        if let Some(c) = self.atc.iter().chain(&self.cnk).find(|c| !is_code(c)) {
            return bad(format!("'{c}' is not an ATC or CNK code"));
        }
        if self.years.is_empty() || self.years.iter().any(|y| !(1990..=2100).contains(y)) {
            return bad("give the years (e.g. years = [2024])".into());
        }
        Ok(())
    }

    /// The periods, in order: `2024` or `2024Q1` … `2024Q4`.
    pub fn periods(&self) -> Vec<(i32, Option<u32>)> {
        let mut out = Vec::new();
        for &y in &self.years {
            match self.granularity {
                Granularity::Year => out.push((y, None)),
                Granularity::Quarter => out.extend((1..=4).map(|q| (y, Some(q)))),
            }
        }
        out
    }

    /// The table request of one period: one row per patient with its age band, sex and
    /// region (PATI of the year) and the sums of its deliveries of the medicine.
    pub fn table(&self, year: i32, quarter: Option<u32>) -> TableRequest {
        let mut medicine: Vec<String> = self
            .atc
            .iter()
            .map(|a| format!("f.atc LIKE '{a}%'"))
            .collect();
        if !self.cnk.is_empty() {
            let list: Vec<String> = self.cnk.iter().map(|c| format!("'{c}'")).collect();
            medicine.push(format!("f.cnk IN ({})", list.join(", ")));
        }
        let (from, to) = match quarter {
            None => (format!("{year}-01-01"), format!("{}-01-01", year + 1)),
            Some(q) => {
                let start = 3 * (q - 1) + 1;
                let end = if q == 4 {
                    format!("{}-01-01", year + 1)
                } else {
                    format!("{year}-{:02}-01", start + 3)
                };
                (format!("{year}-{start:02}-01"), end)
            }
        };
        let mut bands = String::from("CASE");
        for (label, lo, hi) in AGE_BANDS {
            bands.push_str(&format!(" WHEN p.age BETWEEN {lo} AND {hi} THEN '{label}'"));
        }
        bands.push_str(" END");
        let sql = format!(
            "SELECT f.person_id, {bands} AS age_band, p.sex, m.region, \
             sum(f.packages) AS packages, sum(f.ddd) AS ddd, \
             sum(CAST(f.amount_reimbursed AS DOUBLE)) AS reimbursed \
             FROM faru f JOIN pati p ON p.person_id = f.person_id AND p.year = {year} \
             JOIN ref_municipality_2025 m ON p.municipality_2025 = m.nis \
             WHERE ({}) AND f.delivery_date >= DATE '{from}' AND f.delivery_date < DATE '{to}' \
             GROUP BY f.person_id, p.age, p.sex, m.region",
            medicine.join(" OR ")
        );
        let dim = |name: &str, level: &str, total: &str| DimensionSpec {
            name: name.into(),
            levels: vec![level.into()],
            total: total.into(),
        };
        let sum = |c: &str| MeasureSpec {
            column: c.into(),
            statistics: vec![Statistic::Sum],
        };
        TableRequest {
            title: format!(
                "Article 112: {} ({}), {}",
                self.title,
                self.company,
                period_label(year, quarter)
            ),
            requester: String::new(),
            sql,
            unit: Unit::One("person_id".into()),
            dimension: vec![
                dim("region", "region", "Belgium"),
                dim("age band", "age_band", "all ages"),
                dim("sex", "sex", "all"),
            ],
            measure: vec![sum("packages"), sum("ddd"), sum("reimbursed")],
            rounding_base: None,
            provider: None,
            contributor: None,
        }
    }
}

/// `2024` or `2024Q3`.
pub fn period_label(year: i32, quarter: Option<u32>) -> String {
    match quarter {
        None => year.to_string(),
        Some(q) => format!("{year}Q{q}"),
    }
}

/// Reads a request file: one request (its fields at the top) or a batch (`[[request]]`).
pub fn parse(text: &str) -> Result<Vec<Request>, StudyError> {
    let requests = match toml::from_str::<Batch>(text) {
        Ok(b) => b.request,
        Err(batch_error) => match toml::from_str::<Request>(text) {
            Ok(r) => vec![r],
            Err(e) => {
                return Err(StudyError::Definition(format!(
                    "neither one request ({e}) nor a batch of [[request]] ({batch_error})"
                )));
            }
        },
    };
    let mut ids = std::collections::BTreeSet::new();
    for r in &requests {
        r.check()?;
        if !ids.insert(r.id.clone()) {
            return Err(StudyError::Definition(format!(
                "two requests have the id '{}'",
                r.id
            )));
        }
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "id = \"insulin-glargine\"\ntitle = \"Insulin glargine\"\ncompany = \"Pharma SA\"\natc = [\"A10AE04\"]\nyears = [2024]\n";

    #[test]
    fn one_request_or_a_batch_parses_and_each_period_is_a_valid_table() {
        let one = parse(ONE).unwrap();
        assert_eq!(one.len(), 1);
        let batch = parse(&format!(
            "[[request]]\n{ONE}\n[[request]]\nid = \"metformin\"\ntitle = \"Metformin\"\ncompany = \"Generic NV\"\natc = [\"A10BA02\"]\ncnk = [\"1234567\"]\nyears = [2023, 2024]\ngranularity = \"quarter\"\n"
        ))
        .unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1].periods().len(), 8);
        for r in &batch {
            for (y, q) in r.periods() {
                let t = r.table(y, q);
                TableRequest::parse(&toml::to_string(&t).unwrap()).unwrap();
                assert!(t.sql.contains("GROUP BY f.person_id"));
            }
        }
        let q3 = batch[1].table(2024, Some(3));
        assert!(q3.sql.contains("DATE '2024-07-01'") && q3.sql.contains("DATE '2024-10-01'"));
        assert!(q3.sql.contains("f.cnk IN ('1234567')"));
    }

    #[test]
    fn a_request_without_medicine_or_with_an_injected_code_is_refused() {
        assert!(parse(&ONE.replace("atc = [\"A10AE04\"]\n", "")).is_err());
        assert!(parse(&ONE.replace("A10AE04", "A10' OR 1=1 --")).is_err());
        assert!(parse(&ONE.replace("insulin-glargine", "Insulin Glargine")).is_err());
        assert!(parse(&format!("[[request]]\n{ONE}\n[[request]]\n{ONE}")).is_err());
    }
}
