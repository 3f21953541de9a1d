//! The permanent sample (EPS): membership as a function of the coded identifier and age.

use crate::definitions::SampleConfig;
use crate::scan::coded_text;
use sha2::{Digest, Sha256};

/// The person's uniform number in [0, 1): the first 8 bytes of SHA-256(salt ‖ person_id),
/// big-endian, divided by 2^64. It never changes.
pub fn uniform(cfg: &SampleConfig, person: u128) -> f64 {
    let mut h = Sha256::new();
    h.update(cfg.salt.as_bytes());
    h.update(coded_text(person).as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) as f64 / 18_446_744_073_709_551_616.0
}

/// The sampling fraction at an age.
pub fn fraction(cfg: &SampleConfig, age: i32) -> f64 {
    if age >= cfg.age_threshold {
        cfg.fraction_from
    } else {
        cfg.fraction_below
    }
}

/// Whether a person of this age is a member.
pub fn is_member(cfg: &SampleConfig, person: u128, age: i32) -> bool {
    uniform(cfg, person) < fraction(cfg, age)
}

/// Stratum of the calibrated weights: (from the age threshold, sex byte).
pub fn stratum(cfg: &SampleConfig, age: i32, sex: u8) -> usize {
    usize::from(age >= cfg.age_threshold) * 2 + usize::from(sex == b'F')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> SampleConfig {
        crate::Definitions::builtin().sample
    }

    proptest! {
        /// Once in, always in while the person grows older: the fraction never decreases with
        /// age and the person's number never changes.
        #[test]
        fn a_member_stays_a_member_in_every_later_year(id in any::<u128>(), age in 0i32..110, later in 0i32..40) {
            let c = cfg();
            if is_member(&c, id, age) {
                prop_assert!(is_member(&c, id, age + later));
            }
        }

        #[test]
        fn the_number_is_uniform_in_the_unit_interval(id in any::<u128>()) {
            let u = uniform(&cfg(), id);
            prop_assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn fractions_hit_their_targets_within_binomial_tolerance() {
        let c = cfg();
        let n = 200_000u64;
        for (age, f) in [(30, 1.0 / 40.0), (70, 1.0 / 20.0)] {
            let members = (0..n)
                .filter(|i| {
                    is_member(
                        &c,
                        u128::from(*i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
                        age,
                    )
                })
                .count() as f64;
            let sd = (n as f64 * f * (1.0 - f)).sqrt();
            assert!(
                (members - n as f64 * f).abs() < 4.0 * sd,
                "age {age}: {members}"
            );
        }
    }
}
