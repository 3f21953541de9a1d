//! `aim account …` and `aim audit …`: accounts, keys and the audit log (docs/access.md).

use crate::access::{Identity, authorize, store_location};
use aim_access::audit::Anchor;
use aim_access::{Capability, NewAccount, Outcome, Role, Store, key};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Exit status of `aim audit verify` when the chain is broken.
pub const EXIT_BROKEN: u8 = 4;

/// Where the accounts are, for `aim account` and `aim audit`.
#[derive(clap::Args, Clone, Debug)]
pub struct Where {
    /// Warehouse folder whose accounts store (access.db) to use (or give --store).
    #[arg(long)]
    warehouse: Option<PathBuf>,
    #[command(flatten)]
    identity: Identity,
}

#[derive(clap::Subcommand)]
pub enum AccountCommand {
    /// Creates the first administrator: only in a new store (no account at all). With
    /// --warehouse, creates the warehouse folder too.
    Init {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        person: Person,
    },
    /// Creates an account (administrator).
    Add {
        #[command(flatten)]
        at: Where,
        #[command(flatten)]
        person: Person,
        /// A role (repeatable): researcher, sample-partner, agency-analyst, data-manager,
        /// control-services, administrator.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
    },
    /// Lists the accounts (administrator).
    List {
        #[command(flatten)]
        at: Where,
    },
    /// Disables an account: it may do nothing but what the public may (administrator).
    Disable {
        #[command(flatten)]
        at: Where,
        /// The account's e-mail.
        email: String,
    },
    /// Enables a disabled account (administrator).
    Enable {
        #[command(flatten)]
        at: Where,
        /// The account's e-mail.
        email: String,
    },
    /// Issues a new API key for an account, replacing its earlier ones; shown once
    /// (administrator).
    Key {
        #[command(flatten)]
        at: Where,
        /// The account's e-mail.
        email: String,
        /// Write the key to this new file (mode 600) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Links an OpenID Connect identity to an account: a login by that provider with that
    /// subject is then this account, and no other (administrator). The issuer must be
    /// written exactly as the provider writes it (its `iss`).
    LinkOidc {
        #[command(flatten)]
        at: Where,
        /// The account's e-mail.
        email: String,
        /// The provider's issuer URL (https; http only on this machine).
        #[arg(long)]
        issuer: String,
        /// The person's subject (`sub`) at that provider.
        #[arg(long)]
        subject: String,
    },
    /// Sets an account's local password, read from standard input (administrator).
    Password {
        #[command(flatten)]
        at: Where,
        /// The account's e-mail.
        email: String,
    },
}

/// Who an account is for.
#[derive(clap::Args, Clone, Debug)]
pub struct Person {
    /// E-mail address (the login).
    #[arg(long)]
    email: String,
    /// The person's name.
    #[arg(long)]
    name: String,
    /// Their organisation.
    #[arg(long)]
    organisation: String,
    /// Write the account's API key to this new file (mode 600); without it the key is
    /// printed once.
    #[arg(long)]
    key_out: Option<PathBuf>,
    /// Read a local password (for the web login) from standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Walks the hash chain and reports the first entry that was changed, deleted or moved
    /// (administrator). Exit status 4 when broken.
    Verify {
        #[command(flatten)]
        at: Where,
        /// An entry noted earlier, as SEQ:HASH (printed by a previous verify): also checks
        /// that it is still there, unchanged (catches a log cut at its end or rewritten).
        #[arg(long)]
        anchor: Option<Anchor>,
    },
    /// Prints the last entries (administrator).
    Show {
        #[command(flatten)]
        at: Where,
        /// How many.
        #[arg(long, default_value_t = 20)]
        last: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn hand_over_key(store: &mut Store, email: &str, out: Option<&Path>) -> Result<()> {
    let k = store.issue_key(email)?;
    match out {
        Some(path) => {
            key::write_key_file(path, &k)?;
            println!("the key of {email} is in {} (mode 600)", path.display());
        }
        None => {
            println!(
                "the key of {email} (shown once; put it in a file of mode 600, e.g. ~/.config/aim/key):"
            );
            println!("{}", k.expose());
        }
    }
    Ok(())
}

/// Runs `aim account …`.
pub fn run_account(command: AccountCommand) -> Result<u8> {
    match command {
        AccountCommand::Init { at, person } => {
            if let Some(w) = &at.warehouse {
                aim_warehouse::Warehouse::open_or_create(w)?;
            }
            let location = store_location(at.identity.store.as_deref(), at.warehouse.as_deref())?;
            let mut store = Store::open(&location)?;
            let password = person.password_stdin.then(read_password).transpose()?;
            let admin =
                store.init_administrator(&person.email, &person.name, &person.organisation)?;
            if let Some(p) = password {
                store.set_password(&admin.email, &p)?;
            }
            store.append_audit(&aim_access::AuditEvent {
                account: Some(admin.email.clone()),
                project: None,
                action: "account init".into(),
                object: admin.email.clone(),
                outcome: Outcome::Done,
            })?;
            println!(
                "created the first administrator {admin} in the accounts store {}",
                store.name()
            );
            hand_over_key(&mut store, &admin.email, person.key_out.as_deref())?;
            Ok(0)
        }
        AccountCommand::Add { at, person, roles } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ManageAccounts,
                "account add",
                &person.email,
            )?;
            let password = person.password_stdin.then(read_password).transpose()?;
            let new = NewAccount {
                email: person.email.clone(),
                name: person.name.clone(),
                organisation: person.organisation.clone(),
                roles: roles.into_iter().collect(),
            };
            let made = (|| -> Result<aim_access::Account> {
                let a = s.store.create_account(&new)?;
                if let Some(p) = &password {
                    s.store.set_password(&a.email, p)?;
                }
                Ok(a)
            })();
            let a = s.finish("account add", &person.email, made)?;
            let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
            println!("created {a} with the role(s) {}", roles.join(", "));
            hand_over_key(&mut s.store, &a.email, person.key_out.as_deref())?;
            Ok(0)
        }
        AccountCommand::List { at } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ManageAccounts,
                "account list",
                "",
            )?;
            let accounts = s.store.accounts();
            let accounts = s.finish("account list", "", accounts.map_err(Into::into))?;
            println!(
                "{:<36} {:<28} {:<24} {:<8} roles",
                "e-mail", "name", "organisation", "enabled"
            );
            for a in accounts {
                let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<36} {:<28} {:<24} {:<8} {}",
                    a.email,
                    a.name,
                    a.organisation,
                    if a.enabled { "yes" } else { "no" },
                    roles.join(", ")
                );
            }
            Ok(0)
        }
        AccountCommand::Disable { at, email } => set_enabled(&at, &email, false),
        AccountCommand::Enable { at, email } => set_enabled(&at, &email, true),
        AccountCommand::Key { at, email, out } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ManageAccounts,
                "account key",
                &email,
            )?;
            let exists = s.store.account(&email).map_err(Into::into);
            s.finish("account key", &email, exists)?;
            hand_over_key(&mut s.store, &email, out.as_deref())?;
            Ok(0)
        }
        AccountCommand::LinkOidc {
            at,
            email,
            issuer,
            subject,
        } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ManageAccounts,
                "account link-oidc",
                &email,
            )?;
            let linked = aim_oidc::Issuer::parse(&issuer)
                .map_err(anyhow::Error::from)
                .and_then(|issuer| {
                    s.store
                        .link_oidc(&email, issuer.as_str(), &subject)
                        .map_err(Into::into)
                });
            let object = format!("{email} (subject {subject} of {issuer})");
            let a = s.finish("account link-oidc", &object, linked)?;
            println!(
                "{a} is linked to the subject {subject} of {issuer}: a login by that provider with that subject is this account"
            );
            Ok(0)
        }
        AccountCommand::Password { at, email } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ManageAccounts,
                "account password",
                &email,
            )?;
            let password = read_password()?;
            let done = s.store.set_password(&email, &password).map_err(Into::into);
            s.finish("account password", &email, done)?;
            println!("the password of {email} is set");
            Ok(0)
        }
    }
}

fn set_enabled(at: &Where, email: &str, enabled: bool) -> Result<u8> {
    let action = if enabled {
        "account enable"
    } else {
        "account disable"
    };
    let mut s = authorize(
        &at.identity,
        at.warehouse.as_deref(),
        Capability::ManageAccounts,
        action,
        email,
    )?;
    let done = s.store.set_enabled(email, enabled).map_err(Into::into);
    let a = s.finish(action, email, done)?;
    println!("{a} is {}", if a.enabled { "enabled" } else { "disabled" });
    Ok(0)
}

/// Runs `aim audit …`.
pub fn run_audit(command: AuditCommand) -> Result<u8> {
    match command {
        AuditCommand::Verify { at, anchor } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ReadAudit,
                "audit verify",
                "",
            )?;
            let report = s.store.verify_audit(anchor.clone())?;
            let outcome = match &report.broken {
                None => Outcome::Done,
                Some(b) => Outcome::Failed(format!("broken at entry {}: {}", b.seq, b.problem)),
            };
            // Recorded after the walk: the entry itself is not part of what was verified.
            s.record("audit verify", "", outcome)?;
            match report.broken {
                None => {
                    println!(
                        "the audit log holds: {} entries, each chained to the one before{}",
                        report.entries,
                        if anchor.is_some() {
                            ", the anchored entry unchanged"
                        } else {
                            ""
                        }
                    );
                    if let Some((seq, hash)) = report.head {
                        println!(
                            "last entry: {seq}:{hash} (note it elsewhere; `aim audit verify --anchor {seq}:{hash}` later also shows a cut or rewritten end)"
                        );
                    }
                    Ok(0)
                }
                Some(b) => {
                    println!(
                        "the audit log is BROKEN at entry {}: {} ({} entries read)",
                        b.seq, b.problem, report.entries
                    );
                    Ok(EXIT_BROKEN)
                }
            }
        }
        AuditCommand::Show { at, last, json } => {
            let mut s = authorize(
                &at.identity,
                at.warehouse.as_deref(),
                Capability::ReadAudit,
                "audit show",
                "",
            )?;
            let entries = s.store.audit_last(last)?;
            s.record("audit show", &format!("last {last}"), Outcome::Done)?;
            if json {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "seq": e.seq, "time": e.time, "account": e.account,
                            "project": e.project, "action": e.action, "object": e.object,
                            "outcome": e.outcome, "reason": e.reason,
                            "prev_hash": e.prev_hash, "hash": e.hash,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for e in entries {
                    println!(
                        "{:>6}  {}  {:<32} {:<8} {:<18} {}{}{}",
                        e.seq,
                        e.time,
                        e.account.as_deref().unwrap_or("(nobody identified)"),
                        e.outcome,
                        e.action,
                        e.object,
                        e.project
                            .map(|p| format!("  [project {p}]"))
                            .unwrap_or_default(),
                        e.reason.map(|r| format!("  — {r}")).unwrap_or_default(),
                    );
                }
            }
            Ok(0)
        }
    }
}
