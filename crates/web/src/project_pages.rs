//! The HTML of the signed-in pages: the frame, the login form, the project list, the project
//! sheet form and a project's page. In English (docs/web-projects.md says why); plain
//! server-rendered HTML with the Atlas's style sheet and no script.

use crate::html::{asset, enc_segment, esc};
use crate::sessions::SignedIn;
use aim_access::{
    Account, Capability, Member, ProjectRole, capability_for_transition, require_for_project,
};
use aim_projects::{Guard, Project, ProjectSheet, RequestType, Workflow};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

/// Who the page is for: the signed-in account and its CSRF token (for the sign-out button and
/// every form), or nobody.
#[derive(Debug, Clone, Default)]
pub struct PageCtx {
    /// The account, when signed in.
    pub account: Option<Account>,
    /// The session's CSRF token.
    pub csrf: String,
}

impl PageCtx {
    /// The context of a request with this session.
    pub fn of(s: Option<&SignedIn>) -> PageCtx {
        match s {
            Some(s) => PageCtx {
                account: Some(s.account().clone()),
                csrf: s.session.csrf_token.clone(),
            },
            None => PageCtx::default(),
        }
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.csrf)
        )
    }
}

/// The frame of a signed-in page around `main` (already HTML).
pub fn frame(ctx: &PageCtx, title: &str, main: &str) -> String {
    let mut nav = String::from("<a href=\"/\">Atlas</a>\n");
    if let Some(a) = &ctx.account {
        let _ = write!(
            nav,
            "<a href=\"/projects\">Projects</a>\n<a href=\"/projects/new\">New request</a>\n\
             <span class=\"who\">{}</span>\n<form class=\"inline\" method=\"post\" action=\"/logout\">{}\
             <button type=\"submit\">Sign out</button></form>\n",
            esc(&a.email),
            ctx.csrf_field()
        );
    } else {
        nav.push_str("<a href=\"/login\">Sign in</a>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} — aim projects</title>\n<link rel=\"icon\" href=\"data:,\">\n\
         <link rel=\"stylesheet\" href=\"{css}\">\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"site\">\n<a class=\"brand\" href=\"/projects\">Data requests — Intermutualist Agency</a>\n\
         <nav aria-label=\"Main\">\n{nav}</nav>\n</header>\n<main id=\"main\">\n{main}\n</main>\n\
         <footer class=\"site\"><p>Intermutualist Agency — requests for data (seed 003). \
         Every page you open here is recorded in the audit log.</p></footer>\n</body>\n</html>",
        title = esc(title),
        css = asset("atlas.css"),
    )
}

/// An HTML answer that no cache keeps.
pub fn respond(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A page with a heading and a message (403, 404, 409, 500 …).
pub fn error_page(ctx: &PageCtx, status: StatusCode, title: &str, message: &str) -> Response {
    let main = format!(
        "<h1>{}</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n<p><a href=\"/projects\">Your projects</a></p>",
        esc(title),
        esc(message)
    );
    respond(status, frame(ctx, title, &main))
}

/// The login form; `error` is shown above it.
pub fn login(ctx: &PageCtx, next: &str, email: &str, error: Option<&str>) -> String {
    let mut main = String::from("<h1>Sign in</h1>\n");
    if let Some(a) = &ctx.account {
        let _ = writeln!(
            main,
            "<p>You are signed in as {} ({}). <a href=\"/projects\">Your projects</a></p>",
            esc(&a.email),
            esc(&a.name)
        );
    }
    if let Some(e) = error {
        let _ = writeln!(main, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    let _ = write!(
        main,
        "<form class=\"sheet\" method=\"post\" action=\"/login\">\n\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\n\
         <label>E-mail <input type=\"email\" name=\"email\" id=\"email\" value=\"{email}\" autocomplete=\"username\" required></label>\n\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\" id=\"sign-in\">Sign in</button>\n</form>\n\
         <p class=\"hint\">Accounts are made by the agency's administrators (<code>aim account create</code>). \
         After 5 failed attempts an account waits 15 minutes.</p>",
        next = esc(next),
        email = esc(email),
    );
    frame(ctx, "Sign in", &main)
}

/// A state's name for people.
fn state_label(wf: &Workflow, s: aim_projects::State) -> String {
    wf.state(s).en.clone()
}

fn project_href(id: &str) -> String {
    format!("/projects/{}", enc_segment(id))
}

/// The list of projects an account sees.
pub fn list(
    ctx: &PageCtx,
    wf: &Workflow,
    all: bool,
    projects: &[(Project, Option<ProjectRole>)],
    broken: &[String],
) -> String {
    let mut main = format!(
        "<h1>{}</h1>\n",
        if all { "All projects" } else { "Your projects" }
    );
    if projects.is_empty() {
        main.push_str("<p>No project yet. <a href=\"/projects/new\">File a request</a>.</p>\n");
    } else {
        main.push_str(
            "<div class=\"table-wrap\"><table class=\"figures\" id=\"projects\">\n<thead><tr><th>Project</th>\
             <th>Title</th><th>Type</th><th>State</th><th>Your role</th></tr></thead>\n<tbody>\n",
        );
        for (p, role) in projects {
            let _ = writeln!(
                main,
                "<tr><td><a href=\"{href}\">{id}</a></td><td>{title}</td><td>{ty}</td>\
                 <td class=\"state\">{state}</td><td>{role}</td></tr>",
                href = esc(&project_href(p.id())),
                id = esc(p.id()),
                title = esc(&p.sheet().title),
                ty = esc(&wf.type_def(p.request_type()).en),
                state = esc(&state_label(wf, p.state())),
                role = role.map(|r| r.to_string()).unwrap_or_default(),
            );
        }
        main.push_str("</tbody></table></div>\n");
    }
    for id in broken {
        let _ = writeln!(
            main,
            "<p class=\"error\">Project {} could not be read (its history does not replay): tell the agency's data managers.</p>",
            esc(id)
        );
    }
    frame(ctx, "Projects", &main)
}

/// The values of the project sheet form (as typed, to show them again with the errors).
#[derive(Debug, Clone, Default)]
pub struct SheetForm {
    /// The fields by name.
    pub values: Vec<(&'static str, String)>,
}

impl SheetForm {
    fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The project sheet form: every field of `aim_projects::ProjectSheet`.
pub fn sheet_form(ctx: &PageCtx, wf: &Workflow, form: &SheetForm, error: Option<&str>) -> String {
    let mut main = String::from(
        "<h1>New request for data</h1>\n<p class=\"intro\">The project sheet (fiche projet): \
         the agency evaluates the request from it. Fields marked * are required.</p>\n",
    );
    if let Some(e) = error {
        let _ = writeln!(
            main,
            "<p class=\"error\" role=\"alert\" id=\"form-error\">{}</p>",
            esc(e)
        );
    }
    let text = |name: &str, label: &str, required: bool| {
        format!(
            "<label>{label}{star} <input type=\"text\" name=\"{name}\" id=\"{name}\" value=\"{v}\"{req}></label>\n",
            star = if required { " *" } else { "" },
            req = if required { " required" } else { "" },
            v = esc(form.get(name)),
        )
    };
    let area = |name: &str, label: &str, hint: &str| {
        format!(
            "<label>{label} <small>{hint}</small><textarea name=\"{name}\" id=\"{name}\" rows=\"3\">{v}</textarea></label>\n",
            v = esc(form.get(name)),
        )
    };
    let mut types = String::new();
    for t in RequestType::ALL {
        let _ = write!(
            types,
            "<option value=\"{id}\"{sel}>{label}</option>",
            id = t.id(),
            sel = if form.get("type") == t.id() {
                " selected"
            } else {
                ""
            },
            label = esc(&wf.type_def(t).en),
        );
    }
    let check = |name: &str, label: &str| {
        format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"{name}\" id=\"{name}\" value=\"on\"{c}> {label}</label>\n",
            c = if form.get(name).is_empty() {
                ""
            } else {
                " checked"
            },
        )
    };
    let _ = write!(
        main,
        "<form class=\"sheet\" method=\"post\" action=\"/projects/new\">\n{csrf}\n\
         {title}<label>Request type * <select name=\"type\" id=\"type\">{types}</select></label>\n\
         {purpose}{legal}{org}{cname}{cemail}{cphone}{vars}{periods}{pop}{linked}{complex}{eps}\
         <button type=\"submit\" id=\"file\">File the request</button>\n</form>",
        csrf = ctx.csrf_field(),
        title = text("title", "Title", true),
        purpose = area("purpose", "Purpose *", "what the project is for"),
        legal = text("legal_basis", "Legal basis", true),
        org = text("organisation", "Requesting organisation", true),
        cname = text("contact_name", "Project leader", true),
        cemail = text("contact_email", "Project leader's e-mail", true),
        cphone = text("contact_phone", "Telephone", false),
        vars = area("variables", "Variables *", "one per line"),
        periods = text(
            "periods",
            "Periods (years 2022 or ranges 2019-2023, separated by commas)",
            true
        ),
        pop = area("population", "Population *", "selection criteria in words"),
        linked = area(
            "linked_sources",
            "Sources linked through the TTP",
            "one per line; empty when none"
        ),
        complex = check(
            "complex",
            "The programme managers judged it complex (steering committee)"
        ),
        eps = check(
            "eps_partner",
            "The requester is a partner with permanent access to the sample"
        ),
    );
    frame(ctx, "New request", &main)
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A project's page: its sheet, state and lead times, history, documents checklist, members,
/// the transitions this account may make, the quote.
pub fn show(
    ctx: &PageCtx,
    wf: &Workflow,
    p: &Project,
    members: &[Member],
    membership: Option<ProjectRole>,
    message: Option<&str>,
) -> String {
    let id = p.id();
    let href = project_href(id);
    let account = ctx.account.as_ref();
    let may =
        |c: Capability| account.is_some_and(|a| require_for_project(a, c, id, membership).is_ok());
    let s = p.sheet();
    let mut m = format!(
        "<p class=\"crumbs\"><a href=\"/projects\">Projects</a> › {}</p>\n<h1>{} — {}</h1>\n",
        esc(id),
        esc(id),
        esc(&s.title)
    );
    if let Some(msg) = message {
        let _ = writeln!(
            m,
            "<p class=\"error\" role=\"alert\" id=\"message\">{}</p>",
            esc(msg)
        );
    }
    let _ = writeln!(
        m,
        "<p>State: <strong id=\"state\">{}</strong> since {}{}</p>",
        esc(&state_label(wf, p.state())),
        day(p.entered_at()),
        wf.expected_exit(p)
            .map(|t| format!("; expected to leave it by {}", t.format("%Y-%m-%d")))
            .unwrap_or_default()
    );
    if let Some(d) = wf.committee_deadline(p) {
        let _ = writeln!(
            m,
            "<p>The sample committee's silence approves from {}.</p>",
            day(d)
        );
    }
    if let Some(n) = p.decision_number() {
        let _ = writeln!(m, "<p>Privacy committee's decision: {}</p>", esc(n));
    }
    // The sheet.
    let _ = writeln!(m, "<h2>Project sheet</h2>\n<dl class=\"sheet\">");
    let contact = format!(
        "{} &lt;{}&gt;{}",
        esc(&s.contact.name),
        esc(&s.contact.email),
        s.contact
            .phone
            .as_deref()
            .map(|p| format!(", {}", esc(p)))
            .unwrap_or_default()
    );
    let rows: [(&str, String); 10] = [
        ("Type", esc(&wf.type_def(s.request_type).en)),
        ("Purpose", esc(&s.purpose)),
        ("Legal basis", esc(&s.legal_basis)),
        ("Organisation", esc(&s.organisation)),
        ("Project leader", contact),
        ("Variables", esc(&s.variables.join("; "))),
        ("Periods", esc(&s.periods.join(", "))),
        ("Population", esc(&s.population)),
        (
            "Linked sources",
            if s.linked_sources.is_empty() {
                "none".into()
            } else {
                esc(&s.linked_sources.join("; "))
            },
        ),
        (
            "Filed",
            format!("by {} on {}", esc(p.created_by()), day(p.created_at())),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(m, "<dt>{k}</dt><dd>{v}</dd>");
    }
    m.push_str("</dl>\n");
    // Lead times: the time spent in each state passed, against the expected days.
    m.push_str("<h2>Lead times</h2>\n<table class=\"figures\" id=\"lead-times\"><thead><tr><th>State</th><th>Entered</th><th>Days spent</th><th>Expected days</th></tr></thead><tbody>\n");
    let mut entered = p.created_at();
    let mut state = aim_projects::State::Intake;
    let now = chrono::Utc::now();
    let mut rows: Vec<(
        aim_projects::State,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = Vec::new();
    for r in p.history() {
        rows.push((state, entered, Some(r.at)));
        state = r.to;
        entered = r.at;
    }
    rows.push((state, entered, None));
    for (st, from, to) in rows {
        let spent = (to.unwrap_or(now) - from).num_hours() as f64 / 24.0;
        let _ = writeln!(
            m,
            "<tr><td>{}{}</td><td>{}</td><td class=\"num\">{spent:.1}</td><td class=\"num\">{}</td></tr>",
            esc(&state_label(wf, st)),
            if to.is_none() { " (now)" } else { "" },
            day(from),
            wf.lead_time(p.request_type(), st)
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
        );
    }
    m.push_str("</tbody></table>\n");
    // History.
    m.push_str("<h2>History</h2>\n");
    if p.history().is_empty() {
        m.push_str("<p>No transition yet.</p>\n");
    } else {
        m.push_str("<table class=\"figures\" id=\"history\"><thead><tr><th>When</th><th>Action</th><th>From</th><th>To</th><th>By</th><th>Decision</th><th>Note</th></tr></thead><tbody>\n");
        for r in p.history() {
            let _ = writeln!(
                m,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                day(r.at),
                esc(&r.action),
                esc(&state_label(wf, r.from)),
                esc(&state_label(wf, r.to)),
                esc(&r.actor),
                esc(r.decision_number.as_deref().unwrap_or("")),
                esc(r.note.as_deref().unwrap_or("")),
            );
        }
        m.push_str("</tbody></table>\n");
    }
    // Documents.
    m.push_str("<h2>Documents</h2>\n");
    if p.documents().is_empty() {
        m.push_str("<p>None attached yet.</p>\n");
    } else {
        m.push_str("<ul id=\"documents\">\n");
        for d in p.documents() {
            let label = wf
                .document(&d.kind)
                .map(|x| x.en.as_str())
                .unwrap_or(&d.kind);
            let _ = writeln!(
                m,
                "<li>{} ({}) — {} — by {} on {}</li>",
                esc(label),
                esc(&d.kind),
                esc(&d.reference),
                esc(&d.added_by),
                day(d.added_at)
            );
        }
        m.push_str("</ul>\n");
    }
    let flags = p.flags();
    let checklist = wf.checklist(p.request_type(), &flags, p.state());
    if !checklist.is_empty() {
        m.push_str(
            "<h3>Checklist for the next steps</h3>\n<ul class=\"checklist\" id=\"checklist\">\n",
        );
        for (d, actions) in &checklist {
            let have = p.has_document(&d.id);
            let _ = writeln!(
                m,
                "<li class=\"{cls}\">{mark} {label} ({id}) — for {actions}{missing}</li>",
                cls = if have { "present" } else { "missing" },
                mark = if have { "☑" } else { "☐" },
                label = esc(&d.en),
                id = esc(&d.id),
                actions = esc(&actions.join(", ")),
                missing = if have { "" } else { " — missing" },
            );
        }
        m.push_str("</ul>\n");
    }
    if may(Capability::ActForProject) {
        let mut kinds = String::new();
        for d in wf.documents() {
            let _ = write!(
                kinds,
                "<option value=\"{}\">{}</option>",
                esc(&d.id),
                esc(&d.en)
            );
        }
        let _ = writeln!(
            m,
            "<form class=\"sheet\" method=\"post\" action=\"{href}/documents\" id=\"add-document\">{csrf}\
             <label>Document <select name=\"kind\" id=\"kind\">{kinds}</select></label>\
             <label>Reference (file name, archive number) <input type=\"text\" name=\"reference\" id=\"reference\"></label>\
             <button type=\"submit\">Register the document</button></form>",
            href = esc(&href),
            csrf = ctx.csrf_field(),
        );
    }
    // Members.
    m.push_str("<h2>Members</h2>\n<ul id=\"members\">\n");
    for mem in members {
        let _ = writeln!(
            m,
            "<li>{} ({}), {}</li>",
            esc(&mem.account.email),
            esc(&mem.account.name),
            mem.role
        );
    }
    m.push_str("</ul>\n");
    // Actions.
    m.push_str("<h2>Actions</h2>\n");
    let mut seen: Vec<&str> = Vec::new();
    let mut any = false;
    for t in wf.transitions_from(p.request_type(), &flags, p.state()) {
        if seen.contains(&t.action.as_str()) {
            continue;
        }
        seen.push(&t.action);
        let c = capability_for_transition(&t.action, Some(p.state()));
        if !may(c) {
            continue;
        }
        any = true;
        let decision = if t.guard == Some(Guard::DecisionNumber) {
            "<label>Decision number * <input type=\"text\" name=\"decision\" required placeholder=\"26/017\"></label>"
        } else {
            ""
        };
        let _ = writeln!(
            m,
            "<form class=\"move\" method=\"post\" action=\"{href}/move\">{csrf}\
             <input type=\"hidden\" name=\"action\" value=\"{a}\">{decision}\
             <label>Note <input type=\"text\" name=\"note\"></label>\
             <button type=\"submit\" id=\"move-{a}\">{a} → {to}</button></form>",
            href = esc(&href),
            csrf = ctx.csrf_field(),
            a = esc(&t.action),
            to = esc(&state_label(wf, t.to)),
        );
    }
    if !any {
        m.push_str("<p>No action for you in this state.</p>\n");
    }
    // Quote.
    let _ = writeln!(
        m,
        "<h2>Quote</h2>\n<p>The price estimate of this request (seed 003 §4), French and Dutch: \
         <a href=\"{h}/quote.html\" id=\"quote-html\">printable page</a> · \
         <a href=\"{h}/quote.xlsx\" id=\"quote-xlsx\">spreadsheet</a>. \
         Add <code>?days_analyst=N&amp;days_expert=N</code> to price the agency's days.</p>",
        h = esc(&href)
    );
    frame(ctx, id, &m)
}

/// The sheet a filled-in form describes, or why it is not acceptable.
pub fn sheet_from(form: &crate::form::Form) -> Result<ProjectSheet, String> {
    let request_type: RequestType = form
        .get("type")
        .parse()
        .map_err(|e: String| format!("request type: {e}"))?;
    let phone = Some(form.get("contact_phone").to_string()).filter(|p| !p.is_empty());
    let sheet = ProjectSheet {
        title: form.get("title").into(),
        request_type,
        purpose: form.get("purpose").into(),
        legal_basis: form.get("legal_basis").into(),
        organisation: form.get("organisation").into(),
        contact: aim_projects::Contact {
            name: form.get("contact_name").into(),
            email: form.get("contact_email").into(),
            phone,
        },
        variables: form.lines("variables"),
        periods: form.items("periods"),
        population: form.get("population").into(),
        linked_sources: form.lines("linked_sources"),
        complex: form.checked("complex"),
        eps_partner: form.checked("eps_partner"),
    };
    sheet.validate().map_err(|e| e.to_string())?;
    Ok(sheet)
}

/// The names of the sheet form's fields.
pub const SHEET_FIELDS: [&str; 14] = [
    "title",
    "type",
    "purpose",
    "legal_basis",
    "organisation",
    "contact_name",
    "contact_email",
    "contact_phone",
    "variables",
    "periods",
    "population",
    "linked_sources",
    "complex",
    "eps_partner",
];

/// The form's values as typed.
pub fn sheet_values(form: &crate::form::Form) -> SheetForm {
    SheetForm {
        values: SHEET_FIELDS
            .iter()
            .map(|k| (*k, form.get(k).to_string()))
            .collect(),
    }
}
