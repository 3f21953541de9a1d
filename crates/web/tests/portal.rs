//! The signed-in part through HTTP against the router, on a real SQLite accounts store in a
//! temporary folder: login and logout, failed logins slowed and counted, CSRF and Origin
//! refusals, session expiry, disabled accounts, the route × role table, and a project filed,
//! moved through its states and quoted.

mod common;

use aim_access::{NewAccount, Role, SignInMethod, Store, StoreLocation};
use aim_web::{AppState, Portal, PortalConfig, ServerConfig, route_patterns, router_with};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tower::ServiceExt;

const ORIGIN: &str = "http://atlas.test";
const PASSWORD: &str = "correct horse battery";

/// The roles of the table's columns after the public, one account each.
const ROLES: [Role; 6] = Role::ALL;

fn email(role: Role) -> String {
    format!("{}@example.be", role.as_str())
}

struct Site {
    _tmp: tempfile::TempDir,
    store: PathBuf,
    state: AppState,
    app: Router,
}

fn site_with(config: PortalConfig) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("access.db");
    let mut store = Store::open(&StoreLocation::Sqlite(path.clone())).unwrap();
    for role in ROLES {
        store
            .create_account(&NewAccount {
                email: email(role),
                name: format!("The {}", role.label()),
                organisation: "Example University".into(),
                roles: [role].into_iter().collect(),
            })
            .unwrap();
    }
    // Passwords only where a test logs in with one (Argon2id takes a while).
    for role in [Role::Researcher, Role::AgencyAnalyst] {
        store.set_password(&email(role), PASSWORD).unwrap();
    }
    let state = common::state().with_portal(Portal::new(store, config));
    let app = router_with(state.clone(), &ServerConfig::default());
    Site {
        _tmp: tmp,
        store: path,
        state,
        app,
    }
}

fn quick() -> PortalConfig {
    PortalConfig {
        failure_delay: Duration::ZERO,
        ..PortalConfig::default()
    }
}

fn open_store(p: &Path) -> Store {
    Store::open_existing(&StoreLocation::Sqlite(p.to_path_buf())).unwrap()
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    fn set_cookie(&self) -> String {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
}

/// A browser: its cookie and the CSRF token of the last page with a form.
#[derive(Default, Clone)]
struct Browser {
    cookie: Option<String>,
    csrf: String,
    origin: Option<String>,
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn enc(s: &str) -> String {
    aim_web::html::enc(s)
}

impl Browser {
    fn new() -> Browser {
        Browser {
            origin: Some(ORIGIN.into()),
            ..Browser::default()
        }
    }

    fn remember(&mut self, r: &Resp) {
        let c = r.set_cookie();
        if let Some(v) = c.split(';').next().filter(|v| !v.is_empty()) {
            if v.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(v.to_string());
            }
        }
        let t = r.text();
        if let Some(i) = t.find("name=\"csrf\" value=\"") {
            let rest = &t[i + 19..];
            self.csrf = rest[..rest.find('"').unwrap()].to_string();
        }
    }

    async fn get(&mut self, app: &Router, path: &str) -> Resp {
        let mut b = Request::get(path);
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, c);
        }
        let r = send(app, b.body(Body::empty()).unwrap()).await;
        self.remember(&r);
        r
    }

    /// Posts a form with the CSRF token of the last page (unless it has one).
    async fn post(&mut self, app: &Router, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            body.push(format!("csrf={}", self.csrf));
        }
        let mut b =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = &self.origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(c) = &self.cookie {
            b = b.header(header::COOKIE, c);
        }
        let r = send(app, b.body(Body::from(body.join("&"))).unwrap()).await;
        self.remember(&r);
        r
    }

    async fn login(&mut self, app: &Router, who: &str, password: &str) -> Resp {
        self.post(app, "/login", &[("email", who), ("password", password)])
            .await
    }
}

fn audit_actions(store: &Path) -> Vec<(Option<String>, Option<String>, String, String)> {
    open_store(store)
        .audit_last(1000)
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.account,
                e.project,
                e.action,
                e.outcome.as_str().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn login_and_logout() {
    let s = site_with(quick());
    let mut b = Browser::new();
    // Not signed in: to the login page, and back after.
    let r = b.get(&s.app, "/projects/P-2026-001").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fprojects%2FP-2026-001");
    let r = b.get(&s.app, "/login?next=%2Fprojects").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("name=\"password\""));
    // A wrong password: 401, no cookie, audited.
    let r = b
        .login(&s.app, &email(Role::Researcher), "wrong password")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("Wrong e-mail or password"));
    assert!(b.cookie.is_none());
    // The right one: a session cookie, HttpOnly and SameSite, and to /projects.
    let r = b.login(&s.app, &email(Role::Researcher), PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), "/projects");
    let c = r.set_cookie();
    assert!(c.starts_with("aim_session="), "{c}");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"), "{c}");
    let token = b.cookie.clone().unwrap()["aim_session=".len()..].to_string();
    // The store keeps its digest only.
    let raw = std::fs::read(&s.store).unwrap();
    assert!(
        !raw.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token in clear is not in the store"
    );
    let r = b.get(&s.app, "/projects").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains(&email(Role::Researcher)));
    assert!(!b.csrf.is_empty());
    // Signing out needs the session's CSRF token.
    let r = b.post(&s.app, "/logout", &[("csrf", "0")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b.post(&s.app, "/logout", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.set_cookie().contains("Max-Age=0"));
    assert!(b.cookie.is_none());
    // The old token is dead even if replayed.
    b.cookie = Some(format!("aim_session={token}"));
    let r = b.get(&s.app, "/projects").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let log = audit_actions(&s.store);
    let r = Some(email(Role::Researcher));
    assert!(
        log.iter()
            .any(|e| e.0 == r && e.2 == "web login" && e.3 == "refused")
    );
    assert!(
        log.iter()
            .any(|e| e.0 == r && e.2 == "web login" && e.3 == "done")
    );
    assert!(log.iter().any(|e| e.0 == r && e.2 == "web logout"));
}

#[tokio::test]
async fn failed_logins_are_slowed_and_counted() {
    let s = site_with(PortalConfig {
        failure_delay: Duration::from_millis(300),
        ..PortalConfig::default()
    });
    let mut b = Browser::new();
    let who = email(Role::Researcher);
    let t = std::time::Instant::now();
    let r = b.login(&s.app, &who, "nope").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(t.elapsed() >= Duration::from_millis(300), "slowed");
    for _ in 0..4 {
        b.login(&s.app, &who, "nope").await;
    }
    // Five failures: even the right password waits now.
    let r = b.login(&s.app, &who, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(b.cookie.is_none());
    // Another account from the same (unknown) address still may.
    let r = b.login(&s.app, &email(Role::AgencyAnalyst), PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_from_elsewhere_or_without_the_token_are_refused() {
    let s = site_with(quick());
    let mut b = Browser::new();
    b.login(&s.app, &email(Role::Researcher), PASSWORD).await;
    b.get(&s.app, "/projects/new").await;
    let fields = sheet_fields("Forged");
    let r = b
        .post(
            &s.app,
            "/projects/new",
            &with(&fields, &[("csrf", "deadbeef")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("CSRF token"));
    let mut evil = b.clone();
    evil.origin = Some("http://evil.test".into());
    let r = evil
        .post(&s.app, "/projects/new", &with(&fields, &[]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let mut bare = b.clone();
    bare.origin = None;
    let r = bare
        .post(&s.app, "/projects/new", &with(&fields, &[]))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no Origin nor Referer");
    // A login posted from another site is refused too.
    let mut other = Browser::new();
    other.origin = Some("http://evil.test".into());
    let r = other
        .login(&s.app, &email(Role::Researcher), PASSWORD)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(open_store(&s.store).project_ids().unwrap().is_empty());
    // With the token: filed.
    let r = b.post(&s.app, "/projects/new", &with(&fields, &[])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
}

#[tokio::test]
async fn sessions_end_when_idle_and_when_the_account_is_disabled() {
    let s = site_with(PortalConfig {
        limits: aim_access::SessionLimits {
            idle_secs: 1,
            absolute_secs: 60,
        },
        ..quick()
    });
    let mut b = Browser::new();
    b.login(&s.app, &email(Role::Researcher), PASSWORD).await;
    assert_eq!(b.get(&s.app, "/projects").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = b.get(&s.app, "/projects").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "idle too long");
    // Disabled while signed in: the next request is not served, and no new login.
    let mut a = Browser::new();
    a.login(&s.app, &email(Role::AgencyAnalyst), PASSWORD).await;
    assert_eq!(a.get(&s.app, "/projects").await.status, StatusCode::OK);
    open_store(&s.store)
        .set_enabled(&email(Role::AgencyAnalyst), false)
        .unwrap();
    assert_eq!(
        a.get(&s.app, "/projects").await.status,
        StatusCode::SEE_OTHER
    );
    let r = a.login(&s.app, &email(Role::AgencyAnalyst), PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("disabled"));
}

fn sheet_fields(title: &str) -> Vec<(&'static str, String)> {
    vec![
        ("title", title.to_string()),
        ("type", "sample-aggregate".into()),
        ("purpose", "Describe GP contacts by age".into()),
        ("legal_basis", "Scientific research (GDPR art. 89)".into()),
        ("organisation", "Example University".into()),
        ("contact_name", "A. Peeters".into()),
        ("contact_email", "a.peeters@example.be".into()),
        ("variables", "GP contacts\nage group".into()),
        ("periods", "2019-2023".into()),
        ("population", "Insured persons of the sample".into()),
    ]
}

fn with<'a>(
    fields: &'a [(&'static str, String)],
    more: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    v.extend_from_slice(more);
    v
}

#[tokio::test]
async fn a_project_is_filed_moved_and_quoted_through_http() {
    let s = site_with(quick());
    let mut r_ = Browser::new();
    r_.login(&s.app, &email(Role::Researcher), PASSWORD).await;
    let page = r_.get(&s.app, "/projects/new").await;
    assert!(
        page.text().contains("value=\"Example University\""),
        "prefilled"
    );
    // A sheet with an error comes back with it, and what was typed.
    let mut bad = sheet_fields("Bad periods");
    bad.retain(|(k, _)| *k != "periods");
    bad.push(("periods", "last year".into()));
    let r = r_.post(&s.app, "/projects/new", &with(&bad, &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("period `last`"), "{}", r.text());
    assert!(r.text().contains("value=\"Bad periods\""));
    let r = r_
        .post(
            &s.app,
            "/projects/new",
            &with(&sheet_fields("GP contacts"), &[]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let href = r.location().to_string();
    let id = href.trim_start_matches("/projects/").to_string();
    assert!(id.starts_with("P-20"), "{id}");
    let page = r_.get(&s.app, &href).await.text();
    assert!(page.contains("GP contacts") && page.contains("Intake"));
    assert!(
        page.contains("class=\"missing\""),
        "the checklist shows what is missing"
    );
    // The requester registers the sheet and submits.
    let r = r_
        .post(
            &s.app,
            &format!("{href}/documents"),
            &[("kind", "project_sheet"), ("reference", "sheet.pdf")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    r_.get(&s.app, &href).await;
    let r = r_
        .post(&s.app, &format!("{href}/move"), &[("action", "submit")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    // The requester may not accept it.
    r_.get(&s.app, &href).await;
    let r = r_
        .post(&s.app, &format!("{href}/move"), &[("action", "accept")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("agency analyst"), "{}", r.text());
    // The analyst takes it along the main path, registering what each step asks for.
    let mut a = Browser::new();
    a.login(&s.app, &email(Role::AgencyAnalyst), PASSWORD).await;
    let wf = aim_projects::Workflow::builtin();
    let p = open_store(&s.store).project(&id).unwrap();
    let path: Vec<_> = wf
        .main_path(p.request_type(), &p.flags())
        .into_iter()
        .filter(|t| t.from != aim_projects::State::Intake)
        .cloned()
        .collect();
    assert!(!path.is_empty());
    for t in &path {
        a.get(&s.app, &href).await;
        for d in t.required_documents(&p.flags()) {
            if !open_store(&s.store).project(&id).unwrap().has_document(d) {
                let r = a
                    .post(
                        &s.app,
                        &format!("{href}/documents"),
                        &[("kind", d), ("reference", "ref")],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{d}: {}", r.text());
            }
        }
        let page = a.get(&s.app, &href).await.text();
        assert!(
            page.contains(&format!("id=\"move-{}\"", t.action)),
            "{} is offered: {page}",
            t.action
        );
        let r = a
            .post(
                &s.app,
                &format!("{href}/move"),
                &[
                    ("action", &t.action),
                    ("decision", "26/017"),
                    ("note", "ok"),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::SEE_OTHER,
            "{}: {}",
            t.action,
            r.text()
        );
    }
    let last = path.last().unwrap().to;
    let p = open_store(&s.store).project(&id).unwrap();
    assert_eq!(p.state(), last);
    let page = a.get(&s.app, &href).await.text();
    assert!(page.contains(&wf.state(last).en));
    assert!(
        page.contains(&email(Role::AgencyAnalyst)),
        "history says who"
    );
    // A refused move says why, and changes nothing.
    let r = a
        .post(&s.app, &format!("{href}/move"), &[("action", "submit")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text().contains("Not moved"));
    // The quote, both ways.
    let r = r_
        .get(&s.app, &format!("{href}/quote.xlsx?days_analyst=2"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with(b"PK"), "an XLSX is a zip");
    assert!(
        r.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let r = r_.get(&s.app, &format!("{href}/quote.html")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("GP contacts"));
    let r = r_
        .get(&s.app, &format!("{href}/quote.html?days_analyst=lots"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Everything is in the audit log, with the project.
    let log = audit_actions(&s.store);
    for action in [
        "web project file",
        "web project move",
        "web project add-document",
        "web project show",
        "web project quote",
    ] {
        assert!(
            log.iter()
                .any(|e| e.2 == action && e.1.as_deref() == Some(id.as_str())),
            "{action}"
        );
    }
    assert!(
        log.iter()
            .any(|e| e.2 == "web project move" && e.3 == "refused")
    );
}

/// One row of the route × role table: a request and the status expected for the public and
/// for each role of [`ROLES`], in order.
struct Row {
    pattern: &'static str,
    method: &'static str,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: [u16; 7],
}

const fn row(
    pattern: &'static str,
    method: &'static str,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    expect: [u16; 7],
) -> Row {
    Row {
        pattern,
        method,
        path,
        fields,
        expect,
    }
}

const ALL_200: [u16; 7] = [200; 7];
//                    public researcher partner analyst manager control admin
const READ: [u16; 7] = [303, 200, 403, 200, 200, 403, 403];

/// Every route pattern × the public and each role. `P` is the researcher's project.
const TABLE: &[Row] = &[
    row("/", "GET", "/", &[], ALL_200),
    row("/indicators", "GET", "/indicators", &[], ALL_200),
    row(
        "/indicator",
        "GET",
        "/indicator?id=gp-contact",
        &[],
        [303; 7],
    ),
    row(
        "/indicator/{id}",
        "GET",
        "/indicator/gp-contact",
        &[],
        ALL_200,
    ),
    row(
        "/area/{level}/{code}",
        "GET",
        "/area/municipality/21004",
        &[],
        ALL_200,
    ),
    row(
        "/api/figures/{id}",
        "GET",
        "/api/figures/gp-contact",
        &[],
        ALL_200,
    ),
    row("/download/{file}", "GET", "/download/all.csv", &[], ALL_200),
    row("/dcat.jsonld", "GET", "/dcat.jsonld", &[], ALL_200),
    row("/data", "GET", "/data", &[], ALL_200),
    row("/terms", "GET", "/terms", &[], ALL_200),
    row("/about", "GET", "/about", &[], ALL_200),
    row("/static/{name}", "GET", "/static/atlas.css", &[], ALL_200),
    row("/login", "GET", "/login", &[], ALL_200),
    row(
        "/login",
        "POST",
        "/login",
        &[("email", "nobody@example.be"), ("password", "x")],
        [401; 7],
    ),
    row("/logout", "GET", "/logout", &[], [303; 7]),
    row("/logout", "POST", "/logout", &[], [303; 7]),
    row(
        "/projects",
        "GET",
        "/projects",
        &[],
        [303, 200, 200, 200, 200, 200, 200],
    ),
    row(
        "/projects/new",
        "GET",
        "/projects/new",
        &[],
        [303, 200, 200, 200, 403, 403, 403],
    ),
    row(
        "/projects/new",
        "POST",
        "/projects/new",
        &[("title", "")],
        [303, 422, 422, 422, 403, 403, 403],
    ),
    row("/projects/{id}", "GET", "/projects/P", &[], READ),
    row(
        "/projects/{id}/move",
        "GET",
        "/projects/P/move",
        &[],
        [303; 7],
    ),
    // `deliver` from intake: the agency's step (refused by the workflow: 409), nobody else's.
    row(
        "/projects/{id}/move",
        "POST",
        "/projects/P/move",
        &[("action", "deliver")],
        [303, 403, 403, 409, 409, 403, 403],
    ),
    // `submit`: the requester's side; the analyst's and manager's roles may act for it too.
    row(
        "/projects/{id}/move",
        "POST",
        "/projects/P/move",
        &[("action", "withdraw"), ("csrf", "bad")],
        [303, 403, 403, 403, 403, 403, 403],
    ),
    row(
        "/projects/{id}/documents",
        "GET",
        "/projects/P/documents",
        &[],
        [303; 7],
    ),
    row(
        "/projects/{id}/documents",
        "POST",
        "/projects/P/documents",
        &[("kind", "no_such_kind")],
        [303, 422, 403, 422, 422, 403, 403],
    ),
    row(
        "/projects/{id}/quote.html",
        "GET",
        "/projects/P/quote.html",
        &[],
        READ,
    ),
    row(
        "/projects/{id}/quote.xlsx",
        "GET",
        "/projects/P/quote.xlsx",
        &[],
        READ,
    ),
    row(
        "/projects/{id}",
        "GET",
        "/projects/P-1999-999",
        &[],
        [303, 403, 403, 404, 404, 403, 403],
    ),
];

#[tokio::test]
async fn every_route_answers_each_role_as_the_table_says() {
    // Seven failed logins of one e-mail in the table: not the rate limit's test.
    let s = site_with(PortalConfig {
        max_failures_per_account: 100,
        ..quick()
    });
    // Every route pattern has a row: a route added without one fails here.
    let covered: std::collections::BTreeSet<&str> = TABLE.iter().map(|r| r.pattern).collect();
    let all: std::collections::BTreeSet<&str> = route_patterns().into_iter().collect();
    assert_eq!(
        covered, all,
        "route patterns without a row in the table (or rows for routes that are gone)"
    );
    // The researcher's project.
    let mut store = open_store(&s.store);
    let researcher = store.account(&email(Role::Researcher)).unwrap();
    let sheet = aim_projects::ProjectSheet::from_toml(
        "title = \"T\"\ntype = \"sample-aggregate\"\npurpose = \"p\"\nlegal_basis = \"l\"\n\
         organisation = \"o\"\nvariables = [\"v\"]\nperiods = [\"2022\"]\npopulation = \"x\"\n\
         [contact]\nname = \"n\"\nemail = \"n@example.be\"\n",
    )
    .unwrap();
    let p = store
        .create_project(sheet, &researcher, chrono::Utc::now())
        .unwrap();
    let id = p.id().to_string();
    let mut failures = Vec::new();
    for row in TABLE {
        let path = row.path.replace("/P/", &format!("/{id}/"));
        let path = if path == "/projects/P" {
            format!("/projects/{id}")
        } else {
            path
        };
        for (col, role) in std::iter::once(None)
            .chain(ROLES.into_iter().map(Some))
            .enumerate()
        {
            // A fresh session per cell, opened the way every sign-in opens one.
            let mut b = Browser::new();
            if let Some(role) = role {
                let account = store.account(&email(role)).unwrap();
                let opened = aim_web::sessions::open_for(&s.state, account, SignInMethod::Password)
                    .await
                    .unwrap();
                b.cookie = Some(format!("aim_session={}", opened.session.token));
                b.csrf = opened.session.csrf_token.clone();
            }
            let r = if row.method == "GET" {
                b.get(&s.app, &path).await
            } else {
                b.post(&s.app, &path, row.fields).await
            };
            let who = role.map(|r| r.as_str()).unwrap_or("public");
            if r.status.as_u16() != row.expect[col] {
                failures.push(format!(
                    "{} {path} as {who}: {} (expected {})",
                    row.method, r.status, row.expect[col]
                ));
            }
            if r.status == StatusCode::FORBIDDEN
                && row.pattern.starts_with("/projects")
                && row.fields.iter().all(|(k, _)| *k != "csrf")
            {
                assert!(
                    r.text().contains("needs"),
                    "a 403 says which role is missing: {}",
                    r.text()
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Refusals are in the audit log with who and which project.
    let log = audit_actions(&s.store);
    assert!(log.iter().any(|e| e.0 == Some(email(Role::ControlServices))
        && e.1.as_deref() == Some(id.as_str())
        && e.3 == "refused"));
}
