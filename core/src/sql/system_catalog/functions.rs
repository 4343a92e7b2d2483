//! The catalog functions and `reg*` casts, bound as expressions over one
//! schema snapshot: a function of an oid becomes a CASE over the snapshot's
//! oids (catalogs are small, and the CASE is built once per statement).
//!
//! `::regclass`, `::regtype` and `::regnamespace` have two directions, as
//! clients use them: a number cast to one is shown as the object's name
//! (`conrelid::regclass` prints `orders`), and a string cast to one is
//! looked up as a name, or read as an oid when it is all digits
//! (`'orders'::regclass` and `'32768'::regclass` give the oid, to compare
//! with oid columns). So the cast's type is text in the first case and
//! bigint in the second; there is no separate `regclass` type.

use super::{CATALOG_RELATION_OIDS, ConstraintKind, Oids, column_list, role_oids};
use crate::sql::catalog::Schema;
use crate::sql::exec::{RELATION_BYTES, SizePart, measured_ranges};
use crate::sql::expr::Expr;
use crate::sql::functions::quote_ident;
use crate::sql::ops::BinaryOp;
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

/// The `reg*` types a cast may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegType {
    Class,
    Type,
    Namespace,
}

impl RegType {
    /// The reg type a (lower-case, possibly `pg_catalog.`-qualified) type name denotes.
    pub fn named(name: &str) -> Option<RegType> {
        match name.strip_prefix("pg_catalog.").unwrap_or(name) {
            "regclass" => Some(RegType::Class),
            "regtype" => Some(RegType::Type),
            "regnamespace" => Some(RegType::Namespace),
            _ => None,
        }
    }
}

/// Whether `name` is one of the functions [`bind_function`] binds.
pub fn is_catalog_function(name: &str) -> bool {
    matches!(
        name,
        "pg_get_userbyid"
            | "pg_table_is_visible"
            | "pg_type_is_visible"
            | "pg_encoding_to_char"
            | "pg_get_indexdef"
            | "pg_get_constraintdef"
            | "pg_get_viewdef"
            | "pg_get_expr"
            | "pg_get_triggerdef"
            | "pg_get_statisticsobjdef_columns"
            | "pg_relation_is_publishable"
            | "pg_function_is_visible"
            | "pg_table_size"
            | "pg_relation_size"
            | "pg_indexes_size"
            | "pg_total_relation_size"
            | "pg_get_function_result"
            | "pg_get_function_arguments"
            | "pg_get_function_identity_arguments"
            | "obj_description"
            | "col_description"
            | "shobj_description"
            | "pg_typeof"
    )
}

fn int(n: i64) -> Expr {
    Expr::Literal(Value::Int(n), DataType::Int64)
}

fn text(s: &str) -> Expr {
    Expr::Literal(Value::Text(s.to_string()), DataType::Text)
}

fn null_text() -> Expr {
    Expr::Literal(Value::Null, DataType::Text)
}

fn as_oid(e: Expr) -> Expr {
    if e.ty() == DataType::Int64 { e } else { Expr::Cast { expr: Box::new(e), to: DataType::Int64 } }
}

fn equals(left: &Expr, right: Expr) -> Expr {
    Expr::Binary { op: BinaryOp::Eq, left: Box::new(left.clone()), right: Box::new(right), ty: DataType::Bool }
}

/// `CASE WHEN operand = key THEN value … ELSE otherwise END`.
fn lookup(operand: &Expr, pairs: Vec<(Expr, Expr)>, otherwise: Expr, ty: DataType) -> Expr {
    let branches = pairs.into_iter().map(|(key, value)| (equals(operand, key), value)).collect();
    Expr::Case { operand: None, branches, otherwise: Some(Box::new(otherwise)), ty }
}

fn arity(name: &str, args: &[Expr], least: usize, most: usize) -> Result<()> {
    if (least..=most).contains(&args.len()) {
        Ok(())
    } else {
        Err(Error::sql("42883", format!("function {name} does not take {} arguments", args.len())))
    }
}

/// Binds catalog function `name` (see [`is_catalog_function`]) over `schema`.
pub fn bind_function(name: &str, args: Vec<Expr>, schema: &Schema) -> Result<Expr> {
    let (least, most) = match name {
        "pg_get_indexdef" => (1, 3),
        "pg_get_constraintdef" | "pg_get_viewdef" | "pg_get_triggerdef" => (1, 2),
        "pg_get_expr" => (2, 3),
        "obj_description" | "col_description" | "shobj_description" => (1, 2),
        _ => (1, 1),
    };
    arity(name, &args, least, most)?;
    let mut args = args.into_iter();
    let first = args.next().expect("arity checked");
    Ok(match name {
        "pg_get_userbyid" => user_name(as_oid(first), schema),
        // The argument's type, known when binding (PostgreSQL's result is a
        // regtype, which prints as this name).
        "pg_typeof" => text(&first.ty().sql_name()),
        "pg_encoding_to_char" => {
            lookup(&as_oid(first), vec![(int(super::UTF8_ENCODING), text("UTF8"))], text(""), DataType::Text)
        }
        "pg_get_indexdef" => {
            let column = args.next().map(as_oid);
            index_definition(&Oids::of(schema), &as_oid(first), column)
        }
        "pg_get_constraintdef" => constraint_definition(&Oids::of(schema), &as_oid(first)),
        "pg_table_size" | "pg_relation_size" | "pg_indexes_size" | "pg_total_relation_size" => {
            // Their argument is a regclass: a name converts as `'t'::regclass` does.
            relation_size(name, &to_regclass(first, schema)?, schema)?
        }
        "pg_get_viewdef" => view_definition(&Oids::of(schema), &as_oid(first)),
        // Defaults and checks are stored as their SQL text already.
        "pg_get_expr" => Expr::Cast { expr: Box::new(first), to: DataType::Text },
        "pg_get_triggerdef"
        | "pg_get_statisticsobjdef_columns"
        | "obj_description"
        | "col_description"
        | "shobj_description" => null_text(),
        // `pg_proc` is empty, so no oid names a function: NULL, as
        // PostgreSQL answers for an oid that is not one.
        "pg_get_function_result" | "pg_get_function_arguments" | "pg_get_function_identity_arguments" => null_text(),
        // Every relation and function is visible (one schema) and every table publishable.
        _ => Expr::IsNull { expr: Box::new(first), negated: true },
    })
}

/// A size function as the executor's [`RELATION_BYTES`] of the storage
/// ranges of the relation the oid names (NULL for an oid that names none),
/// resolved now, against the statement's own schema.
fn relation_size(name: &str, oid: &Expr, schema: &Schema) -> Result<Expr> {
    let part = match name {
        "pg_indexes_size" => SizePart::Indexes,
        "pg_total_relation_size" => SizePart::Total,
        _ => SizePart::Main,
    };
    let ranges_type = DataType::Array(Box::new(DataType::Bytea));
    let mut pairs = Vec::new();
    for (id, class) in &Oids::of(schema).relations {
        let ranges = Value::Array(measured_ranges(schema, class.name, part)?);
        pairs.push((int(*id), Expr::Literal(ranges, ranges_type.clone())));
    }
    let none = Expr::Literal(Value::Null, ranges_type.clone());
    let ranges = lookup(oid, pairs, none, ranges_type);
    Ok(Expr::Function { name: RELATION_BYTES.into(), args: vec![ranges], ty: DataType::Int64 })
}

fn user_name(oid: Expr, schema: &Schema) -> Expr {
    let pairs = role_oids(schema).iter().map(|(id, role)| (int(*id), text(role))).collect();
    let unknown = Expr::Function {
        name: "concat".into(),
        args: vec![text("unknown (OID="), oid.clone(), text(")")],
        ty: DataType::Text,
    };
    lookup(&oid, pairs, unknown, DataType::Text)
}

/// `pg_get_indexdef(oid [, column [, pretty]])`: the CREATE INDEX statement,
/// or with a column number above 0 that key column's name.
fn index_definition(oids: &Oids<'_>, oid: &Expr, column: Option<Expr>) -> Expr {
    let mut definitions = Vec::new();
    let mut columns = Vec::new();
    for (index_oid, class) in &oids.relations {
        let (Some(index), Some(table)) = (class.index, class.table) else { continue };
        let unique = if index.unique { "UNIQUE " } else { "" };
        let sql = format!(
            "CREATE {unique}INDEX {} ON public.{} USING btree ({})",
            quote_ident(&index.name),
            quote_ident(&table.name),
            column_list(table, &index.columns)
        );
        definitions.push((int(*index_oid), text(&sql)));
        for (k, &c) in index.columns.iter().enumerate() {
            let name = table.columns.get(c).map(|c| quote_ident(&c.name)).unwrap_or_default();
            columns.push((*index_oid, k as i64 + 1, name));
        }
    }
    let whole = lookup(oid, definitions, null_text(), DataType::Text);
    let Some(column) = column else { return whole };
    let branches = columns
        .into_iter()
        .map(|(index_oid, k, name)| {
            (Expr::And(Box::new(equals(oid, int(index_oid))), Box::new(equals(&column, int(k)))), text(&name))
        })
        .collect();
    let key_column = Expr::Case { operand: None, branches, otherwise: Some(Box::new(null_text())), ty: DataType::Text };
    Expr::Case {
        operand: None,
        branches: vec![(equals(&column, int(0)), whole)],
        otherwise: Some(Box::new(key_column)),
        ty: DataType::Text,
    }
}

/// `pg_get_constraintdef(oid [, pretty])`: `PRIMARY KEY (id)`, `CHECK (…)` ….
fn constraint_definition(oids: &Oids<'_>, oid: &Expr) -> Expr {
    let pairs = oids
        .constraints
        .iter()
        .map(|(constraint_oid, constraint)| {
            let table = constraint.table;
            let sql = match &constraint.kind {
                ConstraintKind::Key(index) if index.primary => {
                    format!("PRIMARY KEY ({})", column_list(table, &index.columns))
                }
                ConstraintKind::Key(index) => format!("UNIQUE ({})", column_list(table, &index.columns)),
                ConstraintKind::Check(expr) => format!("CHECK ({expr})"),
                ConstraintKind::ForeignKey(fk) => {
                    let referenced = oids.schema.tables.get(&fk.ref_table);
                    let ref_columns = referenced.map(|t| column_list(t, &fk.ref_columns)).unwrap_or_default();
                    format!(
                        "FOREIGN KEY ({}) REFERENCES {}({ref_columns})",
                        column_list(table, &fk.columns),
                        quote_ident(&fk.ref_table)
                    )
                }
            };
            (int(*constraint_oid), text(&sql))
        })
        .collect();
    lookup(oid, pairs, null_text(), DataType::Text)
}

/// `pg_get_viewdef(oid [, pretty])`: the view's query.
fn view_definition(oids: &Oids<'_>, oid: &Expr) -> Expr {
    let pairs = oids
        .relations
        .iter()
        .filter(|(_, class)| class.kind == "v")
        .filter_map(|(view_oid, class)| Some((int(*view_oid), text(&oids.schema.views.get(class.name)?.query))))
        .collect();
    lookup(oid, pairs, null_text(), DataType::Text)
}

/// `expr::regclass` (and `regtype`, `regnamespace`); see the module docs
/// for the two directions.
pub fn reg_cast(kind: RegType, expr: Expr, schema: &Schema) -> Result<Expr> {
    if expr.ty().is_integer() {
        return Ok(name_of(kind, as_oid(expr), schema));
    }
    match kind {
        RegType::Class => to_regclass(expr, schema),
        RegType::Namespace => {
            let pairs = vec![
                (text("pg_catalog"), int(super::CATALOG_NAMESPACE)),
                (text("public"), int(super::PUBLIC_NAMESPACE)),
            ];
            by_name(expr, pairs, "3F000", "schema")
        }
        RegType::Type => {
            let Expr::Literal(Value::Text(name), _) = &expr else {
                return Err(Error::NotSupported("casting a non-constant string to regtype".into()));
            };
            let ty = crate::sql::binder::type_named(&name.trim().to_lowercase())?;
            Ok(int(i64::from(ty.oid())))
        }
    }
}

/// The oid a string names as a relation (a number is taken as the oid).
pub fn to_regclass(expr: Expr, schema: &Schema) -> Result<Expr> {
    if expr.ty().is_integer() {
        return Ok(as_oid(expr));
    }
    let oids = Oids::of(schema);
    let mut pairs: Vec<(Expr, Expr)> =
        oids.relations.iter().map(|(oid, class)| (text(class.name), int(*oid))).collect();
    for (name, oid) in CATALOG_RELATION_OIDS {
        if !oids.relations.iter().any(|(_, class)| class.name == name) {
            pairs.push((text(&format!("pg_catalog.{name}")), int(oid)));
            pairs.push((text(name), int(oid)));
        }
    }
    by_name(expr, pairs, "42P01", "relation")
}

/// A string as an oid: digits are the oid itself; a constant name is
/// resolved now (an unknown one is error `code`, as in PostgreSQL); any
/// other expression is looked up per row (NULL when nothing has that name).
fn by_name(expr: Expr, pairs: Vec<(Expr, Expr)>, code: &'static str, what: &str) -> Result<Expr> {
    if let Expr::Literal(Value::Text(name), _) = &expr {
        if let Ok(oid) = name.trim().parse::<i64>() {
            return Ok(int(oid));
        }
        let wanted = name.strip_prefix("public.").unwrap_or(name).trim_matches('"');
        let catalog_name = name.trim().to_lowercase();
        let found = pairs
            .iter()
            .find(|(key, _)| matches!(key, Expr::Literal(Value::Text(k), _) if *k == wanted || *k == catalog_name));
        return match found {
            Some((_, oid)) => Ok(oid.clone()),
            None => Err(Error::sql(code, format!("{what} \"{name}\" does not exist"))),
        };
    }
    let operand = Expr::Cast { expr: Box::new(expr), to: DataType::Text };
    Ok(lookup(&operand, pairs, Expr::Literal(Value::Null, DataType::Int64), DataType::Int64))
}

/// An oid shown as a name: the relation's, the type's or the schema's; the
/// number itself when nothing has that oid (as PostgreSQL prints it).
fn name_of(kind: RegType, oid: Expr, schema: &Schema) -> Expr {
    let unknown = Expr::Cast { expr: Box::new(oid.clone()), to: DataType::Text };
    match kind {
        RegType::Class => {
            let oids = Oids::of(schema);
            let pairs = oids.relations.iter().map(|(id, class)| (int(*id), text(&quote_ident(class.name)))).collect();
            lookup(&oid, pairs, unknown, DataType::Text)
        }
        RegType::Namespace => lookup(
            &oid,
            vec![(int(super::CATALOG_NAMESPACE), text("pg_catalog")), (int(super::PUBLIC_NAMESPACE), text("public"))],
            unknown,
            DataType::Text,
        ),
        RegType::Type => Expr::Function {
            name: "format_type".into(),
            args: vec![oid, Expr::Literal(Value::Null, DataType::Int64)],
            ty: DataType::Text,
        },
    }
}
