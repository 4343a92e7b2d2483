//! Table locks: exclusive, held by a transaction until it commits or rolls back.
//!
//! The storage engine's unit of isolation for now is a whole table (a heap or
//! a B+Tree, and the catalog). One writer per table at a time is what makes
//! page-oriented undo correct: no other transaction can move or reuse the
//! bytes a transaction changed before it ends. (Row-level MVCC comes later
//! and replaces this for user tables.)
//!
//! Deadlocks are prevented, not detected, with *wait-die*: a transaction may
//! wait for a lock held by a younger one (larger id) and dies (gets
//! [`Error::Conflict`], rolls back, retries) when it would wait for an older
//! one. Waits therefore only go from old to young and can never form a cycle.
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

/// Every table lock.
#[derive(Default)]
pub struct LockTable {
    locks: Mutex<BTreeMap<LockId, Entry>>,
}

impl LockTable {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<LockId, Entry>> {
        self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes `id` for `txn`, waiting for a younger owner, dying for an older one.
    pub async fn acquire(&self, txn: TxnId, id: LockId) -> Result<()> {
        loop {
            let receiver = {
                let mut locks = self.lock();
                let entry = locks.entry(id).or_default();
                match entry.owner {
                    None => {
                        entry.owner = Some(txn);
                        return Ok(());
                    }
                    Some(owner) if owner == txn => return Ok(()),
                    Some(owner) if owner < txn => {
                        return Err(Error::Conflict(format!(
                            "{txn} would wait for older {owner} holding table lock {id} (wait-die)"
                        )));
                    }
                    Some(_) => {
                        if entry.waiters.len() >= MAX_WAITERS_PER_LOCK {
                            return Err(Error::Conflict(format!("too many waiters for table lock {id}")));
                        }
                        let (sender, receiver) = oneshot::channel();
                        entry.waiters.push(sender);
                        receiver
                    }
                }
            };
            // Woken when the owner releases (or the lock table is dropped); try again.
            let _ = receiver.await;
        }
    }

    /// Releases every lock in `ids` held by `txn` and wakes their waiters.
    pub fn release_all(&self, txn: TxnId, ids: &[LockId]) {
        let mut locks = self.lock();
        for id in ids {
            let Some(entry) = locks.get_mut(id) else { continue };
            if entry.owner == Some(txn) {
                entry.owner = None;
                for waiter in entry.waiters.drain(..) {
                    let _ = waiter.send(());
                }
                locks.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn younger_dies_older_waits_and_release_frees() {
        let table = LockTable::default();
        block_on(table.acquire(TxnId(5), 1)).unwrap();
        block_on(table.acquire(TxnId(5), 1)).unwrap();
        assert!(matches!(block_on(table.acquire(TxnId(9), 1)), Err(Error::Conflict(_))));
        table.release_all(TxnId(5), &[1]);
        block_on(table.acquire(TxnId(9), 1)).unwrap();
    }
}
