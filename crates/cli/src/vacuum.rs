//! `aim warehouse vacuum`: removes the files no readable version needs (docs/vacuum.md).
//! Thin: what goes and what stays is decided in `aim_warehouse::vacuum`.

use crate::access::{Identity, authorize};
use aim_access::Capability;
use aim_warehouse::Warehouse;
use aim_warehouse::vacuum::{self, Reason, TableVacuum, VacuumOptions, VacuumProgress};
use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum WarehouseCommand {
    /// Remove the data files no readable version needs: files superseded before the retention
    /// horizon, and orphan files of interrupted runs. Versions in force within the retention,
    /// and every version the release ledger references, stay readable by time travel.
    Vacuum {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Versions in force during the last N days stay readable (at least 7).
        #[arg(long, default_value_t = vacuum::DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
        /// Files referenced by no commit go once unchanged for N hours (at least 1).
        #[arg(long, default_value_t = vacuum::DEFAULT_ORPHAN_GRACE_HOURS)]
        orphan_grace_hours: u32,
        /// Only list what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the outcome as JSON (every file).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
}

struct Bar(ProgressBar);

impl VacuumProgress for Bar {
    fn table_started(&self, index: usize, total: usize, table: &str) {
        self.0.set_length(total as u64);
        self.0.set_position(index as u64);
        self.0.set_message(table.to_string());
    }

    fn table_finished(&self, _: &TableVacuum) {
        self.0.inc(1);
    }
}

pub fn run(command: WarehouseCommand) -> Result<u8> {
    let WarehouseCommand::Vacuum {
        warehouse,
        retention_days,
        orphan_grace_hours,
        dry_run,
        json,
        identity,
    } = command;
    let what = if dry_run {
        "warehouse vacuum --dry-run"
    } else {
        "warehouse vacuum"
    };
    let mut session = authorize(
        &identity,
        Some(&warehouse),
        Capability::MaintainWarehouse,
        what,
        "every table",
    )?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg:>24} [{bar:40}] {pos}/{len} tables")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_draw_target(if json {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let progress = Arc::new(Bar(bar.clone()));
    let done = (|| {
        let wh = Warehouse::open(&warehouse)?;
        let options = VacuumOptions::new(retention_days, orphan_grace_hours, dry_run)?;
        Ok(crate::runtime()?.block_on(vacuum::vacuum(&wh, &options, progress))?)
    })();
    bar.finish_and_clear();
    let summary = session.finish(what, "every table", done)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(0);
    }
    println!(
        "{} (retention {} days: versions in force since {} stay readable; orphans unchanged for {} hours)",
        if dry_run {
            "Dry run: nothing removed; a vacuum would remove"
        } else {
            "Vacuum removed"
        },
        summary.retention_days,
        summary.horizon,
        summary.orphan_grace_hours
    );
    println!(
        "{:<24} {:>7} {:>14} {:>9} {:>9}  kept for the ledger",
        "table", "files", "bytes", "orphans", "kept from"
    );
    for t in &summary.tables {
        let orphans = t
            .removed
            .iter()
            .filter(|f| f.reason == Reason::Orphan)
            .count();
        println!(
            "{:<24} {:>7} {:>14} {:>9} {:>9}  {}",
            t.table,
            t.files,
            t.bytes,
            orphans,
            format!("v{}", t.horizon_version),
            if t.ledger_versions.is_empty() {
                "-".to_string()
            } else {
                t.ledger_versions
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    println!(
        "{:<24} {:>7} {:>14}",
        "total",
        summary.files(),
        summary.bytes()
    );
    match &summary.log {
        Some(log) if summary.files() > 0 => println!("logged in {}", log.display()),
        Some(_) => println!("nothing to remove"),
        None => {}
    }
    Ok(0)
}
