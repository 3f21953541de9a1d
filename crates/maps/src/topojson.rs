//! Decoding of a TopoJSON topology of polygons: the quantisation `transform`, the
//! delta-encoded arcs and the `Polygon` / `MultiPolygon` geometries of one object.

use crate::MapError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A position in longitude, latitude (degrees, WGS84).
pub(crate) type LonLat = (f64, f64);

/// One feature of the topology: its code and its polygons, each a list of rings (the
/// first the exterior, the others holes), each ring a list of arc references (`i` for
/// arc `i` as stored, `!i` for arc `i` reversed, as in the TopoJSON specification).
#[derive(Debug, Clone)]
pub(crate) struct Feature {
    /// The value of the code property (`AdMuKey`).
    pub code: String,
    /// Polygons → rings → arc references.
    pub polygons: Vec<Vec<Vec<i32>>>,
}

/// A decoded topology.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    /// The arcs, decoded to absolute longitude and latitude.
    pub arcs: Vec<Vec<LonLat>>,
    /// The features of the (single) object.
    pub features: Vec<Feature>,
}

#[derive(Deserialize)]
struct RawTopology {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    transform: Option<RawTransform>,
    arcs: Vec<Vec<Vec<f64>>>,
    objects: BTreeMap<String, RawObject>,
}

#[derive(Deserialize)]
struct RawTransform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct RawObject {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    geometries: Vec<RawGeometry>,
}

#[derive(Deserialize)]
struct RawGeometry {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    arcs: serde_json::Value,
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
}

/// Reads and decodes the TopoJSON file at `path`; `code_property` names the property that
/// holds each feature's code.
pub(crate) fn read(path: &Path, code_property: &str) -> Result<Topology, MapError> {
    let text = std::fs::read_to_string(path).map_err(|source| MapError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, code_property)
}

/// Decodes TopoJSON `text` (read from `path`, named in errors).
pub(crate) fn parse(path: &Path, text: &str, code_property: &str) -> Result<Topology, MapError> {
    let bad = |message: String| MapError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let raw: RawTopology =
        serde_json::from_str(text).map_err(|e| bad(format!("not a TopoJSON topology ({e})")))?;
    if raw.kind != "Topology" {
        return Err(bad(format!(
            "the top-level type is '{}', expected 'Topology'",
            raw.kind
        )));
    }
    let arcs = decode_arcs(&raw.arcs, raw.transform.as_ref()).map_err(bad)?;
    if raw.objects.len() != 1 {
        let names: Vec<&str> = raw.objects.keys().map(String::as_str).collect();
        return Err(bad(format!(
            "expected exactly one object (the municipalities), found {}: {}",
            names.len(),
            names.join(", ")
        )));
    }
    let (name, object) = raw.objects.iter().next().expect("one object");
    if object.kind != "GeometryCollection" {
        return Err(bad(format!(
            "object '{name}' is a {}, expected a GeometryCollection",
            object.kind
        )));
    }
    let mut features = Vec::with_capacity(object.geometries.len());
    for (i, g) in object.geometries.iter().enumerate() {
        let code = match g.properties.get(code_property) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => {
                return Err(bad(format!(
                    "geometry {i} of object '{name}' has no property '{code_property}'"
                )));
            }
        };
        let kind = g.kind.as_deref().unwrap_or("null");
        let polygons: Vec<Vec<Vec<i32>>> = match kind {
            "Polygon" => vec![serde_json::from_value(g.arcs.clone()).map_err(|e| {
                bad(format!(
                    "the polygon of {code_property} {code} is malformed ({e})"
                ))
            })?],
            "MultiPolygon" => serde_json::from_value(g.arcs.clone()).map_err(|e| {
                bad(format!(
                    "the multipolygon of {code_property} {code} is malformed ({e})"
                ))
            })?,
            other => {
                return Err(bad(format!(
                    "{code_property} {code} is a {other} geometry, expected a Polygon or MultiPolygon"
                )));
            }
        };
        for ring in polygons.iter().flatten() {
            if ring.is_empty() {
                return Err(bad(format!("{code_property} {code} has an empty ring")));
            }
            for &r in ring {
                let index = arc_index(r);
                if index >= arcs.len() {
                    return Err(bad(format!(
                        "{code_property} {code} refers to arc {index}, but the file has only {} arcs",
                        arcs.len()
                    )));
                }
            }
        }
        features.push(Feature { code, polygons });
    }
    Ok(Topology { arcs, features })
}

/// The index of the arc an arc reference points to.
pub(crate) fn arc_index(reference: i32) -> usize {
    if reference >= 0 {
        reference as usize
    } else {
        (!reference) as usize
    }
}

/// Decodes the arcs: delta-decoding and the affine transform when quantised, positions as
/// stored otherwise.
fn decode_arcs(
    raw: &[Vec<Vec<f64>>],
    transform: Option<&RawTransform>,
) -> Result<Vec<Vec<LonLat>>, String> {
    raw.iter()
        .enumerate()
        .map(|(i, arc)| {
            if arc.len() < 2 {
                return Err(format!("arc {i} has fewer than two positions"));
            }
            let mut out = Vec::with_capacity(arc.len());
            let (mut qx, mut qy) = (0i64, 0i64);
            for p in arc {
                let (&x, &y) = match p.as_slice() {
                    [x, y, ..] => (x, y),
                    _ => {
                        return Err(format!(
                            "arc {i} has a position with fewer than two numbers"
                        ));
                    }
                };
                if !x.is_finite() || !y.is_finite() {
                    return Err(format!("arc {i} has a position that is not a number"));
                }
                match transform {
                    Some(t) => {
                        if x.fract() != 0.0 || y.fract() != 0.0 {
                            return Err(format!(
                                "arc {i} has a non-integer position in a quantised topology"
                            ));
                        }
                        // Integer arithmetic, so that equal junctions decode to equal floats.
                        qx += x as i64;
                        qy += y as i64;
                        out.push((
                            qx as f64 * t.scale[0] + t.translate[0],
                            qy as f64 * t.scale[1] + t.translate[1],
                        ));
                    }
                    None => out.push((x, y)),
                }
            }
            Ok(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_quantised_topology() {
        let text = r#"{"type":"Topology","transform":{"scale":[0.5,2],"translate":[4,50]},
            "arcs":[[[0,0],[2,0],[0,1]],[[2,1],[-2,-1]]],
            "objects":{"x":{"type":"GeometryCollection","geometries":[
              {"type":"Polygon","arcs":[[0,1]],"properties":{"AdMuKey":"11001"}},
              {"type":"MultiPolygon","arcs":[[[-2,-1]]],"properties":{"AdMuKey":11002}}]}}}"#;
        let t = parse(Path::new("t.topojson"), text, "AdMuKey").unwrap();
        assert_eq!(t.arcs[0], vec![(4.0, 50.0), (5.0, 50.0), (5.0, 52.0)]);
        assert_eq!(t.arcs[1], vec![(5.0, 52.0), (4.0, 50.0)]);
        assert_eq!(t.features[0].code, "11001");
        assert_eq!(t.features[1].code, "11002");
        assert_eq!(t.features[1].polygons, vec![vec![vec![-2, -1]]]);
        assert_eq!(arc_index(-2), 1);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let text = r#"{"type":"Topology","arcs":[[[0,0],[1,1]]],
            "objects":{"x":{"type":"GeometryCollection","geometries":[
              {"type":"Polygon","arcs":[[0,5]],"properties":{"AdMuKey":"11001"}}]}}}"#;
        let e = parse(Path::new("/data/m.topojson"), text, "AdMuKey").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("/data/m.topojson"), "{msg}");
        assert!(msg.contains("arc 5"), "{msg}");
        let e = parse(Path::new("/data/m.topojson"), "{}", "AdMuKey").unwrap_err();
        assert!(e.to_string().contains("/data/m.topojson"), "{e}");
    }
}
