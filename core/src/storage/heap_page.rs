//! The heap page: a slotted page ([`super::slotted`]) behind an 8-byte link
//! to the next page of the same heap.
//!
//! | body offset | size | field |
//! |---:|---:|---|
//! | 0 | 8 | next page of this heap, little-endian; 0 for the last |
//! | 8 | rest | slotted layout |
//!
//! A heap is a chain starting at its root page (the table's id). New pages
//! are linked right after the root, so growing a heap changes two pages.
//! The link changes through `WriteBytes` at offset 0; tuples through the
//! slot ops, whose slot numbers are the slotted layout's.

use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::slotted::{SlotId, SlottedPage};

/// Where the slotted layout starts in the body.
pub const SLOTTED_OFFSET: usize = 8;

/// The next page of the chain, if any.
pub fn next(body: &[u8]) -> Option<PageId> {
    let next = u64::from_le_bytes(body[..SLOTTED_OFFSET].try_into().expect("8 bytes"));
    (next != 0).then_some(PageId(next))
}

/// The link bytes naming `next` (0 for none), for a `WriteBytes` at offset 0.
pub fn link_bytes(next: Option<PageId>) -> Vec<u8> {
    next.map_or(0, |page| page.0).to_le_bytes().to_vec()
}

/// Formats an empty heap page body with no successor.
pub fn format(body: &mut [u8]) {
    body.fill(0);
    SlottedPage::init(&mut body[SLOTTED_OFFSET..]);
}

/// The slotted part of a heap body, validated.
pub fn slots(body: &[u8]) -> Result<SlottedPage<&[u8]>> {
    SlottedPage::open(&body[SLOTTED_OFFSET..])
}

/// The slotted part of a heap body for changing it, validated.
pub fn slots_mut(body: &mut [u8]) -> Result<SlottedPage<&mut [u8]>> {
    SlottedPage::open(&mut body[SLOTTED_OFFSET..])
}

/// The slot an insert of `len` bytes would take, or `None` if it does not fit.
pub fn slot_for_insert(body: &[u8], len: usize) -> Result<Option<u16>> {
    let page = slots(body)?;
    Ok((page.free_space() >= len).then(|| page.next_slot().0))
}

/// Free bytes for one more tuple (its slot included).
pub fn free_space(body: &[u8]) -> Result<usize> {
    Ok(slots(body)?.free_space())
}

/// Redo/undo of `SlotInsert`: `data` becomes slot `slot`.
pub fn apply_insert(body: &mut [u8], slot: u16, data: &[u8]) -> Result<()> {
    if slots_mut(body)?.insert_at(SlotId(slot), data) { Ok(()) } else { Err(mismatch("insert into", slot)) }
}

/// Redo/undo of `SlotDelete`: slot `slot`, holding `before`, becomes a tombstone.
pub fn apply_delete(body: &mut [u8], slot: u16, before: &[u8]) -> Result<()> {
    let mut page = slots_mut(body)?;
    if page.get(SlotId(slot)) != Some(before) || !page.delete(SlotId(slot)) {
        return Err(mismatch("delete", slot));
    }
    Ok(())
}

/// Redo/undo of `SlotUpdate`: slot `slot` changes from `before` to `after`.
pub fn apply_update(body: &mut [u8], slot: u16, before: &[u8], after: &[u8]) -> Result<()> {
    let mut page = slots_mut(body)?;
    if page.get(SlotId(slot)) != Some(before) || !page.update(SlotId(slot), after) {
        return Err(mismatch("update", slot));
    }
    Ok(())
}

fn mismatch(what: &str, slot: u16) -> Error {
    Error::Corrupt(format!("heap page: cannot {what} slot {slot} as the log record says"))
}
