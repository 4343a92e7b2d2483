//! The catalog: page 1, a slotted page listing every table.
//!
//! Each slot is `[kind u8][root page u64 LE][name bytes]`. The catalog is
//! changed only under its own table lock ([`CATALOG_LOCK`]), so DDL is
//! serialised and undone page-oriented like any table change. One page holds
//! on the order of a hundred tables; more is refused with a clear error.

use super::{Shared, TableId, Txn};
use crate::buffer::pool::BufferPool;
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::heap_page;
use crate::storage::page::PageType;
use crate::storage::space_map;
use crate::wal::record::PageOp;

/// The catalog's page (the first page of group 0).
pub const CATALOG_PAGE: PageId = PageId(1);
/// The catalog's lock id (its page number, like every table's).
pub const CATALOG_LOCK: u64 = CATALOG_PAGE.0;
/// The longest table name, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// What kind of table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Heap,
    /// A B+Tree; `unique` trees hold at most one value per key.
    BTree {
        unique: bool,
    },
}

/// A catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    pub name: String,
    pub id: TableId,
    pub kind: TableKind,
}

impl TableKind {
    fn to_byte(self) -> u8 {
        match self {
            TableKind::Heap => 1,
            TableKind::BTree { unique: true } => 2,
            TableKind::BTree { unique: false } => 3,
        }
    }

    fn from_byte(byte: u8) -> Result<TableKind> {
        match byte {
            1 => Ok(TableKind::Heap),
            2 => Ok(TableKind::BTree { unique: true }),
            3 => Ok(TableKind::BTree { unique: false }),
            other => Err(Error::Corrupt(format!("catalog: unknown table kind {other}"))),
        }
    }
}

fn encode(kind: TableKind, root: PageId, name: &str) -> Vec<u8> {
    let mut entry = vec![kind.to_byte()];
    entry.extend_from_slice(&root.0.to_le_bytes());
    entry.extend_from_slice(name.as_bytes());
    entry
}

fn decode(entry: &[u8]) -> Result<TableInfo> {
    if entry.len() < 9 {
        return Err(Error::Corrupt("catalog: short entry".to_string()));
    }
    let kind = TableKind::from_byte(entry[0])?;
    let root = u64::from_le_bytes(entry[1..9].try_into().expect("8 bytes"));
    let name = String::from_utf8(entry[9..].to_vec()).map_err(|_| Error::Corrupt("catalog: name not UTF-8".into()))?;
    Ok(TableInfo { name, id: TableId(root), kind })
}

/// Whether the database has been created: the catalog page is allocated.
pub(super) async fn exists(shared: &Shared) -> Result<bool> {
    if !shared.pool.exists(PageId(0)).await? {
        return Ok(false);
    }
    let map = shared.pool.fetch(PageId(0)).await?;
    let (_, bit) = space_map::locate(CATALOG_PAGE).expect("the catalog is not a map page");
    Ok(map.read(|page| space_map::is_set(page.body(), bit)))
}

/// Creates the space map's first group and the empty catalog.
pub(super) async fn create(txn: &mut Txn) -> Result<()> {
    txn.lock_table(CATALOG_LOCK).await?;
    txn.shared.alloc.set_groups(0);
    let catalog = txn.allocate(PageType::Meta).await?;
    if catalog.id() != CATALOG_PAGE {
        return Err(Error::Corrupt(format!("new database: catalog allocated at {}", catalog.id())));
    }
    Ok(())
}

/// Every table, in name order.
pub(super) async fn list(pool: &BufferPool) -> Result<Vec<TableInfo>> {
    let page = pool.fetch(CATALOG_PAGE).await?;
    let mut tables = page.read(|page| {
        heap_page::slots(page.body())?.iter().map(|(_, entry)| decode(entry)).collect::<Result<Vec<_>>>()
    })?;
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}

/// The table called `name`, if any.
pub(super) async fn find(pool: &BufferPool, name: &str) -> Result<Option<TableInfo>> {
    Ok(list(pool).await?.into_iter().find(|table| table.name == name))
}

/// Adds a table whose root page the caller has created.
pub(super) async fn add(txn: &mut Txn, name: &str, kind: TableKind, root: PageId) -> Result<TableId> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(Error::InvalidInput(format!("table name must be 1 to {MAX_NAME_BYTES} bytes")));
    }
    let entry = encode(kind, root, name);
    let page = txn.fetch(CATALOG_PAGE).await?;
    let slot = page.read(|page| heap_page::slot_for_insert(page.body(), entry.len()))?;
    let slot = slot.ok_or_else(|| Error::NotSupported("more tables than one catalog page holds".into()))?;
    txn.apply(&page, PageOp::SlotInsert { slot, data: entry }).await?;
    Ok(TableId(root.0))
}
