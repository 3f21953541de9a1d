//! What the gate's benchmarks share: a deterministic generator and a Belgian-like age pyramid.

/// A deterministic generator (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in 0..n.
    #[allow(dead_code)]
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// An age from a Belgian-like pyramid (fewer people from 65, few from 85).
pub fn age(rng: &mut Rng) -> u32 {
    let u = rng.unit();
    if u < 0.80 {
        (rng.unit() * 65.0) as u32
    } else if u < 0.97 {
        65 + (rng.unit() * 20.0) as u32
    } else {
        85 + (rng.unit() * 15.0) as u32
    }
}
