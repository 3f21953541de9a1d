//! The source databases an insurer delivers.

use std::fmt;
use std::str::FromStr;

/// A source database delivered by each insurer every quarter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Database {
    /// POPU: the insured population, one row per person (snapshot at the end of the quarter).
    Popu,
    /// GZSS: reimbursed health care, one row per billing line.
    Gzss,
    /// FARU: drugs delivered in public pharmacies, one row per delivery line.
    Faru,
    /// PGDP: the New Attest fields of billing lines (extension of GZSS kept apart).
    Pgdp,
    /// CHIV: chapter IV authorisations (medicines reimbursed after prior approval).
    Chiv,
    /// ITAO: work incapacity and invalidity episodes.
    Itao,
    /// KATS: Katz scale assessments (home nursing, nursing homes).
    Kats,
    /// CHTA: GP patient files (global medical file, medical-house enrolment).
    Chta,
    /// DOCN: the statistical "documents N", aggregated expenditure per nomenclature code.
    Docn,
}

impl Database {
    /// All databases, in the order a period's deliveries are ingested (population first,
    /// because the other databases are checked against it).
    /// CHIV comes after FARU: its cross-database rule looks at the pharmacy deliveries.
    pub const ALL: [Database; 9] = [
        Database::Popu,
        Database::Gzss,
        Database::Faru,
        Database::Pgdp,
        Database::Chiv,
        Database::Itao,
        Database::Kats,
        Database::Chta,
        Database::Docn,
    ];

    /// Whether the database's rows are about persons (all but DOCN, which is aggregated).
    pub fn has_persons(self) -> bool {
        self != Database::Docn
    }

    /// The agency's four-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Database::Popu => "POPU",
            Database::Gzss => "GZSS",
            Database::Faru => "FARU",
            Database::Pgdp => "PGDP",
            Database::Chiv => "CHIV",
            Database::Itao => "ITAO",
            Database::Kats => "KATS",
            Database::Chta => "CHTA",
            Database::Docn => "DOCN",
        }
    }

    /// The warehouse table that holds this database.
    pub fn table_name(self) -> &'static str {
        match self {
            Database::Popu => "popu",
            Database::Gzss => "gzss",
            Database::Faru => "faru",
            Database::Pgdp => "pgdp",
            Database::Chiv => "chiv",
            Database::Itao => "itao",
            Database::Kats => "kats",
            Database::Chta => "chta",
            Database::Docn => "docn",
        }
    }

    /// The table definition of the database.
    pub fn table(self) -> &'static crate::TableDef {
        match self {
            Database::Popu => &crate::schema::POPU,
            Database::Gzss => &crate::schema::GZSS,
            Database::Faru => &crate::schema::FARU,
            Database::Pgdp => &crate::schema::PGDP,
            Database::Chiv => &crate::schema::CHIV,
            Database::Itao => &crate::schema::ITAO,
            Database::Kats => &crate::schema::KATS,
            Database::Chta => &crate::schema::CHTA,
            Database::Docn => &crate::schema::DOCN,
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A database code the platform does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "'{0}' is not a database this platform ingests (expected POPU, GZSS, FARU, PGDP, CHIV, ITAO, KATS, CHTA or DOCN)"
)]
pub struct UnknownDatabase(pub String);

impl FromStr for Database {
    type Err = UnknownDatabase;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Database::ALL
            .into_iter()
            .find(|d| d.code().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownDatabase(s.to_string()))
    }
}

impl TryFrom<String> for Database {
    type Error = UnknownDatabase;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Database> for String {
    fn from(d: Database) -> String {
        d.code().to_string()
    }
}
