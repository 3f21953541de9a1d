"""Derived data (docs/derived-data.md): aim's `build` against an independent DuckDB SQL
implementation (bench/derive_duckdb.py), and both against the synthesiser's ground truth.

Tests named `test_duckdb_*` need only the ingested warehouse: they check the SQL side
against truth/stays.csv, truth/persons.csv and hand-made edge cases. Tests named `test_aim_*`
run `aim build` and are skipped while the binary has no `build` command.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from conftest import REPO
from edge_cases import expected_truth

sys.path.insert(0, str(REPO / "bench"))
import derive_duckdb as dd  # noqa: E402

YEAR = 2024
DEFS = dd.load_definitions()

_derived: dict[str, tuple[duckdb.DuckDBPyConnection, dict]] = {}


def duck(wh: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """The DuckDB derivation of `wh` for YEAR (computed once per warehouse)."""
    if str(wh) not in _derived:
        con = duckdb.connect()
        con.execute("SET threads = 2")
        _derived[str(wh)] = (con, dd.derive(con, wh, YEAR, defs=DEFS))
    return _derived[str(wh)]


def aim_table(con, wh: Path, name: str, alias: str, sample: bool = False) -> str:
    """Registers aim's Delta table `name` (year YEAR) in `con` as `alias`."""
    path = Path(wh) / ("sample/tables" if sample else "tables") / name
    assert (path / "_delta_log").exists(), f"aim build wrote no Delta table at {path}"
    t = DeltaTable(str(path))
    arrow = t.to_pyarrow_table()  # noqa: F841 (read by DuckDB below)
    where = f"WHERE year = {YEAR}" if "year" in t.metadata().partition_columns else ""
    # A table rather than con.register: DuckDB 2.0 refuses register() while a result of an
    # earlier execute() is not fully fetched.
    con.execute(f"CREATE OR REPLACE TEMP TABLE {alias} AS SELECT * FROM arrow {where}")
    return alias


def delta_types(path: Path) -> dict[str, str]:
    schema = json.loads(DeltaTable(str(path)).schema().to_json())
    return {f["name"]: f["type"] if isinstance(f["type"], str) else json.dumps(f["type"]) for f in schema["fields"]}


def diff(con, ours: str, theirs: str, key: str, columns: list[str], float_columns: tuple = ()) -> dict:
    """Rows only on one side, and per column the rows whose values differ (exactly; floats
    within 1e-9 relative)."""
    out = {}
    only = con.execute(f"""
        SELECT count(*) FILTER (WHERE t.{key} IS NULL), count(*) FILTER (WHERE o.{key} IS NULL)
        FROM {ours} o FULL JOIN {theirs} t ON o.{key} = t.{key}""").fetchone()
    if only[0] or only[1]:
        out["_rows"] = {"only_duckdb": only[0], "only_aim": only[1], "examples": con.execute(f"""
            SELECT coalesce(o.{key}, t.{key}), o.{key} IS NULL AS only_aim FROM {ours} o FULL JOIN {theirs} t
            ON o.{key} = t.{key} WHERE o.{key} IS NULL OR t.{key} IS NULL ORDER BY 1 LIMIT 5""").fetchall()}
    for c in columns:
        c_ = dd.q(c)
        cond = (f"abs(o.{c_} - t.{c_}) > 1e-9 * greatest(abs(o.{c_}), 1) OR (o.{c_} IS NULL) <> (t.{c_} IS NULL)"
                if c in float_columns else f"o.{c_} IS DISTINCT FROM t.{c_}")
        n = con.execute(f"SELECT count(*) FROM {ours} o JOIN {theirs} t ON o.{key} = t.{key} WHERE {cond}").fetchone()[0]
        if n:
            ex = con.execute(f"""SELECT o.{key}, o.{c_} AS duckdb, t.{c_} AS aim FROM {ours} o JOIN {theirs} t
                                 ON o.{key} = t.{key} WHERE {cond} ORDER BY 1 LIMIT 3""").fetchall()
            out[c] = {"rows": n, "examples": [tuple(map(str, e)) for e in ex]}
    return out


def flatten(obj, prefix="") -> dict[str, object]:
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in flatten(val, f"{prefix}{key}.").items()}
    if isinstance(obj, list):
        return {k: v for i, val in enumerate(obj) for k, v in flatten(val, f"{prefix}{i}.").items()}
    return {prefix[:-1]: obj}


def hosp_columns_of_the_spec() -> dict[str, str]:
    """The HOSP column table of docs/derived-data.md: name -> Arrow type."""
    text = (REPO / "docs/derived-data.md").read_text()
    section = text[text.index("## HOSP"):text.index("## PATI")]
    return dict(re.findall(r"^\| `(\w+)` \| ([\w(), ]+?) \|", section, flags=re.M))


ARROW_TO_DELTA = {"Utf8": {"string"}, "Date32": {"date"}, "Int32": {"integer"}, "Boolean": {"boolean"},
                  "Decimal128(14,2)": {"decimal(14,2)"}}
PATI_TO_DELTA = {"text": {"string"}, "integer": {"integer", "long", "short"}, "boolean": {"boolean"},
                 "date": {"date"}, "amount": {"decimal(14,2)"}}


# --------------------------------------------------------------------------------------
# The DuckDB side alone (no `aim build` needed)
# --------------------------------------------------------------------------------------


def test_duckdb_hosp_matches_the_synthetic_truth(built):
    con, _ = duck(built["warehouse"])
    r = dd.compare_with_truth(con, built["deliveries"] / "truth" / "stays.csv", YEAR, deliveries=built["deliveries"])
    assert r["truth"] > 0
    assert r["missing"] == 0 and r["extra"] == 0, r


def test_duckdb_pati_totals_equal_the_line_sums_and_the_truth(built):
    wh, deliveries = built["warehouse"], built["deliveries"]
    con, info = duck(wh)
    gz = con.execute("SELECT sum(amount_reimbursed), sum(copayment), sum(supplement) FROM gzss_y").fetchone()
    fa = con.execute("SELECT sum(amount_reimbursed), sum(copayment) FROM faru_y").fetchone()
    pa = con.execute("""SELECT sum(reimbursed_total), sum(copayment_total), sum(supplement_total),
                               sum(reimbursed_pharmacy), sum(copayment_pharmacy), sum(out_of_pocket) FROM pati""").fetchone()
    assert (pa[0], pa[1], pa[2]) == (gz[0] + fa[0], gz[1] + fa[1], gz[2])
    assert (pa[3], pa[4]) == fa
    assert pa[5] == pa[1] + pa[2]
    assert info["counts"]["pati_persons"] == con.execute("SELECT count(DISTINCT person_id) FROM popu_y").fetchone()[0]
    # truth/persons.csv: the person's totals over all lines, and POPU's last state.
    bad = con.execute(f"""
        SELECT count(*) FILTER (WHERE p.person_id IS NULL),
               count(*) FILTER (WHERE round(p.reimbursed_total::DOUBLE - t.reimbursed, 2) <> 0
                                   OR round(p.reimbursed_pharmacy::DOUBLE - t.reimbursed_faru, 2) <> 0
                                   OR round(p.copayment_total::DOUBLE - t.copayment, 2) <> 0
                                   OR round(p.supplement_total::DOUBLE - t.supplement, 2) <> 0),
               count(*) FILTER (WHERE p.birth_year <> t.birth_year OR p.sex <> t.sex OR p.insurer <> t.insurer::VARCHAR
                                   OR p.nursing_home <> t.nursing_home
                                   OR p.increased_reimbursement <> t.increased_reimbursement
                                   OR p.death_date IS DISTINCT FROM t.death_date),
               count(*)
        FROM read_csv({dd.lit(str(deliveries / 'truth' / 'persons.csv'))}) t LEFT JOIN pati p USING (person_id)
        WHERE t.year = {YEAR}""").fetchone()
    assert bad[3] == info["counts"]["pati_persons"]
    assert bad[:3] == (0, 0, 0), "persons missing / amounts differing / POPU fields differing"


def test_duckdb_eps_follows_sample_toml(built):
    con, _ = duck(built["warehouse"])
    s = DEFS["sample"]
    row = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE eps_member),
               count(*) FILTER (WHERE eps_member AND age < {s['age_threshold']}),
               count(*) FILTER (WHERE age < {s['age_threshold']}) FROM pati""").fetchone()
    n, members, young_members, young = row
    assert abs(young_members / young - s["fraction_below"]) < 0.02
    # Weighted sample counts add up to the population per stratum.
    for sex, from_threshold, pop, weighted in con.execute(f"""
            SELECT sex, age >= {s['age_threshold']}, (SELECT count(*) FROM pati q WHERE q.sex = p.sex
                   AND (q.age >= {s['age_threshold']}) = (p.age >= {s['age_threshold']})), sum(eps_weight)
            FROM pati_sample p GROUP BY ALL""").fetchall():
        assert abs(weighted - pop) < 1e-6, (sex, from_threshold)
    # u by hand for one person: SHA-256(salt || person_id), first 8 bytes big-endian / 2^64.
    import hashlib
    pid, u = con.execute("SELECT person_id, u FROM eps ORDER BY person_id LIMIT 1").fetchone()
    assert u == int.from_bytes(hashlib.sha256((s["salt"] + pid).encode()).digest()[:8], "big") / 2**64


def test_duckdb_edge_cases(edge_built):
    wh, exp = edge_built["warehouse"], edge_built["expected"]
    con, info = duck(wh)
    for k, v in exp["counts"].items():
        assert info["counts"][k] == v, k
    truth = expected_truth(edge_built["deliveries"] / "truth" / "stays.csv", YEAR, exp["stays"],
                           edge_built["root"] / "expected-stays.csv")
    r = dd.compare_with_truth(con, truth, YEAR)
    assert r["missing"] == 0 and r["extra"] == 0, r
    assert con.execute("SELECT gp_contacts FROM pati WHERE person_id = ?", [exp["gp_negative_person"]]).fetchone() == (0,)
    # Two day stays on one date at one institution: D1 and D2, amounts on the first.
    ids = con.execute("SELECT stay_id, fee_lines, reimbursed > 0 FROM hosp WHERE person_id = ? ORDER BY 1",
                      [exp["cases"]["E_day_twice"]]).fetchall()
    assert [i[0][-2:] for i in ids] == ["D1", "D2"] and ids[1][1:] == (0, False)


# --------------------------------------------------------------------------------------
# aim build against the DuckDB side (skipped until the binary has `build`)
# --------------------------------------------------------------------------------------


def test_aim_hosp_schema_follows_the_spec(built_derived):
    spec = hosp_columns_of_the_spec()
    assert len(spec) == 17 and spec["reimbursed"] == "Decimal128(14,2)"
    types = delta_types(built_derived["warehouse"] / "tables" / "hosp")
    assert list(types) == list(spec) or set(types) == set(spec), f"columns: aim {list(types)}, spec {list(spec)}"
    wrong = {c: (types[c], t) for c, t in spec.items() if types[c] not in ARROW_TO_DELTA[t.replace(" ", "")]}
    assert not wrong, f"aim's type vs the spec's: {wrong}"


def test_aim_hosp_equals_duckdb(built_derived):
    wh = built_derived["warehouse"]
    con, _ = duck(wh)
    aim_table(con, wh, "hosp", "aim_hosp")
    columns = [c for c in hosp_columns_of_the_spec() if c != "stay_id"]
    d = diff(con, "hosp", "aim_hosp", "stay_id", columns)
    assert not d, json.dumps(d, indent=1, default=str)


def test_aim_stays_match_the_truth(built_derived):
    wh = built_derived["warehouse"]
    con, _ = duck(wh)
    aim_table(con, wh, "hosp", "aim_hosp")
    r = dd.compare_with_truth(con, built_derived["deliveries"] / "truth" / "stays.csv", YEAR, hosp="aim_hosp",
                              deliveries=built_derived["deliveries"])
    assert r["missing"] == 0 and r["extra"] == 0, r


def test_aim_pati_columns_follow_pati_toml(built_derived):
    types = delta_types(built_derived["warehouse"] / "tables" / "pati")
    expected = dd.pati_columns(DEFS)
    names = [c for c in types if c != "year"]
    assert names == [c for c, _ in expected], (
        f"only in aim: {sorted(set(names) - {c for c, _ in expected})}, "
        f"only in pati.toml: {sorted({c for c, _ in expected} - set(names))}")
    wrong = {c: (types[c], t) for c, t in expected if types[c] not in PATI_TO_DELTA[t]}
    assert not wrong, f"aim's type vs pati.toml's: {wrong}"


def test_aim_pati_equals_duckdb(built_derived):
    wh = built_derived["warehouse"]
    con, _ = duck(wh)
    aim_table(con, wh, "pati", "aim_pati")
    d = diff(con, "pati", "aim_pati", "person_id", [c for c, _ in dd.pati_columns(DEFS) if c != "person_id"])
    assert not d, json.dumps(d, indent=1, default=str)


def test_aim_eps_equals_duckdb(built_derived):
    wh = built_derived["warehouse"]
    con, _ = duck(wh)
    aim_table(con, wh, "pati", "aim_pati")
    d = diff(con, "pati", "aim_pati", "person_id", ["eps_member"])
    assert not d, d
    aim_table(con, wh, "pati", "aim_sample_pati", sample=True)
    d = diff(con, "pati_sample", "aim_sample_pati", "person_id",
             ["eps_member", "eps_design_weight", "eps_weight", "reimbursed_total"],
             float_columns=("eps_design_weight", "eps_weight"))
    assert not d, json.dumps(d, indent=1, default=str)
    # The sample's source tables hold exactly the members' rows.
    members = "(SELECT person_id FROM eps WHERE member)"
    for name in ("popu", "gzss", "faru", "hosp"):
        aim_table(con, wh, name, f"aim_sample_{name}", sample=True)
        src = "hosp" if name == "hosp" else f"{name}_y"
        ours = con.execute(f"SELECT count(*) FROM {src} WHERE person_id IN {members}").fetchone()[0]
        theirs = con.execute(f"SELECT count(*), count(*) FILTER (WHERE person_id NOT IN {members}) "
                             f"FROM aim_sample_{name}").fetchone()
        assert theirs == (ours, 0), name


def test_aim_build_report_counts_equal_duckdb(built_derived):
    check_build_report(built_derived["warehouse"])


def check_build_report(wh: Path) -> None:
    report = Path(wh) / "qc" / f"build-{YEAR}.json"
    if not report.exists():
        pytest.skip(f"aim build wrote no {report.name}")
    flat = flatten(json.loads(report.read_text()))
    _, info = duck(wh)
    ours = dict(flatten(info["counts"]))
    for name, value in info["counts"].items():  # per-table counts also compared as their sum
        if isinstance(value, dict):
            ours[name] = sum(value.values())

    def names(key: str) -> list[str]:  # "a.b" may be spelled "b_a" in the report
        parts = key.split(".")
        return [key] + (["_".join(parts[::-1])] if len(parts) == 2 else []) + (["persons"] if key == "pati_persons" else [])

    compared, wrong = 0, {}
    for key, value in ours.items():
        hits = [k for k in flat for n in names(key) if k == n or k.endswith("." + n)]
        if len(hits) == 1:
            compared += 1
            if flat[hits[0]] != value:
                wrong[key] = {"aim": flat[hits[0]], "duckdb": value}
    # Sample members per stratum, however the report orders the strata.
    theirs = sorted(v for k, v in flat.items() if re.search(r"(^|\.)sample_members\.\d+$", k))
    if theirs:
        compared += 1
        if theirs != sorted(info["counts"]["sample_members"].values()):
            wrong["sample_members"] = {"aim": theirs, "duckdb": info["counts"]["sample_members"]}
    assert compared >= 5, f"found few of our counts in {report}: {sorted(flat)[:40]}"
    assert not wrong, wrong


def test_aim_edge_cases_equal_duckdb(edge_derived):
    wh = edge_derived["warehouse"]
    con, _ = duck(wh)
    aim_table(con, wh, "hosp", "aim_hosp")
    aim_table(con, wh, "pati", "aim_pati")
    d = diff(con, "hosp", "aim_hosp", "stay_id", [c for c in hosp_columns_of_the_spec() if c != "stay_id"])
    d |= {f"pati.{k}": v for k, v in
          diff(con, "pati", "aim_pati", "person_id", [c for c, _ in dd.pati_columns(DEFS) if c != "person_id"]).items()}
    assert not d, json.dumps(d, indent=1, default=str)
    check_build_report(wh)
