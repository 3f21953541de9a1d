//! Accounts, roles, passwords, keys and OpenID Connect identities in the store.

use super::Store;
use super::conn::{Row, Value};
use crate::account::normalise_email;
use crate::key::{self, ApiKey};
use crate::{AccessError, Account, AccountId, NewAccount, Role, StoreError, password};
use std::collections::BTreeSet;
use std::path::Path;

const COLUMNS: &str = "id, email, name, organisation, enabled, oidc_issuer, oidc_subject";

impl Store {
    /// How many accounts exist (enabled or not).
    pub fn count_accounts(&mut self) -> Result<i64, StoreError> {
        let name = self.name.clone();
        self.rows("counting accounts", "SELECT COUNT(*) FROM accounts", &[])?[0].int(0, &name)
    }

    /// Creates an account.
    pub fn create_account(&mut self, new: &NewAccount) -> Result<Account, StoreError> {
        let email = new.validated_email()?;
        self.transaction("creating an account", None, |s| {
            s.insert_account(new, &email)
        })
    }

    /// Creates the first administrator: only in a store with no account at all.
    pub fn init_administrator(
        &mut self,
        email: &str,
        name: &str,
        organisation: &str,
    ) -> Result<Account, AccessError> {
        let new = NewAccount {
            email: email.into(),
            name: name.into(),
            organisation: organisation.into(),
            roles: [Role::Administrator].into(),
        };
        let email = new.validated_email()?;
        self.transaction("creating the first administrator", Some("accounts"), |s| {
            let n = s.count_accounts()?;
            if n > 0 {
                return Err(AccessError::AlreadyInitialised(n));
            }
            Ok(s.insert_account(&new, &email)?)
        })
    }

    fn insert_account(&mut self, new: &NewAccount, email: &str) -> Result<Account, StoreError> {
        let context = "creating an account";
        if !self
            .rows(
                context,
                "SELECT id FROM accounts WHERE email = ?",
                &[email.into()],
            )?
            .is_empty()
        {
            return Err(StoreError::Duplicate(email.to_string()));
        }
        let name = self.name.clone();
        let id = self.rows(
            context,
            "INSERT INTO accounts (email, name, organisation, enabled, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            &[
                email.into(),
                new.name.trim().into(),
                new.organisation.trim().into(),
                true.into(),
                super::now().into(),
            ],
        )?[0]
            .int(0, &name)?;
        for r in &new.roles {
            self.exec(
                context,
                "INSERT INTO account_roles (account_id, role) VALUES (?, ?)",
                &[id.into(), r.as_str().into()],
            )?;
        }
        self.account_by_id(AccountId(id))
    }

    fn with_roles(&mut self, row: &Row) -> Result<Account, StoreError> {
        let name = self.name.clone();
        let id = row.int(0, &name)?;
        let mut roles = BTreeSet::new();
        for r in self.rows(
            "reading roles",
            "SELECT role FROM account_roles WHERE account_id = ? ORDER BY role",
            &[id.into()],
        )? {
            let text = r.text(0, &name)?;
            roles.insert(text.parse::<Role>().map_err(|e| StoreError::Corrupt {
                store: name.clone(),
                what: e.to_string(),
            })?);
        }
        let oidc = match (row.opt_text(5, &name)?, row.opt_text(6, &name)?) {
            (Some(i), Some(s)) => Some((i, s)),
            _ => None,
        };
        Ok(Account {
            id: AccountId(id),
            email: row.text(1, &name)?,
            name: row.text(2, &name)?,
            organisation: row.text(3, &name)?,
            roles,
            enabled: row.bool(4, &name)?,
            oidc,
        })
    }

    fn one_account(
        &mut self,
        sql_where: &str,
        params: &[Value],
    ) -> Result<Option<Account>, StoreError> {
        let rows = self.rows(
            "reading an account",
            &format!("SELECT {COLUMNS} FROM accounts WHERE {sql_where}"),
            params,
        )?;
        match rows.first() {
            Some(r) => self.with_roles(r).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn account_by_id(&mut self, id: AccountId) -> Result<Account, StoreError> {
        self.one_account("id = ?", &[id.0.into()])?
            .ok_or_else(|| StoreError::NoAccount(format!("#{}", id.0)))
    }

    /// The account with this e-mail.
    pub fn account(&mut self, email: &str) -> Result<Account, StoreError> {
        let e = normalise_email(email)?;
        self.one_account("email = ?", &[e.into()])?
            .ok_or_else(|| StoreError::NoAccount(email.to_string()))
    }

    /// Every account, by e-mail.
    pub fn accounts(&mut self) -> Result<Vec<Account>, StoreError> {
        let rows = self.rows(
            "listing accounts",
            &format!("SELECT {COLUMNS} FROM accounts ORDER BY email"),
            &[],
        )?;
        rows.iter().map(|r| self.with_roles(r)).collect()
    }

    /// Enables or disables an account; a disabled account's keys stop working with it, and
    /// its web sessions end.
    pub fn set_enabled(&mut self, email: &str, enabled: bool) -> Result<Account, StoreError> {
        let a = self.account(email)?;
        self.exec(
            "enabling or disabling an account",
            "UPDATE accounts SET enabled = ? WHERE id = ?",
            &[enabled.into(), a.id.0.into()],
        )?;
        if !enabled {
            self.close_sessions_of(a.id)?;
        }
        self.account_by_id(a.id)
    }

    /// Sets a local password (hashed with Argon2id).
    pub fn set_password(&mut self, email: &str, new_password: &str) -> Result<(), AccessError> {
        let a = self.account(email)?;
        let phc = password::hash(new_password)?;
        self.exec(
            "setting a password",
            "UPDATE accounts SET password_hash = ? WHERE id = ?",
            &[phc.into(), a.id.0.into()],
        )?;
        Ok(())
    }

    /// The account whose e-mail and local password these are. Says neither which was wrong
    /// nor whether the account exists; a disabled account is refused.
    pub fn verify_password(&mut self, email: &str, given: &str) -> Result<Account, AccessError> {
        let found = match normalise_email(email) {
            Ok(e) => {
                let name = self.name.clone();
                let rows = self.rows(
                    "reading a password",
                    "SELECT id, password_hash FROM accounts WHERE email = ?",
                    &[e.into()],
                )?;
                match rows.first() {
                    Some(r) => Some((AccountId(r.int(0, &name)?), r.opt_text(1, &name)?)),
                    None => None,
                }
            }
            Err(_) => None,
        };
        match found {
            Some((id, Some(phc))) if password::verify(given, &phc) => {
                let a = self.account_by_id(id)?;
                if a.enabled {
                    Ok(a)
                } else {
                    Err(AccessError::Disabled {
                        account: a.to_string(),
                    })
                }
            }
            _ => Err(AccessError::WrongPassword),
        }
    }

    /// Changes a password, given the current one.
    pub fn change_password(
        &mut self,
        email: &str,
        current: &str,
        new_password: &str,
    ) -> Result<(), AccessError> {
        let a = self.verify_password(email, current)?;
        self.set_password(&a.email, new_password)
    }

    /// Issues a new API key for the account, replacing (revoking) its earlier keys. The key
    /// is returned once; the store keeps its digest.
    pub fn issue_key(&mut self, email: &str) -> Result<ApiKey, StoreError> {
        let a = self.account(email)?;
        let key = ApiKey::generate();
        let now = super::now();
        self.transaction("issuing a key", None, |s| {
            s.exec(
                "revoking earlier keys",
                "UPDATE api_keys SET revoked_at = ? WHERE account_id = ? AND revoked_at IS NULL",
                &[now.clone().into(), a.id.0.into()],
            )?;
            s.exec(
                "issuing a key",
                "INSERT INTO api_keys (key_digest, account_id, created_at) VALUES (?, ?, ?)",
                &[key.digest().into(), a.id.0.into(), now.clone().into()],
            )?;
            Ok::<_, StoreError>(())
        })?;
        Ok(key)
    }

    /// The account of a key still in force (`None` for an unknown or revoked key).
    pub fn account_by_key(&mut self, key: &str) -> Result<Option<Account>, StoreError> {
        self.one_account(
            "id = (SELECT account_id FROM api_keys WHERE key_digest = ? AND revoked_at IS NULL)",
            &[key::digest(key).into()],
        )
    }

    /// The account whose key is in `path` (read with [`key::read_key_file`]).
    pub fn account_by_key_file(&mut self, path: &Path) -> Result<Account, AccessError> {
        let k = key::read_key_file(path)?;
        self.account_by_key(&k)?
            .ok_or_else(|| AccessError::UnknownKey {
                path: path.to_path_buf(),
            })
    }

    /// Links an OpenID Connect identity (the provider's issuer URL and its subject) to an
    /// account, so that a login by that provider is this account.
    pub fn link_oidc(
        &mut self,
        email: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Account, StoreError> {
        check_oidc_identity(issuer, subject)?;
        let a = self.account(email)?;
        if let Some(other) = self.account_by_oidc(issuer, subject)?
            && other.id != a.id
        {
            return Err(StoreError::OidcTaken {
                issuer: issuer.into(),
                subject: subject.into(),
            });
        }
        self.exec(
            "linking an OpenID Connect identity",
            "UPDATE accounts SET oidc_issuer = ?, oidc_subject = ? WHERE id = ?",
            &[issuer.into(), subject.into(), a.id.0.into()],
        )?;
        self.account_by_id(a.id)
    }

    /// The account an OpenID Connect identity maps to, if any.
    pub fn account_by_oidc(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.one_account(
            "oidc_issuer = ? AND oidc_subject = ?",
            &[issuer.into(), subject.into()],
        )
    }

    /// The account a verified OpenID Connect login is: only the account linked to that
    /// (issuer, subject) by an administrator (`aim account link-oidc`), never one found by
    /// e-mail and never a new one; a disabled account is refused.
    pub fn account_for_oidc_login(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> Result<Account, AccessError> {
        match self.account_by_oidc(issuer, subject)? {
            None => Err(AccessError::OidcNotLinked {
                issuer: issuer.into(),
                subject: subject.into(),
            }),
            Some(a) if !a.enabled => Err(AccessError::Disabled {
                account: a.to_string(),
            }),
            Some(a) => Ok(a),
        }
    }
}

/// An identity that can be linked: an issuer and a subject of at most 255 characters
/// (OpenID Connect Core §2), neither empty nor holding spaces or control characters.
fn check_oidc_identity(issuer: &str, subject: &str) -> Result<(), StoreError> {
    let bad = |s: &str| s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_control());
    if bad(issuer) || issuer.contains(char::is_whitespace) {
        return Err(StoreError::Invalid(format!(
            "{issuer:?} is not an OpenID Connect issuer"
        )));
    }
    if bad(subject) {
        return Err(StoreError::Invalid(format!(
            "{subject:?} is not an OpenID Connect subject (1 to 255 characters, no control character)"
        )));
    }
    Ok(())
}
