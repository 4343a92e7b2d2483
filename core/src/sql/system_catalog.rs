//! The `pg_catalog` relations clients read to list what a database holds:
//! psql's `\dt`, `\dv`, `\di`, `\ds`, `\dn`, `\l` and drivers' introspection.
//!
//! They are not stored: each is built from the [`Schema`] when a statement
//! names it, as literal rows (a `Values` plan), so they are always exactly as
//! current as the statement's catalog snapshot. Only the columns those
//! queries read exist; a query for another column fails with 42703 as for
//! any table.
//!
//! Object ids are made up consistently within one schema snapshot: the
//! bootstrap superuser is 10 (as in PostgreSQL), other roles 16384 onwards,
//! relations 32768 onwards, in name order. They are not stable across DDL,
//! which is enough for the join-by-oid queries clients send in one go.
//!
//! There is one schema, `public` (oid 2200), plus `pg_catalog` (11); these
//! relations themselves are not listed in `pg_class`. The relations are
//! `pg_class`, `pg_namespace`, `pg_index`, `pg_am`, `pg_database` and
//! `pg_roles` (also as `pg_user`); they shadow user tables of those names, as
//! `pg_catalog` comes first on PostgreSQL's search path.

use crate::sql::catalog::Schema;
use crate::sql::expr::Expr;
use crate::sql::ops::BinaryOp;
use crate::sql::plan::Plan;
use crate::sql::roles::BOOTSTRAP_SUPERUSER;
use crate::sql::value::{DataType, Value};

/// `pg_namespace.oid` of `public`, where every relation lives.
pub const PUBLIC_NAMESPACE: i64 = 2200;
const CATALOG_NAMESPACE: i64 = 11;
const FIRST_ROLE_OID: i64 = 16_384;
const FIRST_RELATION_OID: i64 = 32_768;
/// `pg_am` oids of the two access methods listed.
const HEAP_AM: i64 = 2;
const BTREE_AM: i64 = 403;
/// PostgreSQL's number for UTF8 (`pg_encoding_to_char(6)`).
pub const UTF8_ENCODING: i64 = 6;

/// The relation `name` of `pg_catalog`, if it is one: its plan and column names.
pub fn relation(name: &str, schema: &Schema) -> Option<(Plan, Vec<String>)> {
    let (columns, rows) = match name {
        "pg_namespace" => namespaces(),
        "pg_class" => classes(schema),
        "pg_am" => access_methods(),
        "pg_database" => databases(),
        "pg_roles" | "pg_user" => roles(schema),
        "pg_index" => indexes(schema),
        _ => return None,
    };
    let names = columns.iter().map(|(n, _)| (*n).to_string()).collect();
    let types: Vec<DataType> = columns.iter().map(|(_, t)| t.clone()).collect();
    let rows = rows
        .into_iter()
        .map(|row| row.into_iter().zip(&types).map(|(v, t)| Expr::Literal(v, t.clone())).collect())
        .collect();
    Some((Plan::Values { rows, types }, names))
}

/// The role names with their oids, for `pg_get_userbyid`.
pub fn role_oids(schema: &Schema) -> Vec<(i64, String)> {
    let mut next = FIRST_ROLE_OID;
    let mut out = Vec::with_capacity(schema.roles.len());
    for name in schema.roles.keys() {
        if name == BOOTSTRAP_SUPERUSER {
            out.push((10, name.clone()));
        } else {
            out.push((next, name.clone()));
            next += 1;
        }
    }
    out
}

type Columns = Vec<(&'static str, DataType)>;
type Rows = Vec<Vec<Value>>;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn namespaces() -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![("oid", Int64), ("nspname", Text), ("nspowner", Int64)];
    let rows = vec![
        vec![Value::Int(CATALOG_NAMESPACE), text("pg_catalog"), Value::Int(10)],
        vec![Value::Int(PUBLIC_NAMESPACE), text("public"), Value::Int(10)],
    ];
    (columns, rows)
}

fn access_methods() -> (Columns, Rows) {
    use DataType::{Int64, Text};
    let columns = vec![("oid", Int64), ("amname", Text), ("amtype", Text)];
    let rows =
        vec![vec![Value::Int(HEAP_AM), text("heap"), text("t")], vec![Value::Int(BTREE_AM), text("btree"), text("i")]];
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
        Value::Int(16_384),
        text("rustydb"),
        Value::Int(10),
        Value::Int(UTF8_ENCODING),
        text("C"),
        text("C"),
        Value::Null,
        text("c"),
        Value::Bool(false),
        Value::Bool(true),
        Value::Int(-1),
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
                Value::Int(oid),
                text(&name),
                text(&name),
                Value::Bool(role.superuser),
                Value::Bool(true),
                Value::Bool(role.superuser),
                Value::Bool(role.superuser),
                Value::Bool(role.login),
                Value::Bool(false),
                Value::Int(-1),
                Value::Null,
                Value::Bool(role.superuser),
            ])
        })
        .collect();
    (columns, rows)
}

/// One row of `pg_class`: (name, kind, owner, access method, has indexes).
struct Class<'a> {
    name: &'a str,
    kind: &'static str,
    owner: Option<&'a str>,
    am: i64,
    has_index: bool,
}

/// Every relation of `pg_class` with its oid, in oid order.
fn relations(schema: &Schema) -> Vec<(i64, Class<'_>)> {
    let mut all: Vec<Class<'_>> = Vec::new();
    for (name, table) in &schema.tables {
        let has_index = schema.indexes.values().any(|i| i.table == *name);
        all.push(Class { name, kind: "r", owner: table.acl.owner.as_deref(), am: HEAP_AM, has_index });
    }
    for (name, view) in &schema.views {
        all.push(Class { name, kind: "v", owner: view.acl.owner.as_deref(), am: 0, has_index: false });
    }
    for (name, index) in &schema.indexes {
        let owner = schema.tables.get(&index.table).and_then(|t| t.acl.owner.as_deref());
        all.push(Class { name, kind: "i", owner, am: BTREE_AM, has_index: false });
    }
    for name in schema.sequences.keys() {
        all.push(Class { name, kind: "S", owner: None, am: 0, has_index: false });
    }
    all.sort_by(|a, b| a.name.cmp(b.name).then(a.kind.cmp(b.kind)));
    (FIRST_RELATION_OID..).zip(all).collect()
}

/// `pg_index`: each index's oid, its table's, and what kind it is.
fn indexes(schema: &Schema) -> (Columns, Rows) {
    use DataType::{Bool, Int64};
    let columns = vec![
        ("indexrelid", Int64),
        ("indrelid", Int64),
        ("indnatts", Int64),
        ("indisunique", Bool),
        ("indisprimary", Bool),
        ("indisclustered", Bool),
        ("indisvalid", Bool),
    ];
    let all = relations(schema);
    let oid_of =
        |name: &str, kind: &str| all.iter().find(|(_, c)| c.name == name && c.kind == kind).map(|(oid, _)| *oid);
    let rows = schema
        .indexes
        .values()
        .filter_map(|index| {
            Some(vec![
                Value::Int(oid_of(&index.name, "i")?),
                Value::Int(oid_of(&index.table, "r")?),
                Value::Int(index.columns.len() as i64),
                Value::Bool(index.unique),
                Value::Bool(index.primary),
                // The primary key is the table's own row order.
                Value::Bool(index.primary),
                Value::Bool(true),
            ])
        })
        .collect();
    (columns, rows)
}

fn classes(schema: &Schema) -> (Columns, Rows) {
    use DataType::{Bool, Float32, Int64, Text};
    let columns = vec![
        ("oid", Int64),
        ("relname", Text),
        ("relnamespace", Int64),
        ("relkind", Text),
        ("relowner", Int64),
        ("relam", Int64),
        ("reltuples", Float32),
        ("relhasindex", Bool),
        ("relpersistence", Text),
        ("relispartition", Bool),
    ];
    let owners = role_oids(schema);
    let owner_oid = |owner: Option<&str>| {
        // Embedded sessions create relations without an owner; the bootstrap
        // superuser stands in for them.
        let owner = owner.unwrap_or(BOOTSTRAP_SUPERUSER);
        owners.iter().find(|(_, n)| n == owner).map_or(10, |(oid, _)| *oid)
    };
    let rows = relations(schema)
        .into_iter()
        .map(|(oid, class)| {
            vec![
                Value::Int(oid),
                text(class.name),
                Value::Int(PUBLIC_NAMESPACE),
                text(class.kind),
                Value::Int(owner_oid(class.owner)),
                Value::Int(class.am),
                Value::Float(-1.0),
                Value::Bool(class.has_index),
                text("p"),
                Value::Bool(false),
            ]
        })
        .collect();
    (columns, rows)
}

/// The catalog information functions, as expressions over their argument:
/// `pg_get_userbyid(oid)` (a role's name, `unknown (OID=n)` for no role),
/// `pg_table_is_visible(oid)` (every relation is, in the one schema) and
/// `pg_encoding_to_char(n)`.
pub fn bind_function(name: &str, args: Vec<Expr>, schema: &Schema) -> crate::Result<Expr> {
    let [arg] = <[Expr; 1]>::try_from(args).map_err(|args| {
        crate::Error::sql("42883", format!("function {name} takes one argument, not {}", args.len()))
    })?;
    let int = |n: i64| Expr::Literal(Value::Int(n), DataType::Int64);
    let text_literal = |s: &str| Expr::Literal(text(s), DataType::Text);
    let operand = Expr::Cast { expr: Box::new(arg), to: DataType::Int64 };
    let equals = |n: i64| Expr::Binary {
        op: BinaryOp::Eq,
        left: Box::new(operand.clone()),
        right: Box::new(int(n)),
        ty: DataType::Bool,
    };
    Ok(match name {
        "pg_get_userbyid" => {
            let branches = role_oids(schema).iter().map(|(oid, role)| (equals(*oid), text_literal(role))).collect();
            let unknown = Expr::Function {
                name: "concat".into(),
                args: vec![text_literal("unknown (OID="), operand.clone(), text_literal(")")],
                ty: DataType::Text,
            };
            Expr::Case { operand: None, branches, otherwise: Some(Box::new(unknown)), ty: DataType::Text }
        }
        "pg_encoding_to_char" => Expr::Case {
            operand: None,
            branches: vec![(equals(UTF8_ENCODING), text_literal("UTF8"))],
            otherwise: Some(Box::new(text_literal(""))),
            ty: DataType::Text,
        },
        _ => Expr::IsNull { expr: Box::new(operand), negated: true },
    })
}
