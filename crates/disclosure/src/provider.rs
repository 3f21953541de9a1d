//! The provider rule: a cell describing fewer than N providers, or whose amount is dominated
//! by its n largest providers (more than k %), is hidden, so that no individual provider's
//! activity can be read off a table.

use crate::request::ProviderSpec;
use crate::table::Table;
use std::collections::HashMap;

/// The cells of `table` that fail the provider rule, given rows (unit key, provider,
/// amount). Rows of units not in the table are ignored; a provider's amounts for one unit
/// are summed. Sorted.
pub fn failing_cells<'a>(
    table: &Table,
    spec: &ProviderSpec,
    rows: impl Iterator<Item = (&'a str, &'a str, f64)>,
) -> Vec<usize> {
    let member: HashMap<&str, usize> = table
        .members
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let mut provider_ids: HashMap<&str, u32> = HashMap::new();
    // Per unit, its providers' amounts.
    let mut per_unit: HashMap<usize, HashMap<u32, f64>> = HashMap::new();
    for (unit, provider, amount) in rows {
        let Some(&m) = member.get(unit) else {
            continue;
        };
        let next = provider_ids.len() as u32;
        let p = *provider_ids.entry(provider).or_insert(next);
        *per_unit.entry(m).or_default().entry(p).or_default() += amount;
    }
    // Per cell, its providers' amounts.
    let mut per_cell: HashMap<usize, HashMap<u32, f64>> = HashMap::new();
    let mut units: Vec<_> = per_unit.into_iter().collect();
    units.sort_by_key(|(m, _)| *m);
    for (m, amounts) in units {
        for c in table.cells_of(&table.members[m].1) {
            let cell = per_cell.entry(c).or_default();
            for (&p, &a) in &amounts {
                *cell.entry(p).or_default() += a;
            }
        }
    }
    let mut out: Vec<usize> = per_cell
        .into_iter()
        .filter(|(_, amounts)| {
            let providers = amounts.len();
            if providers == 0 {
                return false;
            }
            if providers < spec.min_providers {
                return true;
            }
            let mut a: Vec<f64> = amounts.values().map(|v| v.max(0.0)).collect();
            let total: f64 = a.iter().sum();
            if total <= 0.0 {
                return false;
            }
            a.sort_by(|x, y| y.total_cmp(x));
            let top: f64 = a.iter().take(spec.dominance_n).sum();
            top > spec.dominance_k / 100.0 * total
        })
        .map(|(c, _)| c)
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Dimension;

    fn spec() -> ProviderSpec {
        ProviderSpec {
            sql: String::new(),
            measure: "amount".into(),
            min_providers: 3,
            dominance_n: 1,
            dominance_k: 85.0,
            protection_percent: 15.0,
        }
    }

    #[test]
    fn few_providers_or_one_dominant_provider_hide_a_cell() {
        // Three districts of 10 persons each.
        let rows: Vec<(String, &str)> = (0..30)
            .map(|i| (format!("p{i}"), ["a", "b", "c"][i / 10]))
            .collect();
        let t = Table::from_units(
            vec![Dimension::new("district", &["district"], "all")],
            vec!["amount".into()],
            rows.iter()
                .map(|(k, d)| (k.clone(), vec![vec![*d]], vec![0.0])),
        )
        .unwrap();
        let cell = |code: &str| {
            (0..t.cells.len())
                .find(|&c| t.labels(c) == vec![code])
                .unwrap()
        };
        let mut providers: Vec<(String, String, f64)> = Vec::new();
        for i in 0..30 {
            let unit = format!("p{i}");
            match i / 10 {
                // a: two providers only.
                0 => providers.push((unit, format!("x{}", i % 2), 10.0)),
                // b: five providers, one with 90 % of the amount.
                1 => providers.push((
                    unit,
                    format!("y{}", i % 5),
                    if i % 5 == 0 { 180.0 } else { 2.5 },
                )),
                // c: five providers, even.
                _ => providers.push((unit, format!("z{}", i % 5), 10.0)),
            }
        }
        let failing = failing_cells(
            &t,
            &spec(),
            providers
                .iter()
                .map(|(u, p, a)| (u.as_str(), p.as_str(), *a)),
        );
        assert_eq!(failing, vec![cell("a"), cell("b")]);
        // The total has 12 providers, the largest with 360 of 580: released.
        assert!(!failing.contains(&cell("all")));
    }
}
