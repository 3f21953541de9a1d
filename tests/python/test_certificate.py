"""Independent re-verification of the disclosure gate's release certificates
(docs/disclosure.md, "Audit by linear programming").

`aim table` writes a gated CSV and `<out>.csv.meta.json`, whose `audit.certificate` claims,
for every hidden small cell, two values its count takes in non-negative tables that agree
with the released counts and the table's additivity (the exact minimum and maximum, or values
beyond its required interval's ends). `verify` below checks such a release from the two files
alone, without the gate's code or the warehouse: it rebuilds the cells from their labels and
the additivity equations from `hierarchies`, makes every masked cell a non-negative variable,
solves two LPs per certified cell with scipy/HiGHS and checks that the minimum is at most the
claimed lower value and the maximum at least the upper one; it also checks that no small count is released, that equations
whose cells are all released add up, and that every certified interval covers its required
one. The tests run it on real releases (population and sample, a region → province →
district → municipality × sex × age group table with many small cells), compare the releases
with the warehouse's true counts, and show that `verify` rejects tampered releases.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import math
import shutil
from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from conftest import run_aim

SMALL_CELL = "small cell"
EPS = 1e-6  # the gate's tolerance (suppress.rs, Protection::holds)

# --------------------------------------------------------------------------------------
# The verifier: from the released CSV and its metadata only
# --------------------------------------------------------------------------------------

Node = tuple[str, str]  # (level, code); level "total" for a dimension's total


@dataclass
class Parsed:
    """A release read back: cells by their nodes, released counts, additivity."""

    names: list[str]  # dimensions, in the CSV's (and the certificate labels') order
    nodes: list[list[Node]]  # per dimension
    keys: list[tuple[Node, ...]]  # per cell (CSV line order)
    index: dict[tuple[Node, ...], int]
    value: list[int | None]  # released count; None when masked
    equations: list[tuple[int, list[int]]]  # (total, parts): cell(total) = sum of cell(parts)


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    bounds: dict[int, tuple[float, float]] = field(default_factory=dict)  # cell -> [min, max]
    cells_of_entry: list[list[int]] = field(default_factory=list)  # certificate entry -> cells
    parsed: Parsed | None = None
    stats: dict = field(default_factory=dict)


def parse(csv_text: str, meta: dict, problems: list[str]) -> Parsed:
    """The cells of the CSV and the equations of the metadata's hierarchies."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, body = rows[0], rows[1:]
    request_dims = {d["name"]: d for d in meta["request"]["dimension"]}
    # Header: per dimension its name and, for multi-level dimensions, "<name> level".
    names, has_level, col = [], [], 0
    while col < len(header) and header[col] != "persons":
        name = header[col]
        names.append(name)
        has_level.append(col + 1 < len(header) and header[col + 1] == f"{name} level")
        col += 2 if has_level[-1] else 1
    if col == len(header):
        problems.append("the CSV has no persons column")
        return Parsed(names, [], [], {}, [], [])
    persons = col
    if names != [d["name"] for d in meta["request"]["dimension"]] or set(names) != set(meta["hierarchies"]):
        problems.append(f"CSV dimensions {names} differ from the request's or the hierarchies'")
        return Parsed(names, [], [], {}, [], [])
    # Hierarchies: a node is (level, code); its parent is at the level above (codes may repeat
    # across levels: Brussels is region 04000 and province 04000).
    all_nodes: list[list[Node]] = []
    all_children: list[dict[Node, list[Node]]] = []
    levels_of: list[list[str]] = []
    for name in names:
        levels = ["total", *request_dims[name]["levels"]]
        levels_of.append(levels)
        listed = meta["hierarchies"][name]
        children: dict[Node, list[Node]] = {}
        for n in listed:
            key = (n["level"], n["code"])
            if n["level"] not in levels or key in children:
                problems.append(f"{name}: node {key} at an unknown level or listed twice")
            children[key] = []
        totals = 0
        for n in listed:
            key = (n["level"], n["code"])
            if n["parent"] is None:
                totals += 1
                if n["level"] != "total":
                    problems.append(f"{name}: node {key} has no parent")
                continue
            parent = (levels[levels.index(n["level"]) - 1], n["parent"]) if n["level"] in levels[1:] else None
            if parent not in children:
                problems.append(f"{name}: the parent {n['parent']!r} of {key} is not in the hierarchy")
                continue
            children[parent].append(key)
        if totals != 1:
            problems.append(f"{name}: {totals} totals")
        all_nodes.append(list(children))
        all_children.append(children)
    # Cells.
    index: dict[tuple[Node, ...], int] = {}
    keys: list[tuple[Node, ...]] = []
    value: list[int | None] = []
    for line in body:
        key, c = [], 0
        for d, name in enumerate(names):
            code = line[c]
            if has_level[d]:
                key.append((line[c + 1], code))
                c += 2
            else:
                found = [k for k in all_nodes[d] if k[1] == code]
                if len(found) != 1:
                    problems.append(f"{name}: code {code!r} names {len(found)} nodes")
                key.append(found[0] if found else (levels_of[d][-1], code))
                c += 1
        key = tuple(key)
        if key in index:
            problems.append(f"cell {key} appears twice")
            continue
        v = line[persons]
        try:
            value.append(None if v == SMALL_CELL else int(v))
        except ValueError:
            problems.append(f"cell {key}: persons {v!r} is neither a count nor {SMALL_CELL!r}")
            value.append(None)
        index[key] = len(keys)
        keys.append(key)
    combos = math.prod(len(n) for n in all_nodes)
    if len(keys) != combos or any(k not in index for k in itertools.product(*all_nodes)):
        problems.append(f"the CSV has {len(keys)} cells, the hierarchies give {combos} combinations")
    # Additivity: for every dimension, every node with children and every combination of the
    # other dimensions' nodes, cell(parent) = sum of cell(children).
    equations = []
    for d in range(len(names)):
        others = [all_nodes[e] if e != d else [None] for e in range(len(names))]
        for parent, kids in all_children[d].items():
            if not kids:
                continue
            for combo in itertools.product(*others):
                def cell(n: Node) -> int | None:
                    return index.get(tuple(n if e == d else combo[e] for e in range(len(names))))

                total, parts = cell(parent), [cell(k) for k in kids]
                if total is not None and None not in parts:
                    equations.append((total, parts))
    return Parsed(names, all_nodes, keys, index, value, equations)


def verify(csv_text: str, meta: dict) -> Verification:
    """Checks a release from its CSV and metadata alone; `problems` is empty when it holds."""
    out = Verification()
    problems = out.problems
    p = out.parsed = parse(csv_text, meta, problems)
    if problems:
        return out
    t = meta["policy"]["min_units"]
    if meta["audit"]["result"] != "passed":
        problems.append(f"audit result {meta['audit']['result']!r}")
    # No small count is released.
    for c, v in enumerate(p.value):
        if v is not None and not (v == 0 or v >= t):
            problems.append(f"released small cell {p.keys[c]}: {v}")
    masked = [c for c, v in enumerate(p.value) if v is None]
    suppressed = (meta["primary_suppressed"] + meta["secondary_suppressed"] + meta["differencing_suppressed"]
                  + meta.get("contributor_suppressed", 0) + meta.get("provider_suppressed", 0))
    if len(masked) != suppressed or meta["cells"] != len(p.keys):
        problems.append(f"{len(masked)} of {len(p.keys)} cells masked; the metadata says "
                        f"{suppressed} of {meta['cells']}")
    # Certificate entries name masked cells, one entry per primary and differencing cell. Labels
    # are one code per dimension (no level): an entry names every cell with those codes.
    certificate = meta["audit"]["certificate"]
    if len(certificate) != meta["primary_suppressed"] + meta["differencing_suppressed"]:
        problems.append(f"{len(certificate)} certified cells for {meta['primary_suppressed']} primary and "
                        f"{meta['differencing_suppressed']} differencing suppressions")
    by_codes: dict[tuple[str, ...], list[int]] = {}
    for c, key in enumerate(p.keys):
        by_codes.setdefault(tuple(code for _, code in key), []).append(c)
    uses: dict[tuple[str, ...], int] = {}
    for e in certificate:
        labels = tuple(e["labels"])
        cells = by_codes.get(labels, [])
        out.cells_of_entry.append(cells)
        uses[labels] = uses.get(labels, 0) + 1
        if not cells:
            problems.append(f"the certificate names no cell of the table: {list(labels)}")
        elif uses[labels] > len(cells):
            problems.append(f"the certificate lists {list(labels)} more often than there are such cells")
        for c in cells:
            if p.value[c] is not None:
                problems.append(f"certified cell {p.keys[c]} is released: {p.value[c]}")
        if meta["differencing_suppressed"] == 0 and not (e["required_lower"] <= 0 and e["required_upper"] >= t):
            problems.append(f"{list(labels)}: the required interval [{e['required_lower']}, "
                            f"{e['required_upper']}] does not contain [0, {t}]")
    out.stats["ambiguous_labels"] = sum(len(c) > 1 for c in out.cells_of_entry)
    # Equations: those with only released cells must add up; the others constrain the masked
    # cells (sum over masked cells of a * x = constant from the released cells).
    hidden = [v is None for v in p.value]
    rows: list[tuple[dict[int, float], float]] = []
    for total, parts in p.equations:
        terms = [(total, 1.0)] + [(c, -1.0) for c in parts]
        if not any(hidden[c] for c, _ in terms):
            if p.value[total] != sum(p.value[c] for c in parts):
                problems.append(f"released cells do not add up: {p.keys[total]} = {p.value[total]}, its parts "
                                f"sum to {sum(p.value[c] for c in parts)}")
            continue
        coef: dict[int, float] = {}
        rhs = 0.0
        for c, a in terms:
            if hidden[c]:
                coef[c] = coef.get(c, 0.0) + a
            else:
                rhs -= a * p.value[c]
        rows.append((coef, rhs))
    out.stats["cells"], out.stats["masked"], out.stats["equations"] = len(p.keys), len(masked), len(p.equations)
    # Masked cells linked through an equation form a group; groups are independent LPs.
    root = {c: c for c in masked}

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    for coef, _ in rows:
        first, *rest = coef
        for c in rest:
            root[find(c)] = find(first)
    members: dict[int, list[int]] = {}
    for c in masked:
        members.setdefault(find(c), []).append(c)
    rows_of: dict[int, list[tuple[dict[int, float], float]]] = {}
    for r in rows:
        rows_of.setdefault(find(next(iter(r[0]))), []).append(r)
    targets: dict[int, list[int]] = {}
    for c in sorted({c for cells in out.cells_of_entry for c in cells if hidden[c]}):
        targets.setdefault(find(c), []).append(c)
    out.stats["groups"] = len(targets)
    out.stats["largest_group"] = max((len(members[g]) for g in targets), default=0)
    lps = 0
    for g, cells in targets.items():
        var = {c: i for i, c in enumerate(members[g])}
        grows = rows_of.get(g, [])
        data, ri, ci = [], [], []
        for i, (coef, _) in enumerate(grows):
            for c, a in coef.items():
                if a:
                    data.append(a)
                    ri.append(i)
                    ci.append(var[c])
        a_eq = csr_matrix((data, (ri, ci)), shape=(len(grows), len(var))) if grows else None
        b_eq = np.array([r[1] for r in grows]) if grows else None

        def solve(objective: np.ndarray):
            """(status, optimum value, solution) of min objective·x over the group's tables."""
            nonlocal lps
            lps += 1
            res = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
            if res.status == 2:
                problems.append(f"no non-negative table agrees with the release ({res.message})")
            elif res.status not in (0, 3):
                problems.append(f"the LP of a group of {len(var)} masked cells failed: {res.message}")
            return res.status, (res.fun if res.status == 0 else math.nan), res.x

        # One LP minimising the sum of the group's certified cells: a cell at 0 in its solution
        # has minimum 0 (a non-negative table agreeing with the release has it at 0); the
        # others get their own LP.
        objective = np.zeros(len(var))
        objective[[var[c] for c in cells]] = 1.0
        status, _, witness = solve(objective)
        if status != 0:
            return out
        for c in cells:
            if witness[var[c]] <= 1e-9:
                lower = 0.0
            else:
                objective = np.zeros(len(var))
                objective[var[c]] = 1.0
                status, lower, _ = solve(objective)
            objective = np.zeros(len(var))
            objective[var[c]] = -1.0
            status, fun, _ = solve(objective)  # max x_c = -min -x_c; status 3: unbounded
            out.bounds[c] = (lower, math.inf if status == 3 else -fun)
            if math.isnan(lower) or status not in (0, 3):
                return out
    out.stats["lps"] = lps
    # The certificate against the bounds found, and the protection on the bounds found.
    for e, cells in zip(certificate, out.cells_of_entry):
        upper = math.inf if e["upper"] is None else e["upper"]
        for c in cells:
            if c not in out.bounds:
                continue  # released: reported above
            lo, hi = out.bounds[c]
            # The certificate's values are attainable: the minimum at most `lower`, the
            # maximum at least `upper` (exact bounds, or values beyond the required ends).
            if not (lo <= e["lower"] + EPS and (hi == math.inf or hi >= upper - EPS)):
                problems.append(f"the certificate of {e['labels']} {p.keys[c]} says [{e['lower']}, {upper}], "
                                f"the LP finds [{lo}, {hi}]")
            if not (lo <= e["required_lower"] + EPS and hi >= e["required_upper"] - EPS):
                problems.append(f"{p.keys[c]} is not protected: [{lo}, {hi}] does not cover "
                                f"[{e['required_lower']}, {e['required_upper']}]")
            if not (e["lower"] <= e["required_lower"] + EPS and upper >= e["required_upper"] - EPS):
                problems.append(f"the certificate of {e['labels']} does not cover its required interval")
    return out


# --------------------------------------------------------------------------------------
# Releases to check: a geographic hierarchy × sex × age group with many small cells
# --------------------------------------------------------------------------------------

# Brussels (region 04000 = province 04000 → district 21000) and Antwerp (province 10000):
# a four-level hierarchy whose codes repeat across levels, ~800 cells for ~900 persons.
# (The whole country, 6,768 cells, verifies too but takes the debug gate a minute.)
SQL = """
SELECT p.person_id, m.region, m.province, m.district, p.municipality_2025 AS municipality, p.sex,
       CASE WHEN p.age < 65 THEN '0-64' ELSE '65+' END AS age_group
FROM pati p JOIN ref_municipality_2025 m ON p.municipality_2025 = m.nis
WHERE p.year = 2024 AND m.province IN ('04000', '10000')
"""
LEVELS = {"geography": ["region", "province", "district", "municipality"], "sex": ["sex"],
          "age group": ["age_group"]}
TOTALS = {"geography": "Belgium", "sex": "all", "age group": "all ages"}


def request(requester: str) -> str:
    dims = "".join(f'\n[[dimension]]\nname = "{n}"\nlevels = {json.dumps(lv)}\ntotal = "{TOTALS[n]}"\n'
                   for n, lv in LEVELS.items())
    return (f'title = "Persons by municipality, sex and age group, 2024"\nrequester = "{requester}"\n'
            f'unit = "person_id"\nsql = """{SQL}"""\n{dims}')


def truth(wh, source: str) -> dict[tuple[Node, ...], int]:
    """Every cell's true count, from the warehouse (`aim sql`, not the release)."""
    columns = [c for lv in LEVELS.values() for c in lv]
    query = f"SELECT {', '.join(columns)}, count(DISTINCT person_id) AS n FROM ({SQL}) q GROUP BY ALL"
    args = ["sql", "--warehouse", str(wh), "--format", "json", query]
    r = run_aim(*args, *(["--sample"] if source == "sample" else []))
    assert r.returncode == 0, r.stderr
    cells: dict[tuple[Node, ...], int] = {}
    for row in json.loads(r.stdout):
        paths = [[("total", TOTALS[n])] + [(lv, row[lv]) for lv in levels] for n, levels in LEVELS.items()]
        for key in itertools.product(*paths):
            cells[key] = cells.get(key, 0) + row["n"]
    return cells


@pytest.fixture(scope="module")
def releases(built_derived, accounts, tmp_path_factory):
    """The release of the request on the population and on the sample, with the truth."""
    root = tmp_path_factory.mktemp("certificate")
    out = {}
    for source in ("population", "sample"):
        # Each release on its own copy of the warehouse with no release in its ledger, so
        # that it is this one table's certificate (every release is audited against every
        # earlier one, whoever asked: the sample table against the population one would hide
        # cells for differencing, which tests elsewhere cover).
        wh = root / f"warehouse-{source}"
        shutil.copytree(built_derived["warehouse"], wh)
        shutil.rmtree(wh / "releases", ignore_errors=True)
        spec = root / f"{source}.toml"
        spec.write_text(request(f"certificate-test-{source}"))
        csv_path = root / f"{source}.csv"
        r = run_aim("table", "--project", accounts["projects"][source], "--warehouse", str(wh),
                    "--spec", str(spec), "--source", source, "--out", str(csv_path))
        assert r.returncode == 0, r.stdout + r.stderr
        meta = json.loads((root / f"{source}.csv.meta.json").read_text())
        out[source] = (csv_path.read_text(), meta, truth(wh, source))
    return out


@pytest.fixture(scope="module")
def verified(releases):
    """`verify` on each release (once: the LPs take a second or two)."""
    return {source: verify(text, meta) for source, (text, meta, _) in releases.items()}


# --------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["population", "sample"])
def test_the_certificate_is_reproduced_by_an_independent_lp(releases, verified, source):
    _, meta, _ = releases[source]
    v = verified[source]
    assert not v.problems, "\n".join(v.problems[:20])
    assert meta["audit"]["result"] == "passed"
    assert meta["policy"]["min_units"] == {"population": 5, "sample": 4}[source]
    assert meta["differencing_suppressed"] == 0
    # Many small cells, all certified, and the LPs solved for each of them.
    assert meta["primary_suppressed"] >= 50, meta["primary_suppressed"]
    assert len(v.bounds) == len({c for cells in v.cells_of_entry for c in cells}) >= meta["primary_suppressed"]
    # Each certified interval covers its required one, [0, T] for a small cell.
    t = meta["policy"]["min_units"]
    for e in meta["audit"]["certificate"]:
        assert (e["required_lower"], e["required_upper"]) == (0.0, t), e
        assert e["lower"] <= EPS and (e["upper"] is None or e["upper"] >= t - EPS), e


@pytest.mark.parametrize("source", ["population", "sample"])
def test_the_release_agrees_with_the_warehouse(releases, verified, source):
    """Against the true counts (from the warehouse): released counts are exact, the masked
    cells are exactly the small ones plus secondaries, and every true value lies inside its
    certified interval (the true table is one of those the LP ranges over)."""
    text, meta, true = releases[source]
    problems: list[str] = []
    p = parse(text, meta, problems)
    assert not problems, problems
    t = meta["policy"]["min_units"]
    assert set(true) <= set(p.keys)  # the cells not in `true` are empty
    for c, key in enumerate(p.keys):
        n = true.get(key, 0)
        if p.value[c] is not None:
            assert p.value[c] == n, key
        assert not (0 < n < t) or p.value[c] is None, f"small cell {key} ({n}) released"
    small = {k for k in p.keys if 0 < true.get(k, 0) < t}
    certified = {p.keys[c] for cells in verified[source].cells_of_entry for c in cells}
    assert certified == small
    assert len(small) == meta["primary_suppressed"]
    for e in meta["audit"]["certificate"]:
        for c in {p.index[k] for k in small if tuple(code for _, code in k) == tuple(e["labels"])}:
            upper = math.inf if e["upper"] is None else e["upper"]
            assert e["lower"] - EPS <= true[p.keys[c]] <= upper + EPS, (e, true[p.keys[c]])


def tamper_csv(text: str, changes: dict[int, str]) -> str:
    """The CSV with the persons column of cells (by line order) replaced."""
    rows = list(csv.reader(io.StringIO(text)))
    persons = rows[0].index("persons")
    for c, v in changes.items():
        rows[c + 1][persons] = v
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def test_the_verifier_rejects_tampered_releases(releases, verified):
    text, meta, true = releases["sample"]
    base = verified["sample"]
    assert not base.problems
    p = base.parsed
    cert = meta["audit"]["certificate"]
    t = meta["policy"]["min_units"]
    # An entry naming a single cell whose exact maximum (the verifier's) is finite.
    plain = [i for i, cells in enumerate(base.cells_of_entry) if len(cells) == 1]
    i = next(i for i in plain if cert[i]["upper"] is not None
             and math.isfinite(base.bounds[base.cells_of_entry[i][0]][1]))
    c = base.cells_of_entry[i][0]

    def rejected(text2: str, meta2: dict, *expected: str) -> list[str]:
        v = verify(text2, meta2)
        assert v.problems, "the tampered release was accepted"
        for s in expected:
            assert any(s in q for q in v.problems), (s, v.problems[:10])
        return v.problems

    # 1. One upper value beyond what any table agreeing with the release reaches: the LP
    #    disagrees.
    m = copy.deepcopy(meta)
    m["audit"]["certificate"][i]["upper"] = base.bounds[c][1] + 1
    rejected(text, m, "the LP finds")
    # 2. One lower value raised: it no longer covers [0, T]; below zero: the LP disagrees.
    m = copy.deepcopy(meta)
    m["audit"]["certificate"][i]["lower"] = 1.0
    rejected(text, m, "does not cover its required interval")
    m = copy.deepcopy(meta)
    m["audit"]["certificate"][i]["lower"] = -1.0
    rejected(text, m, "the LP finds")
    # 3. A certified (small) cell revealed with its true count.
    rejected(tamper_csv(text, {c: str(true[p.keys[c]])}), meta, "released small cell", "is released")
    # 4. A certified cell revealed as 0 (not a small count, consistent with its interval).
    assert cert[i]["lower"] == 0
    rejected(tamper_csv(text, {c: "0"}), meta, "is released")
    # 5. A secondary cell revealed with its true count, the metadata adjusted to match: a
    #    consistent release whose pattern no longer protects the small cell it covered. Take
    #    a secondary cell that shares an equation with exactly one other masked cell, a
    #    certified one: revealed, it pins that cell down.
    certified = {c for cells in base.cells_of_entry for c in cells}
    masked = {k for k, v in enumerate(p.value) if v is None}
    pairs = []
    for total, parts in p.equations:
        hid = [x for x in [total, *parts] if x in masked]
        if len(hid) == 2:
            pairs += [(s, other) for s, other in (hid, hid[::-1]) if s not in certified and other in certified]
    assert pairs, "no secondary cell pairs with a small cell in an equation"
    s, pinned = pairs[0]
    m = copy.deepcopy(meta)
    m["secondary_suppressed"] -= 1
    problems = rejected(tamper_csv(text, {s: str(true.get(p.keys[s], 0))}), m, "is not protected")
    assert any(str(p.keys[pinned]) in q for q in problems)
    # 6. A released count off by one: the release is no longer additive.
    r = next(k for k, v in enumerate(p.value) if v is not None and v >= t + 1)
    rejected(tamper_csv(text, {r: str(p.value[r] + 1)}), meta)
    # 7. A certificate entry dropped, or the audit reported failed.
    m = copy.deepcopy(meta)
    del m["audit"]["certificate"][i]
    rejected(text, m, "certified cells for")
    m = copy.deepcopy(meta)
    m["audit"]["result"] = "failed"
    rejected(text, m, "audit result")


# --------------------------------------------------------------------------------------
# Amounts: the contributor rule's certificates (sums one person dominates)
# --------------------------------------------------------------------------------------


def verify_amounts(csv_text: str, meta: dict) -> list[str]:
    """Re-verifies, from the CSV and metadata alone, every certified amount (quantity
    `sum_<measure>`): an LP over the masked cells' sums, the released sums (rounded to cents,
    hence a tolerance per equation) and the table's additivity, per certified cell and
    direction."""
    problems: list[str] = []
    p = parse(csv_text, meta, problems)
    if problems:
        return problems
    rows = list(csv.reader(io.StringIO(csv_text)))
    header, body = rows[0], rows[1:]
    entries = [e for e in meta["audit"]["certificate"] if e["quantity"] != "persons"]
    if not entries:
        return ["no amount is certified"]
    by_codes: dict[tuple[str, ...], list[int]] = {}
    for c, key in enumerate(p.keys):
        by_codes.setdefault(tuple(code for _, code in key), []).append(c)
    for quantity in sorted({e["quantity"] for e in entries}):
        col = header.index(quantity)
        value = [None if line[col] == SMALL_CELL else float(line[col]) for line in body]
        masked = [c for c, v in enumerate(value) if v is None]
        var = {c: i for i, c in enumerate(masked)}
        a_ub, b_ub = [], []
        for total, parts in p.equations:
            terms = [(total, 1.0)] + [(c, -1.0) for c in parts]
            if not any(value[c] is None for c, _ in terms):
                continue
            row = np.zeros(len(var))
            rhs = 0.0
            for c, a in terms:
                if value[c] is None:
                    row[var[c]] += a
                else:
                    rhs -= a * value[c]
            tol = 0.005 * len(terms) + 1e-6
            a_ub += [row, -row]
            b_ub += [rhs + tol, -(rhs - tol)]
        for e in (e for e in entries if e["quantity"] == quantity):
            for c in by_codes.get(tuple(e["labels"]), []):
                if value[c] is not None:
                    problems.append(f"certified amount {e['labels']} is released")
                    continue
                bound = []
                for sign in (1.0, -1.0):
                    objective = np.zeros(len(var))
                    objective[var[c]] = sign
                    res = linprog(objective, A_ub=np.array(a_ub) if a_ub else None,
                                  b_ub=np.array(b_ub) if b_ub else None, bounds=(0, None), method="highs")
                    bound.append(math.inf if res.status == 3 else sign * res.fun)
                lo, hi = bound
                tol = 0.01 * len(p.keys)
                if not (lo <= e["required_lower"] + tol and hi >= e["required_upper"] - tol):
                    problems.append(f"{e['labels']} {quantity}: [{lo}, {hi}] does not cover "
                                    f"[{e['required_lower']}, {e['required_upper']}]")
                if not (lo <= e["lower"] + tol and hi >= (e["upper"] or math.inf) - tol):
                    problems.append(f"{e['labels']} {quantity}: the certificate says "
                                    f"[{e['lower']}, {e['upper']}], the LP finds [{lo}, {hi}]")
    return problems


def test_amounts_one_person_dominates_are_hidden_and_certified(built_derived, accounts, tmp_path):
    """One person's spending made to dominate their cells: those sums are hidden, and their
    protection is re-verified independently from the release."""
    wh = built_derived["warehouse"]
    sql = """
SELECT p.person_id, m.region, m.province, p.sex,
       CASE WHEN p.person_id = (SELECT min(person_id) FROM pati WHERE year = 2024)
            THEN 100000000.0 ELSE p.reimbursed_total END AS spending
FROM pati p JOIN ref_municipality_2025 m ON p.municipality_2025 = m.nis
WHERE p.year = 2024
"""
    spec = tmp_path / "spending.toml"
    spec.write_text(
        'title = "Spending by province and sex, 2024"\nrequester = "amounts-test"\n'
        f'sql = """{sql}"""\n'
        '[[dimension]]\nname = "geography"\nlevels = ["region", "province"]\ntotal = "Belgium"\n'
        '[[dimension]]\nname = "sex"\nlevels = ["sex"]\ntotal = "all"\n'
        '[[measure]]\ncolumn = "spending"\nstatistics = ["sum"]\n')
    out = tmp_path / "spending.csv"
    r = run_aim("table", "--project", accounts["projects"]["population"], "--warehouse", str(wh),
                "--spec", str(spec), "--source", "population", "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    meta = json.loads((tmp_path / "spending.csv.meta.json").read_text())
    text = out.read_text()
    assert meta["contributor_suppressed"] >= 1, meta
    for line in list(csv.DictReader(io.StringIO(text))):
        if line["sum_spending"] != SMALL_CELL:
            assert float(line["sum_spending"]) < 50_000_000, line
    problems = verify_amounts(text, meta)
    assert not problems, "\n".join(problems[:20])
    # The verifier is not a formality: a certificate claiming a value no table agreeing with
    # the release reaches is rejected.
    tampered = copy.deepcopy(meta)
    for e in tampered["audit"]["certificate"]:
        if e["quantity"] != "persons":
            e["lower"] = -1e9
    assert verify_amounts(text, tampered)
