"""Other engines read the warehouse as it is, and agree with `aim sql`.

Polars and the Python `deltalake` package read the Delta tables (time travel included);
DuckDB reads the original CSV deliveries and must count the same rows.
"""

import csv
import io
import json

import duckdb
import polars as pl
from deltalake import DeltaTable

from conftest import run_aim


def aim_sql(wh, query):
    r = run_aim("sql", "--warehouse", str(wh), "--format", "json", query)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_polars_reads_the_tables_and_agrees_with_aim_sql(built):
    wh = built["warehouse"]
    ours = aim_sql(wh, "SELECT insurer, count(*) AS n, sum(amount_reimbursed) AS paid FROM gzss GROUP BY insurer ORDER BY insurer")
    df = pl.read_delta(str(wh / "tables" / "gzss"))
    theirs = (
        df.group_by("insurer")
        .agg(pl.len().alias("n"), pl.col("amount_reimbursed").sum().alias("paid"))
        .sort("insurer")
        .to_dicts()
    )
    assert len(ours) == 7
    assert [(r["insurer"], r["n"]) for r in ours] == [(r["insurer"], r["n"]) for r in theirs]
    for a, b in zip(ours, theirs):
        assert abs(float(a["paid"]) - float(b["paid"])) < 0.005
    assert df.schema["amount_reimbursed"] == pl.Decimal(12, 2)
    assert df.schema["service_date"] == pl.Date


def test_deltalake_package_sees_one_commit_per_delivery_with_time_travel(built):
    wh = built["warehouse"]
    t = DeltaTable(str(wh / "tables" / "popu"))
    assert t.metadata().partition_columns == ["insurer", "period"]
    history = t.history()
    deliveries = [h for h in history if "aim" in h]
    assert len(deliveries) == 7 * 4, "one commit per insurer and quarter"
    first = DeltaTable(str(wh / "tables" / "popu"), version=1)
    assert first.to_pyarrow_table().num_rows < t.to_pyarrow_table().num_rows


def test_duckdb_counts_the_same_rows_in_the_delivered_csvs(built):
    wh, deliveries = built["warehouse"], built["deliveries"]
    files = sorted(str(p) for p in deliveries.glob("*-GZSS-*/*.csv.gz"))
    assert files
    con = duckdb.connect()
    n = con.execute(
        f"SELECT count(*) FROM read_csv({files!r}, delim=';', header=true, all_varchar=true)"
    ).fetchone()[0]
    ours = aim_sql(wh, "SELECT count(*) AS n FROM gzss")[0]["n"]
    assert n == ours


def test_no_raw_national_number_in_any_table(built):
    wh = built["warehouse"]
    for table in ("popu", "gzss", "faru"):
        df = pl.read_delta(str(wh / "tables" / table))
        for col in ("person_id", "provider_id", "prescriber_id", "pharmacy_id", "institution_id"):
            if col in df.columns:
                bad = df.filter(pl.col(col).is_not_null() & ~pl.col(col).str.contains(r"^[0-9a-f]{32}$"))
                assert bad.height == 0, f"{table}.{col} holds an uncoded identifier"
