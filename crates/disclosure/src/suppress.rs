//! Primary and secondary suppression, decided on counts of distinct units, certified by the
//! LP audit. Deterministic: the same table and policy give the same pattern.

use crate::DisclosureError;
use crate::audit::{self, Bounds};
use crate::repair;
use crate::table::{Equation, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The disclosure policy of a source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// A cell with 1 to `min_units − 1` units is a small cell (sample: 4, "no cell ≤ 3";
    /// population: 5, "no cell < 5").
    pub min_units: i64,
    /// Whether empty cells are suppressed too (default: no; an empty cell reveals that nobody
    /// has the characteristic, which the agency's rule does not protect).
    pub suppress_zeros: bool,
}

impl Policy {
    /// The sample's policy: no cell ≤ 3.
    pub const SAMPLE: Policy = Policy {
        min_units: 4,
        suppress_zeros: false,
    };
    /// The population's policy: no cell < 5.
    pub const POPULATION: Policy = Policy {
        min_units: 5,
        suppress_zeros: false,
    };

    /// Whether a count is a small cell.
    pub fn is_small(&self, units: i64) -> bool {
        (units > 0 || self.suppress_zeros) && units < self.min_units
    }
}

/// Why a cell is not released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Released.
    Released,
    /// A small cell.
    Primary,
    /// Hidden to protect a small cell.
    Secondary,
    /// Hidden by a provider rule: too few providers behind the cell, or one (or n)
    /// dominating its amount.
    Provider,
    /// Hidden by the contributor rule: one or two persons make so much of a sum that the
    /// others in the cell (or anyone who knows them) could estimate their amount.
    Contributor,
    /// Hidden because, combined with cells released earlier (to anyone, the Atlas included)
    /// or in the same run, it would pin down a small group of persons.
    Differencing,
}

/// The interval a hidden cell's derivable bounds must contain (tau-ARGUS's lower and upper
/// protection levels, as absolute values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    /// Cell index.
    pub cell: usize,
    /// The quantity protected: `None` for the count of units, `Some(k)` for the sum of the
    /// table's measure `k`.
    #[serde(default)]
    pub measure: Option<usize>,
    /// The attacker's lower bound must be at most this.
    pub lower: f64,
    /// The attacker's upper bound must be at least this.
    pub upper: f64,
}

impl Protection {
    /// A small cell: the attacker must not tell it from an empty cell nor from one at the
    /// threshold, whatever its value: [0, threshold].
    pub fn small(cell: usize, policy: &Policy) -> Protection {
        Protection {
            cell,
            measure: None,
            lower: 0.0,
            upper: policy.min_units as f64,
        }
    }

    /// A cell hidden so that a group of `group` persons, pinned down by this cell combined
    /// with other releases, is free again: the attacker must not exclude that the cell, of
    /// value `v`, holds `group` persons fewer (the group could then be empty):
    /// [v − group, v].
    pub fn differencing(cell: usize, v: f64, group: i64) -> Protection {
        Protection {
            cell,
            measure: None,
            lower: (v - group as f64).max(0.0),
            upper: v,
        }
    }

    /// A cell hidden by a provider rule, whose measure `k` sums to `v`: the attacker must
    /// not estimate that amount within `percent` % ([v(1 − p), v(1 + p)], the p% rule's
    /// protection level).
    pub fn provider(cell: usize, k: usize, v: f64, percent: f64) -> Protection {
        let p = percent / 100.0;
        Protection {
            cell,
            measure: Some(k),
            lower: (v * (1.0 - p)).max(0.0),
            upper: v * (1.0 + p),
        }
    }

    /// Whether the attacker's interval `b` covers the required one.
    pub fn holds(&self, b: &Bounds) -> bool {
        // Round-off relative to the size of the quantity (sums of amounts can be large).
        let eps = 1e-6 * self.upper.abs().max(1.0);
        b.lower <= self.lower + eps && b.upper >= self.upper - eps
    }
}

/// The outcome: a status per cell and the audit certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pattern {
    /// Status per cell.
    pub status: Vec<Status>,
    /// For every primary (and differencing) cell, the interval an attacker can derive (the
    /// certificate), sorted by cell.
    pub certificate: Vec<Bounds>,
    /// The interval each certified cell's bounds must contain, in the same order.
    pub protection: Vec<Protection>,
    /// Rounds of audit and added suppressions.
    pub rounds: usize,
}

impl Pattern {
    /// Number of cells with a status.
    pub fn count(&self, s: Status) -> usize {
        self.status.iter().filter(|x| **x == s).count()
    }

    /// Whether every certified interval covers its required protection.
    pub fn passed(&self) -> bool {
        self.certificate.len() == self.protection.len()
            && self
                .certificate
                .iter()
                .zip(&self.protection)
                .all(|(b, p)| b.cell == p.cell && p.holds(b))
    }
}

/// Chooses a complementary cell among `candidates`: a released, non-empty cell (an empty
/// cell is no cover: it is often known to be empty), fewest units first, interior cells before
/// margins, then the lowest index.
fn cheapest(
    table: &Table,
    status: &[Status],
    fixed: &[bool],
    candidates: impl Iterator<Item = usize>,
) -> Option<usize> {
    candidates
        .filter(|&c| status[c] == Status::Released && table.cells[c].units > 0)
        .min_by_key(|&c| (fixed[c], table.cells[c].units, table.is_margin(c), c))
}

/// Decides the suppression pattern and audits it.
#[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
pub fn suppress(table: &Table, policy: &Policy) -> Result<Pattern, DisclosureError> {
    suppress_with(table, policy, &Sensitive::default())
}

/// Cells to hide and protect beyond the small cells.
#[derive(Debug, Clone, Default)]
pub struct Sensitive {
    /// Cells that, with other releases, would pin down a small group: each with the size of
    /// the largest such group.
    pub differencing: Vec<(usize, i64)>,
    /// Cells whose amount a magnitude rule protects (the provider rule, or the contributor
    /// rule on persons' own amounts).
    pub magnitude: Vec<Magnitude>,
    /// Cells whose persons are exactly those of a cell released before: public already, so
    /// hiding them protects little; chosen as cover only when nothing else will do.
    pub known: Vec<usize>,
}

/// A cell failing a magnitude rule: hidden, and its sum of one measure protected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Magnitude {
    /// The cell.
    pub cell: usize,
    /// The measure whose sum must stay hidden (index in the table's measures).
    pub measure: usize,
    /// How closely an attacker may estimate that sum (percent of its value).
    pub percent: f64,
    /// The rule that failed: [`Status::Provider`] or [`Status::Contributor`].
    pub status: Status,
}

/// Decides the suppression pattern with the `sensitive` cells hidden and protected too, and
/// audits it: the counts of small and differencing cells, and for provider cells the value
/// of the provider measure.
pub fn suppress_with(
    table: &Table,
    policy: &Policy,
    sensitive: &Sensitive,
) -> Result<Pattern, DisclosureError> {
    let equations = table.equations();
    let mut status: Vec<Status> = table
        .cells
        .iter()
        .map(|c| {
            if policy.is_small(c.units) {
                Status::Primary
            } else {
                Status::Released
            }
        })
        .collect();
    for m in &sensitive.magnitude {
        if status[m.cell] == Status::Released {
            status[m.cell] = m.status;
        }
    }
    let group: HashMap<usize, i64> = sensitive.differencing.iter().copied().collect();
    for &(c, _) in &sensitive.differencing {
        if status[c] == Status::Released {
            status[c] = Status::Differencing;
        }
    }
    let mut fixed = vec![false; table.cells.len()];
    // Cells public already: cover of last resort.
    for &c in &sensitive.known {
        fixed[c] = status[c] == Status::Released;
    }
    // The quantities audited: counts (None) and the protected measures' sums (Some(k)).
    let counts: Vec<f64> = table.cells.iter().map(|c| c.units as f64).collect();
    let sums: BTreeMap<usize, Vec<f64>> = sensitive
        .magnitude
        .iter()
        .map(|m| {
            (
                m.measure,
                table
                    .cells
                    .iter()
                    .map(|c| c.sums[m.measure].max(0.0))
                    .collect(),
            )
        })
        .collect();
    let values = |q: Option<usize>| -> &[f64] {
        match q {
            Some(k) => &sums[&k],
            None => &counts,
        }
    };
    let mut requirement: BTreeMap<(Option<usize>, usize), Protection> = BTreeMap::new();
    for (c, s) in status.iter().enumerate() {
        let p = match s {
            Status::Primary => Protection::small(c, policy),
            Status::Differencing => Protection::differencing(c, counts[c], group[&c]),
            _ => continue,
        };
        requirement.insert((None, c), p);
    }
    // A cell hidden by a magnitude rule protects the amount that failed it (even when it is
    // also small: then both its count and its amount are protected).
    for m in &sensitive.magnitude {
        let v = sums[&m.measure][m.cell];
        requirement.insert(
            (Some(m.measure), m.cell),
            Protection::provider(m.cell, m.measure, v, m.percent),
        );
    }
    // The hypercube method (as in tau-ARGUS's GHMITER): hide each protected cell with the
    // corners of the cheapest box around it (one sibling per dimension), so that every
    // equation through it has a second hidden cell and a swap of values along the box stays
    // consistent.
    for (&(q, p), req) in &requirement {
        // The box must be able to carry the cell to its protection levels: moving it up by
        // `up` takes `up` from each corner of the other parity, moving it down by `down` from
        // each corner of its own (counts only; a provider cell's box is chosen on cost).
        let v = counts[p];
        let (up, down) = match q {
            None => (
                (req.upper - v).max(0.0).ceil() as i64,
                (v - req.lower).max(0.0).ceil() as i64,
            ),
            Some(_) => (0, 0),
        };
        if let Some((corners, _)) = cheapest_box(table, &status, &fixed, p, up, down, false) {
            hide_released(&mut status, corners);
        }
    }
    // Hiding more cells only widens every interval (fewer released constraints), so a cell
    // protected once stays protected: each round audits only the cells that failed the round
    // before, and the certificate is recomputed once on the final pattern.
    let quantities: Vec<Option<usize>> = {
        let mut q: Vec<Option<usize>> = requirement.keys().map(|(q, _)| *q).collect();
        q.dedup();
        q
    };
    let mut caches: BTreeMap<Option<usize>, audit::Cache> = BTreeMap::new();
    let mut audit_all = |hidden: &[bool],
                         which: &dyn Fn(Option<usize>, usize) -> bool|
     -> Result<Vec<(Option<usize>, Bounds)>, DisclosureError> {
        let mut out = Vec::new();
        for &q in &quantities {
            let targets: Vec<usize> = requirement
                .keys()
                .filter(|(kq, c)| *kq == q && which(q, *c))
                .map(|(_, c)| *c)
                .collect();
            if targets.is_empty() {
                continue;
            }
            let required: audit::Required = targets
                .iter()
                .map(|&c| {
                    let r = &requirement[&(q, c)];
                    (c, (r.lower, r.upper))
                })
                .collect();
            let cache = caches.entry(q).or_default();
            for b in
                audit::bounds_cached(values(q), hidden, &equations, &targets, &required, cache)?
            {
                out.push((q, b));
            }
        }
        Ok(out)
    };
    // The equations through each cell.
    let mut by_cell: HashMap<usize, Vec<usize>> = HashMap::new();
    for (k, e) in equations.iter().enumerate() {
        for c in std::iter::once(e.total).chain(e.parts.iter().copied()) {
            by_cell.entry(c).or_default().push(k);
        }
    }
    let started = std::time::Instant::now();
    let mut rounds = 0;
    let mut to_check: BTreeSet<(Option<usize>, usize)> = requirement.keys().copied().collect();
    loop {
        rounds += 1;
        close_single_gaps(table, &equations, &fixed, &mut status);
        let hidden: Vec<bool> = status.iter().map(|s| *s != Status::Released).collect();
        let bounds = audit_all(&hidden, &|q, c| to_check.contains(&(q, c)))?;
        if audit::trace() {
            eprintln!(
                "round {rounds} ({:.1} s): {} hidden, {} audited",
                started.elapsed().as_secs_f64(),
                hidden.iter().filter(|h| **h).count(),
                to_check.len()
            );
        }
        let failing: BTreeSet<(Option<usize>, usize)> = bounds
            .iter()
            .filter(|(q, b)| !requirement[&(*q, b.cell)].holds(b))
            .map(|(q, b)| (*q, b.cell))
            .collect();
        if failing.is_empty() {
            // In the first round every protected cell was audited on this very pattern.
            let certificate = if rounds == 1 {
                bounds
            } else {
                audit_all(&hidden, &|_, _| true)?
            };
            return Ok(Pattern {
                status,
                certificate: certificate.into_iter().map(|(_, b)| b).collect(),
                protection: requirement.into_values().collect(),
                rounds,
            });
        }
        // Widen each failing cell's interval: the cells a table with it at its required end
        // would change, else another box through it, else one more cell of its equations.
        let mut added = false;
        let cells: BTreeSet<usize> = failing.iter().map(|(_, c)| *c).collect();
        let weight = |c: usize| if table.is_margin(c) { 1.5 } else { 1.0 };
        for &f in &cells {
            // The released cells that a table with the cell at its required end would change:
            // hidden together, that table agrees with the release (counts).
            if let (Some(req), Some((_, b))) = (
                requirement.get(&(None, f)),
                bounds.iter().find(|(q, b)| q.is_none() && b.cell == f),
            ) {
                let hidden: Vec<bool> = status.iter().map(|s| *s != Status::Released).collect();
                let mut hide = Vec::new();
                for side in [
                    (b.lower > req.lower + 1e-6).then_some(repair::Side::Down(req.lower)),
                    (b.upper < req.upper - 1e-6).then_some(repair::Side::Up(req.upper)),
                ]
                .into_iter()
                .flatten()
                {
                    if let Some(cells) = repair::cells_to_hide(
                        table, &counts, &hidden, &equations, &by_cell, &weight, f, side,
                    ) {
                        hide.extend(cells);
                    }
                }
                if !hide.is_empty() {
                    if audit::trace() {
                        eprintln!(
                            "  failing {:?} = {} {b:?}: hiding {} cells",
                            table.labels(f),
                            table.cells[f].units,
                            hide.len()
                        );
                    }
                    if hide_released(&mut status, hide) {
                        added = true;
                        continue;
                    }
                }
            }
            // Another box through the cell (one with a released corner; one that can carry
            // the cell to its protection levels by itself if there is one): several paths
            // at once, where one more cell at a time may take hundreds of rounds.
            if failing.contains(&(None, f)) {
                let req = &requirement[&(None, f)];
                let v = counts[f];
                let up = (req.upper - v).max(0.0).ceil() as i64;
                let down = (v - req.lower).max(0.0).ceil() as i64;
                if let Some((corners, _)) = cheapest_box(table, &status, &fixed, f, up, down, true)
                    && hide_released(&mut status, corners)
                {
                    added = true;
                    continue;
                }
            }
            let around = by_cell
                .get(&f)
                .into_iter()
                .flatten()
                .map(|&k| &equations[k])
                .flat_map(|e| std::iter::once(e.total).chain(e.parts.iter().copied()));
            if let Some(c) = cheapest(table, &status, &fixed, around) {
                if audit::trace() {
                    let b = bounds.iter().find(|(_, b)| b.cell == f).map(|x| x.1);
                    eprintln!(
                        "  failing {:?} = {} {:?}: hiding {:?} = {}",
                        table.labels(f),
                        table.cells[f].units,
                        b,
                        table.labels(c),
                        table.cells[c].units
                    );
                }
                status[c] = Status::Secondary;
                added = true;
            }
        }
        if !added {
            // Every neighbour is hidden: widen through any released cell.
            match cheapest(table, &status, &fixed, 0..table.cells.len()) {
                Some(c) => status[c] = Status::Secondary,
                None => {
                    return Err(DisclosureError::Audit(
                        "no pattern protects the sensitive cells: every cell is hidden".into(),
                    ));
                }
            }
        }
        to_check = failing;
    }
}

/// The corners of the cheapest box through `cell`: in every dimension where the cell's node
/// has siblings, the node and one sibling. Cost: units of the corners not yet hidden; empty
/// corners are not allowed (an empty cell is no cover). A box whose corners of the other
/// parity hold at least `up` units and those of the cell's parity at least `down` protects the
/// cell by itself (shifting values along it keeps every sum); the cheapest such box is taken,
/// else the cheapest box. `None` when no box exists.
fn cheapest_box(
    table: &Table,
    status: &[Status],
    fixed: &[bool],
    cell: usize,
    up: i64,
    down: i64,
    fresh: bool,
) -> Option<(Vec<usize>, bool)> {
    let nodes = table.nodes(cell);
    let mut options: Vec<Vec<usize>> = Vec::new();
    for (d, dim) in table.dimensions.iter().enumerate() {
        let n = nodes[d];
        let siblings: Vec<usize> = match dim.nodes[n].parent {
            Some(p) => dim.nodes[p]
                .children
                .iter()
                .copied()
                .filter(|&s| s != n)
                .collect(),
            None => Vec::new(),
        };
        options.push(siblings);
    }
    let free: Vec<usize> = (0..options.len())
        .filter(|&d| !options[d].is_empty())
        .collect();
    if free.is_empty() {
        return None;
    }
    let mut best: Option<(i64, Vec<usize>)> = None;
    let mut best_protecting: Option<(i64, Vec<usize>)> = None;
    let mut choice = vec![0usize; free.len()];
    loop {
        // Corners: every mix of the cell's node and the chosen sibling in the free dimensions.
        let mut corners = Vec::with_capacity(1 << free.len());
        let mut ok = true;
        let mut protecting = true;
        let mut cost = 0i64;
        for mask in 0..(1usize << free.len()) {
            let mut at = nodes.clone();
            for (k, &d) in free.iter().enumerate() {
                if mask & (1 << k) != 0 {
                    at[d] = options[d][choice[k]];
                }
            }
            let c = table.index(&at);
            let units = table.cells[c].units;
            if status[c] == Status::Released {
                if units == 0 {
                    ok = false;
                    break;
                }
                // A cell public already is poor cover: only when nothing else will do.
                cost += if fixed[c] { units + 1_000_000 } else { units };
            }
            if mask != 0 {
                let need = if mask.count_ones() % 2 == 1 { up } else { down };
                protecting &= units >= need;
            }
            corners.push(c);
        }
        // A fresh box hides something new.
        ok &= !fresh || cost > 0;
        if ok && protecting && best_protecting.as_ref().is_none_or(|(b, _)| cost < *b) {
            best_protecting = Some((cost, corners.clone()));
        }
        if ok && best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, corners));
        }
        // Next combination of siblings.
        let mut k = 0;
        loop {
            if k == free.len() {
                return best_protecting
                    .map(|(_, c)| (c, true))
                    .or(best.map(|(_, c)| (c, false)));
            }
            choice[k] += 1;
            if choice[k] < options[free[k]].len() {
                break;
            }
            choice[k] = 0;
            k += 1;
        }
    }
}

/// Hides (as secondary) the released cells among `cells`; whether any was.
fn hide_released(status: &mut [Status], cells: impl IntoIterator<Item = usize>) -> bool {
    let mut any = false;
    for c in cells {
        if status[c] == Status::Released {
            status[c] = Status::Secondary;
            any = true;
        }
    }
    any
}

/// No equation may have exactly one hidden cell (it would be recomputed exactly).
fn close_single_gaps(table: &Table, equations: &[Equation], fixed: &[bool], status: &mut [Status]) {
    loop {
        let mut changed = false;
        for e in equations {
            let members = || std::iter::once(e.total).chain(e.parts.iter().copied());
            let hidden = members().filter(|&c| status[c] != Status::Released).count();
            if hidden == 1
                && let Some(c) = cheapest(table, status, fixed, members())
            {
                status[c] = Status::Secondary;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}
