//! How one result value prints, per corpus: PostgreSQL's text output
//! (`format_value`) with each corpus's runner conventions on top.

use std::path::Path;

use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use rustydb_core::sql::cast::format_value;
use rustydb_core::sql::{DataType, Value};

/// Which runner wrote a file's expected results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// SQLite's sqllogictest: one value per line, `hash-threshold 8`, `R` as `%.3f`.
    Sqlite,
    /// DataFusion's pg_compat files: `true`/`false`, floats rounded to 12
    /// decimals, timestamps as `2018-01-01T12:00:00`.
    DataFusion,
    /// RisingLight: `true`/`false`.
    RisingLight,
    /// RisingWave and anything else: rowwise PostgreSQL text.
    Other,
}

impl Corpus {
    /// Picks the corpus from a file's path.
    pub fn of(path: &Path) -> Corpus {
        let text = path.to_string_lossy();
        if text.contains("/sqlite/") || path.extension().is_some_and(|e| e == "test") {
            Corpus::Sqlite
        } else if text.contains("datafusion") {
            Corpus::DataFusion
        } else if text.contains("risinglight") {
            Corpus::RisingLight
        } else {
            Corpus::Other
        }
    }
}

/// One value as the file's runner would print it. `type_char` is the
/// column's letter from the `query` line, if it has one.
pub fn format_cell(value: &Value, data_type: &DataType, type_char: Option<char>, corpus: Corpus) -> String {
    match value {
        Value::Null => return "NULL".to_string(),
        Value::Text(s) if s.is_empty() => return "(empty)".to_string(),
        _ => {}
    }
    match corpus {
        Corpus::Sqlite if type_char == Some('R') => sqlite_real(value).unwrap_or_else(|| format_value(value)),
        // SQLite has no boolean type: an `I` column's truth values are 1 and 0.
        Corpus::Sqlite if type_char == Some('I') && matches!(value, Value::Bool(_)) => {
            if matches!(value, Value::Bool(true)) { "1".into() } else { "0".into() }
        }
        Corpus::DataFusion => datafusion_cell(value, data_type),
        Corpus::RisingLight if matches!(value, Value::Bool(_)) => format!("{}", matches!(value, Value::Bool(true))),
        _ => format_value(value),
    }
}

/// SQLite's runner prints an `R` column with `%.3f`.
fn sqlite_real(value: &Value) -> Option<String> {
    let f = match value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Numeric(d) => d.to_f64()?,
        _ => return None,
    };
    Some(format!("{f:.3}"))
}

fn datafusion_cell(value: &Value, data_type: &DataType) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Float(f) if *data_type == DataType::Float32 => datafusion_float((*f as f32).to_string(), *f),
        Value::Float(f) => datafusion_float(f.to_string(), *f),
        Value::Numeric(d) => round12(*d),
        Value::Timestamp(micros) => chrono_debug_timestamp(&format_value(value), *micros),
        other => format_value(other),
    }
}

/// A timestamp as chrono's `Debug` prints it, which DataFusion's runner
/// uses: a `T` between date and time, and a fraction of 3, 6 or 9 digits.
fn chrono_debug_timestamp(postgres: &str, micros: i64) -> String {
    let Some((date, time)) = postgres.split_once(' ') else { return postgres.to_string() };
    if time.contains(' ') {
        return postgres.to_string(); // BC: leave PostgreSQL's form
    }
    let whole = time.split('.').next().unwrap_or(time);
    let fraction = micros.rem_euclid(1_000_000);
    let fraction = match fraction {
        0 => String::new(),
        f if f % 1000 == 0 => format!(".{:03}", f / 1000),
        f => format!(".{f:06}"),
    };
    format!("{date}T{whole}{fraction}")
}

/// DataFusion's conversion of a float: NaN and infinities by name, other
/// values through their shortest decimal text, rounded to 12 places.
fn datafusion_float(shortest: String, f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        match shortest.parse::<Decimal>().ok().or_else(|| Decimal::from_f64(f)) {
            Some(d) => round12(d),
            None => shortest,
        }
    }
}

/// Rounded to 12 decimal places, trailing zeros dropped, no `-0`.
fn round12(d: Decimal) -> String {
    let rounded = d.round_dp(12).normalize();
    if rounded.is_zero() { "0".to_string() } else { rounded.to_string() }
}

/// The values of one row, formatted; `types` is the `query` line's type string.
pub fn format_row(row: &[Value], data_types: &[DataType], types: &[char], corpus: Corpus) -> Vec<String> {
    row.iter()
        .enumerate()
        .map(|(i, v)| {
            let data_type = data_types.get(i).unwrap_or(&DataType::Unknown);
            format_cell(v, data_type, types.get(i).copied(), corpus)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(v: Value, corpus: Corpus) -> String {
        format_cell(&v, &DataType::Unknown, None, corpus)
    }

    #[test]
    fn nulls_and_empty_strings() {
        for corpus in [Corpus::Sqlite, Corpus::DataFusion, Corpus::Other] {
            assert_eq!(cell(Value::Null, corpus), "NULL");
            assert_eq!(cell(Value::Text(String::new()), corpus), "(empty)");
            assert_eq!(cell(Value::Text(" a\tb ".into()), corpus), " a\tb ");
        }
    }

    #[test]
    fn booleans_per_corpus() {
        assert_eq!(cell(Value::Bool(true), Corpus::Sqlite), "t");
        assert_eq!(cell(Value::Bool(false), Corpus::Other), "f");
        assert_eq!(cell(Value::Bool(true), Corpus::RisingLight), "true");
        assert_eq!(cell(Value::Bool(false), Corpus::RisingLight), "false");
        assert_eq!(cell(Value::Bool(true), Corpus::DataFusion), "true");
        assert_eq!(cell(Value::Bool(false), Corpus::DataFusion), "false");
    }

    #[test]
    fn sqlite_integer_columns_print_booleans_as_numbers() {
        let i = |v: Value| format_cell(&v, &DataType::Bool, Some('I'), Corpus::Sqlite);
        assert_eq!(i(Value::Bool(true)), "1");
        assert_eq!(i(Value::Bool(false)), "0");
        assert_eq!(format_cell(&Value::Bool(true), &DataType::Bool, Some('T'), Corpus::Sqlite), "t");
    }

    #[test]
    fn sqlite_real_columns_print_three_decimals() {
        let r = |v: Value| format_cell(&v, &DataType::Unknown, Some('R'), Corpus::Sqlite);
        assert_eq!(r(Value::Int(5)), "5.000");
        assert_eq!(r(Value::Float(2.5)), "2.500");
        assert_eq!(r(Value::Float(-1.0 / 3.0)), "-0.333");
        assert_eq!(r(Value::Numeric("12.3456".parse().unwrap())), "12.346");
        assert_eq!(r(Value::Null), "NULL");
        let i = format_cell(&Value::Int(7), &DataType::Unknown, Some('I'), Corpus::Sqlite);
        assert_eq!(i, "7");
        // Outside SQLite's files the letter changes nothing.
        assert_eq!(format_cell(&Value::Int(5), &DataType::Unknown, Some('R'), Corpus::Other), "5");
    }

    #[test]
    fn datafusion_floats_round_to_twelve_places() {
        assert_eq!(cell(Value::Float(7.38905609893065), Corpus::DataFusion), "7.389056098931");
        assert_eq!(cell(Value::Float(1.1), Corpus::DataFusion), "1.1");
        assert_eq!(cell(Value::Float(100.0), Corpus::DataFusion), "100");
        assert_eq!(cell(Value::Float(-0.0), Corpus::DataFusion), "0");
        assert_eq!(cell(Value::Float(f64::NAN), Corpus::DataFusion), "NaN");
        assert_eq!(cell(Value::Float(f64::NEG_INFINITY), Corpus::DataFusion), "-Infinity");
        assert_eq!(cell(Value::Numeric("2.50".parse().unwrap()), Corpus::DataFusion), "2.5");
        let real =
            format_cell(&Value::Float(f64::from(0.110_830_78_f32)), &DataType::Float32, None, Corpus::DataFusion);
        assert_eq!(real, "0.11083078");
    }

    #[test]
    fn datafusion_timestamps_print_as_chrono_debug() {
        let ts = |micros: i64| cell(Value::Timestamp(micros), Corpus::DataFusion);
        let noon = 1_514_808_000_000_000; // 2018-01-01 12:00:00
        assert_eq!(ts(noon), "2018-01-01T12:00:00");
        assert_eq!(ts(noon + 500_000), "2018-01-01T12:00:00.500");
        assert_eq!(ts(noon + 123_456), "2018-01-01T12:00:00.123456");
        assert_eq!(cell(Value::Timestamp(noon), Corpus::Other), "2018-01-01 12:00:00");
    }

    #[test]
    fn corpus_from_path() {
        assert_eq!(Corpus::of(Path::new("/x/slt/sqlite/test/select1.test")), Corpus::Sqlite);
        assert_eq!(Corpus::of(Path::new("a.test")), Corpus::Sqlite);
        assert_eq!(Corpus::of(Path::new("/x/datafusion/pg_compat/a.slt")), Corpus::DataFusion);
        assert_eq!(Corpus::of(Path::new("/x/risinglight/tests/sql/a.slt")), Corpus::RisingLight);
        assert_eq!(Corpus::of(Path::new("/x/risingwave/e2e_test/a.slt.part")), Corpus::Other);
    }
}
