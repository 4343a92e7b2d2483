//! Row-set operators: VALUES, sort, limit, distinct, set operations and
//! recursive CTEs.

use std::collections::{BTreeMap, VecDeque};

use crate::env::BoxFuture;
use crate::sql::batch::{BATCH_SIZE, Batch, Column};
use crate::sql::expr::Expr;
use crate::sql::plan::{Plan, SetOpKind, SortKey};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

use super::aggregate::compare_keys;
use super::{BoxOp, ExecContext, FixedHashMap, Operator, batch_bytes, charge_memory, drain, eval, fixed_hash_map};

/// Literal rows.
pub struct ValuesOp {
    rows: Vec<Vec<Expr>>,
    types: Vec<DataType>,
    next_row: usize,
}

impl ValuesOp {
    pub fn new(rows: Vec<Vec<Expr>>, types: Vec<DataType>) -> ValuesOp {
        ValuesOp { rows, types, next_row: 0 }
    }
}

impl Operator for ValuesOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.next_row >= self.rows.len() {
                return Ok(None);
            }
            let end = (self.next_row + BATCH_SIZE).min(self.rows.len());
            let one = Batch { columns: vec![], len: 1 };
            let mut out = Vec::with_capacity(end - self.next_row);
            for row in &self.rows[self.next_row..end] {
                let mut values = Vec::with_capacity(row.len());
                for e in row {
                    values.push(eval(e, &one, ctx).await?.get(0));
                }
                out.push(values);
            }
            self.next_row = end;
            Ok(Some(Batch::from_rows(&out, &self.types)))
        })
    }
}

/// Buffers all input rows as values, charging memory.
async fn buffer_rows(
    input: &mut BoxOp,
    ctx: &mut ExecContext,
    what: &str,
) -> Result<(Vec<Vec<Value>>, Option<Vec<DataType>>)> {
    let mut rows = Vec::new();
    let mut bytes = 0;
    let mut types = None;
    while let Some(batch) = input.next(ctx).await? {
        ctx.pause().await?;
        bytes += batch_bytes(&batch);
        charge_memory(ctx, bytes, what)?;
        if types.is_none() {
            types = Some(column_types(&batch));
        }
        for i in 0..batch.len {
            rows.push(batch.row(i));
        }
    }
    Ok((rows, types))
}

/// Storage types of a batch's columns (enough to rebuild typed columns).
fn column_types(batch: &Batch) -> Vec<DataType> {
    batch
        .columns
        .iter()
        .map(|c| match c.data {
            crate::sql::batch::ColumnData::Int(_) => DataType::Int64,
            crate::sql::batch::ColumnData::Float(_) => DataType::Float64,
            crate::sql::batch::ColumnData::Bool(_) => DataType::Bool,
            crate::sql::batch::ColumnData::Values(_) => DataType::Unknown,
        })
        .collect()
}

/// Emits buffered output batch by batch.
struct Output {
    batches: VecDeque<Batch>,
}

impl Output {
    fn new(rows: Vec<Vec<Value>>, types: &[DataType]) -> Output {
        Output { batches: super::rows_to_batches(rows, types).into() }
    }
}

/// ORDER BY: sorts all input (stable, so ties keep input order).
pub struct SortOp {
    input: BoxOp,
    keys: Vec<SortKey>,
    output: Option<Output>,
}

impl SortOp {
    pub fn new(input: BoxOp, keys: Vec<SortKey>) -> SortOp {
        SortOp { input, keys, output: None }
    }

    async fn run(&mut self, ctx: &mut ExecContext) -> Result<Output> {
        let mut keyed: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
        let mut bytes = 0;
        let mut types = None;
        while let Some(batch) = self.input.next(ctx).await? {
            ctx.pause().await?;
            bytes += batch_bytes(&batch) * 2;
            charge_memory(ctx, bytes, "sort")?;
            types.get_or_insert_with(|| column_types(&batch));
            let mut key_columns = Vec::with_capacity(self.keys.len());
            for k in &self.keys {
                key_columns.push(eval(&k.expr, &batch, ctx).await?);
            }
            for i in 0..batch.len {
                keyed.push((key_columns.iter().map(|c| c.get(i)).collect(), batch.row(i)));
            }
        }
        keyed.sort_by(|a, b| compare_keys(&a.0, &b.0, &self.keys));
        let rows = keyed.into_iter().map(|(_, row)| row).collect();
        Ok(Output::new(rows, &types.unwrap_or_default()))
    }
}

impl Operator for SortOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.output.is_none() {
                self.output = Some(self.run(ctx).await?);
            }
            Ok(self.output.as_mut().and_then(|o| o.batches.pop_front()))
        })
    }
}

/// LIMIT / OFFSET: stops pulling once the limit is reached.
pub struct LimitOp {
    input: BoxOp,
    limit_expr: Option<Expr>,
    offset_expr: Option<Expr>,
    bounds: Option<(Option<u64>, u64)>,
    emitted: u64,
    skipped: u64,
}

impl LimitOp {
    pub fn new(input: BoxOp, limit: Option<Expr>, offset: Option<Expr>) -> LimitOp {
        LimitOp { input, limit_expr: limit, offset_expr: offset, bounds: None, emitted: 0, skipped: 0 }
    }

    async fn count(e: &Option<Expr>, ctx: &mut ExecContext, what: &str) -> Result<Option<u64>> {
        let Some(e) = e else { return Ok(None) };
        let one = Batch { columns: vec![], len: 1 };
        match eval(e, &one, ctx).await?.get(0) {
            Value::Null => Ok(None),
            Value::Int(i) if i >= 0 => Ok(Some(i as u64)),
            _ => Err(Error::sql("2201W", format!("{what} must not be negative"))),
        }
    }
}

impl Operator for LimitOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.bounds.is_none() {
                let limit = Self::count(&self.limit_expr, ctx, "LIMIT").await?;
                let offset = Self::count(&self.offset_expr, ctx, "OFFSET").await?.unwrap_or(0);
                self.bounds = Some((limit, offset));
            }
            let (limit, offset) = self.bounds.expect("set above");
            loop {
                if limit.is_some_and(|l| self.emitted >= l) {
                    return Ok(None);
                }
                let Some(batch) = self.input.next(ctx).await? else { return Ok(None) };
                let len = batch.len as u64;
                let skip = (offset - self.skipped).min(len);
                self.skipped += skip;
                let available = len - skip;
                let take = limit.map(|l| (l - self.emitted).min(available)).unwrap_or(available);
                if take == 0 {
                    continue;
                }
                self.emitted += take;
                let rows: Vec<u32> = (skip as u32..(skip + take) as u32).collect();
                return Ok(Some(batch.gather(&rows)));
            }
        })
    }
}

/// DISTINCT (whole rows) or DISTINCT ON (first row per key).
pub struct DistinctOp {
    input: BoxOp,
    on: Option<Vec<Expr>>,
    seen: FixedHashMap<Vec<Value>, ()>,
}

impl DistinctOp {
    pub fn new(input: BoxOp, on: Option<Vec<Expr>>) -> DistinctOp {
        DistinctOp { input, on, seen: fixed_hash_map() }
    }
}

impl Operator for DistinctOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            loop {
                let Some(batch) = self.input.next(ctx).await? else { return Ok(None) };
                let key_columns: Option<Vec<Column>> = match &self.on {
                    None => None,
                    Some(on) => {
                        let mut cols = Vec::new();
                        for e in on {
                            cols.push(eval(e, &batch, ctx).await?);
                        }
                        Some(cols)
                    }
                };
                let mut keep = Vec::new();
                for i in 0..batch.len {
                    let key = match &key_columns {
                        None => batch.row(i),
                        Some(cols) => cols.iter().map(|c| c.get(i)).collect(),
                    };
                    if self.seen.insert(key, ()).is_none() {
                        keep.push(i as u32);
                    }
                }
                charge_memory(ctx, self.seen.len() * 64, "DISTINCT")?;
                if !keep.is_empty() {
                    return Ok(Some(batch.gather(&keep)));
                }
            }
        })
    }
}

/// UNION / INTERSECT / EXCEPT, with or without ALL.
pub struct SetOpOp {
    left: BoxOp,
    right: BoxOp,
    kind: SetOpKind,
    all: bool,
    output: Option<Output>,
}

impl SetOpOp {
    pub fn new(left: BoxOp, right: BoxOp, kind: SetOpKind, all: bool) -> SetOpOp {
        SetOpOp { left, right, kind, all, output: None }
    }

    async fn run(&mut self, ctx: &mut ExecContext) -> Result<Output> {
        let (left, lt) = buffer_rows(&mut self.left, ctx, "set operation").await?;
        let (right, rt) = buffer_rows(&mut self.right, ctx, "set operation").await?;
        let types = lt.or(rt).unwrap_or_default();
        let rows = set_rows(left, right, self.kind, self.all);
        Ok(Output::new(rows, &types))
    }
}

/// The rows of `left kind right` in PostgreSQL's multiset semantics.
fn set_rows(left: Vec<Vec<Value>>, right: Vec<Vec<Value>>, kind: SetOpKind, all: bool) -> Vec<Vec<Value>> {
    match kind {
        SetOpKind::Union if all => left.into_iter().chain(right).collect(),
        SetOpKind::Union => {
            let mut seen: FixedHashMap<Vec<Value>, ()> = fixed_hash_map();
            left.into_iter().chain(right).filter(|r| seen.insert(r.clone(), ()).is_none()).collect()
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            let mut counts: BTreeMap<Vec<Value>, usize> = BTreeMap::new();
            for r in right {
                *counts.entry(r).or_default() += 1;
            }
            let mut emitted: FixedHashMap<Vec<Value>, ()> = fixed_hash_map();
            let mut out = Vec::new();
            for r in left {
                let available = counts.get_mut(&r);
                let in_right = available.as_ref().is_some_and(|n| **n > 0);
                let keep = match (kind, all) {
                    (SetOpKind::Intersect, true) => in_right,
                    (SetOpKind::Intersect, false) => in_right && emitted.insert(r.clone(), ()).is_none(),
                    (_, true) => !in_right,
                    (_, false) => available.is_none() && emitted.insert(r.clone(), ()).is_none(),
                };
                if all
                    && in_right
                    && let Some(n) = counts.get_mut(&r)
                {
                    *n -= 1;
                }
                if keep {
                    out.push(r);
                }
            }
            out
        }
    }
}

impl Operator for SetOpOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.output.is_none() {
                self.output = Some(self.run(ctx).await?);
            }
            Ok(self.output.as_mut().and_then(|o| o.batches.pop_front()))
        })
    }
}

/// WITH RECURSIVE: base rows, then the step over the previous iteration's
/// rows until it yields nothing (new).
pub struct RecursiveOp {
    id: usize,
    base: BoxOp,
    step: Plan,
    union_all: bool,
    output: Option<Output>,
}

impl RecursiveOp {
    pub fn new(id: usize, base: BoxOp, step: Plan, union_all: bool) -> RecursiveOp {
        RecursiveOp { id, base, step, union_all, output: None }
    }

    async fn run(&mut self, ctx: &mut ExecContext) -> Result<Output> {
        let types = self.step.output_types();
        let mut seen: FixedHashMap<Vec<Value>, ()> = fixed_hash_map();
        let (base, _) = buffer_rows(&mut self.base, ctx, "recursive query").await?;
        let mut all = Vec::new();
        let mut frontier = self.keep_new(base, &mut seen);
        // A runaway recursion ends at the memory limit or by cancellation.
        loop {
            ctx.pause().await?;
            if frontier.is_empty() {
                return Ok(Output::new(all, &types));
            }
            all.extend(frontier.iter().cloned());
            charge_memory(ctx, all.len() * 64, "recursive query")?;
            ctx.work_tables.insert(self.id, super::rows_to_batches(frontier, &types));
            let mut step = super::build(&self.step)?;
            let batches = drain(&mut step, ctx).await?;
            let rows: Vec<Vec<Value>> = batches.iter().flat_map(|b| (0..b.len).map(|i| b.row(i))).collect();
            frontier = self.keep_new(rows, &mut seen);
        }
    }

    fn keep_new(&self, rows: Vec<Vec<Value>>, seen: &mut FixedHashMap<Vec<Value>, ()>) -> Vec<Vec<Value>> {
        if self.union_all {
            return rows;
        }
        rows.into_iter().filter(|r| seen.insert(r.clone(), ()).is_none()).collect()
    }
}

impl Operator for RecursiveOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.output.is_none() {
                self.output = Some(self.run(ctx).await?);
            }
            Ok(self.output.as_mut().and_then(|o| o.batches.pop_front()))
        })
    }
}

/// The previous iteration's rows of a recursive CTE.
pub struct WorkTableOp {
    pub id: usize,
    pub done: bool,
}

impl Operator for WorkTableOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            self.done = true;
            let batches = ctx.work_tables.get(&self.id).cloned().unwrap_or_default();
            let mut all = Batch::default();
            for b in batches {
                all.append(&b);
            }
            Ok(if all.len == 0 { None } else { Some(all) })
        })
    }
}
