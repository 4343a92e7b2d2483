//! Heap tables: rows on a chain of slotted heap pages ([`heap_page`]).
//!
//! A row is addressed by its [`Rid`] (page, slot), stable while the row lives.
//! Finding a page with room uses an in-memory free-space hint per table,
//! built on first use by walking the chain and kept up to date by this
//! module; it is never logged, and a stale hint only costs a look at a page
//! that turns out to be full. New pages are linked right after the root.

use std::collections::BTreeMap;

use super::{Rid, TableId, Txn};
use crate::buffer::pool::PageGuard;
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::heap_page;
use crate::storage::page::PageType;
use crate::storage::slotted::{MAX_TUPLE_SIZE, SLOT_SIZE, SlotId};
use crate::wal::record::PageOp;

/// The largest row a heap page holds.
pub const MAX_ROW_BYTES: usize = MAX_TUPLE_SIZE - heap_page::SLOTTED_OFFSET - SLOT_SIZE;

/// Creates an empty heap and returns its root page.
pub(super) async fn create(txn: &mut Txn) -> Result<PageId> {
    Ok(txn.allocate(PageType::Heap).await?.id())
}

/// Inserts `row` and returns its address.
pub(super) async fn insert(txn: &mut Txn, table: TableId, row: &[u8]) -> Result<Rid> {
    if row.len() > MAX_ROW_BYTES {
        return Err(Error::NotSupported(format!(
            "a row of {} bytes (rows longer than {MAX_ROW_BYTES} bytes need overflow pages, not built yet)",
            row.len()
        )));
    }
    for page in candidates(txn, table, row.len()).await? {
        let guard = txn.fetch(page).await?;
        if let Some(rid) = insert_into(txn, table, &guard, row).await? {
            return Ok(rid);
        }
    }
    let guard = grow(txn, table).await?;
    insert_into(txn, table, &guard, row).await?.ok_or_else(|| Error::Corrupt("row does not fit an empty page".into()))
}

/// Inserts into `guard`'s page if the row fits there.
async fn insert_into(txn: &mut Txn, table: TableId, guard: &PageGuard, row: &[u8]) -> Result<Option<Rid>> {
    let Some(slot) = guard.read(|page| heap_page::slot_for_insert(page.body(), row.len()))? else {
        set_hint(txn, table, guard)?;
        return Ok(None);
    };
    txn.apply(guard, PageOp::SlotInsert { slot, data: row.to_vec() }).await?;
    set_hint(txn, table, guard)?;
    Ok(Some(Rid { page: guard.id(), slot }))
}

/// Pages whose hinted free space fits `len`, building the hint if missing.
async fn candidates(txn: &Txn, table: TableId, len: usize) -> Result<Vec<PageId>> {
    let known = super::lock(&txn.shared.fsm).contains_key(&table);
    if !known {
        let mut hints = BTreeMap::new();
        let mut next = Some(PageId(table.0));
        while let Some(page) = next {
            let guard = txn.fetch(page).await?;
            let (free, following) = guard.read(|page| -> Result<_> {
                Ok((heap_page::free_space(page.body())?, heap_page::next(page.body())))
            })?;
            hints.insert(page, free);
            next = following;
        }
        super::lock(&txn.shared.fsm).insert(table, hints);
    }
    let fsm = super::lock(&txn.shared.fsm);
    let hints = fsm.get(&table).map(|hints| hints.iter().filter(|(_, free)| **free >= len + SLOT_SIZE));
    Ok(hints.into_iter().flatten().map(|(page, _)| *page).take(4).collect())
}

fn set_hint(txn: &Txn, table: TableId, guard: &PageGuard) -> Result<()> {
    let free = guard.read(|page| heap_page::free_space(page.body()))?;
    super::lock(&txn.shared.fsm).entry(table).or_default().insert(guard.id(), free);
    Ok(())
}

/// Adds an empty page to the heap, linked right after the root.
async fn grow(txn: &mut Txn, table: TableId) -> Result<PageGuard> {
    let root = txn.fetch(PageId(table.0)).await?;
    let after_root = root.read(|page| heap_page::next(page.body()));
    let page = txn.allocate(PageType::Heap).await?;
    let link = heap_page::link_bytes(after_root);
    txn.apply(&page, PageOp::WriteBytes { offset: 0, before: heap_page::link_bytes(None), after: link }).await?;
    let before = heap_page::link_bytes(after_root);
    txn.apply(&root, PageOp::WriteBytes { offset: 0, before, after: heap_page::link_bytes(Some(page.id())) }).await?;
    Ok(page)
}

/// The row at `rid`, if live. `rid` must name a page of this heap.
pub(super) async fn get(txn: &Txn, rid: Rid) -> Result<Option<Vec<u8>>> {
    let guard = fetch_heap_page(txn, rid.page).await?;
    guard.read(|page| Ok(heap_page::slots(page.body())?.get(SlotId(rid.slot)).map(<[u8]>::to_vec)))
}

/// Deletes the row at `rid`; false if there was none.
pub(super) async fn delete(txn: &mut Txn, table: TableId, rid: Rid) -> Result<bool> {
    let guard = fetch_heap_page(txn, rid.page).await?;
    let Some(before) =
        guard.read(|page| heap_page::slots(page.body()).map(|s| s.get(SlotId(rid.slot)).map(<[u8]>::to_vec)))?
    else {
        return Ok(false);
    };
    txn.apply(&guard, PageOp::SlotDelete { slot: rid.slot, before }).await?;
    set_hint(txn, table, &guard)?;
    Ok(true)
}

/// Replaces the row at `rid`. Returns its address afterwards: the same, or a
/// new one if the row had to move to a page with room. `None` if no row.
pub(super) async fn update(txn: &mut Txn, table: TableId, rid: Rid, row: &[u8]) -> Result<Option<Rid>> {
    let guard = fetch_heap_page(txn, rid.page).await?;
    let current = guard.read(|page| -> Result<_> {
        let slots = heap_page::slots(page.body())?;
        Ok(slots.get(SlotId(rid.slot)).map(|old| (old.to_vec(), slots.free_space() + old.len() >= row.len())))
    })?;
    let Some((before, fits)) = current else { return Ok(None) };
    if fits {
        txn.apply(&guard, PageOp::SlotUpdate { slot: rid.slot, before, after: row.to_vec() }).await?;
        set_hint(txn, table, &guard)?;
        return Ok(Some(rid));
    }
    delete(txn, table, rid).await?;
    Ok(Some(insert(txn, table, row).await?))
}

/// Every row of the heap, in chain and slot order.
pub(super) async fn scan(txn: &Txn, table: TableId) -> Result<Vec<(Rid, Vec<u8>)>> {
    let mut rows = Vec::new();
    let mut next = Some(PageId(table.0));
    while let Some(page) = next {
        let guard = fetch_heap_page(txn, page).await?;
        next = guard.read(|p| -> Result<_> {
            for (slot, row) in heap_page::slots(p.body())?.iter() {
                rows.push((Rid { page, slot: slot.0 }, row.to_vec()));
            }
            Ok(heap_page::next(p.body()))
        })?;
    }
    Ok(rows)
}

async fn fetch_heap_page(txn: &Txn, page: PageId) -> Result<PageGuard> {
    let guard = txn.fetch(page).await?;
    let page_type = guard.read(|page| page.page_type());
    if page_type != PageType::Heap {
        return Err(Error::InvalidInput(format!("{page} is a {page_type:?} page, not a heap page")));
    }
    Ok(guard)
}

/// Heap tables, as a transaction sees them. Each call locks the table until
/// the transaction ends.
impl Txn {
    /// Creates an empty heap table called `name`.
    pub async fn create_heap(&mut self, name: &str) -> Result<TableId> {
        self.lock_table(super::catalog::CATALOG_LOCK).await?;
        if super::catalog::find(&self.shared.pool, name).await?.is_some() {
            return Err(Error::InvalidInput(format!("a table named {name:?} exists")));
        }
        let root = create(self).await?;
        self.lock_table(root.0).await?;
        super::catalog::add(self, name, super::TableKind::Heap, root).await
    }

    pub async fn heap_insert(&mut self, table: TableId, row: &[u8]) -> Result<Rid> {
        self.lock_table(table.0).await?;
        insert(self, table, row).await
    }

    pub async fn heap_get(&mut self, table: TableId, rid: Rid) -> Result<Option<Vec<u8>>> {
        self.lock_table(table.0).await?;
        get(self, rid).await
    }

    pub async fn heap_delete(&mut self, table: TableId, rid: Rid) -> Result<bool> {
        self.lock_table(table.0).await?;
        delete(self, table, rid).await
    }

    /// Replaces a row; returns its (possibly new) address, `None` if there was no row.
    pub async fn heap_update(&mut self, table: TableId, rid: Rid, row: &[u8]) -> Result<Option<Rid>> {
        self.lock_table(table.0).await?;
        update(self, table, rid, row).await
    }

    pub async fn heap_scan(&mut self, table: TableId) -> Result<Vec<(Rid, Vec<u8>)>> {
        self.lock_table(table.0).await?;
        scan(self, table).await
    }

    /// The kind of `table`, `None` if no such table. Kinds are cached: a
    /// table's root page and kind never change while it exists.
    pub(super) async fn table_kind(&self, table: TableId) -> Result<Option<super::TableKind>> {
        if let Some(kind) = super::lock(&self.shared.kinds).get(&table) {
            return Ok(Some(*kind));
        }
        let info = super::catalog::list(&self.shared.pool).await?.into_iter().find(|info| info.id == table);
        if let Some(info) = &info {
            super::lock(&self.shared.kinds).insert(table, info.kind);
        }
        Ok(info.map(|info| info.kind))
    }

    /// The table called `name`.
    pub async fn table(&mut self, name: &str) -> Result<super::TableInfo> {
        super::catalog::find(&self.shared.pool, name)
            .await?
            .ok_or_else(|| Error::InvalidInput(format!("no table named {name:?}")))
    }
}
