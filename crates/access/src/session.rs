//! Web sessions: a random 256-bit token in the browser's cookie, only its SHA-256 digest in
//! the store ([`crate::Store::open_session`]), with a CSRF token bound to it and two
//! deadlines (idle, pushed back on use; absolute, never moved). A session of a disabled
//! account is never returned, and disabling an account ends its sessions.

use crate::Account;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// 32 random bytes from the operating system, in hex (64 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source");
    hex::encode(bytes)
}

/// The SHA-256 digest (hex) of a session token: what the store keeps.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How an account signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    /// E-mail and local password (Argon2id).
    Password,
    /// An OpenID Connect provider.
    Oidc,
}

impl SignInMethod {
    /// `password` or `oidc`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::Password => "password",
            SignInMethod::Oidc => "oidc",
        }
    }
}

/// How long sessions last, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session unused this long ends.
    pub idle_secs: i64,
    /// A session ends this long after it was opened, used or not.
    pub absolute_secs: i64,
}

impl Default for SessionLimits {
    /// 30 minutes idle, 12 hours in all (a working day).
    fn default() -> SessionLimits {
        SessionLimits {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
        }
    }
}

/// A session just opened: its token, to put in the cookie and never store.
pub struct OpenedSession {
    /// The token in clear (64 hex characters).
    pub token: String,
    /// The CSRF token of its forms.
    pub csrf_token: String,
    /// The account.
    pub account: Account,
    /// When it ends at the latest (Unix seconds).
    pub absolute_expires_at: i64,
}

impl fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenedSession({}, token hidden)", self.account.email)
    }
}

/// A live session, as read back from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Whose session (enabled: a disabled account's sessions are not returned).
    pub account: Account,
    /// The CSRF token its forms carry.
    pub csrf_token: String,
    /// `password` or `oidc`.
    pub method: String,
    /// When it was opened (Unix seconds).
    pub created_at: i64,
    /// When it ends if unused (Unix seconds; already pushed back by this read).
    pub idle_expires_at: i64,
    /// When it ends at the latest (Unix seconds).
    pub absolute_expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_random_and_only_digests_are_kept() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), a);
    }

    proptest! {
        #[test]
        fn constant_time_eq_is_equality(a in "[a-f0-9]{0,8}", b in "[a-f0-9]{0,8}") {
            prop_assert_eq!(constant_time_eq(&a, &b), a == b);
        }
    }
}
