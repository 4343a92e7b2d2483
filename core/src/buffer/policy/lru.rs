//! LRU: evict the frame whose page was used least recently.
//!
//! Loads and hits move a frame to the newest end of one recency queue; the
//! victim is the oldest evictable frame. Pinned frames sit at the old end
//! until unpinned, so the search skips them rather than reordering them.

use super::recency::RecencyQueue;
use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// Least recently used.
#[derive(Debug, Clone)]
pub struct LruPolicy {
    residents: Residents,
    recency: RecencyQueue<FrameId>,
}

impl LruPolicy {
    pub fn new(frames: usize) -> Self {
        LruPolicy { residents: Residents::new(frames), recency: RecencyQueue::new() }
    }
}

impl EvictionPolicy for LruPolicy {
    fn name(&self) -> &'static str {
        "lru"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        self.residents.load(frame, page);
        self.recency.push_newest(frame);
    }

    fn on_access(&mut self, frame: FrameId) {
        assert!(self.recency.contains(frame), "{frame} accessed while it holds no page");
        self.recency.push_newest(frame);
    }

    fn on_evict(&mut self, frame: FrameId) {
        self.residents.clear(frame);
        let removed = self.recency.remove(frame);
        assert!(removed, "{frame} resident but not in the recency queue");
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.on_evict(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let choice = self.recency.oldest_matching(evictable);
        assert!(choice.is_none_or(|frame| self.residents.holds(frame)));
        choice
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        self.residents.check_invariants();
        self.recency.check_invariants();
        assert_eq!(self.recency.len(), self.residents.count());
        assert!(self.recency.iter().all(|frame| self.residents.holds(frame)));
    }
}
