//! Tables and typed, documented columns of the source databases.
//!
//! These definitions are the single source of truth: the delivery parser, the quality
//! rules, the warehouse schema and `docs/data-model.md` are all derived from them.

use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// Precision and scale of money columns (euros with cents).
pub const AMOUNT_PRECISION: u8 = 12;
/// Scale of money columns: two decimals (cents).
pub const AMOUNT_SCALE: i8 = 2;

/// The logical type of a column, with its text form in a delivery file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Free text (UTF-8).
    Text,
    /// A code from a code system (see [`CodeSystem`]).
    Code(CodeSystem),
    /// An identifier coded by the trusted third party: 32 lowercase hexadecimal characters.
    CodedId,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A calendar year, e.g. `1957`.
    Year,
    /// A whole number.
    Integer,
    /// `true`/`false` (also accepted: `1`/`0`).
    Boolean,
    /// Euros with at most two decimals, dot as decimal separator, e.g. `23.50`.
    Amount,
    /// A non-negative decimal quantity, e.g. a number of defined daily doses.
    Quantity,
}

/// The code systems columns are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeSystem {
    /// The seven insurers (`100` … `900`).
    Insurer,
    /// Sex: `M` or `F`.
    Sex,
    /// Municipality NIS code (5 digits) valid on the reference date of the data.
    Municipality,
    /// Statistical sector NIS code (9 characters, e.g. `11001A00-`).
    Sector,
    /// RIZIV/INAMI nomenclature code (6 digits).
    Nomenclature,
    /// Provider qualification (3 digits).
    Qualification,
    /// WHO ATC code (level 5, 7 characters).
    Atc,
    /// National pharmaceutical product code (CNK, 7 digits).
    Cnk,
    /// Hospital room type: `S` single, `C` shared (common).
    RoomType,
    /// WHO ATC code of any level (1 to 5): a medicine or a group of medicines.
    AtcGroup,
    /// Chapter IV decision: `A` authorised, `R` refused.
    ChapterIvDecision,
    /// Work-incapacity type: `P` primary incapacity (first year), `I` invalidity.
    IncapacityKind,
    /// Work status at the start of the incapacity: `E` employee, `S` self-employed,
    /// `U` unemployed.
    WorkStatus,
    /// Diagnosis group: ICD-10 chapter, two digits `01` to `22`.
    DiagnosisGroup,
    /// Where a Katz assessment was made: `H` home nursing, `R` rest home (ROB/MRPA),
    /// `N` nursing home (RVT/MRS).
    KatzSetting,
    /// Katz dependency category: `O`, `A`, `B`, `C`, `Cd`.
    KatzCategory,
    /// How a billing line was transmitted: `E` eAttest, `F` eFact, `P` paper.
    Transmission,
}

impl CodeSystem {
    /// Human name of the code system, for documentation and error messages.
    pub fn label(self) -> &'static str {
        match self {
            CodeSystem::Insurer => "insurer code",
            CodeSystem::Sex => "sex (M/F)",
            CodeSystem::Municipality => "municipality NIS code",
            CodeSystem::Sector => "statistical sector NIS code",
            CodeSystem::Nomenclature => "nomenclature code",
            CodeSystem::Qualification => "provider qualification",
            CodeSystem::Atc => "ATC code",
            CodeSystem::Cnk => "CNK product code",
            CodeSystem::RoomType => "room type (S/C)",
            CodeSystem::AtcGroup => "ATC code of any level",
            CodeSystem::ChapterIvDecision => "chapter IV decision (A/R)",
            CodeSystem::IncapacityKind => "incapacity type (P/I)",
            CodeSystem::WorkStatus => "work status (E/S/U)",
            CodeSystem::DiagnosisGroup => "diagnosis group (ICD-10 chapter 01-22)",
            CodeSystem::KatzSetting => "Katz setting (H/R/N)",
            CodeSystem::KatzCategory => "Katz category (O/A/B/C/Cd)",
            CodeSystem::Transmission => "transmission (E/F/P)",
        }
    }

    /// The closed list of values, for the small code systems that have one.
    pub fn closed_values(self) -> Option<&'static [&'static str]> {
        Some(match self {
            CodeSystem::Sex => &["M", "F"],
            CodeSystem::RoomType => &["S", "C"],
            CodeSystem::ChapterIvDecision => &["A", "R"],
            CodeSystem::IncapacityKind => &["P", "I"],
            CodeSystem::WorkStatus => &["E", "S", "U"],
            CodeSystem::DiagnosisGroup => &[
                "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14",
                "15", "16", "17", "18", "19", "20", "21", "22",
            ],
            CodeSystem::KatzSetting => &["H", "R", "N"],
            CodeSystem::KatzCategory => &["O", "A", "B", "C", "Cd"],
            CodeSystem::Transmission => &["E", "F", "P"],
            _ => return None,
        })
    }
}

impl ColumnType {
    /// The Arrow type the column is stored as in the warehouse.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Text | ColumnType::Code(_) | ColumnType::CodedId => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Year => DataType::Int16,
            ColumnType::Integer => DataType::Int32,
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Amount => DataType::Decimal128(AMOUNT_PRECISION, AMOUNT_SCALE),
            ColumnType::Quantity => DataType::Float64,
        }
    }

    /// How the type is described in documentation.
    pub fn describe(self) -> String {
        match self {
            ColumnType::Text => "text".into(),
            ColumnType::Code(cs) => format!("code ({})", cs.label()),
            ColumnType::CodedId => "coded identifier (32 hex)".into(),
            ColumnType::Date => "date (YYYY-MM-DD)".into(),
            ColumnType::Year => "year".into(),
            ColumnType::Integer => "integer".into(),
            ColumnType::Boolean => "boolean (true/false)".into(),
            ColumnType::Amount => "amount in euros (2 decimals)".into(),
            ColumnType::Quantity => "decimal quantity".into(),
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// Column name, as in the delivery file header and the warehouse.
    pub name: &'static str,
    /// Logical type.
    pub ty: ColumnType,
    /// Whether the value may be empty.
    pub nullable: bool,
    /// What the column means, for a data manager.
    pub description: &'static str,
}

/// A source table: its columns and what one row is.
#[derive(Debug)]
pub struct TableDef {
    /// Warehouse table name.
    pub name: &'static str,
    /// The database code (POPU, GZSS, FARU).
    pub code: &'static str,
    /// What one row is.
    pub grain: &'static str,
    /// What the table holds.
    pub description: &'static str,
    /// The delivered columns, in file order.
    pub columns: &'static [ColumnDef],
    /// Columns that together identify a row within one delivery (for the duplicate rule).
    pub key: &'static [&'static str],
}

/// Columns the warehouse adds to every delivered row.
pub const WAREHOUSE_COLUMNS: &[ColumnDef] = &[
    ColumnDef {
        name: "period",
        ty: ColumnType::Text,
        nullable: false,
        description: "Delivery period (quarter, e.g. 2024Q2); partition column.",
    },
    ColumnDef {
        name: "delivery_id",
        ty: ColumnType::Text,
        nullable: false,
        description: "Identifier of the delivery the row came from (insurer-database-period-checksum prefix).",
    },
];

const fn col(
    name: &'static str,
    ty: ColumnType,
    nullable: bool,
    description: &'static str,
) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        nullable,
        description,
    }
}

use CodeSystem as C;
use ColumnType as T;

/// POPU: the insured population.
pub static POPU: TableDef = TableDef {
    name: "popu",
    code: "POPU",
    grain: "one row per insured person and insurer, state at the end of the quarter (or at exit/death)",
    description: "Insured population of one insurer: who is insured, where they live, their social status.",
    columns: &[
        col(
            "person_id",
            T::CodedId,
            false,
            "Person, coded by the trusted third party (same code across insurers and years).",
        ),
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col("birth_year", T::Year, false, "Year of birth."),
        col("sex", T::Code(C::Sex), false, "Sex: M or F."),
        col(
            "municipality",
            T::Code(C::Municipality),
            false,
            "Municipality of residence (NIS code of the list in force on the reference date).",
        ),
        col(
            "sector",
            T::Code(C::Sector),
            true,
            "Statistical sector of residence (NIS9, 2019 boundaries).",
        ),
        col(
            "increased_reimbursement",
            T::Boolean,
            false,
            "Entitled to increased reimbursement (BIM/VT) on the reference date.",
        ),
        col(
            "nursing_home",
            T::Boolean,
            false,
            "Lives in a nursing home (residential care) on the reference date.",
        ),
        col(
            "entry_date",
            T::Date,
            true,
            "Date the person joined this insurer, when inside the year.",
        ),
        col(
            "exit_date",
            T::Date,
            true,
            "Date the person left this insurer (change of insurer, emigration), when inside the period.",
        ),
        col(
            "death_date",
            T::Date,
            true,
            "Date of death, when inside the period.",
        ),
        col(
            "reference_date",
            T::Date,
            false,
            "Date the snapshot describes: the last day of the quarter.",
        ),
    ],
    key: &["person_id"],
};

/// GZSS: reimbursed health care.
pub static GZSS: TableDef = TableDef {
    name: "gzss",
    code: "GZSS",
    grain: "one row per billed health-care service (billing line)",
    description: "Health-care services reimbursed by the compulsory insurance, as billed by providers and institutions.",
    columns: &[
        col(
            "line_id",
            T::Text,
            false,
            "Insurer's identifier of the billing line, unique within the insurer.",
        ),
        col(
            "person_id",
            T::CodedId,
            false,
            "Patient, coded by the trusted third party.",
        ),
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col(
            "nomenclature",
            T::Code(C::Nomenclature),
            false,
            "RIZIV/INAMI nomenclature code of the service.",
        ),
        col(
            "service_date",
            T::Date,
            false,
            "Date the service was provided (for a hospital day: that day).",
        ),
        col(
            "provider_id",
            T::CodedId,
            true,
            "Provider who performed the service, coded.",
        ),
        col(
            "provider_qualification",
            T::Code(C::Qualification),
            true,
            "Qualification of the provider (last three digits of the practitioner number).",
        ),
        col(
            "prescriber_id",
            T::CodedId,
            true,
            "Prescribing provider, coded.",
        ),
        col(
            "institution_id",
            T::CodedId,
            true,
            "Hospital or institution where the service was provided, coded.",
        ),
        col(
            "room_type",
            T::Code(C::RoomType),
            true,
            "For hospital days: S (single room) or C (shared room).",
        ),
        col(
            "units",
            T::Integer,
            false,
            "Number of units billed (negative for a correction line).",
        ),
        col(
            "amount_reimbursed",
            T::Amount,
            false,
            "Amount paid by the compulsory insurance, euros.",
        ),
        col(
            "copayment",
            T::Amount,
            false,
            "Patient co-payment (ticket modérateur / remgeld), euros.",
        ),
        col(
            "supplement",
            T::Amount,
            false,
            "Supplements billed to the patient (fee or room supplements), euros.",
        ),
    ],
    key: &["line_id"],
};

/// FARU: drugs delivered in public pharmacies.
pub static FARU: TableDef = TableDef {
    name: "faru",
    code: "FARU",
    grain: "one row per reimbursed product delivered in a public pharmacy",
    description: "Reimbursed drugs delivered in public pharmacies (Pharmanet).",
    columns: &[
        col(
            "line_id",
            T::Text,
            false,
            "Insurer's identifier of the delivery line, unique within the insurer.",
        ),
        col(
            "person_id",
            T::CodedId,
            false,
            "Patient, coded by the trusted third party.",
        ),
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col(
            "delivery_date",
            T::Date,
            false,
            "Date the pharmacy delivered the product.",
        ),
        col(
            "cnk",
            T::Code(C::Cnk),
            false,
            "National product code (CNK) of the package.",
        ),
        col(
            "atc",
            T::Code(C::Atc),
            false,
            "WHO ATC code (level 5) of the active substance.",
        ),
        col(
            "ddd",
            T::Quantity,
            false,
            "Number of WHO defined daily doses delivered.",
        ),
        col(
            "packages",
            T::Integer,
            false,
            "Number of packages (negative for a correction line).",
        ),
        col("prescriber_id", T::CodedId, true, "Prescriber, coded."),
        col("pharmacy_id", T::CodedId, true, "Pharmacy, coded."),
        col(
            "amount_reimbursed",
            T::Amount,
            false,
            "Amount paid by the compulsory insurance, euros.",
        ),
        col("copayment", T::Amount, false, "Patient co-payment, euros."),
    ],
    key: &["line_id"],
};

mod other;
pub use other::{CHIV, CHTA, DOCN, ITAO, KATS, PGDP};

/// All source tables, in the order of [`crate::Database::ALL`].
pub fn source_tables() -> [&'static TableDef; 9] {
    crate::Database::ALL.map(|d| d.table())
}

impl TableDef {
    /// The column with this name, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Index of the column with this name, if any.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Arrow schema of the delivered columns.
    pub fn delivery_schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns.iter().map(field).collect::<Vec<_>>(),
        ))
    }

    /// Arrow schema of the warehouse table: delivered columns plus [`WAREHOUSE_COLUMNS`].
    pub fn warehouse_schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .chain(WAREHOUSE_COLUMNS)
                .map(field)
                .collect::<Vec<_>>(),
        ))
    }
}

fn field(c: &ColumnDef) -> Field {
    Field::new(c.name, c.ty.arrow(), c.nullable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_are_columns() {
        for t in source_tables() {
            for k in t.key {
                assert!(t.column(k).is_some(), "{}: key {k}", t.name);
            }
            let mut names: Vec<_> = t.columns.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), t.columns.len(), "{}: duplicate column", t.name);
            assert!(t.column("insurer").is_some());
            // Every table but the aggregated DOCN is about persons.
            assert_eq!(
                t.column("person_id").is_some(),
                t.code != "DOCN",
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn tables_follow_the_database_order() {
        for (d, t) in crate::Database::ALL.iter().zip(source_tables()) {
            assert_eq!(d.code(), t.code);
            assert_eq!(d.table_name(), t.name);
        }
    }

    #[test]
    fn warehouse_schema_adds_partition_columns() {
        let s = GZSS.warehouse_schema();
        assert_eq!(
            s.fields().len(),
            GZSS.columns.len() + WAREHOUSE_COLUMNS.len()
        );
        assert!(s.field_with_name("period").is_ok());
        assert_eq!(
            s.field_with_name("amount_reimbursed").unwrap().data_type(),
            &DataType::Decimal128(12, 2)
        );
    }
}
