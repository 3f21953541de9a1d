//! Planar geometry on arcs: projection, topological union of rings, Douglas–Peucker
//! simplification, areas, label points and SVG path data.

use crate::topojson::{LonLat, arc_index};
use std::collections::BTreeMap;

/// A point in SVG user units (x to the right, y downwards).
pub(crate) type Pt = (f64, f64);

/// Width of every layer's viewBox.
pub(crate) const WIDTH: f64 = 1000.0;
/// Empty border around the country, in SVG units.
pub(crate) const MARGIN: f64 = 10.0;
/// The latitude (degrees) at which the equirectangular projection is true to scale:
/// about the middle of Belgium.
pub(crate) const STANDARD_PARALLEL: f64 = 50.5;

/// Projects longitude/latitude arcs onto the SVG plane: `x = lon · cos(50.5°)`,
/// `y = −lat`, then scaled and translated so that the whole topology fits into a viewBox
/// of width [`WIDTH`] with a margin of [`MARGIN`]. Returns the projected arcs and the
/// viewBox `(0, 0, WIDTH, height)`.
pub(crate) fn project(arcs: &[Vec<LonLat>]) -> (Vec<Vec<Pt>>, (f64, f64, f64, f64)) {
    let k = STANDARD_PARALLEL.to_radians().cos();
    let plane = |&(lon, lat): &LonLat| (lon * k, -lat);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in arcs.iter().flatten().map(plane) {
        x0 = x0.min(p.0);
        y0 = y0.min(p.1);
        x1 = x1.max(p.0);
        y1 = y1.max(p.1);
    }
    let s = (WIDTH - 2.0 * MARGIN) / (x1 - x0);
    let projected = arcs
        .iter()
        .map(|arc| {
            arc.iter()
                .map(plane)
                .map(|(x, y)| (MARGIN + (x - x0) * s, MARGIN + (y - y0) * s))
                .collect()
        })
        .collect();
    let height = ((y1 - y0) * s + 2.0 * MARGIN) * 10.0;
    (projected, (0.0, 0.0, WIDTH, height.ceil() / 10.0))
}

/// The junctions (nodes) of a topology: the start and end node of every arc, numbered
/// by exact position, so that rings can be stitched arc to arc.
pub(crate) struct Nodes {
    start: Vec<usize>,
    end: Vec<usize>,
}

impl Nodes {
    /// Numbers the end points of `arcs` (equal positions get equal numbers).
    pub(crate) fn new(arcs: &[Vec<Pt>]) -> Nodes {
        let mut ids: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let mut id = |p: Pt| {
            let next = ids.len();
            *ids.entry((p.0.to_bits(), p.1.to_bits())).or_insert(next)
        };
        let mut start = Vec::with_capacity(arcs.len());
        let mut end = Vec::with_capacity(arcs.len());
        for arc in arcs {
            start.push(id(arc[0]));
            end.push(id(arc[arc.len() - 1]));
        }
        Nodes { start, end }
    }

    /// The node an arc reference starts at.
    fn from(&self, r: i32) -> usize {
        if r >= 0 {
            self.start[r as usize]
        } else {
            self.end[arc_index(r)]
        }
    }

    /// The node an arc reference ends at.
    fn to(&self, r: i32) -> usize {
        if r >= 0 {
            self.end[r as usize]
        } else {
            self.start[arc_index(r)]
        }
    }

    /// True when consecutive references of `ring` meet and the last returns to the first.
    pub(crate) fn is_closed(&self, ring: &[i32]) -> bool {
        ring.iter()
            .zip(ring.iter().cycle().skip(1))
            .all(|(&a, &b)| self.to(a) == self.from(b))
    }
}

/// The points of a ring given as arc references, without the closing repetition of the
/// first point.
pub(crate) fn ring_points(ring: &[i32], arcs: &[Vec<Pt>]) -> Vec<Pt> {
    let mut out: Vec<Pt> = Vec::new();
    for &r in ring {
        let arc = &arcs[arc_index(r)];
        let skip = usize::from(!out.is_empty());
        if r >= 0 {
            out.extend(arc.iter().skip(skip));
        } else {
            out.extend(arc.iter().rev().skip(skip));
        }
    }
    if out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// The same ring traversed the other way.
pub(crate) fn reversed(ring: &[i32]) -> Vec<i32> {
    ring.iter().rev().map(|&r| !r).collect()
}

/// Signed area (shoelace) of a ring of points: positive when the ring runs clockwise on
/// screen (y downwards). Computed relative to the first point to limit cancellation.
pub(crate) fn signed_area(points: &[Pt]) -> f64 {
    let Some(&(ox, oy)) = points.first() else {
        return 0.0;
    };
    let mut twice = 0.0;
    for (a, b) in points.iter().zip(points.iter().cycle().skip(1)) {
        twice += (a.0 - ox) * (b.1 - oy) - (b.0 - ox) * (a.1 - oy);
    }
    twice / 2.0
}

/// The union of a group of oriented rings (exteriors with positive area, holes with
/// negative area, neighbours sharing arcs in opposite directions): every arc used by two
/// rings of the group is an interior border and is dropped; the remaining arcs are
/// stitched end to start into closed rings, which keep the orientation convention (outer
/// rings positive, holes negative). The result is sorted for determinism.
pub(crate) fn union<'a>(
    rings: impl IntoIterator<Item = &'a Vec<i32>>,
    nodes: &Nodes,
) -> Result<Vec<Vec<i32>>, String> {
    // Arc index → the references to it, in order of appearance.
    let mut uses: BTreeMap<usize, Vec<i32>> = BTreeMap::new();
    let mut order: Vec<i32> = Vec::new();
    for ring in rings {
        for &r in ring {
            uses.entry(arc_index(r)).or_default().push(r);
            order.push(r);
        }
    }
    for (arc, refs) in &uses {
        match refs.as_slice() {
            [_] => {}
            [a, b] if *a == !*b => {}
            [_, _] => {
                return Err(format!(
                    "arc {arc} is used twice in the same direction (overlapping polygons)"
                ));
            }
            _ => {
                return Err(format!(
                    "arc {arc} is used by {} rings (a border is shared by at most two)",
                    refs.len()
                ));
            }
        }
    }
    let kept: Vec<i32> = order
        .into_iter()
        .filter(|&r| uses[&arc_index(r)].len() == 1)
        .collect();
    let mut starting: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &r) in kept.iter().enumerate() {
        starting.entry(nodes.from(r)).or_default().push(i);
    }
    let mut used = vec![false; kept.len()];
    let mut out = Vec::new();
    for first in 0..kept.len() {
        if used[first] {
            continue;
        }
        used[first] = true;
        let mut ring = vec![kept[first]];
        let origin = nodes.from(kept[first]);
        let mut at = nodes.to(kept[first]);
        while at != origin {
            let next = starting
                .get(&at)
                .and_then(|c| c.iter().copied().find(|&i| !used[i]))
                .ok_or_else(|| {
                    format!(
                        "the outline does not close after arc {} (a gap between neighbours)",
                        arc_index(*ring.last().expect("non-empty"))
                    )
                })?;
            used[next] = true;
            ring.push(kept[next]);
            at = nodes.to(kept[next]);
        }
        // Start each ring at its smallest reference (a rotation of the same ring).
        let start = (0..ring.len()).min_by_key(|&i| ring[i]).expect("non-empty");
        ring.rotate_left(start);
        out.push(ring);
    }
    out.sort();
    Ok(out)
}

/// Distance from `p` to the segment `a`–`b`.
fn segment_distance(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
}

/// The interior point of `arc[i..=j]` farthest from the segment `arc[i]`–`arc[j]`.
fn farthest(arc: &[Pt], i: usize, j: usize) -> Option<(usize, f64)> {
    (i + 1..j)
        .map(|k| (k, segment_distance(arc[k], arc[i], arc[j])))
        .fold(None, |best, (k, d)| match best {
            Some((_, bd)) if bd >= d => best,
            _ => Some((k, d)),
        })
}

/// Douglas–Peucker simplification of one arc with `tolerance` (SVG units). The end points
/// are always kept; so are the `min_interior` (0, 1 or 2) most significant interior points,
/// so that a ring made of one or two arcs keeps an area.
pub(crate) fn simplify(arc: &[Pt], tolerance: f64, min_interior: usize) -> Vec<Pt> {
    let n = arc.len();
    if n <= 2 {
        return arc.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    // (from, to, forced): a span with `forced > 0` keeps its farthest point whatever the
    // tolerance, and passes `forced - 1` on to its first half.
    let mut stack = vec![(0, n - 1, min_interior)];
    while let Some((i, j, forced)) = stack.pop() {
        if let Some((k, d)) = farthest(arc, i, j)
            && (forced > 0 || d > tolerance)
        {
            keep[k] = true;
            stack.push((i, k, forced.saturating_sub(1)));
            stack.push((k, j, 0));
        }
    }
    arc.iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect()
}

/// Even-odd point-in-polygon over all rings of an area.
pub(crate) fn contains(rings: &[Vec<Pt>], p: Pt) -> bool {
    let mut inside = false;
    for ring in rings {
        for (a, b) in ring.iter().zip(ring.iter().cycle().skip(1)) {
            if (a.1 > p.1) != (b.1 > p.1) && p.0 < a.0 + (p.1 - a.1) * (b.0 - a.0) / (b.1 - a.1) {
                inside = !inside;
            }
        }
    }
    inside
}

/// Centroid of a ring (falls back to the mean of its points for a degenerate ring).
fn centroid(ring: &[Pt]) -> Pt {
    let a = signed_area(ring);
    let &(ox, oy) = &ring[0];
    if a.abs() < 1e-12 {
        let n = ring.len() as f64;
        let (sx, sy) = ring
            .iter()
            .fold((0.0, 0.0), |(sx, sy), p| (sx + p.0, sy + p.1));
        return (sx / n, sy / n);
    }
    let (mut cx, mut cy) = (0.0, 0.0);
    for (p, q) in ring.iter().zip(ring.iter().cycle().skip(1)) {
        let (px, py, qx, qy) = (p.0 - ox, p.1 - oy, q.0 - ox, q.1 - oy);
        let cross = px * qy - qx * py;
        cx += (px + qx) * cross;
        cy += (py + qy) * cross;
    }
    (ox + cx / (6.0 * a), oy + cy / (6.0 * a))
}

/// A point inside an area given by its oriented rings (outer rings positive): the
/// centroid of the largest outer ring when it lies inside the area, otherwise the middle
/// of the widest interior stretch of a horizontal line through that ring.
pub(crate) fn label_point(rings: &[Vec<Pt>]) -> Pt {
    let Some(largest) = rings
        .iter()
        .filter(|r| r.len() >= 3)
        .max_by(|a, b| signed_area(a).total_cmp(&signed_area(b)))
    else {
        return (0.0, 0.0);
    };
    let c = centroid(largest);
    if contains(rings, c) {
        return c;
    }
    let (y0, y1) = largest.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let mut best: Option<(f64, Pt)> = None;
    let candidates =
        std::iter::once(c.1).chain([0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8].map(|t| y0 + t * (y1 - y0)));
    for y in candidates {
        let mut xs: Vec<f64> = Vec::new();
        for ring in rings {
            for (a, b) in ring.iter().zip(ring.iter().cycle().skip(1)) {
                if (a.1 > y) != (b.1 > y) {
                    xs.push(a.0 + (y - a.1) * (b.0 - a.0) / (b.1 - a.1));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let width = pair[1] - pair[0];
            if best.is_none_or(|(w, _)| width > w) {
                best = Some((width, ((pair[0] + pair[1]) / 2.0, y)));
            }
        }
        if best.is_some() {
            break;
        }
    }
    best.map_or(c, |(_, p)| p)
}

/// Writes a number of tenths as a decimal (`123` → `12.3`, `-5` → `-0.5`, `40` → `4`).
fn push_tenths(out: &mut String, v: i64) {
    use std::fmt::Write;
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    if a.is_multiple_of(10) {
        let _ = write!(out, "{}", a / 10);
    } else {
        let _ = write!(out, "{}.{}", a / 10, a % 10);
    }
}

/// A coordinate rounded to tenths of a unit.
pub(crate) fn tenths(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

/// SVG path data for a set of rings: each ring an absolute `M`, relative `l` steps on the
/// coordinates rounded to 0.1, and `z`. Repeated points after rounding are dropped, and a
/// ring left with fewer than three distinct points is not drawn.
pub(crate) fn path_data(rings: &[Vec<Pt>]) -> String {
    let mut out = String::new();
    for ring in rings {
        let mut pts: Vec<(i64, i64)> = Vec::with_capacity(ring.len());
        for &(x, y) in ring {
            let p = (tenths(x), tenths(y));
            if pts.last() != Some(&p) {
                pts.push(p);
            }
        }
        while pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        if pts.len() < 3 {
            continue;
        }
        out.push('M');
        push_tenths(&mut out, pts[0].0);
        out.push(' ');
        push_tenths(&mut out, pts[0].1);
        out.push('l');
        for (k, w) in pts.windows(2).enumerate() {
            let (dx, dy) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
            if k > 0 && dx >= 0 {
                out.push(' ');
            }
            push_tenths(&mut out, dx);
            if dy >= 0 {
                out.push(' ');
            }
            push_tenths(&mut out, dy);
        }
        out.push('z');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two unit squares side by side sharing the arc 2 (x = 1), in screen orientation.
    ///
    /// Arc 0: (1,0) → (0,0) → (0,1) → (1,1); arc 1: (1,1) → (2,1) → (2,0) → (1,0);
    /// arc 2: (1,1) → (1,0).
    fn squares() -> Vec<Vec<Pt>> {
        vec![
            vec![(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)],
            vec![(1.0, 1.0), (2.0, 1.0), (2.0, 0.0), (1.0, 0.0)],
            vec![(1.0, 1.0), (1.0, 0.0)],
        ]
    }

    #[test]
    fn the_union_of_two_squares_drops_their_common_border() {
        let arcs = squares();
        let nodes = Nodes::new(&arcs);
        // Left square: arc 0 then arc 2 (clockwise on screen: left, down, right, up).
        let left = vec![0, 2];
        let right = vec![1, !2];
        assert!(nodes.is_closed(&left) && nodes.is_closed(&right));
        let a_left = signed_area(&ring_points(&left, &arcs));
        let a_right = signed_area(&ring_points(&right, &arcs));
        assert!((a_left.abs() - 1.0).abs() < 1e-12 && (a_right.abs() - 1.0).abs() < 1e-12);
        assert_eq!(a_left.signum(), a_right.signum());
        let u = union([&left, &right], &nodes).unwrap();
        assert_eq!(u, vec![vec![0, 1]]);
        let a = signed_area(&ring_points(&u[0], &arcs));
        assert!((a - (a_left + a_right)).abs() < 1e-12);
    }

    #[test]
    fn an_overlap_is_reported() {
        let arcs = squares();
        let nodes = Nodes::new(&arcs);
        let err = union([&vec![0, 2], &vec![0, 2]], &nodes).unwrap_err();
        assert!(err.contains("same direction"), "{err}");
    }

    #[test]
    fn simplification_keeps_end_points_and_shape() {
        let arc: Vec<Pt> = (0..=100)
            .map(|i| {
                (
                    f64::from(i),
                    if i == 50 {
                        10.0
                    } else {
                        0.01 * f64::from(i % 2)
                    },
                )
            })
            .collect();
        let s = simplify(&arc, 0.5, 0);
        assert_eq!(
            s,
            vec![
                (0.0, 0.0),
                (49.0, 0.01),
                (50.0, 10.0),
                (51.0, 0.01),
                (100.0, 0.0)
            ]
        );
        // A closed arc keeps at least two interior points.
        let ring: Vec<Pt> = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)];
        let s = simplify(&ring, 100.0, 2);
        assert_eq!(s.len(), 4);
        assert!(signed_area(&s[..3]).abs() > 0.0);
    }

    #[test]
    fn label_points_avoid_holes() {
        // A square with a square hole around its centroid.
        let outer = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        let hole = vec![(4.0, 4.0), (4.0, 6.0), (6.0, 6.0), (6.0, 4.0)];
        let rings = vec![outer, hole];
        let p = label_point(&rings);
        assert!(contains(&rings, p), "{p:?}");
        assert!(!contains(&rings, (5.0, 5.0)));
    }

    #[test]
    fn path_data_is_compact_and_rounded() {
        let ring = vec![
            (0.04, 0.0),
            (10.0, 0.0),
            (10.0, 5.25),
            (10.0, 5.26),
            (0.0, 5.0),
        ];
        assert_eq!(path_data(&[ring]), "M0 0l10 0 0 5.3-10-0.3z");
        assert_eq!(path_data(&[vec![(0.0, 0.0), (0.01, 0.0), (0.0, 0.02)]]), "");
    }
}
