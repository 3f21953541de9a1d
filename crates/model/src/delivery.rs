//! The delivery format: a folder per delivery holding a `manifest.json` and one or more
//! data files (CSV, `;`-separated, UTF-8, with a header; gzip allowed). See
//! `docs/delivery-format.md`.

use crate::{Database, Insurer, Period};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Name of the manifest file inside a delivery folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The format version this platform writes and reads.
pub const FORMAT_VERSION: &str = "1";
/// Field separator of delivery CSV files.
pub const SEPARATOR: u8 = b';';

/// The manifest of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version, `"1"`.
    pub format_version: String,
    /// Delivering insurer.
    pub insurer: Insurer,
    /// Source database.
    pub database: Database,
    /// Quarter the delivery covers.
    pub period: Period,
    /// 1 for the first delivery of this insurer, database and period; 2, 3, … for
    /// corrected re-deliveries, which replace the earlier one.
    pub sequence: u32,
    /// When the insurer produced the delivery (RFC 3339).
    pub created: String,
    /// The data files, in order.
    pub files: Vec<ManifestFile>,
}

/// One data file of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// File name inside the delivery folder (`.csv` or `.csv.gz`).
    pub name: String,
    /// Number of data rows (header excluded).
    pub rows: u64,
    /// SHA-256 of the file's bytes as stored (compressed if gzip), lowercase hex.
    pub sha256: String,
}

impl Manifest {
    /// The conventional folder name of a delivery: `300-GZSS-2024Q2` (and `-r2`, `-r3`
    /// for re-deliveries).
    pub fn folder_name(&self) -> String {
        let base = format!("{}-{}-{}", self.insurer, self.database, self.period);
        if self.sequence > 1 {
            format!("{base}-r{}", self.sequence)
        } else {
            base
        }
    }

    /// Total rows over all files.
    pub fn total_rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }

    /// Writes the manifest as pretty JSON into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        std::fs::write(dir.join(MANIFEST_FILE), text + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_refuses_unknown_fields() {
        let m = Manifest {
            format_version: FORMAT_VERSION.into(),
            insurer: Insurer::Socialist,
            database: Database::Gzss,
            period: "2024Q2".parse().unwrap(),
            sequence: 2,
            created: "2024-08-01T00:00:00Z".into(),
            files: vec![ManifestFile {
                name: "gzss-001.csv.gz".into(),
                rows: 3,
                sha256: "ab".repeat(32),
            }],
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"insurer\":\"300\"") && text.contains("\"period\":\"2024Q2\""));
        assert_eq!(serde_json::from_str::<Manifest>(&text).unwrap(), m);
        assert_eq!(m.folder_name(), "300-GZSS-2024Q2-r2");
        let extra = text.replacen('{', "{\"x\":1,", 1);
        assert!(serde_json::from_str::<Manifest>(&extra).is_err());
    }
}
