//! Delta table helpers: create, open, write a stream of batches, commit with replacement.

use crate::{Result, Warehouse, WarehouseError, delta, io};
use deltalake::DeltaTable;
use deltalake::arrow::datatypes::Schema as ArrowSchema;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType};
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::RecordBatchWriter;
use futures::TryStreamExt;
use url::Url;

/// Key under which the platform stores its own metadata in each commit.
pub const APP_METADATA_KEY: &str = "aim";

fn url_of(wh: &Warehouse, name: &str) -> Result<Url> {
    let dir = wh.table_dir(name);
    Url::from_directory_path(&dir).map_err(|_| WarehouseError::Io {
        context: format!("table folder {} is not an absolute path", dir.display()),
        source: std::io::Error::other("bad path"),
    })
}

/// Opens a table, or `None` if it does not exist yet.
pub async fn open(wh: &Warehouse, name: &str) -> Result<Option<DeltaTable>> {
    if !wh.table_dir(name).join("_delta_log").is_dir() {
        return Ok(None);
    }
    let table = deltalake::open_table(url_of(wh, name)?)
        .await
        .map_err(delta(name))?;
    Ok(Some(table))
}

/// Opens a table at a given version.
pub async fn open_at(wh: &Warehouse, name: &str, version: u64) -> Result<DeltaTable> {
    deltalake::open_table_with_version(url_of(wh, name)?, version)
        .await
        .map_err(delta(name))
}

/// Opens a table, creating it (empty, version 0) with this schema and partitioning.
pub async fn open_or_create(
    wh: &Warehouse,
    name: &str,
    schema: &ArrowSchema,
    partitions: &[&str],
) -> Result<DeltaTable> {
    if let Some(t) = open(wh, name).await? {
        return Ok(t);
    }
    let dir = wh.table_dir(name);
    std::fs::create_dir_all(&dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let kernel: StructType = schema
        .try_into_kernel()
        .map_err(|e| WarehouseError::Delta {
            table: name.to_string(),
            source: Box::new(deltalake::DeltaTableError::Generic(e.to_string())),
        })?;
    // Build without loading: there is no table yet (loading would log a kernel error).
    let table = deltalake::DeltaTableBuilder::from_url(url_of(wh, name)?)
        .map_err(delta(name))?
        .build()
        .map_err(delta(name))?;
    let mut builder = table
        .create()
        .with_table_name(name)
        .with_columns(kernel.fields().cloned());
    if !partitions.is_empty() {
        builder = builder.with_partition_columns(partitions.iter().map(|p| p.to_string()));
    }
    builder.await.map_err(delta(name))
}

/// A streaming writer for a table (zstd-compressed Parquet files, not yet committed).
pub fn writer(table: &DeltaTable, name: &str) -> Result<RecordBatchWriter> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("level 1 is valid"),
        ))
        .build();
    Ok(RecordBatchWriter::for_table(table)
        .map_err(delta(name))?
        .with_writer_properties(props))
}

/// Remove actions for every file of the table, or of the partition `insurer`/`period`.
pub async fn files_to_remove(
    table: &DeltaTable,
    name: &str,
    partition: Option<(&str, &str)>,
) -> Result<Vec<Action>> {
    files_to_remove_where(table, name, |p| match partition {
        Some((insurer, period)) => {
            p.get("insurer").cloned().flatten().as_deref() == Some(insurer)
                && p.get("period").cloned().flatten().as_deref() == Some(period)
        }
        None => true,
    })
    .await
}

async fn file_views(
    table: &DeltaTable,
    name: &str,
) -> Result<Vec<deltalake::kernel::LogicalFileView>> {
    table
        .get_active_add_actions_by_partitions(&[])
        .try_collect()
        .await
        .map_err(delta(name))
}

/// One active data file of a table: its path inside the table folder (decoded) and its
/// partition values.
#[derive(Debug, Clone)]
pub struct ActiveFile {
    /// Path relative to the table folder, percent-decoded.
    pub path: String,
    /// Partition column → value.
    pub partition: std::collections::HashMap<String, Option<String>>,
    /// Size in bytes.
    pub size: i64,
}

/// Every active data file of the table's loaded version.
pub async fn active_files(table: &DeltaTable, name: &str) -> Result<Vec<ActiveFile>> {
    Ok(file_views(table, name)
        .await?
        .iter()
        .map(|f| ActiveFile {
            path: crate::load::percent_decode(&f.path()),
            partition: f.partition_values_map(),
            size: f.size(),
        })
        .collect())
}

/// Remove actions for the active files whose partition values satisfy `matches`.
pub async fn files_to_remove_where(
    table: &DeltaTable,
    name: &str,
    matches: impl Fn(&std::collections::HashMap<String, Option<String>>) -> bool,
) -> Result<Vec<Action>> {
    Ok(file_views(table, name)
        .await?
        .iter()
        .filter(|f| matches(&f.partition_values_map()))
        .map(|f| Action::Remove(f.remove_action(true)))
        .collect())
}

/// Commits added files and removed files as one new version, with the platform's
/// metadata. Returns the new version.
pub async fn commit(
    table: &mut DeltaTable,
    name: &str,
    adds: Vec<Add>,
    removes: Vec<Action>,
    predicate: Option<String>,
    mut metadata: serde_json::Value,
) -> Result<u64> {
    let snapshot = table.snapshot().map_err(delta(name))?;
    // The writer holds the warehouse lock, so the new version is the next one; it is
    // recorded in the commit itself because Delta's commitInfo does not always carry it.
    let expected = snapshot.version() + 1;
    metadata["version"] = serde_json::json!(expected);
    let partition_cols: Vec<String> = snapshot.metadata().partition_columns().to_vec();
    let operation = DeltaOperation::Write {
        mode: if removes.is_empty() {
            SaveMode::Append
        } else {
            SaveMode::Overwrite
        },
        partition_by: (!partition_cols.is_empty()).then_some(partition_cols),
        predicate,
    };
    let mut actions: Vec<Action> = removes;
    actions.extend(adds.into_iter().map(Action::Add));
    // Never clean up the log behind a checkpoint (deltalake does so by default for commits
    // older than 30 days): the gate replays earlier releases by time travel to any version.
    let props = CommitProperties::default()
        .with_metadata([(APP_METADATA_KEY.to_string(), metadata)])
        .with_cleanup_expired_logs(Some(false));
    let finalized = CommitBuilder::from(props)
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(delta(name))?;
    let version = finalized.version();
    if version != expected {
        tracing::warn!(
            table = name,
            expected,
            version,
            "another writer committed to the table during this commit"
        );
    }
    // The commit returns the new table state: no need to read the log again.
    table.state = Some(finalized.snapshot());
    Ok(version)
}

/// The platform's metadata of every commit of a table, oldest first, with its version.
pub async fn history(table: &DeltaTable, name: &str) -> Result<Vec<(u64, i64, serde_json::Value)>> {
    let infos: Vec<_> = table
        .history(None)
        .try_collect()
        .await
        .map_err(delta(name))?;
    let mut out = Vec::new();
    for info in infos {
        let ts = info.timestamp.unwrap_or(0);
        if let Some(m) = info.info.get(APP_METADATA_KEY) {
            let version = m
                .get("version")
                .and_then(|v| v.as_u64())
                .or(info.read_version.map(|v| v + 1))
                .unwrap_or(0);
            out.push((version, ts, m.clone()));
        }
    }
    out.sort_by_key(|(v, _, _)| *v);
    Ok(out)
}
