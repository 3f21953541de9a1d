"""aim's derived data (docs/derived-data.md) written independently in DuckDB SQL.

A second implementation of what `aim build` computes for one year — HOSP (hospital stays),
PATI (one row per person and year), the permanent sample (EPS) with its weights, and the
build report's counts — used to cross-check aim (tests/python/test_derived.py) and as the
other side of the benchmark (bench/derive_vs_duckdb.py).

The definitions are data on both sides: the PATI contact variables, the spending groups, the
drug groups and the sample fractions are generated from crates/derive/definitions/*.toml.

    import duckdb
    from derive_duckdb import derive
    con = duckdb.connect()
    info = derive(con, "WH", 2024)          # tables hosp, pati, eps, pati_sample in `con`
    info["seconds"], info["counts"]
    derive(con, "WH", 2024, out="/tmp/out") # also writes them (and the sample) as Parquet

Inputs are the current Parquet files of the Delta tables popu, gzss, faru (the partitions
insurer=…/period=YQ1…YQ4 of the year, from the Delta log's add actions) and ref_nomenclature,
ref_merger_2025 (falls back to crates/model/reference/mergers-2025.csv).

Readings of the spec where it leaves a choice (see the comments at each place):
- overlapping hospital days: "the institution where the person also has a day on the
  previous date" is the institution of the day *kept* on the previous date (resolved date by
  date, so a run of overlapping dates follows the institution chosen the day before);
- a day-hospital group with net units n > 1 gives n day stays; its lines' amounts (and the
  doctors' fees of that date) go to the first of them (rank 1), the others have 0;
- the insurer of a stay is the smallest insurer among the stay's lines (day lines and
  attributed fee lines) on its admission date;
- room_type looks at every line of the kept days (correction lines included);
- fee_lines counts every fee line attributed (correction lines included);
- DDD are summed exactly as decimals (the Float64 value rounded to 9 decimals), so that the
  80-DDD threshold does not depend on summation order;
- municipality_2025 = the merger map's nis_2025 for a code listed there, else the code itself.
"""

from __future__ import annotations

import re
import time
import tomllib
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFINITIONS = REPO / "crates/derive/definitions"
MERGERS_CSV = REPO / "crates/model/reference/mergers-2025.csv"
HOSPITAL_CARE_GROUPS = ("hospital_day", "day_hospital", "hospital_fee")


# --------------------------------------------------------------------------------------
# Definitions and inputs
# --------------------------------------------------------------------------------------


def load_definitions(folder: Path | str = DEFINITIONS) -> dict:
    folder = Path(folder)
    return {
        "pati": tomllib.loads((folder / "pati.toml").read_text()),
        "drugs": tomllib.loads((folder / "drug-groups.toml").read_text()),
        "sample": tomllib.loads((folder / "sample.toml").read_text()),
    }


def lit(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def q(name: str) -> str:
    return '"' + name + '"'


def delta_files(table_path: Path | str) -> list[dict]:
    """The active files of a Delta table (current version): [{uri, partition: {col: value}}]."""
    import pyarrow as pa
    from deltalake import DeltaTable

    t = DeltaTable(str(table_path))
    actions = t.get_add_actions(flatten=True)
    rows = (actions if isinstance(actions, pa.Table) else pa.table(actions)).to_pylist()
    root = str(table_path).rstrip("/")
    uris = {u.replace("file://", "") for u in t.file_uris()}
    out = []
    for r in rows:
        rel = urllib.parse.unquote(r["path"])
        uri = rel if rel.startswith("/") else f"{root}/{rel}"
        if uri not in uris:  # file_uris() is the reference; paths should agree with it
            raise RuntimeError(f"{table_path}: add action {r['path']} not among file_uris()")
        part = {k[len("partition."):]: v for k, v in r.items() if k.startswith("partition.")}
        out.append({"uri": uri, "partition": part})
    return out


def parquet_relation(files: list[dict], partition_cols: list[str], force_join: bool = False) -> str:
    """SQL reading `files` with their partition values as VARCHAR columns.

    Hive partitioning gives the values from the path (insurer=100/period=2024Q1/…); it is
    used only after checking that each path agrees with its add action, otherwise the
    values are joined on the file name."""
    import pyarrow.parquet as pq

    if not files:
        raise ValueError("no files")
    lst = "[" + ", ".join(lit(f["uri"]) for f in files) + "]"
    in_file = set(pq.read_schema(files[0]["uri"]).names)
    missing = [c for c in partition_cols if c not in in_file]
    if not missing:
        return f"read_parquet({lst}, hive_partitioning = false)"
    hive_ok = all(
        all(f"/{c}={urllib.parse.quote(str(f['partition'][c]), safe='')}/" in f["uri"]
            or f"/{c}={f['partition'][c]}/" in f["uri"] for c in missing)
        for f in files
    )
    if hive_ok and not force_join:
        types = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in missing) + "}"
        return f"read_parquet({lst}, hive_partitioning = true, hive_types = {types})"
    values = ", ".join(
        "(" + ", ".join([lit(f["uri"])] + [lit(f["partition"][c]) for c in missing]) + ")" for f in files
    )
    cols = ", ".join(["_f"] + [q(c) for c in missing])
    return (f"(SELECT * EXCLUDE (filename, _f) FROM read_parquet({lst}, filename = true, hive_partitioning = false) "
            f"JOIN (VALUES {values}) AS _parts({cols}) ON filename = _f)")


OTHER_SOURCES = {
    "itao": [("person_id", "VARCHAR"), ("period", "VARCHAR"), ("start_date", "DATE"),
             ("end_date", "DATE"), ("kind", "VARCHAR")],
    "kats": [("person_id", "VARCHAR"), ("assessment_date", "DATE"), ("category", "VARCHAR")],
    "chta": [("person_id", "VARCHAR"), ("flat_fee", "BOOLEAN")],
    "chiv": [("person_id", "VARCHAR"), ("atc", "VARCHAR"), ("decision", "VARCHAR")],
}


def register_sources(con, warehouse: Path | str, year: int) -> dict:
    """Views popu_y, gzss_y, faru_y (the year's partitions), tables ref_nom, ref_merger."""
    tables = Path(warehouse) / "tables"
    info = {}
    for name in ("popu", "gzss", "faru"):
        files = [f for f in delta_files(tables / name) if str(f["partition"].get("period", "")).startswith(f"{year}Q")]
        info[name] = len(files)
        if not files:
            raise ValueError(f"{name}: no files for {year}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_y AS SELECT * FROM {parquet_relation(files, ['insurer', 'period'])}")
    # The other databases (PATI's incapacity, Katz, flat-fee and chapter IV columns): an empty
    # view with their columns when the warehouse has none for the year.
    for name, cols in OTHER_SOURCES.items():
        files = []
        if (tables / name / "_delta_log").exists():
            files = [f for f in delta_files(tables / name)
                     if str(f["partition"].get("period", "")).startswith(f"{year}Q")]
        info[name] = len(files)
        if files:
            rel = parquet_relation(files, ["insurer", "period"])
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_y AS SELECT * FROM {rel}")
        else:
            typed = ", ".join(f"NULL::{t} AS {q(c)}" for c, t in cols)
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name}_y AS SELECT {typed} WHERE false")
    nom = delta_files(tables / "ref_nomenclature")
    con.execute(f"CREATE OR REPLACE TEMP TABLE ref_nom AS SELECT code, care_group FROM {parquet_relation(nom, [])}")
    merger = tables / "ref_merger_2025"
    if merger.exists():
        rel = parquet_relation(delta_files(merger), [])
        info["merger_source"] = "ref_merger_2025"
    else:
        rel = f"read_csv({lit(str(MERGERS_CSV))}, all_varchar = true)"
        info["merger_source"] = str(MERGERS_CSV.relative_to(REPO))
    con.execute(f"CREATE OR REPLACE TEMP TABLE ref_merger AS SELECT DISTINCT nis_2019::VARCHAR AS nis_2019, "
                f"nis_2025::VARCHAR AS nis_2025 FROM {rel}")
    return info


# --------------------------------------------------------------------------------------
# SQL generated from the definitions
# --------------------------------------------------------------------------------------


def pati_columns(defs: dict) -> list[tuple[str, str]]:
    """PATI's columns in table order (pati.toml `variable`, expanded), with their type."""
    groups = defs["pati"]["spending_group"]
    out = []
    for v in defs["pati"]["variable"]:
        name = v["name"]
        if "{group}" in name:
            for g in groups:
                if name.startswith("supplement_") and g.get("pharmacy"):
                    continue
                out.append((name.replace("{group}", g["id"]), v["type"]))
        elif name == "{drug_group}":
            for d in defs["drugs"]["group"]:
                out.append((drug_column(d), "boolean"))
        elif name == "{chapter_iv}":
            for f in defs["pati"].get("chapter_iv", []):
                out.append(("chiv_" + f["id"], "boolean"))
        else:
            out.append((name, v["type"]))
    return out


def drug_column(d: dict) -> str:
    if d["kind"] == "cost_group":
        return d["id"]
    return ("pp_" if d["kind"] == "pseudo_pathology" else "uses_") + d["id"]


def prefix_any(col: str, prefixes: list[str]) -> str:
    return "(" + " OR ".join(f"starts_with({col}, {lit(p)})" for p in prefixes) + ")" if prefixes else "false"


def code_refs(variable: dict) -> list[str]:
    return re.findall(r"\[codes\]\.(\w+)", variable.get("source", ""))


def spending_case(defs: dict) -> str:
    """care_group -> spending group id (`other` for a missing code or an unlisted group)."""
    whens = []
    for g in defs["pati"]["spending_group"]:
        if g.get("pharmacy") or not g["care_groups"]:
            continue
        whens.append(f"WHEN care_group IN ({', '.join(map(lit, g['care_groups']))}) THEN {lit(g['id'])}")
    return f"CASE {' '.join(whens)} ELSE 'other' END"


# --------------------------------------------------------------------------------------
# The derivation
# --------------------------------------------------------------------------------------


def derive(con, warehouse: Path | str, year: int, out: Path | str | None = None, defs: dict | None = None,
           sample_sources: bool = True) -> dict:
    """Builds, in `con`, the temp tables hosp, pati, eps and pati_sample for `year`; with
    `out`, writes them as Parquet (out/hosp/year=Y/…, out/pati/…, out/sample/{popu,gzss,faru,
    hosp,pati}/…). Returns {"seconds": per step, "counts": the build report's counts, …}."""
    defs = defs or load_definitions()
    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = round(seconds.get(name, 0.0) + now - t, 3)
        t = now

    y = int(year)
    info = register_sources(con, warehouse, y)
    step("find files")

    # ---- Billing lines with their care group ------------------------------------------------
    con.execute("""
        CREATE OR REPLACE TEMP TABLE hl AS
        SELECT g.person_id, g.insurer, g.institution_id AS inst, g.service_date AS d, n.care_group,
               g.room_type, g.units, g.amount_reimbursed AS re, g.copayment AS co, g.supplement AS su,
               row_number() OVER () AS line_no
        FROM gzss_y g JOIN ref_nom n ON n.code = g.nomenclature
        WHERE n.care_group IN ('hospital_day', 'day_hospital', 'hospital_fee')""")
    step("hospital lines")
    hosp_counts = build_hosp(con, y)
    step("hosp")
    counts = hosp_counts | build_pati(con, y, defs)
    step("pati")
    counts |= build_eps(con, y, defs)
    step("eps")
    if out is not None:
        write_outputs(con, Path(out), y, sample_sources)
        step("write Parquet")
    for tmp in ("hl",):
        con.execute(f"DROP TABLE IF EXISTS {tmp}")
    seconds["total"] = round(sum(v for k, v in seconds.items() if k != "total"), 3)
    return {"seconds": seconds, "counts": counts, "files": info}


def build_hosp(con, y: int) -> dict:
    """HOSP (docs/derived-data.md steps 1–8) into the temp table `hosp`."""
    dec31 = f"DATE '{y}-12-31'"
    # 1. Hospital days: (person, institution, date), units summed; net <= 0: cancelled.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE hdays AS
        SELECT person_id, inst, d, sum(units) AS net,
               bool_or(room_type = 'S') AS any_s, bool_or(room_type = 'C') AS any_c,
               min(insurer) AS insurer, sum(re) AS re, sum(co) AS co, sum(su) AS su
        FROM hl WHERE care_group = 'hospital_day' GROUP BY ALL""")
    # 2. Overlaps: one institution per person and date. A date with several: the institution
    #    of the day kept on the previous date if it is among them, else the smallest id;
    #    resolved date by date along runs of overlapping dates (recursive).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE kd0 AS
        SELECT *, count(*) OVER (PARTITION BY person_id, d) AS n_inst FROM hdays WHERE net > 0""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE conflict AS
        SELECT person_id, d, list(inst ORDER BY inst) AS cands FROM kd0 WHERE n_inst > 1 GROUP BY ALL""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE resolved AS
        WITH RECURSIVE r(person_id, d, kept) AS (
            SELECT c.person_id, c.d,
                   CASE WHEN s.inst IS NOT NULL AND list_contains(c.cands, s.inst) THEN s.inst ELSE c.cands[1] END
            FROM conflict c
            LEFT JOIN kd0 s ON s.person_id = c.person_id AND s.d = c.d - 1 AND s.n_inst = 1
            WHERE NOT EXISTS (SELECT 1 FROM conflict p WHERE p.person_id = c.person_id AND p.d = c.d - 1)
          UNION ALL
            SELECT c.person_id, c.d,
                   CASE WHEN list_contains(c.cands, r.kept) THEN r.kept ELSE c.cands[1] END
            FROM conflict c JOIN r ON c.person_id = r.person_id AND c.d = r.d + 1
        )
        SELECT * FROM r""")
    # 3. Classic stays: gaps and islands over the kept days (same institution, consecutive dates).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE kd AS
        WITH kept AS (
            SELECT k.* EXCLUDE (n_inst) FROM kd0 k WHERE n_inst = 1
            UNION ALL
            SELECT k.* EXCLUDE (n_inst) FROM kd0 k JOIN resolved r
              ON r.person_id = k.person_id AND r.d = k.d AND r.kept = k.inst
        ), brk AS (
            SELECT *, CASE WHEN lag(inst) OVER w = inst AND lag(d) OVER w = d - 1 THEN 0 ELSE 1 END AS brk
            FROM kept WINDOW w AS (PARTITION BY person_id ORDER BY d)
        )
        SELECT *, sum(brk) OVER (PARTITION BY person_id ORDER BY d ROWS UNBOUNDED PRECEDING) AS isl FROM brk""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE classic AS
        SELECT person_id, any_value(inst) AS inst, min(d) AS admission, max(d) + 1 AS discharge,
               count(*)::INTEGER AS billed_days,
               CASE WHEN bool_or(any_s) THEN 'S' WHEN bool_or(any_c) THEN 'C' END AS room_type,
               max(d) = {dec31} AS open_at_year_end,
               arg_min(insurer, d) AS day_insurer, sum(re) AS re, sum(co) AS co, sum(su) AS su
        FROM kd GROUP BY person_id, isl""")
    # 5. Day stays: n > 0 net units at (person, institution, date) give n stays; the lines'
    #    amounts go to the first (k = 1).
    con.execute("""
        CREATE OR REPLACE TEMP TABLE dgroups AS
        SELECT person_id, inst, d, sum(units) AS n, min(insurer) AS insurer,
               sum(re) AS re, sum(co) AS co, sum(su) AS su
        FROM hl WHERE care_group = 'day_hospital' GROUP BY ALL""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE daystays AS
        SELECT person_id, inst, d, insurer, k,
               CASE WHEN k = 1 THEN re ELSE 0 END AS re, CASE WHEN k = 1 THEN co ELSE 0 END AS co,
               CASE WHEN k = 1 THEN su ELSE 0 END AS su
        FROM (SELECT *, unnest(range(1, n::BIGINT + 1)) AS k FROM dgroups WHERE n > 0)""")
    # 6. Doctors' fees: the classic stay of the same person and institution with
    #    admission <= date <= discharge; else the first day stay of the same person,
    #    institution and date; else none.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE fee_classic AS
        SELECT f.line_no, min(c.admission) AS admission
        FROM hl f JOIN classic c
          ON c.person_id = f.person_id AND c.inst = f.inst AND f.d BETWEEN c.admission AND c.discharge
        WHERE f.care_group = 'hospital_fee' GROUP BY f.line_no""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE fees AS
        SELECT f.person_id, f.inst, f.d, f.insurer, f.re, f.co, f.su,
               CASE WHEN fc.line_no IS NOT NULL THEN 'C' WHEN ds.person_id IS NOT NULL THEN 'D' END AS kind,
               coalesce(fc.admission, ds.d) AS admission
        FROM hl f
        LEFT JOIN fee_classic fc ON fc.line_no = f.line_no
        LEFT JOIN daystays ds ON fc.line_no IS NULL AND ds.k = 1 AND ds.person_id = f.person_id
                               AND ds.inst = f.inst AND ds.d = f.d
        WHERE f.care_group = 'hospital_fee'""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE fee_sums AS
        SELECT person_id, inst, admission, kind, count(*)::INTEGER AS fee_lines,
               sum(re) AS re, sum(co) AS co, sum(su) AS su,
               min(insurer) FILTER (WHERE d = admission) AS adm_insurer
        FROM fees WHERE kind IS NOT NULL GROUP BY ALL""")
    # 4., 7., 8.: transfers, amounts, insurer, stay_id.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE hosp AS
        WITH c AS (
            SELECT c.*, EXISTS (SELECT 1 FROM classic o WHERE o.person_id = c.person_id
                                AND o.inst IS DISTINCT FROM c.inst AND o.discharge = c.admission) AS transfer
            FROM classic c
        ), stays AS (
            SELECT c.person_id, c.inst, 'classic' AS kind, 'C' AS k, c.admission, c.discharge,
                   c.billed_days, c.room_type, c.transfer, c.open_at_year_end,
                   least(c.day_insurer, f.adm_insurer) AS insurer,
                   c.re + coalesce(f.re, 0) AS re, c.co + coalesce(f.co, 0) AS co, c.su + coalesce(f.su, 0) AS su,
                   coalesce(f.fee_lines, 0) AS fee_lines, 1 AS sub
            FROM c LEFT JOIN fee_sums f
              ON f.kind = 'C' AND f.person_id = c.person_id AND f.inst = c.inst AND f.admission = c.admission
          UNION ALL
            SELECT s.person_id, s.inst, 'day', 'D', s.d, s.d, 1, NULL, false, false,
                   CASE WHEN s.k = 1 THEN least(s.insurer, f.adm_insurer) ELSE s.insurer END,
                   s.re + CASE WHEN s.k = 1 THEN coalesce(f.re, 0) ELSE 0 END,
                   s.co + CASE WHEN s.k = 1 THEN coalesce(f.co, 0) ELSE 0 END,
                   s.su + CASE WHEN s.k = 1 THEN coalesce(f.su, 0) ELSE 0 END,
                   CASE WHEN s.k = 1 THEN coalesce(f.fee_lines, 0) ELSE 0 END, s.k
            FROM daystays s LEFT JOIN fee_sums f
              ON f.kind = 'D' AND f.person_id = s.person_id AND f.inst = s.inst AND f.admission = s.d
        )
        SELECT person_id || ':' || strftime(admission, '%Y%m%d') || ':' || k
                 || row_number() OVER (PARTITION BY person_id, admission, k ORDER BY inst, sub) AS stay_id,
               person_id, insurer, inst AS institution_id, kind, admission, discharge,
               (discharge - admission)::INTEGER AS length_of_stay, billed_days::INTEGER AS billed_days,
               room_type, transfer, open_at_year_end,
               re::DECIMAL(14, 2) AS reimbursed, co::DECIMAL(14, 2) AS copayment, su::DECIMAL(14, 2) AS supplement,
               fee_lines::INTEGER AS fee_lines, {y}::INTEGER AS year
        FROM stays""")
    counts = dict(zip(
        ["cancelled_hospital_days", "hospital_days_billed_twice", "overlapping_hospital_days",
         "cancelled_day_stays", "hospital_fees_outside_stays"],
        con.execute("""
            SELECT (SELECT count(*) FROM hdays WHERE net <= 0),
                   (SELECT count(*) FROM kd WHERE net > 1),
                   (SELECT count(*) FROM kd0 WHERE n_inst > 1) - (SELECT count(*) FROM resolved),
                   (SELECT count(*) FROM dgroups WHERE n <= 0),
                   (SELECT count(*) FROM fees WHERE kind IS NULL)""").fetchone(),
    ))
    counts |= dict(zip(["classic_stays", "day_stays", "transfers"], con.execute(
        "SELECT count(*) FILTER (WHERE kind = 'classic'), count(*) FILTER (WHERE kind = 'day'), "
        "count(*) FILTER (WHERE transfer) FROM hosp").fetchone()))
    for tmp in ("hdays", "kd0", "conflict", "resolved", "kd", "classic", "dgroups", "daystays", "fee_classic",
                "fees", "fee_sums"):
        con.execute(f"DROP TABLE IF EXISTS {tmp}")
    return {k: int(v) for k, v in counts.items()}


def build_pati(con, y: int, defs: dict) -> dict:
    """PATI into the temp table `pati` (without eps_member, added by build_eps)."""
    codes = defs["pati"]["codes"]
    groups = defs["pati"]["spending_group"]
    gz_groups = [g for g in groups if not g.get("pharmacy")]
    ph_groups = [g for g in groups if g.get("pharmacy")]
    variables = {v["name"]: v for v in defs["pati"]["variable"]}

    # POPU: the last row, and what is taken over all the year's rows.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE p_pop AS
        WITH last AS (
            SELECT person_id, insurer, birth_year, sex, municipality, increased_reimbursement
            FROM popu_y
            QUALIFY row_number() OVER (PARTITION BY person_id
                    ORDER BY reference_date DESC, (exit_date IS NULL) DESC, insurer DESC) = 1
        ), agg AS (
            SELECT person_id, bool_or(nursing_home) AS nursing_home, max(death_date) AS death_date,
                   count(DISTINCT period)::INTEGER AS quarters_insured
            FROM popu_y GROUP BY person_id
        )
        SELECT l.*, coalesce(m.nis_2025, l.municipality) AS municipality_2025, a.nursing_home, a.death_date,
               a.quarters_insured
        FROM last l JOIN agg a USING (person_id) LEFT JOIN ref_merger m ON m.nis_2019 = l.municipality""")
    con.execute("CREATE OR REPLACE TEMP TABLE p_death AS SELECT person_id, death_date FROM p_pop WHERE death_date IS NOT NULL")

    # GZSS per person: contacts (units of the [codes] lists) and spending per group.
    gz_aggs = ["count(*) AS n_lines", "count(*) FILTER (WHERE g.service_date > dd.death_date) AS n_after_death",
               "count(*) FILTER (WHERE g.unknown) AS n_unknown"]
    for key, values in codes.items():
        if key.endswith("_atc"):
            continue
        gz_aggs.append(f"coalesce(sum(g.units) FILTER (WHERE g.nomenclature IN ({', '.join(map(lit, values))})), 0) AS {q('u_' + key)}")
    for g in gz_groups:
        for col, src in (("reimbursed", "amount_reimbursed"), ("copayment", "copayment"), ("supplement", "supplement")):
            gz_aggs.append(f"coalesce(sum(g.{src}) FILTER (WHERE sg = {lit(g['id'])}), 0) AS {q(col + '_' + g['id'])}")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE p_gz AS
        SELECT g.person_id, {', '.join(gz_aggs)}
        FROM (SELECT g0.person_id, g0.nomenclature, g0.service_date, g0.units, g0.amount_reimbursed,
                     g0.copayment, g0.supplement, n.code IS NULL AS unknown, {spending_case(defs)} AS sg
              FROM gzss_y g0 LEFT JOIN ref_nom n ON n.code = g0.nomenclature) AS g
        LEFT JOIN p_death dd ON dd.person_id = g.person_id
        GROUP BY g.person_id""")

    # FARU per person and ATC code: signed DDD (exact decimals), packages, amounts.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE p_atc AS
        SELECT f.person_id, f.atc,
               sum(CASE WHEN f.packages < 0 THEN -abs(f.ddd) ELSE f.ddd END::DECIMAL(38, 9)) AS ddd,
               sum(f.packages) AS packages, sum(f.amount_reimbursed) AS re, sum(f.copayment) AS co,
               count(*) AS n_lines, count(*) FILTER (WHERE f.delivery_date > dd.death_date) AS n_after_death
        FROM faru_y f LEFT JOIN p_death dd ON dd.person_id = f.person_id
        GROUP BY f.person_id, f.atc""")
    entries = {d["id"]: d for d in defs["drugs"]["group"]}
    fa_aggs = ["sum(n_lines) AS n_lines", "sum(n_after_death) AS n_after_death",
               "sum(re) AS re", "sum(co) AS co",
               "count(*) FILTER (WHERE ddd >= 80) AS substances_80ddd"]
    for key, values in codes.items():
        if key.endswith("_atc"):
            fa_aggs.append(f"coalesce(sum(packages) FILTER (WHERE {prefix_any('atc', values)}), 0) AS {q('p_' + key)}")
    for d in entries.values():
        where = f"{prefix_any('atc', d['atc'])} AND NOT {prefix_any('atc', d.get('exclude_atc', []))}"
        if d["min_ddd"] == 0:
            fa_aggs.append(f"coalesce(sum(packages) FILTER (WHERE {where}), 0) > 0 AS {q('raw_' + d['id'])}")
        else:
            fa_aggs.append(f"coalesce(sum(ddd) FILTER (WHERE {where}), 0) >= {d['min_ddd']} AS {q('raw_' + d['id'])}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE p_fa AS SELECT person_id, {', '.join(fa_aggs)} FROM p_atc GROUP BY person_id")

    con.execute("""
        CREATE OR REPLACE TEMP TABLE p_hosp AS
        SELECT person_id, count(*) FILTER (WHERE kind = 'classic') AS classic_stays,
               coalesce(sum(billed_days) FILTER (WHERE kind = 'classic'), 0) AS hospital_days,
               count(*) FILTER (WHERE kind = 'day') AS day_stays
        FROM hosp GROUP BY person_id""")

    # The other databases: incapacity days (union of the days each row covers in its quarter),
    # the latest Katz category, the flat fee, the chapter IV flags.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE p_itao AS
        WITH r AS (
            SELECT person_id, kind, start_date, end_date,
                   make_date(substr(period, 1, 4)::INTEGER, 3 * (substr(period, 6, 1)::INTEGER - 1) + 1, 1) AS qs
            FROM itao_y),
        b AS (
            SELECT person_id, kind, greatest(start_date, qs, DATE '{y}-01-01') AS a,
                   least(coalesce(end_date, (qs + INTERVAL 3 MONTH - INTERVAL 1 DAY)::DATE),
                         (qs + INTERVAL 3 MONTH - INTERVAL 1 DAY)::DATE, DATE '{y}-12-31') AS b
            FROM r),
        d AS (
            SELECT person_id, kind, unnest(generate_series(a::TIMESTAMP, b::TIMESTAMP, INTERVAL 1 DAY)) AS day
            FROM b WHERE a <= b)
        SELECT person_id, count(DISTINCT day) FILTER (WHERE kind = 'P') AS days_p,
               count(DISTINCT day) FILTER (WHERE kind = 'I') AS days_i
        FROM d GROUP BY person_id""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE p_katz AS
        SELECT person_id, category FROM (
            SELECT person_id, category,
                   CASE category WHEN 'O' THEN 1 WHEN 'A' THEN 2 WHEN 'B' THEN 3 WHEN 'C' THEN 4
                                 WHEN 'Cd' THEN 5 END AS k, assessment_date
            FROM kats_y) WHERE k IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY assessment_date DESC, k DESC) = 1""")
    con.execute("CREATE OR REPLACE TEMP TABLE p_chta AS SELECT person_id, bool_or(flat_fee) AS flat_fee "
                "FROM chta_y GROUP BY person_id")
    chiv_flags = defs["pati"].get("chapter_iv", [])
    chiv_aggs = ["count(*) AS n"] + [
        "bool_or(" + " OR ".join(f"starts_with(atc, {lit(p)}) OR starts_with({lit(p)}, atc)" for p in f["atc"])
        + f") AS {q('chiv_' + f['id'])}" for f in chiv_flags]
    con.execute(f"CREATE OR REPLACE TEMP TABLE p_chiv AS SELECT person_id, {', '.join(chiv_aggs)} "
                "FROM chiv_y WHERE decision = 'A' AND atc <> '' GROUP BY person_id")

    def flag(entry_id: str, seen: tuple = ()) -> str:
        d = entries[entry_id]
        if entry_id in seen:
            raise ValueError(f"drug-groups.toml: cycle through unless = {entry_id}")
        e = f"coalesce(fa.{q('raw_' + entry_id)}, false)"
        if d.get("unless"):
            e = f"({e} AND NOT {flag(d['unless'], seen + (entry_id,))})"
        return e

    def amount(expr: str) -> str:
        return f"({expr})::DECIMAL(14, 2)"

    exprs: dict[str, str] = {
        "person_id": "p.person_id", "insurer": "p.insurer", "birth_year": "p.birth_year::INTEGER",
        "age": f"({y} - p.birth_year)::INTEGER", "sex": "p.sex", "municipality": "p.municipality",
        "municipality_2025": "p.municipality_2025", "quarters_insured": "p.quarters_insured",
        "increased_reimbursement": "p.increased_reimbursement", "nursing_home": "p.nursing_home",
        "death_date": "p.death_date",
        "classic_stays": "coalesce(h.classic_stays, 0)::INTEGER",
        "hospital_days": "coalesce(h.hospital_days, 0)::INTEGER",
        "day_stays": "coalesce(h.day_stays, 0)::INTEGER",
        "substances_80ddd": "coalesce(fa.substances_80ddd, 0)::INTEGER",
        "polypharmacy": "coalesce(fa.substances_80ddd, 0) >= 5",
        "incapacity_days_primary": "coalesce(it.days_p, 0)::INTEGER",
        "incapacity_days_invalidity": "coalesce(it.days_i, 0)::INTEGER",
        "incapacity_type": "CASE WHEN coalesce(it.days_i, 0) > 0 THEN 'invalidity' "
                           "WHEN coalesce(it.days_p, 0) > 0 THEN 'primary' ELSE 'none' END",
        "katz_category": "coalesce(kz.category, 'none')",
        "flat_fee": "coalesce(ch.flat_fee, false)",
    }
    for f in chiv_flags:
        exprs["chiv_" + f["id"]] = f"coalesce(cv.{q('chiv_' + f['id'])}, false)"
    # Contact and use variables: the [codes] lists they name (GZSS units; FARU packages for
    # an *_atc list). Integers: units summed, below zero -> 0. Booleans: any sum > 0.
    for name, v in variables.items():
        refs = code_refs(v)
        if not refs or name in exprs:
            continue
        sums = [f"coalesce(fa.{q('p_' + r)}, 0)" if r.endswith("_atc") else f"coalesce(gz.{q('u_' + r)}, 0)"
                for r in refs]
        if v["type"] == "integer":
            exprs[name] = f"greatest({' + '.join(sums)}, 0)::INTEGER"
        elif v["type"] == "boolean":
            exprs[name] = "(" + " OR ".join(f"{s} > 0" for s in sums) + ")"
        else:
            raise ValueError(f"pati.toml: {name}: type {v['type']} with [codes]")
    parts = {"reimbursed": [], "copayment": [], "supplement": []}
    for g in gz_groups:
        for col in parts:
            c = f"{col}_{g['id']}"
            exprs[c] = amount(f"coalesce(gz.{q(c)}, 0)")
            parts[col].append(c)
    for g in ph_groups:
        exprs[f"reimbursed_{g['id']}"] = amount("coalesce(fa.re, 0)")
        exprs[f"copayment_{g['id']}"] = amount("coalesce(fa.co, 0)")
        parts["reimbursed"].append(f"reimbursed_{g['id']}")
        parts["copayment"].append(f"copayment_{g['id']}")
    for col, cs in parts.items():
        exprs[f"{col}_total"] = amount(" + ".join(exprs[c] for c in cs))
    exprs["out_of_pocket"] = amount(f"{exprs['copayment_total']} + {exprs['supplement_total']}")
    for d in entries.values():
        exprs[drug_column(d)] = flag(d["id"])
    exprs["eps_member"] = "NULL::BOOLEAN"  # set by build_eps

    columns = pati_columns(defs)
    unknown = [c for c, _ in columns if c not in exprs]
    if unknown:
        raise ValueError(f"pati.toml names columns this implementation does not know: {unknown}")
    select = ",\n               ".join(f"{exprs[c]} AS {q(c)}" for c, _ in columns)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE pati AS
        SELECT {select},
               {y}::INTEGER AS year
        FROM p_pop p
        LEFT JOIN p_gz gz ON gz.person_id = p.person_id
        LEFT JOIN p_fa fa ON fa.person_id = p.person_id
        LEFT JOIN p_hosp h ON h.person_id = p.person_id
        LEFT JOIN p_itao it ON it.person_id = p.person_id
        LEFT JOIN p_katz kz ON kz.person_id = p.person_id
        LEFT JOIN p_chta ch ON ch.person_id = p.person_id
        LEFT JOIN p_chiv cv ON cv.person_id = p.person_id""")
    row = con.execute("""
        SELECT (SELECT coalesce(sum(n_lines), 0) FROM p_gz WHERE person_id NOT IN (SELECT person_id FROM p_pop)),
               (SELECT coalesce(sum(n_lines), 0) FROM p_fa WHERE person_id NOT IN (SELECT person_id FROM p_pop)),
               (SELECT coalesce(sum(n_after_death), 0) FROM p_gz),
               (SELECT coalesce(sum(n_after_death), 0) FROM p_fa),
               (SELECT coalesce(sum(n_unknown), 0) FROM p_gz),
               (SELECT count(*) FROM p_pop)""").fetchone()
    for tmp in ("p_pop", "p_death", "p_gz", "p_atc", "p_fa", "p_hosp", "p_itao", "p_katz", "p_chta", "p_chiv"):
        con.execute(f"DROP TABLE IF EXISTS {tmp}")
    return {
        "lines_person_not_in_population": {"gzss": int(row[0]), "faru": int(row[1])},
        "lines_after_death": {"gzss": int(row[2]), "faru": int(row[3])},
        "lines_unknown_nomenclature": int(row[4]),
        "pati_persons": int(row[5]),
    }


def build_eps(con, y: int, defs: dict) -> dict:
    """EPS: u per person, membership in `pati.eps_member`, tables eps and pati_sample (weights)."""
    s = defs["sample"]
    below, from_, thr = float(s["fraction_below"]), float(s["fraction_from"]), int(s["age_threshold"])
    if from_ < below:
        raise ValueError("sample.toml: fraction_from < fraction_below")
    # u = first 8 bytes of SHA-256(salt || person_id), big-endian, / 2^64.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE eps AS
        SELECT person_id, age, sex, age >= {thr} AS from_threshold,
               CASE WHEN age >= {thr} THEN {from_!r} ELSE {below!r} END::DOUBLE AS f,
               ('0x' || substr(sha256({lit(s['salt'])} || person_id), 1, 16))::UBIGINT::DOUBLE
                   / 18446744073709551616.0 AS u
        FROM pati""")
    con.execute("ALTER TABLE eps ADD COLUMN member BOOLEAN")
    con.execute("UPDATE eps SET member = u < f")
    con.execute("UPDATE pati SET eps_member = eps.member FROM eps WHERE eps.person_id = pati.person_id")
    # Weights: design 1/f; eps_weight = N/n within (age below/from the threshold) x sex.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE pati_sample AS
        WITH strata AS (
            SELECT from_threshold, sex, count(*) AS n_pop, count(*) FILTER (WHERE member) AS n_sample
            FROM eps GROUP BY ALL
        )
        SELECT p.*, 1.0 / e.f AS eps_design_weight, st.n_pop / st.n_sample AS eps_weight
        FROM pati p JOIN eps e USING (person_id)
        JOIN strata st ON st.from_threshold = e.from_threshold AND st.sex = e.sex
        WHERE e.member""")
    strata = con.execute("""
        SELECT from_threshold, sex, count(*) FILTER (WHERE member), count(*) FROM eps GROUP BY ALL ORDER BY ALL""").fetchall()
    return {"sample_members": {f"{'from' if a else 'below'}_{thr}_{sx}": int(m) for a, sx, m, _ in strata}}


def write_outputs(con, out: Path, y: int, sample_sources: bool = True) -> None:
    """Writes hosp, pati and the sample tables as zstd Parquet under `out`."""
    def copy(sql: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({sql}) TO {lit(str(path))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)")

    copy("SELECT * EXCLUDE (year) FROM hosp", out / "hosp" / f"year={y}" / "part-0.parquet")
    copy("SELECT * EXCLUDE (year) FROM pati", out / "pati" / f"year={y}" / "part-0.parquet")
    s = out / "sample"
    copy("SELECT h.* EXCLUDE (year) FROM hosp h SEMI JOIN eps e ON e.person_id = h.person_id AND e.member",
         s / "hosp" / f"year={y}" / "part-0.parquet")
    copy("SELECT * EXCLUDE (year) FROM pati_sample", s / "pati" / f"year={y}" / "part-0.parquet")
    if sample_sources:
        con.execute("CREATE OR REPLACE TEMP TABLE eps_members AS SELECT person_id FROM eps WHERE member")
        for name in ("popu", "gzss", "faru"):
            target = s / name
            target.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT t.* FROM {name}_y t SEMI JOIN eps_members m ON m.person_id = t.person_id) "
                f"TO {lit(str(target))} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, "
                "PARTITION_BY (insurer, period), OVERWRITE_OR_IGNORE)")
        con.execute("DROP TABLE eps_members")


# --------------------------------------------------------------------------------------
# Validation against the synthesiser's ground truth (aim synth: truth/stays.csv)
# --------------------------------------------------------------------------------------

STAY_KEY = ["person_id", "institution_id", "admission", "discharge", "kind", "transfer", "room_type"]


def compare_with_truth(con, truth_csv: Path | str, year: int, hosp: str = "hosp",
                       deliveries: Path | str | None = None) -> dict:
    """Compares the stays of `hosp` (a table or SQL relation) admitted in `year` with
    truth/stays.csv as multisets on STAY_KEY.

    With `deliveries` (the synthesised folder, which the warehouse was ingested from, with
    `gzss_y` registered by derive), a mismatch is *explained* when its person has a GZSS line
    of the year that was delivered but not loaded (a rejected delivery or rejected rows):
    the truth describes the stays before any defect and before the ingest's rules."""
    key = ", ".join(STAY_KEY)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _truth AS
        SELECT {key}, count(*) AS n FROM (
            SELECT person_id, institution_id, admission::DATE AS admission, discharge::DATE AS discharge, kind,
                   transfer::BOOLEAN AS transfer, coalesce(room_type, '') AS room_type
            FROM read_csv({lit(str(truth_csv))}, all_varchar = true)
            WHERE year(admission::DATE) = {int(year)}) GROUP BY ALL""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ours AS
        SELECT {key}, count(*) AS n FROM (
            SELECT person_id, institution_id, admission, discharge, kind, transfer, coalesce(room_type, '') AS room_type
            FROM {hosp} WHERE year(admission) = {int(year)}) GROUP BY ALL""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _diff AS
        SELECT {key}, coalesce(t.n, 0) AS truth_n, coalesce(o.n, 0) AS ours_n
        FROM _truth t FULL JOIN _ours o USING ({key}) WHERE coalesce(t.n, 0) <> coalesce(o.n, 0)""")
    truth_n, ours_n = con.execute("SELECT (SELECT sum(n) FROM _truth), (SELECT sum(n) FROM _ours)").fetchone()
    missing, extra = con.execute(
        "SELECT coalesce(sum(greatest(truth_n - ours_n, 0)), 0), coalesce(sum(greatest(ours_n - truth_n, 0)), 0) FROM _diff"
    ).fetchone()
    res = {"truth": int(truth_n or 0), "derived": int(ours_n or 0), "matched": int((truth_n or 0) - missing),
           "missing": int(missing), "extra": int(extra)}
    res["match_rate"] = res["matched"] / max(res["truth"], res["derived"], 1)
    if deliveries is not None and (missing or extra):
        files = sorted(str(f) for f in Path(deliveries).glob(f"*-GZSS-{int(year)}Q*/*.csv*"))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _delivered AS
            SELECT line_id, person_id, insurer, regexp_extract(line_id, '^G[0-9]+-([0-9]+)-', 1) AS person_no
            FROM read_csv([{', '.join(map(lit, files))}], delim = ';', header = true, all_varchar = true,
                          union_by_name = true)""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _rejected_persons AS
            WITH ids AS (SELECT DISTINCT person_no, person_id FROM _delivered
                         WHERE regexp_full_match(person_id, '[0-9a-f]{32}')),
                 rej AS (SELECT d.* FROM _delivered d
                         ANTI JOIN (SELECT line_id, insurer FROM gzss_y) l ON l.line_id = d.line_id AND l.insurer = d.insurer)
            SELECT DISTINCT ids.person_id FROM rej JOIN ids USING (person_no)""")
        unexplained = con.execute(f"""
            SELECT {key}, truth_n, ours_n FROM _diff WHERE person_id NOT IN (SELECT person_id FROM _rejected_persons)
            ORDER BY ALL""").fetchall()
        res["persons_with_rejected_lines"] = con.execute("SELECT count(*) FROM _rejected_persons").fetchone()[0]
        res["unexplained"] = [dict(zip(STAY_KEY + ["truth_n", "derived_n"], map(str, r))) for r in unexplained]
    res["examples"] = [dict(zip(STAY_KEY + ["truth_n", "derived_n"], map(str, r))) for r in
                       con.execute(f"SELECT {key}, truth_n, ours_n FROM _diff ORDER BY ALL LIMIT 10").fetchall()]
    return res


if __name__ == "__main__":
    import argparse
    import json

    import duckdb

    ap = argparse.ArgumentParser(description="Derive HOSP/PATI/EPS for one year with DuckDB")
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--year", type=int, required=True)
    ap.add_argument("--out", help="write Parquet here")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--truth", help="synthesised folder (aim synth --out): compare HOSP with its truth/stays.csv")
    a = ap.parse_args()
    c = duckdb.connect()
    if a.threads:
        c.execute(f"SET threads = {a.threads}")
    result = derive(c, a.warehouse, a.year, a.out)
    if a.truth:
        result["truth"] = compare_with_truth(c, Path(a.truth) / "truth" / "stays.csv", a.year, deliveries=a.truth)
    print(json.dumps(result, indent=1))
