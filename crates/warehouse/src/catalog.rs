//! The catalogue of loaded deliveries, read from the Delta tables' own commit history (so
//! it can never disagree with the data), and of quarantined ones.

use crate::{Result, Warehouse, tables};
use aim_model::{Database, Period};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One loaded delivery (one commit of a source table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryRecord {
    /// Delivery identity.
    pub delivery_id: String,
    /// Insurer code.
    pub insurer: String,
    /// Database code.
    pub database: String,
    /// Period.
    pub period: String,
    /// Sequence number from the manifest.
    pub sequence: u32,
    /// Rows loaded.
    pub rows: u64,
    /// Rows rejected (in the feedback file).
    pub rows_rejected: u64,
    /// SHA-256 of the manifest.
    pub manifest_sha256: String,
    /// The delivery this one replaced, if any.
    #[serde(default)]
    pub replaces: Option<String>,
    /// Table version created by the commit (filled from the history).
    #[serde(default)]
    pub version: u64,
    /// Commit time, milliseconds since the epoch (filled from the history).
    #[serde(default)]
    pub committed_ms: i64,
    /// For a correction that removed rows beyond COR-001's threshold: the data manager's
    /// recorded confirmation (who, when, why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<aim_ingest::LossConfirmation>,
}

/// A quarantined delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// Delivery identity.
    pub delivery_id: String,
    /// Folder it came from.
    pub folder: String,
    /// Insurer, database and period, if the manifest was readable.
    pub insurer: Option<String>,
    /// Database.
    pub database: Option<String>,
    /// Period.
    pub period: Option<String>,
    /// Why it was rejected.
    pub reasons: Vec<String>,
    /// When.
    pub quarantined_at: String,
    /// True for a correction held by COR-001 (it can be confirmed with `aim confirm`),
    /// false for a rejected delivery.
    #[serde(default)]
    pub held: bool,
}

/// All loaded deliveries, in commit order per table.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Every delivery commit of the source tables.
    pub records: Vec<DeliveryRecord>,
}

impl Catalog {
    /// Reads the histories of the source tables.
    pub async fn load(wh: &Warehouse) -> Result<Catalog> {
        let mut records = Vec::new();
        for db in Database::ALL {
            let name = db.table_name();
            let Some(table) = tables::open(wh, name).await? else {
                continue;
            };
            for (version, ts, meta) in tables::history(&table, name).await? {
                if meta.get("kind").and_then(|k| k.as_str()) != Some("delivery") {
                    continue;
                }
                if let Ok(mut r) = serde_json::from_value::<DeliveryRecord>(meta) {
                    r.version = version;
                    r.committed_ms = ts;
                    records.push(r);
                }
            }
        }
        Ok(Catalog { records })
    }

    /// The delivery currently in force for each insurer, database and period.
    pub fn current(&self) -> Vec<&DeliveryRecord> {
        let mut by_key: BTreeMap<(String, String, String), &DeliveryRecord> = BTreeMap::new();
        for r in &self.records {
            let key = (r.period.clone(), r.database.clone(), r.insurer.clone());
            match by_key.get(&key) {
                Some(prev) if prev.version > r.version => {}
                _ => {
                    by_key.insert(key, r);
                }
            }
        }
        by_key.into_values().collect()
    }

    /// The delivery in force for one insurer, database and period.
    pub fn current_for(
        &self,
        insurer: &str,
        database: Database,
        period: Period,
    ) -> Option<&DeliveryRecord> {
        let (db, p) = (database.code(), period.to_string());
        self.records
            .iter()
            .filter(|r| r.insurer == insurer && r.database == db && r.period == p)
            .max_by_key(|r| r.version)
    }

    /// Row counts of the insurer's deliveries in force for the four periods before `period`.
    pub fn previous_volumes(&self, insurer: &str, database: Database, period: Period) -> Vec<u64> {
        let mut p = period;
        let mut out = Vec::new();
        for _ in 0..4 {
            p = p.previous();
            if let Some(r) = self.current_for(insurer, database, p) {
                out.push(r.rows + r.rows_rejected);
            }
        }
        out
    }

    /// The insurer's most recent delivery in force for an earlier period, or the one this
    /// delivery would replace.
    pub fn previous_delivery(
        &self,
        insurer: &str,
        database: Database,
        period: Period,
    ) -> Option<&DeliveryRecord> {
        if let Some(r) = self.current_for(insurer, database, period) {
            return Some(r);
        }
        let db = database.code();
        self.current()
            .into_iter()
            .filter(|r| {
                r.insurer == insurer
                    && r.database == db
                    && r.period.parse::<Period>().is_ok_and(|p| p < period)
            })
            .max_by_key(|r| r.period.parse::<Period>().ok())
    }

    /// Adds a record after a commit (keeps the in-memory catalogue in step during an ingest).
    pub fn push(&mut self, r: DeliveryRecord) {
        self.records.push(r);
    }
}

/// The quarantined deliveries, newest first.
pub fn quarantined(wh: &Warehouse) -> Vec<QuarantineRecord> {
    let mut out: Vec<QuarantineRecord> = std::fs::read_dir(wh.root().join("quarantine"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("reason.json")).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a: &QuarantineRecord, b| b.quarantined_at.cmp(&a.quarantined_at));
    out
}
