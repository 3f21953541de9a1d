"""Edge cases of docs/derived-data.md injected into synthesised deliveries, before ingest.

The synthesiser writes clean stays: no correction line, no overlap, one day-hospital fee per
day stay. `inject(deliveries, year)` adds, in an extra file of the right delivery (manifest
rows and SHA-256 updated so the delivery stays valid for every ingest rule), lines that
exercise the HOSP rules, each on its own person:

- A cancelled_middle   a correction (units -1, amounts negated) of the 2nd day of a classic
                       stay: the day is cancelled and the stay splits in two;
- B billed_twice       a second line (units 1) for the 1st day of a classic stay;
- C overlap_previous   a day at a smaller institution id on the 2nd day of a classic stay:
                       the stay's institution, which has a day on the previous date, is kept;
- D overlap_smallest   days at a smaller institution id on the 1st and 2nd day of a classic
                       stay: the smallest id is kept on the 1st (no previous day), then again on
                       the 2nd (it is the institution kept the day before); the original
                       stay starts two days later and becomes a transfer;
- E day_twice          a second day-hospital line (units 1) for a day stay: two day stays;
- F day_cancelled      a day-hospital correction (units -1) for a day stay: no day stay;
- G fee_outside        a doctor's fee line at a hospital where the person has no stay;
- H gp_negative        a GP correction line (units -(n+2)) for a person with n GP contacts:
                       gp_contacts ends below zero and is reported as 0;
- I faru_correction    a FARU correction line (packages -1, DDD as delivered, amounts negated).

It returns the expected stays (truth/stays.csv with the changes above) and the expected
counts of the build report, so that the DuckDB derivation can be checked without aim, and
aim's build against both.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import duckdb

HOSPITAL_DAY, DAY_HOSPITAL, HOSPITAL_FEE, GP = "768014", "768036", "768051", ("101010", "101032", "103132")


def _d(s) -> dt.date:
    return s if isinstance(s, dt.date) else dt.date.fromisoformat(str(s))


def _neg(v: str) -> str:
    return v[1:] if v.startswith("-") else ("-" + v if v not in ("0.00", "0") else v)


def inject(deliveries: Path, year: int) -> dict:
    deliveries = Path(deliveries)
    con = duckdb.connect()
    gz_files = sorted(str(p) for p in deliveries.glob(f"*-GZSS-{year}Q*/*.csv*"))
    fa_files = sorted(str(p) for p in deliveries.glob(f"*-FARU-{year}Q*/*.csv*"))
    con.execute(f"CREATE TABLE g AS SELECT *, parse_dirpath(filename) AS dir FROM read_csv({gz_files!r}, delim=';', "
                "header=true, all_varchar=true, filename=true)")
    con.execute(f"CREATE TABLE f AS SELECT *, parse_dirpath(filename) AS dir FROM read_csv({fa_files!r}, delim=';', "
                "header=true, all_varchar=true, filename=true)")
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{deliveries / 'truth' / 'stays.csv'}', all_varchar=true)")
    gz_header = con.execute("SELECT * FROM g LIMIT 0").description
    gz_cols = [c[0] for c in gz_header if c[0] not in ("filename", "dir")]
    fa_cols = [c[0] for c in con.execute("SELECT * FROM f LIMIT 0").description if c[0] not in ("filename", "dir")]

    # Persons with exactly one stay in the year and no other stay the year before/after
    # (simple cases that do not interact), in a fixed order.
    con.execute(f"""
        CREATE TABLE simple AS
        SELECT t.* FROM t
        JOIN (SELECT person_id FROM t GROUP BY 1 HAVING count(*) = 1) USING (person_id)
        WHERE year(admission::DATE) = {year} AND transfer = 'false'
        ORDER BY person_id""")
    institutions = [r[0] for r in con.execute("SELECT DISTINCT institution_id FROM t ORDER BY 1").fetchall()]
    smallest = institutions[0]

    def lines(person: str, nomenclature: str, date: dt.date | None = None, inst: str | None = None) -> list[dict]:
        sql = "SELECT * FROM g WHERE person_id = ? AND nomenclature = ?"
        args = [person, nomenclature]
        if date is not None:
            sql += " AND service_date = ?"
            args.append(str(date))
        if inst is not None:
            sql += " AND institution_id = ?"
            args.append(inst)
        cur = con.execute(sql + " ORDER BY line_id", args)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    used: set[str] = set()

    def pick(kind: str, min_days: int = 0, not_smallest: bool = False) -> dict:
        # The stay and all of its days inside one quarter (a single delivery per insurer).
        cur = con.execute(f"""
            SELECT * FROM simple WHERE kind = ? AND (discharge::DATE - admission::DATE) >= ?
              AND quarter(admission::DATE) = quarter(greatest(discharge::DATE - 1, admission::DATE))
              AND year(discharge::DATE) = {year}
              {"AND institution_id <> '" + smallest + "'" if not_smallest else ""}""", [kind, min_days])
        names = [c[0] for c in cur.description]
        for r in cur.fetchall():
            s = dict(zip(names, r))
            if s["person_id"] not in used:
                used.add(s["person_id"])
                return s
        raise RuntimeError(f"no {kind} stay with {min_days} days for an edge case")

    added: dict[str, list[dict]] = {}  # delivery folder -> new GZSS lines
    added_faru: dict[str, list[dict]] = {}
    n = [0]

    def add(template: dict, **changes) -> None:
        n[0] += 1
        row = {c: (template[c] if template[c] is not None else "") for c in gz_cols}
        row.update({k: str(v) for k, v in changes.items()})
        row["line_id"] = f"E{year}-{n[0]}"
        added.setdefault(template["dir"], []).append(row)

    expected_stays = {"remove": [], "add": []}

    def stay_row(person, inst, adm, dis, kind, transfer, room) -> dict:
        return {"person_id": person, "institution_id": inst, "admission": str(adm), "discharge": str(dis),
                "kind": kind, "transfer": "true" if transfer else "false", "room_type": room or ""}

    cases = {}
    # A: cancel the 2nd day of a classic stay of >= 4 days.
    s = pick("classic", 4)
    adm, dis, inst = _d(s["admission"]), _d(s["discharge"]), s["institution_id"]
    day = lines(s["person_id"], HOSPITAL_DAY, adm + dt.timedelta(1), inst)[0]
    add(day, units="-1", amount_reimbursed=_neg(day["amount_reimbursed"]), copayment=_neg(day["copayment"]),
        supplement=_neg(day["supplement"]))
    expected_stays["remove"].append(stay_row(s["person_id"], inst, adm, dis, "classic", False, s["room_type"]))
    expected_stays["add"].append(stay_row(s["person_id"], inst, adm, adm + dt.timedelta(1), "classic", False, s["room_type"]))
    expected_stays["add"].append(stay_row(s["person_id"], inst, adm + dt.timedelta(2), dis, "classic", False, s["room_type"]))
    cases["A_cancelled_middle"] = s["person_id"]
    # B: bill the 1st day twice.
    s = pick("classic", 2)
    day = lines(s["person_id"], HOSPITAL_DAY, _d(s["admission"]), s["institution_id"])[0]
    add(day)
    cases["B_billed_twice"] = s["person_id"]
    # C: a day at the smallest institution on the 2nd day of a stay: the stay's institution wins.
    s = pick("classic", 3, not_smallest=True)
    day = lines(s["person_id"], HOSPITAL_DAY, _d(s["admission"]) + dt.timedelta(1), s["institution_id"])[0]
    add(day, institution_id=smallest)
    cases["C_overlap_previous"] = s["person_id"]
    # D: days at the smallest institution on the 1st and 2nd day: the smallest id wins both.
    s = pick("classic", 4, not_smallest=True)
    adm, dis, inst = _d(s["admission"]), _d(s["discharge"]), s["institution_id"]
    for k in (0, 1):
        day = lines(s["person_id"], HOSPITAL_DAY, adm + dt.timedelta(k), inst)[0]
        add(day, institution_id=smallest)
    expected_stays["remove"].append(stay_row(s["person_id"], inst, adm, dis, "classic", False, s["room_type"]))
    expected_stays["add"].append(stay_row(s["person_id"], smallest, adm, adm + dt.timedelta(2), "classic", False, s["room_type"]))
    expected_stays["add"].append(stay_row(s["person_id"], inst, adm + dt.timedelta(2), dis, "classic", True, s["room_type"]))
    cases["D_overlap_smallest"] = s["person_id"]
    outside = sum(1 for r in lines(s["person_id"], HOSPITAL_FEE, inst=inst) if _d(r["service_date"]) < adm + dt.timedelta(2))
    # E: a second day-hospital line: two day stays.
    s = pick("day")
    line = lines(s["person_id"], DAY_HOSPITAL, _d(s["admission"]), s["institution_id"])[0]
    add(line)
    expected_stays["add"].append(stay_row(s["person_id"], s["institution_id"], s["admission"], s["admission"], "day", False, ""))
    cases["E_day_twice"] = s["person_id"]
    # F: a day-hospital correction: the day stay is cancelled.
    s = pick("day")
    line = lines(s["person_id"], DAY_HOSPITAL, _d(s["admission"]), s["institution_id"])[0]
    add(line, units="-1", amount_reimbursed=_neg(line["amount_reimbursed"]), copayment=_neg(line["copayment"]),
        supplement=_neg(line["supplement"]))
    expected_stays["remove"].append(stay_row(s["person_id"], s["institution_id"], s["admission"], s["admission"], "day", False, ""))
    cases["F_day_cancelled"] = s["person_id"]
    outside += len(lines(s["person_id"], HOSPITAL_FEE, _d(s["admission"]), s["institution_id"]))
    # G: a doctor's fee at a hospital, for a person without any stay: outside every stay.
    gp_persons = con.execute(f"""
        SELECT person_id FROM g WHERE nomenclature IN {GP} AND person_id NOT IN (SELECT person_id FROM t)
        GROUP BY 1 HAVING count(*) >= 1 ORDER BY 1 LIMIT 2""").fetchall()
    person = gp_persons[0][0]
    gp_line = min((r for c in GP for r in lines(person, c)), key=lambda r: r["line_id"])
    add(gp_line, nomenclature=HOSPITAL_FEE, institution_id=smallest, room_type="", units="1")
    cases["G_fee_outside"] = person
    outside += 1
    # H: a GP correction that takes gp_contacts below zero.
    person = gp_persons[1][0]
    gp = [r for c in GP for r in lines(person, c)]
    total = sum(int(r["units"]) for r in gp)
    add(min(gp, key=lambda r: r["line_id"]), units=str(-(total + 2)), amount_reimbursed="-1.00", copayment="-1.00",
        supplement="0.00")
    cases["H_gp_negative"] = person
    # I: a FARU correction line.
    cur = con.execute("SELECT * FROM f WHERE packages = '1' ORDER BY person_id, line_id LIMIT 1")
    fl = dict(zip([c[0] for c in cur.description], cur.fetchone()))
    row = {c: (fl[c] if fl[c] is not None else "") for c in fa_cols}
    row.update(line_id=f"E{year}-F1", packages="-1", amount_reimbursed=_neg(fl["amount_reimbursed"]),
               copayment=_neg(fl["copayment"]))
    added_faru.setdefault(fl["dir"], []).append(row)
    cases["I_faru_correction"] = fl["person_id"]

    for folder, rows in added.items():
        _append_file(Path(folder), "gzss-901.csv", gz_cols, rows)
    for folder, rows in added_faru.items():
        _append_file(Path(folder), "faru-901.csv", fa_cols, rows)

    return {
        "cases": cases,
        "stays": expected_stays,
        "counts": {"cancelled_hospital_days": 1, "hospital_days_billed_twice": 1, "overlapping_hospital_days": 3,
                   "cancelled_day_stays": 1, "hospital_fees_outside_stays": outside},
        "gp_negative_person": cases["H_gp_negative"],
        "fee_outside_person": cases["G_fee_outside"],
    }


def _append_file(folder: Path, name: str, cols: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([r[c] for c in cols])
    data = buf.getvalue().encode()
    (folder / name).write_bytes(data)
    man = json.loads((folder / "manifest.json").read_text())
    man["files"].append({"name": name, "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()})
    (folder / "manifest.json").write_text(json.dumps(man, indent=2) + "\n")


def expected_truth(truth_csv: Path, year: int, changes: dict, out_csv: Path) -> Path:
    """truth/stays.csv of `year` with the edge cases' changes, written to `out_csv`."""
    with open(truth_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["admission"].startswith(str(year))]
    key = ["person_id", "institution_id", "admission", "discharge", "kind", "transfer", "room_type"]
    for r in changes["remove"]:
        i = next(i for i, x in enumerate(rows) if all(x[k] == r[k] for k in key))
        rows.pop(i)
    for r in changes["add"]:
        rows.append({**{k: "" for k in rows[0]}, **r})
    with open(out_csv, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out_csv


if __name__ == "__main__":  # manual use: python edge_cases.py DELIVERIES YEAR
    import sys

    print(json.dumps(inject(Path(sys.argv[1]), int(sys.argv[2])), indent=1))
