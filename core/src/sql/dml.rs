//! INSERT, UPDATE and DELETE: constraint checks, index maintenance,
//! ON CONFLICT and RETURNING.
//!
//! Every write goes through the transaction, so a failed statement leaves
//! nothing behind once its transaction rolls back. UPDATE and DELETE find
//! candidate rows with the statement's snapshot, then lock each row and
//! re-check the WHERE clause against the row as locked: under READ
//! COMMITTED that is the newest committed version (PostgreSQL's
//! EvalPlanQual), so `SET x = x + 1` never loses a concurrent increment;
//! under the snapshot levels a concurrently changed row fails with 40001.

use std::sync::Arc;

use sqlparser::ast;

use crate::sql::batch::Batch;
use crate::sql::binder::{Binder, Scope, ident_name, object_name};
use crate::sql::cast::assign_cast;
use crate::sql::catalog::{IndexDef, Schema, TableDef};
use crate::sql::exec::{self, ExecContext, eval, index_entry_key, row_key};
use crate::sql::expr::Expr;
use crate::sql::plan::{Access, Plan};
use crate::sql::row::{decode_row, encode_key_values, encode_row};
use crate::sql::session::{QueryResult, ResultColumn};
use crate::sql::value::{DataType, Value};
use crate::txn::{LockMode, RowLock};
use crate::{Error, Result};

/// Runs an INSERT, UPDATE or DELETE.
pub async fn execute(statement: &ast::Statement, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    match statement {
        ast::Statement::Insert(insert) => run_insert(insert, schema, ctx).await,
        ast::Statement::Update(update) => run_update(update, schema, ctx).await,
        ast::Statement::Delete(delete) => run_delete(delete, schema, ctx).await,
        _ => Err(Error::Corrupt("dml::execute given a non-DML statement".into())),
    }
}

/// Binds a DML statement only to learn its parameters' types.
pub fn describe_params(binder: &mut Binder, statement: &ast::Statement) -> Result<()> {
    match statement {
        ast::Statement::Insert(insert) => {
            let table = target_table(binder.schema, &insert_table_name(insert)?)?;
            let targets = target_columns(&table, &insert.columns)?;
            let types: Vec<DataType> = targets.iter().map(|&c| table.columns[c].data_type.clone()).collect();
            if let Some(source) = &insert.source {
                bind_source(binder, source, &types)?;
            }
            if let Some(ast::OnInsert::OnConflict(ast::OnConflict {
                action: ast::OnConflictAction::DoUpdate(update),
                ..
            })) = &insert.on
            {
                let scope = conflict_scope(&table);
                bind_assignments(binder, &table, &update.assignments, &scope)?;
            }
        }
        ast::Statement::Update(update) => {
            let (table, scope) = single_table(binder.schema, &update.table)?;
            bind_assignments(binder, &table, &update.assignments, &scope)?;
            if let Some(w) = &update.selection {
                binder.bind_bool(w, &scope)?;
            }
        }
        ast::Statement::Delete(delete) => {
            let (table, scope) = single_table(binder.schema, delete_from(delete)?)?;
            if let Some(w) = &delete.selection {
                let _ = table;
                binder.bind_bool(w, &scope)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The RETURNING columns of a DML statement (none for other statements).
pub fn returning_columns(binder: &mut Binder, statement: &ast::Statement) -> Result<Vec<ResultColumn>> {
    let (table, returning, alias) = match statement {
        ast::Statement::Insert(i) => (insert_table_name(i)?, i.returning.as_ref(), None),
        ast::Statement::Update(u) => match &u.table.relation {
            ast::TableFactor::Table { name, alias, .. } => {
                (object_name(name)?, u.returning.as_ref(), alias.as_ref().map(|a| ident_name(&a.name)))
            }
            _ => return Ok(vec![]),
        },
        ast::Statement::Delete(d) => match delete_from(d)?.relation {
            ast::TableFactor::Table { ref name, ref alias, .. } => {
                (object_name(name)?, d.returning.as_ref(), alias.as_ref().map(|a| ident_name(&a.name)))
            }
            _ => return Ok(vec![]),
        },
        _ => return Ok(vec![]),
    };
    let Some(items) = returning else { return Ok(vec![]) };
    let table = target_table(binder.schema, &table)?;
    let scope = table_scope(&table, alias.as_deref());
    let (exprs, names) = bind_returning(binder, items, &scope)?;
    Ok(names.into_iter().zip(exprs).map(|(name, e)| ResultColumn { name, data_type: e.ty() }).collect())
}

pub(crate) fn insert_table_name(insert: &ast::Insert) -> Result<String> {
    match &insert.table {
        ast::TableObject::TableName(name) => object_name(name),
        other => Err(Error::NotSupported(format!("INSERT INTO {other}"))),
    }
}

fn target_table(schema: &Schema, name: &str) -> Result<Arc<TableDef>> {
    if schema.views.contains_key(name) {
        return Err(Error::sql("55000", format!("cannot change view \"{name}\" (views are read-only)")));
    }
    schema.table(name).cloned().ok_or_else(|| Error::sql("42P01", format!("relation \"{name}\" does not exist")))
}

fn table_scope(table: &TableDef, alias: Option<&str>) -> Scope {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    Scope::of_table(alias.unwrap_or(&table.name), &names, &types)
}

/// The table's columns, then the same again as `excluded` (ON CONFLICT DO UPDATE).
fn conflict_scope(table: &TableDef) -> Scope {
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    let mut scope = Scope::of_table(&table.name, &names, &types);
    let mut excluded = Scope::of_table("excluded", &names, &types);
    for c in &mut excluded.columns {
        c.hidden = true;
    }
    scope = scope.join(excluded);
    scope
}

fn target_columns(table: &TableDef, columns: &[ast::ObjectName]) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..table.columns.len()).collect());
    }
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        let name = object_name(c)?;
        let i = table.column_index(&name).ok_or_else(|| {
            Error::sql("42703", format!("column \"{name}\" of relation \"{}\" does not exist", table.name))
        })?;
        if out.contains(&i) {
            return Err(Error::sql("42701", format!("column \"{name}\" specified more than once")));
        }
        out.push(i);
    }
    Ok(out)
}

/// Binds an INSERT's source rows, cast to the target column types.
/// The type a value headed for a column is cast to before the assignment
/// cast: a length-limited string stays unlimited, so that a value too long
/// for VARCHAR(n) or CHAR(n) fails (22001) instead of being truncated as an
/// explicit cast would.
fn source_type(ty: &DataType) -> DataType {
    match ty {
        DataType::Varchar(_) | DataType::Char(_) => DataType::Text,
        other => other.clone(),
    }
}

fn bind_source(binder: &mut Binder, source: &ast::Query, types: &[DataType]) -> Result<Plan> {
    let types: Vec<DataType> = types.iter().map(source_type).collect();
    let types = types.as_slice();
    let bound = match source.body.as_ref() {
        ast::SetExpr::Values(values)
            if source.order_by.is_none() && source.limit_clause.is_none() && source.with.is_none() =>
        {
            // Fewer values than target columns: the rest take their defaults.
            let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0).min(types.len());
            binder.bind_values(values, Some(&types[..width]))?
        }
        _ => binder.bind_query(source)?,
    };
    let width = bound.names.len();
    if width > types.len() {
        return Err(Error::sql("42601", "INSERT has more expressions than target columns"));
    }
    let current = bound.types();
    let exprs =
        current.into_iter().enumerate().map(|(i, from)| binder.cast_to(Expr::column(i, from), &types[i])).collect();
    Ok(Plan::Project { input: Box::new(bound.plan), exprs })
}

fn bind_returning(binder: &mut Binder, items: &[ast::SelectItem], scope: &Scope) -> Result<(Vec<Expr>, Vec<String>)> {
    let mut exprs = Vec::new();
    let mut names = Vec::new();
    for item in items {
        match item {
            ast::SelectItem::Wildcard(_) => {
                for (i, c) in scope.columns.iter().enumerate().filter(|(_, c)| !c.hidden) {
                    exprs.push(Expr::column(i, c.ty.clone()));
                    names.push(c.name.clone());
                }
            }
            ast::SelectItem::UnnamedExpr(e) => {
                exprs.push(binder.bind_expr(e, scope)?);
                names.push(match e {
                    ast::Expr::Identifier(i) => ident_name(i),
                    ast::Expr::CompoundIdentifier(p) => p.last().map(ident_name).unwrap_or_default(),
                    _ => "?column?".into(),
                });
            }
            ast::SelectItem::ExprWithAlias { expr, alias } => {
                exprs.push(binder.bind_expr(expr, scope)?);
                names.push(ident_name(alias));
            }
            other => return Err(Error::NotSupported(format!("RETURNING {other}"))),
        }
    }
    Ok((exprs, names))
}

/// Evaluates RETURNING over the written rows.
async fn returning(
    exprs: &[Expr],
    names: &[String],
    rows: &[Vec<Value>],
    table: &TableDef,
    ctx: &mut ExecContext,
) -> Result<(Vec<ResultColumn>, Vec<Vec<Value>>)> {
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(crate::sql::batch::BATCH_SIZE) {
        let batch = Batch::from_rows(chunk, &types);
        let mut columns = Vec::with_capacity(exprs.len());
        for e in exprs {
            columns.push(eval(e, &batch, ctx).await?);
        }
        out.extend((0..batch.len).map(|i| columns.iter().map(|c| c.get(i)).collect::<Vec<_>>()));
    }
    let cols = names.iter().zip(exprs).map(|(n, e)| ResultColumn { name: n.clone(), data_type: e.ty() }).collect();
    Ok((cols, out))
}

/// Bound defaults of every column (NULL where none).
fn bind_defaults(binder: &mut Binder, table: &TableDef) -> Result<Vec<Expr>> {
    let empty = Scope::default();
    table
        .columns
        .iter()
        .map(|c| match &c.default {
            None => Ok(Expr::Literal(Value::Null, c.data_type.clone())),
            Some(sql) => {
                let parsed = Binder::parse_expr(sql)?;
                let bound = binder.bind_expr(&parsed, &empty)?;
                Ok(binder.cast_to(bound, &c.data_type))
            }
        })
        .collect()
}

/// Replaces DEFAULT markers in a VALUES source with the columns' defaults.
fn fill_default_markers(plan: &mut Plan, targets: &[usize], defaults: &[Expr]) {
    let Plan::Project { input, .. } = plan else { return };
    let Plan::Values { rows, .. } = input.as_mut() else { return };
    for row in rows {
        for (slot, &column) in row.iter_mut().zip(targets) {
            if matches!(slot, Expr::Function { name, args, .. } if name == "default" && args.is_empty()) {
                *slot = defaults[column].clone();
            }
        }
    }
}

/// The ON CONFLICT clause, bound.
enum Conflict {
    Error,
    Nothing,
    Update { assignments: Vec<(usize, Expr)>, predicate: Option<Expr> },
}

async fn run_insert(insert: &ast::Insert, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    let table = target_table(schema, &insert_table_name(insert)?)?;
    let mut binder = Binder::new(schema).with_params(ctx.params.iter().map(crate::sql::cast::value_type).collect());
    let (targets, mut source_plan) = match insert.source.as_ref() {
        Some(source) => {
            let targets = target_columns(&table, &insert.columns)?;
            let types: Vec<DataType> = targets.iter().map(|&c| table.columns[c].data_type.clone()).collect();
            (targets, bind_source(&mut binder, source, &types)?)
        }
        // DEFAULT VALUES: one row of no given columns, every one its default.
        None => (Vec::new(), Plan::Values { rows: vec![Vec::new()], types: Vec::new() }),
    };
    let defaults = bind_defaults(&mut binder, &table)?;
    fill_default_markers(&mut source_plan, &targets, &defaults);
    let conflict = bind_conflict(&mut binder, insert, &table)?;
    let ret = match &insert.returning {
        Some(items) => Some(bind_returning(&mut binder, items, &table_scope(&table, None))?),
        None => None,
    };
    let plan = crate::sql::session::plan_query(source_plan, schema, ctx).await?;
    let batches = exec::collect(&plan, ctx).await?;
    let (count, written) = insert_batches(&table, &targets, batches, &conflict, ret.is_some(), schema, ctx).await?;
    finish(ret, count, written, &table, ctx, |n| format!("INSERT 0 {n}")).await
}

/// Inserts rows given as values for the `targets` columns (defaults fill
/// the rest); the count written and, if `keep`, the rows themselves.
async fn insert_batches(
    table: &Arc<TableDef>,
    targets: &[usize],
    batches: Vec<Batch>,
    conflict: &Conflict,
    keep: bool,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<(u64, Vec<Vec<Value>>)> {
    ctx.txn.lock_table(table.lock_target(), LockMode::RowExclusive).await?;
    let mut binder = Binder::new(schema);
    let defaults = bind_defaults(&mut binder, table)?;
    let checks = bind_checks(&mut binder, table)?;
    let indexes = schema.indexes_of(&table.name);
    let mut written = Vec::new();
    let mut count = 0u64;
    for batch in batches {
        ctx.check_cancel()?;
        let rows = complete_rows(&batch, targets, &defaults, table, ctx).await?;
        check_rows(&rows, table, &checks, ctx).await?;
        for row in rows {
            check_foreign_keys(&row, table, schema, ctx).await?;
            if let Some(row) = insert_or_resolve(row, table, &indexes, conflict, ctx).await? {
                count += 1;
                if keep {
                    written.push(row);
                }
            }
        }
    }
    ctx.db.stats.note_changes(table.id, count, 0, 0);
    Ok((count, written))
}

/// Inserts rows given as values for the `targets` columns of `table`
/// (CREATE TABLE … AS); the count written.
pub(crate) async fn insert_rows(
    table: &Arc<TableDef>,
    targets: &[usize],
    batches: Vec<Batch>,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<u64> {
    Ok(insert_batches(table, targets, batches, &Conflict::Error, false, schema, ctx).await?.0)
}

/// COPY … FROM: inserts text fields (`None` is NULL) into `columns` of `table`.
pub async fn copy_rows(
    table: &str,
    columns: &[ast::ObjectName],
    rows: Vec<Vec<Option<String>>>,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<u64> {
    let table = target_table(schema, table)?;
    let targets = target_columns(&table, columns)?;
    let types = vec![DataType::Text; targets.len()];
    let mut batches = Vec::new();
    for chunk in rows.chunks(crate::sql::batch::BATCH_SIZE) {
        let mut values = Vec::with_capacity(chunk.len());
        for (line, row) in chunk.iter().enumerate() {
            if row.len() != targets.len() {
                return Err(Error::sql(
                    "22P04",
                    format!("COPY row {} has {} fields, expected {}", line + 1, row.len(), targets.len()),
                ));
            }
            values.push(row.iter().map(|f| f.clone().map(Value::Text).unwrap_or(Value::Null)).collect::<Vec<_>>());
        }
        batches.push(Batch::from_rows(&values, &types));
    }
    Ok(insert_batches(&table, &targets, batches, &Conflict::Error, false, schema, ctx).await?.0)
}

async fn finish(
    ret: Option<(Vec<Expr>, Vec<String>)>,
    n: u64,
    written: Vec<Vec<Value>>,
    table: &TableDef,
    ctx: &mut ExecContext,
    tag: impl Fn(u64) -> String,
) -> Result<QueryResult> {
    let (columns, rows) = match ret {
        Some((exprs, names)) => returning(&exprs, &names, &written, table, ctx).await?,
        None => (vec![], vec![]),
    };
    Ok(QueryResult { columns, rows, tag: tag(n), affected: n })
}

fn bind_conflict(binder: &mut Binder, insert: &ast::Insert, table: &TableDef) -> Result<Conflict> {
    Ok(match &insert.on {
        None => Conflict::Error,
        Some(ast::OnInsert::OnConflict(oc)) => match &oc.action {
            ast::OnConflictAction::DoNothing => Conflict::Nothing,
            ast::OnConflictAction::DoUpdate(update) => {
                let scope = conflict_scope(table);
                let assignments = bind_assignments(binder, table, &update.assignments, &scope)?;
                let predicate = update.selection.as_ref().map(|w| binder.bind_bool(w, &scope)).transpose()?;
                Conflict::Update { assignments, predicate }
            }
        },
        Some(other) => return Err(Error::NotSupported(format!("{other}"))),
    })
}

/// Full rows from source rows: defaults for unlisted columns, assignment
/// casts, NOT NULL.
async fn complete_rows(
    batch: &Batch,
    targets: &[usize],
    defaults: &[Expr],
    table: &TableDef,
    ctx: &mut ExecContext,
) -> Result<Vec<Vec<Value>>> {
    let width = table.columns.len();
    let mut columns: Vec<Option<crate::sql::batch::Column>> = vec![None; width];
    for (k, &c) in targets.iter().enumerate() {
        if k < batch.columns.len() {
            columns[c] = Some(batch.columns[k].clone());
        }
    }
    for (c, slot) in columns.iter_mut().enumerate() {
        if slot.is_none() {
            *slot = Some(eval(&defaults[c], batch, ctx).await?);
        }
    }
    let mut rows = Vec::with_capacity(batch.len);
    for i in 0..batch.len {
        let mut row = Vec::with_capacity(width);
        for (c, column) in columns.iter().enumerate() {
            let v = column.as_ref().expect("filled above").get(i);
            row.push(assign_cast(v, &table.columns[c].data_type)?);
        }
        check_not_null(&row, table)?;
        rows.push(row);
    }
    Ok(rows)
}

fn check_not_null(row: &[Value], table: &TableDef) -> Result<()> {
    for (c, def) in table.columns.iter().enumerate() {
        if !def.nullable && row[c].is_null() {
            return Err(Error::sql(
                "23502",
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    def.name, table.name
                ),
            ));
        }
    }
    Ok(())
}

fn bind_checks(binder: &mut Binder, table: &TableDef) -> Result<Vec<(String, Expr)>> {
    let scope = table_scope(table, None);
    table
        .checks
        .iter()
        .map(|c| {
            let parsed = Binder::parse_expr(&c.expr)?;
            Ok((c.name.clone(), binder.bind_bool(&parsed, &scope)?))
        })
        .collect()
}

/// CHECK constraints: a row fails only when the check is false (NULL passes).
async fn check_rows(
    rows: &[Vec<Value>],
    table: &TableDef,
    checks: &[(String, Expr)],
    ctx: &mut ExecContext,
) -> Result<()> {
    if checks.is_empty() || rows.is_empty() {
        return Ok(());
    }
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    let batch = Batch::from_rows(rows, &types);
    for (name, check) in checks {
        let result = eval(check, &batch, ctx).await?;
        if (0..batch.len).any(|i| result.get(i).as_bool() == Some(false)) {
            return Err(Error::sql(
                "23514",
                format!("new row for relation \"{}\" violates check constraint \"{name}\"", table.name),
            ));
        }
    }
    Ok(())
}

/// FOREIGN KEY: every non-NULL reference must find its parent row.
async fn check_foreign_keys(row: &[Value], table: &TableDef, schema: &Schema, ctx: &mut ExecContext) -> Result<()> {
    for fk in &table.foreign_keys {
        let values: Vec<Value> = fk.columns.iter().map(|&c| row[c].clone()).collect();
        if values.iter().any(Value::is_null) {
            continue;
        }
        let parent = schema
            .table(&fk.ref_table)
            .ok_or_else(|| Error::sql("42P01", format!("relation \"{}\" does not exist", fk.ref_table)))?;
        if !parent_has(parent, &fk.ref_columns, &values, schema, ctx).await? {
            return Err(Error::sql(
                "23503",
                format!("insert or update on table \"{}\" violates foreign key constraint \"{}\"", table.name, fk.name),
            ));
        }
    }
    Ok(())
}

/// Whether `table` has a row whose `columns` equal `values`.
async fn parent_has(
    table: &Arc<TableDef>,
    columns: &[usize],
    values: &[Value],
    schema: &Schema,
    ctx: &mut ExecContext,
) -> Result<bool> {
    let index = schema.indexes_of(&table.name).into_iter().find(|i| i.columns == columns);
    let access = match index {
        Some(index) => {
            Access::Index { index, eq: values.iter().cloned().map(Expr::literal).collect(), lo: None, hi: None }
        }
        None => Access::Full,
    };
    let rows = exec::scan_range_keys(ctx, table.clone(), access, None).await?;
    Ok(rows.iter().any(|(_, row)| columns.iter().zip(values).all(|(&c, v)| row[c].sql_eq(v) == Some(true))))
}

/// Inserts `row`, or applies the ON CONFLICT action; the row written, if any.
async fn insert_or_resolve(
    row: Vec<Value>,
    table: &Arc<TableDef>,
    indexes: &[Arc<IndexDef>],
    conflict: &Conflict,
    ctx: &mut ExecContext,
) -> Result<Option<Vec<Value>>> {
    let key = match row_key(table, &row) {
        Some(key) => key,
        None => {
            let id = ctx.db.sequences.next(&table.rowid_sequence()).await?;
            let mut key = table.key_prefix().to_vec();
            encode_key_values(&[Value::Int(id)], &mut key);
            key
        }
    };
    if !matches!(conflict, Conflict::Error)
        && let Some((existing_key, existing)) = find_conflict(&row, &key, table, indexes, ctx).await?
    {
        return match conflict {
            Conflict::Update { assignments, predicate } => {
                update_on_conflict(existing_key, existing, row, assignments, predicate.as_ref(), table, indexes, ctx)
                    .await
            }
            _ => Ok(None),
        };
    }
    write_new_row(&row, &key, table, indexes, ctx).await?;
    Ok(Some(row))
}

/// Writes a new row and its index entries; duplicates fail with 23505.
async fn write_new_row(
    row: &[Value],
    key: &[u8],
    table: &TableDef,
    indexes: &[Arc<IndexDef>],
    ctx: &mut ExecContext,
) -> Result<()> {
    let mut bytes = Vec::new();
    encode_row(row, &mut bytes);
    let table_id = table.table_id()?;
    ctx.txn
        .insert(table_id, key, &bytes)
        .await
        .map_err(|e| duplicate(e, &format!("{}_pkey", table.name), table, row))?;
    for index in indexes.iter().filter(|i| !i.primary) {
        let entry = index_entry_key(index, row, key);
        ctx.txn.insert(index.table_id()?, &entry, key).await.map_err(|e| duplicate(e, &index.name, table, row))?;
    }
    Ok(())
}

fn duplicate(e: Error, constraint: &str, _table: &TableDef, _row: &[Value]) -> Error {
    match e {
        Error::UniqueViolation(_) => {
            Error::sql("23505", format!("duplicate key value violates unique constraint \"{constraint}\""))
        }
        other => other,
    }
}

/// The existing row a new row collides with on the primary key or a unique index.
async fn find_conflict(
    row: &[Value],
    key: &[u8],
    table: &TableDef,
    indexes: &[Arc<IndexDef>],
    ctx: &mut ExecContext,
) -> Result<Option<(Vec<u8>, Vec<Value>)>> {
    let table_id = table.table_id()?;
    if !table.primary_key.is_empty()
        && let Some(bytes) = ctx.txn.get(table_id, key).await?
    {
        return Ok(Some((key.to_vec(), decode_row(&bytes)?)));
    }
    for index in indexes.iter().filter(|i| i.unique && !i.primary) {
        let entry = index_entry_key(index, row, key);
        if let Some(existing_key) = ctx.txn.get(index.table_id()?, &entry).await?
            && let Some(bytes) = ctx.txn.get(table_id, &existing_key).await?
        {
            return Ok(Some((existing_key, decode_row(&bytes)?)));
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
async fn update_on_conflict(
    key: Vec<u8>,
    existing: Vec<Value>,
    excluded: Vec<Value>,
    assignments: &[(usize, Expr)],
    predicate: Option<&Expr>,
    table: &TableDef,
    indexes: &[Arc<IndexDef>],
    ctx: &mut ExecContext,
) -> Result<Option<Vec<Value>>> {
    let mut types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    types.extend(types.clone());
    let mut combined = existing.clone();
    combined.extend(excluded);
    let batch = Batch::from_rows(&[combined], &types);
    if let Some(p) = predicate
        && eval(p, &batch, ctx).await?.get(0).as_bool() != Some(true)
    {
        return Ok(None);
    }
    let new_row = apply_assignments(&existing, assignments, &batch, 0, table, ctx).await?;
    replace_row(&key, &existing, &new_row, table, indexes, ctx).await?;
    Ok(Some(new_row))
}

fn bind_assignments(
    binder: &mut Binder,
    table: &TableDef,
    assignments: &[ast::Assignment],
    scope: &Scope,
) -> Result<Vec<(usize, Expr)>> {
    let mut out = Vec::with_capacity(assignments.len());
    for a in assignments {
        let names: Vec<String> = match &a.target {
            ast::AssignmentTarget::ColumnName(name) => {
                vec![name.0.last().map(|p| p.to_string().trim_matches('"').to_lowercase()).unwrap_or_default()]
            }
            ast::AssignmentTarget::Tuple(_) => return Err(Error::NotSupported("UPDATE SET (a, b) = …".into())),
        };
        let column = table.column_index(&names[0]).ok_or_else(|| {
            Error::sql("42703", format!("column \"{}\" of relation \"{}\" does not exist", names[0], table.name))
        })?;
        let is_default = matches!(&a.value, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
        let bound = if is_default {
            let defaults = bind_defaults(binder, table)?;
            defaults[column].clone()
        } else {
            binder.bind_expr(&a.value, scope)?
        };
        out.push((column, binder.cast_to(bound, &source_type(&table.columns[column].data_type))));
    }
    Ok(out)
}

/// The row after SET, checked for NOT NULL.
async fn apply_assignments(
    old: &[Value],
    assignments: &[(usize, Expr)],
    batch: &Batch,
    row: usize,
    table: &TableDef,
    ctx: &mut ExecContext,
) -> Result<Vec<Value>> {
    let mut new_row = old.to_vec();
    let single = if batch.len == 1 { batch.clone() } else { batch.gather(&[row as u32]) };
    for (column, e) in assignments {
        let v = eval(e, &single, ctx).await?.get(0);
        new_row[*column] = assign_cast(v, &table.columns[*column].data_type)?;
    }
    check_not_null(&new_row, table)?;
    Ok(new_row)
}

/// Replaces a locked row: same key updates in place; a new key moves it.
async fn replace_row(
    key: &[u8],
    old: &[Value],
    new: &[Value],
    table: &TableDef,
    indexes: &[Arc<IndexDef>],
    ctx: &mut ExecContext,
) -> Result<()> {
    let table_id = table.table_id()?;
    let new_key = row_key(table, new).unwrap_or_else(|| key.to_vec());
    let mut bytes = Vec::new();
    encode_row(new, &mut bytes);
    if new_key == key {
        ctx.txn.update(table_id, key, &bytes).await?;
    } else {
        ctx.txn.delete(table_id, key).await?;
        ctx.txn
            .insert(table_id, &new_key, &bytes)
            .await
            .map_err(|e| duplicate(e, &format!("{}_pkey", table.name), table, new))?;
    }
    for index in indexes.iter().filter(|i| !i.primary) {
        let old_entry = index_entry_key(index, old, key);
        let new_entry = index_entry_key(index, new, &new_key);
        if old_entry != new_entry || new_key != key {
            ctx.txn.delete(index.table_id()?, &old_entry).await?;
            ctx.txn
                .insert(index.table_id()?, &new_entry, &new_key)
                .await
                .map_err(|e| duplicate(e, &index.name, table, new))?;
        }
    }
    Ok(())
}

fn single_table(schema: &Schema, from: &ast::TableWithJoins) -> Result<(Arc<TableDef>, Scope)> {
    if !from.joins.is_empty() {
        return Err(Error::NotSupported("UPDATE/DELETE with joins".into()));
    }
    let ast::TableFactor::Table { name, alias, .. } = &from.relation else {
        return Err(Error::NotSupported(format!("UPDATE/DELETE of {}", from.relation)));
    };
    let table = target_table(schema, &object_name(name)?)?;
    let alias = alias.as_ref().map(|a| ident_name(&a.name));
    let scope = table_scope(&table, alias.as_deref());
    Ok((table, scope))
}

pub(crate) fn delete_from(delete: &ast::Delete) -> Result<&ast::TableWithJoins> {
    let tables = match &delete.from {
        ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
    };
    match tables.as_slice() {
        [one] => Ok(one),
        _ => Err(Error::NotSupported("DELETE from several tables".into())),
    }
}

/// Rows matching WHERE, found with the statement's snapshot.
async fn candidates(
    table: &Arc<TableDef>,
    filter: Option<Expr>,
    schema: &Arc<Schema>,
    ctx: &mut ExecContext,
) -> Result<Vec<(Vec<u8>, Vec<Value>)>> {
    ctx.txn.lock_table(table.lock_target(), LockMode::RowExclusive).await?;
    let scan = Plan::Scan { table: table.clone(), access: Access::Full, filter, estimate: 0.0 };
    let planned = crate::sql::session::plan_query(scan, schema, ctx).await?;
    let Plan::Scan { access, filter, .. } = planned else {
        return Err(Error::Corrupt("planning a scan gave another node".into()));
    };
    exec::scan_range_keys(ctx, table.clone(), access, filter.as_ref()).await
}

/// Locks a candidate and re-checks WHERE on the row as locked.
async fn lock_and_recheck(
    table: &TableDef,
    key: &[u8],
    filter: Option<&Expr>,
    ctx: &mut ExecContext,
) -> Result<Option<Vec<Value>>> {
    let Some(bytes) = ctx.txn.lock_row(table.table_id()?, key, RowLock::Update).await? else { return Ok(None) };
    let row = decode_row(&bytes)?;
    if let Some(f) = filter {
        let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
        let batch = Batch::from_rows(std::slice::from_ref(&row), &types);
        if eval(f, &batch, ctx).await?.get(0).as_bool() != Some(true) {
            return Ok(None);
        }
    }
    Ok(Some(row))
}

async fn run_update(update: &ast::Update, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    if update.from.is_some() {
        return Err(Error::NotSupported("UPDATE … FROM".into()));
    }
    let (table, scope) = single_table(schema, &update.table)?;
    let mut binder = Binder::new(schema).with_params(ctx.params.iter().map(crate::sql::cast::value_type).collect());
    let assignments = bind_assignments(&mut binder, &table, &update.assignments, &scope)?;
    let filter = update.selection.as_ref().map(|w| binder.bind_bool(w, &scope)).transpose()?;
    let ret = match &update.returning {
        Some(items) => Some(bind_returning(&mut binder, items, &scope)?),
        None => None,
    };
    let checks = bind_checks(&mut binder, &table)?;
    let indexes = schema.indexes_of(&table.name);
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    let mut written = Vec::new();
    for (key, _) in candidates(&table, filter.clone(), schema, ctx).await? {
        let Some(row) = lock_and_recheck(&table, &key, filter.as_ref(), ctx).await? else { continue };
        let batch = Batch::from_rows(std::slice::from_ref(&row), &types);
        let new_row = apply_assignments(&row, &assignments, &batch, 0, &table, ctx).await?;
        check_rows(std::slice::from_ref(&new_row), &table, &checks, ctx).await?;
        check_foreign_keys(&new_row, &table, schema, ctx).await?;
        check_no_children(&table, &row, Some(&new_row), schema, ctx).await?;
        replace_row(&key, &row, &new_row, &table, &indexes, ctx).await?;
        written.push(new_row);
    }
    ctx.db.stats.note_changes(table.id, 0, 0, written.len() as u64);
    finish(ret, written.len() as u64, written, &table, ctx, |n| format!("UPDATE {n}")).await
}

async fn run_delete(delete: &ast::Delete, schema: &Arc<Schema>, ctx: &mut ExecContext) -> Result<QueryResult> {
    if delete.using.is_some() {
        return Err(Error::NotSupported("DELETE … USING".into()));
    }
    let (table, scope) = single_table(schema, delete_from(delete)?)?;
    let mut binder = Binder::new(schema).with_params(ctx.params.iter().map(crate::sql::cast::value_type).collect());
    let filter = delete.selection.as_ref().map(|w| binder.bind_bool(w, &scope)).transpose()?;
    let ret = match &delete.returning {
        Some(items) => Some(bind_returning(&mut binder, items, &scope)?),
        None => None,
    };
    let indexes = schema.indexes_of(&table.name);
    let mut removed = Vec::new();
    for (key, _) in candidates(&table, filter.clone(), schema, ctx).await? {
        let Some(row) = lock_and_recheck(&table, &key, filter.as_ref(), ctx).await? else { continue };
        check_no_children(&table, &row, None, schema, ctx).await?;
        delete_row(&key, &row, &table, &indexes, ctx).await?;
        removed.push(row);
    }
    ctx.db.stats.note_changes(table.id, 0, removed.len() as u64, 0);
    finish(ret, removed.len() as u64, removed, &table, ctx, |n| format!("DELETE {n}")).await
}

/// Deletes a row and its index entries.
pub async fn delete_row(
    key: &[u8],
    row: &[Value],
    table: &TableDef,
    indexes: &[Arc<IndexDef>],
    ctx: &mut ExecContext,
) -> Result<()> {
    ctx.txn.delete(table.table_id()?, key).await?;
    for index in indexes.iter().filter(|i| !i.primary) {
        ctx.txn.delete(index.table_id()?, &index_entry_key(index, row, key)).await?;
    }
    Ok(())
}

/// Foreign keys referencing `table`: removing or changing `row`'s referenced
/// values must leave no child row pointing at them (NO ACTION).
async fn check_no_children(
    table: &TableDef,
    row: &[Value],
    new_row: Option<&[Value]>,
    schema: &Schema,
    ctx: &mut ExecContext,
) -> Result<()> {
    for child in schema.tables.values() {
        for fk in child.foreign_keys.iter().filter(|fk| fk.ref_table == table.name) {
            let values: Vec<Value> = fk.ref_columns.iter().map(|&c| row[c].clone()).collect();
            if let Some(new) = new_row
                && fk.ref_columns.iter().all(|&c| new[c].sql_eq(&row[c]) == Some(true))
            {
                continue;
            }
            if values.iter().any(Value::is_null) {
                continue;
            }
            if parent_has(child, &fk.columns, &values, schema, ctx).await? {
                return Err(Error::sql(
                    "23503",
                    format!(
                        "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                        table.name, fk.name, child.name
                    ),
                ));
            }
        }
    }
    Ok(())
}
