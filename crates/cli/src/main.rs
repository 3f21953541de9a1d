//! `aim`: the command line of the aim platform. It parses arguments and calls the
//! platform's crates; no domain logic lives here.
//!
//! Exit status: 0 success; 3 some delivery rejected (the others processed); 4 the audit log
//! is broken (`aim audit verify`); 2 usage, I/O or platform error, or a refusal.
//!
//! Commands that not everybody may run act as an account (a key file, docs/access.md) and
//! ask aim-access first; what they do and what is refused goes into the audit log.

mod access;
mod accounts;
mod demo;
mod progress;
mod project;
mod serve;
mod study;
mod table;
mod vacuum;

use access::{Identity, authorize};
use aim_access::{Capability, Outcome};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status when some delivery was rejected.
const EXIT_REJECTED: u8 = 3;
/// Exit status on usage, I/O or platform errors.
const EXIT_ERROR: u8 = 2;

#[derive(Parser)]
#[command(name = "aim", version, about = "The intermutualist agency's data platform", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole platform on synthetic data: synthesise, import reference data, ingest.
    Demo(demo::DemoArgs),
    /// Write synthetic insurer deliveries.
    Synth {
        /// Number of persons in the starting population.
        #[arg(long, default_value_t = 10_000)]
        persons: u64,
        /// Years to generate, e.g. 2023-2024 or 2024.
        #[arg(long, default_value = "2023-2024", value_parser = parse_years)]
        years: (i32, i32),
        /// Random seed: the same seed gives the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder (one sub-folder per delivery).
        #[arg(long)]
        out: PathBuf,
        /// Inject the documented defects (docs/synthetic-data.md).
        #[arg(long)]
        defects: bool,
        /// Write plain CSV instead of gzip.
        #[arg(long)]
        no_gzip: bool,
        /// Reference data folder (default: shared/data next to the repository).
        #[arg(long)]
        reference: Option<PathBuf>,
        /// TTP key file (default: a key derived from the seed, for synthetic data only).
        #[arg(long)]
        ttp_key: Option<PathBuf>,
    },
    /// Check deliveries and load the good ones into the warehouse.
    Ingest {
        /// Warehouse folder (created if missing).
        #[arg(long)]
        warehouse: PathBuf,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// Delivery folders, or folders of delivery folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        identity: Identity,
    },
    /// Confirm a held correction (COR-001): it may remove the rows it removes. Recorded
    /// (who, when, why) in the commit and beside its QC report, then applied.
    Confirm {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Why the loss is intended.
        #[arg(long)]
        reason: String,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
        /// The held delivery's identity, as `aim status` and the console show it.
        delivery: String,
        /// Who confirms: the account (recorded with its name and e-mail).
        #[command(flatten)]
        identity: Identity,
    },
    /// Reference tables (versioned inputs).
    Reference {
        #[command(subcommand)]
        command: ReferenceCommand,
    },
    /// Warehouse maintenance: `aim warehouse vacuum` (docs/vacuum.md).
    Warehouse {
        #[command(subcommand)]
        command: vacuum::WarehouseCommand,
    },
    /// What the warehouse holds: loaded and quarantined deliveries.
    Status {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Derive hospital stays (hosp), one row per person and year (pati) and the permanent
    /// sample from the loaded deliveries; only the years whose inputs changed are rebuilt.
    Build {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Only this year (repeatable). Default: every year with deliveries.
        #[arg(long)]
        year: Vec<i32>,
        /// Rebuild even the years whose inputs did not change.
        #[arg(long)]
        force: bool,
        /// Drop all derived tables first and rebuild them (after a change of definitions).
        #[arg(long)]
        rebuild: bool,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Run a table request on the sample or the population and release the result through
    /// the disclosure gate (small cells suppressed, margins protected, audited, logged).
    Table {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// The table request (TOML; docs/disclosure.md). Repeatable: several requests in
        /// one run are each audited against the ones before them.
        #[arg(long, required = true)]
        spec: Vec<PathBuf>,
        /// Where the request runs.
        #[arg(long, value_enum)]
        source: TableSource,
        /// Output file: .csv (with .meta.json beside it) or .xlsx. With several --spec, a
        /// folder that receives one file per request, named after it.
        #[arg(long)]
        out: PathBuf,
        /// File format in a folder given to --out (several --spec).
        #[arg(long, value_enum, default_value = "csv")]
        format: TableFormat,
        /// Raise the threshold (units per cell) above the source's policy.
        #[arg(long)]
        min_units: Option<i64>,
        /// The sample's raw, unsuppressed table, for an account with raw sample access
        /// (docs/access.md); it stays inside and is logged. Not available on the population.
        #[arg(long)]
        raw: bool,
        /// The approved project the table is for (`aim project list`): the account must be
        /// its member and the project preparing its delivery (state production); the release
        /// is recorded with it.
        #[arg(long, value_name = "ID")]
        project: String,
        /// Who runs it: the account (recorded in the run log and the audit log).
        #[command(flatten)]
        identity: Identity,
    },
    /// Run a read-only SQL query on the warehouse.
    Sql {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Query the permanent sample only: its tables (popu, gzss, faru, hosp, pati) under
        /// the same names, restricted to the sample's members.
        #[arg(long)]
        sample: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Read a table at an earlier version (time travel), e.g. --at gzss=3. Repeatable.
        #[arg(long, value_parser = parse_at)]
        at: Vec<(String, u64)>,
        /// The query.
        query: String,
        #[command(flatten)]
        identity: Identity,
    },
    /// The open Atlas: compute the indicators through the disclosure gate, export them.
    Atlas {
        #[command(subcommand)]
        command: AtlasCommand,
    },
    /// Serve the web Atlas (maps, tables, area pages, downloads) of a warehouse's computed
    /// Atlas until Ctrl-C (docs/atlas-web.md).
    Serve {
        /// Warehouse folder (with an Atlas: `aim atlas build`).
        #[arg(long)]
        warehouse: PathBuf,
        /// Port.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Reference data folder with the boundaries (default: shared/data next to the repository).
        #[arg(long)]
        reference: Option<PathBuf>,
        #[command(flatten)]
        options: serve::ServeOptions,
    },
    /// Data requests as projects: filing, following and moving them through the committees'
    /// workflow, price quotes (docs/projects.md).
    Project {
        #[command(subcommand)]
        command: project::ProjectCommand,
    },
    /// The agency's recurring studies, each for a project, through the disclosure gate
    /// (docs/studies.md).
    Study {
        #[command(subcommand)]
        command: study::StudyCommand,
    },
    /// Accounts, roles and keys (docs/access.md).
    Account {
        #[command(subcommand)]
        command: accounts::AccountCommand,
    },
    /// The audit log: every query, release and refusal, hash-chained (docs/access.md).
    Audit {
        #[command(subcommand)]
        command: accounts::AuditCommand,
    },
    /// Trusted-third-party utilities.
    Ttp {
        #[command(subcommand)]
        command: TtpCommand,
    },
    /// Print generated documentation.
    Docs {
        /// Which document: data-model (docs/data-model.md), derived (docs/pati-variables.md) or indicators (docs/indicators.md).
        #[arg(value_parser = ["data-model", "derived", "indicators"])]
        which: String,
    },
}

#[derive(Subcommand)]
enum ReferenceCommand {
    /// Load a reference data folder (and the embedded code lists) as versioned tables.
    Import {
        /// Warehouse folder (created if missing).
        #[arg(long)]
        warehouse: PathBuf,
        /// The reference data folder (as shared/data).
        dir: PathBuf,
        #[command(flatten)]
        identity: Identity,
    },
}

#[derive(Subcommand)]
enum AtlasCommand {
    /// Compute every indicator × year × area × sex × age group from PATI, through the
    /// disclosure gate, into WH/atlas/ (docs/indicators.md).
    Build {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Indicator definitions folder (default: the embedded ones, crates/atlas/indicators).
        #[arg(long)]
        indicators: Option<PathBuf>,
        /// Reference data folder (default: shared/data next to the repository).
        #[arg(long)]
        reference: Option<PathBuf>,
        /// Figures for all ages only, without the breakdown by age group (0-17, 18-44,
        /// 45-64, 65-74, 75+): a five times smaller table for the disclosure gate. For small
        /// or sparse data (a synthetic sample of a few thousand persons, the demo), where
        /// nearly every municipality × sex × age group cell is small and the gate's audit
        /// takes long.
        #[arg(long)]
        no_age_groups: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Write the whole open dataset (figures as CSV and JSON, indicator definitions, DCAT-AP
    /// metadata, terms of use) to a folder.
    Export {
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum TtpCommand {
    /// Write a fresh random coding key (hex) to a file, readable by its owner only.
    Keygen {
        /// Key file to create.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormat {
    Csv,
    Xlsx,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum TableSource {
    Sample,
    Population,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Csv,
    Json,
}

fn parse_years(s: &str) -> Result<(i32, i32), String> {
    let bad = || format!("'{s}' is not a year range such as 2023-2024");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        ),
        None => {
            let y: i32 = s.trim().parse().map_err(|_| bad())?;
            (y, y)
        }
    };
    if a > b || !(1990..=2100).contains(&a) || !(1990..=2100).contains(&b) {
        return Err(bad());
    }
    Ok((a, b))
}

fn parse_at(s: &str) -> Result<(String, u64), String> {
    let (t, v) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not TABLE=VERSION"))?;
    Ok((
        t.to_string(),
        v.parse()
            .map_err(|_| format!("'{v}' is not a version number"))?,
    ))
}

/// The reference data folder: the given one, `AIM_REFERENCE_DIR`, `shared/data` next to
/// the repository this binary was built from, or `../shared/data` from here.
pub fn reference_dir(given: Option<&Path>) -> PathBuf {
    if let Some(g) = given {
        return g.to_path_buf();
    }
    let built_in = aim_model::geography::default_reference_dir();
    if built_in.join("municipalities-2025.json").exists() {
        return built_in;
    }
    PathBuf::from("../shared/data")
}

/// Prints an ingest's (or a confirmation's) summary, as JSON or for a person, and gives its
/// exit status: `EXIT_REJECTED` when a delivery was rejected or held.
fn report_ingest(
    wh: &aim_warehouse::Warehouse,
    summary: &aim_warehouse::IngestSummary,
    json: bool,
) -> Result<u8> {
    if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
    } else {
        progress::print_ingest_summary(wh, summary);
    }
    Ok(if summary.any_rejected() {
        EXIT_REJECTED
    } else {
        0
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`aim docs indicators | head`)
    // would panic: restore the default, ending the process quietly as other Unix tools do.
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AIM_LOG")
                // The Delta kernel logs as errors conditions that aim reports itself; deltalake's
                // vacuum warns that its keep-versions option is experimental (aim relies on it
                // and tests it: docs/vacuum.md).
                .unwrap_or_else(|_| {
                    "warn,buoyant_kernel=off,buoyant_kernel_engine=off,deltalake_core::operations::vacuum=error"
                        .into()
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Synth {
            persons,
            years,
            seed,
            out,
            defects,
            no_gzip,
            reference,
            ttp_key,
        } => {
            let cfg = aim_synth::SynthConfig {
                persons,
                years: years.0..=years.1,
                seed,
                out: out.clone(),
                defects,
                reference_dir: reference_dir(reference.as_deref()),
                ttp_key,
                gzip: !no_gzip,
            };
            let summary = progress::synth(&cfg)?;
            let rows: u64 = summary.deliveries.iter().map(|d| d.rows).sum();
            println!(
                "wrote {} deliveries ({} rows, {} persons) to {} in {:.1} s",
                summary.deliveries.len(),
                rows,
                summary.persons,
                out.display(),
                summary.elapsed.as_secs_f64()
            );
            Ok(0)
        }
        Command::Ingest {
            warehouse,
            json,
            dirs,
            identity,
        } => {
            let object = access::paths(&dirs);
            let mut session = authorize(
                &identity,
                Some(&warehouse),
                Capability::Ingest,
                "ingest",
                &object,
            )?;
            let done = (|| {
                let wh = aim_warehouse::Warehouse::open_or_create(&warehouse)?;
                let summary = runtime()?.block_on(progress::ingest(&wh, &dirs, !json))?;
                report_ingest(&wh, &summary, json)
            })();
            session.finish("ingest", &object, done)
        }
        Command::Confirm {
            warehouse,
            reason,
            json,
            delivery,
            identity,
        } => {
            let mut session = authorize(
                &identity,
                Some(&warehouse),
                Capability::ConfirmCorrection,
                "confirm",
                &delivery,
            )?;
            let by = format!("{} <{}>", session.account.name, session.account.email);
            let done = (|| {
                let wh = aim_warehouse::Warehouse::open(&warehouse)?;
                let summary =
                    runtime()?.block_on(progress::confirm(&wh, &delivery, &by, &reason, !json))?;
                report_ingest(&wh, &summary, json)
            })();
            session.finish("confirm", &delivery, done)
        }
        Command::Reference {
            command:
                ReferenceCommand::Import {
                    warehouse,
                    dir,
                    identity,
                },
        } => {
            let object = dir.display().to_string();
            let mut session = authorize(
                &identity,
                Some(&warehouse),
                Capability::ImportReference,
                "reference import",
                &object,
            )?;
            let imported = (|| {
                let wh = aim_warehouse::Warehouse::open_or_create(&warehouse)?;
                let _lock = aim_warehouse::WarehouseLock::acquire(&wh, "aim reference import")?;
                Ok(runtime()?.block_on(aim_warehouse::reference::import(&wh, &dir))?)
            })();
            let imported = session.finish("reference import", &object, imported)?;
            for t in &imported {
                println!(
                    "{:<24} {:>7} rows  version {:>3}  {}",
                    t.table,
                    t.rows,
                    t.version,
                    if t.changed { "updated" } else { "unchanged" }
                );
            }
            Ok(0)
        }
        Command::Status {
            warehouse,
            json,
            identity,
        } => {
            authorize(
                &identity,
                Some(&warehouse),
                Capability::ReadStatus,
                "status",
                "",
            )?
            .record("status", "", Outcome::Done)?;
            let wh = aim_warehouse::Warehouse::open(&warehouse)?;
            let rt = runtime()?;
            let catalog = rt.block_on(aim_warehouse::Catalog::load(&wh))?;
            let quarantined = aim_warehouse::catalog::quarantined(&wh);
            let derived = rt.block_on(aim_derive::build::freshness(
                &wh,
                &aim_derive::Definitions::builtin(),
            ))?;
            if json {
                let current: Vec<_> = catalog.current().into_iter().cloned().collect();
                let derived: BTreeMap<String, _> =
                    derived.iter().map(|(y, s)| (y.to_string(), s)).collect();
                let value = serde_json::json!({ "loaded": current, "history": catalog.records, "quarantined": quarantined, "derived": derived });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_status(&catalog, &quarantined);
                if !derived.is_empty() {
                    println!("\nDerived data (hosp, pati, sample):");
                    for (year, status) in derived {
                        println!(
                            "  {year}: {}",
                            match status {
                                aim_derive::YearStatus::Stale =>
                                    "to build: inputs changed since the last build (run `aim build`)",
                                _ => "up to date",
                            }
                        );
                    }
                }
            }
            Ok(0)
        }
        Command::Build {
            warehouse,
            year,
            force,
            rebuild,
            json,
            identity,
        } => {
            let object = if year.is_empty() {
                "every year".to_string()
            } else {
                format!("{year:?}")
            };
            let mut session = authorize(
                &identity,
                Some(&warehouse),
                Capability::Build,
                "build",
                &object,
            )?;
            let built = (|| {
                let wh = aim_warehouse::Warehouse::open(&warehouse)?;
                let opts = aim_derive::BuildOptions {
                    years: (!year.is_empty()).then(|| year.into_iter().collect()),
                    force,
                    rebuild,
                };
                let summary = runtime()?.block_on(progress::build(&wh, &opts, !json))?;
                Ok((wh, summary))
            })();
            let (wh, summary) = session.finish("build", &object, built)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                progress::print_build_summary(&wh, &summary);
            }
            Ok(0)
        }
        Command::Table {
            warehouse,
            spec,
            source,
            out,
            format,
            min_units,
            raw,
            project,
            identity,
        } => {
            let capability = match (source, raw) {
                (TableSource::Population, true) => anyhow::bail!(
                    "--raw is only available on the sample: results on the population leave only through the gate"
                ),
                (TableSource::Sample, true) => Capability::RawSampleTable,
                (TableSource::Sample, false) => Capability::ReleaseSampleTable,
                (TableSource::Population, false) => Capability::ReleasePopulationTable,
            };
            let action = match capability {
                Capability::RawSampleTable => "table --raw",
                Capability::ReleaseSampleTable => "table --source sample",
                _ => "table --source population",
            };
            let object = format!("{} -> {}", access::paths(&spec), out.display());
            let (mut session, grant) = access::authorize_release(
                &identity,
                Some(&warehouse),
                &project,
                capability,
                action,
                &object,
            )?;
            let ext = match format {
                TableFormat::Csv => "csv",
                TableFormat::Xlsx => "xlsx",
            };
            let done = (|| {
                let wh = aim_warehouse::Warehouse::open(&warehouse)?;
                table::run(&wh, &spec, &out, ext, min_units, &grant)
            })();
            session.finish(action, &object, done)?;
            Ok(0)
        }
        Command::Sql {
            warehouse,
            sample,
            format,
            at,
            query,
            identity,
        } => {
            let (capability, action) = if sample {
                (Capability::QuerySample, "sql --sample")
            } else {
                (Capability::QueryPopulation, "sql")
            };
            let mut session = authorize(&identity, Some(&warehouse), capability, action, &query)?;
            let batches = (|| {
                let wh = aim_warehouse::Warehouse::open(&warehouse)?;
                if sample && wh.sample().table_names().is_empty() {
                    anyhow::bail!(
                        "the warehouse has no sample yet: run `aim build --warehouse {}` first",
                        warehouse.display()
                    );
                }
                if sample && !at.is_empty() {
                    anyhow::bail!("--at is not available with --sample");
                }
                let versions: BTreeMap<String, u64> = at.into_iter().collect();
                let rt = runtime()?;
                Ok(rt.block_on(async {
                    let ctx = if sample {
                        aim_warehouse::query::sample_session(&wh, &BTreeMap::new()).await?
                    } else {
                        aim_warehouse::query::check_versions(&wh, &versions).await?;
                        aim_warehouse::query::session(&wh, &versions).await?
                    };
                    aim_warehouse::query::run_read_only(&ctx, &query).await
                })?)
            })();
            // Recorded before a row is printed.
            let batches = session.finish(action, &query, batches)?;
            let fmt = match format {
                Format::Csv => aim_warehouse::query::OutputFormat::Csv,
                Format::Json => aim_warehouse::query::OutputFormat::Json,
            };
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            aim_warehouse::query::write_results(&batches, fmt, &mut lock)?;
            Ok(0)
        }
        Command::Atlas {
            command:
                AtlasCommand::Build {
                    warehouse,
                    indicators,
                    reference,
                    no_age_groups,
                    identity,
                },
        } => {
            let mut session = authorize(
                &identity,
                Some(&warehouse),
                Capability::PublishAtlas,
                "atlas build",
                "",
            )?;
            let atlas = (|| {
                let wh = aim_warehouse::Warehouse::open(&warehouse)?;
                let reference = reference_dir(reference.as_deref());
                progress::atlas(&wh, indicators.as_deref(), &reference, !no_age_groups)
            })();
            let atlas = session.finish("atlas build", "", atlas)?;
            progress::print_atlas_summary(&atlas);
            Ok(0)
        }
        Command::Atlas {
            command: AtlasCommand::Export { warehouse, out },
        } => {
            let wh = aim_warehouse::Warehouse::open(&warehouse)?;
            let atlas = aim_atlas::store::load(wh.root())?.ok_or_else(|| {
                anyhow::anyhow!(
                    "the warehouse has no Atlas yet: run `aim atlas build --warehouse {}` first",
                    warehouse.display()
                )
            })?;
            let files = aim_atlas::export::export(&atlas, &out)?;
            println!("wrote {} files to {}", files.len(), out.display());
            Ok(0)
        }
        Command::Serve {
            warehouse,
            port,
            host,
            reference,
            options,
        } => serve::run(&warehouse, reference.as_deref(), &host, port, &options),
        Command::Project { command } => project::run(command),
        Command::Account { command } => accounts::run_account(command),
        Command::Audit { command } => accounts::run_audit(command),
        Command::Study { command } => study::run(command),
        Command::Warehouse { command } => vacuum::run(command),
        Command::Ttp {
            command: TtpCommand::Keygen { out },
        } => {
            if out.exists() {
                anyhow::bail!("{} exists: refusing to overwrite a key", out.display());
            }
            let key = aim_ttp::generate_key_hex()?;
            write_private(&out, &key)?;
            println!(
                "wrote a new 256-bit key to {} (keep it outside the warehouse)",
                out.display()
            );
            Ok(0)
        }
        Command::Docs { which } => {
            match which.as_str() {
                "data-model" => print!("{}", aim_model::docs::data_model_markdown()),
                "derived" => print!(
                    "{}",
                    aim_derive::definitions::catalogue_markdown(&aim_derive::Definitions::builtin())
                ),
                "indicators" => print!(
                    "{}",
                    aim_atlas::indicator::catalogue_markdown(&aim_atlas::indicator::embedded()?)
                ),
                _ => unreachable!("clap restricts the values"),
            }
            Ok(0)
        }
    }
}

/// The error and its causes, each cause only when it adds something to the text before it
/// (our error types already include their source in their message).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
    }
    text
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}

fn print_status(
    catalog: &aim_warehouse::Catalog,
    quarantined: &[aim_warehouse::catalog::QuarantineRecord],
) {
    let current = catalog.current();
    println!("Loaded deliveries ({}):", current.len());
    println!(
        "{:<8} {:<5} {:<7} {:>4} {:>10} {:>9} {:>8}  delivery",
        "insurer", "db", "period", "seq", "rows", "rejected", "version"
    );
    for r in current {
        println!(
            "{:<8} {:<5} {:<7} {:>4} {:>10} {:>9} {:>8}  {}{}",
            r.insurer,
            r.database,
            r.period,
            r.sequence,
            r.rows,
            r.rows_rejected,
            r.version,
            r.delivery_id,
            r.replaces
                .as_ref()
                .map(|p| format!(" (replaces {p})"))
                .unwrap_or_default()
        );
        if let Some(c) = &r.confirmation {
            println!(
                "{:>57}loss confirmed by {} on {}: {}",
                "", c.by, c.at, c.reason
            );
        }
    }
    println!("\nQuarantined deliveries ({}):", quarantined.len());
    for q in quarantined {
        println!(
            "  {}  from {}{}",
            q.delivery_id,
            q.folder,
            if q.held {
                "  [held: a correction that would lose rows; `aim confirm` applies it]"
            } else {
                ""
            }
        );
        for r in &q.reasons {
            println!("      {r}");
        }
    }
}
