#!/usr/bin/env python3
"""Checks that the DuckDB side of bench/ingest_vs_duckdb.py applies the quality rules as aim does,
on malformed values the synthesiser's `--defects` does not produce.

    .venv/bin/python bench/duckdb_rules_check.py        # about 15 s; exits 1 on any disagreement

It synthesises 20,000 persons (clean), then edits 13 deliveries of 2024 (each file rewritten and
its manifest checksum and row count updated, so that only the intended defect is present):
amounts with three decimals or a leading space, upper-case coded ids, `1.5` and `1e3` as
integers, an unpadded date, a national number written with separators, an extra field, invalid
UTF-8, a truncated gzip file, a renamed header column, `NaN` and out-of-range DDD, a short CNK,
an empty required value, a quoted field holding `;`, an implausible birth year, an unknown sex,
municipality and sector, a death outside the quarter, `yes` as a boolean, an unknown room type
and qualification, and a file altered after its checksum was computed. It runs `aim ingest`
and the DuckDB worker on the result and requires, delivery by delivery, the same verdict, the
same accepted rows and the same failure count for every rule. Work data in /tmp/aim-bench-rules,
deleted at the end.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_vs_duckdb as bench  # noqa: E402

AIM = str(bench.REPO / "target/fast/aim")
WORK = Path("/tmp/aim-bench-rules")


def edit(deliveries: Path, name: str, change, fix_sha: bool = True, on_bytes: bool = False) -> None:
    """Applies `change` to the first file of a delivery (to its lines, or to its gzip bytes)."""
    d = deliveries / name
    man = json.loads((d / "manifest.json").read_text())
    f = d / man["files"][0]["name"]
    if on_bytes:
        out = change(f.read_bytes())
    else:
        lines = gzip.decompress(f.read_bytes()).split(b"\n")
        lines = change(lines[0].decode().split(";"), lines)
        out = gzip.compress(b"\n".join(lines))
        man["files"][0]["rows"] = sum(1 for line in lines[1:] if line)
    f.write_bytes(out)
    if fix_sha:
        man["files"][0]["sha256"] = hashlib.sha256(out).hexdigest()
    (d / "manifest.json").write_text(json.dumps(man, indent=2))


def put(column: str, line: int, value: bytes):
    """A change setting `column` of data line `line` (1 = first data line) to `value`."""

    def change(header: list[str], lines: list[bytes]) -> list[bytes]:
        parts = lines[line].split(b";")
        parts[header.index(column)] = value
        lines[line] = b";".join(parts)
        return lines

    return change


def all_of(*changes):
    def change(header, lines):
        for c in changes:
            lines = c(header, lines)
        return lines

    return change


def upper_person(header: list[str], lines: list[bytes]) -> list[bytes]:
    k = header.index("person_id")
    for i in (3, 4):
        parts = lines[i].split(b";")
        parts[k] = parts[k].upper()
        lines[i] = b";".join(parts)
    return lines


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    deliveries, wh, ref = WORK / "deliveries", WORK / "warehouse", WORK / "ref"
    subprocess.run([AIM, "synth", "--persons", "20000", "--years", "2024", "--seed", "7", "--out", str(deliveries)],
                   check=True, capture_output=True)
    edit(deliveries, "100-GZSS-2024Q1", all_of(put("copayment", 5, b"12.345"), put("copayment", 9, b"12.345")))
    edit(deliveries, "200-GZSS-2024Q1", upper_person)
    edit(deliveries, "300-GZSS-2024Q1", all_of(put("units", 2, b"1.5"), put("service_date", 3, b"2024-1-05"),
                                               put("units", 4, b"1e3"), put("amount_reimbursed", 5, b" 12.00")))
    edit(deliveries, "400-GZSS-2024Q1", put("line_id", 7, b"85.07.30-033.28"))
    edit(deliveries, "500-GZSS-2024Q1", lambda h, lines: lines[:3] + [lines[3] + b";extra"] + lines[4:])
    edit(deliveries, "600-GZSS-2024Q1", put("line_id", 6, b"G\xff\xfe"))
    edit(deliveries, "900-GZSS-2024Q1", lambda b: b[: len(b) // 2], on_bytes=True)
    edit(deliveries, "100-FARU-2024Q1", lambda h, lines: [lines[0].replace(b"cnk", b"cnk_code")] + lines[1:])
    edit(deliveries, "200-FARU-2024Q1", all_of(put("ddd", 2, b"NaN"), put("ddd", 3, b"2000.00"), put("cnk", 4, b"123")))
    edit(deliveries, "300-FARU-2024Q1", all_of(put("atc", 2, b""), put("line_id", 3, b'"F;quoted"'),
                                               put("packages", 4, b"-1")))
    edit(deliveries, "100-POPU-2024Q2", all_of(
        put("birth_year", 2, b"1800"), put("sex", 3, b"X"), put("municipality", 4, b"99999"),
        put("death_date", 5, b"2023-05-01"), put("increased_reimbursement", 6, b"yes"), put("sector", 7, b"XXXXX")))
    edit(deliveries, "200-GZSS-2024Q2", all_of(put("room_type", 2, b"X"), put("provider_qualification", 3, b"999"),
                                               put("provider_id", 4, b"")))
    edit(deliveries, "300-GZSS-2024Q2", put("copayment", 2, b"1.00"), fix_sha=False)

    bench.act_as_data_manager(AIM, WORK / "accounts")
    subprocess.run([AIM, "reference", "import", "--warehouse", str(wh), str((bench.REPO / "../shared/data").resolve())],
                   check=True, capture_output=True)
    ingest = subprocess.run([AIM, "ingest", "--warehouse", str(wh), "--json", str(deliveries)], capture_output=True, text=True)
    if ingest.returncode not in (0, 3):
        sys.exit(f"aim ingest failed: {ingest.stderr}")
    aim = json.loads(ingest.stdout)
    ref.mkdir()
    for name, sql in bench.REFERENCE_QUERIES.items():
        (ref / f"{name}.csv").write_text(bench.aim_sql(AIM, wh, sql, "csv"))
    subprocess.run([sys.executable, bench.__file__, "--worker", "--deliveries", str(deliveries), "--ref", str(ref),
                    "--out", str(WORK / "duckdb-out"), "--result", str(WORK / "duckdb.json"), "--threads", "0"],
                   check=True, capture_output=True)
    duck = json.loads((WORK / "duckdb.json").read_text())
    result = bench.compare(aim, duck, wh)
    by_id = {o["delivery_id"]: o for o in aim["outcomes"]}
    for r in duck["deliveries"]:
        a = by_id.get(r["delivery_id"], {})
        if r["verdict"] != "accepted" or a.get("verdict") != "accepted":
            print(f"{r['delivery_id']}: aim {a.get('verdict')}, DuckDB {r['verdict']}"
                  f"{' — ' + r['reasons'][0][:70] if r['reasons'] else ''}")
    print(f"accepted rows: aim {result['rows_accepted_aim']:,}, DuckDB {result['rows_accepted_duckdb']:,}")
    print(f"failures per rule (aim, DuckDB): {result['rule_failures_aim_duckdb']}")
    shutil.rmtree(WORK)
    if result["problems"]:
        sys.exit("disagreements:\n" + "\n".join(result["problems"]))
    print("aim and DuckDB agree on every delivery and rule")


if __name__ == "__main__":
    main()
