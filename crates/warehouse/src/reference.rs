//! Reference tables as versioned inputs: `aim reference import DIR` stores the geography
//! of the reference data folder and the embedded code lists as Delta tables (`ref_*`).
//! A table whose content did not change is not rewritten; a changed one gets a new
//! version, and the earlier version stays readable.

use crate::{Result, Warehouse, WarehouseError, tables};
use aim_ingest::ReferenceCodes;
use aim_model::geography::Geography;
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use deltalake::writer::DeltaWriter;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// A column of a reference table.
enum Col {
    Str(&'static str, Vec<Option<String>>),
    Int(&'static str, Vec<Option<i64>>),
    Float(&'static str, Vec<Option<f64>>),
}

/// A reference table to store.
struct RefTable {
    name: &'static str,
    columns: Vec<Col>,
}

impl RefTable {
    fn batch(&self) -> RecordBatch {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for c in &self.columns {
            match c {
                Col::Str(n, v) => {
                    fields.push(Field::new(*n, DataType::Utf8, true));
                    arrays.push(Arc::new(StringArray::from(v.clone())));
                }
                Col::Int(n, v) => {
                    fields.push(Field::new(*n, DataType::Int64, true));
                    arrays.push(Arc::new(Int64Array::from(v.clone())));
                }
                Col::Float(n, v) => {
                    fields.push(Field::new(*n, DataType::Float64, true));
                    arrays.push(Arc::new(Float64Array::from(v.clone())));
                }
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .expect("columns of equal length")
    }

    fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for c in &self.columns {
            match c {
                Col::Str(n, v) => {
                    h.update(n.as_bytes());
                    for x in v {
                        h.update(x.as_deref().unwrap_or("\u{0}").as_bytes());
                        h.update([0xff]);
                    }
                }
                Col::Int(n, v) => {
                    h.update(n.as_bytes());
                    for x in v {
                        h.update(format!("{x:?}").as_bytes());
                    }
                }
                Col::Float(n, v) => {
                    h.update(n.as_bytes());
                    for x in v {
                        h.update(format!("{x:?}").as_bytes());
                    }
                }
            }
        }
        hex::encode(h.finalize())
    }
}

fn s(v: impl Into<String>) -> Option<String> {
    Some(v.into())
}

fn opt(v: &Option<String>) -> Option<String> {
    v.clone().filter(|x| !x.is_empty())
}

/// Builds every reference table from a reference data folder and the embedded lists.
fn reference_tables(geo: &Geography) -> Vec<RefTable> {
    use aim_model::codes;
    let mut out = Vec::new();
    out.push(RefTable {
        name: "ref_region",
        columns: vec![
            Col::Str("nis", geo.regions.iter().map(|r| s(&r.nis)).collect()),
            Col::Str(
                "name_nl",
                geo.regions.iter().map(|r| s(&r.name_nl)).collect(),
            ),
            Col::Str(
                "name_fr",
                geo.regions.iter().map(|r| s(&r.name_fr)).collect(),
            ),
        ],
    });
    out.push(RefTable {
        name: "ref_province",
        columns: vec![
            Col::Str("nis", geo.provinces.iter().map(|r| s(&r.nis)).collect()),
            Col::Str(
                "name_nl",
                geo.provinces.iter().map(|r| s(&r.name_nl)).collect(),
            ),
            Col::Str(
                "name_fr",
                geo.provinces.iter().map(|r| s(&r.name_fr)).collect(),
            ),
            Col::Str(
                "region",
                geo.provinces.iter().map(|r| s(&r.region)).collect(),
            ),
        ],
    });
    out.push(RefTable {
        name: "ref_district",
        columns: vec![
            Col::Str("nis", geo.districts.iter().map(|r| s(&r.nis)).collect()),
            Col::Str(
                "name_nl",
                geo.districts.iter().map(|r| s(&r.name_nl)).collect(),
            ),
            Col::Str(
                "name_fr",
                geo.districts.iter().map(|r| s(&r.name_fr)).collect(),
            ),
            Col::Str(
                "region",
                geo.districts.iter().map(|r| s(&r.region)).collect(),
            ),
        ],
    });
    for (name, list, with_2025) in [
        ("ref_municipality_2019", &geo.municipalities_2019, true),
        ("ref_municipality_2025", &geo.municipalities_2025, false),
    ] {
        let mut columns = vec![
            Col::Str("nis", list.iter().map(|m| s(&m.nis)).collect()),
            Col::Str("name_nl", list.iter().map(|m| s(&m.name_nl)).collect()),
            Col::Str("name_fr", list.iter().map(|m| s(&m.name_fr)).collect()),
            Col::Str("district", list.iter().map(|m| s(&m.district)).collect()),
            Col::Str("province", list.iter().map(|m| s(&m.province)).collect()),
            Col::Str("region", list.iter().map(|m| s(&m.region)).collect()),
            Col::Int(
                "population_2020",
                list.iter()
                    .map(|m| Some(m.population_2020 as i64))
                    .collect(),
            ),
        ];
        if with_2025 {
            columns.push(Col::Str(
                "nis_2025",
                list.iter()
                    .map(|m| geo.to_2025.get(&m.nis).cloned())
                    .collect(),
            ));
        }
        out.push(RefTable { name, columns });
    }
    let mergers = codes::mergers_2025();
    out.push(RefTable {
        name: "ref_merger_2025",
        columns: vec![
            Col::Str("nis_2019", mergers.iter().map(|m| s(&m.nis_2019)).collect()),
            Col::Str("nis_2025", mergers.iter().map(|m| s(&m.nis_2025)).collect()),
            Col::Str(
                "name_2019",
                mergers.iter().map(|m| s(&m.name_2019)).collect(),
            ),
            Col::Str(
                "name_2025",
                mergers.iter().map(|m| s(&m.name_2025)).collect(),
            ),
        ],
    });
    out.push(RefTable {
        name: "ref_sector",
        columns: vec![
            Col::Str("nis9", geo.sectors.iter().map(|x| s(&x.nis9)).collect()),
            Col::Str(
                "municipality_2019",
                geo.sectors.iter().map(|x| s(&x.municipality)).collect(),
            ),
            Col::Str(
                "municipality_2025",
                geo.sectors
                    .iter()
                    .map(|x| geo.to_2025.get(&x.municipality).cloned())
                    .collect(),
            ),
        ],
    });
    out.push(RefTable {
        name: "ref_population",
        columns: vec![
            Col::Str(
                "region",
                geo.population.iter().map(|c| s(&c.region)).collect(),
            ),
            Col::Str(
                "sex",
                geo.population
                    .iter()
                    .map(|c| s(c.sex.to_string()))
                    .collect(),
            ),
            Col::Int(
                "age",
                geo.population
                    .iter()
                    .map(|c| Some(i64::from(c.age)))
                    .collect(),
            ),
            Col::Int(
                "year",
                geo.population
                    .iter()
                    .map(|c| Some(i64::from(c.year)))
                    .collect(),
            ),
            Col::Int(
                "population",
                geo.population
                    .iter()
                    .map(|c| Some(c.population as i64))
                    .collect(),
            ),
        ],
    });
    let insurers: Vec<csv_row::Insurer> = csv_row::parse(codes::INSURERS_CSV);
    out.push(RefTable {
        name: "ref_insurer",
        columns: vec![
            Col::Str("code", insurers.iter().map(|i| s(&i.code)).collect()),
            Col::Str("name_fr", insurers.iter().map(|i| s(&i.name_fr)).collect()),
            Col::Str("name_nl", insurers.iter().map(|i| s(&i.name_nl)).collect()),
            Col::Str("name_en", insurers.iter().map(|i| s(&i.name_en)).collect()),
            Col::Float("share", insurers.iter().map(|i| Some(i.share)).collect()),
        ],
    });
    let atc = codes::atc_codes();
    out.push(RefTable {
        name: "ref_atc",
        columns: vec![
            Col::Str("code", atc.iter().map(|a| s(&a.code)).collect()),
            Col::Int(
                "level",
                atc.iter().map(|a| Some(i64::from(a.level))).collect(),
            ),
            Col::Str("name_en", atc.iter().map(|a| s(&a.name_en)).collect()),
            Col::Float("ddd", atc.iter().map(|a| a.ddd).collect()),
            Col::Str("ddd_unit", atc.iter().map(|a| opt(&a.ddd_unit)).collect()),
            Col::Str("route", atc.iter().map(|a| opt(&a.route)).collect()),
        ],
    });
    let nomen = codes::nomenclature_codes();
    out.push(RefTable {
        name: "ref_nomenclature",
        columns: vec![
            Col::Str("code", nomen.iter().map(|n| s(&n.code)).collect()),
            Col::Str(
                "care_group",
                nomen.iter().map(|n| s(&n.care_group)).collect(),
            ),
            Col::Str("label_en", nomen.iter().map(|n| s(&n.label_en)).collect()),
            Col::Str("label_fr", nomen.iter().map(|n| s(&n.label_fr)).collect()),
            Col::Str("status", nomen.iter().map(|n| s(&n.status)).collect()),
        ],
    });
    let quals = codes::qualifications();
    out.push(RefTable {
        name: "ref_qualification",
        columns: vec![
            Col::Str("code", quals.iter().map(|q| s(&q.code)).collect()),
            Col::Str("label_en", quals.iter().map(|q| s(&q.label_en)).collect()),
            Col::Str("care_group", quals.iter().map(|q| s(&q.group)).collect()),
            Col::Str("status", quals.iter().map(|q| s(&q.status)).collect()),
        ],
    });
    out
}

mod csv_row {
    #[derive(serde::Deserialize)]
    pub struct Insurer {
        pub code: String,
        pub name_fr: String,
        pub name_nl: String,
        pub name_en: String,
        pub share: f64,
    }

    pub fn parse<T: for<'de> serde::Deserialize<'de>>(text: &str) -> Vec<T> {
        csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("embedded list parses")
    }
}

/// What an import did to one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportedTable {
    /// Table name.
    pub table: String,
    /// Rows.
    pub rows: usize,
    /// Version now in force.
    pub version: u64,
    /// Whether a new version was written (false: content unchanged).
    pub changed: bool,
}

/// Imports the reference data folder `dir` (and the embedded code lists) into the
/// warehouse, one commit per changed table.
pub async fn import(wh: &Warehouse, dir: &Path) -> Result<Vec<ImportedTable>> {
    let geo = Geography::load(dir)?;
    let source = dir.display().to_string();
    let mut out = Vec::new();
    for t in reference_tables(&geo) {
        let batch = t.batch();
        let hash = t.content_hash();
        let mut table = tables::open_or_create(wh, t.name, &batch.schema(), &[]).await?;
        let history = tables::history(&table, t.name).await?;
        let last_hash = history.last().and_then(|(_, _, m)| {
            m.get("content_sha256")
                .and_then(|h| h.as_str())
                .map(String::from)
        });
        if last_hash.as_deref() == Some(hash.as_str()) {
            out.push(ImportedTable {
                table: t.name.into(),
                rows: batch.num_rows(),
                version: table.version().unwrap_or(0),
                changed: false,
            });
            continue;
        }
        let mut writer = tables::writer(&table, t.name)?;
        writer
            .write(batch.clone())
            .await
            .map_err(crate::delta(t.name))?;
        let adds = writer.flush().await.map_err(crate::delta(t.name))?;
        let removes = tables::files_to_remove(&table, t.name, None).await?;
        let meta = serde_json::json!({ "kind": "reference", "source": source, "content_sha256": hash, "rows": batch.num_rows() });
        let version = tables::commit(&mut table, t.name, adds, removes, None, meta).await?;
        out.push(ImportedTable {
            table: t.name.into(),
            rows: batch.num_rows(),
            version,
            changed: true,
        });
    }
    Ok(out)
}

/// Reads the code lists the quality rules check against from the warehouse's current
/// reference tables.
pub async fn codes(wh: &Warehouse) -> Result<ReferenceCodes> {
    for needed in [
        "ref_nomenclature",
        "ref_atc",
        "ref_municipality_2019",
        "ref_municipality_2025",
    ] {
        if tables::open(wh, needed).await?.is_none() {
            return Err(WarehouseError::NoReference(wh.root().to_path_buf()));
        }
    }
    let names: Vec<String> = [
        "ref_nomenclature",
        "ref_atc",
        "ref_qualification",
        "ref_municipality_2019",
        "ref_municipality_2025",
        "ref_sector",
    ]
    .map(String::from)
    .to_vec();
    let ctx = crate::query::session_of(wh, &names, &BTreeMap::new()).await?;
    let set = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(sql).await?.collect().await?;
            let mut out = HashSet::new();
            for b in batches {
                let col = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
                let arr = col
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                out.extend(arr.iter().flatten().map(String::from));
            }
            Ok::<_, datafusion::error::DataFusionError>(out)
        }
    };
    Ok(ReferenceCodes {
        nomenclature: set("SELECT code FROM ref_nomenclature").await?,
        atc: set("SELECT code FROM ref_atc WHERE level = 5").await?,
        atc_groups: set("SELECT code FROM ref_atc").await?,
        qualifications: set("SELECT code FROM ref_qualification").await?,
        municipalities_2019: set("SELECT nis FROM ref_municipality_2019").await?,
        municipalities_2025: set("SELECT nis FROM ref_municipality_2025").await?,
        sectors: set("SELECT nis9 FROM ref_sector").await?,
    })
}
