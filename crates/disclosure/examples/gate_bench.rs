//! The disclosure-gate benchmark table: persons by municipality (2025, with district, province,
//! region and Belgium), age group, sex and year, every margin included (~50,000 cells), built
//! from a synthetic population spread over the municipalities in proportion to their real
//! population. Runs suppression + audit, prints the figures as JSON and, with `--export FILE`,
//! writes the table, its equations and the pattern for the reference (bench/gate_reference.py).
//!
//! `cargo run --profile fast -p aim-disclosure --features internals --example gate_bench -- [--persons N] [--export FILE]`

use aim_disclosure::internals::{Status, Table, suppress};
use aim_disclosure::{Dimension, Policy};
use std::time::Instant;

#[path = "common/population.rs"]
mod population;
use population::{Rng, age};

const AGE_GROUPS: [(&str, u32); 8] = [
    ("00-14", 15),
    ("15-24", 10),
    ("25-34", 10),
    ("35-44", 10),
    ("45-54", 10),
    ("55-64", 10),
    ("65-74", 10),
    ("75+", 25),
];

fn group(age: u32) -> &'static str {
    let mut start = 0;
    for (name, width) in AGE_GROUPS {
        if age < start + width {
            return name;
        }
        start += width;
    }
    AGE_GROUPS[AGE_GROUPS.len() - 1].0
}

fn main() {
    let mut persons: u64 = 1_000_000;
    let mut export: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--persons" => persons = args.next().and_then(|v| v.parse().ok()).expect("a number"),
            "--export" => export = args.next(),
            other => panic!("unknown argument {other}"),
        }
    }
    let geo = aim_model::geography::Geography::load(&aim_model::geography::default_reference_dir())
        .expect("reference data (../shared/data)");
    let munis = &geo.municipalities_2025;
    let total_pop: u64 = munis.iter().map(|m| m.population_2020).sum();
    let mut rng = Rng(42);
    let started = Instant::now();
    let mut units: Vec<(String, [String; 4], &str, &str, &str)> = Vec::new();
    let mut id = 0u64;
    for m in munis {
        let n = (m.population_2020 as f64 / total_pop as f64 * persons as f64).round() as u64;
        for _ in 0..n {
            let a = age(&mut rng);
            let sex = if rng.next() & 1 == 0 { "F" } else { "M" };
            let geo_path = [
                m.region.clone(),
                m.province.clone(),
                m.district.clone(),
                m.nis.clone(),
            ];
            for (k, year) in ["2023", "2024"].into_iter().enumerate() {
                units.push((
                    format!("{id}-{year}"),
                    geo_path.clone(),
                    group(a + k as u32),
                    sex,
                    year,
                ));
            }
            id += 1;
        }
    }
    let table = Table::from_units(
        vec![
            Dimension::new(
                "geography",
                &["region", "province", "district", "municipality"],
                "BE",
            ),
            Dimension::new("age", &["age_group"], "all"),
            Dimension::new("sex", &["sex"], "all"),
            Dimension::new("year", &["year"], "2023-2024"),
        ],
        vec![],
        units.iter().map(|(k, g, a, s, y)| {
            (
                k.clone(),
                vec![
                    g.iter().map(String::as_str).collect(),
                    vec![*a],
                    vec![*s],
                    vec![*y],
                ],
                vec![],
            )
        }),
    )
    .expect("a valid table");
    let built = started.elapsed().as_secs_f64();
    let policy = Policy::POPULATION;
    let started = Instant::now();
    let pattern = suppress(&table, &policy).expect("a pattern");
    let gate = started.elapsed().as_secs_f64();
    let hidden_units: i64 = pattern
        .status
        .iter()
        .zip(&table.cells)
        .filter(|(s, _)| **s != Status::Released)
        .map(|(_, c)| c.units)
        .sum();
    let summary = serde_json::json!({
        "persons": id,
        "units": units.len(),
        "cells": table.cells.len(),
        "primary": pattern.count(Status::Primary),
        "secondary": pattern.count(Status::Secondary),
        "units_in_secondary_cells": pattern.status.iter().zip(&table.cells)
            .filter(|(s, _)| **s == Status::Secondary).map(|(_, c)| c.units).sum::<i64>(),
        "units_in_hidden_cells": hidden_units,
        "rounds": pattern.rounds,
        "audit_passed": pattern.passed(),
        "seconds_building_table": built,
        "seconds_suppression_and_audit": gate,
    });
    println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    if let Some(path) = export {
        let equations: Vec<Vec<usize>> = table
            .equations()
            .into_iter()
            .map(|e| std::iter::once(e.total).chain(e.parts).collect())
            .collect();
        let out = serde_json::json!({
            "min_units": policy.min_units,
            "values": table.cells.iter().map(|c| c.units).collect::<Vec<_>>(),
            "margin": (0..table.cells.len()).map(|c| table.is_margin(c)).collect::<Vec<_>>(),
            "equations": equations,
            "status": aim_disclosure::internals::encode_status(&pattern.status),
            "certificate": pattern.certificate.iter().map(|b| (b.cell, b.lower, if b.upper.is_finite() { Some(b.upper) } else { None })).collect::<Vec<_>>(),
            "summary": summary,
        });
        std::fs::write(&path, serde_json::to_string(&out).expect("json")).expect("writable");
        eprintln!("exported to {path}");
    }
}
