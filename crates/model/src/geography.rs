//! Belgian geography: regions, provinces, districts, municipalities (the 2019 list of 581
//! and the 2025 list of 565, after the 1 January 2025 mergers), statistical sectors and
//! Statbel population by region, sex and age.
//!
//! Loaded from the public reference data folder (`shared/data/`, see its README); the
//! merger mapping is the embedded `reference/mergers-2025.csv`, checked here against the
//! two lists every time the geography is loaded.

use crate::codes::{Merger, mergers_2025};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The first day on which the 2025 municipality list is in force.
pub fn mergers_effective() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date")
}

/// A problem with the reference data folder.
#[derive(Debug, thiserror::Error)]
pub enum GeographyError {
    /// A file could not be read.
    #[error("cannot read reference file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file could not be parsed.
    #[error("reference file {path} is malformed: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The lists contradict each other or the merger mapping.
    #[error("reference data are inconsistent: {0}")]
    Inconsistent(String),
}

/// A region (Flanders, Wallonia, Brussels-Capital).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Region {
    /// NIS code (`02000`, `03000`, `04000`).
    pub nis: String,
    /// Dutch name.
    pub name_nl: String,
    /// French name.
    pub name_fr: String,
}

/// A province (Brussels-Capital, which has none, appears with its region code).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Province {
    /// NIS code.
    pub nis: String,
    /// Dutch name.
    pub name_nl: String,
    /// French name.
    pub name_fr: String,
    /// Region NIS code.
    pub region: String,
}

/// An administrative district (arrondissement).
#[derive(Debug, Clone, serde::Serialize)]
pub struct District {
    /// NIS code (e.g. `11000`).
    pub nis: String,
    /// Dutch name.
    pub name_nl: String,
    /// French name.
    pub name_fr: String,
    /// Region NIS code.
    pub region: String,
}

/// A municipality of one of the two lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Municipality {
    /// NIS code.
    pub nis: String,
    /// Dutch name.
    pub name_nl: String,
    /// French name.
    pub name_fr: String,
    /// District NIS code.
    pub district: String,
    /// Province NIS code (the region code for Brussels).
    pub province: String,
    /// Region NIS code.
    pub region: String,
    /// Legal population on 1 January 2020 (2019 list only; for the 2025 list, the sum of
    /// the merged 2019 municipalities).
    pub population_2020: u64,
}

/// A statistical sector (2019 boundaries).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sector {
    /// Nine-character NIS code.
    pub nis9: String,
    /// Its 2019 municipality.
    pub municipality: String,
}

/// Population on 1 January of a region, sex and single year of age (Statbel).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PopulationCell {
    /// Region NIS code.
    pub region: String,
    /// `M` or `F`.
    pub sex: char,
    /// Age in completed years (the last age is open-ended as published).
    pub age: u16,
    /// Year.
    pub year: i32,
    /// Number of inhabitants.
    pub population: u64,
}

/// The whole geography.
#[derive(Debug, Clone)]
pub struct Geography {
    /// The three regions.
    pub regions: Vec<Region>,
    /// The ten provinces.
    pub provinces: Vec<Province>,
    /// The 43 districts.
    pub districts: Vec<District>,
    /// The 581 municipalities before 2025.
    pub municipalities_2019: Vec<Municipality>,
    /// The 565 municipalities from 2025.
    pub municipalities_2025: Vec<Municipality>,
    /// Statistical sectors (2019 boundaries).
    pub sectors: Vec<Sector>,
    /// Each 2019 municipality's 2025 municipality (identity where unchanged).
    pub to_2025: BTreeMap<String, String>,
    /// Population by region, sex, age and year.
    pub population: Vec<PopulationCell>,
}

fn read(dir: &Path, name: &str) -> Result<(PathBuf, String), GeographyError> {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).map_err(|source| GeographyError::Read {
        path: path.clone(),
        source,
    })?;
    // Most files are UTF-8; the statistical-sector dictionary is Latin-1.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    Ok((path, text))
}

fn csv_rows<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    name: &str,
) -> Result<Vec<T>, GeographyError> {
    let (path, text) = read(dir, name)?;
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| GeographyError::Parse {
            path,
            message: e.to_string(),
        })
}

fn json_rows<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    name: &str,
) -> Result<Vec<T>, GeographyError> {
    let (path, text) = read(dir, name)?;
    serde_json::from_str(&text).map_err(|e| GeographyError::Parse {
        path,
        message: e.to_string(),
    })
}

#[derive(Deserialize)]
struct Names {
    nl: String,
    fr: String,
}

#[derive(Deserialize)]
struct JsonArea {
    id: String,
    name: Names,
    #[serde(default)]
    province: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

#[derive(Deserialize)]
struct Muni2019Row {
    nis: String,
    name_nl: String,
    name_fr: String,
    district_nis: String,
    region_nis: String,
    population_2020: u64,
}

#[derive(Deserialize)]
struct DistrictRow {
    nis: String,
    name_nl: String,
    name_fr: String,
    region_nis: String,
}

#[derive(Deserialize)]
struct SectorRow {
    #[serde(rename = "NIS9")]
    nis9: String,
    #[serde(rename = "NIS5")]
    nis5: String,
}

#[derive(Deserialize)]
struct PopRow {
    region: String,
    sex: char,
    age: u16,
    year: i32,
    population: u64,
}

/// NIS code of the region named in Statbel's population file.
fn region_code(name: &str) -> Option<&'static str> {
    match name {
        "Flanders" => Some("02000"),
        "Wallonia" => Some("03000"),
        "Brussels" => Some("04000"),
        _ => None,
    }
}

/// The district of a municipality: its first two NIS digits followed by `000`.
pub fn district_of(nis: &str) -> String {
    format!("{}000", &nis[..2])
}

impl Geography {
    /// Loads the geography from the reference data folder and checks the 2025 merger
    /// mapping against the two municipality lists.
    pub fn load(dir: &Path) -> Result<Geography, GeographyError> {
        let regions: Vec<Region> = json_rows::<JsonArea>(dir, "regions.json")?
            .into_iter()
            .map(|a| Region {
                nis: a.id,
                name_nl: a.name.nl,
                name_fr: a.name.fr,
            })
            .collect();
        let provinces: Vec<Province> = json_rows::<JsonArea>(dir, "provinces.json")?
            .into_iter()
            .map(|a| Province {
                nis: a.id,
                name_nl: a.name.nl,
                name_fr: a.name.fr,
                region: a.region.unwrap_or_default(),
            })
            .collect();
        let districts: Vec<District> = csv_rows::<DistrictRow>(dir, "districts.csv")?
            .into_iter()
            .map(|d| District {
                nis: d.nis,
                name_nl: d.name_nl,
                name_fr: d.name_fr,
                region: d.region_nis,
            })
            .collect();
        let m2025_raw: Vec<JsonArea> = json_rows(dir, "municipalities-2025.json")?;
        let m2019_raw: Vec<Muni2019Row> = csv_rows(dir, "municipalities-2019-population-2020.csv")?;
        let mergers = mergers_2025();
        let to_2025 = merger_map(&m2019_raw, &m2025_raw, &mergers)?;

        let province_2025: BTreeMap<&str, &str> = m2025_raw
            .iter()
            .map(|m| (m.id.as_str(), m.province.as_deref().unwrap_or("")))
            .collect();
        let municipalities_2019: Vec<Municipality> = m2019_raw
            .iter()
            .map(|m| Municipality {
                nis: m.nis.clone(),
                name_nl: m.name_nl.clone(),
                name_fr: m.name_fr.clone(),
                district: m.district_nis.clone(),
                province: province_2025[to_2025[&m.nis].as_str()].to_string(),
                region: m.region_nis.clone(),
                population_2020: m.population_2020,
            })
            .collect();
        let mut pop_2025: BTreeMap<&str, u64> = BTreeMap::new();
        for m in &m2019_raw {
            *pop_2025.entry(to_2025[&m.nis].as_str()).or_default() += m.population_2020;
        }
        let municipalities_2025: Vec<Municipality> = m2025_raw
            .iter()
            .map(|m| Municipality {
                nis: m.id.clone(),
                name_nl: m.name.nl.clone(),
                name_fr: m.name.fr.clone(),
                district: district_of(&m.id),
                province: m.province.clone().unwrap_or_default(),
                region: m.region.clone().unwrap_or_default(),
                population_2020: pop_2025.get(m.id.as_str()).copied().unwrap_or(0),
            })
            .collect();
        let district_codes: BTreeSet<&str> = districts.iter().map(|d| d.nis.as_str()).collect();
        for m in municipalities_2019.iter().chain(&municipalities_2025) {
            if !district_codes.contains(m.district.as_str()) {
                return Err(GeographyError::Inconsistent(format!(
                    "municipality {} ({}) lies in district {}, which districts.csv does not list",
                    m.nis, m.name_nl, m.district
                )));
            }
        }
        let sectors = csv_rows::<SectorRow>(dir, "statistical-sectors-dictionary.csv")?
            .into_iter()
            .map(|s| Sector {
                nis9: s.nis9,
                municipality: s.nis5,
            })
            .collect();
        let population = csv_rows::<PopRow>(dir, "population-region-sex-age-2006-2021.csv")?
            .into_iter()
            .map(|r| {
                let region = region_code(&r.region).ok_or_else(|| {
                    GeographyError::Inconsistent(format!(
                        "unknown region name '{}' in the population file",
                        r.region
                    ))
                })?;
                Ok(PopulationCell {
                    region: region.to_string(),
                    sex: r.sex,
                    age: r.age,
                    year: r.year,
                    population: r.population,
                })
            })
            .collect::<Result<Vec<_>, GeographyError>>()?;
        Ok(Geography {
            regions,
            provinces,
            districts,
            municipalities_2019,
            municipalities_2025,
            sectors,
            to_2025,
            population,
        })
    }

    /// The municipality list in force on `date` (2019 list before 2025, 2025 list after).
    pub fn municipalities_on(&self, date: NaiveDate) -> &[Municipality] {
        if date < mergers_effective() {
            &self.municipalities_2019
        } else {
            &self.municipalities_2025
        }
    }

    /// The latest year the population file covers.
    pub fn latest_population_year(&self) -> i32 {
        self.population.iter().map(|c| c.year).max().unwrap_or(2021)
    }
}

/// Builds and checks the 2019 → 2025 map: every 2019 code maps to a 2025 code, every
/// merger target is in the 2025 list, and every new 2025 code is a merger target.
fn merger_map(
    m2019: &[Muni2019Row],
    m2025: &[JsonArea],
    mergers: &[Merger],
) -> Result<BTreeMap<String, String>, GeographyError> {
    let codes_2019: BTreeSet<&str> = m2019.iter().map(|m| m.nis.as_str()).collect();
    let codes_2025: BTreeSet<&str> = m2025.iter().map(|m| m.id.as_str()).collect();
    let mut map = BTreeMap::new();
    for m in mergers {
        if !codes_2019.contains(m.nis_2019.as_str()) {
            return Err(GeographyError::Inconsistent(format!(
                "merger source {} is not a 2019 municipality",
                m.nis_2019
            )));
        }
        if !codes_2025.contains(m.nis_2025.as_str()) {
            return Err(GeographyError::Inconsistent(format!(
                "merger target {} is not a 2025 municipality",
                m.nis_2025
            )));
        }
        map.insert(m.nis_2019.clone(), m.nis_2025.clone());
    }
    for code in &codes_2019 {
        if !map.contains_key(*code) {
            if !codes_2025.contains(code) {
                return Err(GeographyError::Inconsistent(format!(
                    "2019 municipality {code} is missing from the 2025 list and from the merger mapping"
                )));
            }
            map.insert(code.to_string(), code.to_string());
        }
    }
    let targets: BTreeSet<&str> = map.values().map(String::as_str).collect();
    for code in &codes_2025 {
        if !targets.contains(code) {
            return Err(GeographyError::Inconsistent(format!(
                "2025 municipality {code} has no 2019 municipality"
            )));
        }
    }
    Ok(map)
}

/// The reference data folder used by tests and the demo: `shared/data/` next to the
/// repository, or the folder named by `AIM_REFERENCE_DIR`.
pub fn default_reference_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("AIM_REFERENCE_DIR") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/model → repository root → its parent holds shared/.
    let dir = manifest.join("../../../shared/data");
    dir.canonicalize().unwrap_or(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_shared_reference_data() {
        let g = Geography::load(&default_reference_dir()).expect("shared/data loads");
        assert_eq!(g.regions.len(), 3);
        assert_eq!(g.provinces.len(), 10);
        assert_eq!(g.districts.len(), 43);
        assert_eq!(g.municipalities_2019.len(), 581);
        assert_eq!(g.municipalities_2025.len(), 565);
        assert_eq!(g.to_2025["11007"], "11002", "Borsbeek joined Antwerpen");
        assert_eq!(g.to_2025["44045"], "46029", "Moerbeke joined Lokeren");
        let merged = g.to_2025.iter().filter(|(a, b)| a != b).count();
        assert_eq!(
            merged, 29,
            "29 municipalities of 2019 disappeared into 14 of 2025"
        );
        let total_2019: u64 = g
            .municipalities_2019
            .iter()
            .map(|m| m.population_2020)
            .sum();
        let total_2025: u64 = g
            .municipalities_2025
            .iter()
            .map(|m| m.population_2020)
            .sum();
        assert_eq!(total_2019, total_2025);
        assert!(total_2019 > 11_000_000);
        assert!(g.sectors.len() > 19_000);
        assert!(
            g.population
                .iter()
                .any(|c| c.year == 2021 && c.region == "04000")
        );
    }

    #[test]
    fn a_missing_merger_is_reported() {
        let m2019 = vec![Muni2019Row {
            nis: "11007".into(),
            name_nl: "Borsbeek".into(),
            name_fr: "Borsbeek".into(),
            district_nis: "11000".into(),
            region_nis: "02000".into(),
            population_2020: 1,
        }];
        let err = merger_map(&m2019, &[], &[]).unwrap_err();
        assert!(err.to_string().contains("11007"), "{err}");
    }
}
