//! The Atlas on disk (`WH/atlas/`): `manifest.json` (what it was computed from, the gate's
//! outcome) and `figures.csv` (every figure; suppressed ones without numbers). Written to a
//! temporary folder and renamed into place, so a reader never sees half an Atlas.

use crate::AtlasError;
use crate::compute::{Atlas, Comparison, Figure, Manifest};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The Atlas folder of a warehouse.
pub fn dir(warehouse_root: &Path) -> PathBuf {
    warehouse_root.join("atlas")
}

/// The CSV header of the figures.
pub const HEADER: &str = "indicator,year,level,area,sex,age_group,released,persons,numerator,crude,crude_low,crude_high,standardised,standardised_low,standardised_high,vs_belgium";

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_default()
}

/// One figure as a CSV line (no field needs quoting: codes and numbers only).
pub fn csv_line(f: &Figure) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        f.indicator,
        f.year,
        f.level,
        f.area,
        f.sex,
        f.age_group,
        f.released,
        f.persons.map(|p| p.to_string()).unwrap_or_default(),
        num(f.numerator),
        num(f.crude),
        num(f.crude_low),
        num(f.crude_high),
        num(f.standardised),
        num(f.standardised_low),
        num(f.standardised_high),
        match f.vs_belgium {
            Some(Comparison::Higher) => "higher",
            Some(Comparison::Lower) => "lower",
            Some(Comparison::Similar) => "similar",
            None => "",
        }
    )
}

/// Writes figures as CSV.
pub fn write_csv<'a>(
    path: &Path,
    figures: impl Iterator<Item = &'a Figure>,
) -> Result<(), AtlasError> {
    let io = |e: std::io::Error| AtlasError::Io(format!("{}: {e}", path.display()));
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    writeln!(w, "{HEADER}").map_err(io)?;
    for f in figures {
        writeln!(w, "{}", csv_line(f)).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Saves the Atlas in `WH/atlas/`, replacing the previous one in one rename.
pub fn save(warehouse_root: &Path, atlas: &Atlas) -> Result<(), AtlasError> {
    let target = dir(warehouse_root);
    let tmp = warehouse_root.join(".atlas.tmp");
    let io = |p: &Path, e: std::io::Error| AtlasError::Io(format!("{}: {e}", p.display()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    write_csv(&tmp.join("figures.csv"), atlas.figures.iter())?;
    let manifest = serde_json::to_string_pretty(&atlas.manifest).expect("serialisable");
    std::fs::write(tmp.join("manifest.json"), manifest + "\n")
        .map_err(|e| io(&tmp.join("manifest.json"), e))?;
    let old = warehouse_root.join(".atlas.old");
    if target.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
        std::fs::rename(&target, &old).map_err(|e| io(&target, e))?;
    }
    std::fs::rename(&tmp, &target).map_err(|e| io(&target, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}

/// Loads the Atlas of a warehouse; `None` when it was never computed.
pub fn load(warehouse_root: &Path) -> Result<Option<Atlas>, AtlasError> {
    let d = dir(warehouse_root);
    let manifest_path = d.join("manifest.json");
    if !manifest_path.exists() {
        return Ok(None);
    }
    let io = |p: &Path, e: String| AtlasError::Io(format!("{}: {e}", p.display()));
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(&manifest_path).map_err(|e| io(&manifest_path, e.to_string()))?,
    )
    .map_err(|e| io(&manifest_path, e.to_string()))?;
    let figures_path = d.join("figures.csv");
    let text =
        std::fs::read_to_string(&figures_path).map_err(|e| io(&figures_path, e.to_string()))?;
    let mut figures = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        figures.push(
            parse_line(line)
                .ok_or_else(|| io(&figures_path, format!("line {} is malformed", n + 1)))?,
        );
    }
    Ok(Some(Atlas { manifest, figures }))
}

fn parse_line(line: &str) -> Option<Figure> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() != 16 {
        return None;
    }
    let opt = |s: &str| -> Option<Option<f64>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some(Figure {
        indicator: f[0].into(),
        year: f[1].parse().ok()?,
        level: f[2].into(),
        area: f[3].into(),
        sex: f[4].into(),
        age_group: f[5].into(),
        released: f[6].parse().ok()?,
        persons: if f[7].is_empty() {
            None
        } else {
            Some(f[7].parse().ok()?)
        },
        numerator: opt(f[8])?,
        crude: opt(f[9])?,
        crude_low: opt(f[10])?,
        crude_high: opt(f[11])?,
        standardised: opt(f[12])?,
        standardised_low: opt(f[13])?,
        standardised_high: opt(f[14])?,
        vs_belgium: match f[15] {
            "higher" => Some(Comparison::Higher),
            "lower" => Some(Comparison::Lower),
            "similar" => Some(Comparison::Similar),
            _ => None,
        },
    })
}
