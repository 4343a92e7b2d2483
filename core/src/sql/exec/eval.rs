//! Vectorized expression evaluation: an [`Expr`] over a [`Batch`] gives a
//! [`Column`].
//!
//! Integer and float arithmetic and comparisons run as tight loops over
//! typed vectors; everything else goes value by value through `ops`,
//! `cast` and `functions`, the one place each operator's semantics live.
//! AND, OR, CASE and COALESCE evaluate their later operands only on the
//! rows that need them (by gathering those rows), so `b <> 0 AND a / b > 1`
//! never divides by zero, as in PostgreSQL.
//!
//! Subqueries and sequence functions need the transaction, so `eval` (async)
//! computes those nodes first into columns keyed by node address, then runs
//! the synchronous evaluator, which reads them from there.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::sql::batch::{Batch, Column, ColumnData};
use crate::sql::cast;
use crate::sql::expr::{Expr, SubqueryKind};
use crate::sql::functions::{self, FunctionContext};
use crate::sql::ops::{self, BinaryOp};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

/// What the synchronous evaluator reads besides the batch.
pub struct EvalEnv<'a> {
    pub params: &'a [Value],
    /// Rows of enclosing queries, innermost last.
    pub outer: &'a [Vec<Value>],
    /// Results of subquery and sequence nodes, by node address.
    pub precomputed: &'a BTreeMap<usize, Column>,
    pub functions: &'a mut FunctionContext,
    /// When evaluating on a subset of the rows `precomputed` was made for
    /// (a later operand of AND/OR/CASE/COALESCE), the original row of each
    /// current row.
    pub rows: Option<Vec<u32>>,
}

impl EvalEnv<'_> {
    /// The precomputed column of node `e`, aligned with the current rows.
    fn precomputed_for(&self, e: &Expr) -> Option<Column> {
        let column = self.precomputed.get(&node_key(e))?;
        Some(match &self.rows {
            None => column.clone(),
            Some(map) => column.gather(map),
        })
    }
}

/// Evaluates `e` on the rows `subset` of `batch`.
fn eval_subset(e: &Expr, batch: &Batch, subset: &[u32], env: &mut EvalEnv) -> Result<Column> {
    if subset.len() == batch.len && subset.iter().enumerate().all(|(i, &r)| i as u32 == r) {
        return eval_sync(e, batch, env);
    }
    let sub = batch.gather(subset);
    let saved = env.rows.take();
    env.rows = Some(match &saved {
        None => subset.to_vec(),
        Some(map) => subset.iter().map(|&i| map[i as usize]).collect(),
    });
    let result = eval_sync(e, &sub, env);
    env.rows = saved;
    result
}

/// The address identifying a node in `precomputed`.
pub fn node_key(e: &Expr) -> usize {
    e as *const Expr as usize
}

/// Evaluates `e` on every row of `batch`.
pub fn eval_sync(e: &Expr, batch: &Batch, env: &mut EvalEnv) -> Result<Column> {
    match e {
        Expr::Column { index, .. } => Ok(batch.columns[*index].clone()),
        Expr::Literal(v, ty) => Ok(Column::repeat(v, ty, batch.len)),
        Expr::Param { index, ty } => {
            let v = env
                .params
                .get(*index)
                .cloned()
                .ok_or_else(|| Error::sql("08P01", format!("no value for parameter ${}", index + 1)))?;
            let v = if matches!(ty, DataType::Unknown) { v } else { cast::cast(v, ty)? };
            Ok(Column::repeat(&v, ty, batch.len))
        }
        Expr::Outer { depth, index, ty } => {
            let row = env.outer.len().checked_sub(depth + 1).and_then(|i| env.outer.get(i));
            let v = row
                .and_then(|r| r.get(*index))
                .cloned()
                .ok_or_else(|| Error::Corrupt("outer reference without an outer row".into()))?;
            Ok(Column::repeat(&v, ty, batch.len))
        }
        Expr::Binary { op, left, right, ty } => {
            let l = eval_sync(left, batch, env)?;
            let r = eval_sync(right, batch, env)?;
            binary_columns(*op, &l, &r, ty)
        }
        Expr::Unary { op, expr, ty } => {
            let c = eval_sync(expr, batch, env)?;
            map_values(&c, ty, |v| ops::unary(*op, v, ty))
        }
        Expr::And(a, b) => logic(a, b, batch, env, true),
        Expr::Or(a, b) => logic(a, b, batch, env, false),
        Expr::Not(inner) => {
            let c = eval_sync(inner, batch, env)?;
            map_values(&c, &DataType::Bool, |v| Ok(v.as_bool().map(|b| Value::Bool(!b)).unwrap_or(Value::Null)))
        }
        Expr::IsNull { expr, negated } => {
            let c = eval_sync(expr, batch, env)?;
            let out: Vec<bool> = (0..c.len()).map(|i| c.is_null(i) != *negated).collect();
            Ok(Column { data: ColumnData::Bool(out), nulls: None })
        }
        Expr::IsBool { expr, value, negated } => {
            let c = eval_sync(expr, batch, env)?;
            let out: Vec<bool> = (0..c.len()).map(|i| (c.get(i).as_bool() == Some(*value)) != *negated).collect();
            Ok(Column { data: ColumnData::Bool(out), nulls: None })
        }
        Expr::IsDistinct { left, right, negated } => {
            let (l, r) = (eval_sync(left, batch, env)?, eval_sync(right, batch, env)?);
            let out: Vec<bool> = (0..batch.len).map(|i| (l.get(i) != r.get(i)) != *negated).collect();
            Ok(Column { data: ColumnData::Bool(out), nulls: None })
        }
        Expr::Cast { expr, to } => cast_column(eval_sync(expr, batch, env)?, to),
        Expr::Case { branches, otherwise, ty, .. } => case(branches, otherwise.as_deref(), ty, batch, env),
        Expr::Coalesce { args, ty } => coalesce(args, ty, batch, env),
        Expr::NullIf { left, right, ty } => {
            let (l, r) = (eval_sync(left, batch, env)?, eval_sync(right, batch, env)?);
            let out = (0..batch.len).map(|i| {
                let a = l.get(i);
                if a.sql_eq(&r.get(i)) == Some(true) { Value::Null } else { a }
            });
            Ok(Column::from_values(out.collect(), ty))
        }
        Expr::InList { expr, list, negated } => in_list(expr, list, *negated, batch, env),
        Expr::Quantified { expr, op, array, all } => quantified_column(expr, *op, array, *all, batch, env),
        Expr::Function { name, args, ty } => function(e, name, args, ty, batch, env),
        Expr::Subquery(_) => {
            env.precomputed_for(e).ok_or_else(|| Error::Corrupt("subquery evaluated without its results".into()))
        }
    }
}

/// Applies a binary operator column by column, with typed fast paths.
pub fn binary_columns(op: BinaryOp, l: &Column, r: &Column, ty: &DataType) -> Result<Column> {
    if let Some(result) = fast_binary(op, l, r, ty) {
        return result;
    }
    let out: Result<Vec<Value>> = (0..l.len()).map(|i| ops::binary(op, &l.get(i), &r.get(i), ty)).collect();
    Ok(Column::from_values(out?, ty))
}

fn merged_nulls(l: &Column, r: &Column) -> Option<Arc<Vec<bool>>> {
    match (&l.nulls, &r.nulls) {
        (None, None) => None,
        (Some(a), None) => Some(a.clone()),
        (None, Some(b)) => Some(b.clone()),
        (Some(a), Some(b)) => Some(Arc::new(a.iter().zip(b.iter()).map(|(x, y)| *x || *y).collect())),
    }
}

/// Integer and float arithmetic and comparisons over typed vectors.
fn fast_binary(op: BinaryOp, l: &Column, r: &Column, ty: &DataType) -> Option<Result<Column>> {
    let nulls = merged_nulls(l, r);
    match (&l.data, &r.data) {
        (ColumnData::Int(a), ColumnData::Int(b)) => {
            if let Some(cmp) = compare_op(op) {
                let out = a.iter().zip(b).map(|(x, y)| cmp(x.cmp(y))).collect();
                return Some(Ok(Column { data: ColumnData::Bool(out), nulls }));
            }
            let (lo, hi) = int_range(ty)?;
            let mut out = Vec::with_capacity(a.len());
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if nulls.as_ref().is_some_and(|n| n[i]) {
                    out.push(0);
                    continue;
                }
                let v = match op {
                    BinaryOp::Add => x.checked_add(*y),
                    BinaryOp::Sub => x.checked_sub(*y),
                    BinaryOp::Mul => x.checked_mul(*y),
                    _ => return None,
                };
                match v {
                    Some(v) if v >= lo && v <= hi => out.push(v),
                    _ => return Some(Err(out_of_range(ty))),
                }
            }
            Some(Ok(Column { data: ColumnData::Int(out), nulls }))
        }
        (ColumnData::Float(a), ColumnData::Float(b)) => {
            if let Some(cmp) = compare_op(op) {
                let out = a.iter().zip(b).map(|(x, y)| cmp(crate::sql::value::float_cmp(*x, *y))).collect();
                return Some(Ok(Column { data: ColumnData::Bool(out), nulls }));
            }
            let f: fn(f64, f64) -> f64 = match op {
                BinaryOp::Add => |x, y| x + y,
                BinaryOp::Sub => |x, y| x - y,
                BinaryOp::Mul => |x, y| x * y,
                _ => return None,
            };
            let out: Vec<f64> = a.iter().zip(b).map(|(x, y)| f(*x, *y)).collect();
            let overflow = out.iter().zip(a.iter().zip(b)).enumerate().any(|(i, (v, (x, y)))| {
                v.is_infinite() && x.is_finite() && y.is_finite() && !nulls.as_ref().is_some_and(|n| n[i])
            });
            if overflow {
                return Some(Err(Error::sql("22003", "value out of range: overflow")));
            }
            Some(Ok(Column { data: ColumnData::Float(out), nulls }))
        }
        _ => None,
    }
}

fn compare_op(op: BinaryOp) -> Option<fn(Ordering) -> bool> {
    Some(match op {
        BinaryOp::Eq => |o| o == Ordering::Equal,
        BinaryOp::NotEq => |o| o != Ordering::Equal,
        BinaryOp::Lt => |o| o == Ordering::Less,
        BinaryOp::LtEq => |o| o != Ordering::Greater,
        BinaryOp::Gt => |o| o == Ordering::Greater,
        BinaryOp::GtEq => |o| o != Ordering::Less,
        _ => return None,
    })
}

fn int_range(ty: &DataType) -> Option<(i64, i64)> {
    match ty {
        DataType::Int16 => Some((i16::MIN as i64, i16::MAX as i64)),
        DataType::Int32 => Some((i32::MIN as i64, i32::MAX as i64)),
        DataType::Int64 => Some((i64::MIN, i64::MAX)),
        _ => None,
    }
}

fn out_of_range(ty: &DataType) -> Error {
    Error::sql("22003", format!("{} out of range", ty.sql_name()))
}

/// Applies `f` to every value (NULLs included: `f` decides).
fn map_values(c: &Column, ty: &DataType, mut f: impl FnMut(&Value) -> Result<Value>) -> Result<Column> {
    let out: Result<Vec<Value>> = (0..c.len()).map(|i| f(&c.get(i))).collect();
    Ok(Column::from_values(out?, ty))
}

/// Casts a whole column.
pub fn cast_column(c: Column, to: &DataType) -> Result<Column> {
    match (&c.data, to) {
        (ColumnData::Int(_), DataType::Int64) => return Ok(c),
        (ColumnData::Int(v), DataType::Float64) => {
            return Ok(Column {
                data: ColumnData::Float(v.iter().map(|x| *x as f64).collect()),
                nulls: c.nulls.clone(),
            });
        }
        (ColumnData::Float(_), DataType::Float64) => return Ok(c),
        _ => {}
    }
    map_values(&c, to, |v| cast::cast(v.clone(), to))
}

/// Three-valued AND (`is_and`) or OR; the right side only where the left
/// does not decide.
fn logic(a: &Expr, b: &Expr, batch: &Batch, env: &mut EvalEnv, is_and: bool) -> Result<Column> {
    let left = eval_sync(a, batch, env)?;
    let undecided: Vec<u32> =
        (0..batch.len as u32).filter(|&i| left.get(i as usize).as_bool() != Some(!is_and)).collect();
    let mut out: Vec<Value> = left.to_values();
    if !undecided.is_empty() {
        let right = eval_subset(b, batch, &undecided, env)?;
        for (k, &i) in undecided.iter().enumerate() {
            let (l, r) = (out[i as usize].as_bool(), right.get(k).as_bool());
            out[i as usize] = match (l, r) {
                (_, Some(x)) if x != is_and => Value::Bool(x),
                (Some(x), Some(y)) => Value::Bool(if is_and { x && y } else { x || y }),
                _ => Value::Null,
            };
        }
    }
    Ok(Column::from_values(out, &DataType::Bool))
}

fn case(
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    ty: &DataType,
    batch: &Batch,
    env: &mut EvalEnv,
) -> Result<Column> {
    let mut out = vec![Value::Null; batch.len];
    let mut pending: Vec<u32> = (0..batch.len as u32).collect();
    for (when, then) in branches {
        if pending.is_empty() {
            break;
        }
        let cond = eval_subset(when, batch, &pending, env)?;
        let (hit, miss): (Vec<usize>, Vec<usize>) =
            (0..pending.len()).partition(|&k| cond.get(k).as_bool() == Some(true));
        if !hit.is_empty() {
            let rows: Vec<u32> = hit.iter().map(|&k| pending[k]).collect();
            let values = eval_subset(then, batch, &rows, env)?;
            for (k, &row) in rows.iter().enumerate() {
                out[row as usize] = values.get(k);
            }
        }
        pending = miss.iter().map(|&k| pending[k]).collect();
    }
    if let (Some(e), false) = (otherwise, pending.is_empty()) {
        let values = eval_subset(e, batch, &pending, env)?;
        for (k, &row) in pending.iter().enumerate() {
            out[row as usize] = values.get(k);
        }
    }
    Ok(Column::from_values(out, ty))
}

fn coalesce(args: &[Expr], ty: &DataType, batch: &Batch, env: &mut EvalEnv) -> Result<Column> {
    let mut out = vec![Value::Null; batch.len];
    let mut pending: Vec<u32> = (0..batch.len as u32).collect();
    for arg in args {
        if pending.is_empty() {
            break;
        }
        let values = eval_subset(arg, batch, &pending, env)?;
        let mut still = Vec::new();
        for (k, &row) in pending.iter().enumerate() {
            let v = values.get(k);
            if v.is_null() {
                still.push(row);
            } else {
                out[row as usize] = v;
            }
        }
        pending = still;
    }
    Ok(Column::from_values(out, ty))
}

/// `x IN (list)`: true on a match, NULL if no match but a NULL somewhere.
fn in_list(expr: &Expr, list: &[Expr], negated: bool, batch: &Batch, env: &mut EvalEnv) -> Result<Column> {
    let x = eval_sync(expr, batch, env)?;
    let items: Vec<Column> = list.iter().map(|e| eval_sync(e, batch, env)).collect::<Result<_>>()?;
    let out = (0..batch.len).map(|i| {
        let v = x.get(i);
        let result = membership(&v, items.iter().map(|c| c.get(i)));
        result.map(|b| Value::Bool(b != negated)).unwrap_or(Value::Null)
    });
    Ok(Column::from_values(out.collect(), &DataType::Bool))
}

/// `x op ANY (array)` (or ALL) row by row; a NULL array gives NULL.
fn quantified_column(
    expr: &Expr,
    op: BinaryOp,
    array: &Expr,
    all: bool,
    batch: &Batch,
    env: &mut EvalEnv,
) -> Result<Column> {
    let (x, arrays) = (eval_sync(expr, batch, env)?, eval_sync(array, batch, env)?);
    let out = (0..batch.len).map(|i| match arrays.get(i) {
        Value::Array(items) => quantified(&x.get(i), op, &items, all),
        _ => Ok(Value::Null),
    });
    Ok(Column::from_values(out.collect::<Result<_>>()?, &DataType::Bool))
}

/// SQL `v = ANY(values)`: Some(true) on a match, None if unknown.
pub fn membership(v: &Value, values: impl Iterator<Item = Value>) -> Option<bool> {
    if v.is_null() {
        return None;
    }
    let mut saw_null = false;
    for item in values {
        match v.sql_eq(&item) {
            Some(true) => return Some(true),
            None => saw_null = true,
            Some(false) => {}
        }
    }
    if saw_null { None } else { Some(false) }
}

fn function(node: &Expr, name: &str, args: &[Expr], ty: &DataType, batch: &Batch, env: &mut EvalEnv) -> Result<Column> {
    if let Some(c) = env.precomputed_for(node) {
        return Ok(c);
    }
    if name == "default" {
        return Err(Error::sql("42601", "DEFAULT is not allowed in this context"));
    }
    if name == "array" {
        let cols: Vec<Column> = args.iter().map(|a| eval_sync(a, batch, env)).collect::<Result<_>>()?;
        let out = (0..batch.len).map(|i| Value::Array(cols.iter().map(|c| c.get(i)).collect()));
        return Ok(Column::from_values(out.collect(), ty));
    }
    let cols: Vec<Column> = args.iter().map(|a| eval_sync(a, batch, env)).collect::<Result<_>>()?;
    let mut out = Vec::with_capacity(batch.len);
    let mut row = Vec::with_capacity(cols.len());
    for i in 0..batch.len.max(usize::from(cols.is_empty() && batch.len > 0)) {
        row.clear();
        row.extend(cols.iter().map(|c| c.get(i)));
        out.push(functions::call(name, &row, env.functions)?);
    }
    out.truncate(batch.len);
    Ok(Column::from_values(out, ty))
}

/// Whether `e` has nodes `eval` must compute asynchronously first.
pub fn needs_async(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |n| {
        if matches!(n, Expr::Subquery(_)) || matches!(n, Expr::Function { name, .. } if is_async_function(name)) {
            found = true;
        }
    });
    found
}

pub fn is_sequence_function(name: &str) -> bool {
    matches!(name, "nextval" | "currval" | "setval" | "lastval")
}

/// Functions that reach the database (sequences, relation sizes), so they
/// are evaluated ahead of the batch, asynchronously.
pub fn is_async_function(name: &str) -> bool {
    is_sequence_function(name) || name == super::scan::RELATION_BYTES
}

/// How a subquery's rows answer for one outer row (or for all, if uncorrelated).
pub fn subquery_value(kind: &SubqueryKind, rows: &[Value], count: usize, x: Option<&Value>) -> Result<Value> {
    Ok(match kind {
        SubqueryKind::Scalar => match count {
            0 => Value::Null,
            1 => rows[0].clone(),
            _ => return Err(Error::sql("21000", "more than one row returned by a subquery used as an expression")),
        },
        SubqueryKind::Exists => Value::Bool(count > 0),
        SubqueryKind::Array => Value::Array(rows.to_vec()),
        SubqueryKind::Any { op, .. } => {
            let x = x.cloned().unwrap_or(Value::Null);
            quantified(&x, *op, rows, false)?
        }
        SubqueryKind::All { op, .. } => {
            let x = x.cloned().unwrap_or(Value::Null);
            quantified(&x, *op, rows, true)?
        }
    })
}

/// `x op ANY(rows)` or `x op ALL(rows)` in three-valued logic.
fn quantified(x: &Value, op: BinaryOp, rows: &[Value], all: bool) -> Result<Value> {
    let mut saw_null = false;
    for r in rows {
        match ops::binary(op, x, r, &DataType::Bool)?.as_bool() {
            Some(b) if b != all => return Ok(Value::Bool(b)),
            None => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null { Value::Null } else { Value::Bool(all) })
}

/// The rows where a boolean column is true.
pub fn selected(c: &Column) -> Vec<u32> {
    match (&c.data, &c.nulls) {
        (ColumnData::Bool(v), None) => v.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i as u32).collect(),
        (ColumnData::Bool(v), Some(n)) => {
            v.iter().zip(n.iter()).enumerate().filter(|(_, (b, null))| **b && !**null).map(|(i, _)| i as u32).collect()
        }
        _ => (0..c.len()).filter(|&i| c.get(i).as_bool() == Some(true)).map(|i| i as u32).collect(),
    }
}
