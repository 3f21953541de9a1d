//! The definitions behind the derived data, as data: the PATI catalogue and spending groups
//! (`definitions/pati.toml`), the pseudo-pathologies and drug-use flags
//! (`definitions/drug-groups.toml`) and the permanent sample (`definitions/sample.toml`).

use crate::DeriveError;
use serde::Deserialize;
use sha2::{Digest, Sha256};

const PATI_TOML: &str = include_str!("../definitions/pati.toml");
const DRUG_GROUPS_TOML: &str = include_str!("../definitions/drug-groups.toml");
const SAMPLE_TOML: &str = include_str!("../definitions/sample.toml");

/// Nomenclature codes and ATC prefixes counted by PATI's contact and use variables.
#[derive(Debug, Clone, Deserialize)]
pub struct ContactCodes {
    /// GP consultations and home visits.
    pub gp_contacts: Vec<String>,
    /// Global medical file (DMG) fee.
    pub gp_record: Vec<String>,
    /// Specialist consultations.
    pub specialist_contacts: Vec<String>,
    /// Psychiatrist consultations.
    pub psychiatrist_contacts: Vec<String>,
    /// Emergency first-care fees.
    pub emergency_visits: Vec<String>,
    /// Dental check-ups.
    pub dental_checkups: Vec<String>,
    /// Physiotherapy sessions.
    pub physiotherapy_sessions: Vec<String>,
    /// Flu vaccination fee.
    pub flu_vaccination: Vec<String>,
    /// Flu vaccine ATC prefixes (FARU).
    pub flu_vaccine_atc: Vec<String>,
}

/// A spending group of PATI: which nomenclature care groups it sums.
#[derive(Debug, Clone, Deserialize)]
pub struct SpendingGroup {
    /// Column suffix (`reimbursed_<id>`).
    pub id: String,
    /// What it covers.
    pub label: String,
    /// Care groups of `ref_nomenclature` in the group.
    pub care_groups: Vec<String>,
    /// The pharmacy group (FARU lines).
    #[serde(default)]
    pub pharmacy: bool,
}

/// One documented PATI column (or a pattern expanded per group).
#[derive(Debug, Clone, Deserialize)]
pub struct Variable {
    /// Column name, or a pattern with `{group}` / `{drug_group}`.
    pub name: String,
    /// text, integer, boolean, date or amount.
    #[serde(rename = "type")]
    pub kind: String,
    /// Unit.
    pub unit: String,
    /// Where it comes from.
    pub source: String,
    /// Definition.
    pub definition: String,
}

#[derive(Debug, Deserialize)]
struct PatiFile {
    codes: ContactCodes,
    spending_group: Vec<SpendingGroup>,
    #[serde(default)]
    chapter_iv: Vec<ChapterIvFlag>,
    variable: Vec<Variable>,
}

/// A chapter IV flag of PATI (`chiv_<id>`): an authorisation decided in the year for a
/// medicine or group of these ATC codes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChapterIvFlag {
    /// Identifier (column `chiv_<id>`).
    pub id: String,
    /// What the flag means.
    pub label: String,
    /// ATC prefixes: an authorisation counts when its code starts with one of them, or is a
    /// group one of them starts with.
    pub atc: Vec<String>,
}

impl ChapterIvFlag {
    /// The PATI column name.
    pub fn column(&self) -> String {
        format!("chiv_{}", self.id)
    }

    /// Whether an authorised ATC code (a medicine or a group) counts for this flag.
    pub fn matches(&self, authorised: &str) -> bool {
        !authorised.is_empty()
            && self
                .atc
                .iter()
                .any(|p| authorised.starts_with(p.as_str()) || p.starts_with(authorised))
    }
}

/// Pseudo-pathology or drug use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrugGroupKind {
    /// A chronic condition inferred from drug use (`pp_` column).
    PseudoPathology,
    /// Use of a drug class (`uses_` column).
    DrugUse,
    /// A pharmacy cost group (FKG): the column is the id, which starts with `fkg_`.
    CostGroup,
}

/// A pseudo-pathology or drug-use flag defined by ATC prefixes and a DDD threshold.
#[derive(Debug, Clone, Deserialize)]
pub struct DrugGroup {
    /// Identifier (column `pp_<id>` or `uses_<id>`).
    pub id: String,
    /// Kind.
    pub kind: DrugGroupKind,
    /// English label.
    pub label_en: String,
    /// French label.
    pub label_fr: String,
    /// Dutch label.
    pub label_nl: String,
    /// ATC prefixes counted.
    pub atc: Vec<String>,
    /// ATC prefixes not counted even if they match `atc`.
    #[serde(default)]
    pub exclude_atc: Vec<String>,
    /// Threshold on the signed DDD of the period; 0 = at least one package.
    pub min_ddd: f64,
    /// Another group that must be false.
    #[serde(default)]
    pub unless: Option<String>,
    /// Window: only "year".
    pub period: String,
    /// Where the definition comes from.
    pub source: String,
}

impl DrugGroup {
    /// The PATI column name.
    pub fn column(&self) -> String {
        match self.kind {
            DrugGroupKind::PseudoPathology => format!("pp_{}", self.id),
            DrugGroupKind::DrugUse => format!("uses_{}", self.id),
            DrugGroupKind::CostGroup => self.id.clone(),
        }
    }

    /// Whether an ATC code counts for this group.
    pub fn matches(&self, atc: &str) -> bool {
        self.atc.iter().any(|p| atc.starts_with(p.as_str()))
            && !self.exclude_atc.iter().any(|p| atc.starts_with(p.as_str()))
    }
}

#[derive(Debug, Deserialize)]
struct DrugGroupsFile {
    group: Vec<DrugGroup>,
}

/// The permanent sample's parameters.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SampleConfig {
    /// Prefix hashed with the person's code.
    pub salt: String,
    /// Age from which `fraction_from` applies.
    pub age_threshold: i32,
    /// Sampling fraction below the threshold (1/40).
    pub fraction_below: f64,
    /// Sampling fraction from the threshold (1/20).
    pub fraction_from: f64,
}

/// Everything the build needs to know besides the data.
#[derive(Debug, Clone)]
pub struct Definitions {
    /// Codes of the contact variables.
    pub codes: ContactCodes,
    /// Spending groups, in column order.
    pub spending_groups: Vec<SpendingGroup>,
    /// The catalogue of PATI variables.
    pub variables: Vec<Variable>,
    /// Pseudo-pathologies, drug-use flags and pharmacy cost groups, in column order.
    pub drug_groups: Vec<DrugGroup>,
    /// Chapter IV flags, in column order.
    pub chapter_iv: Vec<ChapterIvFlag>,
    /// The sample.
    pub sample: SampleConfig,
    /// SHA-256 of the three definition texts: part of every year's fingerprint.
    pub hash: String,
}

impl Definitions {
    /// The definitions shipped with aim (`crates/derive/definitions/`).
    pub fn builtin() -> Definitions {
        Definitions::parse(PATI_TOML, DRUG_GROUPS_TOML, SAMPLE_TOML)
            .expect("the built-in definitions are valid (tested)")
    }

    /// Parses and validates definition texts.
    pub fn parse(pati: &str, drug_groups: &str, sample: &str) -> Result<Definitions, DeriveError> {
        let bad = |file: &str, e: String| DeriveError::Definitions(format!("{file}: {e}"));
        let p: PatiFile = toml::from_str(pati).map_err(|e| bad("pati.toml", e.to_string()))?;
        let d: DrugGroupsFile =
            toml::from_str(drug_groups).map_err(|e| bad("drug-groups.toml", e.to_string()))?;
        let s: SampleConfig =
            toml::from_str(sample).map_err(|e| bad("sample.toml", e.to_string()))?;
        let mut ids = std::collections::HashSet::new();
        for g in &d.group {
            if !ids.insert(g.id.as_str()) {
                return Err(bad(
                    "drug-groups.toml",
                    format!("group {} is defined twice", g.id),
                ));
            }
            if (g.kind == DrugGroupKind::CostGroup) != g.id.starts_with("fkg_") {
                return Err(bad(
                    "drug-groups.toml",
                    format!(
                        "group {}: the ids of pharmacy cost groups (kind cost_group), and only theirs, start with fkg_",
                        g.id
                    ),
                ));
            }
            if g.atc.is_empty() {
                return Err(bad(
                    "drug-groups.toml",
                    format!("group {} has no ATC prefix", g.id),
                ));
            }
            if g.period != "year" {
                return Err(bad(
                    "drug-groups.toml",
                    format!(
                        "group {}: period '{}' is not implemented (only \"year\")",
                        g.id, g.period
                    ),
                ));
            }
            if g.min_ddd.is_nan() || g.min_ddd < 0.0 {
                return Err(bad(
                    "drug-groups.toml",
                    format!("group {}: min_ddd must be ≥ 0", g.id),
                ));
            }
        }
        for g in &d.group {
            if let Some(u) = &g.unless
                && !d.group.iter().any(|o| &o.id == u && o.unless.is_none())
            {
                return Err(bad(
                    "drug-groups.toml",
                    format!(
                        "group {}: 'unless' names {u}, which is not a group without 'unless'",
                        g.id
                    ),
                ));
            }
        }
        if !(0.0 < s.fraction_below
            && s.fraction_below <= s.fraction_from
            && s.fraction_from <= 1.0)
        {
            return Err(bad(
                "sample.toml",
                "fractions must satisfy 0 < fraction_below ≤ fraction_from ≤ 1 (a member must stay a member when growing older)".into(),
            ));
        }
        if d.group.len() > 64 {
            return Err(bad(
                "drug-groups.toml",
                "at most 64 groups (one bit each)".into(),
            ));
        }
        if p.chapter_iv.len() > 32 || p.chapter_iv.iter().any(|f| f.atc.is_empty()) {
            return Err(bad(
                "pati.toml",
                "at most 32 chapter IV flags, each with at least one ATC prefix".into(),
            ));
        }
        if p.spending_group.iter().filter(|g| g.pharmacy).count() != 1
            || !p.spending_group.iter().any(|g| g.id == "other")
        {
            return Err(bad(
                "pati.toml",
                "there must be exactly one pharmacy spending group and a group 'other'".into(),
            ));
        }
        let mut h = Sha256::new();
        for text in [pati, drug_groups, sample] {
            h.update((text.len() as u64).to_le_bytes());
            h.update(text.as_bytes());
        }
        Ok(Definitions {
            codes: p.codes,
            spending_groups: p.spending_group,
            variables: p.variable,
            drug_groups: d.group,
            chapter_iv: p.chapter_iv,
            sample: s,
            hash: hex::encode(h.finalize()),
        })
    }

    /// Index of the spending group a nomenclature care group belongs to (`other` when none).
    pub fn spending_group_of(&self, care_group: Option<&str>) -> usize {
        care_group
            .and_then(|c| {
                self.spending_groups
                    .iter()
                    .position(|g| !g.pharmacy && g.care_groups.iter().any(|x| x == c))
            })
            .unwrap_or_else(|| self.other_group())
    }

    /// Index of the `other` group.
    pub fn other_group(&self) -> usize {
        self.spending_groups
            .iter()
            .position(|g| g.id == "other")
            .expect("validated")
    }

    /// Index of the pharmacy group.
    pub fn pharmacy_group(&self) -> usize {
        self.spending_groups
            .iter()
            .position(|g| g.pharmacy)
            .expect("validated")
    }

    /// The catalogue with patterns expanded: one entry per PATI column, in table order
    /// (without the `year` partition column).
    pub fn pati_columns(&self) -> Vec<Variable> {
        let mut out = Vec::new();
        for v in &self.variables {
            if v.name.contains("{group}") {
                for g in &self.spending_groups {
                    if v.name.starts_with("supplement_") && g.pharmacy {
                        continue;
                    }
                    out.push(Variable {
                        name: v.name.replace("{group}", &g.id),
                        definition: format!("{} Group: {}.", v.definition, g.label),
                        ..v.clone()
                    });
                }
            } else if v.name == "{drug_group}" {
                for g in &self.drug_groups {
                    let threshold = if g.min_ddd == 0.0 {
                        "at least one package".to_string()
                    } else {
                        format!("at least {} DDD", g.min_ddd)
                    };
                    let mut definition = format!(
                        "{}: {threshold} in the year of ATC {}",
                        g.label_en,
                        g.atc.join(", ")
                    );
                    if !g.exclude_atc.is_empty() {
                        definition.push_str(&format!(" except {}", g.exclude_atc.join(", ")));
                    }
                    if let Some(u) = &g.unless {
                        definition.push_str(&format!(", and not {u}"));
                    }
                    definition.push('.');
                    out.push(Variable {
                        name: g.column(),
                        definition,
                        source: format!("FARU; {}", g.source),
                        ..v.clone()
                    });
                }
            } else if v.name == "{chapter_iv}" {
                for f in &self.chapter_iv {
                    out.push(Variable {
                        name: f.column(),
                        definition: format!(
                            "{}: a chapter IV authorisation (decision A) decided in the year for ATC {}.",
                            f.label,
                            f.atc.join(", ")
                        ),
                        ..v.clone()
                    });
                }
            } else {
                out.push(v.clone());
            }
        }
        out
    }
}

/// The catalogue as Markdown (`docs/pati-variables.md`).
pub fn catalogue_markdown(defs: &Definitions) -> String {
    let mut s = String::from(
        "# PATI variables\n\n<!-- Generated from crates/derive/definitions/ by `aim docs derived`; do not edit by hand. -->\n\n\
         One row per insured person and year (table `pati`, partition `year`). The rules are in \
         [`derived-data.md`](derived-data.md).\n\n| column | type | unit | definition | source |\n|---|---|---|---|---|\n",
    );
    let cell = |t: &str| t.replace('|', "\\|");
    for v in defs.pati_columns() {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            v.name,
            v.kind,
            cell(&v.unit),
            cell(&v.definition),
            cell(&v.source)
        ));
    }
    s.push_str("| `year` | integer | year | Partition: the year described. | build |\n");
    s.push_str("\nThe sample's `pati` adds `eps_design_weight` (1 / sampling fraction) and `eps_weight` (population / members within age stratum × sex).\n");
    s.push_str("\n## Spending groups\n\n| group | care groups of `ref_nomenclature` | what |\n|---|---|---|\n");
    for g in &defs.spending_groups {
        let groups = if g.pharmacy {
            "FARU (pharmacy)".to_string()
        } else if g.care_groups.is_empty() {
            "anything not listed".to_string()
        } else {
            g.care_groups.join(", ")
        };
        s.push_str(&format!("| `{}` | {} | {} |\n", g.id, groups, g.label));
    }
    s.push_str("\n## Pseudo-pathologies and drug use\n\n| column | label (en / fr / nl) | ATC | threshold | source |\n|---|---|---|---|---|\n");
    for g in &defs.drug_groups {
        let mut atc = g.atc.join(", ");
        if !g.exclude_atc.is_empty() {
            atc.push_str(&format!(" (not {})", g.exclude_atc.join(", ")));
        }
        let mut threshold = if g.min_ddd == 0.0 {
            "≥ 1 package".to_string()
        } else {
            format!("≥ {} DDD / year", g.min_ddd)
        };
        if let Some(u) = &g.unless {
            threshold.push_str(&format!(", not {u}"));
        }
        s.push_str(&format!(
            "| `{}` | {} / {} / {} | {} | {} | {} |\n",
            g.column(),
            g.label_en,
            g.label_fr,
            g.label_nl,
            atc,
            threshold,
            cell(&g.source)
        ));
    }
    s.push_str(&format!(
        "\n## Permanent sample\n\nSalt `{}`; fraction {} below age {}, {} from age {} (`definitions/sample.toml`).\n",
        defs.sample.salt,
        defs.sample.fraction_below,
        defs.sample.age_threshold,
        defs.sample.fraction_from,
        defs.sample.age_threshold
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_definitions_are_valid_and_have_twelve_pseudo_pathologies() {
        let d = Definitions::builtin();
        let pp = d
            .drug_groups
            .iter()
            .filter(|g| g.kind == DrugGroupKind::PseudoPathology)
            .count();
        assert!(pp >= 12, "{pp} pseudo-pathologies");
        for g in &d.drug_groups {
            assert!(!g.source.is_empty(), "{} has no source", g.id);
        }
    }

    #[test]
    fn prefixes_and_exclusions() {
        let d = Definitions::builtin();
        let psy = d.drug_groups.iter().find(|g| g.id == "psychosis").unwrap();
        assert!(psy.matches("N05AH04"));
        assert!(!psy.matches("N05AN01"), "lithium is excluded");
        assert!(!psy.matches("N06AB04"));
    }

    #[test]
    fn invalid_definitions_are_refused_with_the_file_named() {
        let d = |s: &str| {
            Definitions::parse(PATI_TOML, DRUG_GROUPS_TOML, s)
                .unwrap_err()
                .to_string()
        };
        let e = d("salt='x'\nage_threshold=65\nfraction_below=0.05\nfraction_from=0.025\n");
        assert!(
            e.contains("sample.toml") && e.contains("stay a member"),
            "{e}"
        );
        let bad_group = format!(
            "{DRUG_GROUPS_TOML}\n[[group]]\nid = \"hiv\"\nkind = \"drug_use\"\nlabel_en = \"\"\nlabel_fr = \"\"\nlabel_nl = \"\"\natc = [\"J05\"]\nmin_ddd = 0\nperiod = \"year\"\nsource = \"x\"\n"
        );
        let e = Definitions::parse(PATI_TOML, &bad_group, SAMPLE_TOML)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hiv is defined twice"), "{e}");
    }

    #[test]
    fn unknown_care_groups_fall_into_other() {
        let d = Definitions::builtin();
        assert_eq!(d.spending_group_of(None), d.other_group());
        assert_eq!(d.spending_group_of(Some("astrology")), d.other_group());
        assert_eq!(
            d.spending_groups[d.spending_group_of(Some("psychiatrist"))].id,
            "specialist"
        );
    }
}

#[cfg(test)]
mod docs_tests {
    use super::*;

    #[test]
    fn catalogue_document_is_up_to_date() {
        aim_model::docs::check_generated(
            "pati-variables.md",
            &catalogue_markdown(&Definitions::builtin()),
            "aim-derive",
        );
    }

    #[test]
    fn every_catalogue_column_has_a_known_type_and_a_definition() {
        let d = Definitions::builtin();
        let cols = d.pati_columns();
        let mut names = std::collections::HashSet::new();
        for v in &cols {
            assert!(
                ["text", "integer", "boolean", "date", "amount"].contains(&v.kind.as_str()),
                "{}: type {}",
                v.name,
                v.kind
            );
            assert!(
                !v.definition.is_empty() && !v.source.is_empty(),
                "{}",
                v.name
            );
            assert!(!v.name.contains('{'), "unexpanded pattern {}", v.name);
            assert!(names.insert(v.name.clone()), "{} twice", v.name);
        }
        assert!(names.contains("pp_hiv") && names.contains("reimbursed_pharmacy"));
        assert!(!names.contains("supplement_pharmacy"));
    }
}
