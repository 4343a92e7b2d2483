//! Applying a logged [`PageOp`] to a page: the one place that says what each
//! op does to each kind of page. Forward processing, redo and undo (CLRs) all
//! come through [`apply`], so the three can never disagree.
//!
//! Every op checks its precondition (the bytes or entry it expects) and fails
//! with [`Error::Corrupt`] instead of guessing: a mismatch means the page and
//! the log disagree, which is a bug or corruption to report, never to paper over.

use crate::error::{Error, Result};
use crate::index::btree::node;
use crate::storage::page::{Page, PageType};
use crate::storage::{heap_page, space_map};
use crate::wal::record::PageOp;

/// Applies `op` to `page`. The caller sets the page LSN.
pub fn apply(page: &mut Page, op: &PageOp) -> Result<()> {
    let page_type = page.page_type();
    match op {
        PageOp::Format { page_type } => format(page, *page_type),
        PageOp::SetPageType { before, after } => set_page_type(page, *before, *after),
        PageOp::WriteBytes { offset, before, after } => write_bytes(page.body_mut(), *offset, before, after),
        PageOp::MapSet { bit } | PageOp::MapClear { bit } => {
            expect_type(page_type, &[PageType::FreeSpaceMap], op)?;
            space_map::apply(page.body_mut(), *bit, matches!(op, PageOp::MapSet { .. }))
        }
        PageOp::SlotInsert { slot, data } => {
            expect_type(page_type, &[PageType::Heap, PageType::Meta], op)?;
            heap_page::apply_insert(page.body_mut(), *slot, data)
        }
        PageOp::SlotDelete { slot, before } => {
            expect_type(page_type, &[PageType::Heap, PageType::Meta], op)?;
            heap_page::apply_delete(page.body_mut(), *slot, before)
        }
        PageOp::SlotUpdate { slot, before, after } => {
            expect_type(page_type, &[PageType::Heap, PageType::Meta], op)?;
            heap_page::apply_update(page.body_mut(), *slot, before, after)
        }
        PageOp::EntryInsert { .. }
        | PageOp::EntryDelete { .. }
        | PageOp::EntriesRemoveTail { .. }
        | PageOp::EntriesAppend { .. } => {
            expect_type(page_type, &[PageType::BTreeLeaf, PageType::BTreeInternal], op)?;
            apply_node_op(page.body_mut(), op)
        }
    }
}

fn apply_node_op(body: &mut [u8], op: &PageOp) -> Result<()> {
    match op {
        PageOp::EntryInsert { index, entry } => node::apply_entry_insert(body, usize::from(*index), entry),
        PageOp::EntryDelete { index, entry } => node::apply_entry_delete(body, usize::from(*index), entry),
        PageOp::EntriesRemoveTail { from, entries } => node::apply_remove_tail(body, usize::from(*from), entries),
        PageOp::EntriesAppend { at, entries } => node::apply_append(body, usize::from(*at), entries),
        _ => unreachable!("only node ops are passed here"),
    }
}

/// Re-initialises the page as an empty page of the type.
fn format(page: &mut Page, page_type: u8) -> Result<()> {
    let page_type = PageType::from_u8(page_type)
        .ok_or_else(|| Error::Corrupt(format!("Format to unknown page type {page_type}")))?;
    page.set_page_type(page_type);
    let body = page.body_mut();
    match page_type {
        PageType::Heap | PageType::Meta => heap_page::format(body),
        PageType::BTreeLeaf => node::format(body, 0),
        PageType::BTreeInternal => node::format(body, 1),
        PageType::FreeSpaceMap | PageType::Free | PageType::Overflow => body.fill(0),
    }
    Ok(())
}

fn set_page_type(page: &mut Page, before: u8, after: u8) -> Result<()> {
    if page.page_type().as_u8() != before {
        return Err(Error::Corrupt(format!("page type is {:?}, the log expects {before}", page.page_type())));
    }
    let after = PageType::from_u8(after).ok_or_else(|| Error::Corrupt(format!("unknown page type {after}")))?;
    page.set_page_type(after);
    Ok(())
}

fn write_bytes(body: &mut [u8], offset: u16, before: &[u8], after: &[u8]) -> Result<()> {
    let start = usize::from(offset);
    let range = start..start + before.len();
    if before.len() != after.len() || range.end > body.len() || body[range.clone()] != *before {
        return Err(Error::Corrupt(format!("WriteBytes at body offset {offset}: bytes differ from the log")));
    }
    body[range].copy_from_slice(after);
    Ok(())
}

fn expect_type(actual: PageType, allowed: &[PageType], op: &PageOp) -> Result<()> {
    if allowed.contains(&actual) { Ok(()) } else { Err(Error::Corrupt(format!("{op:?} applied to a {actual:?} page"))) }
}
