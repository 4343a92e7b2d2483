//! Indexes: the order-preserving key encoding and the B+Tree.

pub mod btree;
pub mod key;
