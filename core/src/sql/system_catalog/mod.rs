//! The `pg_catalog` relations and functions clients read to see what a
//! database holds: psql's `\d TABLE`, `\dt`, `\dv`, `\di`, `\ds`, `\dn`, `\df`,
//! `\l` (and their `+` forms, with sizes) and drivers' introspection.
//!
//! They are not stored: each is built from the [`Schema`] when a statement
//! names it, as literal rows (a `Values` plan), so they are always exactly as
//! current as the statement's catalog snapshot. Only the columns clients
//! read exist; a query for another column fails with 42703 as for any table.
//!
//! Object ids are made up consistently within one schema snapshot
//! ([`Oids`]): the bootstrap superuser is 10 (as in PostgreSQL), other roles
//! 16384 onwards, relations 32768 onwards in name order, constraints
//! 1,000,000 onwards; types, namespaces and collations have PostgreSQL's own
//! oids. Oids are not stable across DDL, which is enough for the
//! join-by-oid queries clients send in one go.
//!
//! There is one schema, `public` (oid 2200), plus `pg_catalog` (11); these
//! relations themselves are not listed in `pg_class`. They shadow user
//! tables of the same names, as `pg_catalog` comes first on PostgreSQL's
//! search path. Features RustyDB does not have (policies, triggers,
//! user-defined functions, publications, inheritance, extended statistics)
//! have their relations, always empty, so clients' queries about them bind
//! and find nothing.
//!
//! The SQL-standard `information_schema` views are built the same way
//! (`information_schema.rs`).
//!
//! `relations.rs` builds the rows; `functions.rs` binds the catalog
//! functions (`pg_get_indexdef`, `format_type`'s neighbours, `::regclass` …).

mod functions;
pub mod information_schema;
mod relations;

pub use functions::{RegType, bind_function, is_catalog_function, reg_cast, to_regclass};

use crate::sql::catalog::{IndexDef, Schema, TableDef};
use crate::sql::expr::Expr;
use crate::sql::functions::quote_ident;
use crate::sql::plan::Plan;
use crate::sql::privileges::Acl;
use crate::sql::roles::BOOTSTRAP_SUPERUSER;
use crate::sql::value::DataType;

/// `pg_namespace.oid` of `public`, where every relation lives.
pub const PUBLIC_NAMESPACE: i64 = 2200;
const CATALOG_NAMESPACE: i64 = 11;
const FIRST_ROLE_OID: i64 = 16_384;
const FIRST_RELATION_OID: i64 = 32_768;
const FIRST_CONSTRAINT_OID: i64 = 1_000_000;
/// `pg_am` oids of the two access methods listed.
const HEAP_AM: i64 = 2;
const BTREE_AM: i64 = 403;
/// PostgreSQL's number for UTF8 (`pg_encoding_to_char(6)`).
pub const UTF8_ENCODING: i64 = 6;
/// `pg_collation` oid of the database's default collation.
const DEFAULT_COLLATION: i64 = 100;

/// PostgreSQL's oids of the catalog relations clients name in
/// `'pg_catalog.pg_class'::regclass` (to filter `pg_depend` and
/// `pg_description` by catalog).
const CATALOG_RELATION_OIDS: [(&str, i64); 8] = [
    ("pg_type", 1247),
    ("pg_attribute", 1249),
    ("pg_proc", 1255),
    ("pg_class", 1259),
    ("pg_constraint", 2606),
    ("pg_index", 2610),
    ("pg_namespace", 2615),
    ("pg_database", 1262),
];

/// The relation `name` of `pg_catalog`, if it is one: its plan and column
/// names. `view_columns`: whether `pg_attribute` lists views' columns.
pub fn relation(name: &str, schema: &Schema, view_columns: bool) -> Option<(Plan, Vec<String>)> {
    let (columns, rows) = relations::build(name, schema, view_columns)?;
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

/// One row of `pg_class`.
struct Class<'a> {
    name: &'a str,
    /// `r` table, `v` view, `i` index, `S` sequence.
    kind: &'static str,
    owner: Option<&'a str>,
    acl: Option<&'a Acl>,
    table: Option<&'a TableDef>,
    index: Option<&'a IndexDef>,
}

/// What a constraint is, for `pg_constraint` and `pg_get_constraintdef`.
enum ConstraintKind<'a> {
    /// `p` or `u`, enforced by this index.
    Key(&'a IndexDef),
    Check(&'a str),
    ForeignKey(&'a crate::sql::catalog::ForeignKeyDef),
}

/// One row of `pg_constraint`.
struct Constraint<'a> {
    name: &'a str,
    table: &'a TableDef,
    kind: ConstraintKind<'a>,
}

/// The oids of one schema snapshot: every relation and constraint, in oid order.
struct Oids<'a> {
    schema: &'a Schema,
    relations: Vec<(i64, Class<'a>)>,
    constraints: Vec<(i64, Constraint<'a>)>,
}

impl<'a> Oids<'a> {
    fn of(schema: &'a Schema) -> Oids<'a> {
        let mut all: Vec<Class<'a>> = Vec::new();
        for (name, table) in &schema.tables {
            let owner = table.acl.owner.as_deref();
            all.push(Class { name, kind: "r", owner, acl: Some(&table.acl), table: Some(table), index: None });
        }
        for (name, view) in &schema.views {
            let owner = view.acl.owner.as_deref();
            all.push(Class { name, kind: "v", owner, acl: Some(&view.acl), table: None, index: None });
        }
        for (name, index) in &schema.indexes {
            let table = schema.tables.get(&index.table).map(|t| &**t);
            let owner = table.and_then(|t| t.acl.owner.as_deref());
            all.push(Class { name, kind: "i", owner, acl: None, table, index: Some(index) });
        }
        for name in schema.sequences.keys() {
            all.push(Class { name, kind: "S", owner: None, acl: None, table: None, index: None });
        }
        all.sort_by(|a, b| a.name.cmp(b.name).then(a.kind.cmp(b.kind)));
        let relations = (FIRST_RELATION_OID..).zip(all).collect();
        let mut constraints = Vec::new();
        for table in schema.tables.values() {
            for index in schema.indexes.values().filter(|i| i.table == table.name && i.constraint) {
                constraints.push(Constraint { name: &index.name, table, kind: ConstraintKind::Key(index) });
            }
            for check in &table.checks {
                constraints.push(Constraint { name: &check.name, table, kind: ConstraintKind::Check(&check.expr) });
            }
            for fk in &table.foreign_keys {
                constraints.push(Constraint { name: &fk.name, table, kind: ConstraintKind::ForeignKey(fk) });
            }
        }
        let constraints = (FIRST_CONSTRAINT_OID..).zip(constraints).collect();
        Oids { schema, relations, constraints }
    }

    /// The oid of relation `name` of kind `kind` (relations are in
    /// (name, kind) order, so a binary search finds it).
    fn relation(&self, name: &str, kind: &str) -> Option<i64> {
        let at = self.relations.binary_search_by(|(_, c)| c.name.cmp(name).then(c.kind.cmp(kind))).ok()?;
        Some(self.relations[at].0)
    }

    /// The oid of table `name`.
    fn table(&self, name: &str) -> Option<i64> {
        self.relation(name, "r")
    }

    /// The oid of the index enforcing a key constraint.
    fn index(&self, index: &IndexDef) -> Option<i64> {
        self.relation(&index.name, "i")
    }
}

/// Column names of `table` at `positions`, joined with ", ".
fn column_list(table: &TableDef, positions: &[usize]) -> String {
    let names: Vec<String> =
        positions.iter().filter_map(|&i| table.columns.get(i)).map(|c| quote_ident(&c.name)).collect();
    names.join(", ")
}
