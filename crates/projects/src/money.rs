//! Money in integer cents and quantities in hundredths: exact arithmetic, one rounding rule.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// An amount in euro cents.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Cents(pub i64);

impl Cents {
    /// Euros and cents as Belgian usage writes them: `€ 1.234,56`.
    pub fn display(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let euros = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in euros.chars().enumerate() {
            if i > 0 && (euros.len() - i).is_multiple_of(3) {
                grouped.push('.');
            }
            grouped.push(c);
        }
        format!("{sign}€ {grouped},{:02}", abs % 100)
    }

    /// The amount in euros as a number, for a spreadsheet cell (display only: every sum is
    /// made in cents).
    pub fn euros_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, o: Cents) -> Cents {
        Cents(self.0 + o.0)
    }
}

impl std::iter::Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents(0), |a, b| a + b)
    }
}

/// `a × b / c` rounded half away from zero, exactly (128-bit intermediate). `c` > 0.
pub(crate) fn mul_div_round(a: i64, b: i64, c: i64) -> i64 {
    assert!(c > 0, "divisor must be positive");
    let n = i128::from(a) * i128::from(b);
    let c = i128::from(c);
    let (q, r) = (n / c, n % c);
    let q = if 2 * r.abs() >= c { q + n.signum() } else { q };
    i64::try_from(q).expect("amount fits in 64 bits")
}

/// A quantity (days, months, gigabytes) in hundredths: `1.5` days is 150.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Quantity(pub u32);

impl Quantity {
    /// A whole quantity.
    pub fn whole(n: u32) -> Quantity {
        Quantity(n * 100)
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `unit × quantity`, rounded half up to the cent.
    pub fn times(self, unit: Cents) -> Cents {
        Cents(mul_div_round(unit.0, i64::from(self.0), 100))
    }

    /// As a number, for a spreadsheet cell.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 100 {
            0 => write!(f, "{}", self.0 / 100),
            r if r % 10 == 0 => write!(f, "{},{}", self.0 / 100, r / 10),
            r => write!(f, "{},{:02}", self.0 / 100, r),
        }
    }
}

/// A quantity that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a quantity: a non-negative number with at most two decimals (1, 2.5, 0.25)")]
pub struct QuantityError(pub String);

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        let err = || QuantityError(s.to_string());
        let t = s.trim().replace(',', ".");
        let (int, frac) = t.split_once('.').unwrap_or((&t, ""));
        if int.is_empty()
            || frac.len() > 2
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(err());
        }
        let int: u32 = int.parse().map_err(|_| err())?;
        let frac: u32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<2}").parse().map_err(|_| err())?
        };
        int.checked_mul(100)
            .and_then(|i| i.checked_add(frac))
            .map(Quantity)
            .ok_or_else(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_the_belgian_way() {
        assert_eq!(Cents(123_456).display(), "€ 1.234,56");
        assert_eq!(Cents(700_000).display(), "€ 7.000,00");
        assert_eq!(Cents(5).display(), "€ 0,05");
        assert_eq!(Cents(-100_000_000).display(), "-€ 1.000.000,00");
    }

    #[test]
    fn rounding_is_half_away_from_zero_and_exact() {
        assert_eq!(mul_div_round(59_700, 10_845, 10_615), 60_994); // 60 993.55…
        assert_eq!(mul_div_round(1, 1, 2), 1);
        assert_eq!(mul_div_round(-1, 1, 2), -1);
        assert_eq!(mul_div_round(1, 1, 3), 0);
        assert_eq!(Quantity(150).times(Cents(59_700)), Cents(89_550));
        assert_eq!(Quantity(33).times(Cents(101)), Cents(33)); // 33.33 → 33
        assert_eq!(Quantity(50).times(Cents(3)), Cents(2)); // 1.5 → 2
    }

    #[test]
    fn quantities_parse_with_a_point_or_a_comma() {
        assert_eq!("2".parse(), Ok(Quantity(200)));
        assert_eq!("1.5".parse(), Ok(Quantity(150)));
        assert_eq!("0,25".parse(), Ok(Quantity(25)));
        for bad in ["", "-1", "1.234", "a", "1.5.2", ".5"] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad}");
        }
        assert_eq!(Quantity(150).to_string(), "1,5");
        assert_eq!(Quantity(225).to_string(), "2,25");
        assert_eq!(Quantity(300).to_string(), "3");
    }
}
