#!/usr/bin/env python3
"""Disclosure-gate benchmark: the gate's suppression and audit on the ~50,000-cell table,
against an independent audit and an information-loss lower bound from open solvers.

Run from the repository root:

    .venv/bin/python bench/gate_vs_reference.py                       # 1,000,000 persons
    .venv/bin/python bench/gate_vs_reference.py --persons 100000 --time-limit 300
    .venv/bin/python bench/gate_vs_reference.py --skip-build          # use target/fast/examples/gate_bench

Method
------
1. Build the example (`cargo build --profile fast -p aim-disclosure --features internals --example gate_bench`,
   skipped with --skip-build) and run it: it spreads N synthetic persons over the 2025
   municipalities in proportion to their 2020 population (each with an age from a Belgian-like
   pyramid and a sex; counted in 2023 and 2024, one year older in 2024), builds the table
   municipality → district → province → region → Belgium × 8 age groups × sex × 2 years with
   every margin (~50,000 cells), applies the gate (population policy: small = 1 to 4 units:
   primary suppression, hypercube secondary suppression, no single gap, audit by LP with
   widening until every small cell's interval contains [0, 5]), prints its summary and
   exports the table, its equations, the pattern and the certificate into a work folder
   (default a temporary one, deleted unless --keep). Measured as a child process: wall time,
   peak RSS, CPU time; the gate's own time (suppression + audit, without building the table)
   is the example's `seconds_suppression_and_audit`.
2. bench/gate_reference.py on the export, in a child process: (a) re-audits the gate's
   pattern with SciPy/HiGHS (min and max of every small cell over the non-negative tables
   agreeing with the released cells and the equations) and compares with the gate's
   certificate; (b) minimises the number of hidden cells, and separately the units in hidden
   cells, over patterns with every small cell hidden, no empty cell hidden and no equation
   with a single hidden cell (a relaxation: its optimum is a lower bound on the loss of any
   valid pattern), audits the ILP's pattern and adds cuts while it leaves a small cell
   unprotected (see that script).
3. Results: printed, saved to bench/results/gate-<date>[-<persons>].json and .md. The script
   fails when the gate's certificate and the reference disagree or a small cell is
   unprotected.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate_reference import markdown  # noqa: E402
from ingest_vs_duckdb import check_ok, machine, run_measured, wait_until_idle  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench/results"
EXAMPLE = REPO / "target/fast/examples/gate_bench"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--persons", type=int, default=1_000_000, help="synthetic persons (default 1000000)")
    p.add_argument("--time-limit", type=float, default=600, help="seconds per ILP solve of the reference (default 600)")
    p.add_argument("--cut-rounds", type=int, default=10, help="rounds of cuts after the ILP relaxation (default 10)")
    p.add_argument("--cut-time", type=float, help="seconds for all rounds of cuts of one objective (default: --time-limit)")
    p.add_argument("--skip-build", action="store_true", help="use the prebuilt target/fast/examples/gate_bench")
    p.add_argument("--work", help="work folder for the export (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                   help="before each measured run, wait up to SECONDS for the machine to be idle")
    args = p.parse_args()

    if not args.skip_build:
        cmd = ["cargo", "build", "--profile", "fast", "-p", "aim-disclosure", "--features", "internals", "--example", "gate_bench"]
        print("$", " ".join(cmd), flush=True)
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            sys.exit("cargo build failed")
    if not EXAMPLE.exists():
        sys.exit(f"{EXAMPLE} not found: build it with `cargo build --profile fast -p aim-disclosure --features internals --example gate_bench`")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="aim-gate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    export, ref_json = work / "table.json", work / "reference.json"
    res: dict = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "persons": args.persons,
        "example": str(EXAMPLE.relative_to(REPO)),
        "aim_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True).stdout.strip(),
        "aim_uncommitted": [line[3:] for line in subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True).stdout.splitlines()
            if not line[3:].startswith(("bench/", "docs/benchmarks.md"))],
        "time_limit_s": args.time_limit,
        "cut_rounds": args.cut_rounds,
        "cut_time_s": args.time_limit if args.cut_time is None else args.cut_time,
    }
    m = res["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Linux {m['kernel']}")

    # 1. The gate.
    cmd = [str(EXAMPLE), "--persons", str(args.persons), "--export", str(export)]
    print("$", " ".join(cmd), flush=True)
    wait_until_idle(args.wait_idle)
    g = run_measured(cmd, stdout_path=work / "gate_bench.out")
    check_ok("gate_bench", g)
    summary = json.loads(g.stdout)
    res["gate_bench"] = asdict(g) | {"stdout": "", "stderr": g.stderr[-2000:], "summary": summary}
    print(f"gate: {summary['cells']:,} cells, {summary['primary']:,} small + {summary['secondary']:,} secondary "
          f"({summary['units_in_hidden_cells']:,} units hidden), {summary['rounds']} rounds, suppression and audit "
          f"{summary['seconds_suppression_and_audit']:.1f} s (run {g.wall_s:.1f} s, peak RSS {g.peak_rss_mib:,.0f} MiB)",
          flush=True)
    res["export_bytes"] = export.stat().st_size

    # 2. The reference.
    cmd = [sys.executable, str(REPO / "bench/gate_reference.py"), "--export", str(export),
           "--time-limit", str(args.time_limit), "--cut-rounds", str(args.cut_rounds), "--json-out", str(ref_json)]
    if args.cut_time is not None:
        cmd += ["--cut-time", str(args.cut_time)]
    print("$ bench/gate_reference.py", " ".join(cmd[3:]), f"  (progress in {work / 'reference.out'})", flush=True)
    wait_until_idle(args.wait_idle)
    r = run_measured(cmd, stdout_path=work / "reference.out")
    print(r.stdout, end="")
    if not ref_json.exists():
        check_ok("gate_reference.py", r)
    ref = json.loads(ref_json.read_text())
    res["reference_run"] = asdict(r) | {"stdout": "", "stderr": r.stderr[-4000:]}
    res["reference"] = ref

    # 3. Results.
    text = report(res)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"gate-{res['date']}"
    if args.persons != 1_000_000:
        stem = stem.with_name(f"{stem.name}-{args.persons}")
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
    stem.with_suffix(".md").write_text(text)
    print(f"saved {stem.with_suffix('.json').relative_to(REPO)} and .md")
    if not args.keep and not args.work:
        shutil.rmtree(work)
    if ref["problems"] or r.exit_code != 0:
        print("\n".join(ref["problems"][:30]), file=sys.stderr)
        sys.exit("the gate's certificate or pattern does not check out against the reference (see above)")


def report(res: dict) -> str:
    """The Markdown summary of a run (res: this script's result JSON)."""
    ref, summary, m = res["reference"], res["gate_bench"]["summary"], res["machine"]
    a = ref["audit"]
    cert = a["certificate"]
    diff = cert["max_abs_difference"]
    agreement = ("exactly" if diff == 0 else "with an unbounded side on one side only" if diff is None
                 else f"within {diff:.1e}")
    return (
        f"{summary['persons']:,} persons × 2 years, {summary['cells']:,} cells; gate_bench at commit {res['aim_commit']}"
        f"{' with uncommitted changes' if res['aim_uncommitted'] else ''} (`fast` build); measured {res['date']} on "
        f"{m['nproc']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM; SciPy {ref['scipy']} (HiGHS), ILP time limit "
        f"{res['time_limit_s']:.0f} s per solve.\n\n"
        f"{markdown(ref)}\n\n"
        f"Gate seconds: suppression and audit (the example's own timer, without building the table). "
        f"Certificate: the reference audit ({a['lps']:,} LPs, {a['seconds']:.1f} s) reproduces the gate's interval of "
        f"each of the {a['primary_cells']:,} small cells {agreement} ({len(cert['disagreements'])} disagreements); "
        f"{a['unprotected_primary_cells']} small cells unprotected. Lower bounds: see bench/gate_reference.py "
        f"(valid for patterns that hide no empty cell, as the gate's).\n"
    )


if __name__ == "__main__":
    main()
