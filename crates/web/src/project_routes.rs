//! The project pages' handlers: each resolves its session and project, asks
//! [`guard::check`], records the access or the refusal in the audit log (who, project, what),
//! then does what the command line's `aim project` does, through the same store calls.

use crate::AppState;
use crate::form::Form;
use crate::guard::{self, Need, Refusal, check_post};
use crate::login::{begin, unavailable};
use crate::portal::{Portal, PortalError};
use crate::project_pages::{self, PageCtx, error_page};
use crate::sessions::SignedIn;
use aim_access::{
    Account, AuditEvent, Capability, Outcome, ProjectOpError, ProjectRole, Store,
    capability_for_transition,
};
use aim_projects::{Attempt, Project, Quantity, QuoteRequest};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Writes one audit entry; a failure to write refuses the page (as the command line does).
async fn record(
    portal: &Portal,
    account: Option<&Account>,
    project: Option<&str>,
    action: &str,
    object: &str,
    outcome: Outcome,
) -> Result<(), PortalError> {
    let ev = AuditEvent {
        account: account.map(|a| a.email.clone()),
        project: project.map(String::from),
        action: action.into(),
        object: object.into(),
        outcome,
    };
    portal.with_store(move |s| s.append_audit(&ev)).await??;
    Ok(())
}

/// Checks the need; a 403 is recorded, then answered.
#[allow(clippy::too_many_arguments)]
async fn allow(
    portal: &Portal,
    ctx: &PageCtx,
    signed_in: Option<&SignedIn>,
    need: Need,
    capability: Option<Capability>,
    project: Option<(&str, Option<ProjectRole>)>,
    next: &str,
    action: &str,
) -> Result<(), Response> {
    let who = signed_in.map(SignedIn::account);
    match guard::check(who, need, capability, project, next) {
        Ok(()) => Ok(()),
        Err(r @ Refusal::SignIn { .. }) => Err(r.respond(ctx)),
        Err(r) => {
            if let Err(e) = record(
                portal,
                who,
                project.map(|p| p.0),
                action,
                next,
                Outcome::Refused(r.reason()),
            )
            .await
            {
                return Err(unavailable(ctx, &e));
            }
            Err(r.respond(ctx))
        }
    }
}

/// The project and the account's role in it (`Ok(None)`: no such project).
async fn load(
    portal: &Portal,
    id: &str,
    account: Option<&Account>,
) -> Result<Option<(Project, Option<ProjectRole>)>, String> {
    let (id, account) = (id.to_string(), account.cloned());
    let r = portal
        .with_store(
            move |s: &mut Store| -> Result<Option<(Project, Option<ProjectRole>)>, String> {
                if !s.project_exists(&id).map_err(|e| e.to_string())? {
                    return Ok(None);
                }
                let membership = match &account {
                    Some(a) => s.membership(&id, a).map_err(|e| e.to_string())?,
                    None => None,
                };
                let p = s.project(&id).map_err(|e| e.to_string())?;
                Ok(Some((p, membership)))
            },
        )
        .await;
    match r {
        Ok(x) => x,
        Err(e) => Err(e.to_string()),
    }
}

fn not_found(ctx: &PageCtx, id: &str) -> Response {
    error_page(
        ctx,
        StatusCode::NOT_FOUND,
        "No such project (404)",
        &format!("There is no project '{id}'."),
    )
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

fn project_path(id: &str) -> String {
    format!("/projects/{}", crate::html::enc_segment(id))
}

/// `GET /projects`: every project for the agency's roles, one's own for the others.
pub async fn list(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (portal, signed_in) = match begin(&st, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = PageCtx::of(signed_in.as_ref());
    if let Err(r) = allow(
        &portal,
        &ctx,
        signed_in.as_ref(),
        Need::SignedIn,
        None,
        None,
        "/projects",
        "web project list",
    )
    .await
    {
        return r;
    }
    let account = signed_in
        .as_ref()
        .map(|s| s.account().clone())
        .expect("checked");
    let all = aim_access::require(&account, Capability::ReadProject).is_ok();
    let a2 = account.clone();
    let listed = portal
        .with_store(move |s| -> Result<_, aim_access::StoreError> {
            let ids = s.visible_projects(&a2)?;
            let mut out = Vec::new();
            let mut broken = Vec::new();
            for (id, role) in ids {
                match s.project(&id) {
                    Ok(p) => out.push((p, role)),
                    Err(_) => broken.push(id),
                }
            }
            s.append_audit(&AuditEvent {
                account: Some(a2.email.clone()),
                project: None,
                action: "web project list".into(),
                object: if all { "all".into() } else { "own".into() },
                outcome: Outcome::Done,
            })?;
            Ok((out, broken))
        })
        .await;
    match listed {
        Ok(Ok((projects, broken))) => project_pages::respond(
            StatusCode::OK,
            project_pages::list(&ctx, &portal.workflow, all, &projects, &broken),
        ),
        Ok(Err(e)) => unavailable(&ctx, &PortalError::Store(e)),
        Err(e) => unavailable(&ctx, &e),
    }
}

/// `GET /projects/new`: the project sheet form.
pub async fn new_form(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (portal, signed_in) = match begin(&st, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = PageCtx::of(signed_in.as_ref());
    if let Err(r) = allow(
        &portal,
        &ctx,
        signed_in.as_ref(),
        Need::Role(Capability::FileProject),
        None,
        None,
        "/projects/new",
        "web project file",
    )
    .await
    {
        return r;
    }
    let mut form = project_pages::SheetForm::default();
    if let Some(a) = &ctx.account {
        form.values = vec![
            ("organisation", a.organisation.clone()),
            ("contact_name", a.name.clone()),
            ("contact_email", a.email.clone()),
        ];
    }
    project_pages::respond(
        StatusCode::OK,
        project_pages::sheet_form(&ctx, &portal.workflow, &form, None),
    )
}

/// `POST /projects/new`: files the request; the form again with the error when the sheet is
/// not acceptable (422).
pub async fn file(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (portal, signed_in) = match begin(&st, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = PageCtx::of(signed_in.as_ref());
    let form = Form::parse(&body).unwrap_or_default();
    if let Err(r) = allow(
        &portal,
        &ctx,
        signed_in.as_ref(),
        Need::Role(Capability::FileProject),
        None,
        None,
        "/projects/new",
        "web project file",
    )
    .await
    {
        return r;
    }
    if let Err(r) = check_post(
        &headers,
        st.public_url().as_str(),
        signed_in.as_ref(),
        form.get("csrf"),
    ) {
        return r.respond(&ctx);
    }
    let account = signed_in
        .as_ref()
        .map(|s| s.account().clone())
        .expect("checked");
    let sheet = match project_pages::sheet_from(&form) {
        Ok(s) => s,
        Err(e) => {
            let values = project_pages::sheet_values(&form);
            return project_pages::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                project_pages::sheet_form(&ctx, &portal.workflow, &values, Some(&e)),
            );
        }
    };
    let title = sheet.title.clone();
    let created = portal
        .with_store(
            move |s| -> Result<Result<Project, String>, aim_access::StoreError> {
                let r = s.create_project(sheet, &account, chrono::Utc::now());
                let (outcome, project) = match &r {
                    Ok(p) => (Outcome::Done, Some(p.id().to_string())),
                    Err(e) => (Outcome::Failed(e.to_string()), None),
                };
                s.append_audit(&AuditEvent {
                    account: Some(account.email.clone()),
                    project,
                    action: "web project file".into(),
                    object: title,
                    outcome,
                })?;
                Ok(r.map_err(|e| e.to_string()))
            },
        )
        .await;
    match created {
        Ok(Ok(Ok(p))) => see_other(&project_path(p.id())),
        Ok(Ok(Err(e))) => {
            let values = project_pages::sheet_values(&form);
            project_pages::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                project_pages::sheet_form(&ctx, &portal.workflow, &values, Some(&e)),
            )
        }
        Ok(Err(e)) => unavailable(&ctx, &PortalError::Store(e)),
        Err(e) => unavailable(&ctx, &e),
    }
}

/// What every project route starts with: the portal, the session, the project and the
/// account's role in it, checked against `need` and recorded. `Err`: the answer to give.
struct Scoped {
    portal: Arc<Portal>,
    signed_in: SignedIn,
    ctx: PageCtx,
    project: Project,
    membership: Option<ProjectRole>,
}

#[allow(clippy::too_many_arguments)]
async fn scoped(
    st: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    id: Result<Path<String>, PathRejection>,
    suffix: &str,
    need: Need,
    capability: impl FnOnce(&Project) -> Option<Capability>,
    action: &str,
) -> Result<Scoped, Response> {
    let (portal, signed_in) = begin(st, headers, uri).await?;
    let ctx = PageCtx::of(signed_in.as_ref());
    let Ok(Path(id)) = id else {
        return Err(not_found(&ctx, "?"));
    };
    let next = format!("{}{suffix}", project_path(&id));
    // Not signed in: to the login page, before saying whether the project exists.
    if signed_in.is_none() {
        return Err(Refusal::SignIn { next }.respond(&ctx));
    }
    let account = signed_in.as_ref().map(SignedIn::account);
    let (project, membership) = match load(&portal, &id, account).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            // Refused like a project one may not read, unless one may read every project:
            // the page does not tell who exists.
            let r = guard::check(
                account,
                need,
                Some(Capability::ReadProject),
                Some((&id, None)),
                &next,
            );
            let _ = record(
                &portal,
                account,
                Some(&id),
                action,
                &next,
                Outcome::Refused("no such project".into()),
            )
            .await;
            return Err(match r {
                Ok(()) => not_found(&ctx, &id),
                Err(r) => r.respond(&ctx),
            });
        }
        Err(e) => {
            return Err(error_page(
                &ctx,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Project unreadable (500)",
                &e,
            ));
        }
    };
    let c = capability(&project);
    allow(
        &portal,
        &ctx,
        signed_in.as_ref(),
        need,
        c,
        Some((&id, membership)),
        &next,
        action,
    )
    .await?;
    Ok(Scoped {
        portal,
        signed_in: signed_in.expect("checked"),
        ctx,
        project,
        membership,
    })
}

/// `GET /projects/{id}`.
pub async fn show(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let s = match scoped(
        &st,
        &headers,
        &uri,
        id,
        "",
        Need::Project(Capability::ReadProject),
        |_| None,
        "web project show",
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    render_show(&s, StatusCode::OK, None).await
}

async fn render_show(s: &Scoped, status: StatusCode, message: Option<&str>) -> Response {
    let id = s.project.id().to_string();
    let who = s.signed_in.account().clone();
    let members = s
        .portal
        .with_store(move |st| -> Result<_, aim_access::StoreError> {
            let m = st.project_members(&id)?;
            st.append_audit(&AuditEvent {
                account: Some(who.email.clone()),
                project: Some(id.clone()),
                action: "web project show".into(),
                object: id.clone(),
                outcome: Outcome::Done,
            })?;
            Ok(m)
        })
        .await;
    let members = match members {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return unavailable(&s.ctx, &PortalError::Store(e)),
        Err(e) => return unavailable(&s.ctx, &e),
    };
    project_pages::respond(
        status,
        project_pages::show(
            &s.ctx,
            &s.portal.workflow,
            &s.project,
            &members,
            s.membership,
            message,
        ),
    )
}

/// `POST /projects/{id}/move`: the action of the form (with its note and decision number).
pub async fn move_project(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body).unwrap_or_default();
    let action = form.get("action").to_string();
    let a2 = action.clone();
    let s = match scoped(
        &st,
        &headers,
        &uri,
        id,
        "",
        Need::Transition,
        move |p| Some(capability_for_transition(&a2, Some(p.state()))),
        "web project move",
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = check_post(
        &headers,
        st.public_url().as_str(),
        Some(&s.signed_in),
        form.get("csrf"),
    ) {
        return r.respond(&s.ctx);
    }
    let account = s.signed_in.account().clone();
    let mut attempt = Attempt::new(&action, &account.email, chrono::Utc::now());
    attempt.note = Some(form.get("note").to_string()).filter(|n| !n.is_empty());
    attempt.decision_number = Some(form.get("decision").to_string()).filter(|n| !n.is_empty());
    let mut object = action.clone();
    if let Some(n) = &attempt.decision_number {
        object.push_str(&format!(" decision {n}"));
    }
    let id = s.project.id().to_string();
    let moved = s
        .portal
        .with_store(
            move |st| -> Result<Result<Project, ProjectOpError>, aim_access::StoreError> {
                let r = st.move_project(&id, &account, attempt);
                let outcome = match &r {
                    Ok(_) => Outcome::Done,
                    Err(e @ ProjectOpError::Refused(_)) => Outcome::Refused(e.to_string()),
                    Err(e) => Outcome::Failed(e.to_string()),
                };
                st.append_audit(&AuditEvent {
                    account: Some(account.email.clone()),
                    project: Some(id.clone()),
                    action: "web project move".into(),
                    object,
                    outcome,
                })?;
                Ok(r.map(|(p, _)| p))
            },
        )
        .await;
    match moved {
        Ok(Ok(Ok(_))) => see_other(&project_path(s.project.id())),
        Ok(Ok(Err(e))) => {
            let status = if matches!(e, ProjectOpError::Refused(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            render_show(&s, status, Some(&format!("Not moved: {e}"))).await
        }
        Ok(Err(e)) => unavailable(&s.ctx, &PortalError::Store(e)),
        Err(e) => unavailable(&s.ctx, &e),
    }
}

/// `POST /projects/{id}/documents`: registers a document (its kind and a reference; the file
/// stays in the agency's records), as `aim project add-document` does.
pub async fn add_document(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let s = match scoped(
        &st,
        &headers,
        &uri,
        id,
        "",
        Need::Project(Capability::ActForProject),
        |_| None,
        "web project add-document",
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let form = Form::parse(&body).unwrap_or_default();
    if let Err(r) = check_post(
        &headers,
        st.public_url().as_str(),
        Some(&s.signed_in),
        form.get("csrf"),
    ) {
        return r.respond(&s.ctx);
    }
    let kind = form.get("kind").to_string();
    let reference = match form.get("reference") {
        "" => "(recorded without a file)".to_string(),
        r => r.to_string(),
    };
    let account = s.signed_in.account().clone();
    let id = s.project.id().to_string();
    let object = format!("{kind} {reference}");
    let added = s
        .portal
        .with_store(
            move |st| -> Result<Result<Project, ProjectOpError>, aim_access::StoreError> {
                let r =
                    st.add_project_document(&id, &kind, &reference, &account, chrono::Utc::now());
                let outcome = match &r {
                    Ok(_) => Outcome::Done,
                    Err(e @ ProjectOpError::Refused(_)) => Outcome::Refused(e.to_string()),
                    Err(e) => Outcome::Failed(e.to_string()),
                };
                st.append_audit(&AuditEvent {
                    account: Some(account.email.clone()),
                    project: Some(id.clone()),
                    action: "web project add-document".into(),
                    object,
                    outcome,
                })?;
                Ok(r)
            },
        )
        .await;
    match added {
        Ok(Ok(Ok(_))) => see_other(&project_path(s.project.id())),
        Ok(Ok(Err(e))) => {
            let status = if matches!(e, ProjectOpError::Refused(_)) {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            render_show(&s, status, Some(&format!("Not registered: {e}"))).await
        }
        Ok(Err(e)) => unavailable(&s.ctx, &PortalError::Store(e)),
        Err(e) => unavailable(&s.ctx, &e),
    }
}

/// The quote's request from the query: `days_analyst`, `days_expert` (decimals allowed), dated
/// today.
fn quote_request(uri: &Uri) -> Result<QuoteRequest, String> {
    let mut req = QuoteRequest::new(chrono::Utc::now().date_naive());
    for (k, v) in crate::html::parse_query(uri.query().unwrap_or("")).unwrap_or_default() {
        let q = || v.parse::<Quantity>().map_err(|e| format!("{k}: {e}"));
        match k.as_str() {
            "days_analyst" => req.days_analyst = q()?,
            "days_expert" => req.days_expert = q()?,
            _ => {}
        }
    }
    Ok(req)
}

/// `GET /projects/{id}/quote.html` and `quote.xlsx`: the quote as a download (the printable
/// page carries its own style, so it is saved and opened, not shown under this site's CSP).
pub async fn quote(
    st: AppState,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
    xlsx: bool,
) -> Response {
    let suffix = if xlsx { "/quote.xlsx" } else { "/quote.html" };
    let s = match scoped(
        &st,
        &headers,
        &uri,
        id,
        suffix,
        Need::Project(Capability::ReadProject),
        |_| None,
        "web project quote",
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let req = match quote_request(&uri) {
        Ok(r) => r,
        Err(e) => return error_page(&s.ctx, StatusCode::BAD_REQUEST, "Quote not made (400)", &e),
    };
    let p = &s.portal;
    let made = aim_projects::quote(&p.prices, &p.index, s.project.sheet(), &req)
        .map_err(|e| e.to_string())
        .and_then(|q| {
            if xlsx {
                aim_projects::render::xlsx_bytes(&q, &p.workflow).map_err(|e| e.to_string())
            } else {
                Ok(aim_projects::render::html(&q, &p.workflow).into_bytes())
            }
        });
    let outcome = match &made {
        Ok(_) => Outcome::Done,
        Err(e) => Outcome::Failed(e.clone()),
    };
    if let Err(e) = record(
        p,
        Some(s.signed_in.account()),
        Some(s.project.id()),
        "web project quote",
        suffix.trim_start_matches('/'),
        outcome,
    )
    .await
    {
        return unavailable(&s.ctx, &e);
    }
    match made {
        Ok(bytes) => {
            let (ct, ext) = if xlsx {
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                )
            } else {
                ("text/html; charset=utf-8", "html")
            };
            let name = format!("quote-{}.{ext}", s.project.id());
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, ct.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => error_page(
            &s.ctx,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Quote not made (500)",
            &e,
        ),
    }
}

/// `GET /projects/{id}/quote.html`.
pub async fn quote_html(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    quote(st, headers, uri, id, false).await
}

/// `GET /projects/{id}/quote.xlsx`.
pub async fn quote_xlsx(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    quote(st, headers, uri, id, true).await
}

/// `GET` on a POST-only project route: back to the project's page.
pub async fn to_project(
    State(st): State<AppState>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match (st.portal(), id) {
        (Some(_), Ok(Path(id))) => see_other(&project_path(&id)),
        _ => crate::fallback(uri).await,
    }
}
