//! The gate's public surface: one door. Every module is private; what the crate exports is the
//! door (`Gate` and what it takes and gives), the request format and the policy. Nothing that
//! suppresses, audits, writes or reads the ledger is reachable from outside, and no crate of
//! the platform turns on the `internals` feature (the gate's own benchmark only).

use std::path::Path;

const EXPORTED: &[&str] = &[
    "pub use contributor::ContributorRule;",
    "pub use gate::{Gate, Options, Outcome, Published};",
    "pub use ledger::ATLAS as ATLAS_REQUESTER;",
    "pub use release::{SMALL_CELL, Source};",
    "pub use request::{DimensionSpec, MeasureSpec, ProviderSpec, Statistic, TableRequest, Unit};",
    "pub use suppress::Policy;",
    "pub use table::{Cell, Dimension, Node};",
];

#[test]
fn the_crate_exports_the_door_and_nothing_that_skips_it() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let lines: Vec<&str> = lib.lines().map(str::trim).collect();
    // Every module private, but the benchmark's, behind its feature.
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("pub mod ") {
            assert_eq!(*l, "pub mod internals {", "a public module: {l}");
            assert_eq!(
                lines[i - 1],
                "#[cfg(feature = \"internals\")]",
                "pub mod internals must sit behind its feature"
            );
        }
        if l.starts_with("pub(crate) mod") || l.starts_with("pub(super) mod") {
            panic!("modules are private: {l}");
        }
    }
    let exported: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("pub use ") && !l.starts_with("pub use crate::"))
        .collect();
    assert_eq!(
        exported, EXPORTED,
        "the public surface changed: review it with the gate's rules"
    );
    // Outside `internals`, no public function: everything else is reached through `Gate`.
    let outside: String = lib.split("pub mod internals {").next().unwrap().to_string();
    assert!(
        !outside.contains("pub fn "),
        "a public function outside the door"
    );
}

#[test]
fn no_crate_of_the_platform_turns_on_the_internals() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(crates).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if dir.ends_with("disclosure") || !manifest.exists() {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(&manifest).unwrap();
        for line in text.lines().filter(|l| l.contains("aim-disclosure")) {
            assert!(
                !line.contains("internals"),
                "{} turns on the gate's internals: {line}",
                manifest.display()
            );
        }
    }
    assert!(checked >= 5, "the platform's crates were not found");
    let root = std::fs::read_to_string(crates.parent().unwrap().join("Cargo.toml")).unwrap();
    for line in root.lines().filter(|l| l.contains("aim-disclosure")) {
        assert!(
            !line.contains("internals"),
            "the workspace turns on the internals: {line}"
        );
    }
}
