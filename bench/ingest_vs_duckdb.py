#!/usr/bin/env python3
"""Ingest benchmark: `aim ingest` against DuckDB doing the same job on the same files.

Run from the repository root (the `aim` binary is built with
`cargo build --profile fast -p aim-cli`):

    .venv/bin/python bench/ingest_vs_duckdb.py                      # quick try, 20,000 persons
    .venv/bin/python bench/ingest_vs_duckdb.py --persons 1000000 --years 2024 --update-docs

Method
------
1. Synthesise: `aim synth --persons N --years Y --seed S` writes one delivery folder per
   insurer x database x quarter (manifest.json + `;`-separated CSV.gz files) into a work
   folder outside the repository (default /tmp/aim-bench, deleted at the end unless --keep).
2. aim: `aim reference import` then `aim ingest --json` into a fresh warehouse. aim reads
   every file once as a stream, checks each row against the rules of
   crates/ingest/rules.toml, writes the accepted rows as zstd Parquet files and commits them
   to Delta tables (one commit per delivery), writes a QC report (JSON + HTML) per
   delivery, archives the original files and writes the period overviews.
3. DuckDB: the same job in SQL, on the same files, in a separate process (this script with
   --worker). Per delivery, in the order aim uses (period, POPU before GZSS before FARU,
   insurer): Python hashes every file (SHA-256 against the manifest, MAN-002) and reads its
   header (FMT-002); DuckDB loads the CSV.gz files into a temporary table, all columns
   VARCHAR, then one statement types them with TRY_CAST (plus format guards where TRY_CAST
   is more lenient than aim, e.g. amounts with more than two decimals, `1e3` as an integer,
   unpadded dates) and applies the row rules of crates/ingest/src/check.rs: required values
   (SCH-001), types and coded ids (SCH-002), raw national numbers in any field (PRV-001:
   11 digits, also with '.', '-', ' ' separators, mod 97 with the rule for people born from
   2000), codes against the reference lists exported from aim's warehouse (COD-001..004),
   insurer of the manifest (MAN-003), dates inside the quarter (DAT-001), birth year and not
   before birth (DAT-002), not after death (DAT-003), person present in the same insurer's
   population of the period (POP-001, joined with the POPU rows DuckDB accepted and wrote),
   amounts (AMT-001), duplicate keys with the later occurrence rejected (DUP-001); also row
   counts against the manifest (MAN-002) and re-delivery sequences (MAN-004). It counts
   failures per rule as aim does, takes the verdict with the thresholds of rules.toml, and
   writes the accepted rows, typed like the warehouse schema, to zstd (level 1, as aim)
   Parquet files. Malformed lines (wrong field count, invalid UTF-8, corrupt gzip) make
   DuckDB's strict CSV reader fail, which rejects the delivery, as aim's 0 % thresholds on
   FMT-003/FMT-004 and FMT-001 do. bench/duckdb_rules_check.py checks this equivalence on
   malformed input; --defects on the synthesiser's documented defects.
4. Each tool runs as a child process; wall time is measured around it and peak RSS and CPU
   time come from the child's own rusage (os.wait4), not this script's. Both read the files
   from the page cache (the synthesiser has just written them). The CPU time the rest of the
   machine used meanwhile is recorded (other_cpu_s); --wait-idle waits for an idle machine
   before each run. Time per phase: aim's from its debug log (AIM_LOG=aim_warehouse=debug),
   DuckDB's from the worker.
5. Checks: aim must exit 0; DuckDB must accept exactly the rows aim accepted, delivery by
   delivery, with the same failure count per rule as aim's QC reports; a content checksum
   (row count and sums of amounts / birth years per table) is compared between aim's
   warehouse (via `aim sql`) and DuckDB's Parquet output.
6. Results: printed, saved to bench/results/ingest-<date>.json and .md; with --update-docs
   the figures in docs/benchmarks.md (between the ingest-table markers) are replaced.

The worker mode (--worker) is internal: it is the DuckDB side of step 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULES_TOML = REPO / "crates/ingest/rules.toml"
DOCS = REPO / "docs/benchmarks.md"
RESULTS = REPO / "bench/results"
DB_ORDER = ["POPU", "GZSS", "FARU"]  # aim ingests the population first (find_deliveries)
INSURERS = ["100", "200", "300", "400", "500", "600", "900"]
MAX_LINE_EUROS = 250_000

# The delivered columns of each database (docs/data-model.md): name, kind, required.
# Kinds: text, id (coded identifier, 32 lowercase hex), insurer, sex, room, nomenclature,
# atc, municipality, qualification, sector, cnk, date, year, int, bool, amount, quantity.
SCHEMA = {
    "POPU": [
        ("person_id", "id", True),
        ("insurer", "insurer", True),
        ("birth_year", "year", True),
        ("sex", "sex", True),
        ("municipality", "municipality", True),
        ("sector", "sector", False),
        ("increased_reimbursement", "bool", True),
        ("nursing_home", "bool", True),
        ("entry_date", "date", False),
        ("exit_date", "date", False),
        ("death_date", "date", False),
        ("reference_date", "date", True),
    ],
    "GZSS": [
        ("line_id", "text", True),
        ("person_id", "id", True),
        ("insurer", "insurer", True),
        ("nomenclature", "nomenclature", True),
        ("service_date", "date", True),
        ("provider_id", "id", False),
        ("provider_qualification", "qualification", False),
        ("prescriber_id", "id", False),
        ("institution_id", "id", False),
        ("room_type", "room", False),
        ("units", "int", True),
        ("amount_reimbursed", "amount", True),
        ("copayment", "amount", True),
        ("supplement", "amount", True),
    ],
    "FARU": [
        ("line_id", "text", True),
        ("person_id", "id", True),
        ("insurer", "insurer", True),
        ("delivery_date", "date", True),
        ("cnk", "cnk", True),
        ("atc", "atc", True),
        ("ddd", "quantity", True),
        ("packages", "int", True),
        ("prescriber_id", "id", False),
        ("pharmacy_id", "id", False),
        ("amount_reimbursed", "amount", True),
        ("copayment", "amount", True),
    ],
}
KEY = {"POPU": "person_id", "GZSS": "line_id", "FARU": "line_id"}

# Reference lists the checker uses, exported from aim's warehouse (the same query as
# crates/warehouse/src/reference.rs `codes`).
REFERENCE_QUERIES = {
    "nomenclature": "SELECT code FROM ref_nomenclature",
    "atc": "SELECT code FROM ref_atc WHERE level = 5",
    "qualification": "SELECT code FROM ref_qualification",
    "municipality_2019": "SELECT nis AS code FROM ref_municipality_2019",
    "municipality_2025": "SELECT nis AS code FROM ref_municipality_2025",
    "sector": "SELECT nis9 AS code FROM ref_sector",
}
ROW_RULES = [
    "SCH-001", "SCH-002", "PRV-001", "COD-001", "COD-002", "COD-003", "COD-004",
    "DAT-001", "DAT-002", "DAT-003", "AMT-001", "DUP-001", "POP-001", "MAN-003",
]


# --------------------------------------------------------------------------------------
# Measuring a child process
# --------------------------------------------------------------------------------------


@dataclass
class Measure:
    """Wall time, peak RSS and CPU time of one child process."""

    wall_s: float
    peak_rss_mib: float
    user_s: float
    sys_s: float
    other_cpu_s: float  # CPU time the rest of the machine used meanwhile (should be ~0)
    exit_code: int
    stdout: str
    stderr: str


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine, in clock ticks, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def wait_until_idle(max_wait_s: float) -> float:
    """Waits (up to `max_wait_s`) until the machine is idle; returns the busy share seen."""
    deadline = time.monotonic() + max_wait_s
    while True:
        b1, t1 = cpu_jiffies()
        time.sleep(2)
        b2, t2 = cpu_jiffies()
        busy = (b2 - b1) / max(t2 - t1, 1)
        if busy < 0.10 or time.monotonic() > deadline:
            if busy >= 0.10:
                print(f"warning: the machine is {busy:.0%} busy with other work; figures will be pessimistic", flush=True)
            return busy
        time.sleep(10)


def act_as_data_manager(aim: str, folder: Path) -> None:
    """Warehouse commands act as an account (docs/access.md): a fresh accounts store in
    `folder` with the first administrator and a data manager, whose key every later `aim`
    run of this process uses (AIM_STORE, AIM_KEY_FILE)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    store, admin, manager = folder / "access.db", folder / "administrator.key", folder / "data-manager.key"
    env = {k: v for k, v in os.environ.items() if k not in ("AIM_STORE", "AIM_KEY_FILE")}
    person = ["--name", "Benchmark", "--organisation", "bench"]
    for args in (["account", "init", "--store", str(store), "--email", "admin@bench.example", *person,
                  "--key-out", str(admin)],
                 ["account", "add", "--store", str(store), "--key-file", str(admin),
                  "--email", "data.manager@bench.example", *person, "--role", "data-manager",
                  "--key-out", str(manager)]):
        subprocess.run([aim, *args], check=True, capture_output=True, env=env)
    os.environ["AIM_STORE"] = str(store)
    os.environ["AIM_KEY_FILE"] = str(manager)


def run_measured(cmd: list[str], **kw) -> Measure:
    """Runs `cmd`, returning its wall time and its own rusage (peak RSS, CPU)."""
    out_path = Path(kw.pop("stdout_path"))
    err_path = out_path.with_suffix(".stderr")
    tick = os.sysconf("SC_CLK_TCK")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        busy0, _ = cpu_jiffies()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kw)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy1, _ = cpu_jiffies()
        proc.returncode = os.waitstatus_to_exitcode(status)
    own = usage.ru_utime + usage.ru_stime
    other = max(0.0, (busy1 - busy0) / tick - own)
    if other > 0.1 * wall + 1:
        print(f"warning: other processes used {other:.1f} CPU s during this {wall:.1f} s run", flush=True)
    return Measure(
        wall_s=wall,
        peak_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        other_cpu_s=round(other, 1),
        exit_code=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def check_ok(what: str, m: Measure) -> None:
    if m.exit_code != 0:
        sys.exit(f"{what} failed with exit status {m.exit_code}:\n{m.stderr[-4000:]}\n{m.stdout[-2000:]}")


# --------------------------------------------------------------------------------------
# Machine and data
# --------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": ram_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def delivery_dirs(root: Path) -> list[Path]:
    """Delivery folders under `root`, in aim's ingest order."""
    found = []
    for d in root.iterdir():
        m = d / "manifest.json"
        if d.is_dir() and m.exists():
            man = json.loads(m.read_text())
            found.append(((man["period"], DB_ORDER.index(man["database"]), man["insurer"], man["sequence"], str(d)), d))
    return [d for _, d in sorted(found)]


def data_size(root: Path) -> dict:
    rows = {db: 0 for db in DB_ORDER}
    size = {db: 0 for db in DB_ORDER}
    n = 0
    for d in delivery_dirs(root):
        man = json.loads((d / "manifest.json").read_text())
        n += 1
        for f in man["files"]:
            rows[man["database"]] += f["rows"]
            size[man["database"]] += (d / f["name"]).stat().st_size
    return {
        "deliveries": n,
        "rows": rows,
        "rows_total": sum(rows.values()),
        "bytes_gz": size,
        "bytes_gz_total": sum(size.values()),
    }


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def aim_sql(aim: str, wh: Path, sql: str, fmt: str = "json") -> str:
    out = subprocess.run([aim, "sql", "--warehouse", str(wh), "--format", fmt, sql], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"aim sql failed: {out.stderr}")
    return out.stdout


# --------------------------------------------------------------------------------------
# The DuckDB side (worker process)
# --------------------------------------------------------------------------------------


def q(name: str) -> str:
    return '"' + name + '"'


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    year, quarter = int(period[:4]), int(period[5])
    start = dt.date(year, 3 * (quarter - 1) + 1, 1)
    nxt = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return start, nxt - dt.timedelta(days=1)


def parses(kind: str, v: str) -> str:
    """SQL true when the non-empty VARCHAR `v` is a valid value of `kind` (SCH-002)."""
    if kind == "id":
        return f"regexp_full_match({v}, '[0-9a-f]{{32}}')"
    if kind == "insurer":
        return f"{v} IN ({', '.join(map(lit, INSURERS))})"
    if kind == "sex":
        return f"{v} IN ('M', 'F')"
    if kind == "room":
        return f"{v} IN ('S', 'C')"
    if kind == "date":  # TRY_CAST accepts unpadded dates: require YYYY-MM-DD
        return f"(length({v}) = 10 AND substr({v}, 5, 1) = '-' AND substr({v}, 8, 1) = '-' AND TRY_CAST({v} AS DATE) IS NOT NULL)"
    if kind == "year":  # TRY_CAST accepts '1e3', '1.5', spaces: require digits
        return f"(regexp_full_match({v}, '[+-]?[0-9]{{1,18}}') AND TRY_CAST({v} AS SMALLINT) IS NOT NULL)"
    if kind == "int":
        return f"(regexp_full_match({v}, '[+-]?[0-9]{{1,18}}') AND TRY_CAST({v} AS INTEGER) IS NOT NULL)"
    if kind == "bool":
        return f"{v} IN ('true', '1', 'TRUE', 'True', 'false', '0', 'FALSE', 'False')"
    if kind == "amount":  # TRY_CAST rounds 1.234 to 1.23: require at most two decimals
        return f"(regexp_full_match({v}, '[+-]?[0-9]{{1,15}}(\\.[0-9]{{1,2}})?') AND TRY_CAST({v} AS DECIMAL(18,2)) IS NOT NULL)"
    if kind == "quantity":
        return f"(regexp_full_match({v}, '[0-9.+-]+') AND coalesce(isfinite(TRY_CAST({v} AS DOUBLE)), false))"
    return "true"  # text and codes checked against lists (COD rules) parse as text


def typed(kind: str, v: str) -> str:
    """SQL of the value in the warehouse type (only read for rows that parsed)."""
    return {
        "date": f"TRY_CAST({v} AS DATE)",
        "year": f"TRY_CAST({v} AS SMALLINT)",
        "int": f"TRY_CAST({v} AS INTEGER)",
        "bool": f"({v} IN ('true', '1', 'TRUE', 'True'))",
        "amount": f"TRY_CAST({v} AS DECIMAL(18,2))",
        "quantity": f"TRY_CAST({v} AS DOUBLE)",
    }.get(kind, v)


def code_rule(kind: str, v: str, municipalities: str, have_sectors: bool) -> tuple[str, str] | None:
    """(rule, SQL true when the valid-typed `v` is an unknown code) for coded columns."""
    if kind == "nomenclature":
        return "COD-001", f"{v} NOT IN (SELECT code FROM ref_nomenclature)"
    if kind == "atc":
        return "COD-002", f"{v} NOT IN (SELECT code FROM ref_atc)"
    if kind == "municipality":
        return "COD-003", f"{v} NOT IN (SELECT code FROM {municipalities})"
    if kind == "qualification":
        return "COD-004", f"{v} NOT IN (SELECT code FROM ref_qualification)"
    if kind == "sector" and have_sectors:
        return "COD-004", f"{v} NOT IN (SELECT code FROM ref_sector)"
    if kind == "cnk":
        return "COD-004", f"NOT regexp_full_match({v}, '[0-9]{{7}}')"
    return None


def total(terms: list[str]) -> str:
    return " + ".join(f"({t})::INTEGER" for t in terms) if terms else "0"


def check_sql(db: str, files: list[Path], header: list[str], insurer: str, period: str, delivery_id: str,
              population: str | None, have_sectors: bool) -> list[str]:
    """The statements that read a delivery's files into `raw` (all VARCHAR), then type and
    check every row into `checked`.

    Loading first and checking from the table is faster than checking straight from the
    CSV scan: a gzip file is decompressed by one thread, while the checks then run in
    parallel over the table's row groups; the table's rowid also gives the file order that
    DUP-001 needs ("the later occurrence is rejected")."""
    cols = SCHEMA[db]
    start, end = period_bounds(period)
    d0, d1 = f"DATE '{start}'", f"DATE '{end}'"
    municipalities = "ref_municipality_2019" if end < dt.date(2025, 1, 1) else "ref_municipality_2025"
    columns = "{" + ", ".join(f"{lit(h)}: 'VARCHAR'" for h in header) + "}"
    file_list = "[" + ", ".join(lit(str(f)) for f in files) + "]"
    source = (
        f"read_csv({file_list}, delim = ';', quote = '\"', escape = '\"', header = true, "
        f"auto_detect = false, columns = {columns}, filename = false)"
    )

    # Layer 1: raw values, the row number in file order, national-number flags per column.
    l1 = ["rowid AS _rn", "_file"] + [q(c) for c, _, _ in cols]
    l1 += [f"coalesce(is_niss({q(c)}), false) AS {q('_n_' + c)}" for c, _, _ in cols]

    # Layer 2: parse-level failures per rule (counted per column, as aim's tallies do) and
    # the typed values.
    sch001, prv, sch002 = [], [], []
    cod: dict[str, list[str]] = {"COD-001": [], "COD-002": [], "COD-003": [], "COD-004": []}
    l2 = ["_rn", "_file"]
    for c, kind, required in cols:
        v, n = f"l1.{q(c)}", f"l1.{q('_n_' + c)}"  # qualified: the population join has columns of the same names
        if required:
            sch001.append(f"{v} IS NULL")
        prv.append(n)
        present = f"{v} IS NOT NULL AND NOT {n}"
        sch002.append(f"{present} AND NOT {parses(kind, v)}")
        rule = code_rule(kind, v, municipalities, have_sectors)
        if rule:
            cod[rule[0]].append(f"{present} AND coalesce({rule[1]}, false)")
        l2.append(f"{typed(kind, v)} AS {q(c)}")
    l2 += [
        f"{total(sch001)} AS f_sch001",
        f"{total(prv)} AS f_prv001",
        f"{total(sch002)} AS f_sch002",
        *(f"{total(terms)} AS f_{rule.lower().replace('-', '')}" for rule, terms in cod.items()),
        f"coalesce(l1.insurer <> {lit(insurer)}, false) AS _insurer_mismatch",
    ]
    join = ""
    if db != "POPU" and population:
        l2 += ["_p.birth_year AS _p_birth_year", "_p.death_date AS _p_death", "_p.person_id IS NULL AS _p_missing"]
        join = f"LEFT JOIN read_parquet({lit(population)}) AS _p ON _p.person_id = l1.person_id"

    # Layer 3: rules combining columns, only on rows whose values all parsed (as aim).
    ok = "(f_sch001 + f_prv001 + f_sch002 = 0)"
    dat001, dat002, dat003, pop001, amt001 = [], [], [], [], []
    if db == "POPU":
        dat002.append(f"birth_year < 1890 OR birth_year > {start.year}")
        dat001.append(f"reference_date <> {d1}")
        dat001 += [f"coalesce({c} NOT BETWEEN {d0} AND {d1}, false)" for c in ("exit_date", "death_date")]
        dat001.append(f"coalesce(entry_date > {d1}, false)")
        dat002.append("coalesce(year(death_date) < birth_year, false)")
    else:
        date = "service_date" if db == "GZSS" else "delivery_date"
        qty = "units" if db == "GZSS" else "packages"
        dat001.append(f"{date} NOT BETWEEN {d0} AND {d1}")
        if population:
            pop001.append("_p_missing")
            dat002.append(f"NOT _p_missing AND year({date}) < _p_birth_year")
            dat003.append(f"NOT _p_missing AND coalesce({date} > _p_death, false)")
        for c, kind, _ in cols:
            if kind == "amount":
                amt001.append(f"({c} < 0 AND {qty} >= 0) OR abs({c}) > {MAX_LINE_EUROS}")
        if db == "FARU":
            amt001.append("ddd < -1000 OR ddd > 1000")
    key = KEY[db]

    def gated(terms: list[str]) -> str:
        return f"CASE WHEN {ok} THEN {total(terms)} ELSE 0 END"

    rules = {
        "f_man003": gated([f"insurer <> {lit(insurer)}"]),
        "f_dat001": gated(dat001),
        "f_dat002": gated(dat002),
        "f_dat003": gated(dat003),
        "f_pop001": gated(pop001),
        "f_amt001": gated(amt001),
        # The later occurrence of a key among rows that parsed is rejected (see _dups).
        "f_dup001": f"CASE WHEN {ok} AND _dups._first IS NOT NULL AND _rn > _dups._first THEN 1 ELSE 0 END",
    }
    out_cols = []
    for c, kind, _ in cols:
        if kind == "amount":
            out_cols.append(f"{c}::DECIMAL(12,2) AS {c}")
        else:
            out_cols.append(c)
    error_rules = ["f_sch001", "f_sch002", "f_prv001", "f_cod001", "f_cod002", "f_cod003", *rules]
    l3 = [
        *out_cols,
        f"{lit(period)} AS period",
        f"{lit(delivery_id)} AS delivery_id",
        "_file",
        "_insurer_mismatch",
        "f_sch001", "f_sch002", "f_prv001", "f_cod001", "f_cod002", "f_cod003", "f_cod004",
        *(f"{expr} AS {name}" for name, expr in rules.items()),
    ]
    # Keys repeated among the rows that parsed, with their first occurrence: a narrow
    # aggregate (a window partitioned by the key would carry every column through a sort).
    dups = f"SELECT {key}, min(_rn) AS _first FROM l2 WHERE {ok} GROUP BY {key} HAVING count(*) > 1"
    return [
        f"CREATE OR REPLACE TEMP TABLE raw AS SELECT file_index AS _file, * FROM {source}",
        "CREATE OR REPLACE TEMP TABLE checked AS\n"
        f"WITH l1 AS (SELECT {', '.join(l1)} FROM raw),\n"
        f"l2 AS MATERIALIZED (SELECT {', '.join(l2)} FROM l1 {join}),\n"
        f"_dups AS ({dups}),\n"
        f"l3 AS (SELECT {', '.join(l3)} FROM l2 LEFT JOIN _dups USING ({key}))\n"
        f"SELECT *, ({' + '.join(error_rules)}) > 0 AS _rejected FROM l3",
        "DROP TABLE raw",
    ]


def worker(args: argparse.Namespace) -> None:
    """DuckDB side: checks and writes every delivery; writes a JSON result file."""
    import tomllib

    import duckdb

    catalog = tomllib.loads(RULES_TOML.read_text())
    rules = {r["id"]: r for r in catalog["rule"]}
    max_rejected = catalog["max_rejected_share"]
    ref, out = Path(args.ref), Path(args.out)
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    for name in REFERENCE_QUERIES:
        con.execute(f"CREATE TABLE ref_{name} AS SELECT code FROM read_csv({lit(str(ref / (name + '.csv')))}, all_varchar = true)")
    have_sectors = con.execute("SELECT count(*) FROM ref_sector").fetchone()[0] > 0
    # PRV-001 (check.rs `holds_national_number`): 11 digits, possibly with the separators
    # '.', '-', ' ' (at most 15 bytes), with a valid mod-97 check for people born before or
    # from 2000.
    con.execute("""
        CREATE MACRO niss_check(d) AS length(d) = 11 AND (
            97 - TRY_CAST(d[1:9] AS BIGINT) % 97 = TRY_CAST(d[10:11] AS BIGINT)
            OR 97 - (2000000000 + TRY_CAST(d[1:9] AS BIGINT)) % 97 = TRY_CAST(d[10:11] AS BIGINT))
    """)
    con.execute("""
        CREATE MACRO is_niss(v) AS CASE
          WHEN strlen(v) BETWEEN 11 AND 15 AND regexp_full_match(v, '[0-9. -]+')
          THEN niss_check(regexp_replace(v, '[. -]', '', 'g'))
          ELSE false END
    """)
    populations: dict[tuple[str, str], str] = {}  # (insurer, period) -> accepted POPU Parquet
    loaded: dict[tuple[str, str, str], tuple[int, str]] = {}  # (insurer, db, period) -> (sequence, Parquet)
    results = []
    # Seconds per phase, summed over deliveries.
    phases = {"SHA-256 + header (Python)": 0.0, "load CSV.gz": 0.0, "type + check": 0.0, "counts + verdict": 0.0,
              "write Parquet": 0.0}

    def timed(phase: str, t: float) -> float:
        now = time.perf_counter()
        phases[phase] += now - t
        return now
    started = time.perf_counter()
    for d in delivery_dirs(Path(args.deliveries)):
        t0 = time.perf_counter()
        manifest_bytes = (d / "manifest.json").read_bytes()
        man = json.loads(manifest_bytes)
        db, insurer, period = man["database"], man["insurer"], man["period"]
        delivery_id = f"{insurer}-{db}-{period}-{hashlib.sha256(manifest_bytes).hexdigest()[:12]}"
        files = [d / f["name"] for f in man["files"]]
        reasons: list[str] = []
        counts = {r: 0 for r in ROW_RULES}
        rows = accepted = rejected_rows = 0
        tp = time.perf_counter()
        headers: list[list[str]] = []
        # MAN-004 (before reading, as aim): a re-delivery must carry a higher sequence than the
        # delivery in force.
        in_force = loaded.get((insurer, db, period))
        if in_force and man["sequence"] <= in_force[0]:
            reasons.append(f"MAN-004: sequence {man['sequence']} is not newer than the loaded {in_force[0]}")
        else:
            # MAN-002: SHA-256 of the stored bytes (aim hashes while it reads).
            for f, entry in zip(files, man["files"]):
                h = hashlib.sha256()
                with open(f, "rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                if h.hexdigest() != entry["sha256"].lower():
                    reasons.append(f"MAN-002: {f.name} SHA-256 differs from the manifest")
            # FMT-002: the header names every column once and nothing else.
            for f in files:
                try:
                    with gzip.open(f, "rb") if f.suffix == ".gz" else open(f, "rb") as fh:
                        line = fh.readline().decode("utf-8", errors="replace").rstrip("\r\n")
                except (OSError, EOFError) as e:
                    reasons.append(f"FMT-001: {f.name}: cannot read the header: {e}")
                    line = ""
                headers.append([h.strip().lstrip("\ufeff") for h in line.split(";")])
            expected = sorted(c for c, _, _ in SCHEMA[db])
            if any(sorted(h) != expected for h in headers):
                reasons.append("FMT-002: header does not match the data model")
            tp = timed("SHA-256 + header (Python)", tp)
        if not reasons:
            if any(h != headers[0] for h in headers):
                reasons.append("(benchmark) files of one delivery with different column orders are not handled")
        if not reasons:
            population = populations.get((insurer, period))
            load, check, drop = check_sql(db, files, headers[0], insurer, period, delivery_id, population, have_sectors)
            try:
                con.execute(load)
                tp = timed("load CSV.gz", tp)
                con.execute(check)
                con.execute(drop)
                tp = timed("type + check", tp)
            except duckdb.Error as e:  # malformed lines, invalid UTF-8, corrupt gzip
                reasons.append(f"FMT-001/003/004: {str(e).splitlines()[0]}")
            if not reasons:
                agg = con.execute("""
                    SELECT count(*), coalesce(sum(_rejected::INTEGER), 0), coalesce(sum(_insurer_mismatch::INTEGER), 0),
                           coalesce(sum((f_prv001 > 0)::INTEGER), 0),
                           sum(f_sch001), sum(f_sch002), sum(f_cod001), sum(f_cod002), sum(f_cod003), sum(f_cod004),
                           sum(f_dat001), sum(f_dat002), sum(f_dat003), sum(f_amt001), sum(f_dup001), sum(f_pop001),
                           sum(f_man003)
                    FROM checked""").fetchone()
                rows, rejected_rows, mismatch, niss_rows = agg[:4]
                for rule, value in zip(["SCH-001", "SCH-002", "COD-001", "COD-002", "COD-003", "COD-004", "DAT-001",
                                        "DAT-002", "DAT-003", "AMT-001", "DUP-001", "POP-001"], agg[4:16]):
                    counts[rule] = int(value or 0)
                counts["PRV-001"] = int(niss_rows)
                counts["MAN-003"] = int(mismatch)
                per_file = dict(con.execute("SELECT _file, count(*) FROM checked GROUP BY _file").fetchall())
                for k, entry in enumerate(man["files"]):
                    if per_file.get(k, 0) != entry["rows"]:
                        reasons.append(f"MAN-002: {entry['name']} holds {per_file.get(k, 0)} rows, manifest {entry['rows']}")
                if niss_rows:
                    reasons.append(f"PRV-001: {niss_rows} rows hold a raw national number")
                if mismatch:
                    reasons.append(f"MAN-003: {mismatch} rows name another insurer")
                for rule in ROW_RULES:
                    r = rules[rule]
                    if r["scope"] == "row" and r["level"] == "error" and rows and counts[rule] / rows > r.get("threshold", 0.0):
                        reasons.append(f"{rule}: {counts[rule]} failures above the threshold")
                if rows and rejected_rows / rows > max_rejected:
                    reasons.append(f"{rejected_rows} of {rows} rows rejected, above {max_rejected:.0%}")
                if rows == 0:
                    reasons.append("FMT-001: no data row")
                tp = timed("counts + verdict", tp)
        if not reasons:
            target = out / db.lower() / f"insurer={insurer}" / f"period={period}"
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"{delivery_id}.parquet"
            cols = ", ".join(c for c, _, _ in SCHEMA[db]) + ", period, delivery_id"
            con.execute(
                f"COPY (SELECT {cols} FROM checked WHERE NOT _rejected) TO {lit(str(path))} "
                "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
            )
            accepted = rows - rejected_rows
            tp = timed("write Parquet", tp)
            if in_force:  # a re-delivery replaces the delivery in force
                Path(in_force[1]).unlink()
            loaded[(insurer, db, period)] = (man["sequence"], str(path))
            if db == "POPU":
                populations[(insurer, period)] = str(path)
        con.execute("DROP TABLE IF EXISTS checked")
        results.append({
            "delivery_id": delivery_id,
            "database": db,
            "insurer": insurer,
            "period": period,
            "verdict": "rejected" if reasons else ("accepted_with_rejected_rows" if rejected_rows else "accepted"),
            "reasons": reasons,
            "rows_read": int(rows),
            "rows_accepted": int(accepted),
            "rows_rejected": int(rows if reasons else rejected_rows),
            "rule_counts": counts,
            "seconds": time.perf_counter() - t0,
        })
        print(f"{delivery_id}: {rows} rows, {accepted} accepted, {time.perf_counter() - t0:.2f} s", file=sys.stderr, flush=True)
    Path(args.result).write_text(json.dumps({
        "threads": int(threads),
        "duckdb_version": duckdb.__version__,
        "seconds_by_phase": {k: round(v, 2) for k, v in phases.items()},
        "seconds": time.perf_counter() - started,
        "deliveries": results,
    }, indent=1))


# --------------------------------------------------------------------------------------
# Comparing the two sides
# --------------------------------------------------------------------------------------


def aim_rule_counts(wh: Path, delivery_id: str) -> dict[str, int]:
    report = json.loads((wh / "qc" / delivery_id / "report.json").read_text())
    return {r["id"]: int(r["failing_rows"]) for r in report["rules"] if r["id"] in ROW_RULES}


def compare(aim_summary: dict, duck: dict, wh: Path) -> dict:
    """Per delivery: verdicts, accepted rows and failures per rule must match."""
    aim_by_id = {o["delivery_id"]: o for o in aim_summary["outcomes"]}
    duck_by_id = {r["delivery_id"]: r for r in duck["deliveries"]}
    problems = []
    if set(aim_by_id) != set(duck_by_id):
        problems.append(f"different deliveries: {sorted(set(aim_by_id) ^ set(duck_by_id))}")
    rule_failures = {r: [0, 0] for r in ROW_RULES}
    for did in sorted(set(aim_by_id) & set(duck_by_id)):
        a, b = aim_by_id[did], duck_by_id[did]
        if a["rows_accepted"] != b["rows_accepted"]:
            problems.append(f"{did}: aim accepted {a['rows_accepted']} rows, DuckDB {b['rows_accepted']}")
        if (a["verdict"] == "rejected") != (b["verdict"] == "rejected"):
            problems.append(f"{did}: verdict aim {a['verdict']}, DuckDB {b['verdict']}")
        counts = aim_rule_counts(wh, did)
        for rule in ROW_RULES:
            rule_failures[rule][0] += counts.get(rule, 0)
            rule_failures[rule][1] += b["rule_counts"][rule]
            if counts.get(rule, 0) != b["rule_counts"][rule]:
                problems.append(f"{did}: {rule} aim {counts.get(rule, 0)}, DuckDB {b['rule_counts'][rule]}")
    return {
        "deliveries": len(aim_by_id),
        "rows_accepted_aim": sum(o["rows_accepted"] for o in aim_summary["outcomes"]),
        "rows_accepted_duckdb": sum(r["rows_accepted"] for r in duck["deliveries"]),
        "rule_failures_aim_duckdb": {r: v for r, v in rule_failures.items() if v != [0, 0]},
        "problems": problems,
    }


CHECKSUMS = {
    "popu": "count(*) AS n, sum(birth_year) AS s1, count(DISTINCT person_id) AS s2",
    "gzss": "count(*) AS n, sum(amount_reimbursed) AS s1, sum(units) AS s2",
    "faru": "count(*) AS n, sum(amount_reimbursed) AS s1, sum(packages) AS s2",
}


def content_checksums(aim: str, wh: Path, duck_out: Path) -> dict:
    """Row count and two sums per table, from aim's warehouse and from DuckDB's Parquet."""
    import duckdb

    con = duckdb.connect()
    out = {}
    for table, exprs in CHECKSUMS.items():
        a = json.loads(aim_sql(aim, wh, f"SELECT {exprs} FROM {table}"))[0]
        files = str(duck_out / table / "**" / "*.parquet")
        b = con.execute(f"SELECT {exprs} FROM read_parquet({lit(files)}, hive_partitioning = false)").fetchone()
        norm = lambda x: str(round(float(x), 2)) if x is not None else None  # noqa: E731
        out[table] = {
            "aim": [norm(a["n"]), norm(a["s1"]), norm(a["s2"])],
            "duckdb": [norm(b[0]), norm(b[1]), norm(b[2])],
        }
        out[table]["equal"] = out[table]["aim"] == out[table]["duckdb"]
    return out


# aim's per-delivery debug events (AIM_LOG=aim_warehouse=debug), each with the milliseconds
# since the delivery started; the phase is the time since the previous event.
AIM_PHASES = [
    ("population index ready", "population index"),
    ("checked", "read + check + Parquet encode"),
    ("parquet files flushed", "Parquet flush"),
    ("archived", "archive copy"),
    ("committed", "Delta commit"),
    ("report written", "QC report"),
]


def aim_phases(log: str) -> dict[str, float]:
    """Seconds per ingest phase, summed over deliveries, from aim's debug log (empty if the
    binary does not log them)."""
    import re

    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    last: dict[str, int] = {}
    out = {label: 0.0 for _, label in AIM_PHASES}
    for line in plain.splitlines():
        for event, label in AIM_PHASES:
            if f" {event}" in line:
                d, ms = re.search(r"delivery=(\S+)", line), re.search(r"\bms=(\d+)", line)
                if d and ms:
                    out[label] += (int(ms.group(1)) - last.get(d.group(1), 0)) / 1000
                    last[d.group(1)] = int(ms.group(1))
                break
    return {k: round(v, 2) for k, v in out.items()} if last else {}


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def mib(b: int) -> float:
    return round(b / 1024 / 1024, 1)


def markdown_table(res: dict) -> str:
    rows = res["data"]["rows_total"]
    aim_s = res["aim_ingest"]["wall_s"]
    lines = [
        "| tool | wall s | rows/s | peak RSS MiB | CPU s (user+sys) | DuckDB time / aim time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key in [("aim synth (writes the deliveries)", "synth"), ("aim ingest", "aim_ingest"),
                       (f"DuckDB {res['duckdb']['version']} ({res['duckdb']['threads']} threads)", "duckdb")]:
        m = res.get(key)
        if not m:
            continue
        ratio = f"{m['wall_s'] / aim_s:.2f}" if key == "duckdb" else ("1.00" if key == "aim_ingest" else "")
        lines.append(
            f"| {label} | {m['wall_s']:.1f} | {rows / m['wall_s']:,.0f} | {m['peak_rss_mib']:,.0f} | "
            f"{m['user_s'] + m['sys_s']:.1f} | {ratio} |"
        )
    return "\n".join(lines)


def phase_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in phases.items()) or "not logged"


def update_docs(table: str, res: dict) -> None:
    start, end = "<!-- ingest-table:start -->", "<!-- ingest-table:end -->"
    text = DOCS.read_text()
    if start not in text or end not in text:
        sys.exit(f"{DOCS} has no {start} … {end} markers")
    d = res["data"]
    block = (
        f"{start}\n"
        f"{d['persons']:,} persons × {res['years']}, seed {res['seed']}: {d['deliveries']} deliveries, "
        f"{d['rows_total']:,} rows (POPU {d['rows']['POPU']:,}, GZSS {d['rows']['GZSS']:,}, FARU {d['rows']['FARU']:,}), "
        f"{mib(d['bytes_gz_total']):,} MiB of CSV.gz; measured {res['date']} on {res['machine']['nproc']} cores "
        f"({res['machine']['cpu']}), {res['machine']['ram_gib']} GiB RAM; aim at commit {res['aim_commit']}"
        f"{' with uncommitted changes' if res.get('aim_uncommitted') else ''} (`fast` profile).\n\n"
        f"{table}\n\n"
        f"Seconds per phase, summed over the deliveries. aim: {phase_text(res['aim_ingest'].get('seconds_by_phase', {}))}. "
        f"DuckDB: {phase_text(res['duckdb']['seconds_by_phase'])}.\n"
        f"{end}"
    )
    DOCS.write_text(text[: text.index(start)] + block + text[text.index(end) + len(end):])


def driver(args: argparse.Namespace) -> None:
    aim = str((REPO / args.aim).resolve()) if not os.path.isabs(args.aim) else args.aim
    if not Path(aim).exists():
        sys.exit(f"{aim} not found: build it with `cargo build --profile fast -p aim-cli`")
    work = Path(args.work)
    deliveries, wh, duck_out, ref, logs = work / "deliveries", work / "warehouse", work / "duckdb-out", work / "ref", work / "logs"
    if not args.reuse_synth and work.exists():
        shutil.rmtree(work)
    for p in (wh, duck_out, ref):
        if p.exists():
            shutil.rmtree(p)
    logs.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "persons": args.persons,
        "years": args.years,
        "seed": args.seed,
        "defects": args.defects,
        "aim_binary": aim,
        "aim_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        # Files changed since that commit when the binary was measured (outside bench/).
        "aim_uncommitted": [line[3:] for line in subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.splitlines()
            if not line[3:].startswith(("bench/", "docs/benchmarks.md"))],
    }
    m = res["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}")

    # 1. Synthesise.
    if args.reuse_synth and deliveries.exists():
        print(f"reusing the deliveries in {deliveries} (no synth figures)")
    else:
        cmd = [aim, "synth", "--persons", str(args.persons), "--years", args.years, "--seed", str(args.seed),
               "--out", str(deliveries)] + (["--defects"] if args.defects else [])
        print("$", " ".join(cmd), flush=True)
        wait_until_idle(args.wait_idle)
        s = run_measured(cmd, stdout_path=logs / "synth.out")
        check_ok("aim synth", s)
        res["synth"] = asdict(s) | {"stdout": s.stdout.strip(), "stderr": ""}
    data = data_size(deliveries)
    data["persons"] = args.persons
    res["data"] = data
    print(f"data: {args.persons:,} persons, {data['deliveries']} deliveries, {data['rows_total']:,} rows "
          f"(POPU {data['rows']['POPU']:,}, GZSS {data['rows']['GZSS']:,}, FARU {data['rows']['FARU']:,}), "
          f"{mib(data['bytes_gz_total']):,} MiB CSV.gz on disk")
    if "synth" in res:
        s = res["synth"]
        print(f"aim synth: {s['wall_s']:.1f} s, {data['rows_total'] / s['wall_s']:,.0f} rows/s, peak RSS {s['peak_rss_mib']:,.0f} MiB")

    # 2. aim: reference import, then ingest.
    act_as_data_manager(aim, logs / "accounts")
    ref_dir = args.reference or str((REPO / "../shared/data").resolve())
    r = run_measured([aim, "reference", "import", "--warehouse", str(wh), ref_dir], stdout_path=logs / "reference.out")
    check_ok("aim reference import", r)
    res["aim_reference_import"] = asdict(r) | {"stdout": "", "stderr": ""}
    cmd = [aim, "ingest", "--warehouse", str(wh), "--json", str(deliveries)]
    print("$", " ".join(cmd), flush=True)
    wait_until_idle(args.wait_idle)
    g = run_measured(cmd, stdout_path=logs / "ingest.json", env=os.environ | {"AIM_LOG": "aim_warehouse=debug"})
    if not (args.defects and g.exit_code == 3):  # 3: some delivery rejected (expected with --defects)
        check_ok("aim ingest", g)  # 0: nothing rejected
    aim_summary = json.loads(g.stdout)
    res["aim_ingest"] = asdict(g) | {"stdout": "", "stderr": ""}
    by_db = {db: [0.0, 0] for db in DB_ORDER}
    for o in aim_summary["outcomes"]:
        db = o["delivery_id"].split("-")[1]
        by_db[db][0] += o["seconds"]
        by_db[db][1] += o["rows_read"]
    res["aim_ingest"]["seconds_by_database"] = {db: round(v[0], 2) for db, v in by_db.items()}
    res["aim_ingest"]["rows_per_s_by_database"] = {db: round(v[1] / v[0]) if v[0] else None for db, v in by_db.items()}
    res["aim_ingest"]["seconds_by_phase"] = aim_phases(g.stderr)
    res["aim_ingest"]["warehouse_bytes"] = {
        "tables": sum(dir_bytes(wh / "tables" / t) for t in ("popu", "gzss", "faru") if (wh / "tables" / t).exists()),
        "total": dir_bytes(wh),
    }
    print(f"aim ingest: {g.wall_s:.1f} s, {data['rows_total'] / g.wall_s:,.0f} rows/s, peak RSS {g.peak_rss_mib:,.0f} MiB, "
          f"CPU {g.user_s + g.sys_s:.1f} s; per database (s): {res['aim_ingest']['seconds_by_database']}")
    if res["aim_ingest"]["seconds_by_phase"]:
        print(f"aim ingest per phase (s): {res['aim_ingest']['seconds_by_phase']}")

    # 3. DuckDB, with the reference lists aim checked against.
    ref.mkdir(parents=True)
    for name, sql in REFERENCE_QUERIES.items():
        (ref / f"{name}.csv").write_text(aim_sql(aim, wh, sql, "csv"))
    duck_result = work / "duckdb-result.json"
    cmd = [sys.executable, __file__, "--worker", "--deliveries", str(deliveries), "--ref", str(ref),
           "--out", str(duck_out), "--result", str(duck_result), "--threads", str(args.threads)]
    print("$ duckdb worker", flush=True)
    wait_until_idle(args.wait_idle)
    b = run_measured(cmd, stdout_path=logs / "duckdb.out")
    check_ok("DuckDB worker", b)
    duck = json.loads(duck_result.read_text())
    res["duckdb"] = asdict(b) | {"stdout": "", "stderr": "", "version": duck["duckdb_version"], "threads": duck["threads"],
                                 "seconds_by_phase": duck["seconds_by_phase"], "output_bytes": dir_bytes(duck_out)}
    by_db = {db: 0.0 for db in DB_ORDER}
    for r_ in duck["deliveries"]:
        by_db[r_["database"]] += r_["seconds"]
    res["duckdb"]["seconds_by_database"] = {db: round(v, 2) for db, v in by_db.items()}
    print(f"DuckDB: {b.wall_s:.1f} s, {data['rows_total'] / b.wall_s:,.0f} rows/s, peak RSS {b.peak_rss_mib:,.0f} MiB, "
          f"CPU {b.user_s + b.sys_s:.1f} s; per database (s): {res['duckdb']['seconds_by_database']}")
    print(f"DuckDB per phase (s): {duck['seconds_by_phase']}")

    # 4. Same result?
    cmp_ = compare(aim_summary, duck, wh)
    cmp_["content"] = content_checksums(aim, wh, duck_out)
    res["comparison"] = cmp_
    print(f"accepted rows: aim {cmp_['rows_accepted_aim']:,}, DuckDB {cmp_['rows_accepted_duckdb']:,}; "
          f"rule failures (aim, DuckDB): {cmp_['rule_failures_aim_duckdb'] or 'none'}; "
          f"content checksums equal: {all(v['equal'] for v in cmp_['content'].values())}")

    # 5. Results.
    table = markdown_table(res)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"ingest-{res['date']}"
    if args.persons < 1_000_000 or args.defects:
        stem = stem.with_name(f"{stem.name}-{args.persons}{'-defects' if args.defects else ''}")
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1) + "\n")
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"\nsaved {stem.with_suffix('.json').relative_to(REPO)} and .md")
    if args.update_docs:
        update_docs(table, res)
        print(f"updated {DOCS.relative_to(REPO)}")
    if not args.keep:
        shutil.rmtree(work)
    failed = cmp_["problems"] or cmp_["rows_accepted_aim"] != cmp_["rows_accepted_duckdb"] \
        or not all(v["equal"] for v in cmp_["content"].values())
    if failed:
        print("\n".join(cmp_["problems"][:20]), file=sys.stderr)
    assert cmp_["rows_accepted_aim"] == cmp_["rows_accepted_duckdb"], "DuckDB and aim accepted different row counts"
    assert not failed, "DuckDB and aim disagree (see above)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--persons", type=int, default=20_000, help="synthetic persons (default 20000: a quick try)")
    p.add_argument("--years", default="2024", help="years to synthesise, e.g. 2024 or 2023-2024")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--aim", default="target/fast/aim", help="the aim binary (relative to the repository)")
    p.add_argument("--work", default="/tmp/aim-bench", help="work folder (deleted first, and at the end unless --keep)")
    p.add_argument("--reference", help="reference data folder (default ../shared/data)")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default 0: DuckDB's default, all cores)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each measured run, wait up to SECONDS for the machine to be idle")
    p.add_argument("--defects", action="store_true",
                   help="validation: synthesise with --defects and check that DuckDB finds the same failures as aim")
    p.add_argument("--reuse-synth", action="store_true", help="reuse the deliveries of a kept work folder")
    p.add_argument("--update-docs", action="store_true", help="replace the table in docs/benchmarks.md")
    # Internal: the DuckDB worker process.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--deliveries", help=argparse.SUPPRESS)
    p.add_argument("--ref", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
