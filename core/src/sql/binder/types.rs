//! SQL type names (as parsed) to [`DataType`]s, and literal numbers to values.

use rust_decimal::Decimal;
use sqlparser::ast;

use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

/// The [`DataType`] a type name in SQL text denotes.
pub fn data_type(ty: &ast::DataType) -> Result<DataType> {
    use ast::DataType as A;
    Ok(match ty {
        A::Bool | A::Boolean => DataType::Bool,
        A::SmallInt(_) | A::Int2(_) => DataType::Int16,
        A::Int(_) | A::Integer(_) | A::Int4(_) | A::MediumInt(_) | A::TinyInt(_) | A::Signed | A::SignedInteger => {
            DataType::Int32
        }
        A::BigInt(_) | A::Int8(_) | A::Int64 => DataType::Int64,
        A::Real | A::Float4 => DataType::Float32,
        A::Double(_) | A::DoublePrecision | A::Float8 | A::Float64 => DataType::Float64,
        A::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) if *p <= 24 => DataType::Float32,
            _ => DataType::Float64,
        },
        A::Numeric(info) | A::Decimal(info) | A::Dec(info) => DataType::Numeric(match info {
            ast::ExactNumberInfo::None => None,
            ast::ExactNumberInfo::Precision(p) => Some((*p as u32, 0)),
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => Some((*p as u32, (*s).max(0) as u32)),
        }),
        A::Text | A::String(_) => DataType::Text,
        A::Varchar(len) | A::CharacterVarying(len) | A::CharVarying(len) | A::Nvarchar(len) => {
            DataType::Varchar(char_length(len))
        }
        A::Char(len) | A::Character(len) => DataType::Char(char_length(len).unwrap_or(1)),
        A::Bytea => DataType::Bytea,
        A::Date => DataType::Date,
        A::Time(_, _) => DataType::Time,
        A::Timestamp(_, tz) => match tz {
            ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz => DataType::TimestampTz,
            _ => DataType::Timestamp,
        },
        A::Datetime(_) => DataType::Timestamp,
        A::Interval { .. } => DataType::Interval,
        A::Uuid => DataType::Uuid,
        A::JSON => DataType::Json,
        A::JSONB => DataType::Jsonb,
        A::Array(elem) => match elem {
            ast::ArrayElemTypeDef::SquareBracket(inner, _)
            | ast::ArrayElemTypeDef::AngleBracket(inner)
            | ast::ArrayElemTypeDef::Parenthesis(inner) => DataType::Array(Box::new(data_type(inner)?)),
            _ => return Err(Error::NotSupported(format!("type {ty}"))),
        },
        A::Custom(name, _) => custom_type(&name.to_string().to_lowercase())?,
        A::Regclass => DataType::Int64,
        other => return Err(Error::NotSupported(format!("type {other}"))),
    })
}

fn char_length(len: &Option<ast::CharacterLength>) -> Option<u32> {
    match len {
        Some(ast::CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
        _ => None,
    }
}

fn custom_type(name: &str) -> Result<DataType> {
    Ok(match name {
        "serial" | "serial4" => DataType::Int32,
        "bigserial" | "serial8" => DataType::Int64,
        "smallserial" | "serial2" => DataType::Int16,
        other => type_named(other)?,
    })
}

/// The type a (lower-case) name denotes, in any of PostgreSQL's spellings,
/// `pg_catalog.`-qualified or not: `int4`, `integer`, `character varying` ….
/// Object-id types (`oid`, `regclass` …) are bigints.
pub fn type_named(name: &str) -> Result<DataType> {
    Ok(match name.strip_prefix("pg_catalog.").unwrap_or(name) {
        "bool" | "boolean" => DataType::Bool,
        "int2" | "smallint" => DataType::Int16,
        "int4" | "int" | "integer" => DataType::Int32,
        "int8" | "bigint" => DataType::Int64,
        "float4" | "real" => DataType::Float32,
        "float8" | "float" | "double precision" => DataType::Float64,
        "numeric" | "decimal" => DataType::Numeric(None),
        "text" | "name" | "citext" => DataType::Text,
        "varchar" | "character varying" => DataType::Varchar(None),
        "bpchar" | "char" | "character" => DataType::Char(1),
        "bytea" => DataType::Bytea,
        "date" => DataType::Date,
        "time" | "time without time zone" => DataType::Time,
        "timestamp" | "timestamp without time zone" => DataType::Timestamp,
        "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
        "interval" => DataType::Interval,
        "uuid" => DataType::Uuid,
        "json" => DataType::Json,
        "jsonb" => DataType::Jsonb,
        "oid" | "regclass" | "regtype" | "regnamespace" | "regproc" => DataType::Int64,
        other => return Err(Error::sql("42704", format!("type \"{other}\" does not exist"))),
    })
}

/// The `reg*` object-name type a cast names, if it names one.
pub fn reg_type(ty: &ast::DataType) -> Option<crate::sql::system_catalog::RegType> {
    match ty {
        ast::DataType::Custom(name, _) => crate::sql::system_catalog::RegType::named(&name.to_string().to_lowercase()),
        ast::DataType::Regclass => Some(crate::sql::system_catalog::RegType::Class),
        _ => None,
    }
}

/// Whether a type name is one of the SERIAL pseudo-types.
pub fn is_serial(ty: &ast::DataType) -> bool {
    matches!(ty, ast::DataType::Custom(name, _)
        if matches!(name.to_string().to_lowercase().as_str(), "serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2"))
}

/// A numeric literal as PostgreSQL types it: integer if it fits in bigint,
/// otherwise NUMERIC.
pub fn number_literal(text: &str) -> Result<Value> {
    if !text.contains(['.', 'e', 'E'])
        && let Ok(i) = text.parse::<i64>()
    {
        return Ok(Value::Int(i));
    }
    if text.contains(['e', 'E']) {
        return Decimal::from_scientific(text)
            .map(Value::Numeric)
            .or_else(|_| text.parse::<f64>().map(Value::Float))
            .map_err(|_| invalid_number(text));
    }
    text.parse::<Decimal>()
        .map(Value::Numeric)
        .or_else(|_| text.parse::<f64>().map(Value::Float).map_err(|_| invalid_number(text)))
}

fn invalid_number(text: &str) -> Error {
    Error::sql("22P02", format!("invalid input syntax for type numeric: \"{text}\""))
}
