//! SQL operators: the type of `a op b` ([`binary_type`], [`unary_type`]) and
//! its value ([`binary`], [`unary`]).
//!
//! This module owns PostgreSQL's operator rules: integer widths and their
//! overflow checks, division by zero, numeric result scales, IEEE floats
//! with PostgreSQL's overflow and underflow errors, date/time arithmetic,
//! comparisons across related types, `||`, LIKE ([`like`]), bit operators
//! and the JSON `->`/`->>` lookups.

use std::borrow::Cow;
use std::cmp::Ordering;

use chrono::Months;
use rust_decimal::{Decimal, MathematicalOps};

use super::cast::{
    self, JsonKind, date_from_days, date_to_timestamp, decimal_to_f64, float_overflow, float_to_decimal,
    float_underflow, int_in_range, int_out_of_range, narrow_to_f32, normalize_zero, numeric_overflow, round_to_scale,
    split_timestamp, text_of, timestamp_of, timestamp_out_of_range, value_type,
};
use super::value::{DataType, Interval, MICROS_PER_DAY, Value};
use crate::error::{Error, Result};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    JsonGet,
    JsonGetText,
}

impl BinaryOp {
    /// The operator as PostgreSQL names it (`~~` for LIKE, `#` for XOR), for
    /// EXPLAIN and error messages.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Eq => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            Concat => "||",
            Like => "~~",
            NotLike => "!~~",
            ILike => "~~*",
            NotILike => "!~~*",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "#",
            ShiftLeft => "<<",
            ShiftRight => ">>",
            JsonGet => "->",
            JsonGetText => "->>",
        }
    }
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::Not => "NOT",
            UnaryOp::BitNot => "~",
        }
    }
}

fn no_operator(op: BinaryOp, left: &DataType, right: &DataType) -> Error {
    Error::sql("42883", format!("operator does not exist: {left} {} {right}", op.symbol()))
}

fn no_unary_operator(op: UnaryOp, t: &DataType) -> Error {
    Error::sql("42883", format!("operator does not exist: {} {t}", op.symbol()))
}

pub(crate) fn division_by_zero() -> Error {
    Error::sql("22012", "division by zero")
}

fn interval_out_of_range() -> Error {
    Error::sql("22008", "interval out of range")
}

// ---------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------

/// The type of `left op right`, or "42883" if no such operator exists.
/// `Unknown` (a NULL or untyped literal) takes the type that makes the
/// operator exist, as PostgreSQL resolves unknown-typed literals.
pub fn binary_type(op: BinaryOp, left: &DataType, right: &DataType) -> Result<DataType> {
    use BinaryOp::*;
    let found = match op {
        Add | Sub | Mul | Div | Mod | Pow => arithmetic_type(op, left, right),
        Eq | NotEq | Lt | LtEq | Gt | GtEq => comparison_type(left, right),
        Concat => concat_type(left, right),
        Like | NotLike | ILike | NotILike => (is_texty(left) && is_texty(right)).then_some(DataType::Bool),
        BitAnd | BitOr | BitXor => (is_inty(left) && is_inty(right)).then(|| wider_int(left, right)),
        ShiftLeft | ShiftRight => (is_inty(left) && is_inty(right)).then(|| wider_int(left, left)),
        JsonGet | JsonGetText => json_type(op, left, right),
    };
    found.ok_or_else(|| no_operator(op, left, right))
}

fn is_texty(t: &DataType) -> bool {
    t.is_text() || *t == DataType::Unknown
}

fn is_inty(t: &DataType) -> bool {
    t.is_integer() || *t == DataType::Unknown
}

/// The wider of two integer types; `Unknown` yields to the other side.
fn wider_int(a: &DataType, b: &DataType) -> DataType {
    let rank = |t: &DataType| match t {
        DataType::Int16 => 1,
        DataType::Int32 => 2,
        DataType::Int64 => 3,
        _ => 0,
    };
    match rank(a).max(rank(b)) {
        1 => DataType::Int16,
        3 => DataType::Int64,
        _ => DataType::Int32,
    }
}

fn arithmetic_type(op: BinaryOp, left: &DataType, right: &DataType) -> Option<DataType> {
    match (left, right) {
        (DataType::Unknown, DataType::Unknown) => Some(DataType::Unknown),
        (DataType::Unknown, other) => resolve_unknown(op, other, true).map(|(_, result)| result),
        (other, DataType::Unknown) => resolve_unknown(op, other, false).map(|(_, result)| result),
        _ => known_arithmetic_type(op, left, right),
    }
}

/// Types an untyped operand next to `other`: as `other`'s own type if that
/// operator exists, else as the first of double precision, integer and
/// interval for which it does. Returns the operand's type and the result's.
fn resolve_unknown(op: BinaryOp, other: &DataType, unknown_left: bool) -> Option<(DataType, DataType)> {
    [other.clone(), DataType::Float64, DataType::Int32, DataType::Interval].into_iter().find_map(|candidate| {
        let result = if unknown_left {
            known_arithmetic_type(op, &candidate, other)
        } else {
            known_arithmetic_type(op, other, &candidate)
        }?;
        Some((candidate, result))
    })
}

fn known_arithmetic_type(op: BinaryOp, left: &DataType, right: &DataType) -> Option<DataType> {
    if left.is_numeric() && right.is_numeric() {
        number_arithmetic_type(op, left, right)
    } else {
        datetime_arithmetic_type(op, left, right)
    }
}

fn number_arithmetic_type(op: BinaryOp, left: &DataType, right: &DataType) -> Option<DataType> {
    use DataType::*;
    let is_float = |t: &DataType| matches!(t, Float32 | Float64);
    let float = is_float(left) || is_float(right);
    let numeric = matches!(left, Numeric(_)) || matches!(right, Numeric(_));
    Some(match op {
        // There is no integer `^`: integers go through double precision.
        BinaryOp::Pow if float || !numeric => Float64,
        // Nor a float `%`.
        BinaryOp::Mod if float => return None,
        _ if *left == Float32 && *right == Float32 => Float32,
        _ if float => Float64,
        _ if numeric => Numeric(None),
        _ => wider_int(left, right),
    })
}

fn datetime_arithmetic_type(op: BinaryOp, left: &DataType, right: &DataType) -> Option<DataType> {
    use DataType::*;
    let stamp = |t: &DataType| matches!(t, Date | Timestamp | TimestampTz);
    match op {
        BinaryOp::Add => match (left, right) {
            (Date, n) | (n, Date) if n.is_integer() => Some(Date),
            (Date, Interval | Time) | (Interval | Time, Date) => Some(Timestamp),
            (Timestamp, Interval) | (Interval, Timestamp) => Some(Timestamp),
            (TimestampTz, Interval) | (Interval, TimestampTz) => Some(TimestampTz),
            (Time, Interval) | (Interval, Time) => Some(Time),
            (Interval, Interval) => Some(Interval),
            _ => None,
        },
        BinaryOp::Sub => match (left, right) {
            (Date, n) if n.is_integer() => Some(Date),
            (Date, Date) => Some(Int32),
            (Date | Timestamp, Interval) => Some(Timestamp),
            (TimestampTz, Interval) => Some(TimestampTz),
            (a, b) if stamp(a) && stamp(b) => Some(Interval),
            (Time, Interval) => Some(Time),
            (Time, Time) | (Interval, Interval) => Some(Interval),
            _ => None,
        },
        BinaryOp::Mul => match (left, right) {
            (Interval, n) | (n, Interval) if n.is_numeric() => Some(Interval),
            _ => None,
        },
        BinaryOp::Div => match (left, right) {
            (Interval, n) if n.is_numeric() => Some(Interval),
            _ => None,
        },
        _ => None,
    }
}

fn comparison_type(left: &DataType, right: &DataType) -> Option<DataType> {
    match cast::common_type(left, right)? {
        // PostgreSQL's json (unlike jsonb) has no comparison operators.
        DataType::Json => None,
        _ => Some(DataType::Bool),
    }
}

fn concat_type(left: &DataType, right: &DataType) -> Option<DataType> {
    use DataType::*;
    match (left, right) {
        (Array(a), Array(b)) => cast::common_type(a, b).map(|t| Array(Box::new(t))),
        (Array(a), x) | (x, Array(a)) => cast::common_type(a, x).map(|_| Array(a.clone())),
        (Bytea, Bytea | Unknown) | (Unknown, Bytea) => Some(Bytea),
        // text || anything (but an array) is text.
        _ if is_texty(left) || is_texty(right) => Some(Text),
        _ => None,
    }
}

fn json_type(op: BinaryOp, left: &DataType, right: &DataType) -> Option<DataType> {
    let key_ok = is_texty(right) || right.is_integer();
    match (left, op) {
        (DataType::Json | DataType::Jsonb | DataType::Unknown, BinaryOp::JsonGetText) if key_ok => Some(DataType::Text),
        (DataType::Jsonb, _) if key_ok => Some(DataType::Jsonb),
        (DataType::Json | DataType::Unknown, _) if key_ok => Some(DataType::Json),
        _ => None,
    }
}

/// The type of `op operand`.
pub fn unary_type(op: UnaryOp, operand: &DataType) -> Result<DataType> {
    let ok = match op {
        UnaryOp::Neg | UnaryOp::Plus => {
            operand.is_numeric() || matches!(operand, DataType::Interval | DataType::Unknown)
        }
        UnaryOp::Not => {
            if !matches!(operand, DataType::Bool | DataType::Unknown) {
                let message = format!("argument of NOT must be type boolean, not type {operand}");
                return Err(Error::sql("42804", message));
            }
            return Ok(DataType::Bool);
        }
        UnaryOp::BitNot => is_inty(operand),
    };
    if !ok {
        return Err(no_unary_operator(op, operand));
    }
    Ok(match (op, operand) {
        (UnaryOp::BitNot, DataType::Unknown) => DataType::Int32,
        (_, DataType::Numeric(_)) => DataType::Numeric(None),
        _ => operand.clone(),
    })
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// Evaluates `left op right`; `result` is what [`binary_type`] returned and
/// sets the integer width that overflow is checked against. Any NULL operand
/// gives NULL, except that `array || NULL` is the array (an untyped NULL
/// there is an empty array to PostgreSQL).
pub fn binary(op: BinaryOp, left: &Value, right: &Value, result: &DataType) -> Result<Value> {
    use BinaryOp::*;
    match (op, left, right) {
        (Concat, Value::Array(_), Value::Null) => return Ok(left.clone()),
        (Concat, Value::Null, Value::Array(_)) => return Ok(right.clone()),
        _ if left.is_null() || right.is_null() => return Ok(Value::Null),
        _ => {}
    }
    match op {
        Add | Sub | Mul | Div | Mod | Pow => arithmetic(op, left, right, result),
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            let ordering = compare_as(op, left, right)?;
            Ok(ordering.map_or(Value::Null, |o| Value::Bool(holds(op, o))))
        }
        Concat => Ok(concat(left, right)),
        Like | NotLike | ILike | NotILike => like_operator(op, left, right),
        BitAnd | BitOr | BitXor | ShiftLeft | ShiftRight => bitwise(op, left, right, result),
        JsonGet | JsonGetText => json_get(op, left, right),
    }
}

/// SQL comparison of two values: `None` if either is NULL. Numbers compare
/// by value across integer, float and numeric; dates and timestamps compare
/// as instants; a text value next to another type is read as that type (an
/// untyped literal). Unrelated types are "42883".
pub fn compare(left: &Value, right: &Value) -> Result<Option<Ordering>> {
    compare_as(BinaryOp::Eq, left, right)
}

fn compare_as(op: BinaryOp, left: &Value, right: &Value) -> Result<Option<Ordering>> {
    if left.is_null() || right.is_null() {
        return Ok(None);
    }
    let ordering = match (left, right) {
        (Value::Text(_), Value::Text(_)) => left.total_cmp(right),
        (Value::Text(_), other) => cast::cast(left.clone(), &literal_type(other))?.total_cmp(other),
        (other, Value::Text(_)) => other.total_cmp(&cast::cast(right.clone(), &literal_type(other))?),
        _ => match (stamp_micros(left), stamp_micros(right)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ if comparable(left, right) => left.total_cmp(right),
            _ => return Err(no_operator(op, &value_type(left), &value_type(right))),
        },
    };
    Ok(Some(ordering))
}

fn holds(op: BinaryOp, ordering: Ordering) -> bool {
    match op {
        BinaryOp::Eq => ordering == Ordering::Equal,
        BinaryOp::NotEq => ordering != Ordering::Equal,
        BinaryOp::Lt => ordering == Ordering::Less,
        BinaryOp::LtEq => ordering != Ordering::Greater,
        BinaryOp::Gt => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_) | Value::Numeric(_))
}

fn comparable(a: &Value, b: &Value) -> bool {
    (is_number(a) && is_number(b)) || std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Dates and both timestamp kinds as microseconds (the session zone is UTC,
/// so a timestamp and a timestamptz with equal microseconds are equal).
fn stamp_micros(v: &Value) -> Option<i64> {
    match v {
        Value::Date(d) => Some(date_to_timestamp(*d)),
        Value::Timestamp(t) | Value::TimestampTz(t) => Some(*t),
        _ => None,
    }
}

/// The type to read an untyped text operand as, next to `other`: its own
/// type, with integers as bigint so no literal is refused for width.
fn literal_type(other: &Value) -> DataType {
    match value_type(other) {
        DataType::Int32 => DataType::Int64,
        t => t,
    }
}

fn arithmetic(op: BinaryOp, left: &Value, right: &Value, result: &DataType) -> Result<Value> {
    let (left, right) = coerce_untyped(op, left, right)?;
    if is_number(&left) && is_number(&right) {
        number_arithmetic(op, &left, &right, result)
    } else {
        datetime_arithmetic(op, &left, &right)
    }
}

/// A text operand next to a non-text one stands for an untyped literal
/// (`now() + '1 day'`): read it as the type [`binary_type`] gave it.
fn coerce_untyped<'a>(op: BinaryOp, left: &'a Value, right: &'a Value) -> Result<(Cow<'a, Value>, Cow<'a, Value>)> {
    let read_as = |text: &Value, other: &Value, text_left: bool| -> Result<Value> {
        let other_type = literal_type(other);
        let (as_type, _) = resolve_unknown(op, &other_type, text_left).ok_or_else(|| {
            let (l, r) =
                if text_left { (DataType::Text, other_type.clone()) } else { (other_type.clone(), DataType::Text) };
            no_operator(op, &l, &r)
        })?;
        cast::cast(text.clone(), &as_type)
    };
    Ok(match (left, right) {
        (Value::Text(_), Value::Text(_)) => (Cow::Borrowed(left), Cow::Borrowed(right)),
        (Value::Text(_), _) => (Cow::Owned(read_as(left, right, true)?), Cow::Borrowed(right)),
        (_, Value::Text(_)) => (Cow::Borrowed(left), Cow::Owned(read_as(right, left, false)?)),
        _ => (Cow::Borrowed(left), Cow::Borrowed(right)),
    })
}

enum NumberKind {
    Int,
    Float,
    Numeric,
}

/// How to compute: as `result` says, or (without a numeric result type)
/// from the operands.
fn number_kind(left: &Value, right: &Value, result: &DataType) -> NumberKind {
    let ints = matches!((left, right), (Value::Int(_), Value::Int(_)));
    match result {
        DataType::Int16 | DataType::Int32 | DataType::Int64 if ints => NumberKind::Int,
        DataType::Numeric(_) => NumberKind::Numeric,
        DataType::Float32 | DataType::Float64 => NumberKind::Float,
        _ if ints => NumberKind::Int,
        _ if matches!(left, Value::Float(_)) || matches!(right, Value::Float(_)) => NumberKind::Float,
        _ => NumberKind::Numeric,
    }
}

fn number_arithmetic(op: BinaryOp, left: &Value, right: &Value, result: &DataType) -> Result<Value> {
    match (number_kind(left, right, result), left, right) {
        (NumberKind::Int, Value::Int(a), Value::Int(b)) => int_arithmetic(op, *a, *b, result),
        (NumberKind::Numeric, _, _) => {
            numeric_arithmetic(op, as_decimal(left)?, as_decimal(right)?).map(Value::Numeric)
        }
        _ => float_arithmetic(op, as_f64(left), as_f64(right), result),
    }
}

/// A number as a double (NaN for anything else).
pub(crate) fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Numeric(d) => decimal_to_f64(*d),
        _ => f64::NAN,
    }
}

fn as_decimal(v: &Value) -> Result<Decimal> {
    match v {
        Value::Int(i) => Ok(Decimal::from(*i)),
        Value::Numeric(d) => Ok(*d),
        Value::Float(f) => float_to_decimal(*f),
        other => Err(no_operator(BinaryOp::Add, &value_type(other), &DataType::Numeric(None))),
    }
}

fn int_arithmetic(op: BinaryOp, a: i64, b: i64, result: &DataType) -> Result<Value> {
    let width = if result.is_integer() { result } else { &DataType::Int64 };
    let value = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div if b == 0 => return Err(division_by_zero()),
        // Truncates toward zero; only i64::MIN / -1 overflows.
        BinaryOp::Div => a.checked_div(b),
        BinaryOp::Mod if b == 0 => return Err(division_by_zero()),
        // The remainder has the dividend's sign; i64::MIN % -1 is 0.
        BinaryOp::Mod => Some(a.checked_rem(b).unwrap_or(0)),
        _ => return float_arithmetic(op, a as f64, b as f64, &DataType::Float64),
    };
    let value = value.ok_or_else(|| int_out_of_range(width))?;
    Ok(Value::Int(int_in_range(value, width)?))
}

/// IEEE arithmetic with PostgreSQL's checks: a finite result that overflows
/// to infinity or a nonzero one that underflows to zero is "22003", and
/// division by zero is "22012" rather than infinity.
fn float_arithmetic(op: BinaryOp, a: f64, b: f64, result: &DataType) -> Result<Value> {
    let value = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => {
            let v = a * b;
            if v == 0.0 && a != 0.0 && b != 0.0 {
                return Err(float_underflow());
            }
            v
        }
        BinaryOp::Div => {
            if b == 0.0 && !a.is_nan() {
                return Err(division_by_zero());
            }
            let v = a / b;
            if v == 0.0 && a != 0.0 && !b.is_infinite() {
                return Err(float_underflow());
            }
            v
        }
        BinaryOp::Pow => float_pow(a, b)?,
        _ => return Err(no_operator(op, &DataType::Float64, &DataType::Float64)),
    };
    if value.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    let value = if *result == DataType::Float32 { narrow_to_f32(value)? } else { value };
    Ok(Value::Float(value))
}

pub(crate) fn float_pow(a: f64, b: f64) -> Result<f64> {
    if a == 0.0 && b < 0.0 {
        return Err(Error::sql("2201F", "zero raised to a negative power is undefined"));
    }
    if a < 0.0 && b.is_finite() && b.fract() != 0.0 {
        return Err(Error::sql("2201F", "a negative number raised to a non-integer power yields a complex result"));
    }
    let value = a.powf(b);
    if value.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    if value == 0.0 && a != 0.0 && a.is_finite() && b.is_finite() {
        return Err(float_underflow());
    }
    Ok(value)
}

fn numeric_arithmetic(op: BinaryOp, a: Decimal, b: Decimal) -> Result<Decimal> {
    let value = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        BinaryOp::Mul => a.checked_mul(b),
        BinaryOp::Div => return numeric_div(a, b),
        BinaryOp::Mod if b.is_zero() => return Err(division_by_zero()),
        BinaryOp::Mod => a.checked_rem(b),
        BinaryOp::Pow => return numeric_pow(a, b),
        _ => return Err(no_operator(op, &DataType::Numeric(None), &DataType::Numeric(None))),
    };
    value.map(normalize_zero).ok_or_else(numeric_overflow)
}

/// Numeric division with PostgreSQL's result scale: at least 16
/// significant digits, and no fewer places than either input shows
/// (`10/4` is `2.5000000000000000`, `1/3` has 20 threes).
pub(crate) fn numeric_div(a: Decimal, b: Decimal) -> Result<Decimal> {
    if b.is_zero() {
        return Err(division_by_zero());
    }
    let scale = div_scale(a, b);
    let quotient = a.checked_div(b).ok_or_else(numeric_overflow)?;
    Ok(round_to_scale(quotient, scale))
}

/// `select_div_scale` of PostgreSQL's numeric.c, which estimates the
/// quotient's weight from the leading base-10000 digits.
fn div_scale(a: Decimal, b: Decimal) -> i64 {
    let (weight_a, first_a) = nbase_weight(a);
    let (weight_b, first_b) = nbase_weight(b);
    let mut qweight = weight_a - weight_b;
    if first_a <= first_b {
        qweight -= 1;
    }
    (16 - qweight * 4).max(i64::from(a.scale())).max(i64::from(b.scale())).max(0)
}

/// The weight (power of 10000) and value of the leading base-10000 digit
/// of `d`, as PostgreSQL's numeric stores it; `(0, 0)` for zero.
pub(crate) fn nbase_weight(d: Decimal) -> (i64, u128) {
    let m = d.mantissa().unsigned_abs();
    if m == 0 {
        return (0, 0);
    }
    let scale = i64::from(d.scale());
    let exp10 = i64::from(m.ilog10()) - scale;
    let weight = exp10.div_euclid(4);
    let shift = scale + 4 * weight;
    let first = if shift >= 0 { m / 10u128.pow(shift as u32) } else { m * 10u128.pow((-shift) as u32) };
    (weight, first)
}

/// Numeric `^` with PostgreSQL's scale rules: integer exponents are exact
/// at 16 places or the base's scale; others get 16 significant digits.
pub(crate) fn numeric_pow(base: Decimal, exp: Decimal) -> Result<Decimal> {
    if base.is_zero() && exp.is_sign_negative() && !exp.is_zero() {
        return Err(Error::sql("2201F", "zero raised to a negative power is undefined"));
    }
    let integral = exp.fract().is_zero();
    if base.is_sign_negative() && !base.is_zero() && !integral {
        return Err(Error::sql("2201F", "a negative number raised to a non-integer power yields a complex result"));
    }
    if let Some(n) = integral.then(|| i64::try_from(exp).ok()).flatten().filter(|n| i32::try_from(*n).is_ok()) {
        let value = base.checked_powi(n).ok_or_else(numeric_overflow)?;
        return Ok(round_to_scale(value, i64::from(base.scale()).max(16)));
    }
    if base.is_zero() {
        return Ok(round_to_scale(Decimal::ZERO, 16));
    }
    // Decimal digits before the point of the result, roughly.
    let weight = (decimal_to_f64(exp) * decimal_to_f64(base).ln() * std::f64::consts::LOG10_E).trunc();
    let scale = (16 - weight as i64).max(i64::from(base.scale())).max(i64::from(exp.scale()));
    let value = base.checked_powd(exp).ok_or_else(numeric_overflow)?;
    Ok(round_to_scale(value, scale))
}

fn datetime_arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    date_arithmetic(op, left, right)
        .or_else(|| timestamp_arithmetic(op, left, right))
        .or_else(|| interval_arithmetic(op, left, right))
        .unwrap_or_else(|| Err(no_operator(op, &value_type(left), &value_type(right))))
}

fn date_arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Option<Result<Value>> {
    use BinaryOp::{Add, Sub};
    Some(match (op, left, right) {
        (Add, Value::Date(d), Value::Int(n)) | (Add, Value::Int(n), Value::Date(d)) => add_days(*d, *n),
        (Sub, Value::Date(d), Value::Int(n)) => add_days(*d, n.saturating_neg()),
        (Sub, Value::Date(a), Value::Date(b)) => Ok(Value::Int(i64::from(*a) - i64::from(*b))),
        (Add, Value::Date(d), Value::Time(t)) | (Add, Value::Time(t), Value::Date(d)) => date_to_timestamp(*d)
            .checked_add(*t)
            .filter(|ts| split_timestamp(*ts).is_some())
            .map(Value::Timestamp)
            .ok_or_else(timestamp_out_of_range),
        (Add, Value::Date(d), Value::Interval(iv)) | (Add, Value::Interval(iv), Value::Date(d)) => {
            add_interval(date_to_timestamp(*d), *iv, 1).map(Value::Timestamp)
        }
        (Sub, Value::Date(d), Value::Interval(iv)) => {
            add_interval(date_to_timestamp(*d), *iv, -1).map(Value::Timestamp)
        }
        (Add, Value::Time(t), Value::Interval(iv)) | (Add, Value::Interval(iv), Value::Time(t)) => {
            Ok(Value::Time(add_time(*t, iv.micros, 1)))
        }
        (Sub, Value::Time(t), Value::Interval(iv)) => Ok(Value::Time(add_time(*t, iv.micros, -1))),
        (Sub, Value::Time(a), Value::Time(b)) => a
            .checked_sub(*b)
            .map(|micros| Value::Interval(Interval { months: 0, days: 0, micros }))
            .ok_or_else(interval_out_of_range),
        _ => return None,
    })
}

fn add_days(date: i32, days: i64) -> Result<Value> {
    i64::from(date)
        .checked_add(days)
        .and_then(|d| i32::try_from(d).ok())
        .filter(|d| date_from_days(*d).is_some())
        .map(Value::Date)
        .ok_or_else(|| Error::sql("22008", "date out of range"))
}

/// A time of day moved by `micros`, wrapping around midnight as
/// PostgreSQL's `time + interval` does (days and months are ignored).
fn add_time(time: i64, micros: i64, sign: i64) -> i64 {
    (time.rem_euclid(MICROS_PER_DAY) + (micros % MICROS_PER_DAY) * sign).rem_euclid(MICROS_PER_DAY)
}

fn timestamp_arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Option<Result<Value>> {
    use BinaryOp::{Add, Sub};
    Some(match (op, left, right) {
        (Add, Value::Timestamp(t), Value::Interval(iv)) | (Add, Value::Interval(iv), Value::Timestamp(t)) => {
            add_interval(*t, *iv, 1).map(Value::Timestamp)
        }
        (Sub, Value::Timestamp(t), Value::Interval(iv)) => add_interval(*t, *iv, -1).map(Value::Timestamp),
        (Add, Value::TimestampTz(t), Value::Interval(iv)) | (Add, Value::Interval(iv), Value::TimestampTz(t)) => {
            add_interval(*t, *iv, 1).map(Value::TimestampTz)
        }
        (Sub, Value::TimestampTz(t), Value::Interval(iv)) => add_interval(*t, *iv, -1).map(Value::TimestampTz),
        (Sub, a, b) => match (stamp_micros(a), stamp_micros(b)) {
            (Some(a), Some(b)) => timestamp_diff(a, b).map(Value::Interval),
            _ => return None,
        },
        _ => return None,
    })
}

/// `ts + sign * iv`: months first (a day past the new month's end becomes
/// its last day, so Jan 31 + 1 month is Feb 29 in a leap year), then days
/// and time.
pub(crate) fn add_interval(ts: i64, iv: Interval, sign: i64) -> Result<i64> {
    let mut ts = ts;
    if iv.months != 0 {
        let (date, time) = split_timestamp(ts).ok_or_else(timestamp_out_of_range)?;
        let months = i64::from(iv.months) * sign;
        let count = Months::new(months.unsigned_abs() as u32);
        let moved = if months >= 0 { date.checked_add_months(count) } else { date.checked_sub_months(count) };
        ts = moved.and_then(|d| timestamp_of(d, time)).ok_or_else(timestamp_out_of_range)?;
    }
    i64::from(iv.days)
        .checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(iv.micros))
        .and_then(|d| d.checked_mul(sign))
        .and_then(|d| ts.checked_add(d))
        .filter(|t| split_timestamp(*t).is_some())
        .ok_or_else(timestamp_out_of_range)
}

/// `a - b` as PostgreSQL gives it: whole days and the rest as time, with no
/// months (`justify_hours`).
pub(crate) fn timestamp_diff(a: i64, b: i64) -> Result<Interval> {
    let micros = a.checked_sub(b).ok_or_else(interval_out_of_range)?;
    let days = i32::try_from(micros / MICROS_PER_DAY).map_err(|_| interval_out_of_range())?;
    Ok(Interval { months: 0, days, micros: micros % MICROS_PER_DAY })
}

fn interval_arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Option<Result<Value>> {
    let factor = |v: &Value| is_number(v).then(|| as_f64(v));
    let value = match (op, left, right) {
        (BinaryOp::Add, Value::Interval(a), Value::Interval(b)) => add_intervals(*a, *b, 1),
        (BinaryOp::Sub, Value::Interval(a), Value::Interval(b)) => add_intervals(*a, *b, -1),
        (BinaryOp::Mul, Value::Interval(iv), n) | (BinaryOp::Mul, n, Value::Interval(iv)) => {
            scale_interval(*iv, factor(n)?, false)
        }
        (BinaryOp::Div, Value::Interval(iv), n) => {
            let f = factor(n)?;
            if f == 0.0 { Err(division_by_zero()) } else { scale_interval(*iv, f, true) }
        }
        _ => return None,
    };
    Some(value.map(Value::Interval))
}

fn add_intervals(a: Interval, b: Interval, sign: i32) -> Result<Interval> {
    let months = b.months.checked_mul(sign).and_then(|m| a.months.checked_add(m));
    let days = b.days.checked_mul(sign).and_then(|d| a.days.checked_add(d));
    let micros = b.micros.checked_mul(i64::from(sign)).and_then(|t| a.micros.checked_add(t));
    match (months, days, micros) {
        (Some(months), Some(days), Some(micros)) => Ok(Interval { months, days, micros }),
        _ => Err(interval_out_of_range()),
    }
}

/// `interval * factor` (or `/ factor`) as PostgreSQL's `interval_mul`:
/// each field is scaled, and the fractions of months and days cascade down
/// (a month as 30 days), rounded to microseconds.
fn scale_interval(iv: Interval, factor: f64, divide: bool) -> Result<Interval> {
    let apply = |x: f64| if divide { x / factor } else { x * factor };
    let fits_i32 = |x: f64| x.is_finite() && x > f64::from(i32::MIN) - 1.0 && x < f64::from(i32::MAX) + 1.0;
    let round_micro = |x: f64| (x * 1e6).round_ties_even() / 1e6;
    let (months_f, days_f) = (apply(f64::from(iv.months)), apply(f64::from(iv.days)));
    if !fits_i32(months_f) || !fits_i32(days_f) {
        return Err(interval_out_of_range());
    }
    let months = months_f.trunc() as i32;
    let mut days = days_f.trunc() as i32;
    let month_remainder_days = round_micro((months_f - f64::from(months)) * 30.0);
    let mut sec_remainder = round_micro((days_f - f64::from(days) + month_remainder_days.fract()) * 86_400.0);
    if sec_remainder.abs() >= 86_400.0 {
        let whole = (sec_remainder / 86_400.0).trunc();
        days = days.checked_add(whole as i32).ok_or_else(interval_out_of_range)?;
        sec_remainder -= whole * 86_400.0;
    }
    days = days.checked_add(month_remainder_days.trunc() as i32).ok_or_else(interval_out_of_range)?;
    let micros = (apply(iv.micros as f64) + sec_remainder * 1e6).round_ties_even();
    if !(micros.is_finite() && micros >= i64::MIN as f64 && micros < i64::MAX as f64) {
        return Err(interval_out_of_range());
    }
    Ok(Interval { months, days, micros: micros as i64 })
}

/// `||`: arrays concatenate (or gain an element), byteas join, and anything
/// else joins as text (`'a' || 1` is `a1`, `'a' || true` is `atrue`).
fn concat(left: &Value, right: &Value) -> Value {
    match (left, right) {
        (Value::Array(a), Value::Array(b)) => Value::Array(a.iter().chain(b).cloned().collect()),
        (Value::Array(a), x) => Value::Array(a.iter().chain([x]).cloned().collect()),
        (x, Value::Array(b)) => Value::Array([x].into_iter().chain(b).cloned().collect()),
        (Value::Bytes(a), Value::Bytes(b)) => Value::Bytes([a.as_slice(), b].concat()),
        _ => {
            let mut text = text_of(left.clone());
            text.push_str(&text_of(right.clone()));
            Value::Text(text)
        }
    }
}

fn like_operator(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    let (Value::Text(text), Value::Text(pattern)) = (left, right) else {
        return Err(no_operator(op, &value_type(left), &value_type(right)));
    };
    let case_insensitive = matches!(op, BinaryOp::ILike | BinaryOp::NotILike);
    let tokens = like_tokens(pattern, case_insensitive, Some('\\'), true)?;
    let matched = like_match(text, &tokens, case_insensitive);
    Ok(Value::Bool(matched != matches!(op, BinaryOp::NotLike | BinaryOp::NotILike)))
}

/// Whether `text` matches the LIKE `pattern`: `%` is any run of characters,
/// `_` any one, and `escape` (PostgreSQL's default is a backslash; `None`
/// means none, as `ESCAPE ''`) makes the next character literal. A trailing
/// escape character matches itself here; the `LIKE` operator refuses it.
/// Runs in O(text × pattern) at worst: no exponential backtracking.
pub fn like(text: &str, pattern: &str, case_insensitive: bool, escape: Option<char>) -> bool {
    match like_tokens(pattern, case_insensitive, escape, false) {
        Ok(tokens) => like_match(text, &tokens, case_insensitive),
        Err(_) => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LikeToken {
    Char(char),
    One,
    Any,
}

fn like_tokens(pattern: &str, case_insensitive: bool, escape: Option<char>, strict: bool) -> Result<Vec<LikeToken>> {
    let mut out = Vec::with_capacity(pattern.len());
    let push_char = |out: &mut Vec<LikeToken>, c: char| {
        if case_insensitive {
            out.extend(c.to_lowercase().map(LikeToken::Char));
        } else {
            out.push(LikeToken::Char(c));
        }
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(next) => push_char(&mut out, next),
                None if strict => {
                    return Err(Error::sql("22025", "LIKE pattern must not end with escape character"));
                }
                None => push_char(&mut out, c),
            }
        } else if c == '%' {
            // A run of `%` means the same as one.
            if out.last() != Some(&LikeToken::Any) {
                out.push(LikeToken::Any);
            }
        } else if c == '_' {
            out.push(LikeToken::One);
        } else {
            push_char(&mut out, c);
        }
    }
    Ok(out)
}

/// Greedy matching that remembers only the last `%`: when a later literal
/// fails, that `%` absorbs one more character and matching resumes. Earlier
/// `%`s never need revisiting, which keeps this quadratic at worst.
fn like_match(text: &str, pattern: &[LikeToken], case_insensitive: bool) -> bool {
    let text: Vec<char> = if case_insensitive { text.to_lowercase().chars().collect() } else { text.chars().collect() };
    let (mut t, mut p) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(LikeToken::Any) => {
                p += 1;
                resume = Some((p, t));
            }
            Some(LikeToken::One) => {
                t += 1;
                p += 1;
            }
            Some(LikeToken::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match resume {
                Some((after_any, absorbed)) => {
                    p = after_any;
                    t = absorbed + 1;
                    resume = Some((after_any, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|token| *token == LikeToken::Any)
}

fn bitwise(op: BinaryOp, left: &Value, right: &Value, result: &DataType) -> Result<Value> {
    let (Value::Int(a), Value::Int(b)) = (left, right) else {
        return Err(no_operator(op, &value_type(left), &value_type(right)));
    };
    let (a, b) = (*a, *b);
    // Shifts are C shifts on the left operand's width: they wrap rather
    // than fail, and the count is taken modulo the width.
    let shift = |left_shift: bool| -> i64 {
        let count = b as u32;
        match result {
            DataType::Int16 | DataType::Int32 => {
                let x = a as i32;
                let shifted = if left_shift { x.wrapping_shl(count) } else { x.wrapping_shr(count) };
                if *result == DataType::Int16 { i64::from(shifted as i16) } else { i64::from(shifted) }
            }
            _ if left_shift => a.wrapping_shl(count),
            _ => a.wrapping_shr(count),
        }
    };
    let value = match op {
        BinaryOp::BitAnd => a & b,
        BinaryOp::BitOr => a | b,
        BinaryOp::BitXor => a ^ b,
        BinaryOp::ShiftLeft => shift(true),
        _ => shift(false),
    };
    Ok(Value::Int(value))
}

/// `json -> key` (object member, the last of duplicates), `json -> n`
/// (array element, negative from the end); `->>` gives text, a JSON null
/// as SQL NULL. A missing member is NULL.
fn json_get(op: BinaryOp, left: &Value, right: &Value) -> Result<Value> {
    let Value::Json(doc) = left else {
        return Err(no_operator(op, &value_type(left), &value_type(right)));
    };
    let root = cast::parse_json(doc)?;
    let found = match (&root.kind, right) {
        (JsonKind::Object(members), Value::Text(key)) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        (JsonKind::Array(items), Value::Int(i)) => {
            let index = if *i < 0 { (items.len() as i64).checked_add(*i) } else { Some(*i) };
            index.and_then(|i| usize::try_from(i).ok()).and_then(|i| items.get(i))
        }
        _ => None,
    };
    let Some(node) = found else { return Ok(Value::Null) };
    let text = doc.get(node.span.0..node.span.1).unwrap_or_default().to_string();
    Ok(match (op, &node.kind) {
        (BinaryOp::JsonGetText, JsonKind::Null) => Value::Null,
        (BinaryOp::JsonGetText, JsonKind::String(s)) => Value::Text(s.clone()),
        (BinaryOp::JsonGetText, _) => Value::Text(text),
        _ => Value::Json(text),
    })
}

/// Evaluates `op value`; `result` is what [`unary_type`] returned.
pub fn unary(op: UnaryOp, value: &Value, result: &DataType) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match (op, value) {
        (UnaryOp::Neg, Value::Int(i)) => {
            let width = if result.is_integer() { result } else { &DataType::Int64 };
            let negated = i.checked_neg().ok_or_else(|| int_out_of_range(width))?;
            Ok(Value::Int(int_in_range(negated, width)?))
        }
        (UnaryOp::Neg, Value::Float(f)) => Ok(Value::Float(-f)),
        (UnaryOp::Neg, Value::Numeric(d)) => Ok(Value::Numeric(normalize_zero(-*d))),
        (UnaryOp::Neg, Value::Interval(iv)) => add_intervals(Interval::default(), *iv, -1).map(Value::Interval),
        (UnaryOp::Plus, Value::Int(_) | Value::Float(_) | Value::Numeric(_) | Value::Interval(_)) => Ok(value.clone()),
        (UnaryOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnaryOp::BitNot, Value::Int(i)) => Ok(Value::Int(!i)),
        _ => Err(no_unary_operator(op, &value_type(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::cast::{format_value, parse_date, parse_interval, parse_timestamp};
    use BinaryOp::*;
    use DataType::*;

    fn dec(s: &str) -> Value {
        Value::Numeric(cast::parse_numeric(s).unwrap())
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn date(s: &str) -> Value {
        Value::Date(parse_date(s).unwrap())
    }

    fn ts(s: &str) -> Value {
        Value::Timestamp(parse_timestamp(s).unwrap())
    }

    fn iv(s: &str) -> Value {
        Value::Interval(parse_interval(s).unwrap())
    }

    /// Types the operands as a binder would, evaluates, and prints.
    fn eval(op: BinaryOp, l: Value, r: Value) -> Result<String> {
        let result = binary_type(op, &value_type(&l), &value_type(&r))?;
        binary(op, &l, &r, &result).map(|v| format_value(&v))
    }

    fn ok(op: BinaryOp, l: Value, r: Value) -> String {
        eval(op, l, r).unwrap()
    }

    fn err(op: BinaryOp, l: Value, r: Value) -> (&'static str, String) {
        let e = eval(op, l, r).unwrap_err();
        (e.sqlstate(), e.to_string())
    }

    #[test]
    fn result_types() {
        let t = |op, l: DataType, r: DataType| binary_type(op, &l, &r);
        assert_eq!(t(Add, Int32, Int32).unwrap(), Int32);
        assert_eq!(t(Add, Int32, Int64).unwrap(), Int64);
        assert_eq!(t(Mul, Int16, Int16).unwrap(), Int16);
        assert_eq!(t(Add, Int32, Numeric(Some((5, 2)))).unwrap(), Numeric(None));
        assert_eq!(t(Div, Float64, Int32).unwrap(), Float64);
        assert_eq!(t(Add, Numeric(None), Float32).unwrap(), Float64);
        assert_eq!(t(Add, Float32, Float32).unwrap(), Float32);
        assert_eq!(t(Pow, Int32, Int32).unwrap(), Float64);
        assert_eq!(t(Pow, Numeric(None), Int32).unwrap(), Numeric(None));
        assert_eq!(t(Lt, Int32, Float64).unwrap(), Bool);
        assert_eq!(t(Eq, Unknown, Unknown).unwrap(), Bool);
        assert_eq!(t(Add, Unknown, Int32).unwrap(), Int32);
        assert_eq!(t(Concat, Text, Int32).unwrap(), Text);
        assert_eq!(t(Concat, Unknown, Unknown).unwrap(), Text);
        assert_eq!(t(Like, Varchar(None), Text).unwrap(), Bool);
        assert_eq!(t(Add, Date, Int32).unwrap(), Date);
        assert_eq!(t(Sub, Date, Date).unwrap(), Int32);
        assert_eq!(t(Sub, Date, Int32).unwrap(), Date);
        assert_eq!(t(Add, Date, DataType::Interval).unwrap(), Timestamp);
        assert_eq!(t(Add, Date, Time).unwrap(), Timestamp);
        assert_eq!(t(Sub, Timestamp, DataType::Interval).unwrap(), Timestamp);
        assert_eq!(t(Add, DataType::Interval, TimestampTz).unwrap(), TimestampTz);
        let interval = || DataType::Interval;
        assert_eq!(t(Sub, Timestamp, Timestamp).unwrap(), interval());
        assert_eq!(t(Sub, interval(), interval()).unwrap(), interval());
        assert_eq!(t(Mul, Float64, interval()).unwrap(), interval());
        assert_eq!(t(Add, TimestampTz, Unknown).unwrap(), TimestampTz);
        assert_eq!(t(Mul, DataType::Interval, Unknown).unwrap(), DataType::Interval);
        assert_eq!(t(BitAnd, Int16, Int64).unwrap(), Int64);
        assert_eq!(t(ShiftLeft, Int16, Int32).unwrap(), Int16);
        assert_eq!(t(JsonGetText, Jsonb, Text).unwrap(), Text);
        let e = t(Add, Int32, Text).unwrap_err();
        assert_eq!((e.sqlstate(), e.to_string().as_str()), ("42883", "operator does not exist: integer + text"));
        assert!(t(Mod, Float64, Float64).is_err());
        assert!(t(Concat, Int32, Int32).is_err());
        assert!(t(Eq, Int32, Bool).is_err());
        assert!(t(Eq, Json, Json).is_err());
        assert!(t(Add, Date, Date).is_err());
        assert!(t(Like, Int32, Text).is_err());
        assert_eq!(unary_type(UnaryOp::Neg, &Int16).unwrap(), Int16);
        assert_eq!(unary_type(UnaryOp::Not, &Int32).unwrap_err().sqlstate(), "42804");
        assert_eq!(unary_type(UnaryOp::Neg, &Text).unwrap_err().sqlstate(), "42883");
    }

    #[test]
    fn integer_arithmetic() {
        let i = Value::Int;
        assert_eq!(ok(Div, i(7), i(2)), "3");
        assert_eq!(ok(Div, i(-7), i(2)), "-3");
        assert_eq!(ok(Mod, i(-7), i(3)), "-1");
        assert_eq!(ok(Mod, i(7), i(-3)), "1");
        assert_eq!(ok(Mul, i(6), i(7)), "42");
        assert_eq!(err(Add, i(2147483647), i(1)), ("22003", "integer out of range".to_string()));
        let r = binary(Add, &i(32767), &i(1), &Int16).unwrap_err();
        assert_eq!(r.to_string(), "smallint out of range");
        assert_eq!(binary(Mul, &i(i64::MAX), &i(2), &Int64).unwrap_err().to_string(), "bigint out of range");
        assert_eq!(binary(Div, &i(i64::MIN), &i(-1), &Int64).unwrap_err().sqlstate(), "22003");
        assert_eq!(binary(Mod, &i(i64::MIN), &i(-1), &Int64).unwrap(), i(0));
        assert_eq!(err(Div, i(1), i(0)), ("22012", "division by zero".to_string()));
        assert_eq!(err(Mod, i(1), i(0)).0, "22012");
        assert_eq!(ok(Add, i(1), Value::Null), "NULL");
    }

    #[test]
    fn float_arithmetic() {
        let f = Value::Float;
        assert_eq!(ok(Add, f(0.1), f(0.2)), "0.30000000000000004");
        assert_eq!(ok(Div, f(1.0), f(4.0)), "0.25");
        assert_eq!(ok(Add, Value::Int(1), f(0.5)), "1.5");
        assert_eq!(err(Div, f(1.0), f(0.0)).0, "22012");
        assert_eq!(err(Mul, f(1e308), f(10.0)), ("22003", "value out of range: overflow".to_string()));
        assert_eq!(err(Mul, f(1e-308), f(1e-308)), ("22003", "value out of range: underflow".to_string()));
        assert_eq!(ok(Add, f(f64::INFINITY), f(1.0)), "Infinity");
        assert_eq!(ok(Pow, Value::Int(2), Value::Int(3)), "8");
        assert_eq!(ok(Pow, Value::Int(2), Value::Int(-1)), "0.5");
        assert_eq!(err(Pow, Value::Int(0), Value::Int(-1)).0, "2201F");
        assert_eq!(err(Pow, f(-8.0), f(0.5)).0, "2201F");
        assert_eq!(err(Pow, f(10.0), f(400.0)).0, "22003");
        assert_eq!(binary(Add, &f(1.0), &f(1e-10), &Float32).unwrap(), f(1.0));
    }

    #[test]
    fn numeric_arithmetic_and_scales() {
        assert_eq!(ok(Div, dec("10"), Value::Int(4)), "2.5000000000000000");
        assert_eq!(ok(Div, dec("1"), Value::Int(3)), "0.33333333333333333333");
        assert_eq!(ok(Div, dec("2"), dec("3")), "0.66666666666666666667");
        assert_eq!(ok(Div, dec("100000000000000000000"), dec("7")), "14285714285714285714");
        assert_eq!(ok(Div, dec("1.0000000000000000000000"), dec("3")), "0.3333333333333333333333");
        assert_eq!(ok(Div, dec("0.001"), dec("3")), "0.00033333333333333333");
        assert_eq!(ok(Add, dec("1.1"), dec("2.20")), "3.30");
        assert_eq!(ok(Mul, dec("1.1"), dec("2.20")), "2.420");
        assert_eq!(ok(Sub, Value::Int(1), dec("0.5")), "0.5");
        assert_eq!(ok(Mod, dec("5.5"), Value::Int(2)), "1.5");
        assert_eq!(ok(Mod, dec("-5.5"), Value::Int(2)), "-1.5");
        assert_eq!(ok(Pow, dec("2"), Value::Int(3)), "8.0000000000000000");
        assert_eq!(ok(Pow, dec("2"), dec("-2")), "0.2500000000000000");
        assert_eq!(ok(Pow, dec("2"), dec("0.5")), "1.4142135623730950");
        assert_eq!(err(Div, dec("1"), dec("0")).0, "22012");
        assert_eq!(err(Mod, dec("1"), dec("0")).0, "22012");
        assert_eq!(err(Mul, dec("1e28"), dec("1e28")).0, "22003");
        assert_eq!(err(Pow, dec("-2"), dec("0.5")).0, "2201F");
    }

    #[test]
    fn comparisons() {
        let cmp = |op, l: Value, r: Value| ok(op, l, r);
        assert_eq!(cmp(Eq, Value::Int(1), dec("1.0")), "t");
        assert_eq!(cmp(Lt, Value::Int(1), Value::Float(1.5)), "t");
        assert_eq!(cmp(Lt, text("a"), text("b")), "t");
        assert_eq!(cmp(Gt, text("a"), text("B")), "t");
        assert_eq!(cmp(NotEq, Value::Bool(true), Value::Bool(false)), "t");
        assert_eq!(cmp(GtEq, date("2024-01-02"), ts("2024-01-01 23:00:00")), "t");
        assert_eq!(cmp(Eq, iv("1 mon"), iv("30 days")), "t");
        assert_eq!(cmp(Eq, Value::Float(f64::NAN), Value::Float(f64::NAN)), "t");
        assert_eq!(cmp(Eq, Value::Int(1), Value::Null), "NULL");
        let tz = Value::TimestampTz(parse_timestamp("2024-01-01").unwrap());
        assert_eq!(binary(Eq, &ts("2024-01-01"), &tz, &Bool).unwrap(), Value::Bool(true));
        // A text operand next to another type is an untyped literal.
        assert_eq!(binary(Eq, &Value::Int(5), &text("5"), &Bool).unwrap(), Value::Bool(true));
        assert_eq!(binary(Lt, &text("2024-01-01"), &date("2024-06-01"), &Bool).unwrap(), Value::Bool(true));
        assert_eq!(binary(Eq, &Value::Int(5), &text("x"), &Bool).unwrap_err().sqlstate(), "22P02");
        assert_eq!(binary(Eq, &Value::Int(5), &Value::Bool(true), &Bool).unwrap_err().sqlstate(), "42883");
        assert_eq!(compare(&Value::Int(2), &Value::Int(10)).unwrap(), Some(Ordering::Less));
    }

    #[test]
    fn concatenation() {
        assert_eq!(ok(Concat, text("a"), Value::Int(1)), "a1");
        assert_eq!(ok(Concat, Value::Int(1), text("a")), "1a");
        assert_eq!(ok(Concat, text("a"), Value::Bool(true)), "atrue");
        assert_eq!(ok(Concat, text("a"), Value::Null), "NULL");
        let arr = |v: Vec<i64>| Value::Array(v.into_iter().map(Value::Int).collect());
        assert_eq!(ok(Concat, arr(vec![1, 2]), arr(vec![3])), "{1,2,3}");
        assert_eq!(ok(Concat, arr(vec![1, 2]), Value::Int(3)), "{1,2,3}");
        assert_eq!(ok(Concat, Value::Int(0), arr(vec![1])), "{0,1}");
        assert_eq!(binary(Concat, &arr(vec![1]), &Value::Null, &Array(Box::new(Int32))).unwrap(), arr(vec![1]));
        assert_eq!(ok(Concat, Value::Bytes(vec![1]), Value::Bytes(vec![2])), "\\x0102");
    }

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%", false, Some('\\')));
        assert!(like("a_c", "a\\_c", false, Some('\\')));
        assert!(!like("abc", "a\\_c", false, Some('\\')));
        assert!(like("abc", "a_c", false, Some('\\')));
        assert!(like("abc", "%", false, None));
        assert!(like("", "%", false, None));
        assert!(!like("", "_", false, None));
        assert!(like("abc", "%b%", false, None));
        assert!(like("abcabc", "%abc", false, None));
        assert!(like("aXbXc", "a%b%c", false, None));
        assert!(!like("abcd", "a%c", false, None));
        assert!(like("50%", "50!%", false, Some('!')));
        assert!(like("ABC", "a%C", true, None));
        assert!(!like("ABC", "a%C", false, None));
        assert!(like("naïve", "na_ve", false, None));
        assert!(like("a\\", "a\\", false, Some('\\')));
        // Pathological patterns stay fast.
        let long = "a".repeat(5000);
        assert!(!like(&long, &format!("{}b", "%a".repeat(50)), false, None));
        assert_eq!(ok(Like, text("abc"), text("a%")), "t");
        assert_eq!(ok(NotLike, text("abc"), text("a%")), "f");
        assert_eq!(ok(ILike, text("ABC"), text("a%")), "t");
        assert_eq!(ok(NotILike, text("ABC"), text("x%")), "t");
        assert_eq!(err(Like, text("a"), text("a\\")).0, "22025");
    }

    #[test]
    fn date_and_time_arithmetic() {
        assert_eq!(ok(Sub, date("2024-03-01"), Value::Int(1)), "2024-02-29");
        assert_eq!(ok(Add, Value::Int(1), date("2024-02-28")), "2024-02-29");
        assert_eq!(ok(Sub, date("2024-03-01"), date("2024-01-01")), "60");
        assert_eq!(ok(Add, date("2024-01-31"), iv("1 month")), "2024-02-29 00:00:00");
        assert_eq!(ok(Add, ts("2023-01-31 10:00:00"), iv("1 month 1 day")), "2023-03-01 10:00:00");
        assert_eq!(ok(Sub, ts("2024-03-31 00:00:00"), iv("1 mon")), "2024-02-29 00:00:00");
        assert_eq!(ok(Sub, ts("2024-01-02 01:00:00"), ts("2024-01-01 00:00:00")), "1 day 01:00:00");
        assert_eq!(ok(Sub, ts("2024-01-01 00:00:00"), ts("2024-01-02 01:00:00")), "-1 days -01:00:00");
        assert_eq!(ok(Sub, date("2024-01-02"), ts("2024-01-01 12:00:00")), "12:00:00");
        assert_eq!(ok(Add, date("2024-01-01"), Value::Time(3_600_000_000)), "2024-01-01 01:00:00");
        assert_eq!(ok(Add, Value::Time(23 * 3_600_000_000), iv("2 hours")), "01:00:00");
        assert_eq!(ok(Sub, Value::Time(3_600_000_000), Value::Time(7_200_000_000)), "-01:00:00");
        assert_eq!(ok(Add, iv("1 day"), iv("2 hours")), "1 day 02:00:00");
        assert_eq!(ok(Mul, iv("1 day"), dec("1.5")), "1 day 12:00:00");
        assert_eq!(ok(Mul, Value::Int(2), iv("1 mon 1 hour")), "2 mons 02:00:00");
        assert_eq!(ok(Div, iv("1 mon"), Value::Int(2)), "15 days");
        assert_eq!(ok(Div, iv("1 hour"), Value::Float(3.0)), "00:20:00");
        assert_eq!(err(Div, iv("1 hour"), Value::Int(0)).0, "22012");
        let tz = Value::TimestampTz(parse_timestamp("2024-01-01").unwrap());
        assert_eq!(
            binary(Add, &tz, &text("1 day"), &TimestampTz).map(|v| format_value(&v)).unwrap(),
            "2024-01-02 00:00:00+00"
        );
        assert_eq!(binary(Add, &Value::Date(i32::MAX - 10), &Value::Int(100), &Date).unwrap_err().sqlstate(), "22008");
        assert_eq!(err(Add, ts("2024-01-01"), iv("100000000 days")).0, "22008");
    }

    #[test]
    fn bit_operators() {
        let i = Value::Int;
        assert_eq!(ok(BitAnd, i(5), i(3)), "1");
        assert_eq!(ok(BitOr, i(5), i(3)), "7");
        assert_eq!(ok(BitXor, i(5), i(3)), "6");
        assert_eq!(ok(ShiftLeft, i(1), i(4)), "16");
        assert_eq!(ok(ShiftRight, i(-16), i(2)), "-4");
        assert_eq!(binary(ShiftLeft, &i(1), &i(31), &Int32).unwrap(), i(-2147483648));
        assert_eq!(binary(ShiftLeft, &i(1), &i(40), &Int64).unwrap(), i(1 << 40));
        assert_eq!(binary(ShiftLeft, &i(1), &i(15), &Int16).unwrap(), i(-32768));
    }

    #[test]
    fn unary_operators() {
        let neg = |v: Value, t: DataType| unary(UnaryOp::Neg, &v, &t);
        assert_eq!(neg(Value::Int(5), Int32).unwrap(), Value::Int(-5));
        assert_eq!(neg(Value::Int(-2147483648), Int32).unwrap_err().to_string(), "integer out of range");
        assert_eq!(neg(Value::Int(i64::MIN), Int64).unwrap_err().to_string(), "bigint out of range");
        assert_eq!(format_value(&neg(dec("0"), Numeric(None)).unwrap()), "0");
        assert_eq!(format_value(&neg(iv("1 day 02:00:00"), DataType::Interval).unwrap()), "-1 days -02:00:00");
        assert_eq!(unary(UnaryOp::Not, &Value::Bool(true), &Bool).unwrap(), Value::Bool(false));
        assert_eq!(unary(UnaryOp::Not, &Value::Null, &Bool).unwrap(), Value::Null);
        assert_eq!(unary(UnaryOp::BitNot, &Value::Int(5), &Int32).unwrap(), Value::Int(-6));
        assert_eq!(unary(UnaryOp::Plus, &Value::Float(1.5), &Float64).unwrap(), Value::Float(1.5));
        assert!(unary(UnaryOp::Neg, &text("a"), &Text).is_err());
    }

    #[test]
    fn json_lookups() {
        let doc = Value::Json(r#"{"a": {"b": [1, 2,  3]}, "s": "x\ny", "n": null}"#.into());
        assert_eq!(ok(JsonGet, doc.clone(), text("a")), r#"{"b": [1, 2,  3]}"#);
        assert_eq!(ok(JsonGetText, doc.clone(), text("s")), "x\ny");
        assert_eq!(ok(JsonGetText, doc.clone(), text("n")), "NULL");
        assert_eq!(ok(JsonGet, doc.clone(), text("n")), "null");
        assert_eq!(ok(JsonGet, doc, text("missing")), "NULL");
        let arr = Value::Json("[10, \"x\", [1]]".into());
        assert_eq!(ok(JsonGet, arr.clone(), Value::Int(0)), "10");
        assert_eq!(ok(JsonGetText, arr.clone(), Value::Int(-2)), "x");
        assert_eq!(ok(JsonGet, arr.clone(), Value::Int(5)), "NULL");
        assert_eq!(ok(JsonGet, arr, text("a")), "NULL");
    }

    #[test]
    fn symbols() {
        assert_eq!(Like.symbol(), "~~");
        assert_eq!(BitXor.symbol(), "#");
        assert_eq!(UnaryOp::BitNot.symbol(), "~");
    }
}
