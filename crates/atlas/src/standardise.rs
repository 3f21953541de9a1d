//! Rates and their confidence intervals: crude proportions (Wilson score interval), crude
//! means (normal approximation), and direct age–sex standardisation (weights from a standard
//! population, variance as the weighted sum of the strata variances, normal approximation;
//! Breslow & Day, *Statistical Methods in Cancer Research* II, §2.3). docs/indicators.md
//! gives the formulas.

use crate::indicator::Kind;
use serde::Serialize;

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// One stratum's persons, and the sum and sum of squares of the per-person value (0/1 for a
/// proportion).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stratum {
    /// Persons.
    pub n: f64,
    /// Sum of the value.
    pub sum: f64,
    /// Sum of the squared value.
    pub sum_sq: f64,
}

impl Stratum {
    /// Adds another stratum's persons and sums.
    pub fn add(&mut self, o: &Stratum) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }

    /// The stratum's mean (rate for a proportion).
    pub fn mean(&self) -> f64 {
        if self.n > 0.0 { self.sum / self.n } else { 0.0 }
    }

    /// The variance of the stratum's mean.
    pub fn variance_of_mean(&self, kind: Kind) -> f64 {
        if self.n <= 0.0 {
            return 0.0;
        }
        match kind {
            Kind::Proportion => {
                let p = self.mean();
                p * (1.0 - p) / self.n
            }
            Kind::Mean => {
                if self.n < 2.0 {
                    return 0.0;
                }
                let var = (self.sum_sq - self.sum * self.sum / self.n) / (self.n - 1.0);
                var.max(0.0) / self.n
            }
        }
    }
}

/// An estimate with its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The value (a proportion or a mean, before the unit's factor).
    pub value: f64,
    /// Lower bound of the 95 % interval.
    pub low: f64,
    /// Upper bound of the 95 % interval.
    pub high: f64,
}

/// The crude estimate of a stratum (or of an area, all strata added): Wilson's score interval
/// for a proportion, mean ± z·s/√n for a mean.
pub fn crude(s: &Stratum, kind: Kind) -> Option<Estimate> {
    if s.n <= 0.0 {
        return None;
    }
    match kind {
        Kind::Proportion => {
            let (n, p) = (s.n, s.mean());
            let z2 = Z95 * Z95;
            let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
            let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
            Some(Estimate {
                value: p,
                low: (centre - half).max(0.0),
                high: (centre + half).min(1.0),
            })
        }
        Kind::Mean => {
            let m = s.mean();
            let half = Z95 * s.variance_of_mean(kind).sqrt();
            Some(Estimate {
                value: m,
                low: m - half,
                high: m + half,
            })
        }
    }
}

/// The directly standardised estimate: Σ wₛ·mₛ over the strata with persons, with wₛ the
/// standard population's share among those strata; variance Σ wₛ²·Var(mₛ). `strata` and
/// `standard` are aligned (same strata, same order). `None` when no stratum has persons.
pub fn direct(strata: &[Stratum], standard: &[f64], kind: Kind) -> Option<Estimate> {
    let weight_total: f64 = strata
        .iter()
        .zip(standard)
        .filter(|(s, _)| s.n > 0.0)
        .map(|(_, w)| w)
        .sum();
    if weight_total <= 0.0 {
        return None;
    }
    let mut value = 0.0;
    let mut variance = 0.0;
    for (s, w) in strata.iter().zip(standard) {
        if s.n > 0.0 {
            let w = w / weight_total;
            value += w * s.mean();
            variance += w * w * s.variance_of_mean(kind);
        }
    }
    let half = Z95 * variance.sqrt();
    let (low, high) = match kind {
        Kind::Proportion => ((value - half).max(0.0), (value + half).min(1.0)),
        Kind::Mean => (value - half, value + half),
    };
    Some(Estimate { value, low, high })
}

/// The five-year age band of standardisation (0–4 … 80–84, 85+): 18 bands.
pub fn band(age: u16) -> usize {
    usize::from(age / 5).min(17)
}

/// Number of standardisation strata: 18 age bands × 2 sexes.
pub const STRATA: usize = 36;

/// The stratum index of an age and a sex (`F` or `M`); `None` for another sex code.
pub fn stratum(age: u16, sex: &str) -> Option<usize> {
    match sex {
        "F" => Some(band(age)),
        "M" => Some(18 + band(age)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_hand_checked_standardisation() {
        // Two strata: young (n 100, 10 events) and old (n 50, 20 events); the standard
        // population is 3 young for 1 old: rate = 0.75·0.10 + 0.25·0.40 = 0.175.
        let strata = [
            Stratum {
                n: 100.0,
                sum: 10.0,
                sum_sq: 10.0,
            },
            Stratum {
                n: 50.0,
                sum: 20.0,
                sum_sq: 20.0,
            },
        ];
        let e = direct(&strata, &[300.0, 100.0], Kind::Proportion).unwrap();
        assert!(close(e.value, 0.175), "{e:?}");
        // Var = 0.75²·0.1·0.9/100 + 0.25²·0.4·0.6/50 = 0.00050625 + 0.0003 = 0.00080625.
        let half = Z95 * 0.00080625f64.sqrt();
        assert!(
            close(e.low, 0.175 - half) && close(e.high, 0.175 + half),
            "{e:?}"
        );
        // A stratum without persons is left out and the weights renormalised.
        let e = direct(
            &[strata[0], Stratum::default()],
            &[300.0, 100.0],
            Kind::Proportion,
        )
        .unwrap();
        assert!(close(e.value, 0.10));
        assert!(direct(&[Stratum::default()], &[1.0], Kind::Proportion).is_none());
    }

    #[test]
    fn crude_intervals() {
        // Wilson, 10 of 100: [0.0552, 0.1744] (to 4 decimals).
        let e = crude(
            &Stratum {
                n: 100.0,
                sum: 10.0,
                sum_sq: 10.0,
            },
            Kind::Proportion,
        )
        .unwrap();
        assert!(
            (e.low - 0.05523).abs() < 1e-4 && (e.high - 0.17437).abs() < 1e-4,
            "{e:?}"
        );
        // A mean of 1, 2, 3: 2 ± z·1/√3.
        let e = crude(
            &Stratum {
                n: 3.0,
                sum: 6.0,
                sum_sq: 14.0,
            },
            Kind::Mean,
        )
        .unwrap();
        assert!(
            close(e.value, 2.0) && close(e.high - 2.0, Z95 / 3f64.sqrt()),
            "{e:?}"
        );
    }

    #[test]
    fn bands_and_strata() {
        assert_eq!(band(0), 0);
        assert_eq!(band(84), 16);
        assert_eq!(band(85), 17);
        assert_eq!(band(110), 17);
        assert_eq!(stratum(40, "M"), Some(26));
        assert_eq!(stratum(40, "X"), None);
    }
}
