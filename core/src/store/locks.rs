//! Table locks: exclusive, held by a transaction until it commits or rolls back.
//!
//! The storage engine's unit of isolation for now is a whole table (a heap or
//! a B+Tree, and the catalog). One writer per table at a time is what makes
//! page-oriented undo correct: no other transaction can move or reuse the
//! bytes a transaction changed before it ends. (Row-level MVCC comes later
//! and replaces this for user tables.)
//!
//! A transaction waits for a held lock unless waiting would close a cycle in
//! the waits-for graph (each waiting transaction waits for exactly one lock,
//! so the graph is a set of chains, and the check follows one chain): then
//! the requester gets [`Error::Conflict`] ("deadlock"), rolls back and may
//! retry. Detection rather than prevention (wait-die, wound-wait) because
//! prevention aborts transactions that would merely have waited a moment:
//! with table locks, concurrent writers of one table always conflict.
//!
//! Locks are released when the commit record is in the log buffer, before it
//! is durable ("early lock release"): any transaction that then sees the
//! changes logs its own commit after this one, so it can never be durable
//! while this one is not.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use futures::channel::oneshot;

use crate::error::{Error, Result};
use crate::wal::TxnId;

/// What a lock protects: a table, named by its root page number.
pub type LockId = u64;

/// The most transactions that may wait for one lock; more is a runaway workload, not a queue.
pub const MAX_WAITERS_PER_LOCK: usize = 1024;

#[derive(Default)]
struct Entry {
    owner: Option<TxnId>,
    waiters: Vec<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Locks {
    entries: BTreeMap<LockId, Entry>,
    /// The lock each waiting transaction waits for.
    waits_for: BTreeMap<TxnId, LockId>,
}

impl Locks {
    /// Whether `txn` waiting for `id` would close a cycle.
    fn would_deadlock(&self, txn: TxnId, id: LockId) -> bool {
        let mut lock = id;
        for _ in 0..=self.waits_for.len() {
            let Some(owner) = self.entries.get(&lock).and_then(|entry| entry.owner) else { return false };
            if owner == txn {
                return true;
            }
            match self.waits_for.get(&owner) {
                Some(next) => lock = *next,
                None => return false,
            }
        }
        true
    }
}

/// Every table lock.
#[derive(Default)]
pub struct LockTable {
    locks: Mutex<Locks>,
}

impl LockTable {
    fn lock(&self) -> MutexGuard<'_, Locks> {
        self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `id` for `txn`, waiting for its owner unless that would deadlock.
    pub async fn acquire(&self, txn: TxnId, id: LockId) -> Result<()> {
        loop {
            let receiver = {
                let mut locks = self.lock();
                let deadlock = locks.would_deadlock(txn, id);
                let entry = locks.entries.entry(id).or_default();
                match entry.owner {
                    None => {
                        entry.owner = Some(txn);
                        return Ok(());
                    }
                    Some(owner) if owner == txn => return Ok(()),
                    Some(owner) if deadlock => {
                        return Err(Error::Conflict(format!(
                            "deadlock: {txn} would wait for table lock {id} held by {owner}, which waits for {txn}"
                        )));
                    }
                    Some(_) if entry.waiters.len() >= MAX_WAITERS_PER_LOCK => {
                        return Err(Error::Conflict(format!("too many waiters for table lock {id}")));
                    }
                    Some(_) => {
                        let (sender, receiver) = oneshot::channel();
                        entry.waiters.push(sender);
                        locks.waits_for.insert(txn, id);
                        receiver
                    }
                }
            };
            // Woken when the owner releases; try again. The guard forgets the wait even if this
            // future is dropped mid-wait, so no stale edge can fake a deadlock later.
            let waiting = Waiting { table: self, txn };
            let _ = receiver.await;
            drop(waiting);
        }
    }

    /// Releases every lock in `ids` held by `txn` and wakes their waiters.
    pub fn release_all(&self, txn: TxnId, ids: &[LockId]) {
        let mut locks = self.lock();
        for id in ids {
            let Some(entry) = locks.entries.get_mut(id) else { continue };
            if entry.owner == Some(txn) {
                entry.owner = None;
                for waiter in entry.waiters.drain(..) {
                    let _ = waiter.send(());
                }
                locks.entries.remove(id);
            }
        }
    }
}

/// An edge of the waits-for graph, removed when dropped.
struct Waiting<'a> {
    table: &'a LockTable,
    txn: TxnId,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.table.lock().waits_for.remove(&self.txn);
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn a_wait_that_closes_a_cycle_is_refused_and_release_frees() {
        let table = LockTable::default();
        block_on(table.acquire(TxnId(5), 1)).unwrap();
        block_on(table.acquire(TxnId(5), 1)).unwrap();
        block_on(table.acquire(TxnId(9), 2)).unwrap();
        // 5 waits for 2 (held by 9); then 9 asking for 1 (held by 5) closes the cycle.
        table.lock().waits_for.insert(TxnId(5), 2);
        assert!(matches!(block_on(table.acquire(TxnId(9), 1)), Err(Error::Conflict(_))));
        table.lock().waits_for.remove(&TxnId(5));
        table.release_all(TxnId(5), &[1]);
        block_on(table.acquire(TxnId(9), 1)).unwrap();
    }
}
