//! The trusted third party (TTP).
//!
//! In Belgium the agency never sees a national number: a trusted third party replaces it
//! by a keyed code before the data reach the agency. This crate plays that role for the
//! platform and its synthetic data:
//!
//! * [`niss`] validates national numbers (NISS/INSZ, mod 97, with the rule for people
//!   born from 2000 and for BIS numbers);
//! * [`Coder`] turns a national number or a practitioner number into a coded identifier
//!   with HMAC-SHA256 under a secret key, so that a person keeps the same code across
//!   insurers and years;
//! * [`Coder::for_project`] derives a project-specific coder, so that two projects'
//!   extracts cannot be joined.
//!
//! The key lives outside the warehouse (a file the operator protects); this crate never
//! writes a key or a raw identifier anywhere.

pub mod niss;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

/// Minimum length of a coding key, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// A problem with the TTP key or an identifier.
#[derive(Debug, thiserror::Error)]
pub enum TtpError {
    /// The key file could not be read.
    #[error("cannot read the TTP key file {path}: {source}")]
    KeyFile {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key is too short to be safe.
    #[error(
        "the TTP key must be at least {MIN_KEY_LEN} bytes (got {0}); generate one with `aim ttp keygen`"
    )]
    ShortKey(usize),
    /// Not a valid national number.
    #[error(transparent)]
    Niss(#[from] niss::NissError),
}

/// What kind of identifier is coded: each kind has its own code space, so that a person
/// and a provider with the same number never share a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// An insured person (national number).
    Person,
    /// A provider (11-digit practitioner number) or an institution.
    Provider,
}

impl IdKind {
    fn domain(self) -> &'static [u8] {
        match self {
            IdKind::Person => b"aim/person/v1\0",
            IdKind::Provider => b"aim/provider/v1\0",
        }
    }
}

/// Keyed coding of identifiers (HMAC-SHA256, truncated to 128 bits, lowercase hex).
#[derive(Clone)]
pub struct Coder {
    mac: HmacSha256,
}

impl std::fmt::Debug for Coder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Coder(<secret key>)")
    }
}

impl Coder {
    /// A coder under `key` (at least [`MIN_KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Result<Coder, TtpError> {
        if key.len() < MIN_KEY_LEN {
            return Err(TtpError::ShortKey(key.len()));
        }
        Ok(Coder {
            mac: HmacSha256::new_from_slice(key).expect("HMAC accepts any key length"),
        })
    }

    /// Reads the key from a file (raw bytes, or hexadecimal text).
    pub fn from_key_file(path: &Path) -> Result<Coder, TtpError> {
        let bytes = std::fs::read(path).map_err(|source| TtpError::KeyFile {
            path: path.display().to_string(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let key = hex::decode(text.trim()).unwrap_or(bytes);
        Coder::new(&key)
    }

    /// Codes an identifier of the given kind. The same input always gives the same code
    /// under the same key.
    pub fn code(&self, kind: IdKind, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(kind.domain());
        mac.update(id.as_bytes());
        let digest = mac.finalize().into_bytes();
        hex::encode(&digest[..aim_model::CODED_ID_LEN / 2])
    }

    /// Validates a national number and codes it.
    pub fn code_person(&self, niss: &str) -> Result<String, TtpError> {
        let n = niss::Niss::parse(niss)?;
        Ok(self.code(IdKind::Person, n.digits()))
    }

    /// Codes a provider or institution number.
    pub fn code_provider(&self, number: &str) -> String {
        self.code(IdKind::Provider, number)
    }

    /// A coder specific to one project: codes already issued by this coder are coded
    /// again under a key derived from the master key and the project identifier, so that
    /// two projects' extracts cannot be joined, while one project's extracts can.
    pub fn for_project(&self, project: &str) -> Coder {
        let mut mac = self.mac.clone();
        mac.update(b"aim/project-key/v1\0");
        mac.update(project.as_bytes());
        let key = mac.finalize().into_bytes();
        Coder::new(&key).expect("derived key is 32 bytes")
    }
}

/// Generates a fresh random 32-byte key as hexadecimal text, from the operating system's
/// random source.
pub fn generate_key_hex() -> std::io::Result<String> {
    use std::io::Read;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
    Ok(hex::encode(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coder() -> Coder {
        Coder::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn codes_are_stable_keyed_and_well_formed() {
        let c = coder();
        let a = c.code_person("85073003328").unwrap();
        assert_eq!(
            a,
            c.code_person("85.07.30-033.28").unwrap(),
            "formatting does not change the code"
        );
        assert!(aim_model::is_coded_id(&a));
        let other = Coder::new(&[8u8; 32]).unwrap();
        assert_ne!(
            a,
            other.code_person("85073003328").unwrap(),
            "another key gives another code"
        );
        assert_ne!(
            c.code(IdKind::Person, "1"),
            c.code(IdKind::Provider, "1"),
            "kinds have separate spaces"
        );
    }

    #[test]
    fn project_codes_differ_between_projects() {
        let c = coder();
        let person = c.code_person("85073003328").unwrap();
        let p1 = c.for_project("P-2026-001").code(IdKind::Person, &person);
        let p2 = c.for_project("P-2026-002").code(IdKind::Person, &person);
        assert_ne!(p1, p2);
        assert_eq!(
            p1,
            c.for_project("P-2026-001").code(IdKind::Person, &person)
        );
    }

    #[test]
    fn short_keys_and_bad_numbers_are_refused() {
        assert!(matches!(Coder::new(b"short"), Err(TtpError::ShortKey(5))));
        assert!(coder().code_person("85073003329").is_err());
    }

    #[test]
    fn key_file_in_hex_is_read() {
        let dir = std::env::temp_dir().join(format!("aim-ttp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, generate_key_hex().unwrap()).unwrap();
        let c = Coder::from_key_file(&path).unwrap();
        assert!(aim_model::is_coded_id(&c.code_provider("10012345004")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn distinct_valid_numbers_get_distinct_codes(a in 0u64..999_999_999, b in 0u64..999_999_999) {
            proptest::prop_assume!(a != b);
            let c = coder();
            let na = niss::Niss::from_base(a, false);
            let nb = niss::Niss::from_base(b, false);
            proptest::prop_assert_ne!(c.code_person(na.digits()).unwrap(), c.code_person(nb.digits()).unwrap());
        }
    }
}
