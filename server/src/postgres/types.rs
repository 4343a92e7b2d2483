//! SQL types on the wire: the types clients name by OID, and values in the
//! text and binary formats of the protocol.
//!
//! Text is PostgreSQL's output format (`cast::format_value`), so clients
//! parse it as they would PostgreSQL's. Binary follows PostgreSQL's
//! `*send`/`*recv` functions; dates and timestamps count from 2000-01-01
//! there, from 1970-01-01 in the engine.

use rust_decimal::Decimal;
use rustydb_core::sql::cast::{self, format_value};
use rustydb_core::sql::{DataType, Interval, Value};
use rustydb_core::{Error, Result};

/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The type a client names by OID in Parse (0: let the server infer).
pub fn type_of_oid(oid: u32) -> Result<DataType> {
    Ok(match oid {
        0 | 705 => DataType::Unknown,
        // bpchar parameters are cast on assignment to the column's CHAR(n).
        1042 => DataType::Text,
        1014 => DataType::Array(Box::new(DataType::Text)),
        other => DataType::from_oid(other, -1)
            .ok_or_else(|| Error::sql("42704", format!("type with OID {other} is not supported")))?,
    })
}

/// A value in the text format (NULL is sent as a length of -1 by the caller).
pub fn encode_text(value: &Value) -> Vec<u8> {
    format_value(value).into_bytes()
}

/// A value of type `ty` in the binary format.
pub fn encode_binary(value: &Value, ty: &DataType, out: &mut Vec<u8>) -> Result<()> {
    match (value, ty) {
        (Value::Bool(b), _) => out.push(u8::from(*b)),
        (Value::Int(i), DataType::Int16) => out.extend_from_slice(&(*i as i16).to_be_bytes()),
        (Value::Int(i), DataType::Int32) => out.extend_from_slice(&(*i as i32).to_be_bytes()),
        (Value::Int(i), _) => out.extend_from_slice(&i.to_be_bytes()),
        (Value::Float(f), DataType::Float32) => out.extend_from_slice(&(*f as f32).to_be_bytes()),
        (Value::Float(f), _) => out.extend_from_slice(&f.to_be_bytes()),
        (Value::Numeric(d), _) => encode_numeric(d, out),
        (Value::Text(s), _) => out.extend_from_slice(s.as_bytes()),
        (Value::Json(s), DataType::Jsonb) => {
            out.push(1);
            out.extend_from_slice(s.as_bytes());
        }
        (Value::Json(s), _) => out.extend_from_slice(s.as_bytes()),
        (Value::Bytes(b), _) => out.extend_from_slice(b),
        (Value::Date(d), _) => out.extend_from_slice(&(d - PG_EPOCH_DAYS).to_be_bytes()),
        (Value::Time(t), _) => out.extend_from_slice(&t.to_be_bytes()),
        (Value::Timestamp(t) | Value::TimestampTz(t), _) => out.extend_from_slice(&(t - PG_EPOCH_MICROS).to_be_bytes()),
        (Value::Interval(i), _) => {
            out.extend_from_slice(&i.micros.to_be_bytes());
            out.extend_from_slice(&i.days.to_be_bytes());
            out.extend_from_slice(&i.months.to_be_bytes());
        }
        (Value::Uuid(u), _) => out.extend_from_slice(&u.to_be_bytes()),
        (Value::Array(items), DataType::Array(element)) => encode_array(items, element, out)?,
        (Value::Array(_), other) => {
            return Err(Error::sql("42804", format!("array value in a column of type {other:?}")));
        }
        (Value::Null, _) => return Err(Error::sql("XX000", "NULL has no binary encoding (sent as length -1)")),
    }
    Ok(())
}

fn encode_array(items: &[Value], element: &DataType, out: &mut Vec<u8>) -> Result<()> {
    if items.iter().any(|v| matches!(v, Value::Array(_))) {
        return Err(Error::NotSupported("multidimensional arrays in the binary format".into()));
    }
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&i32::from(items.iter().any(Value::is_null)).to_be_bytes());
    out.extend_from_slice(&element.oid().to_be_bytes());
    out.extend_from_slice(&(items.len() as i32).to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    for item in items {
        if item.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let start = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        encode_binary(item, element, out)?;
        let len = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// NUMERIC as base-10000 digits: ndigits, weight, sign, dscale, digits.
fn encode_numeric(d: &Decimal, out: &mut Vec<u8>) {
    let scale = d.scale() as usize;
    let text = d.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int_part = int_part.trim_start_matches('0');
    // Pad the integer part on the left and the fraction on the right to
    // whole groups of four decimal digits.
    let int_padded = format!("{}{int_part}", "0".repeat((4 - int_part.len() % 4) % 4));
    let frac_padded = format!("{frac_part}{}", "0".repeat((4 - frac_part.len() % 4) % 4));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap().parse().unwrap()).collect()
    };
    let int_groups = group(&int_padded);
    let mut digits: Vec<i16> = int_groups.iter().copied().chain(group(&frac_padded)).collect();
    let mut weight = int_groups.len() as i16 - 1;
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign: u16 = if d.is_sign_negative() && !d.is_zero() { 0x4000 } else { 0 };
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for digit in digits {
        out.extend_from_slice(&digit.to_be_bytes());
    }
}

fn decode_numeric(bytes: &[u8]) -> Result<Decimal> {
    let field = |i: usize| -> Result<i16> {
        bytes.get(i * 2..i * 2 + 2).map(|b| i16::from_be_bytes([b[0], b[1]])).ok_or_else(|| invalid_binary("numeric"))
    };
    let (ndigits, weight, sign, dscale) = (field(0)?, field(1)?, field(2)? as u16, field(3)?);
    if sign == 0xC000 {
        return Err(Error::NotSupported("NUMERIC NaN".into()));
    }
    let groups: String =
        (0..ndigits.max(0) as usize).map(|i| field(4 + i).map(|d| format!("{d:04}"))).collect::<Result<_>>()?;
    let int_groups = i64::from(weight) + 1;
    let total = i64::from(ndigits.max(0));
    let mut text = String::from(if sign == 0x4000 { "-" } else { "" });
    if int_groups <= 0 {
        text.push_str("0.");
        text.push_str(&"0000".repeat((-int_groups) as usize));
        text.push_str(&groups);
    } else if int_groups >= total {
        text.push_str(&groups);
        text.push_str(&"0000".repeat((int_groups - total) as usize));
    } else {
        let split = int_groups as usize * 4;
        text.push_str(&groups[..split]);
        text.push('.');
        text.push_str(&groups[split..]);
    }
    if text.is_empty() || text == "-" {
        text = "0".into();
    }
    let mut value = cast::parse_numeric(&text)?;
    value.rescale(dscale.max(0) as u32);
    Ok(value)
}

fn invalid_binary(type_name: &str) -> Error {
    Error::sql("22P03", format!("incorrect binary data format for type {type_name}"))
}

fn fixed<const N: usize>(bytes: &[u8], type_name: &str) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| invalid_binary(type_name))
}

/// A parameter sent by a client: `format` 0 is text, 1 binary.
pub fn decode_param(bytes: &[u8], format: i16, ty: &DataType) -> Result<Value> {
    if format == 0 {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::sql("22021", "invalid byte sequence for encoding \"UTF8\""))?;
        return Ok(Value::Text(text.to_string()));
    }
    if format != 1 {
        return Err(Error::sql("08P01", format!("unsupported format code: {format}")));
    }
    Ok(match ty {
        DataType::Bool => Value::Bool(fixed::<1>(bytes, "boolean")?[0] != 0),
        DataType::Int16 => Value::Int(i16::from_be_bytes(fixed(bytes, "smallint")?).into()),
        DataType::Int32 => Value::Int(i32::from_be_bytes(fixed(bytes, "integer")?).into()),
        DataType::Int64 => Value::Int(i64::from_be_bytes(fixed(bytes, "bigint")?)),
        DataType::Float32 => Value::Float(f32::from_be_bytes(fixed(bytes, "real")?).into()),
        DataType::Float64 => Value::Float(f64::from_be_bytes(fixed(bytes, "double precision")?)),
        DataType::Numeric(_) => Value::Numeric(decode_numeric(bytes)?),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => Value::Text(
            String::from_utf8(bytes.to_vec())
                .map_err(|_| Error::sql("22021", "invalid byte sequence for encoding \"UTF8\""))?,
        ),
        DataType::Json => Value::Json(String::from_utf8(bytes.to_vec()).map_err(|_| invalid_binary("json"))?),
        DataType::Jsonb => match bytes.split_first() {
            Some((1, rest)) => Value::Json(String::from_utf8(rest.to_vec()).map_err(|_| invalid_binary("jsonb"))?),
            _ => return Err(invalid_binary("jsonb")),
        },
        DataType::Bytea => Value::Bytes(bytes.to_vec()),
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(bytes, "date")?) + PG_EPOCH_DAYS),
        DataType::Time => Value::Time(i64::from_be_bytes(fixed(bytes, "time")?)),
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(bytes, "timestamp")?) + PG_EPOCH_MICROS),
        DataType::TimestampTz => Value::TimestampTz(i64::from_be_bytes(fixed(bytes, "timestamptz")?) + PG_EPOCH_MICROS),
        DataType::Interval => {
            let b: [u8; 16] = fixed(bytes, "interval")?;
            Value::Interval(Interval {
                micros: i64::from_be_bytes(b[0..8].try_into().expect("8 bytes")),
                days: i32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
                months: i32::from_be_bytes(b[12..16].try_into().expect("4 bytes")),
            })
        }
        DataType::Uuid => Value::Uuid(u128::from_be_bytes(fixed(bytes, "uuid")?)),
        DataType::Array(element) => decode_array(bytes, element)?,
    })
}

fn decode_array(bytes: &[u8], element: &DataType) -> Result<Value> {
    let mut at = 0usize;
    let int = |at: &mut usize| -> Result<i32> {
        let v = bytes.get(*at..*at + 4).ok_or_else(|| invalid_binary("array"))?;
        *at += 4;
        Ok(i32::from_be_bytes(v.try_into().expect("4 bytes")))
    };
    let dims = int(&mut at)?;
    let _has_null = int(&mut at)?;
    let _element_oid = int(&mut at)?;
    match dims {
        0 => return Ok(Value::Array(Vec::new())),
        1 => {}
        _ => return Err(Error::NotSupported("multidimensional arrays in the binary format".into())),
    }
    let len = int(&mut at)?;
    let _lower_bound = int(&mut at)?;
    let mut items = Vec::with_capacity(len.clamp(0, 1024) as usize);
    for _ in 0..len.max(0) {
        let item_len = int(&mut at)?;
        if item_len < 0 {
            items.push(Value::Null);
            continue;
        }
        let end =
            at.checked_add(item_len as usize).filter(|&e| e <= bytes.len()).ok_or_else(|| invalid_binary("array"))?;
        items.push(decode_param(&bytes[at..end], 1, element)?);
        at = end;
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: Value, ty: DataType) {
        let mut bytes = Vec::new();
        encode_binary(&value, &ty, &mut bytes).unwrap();
        let back = decode_param(&bytes, 1, &ty).unwrap();
        assert_eq!(back, value, "{ty:?}");
    }

    #[test]
    fn binary_values_round_trip() {
        round_trip(Value::Int(-7), DataType::Int16);
        round_trip(Value::Int(1 << 40), DataType::Int64);
        round_trip(Value::Float(1.5), DataType::Float64);
        round_trip(Value::Date(0), DataType::Date);
        round_trip(Value::Timestamp(1_700_000_000_000_000), DataType::Timestamp);
        round_trip(Value::Uuid(42), DataType::Uuid);
        round_trip(Value::Text("héllo".into()), DataType::Text);
        round_trip(Value::Array(vec![Value::Int(1), Value::Null]), DataType::Array(Box::new(DataType::Int32)));
        for n in ["0", "1", "-12345.678", "10000", "0.0001", "123456789.000000001", "0.00000012"] {
            round_trip(Value::Numeric(cast::parse_numeric(n).unwrap()), DataType::Numeric(None));
        }
    }

    #[test]
    fn numeric_binary_matches_postgresql_layout() {
        let mut bytes = Vec::new();
        encode_binary(&Value::Numeric(cast::parse_numeric("12345.67").unwrap()), &DataType::Numeric(None), &mut bytes)
            .unwrap();
        // ndigits 3, weight 1, positive, dscale 2, digits 1 2345 6700.
        assert_eq!(bytes, [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1A, 0x2C]);
    }

    #[test]
    fn malformed_binary_is_an_error_not_a_panic() {
        assert!(decode_param(&[1, 2, 3], 1, &DataType::Int32).is_err());
        assert!(
            decode_param(
                &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 5],
                1,
                &DataType::Array(Box::new(DataType::Int32))
            )
            .is_err()
        );
        assert!(decode_param(&[0, 1], 1, &DataType::Numeric(None)).is_err());
        assert!(type_of_oid(99_999).is_err());
    }
}
