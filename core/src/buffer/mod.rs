//! The buffer pool: a fixed set of in-memory frames caching file pages.
//!
//! The pool will own N frames of 4 KiB (numbered `0..N`, never grown), the
//! map from (file, page) to the frame holding it, pin counts that keep a
//! frame in place while a caller reads or writes it, dirty flags with the
//! LSN that must be durable in the WAL before the page may be written back,
//! and an eviction policy that chooses which unpinned frame to reuse on a
//! miss. Every page read goes through `env.storage`, so the pool runs
//! unchanged under the simulator.
//!
//! For now only the eviction policies exist ([`policy`]): pure, deterministic
//! data structures that see the pool's events (load, hit, evict, remove) and
//! answer "which frame next?". They do no I/O and hold no locks, so the pool
//! can call them under its own latch and tests can drive them directly.

pub mod policy;
