//! The streaming checker: reads a delivery's files once, applies the row rules, hands the
//! accepted rows to a sink as Arrow batches and writes rejected rows to a feedback file.

use crate::IngestError;
use crate::context::{CheckContext, PersonFacts, coded_id_value};
use crate::delivery::{Delivery, DeliveryProblem, unreadable_id};
use crate::report::{CorrectionCheck, QcReport, RuleResult, RuleStatus, Verdict, result};
use crate::rules::{Level, Scope, id};
use crate::values::{date32, parse_bool, parse_cents, parse_date, parse_f64, parse_int};
use aim_model::schema::{CodeSystem, ColumnType, TableDef};
use aim_model::{Database, Period};
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int16Builder, Int32Builder,
    StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use chrono::NaiveDate;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// An error raised by a sink.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Receives the accepted rows of a delivery, batch by batch, in the warehouse schema of
/// the database (delivered columns, then `period` and `delivery_id`).
pub trait RowSink {
    /// Takes one batch.
    fn write(&mut self, batch: RecordBatch) -> Result<(), SinkError>;
}

/// A sink that keeps nothing (for a dry run: check only).
impl RowSink for () {
    fn write(&mut self, _batch: RecordBatch) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Largest amount accepted on one line, in cents.
const MAX_LINE_CENTS: i128 = 250_000 * 100;
/// Examples kept per rule.
const MAX_EXAMPLES: usize = 5;

/// Checks one delivery folder. Problems of the delivery end up in the returned report
/// (verdict, reasons, rule results); only failures on the platform's side are errors.
pub fn check_delivery(
    dir: &Path,
    ctx: &CheckContext<'_>,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(u64),
) -> Result<QcReport, IngestError> {
    let started = Instant::now();
    let delivery = match Delivery::open(dir) {
        Ok(d) => d,
        Err(problem) => return Ok(unreadable_report(dir, ctx, &problem, started)),
    };
    let mut run = Run::new(&delivery, ctx);
    if let Some(loaded) = ctx.loaded_sequence
        && delivery.manifest.sequence <= loaded
    {
        let stop = Stop {
            rule: id::MAN_004,
            message: format!(
                "sequence {} is not newer than the delivery already loaded for {} {} {} (sequence {loaded}); a correction must carry a higher sequence",
                delivery.manifest.sequence,
                delivery.manifest.insurer,
                delivery.manifest.database,
                delivery.manifest.period
            ),
        };
        return run.finish(Ok(Some(stop)), started);
    }
    let outcome = run.read_files(sink, progress);
    run.finish(outcome, started)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn unreadable_report(
    dir: &Path,
    ctx: &CheckContext<'_>,
    problem: &DeliveryProblem,
    started: Instant,
) -> QcReport {
    let rules = ctx
        .rules
        .rules
        .iter()
        .map(|r| {
            if r.id == id::MAN_001 {
                result(r, RuleStatus::Failed, 0, 0, problem.to_string())
            } else {
                result(
                    r,
                    RuleStatus::NotEvaluated,
                    0,
                    0,
                    "not evaluated: the manifest could not be read".into(),
                )
            }
        })
        .collect();
    QcReport {
        delivery_id: unreadable_id(dir),
        folder: dir.display().to_string(),
        insurer: None,
        database: None,
        period: None,
        sequence: None,
        verdict: Verdict::Rejected,
        reasons: vec![format!("MAN-001: {problem}")],
        rows_read: 0,
        rows_accepted: 0,
        rows_rejected: 0,
        rules,
        comparison: None,
        correction: None,
        feedback_file: None,
        checked_at: now_rfc3339(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// A parsed value of one field.
#[derive(Debug, Clone, Copy)]
enum Val {
    Null,
    Str,
    Date(i32),
    Year(i16),
    Int(i32),
    Bool(bool),
    Cents(i128),
    F64(f64),
}

/// Per-rule tally.
#[derive(Debug, Default, Clone)]
struct Tally {
    rows: u64,
    examples: Vec<String>,
    message: Option<String>,
}

mod other;

/// Positions (in schema order) of the columns the row rules look at.
struct Cols {
    person: Option<usize>,
    insurer: usize,
    event_date: Option<usize>,
    quantity: Option<usize>,
    amounts: Vec<usize>,
    ddd: Option<usize>,
    line_id: Option<usize>,
}

impl Cols {
    fn of(t: &TableDef) -> Cols {
        let i = |n: &str| t.index_of(n);
        Cols {
            person: i("person_id"),
            insurer: i("insurer").expect("every table has insurer"),
            event_date: i("service_date").or_else(|| i("delivery_date")),
            quantity: i("units").or_else(|| i("packages")),
            amounts: t
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.ty == ColumnType::Amount)
                .map(|(k, _)| k)
                .collect(),
            ddd: i("ddd"),
            line_id: i("line_id"),
        }
    }
}

/// One failure of one row.
struct Failure {
    rule: &'static str,
    column: &'static str,
    message: String,
}

/// Why reading stopped early (a delivery-scope failure).
struct Stop {
    rule: &'static str,
    message: String,
}

struct Run<'a> {
    delivery: &'a Delivery,
    ctx: &'a CheckContext<'a>,
    table: &'static TableDef,
    period: Period,
    cols: Cols,
    tallies: std::collections::HashMap<&'static str, Tally>,
    rows_read: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    seen_keys: HashSet<u128>,
    feedback: Option<csv::Writer<std::fs::File>>,
    feedback_error: Option<IngestError>,
    builder: BatchBuilder,
    /// Persons already enrolled under the flat fee in this delivery (CHT-001).
    flat_fee_persons: HashSet<u128>,
    niss_rows: u64,
    insurer_mismatch: u64,
    delivery_failures: Vec<(&'static str, String)>,
}

impl<'a> Run<'a> {
    fn new(delivery: &'a Delivery, ctx: &'a CheckContext<'a>) -> Run<'a> {
        let table = delivery.manifest.database.table();
        Run {
            delivery,
            ctx,
            table,
            period: delivery.manifest.period,
            cols: Cols::of(table),
            tallies: Default::default(),
            rows_read: 0,
            rows_accepted: 0,
            rows_rejected: 0,
            seen_keys: HashSet::new(),
            feedback: None,
            feedback_error: None,
            builder: BatchBuilder::new(
                table,
                &delivery.manifest.period.to_string(),
                &delivery.id(),
            ),
            flat_fee_persons: HashSet::new(),
            niss_rows: 0,
            insurer_mismatch: 0,
            delivery_failures: Vec::new(),
        }
    }

    /// Reads every file; returns the delivery-scope failure that stopped reading, if any.
    fn read_files(
        &mut self,
        sink: &mut dyn RowSink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<Stop>, IngestError> {
        for f in self.delivery.manifest.files.clone() {
            let path = self.delivery.dir.join(&f.name);
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(e) => {
                    return Ok(Some(Stop {
                        rule: id::MAN_002,
                        message: format!(
                            "file {} listed in the manifest cannot be opened: {e}",
                            f.name
                        ),
                    }));
                }
            };
            if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                return Ok(Some(Stop {
                    rule: id::FMT_001,
                    message: format!("file {} is empty (no header)", f.name),
                }));
            }
            let before = self.rows_read;
            let reader = crate::reader::spawn(file, f.name.ends_with(".gz"));
            let (stop, digest) = self.read_csv(&f.name, reader, sink, progress)?;
            if stop.is_some() {
                return Ok(stop);
            }
            if digest != f.sha256.to_ascii_lowercase() {
                return Ok(Some(Stop {
                    rule: id::MAN_002,
                    message: format!(
                        "file {}: SHA-256 is {digest} but the manifest says {}; the file was altered or truncated in transfer",
                        f.name, f.sha256
                    ),
                }));
            }
            let rows = self.rows_read - before;
            if rows != f.rows {
                return Ok(Some(Stop {
                    rule: id::MAN_002,
                    message: format!(
                        "file {} holds {rows} data rows but the manifest says {}",
                        f.name, f.rows
                    ),
                }));
            }
        }
        self.flush(sink)?;
        Ok(None)
    }

    /// Checks the records the reader thread hands over; returns the delivery-scope failure
    /// that stopped reading, if any, and the file's SHA-256.
    fn read_csv(
        &mut self,
        name: &str,
        reader: crate::reader::FileReader,
        sink: &mut dyn RowSink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(Option<Stop>, String), IngestError> {
        use crate::reader::ReadMsg;
        let header = match reader.messages.recv() {
            Ok(ReadMsg::Header(h)) => h,
            Ok(ReadMsg::Failed { message, .. }) => {
                let stop = Stop {
                    rule: id::FMT_001,
                    message: format!("file {name}: cannot read the header: {message}"),
                };
                return Ok((Some(stop), String::new()));
            }
            _ => {
                let stop = Stop {
                    rule: id::FMT_001,
                    message: format!("file {name}: the reader stopped before the header"),
                };
                return Ok((Some(stop), String::new()));
            }
        };
        let positions = match header_positions(self.table, &header) {
            Ok(p) => p,
            Err(message) => {
                return Ok((
                    Some(Stop {
                        rule: id::FMT_002,
                        message: format!("file {name}: {message}"),
                    }),
                    String::new(),
                ));
            }
        };
        let mut vals = vec![Val::Null; self.table.columns.len()];
        let mut failures: Vec<Failure> = Vec::new();
        let mut line: u64 = 1;
        let digest = loop {
            let chunk = match reader.messages.recv() {
                Ok(ReadMsg::Rows(chunk)) => chunk,
                Ok(ReadMsg::Done { sha256 }) => break sha256,
                Ok(ReadMsg::Failed {
                    after_line,
                    message,
                }) => {
                    let stop = Stop {
                        rule: id::FMT_001,
                        message: format!(
                            "file {name} is corrupt or truncated after line {after_line}: {message}"
                        ),
                    };
                    return Ok((Some(stop), String::new()));
                }
                Ok(ReadMsg::Header(_)) | Err(_) => {
                    let stop = Stop {
                        rule: id::FMT_001,
                        message: format!("file {name}: the reader stopped unexpectedly"),
                    };
                    return Ok((Some(stop), String::new()));
                }
            };
            for record in &chunk {
                line += 1;
                self.rows_read += 1;
                failures.clear();
                self.check_row(record, &positions, &mut vals, &mut failures, header.len());
                let rejected = failures
                    .iter()
                    .any(|f| self.ctx.rules.get(f.rule).level == Level::Error);
                for f in &failures {
                    let t = self.tallies.entry(f.rule).or_default();
                    t.rows += 1;
                    if t.examples.len() < MAX_EXAMPLES {
                        t.examples
                            .push(format!("{name} line {line}: {}", f.message));
                    }
                }
                if rejected {
                    self.rows_rejected += 1;
                    self.write_feedback(name, line, record, &positions, &failures);
                } else {
                    self.rows_accepted += 1;
                    self.builder.append(record, &positions, &vals);
                    if self.builder.len() >= self.ctx.batch_rows {
                        self.flush(sink)?;
                        progress(self.rows_read);
                    }
                }
            }
            let _ = reader.recycle.send(chunk);
        };
        progress(self.rows_read);
        Ok((None, digest))
    }

    fn flush(&mut self, sink: &mut dyn RowSink) -> Result<(), IngestError> {
        if self.builder.len() > 0 {
            sink.write(self.builder.finish())?;
        }
        Ok(())
    }

    fn write_feedback(
        &mut self,
        file: &str,
        line: u64,
        record: &csv::ByteRecord,
        positions: &[usize],
        failures: &[Failure],
    ) {
        if self.feedback_error.is_some() {
            return;
        }
        if self.feedback.is_none() {
            let path = &self.ctx.feedback_path;
            let opened = path
                .parent()
                .map(std::fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|_| std::fs::File::create(path));
            match opened {
                Ok(f) => {
                    let mut w = csv::WriterBuilder::new().delimiter(b';').from_writer(f);
                    let _ = w.write_record([
                        "file", "line", "row_key", "rule", "level", "column", "message",
                    ]);
                    self.feedback = Some(w);
                }
                Err(source) => {
                    self.feedback_error = Some(IngestError::Write {
                        path: path.clone(),
                        source,
                    });
                    return;
                }
            }
        }
        let key_col = self
            .cols
            .line_id
            .or_else(|| self.table.index_of(self.table.key[0]))
            .expect("the key is a column");
        let key = positions
            .get(key_col)
            .and_then(|&p| record.get(p))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        // Never echo a raw national number, even back to the insurer.
        let key = if aim_ttp::niss::looks_like_niss(&key) {
            "(masked national number)".to_string()
        } else {
            key
        };
        let w = self.feedback.as_mut().expect("opened above");
        for f in failures {
            let level = format!("{:?}", self.ctx.rules.get(f.rule).level).to_lowercase();
            if let Err(e) = w.write_record([
                file,
                &line.to_string(),
                &key,
                f.rule,
                &level,
                f.column,
                &f.message,
            ]) {
                self.feedback_error = Some(IngestError::Write {
                    path: self.ctx.feedback_path.clone(),
                    source: e.into(),
                });
                return;
            }
        }
    }

    /// Parses and checks one row, filling `vals` and `failures`.
    fn check_row(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &mut [Val],
        failures: &mut Vec<Failure>,
        header_len: usize,
    ) {
        if record.len() != header_len {
            failures.push(Failure {
                rule: id::FMT_003,
                column: "",
                message: format!("has {} fields, the header has {header_len}", record.len()),
            });
            return;
        }
        for (k, c) in self.table.columns.iter().enumerate() {
            let raw = &record[positions[k]];
            vals[k] = Val::Null;
            let Ok(text) = std::str::from_utf8(raw) else {
                failures.push(Failure {
                    rule: id::FMT_004,
                    column: c.name,
                    message: format!("{} is not valid UTF-8", c.name),
                });
                continue;
            };
            if raw.is_empty() {
                if !c.nullable {
                    failures.push(Failure {
                        rule: id::SCH_001,
                        column: c.name,
                        message: format!("{} is empty", c.name),
                    });
                }
                continue;
            }
            if holds_national_number(raw) {
                self.niss_rows += 1;
                failures.push(Failure {
                    rule: id::PRV_001,
                    column: c.name,
                    message: format!("{} holds a raw national number (value withheld)", c.name),
                });
                continue;
            }
            let parsed = match c.ty {
                ColumnType::Text => Some(Val::Str),
                ColumnType::CodedId => aim_model::is_coded_id(text).then_some(Val::Str),
                ColumnType::Code(cs) => self.check_code(cs, text, c.name, failures),
                ColumnType::Date => parse_date(raw).map(|d| Val::Date(date32(d))),
                ColumnType::Year => parse_int(raw)
                    .and_then(|v| i16::try_from(v).ok())
                    .map(Val::Year),
                ColumnType::Integer => parse_int(raw)
                    .and_then(|v| i32::try_from(v).ok())
                    .map(Val::Int),
                ColumnType::Boolean => parse_bool(raw).map(Val::Bool),
                ColumnType::Amount => parse_cents(raw).map(Val::Cents),
                ColumnType::Quantity => parse_f64(raw).map(Val::F64),
            };
            match parsed {
                Some(v) => vals[k] = v,
                None => {
                    if !failures.iter().any(|f| f.column == c.name) {
                        // An identifier that is not a TTP code is never echoed: it may be
                        // a national number in some other spelling.
                        let shown = if c.ty == ColumnType::CodedId {
                            "(value withheld)".to_string()
                        } else {
                            format!("'{}'", shorten(text))
                        };
                        failures.push(Failure {
                            rule: id::SCH_002,
                            column: c.name,
                            message: format!(
                                "{} {shown} is not a valid {}",
                                c.name,
                                c.ty.describe()
                            ),
                        });
                    }
                }
            }
        }
        let other_insurer = self.count_insurer_mismatch(record, positions);
        // Row rules that combine columns run only on rows whose values parsed.
        if failures
            .iter()
            .any(|f| matches!(f.rule, "FMT-004" | "SCH-001" | "SCH-002" | "PRV-001"))
        {
            return;
        }
        if other_insurer {
            failures.push(Failure {
                rule: id::MAN_003,
                column: "insurer",
                message: format!(
                    "insurer is {} but the manifest names {}",
                    String::from_utf8_lossy(&record[positions[self.cols.insurer]]),
                    self.delivery.manifest.insurer
                ),
            });
        }
        match self.delivery.manifest.database {
            Database::Popu => self.check_population_row(vals, failures),
            Database::Gzss | Database::Faru => {
                self.check_care_row(record, positions, vals, failures)
            }
            _ => self.check_other_row(record, positions, vals, failures),
        }
        self.check_duplicate(record, positions, failures);
    }

    /// Counts (for MAN-003) and tells whether the row names another insurer than the
    /// manifest.
    fn count_insurer_mismatch(&mut self, record: &csv::ByteRecord, positions: &[usize]) -> bool {
        let other = positions.get(self.cols.insurer).is_some_and(|&p| {
            let v = &record[p];
            !v.is_empty() && *v != *self.delivery.manifest.insurer.code().as_bytes()
        });
        if other {
            self.insurer_mismatch += 1;
        }
        other
    }

    fn check_code(
        &self,
        cs: CodeSystem,
        text: &str,
        column: &'static str,
        failures: &mut Vec<Failure>,
    ) -> Option<Val> {
        let codes = self.ctx.codes;
        let unknown = |rule: &'static str, failures: &mut Vec<Failure>| {
            failures.push(Failure {
                rule,
                column,
                message: format!(
                    "{} '{}' is not a known {}",
                    column,
                    shorten(text),
                    cs.label()
                ),
            });
            Some(Val::Str)
        };
        match cs {
            CodeSystem::Insurer => text.parse::<aim_model::Insurer>().ok().map(|_| Val::Str),
            _ if cs.closed_values().is_some() => cs
                .closed_values()
                .is_some_and(|v| v.contains(&text))
                .then_some(Val::Str),
            CodeSystem::Nomenclature if !codes.nomenclature.contains(text) => {
                unknown(id::COD_001, failures)
            }
            CodeSystem::Atc if !codes.atc.contains(text) => unknown(id::COD_002, failures),
            CodeSystem::AtcGroup if !codes.atc_groups.contains(text) => {
                unknown(id::COD_002, failures)
            }
            CodeSystem::Municipality => {
                // The list in force on the reference date (POPU's reference_date is parsed later
                // in the row, so use the period end, which the reference date must equal).
                if codes.municipalities_on(self.period.end()).contains(text) {
                    Some(Val::Str)
                } else {
                    unknown(id::COD_003, failures)
                }
            }
            CodeSystem::Qualification if !codes.qualifications.contains(text) => {
                unknown(id::COD_004, failures)
            }
            CodeSystem::Sector if !codes.sectors.is_empty() && !codes.sectors.contains(text) => {
                unknown(id::COD_004, failures)
            }
            CodeSystem::Cnk if !(text.len() == 7 && text.bytes().all(|b| b.is_ascii_digit())) => {
                unknown(id::COD_004, failures)
            }
            _ => Some(Val::Str),
        }
    }

    fn date_at(&self, vals: &[Val], name: &str) -> Option<NaiveDate> {
        match self.table.index_of(name).map(|k| vals[k]) {
            Some(Val::Date(d)) => Some(crate::values::from_date32(d)),
            _ => None,
        }
    }

    fn check_population_row(&mut self, vals: &[Val], failures: &mut Vec<Failure>) {
        let period = self.period;
        if let Some(Val::Year(y)) = self.table.index_of("birth_year").map(|k| vals[k])
            && (i32::from(y) < 1890 || i32::from(y) > period.year)
        {
            failures.push(Failure {
                rule: id::DAT_002,
                column: "birth_year",
                message: format!("birth year {y} is implausible for {period}"),
            });
        }
        if let Some(r) = self.date_at(vals, "reference_date")
            && r != period.end()
        {
            failures.push(Failure {
                rule: id::DAT_001,
                column: "reference_date",
                message: format!(
                    "reference date {r} is not the last day of {period} ({})",
                    period.end()
                ),
            });
        }
        for name in ["exit_date", "death_date"] {
            if let Some(d) = self.date_at(vals, name)
                && !period.contains(d)
            {
                failures.push(Failure {
                    rule: id::DAT_001,
                    column: name,
                    message: format!("{name} {d} is outside {period}"),
                });
            }
        }
        if let Some(e) = self.date_at(vals, "entry_date")
            && e > period.end()
        {
            failures.push(Failure {
                rule: id::DAT_001,
                column: "entry_date",
                message: format!("entry date {e} is after {period}"),
            });
        }
        if let (Some(Val::Year(y)), Some(d)) = (
            self.table.index_of("birth_year").map(|k| vals[k]),
            self.date_at(vals, "death_date"),
        ) && chrono::Datelike::year(&d) < i32::from(y)
        {
            failures.push(Failure {
                rule: id::DAT_002,
                column: "death_date",
                message: format!("death {d} before birth year {y}"),
            });
        }
    }

    fn check_care_row(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &[Val],
        failures: &mut Vec<Failure>,
    ) {
        let period = self.period;
        let date_col = self
            .cols
            .event_date
            .expect("care tables have an event date");
        let date_name = self.table.columns[date_col].name;
        let date = match vals[date_col] {
            Val::Date(d) => crate::values::from_date32(d),
            _ => return,
        };
        if !period.contains(date) {
            failures.push(Failure {
                rule: id::DAT_001,
                column: date_name,
                message: format!("{date_name} {date} is outside {period}"),
            });
        }
        self.check_person(record, positions, Some((date, date_name)), failures);
        let quantity = match self.cols.quantity.map(|k| vals[k]) {
            Some(Val::Int(q)) => q,
            _ => 0,
        };
        self.check_amounts(vals, quantity, failures);
        if let Some(Val::F64(d)) = self.cols.ddd.map(|k| vals[k])
            && !(-1000.0..=1000.0).contains(&d)
        {
            failures.push(Failure {
                rule: id::AMT_001,
                column: "ddd",
                message: format!("ddd {d} is outside -1000..1000"),
            });
        }
    }

    /// POP-001, DAT-002 and DAT-003: the row's person is in the insurer's population file
    /// for the period, and the row's date (`dated`: the value and its column), if it has
    /// one, is not before their birth year nor after their death.
    fn check_person(
        &self,
        record: &csv::ByteRecord,
        positions: &[usize],
        dated: Option<(NaiveDate, &'static str)>,
        failures: &mut Vec<Failure>,
    ) {
        let period = self.period;
        let Some(person_col) = self.cols.person else {
            return;
        };
        if let Some(pop) = self.ctx.population {
            let person = std::str::from_utf8(&record[positions[person_col]]).unwrap_or("");
            match pop.get(person) {
                None => failures.push(Failure {
                    rule: id::POP_001,
                    column: "person_id",
                    message: format!(
                        "person {person} is not in insurer {}'s population file for {period}",
                        self.delivery.manifest.insurer
                    ),
                }),
                Some(PersonFacts { birth_year, death }) => {
                    let Some((date, date_name)) = dated else {
                        return;
                    };
                    if chrono::Datelike::year(&date) < i32::from(birth_year) {
                        failures.push(Failure {
                            rule: id::DAT_002,
                            column: date_name,
                            message: format!(
                                "{date_name} {date} is before the person's birth year {birth_year}"
                            ),
                        });
                    }
                    if let Some(dd) = death
                        && date > dd
                    {
                        failures.push(Failure {
                            rule: id::DAT_003,
                            column: date_name,
                            message: format!(
                                "{date_name} {date} is after the person's death on {dd}"
                            ),
                        });
                    }
                }
            }
        }
    }

    /// AMT-001 on the amounts: negative only when `quantity` is (a correction line), at most
    /// 250,000 euros on a line.
    fn check_amounts(&self, vals: &[Val], quantity: i32, failures: &mut Vec<Failure>) {
        for &k in &self.cols.amounts {
            if let Val::Cents(c) = vals[k] {
                let name = self.table.columns[k].name;
                if c < 0 && quantity >= 0 {
                    failures.push(Failure {
                        rule: id::AMT_001,
                        column: name,
                        message: format!(
                            "{name} is negative ({}) on a line that is not a correction",
                            cents_text(c)
                        ),
                    });
                } else if c.abs() > MAX_LINE_CENTS {
                    failures.push(Failure {
                        rule: id::AMT_001,
                        column: name,
                        message: format!(
                            "{name} {} exceeds 250,000 euros on one line",
                            cents_text(c)
                        ),
                    });
                }
            }
        }
    }

    fn check_duplicate(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        failures: &mut Vec<Failure>,
    ) {
        let key: u128 = match self.table.key {
            [single] => {
                let k = self.table.index_of(single).expect("key is a column");
                let raw = &record[positions[k]];
                if self.table.columns[k].ty == ColumnType::CodedId {
                    coded_id_value(std::str::from_utf8(raw).unwrap_or(""))
                        .unwrap_or_else(|| hash128(&[raw]))
                } else {
                    hash128(&[raw])
                }
            }
            many => {
                let parts: Vec<&[u8]> = many
                    .iter()
                    .map(|n| &record[positions[self.table.index_of(n).expect("key")]])
                    .collect();
                hash128(&parts)
            }
        };
        if !self.seen_keys.insert(key) {
            failures.push(Failure {
                rule: id::DUP_001,
                column: self.table.key[0],
                message: format!(
                    "{} repeats an earlier row of this delivery",
                    self.table.key.join("+")
                ),
            });
        }
    }

    /// Turns the tallies into rule results and the verdict.
    fn finish(
        mut self,
        outcome: Result<Option<Stop>, IngestError>,
        started: Instant,
    ) -> Result<QcReport, IngestError> {
        let stop = outcome?;
        if let Some(e) = self.feedback_error.take() {
            return Err(e);
        }
        if let Some(mut w) = self.feedback.take() {
            w.flush().map_err(|source| IngestError::Write {
                path: self.ctx.feedback_path.clone(),
                source,
            })?;
        }
        if let Some(s) = &stop {
            self.delivery_failures.push((s.rule, s.message.clone()));
        }
        if self.niss_rows > 0 {
            self.delivery_failures.push((
                id::PRV_001,
                format!(
                    "{} rows hold a raw national number: identifiers must be coded by the trusted third party before delivery",
                    self.niss_rows
                ),
            ));
        }
        if self.insurer_mismatch > 0 {
            self.delivery_failures.push((
                id::MAN_003,
                format!(
                    "{} rows name another insurer than the manifest's {}: the manifest or the files are mixed up",
                    self.insurer_mismatch, self.delivery.manifest.insurer
                ),
            ));
        }
        let rows = self.rows_read;
        let stopped = stop.is_some();
        let correction = self.correction_check();
        let mut hold_reason: Option<String> = None;
        let mut reasons: Vec<String> = Vec::new();
        let mut results: Vec<RuleResult> = Vec::new();
        for rule in &self.ctx.rules.rules {
            let rid: &str = &rule.id;
            let res = match rule.scope {
                Scope::Delivery => {
                    if let Some((_, msg)) = self.delivery_failures.iter().find(|(r, _)| *r == rid) {
                        let failing = match rid {
                            "PRV-001" => self.niss_rows,
                            "MAN-003" => self.insurer_mismatch,
                            _ => 0,
                        };
                        reasons.push(format!("{rid}: {msg}"));
                        let mut r = result(rule, RuleStatus::Failed, failing, rows, msg.clone());
                        if let Some(t) = self.tallies.get(rid) {
                            r.examples = t.examples.clone();
                        }
                        r
                    } else if rid == id::VOL_001 {
                        self.volume_result(rule, stopped)
                    } else if rid == id::COR_001 {
                        let (r, hold) = self.correction_result(rule, stopped, correction.as_ref());
                        hold_reason = hold;
                        r
                    } else if stopped && matches!(rid, "MAN-002" | "MAN-003" | "PRV-001") {
                        result(
                            rule,
                            RuleStatus::NotEvaluated,
                            0,
                            rows,
                            "not evaluated: reading stopped early".into(),
                        )
                    } else {
                        result(rule, RuleStatus::Passed, 0, rows, String::new())
                    }
                }
                Scope::Period => result(
                    rule,
                    RuleStatus::NotApplicable,
                    0,
                    rows,
                    "evaluated across insurers in the period overview, not per delivery".into(),
                ),
                Scope::Row => self.row_result(rule, stopped, rows),
            };
            if res.status == RuleStatus::Failed
                && rule.scope == Scope::Row
                && rule.level == Level::Error
            {
                reasons.push(format!(
                    "{}: {} rows ({:.2} %) fail \"{}\", above the threshold of {:.2} %",
                    rid,
                    res.failing_rows,
                    res.failing_percent,
                    rule.title,
                    rule.threshold.unwrap_or(0.0) * 100.0
                ));
            }
            results.push(res);
        }
        let rejected_share = if rows == 0 {
            0.0
        } else {
            self.rows_rejected as f64 / rows as f64
        };
        if rejected_share > self.ctx.rules.max_rejected_share {
            reasons.push(format!(
                "{} of {} rows ({:.2} %) are rejected, more than the {:.2} % a delivery may lose",
                self.rows_rejected,
                rows,
                rejected_share * 100.0,
                self.ctx.rules.max_rejected_share * 100.0
            ));
        }
        // A quarter may hold no chapter IV decision, incapacity episode, Katz assessment or
        // New Attest line for a small insurer: only the other databases must have rows.
        let may_be_empty = matches!(
            self.delivery.manifest.database,
            Database::Chiv | Database::Itao | Database::Kats | Database::Pgdp
        );
        if rows == 0 && !stopped && !may_be_empty {
            reasons.push("FMT-001: the delivery holds no data row".into());
            if let Some(r) = results.iter_mut().find(|r| r.id == id::FMT_001) {
                r.status = RuleStatus::Failed;
                r.message = "the delivery holds no data row".into();
            }
        }
        let verdict = if !reasons.is_empty() {
            Verdict::Rejected
        } else if hold_reason.is_some() {
            Verdict::Held
        } else if self.rows_rejected > 0 {
            Verdict::AcceptedWithRejectedRows
        } else {
            Verdict::Accepted
        };
        if let Some(h) = hold_reason {
            reasons.push(h);
        }
        let applied = !matches!(verdict, Verdict::Rejected | Verdict::Held);
        let m = &self.delivery.manifest;
        let mut report = QcReport {
            delivery_id: self.delivery.id(),
            folder: self.delivery.dir.display().to_string(),
            insurer: Some(m.insurer.to_string()),
            database: Some(m.database.to_string()),
            period: Some(m.period.to_string()),
            sequence: Some(m.sequence),
            verdict,
            reasons,
            rows_read: rows,
            rows_accepted: if !applied { 0 } else { self.rows_accepted },
            rows_rejected: if verdict == Verdict::Rejected {
                rows
            } else {
                self.rows_rejected
            },
            rules: results,
            comparison: None,
            correction,
            feedback_file: (self.rows_rejected > 0)
                .then(|| self.ctx.feedback_path.display().to_string()),
            checked_at: now_rfc3339(),
            seconds: started.elapsed().as_secs_f64(),
        };
        if let Some(prev) = &self.ctx.previous_report {
            report.compare_with(prev);
        }
        Ok(report)
    }

    fn row_result(&self, rule: &crate::rules::Rule, stopped: bool, rows: u64) -> RuleResult {
        let rid: &str = &rule.id;
        let db = self.delivery.manifest.database;
        let needs_population =
            matches!(rid, "POP-001" | "DAT-003") || (rid == id::DAT_002 && db != Database::Popu);
        let needs_cross = match rid {
            "XDB-001" => self.ctx.cross.and_then(|x| x.delivered("", "")).is_none(),
            "XDB-002" => self
                .ctx
                .cross
                .and_then(|x| x.has_billing_line("", ""))
                .is_none(),
            _ => false,
        };
        let applies = match rid {
            "COD-001" => matches!(db, Database::Gzss | Database::Docn),
            "COD-002" => matches!(db, Database::Faru | Database::Chiv),
            "COD-003" => db == Database::Popu,
            "COD-004" => matches!(db, Database::Popu | Database::Gzss | Database::Faru),
            "POP-001" | "DAT-003" => db != Database::Popu && db.has_persons(),
            "DAT-002" => db.has_persons(),
            "AMT-001" => matches!(db, Database::Gzss | Database::Faru),
            "CHI-001" | "XDB-001" => db == Database::Chiv,
            "ITA-001" => db == Database::Itao,
            "KAT-001" => db == Database::Kats,
            "CHT-001" => db == Database::Chta,
            "DOC-001" => db == Database::Docn,
            "XDB-002" => db == Database::Pgdp,
            _ => true,
        };
        if !applies {
            return result(
                rule,
                RuleStatus::NotApplicable,
                0,
                rows,
                format!("does not apply to {}", self.delivery.manifest.database),
            );
        }
        if stopped && !self.tallies.contains_key(rid) {
            return result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                "not evaluated: reading stopped early".into(),
            );
        }
        if needs_population && self.ctx.population.is_none() {
            return result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                format!(
                    "not evaluated: no population file of insurer {} for {} is loaded",
                    self.delivery.manifest.insurer, self.period
                ),
            );
        }
        if needs_cross {
            let what = if rid == id::XDB_001 {
                "pharmacy file (FARU)"
            } else {
                "billing file (GZSS) for this quarter"
            };
            return result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                format!(
                    "not evaluated: no {what} of insurer {} is loaded",
                    self.delivery.manifest.insurer
                ),
            );
        }
        let Some(t) = self.tallies.get(rid) else {
            return result(rule, RuleStatus::Passed, 0, rows, String::new());
        };
        let share = if rows == 0 {
            0.0
        } else {
            t.rows as f64 / rows as f64
        };
        let status = if share > rule.threshold.unwrap_or(0.0) {
            RuleStatus::Failed
        } else {
            RuleStatus::FailedBelowThreshold
        };
        let action = if rule.level == Level::Error {
            "rejected"
        } else {
            "kept, flagged"
        };
        let mut r = result(
            rule,
            status,
            t.rows,
            rows,
            t.message
                .clone()
                .unwrap_or_else(|| format!("{} rows {action}", t.rows)),
        );
        r.examples = t.examples.clone();
        r
    }

    /// How this delivery compares with the one it replaces, if it is a correction.
    fn correction_check(&self) -> Option<CorrectionCheck> {
        let replaced = self.ctx.replaced.as_ref()?;
        let files_emptied = self
            .delivery
            .manifest
            .files
            .iter()
            .filter(|f| f.rows == 0)
            .filter_map(|f| {
                replaced
                    .file_rows
                    .iter()
                    .find(|(name, n)| *name == f.name && *n > 0)
                    .cloned()
            })
            .collect();
        Some(CorrectionCheck {
            replaces: replaced.delivery_id.clone(),
            rows_before: replaced.rows,
            rows_now: self.rows_read,
            rows_lost: replaced.rows.saturating_sub(self.rows_read),
            files_emptied,
            confirmed: self
                .ctx
                .confirmation
                .as_ref()
                .map(|c| format!("confirmed by {} on {}: {}", c.by, c.at, c.reason)),
        })
    }

    /// COR-001, and the reason to hold the delivery when it fails unconfirmed.
    fn correction_result(
        &self,
        rule: &crate::rules::Rule,
        stopped: bool,
        correction: Option<&CorrectionCheck>,
    ) -> (RuleResult, Option<String>) {
        let rows = self.rows_read;
        let Some(c) = correction else {
            let r = result(
                rule,
                RuleStatus::NotApplicable,
                0,
                rows,
                "not a correction: no delivery of this insurer, database and period is in force"
                    .into(),
            );
            return (r, None);
        };
        if stopped {
            let r = result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                "not evaluated: reading stopped early".into(),
            );
            return (r, None);
        }
        let limit = rule.threshold.unwrap_or(0.0);
        let share = if c.rows_before == 0 {
            0.0
        } else {
            c.rows_lost as f64 / c.rows_before as f64
        };
        let mut findings = Vec::new();
        if share > limit {
            findings.push(format!(
                "{} of the {} rows of {} would be lost ({:.1} %, more than the {:.0} % a correction may remove without confirmation)",
                c.rows_lost,
                c.rows_before,
                c.replaces,
                share * 100.0,
                limit * 100.0
            ));
        }
        for (f, n) in &c.files_emptied {
            findings.push(format!(
                "file {f} has no data row where the replaced delivery's {f} had {n}"
            ));
        }
        if findings.is_empty() {
            let text = format!(
                "{} rows against {} in {} ({} lost, {:.1} %)",
                c.rows_now,
                c.rows_before,
                c.replaces,
                c.rows_lost,
                share * 100.0
            );
            return (result(rule, RuleStatus::Passed, 0, rows, text), None);
        }
        let finding = findings.join("; ");
        let mut r = result(
            rule,
            RuleStatus::Failed,
            c.rows_lost,
            c.rows_before,
            finding.clone(),
        );
        r.examples = c
            .files_emptied
            .iter()
            .map(|(f, n)| format!("{f}: {n} rows gone"))
            .collect();
        if let Some(confirmed) = &c.confirmed {
            r.message = format!("{finding}; {confirmed}");
            return (r, None);
        }
        let hold = format!(
            "COR-001: {finding}. Nothing applied: {} stays in force until a data manager confirms this correction with `aim confirm {}` (or the insurer sends a complete one)",
            c.replaces,
            self.delivery.id()
        );
        (r, Some(hold))
    }

    fn volume_result(&self, rule: &crate::rules::Rule, stopped: bool) -> RuleResult {
        let rows = self.rows_read;
        if stopped {
            return result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                "not evaluated: reading stopped early".into(),
            );
        }
        if let Some(replaced) = &self.ctx.replaced {
            let before = replaced.rows;
            let change = if before == 0 {
                if rows == 0 { 0.0 } else { f64::INFINITY }
            } else {
                (rows as f64 - before as f64) / before as f64
            };
            let limit = rule.threshold.unwrap_or(0.25);
            let text = format!(
                "{rows} rows against {before} in the delivery it replaces, {}: {:+.1} % (limit ±{:.0} %)",
                replaced.delivery_id,
                change * 100.0,
                limit * 100.0
            );
            let status = if change.abs() > limit {
                RuleStatus::Failed
            } else {
                RuleStatus::Passed
            };
            return result(rule, status, 0, rows, text);
        }
        if self.ctx.previous_volumes.is_empty() {
            return result(
                rule,
                RuleStatus::NotEvaluated,
                0,
                rows,
                "not evaluated: no earlier delivery of this insurer and database to compare with"
                    .into(),
            );
        }
        let mean = self.ctx.previous_volumes.iter().sum::<u64>() as f64
            / self.ctx.previous_volumes.len() as f64;
        let change = if mean == 0.0 {
            f64::INFINITY
        } else {
            (rows as f64 - mean) / mean
        };
        let limit = rule.threshold.unwrap_or(0.25);
        let text = format!(
            "{rows} rows against a mean of {mean:.0} over the last {} deliveries: {:+.1} % (limit ±{:.0} %)",
            self.ctx.previous_volumes.len(),
            change * 100.0,
            limit * 100.0
        );
        let status = if change.abs() > limit {
            RuleStatus::Failed
        } else {
            RuleStatus::Passed
        };
        result(rule, status, 0, rows, text)
    }
}

/// True when a field holds a national number: eleven digits with a valid mod-97 check,
/// also when written with the usual separators (`85.07.30-033.28`).
fn holds_national_number(raw: &[u8]) -> bool {
    if raw.len() < 11 || raw.len() > 15 {
        return false;
    }
    let mut digits = [0u8; 11];
    let mut n = 0;
    for &b in raw {
        match b {
            b'0'..=b'9' if n < 11 => {
                digits[n] = b;
                n += 1;
            }
            b'.' | b'-' | b' ' => {}
            _ => return false,
        }
    }
    n == 11 && aim_ttp::niss::looks_like_niss(std::str::from_utf8(&digits).unwrap_or(""))
}

fn cents_text(c: i128) -> String {
    format!(
        "{}{}.{:02}",
        if c < 0 { "-" } else { "" },
        c.abs() / 100,
        c.abs() % 100
    )
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

fn hash128(parts: &[&[u8]]) -> u128 {
    let mut a = std::hash::DefaultHasher::new();
    let mut b = std::hash::DefaultHasher::new();
    0xA5u8.hash(&mut b);
    for p in parts {
        p.hash(&mut a);
        p.hash(&mut b);
    }
    (u128::from(a.finish()) << 64) | u128::from(b.finish())
}

/// Maps each schema column to its position in the file's header.
fn header_positions(table: &TableDef, header: &csv::ByteRecord) -> Result<Vec<usize>, String> {
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let s = String::from_utf8_lossy(h).trim().to_string();
            if i == 0 {
                s.trim_start_matches('\u{feff}').to_string()
            } else {
                s
            }
        })
        .collect();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for n in &names {
        if !seen.insert(n.as_str()) {
            problems.push(format!("column '{n}' appears twice"));
        }
        if table.column(n).is_none() {
            problems.push(format!("unknown column '{n}'"));
        }
    }
    let mut positions = Vec::with_capacity(table.columns.len());
    for c in table.columns {
        match names.iter().position(|n| n == c.name) {
            Some(p) => positions.push(p),
            None => problems.push(format!("missing column '{}'", c.name)),
        }
    }
    if problems.is_empty() {
        Ok(positions)
    } else {
        Err(format!(
            "the header does not match the {} data model: {}",
            table.code,
            problems.join("; ")
        ))
    }
}

/// Column builders for the warehouse schema of one table.
enum ColBuilder {
    Str(StringBuilder),
    Date(Date32Builder),
    Year(Int16Builder),
    Int(Int32Builder),
    Bool(BooleanBuilder),
    Dec(Decimal128Builder),
    F64(Float64Builder),
}

struct BatchBuilder {
    schema: arrow_schema::SchemaRef,
    cols: Vec<ColBuilder>,
    period: String,
    delivery_id: String,
    len: usize,
}

impl BatchBuilder {
    fn new(table: &TableDef, period: &str, delivery_id: &str) -> BatchBuilder {
        let cols = table.columns.iter().map(|c| Self::builder(c.ty)).collect();
        BatchBuilder {
            schema: table.warehouse_schema(),
            cols,
            period: period.to_string(),
            delivery_id: delivery_id.to_string(),
            len: 0,
        }
    }

    fn builder(ty: ColumnType) -> ColBuilder {
        match ty {
            ColumnType::Text | ColumnType::Code(_) | ColumnType::CodedId => {
                ColBuilder::Str(StringBuilder::new())
            }
            ColumnType::Date => ColBuilder::Date(Date32Builder::new()),
            ColumnType::Year => ColBuilder::Year(Int16Builder::new()),
            ColumnType::Integer => ColBuilder::Int(Int32Builder::new()),
            ColumnType::Boolean => ColBuilder::Bool(BooleanBuilder::new()),
            ColumnType::Amount => ColBuilder::Dec(
                Decimal128Builder::new()
                    .with_precision_and_scale(
                        aim_model::schema::AMOUNT_PRECISION,
                        aim_model::schema::AMOUNT_SCALE,
                    )
                    .expect("valid decimal type"),
            ),
            ColumnType::Quantity => ColBuilder::F64(Float64Builder::new()),
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn append(&mut self, record: &csv::ByteRecord, positions: &[usize], vals: &[Val]) {
        for (k, b) in self.cols.iter_mut().enumerate() {
            match (b, vals[k]) {
                (ColBuilder::Str(b), Val::Str) => {
                    // Validated as UTF-8 in check_row.
                    b.append_value(std::str::from_utf8(&record[positions[k]]).unwrap_or_default())
                }
                (ColBuilder::Str(b), _) => b.append_null(),
                (ColBuilder::Date(b), Val::Date(d)) => b.append_value(d),
                (ColBuilder::Date(b), _) => b.append_null(),
                (ColBuilder::Year(b), Val::Year(y)) => b.append_value(y),
                (ColBuilder::Year(b), _) => b.append_null(),
                (ColBuilder::Int(b), Val::Int(v)) => b.append_value(v),
                (ColBuilder::Int(b), _) => b.append_null(),
                (ColBuilder::Bool(b), Val::Bool(v)) => b.append_value(v),
                (ColBuilder::Bool(b), _) => b.append_null(),
                (ColBuilder::Dec(b), Val::Cents(c)) => b.append_value(c),
                (ColBuilder::Dec(b), _) => b.append_null(),
                (ColBuilder::F64(b), Val::F64(v)) => b.append_value(v),
                (ColBuilder::F64(b), _) => b.append_null(),
            }
        }
        self.len += 1;
    }

    fn finish(&mut self) -> RecordBatch {
        let n = self.len;
        let mut arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColBuilder::Str(b) => Arc::new(b.finish()),
                    ColBuilder::Date(b) => Arc::new(b.finish()),
                    ColBuilder::Year(b) => Arc::new(b.finish()),
                    ColBuilder::Int(b) => Arc::new(b.finish()),
                    ColBuilder::Bool(b) => Arc::new(b.finish()),
                    ColBuilder::Dec(b) => Arc::new(b.finish()),
                    ColBuilder::F64(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        arrays.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.period.as_str(), n),
        )));
        arrays.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(self.delivery_id.as_str(), n),
        )));
        self.len = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("builders follow the warehouse schema")
    }
}
