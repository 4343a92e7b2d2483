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
