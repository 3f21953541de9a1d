//! Care that follows the people: for each person and year, the POPU snapshots and the
//! GZSS and FARU lines, streamed to the delivery writers of one shard; the other databases
//! (PGDP, CHIV, ITAO, KATS, CHTA, DOCN) are written by [`others`].

mod others;
pub use others::{CHAPTER_IV, DocnTotals, write_docn};

use crate::SynthError;
use crate::cond::{self, Conditions, sub_draw};
use crate::out::PartWriter;
use crate::pop::{Person, World};
use crate::util::{
    self, Dates, R, cents, chance, lognormal_mean, poisson, push_cents, push_i64, push_u64, range,
    u,
};
use std::io::Write;

// ---------------------------------------------------------------------------------------
// Nomenclature codes (crates/model/reference/nomenclature.csv) and qualifications.
pub(crate) const N_GP: &str = "101010";
pub(crate) const N_GP_ACCR: &str = "101032";
pub(crate) const N_GP_HOME: &str = "103132";
pub(crate) const N_DMG: &str = "102771";
pub(crate) const N_SPEC: &str = "102034";
pub(crate) const N_PSY: &str = "102196";
pub(crate) const N_ED: &str = "590251";
pub(crate) const N_HOSP_DAY: &str = "768014";
pub(crate) const N_DAY_HOSP: &str = "768036";
pub(crate) const N_HOSP_FEE: &str = "768051";
pub(crate) const N_DENTAL_CHECK: &str = "371011";
pub(crate) const N_DENTAL_TREAT: &str = "374010";
pub(crate) const N_PHYSIO: &str = "560011";
pub(crate) const N_NURSING: &str = "425110";
pub(crate) const N_VACC: &str = "101054";
pub(crate) const N_NH_DAY: &str = "763010";
pub(crate) const N_LAB: &str = "470010";
pub(crate) const N_IMAGING: &str = "460010";
pub(crate) const N_DIALYSIS: &str = "470455";
/// Every nomenclature code the generator uses.
pub const NOMENCLATURE_USED: &[&str] = &[
    N_GP,
    N_GP_ACCR,
    N_GP_HOME,
    N_DMG,
    N_SPEC,
    N_PSY,
    N_ED,
    N_HOSP_DAY,
    N_DAY_HOSP,
    N_HOSP_FEE,
    N_DENTAL_CHECK,
    N_DENTAL_TREAT,
    N_PHYSIO,
    N_NURSING,
    N_VACC,
    N_NH_DAY,
    N_LAB,
    N_IMAGING,
    N_DIALYSIS,
];
/// Every qualification the generator uses.
pub const QUALIFICATIONS_USED: &[&str] = &[
    "003", "004", "480", "540", "690", "700", "580", "110", "500", "400", "900",
];

// ---------------------------------------------------------------------------------------
// Calibration knobs (see docs/synthetic-data.md).
/// Classic stays per person-year (DOMAIN.md: ≈ 160 per 1,000).
pub const CLASSIC_STAYS: f64 = 0.160;
/// Day stays per person-year (DOMAIN.md: ≈ 260 per 1,000), chemotherapy sessions included.
pub const DAY_STAYS: f64 = 0.260;
/// Share with ≥ 1 independent emergency visit before linked admissions are added.
pub const ED_BASE: f64 = 0.158;
/// Share of classic stays that are emergency admissions (with a first-care fee that day).
pub const ED_ADMISSION: f64 = 0.40;
/// Share of classic stays in a single room.
pub const SINGLE_ROOM: f64 = 0.2;
/// Share of classic stays followed by a transfer to another hospital.
pub const TRANSFER: f64 = 0.04;
/// Global scale on hospital fee amounts (the main spending knob).
pub const FEE_MEAN: f64 = 2100.0;

/// A provider pool entry.
pub type Code = [u8; 32];

/// A hospital.
pub struct Hospital {
    /// Coded institution number.
    pub code: Code,
    /// Single-room supplement per day, cents.
    pub room_supplement: i64,
    /// Fee supplement in a single room, as a fraction of the fees.
    pub fee_supplement: f64,
}

/// Providers and institutions, coded.
pub struct Providers {
    /// General practitioners and their qualification.
    pub gp: Vec<(Code, &'static str)>,
    /// Specialists: cardiologists, internists, gynaecologists, paediatricians.
    pub spec: [Vec<Code>; 4],
    /// Psychiatrists.
    pub psych: Vec<Code>,
    /// Dentists.
    pub dentist: Vec<Code>,
    /// Physiotherapists.
    pub physio: Vec<Code>,
    /// Nurses.
    pub nurse: Vec<Code>,
    /// Pharmacies.
    pub pharmacy: Vec<Code>,
    /// Laboratories and imaging departments (providers without a listed qualification).
    pub lab: Vec<Code>,
    /// Hospitals.
    pub hospital: Vec<Hospital>,
    /// Nursing homes.
    pub nursing_home: Vec<Code>,
    /// Medical houses (GP practices paid a flat fee per enrolled patient).
    pub medical_house: Vec<Code>,
}

/// Specialist qualifications in the order of `Providers::spec`.
pub const SPEC_QUAL: [&str; 4] = ["480", "540", "690", "700"];

fn to_code(s: String) -> Code {
    s.as_bytes().try_into().expect("32 hex characters")
}

impl Providers {
    /// Pools sized to the population.
    pub fn new(coder: &aim_ttp::Coder, persons: u64, seed: u64) -> Providers {
        let n = |per: u64, min: u64| (persons / per).max(min) as usize;
        let mut serial = 0u64;
        let mut make = |qual: &str| {
            serial += 1;
            to_code(coder.code_provider(&format!("1{serial:07}{qual}")))
        };
        let gp = (0..n(1000, 10))
            .map(|i| {
                if i % 4 == 0 {
                    (make("003"), "003")
                } else {
                    (make("004"), "004")
                }
            })
            .collect();
        let spec = SPEC_QUAL.map(|q| (0..n(2500, 4)).map(|_| make(q)).collect());
        let psych = (0..n(5000, 3)).map(|_| make("580")).collect();
        let dentist = (0..n(1500, 5)).map(|_| make("110")).collect();
        let physio = (0..n(1000, 5)).map(|_| make("500")).collect();
        let nurse = (0..n(700, 5)).map(|_| make("400")).collect();
        let pharmacy = (0..n(2300, 5)).map(|_| make("900")).collect();
        let lab = (0..n(50_000, 3)).map(|_| make("000")).collect();
        let hospitals = ((persons / 10_000) as usize).clamp(5, 110);
        let hospital = (0..hospitals)
            .map(|i| {
                let h = util::hash(&[seed, 0x4057, i as u64]);
                Hospital {
                    code: to_code(coder.code_provider(&format!("71{:06}000", i + 1))),
                    room_supplement: cents(70.0 + 120.0 * util::unit(h)),
                    fee_supplement: 0.25 + 0.45 * util::unit(util::mix(h)),
                }
            })
            .collect();
        let nursing_home = (0..n(6000, 3))
            .map(|i| to_code(coder.code_provider(&format!("76{:06}000", i + 1))))
            .collect();
        let medical_house = (0..n(60_000, 2))
            .map(|i| to_code(coder.code_provider(&format!("1{:07}003mh", i + 1))))
            .collect();
        Providers {
            medical_house,
            gp,
            spec,
            psych,
            dentist,
            physio,
            nurse,
            pharmacy,
            lab,
            hospital,
            nursing_home,
        }
    }
}

/// A CNK product (`crates/synth/reference/cnk.csv`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Product {
    /// CNK code (illustrative).
    pub cnk: String,
    /// ATC code (level 5).
    pub atc: String,
    /// Name and package.
    pub name: String,
    /// DDD per package.
    pub ddd_per_package: f64,
    /// Reimbursed per package, euros.
    pub reimbursed: f64,
    /// Co-payment per package, euros.
    pub copayment: f64,
    /// Co-payment per package with increased reimbursement, euros.
    pub copayment_bim: f64,
    /// `illustrative`.
    pub status: String,
}

/// The embedded product list.
pub const CNK_CSV: &str = include_str!("../reference/cnk.csv");

/// Parsed product list.
pub fn products() -> Vec<Product> {
    csv::Reader::from_reader(CNK_CSV.as_bytes())
        .deserialize()
        .collect::<Result<Vec<Product>, _>>()
        .expect("embedded CNK list parses (checked by tests)")
}

/// Products indexed for the generator.
pub struct Pharmacopoeia {
    /// Products.
    pub list: Vec<Product>,
    /// Per product: DDD in hundredths, reimbursed, co-payment, co-payment BIM (cents).
    pub num: Vec<(i64, i64, i64, i64)>,
    by_atc: std::collections::HashMap<String, Vec<usize>>,
}

impl Pharmacopoeia {
    /// Loads the embedded list.
    pub fn new() -> Pharmacopoeia {
        let list = products();
        let num = list
            .iter()
            .map(|p| {
                (
                    (p.ddd_per_package * 100.0).round() as i64,
                    cents(p.reimbursed),
                    cents(p.copayment),
                    cents(p.copayment_bim),
                )
            })
            .collect();
        let mut by_atc: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, p) in list.iter().enumerate() {
            by_atc.entry(p.atc.clone()).or_default().push(i);
        }
        Pharmacopoeia { list, num, by_atc }
    }

    /// A product of the ATC code chosen by `x` in [0, 1).
    pub fn pick(&self, atc: &str, x: f64) -> usize {
        let v = self
            .by_atc
            .get(atc)
            .unwrap_or_else(|| panic!("no product for {atc}"));
        v[((x * v.len() as f64) as usize).min(v.len() - 1)]
    }
}

impl Default for Pharmacopoeia {
    fn default() -> Self {
        Self::new()
    }
}

/// Care rates fitted on the initial population.
#[derive(Clone, Debug)]
pub struct CareCal {
    /// Classic-stay rate scale.
    pub stay_scale: f64,
    /// Day-stay rate scale.
    pub day_scale: f64,
    /// Emergency probability scale.
    pub ed_scale: f64,
}

fn stay_raw(age: u32, male: bool, h: f64, nh: bool, c: Conditions) -> f64 {
    let base = match age {
        0..=4 => 0.10,
        5..=17 => 0.04,
        18..=44 => {
            if !male && age <= 40 {
                0.11
            } else {
                0.06
            }
        }
        45..=64 => 0.11,
        65..=74 => 0.22,
        75..=84 => 0.38,
        _ => 0.50,
    };
    base * h.powf(1.4) * if nh { 1.3 } else { 1.0 } * if c & cond::CANCER != 0 { 3.0 } else { 1.0 }
}

fn day_raw(age: u32, h: f64) -> f64 {
    let base = match age {
        0..=17 => 0.07,
        18..=44 => 0.16,
        45..=64 => 0.30,
        65..=74 => 0.50,
        _ => 0.50,
    };
    base * h
}

fn ed_raw(age: u32, bim: bool, h: f64) -> f64 {
    let base = match age {
        0..=4 => 1.5,
        5..=17 => 0.9,
        18..=44 => 1.0,
        45..=64 => 0.8,
        65..=79 => 1.05,
        _ => 1.7,
    };
    base * if bim { 1.3 } else { 1.0 } * (0.6 + 0.4 * h)
}

/// Morbidity factor of care intensity.
pub fn h_of(z: f32) -> f64 {
    (0.55 * f64::from(z)).exp()
}

impl CareCal {
    /// Fits on a sample `(key, age, male, nh, z, bim, conditions)`.
    pub fn fit(sample: &[(u64, u32, bool, bool, f32, bool, Conditions)]) -> CareCal {
        if sample.is_empty() {
            return CareCal {
                stay_scale: 1.0,
                day_scale: 1.0,
                ed_scale: 1.0,
            };
        }
        let n = sample.len() as f64;
        let (mut s, mut d, mut e, mut chemo) = (0.0, 0.0, 0.0, 0.0);
        for (key, age, male, nh, z, bim, c) in sample {
            let h = h_of(*z);
            s += stay_raw(*age, *male, h, *nh, *c);
            d += day_raw(*age, h);
            e += ed_raw(*age, *bim, h);
            if c & cond::CANCER != 0 && sub_draw(*key, 40) < CHEMO_SHARE {
                chemo += CHEMO_SESSIONS;
            }
        }
        CareCal {
            stay_scale: CLASSIC_STAYS * n / s,
            day_scale: ((DAY_STAYS * n - chemo) / d).max(0.0),
            ed_scale: ED_BASE * n / e,
        }
    }
}

/// Share of cancer patients on day-hospital chemotherapy.
pub const CHEMO_SHARE: f64 = 0.5;
/// Mean chemotherapy sessions a year.
pub const CHEMO_SESSIONS: f64 = 12.0;

/// Read-only state shared by the shards for one year.
pub struct Shared<'a> {
    /// Sampling tables.
    pub world: &'a World,
    /// Providers.
    pub prov: &'a Providers,
    /// Products.
    pub pharma: &'a Pharmacopoeia,
    /// Condition calibration.
    pub cal: &'a cond::Calibration,
    /// Care calibration.
    pub care: &'a CareCal,
    /// Date strings.
    pub dates: &'a Dates,
    /// Seed.
    pub seed: u64,
    /// Year.
    pub year: i32,
    /// First day of each quarter, and the day after the year.
    pub q_start: [i32; 5],
}

impl Shared<'_> {
    #[inline]
    fn quarter(&self, d: i32) -> usize {
        if d < self.q_start[1] {
            0
        } else if d < self.q_start[2] {
            1
        } else if d < self.q_start[3] {
            2
        } else {
            3
        }
    }
}

/// Counters of a shard.
#[derive(Default, Clone, Copy)]
pub struct Stats {
    /// Persons processed.
    pub persons: u64,
}

/// Number of databases (`Database::ALL`), hence of writers per insurer and quarter.
pub const NDB: usize = aim_model::Database::ALL.len();
/// Positions of the databases in `Database::ALL`, as the writers are indexed.
pub(crate) const DB_GZSS: usize = 1;
pub(crate) const DB_FARU: usize = 2;
pub(crate) const DB_PGDP: usize = 3;
pub(crate) const DB_CHIV: usize = 4;
pub(crate) const DB_ITAO: usize = 5;
pub(crate) const DB_KATS: usize = 6;
pub(crate) const DB_CHTA: usize = 7;
pub(crate) const DB_DOCN: usize = 8;

/// One shard's writers and buffers for one year.
pub struct Shard {
    /// Delivery writers, index `(insurer * NDB + db) * 4 + quarter`, `db` the position in
    /// `Database::ALL`.
    pub writers: Vec<PartWriter>,
    /// Documents N totals of the shard's billing lines.
    pub docn: DocnTotals,
    buf: Vec<u8>,
    /// Ground truth: persons.
    pub truth_persons: Vec<u8>,
    /// Ground truth: stays.
    pub truth_stays: Vec<u8>,
    truth_file: std::io::BufWriter<std::fs::File>,
    stays_file: std::io::BufWriter<std::fs::File>,
    /// Counters.
    pub stats: Stats,
}

/// Index of a delivery writer.
#[inline]
pub fn widx(insurer: u8, db: usize, q: usize) -> usize {
    (usize::from(insurer) * NDB + db) * 4 + q
}

struct Gz<'a> {
    day: i32,
    nomen: &'static str,
    prov: Option<&'a Code>,
    qual: &'static str,
    prescriber: Option<&'a Code>,
    inst: Option<&'a Code>,
    room: u8,
    units: i64,
    reimb: i64,
    copay: i64,
    supp: i64,
}

impl<'a> Gz<'a> {
    fn new(day: i32, nomen: &'static str) -> Gz<'a> {
        Gz {
            day,
            nomen,
            prov: None,
            qual: "",
            prescriber: None,
            inst: None,
            room: 0,
            units: 1,
            reimb: 0,
            copay: 0,
            supp: 0,
        }
    }
    fn by(mut self, prov: &'a Code, qual: &'static str) -> Self {
        self.prov = Some(prov);
        self.qual = qual;
        self
    }
    fn presc(mut self, p: &'a Code) -> Self {
        self.prescriber = Some(p);
        self
    }
    fn at(mut self, inst: &'a Code) -> Self {
        self.inst = Some(inst);
        self
    }
    fn money(mut self, reimb: i64, copay: i64, supp: i64) -> Self {
        self.reimb = reimb;
        self.copay = copay;
        self.supp = supp;
        self
    }
}

/// Person-year context.
struct Py<'p> {
    p: &'p Person,
    year: i32,
    a: i32,
    b: i32,
    f: f64,
    age: u32,
    c: Conditions,
    h: f64,
    seq_g: u32,
    seq_f: u32,
    reimb: i64,
    copay: i64,
    supp: i64,
    faru_reimb: i64,
    /// Chapter IV medicines already authorised this year (bit per `CHAPTER_IV` entry).
    chiv_done: u32,
}

fn push_opt(buf: &mut Vec<u8>, c: Option<&Code>) {
    if let Some(c) = c {
        buf.extend_from_slice(c);
    }
}

impl Shard {
    /// Opens the shard's writers for the year's deliveries.
    pub fn new(
        dirs: &[std::path::PathBuf],
        shard: usize,
        gzip: bool,
        headers: &[std::sync::Arc<Vec<u8>>; NDB],
        truth_dir: &std::path::Path,
        year: i32,
    ) -> Result<Shard, SynthError> {
        let writers = dirs
            .iter()
            .enumerate()
            .map(|(i, d)| PartWriter::new(d.clone(), shard, gzip, headers[(i / 4) % NDB].clone()))
            .collect();
        let open = |name: String| -> Result<std::io::BufWriter<std::fs::File>, SynthError> {
            let path = truth_dir.join(name);
            let f = std::fs::File::create(&path).map_err(|e| SynthError::Io { path, source: e })?;
            Ok(std::io::BufWriter::new(f))
        };
        Ok(Shard {
            writers,
            docn: DocnTotals::default(),
            buf: Vec::with_capacity(512),
            truth_persons: Vec::new(),
            truth_stays: Vec::new(),
            truth_file: open(format!(".persons-{year}-{shard}.tmp"))?,
            stays_file: open(format!(".stays-{year}-{shard}.tmp"))?,
            stats: Stats::default(),
        })
    }

    /// Closes the truth files; returns the writers and the documents N totals.
    pub fn finish(mut self) -> Result<(Vec<PartWriter>, DocnTotals), SynthError> {
        let err = |e: std::io::Error| SynthError::Io {
            path: "truth".into(),
            source: e,
        };
        self.truth_file.flush().map_err(err)?;
        self.stays_file.flush().map_err(err)?;
        Ok((self.writers, self.docn))
    }

    fn gz(&mut self, sh: &Shared, py: &mut Py, l: Gz) -> Result<(), SynthError> {
        py.seq_g += 1;
        py.reimb += l.reimb;
        py.copay += l.copay;
        py.supp += l.supp;
        let ins = py.p.insurer_on(l.day);
        let b = &mut self.buf;
        line_prefix(b, b'G', py, py.seq_g, ins);
        b.extend_from_slice(l.nomen.as_bytes());
        b.push(b';');
        sh.dates.push(b, l.day);
        b.push(b';');
        push_opt(b, l.prov);
        b.push(b';');
        b.extend_from_slice(l.qual.as_bytes());
        b.push(b';');
        push_opt(b, l.prescriber);
        b.push(b';');
        push_opt(b, l.inst);
        b.push(b';');
        if l.room != 0 {
            b.push(l.room);
        }
        b.push(b';');
        push_i64(b, l.units);
        b.push(b';');
        push_cents(b, l.reimb);
        b.push(b';');
        push_cents(b, l.copay);
        b.push(b';');
        push_cents(b, l.supp);
        b.push(b'\n');
        let w = widx(ins, DB_GZSS, sh.quarter(l.day));
        self.writers[w].row(&self.buf)?;
        self.after_billing_line(sh, py, &l, ins)
    }

    #[allow(clippy::too_many_arguments)]
    fn faru(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        day: i32,
        prod: usize,
        packages: i64,
        prescriber: &Code,
        pharmacy: &Code,
    ) -> Result<(), SynthError> {
        py.seq_f += 1;
        let (ddd, reimb, copay, copay_bim) = sh.pharma.num[prod];
        let copay = if py.p.bim { copay_bim } else { copay } * packages;
        let reimb = reimb * packages;
        py.reimb += reimb;
        py.faru_reimb += reimb;
        py.copay += copay;
        let ins = py.p.insurer_on(day);
        let pr = &sh.pharma.list[prod];
        let b = &mut self.buf;
        line_prefix(b, b'F', py, py.seq_f, ins);
        sh.dates.push(b, day);
        b.push(b';');
        b.extend_from_slice(pr.cnk.as_bytes());
        b.push(b';');
        b.extend_from_slice(pr.atc.as_bytes());
        b.push(b';');
        push_cents(b, ddd * packages);
        b.push(b';');
        push_i64(b, packages);
        b.push(b';');
        b.extend_from_slice(prescriber);
        b.push(b';');
        b.extend_from_slice(pharmacy);
        b.push(b';');
        push_cents(b, reimb);
        b.push(b';');
        push_cents(b, copay);
        b.push(b'\n');
        let w = widx(ins, DB_FARU, sh.quarter(day));
        self.writers[w].row(&self.buf)?;
        self.chapter_iv(sh, py, day, prod)
    }

    /// POPU rows of a person for the year.
    fn popu(&mut self, sh: &Shared, p: &Person, a: i32, b: i32) -> Result<(), SynthError> {
        let ev = &p.ev;
        let mut segs: [(u8, i32, i32, Option<i32>, bool); 2] =
            [(p.insurer, a, b, ev.entry, ev.emigration.is_some()); 2];
        let nseg = if let Some((s, new)) = ev.switch {
            segs[0] = (p.insurer, a, s - 1, ev.entry, true);
            segs[1] = (new, s, b, Some(s), ev.emigration.is_some());
            2
        } else {
            1
        };
        for &(ins, sa, sb, entry, exits) in &segs[..nseg] {
            for q in 0..4 {
                let (qs, qe) = (sh.q_start[q], sh.q_start[q + 1] - 1);
                if sb < qs || sa > qe {
                    continue;
                }
                let refd = sb.min(qe);
                let (muni, sector) = p.muni_on(refd);
                let m = &sh.world.munis[muni as usize];
                let bb = &mut self.buf;
                bb.clear();
                bb.extend_from_slice(&p.code);
                bb.push(b';');
                bb.extend_from_slice(aim_model::Insurer::ALL[ins as usize].code().as_bytes());
                bb.push(b';');
                push_i64(bb, i64::from(p.birth_year));
                bb.push(b';');
                bb.push(if p.male { b'M' } else { b'F' });
                bb.push(b';');
                bb.extend_from_slice(if sh.year >= 2025 {
                    m.nis_2025.as_bytes()
                } else {
                    m.nis.as_bytes()
                });
                bb.push(b';');
                if sector != u32::MAX {
                    bb.extend_from_slice(sh.world.sectors[sector as usize].as_bytes());
                }
                bb.push(b';');
                bb.extend_from_slice(if p.bim { b"true" } else { b"false" });
                bb.push(b';');
                bb.extend_from_slice(if p.nh_on(refd) { b"true" } else { b"false" });
                bb.push(b';');
                if let Some(e) = entry.filter(|e| *e <= qe) {
                    sh.dates.push(bb, e);
                }
                bb.push(b';');
                if exits && sb >= qs && sb <= qe && ev.death != Some(sb) {
                    sh.dates.push(bb, sb);
                }
                bb.push(b';');
                if let Some(d) = ev
                    .death
                    .filter(|d| *d >= qs && *d <= qe && *d <= sb && *d >= sa)
                {
                    sh.dates.push(bb, d);
                }
                bb.push(b';');
                sh.dates.push(bb, qe);
                bb.push(b'\n');
                self.writers[widx(ins, 0, q)].row(&self.buf)?;
            }
        }
        Ok(())
    }

    /// Everything of one person in the year.
    pub fn person(&mut self, sh: &Shared, p: &Person) -> Result<(), SynthError> {
        let y0 = sh.q_start[0];
        let y1 = sh.q_start[4] - 1;
        let (a, b) = p.active(y0, y1);
        if a > b {
            return Ok(());
        }
        self.stats.persons += 1;
        self.popu(sh, p, a, b)?;
        let age = p.age(sh.year);
        let c = p.conditions(sh.year, sh.cal);
        let mut py = Py {
            p,
            year: sh.year,
            a,
            b,
            f: f64::from(b - a + 1) / f64::from(y1 - y0 + 1),
            age,
            c,
            h: h_of(p.z),
            seq_g: 0,
            seq_f: 0,
            reimb: 0,
            copay: 0,
            supp: 0,
            faru_reimb: 0,
            chiv_done: 0,
        };
        let mut r = util::rng(&[sh.seed, 0xCA4E, u64::from(p.idx), sh.year as u64]);
        self.gzss(sh, &mut py, &mut r)?;
        self.pharmacy(sh, &mut py, &mut r)?;
        self.incapacity(sh, &py)?;
        self.katz(sh, &py)?;
        self.gp_file(sh, &py)?;
        // Ground truth.
        let t = &mut self.truth_persons;
        t.clear();
        let (muni, _) = p.muni_on(b);
        let _ = writeln!(
            t,
            "{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{:.2},{:.2},{:.2}",
            sh.year,
            std::str::from_utf8(&p.code).unwrap_or(""),
            p.birth_year,
            if p.male { 'M' } else { 'F' },
            sh.world.munis[muni as usize].nis,
            aim_model::Insurer::ALL[p.insurer_on(b) as usize].code(),
            p.bim,
            p.nh_on(b),
            p.ev.entry
                .map(|d| util::date(d).to_string())
                .unwrap_or_default(),
            p.ev.emigration
                .map(|d| util::date(d).to_string())
                .unwrap_or_default(),
            p.ev.death
                .map(|d| util::date(d).to_string())
                .unwrap_or_default(),
            cond::names(c),
            py.reimb as f64 / 100.0,
            py.copay as f64 / 100.0,
            py.supp as f64 / 100.0,
            py.faru_reimb as f64 / 100.0,
        );
        self.truth_file
            .write_all(&self.truth_persons)
            .map_err(|e| SynthError::Io {
                path: "truth/persons".into(),
                source: e,
            })?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn stay_truth(
        &mut self,
        sh: &Shared,
        py: &Py,
        inst: &Code,
        adm: i32,
        dis: i32,
        kind: &str,
        transfer: bool,
        room: u8,
    ) -> Result<(), SynthError> {
        let t = &mut self.truth_stays;
        t.clear();
        t.extend_from_slice(&py.p.code);
        t.push(b',');
        t.extend_from_slice(
            aim_model::Insurer::ALL[py.p.insurer_on(adm) as usize]
                .code()
                .as_bytes(),
        );
        t.push(b',');
        t.extend_from_slice(inst);
        t.push(b',');
        sh.dates.push(t, adm);
        t.push(b',');
        sh.dates.push(t, dis);
        t.push(b',');
        t.extend_from_slice(kind.as_bytes());
        t.push(b',');
        t.extend_from_slice(if transfer { b"true" } else { b"false" });
        t.push(b',');
        if room != 0 {
            t.push(room);
        }
        t.push(b'\n');
        self.stays_file
            .write_all(&self.truth_stays)
            .map_err(|e| SynthError::Io {
                path: "truth/stays".into(),
                source: e,
            })
    }

    fn gzss(&mut self, sh: &Shared, py: &mut Py, r: &mut R) -> Result<(), SynthError> {
        let p = py.p;
        let prov = sh.prov;
        let (a, b, f, age, c, h) = (py.a, py.b, py.f, py.age, py.c, py.h);
        let ncond = f64::from(c.count_ones());
        let bim = p.bim;
        let gp = &prov.gp[(p.key % prov.gp.len() as u64) as usize];
        let nh_from = if p.nh {
            Some(a)
        } else {
            p.ev.nh_entry.filter(|d| *d <= b)
        };
        let at_home_all_year = nh_from.is_none();

        // Nursing-home days, billed monthly (units = days).
        if let Some(from) = nh_from {
            let home =
                &prov.nursing_home[(util::mix(p.key) % prov.nursing_home.len() as u64) as usize];
            let mut d = from.max(a);
            while d <= b {
                let dt = util::date(d);
                use chrono::Datelike;
                let next = if dt.month() == 12 {
                    util::day(dt.year() + 1, 1, 1)
                } else {
                    util::day(dt.year(), dt.month() + 1, 1)
                };
                let end = (next - 1).min(b);
                let days = i64::from(end - d + 1);
                self.gz(
                    sh,
                    py,
                    Gz::new(d, N_NH_DAY)
                        .at(home)
                        .money(days * cents(72.0), 0, 0)
                        .tap_units(days),
                )?;
                d = next;
            }
        }

        // GP contacts.
        let gp_any = match age {
            0..=4 => 0.95,
            5..=14 => 0.80,
            15..=24 => {
                if p.male {
                    0.68
                } else {
                    0.82
                }
            }
            25..=44 => {
                if p.male {
                    0.72
                } else {
                    0.86
                }
            }
            45..=64 => {
                if p.male {
                    0.82
                } else {
                    0.90
                }
            }
            65..=74 => 0.94,
            _ => 0.97,
        };
        let gp_any = (gp_any + 0.03 * ncond).min(0.99);
        let mut first_gp = None;
        if chance(r, util::part_year(gp_any, f)) {
            let lambda = if nh_from.is_some() {
                8.0
            } else {
                let base = match age {
                    0..=4 => 4.0,
                    5..=14 => 1.6,
                    15..=44 => {
                        if p.male {
                            2.5
                        } else {
                            3.6
                        }
                    }
                    45..=64 => {
                        if p.male {
                            3.6
                        } else {
                            4.3
                        }
                    }
                    65..=74 => 5.2,
                    _ => {
                        if p.male {
                            6.0
                        } else {
                            6.6
                        }
                    }
                };
                base * h.powf(0.6) * (1.0 + 0.12 * ncond)
            };
            let n = 1 + poisson(r, lambda * f);
            let home_share = if nh_from.is_some() {
                0.9
            } else if age >= 75 {
                0.35
            } else {
                0.06
            };
            for _ in 0..n {
                let d = range(r, a, b);
                first_gp = Some(first_gp.map_or(d, |x: i32| x.min(d)));
                let (nomen, reimb, copay) = if chance(r, home_share) {
                    (
                        N_GP_HOME,
                        if bim { 37.9 } else { 31.4 },
                        if bim { 1.9 } else { 8.4 },
                    )
                } else if gp.1 == "004" {
                    (
                        N_GP_ACCR,
                        if bim { 29.1 } else { 25.1 },
                        if bim { 1.0 } else { 4.0 },
                    )
                } else {
                    (
                        N_GP,
                        if bim { 26.5 } else { 22.6 },
                        if bim { 1.0 } else { 4.0 },
                    )
                };
                let supp = if chance(r, 0.02) { cents(10.0) } else { 0 };
                self.gz(
                    sh,
                    py,
                    Gz::new(d, nomen)
                        .by(&gp.0, gp.1)
                        .money(cents(reimb), cents(copay), supp),
                )?;
            }
        }
        // Global medical file (DMG), yearly.
        if let Some(d) = first_gp {
            let region = sh.world.munis[p.muni as usize].region;
            let p_dmg: f64 =
                [0.96, 0.84, 0.72][region as usize] * if age >= 65 { 1.03 } else { 1.0 };
            if chance(r, p_dmg.min(0.99)) {
                self.gz(
                    sh,
                    py,
                    Gz::new(d, N_DMG).by(&gp.0, gp.1).money(cents(32.97), 0, 0),
                )?;
            }
        }

        // Specialists (with laboratory and imaging).
        let spec_any = (0.30 + 0.004 * f64::from(age) + 0.04 * ncond).min(0.9);
        if chance(r, util::part_year(spec_any, f)) {
            let n = 1 + poisson(r, 1.7 * h.powf(0.7) * (1.0 + 0.15 * ncond) * f);
            for _ in 0..n {
                let d = range(r, a, b);
                let k = if age < 16 && chance(r, 0.6) {
                    3
                } else if !p.male && (16..=50).contains(&age) && chance(r, 0.45) {
                    2
                } else if c & (cond::HYPERTENSION | cond::CARDIO) != 0 && chance(r, 0.5) {
                    0
                } else {
                    1
                };
                let pool = &prov.spec[k];
                let s = &pool[range(r, 0, pool.len() as i32 - 1) as usize];
                let supp = if chance(r, 0.2) {
                    cents(lognormal_mean(r, 25.0, 0.5))
                } else {
                    0
                };
                self.gz(
                    sh,
                    py,
                    Gz::new(d, N_SPEC).by(s, SPEC_QUAL[k]).money(
                        cents(lognormal_mean(r, if bim { 68.0 } else { 60.0 }, 0.6)),
                        cents(if bim { 3.0 } else { 11.5 }),
                        supp,
                    ),
                )?;
                if chance(r, 0.3) {
                    self.imaging(sh, py, r, d, Some(s))?;
                }
                if chance(r, 0.3) {
                    self.lab(sh, py, r, d, Some(s))?;
                }
            }
        }
        // Psychiatrist.
        let p_psy = if c & cond::PSYCHOSIS != 0 {
            0.7
        } else if c & cond::DEPRESSION != 0 {
            0.25
        } else {
            0.008
        };
        if chance(r, util::part_year(p_psy, f)) {
            let s = &prov.psych[range(r, 0, prov.psych.len() as i32 - 1) as usize];
            for _ in 0..(1 + poisson(r, 4.0 * f)) {
                let d = range(r, a, b);
                let supp = if chance(r, 0.2) { cents(30.0) } else { 0 };
                self.gz(
                    sh,
                    py,
                    Gz::new(d, N_PSY).by(s, "580").money(
                        cents(if bim { 71.0 } else { 57.0 }),
                        cents(if bim { 3.5 } else { 17.5 }),
                        supp,
                    ),
                )?;
            }
        }
        // Emergency department (independent visits).
        let home_h = (util::mix(p.key ^ 0x40) % prov.hospital.len() as u64) as usize;
        if chance(
            r,
            util::part_year((sh.care.ed_scale * ed_raw(age, bim, h)).min(0.95), f),
        ) {
            for _ in 0..(1 + poisson(r, 0.25)) {
                let d = range(r, a, b);
                self.ed(sh, py, r, d, home_h)?;
            }
        }

        // Classic stays, billed day by day.
        let rate = sh.care.stay_scale
            * stay_raw(age, p.male, h, nh_from.is_some() && !at_home_all_year, c)
            * f;
        let n = poisson(r, rate);
        let mut stays: Vec<(i32, i32)> = (0..n)
            .map(|_| {
                let mean_los = match age {
                    0..=17 => 3.0,
                    18..=64 => 3.9,
                    65..=79 => 5.4,
                    _ => 7.2,
                };
                let los = lognormal_mean(r, mean_los, 0.75).round().clamp(1.0, 120.0) as i32;
                (range(r, a, b), los)
            })
            .collect();
        stays.sort_unstable();
        let mut free_from = a;
        for (adm, los) in stays {
            let adm = adm.max(free_from);
            if adm >= b {
                break;
            }
            let dis = (adm + los).min(b);
            let hosp = if chance(r, 0.8) {
                home_h
            } else {
                range(r, 0, prov.hospital.len() as i32 - 1) as usize
            };
            if chance(r, ED_ADMISSION) {
                self.ed(sh, py, r, adm, hosp)?;
            }
            self.classic_stay(sh, py, r, hosp, adm, dis, false)?;
            free_from = dis + 1;
            if chance(r, TRANSFER) && dis < b {
                let other =
                    (hosp + 1 + range(r, 0, prov.hospital.len() as i32 - 2).max(0) as usize)
                        % prov.hospital.len();
                let los2 = lognormal_mean(r, 9.0, 0.6).round().clamp(1.0, 90.0) as i32;
                let dis2 = (dis + los2).min(b);
                if dis2 > dis {
                    self.classic_stay(sh, py, r, other, dis, dis2, true)?;
                    free_from = dis2 + 1;
                }
            }
            if chance(r, 0.3) {
                self.physio(sh, py, r, free_from.min(b), 9)?;
            }
        }

        // Day stays (one day), chemotherapy sessions and dialysis.
        let n_day = poisson(r, sh.care.day_scale * day_raw(age, h) * f);
        for _ in 0..n_day {
            let d = range(r, a, b);
            let hosp = if chance(r, 0.8) {
                home_h
            } else {
                range(r, 0, prov.hospital.len() as i32 - 1) as usize
            };
            let amount = cents(lognormal_mean(r, 750.0, 0.7));
            self.day_stay(sh, py, r, hosp, d, amount)?;
        }
        if c & cond::CANCER != 0 && sub_draw(p.key, 40) < CHEMO_SHARE {
            let n = poisson(r, CHEMO_SESSIONS * f);
            for _ in 0..n {
                let d = range(r, a, b);
                let amount = cents(lognormal_mean(r, 2300.0, 0.5));
                self.day_stay(sh, py, r, home_h, d, amount)?;
            }
        }
        if c & cond::RENAL != 0 {
            let home = &prov.hospital[home_h].code;
            let mut d = a + range(r, 0, 2);
            while d <= b {
                self.gz(
                    sh,
                    py,
                    Gz::new(d, N_DIALYSIS).at(home).money(cents(395.0), 0, 0),
                )?;
                d += if (d - a) % 7 == 4 { 3 } else { 2 };
            }
        }

        // Dental.
        let p_dent = match age {
            0..=2 => 0.1,
            3..=17 => 0.68,
            18..=64 => 0.53,
            65..=79 => 0.45,
            _ => 0.25,
        };
        if chance(r, util::part_year(p_dent, f)) {
            let dent =
                &prov.dentist[(util::mix(p.key ^ 0xDE) % prov.dentist.len() as u64) as usize];
            let d = range(r, a, b);
            self.gz(
                sh,
                py,
                Gz::new(d, N_DENTAL_CHECK)
                    .by(dent, "110")
                    .money(cents(27.4), 0, 0),
            )?;
            if chance(r, 0.45) {
                for _ in 0..(1 + poisson(r, 0.8)) {
                    let d = range(r, a, b);
                    let supp = if chance(r, 0.15) {
                        cents(lognormal_mean(r, 40.0, 0.6))
                    } else {
                        0
                    };
                    self.gz(
                        sh,
                        py,
                        Gz::new(d, N_DENTAL_TREAT).by(dent, "110").money(
                            cents(46.0),
                            cents(if bim { 2.5 } else { 11.5 }),
                            supp,
                        ),
                    )?;
                }
            }
        }
        // Physiotherapy (outside hospital stays).
        let p_phys = 0.09 + if age >= 50 { 0.08 } else { 0.0 } + 0.02 * ncond;
        if chance(r, util::part_year(p_phys, f)) {
            let start = range(r, a, b);
            let sessions = if chance(r, 0.4) { 18 } else { 9 };
            self.physio(sh, py, r, start, sessions)?;
        }
        // Home nursing (living at home).
        if at_home_all_year {
            let p_nurse = match age {
                0..=64 => 0.008,
                65..=74 => 0.035,
                75..=84 => 0.10,
                _ => 0.25,
            } * (1.0 + 0.15 * ncond)
                * h.powf(0.5);
            if chance(r, util::part_year(p_nurse.min(0.8), f)) {
                let nurse =
                    &prov.nurse[(util::mix(p.key ^ 0x4E) % prov.nurse.len() as u64) as usize];
                let span = b - a + 1;
                let visits = (lognormal_mean(r, 80.0, 1.0) * f)
                    .round()
                    .clamp(1.0, f64::from(span)) as i32;
                let step = f64::from(span) / f64::from(visits);
                let start = a + (u(r) * step) as i32;
                for k in 0..visits {
                    let d = (start + (f64::from(k) * step) as i32).min(b);
                    self.gz(
                        sh,
                        py,
                        Gz::new(d, N_NURSING)
                            .by(nurse, "400")
                            .money(cents(26.8), 0, 0),
                    )?;
                }
            }
        }
        // Laboratory and imaging prescribed by the GP.
        let p_lab = (0.30 + 0.004 * f64::from(age) + 0.03 * ncond).min(0.9);
        if chance(r, util::part_year(p_lab, f)) {
            for _ in 0..(1 + poisson(r, 0.5 * h * f)) {
                let d = range(r, a, b);
                self.lab(sh, py, r, d, Some(&gp.0))?;
            }
        }
        if chance(r, util::part_year(0.18 + 0.002 * f64::from(age), f)) {
            let d = range(r, a, b);
            self.imaging(sh, py, r, d, Some(&gp.0))?;
        }
        Ok(())
    }

    fn ed(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        d: i32,
        hosp: usize,
    ) -> Result<(), SynthError> {
        let bim = py.p.bim;
        let referred = chance(r, 0.3);
        let copay = if referred {
            0.0
        } else if bim {
            6.1
        } else {
            22.9
        };
        let inst = &sh.prov.hospital[hosp].code;
        self.gz(
            sh,
            py,
            Gz::new(d, N_ED)
                .at(inst)
                .money(cents(28.5), cents(copay), 0),
        )
    }

    fn lab(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        d: i32,
        presc: Option<&Code>,
    ) -> Result<(), SynthError> {
        let lab = &sh.prov.lab[range(r, 0, sh.prov.lab.len() as i32 - 1) as usize];
        // One line per group of tests; the flat co-payment is on the first line.
        for k in 0..range(r, 2, 4) {
            let units = i64::from(range(r, 1, 6));
            let copay = if k == 0 && !py.p.bim { cents(8.68) } else { 0 };
            let mut l = Gz::new(d, N_LAB).money(units * cents(5.5) + cents(4.0), copay, 0);
            l.prov = Some(lab);
            l.units = units;
            if let Some(p) = presc {
                l = l.presc(p);
            }
            self.gz(sh, py, l)?;
        }
        Ok(())
    }

    fn imaging(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        d: i32,
        presc: Option<&Code>,
    ) -> Result<(), SynthError> {
        let lab = &sh.prov.lab[range(r, 0, sh.prov.lab.len() as i32 - 1) as usize];
        let mut l = Gz::new(d, N_IMAGING).money(
            cents(lognormal_mean(r, 110.0, 0.8)),
            cents(if py.p.bim { 2.0 } else { 8.0 }),
            0,
        );
        l.prov = Some(lab);
        if let Some(p) = presc {
            l = l.presc(p);
        }
        self.gz(sh, py, l)
    }

    fn physio(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        start: i32,
        sessions: i32,
    ) -> Result<(), SynthError> {
        let pt =
            &sh.prov.physio[(util::mix(py.p.key ^ 0x50) % sh.prov.physio.len() as u64) as usize];
        let mut d = start;
        for _ in 0..sessions {
            if d > py.b {
                break;
            }
            let supp = if chance(r, 0.3) { cents(10.0) } else { 0 };
            self.gz(
                sh,
                py,
                Gz::new(d, N_PHYSIO).by(pt, "500").money(
                    cents(if py.p.bim { 28.5 } else { 24.0 }),
                    cents(if py.p.bim { 1.5 } else { 6.0 }),
                    supp,
                ),
            )?;
            d += range(r, 2, 5);
        }
        Ok(())
    }

    fn day_stay(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        hosp: usize,
        d: i32,
        amount: i64,
    ) -> Result<(), SynthError> {
        let inst = &sh.prov.hospital[hosp].code;
        self.gz(
            sh,
            py,
            Gz::new(d, N_DAY_HOSP).at(inst).money(
                amount,
                cents(if py.p.bim { 5.0 } else { 15.0 }),
                0,
            ),
        )?;
        if chance(r, 0.6) {
            let k = range(r, 0, 3) as usize;
            let doc = &sh.prov.spec[k][range(r, 0, sh.prov.spec[k].len() as i32 - 1) as usize];
            let fee = cents(lognormal_mean(r, 300.0, 0.8));
            self.gz(
                sh,
                py,
                Gz::new(d, N_HOSP_FEE)
                    .by(doc, SPEC_QUAL[k])
                    .at(inst)
                    .money(fee, fee * 6 / 100, 0),
            )?;
        }
        self.stay_truth(sh, py, inst, d, d, "day", false, 0)
    }

    #[allow(clippy::too_many_arguments)]
    fn classic_stay(
        &mut self,
        sh: &Shared,
        py: &mut Py,
        r: &mut R,
        hosp: usize,
        adm: i32,
        dis: i32,
        transfer: bool,
    ) -> Result<(), SynthError> {
        let h = &sh.prov.hospital[hosp];
        let inst = &h.code;
        let single = chance(r, if py.age < 16 { 0.1 } else { SINGLE_ROOM });
        let room = if single { b'S' } else { b'C' };
        let bim = py.p.bim;
        let day_copay = cents(if bim { 6.7 } else { 17.9 });
        let admission = cents(if bim { 0.0 } else { 48.5 });
        let nights = (dis - adm).max(1);
        for k in 0..nights {
            let d = (adm + k).min(dis);
            let copay = day_copay + if k == 0 { admission } else { 0 };
            let supp = if single { h.room_supplement } else { 0 };
            let mut l = Gz::new(d, N_HOSP_DAY)
                .at(inst)
                .money(cents(850.0), copay, supp);
            l.room = room;
            self.gz(sh, py, l)?;
        }
        // Doctors' fees during the stay.
        let severity = lognormal_mean(r, 1.0, 1.2);
        let n_fee = 3 + poisson(r, 0.6 * f64::from(nights)).min(30);
        for _ in 0..n_fee {
            let d = range(r, adm, dis);
            let k = range(r, 0, 3) as usize;
            let doc = &sh.prov.spec[k][range(r, 0, sh.prov.spec[k].len() as i32 - 1) as usize];
            let fee = cents(lognormal_mean(r, FEE_MEAN * severity / 2.5, 0.6));
            let copay = fee * 35 / 1000;
            let supp = if single {
                (fee as f64 * h.fee_supplement) as i64
            } else if chance(r, 0.25) {
                cents(lognormal_mean(r, 30.0, 0.5))
            } else {
                0
            };
            self.gz(
                sh,
                py,
                Gz::new(d, N_HOSP_FEE)
                    .by(doc, SPEC_QUAL[k])
                    .at(inst)
                    .money(fee, copay, supp),
            )?;
        }
        self.stay_truth(sh, py, inst, adm, dis, "classic", transfer, room)
    }

    /// Pharmacy deliveries (FARU).
    fn pharmacy(&mut self, sh: &Shared, py: &mut Py, r: &mut R) -> Result<(), SynthError> {
        let p = py.p;
        let prov = sh.prov;
        let (a, b, age, c) = (py.a, py.b, py.age, py.c);
        let gp = prov.gp[(p.key % prov.gp.len() as u64) as usize].0;
        let usual = prov.pharmacy[(util::mix(p.key ^ 0xFA) % prov.pharmacy.len() as u64) as usize];
        let spec = prov.spec[1][(util::mix(p.key ^ 0x5E) % prov.spec[1].len() as u64) as usize];
        let mut chronic: Vec<(&'static str, f64, bool)> = Vec::with_capacity(12);
        let s = |k: u64| sub_draw(p.key, k);
        let old = age >= 65;
        if c & cond::HYPERTENSION != 0 {
            let x = s(1);
            chronic.push((
                if x < 0.45 {
                    "C08CA01"
                } else if x < 0.75 {
                    "C09AA05"
                } else {
                    "C09CA01"
                },
                1.0,
                false,
            ));
            if s(2) < 0.6 + if old { 0.3 } else { 0.0 } {
                chronic.push((if x < 0.45 { "C09AA05" } else { "C08CA01" }, 1.0, false));
            }
            if s(3) < 0.35 + if old { 0.4 } else { 0.0 } {
                chronic.push((
                    if old && s(4) < 0.5 {
                        "C03CA01"
                    } else {
                        "C07AB07"
                    },
                    1.0,
                    false,
                ));
                if old && s(4) < 0.5 && s(25) < 0.45 {
                    chronic.push(("C07AB07", 1.0, false));
                }
            }
        }
        if c & cond::HYPERCHOL != 0 {
            let x = s(5);
            chronic.push((
                if x < 0.5 {
                    "C10AA05"
                } else if x < 0.8 {
                    "C10AA07"
                } else {
                    "C10AA01"
                },
                1.0,
                false,
            ));
        }
        if c & cond::DIABETES != 0 {
            if s(6) < 0.85 {
                chronic.push(("A10BA02", 0.9, false));
            }
            if s(7) < 0.25 {
                chronic.push(("A10BB09", 1.0, false));
            }
            if s(8) < 0.22 {
                chronic.push(("A10BH01", 1.0, false));
            }
            if s(9) < 0.25 {
                chronic.push(("A10AE04", 1.0, false));
                if s(10) < 0.5 {
                    chronic.push(("A10AB05", 0.8, false));
                }
            }
            if s(11) < 0.12 {
                chronic.push(("A10BJ02", 1.0, true));
            }
        }
        if c & cond::CARDIO != 0 {
            chronic.push((if s(12) < 0.6 { "B01AC06" } else { "B01AF01" }, 1.0, false));
            if old && c & cond::HYPERTENSION == 0 && s(24) < 0.35 {
                chronic.push(("C03CA01", 1.0, false));
            }
        } else if c & cond::DIABETES != 0 && s(22) < if old { 0.55 } else { 0.3 } {
            chronic.push(("B01AC06", 1.0, false));
        }
        if c & cond::DIABETES != 0
            && c & cond::HYPERCHOL == 0
            && s(21) < if old { 0.7 } else { 0.45 }
        {
            chronic.push(("C10AA05", 1.0, false));
        }
        if c & cond::GASTRO != 0
            || (c & cond::CARDIO != 0 || old && c & cond::PAIN != 0) && s(23) < 0.7
        {
            chronic.push((if s(13) < 0.6 { "A02BC02" } else { "A02BC01" }, 1.0, false));
        }
        if c & cond::THYROID != 0 {
            chronic.push(("H03AA01", 0.8, false));
        }
        if c & cond::DEPRESSION != 0 {
            let x = s(14);
            chronic.push((
                if old && x < 0.45 || x < 0.2 {
                    "N06AX11"
                } else if x < 0.7 {
                    "N06AB10"
                } else {
                    "N06AB04"
                },
                1.0,
                false,
            ));
        }
        if c & cond::RESPIRATORY != 0 {
            chronic.push(("R03AK06", 1.0, false));
            if age >= 50 && s(15) < 0.5 {
                chronic.push(("R03BB04", 1.0, false));
            }
        }
        if c & cond::PSYCHOSIS != 0 {
            chronic.push((if s(16) < 0.55 { "N05AH04" } else { "N05AX08" }, 1.0, true));
        }
        if c & cond::PARKINSON != 0 {
            chronic.push(("N04BA02", 1.0, true));
        }
        if c & cond::EPILEPSY != 0 {
            chronic.push((if s(17) < 0.6 { "N03AX14" } else { "N03AF01" }, 1.0, true));
        }
        if c & cond::HIV != 0 {
            chronic.push(("J05AR03", 1.0, true));
        }
        if c & cond::ORAL_CANCER != 0 {
            let x = s(18);
            chronic.push((
                if x < 0.2 {
                    if p.male { "L02BB04" } else { "L01EA01" }
                } else if x < 0.4 {
                    "L01EA01"
                } else if p.male || x < 0.65 {
                    "L02BA01"
                } else {
                    "L02BG04"
                },
                1.0,
                true,
            ));
        }
        if c & cond::IMMUNE != 0 {
            chronic.push(("L04AX03", 2.0, true));
            if s(19) < 0.5 {
                chronic.push(("L04AB04", 1.0, true));
            }
        }
        if c & cond::DEMENTIA != 0 {
            chronic.push(("N06DA02", 1.0, true));
        }
        if c & cond::INSOMNIA != 0 {
            chronic.push((if s(20) < 0.5 { "N05CF02" } else { "N05BA01" }, 0.8, false));
        }
        if c & cond::PAIN != 0 {
            chronic.push(("N02BE01", 0.9, false));
        }
        // Nursing-home residents: antidepressants, analgesics and hypnotics are common.
        if p.nh_on(b) {
            if c & cond::DEPRESSION == 0 && s(30) < 0.4 {
                chronic.push((if s(33) < 0.6 { "N06AX11" } else { "N06AB10" }, 1.0, false));
            }
            if c & cond::PAIN == 0 && s(31) < 0.5 {
                chronic.push(("N02BE01", 0.9, false));
            }
            if c & cond::INSOMNIA == 0 && s(32) < 0.35 {
                chronic.push(("N05CF02", 0.8, false));
            }
        }
        for (i, (atc, usage, by_spec)) in chronic.iter().enumerate() {
            let prod = sh
                .pharma
                .pick(atc, s(100 + i as u64 * 7 + atc.len() as u64));
            let ddd = sh.pharma.list[prod].ddd_per_package;
            let usage = usage * (0.85 + 0.3 * s(200 + i as u64));
            let packages: i64 = if ddd < 25.0 { 2 } else { 1 };
            let interval = (ddd * packages as f64 / usage).max(5.0);
            let mut t = f64::from(a) + u(r) * interval.min(f64::from(b - a + 1)).min(35.0);
            let presc = if *by_spec { &spec } else { &gp };
            while t <= f64::from(b) {
                let pharm = if chance(r, 0.9) {
                    &usual
                } else {
                    &prov.pharmacy[range(r, 0, prov.pharmacy.len() as i32 - 1) as usize]
                };
                self.faru(sh, py, t as i32, prod, packages, presc, pharm)?;
                t += interval * (0.88 + 0.2 * u(r));
            }
        }
        // Acute treatments.
        let ncond = f64::from(c.count_ones());
        let p_ab = match age {
            0..=4 => 0.50,
            5..=14 => 0.30,
            15..=44 => 0.30,
            45..=64 => 0.32,
            65..=79 => 0.38,
            _ => 0.45,
        } * (1.0 + 0.06 * ncond);
        if chance(r, util::part_year(p_ab.min(0.9), py.f)) {
            for _ in 0..(1 + poisson(r, 0.6 + 0.08 * ncond)) {
                let x = u(r);
                let atc = if x < 0.58 {
                    "J01CA04"
                } else if x < 0.83 {
                    "J01CR02"
                } else if x < 0.95 {
                    "J01FA10"
                } else {
                    "J01MA02"
                };
                let prod = sh.pharma.pick(atc, u(r));
                let d = range(r, a, b);
                let packages = if chance(r, 0.4) { 2 } else { 1 };
                self.faru(sh, py, d, prod, packages, &gp, &usual)?;
            }
        }
        if age >= 12 && chance(r, util::part_year(0.12, py.f)) {
            for _ in 0..(1 + poisson(r, 0.3)) {
                let prod = sh.pharma.pick("M01AE01", u(r));
                self.faru(sh, py, range(r, a, b), prod, 1, &gp, &usual)?;
            }
        }
        if age >= 18 && c & cond::DEPRESSION == 0 {
            let p_ad = if p.male { 0.018 } else { 0.035 }
                + if old { 0.03 } else { 0.0 }
                + if p.nh_on(b) { 0.25 } else { 0.0 };
            if chance(r, util::part_year(p_ad, py.f)) {
                let atc = if u(r) < 0.5 { "N06AB10" } else { "N06AB04" };
                let prod = sh.pharma.pick(atc, 0.0);
                let d0 = range(r, a, b);
                for k in 0..range(r, 1, 2) {
                    self.faru(sh, py, (d0 + 28 * k).min(b), prod, 1, &gp, &usual)?;
                }
            }
        }
        if c & cond::RESPIRATORY != 0 || chance(r, 0.02) {
            let prod = sh.pharma.pick("R03AC02", 0.0);
            for _ in 0..range(r, 1, 3) {
                self.faru(sh, py, range(r, a, b), prod, 1, &gp, &usual)?;
            }
        }
        // Flu vaccine, in the autumn.
        let oct1 = util::day(py.year, 10, 1);
        if b >= oct1 {
            let at_home = !p.nh_on(b);
            let p_flu = if age >= 65 {
                if at_home { 0.52 + 0.02 * ncond } else { 0.8 }
            } else if c & (cond::DIABETES | cond::RESPIRATORY | cond::CARDIO) != 0 {
                0.25
            } else if age >= 50 {
                0.12
            } else {
                0.03
            };
            if chance(r, p_flu.min(0.9)) {
                let d = range(
                    r,
                    oct1.max(a),
                    b.min(util::day(py.year, 12, 15)).max(oct1.max(a)),
                );
                let prod = sh.pharma.pick("J07BB02", 0.0);
                self.faru(sh, py, d, prod, 1, &gp, &usual)?;
                if chance(r, 0.3) {
                    let gpq = prov.gp[(p.key % prov.gp.len() as u64) as usize];
                    self.gz(
                        sh,
                        py,
                        Gz::new(d, N_VACC).by(&gpq.0, gpq.1).money(
                            cents(if p.bim { 6.9 } else { 5.2 }),
                            cents(if p.bim { 0.0 } else { 1.7 }),
                            0,
                        ),
                    )?;
                }
            }
        }
        Ok(())
    }
}

trait TapUnits {
    fn tap_units(self, units: i64) -> Self;
}

impl TapUnits for Gz<'_> {
    fn tap_units(mut self, units: i64) -> Self {
        self.units = units;
        self
    }
}

/// Starts a billing or pharmacy line in `b`: `line_id;person_id;insurer;` where the line id
/// is `<kind><year>-<person number>-<sequence>`.
fn line_prefix(b: &mut Vec<u8>, kind: u8, py: &Py, seq: u32, ins: u8) {
    b.clear();
    b.push(kind);
    push_i64(b, i64::from(py.year));
    b.push(b'-');
    push_u64(b, u64::from(py.p.idx));
    b.push(b'-');
    push_u64(b, u64::from(seq));
    b.push(b';');
    b.extend_from_slice(&py.p.code);
    b.push(b';');
    b.extend_from_slice(aim_model::Insurer::ALL[ins as usize].code().as_bytes());
    b.push(b';');
}
