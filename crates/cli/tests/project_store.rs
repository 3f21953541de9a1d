//! Projects through the real binary, on SQLite and on PostgreSQL: one project of each type
//! filed, moved from intake to delivery by accounts of the right roles, and the refusals —
//! a wrong role, a wrong state, a missing decision number, a non-member reading — each
//! printed with its reason (exit 2) and written to the audit log with the project.

#[allow(dead_code)]
mod accounts;

use accounts::{bare, email, populate};
use aim_access::Role;
use std::path::{Path, PathBuf};
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A store with one account per role, and a second researcher.
struct Env {
    store: String,
    dir: PathBuf,
}

const OTHER: &str = "other-researcher";

impl Env {
    fn new(store: String, dir: &Path) -> Env {
        populate(&store, dir);
        let env = Env {
            store,
            dir: dir.to_path_buf(),
        };
        let key = dir.join(format!("{OTHER}.key"));
        let o = env.run_key(
            &env.key(Role::Administrator),
            &[
                "account",
                "add",
                "--email",
                "other@test.example",
                "--name",
                "Other Researcher",
                "--organisation",
                "another university",
                "--role",
                "researcher",
                "--key-out",
                key.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        env
    }

    fn key(&self, role: Role) -> PathBuf {
        self.dir.join(format!("{}.key", role.as_str()))
    }

    fn run_key(&self, key: &Path, args: &[&str]) -> Output {
        bare()
            .env("AIM_STORE", &self.store)
            .env("AIM_KEY_FILE", key)
            .args(args)
            .output()
            .expect("aim runs")
    }

    /// `aim` as the account holding `role`.
    fn run(&self, role: Role, args: &[&str]) -> Output {
        self.run_key(&self.key(role), args)
    }

    /// Runs and expects success; returns standard output.
    fn ok(&self, role: Role, args: &[&str]) -> String {
        let o = self.run(role, args);
        assert!(o.status.success(), "{role:?} {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs and expects a refusal (exit 2) saying `why`.
    fn refused(&self, role: Role, args: &[&str], why: &str) {
        let o = self.run(role, args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{role:?} {args:?}: {out}");
        assert!(out.contains("error: refused"), "{role:?} {args:?}: {out}");
        assert!(
            out.contains(why),
            "{role:?} {args:?}: expected «{why}» in {out}"
        );
    }
}

/// The example sheet as another type, without a linkage.
fn sheet(dir: &Path, kind: &str) -> String {
    let text = include_str!("../../../examples/project-sheet.toml")
        .replace("type = \"coded-data\"", &format!("type = \"{kind}\""))
        .replace(
            "title = \"Antidepressants",
            &format!("title = \"[{kind}] Antidepressants"),
        );
    let path = dir.join(format!("{kind}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

use Role::{AgencyAnalyst as A, DataManager as D, Researcher as R, SamplePartner as S};

/// One step: who, and `aim project` arguments after the project id (`doc KIND` attaches a
/// document; anything else is `move ID …`).
type Step = (Role, &'static [&'static str]);

fn walk(env: &Env, kind: &str, requester: Role, steps: &[Step]) -> String {
    let sheet = sheet(&env.dir, kind);
    let id = env.ok(requester, &["project", "file", "--sheet", &sheet]);
    let id = id.trim().to_string();
    assert!(id.starts_with("P-") && id.len() == 10, "{id}");
    for (role, args) in steps {
        let out = if args[0] == "doc" {
            let f = env.dir.join(format!("{}.pdf", args[1]));
            std::fs::write(&f, b"%PDF").unwrap();
            env.ok(
                *role,
                &[
                    "project",
                    "add-document",
                    &id,
                    args[1],
                    "--file",
                    f.to_str().unwrap(),
                ],
            )
        } else {
            let mut a = vec!["project", "move", &id];
            a.extend_from_slice(args);
            env.ok(*role, &a)
        };
        assert!(out.contains(&id), "{out}");
    }
    let shown = env.ok(requester, &["project", "show", &id]);
    assert!(shown.contains("state: delivered"), "{kind}: {shown}");
    assert!(shown.contains("possible actions: close"), "{kind}: {shown}");
    id
}

/// Returns the sample request's identifier.
fn every_type_from_intake_to_delivery(env: &Env) -> String {
    // A sample request: filed by a researcher, the sample committee's favourable opinion
    // recorded by an agency analyst, signed and delivered by a data manager.
    let sample = walk(
        env,
        "sample-aggregate",
        R,
        &[
            (R, &["doc", "project_sheet"]),
            (R, &["submit"]),
            (A, &["accept"]),
            (A, &["doc", "ctep_opinion"]),
            (A, &["approve"]),
            (R, &["doc", "cost_agreement"]),
            (D, &["sign"]),
            (D, &["deliver"]),
        ],
    );
    // A population request by a sample partner: the pre-analysis after the agreement.
    walk(
        env,
        "population-aggregate",
        S,
        &[
            (S, &["doc", "project_sheet"]),
            (S, &["submit"]),
            (S, &["doc", "cost_agreement"]),
            (A, &["accept"]),
            (A, &["doc", "methodology"]),
            (D, &["feasible"]),
            (D, &["sign"]),
            (D, &["deliver", "--note", "result file sent"]),
        ],
    );
    // Coded data: the steering committee and the privacy committee with its number.
    let coded = walk(
        env,
        "coded-data",
        R,
        &[
            (R, &["doc", "project_sheet"]),
            (R, &["submit"]),
            (A, &["accept"]),
            (A, &["doc", "authorisation_request"]),
            (A, &["approve"]),
            (A, &["doc", "privacy_decision"]),
            (A, &["authorise", "--decision", "26/017"]),
            (A, &["doc", "contract"]),
            (R, &["doc", "selection_document"]),
            (D, &["sign"]),
            (D, &["deliver"]),
        ],
    );
    // The agency's own study, without a linkage: no authorisation.
    walk(
        env,
        "agency-study",
        A,
        &[
            (A, &["doc", "project_sheet"]),
            (A, &["submit"]),
            (D, &["accept"]),
            (A, &["approve"]),
            (A, &["doc", "contract"]),
            (A, &["doc", "selection_document"]),
            (D, &["sign"]),
            (D, &["deliver"]),
        ],
    );

    let shown = env.ok(R, &["project", "show", &coded]);
    for want in [
        "privacy committee's decision: 26/017",
        "authorise",
        "privacy → contract",
        "decision 26/017",
        "by agency-analyst@test.example",
        "requester",
        "privacy_decision",
    ] {
        assert!(shown.contains(want), "{want}: {shown}");
    }
    let shown = env.ok(R, &["project", "show", &sample]);
    assert!(shown.contains("ctep_opinion"), "{shown}");
    // A document's reference carries its file's SHA-256 (of the four bytes `%PDF`).
    assert!(
        shown.contains("sha256:315d429b7714cedb6ad04ac31240145257692630457f3c88253c5beceac76027"),
        "{shown}"
    );

    // The agency lists every project; a researcher only theirs.
    let all = env.ok(A, &["project", "list"]);
    assert_eq!(all.lines().count(), 4, "{all}");
    let own = env.ok(R, &["project", "list"]);
    assert_eq!(own.lines().count(), 2, "{own}");
    assert!(own.contains("your role: requester"), "{own}");
    let none = env.run_key(&env.dir.join(format!("{OTHER}.key")), &["project", "list"]);
    assert!(
        none.status.success() && none.stdout.is_empty(),
        "{}",
        text(&none)
    );

    // The quote of a stored project, from its stored sheet.
    let out = env.dir.join("quote");
    let q = env.ok(
        R,
        &[
            "project",
            "quote",
            &coded,
            "--days-expert",
            "2",
            "--date",
            "2026-03-01",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(q.contains("coded-data"), "{q}");
    assert!(out.join("quote.html").exists() && out.join("quote.xlsx").exists());
    // A quote the price list refuses (VPN months on an aggregate) is recorded as failed.
    let o = env.run(
        R,
        &[
            "project",
            "quote",
            &sample,
            "--months-vpn",
            "3",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = env.run(
        Role::Administrator,
        &["audit", "show", "--json", "--last", "1000"],
    );
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let quoted = |id: &str, outcome: &str| {
        entries.iter().any(|e| {
            e["action"] == "project quote" && e["project"] == id && e["outcome"] == outcome
        })
    };
    assert!(quoted(&coded, "done") && quoted(&sample, "failed"));
    sample
}

fn refusals(env: &Env) {
    let sheet = sheet(&env.dir, "coded-data");
    let id = env.ok(R, &["project", "file", "--sheet", &sheet]);
    let id = id.trim();
    let other = env.dir.join(format!("{OTHER}.key"));

    // Filing needs a requester's role.
    env.refused(
        D,
        &["project", "file", "--sheet", &sheet],
        "filing a request for data needs one of the roles researcher, sample partner or agency analyst",
    );
    // A wrong state: the workflow's typed reason, with the actions possible.
    env.refused(
        R,
        &["project", "move", id, "submit"],
        "needs document(s) not yet attached: project_sheet",
    );
    env.ok(R, &["project", "add-document", id, "project_sheet"]);
    env.ok(R, &["project", "move", id, "submit"]);
    env.refused(
        A,
        &["project", "move", id, "deliver"],
        "`deliver` is not possible for a coded-data request in state review; possible here: accept, refuse, withdraw",
    );
    // A wrong role: the requester cannot accept its own request, nor record a committee's
    // decision; a data manager records no committee decision.
    env.refused(
        R,
        &["project", "move", id, "accept"],
        "moving a project through the agency's steps needs one of the roles agency analyst or data manager",
    );
    env.ok(A, &["project", "move", id, "accept"]);
    env.ok(A, &["project", "add-document", id, "authorisation_request"]);
    env.refused(
        R,
        &["project", "move", id, "approve"],
        "recording a committee's decision on a project needs the role agency analyst",
    );
    env.refused(
        D,
        &["project", "move", id, "refuse"],
        "recording a committee's decision on a project needs the role agency analyst",
    );
    env.ok(A, &["project", "move", id, "approve"]);
    env.ok(A, &["project", "add-document", id, "privacy_decision"]);
    // The authorisation without its decision number.
    env.refused(
        A,
        &["project", "move", id, "authorise"],
        "needs the privacy committee's decision number",
    );
    env.refused(
        A,
        &["project", "move", id, "authorise", "--decision", "pending"],
        "needs the privacy committee's decision number",
    );
    // A non-member reads nothing, acts for nothing, adds nobody; the same for a project that
    // does not exist.
    for args in [
        vec!["project", "show", id],
        vec!["project", "quote", id, "--out", "/nonexistent"],
        vec!["project", "add-document", id, "contract"],
        vec!["project", "move", id, "withdraw"],
    ] {
        let o = env.run_key(&other, &args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(
            out.contains(&format!("(or being a member of project {id})")),
            "{args:?}: {out}"
        );
    }
    let o = env.run_key(&other, &["project", "show", "P-2026-999"]);
    assert!(text(&o).contains("(or being a member of project P-2026-999)"));
    env.refused(
        S,
        &["project", "show", id],
        &format!("reading a project needs one of the roles agency analyst or data manager (or being a member of project {id})"),
    );
    env.refused(
        Role::ControlServices,
        &["project", "show", id],
        "reading a project needs",
    );
    env.refused(
        Role::Administrator,
        &["project", "show", id],
        "reading a project needs",
    );
    // Only the requester (or an analyst) adds members; a member then reads the project.
    let o = env.run_key(
        &other,
        &["project", "member", id, "--add", "other@test.example"],
    );
    assert!(
        text(&o).contains("(or being the requester of project"),
        "{}",
        text(&o)
    );
    env.ok(R, &["project", "member", id, "--add", "other@test.example"]);
    let o = env.run_key(&other, &["project", "show", id]);
    assert!(o.status.success(), "{}", text(&o));
    let o = env.run_key(&other, &["project", "member", id, "--add", email(S)]);
    assert!(text(&o).contains("the requester"), "{}", text(&o));

    // Every action and refusal is in the audit log with the project.
    let o = env.run(
        Role::Administrator,
        &["audit", "show", "--json", "--last", "100000"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let has = |who: &str, action: &str, outcome: &str, reason: &str| {
        entries.iter().any(|e| {
            e["account"] == who
                && e["project"] == id
                && e["action"] == action
                && e["outcome"] == outcome
                && e["reason"].as_str().unwrap_or("").contains(reason)
        })
    };
    assert!(has(email(R), "project file", "done", ""));
    assert!(has(email(R), "project move", "done", ""));
    assert!(has(email(A), "project move", "refused", "decision number"));
    assert!(has(email(A), "project move", "refused", "is not possible"));
    assert!(has(
        email(R),
        "project move",
        "refused",
        "agency analyst or data manager"
    ));
    assert!(has(
        email(D),
        "project move",
        "refused",
        "needs the role agency analyst"
    ));
    assert!(has(
        "other@test.example",
        "project show",
        "refused",
        "member"
    ));
    assert!(has("other@test.example", "project show", "done", ""));
    let o = env.run(Role::Administrator, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn projects_through_the_binary_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("access.db");
    let env = Env::new(store.to_str().unwrap().to_string(), tmp.path());
    let sample = every_type_from_intake_to_delivery(&env);
    refusals(&env);

    // A project whose stored state its events do not give is an error everywhere, never
    // shown as stored nor silently fixed.
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute(
            "UPDATE projects SET state = 'closed' WHERE id = ?1",
            [&sample],
        )
        .unwrap();
    for args in [
        vec!["project", "show", &sample],
        vec!["project", "move", &sample, "close"],
    ] {
        let o = env.run(A, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("the stored state differs from what its events give"),
            "{args:?}: {}",
            text(&o)
        );
    }
    let o = env.run(A, &["project", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("error: {sample}")),
        "{}",
        text(&o)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);
}

#[test]
fn projects_through_the_binary_on_postgres() {
    let Some(server) = aim_testpg::PgServer::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let env = Env::new(server.new_database(), tmp.path());
    every_type_from_intake_to_delivery(&env);
    refusals(&env);
}
