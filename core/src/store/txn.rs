//! Transactions: every page change logged before it can reach disk, commit
//! with group commit, rollback with compensation log records.
//!
//! # Logging a change
//!
//! [`Txn::apply`] changes a page under its write latch and, in the same
//! critical section, appends the `Update` record, so each page's records are
//! in the log in the order its changes were made. If the change starts the
//! page's dirty episode, a `PageImage` of the page is logged first (see
//! [`crate::buffer::pool`]). The op is applied before it is logged: an op that
//! does not fit the page fails without leaving a record redo would trip over.
//!
//! The transaction table entry (status, last LSN) is updated under the same
//! lock as the append, so a checkpoint, which appends `CheckpointBegin` and
//! copies the table under that lock, never copies a last LSN older than a
//! record that precedes its `CheckpointBegin`.
//!
//! # Ending
//!
//! Commit appends `Commit`, releases the table locks, waits for the log to be
//! durable through the commit (group commit), then appends `End`. Rollback
//! appends `Abort`, undoes the transaction's updates newest first (each undo
//! logged as a `Clr` whose `undo_next_lsn` skips what it compensated), then
//! appends `End`. A transaction dropped without either is rolled back by a
//! spawned task. Recovery uses the same undo.

use std::sync::Arc;

use super::{DATA_FILE_NO, Shared, TxnEntry};
use crate::buffer::pool::PageGuard;
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::apply::apply;
use crate::storage::page::{Page, PageType};
use crate::wal::record::{LogBody, PageOp, TxnStatus};
use crate::wal::{Lsn, TxnId};

/// A storage transaction. Writes take table locks held until it ends.
pub struct Txn {
    pub(super) shared: Arc<Shared>,
    id: TxnId,
    /// The transaction's last log record; zero until its first write.
    last_lsn: Lsn,
    finished: bool,
    locks: Vec<u64>,
    /// False for the copy a drop hands to its background rollback: if that task is itself
    /// dropped unrun (the node is going down), recovery's undo finishes the job.
    rollback_on_drop: bool,
    /// Where in-order inserts into a unique B+Tree go next (see `tree.rs`).
    pub(super) append_hint: Option<super::tree::AppendHint>,
    /// The last B+Tree table used, locked, and whether it is unique.
    pub(super) last_tree: Option<(super::TableId, bool)>,
}

impl Txn {
    pub(super) fn new(shared: Arc<Shared>, id: TxnId) -> Txn {
        Txn {
            shared,
            id,
            last_lsn: Lsn::ZERO,
            finished: false,
            locks: Vec::new(),
            rollback_on_drop: true,
            append_hint: None,
            last_tree: None,
        }
    }

    pub fn id(&self) -> TxnId {
        self.id
    }

    /// Takes table lock `id` until the transaction ends.
    pub(super) async fn lock_table(&mut self, id: u64) -> Result<()> {
        self.check_open()?;
        if self.locks.contains(&id) {
            return Ok(());
        }
        self.shared.locks.acquire(self.id, id).await?;
        self.locks.push(id);
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidInput(format!("{} has already ended", self.id)));
        }
        Ok(())
    }

    /// The page, which must exist.
    pub async fn fetch(&self, page: PageId) -> Result<PageGuard> {
        self.shared.pool.fetch(page).await
    }

    /// `f` on page `page` if it is resident (see
    /// [`crate::buffer::pool::BufferPool::with_resident_page`]).
    pub fn with_resident_page<R>(&self, page: PageId, f: impl FnOnce(&Page) -> R) -> Result<Option<R>> {
        self.shared.pool.with_resident_page(page, f)
    }

    /// Allocates a page, formats it as `page_type`, and returns it pinned.
    pub async fn allocate(&mut self, page_type: PageType) -> Result<PageGuard> {
        let page = super::alloc::allocate(self).await?;
        let guard = self.shared.pool.fetch_new(page, page_type).await?;
        self.apply(&guard, PageOp::Format { page_type: page_type.as_u8() }).await?;
        Ok(guard)
    }

    /// Frees `page`. It is not reused before this transaction ends.
    pub async fn free(&mut self, page: PageId) -> Result<()> {
        super::alloc::free(self, page).await
    }

    /// Applies `op` to the page and logs it as this transaction's `Update`.
    pub async fn apply(&mut self, guard: &PageGuard, op: PageOp) -> Result<()> {
        self.check_open()?;
        if self.last_lsn == Lsn::ZERO {
            self.log_own(LogBody::Begin).await?;
        }
        self.shared.log.make_room().await?;
        let shared = &self.shared;
        let id = self.id;
        let lsn = guard.change(|page, starts_episode| {
            if starts_episode && !matches!(op, PageOp::Format { .. }) {
                log_image(shared, page)?;
            }
            apply(page, &op)?;
            let lsn = shared.append_for(id, LogBody::Update { file: DATA_FILE_NO, page: page.id(), op })?;
            Ok((lsn, Some(lsn)))
        })?;
        self.last_lsn = lsn;
        Ok(())
    }

    /// Appends a record of this transaction that changes no page.
    async fn log_own(&mut self, body: LogBody) -> Result<Lsn> {
        self.shared.log.make_room().await?;
        let lsn = self.shared.append_for(self.id, body)?;
        self.last_lsn = lsn;
        Ok(lsn)
    }

    /// Makes the transaction's changes durable and ends it.
    pub async fn commit(self) -> Result<()> {
        self.end_committed(true).await.map(|_| ())
    }

    /// Commits durably and returns where the commit record is in the log
    /// ([`Lsn::ZERO`] if the transaction wrote nothing).
    pub async fn commit_at(self) -> Result<Lsn> {
        self.end_committed(true).await
    }

    /// Commits without waiting for the commit record to be durable.
    ///
    /// For system transactions of a layer above that keeps its own commit
    /// point in the log (the MVCC layer's commit log, [`crate::txn`]): a crash
    /// may lose this commit, but only together with every later record,
    /// since the log is written in order, so whatever was built on top of it
    /// and made durable later keeps it.
    pub async fn commit_unsynced(self) -> Result<()> {
        self.end_committed(false).await.map(|_| ())
    }

    /// [`Txn::commit_unsynced`], returning where the commit record is, for a
    /// caller that makes it durable later ([`crate::store::Store::make_durable`]).
    pub async fn commit_unsynced_at(self) -> Result<Lsn> {
        self.end_committed(false).await
    }

    async fn end_committed(mut self, durable: bool) -> Result<Lsn> {
        self.check_open()?;
        self.finished = true;
        // Unpins the remembered leaf.
        self.append_hint = None;
        if self.last_lsn == Lsn::ZERO {
            self.release();
            return Ok(Lsn::ZERO);
        }
        let commit = self.log_own(LogBody::Commit).await;
        self.release();
        let commit = commit?;
        if durable {
            self.shared.log.flush(commit).await?;
        }
        self.log_own(LogBody::End).await?;
        self.shared.alloc.end_quarantine(self.id);
        self.maybe_checkpoint();
        Ok(commit)
    }

    /// Undoes every change and ends the transaction.
    pub async fn rollback(mut self) -> Result<()> {
        self.check_open()?;
        self.finished = true;
        let result = self.roll_back().await;
        self.release();
        result
    }

    async fn roll_back(&mut self) -> Result<()> {
        // Unpins the remembered leaf, which the undo may free.
        self.append_hint = None;
        if self.last_lsn == Lsn::ZERO {
            return Ok(());
        }
        self.log_own(LogBody::Abort).await?;
        // Free-space hints may name pages this rollback is about to free: forget the hints of
        // every table this transaction touched (they are rebuilt from the pages on next use).
        super::lock(&self.shared.fsm).retain(|table, _| !self.locks.contains(&table.0));
        undo(&self.shared, self.id, self.last_lsn).await?;
        self.log_own(LogBody::End).await?;
        self.shared.alloc.end_quarantine(self.id);
        Ok(())
    }

    fn release(&mut self) {
        self.shared.locks.release_all(self.id, &self.locks);
        self.locks.clear();
    }

    /// Starts a checkpoint in the background once enough log was written since
    /// the last: the committer does not wait for it. A failure surfaces on
    /// later operations (a failed sync poisons the pool or the log).
    fn maybe_checkpoint(&self) {
        let due = {
            let last = *super::lock(&self.shared.last_checkpoint_end);
            self.shared.log.next_lsn().0.saturating_sub(last) >= self.shared.config.checkpoint_log_bytes
        };
        if due && !self.shared.checkpoint_scheduled.swap(true, std::sync::atomic::Ordering::AcqRel) {
            let shared = self.shared.clone();
            drop(self.shared.env.spawn("checkpoint", async move {
                let _ = super::checkpoint::take(&shared).await;
                shared.checkpoint_scheduled.store(false, std::sync::atomic::Ordering::Release);
            }));
        }
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        if self.finished || !self.rollback_on_drop {
            return;
        }
        // Dropped mid-flight (an error, a cancelled task): roll back in the background. The
        // locks are held until the rollback ends, so nobody sees the half-done changes.
        let orphan = Txn {
            shared: self.shared.clone(),
            id: self.id,
            last_lsn: self.last_lsn,
            finished: false,
            locks: std::mem::take(&mut self.locks),
            rollback_on_drop: false,
            append_hint: None,
            last_tree: None,
        };
        self.finished = true;
        let env = self.shared.env.clone();
        drop(env.spawn("rollback of a dropped transaction", async move {
            // A failure here (a poisoned log) leaves the transaction to recovery's undo.
            let _ = orphan.rollback().await;
        }));
    }
}

impl Shared {
    /// Appends a record of `txn`, chained to its last one, and updates its
    /// transaction table entry under one lock (see the module documentation).
    pub(super) fn append_for(&self, txn: TxnId, body: LogBody) -> Result<Lsn> {
        let status = match body {
            LogBody::Commit => Some(TxnStatus::Committed),
            LogBody::Abort => Some(TxnStatus::Aborting),
            _ => None,
        };
        let ends = matches!(body, LogBody::End);
        let mut table = self.txn_table();
        let prev = table.get(&txn).map_or(Lsn::ZERO, |entry| entry.last_lsn);
        let lsn = self.log.append_now(txn, prev, body)?;
        if ends {
            table.remove(&txn);
        } else {
            let entry =
                table.entry(txn).or_insert(TxnEntry { status: TxnStatus::Active, last_lsn: lsn, first_lsn: lsn });
            entry.last_lsn = lsn;
            if let Some(status) = status {
                entry.status = status;
            }
        }
        Ok(lsn)
    }
}

/// Logs the page's current image: the base a torn write of it is rebuilt from.
fn log_image(shared: &Shared, page: &crate::storage::page::Page) -> Result<Lsn> {
    let body = LogBody::PageImage {
        file: DATA_FILE_NO,
        page: page.id(),
        page_type: page.page_type().as_u8(),
        body: page.body().to_vec(),
    };
    shared.log.append_now(TxnId(0), Lsn::ZERO, body)
}

/// Undoes `txn`'s records from `from` back to its `Begin`, logging a CLR for
/// each undone update. Used by rollback and by recovery's undo pass.
pub(super) async fn undo(shared: &Arc<Shared>, txn: TxnId, from: Lsn) -> Result<usize> {
    let mut next = from;
    let mut clrs = 0;
    while next != Lsn::ZERO {
        let record = shared.log.read_record(next).await?;
        if record.txn != txn {
            return Err(Error::Corrupt(format!("undo of {txn} reached {next}, a record of {}", record.txn)));
        }
        next = match record.body {
            LogBody::Update { page, op, .. } => {
                compensate(shared, txn, page, &op, record.prev_lsn).await.map_err(|error| match error {
                    Error::Corrupt(why) => Error::Corrupt(format!("undo of {txn}'s {next} on {page}: {why}")),
                    other => other,
                })?;
                clrs += 1;
                record.prev_lsn
            }
            LogBody::Clr { undo_next_lsn, .. } => undo_next_lsn,
            _ => record.prev_lsn,
        };
    }
    Ok(clrs)
}

/// Applies the inverse of `op` to `page` and logs it as a CLR.
async fn compensate(shared: &Arc<Shared>, txn: TxnId, page: PageId, op: &PageOp, undo_next: Lsn) -> Result<()> {
    let Some(inverse) = op.undo() else {
        return Ok(()); // Format: undoing the allocation frees the page, whose contents then do not matter.
    };
    let guard = shared.pool.fetch(page).await?;
    shared.log.make_room().await?;
    guard.change(|page, starts_episode| {
        if starts_episode {
            log_image(shared, page)?;
        }
        apply(page, &inverse)?;
        let body = LogBody::Clr { file: DATA_FILE_NO, page: page.id(), op: inverse, undo_next_lsn: undo_next };
        let lsn = shared.append_for(txn, body)?;
        Ok(((), Some(lsn)))
    })?;
    if let PageOp::MapSet { bit } = op {
        // An allocation undone: the page is free again.
        shared.alloc.freed_by_undo(crate::storage::space_map::page_of(page, *bit));
    }
    Ok(())
}
