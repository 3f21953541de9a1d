//! The gate with a ledger: the time to release a ~50,000-cell table (persons by municipality
//! with district, province, region and Belgium × age group × sex × preferential
//! reimbursement, every margin) with an empty ledger and with a ledger of earlier releases
//! (mixed requests over the same persons, some of them Atlas tables), on a synthetic
//! population spread over the municipalities in proportion to their real population.
//!
//! The earlier releases are random requests: a population (everyone, an age range, a province,
//! the persons with a condition) by one to three of geography (at some level), age (in one of
//! three bandings), sex, preferential reimbursement and a condition; every 25th is an Atlas
//! table (municipality × sex × a condition's outcome, checked by nested pairs). By default each
//! is suppressed on its own (the ledger of a platform that did not yet audit releases against
//! each other); with `--through-gate` each is settled against every release before it, as the
//! platform does (the Atlas's tables on their own), and a refused one stays out of the ledger.
//! Prints the figures as JSON.
//!
//! `cargo run --profile fast -p aim-disclosure --features internals --example ledger_bench -- [--persons N] [--releases R] [--through-gate]`

use aim_disclosure::internals::{EarlierTable, Status, Table, settle_against, suppress};
use aim_disclosure::{Dimension, Policy};
use std::time::Instant;

#[path = "common/population.rs"]
mod population;
use population::{Rng, age};

/// Conditions with their prevalence (a flag per person, like PATI's pseudo-pathologies).
const CONDITIONS: [f64; 10] = [0.02, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30];

struct Person {
    key: String,
    geo: [String; 4],
    age: u32,
    sex: &'static str,
    bim: bool,
    conditions: [bool; CONDITIONS.len()],
}

/// An age band: 8 groups, 10-year bands or 20-year bands.
fn band(banding: usize, age: u32) -> String {
    match banding {
        0 => {
            let bounds = [15, 25, 35, 45, 55, 65, 75];
            let i = bounds.iter().position(|&b| age < b).unwrap_or(bounds.len());
            format!("g{i}")
        }
        1 => format!("{}0s", (age / 10).min(9)),
        _ => format!("{}-{}", age / 20 * 20, age / 20 * 20 + 19),
    }
}

/// One of a request's dimensions.
#[derive(Clone, Copy)]
enum Dim {
    /// Geography down to level 1..=4 (region .. municipality).
    Geo(usize),
    Age(usize),
    Sex,
    Bim,
    Condition(usize),
}

fn dimension(d: Dim) -> Dimension {
    match d {
        Dim::Geo(depth) => {
            let levels = ["region", "province", "district", "municipality"];
            Dimension::new("geography", &levels[..depth], "BE")
        }
        Dim::Age(_) => Dimension::new("age", &["band"], "all"),
        Dim::Sex => Dimension::new("sex", &["sex"], "all"),
        Dim::Bim => Dimension::new("bim", &["bim"], "all"),
        Dim::Condition(_) => Dimension::new("condition", &["outcome"], "all"),
    }
}

fn path(d: Dim, p: &Person) -> Vec<String> {
    match d {
        Dim::Geo(depth) => p.geo[..depth].to_vec(),
        Dim::Age(b) => vec![band(b, p.age)],
        Dim::Sex => vec![p.sex.to_string()],
        Dim::Bim => vec![if p.bim { "yes" } else { "no" }.to_string()],
        Dim::Condition(c) => vec![if p.conditions[c] { "yes" } else { "no" }.to_string()],
    }
}

fn table(persons: &[&Person], dims: &[Dim]) -> Table {
    let rows: Vec<(String, Vec<Vec<String>>)> = persons
        .iter()
        .map(|p| (p.key.clone(), dims.iter().map(|&d| path(d, p)).collect()))
        .collect();
    Table::from_units(
        dims.iter().map(|&d| dimension(d)).collect(),
        vec![],
        rows.iter().map(|(k, paths)| {
            (
                k.clone(),
                paths
                    .iter()
                    .map(|p| p.iter().map(String::as_str).collect())
                    .collect(),
                vec![],
            )
        }),
    )
    .expect("a valid table")
}

fn main() {
    let mut persons: usize = 100_000;
    let mut releases: usize = 1_000;
    let mut through_gate = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--persons" => persons = value(),
            "--releases" => releases = value(),
            "--through-gate" => through_gate = true,
            other => panic!("unknown argument {other}"),
        }
    }
    let geo = aim_model::geography::Geography::load(&aim_model::geography::default_reference_dir())
        .expect("reference data (../shared/data)");
    let munis = &geo.municipalities_2025;
    let total_pop: u64 = munis.iter().map(|m| m.population_2020).sum();
    let mut rng = Rng(7);
    let mut people: Vec<Person> = Vec::with_capacity(persons);
    for m in munis {
        let n = (m.population_2020 as f64 / total_pop as f64 * persons as f64).round() as usize;
        for _ in 0..n {
            let mut conditions = [false; CONDITIONS.len()];
            for (c, p) in conditions.iter_mut().zip(CONDITIONS) {
                *c = rng.unit() < p;
            }
            people.push(Person {
                key: format!("p{}", people.len()),
                geo: [
                    m.region.clone(),
                    m.province.clone(),
                    m.district.clone(),
                    m.nis.clone(),
                ],
                age: age(&mut rng),
                sex: if rng.next() & 1 == 0 { "F" } else { "M" },
                bim: rng.unit() < 0.2,
                conditions,
            });
        }
    }
    let provinces: Vec<String> = {
        let mut p: Vec<String> = people.iter().map(|p| p.geo[1].clone()).collect();
        p.sort();
        p.dedup();
        p
    };
    let policy = Policy::POPULATION;

    // The earlier releases.
    let started = Instant::now();
    let mut earlier: Vec<EarlierTable> = Vec::with_capacity(releases);
    let mut earlier_cells = 0usize;
    // Through the gate: the time of each release, and the releases refused.
    let mut gate_seconds: Vec<f64> = Vec::new();
    let mut refused: Vec<(usize, f64, String)> = Vec::new();
    for r in 0..releases {
        let atlas = r % 25 == 24;
        let (population, dims): (Vec<&Person>, Vec<Dim>) = if atlas {
            let c = rng.below(CONDITIONS.len());
            (
                people.iter().collect(),
                vec![Dim::Geo(4), Dim::Sex, Dim::Condition(c)],
            )
        } else {
            let population: Vec<&Person> = match rng.below(4) {
                0 => people.iter().collect(),
                1 => {
                    let lo = rng.below(90) as u32;
                    let hi = lo + 5 + rng.below(40) as u32;
                    people
                        .iter()
                        .filter(|p| (lo..=hi).contains(&p.age))
                        .collect()
                }
                2 => {
                    let prov = &provinces[rng.below(provinces.len())];
                    people.iter().filter(|p| &p.geo[1] == prov).collect()
                }
                _ => {
                    let c = rng.below(CONDITIONS.len());
                    people.iter().filter(|p| p.conditions[c]).collect()
                }
            };
            let mut pool = vec![
                Dim::Geo(1 + rng.below(4)),
                Dim::Age(rng.below(3)),
                Dim::Sex,
                Dim::Bim,
                Dim::Condition(rng.below(CONDITIONS.len())),
            ];
            let mut dims = Vec::new();
            for _ in 0..1 + rng.below(3) {
                dims.push(pool.remove(rng.below(pool.len())));
            }
            (population, dims)
        };
        if population.is_empty() {
            continue;
        }
        let t = table(&population, &dims);
        let status = if !through_gate {
            suppress(&t, &policy).expect("a pattern").status
        } else {
            // As the platform releases them: each against every release before it (the
            // Atlas's tables on their own, as `Gate::publish` does).
            let clock = Instant::now();
            let settled = settle_against(&t, policy, if atlas { &[] } else { &earlier });
            let seconds = clock.elapsed().as_secs_f64();
            gate_seconds.push(seconds);
            match settled {
                Ok((pattern, _)) => pattern.status,
                Err(e) => {
                    refused.push((r, seconds, e.to_string()));
                    continue;
                }
            }
        };
        if through_gate && (r + 1) % 50 == 0 {
            let last: &[f64] = &gate_seconds[gate_seconds.len().saturating_sub(50)..];
            eprintln!(
                "{} releases tried, {} in the ledger, {} refused; the last 50 took {:.1} s on average, the slowest {:.1} s ({:.0} s in all)",
                r + 1,
                earlier.len() + 1,
                refused.len(),
                last.iter().sum::<f64>() / last.len() as f64,
                last.iter().cloned().fold(0.0, f64::max),
                started.elapsed().as_secs_f64()
            );
        }
        earlier_cells += t.cells.len();
        earlier.push(EarlierTable {
            id: format!("r{r}"),
            table: t,
            status,
            policy,
            atlas,
        });
    }
    let ledger_built = started.elapsed().as_secs_f64();
    eprintln!(
        "{} earlier releases, {earlier_cells} cells, built in {ledger_built:.1} s",
        earlier.len()
    );

    // The new release.
    let everyone: Vec<&Person> = people.iter().collect();
    let new = table(&everyone, &[Dim::Geo(4), Dim::Age(0), Dim::Sex, Dim::Bim]);
    let hidden = |status: &[Status]| status.iter().filter(|s| **s != Status::Released).count();

    let started = Instant::now();
    let (alone, _) = settle_against(&new, policy, &[]).expect("released");
    let empty_ledger = started.elapsed().as_secs_f64();
    eprintln!("empty ledger: {empty_ledger:.1} s");

    let started = Instant::now();
    let result = settle_against(&new, policy, &earlier);
    let with_ledger = started.elapsed().as_secs_f64();
    let summary = match &result {
        Ok((pattern, differencing)) => serde_json::json!({
            "persons": people.len(),
            "earlier_releases": earlier.len(),
            "earlier_atlas_tables": earlier.iter().filter(|e| e.atlas).count(),
            "earlier_cells": earlier_cells,
            "cells": new.cells.len(),
            "hidden_with_empty_ledger": hidden(&alone.status),
            "hidden_with_ledger": hidden(&pattern.status),
            "cells_hidden_for_earlier_releases": differencing,
            "audit_passed": pattern.passed(),
            "seconds_building_ledger": ledger_built,
            "ledger_through_gate": through_gate,
            "earlier_refused": refused.len(),
            "earlier_first_refused": refused.first().map(|r| r.0),
            "earlier_gate_seconds_max": gate_seconds.iter().cloned().fold(0.0, f64::max),
            "seconds_empty_ledger": empty_ledger,
            "seconds_with_ledger": with_ledger,
            "ratio": with_ledger / empty_ledger,
        }),
        Err(e) => serde_json::json!({
            "persons": people.len(),
            "earlier_releases": earlier.len(),
            "cells": new.cells.len(),
            "seconds_empty_ledger": empty_ledger,
            "refused_after_seconds": with_ledger,
            "ledger_through_gate": through_gate,
            "earlier_refused": refused.len(),
            "error": e.to_string(),
        }),
    };
    println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
}
