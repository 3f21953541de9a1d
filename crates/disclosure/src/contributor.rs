//! The contributor rule: the magnitude-table rules applied to the persons behind a released
//! sum or mean. A cell whose largest contributor makes more than k % of its amount ((n, k)
//! dominance), or whose amount minus its two largest contributors is less than p % of the
//! largest (the p % rule: the second-largest contributor could then estimate the largest
//! within p %), is hidden and its amount protected by the LP audit. On by default for every
//! measure of every table; a request may make it stricter, never weaker.

use crate::table::Table;
use serde::{Deserialize, Serialize};

/// The contributor rule's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributorRule {
    /// n of the (n, k) dominance rule.
    pub dominance_n: usize,
    /// k (percent) of the (n, k) dominance rule.
    pub dominance_k: f64,
    /// p of the p % rule.
    pub p_percent: f64,
    /// How closely an attacker may estimate a hidden cell's amount (percent).
    pub protection_percent: f64,
}

impl ContributorRule {
    /// The gate's default (docs/disclosure.md): (1, 85) dominance and the 15 % rule, hidden
    /// amounts protected to ±15 %.
    pub const DEFAULT: ContributorRule = ContributorRule {
        dominance_n: 1,
        dominance_k: 85.0,
        p_percent: 15.0,
        protection_percent: 15.0,
    };

    /// Whether `self` is at least as strict as the default on every parameter.
    pub fn at_least_default(&self) -> bool {
        let d = Self::DEFAULT;
        self.dominance_n >= d.dominance_n
            && self.dominance_k <= d.dominance_k
            && self.p_percent >= d.p_percent
            && self.protection_percent >= d.protection_percent
    }

    /// Whether a cell with these contributions (largest first, non-negative) fails the rule.
    pub fn fails(&self, largest: &[f64], total: f64) -> bool {
        if total <= 0.0 || largest.is_empty() {
            return false;
        }
        let top: f64 = largest.iter().take(self.dominance_n).sum();
        if top > self.dominance_k / 100.0 * total {
            return true;
        }
        let x1 = largest[0];
        let x2 = largest.get(1).copied().unwrap_or(0.0);
        total - x1 - x2 < self.p_percent / 100.0 * x1
    }
}

impl Default for ContributorRule {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The cells of `table` failing `rule` on one measure, given each unit's own amount
/// (`amounts[i]` for `table.members[i]`). Sorted.
pub fn failing_cells(table: &Table, amounts: &[f64], rule: &ContributorRule) -> Vec<usize> {
    let keep = rule.dominance_n.max(2);
    // Per cell: its largest contributions (descending, at most `keep`) and its total.
    let mut largest: Vec<Vec<f64>> = vec![Vec::new(); table.cells.len()];
    let mut total = vec![0.0f64; table.cells.len()];
    for ((_, paths), &a) in table.members.iter().zip(amounts) {
        let a = a.max(0.0);
        if a <= 0.0 {
            continue;
        }
        for c in table.cells_of(paths) {
            total[c] += a;
            let top = &mut largest[c];
            let at = top.partition_point(|&x| x >= a);
            if at < keep {
                top.insert(at, a);
                top.truncate(keep);
            }
        }
    }
    (0..table.cells.len())
        .filter(|&c| rule.fails(&largest[c], total[c]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Dimension;

    #[test]
    fn one_dominant_patient_fails_and_even_spending_passes() {
        let rule = ContributorRule::DEFAULT;
        // One hospital bill of 95 % of the cell.
        assert!(rule.fails(&[9500.0, 50.0], 10_000.0));
        // Two large bills: the second could estimate the first within p %.
        assert!(rule.fails(&[5000.0, 4800.0], 10_000.0));
        // Ten even contributions.
        assert!(!rule.fails(&[1000.0, 1000.0], 10_000.0));
        assert!(!rule.fails(&[], 0.0));
    }

    #[test]
    fn failing_cells_follow_each_units_amount_into_every_margin() {
        // Two districts of 10 persons; in a, one person has 1,000 and the others 1 each.
        let t = Table::from_units(
            vec![Dimension::new("district", &["district"], "all")],
            vec!["amount".into()],
            (0..20).map(|i| {
                let d = if i < 10 { "a" } else { "b" };
                (format!("p{i}"), vec![vec![d]], vec![0.0])
            }),
        )
        .unwrap();
        let amounts: Vec<f64> = (0..20).map(|i| if i == 0 { 1000.0 } else { 1.0 }).collect();
        let f = failing_cells(&t, &amounts, &ContributorRule::DEFAULT);
        let label = |c: usize| t.labels(c)[0].to_string();
        let names: Vec<String> = f.iter().map(|&c| label(c)).collect();
        // a and the total are dominated by the same person; b is not.
        assert_eq!(names, vec!["all", "a"]);
    }

    #[test]
    fn a_request_may_tighten_the_rule_never_loosen_it() {
        let mut r = ContributorRule::DEFAULT;
        assert!(r.at_least_default());
        r.dominance_k = 95.0;
        assert!(!r.at_least_default());
        r.dominance_k = 70.0;
        assert!(r.at_least_default());
    }
}
