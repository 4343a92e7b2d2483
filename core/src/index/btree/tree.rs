//! The B+Tree algorithms: descent, insert with node splits, delete with
//! merges and redistribution, range cursors, and a full structural check.
//!
//! This module owns the *shape* of a tree: which entries live in which node,
//! what separators say, how nodes link up. The bytes of one node belong to
//! [`super::node`]; every change is a logged [`PageOp`] applied through
//! [`Txn::apply`], always with the exact current bytes as its `before` image
//! (entry, entries or field bytes), so each op is exactly invertible and a
//! rollback or recovery undo, which applies inverses newest first, restores
//! every page byte for byte. Freed pages are only released to the space map
//! ([`Txn::free`]); their bytes stay until the allocator formats them again.
//!
//! # Concurrency
//!
//! The caller holds an exclusive lock on the whole tree for the transaction
//! (see [`crate::store`]), so there is no latch-coupling protocol here: a
//! descent records its path as page ids and positions and re-fetches parents
//! when a split or merge climbs back up. At most four pages are pinned at a
//! time.
//!
//! # Invariants (checked by [`BTree::check`])
//!
//! 1. The root page never changes: the catalog names the tree by it. A root
//!    split moves the root's entries into a new child and turns the root into
//!    an internal node one level up; when merges leave the root internal with
//!    no separators, its only child's contents move up into it.
//! 2. Leaves are at level 0, with page type `BTreeLeaf`; an internal node at
//!    level `l > 0` has type `BTreeInternal` and children at level `l - 1`.
//!    So every leaf is at the same depth.
//! 3. Every non-root leaf holds at least one entry, and every internal node
//!    at least one separator (two children): so every node but the root has
//!    a sibling under the same parent to merge with or borrow from.
//! 4. Leaves chain left to right through their right-sibling field, ending in
//!    [`NO_PAGE`]; internal nodes keep [`NO_PAGE`] there, and leaves keep it
//!    as their leftmost child.
//! 5. Separators route: with separators `s_0 < … < s_{n-1}`, the leftmost
//!    child holds the entries below `s_0`, the child of entry `i` those at or
//!    above `s_i` and below `s_{i+1}`; and a separator lies within its own
//!    node's range.
//!
//! # Separators
//!
//! Entries are ordered by their *routing parts* `(key, tail)`:
//!
//! - In a unique tree the tail is empty: keys alone order the entries, and a
//!   separator entry is `(key, child id)`.
//! - In a non-unique tree one key may have entries in several leaves, so a
//!   separator must route whole `(key, value)` pairs. The tail is the value
//!   escaped like the key encoding's byte strings ([`crate::index::key`]):
//!   each `0x00` becomes `0x00 0xFF`, then `0x00 0x00` ends it. Escaped
//!   values are prefix-free and order like the values, so a separator entry
//!   `(key, escaped ‖ child id)` compares bytewise, as [`node::validate`]
//!   requires, in routing order whatever its child id: separators with equal
//!   keys stay distinct and sorted.
//!
//! A leaf split takes the shortest separator `s` with `last left < s <= first
//! right` (suffix truncation): a prefix of the right key if the keys differ,
//! else the right key with a prefix of the right value. So separators are at
//! most as long as the leaf entry they come from, plus the escape and child
//! id; [`BTree::insert`] refuses an entry whose separator could not fit a
//! node, which with the node's size limit guarantees that every split can
//! place its separator.
//!
//! # Splits, merges and the sequential case
//!
//! A full node splits where its bytes divide in half; inserting at the very
//! end of the rightmost node at its level instead keeps the old entries where
//! they are and starts the new right node with just the new entry (an
//! internal node also gives away its last separator, so that both halves
//! keep one), so a load in key order leaves nodes full. After a delete, a
//! non-root node under a quarter full merges with a sibling if both fit one
//! node (an internal merge pulls the separator down), else entries move
//! between the two until they are balanced and the parent's separator is
//! replaced (which may split the parent).
//!
//! # Trust
//!
//! Inserts, deletes, lookups and cursors trust node bodies: they come from
//! [`node`]'s apply functions, which keep its invariants, or from disk under
//! a page checksum. They check only page types and levels on the way down
//! (and validate whole nodes in debug builds). [`BTree::check`] trusts
//! nothing and reports every problem as [`Error::Corrupt`].

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};
use std::ops::Bound;

use super::node::{self, NO_PAGE, NodeHeader};
use crate::buffer::pool::PageGuard;
use crate::error::{Error, Result};
use crate::storage::PageId;
use crate::storage::page::{Page, PageType};
use crate::store::Txn;
use crate::wal::record::PageOp;

/// Bytes an entry costs in a node: itself and its offset slot.
const SLOT: usize = node::OFFSET_SLOT_SIZE;
/// Bytes for entries and offsets in a node.
const CAPACITY: usize = node::NODE_CAPACITY_BYTES;
/// A non-root node using fewer bytes than this is rebalanced after a delete.
const UNDERFULL_BYTES: usize = CAPACITY / 4;

/// A B+Tree rooted at a fixed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BTree {
    root: PageId,
    unique: bool,
}

/// What [`BTree::check`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TreeStats {
    /// Levels, leaves included: 1 for a lone root leaf.
    pub height: usize,
    pub leaves: usize,
    pub internal_nodes: usize,
    /// Entries in the leaves.
    pub entries: usize,
}

/// A range scan's position: the entries of the current leaf still to return
/// and the leaf after it.
///
/// It holds no pin between calls. The tree cannot change under it unless
/// the same transaction modifies the tree, which the caller must not do
/// while a cursor is open: the cursor would go on from the leaf it buffered
/// and may return stale entries or fail with [`Error::Corrupt`].
pub struct BTreeCursor {
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    buffered: VecDeque<(Vec<u8>, Vec<u8>)>,
    next_leaf: Option<PageId>,
}

/// One internal node on a descent path.
#[derive(Debug, Clone, Copy)]
struct Step {
    page: PageId,
    /// Which child the descent took: 0 the leftmost, `i + 1` entry `i`'s.
    pos: usize,
    /// Whether this node is the rightmost at its level.
    rightmost: bool,
}

/// Where a descent ended: the leaf, still pinned, and the path to it.
struct Descent {
    path: Vec<Step>,
    leaf: PageGuard,
    rightmost: bool,
}

/// One level of [`BTree::read_leaf`]: what the leaf gave, or the child to visit.
enum LookupStep<T> {
    Found(T),
    Down(PageId, u16),
}

/// Routing parts: a key and its tail (empty in unique trees, an escaped
/// value in non-unique ones; see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    key: Vec<u8>,
    tail: Vec<u8>,
}

impl Parts {
    fn cmp_to(&self, key: &[u8], tail: &[u8]) -> Ordering {
        self.key.as_slice().cmp(key).then_with(|| self.tail.as_slice().cmp(tail))
    }

    /// The internal-node entry routing these parts to `child`.
    fn entry(&self, child: PageId) -> Vec<u8> {
        let mut value = Vec::with_capacity(self.tail.len() + node::CHILD_SIZE);
        value.extend_from_slice(&self.tail);
        value.extend_from_slice(&node::encode_child(child.0));
        node::encode_entry(&self.key, &value)
    }
}

/// A copy of a node's header and entries.
struct Snapshot {
    header: NodeHeader,
    entries: Vec<Vec<u8>>,
}

/// How to divide a node's entries (a split) or two siblings' (redistribution).
struct Plan {
    left: Vec<Vec<u8>>,
    right: Vec<Vec<u8>>,
    /// The parent's separator for the right node.
    separator: Parts,
    /// The right node's leftmost child, for internal nodes.
    right_leftmost: Option<PageId>,
}

impl BTree {
    /// The tree rooted at `root`.
    pub fn open(root: PageId, unique: bool) -> BTree {
        BTree { root, unique }
    }

    /// Allocates an empty root leaf.
    pub async fn create(txn: &mut Txn, unique: bool) -> Result<BTree> {
        let root = txn.allocate(PageType::BTreeLeaf).await?;
        Ok(BTree { root: root.id(), unique })
    }

    /// The root page, which names the tree for its whole life.
    pub fn root(&self) -> PageId {
        self.root
    }

    /// Whether a key may appear at most once.
    pub fn is_unique(&self) -> bool {
        self.unique
    }

    /// Inserts `key → value`: [`Error::UniqueViolation`] if a unique tree
    /// holds the key or a non-unique one the pair; [`Error::InvalidInput`] if
    /// the key is over [`node::MAX_KEY_BYTES`] or the entry (or, in a
    /// non-unique tree, a separator made from it) over [`node::MAX_ENTRY_BYTES`].
    pub async fn insert(&self, txn: &mut Txn, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_entry_size(key, value)?;
        let Descent { path, leaf, rightmost } = self.descend(txn, &self.target(key, Some(value))).await?;
        let entry = node::encode_entry(key, value);
        let (found, fits) = leaf.read(|page| {
            let body = page.body();
            let found = if self.unique { node::search(body, key) } else { node::search_entry(body, key, value) };
            (found, node::fits(body, entry.len()))
        });
        let Err(index) = found else {
            return Err(Error::UniqueViolation(format!("key {} is present", show(key))));
        };
        if fits {
            return insert_at(txn, &leaf, index, entry).await;
        }
        let page = leaf.id();
        drop(leaf);
        self.insert_entry(txn, path, page, rightmost, index, entry).await
    }

    /// The value under `key`: the first (smallest) one in a non-unique tree.
    pub async fn get(&self, txn: &Txn, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.unique {
            return self.get_unique(txn, key).await;
        }
        let mut leaf = self.descend(txn, &self.target(key, None)).await?.leaf;
        loop {
            let found = leaf.read(|page| {
                let body = page.body();
                match node::search(body, key) {
                    Ok(index) => Ok(node::value_at(body, index).to_vec()),
                    Err(index) if index < node::count(body) => Err(NO_PAGE),
                    Err(_) => Err(node::header(body).right_sibling),
                }
            });
            match found {
                Ok(value) => return Ok(Some(value)),
                // A non-unique key's first entry may open the next leaf when
                // this one ends below it; a unique key lives only in its leaf.
                Err(next) if next != NO_PAGE && !self.unique => leaf = fetch_node(txn, PageId(next), Some(0)).await?,
                Err(_) => return Ok(None),
            }
        }
    }

    /// Deletes `key`'s entry (with `value` only, if given; the first one in a
    /// non-unique tree if not). False if there was none.
    pub async fn delete(&self, txn: &mut Txn, key: &[u8], value: Option<&[u8]>) -> Result<bool> {
        let first;
        let value = match value {
            Some(value) => Some(value),
            None if self.unique => None,
            None => {
                // Descending by key alone may stop a leaf short of the first
                // pair; look it up, then delete the pair exactly.
                let Some(found) = self.get(txn, key).await? else {
                    return Ok(false);
                };
                first = found;
                Some(first.as_slice())
            }
        };
        let Descent { path, leaf, .. } = self.descend(txn, &self.target(key, value)).await?;
        let found = leaf.read(|page| {
            let body = page.body();
            let index = match value {
                _ if self.unique => node::search(body, key).ok(),
                Some(value) => node::search_entry(body, key, value).ok(),
                None => None,
            };
            index
                .filter(|&index| value.is_none_or(|value| node::value_at(body, index) == value))
                .map(|index| (index, node::entry(body, index).to_vec()))
        });
        let Some((index, entry)) = found else {
            return Ok(false);
        };
        delete_at(txn, &leaf, index, entry).await?;
        let page = leaf.id();
        drop(leaf);
        self.rebalance(txn, path, page).await?;
        Ok(true)
    }

    /// A cursor over the entries with keys within `lo..hi`, in order. The
    /// first leaf is read into the cursor's buffer during the descent, so
    /// nothing stays pinned.
    pub async fn range(&self, txn: &Txn, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Result<BTreeCursor> {
        let mut buffered = VecDeque::new();
        let fill_first = |leaf: &Page| buffer_leaf(&mut buffered, leaf, as_slice(&lo), as_slice(&hi));
        let next_leaf = self.read_leaf(txn, lower_key(as_slice(&lo)), fill_first).await?;
        Ok(BTreeCursor { lo, hi, buffered, next_leaf })
    }

    /// Hands each entry with its key within `lo..hi` to `visit`, in key
    /// order, borrowed from its leaf under the leaf's read latch: nothing is
    /// copied, so a long scan costs what the caller does with the entries.
    /// With each entry comes the key after it in the same leaf, in the range
    /// or not (`None` at the leaf's end), for callers that group entries.
    /// `visit` returns false to stop. True if it stopped, false if the range
    /// ended. `visit` cannot change the tree (it is synchronous and `txn`
    /// is shared), so the leaf chain stays valid throughout.
    pub async fn visit_range(
        &self,
        txn: &Txn,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        mut visit: impl FnMut(&[u8], &[u8], Option<&[u8]>) -> Result<bool>,
    ) -> Result<bool> {
        let mut end = self.read_leaf(txn, lower_key(lo), |leaf| visit_leaf(leaf.body(), lo, hi, &mut visit)).await??;
        loop {
            match end {
                LeafEnd::Stopped => return Ok(true),
                LeafEnd::RangeEnd => return Ok(false),
                LeafEnd::Next(next) => {
                    let guard = fetch_node(txn, next, Some(0)).await?;
                    end = guard.read(|leaf| visit_leaf(leaf.body(), Bound::Unbounded, hi, &mut visit))?;
                }
            }
        }
    }

    /// Descends toward `start` and runs `at_leaf` on the leaf reached (the
    /// first that may hold keys at or above it) under that leaf's latch.
    /// One latched read per level, which checks the node and routes
    /// together; a level is read in place while it is resident and pinned
    /// only on a miss, and nothing stays pinned.
    async fn read_leaf<T>(&self, txn: &Txn, start: &[u8], mut at_leaf: impl FnMut(&Page) -> T) -> Result<T> {
        let tail = if self.unique { Vec::new() } else { escape(&[]) };
        let (mut page, mut level) = (self.root, None);
        loop {
            let mut step = |found: &Page| -> Result<LookupStep<T>> {
                check_node(found, level)?;
                let body = found.body();
                let header = node::header(body);
                if header.is_leaf() {
                    return Ok(LookupStep::Found(at_leaf(found)));
                }
                let pos = route(body, start, &tail);
                Ok(LookupStep::Down(child_at(body, pos)?, header.level - 1))
            };
            // The synchronous hit path first: the fetch's future is only built on a miss.
            let step = match txn.with_resident_page(page, &mut step)? {
                Some(step) => step?,
                None => txn.fetch(page).await?.read(&mut step)?,
            };
            match step {
                LookupStep::Found(found) => return Ok(found),
                LookupStep::Down(child, child_level) => (page, level) = (child, Some(child_level)),
            }
        }
    }

    /// Checks the whole tree (see the module documentation's invariants,
    /// plus [`node::validate`] on every node and no page reachable twice)
    /// and counts it. Problems are [`Error::Corrupt`]; it never panics.
    pub async fn check(&self, txn: &Txn) -> Result<TreeStats> {
        let root_level = {
            let root = txn.fetch(self.root).await?;
            root.read(|page| {
                node::validate(page.body()).map_err(|error| self.corrupt(self.root, error))?;
                Ok::<_, Error>(node::header(page.body()).level)
            })?
        };
        let mut stats = TreeStats { height: usize::from(root_level) + 1, ..TreeStats::default() };
        let mut stack = vec![Visit { page: self.root, level: root_level, lo: None, hi: None }];
        let mut seen = BTreeSet::new();
        let mut leaves = Vec::new();
        while let Some(visit) = stack.pop() {
            if !seen.insert(visit.page) {
                return Err(self.corrupt(visit.page, "reachable twice"));
            }
            let guard = txn.fetch(visit.page).await?;
            let found = guard.read(|page| self.inspect(page, &visit));
            drop(guard);
            let found = found.map_err(|reason| self.corrupt(visit.page, reason))?;
            if visit.level == 0 {
                stats.leaves += 1;
                stats.entries += found.entries;
                leaves.push((visit.page, found.right_sibling));
            } else {
                stats.internal_nodes += 1;
            }
            // Reversed, so that the stack visits children (and leaves) left to right.
            stack.extend(found.children.into_iter().rev());
        }
        self.check_leaf_chain(&leaves)?;
        Ok(stats)
    }

    fn check_entry_size(&self, key: &[u8], value: &[u8]) -> Result<()> {
        if key.len() > node::MAX_KEY_BYTES {
            return Err(Error::InvalidInput(format!("key of {} bytes exceeds {}", key.len(), node::MAX_KEY_BYTES)));
        }
        let entry = node::KEY_LENGTH_SIZE + key.len() + value.len();
        if entry > node::MAX_ENTRY_BYTES {
            return Err(Error::InvalidInput(format!("entry of {entry} bytes exceeds {}", node::MAX_ENTRY_BYTES)));
        }
        let separator = node::KEY_LENGTH_SIZE + key.len() + escaped_len(value) + node::CHILD_SIZE;
        if !self.unique && separator > node::MAX_ENTRY_BYTES {
            return Err(Error::InvalidInput(format!(
                "a separator for this entry would take {separator} bytes, over {}",
                node::MAX_ENTRY_BYTES
            )));
        }
        Ok(())
    }

    /// The routing parts of `key` with `value`; without a value, the lowest
    /// parts with that key (where a search for the key's first entry starts).
    fn target(&self, key: &[u8], value: Option<&[u8]>) -> Parts {
        let tail = if self.unique { Vec::new() } else { escape(value.unwrap_or_default()) };
        Parts { key: key.to_vec(), tail }
    }

    /// [`BTree::get`] in a unique tree, where a key lives only in the leaf its
    /// descent reaches: searched during the descent, no path kept.
    async fn get_unique(&self, txn: &Txn, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.read_leaf(txn, key, |leaf| {
            let body = leaf.body();
            node::search(body, key).ok().map(|index| node::value_at(body, index).to_vec())
        })
        .await
    }

    /// Walks from the root to the leaf whose range holds `target`.
    async fn descend(&self, txn: &Txn, target: &Parts) -> Result<Descent> {
        let mut path = Vec::new();
        let (mut page, mut rightmost, mut level) = (self.root, true, None);
        loop {
            // One latch per level: check the node and route in the same read.
            let guard = txn.fetch(page).await?;
            let next = guard.read(|page| {
                check_node(page, level)?;
                let body = page.body();
                let header = node::header(body);
                if header.is_leaf() {
                    return Ok(None);
                }
                let pos = route(body, &target.key, &target.tail);
                Ok(Some((pos, header.count, child_at(body, pos)?, header.level - 1)))
            })?;
            let Some((pos, count, child, child_level)) = next else {
                return Ok(Descent { path, leaf: guard, rightmost });
            };
            path.push(Step { page, pos, rightmost });
            rightmost &= pos == count;
            (page, level) = (child, Some(child_level));
        }
    }

    /// Inserts `entry` as entry `index` of node `page`, splitting it (and
    /// then its ancestors on `path`) while the entry to place does not fit.
    async fn insert_entry(
        &self,
        txn: &mut Txn,
        mut path: Vec<Step>,
        mut page: PageId,
        mut rightmost: bool,
        mut index: usize,
        mut entry: Vec<u8>,
    ) -> Result<()> {
        loop {
            let guard = txn.fetch(page).await?;
            if guard.read(|page| node::fits(page.body(), entry.len())) {
                return insert_at(txn, &guard, index, entry).await;
            }
            drop(guard);
            if page == self.root {
                // The root keeps its page: its contents move into a new child,
                // which then splits like any node under the (now internal) root.
                let child = self.grow_root(txn).await?;
                path = vec![Step { page: self.root, pos: 0, rightmost: true }];
                page = child;
                continue;
            }
            let (separator, right) = self.split(txn, page, index, entry, rightmost).await?;
            let parent = path.pop().ok_or_else(|| self.corrupt(page, "a non-root node has no parent"))?;
            (page, rightmost, index) = (parent.page, parent.rightmost, parent.pos);
            entry = separator.entry(right);
        }
    }

    /// Moves the root's contents into a new child and makes the root an
    /// internal node one level up whose only child that is. Returns the child.
    async fn grow_root(&self, txn: &mut Txn) -> Result<PageId> {
        let root = txn.fetch(self.root).await?;
        let old = snapshot(&root);
        let level = old.header.level;
        let new_level = level.checked_add(1).ok_or_else(|| self.corrupt(self.root, "tree too tall"))?;
        let leaf = old.header.is_leaf();
        let child = txn.allocate(if leaf { PageType::BTreeLeaf } else { PageType::BTreeInternal }).await?;
        if !leaf {
            write_field(txn, &child, node::level_field(level)).await?;
            write_field(txn, &child, node::leftmost_child_field(old.header.leftmost_child)).await?;
        }
        append(txn, &child, 0, old.entries.clone()).await?;
        set_entries(txn, &root, &old.entries, &[]).await?;
        if leaf {
            set_page_type(txn, &root, PageType::BTreeLeaf, PageType::BTreeInternal).await?;
        }
        write_field(txn, &root, node::level_field(new_level)).await?;
        write_field(txn, &root, node::leftmost_child_field(child.id().0)).await?;
        Ok(child.id())
    }

    /// Splits non-root node `page`, which has no room for `entry` at
    /// `index`, into itself and a new right sibling, placing the entry.
    /// Returns the parent's separator for the new node, and the node.
    async fn split(
        &self,
        txn: &mut Txn,
        page: PageId,
        index: usize,
        entry: Vec<u8>,
        rightmost: bool,
    ) -> Result<(Parts, PageId)> {
        let left = txn.fetch(page).await?;
        let old = snapshot(&left);
        let count = old.entries.len();
        let leaf = old.header.is_leaf();
        let mut all = old.entries.clone();
        all.insert(index, entry);
        // Appending at the end of the tree (a load in key order): keep the
        // full node as it is; an internal node gives up its last separator
        // too, so that both halves keep one.
        let cut = match (rightmost && index == count, leaf) {
            (true, true) => count,
            (true, false) if count >= 2 => count - 1,
            _ => balanced_cut(&all, !leaf).ok_or_else(|| self.corrupt(page, "overfull node too small to split"))?,
        };
        let plan = self.plan(all, cut, leaf).map_err(|reason| self.corrupt(page, reason))?;
        let right = txn.allocate(if leaf { PageType::BTreeLeaf } else { PageType::BTreeInternal }).await?;
        if let Some(child) = plan.right_leftmost {
            write_field(txn, &right, node::level_field(old.header.level)).await?;
            write_field(txn, &right, node::leftmost_child_field(child.0)).await?;
        }
        set_entries(txn, &left, &old.entries, &plan.left).await?;
        append(txn, &right, 0, plan.right).await?;
        if leaf {
            write_field(txn, &right, node::right_sibling_field(old.header.right_sibling)).await?;
            write_field(txn, &left, node::right_sibling_field(right.id().0)).await?;
        }
        Ok((plan.separator, right.id()))
    }

    /// Divides `all` (one level's entries, in order) at `cut`: a leaf's
    /// left node keeps `..cut`; an internal node's entry `cut` moves up as
    /// the separator, its child becoming the right node's leftmost.
    fn plan(&self, mut all: Vec<Vec<u8>>, cut: usize, leaf: bool) -> std::result::Result<Plan, String> {
        let right_start = if leaf { cut } else { cut + 1 };
        if cut == 0 || right_start > all.len() || (leaf && cut == all.len()) {
            return Err(format!("cannot divide {} entries at {cut}", all.len()));
        }
        let right = all.split_off(right_start);
        if leaf {
            let separator = self.leaf_separator(&all[cut - 1], &right[0]);
            return Ok(Plan { left: all, right, separator, right_leftmost: None });
        }
        let middle = all.pop().expect("cut + 1 entries before the right part");
        let (separator, child) = split_separator(&middle)?;
        Ok(Plan { left: all, right, separator, right_leftmost: Some(child) })
    }

    /// The shortest separator between adjacent leaf entries `left < right`.
    fn leaf_separator(&self, left: &[u8], right: &[u8]) -> Parts {
        let (left_key, right_key) = (node::entry_key(left), node::entry_key(right));
        if self.unique {
            return Parts { key: shortest_above(left_key, right_key).to_vec(), tail: Vec::new() };
        }
        if left_key != right_key {
            return Parts { key: shortest_above(left_key, right_key).to_vec(), tail: escape(&[]) };
        }
        let tail = escape(shortest_above(node::entry_value(left), node::entry_value(right)));
        Parts { key: right_key.to_vec(), tail }
    }

    /// Restores invariant 3 and the fill target after `page` (a node on
    /// `path`'s end) lost an entry, climbing while merges empty parents.
    async fn rebalance(&self, txn: &mut Txn, mut path: Vec<Step>, mut page: PageId) -> Result<()> {
        loop {
            let Some(parent) = path.pop() else {
                return self.collapse_root(txn).await;
            };
            let node = txn.fetch(page).await?;
            let (count, used) = node.read(|page| (node::count(page.body()), node::used_bytes(page.body())));
            drop(node);
            if count > 0 && used >= UNDERFULL_BYTES {
                return Ok(());
            }
            let parent_guard = txn.fetch(parent.page).await?;
            let siblings = parent_guard.read(|page| {
                let body = page.body();
                let count = node::count(body);
                if count == 0 {
                    return Err(Error::Corrupt("internal node without separators".to_owned()));
                }
                // The right sibling if there is one under this parent, else the left.
                let (left, sep_index) =
                    if parent.pos < count { (parent.pos, parent.pos) } else { (count - 1, count - 1) };
                Ok((child_at(body, left)?, child_at(body, left + 1)?, sep_index))
            });
            let (left, right, sep_index) = siblings.map_err(|error| self.corrupt(parent.page, error))?;
            if self.try_merge(txn, &parent_guard, sep_index, left, right).await? {
                page = parent.page;
                continue;
            }
            drop(parent_guard);
            return self.redistribute(txn, path, parent, sep_index, left, right).await;
        }
    }

    /// Merges sibling `right` into `left` if their entries (and for internal
    /// nodes the separator between them, entry `sep_index` of `parent`) fit
    /// one node; frees `right`. False, changing nothing, if they do not fit.
    async fn try_merge(
        &self,
        txn: &mut Txn,
        parent: &PageGuard,
        sep_index: usize,
        left_id: PageId,
        right_id: PageId,
    ) -> Result<bool> {
        let left = txn.fetch(left_id).await?;
        let right = txn.fetch(right_id).await?;
        let (l, r) = (snapshot(&left), snapshot(&right));
        let separator = parent.read(|page| node::entry(page.body(), sep_index).to_vec());
        let (parts, child) = split_separator(&separator).map_err(|reason| self.corrupt(parent.id(), reason))?;
        if child != right_id || l.header.level != r.header.level {
            return Err(self.corrupt(parent.id(), format!("separator {sep_index} does not lead to sibling {right_id}")));
        }
        let leaf = l.header.is_leaf();
        if leaf && l.header.right_sibling != right_id.0 {
            return Err(self.corrupt(left_id, format!("leaf chain skips its sibling {right_id}")));
        }
        // An internal merge pulls the separator down onto the right node's leftmost child.
        let pulled = (!leaf).then(|| parts.entry(PageId(r.header.leftmost_child)));
        let moved: Vec<Vec<u8>> = pulled.into_iter().chain(r.entries).collect();
        if cost(&l.entries) + cost(&moved) > CAPACITY {
            return Ok(false);
        }
        append(txn, &left, l.entries.len(), moved).await?;
        if leaf {
            write_field(txn, &left, node::right_sibling_field(r.header.right_sibling)).await?;
        }
        delete_at(txn, parent, sep_index, separator).await?;
        drop((left, right));
        txn.free(right_id).await?;
        Ok(true)
    }

    /// Balances the entries of siblings `left` and `right`, which do not fit
    /// one node, and replaces their separator in `parent` (which may split it).
    async fn redistribute(
        &self,
        txn: &mut Txn,
        path: Vec<Step>,
        parent: Step,
        sep_index: usize,
        left_id: PageId,
        right_id: PageId,
    ) -> Result<()> {
        let parent_guard = txn.fetch(parent.page).await?;
        let left = txn.fetch(left_id).await?;
        let right = txn.fetch(right_id).await?;
        let (l, r) = (snapshot(&left), snapshot(&right));
        let separator = parent_guard.read(|page| node::entry(page.body(), sep_index).to_vec());
        let (parts, _) = split_separator(&separator).map_err(|reason| self.corrupt(parent.page, reason))?;
        let leaf = l.header.is_leaf();
        let left_count = l.entries.len();
        let pulled = (!leaf).then(|| parts.entry(PageId(r.header.leftmost_child)));
        let all: Vec<Vec<u8>> = l.entries.iter().cloned().chain(pulled).chain(r.entries.iter().cloned()).collect();
        let Some(cut) = balanced_cut(&all, !leaf) else {
            return Err(self.corrupt(left_id, "siblings too small to redistribute"));
        };
        if cut == left_count {
            return Ok(()); // Already as balanced as it gets.
        }
        let plan = self.plan(all, cut, leaf).map_err(|reason| self.corrupt(left_id, reason))?;
        set_entries(txn, &left, &l.entries, &plan.left).await?;
        set_entries(txn, &right, &r.entries, &plan.right).await?;
        if let Some(child) = plan.right_leftmost {
            write_field(txn, &right, node::leftmost_child_field(child.0)).await?;
        }
        delete_at(txn, &parent_guard, sep_index, separator).await?;
        drop((parent_guard, left, right));
        let entry = plan.separator.entry(right_id);
        self.insert_entry(txn, path, parent.page, parent.rightmost, sep_index, entry).await
    }

    /// While the root is internal with no separators, moves its only child's
    /// contents up into it and frees the child.
    async fn collapse_root(&self, txn: &mut Txn) -> Result<()> {
        loop {
            let root = txn.fetch(self.root).await?;
            let header = root.read(|page| node::header(page.body()));
            if header.is_leaf() || header.count > 0 {
                return Ok(());
            }
            let child_id = PageId(header.leftmost_child);
            let child = fetch_node(txn, child_id, Some(header.level - 1)).await?;
            let moved = snapshot(&child);
            if moved.header.is_leaf() {
                set_page_type(txn, &root, PageType::BTreeInternal, PageType::BTreeLeaf).await?;
            }
            write_field(txn, &root, node::level_field(moved.header.level)).await?;
            write_field(txn, &root, node::leftmost_child_field(moved.header.leftmost_child)).await?;
            // The child was alone on its level, so no leaf links to it and its right sibling is none.
            append(txn, &root, 0, moved.entries).await?;
            drop((root, child));
            txn.free(child_id).await?;
        }
    }

    /// Checks one node against its place in the tree; the reason if it fails.
    fn inspect(&self, page: &Page, visit: &Visit) -> std::result::Result<Inspected, String> {
        let body = page.body();
        node::validate(body).map_err(|error| error.to_string())?;
        let header = node::header(body);
        let expected_type = if visit.level == 0 { PageType::BTreeLeaf } else { PageType::BTreeInternal };
        if header.level != visit.level || page.page_type() != expected_type {
            return Err(format!(
                "a {:?} at level {}, expected a {expected_type:?} at level {}",
                page.page_type(),
                header.level,
                visit.level
            ));
        }
        if header.is_leaf() { self.inspect_leaf(body, visit) } else { self.inspect_internal(body, visit) }
    }

    fn inspect_leaf(&self, body: &[u8], visit: &Visit) -> std::result::Result<Inspected, String> {
        let header = node::header(body);
        if header.leftmost_child != NO_PAGE {
            return Err(format!("leaf with leftmost child {}", header.leftmost_child));
        }
        if header.count == 0 && visit.page != self.root {
            return Err("empty non-root leaf".to_owned());
        }
        for index in 0..header.count {
            let (key, value) = (node::key_at(body, index), node::value_at(body, index));
            if self.unique && index > 0 && node::key_at(body, index - 1) >= key {
                return Err(format!("unique tree holds key {} twice", show(key)));
            }
            let tail = if self.unique { Vec::new() } else { escape(value) };
            visit.check_within(key, &tail).map_err(|reason| format!("entry {index}: {reason}"))?;
        }
        Ok(Inspected { entries: header.count, right_sibling: header.right_sibling, children: Vec::new() })
    }

    fn inspect_internal(&self, body: &[u8], visit: &Visit) -> std::result::Result<Inspected, String> {
        let header = node::header(body);
        if header.right_sibling != NO_PAGE || header.count == 0 || header.leftmost_child == NO_PAGE {
            return Err(format!(
                "internal node with right sibling {}, {} separators, leftmost child {}",
                header.right_sibling, header.count, header.leftmost_child
            ));
        }
        let mut separators: Vec<(Parts, PageId)> = Vec::with_capacity(header.count);
        for index in 0..header.count {
            let (parts, child) =
                split_separator(node::entry(body, index)).map_err(|reason| format!("separator {index}: {reason}"))?;
            let tail_ok = if self.unique { parts.tail.is_empty() } else { is_escaped(&parts.tail) };
            if !tail_ok || child.0 == NO_PAGE {
                return Err(format!("separator {index} is malformed or leads to no page"));
            }
            if separators.last().is_some_and(|(previous, _)| previous.cmp_to(&parts.key, &parts.tail).is_ge()) {
                return Err(format!("separator {index} does not sort after the one before"));
            }
            visit.check_within(&parts.key, &parts.tail).map_err(|reason| format!("separator {index}: {reason}"))?;
            separators.push((parts, child));
        }
        let level = visit.level - 1;
        let mut children = Vec::with_capacity(header.count + 1);
        let mut lo = visit.lo.clone();
        let mut page = PageId(header.leftmost_child);
        for (parts, child) in separators {
            children.push(Visit { page, level, lo: lo.take(), hi: Some(parts.clone()) });
            (lo, page) = (Some(parts), child);
        }
        children.push(Visit { page, level, lo, hi: visit.hi.clone() });
        Ok(Inspected { entries: 0, right_sibling: header.right_sibling, children })
    }

    /// Checks that the leaves, in key order, chain to one another and end.
    fn check_leaf_chain(&self, leaves: &[(PageId, u64)]) -> Result<()> {
        for (index, &(leaf, right_sibling)) in leaves.iter().enumerate() {
            let expected = leaves.get(index + 1).map_or(NO_PAGE, |next| next.0.0);
            if right_sibling != expected {
                return Err(
                    self.corrupt(leaf, format!("right sibling is {right_sibling}, the next leaf is {expected}"))
                );
            }
        }
        Ok(())
    }

    fn corrupt(&self, page: PageId, reason: impl std::fmt::Display) -> Error {
        Error::Corrupt(format!("B+Tree at {}: {page}: {reason}", self.root))
    }
}

impl BTreeCursor {
    /// The next `(key, value)`, or `None` past the end of the range.
    pub async fn next(&mut self, txn: &Txn) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                return Ok(Some(item));
            }
            let Some(leaf) = self.next_leaf.take() else {
                return Ok(None);
            };
            self.load(txn, leaf).await?;
        }
    }

    async fn load(&mut self, txn: &Txn, leaf: PageId) -> Result<()> {
        let guard = fetch_node(txn, leaf, Some(0)).await?;
        self.fill(&guard);
        Ok(())
    }

    /// Buffers the entries of `leaf` within the range and notes the next
    /// leaf, unless the range ends in this one.
    fn fill(&mut self, leaf: &PageGuard) {
        leaf.read(|page| self.fill_from(page));
    }

    /// Buffers the entries of leaf `page` within the range, and notes the
    /// next leaf to read if the range goes on past it.
    fn fill_from(&mut self, page: &Page) {
        self.next_leaf = buffer_leaf(&mut self.buffered, page, as_slice(&self.lo), as_slice(&self.hi));
    }
}

/// Copies the entries of leaf `page` within `lo..hi` into `buffered`; the
/// next leaf if the range goes on past this one.
fn buffer_leaf(
    buffered: &mut VecDeque<(Vec<u8>, Vec<u8>)>,
    page: &Page,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
) -> Option<PageId> {
    let end = visit_leaf(page.body(), lo, hi, &mut |key, value, _| {
        buffered.push_back((key.to_vec(), value.to_vec()));
        Ok(true)
    });
    // The visitor never fails or stops, so `end` is a range end or a next leaf.
    match end {
        Ok(LeafEnd::Next(next)) => Some(next),
        _ => None,
    }
}

/// Where [`visit_leaf`] stopped.
enum LeafEnd {
    /// The visitor asked to stop.
    Stopped,
    /// The range ends in this leaf (or the leaf is the last).
    RangeEnd,
    /// The range goes on in this leaf's right sibling.
    Next(PageId),
}

/// Hands the entries of leaf `body` with keys within `lo..hi` to `visit`,
/// each with the key after it in the leaf.
fn visit_leaf(
    body: &[u8],
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    visit: &mut impl FnMut(&[u8], &[u8], Option<&[u8]>) -> Result<bool>,
) -> Result<LeafEnd> {
    let count = node::count(body);
    let start = match lo {
        Bound::Included(key) => node::search(body, key).unwrap_or_else(|index| index),
        // A non-unique tree may hold the key more than once: skip them all.
        Bound::Excluded(key) => match node::search(body, key) {
            Ok(first) => (first..count).find(|&index| node::key_at(body, index) != key).unwrap_or(count),
            Err(index) => index,
        },
        Bound::Unbounded => 0,
    };
    // When the leaf's last key is below `hi`, so is every key: one
    // comparison per leaf rather than one per entry.
    let past = |key: &[u8]| match hi {
        Bound::Included(hi) => key > hi,
        Bound::Excluded(hi) => key >= hi,
        Bound::Unbounded => false,
    };
    let all_below_hi = count > 0 && !past(node::key_at(body, count - 1));
    let mut next = (start < count).then(|| node::key_value_at(body, start));
    for index in start..count {
        let (key, value) = next.take().expect("the entry of an index below count");
        next = (index + 1 < count).then(|| node::key_value_at(body, index + 1));
        if !all_below_hi && past(key) {
            return Ok(LeafEnd::RangeEnd);
        }
        if !visit(key, value, next.map(|(key, _)| key))? {
            return Ok(LeafEnd::Stopped);
        }
    }
    let right_sibling = node::header(body).right_sibling;
    Ok(if right_sibling == NO_PAGE { LeafEnd::RangeEnd } else { LeafEnd::Next(PageId(right_sibling)) })
}

fn as_slice(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    bound.as_ref().map(Vec::as_slice)
}

/// The key a search for the range above `lo` starts from.
fn lower_key(lo: Bound<&[u8]>) -> &[u8] {
    match lo {
        Bound::Included(key) | Bound::Excluded(key) => key,
        Bound::Unbounded => &[],
    }
}

/// A node [`BTree::check`] is to visit, with the range its entries must be in.
struct Visit {
    page: PageId,
    level: u16,
    /// Entries are at or above this, if bounded.
    lo: Option<Parts>,
    /// Entries are below this, if bounded.
    hi: Option<Parts>,
}

impl Visit {
    fn check_within(&self, key: &[u8], tail: &[u8]) -> std::result::Result<(), String> {
        let below = self.lo.as_ref().is_some_and(|lo| lo.cmp_to(key, tail).is_gt());
        let above = self.hi.as_ref().is_some_and(|hi| hi.cmp_to(key, tail).is_le());
        if below || above { Err(format!("key {} outside its node's separator range", show(key))) } else { Ok(()) }
    }
}

/// What [`BTree::inspect`] found in a node.
struct Inspected {
    entries: usize,
    right_sibling: u64,
    children: Vec<Visit>,
}

/// Fetches a B+Tree node, checking it with [`node_problem`].
async fn fetch_node(txn: &Txn, page: PageId, level: Option<u16>) -> Result<PageGuard> {
    let guard = txn.fetch(page).await?;
    guard.read(|found| check_node(found, level))?;
    Ok(guard)
}

/// [`node_problem`] as an error naming the page.
fn check_node(found: &Page, level: Option<u16>) -> Result<()> {
    match node_problem(found, level) {
        Some(reason) => Err(Error::Corrupt(format!("B+Tree node {}: {reason}", found.id()))),
        None => Ok(()),
    }
}

/// What is wrong with a node on the way down, if anything: its page type must
/// match its level, and its level must be `level` if given (in debug builds the
/// whole node is validated too; `BTree::check` always does).
fn node_problem(found: &Page, level: Option<u16>) -> Option<String> {
    let body = found.body();
    if body.len() < node::NODE_HEADER_SIZE {
        return Some("body shorter than a node header".to_owned());
    }
    let header = node::header(body);
    let type_ok = match found.page_type() {
        PageType::BTreeLeaf => header.is_leaf(),
        PageType::BTreeInternal => !header.is_leaf(),
        _ => false,
    };
    if !type_ok || level.is_some_and(|level| level != header.level) {
        return Some(format!("a {:?} at level {}, expected level {level:?}", found.page_type(), header.level));
    }
    if cfg!(debug_assertions) { node::validate(body).err().map(|error| error.to_string()) } else { None }
}

/// The child an internal node's descent takes at `pos` (see [`Step::pos`]).
fn child_at(body: &[u8], pos: usize) -> Result<PageId> {
    let child = if pos == 0 {
        node::header(body).leftmost_child
    } else {
        let value = node::value_at(body, pos - 1);
        node::decode_child(&value[value.len().saturating_sub(node::CHILD_SIZE)..])?
    };
    if child == NO_PAGE {
        return Err(Error::Corrupt(format!("child {pos} of an internal node is no page")));
    }
    Ok(PageId(child))
}

/// Which child of an internal node holds `target`: the number of separators
/// at or below it.
fn route(body: &[u8], key: &[u8], tail: &[u8]) -> usize {
    node::lower_bound(body, |index| {
        node::compare_keys(key, node::key_at(body, index))
            .then_with(|| {
                let value = node::value_at(body, index);
                tail.cmp(&value[..value.len().saturating_sub(node::CHILD_SIZE)])
            })
            .is_ge()
    })
}

/// An internal node entry's routing parts and child.
fn split_separator(entry: &[u8]) -> std::result::Result<(Parts, PageId), String> {
    node::validate_entry(entry).map_err(|error| error.to_string())?;
    let value = node::entry_value(entry);
    let Some(tail_len) = value.len().checked_sub(node::CHILD_SIZE) else {
        return Err(format!("separator value of {} bytes has no child id", value.len()));
    };
    let child = node::decode_child(&value[tail_len..]).map_err(|error| error.to_string())?;
    Ok((Parts { key: node::entry_key(entry).to_vec(), tail: value[..tail_len].to_vec() }, PageId(child)))
}

/// Where to divide `entries` so both sides fit a node: where the left part
/// first reaches half the bytes (one entry less if that overfills it). For
/// an internal node entry `cut` moves up, so at least one must stay right.
/// `None` if there are too few entries to divide.
fn balanced_cut(entries: &[Vec<u8>], internal: bool) -> Option<usize> {
    let total = cost(entries);
    let (mut cut, mut left) = (0, 0);
    while cut < entries.len() && left * 2 < total {
        left += entries[cut].len() + SLOT;
        cut += 1;
    }
    if left > CAPACITY {
        cut -= 1;
    }
    let max = entries.len().checked_sub(if internal { 2 } else { 1 })?;
    (max >= 1).then(|| cut.clamp(1, max))
}

/// Bytes `entries` take in a node, offsets included.
fn cost(entries: &[Vec<u8>]) -> usize {
    entries.iter().map(|entry| entry.len() + SLOT).sum()
}

/// The shortest prefix of `high` above `low`, given `low < high`: one byte
/// past their common prefix.
fn shortest_above<'a>(low: &[u8], high: &'a [u8]) -> &'a [u8] {
    let common = low.iter().zip(high).take_while(|(a, b)| a == b).count();
    &high[..(common + 1).min(high.len())]
}

/// `value` escaped to be prefix-free, keeping its order (module documentation).
fn escape(value: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(escaped_len(value));
    for &byte in value {
        escaped.push(byte);
        if byte == 0 {
            escaped.push(0xFF);
        }
    }
    escaped.extend_from_slice(&[0, 0]);
    escaped
}

fn escaped_len(value: &[u8]) -> usize {
    value.len() + value.iter().filter(|&&byte| byte == 0).count() + 2
}

/// Whether `bytes` is exactly one escaped value.
fn is_escaped(bytes: &[u8]) -> bool {
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == 0 {
            match bytes.get(index + 1) {
                Some(0) => return index + 2 == bytes.len(),
                Some(0xFF) => index += 1,
                _ => return false,
            }
        }
        index += 1;
    }
    false
}

/// A key for messages: hex, shortened.
fn show(key: &[u8]) -> String {
    let hex: String = key.iter().take(32).map(|byte| format!("{byte:02x}")).collect();
    if key.len() > 32 { format!("{hex}… ({} bytes)", key.len()) } else { hex }
}

fn snapshot(guard: &PageGuard) -> Snapshot {
    guard.read(|page| {
        let body = page.body();
        let header = node::header(body);
        Snapshot { header, entries: (0..header.count).map(|index| node::entry(body, index).to_vec()).collect() }
    })
}

fn to_u16(index: usize) -> Result<u16> {
    u16::try_from(index).map_err(|_| Error::Corrupt(format!("node position {index} exceeds u16")))
}

async fn insert_at(txn: &mut Txn, guard: &PageGuard, index: usize, entry: Vec<u8>) -> Result<()> {
    txn.apply(guard, PageOp::EntryInsert { index: to_u16(index)?, entry }).await
}

async fn delete_at(txn: &mut Txn, guard: &PageGuard, index: usize, entry: Vec<u8>) -> Result<()> {
    txn.apply(guard, PageOp::EntryDelete { index: to_u16(index)?, entry }).await
}

async fn append(txn: &mut Txn, guard: &PageGuard, at: usize, entries: Vec<Vec<u8>>) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    txn.apply(guard, PageOp::EntriesAppend { at: to_u16(at)?, entries }).await
}

/// Changes a node's entries from `old` (its current ones) to `new`, keeping
/// their common prefix in place: a removal of the rest and an append.
async fn set_entries(txn: &mut Txn, guard: &PageGuard, old: &[Vec<u8>], new: &[Vec<u8>]) -> Result<()> {
    let common = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    if common < old.len() {
        let op = PageOp::EntriesRemoveTail { from: to_u16(common)?, entries: old[common..].to_vec() };
        txn.apply(guard, op).await?;
    }
    append(txn, guard, common, new[common..].to_vec()).await
}

/// Sets a header field (offset and bytes from [`node::level_field`] and
/// friends), logging its current bytes as the before image.
async fn write_field<const N: usize>(
    txn: &mut Txn,
    guard: &PageGuard,
    (offset, after): (usize, [u8; N]),
) -> Result<()> {
    let before = guard.read(|page| page.body()[offset..offset + N].to_vec());
    if before == after {
        return Ok(());
    }
    let op = PageOp::WriteBytes { offset: to_u16(offset)?, before, after: after.to_vec() };
    txn.apply(guard, op).await
}

async fn set_page_type(txn: &mut Txn, guard: &PageGuard, before: PageType, after: PageType) -> Result<()> {
    txn.apply(guard, PageOp::SetPageType { before: before.as_u8(), after: after.as_u8() }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_order_and_is_prefix_free() {
        let values: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"\0\x01", b"a", b"a\0"];
        for pair in values.windows(2) {
            assert!(escape(pair[0]) < escape(pair[1]), "{pair:?}");
        }
        for value in values {
            assert!(is_escaped(&escape(value)));
            assert_eq!(escape(value).len(), escaped_len(value));
        }
        assert!(!is_escaped(b"a"));
        assert!(!is_escaped(b"\0\0\0"));
        assert!(!is_escaped(b"\0\x01\0\0"));
    }

    #[test]
    fn shortest_above_separates() {
        assert_eq!(shortest_above(b"abc", b"abd"), b"abd");
        assert_eq!(shortest_above(b"ab", b"abcd"), b"abc");
        assert_eq!(shortest_above(b"a", b"zzz"), b"z");
        assert_eq!(shortest_above(b"", b"x"), b"x");
    }

    #[test]
    fn balanced_cut_keeps_both_sides_within_a_node() {
        let big = vec![vec![0u8; node::MAX_ENTRY_BYTES]; 5];
        let cut = balanced_cut(&big, false).unwrap();
        assert!(cost(&big[..cut]) <= CAPACITY && cost(&big[cut..]) <= CAPACITY);
        let cut = balanced_cut(&big, true).unwrap();
        assert!(cut >= 1 && cut + 1 < big.len());
        assert_eq!(balanced_cut(&big[..2], true), None);
    }
}
