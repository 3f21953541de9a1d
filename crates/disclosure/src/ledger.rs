//! The release ledger (`WH/releases/ledger.jsonl`): one line per table released, with its
//! requester, request, source and the versions of the tables it read, its policy and which
//! cells it released. A new release is audited against every earlier one, whoever asked: each is replayed (its query run again on the recorded versions, by Delta time travel)
//! to recover the units behind its cells, and checked against the recorded digest.

use crate::DisclosureError;
use crate::cross::Earlier;
use crate::release::{self, Source};
use crate::request::TableRequest;
use crate::suppress::{self, Policy, Status};
use crate::table::Table;
use aim_warehouse::Warehouse;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One line of the ledger (the fields the audit needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// Release id.
    pub release: String,
    /// Who asked.
    pub requester: String,
    /// Source.
    pub source: Source,
    /// Versions of the tables the query read.
    pub source_versions: BTreeMap<String, u64>,
    /// The request.
    pub request: TableRequest,
    /// Policy (absent in the first ledgers: the source's).
    #[serde(default)]
    pub policy: Option<Policy>,
    /// Status of every cell, one letter each (absent in the first ledgers: recomputed).
    #[serde(default)]
    pub status: Option<String>,
    /// Digest of the table's counts (absent in the first ledgers).
    #[serde(default)]
    pub digest: Option<String>,
}

/// An earlier release replayed: its table with units, and its pattern.
#[derive(Debug)]
pub struct Replayed {
    /// Release id.
    pub id: String,
    /// Its table.
    pub table: Table,
    /// Its cells' status.
    pub status: Vec<Status>,
    /// Its policy.
    pub policy: Policy,
    /// Whether it is one of the Atlas's tables.
    pub atlas: bool,
}

/// The requester the Atlas's tables are recorded under.
pub const ATLAS: &str = "Atlas (public)";

impl Replayed {
    /// As an earlier release for the differencing check.
    pub fn earlier(&self) -> Earlier<'_> {
        Earlier {
            id: &self.id,
            table: &self.table,
            status: &self.status,
            policy: self.policy,
            pairs_only: self.atlas,
        }
    }
}

/// One letter per cell: R released, P primary, S secondary, D differencing, V provider.
pub fn encode_status(status: &[Status]) -> String {
    status
        .iter()
        .map(|s| match s {
            Status::Released => 'R',
            Status::Primary => 'P',
            Status::Secondary => 'S',
            Status::Differencing => 'D',
            Status::Provider => 'V',
            Status::Contributor => 'C',
        })
        .collect()
}

fn decode_status(text: &str) -> Option<Vec<Status>> {
    text.chars()
        .map(|c| match c {
            'R' => Some(Status::Released),
            'P' => Some(Status::Primary),
            'S' => Some(Status::Secondary),
            'D' => Some(Status::Differencing),
            'V' => Some(Status::Provider),
            'C' => Some(Status::Contributor),
            _ => None,
        })
        .collect()
}

/// SHA-256 of every cell's count, in cell order: a replay must give the same.
pub fn digest(table: &Table) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for c in &table.cells {
        h.update(c.units.to_le_bytes());
    }
    hex::encode(h.finalize())
}

/// Every entry of the ledger, whoever asked (none when the ledger does not exist yet): anything
/// released may be shared, so a new release is audited against all of them.
pub fn entries(wh: &Warehouse) -> Result<Vec<Entry>, DisclosureError> {
    let path = wh.ledger_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DisclosureError::Io(format!("{}: {e}", path.display()))),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(line).map_err(|e| {
            DisclosureError::Audit(format!(
                "the release ledger {} is damaged at line {}: {e}; no release can be audited against it",
                path.display(),
                n + 1
            ))
        })?;
        out.push(entry);
    }
    Ok(out)
}

/// The error when an earlier release cannot be replayed: no new release can be audited
/// against it, so none is made.
pub fn unreplayable(release: &str, e: impl std::fmt::Display) -> DisclosureError {
    DisclosureError::Audit(format!(
        "cannot replay earlier release {release} ({e}); a new release cannot be audited against it"
    ))
}

/// Replays an earlier release: its query on the recorded versions, its pattern from the
/// ledger (or recomputed, deterministically, for entries that did not record it).
pub async fn replay(
    wh: &Warehouse,
    opened: &release::Opened,
    entry: &Entry,
) -> Result<Replayed, DisclosureError> {
    let tabulated = release::tabulate_in(wh, opened, &entry.request)
        .await
        .map_err(|e| unreplayable(&entry.release, e))?;
    let table = tabulated.table;
    if let Some(d) = &entry.digest
        && *d != digest(&table)
    {
        return Err(DisclosureError::Audit(format!(
            "earlier release {} does not replay to the same counts (its source versions changed?): a new release cannot be audited against it",
            entry.release
        )));
    }
    let policy = entry.policy.unwrap_or(entry.source.policy());
    let status = match entry.status.as_deref().and_then(decode_status) {
        Some(s) if s.len() == table.cells.len() => s,
        _ => {
            let sensitive = suppress::Sensitive {
                magnitude: tabulated.magnitude,
                ..Default::default()
            };
            suppress::suppress_with(&table, &policy, &sensitive)?.status
        }
    };
    Ok(Replayed {
        id: entry.release.clone(),
        table,
        status,
        policy,
        atlas: entry.requester == ATLAS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_letters_round_trip() {
        let s = vec![
            Status::Released,
            Status::Primary,
            Status::Secondary,
            Status::Differencing,
        ];
        assert_eq!(encode_status(&s), "RPSD");
        assert_eq!(decode_status("RPSD").unwrap(), s);
        assert!(decode_status("RX").is_none());
    }
}
