//! Scalar SQL functions: their result types ([`return_type`]) and values
//! ([`call`]), with PostgreSQL 15's names, overloads and edge cases.
//!
//! Functions are strict (any NULL argument gives NULL) except `concat`,
//! `concat_ws`, `greatest`, `least`, `num_nulls` and `num_nonnulls`, which
//! look at their NULLs. What would reach outside the engine (the statement
//! clock, randomness) comes in through [`FunctionContext`]. Aggregates,
//! window functions and COALESCE/NULLIF/CASE are not here.

use std::cmp::Ordering;
use std::fmt;

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::{Decimal, MathematicalOps, RoundingStrategy};

use super::byte_encoding;
use super::cast::{
    DateUnit, common_type, date_from_days, date_to_timestamp, date_unit, days_of, decimal_to_f64, format_value,
    int_out_of_range, normalize_zero, numeric_overflow, parse_bytea, parse_timestamptz, round_to_scale,
    split_timestamp, timestamp_of, timestamp_out_of_range, value_type,
};
use super::ops::{self, BinaryOp, division_by_zero, nbase_weight};
use super::value::{DataType, Interval, MICROS_PER_DAY, Value};
use crate::error::{Error, Result};

/// What `version()` reports: the PostgreSQL dialect spoken, then RustyDB's own.
const VERSION: &str = concat!("PostgreSQL 15.0 (RustyDB ", env!("CARGO_PKG_VERSION"), ")");

/// The largest string a function builds, PostgreSQL's 1 GB allocation limit.
const MAX_TEXT_BYTES: usize = (1 << 30) - 1;

const MICROS_PER_MINUTE: i64 = 60_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// The outside world a function may see, all of it supplied by the session
/// from its Env, so the same statement gives the same answers under the
/// simulator.
pub struct FunctionContext {
    /// The statement's start (what `now()` returns): UTC microseconds since
    /// 1970 from the Env clock.
    pub statement_time_micros: i64,
    /// Draws uniformly from [0, 1) for `random()` and `gen_random_uuid()`;
    /// without it those functions are not supported.
    pub random: Option<Box<dyn FnMut() -> f64 + Send + Sync>>,
}

impl FunctionContext {
    /// A context whose clock reads `statement_time_micros` and that has no
    /// random source.
    pub fn fixed(statement_time_micros: i64) -> Self {
        FunctionContext { statement_time_micros, random: None }
    }

    fn draw(&mut self) -> Result<f64> {
        let random =
            self.random.as_mut().ok_or_else(|| Error::NotSupported("random() without a random source".into()))?;
        let r = random();
        // Keep a misbehaving source inside [0, 1).
        Ok(if r.is_nan() || r < 0.0 {
            0.0
        } else if r >= 1.0 {
            f64::from_bits(1.0f64.to_bits() - 1)
        } else {
            r
        })
    }
}

impl fmt::Debug for FunctionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionContext")
            .field("statement_time_micros", &self.statement_time_micros)
            .field("random", &self.random.as_ref().map(|_| "<source>"))
            .finish()
    }
}

fn no_function(name: &str, args: &[DataType]) -> Error {
    let list = args.iter().map(DataType::sql_name).collect::<Vec<_>>().join(", ");
    Error::sql("42883", format!("function {name}({list}) does not exist"))
}

/// An argument whose value does not fit the function (the binder checked
/// the types with [`return_type`], so this is a caller's mistake).
fn bad_argument(v: &Value) -> Error {
    Error::sql("42883", format!("function argument of type {} is not accepted here", value_type(v)))
}

// ---------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------

/// The result type of `name(args)` (`name` in lower case), or "42883" if
/// there is no such function or no overload takes these argument types.
/// `Unknown` arguments (NULLs, untyped literals) fit any parameter.
pub fn return_type(name: &str, args: &[DataType]) -> Result<DataType> {
    if matches!(name, "greatest" | "least") {
        return extreme_type(name, args);
    }
    math_type(name, args)
        .or_else(|| text_type(name, args))
        .or_else(|| time_type(name, args))
        .or_else(|| other_type(name, args))
        .ok_or_else(|| no_function(name, args))
}

fn is_num(t: &DataType) -> bool {
    t.is_numeric() || *t == DataType::Unknown
}

fn is_int(t: &DataType) -> bool {
    t.is_integer() || *t == DataType::Unknown
}

/// Integer or numeric: the types PostgreSQL's numeric-only overloads take
/// implicitly (a double is not converted to numeric without a cast).
fn is_exact(t: &DataType) -> bool {
    is_int(t) || matches!(t, DataType::Numeric(_))
}

fn is_text(t: &DataType) -> bool {
    t.is_text() || *t == DataType::Unknown
}

/// Numeric stays numeric; everything else computes in double precision,
/// PostgreSQL's preferred numeric type.
fn numeric_or_double(t: &DataType) -> DataType {
    if matches!(t, DataType::Numeric(_)) { DataType::Numeric(None) } else { DataType::Float64 }
}

fn math_type(name: &str, args: &[DataType]) -> Option<DataType> {
    use DataType::*;
    match (name, args) {
        ("abs", [t]) if is_num(t) => Some(match t {
            Unknown => Float64,
            Numeric(_) => Numeric(None),
            t => t.clone(),
        }),
        ("ceil" | "ceiling" | "floor" | "round" | "trunc" | "sign" | "sqrt" | "exp" | "ln" | "log" | "log10", [t])
            if is_num(t) =>
        {
            Some(numeric_or_double(t))
        }
        ("round" | "trunc", [t, n]) if is_exact(t) && is_int(n) => Some(Numeric(None)),
        ("log", [b, x]) if is_exact(b) && is_exact(x) => Some(Numeric(None)),
        ("power" | "pow", [a, b]) if is_num(a) && is_num(b) => ops::binary_type(BinaryOp::Pow, a, b).ok(),
        ("mod", [a, b]) if is_exact(a) && is_exact(b) => ops::binary_type(BinaryOp::Mod, a, b).ok(),
        ("cbrt" | "degrees" | "radians" | "sin" | "cos" | "tan" | "cot" | "asin" | "acos" | "atan", [t])
            if is_num(t) =>
        {
            Some(Float64)
        }
        ("atan2", [y, x]) if is_num(y) && is_num(x) => Some(Float64),
        ("pi" | "random", []) => Some(Float64),
        ("width_bucket", [x, lo, hi, n]) if is_num(x) && is_num(lo) && is_num(hi) && is_int(n) => Some(Int32),
        _ => None,
    }
}

fn text_type(name: &str, args: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let binary = |t: &DataType| *t == Bytea;
    Some(match (name, args) {
        ("length" | "char_length" | "character_length" | "octet_length", [t]) if is_text(t) || binary(t) => Int32,
        ("lower" | "upper" | "initcap" | "reverse", [t]) if is_text(t) => Text,
        ("md5", [t]) if is_text(t) || binary(t) => Text,
        ("quote_ident", [t]) if is_text(t) => Text,
        ("ascii", [t]) if is_text(t) => Int32,
        ("chr" | "to_hex" | "pg_size_pretty", [n]) if is_int(n) => Text,
        ("substr" | "substring", [t, positions @ ..])
            if matches!(positions.len(), 1 | 2) && positions.iter().all(is_int) && (is_text(t) || binary(t)) =>
        {
            if binary(t) {
                Bytea
            } else {
                Text
            }
        }
        ("position" | "strpos", [a, b]) if is_text(a) && is_text(b) => Int32,
        ("starts_with", [a, b]) if is_text(a) && is_text(b) => Bool,
        ("regexp_like", [a, b]) if is_text(a) && is_text(b) => Bool,
        ("regexp_like", [a, b, c]) if is_text(a) && is_text(b) && is_text(c) => Bool,
        ("array_to_string", [DataType::Array(_), sep]) if is_text(sep) => Text,
        ("trim" | "btrim" | "ltrim" | "rtrim", [t]) if is_text(t) => Text,
        ("trim" | "btrim" | "ltrim" | "rtrim", [t, chars]) if is_text(t) && is_text(chars) => Text,
        ("replace", [a, b, c]) if is_text(a) && is_text(b) && is_text(c) => Text,
        ("split_part", [a, b, n]) if is_text(a) && is_text(b) && is_int(n) => Text,
        ("left" | "right" | "repeat" | "lpad" | "rpad", [t, n]) if is_text(t) && is_int(n) => Text,
        ("lpad" | "rpad", [t, n, fill]) if is_text(t) && is_int(n) && is_text(fill) => Text,
        ("concat", _) => Text,
        ("concat_ws", [sep, ..]) if is_text(sep) => Text,
        ("string_to_array", [t, sep, null @ ..])
            if is_text(t) && is_text(sep) && null.len() <= 1 && null.iter().all(is_text) =>
        {
            Array(Box::new(Text))
        }
        // A string is read as bytea input, as an untyped literal would be.
        ("encode", [b, format]) if (binary(b) || is_text(b)) && is_text(format) => Text,
        ("decode", [t, format]) if is_text(t) && is_text(format) => Bytea,
        _ => return None,
    })
}

fn time_type(name: &str, args: &[DataType]) -> Option<DataType> {
    use DataType::*;
    // An untyped literal source is read as timestamptz, PostgreSQL's
    // preferred date/time type.
    let source = |t: &DataType| matches!(t, Date | Time | Timestamp | TimestampTz | Interval | Unknown | Text);
    let stamp = |t: &DataType| matches!(t, Date | Timestamp | TimestampTz | Unknown);
    Some(match (name, args) {
        ("now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp", []) => TimestampTz,
        ("localtimestamp", []) => Timestamp,
        ("current_date", []) => Date,
        ("localtime", []) => Time,
        ("date_trunc", [field, t]) if is_text(field) => match t {
            Timestamp => Timestamp,
            Interval => Interval,
            Date | TimestampTz | Unknown | Text => TimestampTz,
            _ => return None,
        },
        ("date_part", [field, t]) if is_text(field) && source(t) => Float64,
        ("extract", [field, t]) if is_text(field) && source(t) => Numeric(None),
        ("age", [a]) if stamp(a) => Interval,
        ("age", [a, b]) if stamp(a) && stamp(b) => Interval,
        ("make_date", [y, m, d]) if is_int(y) && is_int(m) && is_int(d) => Date,
        ("make_time", [h, m, s]) if is_int(h) && is_int(m) && is_num(s) => Time,
        ("make_timestamp", [y, mo, d, h, mi, s]) if [y, mo, d, h, mi].into_iter().all(is_int) && is_num(s) => Timestamp,
        ("to_timestamp", [t]) if is_num(t) => TimestampTz,
        _ => return None,
    })
}

fn other_type(name: &str, args: &[DataType]) -> Option<DataType> {
    let is_array = |t: &DataType| matches!(t, DataType::Array(_) | DataType::Unknown);
    Some(match (name, args) {
        ("array_upper" | "array_lower" | "array_length", [array, dim]) if is_array(array) && is_int(dim) => {
            DataType::Int32
        }
        ("cardinality", [array]) if is_array(array) => DataType::Int32,
        ("format_type", [oid, typmod]) if is_int(oid) && is_int(typmod) => DataType::Text,
        ("gen_random_uuid", []) => DataType::Uuid,
        ("num_nulls" | "num_nonnulls", [_, ..]) => DataType::Int32,
        ("version", []) => DataType::Text,
        _ => return None,
    })
}

/// GREATEST/LEAST: the common type of all arguments (they are cast to it).
fn extreme_type(name: &str, args: &[DataType]) -> Result<DataType> {
    if args.is_empty() {
        return Err(no_function(name, args));
    }
    let mut common = DataType::Unknown;
    for t in args {
        common = common_type(&common, t).ok_or_else(|| {
            let message = format!("{} types {common} and {t} cannot be matched", name.to_uppercase());
            Error::sql("42804", message)
        })?;
    }
    Ok(if common == DataType::Unknown { DataType::Text } else { common })
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// Evaluates `name(args)` (`name` in lower case). The binder has checked
/// the argument types with [`return_type`] and cast them where needed.
pub fn call(name: &str, args: &[Value], ctx: &mut FunctionContext) -> Result<Value> {
    if let Some(result) = call_lenient(name, args, ctx) {
        return result;
    }
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    math_call(name, args)
        .or_else(|| array_call(name, args))
        .or_else(|| text_info_call(name, args))
        .or_else(|| text_edit_call(name, args))
        .or_else(|| time_call(name, args, ctx))
        .unwrap_or_else(|| Err(no_function(name, &args.iter().map(value_type).collect::<Vec<_>>())))
}

/// Functions that see NULL arguments, and those of no arguments.
fn call_lenient(name: &str, args: &[Value], ctx: &mut FunctionContext) -> Option<Result<Value>> {
    let present = || args.iter().filter(|a| !a.is_null());
    Some(match (name, args) {
        ("concat", _) => Ok(Value::Text(present().map(format_value).collect())),
        ("concat_ws", [Value::Null, ..]) => Ok(Value::Null),
        ("concat_ws", [sep, rest @ ..]) => {
            let parts: Vec<String> = rest.iter().filter(|a| !a.is_null()).map(format_value).collect();
            Ok(Value::Text(parts.join(&format_value(sep))))
        }
        ("num_nulls", _) => Ok(Value::Int(args.iter().filter(|a| a.is_null()).count() as i64)),
        ("num_nonnulls", _) => Ok(Value::Int(present().count() as i64)),
        ("string_to_array", [Value::Null, ..]) => Ok(Value::Null),
        ("string_to_array", [s, sep, null @ ..]) => string_to_array(s, sep, null.first()),
        ("greatest", _) => extreme(args, Ordering::Greater),
        ("least", _) => extreme(args, Ordering::Less),
        ("random", []) => ctx.draw().map(Value::Float),
        ("gen_random_uuid", []) => random_uuid(ctx).map(Value::Uuid),
        ("pi", []) => Ok(Value::Float(std::f64::consts::PI)),
        ("version", []) => Ok(Value::Text(VERSION.to_string())),
        ("format_type", [Value::Null, _]) => Ok(Value::Null),
        ("format_type", [oid, typmod]) => format_type(oid, typmod),
        _ => return None,
    })
}

/// `format_type(type_oid, typmod)`: the SQL name of a type, with its
/// modifier (`character varying(20)`, `numeric(10,2)`); `???` for an OID no
/// type has, as in PostgreSQL.
fn format_type(oid: &Value, typmod: &Value) -> Result<Value> {
    let typmod = match typmod {
        Value::Int(m) => i32::try_from(*m).unwrap_or(-1),
        _ => -1,
    };
    let oid = u32::try_from(int_value(oid)?).ok();
    let name = match oid.and_then(|oid| DataType::from_oid(oid, typmod).map(|t| (oid, t))) {
        Some((1042, _)) if typmod < 4 => "character".to_string(),
        Some((_, ty)) => ty.sql_name(),
        None => "???".to_string(),
    };
    Ok(Value::Text(name))
}

/// Array functions: `array_upper`, `array_lower`, `array_length` (of
/// dimension 1; arrays have one), `cardinality`, and the subscript `a[i]`
/// (1-based; NULL out of range).
fn array_call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let items = match args.first() {
        Some(Value::Array(items)) => items,
        _ => return None,
    };
    let dimension = || args.get(1).map(int_value).transpose();
    let length = items.len() as i64;
    let in_dimension =
        |value: i64| dimension().map(|d| if d == Some(1) && length > 0 { Value::Int(value) } else { Value::Null });
    Some(match name {
        "array_upper" | "array_length" => in_dimension(length),
        "array_lower" => in_dimension(1),
        "cardinality" => Ok(Value::Int(length)),
        "array_subscript" => dimension().map(|i| match i {
            Some(i) if i >= 1 && i <= length => items[(i - 1) as usize].clone(),
            _ => Value::Null,
        }),
        _ => return None,
    })
}

/// The first greatest (or least) non-NULL argument; NULL if all are NULL.
fn extreme(args: &[Value], want: Ordering) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for v in args.iter().filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if ops::compare(v, b)? != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

/// Version 4 (random) UUID with the RFC 4122 variant bits.
fn random_uuid(ctx: &mut FunctionContext) -> Result<u128> {
    let mut u: u128 = 0;
    for _ in 0..4 {
        u = u << 32 | u128::from((ctx.draw()? * 4_294_967_296.0) as u32);
    }
    u = (u & !(0xF << 76)) | (0x4 << 76);
    u = (u & !(0x3 << 62)) | (0x2 << 62);
    Ok(u)
}

// ---------------------------------------------------------------------------
// Math
// ---------------------------------------------------------------------------

fn number(v: &Value) -> Result<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        Value::Numeric(d) => Ok(decimal_to_f64(*d)),
        other => Err(bad_argument(other)),
    }
}

fn exact(v: &Value) -> Result<Decimal> {
    match v {
        Value::Int(i) => Ok(Decimal::from(*i)),
        Value::Numeric(d) => Ok(*d),
        other => Err(bad_argument(other)),
    }
}

/// `string_to_array(s, sep [, null])`: the fields of `s` between
/// separators; a NULL separator splits into characters, an empty one
/// gives `s` whole; a field equal to `null` becomes NULL.
fn string_to_array(s: &Value, sep: &Value, null: Option<&Value>) -> Result<Value> {
    let s = text_value(s)?;
    let null = null.filter(|n| !n.is_null()).map(text_value).transpose()?;
    let fields: Vec<&str> = match sep {
        _ if s.is_empty() => Vec::new(),
        Value::Null => s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect(),
        sep => match text_value(sep)? {
            "" => vec![s],
            sep => s.split(sep).collect(),
        },
    };
    let item = |f: &str| if Some(f) == null { Value::Null } else { Value::Text(f.to_string()) };
    Ok(Value::Array(fields.into_iter().map(item).collect()))
}

/// `width_bucket(x, lo, hi, count)`: which of `count` equal buckets
/// spanning `lo`..`hi` holds `x`; 0 below the range, `count + 1` above
/// (the range may run downwards).
fn width_bucket(x: &Value, lo: &Value, hi: &Value, count: &Value) -> Result<Value> {
    let (x, lo, hi, count) = (ops::as_f64(x), ops::as_f64(lo), ops::as_f64(hi), int_value(count)?);
    if count <= 0 {
        return Err(Error::sql("2201G", "count must be greater than zero"));
    }
    if lo == hi {
        return Err(Error::sql("2201G", "lower bound cannot equal upper bound"));
    }
    if [x, lo, hi].iter().any(|v| v.is_nan()) {
        return Err(Error::sql("2201G", "operand, lower bound, and upper bound cannot be NaN"));
    }
    let (below, above) = if lo < hi { (x < lo, x >= hi) } else { (x > lo, x <= hi) };
    let bucket = if below {
        0
    } else if above {
        count.checked_add(1).ok_or_else(|| Error::sql("22003", "integer out of range"))?
    } else {
        ((x - lo) / (hi - lo) * count as f64).floor() as i64 + 1
    };
    Ok(Value::Int(bucket))
}

/// `pg_size_pretty` as PostgreSQL prints it: bytes below 10 kB, then the
/// first unit that keeps the number below 20 × 1024, rounded half away from
/// zero.
fn size_pretty(size: i64) -> String {
    const LIMIT: u64 = 10 * 1024;
    if size.unsigned_abs() < LIMIT {
        return format!("{size} bytes");
    }
    // In halves of the unit, for the rounding; division, not shifts, so
    // negative sizes round as positive ones do.
    let mut halves = size / (1 << 9);
    for unit in ["kB", "MB", "GB", "TB"] {
        if halves.unsigned_abs() < 2 * LIMIT - 1 {
            return format!("{} {unit}", (halves + halves.signum()) / 2);
        }
        halves /= 1 << 10;
    }
    format!("{} PB", (halves + halves.signum()) / 2)
}

fn int_value(v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(bad_argument(other)),
    }
}

fn math_call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let away = |d: &Decimal| d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    Some(match (name, args) {
        ("abs", [x]) => abs(x),
        ("width_bucket", [x, lo, hi, n]) => width_bucket(x, lo, hi, n),
        ("ceil" | "ceiling", [x]) => integral(x, f64::ceil, Decimal::ceil),
        ("floor", [x]) => integral(x, f64::floor, Decimal::floor),
        // A double rounds as rint does (ties to even); a numeric away from zero.
        ("round", [x]) => integral(x, f64::round_ties_even, away),
        ("trunc", [x]) => integral(x, f64::trunc, Decimal::trunc),
        ("round", [x, n]) => round_places(x, n, RoundingStrategy::MidpointAwayFromZero),
        ("trunc", [x, n]) => round_places(x, n, RoundingStrategy::ToZero),
        ("sign", [x]) => sign(x),
        ("sqrt", [x]) => sqrt(x),
        ("exp", [x]) => exp(x),
        ("ln", [x]) => logarithm(x, None),
        ("log" | "log10", [x]) => logarithm(x, Some(Decimal::TEN)),
        ("log", [b, x]) => exact(b).and_then(|b| logarithm(x, Some(b))),
        ("power" | "pow", [a, b]) => power(a, b),
        ("mod", [a, b]) => ops::binary(BinaryOp::Mod, a, b, &DataType::Unknown),
        ("cbrt", [x]) => double(x, f64::cbrt),
        ("degrees", [x]) => double(x, f64::to_degrees),
        ("radians", [x]) => double(x, f64::to_radians),
        ("sin", [x]) => double(x, f64::sin),
        ("cos", [x]) => double(x, f64::cos),
        ("tan", [x]) => double(x, f64::tan),
        ("cot", [x]) => double(x, |v| 1.0 / v.tan()),
        ("atan", [x]) => double(x, f64::atan),
        ("asin" | "acos", [x]) => inverse_trig(name, x),
        ("atan2", [y, x]) => number(y).and_then(|y| Ok(Value::Float(y.atan2(number(x)?)))),
        _ => return None,
    })
}

fn double(x: &Value, f: fn(f64) -> f64) -> Result<Value> {
    number(x).map(|v| Value::Float(f(v)))
}

fn abs(x: &Value) -> Result<Value> {
    match x {
        Value::Int(i) => i.checked_abs().map(Value::Int).ok_or_else(|| int_out_of_range(&DataType::Int64)),
        Value::Numeric(d) => Ok(Value::Numeric(d.abs())),
        other => number(other).map(|f| Value::Float(f.abs())),
    }
}

/// ceil/floor/round/trunc to an integer: numeric in, numeric out (scale 0);
/// anything else in double precision.
fn integral(x: &Value, float: fn(f64) -> f64, numeric: fn(&Decimal) -> Decimal) -> Result<Value> {
    match x {
        Value::Numeric(d) => Ok(Value::Numeric(normalize_zero(numeric(d)))),
        other => number(other).map(|f| Value::Float(float(f))),
    }
}

/// round(x, n)/trunc(x, n) on numeric: `n` places, or for negative `n` to a
/// multiple of 10^-n; the result shows max(n, 0) places.
fn round_places(x: &Value, places: &Value, strategy: RoundingStrategy) -> Result<Value> {
    let (d, n) = (exact(x)?, int_value(places)?);
    if n >= 0 {
        let places = n.min(28) as u32;
        let mut r = d.round_dp_with_strategy(places, strategy);
        r.rescale(places);
        return Ok(Value::Numeric(normalize_zero(r)));
    }
    let digits = n.unsigned_abs();
    if digits > 28 {
        return Ok(Value::Numeric(Decimal::ZERO));
    }
    let unit = Decimal::from_i128_with_scale(10i128.pow(digits as u32), 0);
    let rounded = d
        .checked_div(unit)
        .map(|q| q.round_dp_with_strategy(0, strategy))
        .and_then(|q| q.checked_mul(unit))
        .ok_or_else(numeric_overflow)?;
    Ok(Value::Numeric(normalize_zero(rounded.trunc())))
}

fn sign(x: &Value) -> Result<Value> {
    let of = |positive: bool, negative: bool| {
        if positive {
            1
        } else if negative {
            -1
        } else {
            0
        }
    };
    match x {
        Value::Numeric(d) => Ok(Value::Numeric(Decimal::from(of(
            d.is_sign_positive() && !d.is_zero(),
            d.is_sign_negative() && !d.is_zero(),
        )))),
        other => number(other).map(|f| Value::Float(f64::from(of(f > 0.0, f < 0.0)))),
    }
}

fn sqrt(x: &Value) -> Result<Value> {
    let negative = || Error::sql("2201F", "cannot take square root of a negative number");
    match x {
        Value::Numeric(d) if d.is_sign_negative() && !d.is_zero() => Err(negative()),
        Value::Numeric(d) => {
            // PostgreSQL's numeric_sqrt scale: 16 significant digits.
            let (weight, _) = nbase_weight(*d);
            let sweight = (weight + 1) * 4 / 2 - 1;
            let scale = (16 - sweight).max(i64::from(d.scale()));
            Ok(Value::Numeric(round_to_scale(decimal_sqrt(*d)?, scale)))
        }
        other => match number(other)? {
            f if f < 0.0 => Err(negative()),
            f => Ok(Value::Float(f.sqrt())),
        },
    }
}

/// Newton's method from the double estimate, a few rounds at most: each
/// doubles the correct digits and a Decimal holds 28.
fn decimal_sqrt(d: Decimal) -> Result<Decimal> {
    if d.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let mut r = Decimal::from_f64(decimal_to_f64(d).sqrt()).filter(|r| !r.is_zero()).ok_or_else(numeric_overflow)?;
    for _ in 0..8 {
        let next = d.checked_div(r).and_then(|q| q.checked_add(r)).and_then(|s| s.checked_div(Decimal::TWO));
        match next {
            Some(next) if next != r => r = next,
            _ => break,
        }
    }
    Ok(r)
}

fn exp(x: &Value) -> Result<Value> {
    match x {
        Value::Numeric(d) => {
            let weight = (decimal_to_f64(*d) * std::f64::consts::LOG10_E).trunc() as i64;
            let scale = (16 - weight).max(i64::from(d.scale()));
            let value = match d.checked_exp() {
                Some(v) => v,
                // e^x for very negative x is below what a Decimal shows.
                None if d.is_sign_negative() => Decimal::ZERO,
                None => return Err(numeric_overflow()),
            };
            Ok(Value::Numeric(round_to_scale(value, scale)))
        }
        other => {
            let f = number(other)?;
            let v = f.exp();
            if v.is_infinite() && f.is_finite() {
                return Err(super::cast::float_overflow());
            }
            if v == 0.0 && f.is_finite() {
                return Err(super::cast::float_underflow());
            }
            Ok(Value::Float(v))
        }
    }
}

fn check_log_argument(positive: bool, zero: bool) -> Result<()> {
    if zero {
        return Err(Error::sql("2201E", "cannot take logarithm of zero"));
    }
    if !positive {
        return Err(Error::sql("2201E", "cannot take logarithm of a negative number"));
    }
    Ok(())
}

/// ln(x) with `base` None, else log to `base`. Numeric results get
/// PostgreSQL's scale: 16 significant digits by the estimated weights.
fn logarithm(x: &Value, base: Option<Decimal>) -> Result<Value> {
    let numeric = matches!(x, Value::Numeric(_)) || base.is_some_and(|b| b != Decimal::TEN);
    if !numeric {
        let f = number(x)?;
        check_log_argument(f > 0.0, f == 0.0)?;
        return Ok(Value::Float(if base.is_some() { f.log10() } else { f.ln() }));
    }
    let d = exact(x)?;
    check_log_argument(d.is_sign_positive(), d.is_zero())?;
    let ln_x = d.checked_ln().ok_or_else(numeric_overflow)?;
    let Some(b) = base else {
        let scale = (16 - ln_dweight(d)).max(i64::from(d.scale()));
        return Ok(Value::Numeric(round_to_scale(ln_x, scale)));
    };
    check_log_argument(b.is_sign_positive(), b.is_zero())?;
    let ln_b = b.checked_ln().ok_or_else(numeric_overflow)?;
    if ln_b.is_zero() {
        return Err(division_by_zero());
    }
    let value = ln_x.checked_div(ln_b).ok_or_else(numeric_overflow)?;
    let scale = (16 - (ln_dweight(d) - ln_dweight(b))).max(i64::from(d.scale())).max(i64::from(b.scale()));
    Ok(Value::Numeric(round_to_scale(value, scale)))
}

/// PostgreSQL's `estimate_ln_dweight`: the decimal weight of ln(d).
fn ln_dweight(d: Decimal) -> i64 {
    if !d.is_sign_positive() || d.is_zero() {
        return 0;
    }
    let near_one = Decimal::new(9, 1) <= d && d <= Decimal::new(11, 1);
    if near_one {
        // ln(1 + x) is about x.
        let x = d - Decimal::ONE;
        let m = x.mantissa().unsigned_abs();
        return if m == 0 { 0 } else { i64::from(m.ilog10()) - i64::from(x.scale()) };
    }
    decimal_to_f64(d).ln().abs().log10().trunc() as i64
}

fn power(a: &Value, b: &Value) -> Result<Value> {
    let result = match (a, b) {
        (Value::Numeric(_), Value::Numeric(_) | Value::Int(_)) | (Value::Int(_), Value::Numeric(_)) => {
            DataType::Numeric(None)
        }
        _ => DataType::Float64,
    };
    ops::binary(BinaryOp::Pow, a, b, &result)
}

fn inverse_trig(name: &str, x: &Value) -> Result<Value> {
    let f = number(x)?;
    if !(-1.0..=1.0).contains(&f) {
        return Err(Error::sql("22003", "input is out of range"));
    }
    Ok(Value::Float(if name == "asin" { f.asin() } else { f.acos() }))
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

fn text_value(v: &Value) -> Result<&str> {
    match v {
        Value::Text(s) => Ok(s),
        other => Err(bad_argument(other)),
    }
}

fn too_large() -> Error {
    Error::sql("54000", "requested length too large")
}

/// Functions that measure or search a string.
/// Whether `s` matches the regular expression `pattern` anywhere (`~`);
/// flag `i` ignores case (`~*`). The syntax is the regex crate's, which
/// agrees with PostgreSQL's for the common constructs; no back-references.
fn regexp_like(s: &Value, pattern: &Value, flags: Option<&Value>) -> Result<Value> {
    let (s, pattern) = (text_value(s)?, text_value(pattern)?);
    let mut builder = regex::RegexBuilder::new(pattern);
    builder.size_limit(1 << 20);
    for flag in flags.map(text_value).transpose()?.unwrap_or("").chars() {
        match flag {
            'i' => builder.case_insensitive(true),
            'c' => builder.case_insensitive(false),
            other => return Err(Error::sql("22023", format!("invalid regular expression option: \"{other}\""))),
        };
    }
    let regex = builder.build().map_err(|e| Error::sql("2201B", format!("invalid regular expression: {e}")))?;
    Ok(Value::Bool(regex.is_match(s)))
}

fn text_info_call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let count = |n: usize| Ok(Value::Int(n as i64));
    Some(match (name, args) {
        ("length" | "char_length" | "character_length" | "octet_length", [Value::Bytes(b)]) => count(b.len()),
        ("length" | "char_length" | "character_length", [s]) => text_value(s).and_then(|s| count(s.chars().count())),
        ("octet_length", [s]) => text_value(s).and_then(|s| count(s.len())),
        ("position" | "strpos", [s, sub]) => {
            let (s, sub) = (text_value(s), text_value(sub));
            s.and_then(|s| Ok(Value::Int(position(s, sub?))))
        }
        ("starts_with", [s, prefix]) => text_value(s).and_then(|s| Ok(Value::Bool(s.starts_with(text_value(prefix)?)))),
        ("regexp_like", [s, pattern]) => regexp_like(s, pattern, None),
        ("regexp_like", [s, pattern, flags]) => regexp_like(s, pattern, Some(flags)),
        ("array_to_string", [Value::Array(items), sep]) => text_value(sep).map(|sep| {
            let parts: Vec<String> = items.iter().filter(|v| !v.is_null()).map(format_value).collect();
            Value::Text(parts.join(sep))
        }),
        ("ascii", [s]) => text_value(s).map(|s| Value::Int(s.chars().next().map_or(0, |c| i64::from(u32::from(c))))),
        ("chr", [n]) => int_value(n).and_then(chr).map(|c| Value::Text(c.to_string())),
        ("to_hex", [n]) => int_value(n).map(|n| {
            // An integer that fits int4 prints as int4 does (-1 is ffffffff).
            Value::Text(match i32::try_from(n) {
                Ok(small) => format!("{:x}", small as u32),
                Err(_) => format!("{:x}", n as u64),
            })
        }),
        ("quote_ident", [s]) => text_value(s).map(|s| Value::Text(quote_ident(s))),
        ("pg_size_pretty", [n]) => int_value(n).map(|n| Value::Text(size_pretty(n))),
        ("md5", [Value::Bytes(b)]) => Ok(Value::Text(md5_hex(b))),
        ("encode", [Value::Bytes(b), format]) => {
            text_value(format).and_then(|f| byte_encoding::encode(b, f)).map(Value::Text)
        }
        // A string is read as bytea input ('\x…' or escapes).
        ("encode", [Value::Text(s), format]) => {
            (|| byte_encoding::encode(&parse_bytea(s)?, text_value(format)?))().map(Value::Text)
        }
        ("decode", [s, format]) => (|| byte_encoding::decode(text_value(s)?, text_value(format)?))().map(Value::Bytes),
        ("md5", [s]) => text_value(s).map(|s| Value::Text(md5_hex(s.as_bytes()))),
        _ => return None,
    })
}

/// An identifier as SQL text: bare when it is lower-case letters, digits
/// and underscores not starting with a digit, otherwise double-quoted with
/// inner quotes doubled (PostgreSQL also quotes keywords; this does not).
pub fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain { name.to_string() } else { format!("\"{}\"", name.replace('"', "\"\"")) }
}

/// Functions that build a new string from one.
fn text_edit_call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let text = |r: Result<String>| r.map(Value::Text);
    Some(match (name, args) {
        ("lower", [s]) => text(text_value(s).map(str::to_lowercase)),
        ("upper", [s]) => text(text_value(s).map(str::to_uppercase)),
        ("initcap", [s]) => text(text_value(s).map(initcap)),
        ("reverse", [s]) => text(text_value(s).map(|s| s.chars().rev().collect())),
        ("substr" | "substring", [s, from]) => substring(s, from, None),
        ("substr" | "substring", [s, from, count]) => substring(s, from, Some(count)),
        ("trim" | "btrim" | "ltrim" | "rtrim", [s, rest @ ..]) => text(trim(name, s, rest.first())),
        ("replace", [s, from, to]) => text((|| {
            let (s, from, to) = (text_value(s)?, text_value(from)?, text_value(to)?);
            Ok(if from.is_empty() { s.to_string() } else { s.replace(from, to) })
        })()),
        ("split_part", [s, delim, n]) => text((|| split_part(text_value(s)?, text_value(delim)?, int_value(n)?))()),
        ("left" | "right", [s, n]) => text((|| Ok(left_right(text_value(s)?, int_value(n)?, name == "left")))()),
        ("repeat", [s, n]) => text((|| repeat(text_value(s)?, int_value(n)?))()),
        ("lpad" | "rpad", [s, n, fill @ ..]) => text((|| {
            let fill = fill.first().map(text_value).transpose()?.unwrap_or(" ");
            pad(text_value(s)?, int_value(n)?, fill, name == "lpad")
        })()),
        _ => return None,
    })
}

/// The 1-based character position of `sub` in `s`, 0 if absent.
fn position(s: &str, sub: &str) -> i64 {
    s.find(sub).map_or(0, |at| s[..at].chars().count() as i64 + 1)
}

fn chr(code: i64) -> Result<char> {
    if code == 0 {
        return Err(Error::sql("54000", "null character not permitted"));
    }
    let code32 = u32::try_from(code)
        .ok()
        .filter(|c| *c <= 0x10FFFF)
        .ok_or_else(|| Error::sql("54000", format!("requested character too large for encoding: {code}")))?;
    char::from_u32(code32)
        .ok_or_else(|| Error::sql("54000", format!("requested character not valid for encoding: {code}")))
}

/// Each word's first letter upper case, the rest lower; a word is a run of
/// letters and digits.
fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        in_word = c.is_alphanumeric();
    }
    out
}

/// substring(s from `from` [for `count`]) on text or bytea. Positions count
/// from 1; the part of the range before position 1 selects nothing, so
/// `substr('hello', 0, 2)` is `h`.
fn substring(s: &Value, from: &Value, count: Option<&Value>) -> Result<Value> {
    let from = int_value(from)?;
    let end = match count.map(int_value).transpose()? {
        None => i64::MAX,
        Some(c) if c < 0 => return Err(Error::sql("22011", "negative substring length not allowed")),
        Some(c) => from.saturating_add(c),
    };
    let start = from.max(1);
    let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end.saturating_sub(start).max(0)).unwrap_or(usize::MAX);
    match s {
        Value::Bytes(b) => Ok(Value::Bytes(b.iter().skip(skip).take(take).copied().collect())),
        other => Ok(Value::Text(text_value(other)?.chars().skip(skip).take(take).collect())),
    }
}

/// btrim/ltrim/rtrim (and trim, as btrim): drop the characters in `chars`
/// (default a space) from the named ends.
fn trim(name: &str, s: &Value, chars: Option<&Value>) -> Result<String> {
    let s = text_value(s)?;
    let set: Vec<char> = chars.map(text_value).transpose()?.unwrap_or(" ").chars().collect();
    let strip = |c: char| set.contains(&c);
    Ok(match name {
        "ltrim" => s.trim_start_matches(strip),
        "rtrim" => s.trim_end_matches(strip),
        _ => s.trim_matches(strip),
    }
    .to_string())
}

/// The `n`th field of `s` split on `delim`; negative `n` counts from the end.
fn split_part(s: &str, delim: &str, n: i64) -> Result<String> {
    if n == 0 {
        return Err(Error::sql("22023", "field position must not be zero"));
    }
    if delim.is_empty() {
        // The whole string is the one field.
        return Ok(if n == 1 || n == -1 { s.to_string() } else { String::new() });
    }
    let fields: Vec<&str> = s.split(delim).collect();
    let index = if n > 0 { n - 1 } else { fields.len() as i64 + n };
    Ok(usize::try_from(index).ok().and_then(|i| fields.get(i)).map_or_else(String::new, |f| f.to_string()))
}

/// left(s, n)/right(s, n): the first/last `n` characters, or for negative
/// `n` all but the last/first `-n`.
fn left_right(s: &str, n: i64, left: bool) -> String {
    let len = s.chars().count() as i64;
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) };
    if left { s.chars().take(keep as usize).collect() } else { s.chars().skip((len - keep) as usize).collect() }
}

fn repeat(s: &str, n: i64) -> Result<String> {
    let n = usize::try_from(n).unwrap_or(0);
    if s.len().checked_mul(n).is_none_or(|total| total > MAX_TEXT_BYTES) {
        return Err(too_large());
    }
    Ok(s.repeat(n))
}

/// lpad/rpad to `n` characters, cycling `fill`; a longer `s` is cut to `n`.
fn pad(s: &str, n: i64, fill: &str, left: bool) -> Result<String> {
    let Ok(n) = usize::try_from(n) else { return Ok(String::new()) };
    if n.checked_mul(4).is_none_or(|bytes| bytes > MAX_TEXT_BYTES) {
        return Err(too_large());
    }
    let len = s.chars().count();
    if len >= n || fill.is_empty() {
        return Ok(s.chars().take(n).collect());
    }
    let padding: String = fill.chars().cycle().take(n - len).collect();
    Ok(if left { padding + s } else { format!("{s}{padding}") })
}

/// MD5 (RFC 1321) as 32 lowercase hex digits.
fn md5_hex(data: &[u8]) -> String {
    const SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    // floor(|sin(i + 1)| * 2^32), written out so no platform's sin matters.
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8,
        0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
        0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87,
        0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039,
        0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
        0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&(data.len() as u64).wrapping_mul(8).to_le_bytes());
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in message.chunks_exact(64) {
        let words: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let sum = a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(words[g]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(sum.rotate_left(SHIFTS[i / 16 * 4 + i % 4]));
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    state.iter().flat_map(|s| s.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------

fn unit_not_recognized(field: &str, type_name: &str) -> Error {
    Error::sql("22023", format!("unit \"{field}\" not recognized for type {type_name}"))
}

fn unit_not_supported(field: &str, type_name: &str) -> Error {
    Error::sql("0A000", format!("unit \"{field}\" not supported for type {type_name}"))
}

const TIMESTAMP: &str = "timestamp without time zone";
const TIMESTAMPTZ: &str = "timestamp with time zone";

fn time_call(name: &str, args: &[Value], ctx: &FunctionContext) -> Option<Result<Value>> {
    let now = ctx.statement_time_micros;
    let today = || date_to_timestamp(i32::try_from(now.div_euclid(MICROS_PER_DAY)).unwrap_or(0));
    Some(match (name, args) {
        ("now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp", []) => {
            Ok(Value::TimestampTz(now))
        }
        ("localtimestamp", []) => Ok(Value::Timestamp(now)),
        ("current_date", []) => Ok(Value::Date(i32::try_from(now.div_euclid(MICROS_PER_DAY)).unwrap_or(0))),
        ("localtime", []) => Ok(Value::Time(now.rem_euclid(MICROS_PER_DAY))),
        ("date_trunc", [field, v]) => text_value(field).and_then(|f| date_trunc(f, v)),
        ("date_part", [field, v]) => {
            text_value(field).and_then(|f| extract(f, v, false)).map(|d| Value::Float(decimal_to_f64(d)))
        }
        ("extract", [field, v]) => text_value(field).and_then(|f| extract(f, v, true)).map(Value::Numeric),
        ("age", [v]) => stamp_value(v).and_then(|t| age(today(), t)).map(Value::Interval),
        ("age", [a, b]) => stamp_value(a).and_then(|a| age(a, stamp_value(b)?)).map(Value::Interval),
        ("make_date", [y, m, d]) => make_date(int_value(y), int_value(m), int_value(d)).map(Value::Date),
        ("make_time", [h, m, s]) => make_time(int_value(h), int_value(m), number(s)).map(Value::Time),
        ("make_timestamp", [y, mo, d, h, mi, s]) => make_timestamp([y, mo, d, h, mi], s).map(Value::Timestamp),
        ("to_timestamp", [x]) => number(x).and_then(to_timestamp).map(Value::TimestampTz),
        _ => return None,
    })
}

/// A date or timestamp as microseconds; text is read as a timestamptz.
fn stamp_value(v: &Value) -> Result<i64> {
    match v {
        Value::Date(d) => Ok(date_to_timestamp(*d)),
        Value::Timestamp(t) | Value::TimestampTz(t) => Ok(*t),
        Value::Text(s) => parse_timestamptz(s),
        other => Err(bad_argument(other)),
    }
}

/// date_trunc: a date is truncated as a timestamptz, as PostgreSQL does.
fn date_trunc(field: &str, v: &Value) -> Result<Value> {
    match v {
        Value::Timestamp(t) => trunc_timestamp(field, *t, TIMESTAMP).map(Value::Timestamp),
        Value::Interval(iv) => trunc_interval(field, *iv).map(Value::Interval),
        other => trunc_timestamp(field, stamp_value(other)?, TIMESTAMPTZ).map(Value::TimestampTz),
    }
}

fn trunc_timestamp(field: &str, ts: i64, type_name: &str) -> Result<i64> {
    use DateUnit::*;
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, type_name))?;
    let step = match unit {
        Microsecond => Some(1),
        Millisecond => Some(1000),
        Second => Some(1_000_000),
        Minute => Some(MICROS_PER_MINUTE),
        Hour => Some(MICROS_PER_HOUR),
        Day => Some(MICROS_PER_DAY),
        _ => None,
    };
    if let Some(step) = step {
        return ts.checked_sub(ts.rem_euclid(step)).ok_or_else(timestamp_out_of_range);
    }
    let (date, _) = split_timestamp(ts).ok_or_else(timestamp_out_of_range)?;
    let year = date.year();
    let first = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    // The first year of a decade, century or millennium, by PostgreSQL's
    // formulas (which count 1 BC as year 0).
    let start = match unit {
        Week => date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday()))),
        Month => first(year, date.month()),
        Quarter => first(year, (date.month() - 1) / 3 * 3 + 1),
        Year => first(year, 1),
        Decade if year > 0 => first(year / 10 * 10, 1),
        Decade => first(-((8 - (year - 1)) / 10) * 10, 1),
        Century if year > 0 => first((year + 99) / 100 * 100 - 99, 1),
        Century => first(-((99 - (year - 1)) / 100) * 100 + 1, 1),
        Millennium if year > 0 => first((year + 999) / 1000 * 1000 - 999, 1),
        Millennium => first(-((999 - (year - 1)) / 1000) * 1000 + 1, 1),
        _ => return Err(unit_not_supported(field, type_name)),
    };
    start.and_then(|d| timestamp_of(d, 0)).ok_or_else(timestamp_out_of_range)
}

fn trunc_interval(field: &str, iv: Interval) -> Result<Interval> {
    use DateUnit::*;
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, "interval"))?;
    let time = |step: i64| Interval { micros: iv.micros - iv.micros % step, ..iv };
    let months = |step: i32| Interval { months: iv.months - iv.months % step, days: 0, micros: 0 };
    Ok(match unit {
        Microsecond => iv,
        Millisecond => time(1000),
        Second => time(1_000_000),
        Minute => time(MICROS_PER_MINUTE),
        Hour => time(MICROS_PER_HOUR),
        Day => Interval { micros: 0, ..iv },
        Month => months(1),
        // Quarters within the year, then whole years.
        Quarter => Interval { months: iv.months / 12 * 12 + iv.months % 12 / 3 * 3, days: 0, micros: 0 },
        Year => months(12),
        Decade => months(120),
        Century => months(1200),
        Millennium => months(12000),
        _ => return Err(unit_not_supported(field, "interval")),
    })
}

/// date_part/extract as an exact numeric (date_part converts it to a
/// double). `from_date` sources keep extract's date rules: whole numbers
/// only and no time-of-day fields; date_part reads a date as a timestamp.
fn extract(field: &str, v: &Value, numeric: bool) -> Result<Decimal> {
    match v {
        Value::Date(d) if numeric => date_field(field, *d),
        Value::Timestamp(t) => timestamp_field(field, *t, TIMESTAMP),
        Value::Date(d) => timestamp_field(field, date_to_timestamp(*d), TIMESTAMP),
        Value::Time(t) => time_field(field, *t),
        Value::Interval(iv) => interval_field(field, *iv),
        other => timestamp_field(field, stamp_value(other)?, TIMESTAMPTZ),
    }
}

/// Fields of the time of day (`micros` since midnight or within an
/// interval's time part): `None` for other units.
fn clock_field(unit: DateUnit, micros: i64) -> Option<Decimal> {
    let in_minute = micros % MICROS_PER_MINUTE;
    Some(match unit {
        DateUnit::Microsecond => Decimal::from(in_minute),
        DateUnit::Millisecond => Decimal::new(in_minute, 3),
        DateUnit::Second => Decimal::new(in_minute, 6),
        DateUnit::Minute => Decimal::from(micros / MICROS_PER_MINUTE % 60),
        DateUnit::Hour => Decimal::from(micros / MICROS_PER_HOUR),
        _ => return None,
    })
}

/// Calendar fields of a date; `None` for other units. Years are shown as
/// PostgreSQL shows them (no year 0: 1 BC is -1).
fn calendar_field(unit: DateUnit, date: NaiveDate) -> Option<i64> {
    use DateUnit::*;
    let year = i64::from(date.year());
    Some(match unit {
        Day => i64::from(date.day()),
        Month => i64::from(date.month()),
        Quarter => i64::from((date.month() - 1) / 3 + 1),
        Year if year > 0 => year,
        Year => year - 1,
        Decade if year >= 0 => year / 10,
        Decade => -((8 - (year - 1)) / 10),
        Century if year > 0 => (year + 99) / 100,
        Century => -((99 - (year - 1)) / 100),
        Millennium if year > 0 => (year + 999) / 1000,
        Millennium => -((999 - (year - 1)) / 1000),
        Dow => i64::from(date.weekday().num_days_from_sunday()),
        IsoDow => i64::from(date.weekday().number_from_monday()),
        Doy => i64::from(date.ordinal()),
        Week => i64::from(date.iso_week().week()),
        IsoYear => i64::from(date.iso_week().year()),
        _ => return None,
    })
}

fn timestamp_field(field: &str, ts: i64, type_name: &str) -> Result<Decimal> {
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, type_name))?;
    let (date, time) = split_timestamp(ts).ok_or_else(timestamp_out_of_range)?;
    match unit {
        DateUnit::Epoch => Ok(Decimal::new(ts, 6)),
        DateUnit::Timezone if type_name == TIMESTAMPTZ => Ok(Decimal::ZERO),
        _ => clock_field(unit, time)
            .or_else(|| calendar_field(unit, date).map(Decimal::from))
            .ok_or_else(|| unit_not_supported(field, type_name)),
    }
}

fn date_field(field: &str, days: i32) -> Result<Decimal> {
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, "date"))?;
    let date = date_from_days(days).ok_or_else(timestamp_out_of_range)?;
    match unit {
        DateUnit::Epoch => Ok(Decimal::from(i64::from(days) * 86_400)),
        _ => calendar_field(unit, date).map(Decimal::from).ok_or_else(|| unit_not_supported(field, "date")),
    }
}

fn time_field(field: &str, micros: i64) -> Result<Decimal> {
    const TIME: &str = "time without time zone";
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, TIME))?;
    match unit {
        DateUnit::Epoch => Ok(Decimal::new(micros, 6)),
        _ => clock_field(unit, micros).ok_or_else(|| unit_not_supported(field, TIME)),
    }
}

fn interval_field(field: &str, iv: Interval) -> Result<Decimal> {
    use DateUnit::*;
    let unit = date_unit(field).ok_or_else(|| unit_not_recognized(field, "interval"))?;
    let months = i64::from(iv.months);
    Ok(match unit {
        Day => Decimal::from(iv.days),
        Month => Decimal::from(months % 12),
        Quarter => Decimal::from(months % 12 / 3 + 1),
        Year => Decimal::from(months / 12),
        Decade => Decimal::from(months / 120),
        Century => Decimal::from(months / 1200),
        Millennium => Decimal::from(months / 12000),
        Epoch => {
            // A year is 365.25 days and a month 30, as PostgreSQL counts.
            let micros = i128::from(months / 12) * 31_557_600_000_000
                + i128::from(months % 12) * 2_592_000_000_000
                + i128::from(iv.days) * i128::from(MICROS_PER_DAY)
                + i128::from(iv.micros);
            Decimal::from_i128_with_scale(micros, 6)
        }
        _ => clock_field(unit, iv.micros).ok_or_else(|| unit_not_supported(field, "interval"))?,
    })
}

/// age(a, b): `a - b` in years, months and days by the calendar, borrowing
/// month lengths as PostgreSQL's `timestamp_age` does.
fn age(a: i64, b: i64) -> Result<Interval> {
    let (d1, t1) = split_timestamp(a).ok_or_else(timestamp_out_of_range)?;
    let (d2, t2) = split_timestamp(b).ok_or_else(timestamp_out_of_range)?;
    let flip = if a < b { -1 } else { 1 };
    let field = |x: u32, y: u32| (i64::from(x) - i64::from(y)) * flip;
    let mut time = (t1 - t2) * flip;
    let mut days = field(d1.day(), d2.day());
    let mut months = field(d1.month(), d2.month());
    let mut years = (i64::from(d1.year()) - i64::from(d2.year())) * flip;
    if time < 0 {
        time += MICROS_PER_DAY;
        days -= 1;
    }
    let borrow_from = if a < b { d1 } else { d2 };
    while days < 0 {
        days += days_in_month(borrow_from.year(), borrow_from.month());
        months -= 1;
    }
    while months < 0 {
        months += 12;
        years -= 1;
    }
    let out_of_range = || Error::sql("22008", "interval out of range");
    Ok(Interval {
        months: i32::try_from((years * 12 + months) * flip).map_err(|_| out_of_range())?,
        days: i32::try_from(days * flip).map_err(|_| out_of_range())?,
        micros: time * flip,
    })
}

fn days_in_month(year: i32, month: u32) -> i64 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// make_date: negative years are BC (there is no year 0).
fn make_date(year: Result<i64>, month: Result<i64>, day: Result<i64>) -> Result<i32> {
    let (y, m, d) = (year?, month?, day?);
    let out_of_range = || Error::sql("22008", format!("date field value out of range: {y}-{m:02}-{d:02}"));
    let astronomical = if y < 0 { y + 1 } else { y };
    if y == 0 {
        return Err(out_of_range());
    }
    let date = match (i32::try_from(astronomical), u32::try_from(m), u32::try_from(d)) {
        (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
        _ => None,
    };
    date.map(days_of).ok_or_else(out_of_range)
}

/// make_time: hours 0–23 (or exactly 24:00:00), seconds may be fractional.
fn make_time(hour: Result<i64>, minute: Result<i64>, second: Result<f64>) -> Result<i64> {
    let (h, m, s) = (hour?, minute?, second?);
    let micros = (s * 1e6).round_ties_even();
    let valid = (0..=24).contains(&h) && (0..=59).contains(&m) && (0.0..=60.0).contains(&s);
    let total = valid.then(|| (h * 60 + m) * MICROS_PER_MINUTE + micros as i64);
    total
        .filter(|t| *t <= MICROS_PER_DAY)
        .ok_or_else(|| Error::sql("22008", format!("time field value out of range: {h}:{m:02}:{s:02}")))
}

fn make_timestamp(fields: [&Value; 5], second: &Value) -> Result<i64> {
    let [y, mo, d, h, mi] = fields;
    let date = make_date(int_value(y), int_value(mo), int_value(d))?;
    let time = make_time(int_value(h), int_value(mi), number(second))?;
    date_to_timestamp(date).checked_add(time).ok_or_else(timestamp_out_of_range)
}

/// to_timestamp(seconds since 1970), rounded to the microsecond.
fn to_timestamp(seconds: f64) -> Result<i64> {
    if seconds.is_nan() {
        return Err(Error::sql("22008", "timestamp cannot be NaN"));
    }
    let micros = (seconds * 1e6).round_ties_even();
    let in_range = micros.is_finite() && (-9.2e18..9.2e18).contains(&micros);
    Some(micros as i64).filter(|t| in_range && split_timestamp(*t).is_some()).ok_or_else(|| {
        Error::sql("22008", format!("timestamp out of range: \"{}\"", super::cast::format_float(seconds)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::cast::{parse_date, parse_interval, parse_numeric, parse_timestamp};

    fn dec(s: &str) -> Value {
        Value::Numeric(parse_numeric(s).unwrap())
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn ts(s: &str) -> Value {
        Value::Timestamp(parse_timestamp(s).unwrap())
    }

    fn run(name: &str, args: Vec<Value>) -> Result<Value> {
        call(name, &args, &mut FunctionContext::fixed(parse_timestamp("2024-03-15 10:30:00").unwrap()))
    }

    fn show(name: &str, args: Vec<Value>) -> String {
        format_value(&run(name, args).unwrap())
    }

    fn state(name: &str, args: Vec<Value>) -> &'static str {
        run(name, args).unwrap_err().sqlstate()
    }

    #[test]
    fn return_types() {
        use DataType::*;
        let t = |name: &str, args: &[DataType]| return_type(name, args);
        assert_eq!(t("abs", &[Int16]).unwrap(), Int16);
        assert_eq!(t("abs", &[Numeric(Some((5, 2)))]).unwrap(), Numeric(None));
        assert_eq!(t("round", &[Int32]).unwrap(), Float64);
        assert_eq!(t("round", &[Numeric(None)]).unwrap(), Numeric(None));
        assert_eq!(t("round", &[Int32, Int32]).unwrap(), Numeric(None));
        assert!(t("round", &[Float64, Int32]).is_err());
        assert_eq!(t("power", &[Int32, Int32]).unwrap(), Float64);
        assert_eq!(t("mod", &[Int16, Int32]).unwrap(), Int32);
        assert_eq!(t("length", &[Varchar(Some(3))]).unwrap(), Int32);
        assert_eq!(t("substring", &[Text, Int32, Int32]).unwrap(), Text);
        assert_eq!(t("substr", &[Bytea, Int32]).unwrap(), Bytea);
        assert_eq!(t("concat", &[Int32, Bool]).unwrap(), Text);
        assert_eq!(t("now", &[]).unwrap(), TimestampTz);
        assert_eq!(t("localtimestamp", &[]).unwrap(), Timestamp);
        assert_eq!(t("date_trunc", &[Text, Date]).unwrap(), TimestampTz);
        assert_eq!(t("date_trunc", &[Text, Timestamp]).unwrap(), Timestamp);
        assert_eq!(t("date_part", &[Text, Timestamp]).unwrap(), Float64);
        assert_eq!(t("extract", &[Text, Interval]).unwrap(), Numeric(None));
        assert_eq!(t("greatest", &[Int32, Int64, Unknown]).unwrap(), Int64);
        assert_eq!(t("gen_random_uuid", &[]).unwrap(), Uuid);
        let e = t("foo", &[Int32]).unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().as_str()), ("42883", "function foo(integer) does not exist"));
        let e = t("abs", &[Text]).unwrap_err();
        assert_eq!(e.to_string(), "function abs(text) does not exist");
        assert!(t("lower", &[]).is_err());
        let e = t("greatest", &[Int32, Bool]).unwrap_err();
        assert_eq!(
            (e.sqlstate(), e.to_string().as_str()),
            ("42804", "GREATEST types integer and boolean cannot be matched")
        );
    }

    #[test]
    fn rounding() {
        assert_eq!(show("round", vec![Value::Float(2.5)]), "2");
        assert_eq!(show("round", vec![Value::Float(3.5)]), "4");
        assert_eq!(show("round", vec![dec("2.5")]), "3");
        assert_eq!(show("round", vec![dec("-2.5")]), "-3");
        assert_eq!(show("round", vec![dec("1234.5678"), Value::Int(2)]), "1234.57");
        assert_eq!(show("round", vec![dec("1234.5"), Value::Int(-2)]), "1200");
        assert_eq!(show("round", vec![dec("1250"), Value::Int(-2)]), "1300");
        assert_eq!(show("round", vec![dec("1.0"), Value::Int(3)]), "1.000");
        assert_eq!(show("round", vec![Value::Int(5), Value::Int(1)]), "5.0");
        assert_eq!(show("trunc", vec![dec("1234.5678"), Value::Int(2)]), "1234.56");
        assert_eq!(show("trunc", vec![dec("-1234.5678"), Value::Int(-2)]), "-1200");
        assert_eq!(show("trunc", vec![Value::Float(-2.7)]), "-2");
        assert_eq!(show("ceil", vec![Value::Float(1.2)]), "2");
        assert_eq!(show("ceiling", vec![dec("-1.5")]), "-1");
        assert_eq!(show("floor", vec![dec("-1.5")]), "-2");
        assert_eq!(show("floor", vec![Value::Int(3)]), "3");
        assert_eq!(show("ceil", vec![dec("-0.5")]), "0");
    }

    #[test]
    fn math() {
        assert_eq!(show("abs", vec![Value::Int(-5)]), "5");
        assert_eq!(show("abs", vec![dec("-2.50")]), "2.50");
        assert_eq!(state("abs", vec![Value::Int(i64::MIN)]), "22003");
        assert_eq!(show("sqrt", vec![Value::Int(16)]), "4");
        assert_eq!(show("sqrt", vec![dec("2.0")]), "1.414213562373095");
        assert_eq!(show("sqrt", vec![dec("16")]), "4.000000000000000");
        assert_eq!(state("sqrt", vec![Value::Int(-1)]), "2201F");
        assert_eq!(show("cbrt", vec![Value::Float(27.0)]), "3");
        assert_eq!(show("exp", vec![dec("1.0")]), "2.7182818284590452");
        assert_eq!(show("exp", vec![Value::Int(0)]), "1");
        assert_eq!(show("ln", vec![dec("2.0")]), "0.6931471805599453");
        assert_eq!(show("log", vec![Value::Float(100.0)]), "2");
        assert_eq!(show("log", vec![dec("100")]), "2.0000000000000000");
        assert_eq!(show("log", vec![dec("2"), dec("8")]), "3.0000000000000000");
        assert_eq!(state("ln", vec![Value::Int(0)]), "2201E");
        assert_eq!(state("ln", vec![dec("-1")]), "2201E");
        assert_eq!(state("log", vec![Value::Int(1), Value::Int(8)]), "22012");
        assert_eq!(show("power", vec![Value::Int(2), Value::Int(10)]), "1024");
        assert_eq!(show("pow", vec![dec("2"), Value::Int(3)]), "8.0000000000000000");
        assert_eq!(show("mod", vec![Value::Int(-7), Value::Int(3)]), "-1");
        assert_eq!(show("mod", vec![dec("5.5"), Value::Int(2)]), "1.5");
        assert_eq!(state("mod", vec![Value::Int(1), Value::Int(0)]), "22012");
        assert_eq!(show("sign", vec![Value::Int(-3)]), "-1");
        assert_eq!(show("sign", vec![dec("0.0")]), "0");
        assert_eq!(show("sign", vec![dec("2.5")]), "1");
        assert_eq!(show("pi", vec![]), "3.141592653589793");
        assert_eq!(show("degrees", vec![Value::Float(std::f64::consts::PI)]), "180");
        assert_eq!(show("atan2", vec![Value::Int(1), Value::Int(1)]), "0.7853981633974483");
        assert_eq!(state("asin", vec![Value::Int(2)]), "22003");
        assert_eq!(show("abs", vec![Value::Null]), "NULL");
    }

    #[test]
    fn strings() {
        assert_eq!(show("length", vec![text("héllo")]), "5");
        assert_eq!(show("octet_length", vec![text("héllo")]), "6");
        assert_eq!(show("length", vec![Value::Bytes(vec![1, 2])]), "2");
        assert_eq!(show("lower", vec![text("ÀbC")]), "àbc");
        assert_eq!(show("upper", vec![text("àbc")]), "ÀBC");
        assert_eq!(show("initcap", vec![text("hello wORLD-foo 1st")]), "Hello World-Foo 1st");
        assert_eq!(show("substr", vec![text("hello"), Value::Int(2), Value::Int(3)]), "ell");
        assert_eq!(show("substring", vec![text("hello"), Value::Int(0), Value::Int(2)]), "h");
        assert_eq!(show("substr", vec![text("hello"), Value::Int(-1), Value::Int(3)]), "h");
        assert_eq!(show("substr", vec![text("hello"), Value::Int(3)]), "llo");
        assert_eq!(show("substr", vec![text("hello"), Value::Int(9)]), "");
        assert_eq!(show("substr", vec![Value::Bytes(vec![1, 2, 3]), Value::Int(2)]), "\\x0203");
        assert_eq!(state("substr", vec![text("hello"), Value::Int(1), Value::Int(-1)]), "22011");
        assert_eq!(show("strpos", vec![text("héllo"), text("lo")]), "4");
        assert_eq!(show("position", vec![text("hello"), text("z")]), "0");
        assert_eq!(show("trim", vec![text("  a  ")]), "a");
        assert_eq!(show("btrim", vec![text("xyaxy"), text("xy")]), "a");
        assert_eq!(show("ltrim", vec![text("xxa"), text("x")]), "a");
        assert_eq!(show("rtrim", vec![text("a  ")]), "a");
        assert_eq!(show("replace", vec![text("abcabc"), text("b"), text("X")]), "aXcaXc");
        assert_eq!(show("replace", vec![text("abc"), text(""), text("X")]), "abc");
        assert_eq!(show("reverse", vec![text("abc")]), "cba");
        assert_eq!(show("starts_with", vec![text("hello"), text("he")]), "t");
        assert_eq!(show("ascii", vec![text("A")]), "65");
        assert_eq!(show("chr", vec![Value::Int(233)]), "é");
        // PostgreSQL's own answers.
        for (size, pretty) in [
            (10_239, "10239 bytes"),
            (10_240, "10 kB"),
            (1_048_576, "1024 kB"),
            (20_971_520, "20 MB"),
            (-20_971_520, "-20 MB"),
            (1_610_612_736, "1536 MB"),
            (i64::MAX, "8192 PB"),
        ] {
            assert_eq!(show("pg_size_pretty", vec![Value::Int(size)]), pretty, "{size}");
        }
        assert_eq!(state("chr", vec![Value::Int(0)]), "54000");
        assert_eq!(state("chr", vec![Value::Int(0x110000)]), "54000");
        assert_eq!(show("to_hex", vec![Value::Int(255)]), "ff");
        assert_eq!(show("to_hex", vec![Value::Int(-1)]), "ffffffff");
        assert_eq!(show("to_hex", vec![Value::Int(1 << 40)]), "10000000000");
        assert_eq!(show("md5", vec![text("")]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(show("md5", vec![text("abc")]), "900150983cd24fb0d6963f7d28e17f72");
        // Longer than one 64-byte block; the digest is `md5sum`'s.
        let long = "The quick brown fox jumps over the lazy dog".repeat(3);
        assert_eq!(show("md5", vec![text(&long)]), "4e67db4a7a406b0cfdadd887cde7888e");
    }

    #[test]
    fn string_building() {
        assert_eq!(show("concat", vec![text("a"), Value::Null, Value::Int(1), Value::Bool(true)]), "a1t");
        assert_eq!(show("concat_ws", vec![text(","), text("a"), Value::Null, text("b")]), "a,b");
        assert_eq!(show("concat_ws", vec![Value::Null, text("a")]), "NULL");
        assert_eq!(show("left", vec![text("abcde"), Value::Int(2)]), "ab");
        assert_eq!(show("left", vec![text("abcde"), Value::Int(-2)]), "abc");
        assert_eq!(show("right", vec![text("abcde"), Value::Int(2)]), "de");
        assert_eq!(show("right", vec![text("abcde"), Value::Int(-2)]), "cde");
        assert_eq!(show("right", vec![text("ab"), Value::Int(5)]), "ab");
        assert_eq!(show("lpad", vec![text("hi"), Value::Int(5), text("xy")]), "xyxhi");
        assert_eq!(show("rpad", vec![text("hi"), Value::Int(5)]), "hi   ");
        assert_eq!(show("lpad", vec![text("hello"), Value::Int(2)]), "he");
        assert_eq!(show("lpad", vec![text("hi"), Value::Int(-1)]), "");
        assert_eq!(state("lpad", vec![text("hi"), Value::Int(1 << 40)]), "54000");
        assert_eq!(show("repeat", vec![text("ab"), Value::Int(3)]), "ababab");
        assert_eq!(show("repeat", vec![text("ab"), Value::Int(-1)]), "");
        assert_eq!(state("repeat", vec![text("ab"), Value::Int(1 << 40)]), "54000");
        assert_eq!(show("split_part", vec![text("a,b,c"), text(","), Value::Int(2)]), "b");
        assert_eq!(show("split_part", vec![text("a,b,c"), text(","), Value::Int(-1)]), "c");
        assert_eq!(show("split_part", vec![text("a,b"), text(","), Value::Int(5)]), "");
        assert_eq!(state("split_part", vec![text("a,b"), text(","), Value::Int(0)]), "22023");
    }

    #[test]
    fn clock_and_randomness() {
        assert_eq!(show("now", vec![]), "2024-03-15 10:30:00+00");
        assert_eq!(show("localtimestamp", vec![]), "2024-03-15 10:30:00");
        assert_eq!(show("current_date", vec![]), "2024-03-15");
        assert_eq!(show("localtime", vec![]), "10:30:00");
        assert_eq!(run("random", vec![]).unwrap_err().sqlstate(), "0A000");
        let mut draws = [0.25, 0.5, 0.75, 0.999].into_iter().cycle();
        let mut ctx =
            FunctionContext { statement_time_micros: 0, random: Some(Box::new(move || draws.next().unwrap_or(0.0))) };
        assert_eq!(call("random", &[], &mut ctx).unwrap(), Value::Float(0.25));
        let uuid = format_value(&call("gen_random_uuid", &[], &mut ctx).unwrap());
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
        assert_eq!(show("version", vec![]), "PostgreSQL 15.0 (RustyDB 0.1.0)");
    }

    #[test]
    fn date_trunc_and_extract() {
        let stamp = ts("2024-03-15 10:30:01.5");
        assert_eq!(show("date_trunc", vec![text("month"), stamp.clone()]), "2024-03-01 00:00:00");
        assert_eq!(show("date_trunc", vec![text("week"), stamp.clone()]), "2024-03-11 00:00:00");
        assert_eq!(show("date_trunc", vec![text("quarter"), stamp.clone()]), "2024-01-01 00:00:00");
        assert_eq!(show("date_trunc", vec![text("HOUR"), stamp.clone()]), "2024-03-15 10:00:00");
        assert_eq!(show("date_trunc", vec![text("second"), stamp.clone()]), "2024-03-15 10:30:01");
        assert_eq!(show("date_trunc", vec![text("century"), stamp.clone()]), "2001-01-01 00:00:00");
        assert_eq!(show("date_trunc", vec![text("decade"), stamp.clone()]), "2020-01-01 00:00:00");
        let date = Value::Date(parse_date("2024-03-15").unwrap());
        assert_eq!(show("date_trunc", vec![text("year"), date.clone()]), "2024-01-01 00:00:00+00");
        let iv = Value::Interval(parse_interval("1 year 5 months 3 days 02:30:00").unwrap());
        assert_eq!(show("date_trunc", vec![text("hour"), iv.clone()]), "1 year 5 mons 3 days 02:00:00");
        assert_eq!(show("date_trunc", vec![text("quarter"), iv.clone()]), "1 year 3 mons");
        assert_eq!(state("date_trunc", vec![text("fortnight"), stamp.clone()]), "22023");
        assert_eq!(state("date_trunc", vec![text("day"), Value::Timestamp(i64::MIN)]), "22008");
        assert_eq!(show("date_part", vec![text("year"), stamp.clone()]), "2024");
        assert_eq!(show("date_part", vec![text("second"), stamp.clone()]), "1.5");
        assert_eq!(show("extract", vec![text("second"), stamp.clone()]), "1.500000");
        assert_eq!(show("extract", vec![text("milliseconds"), stamp.clone()]), "1500.000");
        assert_eq!(show("extract", vec![text("microseconds"), stamp.clone()]), "1500000");
        assert_eq!(show("extract", vec![text("epoch"), ts("1970-01-02")]), "86400.000000");
        assert_eq!(show("extract", vec![text("epoch"), Value::Date(1)]), "86400");
        assert_eq!(show("date_part", vec![text("epoch"), ts("1970-01-01 00:00:01.5")]), "1.5");
        assert_eq!(show("extract", vec![text("dow"), stamp.clone()]), "5");
        assert_eq!(show("extract", vec![text("isodow"), ts("2024-03-17")]), "7");
        assert_eq!(show("extract", vec![text("doy"), stamp.clone()]), "75");
        assert_eq!(show("extract", vec![text("week"), stamp.clone()]), "11");
        assert_eq!(show("extract", vec![text("quarter"), stamp.clone()]), "1");
        assert_eq!(show("extract", vec![text("century"), stamp.clone()]), "21");
        assert_eq!(show("extract", vec![text("minute"), stamp.clone()]), "30");
        assert_eq!(show("extract", vec![text("day"), date.clone()]), "15");
        assert_eq!(state("extract", vec![text("hour"), date.clone()]), "0A000");
        assert_eq!(show("date_part", vec![text("hour"), date]), "0");
        assert_eq!(state("extract", vec![text("timezone"), stamp]), "0A000");
        assert_eq!(
            show("extract", vec![text("epoch"), Value::Interval(parse_interval("1 day").unwrap())]),
            "86400.000000"
        );
        assert_eq!(
            show("extract", vec![text("epoch"), Value::Interval(parse_interval("1 year").unwrap())]),
            "31557600.000000"
        );
        assert_eq!(show("extract", vec![text("month"), iv.clone()]), "5");
        assert_eq!(show("extract", vec![text("hour"), iv.clone()]), "2");
        assert_eq!(state("extract", vec![text("dow"), iv]), "0A000");
        assert_eq!(show("extract", vec![text("hour"), Value::Time(5 * MICROS_PER_HOUR)]), "5");
    }

    #[test]
    fn age_and_constructors() {
        assert_eq!(show("age", vec![ts("2024-03-01"), ts("2024-01-31")]), "1 mon 1 day");
        assert_eq!(show("age", vec![ts("2024-01-01"), ts("2024-03-01")]), "-2 mons");
        assert_eq!(
            show("age", vec![ts("2024-03-15 10:00:00"), ts("2000-01-01 12:00:00")]),
            "24 years 2 mons 13 days 22:00:00"
        );
        assert_eq!(show("age", vec![ts("2023-03-15 00:00:00")]), "1 year");
        assert_eq!(show("make_date", vec![Value::Int(2024), Value::Int(2), Value::Int(29)]), "2024-02-29");
        assert_eq!(show("make_date", vec![Value::Int(-44), Value::Int(3), Value::Int(15)]), "0044-03-15 BC");
        let e = run("make_date", vec![Value::Int(2023), Value::Int(2), Value::Int(29)]).unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().as_str()), ("22008", "date field value out of range: 2023-02-29"));
        assert_eq!(show("make_time", vec![Value::Int(8), Value::Int(15), Value::Float(23.5)]), "08:15:23.5");
        assert_eq!(state("make_time", vec![Value::Int(25), Value::Int(0), Value::Float(0.0)]), "22008");
        let args = [2024, 1, 2, 3, 4].map(Value::Int).into_iter().chain([Value::Float(5.5)]).collect();
        assert_eq!(show("make_timestamp", args), "2024-01-02 03:04:05.5");
        assert_eq!(show("to_timestamp", vec![Value::Int(0)]), "1970-01-01 00:00:00+00");
        assert_eq!(show("to_timestamp", vec![Value::Float(1.5)]), "1970-01-01 00:00:01.5+00");
        assert_eq!(state("to_timestamp", vec![Value::Float(f64::NAN)]), "22008");
        assert_eq!(state("to_timestamp", vec![Value::Float(1e300)]), "22008");
    }

    #[test]
    fn lenient_functions() {
        assert_eq!(show("greatest", vec![Value::Int(1), Value::Int(3), Value::Int(2)]), "3");
        assert_eq!(show("least", vec![Value::Null, Value::Int(3), Value::Int(2)]), "2");
        assert_eq!(show("greatest", vec![text("b"), text("a")]), "b");
        assert_eq!(show("greatest", vec![Value::Null, Value::Null]), "NULL");
        assert_eq!(show("num_nulls", vec![Value::Int(1), Value::Null, Value::Null]), "2");
        assert_eq!(show("num_nonnulls", vec![Value::Int(1), Value::Null]), "1");
        assert_eq!(state("nosuch", vec![Value::Int(1)]), "42883");
    }
}
