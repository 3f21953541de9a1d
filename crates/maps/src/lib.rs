//! SVG map layers of Belgium for the web Atlas: the 565 municipalities of 2025, the 43
//! districts, the provinces (with Brussels-Capital as one area), the 3 regions and the
//! country, each area a `<path>` that a web page colours by its code.
//!
//! # Source and licence of the boundaries
//!
//! The only geometry read is `municipalities-2019.WGS84.topojson` of the reference data
//! folder (see its `README.md`): the 581 municipalities of 2019 as a quantised TopoJSON
//! topology, from the public repository `mathiasleroy/belgium-geographic-data` (MIT),
//! which redistributes the administrative boundaries of the National Geographic Institute
//! (NGI/IGN, open data, attribution required: "© NGI"). Codes and names come from
//! [`aim_model::geography::Geography`] (Statbel REFNIS).
//!
//! # Method
//!
//! * **Topological union.** Every larger area — a 2025 municipality formed by the
//!   1 January 2025 mergers, a district, a province, a region, Belgium — is the union of
//!   its 2019 municipalities (grouped by the district, province and region of their 2025
//!   municipality). TopoJSON stores each border once, as an arc shared by the two
//!   neighbours, who run along it in opposite directions. After orienting every ring
//!   (exteriors clockwise on screen, holes anticlockwise), the union of a group drops each
//!   arc used by two rings of the group (an interior border) and stitches the remaining
//!   arcs end to start into closed rings. The result is exact — no clipping, no slivers —
//!   and the orientation tells exteriors from holes. In this data: the province of Flemish
//!   Brabant and the Flemish Region have Brussels as a hole; Belgium, Wallonia, Liège and
//!   the district of Verviers have two holes, the German enclaves along the Vennbahn
//!   between Eupen, Raeren and Waimes; Voeren (cut off from the rest of Flanders) and
//!   Comines-Warneton (from the rest of Wallonia) are separate exterior rings. No
//!   municipality of 2019 has a hole; Ixelles and Baarle-Hertog are stored in two pieces
//!   each (the file has none of Baarle-Hertog's enclaves inside the Netherlands).
//! * **Projection.** Equirectangular, true to scale at 50.5° N: `x = lon · cos 50.5°`,
//!   `y = −lat` (y downwards as in SVG), scaled into a viewBox of width 1000 with a margin
//!   of 10; the height follows from the aspect ratio.
//! * **Simplification.** Douglas–Peucker, once per shared arc, in viewBox units (tolerance
//!   [`SIMPLIFY_TOLERANCE`]), keeping each arc's end points, so that neighbours — and
//!   all five layers — still share their simplified borders exactly. An arc that alone or
//!   with one other arc closes a ring keeps enough points for that ring to keep an area.
//!   The file is already generalised upstream (6,504 vertices for 581 municipalities, on
//!   1,742 arcs), so this sub-pixel tolerance (about 85 m) drops only a handful of
//!   vertices: the municipality SVG is about 123 KB.
//!   Coordinates are written rounded to 0.1 (an absolute `M`, then relative `l` steps);
//!   the paths use `fill-rule="evenodd"` (the orientation also makes holes right under
//!   the default `nonzero` rule).

#![warn(missing_docs)]

mod geometry;
mod topojson;

use aim_model::geography::Geography;
use geometry::{Nodes, Pt};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Name of the boundaries file in the reference data folder.
const BOUNDARIES_FILE: &str = "municipalities-2019.WGS84.topojson";

/// The property of the boundaries file that holds the municipality's NIS code.
const CODE_PROPERTY: &str = "AdMuKey";

/// The Douglas–Peucker tolerance, in viewBox units (Belgium is 980 units wide, so a unit
/// is about 0.28 km on the ground).
pub const SIMPLIFY_TOLERANCE: f64 = 0.3;

/// A problem with the boundaries file or with the map request.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The boundaries file could not be read.
    #[error("cannot read the municipal boundaries file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The boundaries file is not a usable TopoJSON topology.
    #[error("the municipal boundaries file {path} is malformed: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The boundaries file does not match the municipality lists of the geography.
    #[error(
        "the municipal boundaries file {path} does not match the municipality lists: {message}"
    )]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// A map level name that is not one of the five.
    #[error(
        "unknown map level '{0}': expected municipality, district, province, region or belgium"
    )]
    UnknownLevel(String),
}

/// The level of a map layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The 565 municipalities of 2025.
    Municipality,
    /// The 43 administrative districts (arrondissements).
    District,
    /// The ten provinces and Brussels-Capital (coded with its region code `04000`).
    Province,
    /// The three regions.
    Region,
    /// The whole country, code `BE`.
    Belgium,
}

impl Level {
    /// All five levels, from the finest to the coarsest.
    pub const ALL: [Level; 5] = [
        Level::Municipality,
        Level::District,
        Level::Province,
        Level::Region,
        Level::Belgium,
    ];

    /// The level's name: `municipality`, `district`, `province`, `region` or `belgium`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Municipality => "municipality",
            Level::District => "district",
            Level::Province => "province",
            Level::Region => "region",
            Level::Belgium => "belgium",
        }
    }

    /// The layer's description in `lang`, for `aria-label`.
    fn label(self, lang: Lang) -> &'static str {
        match (lang, self) {
            (Lang::Fr, Level::Municipality) => "Belgique : communes (2025)",
            (Lang::Fr, Level::District) => "Belgique : arrondissements",
            (Lang::Fr, Level::Province) => "Belgique : provinces et Région de Bruxelles-Capitale",
            (Lang::Fr, Level::Region) => "Belgique : régions",
            (Lang::Fr, Level::Belgium) => "Belgique",
            (Lang::Nl, Level::Municipality) => "België: gemeenten (2025)",
            (Lang::Nl, Level::District) => "België: arrondissementen",
            (Lang::Nl, Level::Province) => "België: provincies en Brussels Hoofdstedelijk Gewest",
            (Lang::Nl, Level::Region) => "België: gewesten",
            (Lang::Nl, Level::Belgium) => "België",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for Level {
    type Err = MapError;

    /// Parses a level name as given by [`Level::as_str`] (case-insensitive).
    fn from_str(s: &str) -> Result<Level, MapError> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| MapError::UnknownLevel(s.to_string()))
    }
}

/// The language of the names and labels in an SVG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// French.
    Fr,
    /// Dutch.
    Nl,
}

/// One area of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// Its code: NIS code of the municipality, district, province or region; `BE`.
    pub code: String,
    /// French name.
    pub name_fr: String,
    /// Dutch name.
    pub name_nl: String,
    /// SVG path data in viewBox coordinates (absolute `M`, relative `l`, `z`; coordinates
    /// rounded to 0.1).
    pub path: String,
    /// A point inside the area (viewBox coordinates, rounded to 0.1), e.g. for a label.
    pub label_point: (f64, f64),
}

/// One map layer: the areas of one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// The level.
    pub level: Level,
    /// The SVG viewBox: `(min_x, min_y, width, height)`, the same for all layers.
    pub view_box: (f64, f64, f64, f64),
    /// The areas, sorted by code.
    pub areas: Vec<Area>,
}

/// The five map layers.
#[derive(Debug, Clone, PartialEq)]
pub struct Maps {
    /// One layer per [`Level`], in the order of [`Level::ALL`].
    pub layers: Vec<Layer>,
}

impl Maps {
    /// Builds the five layers from the boundaries file of `reference_dir` and the codes
    /// and names of `geography` (loaded from the same folder).
    pub fn load(reference_dir: &Path, geography: &Geography) -> Result<Maps, MapError> {
        Ok(build(reference_dir, geography)?.maps)
    }

    /// The layer of `level`.
    pub fn layer(&self, level: Level) -> &Layer {
        self.layers
            .iter()
            .find(|l| l.level == level)
            .expect("Maps::load builds a layer for every level")
    }
}

/// One area's geometry, before simplification.
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))] // `members` is read by the tests only.
pub(crate) struct Shape {
    /// The 2019 municipalities the area is the union of.
    pub members: Vec<String>,
    /// The union's rings as arc references (exteriors with positive area, holes negative).
    pub rings: Vec<Vec<i32>>,
}

/// Everything [`Maps::load`] computes, kept for the tests.
#[cfg_attr(not(test), allow(dead_code))] // All but `maps` are read by the tests only.
pub(crate) struct Built {
    /// The layers.
    pub maps: Maps,
    /// The projected, unsimplified arcs.
    pub raw: Vec<Vec<Pt>>,
    /// The same arcs, simplified.
    pub simple: Vec<Vec<Pt>>,
    /// Each 2019 municipality's oriented rings.
    pub members: BTreeMap<String, Vec<Vec<i32>>>,
    /// The areas by level and code.
    pub shapes: BTreeMap<(Level, String), Shape>,
}

/// The French and Dutch names of an area.
fn names(geography: &Geography, level: Level, code: &str) -> Option<(String, String)> {
    let pair = |fr: &str, nl: &str| Some((fr.to_string(), nl.to_string()));
    match level {
        Level::Municipality => geography
            .municipalities_2025
            .iter()
            .find(|m| m.nis == code)
            .and_then(|m| pair(&m.name_fr, &m.name_nl)),
        Level::District => geography
            .districts
            .iter()
            .find(|d| d.nis == code)
            .and_then(|d| pair(&d.name_fr, &d.name_nl)),
        // Brussels-Capital has no province: its "province" code is the region's.
        Level::Province => match geography.provinces.iter().find(|p| p.nis == code) {
            Some(p) => pair(&p.name_fr, &p.name_nl),
            None => names(geography, Level::Region, code),
        },
        Level::Region => geography
            .regions
            .iter()
            .find(|r| r.nis == code)
            .and_then(|r| pair(&r.name_fr, &r.name_nl)),
        Level::Belgium => pair("Belgique", "België"),
    }
}

/// Builds the layers and keeps the intermediate geometry.
pub(crate) fn build(reference_dir: &Path, geography: &Geography) -> Result<Built, MapError> {
    build_with(reference_dir, geography, SIMPLIFY_TOLERANCE)
}

/// [`build`] with a given simplification tolerance.
pub(crate) fn build_with(
    reference_dir: &Path,
    geography: &Geography,
    tolerance: f64,
) -> Result<Built, MapError> {
    let path = reference_dir.join(BOUNDARIES_FILE);
    let parse = |message: String| MapError::Parse {
        path: path.clone(),
        message,
    };
    let inconsistent = |message: String| MapError::Inconsistent {
        path: path.clone(),
        message,
    };
    let topology = topojson::read(&path, CODE_PROPERTY)?;
    let (raw, view_box) = geometry::project(&topology.arcs);
    let nodes = Nodes::new(&raw);

    // Each 2019 municipality's rings, oriented: exteriors positive, holes negative.
    let mut members: BTreeMap<String, Vec<Vec<i32>>> = BTreeMap::new();
    for feature in &topology.features {
        let mut rings = Vec::new();
        for polygon in &feature.polygons {
            for (i, ring) in polygon.iter().enumerate() {
                if !nodes.is_closed(ring) {
                    return Err(parse(format!(
                        "a ring of municipality {} is not closed",
                        feature.code
                    )));
                }
                let area = geometry::signed_area(&geometry::ring_points(ring, &raw));
                if area == 0.0 {
                    return Err(parse(format!(
                        "a ring of municipality {} has no area",
                        feature.code
                    )));
                }
                let exterior = i == 0;
                rings.push(if (area > 0.0) == exterior {
                    ring.clone()
                } else {
                    geometry::reversed(ring)
                });
            }
        }
        if members.insert(feature.code.clone(), rings).is_some() {
            return Err(inconsistent(format!(
                "municipality {} appears twice",
                feature.code
            )));
        }
    }
    for m in &geography.municipalities_2019 {
        if !members.contains_key(&m.nis) {
            return Err(inconsistent(format!(
                "the 2019 municipality {} ({}) has no boundary",
                m.nis, m.name_nl
            )));
        }
    }
    let codes_2019: BTreeSet<&str> = geography
        .municipalities_2019
        .iter()
        .map(|m| m.nis.as_str())
        .collect();
    if let Some(extra) = members.keys().find(|c| !codes_2019.contains(c.as_str())) {
        return Err(inconsistent(format!(
            "municipality {extra} is not in the 2019 municipality list"
        )));
    }

    // Group the 2019 municipalities by the areas of their 2025 municipality.
    let by_nis_2025: BTreeMap<&str, &aim_model::geography::Municipality> = geography
        .municipalities_2025
        .iter()
        .map(|m| (m.nis.as_str(), m))
        .collect();
    let mut groups: BTreeMap<(Level, String), Vec<String>> = BTreeMap::new();
    for code in members.keys() {
        let m = geography
            .to_2025
            .get(code)
            .and_then(|c| by_nis_2025.get(c.as_str()))
            .ok_or_else(|| {
                inconsistent(format!(
                    "municipality {code} has no municipality of 2025 in the merger mapping"
                ))
            })?;
        for (level, key) in [
            (Level::Municipality, &m.nis),
            (Level::District, &m.district),
            (Level::Province, &m.province),
            (Level::Region, &m.region),
        ] {
            groups
                .entry((level, key.clone()))
                .or_default()
                .push(code.clone());
        }
        groups
            .entry((Level::Belgium, "BE".to_string()))
            .or_default()
            .push(code.clone());
    }

    let mut shapes = BTreeMap::new();
    for ((level, code), group) in groups {
        let rings = geometry::union(group.iter().flat_map(|c| &members[c]), &nodes)
            .map_err(|e| parse(format!("cannot merge the {level} {code}: {e}")))?;
        shapes.insert(
            (level, code),
            Shape {
                members: group,
                rings,
            },
        );
    }

    // Simplify each arc once; arcs closing a ring alone or in pairs keep an area.
    let mut min_interior = vec![0usize; raw.len()];
    for ring in members
        .values()
        .flatten()
        .chain(shapes.values().flat_map(|s| &s.rings))
    {
        let need = match ring.len() {
            1 => 2,
            2 => 1,
            _ => 0,
        };
        for &r in ring {
            let i = topojson::arc_index(r);
            min_interior[i] = min_interior[i].max(need);
        }
    }
    let simple: Vec<Vec<Pt>> = raw
        .iter()
        .zip(&min_interior)
        .map(|(arc, &m)| geometry::simplify(arc, tolerance, m))
        .collect();

    let mut layers = Vec::new();
    for level in Level::ALL {
        let mut areas = Vec::new();
        for ((_, code), shape) in shapes.iter().filter(|((l, _), _)| *l == level) {
            let (name_fr, name_nl) = names(geography, level, code).ok_or_else(|| {
                inconsistent(format!(
                    "the {level} {code} has no name in the reference lists"
                ))
            })?;
            let points: Vec<Vec<Pt>> = shape
                .rings
                .iter()
                .map(|r| geometry::ring_points(r, &simple))
                .collect();
            let (x, y) = geometry::label_point(&points);
            let round = |v: f64| geometry::tenths(v) as f64 / 10.0;
            areas.push(Area {
                code: code.clone(),
                name_fr,
                name_nl,
                path: geometry::path_data(&points),
                label_point: (round(x), round(y)),
            });
        }
        layers.push(Layer {
            level,
            view_box,
            areas,
        });
    }
    Ok(Built {
        maps: Maps { layers },
        raw,
        simple,
        members,
        shapes,
    })
}

/// Escapes text for XML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A standalone SVG document of `layer` with names in `lang`: one
/// `<path class="area" id="area-CODE" data-code="CODE" d="…"><title>NAME</title></path>`
/// per area, so that a web page can colour each area by its code (CSS on `.area` or
/// `[data-code]` overrides the light-grey default fill and white borders) and show its
/// name on hover.
pub fn svg(layer: &Layer, lang: Lang) -> String {
    let (x, y, w, h) = layer.view_box;
    let mut out = String::with_capacity(
        layer
            .areas
            .iter()
            .map(|a| a.path.len() + 120)
            .sum::<usize>()
            + 400,
    );
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{x} {y} {w} {h}\" \
         role=\"img\" aria-label=\"{}\" fill=\"#d9d9d9\" fill-rule=\"evenodd\" \
         stroke=\"#ffffff\" stroke-width=\"0.5\" stroke-linejoin=\"round\">",
        escape(layer.level.label(lang))
    );
    for area in &layer.areas {
        let name = match lang {
            Lang::Fr => &area.name_fr,
            Lang::Nl => &area.name_nl,
        };
        let code = escape(&area.code);
        let _ = writeln!(
            out,
            "<path class=\"area\" id=\"area-{code}\" data-code=\"{code}\" d=\"{}\"><title>{}</title></path>",
            area.path,
            escape(name)
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests;
