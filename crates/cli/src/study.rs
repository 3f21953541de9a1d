//! `aim study`: the agency's recurring studies (crates/studies, docs/studies.md), each for a
//! project, its tables through the disclosure gate, its report built from what the gate
//! released.

use crate::access::{self, Identity};
use aim_access::Capability;
use aim_studies::lorenz::Definition;
use aim_studies::lorenz_report::{AreaNames, RunInfo};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The studies.
#[derive(clap::Subcommand)]
pub enum StudyCommand {
    /// Concentration of reimbursed spending: Lorenz curves, Gini coefficients and the top 1,
    /// 5, 10 and 20 % shares per year, for Belgium, by region and insurer, for the total and
    /// for spending groups (docs/studies.md). Writes report.html, lorenz-summary.csv,
    /// lorenz-points.csv, lorenz.xlsx and the released tables into --out.
    Lorenz {
        /// The project the study is for (an agency study, or the request it answers): the
        /// account must be its member and the project in production.
        #[arg(long, value_name = "ID")]
        project: String,
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Where it runs: the sample or the whole population.
        #[arg(long, value_enum)]
        source: StudySource,
        /// The year (repeatable).
        #[arg(long, required = true)]
        year: Vec<i32>,
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
        /// Another definition than the built-in one (TOML; crates/studies/definitions/lorenz.toml).
        #[arg(long, value_name = "FILE")]
        definition: Option<PathBuf>,
        /// Reference data folder, for the regions' names (default: as `aim reference`).
        #[arg(long)]
        reference: Option<PathBuf>,
        #[command(flatten)]
        identity: Identity,
    },
    /// Article 112 result files: for each request (a medicine by ATC codes or CNK products,
    /// over years or quarters), reimbursed packages, DDD, patients and amounts by region, age
    /// band and sex, on the whole population, one table per period through the gate
    /// (docs/studies.md). Writes OUT/<request id>/report.html, result.csv, result.xlsx and
    /// the released tables.
    Art112(Art112Args),
    /// Hospital cost barometer: what patients pay per stay (co-payment and supplements, by
    /// room type) in each hospital, for classic and day stays, per year, with the
    /// single-room vs shared-room comparison (docs/studies.md). Writes report.html,
    /// barometer.csv, barometer.xlsx and the released tables into --out.
    Barometer {
        /// The project the study is for: the account must be its member and the project in
        /// production.
        #[arg(long, value_name = "ID")]
        project: String,
        /// Warehouse folder.
        #[arg(long)]
        warehouse: PathBuf,
        /// Where it runs: the sample or the whole population.
        #[arg(long, value_enum)]
        source: StudySource,
        /// The year (repeatable).
        #[arg(long, required = true)]
        year: Vec<i32>,
        /// Output folder (created).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        identity: Identity,
    },
}

/// The options of `aim study art112`.
#[derive(clap::Args)]
pub struct Art112Args {
    /// The project the result files are for: the account must be its member and the
    /// project in production (a population request, or an agency study).
    #[arg(long, value_name = "ID")]
    project: String,
    /// Warehouse folder.
    #[arg(long)]
    warehouse: PathBuf,
    /// The request file: one request, or a batch of [[request]] (TOML;
    /// crates/studies/examples/art112-request.toml).
    #[arg(long, value_name = "FILE")]
    requests: PathBuf,
    /// Output folder: one sub-folder per request (created).
    #[arg(long)]
    out: PathBuf,
    /// Reference data folder, for the regions' names (default: as `aim reference`).
    #[arg(long)]
    reference: Option<PathBuf>,
    #[command(flatten)]
    identity: Identity,
}

/// Where a study runs.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum StudySource {
    /// The permanent sample.
    Sample,
    /// The whole population.
    Population,
}

impl StudySource {
    /// The capability a release on this source needs, and the action's name in the audit
    /// log.
    fn capability(self, study: &str) -> (Capability, String) {
        match self {
            StudySource::Sample => (
                Capability::ReleaseSampleTable,
                format!("study {study} --source sample"),
            ),
            StudySource::Population => (
                Capability::ReleasePopulationTable,
                format!("study {study} --source population"),
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            StudySource::Sample => "sample",
            StudySource::Population => "population",
        }
    }
}

/// `years 2023,2024 -> OUT`: the object of a study in the audit log.
fn years_object(years: &[i32], out: &Path) -> String {
    format!(
        "years {} -> {}",
        years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(","),
        out.display()
    )
}

/// Opens the gate on `wh`, telling how many earlier releases its audit replays.
fn open_gate(wh: &aim_warehouse::Warehouse) -> Result<aim_disclosure::Gate<'_>> {
    let gate = aim_disclosure::Gate::open(wh)?;
    if gate.earlier_releases() > 0 {
        eprintln!(
            "replaying {} earlier release(s) for the audit…",
            gate.earlier_releases()
        );
    }
    Ok(gate)
}

/// Runs a study command.
pub fn run(command: StudyCommand) -> Result<u8> {
    match command {
        StudyCommand::Lorenz {
            project,
            warehouse,
            source,
            year,
            out,
            definition,
            reference,
            identity,
        } => {
            let def = match &definition {
                Some(f) => Definition::parse(
                    &std::fs::read_to_string(f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                )?,
                None => Definition::builtin(),
            };
            let (capability, action) = source.capability("lorenz");
            let action = action.as_str();
            let object = years_object(&year, &out);
            let (mut session, grant) = access::authorize_release(
                &identity,
                Some(&warehouse),
                &project,
                capability,
                action,
                &object,
            )?;
            let done = lorenz(
                &warehouse,
                &grant,
                &def,
                &year,
                &out,
                reference.as_deref(),
                source,
            );
            let files = session.finish(action, &object, done)?;
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
        StudyCommand::Art112(args) => art112(args),
        StudyCommand::Barometer {
            project,
            warehouse,
            source,
            year,
            out,
            identity,
        } => {
            let (capability, action) = source.capability("barometer");
            let action = action.as_str();
            let object = years_object(&year, &out);
            let (mut session, grant) = access::authorize_release(
                &identity,
                Some(&warehouse),
                &project,
                capability,
                action,
                &object,
            )?;
            let done = barometer(&warehouse, &grant, &year, &out, source);
            let files = session.finish(action, &object, done)?;
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
    }
}

fn barometer(
    warehouse: &Path,
    grant: &aim_access::Grant,
    years: &[i32],
    out: &Path,
    source: StudySource,
) -> Result<Vec<PathBuf>> {
    let wh = aim_warehouse::Warehouse::open(warehouse)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let rt = crate::runtime()?;
    let mut gate = open_gate(&wh)?;
    let tables = rt.block_on(aim_studies::run::barometer(
        &mut gate,
        grant,
        years,
        out,
        &|title| eprintln!("through the gate: {title}"),
    ))?;
    for t in &tables {
        println!(
            "{} {} stays: {} cells, {} hidden",
            t.year,
            t.kind.as_str(),
            t.outcome.cells,
            t.outcome.hidden()
        );
    }
    let info = RunInfo {
        project: grant.project().to_string(),
        source: source.name().into(),
        created: chrono::Utc::now().to_rfc3339(),
    };
    Ok(aim_studies::barometer_report::write(&tables, &info, out)?)
}

fn art112(args: Art112Args) -> Result<u8> {
    let action = "study art112";
    let object = format!("{} -> {}", args.requests.display(), args.out.display());
    // The account first: a refusal comes before anything is read.
    let (mut session, grant) = access::authorize_release(
        &args.identity,
        Some(&args.warehouse),
        &args.project,
        Capability::ReleasePopulationTable,
        action,
        &object,
    )?;
    let done = (|| {
        let text = std::fs::read_to_string(&args.requests)
            .with_context(|| format!("cannot read {}", args.requests.display()))?;
        let requests = aim_studies::art112::parse(&text)
            .with_context(|| format!("in {}", args.requests.display()))?;
        let wh = aim_warehouse::Warehouse::open(&args.warehouse)?;
        let rt = crate::runtime()?;
        let mut gate = open_gate(&wh)?;
        let names = area_names(&crate::reference_dir(args.reference.as_deref()));
        let mut files = Vec::new();
        for request in &requests {
            let out = args.out.join(&request.id);
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let tables = rt.block_on(aim_studies::run::art112(
                &mut gate,
                &grant,
                request,
                &out,
                &|title| eprintln!("through the gate: {title}"),
            ))?;
            for t in &tables {
                println!(
                    "{} {}: {} cells, {} hidden",
                    request.id,
                    t.period,
                    t.outcome.cells,
                    t.outcome.hidden()
                );
            }
            let info = RunInfo {
                project: grant.project().to_string(),
                source: "population".into(),
                created: chrono::Utc::now().to_rfc3339(),
            };
            files.extend(aim_studies::art112_report::write(
                request, &tables, &names, &info, &out,
            )?);
        }
        Ok::<_, anyhow::Error>(files)
    })();
    let files = session.finish(action, &object, done)?;
    for f in files {
        println!("wrote {}", f.display());
    }
    Ok(0)
}

fn lorenz(
    warehouse: &Path,
    grant: &aim_access::Grant,
    def: &Definition,
    years: &[i32],
    out: &Path,
    reference: Option<&Path>,
    source: StudySource,
) -> Result<Vec<PathBuf>> {
    let wh = aim_warehouse::Warehouse::open(warehouse)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let rt = crate::runtime()?;
    let mut gate = open_gate(&wh)?;
    let tables = rt.block_on(aim_studies::run::lorenz(
        &mut gate,
        grant,
        def,
        years,
        out,
        &|title| eprintln!("through the gate: {title}"),
    ))?;
    for t in &tables {
        println!(
            "{}: {} cells, {} hidden; {} area(s), {} with a curve",
            t.outcome.id,
            t.outcome.cells,
            t.outcome.hidden(),
            t.areas.len(),
            t.areas.iter().filter(|a| a.curve.is_some()).count()
        );
    }
    let names = area_names(&crate::reference_dir(reference));
    let info = RunInfo {
        project: grant.project().to_string(),
        source: source.name().into(),
        created: chrono::Utc::now().to_rfc3339(),
    };
    Ok(aim_studies::lorenz_report::write(
        def, &tables, &names, &info, out,
    )?)
}

/// The regions' names from the reference data (codes only when it cannot be read) and the
/// insurers' names.
fn area_names(reference: &Path) -> AreaNames {
    let mut names = AreaNames::default();
    if let Ok(geo) = aim_model::geography::Geography::load(reference) {
        for r in geo.regions {
            names.0.insert(r.nis, (r.name_fr, r.name_nl));
        }
    }
    for i in aim_model::Insurer::ALL {
        let label = format!("{} ({})", i.code(), i.name());
        names.0.insert(i.code().to_string(), (label.clone(), label));
    }
    names
}
