//! The common data model of the aim platform.
//!
//! Everything the other crates agree on lives here: the source databases an insurer
//! delivers ([`Database`]), their tables and typed, documented columns ([`schema`]),
//! the insurers ([`Insurer`]), delivery periods ([`Period`]) and the code systems the
//! quality rules and products check against ([`codes`], [`geography`]).
//!
//! This crate never reads a delivery, never touches the warehouse and never sees a raw
//! national number: it only describes.

pub mod codes;
pub mod database;
pub mod delivery;
pub mod docs;
pub mod geography;
pub mod html;
pub mod insurer;
pub mod katz;
pub mod period;
pub mod schema;

pub use database::Database;
pub use insurer::Insurer;
pub use period::Period;
pub use schema::{ColumnDef, ColumnType, TableDef};

/// Length, in hexadecimal characters, of a coded identifier (person or provider) as
/// produced by the trusted third party: 128 bits of a keyed HMAC-SHA256.
pub const CODED_ID_LEN: usize = 32;

/// True when `s` has the shape of a coded identifier: exactly [`CODED_ID_LEN`]
/// lowercase hexadecimal characters.
pub fn is_coded_id(s: &str) -> bool {
    s.len() == CODED_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_ids_are_32_lowercase_hex() {
        assert!(is_coded_id("0123456789abcdef0123456789abcdef"));
        assert!(!is_coded_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!is_coded_id("85073003328"));
        assert!(!is_coded_id(""));
    }
}
