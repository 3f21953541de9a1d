//! Who may see raw results on the permanent sample: the users listed in `WH/access.toml`.
//!
//! ```toml
//! # Analysts with access to the permanent sample (raw, unsuppressed tables on it).
//! [sample]
//! users = ["analyst1", "analyst2"]
//! ```
//!
//! Nobody has raw access to the population: its results leave only through the gate.

use crate::DisclosureError;
use aim_warehouse::Warehouse;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Access {
    #[serde(default)]
    sample: SampleAccess,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleAccess {
    #[serde(default)]
    users: Vec<String>,
}

/// Refuses unless `user` is listed with sample access in `WH/access.toml`.
pub fn require_sample_access(wh: &Warehouse, user: &str) -> Result<(), DisclosureError> {
    let path = wh.root().join("access.toml");
    let access: Access = match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| DisclosureError::Request(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Access::default(),
        Err(e) => return Err(DisclosureError::Io(format!("{}: {e}", path.display()))),
    };
    if access.sample.users.iter().any(|u| u == user) {
        Ok(())
    } else {
        Err(DisclosureError::Request(format!(
            "user '{user}' has no access to the permanent sample's raw results (not listed in {}); \
             run the request without --raw to get the gated table",
            path.display()
        )))
    }
}
