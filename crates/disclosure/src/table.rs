//! A result table with all its margins: dimensions with hierarchies (municipality → district →
//! province → region → Belgium; age group → all ages), one cell per combination of nodes, and
//! the additivity equations that hold between cells (a parent equals the sum of its children).

use crate::DisclosureError;
use serde::Serialize;
use std::collections::HashMap;

/// One node of a dimension's hierarchy. Node 0 is the total.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Code shown in the output (the total's label for node 0).
    pub code: String,
    /// Level: 0 = total, 1 = coarsest level, … (leaves have the highest level).
    pub level: usize,
    /// Parent node.
    pub parent: Option<usize>,
    /// Child nodes.
    pub children: Vec<usize>,
}

/// A dimension: its levels (column names, coarsest first) and the tree of its values.
#[derive(Debug, Clone, Serialize)]
pub struct Dimension {
    /// Name (for the output header).
    pub name: String,
    /// Level columns, coarsest first (e.g. region, province, district, municipality).
    pub levels: Vec<String>,
    /// The nodes; node 0 is the total.
    pub nodes: Vec<Node>,
    #[serde(skip)]
    index: HashMap<(usize, String), usize>,
}

impl Dimension {
    /// A dimension with only its total.
    pub fn new(name: &str, levels: &[&str], total: &str) -> Dimension {
        Dimension {
            name: name.to_string(),
            levels: levels.iter().map(|l| l.to_string()).collect(),
            nodes: vec![Node {
                code: total.to_string(),
                level: 0,
                parent: None,
                children: Vec::new(),
            }],
            index: HashMap::new(),
        }
    }

    /// The path of nodes (total first) for a unit's values at each level (coarsest first),
    /// adding nodes as needed. A value seen under two different parents is an error: the
    /// hierarchy would not add up.
    pub fn path(&mut self, values: &[&str]) -> Result<Vec<usize>, DisclosureError> {
        let mut path = vec![0];
        let mut parent = 0;
        for (depth, v) in values.iter().enumerate() {
            let level = depth + 1;
            let key = (level, v.to_string());
            let node = match self.index.get(&key) {
                Some(&n) => {
                    if self.nodes[n].parent != Some(parent) {
                        return Err(DisclosureError::Hierarchy(format!(
                            "dimension {}: {} = '{v}' appears under two different {} values ('{}' and '{}')",
                            self.name,
                            self.levels[depth],
                            if depth == 0 {
                                "total"
                            } else {
                                self.levels[depth - 1].as_str()
                            },
                            self.nodes[self.nodes[n].parent.unwrap_or(0)].code,
                            self.nodes[parent].code
                        )));
                    }
                    n
                }
                None => {
                    let n = self.nodes.len();
                    self.nodes.push(Node {
                        code: v.to_string(),
                        level,
                        parent: Some(parent),
                        children: Vec::new(),
                    });
                    self.nodes[parent].children.push(n);
                    self.index.insert(key, n);
                    n
                }
            };
            path.push(node);
            parent = node;
        }
        Ok(path)
    }

    /// Sorts every node's children by code (deterministic output whatever the row order).
    fn sort_children(&mut self) {
        let codes: Vec<String> = self.nodes.iter().map(|n| n.code.clone()).collect();
        for n in &mut self.nodes {
            n.children.sort_by(|a, b| codes[*a].cmp(&codes[*b]));
        }
    }
}

/// Cell index of a combination of nodes (one per dimension), given each dimension's stride.
pub(crate) fn index_of(strides: &[usize], nodes: &[usize]) -> usize {
    strides.iter().zip(nodes).map(|(s, n)| s * n).sum()
}

/// Nodes (one per dimension) of a cell index, given each dimension's stride.
pub(crate) fn nodes_of(strides: &[usize], mut index: usize) -> Vec<usize> {
    strides
        .iter()
        .map(|s| {
            let n = index / s;
            index %= s;
            n
        })
        .collect()
}

/// One cell: the number of distinct units (persons) behind it and the sums of the measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Distinct units.
    pub units: i64,
    /// Sums of the measures, in the order of [`Table::measures`].
    pub sums: Vec<f64>,
}

/// A table with every margin.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// The dimensions.
    pub dimensions: Vec<Dimension>,
    /// Names of the summed measures.
    pub measures: Vec<String>,
    /// Cells, indexed by [`Table::index`].
    pub cells: Vec<Cell>,
    /// Cell-index stride of each dimension (fixed once the table is built).
    #[serde(skip)]
    strides: Vec<usize>,
    /// Every unit (its key) with its path of nodes in each dimension: which cells it is
    /// counted in (used to compare the unit sets of two releases).
    #[serde(skip)]
    pub members: Vec<(String, Vec<Vec<usize>>)>,
}

/// One additivity equation: `total` = sum of `parts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Equation {
    /// The margin cell.
    pub total: usize,
    /// The cells that add up to it.
    pub parts: Vec<usize>,
}

/// A row to tabulate: unit key (if any), values per dimension level, units, sums.
type Row<'a> = (Option<String>, Vec<Vec<&'a str>>, i64, Vec<f64>);
/// A row placed in the dimensions: its node path per dimension instead of its values.
type Placed = (Option<String>, Vec<Vec<usize>>, i64, Vec<f64>);

impl Table {
    /// Builds a table from unit-level rows: for each unit, its values at each level of each
    /// dimension and its measures. A unit may appear once only (`keys` must be distinct), so
    /// that every margin is the sum of its parts.
    pub fn from_units<'a>(
        dimensions: Vec<Dimension>,
        measures: Vec<String>,
        units: impl Iterator<Item = (String, Vec<Vec<&'a str>>, Vec<f64>)>,
    ) -> Result<Table, DisclosureError> {
        let mut seen = std::collections::HashSet::new();
        Table::build(
            dimensions,
            measures,
            units.map(|(key, values, sums)| {
                if !seen.insert(key.clone()) {
                    return Err(DisclosureError::DuplicateUnit(key));
                }
                Ok((Some(key), values, 1, sums))
            }),
        )
    }

    /// Builds a table from leaf counts: for each combination of values (one path per
    /// dimension) the number of units and the sums of the measures, when every unit is in
    /// exactly one leaf (e.g. persons by area, sex and age group). The table then keeps no
    /// unit keys (no differencing check against it).
    #[cfg(any(test, feature = "internals"))]
    pub fn from_leaves<'a>(
        dimensions: Vec<Dimension>,
        measures: Vec<String>,
        leaves: impl Iterator<Item = (Vec<Vec<&'a str>>, i64, Vec<f64>)>,
    ) -> Result<Table, DisclosureError> {
        Table::build(
            dimensions,
            measures,
            leaves.map(|(values, units, sums)| Ok((None, values, units, sums))),
        )
    }

    fn build<'a>(
        mut dimensions: Vec<Dimension>,
        measures: Vec<String>,
        rows: impl Iterator<Item = Result<Row<'a>, DisclosureError>>,
    ) -> Result<Table, DisclosureError> {
        let mut paths: Vec<Placed> = Vec::new();
        for row in rows {
            let (key, values, units, sums) = row?;
            if values.len() != dimensions.len() || sums.len() != measures.len() {
                return Err(DisclosureError::Hierarchy(
                    "a row does not have one value per dimension level and measure".into(),
                ));
            }
            let mut p = Vec::with_capacity(dimensions.len());
            for (d, v) in dimensions.iter_mut().zip(&values) {
                if v.len() != d.levels.len() {
                    return Err(DisclosureError::Hierarchy(format!(
                        "dimension {} expects {} level values",
                        d.name,
                        d.levels.len()
                    )));
                }
                p.push(d.path(v)?);
            }
            paths.push((key, p, units, sums));
        }
        for d in &mut dimensions {
            d.sort_children();
        }
        let size: usize = dimensions.iter().map(|d| d.nodes.len()).product();
        let mut strides = vec![1; dimensions.len()];
        for d in (0..dimensions.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * dimensions[d + 1].nodes.len();
        }
        let mut table = Table {
            cells: vec![
                Cell {
                    units: 0,
                    sums: vec![0.0; measures.len()],
                };
                size
            ],
            dimensions,
            measures,
            strides,
            members: Vec::new(),
        };
        for (key, p, units, sums) in paths {
            for c in table.cells_of(&p) {
                let cell = &mut table.cells[c];
                cell.units += units;
                for (s, v) in cell.sums.iter_mut().zip(&sums) {
                    *s += v;
                }
            }
            if let Some(key) = key {
                table.members.push((key, p));
            }
        }
        Ok(table)
    }

    /// The cells a unit is counted in: every combination of its nodes (its leaf and all its
    /// ancestors) across the dimensions, given its path in each dimension.
    pub fn cells_of(&self, paths: &[Vec<usize>]) -> Vec<usize> {
        let mut combos = vec![0usize];
        for (nodes, &stride) in paths.iter().zip(&self.strides) {
            combos = combos
                .iter()
                .flat_map(|base| nodes.iter().map(move |n| base + n * stride))
                .collect();
        }
        combos
    }

    /// Cell-index stride of each dimension.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Cell index of a combination of nodes (one per dimension).
    pub fn index(&self, nodes: &[usize]) -> usize {
        index_of(&self.strides, nodes)
    }

    /// Nodes (one per dimension) of a cell index.
    pub fn nodes(&self, index: usize) -> Vec<usize> {
        nodes_of(&self.strides, index)
    }

    /// Whether a cell is a margin (some dimension at a non-leaf node).
    pub fn is_margin(&self, index: usize) -> bool {
        self.dimensions
            .iter()
            .zip(&self.strides)
            .any(|(d, s)| !d.nodes[(index / s) % d.nodes.len()].children.is_empty())
    }

    /// Every additivity equation of the table: for each dimension, each node with children
    /// and each combination of the other dimensions' nodes.
    pub fn equations(&self) -> Vec<Equation> {
        let strides = &self.strides;
        let mut out = Vec::new();
        for index in 0..self.cells.len() {
            let nodes = self.nodes(index);
            for (d, dim) in self.dimensions.iter().enumerate() {
                let node = &dim.nodes[nodes[d]];
                if node.children.is_empty() {
                    continue;
                }
                let base = index - nodes[d] * strides[d];
                out.push(Equation {
                    total: index,
                    parts: node
                        .children
                        .iter()
                        .map(|c| base + c * strides[d])
                        .collect(),
                });
            }
        }
        out
    }

    /// Labels of a cell: one code per dimension.
    pub fn labels(&self, index: usize) -> Vec<&str> {
        self.nodes(index)
            .iter()
            .zip(&self.dimensions)
            .map(|(n, d)| d.nodes[*n].code.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_add_up_and_equations_cover_every_parent() {
        let geo = Dimension::new("geography", &["region", "municipality"], "Belgium");
        let sex = Dimension::new("sex", &["sex"], "all");
        let rows = [
            ("p1", "FL", "11002", "F"),
            ("p2", "FL", "11002", "M"),
            ("p3", "FL", "12002", "F"),
            ("p4", "WA", "51001", "F"),
        ];
        let t = Table::from_units(
            vec![geo, sex],
            vec!["euros".into()],
            rows.iter()
                .map(|(k, r, m, s)| (k.to_string(), vec![vec![*r, *m], vec![*s]], vec![10.0])),
        )
        .unwrap();
        assert_eq!(t.cells[0].units, 4);
        assert_eq!(t.cells[0].sums[0], 40.0);
        for e in t.equations() {
            let parts: i64 = e.parts.iter().map(|p| t.cells[*p].units).sum();
            assert_eq!(t.cells[e.total].units, parts, "{:?}", t.labels(e.total));
        }
        // 6 geography nodes (Belgium, FL, WA, 3 municipalities) × 3 sex nodes.
        assert_eq!(t.cells.len(), 6 * 3);
    }

    #[test]
    fn a_unit_twice_or_a_value_under_two_parents_is_refused() {
        let rows = |r: [(&'static str, &'static str, &'static str); 2]| {
            Table::from_units(
                vec![Dimension::new("g", &["region", "municipality"], "all")],
                vec![],
                r.into_iter()
                    .map(|(k, a, b)| (k.to_string(), vec![vec![a, b]], vec![])),
            )
        };
        let e = rows([("p1", "FL", "1"), ("p1", "FL", "2")]).unwrap_err();
        assert!(e.to_string().contains("p1"), "{e}");
        let e = rows([("p1", "FL", "1"), ("p2", "WA", "1")]).unwrap_err();
        assert!(e.to_string().contains("two different"), "{e}");
    }
}
