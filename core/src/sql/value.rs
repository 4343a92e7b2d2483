//! SQL values and types: what one cell holds ([`Value`]) and what a column
//! promises ([`DataType`]).
//!
//! Invariants:
//! - Every integer width lives in `Value::Int` (i64); the column's
//!   [`DataType`] carries the width and range checks enforce it.
//! - Dates, times and timestamps are integers: days or microseconds since
//!   1970-01-01 (UTC for `TimestampTz`), microseconds since midnight for `Time`.
//! - [`Value::total_cmp`] is the one order used to sort and group: NULL sorts
//!   after everything (PostgreSQL's default for ascending order), numbers
//!   compare by value across Int, Float and Numeric, NaN above every number.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// An INTERVAL: months, days and microseconds kept apart, as in PostgreSQL,
/// because a month has no fixed number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// Microseconds with a month as 30 days, PostgreSQL's rule for ordering.
    pub fn ordering_micros(&self) -> i128 {
        const DAY: i128 = 86_400_000_000;
        (self.months as i128 * 30 + self.days as i128) * DAY + self.micros as i128
    }
}

/// One SQL value.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Numeric(Decimal),
    Text(String),
    Bytes(Vec<u8>),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00:00, no time zone.
    Timestamp(i64),
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz(i64),
    Interval(Interval),
    Uuid(u128),
    /// JSON text as given (JSON) or normalized (JSONB).
    Json(String),
    Array(Vec<Value>),
}

/// The declared type of a column or expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DataType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// NUMERIC(precision, scale); `None` is unconstrained.
    Numeric(Option<(u32, u32)>),
    Text,
    /// VARCHAR(n); `None` has no length limit.
    Varchar(Option<u32>),
    /// CHAR(n): blank-padded to n.
    Char(u32),
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Array(Box<DataType>),
    /// The type of a bare NULL or of an expression nothing constrains yet.
    Unknown,
}

impl DataType {
    /// Whether values of this type are numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::Float32
                | DataType::Float64
                | DataType::Numeric(_)
        )
    }

    /// Whether values of this type are integers.
    pub fn is_integer(&self) -> bool {
        matches!(self, DataType::Int16 | DataType::Int32 | DataType::Int64)
    }

    /// Whether values of this type are character strings.
    pub fn is_text(&self) -> bool {
        matches!(self, DataType::Text | DataType::Varchar(_) | DataType::Char(_))
    }

    /// The PostgreSQL name, as `format_type` prints it.
    pub fn sql_name(&self) -> String {
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int16 => "smallint".into(),
            DataType::Int32 => "integer".into(),
            DataType::Int64 => "bigint".into(),
            DataType::Float32 => "real".into(),
            DataType::Float64 => "double precision".into(),
            DataType::Numeric(None) => "numeric".into(),
            DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
            DataType::Text => "text".into(),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Char(n) => format!("character({n})"),
            DataType::Bytea => "bytea".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            DataType::Array(inner) => format!("{}[]", inner.sql_name()),
            DataType::Unknown => "unknown".into(),
        }
    }

    /// The PostgreSQL type OID, for the wire protocol. Columns nothing
    /// typed are reported as text, as PostgreSQL does for `SELECT NULL`.
    pub fn oid(&self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Bytea => 17,
            DataType::Int64 => 20,
            DataType::Int16 => 21,
            DataType::Int32 => 23,
            DataType::Text | DataType::Unknown => 25,
            DataType::Json => 114,
            DataType::Float32 => 700,
            DataType::Float64 => 701,
            DataType::Char(_) => 1042,
            DataType::Varchar(_) => 1043,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Numeric(_) => 1700,
            DataType::Uuid => 2950,
            DataType::Jsonb => 3802,
            DataType::Array(element) => element.array_oid(),
        }
    }

    /// The type with PostgreSQL type OID `oid` and type modifier `typmod`
    /// (-1: none; otherwise as `pg_attribute.atttypmod` stores it: a length
    /// plus 4 for character types, `(precision << 16 | scale) + 4` for
    /// numeric). `None` for an OID no RustyDB type has.
    pub fn from_oid(oid: u32, typmod: i32) -> Option<DataType> {
        let modifier = (typmod >= 4).then(|| (typmod - 4) as u32);
        Some(match oid {
            16 => DataType::Bool,
            17 => DataType::Bytea,
            20 => DataType::Int64,
            21 => DataType::Int16,
            23 => DataType::Int32,
            25 => DataType::Text,
            114 => DataType::Json,
            700 => DataType::Float32,
            701 => DataType::Float64,
            1042 => DataType::Char(modifier.unwrap_or(1)),
            1043 => DataType::Varchar(modifier),
            1082 => DataType::Date,
            1083 => DataType::Time,
            1114 => DataType::Timestamp,
            1184 => DataType::TimestampTz,
            1186 => DataType::Interval,
            1700 => DataType::Numeric(modifier.map(|m| (m >> 16, m & 0xffff))),
            2950 => DataType::Uuid,
            3802 => DataType::Jsonb,
            _ => {
                let element = BASE_TYPE_OIDS
                    .iter()
                    .find(|&&base| DataType::from_oid(base, -1).is_some_and(|t| t.array_oid() == oid))?;
                DataType::Array(Box::new(DataType::from_oid(*element, typmod)?))
            }
        })
    }

    /// `pg_type.typlen`: bytes of a fixed-size type's values, -1 for
    /// variable-length types.
    pub fn fixed_size(&self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int16 => 2,
            DataType::Int32 | DataType::Float32 | DataType::Date => 4,
            DataType::Int64 | DataType::Float64 | DataType::Time | DataType::Timestamp | DataType::TimestampTz => 8,
            DataType::Interval | DataType::Uuid => 16,
            _ => -1,
        }
    }

    /// The type modifier PostgreSQL stores for this type (see [`DataType::from_oid`]).
    pub fn typmod(&self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(n) if *n > 0 => *n as i32 + 4,
            DataType::Numeric(Some((p, s))) => ((*p << 16) | *s) as i32 + 4,
            DataType::Array(element) => element.typmod(),
            _ => -1,
        }
    }

    /// The OID of the array type whose elements are `self` (0: none).
    pub fn array_oid(&self) -> u32 {
        match self {
            DataType::Bool => 1000,
            DataType::Bytea => 1001,
            DataType::Int16 => 1005,
            DataType::Int32 => 1007,
            DataType::Text | DataType::Unknown => 1009,
            DataType::Char(_) => 1014,
            DataType::Varchar(_) => 1015,
            DataType::Int64 => 1016,
            DataType::Float32 => 1021,
            DataType::Float64 => 1022,
            DataType::Timestamp => 1115,
            DataType::Date => 1182,
            DataType::Time => 1183,
            DataType::TimestampTz => 1185,
            DataType::Interval => 1187,
            DataType::Numeric(_) => 1231,
            DataType::Uuid => 2951,
            DataType::Json => 199,
            DataType::Jsonb => 3807,
            DataType::Array(_) => 0,
        }
    }
}

/// The OIDs of the non-array types, in OID order.
pub const BASE_TYPE_OIDS: [u32; 19] =
    [16, 17, 20, 21, 23, 25, 114, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184, 1186, 1700, 2950, 3802];

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql_name())
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQL comparison: `None` when either side is NULL or the two cannot be
    /// compared (the binder casts operands to one type, so that is a bug
    /// upstream rather than user input).
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        Some(self.total_cmp(other))
    }

    /// SQL equality: `None` when either side is NULL.
    pub fn sql_eq(&self, other: &Value) -> Option<bool> {
        self.sql_cmp(other).map(|o| o == Ordering::Equal)
    }

    /// The total order used for sorting, grouping and DISTINCT (see the
    /// module docs). Values of unrelated types order by type rank.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Greater,
            (_, Null) => Ordering::Less,
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => float_cmp(*a, *b),
            (Int(a), Float(b)) => float_cmp(*a as f64, *b).then(int_float_tiebreak(*a, *b)),
            (Float(a), Int(b)) => float_cmp(*a, *b as f64).then(int_float_tiebreak(*b, *a).reverse()),
            (Numeric(a), Numeric(b)) => a.cmp(b),
            (Int(a), Numeric(b)) => Decimal::from(*a).cmp(b),
            (Numeric(a), Int(b)) => a.cmp(&Decimal::from(*b)),
            (Numeric(a), Float(b)) => float_cmp(a.to_f64().unwrap_or(f64::NAN), *b),
            (Float(a), Numeric(b)) => float_cmp(*a, b.to_f64().unwrap_or(f64::NAN)),
            (Bool(a), Bool(b)) => a.cmp(b),
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Time(a), Time(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) | (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            (Date(a), Timestamp(b)) => (*a as i64 * MICROS_PER_DAY).cmp(b),
            (Timestamp(a), Date(b)) => a.cmp(&(*b as i64 * MICROS_PER_DAY)),
            (Interval(a), Interval(b)) => a.ordering_micros().cmp(&b.ordering_micros()),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            (Json(a), Json(b)) => a.cmp(b),
            (Array(a), Array(b)) => {
                for (x, y) in a.iter().zip(b) {
                    let o = x.total_cmp(y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.len().cmp(&b.len())
            }
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }

    fn type_rank(&self) -> u8 {
        match self {
            Value::Bool(_) => 0,
            Value::Int(_) | Value::Float(_) | Value::Numeric(_) => 1,
            Value::Text(_) => 2,
            Value::Bytes(_) => 3,
            Value::Date(_) | Value::Timestamp(_) => 4,
            Value::Time(_) => 5,
            Value::TimestampTz(_) => 6,
            Value::Interval(_) => 7,
            Value::Uuid(_) => 8,
            Value::Json(_) => 9,
            Value::Array(_) => 10,
            Value::Null => 11,
        }
    }

    /// The value as a bool, for WHERE and boolean operators (NULL is `None`).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v as i64)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(Value::Null)
    }
}

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Floats ordered as PostgreSQL orders them: NaN equals NaN and is above
/// every other value; -0.0 equals 0.0.
pub fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Breaks ties between an i64 and an f64 that round to the same f64, so that
/// large integers keep their exact order.
fn int_float_tiebreak(i: i64, f: f64) -> Ordering {
    if f.is_nan() || f.is_infinite() || f >= 9.2e18 || f <= -9.2e18 {
        return Ordering::Equal;
    }
    i.cmp(&(f as i64))
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl Hash for Value {
    /// Consistent with `Eq`: numbers that compare equal hash alike, so an
    /// integral Float or Numeric hashes as the integer it equals.
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Value::Null => 0u8.hash(state),
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => hash_number(*i as f64, Some(*i), state),
            Value::Float(f) => hash_number(*f, None, state),
            Value::Numeric(d) => {
                let int = if d.fract().is_zero() { d.to_i64() } else { None };
                hash_number(d.to_f64().unwrap_or(f64::NAN), int, state)
            }
            Value::Text(s) | Value::Json(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Date(d) => (*d as i64 * MICROS_PER_DAY).hash(state),
            Value::Timestamp(t) | Value::TimestampTz(t) | Value::Time(t) => t.hash(state),
            Value::Interval(i) => i.ordering_micros().hash(state),
            Value::Uuid(u) => u.hash(state),
            Value::Array(a) => a.hash(state),
        }
    }
}

fn hash_number<H: Hasher>(f: f64, int: Option<i64>, state: &mut H) {
    let int = int.or_else(|| (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64));
    match int {
        Some(i) => i.hash(state),
        None if f.is_nan() => u64::MAX.hash(state),
        None => f.to_bits().hash(state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_sorts_last_and_numbers_compare_across_types() {
        let mut v = vec![Value::Null, Value::Float(2.5), Value::Int(3), Value::Int(1)];
        v.sort();
        assert_eq!(v, vec![Value::Int(1), Value::Float(2.5), Value::Int(3), Value::Null]);
        assert_eq!(Value::Int(2), Value::Float(2.0));
        assert_eq!(Value::Int(2).sql_cmp(&Value::Null), None);
    }

    #[test]
    fn equal_numbers_hash_alike() {
        let s = ahash::RandomState::with_seeds(1, 2, 3, 4);
        assert_eq!(s.hash_one(Value::Int(7)), s.hash_one(Value::Float(7.0)));
        assert_eq!(s.hash_one(Value::Int(7)), s.hash_one(Value::Numeric(Decimal::from(7))));
    }
}
