//! Local passwords: Argon2id (RFC 9106) with the OWASP parameters — 19 MiB of memory, two
//! passes, one lane — and a random 16-byte salt, kept as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). Verification reads the parameters from the
//! stored string, so raising them later re-hashes nothing and locks nobody out.

use crate::AccessError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore;

/// Memory cost in KiB (OWASP Password Storage Cheat Sheet: 19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory (OWASP: 2).
pub const ITERATIONS: u32 = 2;
/// Lanes (OWASP: 1).
pub const PARALLELISM: u32 = 1;
/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password`, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, AccessError> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(AccessError::WeakPassword {
            min: MIN_LENGTH,
            len,
        });
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .expect("the operating system's random source");
    let salt = SaltString::encode_b64(&salt).map_err(AccessError::Hash)?;
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(AccessError::Hash)?
        .to_string())
}

/// Does `password` match the stored PHC string? A malformed stored string matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A random password of 20 characters from an alphabet without look-alikes (about 113
/// bits), for accounts an administrator (or the demo) creates.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut b = [0u8; 1];
        rand::rngs::OsRng
            .try_fill_bytes(&mut b)
            .expect("the operating system's random source");
        // 224 = 4 × 56: no bias toward the first letters.
        if usize::from(b[0]) < 4 * ALPHABET.len() {
            out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate();
        assert_eq!(a.chars().count(), 20);
        assert_ne!(a, generate());
        assert!(hash(&a).is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterz", &a));
        assert!(!verify("correct horse battery", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(
            hash("short"),
            Err(AccessError::WeakPassword { len: 5, .. })
        ));
    }
}
