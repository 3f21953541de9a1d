//! The test binaries' accounts: one store (SQLite, in the target's test folder) with one
//! account per role and its key file, made once per test binary with the real `aim account`
//! commands.

use aim_access::Role;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The shared store and a key file per role.
pub struct Accounts {
    /// The store (a SQLite file).
    pub store: PathBuf,
    dir: PathBuf,
    /// A population request in production: filed by the agency analyst, the data manager
    /// its member (`aim table --source population --project …`).
    #[allow(dead_code)]
    pub population_project: String,
    /// A sample partner's sample request in production (its sheet's eps_partner flag: raw
    /// results too), the data manager and the agency analyst its members.
    #[allow(dead_code)]
    pub sample_project: String,
}

impl Accounts {
    /// The key file of the account holding `role` (and only it).
    pub fn key(&self, role: Role) -> PathBuf {
        self.dir.join(format!("{}.key", role.as_str()))
    }
}

/// The e-mail of the account holding `role`.
pub fn email(role: Role) -> &'static str {
    match role {
        Role::Researcher => "researcher@test.example",
        Role::SamplePartner => "sample-partner@test.example",
        Role::AgencyAnalyst => "agency-analyst@test.example",
        Role::DataManager => "data-manager@test.example",
        Role::ControlServices => "control-services@test.example",
        Role::Administrator => "administrator@test.example",
    }
}

/// `aim` with no identity from the environment.
pub fn bare() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aim"));
    c.env("AIM_LOG", "error")
        .env_remove("AIM_STORE")
        .env_remove("AIM_KEY_FILE");
    c
}

fn ok(c: &mut Command) {
    let o = c.output().expect("aim runs");
    assert!(
        o.status.success(),
        "{:?}: {}{}",
        c,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Creates, in `dir`, a store at `store` (a file or a postgres:// URL) with the first
/// administrator and one account per other role, and each one's key file.
pub fn populate(store: &str, dir: &Path) {
    let admin_key = dir.join(format!("{}.key", Role::Administrator.as_str()));
    ok(bare().args([
        "account",
        "init",
        "--store",
        store,
        "--email",
        email(Role::Administrator),
        "--name",
        "Test Administrator",
        "--organisation",
        "the agency",
        "--key-out",
        admin_key.to_str().unwrap(),
    ]));
    for role in Role::ALL {
        if role == Role::Administrator {
            continue;
        }
        ok(bare().args([
            "account",
            "add",
            "--store",
            store,
            "--key-file",
            admin_key.to_str().unwrap(),
            "--email",
            email(role),
            "--name",
            &format!("Test {}", role.label()),
            "--organisation",
            "the agency",
            "--role",
            role.as_str(),
            "--key-out",
            dir.join(format!("{}.key", role.as_str())).to_str().unwrap(),
        ]));
    }
}

/// The shared accounts, made on first use.
pub fn accounts() -> &'static Accounts {
    static ACCOUNTS: OnceLock<Accounts> = OnceLock::new();
    ACCOUNTS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("accounts-{}", env!("CARGO_CRATE_NAME")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = dir.join("access.db");
        populate(store.to_str().unwrap(), &dir);
        let (population_project, sample_project) = projects_in_production(&store);
        Accounts {
            store,
            dir,
            population_project,
            sample_project,
        }
    })
}

/// Files and takes to production, through the store and the workflow, the population and
/// the sample request of [`Accounts`].
fn projects_in_production(store: &Path) -> (String, String) {
    use aim_projects::{ProjectSheet, RequestType, State};
    let mut s = aim_access::Store::open(&aim_access::StoreLocation::parse(store.to_str().unwrap()))
        .unwrap();
    let account = |s: &mut aim_access::Store, role| s.account(email(role)).unwrap();
    let analyst = account(&mut s, Role::AgencyAnalyst);
    let partner = account(&mut s, Role::SamplePartner);
    let manager = account(&mut s, Role::DataManager);
    let now = chrono::Utc::now();
    let mut file = |kind, by: &aim_access::Account, members: &[Role]| {
        let mut sheet =
            ProjectSheet::from_toml(include_str!("../../../../examples/project-sheet.toml"))
                .unwrap();
        sheet.request_type = kind;
        sheet.eps_partner = kind == RequestType::SampleAggregate;
        sheet.organisation = format!("{} ({kind})", by.organisation);
        let id = s.create_project(sheet, by, now).unwrap().id().to_string();
        for m in members {
            s.add_project_member(&id, email(*m), &analyst).unwrap();
        }
        s.advance_project(&id, &manager, State::Production, "test", "DEC/1", now)
            .unwrap();
        id
    };
    (
        file(
            RequestType::PopulationAggregate,
            &analyst,
            &[Role::DataManager],
        ),
        file(
            RequestType::SampleAggregate,
            &partner,
            &[Role::DataManager, Role::AgencyAnalyst],
        ),
    )
}
