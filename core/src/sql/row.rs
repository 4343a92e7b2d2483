//! How SQL rows and keys are stored as bytes.
//!
//! A table is a versioned table of the transaction engine: the key is the
//! primary key (or a hidden row id) in the memcomparable encoding of
//! [`crate::index::key`], so byte order is value order; the row is every
//! column in a compact tagged encoding ([`encode_row`]): a tag byte per
//! value, lengths and integer-like values (INT, DATE, TIME, TIMESTAMP) as
//! varints ([`crate::storage::varint`]), so a small number takes one or two
//! bytes rather than eight; floats, NUMERIC, UUID and INTERVAL fixed width. An index entry's key
//! is the indexed columns followed by the row's key, so equal index values
//! stay distinct and a range of the index is a range of bytes.
//!
//! Invariant: `decode_row(encode_row(r)) == r` for every row (tested).

use rust_decimal::Decimal;

use crate::index::key::{KeyValue, encode_key};
use crate::sql::batch::ColumnBuilder;
use crate::sql::value::{Interval, Value};
use crate::storage::varint;
use crate::{Error, Result};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const INT: u8 = 3;
const FLOAT: u8 = 4;
const NUMERIC: u8 = 5;
const TEXT: u8 = 6;
const BYTES: u8 = 7;
const DATE: u8 = 8;
const TIME: u8 = 9;
const TIMESTAMP: u8 = 10;
const TIMESTAMPTZ: u8 = 11;
const INTERVAL: u8 = 12;
const UUID: u8 = 13;
const JSON: u8 = 14;
const ARRAY: u8 = 15;

/// Appends `row`'s encoding to `out`.
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    put_len(row.len(), out);
    for value in row {
        encode_value(value, out);
    }
}

fn put_len(len: usize, out: &mut Vec<u8>) {
    varint::put_u64(len as u64, out);
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(b) => out.push(if *b { TRUE } else { FALSE }),
        Value::Int(i) => put_i64(INT, *i, out),
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Numeric(d) => {
            out.push(NUMERIC);
            out.extend_from_slice(&d.serialize());
        }
        Value::Text(s) => put_bytes(TEXT, s.as_bytes(), out),
        Value::Bytes(b) => put_bytes(BYTES, b, out),
        Value::Date(d) => put_i64(DATE, i64::from(*d), out),
        Value::Time(t) => put_i64(TIME, *t, out),
        Value::Timestamp(t) => put_i64(TIMESTAMP, *t, out),
        Value::TimestampTz(t) => put_i64(TIMESTAMPTZ, *t, out),
        Value::Interval(i) => {
            out.push(INTERVAL);
            out.extend_from_slice(&i.months.to_le_bytes());
            out.extend_from_slice(&i.days.to_le_bytes());
            out.extend_from_slice(&i.micros.to_le_bytes());
        }
        Value::Uuid(u) => {
            out.push(UUID);
            out.extend_from_slice(&u.to_le_bytes());
        }
        Value::Json(s) => put_bytes(JSON, s.as_bytes(), out),
        Value::Array(items) => {
            out.push(ARRAY);
            encode_row(items, out);
        }
    }
}

fn put_i64(tag: u8, v: i64, out: &mut Vec<u8>) {
    out.push(tag);
    varint::put_i64(v, out);
}

fn put_bytes(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    put_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// Decodes a row written by [`encode_row`].
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut reader = Reader { bytes, pos: 0 };
    let row = reader.row()?;
    if reader.pos != bytes.len() {
        return Err(Error::Corrupt("trailing bytes after a stored row".into()));
    }
    Ok(row)
}

/// Decodes a stored row straight into column builders (one per column),
/// without building a row of values first: the scan's hot path. With
/// `needed`, a column not marked there gets nothing, and decoding stops at
/// its end (callers trim it after the last marked column).
pub fn decode_row_into(bytes: &[u8], builders: &mut [ColumnBuilder], needed: Option<&[bool]>) -> Result<()> {
    let mut reader = Reader { bytes, pos: 0 };
    let len = reader.len()?;
    if len != builders.len() {
        return Err(Error::Corrupt(format!("stored row has {len} columns, the table {}", builders.len())));
    }
    let wanted = |column: usize| needed.is_none_or(|needed| needed.get(column) == Some(&true));
    let decoded = needed.map_or(len, |needed| needed.len().min(len));
    for (column, builder) in builders.iter_mut().enumerate().take(decoded) {
        if !wanted(column) {
            reader.skip_value()?;
            continue;
        }
        // Integers and NULLs go straight into typed columns: the common
        // case, which should not build a `Value` per cell.
        match (builder, reader.bytes.get(reader.pos).copied()) {
            (ColumnBuilder::Int(values, nulls), Some(INT)) => {
                reader.pos += 1;
                values.push(reader.i64()?);
                nulls.push(false);
            }
            (builder, Some(NULL)) => {
                reader.pos += 1;
                builder.push_null();
            }
            (builder, _) => builder.push(reader.value()?),
        }
    }
    if decoded == len && reader.pos != bytes.len() {
        return Err(Error::Corrupt("trailing bytes after a stored row".into()));
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| Error::Corrupt("stored row ends early".into()))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len(&mut self) -> Result<usize> {
        let rest = &self.bytes[self.pos..];
        let (len, used) = varint::get_u64(rest).ok_or_else(|| Error::Corrupt("bad length in a stored row".into()))?;
        self.pos += used;
        usize::try_from(len).map_err(|_| Error::Corrupt("stored length beyond memory".into()))
    }

    fn i64(&mut self) -> Result<i64> {
        let rest = &self.bytes[self.pos..];
        let (value, used) =
            varint::get_i64(rest).ok_or_else(|| Error::Corrupt("bad integer in a stored row".into()))?;
        self.pos += used;
        Ok(value)
    }

    fn string(&mut self) -> Result<String> {
        let len = self.len()?;
        let bytes = self.take(len)?.to_vec();
        String::from_utf8(bytes).map_err(|_| Error::Corrupt("stored text is not UTF-8".into()))
    }

    fn row(&mut self) -> Result<Vec<Value>> {
        let len = self.len()?;
        if len > self.bytes.len() {
            return Err(Error::Corrupt("stored row claims more columns than bytes".into()));
        }
        (0..len).map(|_| self.value()).collect()
    }

    /// Moves past one value, decoding as little of it as its tag allows.
    fn skip_value(&mut self) -> Result<()> {
        match self.bytes.get(self.pos).copied() {
            Some(NULL | FALSE | TRUE) => self.pos += 1,
            Some(INT | DATE | TIME | TIMESTAMP | TIMESTAMPTZ) => {
                self.pos += 1;
                self.i64()?;
            }
            Some(TEXT | BYTES | JSON) => {
                self.pos += 1;
                let len = self.len()?;
                self.take(len)?;
            }
            _ => {
                self.value()?;
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Value> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            INT => Value::Int(self.i64()?),
            FLOAT => Value::Float(f64::from_le_bytes(self.array()?)),
            NUMERIC => Value::Numeric(Decimal::deserialize(self.array()?)),
            TEXT => Value::Text(self.string()?),
            BYTES => {
                let len = self.len()?;
                Value::Bytes(self.take(len)?.to_vec())
            }
            DATE => {
                Value::Date(i32::try_from(self.i64()?).map_err(|_| Error::Corrupt("stored date out of range".into()))?)
            }
            TIME => Value::Time(self.i64()?),
            TIMESTAMP => Value::Timestamp(self.i64()?),
            TIMESTAMPTZ => Value::TimestampTz(self.i64()?),
            INTERVAL => {
                let months = i32::from_le_bytes(self.array()?);
                let days = i32::from_le_bytes(self.array()?);
                Value::Interval(Interval { months, days, micros: i64::from_le_bytes(self.array()?) })
            }
            UUID => Value::Uuid(u128::from_le_bytes(self.array()?)),
            JSON => Value::Json(self.string()?),
            ARRAY => Value::Array(self.row()?),
            other => return Err(Error::Corrupt(format!("unknown value tag {other} in a stored row"))),
        })
    }
}

/// The memcomparable key of `values`: byte order is the values' order for
/// every type whose [`key_value`] preserves order (all but NUMERIC, which
/// keys by exact text: equality holds, order does not).
pub fn encode_key_values(values: &[Value], out: &mut Vec<u8>) {
    let keys: Vec<KeyValue> = values.iter().map(key_value).collect();
    encode_key(&keys, out);
}

/// Whether a range of keys of this value's type is a range of values.
pub fn key_preserves_order(value: &Value) -> bool {
    !matches!(value, Value::Numeric(_) | Value::Interval(_) | Value::Array(_) | Value::Json(_))
}

fn key_value(value: &Value) -> KeyValue {
    match value {
        Value::Null => KeyValue::Null,
        Value::Bool(b) => KeyValue::Bool(*b),
        Value::Int(i) => KeyValue::Int(*i),
        Value::Float(f) => KeyValue::Float(*f),
        Value::Numeric(d) => KeyValue::Text(d.normalize().to_string()),
        Value::Text(s) | Value::Json(s) => KeyValue::Text(s.clone()),
        Value::Bytes(b) => KeyValue::Bytes(b.clone()),
        Value::Date(d) => KeyValue::Int(*d as i64),
        Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => KeyValue::Int(*t),
        Value::Interval(i) => KeyValue::Bytes(interval_bytes(i)),
        Value::Uuid(u) => KeyValue::Bytes(u.to_be_bytes().to_vec()),
        Value::Array(items) => {
            let mut out = Vec::new();
            encode_key_values(items, &mut out);
            KeyValue::Bytes(out)
        }
    }
}

fn interval_bytes(i: &Interval) -> Vec<u8> {
    let mut out = i.months.to_be_bytes().to_vec();
    out.extend_from_slice(&i.days.to_be_bytes());
    out.extend_from_slice(&i.micros.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use crate::sql::value::DataType;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<i64>().prop_map(|i| Value::Float(i as f64 / 7.0)),
            any::<i64>().prop_map(|i| Value::Numeric(Decimal::new(i, 3))),
            ".{0,20}".prop_map(Value::Text),
            any::<i32>().prop_map(Value::Date),
            any::<i64>().prop_map(Value::Timestamp),
            (any::<i32>(), any::<i32>(), any::<i64>()).prop_map(|(months, days, micros)| Value::Interval(Interval {
                months,
                days,
                micros
            })),
            any::<u128>().prop_map(Value::Uuid),
        ]
    }

    proptest! {
        #[test]
        fn rows_round_trip(row in proptest::collection::vec(value(), 0..8)) {
            let mut bytes = Vec::new();
            encode_row(&row, &mut bytes);
            let back = decode_row(&bytes).unwrap();
            prop_assert_eq!(back.len(), row.len());
            for (a, b) in back.iter().zip(&row) {
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
            }
        }

        #[test]
        fn truncated_rows_are_errors_not_panics(row in proptest::collection::vec(value(), 1..4), cut in 0usize..64) {
            let mut bytes = Vec::new();
            encode_row(&row, &mut bytes);
            if cut < bytes.len() {
                prop_assert!(decode_row(&bytes[..cut]).is_err());
            }
        }

        #[test]
        fn needed_columns_decode_and_the_rest_are_skipped(row in proptest::collection::vec(value(), 1..6), mask in any::<u8>(), trim in 0usize..6) {
            use crate::sql::batch::ColumnBuilder;
            let mut bytes = Vec::new();
            encode_row(&row, &mut bytes);
            let mut needed: Vec<bool> = (0..row.len()).map(|i| mask & (1 << i) != 0).collect();
            needed.truncate(row.len() - trim.min(row.len() - 1));
            let types = [DataType::Unknown, DataType::Int64];
            let mut builders: Vec<ColumnBuilder> = (0..row.len()).map(|i| ColumnBuilder::new(&types[i % 2], 1)).collect();
            decode_row_into(&bytes, &mut builders, Some(&needed)).unwrap();
            for (column, (builder, value)) in builders.into_iter().zip(&row).enumerate() {
                let column_data = builder.finish();
                if needed.get(column) == Some(&true) {
                    prop_assert_eq!(format!("{:?}", column_data.get(0)), format!("{value:?}"));
                } else {
                    prop_assert!(column_data.is_empty());
                }
            }
        }

        #[test]
        fn int_keys_order_as_values(a in any::<i64>(), b in any::<i64>()) {
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            encode_key_values(&[Value::Int(a)], &mut ka);
            encode_key_values(&[Value::Int(b)], &mut kb);
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
        }
    }
}
