//! 2Q, the full version (Johnson & Shasha, VLDB 1994).
//!
//! Three queues: A1in, a FIFO of frames loaded once; A1out, a FIFO of page
//! keys recently evicted from A1in (ghosts, no frame); Am, an LRU of frames
//! whose page was referenced again after leaving A1in. A hit in A1in does
//! nothing: references close together (one query touching a page twice) are
//! correlated and prove nothing. A miss whose page is in A1out goes to Am;
//! any other miss goes to A1in. Victims come from A1in while it is above its
//! target size Kin, otherwise from Am's LRU end; only A1in victims become
//! ghosts. A scan therefore flows through A1in and A1out and never displaces
//! Am. Sizes follow the paper's recommendation: Kin = n/4, Kout = n/2.

use super::recency::RecencyQueue;
use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// Target share of the frames for A1in (paper: 25%).
const A1_IN_PERCENT: usize = 25;
/// Bound on A1out ghosts as a share of the frames (paper: 50%).
const A1_OUT_PERCENT: usize = 50;

/// The 2Q policy with A1in, A1out and Am.
#[derive(Debug, Clone)]
pub struct TwoQPolicy {
    residents: Residents,
    a1_in: RecencyQueue<FrameId>,
    a1_out: RecencyQueue<PageKey>,
    am: RecencyQueue<FrameId>,
    a1_in_count_target: usize,
    a1_out_count_max: usize,
}

impl TwoQPolicy {
    pub fn new(frames: usize) -> Self {
        TwoQPolicy {
            residents: Residents::new(frames),
            a1_in: RecencyQueue::new(),
            a1_out: RecencyQueue::new(),
            am: RecencyQueue::new(),
            a1_in_count_target: (frames * A1_IN_PERCENT / 100).max(1),
            a1_out_count_max: (frames * A1_OUT_PERCENT / 100).max(1),
        }
    }

    /// Empties `frame` from whichever resident queue holds it; returns
    /// whether that was A1in.
    fn forget_frame(&mut self, frame: FrameId) -> bool {
        if self.a1_in.remove(frame) {
            return true;
        }
        let removed = self.am.remove(frame);
        assert!(removed, "{frame} resident but in neither A1in nor Am");
        false
    }
}

impl EvictionPolicy for TwoQPolicy {
    fn name(&self) -> &'static str {
        "2q"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        self.residents.load(frame, page);
        if self.a1_out.remove(page) {
            self.am.push_newest(frame);
        } else {
            self.a1_in.push_newest(frame);
        }
    }

    fn on_access(&mut self, frame: FrameId) {
        if self.am.contains(frame) {
            self.am.push_newest(frame);
        } else {
            assert!(self.a1_in.contains(frame), "{frame} accessed while it holds no page");
        }
    }

    fn on_evict(&mut self, frame: FrameId) {
        let page = self.residents.clear(frame);
        if self.forget_frame(frame) {
            self.a1_out.push_newest(page);
            while self.a1_out.len() > self.a1_out_count_max {
                self.a1_out.pop_oldest();
            }
        }
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.residents.clear(frame);
        self.forget_frame(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let (preferred, fallback) =
            if self.a1_in.len() > self.a1_in_count_target { (&self.a1_in, &self.am) } else { (&self.am, &self.a1_in) };
        let choice = preferred.oldest_matching_or(fallback, evictable);
        assert!(choice.is_none_or(|frame| self.residents.holds(frame)));
        choice
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        self.residents.check_invariants();
        self.a1_in.check_invariants();
        self.a1_out.check_invariants();
        self.am.check_invariants();
        assert_eq!(self.a1_in.len() + self.am.len(), self.residents.count());
        assert!(self.a1_in.iter().all(|frame| self.residents.holds(frame) && !self.am.contains(frame)));
        assert!(self.am.iter().all(|frame| self.residents.holds(frame)));
        assert!(self.a1_out.len() <= self.a1_out_count_max);
        assert!(self.residents.iter().all(|(_, page)| !self.a1_out.contains(page)), "a resident page is a ghost");
    }
}
