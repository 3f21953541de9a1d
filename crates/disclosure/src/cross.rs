//! The audit of a release against every other: whatever anyone was given before (any
//! requester, the published Atlas) and the other releases of the same run.
//!
//! The released cells of all releases cut the persons into *atoms*: the persons who are in
//! exactly the same released cells (the regions of the cells' Venn diagram). Every released
//! count is a linear equation over atom counts, so an attacker who holds every release knows
//! exactly the non-negative atom counts that satisfy all of them, and nothing more. The audit
//! bounds, by the same linear programming as a table's own audit ([`crate::audit`]), every atom
//! whose true count is small (1 to threshold − 1) and every cell that some release hid while
//! small, when that cell is a union of atoms. Such a group is *pinned* when the attacker can
//! prove it has between 1 and threshold − 1 persons: its lower bound is above 0 and its upper
//! bound below the threshold. A pinned group is freed by hiding a cell of the new release
//! (which its table's own audit then protects by ± threshold), until nothing is pinned.
//!
//! The system stays small: a released cell whose children along some dimension are all
//! released adds nothing (its equation is the sum of theirs) and is left out, and the atoms
//! split into independent groups linked by shared equations; only the groups that contain an
//! equation of the new release can have changed, the others were audited before.

use crate::DisclosureError;
use crate::audit;
use crate::suppress::{Policy, Status};
use crate::table::{Equation, Table};
use crate::unions::{GroupLp, Lp, find, linked_groups, pinned_unions};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Checked by pairs of nested cells only, not by atoms (the Atlas's tables:
    /// docs/disclosure.md says why).
    pub pairs_only: bool,
}

/// A release being decided (alone, or with the others of a linked set such as the Atlas's
/// tables): its table and its current pattern.
#[derive(Debug, Clone, Copy)]
pub struct New<'a> {
    /// Its table (with the units of every cell).
    pub table: &'a Table,
    /// The current status of its cells.
    pub status: &'a [Status],
    /// Its policy.
    pub policy: Policy,
}

/// A cell of a new table to hide because, with the earlier releases (and the other new ones),
/// the release would pin down a small group of persons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The cell of its new table.
    pub cell: usize,
    /// The earlier releases whose cells take part in the pinning equations.
    pub releases: Vec<String>,
    /// Persons in the pinned group (internal: never written to a release's metadata).
    pub group: i64,
}

/// A released cell kept as an equation: release, cell, persons.
struct Constraint {
    release: usize,
    cell: usize,
    count: i64,
}

/// Whether released cell `c` is the sum of released cells along some dimension (its equation
/// then follows from theirs).
fn redundant(table: &Table, status: &[Status], c: usize) -> bool {
    let nodes = table.nodes(c);
    table.dimensions.iter().enumerate().any(|(d, dim)| {
        let node = &dim.nodes[nodes[d]];
        !node.children.is_empty()
            && node.children.iter().all(|&child| {
                let mut n = nodes.clone();
                n[d] = child;
                status[table.index(&n)] == Status::Released
            })
    })
}

/// Per cell, a fingerprint of its set of persons (their number and the wrapping sum of a hash
/// of each key): equal sets have equal fingerprints.
fn fingerprints(table: &Table) -> Vec<(i64, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out: Vec<(i64, u64)> = table.cells.iter().map(|c| (c.units, 0)).collect();
    for (key, paths) in &table.members {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let h = h.finish();
        for c in table.cells_of(paths) {
            out[c].1 = out[c].1.wrapping_add(h);
        }
    }
    out
}

/// The cells of `table` whose persons are exactly those of a cell some earlier release
/// released: public already (hiding them protects nothing).
pub fn known_cells(table: &Table, earlier: &[Earlier]) -> Vec<usize> {
    if earlier.is_empty() {
        return Vec::new();
    }
    let mut public: std::collections::HashSet<(i64, u64)> = std::collections::HashSet::new();
    for e in earlier {
        for (c, f) in fingerprints(e.table).into_iter().enumerate() {
            if e.status[c] == Status::Released && f.0 > 0 {
                public.insert(f);
            }
        }
    }
    fingerprints(table)
        .into_iter()
        .enumerate()
        .filter(|(_, f)| f.0 > 0 && public.contains(f))
        .map(|(c, _)| c)
        .collect()
}

/// The cells of each new release to hide so that, with every release in `earlier` and with
/// each other, no small group of persons is pinned down: per new release, its findings (empty
/// when none).
pub fn findings(new: &[New], earlier: &[Earlier]) -> Result<Vec<Vec<Finding>>, DisclosureError> {
    let mut out: Vec<BTreeMap<usize, Finding>> = vec![BTreeMap::new(); new.len()];
    for (r, n) in new.iter().enumerate() {
        for f in earlier
            .iter()
            .filter(|e| e.pairs_only)
            .flat_map(|e| nested_pairs(n.table, n.status, &n.policy, e))
        {
            match out[r].get_mut(&f.cell) {
                Some(m) => {
                    m.group = m.group.max(f.group);
                    m.releases.extend(f.releases);
                }
                None => {
                    out[r].insert(f.cell, f);
                }
            }
        }
    }
    let earlier: Vec<Earlier> = earlier.iter().filter(|e| !e.pairs_only).copied().collect();
    // Even alone: a table's own audit bounds each hidden cell, not unions of them (its
    // released margins and zeros can pin the persons of several hidden cells together).
    for (r, f) in by_atoms(new, &earlier)? {
        out[r].entry(f.cell).or_insert(f);
    }
    Ok(out.into_iter().map(|m| m.into_values().collect()).collect())
}

/// Every released cell of the new table nested with a released cell of `earlier` (either
/// way) whose difference holds 1 to threshold − 1 persons, the threshold being the stricter
/// of the two policies: one finding per new cell.
fn nested_pairs(
    table: &Table,
    status: &[Status],
    policy: &Policy,
    earlier: &Earlier,
) -> Vec<Finding> {
    let threshold = policy.min_units.max(earlier.policy.min_units);
    let theirs: HashMap<&str, Vec<u32>> = earlier
        .table
        .members
        .iter()
        .map(|(key, paths)| {
            let cells = earlier
                .table
                .cells_of(paths)
                .into_iter()
                .filter(|&c| earlier.status[c] == Status::Released)
                .map(|c| c as u32)
                .collect();
            (key.as_str(), cells)
        })
        .collect();
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
    let mut worst: BTreeMap<usize, i64> = BTreeMap::new();
    for ((a, b), both) in shared {
        let na = table.cells[a as usize].units;
        let nb = earlier.table.cells[b as usize].units;
        // A ⊂ B (or B ⊂ A): the intersection is the whole of the smaller cell.
        let difference = if both == na && nb > na {
            nb - na
        } else if both == nb && na > nb {
            na - nb
        } else {
            continue;
        };
        if difference < threshold {
            let g = worst.entry(a as usize).or_insert(0);
            *g = (*g).max(difference);
        }
    }
    worst
        .into_iter()
        .map(|(cell, group)| Finding {
            cell,
            releases: vec![earlier.id.to_string()],
            group,
        })
        .collect()
}

/// The audit by atoms against `earlier`.
fn by_atoms(new: &[New], earlier: &[Earlier]) -> Result<Vec<(usize, Finding)>, DisclosureError> {
    let threshold = earlier
        .iter()
        .map(|e| e.policy.min_units)
        .chain(new.iter().map(|n| n.policy.min_units))
        .max()
        .unwrap_or(1);
    let releases: Vec<(&Table, &[Status])> = earlier
        .iter()
        .map(|e| (e.table, e.status))
        .chain(new.iter().map(|n| (n.table, n.status)))
        .collect();
    // Releases from this index on are the new ones.
    let first_new = earlier.len();
    let is_new = |r: usize| r >= first_new;

    // The equations: released cells that are not sums of released cells.
    let mut constraints: Vec<Constraint> = Vec::new();
    let mut kept: Vec<HashMap<usize, u32>> = Vec::with_capacity(releases.len());
    for (r, (t, st)) in releases.iter().enumerate() {
        let mut k = HashMap::new();
        for (c, cell) in t.cells.iter().enumerate() {
            if cell.units > 0 && st[c] == Status::Released && !redundant(t, st, c) {
                k.insert(c, constraints.len() as u32);
                constraints.push(Constraint {
                    release: r,
                    cell: c,
                    count: cell.units,
                });
            }
        }
        kept.push(k);
    }

    // Every person's signature: the equations it is counted in.
    let mut person: HashMap<&str, u32> = HashMap::new();
    let mut signature: Vec<Vec<u32>> = Vec::new();
    for (r, (t, _)) in releases.iter().enumerate() {
        for (key, paths) in &t.members {
            let next = person.len() as u32;
            let p = *person.entry(key.as_str()).or_insert(next) as usize;
            if p == signature.len() {
                signature.push(Vec::new());
            }
            for c in t.cells_of(paths) {
                if let Some(&k) = kept[r].get(&c) {
                    signature[p].push(k);
                }
            }
        }
    }
    // Atoms: persons with the same signature. Persons in no equation are in no atom (their
    // number is bounded by nothing).
    let mut atom_of_signature: HashMap<Vec<u32>, u32> = HashMap::new();
    let mut atom_count: Vec<i64> = Vec::new();
    let mut atoms_of: Vec<Vec<u32>> = vec![Vec::new(); constraints.len()];
    for mut sig in signature {
        if sig.is_empty() {
            continue;
        }
        sig.sort_unstable();
        sig.dedup();
        let next = atom_count.len() as u32;
        let a = *atom_of_signature.entry(sig.clone()).or_insert_with(|| {
            for &k in &sig {
                atoms_of[k as usize].push(next);
            }
            next
        });
        if a == next {
            atom_count.push(0);
        }
        atom_count[a as usize] += 1;
    }

    // Groups of atoms linked by equations; only those holding an equation of the new release.
    let n_atoms = atom_count.len();
    let mut parent: Vec<u32> = (0..n_atoms as u32).collect();
    for atoms in &atoms_of {
        if let Some((&first, rest)) = atoms.split_first() {
            for &a in rest {
                let (x, y) = (find(&mut parent, first), find(&mut parent, a));
                if x != y {
                    parent[x as usize] = y;
                }
            }
        }
    }
    let mut touched = vec![false; n_atoms];
    for (k, c) in constraints.iter().enumerate() {
        if is_new(c.release)
            && let Some(&a) = atoms_of[k].first()
        {
            let root = find(&mut parent, a) as usize;
            touched[root] = true;
        }
    }
    let root: Vec<usize> = (0..n_atoms as u32)
        .map(|a| find(&mut parent, a) as usize)
        .collect();
    let relevant = |a: u32| touched[root[a as usize]];

    // The attacker's system, in the audit's terms: atoms are unknown cells, released cells
    // known ones, an equation per released cell (its count = the sum of its atoms).
    let mut values: Vec<f64> = Vec::new();
    let mut hidden: Vec<bool> = Vec::new();
    let mut equations: Vec<Equation> = Vec::new();
    let mut from_new: Vec<bool> = Vec::new();
    let mut small: Vec<(usize, i64)> = Vec::new();
    let mut atom_var: HashMap<u32, usize> = HashMap::new();
    let mut var_atom: HashMap<usize, u32> = HashMap::new();
    for a in 0..n_atoms as u32 {
        if !relevant(a) {
            continue;
        }
        let v = values.len();
        atom_var.insert(a, v);
        var_atom.insert(v, a);
        values.push(atom_count[a as usize] as f64);
        hidden.push(true);
        if atom_count[a as usize] < threshold {
            small.push((v, atom_count[a as usize]));
        }
    }
    // The same persons counted by several releases give one equation (an earlier one if
    // any).
    let mut equation_of: HashMap<&[u32], usize> = HashMap::new();
    for (k, c) in constraints.iter().enumerate() {
        let Some(&first) = atoms_of[k].first() else {
            continue;
        };
        if !relevant(first) {
            continue;
        }
        if let Some(&e) = equation_of.get(atoms_of[k].as_slice()) {
            from_new[e] &= is_new(c.release);
            continue;
        }
        equation_of.insert(&atoms_of[k], equations.len());
        let v = values.len();
        values.push(c.count as f64);
        hidden.push(false);
        from_new.push(is_new(c.release));
        equations.push(Equation {
            total: v,
            parts: atoms_of[k].iter().map(|a| atom_var[a]).collect(),
        });
    }
    if small.is_empty() {
        return Ok(Vec::new());
    }
    if audit::trace() {
        eprintln!(
            "cross-release audit: {} releases, {} equations, {} persons, {} atoms ({} in groups the new release touches), {} small",
            releases.len(),
            constraints.len(),
            person.len(),
            n_atoms,
            atom_var.len(),
            small.len()
        );
    }
    let t = threshold as f64;
    let mut found = pinned_unions(&values, &hidden, &equations, &small, threshold)?;
    if !found.is_empty() {
        // A group the earlier releases pin down by themselves (released before this audit
        // existed) is not this release's doing: no cell of it can free the group. (Only
        // checked in groups small enough to solve whole; in larger ones a cell is hidden.)
        let before: Vec<Equation> = equations
            .iter()
            .zip(&from_new)
            .filter(|(_, n)| !**n)
            .map(|(e, _)| e.clone())
            .collect();
        let suspects: Vec<Vec<usize>> = found.iter().map(|u| u.members.clone()).collect();
        let already: BTreeSet<usize> = pinned(&values, &hidden, &before, &suspects, t)?
            .into_iter()
            .map(|b| b.cell)
            .collect();
        if !already.is_empty() && audit::trace() {
            eprintln!(
                "  {} small group(s) pinned by earlier releases alone (not this release's doing)",
                already.len()
            );
        }
        found = found
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !already.contains(i))
            .map(|(_, u)| u)
            .collect();
    }
    let mut out: Vec<(usize, Finding)> = Vec::new();
    let mut chosen: BTreeSet<(usize, usize)> = BTreeSet::new();
    for u in found {
        let atoms: BTreeSet<u32> = u.members.iter().map(|v| var_atom[v]).collect();
        let group_root = root[*atoms.first().expect("a union has members") as usize];
        // The new releases' equations in the group: those counting the pinned persons
        // first, then any; the smallest cell first.
        let mut candidates: Vec<(bool, i64, usize, usize)> = constraints
            .iter()
            .enumerate()
            .filter(|(k, c)| {
                is_new(c.release)
                    && atoms_of[*k]
                        .first()
                        .is_some_and(|&a| root[a as usize] == group_root)
            })
            .map(|(k, c)| {
                let counts_them = atoms_of[k].iter().any(|a| atoms.contains(a));
                (!counts_them, c.count, c.release - first_new, c.cell)
            })
            .collect();
        candidates.sort_unstable();
        let Some(&(_, _, r, cell)) = candidates.first() else {
            continue;
        };
        if audit::trace() {
            eprintln!(
                "  pinned a union of {} atom(s) to [{:.2}, {:.2}]: hiding {:?} = {} of new release {r}",
                atoms.len(),
                u.lower,
                u.upper,
                new[r].table.labels(cell),
                new[r].table.cells[cell].units
            );
        }
        if !chosen.insert((r, cell)) {
            continue;
        }
        let mut involved: BTreeSet<String> = BTreeSet::new();
        for (k, c) in constraints.iter().enumerate() {
            if !is_new(c.release)
                && atoms_of[k]
                    .first()
                    .is_some_and(|&a| root[a as usize] == group_root)
            {
                involved.insert(earlier[c.release].id.to_string());
            }
        }
        out.push((
            r,
            Finding {
                cell,
                releases: involved.into_iter().collect(),
                group: u.lower.round() as i64,
            },
        ));
    }
    out.sort_by_key(|(r, f)| (*r, f.cell));
    Ok(out)
}

/// The `targets` (each a set of unknowns of a system of equations `total = Σ parts` over
/// non-negative unknowns, `hidden`, with the known values of the others) whose sum every
/// solution holds between 1 and `t` − 1 (LP relaxation): each returned with its index in
/// `targets` (as `cell`) and its exact minimum and maximum.
///
/// Few LPs: a group is free as soon as one solution puts it at 0 or at `t` or more, so
/// solutions minimising the sum of the open groups' unknowns free most at once (on atoms most
/// small groups can be emptied), one maximising their sum capped at `t` frees more, and only the
/// rest go to the audit's warm-started LPs, one per bound (a group of several unknowns then
/// gets an unknown of its own).
fn pinned(
    values: &[f64],
    hidden: &[bool],
    equations: &[Equation],
    targets: &[Vec<usize>],
    t: f64,
) -> Result<Vec<audit::Bounds>, DisclosureError> {
    use microlp::OptimizationDirection::{Maximize, Minimize};
    const EPS: f64 = 1e-6;
    // A target's unknowns are solved together: their groups are one.
    let (root, groups) = linked_groups(hidden, equations, targets);
    let mut by_group: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, members) in targets.iter().enumerate() {
        if let Some(&first) = members.first() {
            by_group.entry(root[first]).or_default().push(i);
        }
    }
    let mut still_open: Vec<usize> = Vec::new();
    for (key, group_targets) in by_group {
        let group = &groups[&key];
        let pos = &group.pos;
        if pos.len() > crate::unions::Limits::get().whole {
            // Too large to solve: its targets are not shown pinned.
            continue;
        }
        let lp = GroupLp::new(group, values, hidden, equations);
        let sum = |x: &[f64], i: usize| -> f64 { targets[i].iter().map(|c| x[pos[c]]).sum() };
        let mut open: Vec<usize> = group_targets;
        // Solutions emptying as many open groups as they can.
        for _ in 0..8 {
            if open.is_empty() {
                break;
            }
            let w: Vec<(usize, f64)> = open
                .iter()
                .flat_map(|&i| targets[i].iter().map(|c| (pos[c], 1.0)))
                .collect();
            let Lp::Solved(x) = lp.solve(Minimize, &w, &[], &[], t)? else {
                break;
            };
            let before = open.len();
            open.retain(|&i| sum(&x, i) > EPS);
            if audit::trace() {
                eprintln!("  min witness: {} of {before} open left", open.len());
            }
            if open.len() == before {
                break;
            }
        }
        // A solution carrying as many as it can to `t`.
        if !open.is_empty() {
            let capped: Vec<Vec<usize>> = open
                .iter()
                .map(|&i| targets[i].iter().map(|c| pos[c]).collect())
                .collect();
            if let Lp::Solved(x) = lp.solve(Maximize, &[], &capped, &[], t)? {
                open.retain(|&i| sum(&x, i) < t - EPS);
            }
        }
        if audit::trace() {
            eprintln!(
                "  group of {} unknowns, {} targets: {} open after witnesses",
                lp.n,
                targets.len(),
                open.len()
            );
        }
        still_open.extend(open);
    }
    if still_open.is_empty() {
        return Ok(Vec::new());
    }
    // The rest by the audit's warm-started LPs (exact bounds, or a value reaching 0 or `t`);
    // a group of several unknowns gets an unknown of its own, equal to their sum.
    let mut values = values.to_vec();
    let mut hidden = hidden.to_vec();
    let mut equations = equations.to_vec();
    let mut var_of: Vec<(usize, usize)> = Vec::with_capacity(still_open.len());
    for &i in &still_open {
        let members = &targets[i];
        let v = if members.len() == 1 {
            members[0]
        } else {
            let v = values.len();
            values.push(members.iter().map(|&c| values[c]).sum());
            hidden.push(true);
            equations.push(Equation {
                total: v,
                parts: members.clone(),
            });
            v
        };
        var_of.push((i, v));
    }
    let vars: Vec<usize> = var_of.iter().map(|&(_, v)| v).collect();
    let required: audit::Required = vars.iter().map(|&v| (v, (0.0, t))).collect();
    let bounds = audit::bounds_cached(
        &values,
        &hidden,
        &equations,
        &vars,
        &required,
        &mut audit::Cache::default(),
    )?;
    let by_var: HashMap<usize, audit::Bounds> = bounds.into_iter().map(|b| (b.cell, b)).collect();
    Ok(var_of
        .into_iter()
        .filter_map(|(i, v)| {
            let b = by_var.get(&v)?;
            (b.lower > EPS && b.upper < t - EPS).then_some(audit::Bounds {
                cell: i,
                lower: b.lower,
                upper: b.upper,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Dimension;

    /// A one-dimension table by group over the given (person, group) rows.
    fn by_group(rows: &[(String, String)]) -> Table {
        Table::from_units(
            vec![Dimension::new("age", &["group"], "all")],
            vec![],
            rows.iter()
                .map(|(k, g)| (k.clone(), vec![vec![g.as_str()]], vec![])),
        )
        .unwrap()
    }

    /// The findings of one new table.
    pub(super) fn one(
        table: &Table,
        status: &[Status],
        policy: &Policy,
        earlier: &[Earlier],
    ) -> Result<Vec<Finding>, DisclosureError> {
        let new = [New {
            table,
            status,
            policy: *policy,
        }];
        Ok(findings(&new, earlier)?.pop().expect("one new table"))
    }

    fn released(t: &Table) -> Vec<Status> {
        vec![Status::Released; t.cells.len()]
    }

    #[test]
    fn two_overlapping_age_bands_differing_by_one_person_are_caught() {
        // 0–17 and 0–18: the same 20 children, plus one person aged 18 in the second.
        let first: Vec<(String, String)> = (0..60)
            .map(|i| (format!("p{i}"), if i < 20 { "0-17" } else { "18+" }.into()))
            .collect();
        let second: Vec<(String, String)> = (0..60)
            .map(|i| (format!("p{i}"), if i < 21 { "0-18" } else { "19+" }.into()))
            .collect();
        let (a, b) = (by_group(&first), by_group(&second));
        let (sa, sb) = (released(&a), released(&b));
        let earlier = [Earlier {
            id: "r1",
            table: &a,
            status: &sa,
            policy: Policy::POPULATION,
            pairs_only: false,
        }];
        let f = one(&b, &sb, &Policy::POPULATION, &earlier).unwrap();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].group, 1);
        assert_eq!(f[0].releases, vec!["r1".to_string()]);
        // Once that cell is hidden (with its sibling, as its table's audit would), nothing
        // is pinned.
        let mut status = sb.clone();
        for s in status.iter_mut().skip(1) {
            *s = Status::Secondary;
        }
        assert!(
            one(&b, &status, &Policy::POPULATION, &earlier)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_superset_minus_two_disjoint_subsets_is_caught_where_no_pair_differs_by_little() {
        // Release 1: 30 persons aged 0–9 and 30 aged 10–19 (as two tables' cells), release
        // 2: the 63 persons aged 0–20. No two cells are nested with a small difference (63 −
        // 30 = 33), but 63 − 30 − 30 = 3 persons aged 20.
        let young: Vec<(String, String)> =
            (0..30).map(|i| (format!("p{i}"), "0-9".into())).collect();
        let teen: Vec<(String, String)> = (30..60)
            .map(|i| (format!("p{i}"), "10-19".into()))
            .collect();
        let all: Vec<(String, String)> =
            (0..63).map(|i| (format!("p{i}"), "0-20".into())).collect();
        let (a, b, c) = (by_group(&young), by_group(&teen), by_group(&all));
        let (sa, sb, sc) = (released(&a), released(&b), released(&c));
        let earlier = [
            Earlier {
                id: "young",
                table: &a,
                status: &sa,
                policy: Policy::POPULATION,
                pairs_only: false,
            },
            Earlier {
                id: "teen",
                table: &b,
                status: &sb,
                policy: Policy::POPULATION,
                pairs_only: false,
            },
        ];
        let f = one(&c, &sc, &Policy::POPULATION, &earlier).unwrap();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].group, 3);
        assert_eq!(f[0].releases.len(), 2);
    }

    #[test]
    fn the_same_table_twice_or_a_sample_of_it_pins_nothing() {
        let rows: Vec<(String, String)> = (0..40)
            .map(|i| (format!("p{i}"), if i < 30 { "a" } else { "b" }.into()))
            .collect();
        let t = by_group(&rows);
        let s = released(&t);
        let earlier = [Earlier {
            id: "r1",
            table: &t,
            status: &s,
            policy: Policy::POPULATION,
            pairs_only: false,
        }];
        assert!(
            one(&t, &s, &Policy::POPULATION, &earlier)
                .unwrap()
                .is_empty()
        );
        let half: Vec<(String, String)> = rows.iter().step_by(2).cloned().collect();
        let sample = by_group(&half);
        let ss = released(&sample);
        assert!(
            one(&sample, &ss, &Policy::SAMPLE, &earlier)
                .unwrap()
                .is_empty()
        );
    }
}

/// Random sequences of overlapping releases, each settled against all before it, checked by an
/// independent LP over all releases together (every atom and every hidden small cell that is a
/// union of atoms, one LP per bound over the whole system, no decomposition, no redundancy
/// elimination, no witness).
#[cfg(test)]
mod property {
    use super::*;
    use crate::suppress::{Sensitive, suppress_with};
    use crate::table::Dimension;
    use microlp::{ComparisonOp, OptimizationDirection, Problem};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// A person: age 0..=9 and a group a/b/c.
    type Person = (u8, u8);

    /// A release: persons with age in [lo, hi] (and in group g if given), by age, by group,
    /// or by both (a two-dimension table with its margins).
    #[derive(Debug, Clone)]
    struct Spec {
        lo: u8,
        hi: u8,
        group: Option<u8>,
        by_age: bool,
        by_group: bool,
    }

    fn tabulate(people: &[Person], s: &Spec) -> Option<Table> {
        let mut dims = Vec::new();
        if s.by_age {
            dims.push(Dimension::new("age", &["v"], "all"));
        }
        if s.by_group || !s.by_age {
            dims.push(Dimension::new("group", &["v"], "all"));
        }
        let rows: Vec<(String, Vec<String>)> = people
            .iter()
            .enumerate()
            .filter(|(_, (a, g))| (s.lo..=s.hi).contains(a) && s.group.is_none_or(|x| x == *g))
            .map(|(i, (a, g))| {
                let mut v = Vec::new();
                if s.by_age {
                    v.push(format!("age{a}"));
                }
                if s.by_group || !s.by_age {
                    v.push(format!("g{g}"));
                }
                (format!("p{i}"), v)
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        Table::from_units(
            dims,
            vec![],
            rows.iter().map(|(k, v)| {
                (
                    k.clone(),
                    v.iter().map(|l| vec![l.as_str()]).collect(),
                    vec![],
                )
            }),
        )
        .ok()
    }

    /// Whether the whole system pins any union of atoms to [1, T − 1]: every union of atoms
    /// whose true count is below T (those are the only ones that can be pinned), by brute
    /// force, one LP per bound over the whole system.
    fn pinned(releases: &[(Table, Vec<Status>)], t: i64) -> Option<String> {
        let mut sig: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (r, (table, status)) in releases.iter().enumerate() {
            for (key, paths) in &table.members {
                for c in table.cells_of(paths) {
                    if status[c] == Status::Released {
                        sig.entry(key.clone()).or_default().push((r, c));
                    }
                }
            }
        }
        let mut atoms: BTreeMap<Vec<(usize, usize)>, usize> = BTreeMap::new();
        for s in sig.values() {
            *atoms.entry(s.clone()).or_default() += 1;
        }
        let atom_list: Vec<(Vec<(usize, usize)>, usize)> = atoms.into_iter().collect();
        let bound = |members: &[usize], dir: OptimizationDirection| -> f64 {
            let mut p = Problem::new(dir);
            let vars: Vec<_> = (0..atom_list.len())
                .map(|i| {
                    p.add_var(
                        if members.contains(&i) { 1.0 } else { 0.0 },
                        (0.0, f64::INFINITY),
                    )
                })
                .collect();
            for (r, (table, status)) in releases.iter().enumerate() {
                for (c, st) in status.iter().enumerate() {
                    if *st != Status::Released {
                        continue;
                    }
                    let terms: Vec<_> = atom_list
                        .iter()
                        .enumerate()
                        .filter(|(_, (s, _))| s.contains(&(r, c)))
                        .map(|(i, _)| (vars[i], 1.0))
                        .collect();
                    if !terms.is_empty() {
                        p.add_constraint(&terms, ComparisonOp::Eq, table.cells[c].units as f64);
                    }
                }
            }
            match p.solve() {
                Ok(o) => o.into_solution().unwrap().objective(),
                Err(microlp::Error::Unbounded) => f64::INFINITY,
                Err(e) => panic!("{e}"),
            }
        };
        let small: Vec<usize> = (0..atom_list.len())
            .filter(|&i| (atom_list[i].1 as i64) < t)
            .collect();
        // Unions of small atoms with fewer than T persons, smallest first; a union holding
        // one that no solution empties is not minimal (and is pinned if it is).
        let mut unions: Vec<Vec<usize>> = Vec::new();
        let mut stack: Vec<(Vec<usize>, usize, i64)> = vec![(Vec::new(), 0, 0)];
        while let Some((members, from, count)) = stack.pop() {
            for (j, &a) in small.iter().enumerate().skip(from) {
                let n = count + atom_list[a].1 as i64;
                if n < t {
                    let mut m = members.clone();
                    m.push(a);
                    unions.push(m.clone());
                    stack.push((m, j + 1, n));
                }
            }
        }
        unions.sort_by_key(Vec::len);
        let mut positive: Vec<Vec<usize>> = Vec::new();
        for u in unions {
            if positive.iter().any(|p| p.iter().all(|a| u.contains(a))) {
                continue;
            }
            let lower = bound(&u, OptimizationDirection::Minimize);
            if lower <= 1e-6 {
                continue;
            }
            let upper = bound(&u, OptimizationDirection::Maximize);
            if upper < t as f64 - 1e-6 {
                let size: usize = u.iter().map(|&a| atom_list[a].1).sum();
                return Some(format!(
                    "a union of {} atom(s), {size} persons, pinned to [{lower}, {upper}]",
                    u.len()
                ));
            }
            positive.push(u);
        }
        None
    }

    /// The case random seeds found of a table alone pinning a union of its hidden cells
    /// (below): 20 persons, and the table by age (0–7) × group with its margins.
    fn margins_case() -> (Vec<Person>, Spec) {
        let people: Vec<Person> = vec![
            (6, 0),
            (7, 1),
            (7, 1),
            (6, 0),
            (6, 0),
            (7, 2),
            (7, 1),
            (7, 1),
            (8, 0),
            (6, 2),
            (6, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
        ];
        let spec = Spec {
            lo: 0,
            hi: 7,
            group: None,
            by_age: true,
            by_group: true,
        };
        (people, spec)
    }

    /// Found by random seeds: a table alone, whose released margins and released zeros pin
    /// two hidden cells together — total 19 − group 0's 13 − age 7's 5 (none of them in group
    /// 0, a released zero) leaves exactly 1 person aged 0 or 6 outside group 0. Each hidden
    /// cell is protected on its own; their union was not.
    #[test]
    fn margins_and_zeros_of_one_table_pin_a_union_of_its_hidden_cells() {
        let (people, spec) = margins_case();
        let table = tabulate(&people, &spec).unwrap();
        let alone = suppress_with(&table, &Policy::POPULATION, &Sensitive::default()).unwrap();
        assert!(
            pinned(&[(table.clone(), alone.status.clone())], 5).is_some(),
            "the table's own audit no longer leaves this union pinned: the test needs a new case"
        );
        assert_eq!(release_in_turn(&people, &[spec]), None);
    }

    /// A group too large to solve whole with too many small atoms left open is refused at
    /// once, with a message that says why (the gate's limits shrunk to this small case).
    #[test]
    fn a_group_too_finely_cut_to_check_is_refused() {
        use crate::unions::{Limits, set_limits};
        let (people, spec) = margins_case();
        let table = tabulate(&people, &spec).unwrap();
        let alone = suppress_with(&table, &Policy::POPULATION, &Sensitive::default()).unwrap();
        let news = [New {
            table: &table,
            status: &alone.status,
            policy: Policy::POPULATION,
        }];
        set_limits(Limits {
            block: 1,
            whole: 1,
            open_small: 0,
            small: 1_000,
        });
        let refused = findings(&news, &[]);
        set_limits(Limits {
            block: 1,
            whole: 1,
            open_small: 1_000,
            small: 0,
        });
        let refused_at_once = findings(&news, &[]);
        set_limits(Limits::GATE);
        for r in [refused, refused_at_once] {
            let e = r.expect_err("refused").to_string();
            assert!(e.contains("cannot check every combination"), "{e}");
        }
        assert!(!findings(&news, &[]).unwrap()[0].is_empty());
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            0u8..10,
            0u8..10,
            prop::option::of(0u8..3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(a, b, group, by_age, by_group)| Spec {
                lo: a.min(b),
                hi: a.max(b),
                group,
                by_age,
                by_group,
            })
    }

    /// Settles each release against all before it, as the gate does, and checks the whole
    /// system at the end (a group pinned after some release stays pinned after more: each
    /// release only adds equations): the pinned group found, if any.
    fn release_in_turn(people: &[Person], specs: &[Spec]) -> Option<String> {
        let batches: Vec<Vec<Spec>> = specs.iter().map(|s| vec![s.clone()]).collect();
        release_in_batches(people, &batches)
    }

    /// As [`release_in_turn`], each batch settled as one linked set (as the Atlas's tables
    /// are): audited against the releases before it and against each other.
    fn release_in_batches(people: &[Person], batches: &[Vec<Spec>]) -> Option<String> {
        let policy = Policy::POPULATION;
        let mut done: Vec<(Table, Vec<Status>)> = Vec::new();
        for batch in batches {
            let tables: Vec<Table> = batch.iter().filter_map(|s| tabulate(people, s)).collect();
            let mut sensitive: Vec<Sensitive> = vec![Sensitive::default(); tables.len()];
            let mut patterns: Vec<_> = tables
                .iter()
                .map(|t| suppress_with(t, &policy, &Sensitive::default()).unwrap())
                .collect();
            loop {
                let ids: Vec<String> = (0..done.len()).map(|i| format!("r{i}")).collect();
                let earlier: Vec<Earlier> = done
                    .iter()
                    .zip(&ids)
                    .map(|((t, st), id)| Earlier {
                        id,
                        table: t,
                        status: st,
                        policy,
                        pairs_only: false,
                    })
                    .collect();
                let news: Vec<New> = tables
                    .iter()
                    .zip(&patterns)
                    .map(|(table, p)| New {
                        table,
                        status: &p.status,
                        policy,
                    })
                    .collect();
                let found = findings(&news, &earlier).unwrap();
                if found.iter().all(Vec::is_empty) {
                    break;
                }
                for (i, found) in found.into_iter().enumerate() {
                    if found.is_empty() {
                        continue;
                    }
                    sensitive[i]
                        .differencing
                        .extend(found.iter().map(|f| (f.cell, f.group.max(1))));
                    patterns[i] = suppress_with(&tables[i], &policy, &sensitive[i]).unwrap();
                }
            }
            for (t, p) in tables.into_iter().zip(patterns) {
                assert!(p.passed());
                done.push((t, p.status));
            }
        }
        pinned(&done, policy.min_units).map(|why| format!("after {} releases: {why}", done.len()))
    }

    proptest! {
        // Random seeds: every run tries new sequences (a failure is kept in
        // proptest-regressions/cross.txt and replayed first).
        #![proptest_config(ProptestConfig {
            cases: 64,
            ..ProptestConfig::default()
        })]
        #[test]
        fn no_sequence_of_releases_pins_a_small_group(
            people in prop::collection::vec((0u8..10, 0u8..3), 20..70),
            specs in prop::collection::vec(spec(), 2..6),
        ) {
            if let Some(why) = release_in_turn(&people, &specs) {
                prop_assert!(false, "{why}");
            }
        }

        #[test]
        fn searched_on_blocks_no_sequence_pins_a_small_group(
            people in prop::collection::vec((0u8..10, 0u8..3), 20..70),
            specs in prop::collection::vec(spec(), 2..6),
            block in 2usize..12,
        ) {
            crate::unions::set_limits(crate::unions::Limits {
                block,
                ..crate::unions::Limits::GATE
            });
            if let Some(why) = release_in_turn(&people, &specs) {
                prop_assert!(false, "{why}");
            }
        }

        #[test]
        fn no_linked_set_with_releases_before_it_pins_a_small_group(
            people in prop::collection::vec((0u8..10, 0u8..3), 20..70),
            before in prop::collection::vec(spec(), 0..3),
            linked in prop::collection::vec(spec(), 2..5),
            after in prop::collection::vec(spec(), 0..2),
        ) {
            let mut batches: Vec<Vec<Spec>> = before.into_iter().map(|s| vec![s]).collect();
            batches.push(linked);
            batches.extend(after.into_iter().map(|s| vec![s]));
            if let Some(why) = release_in_batches(&people, &batches) {
                prop_assert!(false, "{why}");
            }
        }
    }

    /// Found by random seeds when the audit checked atoms and named hidden cells only:
    /// persons aged 3 = (persons aged 1–6) − (aged 4) − (aged 6), a group no release names
    /// when it is pinned, split into several atoms by the first release's groups.
    #[test]
    fn a_cell_minus_several_others_unnamed_when_released() {
        let people: Vec<Person> = vec![
            (3, 1),
            (3, 1),
            (7, 0),
            (7, 0),
            (7, 0),
            (3, 0),
            (6, 2),
            (4, 1),
            (7, 0),
            (4, 1),
            (7, 0),
            (6, 2),
            (6, 1),
            (6, 0),
            (3, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
            (0, 0),
        ];
        let spec = |lo, hi, by_age| Spec {
            lo,
            hi,
            group: None,
            by_age,
            by_group: !by_age,
        };
        let specs = [spec(1, 6, false), spec(4, 7, true), spec(0, 3, true)];
        assert_eq!(release_in_turn(&people, &specs), None);
        // Persons aged 5 = (aged 0–5) − (aged 0–1 in group 0) − (aged 0–1 in group 1).
        let people: Vec<Person> = vec![
            (1, 0),
            (1, 0),
            (1, 0),
            (1, 0),
            (1, 1),
            (1, 0),
            (1, 1),
            (5, 1),
            (1, 0),
            (1, 0),
            (1, 0),
            (1, 0),
            (1, 0),
            (1, 1),
            (5, 0),
            (1, 0),
            (1, 0),
            (1, 1),
            (1, 0),
            (1, 0),
        ];
        let specs = [spec(0, 1, false), spec(0, 5, false), spec(0, 5, true)];
        assert_eq!(release_in_turn(&people, &specs), None);
    }
}
