//! The storage engine: tables (heaps and B+Trees) over the buffer pool, with
//! ARIES logging, rollback, checkpoints and crash recovery.
//!
//! [`Store::open`] opens the data file, the log and the control file under
//! `env.storage`, runs recovery ([`recovery`]) and hands out transactions
//! ([`Txn`]). Every change to a page goes through [`Txn`], which logs it
//! before the page can reach disk; commit returns once the commit record is
//! durable, sharing one log sync among all concurrent committers.
//!
//! | file | owns |
//! |---|---|
//! | `txn.rs` | transactions: logging page changes, commit, rollback |
//! | `locks.rs` | table locks with deadlock detection |
//! | `alloc.rs` | page allocation over the space map, quarantine of freed pages |
//! | `catalog.rs` | the catalog page: table names, kinds and root pages |
//! | `heap.rs` | heap tables: rows on slotted pages, addressed by [`Rid`] |
//! | `tree.rs` | B+Tree tables, over [`crate::index::btree`] |
//! | `checkpoint.rs` | fuzzy checkpoints and the control file pointer |
//! | `recovery.rs` | analysis, redo, undo |

mod alloc;
mod catalog;
mod checkpoint;
mod heap;
pub mod locks;
mod recovery;
mod tree;
mod txn;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::buffer::policy::PolicyKind;
use crate::buffer::pool::{BufferPool, PoolStats};
use crate::env::{Env, OpenMode};
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::file::PageFile;
use crate::wal::control::ControlFile;
use crate::wal::record::{LogBody, TxnStatus};
use crate::wal::writer::LogWriter;
use crate::wal::{Lsn, TxnId};

pub use catalog::{TableInfo, TableKind};
pub use tree::Cursor;
pub use txn::Txn;

/// The data file's name.
pub const DATA_FILE: &str = "data.rdb";
/// The data file's number in log records.
pub const DATA_FILE_NO: u32 = 1;

/// A table, named by its root page (stable for the table's life).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId(pub u64);

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}", self.0)
    }
}

/// A row's address in a heap: page and slot. Stable while the row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rid {
    pub page: PageId,
    pub slot: u16,
}

impl Rid {
    /// Ten bytes, big-endian, so encoded rids sort like rids.
    pub fn encode(self) -> [u8; 10] {
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&self.page.0.to_be_bytes());
        bytes[8..].copy_from_slice(&self.slot.to_be_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Rid> {
        let bytes: &[u8; 10] = bytes.try_into().map_err(|_| Error::Corrupt(format!("rid of {} bytes", bytes.len())))?;
        let page = PageId(u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")));
        Ok(Rid { page, slot: u16::from_be_bytes([bytes[8], bytes[9]]) })
    }
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Buffer pool frames (4 KiB each).
    pub pool_frames: usize,
    pub policy: PolicyKind,
    /// Take a checkpoint once this many log bytes were written since the last one.
    pub checkpoint_log_bytes: u64,
    /// After a checkpoint, rewrite the log without what recovery no longer
    /// needs once that is at least this many bytes (see [`LogWriter::recycle`]).
    pub recycle_log_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pool_frames: 8192,
            policy: PolicyKind::Clock,
            checkpoint_log_bytes: 64 << 20,
            recycle_log_bytes: crate::wal::writer::RECYCLE_THRESHOLD_BYTES,
        }
    }
}

/// What recovery found and did, for tests, the simulator and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub records_scanned: usize,
    pub pages_redone: usize,
    pub redo_records_applied: usize,
    pub losers_rolled_back: usize,
    pub clrs_written: usize,
}

/// A transaction's entry in the transaction table (what a checkpoint records).
#[derive(Debug, Clone, Copy)]
struct TxnEntry {
    status: TxnStatus,
    last_lsn: Lsn,
    /// The transaction's first record (or a bound below it): undo may read
    /// back to here, so log recycling keeps it.
    first_lsn: Lsn,
}

/// The shared state behind a [`Store`].
struct Shared {
    env: Env,
    config: StoreConfig,
    log: Arc<LogWriter>,
    pool: BufferPool,
    control: futures::lock::Mutex<ControlFile>,
    locks: locks::LockTable,
    alloc: alloc::Allocator,
    /// Transactions that have logged something and not yet ended.
    txns: Mutex<BTreeMap<TxnId, TxnEntry>>,
    next_txn: Mutex<u64>,
    /// Heap free-space hints: table → page → free bytes. Not logged; rebuilt lazily.
    fsm: Mutex<BTreeMap<TableId, BTreeMap<PageId, usize>>>,
    /// Table kinds by id, cached from the catalog.
    kinds: Mutex<BTreeMap<TableId, TableKind>>,
    /// A background checkpoint has been started and not finished.
    checkpoint_scheduled: std::sync::atomic::AtomicBool,
    /// Serialises checkpoints.
    checkpointing: futures::lock::Mutex<()>,
    /// The log's end at the last checkpoint, to trigger the next.
    last_checkpoint_end: Mutex<u64>,
    recovery: Mutex<RecoveryReport>,
}

/// An open storage engine. Clone the `Arc` to share it among tasks.
pub struct Store {
    shared: Arc<Shared>,
}

impl Store {
    /// Opens the store in `env.storage` (creating it if empty) and recovers.
    pub async fn open(env: &Env, config: StoreConfig) -> Result<Arc<Store>> {
        let (log, records) = LogWriter::open(env).await?;
        let control = ControlFile::open(env).await?;
        let file = PageFile::open(env, DATA_FILE, OpenMode::CreateIfMissing).await?;
        env.storage.sync_dir().await?;
        let log = Arc::new(log);
        let pool = BufferPool::new(file, log.clone(), config.pool_frames, config.policy)?;
        // Recycling may have dropped older transactions' records; no kept record names their ids.
        let in_checkpoints = records.iter().flat_map(|record| match &record.body {
            LogBody::CheckpointEnd { active_txns, .. } => active_txns.iter().map(|(txn, _, _)| txn.0).max(),
            _ => None,
        });
        let next_txn = records.iter().map(|record| record.txn.0).chain(in_checkpoints).max().unwrap_or(0) + 1;
        let shared = Shared {
            env: env.clone(),
            config,
            log,
            pool,
            control: futures::lock::Mutex::new(control),
            locks: locks::LockTable::default(),
            alloc: alloc::Allocator::default(),
            txns: Mutex::new(BTreeMap::new()),
            next_txn: Mutex::new(next_txn),
            fsm: Mutex::new(BTreeMap::new()),
            kinds: Mutex::new(BTreeMap::new()),
            checkpoint_scheduled: std::sync::atomic::AtomicBool::new(false),
            checkpointing: futures::lock::Mutex::new(()),
            last_checkpoint_end: Mutex::new(0),
            recovery: Mutex::new(RecoveryReport::default()),
        };
        let shared = Arc::new(shared);
        let checkpoint = shared.control.lock().await.checkpoint();
        let report = recovery::recover(&shared, records, checkpoint).await?;
        *lock(&shared.recovery) = report;
        let store = Arc::new(Store { shared });
        store.shared.bootstrap_if_new().await?;
        store.checkpoint().await?;
        Ok(store)
    }

    /// Starts a transaction.
    pub async fn begin(&self) -> Result<Txn> {
        Ok(Txn::new(self.shared.clone(), self.shared.next_txn_id()))
    }

    /// Takes a fuzzy checkpoint: see [`checkpoint`].
    pub async fn checkpoint(&self) -> Result<()> {
        checkpoint::take(&self.shared).await
    }

    /// Every table, in name order.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        catalog::list(&self.shared.pool).await
    }

    /// `(flush requests, syncs)` of the log since open: group commit's ratio.
    pub fn log_stats(&self) -> (u64, u64) {
        self.shared.log.stats()
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.shared.pool.stats()
    }

    /// What recovery did when this store was opened.
    pub fn recovery_report(&self) -> RecoveryReport {
        lock(&self.shared.recovery).clone()
    }

    /// Waits until the log is durable up to `lsn` (group commit: one sync
    /// covers every waiter); returns at once if it already is.
    pub async fn make_durable(&self, lsn: Lsn) -> Result<()> {
        if lsn == Lsn::ZERO || lsn <= self.shared.log.durable_lsn() {
            return Ok(());
        }
        self.shared.log.flush(lsn).await
    }

    /// Writes back every dirty page and syncs: a clean shutdown point.
    pub async fn flush(&self) -> Result<()> {
        self.shared.pool.flush_all().await?;
        self.shared.pool.sync().await
    }
}

impl Shared {
    /// A fresh transaction id: ids only grow, across restarts too (see `Store::open`).
    fn next_txn_id(&self) -> TxnId {
        let mut next = lock(&self.next_txn);
        let id = TxnId(*next);
        *next += 1;
        id
    }

    fn txn_table(&self) -> MutexGuard<'_, BTreeMap<TxnId, TxnEntry>> {
        lock(&self.txns)
    }

    /// Creates the space map and catalog of an empty database.
    async fn bootstrap_if_new(self: &Arc<Self>) -> Result<()> {
        if catalog::exists(self).await? {
            self.alloc.set_groups(alloc::count_groups(&self.pool).await?);
            return Ok(());
        }
        let mut txn = Txn::new(self.clone(), self.next_txn_id());
        catalog::create(&mut txn).await?;
        txn.commit().await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
