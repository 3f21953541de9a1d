//! The audit log in the store: append under a lock, read, verify.

use super::Store;
use super::conn::Row;
use crate::StoreError;
use crate::audit::{Anchor, AuditEntry, AuditEvent, Verifier, VerifyReport, next_entry};

const COLUMNS: &str =
    "seq, time, account, project, action, object, outcome, reason, prev_hash, hash";

/// Entries read at a time while verifying.
const PAGE: i64 = 10_000;

impl Store {
    /// Appends an entry after the last one, chained to it. Writers take turns (SQLite's write
    /// lock, a table lock on PostgreSQL), so the chain never forks.
    pub fn append_audit(&mut self, event: &AuditEvent) -> Result<AuditEntry, StoreError> {
        self.transaction("writing to the audit log", Some("audit_log"), |s| {
            let name = s.name.clone();
            let last = s.rows(
                "reading the audit log's last entry",
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                &[],
            )?;
            let prev = match last.first() {
                Some(r) => Some((r.int(0, &name)?, r.text(1, &name)?)),
                None => None,
            };
            let e = next_entry(prev, super::now(), event);
            s.exec(
                "writing to the audit log",
                &format!("INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                &[
                    e.seq.into(),
                    e.time.clone().into(),
                    e.account.clone().into(),
                    e.project.clone().into(),
                    e.action.clone().into(),
                    e.object.clone().into(),
                    e.outcome.clone().into(),
                    e.reason.clone().into(),
                    e.prev_hash.clone().into(),
                    e.hash.clone().into(),
                ],
            )?;
            Ok(e)
        })
    }

    fn entry(&self, r: &Row) -> Result<AuditEntry, StoreError> {
        let n = &self.name;
        Ok(AuditEntry {
            seq: r.int(0, n)?,
            time: r.text(1, n)?,
            account: r.opt_text(2, n)?,
            project: r.opt_text(3, n)?,
            action: r.text(4, n)?,
            object: r.text(5, n)?,
            outcome: r.text(6, n)?,
            reason: r.opt_text(7, n)?,
            prev_hash: r.text(8, n)?,
            hash: r.text(9, n)?,
        })
    }

    /// Up to `limit` entries after sequence number `after`, in order.
    pub fn audit_entries(&mut self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.rows(
            "reading the audit log",
            &format!("SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"),
            &[after.into(), limit.into()],
        )?;
        rows.iter().map(|r| self.entry(r)).collect()
    }

    /// The last `n` entries, oldest first.
    pub fn audit_last(&mut self, n: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.rows(
            "reading the audit log",
            &format!("SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?"),
            &[n.into()],
        )?;
        let mut out: Vec<AuditEntry> = rows
            .iter()
            .map(|r| self.entry(r))
            .collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }

    /// Walks the whole chain, page by page, and reports the first entry that does not hold
    /// (and, given an anchor, whether that entry is still there with its hash).
    pub fn verify_audit(&mut self, anchor: Option<Anchor>) -> Result<VerifyReport, StoreError> {
        let mut v = Verifier::new(anchor);
        let mut after = 0;
        loop {
            let page = self.audit_entries(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            if !page.iter().all(|e| v.push(e)) {
                break;
            }
        }
        Ok(v.finish())
    }
}
