//! The Atlas in memory, indexed for the pages: figures by (indicator, year, level, sex, age
//! group), sorted by area; area names; the hierarchy of areas.

use crate::text::Lang;
use aim_atlas::compute::{AGE_GROUPS, ALL};
use aim_atlas::{Atlas, Figure, Indicator};
use aim_maps::{Level, Maps};
use aim_model::geography::Geography;
use std::collections::{BTreeSet, HashMap};

/// The sexes, as in the figures: both, women, men.
pub const SEXES: [&str; 3] = [ALL, "F", "M"];

/// The age groups, as in the figures: all ages first.
pub fn ages() -> Vec<&'static str> {
    std::iter::once(ALL)
        .chain(AGE_GROUPS.iter().map(|g| g.0))
        .collect()
}

/// The position of a level in [`Level::ALL`].
pub fn level_index(level: Level) -> usize {
    Level::ALL
        .iter()
        .position(|l| *l == level)
        .expect("a level")
}

/// One selection of figures: an indicator (its index), a year, a level, a sex and an age
/// group (codes as in the figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Index of the indicator in the manifest.
    pub indicator: usize,
    /// Year.
    pub year: i32,
    /// Level.
    pub level: Level,
    /// `all`, `F` or `M`.
    pub sex: &'static str,
    /// `all` or an age group.
    pub age: &'static str,
}

/// A figure's value, interval and whether it is standardised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value {
    /// The value.
    pub value: f64,
    /// 95 % interval.
    pub low: f64,
    /// 95 % interval.
    pub high: f64,
}

/// The value a map shows: the standardised rate for all ages, the crude rate for an age
/// group. `None` when the figure is masked or has no such rate.
pub fn shown(f: &Figure) -> Option<Value> {
    if !f.released {
        return None;
    }
    let (v, lo, hi) = if f.age_group == ALL {
        (f.standardised, f.standardised_low, f.standardised_high)
    } else {
        (f.crude, f.crude_low, f.crude_high)
    };
    v.map(|value| Value {
        value,
        low: lo.unwrap_or(value),
        high: hi.unwrap_or(value),
    })
}

/// The Atlas, maps and indexes.
pub struct Data {
    /// The Atlas.
    pub atlas: Atlas,
    /// The map layers.
    pub maps: Maps,
    /// Years, ascending.
    pub years: Vec<i32>,
    selections: HashMap<Key, Vec<usize>>,
    ages_of: Vec<BTreeSet<&'static str>>,
    names: HashMap<(Level, String), (String, String)>,
    parents: HashMap<(Level, String), Vec<(Level, String)>>,
    children: HashMap<(Level, String), BTreeSet<(Level, String)>>,
}

fn intern(s: &str, among: &[&'static str]) -> Option<&'static str> {
    among.iter().copied().find(|a| *a == s)
}

impl Data {
    /// Indexes an Atlas.
    pub fn new(mut atlas: Atlas, maps: Maps, geography: &Geography) -> Data {
        // A figure the gate did not release carries no number, whatever the file says.
        for f in atlas.figures.iter_mut().filter(|f| !f.released) {
            f.persons = None;
            f.numerator = None;
            f.crude = None;
            f.crude_low = None;
            f.crude_high = None;
            f.standardised = None;
            f.standardised_low = None;
            f.standardised_high = None;
            f.vs_belgium = None;
        }
        let ind_pos: HashMap<&str, usize> = atlas
            .manifest
            .indicators
            .iter()
            .enumerate()
            .map(|(i, x)| (x.id.as_str(), i))
            .collect();
        let ages = ages();
        let mut selections: HashMap<Key, Vec<usize>> = HashMap::new();
        let mut ages_of = vec![BTreeSet::new(); atlas.manifest.indicators.len()];
        let mut years: BTreeSet<i32> = atlas.manifest.years.iter().copied().collect();
        for (i, f) in atlas.figures.iter().enumerate() {
            let (Some(&ind), Ok(level), Some(sex), Some(age)) = (
                ind_pos.get(f.indicator.as_str()),
                f.level.parse::<Level>(),
                intern(&f.sex, &SEXES),
                intern(&f.age_group, &ages),
            ) else {
                continue;
            };
            years.insert(f.year);
            ages_of[ind].insert(age);
            selections
                .entry(Key {
                    indicator: ind,
                    year: f.year,
                    level,
                    sex,
                    age,
                })
                .or_default()
                .push(i);
        }
        for list in selections.values_mut() {
            list.sort_by(|a, b| atlas.figures[*a].area.cmp(&atlas.figures[*b].area));
            list.dedup_by(|a, b| atlas.figures[*a].area == atlas.figures[*b].area);
        }
        let mut names = HashMap::new();
        for layer in &maps.layers {
            for a in &layer.areas {
                names.insert(
                    (layer.level, a.code.clone()),
                    (a.name_fr.clone(), a.name_nl.clone()),
                );
            }
        }
        let mut parents: HashMap<(Level, String), Vec<(Level, String)>> = HashMap::new();
        let mut children: HashMap<(Level, String), BTreeSet<(Level, String)>> = HashMap::new();
        for m in &geography.municipalities_2025 {
            let chain = [
                (Level::Municipality, m.nis.clone()),
                (Level::District, m.district.clone()),
                (Level::Province, m.province.clone()),
                (Level::Region, m.region.clone()),
                (Level::Belgium, aim_atlas::compute::BELGIUM.to_string()),
            ];
            // Brussels-Capital is both a "province" and a region, with one code: it is listed
            // once among the parents, and the region's children are its districts.
            let same = |a: &(Level, String), b: &(Level, String)| a.1 == b.1;
            for (k, area) in chain.iter().enumerate() {
                let mut up: Vec<(Level, String)> = Vec::new();
                for (j, p) in chain.iter().enumerate().skip(k + 1) {
                    let dup_next = chain.get(j + 1).is_some_and(|n| same(p, n));
                    if !same(p, area) && !dup_next && names.contains_key(p) {
                        up.push(p.clone());
                    }
                }
                parents.entry(area.clone()).or_insert(up);
                if k + 1 < chain.len() {
                    let parent = &chain[k + 1];
                    if same(area, parent) {
                        continue;
                    }
                    let parent = if k + 2 < chain.len() && same(parent, &chain[k + 2]) {
                        &chain[k + 2]
                    } else {
                        parent
                    };
                    children
                        .entry(parent.clone())
                        .or_default()
                        .insert(area.clone());
                }
            }
        }
        Data {
            atlas,
            maps,
            years: years.into_iter().collect(),
            selections,
            ages_of,
            names,
            parents,
            children,
        }
    }

    /// The indicators.
    pub fn indicators(&self) -> &[Indicator] {
        &self.atlas.manifest.indicators
    }

    /// The index of an indicator.
    pub fn indicator(&self, id: &str) -> Option<usize> {
        self.indicators().iter().position(|i| i.id == id)
    }

    /// The latest year.
    pub fn latest_year(&self) -> Option<i32> {
        self.years.last().copied()
    }

    /// The age groups with figures for an indicator (all ages first).
    pub fn ages_of(&self, indicator: usize) -> Vec<&'static str> {
        ages()
            .into_iter()
            .filter(|a| self.ages_of[indicator].contains(a))
            .collect()
    }

    /// The figures of a selection, sorted by area code.
    pub fn figures(&self, key: &Key) -> impl Iterator<Item = &Figure> {
        self.selections
            .get(key)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.atlas.figures[i])
    }

    /// Whether a selection has figures.
    pub fn has(&self, key: &Key) -> bool {
        self.selections.contains_key(key)
    }

    /// The figure of one area in a selection.
    pub fn figure(&self, key: &Key, area: &str) -> Option<&Figure> {
        let list = self.selections.get(key)?;
        list.binary_search_by(|&i| self.atlas.figures[i].area.as_str().cmp(area))
            .ok()
            .map(|p| &self.atlas.figures[list[p]])
    }

    /// An area's name in a language; `None` for an unknown area.
    pub fn name(&self, level: Level, code: &str, lang: Lang) -> Option<&str> {
        self.names
            .get(&(level, code.to_string()))
            .map(|(fr, nl)| match lang {
                Lang::Fr => fr.as_str(),
                Lang::Nl => nl.as_str(),
            })
    }

    /// The areas containing an area, from the nearest up to Belgium.
    pub fn parents(&self, level: Level, code: &str) -> &[(Level, String)] {
        self.parents
            .get(&(level, code.to_string()))
            .map(|v| v.as_slice())
            .unwrap_or(&[])
    }

    /// The areas an area is directly made of.
    pub fn children(&self, level: Level, code: &str) -> Vec<&(Level, String)> {
        self.children
            .get(&(level, code.to_string()))
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }
}
