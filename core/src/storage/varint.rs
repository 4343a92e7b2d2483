//! Variable-length integers for the stored formats: rows, version keys and
//! version headers.
//!
//! Small numbers dominate what a page holds (column counts, string lengths,
//! most integer columns, version numbers), and a fixed eight bytes for each
//! was most of a narrow row. Two encodings:
//!
//! - **LEB128** ([`put_u64`], [`get_u64`]): seven bits per byte, low first,
//!   the high bit set on every byte but the last; signed numbers go through
//!   zigzag ([`put_i64`], [`get_i64`]) so that small negatives stay short.
//!   Not order-preserving; for values, never for keys.
//! - **Ordered** ([`put_ordered_u64`], [`get_ordered_u64`]): a length byte
//!   (0–8) and that many big-endian bytes with no leading zero. Longer means
//!   larger, so plain byte order is numeric order: for keys.
//!
//! Decoders accept only the canonical (shortest) form, so every number has
//! exactly one encoding, and return `None` for anything else, truncation
//! included; callers turn that into their own corruption error.

/// The longest LEB128 encoding of a `u64`.
pub const MAX_U64_BYTES: usize = 10;

/// Appends `value` in LEB128.
pub fn put_u64(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Decodes a LEB128 number at the start of `bytes`: the value and the bytes
/// it took.
#[inline]
pub fn get_u64(bytes: &[u8]) -> Option<(u64, usize)> {
    // Most lengths, counts and small numbers take one byte.
    if let Some(&byte) = bytes.first()
        && byte < 0x80
    {
        return Some((u64::from(byte), 1));
    }
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().take(MAX_U64_BYTES).enumerate() {
        let bits = u64::from(byte & 0x7F);
        let shift = 7 * index as u32;
        // The tenth byte holds only the top bit of a u64.
        if index == MAX_U64_BYTES - 1 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            // A final zero byte after others is a longer form of a shorter one.
            let canonical = index == 0 || byte != 0;
            return canonical.then_some((value, index + 1));
        }
    }
    None
}

/// Appends `value` zigzag-encoded in LEB128 (0, -1, 1, -2, … → 0, 1, 2, 3, …).
pub fn put_i64(value: i64, out: &mut Vec<u8>) {
    put_u64(((value << 1) ^ (value >> 63)).cast_unsigned(), out);
}

/// Decodes what [`put_i64`] wrote.
pub fn get_i64(bytes: &[u8]) -> Option<(i64, usize)> {
    let (zigzag, used) = get_u64(bytes)?;
    Some((((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64), used))
}

/// Appends `value` so that byte order is numeric order.
pub fn put_ordered_u64(value: u64, out: &mut Vec<u8>) {
    let significant = 8 - (value.leading_zeros() / 8) as usize;
    out.push(significant as u8);
    out.extend_from_slice(&value.to_be_bytes()[8 - significant..]);
}

/// Decodes what [`put_ordered_u64`] wrote at the start of `bytes`.
pub fn get_ordered_u64(bytes: &[u8]) -> Option<(u64, usize)> {
    let (&length, rest) = bytes.split_first()?;
    let length = usize::from(length);
    let payload = rest.get(..length).filter(|_| length <= 8)?;
    if payload.first() == Some(&0) {
        return None;
    }
    let value = payload.iter().fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
    Some((value, 1 + length))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn leb(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(value, &mut out);
        out
    }

    fn ordered(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_ordered_u64(value, &mut out);
        out
    }

    #[test]
    fn small_numbers_take_one_or_two_bytes() {
        assert_eq!(leb(0), [0]);
        assert_eq!(leb(127), [0x7F]);
        assert_eq!(leb(128), [0x80, 0x01]);
        assert_eq!(leb(u64::MAX).len(), MAX_U64_BYTES);
        assert_eq!(ordered(0), [0]);
        assert_eq!(ordered(1), [1, 1]);
        assert_eq!(ordered(256), [2, 1, 0]);
        assert_eq!(ordered(u64::MAX).len(), 9);
        let mut out = Vec::new();
        put_i64(-1, &mut out);
        assert_eq!(out, [1]);
    }

    #[test]
    fn non_canonical_and_truncated_forms_are_refused() {
        assert_eq!(get_u64(&[0x80, 0x00]), None, "zero written long");
        assert_eq!(get_u64(&[0xFF; 10]), None, "more than 64 bits");
        assert_eq!(get_u64(&[0x80]), None, "truncated");
        assert_eq!(get_u64(&[]), None);
        assert_eq!(get_ordered_u64(&[2, 0, 1]), None, "leading zero");
        assert_eq!(get_ordered_u64(&[9, 1, 1, 1, 1, 1, 1, 1, 1, 1]), None, "longer than a u64");
        assert_eq!(get_ordered_u64(&[2, 1]), None, "truncated");
    }

    proptest! {
        #[test]
        fn every_number_round_trips(value in any::<u64>(), signed in any::<i64>(), tail in any::<u8>()) {
            let mut bytes = leb(value);
            let used = bytes.len();
            bytes.push(tail);
            prop_assert_eq!(get_u64(&bytes), Some((value, used)));
            let mut bytes = ordered(value);
            let used = bytes.len();
            bytes.push(tail);
            prop_assert_eq!(get_ordered_u64(&bytes), Some((value, used)));
            let mut bytes = Vec::new();
            put_i64(signed, &mut bytes);
            prop_assert_eq!(get_i64(&bytes), Some((signed, bytes.len())));
        }

        #[test]
        fn ordered_bytes_sort_as_numbers(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(ordered(a).cmp(&ordered(b)), a.cmp(&b));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = (get_u64(&bytes), get_i64(&bytes), get_ordered_u64(&bytes));
        }
    }
}
