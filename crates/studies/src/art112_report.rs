//! The Article 112 result file's outputs (docs/studies.md): `report.html` (French and Dutch,
//! one table per period), `result.csv` and `result.xlsx` (every period's released cells with a
//! `period` column), all built from the released files read back.

use crate::StudyError;
use crate::art112::Request;
use crate::lorenz_report::{AreaNames, RunInfo};
use crate::run::Art112Table;
use aim_model::html::esc;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const COLUMNS: [&str; 4] = ["persons", "sum_packages", "sum_ddd", "sum_reimbursed"];

/// Writes the outputs of one request into `out`; returns their paths.
pub fn write(
    request: &Request,
    tables: &[Art112Table],
    names: &AreaNames,
    info: &RunInfo,
    out: &Path,
) -> Result<Vec<PathBuf>, StudyError> {
    let mut rows: Vec<Vec<String>> = vec![
        ["period", "region", "age band", "sex"]
            .iter()
            .chain(COLUMNS.iter())
            .map(|s| s.to_string())
            .collect(),
    ];
    for t in tables {
        for r in &t.rows {
            let mut line = vec![
                t.period.clone(),
                r.label("region").unwrap_or_default().to_string(),
                r.label("age band").unwrap_or_default().to_string(),
                r.label("sex").unwrap_or_default().to_string(),
            ];
            line.push(
                r.persons
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| aim_disclosure::SMALL_CELL.into()),
            );
            for c in &COLUMNS[1..] {
                line.push(
                    r.value(c)
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| aim_disclosure::SMALL_CELL.into()),
                );
            }
            rows.push(line);
        }
    }
    let csv_path = out.join("result.csv");
    let mut csv = String::new();
    for r in &rows {
        csv.push_str(&crate::lorenz_report::csv_line(r.iter().cloned()));
    }
    std::fs::write(&csv_path, &csv).map_err(|source| StudyError::Write {
        file: csv_path.clone(),
        source,
    })?;
    let xlsx = out.join("result.xlsx");
    crate::lorenz_report::workbook(&xlsx, &[("result", &csv)])?;
    let html_path = out.join("report.html");
    std::fs::write(&html_path, report(request, tables, names, info)).map_err(|source| {
        StudyError::Write {
            file: html_path.clone(),
            source,
        }
    })?;
    Ok(vec![html_path, csv_path, xlsx])
}

fn report(request: &Request, tables: &[Art112Table], names: &AreaNames, info: &RunInfo) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Article 112 — {t}</title>\
         <style>body{{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:right}}\
         td:nth-child(-n+3),th:nth-child(-n+3){{text-align:left}}.nl{{color:#555}}.masked{{color:#888;font-style:italic}}</style></head><body>\
         <h1>Article 112 — {t}</h1><p>{c} · ATC {atc} · CNK {cnk}</p>\
         <p>Projet / Project {p} · source : {s} · {when}</p>\
         <p>Conditionnements remboursés, doses journalières définies (DDD), patients et montants remboursés, \
         par région, tranche d'âge et sexe ; chaque cellule publiée par le filtre de confidentialité. \
         <span class=\"nl\">Terugbetaalde verpakkingen, gedefinieerde dagdoses (DDD), patiënten en terugbetaalde \
         bedragen, per gewest, leeftijdsgroep en geslacht; elke cel vrijgegeven door de vertrouwelijkheidsfilter.</span></p>",
        t = esc(&request.title),
        c = esc(&request.company),
        atc = esc(&request.atc.join(", ")),
        cnk = esc(&request.cnk.join(", ")),
        p = esc(&info.project),
        s = esc(&info.source),
        when = esc(&info.created),
    );
    let masked = "<span class=\"masked\">cellule masquée / afgeschermde cel</span>";
    for t in tables {
        let _ = write!(
            h,
            "<h2>{}</h2><table><tr><th>Région / Gewest</th><th>Âge / Leeftijd</th><th>Sexe / Geslacht</th>\
             <th>Patients / Patiënten</th><th>Conditionnements / Verpakkingen</th><th>DDD</th><th>Remboursé / Terugbetaald (€)</th></tr>",
            esc(&t.period)
        );
        for r in &t.rows {
            let region = r.label("region").unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                esc(&format!("{} / {}", names.fr(region), names.nl(region))),
                esc(r.label("age band").unwrap_or_default()),
                esc(r.label("sex").unwrap_or_default()),
                r.persons
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| masked.into()),
            );
            for c in &COLUMNS[1..] {
                let _ = write!(
                    h,
                    "<td>{}</td>",
                    r.value(c)
                        .map(|v| format!("{v:.2}"))
                        .unwrap_or_else(|| masked.into())
                );
            }
            h.push_str("</tr>");
        }
        let _ = write!(
            h,
            "</table><p class=\"nl\">release {} · {} cellules / cellen</p>",
            esc(&t.outcome.id),
            t.outcome.cells
        );
    }
    h.push_str("</body></html>\n");
    h
}
