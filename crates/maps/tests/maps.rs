//! The public API on the shared reference data: counts, codes, SVG well-formedness,
//! determinism, sizes and error messages.

use aim_maps::{Lang, Level, MapError, Maps, svg};
use aim_model::geography::{Geography, default_reference_dir};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

fn geography() -> &'static Geography {
    static G: OnceLock<Geography> = OnceLock::new();
    G.get_or_init(|| Geography::load(&default_reference_dir()).expect("reference data load"))
}

fn maps() -> &'static Maps {
    static M: OnceLock<Maps> = OnceLock::new();
    M.get_or_init(|| Maps::load(&default_reference_dir(), geography()).expect("maps load"))
}

#[test]
fn each_level_has_the_expected_areas() {
    let g = geography();
    let m = maps();
    let provinces: BTreeSet<&str> = g
        .municipalities_2025
        .iter()
        .map(|m| m.province.as_str())
        .collect();
    assert_eq!(provinces.len(), 11, "ten provinces and Brussels-Capital");
    for (level, n) in [
        (Level::Municipality, 565),
        (Level::District, 43),
        (Level::Province, 11),
        (Level::Region, 3),
        (Level::Belgium, 1),
    ] {
        let layer = m.layer(level);
        assert_eq!(layer.level, level);
        assert_eq!(layer.areas.len(), n, "{level}");
        let codes: Vec<&str> = layer.areas.iter().map(|a| a.code.as_str()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted, "{level}: sorted and unique");
        for a in &layer.areas {
            assert!(!a.path.is_empty(), "{level} {}: empty path", a.code);
            assert!(!a.name_fr.is_empty() && !a.name_nl.is_empty(), "{}", a.code);
            let (w, h) = (layer.view_box.2, layer.view_box.3);
            let (x, y) = a.label_point;
            assert!(
                x > 0.0 && x < w && y > 0.0 && y < h,
                "{} {:?}",
                a.code,
                a.label_point
            );
        }
    }
    let codes: BTreeSet<&str> = m
        .layer(Level::Municipality)
        .areas
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    let expected: BTreeSet<&str> = g
        .municipalities_2025
        .iter()
        .map(|m| m.nis.as_str())
        .collect();
    assert_eq!(codes, expected);
    assert_eq!(codes, g.to_2025.values().map(String::as_str).collect());
    assert!(!codes.contains("11007"), "Borsbeek merged into Antwerpen");
    let province_codes: BTreeSet<&str> = m
        .layer(Level::Province)
        .areas
        .iter()
        .map(|a| a.code.as_str())
        .collect();
    assert_eq!(province_codes, provinces);
    let brussels = &m
        .layer(Level::Province)
        .areas
        .iter()
        .find(|a| a.code == "04000");
    assert_eq!(
        brussels.expect("Brussels-Capital").name_fr,
        "Région de Bruxelles-Capitale"
    );
    let be = &m.layer(Level::Belgium).areas[0];
    assert_eq!((be.code.as_str(), be.name_nl.as_str()), ("BE", "België"));
    // All layers share one viewBox, 1000 wide and less tall (Belgium is wider than tall).
    let vb = m.layer(Level::Municipality).view_box;
    assert_eq!((vb.0, vb.1, vb.2), (0.0, 0.0, 1000.0));
    assert!(vb.3 > 500.0 && vb.3 < 1000.0, "{vb:?}");
    assert!(m.layers.iter().all(|l| l.view_box == vb));
}

#[test]
fn levels_have_names() {
    for level in Level::ALL {
        assert_eq!(level.as_str().parse::<Level>().unwrap(), level);
        assert_eq!(level.to_string(), level.as_str());
    }
    assert_eq!("Province".parse::<Level>().unwrap(), Level::Province);
    let err = "county".parse::<Level>().unwrap_err();
    assert!(matches!(err, MapError::UnknownLevel(_)));
    assert!(err.to_string().contains("county"), "{err}");
}

/// A minimal XML well-formedness check: tags balance, attributes are quoted, text and
/// attribute values contain no bare `<` or `&`. Returns the number of `<path` elements.
fn check_xml(doc: &str) -> Result<usize, String> {
    fn check_text(text: &str) -> Result<(), String> {
        let mut rest = text;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let end = after.find(';').ok_or("unterminated entity")?;
            let entity = &after[..end];
            if !["amp", "lt", "gt", "quot", "apos"].contains(&entity) {
                return Err(format!("unknown entity &{entity};"));
            }
            rest = &after[end + 1..];
        }
        if text.contains('<') || text.contains('>') {
            return Err(format!("bare angle bracket in {text:?}"));
        }
        Ok(())
    }
    let mut stack: Vec<&str> = Vec::new();
    let mut paths = 0;
    let mut rest = doc;
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if stack.is_empty() && !text.trim().is_empty() {
            return Err(format!("text outside the root: {text:?}"));
        }
        check_text(text)?;
        let close = rest[open..].find('>').ok_or("unterminated tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .ok_or(format!("</{name}> without opening tag"))?;
            if top != name {
                return Err(format!("<{top}> closed by </{name}>"));
            }
            continue;
        }
        let (body, self_closing) = match tag.strip_suffix('/') {
            Some(b) => (b, true),
            None => (tag, false),
        };
        let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
        let name = &body[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("bad element name in <{tag}>"));
        }
        // Attributes: name="value" pairs.
        let mut attrs = body[name_end..].trim_start();
        let mut seen = BTreeSet::new();
        while !attrs.is_empty() {
            let eq = attrs
                .find('=')
                .ok_or(format!("attribute without value in <{name}>"))?;
            let attr = attrs[..eq].trim();
            if !seen.insert(attr) {
                return Err(format!("duplicate attribute {attr} in <{name}>"));
            }
            let value = attrs[eq + 1..]
                .strip_prefix('"')
                .ok_or(format!("unquoted attribute {attr} in <{name}>"))?;
            let end = value.find('"').ok_or("unterminated attribute value")?;
            check_text(&value[..end])?;
            attrs = value[end + 1..].trim_start();
        }
        if stack.is_empty() {
            roots += 1;
        }
        if name == "path" {
            paths += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    if !rest.trim().is_empty() {
        return Err("text after the root".into());
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(paths)
}

#[test]
fn the_xml_check_catches_broken_documents() {
    assert_eq!(check_xml("<svg a=\"1\"><path d=\"M0 0\"/></svg>"), Ok(1));
    assert!(check_xml("<svg><path></svg>").is_err());
    assert!(check_xml("<svg><title>A & B</title></svg>").is_err());
    assert!(check_xml("<svg a=1></svg>").is_err());
    assert!(check_xml("<svg></svg><svg></svg>").is_err());
}

#[test]
fn the_svg_is_well_formed_and_complete() {
    let m = maps();
    for layer in &m.layers {
        for lang in [Lang::Fr, Lang::Nl] {
            let doc = svg(layer, lang);
            let paths = check_xml(&doc).unwrap_or_else(|e| panic!("{} {lang:?}: {e}", layer.level));
            assert_eq!(paths, layer.areas.len(), "{}", layer.level);
            assert!(
                doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 ")
            );
            assert!(doc.contains("role=\"img\" aria-label=\""));
            assert!(!doc.contains("NaN"), "{}", layer.level);
            for a in &layer.areas {
                let id = format!(
                    "<path class=\"area\" id=\"area-{0}\" data-code=\"{0}\" d=\"M",
                    a.code
                );
                assert!(doc.contains(&id), "{}", a.code);
            }
        }
    }
    // Names are escaped: Arrondissement d'Anvers.
    let fr = svg(m.layer(Level::District), Lang::Fr);
    assert!(
        fr.contains("<title>Arrondissement d&apos;Anvers</title>"),
        "{fr:.2000}"
    );
    let nl = svg(m.layer(Level::Municipality), Lang::Nl);
    assert!(nl.contains("<title>Antwerpen</title>"));
    assert!(svg(m.layer(Level::Municipality), Lang::Fr).contains("<title>Anvers</title>"));
}

#[test]
fn paths_use_one_decimal_and_valid_commands() {
    for layer in &maps().layers {
        for a in &layer.areas {
            assert!(
                a.path.starts_with('M') && a.path.ends_with('z'),
                "{}",
                a.code
            );
            for number in a
                .path
                .split(|c: char| c.is_ascii_alphabetic() || c == ' ' || c == '-')
                .filter(|s| !s.is_empty())
            {
                let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
                assert!(decimals <= 1, "{}: {number}", a.code);
                assert!(number.parse::<f64>().is_ok(), "{}: {number}", a.code);
            }
            assert!(
                a.path.chars().all(|c| "Mlz0123456789.- ".contains(c)),
                "{}",
                a.code
            );
        }
    }
}

#[test]
fn the_output_is_deterministic_and_small() {
    let g = geography();
    let again = Maps::load(&default_reference_dir(), g).expect("maps load");
    assert_eq!(&again, maps());
    for level in Level::ALL {
        for lang in [Lang::Fr, Lang::Nl] {
            let a = svg(maps().layer(level), lang);
            let b = svg(again.layer(level), lang);
            assert_eq!(a, b);
            println!("{level:>12} {lang:?}: {:>7} bytes", a.len());
        }
    }
    let size = svg(maps().layer(Level::Municipality), Lang::Fr).len();
    assert!(size < 350_000, "municipality SVG is {size} bytes");
}

#[test]
fn a_missing_or_broken_boundaries_file_is_named() {
    let g = geography();
    let missing = Path::new("/nonexistent/reference");
    let err = Maps::load(missing, g).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MapError::Read { .. }), "{msg}");
    assert!(
        msg.contains("/nonexistent/reference/municipalities-2019.WGS84.topojson"),
        "{msg}"
    );

    let dir = std::env::temp_dir().join(format!("aim-maps-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("municipalities-2019.WGS84.topojson");
    std::fs::write(&file, "{\"type\": \"FeatureCollection\"}").unwrap();
    let broken = Maps::load(&dir, g).unwrap_err();
    // A topology with one municipality only: the others have no boundary.
    std::fs::write(
        &file,
        r#"{"type":"Topology","arcs":[[[4.0,50.0],[4.1,50.0],[4.1,50.1],[4.0,50.0]]],
            "objects":{"m":{"type":"GeometryCollection","geometries":[
              {"type":"Polygon","arcs":[[0]],"properties":{"AdMuKey":"11001"}}]}}}"#,
    )
    .unwrap();
    let partial = Maps::load(&dir, g).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    let msg = broken.to_string();
    assert!(matches!(broken, MapError::Parse { .. }), "{msg}");
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    let msg = partial.to_string();
    assert!(matches!(partial, MapError::Inconsistent { .. }), "{msg}");
    assert!(msg.contains("has no boundary"), "{msg}");
    assert!(msg.contains(&file.display().to_string()), "{msg}");
}
