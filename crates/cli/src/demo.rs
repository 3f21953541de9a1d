//! `aim demo`: the whole platform on an embedded default, end to end.

use crate::progress;
use aim_access::{AuditEvent, NewAccount, Outcome, Role, Store, StoreLocation, key, password};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The demo's accounts: one per role (e-mail, name, organisation).
const ACCOUNTS: [(Role, &str, &str, &str); 6] = [
    (
        Role::Administrator,
        "admin@aim.example",
        "Alex Wouters",
        "the agency",
    ),
    (
        Role::DataManager,
        "data.manager@aim.example",
        "Dana Peeters",
        "the agency",
    ),
    (
        Role::AgencyAnalyst,
        "analyst@aim.example",
        "Ana Janssens",
        "the agency",
    ),
    (
        Role::SamplePartner,
        "partner@kce.example",
        "Pat Dubois",
        "the knowledge centre",
    ),
    (
        Role::Researcher,
        "researcher@uni.example",
        "Robin Maes",
        "a university",
    ),
    (
        Role::ControlServices,
        "control@inami.example",
        "Chris Lambert",
        "the insurance institute (SECM)",
    ),
];

/// Creates the demo's accounts in the warehouse's store: local passwords (listed in
/// `OUT/accounts.txt`, mode 600) and key files (`OUT/keys/<role>.key`).
fn create_accounts(out: &Path, warehouse: &Path) -> Result<Store> {
    let mut store = Store::open(&StoreLocation::in_warehouse(warehouse))?;
    let mut listing = String::from(
        "# The demo's accounts (docs/access.md). Passwords are for the web login; the command\n\
         # line uses the key files: aim … --key-file keys/<role>.key\n",
    );
    for (i, (role, email, name, organisation)) in ACCOUNTS.into_iter().enumerate() {
        let account = if i == 0 {
            store.init_administrator(email, name, organisation)?
        } else {
            store.create_account(&NewAccount {
                email: email.into(),
                name: name.into(),
                organisation: organisation.into(),
                roles: [role].into(),
            })?
        };
        let pw = password::generate();
        store.set_password(&account.email, &pw)?;
        let key_file = out.join("keys").join(format!("{}.key", role.as_str()));
        key::write_key_file(&key_file, &store.issue_key(&account.email)?)?;
        listing.push_str(&format!(
            "{:<17} {:<26} password {pw}  key {}\n",
            role.as_str(),
            account.email,
            key_file.display()
        ));
    }
    crate::write_private(&out.join("accounts.txt"), listing.trim_end())?;
    Ok(store)
}

fn record(store: &mut Store, action: &str, object: &str) -> Result<()> {
    store.append_audit(&AuditEvent {
        account: Some(ACCOUNTS[1].1.to_string()),
        project: None,
        action: action.into(),
        object: object.into(),
        outcome: Outcome::Done,
    })?;
    Ok(())
}

/// A demo project: its requester, its sheet, its steps (who, `doc KIND` or an action).
type Plan<'a> = (
    &'a aim_access::Account,
    aim_projects::ProjectSheet,
    Vec<(&'a aim_access::Account, &'static str)>,
);

/// The demo's account holding `role` (one per role, [`ACCOUNTS`]).
fn account(store: &mut Store, role: Role) -> Result<aim_access::Account, aim_access::StoreError> {
    let email = ACCOUNTS
        .iter()
        .find(|a| a.0 == role)
        .expect("one per role")
        .1;
    store.account(email)
}

/// A few projects in different states (docs/projects.md), filed and moved by the demo's
/// accounts through the store (the workflow checks every step), each step in the audit log
/// with its project: coded data waiting for the privacy committee, a sample request in
/// production (the demo releases its table, then delivers it: [`release_for_project`]), a
/// population request at intake. Returns (id, state) of each.
fn create_projects(store: &mut Store) -> Result<Vec<(String, String)>> {
    use aim_projects::{Attempt, ProjectSheet};
    let researcher = account(store, Role::Researcher)?;
    let partner = account(store, Role::SamplePartner)?;
    let analyst = account(store, Role::AgencyAnalyst)?;
    let manager = account(store, Role::DataManager)?;
    let example = include_str!("../../../examples/project-sheet.toml");
    let sheet = |kind: &str, title: &str| {
        ProjectSheet::from_toml(
            &example
                .replace("type = \"coded-data\"", &format!("type = \"{kind}\""))
                .replace(
                    "title = \"Antidepressants in nursing homes, 2019–2023\"",
                    &format!("title = \"{title}\""),
                ),
        )
    };
    let mut out = Vec::new();
    let plans: [Plan; 3] = [
        (
            &researcher,
            sheet("coded-data", "Antidepressants in nursing homes, 2019–2023")?,
            vec![
                (&researcher, "doc project_sheet"),
                (&researcher, "submit"),
                (&analyst, "accept"),
                (&analyst, "doc authorisation_request"),
                (&analyst, "approve"),
            ],
        ),
        (
            &partner,
            sheet(
                "sample-aggregate",
                "GP contacts by age group and region, 2023",
            )?,
            vec![
                (&partner, "doc project_sheet"),
                (&partner, "submit"),
                (&analyst, "accept"),
                (&analyst, "doc ctep_opinion"),
                (&analyst, "approve"),
                (&partner, "doc cost_agreement"),
                (&manager, "sign"),
            ],
        ),
        (
            &researcher,
            sheet(
                "population-aggregate",
                "Insulin users by municipality, 2024",
            )?,
            vec![],
        ),
    ];
    for (requester, sheet, steps) in plans {
        let p = store.create_project(sheet, requester, chrono::Utc::now())?;
        let id = p.id().to_string();
        let mut state = p.state();
        demo_audit(store, requester, &id, "project file", "demo")?;
        for (who, step) in steps {
            let now = chrono::Utc::now();
            if let Some(kind) = step.strip_prefix("doc ") {
                store.add_project_document(&id, kind, "(demo: no file)", who, now)?;
                demo_audit(store, who, &id, "project add-document", kind)?;
            } else {
                let (moved, _) =
                    store.move_project(&id, who, Attempt::new(step, &who.email, now))?;
                state = moved.state();
                demo_audit(store, who, &id, "project move", step)?;
            }
        }
        out.push((id, state.id().to_string()));
    }
    Ok(out)
}

/// The sample partner's table for its project in production, through the gate's one door
/// (`aim table --project`), then the project delivered by the data manager: the demo's
/// release. Returns the file written.
fn release_for_project(
    store: &mut Store,
    wh: &aim_warehouse::Warehouse,
    project: &str,
    out: &Path,
) -> Result<PathBuf> {
    let partner = account(store, Role::SamplePartner)?;
    let manager = account(store, Role::DataManager)?;
    let p = store.project(project)?;
    let membership = store.membership(project, &partner)?;
    let grant = aim_access::authorize_release(
        &partner,
        aim_access::Capability::ReleaseSampleTable,
        &p,
        membership,
    )?;
    let spec = out.join("releases").join("spending-by-province-sex.toml");
    std::fs::create_dir_all(spec.parent().expect("a folder"))?;
    std::fs::write(
        &spec,
        include_str!("../../../examples/spending-by-province-sex.toml"),
    )?;
    let file = spec.with_extension("csv");
    println!("6/6 releasing a table on the sample for project {project} (as the sample partner)");
    crate::table::run(wh, std::slice::from_ref(&spec), &file, "csv", None, &grant)?;
    demo_audit(
        store,
        &partner,
        project,
        "table --source sample",
        &spec.display().to_string(),
    )?;
    store.move_project(
        project,
        &manager,
        aim_projects::Attempt::new("deliver", &manager.email, chrono::Utc::now()),
    )?;
    demo_audit(store, &manager, project, "project move", "deliver")?;
    Ok(file)
}

fn demo_audit(
    store: &mut Store,
    who: &aim_access::Account,
    project: &str,
    action: &str,
    object: &str,
) -> Result<()> {
    store.append_audit(&AuditEvent {
        account: Some(who.email.clone()),
        project: Some(project.to_string()),
        action: action.into(),
        object: object.into(),
        outcome: Outcome::Done,
    })?;
    Ok(())
}

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
    let wh = aim_warehouse::Warehouse::open_or_create(&warehouse)?;
    let mut store = create_accounts(&args.out, wh.root())?;
    println!(
        "0/6 accounts: one per role, in {} (passwords in {}, key files in {})",
        store.name(),
        args.out.join("accounts.txt").display(),
        args.out.join("keys").display()
    );
    let projects = create_projects(&mut store)?;
    println!(
        "    projects: {}",
        projects
            .iter()
            .map(|(id, state)| format!("{id} ({state})"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    println!(
        "1/6 synthesising {} persons over 2023-2024 (seed {}) into {}",
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

    println!("2/6 importing reference data from {}", reference.display());
    let rt = crate::runtime()?;
    let imported = {
        let _lock = aim_warehouse::WarehouseLock::acquire(&wh, "aim demo")?;
        rt.block_on(aim_warehouse::reference::import(&wh, &reference))?
    };
    println!("    {} reference tables", imported.len());
    record(
        &mut store,
        "reference import",
        &reference.display().to_string(),
    )?;

    println!("3/6 checking and ingesting the deliveries");
    let summary = rt.block_on(progress::ingest(
        &wh,
        std::slice::from_ref(&deliveries),
        true,
    ))?;
    progress::print_ingest_summary(&wh, &summary);
    record(&mut store, "ingest", &deliveries.display().to_string())?;

    println!("4/6 deriving hospital stays, one row per person and year, and the permanent sample");
    let built = rt.block_on(progress::build(
        &wh,
        &aim_derive::BuildOptions::default(),
        true,
    ))?;
    progress::print_build_summary(&wh, &built);
    record(&mut store, "build", "every year")?;

    // All ages only: 100,000 synthetic persons over 565 municipalities make nearly every
    // municipality × sex × age group cell small, and the gate's audit of such a table takes
    // tens of minutes (a real warehouse, or 1,000,000 persons, takes minutes: docs/benchmarks.md).
    println!(
        "5/6 computing the Atlas's indicators through the disclosure gate \
         (all ages; `aim atlas build` adds the age groups)"
    );
    let atlas = progress::atlas(&wh, None, &reference, false)?;
    progress::print_atlas_summary(&atlas);
    record(&mut store, "atlas build", "")?;

    let sample_project = &projects[1].0;
    let released = release_for_project(&mut store, &wh, sample_project, &args.out)?;
    println!(
        "    released for {sample_project} through the gate: {}; the project is now delivered",
        released.display()
    );

    let wh_arg = warehouse.display();
    let keys = args.out.join("keys");
    let key = |role: Role| {
        format!(
            "--key-file {}",
            keys.join(format!("{}.key", role.as_str())).display()
        )
    };
    let (dm, partner, admin) = (
        key(Role::DataManager),
        key(Role::SamplePartner),
        key(Role::Administrator),
    );
    println!(
        "\nDone in {:.0} s. Where to look:",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  QC reports:      {}/qc/<delivery>/report.html, period overviews {}/qc/overview-<period>.html",
        wh_arg, wh_arg
    );
    println!(
        "  accounts:        one per role; passwords and key files in {} (docs/access.md)",
        args.out.join("accounts.txt").display()
    );
    println!("  what is loaded:  aim status --warehouse {wh_arg} {dm}");
    println!(
        "  query it:        aim sql --warehouse {wh_arg} {dm} \"SELECT insurer, count(*) AS lines, sum(amount_reimbursed) AS reimbursed FROM gzss GROUP BY insurer ORDER BY insurer\""
    );
    println!(
        "  derived data:    aim sql --warehouse {wh_arg} {dm} \"SELECT year, count(*) AS persons, avg(gp_contacts) AS gp, sum(CASE WHEN pp_diabetes_insulin OR pp_diabetes_no_insulin THEN 1 ELSE 0 END) AS diabetes FROM pati GROUP BY year\""
    );
    println!(
        "  the sample:      aim sql --sample --warehouse {wh_arg} {partner} \"SELECT year, count(*) AS members, sum(eps_weight) AS represented FROM pati GROUP BY year\""
    );
    println!(
        "  refused:         the same without --sample and the partner's key says which role is missing"
    );
    let researcher = key(Role::Researcher);
    let analyst = key(Role::AgencyAnalyst);
    println!(
        "  projects:        aim project list --warehouse {wh_arg} {analyst}; aim project show {} --warehouse {wh_arg} {researcher}",
        projects.first().map(|p| p.0.as_str()).unwrap_or("P-…")
    );
    println!(
        "  move one:        aim project add-document {0} privacy_decision --warehouse {wh_arg} {analyst}; aim project move {0} authorise --decision 26/017 --warehouse {wh_arg} {analyst}",
        projects.first().map(|p| p.0.as_str()).unwrap_or("P-…")
    );
    println!(
        "  the audit log:   aim audit show --warehouse {wh_arg} {admin}; aim audit verify --warehouse {wh_arg} {admin}"
    );
    println!("  tables (Delta Lake, readable by Spark, Polars, DuckDB): {wh_arg}/tables/");
    println!("  the open data:   aim atlas export --warehouse {wh_arg} --out atlas-open-data");
    println!(
        "  on the web:      http://127.0.0.1:{}/login, with an e-mail and password of {} (project pages; docs/web-projects.md)",
        args.port,
        args.out.join("accounts.txt").display()
    );
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_files_projects_in_three_states() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = super::create_accounts(tmp.path(), tmp.path()).unwrap();
        let projects = super::create_projects(&mut store).unwrap();
        let states: Vec<&str> = projects.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(states, ["privacy", "production", "intake"]);
        for (id, state) in &projects {
            assert_eq!(store.project(id).unwrap().state().id(), state);
        }
        assert!(store.verify_audit(None).unwrap().holds());
    }
}
