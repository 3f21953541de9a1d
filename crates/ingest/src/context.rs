//! What the checker needs to know besides the delivery: the reference code lists, the
//! insurer's population for the period, and the insurer's earlier deliveries. The
//! warehouse builds it; tests build it by hand.

use crate::report::QcReport;
use crate::rules::RuleCatalog;
use aim_model::geography::Geography;
use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// Reference code lists the rows are checked against.
#[derive(Debug, Clone, Default)]
pub struct ReferenceCodes {
    /// Nomenclature codes.
    pub nomenclature: HashSet<String>,
    /// Level-5 ATC codes.
    pub atc: HashSet<String>,
    /// ATC codes of every level (a chapter IV authorisation may name a group).
    pub atc_groups: HashSet<String>,
    /// Provider qualifications.
    pub qualifications: HashSet<String>,
    /// Municipalities of the 2019 list (in force before 2025).
    pub municipalities_2019: HashSet<String>,
    /// Municipalities of the 2025 list.
    pub municipalities_2025: HashSet<String>,
    /// Statistical sectors (2019 boundaries).
    pub sectors: HashSet<String>,
}

impl ReferenceCodes {
    /// The code lists of the embedded reference files and a loaded geography.
    pub fn from_reference(geo: &Geography) -> ReferenceCodes {
        ReferenceCodes {
            nomenclature: aim_model::codes::nomenclature_codes()
                .into_iter()
                .map(|c| c.code)
                .collect(),
            atc: aim_model::codes::atc_codes()
                .into_iter()
                .filter(|a| a.level == 5)
                .map(|a| a.code)
                .collect(),
            atc_groups: aim_model::codes::atc_codes()
                .into_iter()
                .map(|a| a.code)
                .collect(),
            qualifications: aim_model::codes::qualifications()
                .into_iter()
                .map(|q| q.code)
                .collect(),
            municipalities_2019: geo
                .municipalities_2019
                .iter()
                .map(|m| m.nis.clone())
                .collect(),
            municipalities_2025: geo
                .municipalities_2025
                .iter()
                .map(|m| m.nis.clone())
                .collect(),
            sectors: geo.sectors.iter().map(|s| s.nis9.clone()).collect(),
        }
    }

    /// The municipality list in force on `date`.
    pub fn municipalities_on(&self, date: NaiveDate) -> &HashSet<String> {
        if date < aim_model::geography::mergers_effective() {
            &self.municipalities_2019
        } else {
            &self.municipalities_2025
        }
    }
}

/// What the population file says about a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts {
    /// Year of birth.
    pub birth_year: i16,
    /// Date of death, if any.
    pub death: Option<NaiveDate>,
}

/// The persons of one insurer's population file for one period, by coded identifier.
#[derive(Debug, Clone, Default)]
pub struct PopulationIndex {
    persons: HashMap<u128, PersonFacts>,
}

/// The 128-bit value of a coded identifier (32 hex characters), or `None` if malformed.
pub fn coded_id_value(id: &str) -> Option<u128> {
    if !aim_model::is_coded_id(id) {
        return None;
    }
    u128::from_str_radix(id, 16).ok()
}

impl PopulationIndex {
    /// Adds a person (malformed identifiers are ignored: they were rejected on ingest).
    pub fn insert(&mut self, person_id: &str, facts: PersonFacts) {
        if let Some(v) = coded_id_value(person_id) {
            self.persons.insert(v, facts);
        }
    }

    /// What is known about a person.
    pub fn get(&self, person_id: &str) -> Option<PersonFacts> {
        coded_id_value(person_id).and_then(|v| self.persons.get(&v).copied())
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.persons.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }
}

/// Everything the checker needs besides the delivery.
#[derive(Debug, Clone)]
pub struct CheckContext<'a> {
    /// The quality rules.
    pub rules: &'a RuleCatalog,
    /// Reference code lists.
    pub codes: &'a ReferenceCodes,
    /// The same insurer's population for the same period, when loaded (needed by POP-001,
    /// DAT-002 and DAT-003 for billing and pharmacy deliveries).
    pub population: Option<&'a PopulationIndex>,
    /// Row counts of the insurer's last deliveries of the same database (VOL-001).
    pub previous_volumes: Vec<u64>,
    /// The QC report of the insurer's previous delivery of the same database, to show what
    /// is new, resolved or persisting.
    pub previous_report: Option<QcReport>,
    /// Sequence number of the delivery in force for the same insurer, database and
    /// period, if one is loaded (MAN-004).
    pub loaded_sequence: Option<u32>,
    /// The delivery in force that this one would replace, if it is a correction
    /// (COR-001 and VOL-001 measure the correction against it).
    pub replaced: Option<ReplacedDelivery>,
    /// A data manager's confirmation that this correction may remove rows (COR-001), if
    /// one was recorded with `aim confirm`.
    pub confirmation: Option<LossConfirmation>,
    /// What the cross-database rules look at in the insurer's other loaded databases
    /// (XDB-001, XDB-002); `None` when the warehouse has nothing to offer.
    pub cross: Option<&'a CrossIndex>,
    /// Where to write the feedback file of rejected rows.
    pub feedback_path: PathBuf,
    /// Rows per Arrow record batch handed to the sink.
    pub batch_rows: usize,
}

/// The delivery in force that a correction replaces, as the correction is measured against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplacedDelivery {
    /// Its delivery identity.
    pub delivery_id: String,
    /// Its sequence number.
    pub sequence: u32,
    /// Rows it delivered (loaded plus rejected into the feedback file).
    pub rows: u64,
    /// Data rows of each of its files, by file name, as its manifest announced them.
    pub file_rows: Vec<(String, u64)>,
}

/// A data manager's recorded decision that a correction may remove rows of the delivery it
/// replaces (who, when, why).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LossConfirmation {
    /// The correction it confirms.
    pub delivery_id: String,
    /// Who confirmed.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub at: String,
}

/// What the cross-database rules need from the insurer's other databases: the (person,
/// medicine) pairs its pharmacy file delivered (XDB-001) and the billing lines of its GZSS
/// delivery for the quarter (XDB-002). Kept as 64-bit digests: only membership is asked.
#[derive(Debug, Clone, Default)]
pub struct CrossIndex {
    pharmacy: Option<HashSet<u64>>,
    billing_lines: Option<HashSet<u64>>,
}

/// The ATC prefixes a delivered level-5 code belongs to (levels 1 to 5).
const ATC_LEVEL_LENGTHS: [usize; 5] = [1, 3, 4, 5, 7];

fn digest(parts: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

impl CrossIndex {
    /// Records that the pharmacy file delivered `atc` (level 5) to `person_id`: the person
    /// then counts as having received every group the code belongs to.
    pub fn add_pharmacy_delivery(&mut self, person_id: &str, atc: &str) {
        let set = self.pharmacy.get_or_insert_with(HashSet::new);
        for n in ATC_LEVEL_LENGTHS {
            if let Some(prefix) = atc.get(..n) {
                set.insert(digest(&[person_id, prefix]));
            }
        }
    }

    /// Marks the pharmacy file as loaded even if it delivered nothing.
    pub fn pharmacy_loaded(&mut self) {
        self.pharmacy.get_or_insert_with(HashSet::new);
    }

    /// Whether a pharmacy file was loaded, then whether it delivered the person a medicine of
    /// the ATC code or group: `None` when no pharmacy file is known.
    pub fn delivered(&self, person_id: &str, atc_group: &str) -> Option<bool> {
        self.pharmacy
            .as_ref()
            .map(|s| s.contains(&digest(&[person_id, atc_group])))
    }

    /// Records a billing line of the GZSS delivery (with its person).
    pub fn add_billing_line(&mut self, line_id: &str, person_id: &str) {
        self.billing_lines
            .get_or_insert_with(HashSet::new)
            .insert(digest(&[line_id, person_id]));
    }

    /// Marks the GZSS delivery as loaded even if it had no line.
    pub fn billing_loaded(&mut self) {
        self.billing_lines.get_or_insert_with(HashSet::new);
    }

    /// Whether the GZSS delivery holds the line for the person: `None` when none is loaded.
    pub fn has_billing_line(&self, line_id: &str, person_id: &str) -> Option<bool> {
        self.billing_lines
            .as_ref()
            .map(|s| s.contains(&digest(&[line_id, person_id])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivered_medicine_counts_for_its_groups() {
        let mut x = CrossIndex::default();
        assert_eq!(x.delivered("p", "L04AB"), None);
        x.add_pharmacy_delivery("p", "L04AB01");
        assert_eq!(x.delivered("p", "L04AB01"), Some(true));
        assert_eq!(x.delivered("p", "L04AB"), Some(true));
        assert_eq!(x.delivered("p", "L04"), Some(true));
        assert_eq!(x.delivered("p", "L04AA"), Some(false));
        assert_eq!(x.delivered("q", "L04AB"), Some(false));
    }

    #[test]
    fn billing_lines_are_per_person() {
        let mut x = CrossIndex::default();
        assert_eq!(x.has_billing_line("G1", "p"), None);
        x.add_billing_line("G1", "p");
        assert_eq!(x.has_billing_line("G1", "p"), Some(true));
        assert_eq!(x.has_billing_line("G1", "q"), Some(false));
    }
}
