//! ARC, Adaptive Replacement Cache (Megiddo & Modha, FAST 2003).
//!
//! Resident frames live in T1 (pages referenced once since they entered)
//! or T2 (referenced at least twice); both are LRU ordered. Evicted pages
//! leave a ghost key in B1 (from T1) or B2 (from T2). A miss that hits a
//! ghost shows which list would have kept the page with more room, and moves
//! the target size p of T1 towards it: a B1 hit grows p by max(1, |B2|/|B1|),
//! a B2 hit shrinks it by max(1, |B1|/|B2|). The victim is T1's LRU frame
//! while |T1| > p, otherwise T2's. A scan enters T1 and never reaches T2, so
//! it cannot flush pages in T2.
//!
//! Two departures from the paper, both forced by the pool's interface:
//! the victim is chosen before the pool knows which page it will load, so
//! the paper's tie rule ("prefer T1 when |T1| = p and the new page is in
//! B2") is dropped and p adapts at `on_load`, one eviction later than in the
//! paper; and pinned frames are skipped, falling back to the other list when
//! the preferred one has no evictable frame.
//!
//! Bounds (n = frames): |T1| + |T2| ≤ n, |T1| + |B1| ≤ n, |B1| + |B2| ≤ n,
//! hence at most 2n keys in all, as in the paper.

use super::recency::RecencyQueue;
use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// Adaptive replacement between a recency list and a frequency list.
#[derive(Debug, Clone)]
pub struct ArcPolicy {
    residents: Residents,
    t1: RecencyQueue<FrameId>,
    t2: RecencyQueue<FrameId>,
    b1: RecencyQueue<PageKey>,
    b2: RecencyQueue<PageKey>,
    /// The paper's p: how many frames T1 should hold, in `0..=frames`.
    t1_count_target: usize,
}

impl ArcPolicy {
    pub fn new(frames: usize) -> Self {
        ArcPolicy {
            residents: Residents::new(frames),
            t1: RecencyQueue::new(),
            t2: RecencyQueue::new(),
            b1: RecencyQueue::new(),
            b2: RecencyQueue::new(),
            t1_count_target: 0,
        }
    }

    /// Drops the oldest ghosts until the directory bounds hold again.
    fn trim_ghosts(&mut self) {
        let frames = self.residents.frames();
        while self.t1.len() + self.b1.len() > frames && self.b1.pop_oldest().is_some() {}
        while self.b1.len() + self.b2.len() > frames {
            // B1 is already bounded through |T1| + |B1|; B2 pays first.
            if self.b2.pop_oldest().is_none() {
                self.b1.pop_oldest();
            }
        }
        assert!(self.t1.len() + self.b1.len() <= frames);
        assert!(self.b1.len() + self.b2.len() <= frames);
    }

    /// Empties `frame` from T1 or T2; returns whether it was in T1.
    fn forget_frame(&mut self, frame: FrameId) -> bool {
        if self.t1.remove(frame) {
            return true;
        }
        let removed = self.t2.remove(frame);
        assert!(removed, "{frame} resident but in neither T1 nor T2");
        false
    }
}

impl EvictionPolicy for ArcPolicy {
    fn name(&self) -> &'static str {
        "arc"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        self.residents.load(frame, page);
        let frames = self.residents.frames();
        let (b1_count, b2_count) = (self.b1.len(), self.b2.len());
        if self.b1.remove(page) {
            let delta = if b1_count >= b2_count { 1 } else { b2_count / b1_count };
            self.t1_count_target = (self.t1_count_target + delta).min(frames);
            self.t2.push_newest(frame);
        } else if self.b2.remove(page) {
            let delta = if b2_count >= b1_count { 1 } else { b1_count / b2_count };
            self.t1_count_target = self.t1_count_target.saturating_sub(delta);
            self.t2.push_newest(frame);
        } else {
            self.t1.push_newest(frame);
        }
        self.trim_ghosts();
        assert!(self.t1_count_target <= frames);
    }

    fn on_access(&mut self, frame: FrameId) {
        if !self.t1.remove(frame) {
            assert!(self.t2.contains(frame), "{frame} accessed while it holds no page");
        }
        self.t2.push_newest(frame);
    }

    fn on_evict(&mut self, frame: FrameId) {
        let page = self.residents.clear(frame);
        if self.forget_frame(frame) {
            self.b1.push_newest(page);
        } else {
            self.b2.push_newest(page);
        }
        self.trim_ghosts();
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.residents.clear(frame);
        self.forget_frame(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let (preferred, fallback) =
            if self.t1.len() > self.t1_count_target { (&self.t1, &self.t2) } else { (&self.t2, &self.t1) };
        let choice = preferred.oldest_matching_or(fallback, evictable);
        assert!(choice.is_none_or(|frame| self.residents.holds(frame)));
        choice
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        let frames = self.residents.frames();
        self.residents.check_invariants();
        for queue in [&self.t1, &self.t2] {
            queue.check_invariants();
            assert!(queue.iter().all(|frame| self.residents.holds(frame)));
        }
        self.b1.check_invariants();
        self.b2.check_invariants();
        assert_eq!(self.t1.len() + self.t2.len(), self.residents.count());
        assert!(self.t1.iter().all(|frame| !self.t2.contains(frame)));
        assert!(self.b1.iter().all(|page| !self.b2.contains(page)));
        assert!(self.residents.iter().all(|(_, page)| !self.b1.contains(page) && !self.b2.contains(page)));
        assert!(self.t1.len() + self.b1.len() <= frames);
        assert!(self.b1.len() + self.b2.len() <= frames);
        assert!(self.t1_count_target <= frames);
    }
}
