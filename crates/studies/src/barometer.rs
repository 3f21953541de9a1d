//! The hospital cost barometer (`aim study barometer`, docs/studies.md): what patients pay
//! per stay — co-payment and supplements, by room type — per hospital, for classic stays and
//! day hospital, per year, with the single-room vs shared-room comparison (seed 002 §2: the
//! agency's "baromètre des coûts hospitaliers").
//!
//! The gate counts persons, one row per person (docs/disclosure.md), so each table is one
//! row per patient: the patient's stays of the kind in the year **at the hospital of their
//! first stay of that kind** (admission order), summed. The few stays a patient had in a
//! second hospital that year are left out of the hospital cells (their number is released
//! as `stays_other_hospital` and stated in the report); every stay of a patient treated in
//! one hospital counts. Means per stay and per day are computed from the released sums, so a
//! mean exists only where both sums were released.

use aim_disclosure::{DimensionSpec, MeasureSpec, Statistic, TableRequest, Unit};

/// The kind of stay of a table (HOSP's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayKind {
    /// Classic stays (at least one night), billed per day with a room type.
    Classic,
    /// Day-hospital stays.
    Day,
}

impl StayKind {
    /// Both kinds, in report order.
    pub const ALL: [StayKind; 2] = [StayKind::Classic, StayKind::Day];

    /// HOSP's value.
    pub fn as_str(self) -> &'static str {
        match self {
            StayKind::Classic => "classic",
            StayKind::Day => "day",
        }
    }

    /// French and Dutch names.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            StayKind::Classic => ("Hospitalisation classique", "Klassieke opname"),
            StayKind::Day => ("Hôpital de jour", "Daghospitalisatie"),
        }
    }
}

/// The released sums of a barometer table (each `sum_<name>` in the released file).
pub const MEASURES: [&str; 13] = [
    "stays",
    "days",
    "copayment",
    "supplement",
    "stays_single",
    "days_single",
    "copayment_single",
    "supplement_single",
    "stays_shared",
    "days_shared",
    "copayment_shared",
    "supplement_shared",
    "stays_other_hospital",
];

/// The label of the all-hospitals margin.
pub const ALL_HOSPITALS: &str = "Belgium";

/// The table request of one year and kind: one row per patient (stays at the hospital of
/// their first stay of the kind in the year), by hospital.
pub fn table(year: i32, kind: StayKind) -> TableRequest {
    let room =
        |t: &str, col: &str| format!("sum(CASE WHEN s.room_type = '{t}' THEN {col} ELSE 0 END)");
    let money = |c: &str| format!("CAST(s.{c} AS DOUBLE)");
    let sql = format!(
        "WITH s AS (SELECT person_id, institution_id, admission, room_type, billed_days, \
         copayment, supplement FROM hosp \
         WHERE year = {year} AND kind = '{k}' AND institution_id IS NOT NULL), \
         ranked AS (SELECT person_id, institution_id, row_number() OVER \
         (PARTITION BY person_id ORDER BY admission, institution_id) AS n FROM s), \
         first_stay AS (SELECT person_id, institution_id FROM ranked WHERE n = 1), \
         elsewhere AS (SELECT s.person_id, count(*) AS stays FROM s \
         JOIN first_stay f ON f.person_id = s.person_id \
         WHERE s.institution_id <> f.institution_id GROUP BY s.person_id) \
         SELECT s.person_id, s.institution_id AS hospital, \
         count(*) AS stays, sum(s.billed_days) AS days, \
         sum({cp}) AS copayment, sum({sp}) AS supplement, \
         {ss} AS stays_single, {ds} AS days_single, {cs} AS copayment_single, {ps} AS supplement_single, \
         {sc} AS stays_shared, {dc} AS days_shared, {cc} AS copayment_shared, {pc} AS supplement_shared, \
         max(coalesce(e.stays, 0)) AS stays_other_hospital \
         FROM s JOIN first_stay f ON f.person_id = s.person_id \
         LEFT JOIN elsewhere e ON e.person_id = s.person_id \
         WHERE s.institution_id = f.institution_id \
         GROUP BY s.person_id, s.institution_id",
        k = kind.as_str(),
        cp = money("copayment"),
        sp = money("supplement"),
        ss = room("S", "1"),
        ds = room("S", "s.billed_days"),
        cs = room("S", &money("copayment")),
        ps = room("S", &money("supplement")),
        sc = room("C", "1"),
        dc = room("C", "s.billed_days"),
        cc = room("C", &money("copayment")),
        pc = room("C", &money("supplement")),
    );
    TableRequest {
        title: format!(
            "Hospital cost barometer: {} stays, {year}, per hospital",
            kind.as_str()
        ),
        requester: String::new(),
        sql,
        unit: Unit::One("person_id".into()),
        dimension: vec![DimensionSpec {
            name: "hospital".into(),
            levels: vec!["hospital".into()],
            total: ALL_HOSPITALS.into(),
        }],
        measure: MEASURES
            .iter()
            .map(|m| MeasureSpec {
                column: (*m).into(),
                statistics: vec![Statistic::Sum],
            })
            .collect(),
        rounding_base: None,
        provider: None,
        contributor: None,
    }
}

/// What a patient pays per stay and per day in one released cell, from its released sums
/// (`None` where a sum it needs was hidden or there is nothing to divide by).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Costs {
    /// Patients.
    pub patients: Option<i64>,
    /// Stays.
    pub stays: Option<f64>,
    /// Co-payment plus supplements per stay, euros.
    pub out_of_pocket_per_stay: Option<f64>,
    /// Co-payment per stay.
    pub copayment_per_stay: Option<f64>,
    /// Supplements per stay.
    pub supplement_per_stay: Option<f64>,
    /// Supplements per day in a single room.
    pub supplement_per_day_single: Option<f64>,
    /// Supplements per day in a shared room.
    pub supplement_per_day_shared: Option<f64>,
    /// Out of pocket per stay in a single room.
    pub out_of_pocket_per_stay_single: Option<f64>,
    /// Out of pocket per stay in a shared room.
    pub out_of_pocket_per_stay_shared: Option<f64>,
}

fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? + b?)
}

/// The costs of one released row.
pub fn costs(row: &crate::released::ReleasedRow) -> Costs {
    let v = |m: &str| row.value(&format!("sum_{m}"));
    Costs {
        patients: row.persons,
        stays: v("stays"),
        out_of_pocket_per_stay: ratio(add(v("copayment"), v("supplement")), v("stays")),
        copayment_per_stay: ratio(v("copayment"), v("stays")),
        supplement_per_stay: ratio(v("supplement"), v("stays")),
        supplement_per_day_single: ratio(v("supplement_single"), v("days_single")),
        supplement_per_day_shared: ratio(v("supplement_shared"), v("days_shared")),
        out_of_pocket_per_stay_single: ratio(
            add(v("copayment_single"), v("supplement_single")),
            v("stays_single"),
        ),
        out_of_pocket_per_stay_shared: ratio(
            add(v("copayment_shared"), v("supplement_shared")),
            v("stays_shared"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::released::ReleasedRow;

    #[test]
    fn each_table_is_a_valid_request_with_one_row_per_patient() {
        for kind in StayKind::ALL {
            let t = table(2024, kind);
            TableRequest::parse(&toml::to_string(&t).unwrap()).unwrap();
            assert!(t.sql.contains(&format!("kind = '{}'", kind.as_str())));
            assert!(t.sql.ends_with("GROUP BY s.person_id, s.institution_id"));
            assert_eq!(t.measure.len(), MEASURES.len());
        }
    }

    #[test]
    fn means_come_from_released_sums_only() {
        let row = |values: Vec<(&str, Option<f64>)>| ReleasedRow {
            labels: vec![("hospital".into(), "h".into())],
            persons: Some(10),
            values: values
                .into_iter()
                .map(|(k, v)| (format!("sum_{k}"), v))
                .collect(),
        };
        let c = costs(&row(vec![
            ("stays", Some(20.0)),
            ("copayment", Some(300.0)),
            ("supplement", Some(500.0)),
            ("supplement_single", Some(450.0)),
            ("days_single", Some(15.0)),
            ("supplement_shared", None),
            ("days_shared", Some(40.0)),
        ]));
        assert_eq!(c.out_of_pocket_per_stay, Some(40.0));
        assert_eq!(c.copayment_per_stay, Some(15.0));
        assert_eq!(c.supplement_per_day_single, Some(30.0));
        assert_eq!(c.supplement_per_day_shared, None);
        let hidden = costs(&row(vec![("stays", None), ("copayment", Some(1.0))]));
        assert_eq!(hidden.copayment_per_stay, None);
        let zero = costs(&row(vec![("stays_single", Some(0.0))]));
        assert_eq!(zero.out_of_pocket_per_stay_single, None);
    }
}
