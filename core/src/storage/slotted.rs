//! The slotted page: variable-length heap tuples in a page body, each named
//! by a slot number that stays the same for as long as the tuple lives.
//!
//! This module owns the layout of a heap page's body ([`super::page::Page::body_mut`])
//! and nothing else: what a tuple's bytes mean (headers, MVCC versions),
//! when a tuple may be deleted, and which page has room belong to the heap.
//!
//! # Layout
//!
//! The slot directory grows from the front, tuple data from the back, and the
//! free gap between them shrinks from both sides:
//!
//! ```text
//! 0        4       4 + 4 * slot_count         data_start                  len
//! +--------+-------+-------+----+-------------+----------+-----+----------+
//! | header | slot0 | slot1 | .. |  free gap   | tuple 1  | gap | tuple 0  |
//! +--------+-------+-------+----+-------------+----------+-----+----------+
//! ```
//!
//! All integers are little-endian `u16`, which bounds a body to
//! [`MAX_BODY_SIZE`] bytes.
//!
//! | Offset    | Size | Field                                                      |
//! |----------:|-----:|------------------------------------------------------------|
//! |         0 |    2 | slot count: directory entries, live and tombstoned         |
//! |         2 |    2 | data start: lowest byte of tuple data (the free gap's end) |
//! | 4 + 4 * i |    2 | slot `i`: tuple offset in the body, 0 for a tombstone      |
//! | 6 + 4 * i |    2 | slot `i`: tuple length in bytes, 0 for a tombstone         |
//!
//! # Slot numbers and tombstones
//!
//! A tuple id is (page, slot), and indexes store it, so a slot number must
//! not change while its tuple lives: deleting a tuple turns its slot into a
//! tombstone instead of shifting later slots down, and compaction moves bytes
//! but never slots. Offset 0 lies inside the header, so no live tuple can
//! have it and `(0, 0)` is free to mean "tombstone".
//!
//! [`SlottedPage::insert`] reuses the lowest tombstone before growing the
//! directory, so a page under insert/delete churn does not fill with dead
//! slots. The price is that a deleted slot number may soon name another
//! tuple: the heap must physically delete only once nothing (index entry,
//! undo record, snapshot) can still refer to the old tuple id; a
//! transaction's own delete is a mark in the tuple until then. Recovery
//! re-creates a tuple at its logged slot with [`SlottedPage::insert_at`].
//!
//! # Invariants
//!
//! [`SlottedPage::validate`] checks these on every body from disk; every
//! mutation keeps them, and re-checks them in debug builds:
//!
//! 1. `4 + 4 * slot_count <= data_start <= len <= MAX_BODY_SIZE`.
//! 2. Every slot is a tombstone `(0, 0)` or live with
//!    `data_start <= offset` and `offset + length <= len`.
//! 3. Live tuples do not overlap.
//! 4. The last slot is live: trailing tombstones are trimmed, so
//!    `slot_count` is one more than the highest live slot.
//!
//! # Space
//!
//! Deleting or shrinking a tuple leaves a gap among the tuple data; such gaps
//! count as free space, and [`SlottedPage::insert`] and
//! [`SlottedPage::update`] compact the page on demand to use them, so callers
//! never need to. Freed bytes are zeroed: deleted data does not linger on
//! disk, and the same contents give the same page image.

use std::cmp::Reverse;
use std::fmt;

use crate::error::{Error, Result};
use crate::storage::page::PAGE_BODY_SIZE;

/// Bytes of the slotted header: slot count and data start.
pub const SLOTTED_HEADER_SIZE: usize = 4;
/// Bytes of one directory entry: offset and length.
pub const SLOT_SIZE: usize = 4;
/// Largest body a slotted layout can address with `u16` offsets.
pub const MAX_BODY_SIZE: usize = u16::MAX as usize;
/// Largest tuple that fits a page body (an empty page with one slot); larger
/// values must be split over overflow pages by the caller.
pub const MAX_TUPLE_SIZE: usize = PAGE_BODY_SIZE - SLOTTED_HEADER_SIZE - SLOT_SIZE;
/// Most slots a page body can hold (all of them empty tuples).
pub const MAX_SLOT_COUNT: usize = (PAGE_BODY_SIZE - SLOTTED_HEADER_SIZE) / SLOT_SIZE;

const SLOT_COUNT_OFFSET: usize = 0;
const DATA_START_OFFSET: usize = 2;

const _: () = assert!(PAGE_BODY_SIZE <= MAX_BODY_SIZE);

/// A tuple's slot number within its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SlotId(pub u16);

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}", self.0)
    }
}

/// One directory entry, widened to `usize` for arithmetic without overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    offset: usize,
    length: usize,
}

impl Slot {
    const TOMBSTONE: Slot = Slot { offset: 0, length: 0 };

    fn is_live(self) -> bool {
        self.offset != 0
    }

    fn end(self) -> usize {
        self.offset + self.length
    }
}

fn slot_position(index: usize) -> usize {
    SLOTTED_HEADER_SIZE + index * SLOT_SIZE
}

/// Reads a `u16` without trusting `at`: `None` past the end.
fn read_u16(bytes: &[u8], at: usize) -> Option<usize> {
    let chunk = bytes.get(at..)?.first_chunk::<2>()?;
    Some(usize::from(u16::from_le_bytes(*chunk)))
}

fn read_slot(bytes: &[u8], index: usize) -> Option<Slot> {
    let at = slot_position(index);
    Some(Slot { offset: read_u16(bytes, at)?, length: read_u16(bytes, at + 2)? })
}

/// Writes a value the body's length bound keeps within `u16`.
fn write_u16(bytes: &mut [u8], at: usize, value: usize) {
    let value = u16::try_from(value).expect("offsets and counts in a body of at most u16::MAX bytes fit u16");
    bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn corrupt(reason: String) -> Error {
    Error::Corrupt(format!("slotted page: {reason}"))
}

/// Checks invariants 1 to 4 of the module doc without trusting any byte.
fn validate_body(body: &[u8]) -> Result<()> {
    let len = body.len();
    if !(SLOTTED_HEADER_SIZE..=MAX_BODY_SIZE).contains(&len) {
        return Err(corrupt(format!("body is {len} bytes, expected {SLOTTED_HEADER_SIZE} to {MAX_BODY_SIZE}")));
    }
    let (Some(slot_count), Some(data_start)) = (read_u16(body, SLOT_COUNT_OFFSET), read_u16(body, DATA_START_OFFSET))
    else {
        return Err(corrupt("header does not fit the body".to_owned()));
    };
    let directory_end = slot_position(slot_count);
    if directory_end > data_start || data_start > len {
        return Err(corrupt(format!(
            "{slot_count} slots end at byte {directory_end}, data starts at {data_start}, body is {len} bytes"
        )));
    }
    let mut extents = Vec::with_capacity(slot_count);
    for index in 0..slot_count {
        let slot = read_slot(body, index).ok_or_else(|| corrupt(format!("slot {index} past the body")))?;
        if !slot.is_live() {
            if slot.length != 0 {
                return Err(corrupt(format!("tombstone slot {index} has length {}", slot.length)));
            }
            continue;
        }
        if slot.offset < data_start || slot.end() > len {
            return Err(corrupt(format!(
                "slot {index} holds bytes {}..{} outside the data area {data_start}..{len}",
                slot.offset,
                slot.end()
            )));
        }
        extents.push((slot, index));
    }
    if slot_count > 0 && extents.last().is_none_or(|&(_, index)| index != slot_count - 1) {
        return Err(corrupt(format!("last slot {} is a tombstone", slot_count - 1)));
    }
    check_no_overlap(extents)
}

fn check_no_overlap(mut extents: Vec<(Slot, usize)>) -> Result<()> {
    // Empty tuples occupy nothing, so they cannot overlap anything.
    extents.retain(|(slot, _)| slot.length > 0);
    extents.sort_unstable_by_key(|(slot, _)| slot.offset);
    for pair in extents.windows(2) {
        if let [(first, first_index), (second, second_index)] = pair
            && first.end() > second.offset
        {
            return Err(corrupt(format!(
                "slot {first_index} (bytes {}..{}) overlaps slot {second_index} (bytes {}..{})",
                first.offset,
                first.end(),
                second.offset,
                second.end()
            )));
        }
    }
    Ok(())
}

/// A slotted layout over a page body `B`: `&[u8]` to read, `&mut [u8]` (such
/// as [`super::page::Page::body_mut`]) or `Vec<u8>` to change.
///
/// The body is only reachable through this type while it is wrapped, so the
/// invariants checked by [`SlottedPage::open`] or set up by
/// [`SlottedPage::init`] hold for its whole life.
pub struct SlottedPage<B> {
    body: B,
}

impl SlottedPage<&[u8]> {
    /// Checks a body read from disk; a bad directory is [`Error::Corrupt`],
    /// never a panic. The caller, which knows the file and page, reports it
    /// as [`Error::CorruptPage`].
    pub fn validate(body: &[u8]) -> Result<()> {
        validate_body(body)
    }
}

impl<B: AsRef<[u8]>> SlottedPage<B> {
    /// Wraps a body after [`SlottedPage::validate`] accepts it.
    pub fn open(body: B) -> Result<Self> {
        validate_body(body.as_ref())?;
        Ok(SlottedPage { body })
    }

    /// Gives the body back.
    pub fn into_inner(self) -> B {
        self.body
    }

    /// Directory entries, live and tombstoned: one more than the highest live slot.
    pub fn slot_count(&self) -> usize {
        self.u16_at(SLOT_COUNT_OFFSET)
    }

    /// Number of live tuples.
    pub fn live_count(&self) -> usize {
        self.live_slots().count()
    }

    /// The tuple in `slot`, or `None` if the slot is a tombstone or beyond the directory.
    pub fn get(&self, slot: SlotId) -> Option<&[u8]> {
        let slot = self.live_slot(usize::from(slot.0))?;
        self.bytes().get(slot.offset..slot.end())
    }

    /// Live tuples in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (SlotId, &[u8])> {
        (0..self.slot_count()).filter_map(|index| {
            let slot = SlotId(u16::try_from(index).ok()?);
            Some((slot, self.get(slot)?))
        })
    }

    /// The slot [`SlottedPage::insert`] would fill next: the lowest tombstone,
    /// else a new one.
    pub fn next_slot(&self) -> SlotId {
        SlotId(u16::try_from(self.first_free_index()).expect("slot count fits u16"))
    }

    /// Size of the largest tuple [`SlottedPage::insert`] accepts now, counting
    /// the directory entry it may need and space compaction would recover.
    /// Zero also when not even an empty tuple fits.
    pub fn free_space(&self) -> usize {
        let slot_count_after = self.slot_count().max(self.first_free_index() + 1);
        self.len().saturating_sub(slot_position(slot_count_after) + self.live_bytes())
    }

    fn bytes(&self) -> &[u8] {
        self.body.as_ref()
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }

    /// A header or directory field; in range by invariant 1.
    fn u16_at(&self, at: usize) -> usize {
        let bytes = self.bytes();
        usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
    }

    fn data_start(&self) -> usize {
        self.u16_at(DATA_START_OFFSET)
    }

    /// Directory entry `index`; the caller keeps `index < slot_count`.
    fn slot(&self, index: usize) -> Slot {
        let at = slot_position(index);
        Slot { offset: self.u16_at(at), length: self.u16_at(at + 2) }
    }

    fn live_slot(&self, index: usize) -> Option<Slot> {
        if index >= self.slot_count() {
            return None;
        }
        Some(self.slot(index)).filter(|slot| slot.is_live())
    }

    fn live_slots(&self) -> impl Iterator<Item = (usize, Slot)> {
        (0..self.slot_count()).map(|index| (index, self.slot(index))).filter(|(_, slot)| slot.is_live())
    }

    fn live_bytes(&self) -> usize {
        self.live_slots().map(|(_, slot)| slot.length).sum()
    }

    /// The slot the next insert takes: the lowest tombstone, else a new one.
    fn first_free_index(&self) -> usize {
        (0..self.slot_count()).find(|&index| !self.slot(index).is_live()).unwrap_or(self.slot_count())
    }

    /// The pair assertion to [`SlottedPage::validate`]: what every mutation
    /// leaves behind is what the reader accepts.
    fn debug_assert_valid(&self) {
        debug_assert_eq!(validate_body(self.bytes()), Ok(()), "slotted page invariant broken");
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> SlottedPage<B> {
    /// Formats `body` as an empty slotted page, zeroing it.
    ///
    /// # Panics
    ///
    /// If the body is shorter than the header or longer than [`MAX_BODY_SIZE`]:
    /// bodies come from the engine's own page layouts, not from disk.
    pub fn init(mut body: B) -> Self {
        let bytes = body.as_mut();
        let len = bytes.len();
        assert!((SLOTTED_HEADER_SIZE..=MAX_BODY_SIZE).contains(&len), "slotted body of {len} bytes");
        bytes.fill(0);
        write_u16(bytes, DATA_START_OFFSET, len);
        let page = SlottedPage { body };
        page.debug_assert_valid();
        page
    }

    /// Stores `data` as a new tuple in the lowest free slot, compacting if the
    /// free gap is fragmented; `None` if it does not fit (see [`SlottedPage::free_space`]).
    pub fn insert(&mut self, data: &[u8]) -> Option<SlotId> {
        let index = self.first_free_index();
        let slot = SlotId(u16::try_from(index).ok()?);
        self.store(index, data).then_some(slot)
    }

    /// Stores `data` at exactly `slot`, which must be a tombstone or beyond
    /// the directory (which then grows with tombstones up to it). Recovery
    /// uses it to redo an insert or undo a delete at the logged slot. `false`
    /// if the slot is live or the tuple does not fit.
    pub fn insert_at(&mut self, slot: SlotId, data: &[u8]) -> bool {
        let index = usize::from(slot.0);
        if self.live_slot(index).is_some() {
            return false;
        }
        self.store(index, data)
    }

    /// Turns a live slot into a tombstone and zeroes its bytes; `false` if the
    /// slot is not live. Other slots keep their numbers.
    pub fn delete(&mut self, slot: SlotId) -> bool {
        let index = usize::from(slot.0);
        let Some(old) = self.live_slot(index) else {
            return false;
        };
        self.zero(old.offset, old.end());
        self.write_slot(index, Slot::TOMBSTONE);
        let mut slot_count = self.slot_count();
        while slot_count > 0 && !self.slot(slot_count - 1).is_live() {
            slot_count -= 1;
        }
        write_u16(self.body.as_mut(), SLOT_COUNT_OFFSET, slot_count);
        self.debug_assert_valid();
        true
    }

    /// Replaces the tuple in a live slot, keeping its slot number: in place
    /// when the new value is no longer, else moved (compacting if needed).
    /// `false`, with the page unchanged, if the slot is not live or the new
    /// value does not fit even after compaction.
    pub fn update(&mut self, slot: SlotId, data: &[u8]) -> bool {
        let index = usize::from(slot.0);
        let Some(old) = self.live_slot(index) else {
            return false;
        };
        if data.len() <= old.length {
            let new_end = old.offset + data.len();
            self.body.as_mut()[old.offset..new_end].copy_from_slice(data);
            self.zero(new_end, old.end());
            self.write_slot(index, Slot { offset: old.offset, length: data.len() });
            self.debug_assert_valid();
            return true;
        }
        let directory_end = slot_position(self.slot_count());
        if directory_end + self.live_bytes() - old.length + data.len() > self.len() {
            return false;
        }
        // Release the old bytes before compacting so compaction reclaims
        // them; an empty tuple at data start is live and occupies nothing.
        self.zero(old.offset, old.end());
        self.write_slot(index, Slot { offset: self.data_start(), length: 0 });
        let offset = self.make_room(directory_end, data.len());
        self.put_tuple(index, offset, data);
        true
    }

    /// Moves all live tuples to the back of the body, in place and keeping
    /// their slots, so all free space is one gap; zeroes the gap.
    pub fn compact(&mut self) {
        let mut live: Vec<(usize, Slot)> = self.live_slots().collect();
        // Moving the highest tuple first never overwrites one not yet moved:
        // the tuples above a tuple fit in the space above it. Empty tuples
        // copy nothing, so where they fall in the order does not matter.
        live.sort_unstable_by_key(|(_, slot)| Reverse(slot.end()));
        let mut cursor = self.len();
        for (index, slot) in live {
            let offset = cursor - slot.length;
            debug_assert!(slot.length == 0 || offset >= slot.offset, "compaction moves tuples only towards the end");
            self.body.as_mut().copy_within(slot.offset..slot.end(), offset);
            self.write_slot(index, Slot { offset, length: slot.length });
            cursor = offset;
        }
        self.zero(slot_position(self.slot_count()), cursor);
        write_u16(self.body.as_mut(), DATA_START_OFFSET, cursor);
        self.debug_assert_valid();
    }

    /// Puts `data` in the non-live slot `index`, growing the directory up to
    /// it; `false`, with the page unchanged, if it does not fit.
    fn store(&mut self, index: usize, data: &[u8]) -> bool {
        let slot_count = self.slot_count();
        let slot_count_after = slot_count.max(index + 1);
        let directory_end_after = slot_position(slot_count_after);
        if directory_end_after + self.live_bytes() + data.len() > self.len() {
            return false;
        }
        let offset = self.make_room(directory_end_after, data.len());
        for new_index in slot_count..slot_count_after {
            self.write_slot(new_index, Slot::TOMBSTONE);
        }
        write_u16(self.body.as_mut(), SLOT_COUNT_OFFSET, slot_count_after);
        self.put_tuple(index, offset, data);
        true
    }

    /// Where a tuple of `length` bytes goes so the free gap still holds a
    /// directory ending at `directory_end_after`; compacts if the gap is too
    /// small. The caller has checked that the total free space suffices.
    fn make_room(&mut self, directory_end_after: usize, length: usize) -> usize {
        if directory_end_after + length > self.data_start() {
            self.compact();
        }
        let data_start = self.data_start();
        assert!(directory_end_after + length <= data_start, "caller checked that the tuple fits");
        data_start - length
    }

    fn put_tuple(&mut self, index: usize, offset: usize, data: &[u8]) {
        self.body.as_mut()[offset..offset + data.len()].copy_from_slice(data);
        write_u16(self.body.as_mut(), DATA_START_OFFSET, offset);
        self.write_slot(index, Slot { offset, length: data.len() });
        self.debug_assert_valid();
    }

    fn write_slot(&mut self, index: usize, slot: Slot) {
        let at = slot_position(index);
        let bytes = self.body.as_mut();
        write_u16(bytes, at, slot.offset);
        write_u16(bytes, at + 2, slot.length);
    }

    fn zero(&mut self, start: usize, end: usize) {
        self.body.as_mut()[start..end].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;
    use crate::storage::PageId;
    use crate::storage::page::{Page, PageType};

    fn empty(len: usize) -> SlottedPage<Vec<u8>> {
        SlottedPage::init(vec![0xaa; len])
    }

    fn corrupt_reason(body: &[u8]) -> String {
        match SlottedPage::validate(body) {
            Err(Error::Corrupt(reason)) => reason,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    /// A body with the given header and slots, data bytes zero.
    fn raw_body(len: usize, data_start: usize, slots: &[(usize, usize)]) -> Vec<u8> {
        let mut body = vec![0; len];
        write_u16(&mut body, SLOT_COUNT_OFFSET, slots.len());
        write_u16(&mut body, DATA_START_OFFSET, data_start);
        for (index, &(offset, length)) in slots.iter().enumerate() {
            write_u16(&mut body, slot_position(index), offset);
            write_u16(&mut body, slot_position(index) + 2, length);
        }
        body
    }

    #[test]
    fn init_gives_an_empty_valid_page() {
        let page = empty(PAGE_BODY_SIZE);
        assert_eq!(page.slot_count(), 0);
        assert_eq!(page.live_count(), 0);
        assert_eq!(page.free_space(), MAX_TUPLE_SIZE);
        assert_eq!(page.get(SlotId(0)), None);
        assert!(page.body[SLOTTED_HEADER_SIZE..].iter().all(|&byte| byte == 0));
        SlottedPage::validate(&page.body).unwrap();
    }

    #[test]
    fn delete_keeps_other_slot_numbers_and_insert_reuses_lowest_tombstone() {
        let mut page = empty(PAGE_BODY_SIZE);
        let ids: Vec<SlotId> = [b"a", b"b", b"c", b"d"].iter().map(|data| page.insert(*data).unwrap()).collect();
        assert_eq!(ids, [SlotId(0), SlotId(1), SlotId(2), SlotId(3)]);
        assert!(page.delete(SlotId(1)) && page.delete(SlotId(2)));
        assert!(!page.delete(SlotId(2)), "already deleted");
        assert_eq!(page.get(SlotId(3)), Some(&b"d"[..]));
        assert_eq!(page.slot_count(), 4);
        assert_eq!(page.insert(b"e"), Some(SlotId(1)));
        let live: Vec<(SlotId, &[u8])> = page.iter().collect();
        assert_eq!(live, [(SlotId(0), &b"a"[..]), (SlotId(1), &b"e"[..]), (SlotId(3), &b"d"[..])]);
    }

    #[test]
    fn deleting_the_last_slots_trims_the_directory() {
        let mut page = empty(PAGE_BODY_SIZE);
        for data in [b"a", b"b", b"c"] {
            page.insert(data).unwrap();
        }
        assert!(page.delete(SlotId(1)));
        assert!(page.delete(SlotId(2)));
        assert_eq!(page.slot_count(), 1);
        assert_eq!(page.insert(b"x"), Some(SlotId(1)));
    }

    #[test]
    fn max_tuple_fits_an_empty_page_and_one_more_byte_does_not() {
        let mut page = empty(PAGE_BODY_SIZE);
        assert_eq!(page.insert(&vec![7; MAX_TUPLE_SIZE + 1]), None);
        assert_eq!(page.insert(&vec![7; MAX_TUPLE_SIZE]), Some(SlotId(0)));
        assert_eq!(page.free_space(), 0);
        assert_eq!(page.insert(b""), None, "no room for another directory entry");
    }

    #[test]
    fn update_grows_by_compacting_and_refuses_what_cannot_fit() {
        let mut page = empty(64);
        let a = page.insert(&[1; 20]).unwrap();
        let b = page.insert(&[2; 20]).unwrap();
        assert!(page.update(a, &[3; 5]), "shrinking is in place");
        assert_eq!(page.free_space(), 64 - 4 - 2 * 4 - 25 - 4);
        // 64 - 12 (header, 2 slots) - 20 (b) = 32 bytes reachable only by compacting.
        assert!(page.update(a, &[4; 32]));
        assert_eq!(page.get(a), Some(&[4; 32][..]));
        assert_eq!(page.get(b), Some(&[2; 20][..]));
        assert!(!page.update(a, &[5; 33]));
        assert_eq!(page.get(a), Some(&[4; 32][..]), "failed update leaves the tuple");
        assert!(!page.update(SlotId(9), b"x"));
    }

    #[test]
    fn insert_at_restores_tombstones_and_grows_the_directory() {
        let mut page = empty(PAGE_BODY_SIZE);
        page.insert(b"a").unwrap();
        page.insert(b"b").unwrap();
        assert!(page.delete(SlotId(0)));
        assert!(!page.insert_at(SlotId(1), b"x"), "slot 1 is live");
        assert!(page.insert_at(SlotId(0), b"a2"));
        assert!(page.insert_at(SlotId(5), b"f"));
        assert_eq!(page.slot_count(), 6);
        assert_eq!(page.get(SlotId(3)), None);
        assert_eq!(page.insert(b"c"), Some(SlotId(2)));
        assert!(!page.insert_at(SlotId(u16::MAX), b"far"), "directory would not fit");
    }

    #[test]
    fn works_over_a_page_body_through_seal_and_read() {
        let mut page = Page::new(PageId(5), PageType::Heap);
        let mut slotted = SlottedPage::init(page.body_mut());
        let slot = slotted.insert(b"hello").unwrap();
        let bytes = page.seal().to_vec();
        let read = Page::from_written_bytes(&bytes, "heap.db", PageId(5)).unwrap();
        let slotted = SlottedPage::open(read.body()).unwrap();
        assert_eq!(slotted.get(slot), Some(&b"hello"[..]));
    }

    #[test]
    fn validate_rejects_each_broken_invariant() {
        let cases = [
            (vec![0; 3], "body is 3 bytes"),
            (raw_body(64, 4, &[(60, 4)]), "data starts at 4"),
            (raw_body(64, 70, &[]), "data starts at 70"),
            (raw_body(64, 40, &[(30, 4)]), "outside the data area"),
            (raw_body(64, 40, &[(60, 5)]), "outside the data area"),
            (raw_body(64, 40, &[(0, 3), (60, 4)]), "tombstone slot 0 has length 3"),
            (raw_body(64, 40, &[(60, 4), (0, 0)]), "last slot 1 is a tombstone"),
            (raw_body(64, 40, &[(50, 10), (55, 9)]), "overlaps"),
        ];
        for (body, expected) in cases {
            let reason = corrupt_reason(&body);
            assert!(reason.contains(expected), "{reason} lacks {expected}");
        }
        SlottedPage::validate(&raw_body(64, 40, &[(50, 10), (60, 0), (60, 4), (0, 0), (40, 0)])).unwrap();
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>),
        InsertAt(u16, Vec<u8>),
        Delete(u16),
        Update(u16, Vec<u8>),
        Compact,
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Inserted(Option<SlotId>),
        Done(bool),
        Compacted,
    }

    /// What the page should hold: live tuples by slot, nothing else.
    struct Model {
        body_len: usize,
        tuples: BTreeMap<usize, Vec<u8>>,
    }

    impl Model {
        fn slot_count(&self) -> usize {
            self.tuples.keys().next_back().map_or(0, |&index| index + 1)
        }

        fn live_bytes(&self) -> usize {
            self.tuples.values().map(Vec::len).sum()
        }

        fn first_free(&self) -> usize {
            (0..).find(|index| !self.tuples.contains_key(index)).unwrap()
        }

        fn fits(&self, slot_count_after: usize, live_bytes_after: usize) -> bool {
            slot_position(slot_count_after) + live_bytes_after <= self.body_len
        }

        fn free_space(&self) -> usize {
            let slot_count_after = self.slot_count().max(self.first_free() + 1);
            self.body_len.saturating_sub(slot_position(slot_count_after) + self.live_bytes())
        }

        fn store(&mut self, index: usize, data: &[u8]) -> bool {
            let fits = !self.tuples.contains_key(&index)
                && self.fits(self.slot_count().max(index + 1), self.live_bytes() + data.len());
            if fits {
                self.tuples.insert(index, data.to_vec());
            }
            fits
        }

        fn apply(&mut self, op: &Op) -> Outcome {
            match op {
                Op::Insert(data) => {
                    let index = self.first_free();
                    Outcome::Inserted(self.store(index, data).then(|| SlotId(u16::try_from(index).unwrap())))
                }
                Op::InsertAt(slot, data) => Outcome::Done(self.store(usize::from(*slot), data)),
                Op::Delete(slot) => Outcome::Done(self.tuples.remove(&usize::from(*slot)).is_some()),
                Op::Update(slot, data) => {
                    let index = usize::from(*slot);
                    let Some(old_length) = self.tuples.get(&index).map(Vec::len) else {
                        return Outcome::Done(false);
                    };
                    let fits = self.fits(self.slot_count(), self.live_bytes() - old_length + data.len());
                    if fits {
                        self.tuples.insert(index, data.clone());
                    }
                    Outcome::Done(fits)
                }
                Op::Compact => Outcome::Compacted,
            }
        }
    }

    fn apply(page: &mut SlottedPage<Vec<u8>>, op: &Op) -> Outcome {
        match op {
            Op::Insert(data) => Outcome::Inserted(page.insert(data)),
            Op::InsertAt(slot, data) => Outcome::Done(page.insert_at(SlotId(*slot), data)),
            Op::Delete(slot) => Outcome::Done(page.delete(SlotId(*slot))),
            Op::Update(slot, data) => Outcome::Done(page.update(SlotId(*slot), data)),
            Op::Compact => {
                page.compact();
                Outcome::Compacted
            }
        }
    }

    fn check_against_model(page: &SlottedPage<Vec<u8>>, model: &Model) -> Result<(), TestCaseError> {
        SlottedPage::validate(&page.body).map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(page.slot_count(), model.slot_count());
        prop_assert_eq!(page.live_count(), model.tuples.len());
        for index in 0..model.slot_count() + 2 {
            let slot = SlotId(u16::try_from(index).unwrap());
            prop_assert_eq!(page.get(slot), model.tuples.get(&index).map(Vec::as_slice), "{}", slot);
        }
        let live: Vec<(usize, Vec<u8>)> =
            page.iter().map(|(slot, data)| (usize::from(slot.0), data.to_vec())).collect();
        let expected: Vec<(usize, Vec<u8>)> = model.tuples.clone().into_iter().collect();
        prop_assert_eq!(live, expected);
        // Free space is exact: that many bytes insert (unless not even a
        // directory entry fits), one more does not.
        let free_space = page.free_space();
        prop_assert_eq!(free_space, model.free_space());
        let mut copy = SlottedPage::open(page.body.clone()).unwrap();
        let slot_count_after = model.slot_count().max(model.first_free() + 1);
        let entry_fits = model.fits(slot_count_after, model.live_bytes());
        prop_assert_eq!(copy.insert(&vec![0x33; free_space]).is_some(), entry_fits);
        let mut copy = SlottedPage::open(page.body.clone()).unwrap();
        prop_assert!(copy.insert(&vec![0x33; free_space + 1]).is_none());
        prop_assert_eq!(copy.body, page.body.clone(), "a refused insert changes nothing");
        Ok(())
    }

    fn run_against_model(body_len: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut page = empty(body_len);
        let mut model = Model { body_len, tuples: BTreeMap::new() };
        for op in &ops {
            let expected = model.apply(op);
            prop_assert_eq!(apply(&mut page, op), expected, "{:?}", op);
            check_against_model(&page, &model)?;
        }
        Ok(())
    }

    fn op(tuple_length_max: usize, slot_max: u16) -> impl Strategy<Value = Op> {
        let data = || vec(any::<u8>(), 0..=tuple_length_max);
        let slot = move || prop_oneof![9 => 0..slot_max, 1 => any::<u16>()];
        prop_oneof![
            4 => data().prop_map(Op::Insert),
            1 => (slot(), data()).prop_map(|(slot, data)| Op::InsertAt(slot, data)),
            2 => slot().prop_map(Op::Delete),
            2 => (slot(), data()).prop_map(|(slot, data)| Op::Update(slot, data)),
            1 => Just(Op::Compact),
        ]
    }

    /// Header, up to 8 slots pointing anywhere, random data: often invalid,
    /// sometimes valid in unusual ways.
    fn plausible_body() -> impl Strategy<Value = Vec<u8>> {
        (SLOTTED_HEADER_SIZE..=256usize)
            .prop_flat_map(|len| {
                let slot = prop_oneof![Just((0, 0)), (0..=len, 0..=16usize)];
                (vec(any::<u8>(), len), 0..=len, vec(slot, 0..8))
            })
            .prop_map(|(mut body, data_start, slots)| {
                let slot_count = slots.len().min((body.len() - SLOTTED_HEADER_SIZE) / SLOT_SIZE);
                write_u16(&mut body, SLOT_COUNT_OFFSET, slot_count);
                write_u16(&mut body, DATA_START_OFFSET, data_start);
                for (index, &(offset, length)) in slots.iter().take(slot_count).enumerate() {
                    write_u16(&mut body, slot_position(index), offset);
                    write_u16(&mut body, slot_position(index) + 2, length);
                }
                body
            })
    }

    /// Reads never panic; a body `validate` accepts stays valid under changes.
    fn exercise(body: Vec<u8>) -> Result<(), TestCaseError> {
        let valid = SlottedPage::validate(&body).is_ok();
        let Ok(mut page) = SlottedPage::open(body) else {
            prop_assert!(!valid);
            return Ok(());
        };
        prop_assert!(valid);
        for index in 0..=page.slot_count() + 1 {
            let _ = page.get(SlotId(u16::try_from(index).unwrap()));
        }
        prop_assert_eq!(page.iter().count(), page.live_count());
        let _ = page.free_space();
        let first_live = page.iter().next().map(|(slot, _)| slot);
        page.insert(b"new tuple");
        if let Some(slot) = first_live {
            page.update(slot, &[9; 12]);
            page.delete(slot);
            page.insert_at(slot, b"back");
        }
        page.compact();
        SlottedPage::validate(&page.body).map_err(|error| TestCaseError::fail(error.to_string()))?;
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_model_on_a_page_body(ops in vec(op(400, 24), 1..150)) {
            run_against_model(PAGE_BODY_SIZE, ops)?;
        }

        #[test]
        fn matches_model_on_tiny_bodies(body_len in SLOTTED_HEADER_SIZE..=96usize, ops in vec(op(24, 12), 1..150)) {
            run_against_model(body_len, ops)?;
        }

        #[test]
        fn matches_model_with_near_maximum_tuples(
            ops in vec(op(MAX_TUPLE_SIZE + 2, 4), 1..20)
        ) {
            run_against_model(PAGE_BODY_SIZE, ops)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..600)) {
            exercise(body)?;
        }

        #[test]
        fn plausible_bodies_never_panic(body in plausible_body()) {
            exercise(body)?;
        }
    }
}
