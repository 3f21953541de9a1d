//! The quality rules as data (`rules.toml`, embedded at build time).

use serde::Deserialize;

/// The rule file shipped with the platform.
pub const RULES_TOML: &str = include_str!("../rules.toml");

/// Stable rule identifiers implemented by the checker.
pub mod id {
    /// Manifest present and readable.
    pub const MAN_001: &str = "MAN-001";
    /// Files match the manifest (exist, checksum, row count).
    pub const MAN_002: &str = "MAN-002";
    /// Rows belong to the manifest's insurer.
    pub const MAN_003: &str = "MAN-003";
    /// Re-delivery newer than the loaded one.
    pub const MAN_004: &str = "MAN-004";
    /// Files readable (not empty, not corrupt).
    pub const FMT_001: &str = "FMT-001";
    /// Header matches the data model.
    pub const FMT_002: &str = "FMT-002";
    /// Right number of fields.
    pub const FMT_003: &str = "FMT-003";
    /// UTF-8.
    pub const FMT_004: &str = "FMT-004";
    /// Required values present.
    pub const SCH_001: &str = "SCH-001";
    /// Values typed.
    pub const SCH_002: &str = "SCH-002";
    /// No raw national number.
    pub const PRV_001: &str = "PRV-001";
    /// Nomenclature known.
    pub const COD_001: &str = "COD-001";
    /// ATC known.
    pub const COD_002: &str = "COD-002";
    /// Municipality valid.
    pub const COD_003: &str = "COD-003";
    /// Other codes.
    pub const COD_004: &str = "COD-004";
    /// Dates inside the period.
    pub const DAT_001: &str = "DAT-001";
    /// Not before birth.
    pub const DAT_002: &str = "DAT-002";
    /// Not after death.
    pub const DAT_003: &str = "DAT-003";
    /// Plausible amounts.
    pub const AMT_001: &str = "AMT-001";
    /// No duplicates.
    pub const DUP_001: &str = "DUP-001";
    /// Person known.
    pub const POP_001: &str = "POP-001";
    /// Volume.
    pub const VOL_001: &str = "VOL-001";
    /// All insurers delivered.
    pub const PER_001: &str = "PER-001";
    /// A correction does not silently remove rows of the delivery it replaces.
    pub const COR_001: &str = "COR-001";

    /// Chapter IV validity period consistent with the decision.
    pub const CHI_001: &str = "CHI-001";
    /// Incapacity episode consistent.
    pub const ITA_001: &str = "ITA-001";
    /// Katz scores and category consistent.
    pub const KAT_001: &str = "KAT-001";
    /// GP patient file consistent.
    pub const CHT_001: &str = "CHT-001";
    /// Documents N months consistent.
    pub const DOC_001: &str = "DOC-001";
    /// Cross-database: an authorised medicine is delivered in FARU.
    pub const XDB_001: &str = "XDB-001";
    /// Cross-database: a New Attest row extends a GZSS line.
    pub const XDB_002: &str = "XDB-002";

    /// Every rule the code implements.
    pub const ALL: &[&str] = &[
        MAN_001, MAN_002, MAN_003, MAN_004, FMT_001, FMT_002, FMT_003, FMT_004, SCH_001, SCH_002,
        PRV_001, COD_001, COD_002, COD_003, COD_004, DAT_001, DAT_002, DAT_003, AMT_001, DUP_001,
        POP_001, VOL_001, PER_001, COR_001, CHI_001, ITA_001, KAT_001, CHT_001, DOC_001, XDB_001,
        XDB_002,
    ];
}

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The delivery as a whole.
    Delivery,
    /// Each row.
    Row,
    /// All insurers of a period.
    Period,
}

/// How serious a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Reported only.
    Warning,
    /// Rejects the row (row rules) or the delivery (delivery rules).
    Error,
}

/// One rule as described in `rules.toml`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier, e.g. `DAT-001`.
    pub id: String,
    /// Scope.
    pub scope: Scope,
    /// Level.
    pub level: Level,
    /// Share of rows (row rules) or relative change (VOL-001) tolerated.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Short title.
    pub title: String,
    /// What the rule checks, for a data manager.
    pub description: String,
}

/// The whole rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCatalog {
    /// Largest share of rejected rows before the whole delivery is rejected.
    pub max_rejected_share: f64,
    /// The rules.
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

/// A rule file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleFileError {
    /// Not valid TOML or wrong fields.
    #[error("the quality rule file is malformed: {0}")]
    Parse(#[from] toml::de::Error),
    /// The file and the code disagree.
    #[error("the quality rule file does not match the checker: {0}")]
    Mismatch(String),
}

impl RuleCatalog {
    /// The rules shipped with the platform.
    pub fn builtin() -> RuleCatalog {
        RuleCatalog::parse(RULES_TOML).expect("the embedded rules.toml is valid (tested)")
    }

    /// Parses a rule file and checks it names exactly the rules the checker implements.
    pub fn parse(text: &str) -> Result<RuleCatalog, RuleFileError> {
        let catalog: RuleCatalog = toml::from_str(text)?;
        for r in &catalog.rules {
            if !id::ALL.contains(&r.id.as_str()) {
                return Err(RuleFileError::Mismatch(format!(
                    "rule {} is not implemented",
                    r.id
                )));
            }
            if r.scope == Scope::Row && r.threshold.is_none() {
                return Err(RuleFileError::Mismatch(format!(
                    "row rule {} needs a threshold",
                    r.id
                )));
            }
        }
        for i in id::ALL {
            if !catalog.rules.iter().any(|r| r.id == *i) {
                return Err(RuleFileError::Mismatch(format!(
                    "rule {i} is missing from the file"
                )));
            }
        }
        Ok(catalog)
    }

    /// The rule with this id (every implemented id is present).
    pub fn get(&self, id: &str) -> &Rule {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .expect("catalog checked against id::ALL")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_match_the_implementation() {
        let c = RuleCatalog::builtin();
        assert_eq!(c.rules.len(), id::ALL.len());
        assert!(c.max_rejected_share > 0.0 && c.max_rejected_share < 1.0);
        assert_eq!(c.get("PRV-001").level, Level::Error);
    }

    #[test]
    fn a_rule_file_missing_a_rule_is_refused() {
        let text = RULES_TOML.replace("id = \"DUP-001\"", "id = \"DUP-999\"");
        let err = RuleCatalog::parse(&text).unwrap_err();
        assert!(err.to_string().contains("DUP-999"), "{err}");
    }
}
