//! `aim demo`: the whole platform on an embedded default, end to end.

use crate::progress;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Arguments of `aim demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for everything the demo writes (deleted and recreated).
    #[arg(long, default_value = "demo-output")]
    out: PathBuf,
    /// Number of persons to synthesise.
    #[arg(long, default_value_t = 100_000)]
    persons: u64,
    /// Reference data folder (default: shared/data next to the repository).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Random seed.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Port of the Atlas served at the end.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Stop after computing the Atlas instead of serving it.
    #[arg(long)]
    no_serve: bool,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<u8> {
    let started = std::time::Instant::now();
    let reference = crate::reference_dir(args.reference.as_deref());
    if args.out.exists() {
        if !args
            .out
            .join("warehouse")
            .join(aim_warehouse::MARKER_FILE)
            .exists()
            && std::fs::read_dir(&args.out)?.next().is_some()
        {
            anyhow::bail!(
                "{} exists and is not a previous demo's output: choose another --out",
                args.out.display()
            );
        }
        std::fs::remove_dir_all(&args.out)
            .with_context(|| format!("cannot clear {}", args.out.display()))?;
    }
    std::fs::create_dir_all(&args.out)?;
    let deliveries = args.out.join("deliveries");
    let warehouse = args.out.join("warehouse");

    println!(
        "1/5 synthesising {} persons over 2023-2024 (seed {}) into {}",
        args.persons,
        args.seed,
        deliveries.display()
    );
    let cfg = aim_synth::SynthConfig {
        persons: args.persons,
        years: 2023..=2024,
        seed: args.seed,
        out: deliveries.clone(),
        defects: false,
        reference_dir: reference.clone(),
        ttp_key: None,
        gzip: true,
    };
    let synth = progress::synth(&cfg)?;
    let rows: u64 = synth.deliveries.iter().map(|d| d.rows).sum();
    println!(
        "    {} deliveries, {rows} rows in {:.1} s",
        synth.deliveries.len(),
        synth.elapsed.as_secs_f64()
    );

    println!("2/5 importing reference data from {}", reference.display());
    let wh = aim_warehouse::Warehouse::open_or_create(&warehouse)?;
    let rt = crate::runtime()?;
    let imported = {
        let _lock = aim_warehouse::WarehouseLock::acquire(&wh, "aim demo")?;
        rt.block_on(aim_warehouse::reference::import(&wh, &reference))?
    };
    println!("    {} reference tables", imported.len());

    println!("3/5 checking and ingesting the deliveries");
    let summary = rt.block_on(progress::ingest(
        &wh,
        std::slice::from_ref(&deliveries),
        true,
    ))?;
    progress::print_ingest_summary(&wh, &summary);

    println!("4/5 deriving hospital stays, one row per person and year, and the permanent sample");
    let built = rt.block_on(progress::build(
        &wh,
        &aim_derive::BuildOptions::default(),
        true,
    ))?;
    progress::print_build_summary(&wh, &built);

    // All ages only: 100,000 synthetic persons over 565 municipalities make nearly every
    // municipality × sex × age group cell small, and the gate's audit of such a table takes
    // tens of minutes (a real warehouse, or 1,000,000 persons, takes minutes: docs/benchmarks.md).
    println!(
        "5/5 computing the Atlas's indicators through the disclosure gate \
         (all ages; `aim atlas build` adds the age groups)"
    );
    let atlas = progress::atlas(&wh, None, &reference, false)?;
    progress::print_atlas_summary(&atlas);

    let wh_arg = warehouse.display();
    println!(
        "\nDone in {:.0} s. Where to look:",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  QC reports:      {}/qc/<delivery>/report.html, period overviews {}/qc/overview-<period>.html",
        wh_arg, wh_arg
    );
    println!("  what is loaded:  aim status --warehouse {wh_arg}");
    println!(
        "  query it:        aim sql --warehouse {wh_arg} \"SELECT insurer, count(*) AS lines, sum(amount_reimbursed) AS reimbursed FROM gzss GROUP BY insurer ORDER BY insurer\""
    );
    println!(
        "  derived data:    aim sql --warehouse {wh_arg} \"SELECT year, count(*) AS persons, avg(gp_contacts) AS gp, sum(CASE WHEN pp_diabetes_insulin OR pp_diabetes_no_insulin THEN 1 ELSE 0 END) AS diabetes FROM pati GROUP BY year\""
    );
    println!(
        "  the sample:      aim sql --sample --warehouse {wh_arg} \"SELECT year, count(*) AS members, sum(eps_weight) AS represented FROM pati GROUP BY year\""
    );
    println!("  tables (Delta Lake, readable by Spark, Polars, DuckDB): {wh_arg}/tables/");
    println!("  the open data:   aim atlas export --warehouse {wh_arg} --out atlas-open-data");
    if summary.any_rejected() {
        return Ok(3);
    }
    if args.no_serve {
        println!("  the Atlas:       aim serve --warehouse {wh_arg}");
        return Ok(0);
    }
    println!("\nServing the Atlas (Ctrl-C to stop):");
    crate::serve::run(
        &warehouse,
        Some(&reference),
        "127.0.0.1",
        args.port,
        &crate::serve::ServeOptions::default(),
    )
}
