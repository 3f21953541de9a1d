//! Computing one year: the population, the sample's members, one parallel pass over the
//! billing (GZSS) and pharmacy (FARU) lines, the stays, and every PATI value.

use crate::DeriveError;
use crate::definitions::Definitions;
use crate::hosp::{self, HospCounters, HospLine, HospLineKind, Stay, StayKind};
use crate::population::{self, FastMap, IdMap, Person};
use crate::sample;
use crate::scan::{self, InputFile};
use deltalake::arrow::array::Array;
use deltalake::arrow::record_batch::RecordBatch;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

/// Contact and use counters of a person (slots of [`YearData::slots`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    /// GP consultations and visits.
    Gp = 0,
    /// DMG fee units.
    GpRecord = 1,
    /// Specialist consultations.
    Specialist = 2,
    /// Psychiatrist consultations.
    Psychiatrist = 3,
    /// Emergency first-care fees.
    Emergency = 4,
    /// Dental check-ups.
    Dental = 5,
    /// Physiotherapy sessions.
    Physiotherapy = 6,
    /// Flu vaccination fees (GZSS).
    FluFee = 7,
    /// Flu vaccine packages (FARU).
    FluVaccine = 8,
}

const CONTACTS: usize = 9;

/// Which money of a spending group.
#[derive(Debug, Clone, Copy)]
pub enum MoneyKind {
    /// Paid by the insurance.
    Reimbursed = 0,
    /// Co-payment.
    Copayment = 1,
    /// Supplement.
    Supplement = 2,
}

/// The source tables' data files of one year.
#[derive(Debug, Clone, Default)]
pub struct YearInputs {
    /// POPU files.
    pub popu: Vec<InputFile>,
    /// GZSS files.
    pub gzss: Vec<InputFile>,
    /// FARU files.
    pub faru: Vec<InputFile>,
    /// The other databases' files (CHIV, ITAO, KATS, CHTA).
    pub others: crate::others::OtherInputs,
}

/// Reference data the year needs.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    /// Nomenclature code → care group.
    pub care_groups: HashMap<String, String>,
    /// 2019 NIS code → 2025 NIS code (merged municipalities only).
    pub mergers: HashMap<u32, u32>,
}

/// Counted treatments and volumes of a year (the build report).
#[derive(Debug, Clone, Default, Serialize)]
pub struct YearCounters {
    /// POPU rows read.
    pub popu_rows: u64,
    /// GZSS rows read.
    pub gzss_rows: u64,
    /// FARU rows read.
    pub faru_rows: u64,
    /// Persons in PATI.
    pub persons: u64,
    /// GZSS lines of persons without a POPU row in the year.
    pub gzss_lines_person_not_in_population: u64,
    /// FARU lines of persons without a POPU row in the year.
    pub faru_lines_person_not_in_population: u64,
    /// Lines dated after the person's death.
    pub lines_after_death: u64,
    /// GZSS lines whose nomenclature code is missing from `ref_nomenclature`.
    pub lines_unknown_nomenclature: u64,
    /// Rows of CHIV, ITAO, KATS, CHTA whose person is not in the year's population
    /// (incapacity counted once per person and type).
    pub other_rows_person_not_in_population: u64,
    /// Distinct unknown nomenclature codes (at most 20 listed).
    pub unknown_nomenclature_codes: Vec<String>,
    /// Stay assembly.
    pub stays: HospCounters,
    /// Classic stays.
    pub classic_stays: u64,
    /// Day stays.
    pub day_stays: u64,
    /// Classic stays that are transfers.
    pub transfers: u64,
    /// Sample members per stratum: below threshold M, F, from threshold M, F.
    pub sample_members: [u64; 4],
    /// Population per stratum.
    pub population: [u64; 4],
}

/// Everything computed for a year, ready to be written.
pub struct YearData {
    /// The year.
    pub year: i32,
    /// Persons in PATI, sorted by identifier.
    pub persons: Vec<Person>,
    /// Sample membership per person.
    pub member: Vec<bool>,
    /// Per person: contact counters then money per spending group (3 slots each).
    pub slots: Vec<i64>,
    /// Slots per person.
    pub width: usize,
    /// Per person: drug groups present (bit = index in the definitions).
    pub drug_flags: Vec<u64>,
    /// Per person: number of ATC codes with ≥ 80 DDD.
    pub substances: Vec<u16>,
    /// Per person: classic stays, hospital days, day stays.
    pub stay_counts: Vec<[i32; 3]>,
    /// Every stay of the year (also of persons not in PATI).
    pub stays: Vec<Stay>,
    /// The values from the other databases.
    pub others: crate::others::OtherVars,
    /// The report.
    pub counters: YearCounters,
}

impl YearData {
    /// Whether a coded person is a member of the sample this year (persons are sorted).
    pub fn is_member(&self, person: u128) -> bool {
        self.persons
            .binary_search_by_key(&person, |p| p.id)
            .is_ok_and(|k| self.member[k])
    }

    /// A counter slot of a person.
    pub fn contact(&self, person: usize, c: Contact) -> i64 {
        self.slots[person * self.width + c as usize]
    }

    /// A money slot of a person, in cents.
    pub fn money(&self, person: usize, group: usize, kind: MoneyKind) -> i64 {
        self.slots[person * self.width + CONTACTS + group * 3 + kind as usize]
    }
}

#[derive(Clone, Copy)]
struct CodeInfo {
    /// In `ref_nomenclature`.
    known: bool,
    group: u8,
    contact: Option<Contact>,
    hosp: Option<HospLineKind>,
}

fn code_table(defs: &Definitions, reference: &Reference) -> FastMap<String, CodeInfo> {
    let mut out = FastMap::default();
    for (code, care_group) in &reference.care_groups {
        let hosp = match care_group.as_str() {
            "hospital_day" => Some(HospLineKind::Day),
            "day_hospital" => Some(HospLineKind::DayHospital),
            "hospital_fee" => Some(HospLineKind::Fee),
            _ => None,
        };
        out.insert(
            code.clone(),
            CodeInfo {
                known: true,
                group: defs.spending_group_of(Some(care_group)) as u8,
                contact: None,
                hosp,
            },
        );
    }
    let c = &defs.codes;
    for (codes, contact) in [
        (&c.gp_contacts, Contact::Gp),
        (&c.gp_record, Contact::GpRecord),
        (&c.specialist_contacts, Contact::Specialist),
        (&c.psychiatrist_contacts, Contact::Psychiatrist),
        (&c.emergency_visits, Contact::Emergency),
        (&c.dental_checkups, Contact::Dental),
        (&c.physiotherapy_sessions, Contact::Physiotherapy),
        (&c.flu_vaccination, Contact::FluFee),
    ] {
        for code in codes {
            // A contact code missing from the reference still counts as a contact.
            let e = out.entry(code.clone()).or_insert(CodeInfo {
                known: false,
                group: defs.other_group() as u8,
                contact: None,
                hosp: None,
            });
            e.contact = Some(contact);
        }
    }
    out
}

/// Where the rows of the sample's members go while the lines are read.
pub trait SampleSink: Sync {
    /// Rows of members from `file` of `table` (`popu`, `gzss` or `faru`).
    fn rows(
        &self,
        table: &'static str,
        file: &InputFile,
        batch: RecordBatch,
    ) -> Result<(), DeriveError>;
}

/// Progress of a year's computation.
pub trait YearProgress: Sync {
    /// A named step starts.
    fn step(&self, name: &str);
}

struct Shared<'a> {
    index: &'a IdMap<u32>,
    member: &'a [bool],
    death: &'a [i32],
    slots: &'a [AtomicI64],
    width: usize,
}

/// What a line pass counts about the persons of its lines.
#[derive(Default)]
struct LineCounts {
    rows: u64,
    not_in_population: u64,
    after_death: u64,
}

impl Shared<'_> {
    /// The person's position in the year's population, counting lines of persons not in it
    /// and lines dated after the person's death.
    #[inline]
    fn person(&self, id: u128, date: i32, counts: &mut LineCounts) -> Option<usize> {
        let Some(&p) = self.index.get(&id) else {
            counts.not_in_population += 1;
            return None;
        };
        let p = p as usize;
        if date > self.death[p] {
            counts.after_death += 1;
        }
        Some(p)
    }

    #[inline]
    fn add(&self, person: usize, slot: usize, v: i64) {
        if v != 0 {
            self.slots[person * self.width + slot].fetch_add(v, Ordering::Relaxed);
        }
    }
}

#[derive(Default)]
struct GzssState {
    lines: Vec<HospLine>,
    counts: LineCounts,
    unknown: u64,
    unknown_codes: Vec<String>,
}

#[derive(Default)]
struct FaruState {
    atc_ids: FastMap<String, u32>,
    atc_names: Vec<String>,
    /// (person << 24 | ATC id) → (signed DDD in hundredths, packages).
    ddd: FastMap<u64, (i64, i64)>,
    /// Per local ATC id: is it a flu vaccine.
    flu: Vec<bool>,
    counts: LineCounts,
}

/// The GZSS columns the derivations read (members' rows are then read whole).
const GZSS_COLUMNS: &[&str] = &[
    "person_id",
    "nomenclature",
    "service_date",
    "institution_id",
    "room_type",
    "units",
    "amount_reimbursed",
    "copayment",
    "supplement",
];

/// The FARU columns the derivations read.
const FARU_COLUMNS: &[&str] = &[
    "person_id",
    "delivery_date",
    "atc",
    "ddd",
    "packages",
    "amount_reimbursed",
    "copayment",
];

/// Computes a year. Rows of the sample's members are handed to `sink` as they are read.
pub fn compute(
    year: i32,
    inputs: &YearInputs,
    defs: &Definitions,
    reference: &Reference,
    sink: &dyn SampleSink,
    progress: &dyn YearProgress,
) -> Result<YearData, DeriveError> {
    let mut counters = YearCounters::default();
    progress.step("population");
    let persons = population::read(&inputs.popu)?;
    let index = population::index(&persons);
    let cfg = &defs.sample;
    let mut member = Vec::with_capacity(persons.len());
    for p in &persons {
        let age = year - i32::from(p.birth_year);
        let s = sample::stratum(cfg, age, p.sex);
        let m = sample::is_member(cfg, p.id, age);
        counters.population[s] += 1;
        counters.sample_members[s] += u64::from(m);
        member.push(m);
    }
    counters.persons = persons.len() as u64;
    let death: Vec<i32> = persons
        .iter()
        .map(|p| p.death_date.unwrap_or(i32::MAX))
        .collect();

    progress.step("sample population");
    let popu_rows = std::sync::atomic::AtomicU64::new(0);
    scan::scan_select(
        &inputs.popu,
        &["person_id"],
        || (),
        |_, _, b, keep| {
            popu_rows.fetch_add(b.num_rows() as u64, Ordering::Relaxed);
            let ids = scan::strings(b, "person_id")?;
            keep.extend((0..b.num_rows()).map(|i| {
                scan::coded_at(ids, i)
                    .and_then(|id| index.get(&id))
                    .is_some_and(|&k| member[k as usize])
            }));
            Ok(())
        },
        |file, b| sink.rows("popu", file, b),
    )?;
    counters.popu_rows = popu_rows.into_inner();

    let groups = defs.spending_groups.len();
    let width = CONTACTS + 3 * groups;
    let slots: Vec<AtomicI64> = (0..persons.len() * width)
        .map(|_| AtomicI64::new(0))
        .collect();
    let shared = Shared {
        index: &index,
        member: &member,
        death: &death,
        slots: &slots,
        width,
    };
    let codes = code_table(defs, reference);
    let other = defs.other_group();

    progress.step("billing lines");
    let gz_states = scan::scan_select(
        &inputs.gzss,
        GZSS_COLUMNS,
        GzssState::default,
        |st, file, b, keep| gzss_batch(st, file, b, &shared, &codes, other, keep),
        |file, b| sink.rows("gzss", file, b),
    )?;

    progress.step("pharmacy lines");
    let pharmacy = defs.pharmacy_group();
    let flu = &defs.codes.flu_vaccine_atc;
    let fa_states = scan::scan_select(
        &inputs.faru,
        FARU_COLUMNS,
        FaruState::default,
        |st, _, b, keep| faru_batch(st, b, &shared, pharmacy, flu, keep),
        |file, b| sink.rows("faru", file, b),
    )?;

    let mut lines = Vec::new();
    for st in gz_states {
        counters.gzss_rows += st.counts.rows;
        counters.gzss_lines_person_not_in_population += st.counts.not_in_population;
        counters.lines_after_death += st.counts.after_death;
        counters.lines_unknown_nomenclature += st.unknown;
        for c in st.unknown_codes {
            if !counters.unknown_nomenclature_codes.contains(&c)
                && counters.unknown_nomenclature_codes.len() < 20
            {
                counters.unknown_nomenclature_codes.push(c);
            }
        }
        if lines.is_empty() {
            lines = st.lines;
        } else {
            lines.extend(st.lines);
        }
    }

    progress.step("drugs");
    let (drug_flags, substances) = drugs(defs, persons.len(), fa_states, &mut counters)?;

    progress.step("stays");
    let year_end = days_since_epoch(year, 12, 31);
    lines.sort_unstable_by_key(|l| l.person);
    let mut stays = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let person = lines[start].person;
        let mut end = start;
        while end < lines.len() && lines[end].person == person {
            end += 1;
        }
        stays.extend(hosp::assemble(
            &mut lines[start..end],
            year_end,
            &mut counters.stays,
        ));
        start = end;
    }
    drop(lines);
    let mut stay_counts = vec![[0i32; 3]; persons.len()];
    for s in &stays {
        match s.kind {
            StayKind::Classic => {
                counters.classic_stays += 1;
                counters.transfers += u64::from(s.transfer);
            }
            StayKind::Day => counters.day_stays += 1,
        }
        if let Some(&k) = index.get(&s.person) {
            let c = &mut stay_counts[k as usize];
            match s.kind {
                StayKind::Classic => {
                    c[0] += 1;
                    c[1] += s.billed_days;
                }
                StayKind::Day => c[2] += 1,
            }
        }
    }

    progress.step("other databases");
    let others = crate::others::compute(year, &inputs.others, &index, persons.len(), defs)?;
    counters.other_rows_person_not_in_population = others.rows_person_not_in_population;

    Ok(YearData {
        others,
        year,
        persons,
        member,
        slots: slots.into_iter().map(AtomicI64::into_inner).collect(),
        width,
        drug_flags,
        substances,
        stay_counts,
        stays,
        counters,
    })
}

fn gzss_batch(
    st: &mut GzssState,
    file: &InputFile,
    b: &RecordBatch,
    sh: &Shared,
    codes: &FastMap<String, CodeInfo>,
    other: usize,
    keep: &mut Vec<bool>,
) -> Result<(), DeriveError> {
    let ids = scan::strings(b, "person_id")?;
    let nomen = scan::strings(b, "nomenclature")?;
    let date = scan::dates(b, "service_date")?;
    let inst = scan::strings(b, "institution_id")?;
    let room = scan::strings(b, "room_type")?;
    let units = scan::int32s(b, "units")?;
    let reimb = scan::decimals(b, "amount_reimbursed")?;
    let copay = scan::decimals(b, "copayment")?;
    let supp = scan::decimals(b, "supplement")?;
    let insurer: u16 = file.insurer.parse().unwrap_or(0);
    let n = b.num_rows();
    st.counts.rows += n as u64;
    let offset = keep.len();
    keep.resize(offset + n, false);
    for i in 0..n {
        let Some(person) = scan::coded_at(ids, i) else {
            continue;
        };
        let code = nomen.value(i);
        let info = codes.get(code).copied();
        if !info.is_some_and(|x| x.known) {
            st.unknown += 1;
            if st.unknown_codes.len() < 20 && !st.unknown_codes.iter().any(|c| c == code) {
                st.unknown_codes.push(code.to_string());
            }
        }
        let (r, c, s) = (
            reimb.value(i) as i64,
            copay.value(i) as i64,
            supp.value(i) as i64,
        );
        let d = date.value(i);
        if let Some(k) = info.and_then(|x| x.hosp) {
            st.lines.push(HospLine {
                person,
                institution: scan::coded_at(inst, i).unwrap_or(0),
                date: d,
                kind: k,
                units: units.value(i),
                reimbursed: r,
                copayment: c,
                supplement: s,
                room: if room.is_null(i) {
                    0
                } else {
                    room.value(i).bytes().next().unwrap_or(0)
                },
                insurer,
            });
        }
        let Some(p) = sh.person(person, d, &mut st.counts) else {
            continue;
        };
        let group = info.map_or(other, |x| usize::from(x.group));
        let base = CONTACTS + group * 3;
        sh.add(p, base, r);
        sh.add(p, base + 1, c);
        sh.add(p, base + 2, s);
        if let Some(contact) = info.and_then(|x| x.contact) {
            sh.add(p, contact as usize, i64::from(units.value(i)));
        }
        keep[offset + i] = sh.member[p];
    }
    Ok(())
}

fn faru_batch(
    st: &mut FaruState,
    b: &RecordBatch,
    sh: &Shared,
    pharmacy: usize,
    flu_atc: &[String],
    keep: &mut Vec<bool>,
) -> Result<(), DeriveError> {
    let ids = scan::strings(b, "person_id")?;
    let date = scan::dates(b, "delivery_date")?;
    let atc = scan::strings(b, "atc")?;
    let ddd = scan::floats(b, "ddd")?;
    let packages = scan::int32s(b, "packages")?;
    let reimb = scan::decimals(b, "amount_reimbursed")?;
    let copay = scan::decimals(b, "copayment")?;
    let n = b.num_rows();
    st.counts.rows += n as u64;
    let offset = keep.len();
    keep.resize(offset + n, false);
    for i in 0..n {
        let Some(person) = scan::coded_at(ids, i) else {
            continue;
        };
        let Some(p) = sh.person(person, date.value(i), &mut st.counts) else {
            continue;
        };
        let base = CONTACTS + pharmacy * 3;
        sh.add(p, base, reimb.value(i) as i64);
        sh.add(p, base + 1, copay.value(i) as i64);
        let code = atc.value(i);
        let pk = packages.value(i);
        // DDD are delivered with two decimals: summed exactly, in hundredths.
        let hundredths = (ddd.value(i).abs() * 100.0).round() as i64;
        let signed = if pk < 0 || ddd.value(i) < 0.0 {
            -hundredths
        } else {
            hundredths
        };
        let id = match st.atc_ids.get(code) {
            Some(&id) => id,
            None => {
                let id = st.atc_names.len() as u32;
                st.atc_names.push(code.to_string());
                st.atc_ids.insert(code.to_string(), id);
                st.flu
                    .push(flu_atc.iter().any(|f| code.starts_with(f.as_str())));
                id
            }
        };
        if st.flu[id as usize] {
            sh.add(p, Contact::FluVaccine as usize, i64::from(pk));
        }
        let e = st
            .ddd
            .entry(((p as u64) << 24) | u64::from(id))
            .or_insert((0, 0));
        e.0 += signed;
        e.1 += i64::from(pk);
        keep[offset + i] = sh.member[p];
    }
    Ok(())
}

/// Substances with ≥ 80 DDD and the drug-group flags, per person.
fn drugs(
    defs: &Definitions,
    persons: usize,
    states: Vec<FaruState>,
    counters: &mut YearCounters,
) -> Result<(Vec<u64>, Vec<u16>), DeriveError> {
    let groups = &defs.drug_groups;
    if groups.len() > 64 {
        return Err(DeriveError::Definitions(
            "drug-groups.toml: at most 64 groups".into(),
        ));
    }
    let mut global: HashMap<String, u32> = HashMap::new();
    let mut masks: Vec<u64> = Vec::new();
    let mut entries: Vec<(u64, i64, i64)> = Vec::new();
    for st in states {
        counters.faru_rows += st.counts.rows;
        counters.faru_lines_person_not_in_population += st.counts.not_in_population;
        counters.lines_after_death += st.counts.after_death;
        let local: Vec<u32> = st
            .atc_names
            .iter()
            .map(|name| {
                let next = global.len() as u32;
                *global.entry(name.clone()).or_insert_with(|| {
                    masks.push(
                        groups
                            .iter()
                            .enumerate()
                            .filter(|(_, g)| g.matches(name))
                            .fold(0u64, |m, (k, _)| m | (1 << k)),
                    );
                    next
                })
            })
            .collect();
        entries.extend(st.ddd.into_iter().map(|(key, (d, pk))| {
            let p = key >> 24;
            let atc = local[(key & 0xFF_FFFF) as usize];
            ((p << 24) | u64::from(atc), d, pk)
        }));
    }
    entries.sort_unstable_by_key(|e| e.0);
    let mut flags = vec![0u64; persons];
    let mut substances = vec![0u16; persons];
    let mut sums = vec![(0i64, 0i64); groups.len()];
    let mut i = 0;
    while i < entries.len() {
        let p = (entries[i].0 >> 24) as usize;
        sums.iter_mut().for_each(|s| *s = (0, 0));
        while i < entries.len() && (entries[i].0 >> 24) as usize == p {
            let key = entries[i].0;
            let (mut d, mut pk) = (0i64, 0i64);
            while i < entries.len() && entries[i].0 == key {
                d += entries[i].1;
                pk += entries[i].2;
                i += 1;
            }
            if d >= 80 * 100 {
                substances[p] = substances[p].saturating_add(1);
            }
            let mask = masks[(key & 0xFF_FFFF) as usize];
            for (k, s) in sums.iter_mut().enumerate() {
                if mask & (1 << k) != 0 {
                    s.0 += d;
                    s.1 += pk;
                }
            }
        }
        let mut f = 0u64;
        for (k, g) in groups.iter().enumerate() {
            let (d, pk) = sums[k];
            let on = if g.min_ddd == 0.0 {
                pk > 0
            } else {
                d as f64 >= g.min_ddd * 100.0
            };
            if on {
                f |= 1 << k;
            }
        }
        for (k, g) in groups.iter().enumerate() {
            if let Some(u) = &g.unless
                && let Some(j) = groups.iter().position(|o| &o.id == u)
                && f & (1 << j) != 0
            {
                f &= !(1 << k);
            }
        }
        flags[p] = f;
    }
    Ok((flags, substances))
}

/// Days since 1970-01-01 of a calendar date.
pub fn days_since_epoch(year: i32, month: u32, day: u32) -> i32 {
    let d = chrono::NaiveDate::from_ymd_opt(year, month, day).expect("valid date");
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}
