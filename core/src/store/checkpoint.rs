//! Fuzzy checkpoints: bound how much log recovery must read and redo.
//!
//! 1. Write back every dirty page and sync the data file, so the dirty page
//!    table recorded next is small (this is the only part that waits on I/O
//!    proportional to the pool; transactions keep running meanwhile).
//! 2. Under the transaction table lock, append `CheckpointBegin` and copy the
//!    transaction table: every record before the `CheckpointBegin` is then
//!    reflected in the copy (see [`super::txn`]).
//! 3. Copy the dirty page table (dirty and unsynced pages with their recovery
//!    LSNs) and append `CheckpointEnd` with both tables; make it durable.
//! 4. Point the control file at the `CheckpointBegin`.
//! 5. Recycle the log (see [`crate::wal::writer`]): recovery from this
//!    checkpoint reads nothing below the smallest of the `CheckpointBegin`,
//!    the recovery LSNs of the dirty page table it recorded (where redo
//!    starts) and the first LSNs of the transactions in its transaction table
//!    (undo walks each back to its first record). Transactions that begin
//!    later start after the `CheckpointBegin`. The log is rewritten without
//!    what lies below once that is at least [`StoreConfig::recycle_log_bytes`].
//!
//! A crash anywhere before step 4 completes leaves the control file naming the
//! previous checkpoint, which is still valid: nothing was discarded for this
//! one (recycling happens only once the new checkpoint is in force). Analysis
//! starts at the `CheckpointBegin`, so changes made while the tables were
//! being copied are picked up from the log.
//!
//! [`StoreConfig::recycle_log_bytes`]: super::StoreConfig::recycle_log_bytes

use std::sync::Arc;

use super::{DATA_FILE_NO, Shared};
use crate::error::Result;
use crate::wal::record::LogBody;
use crate::wal::{Lsn, TxnId};

/// The most dirty pages one `CheckpointEnd` records (it must fit one log record).
pub const MAX_CHECKPOINT_DIRTY_PAGES: usize = 10_000;

/// Takes a checkpoint. Returns without one if the pool is too dirty for one
/// record right now; the previous checkpoint stays in force.
pub(super) async fn take(shared: &Arc<Shared>) -> Result<()> {
    let _one_at_a_time = shared.checkpointing.lock().await;
    shared.pool.flush_all().await?;
    shared.pool.sync().await?;
    shared.log.make_room().await?;
    let (begin, active_txns, first_txn_lsn) = {
        let table = shared.txn_table();
        let begin = shared.log.append_now(TxnId(0), Lsn::ZERO, LogBody::CheckpointBegin)?;
        let active = table.iter().map(|(txn, entry)| (*txn, entry.status, entry.last_lsn)).collect::<Vec<_>>();
        let first = table.values().map(|entry| entry.first_lsn).min();
        (begin, active, first)
    };
    let dirty = shared.pool.dirty_page_table();
    if dirty.len() > MAX_CHECKPOINT_DIRTY_PAGES {
        return Ok(());
    }
    let keep_from = dirty.iter().map(|(_, lsn)| *lsn).chain(first_txn_lsn).fold(begin, Lsn::min);
    let dirty_pages = dirty.into_iter().map(|(page, lsn)| (DATA_FILE_NO, page, lsn)).collect();
    let end = shared.log.append(TxnId(0), Lsn::ZERO, LogBody::CheckpointEnd { dirty_pages, active_txns }).await?;
    shared.log.flush(end).await?;
    shared.control.lock().await.set_checkpoint(begin).await?;
    *super::lock(&shared.last_checkpoint_end) = end.0;
    shared.log.recycle(&shared.env, keep_from, shared.config.recycle_log_bytes).await
}
