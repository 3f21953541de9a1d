//! Chronic conditions and the rates that are normalised to published figures.
//!
//! A person has a condition in a year when a persistent personal draw `u_c` is below
//! `scale_c × shape_c(age) × sex_c × m(z)`, where `m(z) = exp(1.15 z − 0.66)` ties the
//! conditions to the person's latent morbidity (so conditions cluster, as they do).
//! Because `shape` rises with age and the draw is persistent, conditions accumulate with
//! age and persist from year to year. `scale_c` is fitted on the initial population so
//! that the overall prevalence hits the target.

use crate::util::{hash, unit};

/// A set of conditions (bit mask).
pub type Conditions = u32;

/// One chronic condition.
pub struct CondDef {
    /// Short name (used in `truth/persons.csv`).
    pub name: &'static str,
    /// Target prevalence in the whole population.
    pub target: f64,
    /// Relative prevalence at ages 0, 10, …, 90 (linear in between).
    pub shape: [f64; 10],
    /// Factor for women (men: 1).
    pub female: f64,
}

macro_rules! conds {
    ($($id:ident = $bit:expr, $name:expr, $target:expr, $female:expr, [$($s:expr),*];)*) => {
        $(#[doc = $name] pub const $id: Conditions = 1 << $bit;)*
        /// All conditions, in bit order.
        pub static CONDITIONS: &[CondDef] = &[$(CondDef { name: $name, target: $target, female: $female, shape: [$($s),*] }),*];
    };
}

conds! {
    DIABETES = 0, "diabetes", 0.058, 0.9, [0.002, 0.003, 0.005, 0.01, 0.025, 0.06, 0.11, 0.16, 0.18, 0.15];
    HYPERTENSION = 1, "hypertension", 0.246, 1.0, [0.0, 0.001, 0.01, 0.04, 0.12, 0.28, 0.45, 0.6, 0.7, 0.72];
    HYPERCHOL = 2, "hypercholesterolaemia", 0.142, 0.85, [0.0, 0.0, 0.002, 0.01, 0.05, 0.18, 0.35, 0.48, 0.45, 0.3];
    CARDIO = 3, "cardiovascular (antithrombotic)", 0.10, 0.8, [0.0, 0.0, 0.001, 0.003, 0.01, 0.03, 0.08, 0.17, 0.3, 0.35];
    GASTRO = 4, "chronic acid-related disorder", 0.15, 1.1, [0.0, 0.002, 0.01, 0.03, 0.06, 0.12, 0.2, 0.3, 0.4, 0.45];
    THYROID = 5, "hypothyroidism", 0.055, 3.0, [0.001, 0.003, 0.015, 0.03, 0.045, 0.06, 0.08, 0.1, 0.11, 0.11];
    DEPRESSION = 6, "depression", 0.085, 1.8, [0.0, 0.005, 0.04, 0.07, 0.09, 0.1, 0.1, 0.12, 0.16, 0.2];
    RESPIRATORY = 7, "asthma/COPD", 0.06, 1.0, [0.03, 0.05, 0.04, 0.04, 0.045, 0.05, 0.07, 0.1, 0.12, 0.1];
    PSYCHOSIS = 8, "psychosis", 0.012, 0.9, [0.0, 0.001, 0.01, 0.015, 0.015, 0.015, 0.012, 0.015, 0.03, 0.05];
    PARKINSON = 9, "Parkinson's disease", 0.004, 0.7, [0.0, 0.0, 0.0, 0.0, 0.0002, 0.001, 0.004, 0.012, 0.025, 0.03];
    EPILEPSY = 10, "epilepsy", 0.007, 1.0, [0.006, 0.007, 0.007, 0.007, 0.007, 0.007, 0.007, 0.008, 0.008, 0.008];
    HIV = 11, "HIV", 0.0015, 0.6, [0.0, 0.0, 0.001, 0.003, 0.004, 0.004, 0.002, 0.001, 0.0, 0.0];
    ORAL_CANCER = 12, "oral cancer therapy", 0.009, 2.5, [0.0, 0.0, 0.0, 0.001, 0.004, 0.01, 0.018, 0.025, 0.025, 0.02];
    IMMUNE = 13, "rheumatoid arthritis / immune-mediated", 0.015, 1.5, [0.0, 0.002, 0.006, 0.009, 0.012, 0.015, 0.018, 0.018, 0.015, 0.01];
    DEMENTIA = 14, "dementia", 0.012, 1.4, [0.0, 0.0, 0.0, 0.0, 0.0, 0.0005, 0.003, 0.02, 0.08, 0.2];
    INSOMNIA = 15, "insomnia/anxiety", 0.06, 1.6, [0.0, 0.0, 0.005, 0.01, 0.02, 0.03, 0.06, 0.1, 0.18, 0.25];
    PAIN = 16, "chronic pain", 0.065, 1.4, [0.0, 0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.18, 0.25];
    CANCER = 17, "cancer under treatment", 0.006, 1.0, [0.0005, 0.0003, 0.0005, 0.001, 0.003, 0.007, 0.013, 0.02, 0.02, 0.015];
    RENAL = 18, "end-stage renal disease (dialysis)", 0.0007, 0.7, [0.0, 0.0, 0.0, 0.0002, 0.0004, 0.0007, 0.0012, 0.002, 0.002, 0.001];
}

/// Sub-flags derived from the same persistent draws (not conditions of their own).
pub fn sub_draw(key: u64, what: u64) -> f64 {
    unit(hash(&[key, 0x5B, what]))
}

fn shape_at(shape: &[f64; 10], age: u32) -> f64 {
    let a = f64::from(age.min(90));
    let i = ((a / 10.0) as usize).min(8);
    let t = (a - 10.0 * i as f64) / 10.0;
    shape[i] * (1.0 - t) + shape[i + 1] * t
}

/// The morbidity multiplier.
pub fn m_of(z: f32) -> f64 {
    (1.15 * f64::from(z) - 0.66).exp()
}

/// Gompertz-like yearly death probability before normalisation.
fn raw_death(age: u32, male: bool) -> f64 {
    let a = f64::from(age);
    let base = if age == 0 {
        0.0035
    } else if age < 15 {
        0.0001
    } else {
        2.2e-5 * (0.095 * a).exp()
    };
    (base * if male { 1.0 } else { 0.62 }).min(0.6)
}

/// Fitted scales.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Per-condition scale.
    pub scale: Vec<f64>,
    /// Mortality scale.
    pub death_scale: f64,
    /// Nursing-home prevalence scale (see `pop::nh_age_factor`).
    pub nh_norm: f64,
}

impl Calibration {
    /// Conditions of a person of `age`.
    pub fn conditions(&self, key: u64, age: u32, male: bool, z: f32) -> Conditions {
        let m = m_of(z);
        let mut c = 0;
        for (i, d) in CONDITIONS.iter().enumerate() {
            let p = self.scale[i] * shape_at(&d.shape, age) * if male { 1.0 } else { d.female } * m;
            if p > 0.0 && unit(hash(&[key, 0xC0, i as u64])) < p.min(0.97) {
                c |= 1 << i;
            }
        }
        c
    }

    /// Yearly death probability.
    pub fn death_probability(&self, age: u32, male: bool, nh: bool, z: f32, c: Conditions) -> f64 {
        let mut f = (0.45 * f64::from(z)).exp();
        if nh {
            f *= 2.5;
        }
        if c & CANCER != 0 {
            f *= 4.0;
        }
        if c & (RENAL | DEMENTIA) != 0 {
            f *= 2.0;
        }
        (self.death_scale * raw_death(age, male) * f).min(0.9)
    }

    /// Yearly probability that someone of `age` living at home enters a nursing home.
    pub fn nh_entry_probability(&self, age: u32) -> f64 {
        (self.nh_norm * crate::pop::nh_age_factor(age) * 0.2).min(0.5)
    }

    /// Fits the scales on a sample of persons `(key, age, male, nh, z)`.
    pub fn fit(sample: &[(u64, u32, bool, bool, f32)], nh_norm: f64) -> Calibration {
        let mut cal = Calibration {
            scale: vec![1.0; CONDITIONS.len()],
            death_scale: 1.0,
            nh_norm,
        };
        if sample.is_empty() {
            return cal;
        }
        // Start from the expected value without capping, then correct for the cap.
        for (i, d) in CONDITIONS.iter().enumerate() {
            let e: f64 = sample
                .iter()
                .map(|(_, age, male, _, _)| {
                    shape_at(&d.shape, *age) * if *male { 1.0 } else { d.female }
                })
                .sum::<f64>()
                / sample.len() as f64;
            cal.scale[i] = if e > 0.0 { d.target / e } else { 0.0 };
        }
        for _ in 0..4 {
            let mut counts = vec![0u64; CONDITIONS.len()];
            for (key, age, male, _, z) in sample {
                let c = cal.conditions(*key, *age, *male, *z);
                for (i, n) in counts.iter_mut().enumerate() {
                    *n += u64::from(c >> i & 1);
                }
            }
            for (i, d) in CONDITIONS.iter().enumerate() {
                let got = counts[i] as f64 / sample.len() as f64;
                if got > 0.0 {
                    cal.scale[i] *= (d.target / got).clamp(0.5, 2.0);
                }
            }
        }
        let mut q = 0.0;
        for (key, age, male, nh, z) in sample {
            let c = cal.conditions(*key, *age, *male, *z);
            q += cal.death_probability(*age, *male, *nh, *z, c);
        }
        cal.death_scale = crate::pop::MORTALITY * sample.len() as f64 / q;
        cal
    }
}

/// Names of the conditions in a set, `|`-separated.
pub fn names(c: Conditions) -> String {
    CONDITIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| c >> i & 1 == 1)
        .map(|(_, d)| d.name)
        .collect::<Vec<_>>()
        .join("|")
}
