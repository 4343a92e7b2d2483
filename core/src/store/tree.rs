//! B+Tree tables, as a transaction sees them: key → value maps over
//! [`crate::index::btree::BTree`]. Each call locks the table until the
//! transaction ends.
//!
//! # In-order inserts
//!
//! Loading a unique tree in key order is common (bulk loads, increasing ids)
//! and every insert then lands at the end of the rightmost leaf. After a few
//! inserts in increasing order the transaction remembers that leaf, pinned
//! ([`AppendHint`]; the pin goes at commit, rollback or the next descent), and
//! appends there directly while the key is above the
//! leaf's last key, the leaf has no right sibling and the entry fits,
//! skipping the descent. That is sound because the transaction holds the
//! tree's lock: only it changes the tree, a split gives the leaf a right
//! sibling (so the check fails and the hint is recomputed), and the only
//! thing that frees leaves (a delete's merge) drops the hint.

use std::ops::Bound;

use super::{TableId, TableKind, Txn};
use crate::buffer::pool::PageGuard;
use crate::error::{Error, Result};
use crate::index::btree::{BTree, BTreeCursor, TreeStats, node};
use crate::storage::PageId;
use crate::storage::page::PageType;
use crate::wal::record::PageOp;

/// In-order inserts before the rightmost leaf is looked up and remembered.
const APPEND_STREAK_MIN: u32 = 4;

/// A transaction's memory of in-order inserts into one unique tree.
pub(super) struct AppendHint {
    table: TableId,
    last_key: Vec<u8>,
    /// Consecutive inserts with increasing keys.
    streak: u32,
    /// The rightmost leaf, pinned, once the streak is long enough: keeping
    /// the pin saves a buffer-pool lookup per append.
    leaf: Option<PageGuard>,
}

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
        if let Some((last, unique)) = self.last_tree
            && last == table
        {
            // Locked and looked up by an earlier call of this transaction.
            return Ok(BTree::open(PageId(table.0), unique));
        }
        self.lock_table(table.0).await?;
        match self.table_kind(table).await? {
            Some(TableKind::BTree { unique }) => {
                self.last_tree = Some((table, unique));
                Ok(BTree::open(PageId(table.0), unique))
            }
            Some(TableKind::Heap) => Err(Error::InvalidInput(format!("{table} is a heap, not a B+Tree"))),
            None => Err(Error::InvalidInput(format!("no {table}"))),
        }
    }

    /// Inserts `key → value`. A unique tree refuses a key it holds with
    /// [`Error::UniqueViolation`]; a non-unique one refuses only an identical pair.
    pub async fn tree_insert(&mut self, table: TableId, key: &[u8], value: &[u8]) -> Result<()> {
        let tree = self.tree(table).await?;
        let (unique, follows) = match &self.append_hint {
            Some(hint) if hint.table == table => (tree.is_unique(), key > hint.last_key.as_slice()),
            _ => (tree.is_unique(), false),
        };
        if unique && follows && self.try_append(key, value).await? {
            return Ok(());
        }
        tree.insert(self, key, value).await?;
        let streak = match &self.append_hint {
            Some(hint) if follows => hint.streak + 1,
            _ => 0,
        };
        // Unpin the old leaf before looking for the new one.
        self.append_hint = None;
        let leaf = match unique && streak >= APPEND_STREAK_MIN {
            true => Some(self.fetch(rightmost_leaf(self, tree.root()).await?).await?),
            false => None,
        };
        self.append_hint = Some(AppendHint { table, last_key: key.to_vec(), streak, leaf });
        Ok(())
    }

    /// Appends `key → value` to the remembered rightmost leaf if the fast path
    /// applies (see the module documentation); false if it does not.
    async fn try_append(&mut self, key: &[u8], value: &[u8]) -> Result<bool> {
        let Some(hint) = self.append_hint.as_mut() else { return Ok(false) };
        let Some(guard) = hint.leaf.take() else { return Ok(false) };
        let leaf = guard.id();
        let entry = node::encode_entry(key, value);
        let at = guard.read(|page| {
            let body = page.body();
            let header = node::header(body);
            let usable = page.page_type() == PageType::BTreeLeaf
                && header.is_leaf()
                && header.right_sibling == node::NO_PAGE
                && header.count > 0
                && key > node::key_at(body, header.count - 1)
                && key.len() <= node::MAX_KEY_BYTES
                && node::fits(body, entry.len());
            usable.then_some(header.count)
        });
        let Some(index) = at else { return Ok(false) };
        let index = u16::try_from(index).map_err(|_| Error::Corrupt(format!("leaf {leaf} entry count")))?;
        self.apply(&guard, PageOp::EntryInsert { index, entry }).await?;
        if let Some(hint) = &mut self.append_hint {
            hint.last_key.clear();
            hint.last_key.extend_from_slice(key);
            hint.streak += 1;
            hint.leaf = Some(guard);
        }
        Ok(true)
    }

    /// The value under `key` (the first, in a non-unique tree).
    pub async fn tree_get(&mut self, table: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tree = self.tree(table).await?;
        tree.get(self, key).await
    }

    /// Deletes `key` (with `value` only, if given); false if absent.
    pub async fn tree_delete(&mut self, table: TableId, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        let tree = self.tree(table).await?;
        // A delete may merge leaves and free the remembered one.
        self.append_hint = None;
        tree.delete(self, key, value).await
    }

    /// The pairs with keys in `(lo, hi)`, in key order.
    pub async fn tree_range(&mut self, table: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<Cursor<'_>> {
        let tree = self.tree(table).await?;
        let inner = tree.range(self, lo.map(<[u8]>::to_vec), hi.map(<[u8]>::to_vec)).await?;
        Ok(Cursor { txn: self, inner })
    }

    /// Hands the pairs with keys in `(lo, hi)` to `visit` in key order,
    /// borrowed from the pages, each with the next key in its leaf (see
    /// [`BTree::visit_range`]); `visit` returns false to stop. True if it
    /// stopped, false if the range ended.
    pub async fn tree_visit(
        &mut self,
        table: TableId,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        visit: impl FnMut(&[u8], &[u8], Option<&[u8]>) -> Result<bool>,
    ) -> Result<bool> {
        let tree = self.tree(table).await?;
        tree.visit_range(self, lo, hi, visit).await
    }

    /// Checks the tree's structure (see [`BTree::check`]).
    pub async fn tree_check(&mut self, table: TableId) -> Result<TreeStats> {
        let tree = self.tree(table).await?;
        tree.check(self).await
    }
}

/// The rightmost leaf of the tree rooted at `root`: the last child all the way down.
async fn rightmost_leaf(txn: &Txn, root: PageId) -> Result<PageId> {
    let mut page = root;
    loop {
        let guard = txn.fetch(page).await?;
        let next = guard.read(|found| -> Result<Option<PageId>> {
            let body = found.body();
            let header = node::header(body);
            if header.is_leaf() {
                return Ok(None);
            }
            if header.count == 0 {
                return Ok(Some(PageId(header.leftmost_child)));
            }
            let value = node::value_at(body, header.count - 1);
            let child = node::decode_child(&value[value.len().saturating_sub(node::CHILD_SIZE)..])?;
            Ok(Some(PageId(child)))
        })?;
        match next {
            Some(child) => page = child,
            None => return Ok(page),
        }
    }
}
