//! CLOCK (second chance): frames on a circle, one reference bit each.
//!
//! A load or hit sets the frame's bit. The hand sweeps: a set bit is cleared
//! and the frame passed over (its second chance), a clear bit makes the frame
//! the victim. Pinned frames are passed over without touching their bit, so
//! pinning does not cost a page its chance. After one full sweep every
//! evictable frame's bit is clear, so two sweeps always find one if any
//! exists: that bounds the loop.

use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// The second-chance approximation of LRU.
#[derive(Debug, Clone)]
pub struct ClockPolicy {
    residents: Residents,
    referenced: Vec<bool>,
    hand: usize,
}

impl ClockPolicy {
    pub fn new(frames: usize) -> Self {
        ClockPolicy { residents: Residents::new(frames), referenced: vec![false; frames], hand: 0 }
    }
}

impl EvictionPolicy for ClockPolicy {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        self.residents.load(frame, page);
        // The load is itself a reference: without the bit a page read for a
        // query could be evicted before the query touches it again.
        self.referenced[frame.index()] = true;
    }

    fn on_access(&mut self, frame: FrameId) {
        // Every buffer-pool hit lands here: a debug check only, so a hit does
        // not touch the resident table's cache line (`check_invariants`
        // covers it in tests).
        debug_assert!(self.residents.holds(frame), "{frame} accessed while it holds no page");
        self.referenced[frame.index()] = true;
    }

    fn on_evict(&mut self, frame: FrameId) {
        self.residents.clear(frame);
        self.referenced[frame.index()] = false;
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.on_evict(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let frames = self.residents.frames();
        let steps_max = 2 * frames;
        for _ in 0..steps_max {
            let frame = FrameId::from_index(self.hand);
            self.hand = (self.hand + 1) % frames;
            if !self.residents.holds(frame) || !evictable(frame) {
                continue;
            }
            if self.referenced[frame.index()] {
                self.referenced[frame.index()] = false;
            } else {
                return Some(frame);
            }
        }
        None
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        self.residents.check_invariants();
        assert!(self.hand < self.residents.frames());
        for (index, &bit) in self.referenced.iter().enumerate() {
            assert!(!bit || self.residents.holds(FrameId::from_index(index)), "empty frame {index} has its bit set");
        }
    }
}
