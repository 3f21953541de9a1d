//! The open dataset: every released figure as CSV and JSON (all indicators, and one file per
//! indicator), the indicator definitions, DCAT-AP metadata (JSON-LD) and the terms of use.
//! Suppressed figures are listed with `released = false` and no number.

use crate::AtlasError;
use crate::compute::{Atlas, Figure};
use crate::indicator::Indicator;
use crate::store;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The licence of the open data.
pub const LICENCE: &str = "https://creativecommons.org/licenses/by/4.0/";

/// The terms of use (French, Dutch, English).
pub const TERMS: &str = "\
# Conditions d'utilisation / Gebruiksvoorwaarden / Terms of use

FR — Les données de l'Atlas sont publiées sous licence Creative Commons Attribution 4.0
(CC BY 4.0). Citez la source : « Agence intermutualiste, Atlas aim » et l'année des données.
Les cellules de moins de 5 personnes, et celles qui permettraient de les recalculer, sont
masquées (« cellule masquée ») : ne cherchez pas à les reconstituer. Les taux standardisés
utilisent la population belge de l'année (Statbel) comme population de référence.

NL — De gegevens van de Atlas worden gepubliceerd onder de licentie Creative Commons
Naamsvermelding 4.0 (CC BY 4.0). Vermeld de bron: \"Intermutualistisch Agentschap, Atlas aim\" en
het jaar van de gegevens. Cellen met minder dan 5 personen, en cellen waaruit die herberekend
kunnen worden, zijn gemaskeerd: probeer ze niet te reconstrueren. Gestandaardiseerde cijfers
gebruiken de Belgische bevolking van het jaar (Statbel) als standaardbevolking.

EN — The Atlas data are published under Creative Commons Attribution 4.0 (CC BY 4.0). Cite
\"Intermutualist Agency, aim Atlas\" and the data year. Cells of fewer than 5 persons, and cells
from which they could be recomputed, are masked: do not attempt to reconstruct them. The
standardised rates use the Belgian population of the year (Statbel) as the standard.
";

/// A figure as JSON (numbers absent when not released).
pub fn figure_json(f: &Figure) -> serde_json::Value {
    serde_json::to_value(f).expect("serialisable")
}

/// The DCAT-AP catalogue of the Atlas (JSON-LD): one dataset per indicator with its CSV and
/// JSON distributions, under `base` (e.g. `http://127.0.0.1:8080` or `.` for files).
pub fn dcat(atlas: &Atlas, base: &str) -> serde_json::Value {
    let m = &atlas.manifest;
    let years = (
        m.years.first().copied().unwrap_or(0),
        m.years.last().copied().unwrap_or(0),
    );
    let dataset = |i: &Indicator| {
        json!({
            "@id": format!("{base}/indicator/{}", i.id),
            "@type": "dcat:Dataset",
            "dct:identifier": i.id,
            "dct:title": [
                {"@value": i.title_fr, "@language": "fr"},
                {"@value": i.title_nl, "@language": "nl"}
            ],
            "dct:description": [
                {"@value": i.description_fr, "@language": "fr"},
                {"@value": i.description_nl, "@language": "nl"}
            ],
            "dcat:keyword": [i.theme, "santé", "gezondheid", "atlas"],
            "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/HEAL"},
            "dct:publisher": {"@type": "foaf:Organization", "foaf:name": "Agence intermutualiste / Intermutualistisch Agentschap"},
            "dct:license": {"@id": LICENCE},
            "dct:accessRights": {"@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"},
            "dct:spatial": {"@id": "http://publications.europa.eu/resource/authority/country/BEL"},
            "dct:temporal": {"@type": "dct:PeriodOfTime", "dcat:startDate": format!("{}-01-01", years.0), "dcat:endDate": format!("{}-12-31", years.1)},
            "dct:modified": m.created,
            "dct:provenance": {"rdfs:label": format!("Computed from PATI (version {}) of the aim warehouse; every figure passed the disclosure gate (no cell below {} persons, secondary suppression audited by linear programming). {}", m.pati_version, m.policy.min_units, i.reference)},
            "dcat:distribution": [
                {
                    "@type": "dcat:Distribution",
                    "dcat:accessURL": {"@id": format!("{base}/download/{}.csv", i.id)},
                    "dcat:downloadURL": {"@id": format!("{base}/download/{}.csv", i.id)},
                    "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/CSV"},
                    "dcat:mediaType": "text/csv",
                    "dct:license": {"@id": LICENCE}
                },
                {
                    "@type": "dcat:Distribution",
                    "dcat:accessURL": {"@id": format!("{base}/download/{}.json", i.id)},
                    "dcat:downloadURL": {"@id": format!("{base}/download/{}.json", i.id)},
                    "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/JSON"},
                    "dcat:mediaType": "application/json",
                    "dct:license": {"@id": LICENCE}
                }
            ]
        })
    };
    json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "rdfs": "http://www.w3.org/2000/01/rdf-schema#"
        },
        "@id": format!("{base}/dcat.jsonld"),
        "@type": "dcat:Catalog",
        "dct:title": [
            {"@value": "Atlas aim des indicateurs de santé", "@language": "fr"},
            {"@value": "aim-Atlas van gezondheidsindicatoren", "@language": "nl"}
        ],
        "dct:description": [
            {"@value": "Indicateurs de santé par commune, arrondissement, province et région, standardisés pour l'âge et le sexe.", "@language": "fr"},
            {"@value": "Gezondheidsindicatoren per gemeente, arrondissement, provincie en gewest, gestandaardiseerd voor leeftijd en geslacht.", "@language": "nl"}
        ],
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": "Agence intermutualiste / Intermutualistisch Agentschap"},
        "dct:license": {"@id": LICENCE},
        "dct:modified": m.created,
        "dcat:dataset": m.indicators.iter().map(dataset).collect::<Vec<_>>()
    })
}

/// The figures of one indicator as a JSON document (definition and figures).
pub fn indicator_json(atlas: &Atlas, ind: &Indicator) -> serde_json::Value {
    json!({
        "indicator": ind,
        "licence": LICENCE,
        "policy": atlas.manifest.policy,
        "figures": atlas.figures.iter().filter(|f| f.indicator == ind.id).map(figure_json).collect::<Vec<_>>(),
    })
}

/// Writes the open dataset to `out`. Returns the files written.
pub fn export(atlas: &Atlas, out: &Path) -> Result<Vec<PathBuf>, AtlasError> {
    let io = |p: &Path, e: std::io::Error| AtlasError::Io(format!("{}: {e}", p.display()));
    let per = out.join("indicators");
    std::fs::create_dir_all(&per).map_err(|e| io(&per, e))?;
    let mut files = Vec::new();
    let all = out.join("figures.csv");
    store::write_csv(&all, atlas.figures.iter())?;
    files.push(all);
    for ind in &atlas.manifest.indicators {
        let csv = per.join(format!("{}.csv", ind.id));
        store::write_csv(&csv, atlas.figures.iter().filter(|f| f.indicator == ind.id))?;
        files.push(csv);
        let js = per.join(format!("{}.json", ind.id));
        std::fs::write(&js, indicator_json(atlas, ind).to_string()).map_err(|e| io(&js, e))?;
        files.push(js);
    }
    let mut write = |name: &str, text: String| -> Result<(), AtlasError> {
        let p = out.join(name);
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
        files.push(p);
        Ok(())
    };
    write(
        "indicators.json",
        serde_json::to_string_pretty(&atlas.manifest.indicators).expect("serialisable"),
    )?;
    write(
        "manifest.json",
        serde_json::to_string_pretty(&atlas.manifest).expect("serialisable"),
    )?;
    write(
        "dcat.jsonld",
        serde_json::to_string_pretty(&dcat(atlas, ".")).expect("serialisable"),
    )?;
    write("TERMS.md", TERMS.to_string())?;
    write(
        "README.md",
        format!(
            "# aim Atlas — open data\n\n{} indicators, years {:?}, computed {}.\n\n\
             - `figures.csv`: every figure (indicator, year, level, area, sex, age group); \
             `released = false` rows carry no number (masked by the disclosure gate).\n\
             - `indicators/<id>.csv|json`: the same, per indicator (JSON with its definition).\n\
             - `indicators.json`: the definitions; `manifest.json`: sources, gate outcome.\n\
             - `dcat.jsonld`: DCAT-AP metadata; `TERMS.md`: terms of use (CC BY 4.0).\n\n\
             Columns: see docs/indicators.md in the aim repository.\n",
            atlas.manifest.indicators.len(),
            atlas.manifest.years,
            atlas.manifest.created
        ),
    )?;
    Ok(files)
}
