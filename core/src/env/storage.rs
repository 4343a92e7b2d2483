//! Storage: files in one flat directory per node, addressed by name.
//!
//! This is the disk contract. The simulator's fault model (see
//! `sim/src/disk.rs`) is exactly "everything this contract does not promise
//! may happen", so read each guarantee as a limit on what can go wrong.
//!
//! * **Writes are volatile until synced.** After `write_at` returns, reads on
//!   the same node see the new bytes, but a crash before a successful
//!   [`File::sync`] may keep the write, lose it, or keep only some of its
//!   512-byte sectors (a torn write). Unsynced writes to one file survive or
//!   vanish independently of each other, so a later write can survive an
//!   earlier one's loss (reordering).
//! * **`sync` makes the file's contents and length durable**, not its name.
//!   A newly created, removed or renamed name becomes durable only after
//!   [`Storage::sync_dir`]. Unsynced directory changes survive a crash as an
//!   in-order prefix (file systems journal metadata in order).
//! * **A failed `sync` leaves durability unknown** for every write since the
//!   last successful sync, and a later successful sync does not repair that
//!   (the kernel may have dropped the dirty pages). Callers must treat a sync
//!   error as fatal for those writes.
//! * **Reads may return corrupted bytes** (bit rot, a write the device put at
//!   the wrong offset). Storage does not detect this; callers checksum what
//!   they store and keep redundancy where they must survive it.
//! * **A write or truncate whose future is dropped before completing** may
//!   or may not take effect, at any later moment until the next successful
//!   `sync` completes.
//! * Reads past the end of a file return fewer bytes (zero at or past the end);
//!   writes past the end extend the file, the gap reading as zeros.

use super::BoxFuture;
use crate::Result;

/// How [`Storage::open`] treats a missing or existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist.
    Existing,
    /// Create the file if missing (the new name is volatile until `sync_dir`).
    CreateIfMissing,
    /// The file must not exist; create it.
    CreateNew,
}

/// A node's directory of files.
pub trait Storage: Send + Sync {
    /// Opens `name` (a plain name, no `/`).
    fn open<'a>(&'a self, name: &'a str, mode: OpenMode) -> BoxFuture<'a, Result<Box<dyn File>>>;
    /// The names in the directory, sorted.
    fn list(&self) -> BoxFuture<'_, Result<Vec<String>>>;
    /// Removes `name`; volatile until `sync_dir`. Open handles keep working.
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Atomically renames `from` to `to`, replacing `to`; volatile until
    /// `sync_dir`, and then either the old or the new state survives a crash.
    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Makes every earlier create, remove and rename durable.
    fn sync_dir(&self) -> BoxFuture<'_, Result<()>>;
}

/// An open file. Operations on one handle may run concurrently.
#[allow(clippy::len_without_is_empty)] // an async length; emptiness is `len() == 0`
pub trait File: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read,
    /// fewer only at the end of the file.
    fn read_at<'a>(&'a self, offset: u64, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>>;
    /// Writes all of `data` at `offset`; volatile until [`File::sync`].
    fn write_at<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>>;
    /// Makes every write and truncate that completed before this call durable.
    fn sync(&self) -> BoxFuture<'_, Result<()>>;
    /// [`File::write_at`] then [`File::sync`]: one call, so an Env that
    /// hands blocking work to another thread hands it over once, not twice
    /// (the write-ahead log's commit path).
    fn write_and_sync<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.write_at(offset, data).await?;
            self.sync().await
        })
    }
    /// Sets the length; volatile until [`File::sync`].
    fn truncate(&self, len: u64) -> BoxFuture<'_, Result<()>>;
    /// The current length as seen by this node (including unsynced writes).
    fn len(&self) -> BoxFuture<'_, Result<u64>>;
}
