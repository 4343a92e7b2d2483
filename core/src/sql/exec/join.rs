//! Joins: hash join (equality keys), nested loop (any condition) and index
//! nested loop.
//!
//! The first two buffer the right side (the build side) and stream the left,
//! except index nested loop, which looks each left row's match up through
//! an index. A join finds candidate (left, right) row pairs, evaluates the
//! residual ON condition over batches of pairs, and then emits per its
//! kind: matched pairs; unmatched left rows padded with NULLs (LEFT, FULL);
//! unmatched right rows at the end (RIGHT, FULL); left rows with or without
//! a match (SEMI, ANTI).

use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive;

use crate::env::BoxFuture;
use crate::sql::batch::{BATCH_SIZE, Batch, Column, ColumnData};
use crate::sql::catalog::{IndexDef, TableDef};
use crate::sql::expr::Expr;
use crate::sql::plan::{Access, JoinAlgo, JoinKind, Plan};
use crate::sql::value::{DataType, Value};
use crate::{Error, Result};

use super::{BoxOp, ExecContext, FixedHashMap, Operator, batch_bytes, charge_memory, eval};

/// Builds the operator for a Join node.
pub fn build(plan: &Plan) -> Result<BoxOp> {
    let Plan::Join { left, right, kind, on, algo, .. } = plan else {
        return Err(Error::Corrupt("join operator built from a non-join node".into()));
    };
    let right_types = right.output_types();
    let left_types = left.output_types();
    let (left_keys, right_keys, index) = match algo {
        JoinAlgo::NestedLoop => (vec![], vec![], None),
        JoinAlgo::Hash { left_keys, right_keys } => (left_keys.clone(), right_keys.clone(), None),
        JoinAlgo::IndexLookup { index, left_keys } => {
            let Plan::Scan { table, filter, .. } = right.as_ref() else {
                return Err(Error::Corrupt("index nested loop over a non-scan".into()));
            };
            (left_keys.clone(), vec![], Some((index.clone(), table.clone(), filter.clone())))
        }
    };
    let right_op = if index.is_some() { None } else { Some(super::build(right)?) };
    Ok(Box::new(JoinOp {
        left: super::build(left)?,
        right: right_op,
        kind: *kind,
        on: on.clone(),
        left_keys,
        right_keys,
        index,
        left_types,
        right_types,
        built: None,
        right_matched: Vec::new(),
        finished_left: false,
        pending_left: None,
    }))
}

/// The buffered right side.
struct Built {
    rows: Batch,
    /// Key → right rows, when joining on keys.
    table: Option<KeyTable>,
}

/// Matching (left row, right row) pairs, in left-row order.
#[derive(Debug, Default)]
struct Pairs {
    left: Vec<u32>,
    right: Vec<u32>,
}

impl Pairs {
    fn push(&mut self, left: u32, right: u32) {
        self.left.push(left);
        self.right.push(right);
    }

    fn len(&self) -> usize {
        self.left.len()
    }

    /// Which of `len` left rows have a pair.
    fn matched_left(&self, len: usize) -> Vec<bool> {
        let mut matched = vec![false; len];
        for &l in &self.left {
            matched[l as usize] = true;
        }
        matched
    }
}

/// Join key → the right rows holding it.
enum KeyTable {
    /// One integer key, hashed as the integer: no `Value` per row.
    Int(FixedHashMap<i64, Vec<u32>>),
    General(FixedHashMap<Vec<Value>, Vec<u32>>),
}

impl KeyTable {
    /// The table of `columns` (the right side's key columns, NULL keys left out).
    fn build(columns: &[Column], len: usize) -> KeyTable {
        if let [Column { data: ColumnData::Int(values), .. }] = columns {
            let mut table: FixedHashMap<i64, Vec<u32>> = super::fixed_hash_map();
            for (row, &value) in values.iter().enumerate() {
                if !columns[0].is_null(row) {
                    table.entry(value).or_default().push(row as u32);
                }
            }
            return KeyTable::Int(table);
        }
        let mut table: FixedHashMap<Vec<Value>, Vec<u32>> = super::fixed_hash_map();
        for row in 0..len {
            let key: Vec<Value> = columns.iter().map(|c| c.get(row)).collect();
            if !key.iter().any(Value::is_null) {
                table.entry(key).or_default().push(row as u32);
            }
        }
        KeyTable::General(table)
    }

    /// The pairs of each left row (its keys in `columns`) with the right rows holding its key.
    fn probe(&self, columns: &[Column], len: usize) -> Pairs {
        let mut pairs = Pairs::default();
        let mut add = |left: usize, rights: Option<&Vec<u32>>| {
            for &right in rights.into_iter().flatten() {
                pairs.push(left as u32, right);
            }
        };
        match self {
            KeyTable::Int(table) => {
                let column = &columns[0];
                for row in (0..len).filter(|&row| !column.is_null(row)) {
                    let key = match &column.data {
                        ColumnData::Int(values) => Some(values[row]),
                        _ => integral(&column.get(row)),
                    };
                    add(row, key.and_then(|key| table.get(&key)));
                }
            }
            KeyTable::General(table) => {
                for row in 0..len {
                    let key: Vec<Value> = columns.iter().map(|c| c.get(row)).collect();
                    if !key.iter().any(Value::is_null) {
                        add(row, table.get(&key));
                    }
                }
            }
        }
        pairs
    }
}

struct JoinOp {
    left: BoxOp,
    right: Option<BoxOp>,
    kind: JoinKind,
    on: Option<Expr>,
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    index: Option<(Arc<IndexDef>, Arc<TableDef>, Option<Expr>)>,
    left_types: Vec<DataType>,
    right_types: Vec<DataType>,
    built: Option<Built>,
    right_matched: Vec<bool>,
    finished_left: bool,
    /// A left batch probed in slices, and where the next slice starts.
    pending_left: Option<(Batch, usize)>,
}

/// The most left × right pairs one nested-loop probe examines: a cross
/// product is produced in slices of the left batch, so its output stays
/// bounded and cancellation is checked between slices.
const MAX_PAIRS_PER_PROBE: usize = 1 << 16;

impl JoinOp {
    async fn build_side(&mut self, ctx: &mut ExecContext) -> Result<()> {
        let Some(right) = self.right.as_mut() else {
            self.built = Some(Built { rows: Batch::default(), table: None });
            return Ok(());
        };
        let mut rows =
            Batch { columns: self.right_types.iter().map(|t| Column::from_values(vec![], t)).collect(), len: 0 };
        let mut bytes = 0;
        while let Some(batch) = right.next(ctx).await? {
            ctx.pause().await?;
            bytes += batch_bytes(&batch);
            charge_memory(ctx, bytes, "hash join build side")?;
            rows.append(&batch);
        }
        let table = if self.right_keys.is_empty() {
            None
        } else {
            Some(KeyTable::build(&key_columns(&self.right_keys, &rows, ctx).await?, rows.len))
        };
        self.right_matched = vec![false; rows.len];
        self.built = Some(Built { rows, table });
        Ok(())
    }

    /// Candidate (left, right) pairs for the rows of `batch`.
    async fn candidates(&self, batch: &Batch, ctx: &mut ExecContext) -> Result<Pairs> {
        let built = self.built.as_ref().expect("built before probing");
        match &built.table {
            Some(table) => Ok(table.probe(&key_columns(&self.left_keys, batch, ctx).await?, batch.len)),
            None => {
                let mut pairs = Pairs::default();
                for left in 0..batch.len as u32 {
                    for right in 0..built.rows.len as u32 {
                        pairs.push(left, right);
                    }
                }
                Ok(pairs)
            }
        }
    }

    /// The candidates that satisfy the ON condition, checked over slices of
    /// pairs so the combined rows stay bounded.
    async fn matches(&self, batch: &Batch, right: &Batch, candidates: Pairs, ctx: &mut ExecContext) -> Result<Pairs> {
        let Some(on) = &self.on else { return Ok(candidates) };
        let mut out = Pairs::default();
        let slice = BATCH_SIZE * 4;
        for start in (0..candidates.len()).step_by(slice) {
            let end = (start + slice).min(candidates.len());
            let (lefts, rights) = (&candidates.left[start..end], &candidates.right[start..end]);
            let combined = combine(&batch.gather(lefts), &right.gather(rights));
            let mask = eval(on, &combined, ctx).await?;
            for k in super::eval::selected(&mask) {
                out.push(lefts[k as usize], rights[k as usize]);
            }
        }
        Ok(out)
    }

    /// Right rows matching each left row through the index.
    async fn index_matches(&self, batch: &Batch, ctx: &mut ExecContext) -> Result<(Batch, Pairs)> {
        let (index, table, filter) = self.index.as_ref().expect("index join");
        let columns = key_columns(&self.left_keys, batch, ctx).await?;
        let mut rows: Vec<Vec<Value>> = Vec::new();
        let mut pairs = Pairs::default();
        for left in 0..batch.len {
            let key: Vec<Value> = columns.iter().map(|c| c.get(left)).collect();
            if key.iter().any(Value::is_null) {
                continue;
            }
            let eq = key.into_iter().map(Expr::literal).collect();
            let access = Access::Index { index: index.clone(), eq, lo: None, hi: None };
            for (_, row) in super::scan_range_keys(ctx, table.clone(), access, filter.as_ref()).await? {
                pairs.push(left as u32, rows.len() as u32);
                rows.push(row);
            }
        }
        Ok((Batch::from_rows(&rows, &self.right_types), pairs))
    }

    /// Left rows per probe: all of a batch for hash and index joins, fewer
    /// for a nested loop over a large right side.
    fn left_rows_per_probe(&self) -> usize {
        match &self.built {
            Some(built) if self.index.is_none() && built.table.is_none() => {
                (MAX_PAIRS_PER_PROBE / built.rows.len.max(1)).max(1)
            }
            _ => usize::MAX,
        }
    }

    async fn probe(&mut self, batch: Batch, ctx: &mut ExecContext) -> Result<Batch> {
        let (right, matches) = if self.index.is_some() {
            let (right, candidates) = self.index_matches(&batch, ctx).await?;
            let matches = self.matches(&batch, &right, candidates, ctx).await?;
            (right, matches)
        } else {
            let candidates = self.candidates(&batch, ctx).await?;
            let built = self.built.take().expect("built before probing");
            let matches = self.matches(&batch, &built.rows, candidates, ctx).await;
            let out = matches.and_then(|m| self.emit(&batch, &built.rows, &m));
            self.built = Some(built);
            return out;
        };
        self.emit(&batch, &right, &matches)
    }

    fn emit(&mut self, left: &Batch, right: &Batch, matches: &Pairs) -> Result<Batch> {
        match self.kind {
            JoinKind::Semi | JoinKind::Anti => {
                let want = self.kind == JoinKind::Semi;
                let matched = matches.matched_left(left.len);
                let keep: Vec<u32> = (0..left.len as u32).filter(|&i| matched[i as usize] == want).collect();
                Ok(left.gather(&keep))
            }
            _ => {
                if self.index.is_none() {
                    for &r in &matches.right {
                        if let Some(m) = self.right_matched.get_mut(r as usize) {
                            *m = true;
                        }
                    }
                }
                let mut out = combine(&left.gather(&matches.left), &right.gather(&matches.right));
                let unmatched: Vec<u32> = match self.kind {
                    JoinKind::Left | JoinKind::Full => {
                        let matched = matches.matched_left(left.len);
                        (0..left.len as u32).filter(|&i| !matched[i as usize]).collect()
                    }
                    _ => Vec::new(),
                };
                if !unmatched.is_empty() {
                    let padded = combine(&left.gather(&unmatched), &nulls(&self.right_types, unmatched.len()));
                    out.append(&padded);
                }
                Ok(out)
            }
        }
    }

    /// After the left side ends: right rows nothing matched (RIGHT, FULL).
    fn unmatched_right(&mut self) -> Option<Batch> {
        if !matches!(self.kind, JoinKind::Right | JoinKind::Full) {
            return None;
        }
        let built = self.built.as_ref()?;
        let rows: Vec<u32> =
            self.right_matched.iter().enumerate().filter(|(_, m)| !**m).map(|(i, _)| i as u32).collect();
        if rows.is_empty() {
            return None;
        }
        Some(combine(&nulls(&self.left_types, rows.len()), &built.rows.gather(&rows)))
    }
}

impl Operator for JoinOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            if self.built.is_none() {
                self.build_side(ctx).await?;
            }
            loop {
                ctx.pause().await?;
                let (batch, offset) = match self.pending_left.take() {
                    Some(pending) => pending,
                    None if self.finished_left => return Ok(None),
                    None => match self.left.next(ctx).await? {
                        Some(batch) => (batch, 0),
                        None => {
                            self.finished_left = true;
                            return Ok(self.unmatched_right());
                        }
                    },
                };
                let end = offset.saturating_add(self.left_rows_per_probe()).min(batch.len);
                let slice = if offset == 0 && end == batch.len {
                    batch
                } else {
                    let slice = batch.gather(&(offset as u32..end as u32).collect::<Vec<_>>());
                    if end < batch.len {
                        self.pending_left = Some((batch, end));
                    }
                    slice
                };
                let out = self.probe(slice, ctx).await?;
                if out.len > 0 {
                    return Ok(Some(out));
                }
            }
        })
    }
}

/// The integer a value equals, if any: values compare (and hash) as
/// numbers across types, so an integral float or numeric key matches an
/// integer one.
fn integral(value: &Value) -> Option<i64> {
    match value {
        Value::Int(i) => Some(*i),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(*f as i64),
        Value::Numeric(d) if d.fract().is_zero() => d.to_i64(),
        _ => None,
    }
}

/// The key columns of `batch`.
async fn key_columns(keys: &[Expr], batch: &Batch, ctx: &mut ExecContext) -> Result<Vec<Column>> {
    let mut columns = Vec::with_capacity(keys.len());
    for k in keys {
        columns.push(eval(k, batch, ctx).await?);
    }
    Ok(columns)
}

/// Left columns then right columns.
fn combine(left: &Batch, right: &Batch) -> Batch {
    let mut columns = left.columns.clone();
    columns.extend(right.columns.iter().cloned());
    Batch { columns, len: left.len }
}

fn nulls(types: &[DataType], len: usize) -> Batch {
    Batch { columns: types.iter().map(|t| Column::repeat(&Value::Null, t, len)).collect(), len }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn an_integer_key_table_matches_equal_numbers_of_any_type_and_never_null() {
        let right =
            [Column::from_values(vec![Value::Int(1), Value::Int(2), Value::Null, Value::Int(2)], &DataType::Int64)];
        let table = KeyTable::build(&right, 4);
        assert!(matches!(table, KeyTable::Int(_)));
        let left = [Column::from_values(
            vec![Value::Float(2.0), Value::Numeric(Decimal::ONE), Value::Float(1.5), Value::Null, Value::Int(3)],
            &DataType::Unknown,
        )];
        let pairs = table.probe(&left, 5);
        assert_eq!((pairs.left, pairs.right), (vec![0, 0, 1], vec![1, 3, 0]));
    }

    #[test]
    fn a_general_key_table_skips_rows_with_a_null_key() {
        let right = [
            Column::from_values(vec![Value::Text("a".into()), Value::Text("b".into())], &DataType::Text),
            Column::from_values(vec![Value::Int(1), Value::Null], &DataType::Int64),
        ];
        let table = KeyTable::build(&right, 2);
        let left = [
            Column::from_values(vec![Value::Text("b".into()), Value::Text("a".into())], &DataType::Text),
            Column::from_values(vec![Value::Null, Value::Int(1)], &DataType::Int64),
        ];
        let pairs = table.probe(&left, 2);
        assert_eq!(pairs.matched_left(2), vec![false, true]);
        assert_eq!((pairs.left, pairs.right), (vec![1], vec![0]));
    }
}
