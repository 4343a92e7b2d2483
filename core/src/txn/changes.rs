//! The committed-change feed: who watches which rows, and what each watcher
//! has not read yet.
//!
//! A watcher names a versioned table and a key prefix (every SQL table is a
//! key prefix of the shared row table). When a transaction that wrote
//! watched rows commits, it reads each such row's before and after images
//! while it still holds the row locks ([`capture`]), and the status table
//! hands them to [`ChangeFeed::publish`] under the lock that assigns commit
//! sequence numbers, so every watcher receives commits in csn order, each
//! commit's changes together and in the order the rows were first written.
//!
//! Invariants: a watcher's queue never holds more than its capacity. A
//! commit that would overflow it marks the watcher lagged instead, and its
//! next read fails (SQLSTATE 54000) (the consumer must subscribe
//! again and resynchronise): the feed never blocks a commit and never drops
//! a change silently. With no watchers, a commit pays one atomic load.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use super::status::{StatusTable, XidStatus};
use super::table;
use crate::error::{Error, Result};
use crate::store::{Store, TableId};
use crate::wal::{Lsn, TxnId};

/// The most changes one commit captures for watchers; a larger commit
/// marks the watchers of its rows lagged instead of buffering them all.
pub const MAX_CHANGES_PER_COMMIT: usize = 65_536;

/// The most changes a watcher may leave unread.
pub const MAX_WATCHER_CAPACITY: usize = 1 << 20;

/// What a commit did to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Update,
    Delete,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        }
    }
}

/// One row changed by a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowChange {
    pub table: TableId,
    pub key: Vec<u8>,
    pub kind: ChangeKind,
    /// The row before the transaction (`None` for an insert).
    pub before: Option<Vec<u8>>,
    /// The row after it (`None` for a delete).
    pub after: Option<Vec<u8>>,
}

/// A [`RowChange`] with the commit it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedChange {
    /// The commit sequence number: the order commits became visible in
    /// (restarts from zero when the engine opens).
    pub csn: u64,
    /// Where the commit record is in the write-ahead log (durable across restarts).
    pub commit_lsn: Lsn,
    pub change: Arc<RowChange>,
}

/// What one commit hands the feed.
#[derive(Debug, Default)]
pub(super) struct Captured {
    changes: Vec<Arc<RowChange>>,
    /// Rows whose changes were too many to capture: their watchers lag.
    overflowed: Vec<(TableId, Vec<u8>)>,
}

impl Captured {
    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.overflowed.is_empty()
    }
}

struct Watcher {
    table: TableId,
    prefix: Vec<u8>,
    capacity: usize,
    queue: VecDeque<CommittedChange>,
    lagged: bool,
    waker: Option<Waker>,
}

impl Watcher {
    fn watches(&self, table: TableId, key: &[u8]) -> bool {
        self.table == table && key.starts_with(&self.prefix)
    }
}

#[derive(Default)]
struct FeedInner {
    next_id: u64,
    watchers: BTreeMap<u64, Watcher>,
}

/// Every watcher of one engine.
#[derive(Default)]
pub struct ChangeFeed {
    /// How many watchers exist: lets commits skip the lock when none do.
    watching: AtomicUsize,
    inner: Mutex<FeedInner>,
}

impl ChangeFeed {
    fn lock(&self) -> MutexGuard<'_, FeedInner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn any_watcher(&self) -> bool {
        self.watchers() > 0
    }

    /// How many streams are open.
    pub fn watchers(&self) -> usize {
        self.watching.load(Ordering::Acquire)
    }

    /// Starts watching rows of `table` whose keys start with `prefix`; at
    /// most `capacity` changes wait unread.
    pub fn watch(self: &Arc<Self>, table: TableId, prefix: Vec<u8>, capacity: usize) -> Result<ChangeStream> {
        if capacity == 0 || capacity > MAX_WATCHER_CAPACITY {
            return Err(Error::InvalidInput(format!(
                "a change stream holds between 1 and {MAX_WATCHER_CAPACITY} changes, not {capacity}"
            )));
        }
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let watcher = Watcher { table, prefix, capacity, queue: VecDeque::new(), lagged: false, waker: None };
        inner.watchers.insert(id, watcher);
        self.watching.fetch_add(1, Ordering::AcqRel);
        Ok(ChangeStream { feed: self.clone(), id })
    }

    /// The watched rows among `rows` (the transaction's writes, first write first).
    fn watched_rows<'r>(&self, rows: impl Iterator<Item = (TableId, &'r [u8])>) -> Vec<(TableId, Vec<u8>)> {
        let inner = self.lock();
        let mut seen = BTreeSet::new();
        rows.filter(|(table, key)| inner.watchers.values().any(|w| w.watches(*table, key)))
            .filter(|(table, key)| seen.insert((*table, key.to_vec())))
            .map(|(table, key)| (table, key.to_vec()))
            .collect()
    }

    /// Hands one commit's changes to their watchers. Called under the status
    /// table's lock, so calls come in csn order.
    pub(super) fn publish(&self, csn: u64, commit_lsn: Lsn, captured: &Captured) {
        let mut inner = self.lock();
        for watcher in inner.watchers.values_mut() {
            let mut woke = false;
            if captured.overflowed.iter().any(|(table, key)| watcher.watches(*table, key)) {
                watcher.lagged = true;
                watcher.queue.clear();
                woke = true;
            }
            for change in &captured.changes {
                if watcher.lagged || !watcher.watches(change.table, &change.key) {
                    continue;
                }
                woke = true;
                if watcher.queue.len() == watcher.capacity {
                    watcher.lagged = true;
                    watcher.queue.clear();
                    continue;
                }
                watcher.queue.push_back(CommittedChange { csn, commit_lsn, change: change.clone() });
            }
            if woke && let Some(waker) = watcher.waker.take() {
                waker.wake();
            }
        }
    }

    fn poll_next(&self, id: u64, waker: &Waker) -> Poll<Result<CommittedChange>> {
        let mut inner = self.lock();
        let Some(watcher) = inner.watchers.get_mut(&id) else {
            return Poll::Ready(Err(Error::InvalidInput("the change stream was closed".into())));
        };
        if watcher.lagged {
            return Poll::Ready(Err(lagged(watcher.capacity)));
        }
        match watcher.queue.pop_front() {
            Some(change) => Poll::Ready(Ok(change)),
            None => {
                watcher.waker = Some(waker.clone());
                Poll::Pending
            }
        }
    }

    fn forget(&self, id: u64) {
        if self.lock().watchers.remove(&id).is_some() {
            self.watching.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn lagged(capacity: usize) -> Error {
    Error::sql(
        "54000",
        format!("the change stream fell more than {capacity} changes behind and was stopped; subscribe again"),
    )
}

/// A subscription to committed changes of watched rows; dropping it stops watching.
pub struct ChangeStream {
    feed: Arc<ChangeFeed>,
    id: u64,
}

impl ChangeStream {
    /// The next committed change, waiting for one; fails once the stream lagged.
    pub async fn next(&mut self) -> Result<CommittedChange> {
        std::future::poll_fn(|cx| self.feed.poll_next(self.id, cx.waker())).await
    }
}

impl Drop for ChangeStream {
    fn drop(&mut self) {
        self.feed.forget(self.id);
    }
}

/// Reads the before and after images of the watched rows among `written`
/// (first write first) of transaction `xid`, which holds their row locks.
pub(super) async fn capture<'r>(
    feed: &ChangeFeed,
    store: &Store,
    status: &StatusTable,
    xid: TxnId,
    written: impl Iterator<Item = (TableId, &'r [u8])>,
) -> Result<Captured> {
    if !feed.any_watcher() {
        return Ok(Captured::default());
    }
    let rows = feed.watched_rows(written);
    if rows.len() > MAX_CHANGES_PER_COMMIT {
        return Ok(Captured { changes: Vec::new(), overflowed: rows });
    }
    let mut changes = Vec::with_capacity(rows.len());
    for (table, key) in rows {
        let versions = table::read_versions(store, table, &key).await?;
        let after = versions.iter().rev().find(|v| v.creator == xid).and_then(|v| v.row.clone());
        let before = {
            let view = status.view();
            versions
                .iter()
                .rev()
                .find(|v| v.creator != xid && matches!(view.status(v.creator), XidStatus::Committed { .. }))
                .and_then(|v| v.row.clone())
        };
        let kind = match (&before, &after) {
            (None, Some(_)) => ChangeKind::Insert,
            (Some(_), Some(_)) => ChangeKind::Update,
            (Some(_), None) => ChangeKind::Delete,
            // Inserted and deleted again by the same transaction: nothing to tell.
            (None, None) => continue,
        };
        changes.push(Arc::new(RowChange { table, key, kind, before, after }));
    }
    Ok(Captured { changes, overflowed: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &[u8]) -> Arc<RowChange> {
        Arc::new(RowChange {
            table: TableId(7),
            key: key.to_vec(),
            kind: ChangeKind::Insert,
            before: None,
            after: Some(b"row".to_vec()),
        })
    }

    fn next_now(stream: &mut ChangeStream) -> Option<Result<CommittedChange>> {
        futures::FutureExt::now_or_never(stream.next())
    }

    #[test]
    fn watchers_get_only_their_prefix_in_commit_order() {
        let feed = Arc::new(ChangeFeed::default());
        let mut a = feed.watch(TableId(7), b"a".to_vec(), 10).unwrap();
        let mut b = feed.watch(TableId(7), b"b".to_vec(), 10).unwrap();
        let captured = Captured { changes: vec![change(b"a1"), change(b"b1"), change(b"a2")], overflowed: vec![] };
        feed.publish(1, Lsn(100), &captured);
        let first = next_now(&mut a).unwrap().unwrap();
        assert_eq!((first.csn, first.commit_lsn, first.change.key.as_slice()), (1, Lsn(100), &b"a1"[..]));
        assert_eq!(next_now(&mut a).unwrap().unwrap().change.key, b"a2");
        assert!(next_now(&mut a).is_none(), "nothing more is waiting");
        assert_eq!(next_now(&mut b).unwrap().unwrap().change.key, b"b1");
    }

    #[test]
    fn a_full_queue_makes_the_watcher_lag_and_fail() {
        let feed = Arc::new(ChangeFeed::default());
        let mut stream = feed.watch(TableId(7), Vec::new(), 2).unwrap();
        let captured = Captured { changes: vec![change(b"1"), change(b"2"), change(b"3")], overflowed: vec![] };
        feed.publish(1, Lsn(1), &captured);
        let error = next_now(&mut stream).unwrap().unwrap_err();
        assert!(error.to_string().contains("fell more than 2 changes behind"), "{error}");
    }

    #[test]
    fn an_overflowing_commit_makes_its_watchers_lag() {
        let feed = Arc::new(ChangeFeed::default());
        let mut watching = feed.watch(TableId(7), b"a".to_vec(), 10).unwrap();
        let mut other = feed.watch(TableId(7), b"b".to_vec(), 10).unwrap();
        let captured = Captured { changes: vec![], overflowed: vec![(TableId(7), b"a9".to_vec())] };
        feed.publish(1, Lsn(1), &captured);
        assert!(next_now(&mut watching).unwrap().is_err());
        assert!(next_now(&mut other).is_none());
    }

    #[test]
    fn dropping_a_stream_stops_watching() {
        let feed = Arc::new(ChangeFeed::default());
        let stream = feed.watch(TableId(7), Vec::new(), 10).unwrap();
        assert!(feed.any_watcher());
        drop(stream);
        assert!(!feed.any_watcher());
        assert!(feed.watch(TableId(7), Vec::new(), 0).is_err(), "a zero capacity is refused");
    }
}
