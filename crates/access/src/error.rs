//! Errors: a refusal says who, what and which role is missing; a storage error keeps its
//! source and says which store.

use crate::Role;
use std::path::PathBuf;

/// Why an account may not do something, or could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The account lacks every role that allows the action.
    #[error(
        "refused: {what} needs {}; the account {account} has {}",
        needs(needed),
        holds(held)
    )]
    Refused {
        /// The action, as a person says it.
        what: &'static str,
        /// The roles that would allow it.
        needed: Vec<Role>,
        /// Who asked.
        account: String,
        /// The roles the account holds.
        held: Vec<Role>,
    },
    /// The account lacks every role that allows the action on any project, and is not a
    /// member of this one (or not its requester) either.
    #[error(
        "refused: {what} needs {} (or being {member}); the account {account} has {}",
        needs(needed),
        holds(held)
    )]
    RefusedProject {
        /// The action, as a person says it.
        what: &'static str,
        /// The roles that would allow it on any project.
        needed: Vec<Role>,
        /// Who in the project may: `a member of project P-2026-001`, `the requester of …`.
        member: String,
        /// Who asked.
        account: String,
        /// The roles the account holds.
        held: Vec<Role>,
    },
    /// A release for a project the account is not a member of.
    #[error(
        "refused: {what} for project {project} is for its members only; the account {account} is not one (its requester can add you: `aim project member {project} --add {account}`)"
    )]
    NotProjectMember {
        /// The action, as a person says it.
        what: &'static str,
        /// The project named.
        project: String,
        /// Who asked.
        account: String,
    },
    /// A release for a project that is not preparing its delivery.
    #[error(
        "refused: project {project} is in the state '{state}'; results leave for a project only while its delivery is prepared ('production', after its approvals and contract)"
    )]
    ProjectNotInProduction {
        /// The project.
        project: String,
        /// Its current state.
        state: String,
    },
    /// A release the project's type does not cover.
    #[error("refused: project {project} is a '{request_type}' request: {why}")]
    NotForThisProject {
        /// The project.
        project: String,
        /// Its request type.
        request_type: &'static str,
        /// What it covers instead.
        why: &'static str,
    },
    /// The account exists but is disabled.
    #[error("refused: the account {account} is disabled; an administrator can tell you why")]
    Disabled {
        /// Who asked.
        account: String,
    },
    /// No key file was given or found.
    #[error(
        "this command acts as an account and no key file was found (tried {}): give --key-file FILE, set AIM_KEY_FILE, or ask an administrator for a key (`aim account key`)",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoKeyFile {
        /// The places looked at, in order.
        tried: Vec<PathBuf>,
    },
    /// The key file could not be read.
    #[error("cannot read the key file {path}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file can be read by other users.
    #[error(
        "the key file {path} can be read by other users (mode {mode:o}): make it private with `chmod 600 {path}`"
    )]
    KeyFileNotPrivate {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file holds no key of this platform.
    #[error("the key file {path} does not hold an aim key (it starts with `aim_`)")]
    NotAKey {
        /// The file.
        path: PathBuf,
    },
    /// The key was never issued here, or was replaced by a newer one.
    #[error(
        "the key in {path} belongs to no account of this store (never issued here, or replaced by a newer key): ask an administrator for a new one"
    )]
    UnknownKey {
        /// The file.
        path: PathBuf,
    },
    /// An OpenID Connect login whose identity no account is linked to.
    #[error(
        "no account is linked to the identity {subject} of {issuer}: an administrator links it with `aim account link-oidc EMAIL --issuer {issuer} --subject {subject}`"
    )]
    OidcNotLinked {
        /// The provider.
        issuer: String,
        /// The person's subject at that provider.
        subject: String,
    },
    /// Wrong e-mail or password (which one is not said).
    #[error("wrong e-mail or password")]
    WrongPassword,
    /// A new password that is too weak.
    #[error("a password needs at least {min} characters (it had {len})")]
    WeakPassword {
        /// The minimum.
        min: usize,
        /// What was given.
        len: usize,
    },
    /// A password could not be hashed (should not happen with valid parameters).
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    /// `aim account init` on a store that already has accounts.
    #[error(
        "the store already has {0} account(s): the first administrator is created only in an empty store; ask an administrator"
    )]
    AlreadyInitialised(i64),
    /// A storage error.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn or_list(roles: &[Role]) -> String {
    let labels: Vec<&str> = roles.iter().map(|r| r.label()).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn needs(roles: &[Role]) -> String {
    if roles.len() == 1 {
        format!("the role {}", or_list(roles))
    } else {
        format!("one of the roles {}", or_list(roles))
    }
}

fn holds(roles: &[Role]) -> String {
    if roles.is_empty() {
        "no role".into()
    } else {
        let labels: Vec<&str> = roles.iter().map(|r| r.label()).collect();
        format!("the role(s) {}", labels.join(", "))
    }
}

/// A failure of the accounts store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("accounts store {store}: {context}")]
    Sqlite {
        /// Which store.
        store: String,
        /// What was being done.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL said no.
    #[error("accounts store {store}: {context}")]
    Postgres {
        /// Which store (the URL without its password).
        store: String,
        /// What was being done.
        context: String,
        /// The server's or the client's error.
        #[source]
        source: postgres::Error,
    },
    /// The folder of a SQLite store could not be created.
    #[error("cannot create the folder of the accounts store {path}")]
    Folder {
        /// The store file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file could not be created.
    #[error("cannot create the accounts store {path}")]
    Create {
        /// The store file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No store at this path.
    #[error(
        "no accounts store at {0}: an administrator creates it with `aim account init` (docs/access.md)"
    )]
    Missing(PathBuf),
    /// The store was migrated by a newer aim.
    #[error(
        "accounts store {store} is at schema version {found}, newer than this aim knows ({known}): use a newer aim"
    )]
    TooNew {
        /// Which store.
        store: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// No such project.
    #[error("no project '{0}' (`aim project list` shows yours)")]
    NoProject(String),
    /// No such account.
    #[error("no account '{0}'")]
    NoAccount(String),
    /// The e-mail is taken.
    #[error("an account with the e-mail '{0}' exists already")]
    Duplicate(String),
    /// An OpenID Connect identity already linked to another account.
    #[error("the identity {issuer} / {subject} is linked to another account already")]
    OidcTaken {
        /// The provider.
        issuer: String,
        /// Its subject.
        subject: String,
    },
    /// Input an account cannot have.
    #[error("{0}")]
    Invalid(String),
    /// A value in the store that this build cannot read.
    #[error("accounts store {store}: unexpected data: {what}")]
    Corrupt {
        /// Which store.
        store: String,
        /// What was wrong.
        what: String,
    },
}
