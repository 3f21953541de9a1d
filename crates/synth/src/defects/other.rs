//! Defects of the other databases, one per rule they have (CHI-001, ITA-001, KAT-001,
//! CHT-001, DOC-001) and per cross-database rule (XDB-001, XDB-002, POP-001 on a Katz
//! assessment).

use super::{Defect, folder, load, record};
use crate::SynthError;
use aim_model::{Database, Insurer};
use std::path::Path;

/// A level-5 ATC code of the reference list the generator never delivers (XDB-001).
pub const NEVER_DELIVERED_ATC: &str = "L01BA01";

/// Injects the defects of the other databases of `year` under `out`.
pub(super) fn inject(
    out: &Path,
    year: i32,
    coder: &aim_ttp::Coder,
    gzip: bool,
    seed: u64,
) -> Result<Vec<Defect>, SynthError> {
    use Insurer::*;
    let mut found = Vec::new();

    // 12. A Katz category the scores do not give.
    let (dir, name) = folder(out, Liberal, Database::Kats, year, 2);
    let mut d = load(&dir)?;
    let c = d.col("category");
    let rows: Vec<_> = d
        .spread(3, seed ^ 12)
        .into_iter()
        .filter(|at| d.get(*at, c) != "O")
        .collect();
    for at in &rows {
        d.set(*at, c, "O");
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "katz_category_inconsistent",
            "row",
            rows.len() as u64,
            "KAT-001: the Katz category is not the one the six scores give; rows flagged",
            "category set to O on rows whose scores give A, B or C".into(),
        ));
    }

    // 13. An incapacity episode that ends before it starts.
    let (dir, name) = folder(out, Neutral, Database::Itao, year, 1);
    let mut d = load(&dir)?;
    let (sc, ec) = (d.col("start_date"), d.col("end_date"));
    let q_start = chrono::NaiveDate::from_ymd_opt(year, 1, 2).expect("date");
    let rows: Vec<_> = d
        .spread(60, seed ^ 13)
        .into_iter()
        .filter(|at| {
            d.get(*at, sc)
                .parse::<chrono::NaiveDate>()
                .is_ok_and(|s| s >= q_start)
        })
        .take(3)
        .collect();
    for at in &rows {
        let s: chrono::NaiveDate = d.get(*at, sc).parse().expect("checked");
        d.set(*at, ec, &(s - chrono::Days::new(1)).to_string());
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "incapacity_ends_before_start",
            "row",
            rows.len() as u64,
            "ITA-001: an incapacity episode ends the day before it starts; rows flagged",
            "end_date set to start_date - 1 day".into(),
        ));
    }

    // 14. A chapter IV authorisation whose validity ends before it starts.
    let (dir, name) = folder(out, Socialist, Database::Chiv, year, 1);
    let mut d = load(&dir)?;
    let (dc, fc, tc) = (d.col("decision"), d.col("valid_from"), d.col("valid_to"));
    let rows: Vec<_> = d
        .spread(6, seed ^ 14)
        .into_iter()
        .filter(|at| d.get(*at, dc) == "A")
        .take(2)
        .collect();
    for at in &rows {
        let (f, t) = (d.get(*at, fc).to_string(), d.get(*at, tc).to_string());
        d.set(*at, fc, &t);
        d.set(*at, tc, &f);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(
            &name,
            "chapter_iv_validity_reversed",
            "row",
            rows.len() as u64,
            "CHI-001: an authorisation's validity ends before it starts; rows flagged",
            "valid_from and valid_to swapped".into(),
        ));
    }

    // 15. A GP patient file with neither a global medical file nor a flat fee.
    let (dir, name) = folder(out, Christian, Database::Chta, year, 1);
    let mut d = load(&dir)?;
    let (gc, fc) = (d.col("global_medical_file"), d.col("flat_fee"));
    let rows = d.spread(4, seed ^ 15);
    for at in &rows {
        d.set(*at, gc, "false");
        d.set(*at, fc, "false");
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "gp_file_empty", "row", rows.len() as u64, "CHT-001: a GP patient file row holds neither a global medical file nor a flat-fee enrolment; rows flagged", "global_medical_file and flat_fee set to false".into()));
    }

    // 16. Documents N booked before the services were provided.
    let (dir, name) = folder(out, Auxiliary, Database::Docn, year, 1);
    let mut d = load(&dir)?;
    let (bc, sc) = (d.col("booking_month"), d.col("service_month"));
    let rows = d.spread(3, seed ^ 16);
    for at in &rows {
        let b: chrono::NaiveDate = d.get(*at, bc).parse().expect("a date");
        let after = b + chrono::Months::new(1);
        d.set(*at, sc, &after.to_string());
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "docn_booked_before_service", "row", rows.len() as u64, "DOC-001: a documents N row books services of the month after its booking month; rows flagged", "service_month set to booking_month + 1 month".into()));
    }

    // 17. An authorisation whose medicine the pharmacy file never delivers.
    let (dir, name) = folder(out, Christian, Database::Chiv, year, 1);
    let mut d = load(&dir)?;
    let (dc, ac) = (d.col("decision"), d.col("atc"));
    let rows: Vec<_> = d
        .spread(30, seed ^ 17)
        .into_iter()
        .filter(|at| d.get(*at, dc) == "A")
        .take(3)
        .collect();
    for at in &rows {
        d.set(*at, ac, NEVER_DELIVERED_ATC);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "authorised_never_delivered", "row", rows.len() as u64, "XDB-001 (cross-database): a chapter IV authorisation for a medicine that FARU never delivers to the person; rows kept, flagged (warning)", format!("atc set to {NEVER_DELIVERED_ATC}")));
    }

    // 18. New Attest rows that extend no billing line.
    let (dir, name) = folder(out, Railway, Database::Pgdp, year, 1);
    let mut d = load(&dir)?;
    let lc = d.col("line_id");
    let rows = d.spread(3, seed ^ 18);
    for (k, at) in rows.iter().enumerate() {
        d.set(*at, lc, &format!("G0000-0-{k}"));
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "new_attest_without_line", "row", rows.len() as u64, "XDB-002 (cross-database): a PGDP row whose line_id is no GZSS line of the person in the quarter; rows kept, flagged (warning)", "line_id set to G0000-0-<n>".into()));
    }

    // 19. A Katz assessment of a person unknown to POPU.
    let (dir, name) = folder(out, Neutral, Database::Kats, year, 3);
    let mut d = load(&dir)?;
    let c = d.col("person_id");
    let ghost = coder.code_person(aim_ttp::niss::Niss::from_base(101_996, false).digits())?;
    let rows = d.spread(1, seed ^ 19);
    for at in &rows {
        d.set(*at, c, &ghost);
    }
    if !rows.is_empty() {
        d.save(gzip)?;
        found.push(record(&name, "katz_person_not_in_popu", "row", rows.len() as u64, "POP-001 (cross-database): a Katz assessment of a person not in the insurer's POPU for the quarter; rows flagged", format!("person_id set to {ghost}")));
    }
    Ok(found)
}
