//! The hospital cost barometer's outputs (docs/studies.md): `report.html` (French and Dutch,
//! per year and kind of stay: what a patient pays per stay in each hospital, drawn as bars,
//! and the single-room vs shared-room comparison), `barometer.csv` and `barometer.xlsx` (every
//! released cell with the means computed from it). Built from the released files read back.

use crate::StudyError;
use crate::barometer::{ALL_HOSPITALS, Costs, MEASURES, StayKind, costs};
use crate::lorenz_report::{RunInfo, csv_line, workbook, write_file};
use crate::run::BarometerTable;
use aim_model::html::esc;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The computed columns of `barometer.csv`, after the released sums.
const MEANS: [&str; 7] = [
    "out_of_pocket_per_stay",
    "copayment_per_stay",
    "supplement_per_stay",
    "supplement_per_day_single",
    "supplement_per_day_shared",
    "out_of_pocket_per_stay_single",
    "out_of_pocket_per_stay_shared",
];

fn means(c: &Costs) -> [Option<f64>; 7] {
    [
        c.out_of_pocket_per_stay,
        c.copayment_per_stay,
        c.supplement_per_stay,
        c.supplement_per_day_single,
        c.supplement_per_day_shared,
        c.out_of_pocket_per_stay_single,
        c.out_of_pocket_per_stay_shared,
    ]
}

fn cell(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| aim_disclosure::SMALL_CELL.into())
}

/// A hospital's label in the report: its coded number, shortened (the CSV keeps it whole).
fn short(hospital: &str) -> String {
    if hospital == ALL_HOSPITALS {
        return "Belgique / België".into();
    }
    format!("H-{}", hospital.chars().take(8).collect::<String>())
}

/// Writes the barometer's outputs into `out`; returns their paths.
pub fn write(
    tables: &[BarometerTable],
    info: &RunInfo,
    out: &Path,
) -> Result<Vec<PathBuf>, StudyError> {
    let mut csv = csv_line(
        ["year", "kind", "hospital", "patients"]
            .into_iter()
            .map(String::from)
            .chain(MEASURES.iter().map(|m| format!("sum_{m}")))
            .chain(MEANS.iter().map(|m| m.to_string())),
    );
    for t in tables {
        for r in &t.rows {
            let c = costs(r);
            csv.push_str(&csv_line(
                [
                    t.year.to_string(),
                    t.kind.as_str().to_string(),
                    r.label("hospital").unwrap_or_default().to_string(),
                    r.persons
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| aim_disclosure::SMALL_CELL.into()),
                ]
                .into_iter()
                .chain(MEASURES.iter().map(|m| cell(r.value(&format!("sum_{m}")))))
                .chain(means(&c).into_iter().map(cell)),
            ));
        }
    }
    let csv_path = out.join("barometer.csv");
    write_file(&csv_path, &csv)?;
    let xlsx = out.join("barometer.xlsx");
    workbook(&xlsx, &[("barometer", &csv)])?;
    let html = out.join("report.html");
    write_file(&html, &report(tables, info))?;
    Ok(vec![html, csv_path, xlsx])
}

fn euros(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "<span class=\"masked\">—</span>".into())
}

fn report(tables: &[BarometerTable], info: &RunInfo) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">\
         <title>Baromètre des coûts hospitaliers / Barometer ziekenhuiskosten</title>\
         <style>body{{font-family:sans-serif;max-width:72em;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.nl{{color:#555}}.masked{{color:#888}}</style></head><body>\
         <h1>Baromètre des coûts hospitaliers <span class=\"nl\">/ Barometer van de ziekenhuiskosten</span></h1>\
         <p>Projet / Project {p} · source : {s} · {when}</p>\
         <p>Ce que paie le patient par séjour (ticket modérateur et suppléments), par hôpital, pour les \
         hospitalisations classiques et l'hôpital de jour, et la comparaison chambre individuelle / chambre \
         commune. Chaque patient compte dans l'hôpital de son premier séjour de l'année ; ses séjours dans un \
         autre hôpital la même année sont comptés à part. Chaque chiffre a été publié par le filtre de \
         confidentialité ; « — » : cellule masquée.</p>\
         <p class=\"nl\">Wat de patiënt per opname betaalt (remgeld en supplementen), per ziekenhuis, voor \
         klassieke opnames en daghospitalisatie, en de vergelijking eenpersoonskamer / gemeenschappelijke \
         kamer. Elke patiënt telt in het ziekenhuis van zijn eerste opname van het jaar; zijn opnames in een \
         ander ziekenhuis hetzelfde jaar worden apart geteld. Elk cijfer werd vrijgegeven door de \
         vertrouwelijkheidsfilter; « — »: afgeschermde cel.</p>",
        p = esc(&info.project),
        s = esc(&info.source),
        when = esc(&info.created),
    );
    for t in tables {
        let (fr, nl) = t.kind.names();
        let total = t
            .rows
            .iter()
            .find(|r| r.label("hospital") == Some(ALL_HOSPITALS));
        let _ = write!(
            h,
            "<h2>{} {fr} <span class=\"nl\">/ {nl}</span></h2>",
            t.year
        );
        if let Some(total) = total {
            let c = costs(total);
            let elsewhere = total.value("sum_stays_other_hospital");
            let _ = write!(
                h,
                "<p>Belgique / België : {} patients, {} séjours / opnames, {} € par séjour / per opname \
                 ({} € ticket modérateur / remgeld, {} € suppléments / supplementen); \
                 séjours dans un autre hôpital / opnames in een ander ziekenhuis : {}.</p>",
                total
                    .persons
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "—".into()),
                euros(c.stays).trim_end_matches(".00"),
                euros(c.out_of_pocket_per_stay),
                euros(c.copayment_per_stay),
                euros(c.supplement_per_stay),
                euros(elsewhere).trim_end_matches(".00"),
            );
            if t.kind == StayKind::Classic {
                let _ = write!(
                    h,
                    "<p>Chambre individuelle / eenpersoonskamer : {} € par séjour / per opname, {} € de \
                     suppléments par jour / supplementen per dag. Chambre commune / gemeenschappelijke kamer : \
                     {} € par séjour / per opname, {} € par jour / per dag.</p>",
                    euros(c.out_of_pocket_per_stay_single),
                    euros(c.supplement_per_day_single),
                    euros(c.out_of_pocket_per_stay_shared),
                    euros(c.supplement_per_day_shared),
                );
            }
        }
        h.push_str(&chart(t));
        h.push_str(
            "<table><tr><th>Hôpital / Ziekenhuis</th><th>Patients / Patiënten</th><th>Séjours / Opnames</th>\
             <th>€ par séjour / per opname</th><th>Ticket modérateur / Remgeld</th><th>Suppléments / Supplementen</th>",
        );
        if t.kind == StayKind::Classic {
            h.push_str(
                "<th>Individuelle / Eenpersoons (€ par séjour / per opname)</th>\
                 <th>Commune / Gemeenschappelijk (€ par séjour / per opname)</th>",
            );
        }
        h.push_str("</tr>");
        for r in &t.rows {
            let c = costs(r);
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                esc(&short(r.label("hospital").unwrap_or_default())),
                c.patients
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "<span class=\"masked\">—</span>".into()),
                euros(c.stays).trim_end_matches(".00"),
                euros(c.out_of_pocket_per_stay),
                euros(c.copayment_per_stay),
                euros(c.supplement_per_stay),
            );
            if t.kind == StayKind::Classic {
                let _ = write!(
                    h,
                    "<td>{}</td><td>{}</td>",
                    euros(c.out_of_pocket_per_stay_single),
                    euros(c.out_of_pocket_per_stay_shared)
                );
            }
            h.push_str("</tr>");
        }
        let _ = write!(
            h,
            "</table><p class=\"nl\">release {} · {} cellules / cellen, {} masquées / afgeschermd</p>",
            esc(&t.outcome.id),
            t.outcome.cells,
            t.outcome.hidden()
        );
    }
    h.push_str("</body></html>\n");
    h
}

/// Horizontal bars: out of pocket per stay in each hospital whose mean was released, highest
/// first, with the national figure as a line.
fn chart(t: &BarometerTable) -> String {
    let mut bars: Vec<(String, f64)> = t
        .rows
        .iter()
        .filter(|r| r.label("hospital") != Some(ALL_HOSPITALS))
        .filter_map(|r| {
            costs(r)
                .out_of_pocket_per_stay
                .map(|v| (short(r.label("hospital").unwrap_or_default()), v))
        })
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    let national = t
        .rows
        .iter()
        .find(|r| r.label("hospital") == Some(ALL_HOSPITALS))
        .and_then(|r| costs(r).out_of_pocket_per_stay);
    let max = bars
        .iter()
        .map(|b| b.1)
        .chain(national)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (left, width, row) = (110.0, 420.0, 14.0);
    let height = row * bars.len() as f64 + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" role=\"img\" \
         aria-label=\"€ par séjour par hôpital / € per opname per ziekenhuis\" font-size=\"10\">",
        w = left + width + 60.0
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + row * i as f64;
        let len = width * v / max;
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{l}</text>\
             <rect x=\"{left}\" y=\"{y}\" width=\"{len:.1}\" height=\"{bh}\" fill=\"#1b5e8c\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\">{v:.0}</text>",
            tx = left - 4.0,
            ty = y + row - 4.0,
            l = esc(label),
            bh = row - 3.0,
            vx = left + len + 3.0,
        );
    }
    if let Some(n) = national {
        let x = left + width * n / max;
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"6\" y2=\"{y2}\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{x:.1}\" y=\"{ty}\" fill=\"#c0392b\">Belgique / België {n:.0} €</text>",
            y2 = height - 18.0,
            ty = height - 6.0,
        );
    }
    s.push_str("</svg>");
    s
}
