//! Same seed, same bytes; another seed, other bytes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    let (a, b, c) = (
        common::tmp("det-a"),
        common::tmp("det-b"),
        common::tmp("det-c"),
    );
    let sa = common::run(&common::config(1_500, 2024..=2025, 7, a.clone(), true));
    common::run(&common::config(1_500, 2024..=2025, 7, b.clone(), true));
    common::run(&common::config(1_500, 2024..=2025, 8, c.clone(), true));
    let (xa, xb, xc) = (snapshot(&a), snapshot(&b), snapshot(&c));
    assert_eq!(xa.keys().collect::<Vec<_>>(), xb.keys().collect::<Vec<_>>());
    for (k, v) in &xa {
        assert!(
            v == &xb[k],
            "{k} differs between two runs with the same seed"
        );
    }
    assert!(
        xa.contains_key("truth/stays.csv")
            && xa.contains_key("truth/persons.csv")
            && xa.contains_key("defects.json")
    );
    assert_eq!(sa.deliveries.len(), 2 * 7 * 9 * 4);
    let differing = xa.iter().filter(|(k, v)| xc.get(*k) != Some(v)).count();
    assert!(
        differing > xa.len() / 2,
        "another seed changes the data ({differing} of {} files differ)",
        xa.len()
    );
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn the_2025_deliveries_use_the_2025_municipalities() {
    let out = common::tmp("mergers");
    common::run(&common::config(3_000, 2024..=2025, 11, out.clone(), false));
    let geo = aim_model::geography::Geography::load(&aim_model::geography::default_reference_dir())
        .unwrap();
    let m2019: std::collections::HashSet<&str> = geo
        .municipalities_2019
        .iter()
        .map(|m| m.nis.as_str())
        .collect();
    let m2025: std::collections::HashSet<&str> = geo
        .municipalities_2025
        .iter()
        .map(|m| m.nis.as_str())
        .collect();
    let mut seen_merged = false;
    for (dir, m) in common::deliveries(&out)
        .into_iter()
        .filter(|(_, m)| m.database == aim_model::Database::Popu)
    {
        let (h, rows) = common::rows(&dir, &m);
        let c = h.iter().position(|x| x == "municipality").unwrap();
        for r in rows {
            if m.period.year >= 2025 {
                assert!(
                    m2025.contains(r[c].as_str()),
                    "{} not a 2025 municipality",
                    r[c]
                );
                seen_merged |= !m2019.contains(r[c].as_str());
            } else {
                assert!(
                    m2019.contains(r[c].as_str()),
                    "{} not a 2019 municipality",
                    r[c]
                );
            }
        }
    }
    assert!(seen_merged, "some 2025 rows use a merged municipality code");
    std::fs::remove_dir_all(out).unwrap();
}
