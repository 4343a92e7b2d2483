//! ARIES recovery: analysis, redo, undo.
//!
//! * **Analysis** starts at the last complete checkpoint's `CheckpointBegin`
//!   (from the control file; the log's start if there is none), loads the
//!   checkpoint's tables and scans forward, rebuilding the dirty page table
//!   (page → first LSN that may be missing on disk) and the transaction table.
//! * **Redo** repeats history: from the smallest recovery LSN it re-applies
//!   every page change (updates, CLRs, page images) whose page is in the
//!   dirty page table at or after its recovery LSN and whose page LSN shows
//!   it missing, for winners and losers alike. A page that cannot be read
//!   (torn, never written) is rebuilt: records before its first `PageImage`
//!   or `Format` are skipped (the image contains them), and a page still
//!   unreadable at the end with no such record is reported as corruption.
//! * **Undo** rolls back every transaction that neither committed nor ended,
//!   writing CLRs (see [`super::txn`]), and ends committed ones.
//!
//! The log may have been recycled (see [`crate::wal::writer`]): it then
//! starts at its base, and the checkpoint the control file names must be at
//! or after it (each recycling keeps everything from its checkpoint's
//! `CheckpointBegin`, the recovery LSNs it recorded and the first records of
//! the transactions it recorded, so redo and undo find what they need).
//!
//! Recovery is idempotent: redo only applies what the page LSN says is
//! missing, and undo follows CLRs' `undo_next_lsn`, so a crash during recovery
//! (however often) just leads to another recovery that finishes the job.
//! The store takes a checkpoint right after, so the next recovery starts there.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{RecoveryReport, Shared, TxnEntry};
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::apply::apply;
use crate::storage::page::PageType;
use crate::wal::record::{LogBody, LogRecord, PageOp, TxnStatus};
use crate::wal::{Lsn, TxnId};

struct Analysis {
    dirty: BTreeMap<PageId, Lsn>,
    txns: BTreeMap<TxnId, TxnEntry>,
}

/// Recovers the store from `records` (the whole log, in order).
pub(super) async fn recover(
    shared: &Arc<Shared>,
    records: Vec<LogRecord>,
    checkpoint: Option<Lsn>,
) -> Result<RecoveryReport> {
    let base = shared.log.base();
    let start = match checkpoint {
        Some(lsn) if lsn < base => {
            return Err(Error::Corrupt(format!(
                "the control file names a checkpoint at {lsn}, below the log's base {base}"
            )));
        }
        None => 0,
        Some(lsn) => records.iter().position(|record| record.lsn == lsn).ok_or_else(|| {
            Error::Corrupt(format!("the control file names a checkpoint at {lsn} that the log does not hold"))
        })?,
    };
    let analysis = analyse(&records, start);
    let mut report = RecoveryReport { records_scanned: records.len() - start, ..RecoveryReport::default() };
    redo(shared, &records, &analysis.dirty, &mut report).await?;
    undo_losers(shared, analysis.txns, &mut report).await?;
    Ok(report)
}

/// Analysis of `records[start..]` (`start` is the checkpoint's, if any). The
/// records before it only tell where the checkpoint's transactions began.
fn analyse(all: &[LogRecord], start: usize) -> Analysis {
    let (before, records) = all.split_at(start);
    let mut dirty = BTreeMap::new();
    let mut txns: BTreeMap<TxnId, TxnEntry> = BTreeMap::new();
    let mut ended = BTreeSet::new();
    let mut checkpoint_loaded = false;
    for record in records {
        match &record.body {
            LogBody::CheckpointEnd { dirty_pages, active_txns } if !checkpoint_loaded => {
                checkpoint_loaded = true;
                for (_, page, lsn) in dirty_pages {
                    let entry = dirty.entry(*page).or_insert(*lsn);
                    *entry = (*entry).min(*lsn);
                }
                for (txn, status, last_lsn) in active_txns {
                    if !ended.contains(txn) {
                        // The first record is kept (recycling keeps live transactions' records);
                        // if it is not found, the log's start is a bound below it.
                        let first = before.iter().find(|record| record.txn == *txn);
                        let first_lsn = first.or(all.first()).map_or(*last_lsn, |record| record.lsn);
                        let entry = TxnEntry { status: *status, last_lsn: *last_lsn, first_lsn };
                        let entry = txns.entry(*txn).or_insert(entry);
                        entry.first_lsn = entry.first_lsn.min(first_lsn);
                    }
                }
                continue;
            }
            LogBody::Update { page, .. } | LogBody::Clr { page, .. } | LogBody::PageImage { page, .. } => {
                dirty.entry(*page).or_insert(record.lsn);
            }
            _ => {}
        }
        if record.txn == TxnId(0) {
            continue;
        }
        let fresh = TxnEntry { status: TxnStatus::Active, last_lsn: record.lsn, first_lsn: record.lsn };
        let entry = txns.entry(record.txn).or_insert(fresh);
        entry.last_lsn = record.lsn;
        match record.body {
            LogBody::Commit => entry.status = TxnStatus::Committed,
            LogBody::Abort => entry.status = TxnStatus::Aborting,
            LogBody::End => {
                txns.remove(&record.txn);
                ended.insert(record.txn);
            }
            _ => {}
        }
    }
    Analysis { dirty, txns }
}

/// What redo does with one record's page, if anything.
enum RedoStep<'a> {
    Op(&'a PageOp),
    Image(u8, &'a [u8]),
}

async fn redo(
    shared: &Arc<Shared>,
    records: &[LogRecord],
    dirty: &BTreeMap<PageId, Lsn>,
    report: &mut RecoveryReport,
) -> Result<()> {
    let Some(&redo_start) = dirty.values().min() else { return Ok(()) };
    let mut unreadable_with_records = BTreeSet::new();
    let mut redone = BTreeSet::new();
    for record in records.iter().filter(|record| record.lsn >= redo_start) {
        let (page, step) = match &record.body {
            LogBody::Update { page, op, .. } | LogBody::Clr { page, op, .. } => (*page, RedoStep::Op(op)),
            LogBody::PageImage { page, page_type, body, .. } => (*page, RedoStep::Image(*page_type, body)),
            _ => continue,
        };
        if dirty.get(&page).is_none_or(|rec_lsn| record.lsn < *rec_lsn) {
            continue;
        }
        let (guard, known) = shared.pool.fetch_for_redo(page).await?;
        let defines = matches!(step, RedoStep::Image(..) | RedoStep::Op(PageOp::Format { .. }));
        if !known && !defines {
            unreadable_with_records.insert(page);
            continue;
        }
        if known && guard.read(|page| page.lsn()) >= record.lsn {
            continue;
        }
        guard.change(|page, _| {
            match step {
                RedoStep::Op(op) => apply(page, op)?,
                RedoStep::Image(page_type, body) => restore_image(page, page_type, body)?,
            }
            Ok(((), Some(record.lsn)))
        })?;
        if !known {
            shared.pool.mark_known(&guard);
            unreadable_with_records.remove(&page);
        }
        redone.insert(page);
        report.redo_records_applied += 1;
    }
    report.pages_redone = redone.len();
    if let Some(page) = unreadable_with_records.first() {
        return Err(Error::CorruptPage {
            file: shared.pool.file_name().to_string(),
            page: page.0,
            reason: "unreadable (torn or lost write) and the log holds no image to rebuild it from".into(),
        });
    }
    Ok(())
}

fn restore_image(page: &mut crate::storage::page::Page, page_type: u8, body: &[u8]) -> Result<()> {
    let page_type = PageType::from_u8(page_type).ok_or_else(|| Error::Corrupt(format!("image of type {page_type}")))?;
    if body.len() != page.body().len() {
        return Err(Error::Corrupt(format!("page image of {} bytes", body.len())));
    }
    page.set_page_type(page_type);
    page.body_mut().copy_from_slice(body);
    Ok(())
}

async fn undo_losers(shared: &Arc<Shared>, txns: BTreeMap<TxnId, TxnEntry>, report: &mut RecoveryReport) -> Result<()> {
    *shared.txn_table() = txns.clone();
    for (txn, entry) in txns {
        if entry.status == TxnStatus::Active {
            shared.log.make_room().await?;
            shared.append_for(txn, LogBody::Abort)?;
        }
        if entry.status != TxnStatus::Committed {
            report.clrs_written += super::txn::undo(shared, txn, entry.last_lsn).await?;
            report.losers_rolled_back += 1;
        }
        shared.log.make_room().await?;
        shared.append_for(txn, LogBody::End)?;
    }
    let last = shared.log.last_lsn();
    if last != Lsn::ZERO {
        shared.log.flush(last).await?;
    }
    Ok(())
}
