//! SQL values as JSON and back, shared by REST, GraphQL and the change stream.
//!
//! Numbers that JSON carries exactly (booleans, integers, finite floats)
//! are JSON numbers; NUMERIC is a string, so no digit is lost to a
//! client's binary floating point; JSON and JSONB columns are embedded as
//! JSON; arrays are arrays; every other type is its PostgreSQL text form.

use rustydb_core::sql::cast::format_value;
use rustydb_core::sql::{QueryResult, Value};
use serde_json::{Map, Number, Value as Json, json};

/// One SQL value as JSON.
pub fn value_to_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::Number((*i).into()),
        Value::Float(f) => Number::from_f64(*f).map_or_else(|| Json::String(format_value(value)), Json::Number),
        Value::Json(text) => serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone())),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        _ => Json::String(format_value(value)),
    }
}

/// A JSON parameter as a SQL value; the statement's parameter types then
/// cast it (a string becomes whatever type the parameter needs).
pub fn json_to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n.as_i64().map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        Json::Object(_) => Value::Json(json.to_string()),
    }
}

/// A row as an object keyed by column name.
pub fn row_object(columns: &[String], row: &[Value]) -> Json {
    let map: Map<String, Json> = columns.iter().cloned().zip(row.iter().map(value_to_json)).collect();
    Json::Object(map)
}

/// A statement's result: columns with their SQL types, rows as arrays.
pub fn result_json(result: &QueryResult) -> Json {
    let columns: Vec<Json> =
        result.columns.iter().map(|c| json!({"name": c.name, "type": c.data_type.sql_name()})).collect();
    let rows: Vec<Json> = result.rows.iter().map(|row| Json::Array(row.iter().map(value_to_json).collect())).collect();
    json!({"columns": columns, "rows": rows, "command": result.tag, "rows_affected": result.affected})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_json_types_and_numerics_their_digits() {
        let numeric = Value::Numeric("12345678901234567890.123456789".parse().unwrap());
        assert_eq!(value_to_json(&numeric), json!("12345678901234567890.123456789"));
        assert_eq!(value_to_json(&Value::Int(i64::MAX)), json!(i64::MAX));
        assert_eq!(value_to_json(&Value::Float(f64::NAN)), json!("NaN"));
        assert_eq!(value_to_json(&Value::Json(r#"{"a":[1,2]}"#.into())), json!({"a": [1, 2]}));
        assert_eq!(value_to_json(&Value::Array(vec![Value::Int(1), Value::Null])), json!([1, null]));
        assert_eq!(value_to_json(&Value::Bytes(vec![0xde, 0xad])), json!("\\xdead"));
        assert_eq!(value_to_json(&Value::Date(0)), json!("1970-01-01"));
    }

    #[test]
    fn parameters_map_onto_sql_values() {
        assert_eq!(json_to_value(&json!(7)), Value::Int(7));
        assert_eq!(json_to_value(&json!(1.5)), Value::Float(1.5));
        assert_eq!(json_to_value(&json!("x")), Value::Text("x".into()));
        assert_eq!(json_to_value(&json!({"k": 1})), Value::Json(r#"{"k":1}"#.into()));
    }
}
