//! The RustyDB side: the store (`rustydb_core::store`) on the production Env
//! (`rustydb_io`, tokio multi-thread runtime, real files with fsync), a
//! [`CACHE_BYTES`] buffer pool and one clustered B+Tree table keyed by the
//! big-endian id. Every commit is durable when it returns.

use std::ops::{Bound, Range};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rustydb_core::Error;
use rustydb_core::store::{Store, StoreConfig, TableId};
use tokio::runtime::Runtime;

use crate::{BenchResult, CACHE_BYTES, Rate, VALUE_LEN, Workload, key, value};

/// Frames of the buffer pool: [`CACHE_BYTES`] of 4 KiB pages.
pub const POOL_FRAMES: usize = CACHE_BYTES / 4096;

/// A store open in a directory, with the runtime that drives it.
pub struct RustyDb {
    runtime: Runtime,
    store: Arc<Store>,
    table: TableId,
}

/// Commit throughput and how many commits shared each log sync.
#[derive(Debug, Clone, Copy)]
pub struct CommitResult {
    pub rate: Rate,
    /// Log flush requests (one per commit) per log sync, over the run.
    pub commits_per_sync: f64,
    /// Transactions that lost a table-lock conflict (a deadlock) and were retried.
    pub conflict_retries: u64,
}

impl RustyDb {
    /// Opens a fresh store in `dir` (running recovery) and creates table `t`.
    pub fn create(dir: &Path) -> BenchResult<RustyDb> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let (store, table) = runtime.block_on(async {
            let env = rustydb_io::production_env(dir, "127.0.0.1", tokio::runtime::Handle::current())?;
            let config = StoreConfig { pool_frames: POOL_FRAMES, ..StoreConfig::default() };
            let store = Store::open(&env, config).await?;
            let mut txn = store.begin().await?;
            let table = txn.create_btree("t", true).await?;
            txn.commit().await?;
            BenchResult::Ok((store, table))
        })?;
        Ok(RustyDb { runtime, store, table })
    }

    /// `bulk_insert_1m`: rows `0..rows` in ascending id order in one
    /// transaction; the commit is timed.
    pub fn bulk_insert(&self, rows: u64) -> BenchResult<Rate> {
        let (store, table) = (&self.store, self.table);
        self.runtime.block_on(async {
            let start = Instant::now();
            let mut txn = store.begin().await?;
            for id in 0..rows {
                txn.tree_insert(table, &key(id), &value(id)).await?;
            }
            txn.commit().await?;
            let rate = Rate::since(rows, start);
            // Untimed: let the checkpoint the commit started finish, so that its
            // page writes do not run into the next measurement (SQLite's own
            // checkpoint runs inside its timed commit).
            store.checkpoint().await?;
            Ok(rate)
        })
    }

    /// `commit_1` / `commit_16`: `committers` tokio tasks, each committing
    /// its own id range one row per transaction.
    pub fn commits(&self, work: &Workload, committers: u64) -> BenchResult<CommitResult> {
        let (flushes_before, syncs_before) = self.store.log_stats();
        let (rate, conflict_retries) = self.runtime.block_on(async {
            let start = Instant::now();
            let tasks: Vec<_> = (0..committers)
                .map(|index| {
                    tokio::spawn(commit_each(self.store.clone(), self.table, work.committer_ids(index, committers)))
                })
                .collect();
            let (mut commits, mut retries) = (0, 0);
            for task in tasks {
                let (done, retried) = task.await??;
                commits += done;
                retries += retried;
            }
            BenchResult::Ok((Rate::since(commits, start), retries))
        })?;
        let (flushes_after, syncs_after) = self.store.log_stats();
        let syncs = (syncs_after - syncs_before).max(1);
        let commits_per_sync = (flushes_after - flushes_before) as f64 / syncs as f64;
        Ok(CommitResult { rate, commits_per_sync, conflict_retries })
    }

    /// `point_lookup_1m`: one `tree_get` per id, all in one transaction.
    pub fn point_lookups(&self, ids: &[u64]) -> BenchResult<Rate> {
        let (store, table) = (&self.store, self.table);
        self.runtime.block_on(async {
            let mut txn = store.begin().await?;
            let mut bytes = 0;
            let start = Instant::now();
            for &id in ids {
                bytes += txn.tree_get(table, &key(id)).await?.map_or(0, |v| v.len());
            }
            let rate = Rate::since(ids.len() as u64, start);
            txn.commit().await?;
            if bytes != ids.len() * VALUE_LEN {
                return Err(
                    format!("RustyDB point lookups read {bytes} bytes, expected {}", ids.len() * VALUE_LEN).into()
                );
            }
            Ok(rate)
        })
    }

    /// `range_scan`: for each start, a cursor over the `len` keys from it,
    /// all in one transaction; the rate is in rows.
    pub fn range_scans(&self, starts: &[u64], len: u64) -> BenchResult<Rate> {
        let (store, table) = (&self.store, self.table);
        self.runtime.block_on(async {
            let mut txn = store.begin().await?;
            let mut rows_read = 0;
            let start = Instant::now();
            for &first in starts {
                let (lo, hi) = (key(first), key(first + len));
                let mut cursor = txn.tree_range(table, Bound::Included(&lo[..]), Bound::Excluded(&hi[..])).await?;
                while let Some((_key, _value)) = cursor.next().await? {
                    rows_read += 1;
                }
            }
            let rate = Rate::since(starts.len() as u64 * len, start);
            txn.commit().await?;
            if rows_read != rate.ops {
                return Err(format!("RustyDB range scans read {rows_read} rows, expected {}", rate.ops).into());
            }
            Ok(rate)
        })
    }
}

/// Commits one row per transaction for each id; returns the commits and
/// the retries. A transaction that loses the table lock to an older one
/// (a deadlock, [`Error::Conflict`]) is rolled back and retried.
async fn commit_each(store: Arc<Store>, table: TableId, ids: Range<u64>) -> BenchResult<(u64, u64)> {
    let mut retries = 0;
    for id in ids.clone() {
        loop {
            let mut txn = store.begin().await?;
            match txn.tree_insert(table, &key(id), &value(id)).await {
                Ok(()) => {
                    txn.commit().await?;
                    break;
                }
                Err(Error::Conflict(_)) => {
                    txn.rollback().await?;
                    retries += 1;
                    tokio::task::yield_now().await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok((ids.end - ids.start, retries))
}
