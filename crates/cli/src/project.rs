//! `aim project`: filing a request, following it and moving it through its states (stored in
//! the accounts store, aim-access), its price quote, and the workflow of the requests (seed
//! 003). Thin: the rules, prices and documents are in `aim-projects`; who may do what, the
//! store and its replay in `aim-access`.

use crate::access::{Identity, Session, authorize, authorize_project};
use aim_access::{Capability, Outcome, ProjectOpError, Store, capability_for_transition, require};
use aim_projects::{
    Attempt, HealthIndex, PriceList, Project, ProjectSheet, Quantity, QuoteRequest, RequestType,
    Workflow,
};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};

/// Where the accounts and projects are, and who acts.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Where {
    /// Warehouse folder whose accounts store (access.db) holds the projects (or give --store).
    #[arg(long)]
    warehouse: Option<PathBuf>,
    #[command(flatten)]
    identity: Identity,
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Files a request from its project sheet: creates the project at intake, the filer as its
    /// requester, and prints its identifier.
    File {
        #[command(flatten)]
        at: Where,
        /// The project sheet (TOML; docs/projects.md, examples/project-sheet.toml).
        #[arg(long)]
        sheet: PathBuf,
    },
    /// Lists the projects: every one for the agency, one's own for the others.
    List {
        #[command(flatten)]
        at: Where,
    },
    /// A project: state, expected exit date, members, history, documents, the documents still
    /// missing for the next steps, the actions possible.
    Show {
        #[command(flatten)]
        at: Where,
        /// The project (P-YEAR-NNN).
        id: String,
    },
    /// Attaches a document of a kind the workflow knows (`aim project workflow` lists them).
    AddDocument {
        #[command(flatten)]
        at: Where,
        /// The project.
        id: String,
        /// The document's kind (project_sheet, cost_agreement, privacy_decision, contract, …).
        kind: String,
        /// The document's file: its path and SHA-256 are recorded as the reference (the
        /// content stays in the agency's records; the digest shows which file it was).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Moves a project by an action (submit, accept, approve, approve-by-silence, authorise,
    /// feasible, declare-impossible, sign, deliver, close, refuse, withdraw); a refusal says
    /// why (exit 2).
    Move {
        #[command(flatten)]
        at: Where,
        /// The project.
        id: String,
        /// The action.
        action: String,
        /// A note kept with the transition (a refusal's reason, …).
        #[arg(long)]
        note: Option<String>,
        /// The privacy committee's decision number (for `authorise`), e.g. 26/017.
        #[arg(long = "decision", visible_alias = "decision-number")]
        decision: Option<String>,
    },
    /// Adds an account to a project as a member (the agency, or the project's requester).
    Member {
        #[command(flatten)]
        at: Where,
        /// The project.
        id: String,
        /// The account's e-mail.
        #[arg(long)]
        add: String,
    },
    /// The price quote of a stored project (ID) or of a project sheet (--sheet), seed 003 §4:
    /// writes quote.html (printable, French and Dutch) and quote.xlsx into --out.
    Quote {
        #[command(flatten)]
        at: Where,
        /// A stored project (its sheet is used); reading it needs the project.
        #[arg(required_unless_present = "sheet", conflicts_with = "sheet")]
        id: Option<String>,
        /// The project sheet (TOML; docs/projects.md shows one).
        #[arg(long)]
        sheet: Option<PathBuf>,
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
        ProjectCommand::File { at, sheet } => file(&at, &sheet),
        ProjectCommand::List { at } => list(&at),
        ProjectCommand::Show { at, id } => show(&at, &id),
        ProjectCommand::AddDocument { at, id, kind, file } => {
            add_document(&at, &id, &kind, file.as_deref())
        }
        ProjectCommand::Move {
            at,
            id,
            action,
            note,
            decision,
        } => move_project(&at, &id, &action, note, decision),
        ProjectCommand::Member { at, id, add } => member(&at, &id, &add),
        ProjectCommand::Quote {
            at,
            id,
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
            // A stored project's quote is read as an account, and recorded once written.
            let (mut session, project_sheet) = match (id, sheet) {
                (Some(id), _) => {
                    let mut s = open_project(&at, &id, Capability::ReadProject, "project quote")?;
                    match load(&mut s.store, &id) {
                        Ok(p) => (Some(s), p.sheet().clone()),
                        Err(e) => return s.finish("project quote", &id, Err(e)),
                    }
                }
                (None, Some(sheet)) => (
                    None,
                    ProjectSheet::from_toml(&read(&sheet)?)
                        .with_context(|| format!("in {}", sheet.display()))?,
                ),
                (None, None) => anyhow::bail!("give a project ID or --sheet FILE"),
            };
            let written = write_quote(
                &project_sheet,
                prices.as_deref(),
                health_index.as_deref(),
                QuoteRequest {
                    date: date.unwrap_or_else(|| chrono::Utc::now().date_naive()),
                    days_analyst,
                    days_expert,
                    months_vpn,
                    months_access,
                    storage_gb,
                },
                &out,
            );
            match session.as_mut() {
                Some(s) => {
                    let object = s.project.clone().unwrap_or_default();
                    s.finish("project quote", &object, written)
                }
                None => written,
            }
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

/// Identifies the account and checks `capability` on project `id` (by role or membership).
fn open_project(at: &Where, id: &str, capability: Capability, action: &str) -> Result<Session> {
    authorize_project(
        &at.identity,
        at.warehouse.as_deref(),
        id,
        |_| capability,
        action,
        id,
    )
}

/// A stored project, rebuilt from its events (an error when they do not replay).
fn load(store: &mut Store, id: &str) -> Result<Project> {
    Ok(store.project(id)?)
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Records a workflow refusal as refused (not failed), and passes every outcome on.
fn finish_op<T>(
    s: &mut Session,
    action: &str,
    object: &str,
    result: Result<T, ProjectOpError>,
) -> Result<T> {
    match result {
        Ok(v) => {
            s.record(action, object, Outcome::Done)?;
            Ok(v)
        }
        Err(e @ ProjectOpError::Refused(_)) => {
            s.record(action, object, Outcome::Refused(e.to_string()))?;
            Err(e.into())
        }
        Err(e) => {
            let e = anyhow::Error::from(e);
            s.record(action, object, Outcome::Failed(crate::error_text(&e)))?;
            Err(e)
        }
    }
}

fn file(at: &Where, sheet_path: &Path) -> Result<u8> {
    let object = sheet_path.display().to_string();
    let mut s = authorize(
        &at.identity,
        at.warehouse.as_deref(),
        Capability::FileProject,
        "project file",
        &object,
    )?;
    let sheet = read(sheet_path).and_then(|text| {
        ProjectSheet::from_toml(&text).with_context(|| format!("in {}", sheet_path.display()))
    });
    let sheet = match sheet {
        Ok(sheet) => sheet,
        Err(e) => return s.finish("project file", &object, Err(e)),
    };
    let account = s.account.clone();
    let created = s.store.create_project(sheet, &account, now());
    if let Ok(p) = &created {
        s.project = Some(p.id().to_string());
    }
    let p = finish_op(&mut s, "project file", &object, created)?;
    println!("{}", p.id());
    eprintln!(
        "filed {} \"{}\" ({}) at intake, {} as its requester; next: attach the project sheet (aim project add-document {} project_sheet --file …) and submit (aim project move {} submit)",
        p.id(),
        p.sheet().title,
        p.request_type(),
        account.email,
        p.id(),
        p.id()
    );
    Ok(0)
}

fn list(at: &Where) -> Result<u8> {
    // Every account may list: the agency sees every project, the others their own.
    let mut s = authorize(
        &at.identity,
        at.warehouse.as_deref(),
        Capability::ReadAtlas,
        "project list",
        "",
    )?;
    let account = s.account.clone();
    let all = require(&account, Capability::ReadProject).is_ok() && account.enabled;
    let ids: Vec<(String, String)> = if all {
        s.store
            .project_ids()?
            .into_iter()
            .map(|id| (id, String::new()))
            .collect()
    } else if account.enabled {
        s.store
            .projects_of(&account)?
            .into_iter()
            .map(|(id, r)| (id, r.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    s.record(
        "project list",
        if all { "all" } else { "own" },
        Outcome::Done,
    )?;
    let mut broken = 0;
    for (id, role) in ids {
        match s.store.project(&id) {
            Ok(p) => println!(
                "{}  {:<20}  {:<16}  {}{}",
                p.id(),
                p.request_type().to_string(),
                p.state().id(),
                p.sheet().title,
                if role.is_empty() {
                    String::new()
                } else {
                    format!("  (your role: {role})")
                }
            ),
            Err(e) => {
                broken += 1;
                eprintln!("error: {id}: {}", crate::error_text(&e.into()));
            }
        }
    }
    Ok(if broken > 0 { 2 } else { 0 })
}

fn show(at: &Where, id: &str) -> Result<u8> {
    let mut s = open_project(at, id, Capability::ReadProject, "project show")?;
    let loaded = load(&mut s.store, id);
    let p = s.finish("project show", id, loaded)?;
    let members = s.store.project_members(id)?;
    let wf = Workflow::builtin();
    let state = wf.state(p.state());
    println!("{}  {}", p.id(), p.sheet().title);
    println!(
        "type: {}; organisation: {}; filed by {} on {}",
        p.request_type(),
        p.sheet().organisation,
        p.created_by(),
        day(p.created_at())
    );
    println!(
        "state: {} ({}) since {}",
        p.state().id(),
        state.en,
        day(p.entered_at())
    );
    if let Some(exit) = wf.expected_exit(&p) {
        println!(
            "expected to leave this state by {}",
            exit.format("%Y-%m-%d")
        );
    }
    if let Some(deadline) = wf.committee_deadline(&p) {
        println!(
            "the sample committee's silence approves from {}",
            day(deadline)
        );
    }
    if let Some(n) = p.decision_number() {
        println!("privacy committee's decision: {n}");
    }
    println!("members:");
    for m in &members {
        println!("  {} ({}), {}", m.account.email, m.account.name, m.role);
    }
    println!("history:");
    if p.history().is_empty() {
        println!("  (none yet)");
    }
    for r in p.history() {
        let mut line = format!(
            "  {}  {:<18} {} → {}  by {}",
            day(r.at),
            r.action,
            r.from.id(),
            r.to.id(),
            r.actor
        );
        if let Some(n) = &r.decision_number {
            line.push_str(&format!("  decision {n}"));
        }
        if let Some(n) = &r.note {
            line.push_str(&format!("  — {n}"));
        }
        println!("{line}");
    }
    println!("documents:");
    if p.documents().is_empty() {
        println!("  (none yet)");
    }
    for d in p.documents() {
        println!(
            "  {}  {:<22} {}  by {}",
            day(d.added_at),
            d.kind,
            d.reference,
            d.added_by
        );
    }
    let flags = p.flags();
    let missing: Vec<_> = wf
        .checklist(p.request_type(), &flags, p.state())
        .into_iter()
        .filter(|(d, _)| !p.has_document(&d.id))
        .collect();
    println!("missing documents for the next steps:");
    if missing.is_empty() {
        println!("  none");
    }
    for (d, actions) in missing {
        println!("  [ ] {} ({}), for {}", d.id, d.en, actions.join(", "));
    }
    let mut actions: Vec<&str> = wf
        .transitions_from(p.request_type(), &flags, p.state())
        .iter()
        .map(|t| t.action.as_str())
        .collect();
    actions.dedup();
    println!(
        "possible actions: {}",
        if actions.is_empty() {
            "none (final state)".to_string()
        } else {
            actions.join(", ")
        }
    );
    Ok(0)
}

fn add_document(at: &Where, id: &str, kind: &str, file: Option<&Path>) -> Result<u8> {
    let object = format!(
        "{kind} {}",
        file.map(|f| f.display().to_string()).unwrap_or_default()
    );
    let object = object.trim().to_string();
    let mut s = authorize_project(
        &at.identity,
        at.warehouse.as_deref(),
        id,
        |_| Capability::ActForProject,
        "project add-document",
        &object,
    )?;
    let reference = match file {
        Some(f) => match std::fs::read(f) {
            Ok(bytes) => {
                use sha2::Digest;
                let digest = hex::encode(sha2::Sha256::digest(&bytes));
                format!("{} sha256:{digest}", f.display())
            }
            Err(e) => {
                let e = anyhow::Error::from(e).context(format!("cannot read {}", f.display()));
                return s.finish("project add-document", &object, Err(e));
            }
        },
        None => "(recorded without a file)".to_string(),
    };
    let account = s.account.clone();
    let result = s
        .store
        .add_project_document(id, kind, &reference, &account, now());
    let p = finish_op(&mut s, "project add-document", &object, result)?;
    println!(
        "{}: attached {kind} ({reference}); state {}",
        p.id(),
        p.state().id()
    );
    Ok(0)
}

fn move_project(
    at: &Where,
    id: &str,
    action: &str,
    note: Option<String>,
    decision: Option<String>,
) -> Result<u8> {
    let mut object = action.to_string();
    if let Some(n) = &decision {
        object.push_str(&format!(" decision {n}"));
    }
    let mut s = authorize_project(
        &at.identity,
        at.warehouse.as_deref(),
        id,
        |store| {
            // What a move needs depends on the state it leaves (a committee's refusal is not
            // the programme managers').
            let from = store.project(id).ok().map(|p| p.state());
            capability_for_transition(action, from)
        },
        "project move",
        &object,
    )?;
    let account = s.account.clone();
    let mut attempt = Attempt::new(action, &account.email, now());
    attempt.note = note;
    attempt.decision_number = decision;
    let result = s.store.move_project(id, &account, attempt);
    let (p, r) = finish_op(&mut s, "project move", &object, result)?;
    let wf = Workflow::builtin();
    println!(
        "{}: {} → {} ({}){}{}",
        p.id(),
        r.from.id(),
        r.to.id(),
        wf.state(r.to).en,
        r.decision_number
            .as_deref()
            .map(|n| format!(", decision {n}"))
            .unwrap_or_default(),
        wf.expected_exit(&p)
            .map(|t| format!("; expected to leave it by {}", t.format("%Y-%m-%d")))
            .unwrap_or_default()
    );
    Ok(0)
}

fn member(at: &Where, id: &str, email: &str) -> Result<u8> {
    let mut s = open_project(at, id, Capability::ManageProjectMembers, "project member")?;
    let object = format!("add {email}");
    let account = s.account.clone();
    let result = s.store.add_project_member(id, email, &account);
    let m = s.finish(
        "project member",
        &object,
        result.map_err(anyhow::Error::from),
    )?;
    println!(
        "{id}: {} ({}) added as {}",
        m.account.email, m.account.name, m.role
    );
    Ok(0)
}

/// Writes the quote of `sheet` into `out` and prints its total.
fn write_quote(
    sheet: &ProjectSheet,
    prices: Option<&Path>,
    health_index: Option<&Path>,
    request: QuoteRequest,
    out: &Path,
) -> Result<u8> {
    let prices = match prices {
        Some(p) => {
            PriceList::from_toml(&read(p)?).with_context(|| format!("in {}", p.display()))?
        }
        None => PriceList::builtin(),
    };
    let index = match health_index {
        Some(p) => {
            HealthIndex::from_toml(&read(p)?).with_context(|| format!("in {}", p.display()))?
        }
        None => HealthIndex::builtin(),
    };
    let quote = aim_projects::quote(&prices, &index, sheet, &request)?;
    let wf = Workflow::builtin();
    let files = aim_projects::render::write_quote(&quote, &wf, out)?;
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
