//! The price list (`data/prices.toml`, seed 003 §4): day rates on the 2018 basis, the flat fee
//! of each request type, the VPN box, what the flat fee includes, the VAT decision.

use crate::kind::RequestType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The price list shipped with the crate.
pub const PRICES_TOML: &str = include_str!("../data/prices.toml");

/// Day rates on their basis year.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayRates {
    /// The year the rates are stated for.
    pub basis_year: i32,
    /// Analyst, cents a day.
    pub analyst: i64,
    /// Expert, cents a day.
    pub expert: i64,
    /// Where they come from.
    pub source: String,
}

/// The flat fee of a request type.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlatFee {
    /// Cents.
    pub cents: i64,
    /// "At least": the seed states the fee as a minimum.
    #[serde(default)]
    pub minimum: bool,
    /// Due even when the request proves impossible.
    #[serde(default)]
    pub due_when_impossible: bool,
    /// Where it comes from.
    pub source: String,
}

/// The VPN box.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpn {
    /// Cents a month.
    pub month: i64,
    /// Where it comes from.
    pub source: String,
}

/// What the flat fee includes, and the price beyond it when the agency has set one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludedAccess {
    /// Months of access included.
    pub months: u32,
    /// Gigabytes included.
    pub gigabytes: u32,
    /// Cents per month beyond `months` (the seed gives no amount: unset until the agency
    /// sets it).
    #[serde(default)]
    pub extra_month: Option<i64>,
    /// Cents per gigabyte beyond `gigabytes`, for the access period (likewise).
    #[serde(default)]
    pub extra_gigabyte: Option<i64>,
    /// Where it comes from.
    pub source: String,
}

/// The VAT decision, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatNote {
    /// English.
    pub en: String,
    /// French.
    pub fr: String,
    /// Dutch.
    pub nl: String,
}

/// The validated price list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceList {
    /// Currency (EUR).
    pub currency: String,
    /// Day rates.
    pub day_rates: DayRates,
    /// Flat fee per request type.
    pub flat: BTreeMap<RequestType, FlatFee>,
    /// VPN box.
    pub vpn: Vpn,
    /// Included access and storage.
    pub included_access: IncludedAccess,
    /// VAT.
    pub vat: VatNote,
}

/// Why a price list is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The TOML does not parse.
    #[error("price list: {0}")]
    Parse(#[from] toml::de::Error),
    /// A price is missing or not positive.
    #[error("price list: {0}")]
    Invalid(String),
}

impl PriceList {
    /// The price list shipped with the crate.
    pub fn builtin() -> PriceList {
        PriceList::from_toml(PRICES_TOML).expect("the shipped price list is valid (tested)")
    }

    /// Parses and validates a price list.
    pub fn from_toml(text: &str) -> Result<PriceList, PriceError> {
        let p: PriceList = toml::from_str(text)?;
        let bad = |m: String| Err(PriceError::Invalid(m));
        if p.currency != "EUR" {
            return bad(format!("currency `{}`: only EUR", p.currency));
        }
        if p.day_rates.analyst <= 0 || p.day_rates.expert <= 0 || p.vpn.month <= 0 {
            return bad("day rates and the VPN month must be positive".into());
        }
        for t in RequestType::ALL {
            match p.flat.get(&t) {
                None => return bad(format!("no flat fee for `{t}`")),
                Some(f) if f.cents < 0 => return bad(format!("negative flat fee for `{t}`")),
                _ => {}
            }
        }
        let a = &p.included_access;
        if a.extra_month.is_some_and(|c| c <= 0) || a.extra_gigabyte.is_some_and(|c| c <= 0) {
            return bad("extra access prices, when set, must be positive".into());
        }
        Ok(p)
    }

    /// The flat fee of a type.
    pub fn flat_fee(&self, t: RequestType) -> &FlatFee {
        self.flat
            .get(&t)
            .expect("validated: every type has a flat fee")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_has_the_seeds_prices() {
        let p = PriceList::builtin();
        assert_eq!(
            (
                p.day_rates.basis_year,
                p.day_rates.analyst,
                p.day_rates.expert
            ),
            (2018, 59_700, 106_200)
        );
        assert_eq!(p.flat_fee(RequestType::SampleAggregate).cents, 0);
        let pop = p.flat_fee(RequestType::PopulationAggregate);
        assert_eq!((pop.cents, pop.due_when_impossible), (100_000, true));
        let coded = p.flat_fee(RequestType::CodedData);
        assert_eq!((coded.cents, coded.minimum), (700_000, true));
        assert_eq!(p.flat_fee(RequestType::AgencyStudy).cents, 700_000);
        assert_eq!(p.vpn.month, 3_500);
        assert_eq!(
            (p.included_access.months, p.included_access.gigabytes),
            (24, 20)
        );
        assert_eq!(
            (
                p.included_access.extra_month,
                p.included_access.extra_gigabyte
            ),
            (None, None)
        );
    }

    #[test]
    fn incomplete_lists_are_refused() {
        let text = PRICES_TOML.replace("[flat.agency-study]", "[flat.agency-studies]");
        assert!(PriceList::from_toml(&text).is_err());
        let text = PRICES_TOML.replace("analyst = 59700", "analyst = 0");
        assert!(
            PriceList::from_toml(&text)
                .unwrap_err()
                .to_string()
                .contains("positive")
        );
        let text = PRICES_TOML.replace("currency = \"EUR\"", "currency = \"USD\"");
        assert!(PriceList::from_toml(&text).is_err());
    }
}
