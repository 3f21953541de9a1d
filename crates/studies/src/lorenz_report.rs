//! The Lorenz study's outputs (docs/studies.md): a report a policy maker reads (HTML, French
//! and Dutch, with the curves drawn as SVG), and the data an analyst reuses (CSV and XLSX:
//! one row per area with its Gini and top shares; one row per point of each curve). Built
//! from [`crate::run::LorenzTable`], itself read from the released files only.

use crate::StudyError;
use crate::lorenz::{BELGIUM, Definition};
use crate::run::LorenzTable;
use aim_model::html::esc;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Names of the areas in French and Dutch, by their released label (region NIS code,
/// insurer code); an area without a name is shown by its label.
#[derive(Debug, Clone, Default)]
pub struct AreaNames(pub BTreeMap<String, (String, String)>);

impl AreaNames {
    /// The French name.
    pub fn fr(&self, area: &str) -> String {
        match area {
            BELGIUM => "Belgique".into(),
            a => self
                .0
                .get(a)
                .map(|n| n.0.clone())
                .unwrap_or_else(|| a.into()),
        }
    }
    /// The Dutch name.
    pub fn nl(&self, area: &str) -> String {
        match area {
            BELGIUM => "België".into(),
            a => self
                .0
                .get(a)
                .map(|n| n.1.clone())
                .unwrap_or_else(|| a.into()),
        }
    }
}

/// About the run, printed in the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The project the tables were released for.
    pub project: String,
    /// `sample` or `population`.
    pub source: String,
    /// When (RFC 3339).
    pub created: String,
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), StudyError> {
    std::fs::write(path, text).map_err(|source| StudyError::Write {
        file: path.to_path_buf(),
        source,
    })
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

/// Writes `lorenz-summary.csv`, `lorenz-points.csv`, `lorenz.xlsx` and `report.html` into
/// `out`; returns their paths.
pub fn write(
    def: &Definition,
    tables: &[LorenzTable],
    names: &AreaNames,
    info: &RunInfo,
    out: &Path,
) -> Result<Vec<PathBuf>, StudyError> {
    let tops: Vec<u32> = def.top_shares.clone();
    let mut summary = csv_line(
        [
            "measure",
            "breakdown",
            "year",
            "area",
            "persons",
            "total",
            "gini",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(tops.iter().map(|t| format!("top_{t}pct_share")))
        .chain(["hidden_groups".to_string(), "release".to_string()]),
    );
    let mut points = csv_line(
        [
            "measure",
            "breakdown",
            "year",
            "area",
            "persons_share",
            "spending_share",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for t in tables {
        for a in &t.areas {
            summary.push_str(&csv_line(
                [
                    t.measure.clone(),
                    t.breakdown.clone(),
                    t.year.to_string(),
                    a.area.clone(),
                    a.persons.map(|n| n.to_string()).unwrap_or_default(),
                    opt(a.total, 2),
                    opt(a.gini, 6),
                ]
                .into_iter()
                .chain(a.top_shares.iter().map(|(_, s)| opt(*s, 6)))
                .chain([a.hidden_groups.to_string(), t.outcome.id.clone()]),
            ));
            for p in std::iter::once((0.0, 0.0))
                .chain(a.curve.iter().flatten().map(|p| (p.persons, p.spending)))
                .filter(|_| a.curve.is_some())
            {
                points.push_str(&csv_line([
                    t.measure.clone(),
                    t.breakdown.clone(),
                    t.year.to_string(),
                    a.area.clone(),
                    format!("{:.6}", p.0),
                    format!("{:.6}", p.1),
                ]));
            }
        }
    }
    let summary_path = out.join("lorenz-summary.csv");
    let points_path = out.join("lorenz-points.csv");
    write_file(&summary_path, &summary)?;
    write_file(&points_path, &points)?;
    let xlsx = out.join("lorenz.xlsx");
    workbook(&xlsx, &[("summary", &summary), ("points", &points)])?;
    let html = out.join("report.html");
    write_file(&html, &report(def, tables, names, info))?;
    Ok(vec![html, summary_path, points_path, xlsx])
}

/// One CSV line (quoted where needed), with its newline.
pub(crate) fn csv_line(fields: impl IntoIterator<Item = String>) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| {
            if f.contains([',', '"', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// CSV texts as the sheets of one workbook (numbers as numbers), by sheet name.
pub(crate) fn workbook(path: &Path, sheets: &[(&str, &str)]) -> Result<(), StudyError> {
    let fail = |e: rust_xlsxwriter::XlsxError| StudyError::Workbook {
        file: path.to_path_buf(),
        what: e.to_string(),
    };
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, text) in sheets {
        let sheet = wb.add_worksheet().set_name(*name).map_err(fail)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        for (r, record) in reader.records().enumerate() {
            let record = record.map_err(|e| StudyError::Workbook {
                file: path.to_path_buf(),
                what: e.to_string(),
            })?;
            for (c, field) in record.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match numeric(field) {
                    Some(v) if r > 0 => sheet.write_number(r, c, v).map_err(fail)?,
                    _ => sheet.write_string(r, c, field).map_err(fail)?,
                };
            }
        }
    }
    wb.save(path).map_err(fail)
}

/// A field written as a number: it parses, and is not a code with a leading zero (`03000`).
fn numeric(field: &str) -> Option<f64> {
    let code = field.len() > 1 && field.starts_with('0') && !field.starts_with("0.");
    if code {
        return None;
    }
    field.parse().ok()
}

const COLOURS: [&str; 8] = [
    "#1b5e8c", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b",
];

/// The curves of one table as an SVG square (x: persons, y: spending, both 0–100 %).
fn chart(t: &LorenzTable, names: &AreaNames) -> String {
    let size = 300.0;
    let pad = 36.0;
    let xy = |x: f64, y: f64| (pad + x * size, pad + (1.0 - y) * size);
    let mut s = String::new();
    let w = size + 2.0 * pad + 200.0;
    let h = size + 2.0 * pad;
    let _ = write!(
        s,
        "<svg class=\"lorenz\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Lorenz\">"
    );
    let (x0, y0) = xy(0.0, 0.0);
    let (x1, y1) = xy(1.0, 1.0);
    let _ = write!(
        s,
        "<rect x=\"{x0}\" y=\"{y1}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>"
    );
    for tick in [0, 25, 50, 75, 100] {
        let f = tick as f64 / 100.0;
        let (tx, ty) = xy(f, 0.0);
        let _ = write!(
            s,
            "<text x=\"{tx}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{tick} %</text>",
            ty + 14.0
        );
        let (lx, ly) = xy(0.0, f);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{tick} %</text>",
            lx - 4.0,
            ly + 3.0
        );
    }
    let mut legend = 0;
    for (i, a) in t.areas.iter().enumerate() {
        let Some(curve) = &a.curve else { continue };
        let colour = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = std::iter::once((0.0, 0.0))
            .chain(curve.iter().map(|p| (p.persons, p.spending)))
            .map(|(x, y)| {
                let (px, py) = xy(x, y);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            pts.join(" ")
        );
        let ly = pad + 14.0 * legend as f64;
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>",
            x1 + 12.0,
            ly,
            x1 + 26.0,
            ly + 9.0,
            esc(&format!("{} / {}", names.fr(&a.area), names.nl(&a.area)))
        );
        legend += 1;
    }
    s.push_str("</svg>");
    s
}

fn report(def: &Definition, tables: &[LorenzTable], names: &AreaNames, info: &RunInfo) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{fr} / {nl}</title>\
         <style>body{{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:.25em .5em;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.nl{{color:#555}}.masked{{color:#888;font-style:italic}}</style></head><body>\
         <h1>{fr} <span class=\"nl\">/ {nl}</span></h1>",
        fr = esc(&def.title_fr),
        nl = esc(&def.title_nl)
    );
    let _ = write!(
        h,
        "<p>Projet / Project {} · source : {} · {}</p>\
         <p>Les personnes sont classées par dépense remboursée dans chaque zone et réparties en groupes \
         de quantiles ; chaque groupe (jamais une personne) a été publié par le filtre de confidentialité. \
         Une courbe dont un groupe est masqué n'est pas tracée. \
         <span class=\"nl\">De personen worden per gebied gerangschikt volgens hun terugbetaalde uitgaven en \
         in kwantielgroepen verdeeld; elke groep (nooit een persoon) werd door de vertrouwelijkheidsfilter \
         vrijgegeven. Een curve met een afgeschermde groep wordt niet getekend.</span></p>",
        esc(&info.project),
        esc(&info.source),
        esc(&info.created)
    );
    for t in tables {
        let measure = def.measure.iter().find(|m| m.column == t.measure);
        let breakdown = def.breakdown(&t.breakdown);
        let _ = write!(
            h,
            "<h2>{} — {} — {} <span class=\"nl\">/ {} — {}</span></h2>",
            esc(measure.map(|m| m.fr.as_str()).unwrap_or(&t.measure)),
            esc(breakdown.map(|b| b.fr.as_str()).unwrap_or(&t.breakdown)),
            t.year,
            esc(measure.map(|m| m.nl.as_str()).unwrap_or(&t.measure)),
            esc(breakdown.map(|b| b.nl.as_str()).unwrap_or(&t.breakdown)),
        );
        h.push_str(&chart(t, names));
        h.push_str("<table><tr><th>Zone / Gebied</th><th>Personnes / Personen</th><th>Total (€)</th><th>Gini</th>");
        for top in &def.top_shares {
            let _ = write!(h, "<th>Top {top} %</th>");
        }
        h.push_str("</tr>");
        let masked = "<span class=\"masked\">cellule masquée / afgeschermde cel</span>";
        for a in &t.areas {
            let _ = write!(
                h,
                "<tr><td>{} <span class=\"nl\">/ {}</span></td><td>{}</td><td>{}</td><td>{}</td>",
                esc(&names.fr(&a.area)),
                esc(&names.nl(&a.area)),
                a.persons
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| masked.into()),
                a.total
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_else(|| masked.into()),
                a.gini
                    .map(|g| format!("{g:.3}"))
                    .unwrap_or_else(|| masked.into()),
            );
            for (_, s) in &a.top_shares {
                let _ = write!(
                    h,
                    "<td>{}</td>",
                    s.map(|s| format!("{:.1} %", s * 100.0))
                        .unwrap_or_else(|| masked.into())
                );
            }
            h.push_str("</tr>");
        }
        let _ = write!(
            h,
            "</table><p class=\"nl\">{} cellules, {} masquées / afgeschermd; release {}</p>",
            t.outcome.cells,
            t.outcome.hidden(),
            esc(&t.outcome.id)
        );
    }
    h.push_str("</body></html>\n");
    h
}
