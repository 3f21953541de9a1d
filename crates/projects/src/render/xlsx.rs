//! The quote as an XLSX workbook: one sheet with the lines (amounts as numbers), the total and
//! how the day rates were indexed.

use crate::index::index_text;
use crate::quote::Quote;
use crate::workflow::Workflow;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// The quote as the bytes of an XLSX file.
pub fn xlsx_bytes(q: &Quote, wf: &Workflow) -> Result<Vec<u8>, XlsxError> {
    let t = wf.type_def(q.request_type);
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("€ #,##0.00");
    let money_bold = Format::new().set_num_format("€ #,##0.00").set_bold();
    let qty = Format::new().set_num_format("0.##");
    let s = wb.add_worksheet();
    s.set_name("devis-offerte")?;
    s.set_column_width(0, 62)?;
    s.set_column_width(1, 62)?;
    for c in 2..5 {
        s.set_column_width(c, 16)?;
    }
    s.write_string_with_format(0, 0, "Estimation des coûts", &bold)?;
    s.write_string_with_format(0, 1, "Kostenraming", &bold)?;
    let meta = [
        ("Projet", "Project", q.title.clone()),
        ("Demandeur", "Aanvrager", q.organisation.clone()),
        (
            "Type de demande",
            "Type aanvraag",
            format!("{} / {}", t.fr, t.nl),
        ),
        ("Date", "Datum", q.date.format("%Y-%m-%d").to_string()),
    ];
    for (i, (fr, nl, v)) in meta.iter().enumerate() {
        let r = 1 + i as u32;
        s.write_string(r, 0, *fr)?;
        s.write_string(r, 1, *nl)?;
        s.write_string(r, 2, v)?;
    }
    let head = [
        "Description",
        "Omschrijving",
        "Quantité / Hoeveelheid",
        "Prix unitaire / Eenheidsprijs",
        "Montant / Bedrag",
    ];
    let top = 6;
    for (c, h) in head.iter().enumerate() {
        s.write_string_with_format(top, c as u16, *h, &bold)?;
    }
    let mut r = top + 1;
    for l in &q.lines {
        s.write_string(r, 0, &l.fr)?;
        s.write_string(r, 1, &l.nl)?;
        s.write_number_with_format(r, 2, l.quantity.as_f64(), &qty)?;
        match (l.unit_price, l.amount) {
            (Some(u), Some(a)) => {
                s.write_number_with_format(r, 3, u.euros_f64(), &money)?;
                s.write_number_with_format(r, 4, a.euros_f64(), &money)?;
            }
            _ => {
                s.write_string(r, 3, "à fixer / te bepalen")?;
                s.write_string(r, 4, "à fixer / te bepalen")?;
            }
        }
        r += 1;
    }
    s.write_string_with_format(r, 0, "Total hors TVA", &bold)?;
    s.write_string_with_format(r, 1, "Totaal zonder btw", &bold)?;
    s.write_number_with_format(r, 4, q.total.euros_f64(), &money_bold)?;
    r += 2;
    s.write_string(r, 0, &q.vat.fr)?;
    s.write_string(r, 1, &q.vat.nl)?;
    r += 1;
    for step in &q.rates.steps {
        s.write_string(r, 0, format!("Indexation {}", step.year))?;
        s.write_string(
            r,
            1,
            format!(
                "indice santé / gezondheidsindex {} {} ÷ {} {}",
                step.new.0,
                index_text(step.new.1),
                step.old.0,
                index_text(step.old.1)
            ),
        )?;
        r += 1;
    }
    wb.save_to_buffer()
}
