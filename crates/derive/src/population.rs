//! The insured population of a year, from POPU: one entry per person, from their last row.

use crate::DeriveError;
use crate::scan::{self, InputFile};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for coded identifiers: they are already uniformly random (keyed HMAC), so their
/// low 64 bits are a good hash.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64 ^ (i >> 64) as u64;
    }
}

/// A fast hasher for short keys (codes, packed integers), in the manner of rustc's FxHash:
/// not resistant to crafted collisions, which do not matter for keys the platform made or
/// checked itself.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // The multiply carries low bits upwards only: fold the high bits back down, since the
        // table picks its bucket from the low bits.
        self.0 ^ (self.0 >> 32)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

/// A hash map with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A map keyed by coded identifier.
pub type IdMap<V> = HashMap<u128, V, BuildHasherDefault<IdHasher>>;

/// One insured person in the year.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Coded identifier.
    pub id: u128,
    /// Insurer code of the last row.
    pub insurer: u16,
    /// Year of birth.
    pub birth_year: i16,
    /// `M` or `F`.
    pub sex: u8,
    /// Municipality NIS code of the last row.
    pub municipality: u32,
    /// Increased reimbursement on the last row.
    pub increased_reimbursement: bool,
    /// In a nursing home on any row of the year.
    pub nursing_home: bool,
    /// Latest death date of the year (days since epoch).
    pub death_date: Option<i32>,
    /// Quarters with a row (bit q−1).
    pub quarters: u8,
    // Ordering key of the last row: reference date, no exit date, insurer.
    last_key: (i32, bool, u16),
}

impl Person {
    fn merge(&mut self, o: Person) {
        self.nursing_home |= o.nursing_home;
        self.quarters |= o.quarters;
        self.death_date = self.death_date.max(o.death_date);
        if o.last_key > self.last_key {
            *self = Person {
                nursing_home: self.nursing_home,
                quarters: self.quarters,
                death_date: self.death_date,
                ..o
            };
        }
    }
}

const COLUMNS: &[&str] = &[
    "person_id",
    "birth_year",
    "sex",
    "municipality",
    "increased_reimbursement",
    "nursing_home",
    "exit_date",
    "death_date",
    "reference_date",
];

/// Reads the POPU files of a year: persons sorted by coded identifier.
pub fn read(files: &[InputFile]) -> Result<Vec<Person>, DeriveError> {
    let states = scan::scan(files, COLUMNS, IdMap::<Person>::default, |map, file, b| {
        let insurer: u16 = file.insurer.parse().unwrap_or(0);
        let quarter = file
            .period
            .rsplit('Q')
            .next()
            .and_then(|q| q.parse::<u8>().ok())
            .filter(|q| (1..=4).contains(q))
            .unwrap_or(1);
        let ids = scan::strings(b, "person_id")?;
        let birth = scan::int16s(b, "birth_year")?;
        let sex = scan::strings(b, "sex")?;
        let muni = scan::strings(b, "municipality")?;
        let bim = scan::booleans(b, "increased_reimbursement")?;
        let nh = scan::booleans(b, "nursing_home")?;
        let exit = scan::dates(b, "exit_date")?;
        let death = scan::dates(b, "death_date")?;
        let reference = scan::dates(b, "reference_date")?;
        use deltalake::arrow::array::Array;
        for i in 0..b.num_rows() {
            let Some(id) = scan::coded_at(ids, i) else {
                continue;
            };
            let p = Person {
                id,
                insurer,
                birth_year: birth.value(i),
                sex: sex.value(i).bytes().next().unwrap_or(b'?'),
                municipality: muni.value(i).parse().unwrap_or(0),
                increased_reimbursement: bim.value(i),
                nursing_home: nh.value(i),
                death_date: (!death.is_null(i)).then(|| death.value(i)),
                quarters: 1 << (quarter - 1),
                last_key: (reference.value(i), exit.is_null(i), insurer),
            };
            match map.entry(id) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(p),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(p);
                }
            }
        }
        Ok(())
    })?;
    let mut it = states.into_iter();
    let mut all = it.next().unwrap_or_default();
    for m in it {
        for (id, p) in m {
            match all.entry(id) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().merge(p),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(p);
                }
            }
        }
    }
    let mut persons: Vec<Person> = all.into_values().collect();
    persons.sort_unstable_by_key(|p| p.id);
    Ok(persons)
}

/// Index from coded identifier to position in the sorted person list.
pub fn index(persons: &[Person]) -> IdMap<u32> {
    let mut m = IdMap::with_capacity_and_hasher(persons.len(), Default::default());
    for (i, p) in persons.iter().enumerate() {
        m.insert(p.id, i as u32);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(reference: i32, no_exit: bool, insurer: u16, nh: bool, q: u8) -> Person {
        Person {
            id: 1,
            insurer,
            birth_year: 1950,
            sex: b'F',
            municipality: 11001 + u32::from(insurer),
            increased_reimbursement: insurer == 300,
            nursing_home: nh,
            death_date: None,
            quarters: 1 << (q - 1),
            last_key: (reference, no_exit, insurer),
        }
    }

    #[test]
    fn the_last_row_wins_and_flags_accumulate() {
        // Q2 at insurer 300 (with exit), Q3 at insurer 100: the Q3 row is the last.
        let mut a = p(180, false, 300, true, 2);
        a.merge(p(270, true, 100, false, 3));
        assert_eq!(a.insurer, 100);
        assert!(!a.increased_reimbursement);
        assert!(a.nursing_home, "any quarter in a nursing home counts");
        assert_eq!(a.quarters, 0b110);
        // Same reference date: the row without an exit date wins, whatever the order.
        let mut b = p(270, true, 100, false, 3);
        b.merge(p(270, false, 900, false, 3));
        assert_eq!(b.insurer, 100);
    }
}
