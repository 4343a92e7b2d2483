//! An ordered set that remembers insertion (or last-touch) order.
//!
//! LRU lists, FIFO queues and ghost lists are all "a set of keys, oldest
//! first". Keys get a fresh stamp from a counter that only grows; two
//! `BTreeMap`s index key→stamp and stamp→key, so insert, touch and remove
//! are O(log n) and iteration from the oldest end is ordered and
//! deterministic (no intrusive linked list, no unsafe).

use std::collections::BTreeMap;

/// Keys in the order they were last pushed, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct RecencyQueue<K: Ord + Copy> {
    stamp_by_key: BTreeMap<K, u64>,
    key_by_stamp: BTreeMap<u64, K>,
    stamp_next: u64,
}

impl<K: Ord + Copy> RecencyQueue<K> {
    pub(crate) fn new() -> Self {
        RecencyQueue { stamp_by_key: BTreeMap::new(), key_by_stamp: BTreeMap::new(), stamp_next: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        assert_eq!(self.stamp_by_key.len(), self.key_by_stamp.len());
        self.stamp_by_key.len()
    }

    pub(crate) fn contains(&self, key: K) -> bool {
        self.stamp_by_key.contains_key(&key)
    }

    /// Makes `key` the newest entry, inserting it if absent.
    pub(crate) fn push_newest(&mut self, key: K) {
        self.remove(key);
        let stamp = self.stamp_next;
        // A u64 counter bumped once per event cannot wrap in practice; if it
        // ever did, ordering would silently break, so fail loudly instead.
        self.stamp_next = stamp.checked_add(1).expect("recency stamp overflow");
        self.stamp_by_key.insert(key, stamp);
        self.key_by_stamp.insert(stamp, key);
    }

    /// Removes `key`; returns whether it was present.
    pub(crate) fn remove(&mut self, key: K) -> bool {
        match self.stamp_by_key.remove(&key) {
            Some(stamp) => {
                let removed = self.key_by_stamp.remove(&stamp);
                assert!(removed == Some(key), "recency indexes disagree");
                true
            }
            None => false,
        }
    }

    /// Removes and returns the oldest key.
    pub(crate) fn pop_oldest(&mut self) -> Option<K> {
        let (_, key) = self.key_by_stamp.pop_first()?;
        let removed = self.stamp_by_key.remove(&key);
        assert!(removed.is_some(), "recency indexes disagree");
        Some(key)
    }

    /// The oldest key for which `accept` holds.
    pub(crate) fn oldest_matching(&self, accept: impl Fn(K) -> bool) -> Option<K> {
        self.key_by_stamp.values().copied().find(|&key| accept(key))
    }

    /// The oldest accepted key of this queue, else of `fallback`: how ARC and
    /// 2Q evict from their preferred list but never fail while the other
    /// list still has an evictable frame.
    pub(crate) fn oldest_matching_or(&self, fallback: &Self, accept: impl Fn(K) -> bool) -> Option<K> {
        self.oldest_matching(&accept).or_else(|| fallback.oldest_matching(&accept))
    }

    /// Keys oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = K> + '_ {
        self.key_by_stamp.values().copied()
    }

    /// Panics unless both indexes describe the same set.
    pub(crate) fn check_invariants(&self) {
        assert_eq!(self.stamp_by_key.len(), self.key_by_stamp.len());
        for (stamp, key) in &self.key_by_stamp {
            assert_eq!(self.stamp_by_key.get(key), Some(stamp));
            assert!(*stamp < self.stamp_next);
        }
    }
}
