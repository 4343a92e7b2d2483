//! Page allocation over the space map ([`crate::storage::space_map`]).
//!
//! Allocating is a logged `MapSet` on the covering map page by the allocating
//! transaction, so a rollback (or recovery's undo) frees the page again.
//! Searching and setting happen under one async mutex, so two transactions
//! never pick the same clear bit. Freeing is a logged `MapClear`, but the page
//! stays in quarantine until the freeing transaction ends: if it rolled back,
//! the undo would set the bit again under whoever had reused the page.
//!
//! The in-memory state is only a search hint and the quarantine; the map
//! pages are the truth and recovery rebuilds them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use super::Txn;
use crate::buffer::pool::BufferPool;
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::file::FILE_PAGES_MAX;
use crate::storage::page::PageType;
use crate::storage::space_map::{self, GROUP_PAGES, PAGES_PER_MAP};
use crate::wal::TxnId;
use crate::wal::record::PageOp;

#[derive(Default)]
struct State {
    /// Map pages that exist: groups `0..groups`.
    groups: u64,
    /// No clear bit below this page (a hint; lowered whenever a page is freed).
    search_from: u64,
    /// Freed pages by the transaction that freed them.
    quarantine: BTreeMap<TxnId, Vec<PageId>>,
}

/// The allocator's in-memory state.
#[derive(Default)]
pub(super) struct Allocator {
    state: Mutex<State>,
    /// Held from choosing a bit until it is set.
    search: futures::lock::Mutex<()>,
}

impl Allocator {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn set_groups(&self, groups: u64) {
        self.lock().groups = groups;
    }

    /// The transaction ended: its freed pages may be reused.
    pub(super) fn end_quarantine(&self, txn: TxnId) {
        let mut state = self.lock();
        if let Some(pages) = state.quarantine.remove(&txn) {
            let lowest = pages.iter().map(|page| page.0).min().unwrap_or(u64::MAX);
            state.search_from = state.search_from.min(lowest);
        }
    }

    fn quarantined_locked(&self, state: &State) -> BTreeSet<PageId> {
        state.quarantine.values().flatten().copied().collect()
    }

    /// An allocation was undone: the page is free again.
    pub(super) fn freed_by_undo(&self, page: PageId) {
        let mut state = self.lock();
        state.search_from = state.search_from.min(page.0);
    }
}

/// Finds a free page, marks it allocated for `txn`, and returns its number.
pub(super) async fn allocate(txn: &mut Txn) -> Result<PageId> {
    let shared = txn.shared.clone();
    let _search = shared.alloc.search.lock().await;
    loop {
        let (groups, from, quarantined) = {
            let state = shared.alloc.lock();
            (state.groups, state.search_from, shared.alloc.quarantined_locked(&state))
        };
        let group = from / GROUP_PAGES;
        if group >= groups {
            create_group(txn, group).await?;
            continue;
        }
        let map = PageId(group * GROUP_PAGES);
        let guard = txn.fetch(map).await?;
        let first_bit = u16::try_from((from % GROUP_PAGES).saturating_sub(1)).unwrap_or(u16::MAX);
        let found = guard.read(|page| {
            let mut bit = first_bit;
            while let Some(clear) = space_map::first_clear(page.body(), bit) {
                if !quarantined.contains(&space_map::page_of(map, clear)) {
                    return Some(clear);
                }
                bit = clear.checked_add(1)?;
            }
            None
        });
        match found {
            Some(bit) => {
                txn.apply(&guard, PageOp::MapSet { bit }).await?;
                let page = space_map::page_of(map, bit);
                shared.alloc.lock().search_from = page.0 + 1;
                return Ok(page);
            }
            None => shared.alloc.lock().search_from = (group + 1) * GROUP_PAGES,
        }
    }
}

/// Formats the map page of a new group (its pages all free).
async fn create_group(txn: &mut Txn, group: u64) -> Result<()> {
    let map = PageId(group * GROUP_PAGES);
    if map.0 + PAGES_PER_MAP >= FILE_PAGES_MAX {
        return Err(Error::InvalidInput(format!("data file is full ({FILE_PAGES_MAX} pages)")));
    }
    let guard = txn.shared.pool.fetch_new(map, PageType::FreeSpaceMap).await?;
    txn.apply(&guard, PageOp::Format { page_type: PageType::FreeSpaceMap.as_u8() }).await?;
    txn.shared.alloc.lock().groups = group + 1;
    Ok(())
}

/// Marks `page` free for `txn` and quarantines it until `txn` ends.
pub(super) async fn free(txn: &mut Txn, page: PageId) -> Result<()> {
    let (map, bit) = space_map::locate(page).ok_or_else(|| Error::InvalidInput(format!("{page} is a map page")))?;
    let guard = txn.fetch(map).await?;
    txn.apply(&guard, PageOp::MapClear { bit }).await?;
    txn.shared.alloc.lock().quarantine.entry(txn.id()).or_default().push(page);
    Ok(())
}

/// How many map pages exist, by reading them until one is missing.
pub(super) async fn count_groups(pool: &BufferPool) -> Result<u64> {
    let mut groups = 0;
    while pool.exists(PageId(groups * GROUP_PAGES)).await? {
        groups += 1;
    }
    Ok(groups)
}
