//! The search for small groups of persons that a system of released counts pins down: every
//! union of small atoms whose count every solution holds between 1 and the threshold − 1.
//!
//! The unknowns (atoms) split into groups linked by equations; each group is searched on its
//! own. A large group is first searched on *blocks*: the group's unknowns are cut into blocks
//! of at most [`Limits::block`] unknowns, and each equation is split into its part in each block, held
//! at its true value. Every solution of the blocks is a solution of the group (the parts add up
//! to the equation), so a witness found on the blocks — a solution that empties a union, or
//! carries an atom to the threshold — holds for the group; only what the blocks cannot settle
//! (a union no block solution empties) is solved on the whole group, and in a group too large
//! to solve whole ([`Limits::whole`]) it is taken as pinned (a cell is hidden for it: the search errs
//! on the side of hiding).

use crate::DisclosureError;
use crate::audit;
use crate::table::Equation;
use microlp::OptimizationDirection::{Maximize, Minimize};
use std::collections::{BTreeMap, HashMap};

const EPS: f64 = 1e-6;

/// The root of `x` in a union-find forest (with path compression).
pub(crate) fn find(parent: &mut [u32], x: u32) -> u32 {
    let mut r = x;
    while parent[r as usize] != r {
        r = parent[r as usize];
    }
    let mut y = x;
    while parent[y as usize] != r {
        let next = parent[y as usize];
        parent[y as usize] = r;
        y = next;
    }
    r
}

/// The unknowns of a system linked by equations (and by `links`, sets of unknowns to solve
/// together): per group, its equations and a numbering of its unknowns, keyed by a root
/// unknown; and the root of every unknown.
pub(crate) fn linked_groups(
    hidden: &[bool],
    equations: &[Equation],
    links: &[Vec<usize>],
) -> (Vec<u32>, BTreeMap<u32, Group>) {
    let n = hidden.len();
    let mut parent: Vec<u32> = (0..n as u32).collect();
    let mut join = |members: &mut dyn Iterator<Item = usize>| {
        if let Some(first) = members.next() {
            for c in members {
                let (x, y) = (find(&mut parent, first as u32), find(&mut parent, c as u32));
                if x != y {
                    parent[x as usize] = y;
                }
            }
        }
    };
    for e in equations {
        join(
            &mut std::iter::once(e.total)
                .chain(e.parts.iter().copied())
                .filter(|&c| hidden[c]),
        );
    }
    for members in links {
        join(&mut members.iter().copied());
    }
    let root: Vec<u32> = (0..n as u32).map(|c| find(&mut parent, c)).collect();
    let mut groups: BTreeMap<u32, Group> = BTreeMap::new();
    for (k, e) in equations.iter().enumerate() {
        let mut unknowns = std::iter::once(e.total)
            .chain(e.parts.iter().copied())
            .filter(|&c| hidden[c])
            .peekable();
        let Some(&first) = unknowns.peek() else {
            continue;
        };
        let g = groups.entry(root[first]).or_default();
        g.equations.push(k);
        for c in unknowns {
            let next = g.pos.len();
            g.pos.entry(c).or_insert(next);
        }
    }
    for members in links {
        for &c in members {
            let g = groups.entry(root[c]).or_default();
            let next = g.pos.len();
            g.pos.entry(c).or_insert(next);
        }
    }
    (root, groups)
}

/// A group of linked unknowns: its equations and its own numbering of its unknowns.
#[derive(Debug, Default)]
pub(crate) struct Group {
    pub(crate) equations: Vec<usize>,
    pub(crate) pos: HashMap<usize, usize>,
}

/// What an LP over a group answered.
pub(crate) enum Lp {
    /// An optimal solution, in the group's numbering.
    Solved(Vec<f64>),
    Unbounded,
    Infeasible,
}

/// A row of an LP: `Σ coef·x = rhs`, as (unknown, coefficient) pairs and the right-hand side.
type Row = (Vec<(usize, f64)>, f64);

/// A group cut into blocks: the block of each unknown, and per block its LP and its unknowns
/// in the group's numbering.
type Blocks = (Vec<usize>, Vec<(GroupLp, Vec<usize>)>);

/// The LPs over one group: its equations as rows `Σ coef·x = rhs` over its unknowns (x ≥ 0).
pub(crate) struct GroupLp {
    rows: Vec<Row>,
    pub(crate) n: usize,
}

impl GroupLp {
    pub(crate) fn new(
        group: &Group,
        values: &[f64],
        hidden: &[bool],
        equations: &[Equation],
    ) -> GroupLp {
        let rows = group
            .equations
            .iter()
            .map(|&k| {
                let e = &equations[k];
                let mut coef = Vec::new();
                let mut rhs = 0.0;
                for (c, sign) in
                    std::iter::once((e.total, 1.0)).chain(e.parts.iter().map(|&p| (p, -1.0)))
                {
                    if hidden[c] {
                        coef.push((group.pos[&c], sign));
                    } else {
                        rhs -= sign * values[c];
                    }
                }
                (coef, rhs)
            })
            .collect();
        GroupLp {
            rows,
            n: group.pos.len(),
        }
    }

    /// Optimises `Σ weight·x` (plus, per set in `capped`, the set's sum counted up to `t`),
    /// with the unknowns of `zero` held at 0.
    pub(crate) fn solve(
        &self,
        dir: microlp::OptimizationDirection,
        weights: &[(usize, f64)],
        capped: &[Vec<usize>],
        zero: &[usize],
        t: f64,
    ) -> Result<Lp, DisclosureError> {
        let (p, vars) = self.problem(dir, weights, capped, zero, t);
        match p.solve() {
            Ok(o) => {
                let sol = solution(o)?;
                Ok(Lp::Solved(vars.iter().map(|v| sol.var_value(*v)).collect()))
            }
            Err(microlp::Error::Unbounded) => Ok(Lp::Unbounded),
            Err(microlp::Error::Infeasible) => Ok(Lp::Infeasible),
            Err(e) => Err(DisclosureError::Audit(e.to_string())),
        }
    }

    /// The LP of [`GroupLp::solve`], and its unknowns' variables.
    fn problem(
        &self,
        dir: microlp::OptimizationDirection,
        weights: &[(usize, f64)],
        capped: &[Vec<usize>],
        zero: &[usize],
        t: f64,
    ) -> (microlp::Problem, Vec<microlp::Variable>) {
        use microlp::{ComparisonOp, Problem};
        let mut w = vec![0.0; self.n];
        for &(i, x) in weights {
            w[i] += x;
        }
        let mut fixed = vec![false; self.n];
        for &i in zero {
            fixed[i] = true;
        }
        let mut p = Problem::new(dir);
        let vars: Vec<_> = w
            .iter()
            .zip(&fixed)
            .map(|(&x, &f)| p.add_var(x, (0.0, if f { 0.0 } else { f64::INFINITY })))
            .collect();
        for (coef, rhs) in &self.rows {
            let terms: Vec<_> = coef.iter().map(|&(i, s)| (vars[i], s)).collect();
            p.add_constraint(&terms, ComparisonOp::Eq, *rhs);
        }
        for members in capped {
            let y = p.add_var(1.0, (0.0, t));
            let mut terms = vec![(y, 1.0)];
            terms.extend(members.iter().map(|&i| (vars[i], -1.0)));
            p.add_constraint(&terms, ComparisonOp::Le, 0.0);
        }
        (p, vars)
    }
}

/// The solution of a solve that ended (an interrupted one is an audit error).
fn solution(o: microlp::SolveOutcome) -> Result<microlp::Solution, DisclosureError> {
    o.into_solution()
        .map_err(|e| DisclosureError::Audit(format!("{e:?}")))
}

/// The whole group's LP minimising the sum of the small unknowns searched, solved once: each
/// union is emptied by fixing its unknowns at 0 from this solution (a few dual simplex steps
/// instead of a new solve).
struct Warm {
    root: microlp::Solution,
    vars: Vec<microlp::Variable>,
}

impl Warm {
    fn new(whole: &GroupLp, small: &[usize], t: f64) -> Result<Warm, DisclosureError> {
        let w: Vec<(usize, f64)> = small.iter().map(|&g| (g, 1.0)).collect();
        let (p, vars) = whole.problem(Minimize, &w, &[], &[], t);
        let root = match p.solve() {
            Ok(o) => solution(o)?,
            Err(microlp::Error::Infeasible | microlp::Error::Unbounded) => {
                return Err(DisclosureError::Audit(
                    "the released counts contradict each other".into(),
                ));
            }
            Err(e) => return Err(DisclosureError::Audit(e.to_string())),
        };
        Ok(Warm { root, vars })
    }

    /// A solution with the unknowns of `zero` at 0 and the sum of the others searched as
    /// small as it can; `None` when none exists.
    fn empty(&self, zero: &[usize]) -> Result<Option<Vec<f64>>, DisclosureError> {
        let mut sol = self.root.clone();
        for &g in zero {
            sol = match sol.fix_var(self.vars[g], 0.0) {
                Ok(o) => solution(o)?,
                Err(microlp::Error::Infeasible) => return Ok(None),
                Err(e) => return Err(DisclosureError::Audit(e.to_string())),
            };
        }
        Ok(Some(self.vars.iter().map(|v| sol.var_value(*v)).collect()))
    }
}

impl GroupLp {
    /// The rows' unknowns cut into blocks of at most `max` unknowns (rows taken shortest
    /// first, two blocks joined when a row spans them and they fit together), and per block
    /// its rows: each row's part in the block, with `truth`'s value of that part as its
    /// right-hand side. Returns the block of each unknown and the blocks' LPs with, per
    /// block, its unknowns in the group's numbering.
    fn blocks(&self, truth: &[f64], max: usize) -> Blocks {
        let mut parent: Vec<u32> = (0..self.n as u32).collect();
        let mut size = vec![1usize; self.n];
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by_key(|&r| self.rows[r].0.len());
        for r in order {
            let coef = &self.rows[r].0;
            let mut roots: Vec<u32> = coef
                .iter()
                .map(|&(i, _)| find(&mut parent, i as u32))
                .collect();
            roots.sort_unstable();
            roots.dedup();
            let total: usize = roots.iter().map(|&x| size[x as usize]).sum();
            if total > max {
                continue;
            }
            let first = roots[0];
            for &x in &roots[1..] {
                parent[x as usize] = first;
            }
            size[first as usize] = total;
        }
        let mut block_of_root: HashMap<u32, usize> = HashMap::new();
        let mut block = vec![0usize; self.n];
        let mut members: Vec<Vec<usize>> = Vec::new();
        let mut local = vec![0usize; self.n];
        for i in 0..self.n {
            let r = find(&mut parent, i as u32);
            let b = *block_of_root.entry(r).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            block[i] = b;
            local[i] = members[b].len();
            members[b].push(i);
        }
        let mut rows: Vec<Vec<Row>> = vec![Vec::new(); members.len()];
        for (coef, _) in &self.rows {
            let mut parts: BTreeMap<usize, (Vec<(usize, f64)>, f64)> = BTreeMap::new();
            for &(i, s) in coef {
                let p = parts.entry(block[i]).or_default();
                p.0.push((local[i], s));
                p.1 += s * truth[i];
            }
            for (b, row) in parts {
                rows[b].push(row);
            }
        }
        let lps = rows
            .into_iter()
            .zip(members)
            .map(|(rows, m)| (GroupLp { rows, n: m.len() }, m))
            .collect();
        (block, lps)
    }
}

/// A group of persons the releases pin down: unknowns (atoms) whose sum every solution holds
/// between 1 and the threshold − 1.
#[derive(Debug, Clone)]
pub(crate) struct PinnedUnion {
    /// The unknowns, in the system's numbering.
    pub(crate) members: Vec<usize>,
    pub(crate) lower: f64,
    pub(crate) upper: f64,
}

/// At most this many LPs per group in the search for pinned unions; a group needing more is
/// refused (the audit fails closed rather than release what it could not check).
const UNION_SEARCH_BUDGET: usize = 20_000;

/// At most this many unions tried per group, by LP or not (the search's time is bounded
/// either way; beyond, the release is refused).
const UNIONS_TRIED_BUDGET: usize = 500_000;

/// How many of the last solutions found are kept to empty unions without an LP.
const SEEN: usize = 64;

/// The sizes that bound the search for pinned unions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Groups with more unknowns than this are searched on blocks of at most this many first.
    pub(crate) block: usize,
    /// Groups with more unknowns than this are never solved whole (one LP could take
    /// minutes): what their blocks cannot settle is taken as pinned, and a cell is hidden
    /// for it.
    pub(crate) whole: usize,
    /// In a group too large to solve whole, at most this many small unknowns left open by
    /// the blocks: more, and the search would take most of them as pinned one LP at a time
    /// (hours, and nearly every cell hidden); the release is refused at once instead.
    pub(crate) open_small: usize,
    /// In a group too large to solve whole, at most this many small unknowns before the
    /// blocks are even tried: beyond it the releases together have cut the persons so finely
    /// (a reconstruction of the persons) that the release is refused at once.
    pub(crate) small: usize,
}

impl Limits {
    /// The limits of the gate.
    pub(crate) const GATE: Limits = Limits {
        block: 400,
        whole: 10_000,
        open_small: 2_000,
        small: 20_000,
    };

    /// The limits in use on this thread.
    pub(crate) fn get() -> Limits {
        LIMITS.with(|l| l.get())
    }
}

thread_local! {
    /// The limits in use: [`Limits::GATE`], smaller in tests so that small systems are
    /// searched on blocks too, or refused as too fine.
    static LIMITS: std::cell::Cell<Limits> = const { std::cell::Cell::new(Limits::GATE) };
}

/// Uses `limits` on this thread (tests).
#[cfg(test)]
pub(crate) fn set_limits(limits: Limits) {
    LIMITS.with(|l| l.set(limits));
}

/// The refusal when a group is too finely cut to be checked.
fn too_fine(n: usize, small: usize, t: i64) -> DisclosureError {
    DisclosureError::Audit(format!(
        "together with the releases before it, this table cuts the persons into {n} linked groups, {small} of them of fewer than {t} persons that the gate cannot rule out; it cannot check every combination of so many in bounded time, so nothing is released (ask for fewer characteristics crossed, larger areas or wider age bands: docs/disclosure.md, \"When the gate refuses\")"
    ))
}

/// Where witnesses are sought: the whole group, or its blocks first.
struct Space {
    whole: GroupLp,
    t: f64,
    /// When the group is large: the block of each unknown, and the blocks (LP and unknowns).
    blocks: Option<Blocks>,
    /// Per block, the last solution emptying as many small unknowns as it can (block
    /// numbering), reused for blocks a union does not touch.
    root: Vec<Vec<f64>>,
    /// LPs solved on the whole group (large groups).
    whole_lps: usize,
    /// Unions that neither the blocks nor the whole group (too large) settled.
    unsettled: usize,
    /// The whole group's LP, once a union needs it.
    warm: Option<Warm>,
    /// The true counts (group numbering).
    truth: Vec<f64>,
    /// Solutions found carrying small unknowns high (group numbering).
    high: Vec<Vec<f64>>,
}

impl Space {
    fn new(whole: GroupLp, truth: &[f64], t: f64) -> Space {
        let block = Limits::get().block;
        let blocks = (whole.n > block).then(|| whole.blocks(truth, block));
        Space {
            whole,
            t,
            blocks,
            root: Vec::new(),
            whole_lps: 0,
            unsettled: 0,
            warm: None,
            truth: truth.to_vec(),
            high: Vec::new(),
        }
    }

    /// The small unknowns (`small`, group numbering) that no solution found carries to `t`.
    fn tight(&mut self, small: &[usize]) -> Result<Vec<usize>, DisclosureError> {
        let mut small = small.to_vec();
        let mut parts: Vec<(&GroupLp, Vec<usize>)> = match &self.blocks {
            None => Vec::new(),
            Some((_, blocks)) => blocks.iter().map(|(lp, m)| (lp, m.clone())).collect(),
        };
        // The whole group last (when it is not too large): blocks hold each equation's part
        // at its true value, so they often carry nothing to `t` that the whole group can.
        let whole = self.whole.n <= Limits::get().whole;
        if whole {
            parts.push((&self.whole, (0..self.whole.n).collect()));
        }
        let blocks = parts.len() - usize::from(whole);
        // The blocks' solutions put together (each block's with the others at their true
        // values is a solution of the group, and so are all of them at once).
        let mut assembled = self.truth.clone();
        let mut high: Vec<Vec<f64>> = Vec::new();
        for (k, (lp, members)) in parts.into_iter().enumerate() {
            let local: HashMap<usize, usize> =
                members.iter().enumerate().map(|(l, &g)| (g, l)).collect();
            for _ in 0..4 {
                let here: Vec<usize> = small.iter().filter_map(|g| local.get(g).copied()).collect();
                if here.is_empty() {
                    break;
                }
                let capped: Vec<Vec<usize>> = here.iter().map(|&l| vec![l]).collect();
                let Lp::Solved(x) = lp.solve(Maximize, &[], &capped, &[], self.t)? else {
                    break;
                };
                let before = small.len();
                small.retain(|g| local.get(g).is_none_or(|&l| x[l] < self.t - EPS));
                if k < blocks {
                    for (l, &g) in members.iter().enumerate() {
                        assembled[g] = x[l];
                    }
                } else {
                    high.push(x);
                }
                if small.len() == before {
                    break;
                }
            }
        }
        if blocks > 0 {
            high.push(assembled);
        }
        self.high = high;
        Ok(small)
    }

    /// Per solution found carrying small unknowns high, the sum of `members` in it.
    fn high_sums(&self, members: &[usize]) -> Vec<f64> {
        self.high
            .iter()
            .map(|x| members.iter().map(|&g| x[g]).sum())
            .collect()
    }

    /// Whether a solution already found carries the union of members summing to `sums` (from
    /// [`Space::high_sums`]) and unknown `g` to `t`: then neither they nor any union holding
    /// them are pinned.
    fn reaches_t(&self, sums: &[f64], g: usize) -> bool {
        self.high
            .iter()
            .zip(sums)
            .any(|(x, s)| s + x[g] >= self.t - EPS)
    }

    /// A solution (group numbering) holding the unknowns of `zero` at 0 and with the sum of
    /// `rest` as small as it can on the blocks it solves; `None` when no solution empties
    /// `zero`.
    fn empty(
        &mut self,
        zero: &[usize],
        rest: &[usize],
    ) -> Result<Option<Vec<f64>>, DisclosureError> {
        let contradiction =
            || DisclosureError::Audit("the released counts contradict each other".into());
        if let Some((block, blocks)) = &self.blocks {
            let first = self.root.is_empty();
            let touched: Vec<bool> = (0..blocks.len())
                .map(|b| first || zero.iter().any(|&g| block[g] == b))
                .collect();
            let mut x = vec![0.0; self.whole.n];
            let mut solved: Vec<Option<Vec<f64>>> = vec![None; blocks.len()];
            let mut all_emptied = true;
            for (b, (lp, members)) in blocks.iter().enumerate() {
                let y = if touched[b] {
                    let local: HashMap<usize, usize> =
                        members.iter().enumerate().map(|(l, &g)| (g, l)).collect();
                    let w: Vec<(usize, f64)> = rest
                        .iter()
                        .filter_map(|g| local.get(g).map(|&l| (l, 1.0)))
                        .collect();
                    let z: Vec<usize> = zero.iter().filter_map(|g| local.get(g).copied()).collect();
                    match lp.solve(Minimize, &w, &[], &z, self.t)? {
                        Lp::Solved(y) => y,
                        Lp::Infeasible if !z.is_empty() => {
                            all_emptied = false;
                            break;
                        }
                        _ => return Err(contradiction()),
                    }
                } else {
                    self.root[b].clone()
                };
                for (l, &g) in members.iter().enumerate() {
                    x[g] = y[l];
                }
                solved[b] = Some(y);
            }
            if all_emptied {
                if first {
                    self.root = solved
                        .into_iter()
                        .map(|s| s.expect("every block solved"))
                        .collect();
                }
                return Ok(Some(x));
            }
            // No solution of the blocks empties it: ask the whole group, if it is not too
            // large; else it is taken as one no solution empties.
            if self.whole.n > Limits::get().whole {
                self.unsettled += 1;
                return Ok(None);
            }
            self.whole_lps += 1;
        }
        if self.warm.is_none() {
            let mut searched: Vec<usize> = zero.iter().chain(rest).copied().collect();
            searched.sort_unstable();
            self.warm = Some(Warm::new(&self.whole, &searched, self.t)?);
        }
        let warm = self.warm.as_ref().expect("just built");
        warm.empty(zero)
    }

    /// The exact minimum and maximum of the sum of `members` over the whole group (its true
    /// sum, `truth`, for both when the group is too large to solve whole).
    fn bounds(&mut self, members: &[usize], truth: f64) -> Result<(f64, f64), DisclosureError> {
        if self.whole.n > Limits::get().whole {
            // Not solved: taken as pinned to its true count.
            return Ok((truth, truth));
        }
        self.whole_lps += 2;
        let sum: Vec<(usize, f64)> = members.iter().map(|&i| (i, 1.0)).collect();
        let lower = match self.whole.solve(Minimize, &sum, &[], &[], self.t)? {
            Lp::Solved(x) => members.iter().map(|&i| x[i]).sum(),
            _ => {
                return Err(DisclosureError::Audit(
                    "the released counts contradict each other".into(),
                ));
            }
        };
        let upper = match self.whole.solve(Maximize, &sum, &[], &[], self.t)? {
            Lp::Solved(y) => members.iter().map(|&i| y[i]).sum(),
            _ => f64::INFINITY,
        };
        Ok((lower, upper))
    }
}

/// Every union of `small` unknowns (each with its true count, 1 to `t` − 1) that the system
/// pins between 1 and `t` − 1, searched group by group.
///
/// A union is pinned when no solution empties it (its minimum is above 0) and none carries it
/// to `t` (its maximum is below `t`). Only unions of small unknowns whose true counts add up
/// to less than `t` can be pinned (the true counts are a solution), and a pinned union holds
/// a minimal union that no solution empties, pinned too: the search enumerates those. An
/// unknown that some solution carries to `t` is in no pinned union, and a solution that
/// empties a set of unknowns shows that every union of them can be emptied, so every union no
/// solution empties holds an unknown that solution leaves positive. The search grows a union
/// by one such unknown at a time (a branch-and-bound over hitting sets, each branch
/// forbidding the unknowns of the branches before it, so each union is visited once), asking
/// each time for a solution that empties the union and as many small unknowns as it can. A
/// union no solution empties is then bounded exactly.
pub(crate) fn pinned_unions(
    values: &[f64],
    hidden: &[bool],
    equations: &[Equation],
    small: &[(usize, i64)],
    t: i64,
) -> Result<Vec<PinnedUnion>, DisclosureError> {
    let links: Vec<Vec<usize>> = small.iter().map(|&(c, _)| vec![c]).collect();
    let (root, groups) = linked_groups(hidden, equations, &links);
    let mut by_group: BTreeMap<u32, Vec<(usize, i64)>> = BTreeMap::new();
    for &(c, n) in small {
        by_group.entry(root[c]).or_default().push((c, n));
    }
    let mut out = Vec::new();
    for (key, small) in by_group {
        let clock = std::time::Instant::now();
        let group = &groups[&key];
        let mut truth = vec![0.0; group.pos.len()];
        for (&c, &i) in &group.pos {
            truth[i] = values[c];
        }
        let mut space = Space::new(
            GroupLp::new(group, values, hidden, equations),
            &truth,
            t as f64,
        );
        let count_of: HashMap<usize, i64> =
            small.iter().map(|&(c, n)| (group.pos[&c], n)).collect();
        let system_of: HashMap<usize, usize> =
            small.iter().map(|&(c, _)| (group.pos[&c], c)).collect();
        let all: Vec<usize> = small.iter().map(|(c, _)| group.pos[c]).collect();
        let limits = Limits::get();
        if space.whole.n > limits.whole && all.len() > limits.small {
            return Err(too_fine(space.whole.n, all.len(), t));
        }
        let at = space.tight(&all)?;
        if space.whole.n > limits.whole && at.len() > limits.open_small {
            return Err(too_fine(space.whole.n, at.len(), t));
        }
        if audit::trace() {
            eprintln!(
                "  union search: group of {} unknowns{}: {} of {} small that no solution found carries to {t} ({:.2} s)",
                space.whole.n,
                match &space.blocks {
                    Some((_, b)) => format!(" ({} blocks)", b.len()),
                    None => String::new(),
                },
                at.len(),
                all.len(),
                clock.elapsed().as_secs_f64()
            );
        }
        if at.is_empty() {
            continue;
        }
        let root_witness = space
            .empty(&[], &at)?
            .expect("the true counts are a solution");
        struct Node {
            members: Vec<usize>,
            count: i64,
            forbidden: Vec<usize>,
            witness: Vec<f64>,
        }
        let mut stack = vec![Node {
            members: Vec::new(),
            count: 0,
            forbidden: Vec::new(),
            witness: root_witness,
        }];
        let mut lps = 0usize;
        // The last solutions found, and how many unions one of them emptied without an LP.
        let mut seen: Vec<Vec<f64>> = Vec::new();
        let mut reused = 0usize;
        while let Some(node) = stack.pop() {
            let member_atoms: Vec<usize> = node.members.iter().map(|&m| at[m]).collect();
            let sums = space.high_sums(&member_atoms);
            let branch: Vec<usize> = (0..at.len())
                .filter(|&i| {
                    node.witness[at[i]] > EPS
                        && !node.members.contains(&i)
                        && !node.forbidden.contains(&i)
                        && node.count + count_of[&at[i]] < t
                        && !space.reaches_t(&sums, at[i])
                })
                .collect();
            for (j, &b) in branch.iter().enumerate() {
                let mut members = node.members.clone();
                members.push(b);
                let mut forbidden = node.forbidden.clone();
                forbidden.extend(&branch[..j]);
                let zero: Vec<usize> = members.iter().map(|&i| at[i]).collect();
                let count = node.count + count_of[&at[b]];
                if lps + reused >= UNIONS_TRIED_BUDGET {
                    return Err(DisclosureError::Audit(format!(
                        "the search for small groups pinned across releases tried more than {UNIONS_TRIED_BUDGET} unions in one group of {} unknowns: nothing is released",
                        space.whole.n
                    )));
                }
                // A solution found before that empties the union will do as its witness.
                if let Some(witness) = seen
                    .iter()
                    .rev()
                    .find(|x| zero.iter().all(|&g| x[g] <= EPS))
                {
                    stack.push(Node {
                        members,
                        count,
                        forbidden,
                        witness: witness.clone(),
                    });
                    reused += 1;
                    continue;
                }
                if lps >= UNION_SEARCH_BUDGET {
                    return Err(DisclosureError::Audit(format!(
                        "the search for small groups pinned across releases needs more than {UNION_SEARCH_BUDGET} LPs in one group of {} unknowns: nothing is released",
                        space.whole.n
                    )));
                }
                lps += 1;
                if lps.is_multiple_of(1000) && audit::trace() {
                    eprintln!(
                        "    {lps} unions tried by LP ({reused} by a solution found before), {} found pinned, {:.1} s",
                        out.len(),
                        clock.elapsed().as_secs_f64()
                    );
                }
                let rest: Vec<usize> = (0..at.len())
                    .filter(|i| !members.contains(i))
                    .map(|i| at[i])
                    .collect();
                match space.empty(&zero, &rest)? {
                    Some(witness) => {
                        if seen.len() == SEEN {
                            seen.remove(0);
                        }
                        seen.push(witness.clone());
                        stack.push(Node {
                            members,
                            count,
                            forbidden,
                            witness,
                        })
                    }
                    None => {
                        // No solution empties the union: bound it.
                        let (lower, upper) = space.bounds(&zero, count as f64)?;
                        if lower > EPS && upper < t as f64 - EPS {
                            out.push(PinnedUnion {
                                members: zero.iter().map(|i| system_of[i]).collect(),
                                lower,
                                upper,
                            });
                        }
                    }
                }
            }
        }
        if audit::trace() {
            eprintln!(
                "  union search: group of {} unknowns{}, {} small of which {} no solution found carries to {t}, {lps} unions tried by LP and {reused} by a solution found before, {} LPs on the whole group, {} taken as pinned unsolved, {:.2} s",
                space.whole.n,
                match &space.blocks {
                    Some((_, b)) => format!(" ({} blocks)", b.len()),
                    None => String::new(),
                },
                all.len(),
                at.len(),
                space.whole_lps,
                space.unsettled,
                clock.elapsed().as_secs_f64()
            );
        }
    }
    Ok(out)
}
