//! Write-ahead log records: what each one means to ARIES recovery, and how it is framed as bytes.
//!
//! This module is pure: it turns a [`LogRecord`] into bytes ([`LogRecord::encode`]) and bytes back
//! into records ([`decode_next`]). It never touches storage; the log buffer, group commit and
//! recovery are built on top of it.
//!
//! # The log stream and LSNs
//!
//! The log is one append-only byte stream, and a record's [`Lsn`] is the stream offset of the
//! record's first byte. (The log file holds a suffix of the stream: recycling drops a prefix
//! recovery no longer needs, and LSNs keep growing; see [`super::writer`].) [`decode_next`] refuses a record whose stored LSN is not the offset it was
//! found at. An offset rather than a counter, because:
//!
//! - the next LSN is the stream's length, so no counter has to be made durable or recovered;
//! - reading the record an LSN names (undo following `prev_lsn`) is a seek, not a search;
//! - a record that is whole and correctly checksummed but in the wrong place is detected: stale
//!   bytes left by an earlier use of a recycled log file, a misdirected write, or a reader that
//!   resynchronised at the wrong offset all carry an LSN naming some other offset;
//! - offsets only grow, so comparing a page's LSN with a record's LSN says whether the page
//!   already holds the record's change (the redo test).
//!
//! [`Lsn::ZERO`] means "no record", so stream byte 0 never starts a record: the stream must begin
//! with something else (a header), and encoding a record with LSN 0 is refused. Every LSN a record
//! carries (`prev_lsn`, a CLR's `undo_next_lsn`, a checkpoint's recovery and last LSNs) must be
//! strictly less than the record's own; encode and decode both check it, so every chain that undo
//! walks ends.
//!
//! # Frame layout
//!
//! All integers are little-endian.
//!
//! | offset | bytes | field |
//! |-------:|------:|-------|
//! | 0      | 4     | total record length in bytes, this field included (`u32`) |
//! | 4      | 4     | CRC32 (IEEE) of bytes 8..length, i.e. everything after this field |
//! | 8      | 8     | `lsn` (must equal the record's stream offset) |
//! | 16     | 8     | `prev_lsn`: the same transaction's previous record, 0 if none |
//! | 24     | 8     | `txn` |
//! | 32     | 1     | body tag (table below) |
//! | 33     | …     | body fields, ending exactly at the record's length |
//!
//! A record is [`HEADER_BYTES`] to [`MAX_RECORD_BYTES`] long. A byte string is a `u16` length
//! followed by that many bytes. Tag 0 is never used, so zero padding never parses as a record.
//!
//! | tag | body | fields after the tag |
//! |----:|------|----------------------|
//! | 1 | `Begin` | — |
//! | 2 | `Commit` | — |
//! | 3 | `Abort` | — |
//! | 4 | `End` | — |
//! | 5 | `Update` | file `u32`, page `u64`, page op |
//! | 6 | `Clr` | file `u32`, page `u64`, undo_next_lsn `u64`, page op |
//! | 7 | `CheckpointBegin` | — |
//! | 8 | `CheckpointEnd` | the dirty page table, then the transaction table (below) |
//! | 9 | `PageImage` | file `u32`, page `u64`, page type `u8`, body (byte string) |
//!
//! | op tag | page op | fields after the op tag |
//! |-------:|---------|-------------------------|
//! | 1 | `Format` | page_type `u8` |
//! | 2 | `WriteBytes` | offset `u16`, length `u16`, before (length bytes), after (length bytes) |
//! | 3 | `SlotInsert` | slot `u16`, data (byte string) |
//! | 4 | `SlotDelete` | slot `u16`, before (byte string) |
//! | 5 | `SlotUpdate` | slot `u16`, before (byte string), after (byte string) |
//! | 6 | `EntryInsert` | index `u16`, entry (byte string) |
//! | 7 | `EntryDelete` | index `u16`, entry (byte string) |
//! | 8 | `EntriesRemoveTail` | from `u16`, count `u16`, that many byte strings |
//! | 9 | `EntriesAppend` | at `u16`, count `u16`, that many byte strings |
//! | 10 | `MapSet` | bit `u16` |
//! | 11 | `MapClear` | bit `u16` |
//! | 12 | `SetPageType` | before `u8`, after `u8` |
//!
//! `CheckpointEnd` holds a `u32` count of dirty pages, then for each its file `u32`, page `u64`
//! and recovery_lsn `u64`; then a `u32` count of transactions, then for each its txn `u64`,
//! status `u8` (1 `Active`, 2 `Committed`, 3 `Aborting`) and last_lsn `u64`.
//!
//! # What each record means to recovery
//!
//! Recovery runs three passes. *Analysis* scans forward from the last checkpoint and rebuilds the
//! dirty page table (page → the LSN of the first record that may not be on disk) and the
//! transaction table (transaction → status and last LSN). *Redo* repeats history from the smallest
//! recovery LSN in the dirty page table, re-applying every `Update` and `Clr` whose page LSN shows
//! it missing, for winners and losers alike. *Undo* rolls back every transaction that neither
//! committed nor finished, newest record first, along the `prev_lsn` chains.
//!
//! - `Begin`: a transaction starts; analysis enters it in the transaction table as active.
//! - `Update`: a physiological change: one page, named by file and page number, and an operation
//!   within it ([`PageOp`]). Redo applies the op when the page's LSN is below the record's; undo
//!   applies [`PageOp::undo`] and logs that as a `Clr`.
//! - `Clr` (compensation log record): the undo of one `Update`, written during rollback. Redo
//!   applies it like an update; undo never undoes it (see below).
//! - `Commit`: the transaction is a winner once this record is durable; the commit is acknowledged
//!   only after the log is synced through it. Analysis marks it committed.
//! - `Abort`: rollback has begun; analysis marks the transaction aborting, and undo finishes it.
//! - `End`: the transaction is finished (committed, or rolled back with all its CLRs written);
//!   analysis drops it from the transaction table.
//! - `CheckpointBegin` / `CheckpointEnd`: a fuzzy checkpoint. Between the two, the engine copies
//!   the dirty page table and the transaction table into `CheckpointEnd` without stopping other
//!   work, so the copies may lag or lead the log a little; analysis starts at the
//!   `CheckpointBegin`, loads the tables from the matching `CheckpointEnd`, and the records it
//!   scans in between correct them. Checkpoint records belong to no transaction: by convention
//!   `txn` is `TxnId(0)` and `prev_lsn` is zero.
//!
//! - `PageImage`: a page's whole type and body as they were just before the first change after the
//!   page was last clean. Redo-only and in no transaction's chain (`txn` 0, `prev_lsn` 0). It is
//!   what makes torn page writes recoverable (PostgreSQL calls it a full-page write): a page write
//!   can tear only while the page was being cleaned, so the next change logs an image first, and
//!   redo rebuilds a page it cannot read from the last image or `Format` in its redo range.
//!
//! Allocating or freeing a page is an `Update` of the space-map page that covers it
//! ([`PageOp::MapSet`] / [`PageOp::MapClear`]); undo of one is the other. Setting or clearing one
//! bit commutes with every other bit's change, so concurrent transactions may share a map page and
//! still undo page-oriented. A freed page must not be reused before the freeing transaction ends,
//! or undoing the free would take a page that another transaction now owns; the allocator keeps
//! such pages in quarantine.
//!
//! # Why CLRs carry `undo_next_lsn`
//!
//! A CLR's `undo_next_lsn` is the `prev_lsn` of the update it compensates: the next record of the
//! transaction still to undo. When undo meets a CLR (because the system crashed during a
//! rollback), it jumps there instead of following the CLR's own `prev_lsn`. So an update is undone
//! at most once however often recovery itself crashes, the work of a rollback is bounded by the
//! transaction's updates, and undo never has to undo an undo. This is also why a CLR is redo-only.
//!
//! # Why a torn tail is truncated, not repaired
//!
//! A crash during a log write can leave the last record partly written, or later sectors written
//! while earlier ones were not. [`decode_next`] reports where the first record that fails its
//! checks starts ([`Decoded::TornTail`]), and recovery truncates the log there. That loses nothing
//! acknowledged: a commit is acknowledged only after the log is synced through its record, and a
//! crash can only tear bytes that were not yet synced. Repair is impossible anyway: the checksum
//! says that bytes are wrong, not what they were. Keeping any record after the tear would trust
//! bytes whose predecessors never arrived, leaving holes in the `prev_lsn` chains. Truncating also
//! makes the next append land at a clean offset.
//!
//! A failure below the log's known durable end is not a tear but media corruption, and truncating
//! there would drop acknowledged commits: recovery must compare the torn offset with the durable
//! end it knows and report corruption instead. The same goes for the reasons found after the
//! checksum passed ([`TornReason::LsnMismatch`] onwards), which mean whole bytes that this format
//! does not accept (a writer bug or a format version mismatch) rather than a tear.
//!
//! The checksum does not cover the length field. A damaged length is still caught: it names an
//! impossible length, runs past the buffer, or makes the checksum cover the wrong bytes (which
//! fails except with probability 2^-32).

use std::fmt;
use std::iter;

use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::wal::{Lsn, TxnId};

/// The largest record, in bytes, frame included. Bounding records bounds the log buffer that must
/// hold one whole, and lets a damaged length field be recognised as impossible.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;

/// The fixed part of every record: length, checksum, lsn, prev_lsn, txn and body tag.
pub const HEADER_BYTES: usize = 33;

/// Bytes before the checksummed part: the length and the checksum themselves.
const UNCHECKSUMMED_BYTES: usize = 8;

const TAG_BEGIN: u8 = 1;
const TAG_COMMIT: u8 = 2;
const TAG_ABORT: u8 = 3;
const TAG_END: u8 = 4;
const TAG_UPDATE: u8 = 5;
const TAG_CLR: u8 = 6;
const TAG_CHECKPOINT_BEGIN: u8 = 7;
const TAG_CHECKPOINT_END: u8 = 8;
const TAG_PAGE_IMAGE: u8 = 9;

const OP_FORMAT: u8 = 1;
const OP_WRITE_BYTES: u8 = 2;
const OP_SLOT_INSERT: u8 = 3;
const OP_SLOT_DELETE: u8 = 4;
const OP_SLOT_UPDATE: u8 = 5;
const OP_ENTRY_INSERT: u8 = 6;
const OP_ENTRY_DELETE: u8 = 7;
const OP_ENTRIES_REMOVE_TAIL: u8 = 8;
const OP_ENTRIES_APPEND: u8 = 9;
const OP_MAP_SET: u8 = 10;
const OP_MAP_CLEAR: u8 = 11;
const OP_SET_PAGE_TYPE: u8 = 12;

const STATUS_ACTIVE: u8 = 1;
const STATUS_COMMITTED: u8 = 2;
const STATUS_ABORTING: u8 = 3;

/// Encoded size of one dirty page table entry: file, page, recovery LSN.
const DIRTY_PAGE_ENTRY_BYTES: usize = 4 + 8 + 8;
/// Encoded size of one transaction table entry: txn, status, last LSN.
const ACTIVE_TXN_ENTRY_BYTES: usize = 8 + 1 + 8;

/// One record of the write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Where the record starts in the log stream; never [`Lsn::ZERO`].
    pub lsn: Lsn,
    /// The same transaction's previous record, [`Lsn::ZERO`] if none; always below `lsn`.
    pub prev_lsn: Lsn,
    pub txn: TxnId,
    pub body: LogBody,
}

/// What a record says. See the module documentation for each kind's part in recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogBody {
    Begin,
    Commit,
    Abort,
    /// The transaction is finished: committed, or rolled back completely.
    End,
    /// A physiological change to one page of file number `file`.
    Update {
        file: u32,
        page: PageId,
        op: PageOp,
    },
    /// A compensation log record: redo-only, written while undoing. `undo_next_lsn` is the next
    /// record of the transaction still to undo (the compensated update's `prev_lsn`).
    Clr {
        file: u32,
        page: PageId,
        op: PageOp,
        undo_next_lsn: Lsn,
    },
    CheckpointBegin,
    /// A fuzzy checkpoint's tables: dirty pages as (file, page, recovery LSN), and transactions
    /// not yet ended as (txn, status, last LSN).
    CheckpointEnd {
        dirty_pages: Vec<(u32, PageId, Lsn)>,
        active_txns: Vec<(TxnId, TxnStatus, Lsn)>,
    },
    /// A full page image, redo-only; see the module documentation.
    PageImage {
        file: u32,
        page: PageId,
        page_type: u8,
        body: Vec<u8>,
    },
}

/// A transaction's state as a checkpoint records it in the transaction table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxnStatus {
    /// Running forward; if the system crashes now, undo rolls it back.
    Active,
    /// Its `Commit` is logged but its `End` is not; recovery only has to write the `End`.
    Committed,
    /// Rolling back; undo continues from its last LSN (often a CLR).
    Aborting,
}

/// A physiological operation on one page. Each carries what redo needs to repeat it and what undo
/// needs to reverse it, so [`PageOp::undo`] needs nothing but the record.
///
/// Undo is page-oriented: it assumes the bytes or slot are where the op left them, so the page
/// layer's locking must keep other transactions from moving them until this one ends, and slot
/// insert and delete at the same slot number must be exact inverses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOp {
    /// Initialise the page as an empty page of `page_type`. It has no undo: `Format` is only for a
    /// page the same transaction allocated, and undoing that allocation frees the page, which
    /// makes its contents irrelevant. To repurpose a page in use, free it and allocate it again.
    Format { page_type: u8 },
    /// Replace the bytes at `offset..offset + before.len()`; `before` and `after` have the same
    /// length. For B+Tree node changes and page metadata.
    WriteBytes { offset: u16, before: Vec<u8>, after: Vec<u8> },
    /// Insert `data` as slot `slot`.
    SlotInsert { slot: u16, data: Vec<u8> },
    /// Delete slot `slot`, which held `before`.
    SlotDelete { slot: u16, before: Vec<u8> },
    /// Replace slot `slot`'s contents `before` with `after`.
    SlotUpdate { slot: u16, before: Vec<u8>, after: Vec<u8> },
    /// Insert `entry` at position `index` of an ordered node (B+Tree), shifting later entries up.
    EntryInsert { index: u16, entry: Vec<u8> },
    /// Remove the entry at position `index` of an ordered node, which held `entry`.
    EntryDelete { index: u16, entry: Vec<u8> },
    /// Remove the entries from position `from` to the end of an ordered node; they were `entries`.
    /// A node split moves them to the new sibling with [`PageOp::EntriesAppend`].
    EntriesRemoveTail { from: u16, entries: Vec<Vec<u8>> },
    /// Append `entries` to an ordered node that holds exactly `at` entries.
    EntriesAppend { at: u16, entries: Vec<Vec<u8>> },
    /// Set bit `bit` of a space-map page: the page it stands for is allocated.
    MapSet { bit: u16 },
    /// Clear bit `bit` of a space-map page: the page it stands for is free.
    MapClear { bit: u16 },
    /// Change the page's type byte (a B+Tree root turning from leaf to internal node).
    SetPageType { before: u8, after: u8 },
}

impl PageOp {
    /// The operation that reverses this one, for a CLR; `None` for [`PageOp::Format`].
    pub fn undo(&self) -> Option<PageOp> {
        let inverse = match self {
            PageOp::Format { .. } => return None,
            PageOp::WriteBytes { offset, before, after } => {
                PageOp::WriteBytes { offset: *offset, before: after.clone(), after: before.clone() }
            }
            PageOp::SlotInsert { slot, data } => PageOp::SlotDelete { slot: *slot, before: data.clone() },
            PageOp::SlotDelete { slot, before } => PageOp::SlotInsert { slot: *slot, data: before.clone() },
            PageOp::SlotUpdate { slot, before, after } => {
                PageOp::SlotUpdate { slot: *slot, before: after.clone(), after: before.clone() }
            }
            PageOp::EntryInsert { index, entry } => PageOp::EntryDelete { index: *index, entry: entry.clone() },
            PageOp::EntryDelete { index, entry } => PageOp::EntryInsert { index: *index, entry: entry.clone() },
            PageOp::EntriesRemoveTail { from, entries } => {
                PageOp::EntriesAppend { at: *from, entries: entries.clone() }
            }
            PageOp::EntriesAppend { at, entries } => PageOp::EntriesRemoveTail { from: *at, entries: entries.clone() },
            PageOp::MapSet { bit } => PageOp::MapClear { bit: *bit },
            PageOp::MapClear { bit } => PageOp::MapSet { bit: *bit },
            PageOp::SetPageType { before, after } => PageOp::SetPageType { before: *after, after: *before },
        };
        Some(inverse)
    }

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            PageOp::Format { page_type } => {
                out.push(OP_FORMAT);
                out.push(*page_type);
            }
            PageOp::WriteBytes { offset, before, after } => {
                out.push(OP_WRITE_BYTES);
                if before.len() != after.len() {
                    return Err(Error::InvalidInput(format!(
                        "WriteBytes with {} bytes before and {} after",
                        before.len(),
                        after.len()
                    )));
                }
                put_u16(out, *offset);
                // One length for both halves, so unequal halves cannot even be written down.
                put_byte_string(out, before)?;
                out.extend_from_slice(after);
            }
            PageOp::SlotInsert { slot, data } => {
                out.push(OP_SLOT_INSERT);
                put_u16(out, *slot);
                put_byte_string(out, data)?;
            }
            PageOp::SlotDelete { slot, before } => {
                out.push(OP_SLOT_DELETE);
                put_u16(out, *slot);
                put_byte_string(out, before)?;
            }
            PageOp::SlotUpdate { slot, before, after } => {
                out.push(OP_SLOT_UPDATE);
                put_u16(out, *slot);
                put_byte_string(out, before)?;
                put_byte_string(out, after)?;
            }
            PageOp::EntryInsert { index, entry } | PageOp::EntryDelete { index, entry } => {
                out.push(if matches!(self, PageOp::EntryInsert { .. }) { OP_ENTRY_INSERT } else { OP_ENTRY_DELETE });
                put_u16(out, *index);
                put_byte_string(out, entry)?;
            }
            PageOp::EntriesRemoveTail { from: position, entries } | PageOp::EntriesAppend { at: position, entries } => {
                let tag = if matches!(self, PageOp::EntriesAppend { .. }) {
                    OP_ENTRIES_APPEND
                } else {
                    OP_ENTRIES_REMOVE_TAIL
                };
                out.push(tag);
                put_u16(out, *position);
                put_u16(out, u16::try_from(entries.len()).map_err(|_| Error::InvalidInput("too many entries".into()))?);
                for entry in entries {
                    put_byte_string(out, entry)?;
                }
            }
            PageOp::MapSet { bit } | PageOp::MapClear { bit } => {
                out.push(if matches!(self, PageOp::MapSet { .. }) { OP_MAP_SET } else { OP_MAP_CLEAR });
                put_u16(out, *bit);
            }
            PageOp::SetPageType { before, after } => {
                out.push(OP_SET_PAGE_TYPE);
                out.push(*before);
                out.push(*after);
            }
        }
        Ok(())
    }

    fn decode(reader: &mut Reader<'_>) -> Result<PageOp, TornReason> {
        let op = match reader.u8()? {
            OP_FORMAT => PageOp::Format { page_type: reader.u8()? },
            OP_WRITE_BYTES => {
                let offset = reader.u16()?;
                let length = usize::from(reader.u16()?);
                let before = reader.take(length)?.to_vec();
                let after = reader.take(length)?.to_vec();
                PageOp::WriteBytes { offset, before, after }
            }
            OP_SLOT_INSERT => PageOp::SlotInsert { slot: reader.u16()?, data: reader.byte_string()? },
            OP_SLOT_DELETE => PageOp::SlotDelete { slot: reader.u16()?, before: reader.byte_string()? },
            OP_SLOT_UPDATE => {
                let slot = reader.u16()?;
                let before = reader.byte_string()?;
                PageOp::SlotUpdate { slot, before, after: reader.byte_string()? }
            }
            OP_ENTRY_INSERT => PageOp::EntryInsert { index: reader.u16()?, entry: reader.byte_string()? },
            OP_ENTRY_DELETE => PageOp::EntryDelete { index: reader.u16()?, entry: reader.byte_string()? },
            OP_ENTRIES_REMOVE_TAIL => {
                let from = reader.u16()?;
                PageOp::EntriesRemoveTail { from, entries: reader.byte_strings()? }
            }
            OP_ENTRIES_APPEND => {
                let at = reader.u16()?;
                PageOp::EntriesAppend { at, entries: reader.byte_strings()? }
            }
            OP_MAP_SET => PageOp::MapSet { bit: reader.u16()? },
            OP_MAP_CLEAR => PageOp::MapClear { bit: reader.u16()? },
            OP_SET_PAGE_TYPE => PageOp::SetPageType { before: reader.u8()?, after: reader.u8()? },
            tag => return Err(TornReason::UnknownPageOpTag { tag }),
        };
        Ok(op)
    }
}

impl TxnStatus {
    fn to_byte(self) -> u8 {
        match self {
            TxnStatus::Active => STATUS_ACTIVE,
            TxnStatus::Committed => STATUS_COMMITTED,
            TxnStatus::Aborting => STATUS_ABORTING,
        }
    }

    fn from_byte(status: u8) -> Result<TxnStatus, TornReason> {
        match status {
            STATUS_ACTIVE => Ok(TxnStatus::Active),
            STATUS_COMMITTED => Ok(TxnStatus::Committed),
            STATUS_ABORTING => Ok(TxnStatus::Aborting),
            status => Err(TornReason::UnknownTxnStatus { status }),
        }
    }
}

impl LogBody {
    fn tag(&self) -> u8 {
        match self {
            LogBody::Begin => TAG_BEGIN,
            LogBody::Commit => TAG_COMMIT,
            LogBody::Abort => TAG_ABORT,
            LogBody::End => TAG_END,
            LogBody::Update { .. } => TAG_UPDATE,
            LogBody::Clr { .. } => TAG_CLR,
            LogBody::CheckpointBegin => TAG_CHECKPOINT_BEGIN,
            LogBody::CheckpointEnd { .. } => TAG_CHECKPOINT_END,
            LogBody::PageImage { .. } => TAG_PAGE_IMAGE,
        }
    }

    /// Writes the fields after the tag.
    fn encode_fields(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            LogBody::Begin | LogBody::Commit | LogBody::Abort | LogBody::End | LogBody::CheckpointBegin => {}
            LogBody::Update { file, page, op } => {
                put_page(out, *file, *page);
                op.encode(out)?;
            }
            LogBody::Clr { file, page, op, undo_next_lsn } => {
                put_page(out, *file, *page);
                put_u64(out, undo_next_lsn.0);
                op.encode(out)?;
            }
            LogBody::CheckpointEnd { dirty_pages, active_txns } => {
                put_count(out, dirty_pages.len())?;
                for (file, page, recovery_lsn) in dirty_pages {
                    put_page(out, *file, *page);
                    put_u64(out, recovery_lsn.0);
                }
                put_count(out, active_txns.len())?;
                for (txn, status, last_lsn) in active_txns {
                    put_u64(out, txn.0);
                    out.push(status.to_byte());
                    put_u64(out, last_lsn.0);
                }
            }
            LogBody::PageImage { file, page, page_type, body } => {
                put_page(out, *file, *page);
                out.push(*page_type);
                put_byte_string(out, body)?;
            }
        }
        Ok(())
    }

    /// Reads the fields after `tag`.
    fn decode(tag: u8, reader: &mut Reader<'_>) -> Result<LogBody, TornReason> {
        let body = match tag {
            TAG_BEGIN => LogBody::Begin,
            TAG_COMMIT => LogBody::Commit,
            TAG_ABORT => LogBody::Abort,
            TAG_END => LogBody::End,
            TAG_UPDATE => {
                let (file, page) = reader.page()?;
                LogBody::Update { file, page, op: PageOp::decode(reader)? }
            }
            TAG_CLR => {
                let (file, page) = reader.page()?;
                let undo_next_lsn = Lsn(reader.u64()?);
                LogBody::Clr { file, page, op: PageOp::decode(reader)?, undo_next_lsn }
            }
            TAG_CHECKPOINT_BEGIN => LogBody::CheckpointBegin,
            TAG_CHECKPOINT_END => decode_checkpoint_end(reader)?,
            TAG_PAGE_IMAGE => {
                let (file, page) = reader.page()?;
                let page_type = reader.u8()?;
                LogBody::PageImage { file, page, page_type, body: reader.byte_string()? }
            }
            tag => return Err(TornReason::UnknownBodyTag { tag }),
        };
        Ok(body)
    }
}

fn decode_checkpoint_end(reader: &mut Reader<'_>) -> Result<LogBody, TornReason> {
    let dirty_count = reader.count(DIRTY_PAGE_ENTRY_BYTES)?;
    let mut dirty_pages = Vec::with_capacity(dirty_count);
    for _ in 0..dirty_count {
        let (file, page) = reader.page()?;
        dirty_pages.push((file, page, Lsn(reader.u64()?)));
    }
    let active_count = reader.count(ACTIVE_TXN_ENTRY_BYTES)?;
    let mut active_txns = Vec::with_capacity(active_count);
    for _ in 0..active_count {
        let txn = TxnId(reader.u64()?);
        let status = TxnStatus::from_byte(reader.u8()?)?;
        active_txns.push((txn, status, Lsn(reader.u64()?)));
    }
    Ok(LogBody::CheckpointEnd { dirty_pages, active_txns })
}

impl LogRecord {
    /// Appends the record's frame to `out`.
    ///
    /// Fails with [`Error::InvalidInput`], leaving `out` as it was, when the record is larger than
    /// [`MAX_RECORD_BYTES`], its LSN is zero, it carries an LSN not below its own, or a
    /// [`PageOp::WriteBytes`] has halves of different lengths.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let result = self.encode_frame(out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_frame(&self, out: &mut Vec<u8>, start: usize) -> Result<()> {
        self.check_encodable()?;
        out.extend_from_slice(&[0; UNCHECKSUMMED_BYTES]);
        put_u64(out, self.lsn.0);
        put_u64(out, self.prev_lsn.0);
        put_u64(out, self.txn.0);
        out.push(self.body.tag());
        self.body.encode_fields(out)?;

        let length_bytes = out.len() - start;
        let too_large = || {
            Error::InvalidInput(format!(
                "log record at {} is {length_bytes} bytes, over the {MAX_RECORD_BYTES}-byte limit",
                self.lsn
            ))
        };
        if length_bytes > MAX_RECORD_BYTES {
            return Err(too_large());
        }
        let length = u32::try_from(length_bytes).map_err(|_| too_large())?;
        let checksum = crc32fast::hash(&out[start + UNCHECKSUMMED_BYTES..]);
        out[start..start + 4].copy_from_slice(&length.to_le_bytes());
        out[start + 4..start + UNCHECKSUMMED_BYTES].copy_from_slice(&checksum.to_le_bytes());

        assert!(length_bytes >= HEADER_BYTES);
        debug_assert_eq!(decode_frame(&out[start..], self.lsn).as_ref(), Ok(self), "encode/decode disagree");
        Ok(())
    }

    /// The checks that decoding repeats, made on the writer's side so a bad record is refused
    /// before it reaches the log rather than found as a torn tail after a restart.
    fn check_encodable(&self) -> Result<()> {
        if self.lsn == Lsn::ZERO {
            return Err(Error::InvalidInput("log record with lsn 0, which means \"no record\"".to_string()));
        }
        if let Some(pointer) = self.first_pointer_not_backward() {
            return Err(Error::InvalidInput(format!(
                "log record at {} points forward or to itself ({pointer})",
                self.lsn
            )));
        }
        Ok(())
    }

    /// The first LSN the record carries that is not strictly below its own.
    fn first_pointer_not_backward(&self) -> Option<Lsn> {
        let undo_next = match &self.body {
            LogBody::Clr { undo_next_lsn, .. } => Some(*undo_next_lsn),
            _ => None,
        };
        let (dirty_pages, active_txns) = match &self.body {
            LogBody::CheckpointEnd { dirty_pages, active_txns } => (dirty_pages.as_slice(), active_txns.as_slice()),
            _ => (&[][..], &[][..]),
        };
        iter::once(self.prev_lsn)
            .chain(undo_next)
            .chain(dirty_pages.iter().map(|(_, _, recovery_lsn)| *recovery_lsn))
            .chain(active_txns.iter().map(|(_, _, last_lsn)| *last_lsn))
            .find(|pointer| *pointer >= self.lsn)
    }
}

/// What [`decode_next`] found at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, valid record, and the offset just past it, where the next one starts.
    Record(LogRecord, usize),
    /// The clean end of the log: the offset is the buffer's end, or only zero bytes follow.
    End,
    /// The record at `offset` is not valid; recovery truncates the log there.
    TornTail { offset: usize, reason: TornReason },
}

/// Why the bytes at an offset are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornReason {
    /// The offset asked for is past the end of the buffer.
    OffsetPastEnd {
        buffer_bytes: usize,
    },
    /// Fewer bytes than a length field are left, and they are not all zero.
    LengthFieldCut {
        bytes_left: usize,
    },
    /// The length is below [`HEADER_BYTES`] or above [`MAX_RECORD_BYTES`] (a zero length is only
    /// padding when nothing but zeros follows).
    LengthImpossible {
        length: u32,
    },
    /// The record would run past the end of the buffer.
    LengthPastEnd {
        length: u32,
        bytes_left: usize,
    },
    /// The bytes are not the ones that were checksummed.
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// The record's LSN is not the offset it was found at, or is zero.
    LsnMismatch {
        lsn: Lsn,
    },
    /// The record carries an LSN not below its own.
    PointerNotBackward {
        pointer: Lsn,
    },
    UnknownBodyTag {
        tag: u8,
    },
    UnknownPageOpTag {
        tag: u8,
    },
    UnknownTxnStatus {
        status: u8,
    },
    /// A field or a count runs past the end of the record.
    FieldPastRecordEnd,
    /// The body ended before the record's length did.
    TrailingBytes {
        count: usize,
    },
}

impl fmt::Display for TornReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TornReason::OffsetPastEnd { buffer_bytes } => write!(f, "offset past the {buffer_bytes}-byte buffer"),
            TornReason::LengthFieldCut { bytes_left } => write!(f, "length field cut off after {bytes_left} bytes"),
            TornReason::LengthImpossible { length } => write!(f, "impossible record length {length}"),
            TornReason::LengthPastEnd { length, bytes_left } => {
                write!(f, "record length {length} runs past the {bytes_left} bytes left")
            }
            TornReason::ChecksumMismatch { stored, computed } => {
                write!(f, "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")
            }
            TornReason::LsnMismatch { lsn } => write!(f, "record claims {lsn}, which is not where it was found"),
            TornReason::PointerNotBackward { pointer } => write!(f, "record points forward or to itself ({pointer})"),
            TornReason::UnknownBodyTag { tag } => write!(f, "unknown record tag {tag}"),
            TornReason::UnknownPageOpTag { tag } => write!(f, "unknown page operation tag {tag}"),
            TornReason::UnknownTxnStatus { status } => write!(f, "unknown transaction status {status}"),
            TornReason::FieldPastRecordEnd => f.write_str("a field runs past the end of the record"),
            TornReason::TrailingBytes { count } => write!(f, "{count} bytes left over after the record's body"),
        }
    }
}

/// Decodes the record starting at `offset` of `buf`, where `buf[0]` is byte 0 of the log stream
/// (so `offset` is also the LSN the record must carry).
///
/// Never panics, whatever the bytes. A recovery scan calls it first with the offset of the first
/// record (just past the stream's header), then with each next offset returned, until `End` or
/// `TornTail`.
pub fn decode_next(buf: &[u8], offset: usize) -> Decoded {
    let torn = |reason| Decoded::TornTail { offset, reason };
    let Some(rest) = buf.get(offset..) else {
        return torn(TornReason::OffsetPastEnd { buffer_bytes: buf.len() });
    };
    // Zeros are scanned for only where a record cannot start, so a scan stays linear in the log.
    let only_zeros = || rest.iter().all(|byte| *byte == 0);
    let Some((length_field, _)) = rest.split_first_chunk::<4>() else {
        if only_zeros() {
            return Decoded::End;
        }
        return torn(TornReason::LengthFieldCut { bytes_left: rest.len() });
    };
    let length = u32::from_le_bytes(*length_field);
    if length == 0 && only_zeros() {
        return Decoded::End;
    }
    let length_bytes = match usize::try_from(length) {
        Ok(bytes) if (HEADER_BYTES..=MAX_RECORD_BYTES).contains(&bytes) => bytes,
        _ => return torn(TornReason::LengthImpossible { length }),
    };
    let Some(frame) = rest.get(..length_bytes) else {
        return torn(TornReason::LengthPastEnd { length, bytes_left: rest.len() });
    };
    let Ok(expected_lsn) = u64::try_from(offset) else {
        return torn(TornReason::OffsetPastEnd { buffer_bytes: buf.len() });
    };
    match decode_frame(frame, Lsn(expected_lsn)) {
        Ok(record) => Decoded::Record(record, offset + length_bytes),
        Err(reason) => torn(reason),
    }
}

/// Decodes one frame whose length field has been checked to be `frame.len()`.
/// Decodes one whole frame that is known to sit at stream offset `lsn` (random access, for
/// rollback reading back a transaction's records). `None` if it is not a valid record there.
pub fn decode_frame_at(frame: &[u8], lsn: Lsn) -> Option<LogRecord> {
    let length = u32::from_le_bytes(frame.get(..4)?.try_into().ok()?) as usize;
    if !(HEADER_BYTES..=MAX_RECORD_BYTES).contains(&length) {
        return None;
    }
    decode_frame(frame.get(..length)?, lsn).ok()
}

fn decode_frame(frame: &[u8], expected_lsn: Lsn) -> Result<LogRecord, TornReason> {
    let mut reader = Reader { bytes: frame };
    let _length = reader.u32()?;
    let stored = reader.u32()?;
    let computed = crc32fast::hash(reader.bytes);
    if stored != computed {
        return Err(TornReason::ChecksumMismatch { stored, computed });
    }
    let lsn = Lsn(reader.u64()?);
    if lsn != expected_lsn || lsn == Lsn::ZERO {
        return Err(TornReason::LsnMismatch { lsn });
    }
    let prev_lsn = Lsn(reader.u64()?);
    let txn = TxnId(reader.u64()?);
    let tag = reader.u8()?;
    let body = LogBody::decode(tag, &mut reader)?;
    if !reader.bytes.is_empty() {
        return Err(TornReason::TrailingBytes { count: reader.bytes.len() });
    }
    let record = LogRecord { lsn, prev_lsn, txn, body };
    if let Some(pointer) = record.first_pointer_not_backward() {
        return Err(TornReason::PointerNotBackward { pointer });
    }
    Ok(record)
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_page(out: &mut Vec<u8>, file: u32, page: PageId) {
    put_u32(out, file);
    put_u64(out, page.0);
}

/// Writes a `u16` length and the bytes. A longer string could not fit in a record anyway.
fn put_byte_string(out: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let length = u16::try_from(bytes.len()).map_err(|_| {
        Error::InvalidInput(format!(
            "a {}-byte string cannot fit in a log record of at most {MAX_RECORD_BYTES} bytes",
            bytes.len()
        ))
    })?;
    put_u16(out, length);
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_count(out: &mut Vec<u8>, count: usize) -> Result<()> {
    let count = u32::try_from(count).map_err(|_| {
        Error::InvalidInput(format!(
            "{count} checkpoint entries cannot fit in a log record of at most {MAX_RECORD_BYTES} bytes"
        ))
    })?;
    put_u32(out, count);
    Ok(())
}

/// Reads fields from the front of a record; every read is bounds-checked, so no input can panic.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], TornReason> {
        let Some((head, tail)) = self.bytes.split_at_checked(count) else {
            return Err(TornReason::FieldPastRecordEnd);
        };
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TornReason> {
        let Some((head, tail)) = self.bytes.split_first_chunk::<N>() else {
            return Err(TornReason::FieldPastRecordEnd);
        };
        self.bytes = tail;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, TornReason> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, TornReason> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, TornReason> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, TornReason> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn page(&mut self) -> Result<(u32, PageId), TornReason> {
        let file = self.u32()?;
        Ok((file, PageId(self.u64()?)))
    }

    fn byte_string(&mut self) -> Result<Vec<u8>, TornReason> {
        let length = usize::from(self.u16()?);
        Ok(self.take(length)?.to_vec())
    }

    /// A `u16` count of byte strings, then the strings; each needs at least its 2-byte length, so
    /// a damaged count cannot over-allocate.
    fn byte_strings(&mut self) -> Result<Vec<Vec<u8>>, TornReason> {
        let count = usize::from(self.u16()?);
        if count * 2 > self.bytes.len() {
            return Err(TornReason::FieldPastRecordEnd);
        }
        (0..count).map(|_| self.byte_string()).collect()
    }

    /// Reads an entry count and checks that that many entries of `entry_bytes` fit in what is
    /// left, so a damaged count can neither over-allocate nor loop long.
    fn count(&mut self, entry_bytes: usize) -> Result<usize, TornReason> {
        let count = usize::try_from(self.u32()?).map_err(|_| TornReason::FieldPastRecordEnd)?;
        match count.checked_mul(entry_bytes) {
            Some(total) if total <= self.bytes.len() => Ok(count),
            _ => Err(TornReason::FieldPastRecordEnd),
        }
    }
}

#[cfg(test)]
mod tests;
