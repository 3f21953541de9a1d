//! The quote as a printable one-page HTML document, FR and NL side by side.

use crate::index::index_text;
use crate::quote::Quote;
use crate::workflow::Workflow;
use aim_model::html::esc;
use std::fmt::Write;

const STYLE: &str = "@page{size:A4;margin:18mm}\
body{font-family:system-ui,sans-serif;font-size:10.5pt;color:#111;max-width:180mm;margin:auto}\
h1{font-size:15pt;margin:0 0 2mm}h1 span{color:#555;font-weight:normal}\
table{border-collapse:collapse;width:100%;margin:4mm 0}\
table.lines{table-layout:fixed}.lines th:nth-child(1){width:50%}.lines th:nth-child(2){width:14%}\
.lines th:nth-child(3),.lines th:nth-child(4){width:18%}th,td{border-bottom:1px solid #bbb;padding:1.5mm 2mm;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right}td.n{white-space:nowrap}tr.total td{font-weight:bold;border-top:2px solid #111}\
.nl{color:#444}.meta td{border:none;padding:0.6mm 2mm}.notes{font-size:9pt;color:#333}\
.unpriced{font-style:italic;white-space:normal}";

/// The quote as HTML (labels in French / Dutch; text from the sheet escaped).
pub fn html(q: &Quote, wf: &Workflow) -> String {
    let t = wf.type_def(q.request_type);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Estimation des coûts / Kostenraming — {title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>Estimation des coûts <span>/ Kostenraming</span></h1>\n<table class=\"meta\">\n",
        title = esc(&q.title)
    );
    let meta = [
        ("Projet / Project", esc(&q.title)),
        ("Demandeur / Aanvrager", esc(&q.organisation)),
        (
            "Type de demande / Type aanvraag",
            format!("{} <span class=\"nl\">/ {}</span>", esc(&t.fr), esc(&t.nl)),
        ),
        ("Date / Datum", q.date.format("%d/%m/%Y").to_string()),
    ];
    for (k, v) in meta {
        let _ = writeln!(h, "<tr><td>{k}</td><td>{v}</td></tr>");
    }
    h.push_str(
        "</table>\n<table class=\"lines\">\n<thead><tr><th>Description <span class=\"nl\">/ Omschrijving</span></th>\
         <th class=\"n\">Quantité <span class=\"nl\">/ Hoeveelheid</span></th>\
         <th class=\"n\">Prix unitaire <span class=\"nl\">/ Eenheidsprijs</span></th>\
         <th class=\"n\">Montant <span class=\"nl\">/ Bedrag</span></th></tr></thead>\n<tbody>\n",
    );
    for l in &q.lines {
        let unpriced = "<span class=\"unpriced\">à fixer / te bepalen</span>";
        let _ = writeln!(
            h,
            "<tr><td>{fr}<br><span class=\"nl\">{nl}</span></td><td class=\"n\">{qty}</td><td class=\"n\">{unit}</td><td class=\"n\">{amount}</td></tr>",
            fr = esc(&l.fr),
            nl = esc(&l.nl),
            qty = l.quantity,
            unit = l.unit_price.map_or(unpriced.to_string(), |c| c.display()),
            amount = l.amount.map_or(unpriced.to_string(), |c| c.display()),
        );
    }
    let _ = writeln!(
        h,
        "<tr class=\"total\"><td colspan=\"3\">Total hors TVA <span class=\"nl\">/ Totaal zonder btw</span>{}</td><td class=\"n\">{}</td></tr>\n</tbody>\n</table>",
        if q.incomplete {
            " (hors lignes à fixer / zonder te bepalen lijnen)"
        } else {
            ""
        },
        q.total.display()
    );
    h.push_str("<div class=\"notes\">\n");
    let _ = writeln!(
        h,
        "<p>{} <span class=\"nl\">{}</span></p>",
        esc(&q.vat.fr),
        esc(&q.vat.nl)
    );
    if q.flat_is_minimum {
        h.push_str("<p>Le forfait est un minimum ; les jours effectivement prestés sont comptabilisés en supplément. <span class=\"nl\">Het forfait is een minimum; de werkelijk gepresteerde dagen worden bijkomend aangerekend.</span></p>\n");
    }
    let steps = &q.rates.steps;
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        let _ = writeln!(
            h,
            "<p>Tarifs journaliers {year} : base 2018 (analyste € 597, expert € 1.062) indexée chaque année sur l'indice santé de décembre T-1 par rapport à décembre T-2 ({m0} : {v0} … {m1} : {v1}). \
             <span class=\"nl\">Dagtarieven {year}: basis 2018 (analist € 597, expert € 1.062), jaarlijks geïndexeerd met de gezondheidsindex van december T-1 tegenover december T-2 ({m0}: {v0} … {m1}: {v1}).</span></p>",
            year = q.rates.year,
            m0 = first.old.0,
            v0 = index_text(first.old.1),
            m1 = last.new.0,
            v1 = index_text(last.new.1),
        );
    }
    if q.incomplete {
        h.push_str("<p>Les lignes « à fixer » (mise à disposition au-delà de 2 ans ou de 20 Go) sont chiffrées par l'AIM. <span class=\"nl\">De lijnen „te bepalen” (terbeschikkingstelling na 2 jaar of boven 20 GB) worden door het IMA becijferd.</span></p>\n");
    }
    h.push_str("</div>\n</body>\n</html>\n");
    h
}
