//! Table access: full scans in primary-key order, index range scans, and
//! the key encodings of rows and index entries.
//!
//! A table's storage key is its primary key (or hidden row id) encoded by
//! `row::encode_key_values`. An index entry's key is the indexed values,
//! followed by the row key unless the index is unique and no indexed value
//! is NULL (so a unique index rejects duplicates by key collision, and NULLs
//! never collide); the entry's value is the row key. The primary key is an
//! [`IndexDef`] whose storage is the table itself.

use std::ops::Bound;

use crate::env::BoxFuture;
use crate::sql::batch::{BATCH_SIZE, Batch, Column, ColumnBuilder, ColumnData, SharedValues};
use crate::sql::catalog::{IndexDef, Schema, TableDef};
use crate::sql::expr::Expr;
use crate::sql::plan::{Access, Plan};
use crate::sql::row::{decode_row, decode_row_into, encode_key_values};
use crate::sql::value::{DataType, Value};
use crate::store::TableId;
use crate::txn::RowScan;
use crate::{Error, Result};

use super::{ExecContext, Operator, eval, filter_batch};

/// The storage key of `row` in `table`, or `None` for a table keyed by a
/// hidden row id.
pub fn row_key(table: &TableDef, row: &[Value]) -> Option<Vec<u8>> {
    if table.primary_key.is_empty() {
        return None;
    }
    let values: Vec<Value> = table.primary_key.iter().map(|&c| row[c].clone()).collect();
    let mut key = table.key_prefix().to_vec();
    encode_key_values(&values, &mut key);
    Some(key)
}

/// The key of `row`'s entry in `index`.
pub fn index_entry_key(index: &IndexDef, row: &[Value], rowkey: &[u8]) -> Vec<u8> {
    let values: Vec<Value> = index.columns.iter().map(|&c| row[c].clone()).collect();
    let mut key = index.key_prefix().to_vec();
    encode_key_values(&values, &mut key);
    if !index.unique || values.iter().any(Value::is_null) {
        key.extend_from_slice(rowkey);
    }
    key
}

/// The smallest byte string greater than every string starting with `prefix`
/// (`None` if there is none: all bytes 0xFF).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Key bounds within the keys starting with `object` (a table's or index's prefix).
fn key_bounds(
    object: &[u8],
    eq: &[Value],
    lo: Option<(Value, bool)>,
    hi: Option<(Value, bool)>,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let encode = |extra: Option<&Value>| {
        let mut values = eq.to_vec();
        values.extend(extra.cloned());
        let mut key = object.to_vec();
        encode_key_values(&values, &mut key);
        key
    };
    let prefix = encode(None);
    let lower = match &lo {
        Some((v, true)) => Bound::Included(encode(Some(v))),
        Some((v, false)) => {
            prefix_successor(&encode(Some(v))).map(Bound::Included).unwrap_or(Bound::Excluded(encode(Some(v))))
        }
        None => Bound::Included(prefix.clone()),
    };
    let upper = match &hi {
        Some((v, true)) => prefix_successor(&encode(Some(v))).map(Bound::Excluded).unwrap_or(Bound::Unbounded),
        Some((v, false)) => Bound::Excluded(encode(Some(v))),
        None => prefix_successor(&prefix).map(Bound::Excluded).unwrap_or(Bound::Unbounded),
    };
    (lower, upper)
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v),
        Bound::Excluded(v) => Bound::Excluded(v),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Evaluates a bound expression (constant, parameter or outer reference).
async fn bound_value(e: &Expr, ctx: &mut ExecContext) -> Result<Value> {
    let one = Batch { columns: vec![], len: 1 };
    Ok(eval(e, &one, ctx).await?.get(0))
}

/// Where a scan is in its work.
enum Cursor {
    NotStarted,
    /// Paging through a key range of `storage` (the table or the index).
    Range {
        storage: TableId,
        next: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
    },
    /// One row of `storage` by its whole key: a primary key with every
    /// column bound by equality, read without setting up a range.
    Point {
        storage: TableId,
        key: Vec<u8>,
    },
    /// Streaming a key range of the table itself straight from its pages
    /// (a reader that wants rows, not keys).
    Rows(RowScan),
    Done,
}

/// Reads a table: batches of `(storage key, row)` ([`Self::next_page`]),
/// or of rows alone ([`Self::visit_rows`], for a reader made by [`Self::rows`]).
pub struct TableReader {
    table: std::sync::Arc<TableDef>,
    access: Access,
    cursor: Cursor,
    /// Whether the range is over a secondary index (rows fetched by key).
    via_index: bool,
    /// Whether the reader hands out rows without their keys, which lets a
    /// range of the table stream from the pages ([`Cursor::Rows`]).
    rows_only: bool,
}

impl TableReader {
    /// A reader of `(storage key, row)` pages.
    pub fn new(table: std::sync::Arc<TableDef>, access: Access) -> TableReader {
        TableReader { table, access, cursor: Cursor::NotStarted, via_index: false, rows_only: false }
    }

    /// A reader of rows alone, through [`Self::visit_rows`].
    pub fn rows(table: std::sync::Arc<TableDef>, access: Access) -> TableReader {
        TableReader { rows_only: true, ..TableReader::new(table, access) }
    }

    async fn start(&mut self, ctx: &mut ExecContext) -> Result<()> {
        ctx.txn.lock_table(self.table.lock_target(), crate::txn::LockMode::AccessShare).await?;
        let table_id = self.table.table_id()?;
        self.cursor = match &self.access {
            Access::Full => {
                let (next, hi) = key_bounds(&self.table.key_prefix(), &[], None, None);
                Cursor::Range { storage: table_id, next, hi }
            }
            Access::Index { index, eq, lo, hi } => {
                let mut eq_values = Vec::with_capacity(eq.len());
                for e in eq {
                    eq_values.push(bound_value(e, ctx).await?);
                }
                let lo = match lo {
                    Some((e, inc)) => Some((bound_value(e, ctx).await?, *inc)),
                    None => None,
                };
                let hi = match hi {
                    Some((e, inc)) => Some((bound_value(e, ctx).await?, *inc)),
                    None => None,
                };
                let null_bound = eq_values
                    .iter()
                    .chain(lo.iter().map(|(v, _)| v))
                    .chain(hi.iter().map(|(v, _)| v))
                    .any(Value::is_null);
                if null_bound {
                    Cursor::Done
                } else if index.primary && eq_values.len() == index.columns.len() && lo.is_none() && hi.is_none() {
                    let mut key = index.key_prefix();
                    encode_key_values(&eq_values, &mut key);
                    Cursor::Point { storage: index.table_id()?, key }
                } else {
                    let (next, hi) = key_bounds(&index.key_prefix(), &eq_values, lo, hi);
                    let storage = index.table_id()?;
                    self.via_index = !index.primary;
                    Cursor::Range { storage, next, hi }
                }
            }
        };
        if self.rows_only && !self.via_index {
            let rows = match &self.cursor {
                Cursor::Range { storage, next, hi } => Some(ctx.txn.row_scan(*storage, as_slice(next), as_slice(hi))),
                Cursor::Point { storage, key } => {
                    Some(ctx.txn.row_scan(*storage, Bound::Included(key), Bound::Included(key)))
                }
                _ => None,
            };
            if let Some(rows) = rows {
                self.cursor = Cursor::Rows(rows);
            }
        }
        Ok(())
    }

    /// Hands the next up-to-[`BATCH_SIZE`] stored rows to `visit`, and
    /// says how many (`None` at the end). A range of the table itself comes
    /// straight from its pages; other accesses go through [`Self::next_page`].
    pub async fn visit_rows(
        &mut self,
        ctx: &mut ExecContext,
        mut visit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<Option<usize>> {
        assert!(self.rows_only, "visit_rows on a reader of keys and rows");
        if matches!(self.cursor, Cursor::NotStarted) {
            self.start(ctx).await?;
        }
        if let Cursor::Rows(scan) = &mut self.cursor {
            if scan.ended() {
                return Ok(None);
            }
            let handed = ctx.txn.scan_rows(scan, BATCH_SIZE, visit).await?;
            return Ok((handed > 0).then_some(handed));
        }
        let Some(page) = self.next_page(ctx).await? else { return Ok(None) };
        for (_, row) in &page {
            visit(row)?;
        }
        Ok(Some(page.len()))
    }

    /// The next up-to-[`BATCH_SIZE`] rows as (storage key, stored row).
    pub async fn next_page(&mut self, ctx: &mut ExecContext) -> Result<Option<Vec<(Vec<u8>, Vec<u8>)>>> {
        if matches!(self.cursor, Cursor::NotStarted) {
            self.start(ctx).await?;
        }
        match std::mem::replace(&mut self.cursor, Cursor::Done) {
            Cursor::Point { storage, key } => return Ok(ctx.txn.get(storage, &key).await?.map(|row| vec![(key, row)])),
            other => self.cursor = other,
        }
        let Cursor::Range { storage, next, hi } = &mut self.cursor else { return Ok(None) };
        let page = ctx.txn.scan_limit(*storage, as_slice(next), as_slice(hi), BATCH_SIZE).await?;
        if page.len() < BATCH_SIZE {
            self.cursor = Cursor::Done;
        } else if let (Cursor::Range { next, .. }, Some((last, _))) = (&mut self.cursor, page.last()) {
            *next = Bound::Excluded(last.clone());
        }
        if page.is_empty() {
            return Ok(None);
        }
        if !self.via_index {
            return Ok(Some(page));
        }
        let table = self.table.table_id()?;
        let mut rows = Vec::with_capacity(page.len());
        for (_, rowkey) in page {
            if let Some(bytes) = ctx.txn.get(table, &rowkey).await? {
                rows.push((rowkey, bytes));
            }
        }
        Ok(Some(rows))
    }

    /// The next up-to-[`BATCH_SIZE`] rows with their storage keys.
    pub async fn next_rows(&mut self, ctx: &mut ExecContext) -> Result<Option<(Vec<Vec<u8>>, Vec<Vec<Value>>)>> {
        let Some(page) = self.next_page(ctx).await? else { return Ok(None) };
        let mut keys = Vec::with_capacity(page.len());
        let mut rows = Vec::with_capacity(page.len());
        for (key, bytes) in page {
            keys.push(key);
            rows.push(decode_row(&bytes)?);
        }
        Ok(Some((keys, rows)))
    }
}

/// Every `(key, row)` of `table` reachable by `access` that passes `filter`
/// (what UPDATE and DELETE work on).
pub async fn scan_range_keys(
    ctx: &mut ExecContext,
    table: std::sync::Arc<TableDef>,
    access: Access,
    filter: Option<&Expr>,
) -> Result<Vec<(Vec<u8>, Vec<Value>)>> {
    let types: Vec<DataType> = table.columns.iter().map(|c| c.data_type.clone()).collect();
    let mut reader = TableReader::new(table, access);
    let mut out = Vec::new();
    while let Some((keys, rows)) = reader.next_rows(ctx).await? {
        ctx.pause().await?;
        match filter {
            None => out.extend(keys.into_iter().zip(rows)),
            Some(f) => {
                let batch = Batch::from_rows(&rows, &types);
                let mask = eval(f, &batch, ctx).await?;
                for i in super::eval::selected(&mask) {
                    out.push((keys[i as usize].clone(), rows[i as usize].clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The Scan plan node.
pub struct ScanOp {
    reader: TableReader,
    filter: Option<Expr>,
    types: Vec<DataType>,
    /// The columns anything reads (`None`: all); the others are not decoded.
    needed: Option<Vec<bool>>,
    /// A full batch's column for the columns not needed.
    unread: Option<Column>,
}

impl ScanOp {
    pub fn new(plan: &Plan, needed: Option<Vec<bool>>) -> Result<ScanOp> {
        let Plan::Scan { table, access, filter, .. } = plan else {
            return Err(Error::Corrupt("ScanOp built from a non-scan node".into()));
        };
        let types = table.columns.iter().map(|c| c.data_type.clone()).collect();
        let reader = TableReader::rows(table.clone(), access.clone());
        // Decoding a row stops at the end of `needed`: trim it to the last needed column.
        let needed = needed.map(|mut needed| {
            needed.truncate(needed.iter().rposition(|&n| n).map_or(0, |last| last + 1));
            needed
        });
        Ok(ScanOp { reader, filter: filter.clone(), types, needed, unread: None })
    }

    fn is_needed(&self, column: usize) -> bool {
        self.needed.as_ref().is_none_or(|needed| needed.get(column) == Some(&true))
    }

    /// A column nothing reads: all NULL, and for a full batch one shared
    /// vector, so it costs nothing per row.
    fn unread_column(&mut self, len: usize) -> Column {
        let nulls = || Column { data: ColumnData::Values(SharedValues::new(vec![Value::Null; len])), nulls: None };
        if len != BATCH_SIZE {
            return nulls();
        }
        self.unread.get_or_insert_with(nulls).clone()
    }
}

impl Operator for ScanOp {
    fn next<'a>(&'a mut self, ctx: &'a mut ExecContext) -> BoxFuture<'a, Result<Option<Batch>>> {
        Box::pin(async move {
            loop {
                ctx.pause().await?;
                // Builders grow as rows come: a point lookup's batch is one row.
                let mut builders: Vec<ColumnBuilder> = self.types.iter().map(|t| ColumnBuilder::new(t, 0)).collect();
                let needed = self.needed.as_deref();
                let visit = |bytes: &[u8]| decode_row_into(bytes, &mut builders, needed);
                let Some(len) = self.reader.visit_rows(ctx, visit).await? else { return Ok(None) };
                let columns = builders.into_iter().enumerate().map(|(column, builder)| match self.is_needed(column) {
                    true => builder.finish(),
                    false => self.unread_column(len),
                });
                let batch = Batch::new(columns.collect(), len);
                let batch = match &self.filter {
                    Some(f) => filter_batch(f, batch, ctx).await?,
                    None => batch,
                };
                if batch.len > 0 {
                    return Ok(Some(batch));
                }
            }
        })
    }
}

/// The name of the executor function that the catalog's size functions
/// (`pg_table_size`, `pg_relation_size`, `pg_indexes_size`,
/// `pg_total_relation_size`) bind to. Its one argument is the relation's
/// storage ranges, resolved at bind time against the statement's schema
/// ([`measured_ranges`]); it reads the storage, so it is evaluated ahead of
/// the batch like a subquery (see `exec::precompute`).
pub const RELATION_BYTES: &str = "rustydb_relation_bytes";

/// Storage entries read per storage transaction while measuring a relation.
const MEASURED_PER_TXN: usize = 4096;

/// What a size function measures of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizePart {
    /// The relation itself (`pg_table_size`, `pg_relation_size`).
    Main,
    /// A table's secondary indexes (`pg_indexes_size`).
    Indexes,
    /// Both (`pg_total_relation_size`).
    Total,
}

/// The storage ranges relation `name` occupies for `part`, each as one
/// BYTEA value: the storage table id (8 bytes, big-endian), then the key
/// prefix of the relation's entries. Tables share one storage tree, so a
/// relation is a key range of it, not a set of pages. A primary key is its
/// table's rows: it measures as the table and is not counted again among
/// the indexes. Views, sequences and unknown names occupy nothing.
pub fn measured_ranges(schema: &Schema, name: &str, part: SizePart) -> Result<Vec<Value>> {
    let range = |storage: TableId, prefix: Vec<u8>| Value::Bytes([&storage.0.to_be_bytes()[..], &prefix].concat());
    if let Some(table) = schema.tables.get(name) {
        let main = (part != SizePart::Indexes).then(|| Ok(range(table.table_id()?, table.key_prefix())));
        let indexes = schema.indexes.values().filter(|i| part != SizePart::Main && i.table == table.name && !i.primary);
        return main.into_iter().chain(indexes.map(|i| Ok(range(i.table_id()?, i.key_prefix())))).collect();
    }
    match schema.indexes.get(name) {
        Some(index) if part != SizePart::Indexes => Ok(vec![range(index.table_id()?, index.key_prefix())]),
        _ => Ok(vec![]),
    }
}

/// The bytes the entries in `ranges` (from [`measured_ranges`]) take in
/// the B+Tree leaves, every version counted (as PostgreSQL's sizes count
/// dead tuples), with each entry's slot and length prefix: what
/// `pg_table_size` reports.
pub async fn relation_bytes(ranges: &[Value], ctx: &mut ExecContext) -> Result<i64> {
    let mut bytes = 0;
    for range in ranges {
        let Value::Bytes(range) = range else { return Err(Error::Corrupt("a size range that is not bytes".into())) };
        let Some((storage, prefix)) = range.split_first_chunk::<8>() else {
            return Err(Error::Corrupt(format!("a size range of {} bytes", range.len())));
        };
        bytes += range_bytes(ctx, TableId(u64::from_be_bytes(*storage)), prefix).await?;
    }
    Ok(i64::try_from(bytes).unwrap_or(i64::MAX))
}

/// The bytes of the entries of `storage` under key prefix `prefix`.
async fn range_bytes(ctx: &mut ExecContext, storage: TableId, prefix: &[u8]) -> Result<u64> {
    use crate::index::btree::node::{KEY_LENGTH_SIZE, OFFSET_SLOT_SIZE};
    let (mut next, hi) = key_bounds(prefix, &[], None, None);
    let store = ctx.db.engine().store().clone();
    let mut bytes = 0u64;
    loop {
        ctx.pause().await?;
        let mut txn = store.begin().await?;
        let (mut entries, mut last) = (0, Vec::new());
        let stopped = txn
            .tree_visit(storage, as_slice(&next), as_slice(&hi), |key, value, _| {
                bytes += (OFFSET_SLOT_SIZE + KEY_LENGTH_SIZE + key.len() + value.len()) as u64;
                entries += 1;
                if entries == MEASURED_PER_TXN {
                    last.extend_from_slice(key);
                    return Ok(false);
                }
                Ok(true)
            })
            .await?;
        txn.commit().await?;
        if !stopped {
            return Ok(bytes);
        }
        next = Bound::Excluded(last);
    }
}
