//! Indicators as data: one TOML file each in `crates/atlas/indicators/` (embedded in the
//! binary), or in a folder given at run time. See `crates/atlas/indicators/README.md`.

use crate::AtlasError;
use serde::{Deserialize, Serialize};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/indicators.rs"));

/// What an indicator measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The share of the denominator's persons for whom the numerator holds.
    Proportion,
    /// The mean of a value over the denominator's persons.
    Mean,
}

/// How a figure is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Proportion × 100.
    Percent,
    /// Proportion × 1,000.
    #[serde(rename = "per_1000")]
    Per1000,
    /// Euros per person (means).
    Euro,
}

impl Unit {
    /// The factor applied to a proportion or mean.
    pub fn factor(self) -> f64 {
        match self {
            Unit::Percent => 100.0,
            Unit::Per1000 => 1000.0,
            Unit::Euro => 1.0,
        }
    }

    /// The symbol shown after a value.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Per1000 => "‰",
            Unit::Euro => "€",
        }
    }
}

/// One indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    /// Identifier (the file name).
    pub id: String,
    /// Theme.
    pub theme: String,
    /// Title in French.
    pub title_fr: String,
    /// Title in Dutch.
    pub title_nl: String,
    /// Description in French.
    pub description_fr: String,
    /// Description in Dutch.
    pub description_nl: String,
    /// Proportion or mean.
    pub kind: Kind,
    /// SQL boolean over PATI (proportions).
    #[serde(default)]
    pub numerator: Option<String>,
    /// SQL numeric expression over PATI (means).
    #[serde(default)]
    pub value: Option<String>,
    /// SQL boolean restricting the persons counted, besides the age range.
    pub denominator: String,
    /// Youngest age counted (inclusive).
    pub age_min: u16,
    /// Oldest age counted (inclusive).
    pub age_max: u16,
    /// How figures are expressed.
    pub unit: Unit,
    /// PATI columns used.
    pub source_variables: Vec<String>,
    /// Where the definition comes from.
    pub reference: String,
}

impl Indicator {
    /// Parses and checks one definition.
    pub fn parse(name: &str, text: &str) -> Result<Indicator, AtlasError> {
        let bad = |m: String| AtlasError::Definition(format!("{name}: {m}"));
        let i: Indicator = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(stem) = name.strip_suffix(".toml")
            && stem != i.id
        {
            return Err(bad(format!("id '{}' differs from the file name", i.id)));
        }
        if !i
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad("an id is lower-case letters, digits and '-'".into()));
        }
        match (i.kind, &i.numerator, &i.value) {
            (Kind::Proportion, Some(_), None) => {}
            (Kind::Mean, None, Some(_)) => {}
            (Kind::Proportion, _, _) => {
                return Err(bad("a proportion has a `numerator` and no `value`".into()));
            }
            (Kind::Mean, _, _) => {
                return Err(bad("a mean has a `value` and no `numerator`".into()));
            }
        }
        if (i.kind == Kind::Mean) != (i.unit == Unit::Euro) {
            return Err(bad(
                "unit 'euro' goes with kind 'mean', 'percent' or 'per_1000' with 'proportion'"
                    .into(),
            ));
        }
        if i.age_min > i.age_max {
            return Err(bad("age_min is above age_max".into()));
        }
        Ok(i)
    }

    /// The SQL expression aggregated per person: 1/0 for a proportion, the value for a mean.
    pub fn per_person_sql(&self) -> String {
        match self.kind {
            Kind::Proportion => format!(
                "CASE WHEN ({}) THEN 1.0 ELSE 0.0 END",
                self.numerator.as_deref().unwrap_or("false")
            ),
            Kind::Mean => format!(
                "CAST(coalesce(({}), 0) AS DOUBLE)",
                self.value.as_deref().unwrap_or("0")
            ),
        }
    }

    /// The title in a language (`fr` or `nl`).
    pub fn title(&self, lang: &str) -> &str {
        if lang == "nl" {
            &self.title_nl
        } else {
            &self.title_fr
        }
    }

    /// The description in a language (`fr` or `nl`).
    pub fn description(&self, lang: &str) -> &str {
        if lang == "nl" {
            &self.description_nl
        } else {
            &self.description_fr
        }
    }
}

/// The embedded indicators, sorted by id.
pub fn embedded() -> Result<Vec<Indicator>, AtlasError> {
    let mut out = EMBEDDED
        .iter()
        .map(|(name, text)| Indicator::parse(name, text))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The indicators of a folder (every `*.toml`), sorted by id.
pub fn from_dir(dir: &Path) -> Result<Vec<Indicator>, AtlasError> {
    let read = |e: std::io::Error| AtlasError::Definition(format!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path).map_err(read)?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            out.push(Indicator::parse(&name, &text)?);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_indicators_are_valid_and_cover_the_themes() {
        let all = embedded().unwrap();
        assert!(all.len() >= 15, "{} indicators", all.len());
        let ids: std::collections::BTreeSet<_> = all.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids.len(), all.len(), "duplicate ids");
        assert!(all.iter().any(|i| i.kind == Kind::Mean));
    }

    #[test]
    fn a_definition_with_both_numerator_and_value_is_refused() {
        let text = r#"
id = "x"
theme = "costs"
title_fr = "x"
title_nl = "x"
description_fr = "x"
description_nl = "x"
kind = "proportion"
numerator = "gp_contacts > 0"
value = "out_of_pocket"
denominator = "true"
age_min = 0
age_max = 120
unit = "percent"
source_variables = []
reference = "x"
"#;
        let e = Indicator::parse("x.toml", text).unwrap_err();
        assert!(e.to_string().contains("numerator"), "{e}");
        let e = Indicator::parse("y.toml", &text.replace("value = \"out_of_pocket\"\n", ""))
            .unwrap_err();
        assert!(e.to_string().contains("differs from the file name"), "{e}");
    }
}

/// The indicator catalogue and method as Markdown (docs/indicators.md, kept in sync by a test).
pub fn catalogue_markdown(indicators: &[Indicator]) -> String {
    let mut s = String::from(METHOD);
    s.push_str("\n## The indicators\n\n");
    s.push_str("Generated from `crates/atlas/indicators/*.toml` (`aim docs indicators`).\n\n");
    s.push_str("| id | theme | title (FR / NL) | kind | numerator or value | denominator | ages | unit |\n|---|---|---|---|---|---|---|---|\n");
    for i in indicators {
        let what = i.numerator.as_deref().or(i.value.as_deref()).unwrap_or("");
        s.push_str(&format!(
            "| `{}` | {} | {} / {} | {} | `{}` | `{}` | {}–{} | {} |\n",
            i.id,
            i.theme,
            i.title_fr,
            i.title_nl,
            match i.kind {
                Kind::Proportion => "proportion",
                Kind::Mean => "mean",
            },
            what.replace('|', "\\|"),
            i.denominator.replace('|', "\\|"),
            i.age_min,
            i.age_max,
            match i.unit {
                Unit::Percent => "%",
                Unit::Per1000 => "per 1,000",
                Unit::Euro => "€ per person",
            }
        ));
    }
    s.push_str("\n### Definitions and sources\n\n");
    for i in indicators {
        s.push_str(&format!(
            "- **`{}`** — {} *{}* Source variables: {}. Reference: {}\n",
            i.id,
            i.description_fr,
            i.description_nl,
            i.source_variables
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", "),
            i.reference
        ));
    }
    s
}

const METHOD: &str = "# Atlas indicators

The Atlas publishes health indicators per area, year, sex and age group. Each indicator is a
file in `crates/atlas/indicators/` (format: that folder's README); `aim atlas build` computes
them all from PATI into `WH/atlas/`, `aim serve` shows them, `aim atlas export` writes the open
dataset.

## Figures

For every indicator, year with PATI rows, area and breakdown:

- **Areas**: the 565 municipalities of 2025 (`municipality_2025` of PATI: history before 2025 is
  on 2025 boundaries, a merged municipality's earlier years adding up its former parts), the
  43 districts, the provinces (Brussels-Capital as one), the 3 regions and Belgium (`BE`).
- **Sex**: `F`, `M`, `all`. **Age groups** (age on PATI's `age`): `0-17`, `18-44`, `45-64`,
  `65-74`, `75+`, `all`; only ages in the indicator's range are counted.
- **persons**: persons of PATI in the denominator (its `denominator` condition and age range);
  **numerator**: persons for whom the numerator holds (proportions) or the summed value
  (means, euros).
- **crude**: numerator / persons in the indicator's unit (× 100, × 1,000 or euros), with a 95 %
  interval: Wilson's score interval for a proportion, mean ± 1.96·s/√n for a mean.
- **standardised** (all ages only): the direct age–sex standardised rate, Σₛ wₛ·rₛ over the
  strata s = 18 five-year age bands (0–4 … 80–84, 85+) × sex (one sex for a sex-specific
  figure), rₛ the area's rate in the stratum and wₛ the stratum's share of the **standard
  population: Belgium on 1 January of the same year** (Statbel, `population-region-sex-age`
  of the reference data, summed over the regions, restricted to the indicator's ages by single
  year of age). The reference data stop in 2021: later years use the latest published year
  (recorded per year in `manifest.json`, `standard_population_year`). Strata where the area
  has nobody are left out and the weights of the others rescaled. Variance Σ wₛ²·Var(rₛ) with
  Var(rₛ) = rₛ(1 − rₛ)/nₛ for a proportion and sₛ²/nₛ for a mean; interval ± 1.96·√Var
  (normal approximation; Breslow & Day 1987, §2.3), clipped to [0, 1] for proportions.
- **vs_belgium**: `higher` / `lower` when Belgium's value (standardised for all ages, crude for
  an age group, same sex) lies below / above the area's 95 % interval, else `similar`.

## The disclosure gate

Every figure leaves through `aim-disclosure`, with the population policy (no cell below 5
persons). For each indicator and year, one table is gated: area (region → province → district
→ municipality, with Belgium as the total) × sex × age group × outcome (`yes`, `no`, total) for
proportions, area × sex × age group for means. Small cells are suppressed, secondary
suppression follows all the margins (a masked municipality cannot be recomputed from its
district and its neighbours), and the LP audit must pass, else nothing is published. A figure
is released only if its cells (persons, and for proportions both `yes` and `no`: a small
complement would reveal that all but a few have the characteristic) are released; a masked
figure carries no number anywhere (files, pages, API). The Atlas is public: it is not a
requester in the release ledger.

`aim atlas build --no-age-groups` computes all ages only (a table five times smaller for the
gate): for small or sparse data such as the demo's 100,000 synthetic persons, where nearly
every municipality × sex × age group cell is small and the audit takes tens of minutes. At
1,000,000 persons the whole Atlas with age groups takes about five minutes on two cores
(docs/benchmarks.md).
";

#[cfg(test)]
mod doc_tests {
    #[test]
    fn docs_indicators_is_up_to_date() {
        let all = super::embedded().unwrap();
        aim_model::docs::check_generated(
            "indicators.md",
            &super::catalogue_markdown(&all),
            "aim-atlas",
        );
    }
}
