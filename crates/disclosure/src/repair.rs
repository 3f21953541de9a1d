//! Repairing a cell the audit found under-protected, in one step: the released cells that a
//! table with the cell at its required end would have to change, found by a small LP around
//! the cell, are hidden together. Once they are hidden that table agrees with the release, so
//! the cell reaches its protection level (hiding more never narrows an interval).

use crate::table::{Equation, Table};
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use std::collections::{HashMap, HashSet};

/// Which end of its protection interval the cell must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    /// The cell must be able to go down to this value.
    Down(f64),
    /// The cell must be able to go up to this value.
    Up(f64),
}

/// The released cells to hide so that `cell` reaches `side`: a table that differs from the
/// true one only in cells of the local product around `cell` (in every dimension the cell's
/// node, its parent, siblings and children: every box through the cell at once), has `cell`
/// at the required end, and changes as few released units as possible (L1, each cell's units
/// weighted by `weight`, so that margins can cost more than interior cells). `None` when no
/// such table exists (the caller falls back to hiding one neighbour at a time).
#[allow(clippy::too_many_arguments)]
pub fn cells_to_hide(
    table: &Table,
    values: &[f64],
    hidden: &[bool],
    equations: &[Equation],
    by_cell: &HashMap<usize, Vec<usize>>,
    weight: &dyn Fn(usize) -> f64,
    cell: usize,
    side: Side,
) -> Option<Vec<usize>> {
    const MAX_CELLS: usize = 6000;
    let nodes = table.nodes(cell);
    let choices: Vec<Vec<usize>> = table
        .dimensions
        .iter()
        .zip(&nodes)
        .map(|(dim, &n)| {
            let node = &dim.nodes[n];
            let mut c = vec![n];
            if let Some(p) = node.parent {
                c.push(p);
                c.extend(dim.nodes[p].children.iter().copied().filter(|&s| s != n));
            }
            c.extend(node.children.iter().copied());
            c
        })
        .collect();
    if choices.iter().map(Vec::len).product::<usize>() > MAX_CELLS {
        return None;
    }
    let mut around = Vec::new();
    let mut at = vec![0usize; choices.len()];
    loop {
        let point: Vec<usize> = at.iter().zip(&choices).map(|(&i, c)| c[i]).collect();
        around.push(table.index(&point));
        let mut k = 0;
        loop {
            if k == at.len() {
                return solve(
                    values, hidden, equations, by_cell, weight, &around, cell, side,
                );
            }
            at[k] += 1;
            if at[k] < choices[k].len() {
                break;
            }
            at[k] = 0;
            k += 1;
        }
    }
}

/// The LP over the cells `around` (the others fixed at their true values).
#[allow(clippy::too_many_arguments)]
fn solve(
    values: &[f64],
    hidden: &[bool],
    equations: &[Equation],
    by_cell: &HashMap<usize, Vec<usize>>,
    weight: &dyn Fn(usize) -> f64,
    around: &[usize],
    cell: usize,
    side: Side,
) -> Option<Vec<usize>> {
    let mut problem = Problem::new(OptimizationDirection::Minimize);
    // Every cell around: hidden ones free (x ≥ 0), released ones x = v + up − down.
    let mut var = HashMap::new();
    let mut moves = Vec::new();
    for &c in around {
        let x = problem.add_var(0.0, (0.0, f64::INFINITY));
        var.insert(c, x);
        if !hidden[c] {
            let w = weight(c);
            let up = problem.add_var(w, (0.0, f64::INFINITY));
            let down = problem.add_var(w, (0.0, values[c]));
            problem.add_constraint(
                [(x, 1.0), (up, -1.0), (down, 1.0)],
                ComparisonOp::Eq,
                values[c],
            );
            moves.push((c, up, down));
        }
    }
    let mut rows: HashSet<usize> = HashSet::new();
    for &c in around {
        rows.extend(by_cell.get(&c).into_iter().flatten().copied());
    }
    for k in rows {
        let e = &equations[k];
        let mut terms = Vec::new();
        let mut rhs = 0.0;
        for (m, s) in std::iter::once((e.total, 1.0)).chain(e.parts.iter().map(|&p| (p, -1.0))) {
            match var.get(&m) {
                Some(&x) => terms.push((x, s)),
                None => rhs -= s * values[m],
            }
        }
        problem.add_constraint(&terms, ComparisonOp::Eq, rhs);
    }
    match side {
        Side::Down(to) => problem.add_constraint([(var[&cell], 1.0)], ComparisonOp::Le, to),
        Side::Up(to) => problem.add_constraint([(var[&cell], 1.0)], ComparisonOp::Ge, to),
    }
    let solution = problem.solve().ok()?.into_solution().ok()?;
    Some(
        moves
            .into_iter()
            .filter(|&(_, up, down)| solution.var_value(up) + solution.var_value(down) > 1e-7)
            .map(|(c, _, _)| c)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Dimension;

    /// A 2 × 2 table with margins, one small cell hidden alone: it moves only if a whole
    /// rectangle moves, so the rectangle's three other cells are the ones to hide.
    #[test]
    fn a_cell_pinned_down_gets_the_rectangle_that_frees_it() {
        let t = Table::from_leaves(
            vec![
                Dimension::new("row", &["row"], "all"),
                Dimension::new("col", &["col"], "all"),
            ],
            vec![],
            [
                ("r1", "c1", 1),
                ("r1", "c2", 9),
                ("r2", "c1", 7),
                ("r2", "c2", 3),
            ]
            .into_iter()
            .map(|(r, c, n)| (vec![vec![r], vec![c]], n, vec![])),
        )
        .unwrap();
        let equations = t.equations();
        let values: Vec<f64> = t.cells.iter().map(|c| c.units as f64).collect();
        let mut by_cell: HashMap<usize, Vec<usize>> = HashMap::new();
        for (k, e) in equations.iter().enumerate() {
            for c in std::iter::once(e.total).chain(e.parts.iter().copied()) {
                by_cell.entry(c).or_default().push(k);
            }
        }
        let small = (0..t.cells.len()).find(|&c| t.cells[c].units == 1).unwrap();
        let mut hidden = vec![false; t.cells.len()];
        hidden[small] = true;
        let weight = |c: usize| if t.is_margin(c) { 2.0 } else { 1.0 };
        let interior: Vec<usize> = (0..t.cells.len())
            .filter(|&c| !t.is_margin(c) && c != small)
            .collect();
        for side in [Side::Up(5.0), Side::Down(0.0)] {
            let mut hide = cells_to_hide(
                &t, &values, &hidden, &equations, &by_cell, &weight, small, side,
            )
            .unwrap();
            hide.sort();
            assert_eq!(hide, interior, "{side:?}");
        }
        for &c in &interior {
            hidden[c] = true;
        }
        let b = crate::audit::bounds(&values, &hidden, &equations, &[small]).unwrap();
        assert!(b[0].lower <= 1e-9 && b[0].upper >= 5.0 - 1e-9, "{b:?}");
    }
}
