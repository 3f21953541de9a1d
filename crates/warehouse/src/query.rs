//! The read-only SQL session over the warehouse's tables (Apache DataFusion).

use crate::{Result, Warehouse, WarehouseError, delta, tables};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::{SQLOptions, SessionContext};
use std::collections::BTreeMap;

/// A SQL session with every table of the warehouse registered under its name, at its
/// current version, or at the version given in `versions` (time travel).
pub async fn session(wh: &Warehouse, versions: &BTreeMap<String, u64>) -> Result<SessionContext> {
    session_of(wh, &wh.table_names(), versions).await
}

/// A SQL session with only the named tables registered.
pub async fn session_of(
    wh: &Warehouse,
    names: &[String],
    versions: &BTreeMap<String, u64>,
) -> Result<SessionContext> {
    let existing = wh.table_names();
    for name in versions.keys() {
        if !existing.contains(name) {
            return Err(WarehouseError::NoSuchVersion(format!(
                "no table named '{name}' to read at a version"
            )));
        }
    }
    let ctx = SessionContext::new();
    for name in names {
        let table = match versions.get(name) {
            Some(v) => {
                let latest = tables::open(wh, name)
                    .await?
                    .and_then(|t| t.version())
                    .unwrap_or(0);
                if *v > latest {
                    return Err(WarehouseError::NoSuchVersion(format!(
                        "table {name} has versions 0 to {latest}; there is no version {v}"
                    )));
                }
                tables::open_at(wh, name, *v).await?
            }
            None => match tables::open(wh, name).await? {
                Some(t) => t,
                None => continue,
            },
        };
        register(&ctx, name, &table).await?;
    }
    Ok(ctx)
}

/// Registers a Delta table in a session under `name`.
async fn register(ctx: &SessionContext, name: &str, table: &deltalake::DeltaTable) -> Result<()> {
    table
        .update_datafusion_session(&ctx.state())
        .map_err(delta(name))?;
    ctx.register_table(name, table.table_provider().await?)?;
    Ok(())
}

/// A SQL session over the permanent sample (`WH/sample`): its tables under their usual names,
/// plus the warehouse's reference tables (`ref_*`, public data). `versions` may pin any of
/// them to an earlier version (time travel), as for [`session`].
pub async fn sample_session(
    wh: &Warehouse,
    versions: &BTreeMap<String, u64>,
) -> Result<SessionContext> {
    let sample = wh.sample();
    let sample_names = sample.table_names();
    let (of_sample, of_refs): (BTreeMap<String, u64>, BTreeMap<String, u64>) = versions
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .partition(|(k, _)| sample_names.contains(k));
    let ctx = session(&sample, &of_sample).await?;
    for name in wh
        .table_names()
        .into_iter()
        .filter(|n| n.starts_with("ref_"))
    {
        let table = match of_refs.get(&name) {
            Some(v) => Some(tables::open_at(wh, &name, *v).await?),
            None => tables::open(wh, &name).await?,
        };
        if let Some(table) = table {
            register(&ctx, &name, &table).await?;
        }
    }
    Ok(ctx)
}

/// Runs one read-only statement (a query; no DDL, no DML, no `SET`).
pub async fn run_read_only(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let options = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let df = ctx
        .sql_with_options(sql, options)
        .await
        .map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(msg)
                if msg.contains("not supported") || msg.contains("not allowed") =>
            {
                WarehouseError::NotReadOnly(msg)
            }
            other => WarehouseError::Query(other),
        })?;
    Ok(df.collect().await?)
}

/// Output format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// CSV with a header (comma-separated).
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Writes query results.
pub fn write_results(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    match format {
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b).map_err(|e| WarehouseError::Query(e.into()))?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)
                .map_err(|e| WarehouseError::Query(e.into()))?;
            w.finish().map_err(|e| WarehouseError::Query(e.into()))?;
            let _ = out.write_all(b"\n");
        }
    }
    Ok(())
}
