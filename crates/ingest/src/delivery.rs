//! Opening a delivery folder: its manifest and identity.

use aim_model::delivery::{FORMAT_VERSION, MANIFEST_FILE, Manifest};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A delivery folder whose manifest has been read.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the manifest file's bytes, lowercase hex.
    pub manifest_sha256: String,
}

/// Why a delivery folder cannot even be opened (reported as MAN-001).
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryProblem {
    /// No manifest.json.
    #[error("the delivery has no manifest.json")]
    MissingManifest,
    /// The manifest is not valid.
    #[error("manifest.json is malformed: {0}")]
    MalformedManifest(String),
    /// Another format version.
    #[error(
        "manifest.json declares format version '{0}'; this platform reads version {FORMAT_VERSION}"
    )]
    UnsupportedVersion(String),
}

impl Delivery {
    /// Reads the manifest of a delivery folder.
    pub fn open(dir: &Path) -> Result<Delivery, DeliveryProblem> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|_| DeliveryProblem::MissingManifest)?;
        let manifest: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| DeliveryProblem::MalformedManifest(e.to_string()))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(DeliveryProblem::UnsupportedVersion(manifest.format_version));
        }
        if manifest.files.is_empty() {
            return Err(DeliveryProblem::MalformedManifest(
                "it lists no data file".into(),
            ));
        }
        for f in &manifest.files {
            if f.name.contains('/') || f.name.contains('\\') || f.name.starts_with('.') {
                return Err(DeliveryProblem::MalformedManifest(format!(
                    "file name '{}' must be a plain name inside the delivery folder",
                    f.name
                )));
            }
        }
        Ok(Delivery {
            dir: dir.to_path_buf(),
            manifest,
            manifest_sha256: hex::encode(Sha256::digest(&bytes)),
        })
    }

    /// The delivery's identity: `insurer-DATABASE-period-` and the first 12 hex digits of
    /// the manifest's SHA-256. The same delivery always has the same identity.
    pub fn id(&self) -> String {
        let m = &self.manifest;
        format!(
            "{}-{}-{}-{}",
            m.insurer,
            m.database,
            m.period,
            &self.manifest_sha256[..12]
        )
    }
}

/// The identity given to a delivery whose manifest cannot be read.
pub fn unreadable_id(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "delivery".into());
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("unreadable-{clean}")
}

/// Finds delivery folders: each path is either a delivery folder (it holds a
/// `manifest.json`, or it holds no sub-folder) or a folder of delivery folders. Results are
/// sorted by period, then database in ingest order (population first), then insurer, then
/// sequence; folders without a readable manifest come last.
pub fn find_deliveries(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p)?;
        if !meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{} is not a folder", p.display()),
            ));
        }
        if p.join(MANIFEST_FILE).exists() {
            found.push(p.clone());
            continue;
        }
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        if subdirs.is_empty() {
            found.push(p.clone()); // a delivery folder without manifest: reported as such
        } else {
            // Only folders that look like deliveries (hold files, not just folders such as truth/).
            subdirs.retain(|d| d.join(MANIFEST_FILE).exists() || looks_like_delivery_name(d));
            found.extend(subdirs);
        }
    }
    found.sort_by_key(|d| sort_key(d));
    found.dedup();
    Ok(found)
}

fn looks_like_delivery_name(d: &Path) -> bool {
    let name = d
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = name.split('-');
    matches!((parts.next(), parts.next()), (Some(i), Some(db)) if i.len() == 3 && i.bytes().all(|b| b.is_ascii_digit()) && db.len() == 4)
}

fn sort_key(d: &Path) -> (u8, String, usize, String, u32, PathBuf) {
    match Delivery::open(d) {
        Ok(del) => {
            let m = &del.manifest;
            let db_rank = aim_model::Database::ALL
                .iter()
                .position(|x| *x == m.database)
                .unwrap_or(9);
            (
                0,
                m.period.to_string(),
                db_rank,
                m.insurer.to_string(),
                m.sequence,
                d.to_path_buf(),
            )
        }
        Err(_) => (1, String::new(), 0, String::new(), 0, d.to_path_buf()),
    }
}
