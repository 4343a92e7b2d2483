//! Order-preserving ("memcomparable") encoding of index keys.
//!
//! The B+Tree compares keys on every step of every descent and must not know
//! SQL types to do it. So a key, a tuple of column values, is encoded once
//! into bytes whose plain lexicographic order (`memcmp`, `<[u8]>::cmp`) is the
//! SQL order of the tuples, column by column. The tree stores and compares
//! only those bytes; [`decode_key`] recovers the values when a scan needs them.
//!
//! # Layout
//!
//! A key is its columns' encodings concatenated, with no header and nothing
//! between them. Each column is a tag byte and a payload (ascending order):
//!
//! | value   | tag    | payload                                        |
//! |---------|--------|------------------------------------------------|
//! | `Bool`  | `0x10` | 1 byte: `0x00` false, `0x01` true              |
//! | `Int`   | `0x18`–`0x28` | 0–8 bytes, length given by the tag (below) |
//! | `Float` | `0x30` | 8 bytes: big-endian, transformed (below)       |
//! | `Text`  | `0x40` | UTF-8 bytes, escaped, then `0x00 0x00`         |
//! | `Bytes` | `0x50` | the bytes, escaped, then `0x00 0x00`           |
//! | `Null`  | `0xF0` | none                                           |
//!
//! - **Int.** The tag says the sign and how many payload bytes follow: zero
//!   is `0x20` alone; a positive number needing `n` bytes is `0x20 + n` and
//!   its magnitude big-endian in `n` bytes; a negative one is `0x20 - n` and
//!   the bitwise complement of its magnitude in `n` bytes. More bytes mean a
//!   larger magnitude, so the tag orders numbers of different lengths and the
//!   payload (complemented for negatives) orders those of equal length.
//!   `Int(1)` is `21 01`, `Int(-1)` is `1F FE`, `Int(256)` is `22 01 00`.
//!   Small keys, the common case, take two to four bytes rather than nine,
//!   and have fewer zero bytes for a version key's escape to double.
//! - **Float.** The IEEE-754 bits of non-negative floats already order as
//!   unsigned integers, but negative floats order backwards and above them.
//!   So a float with the sign bit clear gets the sign bit set (moving it above
//!   every negative), and a float with the sign bit set gets every bit flipped
//!   (moving it below, and reversing the order among negatives). The result
//!   is `-inf < … < -MIN_POSITIVE < 0 < … < +inf < NaN`.
//! - **Text and Bytes.** Each `0x00` of the data becomes `0x00 0xFF`; every
//!   other byte is copied; `0x00 0x00` ends the value. `"a\0"` is
//!   `40 61 00 FF 00 00`. Text compares by UTF-8 bytes, which is code point
//!   order, PostgreSQL's `C` collation. A linguistic collation would store an
//!   ICU-style sort key under a tag of its own.
//!
//! Tags are spaced `0x10` apart so that types not yet here can slot in
//! without renumbering: NUMERIC needs its own tag (sign, exponent, digits),
//! since neither `i64` nor `f64` holds it exactly. Dates and timestamps fit
//! onto `Int` (days, microseconds) with the catalog reinterpreting the
//! decoded value, or get their own tags when they need a distinct order.
//! Because no tag is `0x00` or `0xFF`, `prefix ‖ 0xFF` sorts after every key
//! that extends `prefix`, in either order, which gives range scans a bound.
//!
//! # Different types in one column
//!
//! SQL never compares values of different types within one column: the SQL
//! layer coerces both sides to the column's type before encoding. If mixed
//! values are encoded anyway the tag decides, ascending
//! `Bool < Int < Float < Text < Bytes < Null`, so `Int(2) < Float(0.5)`:
//! numerically wrong, which is why coercion must come first.
//!
//! # Why NULL sorts last
//!
//! PostgreSQL treats NULL as larger than every value: `ASC` defaults to
//! `NULLS LAST` and `DESC` to `NULLS FIRST`. Matching it lets an index scan
//! deliver exactly the order `ORDER BY` promises without a re-sort, and
//! queries written for PostgreSQL see the order they expect. `NULLS FIRST` on
//! an ascending column (and the reverse) is not supported yet; it needs a
//! second NULL tag below every other.
//!
//! # Descending columns
//!
//! A column of a `DESC` index has every byte of its encoding, tag included,
//! inverted (`b` becomes `!b`). Inversion reverses the memcmp order of two
//! encodings as long as neither is a proper prefix of the other, and none
//! is: every payload has a fixed width given by its tag or ends with a
//! terminator that escaped data cannot contain. The inverted NULL tag `0x0F`
//! is the smallest, giving PostgreSQL's `DESC NULLS FIRST` for free.
//!
//! # Why -0.0 and NaN are normalised
//!
//! The tree treats equal bytes as equal keys: a unique index rejects a key
//! whose bytes exist, a point lookup finds only identical bytes. SQL says
//! `-0.0 = 0.0`, and PostgreSQL says every NaN equals every other NaN and is
//! greater than every number. IEEE-754 gives `-0.0` and `0.0` different bits
//! and has about 2^53 NaN bit patterns, half with the sign bit set, which the
//! transform would put below `-inf`. So encoding writes `-0.0` as `0.0` and
//! every NaN as the one quiet NaN `0x7FF8_0000_0000_0000`, which the
//! transform places above `+inf`.
//!
//! # Why escaping rather than a length prefix
//!
//! A length prefix compares lengths before contents: `"b"` would sort after
//! `"ab"`. Raw bytes with the length after them fix that for a single column
//! but break composite keys: comparing `("ab", 2)` with `("abc", 1)` would set
//! the length (or the next column's tag) of `"ab"` against the `'c'` of
//! `"abc"`. The terminator `0x00 0x00` is smaller than any continuation (a
//! data byte `0x01..=0xFF`, or `0x00 0xFF` for an escaped zero), so a string
//! sorts before all of its extensions and the next column's bytes are only
//! ever compared with the next column's bytes.
//!
//! # Canonical form
//!
//! Every key has exactly one encoding, and [`decode_key`] accepts exactly the
//! byte strings encoding produces: an unknown tag, a truncated payload, a
//! bool byte other than 0 or 1, `0x00` followed by anything but `0x00` or
//! `0xFF`, the bits of `-0.0` or of a non-canonical NaN, text that is not
//! UTF-8, and bytes after the last column are all [`Error::Corrupt`]. Keys
//! are read from pages that passed their checksum, so a key that does not
//! decode is bytes the engine never wrote.

use crate::{Error, Result};

const TAG_BOOL: u8 = 0x10;
/// Zero; `TAG_INT ± n` for a number of `n` payload bytes (sign by direction).
const TAG_INT: u8 = 0x20;
const TAG_INT_SMALLEST: u8 = TAG_INT - 8;
const TAG_INT_LARGEST: u8 = TAG_INT + 8;
const TAG_FLOAT: u8 = 0x30;
const TAG_TEXT: u8 = 0x40;
const TAG_BYTES: u8 = 0x50;
const TAG_NULL: u8 = 0xF0;

/// Starts an escape pair inside Text and Bytes payloads.
const ESCAPE: u8 = 0x00;
/// After [`ESCAPE`]: the data held a zero byte here.
const ESCAPED_ZERO: u8 = 0xFF;
/// After [`ESCAPE`]: the value ends here.
const TERMINATOR: u8 = 0x00;

const SIGN_BIT: u64 = 1 << 63;
/// The one NaN that encoding writes: positive and quiet, so it sorts above `+inf`.
const CANONICAL_NAN_BITS: u64 = 0x7FF8_0000_0000_0000;
const NEGATIVE_ZERO_BITS: u64 = SIGN_BIT;

/// Width of the `Int` and `Float` payloads.
const WORD_BYTES: usize = 8;

/// One column value of an index key.
///
/// Every SQL integer width widens to `Int`. NUMERIC, dates and timestamps are
/// not here yet; timestamps are meant to map onto `Int` (microseconds), the
/// others onto new variants with tags of their own (see the module docs).
///
/// `PartialEq` is structural, so `Float(NaN) != Float(NaN)`; compare encoded
/// bytes to decide whether two keys are equal as the index sees them.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// SQL NULL; sorts after every value in an ascending column.
    Null,
    Bool(bool),
    Int(i64),
    /// Encoded with `-0.0` as `0.0` and every NaN as one NaN above `+inf`.
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

/// The direction of one index column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SortOrder {
    /// Smallest first, NULL last.
    #[default]
    Ascending,
    /// Largest first, NULL first: every byte of the column is inverted.
    Descending,
}

impl SortOrder {
    /// What each byte of a column is XORed with.
    fn mask(self) -> u8 {
        match self {
            SortOrder::Ascending => 0x00,
            SortOrder::Descending => 0xFF,
        }
    }
}

/// Appends the encoding of `values`, every column ascending, to `out`.
///
/// Appending (rather than returning a fresh vector) lets the caller reuse a
/// buffer and put its own bytes before or after the key.
pub fn encode_key(values: &[KeyValue], out: &mut Vec<u8>) {
    for value in values {
        encode_value(value, out);
    }
}

/// Appends the encoding of `values` to `out`, column `i` in `orders[i]`.
///
/// # Panics
///
/// If `values` and `orders` differ in length: the index definition fixes
/// both, so a mismatch is a bug in the caller, not bad input.
pub fn encode_key_with(values: &[KeyValue], orders: &[SortOrder], out: &mut Vec<u8>) {
    assert_eq!(values.len(), orders.len(), "an index key needs one sort order per column");
    for (value, order) in values.iter().zip(orders) {
        let column_start = out.len();
        encode_value(value, out);
        let mask = order.mask();
        for byte in out.iter_mut().skip(column_start) {
            *byte ^= mask;
        }
    }
}

/// Decodes a key of `orders.len()` columns written by [`encode_key_with`]
/// (or by [`encode_key`], with every order [`SortOrder::Ascending`]).
///
/// # Errors
///
/// [`Error::Corrupt`] unless `bytes` is exactly the canonical encoding of a
/// key with that many columns (see the module docs).
pub fn decode_key(bytes: &[u8], orders: &[SortOrder]) -> Result<Vec<KeyValue>> {
    let mut reader = KeyReader { bytes, position: 0, mask: 0 };
    let mut values = Vec::with_capacity(orders.len());
    for order in orders {
        reader.mask = order.mask();
        values.push(decode_value(&mut reader)?);
    }
    if reader.position != bytes.len() {
        return Err(reader.corrupt("bytes after the last column"));
    }
    Ok(values)
}

fn encode_value(value: &KeyValue, out: &mut Vec<u8>) {
    match value {
        KeyValue::Null => out.push(TAG_NULL),
        KeyValue::Bool(flag) => out.extend_from_slice(&[TAG_BOOL, u8::from(*flag)]),
        KeyValue::Int(number) => encode_int(*number, out),
        KeyValue::Float(number) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&encode_float(*number));
        }
        KeyValue::Text(text) => {
            out.push(TAG_TEXT);
            encode_escaped(text.as_bytes(), out);
        }
        KeyValue::Bytes(data) => {
            out.push(TAG_BYTES);
            encode_escaped(data, out);
        }
    }
}

fn encode_int(number: i64, out: &mut Vec<u8>) {
    let magnitude = number.unsigned_abs();
    let length = WORD_BYTES - (magnitude.leading_zeros() / 8) as usize;
    let (tag, payload) =
        if number < 0 { (TAG_INT - length as u8, !magnitude) } else { (TAG_INT + length as u8, magnitude) };
    out.push(tag);
    out.extend_from_slice(&payload.to_be_bytes()[WORD_BYTES - length..]);
}

/// The number an int tag and its payload stand for; `None` unless this is
/// the one encoding [`encode_int`] gives that number.
fn decode_int(tag: u8, payload: &[u8]) -> Option<i64> {
    let bits = payload.iter().fold(0u64, |bits, &byte| (bits << 8) | u64::from(byte));
    if tag >= TAG_INT {
        let shortest = payload.first() != Some(&0);
        return i64::try_from(bits).ok().filter(|_| shortest);
    }
    let shortest = payload.first() != Some(&0xFF);
    let unused_bits = 8 * (WORD_BYTES - payload.len()) as u32;
    // The negative branch always has a payload, so fewer than 64 bits shift.
    let magnitude = ((!bits) << unused_bits) >> unused_bits;
    // i64::MIN's magnitude is 2^63, one past i64::MAX.
    let number = 0i64.checked_sub_unsigned(magnitude)?;
    Some(number).filter(|_| shortest)
}

/// The float that stands for `number` in a key: one zero, one NaN.
fn normalize_float(number: f64) -> f64 {
    if number.is_nan() {
        f64::from_bits(CANONICAL_NAN_BITS)
    } else if number.to_bits() == NEGATIVE_ZERO_BITS {
        0.0
    } else {
        number
    }
}

fn encode_float(number: f64) -> [u8; WORD_BYTES] {
    let bits = normalize_float(number).to_bits();
    let ordered = if bits & SIGN_BIT == 0 { bits ^ SIGN_BIT } else { !bits };
    ordered.to_be_bytes()
}

/// Inverts [`encode_float`]; `None` for bits that encoding never writes.
fn decode_float(word: [u8; WORD_BYTES]) -> Option<f64> {
    let ordered = u64::from_be_bytes(word);
    let bits = if ordered & SIGN_BIT == 0 { !ordered } else { ordered ^ SIGN_BIT };
    let number = f64::from_bits(bits);
    let canonical = normalize_float(number).to_bits() == bits;
    canonical.then_some(number)
}

fn encode_escaped(data: &[u8], out: &mut Vec<u8>) {
    for &byte in data {
        if byte == ESCAPE {
            out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        } else {
            out.push(byte);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

fn decode_value(reader: &mut KeyReader<'_>) -> Result<KeyValue> {
    let tag_position = reader.position;
    let value = match reader.byte("tag")? {
        TAG_NULL => KeyValue::Null,
        TAG_BOOL => match reader.byte("bool")? {
            0 => KeyValue::Bool(false),
            1 => KeyValue::Bool(true),
            _ => return Err(reader.corrupt("bool byte other than 0 or 1")),
        },
        tag @ TAG_INT_SMALLEST..=TAG_INT_LARGEST => {
            let payload = reader.bytes(usize::from(tag.abs_diff(TAG_INT)), "int")?;
            KeyValue::Int(decode_int(tag, &payload).ok_or_else(|| reader.corrupt("non-canonical int"))?)
        }
        TAG_FLOAT => {
            let word = reader.word("float")?;
            KeyValue::Float(decode_float(word).ok_or_else(|| reader.corrupt("non-canonical float (-0.0 or NaN)"))?)
        }
        TAG_TEXT => {
            let data = reader.escaped("text")?;
            KeyValue::Text(String::from_utf8(data).map_err(|_| reader.corrupt("text that is not UTF-8"))?)
        }
        TAG_BYTES => KeyValue::Bytes(reader.escaped("bytes")?),
        _ => {
            reader.position = tag_position;
            return Err(reader.corrupt("unknown tag"));
        }
    };
    debug_assert!(reader.position > tag_position, "every column consumes its tag");
    Ok(value)
}

/// Reads one column at a time, undoing that column's inversion as it goes.
struct KeyReader<'a> {
    bytes: &'a [u8],
    /// Index of the next unread byte; never beyond `bytes.len()`.
    position: usize,
    /// XORed into each byte read: 0x00 ascending, 0xFF descending.
    mask: u8,
}

impl KeyReader<'_> {
    fn corrupt(&self, what: &str) -> Error {
        Error::Corrupt(format!("index key of {} bytes: {what} at byte {}", self.bytes.len(), self.position))
    }

    fn byte(&mut self, what: &str) -> Result<u8> {
        let Some(&raw) = self.bytes.get(self.position) else {
            return Err(self.corrupt(&format!("truncated {what}")));
        };
        self.position += 1;
        Ok(raw ^ self.mask)
    }

    fn word(&mut self, what: &str) -> Result<[u8; WORD_BYTES]> {
        let remaining = self.bytes.get(self.position..).unwrap_or_default();
        let Some((raw, _)) = remaining.split_first_chunk::<WORD_BYTES>() else {
            return Err(self.corrupt(&format!("truncated {what}")));
        };
        self.position += WORD_BYTES;
        Ok(raw.map(|byte| byte ^ self.mask))
    }

    fn bytes(&mut self, length: usize, what: &str) -> Result<Vec<u8>> {
        let remaining = self.bytes.get(self.position..).unwrap_or_default();
        let Some(raw) = remaining.get(..length) else {
            return Err(self.corrupt(&format!("truncated {what}")));
        };
        self.position += length;
        Ok(raw.iter().map(|byte| byte ^ self.mask).collect())
    }

    /// Reads an escaped payload through its terminator and returns the data.
    fn escaped(&mut self, what: &str) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        // Each pass consumes at least one byte, so the input length bounds the loop.
        loop {
            let byte = self.byte(what)?;
            if byte != ESCAPE {
                data.push(byte);
                continue;
            }
            match self.byte(what)? {
                TERMINATOR => return Ok(data),
                ESCAPED_ZERO => data.push(0),
                _ => return Err(self.corrupt(&format!("bad escape in {what}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::*;

    const ASC: SortOrder = SortOrder::Ascending;
    const DESC: SortOrder = SortOrder::Descending;

    fn encoded(values: &[KeyValue]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(values, &mut out);
        out
    }

    fn encoded_with(values: &[KeyValue], orders: &[SortOrder]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_with(values, orders, &mut out);
        out
    }

    fn text(text: &str) -> KeyValue {
        KeyValue::Text(text.to_owned())
    }

    /// `values`, given in ascending SQL order, encode strictly increasing
    /// (ascending) and strictly decreasing (descending), and round-trip.
    fn assert_strictly_ordered(values: &[KeyValue]) {
        for pair in values.windows(2) {
            let (low, high) = (&pair[0], &pair[1]);
            let (low_key, high_key) = (std::slice::from_ref(low), std::slice::from_ref(high));
            assert!(encoded(low_key) < encoded(high_key), "{low:?} < {high:?} ascending");
            assert!(encoded_with(low_key, &[DESC]) > encoded_with(high_key, &[DESC]), "{low:?} > {high:?} descending");
        }
        for value in values {
            for order in [ASC, DESC] {
                let key = std::slice::from_ref(value);
                let decoded = decode_key(&encoded_with(key, &[order]), &[order]).unwrap();
                assert!(same_key(&decoded, &normalized(key)), "{value:?} round trip {order:?}");
            }
        }
    }

    fn normalized(values: &[KeyValue]) -> Vec<KeyValue> {
        let normalize = |value: &KeyValue| match value {
            KeyValue::Float(number) if number.is_nan() => KeyValue::Float(f64::NAN),
            KeyValue::Float(number) if *number == 0.0 => KeyValue::Float(0.0),
            other => other.clone(),
        };
        values.iter().map(normalize).collect()
    }

    /// Equality that treats every NaN as equal and tells -0.0 from 0.0.
    fn same_key(left: &[KeyValue], right: &[KeyValue]) -> bool {
        let same = |pair: (&KeyValue, &KeyValue)| match pair {
            (KeyValue::Float(a), KeyValue::Float(b)) => (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        };
        left.len() == right.len() && left.iter().zip(right).all(same)
    }

    /// SQL order of one column, ascending, written without any encoding
    /// tricks: NULL above everything, NaN above every number, -0.0 = 0.0.
    fn reference_compare_value(left: &KeyValue, right: &KeyValue) -> Ordering {
        use KeyValue::*;
        match (left, right) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Greater,
            (_, Null) => Ordering::Less,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => a.partial_cmp(b).unwrap(),
            },
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            _ => panic!("the model compares one type per column: {left:?} vs {right:?}"),
        }
    }

    fn reference_compare(left: &[KeyValue], right: &[KeyValue], orders: &[SortOrder]) -> Ordering {
        for ((a, b), order) in left.iter().zip(right).zip(orders) {
            let ascending = reference_compare_value(a, b);
            let ordering = if *order == DESC { ascending.reverse() } else { ascending };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    fn assert_corrupt(bytes: &[u8], orders: &[SortOrder]) {
        let result = decode_key(bytes, orders);
        assert!(matches!(result, Err(Error::Corrupt(_))), "{bytes:02x?} gave {result:?}");
    }

    #[test]
    fn integers_order_from_min_to_max() {
        let numbers = [i64::MIN, i64::MIN + 1, -256, -1, 0, 1, 255, 256, i64::MAX - 1, i64::MAX];
        assert_strictly_ordered(&numbers.map(KeyValue::Int));
    }

    #[test]
    fn floats_order_from_negative_infinity_to_nan() {
        let numbers = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -f64::from_bits(1),
            0.0,
            f64::from_bits(1),
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        assert_strictly_ordered(&numbers.map(KeyValue::Float));
    }

    #[test]
    fn negative_zero_and_every_nan_encode_canonically() {
        assert_eq!(encoded(&[KeyValue::Float(-0.0)]), encoded(&[KeyValue::Float(0.0)]));
        let nans = [f64::NAN, -f64::NAN, f64::from_bits(0x7FF0_0000_0000_0001), f64::from_bits(u64::MAX)];
        for nan in nans {
            assert!(nan.is_nan());
            assert_eq!(encoded(&[KeyValue::Float(nan)]), encoded(&[KeyValue::Float(f64::NAN)]), "{:x}", nan.to_bits());
        }
        let zero = decode_key(&encoded(&[KeyValue::Float(-0.0)]), &[ASC]).unwrap();
        assert!(matches!(zero.as_slice(), [KeyValue::Float(z)] if z.to_bits() == 0));
    }

    #[test]
    fn strings_order_bytewise_with_prefixes_first() {
        let texts = ["", "\0", "\0\0", "\0a", "a", "a\0", "a\0b", "ab", "abc", "b", "\u{ff}", "\u{10FFFF}"];
        assert_strictly_ordered(&texts.map(text));
        let blobs: [&[u8]; 9] =
            [&[], &[0x00], &[0x00, 0x00], &[0x00, 0xFF], &[0x01], &[0xFE, 0xFF], &[0xFF], &[0xFF, 0x00], &[0xFF, 0xFF]];
        assert_strictly_ordered(&blobs.map(|blob| KeyValue::Bytes(blob.to_vec())));
    }

    #[test]
    fn a_prefix_string_sorts_first_whatever_the_next_column_holds() {
        // A length prefix, or raw bytes without a terminator, would compare
        // the next column (or a length) of "ab" against the 'c' of "abc".
        let short = [text("ab"), KeyValue::Int(i64::MAX)];
        let long = [text("abc"), KeyValue::Int(i64::MIN)];
        assert!(encoded(&short) < encoded(&long));
        assert!(encoded_with(&short, &[DESC, ASC]) > encoded_with(&long, &[DESC, ASC]));
        let with_zero = [KeyValue::Bytes(vec![b'a', 0]), KeyValue::Null];
        let without = [KeyValue::Bytes(vec![b'a']), KeyValue::Null];
        assert!(encoded(&without) < encoded(&with_zero));
    }

    #[test]
    fn booleans_order_false_before_true() {
        assert_strictly_ordered(&[KeyValue::Bool(false), KeyValue::Bool(true)]);
    }

    #[test]
    fn null_sorts_last_ascending_and_first_descending() {
        let values = [KeyValue::Int(i64::MAX), KeyValue::Float(f64::NAN), text("\u{10FFFF}"), KeyValue::Bool(true)];
        for value in values {
            let key = [value];
            assert!(encoded(&key) < encoded(&[KeyValue::Null]), "{key:?}");
            assert!(encoded_with(&key, &[DESC]) > encoded_with(&[KeyValue::Null], &[DESC]), "{key:?}");
        }
        assert_strictly_ordered(&[KeyValue::Int(0), KeyValue::Null]);
    }

    #[test]
    fn mixed_types_in_one_column_order_by_tag() {
        let values = [
            KeyValue::Bool(true),
            KeyValue::Int(2),
            KeyValue::Float(0.5),
            text(""),
            KeyValue::Bytes(Vec::new()),
            KeyValue::Null,
        ];
        assert_strictly_ordered(&values);
    }

    #[test]
    fn layout_matches_the_module_docs() {
        assert_eq!(encoded(&[KeyValue::Int(0)]), [0x20]);
        assert_eq!(encoded(&[KeyValue::Int(1)]), [0x21, 0x01]);
        assert_eq!(encoded(&[KeyValue::Int(-1)]), [0x1F, 0xFE]);
        assert_eq!(encoded(&[KeyValue::Int(256)]), [0x22, 0x01, 0x00]);
        assert_eq!(encoded(&[KeyValue::Int(-256)]), [0x1E, 0xFE, 0xFF]);
        assert_eq!(encoded(&[KeyValue::Int(i64::MAX)]), [0x28, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(encoded(&[KeyValue::Int(i64::MIN)]), [0x18, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(encoded(&[KeyValue::Float(1.0)]), [0x30, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded(&[KeyValue::Float(f64::NAN)]), [0x30, 0xFF, 0xF8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded(&[text("a\0")]), [0x40, 0x61, 0x00, 0xFF, 0x00, 0x00]);
        assert_eq!(encoded(&[KeyValue::Bool(true), KeyValue::Null]), [0x10, 0x01, 0xF0]);
        assert_eq!(encoded_with(&[KeyValue::Null, text("")], &[DESC, ASC]), [0x0F, 0x40, 0x00, 0x00]);
        assert_eq!(encoded_with(&[KeyValue::Bytes(vec![0])], &[DESC]), [0xAF, 0xFF, 0x00, 0xFF, 0xFF]);
    }

    #[test]
    fn encoding_appends_to_what_the_buffer_holds() {
        let mut out = vec![0xAA];
        encode_key(&[KeyValue::Bool(false)], &mut out);
        encode_key_with(&[KeyValue::Bool(false)], &[DESC], &mut out);
        assert_eq!(out, [0xAA, 0x10, 0x00, 0xEF, 0xFF]);
    }

    #[test]
    fn empty_key_is_empty_bytes() {
        assert!(encoded(&[]).is_empty());
        assert_eq!(decode_key(&[], &[]).unwrap(), []);
    }

    #[test]
    fn malformed_keys_are_corrupt() {
        assert_corrupt(&[], &[ASC]);
        assert_corrupt(&[0x00], &[ASC]);
        assert_corrupt(&[0x21], &[ASC]);
        assert_corrupt(&[0x10], &[ASC]);
        assert_corrupt(&[0x10, 0x02], &[ASC]);
        assert_corrupt(&[0x22, 0x01], &[ASC]);
        assert_corrupt(&[0x22, 0x00, 0x01], &[ASC]);
        assert_corrupt(&[0x1E, 0xFF, 0x01], &[ASC]);
        assert_corrupt(&[0x28, 0x80, 0, 0, 0, 0, 0, 0, 0], &[ASC]);
        assert_corrupt(&[0x18, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE], &[ASC]);
        assert_corrupt(&[0x40, 0x61, 0x00], &[ASC]);
        assert_corrupt(&[0x40, 0x61, 0x00, 0x01], &[ASC]);
        assert_corrupt(&[0x40, 0x61], &[ASC]);
        assert_corrupt(&[0x40, 0xC3, 0x00, 0x00], &[ASC]);
        assert_corrupt(&[0xF0, 0xF0], &[ASC]);
        assert_corrupt(&[0xF0], &[DESC]);
        assert_corrupt(&[0xF0], &[ASC, ASC]);
    }

    #[test]
    fn non_canonical_floats_are_corrupt() {
        let negative_zero = [0x30, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(decode_float(negative_zero[1..].try_into().unwrap()), None);
        assert_corrupt(&negative_zero, &[ASC]);
        let payload_nan = [0x30, 0xFF, 0xF0, 0, 0, 0, 0, 0, 1];
        assert_corrupt(&payload_nan, &[ASC]);
        let negative_nan = [0x30, 0x00, 0x07, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_corrupt(&negative_nan, &[ASC]);
    }

    #[derive(Debug, Clone, Copy)]
    enum ColumnType {
        Bool,
        Int,
        Float,
        Text,
        Bytes,
    }

    fn column_type() -> impl Strategy<Value = ColumnType> {
        use ColumnType::*;
        prop_oneof![Just(Bool), Just(Int), Just(Float), Just(Text), Just(Bytes)]
    }

    fn sort_order() -> impl Strategy<Value = SortOrder> {
        prop_oneof![Just(ASC), Just(DESC)]
    }

    /// Values of one type, drawn from small pools often enough that equal
    /// values, shared prefixes and zero bytes are common.
    fn value_of(column_type: ColumnType) -> BoxedStrategy<KeyValue> {
        let specials = [0.0, -0.0, 1.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN, f64::MIN_POSITIVE];
        let value = match column_type {
            ColumnType::Bool => any::<bool>().prop_map(KeyValue::Bool).boxed(),
            ColumnType::Int => {
                prop_oneof![any::<i64>(), -3_i64..3, Just(i64::MIN), Just(i64::MAX)].prop_map(KeyValue::Int).boxed()
            }
            ColumnType::Float => prop_oneof![
                any::<f64>(),
                prop::sample::select(specials.to_vec()),
                any::<u64>().prop_map(f64::from_bits)
            ]
            .prop_map(KeyValue::Float)
            .boxed(),
            ColumnType::Text => {
                let chars = prop::sample::select(vec!['a', 'b', '\0', '\u{ff}', '\u{10FFFF}']);
                prop::collection::vec(chars, 0..5).prop_map(|chars| KeyValue::Text(chars.into_iter().collect())).boxed()
            }
            ColumnType::Bytes => {
                let pool = prop::sample::select(vec![0x00_u8, 0x01, 0x61, 0xFE, 0xFF]);
                prop_oneof![prop::collection::vec(pool, 0..5), prop::collection::vec(any::<u8>(), 0..8)]
                    .prop_map(KeyValue::Bytes)
                    .boxed()
            }
        };
        prop_oneof![1 => Just(KeyValue::Null), 4 => value].boxed()
    }

    /// A key of 1 to 4 columns with random types, and its column orders.
    fn key_and_orders() -> impl Strategy<Value = (Vec<ColumnType>, Vec<KeyValue>, Vec<SortOrder>)> {
        prop::collection::vec((column_type(), sort_order()), 1..=4).prop_flat_map(|columns| {
            let types: Vec<ColumnType> = columns.iter().map(|(column_type, _)| *column_type).collect();
            let orders: Vec<SortOrder> = columns.iter().map(|(_, order)| *order).collect();
            let values: Vec<_> = types.iter().map(|column_type| value_of(*column_type)).collect();
            (Just(types), values, Just(orders))
        })
    }

    /// Two keys of the same column types; the second often copies columns of
    /// the first so that ties and equal prefixes get exercised.
    fn key_pair() -> impl Strategy<Value = (Vec<KeyValue>, Vec<KeyValue>, Vec<SortOrder>)> {
        key_and_orders().prop_flat_map(|(types, first, orders)| {
            let second: Vec<_> = types
                .iter()
                .zip(&first)
                .map(|(column_type, value)| prop_oneof![Just(value.clone()), value_of(*column_type)])
                .collect();
            (Just(first), second, Just(orders))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn byte_order_is_sql_order((first, second, orders) in key_pair()) {
            let expected = reference_compare(&first, &second, &orders);
            let actual = encoded_with(&first, &orders).cmp(&encoded_with(&second, &orders));
            prop_assert_eq!(actual, expected, "{:?} vs {:?} with {:?}", first, second, orders);
        }

        #[test]
        fn decode_inverts_encode((_, key, orders) in key_and_orders()) {
            let bytes = encoded_with(&key, &orders);
            let decoded = decode_key(&bytes, &orders).unwrap();
            prop_assert!(same_key(&decoded, &normalized(&key)), "{:?} decoded as {:?}", key, decoded);
            prop_assert_eq!(encoded_with(&decoded, &orders), bytes);
        }

        #[test]
        fn decode_of_arbitrary_bytes_is_an_error_or_canonical(
            bytes in prop::collection::vec(any::<u8>(), 0..48),
            orders in prop::collection::vec(sort_order(), 0..4),
        ) {
            if let Ok(decoded) = decode_key(&bytes, &orders) {
                prop_assert_eq!(encoded_with(&decoded, &orders), bytes);
            }
        }

        #[test]
        fn decode_of_damaged_keys_is_an_error_or_canonical(
            (_, key, orders) in key_and_orders(),
            position in any::<prop::sample::Index>(),
            damage in 0_u8..4,
            byte in any::<u8>(),
        ) {
            let mut bytes = encoded_with(&key, &orders);
            let at = position.index(bytes.len() + 1);
            match damage {
                0 => bytes.truncate(at),
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => bytes[at] ^= byte | 1,
                _ if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.push(byte),
            }
            if let Ok(decoded) = decode_key(&bytes, &orders) {
                prop_assert_eq!(encoded_with(&decoded, &orders), bytes);
            }
        }
    }
}
