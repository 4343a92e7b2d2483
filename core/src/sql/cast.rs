//! Casts between SQL types and the text forms of values.
//!
//! This module owns what `CAST(x AS t)` and assignment to a column do
//! ([`cast`], [`assign_cast`]), how every type prints ([`format_value`],
//! PostgreSQL's output functions) and parses (the `parse_*` functions,
//! its input functions), and the type two operands meet at
//! ([`common_type`]). It also holds the calendar and JSON helpers that the
//! operators and functions share with the casts.
//!
//! Semantics are PostgreSQL 15's with the session time zone fixed at UTC.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

use super::value::{DataType, Interval, MICROS_PER_DAY, Value};
use crate::error::{Error, Result};

// ---------------------------------------------------------------------------
// Casts
// ---------------------------------------------------------------------------

/// Explicit `CAST(value AS to)`: NULL stays NULL, lossy conversions round
/// (numbers) or cut (strings), text is parsed by the target's input rules.
pub fn cast(value: Value, to: &DataType) -> Result<Value> {
    convert(value, to, Mode::Explicit)
}

/// Assignment to a column of type `to` (INSERT, UPDATE): like [`cast`], but a
/// string longer than `varchar(n)`/`char(n)` allows is an error ("22001")
/// unless only spaces would be cut.
pub fn assign_cast(value: Value, to: &DataType) -> Result<Value> {
    convert(value, to, Mode::Assignment)
}

/// [`cast`] for a caller that knows the source type, which matters where a
/// [`Value`] does not say it: `char(n)` drops its padding when it becomes
/// another type, and `real` converts with its own (shorter) precision.
pub fn cast_from(value: Value, from: &DataType, to: &DataType) -> Result<Value> {
    match (from, value) {
        (DataType::Char(_), Value::Text(s)) if !matches!(to, DataType::Char(_)) => {
            cast(Value::Text(s.trim_end_matches(' ').to_string()), to)
        }
        (DataType::Float32, Value::Float(f)) if to.is_text() => cast(Value::Text(format_real(f)), to),
        (DataType::Float32, Value::Float(f)) if matches!(to, DataType::Numeric(_)) && f.is_finite() => {
            // PostgreSQL converts a real through FLT_DIG (6) significant digits.
            let d = parse_numeric(&shortest_sci(f, 5))?;
            cast(Value::Numeric(d), to)
        }
        (_, value) => cast(value, to),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Explicit,
    Assignment,
}

fn convert(value: Value, to: &DataType, mode: Mode) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match to {
        DataType::Unknown => Ok(value),
        DataType::Bool => to_bool(value),
        DataType::Int16 | DataType::Int32 | DataType::Int64 => to_int(value, to).map(Value::Int),
        DataType::Float32 | DataType::Float64 => to_float(value, to).map(Value::Float),
        DataType::Numeric(typmod) => {
            let d = to_decimal(value, to)?;
            apply_numeric_typmod(d, *typmod).map(Value::Numeric)
        }
        DataType::Text => Ok(Value::Text(text_of(value))),
        DataType::Varchar(limit) => to_bounded_text(value, *limit, false, mode),
        DataType::Char(n) => to_bounded_text(value, Some(*n), true, mode),
        DataType::Bytea => match value {
            Value::Bytes(b) => Ok(Value::Bytes(b)),
            Value::Text(s) => parse_bytea(&s).map(Value::Bytes),
            other => Err(cannot_cast(&other, to)),
        },
        DataType::Uuid => match value {
            Value::Uuid(u) => Ok(Value::Uuid(u)),
            Value::Text(s) => parse_uuid(&s).map(Value::Uuid),
            other => Err(cannot_cast(&other, to)),
        },
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::TimestampTz | DataType::Interval => {
            to_datetime(value, to)
        }
        DataType::Json | DataType::Jsonb => to_json(value, to),
        DataType::Array(inner) => to_array(value, inner, mode),
    }
}

fn cannot_cast(value: &Value, to: &DataType) -> Error {
    Error::sql("42846", format!("cannot cast type {} to {}", value_type(value), to))
}

fn syntax_error(type_name: &str, input: &str) -> Error {
    Error::sql("22P02", format!("invalid input syntax for type {type_name}: \"{input}\""))
}

/// The type a value has when nothing else says: an integer is `integer` if
/// it fits and `bigint` otherwise, an array takes its first element's type.
pub fn value_type(value: &Value) -> DataType {
    match value {
        Value::Null => DataType::Unknown,
        Value::Bool(_) => DataType::Bool,
        Value::Int(i) if i32::try_from(*i).is_ok() => DataType::Int32,
        Value::Int(_) => DataType::Int64,
        Value::Float(_) => DataType::Float64,
        Value::Numeric(_) => DataType::Numeric(None),
        Value::Text(_) => DataType::Text,
        Value::Bytes(_) => DataType::Bytea,
        Value::Date(_) => DataType::Date,
        Value::Time(_) => DataType::Time,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::TimestampTz(_) => DataType::TimestampTz,
        Value::Interval(_) => DataType::Interval,
        Value::Uuid(_) => DataType::Uuid,
        Value::Json(_) => DataType::Json,
        Value::Array(items) => {
            let inner = items.iter().find(|v| !v.is_null()).map_or(DataType::Text, value_type);
            DataType::Array(Box::new(inner))
        }
    }
}

/// A value as the `::text` cast gives it. Differs from [`format_value`]
/// only for booleans, which the cast spells out (`true`) and the output
/// function abbreviates (`t`).
pub(crate) fn text_of(value: Value) -> String {
    match value {
        Value::Text(s) | Value::Json(s) => s,
        Value::Bool(b) => if b { "true" } else { "false" }.to_string(),
        other => format_value(&other),
    }
}

fn to_bounded_text(value: Value, limit: Option<u32>, pad: bool, mode: Mode) -> Result<Value> {
    let mut s = text_of(value);
    let Some(n) = limit else { return Ok(Value::Text(s)) };
    let n = n as usize;
    if let Some((cut, _)) = s.char_indices().nth(n) {
        if mode == Mode::Assignment && !s[cut..].chars().all(|c| c == ' ') {
            let ty = if pad { DataType::Char(n as u32) } else { DataType::Varchar(Some(n as u32)) };
            return Err(Error::sql("22001", format!("value too long for type {ty}")));
        }
        s.truncate(cut);
    } else if pad {
        let len = s.chars().count();
        s.extend(std::iter::repeat_n(' ', n - len));
    }
    Ok(Value::Text(s))
}

fn to_bool(value: Value) -> Result<Value> {
    match value {
        Value::Bool(b) => Ok(Value::Bool(b)),
        Value::Int(i) => Ok(Value::Bool(i != 0)),
        Value::Text(s) => parse_bool(&s).map(Value::Bool),
        other => Err(cannot_cast(&other, &DataType::Bool)),
    }
}

/// PostgreSQL's boolean input: any unambiguous prefix of true/false/yes/no,
/// `on`/`off`, `1`/`0`, case-insensitive, surrounding whitespace ignored.
pub fn parse_bool(s: &str) -> Result<bool> {
    let t = s.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || t == "on" || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(syntax_error("boolean", s))
    }
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

fn to_int(value: Value, to: &DataType) -> Result<i64> {
    let wide = match value {
        Value::Int(i) => i,
        Value::Bool(b) => i64::from(b),
        Value::Float(f) => float_to_int(f, to)?,
        Value::Numeric(d) => decimal_to_int(d, to)?,
        Value::Text(s) => return parse_int(&s, to),
        other => return Err(cannot_cast(&other, to)),
    };
    int_in_range(wide, to)
}

/// Checks that `i` fits the integer type `ty` (anything but `smallint` and
/// `integer` is taken as `bigint`, which every i64 fits).
pub(crate) fn int_in_range(i: i64, ty: &DataType) -> Result<i64> {
    let fits = match ty {
        DataType::Int16 => i16::try_from(i).is_ok(),
        DataType::Int32 => i32::try_from(i).is_ok(),
        _ => true,
    };
    if fits { Ok(i) } else { Err(int_out_of_range(ty)) }
}

pub(crate) fn int_out_of_range(ty: &DataType) -> Error {
    let name = match ty {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        _ => "bigint",
    };
    Error::sql("22003", format!("{name} out of range"))
}

/// Float to integer as PostgreSQL does it: `rint`, ties to even.
fn float_to_int(f: f64, to: &DataType) -> Result<i64> {
    let r = f.round_ties_even();
    // -2^63 is exact as a double and 2^63 is the first value past i64::MAX.
    if r.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        return Err(int_out_of_range(to));
    }
    Ok(r as i64)
}

/// Numeric to integer: ties round away from zero (unlike floats).
fn decimal_to_int(d: Decimal, to: &DataType) -> Result<i64> {
    let rounded = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded).map_err(|_| int_out_of_range(to))
}

fn parse_int(s: &str, to: &DataType) -> Result<i64> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax_error(&to.sql_name(), s));
    }
    let out_of_range = || Error::sql("22003", format!("value \"{s}\" is out of range for type {to}"));
    let wide: i64 = t.parse().map_err(|_| out_of_range())?;
    int_in_range(wide, to).map_err(|_| out_of_range())
}

fn to_float(value: Value, to: &DataType) -> Result<f64> {
    let single = *to == DataType::Float32;
    let f = match value {
        Value::Float(f) => f,
        Value::Int(i) if single => f64::from(i as f32),
        Value::Int(i) => i as f64,
        Value::Numeric(d) => decimal_to_f64(d),
        Value::Text(s) => return parse_float(&s, single),
        other => return Err(cannot_cast(&other, to)),
    };
    if single { narrow_to_f32(f) } else { Ok(f) }
}

/// Rounds a double to the nearest `real`, failing as PostgreSQL does when
/// that overflows to infinity or underflows to zero.
pub(crate) fn narrow_to_f32(f: f64) -> Result<f64> {
    let n = f as f32;
    if n.is_infinite() && f.is_finite() {
        return Err(float_overflow());
    }
    if n == 0.0 && f != 0.0 {
        return Err(float_underflow());
    }
    Ok(f64::from(n))
}

pub(crate) fn float_overflow() -> Error {
    Error::sql("22003", "value out of range: overflow")
}

pub(crate) fn float_underflow() -> Error {
    Error::sql("22003", "value out of range: underflow")
}

pub(crate) fn numeric_overflow() -> Error {
    Error::sql("22003", "value overflows numeric format")
}

/// The double nearest a numeric, through its text so it is correctly rounded.
pub(crate) fn decimal_to_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or(f64::NAN)
}

fn parse_float(s: &str, single: bool) -> Result<f64> {
    let name = if single { "real" } else { "double precision" };
    let t = s.trim();
    let special = match t.to_ascii_lowercase().trim_start_matches('+') {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    };
    if let Some(f) = special {
        return Ok(f);
    }
    // Rust's parser also takes words like "inf"; only plain numbers get here.
    let plain = t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let parsed = if single { t.parse::<f32>().map(f64::from) } else { t.parse::<f64>() };
    let f = match parsed {
        Ok(f) if plain => f,
        _ => return Err(syntax_error(name, s)),
    };
    let mantissa = t.split(['e', 'E']).next().unwrap_or("");
    let underflow = f == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if f.is_infinite() || underflow {
        return Err(Error::sql("22003", format!("\"{t}\" is out of range for type {name}")));
    }
    Ok(f)
}

fn to_decimal(value: Value, to: &DataType) -> Result<Decimal> {
    match value {
        Value::Numeric(d) => Ok(d),
        Value::Int(i) => Ok(Decimal::from(i)),
        Value::Float(f) => float_to_decimal(f),
        Value::Text(s) => parse_numeric(&s),
        other => Err(cannot_cast(&other, to)),
    }
}

/// Double to numeric through 15 significant digits (DBL_DIG), as PostgreSQL
/// does, so `0.1::float8::numeric` is `0.1`.
pub(crate) fn float_to_decimal(f: f64) -> Result<Decimal> {
    if !f.is_finite() {
        return Err(Error::NotSupported(format!("numeric value {}", format_float(f))));
    }
    parse_numeric(&shortest_sci(f, 14))
}

/// `f` in scientific notation with `digits` digits after the point, trailing
/// zeros dropped (C's `%.*g` digits, in a form `parse_numeric` reads).
fn shortest_sci(f: f64, digits: usize) -> String {
    let text = format!("{f:.digits$e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
    format!("{mantissa}e{exp}")
}

/// PostgreSQL's numeric input: optional sign, digits with an optional point,
/// optional exponent; the scale is what the text shows (`1.50` keeps two
/// places). Values beyond what a Decimal holds round or overflow ("22003").
pub fn parse_numeric(s: &str) -> Result<Decimal> {
    let invalid = || syntax_error("numeric", s);
    let t = s.trim();
    if ["nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"].contains(&t.to_ascii_lowercase().as_str()) {
        return Err(Error::NotSupported(format!("numeric value {t}")));
    }
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], parse_exponent(&body[at + 1..]).ok_or_else(invalid)?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(invalid());
    }
    let digits = format!("{int_part}{frac_part}");
    decimal_from_digits(negative, &digits, frac_part.len() as i64 - exponent)
}

fn parse_exponent(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `±digits × 10^-scale` as a Decimal, rounding half away from zero once
/// (never twice) when it has more digits than a Decimal holds: 28 after the
/// point and 96 bits in all.
pub(crate) fn decimal_from_digits(negative: bool, digits: &str, scale: i64) -> Result<Decimal> {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(Decimal::new(0, scale.clamp(0, 28) as u32));
    }
    let len = digits.len() as i64;
    if scale < 0 {
        // An integer: the digits followed by -scale zeros.
        if len - scale > 29 {
            return Err(numeric_overflow());
        }
        let padded = format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize));
        return decimal_from_digits(negative, &padded, 0);
    }
    let mut drop = (scale - 28).max(len - 29).max(0);
    while drop <= scale {
        let fitted = round_digits(digits, drop as usize)
            .and_then(|m| Decimal::try_from_i128_with_scale(m, (scale - drop) as u32).ok());
        if let Some(mut d) = fitted {
            d.set_sign_negative(negative && !d.is_zero());
            return Ok(d);
        }
        drop += 1;
    }
    Err(numeric_overflow())
}

/// The decimal digits without their last `drop`, rounded half away from zero.
fn round_digits(digits: &str, drop: usize) -> Option<i128> {
    let keep = digits.len().saturating_sub(drop);
    let mut m: i128 = 0;
    for b in digits[..keep].bytes() {
        m = m.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    let round_up = drop > 0 && drop <= digits.len() && digits.as_bytes()[keep] >= b'5';
    if round_up { m.checked_add(1) } else { Some(m) }
}

/// Rounds to NUMERIC(precision, scale): half away from zero to `scale`
/// places, then "22003" if the integer part needs more than
/// `precision - scale` digits.
pub(crate) fn apply_numeric_typmod(d: Decimal, typmod: Option<(u32, u32)>) -> Result<Decimal> {
    let Some((precision, scale)) = typmod else { return Ok(d) };
    let scale = scale.min(28);
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    if integer_digits(r) > i64::from(precision.saturating_sub(scale)) {
        return Err(Error::sql("22003", "numeric field overflow"));
    }
    Ok(normalize_zero(r))
}

/// How many digits the integer part of `d` has (0 for |d| < 1).
fn integer_digits(d: Decimal) -> i64 {
    let m = d.mantissa().unsigned_abs();
    if m == 0 { 0 } else { (i64::from(m.ilog10()) + 1 - i64::from(d.scale())).max(0) }
}

/// PostgreSQL's numeric has no negative zero.
pub(crate) fn normalize_zero(mut d: Decimal) -> Decimal {
    if d.is_zero() {
        d.set_sign_negative(false);
    }
    d
}

/// Rounds half away from zero to `scale` places and shows exactly that many.
pub(crate) fn round_to_scale(d: Decimal, scale: i64) -> Decimal {
    let scale = scale.clamp(0, 28) as u32;
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    normalize_zero(r)
}

// ---------------------------------------------------------------------------
// Dates and times
// ---------------------------------------------------------------------------

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;
const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3_600_000_000;

pub(crate) fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_CE_DAYS)?)
}

pub(crate) fn days_of(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

/// Microseconds since 1970 of `date` at `time` microseconds past midnight.
pub(crate) fn timestamp_of(date: NaiveDate, time: i64) -> Option<i64> {
    i64::from(days_of(date)).checked_mul(MICROS_PER_DAY)?.checked_add(time)
}

/// A timestamp's calendar date and microseconds past midnight; `None` past
/// the calendar's range (about ±262,000 years).
pub(crate) fn split_timestamp(ts: i64) -> Option<(NaiveDate, i64)> {
    let days = i32::try_from(ts.div_euclid(MICROS_PER_DAY)).ok()?;
    Some((date_from_days(days)?, ts.rem_euclid(MICROS_PER_DAY)))
}

pub(crate) fn timestamp_out_of_range() -> Error {
    Error::sql("22008", "timestamp out of range")
}

/// A date as a timestamp at midnight. Every date the calendar holds fits;
/// one past it saturates, and range checks downstream refuse it.
pub(crate) fn date_to_timestamp(days: i32) -> i64 {
    i64::from(days).saturating_mul(MICROS_PER_DAY)
}

fn to_datetime(value: Value, to: &DataType) -> Result<Value> {
    let day_of = |ts: i64| i32::try_from(ts.div_euclid(MICROS_PER_DAY)).map_err(|_| timestamp_out_of_range());
    match (to, value) {
        (DataType::Date, Value::Date(d)) => Ok(Value::Date(d)),
        (DataType::Date, Value::Timestamp(t) | Value::TimestampTz(t)) => day_of(t).map(Value::Date),
        (DataType::Date, Value::Text(s)) => parse_date(&s).map(Value::Date),
        (DataType::Time, Value::Time(t)) => Ok(Value::Time(t)),
        (DataType::Time, Value::Timestamp(t) | Value::TimestampTz(t)) => Ok(Value::Time(t.rem_euclid(MICROS_PER_DAY))),
        (DataType::Time, Value::Interval(iv)) => Ok(Value::Time(iv.micros.rem_euclid(MICROS_PER_DAY))),
        (DataType::Time, Value::Text(s)) => parse_time(&s).map(Value::Time),
        (DataType::Timestamp, Value::Date(d)) => Ok(Value::Timestamp(date_to_timestamp(d))),
        (DataType::Timestamp, Value::Timestamp(t) | Value::TimestampTz(t)) => Ok(Value::Timestamp(t)),
        (DataType::Timestamp, Value::Text(s)) => parse_timestamp(&s).map(Value::Timestamp),
        (DataType::TimestampTz, Value::Date(d)) => Ok(Value::TimestampTz(date_to_timestamp(d))),
        (DataType::TimestampTz, Value::Timestamp(t) | Value::TimestampTz(t)) => Ok(Value::TimestampTz(t)),
        (DataType::TimestampTz, Value::Text(s)) => parse_timestamptz(&s).map(Value::TimestampTz),
        (DataType::Interval, Value::Interval(iv)) => Ok(Value::Interval(iv)),
        (DataType::Interval, Value::Time(t)) => Ok(Value::Interval(Interval { months: 0, days: 0, micros: t })),
        (DataType::Interval, Value::Text(s)) => parse_interval(&s).map(Value::Interval),
        (_, other) => Err(cannot_cast(&other, to)),
    }
}

/// Fields of a date/time literal before validation.
#[derive(Default)]
struct DateTimeText {
    ymd: Option<(i64, u32, u32)>,
    hms: Option<(i64, i64, i64, i64)>,
    offset_secs: i64,
    bc: bool,
}

/// A byte cursor over ASCII date/time text.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek().is_some_and(|p| p.eq_ignore_ascii_case(&c));
        if hit {
            self.at += 1;
        }
        hit
    }

    fn digits(&mut self) -> &'a str {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    fn number(&mut self, max_len: usize) -> Option<i64> {
        let d = self.digits();
        if d.is_empty() || d.len() > max_len { None } else { d.parse().ok() }
    }

    fn skip_spaces(&mut self) -> bool {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
        self.at > start
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.at + word.len();
        let hit = self.text.get(self.at..end).is_some_and(|w| w.eq_ignore_ascii_case(word));
        if hit {
            self.at = end;
        }
        hit
    }

    fn done(&self) -> bool {
        self.at >= self.text.len()
    }
}

/// Reads `[Y-M-D][ |T][H:M[:S[.f]]][ ][offset][ BC|AD]`; `None` on bad syntax.
fn scan_datetime(s: &str) -> Option<DateTimeText> {
    let mut sc = Scan { text: s.trim(), at: 0 };
    let mut out = DateTimeText { ymd: scan_ymd(&mut sc), ..DateTimeText::default() };
    if out.ymd.is_some() && !sc.done() && !sc.eat(b'T') && !sc.skip_spaces() {
        return None;
    }
    if sc.peek().is_some_and(|c| c.is_ascii_digit()) {
        out.hms = Some(scan_hms(&mut sc)?);
    }
    sc.skip_spaces();
    out.offset_secs = scan_offset(&mut sc)?;
    sc.skip_spaces();
    if sc.eat_word("BC") {
        out.bc = true;
    } else {
        sc.eat_word("AD");
    }
    (sc.done() && (out.ymd.is_some() || out.hms.is_some())).then_some(out)
}

fn scan_ymd(sc: &mut Scan<'_>) -> Option<(i64, u32, u32)> {
    let start = sc.at;
    let parsed = (|| {
        let year = sc.number(9)?;
        let sep = sc.peek().filter(|c| matches!(c, b'-' | b'/'))?;
        sc.at += 1;
        let month = sc.number(2)?;
        sc.eat(sep).then_some(())?;
        let day = sc.number(2)?;
        Some((year, month as u32, day as u32))
    })();
    if parsed.is_none() {
        sc.at = start;
    }
    parsed
}

fn scan_hms(sc: &mut Scan<'_>) -> Option<(i64, i64, i64, i64)> {
    let hour = sc.number(2)?;
    sc.eat(b':').then_some(())?;
    let minute = sc.number(2)?;
    let (mut second, mut frac) = (0, 0);
    if sc.eat(b':') {
        second = sc.number(2)?;
        if sc.eat(b'.') {
            frac = fraction_micros(sc.digits())?;
        }
    }
    Some((hour, minute, second, frac))
}

/// Fractional-second digits as microseconds, rounded half up at the seventh.
fn fraction_micros(digits: &str) -> Option<i64> {
    if digits.is_empty() {
        return None;
    }
    let mut seven: String = digits.chars().take(7).collect();
    while seven.len() < 7 {
        seven.push('0');
    }
    Some((seven.parse::<i64>().ok()? + 5) / 10)
}

/// An optional UTC offset: `Z`, `UTC`, `GMT`, `±HH`, `±HHMM`, `±HH:MM[:SS]`.
fn scan_offset(sc: &mut Scan<'_>) -> Option<i64> {
    if sc.eat(b'Z') || sc.eat_word("UTC") || sc.eat_word("GMT") {
        return Some(0);
    }
    let sign = match sc.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Some(0),
    };
    sc.at += 1;
    let digits = sc.digits();
    let (hours, mut minutes): (i64, i64) = match digits.len() {
        1 | 2 => (digits.parse().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    let mut seconds = 0;
    if digits.len() <= 2 && sc.eat(b':') {
        minutes = sc.number(2)?;
        if sc.eat(b':') {
            seconds = sc.number(2)?;
        }
    }
    if hours > 15 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60 + seconds))
}

/// A parsed date/time literal: the date, the time of day and the UTC offset.
fn datetime_fields(s: &str, type_name: &str) -> Result<(Option<NaiveDate>, Option<i64>, i64)> {
    let syntax = || Error::sql("22007", format!("invalid input syntax for type {type_name}: \"{s}\""));
    let range = || Error::sql("22008", format!("date/time field value out of range: \"{s}\""));
    let word = s.trim().to_ascii_lowercase();
    if word == "epoch" {
        return Ok((date_from_days(0), Some(0), 0));
    }
    if ["infinity", "-infinity", "now", "today", "tomorrow", "yesterday", "allballs"].contains(&word.as_str()) {
        return Err(Error::NotSupported(format!("{type_name} input \"{}\"", s.trim())));
    }
    let text = scan_datetime(s).ok_or_else(syntax)?;
    let date = match text.ymd {
        Some((0, ..)) => return Err(range()),
        Some((year, month, day)) => {
            let year = if text.bc { 1 - year } else { year };
            let year = i32::try_from(year).map_err(|_| range())?;
            Some(NaiveDate::from_ymd_opt(year, month, day).ok_or_else(range)?)
        }
        None if text.bc => return Err(syntax()),
        None => None,
    };
    let time = match text.hms {
        Some((h, m, sec, frac)) => {
            let valid = h <= 24 && m <= 59 && sec <= 60;
            let micros = ((h * 60 + m) * 60 + sec) * MICROS_PER_SECOND + frac;
            if !valid || micros > MICROS_PER_DAY {
                return Err(range());
            }
            Some(micros)
        }
        None => None,
    };
    Ok((date, time, text.offset_secs))
}

/// A DATE literal (`2024-03-01`, `2024/03/01`, optional ` BC`, a time part
/// is accepted and dropped) as days since 1970-01-01.
pub fn parse_date(s: &str) -> Result<i32> {
    match datetime_fields(s, "date")? {
        (Some(date), ..) => Ok(days_of(date)),
        _ => Err(Error::sql("22007", format!("invalid input syntax for type date: \"{s}\""))),
    }
}

/// A TIME literal (`HH:MM[:SS[.f]]`, a date part is accepted and dropped) as
/// microseconds since midnight; `24:00:00` is allowed, as in PostgreSQL.
pub fn parse_time(s: &str) -> Result<i64> {
    match datetime_fields(s, "time")? {
        (_, Some(time), _) => Ok(time),
        _ => Err(Error::sql("22007", format!("invalid input syntax for type time: \"{s}\""))),
    }
}

/// A TIMESTAMP literal (`YYYY-MM-DD[ |T]HH:MM:SS[.f]`) as microseconds since
/// 1970. A UTC offset is accepted and ignored, as PostgreSQL does for
/// `timestamp without time zone`.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    parse_timestamp_as(s, "timestamp").map(|(ts, _)| ts)
}

/// A TIMESTAMPTZ literal: like [`parse_timestamp`], with the offset
/// (`Z`, `+02`, `-05:30`; none means the session's UTC) applied.
pub fn parse_timestamptz(s: &str) -> Result<i64> {
    let (local, offset) = parse_timestamp_as(s, "timestamp with time zone")?;
    local
        .checked_sub(offset * MICROS_PER_SECOND)
        .filter(|ts| split_timestamp(*ts).is_some())
        .ok_or_else(timestamp_out_of_range)
}

fn parse_timestamp_as(s: &str, type_name: &str) -> Result<(i64, i64)> {
    match datetime_fields(s, type_name)? {
        (Some(date), time, offset) => {
            let ts = timestamp_of(date, time.unwrap_or(0)).ok_or_else(timestamp_out_of_range)?;
            Ok((ts, offset))
        }
        _ => Err(Error::sql("22007", format!("invalid input syntax for type {type_name}: \"{s}\""))),
    }
}

/// Units of date/time fields: interval input, `date_trunc` and `extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateUnit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Dow,
    IsoDow,
    Doy,
    Epoch,
    IsoYear,
    Timezone,
}

/// A unit by any of PostgreSQL's spellings (plural, abbreviated, any case).
pub(crate) fn date_unit(word: &str) -> Option<DateUnit> {
    use DateUnit::*;
    Some(match word.to_ascii_lowercase().as_str() {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => Microsecond,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => Millisecond,
        "second" | "seconds" | "s" | "sec" | "secs" => Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Hour,
        "day" | "days" | "d" => Day,
        "week" | "weeks" | "w" => Week,
        "month" | "months" | "mon" | "mons" => Month,
        "quarter" | "qtr" => Quarter,
        "year" | "years" | "y" | "yr" | "yrs" => Year,
        "decade" | "decades" | "dec" | "decs" => Decade,
        "century" | "centuries" | "c" | "cent" => Century,
        "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Millennium,
        "dow" => Dow,
        "isodow" => IsoDow,
        "doy" => Doy,
        "epoch" => Epoch,
        "isoyear" => IsoYear,
        "timezone" => Timezone,
        _ => return None,
    })
}

/// Interval fields while parsing, wide enough that no input overflows them.
#[derive(Default)]
struct IntervalAcc {
    months: i128,
    days: i128,
    micros: i128,
}

impl IntervalAcc {
    /// Adds `whole + frac` units; fractions cascade to smaller fields the way
    /// PostgreSQL's do (a month is 30 days, a fraction of a day is time).
    fn add(&mut self, unit: DateUnit, whole: i64, frac: f64) -> Option<()> {
        let whole = i128::from(whole);
        let micros_per = |per: i64| i128::from(per);
        match unit {
            DateUnit::Millennium | DateUnit::Century | DateUnit::Decade | DateUnit::Year => {
                let years = match unit {
                    DateUnit::Millennium => 1000,
                    DateUnit::Century => 100,
                    DateUnit::Decade => 10,
                    _ => 1,
                };
                self.months += whole * 12 * years;
                self.months += (frac * 12.0 * years as f64).round() as i128;
            }
            DateUnit::Month => {
                self.months += whole;
                self.add_fraction_of_days(frac * 30.0);
            }
            DateUnit::Week => {
                self.days += whole * 7;
                self.add_fraction_of_days(frac * 7.0);
            }
            DateUnit::Day => {
                self.days += whole;
                self.add_fraction_of_days(frac);
            }
            DateUnit::Hour => self.add_time(whole, frac, micros_per(MICROS_PER_HOUR)),
            DateUnit::Minute => self.add_time(whole, frac, micros_per(60 * MICROS_PER_SECOND)),
            DateUnit::Second => self.add_time(whole, frac, micros_per(MICROS_PER_SECOND)),
            DateUnit::Millisecond => self.add_time(whole, frac, 1000),
            DateUnit::Microsecond => self.add_time(whole, frac, 1),
            _ => return None,
        }
        Some(())
    }

    fn add_fraction_of_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole as i128;
        self.micros += ((days - whole) * MICROS_PER_DAY as f64).round() as i128;
    }

    fn add_time(&mut self, whole: i128, frac: f64, micros_per: i128) {
        self.micros += whole * micros_per + (frac * micros_per as f64).round() as i128;
    }

    fn finish(self, negate: bool) -> Option<Interval> {
        let sign = if negate { -1 } else { 1 };
        Some(Interval {
            months: i32::try_from(self.months * sign).ok()?,
            days: i32::try_from(self.days * sign).ok()?,
            micros: i64::try_from(self.micros * sign).ok()?,
        })
    }
}

/// An INTERVAL literal: `1 day 02:00:00`, `2 hours 30 mins`, `-1 week`,
/// `1.5 years`, `3 days ago`, `@ 1 minute`, a bare number of seconds, or
/// ISO 8601 `P1Y2M3DT4H5M6S`.
pub fn parse_interval(s: &str) -> Result<Interval> {
    let syntax = || Error::sql("22007", format!("invalid input syntax for type interval: \"{s}\""));
    let t = s.trim();
    let (acc, negate) = match t.strip_prefix(['P', 'p']) {
        Some(iso) => (iso_interval(iso).ok_or_else(syntax)?, false),
        None => verbose_interval(t).ok_or_else(syntax)?,
    };
    acc.finish(negate).ok_or_else(|| Error::sql("22015", format!("interval field value out of range: \"{s}\"")))
}

enum IntervalToken<'a> {
    Number(&'a str),
    Time(&'a str),
    Word(&'a str),
}

fn interval_tokens(s: &str) -> Option<Vec<IntervalToken<'_>>> {
    let b = s.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        let start = i;
        let c = b[i];
        i += 1;
        if c.is_ascii_whitespace() || (c == b'@' && start == 0) {
            continue;
        }
        if c.is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(IntervalToken::Word(&s[start..i]));
        } else if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') {
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b':')) {
                i += 1;
            }
            let text = &s[start..i];
            out.push(if text.contains(':') { IntervalToken::Time(text) } else { IntervalToken::Number(text) });
        } else {
            return None;
        }
    }
    Some(out)
}

/// A signed decimal number as its integer part and its (same-signed) fraction.
fn number_token(text: &str) -> Option<(i64, f64)> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let digits_only = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !digits_only(int_part) || !digits_only(frac_part) {
        return None;
    }
    let whole: i64 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
    let frac: f64 = if frac_part.is_empty() { 0.0 } else { format!("0.{frac_part}").parse().ok()? };
    Some(if negative { (-whole, -frac) } else { (whole, frac) })
}

fn verbose_interval(t: &str) -> Option<(IntervalAcc, bool)> {
    let tokens = interval_tokens(t)?;
    let mut acc = IntervalAcc::default();
    let mut ago = false;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            IntervalToken::Time(text) => acc.micros += interval_time(text)?,
            IntervalToken::Number(text) => {
                let (whole, frac) = number_token(text)?;
                let unit = match tokens.get(i + 1) {
                    Some(IntervalToken::Word(w)) if !w.eq_ignore_ascii_case("ago") => {
                        i += 1;
                        date_unit(w)?
                    }
                    // `1 02:00:00` is a day count before a time.
                    Some(IntervalToken::Time(_)) => DateUnit::Day,
                    _ => DateUnit::Second,
                };
                acc.add(unit, whole, frac)?;
            }
            IntervalToken::Word(w) if w.eq_ignore_ascii_case("ago") && i + 1 == tokens.len() && i > 0 => ago = true,
            IntervalToken::Word(_) => return None,
        }
        i += 1;
    }
    (!tokens.is_empty()).then_some((acc, ago))
}

/// `[±]H:MM[:SS[.f]]` (or `M:SS.f`) in an interval, as signed microseconds.
fn interval_time(text: &str) -> Option<i128> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let parts: Vec<&str> = body.split(':').collect();
    // At most 18 digits, so hours in microseconds cannot overflow.
    let int = |p: &str| -> Option<i128> {
        let valid = !p.is_empty() && p.len() <= 18 && p.bytes().all(|b| b.is_ascii_digit());
        if valid { p.parse().ok() } else { None }
    };
    let seconds = |p: &str| -> Option<i128> {
        let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
        let frac = if frac.is_empty() { 0 } else { i128::from(fraction_micros(frac)?) };
        Some(int(whole)? * 1_000_000 + frac)
    };
    let micros = match parts.as_slice() {
        [m, s] if s.contains('.') => int(m)? * 60_000_000 + seconds(s)?,
        [h, m] => (int(h)? * 60 + int(m)?) * 60_000_000,
        [h, m, s] => (int(h)? * 60 + int(m)?) * 60_000_000 + seconds(s)?,
        _ => return None,
    };
    Some(if negative { -micros } else { micros })
}

fn iso_interval(s: &str) -> Option<IntervalAcc> {
    let mut acc = IntervalAcc::default();
    let (mut in_time, mut rest) = (false, s);
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(['T', 't']) {
            in_time = true;
            rest = r;
            continue;
        }
        let end = rest.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))?;
        let (whole, frac) = number_token(&rest[..end])?;
        let unit = match (in_time, rest.as_bytes()[end].to_ascii_uppercase()) {
            (false, b'Y') => DateUnit::Year,
            (false, b'M') => DateUnit::Month,
            (false, b'W') => DateUnit::Week,
            (false, b'D') => DateUnit::Day,
            (true, b'H') => DateUnit::Hour,
            (true, b'M') => DateUnit::Minute,
            (true, b'S') => DateUnit::Second,
            _ => return None,
        };
        acc.add(unit, whole, frac)?;
        rest = &rest[end + 1..];
    }
    Some(acc)
}

// ---------------------------------------------------------------------------
// Other input functions
// ---------------------------------------------------------------------------

/// BYTEA input: `\x` followed by hex pairs, or the escape format where `\\`
/// is a backslash and `\ooo` an octal byte.
pub fn parse_bytea(s: &str) -> Result<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        return parse_hex(hex);
    }
    let invalid = || Error::sql("22P02", "invalid input syntax for type bytea");
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(b.len()), 0);
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = b.get(i + 1..i + 4).ok_or_else(invalid)?;
            let valid = matches!(octal[0], b'0'..=b'3') && octal[1..].iter().all(|d| matches!(d, b'0'..=b'7'));
            if !valid {
                return Err(invalid());
            }
            out.push((octal[0] - b'0') * 64 + (octal[1] - b'0') * 8 + (octal[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

fn parse_hex(hex: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().filter(|c| !c.is_ascii_whitespace());
    while let Some(hi) = chars.next() {
        let digit =
            |c: char| c.to_digit(16).ok_or_else(|| Error::sql("22023", format!("invalid hexadecimal digit: \"{c}\"")));
        let hi = digit(hi)?;
        let lo = chars.next().ok_or_else(|| Error::sql("22023", "invalid hexadecimal data: odd number of digits"))?;
        out.push((hi * 16 + digit(lo)?) as u8);
    }
    Ok(out)
}

/// UUID input: 32 hex digits, optionally in braces, with hyphens allowed
/// after any group of four digits.
pub fn parse_uuid(s: &str) -> Result<u128> {
    let invalid = || syntax_error("uuid", s);
    let inner = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let (mut value, mut digits, mut after_hyphen) = (0u128, 0, false);
    for c in inner.chars() {
        if c == '-' {
            if digits == 0 || digits % 4 != 0 || after_hyphen {
                return Err(invalid());
            }
            after_hyphen = true;
            continue;
        }
        let d = c.to_digit(16).ok_or_else(invalid)?;
        digits += 1;
        if digits > 32 {
            return Err(invalid());
        }
        value = value << 4 | u128::from(d);
        after_hyphen = false;
    }
    if digits != 32 || after_hyphen {
        return Err(invalid());
    }
    Ok(value)
}

fn to_array(value: Value, inner: &DataType, mode: Mode) -> Result<Value> {
    let items = match value {
        Value::Array(items) => items,
        Value::Text(s) => match parse_array_text(&s)? {
            Value::Array(items) => items,
            _ => return Err(Error::sql("22P02", format!("malformed array literal: \"{s}\""))),
        },
        other => return Err(cannot_cast(&other, &DataType::Array(Box::new(inner.clone())))),
    };
    let cast_item = |item: Value| match item {
        // A nested array (a multidimensional literal) holds the same type.
        Value::Array(_) => to_array(item, inner, mode),
        other => convert(other, inner, mode),
    };
    items.into_iter().map(cast_item).collect::<Result<Vec<_>>>().map(Value::Array)
}

/// An array literal `{a,"b c",NULL,{1,2}}` as nested arrays of text.
fn parse_array_text(s: &str) -> Result<Value> {
    let malformed = || Error::sql("22P02", format!("malformed array literal: \"{s}\""));
    let (value, rest) = array_level(s.trim(), 0).ok_or_else(malformed)?;
    if !rest.trim().is_empty() {
        return Err(malformed());
    }
    Ok(value)
}

fn array_level(s: &str, depth: usize) -> Option<(Value, &str)> {
    if depth > 6 {
        return None;
    }
    let mut rest = s.strip_prefix('{')?.trim_start();
    let mut items = Vec::new();
    if let Some(r) = rest.strip_prefix('}') {
        return Some((Value::Array(items), r));
    }
    loop {
        rest = rest.trim_start();
        let (item, r) = if rest.starts_with('{') { array_level(rest, depth + 1)? } else { array_element(rest)? };
        items.push(item);
        rest = r.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else {
            return Some((Value::Array(items), rest.strip_prefix('}')?));
        }
    }
}

/// One element: quoted (backslash escapes), or bare up to `,` or `}` with
/// surrounding blanks dropped; bare `NULL` is a NULL.
fn array_element(s: &str) -> Option<(Value, &str)> {
    let quoted = s.starts_with('"');
    let mut out = String::new();
    let mut chars = s.char_indices().skip(usize::from(quoted));
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' if quoted => return Some((Value::Text(out), &s[i + 1..])),
            ',' | '}' if !quoted => {
                let bare = out.trim_end();
                if bare.is_empty() {
                    return None;
                }
                let value = if bare.eq_ignore_ascii_case("NULL") { Value::Null } else { Value::Text(bare.to_string()) };
                return Some((value, &s[i..]));
            }
            '{' | '"' => return None,
            _ => out.push(c),
        }
    }
    None
}

fn to_json(value: Value, to: &DataType) -> Result<Value> {
    let text = match value {
        Value::Json(s) | Value::Text(s) => s,
        other => return Err(cannot_cast(&other, to)),
    };
    let node = parse_json(&text)?;
    if *to == DataType::Jsonb {
        let mut out = String::with_capacity(text.len());
        write_jsonb(&node, &text, &mut out);
        return Ok(Value::Json(out));
    }
    Ok(Value::Json(text))
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// PostgreSQL's text output of a value: booleans `t`/`f`, floats as the
/// shortest text that reads back the same, dates ISO, intervals in the
/// `postgres` style, arrays `{...}`. NULL prints as `NULL`.
pub fn format_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Numeric(d) => normalize_zero(*d).to_string(),
        Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bytes(b) => format_bytea(b),
        Value::Date(d) => format_date(*d),
        Value::Time(t) => format_time(*t),
        Value::Timestamp(t) => format_timestamp(*t, false),
        Value::TimestampTz(t) => format_timestamp(*t, true),
        Value::Interval(iv) => format_interval(iv),
        Value::Uuid(u) => format_uuid(*u),
        Value::Array(items) => format_array(items),
    }
}

/// [`format_value`] for a value of a known type; differs for `real`, which
/// prints the shortest text that reads back as the same single-precision
/// float (`0.1`, not `0.10000000149011612`).
pub fn format_typed(value: &Value, ty: &DataType) -> String {
    match (value, ty) {
        (Value::Float(f), DataType::Float32) => format_real(*f),
        _ => format_value(value),
    }
}

/// A double as PostgreSQL 12+ prints it: shortest round-trip digits, in
/// exponent form (`1e+20`, `1e-05`) below 1e-4 or from 1e15 up.
pub fn format_float(f: f64) -> String {
    float_text(f, format!("{f:e}"), format!("{f}"), 15)
}

/// A `real` (held as the double it converts to exactly) the same way, with
/// single-precision digits; exponent form from 1e6 up.
pub fn format_real(f: f64) -> String {
    let r = f as f32;
    float_text(f, format!("{r:e}"), format!("{r}"), 6)
}

fn float_text(f: f64, sci: String, plain: String, max_exp: i32) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= max_exp {
        format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs())
    } else {
        plain
    }
}

fn format_bytea(b: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * b.len());
    out.push_str("\\x");
    for byte in b {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn format_uuid(u: u128) -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u >> 96,
        (u >> 80) & 0xffff,
        (u >> 64) & 0xffff,
        (u >> 48) & 0xffff,
        u & 0xffff_ffff_ffff
    )
}

/// A year for display: astronomical year 0 is 1 BC.
fn display_year(year: i32) -> (i32, &'static str) {
    if year <= 0 { (1 - year, " BC") } else { (year, "") }
}

fn format_date(days: i32) -> String {
    match date_from_days(days) {
        Some(d) => {
            let (year, era) = display_year(d.year());
            format!("{year:04}-{:02}-{:02}{era}", d.month(), d.day())
        }
        None => format!("(date {days} days from 1970-01-01 is out of range)"),
    }
}

/// `HH:MM:SS` and a fraction without trailing zeros.
fn format_time(micros: i64) -> String {
    let mut out = String::with_capacity(15);
    push_clock(&mut out, micros.unsigned_abs());
    out
}

fn push_clock(out: &mut String, micros: u64) {
    let hours = micros / MICROS_PER_HOUR as u64;
    let minutes = micros / 60_000_000 % 60;
    let seconds = micros / 1_000_000 % 60;
    let _ = write!(out, "{hours:02}:{minutes:02}:{seconds:02}");
    let frac = micros % 1_000_000;
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn format_timestamp(ts: i64, with_zone: bool) -> String {
    let Some((date, time)) = split_timestamp(ts) else {
        return format!("(timestamp {ts} out of range)");
    };
    let (year, era) = display_year(date.year());
    let mut out = format!("{year:04}-{:02}-{:02} ", date.month(), date.day());
    push_clock(&mut out, time as u64);
    if with_zone {
        out.push_str("+00");
    }
    out.push_str(era);
    out
}

/// PostgreSQL's `postgres` interval style: `1 year 2 mons -3 days +04:05:06`.
pub fn format_interval(iv: &Interval) -> String {
    let mut out = String::new();
    let (mut is_zero, mut is_before) = (true, false);
    let parts = [(iv.months / 12, "year"), (iv.months % 12, "mon"), (iv.days, "day")];
    for (value, unit) in parts {
        if value == 0 {
            continue;
        }
        // A positive field after a negative one gets an explicit '+'.
        let sign = if is_before && value > 0 { "+" } else { "" };
        let plural = if value == 1 { "" } else { "s" };
        let _ = write!(out, "{}{sign}{value} {unit}{plural}", if is_zero { "" } else { " " });
        is_before = value < 0;
        is_zero = false;
    }
    if is_zero || iv.micros != 0 {
        if !is_zero {
            out.push(' ');
        }
        out.push_str(if iv.micros < 0 {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        });
        push_clock(&mut out, iv.micros.unsigned_abs());
    }
    out
}

fn format_array(items: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => out.push_str(&format_array(inner)),
            other => push_array_element(&mut out, &format_value(other)),
        }
    }
    out.push('}');
    out
}

fn push_array_element(out: &mut String, s: &str) {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

// ---------------------------------------------------------------------------
// Common type
// ---------------------------------------------------------------------------

/// The type two operands are cast to before comparing them, and the type of
/// a UNION column, CASE or COALESCE over both: `None` if there is none.
pub fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a.clone());
    }
    match (a, b) {
        (Unknown, x) | (x, Unknown) => Some(x.clone()),
        _ if a.is_text() && b.is_text() => Some(Text),
        _ if a.is_numeric() && b.is_numeric() => {
            let wider = if numeric_rank(a) >= numeric_rank(b) { a } else { b };
            Some(if matches!(wider, Numeric(_)) { Numeric(None) } else { wider.clone() })
        }
        // A string literal adapts to the other side, as PostgreSQL's
        // unknown-typed literals do.
        (Text, x) | (x, Text) => Some(x.clone()),
        (Date, Timestamp) | (Timestamp, Date) => Some(Timestamp),
        (Date | Timestamp, TimestampTz) | (TimestampTz, Date | Timestamp) => Some(TimestampTz),
        (Array(x), Array(y)) => common_type(x, y).map(|t| Array(Box::new(t))),
        _ => None,
    }
}

fn numeric_rank(t: &DataType) -> u8 {
    match t {
        DataType::Int16 => 0,
        DataType::Int32 => 1,
        DataType::Int64 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float32 => 4,
        _ => 5,
    }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// A parsed JSON value. Every node keeps its byte span in the source text,
/// so `json` (kept as written) can hand out sub-values verbatim.
pub(crate) struct JsonNode {
    pub(crate) kind: JsonKind,
    pub(crate) span: (usize, usize),
}

pub(crate) enum JsonKind {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<JsonNode>),
    Object(Vec<(String, JsonNode)>),
}

/// Deeper documents are refused rather than risking the stack.
const JSON_MAX_DEPTH: usize = 256;

pub(crate) fn parse_json(s: &str) -> Result<JsonNode> {
    let invalid = || Error::sql("22P02", "invalid input syntax for type json");
    let mut p = JsonParser { s, at: 0 };
    let node = p.value(0).ok_or_else(invalid)?;
    p.skip_ws();
    if p.at != s.len() {
        return Err(invalid());
    }
    Ok(node)
}

struct JsonParser<'a> {
    s: &'a str,
    at: usize,
}

impl JsonParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Option<JsonNode> {
        if depth > JSON_MAX_DEPTH {
            return None;
        }
        self.skip_ws();
        let start = self.at;
        let kind = match self.peek()? {
            b'{' => self.object(depth)?,
            b'[' => self.array(depth)?,
            b'"' => JsonKind::String(self.string()?),
            b't' => self.keyword("true", JsonKind::Bool(true))?,
            b'f' => self.keyword("false", JsonKind::Bool(false))?,
            b'n' => self.keyword("null", JsonKind::Null)?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        };
        Some(JsonNode { kind, span: (start, self.at) })
    }

    fn keyword(&mut self, word: &str, kind: JsonKind) -> Option<JsonKind> {
        self.s[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            kind
        })
    }

    fn number(&mut self) -> Option<JsonKind> {
        let digits = |p: &mut Self| {
            let start = p.at;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.at += 1;
            }
            p.at > start
        };
        self.eat(b'-');
        if !self.eat(b'0') && !digits(self) {
            return None;
        }
        if self.eat(b'.') && !digits(self) {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if !digits(self) {
                return None;
            }
        }
        Some(JsonKind::Number)
    }

    fn array(&mut self, depth: usize) -> Option<JsonKind> {
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat(b']') {
            return Some(JsonKind::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            if self.eat(b']') {
                return Some(JsonKind::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<JsonKind> {
        self.at += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.eat(b'}') {
            return Some(JsonKind::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(b':') {
                return None;
            }
            members.push((key, self.value(depth + 1)?));
            self.skip_ws();
            if self.eat(b'}') {
                return Some(JsonKind::Object(members));
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = String::new();
        loop {
            let rest = &self.s[self.at..];
            let stop = rest.find(['"', '\\'])?;
            let chunk = &rest[..stop];
            if chunk.bytes().any(|b| b < 0x20) {
                return None;
            }
            out.push_str(chunk);
            self.at += stop + 1;
            if rest.as_bytes()[stop] == b'"' {
                return Some(out);
            }
            let escaped = self.peek()?;
            self.at += 1;
            out.push(match escaped {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            });
        }
    }

    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return char::from_u32(hi);
        }
        // A high surrogate must be followed by an escaped low one.
        if !self.s[self.at..].starts_with("\\u") {
            return None;
        }
        self.at += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.at..self.at + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(h, 16).ok()
    }
}

/// Writes `node` the way PostgreSQL prints jsonb: `", "` and `": "`
/// separators, object keys sorted by length then bytes with the last of
/// duplicate keys kept, numbers as numeric prints them.
pub(crate) fn write_jsonb(node: &JsonNode, src: &str, out: &mut String) {
    match &node.kind {
        JsonKind::Null => out.push_str("null"),
        JsonKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonKind::Number => {
            let text = src.get(node.span.0..node.span.1).unwrap_or("0");
            match parse_numeric(text) {
                Ok(d) => out.push_str(&normalize_zero(d).to_string()),
                Err(_) => out.push_str(text),
            }
        }
        JsonKind::String(s) => write_json_string(s, out),
        JsonKind::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, src, out);
            }
            out.push(']');
        }
        JsonKind::Object(members) => write_jsonb_object(members, src, out),
    }
}

fn write_jsonb_object(members: &[(String, JsonNode)], src: &str, out: &mut String) {
    let mut sorted: Vec<&(String, JsonNode)> = members.iter().collect();
    // Stable, so among equal keys the last written stays last.
    sorted.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.as_bytes().cmp(b.0.as_bytes())));
    out.push('{');
    let mut first = true;
    for (i, (key, value)) in sorted.iter().map(|m| (&m.0, &m.1)).enumerate() {
        if sorted.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        write_json_string(key, out);
        out.push_str(": ");
        write_jsonb(value, src, out);
    }
    out.push('}');
}

pub(crate) fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        parse_numeric(s).unwrap()
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    fn cast_text(s: &str, to: DataType) -> Result<Value> {
        cast(text(s), &to)
    }

    fn shown(v: Result<Value>) -> String {
        format_value(&v.unwrap())
    }

    fn state(r: Result<Value>) -> &'static str {
        r.unwrap_err().sqlstate()
    }

    #[test]
    fn text_to_integers_trims_and_checks_ranges() {
        assert_eq!(cast_text(" 42 ", DataType::Int32).unwrap(), Value::Int(42));
        assert_eq!(cast_text("-7", DataType::Int16).unwrap(), Value::Int(-7));
        let err = cast_text("abc", DataType::Int32).unwrap_err();
        assert_eq!(err.sqlstate(), "22P02");
        assert_eq!(err.to_string(), "invalid input syntax for type integer: \"abc\"");
        assert_eq!(state(cast_text("1.5", DataType::Int32)), "22P02");
        let err = cast_text("99999999999", DataType::Int32).unwrap_err();
        assert_eq!(err.to_string(), "value \"99999999999\" is out of range for type integer");
        assert_eq!(state(cast_text("40000", DataType::Int16)), "22003");
        assert_eq!(state(cast_text("9223372036854775808", DataType::Int64)), "22003");
    }

    #[test]
    fn integer_width_checks() {
        let err = cast(Value::Int(70000), &DataType::Int16).unwrap_err();
        assert_eq!(err.to_string(), "smallint out of range");
        assert_eq!(cast(Value::Int(1 << 40), &DataType::Int32).unwrap_err().to_string(), "integer out of range");
        assert_eq!(cast(Value::Float(1e19), &DataType::Int64).unwrap_err().to_string(), "bigint out of range");
        assert_eq!(state(cast(Value::Float(f64::NAN), &DataType::Int32)), "22003");
    }

    #[test]
    fn float_to_int_rounds_ties_to_even_and_numeric_away_from_zero() {
        let f = |x: f64| cast(Value::Float(x), &DataType::Int32).unwrap();
        assert_eq!(f(2.5), Value::Int(2));
        assert_eq!(f(3.5), Value::Int(4));
        assert_eq!(f(-2.5), Value::Int(-2));
        assert_eq!(f(2.6), Value::Int(3));
        let n = |s: &str| cast(Value::Numeric(dec(s)), &DataType::Int32).unwrap();
        assert_eq!(n("2.5"), Value::Int(3));
        assert_eq!(n("-2.5"), Value::Int(-3));
        assert_eq!(n("2.4"), Value::Int(2));
    }

    #[test]
    fn booleans() {
        for t in ["t", "TRUE", " yes ", "on", "1", "y", "tr"] {
            assert_eq!(cast_text(t, DataType::Bool).unwrap(), Value::Bool(true), "{t}");
        }
        for f in ["f", "false", "NO", "off", "0", "of"] {
            assert_eq!(cast_text(f, DataType::Bool).unwrap(), Value::Bool(false), "{f}");
        }
        for bad in ["o", "maybe", "", "2"] {
            assert_eq!(state(cast_text(bad, DataType::Bool)), "22P02", "{bad}");
        }
        assert_eq!(cast(Value::Int(0), &DataType::Bool).unwrap(), Value::Bool(false));
        assert_eq!(cast(Value::Bool(true), &DataType::Int32).unwrap(), Value::Int(1));
        assert_eq!(cast(Value::Bool(true), &DataType::Text).unwrap(), text("true"));
        assert_eq!(format_value(&Value::Bool(true)), "t");
    }

    #[test]
    fn numeric_parsing_keeps_scale_and_applies_typmod() {
        assert_eq!(dec("1.50").to_string(), "1.50");
        assert_eq!(dec("  -0.5 ").to_string(), "-0.5");
        assert_eq!(dec("1.5e3").to_string(), "1500");
        assert_eq!(dec("1.50e1").to_string(), "15.0");
        assert_eq!(dec(".5").to_string(), "0.5");
        assert_eq!(dec("-0").to_string(), "0");
        assert_eq!(dec("0.12345678901234567890123456789012").to_string(), "0.1234567890123456789012345679");
        assert_eq!(state(cast_text("1e", DataType::Numeric(None))), "22P02");
        assert_eq!(state(cast_text("abc", DataType::Numeric(None))), "22P02");
        assert_eq!(state(cast_text("1e40", DataType::Numeric(None))), "22003");
        let typed = |s: &str, p, sc| cast_text(s, DataType::Numeric(Some((p, sc))));
        assert_eq!(shown(typed("3.14159", 5, 2)), "3.14");
        assert_eq!(shown(typed("2.345", 5, 2)), "2.35");
        assert_eq!(shown(typed("-2.345", 5, 2)), "-2.35");
        assert_eq!(shown(typed("7", 5, 2)), "7.00");
        let err = typed("1000", 5, 2).unwrap_err();
        assert_eq!((err.sqlstate(), err.to_string().as_str()), ("22003", "numeric field overflow"));
        assert_eq!(state(typed("999.995", 5, 2)), "22003");
    }

    #[test]
    fn floats_convert_like_postgres() {
        assert_eq!(shown(cast(Value::Float(0.1 + 0.2), &DataType::Numeric(None))), "0.3");
        assert_eq!(shown(cast(Value::Float(1e20), &DataType::Numeric(None))), "100000000000000000000");
        assert_eq!(shown(cast(Value::Float(2.5e-7), &DataType::Numeric(None))), "0.00000025");
        assert_eq!(cast_text("1.5", DataType::Float64).unwrap(), Value::Float(1.5));
        assert_eq!(shown(cast_text("-Infinity", DataType::Float64)), "-Infinity");
        assert_eq!(shown(cast_text("nan", DataType::Float64)), "NaN");
        assert_eq!(state(cast_text("1e400", DataType::Float64)), "22003");
        assert_eq!(state(cast_text("1e-400", DataType::Float64)), "22003");
        assert_eq!(state(cast_text("1e39", DataType::Float32)), "22003");
        assert_eq!(state(cast_text("infx", DataType::Float64)), "22P02");
        assert_eq!(state(cast(Value::Float(1e300), &DataType::Float32)), "22003");
        let real = cast_text("0.1", DataType::Float32).unwrap();
        assert_eq!(format_typed(&real, &DataType::Float32), "0.1");
        assert_eq!(format_real(1e6), "1e+06");
        assert_eq!(shown(cast_from(real, &DataType::Float32, &DataType::Numeric(None))), "0.1");
    }

    #[test]
    fn float_output() {
        let f = format_float;
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(1e20), "1e+20");
        assert_eq!(f(1e5), "100000");
        assert_eq!(f(123456789012345.0), "123456789012345");
        assert_eq!(f(1e15), "1e+15");
        assert_eq!(f(1.5e16), "1.5e+16");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(12345678901234567890.0), "1.2345678901234567e+19");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(f64::INFINITY), "Infinity");
        assert_eq!(f(1e-300), "1e-300");
    }

    #[test]
    fn strings_with_lengths() {
        let vc = DataType::Varchar(Some(3));
        assert_eq!(cast_text("abcdef", vc.clone()).unwrap(), text("abc"));
        let err = assign_cast(text("abcdef"), &vc).unwrap_err();
        assert_eq!(
            (err.sqlstate(), err.to_string().as_str()),
            ("22001", "value too long for type character varying(3)")
        );
        assert_eq!(assign_cast(text("ab   "), &vc).unwrap(), text("ab "));
        assert_eq!(assign_cast(text("héé"), &vc).unwrap(), text("héé"));
        assert_eq!(cast_text("ab", DataType::Char(4)).unwrap(), text("ab  "));
        assert_eq!(cast_text("abcdef", DataType::Char(2)).unwrap(), text("ab"));
        assert_eq!(state(assign_cast(text("abc"), &DataType::Char(2))), "22001");
        assert_eq!(cast(Value::Int(12345), &DataType::Varchar(Some(2))).unwrap(), text("12"));
        let from_char = cast_from(text("ab  "), &DataType::Char(4), &DataType::Text).unwrap();
        assert_eq!(from_char, text("ab"));
    }

    #[test]
    fn dates_parse_and_print() {
        assert_eq!(parse_date("1970-01-02").unwrap(), 1);
        assert_eq!(parse_date("2024/02/29").unwrap(), parse_date("2024-02-29").unwrap());
        assert_eq!(format_date(parse_date("2024-03-01").unwrap()), "2024-03-01");
        assert_eq!(format_date(parse_date(" 1969-12-31 ").unwrap()), "1969-12-31");
        assert_eq!(format_date(parse_date("0044-03-15 BC").unwrap()), "0044-03-15 BC");
        assert_eq!(parse_date("2024-01-05 10:00:00").unwrap(), parse_date("2024-01-05").unwrap());
        assert_eq!(parse_date("epoch").unwrap(), 0);
        let err = parse_date("2024-02-30").unwrap_err();
        assert_eq!(
            (err.sqlstate(), err.to_string().as_str()),
            ("22008", "date/time field value out of range: \"2024-02-30\"")
        );
        assert_eq!(parse_date("2024-13-01").unwrap_err().sqlstate(), "22008");
        let err = parse_date("abc").unwrap_err();
        assert_eq!(
            (err.sqlstate(), err.to_string().as_str()),
            ("22007", "invalid input syntax for type date: \"abc\"")
        );
        assert_eq!(parse_date("2024-01").unwrap_err().sqlstate(), "22007");
        assert_eq!(parse_date("today").unwrap_err().sqlstate(), "0A000");
    }

    #[test]
    fn timestamps_parse_and_print() {
        let ts = parse_timestamp("2024-03-01 12:34:56.789").unwrap();
        assert_eq!(format_timestamp(ts, false), "2024-03-01 12:34:56.789");
        assert_eq!(parse_timestamp("2024-03-01T12:34:56.789").unwrap(), ts);
        assert_eq!(format_timestamp(parse_timestamp("2024-03-01").unwrap(), false), "2024-03-01 00:00:00");
        assert_eq!(parse_timestamp("1970-01-01 00:00:01").unwrap(), 1_000_000);
        // timestamp without time zone ignores an offset; with one applies it.
        assert_eq!(parse_timestamp("1970-01-01 02:00:00+02").unwrap(), 2 * MICROS_PER_HOUR);
        assert_eq!(parse_timestamptz("1970-01-01 02:00:00+02").unwrap(), 0);
        assert_eq!(parse_timestamptz("1970-01-01 02:00:00 +02:00").unwrap(), 0);
        assert_eq!(parse_timestamptz("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_timestamptz("1970-01-01 00:00:00-0530").unwrap(), 5 * MICROS_PER_HOUR + 30 * 60_000_000);
        assert_eq!(
            format_timestamp(parse_timestamptz("2024-01-01 10:00:00.5").unwrap(), true),
            "2024-01-01 10:00:00.5+00"
        );
        assert_eq!(parse_timestamp("2024-01-01 24:00:00").unwrap(), parse_timestamp("2024-01-02").unwrap());
        assert_eq!(parse_timestamp("2024-01-01 1:02:03.1234567").unwrap() % 10_000_000, 3_123_457);
        assert_eq!(parse_timestamp("2024-01-01 25:00:00").unwrap_err().sqlstate(), "22008");
        assert_eq!(parse_timestamp("2024-01-01 12:60").unwrap_err().sqlstate(), "22008");
        assert_eq!(parse_timestamp("2024-01-01 12").unwrap_err().sqlstate(), "22007");
        assert_eq!(parse_timestamp("12:00:00").unwrap_err().sqlstate(), "22007");
        assert_eq!(format_timestamp(-1, false), "1969-12-31 23:59:59.999999");
    }

    #[test]
    fn times_and_conversions_between_date_types() {
        assert_eq!(parse_time("12:34").unwrap(), 12 * MICROS_PER_HOUR + 34 * 60_000_000);
        assert_eq!(format_time(parse_time("01:02:03.450").unwrap()), "01:02:03.45");
        assert_eq!(format_time(parse_time("24:00:00").unwrap()), "24:00:00");
        assert_eq!(parse_time("abc").unwrap_err().sqlstate(), "22007");
        let ts = parse_timestamp("2024-03-01 10:30:00").unwrap();
        assert_eq!(shown(cast(Value::Timestamp(ts), &DataType::Date)), "2024-03-01");
        assert_eq!(shown(cast(Value::Timestamp(ts), &DataType::Time)), "10:30:00");
        assert_eq!(shown(cast(Value::Timestamp(ts), &DataType::TimestampTz)), "2024-03-01 10:30:00+00");
        assert_eq!(shown(cast(Value::Date(0), &DataType::Timestamp)), "1970-01-01 00:00:00");
        assert_eq!(shown(cast(Value::Timestamp(-1), &DataType::Date)), "1969-12-31");
        assert_eq!(shown(cast_text("2024-03-01 10:30:00+01", DataType::TimestampTz)), "2024-03-01 09:30:00+00");
    }

    #[test]
    fn intervals_parse() {
        let iv = |s: &str| parse_interval(s).unwrap();
        let mk = |months, days, micros| Interval { months, days, micros };
        assert_eq!(iv("1 day"), mk(0, 1, 0));
        assert_eq!(iv("2 hours"), mk(0, 0, 2 * MICROS_PER_HOUR));
        assert_eq!(iv("1 year 2 months"), mk(14, 0, 0));
        assert_eq!(iv("3 mins 10 seconds"), mk(0, 0, 190_000_000));
        assert_eq!(iv("1 day 02:00:00"), mk(0, 1, 2 * MICROS_PER_HOUR));
        assert_eq!(iv("-1 week"), mk(0, -7, 0));
        assert_eq!(iv("1.5 years"), mk(18, 0, 0));
        assert_eq!(iv("1.5 days"), mk(0, 1, 12 * MICROS_PER_HOUR));
        assert_eq!(iv("1.5 months"), mk(1, 15, 0));
        assert_eq!(iv("2 days ago"), mk(0, -2, 0));
        assert_eq!(iv("@ 1 minute"), mk(0, 0, 60_000_000));
        assert_eq!(iv("10"), mk(0, 0, 10_000_000));
        assert_eq!(iv("1d 2h"), mk(0, 1, 2 * MICROS_PER_HOUR));
        assert_eq!(iv("5 ms 3 us"), mk(0, 0, 5003));
        assert_eq!(iv("-01:30"), mk(0, 0, -90 * 60_000_000));
        assert_eq!(iv("1 02:00:00"), mk(0, 1, 2 * MICROS_PER_HOUR));
        assert_eq!(iv("2 decades 1 century"), mk(1440, 0, 0));
        assert_eq!(iv("P1Y2M3DT4H5M6.5S"), mk(14, 3, 4 * MICROS_PER_HOUR + 306_500_000));
        assert_eq!(iv("PT1H"), mk(0, 0, MICROS_PER_HOUR));
        assert_eq!(iv("P2W"), mk(0, 14, 0));
        for bad in ["", "abc", "1 fortnight", "1 day ago ago", "P", "P1H", "1 day !"] {
            assert_eq!(parse_interval(bad).unwrap_err().sqlstate(), "22007", "{bad}");
        }
        assert_eq!(parse_interval("3000000000 days").unwrap_err().sqlstate(), "22015");
        assert_eq!(parse_interval(&format!("{}:00", "9".repeat(40))).unwrap_err().sqlstate(), "22007");
    }

    #[test]
    fn intervals_print_in_postgres_style() {
        let show = |s: &str| format_interval(&parse_interval(s).unwrap());
        assert_eq!(show("1 day 2 hours"), "1 day 02:00:00");
        assert_eq!(show("1 year 2 months 3 days 04:05:06"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(show("0 seconds"), "00:00:00");
        assert_eq!(show("-1 day"), "-1 days");
        assert_eq!(show("1 hour"), "01:00:00");
        assert_eq!(show("1.5 seconds"), "00:00:01.5");
        assert_eq!(show("-1 day 2 hours"), "-1 days +02:00:00");
        assert_eq!(show("1 day -2 hours"), "1 day -02:00:00");
        assert_eq!(show("25 hours"), "25:00:00");
        assert_eq!(show("-14 months"), "-1 years -2 mons");
        assert_eq!(show("1 mon"), "1 mon");
    }

    #[test]
    fn uuid_bytea_and_json() {
        let u = parse_uuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11").unwrap();
        assert_eq!(format_uuid(u), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert_eq!(parse_uuid("{a0eebc999c0b4ef8bb6d6bb9bd380a11}").unwrap(), u);
        assert_eq!(parse_uuid("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11").unwrap(), u);
        for bad in ["abc", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11"] {
            assert_eq!(parse_uuid(bad).unwrap_err().sqlstate(), "22P02", "{bad}");
        }
        assert_eq!(parse_bytea("\\x0aFF").unwrap(), vec![10, 255]);
        assert_eq!(parse_bytea("a\\\\b\\001").unwrap(), b"a\\b\x01".to_vec());
        assert!(parse_bytea("\\x0").is_err());
        assert!(parse_bytea("\\9").is_err());
        assert_eq!(format_value(&Value::Bytes(vec![0xde, 0xad, 1])), "\\xdead01");
        assert_eq!(cast_text(" {\"a\" : 1}", DataType::Json).unwrap(), Value::Json(" {\"a\" : 1}".into()));
        let jsonb = |s: &str| shown(cast_text(s, DataType::Jsonb));
        assert_eq!(
            jsonb(r#"{"b":1, "a":[1,2.50,"x\u00e9\n"],"b":2,"aa":null}"#),
            r#"{"a": [1, 2.50, "xé\n"], "b": 2, "aa": null}"#
        );
        assert_eq!(jsonb("1e2"), "100");
        for bad in ["{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "tru", "1 2", ""] {
            assert_eq!(state(cast_text(bad, DataType::Json)), "22P02", "{bad}");
        }
    }

    #[test]
    fn arrays() {
        let arr = Value::Array(vec![Value::Int(1), Value::Int(2), Value::Null, text("a b"), text(""), text("x\"y")]);
        assert_eq!(format_value(&arr), r#"{1,2,NULL,"a b","","x\"y"}"#);
        let ints = DataType::Array(Box::new(DataType::Int32));
        assert_eq!(shown(cast_text("{1, 2 ,NULL}", ints.clone())), "{1,2,NULL}");
        assert_eq!(shown(cast_text("{}", ints.clone())), "{}");
        assert_eq!(shown(cast_text("{{1,2},{3,4}}", ints.clone())), "{{1,2},{3,4}}");
        let texts = DataType::Array(Box::new(DataType::Text));
        assert_eq!(shown(cast_text(r#"{"a,b",c\"d, e }"#, texts)), r#"{"a,b","c\"d",e}"#);
        assert_eq!(state(cast_text("{1,2", ints.clone())), "22P02");
        assert_eq!(state(cast_text("{1,x}", ints)), "22P02");
    }

    #[test]
    fn casts_that_do_not_exist() {
        let err = cast(Value::Date(0), &DataType::Int32).unwrap_err();
        assert_eq!((err.sqlstate(), err.to_string().as_str()), ("42846", "cannot cast type date to integer"));
        assert_eq!(state(cast(Value::Float(1.0), &DataType::Bool)), "42846");
        assert_eq!(cast(Value::Null, &DataType::Int32).unwrap(), Value::Null);
        assert_eq!(cast(Value::Int(3), &DataType::Unknown).unwrap(), Value::Int(3));
    }

    #[test]
    fn common_types() {
        use DataType::*;
        let c = |a: &DataType, b: &DataType| common_type(a, b);
        assert_eq!(c(&Unknown, &Int32), Some(Int32));
        assert_eq!(c(&Int16, &Int32), Some(Int32));
        assert_eq!(c(&Int64, &Numeric(Some((5, 2)))), Some(Numeric(None)));
        assert_eq!(c(&Numeric(None), &Float64), Some(Float64));
        assert_eq!(c(&Float32, &Int64), Some(Float32));
        assert_eq!(c(&Varchar(Some(3)), &Char(2)), Some(Text));
        assert_eq!(c(&Varchar(Some(3)), &Varchar(Some(3))), Some(Varchar(Some(3))));
        assert_eq!(c(&Date, &Timestamp), Some(Timestamp));
        assert_eq!(c(&Timestamp, &TimestampTz), Some(TimestampTz));
        assert_eq!(c(&Text, &Date), Some(Date));
        assert_eq!(c(&Int32, &Bool), None);
        assert_eq!(c(&Array(Box::new(Int16)), &Array(Box::new(Int64))), Some(Array(Box::new(Int64))));
    }
}
