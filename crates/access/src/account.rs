//! Accounts: who someone is to the platform.

use crate::{Role, StoreError};
use std::collections::BTreeSet;
use std::fmt;

/// The store's identifier of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub i64);

/// An account: a person (or a service) with roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its identifier in the store.
    pub id: AccountId,
    /// E-mail address, lower case: the login, unique.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Their organisation (the agency, an insurer, the institute, a university, …).
    pub organisation: String,
    /// Their roles.
    pub roles: BTreeSet<Role>,
    /// A disabled account may do nothing but what the public may.
    pub enabled: bool,
    /// The OpenID Connect identity linked to it: (issuer, subject).
    pub oidc: Option<(String, String)>,
}

impl Account {
    /// Holds `role`?
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.email, self.name)
    }
}

/// What it takes to create an account.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// E-mail address (the login; stored lower case).
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Their organisation.
    pub organisation: String,
    /// At least one role.
    pub roles: BTreeSet<Role>,
}

impl NewAccount {
    /// The e-mail normalised, after checking the fields.
    pub(crate) fn validated_email(&self) -> Result<String, StoreError> {
        let email = normalise_email(&self.email)?;
        if self.name.trim().is_empty() {
            return Err(StoreError::Invalid("an account needs a name".into()));
        }
        if self.roles.is_empty() {
            return Err(StoreError::Invalid(
                "an account needs at least one role".into(),
            ));
        }
        Ok(email)
    }
}

/// Lower case, trimmed, and shaped like an address (something@domain, no spaces).
pub fn normalise_email(email: &str) -> Result<String, StoreError> {
    let e = email.trim().to_lowercase();
    let ok = matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
        && !e.chars().any(char::is_whitespace)
        && e.matches('@').count() == 1;
    if ok {
        Ok(e)
    } else {
        Err(StoreError::Invalid(format!(
            "'{email}' is not an e-mail address"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email(" A.Peeters@Example.BE ").unwrap(),
            "a.peeters@example.be"
        );
        for bad in ["", "a", "a@b", "@b.be", "a b@c.be", "a@@b.be", "a@.be"] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
