//! The same suite on both stores: SQLite in a temporary file, PostgreSQL on a throwaway
//! server (aim-testpg; skipped with a notice when PostgreSQL is not installed, a failure
//! under AIM_REQUIRE_POSTGRES=1).

use aim_access::audit::Anchor;
use aim_access::store::LATEST;
use aim_access::{
    AccessError, AuditEvent, Capability, NewAccount, Outcome, ProjectOpError, ProjectRole, Role,
    Store, StoreError, StoreLocation, require,
};
use aim_projects::{Attempt, ProjectError, ProjectSheet, State, TransitionError};
use std::sync::atomic::{AtomicU32, Ordering};

/// Makes a fresh, empty store location each call.
type Fresh<'a> = &'a dyn Fn() -> StoreLocation;

fn new_account(email: &str, roles: &[Role]) -> NewAccount {
    NewAccount {
        email: email.into(),
        name: format!("Name of {email}"),
        organisation: "the agency".into(),
        roles: roles.iter().copied().collect(),
    }
}

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        account: Some(format!("user{}@example.be", i % 3)),
        project: i.is_multiple_of(2).then(|| "P-2026-001".to_string()),
        action: "sql".into(),
        object: format!("SELECT count(*) FROM pati WHERE year = {}", 2000 + i),
        outcome: if i % 4 == 3 {
            Outcome::Refused("needs the role data manager".into())
        } else {
            Outcome::Done
        },
    }
}

/// Runs SQL on the store's database directly, as someone with its keys could: through a
/// connection of its own, outside aim-access.
fn raw_sql(loc: &StoreLocation, sql: &str) -> Result<(), String> {
    match loc {
        StoreLocation::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.execute_batch(sql))
            .map_err(|e| e.to_string()),
        StoreLocation::Postgres(url) => postgres::Client::connect(url, postgres::NoTls)
            .and_then(|mut c| c.batch_execute(sql))
            .map_err(|e| match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            }),
    }
}

fn drop_append_only_triggers(loc: &StoreLocation) {
    let sql = match loc {
        StoreLocation::Postgres(_) => "DROP TRIGGER audit_log_no_change ON audit_log",
        StoreLocation::Sqlite(_) => {
            "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete"
        }
    };
    raw_sql(loc, sql).unwrap();
}

fn migrations_are_applied_once(fresh: Fresh) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
    drop(s);
    let mut s = Store::open(&loc).unwrap();
    assert_eq!(s.schema_version().unwrap(), LATEST);
    // A store from a newer aim is refused, not downgraded.
    raw_sql(
        &loc,
        &format!(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ({}, 'future', 'x')",
            LATEST + 1
        ),
    )
    .unwrap();
    drop(s);
    assert!(matches!(Store::open(&loc), Err(StoreError::TooNew { .. })));
}

fn accounts_and_roles(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    assert_eq!(s.count_accounts().unwrap(), 0);
    let a = s
        .create_account(&new_account(
            "An.Peeters@Example.be",
            &[Role::DataManager, Role::AgencyAnalyst],
        ))
        .unwrap();
    assert_eq!(a.email, "an.peeters@example.be");
    assert!(a.has(Role::DataManager) && a.has(Role::AgencyAnalyst) && a.enabled);
    assert!(matches!(
        s.create_account(&new_account("an.peeters@example.be", &[Role::Researcher])),
        Err(StoreError::Duplicate(_))
    ));
    assert!(matches!(
        s.create_account(&new_account("nobody@example.be", &[])),
        Err(StoreError::Invalid(_))
    ));
    s.create_account(&new_account("bo@example.be", &[Role::SamplePartner]))
        .unwrap();
    let all = s.accounts().unwrap();
    assert_eq!(
        all.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(),
        ["an.peeters@example.be", "bo@example.be"]
    );
    assert_eq!(s.account("AN.PEETERS@example.be").unwrap(), a);
    require(&a, Capability::QueryPopulation).unwrap();
    let disabled = s.set_enabled(&a.email, false).unwrap();
    assert!(!disabled.enabled);
    assert!(matches!(
        require(&disabled, Capability::QueryPopulation),
        Err(AccessError::Disabled { .. })
    ));
    assert!(s.set_enabled(&a.email, true).unwrap().enabled);
    assert!(matches!(
        s.account("x@example.be"),
        Err(StoreError::NoAccount(_))
    ));
}

fn the_first_administrator_only_in_an_empty_store(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    let admin = s
        .init_administrator("root@example.be", "Root", "the agency")
        .unwrap();
    assert_eq!(admin.roles, [Role::Administrator].into());
    assert!(matches!(
        s.init_administrator("again@example.be", "Again", "the agency"),
        Err(AccessError::AlreadyInitialised(1))
    ));
    assert_eq!(s.count_accounts().unwrap(), 1);
}

fn passwords(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    s.create_account(&new_account("ana@example.be", &[Role::AgencyAnalyst]))
        .unwrap();
    assert!(matches!(
        s.verify_password("ana@example.be", "anything at all"),
        Err(AccessError::WrongPassword)
    ));
    s.set_password("ana@example.be", "first password 1")
        .unwrap();
    assert_eq!(
        s.verify_password("ANA@example.be", "first password 1")
            .unwrap()
            .email,
        "ana@example.be"
    );
    assert!(matches!(
        s.verify_password("ana@example.be", "first password 2"),
        Err(AccessError::WrongPassword)
    ));
    assert!(matches!(
        s.verify_password("nobody@example.be", "first password 1"),
        Err(AccessError::WrongPassword)
    ));
    assert!(matches!(
        s.change_password("ana@example.be", "wrong password!", "second password 2"),
        Err(AccessError::WrongPassword)
    ));
    assert!(matches!(
        s.change_password("ana@example.be", "first password 1", "short"),
        Err(AccessError::WeakPassword { .. })
    ));
    s.change_password("ana@example.be", "first password 1", "second password 2")
        .unwrap();
    assert!(
        s.verify_password("ana@example.be", "first password 1")
            .is_err()
    );
    s.verify_password("ana@example.be", "second password 2")
        .unwrap();
    s.set_enabled("ana@example.be", false).unwrap();
    assert!(matches!(
        s.verify_password("ana@example.be", "second password 2"),
        Err(AccessError::Disabled { .. })
    ));
}

fn keys(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    s.create_account(&new_account("dm@example.be", &[Role::DataManager]))
        .unwrap();
    let k1 = s.issue_key("dm@example.be").unwrap();
    assert_eq!(
        s.account_by_key(k1.expose()).unwrap().unwrap().email,
        "dm@example.be"
    );
    let k2 = s.issue_key("dm@example.be").unwrap();
    assert!(s.account_by_key(k1.expose()).unwrap().is_none(), "replaced");
    assert!(s.account_by_key(k2.expose()).unwrap().is_some());
    assert!(
        s.account_by_key(aim_access::key::ApiKey::generate().expose())
            .unwrap()
            .is_none()
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("key");
    aim_access::key::write_key_file(&file, &k2).unwrap();
    assert_eq!(s.account_by_key_file(&file).unwrap().email, "dm@example.be");
    let old = tmp.path().join("old");
    aim_access::key::write_key_file(&old, &k1).unwrap();
    assert!(matches!(
        s.account_by_key_file(&old),
        Err(AccessError::UnknownKey { .. })
    ));
}

fn oidc_identities(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    s.create_account(&new_account("a@example.be", &[Role::Researcher]))
        .unwrap();
    s.create_account(&new_account("b@example.be", &[Role::Researcher]))
        .unwrap();
    let issuer = "https://idp.example.be/realms/aim";
    assert!(s.account_by_oidc(issuer, "sub-1").unwrap().is_none());
    let a = s.link_oidc("a@example.be", issuer, "sub-1").unwrap();
    assert_eq!(a.oidc, Some((issuer.to_string(), "sub-1".to_string())));
    assert_eq!(
        s.account_by_oidc(issuer, "sub-1").unwrap().unwrap().email,
        "a@example.be"
    );
    assert!(
        s.account_by_oidc("https://other.example", "sub-1")
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.link_oidc("b@example.be", issuer, "sub-1"),
        Err(StoreError::OidcTaken { .. })
    ));
    for (i, sub) in [
        ("", "sub-2"),
        (issuer, ""),
        (issuer, "a\nb"),
        ("https://x y", "s"),
    ] {
        assert!(
            matches!(
                s.link_oidc("b@example.be", i, sub),
                Err(StoreError::Invalid(_))
            ),
            "{i:?} {sub:?}"
        );
    }
    assert!(matches!(
        s.link_oidc("b@example.be", issuer, &"s".repeat(256)),
        Err(StoreError::Invalid(_))
    ));
}

fn oidc_logins_map_only_linked_enabled_accounts(fresh: Fresh) {
    let mut s = Store::open(&fresh()).unwrap();
    s.create_account(&new_account("a@example.be", &[Role::Researcher]))
        .unwrap();
    let issuer = "https://idp.example.be/realms/aim";
    // No auto-provisioning, and an e-mail is not an identity: nothing is linked yet.
    let e = s.account_for_oidc_login(issuer, "sub-1").unwrap_err();
    assert!(matches!(e, AccessError::OidcNotLinked { .. }), "{e}");
    assert!(e.to_string().contains("aim account link-oidc"), "{e}");
    assert_eq!(s.count_accounts().unwrap(), 1);
    s.link_oidc("a@example.be", issuer, "sub-1").unwrap();
    assert_eq!(
        s.account_for_oidc_login(issuer, "sub-1").unwrap().email,
        "a@example.be"
    );
    // The same subject at another provider is someone else.
    assert!(matches!(
        s.account_for_oidc_login("https://other.example.be", "sub-1"),
        Err(AccessError::OidcNotLinked { .. })
    ));
    s.set_enabled("a@example.be", false).unwrap();
    assert!(matches!(
        s.account_for_oidc_login(issuer, "sub-1"),
        Err(AccessError::Disabled { .. })
    ));
    s.set_enabled("a@example.be", true).unwrap();
    assert!(s.account_for_oidc_login(issuer, "sub-1").is_ok());
}

fn audit_chain(s: &mut Store, n: usize) {
    for i in 0..n {
        let e = s.append_audit(&event(i)).unwrap();
        assert_eq!(e.seq, i as i64 + 1);
    }
}

fn the_audit_log_chains_and_refuses_changes(fresh: Fresh) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    let r = s.verify_audit(None).unwrap();
    assert!(r.holds() && r.entries == 0 && r.head.is_none());
    audit_chain(&mut s, 6);
    let entries = s.audit_entries(0, 100).unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(entries[3].outcome, "refused");
    assert_eq!(
        entries[3].reason.as_deref(),
        Some("needs the role data manager")
    );
    assert_eq!(entries[1].project, None);
    assert_eq!(entries[2].project.as_deref(), Some("P-2026-001"));
    for w in entries.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    assert_eq!(s.audit_last(2).unwrap(), entries[4..].to_vec());
    let r = s.verify_audit(None).unwrap();
    assert!(r.holds(), "{r:?}");
    assert_eq!(r.head, Some((6, entries[5].hash.clone())));
    // The tables refuse changes outright.
    let refused = raw_sql(&loc, "UPDATE audit_log SET object = 'x' WHERE seq = 2").unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    let refused = raw_sql(&loc, "DELETE FROM audit_log WHERE seq = 2").unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    assert!(s.verify_audit(None).unwrap().holds());
}

/// Tampers with a 6-entry log through direct SQL (triggers dropped first, as someone with
/// the database's keys could) and returns where verification breaks.
fn tampered(fresh: Fresh, sql: &str) -> (i64, String) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    audit_chain(&mut s, 6);
    drop_append_only_triggers(&loc);
    raw_sql(&loc, sql).unwrap();
    let r = s.verify_audit(None).unwrap();
    let b = r.broken.expect("tampering is found");
    (b.seq, b.problem)
}

fn tampering_is_found(fresh: Fresh) {
    // Edited: the object of entry 3.
    let (seq, problem) = tampered(
        fresh,
        "UPDATE audit_log SET object = 'SELECT 1' WHERE seq = 3",
    );
    assert_eq!(seq, 3);
    assert!(problem.contains("changed"), "{problem}");
    // Edited: a refusal turned into done.
    let (seq, _) = tampered(
        fresh,
        "UPDATE audit_log SET outcome = 'done', reason = NULL WHERE seq = 4",
    );
    assert_eq!(seq, 4);
    // Deleted: entry 2.
    let (seq, problem) = tampered(fresh, "DELETE FROM audit_log WHERE seq = 2");
    assert_eq!(seq, 2);
    assert!(problem.contains("deleted or moved"), "{problem}");
    // Deleted and renumbered to close the gap.
    let (seq, _) = tampered(
        fresh,
        "DELETE FROM audit_log WHERE seq = 2; UPDATE audit_log SET seq = seq - 1 WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq = 4; UPDATE audit_log SET seq = seq - 1 WHERE seq = 5; UPDATE audit_log SET seq = seq - 1 WHERE seq = 6",
    );
    assert_eq!(seq, 2);
    // Reordered: entries 2 and 4 swap places.
    let (seq, _) = tampered(
        fresh,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 1000",
    );
    assert_eq!(seq, 2);
    // Truncated at the end: only an anchor shows it.
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    audit_chain(&mut s, 6);
    let head = s.verify_audit(None).unwrap().head.unwrap();
    drop_append_only_triggers(&loc);
    raw_sql(&loc, "DELETE FROM audit_log WHERE seq = 6").unwrap();
    assert!(s.verify_audit(None).unwrap().holds());
    let anchor = Anchor {
        seq: head.0,
        hash: head.1,
    };
    let b = s.verify_audit(Some(anchor)).unwrap().broken.unwrap();
    assert_eq!(b.seq, 6);
}

fn concurrent_appends_keep_one_chain(fresh: Fresh) {
    let loc = fresh();
    Store::open(&loc).unwrap();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let loc = loc.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&loc).unwrap();
                for i in 0..20 {
                    s.append_audit(&event(i)).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = Store::open(&loc).unwrap().verify_audit(None).unwrap();
    assert!(r.holds(), "{r:?}");
    assert_eq!(r.entries, 60);
}

const SHEET: &str = include_str!("../../../examples/project-sheet.toml");

fn t(day: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
        + chrono::Duration::days(day)
        + chrono::Duration::nanoseconds(123_456_789)
}

fn attempt(action: &str, day: i64) -> Attempt {
    Attempt::new(action, "ignored: the store sets the account", t(day))
}

fn projects_are_stored_and_replayed(fresh: Fresh) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    let researcher = s
        .create_account(&new_account("r@uni.example", &[Role::Researcher]))
        .unwrap();
    let analyst = s
        .create_account(&new_account("a@agency.example", &[Role::AgencyAnalyst]))
        .unwrap();
    let sheet = ProjectSheet::from_toml(SHEET).unwrap();
    let p = s.create_project(sheet.clone(), &researcher, t(0)).unwrap();
    assert_eq!(p.id(), "P-2026-001");
    assert_eq!(p.state(), State::Intake);
    assert_eq!(p.created_by(), "r@uni.example");
    let second = s.create_project(sheet.clone(), &analyst, t(0)).unwrap();
    assert_eq!(second.id(), "P-2026-002");
    let mut bad = sheet.clone();
    bad.purpose = " ".into();
    assert!(matches!(
        s.create_project(bad, &researcher, t(0)),
        Err(ProjectOpError::Project(_))
    ));
    assert_eq!(
        s.membership("P-2026-001", &researcher).unwrap(),
        Some(ProjectRole::Requester)
    );
    assert_eq!(s.membership("P-2026-001", &analyst).unwrap(), None);

    // The requester submits; the agency moves it; the store keeps every event.
    let id = "P-2026-001";
    let e = s
        .move_project(id, &researcher, attempt("submit", 1))
        .unwrap_err();
    assert!(
        matches!(&e, ProjectOpError::Refused(TransitionError::MissingDocuments { missing, .. }) if missing == &["project_sheet"]),
        "{e}"
    );
    s.add_project_document(id, "project_sheet", "sheet.pdf", &researcher, t(1))
        .unwrap();
    let (_, r) = s
        .move_project(id, &researcher, attempt("submit", 1))
        .unwrap();
    assert_eq!((r.from, r.to), (State::Intake, State::Review));
    assert_eq!(
        r.actor, "r@uni.example",
        "the actor is the account, not the attempt's"
    );
    s.move_project(id, &analyst, attempt("accept", 2)).unwrap();
    s.add_project_document(id, "authorisation_request", "req.pdf", &analyst, t(3))
        .unwrap();
    s.move_project(id, &analyst, attempt("approve", 4)).unwrap();
    s.add_project_document(id, "privacy_decision", "delib.pdf", &analyst, t(60))
        .unwrap();
    let e = s
        .move_project(id, &analyst, attempt("authorise", 61))
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProjectOpError::Refused(TransitionError::MissingDecisionNumber { .. })
        ),
        "{e}"
    );
    assert_eq!(
        s.project(id).unwrap().state(),
        State::Privacy,
        "a refusal stores nothing"
    );
    let mut a = attempt("authorise", 61);
    a.decision_number = Some("26/017".into());
    a.note = Some("favourable".into());
    let (moved, _) = s.move_project(id, &analyst, a).unwrap();
    assert_eq!(moved.state(), State::Contract);
    assert!(matches!(
        s.move_project(id, &analyst, attempt("deliver", 62)),
        Err(ProjectOpError::Refused(TransitionError::WrongState { .. }))
    ));
    assert!(matches!(
        s.add_project_document(id, "passport", "x", &analyst, t(62)),
        Err(ProjectOpError::Refused(
            TransitionError::UnknownDocument { .. }
        ))
    ));
    assert!(matches!(
        s.project("P-2026-999"),
        Err(ProjectOpError::Store(StoreError::NoProject(_)))
    ));

    // Read back by another connection: the same project, rebuilt from its events.
    drop(s);
    let mut s = Store::open(&loc).unwrap();
    let back = s.project(id).unwrap();
    assert_eq!(back, moved);
    assert_eq!(back.decision_number(), Some("26/017"));
    assert_eq!(back.history().len(), 4);
    assert_eq!(back.documents().len(), 3);
    assert_eq!(back.history()[3].note.as_deref(), Some("favourable"));
    assert_eq!(
        s.project_ids().unwrap(),
        vec!["P-2026-001".to_string(), "P-2026-002".to_string()]
    );

    // Members: the requester first; an account is in a project once.
    let m = s
        .add_project_member(id, "a@agency.example", &researcher)
        .unwrap();
    assert_eq!(m.role, ProjectRole::Member);
    assert!(
        s.add_project_member(id, "a@agency.example", &researcher)
            .is_err()
    );
    assert!(matches!(
        s.add_project_member("P-2026-999", "a@agency.example", &researcher),
        Err(StoreError::NoProject(_))
    ));
    let members = s.project_members(id).unwrap();
    let who: Vec<(&str, ProjectRole)> = members
        .iter()
        .map(|m| (m.account.email.as_str(), m.role))
        .collect();
    assert_eq!(
        who,
        [
            ("r@uni.example", ProjectRole::Requester),
            ("a@agency.example", ProjectRole::Member)
        ]
    );
    assert_eq!(
        s.projects_of(&analyst).unwrap(),
        [
            ("P-2026-001".to_string(), ProjectRole::Member),
            ("P-2026-002".to_string(), ProjectRole::Requester)
        ]
    );

    // A project's events are append-only.
    let e = raw_sql(&loc, "UPDATE project_events SET decision_number = NULL").unwrap_err();
    assert!(e.contains("append-only"), "{e}");
    let e = raw_sql(&loc, "DELETE FROM project_events WHERE seq = 1").unwrap_err();
    assert!(e.contains("append-only"), "{e}");
}

fn a_project_that_does_not_replay_is_an_error(fresh: Fresh) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    let analyst = s
        .create_account(&new_account("a@agency.example", &[Role::AgencyAnalyst]))
        .unwrap();
    let sheet = ProjectSheet::from_toml(SHEET).unwrap();
    let id = s
        .create_project(sheet, &analyst, t(0))
        .unwrap()
        .id()
        .to_string();
    s.add_project_document(&id, "project_sheet", "s.pdf", &analyst, t(1))
        .unwrap();
    s.move_project(&id, &analyst, attempt("submit", 2)).unwrap();
    // A state forged past its events.
    raw_sql(&loc, "UPDATE projects SET state = 'delivered'").unwrap();
    let e = s.project(&id).unwrap_err().to_string();
    assert!(e.contains("the stored state differs"), "{e}");
    raw_sql(&loc, "UPDATE projects SET state = 'review'").unwrap();
    s.project(&id).unwrap();
    // A transition inserted behind the workflow's back (no decision number, no document).
    raw_sql(
        &loc,
        "INSERT INTO project_events (project_id, seq, kind, at, actor, action, from_state, to_state) \
         VALUES ('P-2026-001', 3, 'transition', '2026-03-05T09:00:00Z', 'a@agency.example', 'accept', 'review', 'steering'); \
         INSERT INTO project_events (project_id, seq, kind, at, actor, action, from_state, to_state) \
         VALUES ('P-2026-001', 4, 'transition', '2026-03-06T09:00:00Z', 'a@agency.example', 'approve', 'steering', 'privacy'); \
         UPDATE projects SET state = 'privacy', entered_at = '2026-03-06T09:00:00Z'",
    )
    .unwrap();
    let e = s.project(&id).unwrap_err();
    assert!(
        matches!(
            &e,
            ProjectOpError::Project(ProjectError::Replay { index: 3, .. })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("authorisation_request"), "{e}");
    // Nothing moves a project that does not replay.
    assert!(
        s.move_project(&id, &analyst, attempt("withdraw", 10))
            .is_err()
    );
}

fn concurrent_filings_and_moves_are_serialised(fresh: Fresh) {
    let loc = fresh();
    let mut s = Store::open(&loc).unwrap();
    let analyst = s
        .create_account(&new_account("a@agency.example", &[Role::AgencyAnalyst]))
        .unwrap();
    drop(s);
    // Three processes file at once: three numbers, none lost.
    let filed: Vec<String> = (0..3)
        .map(|_| {
            let (loc, analyst) = (loc.clone(), analyst.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(&loc).unwrap();
                let sheet = ProjectSheet::from_toml(SHEET).unwrap();
                s.create_project(sheet, &analyst, t(0))
                    .unwrap()
                    .id()
                    .to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let mut ids = filed.clone();
    ids.sort();
    assert_eq!(ids, ["P-2026-001", "P-2026-002", "P-2026-003"]);
    let id = "P-2026-001";
    let mut s = Store::open(&loc).unwrap();
    s.add_project_document(id, "project_sheet", "s", &analyst, t(1))
        .unwrap();
    s.move_project(id, &analyst, attempt("submit", 2)).unwrap();
    // Three agents accept the same request at once: one moves it, the others are told it
    // has moved on; the history has one `accept`.
    let results: Vec<bool> = (0..3)
        .map(|_| {
            let (loc, analyst) = (loc.clone(), analyst.clone());
            std::thread::spawn(move || {
                let mut s = Store::open(&loc).unwrap();
                match s.move_project(id, &analyst, attempt("accept", 3)) {
                    Ok(_) => true,
                    Err(ProjectOpError::Refused(TransitionError::WrongState { .. })) => false,
                    Err(e) => panic!("{e}"),
                }
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
    let p = s.project(id).unwrap();
    assert_eq!(p.state(), State::Steering);
    assert_eq!(p.history().len(), 2);
}

/// A case of the suite.
type Case = fn(Fresh);

/// Every case of the suite, by name.
fn web_sessions(fresh: Fresh) {
    use aim_access::{SessionLimits, SignInMethod};
    let mut s = Store::open(&fresh()).unwrap();
    let a = s
        .create_account(&new_account("r@example.be", &[Role::Researcher]))
        .unwrap();
    let limits = SessionLimits {
        idle_secs: 100,
        absolute_secs: 250,
    };
    let opened = s
        .open_session(&a, SignInMethod::Password, limits, 1_000)
        .unwrap();
    assert_eq!(opened.token.len(), 64);
    // Only the digest is stored: the token in clear is nowhere in the table.
    assert!(s.session(&opened.token, limits, 1_050).unwrap().is_some());
    assert!(
        s.session(&aim_access::session::digest(&opened.token), limits, 1_050)
            .unwrap()
            .is_none()
    );
    // Used at 1 050: idle until 1 150; used at 1 140: until 1 240; the absolute end is 1 250.
    let r = s.session(&opened.token, limits, 1_140).unwrap().unwrap();
    assert_eq!(r.idle_expires_at, 1_240);
    assert_eq!(r.csrf_token, opened.csrf_token);
    let r = s.session(&opened.token, limits, 1_230).unwrap().unwrap();
    assert_eq!(r.idle_expires_at, 1_250, "never past the absolute end");
    assert!(s.session(&opened.token, limits, 1_250).unwrap().is_none());
    assert_eq!(s.session_count(a.id).unwrap(), 0, "expired: removed");
    // Idle timeout.
    let o = s
        .open_session(&a, SignInMethod::Password, limits, 2_000)
        .unwrap();
    assert!(s.session(&o.token, limits, 2_100).unwrap().is_none());
    // Signing out.
    let o = s
        .open_session(&a, SignInMethod::Oidc, limits, 3_000)
        .unwrap();
    assert!(s.close_session(&o.token).unwrap());
    assert!(s.session(&o.token, limits, 3_001).unwrap().is_none());
    // Disabling ends every session, and a disabled account cannot open one.
    let o1 = s
        .open_session(&a, SignInMethod::Password, limits, 4_000)
        .unwrap();
    let o2 = s
        .open_session(&a, SignInMethod::Password, limits, 4_000)
        .unwrap();
    assert_eq!(s.session_count(a.id).unwrap(), 2);
    let disabled = s.set_enabled("r@example.be", false).unwrap();
    assert_eq!(s.session_count(a.id).unwrap(), 0);
    assert!(s.session(&o1.token, limits, 4_001).unwrap().is_none());
    assert!(s.session(&o2.token, limits, 4_001).unwrap().is_none());
    assert!(
        s.open_session(&disabled, SignInMethod::Password, limits, 4_002)
            .is_err()
    );
    // Failed logins are counted in their window, then forgotten.
    let subjects = vec![
        "account:r@example.be".to_string(),
        "address:10.0.0.1".to_string(),
    ];
    for t in 0..3 {
        s.record_login_failure(&subjects, 5_000 + t, 900).unwrap();
    }
    assert_eq!(
        s.login_failures("account:r@example.be", 5_000 - 900)
            .unwrap(),
        3
    );
    assert_eq!(s.login_failures("address:10.0.0.1", 5_001).unwrap(), 1);
    s.record_login_failure(&subjects[..1], 7_000, 900).unwrap();
    assert_eq!(s.login_failures("account:r@example.be", 0).unwrap(), 1);
}

const SUITE: &[(&str, Case)] = &[
    ("migrations_are_applied_once", migrations_are_applied_once),
    ("accounts_and_roles", accounts_and_roles),
    (
        "the_first_administrator_only_in_an_empty_store",
        the_first_administrator_only_in_an_empty_store,
    ),
    ("passwords", passwords),
    ("keys", keys),
    ("oidc_identities", oidc_identities),
    (
        "oidc_logins_map_only_linked_enabled_accounts",
        oidc_logins_map_only_linked_enabled_accounts,
    ),
    (
        "the_audit_log_chains_and_refuses_changes",
        the_audit_log_chains_and_refuses_changes,
    ),
    ("tampering_is_found", tampering_is_found),
    (
        "concurrent_appends_keep_one_chain",
        concurrent_appends_keep_one_chain,
    ),
    (
        "projects_are_stored_and_replayed",
        projects_are_stored_and_replayed,
    ),
    (
        "a_project_that_does_not_replay_is_an_error",
        a_project_that_does_not_replay_is_an_error,
    ),
    (
        "concurrent_filings_and_moves_are_serialised",
        concurrent_filings_and_moves_are_serialised,
    ),
    ("web_sessions", web_sessions),
];

#[test]
fn sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let n = AtomicU32::new(0);
    let fresh = || {
        StoreLocation::Sqlite(
            tmp.path()
                .join(format!("s{}/access.db", n.fetch_add(1, Ordering::Relaxed))),
        )
    };
    for (name, case) in SUITE {
        eprintln!("sqlite: {name}");
        case(&fresh);
    }
}

#[test]
fn postgres() {
    let Some(server) = aim_testpg::PgServer::start() else {
        return;
    };
    let fresh = || StoreLocation::Postgres(server.new_database());
    for (name, case) in SUITE {
        eprintln!("postgres: {name}");
        case(&fresh);
    }
}

#[cfg(unix)]
#[test]
fn the_sqlite_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("access.db");
    Store::open(&StoreLocation::Sqlite(path.clone())).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "password hashes and key digests: {mode:o}");
}
