//! A project's price: the quote (estimate) and the invoice lines, from the price list and the
//! health index (seed 003 §4). Every amount is integer cents; each line is rounded to the cent
//! (half away from zero) and the total is the sum of the lines.

use crate::index::{HealthIndex, IndexError, IndexedRates};
use crate::kind::RequestType;
use crate::machine::Project;
use crate::money::{Cents, Quantity};
use crate::prices::{PriceList, VatNote};
use crate::sheet::ProjectSheet;
use crate::workflow::State;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// What the agency estimates (or, for an invoice, what was done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// The date of the quote or invoice (its year chooses the indexed day rates).
    pub date: NaiveDate,
    /// Analyst days.
    pub days_analyst: Quantity,
    /// Expert days.
    pub days_expert: Quantity,
    /// Months of VPN access (coded data only); `None`: as many as the months of access.
    pub months_vpn: Option<u32>,
    /// Months the data stay available (coded data, studies); `None`: what the flat fee
    /// includes (24).
    pub months_access: Option<u32>,
    /// Gigabytes of project data (coded data, studies); `None`: what the flat fee includes (20).
    pub storage_gb: Option<u32>,
}

impl QuoteRequest {
    /// A request with no days, dated `date`, and the included access.
    pub fn new(date: NaiveDate) -> QuoteRequest {
        QuoteRequest {
            date,
            days_analyst: Quantity(0),
            days_expert: Quantity(0),
            months_vpn: None,
            months_access: None,
            storage_gb: None,
        }
    }
}

/// What a line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineKind {
    /// The type's flat fee (or its funding by the sample, at zero).
    Flat,
    /// Analyst days.
    AnalystDays,
    /// Expert days.
    ExpertDays,
    /// VPN box months.
    Vpn,
    /// Months of access beyond those included.
    ExtraMonths,
    /// Gigabytes beyond those included.
    ExtraStorage,
}

/// One line of a quote or an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// What it is for.
    pub kind: LineKind,
    /// English description.
    pub en: String,
    /// French description.
    pub fr: String,
    /// Dutch description.
    pub nl: String,
    /// Quantity.
    pub quantity: Quantity,
    /// Unit price; `None` when the price list has none (the agency sets it).
    pub unit_price: Option<Cents>,
    /// Amount; `None` when the unit price is not set.
    pub amount: Option<Cents>,
}

/// A price quote (or an invoice: the same lines, from what was done).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    /// Project title.
    pub title: String,
    /// Requesting organisation.
    pub organisation: String,
    /// Request type.
    pub request_type: RequestType,
    /// Date.
    pub date: NaiveDate,
    /// The lines.
    pub lines: Vec<Line>,
    /// Sum of the priced lines.
    pub total: Cents,
    /// Some line is not priced yet (storage or access beyond what is included).
    pub incomplete: bool,
    /// The flat fee is a minimum (coded data, studies).
    pub flat_is_minimum: bool,
    /// The day rates used and their indexation.
    pub rates: IndexedRates,
    /// The VAT statement.
    pub vat: VatNote,
}

/// Why no quote or invoice can be made.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    /// The health index lacks a month the rates need.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An item that does not exist for this type.
    #[error("{what} does not apply to a {request_type} request ({why})")]
    NotApplicable {
        /// The item.
        what: &'static str,
        /// The type.
        request_type: RequestType,
        /// Why, from the seed.
        why: &'static str,
    },
    /// The project is not in a state that is invoiced.
    #[error(
        "project {project} is {state}: invoice lines are made once it is delivered (or, for a population request, declared impossible)"
    )]
    NotInvoiceable {
        /// The project.
        project: String,
        /// Its state.
        state: State,
    },
}

fn line(
    kind: LineKind,
    en: String,
    fr: String,
    nl: String,
    quantity: Quantity,
    unit: Option<Cents>,
) -> Line {
    Line {
        kind,
        en,
        fr,
        nl,
        quantity,
        unit_price: unit,
        amount: unit.map(|u| quantity.times(u)),
    }
}

fn flat_line(prices: &PriceList, t: RequestType) -> Line {
    let fee = prices.flat_fee(t);
    let (en, fr, nl) = match t {
        RequestType::SampleAggregate => (
            "Flat contribution: covered by the permanent sample's funding",
            "Forfait : couvert par le financement de l'Échantillon permanent",
            "Forfait: gedekt door de financiering van de Permanente Steekproef",
        ),
        RequestType::PopulationAggregate => (
            "Pre-analysis flat fee (due even if the request proves impossible)",
            "Forfait pré-analyse (dû même si la demande s'avère impossible)",
            "Forfait pre-analyse (verschuldigd ook als de aanvraag onmogelijk blijkt)",
        ),
        RequestType::CodedData | RequestType::AgencyStudy => (
            "Flat fee (minimum): warehouse upkeep, start-up, data preparation, TTP coding, 2 years / 20 GB",
            "Forfait (minimum) : entretien du DWH, démarrage, préparation, codage TTP, 2 ans / 20 Go",
            "Forfait (minimum): onderhoud DWH, opstart, voorbereiding, TTP-codering, 2 jaar / 20 GB",
        ),
    };
    line(
        LineKind::Flat,
        en.into(),
        fr.into(),
        nl.into(),
        Quantity::whole(1),
        Some(Cents(fee.cents)),
    )
}

/// The quote of a project sheet.
pub fn quote(
    prices: &PriceList,
    index: &HealthIndex,
    sheet: &ProjectSheet,
    req: &QuoteRequest,
) -> Result<Quote, QuoteError> {
    let t = sheet.request_type;
    let dr = &prices.day_rates;
    let rates = index.rates(
        dr.basis_year,
        Cents(dr.analyst),
        Cents(dr.expert),
        req.date.year(),
    )?;
    let na = |what, why| QuoteError::NotApplicable {
        what,
        request_type: t,
        why,
    };
    let access_applies = matches!(t, RequestType::CodedData | RequestType::AgencyStudy);
    if !access_applies && (req.months_access.is_some() || req.storage_gb.is_some()) {
        return Err(na(
            "storage and access time",
            "an anonymous result file is delivered, no data stay available",
        ));
    }
    if t != RequestType::CodedData && req.months_vpn.is_some_and(|m| m > 0) {
        return Err(na(
            "VPN access",
            "only researchers with coded individual data reach the secure environment",
        ));
    }

    let mut lines = vec![flat_line(prices, t)];
    let year = rates.year;
    if !req.days_analyst.is_zero() {
        lines.push(line(
            LineKind::AnalystDays,
            format!("Analyst days (rate {year})"),
            format!("Jours analyste (tarif {year})"),
            format!("Dagen analist (tarief {year})"),
            req.days_analyst,
            Some(rates.analyst),
        ));
    }
    if !req.days_expert.is_zero() {
        lines.push(line(
            LineKind::ExpertDays,
            format!("Expert days (rate {year})"),
            format!("Jours expert (tarif {year})"),
            format!("Dagen expert (tarief {year})"),
            req.days_expert,
            Some(rates.expert),
        ));
    }
    let inc = &prices.included_access;
    let months = req.months_access.unwrap_or(inc.months);
    if t == RequestType::CodedData {
        let vpn = req.months_vpn.unwrap_or(months);
        if vpn > 0 {
            lines.push(line(
                LineKind::Vpn,
                "VPN box (real cost), months".into(),
                "Boîtier VPN (coût réel), mois".into(),
                "VPN-box (werkelijke kost), maanden".into(),
                Quantity::whole(vpn),
                Some(Cents(prices.vpn.month)),
            ));
        }
    }
    if access_applies && months > inc.months {
        lines.push(line(
            LineKind::ExtraMonths,
            format!("Access beyond {} months, months", inc.months),
            format!("Mise à disposition au-delà de {} mois, mois", inc.months),
            format!("Terbeschikkingstelling na {} maanden, maanden", inc.months),
            Quantity::whole(months - inc.months),
            inc.extra_month.map(Cents),
        ));
    }
    let gb = req.storage_gb.unwrap_or(inc.gigabytes);
    if access_applies && gb > inc.gigabytes {
        lines.push(line(
            LineKind::ExtraStorage,
            format!("Storage beyond {} GB, GB", inc.gigabytes),
            format!("Volume au-delà de {} Go, Go", inc.gigabytes),
            format!("Volume boven {} GB, GB", inc.gigabytes),
            Quantity::whole(gb - inc.gigabytes),
            inc.extra_gigabyte.map(Cents),
        ));
    }
    let total = lines.iter().filter_map(|l| l.amount).sum();
    Ok(Quote {
        title: sheet.title.clone(),
        organisation: sheet.organisation.clone(),
        request_type: t,
        date: req.date,
        incomplete: lines.iter().any(|l| l.amount.is_none()),
        flat_is_minimum: prices.flat_fee(t).minimum,
        lines,
        total,
        rates,
        vat: prices.vat.clone(),
    })
}

/// The invoice lines of a project: once delivered (or closed), the quote's rules applied to
/// what was done (`done`: days worked, months of VPN and access, gigabytes); when a population
/// request was declared impossible, the pre-analysis flat fee alone (seed 003 §2.2.2).
pub fn invoice(
    prices: &PriceList,
    index: &HealthIndex,
    project: &Project,
    done: &QuoteRequest,
) -> Result<Quote, QuoteError> {
    let t = project.request_type();
    match project.state() {
        State::Delivered | State::Closed => quote(prices, index, project.sheet(), done),
        State::Impossible if prices.flat_fee(t).due_when_impossible => {
            let flat_only = QuoteRequest::new(done.date);
            let mut q = quote(prices, index, project.sheet(), &flat_only)?;
            q.lines.retain(|l| l.kind == LineKind::Flat);
            q.total = q.lines.iter().filter_map(|l| l.amount).sum();
            Ok(q)
        }
        state => Err(QuoteError::NotInvoiceable {
            project: project.id().to_string(),
            state,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Attempt, Project};
    use crate::sheet::tests::SHEET;
    use crate::workflow::Workflow;
    use chrono::{TimeZone, Utc};

    fn sheet(kind: &str) -> ProjectSheet {
        let text = SHEET
            .replace("type = \"coded-data\"", &format!("type = \"{kind}\""))
            .replace("linked_sources = [\"Cancer registry\"]", "");
        ProjectSheet::from_toml(&text).unwrap()
    }

    fn req(date: &str, analyst: &str, expert: &str) -> QuoteRequest {
        QuoteRequest {
            days_analyst: analyst.parse().unwrap(),
            days_expert: expert.parse().unwrap(),
            ..QuoteRequest::new(date.parse().unwrap())
        }
    }

    fn amounts(q: &Quote) -> Vec<(LineKind, Option<i64>)> {
        q.lines
            .iter()
            .map(|l| (l.kind, l.amount.map(|c| c.0)))
            .collect()
    }

    fn q(kind: &str, r: &QuoteRequest) -> Quote {
        quote(
            &PriceList::builtin(),
            &HealthIndex::builtin(),
            &sheet(kind),
            r,
        )
        .unwrap()
    }

    #[test]
    fn sample_aggregates_pay_the_days_only() {
        // Seed 003 §2.2.1: only the days worked; mostly no more than 2. 2018: 2 × € 597.
        let quote = q("sample-aggregate", &req("2018-06-01", "2", "0"));
        assert_eq!(
            amounts(&quote),
            [
                (LineKind::Flat, Some(0)),
                (LineKind::AnalystDays, Some(119_400))
            ]
        );
        assert_eq!(quote.total, Cents(119_400));
        assert!(!quote.incomplete && !quote.flat_is_minimum);
    }

    #[test]
    fn population_aggregates_pay_the_pre_analysis_fee_plus_days() {
        // Seed 003 §2.2.2: € 1 000 + days (1 to 5 on average). 2018: 1 000 + 3 × 597 + 1 × 1 062.
        let quote = q("population-aggregate", &req("2018-03-15", "3", "1"));
        assert_eq!(
            amounts(&quote),
            [
                (LineKind::Flat, Some(100_000)),
                (LineKind::AnalystDays, Some(179_100)),
                (LineKind::ExpertDays, Some(106_200))
            ]
        );
        assert_eq!(quote.total, Cents(385_300));
    }

    #[test]
    fn coded_data_pay_at_least_the_flat_fee_plus_days_and_the_vpn() {
        // Seed 003 §2.3, §4: at least € 7 000 + days + VPN € 35 a month (24 months by default).
        let quote = q("coded-data", &req("2018-01-10", "0", "5"));
        assert_eq!(
            amounts(&quote),
            [
                (LineKind::Flat, Some(700_000)),
                (LineKind::ExpertDays, Some(531_000)),
                (LineKind::Vpn, Some(84_000))
            ]
        );
        assert_eq!(quote.total, Cents(1_315_000));
        assert!(quote.flat_is_minimum);
    }

    #[test]
    fn day_rates_are_those_of_the_quotes_year() {
        // 2019: analyst € 609.94 (597 × 108.45 / 106.15); 1.5 days = € 914.91.
        let quote = q("sample-aggregate", &req("2019-11-30", "1.5", "0"));
        assert_eq!(quote.lines[1].unit_price, Some(Cents(60_994)));
        assert_eq!(quote.total, Cents(91_491));
        assert_eq!(quote.rates.year, 2019);
    }

    #[test]
    fn access_beyond_two_years_or_20_gb_is_a_line_the_agency_prices() {
        let mut r = req("2018-01-10", "0", "0");
        r.months_access = Some(36);
        r.storage_gb = Some(50);
        r.months_vpn = Some(36);
        let quote = q("coded-data", &r);
        let extra: Vec<_> = quote
            .lines
            .iter()
            .filter(|l| l.amount.is_none())
            .map(|l| (l.kind, l.quantity))
            .collect();
        assert_eq!(
            extra,
            [
                (LineKind::ExtraMonths, Quantity::whole(12)),
                (LineKind::ExtraStorage, Quantity::whole(30))
            ]
        );
        assert!(quote.incomplete);
        assert_eq!(quote.total, Cents(700_000 + 36 * 3_500));
        // With prices set by the agency, the lines are priced.
        let text = crate::prices::PRICES_TOML.replace(
            "gigabytes = 20\n",
            "gigabytes = 20\nextra_month = 10000\nextra_gigabyte = 500\n",
        );
        let prices = PriceList::from_toml(&text).unwrap();
        let quote = quote_with(&prices, "coded-data", &r);
        assert!(!quote.incomplete);
        assert_eq!(
            quote.total,
            Cents(700_000 + 36 * 3_500 + 12 * 10_000 + 30 * 500)
        );
    }

    fn quote_with(prices: &PriceList, kind: &str, r: &QuoteRequest) -> Quote {
        quote(prices, &HealthIndex::builtin(), &sheet(kind), r).unwrap()
    }

    #[test]
    fn vpn_and_storage_only_where_the_seed_has_them() {
        let mut r = req("2018-01-10", "1", "0");
        r.months_vpn = Some(12);
        let prices = PriceList::builtin();
        let hi = HealthIndex::builtin();
        for kind in ["sample-aggregate", "population-aggregate", "agency-study"] {
            let e = quote(&prices, &hi, &sheet(kind), &r).unwrap_err();
            assert!(
                e.to_string().starts_with("VPN access does not apply"),
                "{kind}: {e}"
            );
        }
        let mut r = req("2018-01-10", "1", "0");
        r.storage_gb = Some(30);
        let e = quote(&prices, &hi, &sheet("population-aggregate"), &r).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("storage and access time does not apply"),
            "{e}"
        );
        assert!(
            quote(&prices, &hi, &sheet("agency-study"), &r)
                .unwrap()
                .incomplete
        );
    }

    #[test]
    fn invoices_follow_delivery_and_the_impossible_pre_analysis_fee() {
        let wf = Workflow::builtin();
        let at =
            |d: i64| Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap() + chrono::Duration::days(d);
        let mut p = Project::new("P-7", sheet("population-aggregate"), "r", at(0)).unwrap();
        let done = req("2026-03-01", "4", "0");
        let (prices, hi) = (PriceList::builtin(), HealthIndex::builtin());
        assert!(matches!(
            invoice(&prices, &hi, &p, &done),
            Err(QuoteError::NotInvoiceable { .. })
        ));
        p.add_document(&wf, "project_sheet", "s", "r", at(0))
            .unwrap();
        p.add_document(&wf, "cost_agreement", "m", "r", at(0))
            .unwrap();
        wf.apply(&mut p, Attempt::new("submit", "r", at(1)))
            .unwrap();
        wf.apply(&mut p, Attempt::new("accept", "pm", at(2)))
            .unwrap();
        wf.apply(
            &mut p,
            Attempt::new("declare-impossible", "analyst", at(20)),
        )
        .unwrap();
        let inv = invoice(&prices, &hi, &p, &done).unwrap();
        assert_eq!(amounts(&inv), [(LineKind::Flat, Some(100_000))]);
        assert_eq!(inv.total, Cents(100_000));

        let mut p = Project::new("P-8", sheet("sample-aggregate"), "r", at(0)).unwrap();
        for doc in ["project_sheet", "ctep_opinion", "cost_agreement"] {
            p.add_document(&wf, doc, "ref", "agent", at(0)).unwrap();
        }
        for (day, action) in [(1, "submit"), (2, "accept"), (5, "approve"), (6, "sign")] {
            wf.apply(&mut p, Attempt::new(action, "agent", at(day)))
                .unwrap();
        }
        assert!(matches!(
            invoice(&prices, &hi, &p, &done),
            Err(QuoteError::NotInvoiceable { .. })
        ));
        wf.apply(&mut p, Attempt::new("deliver", "agent", at(30)))
            .unwrap();
        let inv = invoice(&prices, &hi, &p, &done).unwrap();
        let rates = hi.rates(2018, Cents(59_700), Cents(106_200), 2026).unwrap();
        assert_eq!(inv.total, Quantity::whole(4).times(rates.analyst));
        assert_eq!(rates.steps.len(), 8);
    }
}
