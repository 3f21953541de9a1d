//! Belgian national numbers (NISS / INSZ / numéro de registre national).
//!
//! Eleven digits: `YYMMDD` (birth date, month + 20 or + 40 for BIS numbers, or `00` when
//! unknown), a three-digit serial (odd for men, even for women), and a two-digit check:
//! `97 - (first nine digits mod 97)`. For people born from 2000, the nine digits are
//! prefixed with `2` before taking the modulus (`2000000000 + n`).

/// A national number that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NissError {
    /// Not eleven digits once separators are removed.
    #[error("'{0}' is not a national number: expected 11 digits")]
    Format(String),
    /// The check digits do not match, for either century.
    #[error("national number {0} has a wrong check (mod 97) for both the 1900s and the 2000s")]
    Check(String),
}

/// A validated national number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Niss {
    digits: String,
    born_from_2000: bool,
}

fn check_digits(base: u64, born_from_2000: bool) -> u64 {
    let n = if born_from_2000 {
        2_000_000_000 + base
    } else {
        base
    };
    97 - n % 97
}

impl Niss {
    /// Parses and validates; dots, dashes and spaces are ignored.
    pub fn parse(text: &str) -> Result<Niss, NissError> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, '.' | '-' | ' '))
            .collect();
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NissError::Format(text.to_string()));
        }
        let base: u64 = digits[..9].parse().expect("digits");
        let check: u64 = digits[9..].parse().expect("digits");
        if check == check_digits(base, false) {
            Ok(Niss {
                digits,
                born_from_2000: false,
            })
        } else if check == check_digits(base, true) {
            Ok(Niss {
                digits,
                born_from_2000: true,
            })
        } else {
            Err(NissError::Check(digits))
        }
    }

    /// Builds the valid number for a nine-digit base (birth date and serial).
    pub fn from_base(base: u64, born_from_2000: bool) -> Niss {
        assert!(base < 1_000_000_000);
        Niss {
            digits: format!("{base:09}{:02}", check_digits(base, born_from_2000)),
            born_from_2000,
        }
    }

    /// The eleven digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// Whether the check digits follow the rule for people born from 2000.
    pub fn born_from_2000(&self) -> bool {
        self.born_from_2000
    }

    /// True when the serial is odd (men) rather than even (women).
    pub fn is_male(&self) -> bool {
        self.digits.as_bytes()[8] % 2 == 1
    }
}

/// True when `s` is eleven digits with a valid mod-97 check: used by the ingest to refuse
/// any delivery in which a raw national number appears.
pub fn looks_like_niss(s: &str) -> bool {
    s.len() == 11 && Niss::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_examples() {
        // Born 30 July 1985: 850730033 → 97 - 850730033 mod 97 = 28.
        let n = Niss::parse("85073003328").unwrap();
        assert!(!n.born_from_2000());
        assert!(n.is_male());
        // Born 2001: the 2 prefix changes the check.
        let base = 10_203_004u64; // 01-02-03, serial 004
        let n = Niss::from_base(base, true);
        assert_eq!(
            n.digits(),
            format!("{base:09}{:02}", 97 - (2_000_000_000 + base) % 97)
        );
        assert!(Niss::parse(n.digits()).unwrap().born_from_2000());
        assert!(!n.is_male());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Niss::parse("8507300332"),
            Err(NissError::Format(_))
        ));
        assert!(matches!(
            Niss::parse("8507300332a"),
            Err(NissError::Format(_))
        ));
        assert!(matches!(
            Niss::parse("85073003327"),
            Err(NissError::Check(_))
        ));
        assert!(looks_like_niss("85073003328"));
        assert!(
            !looks_like_niss("85.07.30-033.28"),
            "the ingest check looks at raw 11-digit values"
        );
    }

    proptest::proptest! {
        #[test]
        fn every_generated_number_validates(base in 0u64..1_000_000_000, y2k: bool) {
            let n = Niss::from_base(base, y2k);
            let parsed = Niss::parse(n.digits()).unwrap();
            proptest::prop_assert_eq!(parsed.digits(), n.digits());
        }

        #[test]
        fn a_changed_digit_is_caught(base in 0u64..1_000_000_000, pos in 0usize..11, delta in 1u8..10) {
            let n = Niss::from_base(base, false);
            let mut bytes = n.digits().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            // A single changed digit never keeps the 1900s check valid.
            if let Ok(p) = Niss::parse(&changed) { proptest::prop_assert!(p.born_from_2000()); }
        }
    }
}
