//! Vacuum: removes row versions no transaction can see any more.
//!
//! A version is garbage if its creator aborted, or if a newer version of its
//! row was committed at or below the *horizon* (the oldest snapshot of any
//! active transaction, [`StatusTable::horizon`]): every snapshot now and
//! later sees that newer version instead. A tombstone that is the row's
//! newest version and is below the horizon goes too, with the row.
//!
//! Vacuum walks a table in batches; each batch is read, judged and cleaned in
//! one storage transaction, so no writer changes the batch in between, and a
//! crash loses at most work that the next pass redoes. A row's versions can
//! straddle two batches: a tombstone is removed only when the batch holds all
//! of its row's versions, since removing it while an older live version
//! survives in another batch would bring the row back.

use std::ops::Bound;

use super::status::{StatusTable, StatusView, XidStatus};
use super::table::{self, SCAN_BATCH};
use super::version::{self, Version};
use crate::error::Result;
use crate::store::{Store, TableId};

/// One row's versions within a batch.
struct Group {
    key: Vec<u8>,
    versions: Vec<Version>,
    /// The batch holds every version of the row.
    whole: bool,
}

/// Removes the garbage versions of `table`; returns how many it removed.
pub async fn vacuum_table(store: &Store, status: &StatusTable, table: TableId) -> Result<u64> {
    let horizon = status.horizon();
    let mut from: Bound<Vec<u8>> = Bound::Unbounded;
    let mut continued_key: Option<Vec<u8>> = None;
    let mut removed = 0;
    loop {
        let mut txn = store.begin().await?;
        let mut cursor = txn.tree_range(table, table::as_slice(&from), Bound::Unbounded).await?;
        let batch = table::next_batch(&mut cursor).await?;
        drop(cursor);
        let exhausted = batch.len() < SCAN_BATCH;
        let Some((last_stored, _)) = batch.last() else {
            txn.commit_unsynced().await?;
            return Ok(removed);
        };
        from = Bound::Excluded(last_stored.clone());
        let groups = group(batch, continued_key.as_deref(), exhausted)?;
        continued_key = (!exhausted).then(|| groups.last().map(|g| g.key.clone())).flatten();
        let garbage: Vec<(Vec<u8>, u64)> = {
            let view = status.view();
            groups
                .iter()
                .flat_map(|g| garbage(&g.versions, g.whole, horizon, &view).into_iter().map(|n| (g.key.clone(), n)))
                .collect()
        };
        for (key, number) in &garbage {
            txn.tree_delete(table, &version::storage_key(key, *number), None).await?;
        }
        removed += garbage.len() as u64;
        txn.commit_unsynced().await?;
        if exhausted {
            return Ok(removed);
        }
    }
}

/// Removes the garbage versions of one row at once. Between vacuum passes
/// a hot row (a counter every transaction updates) piles up versions that
/// every read of it walks; its writer prunes them (see
/// `Transaction::write`). Safe beside readers for the same reason a vacuum
/// pass is: only versions no snapshot can see go, in one storage
/// transaction that holds all of the row's versions.
pub async fn prune_row(store: &Store, status: &StatusTable, table: TableId, key: &[u8]) -> Result<u64> {
    let horizon = status.horizon();
    let mut txn = store.begin().await?;
    let versions = table::versions_in(&mut txn, table, key).await?;
    let removable = {
        let view = status.view();
        garbage(&versions, true, horizon, &view)
    };
    for number in &removable {
        txn.tree_delete(table, &version::storage_key(key, *number), None).await?;
    }
    txn.commit_unsynced().await?;
    Ok(removable.len() as u64)
}

/// Splits a batch into rows; `continued` is the row the previous batch ended
/// in (it may have versions there), `exhausted` whether the table ends here.
fn group(batch: Vec<(Vec<u8>, Vec<u8>)>, continued: Option<&[u8]>, exhausted: bool) -> Result<Vec<Group>> {
    let mut groups: Vec<Group> = Vec::new();
    for (stored, value) in batch {
        let (key, version) = version::decode(&stored, &value)?;
        match groups.last_mut() {
            Some(last) if last.key == key => last.versions.push(version),
            _ => {
                let whole = continued != Some(key.as_slice());
                groups.push(Group { key, versions: vec![version], whole });
            }
        }
    }
    if !exhausted && let Some(last) = groups.last_mut() {
        last.whole = false;
    }
    Ok(groups)
}

/// The version numbers among `versions` (one row's, oldest first) that no
/// snapshot at or after `horizon` can see.
fn garbage(versions: &[Version], whole: bool, horizon: u64, status: &StatusView<'_>) -> Vec<u64> {
    let mut remove = Vec::new();
    let mut live = Vec::new();
    for version in versions {
        match status.status(version.creator) {
            XidStatus::Aborted => remove.push(version.number),
            XidStatus::Committed { csn } => live.push((version, csn <= horizon)),
            XidStatus::Active => live.push((version, false)),
        }
    }
    let Some(newest_settled) = live.iter().rposition(|(_, settled)| *settled) else { return remove };
    remove.extend(live[..newest_settled].iter().map(|(version, _)| version.number));
    let (newest, _) = live[newest_settled];
    if whole && newest_settled == live.len() - 1 && newest.row.is_none() {
        remove.push(newest.number);
    }
    remove
}
