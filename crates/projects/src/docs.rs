//! Text generated from the data files: the tables of docs/projects.md (a test fails when the
//! document drifts) and what `aim project workflow` prints.

use crate::index::{HealthIndex, index_text};
use crate::kind::{Flag, RequestType};
use crate::money::Cents;
use crate::prices::PriceList;
use crate::workflow::{State, TotalRule, Workflow, flag_sets};
use std::collections::BTreeSet;
use std::fmt::Write;

fn flags_text(flags: &BTreeSet<Flag>) -> String {
    if flags.is_empty() {
        "no flag".to_string()
    } else {
        flags.iter().map(|f| f.id()).collect::<Vec<_>>().join(" + ")
    }
}

fn rule_text(r: TotalRule) -> &'static str {
    match r {
        TotalRule::About => "about",
        TotalRule::AtLeast => "at least",
        TotalRule::MoreThan => "more than",
    }
}

/// The generated part of docs/projects.md.
pub fn generated_markdown(wf: &Workflow, prices: &PriceList, index: &HealthIndex) -> String {
    let mut o = String::new();
    o.push_str("### Request types and their paths\n\n");
    o.push_str("| type | seed | path (no flag) | delivery | authorisation | seed's total |\n|---|---|---|---|---|---|\n");
    for t in RequestType::ALL {
        let d = wf.type_def(t);
        let path: Vec<&str> = std::iter::once("intake")
            .chain(
                wf.main_path(t, &BTreeSet::new())
                    .iter()
                    .map(|tr| tr.to.id()),
            )
            .collect();
        let _ = writeln!(
            o,
            "| `{t}` ({}) | {} | {} | {} | {} | {} {} days ({}) |",
            d.en,
            d.section,
            path.join(" → "),
            d.delivery,
            d.authorisation,
            rule_text(d.total_rule),
            d.total_days,
            d.total_source
        );
    }
    o.push_str("\n### States\n\n| state | English | français | Nederlands |\n|---|---|---|---|\n");
    for s in State::ALL {
        let d = wf.state(s);
        let _ = writeln!(
            o,
            "| `{s}`{} | {} | {} | {} |",
            if d.terminal { " (final)" } else { "" },
            d.en,
            d.fr,
            d.nl
        );
    }
    o.push_str("\n### Transitions\n\n| action | from → to | types | condition | guard | documents | source |\n|---|---|---|---|---|---|---|\n");
    for tr in wf.transitions() {
        let types: Vec<&str> = tr.types.iter().map(|t| t.id()).collect();
        let mut docs: Vec<String> = tr.documents.iter().map(|d| format!("`{d}`")).collect();
        for (f, more) in &tr.documents_if {
            for d in more {
                docs.push(format!("`{d}` (if {f})"));
            }
        }
        let _ = writeln!(
            o,
            "| `{}` | {} → {} | {} | {} | {} | {} | {} |",
            tr.action,
            tr.from,
            tr.to,
            types.join(", "),
            tr.condition_text().unwrap_or_default(),
            match tr.guard {
                Some(crate::workflow::Guard::Deadline) =>
                    format!("deadline ({} days)", wf.sample_committee.reply_days),
                Some(crate::workflow::Guard::DecisionNumber) => "decision number".into(),
                None => String::new(),
            },
            docs.join(", "),
            tr.source
        );
    }
    o.push_str("\n### Documents\n\n| document | English | français | Nederlands | source |\n|---|---|---|---|---|\n");
    for d in wf.documents() {
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {} |",
            d.id, d.en, d.fr, d.nl, d.source
        );
    }
    o.push_str("\n### Lead times (days expected in each state)\n\n| state |");
    for t in RequestType::ALL {
        let _ = write!(o, " `{t}` |");
    }
    o.push_str("\n|---|---|---|---|---|\n");
    for s in State::ALL.into_iter().filter(|s| !wf.state(*s).terminal) {
        let _ = write!(o, "| `{s}` |");
        for t in RequestType::ALL {
            match wf.lead_time(t, s) {
                Some(d) => {
                    let _ = write!(o, " {d} |");
                }
                None => o.push_str(" — |"),
            }
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "\nThe sample technical committee's reply time: {} days ({}).",
        wf.sample_committee.reply_days, wf.sample_committee.source
    );
    o.push_str("\n### Prices (seed 003 §4)\n\n| item | amount | source |\n|---|---|---|\n");
    let dr = &prices.day_rates;
    let _ = writeln!(
        o,
        "| analyst day ({}) | {} | {} |",
        dr.basis_year,
        Cents(dr.analyst),
        dr.source
    );
    let _ = writeln!(
        o,
        "| expert day ({}) | {} | {} |",
        dr.basis_year,
        Cents(dr.expert),
        dr.source
    );
    for t in RequestType::ALL {
        let f = prices.flat_fee(t);
        let mut what = format!("flat fee `{t}`");
        if f.minimum {
            what.push_str(" (minimum)");
        }
        if f.due_when_impossible {
            what.push_str(" (due even if impossible)");
        }
        let _ = writeln!(o, "| {what} | {} | {} |", Cents(f.cents), f.source);
    }
    let _ = writeln!(
        o,
        "| VPN box, a month | {} | {} |",
        Cents(prices.vpn.month),
        prices.vpn.source
    );
    let a = &prices.included_access;
    let price = |c: Option<i64>| {
        c.map_or(
            "set by the agency (no amount in the seed)".to_string(),
            |c| Cents(c).to_string(),
        )
    };
    let _ = writeln!(
        o,
        "| included in the flat fee | {} months, {} GB | {} |",
        a.months, a.gigabytes, a.source
    );
    let _ = writeln!(
        o,
        "| a month beyond | {} | seed 003 §4 |",
        price(a.extra_month)
    );
    let _ = writeln!(
        o,
        "| a GB beyond | {} | seed 003 §4 |",
        price(a.extra_gigabyte)
    );
    let _ = writeln!(o, "\nVAT: {}", prices.vat.en);
    let _ = writeln!(
        o,
        "\n### Health index (base {}, December values)\n\nSource: {}; written down {}.\n\n| month | index | checked against |\n|---|---|---|",
        index.base, index.source, index.retrieved
    );
    for (m, v) in index.months() {
        let _ = writeln!(
            o,
            "| {m} | {} | {} |",
            index_text(v),
            index.checked.get(&m).map(String::as_str).unwrap_or("—")
        );
    }
    o.push_str("\nDay rates by year (each from the year before, rounded to the cent):\n\n| year | analyst | expert |\n|---|---|---|\n");
    let last = index
        .months()
        .last()
        .map(|(m, _)| m.year + 1)
        .unwrap_or(dr.basis_year);
    for y in dr.basis_year..=last {
        if let Ok(r) = index.rates(dr.basis_year, Cents(dr.analyst), Cents(dr.expert), y) {
            let _ = writeln!(o, "| {y} | {} | {} |", r.analyst, r.expert);
        }
    }
    o
}

/// What `aim project workflow` prints: for each type (or one), each flag combination that
/// changes its path, the states with their lead times, the transitions open from each and
/// the documents they need.
pub fn workflow_text(wf: &Workflow, only: Option<RequestType>) -> String {
    let mut o = String::new();
    for t in RequestType::ALL
        .into_iter()
        .filter(|t| only.is_none_or(|o| o == *t))
    {
        let d = wf.type_def(t);
        let _ = writeln!(o, "{t}: {} ({}, seed 003 {})", d.en, d.fr, d.section);
        let _ = writeln!(
            o,
            "  delivery: {}\n  authorisation: {}\n  seed's total: {} {} days ({})",
            d.delivery,
            d.authorisation,
            rule_text(d.total_rule),
            d.total_days,
            d.total_source
        );
        // One listing per distinct set of reachable transitions.
        let mut seen: Vec<Vec<usize>> = Vec::new();
        for flags in flag_sets() {
            let used: Vec<usize> = wf
                .transitions()
                .iter()
                .enumerate()
                .filter(|(_, tr)| {
                    tr.applies(t, &flags) && wf.reachable(t, &flags).contains(&tr.from)
                })
                .map(|(i, _)| i)
                .collect();
            let docs_key: Vec<usize> = used
                .iter()
                .map(|i| wf.transitions()[*i].required_documents(&flags).len())
                .collect();
            let key: Vec<usize> = used.iter().copied().chain(docs_key).collect();
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let _ = writeln!(o, "\n  with {}:", flags_text(&flags));
            let reach = wf.reachable(t, &flags);
            for s in State::ALL.into_iter().filter(|s| reach.contains(s)) {
                let def = wf.state(s);
                match wf.lead_time(t, s) {
                    Some(days) => {
                        let _ = writeln!(o, "    {s} — {} (expected {days} days)", def.en);
                    }
                    None => {
                        let _ = writeln!(o, "    {s} — {} (final)", def.en);
                    }
                }
                for tr in wf.transitions_from(t, &flags, s) {
                    let docs = tr.required_documents(&flags);
                    let guard = match tr.guard {
                        Some(crate::workflow::Guard::Deadline) => format!(
                            "; after the committee's {} days of silence",
                            wf.sample_committee.reply_days
                        ),
                        Some(crate::workflow::Guard::DecisionNumber) => {
                            "; with the committee's decision number".to_string()
                        }
                        None => String::new(),
                    };
                    let _ = writeln!(
                        o,
                        "      {} → {}{}{}",
                        tr.action,
                        tr.to,
                        if docs.is_empty() {
                            String::new()
                        } else {
                            format!("; documents: {}", docs.join(", "))
                        },
                        guard
                    );
                }
            }
        }
        o.push('\n');
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- BEGIN generated from crates/projects/data (AIM_BLESS=1 cargo test -p aim-projects) -->\n";
    const END: &str = "<!-- END generated -->";

    #[test]
    fn docs_projects_md_agrees_with_the_data_files() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/projects.md");
        let text = std::fs::read_to_string(&path).expect("docs/projects.md exists");
        let (head, rest) = text
            .split_once(BEGIN)
            .expect("docs/projects.md has the BEGIN marker");
        let (body, tail) = rest
            .split_once(END)
            .expect("docs/projects.md has the END marker");
        let expected = generated_markdown(
            &Workflow::builtin(),
            &PriceList::builtin(),
            &HealthIndex::builtin(),
        );
        if body != expected {
            if std::env::var_os("AIM_BLESS").is_some() {
                std::fs::write(&path, format!("{head}{BEGIN}{expected}{END}{tail}")).unwrap();
            } else {
                panic!(
                    "docs/projects.md is out of date with crates/projects/data: run `AIM_BLESS=1 cargo test -p aim-projects` to regenerate its tables"
                );
            }
        }
    }

    #[test]
    fn the_workflow_listing_shows_documents_guards_and_lead_times() {
        let text = workflow_text(&Workflow::builtin(), Some(RequestType::SampleAggregate));
        assert!(text.contains("approve-by-silence → contract; documents: ctep_privacy_opinion; after the committee's 14 days of silence"), "{text}");
        assert!(text.contains("sample_committee — Technical committee of the permanent sample (CTEP/TCPS) (expected 14 days)"), "{text}");
        assert!(!text.contains("coded-data"));
        let text = workflow_text(&Workflow::builtin(), Some(RequestType::AgencyStudy));
        assert!(text.contains("with linkage:") && text.contains("authorise → contract; documents: privacy_decision; with the committee's decision number"), "{text}");
    }
}
