//! `rustydb`: the embedded library facade.
//!
//! Today it re-exports the engine's Env boundary and error type; the SQL
//! API (`Database::open`, sessions, queries) arrives with the SQL engine.

pub use rustydb_core::env;
pub use rustydb_core::{Error, IoErrorKind, Result};
