//! Sessions on the web: the cookie that carries a session's token, and the two entry points
//! every way of signing in uses — [`open_for`] (after the password was checked, or after an
//! OpenID Connect callback identified the account) and [`signed_in_redirect`].
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Lax` (a link from an e-mail to
//! a project page arrives signed in; every state change is a POST with a CSRF token and an
//! Origin check, which Lax does not weaken), `Path=/`; over HTTPS it is `Secure` and named
//! `__Host-aim_session`, so no other host or path can set or shadow it. Its `Max-Age` is the
//! session's absolute lifetime; the store decides whether it is still alive (idle timeout,
//! disabled account), so several server processes agree.

use crate::portal::{Portal, PortalError, now_secs};
use crate::{AppState, guard};
use aim_access::{Account, OpenedSession, SessionRecord, SignInMethod};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The cookie's name over HTTP.
pub const COOKIE: &str = "aim_session";
/// The cookie's name over HTTPS (the `__Host-` prefix: `Secure`, `Path=/`, no `Domain`).
pub const COOKIE_HTTPS: &str = "__Host-aim_session";

/// The cookie's name for a site reached over HTTPS or not.
pub fn cookie_name(https: bool) -> &'static str {
    if https { COOKIE_HTTPS } else { COOKIE }
}

/// The `Set-Cookie` value that gives the browser a session token.
pub fn set_cookie(token: &str, https: bool, max_age_secs: i64) -> HeaderValue {
    let v = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        cookie_name(https),
        if https { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).expect("a token is hex")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(https: bool) -> HeaderValue {
    let v = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        cookie_name(https),
        if https { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&v).expect("ASCII")
}

/// The session token the request carries, if it looks like one (64 hex characters).
pub fn token_from(headers: &HeaderMap, https: bool) -> Option<String> {
    let name = cookie_name(https);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The signed-in account of a request, with its session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The session, as the store has it (the account is enabled).
    pub session: SessionRecord,
    /// The token of the request's cookie.
    pub token: String,
}

impl SignedIn {
    /// The account.
    pub fn account(&self) -> &Account {
        &self.session.account
    }
}

/// The request's live session, if any (its idle deadline pushed back).
pub async fn current(
    portal: &Portal,
    headers: &HeaderMap,
    https: bool,
) -> Result<Option<SignedIn>, PortalError> {
    let Some(token) = token_from(headers, https) else {
        return Ok(None);
    };
    let limits = portal.config.limits;
    let t = token.clone();
    let found = portal
        .with_store(move |s| s.session(&t, limits, now_secs()))
        .await??;
    Ok(found.map(|session| SignedIn { session, token }))
}

/// A session just opened and the cookie that carries it.
#[derive(Debug)]
pub struct Opened {
    /// The session (its token is in the cookie only).
    pub session: OpenedSession,
    /// The `Set-Cookie` header value.
    pub cookie: HeaderValue,
}

/// Opens a session for `account`, which the caller has identified: by its password
/// (`/login`) or by an OpenID Connect provider (the `/login/oidc` callback, once the
/// identity is linked to the account: `Store::account_by_oidc`). Refused for a disabled
/// account. Answer with [`signed_in_redirect`].
pub async fn open_for(
    state: &AppState,
    account: Account,
    method: SignInMethod,
) -> Result<Opened, PortalError> {
    let portal = state.portal().ok_or_else(|| {
        PortalError::Unavailable("this server has no accounts store (aim serve --store)".into())
    })?;
    let limits = portal.config.limits;
    let session = portal
        .with_store(move |s| s.open_session(&account, method, limits, now_secs()))
        .await??;
    let cookie = set_cookie(
        &session.token,
        state.public_url().is_https(),
        limits.absolute_secs,
    );
    Ok(Opened { session, cookie })
}

/// The answer after signing in: 303 to `next` (a local path only, else `/projects`) with the
/// session cookie.
pub fn signed_in_redirect(opened: &Opened, next: &str) -> Response {
    let to = guard::local_next(next).unwrap_or_else(|| "/projects".to_string());
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, opened.cookie.clone()),
            (
                header::LOCATION,
                HeaderValue::from_str(&to).expect("checked"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_lax_and_host_prefixed_over_https() {
        let t = "a".repeat(64);
        let c = set_cookie(&t, true, 60);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("__Host-aim_session="));
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!c.contains("Domain"));
        let c = set_cookie(&t, false, 60);
        assert!(!c.to_str().unwrap().contains("Secure"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("x=1; aim_session={t}").parse().unwrap(),
        );
        assert_eq!(token_from(&h, false), Some(t.clone()));
        assert_eq!(
            token_from(&h, true),
            None,
            "over HTTPS only the __Host- cookie"
        );
        h.insert(header::COOKIE, "aim_session=short".parse().unwrap());
        assert_eq!(token_from(&h, false), None);
    }
}
