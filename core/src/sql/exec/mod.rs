//! The vectorized executor: runs a [`Plan`] as a tree of operators that pass
//! [`Batch`]es of up to [`BATCH_SIZE`] rows from leaves to root.
//!
//! Operators pull: `next` returns the next batch or `None` when done.
//! Streaming operators (scan, filter, project, limit, the probe side of a
//! hash join) hold one batch at a time; blocking ones (sort, hash aggregate,
//! the build side of a hash join, window, set operations) buffer their input
//! and count its bytes against the statement's memory limit, failing with
//! SQLSTATE 53200 rather than growing without bound. Every `next` checks the
//! cancel flag (57014).
//!
//! One file per operator family: `scan.rs`, `join.rs`, `aggregate.rs`,
//! `sort.rs` (sort, limit, distinct, set operations, values), `window.rs`,
//! `table_function.rs` (generate_series, unnest);
//! expressions in `eval.rs`.

mod aggregate;
pub mod eval;
mod join;
mod scan;
mod sort;
mod table_function;
mod window;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::env::BoxFuture;
use crate::sql::batch::{BATCH_SIZE, Batch, Column};
use crate::sql::database::Database;
use crate::sql::expr::{Expr, SubqueryKind};
use crate::sql::functions::FunctionContext;
use crate::sql::plan::Plan;
use crate::sql::roles::Actor;
use crate::sql::value::Value;
use crate::txn::Transaction;
use crate::{Error, Result};

pub use eval::{EvalEnv, eval_sync};
pub use scan::{
    RELATION_BYTES, SizePart, TableReader, index_entry_key, measured_ranges, prefix_successor, row_key, scan_range_keys,
};

/// Batches an operator processes between yields to the scheduler.
pub const PAUSE_YIELD_EVERY: u32 = 16;

/// Everything a running statement reaches.
pub struct ExecContext {
    pub db: Arc<Database>,
    pub txn: Transaction,
    pub params: Vec<Value>,
    /// Rows of enclosing queries while a correlated subquery runs.
    pub outer: Vec<Vec<Value>>,
    pub functions: FunctionContext,
    /// Results of uncorrelated subqueries, by plan address.
    subqueries: BTreeMap<usize, Arc<(Vec<Value>, usize)>>,
    /// Rows of the previous iteration of each running recursive CTE.
    pub work_tables: BTreeMap<usize, Vec<Batch>>,
    pub cancel: Arc<AtomicBool>,
    /// Calls of [`ExecContext::pause`] so far.
    pauses: u32,
    /// Bytes a blocking operator may buffer.
    pub memory_limit: usize,
    /// The session's last `nextval` result (for `currval`/`lastval`).
    pub last_value: BTreeMap<String, i64>,
    /// Who runs the statement (the embedded owner unless the session has a user).
    pub actor: Actor,
}

impl ExecContext {
    pub fn new(db: Arc<Database>, txn: Transaction, params: Vec<Value>, functions: FunctionContext) -> ExecContext {
        ExecContext {
            db,
            txn,
            params,
            outer: Vec::new(),
            functions,
            subqueries: BTreeMap::new(),
            work_tables: BTreeMap::new(),
            cancel: Arc::new(AtomicBool::new(false)),
            memory_limit: 1 << 30,
            last_value: BTreeMap::new(),
            actor: Actor { name: None, superuser: true },
            pauses: 0,
        }
    }

    /// Called between batches by long-running operators: fails with 57014
    /// once the statement is cancelled, and every [`PAUSE_YIELD_EVERY`]
    /// calls yields, so one long query never starves the other tasks of
    /// its worker thread (a cancel request among them).
    pub async fn pause(&mut self) -> Result<()> {
        self.check_cancel()?;
        self.pauses = self.pauses.wrapping_add(1);
        if self.pauses.is_multiple_of(PAUSE_YIELD_EVERY) {
            crate::env::yield_now().await;
        }
        Ok(())
    }

    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::sql("57014", "canceling statement due to user request"));
        }
        Ok(())
    }
}

/// A running plan node.
pub trait Operator: Send + Sync {
    /// The next batch, or `None` once the node is exhausted.
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>>;
}

pub type BoxOp = Box<dyn Operator>;

/// Builds the operator tree for `plan`.
pub fn build(plan: &Plan) -> Result<BoxOp> {
    build_reading(plan, None)
}

/// Builds `plan` for a parent that reads only the output columns marked in
/// `needed` (`None`: all of them). A projection or aggregation reads just
/// the columns its expressions name, and tells the filters and the scan
/// below it; the scan then skips decoding the rest, which stay NULL. Other
/// nodes pass nothing down, so their inputs produce every column.
fn build_reading(plan: &Plan, needed: Option<Vec<bool>>) -> Result<BoxOp> {
    Ok(match plan {
        Plan::Scan { filter, .. } => Box::new(scan::ScanOp::new(plan, also_reading(needed, filter.iter()))?),
        Plan::Values { rows, types } => Box::new(sort::ValuesOp::new(rows.clone(), types.clone())),
        Plan::Filter { input, predicate } => Box::new(FilterOp {
            input: build_reading(input, also_reading(needed, std::iter::once(predicate)))?,
            predicate: predicate.clone(),
        }),
        Plan::Project { input, exprs } => Box::new(ProjectOp {
            input: build_reading(input, also_reading(Some(Vec::new()), exprs))?,
            exprs: exprs.clone(),
        }),
        Plan::Join { .. } => join::build(plan)?,
        Plan::Aggregate { input, group_by, aggs } => {
            let agg_exprs =
                aggs.iter().flat_map(|a| a.args.iter().chain(&a.filter).chain(a.order_by.iter().map(|k| &k.expr)));
            let needed = also_reading(Some(Vec::new()), group_by.iter().chain(agg_exprs));
            Box::new(aggregate::AggregateOp::new(build_reading(input, needed)?, group_by.clone(), aggs.clone()))
        }
        Plan::Window { input, calls } => {
            Box::new(window::WindowOp::new(build(input)?, calls.clone(), input.output_types()))
        }
        Plan::Sort { input, keys } => Box::new(sort::SortOp::new(build(input)?, keys.clone())),
        Plan::Limit { input, limit, offset } => {
            Box::new(sort::LimitOp::new(build(input)?, limit.clone(), offset.clone()))
        }
        Plan::Distinct { input, on } => Box::new(sort::DistinctOp::new(build(input)?, on.clone())),
        Plan::SetOp { left, right, kind, all } => {
            Box::new(sort::SetOpOp::new(build(left)?, build(right)?, *kind, *all))
        }
        Plan::Recursive { id, base, step, union_all } => {
            Box::new(sort::RecursiveOp::new(*id, build(base)?, (**step).clone(), *union_all))
        }
        Plan::WorkTable { id, .. } => Box::new(sort::WorkTableOp { id: *id, done: false }),
        Plan::TableFunction { function, args, ordinality, types } => {
            Box::new(table_function::TableFunctionOp::new(*function, args.clone(), *ordinality, types.clone()))
        }
    })
}

/// `needed` plus the input columns `exprs` read; `None` (every column) if
/// `needed` is, or if an expression holds a subquery, which may see the
/// whole input row as its outer row.
fn also_reading<'a>(needed: Option<Vec<bool>>, exprs: impl IntoIterator<Item = &'a Expr>) -> Option<Vec<bool>> {
    let mut needed = needed?;
    let mut columns = Vec::new();
    for expr in exprs {
        let mut subquery = false;
        expr.walk(&mut |e| subquery |= matches!(e, Expr::Subquery(_)));
        if subquery {
            return None;
        }
        expr.columns_used(&mut columns);
    }
    for column in columns {
        if needed.len() <= column {
            needed.resize(column + 1, false);
        }
        needed[column] = true;
    }
    Some(needed)
}

/// Runs `plan` to completion and returns its batches.
pub async fn collect(plan: &Plan, ctx: &mut ExecContext) -> Result<Vec<Batch>> {
    let mut op = build(plan)?;
    drain(&mut op, ctx).await
}

/// Pulls every batch out of `op`.
pub async fn drain(op: &mut BoxOp, ctx: &mut ExecContext) -> Result<Vec<Batch>> {
    let mut out = Vec::new();
    while let Some(batch) = op.next(ctx).await? {
        if batch.len > 0 {
            out.push(batch);
        }
    }
    Ok(out)
}

/// Evaluates `e` over `batch`, computing subqueries and sequence calls first.
pub async fn eval(e: &Expr, batch: &Batch, ctx: &mut ExecContext) -> Result<Column> {
    let mut precomputed = BTreeMap::new();
    if eval::needs_async(e) {
        precompute(e, batch, ctx, &mut precomputed).await?;
    }
    let mut env = EvalEnv {
        params: &ctx.params,
        outer: &ctx.outer,
        precomputed: &precomputed,
        functions: &mut ctx.functions,
        rows: None,
    };
    eval_sync(e, batch, &mut env)
}

/// The rows of `batch` where `predicate` is true.
pub async fn filter_batch(predicate: &Expr, batch: Batch, ctx: &mut ExecContext) -> Result<Batch> {
    let mask = eval(predicate, &batch, ctx).await?;
    let keep = eval::selected(&mask);
    Ok(if keep.len() == batch.len { batch } else { batch.gather(&keep) })
}

fn precompute<'a>(
    e: &'a Expr,
    batch: &'a Batch,
    ctx: &'a mut ExecContext,
    out: &'a mut BTreeMap<usize, Column>,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        match e {
            Expr::Subquery(sub) => {
                let column = subquery_column(e, sub, batch, ctx).await?;
                out.insert(eval::node_key(e), column);
            }
            Expr::Function { name, args, ty } if eval::is_async_function(name) => {
                let mut values = Vec::with_capacity(batch.len);
                let arg_columns = {
                    let mut cols = Vec::new();
                    for a in args {
                        cols.push(Box::pin(eval(a, batch, ctx)).await?);
                    }
                    cols
                };
                for i in 0..batch.len {
                    let row: Vec<Value> = arg_columns.iter().map(|c| c.get(i)).collect();
                    values.push(async_function_call(name, &row, ctx).await?);
                }
                out.insert(eval::node_key(e), Column::from_values(values, ty));
            }
            _ => {
                for child in e.children() {
                    precompute(child, batch, ctx, out).await?;
                }
            }
        }
        Ok(())
    })
}

/// One value per row of `batch` for a subquery node.
async fn subquery_column(
    node: &Expr,
    sub: &crate::sql::expr::Subquery,
    batch: &Batch,
    ctx: &mut ExecContext,
) -> Result<Column> {
    let ty = node.ty();
    let xs = match &sub.kind {
        SubqueryKind::Any { expr, .. } | SubqueryKind::All { expr, .. } => {
            Some(Box::pin(eval(expr, batch, ctx)).await?)
        }
        _ => None,
    };
    let mut values = Vec::with_capacity(batch.len);
    if !sub.correlated {
        let key = Arc::as_ptr(&sub.plan) as usize;
        let result = match ctx.subqueries.get(&key) {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(run_subquery(&sub.plan, &sub.kind, ctx).await?);
                ctx.subqueries.insert(key, r.clone());
                r
            }
        };
        for i in 0..batch.len {
            let x = xs.as_ref().map(|c| c.get(i));
            values.push(eval::subquery_value(&sub.kind, &result.0, result.1, x.as_ref())?);
        }
    } else {
        for i in 0..batch.len {
            ctx.outer.push(batch.row(i));
            let result = run_subquery(&sub.plan, &sub.kind, ctx).await;
            ctx.outer.pop();
            let (rows, count) = result?;
            let x = xs.as_ref().map(|c| c.get(i));
            values.push(eval::subquery_value(&sub.kind, &rows, count, x.as_ref())?);
        }
    }
    Ok(Column::from_values(values, &ty))
}

/// Runs a subquery: its first column's values (as many as the kind needs)
/// and its row count.
fn run_subquery<'a>(
    plan: &'a Plan,
    kind: &'a SubqueryKind,
    ctx: &'a mut ExecContext,
) -> BoxFuture<'a, Result<(Vec<Value>, usize)>> {
    Box::pin(async move {
        let mut op = build(plan)?;
        let mut values = Vec::new();
        let mut count = 0;
        while let Some(batch) = op.next(ctx).await? {
            count += batch.len;
            match kind {
                SubqueryKind::Exists if count > 0 => break,
                SubqueryKind::Scalar if count > 1 => break,
                SubqueryKind::Exists => {}
                _ => {
                    if let Some(c) = batch.columns.first() {
                        values.extend(c.to_values());
                    }
                }
            }
        }
        Ok((values, count))
    })
}

async fn async_function_call(name: &str, args: &[Value], ctx: &mut ExecContext) -> Result<Value> {
    if name != scan::RELATION_BYTES {
        return sequence_call(name, args, ctx).await;
    }
    match args {
        [Value::Array(ranges)] => Ok(Value::Int(scan::relation_bytes(ranges, ctx).await?)),
        // An oid that names no relation: NULL, as in PostgreSQL.
        _ => Ok(Value::Null),
    }
}

async fn sequence_call(name: &str, args: &[Value], ctx: &mut ExecContext) -> Result<Value> {
    let seq_name = match args.first() {
        Some(Value::Text(s)) => s.to_lowercase(),
        Some(Value::Null) => return Ok(Value::Null),
        _ if name == "lastval" => {
            return ctx
                .last_value
                .get("")
                .map(|v| Value::Int(*v))
                .ok_or_else(|| Error::sql("55000", "lastval is not yet defined in this session"));
        }
        _ => return Err(Error::sql("42883", format!("function {name} needs a sequence name"))),
    };
    let schema = ctx.db.catalog.committed().await?;
    let def = schema
        .sequences
        .get(&seq_name)
        .cloned()
        .ok_or_else(|| Error::sql("42P01", format!("relation \"{seq_name}\" does not exist")))?;
    match name {
        "nextval" => {
            let bound = if def.increment > 0 { def.max } else { def.min };
            let v = ctx.db.sequences.next_stepped(&seq_name, def.start, def.increment, bound, def.cycle).await?;
            ctx.last_value.insert(seq_name, v);
            ctx.last_value.insert(String::new(), v);
            Ok(Value::Int(v))
        }
        "currval" => ctx.last_value.get(&seq_name).map(|v| Value::Int(*v)).ok_or_else(|| {
            Error::sql("55000", format!("currval of sequence \"{seq_name}\" is not yet defined in this session"))
        }),
        "setval" => {
            let Some(Value::Int(v)) = args.get(1).cloned() else {
                return Err(Error::sql("22023", "setval needs a bigint value"));
            };
            // The next nextval returns v + increment.
            let position = (v - def.start) / def.increment + 1;
            ctx.db.sequences.set_position(&seq_name, position).await?;
            Ok(Value::Int(v))
        }
        _ => Err(Error::NotSupported(name.to_string())),
    }
}

/// Filters each input batch.
struct FilterOp {
    input: BoxOp,
    predicate: Expr,
}

impl Operator for FilterOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            loop {
                ctx.pause().await?;
                let Some(batch) = self.input.next(ctx).await? else { return Ok(None) };
                let kept = filter_batch(&self.predicate, batch, ctx).await?;
                if kept.len > 0 {
                    return Ok(Some(kept));
                }
            }
        })
    }
}

/// Computes output columns from each input batch.
struct ProjectOp {
    input: BoxOp,
    exprs: Vec<Expr>,
}

impl Operator for ProjectOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            let Some(batch) = self.input.next(ctx).await? else { return Ok(None) };
            let mut columns = Vec::with_capacity(self.exprs.len());
            for e in &self.exprs {
                columns.push(eval(e, &batch, ctx).await?);
            }
            Ok(Some(Batch::new(columns, batch.len)))
        })
    }
}

/// The executor's hash tables: std's map with a fixed-seed hasher, so the
/// same inserts give the same iteration order in every process (the
/// determinism ban is on the randomly seeded default hasher).
#[allow(clippy::disallowed_types)]
pub type FixedHashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// An empty [`FixedHashMap`].
pub fn fixed_hash_map<K, V>() -> FixedHashMap<K, V> {
    FixedHashMap::with_hasher(fixed_hasher())
}

/// The fixed-seed hasher behind [`FixedHashMap`]: the same value hashes the
/// same in every process (ANALYZE's distinct counts use it too).
pub fn fixed_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x5157, 0x6a6f_696e, 0x7275_7374, 0x0079_6462)
}

/// Approximate bytes a batch holds, for memory limits.
pub fn batch_bytes(batch: &Batch) -> usize {
    batch
        .columns
        .iter()
        .map(|c| match &c.data {
            crate::sql::batch::ColumnData::Values(v) => v.iter().map(value_bytes).sum::<usize>(),
            _ => c.len() * 9,
        })
        .sum()
}

fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Text(s) | Value::Json(s) => 32 + s.len(),
        Value::Bytes(b) => 32 + b.len(),
        Value::Array(a) => 32 + a.iter().map(value_bytes).sum::<usize>(),
        _ => 32,
    }
}

/// Fails with 53200 once `used` exceeds the statement's memory limit.
pub fn charge_memory(ctx: &ExecContext, used: usize, what: &str) -> Result<()> {
    if used > ctx.memory_limit {
        return Err(Error::sql(
            "53200",
            format!("out of memory: {what} needs more than work_mem ({} bytes)", ctx.memory_limit),
        ));
    }
    Ok(())
}

/// Splits rows into batches of at most [`BATCH_SIZE`].
pub fn rows_to_batches(rows: Vec<Vec<Value>>, types: &[crate::sql::value::DataType]) -> Vec<Batch> {
    rows.chunks(BATCH_SIZE).map(|chunk| Batch::from_rows(chunk, types)).collect()
}
