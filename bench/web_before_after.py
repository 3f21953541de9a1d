#!/usr/bin/env python3
"""The web server before and after its hardening (issue 16): requests/s and p99 latency of the
map data endpoint, the same warehouse, two `aim` binaries, as a ratio.

Run from the repository root, with two binaries built by `cargo build --profile fast -p aim-cli`
(the "before" one from an earlier commit, built in a separate worktree and target folder):

    .venv/bin/python bench/web_before_after.py --before /tmp/aim-before --after target/fast/aim \\
        --warehouse WH [--seconds 20] [--rounds 3]

Method
------
1. Each binary serves the same warehouse's Atlas (`aim serve`, loopback, a free port).
2. The endpoint: /api/figures/<indicator>?year=<last>&level=municipality&sex=all&age=all, the
   map's data (about 150 KB of JSON on a large Atlas). One request checks it answers 200.
3. Load: `wrk -t2 -c16 -d<seconds>s --latency` (bounded: 16 connections on loopback), the
   binaries alternating, `--rounds` times each; the median round is reported. wrk and the
   server share the machine's cores. "After" is measured twice: without `Accept-Encoding`
   (identity, the same bytes as before, plus the headers and the ETag) and with
   `Accept-Encoding: gzip` (what a browser gets); "before" ignores the header either way.
4. Results: printed as a Markdown table with the ratio after/before, and saved to
   bench/results/web-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from atlas_vs_duckdb import ensure_wrk, free_port, parse_wrk  # noqa: E402
from ingest_vs_duckdb import machine, wait_until_idle  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench/results"


def serve(aim: str, wh: Path, reference: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [aim, "serve", "--warehouse", str(wh), "--port", str(port), "--reference", reference],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port


def ready(port: int, path: str, proc: subprocess.Popen) -> int:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return len(r.read())
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(wrk: str, port: int, path: str, seconds: int, gzip: bool) -> dict:
    cmd = [wrk, "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if gzip:
        cmd += ["-H", "Accept-Encoding: gzip"]
    r = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True)
    out = parse_wrk(r.stdout)
    out["exit_code"] = r.returncode
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the aim binary before")
    ap.add_argument("--after", required=True, help="the aim binary after")
    ap.add_argument("--warehouse", required=True, type=Path)
    ap.add_argument("--reference", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--indicator", default="gp-contact")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--wait-idle", type=float, default=30.0)
    ap.add_argument("--no-install", action="store_true")
    args = ap.parse_args()
    wrk = ensure_wrk(not args.no_install)
    if not wrk:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    print(f"machine: {machine()}", flush=True)
    years = json.loads((args.warehouse / "atlas" / "manifest.json").read_text())["years"]
    path = f"/api/figures/{args.indicator}?year={max(years)}&level=municipality&sex=all&age=all"
    cases = [("before", args.before, False), ("after", args.after, False), ("after, gzip", args.after, True)]
    runs: dict[str, list[dict]] = {c[0]: [] for c in cases}
    sizes: dict[str, int] = {}
    for rnd in range(args.rounds):
        for name, aim, gzip in cases:
            proc, port = serve(aim, args.warehouse, args.reference)
            try:
                sizes[name] = ready(port, path, proc)
                wait_until_idle(args.wait_idle)
                res = load(wrk, port, path, args.seconds, gzip)
            finally:
                stop(proc)
            print(f"round {rnd + 1} {name}: {res.get('requests_per_s')} req/s, "
                  f"p99 {res['latency_ms'].get('p99')} ms, non-2xx {res['non_2xx']}, "
                  f"errors '{res['socket_errors']}'", flush=True)
            runs[name].append(res)

    def median_of(name: str, key) -> float:
        return statistics.median(key(r) for r in runs[name])

    summary = {}
    for name in runs:
        summary[name] = {
            "requests_per_s": median_of(name, lambda r: r.get("requests_per_s", 0.0)),
            "p50_ms": median_of(name, lambda r: r["latency_ms"].get("p50", float("nan"))),
            "p99_ms": median_of(name, lambda r: r["latency_ms"].get("p99", float("nan"))),
            "non_2xx": sum(r["non_2xx"] for r in runs[name]),
            "socket_errors": [r["socket_errors"] for r in runs[name] if r["socket_errors"]],
        }
    b = summary["before"]
    lines = [
        f"Endpoint `{path}` ({sizes.get('before', 0):,} bytes of JSON), `wrk -t2 -c16 -d{args.seconds}s`, "
        f"median of {args.rounds} rounds, binaries alternating:",
        "",
        "| server | requests/s | p50 ms | p99 ms | requests/s ratio | p99 ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['requests_per_s']:.0f} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | "
            f"{s['requests_per_s'] / b['requests_per_s']:.2f} | {s['p99_ms'] / b['p99_ms']:.2f} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    result = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "before": args.before,
        "after": args.after,
        "warehouse": str(args.warehouse),
        "path": path,
        "bytes": sizes,
        "summary": summary,
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"web-{result['date']}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    stem.with_suffix(".md").write_text(f"# The web server before and after (issue 16)\n\n{table}\n\n"
                                      f"Machine: {json.dumps(result['machine'])}\n")
    print(f"saved {stem}.json and .md")


if __name__ == "__main__":
    main()
