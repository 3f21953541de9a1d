//! The read-only SQL session over the warehouse's tables (Apache DataFusion).

use crate::{Result, Warehouse, WarehouseError, delta, tables};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::execution::context::{SQLOptions, SessionContext, SessionState};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A SQL session with every table of the warehouse under its name, at its current version,
/// or at the version given in `versions` (time travel). A table is opened (its Delta log
/// read) only when a query names it ([`LazyTables`]), so a query pays for the tables it
/// reads, not for every table of the warehouse.
pub async fn session(wh: &Warehouse, versions: &BTreeMap<String, u64>) -> Result<SessionContext> {
    session_of(wh, &wh.table_names(), versions).await
}

/// A SQL session with only the named tables (each opened when a query first names it).
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
    let tables = names
        .iter()
        .filter(|n| existing.contains(n))
        .map(|n| (n.clone(), (wh.clone(), versions.get(n).copied())))
        .collect();
    Ok(lazy_session(tables))
}

/// Checks that each pinned version exists (`aim sql --at`): a session opens its tables only
/// when a query names them, so a wrong version would otherwise pass unnoticed in a query
/// that does not read the table.
pub async fn check_versions(wh: &Warehouse, versions: &BTreeMap<String, u64>) -> Result<()> {
    for (name, v) in versions {
        let latest = tables::open(wh, name)
            .await?
            .and_then(|t| t.version())
            .ok_or_else(|| {
                WarehouseError::NoSuchVersion(format!(
                    "no table named '{name}' to read at a version"
                ))
            })?;
        if *v > latest {
            return Err(WarehouseError::NoSuchVersion(format!(
                "table {name} has versions 0 to {latest}; there is no version {v}"
            )));
        }
    }
    Ok(())
}

/// A session whose default schema is `tables`: name → (its warehouse, a pinned version).
fn lazy_session(tables: BTreeMap<String, (Warehouse, Option<u64>)>) -> SessionContext {
    let ctx = SessionContext::new();
    let schema = Arc::new(LazyTables {
        tables,
        state: ctx.state(),
        opened: Mutex::new(BTreeMap::new()),
    });
    let catalog = ctx
        .catalog("datafusion")
        .expect("a new session has its default catalog");
    catalog
        .register_schema("public", schema)
        .expect("the default catalog takes a schema");
    ctx
}

/// The tables of a session, each opened (its Delta log read, at its pinned version or the
/// latest) the first time a query names it, then kept for the session.
struct LazyTables {
    tables: BTreeMap<String, (Warehouse, Option<u64>)>,
    /// The session's state: its object-store registry (shared with the session) learns
    /// each table's store when the table is opened.
    state: SessionState,
    opened: Mutex<BTreeMap<String, Arc<dyn TableProvider>>>,
}

impl std::fmt::Debug for LazyTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyTables")
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LazyTables {
    async fn open(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(t) = self.opened.lock().expect("not poisoned").get(name) {
            return Ok(Some(t.clone()));
        }
        let Some((wh, version)) = self.tables.get(name) else {
            return Ok(None);
        };
        let table = match version {
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
                None => return Ok(None),
            },
        };
        table
            .update_datafusion_session(&self.state)
            .map_err(delta(name))?;
        let provider: Arc<dyn TableProvider> = table.table_provider().await?;
        self.opened
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), provider.clone());
        Ok(Some(provider))
    }
}

#[async_trait::async_trait]
impl SchemaProvider for LazyTables {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        self.open(name)
            .await
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}

/// A SQL session over the permanent sample (`WH/sample`): its tables under their usual names,
/// plus the warehouse's reference tables (`ref_*`, public data). `versions` may pin any of
/// them to an earlier version (time travel), as for [`session`].
pub async fn sample_session(
    wh: &Warehouse,
    versions: &BTreeMap<String, u64>,
) -> Result<SessionContext> {
    let sample = wh.sample();
    let mut tables: BTreeMap<String, (Warehouse, Option<u64>)> = sample
        .table_names()
        .into_iter()
        .map(|n| {
            let v = versions.get(&n).copied();
            (n, (sample.clone(), v))
        })
        .collect();
    for name in wh
        .table_names()
        .into_iter()
        .filter(|n| n.starts_with("ref_"))
    {
        let v = versions.get(&name).copied();
        tables.insert(name, (wh.clone(), v));
    }
    if let Some(name) = versions.keys().find(|n| !tables.contains_key(*n)) {
        return Err(WarehouseError::NoSuchVersion(format!(
            "no table named '{name}' to read at a version"
        )));
    }
    Ok(lazy_session(tables))
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
