//! The synthetic population: who lives where, their age, sex, insurer, social status,
//! nursing-home residence, latent morbidity and chronic conditions, and the yearly
//! demographic events (births, deaths, moves, changes of insurer, migration).

use crate::SynthError;
use crate::cond::{self, Conditions};
use crate::util::{self, R, chance, normal, pick_cum, range, u};
use aim_model::Insurer;
use aim_model::geography::Geography;
use aim_ttp::Coder;
use aim_ttp::niss::Niss;
use std::collections::HashMap;

/// Region index: 0 Flanders, 1 Wallonia, 2 Brussels.
pub const REGIONS: [&str; 3] = ["02000", "03000", "04000"];
/// Target share with increased reimbursement, by region (DOMAIN.md, 2021).
pub const BIM_REGION: [f64; 3] = [0.156, 0.212, 0.316];
/// Nursing-home residents as a share of people 65+ (DOMAIN.md: ≈ 6–7 %).
pub const NH_SHARE_65: f64 = 0.058;
/// Deaths per person per year (DOMAIN.md 2023: ≈ 9.5 per 1,000).
pub const MORTALITY: f64 = 0.0095;
/// Births per person per year (Belgium ≈ 10.3 per 1,000).
pub const BIRTHS: f64 = 0.0103;
/// Immigration and emigration per person per year (kept small).
pub const IMMIGRATION: f64 = 0.006;
/// Emigration per person per year.
pub const EMIGRATION: f64 = 0.004;
/// Moves to another municipality per person per year.
pub const MOVES: f64 = 0.03;
/// Changes of insurer per person per year.
pub const SWITCHES: f64 = 0.01;

/// A municipality as the generator uses it.
pub struct Muni {
    /// 2019 NIS code.
    pub nis: String,
    /// 2025 NIS code.
    pub nis_2025: String,
    /// Region index.
    pub region: u8,
    /// Its statistical sectors.
    pub sectors: Vec<u32>,
}

/// Geography, pyramid and insurer tables prepared for sampling.
pub struct World {
    /// Municipalities (2019 list).
    pub munis: Vec<Muni>,
    /// Cumulative population over `munis`.
    pub muni_cum: Vec<f64>,
    /// Per region: municipality indices and their cumulative population.
    pub region_munis: [(Vec<u16>, Vec<f64>); 3],
    /// Sector NIS9 codes.
    pub sectors: Vec<String>,
    /// Per region, cumulative population over (sex, age) cells: index = sex*ages + age.
    pub pyramid: [Vec<f64>; 3],
    /// Number of single ages in the pyramid.
    pub ages: usize,
    /// Cumulative insurer shares.
    pub insurer_cum: Vec<f64>,
    /// Population weights by age (all regions, both sexes) for normalisations.
    pub age_weight: Vec<f64>,
}

impl World {
    /// Builds the sampling tables from the geography (latest population year).
    pub fn new(geo: &Geography) -> Result<World, SynthError> {
        let year = geo.latest_population_year();
        let ages = geo
            .population
            .iter()
            .filter(|c| c.year == year)
            .map(|c| c.age as usize)
            .max()
            .unwrap_or(100)
            + 1;
        let mut pyramid: [Vec<f64>; 3] = [
            vec![0.0; 2 * ages],
            vec![0.0; 2 * ages],
            vec![0.0; 2 * ages],
        ];
        let mut age_weight = vec![0.0; ages];
        for c in geo.population.iter().filter(|c| c.year == year) {
            let r = REGIONS
                .iter()
                .position(|r| *r == c.region)
                .ok_or_else(|| SynthError::Reference(format!("region {}", c.region)))?;
            let s = usize::from(c.sex == 'F');
            pyramid[r][s * ages + c.age as usize] += c.population as f64;
            age_weight[c.age as usize] += c.population as f64;
        }
        for p in &mut pyramid {
            let mut acc = 0.0;
            for v in p.iter_mut() {
                acc += *v;
                *v = acc;
            }
            if acc <= 0.0 {
                return Err(SynthError::Reference(
                    "a region has no population in the pyramid".into(),
                ));
            }
        }
        let mut sectors = Vec::with_capacity(geo.sectors.len());
        let mut by_muni: HashMap<&str, Vec<u32>> = HashMap::new();
        for s in &geo.sectors {
            by_muni
                .entry(s.municipality.as_str())
                .or_default()
                .push(sectors.len() as u32);
            sectors.push(s.nis9.clone());
        }
        let mut munis = Vec::new();
        let mut muni_cum = Vec::new();
        let mut region_munis: [(Vec<u16>, Vec<f64>); 3] = Default::default();
        let mut acc = 0.0;
        for m in &geo.municipalities_2019 {
            let region = REGIONS
                .iter()
                .position(|r| *r == m.region)
                .ok_or_else(|| SynthError::Reference(format!("region {}", m.region)))?;
            acc += m.population_2020 as f64;
            let (idx, cum) = &mut region_munis[region];
            idx.push(munis.len() as u16);
            cum.push(cum.last().copied().unwrap_or(0.0) + m.population_2020 as f64);
            muni_cum.push(acc);
            munis.push(Muni {
                nis: m.nis.clone(),
                nis_2025: geo
                    .to_2025
                    .get(&m.nis)
                    .cloned()
                    .unwrap_or_else(|| m.nis.clone()),
                region: region as u8,
                sectors: by_muni.remove(m.nis.as_str()).unwrap_or_default(),
            });
        }
        let mut insurer_cum = Vec::new();
        let mut acc = 0.0;
        for i in Insurer::ALL {
            acc += i.share();
            insurer_cum.push(acc);
        }
        Ok(World {
            munis,
            muni_cum,
            region_munis,
            sectors,
            pyramid,
            ages,
            insurer_cum,
            age_weight,
        })
    }

    /// A municipality drawn by population, optionally within a region.
    pub fn draw_muni(&self, r: &mut R, region: Option<u8>) -> u16 {
        match region {
            None => pick_cum(&self.muni_cum, u(r)) as u16,
            Some(g) => {
                let (idx, cum) = &self.region_munis[g as usize];
                idx[pick_cum(cum, u(r))]
            }
        }
    }

    /// A sector of the municipality (or none when the dictionary has none).
    pub fn draw_sector(&self, r: &mut R, muni: u16) -> u32 {
        let s = &self.munis[muni as usize].sectors;
        if s.is_empty() {
            u32::MAX
        } else {
            s[range(r, 0, s.len() as i32 - 1) as usize]
        }
    }

    /// An insurer drawn by share.
    pub fn draw_insurer(&self, r: &mut R) -> u8 {
        pick_cum(&self.insurer_cum, u(r)) as u8
    }
}

/// One synthetic person, with the events of the year being generated.
#[derive(Clone)]
pub struct Person {
    /// Sequential number (stable; used for line identifiers and random streams).
    pub idx: u32,
    /// Raw national number (never written, except by the raw-number defect).
    pub niss: u64,
    /// The TTP code.
    pub code: [u8; 32],
    /// Birth day number.
    pub birth: i32,
    /// Birth year.
    pub birth_year: i32,
    /// Male?
    pub male: bool,
    /// Municipality (index into `World::munis`) at the start of the year.
    pub muni: u16,
    /// Sector (index into `World::sectors`, `u32::MAX` for none).
    pub sector: u32,
    /// Insurer index (into `Insurer::ALL`) at the start of the year.
    pub insurer: u8,
    /// Increased reimbursement.
    pub bim: bool,
    /// Nursing-home resident at the start of the year.
    pub nh: bool,
    /// Latent morbidity (standard normal, shifted up for increased reimbursement).
    pub z: f32,
    /// Personal key for persistent draws (conditions, usual providers).
    pub key: u64,
    /// Events of the current year.
    pub ev: Events,
}

/// The events of one person in one year (day numbers).
#[derive(Clone, Copy, Default)]
pub struct Events {
    /// Joined the insured population (birth or immigration) on this day.
    pub entry: Option<i32>,
    /// Died on this day.
    pub death: Option<i32>,
    /// Emigrated: last insured day.
    pub emigration: Option<i32>,
    /// Moved on this day to this municipality and sector.
    pub moved: Option<(i32, u16, u32)>,
    /// New insurer effective from this day (a quarter start).
    pub switch: Option<(i32, u8)>,
    /// Entered a nursing home on this day.
    pub nh_entry: Option<i32>,
}

impl Person {
    /// Age reached in `year`.
    pub fn age(&self, year: i32) -> u32 {
        (year - self.birth_year).max(0) as u32
    }

    /// Insurer index on day `d`.
    #[inline]
    pub fn insurer_on(&self, d: i32) -> u8 {
        match self.ev.switch {
            Some((s, new)) if d >= s => new,
            _ => self.insurer,
        }
    }

    /// Nursing-home resident on day `d`.
    pub fn nh_on(&self, d: i32) -> bool {
        self.nh || self.ev.nh_entry.is_some_and(|e| d >= e)
    }

    /// Municipality and sector on day `d`.
    pub fn muni_on(&self, d: i32) -> (u16, u32) {
        match self.ev.moved {
            Some((m, muni, sector)) if d >= m => (muni, sector),
            _ => (self.muni, self.sector),
        }
    }

    /// First and last insured day within the year `[y0, y1]`.
    pub fn active(&self, y0: i32, y1: i32) -> (i32, i32) {
        let a = self.ev.entry.map_or(y0, |e| e.max(y0));
        let mut b = y1;
        if let Some(d) = self.ev.death {
            b = b.min(d);
        }
        if let Some(e) = self.ev.emigration {
            b = b.min(e);
        }
        (a, b)
    }

    /// Chronic conditions in `year`.
    pub fn conditions(&self, year: i32, cal: &cond::Calibration) -> Conditions {
        cal.conditions(self.key, self.age(year), self.male, self.z)
    }
}

/// Allocates unique national numbers: birth date + serial (odd men, even women).
#[derive(Default)]
pub struct NissAlloc {
    next: HashMap<(i32, bool), u32>,
}

impl NissAlloc {
    /// A fresh national number for someone born on `birth` (adjusted by a day when the
    /// serials of a date are exhausted). Returns the number and the birth day used.
    pub fn alloc(&mut self, mut birth: i32, male: bool) -> (u64, i32) {
        loop {
            let c = self.next.entry((birth, male)).or_insert(0);
            // Serials 001..997: men odd, women even.
            let serial = if male { 2 * *c + 1 } else { 2 * *c + 2 };
            if serial <= 997 {
                *c += 1;
                let d = util::date(birth);
                use chrono::Datelike;
                let yy = (d.year() % 100) as u64;
                let base = ((yy * 100 + u64::from(d.month())) * 100 + u64::from(d.day())) * 1000
                    + u64::from(serial);
                let n = Niss::from_base(base, d.year() >= 2000);
                return (n.digits().parse().expect("digits"), birth);
            }
            birth += 1;
        }
    }
}

/// Codes a national number.
pub fn code_of(coder: &Coder, niss: u64) -> [u8; 32] {
    let s = format!("{niss:011}");
    let c = coder
        .code_person(&s)
        .expect("generated national numbers are valid");
    c.as_bytes().try_into().expect("32 hex characters")
}

/// Everything needed to create persons.
pub struct Maker<'a> {
    /// Sampling tables.
    pub world: &'a World,
    /// The TTP coder.
    pub coder: &'a aim_ttp::Coder,
    /// National-number allocator.
    pub alloc: NissAlloc,
    /// Next person number.
    pub next_idx: u32,
    /// Seed.
    pub seed: u64,
    /// BIM probability scale per region for the age factor (normalised).
    pub bim_norm: [f64; 3],
    /// Nursing-home probability scale.
    pub nh_norm: f64,
}

/// Relative BIM propensity by age (normalised per region to the regional target).
pub fn bim_age_factor(age: u32) -> f64 {
    match age {
        0..=17 => 1.05,
        18..=24 => 1.0,
        25..=64 => 0.78,
        65..=79 => 1.35,
        _ => 1.9,
    }
}

/// Relative nursing-home prevalence by age (normalised to [`NH_SHARE_65`] of the 65+).
pub fn nh_age_factor(age: u32) -> f64 {
    match age {
        0..=64 => 0.0,
        65..=69 => 0.006,
        70..=74 => 0.012,
        75..=79 => 0.03,
        80..=84 => 0.07,
        85..=89 => 0.16,
        90..=94 => 0.30,
        _ => 0.45,
    }
}

impl<'a> Maker<'a> {
    /// Prepares the normalisations from the pyramid.
    pub fn new(world: &'a World, coder: &'a Coder, seed: u64) -> Maker<'a> {
        let mut bim_norm = [1.0; 3];
        for (g, norm) in bim_norm.iter_mut().enumerate() {
            let cum = &world.pyramid[g];
            let (mut w, mut f) = (0.0, 0.0);
            for cell in 0..cum.len() {
                let pop = cum[cell] - if cell == 0 { 0.0 } else { cum[cell - 1] };
                let age = (cell % world.ages) as u32;
                w += pop;
                f += pop * bim_age_factor(age);
            }
            *norm = BIM_REGION[g] * w / f;
        }
        let (mut w65, mut f65) = (0.0, 0.0);
        for (age, pop) in world.age_weight.iter().enumerate() {
            if age >= 65 {
                w65 += pop;
                f65 += pop * nh_age_factor(age as u32);
            }
        }
        Maker {
            world,
            coder,
            alloc: NissAlloc::default(),
            next_idx: 0,
            seed,
            bim_norm,
            nh_norm: NH_SHARE_65 * w65 / f65,
        }
    }

    /// A person of the initial population, alive on `y0` (1 January of the first year).
    pub fn initial(&mut self, y0: i32, first_year: i32) -> Person {
        let idx = self.next_idx;
        let mut r = util::rng(&[self.seed, 0x1417, u64::from(idx)]);
        let muni = self.world.draw_muni(&mut r, None);
        let region = self.world.munis[muni as usize].region;
        let cell = pick_cum(&self.world.pyramid[region as usize], u(&mut r));
        let male = cell < self.world.ages;
        let age = (cell % self.world.ages) as i32
            + if cell % self.world.ages == self.world.ages - 1 {
                range(&mut r, 0, 4)
            } else {
                0
            };
        // Age `age` on 1 January: born during the year `first_year - age - 1` (after 1 Jan).
        let birth = y0 - age * 365 - age / 4 - range(&mut r, 1, 365);
        let _ = first_year;
        self.make(idx, &mut r, birth, male, muni, y0)
    }

    /// A newborn or immigrant joining on `entry`.
    pub fn newcomer(&mut self, year: i32, entry: i32, newborn: bool) -> Person {
        let idx = self.next_idx;
        let mut r = util::rng(&[self.seed, 0x1418, u64::from(idx), year as u64]);
        let muni = self.world.draw_muni(&mut r, None);
        let male = chance(&mut r, 0.512);
        let birth = if newborn {
            entry
        } else {
            // Immigrants: mostly young adults.
            let age = (18.0 + 12.0 * u(&mut r) + 10.0 * u(&mut r)) as i32
                + if chance(&mut r, 0.15) { -15 } else { 0 };
            entry - age.max(0) * 365 - range(&mut r, 0, 364)
        };
        let mut p = self.make(idx, &mut r, birth, male, muni, entry);
        p.ev.entry = Some(entry);
        p
    }

    fn make(&mut self, idx: u32, r: &mut R, birth: i32, male: bool, muni: u16, on: i32) -> Person {
        self.next_idx += 1;
        let (niss, birth) = self.alloc.alloc(birth, male);
        let code = code_of(self.coder, niss);
        let birth_year = {
            use chrono::Datelike;
            util::date(birth).year()
        };
        let on_year = {
            use chrono::Datelike;
            util::date(on).year()
        };
        let age = (on_year - birth_year).max(0) as u32;
        let region = self.world.munis[muni as usize].region as usize;
        let bim = chance(r, (self.bim_norm[region] * bim_age_factor(age)).min(0.95));
        let nh = chance(r, (self.nh_norm * nh_age_factor(age)).min(0.9));
        let z = normal(r) as f32 + if bim { 0.35 } else { 0.0 } + if nh { 0.5 } else { 0.0 };
        let sector = self.world.draw_sector(r, muni);
        let insurer = self.world.draw_insurer(r);
        let key = util::hash(&[self.seed, 0x4B45, u64::from(idx)]);
        Person {
            idx,
            niss,
            code,
            birth,
            birth_year,
            male,
            muni,
            sector,
            insurer,
            bim,
            nh,
            z,
            key,
            ev: Events::default(),
        }
    }
}

/// Draws the demographic events of `p` in `year` (days `y0..=y1`).
pub fn draw_events(
    p: &mut Person,
    world: &World,
    cal: &cond::Calibration,
    seed: u64,
    year: i32,
    y0: i32,
    y1: i32,
) {
    let mut r = util::rng(&[seed, 0xE7E7, u64::from(p.idx), year as u64]);
    let entry = p.ev.entry;
    p.ev = Events {
        entry,
        ..Events::default()
    };
    let start = entry.unwrap_or(y0).max(y0);
    let age = p.age(year);
    let conds = p.conditions(year, cal);
    let q = cal.death_probability(age, p.male, p.nh, p.z, conds)
        * if entry.is_some() { 0.5 } else { 1.0 };
    if chance(&mut r, q) {
        p.ev.death = Some(range(&mut r, start, y1));
    }
    let emig_rate = if (20..=50).contains(&age) {
        EMIGRATION * 1.6
    } else {
        EMIGRATION * 0.5
    };
    if p.ev.death.is_none() && !p.nh && chance(&mut r, emig_rate) {
        p.ev.emigration = Some(range(&mut r, start, y1));
    }
    let last = p.ev.death.or(p.ev.emigration).unwrap_or(y1);
    if chance(&mut r, MOVES) && last > start + 1 {
        let region = world.munis[p.muni as usize].region;
        let within = if chance(&mut r, 0.85) {
            Some(region)
        } else {
            None
        };
        let to = world.draw_muni(&mut r, within);
        if to != p.muni {
            let sector = world.draw_sector(&mut r, to);
            p.ev.moved = Some((range(&mut r, start + 1, last), to, sector));
        }
    }
    if chance(&mut r, SWITCHES) {
        // Changes take effect on the first day of a quarter (2, 3 or 4).
        let q = range(&mut r, 1, 3) as u32;
        let s = util::day(year, q * 3 + 1, 1);
        if s > start && s <= last {
            let mut to = world.draw_insurer(&mut r);
            if to == p.insurer {
                to = (to + 1 + (range(&mut r, 0, 5) as u8)) % 7;
            }
            p.ev.switch = Some((s, to));
        }
    }
    if !p.nh && age >= 65 {
        let prev = cal.nh_entry_probability(age);
        if chance(&mut r, prev) && last > start + 1 {
            p.ev.nh_entry = Some(range(&mut r, start + 1, last));
        }
    }
}
