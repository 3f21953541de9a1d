#!/usr/bin/env python3
"""Reference for the disclosure-gate benchmark: an independent audit of the gate's pattern
and a lower bound on the information loss of any valid pattern, with open solvers (HiGHS
through SciPy).

Input: the export of `gate_bench --export FILE` (crates/disclosure/examples/gate_bench.rs):
the table persons × municipality (district, province, region, Belgium) × age group × sex ×
year with every margin, its additivity equations and the gate's pattern and certificate.

    .venv/bin/python bench/gate_reference.py --export /tmp/gb/table.json --time-limit 600 --json-out ref.json

Method
------
(a) Audit. The hidden cells (status P, S, D) are variables >= 0, the released cells are
    constants, every equation `total = sum of parts` is a constraint. Hidden cells linked by
    an equation form a group, an LP of its own. For every primary (small) cell, the minimum
    and the maximum of its value (scipy.optimize.linprog, method "highs"). Per group, one LP
    minimising and one maximising the sum of its primary cells serve as witnesses: a cell at
    0 in the first has minimum 0; a cell at its cap in the second (the least right-hand side
    of the equations whose hidden cells all have its sign) has that maximum; every other
    bound gets an LP of its own (--no-witnesses: every bound). Compared with the gate's
    certificate (largest absolute difference; unbounded on one side only is a disagreement)
    and with the protection the policy requires: the interval must contain [0, min_units].
(b) Information loss. A 0/1 variable per cell (1 = hidden): every primary hidden, no empty
    cell hidden (the gate's rule: an empty cell is no cover), and no equation with exactly
    one hidden cell (for each equation and each member c: s_c <= sum of s over the other
    members). Minimised with scipy.optimize.milp (HiGHS branch and bound, --time-limit per
    solve) once for the number of hidden cells and once for the units in hidden cells. A
    valid pattern (every primary protected) of least loss satisfies these constraints, so the
    optimum, or HiGHS's dual bound when the time limit stops it, is a LOWER BOUND on the
    information loss of any valid pattern that hides no empty cell. The ILP's own pattern is
    audited with (a). While it leaves primaries unprotected, a cut per unprotected group is
    added and the ILP solved again (--cut-rounds, --cut-time; see `information_loss`): the
    bound can only rise, and a round whose optimal pattern passes the audit is an optimal
    valid pattern, the bound attained. The best valid pattern known (the gate's, or an ILP
    pattern that passed) gives the other side: the optimum lies between the two.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix

HIDDEN = set("PSDV")
EPS = 1e-6  # the gate's tolerance (suppress.rs, Protection::holds)


def load(path: str) -> dict:
    t = time.perf_counter()
    d = json.loads(Path(path).read_text())
    d["values"] = np.asarray(d["values"], dtype=np.int64)
    d["seconds_loading"] = time.perf_counter() - t
    return d


# --------------------------------------------------------------------------------------
# (a) The audit
# --------------------------------------------------------------------------------------


def audit(values: np.ndarray, hidden: np.ndarray, equations: list[list[int]], targets: list[int],
          witnesses: bool = True) -> dict:
    """Min and max of every target cell over the non-negative tables that agree with the
    released cells (`~hidden`, at `values`) and every equation. Returns {"bounds": {cell:
    (lower, upper)}, "group_of": {cell: its group's hidden cells}, "problems": [...],
    "lps": n, "groups": n, "largest_group": n, "seconds": s}.

    With `witnesses`, two LPs per group first: minimising the sum of its targets (a target
    at 0 in the solution has minimum 0) and maximising it (a target at its cap in the
    solution has that maximum; the cap of a cell is the least right-hand side of the
    equations whose hidden cells all have its sign, e.g. a hidden part of a released total
    is at most the total minus the released parts). Exact either way; the other bounds get
    one LP each."""
    started = time.perf_counter()
    problems: list[str] = []
    # Equations with a hidden cell: sum over hidden of a*x = constant.
    rows: list[tuple[list[int], list[float], float]] = []
    cap: dict[int, float] = {}
    bad_released = 0
    for eq in equations:
        cells, coefs = eq, [1.0] + [-1.0] * (len(eq) - 1)
        hid = [(c, a) for c, a in zip(cells, coefs) if hidden[c]]
        rhs = -sum(a * values[c] for c, a in zip(cells, coefs) if not hidden[c])
        if not hid:
            if rhs != 0:
                bad_released += 1
            continue
        rows.append(([c for c, _ in hid], [a for _, a in hid], float(rhs)))
        if len({a > 0 for _, a in hid}) == 1:
            for c, a in hid:
                cap[c] = min(cap.get(c, math.inf), float(rhs) / a)
    if bad_released:
        problems.append(f"{bad_released} equations of released cells do not add up")
    # Groups (union-find over hidden cells sharing an equation).
    root = np.arange(len(values))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for cells, _, _ in rows:
        a = find(cells[0])
        for c in cells[1:]:
            b = find(c)
            if a != b:
                root[b] = a
    hidden_cells = np.flatnonzero(hidden)
    members: dict[int, list[int]] = {}
    for c in hidden_cells:
        members.setdefault(find(int(c)), []).append(int(c))
    rows_of: dict[int, list[int]] = {}
    for k, (cells, _, _) in enumerate(rows):
        rows_of.setdefault(find(cells[0]), []).append(k)
    by_group: dict[int, list[int]] = {}
    for c in targets:
        if not hidden[c]:
            problems.append(f"target cell {c} is released")
            continue
        by_group.setdefault(find(c), []).append(c)
    bounds: dict[int, tuple[float, float]] = {}
    lps = 0
    for g, cells in by_group.items():
        var = {c: i for i, c in enumerate(members[g])}
        data, ri, ci, b = [], [], [], []
        for i, k in enumerate(rows_of.get(g, [])):
            rc, ra, rhs = rows[k]
            for c, a in zip(rc, ra):
                data.append(a)
                ri.append(i)
                ci.append(var[c])
            b.append(rhs)
        a_eq = csr_matrix((data, (ri, ci)), shape=(len(b), len(var))) if b else None
        b_eq = np.array(b) if b else None

        def solve(objective: np.ndarray):
            nonlocal lps
            lps += 1
            r = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            if r.status == 2:
                problems.append(f"group of {len(var)} hidden cells: no non-negative table agrees ({r.message})")
            elif r.status not in (0, 3):
                problems.append(f"group of {len(var)} hidden cells: LP failed ({r.message})")
            return r

        low_witness = high_witness = None
        if witnesses:
            obj = np.zeros(len(var))
            obj[[var[c] for c in cells]] = 1.0
            r = solve(obj)
            if r.status != 0:
                for c in cells:
                    bounds[c] = (math.nan, math.nan)
                continue
            low_witness = r.x
            r = solve(-obj)
            if r.status == 0:
                high_witness = r.x
        for c in cells:
            if low_witness is not None and low_witness[var[c]] <= 1e-9:
                lower = 0.0
            else:
                obj = np.zeros(len(var))
                obj[var[c]] = 1.0
                r = solve(obj)
                lower = r.fun if r.status == 0 else math.nan
            if high_witness is not None and high_witness[var[c]] >= cap.get(c, math.inf) - 1e-9:
                upper = cap[c]
            else:
                obj = np.zeros(len(var))
                obj[var[c]] = -1.0
                r = solve(obj)
                upper = math.inf if r.status == 3 else (-r.fun if r.status == 0 else math.nan)
            bounds[c] = (lower, upper)
    return {
        "bounds": bounds,
        "group_of": {c: members[find(c)] for c in targets if hidden[c]},
        "problems": problems,
        "lps": lps,
        "groups": len(by_group),
        "largest_group": max((len(members[g]) for g in by_group), default=0),
        "seconds": time.perf_counter() - started,
    }


def protected(b: tuple[float, float], t: float) -> bool:
    return b[0] <= 0 + EPS and b[1] >= t - EPS


def compare_certificate(bounds: dict[int, tuple[float, float]], certificate: list, primaries: list[int]) -> dict:
    """Largest |difference| between our bounds and the gate's certificate, and the cells
    that differ by more than EPS (both values)."""
    cert = {c: (lo, math.inf if up is None else up) for c, lo, up in certificate}
    diff_max = 0.0
    disagreements = []
    for c in primaries:
        if c not in cert:
            disagreements.append({"cell": c, "problem": "not in the gate's certificate"})
            continue
        ours, theirs = bounds.get(c, (math.nan, math.nan)), cert[c]
        for side, a, b in (("lower", ours[0], theirs[0]), ("upper", ours[1], theirs[1])):
            d = 0.0 if a == b else abs(a - b)  # inf == inf; inf against a number: inf
            d = math.inf if math.isnan(d) else d
            diff_max = max(diff_max, d)
            if d > EPS:
                disagreements.append({"cell": c, "side": side, "reference": fmt_num(a), "gate": fmt_num(b)})
    extra = sorted(set(cert) - set(primaries))
    return {"max_abs_difference": fmt_num(diff_max), "disagreements": disagreements,
            "certified_cells_not_primary": extra[:20], "certified": len(cert)}


def fmt_num(x: float):
    """JSON-friendly number: None for +inf (as the gate writes an unbounded upper)."""
    if x is None or (isinstance(x, float) and math.isinf(x)):
        return None
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return float(x)


# --------------------------------------------------------------------------------------
# (b) The information-loss ILP
# --------------------------------------------------------------------------------------


def ilp_matrix(values: np.ndarray, status: str, equations: list[list[int]]):
    """The constraints of the relaxation: rows `s_c - sum of the other members <= 0` for each
    equation and member c; bounds fixing primaries to 1 and empty cells to 0."""
    n = len(values)
    primary = np.array([s == "P" for s in status])
    lb = primary.astype(float)
    ub = np.where(primary | (values > 0), 1.0, 0.0)
    ri, ci, data = [], [], []
    r = 0
    for eq in equations:
        for c in eq:
            if ub[c] == 0:
                continue  # s_c = 0: the row always holds
            for d in eq:
                ri.append(r)
                ci.append(d)
                data.append(1.0 if d == c else -1.0)
            r += 1
    return coo_matrix((data, (ri, ci)), shape=(r, n)).tocsr(), lb, ub


def capacity_matrix(values: np.ndarray, status: str, equations: list[list[int]], t: int):
    """Rows `d * s_total + sum over the other parts q of min(v_q, d) * s_q >= d` for every
    primary part p of an equation, d = t - v_p: for p to reach t, its total must be hidden
    (and rise) or its hidden sibling parts must fall by d, which they can by their values
    at most. Every valid pattern satisfies them (whatever its other cells)."""
    ri, ci, data, rhs = [], [], [], []
    for eq in equations:
        total, parts = eq[0], eq[1:]
        for p in parts:
            if status[p] != "P":
                continue
            d = float(t - values[p])
            r = len(rhs)
            ri.append(r)
            ci.append(total)
            data.append(d)
            for q in parts:
                if q != p and values[q] > 0:
                    ri.append(r)
                    ci.append(q)
                    data.append(float(min(values[q], d)))
            rhs.append(d)
    return coo_matrix((data, (ri, ci)), shape=(len(rhs), len(values))).tocsr(), np.array(rhs)


def information_loss(values: np.ndarray, status: str, equations: list[list[int]], primaries: list[int], t: int,
                     objective: str, time_limit: float, cut_rounds: int, cut_time: float, verbose: bool) -> dict:
    """Minimum number of hidden cells (objective "cells") or units in hidden cells ("units").

    Round 0 is the relaxation of the brief: every primary hidden, no empty cell hidden, no
    equation with exactly one hidden cell. Its optimum (or HiGHS's dual bound when the time
    limit stops it) is a lower bound on the loss of every valid pattern: a valid pattern of
    least loss is minimal, and a minimal valid pattern has no equation with one hidden cell
    (a lone hidden cell is determined: releasing it changes no interval, and a lone primary is
    unprotected).

    Its pattern is audited with the LP of (a). If a primary p is unprotected, let G be p's
    group of hidden cells and N the released non-empty cells of the equations through G: any
    pattern H that hides no cell of N leaves p's LP exactly as it is (in H ∪ pattern, p's group
    is still G with the same constants, and hiding less only narrows intervals), so every
    valid pattern hides a cell of N: the cut `sum over N of s >= 1` is valid. Rounds 1, 2, ...
    add these cuts and solve again (a combinatorial Benders loop): the bound only grows, and
    a round whose optimal pattern passes the audit has found the optimum of the protection
    problem (for patterns that hide no empty cell). From round 1 on, the capacity rows of
    `capacity_matrix` strengthen the relaxation too. The rounds after the relaxation share
    `cut_time` seconds (each solve at most `time_limit`)."""
    n = len(values)
    a, lb, ub = ilp_matrix(values, status, equations)
    cap, cap_rhs = capacity_matrix(values, status, equations, t)
    cost = np.ones(n) if objective == "cells" else values.astype(float)
    eqs_of: dict[int, list[int]] = {}
    for k, eq in enumerate(equations):
        for c in eq:
            eqs_of.setdefault(c, []).append(k)
    cuts: list[list[int]] = []
    rounds: list[dict] = []
    out = {"objective": objective, "variables": n, "rows": a.shape[0], "nonzeros": int(a.nnz),
           "capacity_rows": cap.shape[0], "rounds": rounds}
    cut_deadline = None
    for k in range(cut_rounds + 1):
        limit = time_limit
        if k == 1:
            cut_deadline = time.perf_counter() + cut_time
        if cut_deadline is not None:
            limit = min(time_limit, cut_deadline - time.perf_counter())
            if limit < 1:
                break
        constraints = [LinearConstraint(a, -np.inf, 0.0)]
        if k >= 1 and cap.shape[0]:
            constraints.append(LinearConstraint(cap, cap_rhs, np.inf))
        if cuts:
            ri = [i for i, cut in enumerate(cuts) for _ in cut]
            ci = [c for cut in cuts for c in cut]
            constraints.append(LinearConstraint(csr_matrix((np.ones(len(ci)), (ri, ci)), shape=(len(cuts), n)),
                                                1.0, np.inf))
        started = time.perf_counter()
        res = milp(cost, constraints=constraints, integrality=np.ones(n), bounds=Bounds(lb, ub),
                   options={"time_limit": limit, "disp": verbose})
        rec = {"round": k, "capacity": k >= 1, "cuts": len(cuts), "seconds": time.perf_counter() - started,
               "status": int(res.status), "message": res.message, "nodes": getattr(res, "mip_node_count", None),
               "gap": getattr(res, "mip_gap", None)}
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 0 and res.fun is not None:
            dual = res.fun if dual is None or not math.isfinite(dual) else dual
        if dual is not None and math.isfinite(dual):
            rec["bound"] = math.ceil(dual - 1e-6)  # integer costs: the optimum is an integer
        rounds.append(rec)
        if res.x is None:
            break
        pattern = res.x > 0.5
        rec["incumbent_cells"] = int(pattern.sum())
        rec["incumbent_units"] = int(values[pattern].sum())
        aud = audit(values, pattern, equations, primaries)
        unprotected = [c for c in primaries if not protected(aud["bounds"].get(c, (math.nan, math.nan)), t)]
        rec["audit_seconds"] = aud["seconds"]
        rec["audit_problems"] = aud["problems"]
        rec["unprotected_primary_cells"] = len(unprotected)
        rec["valid"] = not unprotected and not aud["problems"]
        print(f"    min {objective} round {k}{' (capacity rows)' if k else ''}: {len(cuts)} cuts, {rec['message']} in "
              f"{rec['seconds']:.1f} s; bound {rec.get('bound')}, pattern {rec['incumbent_cells']:,} cells / "
              f"{rec['incumbent_units']:,} units; {len(unprotected)} primaries unprotected", flush=True)
        if not unprotected or aud["problems"]:
            break  # valid (optimal if the solve was), or the audit failed
        seen: set[int] = set()
        for p in unprotected:
            group = aud["group_of"][p]
            if group[0] in seen:
                continue
            seen.add(group[0])
            near = sorted({c for g in group for e in eqs_of.get(g, []) for c in equations[e]
                           if not pattern[c] and values[c] > 0})
            if not near:
                rec["infeasible"] = f"primary {p} cannot be protected by hiding non-empty cells"
                break
            cuts.append(near)
        if "infeasible" in rec:
            break
    bounds = [r["bound"] for r in rounds if "bound" in r]
    out["bound"] = max(bounds) if bounds else None
    first, last = rounds[0], rounds[-1]
    out["relaxation"] = {k: first.get(k) for k in ("bound", "status", "message", "gap", "seconds", "nodes",
                                                   "incumbent_cells", "incumbent_units", "unprotected_primary_cells")}
    # HiGHS stops at a relative gap of 1e-4: the pattern is optimal when it meets the bound.
    value = last.get("incumbent_cells" if objective == "cells" else "incumbent_units")
    out["optimal_valid_pattern"] = bool(last.get("valid")) and value == out["bound"]
    out["final"] = {k: last.get(k) for k in ("round", "cuts", "bound", "status", "message", "incumbent_cells",
                                             "incumbent_units", "unprotected_primary_cells")}
    out["seconds"] = sum(r["seconds"] + r.get("audit_seconds", 0.0) for r in rounds)
    return out


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--export", required=True, help="the JSON written by gate_bench --export")
    p.add_argument("--time-limit", type=float, default=600, help="seconds per ILP solve (default 600)")
    p.add_argument("--cut-rounds", type=int, default=10,
                   help="rounds of cuts after the relaxation (0: the relaxation only; default 10)")
    p.add_argument("--cut-time", type=float, help="seconds for all rounds of cuts of one objective "
                   "(default: --time-limit)")
    p.add_argument("--json-out", help="write the results here")
    p.add_argument("--skip-ilp", action="store_true", help="only the audit (a)")
    p.add_argument("--no-witnesses", action="store_true", help="(a) with two LPs per primary cell, no witnesses")
    p.add_argument("--verbose", action="store_true", help="show HiGHS's log of the ILPs")
    args = p.parse_args()
    cut_time = args.time_limit if args.cut_time is None else args.cut_time
    res = run(args.export, args.time_limit, args.cut_rounds, cut_time, args.skip_ilp, args.verbose,
              witnesses=not args.no_witnesses)
    print()
    print(markdown(res))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=1, default=str) + "\n")
        print(f"\nwrote {args.json_out}")
    if res["problems"]:
        print("\n".join(res["problems"]), file=sys.stderr)
        sys.exit("the gate's pattern or certificate does not check out (see above)")


def run(export: str, time_limit: float, cut_rounds: int, cut_time: float, skip_ilp: bool = False,
        verbose: bool = False, witnesses: bool = True) -> dict:
    d = load(export)
    values, status, equations, t = d["values"], d["status"], d["equations"], d["min_units"]
    n = len(values)
    if len(status) != n or len(d["margin"]) != n:
        sys.exit(f"{export}: values, margin and status differ in length")
    hidden = np.array([s in HIDDEN for s in status])
    primaries = [c for c, s in enumerate(status) if s == "P"]
    counts = {k: status.count(k) for k in "RPSDV" if status.count(k)}
    gate_units = int(values[hidden].sum())
    res: dict = {
        "export": str(export),
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "gate_summary": d.get("summary", {}),
        "table": {
            "cells": n,
            "margins": int(sum(d["margin"])),
            "equations": len(equations),
            "equation_members": int(sum(len(e) for e in equations)),
            "grand_total": int(values.max()),
            "min_units": t,
            "empty_cells": int((values == 0).sum()),
            "small_cells": int(((values > 0) & (values < t)).sum()),
        },
        "gate": {"status_counts": counts, "hidden_cells": int(hidden.sum()), "units_in_hidden_cells": gate_units,
                 "units_in_secondary_cells": int(values[[s == "S" for s in status]].sum())},
        "seconds_loading": d["seconds_loading"],
        "problems": [],
    }
    problems = res["problems"]
    if res["table"]["small_cells"] != counts.get("P", 0):
        problems.append(f"{res['table']['small_cells']} small cells, {counts.get('P', 0)} primary")
    released_small = int(((values > 0) & (values < t) & ~hidden).sum())
    if released_small:
        problems.append(f"{released_small} small cells released")
    print(f"table: {n:,} cells, {len(equations):,} equations; gate: {counts} "
          f"({int(hidden.sum()):,} hidden, {gate_units:,} units in hidden cells)", flush=True)

    # (a) The gate's pattern, audited.
    a = audit(values, hidden, equations, primaries, witnesses=witnesses)
    unprotected = [c for c in primaries if not protected(a["bounds"].get(c, (math.nan, math.nan)), t)]
    cmp_ = compare_certificate(a["bounds"], d["certificate"], primaries)
    res["audit"] = {
        "seconds": a["seconds"], "witnesses": witnesses, "lps": a["lps"], "groups": a["groups"], "largest_group": a["largest_group"],
        "problems": a["problems"], "primary_cells": len(primaries), "unprotected_primary_cells": len(unprotected),
        "unprotected_examples": [{"cell": c, "bounds": [fmt_num(x) for x in a["bounds"].get(c, (math.nan,) * 2)]}
                                 for c in unprotected[:10]],
        "every_primary_covers_0_to_min_units": not unprotected and not a["problems"],
        "certificate": cmp_,
    }
    problems += a["problems"]
    problems += [f"certificate disagreement: {x}" for x in cmp_["disagreements"]]
    problems += [f"primary cell {c} unprotected: {a['bounds'].get(c)}" for c in unprotected]
    print(f"(a) audit: {a['lps']:,} LPs over {a['groups']} groups (largest {a['largest_group']:,} hidden cells) "
          f"in {a['seconds']:.1f} s; certificate max |difference| {cmp_['max_abs_difference']}, "
          f"{len(cmp_['disagreements'])} disagreements; unprotected primaries: {len(unprotected)}", flush=True)

    # (b) Lower bounds on the information loss.
    if not skip_ilp:
        res["ilp"] = {}
        for objective in ("cells", "units"):
            o = information_loss(values, status, equations, primaries, t, objective, time_limit, cut_rounds, cut_time,
                                 verbose)
            res["ilp"][objective] = o
            r0, fin = o["relaxation"], o["final"]
            print(f"(b) min {objective}: {o['variables']:,} binaries, {o['rows']:,} rows, {o['nonzeros']:,} nonzeros; "
                  f"relaxation bound {r0['bound']} ({r0['message']}, {r0['seconds']:.1f} s; its pattern leaves "
                  f"{r0['unprotected_primary_cells']} primaries unprotected); after {fin['round']} rounds of cuts: "
                  f"bound {o['bound']}, {fin['unprotected_primary_cells']} unprotected"
                  f"{' (optimal valid pattern)' if o['optimal_valid_pattern'] else ''}", flush=True)
        # The best valid patterns known (the gate's and any ILP pattern that passed the audit)
        # against the lower bounds.
        valid = [] if unprotected else [("gate", int(hidden.sum()), gate_units)]
        for objective, o in res["ilp"].items():
            valid += [(f"ILP min {objective}, round {r['round']}", r["incumbent_cells"], r["incumbent_units"])
                      for r in o["rounds"] if r.get("valid")]
        res["loss"] = {}
        for objective, key in (("cells", 1), ("units", 2)):
            best = min(valid, key=lambda v: v[key], default=None)
            bound = res["ilp"][objective]["bound"]
            gate = int(hidden.sum()) if objective == "cells" else gate_units
            res["loss"][objective] = {
                "lower_bound": bound,
                "best_valid": best[key] if best else None,
                "best_valid_from": best[0] if best else None,
                "gate": gate,
                "gate_above_lower_bound": (gate - bound) / bound if bound else None,
                "gate_above_best_valid": (gate - best[key]) / best[key] if best else None,
            }
    return res


def markdown(res: dict) -> str:
    """The comparison tables (also used by bench/gate_vs_reference.py)."""
    g, a = res["gate"], res["audit"]
    secs = res["gate_summary"].get("seconds_suppression_and_audit", math.nan)
    inc = lambda v: "–" if v is None else f"{v:,}"  # noqa: E731
    lines = [
        "| pattern | hidden cells | units in hidden cells | small cells unprotected (LP audit) | seconds |",
        "|---|---:|---:|---:|---:|",
        f"| gate (hypercube + audit) | {g['hidden_cells']:,} | {g['units_in_hidden_cells']:,} | "
        f"{a['unprotected_primary_cells']} | {secs:.1f} |",
    ]

    def gap_text(r: dict) -> str:
        gap = r.get("gap")
        if r["status"] == 0:  # HiGHS: optimal up to its relative gap tolerance (1e-4)
            return "optimal" if not gap else f"optimal to {gap:.2%}"
        return f"gap {gap:.2%}" if gap is not None and math.isfinite(gap) else r["message"]

    for objective, o in res.get("ilp", {}).items():
        rows = [("relaxation", o["rounds"][0], o["rounds"][0]["seconds"] + o["rounds"][0].get("audit_seconds", 0))]
        if len(o["rounds"]) > 1:
            last = o["rounds"][-1]
            rows.append((f"+ capacity rows, {last['cuts']} cuts ({last['round']} rounds)", last, o["seconds"]))
        for label, r, seconds in rows:
            b = "–" if r.get("bound") is None else f"≥ {r['bound']:,}"
            cells, units = inc(r.get("incumbent_cells")), inc(r.get("incumbent_units"))
            if objective == "cells":
                cells = f"{b} (pattern {cells}, {gap_text(r)})"
            else:
                units = f"{b} (pattern {units}, {gap_text(r)})"
            lines.append(f"| ILP min {objective}, {label} | {cells} | {units} | "
                         f"{inc(r.get('unprotected_primary_cells'))} | {seconds:.1f} |")
    if "loss" in res:
        lines += ["", "| information loss | lower bound (ILP) | best valid pattern known | gate | gate above the bound |",
                  "|---|---:|---:|---:|---:|"]
        for objective, label in (("cells", "hidden cells"), ("units", "units in hidden cells")):
            x = res["loss"][objective]
            above = "–" if x["gate_above_lower_bound"] is None else f"+{x['gate_above_lower_bound']:.1%}"
            exact = " (the optimum)" if x["lower_bound"] is not None and x["lower_bound"] == x["best_valid"] else ""
            lines.append(f"| {label} | {inc(x['lower_bound'])}{exact} | {inc(x['best_valid'])} ({x['best_valid_from']}) | "
                         f"{x['gate']:,} | {above} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
