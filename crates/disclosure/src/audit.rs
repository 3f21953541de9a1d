//! The audit: for each suppressed cell, the tightest interval an attacker can derive from the
//! released cells and the table's additivity, by linear programming (minimise and maximise
//! the cell's value over every non-negative table that agrees with what is released).

use crate::DisclosureError;
use crate::table::Equation;
use microlp::{ComparisonOp, OptimizationDirection, Problem};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What an attacker can derive for one suppressed cell: two values the cell takes in
/// non-negative tables that agree with the release (so every value between them too: the
/// tables form a convex set). Without a required interval these are the exact minimum and
/// maximum; with one, a value found in a witness table that already reaches the requirement
/// settles that side without computing the exact bound (the attacker's interval can only be
/// wider).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Cell index.
    pub cell: usize,
    /// A value as low as the cell can be shown to go: the minimum, or a value at most the
    /// required lower end.
    pub lower: f64,
    /// A value as high as the cell can be shown to go (`f64::INFINITY` when unbounded,
    /// written as null in JSON): the maximum, or a value at least the required upper end.
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

/// Whether `AIM_AUDIT_TRACE` asks for the audit's progress on stderr.
pub fn trace() -> bool {
    std::env::var_os("AIM_AUDIT_TRACE").is_some()
}

/// Interval propagation over rows `Σ s·x = rhs` (x ≥ 0): valid lower and upper bounds of
/// every variable (upper possibly infinite).
fn propagate(rows: &[(Vec<(usize, f64)>, f64)], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lo = vec![0.0f64; n];
    let mut hi = vec![f64::INFINITY; n];
    for _pass in 0..100 {
        let mut changed = false;
        for (coef, rhs) in rows {
            // Range of each term s·x, and of the row's sum.
            let term = |&(i, s): &(usize, f64), lo: &[f64], hi: &[f64]| {
                if s > 0.0 {
                    (s * lo[i], s * hi[i])
                } else {
                    (s * hi[i], s * lo[i])
                }
            };
            let (mut sum_lo, mut sum_hi) = (0.0, 0.0);
            let mut inf_lo = 0; // terms whose lower end is −∞
            let mut inf_hi = 0; // terms whose upper end is +∞
            for t in coef {
                let (a, b) = term(t, &lo, &hi);
                if a.is_finite() {
                    sum_lo += a;
                } else {
                    inf_lo += 1;
                }
                if b.is_finite() {
                    sum_hi += b;
                } else {
                    inf_hi += 1;
                }
            }
            for t in coef {
                let (i, s) = *t;
                let (a, b) = term(t, &lo, &hi);
                // Others' sum range, without this term.
                let others_lo = if a.is_finite() {
                    (inf_lo == 0).then_some(sum_lo - a)
                } else {
                    (inf_lo == 1).then_some(sum_lo)
                };
                let others_hi = if b.is_finite() {
                    (inf_hi == 0).then_some(sum_hi - b)
                } else {
                    (inf_hi == 1).then_some(sum_hi)
                };
                // s·x = rhs − others.
                let (t_lo, t_hi) = (
                    others_hi.map_or(f64::NEG_INFINITY, |o| rhs - o),
                    others_lo.map_or(f64::INFINITY, |o| rhs - o),
                );
                let (new_lo, new_hi) = if s > 0.0 {
                    (t_lo / s, t_hi / s)
                } else {
                    (t_hi / s, t_lo / s)
                };
                if new_lo > lo[i] + 1e-9 {
                    lo[i] = new_lo;
                    changed = true;
                }
                if new_hi < hi[i] - 1e-9 {
                    hi[i] = new_hi;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    (lo, hi)
}

/// Exact bounds of the `targets` (suppressed cells), given every cell's true `values`, which
/// cells are `suppressed` and the table's equations. Values are non-negative (counts, or sums
/// of non-negative amounts).
#[cfg(test)]
pub fn bounds(
    values: &[f64],
    suppressed: &[bool],
    equations: &[Equation],
    targets: &[usize],
) -> Result<Vec<Bounds>, DisclosureError> {
    bounds_cached(
        values,
        suppressed,
        equations,
        targets,
        &HashMap::new(),
        &mut Cache::default(),
    )
}

/// The interval (lower, upper) each target's bounds must reach to protect it.
pub type Required = HashMap<usize, (f64, f64)>;

/// Bounds already found, per group of hidden cells: a group with the same cells is the same
/// LP (a released cell of one of its equations turning hidden would have joined the group),
/// so its bounds hold as long as the group is unchanged.
#[derive(Debug, Default)]
pub struct Cache(HashMap<Vec<usize>, HashMap<usize, Bounds>>);

/// [`bounds`], reusing and filling `cache`; a target with a `required` interval gets, on each
/// side, either its exact bound or a witnessed value that reaches the requirement (see
/// [`Bounds`]): on sparse tables most cells are settled by two or three witness LPs over their
/// group instead of an LP each.
pub fn bounds_cached(
    values: &[f64],
    suppressed: &[bool],
    equations: &[Equation],
    targets: &[usize],
    required: &Required,
    cache: &mut Cache,
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
        if let Some(known) = cache.0.get(&cells)
            && cells
                .iter()
                .filter(|c| wanted.contains(c))
                .all(|c| known.contains_key(c))
        {
            out.extend(
                cells
                    .iter()
                    .filter(|c| wanted.contains(c))
                    .map(|c| known[c]),
            );
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
        // `None` when unbounded. A cell given a `cap` counts only up to it (maximising
        // Σ min(x, cap) through y ≤ x, 0 ≤ y ≤ cap): the optimum spreads the values so that as
        // many cells as possible reach their cap, instead of piling onto a few.
        let solve = |dir: OptimizationDirection,
                     objective: &[usize],
                     caps: &dyn Fn(usize) -> Option<f64>|
         -> Result<Option<Vec<f64>>, DisclosureError> {
            let mut weight = vec![0.0; cells.len()];
            let mut capped = Vec::new();
            for &i in objective {
                match caps(i) {
                    Some(c) => capped.push((i, c)),
                    None => weight[i] = 1.0,
                }
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
            for (i, c) in capped {
                let y = problem.add_var(1.0, (0.0, c));
                problem.add_constraint([(y, 1.0), (vars[i], -1.0)], ComparisonOp::Le, 0.0);
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
        // Valid bounds by propagation (each row solved for each of its cells, given the
        // others' intervals, until nothing tightens): a solution reaching a cell's cap (floor)
        // proves it is the maximum (minimum), without an LP of its own.
        let clock = std::time::Instant::now();
        let (floor, cap) = propagate(&rows, cells.len());
        const EPS: f64 = 1e-6;
        // Witness LPs per direction, while each settles some cell.
        const WITNESS_ROUNDS: usize = 8;
        let targets: Vec<usize> = (0..cells.len())
            .filter(|&i| wanted.contains(&cells[i]))
            .collect();
        let need: Vec<Option<(f64, f64)>> =
            cells.iter().map(|c| required.get(c).copied()).collect();
        let mut lower: Vec<Option<f64>> = vec![None; cells.len()];
        let mut upper: Vec<Option<f64>> = vec![None; cells.len()];
        // What a table with cell i at x proves: its exact bound when x is at the propagated
        // floor (cap), else, with a requirement, an attainable value reaching it.
        let settles = |i: usize, x: f64, minimise: bool| -> Option<f64> {
            if minimise {
                if x <= floor[i] + EPS {
                    Some(floor[i])
                } else {
                    need[i].and_then(|(lo, _)| (x <= lo + EPS).then_some(x.max(0.0)))
                }
            } else if x >= cap[i] - EPS {
                Some(cap[i])
            } else {
                need[i].and_then(|(_, hi)| (x >= hi - EPS).then_some(x))
            }
        };
        // Witnesses first: minimise (maximise) the sum of the cells still open; a cell at 0
        // (at its cap) in that solution has its exact bound.
        for minimise in [true, false] {
            for round in 0..WITNESS_ROUNDS {
                // Maximising, a cell with a requirement counts up to it (or to its cap, if
                // lower), so the objective stays bounded; the others only when their cap is
                // finite.
                let open: Vec<usize> = targets
                    .iter()
                    .copied()
                    .filter(|&i| {
                        if minimise {
                            lower[i].is_none()
                        } else {
                            upper[i].is_none() && (cap[i].is_finite() || need[i].is_some())
                        }
                    })
                    .collect();
                // Maximising with requirements, a witness LP over the whole group settles
                // few cells for its cost (the cells compete for the same slack): the
                // warm-started LPs below, each also settling the cells its solution carries
                // far enough, do better.
                if open.is_empty() || (!minimise && open.iter().all(|&i| need[i].is_some())) {
                    break;
                }
                let lap = std::time::Instant::now();
                let x = if minimise {
                    solve(OptimizationDirection::Minimize, &open, &|_| None)?
                } else {
                    let reach = |i: usize| need[i].map(|(_, hi)| hi.min(cap[i]));
                    solve(OptimizationDirection::Maximize, &open, &reach)?
                };
                let Some(x) = x else {
                    break;
                };
                let mut settled = 0;
                for &i in &open {
                    if let Some(v) = settles(i, x[i], minimise) {
                        settled += 1;
                        if minimise {
                            lower[i] = Some(v);
                        } else {
                            upper[i] = Some(v);
                        }
                    }
                }
                if trace() && cells.len() > 100 {
                    eprintln!(
                        "  witness {} {round}: {settled} of {} settled in {:.1} s",
                        if minimise { "min" } else { "max" },
                        open.len(),
                        lap.elapsed().as_secs_f64()
                    );
                }
                // Another witness costs an LP over the whole group, a few hundred times a
                // warm-started LP for one cell: worth it only while it settles a good share
                // of the cells still open, and many of them.
                if settled * 4 < open.len() || (round > 0 && settled < 300) {
                    break;
                }
            }
        }
        if trace() {
            eprintln!(
                "audit: group of {} hidden cells, {} equations, {} targets; after witnesses ({:.1} s) {} lower and {} upper bounds open",
                cells.len(),
                rows.len(),
                targets.len(),
                clock.elapsed().as_secs_f64(),
                targets.iter().filter(|&&i| lower[i].is_none()).count(),
                targets.iter().filter(|&&i| upper[i].is_none()).count()
            );
        }
        // The rest, warm-started: one LP over the group with an extra variable z (bounded by
        // the largest cap) as the objective, solved once per direction; each open cell then
        // adds z ≤ x (maximising) or z ≥ x (minimising) to a copy of that optimum and
        // re-optimises by dual simplex from its basis, instead of solving from scratch.
        let open_lower: Vec<usize> = targets
            .iter()
            .copied()
            .filter(|&i| lower[i].is_none())
            .collect();
        let open_upper: Vec<usize> = targets
            .iter()
            .copied()
            .filter(|&i| upper[i].is_none())
            .collect();
        let finite_cap = open_upper.iter().all(|&i| cap[i].is_finite());
        // z's bound: at least every open cell's cap (maximising) and true value (its minimum
        // is at most that), so that z ≤ x or z ≥ x never makes the copy infeasible.
        let z_max = open_upper
            .iter()
            .chain(&open_lower)
            .flat_map(|&i| [cap[i], values[cells[i]]])
            .filter(|c| c.is_finite())
            .fold(0.0f64, f64::max)
            + 1.0;
        for (dir, open) in [
            (OptimizationDirection::Minimize, &open_lower),
            (OptimizationDirection::Maximize, &open_upper),
        ] {
            if open.is_empty() {
                continue;
            }
            let minimise = dir == OptimizationDirection::Minimize;
            if !minimise && !finite_cap {
                // Some cell may be unbounded: solve each on its own.
                for &i in open.iter() {
                    let x = solve(dir, &[i], &|_| None)?;
                    upper[i] = Some(x.map_or(f64::INFINITY, |x| x[i]));
                }
                continue;
            }
            let mut problem = Problem::new(dir);
            let vars: Vec<_> = (0..cells.len())
                .map(|_| problem.add_var(0.0, (0.0, f64::INFINITY)))
                .collect();
            let z = problem.add_var(1.0, (0.0, z_max));
            for (coef, rhs) in &rows {
                let terms: Vec<_> = coef.iter().map(|&(i, s)| (vars[i], s)).collect();
                problem.add_constraint(&terms, ComparisonOp::Eq, *rhs);
            }
            let base = problem
                .solve()
                .map_err(|e| DisclosureError::Audit(e.to_string()))?
                .into_solution()
                .map_err(|e| DisclosureError::Audit(format!("{e:?}")))?;
            let op = if minimise {
                ComparisonOp::Ge
            } else {
                ComparisonOp::Le
            };
            // The open cells are independent copies of one optimum: share them out among
            // the cores.
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(open.len());
            let chunk = open.len().div_ceil(threads.max(1));
            let solved: Vec<Result<Vec<(usize, f64)>, DisclosureError>> =
                std::thread::scope(|scope| {
                    let handles: Vec<_> = open
                        .chunks(chunk.max(1))
                        .map(|part| {
                            let base = &base;
                            let vars = &vars;
                            let (settles, need) = (&settles, &need);
                            scope.spawn(move || {
                                // A copy's solution also settles any other cell of the part it
                                // puts at its cap (floor).
                                let mut done: Vec<(usize, f64)> = Vec::new();
                                let mut settled = std::collections::HashSet::new();
                                for &i in part {
                                    if settled.contains(&i) {
                                        continue;
                                    }
                                    // With a requirement, z stops at the required end
                                    // (an extra bound, set before the cell's own row): z
                                    // there means the cell gets there, z short of it is
                                    // the exact bound.
                                    let mut start = base.clone();
                                    if let Some((lo, hi)) = need[i] {
                                        let (op2, end) = if minimise {
                                            (ComparisonOp::Ge, lo)
                                        } else {
                                            (ComparisonOp::Le, hi)
                                        };
                                        start = start
                                            .add_constraint([(z, 1.0)], op2, end)
                                            .map_err(|e| DisclosureError::Audit(e.to_string()))?
                                            .into_solution()
                                            .map_err(|e| {
                                                DisclosureError::Audit(format!("{e:?}"))
                                            })?;
                                    }
                                    let s = start
                                        .add_constraint([(z, 1.0), (vars[i], -1.0)], op, 0.0)
                                        .map_err(|e| DisclosureError::Audit(e.to_string()))?
                                        .into_solution()
                                        .map_err(|e| DisclosureError::Audit(format!("{e:?}")))?;
                                    done.push((i, s.var_value(z)));
                                    settled.insert(i);
                                    for &j in part {
                                        if settled.contains(&j) {
                                            continue;
                                        }
                                        if let Some(v) = settles(j, s.var_value(vars[j]), minimise)
                                        {
                                            done.push((j, v));
                                            settled.insert(j);
                                        }
                                    }
                                }
                                Ok(done)
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("an audit thread panicked"))
                        .collect()
                });
            for part in solved {
                for (i, v) in part? {
                    if minimise {
                        lower[i] = Some(v);
                    } else {
                        upper[i] = Some(v);
                    }
                }
            }
        }
        if trace() && cells.len() > 100 {
            eprintln!(
                "audit: group of {} hidden cells done in {:.1} s",
                cells.len(),
                clock.elapsed().as_secs_f64()
            );
        }
        let known = cache.0.entry(cells.clone()).or_default();
        for &i in &targets {
            let b = Bounds {
                cell: cells[i],
                lower: lower[i].unwrap_or(0.0),
                upper: upper[i].unwrap_or(f64::INFINITY),
            };
            known.insert(b.cell, b);
            out.push(b);
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
