//! B+Tree tables, as a transaction sees them: key → value maps over
//! [`crate::index::btree::BTree`]. Each call locks the table until the
//! transaction ends.

use std::ops::Bound;

use super::{TableId, TableKind, Txn};
use crate::error::{Error, Result};
use crate::index::btree::{BTree, BTreeCursor, TreeStats};
use crate::storage::PageId;

/// A range scan over a B+Tree table, in key order.
pub struct Cursor<'t> {
    txn: &'t Txn,
    inner: BTreeCursor,
}

impl Cursor<'_> {
    /// The next `(key, value)`, or `None` at the end of the range.
    pub async fn next(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.inner.next(self.txn).await
    }
}

impl Txn {
    /// Creates an empty B+Tree table called `name`.
    pub async fn create_btree(&mut self, name: &str, unique: bool) -> Result<TableId> {
        self.lock_table(super::catalog::CATALOG_LOCK).await?;
        if super::catalog::find(&self.shared.pool, name).await?.is_some() {
            return Err(Error::InvalidInput(format!("a table named {name:?} exists")));
        }
        let tree = BTree::create(self, unique).await?;
        self.lock_table(tree.root().0).await?;
        super::catalog::add(self, name, TableKind::BTree { unique }, tree.root()).await
    }

    async fn tree(&mut self, table: TableId) -> Result<BTree> {
        self.lock_table(table.0).await?;
        match self.table_kind(table).await? {
            Some(TableKind::BTree { unique }) => Ok(BTree::open(PageId(table.0), unique)),
            Some(TableKind::Heap) => Err(Error::InvalidInput(format!("{table} is a heap, not a B+Tree"))),
            None => Err(Error::InvalidInput(format!("no {table}"))),
        }
    }

    /// Inserts `key → value`. A unique tree refuses a key it holds with
    /// [`Error::UniqueViolation`]; a non-unique one refuses only an identical pair.
    pub async fn tree_insert(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<()> {
        let tree = self.tree(table).await?;
        tree.insert(self, key, value).await
    }

    /// The value under `key` (the first, in a non-unique tree).
    pub async fn tree_get(&mut self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tree = self.tree(table).await?;
        tree.get(self, key).await
    }

    /// Deletes `key` (with `value` only, if given); false if absent.
    pub async fn tree_delete(&mut self, table: TableId, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        let tree = self.tree(table).await?;
        tree.delete(self, key, value).await
    }

    /// The pairs with keys in `(lo, hi)`, in key order.
    pub async fn tree_range(&mut self, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<Cursor<'_>> {
        let tree = self.tree(table).await?;
        let inner = tree.range(self, lo.map(<[u8]>::to_vec), hi.map(<[u8]>::to_vec)).await?;
        Ok(Cursor { txn: self, inner })
    }

    /// Checks the tree's structure (see [`BTree::check`]).
    pub async fn tree_check(&mut self, table: TableId) -> Result<TreeStats> {
        let tree = self.tree(table).await?;
        tree.check(self).await
    }
}
