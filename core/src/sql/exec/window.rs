//! Window functions: ranking, offsets, and aggregates over frames.
//!
//! The operator buffers its input, then for each window call sorts row
//! positions by (partition keys, order keys), walks each partition and
//! computes one value per row. Output rows keep the input order, with one
//! column appended per call.

use crate::env::BoxFuture;
use crate::sql::batch::{Batch, Column};
use crate::sql::plan::{AggCall, FrameBound, SortKey, WindowCall, WindowFunc};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

use super::aggregate::{aggregate_values, compare_keys};
use super::{BoxOp, ExecContext, Operator, batch_bytes, charge_memory, eval};

pub struct WindowOp {
    input: BoxOp,
    calls: Vec<WindowCall>,
    types: Vec<DataType>,
    done: bool,
}

impl WindowOp {
    pub fn new(input: BoxOp, calls: Vec<WindowCall>, types: Vec<DataType>) -> WindowOp {
        WindowOp { input, calls, types, done: false }
    }

    async fn run(&mut self, ctx: &mut ExecContext) -> Result<Batch> {
        let mut all = Batch { columns: self.types.iter().map(|t| Column::from_values(vec![], t)).collect(), len: 0 };
        let mut bytes = 0;
        while let Some(batch) = self.input.next(ctx).await? {
            ctx.pause().await?;
            bytes += batch_bytes(&batch);
            charge_memory(ctx, bytes, "window")?;
            all.append(&batch);
        }
        let mut extra = Vec::with_capacity(self.calls.len());
        for call in &self.calls {
            extra.push(compute_call(call, &all, ctx).await?);
        }
        all.columns.extend(extra);
        Ok(all)
    }
}

impl Operator for WindowOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            self.done = true;
            let out = self.run(ctx).await?;
            Ok(if out.len == 0 { None } else { Some(out) })
        })
    }
}

/// One call's values for every row of `rows`.
async fn compute_call(call: &WindowCall, rows: &Batch, ctx: &mut ExecContext) -> Result<Column> {
    let mut partition = Vec::new();
    for e in &call.partition_by {
        partition.push(eval(e, rows, ctx).await?);
    }
    let mut order = Vec::new();
    for k in &call.order_by {
        order.push(eval(&k.expr, rows, ctx).await?);
    }
    let mut args = Vec::new();
    for a in &call.args {
        args.push(eval(a, rows, ctx).await?);
    }
    let pkeys: Vec<Vec<Value>> = (0..rows.len).map(|i| partition.iter().map(|c| c.get(i)).collect()).collect();
    let okeys: Vec<Vec<Value>> = (0..rows.len).map(|i| order.iter().map(|c| c.get(i)).collect()).collect();
    let mut positions: Vec<usize> = (0..rows.len).collect();
    positions
        .sort_by(|&a, &b| pkeys[a].cmp(&pkeys[b]).then_with(|| compare_keys(&okeys[a], &okeys[b], &call.order_by)));
    let mut out = vec![Value::Null; rows.len];
    let mut start = 0;
    while start < positions.len() {
        let mut end = start + 1;
        while end < positions.len() && pkeys[positions[end]] == pkeys[positions[start]] {
            end += 1;
        }
        let part = &positions[start..end];
        let values = partition_values(call, part, &okeys, &args)?;
        for (&row, v) in part.iter().zip(values) {
            out[row] = v;
        }
        start = end;
    }
    Ok(Column::from_values(out, &call.ty))
}

/// For each position of a partition: the range of its peers (rows with
/// equal order keys).
fn peer_ranges(part: &[usize], okeys: &[Vec<Value>], keys: &[SortKey]) -> Vec<(usize, usize)> {
    let mut out = vec![(0, 0); part.len()];
    let mut s = 0;
    while s < part.len() {
        let mut e = s + 1;
        while e < part.len() && compare_keys(&okeys[part[e]], &okeys[part[s]], keys).is_eq() {
            e += 1;
        }
        for slot in &mut out[s..e] {
            *slot = (s, e - 1);
        }
        s = e;
    }
    out
}

fn partition_values(call: &WindowCall, part: &[usize], okeys: &[Vec<Value>], args: &[Column]) -> Result<Vec<Value>> {
    let n = part.len();
    let peers = peer_ranges(part, okeys, &call.order_by);
    let arg = |k: usize, p: usize| args.get(k).map(|c| c.get(part[p])).unwrap_or(Value::Null);
    let mut out = Vec::with_capacity(n);
    let mut dense = 0i64;
    for p in 0..n {
        if peers[p].0 == p {
            dense += 1;
        }
        let v = match &call.func {
            WindowFunc::RowNumber => Value::Int(p as i64 + 1),
            WindowFunc::Rank => Value::Int(peers[p].0 as i64 + 1),
            WindowFunc::DenseRank => Value::Int(dense),
            WindowFunc::PercentRank => Value::Float(if n <= 1 { 0.0 } else { peers[p].0 as f64 / (n - 1) as f64 }),
            WindowFunc::CumeDist => Value::Float((peers[p].1 + 1) as f64 / n as f64),
            WindowFunc::Ntile => ntile(arg(0, p), p, n)?,
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = match arg(1, p) {
                    Value::Int(k) => k,
                    Value::Null if args.len() > 1 => return Ok(vec![Value::Null; n]),
                    _ => 1,
                };
                let target = if call.func == WindowFunc::Lag { p as i64 - offset } else { p as i64 + offset };
                if target >= 0 && (target as usize) < n { arg(0, target as usize) } else { arg(2, p) }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                let (lo, hi) = frame(call, p, n, &peers);
                match call.func {
                    _ if lo > hi => Value::Null,
                    WindowFunc::FirstValue => arg(0, lo),
                    WindowFunc::LastValue => arg(0, hi),
                    _ => match arg(1, p) {
                        Value::Int(k) if k >= 1 && lo + (k as usize - 1) <= hi => arg(0, lo + k as usize - 1),
                        Value::Int(k) if k < 1 => {
                            return Err(Error::sql("22016", "argument of nth_value must be greater than zero"));
                        }
                        _ => Value::Null,
                    },
                }
            }
            WindowFunc::Aggregate(func) => {
                let (lo, hi) = frame(call, p, n, &peers);
                let rows: Vec<usize> = if lo > hi { vec![] } else { part[lo..=hi].to_vec() };
                let agg = AggCall {
                    func: *func,
                    args: call.args.clone(),
                    distinct: false,
                    filter: None,
                    order_by: vec![],
                    ty: call.ty.clone(),
                };
                aggregate_values(&agg, args, &rows)?
            }
        };
        out.push(v);
    }
    Ok(out)
}

fn ntile(buckets: Value, p: usize, n: usize) -> Result<Value> {
    let Value::Int(b) = buckets else { return Ok(Value::Null) };
    if b <= 0 {
        return Err(Error::sql("22014", "argument of ntile must be greater than zero"));
    }
    let b = b as usize;
    let (size, extra) = (n / b, n % b);
    // The first `extra` buckets hold one row more.
    let big = extra * (size + 1);
    let bucket = if p < big { p / (size + 1) } else { extra + (p - big) / size.max(1) };
    Ok(Value::Int(bucket as i64 + 1))
}

/// The frame of position `p` as an inclusive range of partition positions
/// (`lo > hi` when empty).
fn frame(call: &WindowCall, p: usize, n: usize, peers: &[(usize, usize)]) -> (usize, usize) {
    let f = &call.frame;
    let bound = |b: &FrameBound, is_start: bool| -> i64 {
        match b {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::UnboundedFollowing => n as i64 - 1,
            FrameBound::CurrentRow if f.rows => p as i64,
            FrameBound::CurrentRow => (if is_start { peers[p].0 } else { peers[p].1 }) as i64,
            FrameBound::Preceding(k) => p as i64 - k,
            FrameBound::Following(k) => p as i64 + k,
        }
    };
    let lo = bound(&f.start, true).max(0);
    let hi = bound(&f.end, false).min(n as i64 - 1);
    if lo > hi { (1, 0) } else { (lo as usize, hi as usize) }
}
