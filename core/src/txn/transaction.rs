//! [`Transaction`]: reads and writes of versioned tables at an isolation
//! level, savepoints, commit and rollback.
//!
//! # Reads
//! A read picks, for each row, the newest version its snapshot sees (see
//! `status.rs`), skipping versions of aborted transactions. Under READ
//! COMMITTED every operation is a statement with a fresh snapshot. Under
//! SERIALIZABLE a read first takes a SIREAD lock on what it reads, and each
//! version it skips because a concurrent transaction made it is an rw
//! antidependency (`ssi.rs`).
//!
//! # Writes
//! A write takes `RowExclusive` on the table and an exclusive lock on the
//! row (held to the end: two-phase), then looks at the row's newest
//! version. If a transaction that committed after this one's snapshot made
//! it, REPEATABLE READ and SERIALIZABLE fail with 40001 (first committer
//! wins; a waiter for the row lock learns this once the holder commits);
//! READ COMMITTED writes over it. The new version gets the next number; a
//! row written twice since the last savepoint has its own version replaced
//! instead, so a loop of updates does not pile up versions.
//!
//! # Errors
//! Any error leaves the transaction *failed*: every later operation fails
//! until it is rolled back, or rolled back to a savepoint, as in PostgreSQL.
//! A serialization failure, deadlock or lock timeout also aborts it at once
//! (its locks go, so the transactions it conflicted with go on), and then no
//! savepoint can revive it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::changes;
use super::lock_manager::{LockMode, LockTarget, ShardSet};
use super::status::{Snapshot, StatusView, XidStatus};
use super::table::RowScan;
use super::version::{self, Version};
use super::{IsolationLevel, Shared, TxnOptions, table};
use crate::error::{Error, Result};
use crate::store::TableId;
use crate::wal::{Lsn, TxnId};

/// A write that finds this many versions of its row prunes the ones no
/// snapshot can see (hot rows would otherwise grow until the next vacuum).
const PRUNE_AFTER_VERSIONS: usize = 8;

/// Most row locks one transaction may hold.
pub const MAX_ROW_LOCKS_PER_TXN: usize = 1 << 20;

/// `SELECT … FOR SHARE` / `FOR UPDATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    Share,
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    /// Fails if the row exists.
    Insert,
    /// Writes whether or not the row exists.
    Put,
    /// Writes only if the row exists.
    Update,
}

/// A version this transaction created, in the order created.
struct OwnVersion {
    table: TableId,
    key: Vec<u8>,
    number: u64,
}

#[derive(Debug)]
enum State {
    Open,
    Failed(Error),
    Ended,
}

/// A transaction. Dropping it unended rolls it back.
pub struct Transaction {
    shared: Arc<Shared>,
    options: TxnOptions,
    snapshot: Snapshot,
    state: State,
    table_locks: BTreeSet<(TableId, LockMode)>,
    /// The lock-table shards this transaction asked for locks in.
    lock_shards: ShardSet,
    row_locks: usize,
    created: Vec<OwnVersion>,
    /// The newest own version of each row: its number and index in `created`.
    newest_own: BTreeMap<(TableId, Vec<u8>), (u64, usize)>,
    /// Savepoint names and the length of `created` when each was set.
    savepoints: Vec<(String, usize)>,
    /// Ended early by a serialization failure, deadlock or lock timeout:
    /// its locks are gone, and no savepoint can revive it.
    aborted: bool,
    /// READ COMMITTED snapshots are taken per SQL statement (by
    /// [`Transaction::start_sql_statement`]) rather than per operation.
    statement_snapshots: bool,
    /// The newest commit record among versions read that were visible but
    /// perhaps not durable yet (an `Lsn`; atomic because reads take `&self`).
    observed_unsynced: AtomicU64,
}

impl Transaction {
    pub(super) async fn begin(shared: Arc<Shared>, options: TxnOptions) -> Result<Transaction> {
        let snapshot = shared.status.begin().await?;
        if options.level == IsolationLevel::Serializable {
            shared.ssi.register(snapshot.xid, snapshot.csn);
        }
        Ok(Transaction {
            shared,
            options,
            snapshot,
            state: State::Open,
            table_locks: BTreeSet::new(),
            lock_shards: ShardSet::default(),
            row_locks: 0,
            created: Vec::new(),
            newest_own: BTreeMap::new(),
            savepoints: Vec::new(),
            aborted: false,
            statement_snapshots: false,
            observed_unsynced: AtomicU64::new(0),
        })
    }

    pub fn id(&self) -> TxnId {
        self.snapshot.xid
    }

    pub fn level(&self) -> IsolationLevel {
        self.options.level
    }

    /// The row under `key`, as this transaction sees it.
    pub async fn get(&mut self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let result = self.get_inner(table, key).await;
        self.note(result)
    }

    /// The rows with keys in `(lo, hi)`, in key order.
    pub async fn scan(
        &mut self,
        table: TableId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.scan_limit(table, lo, hi, usize::MAX).await
    }

    /// At most `limit` rows with keys in `(lo, hi)`, in key order: the
    /// first page of a scan; continue from just above the last key.
    pub async fn scan_limit(
        &mut self,
        table: TableId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let result = self.scan_inner(table, lo, hi, limit).await;
        self.note(result)
    }

    /// A streaming scan of the rows with keys in `(lo, hi)`, read by
    /// [`Self::scan_rows`]. Under SERIALIZABLE it takes its SIREAD lock now,
    /// before anything is read: a key lock for a single key, which writers
    /// check faster than a range.
    pub fn row_scan(&self, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> RowScan {
        if self.serializable() {
            match (lo, hi) {
                (Bound::Included(lo), Bound::Included(hi)) if lo == hi => {
                    self.shared.ssi.read_key(self.id(), table, lo)
                }
                _ => self.shared.ssi.read_range(self.id(), table, lo, hi),
            }
        }
        RowScan::new(table, lo, hi)
    }

    /// Reads on in `scan` (made by [`Self::row_scan`]): hands up to `limit`
    /// rows the snapshot sees to `visit`, in key order, straight from the
    /// pages (no copy per row, unlike [`Self::scan_limit`]). Returns how many;
    /// fewer than `limit` only once the range is exhausted.
    pub async fn scan_rows(
        &mut self,
        scan: &mut RowScan,
        limit: usize,
        visit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<usize> {
        let result = self.scan_rows_inner(scan, limit, visit).await;
        self.note(result)
    }

    /// Inserts a row; [`Error::UniqueViolation`] if `key` has one.
    pub async fn insert(&mut self, table: TableId, key: &[u8], row: &[u8]) -> Result<()> {
        let result = self.write(table, key, Some(row), WriteKind::Insert).await;
        self.note(result).map(|_| ())
    }

    /// Writes the row under `key`, whether or not there is one.
    pub async fn put(&mut self, table: TableId, key: &[u8], row: &[u8]) -> Result<()> {
        let result = self.write(table, key, Some(row), WriteKind::Put).await;
        self.note(result).map(|_| ())
    }

    /// Replaces the row under `key`; false (and nothing written) if there is none.
    pub async fn update(&mut self, table: TableId, key: &[u8], row: &[u8]) -> Result<bool> {
        let result = self.write(table, key, Some(row), WriteKind::Update).await;
        self.note(result)
    }

    /// Deletes the row under `key`; false if there is none.
    pub async fn delete(&mut self, table: TableId, key: &[u8]) -> Result<bool> {
        let result = self.write(table, key, None, WriteKind::Update).await;
        self.note(result)
    }

    /// Locks the row under `key` (`SELECT … FOR SHARE/UPDATE`) and returns it.
    pub async fn lock_row(&mut self, table: TableId, key: &[u8], mode: RowLock) -> Result<Option<Vec<u8>>> {
        let result = self.lock_row_inner(table, key, mode).await;
        self.note(result)
    }

    /// Takes `mode` on the whole table until the transaction ends (`LOCK TABLE`).
    pub async fn lock_table(&mut self, table: TableId, mode: LockMode) -> Result<()> {
        let result = self.lock_table_inner(table, mode).await;
        self.note(result)
    }

    /// Sets a savepoint (a later one of the same name hides this one until released).
    pub fn savepoint(&mut self, name: &str) -> Result<()> {
        self.check_open()?;
        self.savepoints.push((name.to_string(), self.created.len()));
        Ok(())
    }

    /// Undoes every write since savepoint `name`, which stays set. Clears a
    /// failure, unless SSI chose this transaction as a victim. Locks taken
    /// since the savepoint are kept.
    pub async fn rollback_to_savepoint(&mut self, name: &str) -> Result<()> {
        if matches!(self.state, State::Ended) {
            return Err(ended(self.id()));
        }
        if self.aborted {
            return Err(Error::InvalidInput(format!("{} was aborted and cannot continue from a savepoint", self.id())));
        }
        let position = self.find_savepoint(name)?;
        let mark = self.savepoints[position].1;
        self.savepoints.truncate(position + 1);
        let undone = self.created.split_off(mark);
        let mut by_table: BTreeMap<TableId, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
        for version in undone {
            by_table.entry(version.table).or_default().push((version.key, version.number));
        }
        for (table, versions) in by_table {
            if let Err(error) = table::remove_versions(&self.shared.store, table, &versions).await {
                self.state = State::Failed(error.clone());
                return Err(error);
            }
        }
        self.newest_own.clear();
        for (index, version) in self.created.iter().enumerate() {
            self.newest_own.insert((version.table, version.key.clone()), (version.number, index));
        }
        if self.options.level == IsolationLevel::Serializable {
            self.shared.ssi.check(self.id())?;
        }
        self.state = State::Open;
        Ok(())
    }

    /// Forgets savepoint `name` and every later one; their writes stay.
    pub fn release_savepoint(&mut self, name: &str) -> Result<()> {
        self.check_open()?;
        let position = self.find_savepoint(name)?;
        self.savepoints.truncate(position);
        Ok(())
    }

    fn find_savepoint(&self, name: &str) -> Result<usize> {
        self.savepoints
            .iter()
            .rposition(|(saved, _)| saved == name)
            .ok_or_else(|| Error::InvalidInput(format!("savepoint {name:?} does not exist")))
    }

    /// Commits: once this returns, the writes are durable and visible.
    pub async fn commit(mut self) -> Result<()> {
        if let State::Failed(error) = &self.state {
            let why = error.to_string();
            self.end_aborted();
            return Err(Error::InvalidInput(format!(
                "transaction was aborted by an earlier error ({why}); rolled back"
            )));
        }
        self.check_open()?;
        let xid = self.id();
        let serializable = self.options.level == IsolationLevel::Serializable;
        if serializable && let Err(error) = self.shared.ssi.pre_commit(xid) {
            self.shared.counters.serialization_failures.fetch_add(1, Ordering::Relaxed);
            self.end_aborted();
            return Err(error);
        }
        let written = self.created.iter().map(|own| (own.table, own.key.as_slice()));
        let captured =
            match changes::capture(&self.shared.changes, &self.shared.store, &self.shared.status, xid, written).await {
                Ok(captured) => captured,
                Err(error) => {
                    self.end_aborted();
                    return Err(error);
                }
            };
        self.state = State::Ended;
        let feed = &self.shared.changes;
        let publish = |csn, commit_lsn| {
            if !captured.is_empty() {
                feed.publish(csn, commit_lsn, &captured);
            }
        };
        let (csn, must_be_durable) = if self.created.is_empty() {
            // A read-only transaction may have seen commits not yet durable.
            (self.shared.status.finish_read_only(xid), self.observed_unsynced())
        } else {
            match self.shared.status.commit(xid, publish).await {
                Ok(committed) => committed,
                Err(error) => {
                    // Outcome unknown: the transaction stays active in the status table.
                    self.shared.locks.release_all(xid, self.lock_shards);
                    return Err(error);
                }
            }
        };
        if serializable {
            self.shared.ssi.committed(xid, csn);
        }
        self.shared.locks.release_all(xid, self.lock_shards);
        if serializable {
            // Only the end of a serializable transaction can let SSI forget anything.
            self.shared.ssi.prune();
        }
        self.shared.counters.commits.fetch_add(1, Ordering::Relaxed);
        // Early lock release: the locks are gone before the commit is durable
        // (see status.rs); the caller hears of the commit only once it is.
        self.shared.store.make_durable(must_be_durable).await?;
        self.shared.status.forget_durable(must_be_durable);
        Ok(())
    }

    /// Waits until every commit whose versions this transaction read is
    /// durable: before rows read by it leave the engine (commits are
    /// visible before they are durable; see status.rs).
    pub async fn wait_for_visible_commits(&self) -> Result<()> {
        let observed = self.observed_unsynced();
        self.shared.store.make_durable(observed).await?;
        self.shared.status.forget_durable(observed);
        Ok(())
    }

    fn observed_unsynced(&self) -> Lsn {
        Lsn(self.observed_unsynced.load(Ordering::Acquire))
    }

    /// Notes that a version by `creator` was read as visible.
    fn observe(&self, view: &StatusView<'_>, creator: TxnId) {
        if creator != self.id()
            && let Some(lsn) = view.unsynced_commit(creator)
        {
            self.observed_unsynced.fetch_max(lsn.0, Ordering::AcqRel);
        }
    }

    /// Rolls back: nothing it wrote is ever seen.
    pub async fn rollback(mut self) -> Result<()> {
        if matches!(self.state, State::Ended) {
            return Err(ended(self.id()));
        }
        self.end_aborted();
        Ok(())
    }

    fn end_aborted(&mut self) {
        self.state = State::Ended;
        self.abort_now();
        self.shared.counters.rollbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Makes the transaction's writes garbage and releases everything it holds.
    fn abort_now(&mut self) {
        let xid = self.id();
        self.aborted = true;
        self.shared.status.abort(xid);
        self.shared.locks.release_all(xid, self.lock_shards);
        if self.serializable() {
            self.shared.ssi.aborted(xid);
            self.shared.ssi.prune();
        }
    }

    fn check_open(&self) -> Result<()> {
        match &self.state {
            State::Open => Ok(()),
            State::Failed(error) => Err(Error::InvalidInput(format!(
                "current transaction is aborted ({error}); commands ignored until rollback"
            ))),
            State::Ended => Err(ended(self.id())),
        }
    }

    /// Marks the transaction failed on an error (see the module documentation).
    fn note<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(error) = &result
            && matches!(self.state, State::Open)
        {
            if let Error::SerializationFailure(_) = error {
                self.shared.counters.serialization_failures.fetch_add(1, Ordering::Relaxed);
            }
            self.state = State::Failed(error.clone());
            if error.is_retryable() || matches!(error, Error::LockTimeout(_)) {
                // As in PostgreSQL, the transaction aborts at the error: the transaction it
                // conflicted with must not wait for this one's rollback to get its locks.
                self.abort_now();
            }
        }
        result
    }

    /// Checks the transaction may go on, and starts a statement: READ
    /// COMMITTED takes a new snapshot.
    /// Switches READ COMMITTED to one snapshot per SQL statement, as
    /// PostgreSQL takes them, and takes this statement's snapshot. Every
    /// read until the next call sees the same committed state.
    pub fn start_sql_statement(&mut self) -> Result<()> {
        self.check_open()?;
        self.statement_snapshots = true;
        if self.options.level == IsolationLevel::ReadCommitted {
            self.snapshot = self.shared.status.refresh(self.snapshot);
        }
        Ok(())
    }

    fn start_statement(&mut self) -> Result<()> {
        self.check_open()?;
        match self.options.level {
            IsolationLevel::ReadCommitted if self.statement_snapshots => {}
            IsolationLevel::ReadCommitted => self.snapshot = self.shared.status.refresh(self.snapshot),
            IsolationLevel::RepeatableRead => {}
            IsolationLevel::Serializable => self.shared.ssi.check(self.id())?,
        }
        Ok(())
    }

    fn serializable(&self) -> bool {
        self.options.level == IsolationLevel::Serializable
    }

    async fn lock_table_inner(&mut self, table: TableId, mode: LockMode) -> Result<()> {
        self.check_open()?;
        if self.table_locks.contains(&(table, mode)) {
            return Ok(());
        }
        let target = LockTarget::Table(table);
        let timeout = self.options.lock_timeout;
        let xid = self.id();
        self.shared.locks.acquire(&self.shared.env, xid, &target, mode, timeout, &mut self.lock_shards).await?;
        self.table_locks.insert((table, mode));
        Ok(())
    }

    async fn lock_row_target(&mut self, table: TableId, key: &[u8], mode: LockMode) -> Result<()> {
        if self.row_locks >= MAX_ROW_LOCKS_PER_TXN {
            return Err(Error::NotSupported(format!("more than {MAX_ROW_LOCKS_PER_TXN} row locks in one transaction")));
        }
        let target = LockTarget::Row(table, key.to_vec());
        let timeout = self.options.lock_timeout;
        let xid = self.id();
        if self.shared.locks.acquire(&self.shared.env, xid, &target, mode, timeout, &mut self.lock_shards).await? {
            self.row_locks += 1;
        }
        Ok(())
    }

    /// The newest version the snapshot sees, and the creators of newer
    /// versions it skipped because they are concurrent.
    fn pick_visible<'v>(&self, versions: &'v [Version]) -> (Option<&'v Version>, Vec<TxnId>) {
        let (index, skipped) = self.pick_visible_index(versions);
        (index.map(|i| &versions[i]), skipped)
    }

    /// [`Self::pick_visible`] as a position, so a caller can take the row.
    fn pick_visible_index(&self, versions: &[Version]) -> (Option<usize>, Vec<TxnId>) {
        let view = self.shared.status.view();
        let mut skipped = Vec::new();
        for (i, version) in versions.iter().enumerate().rev() {
            if view.visible(self.snapshot, version.creator) {
                self.observe(&view, version.creator);
                return (Some(i), skipped);
            }
            if view.status(version.creator) != XidStatus::Aborted {
                skipped.push(version.creator);
            }
        }
        (None, skipped)
    }

    fn note_skipped(&self, skipped: Vec<TxnId>) -> Result<()> {
        if self.serializable() {
            for creator in skipped {
                self.shared.ssi.read_skipped(self.id(), creator)?;
            }
        }
        Ok(())
    }

    async fn get_inner(&mut self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.start_statement()?;
        self.lock_table_inner(table, LockMode::AccessShare).await?;
        if self.serializable() {
            self.shared.ssi.read_key(self.id(), table, key);
        }
        let versions = table::read_versions(&self.shared.store, table, key).await?;
        let (visible, skipped) = self.pick_visible(&versions);
        let row = visible.and_then(|version| version.row.clone());
        self.note_skipped(skipped)?;
        Ok(row)
    }

    async fn scan_inner(
        &mut self,
        table: TableId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.start_statement()?;
        self.lock_table_inner(table, LockMode::AccessShare).await?;
        if self.serializable() {
            self.shared.ssi.read_range(self.id(), table, lo, hi);
        }
        let mut rows = Vec::new();
        let mut skipped = Vec::new();
        table::scan(&self.shared.store, table, lo, hi, |mut row| {
            let (visible, mut newer) = self.pick_visible_index(&row.versions);
            skipped.append(&mut newer);
            if let Some(data) = visible.and_then(|i| row.versions.swap_remove(i).row) {
                rows.push((row.key, data));
            }
            Ok(rows.len() < limit)
        })
        .await?;
        self.note_skipped(skipped)?;
        Ok(rows)
    }

    async fn scan_rows_inner(
        &mut self,
        scan: &mut RowScan,
        limit: usize,
        visit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<usize> {
        self.start_statement()?;
        self.lock_table_inner(scan.table(), LockMode::AccessShare).await?;
        // Rows written together share a creator: decide each creator once
        // per call rather than taking the status lock for every row. Within
        // one call the answer cannot change for this snapshot.
        let mut last: Option<(TxnId, table::Seen)> = None;
        let seen = |creator: TxnId| match last {
            Some((known, seen)) if known == creator => seen,
            _ => {
                let seen = self.classify(creator);
                last = Some((creator, seen));
                seen
            }
        };
        let mut skipped = Vec::new();
        let handed = table::scan_rows(&self.shared.store, scan, limit, seen, visit, &mut skipped).await?;
        self.note_skipped(skipped)?;
        Ok(handed)
    }

    /// Whether the snapshot sees versions by `creator` (noting it as read if so).
    fn classify(&self, creator: TxnId) -> table::Seen {
        let view = self.shared.status.view();
        if view.visible(self.snapshot, creator) {
            self.observe(&view, creator);
            table::Seen::Visible
        } else if view.status(creator) == XidStatus::Aborted {
            table::Seen::Aborted
        } else {
            table::Seen::Concurrent
        }
    }

    async fn lock_row_inner(&mut self, table: TableId, key: &[u8], mode: RowLock) -> Result<Option<Vec<u8>>> {
        self.start_statement()?;
        self.lock_table_inner(table, LockMode::RowShare).await?;
        let lock_mode = match mode {
            RowLock::Share => LockMode::Share,
            RowLock::Update => LockMode::Exclusive,
        };
        self.lock_row_target(table, key, lock_mode).await?;
        // READ COMMITTED reads the row as of the lock, not the statement start.
        self.start_statement()?;
        if self.serializable() {
            self.shared.ssi.read_key(self.id(), table, key);
        }
        let versions = table::read_versions(&self.shared.store, table, key).await?;
        let newest = self.newest_settled(&versions)?;
        Ok(newest.and_then(|version| version.row.clone()))
    }

    /// The row's newest version not by an aborted transaction, which the
    /// caller holds a lock on; fails under the snapshot levels if it was
    /// committed after the snapshot.
    fn newest_settled<'v>(&self, versions: &'v [Version]) -> Result<Option<&'v Version>> {
        let view = self.shared.status.view();
        let Some(newest) = versions.iter().rev().find(|v| view.status(v.creator) != XidStatus::Aborted) else {
            return Ok(None);
        };
        if newest.creator == self.id() {
            return Ok(Some(newest));
        }
        if matches!(view.status(newest.creator), XidStatus::Committed { .. }) {
            self.observe(&view, newest.creator);
        }
        match view.status(newest.creator) {
            XidStatus::Committed { csn } if csn <= self.snapshot.csn => Ok(Some(newest)),
            XidStatus::Committed { .. } if self.options.level == IsolationLevel::ReadCommitted => Ok(Some(newest)),
            XidStatus::Committed { .. } => Err(Error::SerializationFailure(format!(
                "the row was changed by {}, which committed after this transaction's snapshot",
                newest.creator
            ))),
            XidStatus::Active => Err(Error::Conflict(format!(
                "the row's newest version is by {}, whose commit failed with an error and is unsettled until restart",
                newest.creator
            ))),
            XidStatus::Aborted => unreachable!("aborted versions were skipped"),
        }
    }

    async fn write(&mut self, table: TableId, key: &[u8], row: Option<&[u8]>, kind: WriteKind) -> Result<bool> {
        self.start_statement()?;
        self.lock_table_inner(table, LockMode::RowExclusive).await?;
        self.lock_row_target(table, key, LockMode::Exclusive).await?;
        let versions = table::read_versions(&self.shared.store, table, key).await?;
        let exists = self.newest_settled(&versions)?.is_some_and(|version| version.row.is_some());
        match kind {
            WriteKind::Insert if exists => {
                return Err(Error::UniqueViolation(format!("a row with key {} exists", version::hex(key))));
            }
            WriteKind::Update if !exists => return Ok(false),
            _ => {}
        }
        let own_key = (table, key.to_vec());
        let since_savepoint = self.savepoints.last().map_or(0, |(_, mark)| *mark);
        let replace = self.newest_own.get(&own_key).filter(|(_, index)| *index >= since_savepoint).map(|(n, _)| *n);
        let creator = self.id();
        match replace {
            Some(number) => {
                table::write_version(&self.shared.store, table, key, number, creator, row, true).await?;
            }
            None => {
                let number = versions.last().map_or(0, |version| version.number + 1);
                table::write_version(&self.shared.store, table, key, number, creator, row, false).await?;
                self.newest_own.insert(own_key, (number, self.created.len()));
                self.created.push(OwnVersion { table, key: key.to_vec(), number });
            }
        }
        if self.serializable() {
            self.shared.ssi.wrote(creator, table, key)?;
        }
        if versions.len() >= PRUNE_AFTER_VERSIONS {
            let removed = super::vacuum::prune_row(&self.shared.store, &self.shared.status, table, key).await?;
            self.shared.counters.versions_vacuumed.fetch_add(removed, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(exists)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !matches!(self.state, State::Ended) {
            self.end_aborted();
        }
    }
}

fn ended(xid: TxnId) -> Error {
    Error::InvalidInput(format!("{xid} has already ended"))
}
