//! The SQL-standard `information_schema` views ORMs, migration tools and
//! people read: `schemata`, `tables`, `columns`, `views`,
//! `table_constraints`, `key_column_usage`, `referential_constraints` and
//! `sequences`, built from one schema snapshot like the `pg_catalog`
//! relations (see the parent module).
//!
//! They are named only with their schema (`information_schema.tables`),
//! which is not on the search path, as in PostgreSQL: the binder passes
//! such a name through whole ([`PREFIX`]), so an unqualified `tables` stays
//! a user table. Unlike PostgreSQL's, the views list every object, not only
//! those the current role holds a privilege on: the catalog relations are
//! built without the session's role, and `pg_catalog` lists everything too.
//! The SQL-standard domains (`sql_identifier`, `cardinal_number`,
//! `yes_or_no` …) are their base types: text and integer.

use super::relations::{Columns, Rows, int, text};
use super::{ConstraintKind, Oids};
use crate::sql::catalog::{ColumnDef, Schema, TableDef};
use crate::sql::value::{DataType, Value};

/// How the binder names a relation of this schema.
pub const PREFIX: &str = "information_schema.";

/// The only database, schema of every relation, and owner of the schemas.
const DATABASE: &str = "rustydb";
const SCHEMA: &str = "public";

/// The columns and rows of `information_schema.<name>`, if there is one.
pub(super) fn build(name: &str, schema: &Schema) -> Option<(Columns, Rows)> {
    Some(match name {
        "schemata" => schemata(),
        "tables" => tables(schema),
        "columns" => columns(schema),
        "views" => views(schema),
        "table_constraints" => table_constraints(&Oids::of(schema)),
        "key_column_usage" => key_column_usage(&Oids::of(schema)),
        "referential_constraints" => referential_constraints(&Oids::of(schema)),
        "sequences" => sequences(schema),
        _ => return None,
    })
}

fn yes_no(yes: bool) -> Value {
    text(if yes { "YES" } else { "NO" })
}

fn or_null(value: Option<i64>) -> Value {
    value.map_or(Value::Null, int)
}

/// `(catalog, schema, name)`, the three columns every relation row starts with.
fn qualified(name: &str) -> [Value; 3] {
    [text(DATABASE), text(SCHEMA), text(name)]
}

fn schemata() -> (Columns, Rows) {
    use DataType::Text;
    let columns = vec![
        ("catalog_name", Text),
        ("schema_name", Text),
        ("schema_owner", Text),
        ("default_character_set_catalog", Text),
        ("default_character_set_schema", Text),
        ("default_character_set_name", Text),
        ("sql_path", Text),
    ];
    let rows = ["information_schema", "pg_catalog", SCHEMA]
        .iter()
        .map(|name| {
            let owner = crate::sql::roles::BOOTSTRAP_SUPERUSER;
            vec![text(DATABASE), text(name), text(owner), Value::Null, Value::Null, Value::Null, Value::Null]
        })
        .collect();
    (columns, rows)
}

fn tables(schema: &Schema) -> (Columns, Rows) {
    use DataType::Text;
    let columns = vec![
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("table_type", Text),
        ("self_referencing_column_name", Text),
        ("reference_generation", Text),
        ("user_defined_type_catalog", Text),
        ("user_defined_type_schema", Text),
        ("user_defined_type_name", Text),
        ("is_insertable_into", Text),
        ("is_typed", Text),
        ("commit_action", Text),
    ];
    let tables = schema.tables.keys().map(|name| (name, "BASE TABLE", true));
    let views = schema.views.keys().map(|name| (name, "VIEW", false));
    let mut relations: Vec<_> = tables.chain(views).collect();
    relations.sort();
    let rows = relations
        .into_iter()
        .map(|(name, kind, insertable)| {
            let mut row = qualified(name).to_vec();
            row.extend([text(kind), Value::Null, Value::Null, Value::Null, Value::Null, Value::Null]);
            row.extend([yes_no(insertable), yes_no(false), Value::Null]);
            row
        })
        .collect();
    (columns, rows)
}

/// The standard's name for a type: PostgreSQL's without modifiers, and
/// `ARRAY` for every array.
fn standard_type_name(ty: &DataType) -> String {
    match ty {
        DataType::Numeric(_) => "numeric".into(),
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Array(_) => "ARRAY".into(),
        other => other.sql_name(),
    }
}

/// `(character_maximum_length, numeric_precision, numeric_precision_radix,
/// numeric_scale, datetime_precision)` of a column type.
fn type_measures(ty: &DataType) -> [Option<i64>; 5] {
    match ty {
        DataType::Varchar(n) => [n.map(i64::from), None, None, None, None],
        DataType::Char(n) => [Some(i64::from(*n)), None, None, None, None],
        DataType::Int16 => [None, Some(16), Some(2), Some(0), None],
        DataType::Int32 => [None, Some(32), Some(2), Some(0), None],
        DataType::Int64 => [None, Some(64), Some(2), Some(0), None],
        DataType::Float32 => [None, Some(24), Some(2), None, None],
        DataType::Float64 => [None, Some(53), Some(2), None, None],
        DataType::Numeric(Some((p, s))) => [None, Some(i64::from(*p)), Some(10), Some(i64::from(*s)), None],
        DataType::Numeric(None) => [None, None, Some(10), None, None],
        DataType::Date => [None, None, None, None, Some(0)],
        DataType::Time | DataType::Timestamp | DataType::TimestampTz | DataType::Interval => {
            [None, None, None, None, Some(6)]
        }
        _ => [None; 5],
    }
}

fn columns(schema: &Schema) -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("column_name", Text),
        ("ordinal_position", Int64),
        ("column_default", Text),
        ("is_nullable", Text),
        ("data_type", Text),
        ("character_maximum_length", Int64),
        ("numeric_precision", Int64),
        ("numeric_precision_radix", Int64),
        ("numeric_scale", Int64),
        ("datetime_precision", Int64),
        ("udt_catalog", Text),
        ("udt_schema", Text),
        ("udt_name", Text),
        ("is_identity", Text),
        ("is_generated", Text),
        ("is_updatable", Text),
    ];
    let mut relations: Vec<(&String, Vec<ColumnDef>, bool)> =
        schema.tables.iter().map(|(name, table)| (name, table.columns.clone(), true)).collect();
    for name in schema.views.keys() {
        relations.push((name, super::relations::view_columns(schema, name), false));
    }
    relations.sort_by(|a, b| a.0.cmp(b.0));
    let mut rows = Vec::new();
    for (name, columns, updatable) in relations {
        for (i, column) in columns.iter().enumerate() {
            let ty = &column.data_type;
            let mut row = qualified(name).to_vec();
            row.extend([text(&column.name), int(i as i64 + 1)]);
            row.push(column.default.as_deref().map_or(Value::Null, text));
            row.extend([yes_no(column.nullable), text(&standard_type_name(ty))]);
            row.extend(type_measures(ty).map(or_null));
            row.extend([text(DATABASE), text("pg_catalog"), text(&super::relations::type_name(ty))]);
            row.extend([yes_no(false), text("NEVER"), yes_no(updatable)]);
            rows.push(row);
        }
    }
    (columns, rows)
}

fn views(schema: &Schema) -> (Columns, Rows) {
    use DataType::Text;
    let columns = vec![
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("view_definition", Text),
        ("check_option", Text),
        ("is_updatable", Text),
        ("is_insertable_into", Text),
        ("is_trigger_updatable", Text),
        ("is_trigger_deletable", Text),
        ("is_trigger_insertable_into", Text),
    ];
    let rows = schema
        .views
        .iter()
        .map(|(name, view)| {
            let mut row = qualified(name).to_vec();
            row.extend([text(&view.query), text("NONE")]);
            row.extend([yes_no(false), yes_no(false), yes_no(false), yes_no(false), yes_no(false)]);
            row
        })
        .collect();
    (columns, rows)
}

/// The standard's `constraint_type` of a constraint.
fn constraint_type(kind: &ConstraintKind<'_>) -> &'static str {
    match kind {
        ConstraintKind::Key(index) if index.primary => "PRIMARY KEY",
        ConstraintKind::Key(_) => "UNIQUE",
        ConstraintKind::Check(_) => "CHECK",
        ConstraintKind::ForeignKey(_) => "FOREIGN KEY",
    }
}

fn table_constraints(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::Text;
    let columns = vec![
        ("constraint_catalog", Text),
        ("constraint_schema", Text),
        ("constraint_name", Text),
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("constraint_type", Text),
        ("is_deferrable", Text),
        ("initially_deferred", Text),
        ("enforced", Text),
        ("nulls_distinct", Text),
    ];
    let rows = oids
        .constraints
        .iter()
        .map(|(_, constraint)| {
            let mut row = qualified(constraint.name).to_vec();
            row.extend(qualified(&constraint.table.name));
            row.extend([text(constraint_type(&constraint.kind)), yes_no(false), yes_no(false), yes_no(true)]);
            let key = matches!(constraint.kind, ConstraintKind::Key(_));
            row.push(if key { yes_no(true) } else { Value::Null });
            row
        })
        .collect();
    (columns, rows)
}

/// The key columns of a constraint, with the referenced table's positions
/// for a foreign key.
fn key_columns<'a>(table: &'a TableDef, kind: &ConstraintKind<'_>) -> Vec<(&'a str, Option<i64>)> {
    let name = |c: usize| table.columns.get(c).map_or("", |col| col.name.as_str());
    match kind {
        ConstraintKind::Key(index) => index.columns.iter().map(|&c| (name(c), None)).collect(),
        ConstraintKind::ForeignKey(fk) => {
            fk.columns.iter().enumerate().map(|(i, &c)| (name(c), Some(i as i64 + 1))).collect()
        }
        ConstraintKind::Check(_) => Vec::new(),
    }
}

fn key_column_usage(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![
        ("constraint_catalog", Text),
        ("constraint_schema", Text),
        ("constraint_name", Text),
        ("table_catalog", Text),
        ("table_schema", Text),
        ("table_name", Text),
        ("column_name", Text),
        ("ordinal_position", Int64),
        ("position_in_unique_constraint", Int64),
    ];
    let mut rows = Vec::new();
    for (_, constraint) in &oids.constraints {
        for (i, (column, unique_position)) in key_columns(constraint.table, &constraint.kind).into_iter().enumerate() {
            let mut row = qualified(constraint.name).to_vec();
            row.extend(qualified(&constraint.table.name));
            row.extend([text(column), int(i as i64 + 1), or_null(unique_position)]);
            rows.push(row);
        }
    }
    (columns, rows)
}

fn referential_constraints(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::Text;
    let columns = vec![
        ("constraint_catalog", Text),
        ("constraint_schema", Text),
        ("constraint_name", Text),
        ("unique_constraint_catalog", Text),
        ("unique_constraint_schema", Text),
        ("unique_constraint_name", Text),
        ("match_option", Text),
        ("update_rule", Text),
        ("delete_rule", Text),
    ];
    let mut rows = Vec::new();
    for (_, constraint) in &oids.constraints {
        let ConstraintKind::ForeignKey(fk) = &constraint.kind else { continue };
        // The referenced key: the unique index on exactly the referenced columns.
        let unique = oids
            .schema
            .indexes
            .values()
            .find(|index| index.table == fk.ref_table && index.unique && index.columns == fk.ref_columns);
        let mut row = qualified(constraint.name).to_vec();
        match unique {
            Some(index) => row.extend(qualified(&index.name)),
            None => row.extend([Value::Null, Value::Null, Value::Null]),
        }
        row.extend([text("NONE"), text("NO ACTION"), text("NO ACTION")]);
        rows.push(row);
    }
    (columns, rows)
}

fn sequences(schema: &Schema) -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![
        ("sequence_catalog", Text),
        ("sequence_schema", Text),
        ("sequence_name", Text),
        ("data_type", Text),
        ("numeric_precision", Int64),
        ("numeric_precision_radix", Int64),
        ("numeric_scale", Int64),
        ("start_value", Text),
        ("minimum_value", Text),
        ("maximum_value", Text),
        ("increment", Text),
        ("cycle_option", Text),
    ];
    let rows = schema
        .sequences
        .iter()
        .map(|(name, seq)| {
            let mut row = qualified(name).to_vec();
            row.extend([text("bigint"), int(64), int(2), int(0)]);
            row.extend([seq.start, seq.min, seq.max, seq.increment].map(|n| text(&n.to_string())));
            row.push(yes_no(seq.cycle));
            row
        })
        .collect();
    (columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_follow_the_standard() {
        assert_eq!(standard_type_name(&DataType::Varchar(Some(10))), "character varying");
        assert_eq!(standard_type_name(&DataType::Numeric(Some((10, 2)))), "numeric");
        assert_eq!(standard_type_name(&DataType::Array(Box::new(DataType::Int32))), "ARRAY");
        assert_eq!(standard_type_name(&DataType::TimestampTz), "timestamp with time zone");
        assert_eq!(type_measures(&DataType::Varchar(Some(10)))[0], Some(10));
        assert_eq!(type_measures(&DataType::Numeric(Some((10, 2)))), [None, Some(10), Some(10), Some(2), None]);
    }

    #[test]
    fn unknown_names_are_not_relations() {
        assert!(build("nothing", &Schema::default()).is_none());
        let (columns, rows) = build("schemata", &Schema::default()).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|row| row.len() == columns.len()));
    }
}
