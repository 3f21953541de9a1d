//! Throughput measurement (ignored by default): `cargo test --release -p aim-synth --
//! --ignored --nocapture`. Set AIM_SYNTH_PERSONS to change the size (default 100,000 × 2 years).

mod common;

#[test]
#[ignore]
fn throughput() {
    let persons: u64 = std::env::var("AIM_SYNTH_PERSONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let out = common::tmp("throughput");
    let s = common::run(&common::config(persons, 2023..=2024, 1, out.clone(), false));
    let secs = s.elapsed.as_secs_f64();
    println!(
        "{persons} persons x 2 years: {} rows in {secs:.1} s = {:.0} rows/s ({} person-years)",
        s.rows,
        s.rows as f64 / secs,
        s.person_years
    );
    std::fs::remove_dir_all(out).unwrap();
}
