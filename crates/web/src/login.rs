//! `/login` and `/logout`: the e-mail and password checked with Argon2id through the store,
//! failed logins audited, slowed and counted (per account and per address), a session opened
//! with [`sessions::open_for`] (the OpenID Connect callback opens its sessions the same way).

use crate::form::Form;
use crate::guard::{check_post, local_next};
use crate::portal::{Portal, PortalError, now_secs};
use crate::project_pages::{self, PageCtx, error_page};
use crate::sessions::{self, SignedIn};
use crate::{AppState, PeerAddr};
use aim_access::{AccessError, AuditEvent, Outcome, SignInMethod};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// A 500 page for a store failure.
pub fn unavailable(ctx: &PageCtx, e: &PortalError) -> Response {
    error_page(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The accounts store failed (500)",
        &format!("{e}. Nothing was done; try again, or tell the agency's data managers."),
    )
}

/// The portal and the request's session, or the answer to give instead (404 without a
/// portal, 500 when the store fails).
pub async fn begin(
    st: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(std::sync::Arc<Portal>, Option<SignedIn>), Response> {
    let Some(portal) = st.portal_arc() else {
        return Err(crate::fallback(uri.clone()).await);
    };
    match sessions::current(&portal, headers, st.public_url().is_https()).await {
        Ok(s) => Ok((portal, s)),
        Err(e) => Err(unavailable(&PageCtx::default(), &e)),
    }
}

fn next_param(uri: &Uri) -> String {
    crate::html::parse_query(uri.query().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "next")
        .and_then(|(_, v)| local_next(&v))
        .unwrap_or_else(|| "/projects".into())
}

/// `GET /login`: the form.
pub async fn form(State(st): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (_, signed_in) = match begin(&st, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = PageCtx::of(signed_in.as_ref());
    project_pages::respond(
        StatusCode::OK,
        project_pages::login(&ctx, &next_param(&uri), "", None),
    )
}

/// `POST /login`: checks the password, opens a session, 303 to `next`.
pub async fn submit(
    State(st): State<AppState>,
    peer: Option<Extension<PeerAddr>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let (portal, signed_in) = match begin(&st, &headers, &uri).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ctx = PageCtx::of(signed_in.as_ref());
    let Some(form) = Form::parse(&body) else {
        return error_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            "Unreadable form (400)",
            "the form could not be decoded",
        );
    };
    // Login forms come from this site only (no session yet, so no CSRF token: the Origin
    // check and the SameSite cookie stop a login forged by another site).
    if let Err(r) = check_post(&headers, st.public_url().as_str(), None, "") {
        return r.respond(&ctx);
    }
    let email = form.get("email").to_lowercase();
    let password = form.get("password").to_string();
    let next = local_next(form.get("next")).unwrap_or_else(|| "/projects".into());
    let address = peer
        .map(|Extension(p)| p.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let config = portal.config.clone();
    let subjects = vec![format!("account:{email}"), format!("address:{address}")];
    let (e2, s2, a2) = (email.clone(), subjects.clone(), address.clone());
    let outcome = portal
        .with_store(
            move |s| -> Result<Result<aim_access::Account, LoginRefusal>, aim_access::StoreError> {
                let now = now_secs();
                let since = now - config.failure_window_secs;
                let by_account = s.login_failures(&s2[0], since)?;
                let by_address = s.login_failures(&s2[1], since)?;
                let known = s.account(&e2).ok().map(|a| a.email);
                let refusal = if by_account >= config.max_failures_per_account
                    || by_address >= config.max_failures_per_address
                {
                    Some(LoginRefusal::TooMany)
                } else {
                    match s.verify_password(&e2, &password) {
                        Ok(a) => return Ok(Ok(a)),
                        Err(AccessError::Disabled { .. }) => Some(LoginRefusal::Disabled),
                        Err(AccessError::Store(e)) => return Err(e),
                        Err(_) => Some(LoginRefusal::Wrong),
                    }
                };
                let refusal = refusal.expect("set above");
                if refusal != LoginRefusal::TooMany {
                    s.record_login_failure(&s2, now, config.failure_window_secs)?;
                }
                s.append_audit(&AuditEvent {
                    account: known,
                    project: None,
                    action: "web login".into(),
                    object: format!("from {a2}"),
                    outcome: Outcome::Refused(refusal.message().into()),
                })?;
                Ok(Err(refusal))
            },
        )
        .await;
    let account = match outcome {
        Ok(Ok(Ok(a))) => a,
        Ok(Ok(Err(refusal))) => {
            tokio::time::sleep(portal.config.failure_delay).await;
            let status = if refusal == LoginRefusal::TooMany {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            return project_pages::respond(
                status,
                project_pages::login(&ctx, &next, &email, Some(refusal.message())),
            );
        }
        Ok(Err(e)) => return unavailable(&ctx, &PortalError::Store(e)),
        Err(e) => return unavailable(&ctx, &e),
    };
    // A new session each time (never reuse the one the browser came with).
    if let Some(old) = &signed_in {
        let t = old.token.clone();
        let _ = portal.with_store(move |s| s.close_session(&t)).await;
    }
    let who = account.email.clone();
    let opened = match sessions::open_for(&st, account, SignInMethod::Password).await {
        Ok(o) => o,
        Err(e) => return unavailable(&ctx, &e),
    };
    let _ = portal
        .with_store(move |s| {
            s.append_audit(&AuditEvent {
                account: Some(who),
                project: None,
                action: "web login".into(),
                object: format!("from {address}"),
                outcome: Outcome::Done,
            })
        })
        .await;
    sessions::signed_in_redirect(&opened, &next)
}

/// Why a login was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginRefusal {
    Wrong,
    Disabled,
    TooMany,
}

impl LoginRefusal {
    fn message(self) -> &'static str {
        match self {
            LoginRefusal::Wrong => "Wrong e-mail or password.",
            LoginRefusal::Disabled => {
                "This account is disabled; an administrator can tell you why."
            }
            LoginRefusal::TooMany => {
                "Too many failed sign-ins for this account or from this address: wait 15 minutes and try again."
            }
        }
    }
}

/// `POST /logout`: ends the session and removes the cookie.
pub async fn logout(
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
    if let Some(s) = &signed_in {
        if let Err(r) = check_post(
            &headers,
            st.public_url().as_str(),
            Some(s),
            form.get("csrf"),
        ) {
            return r.respond(&ctx);
        }
        let (t, who) = (s.token.clone(), s.account().email.clone());
        let done = portal
            .with_store(move |s| {
                s.close_session(&t)?;
                s.append_audit(&AuditEvent {
                    account: Some(who),
                    project: None,
                    action: "web logout".into(),
                    object: String::new(),
                    outcome: Outcome::Done,
                })
            })
            .await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return unavailable(&ctx, &PortalError::Store(e)),
            Err(e) => return unavailable(&ctx, &e),
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                sessions::clear_cookie(st.public_url().is_https()),
            ),
            (header::LOCATION, HeaderValue::from_static("/login")),
        ],
    )
        .into_response()
}

/// `GET /logout`: nothing to do by GET; the sign-out button posts.
pub async fn logout_get(State(st): State<AppState>, uri: Uri) -> Response {
    if st.portal().is_none() {
        return crate::fallback(uri).await;
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response()
}
