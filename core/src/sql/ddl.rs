//! DDL: CREATE/DROP/ALTER of tables, indexes, views and sequences,
//! TRUNCATE, and ANALYZE; role statements and GRANT/REVOKE are passed on
//! to [`roles`] and [`privileges`].
//!
//! Catalog rows are written in the statement's transaction, so DDL commits
//! and rolls back like any other change. Dropping or truncating a table
//! deletes its rows (and index entries) in the same transaction, leaving
//! vacuum to reclaim the space; a storage table itself is never removed.

use std::sync::Arc;

use sqlparser::ast;

use crate::sql::binder::{Binder, Scope, ident_name, object_name, types};
use crate::sql::catalog::{CheckDef, ColumnDef, ForeignKeyDef, IndexDef, Schema, SequenceDef, TableDef, ViewDef};
use crate::sql::dml::delete_row;
use crate::sql::exec::{self, ExecContext, index_entry_key};
use crate::sql::plan::{Access, Plan};
use crate::sql::privileges::{self, Acl};
use crate::sql::roles;
use crate::sql::row::{decode_row, encode_row};
use crate::sql::session::QueryResult;
use crate::sql::stats::{StatsBuilder, TableStats};
use crate::sql::value::{DataType, Value};
use crate::txn::LockMode;
use crate::{Error, Result};

/// Runs a DDL (or otherwise catalog-changing) statement.
pub async fn execute(statement: &ast::Statement, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    match statement {
        ast::Statement::CreateTable(create) => create_table(create, schema, ctx).await,
        ast::Statement::CreateIndex(create) => create_index(create, schema, ctx).await,
        ast::Statement::CreateView(create) => create_view(create, schema, ctx).await,
        ast::Statement::CreateSequence { if_not_exists, name, sequence_options, .. } => {
            create_sequence(object_name(name)?, *if_not_exists, sequence_options, None, schema, ctx).await
        }
        ast::Statement::CreateRole(create) => roles::create_role(create, schema, ctx).await,
        ast::Statement::AlterRole { name, operation } => roles::alter_role(name, operation, schema, ctx).await,
        ast::Statement::Drop {
            object_type: ast::ObjectType::Role | ast::ObjectType::User, if_exists, names, ..
        } => roles::drop_roles(*if_exists, names, schema, ctx).await,
        ast::Statement::Grant(grant) => privileges::grant(grant, schema, ctx).await,
        ast::Statement::Revoke(revoke) => privileges::revoke(revoke, schema, ctx).await,
        ast::Statement::Drop { object_type, if_exists, names, cascade, .. } => {
            drop_objects(*object_type, *if_exists, names, *cascade, schema, ctx).await
        }
        ast::Statement::Truncate(truncate) => {
            for target in &truncate.table_names {
                let table = existing_table(schema, &object_name(&target.name)?)?;
                if let Some(child) = schema
                    .tables
                    .values()
                    .find(|t| t.name != table.name && t.foreign_keys.iter().any(|fk| fk.ref_table == table.name))
                {
                    return Err(Error::sql(
                        "0A000",
                        format!(
                            "cannot truncate a table referenced in a foreign key constraint (table \"{}\" references \"{}\")",
                            child.name, table.name
                        ),
                    ));
                }
                delete_all_rows(&table, schema, ctx).await?;
            }
            Ok(QueryResult::command("TRUNCATE TABLE"))
        }
        ast::Statement::AlterTable(alter) => alter_table(alter, schema, ctx).await,
        other => Err(Error::NotSupported(format!("statement: {}", statement_kind(other)))),
    }
}

fn statement_kind(statement: &ast::Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn existing_table(schema: &Schema, name: &str) -> Result<Arc<TableDef>> {
    schema.table(name).cloned().ok_or_else(|| Error::sql("42P01", format!("relation \"{name}\" does not exist")))
}

/// Fails if any kind of relation already has `name` (one namespace, as pg_class).
fn ensure_free(schema: &Schema, name: &str) -> Result<()> {
    if schema.tables.contains_key(name)
        || schema.views.contains_key(name)
        || schema.indexes.contains_key(name)
        || schema.sequences.contains_key(name)
    {
        return Err(Error::sql("42P07", format!("relation \"{name}\" already exists")));
    }
    Ok(())
}

async fn new_object_id(ctx: &ExecContext) -> Result<u64> {
    Ok(ctx.db.sequences.next("sql.object_id").await? as u64)
}

async fn create_table(create: &ast::CreateTable, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    let name = object_name(&create.name)?;
    if create.if_not_exists && (schema.tables.contains_key(&name) || schema.views.contains_key(&name)) {
        return Ok(QueryResult::command("CREATE TABLE"));
    }
    ensure_free(schema, &name)?;
    if let Some(query) = &create.query {
        return create_table_as(create, name, query, schema, ctx).await;
    }
    check_storage_options(&create.table_options)?;
    let id = new_object_id(ctx).await?;
    let mut def = empty_table(id, name.clone(), ctx);
    let mut uniques: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    let mut serials = Vec::new();
    for column in &create.columns {
        add_column(&mut def, column, &mut uniques, &mut serials, schema)?;
    }
    for constraint in &create.constraints {
        add_table_constraint(&mut def, constraint, &mut uniques, schema)?;
    }
    for &c in &def.primary_key {
        def.columns[c].nullable = false;
    }
    for (column, seq) in serials {
        create_sequence(seq.clone(), false, &[], Some(format!("{name}.{column}")), schema, ctx).await?;
    }
    ctx.db.catalog.attach_table(&mut def);
    ctx.db.catalog.put_table(&mut ctx.txn, &def).await?;
    if !def.primary_key.is_empty() {
        let pkey = IndexDef {
            id,
            name: format!("{name}_pkey"),
            table: name.clone(),
            columns: def.primary_key.clone(),
            unique: true,
            constraint: true,
            primary: true,
            storage_id: None,
        };
        ctx.db.catalog.put_index(&mut ctx.txn, &pkey).await?;
    }
    create_unique_indexes(&def, uniques, ctx).await?;
    ctx.db.stats.set(id, TableStats { analyzed: true, ..TableStats::default() });
    Ok(QueryResult::command("CREATE TABLE"))
}

/// A new table without columns or constraints, owned by the session's role.
fn empty_table(id: u64, name: String, ctx: &ExecContext) -> TableDef {
    TableDef {
        id,
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        checks: Vec::new(),
        foreign_keys: Vec::new(),
        acl: Acl::owned_by(&ctx.actor),
        storage_id: None,
    }
}

/// CREATE TABLE … AS query: a table with the query's column names and types, filled with its rows; no constraints, as in
/// PostgreSQL. The tag is `SELECT n`.
async fn create_table_as(
    create: &ast::CreateTable,
    name: String,
    query: &ast::Query,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    check_table_as_shape(create)?;
    check_storage_options(&create.table_options)?;
    let mut binder = Binder::new(schema).with_params(ctx.params.iter().map(crate::sql::cast::value_type).collect());
    let bound = binder.bind_query(query)?;
    let (names, types) = (bound.names.clone(), bound.types());
    let plan = crate::sql::session::plan_query(bound.plan, schema, ctx).await?;
    let batches = exec::collect(&plan, ctx).await?;
    let id = new_object_id(ctx).await?;
    let mut def = empty_table(id, name, ctx);
    for (name, data_type) in names.into_iter().zip(types) {
        if def.column_index(&name).is_some() {
            return Err(Error::sql("42701", format!("column \"{name}\" specified more than once")));
        }
        // A bare NULL or untyped literal makes a text column, as in PostgreSQL.
        let data_type = if data_type == DataType::Unknown { DataType::Text } else { data_type };
        def.columns.push(ColumnDef { name, data_type, nullable: true, default: None });
    }
    ctx.db.catalog.attach_table(&mut def);
    ctx.db.catalog.put_table(&mut ctx.txn, &def).await?;
    ctx.db.stats.set(id, TableStats { analyzed: true, ..TableStats::default() });
    let table = Arc::new(def);
    let targets: Vec<usize> = (0..table.columns.len()).collect();
    let count = crate::sql::dml::insert_rows(&table, &targets, batches, schema, ctx).await?;
    Ok(QueryResult { affected: count, ..QueryResult::command(&format!("SELECT {count}")) })
}

/// CREATE TABLE … AS takes its columns from the query: a column list
/// (which the parser accepts only with types) or a constraint is refused.
fn check_table_as_shape(create: &ast::CreateTable) -> Result<()> {
    if !create.columns.is_empty() || !create.constraints.is_empty() {
        return Err(Error::sql("42601", "CREATE TABLE … AS takes its columns from the query, without definitions"));
    }
    Ok(())
}

/// The indexes behind a new table's UNIQUE constraints.
async fn create_unique_indexes(
    def: &TableDef,
    uniques: Vec<(Option<String>, Vec<usize>)>,
    ctx: &mut ExecContext,
) -> Result<()> {
    for (k, (constraint_name, columns)) in uniques.into_iter().enumerate() {
        let cols: Vec<String> = columns.iter().map(|&c| def.columns[c].name.clone()).collect();
        let index_name = constraint_name.unwrap_or_else(|| {
            format!("{}_{}_key{}", def.name, cols.join("_"), if k > 0 { k.to_string() } else { String::new() })
        });
        let index_id = new_object_id(ctx).await?;
        let index = IndexDef {
            id: index_id,
            name: index_name,
            table: def.name.clone(),
            columns,
            unique: true,
            constraint: true,
            primary: false,
            storage_id: None,
        };
        ctx.db.catalog.put_index(&mut ctx.txn, &index).await?;
    }
    Ok(())
}

fn add_column(
    def: &mut TableDef,
    column: &ast::ColumnDef,
    uniques: &mut Vec<(Option<String>, Vec<usize>)>,
    serials: &mut Vec<(String, String)>,
    schema: &Schema,
) -> Result<()> {
    let name = ident_name(&column.name);
    if def.column_index(&name).is_some() {
        return Err(Error::sql("42701", format!("column \"{name}\" specified more than once")));
    }
    let data_type = types::data_type(&column.data_type)?;
    let index = def.columns.len();
    let mut col = ColumnDef { name: name.clone(), data_type, nullable: true, default: None };
    if types::is_serial(&column.data_type) {
        let seq = format!("{}_{}_seq", def.name, name);
        col.default = Some(format!("nextval('{seq}')"));
        col.nullable = false;
        serials.push((name.clone(), seq));
    }
    for option in &column.options {
        let constraint_name = option.name.as_ref().map(ident_name);
        match &option.option {
            ast::ColumnOption::Null => col.nullable = true,
            ast::ColumnOption::NotNull => col.nullable = false,
            ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
            ast::ColumnOption::PrimaryKey(_) => {
                if !def.primary_key.is_empty() {
                    return Err(Error::sql(
                        "42P16",
                        format!("multiple primary keys for table \"{}\" are not allowed", def.name),
                    ));
                }
                def.primary_key = vec![index];
            }
            ast::ColumnOption::Unique(_) => uniques.push((constraint_name, vec![index])),
            ast::ColumnOption::Check(check) => def.checks.push(CheckDef {
                name: constraint_name.unwrap_or_else(|| format!("{}_{}_check", def.name, name)),
                expr: check.expr.to_string(),
            }),
            ast::ColumnOption::ForeignKey(fk) => {
                let fk_def = foreign_key(def, constraint_name, &[index], &name, fk, schema)?;
                def.foreign_keys.push(fk_def);
            }
            ast::ColumnOption::Generated { generation_expr: None, .. } | ast::ColumnOption::Identity(_) => {
                let seq = format!("{}_{}_seq", def.name, name);
                col.default = Some(format!("nextval('{seq}')"));
                col.nullable = false;
                serials.push((name.clone(), seq));
            }
            ast::ColumnOption::Collation(_) | ast::ColumnOption::Comment(_) => {}
            other => return Err(Error::NotSupported(format!("column option {other}"))),
        }
    }
    def.columns.push(col);
    Ok(())
}

fn column_list(def: &TableDef, names: impl Iterator<Item = String>) -> Result<Vec<usize>> {
    names
        .map(|n| {
            def.column_index(&n)
                .ok_or_else(|| Error::sql("42703", format!("column \"{n}\" named in key does not exist")))
        })
        .collect()
}

fn index_columns(columns: &[ast::IndexColumn]) -> Result<Vec<String>> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(i) => Ok(ident_name(i)),
            other => Err(Error::NotSupported(format!("index on expression {other}"))),
        })
        .collect()
}

fn add_table_constraint(
    def: &mut TableDef,
    constraint: &ast::TableConstraint,
    uniques: &mut Vec<(Option<String>, Vec<usize>)>,
    schema: &Schema,
) -> Result<()> {
    match constraint {
        ast::TableConstraint::PrimaryKey(pk) => {
            if !def.primary_key.is_empty() {
                return Err(Error::sql(
                    "42P16",
                    format!("multiple primary keys for table \"{}\" are not allowed", def.name),
                ));
            }
            def.primary_key = column_list(def, index_columns(&pk.columns)?.into_iter())?;
        }
        ast::TableConstraint::Unique(u) => {
            let cols = column_list(def, index_columns(&u.columns)?.into_iter())?;
            uniques.push((u.name.as_ref().map(ident_name), cols));
        }
        ast::TableConstraint::Check(check) => {
            let name = check
                .name
                .as_ref()
                .map(ident_name)
                .unwrap_or_else(|| format!("{}_check{}", def.name, def.checks.len() + 1));
            def.checks.push(CheckDef { name, expr: check.expr.to_string() });
        }
        ast::TableConstraint::ForeignKey(fk) => {
            let cols = column_list(def, fk.columns.iter().map(ident_name))?;
            let first = def.columns[cols[0]].name.clone();
            let fk_def = foreign_key(def, fk.name.as_ref().map(ident_name), &cols, &first, fk, schema)?;
            def.foreign_keys.push(fk_def);
        }
        other => return Err(Error::NotSupported(format!("constraint {other}"))),
    }
    Ok(())
}

fn foreign_key(
    def: &TableDef,
    name: Option<String>,
    columns: &[usize],
    first: &str,
    fk: &ast::ForeignKeyConstraint,
    schema: &Schema,
) -> Result<ForeignKeyDef> {
    let cascading = |a: &Option<ast::ReferentialAction>| {
        matches!(
            a,
            Some(
                ast::ReferentialAction::Cascade | ast::ReferentialAction::SetNull | ast::ReferentialAction::SetDefault
            )
        )
    };
    if cascading(&fk.on_delete) || cascading(&fk.on_update) {
        return Err(Error::NotSupported("ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT".into()));
    }
    let ref_table = object_name(&fk.foreign_table)?;
    let parent: &TableDef = if ref_table == def.name {
        def
    } else {
        existing_table(schema, &ref_table).map(|t| &**schema.tables.get(&t.name).expect("exists"))?
    };
    let ref_columns = if fk.referred_columns.is_empty() {
        parent.primary_key.clone()
    } else {
        column_list(parent, fk.referred_columns.iter().map(ident_name))?
    };
    if ref_columns.len() != columns.len() {
        return Err(Error::sql("42830", "number of referencing and referenced columns for foreign key disagree"));
    }
    Ok(ForeignKeyDef {
        name: name.unwrap_or_else(|| format!("{}_{first}_fkey", def.name)),
        columns: columns.to_vec(),
        ref_table,
        ref_columns,
    })
}

async fn create_sequence(
    name: String,
    if_not_exists: bool,
    options: &[ast::SequenceOptions],
    owned_by: Option<String>,
    schema: &Schema,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    if if_not_exists && schema.sequences.contains_key(&name) {
        return Ok(QueryResult::command("CREATE SEQUENCE"));
    }
    ensure_free(schema, &name)?;
    let mut def =
        SequenceDef { name: name.clone(), start: 1, increment: 1, min: 1, max: i64::MAX, cycle: false, owned_by };
    let mut start = None;
    for option in options {
        match option {
            ast::SequenceOptions::IncrementBy(e, _) => def.increment = constant_int(e)?,
            ast::SequenceOptions::StartWith(e, _) => start = Some(constant_int(e)?),
            ast::SequenceOptions::MinValue(Some(e)) => def.min = constant_int(e)?,
            ast::SequenceOptions::MaxValue(Some(e)) => def.max = constant_int(e)?,
            ast::SequenceOptions::Cycle(no) => def.cycle = !no,
            ast::SequenceOptions::MinValue(None)
            | ast::SequenceOptions::MaxValue(None)
            | ast::SequenceOptions::Cache(_)
            | ast::SequenceOptions::DataType(_)
            | ast::SequenceOptions::OwnedBy(_) => {}
        }
    }
    if def.increment == 0 {
        return Err(Error::sql("22023", "INCREMENT must not be zero"));
    }
    if def.increment < 0 {
        def.max = if def.max == i64::MAX { -1 } else { def.max };
        def.min = if def.min == 1 { i64::MIN } else { def.min };
    }
    def.start = start.unwrap_or(if def.increment > 0 { def.min } else { def.max });
    ctx.db.sequences.reset(&name).await?;
    ctx.db.catalog.put_sequence(&mut ctx.txn, &def).await?;
    Ok(QueryResult::command("CREATE SEQUENCE"))
}

fn constant_int(e: &ast::Expr) -> Result<i64> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                n.parse().map_err(|_| Error::sql("22023", format!("invalid sequence option {n}")))
            }
            other => Err(Error::sql("22023", format!("invalid sequence option {other}"))),
        },
        ast::Expr::UnaryOp { op: ast::UnaryOperator::Minus, expr } => Ok(-constant_int(expr)?),
        other => Err(Error::sql("22023", format!("invalid sequence option {other}"))),
    }
}

async fn create_index(create: &ast::CreateIndex, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    let table = existing_table(schema, &object_name(&create.table_name)?)?;
    if create.predicate.is_some() || !create.include.is_empty() {
        return Err(Error::NotSupported("partial indexes and INCLUDE".into()));
    }
    let names = index_columns(&create.columns)?;
    let columns = column_list(&table, names.iter().cloned())?;
    let name = match &create.name {
        Some(n) => object_name(n)?,
        None => format!("{}_{}_idx", table.name, names.join("_")),
    };
    if create.if_not_exists && schema.indexes.contains_key(&name) {
        return Ok(QueryResult::command("CREATE INDEX"));
    }
    ensure_free(schema, &name)?;
    ctx.txn.lock_table(table.lock_target(), LockMode::Share).await?;
    let id = new_object_id(ctx).await?;
    let mut index = IndexDef {
        id,
        name: name.clone(),
        table: table.name.clone(),
        columns,
        unique: create.unique,
        constraint: false,
        primary: false,
        storage_id: None,
    };
    ctx.db.catalog.attach_index(&mut index);
    backfill(&index, &table, ctx).await?;
    ctx.db.catalog.put_index(&mut ctx.txn, &index).await?;
    Ok(QueryResult::command("CREATE INDEX"))
}

/// Adds an entry for every existing row of `table` to a new index.
async fn backfill(index: &IndexDef, table: &Arc<TableDef>, ctx: &mut ExecContext) -> Result<()> {
    let rows = exec::scan_range_keys(ctx, table.clone(), Access::Full, None).await?;
    let index_id = index.table_id()?;
    for (key, row) in rows {
        let entry = index_entry_key(index, &row, &key);
        ctx.txn.insert(index_id, &entry, &key).await.map_err(|e| index_build_error(e, &index.name))?;
    }
    Ok(())
}

/// A duplicate met while building a unique index (or a primary key).
fn index_build_error(e: Error, index: &str) -> Error {
    match e {
        Error::UniqueViolation(_) => {
            Error::sql("23505", format!("could not create unique index \"{index}\": duplicate key"))
        }
        other => other,
    }
}

async fn create_view(create: &ast::CreateView, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    if create.materialized {
        return Err(Error::NotSupported("materialized views".into()));
    }
    let name = object_name(&create.name)?;
    let exists = schema.views.contains_key(&name);
    if create.if_not_exists && exists {
        return Ok(QueryResult::command("CREATE VIEW"));
    }
    if !(create.or_replace && exists) {
        ensure_free(schema, &name)?;
    }
    let mut binder = Binder::new(schema);
    let bound = binder.bind_query(&create.query)?;
    let columns: Vec<String> = create.columns.iter().map(|c| ident_name(&c.name)).collect();
    if columns.len() > bound.names.len() {
        return Err(Error::sql("42601", "CREATE VIEW specifies more column names than columns"));
    }
    let view = ViewDef { name, columns, query: create.query.to_string(), acl: Acl::owned_by(&ctx.actor) };
    ctx.db.catalog.put_view(&mut ctx.txn, &view).await?;
    Ok(QueryResult::command("CREATE VIEW"))
}

async fn drop_objects(
    kind: ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    cascade: bool,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<QueryResult> {
    let tag = match kind {
        ast::ObjectType::Table => "DROP TABLE",
        ast::ObjectType::View => "DROP VIEW",
        ast::ObjectType::Index => "DROP INDEX",
        ast::ObjectType::Sequence => "DROP SEQUENCE",
        other => return Err(Error::NotSupported(format!("DROP {other}"))),
    };
    for name in names {
        let name = object_name(name)?;
        let found = match kind {
            ast::ObjectType::Table => schema.tables.contains_key(&name),
            ast::ObjectType::View => schema.views.contains_key(&name),
            ast::ObjectType::Index => schema.indexes.contains_key(&name),
            _ => schema.sequences.contains_key(&name),
        };
        if !found {
            if if_exists {
                continue;
            }
            let code = if matches!(kind, ast::ObjectType::Index) { "42704" } else { "42P01" };
            return Err(Error::sql(code, format!("{} \"{name}\" does not exist", kind.to_string().to_lowercase())));
        }
        match kind {
            ast::ObjectType::Table => drop_table(&name, cascade, schema, ctx).await?,
            ast::ObjectType::View => ctx.db.catalog.delete_view(&mut ctx.txn, &name).await?,
            ast::ObjectType::Index => drop_index(&name, schema, ctx).await?,
            _ => ctx.db.catalog.delete_sequence(&mut ctx.txn, &name).await?,
        }
    }
    Ok(QueryResult::command(tag))
}

async fn drop_table(name: &str, cascade: bool, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<()> {
    let table = existing_table(schema, name)?;
    for child in schema.tables.values().filter(|t| t.name != name) {
        if child.foreign_keys.iter().any(|fk| fk.ref_table == name) && !cascade {
            return Err(Error::sql(
                "2BP01",
                format!("cannot drop table {name} because table {} depends on it", child.name),
            ));
        }
    }
    ctx.txn.lock_table(table.lock_target(), LockMode::AccessExclusive).await?;
    delete_all_rows(&table, schema, ctx).await?;
    for index in schema.indexes_of(name) {
        ctx.db.catalog.delete_index(&mut ctx.txn, &index.name).await?;
    }
    for seq in
        schema.sequences.values().filter(|s| s.owned_by.as_deref().is_some_and(|o| o.starts_with(&format!("{name}."))))
    {
        ctx.db.catalog.delete_sequence(&mut ctx.txn, &seq.name).await?;
    }
    ctx.db.catalog.delete_table(&mut ctx.txn, name).await?;
    ctx.db.stats.forget(table.id);
    Ok(())
}

async fn drop_index(name: &str, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<()> {
    let index = schema
        .indexes
        .get(name)
        .cloned()
        .ok_or_else(|| Error::sql("42704", format!("index \"{name}\" does not exist")))?;
    if index.constraint {
        return Err(Error::sql(
            "2BP01",
            format!("cannot drop index {name} because constraint {name} on table {} requires it", index.table),
        ));
    }
    let prefix = index.key_prefix();
    let end = crate::sql::exec::prefix_successor(&prefix);
    let rows = ctx
        .txn
        .scan(
            index.table_id()?,
            std::ops::Bound::Included(&prefix[..]),
            end.as_deref().map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
        )
        .await?;
    for (key, _) in rows {
        ctx.txn.delete(index.table_id()?, &key).await?;
    }
    ctx.db.catalog.delete_index(&mut ctx.txn, name).await
}

/// Deletes every row of `table` and its index entries (TRUNCATE, DROP).
async fn delete_all_rows(table: &Arc<TableDef>, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<()> {
    let indexes = schema.indexes_of(&table.name);
    let rows = exec::scan_range_keys(ctx, table.clone(), Access::Full, None).await?;
    let n = rows.len() as u64;
    for (key, row) in rows {
        delete_row(&key, &row, table, &indexes, ctx).await?;
    }
    ctx.db.stats.note_changes(table.id, 0, n, 0);
    Ok(())
}

async fn alter_table(alter: &ast::AlterTable, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    let name = object_name(&alter.name)?;
    let Some(table) = schema.table(&name).cloned() else {
        if alter.if_exists {
            return Ok(QueryResult::command("ALTER TABLE"));
        }
        return Err(Error::sql("42P01", format!("relation \"{name}\" does not exist")));
    };
    ctx.txn.lock_table(table.lock_target(), LockMode::AccessExclusive).await?;
    let mut def = (*table).clone();
    for op in &alter.operations {
        alter_one(&mut def, op, schema, ctx).await?;
    }
    if def.name != table.name {
        ctx.db.catalog.delete_table(&mut ctx.txn, &table.name).await?;
        for index in schema.indexes_of(&table.name) {
            let mut moved = (*index).clone();
            moved.table = def.name.clone();
            ctx.db.catalog.put_index(&mut ctx.txn, &moved).await?;
        }
    }
    ctx.db.catalog.put_table(&mut ctx.txn, &def).await?;
    Ok(QueryResult::command("ALTER TABLE"))
}

async fn alter_one(
    def: &mut TableDef,
    op: &ast::AlterTableOperation,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<()> {
    match op {
        ast::AlterTableOperation::AddColumn { column_def, if_not_exists, .. } => {
            if *if_not_exists && def.column_index(&ident_name(&column_def.name)).is_some() {
                return Ok(());
            }
            let mut uniques = Vec::new();
            let mut serials = Vec::new();
            add_column(def, column_def, &mut uniques, &mut serials, schema)?;
            if !uniques.is_empty() || !serials.is_empty() {
                return Err(Error::NotSupported("ADD COLUMN with UNIQUE or SERIAL".into()));
            }
            rewrite_rows(def, schema, ctx).await
        }
        ast::AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
            let old = ident_name(old_column_name);
            let new = ident_name(new_column_name);
            if def.column_index(&new).is_some() {
                return Err(Error::sql(
                    "42701",
                    format!("column \"{new}\" of relation \"{}\" already exists", def.name),
                ));
            }
            let c = def
                .column_index(&old)
                .ok_or_else(|| Error::sql("42703", format!("column \"{old}\" does not exist")))?;
            def.columns[c].name = new;
            Ok(())
        }
        ast::AlterTableOperation::RenameTable { table_name } => {
            let new = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => object_name(n)?,
            };
            ensure_free(schema, &new)?;
            def.name = new;
            Ok(())
        }
        ast::AlterTableOperation::AlterColumn { column_name, op } => alter_column(def, column_name, op, ctx).await,
        ast::AlterTableOperation::AddConstraint { constraint: ast::TableConstraint::PrimaryKey(pk), .. } => {
            let name = pk.name.as_ref().map(ident_name);
            add_primary_key(def, name, &index_columns(&pk.columns)?, schema, ctx).await
        }
        ast::AlterTableOperation::AddConstraint { constraint: ast::TableConstraint::Unique(u), .. } => {
            add_unique(def, u, schema, ctx).await
        }
        other => Err(Error::NotSupported(format!("ALTER TABLE {other}"))),
    }
}

/// ALTER COLUMN … SET/DROP NOT NULL, SET/DROP DEFAULT.
async fn alter_column(
    def: &mut TableDef,
    column_name: &ast::Ident,
    op: &ast::AlterColumnOperation,
    ctx: &mut ExecContext,
) -> Result<()> {
    let name = ident_name(column_name);
    let c = def.column_index(&name).ok_or_else(|| Error::sql("42703", format!("column \"{name}\" does not exist")))?;
    match op {
        ast::AlterColumnOperation::SetNotNull => {
            let table = Arc::new(def.clone());
            let rows = exec::scan_range_keys(ctx, table, Access::Full, None).await?;
            if rows.iter().any(|(_, r)| r[c].is_null()) {
                return Err(Error::sql(
                    "23502",
                    format!("column \"{name}\" of relation \"{}\" contains null values", def.name),
                ));
            }
            def.columns[c].nullable = false;
        }
        ast::AlterColumnOperation::DropNotNull => def.columns[c].nullable = true,
        ast::AlterColumnOperation::SetDefault { value } => def.columns[c].default = Some(value.to_string()),
        ast::AlterColumnOperation::DropDefault => def.columns[c].default = None,
        other => return Err(Error::NotSupported(format!("ALTER COLUMN {other}"))),
    }
    Ok(())
}

/// ADD UNIQUE: a constraint index over the existing rows (23505 on duplicates).
async fn add_unique(
    def: &TableDef,
    u: &ast::UniqueConstraint,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<()> {
    let columns = column_list(def, index_columns(&u.columns)?.into_iter())?;
    let name = u.name.as_ref().map(ident_name).unwrap_or_else(|| {
        let names: Vec<&str> = columns.iter().map(|&c| def.columns[c].name.as_str()).collect();
        format!("{}_{}_key", def.name, names.join("_"))
    });
    ensure_free(schema, &name)?;
    let mut index = IndexDef {
        id: new_object_id(ctx).await?,
        name,
        table: def.name.clone(),
        columns,
        unique: true,
        constraint: true,
        primary: false,
        storage_id: None,
    };
    ctx.db.catalog.attach_index(&mut index);
    backfill(&index, &Arc::new(def.clone()), ctx).await?;
    ctx.db.catalog.put_index(&mut ctx.txn, &index).await
}

/// ADD PRIMARY KEY: rows are keyed by their primary key, so every row
/// moves from its row-id key to its new key (index entries, which point at
/// row keys, move with it). Duplicates fail with 23505, NULLs with 23502.
async fn add_primary_key(
    def: &mut TableDef,
    name: Option<String>,
    columns: &[String],
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<()> {
    if !def.primary_key.is_empty() {
        return Err(Error::sql("42P16", format!("multiple primary keys for table \"{}\" are not allowed", def.name)));
    }
    let key_columns = column_list(def, columns.iter().cloned())?;
    let old = Arc::new(def.clone());
    let rows = exec::scan_range_keys(ctx, old.clone(), Access::Full, None).await?;
    for &c in &key_columns {
        if rows.iter().any(|(_, row)| row[c].is_null()) {
            return Err(Error::sql(
                "23502",
                format!("column \"{}\" of relation \"{}\" contains null values", def.columns[c].name, def.name),
            ));
        }
        def.columns[c].nullable = false;
    }
    def.primary_key = key_columns.clone();
    let pkey_name = name.unwrap_or_else(|| format!("{}_pkey", def.name));
    ensure_free(schema, &pkey_name)?;
    let indexes = schema.indexes_of(&def.name);
    for (key, row) in &rows {
        delete_row(key, row, &old, &indexes, ctx).await?;
    }
    let table_id = def.table_id()?;
    for (_, row) in &rows {
        let key = exec::row_key(def, row).expect("the table now has a primary key");
        let mut bytes = Vec::new();
        encode_row(row, &mut bytes);
        ctx.txn.insert(table_id, &key, &bytes).await.map_err(|e| index_build_error(e, &pkey_name))?;
        for index in &indexes {
            ctx.txn.insert(index.table_id()?, &index_entry_key(index, row, &key), &key).await?;
        }
    }
    let pkey = IndexDef {
        id: def.id,
        name: pkey_name.clone(),
        table: def.name.clone(),
        columns: key_columns,
        unique: true,
        constraint: true,
        primary: true,
        storage_id: None,
    };
    ctx.db.catalog.put_index(&mut ctx.txn, &pkey).await
}

/// `WITH (…)` storage parameters of CREATE TABLE. Pages are always filled
/// completely, which is what `fillfactor = 100` asks for; anything the
/// storage engine cannot honour is refused rather than ignored.
fn check_storage_options(options: &ast::CreateTableOptions) -> Result<()> {
    let list = match options {
        ast::CreateTableOptions::None => return Ok(()),
        ast::CreateTableOptions::With(list) => list,
        other => return Err(Error::NotSupported(format!("table options {other}"))),
    };
    for option in list {
        match option {
            ast::SqlOption::KeyValue { key, value } if key.to_string().eq_ignore_ascii_case("fillfactor") => {
                let factor: i64 = value.to_string().parse().map_err(|_| {
                    Error::sql("22023", format!("invalid value for integer option \"fillfactor\": {value}"))
                })?;
                if !(10..=100).contains(&factor) {
                    return Err(Error::sql(
                        "22023",
                        format!("value {factor} out of bounds for option \"fillfactor\" (10 to 100)"),
                    ));
                }
                if factor < 100 {
                    return Err(Error::NotSupported(format!(
                        "fillfactor = {factor}: pages are always filled completely (fillfactor = 100)"
                    )));
                }
            }
            other => return Err(Error::NotSupported(format!("storage parameter {other}"))),
        }
    }
    Ok(())
}

/// After ADD COLUMN: every row gets the new column's default.
async fn rewrite_rows(def: &TableDef, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<()> {
    let column = def.columns.last().expect("a column was just added");
    let mut old = def.clone();
    old.columns.pop();
    let old = Arc::new(old);
    let rows = exec::scan_range_keys(ctx, old, Access::Full, None).await?;
    let default = match &column.default {
        None => Value::Null,
        Some(sql) => {
            let mut binder = Binder::new(schema);
            let parsed = Binder::parse_expr(sql)?;
            let bound = binder.bind_expr(&parsed, &Scope::default())?;
            let bound = binder.cast_to(bound, &column.data_type);
            let one = crate::sql::batch::Batch { columns: vec![], len: 1 };
            exec::eval(&bound, &one, ctx).await?.get(0)
        }
    };
    if default.is_null() && !column.nullable && !rows.is_empty() {
        return Err(Error::sql(
            "23502",
            format!("column \"{}\" of relation \"{}\" contains null values", column.name, def.name),
        ));
    }
    let table_id = def.table_id()?;
    for (key, mut row) in rows {
        row.push(default.clone());
        let mut bytes = Vec::new();
        encode_row(&row, &mut bytes);
        ctx.txn.update(table_id, &key, &bytes).await?;
    }
    Ok(())
}

/// ANALYZE [table]: recomputes statistics.
pub async fn analyze(a: &ast::Analyze, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<()> {
    let tables: Vec<Arc<TableDef>> = match &a.table_name {
        Some(name) => vec![existing_table(schema, &object_name(name)?)?],
        None => schema.tables.values().cloned().collect(),
    };
    for table in tables {
        analyze_table(&table, ctx).await?;
    }
    Ok(())
}

/// Reads the table batch by batch into a [`StatsBuilder`]: memory stays
/// bounded however large the table is.
async fn analyze_table(table: &Arc<TableDef>, ctx: &mut ExecContext) -> Result<()> {
    let mut reader = exec::TableReader::rows(table.clone(), Access::Full);
    let mut builder = StatsBuilder::new(table.columns.len());
    while reader.visit_rows(ctx, |bytes| decode_row(bytes).map(|row| builder.add(&row))).await?.is_some() {
        ctx.pause().await?;
    }
    ctx.db.stats.set(table.id, builder.finish());
    Ok(())
}

/// Re-analyzes the tables `plan` scans whose statistics are stale.
pub async fn refresh_stale_stats(plan: &Plan, ctx: &mut ExecContext) -> Result<()> {
    let mut tables = Vec::new();
    collect_tables(plan, &mut tables);
    for table in tables {
        let now = ctx.db.env.clock.now();
        if ctx.db.stats.claim_stale(table.id, now) {
            let analyzed = analyze_table(&table, ctx).await;
            match analyzed {
                Ok(()) => ctx.db.stats.mark_auto_analyzed(table.id, now),
                Err(_) => ctx.db.stats.release_claim(table.id),
            }
            analyzed?;
        }
    }
    Ok(())
}

fn collect_tables(plan: &Plan, out: &mut Vec<Arc<TableDef>>) {
    if let Plan::Scan { table, .. } = plan
        && !out.iter().any(|t| t.id == table.id)
    {
        out.push(table.clone());
    }
    for input in plan.inputs() {
        collect_tables(input, out);
    }
}
