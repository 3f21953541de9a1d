//! Fast parsers for the text forms of the delivery format.

use chrono::NaiveDate;

/// Days from 0001-01-01 (chrono's CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &[u8]) -> Option<NaiveDate> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &b in &s[r] {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(b - b'0');
        }
        Some(v)
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Days since 1970-01-01 (Arrow `Date32`).
pub fn date32(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

/// The date of an Arrow `Date32` value.
pub fn from_date32(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_CE_DAYS).expect("valid date32")
}

/// Parses an amount in euros with at most two decimals into cents.
pub fn parse_cents(s: &[u8]) -> Option<i128> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(p) => (&digits[..p], &digits[p + 1..]),
        None => (digits, &digits[..0]),
    };
    if int.is_empty()
        || int.len() > 15
        || frac.len() > 2
        || (digits.contains(&b'.') && frac.is_empty())
    {
        return None;
    }
    let mut v: i128 = 0;
    for &b in int {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i128::from(b - b'0');
    }
    let mut f: i128 = 0;
    for (i, &b) in frac.iter().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        f += i128::from(b - b'0') * if i == 0 { 10 } else { 1 };
    }
    let cents = v * 100 + f;
    Some(if neg { -cents } else { cents })
}

/// Parses a whole number.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(b - b'0');
    }
    Some(if neg { -v } else { v })
}

/// Parses `true`/`false`/`1`/`0`.
pub fn parse_bool(s: &[u8]) -> Option<bool> {
    match s {
        b"true" | b"1" | b"TRUE" | b"True" => Some(true),
        b"false" | b"0" | b"FALSE" | b"False" => Some(false),
        _ => None,
    }
}

/// Parses a finite decimal number (`.` as separator).
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text
        .bytes()
        .any(|b| !(b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+'))
    {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = parse_date(b"2024-02-29").unwrap();
        assert_eq!(from_date32(date32(d)), d);
        assert_eq!(date32(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
        for bad in [
            &b"2023-02-29"[..],
            b"2024-2-01",
            b"20240201",
            b"2024-13-01",
            b"2024-01-0a",
        ] {
            assert!(parse_date(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_cents(b"12.34"), Some(1234));
        assert_eq!(parse_cents(b"12.3"), Some(1230));
        assert_eq!(parse_cents(b"12"), Some(1200));
        assert_eq!(parse_cents(b"-0.05"), Some(-5));
        for bad in [
            &b"12,34"[..],
            b"1.234",
            b"",
            b"-",
            b"1e3",
            b"12.",
            b".5",
            b"abc",
        ] {
            assert!(parse_cents(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_int(b"-3"), Some(-3));
        assert!(parse_int(b"3.0").is_none());
        assert_eq!(parse_bool(b"1"), Some(true));
        assert!(parse_bool(b"yes").is_none());
        assert_eq!(parse_f64(b"12.75"), Some(12.75));
        assert!(parse_f64(b"NaN").is_none());
    }

    proptest::proptest! {
        #[test]
        fn cents_round_trip(c in -10_000_000_000i64..10_000_000_000i64) {
            let text = format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.unsigned_abs() / 100, c.unsigned_abs() % 100);
            proptest::prop_assert_eq!(parse_cents(text.as_bytes()), Some(i128::from(c)));
        }
    }
}
