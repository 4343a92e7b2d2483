//! Eviction policies: which unpinned frame the buffer pool reuses on a miss.
//!
//! A policy is a pure state machine driven by the pool's events. The pool
//! owns the frames and the pins; the policy only mirrors which frame holds
//! which page (keyed by an opaque [`PageKey`]) plus whatever history it
//! needs, and answers [`EvictionPolicy::victim`] with a frame the pool's
//! predicate accepts. The contract every implementation follows:
//!
//! - `on_load(frame, page)` only for an empty frame; `on_access`, `on_evict`
//!   and `on_remove` only for a frame holding a page. Violations are pool bugs
//!   and panic.
//! - `victim` never returns a frame that is empty or that `evictable` rejects
//!   (pinned), and returns `Some` whenever some resident frame is evictable,
//!   however many pinned frames it has to skip. It only chooses: the frame
//!   stays resident until the pool calls `on_evict` (after writing it back),
//!   so a failed write-back just leaves it in place.
//! - `on_evict` means "evicted to make room": history-keeping policies
//!   remember the page as a ghost. `on_remove` means "the page is gone"
//!   (dropped table, truncated file): its history is forgotten too.
//!
//! | policy | idea | cost per event | victim |
//! |---|---|---|---|
//! | `clock` | second chance: a reference bit per frame, a sweeping hand | O(1) | amortised O(1), ≤ 2 sweeps |
//! | `lru` | least recently used | O(log n) | O(log n) + pinned skipped |
//! | `lru-k` | largest backward distance to the K-th (K = 2) last reference | O(log n) | O(log n) + skipped |
//! | `2q` | new pages wait in a FIFO (A1in); only pages re-referenced after leaving it (A1out ghost hit) enter the LRU main list (Am) | O(log n) | O(log n) + skipped |
//! | `arc` | recency list T1 and frequency list T2, with ghost lists B1/B2 steering the target size p of T1 | O(log n) | O(log n) + skipped |
//! | `lfu` | fewest references, ties by LRU, counts halved periodically (aging) | O(log n), O(n log n) every 16·n references | O(log n) + skipped |
//!
//! When each wins: LRU is best on recency-friendly workloads and costs
//! little, but one sequential scan larger than the pool flushes everything,
//! hot pages included. CLOCK approximates LRU with one bit and no list
//! reordering on hits (cheap under concurrency) and shares its weakness.
//! LRU-K, 2Q and ARC are scan resistant: a page seen once (every page of a
//! scan) ranks below pages seen twice (LRU-K: infinite K-distance; 2Q: stays
//! in A1in; ARC: stays in T1), so a scan only churns the probationary part
//! and the hot set survives. ARC additionally needs no tuning: it moves p
//! towards whichever of recency or frequency the ghosts show would have hit.
//! LFU keeps a stable hot set best but adapts slowly when it shifts; aging
//! bounds that lag.
//!
//! History of pages no longer cached is bounded, with named limits:
//! ARC keeps |T1| + |B1| ≤ n and |T1| + |T2| + |B1| + |B2| ≤ 2n (so ghosts
//! ≤ n once the pool is full); 2Q keeps |A1out| ≤ n/2 (`two_q.rs`); LRU-K keeps
//! at most n non-resident histories, dropping the longest-evicted first
//! (`lru_k.rs`). CLOCK, LRU and LFU keep nothing about evicted pages. A policy
//! for n frames therefore holds O(n) state whatever the trace.
//!
//! [`simulate_hit_rate`] runs a policy over a page trace in a tiny pool model
//! so benches and tests can compare policies without real I/O.

mod arc;
mod clock;
mod lfu;
mod lru;
mod lru_k;
mod recency;
mod residents;
mod simulate;
mod two_q;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

pub use arc::ArcPolicy;
pub use clock::ClockPolicy;
pub use lfu::LfuPolicy;
pub use lru::LruPolicy;
pub use lru_k::LruKPolicy;
pub use simulate::simulate_hit_rate;
pub use two_q::TwoQPolicy;

/// A frame of the buffer pool, numbered `0..frames`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FrameId(pub u32);

impl FrameId {
    /// The frame number as an index into per-frame vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub(crate) fn from_index(index: usize) -> Self {
        FrameId(u32::try_from(index).expect("frame index fits u32"))
    }
}

impl fmt::Display for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frame {}", self.0)
    }
}

/// Opaque identity of a cached page; the pool maps (file, page) to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageKey(pub u64);

impl fmt::Display for PageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "page key {}", self.0)
    }
}

/// Chooses which frame to evict; see the module doc for the contract.
pub trait EvictionPolicy: Send + fmt::Debug {
    /// The policy's configuration name (as parsed by [`PolicyKind`]).
    fn name(&self) -> &'static str;
    /// `page` was read into the empty `frame`.
    fn on_load(&mut self, frame: FrameId, page: PageKey);
    /// The page in `frame` was used again (a hit).
    fn on_access(&mut self, frame: FrameId);
    /// `frame` was emptied to make room; its page may be remembered as a ghost.
    fn on_evict(&mut self, frame: FrameId);
    /// `frame` was emptied because its page no longer exists; forget it.
    fn on_remove(&mut self, frame: FrameId);
    /// A resident frame for which `evictable` holds, or `None` if there is none.
    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId>;
    /// How many frames the policy believes hold a page.
    fn resident_count(&self) -> usize;
    /// Panics if the internal bookkeeping is inconsistent. O(n); for tests.
    fn check_invariants(&self);
}

/// The eviction policies RustyDB offers, by configuration name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    Clock,
    Lru,
    LruK,
    TwoQ,
    Arc,
    Lfu,
}

impl PolicyKind {
    /// Every policy, in documentation order.
    pub const ALL: [PolicyKind; 6] =
        [PolicyKind::Clock, PolicyKind::Lru, PolicyKind::LruK, PolicyKind::TwoQ, PolicyKind::Arc, PolicyKind::Lfu];

    /// The configuration name: `clock`, `lru`, `lru-k`, `2q`, `arc` or `lfu`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Clock => "clock",
            PolicyKind::Lru => "lru",
            PolicyKind::LruK => "lru-k",
            PolicyKind::TwoQ => "2q",
            PolicyKind::Arc => "arc",
            PolicyKind::Lfu => "lfu",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PolicyKind {
    type Err = Error;

    /// Parses a configuration name; the name comes from outside, so an
    /// unknown one is an [`Error::InvalidInput`] naming the valid ones.
    fn from_str(name: &str) -> Result<Self> {
        PolicyKind::ALL.into_iter().find(|kind| kind.name() == name).ok_or_else(|| {
            let valid: Vec<&str> = PolicyKind::ALL.iter().map(|kind| kind.name()).collect();
            Error::InvalidInput(format!("unknown eviction policy {name:?}; valid: {}", valid.join(", ")))
        })
    }
}

/// A fresh policy of `kind` for a pool of `frames` frames.
///
/// # Panics
/// If `frames` is 0 or does not fit a [`FrameId`]; the pool validates its
/// configuration before building a policy.
pub fn new_policy(kind: PolicyKind, frames: usize) -> Box<dyn EvictionPolicy> {
    match kind {
        PolicyKind::Clock => Box::new(ClockPolicy::new(frames)),
        PolicyKind::Lru => Box::new(LruPolicy::new(frames)),
        PolicyKind::LruK => Box::new(LruKPolicy::new(frames)),
        PolicyKind::TwoQ => Box::new(TwoQPolicy::new(frames)),
        PolicyKind::Arc => Box::new(ArcPolicy::new(frames)),
        PolicyKind::Lfu => Box::new(LfuPolicy::new(frames)),
    }
}
