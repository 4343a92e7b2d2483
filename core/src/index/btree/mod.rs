//! B+Tree: ordered indexes over memcomparable keys ([`super::key`]).
//!
//! The tree algorithms (descent, split, merge, range scans) will live in this module;
//! [`node`] owns the byte layout of one node's page body and the logged operations on it.

pub mod node;
