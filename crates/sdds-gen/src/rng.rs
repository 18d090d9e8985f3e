//! A tiny portable PRNG (SplitMix64) and key hashing.
//!
//! Every random decision is drawn from a generator seeded by hashing the run seed with the
//! identity of the thing being decided (a day, an agreement, an invoice line, ...). That
//! keeps each decision independent of how many other decisions were made before it, which
//! is what makes a day's output the same whether the run started a year or a week earlier.
//! Only integer arithmetic is used, so the output is identical on every platform.

/// Finalizer of SplitMix64: a bijective avalanche mix of 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes a sequence of words into one; order matters.
pub fn hash(parts: &[u64]) -> u64 {
    let mut h = 0x6a09_e667_f3bc_c908u64;
    for &p in parts {
        h = mix64(h ^ mix64(p.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    }
    h
}

/// SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream for the given key words.
    pub fn new(parts: &[u64]) -> Rng {
        Rng(hash(parts))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift (no modulo bias worth caring about here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }

    /// An element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index chosen with the given integer weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }
}

/// Weyl multipliers: fractional parts of square roots and of the golden ratio, times 2^64.
const WEYL: [u64; 17] = [
    0x6a09_e667_f3bc_c909,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0x7311_c281_2425_cfa1,
    0xa54f_f53a_5f1d_36f1,
    0x298b_075b_4b6a_5241,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0xbddd_422d_07e9_240b,
    0xdf7b_d629_e9db_362f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
    0x9523_ae45_47a1_4ccd,
    0xb0bf_1655_15a9_b349,
    0xcbbb_9d5d_c105_9ed9,
    0x1959_57c4_8bfd_9863,
    0x9e37_79b9_7f4a_7c15,
];

/// Low-discrepancy choices for the k-th item of a sequence (a deal).
///
/// Item `k` gets the point `k * a + b` (mod 2^64) of a Weyl sequence, and its choices are
/// decoded one after the other from nested sub-intervals, like arithmetic decoding: the
/// first choice picks a sub-interval by its weights, the point is rescaled within it, the
/// next choice splits that, and so on. Over any run of consecutive items every combination
/// of choices then occurs in almost exactly its joint share, which keeps the row count of
/// any window close to its target even when only a few hundred deals are involved.
#[derive(Clone, Copy, Debug)]
pub struct Strata {
    x: u64,
}

impl Strata {
    /// Stream `stream` (independent sequences for independent groups of choices).
    pub fn new(parts: &[u64], k: u64, stream: usize) -> Strata {
        let mut key = parts.to_vec();
        key.push(stream as u64);
        Strata {
            x: k.wrapping_mul(WEYL[stream % WEYL.len()])
                .wrapping_add(hash(&key)),
        }
    }

    /// Index chosen with the given integer weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        let scaled = u128::from(self.x) * total;
        let mut low: u128 = 0;
        for (i, &w) in weights.iter().enumerate() {
            let high = low + (u128::from(w) << 64);
            if scaled < high || i == weights.len() - 1 {
                self.x = if w == 0 {
                    0
                } else {
                    ((scaled - low) / u128::from(w)).min(u128::from(u64::MAX)) as u64
                };
                return i;
            }
            low = high;
        }
        weights.len() - 1
    }

    /// True for `per_mille` of the items.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.weighted(&[1000 - per_mille.min(1000), per_mille.min(1000)]) == 1
    }
}

/// Streams of [`Strata`].
pub mod stream {
    /// Kind, invoice lines, term, billing and endings of every agreement of a deal.
    pub const SHAPE: usize = 16;
    /// The buyer's country, home place and whether a returning buyer is looked for.
    pub const BUYER: usize = 0;
    /// The product.
    pub const PRODUCT: usize = 1;
}

/// Tags that keep the hash domains of different decisions apart.
pub mod tag {
    pub const WORLD: u64 = 1;
    pub const PRODUCT: u64 = 2;
    pub const OFFER: u64 = 3;
    pub const ROOT: u64 = 4;
    pub const ACCOUNT: u64 = 5;
    pub const GEN: u64 = 6;
    pub const INVOICE: u64 = 7;
    pub const LINE: u64 = 8;
    pub const USAGE: u64 = 9;
    pub const BATCH: u64 = 10;
    pub const ADJUST: u64 = 11;
    pub const FX: u64 = 12;
    pub const ID: u64 = 13;
    pub const REFUND: u64 = 14;
    pub const PICK: u64 = 15;
    pub const TAX: u64 = 16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_fixed() {
        // SplitMix64 reference values for state 0 (the stream below starts from hash([])).
        let mut r = Rng(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let a = Rng::new(&[1, 2, 3]).next_u64();
        assert_eq!(a, Rng::new(&[1, 2, 3]).next_u64());
        assert_ne!(a, Rng::new(&[1, 3, 2]).next_u64());
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = Rng::new(&[7]);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.range(-3, 3);
            assert!((-3..=3).contains(&x));
            assert!(r.weighted(&[0, 5, 0, 1]) % 2 == 1);
        }
    }

    #[test]
    fn strata_hit_joint_shares_over_any_run() {
        for start in [0u64, 1_000, 123_457] {
            let mut counts = [[0u32; 2]; 3];
            for k in start..start + 600 {
                let mut s = Strata::new(&[9], k, stream::SHAPE);
                let kind = s.weighted(&[3, 2, 1]);
                let renew = s.chance(550);
                counts[kind][usize::from(renew)] += 1;
            }
            for (kind, share) in [(0, 300.0), (1, 200.0), (2, 100.0)] {
                let renewed = f64::from(counts[kind][1]);
                assert!((renewed - share * 0.55).abs() <= 3.0, "{counts:?}");
            }
        }
    }
}
