//! Column batches: the unit every operator of the executor consumes and
//! produces.
//!
//! A [`Batch`] holds up to [`BATCH_SIZE`] rows as one [`Column`] per output
//! column. Integer, float and boolean columns are plain typed vectors with a
//! separate null mask, so the hot loops of filters, arithmetic, hashing and
//! aggregation run over `&[i64]` / `&[f64]` without matching on a value enum;
//! every other type is a vector of [`Value`]s.
//!
//! Invariant: every column of a batch has `len` entries, and a typed
//! column's null mask, when present, has `len` entries too (the data under a
//! null entry is 0 and means nothing).

use std::sync::Arc;

use crate::sql::value::{DataType, Value};

/// Rows per batch produced by scans; other operators keep batches at most
/// this large.
pub const BATCH_SIZE: usize = 1024;

/// The typed storage of a column.
#[derive(Debug, Clone)]
pub enum ColumnData {
    Int(Vec<i64>),
    Float(Vec<f64>),
    Bool(Vec<bool>),
    /// Any other type; NULLs are `Value::Null` entries. Shared, so
    /// gathering rows (filters, joins) copies indices, not values.
    Values(SharedValues),
}

/// Values behind an `Arc`, optionally seen through a row selection.
#[derive(Debug, Clone)]
pub struct SharedValues {
    values: Arc<Vec<Value>>,
    rows: Option<Arc<Vec<u32>>>,
}

impl SharedValues {
    pub fn new(values: Vec<Value>) -> SharedValues {
        SharedValues { values: Arc::new(values), rows: None }
    }

    pub fn len(&self) -> usize {
        self.rows.as_ref().map_or(self.values.len(), |r| r.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: usize) -> &Value {
        match &self.rows {
            None => &self.values[row],
            Some(rows) => &self.values[rows[row] as usize],
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Value> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The rows at `indices`, sharing the values.
    pub fn gather(&self, indices: &[u32]) -> SharedValues {
        let rows = match &self.rows {
            None => indices.to_vec(),
            Some(rows) => indices.iter().map(|&i| rows[i as usize]).collect(),
        };
        SharedValues { values: self.values.clone(), rows: Some(Arc::new(rows)) }
    }

    /// Appends `other`'s rows, copying values only if they are shared or selected.
    pub fn append(&mut self, other: &SharedValues) {
        if self.rows.is_some() {
            *self = SharedValues::new(self.iter().cloned().collect());
        }
        Arc::make_mut(&mut self.values).extend(other.iter().cloned());
    }
}

/// One column of a batch.
#[derive(Debug, Clone)]
pub struct Column {
    pub data: ColumnData,
    /// `nulls[i]` is true when row `i` is NULL (typed data only).
    pub nulls: Option<Arc<Vec<bool>>>,
}

impl Column {
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Int(v) => v.len(),
            ColumnData::Float(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Values(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_null(&self, row: usize) -> bool {
        match &self.data {
            ColumnData::Values(v) => v.get(row).is_null(),
            _ => self.nulls.as_ref().is_some_and(|n| n[row]),
        }
    }

    /// Row `row` as a value.
    pub fn get(&self, row: usize) -> Value {
        if self.is_null(row) {
            return Value::Null;
        }
        match &self.data {
            ColumnData::Int(v) => Value::Int(v[row]),
            ColumnData::Float(v) => Value::Float(v[row]),
            ColumnData::Bool(v) => Value::Bool(v[row]),
            ColumnData::Values(v) => v.get(row).clone(),
        }
    }

    /// A column of `values`, typed storage when `ty` allows it.
    pub fn from_values(values: Vec<Value>, ty: &DataType) -> Column {
        match storage_kind(ty) {
            Kind::Int => typed(values, |v| if let Value::Int(i) = v { Some(*i) } else { None }, ColumnData::Int),
            Kind::Float => typed(values, |v| if let Value::Float(f) = v { Some(*f) } else { None }, ColumnData::Float),
            Kind::Bool => typed(values, |v| if let Value::Bool(b) = v { Some(*b) } else { None }, ColumnData::Bool),
            Kind::Values => Column { data: ColumnData::Values(SharedValues::new(values)), nulls: None },
        }
    }

    /// `len` copies of `value`.
    pub fn repeat(value: &Value, ty: &DataType, len: usize) -> Column {
        Column::from_values(vec![value.clone(); len], ty)
    }

    /// The rows at `indices`, in that order.
    pub fn gather(&self, indices: &[u32]) -> Column {
        let nulls = self.nulls.as_ref().map(|n| Arc::new(indices.iter().map(|&i| n[i as usize]).collect()));
        let data = match &self.data {
            ColumnData::Int(v) => ColumnData::Int(indices.iter().map(|&i| v[i as usize]).collect()),
            ColumnData::Float(v) => ColumnData::Float(indices.iter().map(|&i| v[i as usize]).collect()),
            ColumnData::Bool(v) => ColumnData::Bool(indices.iter().map(|&i| v[i as usize]).collect()),
            ColumnData::Values(v) => ColumnData::Values(v.gather(indices)),
        };
        Column { data, nulls }
    }

    /// Every row as a value.
    pub fn to_values(&self) -> Vec<Value> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// Appends `other`'s rows (both must have the same storage, which holds
    /// for two batches of one operator's output).
    pub fn append(&mut self, other: &Column) {
        let old_len = self.len();
        let merged_nulls = match (&self.nulls, &other.nulls) {
            (None, None) => None,
            (a, b) => {
                let mut n: Vec<bool> = a.as_ref().map(|n| n.to_vec()).unwrap_or_else(|| vec![false; old_len]);
                match b {
                    Some(b) => n.extend_from_slice(b),
                    None => n.extend(std::iter::repeat_n(false, other.len())),
                }
                Some(Arc::new(n))
            }
        };
        match (&mut self.data, &other.data) {
            (ColumnData::Int(a), ColumnData::Int(b)) => a.extend_from_slice(b),
            (ColumnData::Float(a), ColumnData::Float(b)) => a.extend_from_slice(b),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a.extend_from_slice(b),
            (ColumnData::Values(a), ColumnData::Values(b)) => a.append(b),
            (_, _) => {
                let mut values = self.to_values();
                values.extend(other.to_values());
                *self = Column { data: ColumnData::Values(SharedValues::new(values)), nulls: None };
                return;
            }
        }
        self.nulls = merged_nulls;
    }
}

enum Kind {
    Int,
    Float,
    Bool,
    Values,
}

fn storage_kind(ty: &DataType) -> Kind {
    match ty {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Int,
        DataType::Float32 | DataType::Float64 => Kind::Float,
        DataType::Bool => Kind::Bool,
        _ => Kind::Values,
    }
}

/// Builds a typed column; falls back to `Values` if some value is neither
/// NULL nor of the expected variant (the binder's casts make that a bug, but
/// a wrong-but-working column beats a panic).
fn typed<T: Default + Copy>(
    values: Vec<Value>,
    extract: impl Fn(&Value) -> Option<T>,
    wrap: impl Fn(Vec<T>) -> ColumnData,
) -> Column {
    let mut data = Vec::with_capacity(values.len());
    let mut nulls = Vec::with_capacity(values.len());
    for value in &values {
        match extract(value) {
            Some(x) => {
                data.push(x);
                nulls.push(false);
            }
            None if value.is_null() => {
                data.push(T::default());
                nulls.push(true);
            }
            None => return Column { data: ColumnData::Values(SharedValues::new(values)), nulls: None },
        }
    }
    let nulls = nulls.iter().any(|&n| n).then(|| Arc::new(nulls));
    Column { data: wrap(data), nulls }
}

/// Builds one column value by value, typed where the column type allows.
#[derive(Debug)]
pub enum ColumnBuilder {
    Int(Vec<i64>, Vec<bool>),
    Float(Vec<f64>, Vec<bool>),
    Bool(Vec<bool>, Vec<bool>),
    Values(Vec<Value>),
}

impl ColumnBuilder {
    pub fn new(ty: &DataType, capacity: usize) -> ColumnBuilder {
        match storage_kind(ty) {
            Kind::Int => ColumnBuilder::Int(Vec::with_capacity(capacity), Vec::with_capacity(capacity)),
            Kind::Float => ColumnBuilder::Float(Vec::with_capacity(capacity), Vec::with_capacity(capacity)),
            Kind::Bool => ColumnBuilder::Bool(Vec::with_capacity(capacity), Vec::with_capacity(capacity)),
            Kind::Values => ColumnBuilder::Values(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `value`; a value of an unexpected variant turns the builder
    /// into a `Values` one (never a panic).
    pub fn push(&mut self, value: Value) {
        match (&mut *self, value) {
            (ColumnBuilder::Int(v, n), Value::Int(i)) => {
                v.push(i);
                n.push(false);
            }
            (ColumnBuilder::Float(v, n), Value::Float(f)) => {
                v.push(f);
                n.push(false);
            }
            (ColumnBuilder::Bool(v, n), Value::Bool(b)) => {
                v.push(b);
                n.push(false);
            }
            (ColumnBuilder::Values(v), value) => v.push(value),
            (builder, Value::Null) => builder.push_null(),
            (builder, value) => {
                let mut values = std::mem::replace(builder, ColumnBuilder::Values(Vec::new())).finish().to_values();
                values.push(value);
                *builder = ColumnBuilder::Values(values);
            }
        }
    }

    pub fn push_null(&mut self) {
        match self {
            ColumnBuilder::Int(v, n) => {
                v.push(0);
                n.push(true);
            }
            ColumnBuilder::Float(v, n) => {
                v.push(0.0);
                n.push(true);
            }
            ColumnBuilder::Bool(v, n) => {
                v.push(false);
                n.push(true);
            }
            ColumnBuilder::Values(v) => v.push(Value::Null),
        }
    }

    pub fn finish(self) -> Column {
        let nulls = |n: Vec<bool>| n.iter().any(|&x| x).then(|| Arc::new(n));
        match self {
            ColumnBuilder::Int(v, n) => Column { data: ColumnData::Int(v), nulls: nulls(n) },
            ColumnBuilder::Float(v, n) => Column { data: ColumnData::Float(v), nulls: nulls(n) },
            ColumnBuilder::Bool(v, n) => Column { data: ColumnData::Bool(v), nulls: nulls(n) },
            ColumnBuilder::Values(v) => Column { data: ColumnData::Values(SharedValues::new(v)), nulls: None },
        }
    }
}

/// A set of rows in column form.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub columns: Vec<Column>,
    /// Row count; kept apart because a batch may have no columns.
    pub len: usize,
}

impl Batch {
    pub fn new(columns: Vec<Column>, len: usize) -> Batch {
        debug_assert!(columns.iter().all(|c| c.len() == len), "ragged batch");
        Batch { columns, len }
    }

    /// A batch of `rows` (each with one value per type in `types`).
    pub fn from_rows(rows: &[Vec<Value>], types: &[DataType]) -> Batch {
        let columns = types
            .iter()
            .enumerate()
            .map(|(c, ty)| Column::from_values(rows.iter().map(|r| r[c].clone()).collect(), ty))
            .collect();
        Batch { columns, len: rows.len() }
    }

    /// Row `row` as values.
    pub fn row(&self, row: usize) -> Vec<Value> {
        self.columns.iter().map(|c| c.get(row)).collect()
    }

    /// The rows at `indices`.
    pub fn gather(&self, indices: &[u32]) -> Batch {
        Batch { columns: self.columns.iter().map(|c| c.gather(indices)).collect(), len: indices.len() }
    }

    /// Appends `other`'s rows.
    pub fn append(&mut self, other: &Batch) {
        if self.columns.is_empty() && self.len == 0 {
            *self = other.clone();
            return;
        }
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.append(b);
        }
        self.len += other.len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_columns_keep_nulls_through_gather_and_append() {
        let mut c = Column::from_values(vec![Value::Int(1), Value::Null, Value::Int(3)], &DataType::Int32);
        assert!(matches!(c.data, ColumnData::Int(_)));
        let g = c.gather(&[2, 1]);
        assert_eq!(g.to_values(), vec![Value::Int(3), Value::Null]);
        c.append(&g);
        assert_eq!(c.to_values(), vec![Value::Int(1), Value::Null, Value::Int(3), Value::Int(3), Value::Null]);
    }
}
