//! The project sheet (fiche projet, seed 003 §3): what the requester asks, on what basis, for
//! which population, variables and periods. It is the intake of every request.

use crate::kind::{Flag, RequestType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The project sheet, as the requester fills it in (TOML on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSheet {
    /// Short title of the project.
    pub title: String,
    /// The request type.
    #[serde(rename = "type")]
    pub request_type: RequestType,
    /// What the project is for (objectives).
    pub purpose: String,
    /// The legal basis of the processing (mission of the requester, law, contract).
    pub legal_basis: String,
    /// The requesting organisation.
    pub organisation: String,
    /// The project leader to contact.
    pub contact: Contact,
    /// The variables asked for (names from the catalogue or plain descriptions).
    pub variables: Vec<String>,
    /// The periods: years `2022` or ranges `2019-2023`.
    pub periods: Vec<String>,
    /// The population studied (selection criteria in words).
    pub population: String,
    /// External sources to link through the TTP (cancer registry, health survey, ...); empty
    /// when none.
    #[serde(default)]
    pub linked_sources: Vec<String>,
    /// The programme managers judged the request complex (it goes to the steering committee).
    #[serde(default)]
    pub complex: bool,
    /// The requester is a partner with permanent access to the sample.
    #[serde(default)]
    pub eps_partner: bool,
}

/// The project leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Telephone (optional).
    #[serde(default)]
    pub phone: Option<String>,
}

/// Why a project sheet is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The TOML does not parse or has unknown fields.
    #[error("project sheet: {0}")]
    Parse(#[from] toml::de::Error),
    /// A required field is empty.
    #[error("project sheet: `{0}` is empty; the agency needs it to evaluate the request")]
    Empty(&'static str),
    /// The contact's e-mail address has no `@`.
    #[error("project sheet: contact e-mail `{0}` is not an e-mail address")]
    Email(String),
    /// A period is not a year or a range of years.
    #[error("project sheet: period `{0}` is not a year (2022) or a range of years (2019-2023)")]
    Period(String),
}

impl ProjectSheet {
    /// Parses and validates a sheet.
    pub fn from_toml(text: &str) -> Result<ProjectSheet, SheetError> {
        let sheet: ProjectSheet = toml::from_str(text)?;
        sheet.validate()?;
        Ok(sheet)
    }

    /// Checks that every required field is filled in and well formed.
    pub fn validate(&self) -> Result<(), SheetError> {
        let required = [
            ("title", &self.title),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("organisation", &self.organisation),
            ("contact.name", &self.contact.name),
            ("contact.email", &self.contact.email),
            ("population", &self.population),
        ];
        for (name, value) in required {
            if value.trim().is_empty() {
                return Err(SheetError::Empty(name));
            }
        }
        if self.variables.iter().all(|v| v.trim().is_empty()) {
            return Err(SheetError::Empty("variables"));
        }
        if self.periods.is_empty() {
            return Err(SheetError::Empty("periods"));
        }
        let email = self.contact.email.trim();
        match email.split_once('@') {
            Some((user, host)) if !user.is_empty() && host.contains('.') => {}
            _ => return Err(SheetError::Email(email.to_string())),
        }
        for p in &self.periods {
            if !valid_period(p) {
                return Err(SheetError::Period(p.clone()));
            }
        }
        Ok(())
    }

    /// The flags that change the request's path and documents.
    pub fn flags(&self) -> BTreeSet<Flag> {
        let mut f = BTreeSet::new();
        if self.linked_sources.iter().any(|s| !s.trim().is_empty()) {
            f.insert(Flag::Linkage);
        }
        if self.complex {
            f.insert(Flag::Complex);
        }
        if self.eps_partner {
            f.insert(Flag::EpsPartner);
        }
        f
    }
}

fn valid_period(p: &str) -> bool {
    let year = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    match p.trim().split_once('-') {
        None => year(p.trim()),
        Some((a, b)) => year(a) && year(b) && a <= b,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SHEET: &str = r#"
title = "Antidepressants in nursing homes"
type = "coded-data"
purpose = "Describe antidepressant use among nursing-home residents"
legal_basis = "Scientific research, GDPR art. 89; law of 30 July 2018"
organisation = "University of Ghent"
variables = ["ATC N06A deliveries", "nursing-home stay", "age", "sex"]
periods = ["2019-2023"]
population = "Insured persons aged 65 and over"
linked_sources = ["Cancer registry"]

[contact]
name = "A. Peeters"
email = "a.peeters@example.be"
"#;

    #[test]
    fn a_complete_sheet_parses_with_its_flags() {
        let s = ProjectSheet::from_toml(SHEET).unwrap();
        assert_eq!(s.request_type, RequestType::CodedData);
        assert_eq!(s.flags(), BTreeSet::from([Flag::Linkage]));
    }

    #[test]
    fn empty_fields_bad_periods_and_emails_are_refused() {
        let bad = SHEET.replace(
            "legal_basis = \"Scientific research, GDPR art. 89; law of 30 July 2018\"",
            "legal_basis = \" \"",
        );
        assert!(matches!(
            ProjectSheet::from_toml(&bad),
            Err(SheetError::Empty("legal_basis"))
        ));
        let bad = SHEET.replace("2019-2023", "2023-2019");
        assert!(matches!(
            ProjectSheet::from_toml(&bad),
            Err(SheetError::Period(_))
        ));
        let bad = SHEET.replace("a.peeters@example.be", "a.peeters");
        assert!(matches!(
            ProjectSheet::from_toml(&bad),
            Err(SheetError::Email(_))
        ));
        let bad = SHEET.replace("type = \"coded-data\"", "type = \"extract\"");
        assert!(matches!(
            ProjectSheet::from_toml(&bad),
            Err(SheetError::Parse(_))
        ));
        let bad = format!("{SHEET}\nunknown = 1\n");
        assert!(ProjectSheet::from_toml(&bad).is_err());
    }
}
