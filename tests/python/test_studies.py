"""The studies against an independent computation on the same files (docs/studies.md).

`aim study lorenz` releases, through the gate, each area's quantile groups of persons sorted by
spending; here Polars reads PATI from the warehouse's Delta table, cuts the same groups by its
own code, and the Gini coefficients, top shares and group sums of the report must equal what it
finds, wherever the gate released them. Nothing in the outputs may be a value the gate hid.
"""

import csv
import shutil
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from conftest import run_aim

YEAR = 2024
BOUNDS = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 99, 100]
TOPS = [1, 5, 10, 20]
DEFINITION = f"""
title_fr = "Concentration"
title_nl = "Concentratie"
bounds = {BOUNDS}
top_shares = {TOPS}
[[measure]]
column = "reimbursed_total"
fr = "Total"
nl = "Totaal"
breakdowns = ["belgium", "insurer"]
[[breakdown]]
id = "belgium"
fr = "Belgique"
nl = "België"
[[breakdown]]
id = "insurer"
fr = "OA"
nl = "VI"
area = "p.insurer"
"""


def label(i: int) -> str:
    lo = 0 if i == 0 else BOUNDS[i - 1]
    return f"P{lo:02d}-{BOUNDS[i]:02d}"


def groups(persons: pl.DataFrame) -> list[tuple[int, float]]:
    """(persons, spending) of each quantile group of one area, by this file's own cut."""
    s = persons.sort(["spending", "person_id"])
    n = s.height
    spending = s["spending"].to_list()
    out, start = [], 0
    for b in BOUNDS:
        end = n if b == 100 else max((rn for rn in range(1, n + 1) if rn * 100 <= b * n), default=0)
        end = max(end, start)
        out.append((end - start, sum(spending[start:end])))
        start = end
    return out


def gini(gs: list[tuple[int, float]]) -> float:
    n = sum(p for p, _ in gs)
    t = sum(s for _, s in gs)
    area, cx, cy = 0.0, 0.0, 0.0
    for p, s in gs:
        x, y = cx + p / n, cy + s / t
        area += (x - cx) * (y + cy)
        cx, cy = x, y
    return 1 - area


@pytest.fixture(scope="module")
def lorenz(built_derived, accounts, tmp_path_factory):
    root = tmp_path_factory.mktemp("lorenz")
    wh = root / "warehouse"
    shutil.copytree(built_derived["warehouse"], wh)
    shutil.rmtree(wh / "releases", ignore_errors=True)
    definition = root / "lorenz.toml"
    definition.write_text(DEFINITION)
    out = root / "out"
    r = run_aim("study", "lorenz", "--project", accounts["projects"]["population"],
                "--warehouse", str(wh), "--source", "population", "--year", str(YEAR),
                "--definition", str(definition), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    pati = pl.from_arrow(DeltaTable(str(wh / "tables" / "pati")).to_pyarrow_table())
    pati = pati.filter((pl.col("year") == YEAR) & (pl.col("quarters_insured") > 0)).select(
        "person_id", "insurer", spending=pl.col("reimbursed_total").fill_null(0).cast(pl.Float64))
    return out, pati


def summary(out: Path) -> list[dict]:
    with open(out / "lorenz-summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_gini_and_top_shares_equal_an_independent_computation(lorenz):
    out, pati = lorenz
    rows = summary(out)
    checked = 0
    for row in rows:
        area = pati if row["breakdown"] == "belgium" else pati.filter(pl.col("insurer") == row["area"])
        gs = groups(area)
        assert int(row["persons"]) == area.height
        assert float(row["total"]) == pytest.approx(area["spending"].sum(), abs=0.01)
        if row["gini"]:
            assert float(row["gini"]) == pytest.approx(gini(gs), abs=1e-5)
            checked += 1
        for top in TOPS:
            v = row[f"top_{top}pct_share"]
            if v:
                first = BOUNDS.index(100 - top) + 1
                share = sum(s for _, s in gs[first:]) / area["spending"].sum()
                assert float(v) == pytest.approx(share, abs=1e-5)
    assert checked >= 2, rows  # Belgium and at least one insurer carry a curve


def test_the_released_groups_equal_the_independent_cut_and_hidden_ones_leave_no_number(lorenz):
    out, pati = lorenz
    released = out / "released" / f"lorenz-reimbursed_total-insurer-{YEAR}.csv"
    with open(released, newline="") as f:
        cells = list(csv.DictReader(f))
    hidden = 0
    for cell in cells:
        if cell["area"] == "Belgium" or cell["quantile group"] == "all persons":
            continue
        gs = groups(pati.filter(pl.col("insurer") == cell["area"]))
        i = [label(k) for k in range(len(BOUNDS))].index(cell["quantile group"])
        if cell["persons"] == "small cell":
            hidden += 1
            assert cell["sum_spending"] == "small cell"
            continue
        assert int(cell["persons"]) == gs[i][0]
        if cell["sum_spending"] != "small cell":  # else hidden by the contributor rule
            assert float(cell["sum_spending"]) == pytest.approx(gs[i][1], abs=0.01)
    assert hidden > 0, "the small insurers' groups are hidden at 3,000 persons"
    # An area with a hidden group has no curve, no Gini and no point in any output.
    incomplete = {r["area"] for r in summary(out) if int(r["hidden_groups"]) > 0}
    assert incomplete
    for r in summary(out):
        if r["area"] in incomplete and r["breakdown"] == "insurer":
            assert r["gini"] == ""
    with open(out / "lorenz-points.csv", newline="") as f:
        plotted = {(p["breakdown"], p["area"]) for p in csv.DictReader(f)}
    assert not {("insurer", a) for a in incomplete} & plotted
    html = (out / "report.html").read_text()
    assert "cellule masquée" in html


ART112 = """
id = "diabetes"
title = "Antidiabetics"
company = "Test Pharma"
atc = ["A10"]
years = [2024]
"""
AGE_BANDS = [("0-17", 0, 17), ("18-44", 18, 44), ("45-64", 45, 64), ("65-74", 65, 74),
             ("75-84", 75, 84), ("85+", 85, 200)]


def delta(wh: Path, name: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(wh / "tables" / name)).to_pyarrow_table())


def test_art112_cells_equal_an_independent_computation(built_derived, accounts, tmp_path):
    wh = tmp_path / "warehouse"
    shutil.copytree(built_derived["warehouse"], wh)
    shutil.rmtree(wh / "releases", ignore_errors=True)
    requests = tmp_path / "art112.toml"
    requests.write_text(ART112)
    out = tmp_path / "out"
    r = run_aim("study", "art112", "--project", accounts["projects"]["population"],
                "--warehouse", str(wh), "--requests", str(requests), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    faru = delta(wh, "faru").filter(
        pl.col("atc").str.starts_with("A10")
        & (pl.col("delivery_date") >= pl.date(YEAR, 1, 1))
        & (pl.col("delivery_date") < pl.date(YEAR + 1, 1, 1)))
    pati = delta(wh, "pati").filter(pl.col("year") == YEAR)
    muni = delta(wh, "ref_municipality_2025").select(pl.col("nis"), pl.col("region"))
    band = pl.lit(None, dtype=pl.Utf8)
    for label, lo, hi in reversed(AGE_BANDS):
        band = pl.when(pl.col("age").is_between(lo, hi)).then(pl.lit(label)).otherwise(band)
    persons = (faru.group_by("person_id").agg(
        packages=pl.col("packages").sum(), ddd=pl.col("ddd").sum(),
        reimbursed=pl.col("amount_reimbursed").cast(pl.Float64).sum())
        .join(pati.select("person_id", "age", "sex", "municipality_2025"), on="person_id")
        .join(muni, left_on="municipality_2025", right_on="nis")
        .with_columns(age_band=band))
    with open(out / "diabetes" / "result.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    released = hidden = 0
    for cell in cells:
        sel = persons
        if cell["region"] != "Belgium":
            sel = sel.filter(pl.col("region") == cell["region"])
        if cell["age band"] != "all ages":
            sel = sel.filter(pl.col("age_band") == cell["age band"])
        if cell["sex"] != "all":
            sel = sel.filter(pl.col("sex") == cell["sex"])
        if cell["persons"] == "small cell":
            hidden += 1
            assert cell["sum_packages"] == cell["sum_ddd"] == cell["sum_reimbursed"] == "small cell"
            continue
        released += 1
        assert int(cell["persons"]) == sel.height, cell
        for col, ours in [("packages", "sum_packages"), ("ddd", "sum_ddd"), ("reimbursed", "sum_reimbursed")]:
            if cell[ours] != "small cell":
                assert float(cell[ours]) == pytest.approx(sel[col].sum(), abs=0.01), (cell, col)
    assert released > 0 and hidden > 0, (released, hidden)
    assert (out / "diabetes" / "result.xlsx").exists()
    assert "cellule masquée" in (out / "diabetes" / "report.html").read_text()


def test_barometer_cells_and_means_equal_an_independent_computation(built_derived, accounts, tmp_path):
    wh = tmp_path / "warehouse"
    shutil.copytree(built_derived["warehouse"], wh)
    shutil.rmtree(wh / "releases", ignore_errors=True)
    out = tmp_path / "out"
    r = run_aim("study", "barometer", "--project", accounts["projects"]["population"],
                "--warehouse", str(wh), "--source", "population", "--year", str(YEAR),
                "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    hosp = delta(wh, "hosp").filter((pl.col("year") == YEAR) & pl.col("institution_id").is_not_null())
    with open(out / "barometer.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    released = hidden = 0
    for kind in ["classic", "day"]:
        stays = hosp.filter(pl.col("kind") == kind).with_columns(
            copayment=pl.col("copayment").cast(pl.Float64),
            supplement=pl.col("supplement").cast(pl.Float64))
        # Each patient counts in the hospital of their first stay (admission, then hospital).
        first = (stays.sort(["person_id", "admission", "institution_id"])
                 .group_by("person_id", maintain_order=True).first()
                 .select("person_id", first_hospital=pl.col("institution_id")))
        stays = stays.join(first, on="person_id")
        kept = stays.filter(pl.col("institution_id") == pl.col("first_hospital"))
        elsewhere = stays.filter(pl.col("institution_id") != pl.col("first_hospital"))

        def expect(sel: pl.DataFrame, others: pl.DataFrame) -> dict:
            single = sel.filter(pl.col("room_type") == "S")
            shared = sel.filter(pl.col("room_type") == "C")
            return {
                "patients": sel["person_id"].n_unique(),
                "sum_stays": sel.height,
                "sum_days": sel["billed_days"].sum(),
                "sum_copayment": sel["copayment"].sum(),
                "sum_supplement": sel["supplement"].sum(),
                "sum_stays_single": single.height,
                "sum_supplement_single": single["supplement"].sum(),
                "sum_days_shared": shared["billed_days"].sum(),
                "sum_stays_other_hospital": others.height,
                "out_of_pocket_per_stay": (sel["copayment"].sum() + sel["supplement"].sum()) / sel.height,
            }

        for cell in (c for c in cells if c["kind"] == kind and c["year"] == str(YEAR)):
            if cell["hospital"] == "Belgium":
                want = expect(kept, elsewhere)
            else:
                h = cell["hospital"]
                want = expect(kept.filter(pl.col("first_hospital") == h),
                              elsewhere.filter(pl.col("first_hospital") == h))
            if cell["patients"] == "small cell":
                hidden += 1
                assert all(cell[k] == "small cell" for k in want if k != "patients"), cell
                continue
            released += 1
            assert int(cell["patients"]) == want["patients"], cell
            for k, v in want.items():
                if k != "patients" and cell[k] != "small cell":
                    assert float(cell[k]) == pytest.approx(v, abs=0.01), (kind, cell["hospital"], k)
    assert released > 2, (released, hidden)
    html = (out / "report.html").read_text()
    assert "Baromètre des coûts hospitaliers" in html and "<svg" in html
    assert (out / "barometer.xlsx").exists()
