//! The log writer: appends records to `wal.log`, and makes them durable with
//! group commit.
//!
//! # File layout
//!
//! One file, [`LOG_FILE`] (no segments yet). Its first [`LOG_HEADER_BYTES`]
//! bytes are a header: the magic `RWAL`, a format version (u32 LE), the header
//! length (u64 LE), zeros, and a CRC-32 of the preceding bytes in the last four
//! bytes. Records (see [`super::record`]) follow back to back; a record's LSN
//! is its byte offset in the file, so the first record's LSN is
//! `LOG_HEADER_BYTES` and no record is at offset 0.
//!
//! [`LogWriter::open`] creates the file if it is missing or holds less than a
//! header, writing and syncing the header (and the directory) before any
//! record can be appended, so a header that fails validation is corruption
//! ([`Error::Corrupt`]), never a tear. Otherwise it scans the records from the
//! header's end and truncates the file where the scan stops (a torn tail or
//! trailing zeros), syncing the truncation, so the next append lands just past
//! the last whole record.
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

use std::sync::{Mutex, MutexGuard};

use futures::channel::oneshot;

use crate::env::{Env, File, OpenMode};
use crate::error::{Error, Result};
use crate::wal::record::{Decoded, LogBody, LogRecord, MAX_RECORD_BYTES, decode_frame_at, decode_next};
use crate::wal::{Lsn, TxnId};

/// The log's file name.
pub const LOG_FILE: &str = "wal.log";
/// Bytes of the file header; the first record's LSN.
pub const LOG_HEADER_BYTES: u64 = 64;
/// The most bytes the in-memory buffer holds before append writes it out.
pub const LOG_BUFFER_BYTES_MAX: usize = 1 << 20;
/// The most the buffer may ever hold; see [`LogWriter::append_now`].
pub const LOG_BUFFER_BYTES_HARD_MAX: usize = 4 << 20;

const LOG_MAGIC: &[u8; 4] = b"RWAL";
const LOG_VERSION: u32 = 1;
const HEADER_CRC_AT: usize = LOG_HEADER_BYTES as usize - 4;

/// The writer's shared state, behind a std mutex never held across `.await`.
#[derive(Default)]
struct State {
    /// Appended bytes not yet written; they start at file offset `buffer_start`.
    buffer: Vec<u8>,
    buffer_start: u64,
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
    file: Box<dyn File>,
    state: Mutex<State>,
    /// Serialises writing the buffer out (and the leader's sync).
    io: futures::lock::Mutex<()>,
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
        let file = env.storage.open(LOG_FILE, OpenMode::CreateIfMissing).await?;
        let len = file.len().await?;
        let (end, records) = if len < LOG_HEADER_BYTES {
            create_header(&*file).await?;
            env.storage.sync_dir().await?;
            (LOG_HEADER_BYTES, Vec::new())
        } else {
            scan_existing(&*file, len).await?
        };
        let last_lsn = records.last().map_or(Lsn::ZERO, |record| record.lsn);
        let state = State { buffer_start: end, last_lsn, durable_lsn: last_lsn, ..State::default() };
        let writer = LogWriter { file, state: Mutex::new(state), io: futures::lock::Mutex::new(()) };
        Ok((writer, records))
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
        state.buffer = buffer;
        result?;
        state.last_lsn = record.lsn;
        Ok(record.lsn)
    }

    /// Writes the buffer out (unsynced) if one more record of the largest
    /// size might not fit in it.
    pub async fn make_room(&self) -> Result<()> {
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
        // held until they have.
        let _written = self.io.lock().await;
        let mut length = [0u8; 4];
        if self.file.read_at(lsn.0, &mut length).await? != 4 {
            return Err(corrupt("past the end"));
        }
        let length = u32::from_le_bytes(length) as usize;
        if !(4..=MAX_RECORD_BYTES).contains(&length) {
            return Err(corrupt("impossible length"));
        }
        let mut bytes = vec![0u8; length];
        if self.file.read_at(lsn.0, &mut bytes).await? != length {
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
            let bytes = std::mem::take(&mut state.buffer);
            let offset = state.buffer_start;
            state.buffer_start += bytes.len() as u64;
            (bytes, offset, state.last_lsn)
        };
        let mut result = Ok(());
        if !bytes.is_empty() {
            result = self.file.write_at(offset, &bytes).await;
        }
        if sync && result.is_ok() {
            result = self.file.sync().await;
        }
        guard.armed = false;
        let mut state = self.lock();
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
}

fn header_bytes() -> Vec<u8> {
    let mut header = vec![0u8; LOG_HEADER_BYTES as usize];
    header[0..4].copy_from_slice(LOG_MAGIC);
    header[4..8].copy_from_slice(&LOG_VERSION.to_le_bytes());
    header[8..16].copy_from_slice(&LOG_HEADER_BYTES.to_le_bytes());
    let crc = crc32fast::hash(&header[..HEADER_CRC_AT]);
    header[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Writes a fresh header over whatever partial file a crash left, and syncs.
async fn create_header(file: &dyn File) -> Result<()> {
    file.truncate(0).await?;
    file.write_at(0, &header_bytes()).await?;
    file.sync().await
}

/// Validates the header, decodes the records, and truncates the file just
/// past the last whole record. Returns that end offset and the records.
async fn scan_existing(file: &dyn File, len: u64) -> Result<(u64, Vec<LogRecord>)> {
    let size = usize::try_from(len).map_err(|_| Error::Corrupt(format!("{LOG_FILE} is {len} bytes")))?;
    let mut bytes = vec![0u8; size];
    let read = file.read_at(0, &mut bytes).await?;
    bytes.truncate(read);
    if bytes.get(..LOG_HEADER_BYTES as usize) != Some(&header_bytes()[..]) {
        return Err(Error::Corrupt(format!("{LOG_FILE}: bad header (magic, version or checksum)")));
    }
    let mut records = Vec::new();
    let mut offset = LOG_HEADER_BYTES as usize;
    // The scan stops at the end of the records, or at a torn tail that is cut off below.
    while let Decoded::Record(record, next) = decode_next(&bytes, offset) {
        records.push(record);
        offset = next;
    }
    let end = offset as u64;
    if end != len {
        file.truncate(end).await?;
        file.sync().await?;
    }
    Ok((end, records))
}
