//! Row rules of the databases beyond population, billing and pharmacy: dates against the
//! quarter (DAT-001), each database's own consistency rule (CHI-001, ITA-001, KAT-001,
//! CHT-001, DOC-001), the person against the population file (POP-001, DAT-002, DAT-003)
//! and the cross-database rules (XDB-001, XDB-002).

use super::{Failure, Run, Val};
use crate::context::coded_id_value;
use crate::rules::id;
use aim_model::Database;
use chrono::{Datelike, NaiveDate};

/// Longest primary incapacity, in days: after a year it becomes invalidity.
const PRIMARY_INCAPACITY_MAX_DAYS: i64 = 366;
/// Longest chapter IV validity period accepted, in days (five years).
const CHAPTER_IV_MAX_DAYS: i64 = 5 * 366;
/// How long before its decision an authorisation may start (retroactive), in days.
const CHAPTER_IV_MAX_RETRO_DAYS: i64 = 366;
/// How many months before its booking month a documents N service month may lie.
const DOCN_MAX_LAG_MONTHS: i32 = 24;

impl Run<'_> {
    fn int_at(&self, vals: &[Val], name: &str) -> Option<i32> {
        match self.table.index_of(name).map(|k| vals[k]) {
            Some(Val::Int(v)) => Some(v),
            _ => None,
        }
    }

    fn bool_at(&self, vals: &[Val], name: &str) -> Option<bool> {
        match self.table.index_of(name).map(|k| vals[k]) {
            Some(Val::Bool(v)) => Some(v),
            _ => None,
        }
    }

    fn text_at<'r>(&self, record: &'r csv::ByteRecord, positions: &[usize], name: &str) -> &'r str {
        self.table
            .index_of(name)
            .and_then(|k| std::str::from_utf8(&record[positions[k]]).ok())
            .unwrap_or("")
    }

    fn outside(&self, failures: &mut Vec<Failure>, column: &'static str, d: NaiveDate) {
        failures.push(Failure {
            rule: id::DAT_001,
            column,
            message: format!("{column} {d} is outside {}", self.period),
        });
    }

    /// The row rules of PGDP, CHIV, ITAO, KATS, CHTA and DOCN.
    pub(super) fn check_other_row(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &[Val],
        failures: &mut Vec<Failure>,
    ) {
        let period = self.period;
        // The date the person checks (POP-001, DAT-002, DAT-003) look at.
        let person_date: Option<(NaiveDate, &'static str)> = match self.delivery.manifest.database {
            Database::Pgdp => {
                let d = self.date_at(vals, "service_date");
                if let Some(d) = d
                    && !period.contains(d)
                {
                    self.outside(failures, "service_date", d);
                }
                if let (Some(d), Some(s)) = (d, self.date_at(vals, "submission_date"))
                    && s < d
                {
                    failures.push(Failure {
                        rule: id::DAT_001,
                        column: "submission_date",
                        message: format!("submission_date {s} is before the service on {d}"),
                    });
                }
                self.check_billing_line(record, positions, failures);
                d.map(|d| (d, "service_date"))
            }
            Database::Chiv => {
                let d = self.date_at(vals, "decision_date");
                if let Some(d) = d
                    && !period.contains(d)
                {
                    self.outside(failures, "decision_date", d);
                }
                if let Some(d) = d {
                    self.check_chapter_iv(record, positions, vals, d, failures);
                }
                d.map(|d| (d, "decision_date"))
            }
            Database::Itao => {
                let start = self.date_at(vals, "start_date");
                let end = self.date_at(vals, "end_date");
                if let Some(s) = start
                    && s > period.end()
                {
                    self.outside(failures, "start_date", s);
                }
                if let Some(e) = end
                    && !period.contains(e)
                {
                    self.outside(failures, "end_date", e);
                }
                if let (Some(s), Some(e)) = (start, end) {
                    let kind = self.text_at(record, positions, "kind");
                    if e < s {
                        failures.push(Failure {
                            rule: id::ITA_001,
                            column: "end_date",
                            message: format!("episode ends on {e}, before its start on {s}"),
                        });
                    } else if kind == "P" && (e - s).num_days() + 1 > PRIMARY_INCAPACITY_MAX_DAYS {
                        failures.push(Failure {
                            rule: id::ITA_001,
                            column: "kind",
                            message: format!(
                                "primary incapacity from {s} to {e} lasts {} days; after a year it is invalidity (I)",
                                (e - s).num_days() + 1
                            ),
                        });
                    }
                }
                start.map(|d| (d, "start_date"))
            }
            Database::Kats => {
                let d = self.date_at(vals, "assessment_date");
                if let Some(d) = d
                    && !period.contains(d)
                {
                    self.outside(failures, "assessment_date", d);
                }
                self.check_katz(record, positions, vals, failures);
                d.map(|d| (d, "assessment_date"))
            }
            Database::Chta => {
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
                let start = self.date_at(vals, "start_date");
                if let Some(s) = start
                    && s > period.end()
                {
                    self.outside(failures, "start_date", s);
                }
                if let Some(e) = self.date_at(vals, "end_date")
                    && !period.contains(e)
                {
                    self.outside(failures, "end_date", e);
                }
                self.check_gp_file(record, positions, vals, failures);
                None
            }
            Database::Docn => {
                self.check_documents_n(vals, failures);
                None
            }
            Database::Popu | Database::Gzss | Database::Faru => None,
        };
        // A GP file's dates are not care dates: its person is checked by POP-001 only.
        self.check_person(record, positions, person_date, failures);
    }

    /// CHI-001 and XDB-001.
    fn check_chapter_iv(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &[Val],
        decision: NaiveDate,
        failures: &mut Vec<Failure>,
    ) {
        let from = self.date_at(vals, "valid_from");
        let to = self.date_at(vals, "valid_to");
        let authorised = self.text_at(record, positions, "decision") == "A";
        let problem = match (authorised, from, to) {
            (false, None, None) => None,
            (false, _, _) => Some("a refusal (R) has no validity period".to_string()),
            (true, Some(f), Some(t)) if t < f => {
                Some(format!("validity ends on {t}, before it starts on {f}"))
            }
            (true, Some(f), Some(t)) if (t - f).num_days() > CHAPTER_IV_MAX_DAYS => Some(format!(
                "validity from {f} to {t} is longer than five years"
            )),
            (true, Some(f), Some(_)) if (decision - f).num_days() > CHAPTER_IV_MAX_RETRO_DAYS => {
                Some(format!(
                    "validity starts on {f}, more than a year before the decision on {decision}"
                ))
            }
            (true, Some(_), Some(_)) => None,
            (true, _, _) => Some("an authorisation (A) needs valid_from and valid_to".into()),
        };
        if let Some(message) = problem {
            failures.push(Failure {
                rule: id::CHI_001,
                column: "valid_to",
                message,
            });
        }
        // An unknown ATC code is COD-002's finding, not a missing delivery.
        let unknown_code = failures.iter().any(|f| f.rule == id::COD_002);
        if authorised
            && !unknown_code
            && let Some(cross) = self.ctx.cross
        {
            let person = self.text_at(record, positions, "person_id");
            let atc = self.text_at(record, positions, "atc");
            if cross.delivered(person, atc) == Some(false) {
                failures.push(Failure {
                    rule: id::XDB_001,
                    column: "atc",
                    message: format!(
                        "authorisation {} for {atc}: the insurer's pharmacy file delivers the person no medicine of {atc} from {}",
                        self.text_at(record, positions, "authorisation_id"),
                        self.period
                    ),
                });
            }
        }
    }

    /// XDB-002.
    fn check_billing_line(
        &self,
        record: &csv::ByteRecord,
        positions: &[usize],
        failures: &mut Vec<Failure>,
    ) {
        let Some(cross) = self.ctx.cross else {
            return;
        };
        let line = self.text_at(record, positions, "line_id");
        let person = self.text_at(record, positions, "person_id");
        if cross.has_billing_line(line, person) == Some(false) {
            failures.push(Failure {
                rule: id::XDB_002,
                column: "line_id",
                message: format!(
                    "line {line} is not a line of this person in the insurer's GZSS for {}",
                    self.period
                ),
            });
        }
    }

    /// KAT-001.
    fn check_katz(
        &self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &[Val],
        failures: &mut Vec<Failure>,
    ) {
        let mut scores = [0; 6];
        for (k, item) in aim_model::katz::ITEMS.iter().enumerate() {
            let Some(s) = self.int_at(vals, item) else {
                return;
            };
            if !aim_model::katz::valid_score(s) {
                failures.push(Failure {
                    rule: id::KAT_001,
                    column: self.table.columns[self.table.index_of(item).expect("item")].name,
                    message: format!("{item} score {s} is not between 1 and 4"),
                });
                return;
            }
            scores[k] = s;
        }
        let delivered = self.text_at(record, positions, "category");
        if !aim_model::katz::agrees(scores, delivered) {
            failures.push(Failure {
                rule: id::KAT_001,
                column: "category",
                message: format!(
                    "category {delivered} but the scores {scores:?} give {}",
                    aim_model::katz::category(scores)
                ),
            });
        }
    }

    /// CHT-001.
    fn check_gp_file(
        &mut self,
        record: &csv::ByteRecord,
        positions: &[usize],
        vals: &[Val],
        failures: &mut Vec<Failure>,
    ) {
        let gmf = self.bool_at(vals, "global_medical_file").unwrap_or(false);
        let flat = self.bool_at(vals, "flat_fee").unwrap_or(false);
        if !gmf && !flat {
            failures.push(Failure {
                rule: id::CHT_001,
                column: "flat_fee",
                message: "neither a global medical file nor a flat-fee enrolment".into(),
            });
        }
        if let (Some(s), Some(e)) = (
            self.date_at(vals, "start_date"),
            self.date_at(vals, "end_date"),
        ) && e < s
        {
            failures.push(Failure {
                rule: id::CHT_001,
                column: "end_date",
                message: format!("ends on {e}, before its start on {s}"),
            });
        }
        if flat
            && let Some(p) = coded_id_value(self.text_at(record, positions, "person_id"))
            && !self.flat_fee_persons.insert(p)
        {
            failures.push(Failure {
                rule: id::CHT_001,
                column: "flat_fee",
                message: "the patient is already enrolled under the flat fee with another practice in this delivery".into(),
            });
        }
    }

    /// DOC-001.
    fn check_documents_n(&self, vals: &[Val], failures: &mut Vec<Failure>) {
        let booking = self.date_at(vals, "booking_month");
        let service = self.date_at(vals, "service_month");
        for (name, d) in [("booking_month", booking), ("service_month", service)] {
            if let Some(d) = d
                && d.day() != 1
            {
                failures.push(Failure {
                    rule: id::DOC_001,
                    column: name,
                    message: format!("{name} {d} is not the first day of a month"),
                });
            }
        }
        if let Some(b) = booking
            && !self.period.contains(b)
        {
            self.outside(failures, "booking_month", b);
        }
        if let (Some(b), Some(s)) = (booking, service) {
            let lag = (b.year() - s.year()) * 12 + b.month() as i32 - s.month() as i32;
            if lag < 0 {
                failures.push(Failure {
                    rule: id::DOC_001,
                    column: "service_month",
                    message: format!("services of {s} booked earlier, in {b}"),
                });
            } else if lag > DOCN_MAX_LAG_MONTHS {
                failures.push(Failure {
                    rule: id::DOC_001,
                    column: "service_month",
                    message: format!(
                        "services of {s} booked in {b}, more than {DOCN_MAX_LAG_MONTHS} months later"
                    ),
                });
            }
        }
    }
}
