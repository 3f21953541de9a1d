//! API keys: how the command line acts as an account.
//!
//! A key is `aim_` followed by 32 random bytes in hex, from the operating system's random
//! source. It is shown once, when issued; the store keeps only its SHA-256 digest (a key
//! has 256 bits of entropy, so a fast digest cannot be searched; a password would need
//! Argon2id). A command finds its key file in this order: `--key-file FILE`, the
//! environment variable `AIM_KEY_FILE`, then `$XDG_CONFIG_HOME/aim/key` or, without that
//! variable, `~/.config/aim/key`. The file must be private to its owner (mode 600), as ssh
//! requires of its keys.

use crate::AccessError;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// What every key starts with.
pub const PREFIX: &str = "aim_";

/// A key in clear: exists only between its making and its writing to a file.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh random key.
    pub fn generate() -> ApiKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random source");
        ApiKey(format!("{PREFIX}{}", hex::encode(bytes)))
    }

    /// The key as text, to write or show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest (hex) the store keeps.
    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// SHA-256 of a key, in hex.
pub fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The key file to use: `given`, else `AIM_KEY_FILE`, else the user's configuration folder.
pub fn resolve_key_file(given: Option<&Path>) -> Result<PathBuf, AccessError> {
    resolve_with(given, |k| std::env::var_os(k))
}

/// [`resolve_key_file`] with the environment as a function (for tests).
pub fn resolve_with(
    given: Option<&Path>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, AccessError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(p) = nonempty("AIM_KEY_FILE") {
        return Ok(PathBuf::from(p));
    }
    let config = nonempty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".config")));
    let mut tried = vec![PathBuf::from("--key-file"), PathBuf::from("$AIM_KEY_FILE")];
    if let Some(c) = config {
        let p = c.join("aim").join("key");
        if p.exists() {
            return Ok(p);
        }
        tried.push(p);
    }
    Err(AccessError::NoKeyFile { tried })
}

/// Reads a key file: private to its owner, one key, surrounding whitespace ignored.
pub fn read_key_file(path: &Path) -> Result<String, AccessError> {
    let io = |source| AccessError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AccessError::KeyFileNotPrivate {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let key = text.trim();
    if !key.starts_with(PREFIX) || key.len() != PREFIX.len() + 64 {
        return Err(AccessError::NotAKey {
            path: path.to_path_buf(),
        });
    }
    Ok(key.to_string())
}

/// Writes `key` to a new file readable by its owner only (its folder created if missing);
/// never overwrites.
pub fn write_key_file(path: &Path, key: &ApiKey) -> Result<(), AccessError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| AccessError::KeyFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path).map_err(io)?;
    writeln!(f, "{}", key.expose()).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn keys_are_random_and_kept_as_digests() {
        let a = ApiKey::generate();
        let b = ApiKey::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(PREFIX) && a.expose().len() == 68);
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), a.expose());
        assert_eq!(format!("{a:?}"), "ApiKey(…)");
    }

    #[test]
    fn the_key_file_is_found_in_the_documented_order() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let xdg = tmp.path().join("xdg");
        let given = tmp.path().join("given");
        let from_env = tmp.path().join("env");
        std::fs::create_dir_all(home.join(".config/aim")).unwrap();
        std::fs::write(home.join(".config/aim/key"), "").unwrap();
        let all = [
            ("AIM_KEY_FILE", from_env.as_path()),
            ("HOME", home.as_path()),
        ];
        assert_eq!(resolve_with(Some(&given), env(&all)).unwrap(), given);
        assert_eq!(resolve_with(None, env(&all)).unwrap(), from_env);
        assert_eq!(
            resolve_with(None, env(&all[1..])).unwrap(),
            home.join(".config/aim/key")
        );
        // XDG_CONFIG_HOME replaces ~/.config; nothing there: an error naming what was tried.
        let e = resolve_with(None, env(&[("HOME", &home), ("XDG_CONFIG_HOME", &xdg)])).unwrap_err();
        assert!(e.to_string().contains("xdg/aim/key"), "{e}");
        assert!(e.to_string().contains("--key-file"), "{e}");
    }

    #[test]
    fn key_files_are_private_and_hold_a_key() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/key");
        let key = ApiKey::generate();
        write_key_file(&path, &key).unwrap();
        assert_eq!(read_key_file(&path).unwrap(), key.expose());
        assert!(write_key_file(&path, &key).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                read_key_file(&path),
                Err(AccessError::KeyFileNotPrivate { mode: 0o644, .. })
            ));
            let other = tmp.path().join("other");
            std::fs::write(&other, "hello").unwrap();
            std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(matches!(
                read_key_file(&other),
                Err(AccessError::NotAKey { .. })
            ));
        }
    }
}
