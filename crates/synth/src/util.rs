//! Small helpers: deterministic random streams, samplers, allocation-free formatting of
//! numbers and dates.

use chrono::{Datelike, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random generator used everywhere (portable and reproducible).
pub type R = ChaCha8Rng;

/// SplitMix64 finaliser: a good 64-bit mixing function.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Hash of a few words.
pub fn hash(words: &[u64]) -> u64 {
    words.iter().fold(0x51A7_5EED_u64, |h, w| mix(h ^ mix(*w)))
}

/// A uniform number in [0, 1) derived from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A random stream for one purpose.
pub fn rng(words: &[u64]) -> R {
    R::seed_from_u64(hash(words))
}

/// Uniform [0, 1).
#[inline]
pub fn u(r: &mut R) -> f64 {
    r.random::<f64>()
}

/// True with probability `p`.
#[inline]
pub fn chance(r: &mut R, p: f64) -> bool {
    u(r) < p
}

/// Standard normal (Box–Muller, one draw).
pub fn normal(r: &mut R) -> f64 {
    let u1 = u(r).max(1e-300);
    let u2 = u(r);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal with the given arithmetic mean and log-scale sigma.
pub fn lognormal_mean(r: &mut R, mean: f64, sigma: f64) -> f64 {
    let mu = mean.ln() - sigma * sigma / 2.0;
    (mu + sigma * normal(r)).exp()
}

/// Poisson (inversion for small means, normal approximation above 30).
pub fn poisson(r: &mut R, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda > 30.0 {
        let x = lambda + lambda.sqrt() * normal(r);
        return x.round().max(0.0) as u32;
    }
    let l = (-lambda).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= u(r);
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// Uniform integer in [lo, hi] (inclusive).
#[inline]
pub fn range(r: &mut R, lo: i32, hi: i32) -> i32 {
    if hi <= lo {
        lo
    } else {
        r.random_range(lo..=hi)
    }
}

/// Index into a cumulative weight table.
pub fn pick_cum(cum: &[f64], x: f64) -> usize {
    let target = x * cum.last().copied().unwrap_or(0.0);
    cum.partition_point(|c| *c <= target)
        .min(cum.len().saturating_sub(1))
}

/// Probability of at least one event over a fraction `f` of a year, from a yearly probability.
pub fn part_year(p: f64, f: f64) -> f64 {
    if f >= 1.0 {
        p
    } else {
        1.0 - (1.0 - p.clamp(0.0, 1.0)).powf(f)
    }
}

/// Day number (days from the common era) of a date.
pub fn day(y: i32, m: u32, d: u32) -> i32 {
    NaiveDate::from_ymd_opt(y, m, d)
        .expect("valid date")
        .num_days_from_ce()
}

/// The date of a day number.
pub fn date(d: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d).expect("valid day")
}

/// Pre-formatted `YYYY-MM-DD` strings for a range of days.
pub struct Dates {
    first: i32,
    text: Vec<[u8; 10]>,
}

impl Dates {
    /// Table covering the years `from..=to`.
    pub fn new(from: i32, to: i32) -> Dates {
        let first = day(from, 1, 1);
        let last = day(to, 12, 31);
        let text = (first..=last)
            .map(|d| {
                let dt = date(d);
                let s = format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day());
                s.as_bytes().try_into().expect("10 bytes")
            })
            .collect();
        Dates { first, text }
    }

    /// Appends the date of day `d`.
    #[inline]
    pub fn push(&self, buf: &mut Vec<u8>, d: i32) {
        let i = d - self.first;
        if i >= 0 && (i as usize) < self.text.len() {
            buf.extend_from_slice(&self.text[i as usize]);
        } else {
            let dt = date(d);
            buf.extend_from_slice(
                format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day()).as_bytes(),
            );
        }
    }
}

/// Appends an unsigned integer.
#[inline]
pub fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a signed integer.
#[inline]
pub fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends a number of hundredths as a decimal with exactly two decimals (`-12.05`).
#[inline]
pub fn push_cents(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let a = v.unsigned_abs();
    push_u64(buf, a / 100);
    buf.push(b'.');
    let c = (a % 100) as u8;
    buf.push(b'0' + c / 10);
    buf.push(b'0' + c % 10);
}

/// Euros to cents.
#[inline]
pub fn cents(eur: f64) -> i64 {
    (eur * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        let mut b = Vec::new();
        push_cents(&mut b, 1205);
        b.push(b' ');
        push_cents(&mut b, -5);
        b.push(b' ');
        push_i64(&mut b, -42);
        b.push(b' ');
        push_u64(&mut b, 0);
        assert_eq!(String::from_utf8(b).unwrap(), "12.05 -0.05 -42 0");
        let d = Dates::new(2023, 2024);
        let mut b = Vec::new();
        d.push(&mut b, day(2024, 2, 29));
        d.push(&mut b, day(1999, 1, 2));
        assert_eq!(String::from_utf8(b).unwrap(), "2024-02-291999-01-02");
    }

    #[test]
    fn samplers_have_the_right_means() {
        let mut r = rng(&[1]);
        let n = 20_000;
        let m: f64 = (0..n).map(|_| f64::from(poisson(&mut r, 3.0))).sum::<f64>() / f64::from(n);
        assert!((m - 3.0).abs() < 0.1, "{m}");
        let m: f64 = (0..n)
            .map(|_| lognormal_mean(&mut r, 5.0, 0.7))
            .sum::<f64>()
            / f64::from(n);
        assert!((m - 5.0).abs() < 0.2, "{m}");
    }
}
