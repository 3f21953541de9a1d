//! Primary and secondary suppression, decided on counts of distinct units, certified by the
//! LP audit. Deterministic: the same table and policy give the same pattern.

use crate::DisclosureError;
use crate::audit::{self, Bounds};
use crate::table::{Equation, Table};
use serde::{Deserialize, Serialize};

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
    /// Hidden because, differenced with a cell released earlier to the same requester (or in
    /// the same run), it would reveal a small group of units.
    Differencing,
}

/// The interval a hidden cell's derivable bounds must contain (tau-ARGUS's lower and upper
/// protection levels, as absolute values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    /// Cell index.
    pub cell: usize,
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
            lower: 0.0,
            upper: policy.min_units as f64,
        }
    }

    /// A cell hidden against differencing, of value `v`: any small difference d (0 < d <
    /// threshold) with a nested released cell must stay undetermined, which holds when the
    /// attacker's interval contains [v − threshold, v + threshold].
    pub fn differencing(cell: usize, v: f64, policy: &Policy) -> Protection {
        let t = policy.min_units as f64;
        Protection {
            cell,
            lower: (v - t).max(0.0),
            upper: v + t,
        }
    }

    /// Whether the attacker's interval `b` covers the required one.
    pub fn holds(&self, b: &Bounds) -> bool {
        const EPS: f64 = 1e-6;
        b.lower <= self.lower + EPS && b.upper >= self.upper - EPS
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
    candidates: impl Iterator<Item = usize>,
) -> Option<usize> {
    candidates
        .filter(|&c| status[c] == Status::Released && table.cells[c].units > 0)
        .min_by_key(|&c| (table.cells[c].units, table.is_margin(c), c))
}

/// Decides the suppression pattern and audits it.
pub fn suppress(table: &Table, policy: &Policy) -> Result<Pattern, DisclosureError> {
    suppress_with(table, policy, &[])
}

/// Decides the suppression pattern with `differencing` cells hidden and protected too (cells
/// that a cell released earlier would difference down to a small group), and audits it.
pub fn suppress_with(
    table: &Table,
    policy: &Policy,
    differencing: &[usize],
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
    for &c in differencing {
        if status[c] == Status::Released {
            status[c] = Status::Differencing;
        }
    }
    let values: Vec<f64> = table.cells.iter().map(|c| c.units as f64).collect();
    let requirement: std::collections::BTreeMap<usize, Protection> = (0..status.len())
        .filter_map(|c| match status[c] {
            Status::Primary => Some((c, Protection::small(c, policy))),
            Status::Differencing => Some((c, Protection::differencing(c, values[c], policy))),
            _ => None,
        })
        .collect();
    let primaries: Vec<usize> = requirement.keys().copied().collect();
    // The hypercube method (as in tau-ARGUS's GHMITER): hide each small cell with the corners
    // of the cheapest box around it (one sibling per dimension), so that every equation
    // through it has a second hidden cell and a swap of values along the box stays consistent.
    for &p in &primaries {
        if let Some(corners) = cheapest_box(table, &status, p) {
            for c in corners {
                if status[c] == Status::Released {
                    status[c] = Status::Secondary;
                }
            }
        }
    }
    // Hiding more cells only widens every interval (fewer released constraints), so a cell
    // protected once stays protected: each round audits only the cells that failed the round
    // before, and the certificate is recomputed once on the final pattern.
    let mut rounds = 0;
    let mut to_check = primaries.clone();
    loop {
        rounds += 1;
        close_single_gaps(table, &equations, &mut status);
        let hidden: Vec<bool> = status.iter().map(|s| *s != Status::Released).collect();
        let bounds = audit::bounds(&values, &hidden, &equations, &to_check)?;
        let failing: Vec<usize> = bounds
            .iter()
            .filter(|b| !requirement[&b.cell].holds(b))
            .map(|b| b.cell)
            .collect();
        if failing.is_empty() {
            // In the first round every small cell was audited on this very pattern.
            let certificate = if rounds == 1 {
                bounds
            } else {
                audit::bounds(&values, &hidden, &equations, &primaries)?
            };
            return Ok(Pattern {
                status,
                certificate,
                protection: requirement.into_values().collect(),
                rounds,
            });
        }
        // Widen each failing cell's interval: hide one more cell in one of its equations.
        let mut added = false;
        for &f in &failing {
            let around = equations
                .iter()
                .filter(|e| e.total == f || e.parts.contains(&f))
                .flat_map(|e| std::iter::once(e.total).chain(e.parts.iter().copied()));
            if let Some(c) = cheapest(table, &status, around) {
                status[c] = Status::Secondary;
                added = true;
            }
        }
        if !added {
            // Every neighbour is hidden: widen through any released cell.
            match cheapest(table, &status, 0..table.cells.len()) {
                Some(c) => status[c] = Status::Secondary,
                None => {
                    return Err(DisclosureError::Audit(
                        "no pattern protects the small cells: every cell is hidden".into(),
                    ));
                }
            }
        }
        to_check = failing;
    }
}

/// The corners of the cheapest box through `cell`: in every dimension where the cell's node
/// has siblings, the node and one sibling. Cost: units of the corners not yet hidden; empty
/// corners are not allowed (an empty cell is no cover). `None` when no box exists.
fn cheapest_box(table: &Table, status: &[Status], cell: usize) -> Option<Vec<usize>> {
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
    let mut choice = vec![0usize; free.len()];
    loop {
        // Corners: every mix of the cell's node and the chosen sibling in the free dimensions.
        let mut corners = Vec::with_capacity(1 << free.len());
        let mut ok = true;
        let mut cost = 0i64;
        for mask in 0..(1usize << free.len()) {
            let mut at = nodes.clone();
            for (k, &d) in free.iter().enumerate() {
                if mask & (1 << k) != 0 {
                    at[d] = options[d][choice[k]];
                }
            }
            let c = table.index(&at);
            if status[c] == Status::Released {
                if table.cells[c].units == 0 {
                    ok = false;
                    break;
                }
                cost += table.cells[c].units;
            }
            corners.push(c);
        }
        if ok && best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, corners));
        }
        // Next combination of siblings.
        let mut k = 0;
        loop {
            if k == free.len() {
                return best.map(|(_, c)| c);
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

/// No equation may have exactly one hidden cell (it would be recomputed exactly).
fn close_single_gaps(table: &Table, equations: &[Equation], status: &mut [Status]) {
    loop {
        let mut changed = false;
        for e in equations {
            let members = || std::iter::once(e.total).chain(e.parts.iter().copied());
            let hidden = members().filter(|&c| status[c] != Status::Released).count();
            if hidden == 1
                && let Some(c) = cheapest(table, status, members())
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
