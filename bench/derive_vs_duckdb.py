#!/usr/bin/env python3
"""Derived-data benchmark: `aim build` against DuckDB computing the same products.

Run from the repository root (the `aim` binary is built with
`cargo build --profile fast -p aim-cli`; AIM_BIN or --aim overrides it):

    .venv/bin/python bench/derive_vs_duckdb.py                      # quick try, 20,000 persons
    .venv/bin/python bench/derive_vs_duckdb.py --persons 1000000 --years 2024 --wait-idle 1800 --update-docs

Method
------
1. Synthesise `aim synth --persons N --years Y --seed S`, `aim reference import`, and
   `aim ingest` into a fresh warehouse in a work folder outside the repository (default
   /tmp/aim-derive-bench, deleted at the end unless --keep). Not measured against DuckDB.
2. aim: `aim build --warehouse WH` derives, for every year, HOSP (hospital stays), PATI (one
   row per person and year) and the permanent sample (EPS: the members' POPU, GZSS, FARU,
   HOSP and PATI rows with weights) as Delta tables, with lineage and a build report
   (docs/derived-data.md).
3. DuckDB: bench/derive_duckdb.py, the same derivations written independently in SQL
   generated from the same definition files (crates/derive/definitions/*.toml), in a separate
   process (this script with --worker) with 2 threads: it finds the current Parquet files of
   popu, gzss, faru and ref_nomenclature from the Delta logs, reads them with read_parquet and
   writes hosp, pati and the sample tables (popu, gzss, faru, hosp, pati of the members) as
   zstd Parquet files, so that both sides materialise the same output.
4. Each side runs as a child process: wall time around it, peak RSS and CPU time from its
   own rusage (os.wait4). Both read the source files from the page cache (just ingested).
   --wait-idle waits for an idle machine before each measured run; the CPU time the rest of
   the machine used meanwhile is recorded (other_cpu_s).
5. Checks: per year, row counts, sums and an order-independent checksum of every column
   both sides share (values as text; the float weights excluded) of aim's hosp and pati
   against DuckDB's Parquet, and the sample's row counts. The script fails if they differ.
6. Results: printed, saved to bench/results/derive-<date>[-<persons>].json and .md; with
   --update-docs the figures in docs/benchmarks.md (between the derive-table markers, in the
   section "Derived data: aim build vs DuckDB", created if missing) are replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_vs_duckdb import (  # noqa: E402
    act_as_data_manager,
    check_ok,
    data_size,
    dir_bytes,
    machine,
    mib,
    run_measured,
    wait_until_idle,
)

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs/benchmarks.md"
RESULTS = REPO / "bench/results"
START, END = "<!-- derive-table:start -->", "<!-- derive-table:end -->"
SECTION = "## Derived data: aim build vs DuckDB"


def parse_years(spec: str) -> list[int]:
    if "-" in spec:
        a, b = spec.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(y) for y in spec.split(",")]


# --------------------------------------------------------------------------------------
# The DuckDB side (worker process)
# --------------------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    import duckdb

    import derive_duckdb as dd

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    out = Path(args.out)
    years = {}
    for y in parse_years(args.years):
        years[str(y)] = dd.derive(con, args.warehouse, y, out=out)
        print(f"{y}: {years[str(y)]['seconds']}", file=sys.stderr, flush=True)
    Path(args.result).write_text(json.dumps({
        "duckdb_version": duckdb.__version__,
        "threads": int(threads),
        "seconds": time.perf_counter() - started,
        "years": years,
    }, indent=1))


# --------------------------------------------------------------------------------------
# Comparing the two sides
# --------------------------------------------------------------------------------------

# Summary figures per table: SQL aggregates evaluated on both sides.
SUMMARY = {
    "hosp": {
        "rows": "count(*)",
        "classic": "count(*) FILTER (WHERE kind = 'classic')",
        "day": "count(*) FILTER (WHERE kind = 'day')",
        "transfers": "count(*) FILTER (WHERE transfer)",
        "billed_days": "sum(billed_days)",
        "reimbursed": "sum(reimbursed)",
        "fee_lines": "sum(fee_lines)",
    },
    "pati": {
        "rows": "count(*)",
        "reimbursed_total": "sum(reimbursed_total)",
        "out_of_pocket": "sum(out_of_pocket)",
        "gp_contacts": "sum(gp_contacts)",
        "classic_stays": "sum(classic_stays)",
        "polypharmacy": "count(*) FILTER (WHERE polypharmacy)",
        "eps_member": "count(*) FILTER (WHERE eps_member)",
    },
}
FLOAT_COLUMNS = {"eps_design_weight", "eps_weight"}


def compare(wh: Path, duck_out: Path, years: list[int]) -> dict:
    import duckdb

    import derive_duckdb as dd

    con = duckdb.connect()
    out: dict = {"problems": []}
    for y in years:
        res = out[str(y)] = {}
        for table, sample in [("hosp", False), ("pati", False), ("hosp", True), ("pati", True),
                              ("popu", True), ("gzss", True), ("faru", True)]:
            name = f"sample/{table}" if sample else table
            aim_path = wh / ("sample/tables" if sample else "tables") / table
            if not (aim_path / "_delta_log").exists():
                out["problems"].append(f"aim wrote no table {aim_path.relative_to(wh)}")
                continue
            files = dd.delta_files(aim_path)
            if table in ("popu", "gzss", "faru"):
                files = [f for f in files if str(f["partition"].get("period", "")).startswith(f"{y}Q")]
                parts = ["insurer", "period"]
                ours = (f"read_parquet({dd.lit(str(duck_out / name / '**' / '*.parquet'))}, hive_partitioning = true, "
                        "hive_types = {'insurer': 'VARCHAR', 'period': 'VARCHAR'})")
                where = f"period LIKE '{y}Q%'"
            else:
                files = [f for f in files if str(f["partition"].get("year")) == str(y)]
                parts = ["year"]
                ours = (f"read_parquet({dd.lit(str(duck_out / name / f'year={y}' / '*.parquet'))}, "
                        "hive_partitioning = false)")
                where = "true"
            if not files:
                out["problems"].append(f"{name} {y}: aim wrote no rows")
                continue
            theirs = f"(SELECT * FROM {dd.parquet_relation(files, parts)} WHERE {where})"
            ours = f"(SELECT * FROM {ours} WHERE {where})"
            a_cols = [c[0] for c in con.execute(f"SELECT * FROM {theirs} LIMIT 0").description]
            o_cols = [c[0] for c in con.execute(f"SELECT * FROM {ours} LIMIT 0").description]
            shared = [c for c in o_cols if c in a_cols and c not in FLOAT_COLUMNS and c not in ("year", "delivery_id")]
            exprs = dict(SUMMARY.get(table, {"rows": "count(*)"}))
            exprs["checksum"] = "sum(hash(concat_ws('|', " + ", ".join(
                f"coalesce({dd.q(c)}::VARCHAR, '∅')" for c in shared) + ")))"
            sel = ", ".join(f"{e} AS {dd.q(k)}" for k, e in exprs.items())
            a = con.execute(f"SELECT {sel} FROM {theirs}").fetchone()
            b = con.execute(f"SELECT {sel} FROM {ours}").fetchone()
            entry = {k: {"aim": str(va), "duckdb": str(vb)} for k, va, vb in zip(exprs, a, b)}
            entry["columns_only_aim"] = sorted(set(a_cols) - set(o_cols) - {"year"})
            entry["columns_only_duckdb"] = sorted(set(o_cols) - set(a_cols) - {"year"})
            res[name] = entry
            for k, v in entry.items():
                if isinstance(v, dict) and v["aim"] != v["duckdb"]:
                    out["problems"].append(f"{name} {y}: {k} aim {v['aim']}, DuckDB {v['duckdb']}")
    return out


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def markdown_table(res: dict) -> str:
    rows = res["data"]["rows_total"]
    aim_s = res["aim_build"]["wall_s"]
    lines = [
        "| tool | wall s | source rows/s | peak RSS MiB | CPU s (user+sys) | DuckDB time / aim time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, key in [("aim build", "aim_build"),
                       (f"DuckDB {res['duckdb']['version']} ({res['duckdb']['threads']} threads)", "duckdb")]:
        m = res[key]
        ratio = f"{m['wall_s'] / aim_s:.2f}" if key == "duckdb" else "1.00"
        lines.append(f"| {label} | {m['wall_s']:.1f} | {rows / m['wall_s']:,.0f} | {m['peak_rss_mib']:,.0f} | "
                     f"{m['user_s'] + m['sys_s']:.1f} | {ratio} |")
    return "\n".join(lines)


def phase_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in phases.items() if k != "total") or "not logged"


def update_docs(table: str, res: dict) -> None:
    text = DOCS.read_text()
    d = res["data"]
    outputs = res.get("outputs", {})
    block = (
        f"{START}\n"
        f"{d['persons']:,} persons × {res['years']}, seed {res['seed']}: {d['rows_total']:,} source rows "
        f"(POPU {d['rows']['POPU']:,}, GZSS {d['rows']['GZSS']:,}, FARU {d['rows']['FARU']:,}); "
        f"{outputs.get('hosp_rows', 0):,} stays, {outputs.get('pati_rows', 0):,} PATI rows, "
        f"{outputs.get('sample_members', 0):,} sample members; measured {res['date']} on {res['machine']['nproc']} cores "
        f"({res['machine']['cpu']}), {res['machine']['ram_gib']} GiB RAM; aim at commit {res['aim_commit']}"
        f"{' with uncommitted changes' if res.get('aim_uncommitted') else ''} (`{res['aim_profile']}` build).\n\n"
        f"{table}\n\n"
        f"DuckDB seconds per step, summed over the years: {phase_text(res['duckdb']['seconds_by_step'])}.\n"
        f"{END}"
    )
    if START in text and END in text:
        text = text[: text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + (
            f"\n\n{SECTION}\n\n"
            "How long does `aim build` take to derive a year's hospital stays (HOSP), person-year table\n"
            "(PATI) and permanent sample (EPS), next to the same derivations written in DuckDB SQL\n"
            "([`bench/derive_duckdb.py`](../bench/derive_duckdb.py), generated from the same definition\n"
            "files) on the same Parquet files? Both sides write their output (DuckDB as Parquet).\n\n"
            f"{block}\n\n"
            "```sh\n"
            "cargo build --profile fast -p aim-cli\n"
            ".venv/bin/python bench/derive_vs_duckdb.py                # quick try: 20,000 persons\n"
            ".venv/bin/python bench/derive_vs_duckdb.py --persons 1000000 --years 2024 --wait-idle 1800 --update-docs\n"
            "```\n\n"
            "The script checks that both sides agree (row counts, sums and a checksum of every shared\n"
            "column of `hosp`, `pati` and the sample tables) and fails otherwise;\n"
            "`tests/python/test_derived.py` compares them row by row and against the synthesiser's truth.\n"
        )
    DOCS.write_text(text)


def driver(args: argparse.Namespace) -> None:
    aim = os.environ.get("AIM_BIN") or args.aim
    aim = aim if os.path.isabs(aim) else str((REPO / aim).resolve())
    if not Path(aim).exists():
        sys.exit(f"{aim} not found: build it with `cargo build --profile fast -p aim-cli` (or set AIM_BIN)")
    if subprocess.run([aim, "build", "--help"], capture_output=True).returncode != 0:
        sys.exit(f"{aim} has no `build` command")
    years = parse_years(args.years)
    work = Path(args.work)
    deliveries, wh, duck_out, logs = work / "deliveries", work / "warehouse", work / "duckdb-out", work / "logs"
    reuse = args.reuse and (wh / "tables" / "gzss").exists()
    if work.exists() and not reuse:
        shutil.rmtree(work)
    if duck_out.exists():
        shutil.rmtree(duck_out)
    logs.mkdir(parents=True, exist_ok=True)
    act_as_data_manager(aim, logs / "accounts")
    res: dict = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "persons": args.persons,
        "years": args.years,
        "seed": args.seed,
        "aim_binary": aim,
        "aim_profile": Path(aim).parent.name if Path(aim).parent.parent.name == "target" else "unknown",
        "aim_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        "aim_uncommitted": [line[3:] for line in subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.splitlines()
            if not line[3:].startswith(("bench/", "docs/benchmarks.md"))],
    }
    m = res["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}")

    # 1. Synthesise, import the reference data, ingest.
    if reuse:
        print(f"reusing the warehouse in {wh}; removing its derived tables")
        for p in [wh / "tables" / "hosp", wh / "tables" / "pati", wh / "sample"] + list((wh / "qc").glob("build-*")):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    else:
        cmd = [aim, "synth", "--persons", str(args.persons), "--years", args.years, "--seed", str(args.seed),
               "--out", str(deliveries)]
        print("$", " ".join(cmd), flush=True)
        check_ok("aim synth", run_measured(cmd, stdout_path=logs / "synth.out"))
        ref_dir = args.reference or str((REPO / "../shared/data").resolve())
        check_ok("aim reference import", run_measured([aim, "reference", "import", "--warehouse", str(wh), ref_dir],
                                                      stdout_path=logs / "reference.out"))
        cmd = [aim, "ingest", "--warehouse", str(wh), str(deliveries)]
        print("$", " ".join(cmd), flush=True)
        g = run_measured(cmd, stdout_path=logs / "ingest.out")
        check_ok("aim ingest", g)
        res["aim_ingest"] = asdict(g) | {"stdout": "", "stderr": ""}
        print(f"aim ingest: {g.wall_s:.1f} s (not part of the comparison)")
    data = data_size(deliveries)
    data["persons"] = args.persons
    res["data"] = data
    print(f"data: {args.persons:,} persons, {data['rows_total']:,} source rows "
          f"(POPU {data['rows']['POPU']:,}, GZSS {data['rows']['GZSS']:,}, FARU {data['rows']['FARU']:,})")

    # 2. aim build.
    cmd = [aim, "build", "--warehouse", str(wh)]
    print("$", " ".join(cmd), flush=True)
    wait_until_idle(args.wait_idle)
    b = run_measured(cmd, stdout_path=logs / "build.out")
    check_ok("aim build", b)
    res["aim_build"] = asdict(b) | {"stdout": b.stdout[-4000:], "stderr": ""}
    res["aim_build"]["reports"] = {
        p.name: json.loads(p.read_text()) for p in sorted((wh / "qc").glob("build-*.json"))}
    res["aim_build"]["derived_bytes"] = sum(dir_bytes(p) for p in
                                            [wh / "tables" / "hosp", wh / "tables" / "pati", wh / "sample"] if p.exists())
    print(f"aim build: {b.wall_s:.1f} s, peak RSS {b.peak_rss_mib:,.0f} MiB, CPU {b.user_s + b.sys_s:.1f} s")

    # 3. DuckDB.
    duck_result = work / "duckdb-result.json"
    cmd = [sys.executable, __file__, "--worker", "--warehouse", str(wh), "--years", args.years,
           "--out", str(duck_out), "--result", str(duck_result), "--threads", str(args.threads)]
    print("$ duckdb worker", flush=True)
    wait_until_idle(args.wait_idle)
    d = run_measured(cmd, stdout_path=logs / "duckdb.out")
    check_ok("DuckDB worker", d)
    duck = json.loads(duck_result.read_text())
    steps: dict[str, float] = {}
    for y in duck["years"].values():
        for k, v in y["seconds"].items():
            steps[k] = round(steps.get(k, 0.0) + v, 2)
    res["duckdb"] = asdict(d) | {"stdout": "", "stderr": "", "version": duck["duckdb_version"],
                                 "threads": duck["threads"], "seconds_by_step": steps,
                                 "counts": {y: v["counts"] for y, v in duck["years"].items()},
                                 "output_bytes": dir_bytes(duck_out)}
    print(f"DuckDB: {d.wall_s:.1f} s, peak RSS {d.peak_rss_mib:,.0f} MiB, CPU {d.user_s + d.sys_s:.1f} s; "
          f"per step (s): {steps}")

    # 4. Same result?
    cmp_ = compare(wh, duck_out, years)
    res["comparison"] = cmp_
    res["outputs"] = {
        "hosp_rows": sum(int(cmp_[str(y)].get("hosp", {}).get("rows", {}).get("duckdb", 0)) for y in years),
        "pati_rows": sum(int(cmp_[str(y)].get("pati", {}).get("rows", {}).get("duckdb", 0)) for y in years),
        "sample_members": sum(int(cmp_[str(y)].get("sample/pati", {}).get("rows", {}).get("duckdb", 0)) for y in years),
    }
    print(f"outputs: {res['outputs']}; aim and DuckDB agree: {not cmp_['problems']}")

    # 5. Results.
    table = markdown_table(res)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"derive-{res['date']}"
    if args.persons < 1_000_000:
        stem = stem.with_name(f"{stem.name}-{args.persons}")
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"\nsaved {stem.with_suffix('.json').relative_to(REPO)} and .md")
    if args.update_docs:
        update_docs(table, res)
        print(f"updated {DOCS.relative_to(REPO)}")
    if not args.keep:
        shutil.rmtree(work)
    if cmp_["problems"]:
        print("\n".join(cmp_["problems"][:30]), file=sys.stderr)
        sys.exit("aim and DuckDB disagree (see above)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--persons", type=int, default=20_000, help="synthetic persons (default 20000: a quick try)")
    p.add_argument("--years", default="2024", help="years to synthesise and derive, e.g. 2024 or 2023-2024")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--aim", default="target/fast/aim", help="the aim binary (relative to the repository; AIM_BIN overrides)")
    p.add_argument("--work", default="/tmp/aim-derive-bench", help="work folder (deleted first, and at the end unless --keep)")
    p.add_argument("--reference", help="reference data folder (default ../shared/data)")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--reuse", action="store_true",
                   help="reuse the ingested warehouse of a kept work folder (its derived tables are removed first)")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each measured run, wait up to SECONDS for the machine to be idle")
    p.add_argument("--update-docs", action="store_true", help="replace the table in docs/benchmarks.md")
    # Internal: the DuckDB worker process.
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--warehouse", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
    else:
        driver(args)


if __name__ == "__main__":
    main()
