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
}

impl Database {
    /// All databases, in the order a period's deliveries are ingested (population first,
    /// because the other databases are checked against it).
    pub const ALL: [Database; 3] = [Database::Popu, Database::Gzss, Database::Faru];

    /// The agency's four-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Database::Popu => "POPU",
            Database::Gzss => "GZSS",
            Database::Faru => "FARU",
        }
    }

    /// The warehouse table that holds this database.
    pub fn table_name(self) -> &'static str {
        match self {
            Database::Popu => "popu",
            Database::Gzss => "gzss",
            Database::Faru => "faru",
        }
    }

    /// The table definition of the database.
    pub fn table(self) -> &'static crate::TableDef {
        match self {
            Database::Popu => &crate::schema::POPU,
            Database::Gzss => &crate::schema::GZSS,
            Database::Faru => &crate::schema::FARU,
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
#[error("'{0}' is not a database this platform ingests (expected POPU, GZSS or FARU)")]
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
