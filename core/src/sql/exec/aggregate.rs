//! Hash aggregation: GROUP BY keys to groups, one accumulator per aggregate
//! call per group.
//!
//! Each input batch is processed column-wise: key and argument columns are
//! evaluated once per batch, then rows are assigned to groups (a single
//! integer key uses an integer-keyed table, skipping value boxing) and
//! accumulators read typed columns directly. Groups come out in the order
//! they were first seen. The group table is charged against the memory
//! limit.

use std::borrow::Cow;
use std::collections::BTreeSet;

use rust_decimal::Decimal;
use rust_decimal::prelude::{MathematicalOps, ToPrimitive};

use crate::env::BoxFuture;
use crate::sql::batch::{Batch, Column, ColumnData};
use crate::sql::expr::Expr;
use crate::sql::ops::{self, BinaryOp};
use crate::sql::plan::{AggCall, AggFunc, SortKey};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

use super::{BoxOp, ExecContext, FixedHashMap, Operator, charge_memory, eval, fixed_hash_map, rows_to_batches};

/// One aggregate's running state for one group.
#[derive(Debug, Clone)]
enum Acc {
    Count(i64),
    SumInt {
        sum: i128,
        seen: bool,
    },
    SumFloat {
        sum: f64,
        seen: bool,
    },
    SumNumeric {
        sum: Decimal,
        seen: bool,
    },
    SumInterval {
        sum: Option<Value>,
    },
    Avg {
        sum: Decimal,
        float_sum: f64,
        count: i64,
    },
    MinMax(Option<Value>),
    Bool(Option<bool>),
    Bits(Option<i64>),
    /// string_agg / array_agg: (ORDER BY keys, value, separator).
    Collect(Vec<(Vec<Value>, Value, String)>),
    /// Variance family: count, sum, sum of squares.
    Moments {
        n: i64,
        sum: Decimal,
        sum_sq: Decimal,
        float: bool,
    },
}

fn new_acc(call: &AggCall) -> Acc {
    let arg_ty = call.args.first().map(Expr::ty).unwrap_or(DataType::Unknown);
    match call.func {
        AggFunc::CountStar | AggFunc::Count => Acc::Count(0),
        AggFunc::Sum => match arg_ty {
            t if t.is_integer() => Acc::SumInt { sum: 0, seen: false },
            DataType::Float32 | DataType::Float64 => Acc::SumFloat { sum: 0.0, seen: false },
            DataType::Interval => Acc::SumInterval { sum: None },
            _ => Acc::SumNumeric { sum: Decimal::ZERO, seen: false },
        },
        AggFunc::Avg => Acc::Avg { sum: Decimal::ZERO, float_sum: 0.0, count: 0 },
        AggFunc::Min | AggFunc::Max => Acc::MinMax(None),
        AggFunc::BoolAnd | AggFunc::BoolOr => Acc::Bool(None),
        AggFunc::BitAnd | AggFunc::BitOr => Acc::Bits(None),
        AggFunc::StringAgg | AggFunc::ArrayAgg => Acc::Collect(Vec::new()),
        AggFunc::StddevSamp | AggFunc::StddevPop | AggFunc::VarSamp | AggFunc::VarPop => Acc::Moments {
            n: 0,
            sum: Decimal::ZERO,
            sum_sq: Decimal::ZERO,
            float: matches!(arg_ty, DataType::Float32 | DataType::Float64),
        },
    }
}

fn to_decimal(v: &Value) -> Result<Decimal> {
    match v {
        Value::Int(i) => Ok(Decimal::from(*i)),
        Value::Numeric(d) => Ok(*d),
        Value::Float(f) => Decimal::try_from(*f).map_err(|_| Error::sql("22003", "value out of range for numeric")),
        other => Err(Error::sql("42883", format!("cannot aggregate {other:?} as a number"))),
    }
}

fn overflow() -> Error {
    Error::sql("22003", "numeric value out of range in aggregate")
}

impl Acc {
    /// Adds row `row` (its argument values `args`) to the state.
    fn update(&mut self, func: AggFunc, args: &[Column], row: usize, order: &[Value]) -> Result<()> {
        if func == AggFunc::CountStar {
            if let Acc::Count(n) = self {
                *n += 1;
            }
            return Ok(());
        }
        let first = &args[0];
        if first.is_null(row) {
            return Ok(());
        }
        if self.add_number(first, row)? {
            return Ok(());
        }
        match self {
            Acc::MinMax(current) => {
                let v = first.get(row);
                let replace = match current {
                    None => true,
                    Some(c) => {
                        let o = v.total_cmp(c);
                        if func == AggFunc::Min { o.is_lt() } else { o.is_gt() }
                    }
                };
                if replace {
                    *current = Some(v);
                }
            }
            Acc::Bool(state) => {
                let b = first.get(row).as_bool().unwrap_or(false);
                *state = Some(match (*state, func) {
                    (None, _) => b,
                    (Some(s), AggFunc::BoolAnd) => s && b,
                    (Some(s), _) => s || b,
                });
            }
            Acc::Bits(state) => {
                let Value::Int(i) = first.get(row) else { return Ok(()) };
                *state = Some(match (*state, func) {
                    (None, _) => i,
                    (Some(s), AggFunc::BitAnd) => s & i,
                    (Some(s), _) => s | i,
                });
            }
            Acc::Collect(items) => {
                let sep =
                    args.get(1).map(|c| c.get(row)).and_then(|v| if let Value::Text(s) = v { Some(s) } else { None });
                items.push((order.to_vec(), first.get(row), sep.unwrap_or_default()));
            }
            Acc::Moments { n, sum, sum_sq, .. } => {
                let d = to_decimal(&first.get(row))?;
                *n += 1;
                *sum = sum.checked_add(d).ok_or_else(overflow)?;
                *sum_sq = sum_sq.checked_add(d.checked_mul(d).ok_or_else(overflow)?).ok_or_else(overflow)?;
            }
            // Handled by add_number above.
            Acc::Count(_)
            | Acc::SumInt { .. }
            | Acc::SumFloat { .. }
            | Acc::SumNumeric { .. }
            | Acc::SumInterval { .. }
            | Acc::Avg { .. } => {}
        }
        Ok(())
    }

    /// Counting and summing states; false for the others.
    fn add_number(&mut self, first: &Column, row: usize) -> Result<bool> {
        match self {
            Acc::Count(n) => *n += 1,
            Acc::SumInt { sum, seen } => {
                if let ColumnData::Int(v) = &first.data {
                    *sum += v[row] as i128;
                } else if let Value::Int(i) = first.get(row) {
                    *sum += i as i128;
                }
                *seen = true;
            }
            Acc::SumFloat { sum, seen } => {
                *sum += float_at(first, row);
                *seen = true;
            }
            Acc::SumNumeric { sum, seen } => {
                *sum = sum.checked_add(to_decimal(&first.get(row))?).ok_or_else(overflow)?;
                *seen = true;
            }
            Acc::SumInterval { sum } => {
                let v = first.get(row);
                *sum = Some(match sum.take() {
                    None => v,
                    Some(s) => ops::binary(BinaryOp::Add, &s, &v, &DataType::Interval)?,
                });
            }
            Acc::Avg { sum, float_sum, count } => {
                match &first.data {
                    ColumnData::Float(v) => *float_sum += v[row],
                    ColumnData::Int(v) => *sum = sum.checked_add(Decimal::from(v[row])).ok_or_else(overflow)?,
                    _ => *sum = sum.checked_add(to_decimal(&first.get(row))?).ok_or_else(overflow)?,
                }
                *count += 1;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The aggregate's value.
    fn finish(self, call: &AggCall) -> Result<Value> {
        Ok(match self {
            Acc::Count(n) => Value::Int(n),
            Acc::SumInt { seen: false, .. }
            | Acc::SumFloat { seen: false, .. }
            | Acc::SumNumeric { seen: false, .. } => Value::Null,
            Acc::SumInt { sum, .. } => match call.ty {
                DataType::Int64 => {
                    Value::Int(i64::try_from(sum).map_err(|_| Error::sql("22003", "bigint out of range"))?)
                }
                _ => Value::Numeric(Decimal::from_i128_with_scale(sum, 0)),
            },
            Acc::SumFloat { sum, .. } => Value::Float(sum),
            Acc::SumNumeric { sum, .. } => Value::Numeric(sum),
            Acc::SumInterval { sum } => sum.unwrap_or(Value::Null),
            Acc::Avg { count: 0, .. } => Value::Null,
            Acc::Avg { sum, float_sum, count } => match call.ty {
                DataType::Float64 => Value::Float(float_sum / count as f64),
                _ => ops::binary(BinaryOp::Div, &Value::Numeric(sum), &Value::Numeric(Decimal::from(count)), &call.ty)?,
            },
            Acc::MinMax(v) => v.unwrap_or(Value::Null),
            Acc::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
            Acc::Bits(b) => b.map(Value::Int).unwrap_or(Value::Null),
            Acc::Collect(items) => finish_collect(items, call),
            Acc::Moments { n, sum, sum_sq, float } => finish_moments(call.func, n, sum, sum_sq, float)?,
        })
    }
}

fn float_at(c: &Column, row: usize) -> f64 {
    match &c.data {
        ColumnData::Float(v) => v[row],
        ColumnData::Int(v) => v[row] as f64,
        _ => match c.get(row) {
            Value::Float(f) => f,
            Value::Int(i) => i as f64,
            Value::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
            _ => f64::NAN,
        },
    }
}

fn finish_collect(mut items: Vec<(Vec<Value>, Value, String)>, call: &AggCall) -> Value {
    if items.is_empty() {
        return Value::Null;
    }
    if !call.order_by.is_empty() {
        items.sort_by(|a, b| compare_keys(&a.0, &b.0, &call.order_by));
    }
    match call.func {
        AggFunc::ArrayAgg => Value::Array(items.into_iter().map(|(_, v, _)| v).collect()),
        _ => {
            let mut out = String::new();
            for (i, (_, v, sep)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(&sep);
                }
                if let Value::Text(s) = v {
                    out.push_str(&s);
                }
            }
            Value::Text(out)
        }
    }
}

fn finish_moments(func: AggFunc, n: i64, sum: Decimal, sum_sq: Decimal, float: bool) -> Result<Value> {
    let sample = matches!(func, AggFunc::StddevSamp | AggFunc::VarSamp);
    if n == 0 || (sample && n == 1) {
        return Ok(Value::Null);
    }
    let nd = Decimal::from(n);
    let numerator = nd
        .checked_mul(sum_sq)
        .and_then(|a| sum.checked_mul(sum).and_then(|b| a.checked_sub(b)))
        .ok_or_else(overflow)?;
    let denominator = if sample { nd * Decimal::from(n - 1) } else { nd * nd };
    let variance = numerator.checked_div(denominator).ok_or_else(overflow)?.max(Decimal::ZERO);
    let value = if matches!(func, AggFunc::StddevSamp | AggFunc::StddevPop) {
        variance.sqrt().ok_or_else(overflow)?
    } else {
        variance
    };
    Ok(if float {
        Value::Float(value.to_f64().unwrap_or(f64::NAN))
    } else {
        // PostgreSQL prints these with 16 decimals.
        let mut v = value.round_dp(16);
        v.rescale(16);
        Value::Numeric(v)
    })
}

/// Compares two ORDER BY key tuples.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> std::cmp::Ordering {
    for ((x, y), key) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => {
                if key.nulls_first {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            }
            (false, true) => {
                if key.nulls_first {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                }
            }
            (false, false) => {
                let o = x.total_cmp(y);
                if key.desc { o.reverse() } else { o }
            }
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

/// Maps group keys to group numbers.
enum GroupIndex {
    /// No GROUP BY: one group.
    Single,
    /// One integer key.
    Int(FixedHashMap<Option<i64>, usize>),
    /// One key of another type, looked up by reference.
    One(FixedHashMap<Value, usize>),
    General(FixedHashMap<Vec<Value>, usize>),
}

impl GroupIndex {
    /// The group number of each of `len` rows with keys in `key_columns`,
    /// asking `new_group` to create the groups not seen before.
    fn assign(
        &mut self,
        key_columns: &[Column],
        len: usize,
        new_group: &mut impl FnMut(Vec<Value>) -> usize,
    ) -> Vec<usize> {
        let mut groups = Vec::with_capacity(len);
        match self {
            GroupIndex::Single => groups.resize(len, 0),
            GroupIndex::Int(map) => {
                let c = &key_columns[0];
                for row in 0..len {
                    let k = if c.is_null(row) {
                        None
                    } else if let ColumnData::Int(v) = &c.data {
                        Some(v[row])
                    } else {
                        None
                    };
                    let g = match map.get(&k) {
                        Some(g) => *g,
                        None => {
                            let g = new_group(vec![c.get(row)]);
                            map.insert(k, g);
                            g
                        }
                    };
                    groups.push(g);
                }
            }
            GroupIndex::One(map) => {
                let c = &key_columns[0];
                for row in 0..len {
                    let key = match &c.data {
                        ColumnData::Values(values) => Cow::Borrowed(values.get(row)),
                        _ => Cow::Owned(c.get(row)),
                    };
                    let g = match map.get(key.as_ref()) {
                        Some(g) => *g,
                        None => {
                            let key = key.into_owned();
                            let g = new_group(vec![key.clone()]);
                            map.insert(key, g);
                            g
                        }
                    };
                    groups.push(g);
                }
            }
            GroupIndex::General(map) => {
                for row in 0..len {
                    let key: Vec<Value> = key_columns.iter().map(|c| c.get(row)).collect();
                    let g = match map.get(&key) {
                        Some(g) => *g,
                        None => {
                            let g = new_group(key.clone());
                            map.insert(key, g);
                            g
                        }
                    };
                    groups.push(g);
                }
            }
        }
        groups
    }
}

pub struct AggregateOp {
    input: BoxOp,
    group_by: Vec<Expr>,
    aggs: Vec<AggCall>,
    done: bool,
}

impl AggregateOp {
    pub fn new(input: BoxOp, group_by: Vec<Expr>, aggs: Vec<AggCall>) -> AggregateOp {
        AggregateOp { input, group_by, aggs, done: false }
    }

    async fn run(&mut self, ctx: &mut ExecContext) -> Result<Vec<Batch>> {
        let mut index = match self.group_by.as_slice() {
            [] => GroupIndex::Single,
            [k] if k.ty().is_integer() => GroupIndex::Int(fixed_hash_map()),
            [_] => GroupIndex::One(fixed_hash_map()),
            _ => GroupIndex::General(fixed_hash_map()),
        };
        let mut keys: Vec<Vec<Value>> = Vec::new();
        let mut accs: Vec<Vec<Acc>> = Vec::new();
        let mut distinct_seen: Vec<Vec<BTreeSet<Vec<Value>>>> = Vec::new();
        if matches!(index, GroupIndex::Single) {
            keys.push(vec![]);
            accs.push(self.aggs.iter().map(new_acc).collect());
            distinct_seen.push(vec![BTreeSet::new(); self.aggs.len()]);
        }
        while let Some(batch) = self.input.next(ctx).await? {
            ctx.pause().await?;
            let groups = self.assign_groups(&batch, &mut index, &mut keys, &mut accs, &mut distinct_seen, ctx).await?;
            charge_memory(ctx, keys.len() * (64 + 48 * self.aggs.len()), "hash aggregate")?;
            for (a, call) in self.aggs.iter().enumerate() {
                self.feed(a, call, &batch, &groups, &mut accs, &mut distinct_seen, ctx).await?;
            }
        }
        let types: Vec<DataType> =
            self.group_by.iter().map(Expr::ty).chain(self.aggs.iter().map(|a| a.ty.clone())).collect();
        let mut rows = Vec::with_capacity(keys.len());
        for (key, group_accs) in keys.into_iter().zip(accs) {
            let mut row = key;
            for (acc, call) in group_accs.into_iter().zip(&self.aggs) {
                row.push(acc.finish(call)?);
            }
            rows.push(row);
        }
        Ok(rows_to_batches(rows, &types))
    }

    /// The group number of every row of `batch`, creating new groups.
    async fn assign_groups(
        &self,
        batch: &Batch,
        index: &mut GroupIndex,
        keys: &mut Vec<Vec<Value>>,
        accs: &mut Vec<Vec<Acc>>,
        distinct_seen: &mut Vec<Vec<BTreeSet<Vec<Value>>>>,
        ctx: &mut ExecContext,
    ) -> Result<Vec<usize>> {
        let mut key_columns = Vec::with_capacity(self.group_by.len());
        for k in &self.group_by {
            key_columns.push(eval(k, batch, ctx).await?);
        }
        let mut new_group = |key: Vec<Value>| {
            keys.push(key);
            accs.push(self.aggs.iter().map(new_acc).collect());
            distinct_seen.push(vec![BTreeSet::new(); self.aggs.len()]);
            keys.len() - 1
        };
        Ok(index.assign(&key_columns, batch.len, &mut new_group))
    }

    /// Feeds aggregate `a`'s arguments for every row of `batch`.
    #[allow(clippy::too_many_arguments)]
    async fn feed(
        &self,
        a: usize,
        call: &AggCall,
        batch: &Batch,
        groups: &[usize],
        accs: &mut [Vec<Acc>],
        distinct_seen: &mut [Vec<BTreeSet<Vec<Value>>>],
        ctx: &mut ExecContext,
    ) -> Result<()> {
        let mut args = Vec::with_capacity(call.args.len());
        for e in &call.args {
            args.push(eval(e, batch, ctx).await?);
        }
        let filter = match &call.filter {
            Some(f) => Some(eval(f, batch, ctx).await?),
            None => None,
        };
        let mut order_columns = Vec::with_capacity(call.order_by.len());
        for k in &call.order_by {
            order_columns.push(eval(&k.expr, batch, ctx).await?);
        }
        if filter.is_none() && !call.distinct && order_columns.is_empty() {
            return feed_plain(call.func, &args, groups, accs, a);
        }
        let mut order = Vec::new();
        for (row, &g) in groups.iter().enumerate() {
            if let Some(f) = &filter
                && f.get(row).as_bool() != Some(true)
            {
                continue;
            }
            if call.distinct {
                let values: Vec<Value> = args.iter().map(|c| c.get(row)).collect();
                if values.iter().any(Value::is_null) || !distinct_seen[g][a].insert(values) {
                    continue;
                }
            }
            order.clear();
            order.extend(order_columns.iter().map(|c| c.get(row)));
            accs[g][a].update(call.func, &args, row, &order)?;
        }
        Ok(())
    }
}

/// Feeds a batch to aggregate `a` when nothing filters, deduplicates or
/// orders its input. Counts, and sums, minimums and maximums of an integer
/// column, read the typed column directly rather than a `Value` per row.
fn feed_plain(func: AggFunc, args: &[Column], groups: &[usize], accs: &mut [Vec<Acc>], a: usize) -> Result<()> {
    if let Some(&group) = groups.first()
        && groups.iter().all(|&other| other == group)
        && feed_one_group(func, args, groups.len(), &mut accs[group][a])
    {
        return Ok(());
    }
    if func == AggFunc::CountStar {
        for &g in groups {
            accs[g][a].update(func, args, 0, &[])?;
        }
        return Ok(());
    }
    let typed = match args.first() {
        Some(Column { data: ColumnData::Int(values), nulls }) => Some((values, nulls.as_deref())),
        _ => None,
    };
    let Some((values, nulls)) =
        typed.filter(|_| matches!(func, AggFunc::Count | AggFunc::Sum | AggFunc::Min | AggFunc::Max))
    else {
        for (row, &g) in groups.iter().enumerate() {
            accs[g][a].update(func, args, row, &[])?;
        }
        return Ok(());
    };
    for (row, &g) in groups.iter().enumerate() {
        if nulls.is_some_and(|nulls| nulls[row]) {
            continue;
        }
        let value = values[row];
        match (&mut accs[g][a], func) {
            (Acc::Count(n), _) => *n += 1,
            (Acc::SumInt { sum, seen }, _) => {
                *sum += i128::from(value);
                *seen = true;
            }
            (Acc::MinMax(Some(Value::Int(current))), AggFunc::Min) => *current = (*current).min(value),
            (Acc::MinMax(Some(Value::Int(current))), AggFunc::Max) => *current = (*current).max(value),
            (Acc::MinMax(current @ None), _) => *current = Some(Value::Int(value)),
            (acc, _) => acc.update(func, args, row, &[])?,
        }
    }
    Ok(())
}

/// Feeds `len` rows that all belong to one group (always so without GROUP
/// BY) in one pass over the column: count(*), and count, sum, min and max of
/// an integer column. False, having done nothing, for anything else.
fn feed_one_group(func: AggFunc, args: &[Column], len: usize, acc: &mut Acc) -> bool {
    if let (AggFunc::CountStar, Acc::Count(n)) = (func, &mut *acc) {
        *n += len as i64;
        return true;
    }
    let Some(Column { data: ColumnData::Int(values), nulls }) = args.first() else { return false };
    let present = |row: &usize| nulls.as_ref().is_none_or(|nulls| !nulls[*row]);
    let mut rows = (0..values.len()).filter(present).map(|row| values[row]).peekable();
    match (func, acc) {
        (AggFunc::Count, Acc::Count(n)) => *n += rows.count() as i64,
        (AggFunc::Sum, Acc::SumInt { sum, seen }) => {
            *seen |= rows.peek().is_some();
            *sum += rows.map(i128::from).sum::<i128>();
        }
        (AggFunc::Min | AggFunc::Max, Acc::MinMax(current @ (None | Some(Value::Int(_))))) => {
            let old = match current {
                Some(Value::Int(old)) => Some(*old),
                _ => None,
            };
            let all = rows.chain(old);
            if let Some(extreme) = if func == AggFunc::Min { all.min() } else { all.max() } {
                *current = Some(Value::Int(extreme));
            }
        }
        _ => return false,
    }
    true
}

impl Operator for AggregateOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            self.done = true;
            let batches = self.run(ctx).await?;
            let mut all = Batch::default();
            for b in batches {
                all.append(&b);
            }
            if all.len == 0 && all.columns.is_empty() {
                return Ok(None);
            }
            Ok(Some(all))
        })
    }
}

/// Aggregates the values of one column for window frames (see `window.rs`).
pub fn aggregate_values(call: &AggCall, args: &[Column], rows: &[usize]) -> Result<Value> {
    let mut acc = new_acc(call);
    let mut seen = BTreeSet::new();
    for &row in rows {
        if call.distinct {
            let values: Vec<Value> = args.iter().map(|c| c.get(row)).collect();
            if values.iter().any(Value::is_null) || !seen.insert(values) {
                continue;
            }
        }
        acc.update(call.func, args, row, &[])?;
    }
    acc.finish(call)
}
