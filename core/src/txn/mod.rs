//! Transactions over the storage engine: MVCC, isolation levels, locks.
//!
//! [`TxnEngine`] opens a [`Store`] and hands out [`Transaction`]s over
//! versioned tables (ordered maps from key bytes to row bytes). Isolation:
//!
//! | level | snapshot | write-write conflict | extra |
//! |---|---|---|---|
//! | READ COMMITTED | per statement ([`Transaction::new_statement`]) | waits, then writes over the newest commit | — |
//! | REPEATABLE READ | per transaction | waits; fails with 40001 if the row changed after the snapshot (first committer wins) | — |
//! | SERIALIZABLE | per transaction | as REPEATABLE READ | SSI: rw-antidependency tracking aborts one transaction of every dangerous structure (40001) |
//!
//! | file | owns |
//! |---|---|
//! | `version.rs` | how row versions are laid out in a storage B+Tree |
//! | `table.rs` | reading, scanning, adding and removing versions (short storage transactions) |
//! | `status.rs` | xids, the commit log, commit sequence numbers, snapshots, visibility |
//! | `lock_manager.rs` | two-phase table and row locks: modes, queues, upgrades, deadlock detection, timeouts |
//! | `ssi.rs` | SIREAD locks, rw antidependencies, dangerous structures |
//! | `transaction.rs` | the [`Transaction`] API: reads, writes, savepoints, commit, rollback |
//! | `changes.rs` | the committed-change feed: watchers of key prefixes, before/after images, csn order, bounded queues |
//! | `vacuum.rs` | removing versions nobody can see, in the background |
//!
//! # Durability and recovery
//!
//! Versions are written by short storage transactions that do not wait for
//! the log; a transaction's commit point is the durable insert of its xid
//! into the commit log, which follows all of its versions in the log. Locks
//! are released, and the commit made visible, once that insert is logged
//! but before it is durable (early lock release; `status.rs` says why that
//! is safe and what waits for durability instead). After a
//! crash, storage recovery restores the tables, and every xid missing from
//! the commit log is aborted: its versions are invisible and vacuum removes
//! them. Nothing is undone in place, so rollback needs no undo of B+Tree
//! structure changes made while other transactions changed the same pages.
//!
//! Secondary indexes are versioned tables too (index key ‖ primary key →
//! nothing), written by the same transaction as the row, so an index entry
//! is visible exactly when its row version is.
//!
//! DDL (creating tables) runs in storage transactions of its own, outside
//! MVCC; [`Transaction::lock_table`] with `AccessExclusive` is how a schema
//! change keeps transactions away from a table meanwhile.

mod changes;
mod lock_manager;
mod ssi;
mod status;
mod table;
mod transaction;
mod vacuum;
mod version;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use changes::{ChangeKind, ChangeStream, CommittedChange, MAX_CHANGES_PER_COMMIT, RowChange};
pub use lock_manager::{LockMode, LockStats, LockTarget};
pub use status::{CLOG_TABLE, META_TABLE};
pub use table::RowScan;
pub use transaction::{RowLock, Transaction};

use crate::env::{BoxFuture, Env};
use crate::error::{Error, Result};
use crate::store::{Store, StoreConfig, TableId, TableKind};

/// Versioned tables are storage B+Trees named with this prefix, so vacuum
/// and lookups never mistake another storage table for one.
const VERSIONED_PREFIX: &str = "table:";

/// How isolated a transaction is from concurrent ones (SQL's levels; READ
/// UNCOMMITTED behaves as READ COMMITTED, as in PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IsolationLevel {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl IsolationLevel {
    pub fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "read committed",
            IsolationLevel::RepeatableRead => "repeatable read",
            IsolationLevel::Serializable => "serializable",
        }
    }
}

impl std::str::FromStr for IsolationLevel {
    type Err = Error;

    /// Parses SQL spellings, any case, with spaces, dashes or underscores.
    fn from_str(text: &str) -> Result<Self> {
        let normal: String = text.trim().to_ascii_lowercase().replace(['-', '_'], " ");
        match normal.as_str() {
            "read uncommitted" | "read committed" => Ok(IsolationLevel::ReadCommitted),
            "repeatable read" | "snapshot" => Ok(IsolationLevel::RepeatableRead),
            "serializable" => Ok(IsolationLevel::Serializable),
            _ => Err(Error::InvalidInput(format!("unknown isolation level {text:?}"))),
        }
    }
}

/// How to open a [`TxnEngine`].
#[derive(Debug, Clone)]
pub struct TxnConfig {
    pub store: StoreConfig,
    /// A lock wait this long searches for a deadlock (PostgreSQL's `deadlock_timeout`).
    pub deadlock_check_after: Duration,
    /// Lock waits longer than this fail with [`Error::LockTimeout`]; `None` waits forever.
    pub lock_timeout: Option<Duration>,
    /// How often the background vacuum runs; `None` runs it only when asked ([`TxnEngine::vacuum`]).
    pub vacuum_interval: Option<Duration>,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            store: StoreConfig::default(),
            deadlock_check_after: Duration::from_millis(20),
            lock_timeout: None,
            vacuum_interval: Some(Duration::from_secs(10)),
        }
    }
}

/// Options of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOptions {
    pub level: IsolationLevel,
    /// Overrides the engine's lock timeout for this transaction.
    pub lock_timeout: Option<Duration>,
}

/// Counters since open.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TxnStats {
    pub commits: u64,
    pub rollbacks: u64,
    pub serialization_failures: u64,
    pub locks: LockStats,
    pub versions_vacuumed: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    rollbacks: AtomicU64,
    serialization_failures: AtomicU64,
    versions_vacuumed: AtomicU64,
}

/// What every transaction of one engine shares.
struct Shared {
    env: Env,
    config: TxnConfig,
    store: Arc<Store>,
    status: status::StatusTable,
    locks: lock_manager::LockManager,
    ssi: ssi::Ssi,
    counters: Counters,
    changes: Arc<changes::ChangeFeed>,
}

/// The transactional engine: versioned tables and transactions over a [`Store`].
pub struct TxnEngine {
    shared: Arc<Shared>,
}

impl TxnEngine {
    /// Opens (recovering) the store in `env.storage` and the commit log, and
    /// starts the background vacuum if configured.
    pub async fn open(env: &Env, config: TxnConfig) -> Result<Arc<TxnEngine>> {
        let store = Store::open(env, config.store.clone()).await?;
        let status = status::StatusTable::open(store.clone()).await?;
        let shared = Arc::new(Shared {
            env: env.clone(),
            locks: lock_manager::LockManager::new(config.deadlock_check_after),
            config,
            store,
            status,
            ssi: ssi::Ssi::default(),
            counters: Counters::default(),
            changes: Arc::default(),
        });
        if let Some(interval) = shared.config.vacuum_interval {
            drop(env.spawn("vacuum", background_vacuum(Arc::downgrade(&shared), interval)));
        }
        Ok(Arc::new(TxnEngine { shared }))
    }

    /// Starts a transaction at `level`.
    pub async fn begin(&self, level: IsolationLevel) -> Result<Transaction> {
        self.begin_with(TxnOptions { level, lock_timeout: self.shared.config.lock_timeout }).await
    }

    pub async fn begin_with(&self, options: TxnOptions) -> Result<Transaction> {
        Transaction::begin(self.shared.clone(), options).await
    }

    /// Runs `body` (a closure returning a boxed future, so the transaction
    /// stays `Send` across tasks) in a transaction at `level` and commits it, retrying the
    /// whole transaction (up to `attempts` times in all) when it fails with a
    /// serialization failure or deadlock. Before each retry it sleeps a
    /// random time that doubles per attempt (from 1 ms, capped at 64 ms), so
    /// transactions that keep colliding spread out. Any other error, or the
    /// last retryable one, is returned with the transaction rolled back.
    pub async fn run<T>(
        &self,
        level: IsolationLevel,
        attempts: u32,
        mut body: impl for<'t> FnMut(&'t mut Transaction) -> BoxFuture<'t, Result<T>>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut txn = self.begin(level).await?;
            let result = match body(&mut txn).await {
                Ok(value) => txn.commit().await.map(|()| value),
                Err(error) => Err(error),
            };
            match result {
                Err(error) if error.is_retryable() && attempt < attempts.max(1) => {
                    let ceiling_micros = 1000u64 << attempt.min(6);
                    let pause = Duration::from_micros(self.shared.env.random.below(ceiling_micros) + 1);
                    self.shared.env.clock.sleep(pause).await;
                }
                other => return other,
            }
        }
    }

    /// Creates a versioned table (durably, outside any transaction).
    pub async fn create_table(&self, name: &str) -> Result<TableId> {
        let mut txn = self.shared.store.begin().await?;
        let table = txn.create_btree(&format!("{VERSIONED_PREFIX}{name}"), true).await?;
        txn.commit().await?;
        Ok(table)
    }

    /// The versioned table called `name`.
    pub async fn table(&self, name: &str) -> Result<TableId> {
        let mut txn = self.shared.store.begin().await?;
        let info = txn.table(&format!("{VERSIONED_PREFIX}{name}")).await?;
        txn.commit().await?;
        if info.kind != (TableKind::BTree { unique: true }) {
            return Err(Error::Corrupt(format!("versioned table {name:?} is a {:?}", info.kind)));
        }
        Ok(info.id)
    }

    /// Runs vacuum over every versioned table now; returns the versions removed.
    pub async fn vacuum(&self) -> Result<u64> {
        vacuum_all(&self.shared).await
    }

    pub fn stats(&self) -> TxnStats {
        let counters = &self.shared.counters;
        TxnStats {
            commits: counters.commits.load(Ordering::Relaxed),
            rollbacks: counters.rollbacks.load(Ordering::Relaxed),
            serialization_failures: counters.serialization_failures.load(Ordering::Relaxed),
            locks: self.shared.locks.stats(),
            versions_vacuumed: counters.versions_vacuumed.load(Ordering::Relaxed),
        }
    }

    /// Watches committed changes of the rows of versioned table `table`
    /// whose keys start with `prefix`; at most `capacity` changes wait
    /// unread before the stream lags (see `changes.rs`).
    pub fn watch(&self, table: TableId, prefix: Vec<u8>, capacity: usize) -> Result<ChangeStream> {
        self.shared.changes.watch(table, prefix, capacity)
    }

    /// How many change streams are open.
    pub fn change_watchers(&self) -> usize {
        self.shared.changes.watchers()
    }

    /// The storage engine underneath (checkpoints, stats).
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }
}

async fn vacuum_all(shared: &Shared) -> Result<u64> {
    let tables: Vec<TableId> = shared
        .store
        .tables()
        .await?
        .into_iter()
        .filter(|info| info.name.starts_with(VERSIONED_PREFIX))
        .map(|info| info.id)
        .collect();
    let mut removed = 0;
    for table in tables {
        removed += vacuum::vacuum_table(&shared.store, &shared.status, table).await?;
    }
    shared.counters.versions_vacuumed.fetch_add(removed, Ordering::Relaxed);
    Ok(removed)
}

/// Vacuums every `interval` until the engine is dropped or a pass fails (a
/// failure means the storage engine is poisoned and must restart).
async fn background_vacuum(shared: std::sync::Weak<Shared>, interval: Duration) {
    loop {
        let Some(env) = shared.upgrade().map(|shared| shared.env.clone()) else { return };
        env.clock.sleep(interval).await;
        let Some(shared) = shared.upgrade() else { return };
        if vacuum_all(&shared).await.is_err() {
            return;
        }
    }
}
