//! Who runs a command: the accounts store and the key file (docs/access.md). Each command
//! that not everybody may run calls [`authorize`] first; the decision is aim-access's, and
//! every refusal, query and release is written to the audit log.

use aim_access::{
    AccessError, Account, AuditEvent, Capability, Grant, Outcome, ProjectRole, Store,
    StoreLocation, key, require, require_for_project,
};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The options of every command that acts as an account.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Identity {
    /// The key file of the account to act as (default: $AIM_KEY_FILE, then
    /// ~/.config/aim/key; docs/access.md).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The accounts store: a SQLite file or a postgres:// URL (default: $AIM_STORE, then
    /// access.db in the warehouse folder).
    #[arg(long, value_name = "FILE|URL")]
    pub store: Option<String>,
}

/// Where the accounts are: `--store`, else `AIM_STORE`, else `access.db` in the warehouse.
pub fn store_location(store: Option<&str>, warehouse: Option<&Path>) -> Result<StoreLocation> {
    if let Some(s) = store {
        return Ok(StoreLocation::parse(s));
    }
    if let Some(s) = std::env::var("AIM_STORE").ok().filter(|s| !s.is_empty()) {
        return Ok(StoreLocation::parse(&s));
    }
    match warehouse {
        Some(w) => Ok(StoreLocation::in_warehouse(w)),
        None => anyhow::bail!(
            "say where the accounts are: --store FILE|postgres://… , AIM_STORE, or --warehouse WH (its access.db)"
        ),
    }
}

/// An identified account, allowed what it asked, and its store to record in.
pub struct Session {
    pub store: Store,
    pub account: Account,
    /// The project the command acts on, recorded with every entry.
    pub project: Option<String>,
}

impl Session {
    /// Records an action of this account.
    pub fn record(&mut self, action: &str, object: &str, outcome: Outcome) -> Result<()> {
        self.store
            .append_audit(&AuditEvent {
                account: Some(self.account.email.clone()),
                project: self.project.clone(),
                action: action.to_string(),
                object: object.to_string(),
                outcome,
            })
            .context("cannot write to the audit log, so the action is not done")?;
        Ok(())
    }

    /// Records how `result` ended (done, or failed with its error) and passes it on.
    pub fn finish<T>(&mut self, action: &str, object: &str, result: Result<T>) -> Result<T> {
        let outcome = match &result {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::Failed(crate::error_text(e)),
        };
        self.record(action, object, outcome)?;
        result
    }
}

/// Opens the store, identifies the account by its key file and checks `capability`.
/// A refusal (no key, an unknown key, a missing role, a disabled account) is written to
/// the audit log, then returned.
pub fn authorize(
    identity: &Identity,
    warehouse: Option<&Path>,
    capability: Capability,
    action: &str,
    object: &str,
) -> Result<Session> {
    let location = store_location(identity.store.as_deref(), warehouse)?;
    let mut store = Store::open_existing(&location)?;
    let who = key::resolve_key_file(identity.key_file.as_deref())
        .and_then(|path| store.account_by_key_file(&path));
    let (account, decision) = match who {
        Ok(account) => {
            let d = require(&account, capability);
            (Some(account), d)
        }
        Err(e) => (None, Err(e)),
    };
    match decision {
        Ok(()) => Ok(Session {
            store,
            account: account.expect("an allowed account"),
            project: None,
        }),
        Err(refusal) => {
            refuse(&mut store, account.as_ref(), None, action, object, &refusal)?;
            Err(refusal.into())
        }
    }
}

/// Opens the store, identifies the account by its key file and checks what it asks of
/// project `project`: `capability` is given the account's role in the project (`None`: not a
/// member, or no such project) and says what is needed (for a move, it depends on the
/// project's state). The check is by role or by membership (`aim_access::require_for_project`);
/// a refusal is recorded with the project, and says the same whether or not the project
/// exists.
pub fn authorize_project(
    identity: &Identity,
    warehouse: Option<&Path>,
    project: &str,
    capability: impl FnOnce(&mut Store) -> Capability,
    action: &str,
    object: &str,
) -> Result<Session> {
    let location = store_location(identity.store.as_deref(), warehouse)?;
    let mut store = Store::open_existing(&location)?;
    let who = key::resolve_key_file(identity.key_file.as_deref())
        .and_then(|path| store.account_by_key_file(&path));
    let decision = match &who {
        Ok(account) => {
            let membership: Option<ProjectRole> = store.membership(project, account)?;
            let c = capability(&mut store);
            require_for_project(account, c, project, membership)
        }
        Err(_) => Ok(()),
    };
    let (account, decision) = match who {
        Ok(a) => (Some(a), decision),
        Err(e) => (None, Err(e)),
    };
    match decision {
        Ok(()) => Ok(Session {
            store,
            account: account.expect("an allowed account"),
            project: Some(project.to_string()),
        }),
        Err(refusal) => {
            refuse(
                &mut store,
                account.as_ref(),
                Some(project),
                action,
                object,
                &refusal,
            )?;
            Err(refusal.into())
        }
    }
}

/// Opens the store, identifies the account by its key file and checks that it may take
/// results out for `project` (`aim_access::authorize_release`: the role for `capability`, a
/// member of the project, the project in production, its type covering the result). An
/// unknown project is refused as a project one is not a member of. A refusal is recorded with
/// the project; the grant comes with the session.
pub fn authorize_release(
    identity: &Identity,
    warehouse: Option<&Path>,
    project: &str,
    capability: Capability,
    action: &str,
    object: &str,
) -> Result<(Session, Grant)> {
    let location = store_location(identity.store.as_deref(), warehouse)?;
    let mut store = Store::open_existing(&location)?;
    let who = key::resolve_key_file(identity.key_file.as_deref())
        .and_then(|path| store.account_by_key_file(&path));
    let (account, decision) = match who {
        Ok(account) => {
            let decision = if store.project_exists(project)? {
                let membership = store.membership(project, &account)?;
                let p = store.project(project)?;
                aim_access::authorize_release(&account, capability, &p, membership)
            } else {
                require(&account, capability).and(Err(AccessError::NotProjectMember {
                    what: capability.describe(),
                    project: project.to_string(),
                    account: account.email.clone(),
                }))
            };
            (Some(account), decision)
        }
        Err(e) => (None, Err(e)),
    };
    match decision {
        Ok(grant) => Ok((
            Session {
                store,
                account: account.expect("an allowed account"),
                project: Some(project.to_string()),
            },
            grant,
        )),
        Err(refusal) => {
            refuse(
                &mut store,
                account.as_ref(),
                Some(project),
                action,
                object,
                &refusal,
            )?;
            Err(refusal.into())
        }
    }
}

/// Records a refusal.
pub fn refuse(
    store: &mut Store,
    account: Option<&Account>,
    project: Option<&str>,
    action: &str,
    object: &str,
    refusal: &AccessError,
) -> Result<()> {
    store
        .append_audit(&AuditEvent {
            account: account.map(|a| a.email.clone()),
            project: project.map(str::to_string),
            action: action.to_string(),
            object: object.to_string(),
            outcome: Outcome::Refused(refusal.to_string()),
        })
        .context("cannot write the refusal to the audit log")?;
    Ok(())
}

/// Paths as one audit object.
pub fn paths(ps: &[PathBuf]) -> String {
    ps.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
