//! The lock manager: two-phase locks on tables and rows, held until the
//! transaction ends, with FIFO queues, upgrades, deadlock detection and
//! timeouts.
//!
//! Modes are PostgreSQL's eight table lock modes, with its conflict table;
//! rows use two of them (`Share` for `FOR SHARE`, `Exclusive` for writes and
//! `FOR UPDATE`). A transaction may hold several modes on one target; asking
//! for a mode it lacks is an upgrade and queues ahead of transactions that
//! hold nothing there (they would wait behind it anyway, and an upgrader
//! queued behind them could deadlock with them needlessly).
//!
//! Waits are futures: a waiter parks on a one-shot channel that the releaser
//! completes when it hands the lock over, so no thread blocks and the
//! simulator interleaves waiters like any other task. A waiter that has
//! waited `deadlock_check_after` searches the wait-for graph for a cycle
//! through itself; if it finds one it is the victim and fails with
//! [`Error::Deadlock`], naming the cycle. (As in PostgreSQL, the transaction
//! that completes a cycle is the one whose check fires first, and checking
//! only after a delay keeps the search off the path of ordinary short waits.)
//! A wait longer than the transaction's lock timeout fails with
//! [`Error::LockTimeout`].
//!
//! The lock table is split into [`SHARDS`] shards by a hash of the target,
//! each under its own mutex, so unrelated transactions do not contend. Only
//! the deadlock search locks every shard (in index order, the only place
//! more than one is held) to see one consistent graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{Either, select};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::store::TableId;
use crate::wal::TxnId;

/// Shards of the lock table.
pub const SHARDS: usize = 16;
/// Most transactions queued for one target; more is a runaway workload.
pub const MAX_WAITERS_PER_TARGET: usize = 4096;

/// What a lock protects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockTarget {
    Table(TableId),
    Row(TableId, Vec<u8>),
}

impl std::fmt::Display for LockTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockTarget::Table(table) => write!(f, "{table}"),
            LockTarget::Row(table, key) => write!(f, "row {} of {table}", super::version::hex(key)),
        }
    }
}

/// PostgreSQL's lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The modes this one conflicts with, as a bit set (PostgreSQL's table).
    fn conflicts(self) -> u8 {
        use LockMode::*;
        let modes: &[LockMode] = match self {
            AccessShare => &[AccessExclusive],
            RowShare => &[Exclusive, AccessExclusive],
            RowExclusive => &[Share, ShareRowExclusive, Exclusive, AccessExclusive],
            ShareUpdateExclusive => &[ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive],
            Share => &[RowExclusive, ShareUpdateExclusive, ShareRowExclusive, Exclusive, AccessExclusive],
            ShareRowExclusive => {
                &[RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive]
            }
            Exclusive => {
                &[RowShare, RowExclusive, ShareUpdateExclusive, Share, ShareRowExclusive, Exclusive, AccessExclusive]
            }
            AccessExclusive => &LockMode::ALL,
        };
        modes.iter().fold(0, |bits, mode| bits | mode.bit())
    }

    /// Whether holding `held` (a bit set) blocks this mode.
    fn blocked_by(self, held: u8) -> bool {
        self.conflicts() & held != 0
    }
}

struct Waiter {
    txn: TxnId,
    mode: LockMode,
    grant: oneshot::Sender<()>,
}

#[derive(Default)]
struct Entry {
    /// Each holder's modes, as a bit set.
    holders: BTreeMap<TxnId, u8>,
    waiters: VecDeque<Waiter>,
}

impl Entry {
    fn held_by_others(&self, txn: TxnId) -> u8 {
        self.holders.iter().filter(|(holder, _)| **holder != txn).fold(0, |bits, (_, modes)| bits | modes)
    }

    /// Whether `txn` may take `mode` now: no other holder conflicts, and,
    /// unless it upgrades, no conflicting request waits ahead of it.
    fn grantable(&self, txn: TxnId, mode: LockMode, upgrade: bool) -> bool {
        if mode.blocked_by(self.held_by_others(txn)) {
            return false;
        }
        upgrade || !self.waiters.iter().any(|waiter| waiter.txn != txn && mode.blocked_by(waiter.mode.bit()))
    }
}

#[derive(Default)]
struct Shard {
    entries: BTreeMap<LockTarget, Entry>,
    /// The targets each transaction holds in this shard.
    held: BTreeMap<TxnId, BTreeSet<LockTarget>>,
}

impl Shard {
    fn grant(&mut self, target: &LockTarget, txn: TxnId, mode: LockMode) {
        let entry = self.entries.entry(target.clone()).or_default();
        *entry.holders.entry(txn).or_default() |= mode.bit();
        self.held.entry(txn).or_default().insert(target.clone());
    }

    /// Hands `target` to waiters at the head of its queue while they fit.
    fn wake(&mut self, target: &LockTarget) {
        let mut granted = Vec::new();
        if let Some(entry) = self.entries.get_mut(target) {
            while let Some(waiter) = entry.waiters.front() {
                if waiter.mode.blocked_by(entry.held_by_others(waiter.txn)) {
                    break;
                }
                let waiter = entry.waiters.pop_front().expect("a front waiter");
                *entry.holders.entry(waiter.txn).or_default() |= waiter.mode.bit();
                granted.push(waiter);
            }
            if entry.holders.is_empty() && entry.waiters.is_empty() {
                self.entries.remove(target);
            }
        }
        for waiter in granted {
            self.held.entry(waiter.txn).or_default().insert(target.clone());
            // A dropped receiver means the waiter was cancelled; the lock is still recorded
            // as held and goes when its transaction ends.
            let _ = waiter.grant.send(());
        }
    }

    /// Removes `txn`'s queued request for `target`; false if it was granted meanwhile.
    fn withdraw(&mut self, target: &LockTarget, txn: TxnId) -> bool {
        let Some(entry) = self.entries.get_mut(target) else { return false };
        let before = entry.waiters.len();
        entry.waiters.retain(|waiter| waiter.txn != txn);
        let withdrew = entry.waiters.len() != before;
        if withdrew {
            // Requests queued behind this one may fit now.
            self.wake(target);
        }
        withdrew
    }
}

/// Counters for stats and the simulator's summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LockStats {
    pub waits: u64,
    pub deadlocks: u64,
    pub timeouts: u64,
}

/// Every lock of one engine.
pub struct LockManager {
    shards: Vec<Mutex<Shard>>,
    deadlock_check_after: Duration,
    waits: AtomicU64,
    deadlocks: AtomicU64,
    timeouts: AtomicU64,
}

impl LockManager {
    pub fn new(deadlock_check_after: Duration) -> LockManager {
        LockManager {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            deadlock_check_after,
            waits: AtomicU64::new(0),
            deadlocks: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> LockStats {
        LockStats {
            waits: self.waits.load(Ordering::Relaxed),
            deadlocks: self.deadlocks.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    fn shard(&self, target: &LockTarget) -> MutexGuard<'_, Shard> {
        lock(&self.shards[shard_of(target)])
    }

    /// Takes `mode` on `target` for `txn`, waiting if it must (see the module
    /// documentation for deadlocks and `timeout`). True if `txn` held no lock
    /// on `target` before. Adds `target`'s shard to `shards`, the set
    /// [`Self::release_all`] later visits.
    pub async fn acquire(
        &self,
        env: &Env,
        txn: TxnId,
        target: &LockTarget,
        mode: LockMode,
        timeout: Option<Duration>,
        shards: &mut ShardSet,
    ) -> Result<bool> {
        let index = shard_of(target);
        shards.insert(index);
        let granted = {
            let mut shard = lock(&self.shards[index]);
            let entry = shard.entries.entry(target.clone()).or_default();
            let held = entry.holders.get(&txn).copied().unwrap_or(0);
            if held & mode.bit() != 0 {
                return Ok(false);
            }
            if entry.grantable(txn, mode, held != 0) {
                shard.grant(target, txn, mode);
                return Ok(held == 0);
            }
            let entry = shard.entries.get_mut(target).expect("created above");
            if entry.waiters.len() >= MAX_WAITERS_PER_TARGET {
                return Err(Error::LockTimeout(format!("more than {MAX_WAITERS_PER_TARGET} waiters for {target}")));
            }
            let (grant, granted) = oneshot::channel();
            let waiter = Waiter { txn, mode, grant };
            if held != 0 {
                entry.waiters.push_front(waiter);
            } else {
                entry.waiters.push_back(waiter);
            }
            (granted, held == 0)
        };
        let (granted, first) = granted;
        self.waits.fetch_add(1, Ordering::Relaxed);
        let queued = Queued { manager: self, target, txn, done: false };
        queued.wait(env, granted, mode, timeout).await.map(|()| first)
    }

    /// Releases every lock `txn` holds and hands them to their waiters.
    /// `shards` is the set every [`Self::acquire`] of `txn` added to; other
    /// shards are not visited (a short transaction touches one or
    /// two of the [`SHARDS`], and each visit takes a mutex).
    pub fn release_all(&self, txn: TxnId, shards: ShardSet) {
        for (index, shard) in self.shards.iter().enumerate() {
            if !shards.contains(index) {
                continue;
            }
            let mut shard = lock(shard);
            let Some(targets) = shard.held.remove(&txn) else { continue };
            for target in targets {
                if let Some(entry) = shard.entries.get_mut(&target) {
                    entry.holders.remove(&txn);
                }
                shard.wake(&target);
            }
        }
    }

    /// A cycle of waits through `txn`, as the transactions on it in order, if there is one.
    fn find_cycle(&self, txn: TxnId) -> Option<Vec<TxnId>> {
        let shards: Vec<MutexGuard<'_, Shard>> = self.shards.iter().map(lock).collect();
        let mut edges: BTreeMap<TxnId, BTreeSet<TxnId>> = BTreeMap::new();
        for shard in &shards {
            for entry in shard.entries.values() {
                for (position, waiter) in entry.waiters.iter().enumerate() {
                    let out = edges.entry(waiter.txn).or_default();
                    let holders = entry.holders.iter().filter(|(_, modes)| waiter.mode.blocked_by(**modes));
                    out.extend(holders.map(|(holder, _)| *holder).filter(|holder| *holder != waiter.txn));
                    let ahead = entry.waiters.iter().take(position).filter(|w| waiter.mode.blocked_by(w.mode.bit()));
                    out.extend(ahead.map(|w| w.txn).filter(|other| *other != waiter.txn));
                }
            }
        }
        drop(shards);
        path_back_to(&edges, txn)
    }
}

/// A depth-first search for a path from `start` back to itself.
fn path_back_to(edges: &BTreeMap<TxnId, BTreeSet<TxnId>>, start: TxnId) -> Option<Vec<TxnId>> {
    let mut visited = BTreeSet::new();
    let mut stack: Vec<(TxnId, Vec<TxnId>)> = vec![(start, vec![start])];
    while let Some((node, path)) = stack.pop() {
        for &next in edges.get(&node).into_iter().flatten() {
            if next == start {
                return Some(path);
            }
            if visited.insert(next) {
                let mut longer = path.clone();
                longer.push(next);
                stack.push((next, longer));
            }
        }
    }
    None
}

/// A queued request; withdrawn if the waiting future ends without the grant.
struct Queued<'a> {
    manager: &'a LockManager,
    target: &'a LockTarget,
    txn: TxnId,
    done: bool,
}

impl Queued<'_> {
    async fn wait(
        mut self,
        env: &Env,
        mut granted: oneshot::Receiver<()>,
        mode: LockMode,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let start = env.clock.now();
        let mut checked = false;
        loop {
            let waited = env.clock.now().saturating_since(start);
            let next_check = (!checked).then(|| self.manager.deadlock_check_after.saturating_sub(waited));
            let until_timeout = timeout.map(|limit| limit.saturating_sub(waited));
            let sleep_for = match (next_check, until_timeout) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Duration::MAX,
            };
            let woke = if sleep_for == Duration::MAX {
                Some((&mut granted).await)
            } else {
                match select(&mut granted, env.clock.sleep(sleep_for)).await {
                    Either::Left((result, _)) => Some(result),
                    Either::Right(((), _)) => None,
                }
            };
            if let Some(result) = woke {
                self.done = true;
                // Only a grant completes the channel; a cancelled one means the manager is gone.
                return result.map_err(|_| Error::TaskCancelled);
            }
            let waited = env.clock.now().saturating_since(start);
            if !checked && waited >= self.manager.deadlock_check_after {
                checked = true;
                if let Some(cycle) = self.manager.find_cycle(self.txn) {
                    let error = Error::Deadlock(describe_cycle(&cycle, self.target, mode));
                    return self.give_up(error);
                }
            }
            if timeout.is_some_and(|limit| waited >= limit) {
                let message = format!("{} waited {} ms for {mode:?} on {}", self.txn, waited.as_millis(), self.target);
                return self.give_up(Error::LockTimeout(message));
            }
        }
    }

    /// Withdraws the request and fails with `error`, unless the lock was granted meanwhile.
    fn give_up(mut self, error: Error) -> Result<()> {
        self.done = true;
        if !self.manager.shard(self.target).withdraw(self.target, self.txn) {
            return Ok(());
        }
        let counter = match error {
            Error::Deadlock(_) => &self.manager.deadlocks,
            _ => &self.manager.timeouts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Err(error)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.manager.shard(self.target).withdraw(self.target, self.txn);
        }
    }
}

fn describe_cycle(cycle: &[TxnId], target: &LockTarget, mode: LockMode) -> String {
    let chain: Vec<String> = cycle.iter().chain(cycle.first()).map(ToString::to_string).collect();
    format!(
        "{} waits for {mode:?} on {target}; wait-for cycle {}; {} is the victim",
        cycle[0],
        chain.join(" -> "),
        cycle[0]
    )
}

/// The shard of a target: FNV-1a of its bytes (fixed, so runs are repeatable).
fn shard_of(target: &LockTarget) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    match target {
        LockTarget::Table(table) => eat(&table.0.to_le_bytes()),
        LockTarget::Row(table, key) => {
            eat(&table.0.to_le_bytes());
            eat(key);
        }
    }
    (hash % SHARDS as u64) as usize
}

/// A set of lock-table shards: those a transaction has taken locks in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardSet(u32);

const _: () = assert!(SHARDS <= 32, "a ShardSet holds at most 32 shards");

impl ShardSet {
    pub fn insert(&mut self, shard: usize) {
        self.0 |= 1 << shard;
    }

    pub fn contains(&self, shard: usize) -> bool {
        self.0 & (1 << shard) != 0
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflict_table_is_symmetric_and_matches_postgres_corners() {
        for a in LockMode::ALL {
            for b in LockMode::ALL {
                assert_eq!(a.blocked_by(b.bit()), b.blocked_by(a.bit()), "{a:?} vs {b:?}");
            }
        }
        assert!(!LockMode::AccessShare.blocked_by(LockMode::Exclusive.bit()));
        assert!(LockMode::AccessShare.blocked_by(LockMode::AccessExclusive.bit()));
        assert!(!LockMode::RowExclusive.blocked_by(LockMode::RowExclusive.bit()));
        assert!(LockMode::Share.blocked_by(LockMode::RowExclusive.bit()));
        assert!(!LockMode::Share.blocked_by(LockMode::Share.bit()));
    }

    #[test]
    fn a_cycle_is_found_through_holders_and_queue_order() {
        let mut edges = BTreeMap::new();
        edges.insert(TxnId(1), BTreeSet::from([TxnId(2)]));
        edges.insert(TxnId(2), BTreeSet::from([TxnId(3)]));
        edges.insert(TxnId(3), BTreeSet::from([TxnId(1)]));
        assert_eq!(path_back_to(&edges, TxnId(1)), Some(vec![TxnId(1), TxnId(2), TxnId(3)]));
        edges.insert(TxnId(3), BTreeSet::new());
        assert_eq!(path_back_to(&edges, TxnId(1)), None);
    }
}
