//! The gate on textbook and random tables: no released small cell, every suppressed small cell
//! protected according to an LP solved independently of the gate's own audit, no margin that
//! recomputes a hidden cell.

use crate::audit::Bounds;
use crate::suppress::{Pattern, Policy, Status, suppress};
use crate::table::{Dimension, Equation, Table};
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use proptest::prelude::*;

/// A table from leaf counts: `leaves` gives, per dimension, the (parent, leaf) codes (parent
/// empty for one-level dimensions), and `count(combo)` the units of each leaf combination.
fn table(leaves: &[Vec<(String, String)>], count: impl Fn(&[usize]) -> usize) -> Table {
    let dims: Vec<Dimension> = leaves
        .iter()
        .enumerate()
        .map(|(d, l)| {
            let two = !l[0].0.is_empty();
            let levels: &[&str] = if two { &["group", "value"] } else { &["value"] };
            Dimension::new(&format!("d{d}"), levels, "Total")
        })
        .collect();
    let mut combos: Vec<Vec<usize>> = vec![vec![]];
    for l in leaves {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..l.len()).map(move |i| {
                    let mut c = c.clone();
                    c.push(i);
                    c
                })
            })
            .collect();
    }
    let mut units = Vec::new();
    for combo in &combos {
        for k in 0..count(combo) {
            let values: Vec<Vec<&str>> = combo
                .iter()
                .enumerate()
                .map(|(d, &i)| {
                    let (g, v) = &leaves[d][i];
                    if g.is_empty() {
                        vec![v.as_str()]
                    } else {
                        vec![g.as_str(), v.as_str()]
                    }
                })
                .collect();
            units.push((format!("{combo:?}-{k}"), values, vec![]));
        }
    }
    Table::from_units(dims, vec![], units.into_iter()).unwrap()
}

/// The attacker's bounds of one cell by one LP over the whole table (every hidden cell a
/// variable, every equation a constraint): independent of the gate's decomposition.
fn independent_bounds(
    t: &Table,
    hidden: &[bool],
    equations: &[Equation],
    cell: usize,
) -> (f64, f64) {
    let idx: Vec<usize> = (0..hidden.len()).filter(|&c| hidden[c]).collect();
    let mut out = [0.0, f64::INFINITY];
    for (k, dir) in [
        OptimizationDirection::Minimize,
        OptimizationDirection::Maximize,
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = Problem::new(dir);
        let vars: Vec<_> = idx
            .iter()
            .map(|&c| p.add_var(if c == cell { 1.0 } else { 0.0 }, (0.0, f64::INFINITY)))
            .collect();
        for e in equations {
            let mut terms = Vec::new();
            let mut rhs = 0.0;
            for (c, s) in std::iter::once((e.total, 1.0)).chain(e.parts.iter().map(|&p| (p, -1.0)))
            {
                match idx.binary_search(&c) {
                    Ok(i) => terms.push((vars[i], s)),
                    Err(_) => rhs -= s * t.cells[c].units as f64,
                }
            }
            if !terms.is_empty() {
                p.add_constraint(&terms, ComparisonOp::Eq, rhs);
            }
        }
        match p.solve() {
            Ok(o) => out[k] = o.into_solution().unwrap().objective(),
            Err(microlp::Error::Unbounded) => {}
            Err(e) => panic!("{e}"),
        }
    }
    (out[0], out[1])
}

fn check(t: &Table, policy: &Policy) -> Pattern {
    let pattern = suppress(t, policy).unwrap();
    let equations = t.equations();
    let hidden: Vec<bool> = pattern
        .status
        .iter()
        .map(|s| *s != Status::Released)
        .collect();
    for (c, s) in pattern.status.iter().enumerate() {
        let units = t.cells[c].units;
        if *s == Status::Released {
            assert!(
                !policy.is_small(units),
                "released small cell {:?} = {units}",
                t.labels(c)
            );
        } else if *s == Status::Primary {
            assert!(policy.is_small(units));
        }
    }
    for e in &equations {
        let n = std::iter::once(e.total)
            .chain(e.parts.iter().copied())
            .filter(|&c| hidden[c])
            .count();
        assert_ne!(n, 1, "a margin recomputes {:?}", e);
    }
    let primaries: Vec<usize> = (0..hidden.len())
        .filter(|&c| pattern.status[c] == Status::Primary)
        .collect();
    assert_eq!(
        pattern
            .certificate
            .iter()
            .map(|b| b.cell)
            .collect::<Vec<_>>(),
        primaries
    );
    for b in &pattern.certificate {
        // The certificate's values are attainable: the exact minimum is at most its lower
        // value, the exact maximum at least its upper value.
        let (lo, hi) = independent_bounds(t, &hidden, &equations, b.cell);
        assert!(lo <= b.lower + 1e-5, "{b:?} vs minimum {lo}");
        assert!(
            hi == f64::INFINITY || hi >= b.upper - 1e-5,
            "{b:?} vs maximum {hi}"
        );
        assert!(
            b.lower <= 1e-6 && b.upper >= policy.min_units as f64 - 1e-6,
            "the certificate of {:?} does not cover [0, threshold]: {b:?}",
            t.labels(b.cell)
        );
        assert!(
            lo <= 1e-6 && hi >= policy.min_units as f64 - 1e-6,
            "{:?} narrowed to [{lo}, {hi}]",
            t.labels(b.cell)
        );
    }
    pattern
}

fn one_level(codes: &[&str]) -> Vec<(String, String)> {
    codes
        .iter()
        .map(|c| (String::new(), c.to_string()))
        .collect()
}

#[test]
fn textbook_three_by_three_hides_the_cheapest_rectangle() {
    // Rows A, B, C × columns X, Y, Z; A-X = 2 is small. The cheapest protecting pattern is the
    // rectangle A-X, A-Y, C-X, C-Y (2 + 20 + 15 + 25 = 62 persons hidden).
    let counts = [[2, 20, 30], [10, 40, 50], [15, 25, 60]];
    let t = table(
        &[one_level(&["A", "B", "C"]), one_level(&["X", "Y", "Z"])],
        |c| counts[c[0]][c[1]],
    );
    let p = check(&t, &Policy::POPULATION);
    let hidden: Vec<Vec<&str>> = (0..t.cells.len())
        .filter(|&c| p.status[c] != Status::Released)
        .map(|c| t.labels(c))
        .collect();
    assert_eq!(
        hidden,
        vec![
            vec!["A", "X"],
            vec!["A", "Y"],
            vec!["C", "X"],
            vec!["C", "Y"]
        ],
        "{hidden:?}"
    );
    assert_eq!(p.count(Status::Primary), 1);
    assert_eq!(p.count(Status::Secondary), 3);
}

#[test]
fn a_table_without_small_cells_is_released_whole() {
    let t = table(&[one_level(&["A", "B"]), one_level(&["X", "Y"])], |_| 7);
    let p = check(&t, &Policy::POPULATION);
    assert!(p.status.iter().all(|s| *s == Status::Released));
}

#[test]
fn a_unique_value_of_a_dimension_is_caught() {
    // One person in category B: B's row total and its cell are small, and so is B's margin.
    let t = table(
        &[one_level(&["A", "B"]), one_level(&["X", "Y"])],
        |c| match c {
            [1, 0] => 1,
            [1, 1] => 0,
            _ => 30,
        },
    );
    let p = check(&t, &Policy::POPULATION);
    let b_total = t.index(&[2, 0]);
    assert_eq!(t.labels(b_total), vec!["B", "Total"]);
    assert_ne!(p.status[b_total], Status::Released);
}

fn dims_strategy() -> impl Strategy<Value = Vec<Vec<(String, String)>>> {
    prop::collection::vec((1usize..=3, 2usize..=3, any::<bool>()), 2..=3).prop_map(|spec| {
        spec.into_iter()
            .map(|(groups, per, two)| {
                if two {
                    (0..groups)
                        .flat_map(|g| (0..per).map(move |v| (format!("g{g}"), format!("g{g}v{v}"))))
                        .collect()
                } else {
                    (0..groups + per)
                        .map(|v| (String::new(), format!("v{v}")))
                        .collect()
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Random tables with hierarchies and many small counts: nothing small is released, every
    /// small cell is protected by an independent LP, no margin recomputes a hidden cell.
    #[test]
    fn random_tables_are_protected(dims in dims_strategy(), seed in any::<u64>(), sample in any::<bool>()) {
        let policy = if sample { Policy::SAMPLE } else { Policy::POPULATION };
        let t = table(&dims, |c| {
            let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
            for &i in c {
                h = (h ^ i as u64).wrapping_mul(0x0100_0000_01b3).rotate_left(17);
            }
            match h % 10 { 0..=1 => 0, 2..=4 => (h >> 8) as usize % 4 + 1, _ => (h >> 8) as usize % 40 + 5 }
        });
        let p = check(&t, &policy);
        let _: &Vec<Bounds> = &p.certificate;
    }
}
