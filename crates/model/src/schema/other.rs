//! The agency's other source databases (seed 002 §3.1.1): chapter IV authorisations,
//! work incapacity, Katz assessments, GP patient files, the statistical documents N, and the
//! New Attest extension of GZSS (PGDP, seed 002 §3.1.2). `docs/data-model.md` says how each
//! is read; `docs/delivery-format.md` what a quarter's delivery holds.

use super::{CodeSystem as C, ColumnType as T, TableDef, col};

/// PGDP: the New Attest fields of billing lines, kept beside GZSS in a table of their own.
pub static PGDP: TableDef = TableDef {
    name: "pgdp",
    code: "PGDP",
    grain: "one row per GZSS billing line that went through New Attest (eAttest or eFact), same line_id as in GZSS",
    description: "New Attest extension of GZSS: billing fields not used in studies (transmission, attestation, third-party payment), kept in a separate table.",
    columns: &[
        col(
            "line_id",
            T::Text,
            false,
            "The GZSS billing line this row extends (same insurer, same quarter).",
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
            "service_date",
            T::Date,
            false,
            "Date of the service (as on the GZSS line).",
        ),
        col(
            "transmission",
            T::Code(C::Transmission),
            false,
            "How the line reached the insurer: E eAttest, F eFact, P paper.",
        ),
        col(
            "attestation_id",
            T::Text,
            false,
            "Identifier of the electronic attestation or invoice (insurer's numbering).",
        ),
        col(
            "third_party_payer",
            T::Boolean,
            false,
            "Billed under the third-party payer scheme (the insurer paid the provider).",
        ),
        col(
            "submission_date",
            T::Date,
            false,
            "Date the attestation or invoice was received by the insurer.",
        ),
    ],
    key: &["line_id"],
};

/// CHIV: chapter IV authorisations.
pub static CHIV: TableDef = TableDef {
    name: "chiv",
    code: "CHIV",
    grain: "one row per decision of the advising physician on a chapter IV request",
    description: "Chapter IV authorisations: medicines reimbursed only after the insurer's advising physician approved them for the patient, with the paragraph of chapter IV and the validity period.",
    columns: &[
        col(
            "authorisation_id",
            T::Text,
            false,
            "Insurer's identifier of the decision, unique within the insurer.",
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
            "paragraph",
            T::Text,
            false,
            "Paragraph of chapter IV of the list of reimbursable specialities (e.g. 5070000).",
        ),
        col(
            "atc",
            T::Code(C::AtcGroup),
            false,
            "The medicine (ATC level 5) or group of medicines (a shorter ATC code) authorised.",
        ),
        col(
            "decision",
            T::Code(C::ChapterIvDecision),
            false,
            "A authorised, R refused.",
        ),
        col(
            "decision_date",
            T::Date,
            false,
            "Date of the decision; the delivery of a quarter holds the decisions taken in it.",
        ),
        col(
            "valid_from",
            T::Date,
            true,
            "First day the authorisation covers (empty for a refusal).",
        ),
        col(
            "valid_to",
            T::Date,
            true,
            "Last day the authorisation covers (empty for a refusal).",
        ),
    ],
    key: &["authorisation_id"],
};

/// ITAO: work incapacity and invalidity episodes.
pub static ITAO: TableDef = TableDef {
    name: "itao",
    code: "ITAO",
    grain: "one row per incapacity episode overlapping the quarter, as known at the end of the quarter",
    description: "Work incapacity (primary incapacity, the first year) and invalidity (beyond a year) of insured workers, employees, self-employed and unemployed.",
    columns: &[
        col(
            "episode_id",
            T::Text,
            false,
            "Insurer's identifier of the episode, the same in every quarter it spans.",
        ),
        col(
            "person_id",
            T::CodedId,
            false,
            "Insured worker, coded by the trusted third party.",
        ),
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col(
            "start_date",
            T::Date,
            false,
            "First day of the episode of this type.",
        ),
        col(
            "end_date",
            T::Date,
            true,
            "Last day of the episode; empty when it goes on after the quarter.",
        ),
        col(
            "kind",
            T::Code(C::IncapacityKind),
            false,
            "P primary incapacity (first year), I invalidity (after a year of incapacity).",
        ),
        col(
            "work_status",
            T::Code(C::WorkStatus),
            false,
            "E employee, S self-employed, U unemployed, at the start of the episode.",
        ),
        col(
            "diagnosis_group",
            T::Code(C::DiagnosisGroup),
            true,
            "ICD-10 chapter of the main diagnosis (01-22), where the insurer delivers it.",
        ),
    ],
    key: &["episode_id"],
};

/// KATS: Katz scale assessments.
pub static KATS: TableDef = TableDef {
    name: "kats",
    code: "KATS",
    grain: "one row per Katz assessment",
    description: "Katz scale assessments of dependency made for home nursing and nursing homes: the six item scores (1 independent to 4 fully dependent) and the resulting category.",
    columns: &[
        col(
            "assessment_id",
            T::Text,
            false,
            "Insurer's identifier of the assessment, unique within the insurer.",
        ),
        col(
            "person_id",
            T::CodedId,
            false,
            "Person assessed, coded by the trusted third party.",
        ),
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col("assessment_date", T::Date, false, "Date of the assessment."),
        col(
            "setting",
            T::Code(C::KatzSetting),
            false,
            "H home nursing, R rest home (ROB/MRPA), N nursing home (RVT/MRS).",
        ),
        col(
            "washing",
            T::Integer,
            false,
            "Score for washing, 1 (independent) to 4 (fully dependent).",
        ),
        col("dressing", T::Integer, false, "Score for dressing, 1 to 4."),
        col(
            "transfer",
            T::Integer,
            false,
            "Score for transfer and moving about, 1 to 4.",
        ),
        col(
            "toileting",
            T::Integer,
            false,
            "Score for going to the toilet, 1 to 4.",
        ),
        col(
            "continence",
            T::Integer,
            false,
            "Score for continence, 1 to 4.",
        ),
        col("eating", T::Integer, false, "Score for eating, 1 to 4."),
        col(
            "category",
            T::Code(C::KatzCategory),
            false,
            "Dependency category the scores give: O, A, B, C or Cd (C with dementia).",
        ),
    ],
    key: &["assessment_id"],
};

/// CHTA: GP patient files.
pub static CHTA: TableDef = TableDef {
    name: "chta",
    code: "CHTA",
    grain: "one row per patient and GP practice holding their global medical file or their flat-fee enrolment, at the end of the quarter",
    description: "GP patient files: which practice holds each patient's global medical file (GMD/DMG) and which patients are enrolled in a flat-fee medical house (forfait, maison médicale / wijkgezondheidscentrum).",
    columns: &[
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
            "practice_id",
            T::CodedId,
            false,
            "GP practice (or medical house), a provider coded by the trusted third party.",
        ),
        col(
            "global_medical_file",
            T::Boolean,
            false,
            "The practice holds the patient's global medical file.",
        ),
        col(
            "flat_fee",
            T::Boolean,
            false,
            "The patient is enrolled with the practice under the flat fee (medical house).",
        ),
        col(
            "start_date",
            T::Date,
            false,
            "First day of the file or enrolment with this practice.",
        ),
        col(
            "end_date",
            T::Date,
            true,
            "Last day, when it ended inside the quarter.",
        ),
        col(
            "reference_date",
            T::Date,
            false,
            "The last day of the quarter.",
        ),
    ],
    key: &["person_id", "practice_id"],
};

/// DOCN: the statistical documents N.
pub static DOCN: TableDef = TableDef {
    name: "docn",
    code: "DOCN",
    grain: "one row per booking month, month of service and nomenclature code (aggregated, no person)",
    description: "The statistical documents N an insurer sends the INAMI/RIZIV every month: cases, units and expenditure booked per nomenclature code and month of service. Aggregated; used to reconcile the person-level GZSS with the insurer's accounts.",
    columns: &[
        col(
            "insurer",
            T::Code(C::Insurer),
            false,
            "Insurer delivering the row.",
        ),
        col(
            "booking_month",
            T::Date,
            false,
            "First day of the month in which the insurer booked the expenditure.",
        ),
        col(
            "service_month",
            T::Date,
            false,
            "First day of the month in which the services were provided.",
        ),
        col(
            "nomenclature",
            T::Code(C::Nomenclature),
            false,
            "RIZIV/INAMI nomenclature code.",
        ),
        col(
            "cases",
            T::Integer,
            false,
            "Number of cases (billing lines) booked, corrections netted.",
        ),
        col(
            "units",
            T::Integer,
            false,
            "Number of units (services, days) booked, corrections netted.",
        ),
        col(
            "amount_reimbursed",
            T::Amount,
            false,
            "Expenditure of the compulsory insurance booked, euros.",
        ),
    ],
    key: &["booking_month", "service_month", "nomenclature"],
};
