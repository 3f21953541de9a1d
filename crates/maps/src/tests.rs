//! Tests on the geometry behind the layers (unsimplified areas, rings, members).

use super::*;
use aim_model::geography::default_reference_dir;
use std::sync::OnceLock;

struct Fixture {
    geography: Geography,
    built: Built,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = default_reference_dir();
        let geography = Geography::load(&dir).expect("the reference data load");
        let built = build(&dir, &geography).expect("the maps build");
        Fixture { geography, built }
    })
}

/// Planar area (shoelace on projected, unsimplified coordinates) of oriented rings.
fn area(rings: &[Vec<i32>], raw: &[Vec<Pt>]) -> f64 {
    rings
        .iter()
        .map(|r| geometry::signed_area(&geometry::ring_points(r, raw)))
        .sum()
}

fn shape(level: Level, code: &str) -> &'static Shape {
    &fixture().built.shapes[&(level, code.to_string())]
}

fn shape_area(level: Level, code: &str) -> f64 {
    area(&shape(level, code).rings, &fixture().built.raw)
}

fn members_area(codes: &[String]) -> f64 {
    let f = fixture();
    codes
        .iter()
        .map(|c| area(&f.built.members[c], &f.built.raw))
        .sum()
}

fn exteriors(level: Level, code: &str) -> usize {
    let raw = &fixture().built.raw;
    shape(level, code)
        .rings
        .iter()
        .filter(|r| geometry::signed_area(&geometry::ring_points(r, raw)) > 0.0)
        .count()
}

fn holes(level: Level, code: &str) -> usize {
    shape(level, code).rings.len() - exteriors(level, code)
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs(),
        "{what}: {a} vs {b} (relative difference {})",
        (a - b).abs() / b.abs()
    );
}

#[test]
fn every_2019_municipality_is_in_exactly_one_area_of_each_level() {
    let f = fixture();
    for level in Level::ALL {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for ((l, code), s) in &f.built.shapes {
            if *l != level {
                continue;
            }
            for m in &s.members {
                assert!(
                    seen.insert(m, code).is_none(),
                    "{m} is in two {level} areas"
                );
            }
        }
        assert_eq!(seen.len(), 581, "{level}");
        for m in &f.geography.municipalities_2019 {
            assert!(
                seen.contains_key(m.nis.as_str()),
                "{} missing at {level}",
                m.nis
            );
        }
    }
    for (old, new) in &f.geography.to_2025 {
        assert!(
            shape(Level::Municipality, new).members.contains(old),
            "{old} should be part of {new}"
        );
    }
}

#[test]
fn merged_municipalities_lose_their_interior_borders_and_keep_their_area() {
    let f = fixture();
    let merged: BTreeSet<&str> = f
        .geography
        .to_2025
        .iter()
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b.as_str())
        .collect();
    assert_eq!(merged.len(), 14);
    for code in merged {
        let s = shape(Level::Municipality, code);
        assert!(s.members.len() >= 2, "{code}");
        // No arc of the merged outline is used by two members (the interior border).
        let mut uses: BTreeMap<usize, usize> = BTreeMap::new();
        for r in s.members.iter().flat_map(|m| &f.built.members[m]).flatten() {
            *uses.entry(topojson::arc_index(*r)).or_default() += 1;
        }
        assert!(
            uses.values().any(|&n| n == 2),
            "{code}: members not contiguous"
        );
        for r in s.rings.iter().flatten() {
            assert_eq!(
                uses[&topojson::arc_index(*r)],
                1,
                "{code}: interior arc kept"
            );
        }
        assert_eq!(exteriors(Level::Municipality, code), 1, "{code}");
        assert_eq!(holes(Level::Municipality, code), 0, "{code}");
        assert_close(
            shape_area(Level::Municipality, code),
            members_area(&s.members),
            code,
        );
    }
    // Antwerpen absorbed Borsbeek.
    let antwerpen = shape(Level::Municipality, "11002");
    assert_eq!(antwerpen.members, vec!["11002", "11007"]);
    assert!(
        shape_area(Level::Municipality, "11002") > area(&f.built.members["11002"], &f.built.raw)
    );
}

#[test]
fn every_level_covers_belgium_exactly() {
    let f = fixture();
    let belgium = shape_area(Level::Belgium, "BE");
    assert!(belgium > 0.0);
    let all: Vec<String> = f.built.members.keys().cloned().collect();
    assert_close(members_area(&all), belgium, "municipalities of 2019");
    for level in [
        Level::Municipality,
        Level::District,
        Level::Province,
        Level::Region,
    ] {
        let sum: f64 = f
            .built
            .shapes
            .iter()
            .filter(|((l, _), _)| *l == level)
            .map(|((l, c), _)| shape_area(*l, c))
            .sum();
        assert_close(sum, belgium, level.as_str());
    }
    let regions: f64 = ["02000", "03000", "04000"]
        .iter()
        .map(|c| shape_area(Level::Region, c))
        .sum();
    assert_close(regions, belgium, "regions");
}

#[test]
fn holes_and_exclaves_come_out_right() {
    let f = fixture();
    let raw = &f.built.raw;
    let hole_area = |level: Level, code: &str| -> f64 {
        -shape(level, code)
            .rings
            .iter()
            .map(|r| geometry::signed_area(&geometry::ring_points(r, raw)))
            .filter(|a| *a < 0.0)
            .sum::<f64>()
    };
    // Brussels is a hole in Flemish Brabant and in Flanders, of exactly its own area (not
    // in the district of Halle-Vilvoorde: Tervuren, district of Leuven, also borders it).
    let brussels = shape_area(Level::Region, "04000");
    assert_eq!(exteriors(Level::Region, "04000"), 1);
    assert_eq!(holes(Level::Region, "04000"), 0);
    for (level, code) in [(Level::Province, "20001"), (Level::Region, "02000")] {
        assert_eq!(holes(level, code), 1, "{level} {code}");
        assert_close(hole_area(level, code), brussels, code);
    }
    assert_eq!(holes(Level::District, "23000"), 0);
    // The German enclaves of the Vennbahn (between Eupen, Raeren and Waimes) are holes in
    // Belgium, Wallonia, Liège and Verviers, the same two everywhere.
    assert_eq!(exteriors(Level::Belgium, "BE"), 1);
    assert_eq!(holes(Level::Belgium, "BE"), 2);
    for (level, code) in [
        (Level::Region, "03000"),
        (Level::Province, "60000"),
        (Level::District, "63000"),
    ] {
        assert_eq!(holes(level, code), 2, "{level} {code}");
        assert_close(
            hole_area(level, code),
            hole_area(Level::Belgium, "BE"),
            code,
        );
    }
    // Exclaves: Voeren is cut off from the rest of Flanders, Comines-Warneton from the
    // rest of Wallonia; Ixelles and Baarle-Hertog are in two pieces each.
    assert_eq!(exteriors(Level::Region, "02000"), 2);
    assert_eq!(exteriors(Level::Region, "03000"), 2);
    assert_eq!(exteriors(Level::Province, "70000"), 2);
    assert_eq!(exteriors(Level::Province, "50000"), 2);
    assert_eq!(exteriors(Level::Municipality, "21009"), 2);
    assert_eq!(exteriors(Level::Municipality, "13002"), 2);
    // Total: no hole anywhere else.
    let with_holes: Vec<&(Level, String)> = f
        .built
        .shapes
        .keys()
        .filter(|(l, c)| holes(*l, c) > 0)
        .collect();
    assert_eq!(with_holes.len(), 6, "{with_holes:?}");
}

#[test]
fn label_points_lie_inside_their_areas() {
    let f = fixture();
    for layer in &f.built.maps.layers {
        for a in &layer.areas {
            let s = shape(layer.level, &a.code);
            // On the simplified outline, the one drawn.
            let pts: Vec<Vec<Pt>> = s
                .rings
                .iter()
                .map(|r| geometry::ring_points(r, &f.built.simple))
                .collect();
            assert!(
                geometry::contains(&pts, a.label_point),
                "{} {} label {:?}",
                layer.level,
                a.code,
                a.label_point
            );
        }
    }
}

#[test]
fn the_municipality_outlines_are_consistently_oriented() {
    let f = fixture();
    for (code, rings) in &f.built.members {
        for ring in rings {
            let a = geometry::signed_area(&geometry::ring_points(ring, &f.built.raw));
            assert!(a > 0.0, "{code}: the data has no holes in municipalities");
        }
    }
}

#[test]
#[ignore = "diagnostics: prints the data's oddities and the size by tolerance"]
fn print_data_facts() {
    let f = fixture();
    for ((l, c), s) in &f.built.shapes {
        let e = exteriors(*l, c);
        let h = holes(*l, c);
        if e != 1 || h != 0 {
            println!(
                "{l} {c}: {e} exteriors, {h} holes, {} members",
                s.members.len()
            );
        }
    }
    let raw = &f.built.raw;
    for r in &shape(Level::Belgium, "BE").rings {
        let pts = geometry::ring_points(r, raw);
        let a = geometry::signed_area(&pts);
        if a < 0.0 {
            let owners: BTreeSet<&String> = f
                .built
                .members
                .iter()
                .filter(|(_, rs)| {
                    rs.iter().flatten().any(|x| {
                        r.iter()
                            .any(|y| topojson::arc_index(*x) == topojson::arc_index(*y))
                    })
                })
                .map(|(c, _)| c)
                .collect();
            println!(
                "hole of Belgium: area {a}, around {owners:?}, first point {:?}",
                pts[0]
            );
        }
    }
    let points: usize = f.built.raw.iter().map(Vec::len).sum();
    println!("{} arcs, {} points", f.built.raw.len(), points);
    for t in [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0] {
        let b = build_with(&default_reference_dir(), &f.geography, t).unwrap();
        let points: usize = b.simple.iter().map(Vec::len).sum();
        let size = svg(b.maps.layer(Level::Municipality), Lang::Fr).len();
        println!("tolerance {t}: {points} points, municipality SVG {size} bytes");
    }
}
