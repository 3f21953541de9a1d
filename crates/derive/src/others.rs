//! PATI variables from the other source databases (docs/derived-data.md, "From the other
//! databases"): work-incapacity days and type (ITAO), the Katz category (KATS), the flat-fee
//! medical-house enrolment (CHTA) and the chapter IV authorisation flags (CHIV). Each is
//! read from the year's files only, like the rest of the year.

use crate::DeriveError;
use crate::definitions::Definitions;
use crate::population::IdMap;
use crate::scan::{self, InputFile};
use deltalake::arrow::array::Array;

/// The year's files of the other databases.
#[derive(Debug, Clone, Default)]
pub struct OtherInputs {
    /// CHIV files.
    pub chiv: Vec<InputFile>,
    /// ITAO files.
    pub itao: Vec<InputFile>,
    /// KATS files.
    pub kats: Vec<InputFile>,
    /// CHTA files.
    pub chta: Vec<InputFile>,
}

/// Katz categories in rank order; index + 1 is stored (0 = no assessment).
pub const KATZ: [&str; 5] = ["O", "A", "B", "C", "Cd"];

/// The values per person (index in the year's population).
#[derive(Debug, Clone, Default)]
pub struct OtherVars {
    /// Days of primary incapacity and of invalidity in the year.
    pub incapacity_days: Vec<[i32; 2]>,
    /// Latest Katz assessment: (date, category index + 1); 0 = none.
    pub katz: Vec<(i32, u8)>,
    /// Enrolled under the flat fee in a medical house in a quarter of the year.
    pub flat_fee: Vec<bool>,
    /// Chapter IV flags (bit = index of `[[chapter_iv]]` in pati.toml).
    pub chapter_iv: Vec<u32>,
    /// Rows of persons not in the year's population, per table.
    pub rows_person_not_in_population: u64,
}

impl OtherVars {
    /// The incapacity type: `invalidity` when any invalidity day, `primary` when any
    /// primary-incapacity day, else `none`.
    pub fn incapacity_type(&self, p: usize) -> &'static str {
        match self.incapacity_days[p] {
            [_, i] if i > 0 => "invalidity",
            [d, _] if d > 0 => "primary",
            _ => "none",
        }
    }

    /// The Katz category of the latest assessment, or `none`.
    pub fn katz_category(&self, p: usize) -> &'static str {
        match self.katz[p].1 {
            0 => "none",
            k => KATZ[usize::from(k) - 1],
        }
    }
}

fn quarter_bounds(period: &str) -> Option<(i32, i32)> {
    let year: i32 = period.get(..4)?.parse().ok()?;
    let q: u32 = period.get(5..6)?.parse().ok()?;
    let start = crate::year::days_since_epoch(year, 3 * (q - 1) + 1, 1);
    let end = if q == 4 {
        crate::year::days_since_epoch(year + 1, 1, 1) - 1
    } else {
        crate::year::days_since_epoch(year, 3 * q + 1, 1) - 1
    };
    Some((start, end))
}

/// The person's position in the year's population, counting those not in it.
fn person_of(index: &IdMap<u32>, id: &str, lost: &mut u64) -> Option<usize> {
    let p = scan::coded(id).and_then(|v| index.get(&v).copied());
    if p.is_none() {
        *lost += 1;
    }
    p.map(|p| p as usize)
}

/// Merges intervals and counts the days they cover.
fn covered_days(mut v: Vec<(i32, i32)>) -> i32 {
    v.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(i32, i32)> = None;
    for (a, b) in v {
        match cur {
            Some((ca, cb)) if a <= cb + 1 => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca + 1;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    if let Some((a, b)) = cur {
        total += b - a + 1;
    }
    total
}

/// Adds each person's covered days of primary incapacity (`intervals[0]`) and invalidity
/// (`intervals[1]`) to `days` (by the person's index); returns the number of persons unknown
/// to `index`.
fn add_incapacity_days(
    intervals: [IdMap<Vec<(i32, i32)>>; 2],
    index: &IdMap<u32>,
    days: &mut [[i32; 2]],
) -> u64 {
    let mut lost = 0;
    for (kind, by_person) in intervals.into_iter().enumerate() {
        for (person, v) in by_person {
            match index.get(&person) {
                Some(&p) => days[p as usize][kind] += covered_days(v),
                None => lost += 1,
            }
        }
    }
    lost
}

/// Computes the other databases' PATI values of `year` for the persons of `index`.
pub fn compute(
    year: i32,
    inputs: &OtherInputs,
    index: &IdMap<u32>,
    persons: usize,
    defs: &Definitions,
) -> Result<OtherVars, DeriveError> {
    let mut out = OtherVars {
        incapacity_days: vec![[0; 2]; persons],
        katz: vec![(i32::MIN, 0); persons],
        flat_fee: vec![false; persons],
        chapter_iv: vec![0; persons],
        rows_person_not_in_population: 0,
    };
    let (y0, y1) = (
        crate::year::days_since_epoch(year, 1, 1),
        crate::year::days_since_epoch(year + 1, 1, 1) - 1,
    );
    let mut lost = 0u64;

    // ITAO: each row covers its episode's days inside its quarter.
    // One map per kind (primary incapacity, invalidity), keyed by the coded person.
    let mut intervals: [IdMap<Vec<(i32, i32)>>; 2] = Default::default();
    for batches in scan::scan(
        &inputs.itao,
        &["person_id", "start_date", "end_date", "kind"],
        Vec::new,
        |acc: &mut Vec<(String, String, i32, Option<i32>, bool)>, f, b| {
            let (ids, starts, ends, kinds) = (
                scan::strings(b, "person_id")?,
                scan::dates(b, "start_date")?,
                scan::dates(b, "end_date")?,
                scan::strings(b, "kind")?,
            );
            for i in 0..b.num_rows() {
                acc.push((
                    ids.value(i).to_string(),
                    f.period.clone(),
                    starts.value(i),
                    (!ends.is_null(i)).then(|| ends.value(i)),
                    kinds.value(i) == "I",
                ));
            }
            Ok(())
        },
    )? {
        for (id, period, start, end, invalidity) in batches {
            let Some((qs, qe)) = quarter_bounds(&period) else {
                continue;
            };
            let a = start.max(qs).max(y0);
            let b = end.unwrap_or(qe).min(qe).min(y1);
            if a > b {
                continue;
            }
            let Some(v) = scan::coded(&id) else { continue };
            intervals[usize::from(invalidity)]
                .entry(v)
                .or_default()
                .push((a, b));
        }
    }
    lost += add_incapacity_days(intervals, index, &mut out.incapacity_days);

    // KATS: the latest assessment of the year (ties: the most dependent category).
    for rows in scan::scan(
        &inputs.kats,
        &["person_id", "assessment_date", "category"],
        Vec::new,
        |acc: &mut Vec<(String, i32, u8)>, _, b| {
            let (ids, dates, cats) = (
                scan::strings(b, "person_id")?,
                scan::dates(b, "assessment_date")?,
                scan::strings(b, "category")?,
            );
            for i in 0..b.num_rows() {
                let k = KATZ
                    .iter()
                    .position(|c| *c == cats.value(i))
                    .map_or(0, |k| k as u8 + 1);
                acc.push((ids.value(i).to_string(), dates.value(i), k));
            }
            Ok(())
        },
    )? {
        for (id, date, k) in rows {
            if let Some(p) = person_of(index, &id, &mut lost)
                && k > 0
                && (date, k) > out.katz[p]
            {
                out.katz[p] = (date, k);
            }
        }
    }

    // CHTA: enrolled under the flat fee in any quarter of the year.
    for rows in scan::scan(
        &inputs.chta,
        &["person_id", "flat_fee"],
        Vec::new,
        |acc: &mut Vec<String>, _, b| {
            let (ids, flat) = (
                scan::strings(b, "person_id")?,
                scan::booleans(b, "flat_fee")?,
            );
            for i in 0..b.num_rows() {
                if flat.value(i) {
                    acc.push(ids.value(i).to_string());
                }
            }
            Ok(())
        },
    )? {
        for id in rows {
            if let Some(p) = person_of(index, &id, &mut lost) {
                out.flat_fee[p] = true;
            }
        }
    }

    // CHIV: authorisations decided in the year, per flag of pati.toml.
    for rows in scan::scan(
        &inputs.chiv,
        &["person_id", "atc", "decision"],
        Vec::new,
        |acc: &mut Vec<(String, String)>, _, b| {
            let (ids, atc, decision) = (
                scan::strings(b, "person_id")?,
                scan::strings(b, "atc")?,
                scan::strings(b, "decision")?,
            );
            for i in 0..b.num_rows() {
                if decision.value(i) == "A" {
                    acc.push((ids.value(i).to_string(), atc.value(i).to_string()));
                }
            }
            Ok(())
        },
    )? {
        for (id, atc) in rows {
            let Some(p) = person_of(index, &id, &mut lost) else {
                continue;
            };
            for (k, flag) in defs.chapter_iv.iter().enumerate() {
                if flag.matches(&atc) {
                    out.chapter_iv[p] |= 1 << k;
                }
            }
        }
    }
    out.rows_person_not_in_population = lost;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_overlapping_intervals_count_once() {
        assert_eq!(covered_days(vec![]), 0);
        assert_eq!(covered_days(vec![(1, 10)]), 10);
        assert_eq!(covered_days(vec![(1, 10), (5, 12), (20, 20)]), 13);
        assert_eq!(
            covered_days(vec![(11, 20), (1, 10)]),
            20,
            "adjacent intervals"
        );
    }

    #[test]
    fn incapacity_days_reach_every_person_whatever_the_bits_of_their_code() {
        // Coded persons are 128-bit values: one with its highest bit set was once lost when
        // the kind was packed into the key's lowest bit.
        let persons = [u128::MAX, 1u128 << 127, 0x8245_0bb9_u128 << 96, 7];
        let index: IdMap<u32> = persons
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32))
            .collect();
        let mut intervals: [IdMap<Vec<(i32, i32)>>; 2] = Default::default();
        for p in persons {
            intervals[0].insert(p, vec![(1, 10)]);
            intervals[1].insert(p, vec![(20, 24)]);
        }
        intervals[1].insert(42, vec![(1, 1)]);
        let mut days = vec![[0; 2]; persons.len()];
        assert_eq!(add_incapacity_days(intervals, &index, &mut days), 1);
        assert!(days.iter().all(|d| *d == [10, 5]), "{days:?}");
    }

    #[test]
    fn quarters_have_their_days() {
        let (a, b) = quarter_bounds("2024Q1").unwrap();
        assert_eq!(b - a + 1, 91);
        let (a, b) = quarter_bounds("2024Q4").unwrap();
        assert_eq!(b - a + 1, 92);
    }
}
