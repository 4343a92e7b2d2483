//! The buffer pool: a fixed set of in-memory frames caching data-file pages.
//!
//! [`pool`] owns the frames, pins, latches, dirty tracking and the WAL rule;
//! [`policy`] holds the six eviction policies, pure deterministic state
//! machines that see the pool's events (load, hit, evict, remove) and answer
//! "which frame next?". Every page read goes through `env.storage`, so the
//! pool runs unchanged under the simulator.

pub mod policy;
pub mod pool;
