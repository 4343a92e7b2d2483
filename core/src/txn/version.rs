//! How row versions are laid out in a storage B+Tree.
//!
//! A versioned table is a unique B+Tree in which every version of a row is
//! its own entry:
//!
//! ```text
//! storage key = escape(user key) ‖ 00 00 ‖ version number (ordered varint)
//! value       = kind (u8: 0 row, 1 tombstone) ‖ creator xid (LEB128) ‖ row bytes
//! ```
//!
//! Both numbers are variable-length ([`crate::storage::varint`]): a row's
//! first version takes two bytes rather than eight, and a version number's
//! encoding sorts as the number does.
//!
//! The escape (`00` → `00 FF`, then `00 00` as terminator) keeps every key's
//! versions together and in user-key order: no user key's storage keys can
//! interleave with another's. Version numbers grow by one per write of a key,
//! so a key's versions sort oldest first. A version never changes after it is
//! written: an update or delete writes a newer version (a delete writes a
//! tombstone). Which version a transaction sees is decided by the creators'
//! commit status (`status.rs`), not by anything stored here.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::storage::varint;
use crate::wal::TxnId;

/// Most bytes after the escaped user key: the terminator and the version number.
const SUFFIX_BYTES: usize = 2 + 9;

const KIND_ROW: u8 = 0;
const KIND_TOMBSTONE: u8 = 1;

/// One stored version of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub number: u64,
    pub creator: TxnId,
    /// `None` for a tombstone (the row was deleted).
    pub row: Option<Vec<u8>>,
}

/// A key's first bytes in hex, for error messages.
pub fn hex(key: &[u8]) -> String {
    key.iter().take(32).map(|byte| format!("{byte:02x}")).collect()
}

/// Appends the escaped user key and its terminator to `out`.
fn push_escaped(key: &[u8], out: &mut Vec<u8>) {
    for &byte in key {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// The storage key of version `number` of `key`.
pub fn storage_key(key: &[u8], number: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + SUFFIX_BYTES + 2);
    push_escaped(key, &mut out);
    varint::put_ordered_u64(number, &mut out);
    out
}

/// The storage range holding every version of `key`.
pub fn versions_of(key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (storage_key(key, 0), storage_key(key, u64::MAX))
}

/// The storage range holding every version of every key in the user range.
pub fn storage_range(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lo = match lo {
        Bound::Included(key) => Bound::Included(storage_key(key, 0)),
        Bound::Excluded(key) => Bound::Excluded(storage_key(key, u64::MAX)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let hi = match hi {
        Bound::Included(key) => Bound::Included(storage_key(key, u64::MAX)),
        Bound::Excluded(key) => Bound::Excluded(storage_key(key, 0)),
        Bound::Unbounded => Bound::Unbounded,
    };
    (lo, hi)
}

/// Splits a storage key into the user key and the version number.
pub fn split_storage_key(stored: &[u8]) -> Result<(Vec<u8>, u64)> {
    let (prefix, number) = split_row_prefix(stored)?;
    let mut key = Vec::with_capacity(prefix.len());
    let mut bytes = prefix[..prefix.len() - 2].iter();
    while let Some(&byte) = bytes.next() {
        key.push(byte);
        if byte == 0 {
            bytes.next();
        }
    }
    Ok((key, number))
}

/// Splits a storage key into its row prefix (the escaped user key and its
/// terminator, the same for every version of a row) and the version number,
/// without copying.
pub fn split_row_prefix(stored: &[u8]) -> Result<(&[u8], u64)> {
    let bad = || Error::Corrupt(format!("malformed version key of {} bytes", stored.len()));
    let mut at = 0;
    while at < stored.len() {
        if stored[at] != 0 {
            at += 1;
            continue;
        }
        match stored.get(at + 1) {
            Some(0xFF) => at += 2,
            Some(0) => {
                let (prefix, suffix) = stored.split_at(at + 2);
                return match varint::get_ordered_u64(suffix) {
                    Some((number, used)) if used == suffix.len() => Ok((prefix, number)),
                    _ => Err(bad()),
                };
            }
            _ => return Err(bad()),
        }
    }
    Err(bad())
}

/// The stored value of a version.
pub fn encode_value(creator: TxnId, row: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + varint::MAX_U64_BYTES + row.map_or(0, <[u8]>::len));
    out.push(if row.is_some() { KIND_ROW } else { KIND_TOMBSTONE });
    varint::put_u64(creator.0, &mut out);
    if let Some(row) = row {
        out.extend_from_slice(row);
    }
    out
}

/// Decodes a stored entry into a [`Version`].
pub fn decode(stored_key: &[u8], value: &[u8]) -> Result<(Vec<u8>, Version)> {
    let (key, number) = split_storage_key(stored_key)?;
    let (creator, row) = decode_value(value)?;
    Ok((key, Version { number, creator, row: row.map(<[u8]>::to_vec) }))
}

/// A stored value's creator and row (`None`: a tombstone), without copying.
pub fn decode_value(value: &[u8]) -> Result<(TxnId, Option<&[u8]>)> {
    let header = value.split_first().and_then(|(&kind, rest)| Some((kind, varint::get_u64(rest)?)));
    let Some((kind, (creator, used))) = header else {
        return Err(Error::Corrupt(format!("version value of {} bytes", value.len())));
    };
    let row = &value[1 + used..];
    match kind {
        KIND_ROW => Ok((TxnId(creator), Some(row))),
        KIND_TOMBSTONE if row.is_empty() => Ok((TxnId(creator), None)),
        kind => Err(Error::Corrupt(format!("version of kind {kind} with {} bytes", value.len()))),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn storage_keys_sort_by_user_key_then_version(
            a in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..6),
            b in proptest::collection::vec(prop_oneof![Just(0u8), Just(1u8), Just(0xFFu8), any::<u8>()], 0..6),
            x in any::<u64>(),
            y in any::<u64>(),
        ) {
            let (ka, kb) = (storage_key(&a, x), storage_key(&b, y));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b).then(x.cmp(&y)));
            prop_assert_eq!(split_storage_key(&ka).unwrap(), (a.clone(), x));
            let (prefix_a, number) = split_row_prefix(&ka).unwrap();
            prop_assert_eq!(number, x);
            prop_assert_eq!(prefix_a == split_row_prefix(&kb).unwrap().0, a == b);
            let (lo, hi) = versions_of(&a);
            prop_assert!(lo <= ka && ka <= hi);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(key in proptest::collection::vec(any::<u8>(), 0..20),
                                                  value in proptest::collection::vec(any::<u8>(), 0..20)) {
            let _ = decode(&key, &value);
            let _ = split_row_prefix(&key);
        }
    }

    #[test]
    fn values_round_trip() {
        let (key, version) = decode(&storage_key(b"k\0", 7), &encode_value(TxnId(9), Some(b"row"))).unwrap();
        assert_eq!(key, b"k\0");
        assert_eq!(version, Version { number: 7, creator: TxnId(9), row: Some(b"row".to_vec()) });
        let (_, tombstone) = decode(&storage_key(b"k", 8), &encode_value(TxnId(9), None)).unwrap();
        assert_eq!(tombstone.row, None);
    }
}
