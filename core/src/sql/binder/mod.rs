//! The binder: turns parsed SQL into typed [`Expr`]s and [`Plan`]s.
//!
//! It resolves every name against the [`Schema`] and the scopes of the query
//! being bound (and of enclosing queries, for correlated subqueries), types
//! every expression and inserts the casts PostgreSQL's rules imply, and
//! builds the logical plan of a query: FROM, WHERE, GROUP BY / aggregates,
//! HAVING, windows, projection, DISTINCT, ORDER BY, LIMIT, set operations
//! and CTEs. Physical choices are left to the planner.
//!
//! Split by concern: `scope.rs` (names), `types.rs` (type names, literals),
//! `expr.rs` (expressions), `query.rs` (queries), `aggregate.rs`
//! (aggregate and window calls).

mod aggregate;
mod expr;
mod query;
pub mod scope;
pub mod types;

use std::collections::BTreeMap;

use sqlparser::ast;

use crate::sql::catalog::Schema;
use crate::sql::plan::Plan;
use crate::sql::value::DataType;
use crate::{Error, Result};

pub use aggregate::{AggContext, WindowContext};
pub use scope::{Scope, ScopeColumn};
pub use types::type_named;

/// A bound query: its plan and the names of its output columns.
#[derive(Debug, Clone)]
pub struct BoundQuery {
    pub plan: Plan,
    pub names: Vec<String>,
}

impl BoundQuery {
    pub fn types(&self) -> Vec<DataType> {
        self.plan.output_types()
    }
}

/// A CTE visible by name while binding.
#[derive(Debug, Clone)]
struct CteBinding {
    query: BoundQuery,
}

/// Binds one statement.
pub struct Binder<'a> {
    pub schema: &'a Schema,
    /// Scopes of enclosing queries, innermost last.
    outer: Vec<Scope>,
    ctes: Vec<BTreeMap<String, CteBinding>>,
    /// Inferred types of `$n` parameters (Unknown until something constrains them).
    pub params: Vec<DataType>,
    agg: Option<AggContext>,
    window: Option<WindowContext>,
    /// How many outer references have been bound so far; a subquery that
    /// adds some is correlated.
    outer_refs: usize,
    next_id: usize,
    depth: usize,
    /// Whether `pg_attribute` lists views' columns (found by binding each
    /// view); off in the binder that does that, so it cannot recurse.
    pub view_columns: bool,
}

/// How deep views, subqueries and CTEs may nest.
const MAX_DEPTH: usize = 64;

impl<'a> Binder<'a> {
    pub fn new(schema: &'a Schema) -> Binder<'a> {
        Binder {
            schema,
            outer: Vec::new(),
            ctes: Vec::new(),
            params: Vec::new(),
            agg: None,
            window: None,
            outer_refs: 0,
            next_id: 0,
            depth: 0,
            view_columns: true,
        }
    }

    /// Parses a stored expression (a DEFAULT or CHECK).
    pub fn parse_expr(sql: &str) -> Result<ast::Expr> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| Error::sql("42601", format!("syntax error in stored expression {sql}: {e}")))
    }

    /// Parameter types as given by the client (a prepared statement's declared types).
    pub fn with_params(mut self, params: Vec<DataType>) -> Self {
        self.params = params;
        self
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::sql("54001", "statement nests subqueries or views too deeply"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn fresh_id(&mut self) -> usize {
        self.next_id += 1;
        self.next_id
    }

    /// Records that `$index+1` is used with type `ty` (the first constraint wins).
    fn note_param(&mut self, index: usize, ty: &DataType) {
        if self.params.len() <= index {
            self.params.resize(index + 1, DataType::Unknown);
        }
        if self.params[index] == DataType::Unknown && *ty != DataType::Unknown {
            self.params[index] = ty.clone();
        }
    }

    /// The final type of `$index+1` (text when nothing constrained it).
    pub fn param_type(&self, index: usize) -> DataType {
        match self.params.get(index) {
            Some(DataType::Unknown) | None => DataType::Text,
            Some(ty) => ty.clone(),
        }
    }
}

/// A lowercased identifier unless it was quoted, as PostgreSQL folds names.
pub fn ident_name(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_lowercase() }
}

/// The last part of an object name (schemas are ignored: one namespace),
/// or the whole of an `information_schema` name.
pub fn object_name(name: &ast::ObjectName) -> Result<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|part| match part {
            ast::ObjectNamePart::Identifier(ident) => Ok(ident_name(ident)),
            other => Err(Error::NotSupported(format!("object name {other}"))),
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [schema, name] if schema == "public" || schema == "pg_catalog" => Ok(name.clone()),
        // Off the search path: only its qualified names reach its views.
        [schema, name] if schema == "information_schema" => {
            Ok(format!("{}{name}", crate::sql::system_catalog::information_schema::PREFIX))
        }
        _ => Err(Error::sql("3F000", format!("schema of \"{name}\" does not exist"))),
    }
}
