//! The derived tables' schemas and Arrow batches: HOSP, PATI and the sample's PATI.

use crate::DeriveError;
use crate::definitions::{Definitions, Variable};
use crate::hosp::Stay;
use crate::sample;
use crate::scan::coded_text;
use crate::year::{Contact, MoneyKind, YearData};
use deltalake::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, StringArray,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use deltalake::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Rows per output batch.
const CHUNK: usize = 64 * 1024;

fn amount() -> DataType {
    DataType::Decimal128(14, 2)
}

fn arrow_type(kind: &str) -> DataType {
    match kind {
        "text" => DataType::Utf8,
        "integer" => DataType::Int32,
        "boolean" => DataType::Boolean,
        "date" => DataType::Date32,
        "amount" => amount(),
        other => unreachable!("catalogue type {other} (checked by tests)"),
    }
}

/// Schema of `hosp`.
pub fn hosp_schema() -> Arc<Schema> {
    let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
    Arc::new(Schema::new(vec![
        f("stay_id", DataType::Utf8, false),
        f("person_id", DataType::Utf8, false),
        f("insurer", DataType::Utf8, false),
        f("institution_id", DataType::Utf8, true),
        f("kind", DataType::Utf8, false),
        f("admission", DataType::Date32, false),
        f("discharge", DataType::Date32, false),
        f("length_of_stay", DataType::Int32, false),
        f("billed_days", DataType::Int32, false),
        f("room_type", DataType::Utf8, true),
        f("transfer", DataType::Boolean, false),
        f("open_at_year_end", DataType::Boolean, false),
        f("reimbursed", amount(), false),
        f("copayment", amount(), false),
        f("supplement", amount(), false),
        f("fee_lines", DataType::Int32, false),
        f("year", DataType::Int32, false),
    ]))
}

/// Schema of `pati` (the sample's adds the two weights before `year`).
pub fn pati_schema(defs: &Definitions, with_weights: bool) -> Arc<Schema> {
    let mut fields: Vec<Field> = defs
        .pati_columns()
        .iter()
        .map(|v: &Variable| {
            let nullable = matches!(v.name.as_str(), "death_date" | "municipality_2025");
            Field::new(&v.name, arrow_type(&v.kind), nullable)
        })
        .collect();
    if with_weights {
        fields.push(Field::new("eps_design_weight", DataType::Float64, false));
        fields.push(Field::new("eps_weight", DataType::Float64, false));
    }
    fields.push(Field::new("year", DataType::Int32, false));
    Arc::new(Schema::new(fields))
}

fn decimal(v: Vec<i128>) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(v)
            .with_precision_and_scale(14, 2)
            .expect("valid precision"),
    )
}

fn date_text(days: i32) -> String {
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(days as u64))
        .format("%Y%m%d")
        .to_string()
}

/// HOSP rows as batches (all stays, or only those of `keep` persons).
pub fn hosp_batches(
    stays: &[Stay],
    year: i32,
    keep: impl Fn(u128) -> bool,
) -> Result<Vec<RecordBatch>, DeriveError> {
    let schema = hosp_schema();
    let selected: Vec<&Stay> = stays.iter().filter(|s| keep(s.person)).collect();
    let mut out = Vec::new();
    for chunk in selected.chunks(CHUNK) {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(chunk.iter().map(|s| {
                format!(
                    "{}:{}:{}{}",
                    coded_text(s.person),
                    date_text(s.admission),
                    match s.kind {
                        crate::hosp::StayKind::Classic => 'C',
                        crate::hosp::StayKind::Day => 'D',
                    },
                    s.ordinal
                )
            }))),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|s| coded_text(s.person)),
            )),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|s| s.insurer.to_string()),
            )),
            Arc::new(StringArray::from_iter(chunk.iter().map(|s| {
                (s.institution != 0).then(|| coded_text(s.institution))
            }))),
            Arc::new(StringArray::from_iter_values(
                chunk.iter().map(|s| s.kind.as_str()),
            )),
            Arc::new(Date32Array::from_iter_values(
                chunk.iter().map(|s| s.admission),
            )),
            Arc::new(Date32Array::from_iter_values(
                chunk.iter().map(|s| s.discharge),
            )),
            Arc::new(Int32Array::from_iter_values(
                chunk.iter().map(|s| s.discharge - s.admission),
            )),
            Arc::new(Int32Array::from_iter_values(
                chunk.iter().map(|s| s.billed_days),
            )),
            Arc::new(StringArray::from_iter(
                chunk
                    .iter()
                    .map(|s| (s.room != 0).then(|| (s.room as char).to_string())),
            )),
            Arc::new(BooleanArray::from_iter(
                chunk.iter().map(|s| Some(s.transfer)),
            )),
            Arc::new(BooleanArray::from_iter(
                chunk.iter().map(|s| Some(s.open_at_year_end)),
            )),
            decimal(chunk.iter().map(|s| i128::from(s.reimbursed)).collect()),
            decimal(chunk.iter().map(|s| i128::from(s.copayment)).collect()),
            decimal(chunk.iter().map(|s| i128::from(s.supplement)).collect()),
            Arc::new(Int32Array::from_iter_values(
                chunk.iter().map(|s| s.fee_lines),
            )),
            Arc::new(Int32Array::from_iter_values(chunk.iter().map(|_| year))),
        ];
        out.push(
            RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| DeriveError::Schema(e.to_string()))?,
        );
    }
    Ok(out)
}

/// Weights of the sample per stratum: (design weight per person, calibrated weight).
fn weights(data: &YearData, defs: &Definitions, p: usize) -> (f64, f64) {
    let person = &data.persons[p];
    let age = data.year - i32::from(person.birth_year);
    let s = sample::stratum(&defs.sample, age, person.sex);
    let n = data.counters.sample_members[s].max(1) as f64;
    (
        1.0 / sample::fraction(&defs.sample, age),
        data.counters.population[s] as f64 / n,
    )
}

/// PATI rows as batches: every person, or only the sample's members (with weights).
pub fn pati_batches(
    data: &YearData,
    defs: &Definitions,
    mergers: &std::collections::HashMap<u32, u32>,
    sample_only: bool,
) -> Result<Vec<RecordBatch>, DeriveError> {
    let schema = pati_schema(defs, sample_only);
    let rows: Vec<usize> = (0..data.persons.len())
        .filter(|&p| !sample_only || data.member[p])
        .collect();
    let mut out = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            cols.push(pati_column(data, defs, field.name(), chunk, mergers)?);
        }
        out.push(
            RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| DeriveError::Schema(e.to_string()))?,
        );
    }
    Ok(out)
}

fn pati_column(
    data: &YearData,
    defs: &Definitions,
    name: &str,
    rows: &[usize],
    mergers: &std::collections::HashMap<u32, u32>,
) -> Result<ArrayRef, DeriveError> {
    let persons = &data.persons;
    let int = |f: &dyn Fn(usize) -> i64| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(
            rows.iter()
                .map(|&p| f(p).clamp(0, i64::from(i32::MAX)) as i32),
        ))
    };
    let boolean = |f: &dyn Fn(usize) -> bool| -> ArrayRef {
        Arc::new(BooleanArray::from_iter(rows.iter().map(|&p| Some(f(p)))))
    };
    let contact = |c: Contact| -> ArrayRef { int(&|p| data.contact(p, c)) };
    let sum_groups = |kind: MoneyKind| -> ArrayRef {
        decimal(
            rows.iter()
                .map(|&p| {
                    (0..defs.spending_groups.len())
                        .map(|g| i128::from(data.money(p, g, kind)))
                        .sum()
                })
                .collect(),
        )
    };
    let arr: ArrayRef = match name {
        "person_id" => Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&p| coded_text(persons[p].id)),
        )),
        "insurer" => Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&p| persons[p].insurer.to_string()),
        )),
        "birth_year" => int(&|p| i64::from(persons[p].birth_year)),
        "age" => int(&|p| i64::from(data.year) - i64::from(persons[p].birth_year)),
        "sex" => Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&p| (persons[p].sex as char).to_string()),
        )),
        "municipality" => Arc::new(StringArray::from_iter_values(
            rows.iter()
                .map(|&p| format!("{:05}", persons[p].municipality)),
        )),
        "municipality_2025" => Arc::new(StringArray::from_iter_values(rows.iter().map(|&p| {
            let m = persons[p].municipality;
            format!("{:05}", mergers.get(&m).copied().unwrap_or(m))
        }))),
        "quarters_insured" => int(&|p| i64::from(persons[p].quarters.count_ones())),
        "increased_reimbursement" => boolean(&|p| persons[p].increased_reimbursement),
        "nursing_home" => boolean(&|p| persons[p].nursing_home),
        "death_date" => Arc::new(Date32Array::from_iter(
            rows.iter().map(|&p| persons[p].death_date),
        )),
        "gp_record" => boolean(&|p| data.contact(p, Contact::GpRecord) > 0),
        "gp_contacts" => contact(Contact::Gp),
        "specialist_contacts" => contact(Contact::Specialist),
        "psychiatrist_contacts" => contact(Contact::Psychiatrist),
        "emergency_visits" => contact(Contact::Emergency),
        "dental_checkups" => contact(Contact::Dental),
        "physiotherapy_sessions" => contact(Contact::Physiotherapy),
        "flu_vaccinated" => boolean(&|p| {
            data.contact(p, Contact::FluFee) > 0 || data.contact(p, Contact::FluVaccine) > 0
        }),
        "classic_stays" => int(&|p| i64::from(data.stay_counts[p][0])),
        "hospital_days" => int(&|p| i64::from(data.stay_counts[p][1])),
        "day_stays" => int(&|p| i64::from(data.stay_counts[p][2])),
        "reimbursed_total" => sum_groups(MoneyKind::Reimbursed),
        "copayment_total" => sum_groups(MoneyKind::Copayment),
        "supplement_total" => sum_groups(MoneyKind::Supplement),
        "out_of_pocket" => decimal(
            rows.iter()
                .map(|&p| {
                    (0..defs.spending_groups.len())
                        .map(|g| {
                            i128::from(data.money(p, g, MoneyKind::Copayment))
                                + i128::from(data.money(p, g, MoneyKind::Supplement))
                        })
                        .sum()
                })
                .collect(),
        ),
        "substances_80ddd" => int(&|p| i64::from(data.substances[p])),
        "polypharmacy" => boolean(&|p| data.substances[p] >= 5),
        "eps_member" => boolean(&|p| data.member[p]),
        "eps_design_weight" | "eps_weight" => {
            let second = name == "eps_weight";
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|&p| {
                let (d, w) = weights(data, defs, p);
                if second { w } else { d }
            })))
        }
        "incapacity_days_primary" => int(&|p| i64::from(data.others.incapacity_days[p][0])),
        "incapacity_days_invalidity" => int(&|p| i64::from(data.others.incapacity_days[p][1])),
        "incapacity_type" => Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&p| data.others.incapacity_type(p)),
        )),
        "katz_category" => Arc::new(StringArray::from_iter_values(
            rows.iter().map(|&p| data.others.katz_category(p)),
        )),
        "flat_fee" => boolean(&|p| data.others.flat_fee[p]),
        "year" => Arc::new(Int32Array::from_iter_values(rows.iter().map(|_| data.year))),
        other => {
            if let Some(k) = defs.drug_groups.iter().position(|g| g.column() == other) {
                boolean(&|p| data.drug_flags[p] & (1 << k) != 0)
            } else if let Some(k) = defs.chapter_iv.iter().position(|f| f.column() == other) {
                boolean(&|p| data.others.chapter_iv[p] & (1 << k) != 0)
            } else if let Some((kind, group)) = money_column(defs, other) {
                decimal(
                    rows.iter()
                        .map(|&p| i128::from(data.money(p, group, kind)))
                        .collect(),
                )
            } else {
                return Err(DeriveError::Definitions(format!(
                    "pati.toml lists a column '{other}' that the build does not know how to compute"
                )));
            }
        }
    };
    Ok(arr)
}

fn money_column(defs: &Definitions, name: &str) -> Option<(MoneyKind, usize)> {
    let (kind, rest) = if let Some(r) = name.strip_prefix("reimbursed_") {
        (MoneyKind::Reimbursed, r)
    } else if let Some(r) = name.strip_prefix("copayment_") {
        (MoneyKind::Copayment, r)
    } else if let Some(r) = name.strip_prefix("supplement_") {
        (MoneyKind::Supplement, r)
    } else {
        return None;
    };
    defs.spending_groups
        .iter()
        .position(|g| g.id == rest)
        .map(|g| (kind, g))
}
