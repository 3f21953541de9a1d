//! The Katz scale: six activities of daily living scored 1 (independent) to 4 (fully
//! dependent), and the dependency category the Belgian insurance derives from them
//! (home nursing flat fees, nursing-home categories). A person is *dependent* for an
//! activity at score 3 or 4. Disorientation (which turns C into Cd) is not among the six
//! items: Cd is accepted wherever the scores give C.

/// The six items, in the order of the KATS columns.
pub const ITEMS: [&str; 6] = [
    "washing",
    "dressing",
    "transfer",
    "toileting",
    "continence",
    "eating",
];

/// The categories, from least to most dependent.
pub const CATEGORIES: [&str; 4] = ["O", "A", "B", "C"];

/// Whether a score is a valid item score (1 to 4).
pub fn valid_score(s: i32) -> bool {
    (1..=4).contains(&s)
}

/// The category the six scores give: `O`, `A`, `B` or `C`.
pub fn category(scores: [i32; 6]) -> &'static str {
    let dep = scores.map(|s| s >= 3);
    let [washing, dressing, transfer, toileting, continence, eating] = dep;
    if washing && dressing && transfer && toileting && (continence || eating) {
        "C"
    } else if washing && dressing && (transfer || toileting) {
        "B"
    } else if washing || dressing {
        "A"
    } else {
        "O"
    }
}

/// Whether a delivered category agrees with the scores (`Cd` where they give `C`).
pub fn agrees(scores: [i32; 6], delivered: &str) -> bool {
    let c = category(scores);
    delivered == c || (delivered == "Cd" && c == "C")
}

/// Rank of a category (0 for O to 3 for C and Cd); `None` for an unknown one.
pub fn rank(category: &str) -> Option<u8> {
    match category {
        "O" => Some(0),
        "A" => Some(1),
        "B" => Some(2),
        "C" | "Cd" => Some(3),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_categories_of_the_rules() {
        assert_eq!(category([1, 1, 1, 1, 1, 1]), "O");
        assert_eq!(category([3, 1, 1, 1, 1, 1]), "A");
        assert_eq!(category([1, 4, 1, 1, 1, 1]), "A");
        assert_eq!(category([3, 3, 3, 1, 1, 1]), "B");
        assert_eq!(category([3, 3, 1, 4, 1, 1]), "B");
        assert_eq!(category([4, 4, 4, 4, 1, 1]), "B");
        assert_eq!(category([4, 4, 4, 4, 3, 1]), "C");
        assert_eq!(category([4, 4, 4, 4, 1, 3]), "C");
        assert_eq!(category([2, 2, 4, 4, 4, 4]), "O");
        assert!(agrees([4, 4, 4, 4, 4, 4], "Cd"));
        assert!(!agrees([3, 1, 1, 1, 1, 1], "Cd"));
    }

    #[test]
    fn more_dependence_never_lowers_the_category() {
        // Every score vector (4^6), every single-item increase.
        for n in 0..4096u32 {
            let s: [i32; 6] = std::array::from_fn(|k| ((n >> (2 * k)) & 3) as i32 + 1);
            for k in 0..6 {
                if s[k] < 4 {
                    let mut t = s;
                    t[k] += 1;
                    assert!(rank(category(t)) >= rank(category(s)), "{s:?} -> {t:?}");
                }
            }
        }
    }
}
