//! The tests' Atlas: a small hand-built Atlas with masked figures, on the real map layers
//! (shared by the router tests and the hostile-request tests).
#![allow(dead_code)] // each test binary uses part of it

use aim_atlas::compute::{Comparison, GateSummary, Manifest};
use aim_atlas::{Atlas, Figure};
use aim_maps::Maps;
use aim_model::geography::{Geography, default_reference_dir};
use aim_web::{AppState, router};
use axum::Router;
use std::sync::OnceLock;

pub const YEARS: [i32; 2] = [2023, 2024];
/// The numbers every masked figure of the fixture carries in its (broken) file: the server
/// must drop them. No released figure has a value in 60–99.
pub const SECRET_CRUDE: f64 = 77.7777;
pub const SECRET_STD: f64 = 66.6666;
pub const SECRET_PERSONS: i64 = 3;

pub struct Fixture {
    pub geography: Geography,
    pub maps: Maps,
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = default_reference_dir();
        let geography = Geography::load(&dir).expect("reference data");
        let maps = Maps::load(&dir, &geography).expect("maps");
        Fixture { geography, maps }
    })
}

pub fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Masked: one municipality in seven (by code), every figure of 21004 (Brussels) in 2023,
/// and 11002 (Antwerp) in every year.
pub fn is_masked(level: &str, area: &str, year: i32) -> bool {
    level == "municipality"
        && (hash(area).is_multiple_of(7) || (area == "21004" && year == 2023) || area == "11002")
}

pub fn figure(ind: &str, year: i32, level: &str, area: &str, sex: &str, age: &str) -> Figure {
    let released = !is_masked(level, area, year);
    if !released {
        // A broken file: numbers on a masked figure. The server must never show them.
        return Figure {
            indicator: ind.into(),
            year,
            level: level.into(),
            area: area.into(),
            sex: sex.into(),
            age_group: age.into(),
            released: false,
            persons: Some(SECRET_PERSONS),
            numerator: Some(2.0),
            crude: Some(SECRET_CRUDE),
            crude_low: Some(SECRET_CRUDE - 1.0),
            crude_high: Some(SECRET_CRUDE + 1.0),
            standardised: Some(SECRET_STD),
            standardised_low: Some(SECRET_STD - 1.0),
            standardised_high: Some(SECRET_STD + 1.0),
            vs_belgium: Some(Comparison::Higher),
        };
    }
    let h = hash(&format!("{ind}{year}{level}{area}{sex}{age}"));
    let v = if level == "belgium" {
        40.0
    } else {
        20.0 + (h % 4000) as f64 / 100.0
    };
    let persons = 100 + (h % 900) as i64;
    let std = (age == "all").then_some(v + 0.5);
    Figure {
        indicator: ind.into(),
        year,
        level: level.into(),
        area: area.into(),
        sex: sex.into(),
        age_group: age.into(),
        released: true,
        persons: Some(persons),
        numerator: Some((persons as f64 * v / 100.0).round()),
        crude: Some(v),
        crude_low: Some(v - 2.0),
        crude_high: Some(v + 2.0),
        standardised: std,
        standardised_low: std.map(|s| s - 2.5),
        standardised_high: std.map(|s| s + 2.5),
        vs_belgium: (level != "belgium").then_some(match h % 3 {
            0 => Comparison::Higher,
            1 => Comparison::Lower,
            _ => Comparison::Similar,
        }),
    }
}

pub const INDICATORS: [(&str, &[&str]); 3] = [
    ("flu-vaccination-65", &["all", "65-74", "75+"]),
    ("gp-contact", &["all", "0-17", "75+"]),
    ("out-of-pocket", &["all", "18-44"]),
];

pub fn atlas() -> Atlas {
    let f = fixture();
    let all = aim_atlas::indicator::embedded().expect("embedded indicators");
    let indicators: Vec<_> = INDICATORS
        .iter()
        .map(|(id, _)| all.iter().find(|i| i.id == *id).expect("indicator").clone())
        .collect();
    let mut figures = Vec::new();
    for (id, ages) in INDICATORS {
        for year in YEARS {
            for layer in &f.maps.layers {
                for area in &layer.areas {
                    for sex in ["all", "F", "M"] {
                        for age in ages {
                            figures.push(figure(
                                id,
                                year,
                                layer.level.as_str(),
                                &area.code,
                                sex,
                                age,
                            ));
                        }
                    }
                }
            }
        }
    }
    // One municipality has no figure at all (nobody counted there).
    figures.retain(|f| !(f.level == "municipality" && f.area == "63087"));
    // Through JSON, so that fields added later with a default need no change here.
    let manifest: Manifest = serde_json::from_value(serde_json::json!({
        "created": "2026-05-01T10:00:00+00:00",
        "pati_version": 42,
        "definitions_sha256": "ab".repeat(32),
        "indicators": indicators,
        "years": YEARS,
        "standard_population_year": {"2023": 2021, "2024": 2021},
        "persons_without_municipality": {"2023": 0, "2024": 0},
        "gate": [GateSummary {
            indicator: "gp-contact".into(),
            year: 2024,
            cells: 1000,
            primary: 10,
            secondary: 20,
            audit_passed: true,
        }],
        "policy": aim_disclosure::Policy::POPULATION,
        "age_detail": true,
    }))
    .expect("a manifest");
    Atlas { manifest, figures }
}

pub fn state() -> AppState {
    static S: OnceLock<AppState> = OnceLock::new();
    S.get_or_init(|| {
        let f = fixture();
        AppState::new(
            atlas(),
            f.maps.clone(),
            &f.geography,
            aim_web::PublicUrl::parse("http://atlas.test").expect("a URL"),
        )
    })
    .clone()
}

/// The router on the tests' Atlas, with the default limits.
pub fn app() -> Router {
    router(state())
}
