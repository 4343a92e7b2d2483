//! The B+Tree node: an ordered array of (key, value) entries in a page body,
//! as pure functions over the body's bytes.
//!
//! This module owns the layout of a B+Tree page's body ([`crate::storage::page::Page::body_mut`])
//! and nothing else: the page header (page id, LSN, [`PageType::BTreeLeaf`] or
//! [`PageType::BTreeInternal`]) belongs to the page, and what keys mean, when
//! to split or merge, and which entry goes where belong to the tree.
//!
//! [`PageType::BTreeLeaf`]: crate::storage::page::PageType::BTreeLeaf
//! [`PageType::BTreeInternal`]: crate::storage::page::PageType::BTreeInternal
//!
//! # Layout
//!
//! A fixed header, then the offset array growing from the front, then entry
//! bytes packed against the back with entry 0 last:
//!
//! ```text
//! 0        24      24 + 2 * count               data_start                          len
//! +--------+-------+-------+----+---------------+-----------+-----+---------+---------+
//! | header | off 0 | off 1 | .. |  free gap (0) | entry n-1 | ... | entry 1 | entry 0 |
//! +--------+-------+-------+----+---------------+-----------+-----+---------+---------+
//! ```
//!
//! All integers are little-endian, which with `u16` offsets bounds a body to
//! [`MAX_BODY_SIZE`] bytes.
//!
//! | Offset     | Size | Field                                                           |
//! |-----------:|-----:|-----------------------------------------------------------------|
//! |          0 |    2 | level: 0 for a leaf, else the height above the leaves           |
//! |          2 |    2 | entry count                                                     |
//! |          4 |    2 | data start: lowest byte of entry data; the body length if empty |
//! |          6 |    2 | reserved, zero                                                  |
//! |          8 |    8 | right sibling page id, [`NO_PAGE`] for none                     |
//! |         16 |    8 | leftmost child page id, [`NO_PAGE`] in leaves                   |
//! | 24 + 2 * i |    2 | offset of entry `i` in the body                                 |
//!
//! Leaves chain through their right siblings from left to right for range
//! scans. An internal node's leftmost child holds the keys below its entry 0's key.
//!
//! The offset array is in key order: entry `i` is the `i`-th smallest. An
//! entry's length is not stored: entry `i` ends where entry `i - 1` starts,
//! and entry 0 ends at the end of the body. An entry is
//!
//! | Offset  | Size | Field                                                        |
//! |--------:|-----:|--------------------------------------------------------------|
//! |       0 |    2 | key length `k`                                               |
//! |       2 |  `k` | key                                                          |
//! | `2 + k` | rest | value: a leaf's payload, an internal node's child id (`u64`) |
//!
//! In an internal node, entry `i` with key `s` and child `c` says: keys from
//! `s` up to the next entry's key live under `c`; keys below entry 0's key
//! live under the leftmost child.
//!
//! # Invariants
//!
//! [`validate`] checks these on every body read from disk; every apply
//! function keeps them, refusing with [`Error::Corrupt`] (and leaving the body
//! untouched) an op that would break them:
//!
//! 1. `24 <= 24 + 2 * count <= data_start <= len <= MAX_BODY_SIZE`.
//! 2. The entries tile `data_start..len` in reverse index order, with no gaps,
//!    and each is at least the 2 bytes of its key length.
//! 3. Each entry is at most [`MAX_ENTRY_BYTES`] and its key fits inside it.
//! 4. (key, value) pairs strictly increase with the index, comparing key
//!    bytes first, then value bytes; so keys never decrease. A unique tree
//!    never stores two equal keys; a non-unique one stores duplicates with
//!    distinct values. In an internal node the value is a child id, so
//!    separators with equal keys would need increasing child ids: the tree
//!    should make separators distinct (for a non-unique tree, from the whole
//!    (key, value) of the leaf entry).
//! 5. The reserved field and the free gap are all zero.
//!
//! `validate` does not relate the level to the page type or the leftmost
//! child: the tree changes those with separate logged writes, and a node may
//! be written to disk between them.
//!
//! # Determinism
//!
//! Redo and undo apply the same functions as forward processing and must
//! reproduce its bytes, so the layout is canonical: a node's bytes are a
//! function of its header fields and its list of entries alone (invariants 2
//! and 5), because entries are always packed in index order and freed bytes
//! are always zeroed. Each op is a pure function of the body and its
//! arguments, and an op followed by its inverse
//! ([`crate::wal::record::PageOp::undo`]) therefore restores the body byte
//! for byte, whatever order the entries arrived in. The price is a memmove of
//! the entries after the insertion or deletion point, at most one body.
//!
//! Entry ops change only the entry count, data start, offset array and entry
//! bytes. Level, right sibling and leftmost child change only through
//! [`crate::wal::record::PageOp::WriteBytes`] at the offsets that
//! [`level_field`], [`right_sibling_field`] and [`leftmost_child_field`] give.
//!
//! # Size limit
//!
//! An entry is at most [`MAX_ENTRY_BYTES`] (1001) bytes, so that an empty
//! page body holds [`MIN_ENTRIES_PER_NODE`] (4) of them with their offsets.
//! Then a full node plus the entry that did not fit (at most five entries'
//! worth) always divides into two non-empty halves that each fit a node:
//! cutting where the left half first reaches half of the total leaves each
//! side at most half the total plus one entry (3511 of a node's 4012 bytes).
//! So a split always makes progress. The apply functions refuse larger entries
//! and [`validate`] rejects them. Keys should be at most [`MAX_KEY_BYTES`],
//! so that any leaf key can be copied up as a separator with its 8-byte
//! child id.

use std::cmp::Ordering;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::storage::page::PAGE_BODY_SIZE;

/// Bytes of the node header.
pub const NODE_HEADER_SIZE: usize = 24;
/// Body offset of the level (`u16`).
pub const LEVEL_OFFSET: usize = 0;
/// Body offset of the entry count (`u16`).
pub const COUNT_OFFSET: usize = 2;
/// Body offset of the data start (`u16`).
pub const DATA_START_OFFSET: usize = 4;
/// Body offset of the reserved field (`u16`, zero).
pub const RESERVED_OFFSET: usize = 6;
/// Body offset of the right sibling page id (`u64`).
pub const RIGHT_SIBLING_OFFSET: usize = 8;
/// Body offset of the leftmost child page id (`u64`).
pub const LEFTMOST_CHILD_OFFSET: usize = 16;
/// Bytes of one entry offset in the offset array.
pub const OFFSET_SLOT_SIZE: usize = 2;
/// Bytes of the key length that starts every entry.
pub const KEY_LENGTH_SIZE: usize = 2;
/// Bytes of a child page id, an internal node's value.
pub const CHILD_SIZE: usize = 8;
/// The page id that means "no page" for right sibling and leftmost child.
pub const NO_PAGE: u64 = 0;
/// Largest body a node can address with `u16` offsets.
pub const MAX_BODY_SIZE: usize = u16::MAX as usize;
/// Fewest entries (of at most [`MAX_ENTRY_BYTES`]) that fit an empty page body.
pub const MIN_ENTRIES_PER_NODE: usize = 4;
/// Bytes for offsets and entries in an empty page body.
pub const NODE_CAPACITY_BYTES: usize = PAGE_BODY_SIZE - NODE_HEADER_SIZE;
/// Largest entry, key length and value included: [`MIN_ENTRIES_PER_NODE`] of
/// them and their offsets fill an empty page body.
pub const MAX_ENTRY_BYTES: usize = NODE_CAPACITY_BYTES / MIN_ENTRIES_PER_NODE - OFFSET_SLOT_SIZE;
/// Largest key: one whose separator (key and child id) is at most [`MAX_ENTRY_BYTES`].
pub const MAX_KEY_BYTES: usize = MAX_ENTRY_BYTES - KEY_LENGTH_SIZE - CHILD_SIZE;

const _: () = assert!(PAGE_BODY_SIZE <= MAX_BODY_SIZE);
const _: () = assert!(MIN_ENTRIES_PER_NODE * (MAX_ENTRY_BYTES + OFFSET_SLOT_SIZE) <= NODE_CAPACITY_BYTES);
const _: () = assert!(MAX_ENTRY_BYTES == 1001 && MAX_KEY_BYTES == 991);

/// The header fields of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeHeader {
    /// 0 for a leaf; an internal node's children are at `level - 1`.
    pub level: u16,
    /// Number of entries.
    pub count: usize,
    /// The next node to the right on the same level, [`NO_PAGE`] for none.
    pub right_sibling: u64,
    /// An internal node's child for keys below its first entry; [`NO_PAGE`] in leaves.
    pub leftmost_child: u64,
}

impl NodeHeader {
    /// Whether the node is a leaf (level 0).
    pub fn is_leaf(&self) -> bool {
        self.level == 0
    }
}

// ---------------------------------------------------------------------------
// Entries

/// Encodes an entry: key length, key, value.
///
/// # Panics
///
/// If the key is longer than `u16::MAX` bytes; the tree refuses keys longer
/// than [`MAX_KEY_BYTES`] before they get here.
pub fn encode_entry(key: &[u8], value: &[u8]) -> Vec<u8> {
    let key_length = u16::try_from(key.len()).expect("keys are bounded by MAX_KEY_BYTES");
    let mut entry = Vec::with_capacity(KEY_LENGTH_SIZE + key.len() + value.len());
    entry.extend_from_slice(&key_length.to_le_bytes());
    entry.extend_from_slice(key);
    entry.extend_from_slice(value);
    debug_assert_eq!(split_entry(&entry).ok(), Some((key, value)), "an encoded entry decodes to its parts");
    entry
}

/// The key of a well-formed entry (one [`validate_entry`] accepts, such as
/// any entry of a valid node).
///
/// # Panics
///
/// If the entry is malformed.
pub fn entry_key(entry: &[u8]) -> &[u8] {
    split_entry(entry).expect("entry is well-formed").0
}

/// The value of a well-formed entry.
///
/// # Panics
///
/// If the entry is malformed.
pub fn entry_value(entry: &[u8]) -> &[u8] {
    split_entry(entry).expect("entry is well-formed").1
}

/// Checks that `entry` is one a node may hold: at most [`MAX_ENTRY_BYTES`],
/// with a key length that fits it. Never panics.
pub fn validate_entry(entry: &[u8]) -> Result<()> {
    entry_problem(entry).map_or(Ok(()), |reason| Err(corrupt(reason)))
}

/// An internal node's value for child page `page`.
pub fn encode_child(page: u64) -> [u8; CHILD_SIZE] {
    page.to_le_bytes()
}

/// The child page id in an internal node's value; [`Error::Corrupt`] unless
/// the value is exactly [`CHILD_SIZE`] bytes.
pub fn decode_child(value: &[u8]) -> Result<u64> {
    let bytes: [u8; CHILD_SIZE] = value
        .try_into()
        .map_err(|_| corrupt(format!("child value is {} bytes, expected {CHILD_SIZE}", value.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Why `entry` is not one a node may hold, if it is not.
fn entry_problem(entry: &[u8]) -> Option<String> {
    if entry.len() > MAX_ENTRY_BYTES {
        return Some(format!("entry of {} bytes exceeds {MAX_ENTRY_BYTES}", entry.len()));
    }
    split_entry(entry).err()
}

/// Splits an entry into key and value without trusting its bytes.
fn split_entry(entry: &[u8]) -> std::result::Result<(&[u8], &[u8]), String> {
    let Some(key_length) = read_u16(entry, 0) else {
        return Err(format!("entry of {} bytes has no key length", entry.len()));
    };
    let rest = &entry[KEY_LENGTH_SIZE..];
    if key_length > rest.len() {
        return Err(format!("key of {key_length} bytes overruns its {}-byte entry", entry.len()));
    }
    Ok(rest.split_at(key_length))
}

/// Orders well-formed entries by (key, value).
fn entry_order(first: &[u8], second: &[u8]) -> Ordering {
    let (first_key, first_value) = split_entry(first).expect("entry is well-formed");
    let (second_key, second_value) = split_entry(second).expect("entry is well-formed");
    compare_keys(first_key, second_key).then_with(|| first_value.cmp(second_value))
}

// ---------------------------------------------------------------------------
// Header fields

/// The body offset and bytes a `WriteBytes` writes to set the level.
pub fn level_field(level: u16) -> (usize, [u8; 2]) {
    (LEVEL_OFFSET, level.to_le_bytes())
}

/// The body offset and bytes a `WriteBytes` writes to set the right sibling.
pub fn right_sibling_field(page: u64) -> (usize, [u8; 8]) {
    (RIGHT_SIBLING_OFFSET, page.to_le_bytes())
}

/// The body offset and bytes a `WriteBytes` writes to set the leftmost child.
pub fn leftmost_child_field(page: u64) -> (usize, [u8; 8]) {
    (LEFTMOST_CHILD_OFFSET, page.to_le_bytes())
}

// ---------------------------------------------------------------------------
// Reading a valid node

/// The header of a node.
///
/// # Panics
///
/// If the body is shorter than [`NODE_HEADER_SIZE`].
pub fn header(body: &[u8]) -> NodeHeader {
    NodeHeader {
        level: u16::from_le_bytes([body[LEVEL_OFFSET], body[LEVEL_OFFSET + 1]]),
        count: u16_at(body, COUNT_OFFSET),
        right_sibling: u64_at(body, RIGHT_SIBLING_OFFSET),
        leftmost_child: u64_at(body, LEFTMOST_CHILD_OFFSET),
    }
}

/// Number of entries.
///
/// # Panics
///
/// If the body is shorter than [`NODE_HEADER_SIZE`].
pub fn count(body: &[u8]) -> usize {
    u16_at(body, COUNT_OFFSET)
}

/// Entry `index` of a valid node (one [`validate`] accepts).
///
/// # Panics
///
/// If `index >= count(body)`, or the body is not valid.
pub fn entry(body: &[u8], index: usize) -> &[u8] {
    assert!(index < count(body), "entry {index} of a node with {} entries", count(body));
    &body[entry_range(body, index)]
}

/// The key of entry `index` of a valid node.
///
/// # Panics
///
/// As [`entry`].
pub fn key_at(body: &[u8], index: usize) -> &[u8] {
    // Searches call this at every probe: read the key straight from its
    // length prefix rather than finding where the entry ends first.
    assert!(index < count(body), "key {index} of a node with {} entries", count(body));
    let start = u16_at(body, slot_position(index)) + KEY_LENGTH_SIZE;
    &body[start..start + u16_at(body, start - KEY_LENGTH_SIZE)]
}

/// The key and value of entry `index` of a valid node, found together.
///
/// # Panics
///
/// As [`entry`].
pub fn key_value_at(body: &[u8], index: usize) -> (&[u8], &[u8]) {
    assert!(index < count(body), "entry {index} of a node with {} entries", count(body));
    let start = u16_at(body, slot_position(index)) + KEY_LENGTH_SIZE;
    let key_end = start + u16_at(body, start - KEY_LENGTH_SIZE);
    (&body[start..key_end], &body[key_end..entry_end(body, index)])
}

/// The value of entry `index` of a valid node.
///
/// # Panics
///
/// As [`entry`].
pub fn value_at(body: &[u8], index: usize) -> &[u8] {
    entry_value(entry(body, index))
}

/// Bytes of the free gap of a valid node: an entry of `free_space - 2` bytes
/// (plus its 2-byte offset) still fits. `used_bytes + free_space` is the body
/// length minus [`NODE_HEADER_SIZE`].
pub fn free_space(body: &[u8]) -> usize {
    data_start(body) - slot_position(count(body))
}

/// Whether [`apply_entry_insert`] has room for a well-formed entry of
/// `entry_length` bytes: it is at most [`MAX_ENTRY_BYTES`] and it and its
/// offset fit the free gap.
pub fn fits(body: &[u8], entry_length: usize) -> bool {
    entry_length <= MAX_ENTRY_BYTES && entry_length + OFFSET_SLOT_SIZE <= free_space(body)
}

/// Bytes the entries and their offsets take in a valid node (the header not included).
pub fn used_bytes(body: &[u8]) -> usize {
    count(body) * OFFSET_SLOT_SIZE + (body.len() - data_start(body))
}

/// Binary search by key in a valid node: `Ok(i)` if entry `i` is the first
/// with exactly `key`, else `Err(i)` with `i` the position `key` would be
/// inserted at (the first entry with a greater key, or the count).
pub fn search(body: &[u8], key: &[u8]) -> std::result::Result<usize, usize> {
    let index = lower_bound(body, |index| compare_keys(key_at(body, index), key).is_lt());
    if index < count(body) && key_at(body, index) == key { Ok(index) } else { Err(index) }
}

/// Binary search by (key, value) in a valid node, for non-unique trees that
/// store duplicate keys with distinct values: `Ok(i)` if entry `i` is exactly
/// (`key`, `value`), else `Err(i)` with `i` where it would be inserted.
pub fn search_entry(body: &[u8], key: &[u8], value: &[u8]) -> std::result::Result<usize, usize> {
    let target = (key, value);
    let pair_at = |index| {
        let entry = entry(body, index);
        (entry_key(entry), entry_value(entry))
    };
    let below = |(entry_key, entry_value): (&[u8], &[u8])| {
        compare_keys(entry_key, target.0).then_with(|| entry_value.cmp(target.1)).is_lt()
    };
    let index = lower_bound(body, |index| below(pair_at(index)));
    if index < count(body) && pair_at(index) == target { Ok(index) } else { Err(index) }
}

/// Byte-wise order of two keys, as `<[u8]>::cmp`, with the first sixteen
/// bytes compared as two big-endian integers. Keys of one table often agree
/// on their first eight bytes (an escaped integer key starts `80 00 FF 00 FF
/// …`), so comparing only the first eight inline still left most
/// comparisons to a call into `memcmp`, which dominates comparing short keys.
#[inline]
pub fn compare_keys(first: &[u8], second: &[u8]) -> Ordering {
    let (Some((first_head, first_rest)), Some((second_head, second_rest))) =
        (first.split_first_chunk::<8>(), second.split_first_chunk::<8>())
    else {
        return first.cmp(second);
    };
    match u64::from_be_bytes(*first_head).cmp(&u64::from_be_bytes(*second_head)) {
        Ordering::Equal => {}
        unequal => return unequal,
    }
    let (Some((first_head, first_rest)), Some((second_head, second_rest))) =
        (first_rest.split_first_chunk::<8>(), second_rest.split_first_chunk::<8>())
    else {
        return first_rest.cmp(second_rest);
    };
    u64::from_be_bytes(*first_head).cmp(&u64::from_be_bytes(*second_head)).then_with(|| first_rest.cmp(second_rest))
}

/// Whether `key` starts with `prefix`, compared as [`compare_keys`] does.
#[inline]
pub fn has_prefix(key: &[u8], prefix: &[u8]) -> bool {
    key.len() >= prefix.len() && compare_keys(&key[..prefix.len()], prefix).is_eq()
}

/// The first index in `0..count(body)` for which `is_below` is false, given
/// that it is true for a prefix and false after it.
pub fn lower_bound(body: &[u8], is_below: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, count(body));
    while low < high {
        let middle = low + (high - low) / 2;
        if is_below(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

fn data_start(body: &[u8]) -> usize {
    u16_at(body, DATA_START_OFFSET)
}

/// Where entry `index` lies in a node whose shape is valid.
fn entry_range(body: &[u8], index: usize) -> Range<usize> {
    u16_at(body, slot_position(index))..entry_end(body, index)
}

/// Where entry `index` ends: where entry `index - 1` starts, or the body's end.
fn entry_end(body: &[u8], index: usize) -> usize {
    if index == 0 { body.len() } else { u16_at(body, slot_position(index - 1)) }
}

fn slot_position(index: usize) -> usize {
    NODE_HEADER_SIZE + index * OFFSET_SLOT_SIZE
}

/// A `u16` field the caller knows is inside the body.
fn u16_at(body: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([body[at], body[at + 1]]))
}

fn u64_at(body: &[u8], at: usize) -> u64 {
    let bytes: [u8; 8] = body[at..at + 8].try_into().expect("slice of 8 bytes");
    u64::from_le_bytes(bytes)
}

/// Reads a `u16` without trusting `at`: `None` past the end.
fn read_u16(bytes: &[u8], at: usize) -> Option<usize> {
    let chunk = bytes.get(at..)?.first_chunk::<2>()?;
    Some(usize::from(u16::from_le_bytes(*chunk)))
}

/// Writes a value the body's length bound keeps within `u16`.
fn write_u16(body: &mut [u8], at: usize, value: usize) {
    let value = u16::try_from(value).expect("offsets and counts in a body of at most u16::MAX bytes fit u16");
    body[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn corrupt(reason: String) -> Error {
    Error::Corrupt(format!("B+Tree node: {reason}"))
}

// ---------------------------------------------------------------------------
// Validation

/// What [`checked_shape`] found: the fields every op needs.
#[derive(Debug, Clone, Copy)]
struct Shape {
    count: usize,
    data_start: usize,
}

/// Checks invariants 1 and 2 without trusting any byte; afterwards every
/// offset and entry range of the body is safe to index. O(count).
fn checked_shape(body: &[u8]) -> Result<Shape> {
    let len = body.len();
    if !(NODE_HEADER_SIZE..=MAX_BODY_SIZE).contains(&len) {
        return Err(corrupt(format!("body is {len} bytes, expected {NODE_HEADER_SIZE} to {MAX_BODY_SIZE}")));
    }
    let (count, data_start) = (u16_at(body, COUNT_OFFSET), u16_at(body, DATA_START_OFFSET));
    let offsets_end = slot_position(count);
    if offsets_end > data_start || data_start > len {
        return Err(corrupt(format!(
            "{count} offsets end at byte {offsets_end}, data starts at {data_start}, body is {len} bytes"
        )));
    }
    if offsets_tile_data(body, count, data_start) {
        return Ok(Shape { count, data_start });
    }
    // Something is wrong: find the first bad entry, for the message.
    let mut end = len;
    for index in 0..count {
        // In range: the offset array ends at or before data start, inside the body.
        let start = u16_at(body, slot_position(index));
        if start < data_start || start + KEY_LENGTH_SIZE > end {
            return Err(corrupt(format!(
                "entry {index} spans bytes {start}..{end}, outside data {data_start}..{len} or under 2 bytes"
            )));
        }
        end = start;
    }
    if end != data_start {
        return Err(corrupt(format!("data starts at {data_start} but the entries start at {end}")));
    }
    Ok(Shape { count, data_start })
}

/// Whether the `count` offsets (which end at or before `data_start`, itself
/// inside the body) tile `data_start..len` in reverse index order with
/// entries of at least the 2-byte key length: offset 0 at most `len - 2`,
/// each next one at least 2 below the one before, the last at `data_start`.
/// Every op checks this, so it is branch-free over adjacent offset pairs,
/// which the compiler vectorises.
fn offsets_tile_data(body: &[u8], count: usize, data_start: usize) -> bool {
    let offsets = &body[NODE_HEADER_SIZE..slot_position(count)];
    let at = |pair: &[u8]| u32::from(u16::from_le_bytes([pair[0], pair[1]]));
    let (Some(first), Some(last)) = (offsets.first_chunk::<2>(), offsets.last_chunk::<2>()) else {
        return data_start == body.len();
    };
    let descending = offsets
        .chunks_exact(OFFSET_SLOT_SIZE)
        .zip(offsets[OFFSET_SLOT_SIZE..].chunks_exact(OFFSET_SLOT_SIZE))
        .fold(true, |ok, (earlier, later)| ok & (at(later) + KEY_LENGTH_SIZE as u32 <= at(earlier)));
    descending && at(first) as usize + KEY_LENGTH_SIZE <= body.len() && at(last) as usize == data_start
}

/// Checks every invariant of the module doc; never panics, whatever the
/// bytes. O(body length). The caller, which knows the file and page, reports
/// a failure as [`Error::CorruptPage`].
pub fn validate(body: &[u8]) -> Result<()> {
    let shape = checked_shape(body)?;
    if u16_at(body, RESERVED_OFFSET) != 0 {
        return Err(corrupt(format!("reserved field is {}, expected 0", u16_at(body, RESERVED_OFFSET))));
    }
    if let Some(position) = body[slot_position(shape.count)..shape.data_start].iter().position(|&byte| byte != 0) {
        return Err(corrupt(format!("free gap byte {} is not zero", slot_position(shape.count) + position)));
    }
    for index in 0..shape.count {
        let entry = &body[entry_range(body, index)];
        if let Some(reason) = entry_problem(entry) {
            return Err(corrupt(format!("entry {index}: {reason}")));
        }
        if index > 0 && entry_order(&body[entry_range(body, index - 1)], entry) != Ordering::Less {
            return Err(corrupt(format!("entry {index} does not sort after entry {}", index - 1)));
        }
    }
    Ok(())
}

/// The pair assertion to [`checked_shape`]: every op leaves a shape the reader accepts.
fn debug_assert_shape(body: &[u8], count: usize) {
    debug_assert_eq!(checked_shape(body).map(|shape| shape.count).ok(), Some(count), "node shape broken");
}

// ---------------------------------------------------------------------------
// Formatting and logged ops

/// Formats `body` as an empty node at `level`: every other byte zero.
///
/// # Panics
///
/// If the body is shorter than [`NODE_HEADER_SIZE`] or longer than
/// [`MAX_BODY_SIZE`]: bodies come from the engine's own pages, not from disk.
pub fn format(body: &mut [u8], level: u16) {
    let len = body.len();
    assert!((NODE_HEADER_SIZE..=MAX_BODY_SIZE).contains(&len), "node body of {len} bytes");
    body.fill(0);
    let (offset, bytes) = level_field(level);
    body[offset..offset + bytes.len()].copy_from_slice(&bytes);
    write_u16(body, DATA_START_OFFSET, len);
    debug_assert_eq!(validate(body), Ok(()), "a formatted node is valid");
}

/// Applies `EntryInsert`: inserts `entry` as entry `index` (`0..=count`),
/// moving later entries up one position.
///
/// [`Error::Corrupt`], with the body unchanged, if the body's shape is bad,
/// `index` is past the count, the entry is malformed, does not sort strictly
/// between its neighbours, or does not fit.
pub fn apply_entry_insert(body: &mut [u8], index: usize, entry: &[u8]) -> Result<()> {
    let shape = checked_shape(body)?;
    if index > shape.count {
        return Err(corrupt(format!("insert at {index} into a node with {} entries", shape.count)));
    }
    validate_entry(entry)?;
    if slot_position(shape.count + 1) + entry.len() > shape.data_start {
        return Err(corrupt(format!("no room for a {}-byte entry", entry.len())));
    }
    check_sorted(body, index.checked_sub(1), &[entry], (index < shape.count).then_some(index))?;

    let (length, end) = (entry.len(), entry_end(body, index));
    body.copy_within(shape.data_start..end, shape.data_start - length);
    body[end - length..end].copy_from_slice(entry);
    for later in (index..shape.count).rev() {
        let moved = u16_at(body, slot_position(later)) - length;
        write_u16(body, slot_position(later + 1), moved);
    }
    write_u16(body, slot_position(index), end - length);
    write_u16(body, COUNT_OFFSET, shape.count + 1);
    write_u16(body, DATA_START_OFFSET, shape.data_start - length);
    debug_assert_shape(body, shape.count + 1);
    Ok(())
}

/// Applies `EntryDelete`: removes entry `index`, which must equal `expected`
/// byte for byte, moving later entries down one position and zeroing the
/// freed bytes.
///
/// [`Error::Corrupt`], with the body unchanged, if the body's shape is bad,
/// `index` is not an entry, or the entry differs from `expected`.
pub fn apply_entry_delete(body: &mut [u8], index: usize, expected: &[u8]) -> Result<()> {
    let shape = checked_shape(body)?;
    if index >= shape.count {
        return Err(corrupt(format!("delete of entry {index} from a node with {} entries", shape.count)));
    }
    let range = entry_range(body, index);
    if body[range.clone()] != *expected {
        return Err(corrupt(format!("entry {index} differs from the one to delete")));
    }
    let length = range.len();
    body.copy_within(shape.data_start..range.start, shape.data_start + length);
    body[shape.data_start..shape.data_start + length].fill(0);
    for later in index + 1..shape.count {
        let moved = u16_at(body, slot_position(later)) + length;
        write_u16(body, slot_position(later - 1), moved);
    }
    let last_slot = slot_position(shape.count - 1);
    body[last_slot..last_slot + OFFSET_SLOT_SIZE].fill(0);
    write_u16(body, COUNT_OFFSET, shape.count - 1);
    write_u16(body, DATA_START_OFFSET, shape.data_start + length);
    debug_assert_shape(body, shape.count - 1);
    Ok(())
}

/// Applies `EntriesRemoveTail`: removes entries `from..count`, which must
/// equal `expected` in order, zeroing their bytes and offsets.
///
/// [`Error::Corrupt`], with the body unchanged, if the body's shape is bad,
/// `from` is past the count, or the tail differs from `expected`.
pub fn apply_remove_tail(body: &mut [u8], from: usize, expected: &[Vec<u8>]) -> Result<()> {
    let shape = checked_shape(body)?;
    if from > shape.count || shape.count - from != expected.len() {
        return Err(corrupt(format!(
            "remove {} entries from {from} of a node with {} entries",
            expected.len(),
            shape.count
        )));
    }
    for (offset, expected) in expected.iter().enumerate() {
        if body[entry_range(body, from + offset)] != **expected {
            return Err(corrupt(format!("entry {} differs from the one to remove", from + offset)));
        }
    }
    let new_data_start = entry_end(body, from);
    body[shape.data_start..new_data_start].fill(0);
    body[slot_position(from)..slot_position(shape.count)].fill(0);
    write_u16(body, COUNT_OFFSET, from);
    write_u16(body, DATA_START_OFFSET, new_data_start);
    debug_assert_shape(body, from);
    Ok(())
}

/// Applies `EntriesAppend`: the node must hold exactly `at` entries;
/// appends `entries` after them, in order.
///
/// [`Error::Corrupt`], with the body unchanged, if the body's shape is bad,
/// the count is not `at`, an entry is malformed, the entries do not strictly
/// increase after the node's last entry, or they do not fit.
pub fn apply_append(body: &mut [u8], at: usize, entries: &[Vec<u8>]) -> Result<()> {
    let shape = checked_shape(body)?;
    if shape.count != at {
        return Err(corrupt(format!("append at {at} to a node with {} entries", shape.count)));
    }
    for entry in entries {
        validate_entry(entry)?;
    }
    let entry_bytes: usize = entries.iter().map(Vec::len).sum();
    if slot_position(shape.count + entries.len()) + entry_bytes > shape.data_start {
        return Err(corrupt(format!("no room for {} entries of {entry_bytes} bytes", entries.len())));
    }
    let entries_borrowed: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    check_sorted(body, at.checked_sub(1), &entries_borrowed, None)?;

    let mut cursor = shape.data_start;
    for (offset, entry) in entries.iter().enumerate() {
        cursor -= entry.len();
        body[cursor..cursor + entry.len()].copy_from_slice(entry);
        write_u16(body, slot_position(at + offset), cursor);
    }
    write_u16(body, COUNT_OFFSET, at + entries.len());
    write_u16(body, DATA_START_OFFSET, cursor);
    debug_assert_shape(body, at + entries.len());
    Ok(())
}

/// Checks that entry `previous` of the node (if any), the well-formed
/// `entries` and entry `next` (if any) strictly increase. The node's entries
/// are inside the body (its shape was checked) but may be malformed.
fn check_sorted(body: &[u8], previous: Option<usize>, entries: &[&[u8]], next: Option<usize>) -> Result<()> {
    let neighbour = |index: Option<usize>| -> Result<Option<&[u8]>> {
        let Some(index) = index else {
            return Ok(None);
        };
        let entry = &body[entry_range(body, index)];
        match entry_problem(entry) {
            Some(reason) => Err(corrupt(format!("entry {index}: {reason}"))),
            None => Ok(Some(entry)),
        }
    };
    let (previous, next) = (neighbour(previous)?, neighbour(next)?);
    let mut sequence = previous.into_iter().chain(entries.iter().copied()).chain(next);
    let Some(mut before) = sequence.next() else { return Ok(()) };
    for entry in sequence {
        if entry_order(before, entry) != Ordering::Less {
            return Err(corrupt("entries would not strictly increase by (key, value)".to_owned()));
        }
        before = entry;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
