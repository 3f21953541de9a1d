//! HOSP: hospital stays assembled from billing lines (rules in `docs/derived-data.md`).
//!
//! Pure logic: [`assemble`] takes a person's hospital lines of one year and returns the stays
//! and the counted treatments. It never fails: odd input is counted, not refused.

use serde::Serialize;

/// What a hospital line is, from its nomenclature's care group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HospLineKind {
    /// One day of a classic stay (`hospital_day`).
    Day,
    /// A day-hospital flat fee (`day_hospital`).
    DayHospital,
    /// A doctor's fee during a stay (`hospital_fee`).
    Fee,
}

/// One billing line relevant to stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HospLine {
    /// Coded person (128-bit value of the 32 hex characters).
    pub person: u128,
    /// Coded institution (0 when the line has none).
    pub institution: u128,
    /// Service date, days since 1970-01-01.
    pub date: i32,
    /// Kind of line.
    pub kind: HospLineKind,
    /// Units (negative for a correction).
    pub units: i32,
    /// Reimbursed, cents.
    pub reimbursed: i64,
    /// Co-payment, cents.
    pub copayment: i64,
    /// Supplement, cents.
    pub supplement: i64,
    /// Room type byte (`S`, `C`) or 0.
    pub room: u8,
    /// Insurer code (e.g. 100).
    pub insurer: u16,
}

/// Classic stay or day stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StayKind {
    /// At least one night, billed day by day.
    Classic,
    /// Day hospital.
    Day,
}

impl StayKind {
    /// The value stored in `hosp.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            StayKind::Classic => "classic",
            StayKind::Day => "day",
        }
    }
}

/// One hospital stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    /// Coded person.
    pub person: u128,
    /// Coded institution.
    pub institution: u128,
    /// Classic or day.
    pub kind: StayKind,
    /// First day (days since epoch).
    pub admission: i32,
    /// Last day + 1 (classic) or the day (day stay).
    pub discharge: i32,
    /// Hospital days billed.
    pub billed_days: i32,
    /// `S`, `C` or 0.
    pub room: u8,
    /// Admitted from another hospital the day it discharged the person.
    pub transfer: bool,
    /// Last day is 31 December.
    pub open_at_year_end: bool,
    /// Reimbursed, cents.
    pub reimbursed: i64,
    /// Co-payment, cents.
    pub copayment: i64,
    /// Supplement, cents.
    pub supplement: i64,
    /// Fee lines attributed.
    pub fee_lines: i32,
    /// Insurer of the first day line.
    pub insurer: u16,
    /// Rank among the person's stays of the same kind admitted the same day (from 1).
    pub ordinal: u32,
}

/// Counted treatments of odd input (see `docs/derived-data.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HospCounters {
    /// Hospital days whose units summed to ≤ 0.
    pub cancelled_hospital_days: u64,
    /// Hospital days billed more than once (net units > 1), counted once.
    pub hospital_days_billed_twice: u64,
    /// Hospital days dropped because the person had a day in another hospital that date.
    pub overlapping_hospital_days: u64,
    /// Day-hospital fees whose units summed to ≤ 0.
    pub cancelled_day_stays: u64,
    /// Doctors' fee lines that belong to no stay.
    pub hospital_fees_outside_stays: u64,
}

impl HospCounters {
    /// Adds another set of counters.
    pub fn add(&mut self, o: &HospCounters) {
        self.cancelled_hospital_days += o.cancelled_hospital_days;
        self.hospital_days_billed_twice += o.hospital_days_billed_twice;
        self.overlapping_hospital_days += o.overlapping_hospital_days;
        self.cancelled_day_stays += o.cancelled_day_stays;
        self.hospital_fees_outside_stays += o.hospital_fees_outside_stays;
    }
}

#[derive(Clone, Copy)]
struct Money {
    reimbursed: i64,
    copayment: i64,
    supplement: i64,
}

impl Money {
    const ZERO: Money = Money {
        reimbursed: 0,
        copayment: 0,
        supplement: 0,
    };
    fn add_line(&mut self, l: &HospLine) {
        self.reimbursed += l.reimbursed;
        self.copayment += l.copayment;
        self.supplement += l.supplement;
    }
}

/// The lines of one (institution, date, kind), summed.
struct Cell {
    institution: u128,
    date: i32,
    units: i64,
    money: Money,
    single: bool,
    shared: bool,
    insurer: u16,
}

fn cells(lines: &[HospLine], kind: HospLineKind) -> Vec<Cell> {
    let mut out: Vec<Cell> = Vec::new();
    for l in lines.iter().filter(|l| l.kind == kind) {
        match out.last_mut() {
            Some(c) if c.institution == l.institution && c.date == l.date => {
                c.units += i64::from(l.units);
                c.money.add_line(l);
                c.single |= l.room == b'S';
                c.shared |= l.room == b'C';
                c.insurer = c.insurer.min(l.insurer);
            }
            _ => {
                let mut money = Money::ZERO;
                money.add_line(l);
                out.push(Cell {
                    institution: l.institution,
                    date: l.date,
                    units: i64::from(l.units),
                    money,
                    single: l.room == b'S',
                    shared: l.room == b'C',
                    insurer: l.insurer,
                });
            }
        }
    }
    out
}

/// Assembles one person's stays. `lines` are all the person's hospital lines of the year, in
/// any order (they are sorted here); `year_end` is 31 December of the year (days since epoch).
pub fn assemble(lines: &mut [HospLine], year_end: i32, counters: &mut HospCounters) -> Vec<Stay> {
    lines.sort_unstable_by_key(|l| (l.date, l.institution, l.kind, l.insurer, l.units));
    let Some(first) = lines.first() else {
        return Vec::new();
    };
    let person = first.person;

    // 1–2. Hospital days: net units per (date, institution); one institution per date.
    let days = cells(lines, HospLineKind::Day);
    let mut kept: Vec<&Cell> = Vec::new();
    let mut i = 0;
    while i < days.len() {
        let date = days[i].date;
        let mut j = i;
        while j < days.len() && days[j].date == date {
            j += 1;
        }
        let live: Vec<&Cell> = days[i..j].iter().filter(|c| c.units > 0).collect();
        counters.cancelled_hospital_days += (j - i - live.len()) as u64;
        if !live.is_empty() {
            let continuing = kept
                .last()
                .filter(|k| k.date == date - 1)
                .and_then(|k| live.iter().find(|c| c.institution == k.institution));
            let chosen = continuing.copied().unwrap_or(live[0]);
            counters.overlapping_hospital_days += (live.len() - 1) as u64;
            if chosen.units > 1 {
                counters.hospital_days_billed_twice += 1;
            }
            kept.push(chosen);
        }
        i = j;
    }

    // 3. Classic stays: runs of consecutive dates at one institution.
    let mut stays: Vec<Stay> = Vec::new();
    for c in kept {
        let extend = stays
            .last()
            .is_some_and(|s| s.institution == c.institution && s.discharge == c.date);
        if extend {
            let s = stays.last_mut().expect("checked");
            s.discharge = c.date + 1;
            s.billed_days += 1;
            s.reimbursed += c.money.reimbursed;
            s.copayment += c.money.copayment;
            s.supplement += c.money.supplement;
            s.room = merge_room(s.room, c);
        } else {
            stays.push(Stay {
                person,
                institution: c.institution,
                kind: StayKind::Classic,
                admission: c.date,
                discharge: c.date + 1,
                billed_days: 1,
                room: merge_room(0, c),
                transfer: false,
                open_at_year_end: false,
                reimbursed: c.money.reimbursed,
                copayment: c.money.copayment,
                supplement: c.money.supplement,
                fee_lines: 0,
                insurer: c.insurer,
                ordinal: 1,
            });
        }
    }
    // 4. Transfers.
    let ends: Vec<(i32, u128)> = stays.iter().map(|s| (s.discharge, s.institution)).collect();
    for s in &mut stays {
        s.transfer = ends
            .iter()
            .any(|&(d, inst)| d == s.admission && inst != s.institution);
        s.open_at_year_end = s.discharge - 1 == year_end;
    }
    let classic = stays.len();

    // 5. Day stays.
    for c in cells(lines, HospLineKind::DayHospital) {
        if c.units <= 0 {
            counters.cancelled_day_stays += 1;
            continue;
        }
        for k in 0..c.units {
            // The first of n stays carries the money of the (institution, date) lines.
            let money = if k == 0 { c.money } else { Money::ZERO };
            stays.push(Stay {
                person,
                institution: c.institution,
                kind: StayKind::Day,
                admission: c.date,
                discharge: c.date,
                billed_days: 1,
                room: 0,
                transfer: false,
                open_at_year_end: false,
                reimbursed: money.reimbursed,
                copayment: money.copayment,
                supplement: money.supplement,
                fee_lines: 0,
                insurer: c.insurer,
                ordinal: 1,
            });
        }
    }

    // 6–7. Doctors' fees.
    for l in lines.iter().filter(|l| l.kind == HospLineKind::Fee) {
        let target = stays[..classic]
            .iter()
            .position(|s| {
                s.institution == l.institution && s.admission <= l.date && l.date <= s.discharge
            })
            .or_else(|| {
                stays[classic..]
                    .iter()
                    .position(|s| s.institution == l.institution && s.admission == l.date)
                    .map(|p| p + classic)
            });
        match target {
            Some(t) => {
                let s = &mut stays[t];
                s.reimbursed += l.reimbursed;
                s.copayment += l.copayment;
                s.supplement += l.supplement;
                s.fee_lines += 1;
            }
            None => counters.hospital_fees_outside_stays += 1,
        }
    }

    // 8. Ordinals among stays of the same kind admitted the same day, by institution.
    stays.sort_by_key(|s| (s.kind, s.admission, s.institution));
    for k in 1..stays.len() {
        if stays[k].kind == stays[k - 1].kind && stays[k].admission == stays[k - 1].admission {
            stays[k].ordinal = stays[k - 1].ordinal + 1;
        }
    }
    stays
}

fn merge_room(current: u8, c: &Cell) -> u8 {
    if current == b'S' || c.single {
        b'S'
    } else if current == b'C' || c.shared {
        b'C'
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: u128 = 0x11;
    const H2: u128 = 0x22;

    fn line(date: i32, inst: u128, kind: HospLineKind, units: i32, cents: i64) -> HospLine {
        HospLine {
            person: 7,
            institution: inst,
            date,
            kind,
            units,
            reimbursed: cents,
            copayment: cents / 10,
            supplement: 0,
            room: if kind == HospLineKind::Day { b'C' } else { 0 },
            insurer: 100,
        }
    }

    fn days(from: i32, to: i32, inst: u128) -> Vec<HospLine> {
        (from..=to)
            .map(|d| line(d, inst, HospLineKind::Day, 1, 85_000))
            .collect()
    }

    #[test]
    fn consecutive_days_make_one_stay_discharged_the_day_after_the_last() {
        let mut l = days(10, 14, H1);
        let mut c = HospCounters::default();
        let s = assemble(&mut l, 364, &mut c);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].admission, s[0].discharge, s[0].billed_days),
            (10, 15, 5)
        );
        assert_eq!(s[0].reimbursed, 5 * 85_000);
        assert_eq!(s[0].room, b'C');
        assert_eq!(c, HospCounters::default());
    }

    #[test]
    fn a_gap_or_another_hospital_starts_a_new_stay_and_a_same_day_move_is_a_transfer() {
        let mut l = days(10, 12, H1);
        l.extend(days(13, 15, H2)); // moved the day H1 discharged
        l.extend(days(17, 18, H2)); // back after a day at home
        let mut c = HospCounters::default();
        let s = assemble(&mut l, 364, &mut c);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].institution, s[0].discharge, s[0].transfer),
            (H1, 13, false)
        );
        assert_eq!(
            (s[1].institution, s[1].admission, s[1].transfer),
            (H2, 13, true)
        );
        assert_eq!((s[2].admission, s[2].transfer), (17, false));
    }

    #[test]
    fn corrections_cancel_days_and_overlaps_keep_the_continuing_hospital() {
        let mut l = days(10, 12, H1);
        l.push(line(12, H1, HospLineKind::Day, -1, -85_000)); // day 12 cancelled
        l.extend(days(11, 11, H2)); // the same night in another hospital
        let mut c = HospCounters::default();
        let s = assemble(&mut l, 364, &mut c);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(
            (s[0].institution, s[0].admission, s[0].discharge),
            (H1, 10, 12)
        );
        assert_eq!(c.cancelled_hospital_days, 1);
        assert_eq!(c.overlapping_hospital_days, 1);
    }

    #[test]
    fn fees_go_to_the_covering_stay_else_a_day_stay_else_nowhere() {
        let mut l = days(10, 11, H1);
        l.push(line(12, H1, HospLineKind::Fee, 1, 30_000)); // discharge day: still the stay
        l.push(line(40, H1, HospLineKind::DayHospital, 2, 75_000)); // two day stays
        l.push(line(40, H1, HospLineKind::Fee, 1, 10_000));
        l.push(line(50, H2, HospLineKind::Fee, 1, 5_000)); // no stay
        l.push(line(60, H2, HospLineKind::DayHospital, 1, 75_000));
        l.push(line(60, H2, HospLineKind::DayHospital, -1, -75_000)); // cancelled
        let mut c = HospCounters::default();
        let s = assemble(&mut l, 364, &mut c);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!((s[0].fee_lines, s[0].reimbursed), (1, 2 * 85_000 + 30_000));
        assert_eq!(
            (s[1].kind, s[1].ordinal, s[1].fee_lines),
            (StayKind::Day, 1, 1)
        );
        assert_eq!(s[1].reimbursed, 85_000);
        assert_eq!((s[2].ordinal, s[2].reimbursed), (2, 0));
        assert_eq!(c.hospital_fees_outside_stays, 1);
        assert_eq!(c.cancelled_day_stays, 1);
    }

    #[test]
    fn a_stay_reaching_the_last_day_of_the_year_is_open() {
        let mut l = days(360, 364, H1);
        let s = assemble(&mut l, 364, &mut HospCounters::default());
        assert!(s[0].open_at_year_end);
    }
}
