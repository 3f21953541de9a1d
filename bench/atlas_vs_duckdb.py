#!/usr/bin/env python3
"""Atlas benchmark: `aim atlas build` against the same computation in DuckDB SQL, and the
web server's map data endpoint under load.

Run from the repository root (the `aim` binary is built with
`cargo build --profile fast -p aim-cli`; AIM_BIN or --aim overrides it):

    .venv/bin/python bench/atlas_vs_duckdb.py --persons 20000               # quick try
    .venv/bin/python bench/atlas_vs_duckdb.py                               # 1,000,000 persons, 2023-2024
    .venv/bin/python bench/atlas_vs_duckdb.py --warehouse WH                # an existing built warehouse

Method
------
1. Warehouse: `aim synth --persons N --years Y --seed S`, `aim reference import`, `aim ingest`,
   `aim build` into a work folder outside the repository (default /tmp/aim-atlas-bench,
   deleted at the end unless --keep), or an existing warehouse with PATI (--warehouse; it is
   never deleted, but its WH/atlas/ is rewritten). Not part of the comparison.
2. aim: `aim atlas build --warehouse WH`: every indicator of
   crates/atlas/indicators/ × year × level (565 municipalities of 2025, 43 districts,
   provinces, 3 regions, Belgium) × sex (F, M, all) × age group (5 + all; all ages only
   with --no-age-groups here, passed to aim, on both sides): persons, numerator, crude rate
   with its 95 % interval,
   direct age–sex standardised rate with its interval (all ages), comparison with Belgium;
   the counts go through the disclosure gate (primary and secondary suppression and the LP
   audit, population policy) before anything is written (WH/atlas/figures.csv,
   manifest.json). It runs under a pseudo-terminal so that its progress bar ("gating …
   n/N tables") is drawn; the times at which the bar moves give the gating phase (from the
   first to the last table gated, extrapolated by one table) and so the gate's share.
3. DuckDB: the same figures in SQL (this script with --worker, a separate process, all cores
   unless --threads), reading PATI's current Parquet files (from the Delta log, with
   read_parquet): one scan of PATI aggregates every indicator's numerator / value and
   denominator (the definitions' SQL, evaluated by DuckDB) by year, 2025 municipality, sex
   and age; a join with the reference geography and GROUPING SETS give every level × sex ×
   age group; Wilson and mean intervals; the standardised rate from the strata (18 bands ×
   sex) and the Belgian population of the year or the latest published before it, restricted
   to the indicator's ages; Belgium's comparison; the result is written to a zstd Parquet
   file. DuckDB applies NO disclosure gate (it has none): it computes every combination that
   has persons, so it does strictly less work than aim.
4. Checks: every figure aim released is looked up in DuckDB's result: persons exactly, the
   numerator, rates and intervals within 1e-4 (aim's CSV has 4 decimals) or 1e-6 relative,
   vs_belgium equal unless Belgium's value lies within 1e-9 of a bound. Mismatches are
   listed (and make the script exit non-zero); a sample of released figures side by side goes
   into the report.
5. Server (when the binary has `aim serve`): started on a free localhost port; after one
   checked request, `wrk -t2 -c16 -d10s --latency` loads the map's data endpoint
   /api/figures/<indicator>?year=<last year>&level=municipality&sex=all&age=all: requests/s,
   p50/p90/p99 latency, errors. wrk (Debian package `wrk`) is installed with apt-get when
   missing, unless --no-install. wrk and the server share the machine's cores.
6. Each measured tool runs as a child process: wall time around it, peak RSS and CPU time
   from its own rusage (os.wait4); --wait-idle waits for an idle machine before each run;
   the CPU time the rest of the machine used meanwhile is recorded (other_cpu_s).
7. Results: printed, saved to bench/results/atlas-<date>-<persons>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import pty
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tomllib
import urllib.request
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_vs_duckdb import (  # noqa: E402
    Measure,
    act_as_data_manager,
    check_ok,
    cpu_jiffies,
    data_size,
    dir_bytes,
    machine,
    run_measured,
    wait_until_idle,
)

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench/results"
INDICATORS = REPO / "crates/atlas/indicators"
Z95 = 1.959963984540054
FACTOR = {"percent": 100.0, "per_1000": 1000.0, "euro": 1.0}


def parse_years(spec: str) -> list[int]:
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(y) for y in spec.split(",")]


def lit(s) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def load_indicators() -> list[dict]:
    return [tomllib.loads(p.read_text()) for p in sorted(INDICATORS.glob("*.toml"))]


# --------------------------------------------------------------------------------------
# The DuckDB side (worker process)
# --------------------------------------------------------------------------------------


def duckdb_atlas(con, warehouse: Path, reference: Path, out: Path, age_groups: bool = True) -> dict:
    """Every figure (no gate) into out/figures.parquet, by age group too with `age_groups`;
    returns seconds per step and counts."""
    import derive_duckdb as dd

    seconds: dict[str, float] = {}
    t = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[name] = round(seconds.get(name, 0.0) + now - t, 3)
        t = now

    inds = load_indicators()
    files = dd.delta_files(warehouse / "tables" / "pati")
    con.execute(f"CREATE TEMP VIEW pati AS SELECT * REPLACE (CAST(year AS INTEGER) AS year) "
                f"FROM {dd.parquet_relation(files, ['year'])}")
    # Indicators, geography, standard population.
    con.execute("CREATE TEMP TABLE ind (indicator VARCHAR, kind VARCHAR, lo INTEGER, hi INTEGER, factor DOUBLE)")
    con.executemany("INSERT INTO ind VALUES (?, ?, ?, ?, ?)",
                    [(i["id"], i["kind"], i["age_min"], i["age_max"], FACTOR[i["unit"]]) for i in inds])
    con.execute(f"""CREATE TEMP TABLE geo AS
        SELECT id AS m, substr(id, 1, 2) || '000' AS district, province, region
        FROM read_json({lit(reference / 'municipalities-2025.json')})""")
    con.execute(f"""CREATE TEMP TABLE pop AS
        SELECT year AS py, sex, age, sum(population)::DOUBLE AS p
        FROM read_csv({lit(reference / 'population-region-sex-age-2006-2021.csv')}) GROUP BY ALL""")
    step("setup")

    # 1. One scan of PATI: every indicator's persons, sum and sum of squares by year,
    #    municipality, sex and single year of age.
    cols = []
    for k, i in enumerate(inds):
        cond = f"({i['denominator']}) AND age BETWEEN {i['age_min']} AND {i['age_max']}"
        x = (f"CASE WHEN ({i['numerator']}) THEN 1.0 ELSE 0.0 END" if i["kind"] == "proportion"
             else f"CAST(coalesce(({i['value']}), 0) AS DOUBLE)")
        cols += [f"count(*) FILTER (WHERE {cond}) AS n{k}", f"sum({x}) FILTER (WHERE {cond}) AS s{k}",
                 f"sum(({x}) * ({x})) FILTER (WHERE {cond}) AS ss{k}"]
    con.execute(f"""CREATE TEMP TABLE wide AS
        SELECT year, municipality_2025 AS m, sex, age, {', '.join(cols)} FROM pati GROUP BY ALL""")
    con.execute("CREATE TEMP TABLE leaf AS " + " UNION ALL ".join(
        f"SELECT {lit(i['id'])} AS indicator, year, m, sex, age, n{k} AS n, coalesce(s{k}, 0) AS s, "
        f"coalesce(ss{k}, 0) AS ss FROM wide WHERE n{k} > 0" for k, i in enumerate(inds)))
    step("scan PATI and aggregate")

    # 2. Areas: each leaf in its municipality, district, province, region and Belgium.
    con.execute("""CREATE TEMP TABLE leaf_area AS
        SELECT l.indicator, l.year, lv.level,
               CASE lv.level WHEN 'municipality' THEN g.m WHEN 'district' THEN g.district
                             WHEN 'province' THEN g.province WHEN 'region' THEN g.region ELSE 'BE' END AS area,
               l.sex,
               CASE WHEN l.age <= 17 THEN '0-17' WHEN l.age <= 44 THEN '18-44' WHEN l.age <= 64 THEN '45-64'
                    WHEN l.age <= 74 THEN '65-74' ELSE '75+' END AS grp,
               least(l.age // 5, 17) AS band, l.n, l.s, l.ss
        FROM leaf l JOIN geo g ON l.m = g.m
        CROSS JOIN (VALUES ('municipality'), ('district'), ('province'), ('region'), ('belgium')) lv(level)""")
    # Persons whose municipality is not in the 2025 list count nowhere (as in aim).
    lost = con.execute("SELECT count(*) FROM leaf WHERE m IS NULL OR m NOT IN (SELECT m FROM geo)").fetchone()[0]
    if age_groups:
        age_col = "CASE WHEN grouping(grp) = 1 THEN 'all' ELSE grp END"
        sets = ("(indicator, year, level, area, sex, grp), (indicator, year, level, area, sex), "
                "(indicator, year, level, area, grp), (indicator, year, level, area)")
    else:
        age_col = "'all'"
        sets = "(indicator, year, level, area, sex), (indicator, year, level, area)"
    con.execute(f"""CREATE TEMP TABLE cells AS
        SELECT indicator, year, level, area,
               CASE WHEN grouping(sex) = 1 THEN 'all' ELSE sex END AS sex, {age_col} AS age_group,
               sum(n)::BIGINT AS n, sum(s) AS s, sum(ss) AS ss
        FROM leaf_area GROUP BY GROUPING SETS ({sets})""")
    step("areas × sex × age group")

    # 3. Direct standardisation (all ages): strata 18 bands × sex, weights from the Belgian
    #    population of the year (or the latest published before it) within the ages.
    con.execute("""CREATE TEMP TABLE std_year AS
        SELECT y.year, coalesce(max(p.py) FILTER (WHERE p.py <= y.year), min(p.py)) AS used
        FROM (SELECT DISTINCT year FROM leaf) y, (SELECT DISTINCT py FROM pop) p GROUP BY y.year""")
    con.execute("""CREATE TEMP TABLE weights AS
        SELECT i.indicator, u.year, p.sex, least(p.age // 5, 17) AS band, sum(p.p) AS w
        FROM ind i CROSS JOIN std_year u JOIN pop p ON p.py = u.used AND p.age BETWEEN i.lo AND i.hi
        GROUP BY ALL""")
    con.execute(f"""CREATE TEMP TABLE std AS
        WITH strata AS (
            SELECT indicator, year, level, area, sex, band, sum(n) AS n, sum(s) AS s, sum(ss) AS ss
            FROM leaf_area GROUP BY ALL),
        j AS (
            SELECT st.*, fs.fsex, w.w, i.kind, st.s / st.n AS r
            FROM strata st CROSS JOIN (SELECT unnest(['own', 'all']) AS fsex) fs
            JOIN weights w USING (indicator, year, sex, band) JOIN ind i USING (indicator)),
        k AS (
            SELECT indicator, year, level, area, CASE fsex WHEN 'own' THEN sex ELSE 'all' END AS sex, kind, r,
                   w / sum(w) OVER (PARTITION BY indicator, year, level, area, fsex,
                                    CASE fsex WHEN 'own' THEN sex ELSE 'all' END) AS wt,
                   CASE WHEN kind = 'proportion' THEN r * (1 - r) / n
                        WHEN n >= 2 THEN greatest((ss - s * s / n) / (n - 1), 0) / n ELSE 0 END AS var
            FROM j)
        SELECT indicator, year, level, area, sex, 'all' AS age_group, any_value(kind) AS kind,
               sum(wt * r) AS v, {Z95} * sqrt(sum(wt * wt * var)) AS half
        FROM k GROUP BY indicator, year, level, area, sex""")
    step("standardise")

    # 4. Rates, intervals, comparison with Belgium, written to Parquet.
    con.execute(f"""CREATE TEMP TABLE fig AS
        WITH c AS (
            SELECT c.*, i.kind, i.factor, c.s / c.n AS p, {Z95} * {Z95} AS z2,
                   CASE WHEN c.n >= 2 THEN greatest((c.ss - c.s * c.s / c.n) / (c.n - 1), 0) ELSE 0 END AS s2
            FROM cells c JOIN ind i USING (indicator)),
        crude AS (
            SELECT *, CASE WHEN kind = 'proportion' THEN
                          greatest(0, (p + z2 / (2 * n)) / (1 + z2 / n)
                                      - {Z95} / (1 + z2 / n) * sqrt(p * (1 - p) / n + z2 / (4 * n * n)))
                          ELSE p - {Z95} * sqrt(s2 / n) END AS lo,
                      CASE WHEN kind = 'proportion' THEN
                          least(1, (p + z2 / (2 * n)) / (1 + z2 / n)
                                   + {Z95} / (1 + z2 / n) * sqrt(p * (1 - p) / n + z2 / (4 * n * n)))
                          ELSE p + {Z95} * sqrt(s2 / n) END AS hi
            FROM c),
        f AS (
            SELECT cr.indicator, cr.year, cr.level, cr.area, cr.sex, cr.age_group, cr.n AS persons,
                   cr.s AS numerator, cr.factor, cr.kind, cr.p, cr.lo, cr.hi, st.v AS sv,
                   -- (greatest/least skip NULLs: no standardised rate outside all ages)
                   CASE WHEN st.v IS NULL THEN NULL WHEN cr.kind = 'proportion' THEN greatest(0, st.v - st.half)
                        ELSE st.v - st.half END AS slo,
                   CASE WHEN st.v IS NULL THEN NULL WHEN cr.kind = 'proportion' THEN least(1, st.v + st.half)
                        ELSE st.v + st.half END AS shi
            FROM crude cr LEFT JOIN std st USING (indicator, year, level, area, sex, age_group)),
        r AS (
            SELECT *, CASE WHEN age_group = 'all' THEN sv ELSE p END AS rv,
                      CASE WHEN age_group = 'all' THEN slo ELSE lo END AS rlo,
                      CASE WHEN age_group = 'all' THEN shi ELSE hi END AS rhi
            FROM f)
        SELECT a.indicator, a.year, a.level, a.area, a.sex, a.age_group, a.persons, a.numerator,
               a.p * a.factor AS crude, a.lo * a.factor AS crude_low, a.hi * a.factor AS crude_high,
               a.sv * a.factor AS standardised, a.slo * a.factor AS standardised_low,
               a.shi * a.factor AS standardised_high,
               CASE WHEN a.level = 'belgium' OR b.rv IS NULL OR a.rv IS NULL THEN NULL
                    WHEN b.rv < a.rlo THEN 'higher' WHEN b.rv > a.rhi THEN 'lower' ELSE 'similar' END AS vs_belgium,
               least(abs(b.rv - a.rlo), abs(b.rv - a.rhi)) < 1e-9 AS vs_ambiguous
        FROM r a LEFT JOIN r b ON b.level = 'belgium' AND b.indicator = a.indicator AND b.year = a.year
                               AND b.sex = a.sex AND b.age_group = a.age_group""")
    step("rates and intervals")
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY fig TO {lit(out / 'figures.parquet')} (FORMAT parquet, COMPRESSION zstd)")
    step("write Parquet")
    counts = {
        "pati_rows": con.execute("SELECT count(*) FROM pati").fetchone()[0],
        "pati_files": len(files),
        "leaves": con.execute("SELECT count(*) FROM leaf").fetchone()[0],
        "figures": con.execute("SELECT count(*) FROM fig").fetchone()[0],
        "persons_without_municipality_rows": lost,
        "standard_population_year": dict(con.execute("SELECT year, used FROM std_year ORDER BY year").fetchall()),
    }
    return {"seconds": seconds, "counts": counts}


def worker(args: argparse.Namespace) -> None:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    res = duckdb_atlas(con, Path(args.warehouse), Path(args.reference), Path(args.out), not args.no_age_groups)
    Path(args.result).write_text(json.dumps({
        "duckdb_version": duckdb.__version__,
        "threads": int(threads),
        "seconds_total": time.perf_counter() - started,
        **res,
    }, indent=1, default=str))


# --------------------------------------------------------------------------------------
# aim atlas build under a pseudo-terminal (for its progress bar)
# --------------------------------------------------------------------------------------


def run_with_progress(cmd: list[str], stdout_path: Path,
                      timeout: float = 0) -> tuple[Measure, list[tuple[float, str]], bool]:
    """Like run_measured, with stderr on a pseudo-terminal: returns the measure, the
    (seconds since start, text) chunks the program drew there, and whether it was stopped
    after `timeout` seconds (0: no limit)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    chunks: list[tuple[float, str]] = []
    tick = os.sysconf("SC_CLK_TCK")
    with open(stdout_path, "wb") as out:
        busy0, _ = cpu_jiffies()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=slave, stdin=subprocess.DEVNULL,
                                env=os.environ | {"TERM": os.environ.get("TERM", "xterm")})
        os.close(slave)

        def read() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append((time.perf_counter() - start, data.decode(errors="replace")))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        timed_out = False
        if timeout:
            def stop() -> None:
                nonlocal timed_out
                timed_out = True
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            timer = threading.Timer(timeout, stop)
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        if timeout:
            timer.cancel()
        wall = time.perf_counter() - start
        busy1, _ = cpu_jiffies()
        reader.join(timeout=5)
        os.close(master)
    own = usage.ru_utime + usage.ru_stime
    text = "".join(c for _, c in chunks)
    m = Measure(wall_s=wall, peak_rss_mib=usage.ru_maxrss / 1024, user_s=usage.ru_utime, sys_s=usage.ru_stime,
                other_cpu_s=round(max(0.0, (busy1 - busy0) / tick - own), 1),
                exit_code=os.waitstatus_to_exitcode(status), stdout=stdout_path.read_text(errors="replace"),
                stderr=re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)[-4000:])
    if m.other_cpu_s > 0.1 * wall + 1:
        print(f"warning: other processes used {m.other_cpu_s:.1f} CPU s during this {wall:.1f} s run", flush=True)
    return m, chunks, timed_out


def gate_phase(chunks: list[tuple[float, str]], wall: float) -> dict:
    """The gating phase from the progress bar: the first and last time a 'n/N tables' was
    drawn (the last draw is the bar's clearing, when the last table is done)."""
    marks = [(t, int(m.group(1)), int(m.group(2))) for t, c in chunks
             for m in re.finditer(r"(\d+)/(\d+) tables", c)]
    marks = [x for x in marks if x[2] > 0 and x[1] > 0]
    if not marks:
        return {}
    total = marks[-1][2]
    first = marks[0][0]
    end = max(t for t, _ in chunks)  # finish_and_clear: after the last table
    span = end - first
    # The first draw comes when the first table is done: add one table's share.
    gating = span * total / max(total - 1, 1) if total > 1 else span
    return {"tables": total, "first_table_done_s": round(first, 3), "last_table_done_s": round(end, 3),
            "gating_s_estimate": round(gating, 3), "before_gating_s_estimate": round(max(end - gating, 0), 3),
            "after_gating_s": round(wall - end, 3), "gate_share": round(gating / wall, 3)}


# --------------------------------------------------------------------------------------
# Comparing aim's released figures with DuckDB's
# --------------------------------------------------------------------------------------

NUM_COLS = ["numerator", "crude", "crude_low", "crude_high", "standardised", "standardised_low", "standardised_high"]


def compare(wh: Path, duck_out: Path, sample_size: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""CREATE TEMP TABLE aim AS SELECT * FROM read_csv({lit(wh / 'atlas' / 'figures.csv')},
                    all_varchar = true, header = true)""")
    con.execute(f"CREATE TEMP TABLE duck AS SELECT * FROM read_parquet({lit(duck_out / 'figures.parquet')})")
    key = "a.indicator = d.indicator AND a.year::INTEGER = d.year AND a.level = d.level AND a.area = d.area " \
          "AND a.sex = d.sex AND a.age_group = d.age_group"
    total, released = con.execute("SELECT count(*), count(*) FILTER (WHERE released = 'true') FROM aim").fetchone()
    con.execute(f"""CREATE TEMP TABLE j AS SELECT a.*, d.persons AS d_persons,
        {', '.join(f'd.{c} AS d_{c}' for c in NUM_COLS)}, d.vs_belgium AS d_vs_belgium, d.vs_ambiguous,
        d.indicator IS NOT NULL AS found
        FROM aim a LEFT JOIN duck d ON {key} WHERE a.released = 'true'""")
    problems = []
    missing = con.execute("SELECT count(*) FROM j WHERE NOT found AND persons::BIGINT > 0").fetchone()[0]
    if missing:
        problems.append(f"{missing} released figures with persons are missing from DuckDB's result")
    mismatches = {}
    checks = {"persons": "persons::BIGINT IS DISTINCT FROM d_persons"}
    for c in NUM_COLS:
        checks[c] = (f"(NULLIF({c}, '') IS NULL) <> (d_{c} IS NULL) OR abs({c}::DOUBLE - d_{c}) > "
                     f"greatest(1e-4, 1e-6 * abs(d_{c}))")
    checks["vs_belgium"] = "NOT coalesce(vs_ambiguous, false) AND NULLIF(vs_belgium, '') IS DISTINCT FROM d_vs_belgium"
    for c, cond in checks.items():
        n = con.execute(f"SELECT count(*) FROM j WHERE found AND ({cond})").fetchone()[0]
        mismatches[c] = n
        if n:
            ex = con.execute(f"""SELECT indicator, year, level, area, sex, age_group, {c}::VARCHAR,
                                 d_{c}::VARCHAR FROM j WHERE found AND ({cond}) LIMIT 5""").fetchall()
            problems.append(f"{c}: {n} released figures differ, e.g. " +
                            "; ".join(f"{e[:6]} aim {e[6]} DuckDB {e[7]}" for e in ex))
    sample = con.execute(f"""SELECT indicator, year, level, area, sex, age_group, persons, d_persons,
                             crude, round(d_crude, 4), standardised, round(d_standardised, 4),
                             vs_belgium, d_vs_belgium
                             FROM j WHERE found USING SAMPLE reservoir({sample_size} ROWS) REPEATABLE (7)
                             ORDER BY ALL""").fetchall()
    duck_total = con.execute("SELECT count(*) FROM duck").fetchone()[0]
    return {
        "aim_figures": total, "aim_released": released, "duckdb_figures": duck_total,
        "released_compared": con.execute("SELECT count(*) FROM j WHERE found").fetchone()[0],
        "mismatches": mismatches, "problems": problems,
        "sample": [[str(x) if x is not None else "" for x in row] for row in sample],
    }


# --------------------------------------------------------------------------------------
# The server under load
# --------------------------------------------------------------------------------------


def ensure_wrk(install: bool) -> str | None:
    path = shutil.which("wrk")
    if path or not install:
        return path
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("installing wrk (apt-get install wrk)", flush=True)
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        r = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, env=env)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, env=env)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def to_ms(v: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v)
    if not m:
        raise ValueError(v)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def parse_wrk(text: str) -> dict:
    out: dict = {"latency_ms": {}}
    for p, v in re.findall(r"^\s+(50|75|90|99)(?:\.\d+)?%\s+(\S+)", text, re.M):
        out["latency_ms"][f"p{p}"] = round(to_ms(v), 3)
    if m := re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M):
        out["latency_ms"]["mean"] = round(to_ms(m.group(1)), 3)
        out["latency_ms"]["max"] = round(to_ms(m.group(3)), 3)
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", text):
        out["requests"] = int(m.group(1))
    if m := re.search(r"Requests/sec:\s+([\d.]+)", text):
        out["requests_per_s"] = float(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else ""
    return out


def bench_server(aim: str, wh: Path, reference: str, years: list[int], args: argparse.Namespace, logs: Path) -> dict:
    if subprocess.run([aim, "serve", "--help"], capture_output=True).returncode != 0:
        return {"skipped": f"{aim} has no `serve` command"}
    wrk = ensure_wrk(not args.no_install)
    if not wrk:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    ind = args.endpoint_indicator or load_indicators()[0]["id"]
    port = free_port()
    path = f"/api/figures/{ind}?year={max(years)}&level=municipality&sex=all&age=all"
    url = f"http://127.0.0.1:{port}{path}"
    cmd = [aim, "serve", "--warehouse", str(wh), "--port", str(port), "--host", "127.0.0.1", "--reference", reference]
    print("$", " ".join(cmd), flush=True)
    log = open(logs / "serve.out", "wb")
    started = time.perf_counter()
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    res: dict = {"url_path": path, "command": " ".join(cmd[1:2] + cmd[4:8])}
    try:
        body = None
        while time.perf_counter() - started < args.server_start_timeout:
            if server.poll() is not None:
                return {"skipped": f"aim serve exited with {server.returncode}: "
                                   f"{(logs / 'serve.out').read_text(errors='replace')[-2000:]}"}
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    body = r.read()
                    res["status"] = r.status
                    res["content_type"] = r.headers.get("content-type", "")
                break
            except OSError:
                time.sleep(0.2)
        if body is None:
            return {"skipped": f"aim serve did not answer {path} within {args.server_start_timeout} s"}
        res["ready_after_s"] = round(time.perf_counter() - started, 2)
        res["response_bytes"] = len(body)
        try:
            doc = json.loads(body)
            res["response_json_keys"] = sorted(doc)[:20] if isinstance(doc, dict) else f"list of {len(doc)}"
        except ValueError:
            res["response_json_keys"] = "not JSON"
        wait_until_idle(args.wait_idle)
        wcmd = [wrk, f"-t{args.wrk_threads}", f"-c{args.wrk_connections}", f"-d{args.wrk_seconds}s", "--latency", url]
        print("$", " ".join(wcmd), flush=True)
        busy0, _ = cpu_jiffies()
        r = subprocess.run(wcmd, capture_output=True, text=True)
        (logs / "wrk.out").write_text(r.stdout + r.stderr)
        res["wrk_command"] = " ".join(["wrk"] + wcmd[1:-1])
        res["wrk"] = parse_wrk(r.stdout)
        res["wrk_exit_code"] = r.returncode
        try:
            status = Path(f"/proc/{server.pid}/status").read_text()
            res["server_peak_rss_mib"] = round(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024, 1)
            stat = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
            tick = os.sysconf("SC_CLK_TCK")
            res["server_cpu_s"] = round((int(stat[11]) + int(stat[12])) / tick, 2)
        except (OSError, AttributeError):
            pass
        busy1, _ = cpu_jiffies()
        res["machine_cpu_s_during_load"] = round((busy1 - busy0) / os.sysconf("SC_CLK_TCK"), 1)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    return res


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def markdown(res: dict) -> str:
    rows = res["outputs"]["pati_rows"]
    a = res["aim_atlas"]
    aim_s = a["wall_s"]
    cmp_ = res["comparison"]
    done = not a.get("timed_out")
    lines = [
        f"{res['data']['persons']:,} persons × {res['years']} ({rows:,} PATI rows), {res['outputs']['indicators']} indicators "
        f"× years × levels × sexes{' × age groups' if res.get('age_groups') else ' (all ages only: --no-age-groups)'}; "
        f"measured {res['date']} on {res['machine']['nproc']} cores ({res['machine']['cpu']}), "
        f"{res['machine']['ram_gib']} GiB RAM; aim at commit {res['aim_commit']}"
        f"{' with uncommitted changes' if res.get('aim_uncommitted') else ''} (`{res['aim_profile']}` build).",
        "",
        "| tool | wall s | PATI rows/s | figures | peak RSS MiB | CPU s (user+sys) | time / aim time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    duck_label = f"DuckDB {res['duckdb']['version']} SQL, {res['duckdb']['threads']} threads (no gate)"
    aim_figs = (f"{cmp_['aim_figures']:,} ({cmp_['aim_released']:,} released)" if done
                else f"stopped after {aim_s:.0f} s: {a.get('tables_done_at_timeout')} tables gated")
    duck_figs = f"{cmp_['duckdb_figures']:,}" if done else f"{res['duckdb']['counts']['figures']:,}"
    for label, key, figs in [("aim atlas build (with the disclosure gate)", "aim_atlas", aim_figs),
                             (duck_label, "duckdb", duck_figs)]:
        m = res[key]
        ratio = f"{m['wall_s'] / aim_s:.2f}" if done else ("< " + f"{m['wall_s'] / aim_s:.3f}" if key == "duckdb" else "")
        lines.append(f"| {label} | {m['wall_s']:.1f}{'' if done or key == 'duckdb' else ' (stopped)'} | "
                     f"{rows / m['wall_s']:,.0f} | {figs} | {m['peak_rss_mib']:,.0f} | "
                     f"{m['user_s'] + m['sys_s']:.1f} | {ratio} |")
    g = a.get("gate_phase") or {}
    lines.append("")
    if g and done:
        lines.append(f"aim's gating phase (disclosure gate of {g['tables']} tables, and the figures of their released "
                     f"cells), from its progress bar: ≈ {g['gating_s_estimate']:.1f} s of {aim_s:.1f} s "
                     f"(**{g['gate_share']:.0%}**); before it (reading PATI, the {res['outputs']['indicators']} "
                     f"aggregation queries) ≈ {g['before_gating_s_estimate']:.1f} s; after it (writing the files) "
                     f"{g['after_gating_s']:.1f} s. Gate: {a['gate']['cells']:,} cells, {a['gate']['primary']:,} small, "
                     f"{a['gate']['secondary']:,} more hidden to protect them.")
    elif g:
        lines.append(f"aim was still gating when stopped: first table gated after {g['first_table_done_s']:.0f} s.")
    else:
        lines.append("aim's gating phase: not measured (no progress bar seen).")
    steps = ", ".join(f"{k} {v:.2f}" for k, v in res["duckdb"]["seconds_by_step"].items())
    lines.append(f"DuckDB seconds per step: {steps}. DuckDB applies no disclosure gate and keeps every figure.")
    if done:
        mm = {k: v for k, v in cmp_["mismatches"].items() if v}
        lines.append(f"Check: {cmp_['released_compared']:,} released figures of aim compared with DuckDB's "
                     f"(persons exact; numerator, crude and standardised rates and intervals within 1e-4 or 1e-6 "
                     f"relative; vs_belgium): {'**all equal**' if not cmp_['problems'] else 'mismatches ' + json.dumps(mm)}.")
    s = res.get("server", {})
    lines.append("")
    if "wrk" in s:
        w = s["wrk"]
        lat = w["latency_ms"]
        lines.append(f"Server: `aim serve`, `{s['wrk_command']}` on `{s['url_path']}` "
                     f"({s['response_bytes']:,} bytes a response): **{w.get('requests_per_s', 0):,.0f} requests/s**, "
                     f"latency p50 {lat.get('p50', float('nan')):.2f} ms, p90 {lat.get('p90', float('nan')):.2f} ms, "
                     f"**p99 {lat.get('p99', float('nan')):.2f} ms**, max {lat.get('max', float('nan')):.1f} ms; "
                     f"{w.get('requests', 0):,} requests, {w['non_2xx']} not 2xx"
                     f"{', socket errors ' + w['socket_errors'] if w['socket_errors'] else ''}; server peak RSS "
                     f"{s.get('server_peak_rss_mib', 0):,.0f} MiB, ready {s['ready_after_s']} s after start. "
                     "wrk runs on the same cores as the server.")
    else:
        lines.append(f"Server: not measured ({s.get('skipped', 'unknown reason')}).")
    if done and cmp_.get("sample"):
        lines += ["", "Sample of released figures (aim \\| DuckDB):", "",
                  "| indicator | year | level | area | sex | age | persons | crude | standardised | vs_belgium |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in cmp_["sample"]:
            lines.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} \\| {r[7]} | {r[8]} \\| {r[9]} | "
                         f"{r[10]} \\| {r[11]} | {r[12]} \\| {r[13]} |")
    return "\n".join(lines)


def driver(args: argparse.Namespace) -> None:
    aim = os.environ.get("AIM_BIN") or args.aim
    aim = aim if os.path.isabs(aim) else str((REPO / aim).resolve())
    if not Path(aim).exists():
        sys.exit(f"{aim} not found: build it with `cargo build --profile fast -p aim-cli` (or set AIM_BIN / --aim)")
    if subprocess.run([aim, "atlas", "build", "--help"], capture_output=True).returncode != 0:
        sys.exit(f"{aim} has no `atlas build` command: rebuild it (`cargo build --profile fast -p aim-cli`)")
    years = parse_years(args.years)
    reference = args.reference or str((REPO / "../shared/data").resolve())
    work = Path(args.work)
    if args.warehouse:
        wh = Path(args.warehouse).resolve()
        if work.exists():
            shutil.rmtree(work)
    else:
        wh = work / "warehouse"
        if work.exists() and not args.reuse:
            shutil.rmtree(work)
    deliveries, duck_out, logs = work / "deliveries", work / "duckdb-out", work / "logs"
    if duck_out.exists():
        shutil.rmtree(duck_out)
    logs.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "persons": args.persons,
        "years": args.years,
        "seed": args.seed,
        "aim_binary": aim,
        "aim_profile": Path(aim).parent.name if Path(aim).parent.parent.name.startswith("target") else "unknown",
        "aim_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        "aim_uncommitted": [line[3:] for line in subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.splitlines()
            if not line[3:].startswith(("bench/", "docs/benchmarks.md"))],
    }
    m = res["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}")

    # 1. The warehouse (its commands act as a data manager).
    act_as_data_manager(aim, logs / "accounts")
    if args.warehouse or (args.reuse and (wh / "tables" / "pati").exists()):
        print(f"using the warehouse {wh}")
        res["warehouse"] = str(wh)
        if not (wh / "tables" / "pati" / "_delta_log").exists():
            b = run_measured([aim, "build", "--warehouse", str(wh)], stdout_path=logs / "build.out")
            check_ok("aim build", b)
    else:
        steps = [
            ("aim synth", [aim, "synth", "--persons", str(args.persons), "--years", args.years, "--seed",
                           str(args.seed), "--out", str(deliveries)]),
            ("aim reference import", [aim, "reference", "import", "--warehouse", str(wh), reference]),
            ("aim ingest", [aim, "ingest", "--warehouse", str(wh), str(deliveries)]),
            ("aim build", [aim, "build", "--warehouse", str(wh)]),
        ]
        res["preparation"] = {}
        for name, cmd in steps:
            print("$", " ".join(cmd), flush=True)
            r = run_measured(cmd, stdout_path=logs / (name.split()[-1] + ".out"))
            check_ok(name, r)
            res["preparation"][name] = round(r.wall_s, 1)
            print(f"{name}: {r.wall_s:.1f} s (not part of the comparison)")
        res["data"] = data_size(deliveries)
    res.setdefault("data", {})["persons"] = args.persons if not args.warehouse else None
    if args.warehouse:
        import duckdb

        import derive_duckdb as dd
        files = dd.delta_files(wh / "tables" / "pati")
        rel = dd.parquet_relation(files, ["year"])
        res["data"]["persons"] = duckdb.sql(f"SELECT count(DISTINCT person_id) FROM {rel}").fetchall()[0][0]
        years = [int(y) for (y,) in duckdb.sql(f"SELECT DISTINCT year FROM {rel} ORDER BY 1").fetchall()]
        res["years"] = ",".join(map(str, years))

    # 2. aim atlas build (by age group too, as DuckDB, unless --no-age-groups).
    cmd = [aim, "atlas", "build", "--warehouse", str(wh), "--reference", reference]
    help_text = subprocess.run([aim, "atlas", "build", "--help"], capture_output=True, text=True).stdout
    if "--no-age-groups" in help_text:  # age groups by default (since 2026-11-23)
        if args.no_age_groups:
            cmd.append("--no-age-groups")
    elif "--age-groups" in help_text and not args.no_age_groups:
        cmd.append("--age-groups")  # earlier binaries: all ages only by default
    elif "--age-groups" not in help_text and args.no_age_groups:
        sys.exit(f"{aim} always computes the age groups: drop --no-age-groups")
    res["age_groups"] = not args.no_age_groups
    print("$", " ".join(cmd), flush=True)
    wait_until_idle(args.wait_idle)
    a, chunks, timed_out = run_with_progress(cmd, logs / "atlas.out", args.atlas_timeout)
    res["aim_atlas"] = asdict(a) | {"stdout": a.stdout[-4000:], "stderr": a.stderr[-2000:] if a.exit_code else "",
                                    "timed_out": timed_out}
    res["aim_atlas"]["gate_phase"] = gate_phase(chunks, a.wall_s)
    if timed_out:
        marks = re.findall(r"(\d+)/(\d+) tables", "".join(c for _, c in chunks))
        res["aim_atlas"]["tables_done_at_timeout"] = f"{marks[-1][0]}/{marks[-1][1]}" if marks else "0/?"
        print(f"aim atlas build stopped after {args.atlas_timeout:.0f} s (--atlas-timeout), "
              f"{res['aim_atlas']['tables_done_at_timeout']} tables gated", flush=True)
    else:
        check_ok("aim atlas build", a)
        manifest = json.loads((wh / "atlas" / "manifest.json").read_text())
        res["aim_atlas"]["gate"] = {
            "tables": len(manifest["gate"]), "cells": sum(g["cells"] for g in manifest["gate"]),
            "primary": sum(g["primary"] for g in manifest["gate"]),
            "secondary": sum(g["secondary"] for g in manifest["gate"]),
        }
        res["aim_atlas"]["standard_population_year"] = manifest["standard_population_year"]
        g = res["aim_atlas"]["gate_phase"]
        print(f"aim atlas build: {a.wall_s:.1f} s, peak RSS {a.peak_rss_mib:,.0f} MiB, CPU {a.user_s + a.sys_s:.1f} s"
              + (f"; gating ≈ {g['gating_s_estimate']:.1f} s ({g['gate_share']:.0%})" if g else ""))
        print("   " + a.stdout.strip().replace("\n", "\n   "))

    # 3. DuckDB.
    duck_result = work / "duckdb-result.json"
    cmd = [sys.executable, __file__, "--worker", "--warehouse", str(wh), "--reference", reference,
           "--out", str(duck_out), "--result", str(duck_result), "--threads", str(args.threads)]
    cmd += ["--no-age-groups"] if args.no_age_groups else []
    print("$ duckdb worker", flush=True)
    wait_until_idle(args.wait_idle)
    d = run_measured(cmd, stdout_path=logs / "duckdb.out")
    check_ok("DuckDB worker", d)
    duck = json.loads(duck_result.read_text())
    res["duckdb"] = asdict(d) | {"stdout": "", "stderr": "", "version": duck["duckdb_version"],
                                 "threads": duck["threads"], "seconds_by_step": duck["seconds"],
                                 "counts": duck["counts"], "output_bytes": dir_bytes(duck_out)}
    print(f"DuckDB: {d.wall_s:.1f} s, peak RSS {d.peak_rss_mib:,.0f} MiB, CPU {d.user_s + d.sys_s:.1f} s; "
          f"per step (s): {duck['seconds']}")
    res["outputs"] = {"pati_rows": duck["counts"]["pati_rows"], "indicators": len(load_indicators())}

    # 4. Same figures?
    if timed_out:
        res["comparison"] = {"skipped": "aim atlas build did not finish", "problems": []}
    else:
        cmp_ = compare(wh, duck_out, args.sample)
        res["comparison"] = cmp_
        print(f"figures: aim {cmp_['aim_figures']:,} ({cmp_['aim_released']:,} released), "
              f"DuckDB {cmp_['duckdb_figures']:,}; released figures compared: {cmp_['released_compared']:,}; "
              f"equal: {not cmp_['problems']}")

    # 5. The server.
    if args.no_serve:
        res["server"] = {"skipped": "--no-serve"}
    elif timed_out:
        res["server"] = {"skipped": "no Atlas (aim atlas build did not finish)"}
    else:
        res["server"] = bench_server(aim, wh, reference, years, args, logs)
    s = res["server"]
    if "wrk" in s:
        print(f"server: {s['wrk'].get('requests_per_s', 0):,.0f} requests/s, p99 {s['wrk']['latency_ms'].get('p99')} ms, "
              f"{s['wrk']['non_2xx']} not 2xx")
    else:
        print(f"server: {s.get('skipped')}")

    # 6. Results.
    table = markdown(res)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"atlas-{res['date']}-{res['data']['persons']}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"\nsaved {stem.with_suffix('.json').relative_to(REPO)} and .md")
    if not args.keep:
        shutil.rmtree(work)
    problems = res["comparison"]["problems"]
    if problems:
        print("\n".join(problems[:30]), file=sys.stderr)
        sys.exit("aim and DuckDB disagree (see above)")
    if timed_out:
        sys.exit(f"aim atlas build did not finish within {args.atlas_timeout:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--persons", type=int, default=1_000_000, help="synthetic persons (default 1,000,000)")
    p.add_argument("--years", default="2023-2024", help="years to synthesise (default 2023-2024)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--aim", default="target/fast/aim", help="the aim binary (relative to the repository; AIM_BIN overrides)")
    p.add_argument("--work", default="/tmp/aim-atlas-bench", help="work folder (deleted first, and at the end unless --keep)")
    p.add_argument("--warehouse", help="use this built warehouse (with PATI) instead of synthesising one")
    p.add_argument("--reuse", action="store_true", help="reuse the warehouse of a kept work folder")
    p.add_argument("--reference", help="reference data folder (default ../shared/data)")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default 0: all cores, as aim)")
    p.add_argument("--sample", type=int, default=12, help="released figures shown side by side in the report")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each measured run, wait up to SECONDS for the machine to be idle")
    p.add_argument("--no-age-groups", action="store_true",
                   help="figures by area and sex only (aim without --age-groups); default: by age group too")
    p.add_argument("--no-serve", action="store_true", help="skip the server load test")
    p.add_argument("--no-install", action="store_true", help="do not apt-get install wrk when it is missing")
    p.add_argument("--endpoint-indicator", help="indicator of the loaded endpoint (default: the first by id)")
    p.add_argument("--wrk-seconds", type=int, default=10)
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--wrk-connections", type=int, default=16)
    p.add_argument("--server-start-timeout", type=float, default=300)
    p.add_argument("--atlas-timeout", type=float, default=0, metavar="SECONDS",
                   help="stop aim atlas build after SECONDS (0: no limit); the report says how far it got")
    # Internal: the DuckDB worker process.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
