//! Who may reach which route: each route declares what it needs ([`Need`], in [`ROUTES`]),
//! and [`check`] decides — no session: 303 to `/login?next=…`; a missing role: 403 with the
//! wording of `aim_access::AccessError`. State-changing requests are POSTs whose Origin (or
//! Referer) is this site and whose CSRF token is the session's ([`check_post`]).

use crate::project_pages::{PageCtx, error_page};
use crate::sessions::SignedIn;
use aim_access::{AccessError, Account, Capability, ProjectRole, require, require_for_project};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anybody (the Atlas: `Capability::ReadAtlas`; the login form).
    Public,
    /// Any signed-in account (the list shows what it may see).
    SignedIn,
    /// A signed-in account whose roles allow the capability.
    Role(Capability),
    /// A signed-in account allowed the capability on the route's project, by role or as a
    /// member (`aim_access::require_for_project`).
    Project(Capability),
    /// Like `Project`, with the capability of the posted action
    /// (`aim_access::capability_for_transition`).
    Transition,
}

/// The routes of the signed-in part: pattern, methods, need. (The Atlas's routes are all
/// GET and `Need::Public`.)
pub const ROUTES: &[(&str, &str, Need)] = &[
    ("/login", "GET POST", Need::Public),
    ("/logout", "POST", Need::Public),
    ("/projects", "GET", Need::SignedIn),
    (
        "/projects/new",
        "GET POST",
        Need::Role(Capability::FileProject),
    ),
    (
        "/projects/{id}",
        "GET",
        Need::Project(Capability::ReadProject),
    ),
    ("/projects/{id}/move", "POST", Need::Transition),
    (
        "/projects/{id}/documents",
        "POST",
        Need::Project(Capability::ActForProject),
    ),
    (
        "/projects/{id}/quote.html",
        "GET",
        Need::Project(Capability::ReadProject),
    ),
    (
        "/projects/{id}/quote.xlsx",
        "GET",
        Need::Project(Capability::ReadProject),
    ),
];

/// The need of a portal route pattern (`None` for the Atlas's routes: public).
pub fn need_of(pattern: &str) -> Option<Need> {
    ROUTES.iter().find(|(p, _, _)| *p == pattern).map(|r| r.2)
}

/// `next` when it is a path on this site (`/…`, not `//…` nor `/\…`, no scheme, no control
/// characters): where to go after signing in. Anything else is dropped.
pub fn local_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.len() <= 512;
    ok.then(|| next.to_string())
}

/// Why a request is not served.
#[derive(Debug)]
pub enum Refusal {
    /// Nobody is signed in: go to the login page, then back to `next`.
    SignIn {
        /// The local path asked for.
        next: String,
    },
    /// The account may not (403); the message is `AccessError`'s.
    Forbidden(AccessError),
    /// A POST from another site, or without the session's CSRF token (403).
    Forgery(&'static str),
}

impl Refusal {
    /// The answer: 303 to the login page, or a 403 page saying why.
    pub fn respond(&self, ctx: &PageCtx) -> Response {
        match self {
            Refusal::SignIn { next } => {
                let to = format!("/login?next={}", crate::html::enc(next));
                (
                    StatusCode::SEE_OTHER,
                    [(
                        header::LOCATION,
                        HeaderValue::from_str(&to).expect("encoded"),
                    )],
                )
                    .into_response()
            }
            Refusal::Forbidden(e) => error_page(
                ctx,
                StatusCode::FORBIDDEN,
                "Not allowed (403)",
                &e.to_string(),
            ),
            Refusal::Forgery(why) => {
                error_page(ctx, StatusCode::FORBIDDEN, "Form refused (403)", why)
            }
        }
    }

    /// The text written to the audit log.
    pub fn reason(&self) -> String {
        match self {
            Refusal::SignIn { .. } => "not signed in".into(),
            Refusal::Forbidden(e) => e.to_string(),
            Refusal::Forgery(why) => (*why).to_string(),
        }
    }
}

/// The one decision: may `who` (signed in or not) reach a route needing `need`, where
/// `capability` resolves `Need::Transition` and `project` is the route's project with the
/// account's role in it? `next` is the path to come back to after signing in.
pub fn check(
    who: Option<&Account>,
    need: Need,
    capability: Option<Capability>,
    project: Option<(&str, Option<ProjectRole>)>,
    next: &str,
) -> Result<(), Refusal> {
    if need == Need::Public {
        return Ok(());
    }
    let Some(account) = who else {
        return Err(Refusal::SignIn {
            next: next.to_string(),
        });
    };
    let result = match need {
        Need::Public | Need::SignedIn => Ok(()),
        Need::Role(c) => require(account, c),
        Need::Project(c) => {
            let (id, membership) = project.unwrap_or(("", None));
            require_for_project(account, c, id, membership)
        }
        Need::Transition => {
            let c = capability.unwrap_or(Capability::ReviewProject);
            let (id, membership) = project.unwrap_or(("", None));
            require_for_project(account, c, id, membership)
        }
    };
    result.map_err(Refusal::Forbidden)
}

/// Whether a POST comes from this site: its `Origin` is `origin` (the public URL), or, when a
/// browser sends no `Origin`, its `Referer` is a page of it. Neither: refused.
pub fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    if let Some(o) = headers.get(header::ORIGIN) {
        return o.to_str().is_ok_and(|o| o == origin);
    }
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .is_some_and(|r| r == origin || r.starts_with(&format!("{origin}/")))
}

/// The checks of a state-changing request: from this site, and carrying the session's CSRF
/// token in the form field `csrf`.
pub fn check_post(
    headers: &HeaderMap,
    origin: &str,
    signed_in: Option<&SignedIn>,
    csrf: &str,
) -> Result<(), Refusal> {
    if !same_origin(headers, origin) {
        return Err(Refusal::Forgery(
            "this form was sent from another site (its Origin is not this site's): nothing was done",
        ));
    }
    if let Some(s) = signed_in
        && !aim_access::session::constant_time_eq(csrf, &s.session.csrf_token)
    {
        return Err(Refusal::Forgery(
            "this form is out of date or was not made by this site (its CSRF token is not your session's): reload the page and try again; nothing was done",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            local_next("/projects/P-2026-001").as_deref(),
            Some("/projects/P-2026-001")
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\r\nSet-Cookie: x",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        assert!(!same_origin(&h, "http://a.test"));
        h.insert(header::REFERER, "http://a.test/login".parse().unwrap());
        assert!(same_origin(&h, "http://a.test"));
        h.insert(header::REFERER, "http://a.test.evil/x".parse().unwrap());
        assert!(!same_origin(&h, "http://a.test"));
        h.insert(header::ORIGIN, "http://a.test".parse().unwrap());
        assert!(same_origin(&h, "http://a.test"));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h, "http://a.test"));
    }

    proptest! {
        /// Whatever follows the login, it stays on this site.
        #[test]
        fn next_never_leaves_the_site(s in ".{0,40}") {
            if let Some(n) = local_next(&s) {
                prop_assert!(n.starts_with('/') && !n.starts_with("//"));
                let u = url::Url::parse("http://a.test").unwrap().join(&n).unwrap();
                prop_assert_eq!(u.host_str(), Some("a.test"));
            }
        }
    }
}
