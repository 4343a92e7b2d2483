//! [`OsSeededRandom`]: the node's random stream, seeded once from the OS.
//!
//! Core requires every draw to come from the Env's generator; production has
//! no replay to protect, so one OS seed at start is enough. ChaCha12 is fast
//! and far better than the contract's "uniform enough".

use std::sync::{Mutex, PoisonError};

use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};
use rustydb_core::env::Random;
use rustydb_core::{Error, IoErrorKind, Result};

/// A ChaCha12 generator shared by all of a node's tasks.
pub struct OsSeededRandom {
    rng: Mutex<ChaCha12Rng>,
}

impl OsSeededRandom {
    /// Seeds from the operating system's entropy source.
    pub fn new() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|err| Error::io(IoErrorKind::Other, format!("seeding from the OS: {err}")))?;
        Ok(Self::from_rng(ChaCha12Rng::from_seed(seed)))
    }

    /// A reproducible stream, for tests and tools that want one.
    pub fn with_seed(seed: u64) -> Self {
        Self::from_rng(ChaCha12Rng::seed_from_u64(seed))
    }

    fn from_rng(rng: ChaCha12Rng) -> Self {
        OsSeededRandom { rng: Mutex::new(rng) }
    }
}

impl Random for OsSeededRandom {
    fn next_u64(&self) -> u64 {
        // A panic elsewhere while holding the lock cannot leave the generator
        // half-updated (a draw is one call), so a poisoned lock is still usable.
        self.rng.lock().unwrap_or_else(PoisonError::into_inner).next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(random: &OsSeededRandom) -> Vec<u64> {
        (0..4).map(|_| random.next_u64()).collect()
    }

    #[test]
    fn seeds_determine_the_stream() {
        assert_eq!(draws(&OsSeededRandom::with_seed(1)), draws(&OsSeededRandom::with_seed(1)));
        assert_ne!(draws(&OsSeededRandom::with_seed(1)), draws(&OsSeededRandom::with_seed(2)));
        let os = OsSeededRandom::new().unwrap();
        assert!((0..100).all(|_| os.below(10) < 10));
    }
}
