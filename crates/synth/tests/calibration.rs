//! Calibration: a 40,000-person year measured against the published figures, each within
//! the tolerance documented in docs/synthetic-data.md.

mod common;

#[test]
fn a_year_matches_the_published_figures() {
    let out = common::tmp("calibration");
    let cfg = common::config(40_000, 2024..=2024, 20240601, out.clone(), false);
    common::run(&cfg);
    let a = common::analyse(&out, 2024);
    let ms = a.measures();
    let table = common::table(&ms);
    println!("{table}");
    let n = a.persons.len() as f64;
    for (code, (lines, reimb)) in &a.by_code {
        println!(
            "{code}: {:.3} lines/person, {:.1} EUR/person",
            *lines as f64 / n,
            reimb / n
        );
    }
    let failed: Vec<_> = ms.iter().filter(|m| !m.ok()).map(|m| m.name).collect();
    std::fs::remove_dir_all(&out).unwrap();
    assert!(failed.is_empty(), "out of tolerance: {failed:?}\n{table}");
}
