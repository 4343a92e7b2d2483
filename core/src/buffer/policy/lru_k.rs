//! LRU-K with K = 2 (O'Neil, O'Neil & Weikum, SIGMOD 1993).
//!
//! Each page keeps the times of its last two uncorrelated references, on a
//! logical clock that ticks once per load or hit. The victim is the page
//! whose second-newest reference is oldest (the largest backward
//! 2-distance). A page referenced only once has infinite distance and goes
//! first, least recently used first among them: that is what makes a scan
//! (every page seen once) unable to push out pages seen twice.
//!
//! Correlated references: a hit less than `correlated_period_ticks` after the
//! page's previous reference is part of the same burst (one query touching a
//! row twice) and does not count as a new reference; the paper's correction
//! shifts the older time by the burst's length instead. Pages inside their
//! correlated period are evicted only if nothing else is evictable. The
//! default period is 0 (every reference counts).
//!
//! History outlives residence so that a page evicted and soon read again
//! keeps its rank. It is bounded: at most `frames` non-resident histories,
//! the longest-evicted dropped first (a count bound standing in for the
//! paper's time-based Retained Information Period).

use std::collections::{BTreeMap, BTreeSet};

use super::recency::RecencyQueue;
use super::residents::Residents;
use super::{EvictionPolicy, FrameId, PageKey};

/// Reference history of one page, in logical ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct History {
    /// Newest uncorrelated reference.
    newest_ticks: u64,
    /// The one before it; `None` means infinite backward distance.
    second_newest_ticks: Option<u64>,
    /// Newest reference of any kind, correlated or not.
    last_ticks: u64,
}

impl History {
    /// Eviction order: infinite distance first, then oldest second-newest
    /// reference, ties by least recent use.
    fn rank(self) -> (Option<u64>, u64) {
        (self.second_newest_ticks, self.last_ticks)
    }
}

/// LRU-2 with an optional correlated-reference period.
#[derive(Debug, Clone)]
pub struct LruKPolicy {
    residents: Residents,
    history_by_frame: Vec<Option<History>>,
    eviction_order: BTreeSet<((Option<u64>, u64), FrameId)>,
    ghost_history: BTreeMap<PageKey, History>,
    ghost_order: RecencyQueue<PageKey>,
    ghost_count_max: usize,
    correlated_period_ticks: u64,
    now_ticks: u64,
}

impl LruKPolicy {
    pub fn new(frames: usize) -> Self {
        Self::with_correlated_period(frames, 0)
    }

    /// LRU-2 treating hits within `correlated_period_ticks` of the previous
    /// reference to the same page as one reference.
    pub fn with_correlated_period(frames: usize, correlated_period_ticks: u64) -> Self {
        LruKPolicy {
            residents: Residents::new(frames),
            history_by_frame: vec![None; frames],
            eviction_order: BTreeSet::new(),
            ghost_history: BTreeMap::new(),
            ghost_order: RecencyQueue::new(),
            ghost_count_max: frames,
            correlated_period_ticks,
            now_ticks: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.now_ticks = self.now_ticks.checked_add(1).expect("logical clock overflow");
        self.now_ticks
    }

    fn set_history(&mut self, frame: FrameId, history: History) {
        if let Some(old) = self.history_by_frame[frame.index()].replace(history) {
            let removed = self.eviction_order.remove(&(old.rank(), frame));
            assert!(removed, "{frame} missing from the eviction order");
        }
        let inserted = self.eviction_order.insert((history.rank(), frame));
        assert!(inserted);
    }

    /// Empties `frame` and returns the history of the page it held.
    fn take_history(&mut self, frame: FrameId) -> History {
        self.residents.clear(frame);
        let history = self.history_by_frame[frame.index()].take().expect("resident frame has a history");
        let removed = self.eviction_order.remove(&(history.rank(), frame));
        assert!(removed, "{frame} missing from the eviction order");
        history
    }

    /// Whether a miss now would still fall in the page's correlated period.
    /// The miss will be stamped `now + 1`, hence `<` where `on_access` uses
    /// `>` on an already ticked clock: both are the paper's `t - LAST > CRP`.
    fn is_correlated(&self, history: History) -> bool {
        self.now_ticks - history.last_ticks < self.correlated_period_ticks
    }
}

impl EvictionPolicy for LruKPolicy {
    fn name(&self) -> &'static str {
        "lru-k"
    }

    fn on_load(&mut self, frame: FrameId, page: PageKey) {
        self.residents.load(frame, page);
        let now = self.tick();
        let second_newest_ticks = match self.ghost_history.remove(&page) {
            Some(old) => {
                let removed = self.ghost_order.remove(page);
                assert!(removed, "ghost history without an order entry");
                Some(old.newest_ticks)
            }
            None => None,
        };
        self.set_history(frame, History { newest_ticks: now, second_newest_ticks, last_ticks: now });
    }

    fn on_access(&mut self, frame: FrameId) {
        assert!(self.residents.holds(frame), "{frame} accessed while it holds no page");
        let mut history = self.history_by_frame[frame.index()].expect("resident frame has a history");
        let now = self.tick();
        if now - history.last_ticks > self.correlated_period_ticks {
            // The paper shifts older times by the length of the burst that
            // just ended (last - newest), so the gap between bursts, not
            // within them, is the inter-arrival time. For K = 2 the shifted
            // time is simply the burst's last reference.
            history.second_newest_ticks = Some(history.last_ticks);
            history.newest_ticks = now;
        }
        history.last_ticks = now;
        self.set_history(frame, history);
    }

    fn on_evict(&mut self, frame: FrameId) {
        let page = self.residents.page(frame);
        let history = self.take_history(frame);
        self.ghost_history.insert(page, history);
        self.ghost_order.push_newest(page);
        while self.ghost_order.len() > self.ghost_count_max {
            let oldest = self.ghost_order.pop_oldest().expect("non-empty ghost order");
            self.ghost_history.remove(&oldest);
        }
        assert_eq!(self.ghost_history.len(), self.ghost_order.len());
    }

    fn on_remove(&mut self, frame: FrameId) {
        self.take_history(frame);
    }

    fn victim(&mut self, evictable: &dyn Fn(FrameId) -> bool) -> Option<FrameId> {
        let mut fallback = None;
        for &(_, frame) in &self.eviction_order {
            if !evictable(frame) {
                continue;
            }
            let history = self.history_by_frame[frame.index()].expect("ordered frame has a history");
            if !self.is_correlated(history) {
                return Some(frame);
            }
            fallback = fallback.or(Some(frame));
        }
        assert!(fallback.is_none_or(|frame| self.residents.holds(frame)));
        fallback
    }

    fn resident_count(&self) -> usize {
        self.residents.count()
    }

    fn check_invariants(&self) {
        self.residents.check_invariants();
        self.ghost_order.check_invariants();
        assert_eq!(self.eviction_order.len(), self.residents.count());
        for &(rank, frame) in &self.eviction_order {
            assert!(self.residents.holds(frame));
            assert_eq!(self.history_by_frame[frame.index()].map(History::rank), Some(rank));
        }
        assert_eq!(self.ghost_history.len(), self.ghost_order.len());
        assert!(self.ghost_history.len() <= self.ghost_count_max);
        assert!(self.ghost_order.iter().all(|page| self.ghost_history.contains_key(&page)));
        assert!(self.residents.iter().all(|(_, page)| !self.ghost_history.contains_key(&page)));
    }
}
