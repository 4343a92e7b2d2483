//! The rows of each `pg_catalog` relation, built from one schema snapshot.

use super::{
    BTREE_AM, CATALOG_NAMESPACE, Class, ConstraintKind, DEFAULT_COLLATION, HEAP_AM, Oids, PUBLIC_NAMESPACE,
    UTF8_ENCODING, role_oids,
};
use crate::sql::catalog::{ColumnDef, Schema};
use crate::sql::roles::BOOTSTRAP_SUPERUSER;
use crate::sql::value::{BASE_TYPE_OIDS, DataType, Value};

pub(super) type Columns = Vec<(&'static str, DataType)>;
pub(super) type Rows = Vec<Vec<Value>>;

/// The columns and rows of relation `name`, if `pg_catalog` has it.
pub(super) fn build(name: &str, schema: &Schema, view_columns: bool) -> Option<(Columns, Rows)> {
    if let Some(name) = name.strip_prefix(super::information_schema::PREFIX) {
        return super::information_schema::build(name, schema);
    }
    Some(match name {
        "pg_namespace" => namespaces(),
        "pg_class" => classes(&Oids::of(schema)),
        "pg_am" => access_methods(),
        "pg_database" => databases(),
        "pg_roles" | "pg_user" => roles(schema),
        "pg_index" => indexes(&Oids::of(schema)),
        "pg_attribute" => attributes(&Oids::of(schema), view_columns),
        "pg_attrdef" => attribute_defaults(&Oids::of(schema)),
        "pg_constraint" => constraints(&Oids::of(schema)),
        "pg_type" => types(),
        "pg_collation" => collations(),
        "pg_policy" => (policy_columns(), vec![]),
        "pg_statistic_ext" => (statistics_columns(), vec![]),
        "pg_publication" => (publication_columns(), vec![]),
        "pg_publication_namespace" => {
            (vec![("oid", DataType::Int64), ("pnpubid", DataType::Int64), ("pnnspid", DataType::Int64)], vec![])
        }
        "pg_publication_rel" => (publication_rel_columns(), vec![]),
        "pg_trigger" => (trigger_columns(), vec![]),
        // No user-defined functions (CREATE FUNCTION is not supported), and
        // the built-in ones are not listed: psql's `\df` finds nothing.
        "pg_proc" => (procedure_columns(), vec![]),
        "pg_inherits" => (inherits_columns(), vec![]),
        "pg_sequence" => sequences(&Oids::of(schema)),
        "pg_depend" => (depend_columns(), vec![]),
        "pg_description" => (description_columns(), vec![]),
        // Roles are not members of one another (no role membership yet).
        "pg_auth_members" => (
            vec![
                ("roleid", DataType::Int64),
                ("member", DataType::Int64),
                ("grantor", DataType::Int64),
                ("admin_option", DataType::Bool),
            ],
            vec![],
        ),
        _ => return None,
    })
}

pub(super) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub(super) fn int(n: i64) -> Value {
    Value::Int(n)
}

fn int_array() -> DataType {
    DataType::Array(Box::new(DataType::Int64))
}

fn ints(values: impl IntoIterator<Item = i64>) -> Value {
    Value::Array(values.into_iter().map(Value::Int).collect())
}

fn namespaces() -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![("oid", Int64), ("nspname", Text), ("nspowner", Int64)];
    let rows = vec![
        vec![int(CATALOG_NAMESPACE), text("pg_catalog"), int(10)],
        vec![int(PUBLIC_NAMESPACE), text("public"), int(10)],
    ];
    (columns, rows)
}

fn access_methods() -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![("oid", Int64), ("amname", Text), ("amtype", Text)];
    let rows = vec![vec![int(HEAP_AM), text("heap"), text("t")], vec![int(BTREE_AM), text("btree"), text("i")]];
    (columns, rows)
}

fn databases() -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("datname", Text),
        ("datdba", Int64),
        ("encoding", Int64),
        ("datcollate", Text),
        ("datctype", Text),
        ("daticulocale", Text),
        ("datlocprovider", Text),
        ("datistemplate", Bool),
        ("datallowconn", Bool),
        ("datconnlimit", Int64),
        ("datacl", DataType::Array(Box::new(Text))),
    ];
    let rows = vec![vec![
        int(16_384),
        text("rustydb"),
        int(10),
        int(UTF8_ENCODING),
        text("C"),
        text("C"),
        Value::Null,
        text("c"),
        Value::Bool(false),
        Value::Bool(true),
        int(-1),
        Value::Null,
    ]];
    (columns, rows)
}

fn roles(schema: &Schema) -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("rolname", Text),
        ("usename", Text),
        ("rolsuper", Bool),
        ("rolinherit", Bool),
        ("rolcreaterole", Bool),
        ("rolcreatedb", Bool),
        ("rolcanlogin", Bool),
        ("rolreplication", Bool),
        ("rolconnlimit", Int64),
        ("rolvaliduntil", DataType::TimestampTz),
        ("rolbypassrls", Bool),
    ];
    let rows = role_oids(schema)
        .into_iter()
        .filter_map(|(oid, name)| {
            let role = schema.roles.get(&name)?;
            Some(vec![
                int(oid),
                text(&name),
                text(&name),
                Value::Bool(role.superuser),
                Value::Bool(true),
                Value::Bool(role.superuser),
                Value::Bool(role.superuser),
                Value::Bool(role.login),
                Value::Bool(false),
                int(-1),
                Value::Null,
                Value::Bool(role.superuser),
            ])
        })
        .collect();
    (columns, rows)
}

/// `pg_index`: each index's oid, its table's, its key columns and kind.
fn indexes(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("indexrelid", Int64),
        ("indrelid", Int64),
        ("indnatts", Int64),
        ("indnkeyatts", Int64),
        ("indisunique", Bool),
        ("indisprimary", Bool),
        ("indisexclusion", Bool),
        ("indimmediate", Bool),
        ("indisclustered", Bool),
        ("indisvalid", Bool),
        ("indcheckxmin", Bool),
        ("indisready", Bool),
        ("indislive", Bool),
        ("indisreplident", Bool),
        ("indnullsnotdistinct", Bool),
        ("indkey", int_array()),
        ("indexprs", Text),
        ("indpred", Text),
    ];
    let rows = oids
        .relations
        .iter()
        .filter_map(|(oid, class)| {
            let index = class.index?;
            let table = oids.table(&index.table)?;
            let n = index.columns.len() as i64;
            Some(vec![
                int(*oid),
                int(table),
                int(n),
                int(n),
                Value::Bool(index.unique),
                Value::Bool(index.primary),
                Value::Bool(false),
                Value::Bool(true),
                // The primary key is the table's own row order.
                Value::Bool(index.primary),
                Value::Bool(true),
                Value::Bool(false),
                Value::Bool(true),
                Value::Bool(true),
                Value::Bool(false),
                Value::Bool(false),
                ints(index.columns.iter().map(|&c| c as i64 + 1)),
                Value::Null,
                Value::Null,
            ])
        })
        .collect();
    (columns, rows)
}

/// The columns of `pg_class` clients read.
fn pg_class_columns() -> Columns {
    use DataType::{Bool, Float32, Int64, Text};
    vec![
        ("oid", Int64),
        ("relname", Text),
        ("relnamespace", Int64),
        ("relkind", Text),
        ("relowner", Int64),
        ("relam", Int64),
        ("reltuples", Float32),
        ("relnatts", Int64),
        ("relchecks", Int64),
        ("relhasindex", Bool),
        ("relhasrules", Bool),
        ("relhastriggers", Bool),
        ("relrowsecurity", Bool),
        ("relforcerowsecurity", Bool),
        ("relpersistence", Text),
        ("relispartition", Bool),
        ("reltablespace", Int64),
        ("reloftype", Int64),
        ("relreplident", Text),
        ("reltoastrelid", Int64),
        ("reloptions", DataType::Array(Box::new(Text))),
        ("relpartbound", Text),
        ("relacl", DataType::Array(Box::new(Text))),
    ]
}

fn classes(oids: &Oids<'_>) -> (Columns, Rows) {
    let columns = pg_class_columns();
    let owners = role_oids(oids.schema);
    let owner_oid = |owner: Option<&str>| {
        // Embedded sessions create relations without an owner; the bootstrap
        // superuser stands in for them.
        let owner = owner.unwrap_or(BOOTSTRAP_SUPERUSER);
        owners.iter().find(|(_, n)| n == owner).map_or(10, |(oid, _)| *oid)
    };
    let rows = oids
        .relations
        .iter()
        .map(|(oid, class)| {
            let table = if class.kind == "r" { class.table } else { None };
            let has_index = table.is_some_and(|t| oids.schema.indexes.values().any(|i| i.table == t.name));
            let am = match class.kind {
                "r" => HEAP_AM,
                "i" => BTREE_AM,
                _ => 0,
            };
            vec![
                int(*oid),
                text(class.name),
                int(PUBLIC_NAMESPACE),
                text(class.kind),
                int(owner_oid(class.owner)),
                int(am),
                Value::Float(-1.0),
                int(class_width(class)),
                int(table.map_or(0, |t| t.checks.len() as i64)),
                Value::Bool(has_index),
                Value::Bool(false),
                // PostgreSQL enforces foreign keys with triggers, and psql
                // lists a table's foreign keys only when it has triggers.
                Value::Bool(table.is_some_and(|t| has_foreign_keys(oids.schema, &t.name))),
                Value::Bool(false),
                Value::Bool(false),
                text("p"),
                Value::Bool(false),
                int(0),
                int(0),
                text("d"),
                int(0),
                Value::Null,
                Value::Null,
                class
                    .acl
                    .and_then(|acl| acl.items(BOOTSTRAP_SUPERUSER))
                    .map_or(Value::Null, |items| Value::Array(items.into_iter().map(Value::Text).collect())),
            ]
        })
        .collect();
    (columns, rows)
}

/// The number of columns `pg_attribute` lists for a relation (views' are
/// not counted, which would mean binding each).
fn class_width(class: &Class<'_>) -> i64 {
    match (class.kind, class.table, class.index) {
        ("r", Some(table), _) => table.columns.len() as i64,
        ("i", _, Some(index)) => index.columns.len() as i64,
        _ => 0,
    }
}

/// Whether table `name` has foreign keys or is referenced by one.
fn has_foreign_keys(schema: &Schema, name: &str) -> bool {
    schema
        .tables
        .values()
        .any(|t| t.foreign_keys.iter().any(|fk| fk.ref_table == name) || (t.name == name && !t.foreign_keys.is_empty()))
}

/// `pg_attribute`: the columns of every table, numbered from 1.
fn attributes(oids: &Oids<'_>, view_columns: bool) -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("attrelid", Int64),
        ("attname", Text),
        ("atttypid", Int64),
        ("attlen", Int64),
        ("attnum", Int64),
        ("atttypmod", Int64),
        ("attndims", Int64),
        ("attnotnull", Bool),
        ("atthasdef", Bool),
        ("attidentity", Text),
        ("attgenerated", Text),
        ("attisdropped", Bool),
        ("attislocal", Bool),
        ("attstattarget", Int64),
        ("attstorage", Text),
        ("attcompression", Text),
        ("attcollation", Int64),
        ("attacl", DataType::Array(Box::new(Text))),
        ("attoptions", DataType::Array(Box::new(Text))),
        ("attfdwoptions", DataType::Array(Box::new(Text))),
    ];
    let mut rows = Vec::new();
    for (oid, class) in &oids.relations {
        if class.kind == "v" && !view_columns {
            continue;
        }
        for (i, column) in class_columns(oids.schema, class).iter().enumerate() {
            let ty = &column.data_type;
            rows.push(vec![
                int(*oid),
                text(&column.name),
                int(i64::from(ty.oid())),
                int(i64::from(ty.fixed_size())),
                int(i as i64 + 1),
                int(i64::from(ty.typmod())),
                int(i64::from(matches!(ty, DataType::Array(_)))),
                Value::Bool(!column.nullable),
                Value::Bool(column.default.is_some()),
                text(""),
                text(""),
                Value::Bool(false),
                Value::Bool(true),
                int(-1),
                text(if ty.fixed_size() > 0 { "p" } else { "x" }),
                text(""),
                int(collation_of(ty)),
                Value::Null,
                Value::Null,
                Value::Null,
            ]);
        }
    }
    (columns, rows)
}

/// The columns `pg_attribute` lists for a relation: a table's, an index's
/// key columns, a view's (by binding its query; a view that no longer
/// binds lists none). Sequences have none here.
fn class_columns(schema: &Schema, class: &Class<'_>) -> Vec<ColumnDef> {
    match (class.kind, class.table, class.index) {
        ("r", Some(table), _) => table.columns.clone(),
        ("i", Some(table), Some(index)) => index
            .columns
            .iter()
            .filter_map(|&c| table.columns.get(c))
            .map(|c| ColumnDef { default: None, ..c.clone() })
            .collect(),
        ("v", _, _) => view_columns(schema, class.name),
        _ => Vec::new(),
    }
}

pub(super) fn view_columns(schema: &Schema, name: &str) -> Vec<ColumnDef> {
    let Some(view) = schema.views.get(name) else { return Vec::new() };
    let Ok(query) = crate::sql::session::parse_single_query(&view.query) else { return Vec::new() };
    let mut binder = crate::sql::binder::Binder::new(schema);
    binder.view_columns = false;
    let Ok(bound) = binder.bind_query(&query) else { return Vec::new() };
    let names = if view.columns.is_empty() { bound.names.clone() } else { view.columns.clone() };
    names
        .into_iter()
        .zip(bound.types())
        .map(|(name, data_type)| ColumnDef { name, data_type, nullable: true, default: None })
        .collect()
}

/// `pg_attrdef`: column defaults, as their SQL text.
fn attribute_defaults(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![("oid", Int64), ("adrelid", Int64), ("adnum", Int64), ("adbin", Text)];
    let mut rows = Vec::new();
    for (oid, class) in &oids.relations {
        let Some(table) = class.table.filter(|_| class.kind == "r") else { continue };
        for (i, column) in table.columns.iter().enumerate() {
            if let Some(default) = &column.default {
                let id = rows.len() as i64 + 1;
                rows.push(vec![int(id), int(*oid), int(i as i64 + 1), text(default)]);
            }
        }
    }
    (columns, rows)
}

/// `pg_constraint`: primary keys, unique constraints, checks and foreign keys.
fn constraints(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("conname", Text),
        ("connamespace", Int64),
        ("contype", Text),
        ("condeferrable", Bool),
        ("condeferred", Bool),
        ("convalidated", Bool),
        ("conrelid", Int64),
        ("contypid", Int64),
        ("conindid", Int64),
        ("conparentid", Int64),
        ("confrelid", Int64),
        ("confupdtype", Text),
        ("confdeltype", Text),
        ("confmatchtype", Text),
        ("conislocal", Bool),
        ("coninhcount", Int64),
        ("connoinherit", Bool),
        ("conkey", int_array()),
        ("confkey", int_array()),
    ];
    let numbers = |positions: &[usize]| ints(positions.iter().map(|&p| p as i64 + 1));
    let rows = oids
        .constraints
        .iter()
        .map(|(oid, constraint)| {
            let table_oid = oids.table(&constraint.table.name).unwrap_or(0);
            let (kind, index, referenced, key, foreign_key) = match &constraint.kind {
                ConstraintKind::Key(index) => {
                    let kind = if index.primary { "p" } else { "u" };
                    (kind, oids.index(index).unwrap_or(0), 0, numbers(&index.columns), Value::Null)
                }
                ConstraintKind::Check(_) => ("c", 0, 0, Value::Null, Value::Null),
                ConstraintKind::ForeignKey(fk) => {
                    let referenced = oids.table(&fk.ref_table).unwrap_or(0);
                    ("f", 0, referenced, numbers(&fk.columns), numbers(&fk.ref_columns))
                }
            };
            let foreign = kind == "f";
            vec![
                int(*oid),
                text(constraint.name),
                int(PUBLIC_NAMESPACE),
                text(kind),
                Value::Bool(false),
                Value::Bool(false),
                Value::Bool(true),
                int(table_oid),
                int(0),
                int(index),
                int(0),
                int(referenced),
                text(if foreign { "a" } else { " " }),
                text(if foreign { "a" } else { " " }),
                text(if foreign { "s" } else { " " }),
                Value::Bool(true),
                int(0),
                Value::Bool(kind == "c"),
                key,
                foreign_key,
            ]
        })
        .collect();
    (columns, rows)
}

/// The collation oid of a column of this type: the default for text, none otherwise.
fn collation_of(ty: &DataType) -> i64 {
    match ty {
        DataType::Array(element) => collation_of(element),
        t if t.is_text() => DEFAULT_COLLATION,
        _ => 0,
    }
}

/// PostgreSQL's `pg_type.typname` of a type (`_int4` for an array of int4).
pub(super) fn type_name(ty: &DataType) -> String {
    match ty {
        DataType::Array(element) => format!("_{}", internal_name(element)),
        other => internal_name(other).to_string(),
    }
}

/// PostgreSQL's `pg_type.typname` of a base type.
fn internal_name(ty: &DataType) -> &'static str {
    match ty {
        DataType::Bool => "bool",
        DataType::Bytea => "bytea",
        DataType::Int64 => "int8",
        DataType::Int16 => "int2",
        DataType::Int32 => "int4",
        DataType::Json => "json",
        DataType::Float32 => "float4",
        DataType::Float64 => "float8",
        DataType::Char(_) => "bpchar",
        DataType::Varchar(_) => "varchar",
        DataType::Date => "date",
        DataType::Time => "time",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamptz",
        DataType::Interval => "interval",
        DataType::Numeric(_) => "numeric",
        DataType::Uuid => "uuid",
        DataType::Jsonb => "jsonb",
        _ => "text",
    }
}

/// `pg_type`: every base type and its array type.
fn types() -> (Columns, Rows) {
    use DataType::{Bool, Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("typname", Text),
        ("typnamespace", Int64),
        ("typowner", Int64),
        ("typlen", Int64),
        ("typbyval", Bool),
        ("typtype", Text),
        ("typcategory", Text),
        ("typisdefined", Bool),
        ("typdelim", Text),
        ("typrelid", Int64),
        ("typelem", Int64),
        ("typarray", Int64),
        ("typnotnull", Bool),
        ("typbasetype", Int64),
        ("typtypmod", Int64),
        ("typndims", Int64),
        ("typcollation", Int64),
    ];
    let mut rows = Vec::new();
    for oid in BASE_TYPE_OIDS {
        let Some(ty) = DataType::from_oid(oid, -1) else { continue };
        let array_oid = i64::from(ty.array_oid());
        let length = i64::from(ty.fixed_size());
        let category = type_category(&ty);
        let row = |oid: i64, name: String, length: i64, category: &str, element: i64, array: i64| {
            vec![
                int(oid),
                Value::Text(name),
                int(CATALOG_NAMESPACE),
                int(10),
                int(length),
                Value::Bool((1..=8).contains(&length)),
                text("b"),
                text(category),
                Value::Bool(true),
                text(","),
                int(0),
                int(element),
                int(array),
                Value::Bool(false),
                int(0),
                int(-1),
                int(0),
                int(collation_of(&ty)),
            ]
        };
        rows.push(row(i64::from(oid), internal_name(&ty).to_string(), length, category, 0, array_oid));
        rows.push(row(array_oid, format!("_{}", internal_name(&ty)), -1, "A", i64::from(oid), 0));
    }
    rows.sort_by_key(|row| match row[0] {
        Value::Int(oid) => oid,
        _ => 0,
    });
    (columns, rows)
}

/// `pg_type.typcategory`.
fn type_category(ty: &DataType) -> &'static str {
    match ty {
        DataType::Bool => "B",
        t if t.is_numeric() => "N",
        t if t.is_text() => "S",
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::TimestampTz => "D",
        DataType::Interval => "T",
        _ => "U",
    }
}

/// `pg_collation`: the default (byte order, as `C`), `C` and `POSIX`.
fn collations() -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("collname", Text),
        ("collnamespace", Int64),
        ("collprovider", Text),
        ("collencoding", Int64),
        ("collcollate", Text),
        ("collctype", Text),
    ];
    let collation = |oid: i64, name: &str, provider: &str, locale: &str| {
        vec![int(oid), text(name), int(CATALOG_NAMESPACE), text(provider), int(-1), text(locale), text(locale)]
    };
    let rows = vec![
        collation(DEFAULT_COLLATION, "default", "d", ""),
        collation(950, "C", "c", "C"),
        collation(951, "POSIX", "c", "POSIX"),
    ];
    (columns, rows)
}

fn policy_columns() -> Columns {
    use DataType::{Bool, Int64, Text};
    vec![
        ("oid", Int64),
        ("polname", Text),
        ("polrelid", Int64),
        ("polcmd", Text),
        ("polpermissive", Bool),
        ("polroles", int_array()),
        ("polqual", Text),
        ("polwithcheck", Text),
    ]
}

fn statistics_columns() -> Columns {
    use DataType::{Int64, Text};
    vec![
        ("oid", Int64),
        ("stxrelid", Int64),
        ("stxname", Text),
        ("stxnamespace", Int64),
        ("stxowner", Int64),
        ("stxstattarget", Int64),
        ("stxkeys", int_array()),
        ("stxkind", DataType::Array(Box::new(Text))),
    ]
}

fn publication_columns() -> Columns {
    use DataType::{Bool, Int64, Text};
    vec![
        ("oid", Int64),
        ("pubname", Text),
        ("pubowner", Int64),
        ("puballtables", Bool),
        ("pubinsert", Bool),
        ("pubupdate", Bool),
        ("pubdelete", Bool),
        ("pubtruncate", Bool),
        ("pubviaroot", Bool),
    ]
}

fn publication_rel_columns() -> Columns {
    use DataType::{Int64, Text};
    vec![("oid", Int64), ("prpubid", Int64), ("prrelid", Int64), ("prqual", Text), ("prattrs", int_array())]
}

fn procedure_columns() -> Columns {
    use DataType::{Bool, Int64, Text};
    vec![
        ("oid", Int64),
        ("proname", Text),
        ("pronamespace", Int64),
        ("proowner", Int64),
        ("prolang", Int64),
        ("prokind", Text),
        ("prosecdef", Bool),
        ("proleakproof", Bool),
        ("proisstrict", Bool),
        ("proretset", Bool),
        ("provolatile", Text),
        ("proparallel", Text),
        ("pronargs", Int64),
        ("pronargdefaults", Int64),
        ("prorettype", Int64),
        ("proargtypes", int_array()),
        ("proallargtypes", int_array()),
        ("proargmodes", DataType::Array(Box::new(Text))),
        ("proargnames", DataType::Array(Box::new(Text))),
        ("prosrc", Text),
        ("proacl", DataType::Array(Box::new(Text))),
    ]
}

fn trigger_columns() -> Columns {
    use DataType::{Bool, Int64, Text};
    vec![
        ("oid", Int64),
        ("tgrelid", Int64),
        ("tgparentid", Int64),
        ("tgname", Text),
        ("tgfoid", Int64),
        ("tgtype", Int64),
        ("tgenabled", Text),
        ("tgisinternal", Bool),
        ("tgconstrrelid", Int64),
        ("tgconstrindid", Int64),
        ("tgconstraint", Int64),
        ("tgdeferrable", Bool),
        ("tginitdeferred", Bool),
        ("tgnargs", Int64),
    ]
}

fn inherits_columns() -> Columns {
    use DataType::{Bool, Int64};
    vec![("inhrelid", Int64), ("inhparent", Int64), ("inhseqno", Int64), ("inhdetachpending", Bool)]
}

/// `pg_sequence`: each sequence's parameters (all sequences are bigint).
fn sequences(oids: &Oids<'_>) -> (Columns, Rows) {
    use DataType::{Bool, Int64};
    let columns = vec![
        ("seqrelid", Int64),
        ("seqtypid", Int64),
        ("seqstart", Int64),
        ("seqincrement", Int64),
        ("seqmax", Int64),
        ("seqmin", Int64),
        ("seqcache", Int64),
        ("seqcycle", Bool),
    ];
    let rows = oids
        .relations
        .iter()
        .filter(|(_, class)| class.kind == "S")
        .filter_map(|(oid, class)| {
            let sequence = oids.schema.sequences.get(class.name)?;
            Some(vec![
                int(*oid),
                int(i64::from(DataType::Int64.oid())),
                int(sequence.start),
                int(sequence.increment),
                int(sequence.max),
                int(sequence.min),
                int(1),
                Value::Bool(sequence.cycle),
            ])
        })
        .collect();
    (columns, rows)
}

fn depend_columns() -> Columns {
    use DataType::{Int64, Text};
    vec![
        ("classid", Int64),
        ("objid", Int64),
        ("objsubid", Int64),
        ("refclassid", Int64),
        ("refobjid", Int64),
        ("refobjsubid", Int64),
        ("deptype", Text),
    ]
}

fn description_columns() -> Columns {
    use DataType::{Int64, Text};
    vec![("objoid", Int64), ("classoid", Int64), ("objsubid", Int64), ("description", Text)]
}
