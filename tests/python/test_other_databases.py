"""The other source databases (PGDP, CHIV, ITAO, KATS, CHTA, DOCN) as other engines see them.

Polars and the `deltalake` package read the new Delta tables; DuckDB reads the delivered CSVs
and must count the same rows and find the same cross-database agreements as the warehouse
(docs/quality-rules.md, "Cross-database rules").
"""

import duckdb
import polars as pl
from deltalake import DeltaTable

NEW = ["pgdp", "chiv", "itao", "kats", "chta", "docn"]


def csvs(deliveries, db):
    files = sorted(str(p) for p in deliveries.glob(f"*-{db.upper()}-*/*.csv.gz"))
    assert files, db
    return files


def test_polars_and_deltalake_read_the_new_tables(built):
    wh, deliveries = built["warehouse"], built["deliveries"]
    con = duckdb.connect()
    for name in NEW:
        df = pl.read_delta(str(wh / "tables" / name))
        t = DeltaTable(str(wh / "tables" / name))
        assert t.metadata().partition_columns == ["insurer", "period"]
        assert df.height == t.to_pyarrow_table().num_rows
        n = con.execute(
            f"SELECT count(*) FROM read_csv({csvs(deliveries, name)!r}, delim=';', header=true, all_varchar=true)"
        ).fetchone()[0]
        assert df.height == n, f"{name}: every delivered row is in the warehouse"
        assert df.height > 0, name
        # One commit per insurer and quarter.
        assert len([h for h in t.history() if "aim" in h]) == 7 * 4, name


def test_types_and_coded_identifiers(built):
    wh = built["warehouse"]
    kats = pl.read_delta(str(wh / "tables" / "kats"))
    assert kats.schema["assessment_date"] == pl.Date
    assert kats.schema["washing"] == pl.Int32
    chta = pl.read_delta(str(wh / "tables" / "chta"))
    assert chta.schema["flat_fee"] == pl.Boolean
    docn = pl.read_delta(str(wh / "tables" / "docn"))
    assert docn.schema["amount_reimbursed"] == pl.Decimal(12, 2)
    assert "person_id" not in docn.columns
    for name in ["pgdp", "chiv", "itao", "kats", "chta"]:
        df = pl.read_delta(str(wh / "tables" / name))
        assert df["person_id"].str.contains(r"^[0-9a-f]{32}$").all(), name
    assert chta["practice_id"].str.contains(r"^[0-9a-f]{32}$").all()


def test_katz_categories_follow_the_scores_as_duckdb_computes_them(built):
    """KAT-001 by an independent SQL: dependent = score 3 or 4."""
    kats = pl.read_delta(str(built["warehouse"] / "tables" / "kats"))
    con = duckdb.connect()
    con.register("kats", kats.to_arrow())
    bad = con.execute(
        """
        WITH d AS (
          SELECT category, washing >= 3 AS w, dressing >= 3 AS dr, transfer >= 3 AS t,
                 toileting >= 3 AS toi, continence >= 3 AS c, eating >= 3 AS e FROM kats)
        SELECT count(*) FROM d WHERE
          CASE WHEN w AND dr AND t AND toi AND (c OR e) THEN category IN ('C', 'Cd')
               WHEN w AND dr AND (t OR toi) THEN category = 'B'
               WHEN w OR dr THEN category = 'A'
               ELSE category = 'O' END = false
        """
    ).fetchone()[0]
    assert bad == 0


def test_cross_database_agreements_hold_in_the_warehouse(built):
    """Every New Attest row extends a GZSS line of its person; every authorised chapter IV
    medicine is delivered to the person in FARU; every KATS/ITAO person is in POPU."""
    wh = built["warehouse"]
    con = duckdb.connect()
    for name in ["gzss", "faru", "popu", "pgdp", "chiv", "itao", "kats"]:
        con.register(name, pl.read_delta(str(wh / "tables" / name)).to_arrow())
    orphans = con.execute(
        """SELECT count(*) FROM pgdp p LEFT JOIN gzss g
           ON g.line_id = p.line_id AND g.insurer = p.insurer AND g.person_id = p.person_id
           AND g.period = p.period WHERE g.line_id IS NULL"""
    ).fetchone()[0]
    assert orphans == 0
    undelivered = con.execute(
        """SELECT count(*) FROM chiv c WHERE decision = 'A' AND NOT EXISTS (
             SELECT 1 FROM faru f WHERE f.person_id = c.person_id AND f.insurer = c.insurer
             AND starts_with(f.atc, c.atc) AND f.period >= c.period)"""
    ).fetchone()[0]
    assert undelivered == 0
    for name in ["itao", "kats"]:
        unknown = con.execute(
            f"""SELECT count(*) FROM {name} x WHERE NOT EXISTS (SELECT 1 FROM popu p
                WHERE p.person_id = x.person_id AND p.insurer = x.insurer AND p.period = x.period)"""
        ).fetchone()[0]
        assert unknown == 0, name


def test_documents_n_add_up_the_billing_lines(built):
    """DOCN is the GZSS lines summed by nomenclature and month of service (the synthesiser
    books them in the same year): the year's totals agree to the cent."""
    wh = built["warehouse"]
    con = duckdb.connect()
    con.register("gzss", pl.read_delta(str(wh / "tables" / "gzss")).to_arrow())
    con.register("docn", pl.read_delta(str(wh / "tables" / "docn")).to_arrow())
    g = con.execute(
        "SELECT insurer, nomenclature, sum(units), sum(amount_reimbursed) FROM gzss GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    d = con.execute(
        "SELECT insurer, nomenclature, sum(units), sum(amount_reimbursed) FROM docn GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert g == d


def test_pati_holds_the_other_databases_variables(built_derived):
    """The new PATI columns are filled (their values equal the DuckDB implementation in
    test_derived.py::test_aim_pati_equals_duckdb); here: they say something and agree with
    the source tables read by Polars."""
    wh = built_derived["warehouse"]
    pati = pl.read_delta(str(wh / "tables" / "pati")).filter(pl.col("year") == 2024)
    for c in ["incapacity_days_primary", "incapacity_days_invalidity"]:
        assert pati[c].min() >= 0 and pati[c].max() <= 366, c
        assert (pati[c] > 0).sum() > 0, c
    assert set(pati["incapacity_type"].unique()) == {"none", "primary", "invalidity"}
    assert set(pati["katz_category"].unique()) <= {"none", "O", "A", "B", "C", "Cd"}
    assert (pati["katz_category"] != "none").sum() > 0
    chta = pl.read_delta(str(wh / "tables" / "chta"))
    flat = set(chta.filter(pl.col("flat_fee"))["person_id"].unique())
    assert set(pati.filter(pl.col("flat_fee"))["person_id"]) == flat & set(pati["person_id"])
    assert len(flat) > 0
    chiv_cols = [c for c in pati.columns if c.startswith("chiv_")]
    assert "chiv_tnf_inhibitor" in chiv_cols
    assert sum(pati[c].sum() for c in chiv_cols) > 0
    assert any(c.startswith("fkg_") for c in pati.columns)
