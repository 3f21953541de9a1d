//! The seven Belgian insurers (sickness funds, "organismes assureurs").

use std::fmt;
use std::str::FromStr;

/// One of the seven insurers that deliver data to the agency.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Insurer {
    /// 100: Christian mutualities.
    Christian,
    /// 200: Neutral mutualities.
    Neutral,
    /// 300: Socialist mutualities.
    Socialist,
    /// 400: Liberal mutualities.
    Liberal,
    /// 500: Independent ("libres") mutualities.
    Independent,
    /// 600: Auxiliary fund (CAAMI/HZIV), public.
    Auxiliary,
    /// 900: Railway employees' fund (HR Rail).
    Railway,
}

impl Insurer {
    /// All seven, in code order.
    pub const ALL: [Insurer; 7] = [
        Insurer::Christian,
        Insurer::Neutral,
        Insurer::Socialist,
        Insurer::Liberal,
        Insurer::Independent,
        Insurer::Auxiliary,
        Insurer::Railway,
    ];

    /// The three-digit code ("100" … "900").
    pub fn code(self) -> &'static str {
        match self {
            Insurer::Christian => "100",
            Insurer::Neutral => "200",
            Insurer::Socialist => "300",
            Insurer::Liberal => "400",
            Insurer::Independent => "500",
            Insurer::Auxiliary => "600",
            Insurer::Railway => "900",
        }
    }

    /// English name.
    pub fn name(self) -> &'static str {
        match self {
            Insurer::Christian => "Christian mutualities",
            Insurer::Neutral => "Neutral mutualities",
            Insurer::Socialist => "Socialist mutualities",
            Insurer::Liberal => "Liberal mutualities",
            Insurer::Independent => "Independent mutualities",
            Insurer::Auxiliary => "Auxiliary fund",
            Insurer::Railway => "Railway employees' fund",
        }
    }

    /// Approximate share of the insured population (sums to 1).
    pub fn share(self) -> f64 {
        match self {
            Insurer::Christian => 0.405,
            Insurer::Neutral => 0.05,
            Insurer::Socialist => 0.27,
            Insurer::Liberal => 0.05,
            Insurer::Independent => 0.20,
            Insurer::Auxiliary => 0.015,
            Insurer::Railway => 0.01,
        }
    }
}

impl fmt::Display for Insurer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A code that is not one of the seven insurers.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an insurer code (expected one of 100, 200, 300, 400, 500, 600, 900)")]
pub struct UnknownInsurer(pub String);

impl FromStr for Insurer {
    type Err = UnknownInsurer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Insurer::ALL
            .into_iter()
            .find(|i| i.code() == s.trim())
            .ok_or_else(|| UnknownInsurer(s.to_string()))
    }
}

impl TryFrom<String> for Insurer {
    type Error = UnknownInsurer;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Insurer> for String {
    fn from(i: Insurer) -> String {
        i.code().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_shares_sum_to_one() {
        for i in Insurer::ALL {
            assert_eq!(i.code().parse::<Insurer>().unwrap(), i);
        }
        let total: f64 = Insurer::ALL.iter().map(|i| i.share()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!("700".parse::<Insurer>().is_err());
    }

    #[test]
    fn matches_the_reference_list() {
        let mut rdr = csv::Reader::from_reader(crate::codes::INSURERS_CSV.as_bytes());
        let codes: Vec<String> = rdr.records().map(|r| r.unwrap()[0].to_string()).collect();
        let ours: Vec<String> = Insurer::ALL.iter().map(|i| i.code().to_string()).collect();
        assert_eq!(codes, ours);
    }
}
