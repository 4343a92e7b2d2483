//! Randomness: a seeded generator shared by a node's tasks.
//!
//! Guarantees: none about quality beyond "uniform enough for jitter, ids and
//! sampling". In the simulator the stream is derived from the run's seed, so
//! every draw replays; in production the seed comes from the OS once at start.
//! Engine code must never take randomness from anywhere else.

/// A source of random bits.
pub trait Random: Send + Sync {
    /// The next 64 random bits.
    fn next_u64(&self) -> u64;

    /// A value uniformly drawn from `0..bound` (`bound` must be positive).
    fn below(&self, bound: u64) -> u64 {
        assert!(bound > 0, "Random::below needs a positive bound");
        // Lemire's multiply-shift: unbiased enough for engine use and cheap.
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Fills `bytes` with random bits.
    fn fill(&self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// A tiny deterministic generator (SplitMix64) for places that need a local,
/// reproducible stream derived from one draw of an Env's [`Random`], such as
/// payload generation in tests and workloads.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
