//! Indexes: the order-preserving key encoding and (next) the B+Tree.

pub mod key;
