//! The log writer: appends records to `wal.log`, and makes them durable with
//! group commit.
//!
//! # File layout
//!
//! One file, [`LOG_FILE`] (no segments). Its first [`LOG_HEADER_BYTES`]
//! bytes are a header: the magic `RWAL`, a format version (u32 LE, now 2), the
//! header length (u64 LE), the log's *base* (u64 LE: the LSN of the first byte
//! after the header), zeros, and a CRC-32 of the preceding bytes in the last
//! four bytes. Records (see [`super::record`]) follow back to back; the record
//! with LSN `L` is at file offset `L - base + LOG_HEADER_BYTES`. A fresh log's
//! base is `LOG_HEADER_BYTES`, so its offsets equal its LSNs and no record has
//! LSN 0. (A version 1 header has no base field and means that base.)
//!
//! [`LogWriter::open`] creates the file if it is missing or holds less than a
//! header, writing and syncing the header (and the directory) before any
//! record can be appended, so a header that fails validation is corruption
//! ([`Error::Corrupt`]), never a tear. Otherwise it scans the records from the
//! header's end and truncates the file where the scan stops (a torn tail or
//! trailing zeros), syncing the truncation, so the next append lands just past
//! the last whole record. It also removes a [`NEXT_LOG_FILE`] an interrupted
//! recycling left behind.
//!
//! # Recycling
//!
//! LSNs never restart (pages store them and redo compares them), but the log
//! need not keep what recovery can no longer read: [`LogWriter::recycle`]
//! drops everything below a `keep_from` LSN the checkpointer computes, once
//! that is at least a threshold of bytes. Under the I/O lock (so no write-out
//! interleaves; appends keep filling the in-memory buffer) it writes
//! [`NEXT_LOG_FILE`]: a header with base `keep_from`, then the written bytes
//! from `keep_from` on, copied from the current file; syncs it, renames it
//! over [`LOG_FILE`], syncs the directory, and only then switches the writer
//! to the new file. The rename is atomic and unsynced renames survive a crash
//! as a prefix, so a crash at any point leaves either the old complete log
//! (and maybe a leftover `wal.next`, removed at open) or the new one, which
//! holds every record at or after `keep_from` that was written before the
//! copy. A failure once the rename has been issued poisons the writer (which
//! file the name durably points at is then unknown); a failure before it only
//! fails the recycling. Reading a record below the base is [`Error::Corrupt`].
//!
//! # Group commit
//!
//! [`LogWriter::append`] only encodes into an in-memory buffer of at most
//! [`LOG_BUFFER_BYTES_MAX`] bytes (writing the buffer out, unsynced, when the
//! next record might not fit) and returns the record's LSN.
//! [`LogWriter::flush`] returns once every record up to an LSN is durable:
//!
//! 1. If `durable_lsn` already covers the LSN, return.
//! 2. If no flush is in progress, become the *leader*: take the whole pending
//!    buffer, write it, issue one `sync`, then raise `durable_lsn` to the last
//!    record the buffer held and wake every waiter.
//! 3. Otherwise register as a waiter and sleep until the leader finishes, then
//!    go back to 1: a waiter the finished flush covered returns, one appended
//!    after the leader took the buffer becomes (or waits for) the next leader.
//!
//! So however many tasks commit concurrently, one sync serves all of those
//! whose records were appended before the leader took the buffer.
//! [`LogWriter::stats`] counts flush requests and syncs to show the ratio.
//!
//! # Why a failed write or sync poisons the writer
//!
//! The disk contract says a failed `sync` leaves the durability of every write
//! since the last successful sync unknown, and a later successful sync does
//! not repair that (the kernel may have dropped the dirty pages: "fsyncgate").
//! Retrying would report records durable that may be gone. So the first failed
//! write or sync, or a flush dropped halfway (its buffer is then lost from
//! memory), poisons the writer: every later `append` and `flush` fails, and the
//! engine must restart and recover from what the log really holds.
//!
//! # Invariants
//!
//! * `durable_lsn` only grows.
//! * A record is reported durable (by `flush` or `durable_lsn`) only after a
//!   successful `sync` that was issued after its bytes were written.
//! * Bytes reach the file in LSN order with no gaps: every write-out takes the
//!   buffer and writes it under one I/O lock, at the offset the buffer starts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::oneshot;

use crate::env::{Env, File, OpenMode};
use crate::error::{Error, Result};
use crate::wal::record::{LogBody, LogRecord, MAX_RECORD_BYTES, decode_frame_at};
use crate::wal::{Lsn, TxnId};

/// The log's file name.
pub const LOG_FILE: &str = "wal.log";
/// The file [`LogWriter::recycle`] builds before renaming it over [`LOG_FILE`].
pub const NEXT_LOG_FILE: &str = "wal.next";
/// Bytes of the file header; the first record's LSN in a fresh log.
pub const LOG_HEADER_BYTES: u64 = 64;
/// The default least number of droppable bytes for which recycling rewrites the log.
pub const RECYCLE_THRESHOLD_BYTES: u64 = 16 << 20;
/// Bytes copied per read while recycling.
const RECYCLE_COPY_CHUNK: usize = 1 << 20;
/// The most bytes the in-memory buffer holds before append writes it out.
pub const LOG_BUFFER_BYTES_MAX: usize = 1 << 20;
/// The log file is grown in steps of this many zero bytes ahead of the
/// records (see `write_out`); recovery truncates the zeros at open.
pub const LOG_PREALLOCATE_BYTES: u64 = 1 << 20;
/// The most the buffer may ever hold; see [`LogWriter::append_now`].
pub const LOG_BUFFER_BYTES_HARD_MAX: usize = 4 << 20;

const LOG_MAGIC: &[u8; 4] = b"RWAL";
const LOG_VERSION: u32 = 2;
const HEADER_CRC_AT: usize = LOG_HEADER_BYTES as usize - 4;

/// The writer's shared state, behind a std mutex never held across `.await`.
#[derive(Default)]
struct State {
    /// Appended bytes not yet written; they start at LSN `buffer_start`.
    buffer: Vec<u8>,
    /// The last written-out buffer, emptied, to become the next `buffer`: a
    /// fresh one would be regrown (and its memory faulted in) on every fill.
    spare: Vec<u8>,
    buffer_start: u64,
    /// The LSN at file offset [`LOG_HEADER_BYTES`]; changes only under the I/O lock.
    base: u64,
    /// File offset up to which the file is written or preallocated with zeros.
    allocated: u64,
    /// The LSN of the last record appended.
    last_lsn: Lsn,
    /// The last record covered by a successful sync.
    durable_lsn: Lsn,
    /// A leader is writing and syncing.
    flushing: bool,
    /// Flushers waiting for the leader to finish.
    waiters: Vec<oneshot::Sender<()>>,
    /// Why the writer is poisoned, if it is.
    poisoned: Option<String>,
    flush_requests: u64,
    syncs: u64,
}

impl State {
    fn check(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::io(
                crate::error::IoErrorKind::Device,
                format!("log writer poisoned by an earlier failure ({why}); restart and recover"),
            )),
            None => Ok(()),
        }
    }

    fn end(&self) -> u64 {
        self.buffer_start + self.buffer.len() as u64
    }
}

/// Appends log records and makes them durable with group commit.
pub struct LogWriter {
    /// The current log file; swapped by recycling, only under the I/O lock.
    file: Mutex<Arc<dyn File>>,
    state: Mutex<State>,
    /// `state.buffer.len()` as of the last change to it, so that
    /// [`LogWriter::make_room`], called before every page change, can see
    /// that there is room without taking the state lock.
    buffered: AtomicUsize,
    /// Serialises writing the buffer out (and the leader's sync), reading the
    /// file, and recycling.
    io: futures::lock::Mutex<()>,
}

/// Poisons the writer if dropped armed: a recycling stopped between issuing
/// the rename and switching files leaves the log's name pointing at a file
/// the writer does not write to.
struct PoisonGuard<'a> {
    writer: &'a LogWriter,
    armed: bool,
}

impl Drop for PoisonGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.writer.lock().poisoned.get_or_insert_with(|| "log recycling was interrupted".to_string());
        }
    }
}

/// Poisons the writer and wakes waiters if a write-out is dropped before it
/// finishes: the bytes it took from the buffer are then lost from memory.
struct WriteOutGuard<'a> {
    writer: &'a LogWriter,
    armed: bool,
}

impl Drop for WriteOutGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.writer.lock();
            state.poisoned.get_or_insert_with(|| "a log write-out was cancelled".to_string());
            state.flushing = false;
            for waiter in state.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

impl LogWriter {
    /// Opens (or creates) the log; returns the writer and every whole record
    /// in the log, in LSN order. See the module documentation.
    pub async fn open(env: &Env) -> Result<(LogWriter, Vec<LogRecord>)> {
        remove_next_file(env).await?;
        let file = env.storage.open(LOG_FILE, OpenMode::CreateIfMissing).await?;
        let len = file.len().await?;
        let (base, end, records) = if len < LOG_HEADER_BYTES {
            create_header(&*file).await?;
            env.storage.sync_dir().await?;
            (LOG_HEADER_BYTES, LOG_HEADER_BYTES, Vec::new())
        } else {
            scan_existing(&*file, len).await?
        };
        let last_lsn = records.last().map_or(Lsn::ZERO, |record| record.lsn);
        let allocated = end - base + LOG_HEADER_BYTES;
        let state = State { buffer_start: end, base, last_lsn, durable_lsn: last_lsn, allocated, ..State::default() };
        let file = Mutex::new(Arc::from(file));
        let writer = LogWriter {
            file,
            state: Mutex::new(state),
            buffered: AtomicUsize::new(0),
            io: futures::lock::Mutex::new(()),
        };
        Ok((writer, records))
    }

    /// The current file. Callers that use it with the base hold the I/O lock.
    fn file(&self) -> Arc<dyn File> {
        self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The LSN of the first record the log keeps (the first one, if any).
    pub fn base(&self) -> Lsn {
        Lsn(self.lock().base)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends a record to the buffer and returns its LSN. Not durable until
    /// a [`LogWriter::flush`] covering the LSN returns.
    pub async fn append(&self, txn: TxnId, prev_lsn: Lsn, body: LogBody) -> Result<Lsn> {
        self.make_room().await?;
        self.append_now(txn, prev_lsn, body)
    }

    /// Appends without waiting, for callers that must log and change a page
    /// under the page's latch (so the log order of a page's records is the
    /// order its changes were made in). Call [`LogWriter::make_room`] first:
    /// the buffer may then overshoot [`LOG_BUFFER_BYTES_MAX`] by what the
    /// tasks racing between `make_room` and here append, up to
    /// [`LOG_BUFFER_BYTES_HARD_MAX`], past which this fails.
    pub fn append_now(&self, txn: TxnId, prev_lsn: Lsn, body: LogBody) -> Result<Lsn> {
        let mut state = self.lock();
        state.check()?;
        if state.buffer.len() + MAX_RECORD_BYTES > LOG_BUFFER_BYTES_HARD_MAX {
            return Err(Error::InvalidInput("log buffer full: append_now without make_room".to_string()));
        }
        let record = LogRecord { lsn: Lsn(state.end()), prev_lsn, txn, body };
        let mut buffer = std::mem::take(&mut state.buffer);
        let result = record.encode(&mut buffer);
        self.buffered.store(buffer.len(), Ordering::Release);
        state.buffer = buffer;
        result?;
        state.last_lsn = record.lsn;
        Ok(record.lsn)
    }

    /// Writes the buffer out (unsynced) if one more record of the largest
    /// size might not fit in it.
    pub async fn make_room(&self) -> Result<()> {
        if self.buffered.load(Ordering::Acquire) + MAX_RECORD_BYTES <= LOG_BUFFER_BYTES_MAX {
            // Room for now; a poisoned writer is caught by the append itself.
            return Ok(());
        }
        let full = {
            let state = self.lock();
            state.check()?;
            state.buffer.len() + MAX_RECORD_BYTES > LOG_BUFFER_BYTES_MAX
        };
        if full { self.write_out(false).await } else { Ok(()) }
    }

    /// The LSN the next appended record will get. A page about to be changed
    /// takes it as its recovery LSN, which is then at or below the change's own.
    pub fn next_lsn(&self) -> Lsn {
        Lsn(self.lock().end())
    }

    /// The LSN of the last record appended.
    pub fn last_lsn(&self) -> Lsn {
        self.lock().last_lsn
    }

    /// Reads back the record at `lsn` (from the buffer or the file), for
    /// rollback. Fails with [`Error::Corrupt`] if no whole record starts there.
    pub async fn read_record(&self, lsn: Lsn) -> Result<LogRecord> {
        let corrupt = |what: &str| Error::Corrupt(format!("{LOG_FILE}: no record at {lsn}: {what}"));
        {
            let state = self.lock();
            // A failed write-out lost bytes the file was meant to hold: nothing past the
            // last good write can be read back, so report the poisoning, not corruption.
            state.check()?;
            if lsn.0 >= state.buffer_start {
                let start = usize::try_from(lsn.0 - state.buffer_start).map_err(|_| corrupt("offset"))?;
                if start >= state.buffer.len() {
                    return Err(corrupt("past the end"));
                }
                return match decode_frame_at(&state.buffer[start..], lsn) {
                    Some(record) => Ok(record),
                    None => Err(corrupt("the buffer holds none")),
                };
            }
        }
        // A write-out takes bytes from the buffer before they reach the file; its I/O lock is
        // held until they have. Recycling changes the base and the file under it too.
        let _written = self.io.lock().await;
        self.lock().check()?;
        let (file, base) = (self.file(), self.lock().base);
        if lsn.0 < base {
            return Err(corrupt("below the log's base (recycled)"));
        }
        let offset = lsn.0 - base + LOG_HEADER_BYTES;
        let mut length = [0u8; 4];
        if file.read_at(offset, &mut length).await? != 4 {
            return Err(corrupt("past the end"));
        }
        let length = u32::from_le_bytes(length) as usize;
        if !(4..=MAX_RECORD_BYTES).contains(&length) {
            return Err(corrupt("impossible length"));
        }
        let mut bytes = vec![0u8; length];
        if file.read_at(offset, &mut bytes).await? != length {
            return Err(corrupt("short read"));
        }
        decode_frame_at(&bytes, lsn).ok_or_else(|| corrupt("it does not decode"))
    }

    /// Returns once every record with an LSN up to `lsn` is durable.
    pub async fn flush(&self, lsn: Lsn) -> Result<()> {
        {
            let mut state = self.lock();
            state.flush_requests += 1;
            if lsn > state.last_lsn {
                return Err(Error::InvalidInput(format!("flush to {lsn}, past the last appended record")));
            }
        }
        loop {
            let waiter = {
                let mut state = self.lock();
                state.check()?;
                if lsn <= state.durable_lsn {
                    return Ok(());
                }
                if state.flushing {
                    let (sender, receiver) = oneshot::channel();
                    state.waiters.push(sender);
                    Some(receiver)
                } else {
                    state.flushing = true;
                    None
                }
            };
            match waiter {
                // The leader finished (or was dropped): look again.
                Some(receiver) => {
                    let _ = receiver.await;
                }
                None => {
                    self.write_out(true).await?;
                }
            }
        }
    }

    /// Takes the whole buffer and writes it at its offset; with `sync`, then
    /// syncs, raises `durable_lsn`, ends the flush and wakes the waiters.
    /// Any failure poisons the writer.
    async fn write_out(&self, sync: bool) -> Result<()> {
        let _io = self.io.lock().await;
        let mut guard = WriteOutGuard { writer: self, armed: true };
        let (bytes, offset, covered) = {
            let mut state = self.lock();
            let spare = std::mem::take(&mut state.spare);
            let mut bytes = std::mem::replace(&mut state.buffer, spare);
            self.buffered.store(0, Ordering::Release);
            let offset = state.buffer_start - state.base + LOG_HEADER_BYTES;
            state.buffer_start += bytes.len() as u64;
            let write_end = offset + bytes.len() as u64;
            if sync && !bytes.is_empty() && write_end > state.allocated {
                // Preallocate: zeros past the records, so the next synced write-outs
                // overwrite allocated blocks and their syncs need not also commit a new
                // file size. Unsynced write-outs (a large transaction filling the
                // buffer) skip it: no sync waits on them, and the zeros would double
                // what they write.
                let allocated = (write_end / LOG_PREALLOCATE_BYTES + 1) * LOG_PREALLOCATE_BYTES;
                bytes.resize(bytes.len() + (allocated - write_end) as usize, 0);
                state.allocated = allocated;
            }
            state.allocated = state.allocated.max(write_end);
            (bytes, offset, state.last_lsn)
        };
        let file = self.file();
        let result = match (bytes.is_empty(), sync) {
            (false, true) => file.write_and_sync(offset, &bytes).await,
            (false, false) => file.write_at(offset, &bytes).await,
            (true, true) => file.sync().await,
            (true, false) => Ok(()),
        };
        guard.armed = false;
        let mut state = self.lock();
        if bytes.capacity() <= LOG_BUFFER_BYTES_HARD_MAX + LOG_PREALLOCATE_BYTES as usize {
            let mut bytes = bytes;
            bytes.clear();
            state.spare = bytes;
        }
        match &result {
            Ok(()) if sync => {
                state.syncs += 1;
                state.durable_lsn = state.durable_lsn.max(covered);
            }
            Ok(()) => {}
            Err(error) => {
                state.poisoned.get_or_insert_with(|| error.to_string());
            }
        }
        if sync {
            state.flushing = false;
            for waiter in state.waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        result
    }

    /// The last record known durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.lock().durable_lsn
    }

    /// `(flush_requests, syncs)` since open: commits per sync is their ratio.
    pub fn stats(&self) -> (u64, u64) {
        let state = self.lock();
        (state.flush_requests, state.syncs)
    }

    /// Drops the log below `keep_from` (clamped to the written end) if that
    /// frees at least `threshold` bytes: see "Recycling" in the module
    /// documentation. The caller guarantees recovery and rollback need no
    /// record below `keep_from`, and that `keep_from` is a record boundary.
    pub async fn recycle(&self, env: &Env, keep_from: Lsn, threshold: u64) -> Result<()> {
        let _io = self.io.lock().await;
        let (base, end) = {
            let state = self.lock();
            state.check()?;
            (state.base, state.buffer_start)
        };
        let keep_from = keep_from.0.min(end);
        if keep_from <= base || keep_from - base < threshold {
            return Ok(());
        }
        let next = write_next_file(env, &*self.file(), base, keep_from, end).await?;
        let mut guard = PoisonGuard { writer: self, armed: true };
        let result = match env.storage.rename(NEXT_LOG_FILE, LOG_FILE).await {
            Ok(()) => env.storage.sync_dir().await,
            Err(error) => Err(error),
        };
        guard.armed = false;
        match result {
            Ok(()) => {
                *self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = next;
                let mut state = self.lock();
                state.base = keep_from;
                state.allocated = end - keep_from + LOG_HEADER_BYTES;
                Ok(())
            }
            Err(error) => {
                self.lock().poisoned.get_or_insert_with(|| format!("log recycling: {error}"));
                Err(error)
            }
        }
    }
}

/// Removes a [`NEXT_LOG_FILE`] left by an interrupted recycling, if any.
async fn remove_next_file(env: &Env) -> Result<()> {
    if env.storage.list().await?.iter().any(|name| name == NEXT_LOG_FILE) {
        env.storage.remove(NEXT_LOG_FILE).await?;
    }
    Ok(())
}

/// Writes and syncs [`NEXT_LOG_FILE`]: a header with base `keep_from`, then
/// the bytes of LSNs `[keep_from, end)` copied from `old` (whose base is `base`).
async fn write_next_file(env: &Env, old: &dyn File, base: u64, keep_from: u64, end: u64) -> Result<Arc<dyn File>> {
    remove_next_file(env).await?;
    let next: Arc<dyn File> = Arc::from(env.storage.open(NEXT_LOG_FILE, OpenMode::CreateNew).await?);
    next.write_at(0, &header_bytes(keep_from)).await?;
    let mut chunk = vec![0u8; RECYCLE_COPY_CHUNK];
    let mut lsn = keep_from;
    while lsn < end {
        let want = usize::try_from(end - lsn).map_or(chunk.len(), |left| left.min(chunk.len()));
        let read = old.read_at(lsn - base + LOG_HEADER_BYTES, &mut chunk[..want]).await?;
        if read != want {
            return Err(Error::Corrupt(format!("{LOG_FILE}: short read at {} while recycling", Lsn(lsn))));
        }
        next.write_at(lsn - keep_from + LOG_HEADER_BYTES, &chunk[..want]).await?;
        lsn += want as u64;
    }
    next.sync().await?;
    Ok(next)
}

fn header_bytes(base: u64) -> Vec<u8> {
    let mut header = vec![0u8; LOG_HEADER_BYTES as usize];
    header[0..4].copy_from_slice(LOG_MAGIC);
    header[4..8].copy_from_slice(&LOG_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&LOG_HEADER_BYTES.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    let crc = crc32fast::hash(&header[..HEADER_CRC_AT]);
    header[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The base a valid header names; `None` if it is not a valid header.
fn parse_header(header: &[u8]) -> Option<u64> {
    let header = header.get(..LOG_HEADER_BYTES as usize)?;
    let field = |range: std::ops::Range<usize>| header.get(range).map(<[u8]>::to_vec);
    let crc = u32::from_le_bytes(field(HEADER_CRC_AT..HEADER_CRC_AT + 4)?.try_into().ok()?);
    let version = u32::from_le_bytes(field(4..8)?.try_into().ok()?);
    let length = u64::from_le_bytes(field(8..16)?.try_into().ok()?);
    let base = u64::from_le_bytes(field(16..24)?.try_into().ok()?);
    if &header[0..4] != LOG_MAGIC || length != LOG_HEADER_BYTES || crc32fast::hash(&header[..HEADER_CRC_AT]) != crc {
        return None;
    }
    match version {
        1 if base == 0 => Some(LOG_HEADER_BYTES),
        LOG_VERSION if base >= LOG_HEADER_BYTES => Some(base),
        _ => None,
    }
}

/// Writes a fresh header over whatever partial file a crash left, and syncs.
async fn create_header(file: &dyn File) -> Result<()> {
    file.truncate(0).await?;
    file.write_at(0, &header_bytes(LOG_HEADER_BYTES)).await?;
    file.sync().await
}

/// Validates the header, decodes the records, and truncates the file just
/// past the last whole record. Returns the base, the LSN just past the last
/// record, and the records.
async fn scan_existing(file: &dyn File, len: u64) -> Result<(u64, u64, Vec<LogRecord>)> {
    let size = usize::try_from(len).map_err(|_| Error::Corrupt(format!("{LOG_FILE} is {len} bytes")))?;
    let mut bytes = vec![0u8; size];
    let read = file.read_at(0, &mut bytes).await?;
    bytes.truncate(read);
    let base = parse_header(&bytes)
        .ok_or_else(|| Error::Corrupt(format!("{LOG_FILE}: bad header (magic, version, base or checksum)")))?;
    let header = LOG_HEADER_BYTES as usize;
    let mut records = Vec::new();
    let mut offset = header;
    // The scan stops at the end of the records, or at a torn tail that is cut off below.
    // Each record must carry the LSN its place in the file names.
    let lsn_at = |offset: usize| Lsn(base + (offset - header) as u64);
    while let Some(record) = bytes.get(offset..).and_then(|rest| decode_frame_at(rest, lsn_at(offset))) {
        offset += u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes")) as usize;
        records.push(record);
    }
    let end = offset as u64;
    if end != len {
        file.truncate(end).await?;
        file.sync().await?;
    }
    Ok((base, base + end - LOG_HEADER_BYTES, records))
}
