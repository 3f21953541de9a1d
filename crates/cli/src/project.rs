//! `aim project`: a request's price quote from its project sheet, and the workflow of the
//! requests (seed 003). Thin: the rules, prices and documents are in `aim-projects`.

use aim_projects::{
    HealthIndex, PriceList, ProjectSheet, Quantity, QuoteRequest, RequestType, Workflow,
};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// The price quote of a project sheet (seed 003 §4): writes quote.html (printable, French
    /// and Dutch) and quote.xlsx into --out.
    Quote {
        /// The project sheet (TOML; docs/projects.md shows one).
        #[arg(long)]
        sheet: PathBuf,
        /// Estimated analyst days (decimals allowed: 1.5).
        #[arg(long, default_value = "0", value_parser = parse_quantity)]
        days_analyst: Quantity,
        /// Estimated expert days.
        #[arg(long, default_value = "0", value_parser = parse_quantity)]
        days_expert: Quantity,
        /// Months of VPN access (coded data only; default: the months of access).
        #[arg(long)]
        months_vpn: Option<u32>,
        /// Months the data stay available (coded data, studies; 24 are included).
        #[arg(long)]
        months_access: Option<u32>,
        /// Gigabytes of project data (coded data, studies; 20 are included).
        #[arg(long)]
        storage_gb: Option<u32>,
        /// Date of the quote, YYYY-MM-DD (its year chooses the indexed day rates; default: today).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Price list (default: the embedded crates/projects/data/prices.toml).
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Health index file (default: the embedded crates/projects/data/health-index.toml).
        #[arg(long)]
        health_index: Option<PathBuf>,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// The states, transitions, documents and lead times of each request type.
    Workflow {
        /// Only this type: sample-aggregate, population-aggregate, coded-data, agency-study.
        #[arg(long = "type", value_parser = parse_type)]
        request_type: Option<RequestType>,
    },
}

fn parse_quantity(s: &str) -> Result<Quantity, String> {
    s.parse()
        .map_err(|e: aim_projects::QuantityError| e.to_string())
}

fn parse_type(s: &str) -> Result<RequestType, String> {
    s.parse()
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub fn run(command: ProjectCommand) -> Result<u8> {
    match command {
        ProjectCommand::Quote {
            sheet,
            days_analyst,
            days_expert,
            months_vpn,
            months_access,
            storage_gb,
            date,
            prices,
            health_index,
            out,
        } => {
            let project_sheet = ProjectSheet::from_toml(&read(&sheet)?)
                .with_context(|| format!("in {}", sheet.display()))?;
            let prices = match prices {
                Some(p) => PriceList::from_toml(&read(&p)?)
                    .with_context(|| format!("in {}", p.display()))?,
                None => PriceList::builtin(),
            };
            let index = match health_index {
                Some(p) => HealthIndex::from_toml(&read(&p)?)
                    .with_context(|| format!("in {}", p.display()))?,
                None => HealthIndex::builtin(),
            };
            let request = QuoteRequest {
                date: date.unwrap_or_else(|| chrono::Utc::now().date_naive()),
                days_analyst,
                days_expert,
                months_vpn,
                months_access,
                storage_gb,
            };
            let quote = aim_projects::quote(&prices, &index, &project_sheet, &request)?;
            let wf = Workflow::builtin();
            let files = aim_projects::render::write_quote(&quote, &wf, &out)?;
            println!(
                "quote for \"{}\" ({}), {}: {} lines, total {} without VAT{}",
                quote.title,
                quote.request_type,
                quote.date,
                quote.lines.len(),
                quote.total,
                if quote.incomplete {
                    " (some lines are priced by the agency: access beyond the included months or gigabytes)"
                } else {
                    ""
                }
            );
            println!(
                "day rates {}: analyst {}, expert {}",
                quote.rates.year, quote.rates.analyst, quote.rates.expert
            );
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
        ProjectCommand::Workflow { request_type } => {
            print!(
                "{}",
                aim_projects::workflow_text(&Workflow::builtin(), request_type)
            );
            Ok(0)
        }
    }
}
