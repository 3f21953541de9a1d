//! Web sessions and failed logins in the store (migration 0004).

use super::Store;
use crate::session::{
    OpenedSession, SessionLimits, SessionRecord, SignInMethod, digest, random_token,
};
use crate::{Account, AccountId, StoreError};

impl Store {
    /// Opens a session for an enabled account: a fresh random token (returned, never
    /// stored: the store keeps its SHA-256 digest) and CSRF token, ending after
    /// `limits.idle_secs` unused or `limits.absolute_secs` in all. Expired sessions of
    /// every account are removed on the way.
    pub fn open_session(
        &mut self,
        account: &Account,
        method: SignInMethod,
        limits: SessionLimits,
        now: i64,
    ) -> Result<OpenedSession, StoreError> {
        if !account.enabled {
            return Err(StoreError::Invalid(format!(
                "the account {} is disabled: it cannot sign in",
                account.email
            )));
        }
        self.purge_sessions(now)?;
        let token = random_token();
        let csrf_token = random_token();
        let absolute = now + limits.absolute_secs;
        let idle = (now + limits.idle_secs).min(absolute);
        self.exec(
            "opening a session",
            "INSERT INTO web_sessions (token_digest, account_id, csrf_token, method, created_at, \
             last_seen_at, idle_expires_at, absolute_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                digest(&token).into(),
                account.id.0.into(),
                csrf_token.clone().into(),
                method.as_str().into(),
                now.into(),
                now.into(),
                idle.into(),
                absolute.into(),
            ],
        )?;
        Ok(OpenedSession {
            token,
            csrf_token,
            account: account.clone(),
            absolute_expires_at: absolute,
        })
    }

    /// The live session of `token`, its idle deadline pushed back to `now +
    /// limits.idle_secs` (never past its absolute one). `None` when unknown or expired (an
    /// expired one is removed), or when its account is disabled (all its sessions are
    /// removed).
    pub fn session(
        &mut self,
        token: &str,
        limits: SessionLimits,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let d = digest(token);
        let name = self.name.clone();
        let rows = self.rows(
            "reading a session",
            "SELECT account_id, csrf_token, method, created_at, idle_expires_at, \
             absolute_expires_at FROM web_sessions WHERE token_digest = ?",
            &[d.clone().into()],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let account_id = AccountId(r.int(0, &name)?);
        let (csrf_token, method) = (r.text(1, &name)?, r.text(2, &name)?);
        let (created_at, idle, absolute) = (r.int(3, &name)?, r.int(4, &name)?, r.int(5, &name)?);
        if now >= idle || now >= absolute {
            self.exec(
                "ending an expired session",
                "DELETE FROM web_sessions WHERE token_digest = ?",
                &[d.into()],
            )?;
            return Ok(None);
        }
        let account = self.account_by_id(account_id)?;
        if !account.enabled {
            self.close_sessions_of(account.id)?;
            return Ok(None);
        }
        let idle_expires_at = (now + limits.idle_secs).min(absolute);
        self.exec(
            "using a session",
            "UPDATE web_sessions SET last_seen_at = ?, idle_expires_at = ? WHERE token_digest = ?",
            &[now.into(), idle_expires_at.into(), d.into()],
        )?;
        Ok(Some(SessionRecord {
            account,
            csrf_token,
            method,
            created_at,
            idle_expires_at,
            absolute_expires_at: absolute,
        }))
    }

    /// Ends the session of `token` (signing out); true when there was one.
    pub fn close_session(&mut self, token: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "ending a session",
            "DELETE FROM web_sessions WHERE token_digest = ?",
            &[digest(token).into()],
        )?;
        Ok(n > 0)
    }

    /// Ends every session of an account; how many there were.
    pub fn close_sessions_of(&mut self, account: AccountId) -> Result<u64, StoreError> {
        self.exec(
            "ending an account's sessions",
            "DELETE FROM web_sessions WHERE account_id = ?",
            &[account.0.into()],
        )
    }

    /// How many sessions an account has open (expired ones not yet removed included).
    pub fn session_count(&mut self, account: AccountId) -> Result<i64, StoreError> {
        let name = self.name.clone();
        self.rows(
            "counting sessions",
            "SELECT COUNT(*) FROM web_sessions WHERE account_id = ?",
            &[account.0.into()],
        )?[0]
            .int(0, &name)
    }

    /// Removes the sessions expired at `now`.
    pub fn purge_sessions(&mut self, now: i64) -> Result<u64, StoreError> {
        self.exec(
            "removing expired sessions",
            "DELETE FROM web_sessions WHERE idle_expires_at <= ? OR absolute_expires_at <= ?",
            &[now.into(), now.into()],
        )
    }

    /// Records a failed login against each subject (`account:<e-mail>`, `address:<ip>`), and
    /// forgets failures older than `window_secs`.
    pub fn record_login_failure(
        &mut self,
        subjects: &[String],
        now: i64,
        window_secs: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "forgetting old failed logins",
            "DELETE FROM login_failures WHERE at <= ?",
            &[(now - window_secs).into()],
        )?;
        for s in subjects {
            self.exec(
                "recording a failed login",
                "INSERT INTO login_failures (subject, at) VALUES (?, ?)",
                &[s.clone().into(), now.into()],
            )?;
        }
        Ok(())
    }

    /// Failed logins of `subject` since `since` (Unix seconds).
    pub fn login_failures(&mut self, subject: &str, since: i64) -> Result<i64, StoreError> {
        let name = self.name.clone();
        self.rows(
            "counting failed logins",
            "SELECT COUNT(*) FROM login_failures WHERE subject = ? AND at > ?",
            &[subject.into(), since.into()],
        )?[0]
            .int(0, &name)
    }
}
