//! A login between its start and the provider's callback: the random `state`, `nonce` and
//! PKCE verifier, the local page to return to, and when it started. The web layer keeps it on
//! the server ([`PendingLogins`], which hands each one out once) or in an encrypted, signed
//! cookie (it is `serde`); it is never shown in a URL except its `state`.

use crate::OidcError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A login started and not yet finished. Its `Debug` shows neither the nonce nor the PKCE
/// verifier.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    pub(crate) next: String,
    /// Seconds since the Unix epoch.
    pub(crate) created_at: u64,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state", &self.state)
            .field("next", &self.next)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes from the operating system, base64url without padding (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl PendingLogin {
    /// A new login that will return to the local path `next` (checked by [`local_path`]).
    pub fn new(next: &str, now: SystemTime) -> Result<Self, OidcError> {
        Ok(PendingLogin {
            state: random_token(),
            nonce: random_token(),
            pkce_verifier: random_token(),
            next: local_path(next)?.to_string(),
            created_at: unix_seconds(now),
        })
    }

    /// The `state` sent to the provider and echoed in the callback: the key to keep the
    /// pending login under.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The local path to go to once logged in.
    pub fn next(&self) -> &str {
        &self.next
    }

    /// When the login started.
    pub fn created_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.created_at)
    }

    /// The PKCE S256 challenge of the verifier (RFC 7636).
    pub(crate) fn pkce_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.pkce_verifier.as_bytes()))
    }

    /// Refuses a login older than `max_age` (a clock set back counts as age zero).
    pub fn check_age(&self, now: SystemTime, max_age: Duration) -> Result<(), OidcError> {
        let age = unix_seconds(now).saturating_sub(self.created_at);
        if age > max_age.as_secs() {
            return Err(OidcError::LoginExpired {
                age_seconds: age,
                max_seconds: max_age.as_secs(),
            });
        }
        Ok(())
    }
}

/// Checks that `next` is a path on this site (so that a login can never send the person to
/// another site): it starts with one `/`, has no backslash, no control character and no
/// space, and is at most 2,000 characters.
pub fn local_path(next: &str) -> Result<&str, OidcError> {
    let bad = || OidcError::NotLocalPath(next.chars().take(100).collect());
    let rest = next.strip_prefix('/').ok_or_else(bad)?;
    if rest.starts_with('/')
        || next.contains('\\')
        || next.len() > 2000
        || next.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad());
    }
    Ok(next)
}

/// Equality in time independent of where the strings differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Pending logins kept on the server, keyed by `state`: each is handed out once
/// ([`PendingLogins::take`] removes it), expired ones are refused and dropped, and at most
/// `capacity` are kept (the oldest go first), so that starting logins in a loop cannot fill
/// the memory.
#[derive(Debug)]
pub struct PendingLogins {
    max_age: Duration,
    capacity: usize,
    logins: Mutex<HashMap<String, PendingLogin>>,
}

impl PendingLogins {
    /// A store keeping logins for at most `max_age`, and at most `capacity` of them.
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        PendingLogins {
            max_age,
            capacity: capacity.max(1),
            logins: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps a pending login until its callback.
    pub fn insert(&self, login: PendingLogin, now: SystemTime) {
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        logins.retain(|_, l| l.check_age(now, self.max_age).is_ok());
        while logins.len() >= self.capacity {
            let oldest = logins
                .values()
                .min_by_key(|l| l.created_at)
                .map(|l| l.state.clone());
            match oldest {
                Some(s) => logins.remove(&s),
                None => break,
            };
        }
        logins.insert(login.state.clone(), login);
    }

    /// Takes the pending login of a callback's `state`: once only. An unknown or used state
    /// is [`OidcError::UnknownState`]; an expired login is [`OidcError::LoginExpired`] (and
    /// gone).
    pub fn take(&self, state: &str, now: SystemTime) -> Result<PendingLogin, OidcError> {
        let login = self
            .logins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .ok_or(OidcError::UnknownState)?;
        login.check_age(now, self.max_age)?;
        Ok(login)
    }

    /// How many logins are pending.
    pub fn len(&self) -> usize {
        self.logins.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no login is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_random_and_long_enough() {
        let now = SystemTime::now();
        let a = PendingLogin::new("/", now).unwrap();
        let b = PendingLogin::new("/", now).unwrap();
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.pkce_verifier, b.pkce_verifier);
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.nonce) && !shown.contains(&a.pkce_verifier));
        // RFC 7636: a verifier of 43 to 128 unreserved characters.
        assert_eq!(a.pkce_verifier.len(), 43);
        assert!(
            a.pkce_verifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
    }

    #[test]
    fn pkce_challenge_is_rfc7636_s256() {
        // RFC 7636, appendix B.
        let p = PendingLogin {
            state: String::new(),
            nonce: String::new(),
            pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            next: "/".into(),
            created_at: 0,
        };
        assert_eq!(
            p.pkce_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn next_must_be_local() {
        for ok in ["/", "/atlas?indicator=diabetes", "/projects/P-2026-001#top"] {
            assert_eq!(local_path(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "atlas",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/a\nb",
            "/\tx",
        ] {
            assert!(local_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_pending_login_is_taken_once_and_expires() {
        let t0 = SystemTime::now();
        let store = PendingLogins::new(Duration::from_secs(600), 100);
        let p = PendingLogin::new("/atlas", t0).unwrap();
        let state = p.state().to_string();
        store.insert(p.clone(), t0);
        assert_eq!(store.take(&state, t0).unwrap(), p);
        assert!(matches!(
            store.take(&state, t0),
            Err(OidcError::UnknownState)
        ));

        store.insert(p.clone(), t0);
        let late = t0 + Duration::from_secs(601);
        assert!(matches!(
            store.take(&state, late),
            Err(OidcError::LoginExpired { .. })
        ));
        assert!(store.is_empty());
    }

    #[test]
    fn the_store_is_bounded() {
        let t0 = SystemTime::now();
        let store = PendingLogins::new(Duration::from_secs(600), 3);
        let first = PendingLogin::new("/", t0).unwrap();
        store.insert(first.clone(), t0);
        for i in 1..5 {
            store.insert(
                PendingLogin::new("/", t0 + Duration::from_secs(i)).unwrap(),
                t0 + Duration::from_secs(i),
            );
        }
        assert_eq!(store.len(), 3);
        assert!(store.take(first.state(), t0).is_err());
    }

    proptest! {
        /// Whatever is accepted as `next`, joined to the site's URL, stays on the site.
        #[test]
        fn accepted_next_stays_on_the_site(next in "[/\\\\a-z.:@%?#&= \t-]{0,30}") {
            if let Ok(p) = local_path(&next) {
                let base = url::Url::parse("https://aim.example.be/atlas/").unwrap();
                let joined = base.join(p).unwrap();
                prop_assert_eq!(joined.host_str(), Some("aim.example.be"));
                prop_assert_eq!(joined.scheme(), "https");
            }
        }

        /// A pending login survives exactly `max_age` seconds.
        #[test]
        fn age_limit_is_exact(age in 0u64..2000, max in 1u64..1000) {
            let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
            let p = PendingLogin::new("/", t0).unwrap();
            let r = p.check_age(t0 + Duration::from_secs(age), Duration::from_secs(max));
            prop_assert_eq!(r.is_ok(), age <= max);
        }

        #[test]
        fn same_is_equality(a in "[a-c]{0,4}", b in "[a-c]{0,4}") {
            prop_assert_eq!(same(&a, &b), a == b);
        }
    }
}
