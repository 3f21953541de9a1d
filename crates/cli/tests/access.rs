//! Who may run what: every command × every role, refusals naming the role needed and
//! written to the audit log; accounts, keys and the audit log through the real binary, on
//! SQLite and on PostgreSQL.

mod accounts;

use accounts::{accounts, bare, email, populate};
use aim_access::{Capability, Role, capability::roles_for};
use std::path::Path;
use std::process::{Command, Output};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `aim` on the shared store, acting as `role`.
fn as_role(role: Role) -> Command {
    let a = accounts();
    let mut c = bare();
    c.env("AIM_STORE", &a.store)
        .env("AIM_KEY_FILE", a.key(role));
    c
}

/// What a refusal of `capability` says.
fn needs(capability: Capability) -> String {
    let roles: Vec<&str> = roles_for(capability)
        .unwrap()
        .iter()
        .map(|r| r.label())
        .collect();
    match roles.as_slice() {
        [one] => format!("{} needs the role {one}", capability.describe()),
        [init @ .., last] => format!(
            "{} needs one of the roles {} or {last}",
            capability.describe(),
            init.join(", ")
        ),
        [] => unreachable!(),
    }
}

/// Every command that checks a role, with the capability it needs. `W` is a warehouse
/// folder that does not exist (an allowed command fails later, on the warehouse, never
/// with a refusal).
fn commands(tmp: &Path) -> Vec<(Vec<String>, Capability)> {
    let w = tmp.join("nowhere").to_str().unwrap().to_string();
    let spec = tmp.join("spec.toml").to_str().unwrap().to_string();
    let out = tmp.join("out.csv").to_str().unwrap().to_string();
    let dir = tmp.join("no-deliveries").to_str().unwrap().to_string();
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (population, sample) = (
        accounts().population_project.as_str(),
        accounts().sample_project.as_str(),
    );
    vec![
        (
            v(&["sql", "--warehouse", &w, "SELECT 1"]),
            Capability::QueryPopulation,
        ),
        (
            v(&["sql", "--sample", "--warehouse", &w, "SELECT 1"]),
            Capability::QuerySample,
        ),
        (
            v(&[
                "table",
                "--project",
                sample,
                "--warehouse",
                &w,
                "--spec",
                &spec,
                "--source",
                "sample",
                "--out",
                &out,
            ]),
            Capability::ReleaseSampleTable,
        ),
        (
            v(&[
                "table",
                "--project",
                population,
                "--warehouse",
                &w,
                "--spec",
                &spec,
                "--source",
                "population",
                "--out",
                &out,
            ]),
            Capability::ReleasePopulationTable,
        ),
        (
            v(&[
                "table",
                "--project",
                sample,
                "--warehouse",
                &w,
                "--spec",
                &spec,
                "--source",
                "sample",
                "--out",
                &out,
                "--raw",
            ]),
            Capability::RawSampleTable,
        ),
        (
            v(&[
                "study",
                "lorenz",
                "--project",
                population,
                "--warehouse",
                &w,
                "--source",
                "population",
                "--year",
                "2024",
                "--out",
                &dir,
            ]),
            Capability::ReleasePopulationTable,
        ),
        (
            v(&[
                "study",
                "lorenz",
                "--project",
                sample,
                "--warehouse",
                &w,
                "--source",
                "sample",
                "--year",
                "2024",
                "--out",
                &dir,
            ]),
            Capability::ReleaseSampleTable,
        ),
        (
            v(&[
                "study",
                "art112",
                "--project",
                population,
                "--warehouse",
                &w,
                "--requests",
                &spec,
                "--out",
                &dir,
            ]),
            Capability::ReleasePopulationTable,
        ),
        (v(&["ingest", "--warehouse", &w, &dir]), Capability::Ingest),
        (
            v(&[
                "confirm",
                "--warehouse",
                &w,
                "--reason",
                "why",
                "300-GZSS-2024Q2-x",
            ]),
            Capability::ConfirmCorrection,
        ),
        (
            v(&["reference", "import", "--warehouse", &w, &dir]),
            Capability::ImportReference,
        ),
        (v(&["build", "--warehouse", &w]), Capability::Build),
        (
            v(&["atlas", "build", "--warehouse", &w]),
            Capability::PublishAtlas,
        ),
        (
            v(&["warehouse", "vacuum", "--warehouse", &w, "--dry-run"]),
            Capability::MaintainWarehouse,
        ),
        (v(&["status", "--warehouse", &w]), Capability::ReadStatus),
        (v(&["account", "list"]), Capability::ManageAccounts),
        (
            v(&["account", "disable", "nobody@test.example"]),
            Capability::ManageAccounts,
        ),
        (
            v(&["account", "enable", "nobody@test.example"]),
            Capability::ManageAccounts,
        ),
        (
            v(&["account", "key", "nobody@test.example"]),
            Capability::ManageAccounts,
        ),
        (
            v(&[
                "account",
                "link-oidc",
                "nobody@test.example",
                "--issuer",
                "https://idp.example.be",
                "--subject",
                "s-1",
            ]),
            Capability::ManageAccounts,
        ),
        (
            v(&[
                "account",
                "add",
                "--email",
                "nobody@test.example",
                "--name",
                "N",
                "--organisation",
                "O",
                "--role",
                "researcher",
                "--key-out",
                tmp.join("never.key").to_str().unwrap(),
            ]),
            Capability::ManageAccounts,
        ),
        (v(&["audit", "show"]), Capability::ReadAudit),
        (v(&["audit", "verify"]), Capability::ReadAudit),
        // A project that does not exist: an allowed account is told so, the others are
        // refused exactly as for a project they are not members of.
        (
            v(&["project", "file", "--sheet", &dir]),
            Capability::FileProject,
        ),
        (
            v(&["project", "show", "P-1999-001"]),
            Capability::ReadProject,
        ),
        (
            v(&["project", "add-document", "P-1999-001", "project_sheet"]),
            Capability::ActForProject,
        ),
        (
            v(&["project", "move", "P-1999-001", "accept"]),
            Capability::ReviewProject,
        ),
        (
            v(&[
                "project",
                "move",
                "P-1999-001",
                "authorise",
                "--decision",
                "26/1",
            ]),
            Capability::RecordCommitteeDecision,
        ),
        (
            v(&["project", "member", "P-1999-001", "--add", "x@test.example"]),
            Capability::ManageProjectMembers,
        ),
    ]
}

#[test]
fn every_command_is_refused_to_every_role_that_lacks_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("spec.toml"), "title = \"t\"\n").unwrap();
    let mut checked = std::collections::BTreeSet::new();
    for (args, capability) in commands(tmp.path()) {
        checked.insert(capability);
        let allowed = roles_for(capability).unwrap();
        for role in Role::ALL {
            // An allowed `account add` would create the account: leave it to the lifecycle test.
            if allowed.contains(&role) && args[..2] == ["account", "add"] {
                continue;
            }
            let o = as_role(role).args(&args).output().unwrap();
            let out = text(&o);
            if allowed.contains(&role) {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    !err.contains("error: refused"),
                    "{role:?} runs {args:?}: {out}"
                );
            } else {
                assert_eq!(o.status.code(), Some(2), "{role:?} {args:?}: {out}");
                assert!(out.contains(&needs(capability)), "{role:?} {args:?}: {out}");
                assert!(
                    out.contains(&format!("has the role(s) {}", role.label())),
                    "the refusal says what the account holds: {out}"
                );
            }
        }
    }
    // Every capability but the public Atlas has a command in the table.
    let untested: Vec<_> = Capability::ALL
        .into_iter()
        .filter(|c| !c.is_public() && !checked.contains(c))
        .collect();
    assert!(untested.is_empty(), "{untested:?}");

    // The refusals are in the audit log, with who and what.
    let o = as_role(Role::Administrator)
        .args(["audit", "show", "--json", "--last", "100000"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let refused = |who: Role, action: &str| {
        entries.iter().any(|e| {
            e["account"] == email(who)
                && e["action"] == action
                && e["outcome"] == "refused"
                && e["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("needs the role data manager")
        })
    };
    assert!(refused(Role::Researcher, "sql"));
    assert!(refused(Role::AgencyAnalyst, "ingest"));
    assert!(refused(Role::Administrator, "build"));
    let o = as_role(Role::Administrator)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("the audit log holds"), "{}", text(&o));
}

#[test]
fn public_commands_need_no_account_and_others_say_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let nobody = || {
        let mut c = bare();
        c.env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env("AIM_STORE", &accounts().store);
        c
    };
    let o = nobody().args(["docs", "data-model"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = nobody()
        .args(["sql", "--warehouse", "/nonexistent", "SELECT 1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = text(&o);
    assert!(
        out.contains("no key file was found") && out.contains("--key-file"),
        "{out}"
    );
    // A key file that others can read is refused, as ssh does.
    let loose = tmp.path().join("loose.key");
    std::fs::copy(accounts().key(Role::DataManager), &loose).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let o = nobody()
            .args(["sql", "--warehouse", "/nonexistent", "--key-file"])
            .arg(&loose)
            .arg("SELECT 1")
            .output()
            .unwrap();
        assert!(text(&o).contains("chmod 600"), "{}", text(&o));
    }
    // No store where the warehouse would have it.
    let o = bare()
        .args(["sql", "--warehouse"])
        .arg(tmp.path())
        .arg("SELECT 1")
        .output()
        .unwrap();
    assert!(text(&o).contains("aim account init"), "{}", text(&o));
}

/// The account lifecycle and a tampered log, on any store.
fn lifecycle(store: &str, dir: &Path, tamper: impl Fn(&str)) {
    populate(store, dir);
    let admin = dir.join("administrator.key");
    let run = |args: &[&str], key: &Path| {
        bare()
            .args(args)
            .args(["--store", store, "--key-file"])
            .arg(key)
            .output()
            .unwrap()
    };
    // The first administrator only once.
    let o = bare()
        .args([
            "account",
            "init",
            "--store",
            store,
            "--email",
            "second@test.example",
            "--name",
            "S",
            "--organisation",
            "O",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("already has 6 account(s)"),
        "{}",
        text(&o)
    );
    let o = run(&["account", "list"], &admin);
    assert!(o.status.success(), "{}", text(&o));
    for role in Role::ALL {
        assert!(text(&o).contains(email(role)), "{}", text(&o));
    }
    // A disabled account is refused; enabled again, it works.
    let analyst = dir.join("agency-analyst.key");
    let o = run(&["account", "disable", email(Role::AgencyAnalyst)], &admin);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["status", "--warehouse", "/nonexistent"], &analyst);
    assert!(text(&o).contains("is disabled"), "{}", text(&o));
    let o = run(&["account", "enable", email(Role::AgencyAnalyst)], &admin);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["status", "--warehouse", "/nonexistent"], &analyst);
    assert!(!text(&o).contains("error: refused"), "{}", text(&o));
    // A new key replaces the old one.
    let fresh = dir.join("analyst-new.key");
    let o = run(
        &[
            "account",
            "key",
            email(Role::AgencyAnalyst),
            "--out",
            fresh.to_str().unwrap(),
        ],
        &admin,
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["status", "--warehouse", "/nonexistent"], &analyst);
    assert!(text(&o).contains("belongs to no account"), "{}", text(&o));
    let o = run(&["status", "--warehouse", "/nonexistent"], &fresh);
    assert!(!text(&o).contains("error: refused"), "{}", text(&o));
    // An OpenID Connect identity: linked by an administrator, once, to one account, audited.
    let link = |who: &str, issuer: &str, subject: &str| {
        run(
            &[
                "account",
                "link-oidc",
                who,
                "--issuer",
                issuer,
                "--subject",
                subject,
            ],
            &admin,
        )
    };
    let issuer = "https://idp.example.be/realms/aim";
    let o = link(email(Role::Researcher), issuer, "f3a1c2");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("is linked to the subject f3a1c2 of https://idp.example.be/realms/aim"),
        "{}",
        text(&o)
    );
    let o = link(email(Role::AgencyAnalyst), issuer, "f3a1c2");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("linked to another account"),
        "{}",
        text(&o)
    );
    let o = link(email(Role::AgencyAnalyst), "http://idp.example.be", "a1");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("only https"), "{}", text(&o));
    let o = run(
        &[
            "account",
            "link-oidc",
            email(Role::Researcher),
            "--issuer",
            issuer,
            "--subject",
            "x",
        ],
        &fresh,
    );
    assert!(
        text(&o).contains("needs the role administrator"),
        "{}",
        text(&o)
    );
    let o = run(&["audit", "show", "--json", "--last", "10"], &admin);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let linked = |outcome: &str, needle: &str| {
        entries.iter().any(|e| {
            e["action"] == "account link-oidc"
                && e["outcome"] == outcome
                && e["object"].as_str().unwrap_or("").contains(needle)
        })
    };
    assert!(linked("done", "f3a1c2"), "{entries:?}");
    assert!(linked("failed", "idp.example.be"), "{entries:?}");

    // A password from standard input.
    let mut child = bare()
        .args([
            "account",
            "password",
            email(Role::Researcher),
            "--store",
            store,
            "--key-file",
        ])
        .arg(&admin)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    // The log holds; tampered, `aim audit verify` says where, with exit status 4.
    let o = run(&["audit", "verify"], &admin);
    assert!(o.status.success(), "{}", text(&o));
    tamper("UPDATE audit_log SET account = 'someone.else@test.example' WHERE seq = 3");
    let o = run(&["audit", "verify"], &admin);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("BROKEN at entry 3"), "{}", text(&o));
}

#[test]
fn accounts_keys_and_a_tampered_log_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("access.db");
    let s = store.to_str().unwrap().to_string();
    lifecycle(&s, tmp.path(), |sql| {
        let c = rusqlite::Connection::open(&store).unwrap();
        c.execute_batch("DROP TRIGGER audit_log_no_update").unwrap();
        c.execute_batch(sql).unwrap();
    });
}

#[test]
fn accounts_keys_and_a_tampered_log_on_postgres() {
    let Some(server) = aim_testpg::PgServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let url = server.new_database();
    lifecycle(&url, tmp.path(), |sql| {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute("DROP TRIGGER audit_log_no_change ON audit_log")
            .unwrap();
        c.batch_execute(sql).unwrap();
    });
}

#[test]
fn account_init_with_a_warehouse_makes_both() {
    let tmp = tempfile::tempdir().unwrap();
    let wh = tmp.path().join("wh");
    let key = tmp.path().join("admin.key");
    let o = bare()
        .args(["account", "init", "--warehouse"])
        .arg(&wh)
        .args([
            "--email",
            "a@test.example",
            "--name",
            "A",
            "--organisation",
            "O",
            "--key-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(wh.join("access.db").exists());
    // The warehouse is usable afterwards (the store file does not make it "not a warehouse").
    let o = bare()
        .args(["account", "list", "--warehouse"])
        .arg(&wh)
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("a@test.example"), "{}", text(&o));
}
