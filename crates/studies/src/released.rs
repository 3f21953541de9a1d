//! What the gate released, read back from the file it wrote: a study's figures are computed
//! from these cells only, so no report, chart or data file can carry a value the gate did not
//! release (a hidden cell reads as `None`, whatever the gate knew).

use crate::StudyError;
use std::path::Path;

/// One row of a released table: its labels (one per dimension column, in file order) and its
/// values, `None` where the gate hid the cell.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasedRow {
    /// Labels by column name (dimension columns and their `… level` columns).
    pub labels: Vec<(String, String)>,
    /// Distinct persons in the cell.
    pub persons: Option<i64>,
    /// The released statistics (`sum_<column>`, `mean_<column>`), by column name.
    pub values: Vec<(String, Option<f64>)>,
}

impl ReleasedRow {
    /// The label of a dimension column.
    pub fn label(&self, column: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }

    /// A released statistic (`None`: hidden, or no such column).
    pub fn value(&self, column: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(c, _)| c == column)
            .and_then(|(_, v)| *v)
    }
}

/// Reads a table the gate wrote as CSV (docs/disclosure.md, "Output").
pub fn read(path: &Path) -> Result<Vec<ReleasedRow>, StudyError> {
    let bad = |what: String| StudyError::Released {
        file: path.to_path_buf(),
        what,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    let persons_at = header
        .iter()
        .position(|h| h == "persons")
        .ok_or_else(|| bad("no `persons` column".into()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let field = |i: usize| record.get(i).unwrap_or("");
        let labels = (0..persons_at)
            .map(|i| (header[i].clone(), field(i).to_string()))
            .collect();
        let persons = number(field(persons_at))
            .map_err(|v| bad(format!("persons '{v}'")))?
            .map(|n| n.round() as i64);
        let mut values = Vec::new();
        for (i, name) in header.iter().enumerate().skip(persons_at + 1) {
            let v = number(field(i)).map_err(|v| bad(format!("{name} '{v}'")))?;
            values.push((name.clone(), v));
        }
        rows.push(ReleasedRow {
            labels,
            persons,
            values,
        });
    }
    Ok(rows)
}

/// A released number, or `None` for a hidden cell.
fn number(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t == aim_disclosure::SMALL_CELL || t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>().map(Some).map_err(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_cells_read_as_none_and_released_ones_as_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t.csv");
        std::fs::write(
            &f,
            format!(
                "area,area level,group,persons,sum_spending\nBelgium,total,all,120,5000.50\n03000,area,P95-99,{0},{0}\n",
                aim_disclosure::SMALL_CELL
            ),
        )
        .unwrap();
        let rows = read(&f).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].label("area"), Some("Belgium"));
        assert_eq!(rows[0].persons, Some(120));
        assert_eq!(rows[0].value("sum_spending"), Some(5000.5));
        assert_eq!(rows[1].label("group"), Some("P95-99"));
        assert_eq!(rows[1].persons, None);
        assert_eq!(rows[1].value("sum_spending"), None);
    }
}
