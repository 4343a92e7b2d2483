use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::*;
use crate::storage::PageId;
use crate::storage::page::{Page, PageType};
use crate::wal::record::PageOp;

/// A formatted leaf of `len` bytes, from a body that held garbage.
fn empty(len: usize) -> Vec<u8> {
    let mut body = vec![0xaa; len];
    format(&mut body, 0);
    body
}

fn node_with(len: usize, entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = empty(len);
    apply_append(&mut body, 0, entries).expect("test entries fit in order");
    body
}

fn entry_of(key: &[u8], value: &[u8]) -> Vec<u8> {
    encode_entry(key, value)
}

fn entries_of(body: &[u8]) -> Vec<Vec<u8>> {
    (0..count(body)).map(|index| entry(body, index).to_vec()).collect()
}

/// What the lead's `WriteBytes` does with a field helper's answer.
fn write_field<const N: usize>(body: &mut [u8], (offset, bytes): (usize, [u8; N])) {
    body[offset..offset + N].copy_from_slice(&bytes);
}

fn corrupt_reason(result: Result<()>) -> String {
    match result {
        Err(Error::Corrupt(reason)) => reason,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Runs a refused op on a copy and checks it left the body alone; returns the reason.
fn refused(body: &[u8], op: impl FnOnce(&mut [u8]) -> Result<()>) -> String {
    let mut copy = body.to_vec();
    let reason = corrupt_reason(op(&mut copy));
    assert_eq!(copy, body, "a refused op changes nothing ({reason})");
    reason
}

/// Applies a logged node op, as `storage::apply` does.
fn apply_op(body: &mut [u8], op: &PageOp) -> Result<()> {
    match op {
        PageOp::EntryInsert { index, entry } => apply_entry_insert(body, usize::from(*index), entry),
        PageOp::EntryDelete { index, entry } => apply_entry_delete(body, usize::from(*index), entry),
        PageOp::EntriesRemoveTail { from, entries } => apply_remove_tail(body, usize::from(*from), entries),
        PageOp::EntriesAppend { at, entries } => apply_append(body, usize::from(*at), entries),
        other => panic!("not a node op: {other:?}"),
    }
}

fn position(index: usize) -> u16 {
    u16::try_from(index).expect("test positions fit u16")
}

#[test]
fn format_gives_an_empty_valid_node() {
    for level in [0, 3] {
        let body = {
            let mut body = vec![0xaa; PAGE_BODY_SIZE];
            format(&mut body, level);
            body
        };
        validate(&body).unwrap();
        let expected = NodeHeader { level, count: 0, right_sibling: NO_PAGE, leftmost_child: NO_PAGE };
        assert_eq!(header(&body), expected);
        assert_eq!(header(&body).is_leaf(), level == 0);
        assert_eq!(count(&body), 0);
        assert_eq!(free_space(&body), NODE_CAPACITY_BYTES);
        assert_eq!(used_bytes(&body), 0);
        assert_eq!(u16_at(&body, DATA_START_OFFSET), PAGE_BODY_SIZE);
        assert!(body[COUNT_OFFSET..DATA_START_OFFSET].iter().all(|&byte| byte == 0));
        assert!(body[RESERVED_OFFSET..].iter().all(|&byte| byte == 0));
        assert_eq!(search(&body, b"any"), Err(0));
        assert_eq!(search_entry(&body, b"any", b""), Err(0));
    }
}

#[test]
fn entries_encode_and_decode() {
    let entry = entry_of(b"key", b"value");
    assert_eq!(entry, b"\x03\x00keyvalue");
    assert_eq!((entry_key(&entry), entry_value(&entry)), (&b"key"[..], &b"value"[..]));
    let empty_entry = entry_of(b"", b"");
    assert_eq!(empty_entry, [0, 0]);
    assert_eq!((entry_key(&empty_entry), entry_value(&empty_entry)), (&b""[..], &b""[..]));
    validate_entry(&entry).unwrap();
    validate_entry(&empty_entry).unwrap();
    validate_entry(&[3, 0, 1, 2, 3]).unwrap();
    let cases: [(&[u8], &str); 3] =
        [(&[], "has no key length"), (&[1], "has no key length"), (&[4, 0, 1, 2, 3], "overruns its 5-byte entry")];
    for (entry, expected) in cases {
        let reason = corrupt_reason(validate_entry(entry));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let reason = corrupt_reason(validate_entry(&entry_of(b"k", &vec![0; MAX_ENTRY_BYTES - 2])));
    assert!(reason.contains("exceeds 1001"), "{reason}");
    validate_entry(&entry_of(&[1; MAX_KEY_BYTES], &encode_child(u64::MAX))).unwrap();
}

#[test]
fn child_ids_encode_and_decode() {
    for page in [NO_PAGE, 1, 0x0102_0304_0506_0708, u64::MAX] {
        assert_eq!(decode_child(&encode_child(page)), Ok(page));
    }
    assert_eq!(encode_child(0x0102), [2, 1, 0, 0, 0, 0, 0, 0]);
    for length in [0, 7, 9] {
        let reason = corrupt_reason(decode_child(&vec![0; length]).map(|_| ()));
        assert!(reason.contains(&format!("{length} bytes, expected 8")), "{reason}");
    }
    let mut body = empty(256);
    apply_entry_insert(&mut body, 0, &entry_of(b"m", &encode_child(42))).unwrap();
    assert_eq!(decode_child(value_at(&body, 0)), Ok(42));
}

#[test]
fn entries_pack_against_the_end_in_index_order() {
    let mut body = empty(40);
    apply_entry_insert(&mut body, 0, &entry_of(b"b", b"2")).unwrap();
    assert_eq!(&body[36..40], b"\x01\x00b2");
    assert_eq!((count(&body), u16_at(&body, DATA_START_OFFSET), u16_at(&body, slot_position(0))), (1, 36, 36));
    apply_entry_insert(&mut body, 0, &entry_of(b"a", b"")).unwrap();
    // Entry 0 ("a") sits at the end; entry 1 moved down to make room.
    assert_eq!(&body[33..40], b"\x01\x00b2\x01\x00a");
    assert_eq!((u16_at(&body, slot_position(0)), u16_at(&body, slot_position(1))), (37, 33));
    assert_eq!((u16_at(&body, DATA_START_OFFSET), free_space(&body)), (33, 33 - 28));
    assert!(body[28..33].iter().all(|&byte| byte == 0));
    assert_eq!(entries_of(&body), [entry_of(b"a", b""), entry_of(b"b", b"2")]);
    assert_eq!((key_at(&body, 1), value_at(&body, 1)), (&b"b"[..], &b"2"[..]));
    assert_eq!(key_value_at(&body, 1), (&b"b"[..], &b"2"[..]));
    assert_eq!(key_value_at(&body, 0), (&b"a"[..], &b""[..]));
    validate(&body).unwrap();
}

#[test]
fn inserts_at_every_position_keep_order() {
    let mut body = empty(PAGE_BODY_SIZE);
    for key in [b"d", b"b", b"f", b"a", b"c", b"e", b"g"] {
        let index = search(&body, key).unwrap_err();
        apply_entry_insert(&mut body, index, &entry_of(key, b"v")).unwrap();
        validate(&body).unwrap();
    }
    let keys: Vec<&[u8]> = (0..count(&body)).map(|index| key_at(&body, index)).collect();
    assert_eq!(keys, [b"a", b"b", b"c", b"d", b"e", b"f", b"g"]);
    assert_eq!(used_bytes(&body), 7 * (2 + 4));
    assert_eq!(used_bytes(&body) + free_space(&body), NODE_CAPACITY_BYTES);
}

#[test]
fn search_finds_the_first_equal_key_and_insertion_points() {
    let entries =
        [(&b"a"[..], &b"1"[..]), (b"b", b"1"), (b"b", b"2"), (b"b", b"3"), (b"c", b"")].map(|(k, v)| entry_of(k, v));
    let body = node_with(PAGE_BODY_SIZE, &entries);
    assert_eq!(search(&body, b"a"), Ok(0));
    assert_eq!(search(&body, b"b"), Ok(1));
    assert_eq!(search(&body, b"c"), Ok(4));
    assert_eq!(search(&body, b""), Err(0));
    assert_eq!(search(&body, b"a\x00"), Err(1));
    assert_eq!(search(&body, b"bb"), Err(4));
    assert_eq!(search(&body, b"d"), Err(5));
    assert_eq!(search_entry(&body, b"b", b"2"), Ok(2));
    assert_eq!(search_entry(&body, b"b", b""), Err(1));
    assert_eq!(search_entry(&body, b"b", b"25"), Err(3));
    assert_eq!(search_entry(&body, b"b", b"4"), Err(4));
    assert_eq!(search_entry(&body, b"c", b""), Ok(4));
    assert_eq!(search_entry(&body, b"c", b"\x00"), Err(5));
}

#[test]
fn header_fields_change_only_through_field_writes() {
    let mut body = node_with(PAGE_BODY_SIZE, &[entry_of(b"a", b"1"), entry_of(b"b", b"2")]);
    write_field(&mut body, level_field(2));
    write_field(&mut body, right_sibling_field(0x1122_3344_5566_7788));
    write_field(&mut body, leftmost_child_field(7));
    let expected = NodeHeader { level: 2, count: 2, right_sibling: 0x1122_3344_5566_7788, leftmost_child: 7 };
    assert_eq!(header(&body), expected);
    assert_eq!(&body[RIGHT_SIBLING_OFFSET..RIGHT_SIBLING_OFFSET + 8], &0x1122_3344_5566_7788u64.to_le_bytes());
    validate(&body).unwrap();
    apply_entry_insert(&mut body, 2, &entry_of(b"c", b"3")).unwrap();
    apply_entry_delete(&mut body, 0, &entry_of(b"a", b"1")).unwrap();
    apply_remove_tail(&mut body, 1, &[entry_of(b"c", b"3")]).unwrap();
    apply_append(&mut body, 1, &[entry_of(b"d", b"4")]).unwrap();
    assert_eq!(header(&body), NodeHeader { count: 2, ..expected }, "entry ops leave the fields alone");
    assert_eq!(level_field(1), (LEVEL_OFFSET, [1, 0]));
    assert_eq!(leftmost_child_field(1).0, LEFTMOST_CHILD_OFFSET);
}

#[test]
fn insert_refuses_what_does_not_fit_or_sort() {
    let body = node_with(64, &[entry_of(b"b", b"1"), entry_of(b"d", b"1")]);
    let cases: [(usize, Vec<u8>, &str); 8] = [
        (3, entry_of(b"c", b""), "insert at 3 into a node with 2 entries"),
        (0, entry_of(b"c", b""), "would not strictly increase"),
        (2, entry_of(b"c", b""), "would not strictly increase"),
        (1, entry_of(b"b", b"1"), "would not strictly increase"),
        (1, entry_of(b"d", b"1"), "would not strictly increase"),
        (1, vec![9, 0, b'c'], "overruns"),
        (1, vec![0], "no key length"),
        (1, entry_of(b"c", &[0; 30]), "no room for a 33-byte entry"),
    ];
    for (index, entry, expected) in cases {
        let reason = refused(&body, |body| apply_entry_insert(body, index, &entry));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let mut fitting = body.clone();
    let largest = free_space(&body) - OFFSET_SLOT_SIZE;
    assert!(fits(&body, largest) && !fits(&body, largest + 1));
    apply_entry_insert(&mut fitting, 1, &entry_of(b"c", &vec![7; largest - 3])).unwrap();
    assert_eq!(free_space(&fitting), 0);
    validate(&fitting).unwrap();
}

#[test]
fn delete_refuses_a_missing_or_different_entry() {
    let body = node_with(64, &[entry_of(b"b", b"1"), entry_of(b"d", b"1")]);
    let cases: [(usize, Vec<u8>, &str); 4] = [
        (2, entry_of(b"d", b"1"), "delete of entry 2 from a node with 2 entries"),
        (0, entry_of(b"d", b"1"), "entry 0 differs"),
        (1, entry_of(b"d", b"2"), "entry 1 differs"),
        (1, entry_of(b"d", b"1")[..3].to_vec(), "entry 1 differs"),
    ];
    for (index, expected_entry, expected) in cases {
        let reason = refused(&body, |body| apply_entry_delete(body, index, &expected_entry));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
}

#[test]
fn remove_tail_refuses_a_different_tail() {
    let entries = [entry_of(b"a", b""), entry_of(b"b", b""), entry_of(b"c", b"")];
    let body = node_with(64, &entries);
    let cases: [(usize, Vec<Vec<u8>>, &str); 4] = [
        (4, vec![], "remove 0 entries from 4 of a node with 3 entries"),
        (1, vec![entries[1].clone()], "remove 1 entries from 1"),
        (3, vec![entries[2].clone()], "remove 1 entries from 3"),
        (1, vec![entries[1].clone(), entries[1].clone()], "entry 2 differs"),
    ];
    for (from, expected_entries, expected) in cases {
        let reason = refused(&body, |body| apply_remove_tail(body, from, &expected_entries));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let mut removed = body.clone();
    apply_remove_tail(&mut removed, 3, &[]).unwrap();
    assert_eq!(removed, body, "removing nothing is a no-op");
}

#[test]
fn append_refuses_a_wrong_position_order_or_size() {
    let body = node_with(64, &[entry_of(b"b", b"")]);
    let cases: [(usize, Vec<Vec<u8>>, &str); 6] = [
        (0, vec![entry_of(b"c", b"")], "append at 0 to a node with 1 entries"),
        (2, vec![entry_of(b"c", b"")], "append at 2"),
        (1, vec![entry_of(b"a", b"")], "would not strictly increase"),
        (1, vec![entry_of(b"d", b""), entry_of(b"c", b"")], "would not strictly increase"),
        (1, vec![entry_of(b"c", b""), vec![5, 0]], "overruns"),
        (1, vec![entry_of(b"c", b""), entry_of(b"d", &[0; 30])], "no room for 2 entries of 36 bytes"),
    ];
    for (at, entries, expected) in cases {
        let reason = refused(&body, |body| apply_append(body, at, &entries));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let mut appended = body.clone();
    apply_append(&mut appended, 1, &[]).unwrap();
    assert_eq!(appended, body, "appending nothing is a no-op");
}

#[test]
fn any_page_body_holds_four_maximum_entries_and_no_larger_entry() {
    let mut body = empty(PAGE_BODY_SIZE);
    assert!(!fits(&body, MAX_ENTRY_BYTES + 1), "larger than the limit even with room");
    let reason = refused(&body, |body| apply_entry_insert(body, 0, &entry_of(b"k", &[0; MAX_ENTRY_BYTES])));
    assert!(reason.contains("exceeds"), "{reason}");
    for index in 0..MIN_ENTRIES_PER_NODE {
        assert!(fits(&body, MAX_ENTRY_BYTES));
        let mut key = vec![0; MAX_KEY_BYTES];
        key[0] = u8::try_from(index).unwrap();
        apply_entry_insert(&mut body, index, &entry_of(&key, &encode_child(9))).unwrap();
    }
    assert_eq!(free_space(&body), 0, "four maximum entries fill the body exactly");
    assert_eq!(used_bytes(&body), NODE_CAPACITY_BYTES);
    assert!(!fits(&body, 0));
    validate(&body).unwrap();
}

#[test]
fn removing_every_entry_gives_back_the_formatted_body() {
    let entries: Vec<Vec<u8>> = (0..40u8).map(|index| entry_of(&[index], &[index; 17])).collect();
    let mut body = node_with(PAGE_BODY_SIZE, &entries);
    // Delete from the middle outwards so every delete moves bytes.
    while count(&body) > 0 {
        let index = count(&body) / 2;
        let removed = entry(&body, index).to_vec();
        apply_entry_delete(&mut body, index, &removed).unwrap();
        validate(&body).unwrap();
    }
    assert_eq!(body, empty(PAGE_BODY_SIZE), "freed bytes are zeroed");
    let mut body = node_with(PAGE_BODY_SIZE, &entries);
    apply_remove_tail(&mut body, 0, &entries).unwrap();
    assert_eq!(body, empty(PAGE_BODY_SIZE));
}

#[test]
fn validate_rejects_each_broken_invariant() {
    let valid = node_with(64, &[entry_of(b"a", b"1"), entry_of(b"b", b"2")]);
    // Entry 0 ("a1") is bytes 60..64, entry 1 ("b2") 56..60; offsets at 24 and 26.
    let with = |changes: &[(usize, &[u8])]| {
        let mut body = valid.clone();
        for &(at, bytes) in changes {
            body[at..at + bytes.len()].copy_from_slice(bytes);
        }
        body
    };
    let cases: [(Vec<u8>, &str); 12] = [
        (vec![0; 23], "body is 23 bytes"),
        (with(&[(COUNT_OFFSET, &[17, 0])]), "17 offsets end at byte 58"),
        (with(&[(DATA_START_OFFSET, &[70, 0])]), "data starts at 70"),
        (with(&[(DATA_START_OFFSET, &[54, 0])]), "data starts at 54 but the entries start at 56"),
        (with(&[(24, &[54, 0])]), "entry 0 spans bytes 54..64"),
        (with(&[(26, &[62, 0])]), "entry 1 spans bytes 62..60"),
        (with(&[(26, &[59, 0]), (DATA_START_OFFSET, &[59, 0])]), "entry 1 spans bytes 59..60"),
        (with(&[(60, &[3, 0])]), "entry 0: key of 3 bytes overruns its 4-byte entry"),
        (with(&[(62, b"b2")]), "entry 1 does not sort after entry 0"),
        (with(&[(58, b"a1")]), "entry 1 does not sort after entry 0"),
        (with(&[(RESERVED_OFFSET, &[1, 0])]), "reserved field is 1"),
        (with(&[(40, &[1])]), "free gap byte 40 is not zero"),
    ];
    for (body, expected) in cases {
        let reason = corrupt_reason(validate(&body));
        assert!(reason.contains(expected), "{reason} lacks {expected}");
    }
    let mut oversized = empty(PAGE_BODY_SIZE);
    let entry = entry_of(b"k", &[0; MAX_ENTRY_BYTES - 2]);
    let start = PAGE_BODY_SIZE - entry.len();
    oversized[start..].copy_from_slice(&entry);
    write_u16(&mut oversized, COUNT_OFFSET, 1);
    write_u16(&mut oversized, DATA_START_OFFSET, start);
    write_u16(&mut oversized, slot_position(0), start);
    let reason = corrupt_reason(validate(&oversized));
    assert!(reason.contains("entry of 1002 bytes exceeds 1001"), "{reason}");
}

#[test]
fn ops_on_a_badly_shaped_body_fail_without_panicking() {
    let mut body = node_with(64, &[entry_of(b"a", b"1")]);
    write_u16(&mut body, COUNT_OFFSET, 9);
    assert!(apply_entry_insert(&mut body.clone(), 0, &entry_of(b"0", b"")).is_err());
    assert!(apply_entry_delete(&mut body.clone(), 0, &entry_of(b"a", b"1")).is_err());
    assert!(apply_remove_tail(&mut body.clone(), 0, &[]).is_err());
    assert!(apply_append(&mut body.clone(), 9, &[]).is_err());
    // A well-shaped body whose neighbouring entry is malformed.
    let mut body = node_with(64, &[entry_of(b"a", b"1")]);
    body[60] = 7;
    let reason = refused(&body, |body| apply_entry_insert(body, 1, &entry_of(b"b", b"")));
    assert!(reason.contains("entry 0"), "{reason}");
}

#[test]
fn works_over_a_page_body_through_seal_and_read() {
    let mut page = Page::new(PageId(5), PageType::BTreeLeaf);
    format(page.body_mut(), 0);
    apply_entry_insert(page.body_mut(), 0, &entry_of(b"hello", b"world")).unwrap();
    write_field(page.body_mut(), right_sibling_field(6));
    let bytes = page.seal().to_vec();
    let read = Page::from_written_bytes(&bytes, "index.db", PageId(5)).unwrap();
    validate(read.body()).unwrap();
    assert_eq!(search(read.body(), b"hello"), Ok(0));
    assert_eq!(value_at(read.body(), 0), b"world");
    assert_eq!(header(read.body()).right_sibling, 6);
}

// ---------------------------------------------------------------------------
// Model-based property tests

/// What the node should hold: (key, value) pairs in order, and the header fields.
struct Model {
    body_len: usize,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    fields: (u16, u64, u64),
}

impl Model {
    fn encoded(&self) -> Vec<Vec<u8>> {
        self.entries.iter().map(|(key, value)| entry_of(key, value)).collect()
    }

    fn entry_bytes(&self) -> usize {
        self.entries.iter().map(|(key, value)| KEY_LENGTH_SIZE + key.len() + value.len()).sum()
    }

    fn free_space(&self) -> usize {
        self.body_len - NODE_HEADER_SIZE - OFFSET_SLOT_SIZE * self.entries.len() - self.entry_bytes()
    }

    /// Whether `pairs` can go at `index`: sizes, room and strict order with both neighbours.
    fn accepts(&self, index: usize, pairs: &[(Vec<u8>, Vec<u8>)]) -> bool {
        let sizes_ok = pairs.iter().all(|(key, value)| KEY_LENGTH_SIZE + key.len() + value.len() <= MAX_ENTRY_BYTES);
        let new_bytes: usize = pairs.iter().map(|(key, value)| KEY_LENGTH_SIZE + key.len() + value.len()).sum();
        let room = OFFSET_SLOT_SIZE * pairs.len() + new_bytes <= self.free_space();
        let sequence: Vec<&(Vec<u8>, Vec<u8>)> = index
            .checked_sub(1)
            .map(|previous| &self.entries[previous])
            .into_iter()
            .chain(pairs)
            .chain(self.entries.get(index))
            .collect();
        sizes_ok && room && sequence.windows(2).all(|pair| pair[0] < pair[1])
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Insert at the right place, or at `index_seed % (count + 2)` when not `exact`.
    Insert { key: Vec<u8>, value: Vec<u8>, exact: bool, index_seed: usize },
    /// Delete entry `index_seed % (count + 1)`; `tamper` logs a different entry.
    Delete { index_seed: usize, tamper: bool },
    /// Remove the last `from_seed % 12 - 1` entries (at most all; -1 is past
    /// the end); `tamper` logs a different tail.
    RemoveTail { from_seed: usize, tamper: bool },
    /// Append the pairs, sorted; `after_last` prefixes their keys with the
    /// last key and `0xFF` so they sort after it; `wrong_at` logs a wrong count.
    Append { pairs: Vec<(Vec<u8>, Vec<u8>)>, after_last: bool, wrong_at: bool },
    /// Change the header fields with field writes.
    Fields { level: u16, right_sibling: u64, leftmost_child: u64 },
}

/// The logged op for `op` in the model's state, and whether it must succeed.
fn to_page_op(model: &Model, op: &Op) -> (PageOp, bool) {
    let count = model.entries.len();
    match op {
        Op::Insert { key, value, exact, index_seed } => {
            let pair = (key.clone(), value.clone());
            let index =
                if *exact { model.entries.partition_point(|entry| *entry < pair) } else { index_seed % (count + 2) };
            let valid = index <= count && model.accepts(index, std::slice::from_ref(&pair));
            (PageOp::EntryInsert { index: position(index), entry: entry_of(key, value) }, valid)
        }
        Op::Delete { index_seed, tamper } => {
            let index = index_seed % (count + 1);
            let mut entry = model.encoded().get(index).cloned().unwrap_or_else(|| entry_of(b"gone", b""));
            if *tamper {
                entry.push(0);
            }
            (PageOp::EntryDelete { index: position(index), entry }, index < count && !tamper)
        }
        Op::RemoveTail { from_seed, tamper } => {
            let from = (count + 1).saturating_sub(from_seed % 12);
            let mut entries = model.encoded().get(from..).map(<[Vec<u8>]>::to_vec).unwrap_or_default();
            if *tamper {
                match entries.first_mut() {
                    Some(first) => first.push(0),
                    None => entries.push(entry_of(b"extra", b"")),
                }
            }
            (PageOp::EntriesRemoveTail { from: position(from), entries }, from <= count && !tamper)
        }
        Op::Append { pairs, after_last, wrong_at } => {
            let mut pairs = pairs.clone();
            if let (true, Some((last_key, _))) = (*after_last, model.entries.last()) {
                for (key, _) in &mut pairs {
                    *key = [last_key.as_slice(), &[0xff], key].concat();
                }
            }
            pairs.sort();
            pairs.dedup();
            let at = if *wrong_at { count + 1 } else { count };
            let valid = !wrong_at && model.accepts(count, &pairs);
            let entries = pairs.iter().map(|(key, value)| entry_of(key, value)).collect();
            (PageOp::EntriesAppend { at: position(at), entries }, valid)
        }
        Op::Fields { .. } => unreachable!("field writes are not entry ops"),
    }
}

fn apply_to_model(model: &mut Model, op: &PageOp) {
    let decode = |entry: &Vec<u8>| (entry_key(entry).to_vec(), entry_value(entry).to_vec());
    match op {
        PageOp::EntryInsert { index, entry } => model.entries.insert(usize::from(*index), decode(entry)),
        PageOp::EntryDelete { index, .. } => drop(model.entries.remove(usize::from(*index))),
        PageOp::EntriesRemoveTail { from, .. } => model.entries.truncate(usize::from(*from)),
        PageOp::EntriesAppend { entries, .. } => model.entries.extend(entries.iter().map(decode)),
        other => panic!("not a node op: {other:?}"),
    }
}

/// The body a node with the model's fields and entries must have: the layout is canonical.
fn canonical_body(model: &Model) -> Vec<u8> {
    let (level, right_sibling, leftmost_child) = model.fields;
    let mut body = empty(model.body_len);
    write_field(&mut body, level_field(level));
    write_field(&mut body, right_sibling_field(right_sibling));
    write_field(&mut body, leftmost_child_field(leftmost_child));
    apply_append(&mut body, 0, &model.encoded()).expect("the model's entries fit");
    body
}

fn check_against_model(body: &[u8], model: &Model) -> Result<(), TestCaseError> {
    validate(body).map_err(|error| TestCaseError::fail(error.to_string()))?;
    let (level, right_sibling, leftmost_child) = model.fields;
    let expected_header = NodeHeader { level, count: model.entries.len(), right_sibling, leftmost_child };
    prop_assert_eq!(header(body), expected_header);
    prop_assert_eq!(entries_of(body), model.encoded());
    prop_assert_eq!(free_space(body), model.free_space());
    prop_assert_eq!(used_bytes(body) + free_space(body), model.body_len - NODE_HEADER_SIZE);
    let canonical = canonical_body(model);
    prop_assert_eq!(body, canonical.as_slice(), "bytes depend only on fields and entries");
    for (index, (key, value)) in model.entries.iter().enumerate() {
        prop_assert_eq!(search_entry(body, key, value), Ok(index));
        let first = model.entries.partition_point(|(other, _)| other < key);
        prop_assert_eq!(search(body, key), Ok(first));
    }
    Ok(())
}

/// Applies one op to body and model; checks refusal, determinism and that its inverse restores the bytes.
fn step(body: &mut Vec<u8>, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    if let Op::Fields { level, right_sibling, leftmost_child } = *op {
        write_field(body, level_field(level));
        write_field(body, right_sibling_field(right_sibling));
        write_field(body, leftmost_child_field(leftmost_child));
        model.fields = (level, right_sibling, leftmost_child);
        return Ok(());
    }
    let (page_op, valid) = to_page_op(model, op);
    let before = body.clone();
    let result = apply_op(body, &page_op);
    if !valid {
        prop_assert!(matches!(result, Err(Error::Corrupt(_))), "{:?} gave {:?}", page_op, result);
        prop_assert_eq!(&before, &*body, "a refused op changes nothing");
        return Ok(());
    }
    prop_assert_eq!(&result, &Ok(()), "{:?}", page_op);
    apply_to_model(model, &page_op);
    let mut again = before.clone();
    apply_op(&mut again, &page_op).map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(&again, &*body, "the same op on the same bytes gives the same bytes");
    let inverse = page_op.undo().expect("node ops have an inverse");
    let mut undone = body.clone();
    apply_op(&mut undone, &inverse).map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(undone, before, "{:?} then {:?} restores the body", page_op, inverse);
    Ok(())
}

fn run_against_model(body_len: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut body = empty(body_len);
    let mut model = Model { body_len, entries: Vec::new(), fields: (0, NO_PAGE, NO_PAGE) };
    for op in ops {
        step(&mut body, &mut model, op)?;
        check_against_model(&body, &model)?;
    }
    Ok(())
}

/// Keys from a small alphabet so equal keys and prefixes are common.
fn pair(value_length_max: usize) -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    let key = vec(0u8..4, 0..5);
    let value = prop_oneof![3 => vec(0u8..3, 0..3), 1 => vec(any::<u8>(), 0..=value_length_max)];
    (key, value)
}

fn op(value_length_max: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (pair(value_length_max), prop::bool::weighted(0.8), any::<usize>())
            .prop_map(|((key, value), exact, index_seed)| Op::Insert { key, value, exact, index_seed }),
        2 => (any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(index_seed, tamper)| Op::Delete { index_seed, tamper }),
        1 => (any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(from_seed, tamper)| Op::RemoveTail { from_seed, tamper }),
        2 => (vec(pair(value_length_max), 0..6), prop::bool::weighted(0.7), prop::bool::weighted(0.1))
            .prop_map(|(pairs, after_last, wrong_at)| Op::Append { pairs, after_last, wrong_at }),
        1 => (any::<u16>(), any::<u64>(), any::<u64>())
            .prop_map(|(level, right_sibling, leftmost_child)| Op::Fields { level, right_sibling, leftmost_child }),
    ]
}

// ---------------------------------------------------------------------------
// Never panicking on bytes from disk

/// Reads never panic on a body `validate` accepts, ops never panic on any
/// body, and ops keep a valid body valid.
fn exercise(mut body: Vec<u8>, entry: &[u8]) -> Result<(), TestCaseError> {
    let valid = validate(&body).is_ok();
    if valid {
        let entries = entries_of(&body);
        prop_assert_eq!(used_bytes(&body) + free_space(&body), body.len() - NODE_HEADER_SIZE);
        let _ = (header(&body), fits(&body, entry.len()), search(&body, entry), search_entry(&body, entry, entry));
        for (index, stored) in entries.iter().enumerate() {
            prop_assert_eq!(search_entry(&body, entry_key(stored), entry_value(stored)), Ok(index));
        }
    }
    let count_field = u16_at(&body, COUNT_OFFSET).min(8);
    let results = [
        apply_entry_insert(&mut body, 0, entry).is_ok(),
        apply_entry_insert(&mut body, count_field, entry).is_ok(),
        apply_entry_delete(&mut body, 0, entry).is_ok(),
        apply_remove_tail(&mut body, count_field / 2, &[entry.to_vec()]).is_ok(),
        apply_append(&mut body, count_field, &[entry.to_vec()]).is_ok(),
    ];
    if valid {
        validate(&body).map_err(|error| TestCaseError::fail(format!("{error} after {results:?}")))?;
    } else {
        let _ = validate(&body);
    }
    Ok(())
}

/// A valid node of a few entries with a few bytes overwritten: reaches the
/// checks past the header far more often than random bytes do.
fn damaged_body() -> impl Strategy<Value = Vec<u8>> {
    (NODE_HEADER_SIZE..=200usize, vec(pair(12), 0..8), vec((any::<usize>(), any::<u8>()), 0..4)).prop_map(
        |(len, mut pairs, damage)| {
            pairs.sort();
            pairs.dedup();
            let mut body = empty(len);
            for (key, value) in pairs {
                let entry = entry_of(&key, &value);
                if fits(&body, entry.len()) {
                    let at = count(&body);
                    apply_append(&mut body, at, &[entry]).expect("fits and sorts after the last");
                }
            }
            for (at, byte) in damage {
                let at = at % len;
                body[at] = byte;
            }
            body
        },
    )
}

proptest! {
    #[test]
    fn compare_keys_is_byte_order(
        shared in vec(any::<u8>(), 0..28),
        first in vec(0u8..4, 0..20),
        second in vec(0u8..4, 0..20),
    ) {
        // A shared prefix (often longer than one or two 8-byte chunks) makes
        // ties and prefixes common; small bytes make equal chunks common.
        let first = [shared.as_slice(), &first].concat();
        let second = [shared.as_slice(), &second].concat();
        prop_assert_eq!(compare_keys(&first, &second), first.cmp(&second));
        prop_assert_eq!(compare_keys(&second, &first), second.cmp(&first));
        prop_assert_eq!(has_prefix(&first, &second), first.starts_with(&second));
        prop_assert_eq!(has_prefix(&second, &first), second.starts_with(&first));
    }

    #[test]
    fn matches_model_on_a_page_body(ops in vec(op(400), 1..300)) {
        run_against_model(PAGE_BODY_SIZE, &ops)?;
    }

    #[test]
    fn matches_model_on_tiny_bodies(body_len in NODE_HEADER_SIZE..=160usize, ops in vec(op(16), 1..120)) {
        run_against_model(body_len, &ops)?;
    }

    #[test]
    fn matches_model_with_near_maximum_entries(ops in vec(op(MAX_ENTRY_BYTES + 8), 1..40)) {
        run_against_model(PAGE_BODY_SIZE, &ops)?;
    }

    #[test]
    fn validate_never_panics_on_arbitrary_bytes(body in vec(any::<u8>(), 0..600), entry in vec(any::<u8>(), 0..12)) {
        if body.len() >= NODE_HEADER_SIZE {
            exercise(body, &entry)?;
        } else {
            let mut body = body;
            prop_assert!(validate(&body).is_err());
            prop_assert!(apply_entry_insert(&mut body, 0, &entry).is_err());
            prop_assert!(apply_append(&mut body, 0, &[]).is_err());
        }
    }

    #[test]
    fn damaged_nodes_never_panic(body in damaged_body(), (key, value) in pair(8)) {
        exercise(body, &entry_of(&key, &value))?;
    }
}
