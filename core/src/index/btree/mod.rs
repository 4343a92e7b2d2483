//! B+Tree: ordered indexes over memcomparable keys ([`super::key`]).
//!
//! [`node`] owns the byte layout of one node's page body and the logged operations on it;
//! [`tree`] owns the tree's shape on top of it: descent, splits, merges, range cursors and the
//! structural check, every change logged through a transaction.

pub mod node;
mod tree;

pub use tree::{BTree, BTreeCursor, TreeStats};
