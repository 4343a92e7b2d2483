//! Transaction ids, commit status and snapshots: what decides which row
//! versions a transaction sees.
//!
//! Every transaction gets a fresh id (an *xid*) at begin. Ids never repeat,
//! across restarts too: they are handed out from blocks reserved durably in
//! the `mvcc.meta` table, and a restart starts after the last reserved block.
//!
//! A transaction commits by inserting its xid into the `mvcc.clog` table;
//! that insert's commit record is the commit point. Once the record is in
//! the log (not yet durable) the transaction gets its commit sequence number
//! (*csn*, one more than the last) and becomes visible, and its locks are
//! released before the log is forced (early lock release): the next writer
//! of a hot row need not wait for this commit's sync. That is safe because
//! whatever depends on the commit is logged after its record, so it cannot
//! become durable without it; what leaves the log's order (an answer to a
//! client) waits for durability instead: a commit is acknowledged only
//! once durable, and a transaction that read versions of commits not yet
//! durable ([`StatusView::unsynced_commit`]) waits for them before it ends
//! or returns rows. A *snapshot* is the
//! last csn at the moment it was taken: it sees exactly the transactions
//! committed with a csn at or below it, plus its own writes. Taking the csn
//! when the commit becomes visible, not when it starts, keeps snapshots
//! stable: a commit can never appear later inside a snapshot taken before it.
//!
//! Status of an xid: committed if the commit log has it; active if it began
//! in this run and has not ended; aborted otherwise (rolled back, or in
//! flight at a crash). Transactions committed before this run have csn 0:
//! every snapshot of this run sees them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::store::{Store, TableId};
use crate::wal::{Lsn, TxnId};

/// The commit log table: committed xids, as 8-byte big-endian keys.
pub const CLOG_TABLE: &str = "mvcc.clog";
/// Engine metadata: the end of the last reserved block of xids.
pub const META_TABLE: &str = "mvcc.meta";
const XID_RESERVED_KEY: &[u8] = b"xid_reserved";
/// Xids reserved per durable write of the reservation.
const XID_BLOCK: u64 = 4096;

/// What a transaction sees: commits up to `csn`, and its own writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub xid: TxnId,
    pub csn: u64,
}

/// An xid's commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XidStatus {
    Active,
    Committed { csn: u64 },
    Aborted,
}

struct Inner {
    next_xid: u64,
    reserved_until: u64,
    last_csn: u64,
    committed: BTreeMap<TxnId, u64>,
    /// Active transactions and the csn of their current snapshot.
    active: BTreeMap<TxnId, u64>,
    /// Commits visible but perhaps not yet durable, with their commit
    /// records (forgotten once the log is known durable past them).
    unsynced_commits: BTreeMap<TxnId, Lsn>,
}

impl Inner {
    fn status(&self, xid: TxnId) -> XidStatus {
        if let Some(&csn) = self.committed.get(&xid) {
            XidStatus::Committed { csn }
        } else if self.active.contains_key(&xid) {
            XidStatus::Active
        } else {
            XidStatus::Aborted
        }
    }
}

/// A view of the status table under its lock, for deciding visibility of
/// many versions at once.
pub struct StatusView<'a> {
    inner: MutexGuard<'a, Inner>,
}

impl StatusView<'_> {
    pub fn status(&self, xid: TxnId) -> XidStatus {
        self.inner.status(xid)
    }

    /// Where `xid`'s commit record is, if it committed visibly and may not
    /// be durable yet: whoever shows a client what `xid` wrote must first
    /// make the log durable through it.
    pub fn unsynced_commit(&self, xid: TxnId) -> Option<Lsn> {
        self.inner.unsynced_commits.get(&xid).copied()
    }

    /// Whether `snapshot` sees the writes of `creator`.
    pub fn visible(&self, snapshot: Snapshot, creator: TxnId) -> bool {
        creator == snapshot.xid || matches!(self.status(creator), XidStatus::Committed { csn } if csn <= snapshot.csn)
    }
}

/// Xids, commit status and snapshots of one engine.
pub struct StatusTable {
    store: Arc<Store>,
    clog: TableId,
    meta: TableId,
    inner: Mutex<Inner>,
    /// Serialises reservations of xid blocks (a durable write).
    reserving: futures::lock::Mutex<()>,
}

impl StatusTable {
    /// Loads the commit log and reserves the first block of xids.
    pub async fn open(store: Arc<Store>) -> Result<StatusTable> {
        let (clog, meta) = ensure_tables(&store).await?;
        let mut committed = BTreeMap::new();
        let mut txn = store.begin().await?;
        let mut cursor = txn.tree_range(clog, std::ops::Bound::Unbounded, std::ops::Bound::Unbounded).await?;
        while let Some((key, _)) = cursor.next().await? {
            committed.insert(TxnId(decode_u64(&key)?), 0);
        }
        drop(cursor);
        let reserved = txn.tree_get(meta, XID_RESERVED_KEY).await?.map(|v| decode_u64(&v)).transpose()?;
        txn.commit().await?;
        let start = reserved.unwrap_or(1).max(committed.keys().last().map_or(1, |xid| xid.0 + 1));
        let inner = Inner {
            next_xid: start,
            reserved_until: start,
            last_csn: 0,
            committed,
            active: BTreeMap::new(),
            unsynced_commits: BTreeMap::new(),
        };
        let table =
            StatusTable { store, clog, meta, inner: Mutex::new(inner), reserving: futures::lock::Mutex::new(()) };
        table.reserve_block().await?;
        Ok(table)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn view(&self) -> StatusView<'_> {
        StatusView { inner: self.lock() }
    }

    /// Starts a transaction: a fresh xid, active, with a snapshot of now.
    pub async fn begin(&self) -> Result<Snapshot> {
        loop {
            {
                let mut inner = self.lock();
                if inner.next_xid < inner.reserved_until {
                    let xid = TxnId(inner.next_xid);
                    inner.next_xid += 1;
                    let csn = inner.last_csn;
                    inner.active.insert(xid, csn);
                    return Ok(Snapshot { xid, csn });
                }
            }
            self.reserve_block().await?;
        }
    }

    /// A new snapshot for an active transaction (READ COMMITTED takes one per statement).
    pub fn refresh(&self, snapshot: Snapshot) -> Snapshot {
        let mut inner = self.lock();
        let csn = inner.last_csn;
        if let Some(entry) = inner.active.get_mut(&snapshot.xid) {
            *entry = csn;
        }
        Snapshot { xid: snapshot.xid, csn }
    }

    /// Logs `xid`'s commit and makes it visible; returns its csn and the
    /// commit record's LSN, which the caller must make durable before it
    /// tells anyone the transaction committed.
    ///
    /// On an error the outcome is unknown (the commit record may have reached
    /// the disk), so the transaction stays active: nothing may treat its
    /// versions as garbage before a restart settles it. The error that made
    /// the write fail has poisoned the storage engine, which must restart.
    /// `on_visible` runs with the csn and the commit record's LSN under the
    /// lock that assigns csns, so successive calls see csns in order.
    pub async fn commit(&self, xid: TxnId, on_visible: impl FnOnce(u64, Lsn)) -> Result<(u64, Lsn)> {
        let mut txn = self.store.begin().await?;
        txn.tree_insert(self.clog, &xid.0.to_be_bytes(), &[]).await?;
        let commit_lsn = txn.commit_unsynced_at().await?;
        let mut inner = self.lock();
        inner.last_csn += 1;
        let csn = inner.last_csn;
        inner.committed.insert(xid, csn);
        inner.active.remove(&xid);
        inner.unsynced_commits.insert(xid, commit_lsn);
        on_visible(csn, commit_lsn);
        Ok((csn, commit_lsn))
    }

    /// The log is durable through `durable`: commits up to it need no wait.
    pub fn forget_durable(&self, durable: Lsn) {
        self.lock().unsynced_commits.retain(|_, lsn| *lsn > durable);
    }

    /// Ends `xid` without committing: its versions become garbage.
    pub fn abort(&self, xid: TxnId) {
        self.lock().active.remove(&xid);
    }

    /// Ends a transaction that wrote nothing; returns the csn it saw last.
    pub fn finish_read_only(&self, xid: TxnId) -> u64 {
        let mut inner = self.lock();
        inner.active.remove(&xid);
        inner.last_csn
    }

    /// The oldest snapshot any active transaction holds (or the last csn if
    /// none): a version committed at or below it is visible to everyone now
    /// and later, so older versions of its row are garbage.
    pub fn horizon(&self) -> u64 {
        let inner = self.lock();
        let oldest_snapshot = inner.active.values().copied().min().unwrap_or(inner.last_csn);
        // A commit not yet durable may still vanish in a crash, and with it
        // the newer version that made older ones garbage: keep those until
        // it is durable (the removal would be logged after it, but a reader
        // could meanwhile see the row gone and tell a client).
        let oldest_unsynced = inner.unsynced_commits.keys().filter_map(|xid| inner.committed.get(xid)).min();
        oldest_unsynced.map_or(oldest_snapshot, |csn| oldest_snapshot.min(csn.saturating_sub(1)))
    }

    /// Reserves the next block of xids durably.
    async fn reserve_block(&self) -> Result<()> {
        let _reserving = self.reserving.lock().await;
        let until = {
            let inner = self.lock();
            if inner.next_xid < inner.reserved_until {
                return Ok(());
            }
            inner.reserved_until + XID_BLOCK
        };
        let mut txn = self.store.begin().await?;
        txn.tree_delete(self.meta, XID_RESERVED_KEY, None).await?;
        txn.tree_insert(self.meta, XID_RESERVED_KEY, &until.to_be_bytes()).await?;
        txn.commit().await?;
        self.lock().reserved_until = until;
        Ok(())
    }
}

/// Finds or creates the commit log and metadata tables.
async fn ensure_tables(store: &Store) -> Result<(TableId, TableId)> {
    let mut txn = store.begin().await?;
    let clog = find_or_create(&mut txn, CLOG_TABLE).await?;
    let meta = find_or_create(&mut txn, META_TABLE).await?;
    txn.commit().await?;
    Ok((clog, meta))
}

/// The unique B+Tree called `name`, created in `txn` if missing.
async fn find_or_create(txn: &mut crate::store::Txn, name: &str) -> Result<TableId> {
    match txn.table(name).await {
        Ok(info) => Ok(info.id),
        Err(Error::InvalidInput(_)) => txn.create_btree(name, true).await,
        Err(error) => Err(error),
    }
}

fn decode_u64(bytes: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] =
        bytes.try_into().map_err(|_| Error::Corrupt(format!("an 8-byte number stored in {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(bytes))
}
