//! The audit: for each suppressed cell, the tightest interval an attacker can derive from the
//! released cells and the table's additivity, by linear programming (minimise and maximise
//! the cell's value over every non-negative table that agrees with what is released).

use crate::DisclosureError;
use crate::table::Equation;
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The interval an attacker can derive for one suppressed cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Cell index.
    pub cell: usize,
    /// Smallest value consistent with the released table.
    pub lower: f64,
    /// Largest value (`f64::INFINITY` when unbounded, written as null in JSON).
    pub upper: f64,
}

/// Connected groups of suppressed cells (linked by equations that contain several of them):
/// an attacker's problem splits into independent ones.
fn components(suppressed: &[bool], equations: &[&Equation]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let cells: Vec<usize> = (0..suppressed.len()).filter(|&c| suppressed[c]).collect();
    let mut parent: HashMap<usize, usize> = cells.iter().map(|&c| (c, c)).collect();
    fn find(p: &mut HashMap<usize, usize>, x: usize) -> usize {
        let mut r = x;
        while p[&r] != r {
            r = p[&r];
        }
        let mut y = x;
        while p[&y] != r {
            let next = p[&y];
            p.insert(y, r);
            y = next;
        }
        r
    }
    for e in equations {
        let mut members = std::iter::once(e.total)
            .chain(e.parts.iter().copied())
            .filter(|&c| suppressed[c]);
        if let Some(first) = members.next() {
            for m in members {
                let (a, b) = (find(&mut parent, first), find(&mut parent, m));
                if a != b {
                    parent.insert(a, b);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for &c in &cells {
        let r = find(&mut parent, c);
        groups.entry(r).or_default().0.push(c);
    }
    for (k, e) in equations.iter().enumerate() {
        if let Some(c) = std::iter::once(e.total)
            .chain(e.parts.iter().copied())
            .find(|&c| suppressed[c])
        {
            let r = find(&mut parent, c);
            groups.get_mut(&r).expect("grouped").1.push(k);
        }
    }
    groups.into_values().collect()
}

/// Bounds of the `targets` (suppressed cells), given every cell's true `values`, which cells
/// are `suppressed` and the table's equations. Values are non-negative (counts, or sums of
/// non-negative amounts).
pub fn bounds(
    values: &[f64],
    suppressed: &[bool],
    equations: &[Equation],
    targets: &[usize],
) -> Result<Vec<Bounds>, DisclosureError> {
    let relevant: Vec<&Equation> = equations
        .iter()
        .filter(|e| suppressed[e.total] || e.parts.iter().any(|&p| suppressed[p]))
        .collect();
    let mut out = Vec::new();
    let wanted: std::collections::HashSet<usize> = targets.iter().copied().collect();
    for (cells, eqs) in components(suppressed, &relevant) {
        if !cells.iter().any(|c| wanted.contains(c)) {
            continue;
        }
        let pos: HashMap<usize, usize> = cells.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        // Each equation as (coefficients on suppressed cells, constant from released cells).
        let rows: Vec<(Vec<(usize, f64)>, f64)> = eqs
            .iter()
            .map(|&k| {
                let e = relevant[k];
                let mut coef = Vec::new();
                let mut rhs = 0.0;
                let mut term = |c: usize, sign: f64| {
                    if suppressed[c] {
                        coef.push((pos[&c], sign));
                    } else {
                        rhs -= sign * values[c];
                    }
                };
                term(e.total, 1.0);
                for &p in &e.parts {
                    term(p, -1.0);
                }
                (coef, rhs)
            })
            .collect();
        // One LP over the group, optimising the sum of `objective` (indices into `cells`);
        // `None` when unbounded.
        let solve = |dir: OptimizationDirection,
                     objective: &[usize]|
         -> Result<Option<Vec<f64>>, DisclosureError> {
            let mut weight = vec![0.0; cells.len()];
            for &i in objective {
                weight[i] = 1.0;
            }
            let mut problem = Problem::new(dir);
            let vars: Vec<_> = weight
                .iter()
                .map(|&w| problem.add_var(w, (0.0, f64::INFINITY)))
                .collect();
            for (coef, rhs) in &rows {
                let terms: Vec<_> = coef.iter().map(|&(i, s)| (vars[i], s)).collect();
                problem.add_constraint(&terms, ComparisonOp::Eq, *rhs);
            }
            match problem.solve() {
                Ok(outcome) => {
                    let solution = outcome
                        .into_solution()
                        .map_err(|e| DisclosureError::Audit(format!("{e:?}")))?;
                    Ok(Some(vars.iter().map(|v| solution.var_value(*v)).collect()))
                }
                Err(microlp::Error::Unbounded) => Ok(None),
                Err(e) => Err(DisclosureError::Audit(e.to_string())),
            }
        };
        // A cap for each cell from the rows whose coefficients all have one sign: with every
        // value ≥ 0, x ≤ rhs / coefficient. A solution reaching the cap proves it is the maximum.
        let mut cap = vec![f64::INFINITY; cells.len()];
        for (coef, rhs) in &rows {
            let positive = coef.iter().all(|&(_, s)| s > 0.0);
            let negative = coef.iter().all(|&(_, s)| s < 0.0);
            if positive || negative {
                for &(i, s) in coef {
                    cap[i] = cap[i].min(rhs / s);
                }
            }
        }
        const EPS: f64 = 1e-6;
        let targets: Vec<usize> = (0..cells.len())
            .filter(|&i| wanted.contains(&cells[i]))
            .collect();
        let mut lower: Vec<Option<f64>> = vec![None; cells.len()];
        let mut upper: Vec<Option<f64>> = vec![None; cells.len()];
        // Witnesses first: minimise (maximise) the sum of the cells still open; a cell at 0
        // (at its cap) in that solution has its exact bound.
        for _ in 0..4 {
            let open: Vec<usize> = targets
                .iter()
                .copied()
                .filter(|&i| lower[i].is_none())
                .collect();
            if open.is_empty() {
                break;
            }
            let Some(x) = solve(OptimizationDirection::Minimize, &open)? else {
                break;
            };
            let mut found = false;
            for &i in &open {
                if x[i] <= EPS {
                    lower[i] = Some(0.0);
                    found = true;
                }
            }
            if !found {
                break;
            }
        }
        for _ in 0..4 {
            let open: Vec<usize> = targets
                .iter()
                .copied()
                .filter(|&i| upper[i].is_none() && cap[i].is_finite())
                .collect();
            if open.is_empty() {
                break;
            }
            let Some(x) = solve(OptimizationDirection::Maximize, &open)? else {
                break;
            };
            let mut found = false;
            for &i in &open {
                if x[i] >= cap[i] - EPS {
                    upper[i] = Some(cap[i]);
                    found = true;
                }
            }
            if !found {
                break;
            }
        }
        // The rest: one LP per cell and direction.
        for &i in &targets {
            if lower[i].is_none() {
                let x = solve(OptimizationDirection::Minimize, &[i])?;
                lower[i] = Some(x.map_or(0.0, |x| x[i]));
            }
            if upper[i].is_none() {
                let x = solve(OptimizationDirection::Maximize, &[i])?;
                upper[i] = Some(x.map_or(f64::INFINITY, |x| x[i]));
            }
            out.push(Bounds {
                cell: cells[i],
                lower: lower[i].unwrap_or(0.0),
                upper: upper[i].unwrap_or(f64::INFINITY),
            });
        }
    }
    out.sort_by_key(|b| b.cell);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×2 table with margins: cells a b | a+b ; c d | c+d ; a+c b+d | total.
    fn two_by_two() -> (Vec<f64>, Vec<Equation>) {
        // index: 0 a, 1 b, 2 row1, 3 c, 4 d, 5 row2, 6 col1, 7 col2, 8 total
        let values = vec![1.0, 9.0, 10.0, 7.0, 3.0, 10.0, 8.0, 12.0, 20.0];
        let eq = |t: usize, p: &[usize]| Equation {
            total: t,
            parts: p.to_vec(),
        };
        let equations = vec![
            eq(2, &[0, 1]),
            eq(5, &[3, 4]),
            eq(6, &[0, 3]),
            eq(7, &[1, 4]),
            eq(8, &[2, 5]),
            eq(8, &[6, 7]),
        ];
        (values, equations)
    }

    #[test]
    fn a_single_suppressed_cell_is_recomputed_exactly() {
        let (v, e) = two_by_two();
        let mut s = vec![false; 9];
        s[0] = true;
        let b = bounds(&v, &s, &e, &[0]).unwrap();
        assert!((b[0].lower - 1.0).abs() < 1e-6 && (b[0].upper - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_rectangle_of_four_gives_the_textbook_interval() {
        // Suppressing a, b, c, d: a ∈ [max(0, 10 − 10 … ), min(row1, col1)] = [0, 8].
        let (v, e) = two_by_two();
        let mut s = vec![false; 9];
        for c in [0, 1, 3, 4] {
            s[c] = true;
        }
        let b = bounds(&v, &s, &e, &[0, 4]).unwrap();
        assert!((b[0].lower - 0.0).abs() < 1e-6, "{b:?}");
        assert!((b[0].upper - 8.0).abs() < 1e-6, "{b:?}");
        // d = 10 − c, c ≤ 8 and c ≥ 8 − a ≥ … : d ∈ [2, 10].
        assert!(
            (b[1].lower - 2.0).abs() < 1e-6 && (b[1].upper - 10.0).abs() < 1e-6,
            "{b:?}"
        );
    }
}
