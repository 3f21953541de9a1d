"""The Atlas (docs/indicators.md) checked from the outside: every figure of `aim atlas build`
recomputed from PATI with DuckDB and plain Python, without aim's code.

The reference here follows the spec, not compute.rs:

- the indicator definitions are parsed from crates/atlas/indicators/*.toml and their SQL
  (`numerator` / `value`, `denominator`) evaluated by DuckDB on PATI (read with `deltalake`);
- areas come from the reference data (municipalities-2025.json: province and region; the
  district is the first two digits of the NIS code followed by 000, as in
  crates/model/src/geography.rs `district_of`); Belgium is the sum of the 2025 municipalities;
- persons, numerator, crude rate (× unit), Wilson's interval for proportions, mean ± z·s/√n
  for means; the direct age–sex standardised rate over 18 five-year bands × sex with weights
  from the Belgian population (population-region-sex-age, summed over regions, same year or
  the latest published year before it, restricted to the indicator's single years of age),
  strata without persons left out and the weights rescaled, variance Σw²·Var, clipped to [0, 1]
  for proportions; vs_belgium as documented;
- the gate, from the outside: no released figure with 1–4 persons (or 1–4 with / without the
  characteristic for proportions); masked figures carry no number; one line per combination.

`test_reference_*` validate the reference itself on hand-computed examples. The other tests
check the `atlas_built` fixture (area × sex, aim's default), or any warehouse with an Atlas
named by AIM_ATLAS_WAREHOUSE (e.g. one built with `aim atlas build --age-groups`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import tomllib
from collections import defaultdict
from pathlib import Path
from statistics import NormalDist

import duckdb
import pytest
from deltalake import DeltaTable

from conftest import REPO

Z = NormalDist().inv_cdf(0.975)
INDICATORS = REPO / "crates" / "atlas" / "indicators"
REFERENCE = Path(os.environ.get("AIM_REFERENCE_DIR", str(REPO.parent / "shared" / "data")))
AGE_GROUPS = [("0-17", 0, 17), ("18-44", 18, 44), ("45-64", 45, 64), ("65-74", 65, 74), ("75+", 75, 10**6)]
LEVELS = ["municipality", "district", "province", "region", "belgium"]
FACTOR = {"percent": 100.0, "per_1000": 1000.0, "euro": 1.0}
NUMERIC = ["persons", "numerator", "crude", "crude_low", "crude_high", "standardised", "standardised_low",
           "standardised_high", "vs_belgium"]
MIN_CELL = 5  # the population policy: no cell below 5 persons


# --------------------------------------------------------------------------------------
# The reference: statistics
# --------------------------------------------------------------------------------------


def age_group(age: int) -> str:
    return next(g for g, lo, hi in AGE_GROUPS if lo <= age <= hi)


def band(age: int) -> int:
    """Five-year band of standardisation: 0–4 … 80–84, 85+ (18 bands)."""
    return min(age // 5, 17)


def wilson(k: float, n: float) -> tuple[float, float, float]:
    """Proportion k/n with Wilson's 95 % score interval."""
    p = k / n
    z2 = Z * Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return p, max(0.0, centre - half), min(1.0, centre + half)


def sample_variance(n: float, s: float, ss: float) -> float:
    """Variance of the values (n − 1 denominator) from their count, sum and sum of squares;
    0 for fewer than two values."""
    if n < 2:
        return 0.0
    return max(0.0, (ss - s * s / n) / (n - 1))


def mean_ci(n: float, s: float, ss: float) -> tuple[float, float, float]:
    m = s / n
    half = Z * math.sqrt(sample_variance(n, s, ss) / n)
    return m, m - half, m + half


def direct(strata: list[tuple[float, float, float, float]], kind: str) -> tuple[float, float, float] | None:
    """Direct standardisation. `strata`: (n, sum, sum of squares, standard population) per
    stratum. Strata without persons are left out and the weights of the others rescaled;
    variance Σ w²·Var(r), Var(r) = r(1 − r)/n (proportion) or s²/n (mean)."""
    used = [(n, s, ss, w) for n, s, ss, w in strata if n > 0]
    total = sum(w for *_, w in used)
    if not used or total <= 0:
        return None
    value = variance = 0.0
    for n, s, ss, w in used:
        w /= total
        r = s / n
        value += w * r
        variance += w * w * (r * (1 - r) / n if kind == "proportion" else sample_variance(n, s, ss) / n)
    half = Z * math.sqrt(variance)
    if kind == "proportion":
        return value, max(0.0, value - half), min(1.0, value + half)
    return value, value - half, value + half


def compare_to_belgium(be: float, low: float, high: float) -> str:
    return "higher" if be < low else "lower" if be > high else "similar"


def test_reference_standardisation_by_hand():
    # Two strata, young (100 persons, 10 with the characteristic) and old (50 persons, 20),
    # standard population 300 young for 100 old: weights 0.75 and 0.25.
    # Rate = 0.75·0.10 + 0.25·0.40 = 0.175;
    # Var = 0.75²·(0.1·0.9/100) + 0.25²·(0.4·0.6/50) = 0.00050625 + 0.0003 = 0.00080625;
    # interval 0.175 ± 1.959964·0.0283945 = [0.119348, 0.230652].
    v, lo, hi = direct([(100, 10, 10, 300), (50, 20, 20, 100)], "proportion")
    assert v == pytest.approx(0.175, abs=1e-12)
    assert lo == pytest.approx(0.175 - 1.959964 * math.sqrt(0.00080625), abs=1e-6)
    assert (lo, hi) == pytest.approx((0.119348, 0.230652), abs=1e-6)
    # The empty old stratum is left out: the young get all the weight.
    v, lo, hi = direct([(100, 10, 10, 300), (0, 0, 0, 100)], "proportion")
    assert v == pytest.approx(0.10) and hi - lo == pytest.approx(2 * 1.959964 * math.sqrt(0.1 * 0.9 / 100), abs=1e-6)
    assert direct([(0, 0, 0, 1)], "proportion") is None
    # A mean: young values {1, 3} (mean 2, s² 2), old values {10, 20, 30} (mean 20, s² 100),
    # equal weights: 0.5·2 + 0.5·20 = 11; Var = 0.25·2/2 + 0.25·100/3 = 0.25 + 8.3333 = 8.58333.
    v, lo, hi = direct([(2, 4, 10, 1), (3, 60, 1400, 1)], "mean")
    assert v == pytest.approx(11.0)
    assert hi - v == pytest.approx(1.959964 * math.sqrt(0.25 + 25 / 3), abs=1e-5)
    # Clipping to [0, 1] for proportions: nobody with the characteristic.
    assert direct([(10, 0, 0, 1)], "proportion") == (0.0, 0.0, 0.0)


def test_reference_crude_intervals_by_hand():
    # Wilson, 10 of 100: [0.0552, 0.1744] (Newcombe 1998, Table I style); 0 of 20: [0, 0.1611].
    p, lo, hi = wilson(10, 100)
    assert p == 0.1 and (lo, hi) == pytest.approx((0.05523, 0.17437), abs=1e-5)
    assert wilson(0, 20)[1:] == pytest.approx((0.0, 0.16113), abs=1e-5)
    # A mean of 1, 2, 3: 2 ± z·1/√3.
    m, lo, hi = mean_ci(3, 6, 14)
    assert m == 2 and hi - m == pytest.approx(Z / math.sqrt(3))
    assert [band(a) for a in (0, 4, 5, 84, 85, 110)] == [0, 0, 1, 16, 17, 17]
    assert [age_group(a) for a in (0, 17, 18, 44, 45, 64, 65, 74, 75, 104)] == \
        ["0-17", "0-17", "18-44", "18-44", "45-64", "45-64", "65-74", "65-74", "75+", "75+"]
    assert compare_to_belgium(5, 6, 7) == "higher" and compare_to_belgium(8, 6, 7) == "lower"
    assert compare_to_belgium(6, 6, 7) == "similar"


# --------------------------------------------------------------------------------------
# The reference: data
# --------------------------------------------------------------------------------------


def load_indicators() -> dict[str, dict]:
    out = {}
    for p in sorted(INDICATORS.glob("*.toml")):
        d = tomllib.loads(p.read_text())
        assert d["id"] == p.stem
        out[d["id"]] = d
    return out


def area_paths() -> dict[str, dict[str, str]]:
    """2025 municipality → its area at each level."""
    out = {}
    for m in json.loads((REFERENCE / "municipalities-2025.json").read_text()):
        nis = m["id"]
        out[nis] = {"municipality": nis, "district": nis[:2] + "000", "province": m["province"],
                    "region": m["region"], "belgium": "BE"}
    return out


def population() -> dict[int, dict[tuple[str, int], int]]:
    """Belgium's population on 1 January: year → (sex, single year of age) → inhabitants."""
    out: dict[int, dict[tuple[str, int], int]] = defaultdict(lambda: defaultdict(int))
    with open(REFERENCE / "population-region-sex-age-2006-2021.csv", newline="") as f:
        for r in csv.DictReader(f):
            out[int(r["year"])][(r["sex"], int(r["age"]))] += int(r["population"])
    return out


def standard_year(year: int, published: list[int]) -> int:
    before = [y for y in published if y <= year]
    return max(before) if before else min(published)


def standard_weights(pop: dict[tuple[str, int], int], lo: int, hi: int) -> dict[tuple[str, int], float]:
    """(sex, band) → standard population, restricted to the ages lo..hi by single year."""
    w: dict[tuple[str, int], float] = defaultdict(float)
    for (sex, age), n in pop.items():
        if lo <= age <= hi:
            w[(sex, band(age))] += n
    return w


def read_pati(wh: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    arrow = DeltaTable(str(Path(wh) / "tables" / "pati")).to_pyarrow_table()  # noqa: F841
    con.execute("CREATE TABLE pati AS SELECT * FROM arrow")
    return con


def reference_figures(wh: Path) -> dict:
    """Every figure recomputed from PATI: key (indicator, year, level, area, sex, age group) →
    dict of the unrounded numbers; plus what the manifest should say."""
    con = read_pati(wh)
    indicators = load_indicators()
    paths = area_paths()
    pop = population()
    published = sorted(pop)
    figures: dict[tuple, dict] = {}
    std_years: dict[int, int] = {}
    without: dict[tuple[str, int], int] = {}
    nulls: dict[str, int] = {}
    for ind_id, ind in indicators.items():
        kind = ind["kind"]
        if kind == "proportion":
            x = f"CASE WHEN ({ind['numerator']}) THEN 1 ELSE 0 END"
        else:
            x = f"CAST(({ind['value']}) AS DOUBLE)"
            nulls[ind_id] = con.execute(f"SELECT count(*) FROM pati WHERE ({ind['value']}) IS NULL").fetchone()[0]
        rows = con.execute(f"""
            SELECT year, municipality_2025, sex, age, count(*) AS n,
                   coalesce(sum(x), 0) AS s, coalesce(sum(x * x), 0) AS ss
            FROM (SELECT year, municipality_2025, sex, age, {x} AS x FROM pati
                  WHERE ({ind['denominator']}) AND age BETWEEN {ind['age_min']} AND {ind['age_max']})
            GROUP BY ALL""").fetchall()
        cells: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        strata: dict[tuple, dict[tuple[str, int], list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0]))
        years = set()
        for year, m, sex, age, n, s, ss in rows:
            year = int(year)
            years.add(year)
            if m not in paths:
                without[(ind_id, year)] = without.get((ind_id, year), 0) + n
                continue
            assert sex in ("F", "M"), f"PATI sex {sex!r}"
            for level, area in paths[m].items():
                for sx in (sex, "all"):
                    for g in (age_group(age), "all"):
                        c = cells[(year, level, area, sx, g)]
                        c[0] += n
                        c[1] += float(s)
                        c[2] += float(ss)
                    st = strata[(year, level, area, sx)][(sex, band(age))]
                    st[0] += n
                    st[1] += float(s)
                    st[2] += float(ss)
        factor = FACTOR[ind["unit"]]
        for year in years:
            used = standard_year(year, published)
            std_years[year] = used
            weights = standard_weights(pop[used], ind["age_min"], ind["age_max"])
            for (y, level, area, sx, g), (n, s, ss) in cells.items():
                if y != year:
                    continue
                f = {"persons": int(n), "numerator": s, "kind": kind}
                if n > 0:
                    v, lo, hi = wilson(s, n) if kind == "proportion" else mean_ci(n, s, ss)
                    f |= {"crude": v * factor, "crude_low": lo * factor, "crude_high": hi * factor}
                    f["_ref"] = (v, lo, hi)
                if g == "all":
                    st = strata[(year, level, area, sx)]
                    sexes = ["F", "M"] if sx == "all" else [sx]
                    e = direct([(*st.get((sex, b), (0.0, 0.0, 0.0)), weights.get((sex, b), 0.0))
                                for sex in sexes for b in range(18)], kind)
                    if e:
                        f |= {"standardised": e[0] * factor, "standardised_low": e[1] * factor,
                              "standardised_high": e[2] * factor}
                        f["_ref"] = e
                figures[(ind_id, year, level, area, sx, g)] = f
    # vs_belgium: Belgium's value (standardised for all ages, crude for an age group, same
    # sex) against the area's interval.
    for key, f in figures.items():
        ind_id, year, level, area, sx, g = key
        be = figures.get((ind_id, year, "belgium", "BE", sx, g), {}).get("_ref")
        if level != "belgium" and be and f.get("_ref"):
            f["vs_belgium"] = compare_to_belgium(be[0], f["_ref"][1], f["_ref"][2])
            # Too close to a bound to call after aim's floating-point sums: not checked.
            f["_vs_ambiguous"] = min(abs(be[0] - f["_ref"][1]), abs(be[0] - f["_ref"][2])) < 1e-9
    per_year: dict[int, int] = defaultdict(int)
    for (ind_id, year), n in without.items():
        per_year[year] = max(per_year[year], n)
    return {"figures": figures, "standard_population_year": std_years, "without": dict(per_year),
            "without_by_indicator": without, "null_values": nulls, "indicators": indicators}


# --------------------------------------------------------------------------------------
# aim's output
# --------------------------------------------------------------------------------------


def read_figures(wh: Path) -> list[dict]:
    with open(Path(wh) / "atlas" / "figures.csv", newline="") as f:
        return list(csv.DictReader(f))


def key_of(r: dict) -> tuple:
    return (r["indicator"], int(r["year"]), r["level"], r["area"], r["sex"], r["age_group"])


@pytest.fixture(scope="module")
def atlas(request):
    """The Atlas of `atlas_built`, or of the warehouse named by AIM_ATLAS_WAREHOUSE (any built
    Atlas, e.g. one computed with `--age-groups`, which the shared fixture does not use: the
    gate's table is five times larger and takes long on sparse data)."""
    given = os.environ.get("AIM_ATLAS_WAREHOUSE")
    wh = Path(given) if given else request.getfixturevalue("atlas_built")["warehouse"]
    rows = read_figures(wh)
    return {
        "warehouse": wh,
        "rows": rows,
        "by_key": {key_of(r): r for r in rows},
        "manifest": json.loads((Path(wh) / "atlas" / "manifest.json").read_text()),
        "ref": reference_figures(wh),
    }


def close(aim: str, ref: float) -> bool:
    """aim's 4-decimal value against the unrounded reference: within 1e-4, or 1e-6 relative
    for large sums (euros)."""
    a = float(aim)
    return abs(a - ref) <= 1e-4 or abs(a - ref) <= 1e-6 * abs(ref)


def report(problems: list[str], what: str) -> str:
    return f"{len(problems)} {what}:\n" + "\n".join(problems[:25])


# --------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------


def test_every_combination_appears_exactly_once(atlas):
    rows, ref = atlas["rows"], atlas["ref"]
    keys = [key_of(r) for r in rows]
    dups = [k for k, n in _count(keys).items() if n > 1]
    assert not dups, report([str(k) for k in dups], "duplicated figures")
    assert {r["level"] for r in rows} == set(LEVELS)
    assert {r["sex"] for r in rows} == {"F", "M", "all"}
    # Every combination with persons in the reference has its line (released or not) … (age
    # groups only when the Atlas was built with them: manifest `age_detail`)
    detail = atlas["manifest"].get("age_detail", False)
    missing = [str(k) for k, f in ref["figures"].items()
               if f["persons"] > 0 and k not in atlas["by_key"] and (detail or k[5] == "all")]
    assert not missing, report(missing, "combinations with persons and no line in figures.csv")
    # … and every line is a combination of an indicator, a year of PATI, an area of its level
    # with persons, a sex and an age group.
    areas = {(k[1], k[2], k[3]) for k, f in ref["figures"].items() if f["persons"] > 0}
    unknown = [str(k) for k in keys if (k[1], k[2], k[3]) not in areas or k[0] not in ref["indicators"]
               or k[5] not in {g for g, *_ in AGE_GROUPS} | {"all"}]
    assert not unknown, report(unknown, "lines for an unknown indicator, area or age group")
    assert {(k[0], k[1]) for k in keys} == {(i, y) for i in ref["indicators"] for y in ref["standard_population_year"]}


def _count(keys):
    out: dict = defaultdict(int)
    for k in keys:
        out[k] += 1
    return out


def test_the_gate_seen_from_outside(atlas):
    problems = []
    released = 0
    for r in atlas["rows"]:
        kind = atlas["ref"]["indicators"][r["indicator"]]["kind"]
        if r["released"] == "true":
            released += 1
            n = int(r["persons"])
            if 0 < n < MIN_CELL:
                problems.append(f"released with {n} persons: {key_of(r)}")
            if kind == "proportion":
                k = round(float(r["numerator"]))
                if 0 < k < MIN_CELL or 0 < n - k < MIN_CELL:
                    problems.append(f"released with {k} of {n} persons: {key_of(r)}")
        else:
            assert r["released"] == "false", r
            filled = [c for c in NUMERIC if r[c] != ""]
            if filled:
                problems.append(f"masked figure carries {filled}: {key_of(r)}")
    assert not problems, report(problems, "gate violations")
    assert released > 0.1 * len(atlas["rows"]), "the gate released almost nothing: the checks below say little"
    assert released < len(atlas["rows"]), "the gate hid nothing in a sample spread over 565 municipalities"


def test_counts_and_crude_rates_equal_the_reference(atlas):
    problems = []
    checked = 0
    for r in atlas["rows"]:
        if r["released"] != "true":
            continue
        f = atlas["ref"]["figures"].get(key_of(r))
        if f is None:
            assert int(r["persons"]) == 0, f"released figure with persons and none in PATI: {r}"
            continue
        checked += 1
        if int(r["persons"]) != f["persons"]:
            problems.append(f"{key_of(r)} persons aim {r['persons']} reference {f['persons']}")
        exact = f["kind"] == "proportion"
        if (float(r["numerator"]) != f["numerator"]) if exact else not close(r["numerator"], f["numerator"]):
            problems.append(f"{key_of(r)} numerator aim {r['numerator']} reference {f['numerator']}")
        for c in ("crude", "crude_low", "crude_high"):
            if (c in f) != (r[c] != "") or (c in f and not close(r[c], f[c])):
                problems.append(f"{key_of(r)} {c} aim {r[c]!r} reference {f.get(c)}")
    assert checked > 0
    assert not problems, report(problems, "released figures whose counts or crude rates differ from PATI")


def test_standardised_rates_equal_the_reference(atlas):
    problems = []
    checked = 0
    for r in atlas["rows"]:
        if r["released"] != "true":
            continue
        f = atlas["ref"]["figures"].get(key_of(r), {})
        for c in ("standardised", "standardised_low", "standardised_high"):
            if r["age_group"] != "all":
                if r[c] != "":
                    problems.append(f"{key_of(r)} {c} = {r[c]} for an age group")
                continue
            if (c in f) != (r[c] != ""):
                problems.append(f"{key_of(r)} {c} aim {r[c]!r} reference {f.get(c)}")
            elif c in f:
                checked += 1
                if not close(r[c], f[c]):
                    problems.append(f"{key_of(r)} {c} aim {r[c]} reference {f[c]:.6f}")
    assert checked > 0
    assert not problems, report(problems, "standardised rates differing from the reference")


def test_vs_belgium_as_documented(atlas):
    problems = []
    checked = 0
    for r in atlas["rows"]:
        if r["released"] != "true":
            continue
        f = atlas["ref"]["figures"].get(key_of(r), {})
        if r["level"] == "belgium":
            if r["vs_belgium"]:
                problems.append(f"{key_of(r)} Belgium compared with itself: {r['vs_belgium']}")
            continue
        if f.get("_vs_ambiguous"):
            continue
        expected = f.get("vs_belgium", "")
        checked += 1
        if r["vs_belgium"] != expected:
            problems.append(f"{key_of(r)} vs_belgium aim {r['vs_belgium']!r} reference {expected!r}")
    assert checked > 0
    assert not problems, report(problems, "comparisons with Belgium differing from the reference")


def test_manifest_records_the_standard_population_and_the_persons_left_out(atlas):
    m, ref = atlas["manifest"], atlas["ref"]
    assert {int(y): u for y, u in m["standard_population_year"].items()} == ref["standard_population_year"]
    assert sorted(m["years"]) == sorted(ref["standard_population_year"])
    assert sorted(i["id"] for i in m["indicators"]) == sorted(ref["indicators"])
    assert all(g["audit_passed"] for g in m["gate"])
    assert len(m["gate"]) == len(ref["indicators"]) * len(m["years"])
    assert m["pati_version"] == DeltaTable(str(Path(atlas["warehouse"]) / "tables" / "pati")).version()
    # Persons of PATI whose municipality is not in the 2025 list are counted nowhere.
    con = read_pati(atlas["warehouse"])
    codes = list(area_paths())
    lost = dict(con.execute("SELECT year, count(*) FROM pati WHERE municipality_2025 IS NULL "
                            "OR municipality_2025 NOT IN (SELECT unnest($1)) GROUP BY year", [codes]).fetchall())
    recorded = {int(y): n for y, n in m["persons_without_municipality"].items() if n}
    assert recorded == {int(y): n for y, n in lost.items() if n}


def test_indicator_values_are_never_null(atlas):
    """The README of the definitions: only death_date and municipality_2025 can be NULL, so a
    mean's value is defined for every person counted."""
    assert all(n == 0 for n in atlas["ref"]["null_values"].values()), atlas["ref"]["null_values"]
