//! LFU: evict the frame whose page was referenced least often.
//!
//! Each resident page counts its references (the load counts as one); ties
//! are broken by least recent use, so among equally cold pages the oldest
//! goes. Plain LFU never forgets: a page hot an hour ago would outrank
//! today's working set forever. Aging fixes that: every
//! `AGING_PERIOD_REFERENCES_PER_FRAME × frames` references all counts are
//! halved (rounding up, so a resident page keeps at least 1), making old
//! popularity decay geometrically. Counts die with eviction: LFU keeps no
//! history of pages it does not hold.

use std::collections::BTreeSet;

use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// References per frame between two halvings of every count.
const AGING_PERIOD_REFERENCES_PER_FRAME: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    count: u32,
    last_ticks: u64,
}

impl Usage {
    fn rank(self) -> (u32, u64) {
        (self.count, self.last_ticks)
    }
}

/// Least frequently used, ties by LRU, with periodic aging.
#[derive(Debug, Clone)]
pub struct LfuPolicy {
    residents: Residents,
    usage_by_frame: Vec<Option<Usage>>,
    eviction_order: BTreeSet<((u32, u64), FrameId)>,
    now_ticks: u64,
    references_since_aging: usize,
    aging_period_references: usize,
}

impl LfuPolicy {
    pub fn new(frames: usize) -> Self {
        LfuPolicy {
            residents: Residents::new(frames),
            usage_by_frame: vec![None; frames],
            eviction_order: BTreeSet::new(),
            now_ticks: 0,
            references_since_aging: 0,
            aging_period_references: AGING_PERIOD_REFERENCES_PER_FRAME * frames,
        }
    }

    /// Advances the logical clock, aging every count when a period ends.
    fn tick(&mut self) -> u64 {
        self.now_ticks = self.now_ticks.checked_add(1).expect("logical clock overflow");
        self.references_since_aging += 1;
        if self.references_since_aging >= self.aging_period_references {
            self.references_since_aging = 0;
            self.halve_counts();
        }
        self.now_ticks
    }

    fn halve_counts(&mut self) {
        self.eviction_order.clear();
        for (index, usage) in self.usage_by_frame.iter_mut().enumerate() {
            if let Some(usage) = usage {
                usage.count = usage.count.div_ceil(2);
                self.eviction_order.insert((usage.rank(), FrameId::from_index(index)));
            }
        }
        assert_eq!(self.eviction_order.len(), self.residents.count());
    }

    fn set_usage(&mut self, frame: FrameId, usage: Option<Usage>) {
        let old = std::mem::replace(&mut self.usage_by_frame[frame.index()], usage);
        if let Some(old) = old {
            let removed = self.eviction_order.remove(&(old.rank(), frame));
            assert!(removed, "{frame} missing from the eviction order");
        }
        if let Some(usage) = usage {
            let inserted = self.eviction_order.insert((usage.rank(), frame));
            assert!(inserted);
        }
    }
}

impl EvictionPolicy for LfuPolicy {
    fn name(&self) -> &'static str {
        "lfu"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        // Tick first: aging rebuilds the order from the frames that hold a
        // usage, which this one does not yet.
        let now = self.tick();
        self.residents.load(frame, page);
        self.set_usage(frame, Some(Usage { count: 1, last_ticks: now }));
    }

    fn on_access(&mut self, frame: FrameId) {
        assert!(self.residents.holds(frame), "{frame} accessed while it holds no page");
        let now = self.tick();
        let usage = self.usage_by_frame[frame.index()].expect("resident frame has a usage count");
        // Aging keeps counts near the period length; saturating only guards
        // a pathological configuration.
        let count = usage.count.saturating_add(1);
        self.set_usage(frame, Some(Usage { count, last_ticks: now }));
    }

    fn on_evict(&mut self, frame: FrameId) {
        self.residents.clear(frame);
        self.set_usage(frame, None);
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.on_evict(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let choice = self.eviction_order.iter().map(|&(_, frame)| frame).find(|&frame| evictable(frame));
        assert!(choice.is_none_or(|frame| self.residents.holds(frame)));
        choice
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        self.residents.check_invariants();
        assert_eq!(self.eviction_order.len(), self.residents.count());
        assert!(self.references_since_aging < self.aging_period_references);
        for &(rank, frame) in &self.eviction_order {
            assert!(self.residents.holds(frame));
            let usage = self.usage_by_frame[frame.index()].expect("ordered frame has a usage count");
            assert_eq!(usage.rank(), rank);
            assert!(usage.count >= 1);
        }
    }
}
