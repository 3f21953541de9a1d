//! Code lists kept in the repository (`crates/model/reference/`, sources in its
//! `SOURCES.md`): insurers, ATC with DDD, nomenclature, provider qualifications and the
//! 2025 municipal mergers. They are embedded in the binary so that a fresh machine has
//! them; `aim reference import` stores them in the warehouse as versioned tables.

use serde::Deserialize;

/// `reference/insurers.csv`.
pub const INSURERS_CSV: &str = include_str!("../reference/insurers.csv");
/// `reference/atc.csv`.
pub const ATC_CSV: &str = include_str!("../reference/atc.csv");
/// `reference/nomenclature.csv`.
pub const NOMENCLATURE_CSV: &str = include_str!("../reference/nomenclature.csv");
/// `reference/qualifications.csv`.
pub const QUALIFICATIONS_CSV: &str = include_str!("../reference/qualifications.csv");
/// `reference/mergers-2025.csv`.
pub const MERGERS_CSV: &str = include_str!("../reference/mergers-2025.csv");

/// The embedded code lists as (warehouse table name, CSV text).
pub const EMBEDDED_LISTS: &[(&str, &str)] = &[
    ("ref_insurer", INSURERS_CSV),
    ("ref_atc", ATC_CSV),
    ("ref_nomenclature", NOMENCLATURE_CSV),
    ("ref_qualification", QUALIFICATIONS_CSV),
    ("ref_merger_2025", MERGERS_CSV),
];

/// A WHO ATC code with its defined daily dose, where the WHO gives one.
#[derive(Debug, Clone, Deserialize)]
pub struct AtcCode {
    /// The code, e.g. `A10BA02`.
    pub code: String,
    /// ATC level (1 to 5).
    pub level: u8,
    /// English name.
    pub name_en: String,
    /// Defined daily dose, in `ddd_unit`.
    pub ddd: Option<f64>,
    /// Unit of the DDD (`mg`, `g`, `U`, `tablet`, …).
    pub ddd_unit: Option<String>,
    /// Route of administration of the DDD (`O` oral, `P` parenteral, …).
    pub route: Option<String>,
}

/// A nomenclature code with the care group it counts in.
#[derive(Debug, Clone, Deserialize)]
pub struct NomenclatureCode {
    /// Six-digit code.
    pub code: String,
    /// Care group (gp, specialist, emergency, hospital_day, …).
    pub care_group: String,
    /// English label.
    pub label_en: String,
    /// French label.
    pub label_fr: String,
    /// `official` (the published code) or `illustrative` (a stand-in).
    pub status: String,
}

/// A provider qualification.
#[derive(Debug, Clone, Deserialize)]
pub struct Qualification {
    /// Three-digit code.
    pub code: String,
    /// English label.
    pub label_en: String,
    /// Care group the qualification belongs to.
    pub group: String,
    /// `official` or `illustrative`.
    pub status: String,
}

/// One row of the 2019 → 2025 merger mapping.
#[derive(Debug, Clone, Deserialize)]
pub struct Merger {
    /// NIS code of the 2019 municipality.
    pub nis_2019: String,
    /// NIS code of the 2025 municipality it became part of.
    pub nis_2025: String,
    /// Name of the 2019 municipality.
    pub name_2019: String,
    /// Name of the 2025 municipality.
    pub name_2025: String,
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Vec<T> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .expect("embedded code list parses (checked by tests)")
}

/// The embedded ATC list.
pub fn atc_codes() -> Vec<AtcCode> {
    parse(ATC_CSV)
}

/// The embedded nomenclature list.
pub fn nomenclature_codes() -> Vec<NomenclatureCode> {
    parse(NOMENCLATURE_CSV)
}

/// The embedded qualification list.
pub fn qualifications() -> Vec<Qualification> {
    parse(QUALIFICATIONS_CSV)
}

/// The embedded merger mapping.
pub fn mergers_2025() -> Vec<Merger> {
    parse(MERGERS_CSV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lists_parse_and_are_well_formed() {
        let atc = atc_codes();
        assert!(atc.len() > 40);
        for a in &atc {
            let expected_len = [1, 3, 4, 5, 7][usize::from(a.level) - 1];
            assert_eq!(a.code.len(), expected_len, "{}", a.code);
            if a.level == 5 && a.code != "L01BA01" {
                assert!(a.ddd.is_some_and(|d| d > 0.0), "{} has no DDD", a.code);
            }
        }
        let nomen = nomenclature_codes();
        assert!(
            nomen
                .iter()
                .all(|n| n.code.len() == 6 && n.code.bytes().all(|b| b.is_ascii_digit()))
        );
        assert!(
            nomen
                .iter()
                .all(|n| n.status == "official" || n.status == "illustrative")
        );
        assert!(qualifications().iter().all(|q| q.code.len() == 3));
        assert_eq!(mergers_2025().len(), 30);
    }
}
