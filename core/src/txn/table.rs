//! Versioned tables on the storage engine: reading a row's versions, scanning
//! ranges of rows, adding and removing versions (layout in `version.rs`).
//!
//! Each call runs its own short storage transaction ([`crate::store::Txn`]),
//! which holds the storage table lock only for that call. Changes commit
//! without waiting for the log ([`crate::store::Txn::commit_unsynced`]): they
//! are made durable by the commit-log write of the MVCC transaction that made
//! them, which comes later in the log. A crash before that loses them and
//! loses nothing committed; recovery's undo removes a half-done change. A
//! version is therefore never in a torn state, and a version whose creator
//! never committed is garbage that readers skip and vacuum removes.

use std::ops::Bound;

use super::version::{self, Version};
use crate::error::{Error, Result};
use crate::index::btree::node::has_prefix;
use crate::store::{Cursor, Store, TableId, Txn as StoreTxn};
use crate::wal::TxnId;

/// Storage entries read per storage transaction while scanning, so a long
/// scan does not hold the table's storage lock for long.
pub const SCAN_BATCH: usize = 256;

/// Every version of `key`, oldest first.
pub async fn read_versions(store: &Store, table: TableId, key: &[u8]) -> Result<Vec<Version>> {
    let mut txn = store.begin().await?;
    let versions = versions_in(&mut txn, table, key).await?;
    txn.commit().await?;
    Ok(versions)
}

/// Every version of `key`, oldest first, read in the storage transaction `txn`.
pub async fn versions_in(txn: &mut StoreTxn, table: TableId, key: &[u8]) -> Result<Vec<Version>> {
    let (lo, hi) = version::versions_of(key);
    let mut cursor = txn.tree_range(table, Bound::Included(&lo), Bound::Included(&hi)).await?;
    let mut versions = Vec::new();
    while let Some((stored, value)) = cursor.next().await? {
        versions.push(version::decode(&stored, &value)?.1);
    }
    Ok(versions)
}

/// One row's versions, as a scan hands them out.
pub struct RowVersions {
    pub key: Vec<u8>,
    /// Oldest first.
    pub versions: Vec<Version>,
}

/// Reads the rows in the user-key range `(lo, hi)` and hands each row's
/// versions to `visit`, in key order, [`SCAN_BATCH`] storage entries per
/// storage transaction. `visit` returns false to stop.
pub async fn scan(
    store: &Store,
    table: TableId,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    mut visit: impl FnMut(RowVersions) -> Result<bool>,
) -> Result<()> {
    let (mut from, to) = version::storage_range(lo, hi);
    let mut pending: Option<RowVersions> = None;
    loop {
        let batch = read_batch(store, table, &from, &to).await?;
        let exhausted = batch.len() < SCAN_BATCH;
        if let Some((last, _)) = batch.last() {
            from = Bound::Excluded(last.clone());
        }
        for (stored, value) in batch {
            let (key, version) = version::decode(&stored, &value)?;
            match &mut pending {
                Some(row) if row.key == key => row.versions.push(version),
                _ => {
                    if let Some(row) = pending.replace(RowVersions { key, versions: vec![version] })
                        && !visit(row)?
                    {
                        return Ok(());
                    }
                }
            }
        }
        if exhausted {
            break;
        }
    }
    if let Some(row) = pending {
        visit(row)?;
    }
    Ok(())
}

async fn read_batch(
    store: &Store,
    table: TableId,
    from: &Bound<Vec<u8>>,
    to: &Bound<Vec<u8>>,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut txn = store.begin().await?;
    let mut cursor = txn.tree_range(table, as_slice(from), as_slice(to)).await?;
    let batch = next_batch(&mut cursor).await?;
    drop(cursor);
    txn.commit().await?;
    Ok(batch)
}

/// The cursor's next [`SCAN_BATCH`] entries (fewer at the end of its range).
pub async fn next_batch(cursor: &mut Cursor<'_>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut batch = Vec::with_capacity(SCAN_BATCH);
    while batch.len() < SCAN_BATCH {
        match cursor.next().await? {
            Some(entry) => batch.push(entry),
            None => break,
        }
    }
    Ok(batch)
}

pub fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// What a reader makes of a version from its creator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Its snapshot sees the version.
    Visible,
    /// A concurrent transaction made it (still active, or committed after the snapshot).
    Concurrent,
    /// Its creator aborted: garbage.
    Aborted,
}

/// A streaming scan of a user-key range: where it is, and the row whose
/// versions it is in the middle of ([`scan_rows`] reads on from here).
/// Made by [`crate::txn::Transaction::row_scan`], which takes its SIREAD lock.
pub struct RowScan {
    table: TableId,
    /// The storage range still to read.
    from: Bound<Vec<u8>>,
    to: Bound<Vec<u8>>,
    row: RowInProgress,
    ended: bool,
}

/// The row a streaming scan is reading, version by version (oldest first).
#[derive(Default)]
struct RowInProgress {
    /// The row prefix of its storage keys (see [`version::split_row_prefix`]);
    /// empty between rows (a prefix never is).
    prefix: Vec<u8>,
    /// The newest version seen so far that the reader sees: `Some(true)` a
    /// row (its bytes in `bytes`), `Some(false)` a tombstone.
    visible: Option<bool>,
    bytes: Vec<u8>,
    /// Creators of concurrent versions newer than the visible one.
    concurrent: Vec<TxnId>,
}

impl RowInProgress {
    /// Ends the row: hands it to `visit` if a visible version has a row.
    /// True if it did.
    fn finish(&mut self, visit: &mut impl FnMut(&[u8]) -> Result<()>, skipped: &mut Vec<TxnId>) -> Result<bool> {
        if self.prefix.is_empty() {
            return Ok(false);
        }
        self.prefix.clear();
        skipped.append(&mut self.concurrent);
        match self.visible.take() {
            Some(true) => visit(&self.bytes).map(|()| true),
            _ => Ok(false),
        }
    }

    fn start(&mut self, prefix: &[u8]) {
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
    }

    fn add(&mut self, seen: Seen, creator: TxnId, row: Option<&[u8]>) {
        match seen {
            Seen::Visible => {
                self.concurrent.clear();
                self.visible = Some(row.is_some());
                if let Some(row) = row {
                    self.bytes.clear();
                    self.bytes.extend_from_slice(row);
                }
            }
            Seen::Concurrent => self.concurrent.push(creator),
            Seen::Aborted => {}
        }
    }
}

impl RowScan {
    /// A scan of the rows with user keys in `(lo, hi)`.
    pub(super) fn new(table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> RowScan {
        let (from, to) = version::storage_range(lo, hi);
        RowScan { table, from, to, row: RowInProgress::default(), ended: false }
    }

    pub fn table(&self) -> TableId {
        self.table
    }

    /// Whether every row of the range has been handed out.
    pub fn ended(&self) -> bool {
        self.ended
    }
}

/// Hands over a row with one version, `seen` as shown; true if it went to `visit`.
fn hand_single(
    seen: Seen,
    creator: TxnId,
    row: Option<&[u8]>,
    visit: &mut impl FnMut(&[u8]) -> Result<()>,
    skipped: &mut Vec<TxnId>,
) -> Result<bool> {
    match (seen, row) {
        (Seen::Visible, Some(row)) => visit(row).map(|()| true),
        (Seen::Concurrent, _) => {
            skipped.push(creator);
            Ok(false)
        }
        _ => Ok(false),
    }
}

/// Reads on in `scan` until `limit` rows have gone to `visit` or the range
/// ends, and returns how many went. Each row is the newest version `seen`
/// calls [`Seen::Visible`], handed over borrowed (from the page, or from
/// the scan's buffer when its versions span leaves): a scan allocates
/// nothing per row. The creators of concurrent versions newer than what was
/// seen are appended to `skipped`. [`SCAN_BATCH`] storage entries are read
/// per storage transaction, as in [`scan`].
pub async fn scan_rows(
    store: &Store,
    scan: &mut RowScan,
    limit: usize,
    mut seen: impl FnMut(TxnId) -> Seen,
    mut visit: impl FnMut(&[u8]) -> Result<()>,
    skipped: &mut Vec<TxnId>,
) -> Result<usize> {
    let mut handed = 0;
    while !scan.ended && handed < limit {
        let mut txn = store.begin().await?;
        let mut entries = 0;
        let mut stopped_at = Vec::new();
        let row = &mut scan.row;
        let stopped = txn
            .tree_visit(scan.table, as_slice(&scan.from), as_slice(&scan.to), |stored, value, next| {
                let (prefix, _) = version::split_row_prefix(stored)?;
                let continues_row = prefix == row.prefix.as_slice();
                if !continues_row {
                    handed += usize::from(row.finish(&mut visit, skipped)?);
                }
                let (creator, bytes) = version::decode_value(value)?;
                let seen = seen(creator);
                // No other row's storage keys start with this row's prefix
                // (see `version.rs`), so a next key without it means this
                // is the row's newest version.
                let ends_row = next.is_some_and(|next| !has_prefix(next, prefix));
                if ends_row && !continues_row {
                    // The common case, a row with one version: straight from the page.
                    handed += usize::from(hand_single(seen, creator, bytes, &mut visit, skipped)?);
                } else {
                    if !continues_row {
                        row.start(prefix);
                    }
                    row.add(seen, creator, bytes);
                    if ends_row {
                        handed += usize::from(row.finish(&mut visit, skipped)?);
                    }
                }
                entries += 1;
                let go_on = handed < limit && entries < SCAN_BATCH;
                if !go_on {
                    stopped_at.extend_from_slice(stored);
                }
                Ok(go_on)
            })
            .await?;
        txn.commit().await?;
        if stopped {
            scan.from = Bound::Excluded(stopped_at);
        } else {
            handed += usize::from(scan.row.finish(&mut visit, skipped)?);
            scan.ended = true;
        }
    }
    Ok(handed)
}

/// Writes version `number` of `key` by `creator` (`None`: a tombstone),
/// replacing an existing version `number` if `replace`.
pub async fn write_version(
    store: &Store,
    table: TableId,
    key: &[u8],
    number: u64,
    creator: TxnId,
    row: Option<&[u8]>,
    replace: bool,
) -> Result<()> {
    let stored = version::storage_key(key, number);
    let value = version::encode_value(creator, row);
    let mut txn = store.begin().await?;
    if replace {
        txn.tree_delete(table, &stored, None).await?;
    }
    txn.tree_insert(table, &stored, &value).await.map_err(|error| match error {
        Error::InvalidInput(why) => {
            Error::NotSupported(format!("a row of {} bytes under a {}-byte key: {why}", value.len(), key.len()))
        }
        other => other,
    })?;
    txn.commit_unsynced().await
}

/// Removes the given versions of rows (each `(key, number)`), in one storage transaction.
pub async fn remove_versions(store: &Store, table: TableId, versions: &[(Vec<u8>, u64)]) -> Result<()> {
    if versions.is_empty() {
        return Ok(());
    }
    let mut txn = store.begin().await?;
    for (key, number) in versions {
        txn.tree_delete(table, &version::storage_key(key, *number), None).await?;
    }
    txn.commit_unsynced().await
}
