//! Differencing between releases: two released cells whose units are nested (every unit of
//! one is in the other) reveal their difference, a group of units that no table showed. When
//! that group is small (1 to threshold − 1 units), the new release's cell must be hidden.
//!
//! The unit sets are compared exactly: both tables keep, for each unit, the cells it is counted
//! in; for every pair of released cells (one per table) sharing units the size of their
//! intersection is counted, and A ⊂ B holds when that size equals |A|. Inside one table the
//! LP audit already covers every combination of cells through the table's additivity; this
//! check covers pairs across tables (a requester's earlier releases, the sample and population
//! versions of a request, several requests in one run).

use crate::suppress::{Policy, Status};
use crate::table::Table;
use std::collections::HashMap;

/// A release already out (or earlier in this run), with its units.
#[derive(Debug, Clone, Copy)]
pub struct Earlier<'a> {
    /// Its release id.
    pub id: &'a str,
    /// Its table (with the units of every cell).
    pub table: &'a Table,
    /// Which of its cells were released.
    pub status: &'a [Status],
    /// Its policy.
    pub policy: Policy,
}

/// A cell of the new table that differencing with an earlier release would reduce to a
/// small group of units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The cell of the new table.
    pub cell: usize,
    /// The earlier release.
    pub release: String,
    /// The earlier release's cell.
    pub earlier_cell: usize,
    /// Units in the difference (internal: never written to a release's metadata).
    pub difference: i64,
}

/// The released cells of `table` that `status` releases, per unit, keyed by the unit.
fn released_cells<'t>(table: &'t Table, status: &[Status]) -> HashMap<&'t str, Vec<u32>> {
    table
        .members
        .iter()
        .map(|(key, paths)| {
            let cells = table
                .cells_of(paths)
                .into_iter()
                .filter(|&c| status[c] == Status::Released)
                .map(|c| c as u32)
                .collect();
            (key.as_str(), cells)
        })
        .collect()
}

/// Every released cell of the new table (`table`, `status`) nested with a released cell of
/// `earlier` (either way) whose difference holds 1 to threshold − 1 units, the threshold
/// being the stricter of the two policies. Sorted by new cell, then earlier cell.
pub fn findings(
    table: &Table,
    status: &[Status],
    policy: &Policy,
    earlier: &Earlier,
) -> Vec<Finding> {
    let threshold = policy.min_units.max(earlier.policy.min_units);
    let theirs = released_cells(earlier.table, earlier.status);
    let mut shared: HashMap<(u32, u32), i64> = HashMap::new();
    for (key, paths) in &table.members {
        let Some(other) = theirs.get(key.as_str()) else {
            continue;
        };
        for a in table.cells_of(paths) {
            if status[a] != Status::Released {
                continue;
            }
            for &b in other {
                *shared.entry((a as u32, b)).or_default() += 1;
            }
        }
    }
    let mut out: Vec<Finding> = shared
        .into_iter()
        .filter_map(|((a, b), both)| {
            let na = table.cells[a as usize].units;
            let nb = earlier.table.cells[b as usize].units;
            // A ⊂ B (or B ⊂ A): the intersection is the whole of the smaller cell.
            let difference = if both == na && nb > na {
                nb - na
            } else if both == nb && na > nb {
                na - nb
            } else {
                return None;
            };
            (difference < threshold).then(|| Finding {
                cell: a as usize,
                release: earlier.id.to_string(),
                earlier_cell: b as usize,
                difference,
            })
        })
        .collect();
    out.sort_by_key(|f| (f.cell, f.earlier_cell));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Dimension;

    /// A one-dimension table by age group over the given (person, group) rows.
    fn by_group(rows: &[(&str, &str)]) -> Table {
        Table::from_units(
            vec![Dimension::new("age", &["group"], "all")],
            vec![],
            rows.iter()
                .map(|(k, g)| (k.to_string(), vec![vec![*g]], vec![])),
        )
        .unwrap()
    }

    #[test]
    fn two_overlapping_age_bands_differing_by_one_person_are_caught() {
        // 0–17 and 0–18: the same 20 children, plus one person aged 18 in the second.
        let mut first: Vec<(String, &str)> = (0..20).map(|i| (format!("p{i}"), "0-17")).collect();
        first.extend((20..60).map(|i| (format!("p{i}"), "18+")));
        let mut second: Vec<(String, &str)> = (0..21).map(|i| (format!("p{i}"), "0-18")).collect();
        second.extend((21..60).map(|i| (format!("p{i}"), "19+")));
        let a = by_group(
            &first
                .iter()
                .map(|(k, g)| (k.as_str(), *g))
                .collect::<Vec<_>>(),
        );
        let b = by_group(
            &second
                .iter()
                .map(|(k, g)| (k.as_str(), *g))
                .collect::<Vec<_>>(),
        );
        let released_a = vec![Status::Released; a.cells.len()];
        let released_b = vec![Status::Released; b.cells.len()];
        let earlier = Earlier {
            id: "r1",
            table: &a,
            status: &released_a,
            policy: Policy::POPULATION,
        };
        let f = findings(&b, &released_b, &Policy::POPULATION, &earlier);
        // 0–18 ⊃ 0–17 by one person, and 19+ ⊂ 18+ by the same person.
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|x| x.difference == 1));
        // Once those cells are hidden, nothing is left to difference.
        let mut status = released_b.clone();
        for x in &f {
            status[x.cell] = Status::Secondary;
        }
        assert!(findings(&b, &status, &Policy::POPULATION, &earlier).is_empty());
    }

    #[test]
    fn the_same_table_twice_or_large_differences_are_not_findings() {
        let rows: Vec<(String, &str)> = (0..40)
            .map(|i| (format!("p{i}"), if i < 30 { "a" } else { "b" }))
            .collect();
        let t = by_group(
            &rows
                .iter()
                .map(|(k, g)| (k.as_str(), *g))
                .collect::<Vec<_>>(),
        );
        let status = vec![Status::Released; t.cells.len()];
        let earlier = Earlier {
            id: "r1",
            table: &t,
            status: &status,
            policy: Policy::POPULATION,
        };
        assert!(findings(&t, &status, &Policy::POPULATION, &earlier).is_empty());
        // A sub-population (the sample of a population table): differences are large.
        let sample = by_group(
            &rows
                .iter()
                .step_by(2)
                .map(|(k, g)| (k.as_str(), *g))
                .collect::<Vec<_>>(),
        );
        let s_status = vec![Status::Released; sample.cells.len()];
        assert!(findings(&sample, &s_status, &Policy::SAMPLE, &earlier).is_empty());
    }
}
